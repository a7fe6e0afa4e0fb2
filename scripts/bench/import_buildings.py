"""Measure `gridgis import buildings` on a synthetic file of 100,000 footprints.

Creates the scratch database ``gridgis_bench_buildings`` on the server of
``GRIDGIS_TEST_DATABASE_URL`` (or ``--url``), migrates it, stores one district,
one street and a 10 × 10 grid of communities, and writes a GeoJSON file of
``--n`` square footprints (a few straddling community edges) spread over them.
Then, each in its own process so that its peak memory is its own:

1. ``import_buildings`` (one transaction, COPY) — seconds and peak RSS;
2. the peer: geopandas ``read_file`` + ``to_postgis`` of the same file into a
   plain table (no checks, no placing, no upsert) — seconds and peak RSS;

and prints both with their ratio; then 3. ``export`` of the buildings as a GeoPackage
and 4. the import of that file back (the round trip: every row ``unchanged``).

Measured 2027-01-10 on the 2 shared cores here: 100,000 buildings in 19.0 s, peak
528 MiB; the peer 3.3 s, 290 MiB (ratio 5.76). The issue's target: 100,000 buildings
in under 60 s with memory under 2 GB. Measured 2026-12-06 with the round trip, the
cores busier: import 37.1 s, peak 553 MiB (the peer 6.7 s); export as GeoPackage 8.3 s,
peak 409 MiB; the import of that file 18.1 s, peak 666 MiB, all 100,000 rows unchanged.
Drops the scratch database at the end.

Usage::

    python scripts/bench/import_buildings.py            # 100,000 buildings
    python scripts/bench/import_buildings.py --n 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import create_engine, make_url, text

SCRATCH = "gridgis_bench_buildings"
WEST, SOUTH, SIZE = 121.40, 31.10, 0.01  # communities of about 1 km x 1.1 km


def _scratch_url(server: str) -> str:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH}"))
        conn.execute(text(f"CREATE DATABASE {SCRATCH}"))
    admin.dispose()
    return make_url(server).set(database=SCRATCH).render_as_string(hide_password=False)


def _prepare(url: str, n: int, folder: Path) -> Path:
    from gridgis.boundaries import prepare_boundaries
    from gridgis.db import migrate
    from gridgis.db.load import import_boundaries

    engine = create_engine(url)
    migrate.upgrade(engine)
    cells = [
        shapely.box(
            WEST + i * SIZE, SOUTH + j * SIZE, WEST + (i + 1) * SIZE, SOUTH + (j + 1) * SIZE
        )
        for j in range(10)
        for i in range(10)
    ]
    outline = shapely.box(WEST, SOUTH, WEST + 10 * SIZE, SOUTH + 10 * SIZE)
    levels = [
        ("district", [{"code": "310115", "name": "浦东新区", "geometry": outline}]),
        ("street", [{"code": "310115001", "name": "测试街道", "geometry": outline}]),
        (
            "community",
            [
                {"code": f"310115001{k + 1:03d}", "name": f"社区{k + 1}", "geometry": g}
                for k, g in enumerate(cells)
            ],
        ),
    ]
    for level, rows in levels:
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        import_boundaries(
            engine, prepare_boundaries(frame, level=level), level=level, actor="bench"
        )
    engine.dispose()
    rng = np.random.default_rng(0)
    x = rng.uniform(WEST, WEST + 10 * SIZE - 0.0004, n)
    y = rng.uniform(SOUTH, SOUTH + 10 * SIZE - 0.0004, n)
    side = rng.uniform(0.0001, 0.0003, n)
    frame = gpd.GeoDataFrame(
        {
            "编号": [f"B{i:06d}" for i in range(n)],
            "层数": rng.integers(1, 30, n),
            "户数": np.where(rng.random(n) < 0.5, rng.integers(1, 200, n), None),
        },
        geometry=shapely.box(x, y, x + side, y + side),
        crs="EPSG:4326",
    )
    path = folder / "buildings.geojson"
    frame.to_file(path, engine="pyogrio")
    return path


def _child(role: str, url: str, path: str) -> None:
    started = time.perf_counter()
    if role == "gridgis":
        from gridgis.registers.buildings import import_buildings

        report = import_buildings(create_engine(url), path, estimate=True, actor="bench")
        detail = report.counts
    elif role in ("export", "reimport"):
        # The round trip (issue 16 point 9): export what was imported, read it back.
        from gridgis.export import export
        from gridgis.registers.buildings import import_buildings

        exported = Path(path).with_name("exported.gpkg")
        if role == "export":
            detail = {"rows": export(create_engine(url), "buildings", "gpkg", exported).rows}
        else:
            detail = import_buildings(create_engine(url), exported, actor="bench").counts
    else:
        frame = gpd.read_file(path, engine="pyogrio")
        frame.to_postgis("peer_buildings", create_engine(url), if_exists="replace", index=False)
        detail = {"rows": len(frame)}
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mib": peak, "detail": detail}))


def _run(role: str, url: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", role, "--url", url, "--file", str(path)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{role} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="buildings in the file")
    parser.add_argument("--url", default=os.environ.get("GRIDGIS_TEST_DATABASE_URL"))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--file", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.url, args.file)
        return 0
    if not args.url:
        parser.error("give --url or set GRIDGIS_TEST_DATABASE_URL (a PostgreSQL server)")
    url = _scratch_url(args.url)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = _prepare(url, args.n, Path(folder))
            ours = _run("gridgis", url, path)
            peer = _run("peer", url, path)
            exported = _run("export", url, path)
            again = _run("reimport", url, path)
    finally:
        admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH}"))
        admin.dispose()
    ratio = float(ours["seconds"]) / float(peer["seconds"])  # type: ignore[arg-type]
    print(f"{args.n:,} buildings")
    print(f"gridgis import buildings: {ours['seconds']:.1f} s, peak {ours['peak_mib']:.0f} MiB")
    print(f"  {ours['detail']}")
    print(f"peer (geopandas to_postgis): {peer['seconds']:.1f} s, peak {peer['peak_mib']:.0f} MiB")
    print(f"ratio gridgis / peer: {ratio:.2f}")
    print(
        f"gridgis export buildings (gpkg): {exported['seconds']:.1f} s, "
        f"peak {exported['peak_mib']:.0f} MiB"
    )
    print(
        f"import of the export (all unchanged): {again['seconds']:.1f} s, "
        f"peak {again['peak_mib']:.0f} MiB"
    )
    print(f"  {again['detail']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
