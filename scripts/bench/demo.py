"""Time generating and loading a demo district at full size, phase by phase.

Runs :func:`gridgis.demo.run_demo` into a scratch database and prints the
seconds of every phase (generation: areas, buildings, cells, people, cases,
inspections, conversion; the validator's checks; loading, step by step), the
total, and what was loaded against the targets. The issue asks for the
default district (350304 荔城区) at scale 1 in under 2 minutes on 2 cores.

The scratch database ``gridgis_bench_demo`` is created on gridgis's local
cluster (``GRIDGIS_HOME``, started on demand) and dropped afterwards, unless
``--url`` names a database to load into instead (it must not hold the
district yet, or pass ``--replace``).

Usage::

    python scripts/bench/demo.py                      # 350304 at scale 1
    python scripts/bench/demo.py --district 430111    # the largest, 雨花区
    python scripts/bench/demo.py --scale 0.1 --workers 1
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from sqlalchemy import create_engine

from gridgis.db import migrate
from gridgis.demo import run_demo

SCRATCH = "gridgis_bench_demo"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--district", default="350304")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=None, help="cell engine processes")
    parser.add_argument("--url", default=None, help="load into this database instead")
    parser.add_argument("--replace", action="store_true", help="with --url: replace the district")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}; "
        f"district {args.district}, seed {args.seed}, scale {args.scale:g}"
    )
    cluster = None
    if args.url:
        url = args.url
    else:
        from gridgis.db.cluster import LocalCluster

        cluster = LocalCluster()
        cluster.ensure_running()
        cluster.drop_database(SCRATCH)
        url = cluster.create_database(SCRATCH)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        phase_start: dict[str, float] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in phase_start:
                phase_start[phase] = time.perf_counter()
                print(f"{phase_start[phase] - started:7.1f} s  {phase}", flush=True)

        summary = run_demo(
            engine,
            district=args.district,
            seed=args.seed,
            scale=args.scale,
            workers=args.workers,
            progress=progress,
            replace=args.replace,
        )
        wall = time.perf_counter() - started
        print()
        for line in summary.lines():
            print(line)
        print()
        print("seconds per phase:")
        for name, seconds in summary.seconds.items():
            print(f"  {name:<22} {seconds:7.1f}")
        print(f"wall time {wall:.1f} s")
    finally:
        engine.dispose()
        if cluster is not None and not args.keep:
            cluster.drop_database(SCRATCH)
    return 0 if summary.created else 1


if __name__ == "__main__":
    sys.exit(main())
