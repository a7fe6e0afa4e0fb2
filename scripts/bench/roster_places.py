"""Measure the lookups a roster import makes per row: cells by code, a cell's community.

Generates the demo district in memory (``generate_district``, about 800 active
cells and 130 communities at scale 1), builds :class:`gridgis.registers.places.Areas`
from its cells and communities, and makes ``--n`` roster rows (default 3,000
workers) that each name one to three cells by code and a community by name. Then
times, best of ``--repeat``:

1. ``Areas.cell_ids`` for every row (what ``import workers`` and ``import branches`` call);
2. ``Areas.cell_community`` of each row's first cell (a worker's street, a branch's community);
3. ``Areas.community_code`` of each row's community name;

and prints the milliseconds of each and per row. Run it with ``PYTHONPATH`` on
another checkout to compare (the figures below: before = the per-row scans of
the cells and communities, after = dictionaries built once).

Measured 2026-12-06 on the 2 shared cores here, 3,000 rows, 807 cells, 130
communities, best of 3 — before (main at caa40c3, ``PYTHONPATH=/work/main``):
cell_ids 821.4 ms, cell_community 462.2 ms, community_code 1,842.7 ms; after:
1.9 ms, 0.1 ms, 0.2 ms (about 430×, 4,600× and 9,200× faster).

Usage::

    python scripts/bench/roster_places.py
    python scripts/bench/roster_places.py --n 10000 --repeat 5
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from gridgis.demo.generate import generate_district
from gridgis.registers.places import Areas


def _best(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="roster rows")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    demo = generate_district(seed=args.seed, workers=1)
    communities = pd.DataFrame(
        {
            "code": demo.communities["code"],
            "street_code": demo.communities["street_code"],
            "name": demo.communities["name"],
            "wkb": None,
        }
    )
    cells = pd.DataFrame(
        {
            "id": np.arange(1, len(demo.cells) + 1),
            "code": demo.cells["code"],
            "community_code": demo.cells["community_code"],
        }
    )
    areas = Areas(communities, cells)
    rng = np.random.default_rng(args.seed)
    codes = cells["code"].to_numpy(dtype=object)
    rows = [list(rng.choice(codes, size=rng.integers(1, 4))) for _ in range(args.n)]
    names = rng.choice(communities["name"].to_numpy(dtype=object), size=args.n).tolist()
    firsts = [areas.cell_ids(r)[0][0] for r in rows]

    figures = {
        "cell_ids": _best(lambda: [areas.cell_ids(r) for r in rows], args.repeat),
        "cell_community": _best(lambda: [areas.cell_community(c) for c in firsts], args.repeat),
        "community_code": _best(lambda: [areas.community_code(s) for s in names], args.repeat),
    }
    print(f"{args.n:,} rows, {len(cells):,} cells, {len(communities):,} communities")
    for name, ms in figures.items():
        print(f"{name:>15}: {ms:9.1f} ms  ({ms / args.n * 1000:8.2f} µs a row)")


if __name__ == "__main__":
    main()
