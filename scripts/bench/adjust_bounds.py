"""Benchmark the adjust with typed bounds (issue 17, point 6) on a loaded district.

For every community of the database, proposes a layout as the web page's
"adjust" with bounds given for this run (default 250–400, tighter than the
demo's 300–500) and, as the peer, a fresh "draw" with the same bounds; each
proposal is judged by the validator exactly as the draft page judges it. Prints,
for both: cells, cells outside the bounds, how many of those carry a flag saying
why (``oversized_unit``, ``below_min`` …) and how many do not (the defect of
issue 17: a cell of 407 households left by an adjust with 250–400, unflagged),
the validator's errors, the share of cell codes kept and the seconds.

Nothing is published: proposals are computed and thrown away.

Run (on a loaded demo, e.g. ``gridgis demo`` at full scale)::

    python scripts/bench/adjust_bounds.py --database postgresql://.../gg_full [--min 250 --max 400]
"""

from __future__ import annotations

import argparse
import collections
import time

from sqlalchemy import create_engine, select

from gridgis.db.layout import read_inputs
from gridgis.db.models import Community
from gridgis.editing import propose_layout


def run(url: str, method: str, lo: int, hi: int, limit: int | None) -> dict[str, object]:
    """Propose a layout of every community with ``method`` and bounds ``lo``–``hi``."""
    engine = create_engine(url)
    with engine.connect() as conn:
        query = select(Community.code).order_by(Community.code)
        communities = list(conn.execute(query).scalars())[:limit]
    cells = outside = kept = before = 0
    flags: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    unflagged: list[tuple[str, int]] = []
    started = time.perf_counter()
    for code in communities:
        old = set(read_inputs(engine, code).cells["code"])
        proposal = propose_layout(engine, code, method=method, min_households=lo, max_households=hi)
        before += len(old)
        kept += len(old & set(proposal.cells["code"]))
        errors.update(f.kind for f in proposal.report.findings if f.severity == "error")
        for row in proposal.cells.itertuples():
            cells += 1
            if lo <= int(row.households) <= hi:
                continue
            outside += 1
            if list(row.flags):
                flags.update(row.flags)
            else:
                unflagged.append((str(row.code), int(row.households)))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "communities": len(communities),
        "cells": cells,
        "outside": outside,
        "unflagged": unflagged,
        "flags": dict(flags),
        "errors": dict(errors),
        "codes_kept": kept / before if before else 1.0,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="URL of a database with a district")
    parser.add_argument("--min", type=int, default=250, dest="lo")
    parser.add_argument("--max", type=int, default=400, dest="hi")
    parser.add_argument("--limit", type=int, default=None, help="only the first N communities")
    args = parser.parse_args()
    print(f"bounds {args.lo}-{args.hi}")
    results = {m: run(args.database, m, args.lo, args.hi, args.limit) for m in ("adjust", "draw")}
    for method, r in results.items():
        print(
            f"{method:6s}: {r['communities']} communities, {r['cells']} cells, "
            f"{r['outside']} outside the bounds ({len(r['unflagged'])} unflagged), "
            f"validator errors {r['errors']}, codes kept {r['codes_kept']:.1%}, "
            f"{r['seconds']:.1f} s"
        )
        print(f"        flags of the cells outside: {r['flags']}")
        for code, households in r["unflagged"]:
            print(f"        unflagged: {code} {households} households")
    ratio = results["adjust"]["seconds"] / results["draw"]["seconds"]  # type: ignore[operator]
    print(f"adjust/draw time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
