"""Benchmark locating points in cells: geopandas sjoin, gridgis in memory, gridgis in PostGIS.

The same synthetic city and the same points go through:

``sjoin``
    ``geopandas.sjoin(points, cells, predicate="within")``, timed from a
    ready GeoDataFrame of points (making the points from the coordinates is
    timed separately, since gridgis takes plain coordinates).
``STRtree.query``
    For comparison: ``shapely.STRtree(cells).query(points, predicate="intersects")``,
    making the points included (the raw pairs only: no tie rule, no flags).
``gridgis memory``
    :func:`gridgis.geocode.cell_index` (timed separately: built once, reused)
    then :func:`gridgis.geocode.locate` from plain lon/lat arrays, flags and
    all; the best of two runs.
``gridgis PostGIS``
    :func:`gridgis.db.locate.locate_in_db` against the cells stored in a
    scratch database (``gridgis_bench_geocode`` on gridgis's local cluster,
    ``GRIDGIS_HOME``; dropped at the end unless ``--keep``).

The city: ``--cells`` cells (default 30,000) of about 150 m, a jittered
Voronoi tessellation near Guangzhou (district code 440106) whose edges are
made to wiggle like real cell boundaries (about 100 vertices a cell), in 600
communities of 24 streets; one cell in 200 is left out to make gaps. The
points (default 1,000,000): 90 % uniform over the city's bounding box (some
fall outside the district), 5 % exactly on cell vertices (shared boundaries
and corners), 4 % outside the district elsewhere in Guangdong, and 1 % bad
(swapped lat/lon, NaN, or outside China).

The three results are compared point by point: gridgis in memory and in
PostGIS must agree on everything (cell, flag); sjoin's ``within`` leaves out
points on a cell boundary (they are within no cell), so its differences are
counted and explained.

Usage::

    python scripts/bench/geocode.py            # 30,000 cells, 1,000,000 points (a few minutes)
    python scripts/bench/geocode.py --quick    # 3,000 cells, 100,000 points
    python scripts/bench/geocode.py --cells 10000 --points 200000 --keep
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import create_engine

from gridgis.db import migrate
from gridgis.db.locate import load_cell_index, locate_in_db
from gridgis.geocode import cell_index, locate

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _city

SCRATCH = "gridgis_bench_geocode"
ORIGIN = (113.26, 23.08)
"""South-west corner of the city (lon, lat)."""
SPACING = 0.0015
"""Distance between Voronoi seeds in degrees (about 150 m)."""


def synthetic_city(n_cells: int = 30_000, *, seed: int = 0) -> _city.City:
    """The city of this benchmark: :func:`_city.city` with smaller cells of ~100 vertices, gaps.

    Examples
    --------
    >>> len(synthetic_city(500).cells)  # one cell in 200 left out
    499
    """
    return _city.city(
        n_cells,
        seed=seed,
        origin=ORIGIN,
        spacing=SPACING,
        step=SPACING / 25,
        amplitude=SPACING / 30,
        gaps=0.005,
    )


def random_points(
    cells: gpd.GeoDataFrame, outline: shapely.Geometry, n: int, *, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points: lon, lat and what kind each is (``uniform``, ``vertex``, ``far``, ``bad``)."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["uniform", "vertex", "far", "bad"], n, p=[0.90, 0.05, 0.04, 0.01])
    west, south, east, north = shapely.bounds(outline)
    x = rng.uniform(west, east, n)
    y = rng.uniform(south, north, n)
    vertex = np.flatnonzero(kinds == "vertex")
    coords = shapely.get_coordinates(np.asarray(cells.geometry.array))
    picked = coords[rng.integers(0, len(coords), vertex.size)]
    x[vertex], y[vertex] = picked[:, 0], picked[:, 1]
    far = np.flatnonzero(kinds == "far")
    x[far] = rng.uniform(110.5, 113.0, far.size)
    y[far] = rng.uniform(21.5, 24.5, far.size)
    bad = np.flatnonzero(kinds == "bad")
    third = bad.size // 3
    x[bad[:third]], y[bad[:third]] = y[bad[:third]], x[bad[:third]]  # swapped
    x[bad[third : 2 * third]] = np.nan
    x[bad[2 * third :]] += 30.0  # outside China (east of Japan)
    return x, y, kinds


def _timed(label: str, func: Callable[[], Any]) -> tuple[Any, float]:
    print(f"  {label} ...", end="", flush=True)
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    print(f" {seconds:.2f} s", flush=True)
    return result, seconds


def _best_of(repeat: int, func: Callable[[], Any]) -> float:
    """The shortest of ``repeat`` runs, in seconds."""
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    return (a.isna().to_numpy() & b.isna().to_numpy()) | (a == b).fillna(False).to_numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cells", type=int, default=30_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="3,000 cells and 100,000 points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    if args.quick:
        args.cells, args.points = 3_000, 100_000
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"geopandas {gpd.__version__}, shapely {shapely.__version__}"
    )
    print(f"city of {args.cells:,} cells, {args.points:,} points (seed {args.seed})")
    town, _ = _timed("making the city", lambda: synthetic_city(args.cells, seed=args.seed))
    cells, outline = town.cells, town.outline
    x, y, kinds = random_points(cells, outline, args.points, seed=args.seed + 1)
    vertices = shapely.get_num_coordinates(np.asarray(cells.geometry.array))
    print(f"  {len(cells):,} cells kept, {vertices.mean():.0f} vertices a cell on average")
    n = len(x)
    rates: dict[str, float] = {}

    print("geopandas sjoin(predicate='within'):")
    points, t_points = _timed(
        "making the points", lambda: gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4326)
    )
    cell_frame = cells[["code", "geometry"]]
    joined, t_sjoin = _timed("sjoin", lambda: gpd.sjoin(points, cell_frame, predicate="within"))
    rates["sjoin"] = n / t_sjoin
    sjoin_code = pd.Series(None, index=range(n), dtype=object)
    first = joined[~joined.index.duplicated()]
    sjoin_code[first.index] = first["code"].to_numpy()
    several = int(joined.index.duplicated().sum())

    print("shapely STRtree.query(points) over the cells, for comparison:")
    tree = shapely.STRtree(np.asarray(cells.geometry.array))
    _, t_tree = _timed(
        "making the points and querying",
        lambda: tree.query(shapely.points(x, y), predicate="intersects"),
    )

    print("gridgis in memory:")
    index, t_index = _timed("cell_index", lambda: cell_index(cells, outline=outline))
    memory, t_first = _timed("locate", lambda: locate(index, x, y))
    _, t_second = _timed("locate again", lambda: locate(index, x, y))
    t_memory = min(t_first, t_second)
    rates["gridgis memory"] = n / t_memory

    print("gridgis PostGIS:")
    from gridgis.db.cluster import LocalCluster

    cluster = LocalCluster()
    cluster.ensure_running()
    cluster.drop_database(SCRATCH)
    url = cluster.create_database(SCRATCH)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)

        def store() -> None:
            with engine.begin() as conn:
                _city.store_city(conn, town, published_by="scripts/bench/geocode.py")

        _timed("storing the cells", store)
        with engine.connect() as conn:
            stored, t_load = _timed("load_cell_index", lambda: load_cell_index(conn))
            database, t_db = _timed("locate_in_db", lambda: locate_in_db(conn, x, y))
            t_one_db = _best_of(20, lambda: locate_in_db(conn, x[:1], y[:1]))
            conn.rollback()
        rates["gridgis PostGIS"] = n / t_db
    finally:
        engine.dispose()
        if not args.keep:
            cluster.drop_database(SCRATCH)
    t_one = _best_of(20, lambda: locate(index, x[:1], y[:1]))

    print()
    print(f"{'method':<18} {'seconds':>8} {'points/s':>12}")
    print(f"{'sjoin':<18} {t_sjoin:8.2f} {rates['sjoin']:12,.0f}")
    print(f"{'STRtree.query':<18} {t_tree:8.2f} {n / t_tree:12,.0f}")
    print(f"{'gridgis memory':<18} {t_memory:8.2f} {rates['gridgis memory']:12,.0f}")
    print(f"{'gridgis PostGIS':<18} {t_db:8.2f} {rates['gridgis PostGIS']:12,.0f}")
    print(
        f"ratio gridgis memory / sjoin: {t_sjoin / t_memory:.2f}x "
        f"({(t_sjoin + t_points) / t_memory:.2f}x counting sjoin's making of the points; "
        f"{(t_sjoin + t_points) / (t_memory + t_index):.2f}x also counting cell_index, "
        f"{t_index:.2f} s)"
    )
    print(
        f"one point (best of 20): {t_one * 1000:.1f} ms in memory, "
        f"{t_one_db * 1000:.1f} ms in PostGIS; "
        f"load_cell_index {t_load:.2f} s"
    )

    print()
    columns = ["cell_id", "cell_code", "community_code", "street_code", "flag", "reason"]
    from_db_index = locate(stored, x, y)
    memory_vs_db = {c: int((~_same(from_db_index[c], database[c])).sum()) for c in columns}
    stored_vs_file = {
        c: int((~_same(from_db_index[c], memory[c])).sum()) for c in columns if c != "cell_id"
    }
    print(f"memory (index loaded from the database) vs PostGIS, mismatches: {memory_vs_db}")
    print(f"index loaded from the database vs built from the frame, mismatches: {stored_vs_file}")
    located = memory["cell_code"].notna().to_numpy()
    in_sjoin = sjoin_code.notna().to_numpy()
    agree = int((in_sjoin & located & (sjoin_code == memory["cell_code"]).to_numpy()).sum())
    differ = int((in_sjoin & located & (sjoin_code != memory["cell_code"]).to_numpy()).sum())
    dropped = located & ~in_sjoin
    on_vertex = int((dropped & (kinds == "vertex")).sum())
    print(
        f"sjoin vs gridgis: {agree:,} points in the same cell, {differ:,} in another cell, "
        f"{several:,} points matched by several cells in sjoin; {int(dropped.sum()):,} located "
        f"by gridgis but dropped by sjoin ({on_vertex:,} of them are cell vertices: 'within' "
        "excludes the boundary), "
        f"{int((in_sjoin & ~located).sum()):,} found by sjoin only"
    )
    print("flags:", memory["flag"].value_counts(dropna=False).to_dict())
    bad = differ or (in_sjoin & ~located).any() or any(memory_vs_db.values())
    bad = bad or any(stored_vs_file.values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
