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
    :func:`gridgis.geocode.locate_in_db` against the cells stored in a
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
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, create_engine, text

from gridgis.db import migrate
from gridgis.db.bulk import copy_rows, reserve_ids
from gridgis.geocode import cell_index, load_cell_index, locate, locate_in_db

SCRATCH = "gridgis_bench_geocode"
DISTRICT = "440106"
ORIGIN = (113.26, 23.08)
"""South-west corner of the city (lon, lat)."""
SPACING = 0.0015
"""Distance between Voronoi seeds in degrees (about 150 m)."""
COMMUNITY_BLOCK = (10, 5)
"""Seeds (columns, rows) per community: 50 cells."""
STREET_BLOCK = (5, 5)
"""Communities (columns, rows) per street office."""


def _segmentize(polygons: np.ndarray, step: float) -> np.ndarray:
    """Add vertices so that no edge is longer than ``step``, the same on both sides of an edge.

    ``shapely.segmentize`` interpolates each edge from its first vertex, so the two cells
    sharing an edge (which run along it in opposite directions) get new vertices that
    differ in the last bits. Here every new vertex is interpolated from the edge's
    lexicographically smaller end, so neighbours get identical vertices.
    """
    rings = shapely.get_exterior_ring(polygons)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    start = np.flatnonzero(same)
    a, b = coords[start], coords[start + 1]
    pieces = np.maximum(np.ceil(np.hypot(*(b - a).T) / step).astype(np.int64), 1)
    flip = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    low, high = np.where(flip[:, None], b, a), np.where(flip[:, None], a, b)
    segment = np.repeat(np.arange(start.size), pieces)
    k = np.arange(segment.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t = np.where(flip[segment], pieces[segment] - k, k) / pieces[segment]
    points = low[segment] + (high[segment] - low[segment]) * t[:, None]
    points[k == 0] = a[segment[k == 0]]  # each edge's own first vertex, exactly
    owner = ring[start][segment]
    # Close the rings again with their first vertex.
    first_of_ring = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    insert_at = np.r_[first_of_ring[1:], owner.size]
    points = np.insert(points, insert_at, points[first_of_ring], axis=0)
    owner = np.insert(owner, insert_at, owner[first_of_ring])
    return shapely.polygons(shapely.linearrings(points, indices=owner))


def synthetic_city(
    n_cells: int = 30_000, *, seed: int = 0
) -> tuple[gpd.GeoDataFrame, shapely.Geometry]:
    """Cells (``code``, ``community_code``, ``street_code``, polygon) and the district outline."""
    rng = np.random.default_rng(seed)
    cols = max(COMMUNITY_BLOCK[0], round(math.sqrt(n_cells * 4 / 3) / 10) * 10)
    rows = max(COMMUNITY_BLOCK[1], math.ceil(n_cells / cols / 5) * 5)
    # Seeds on a jittered lattice with one more ring around it, whose cells are dropped:
    # the district's edge is then as ragged as the cells (and nothing is clipped).
    lattice = np.meshgrid(np.arange(-1, cols + 1), np.arange(-1, rows + 1))
    col, row = lattice[0].ravel(), lattice[1].ravel()
    sx = ORIGIN[0] + (col + 0.5 + rng.uniform(-0.35, 0.35, col.size)) * SPACING
    sy = ORIGIN[1] + (row + 0.5 + rng.uniform(-0.35, 0.35, row.size)) * SPACING
    seeds = shapely.multipoints(np.column_stack([sx, sy]))
    faces = shapely.get_parts(shapely.voronoi_polygons(seeds, ordered=True))
    inner = np.flatnonzero((col >= 0) & (col < cols) & (row >= 0) & (row < rows))
    inner = inner[: min(n_cells, inner.size)]
    faces, col, row = faces[inner], col[inner], row[inner]
    # Wiggle every edge with one smooth displacement field: shared vertices move alike, so
    # the cells still tile the district exactly (no slivers, no overlaps).
    faces = _segmentize(faces, SPACING / 25)
    amplitude, wave = SPACING / 30, 2 * math.pi / (SPACING * 2.3)

    def wiggle(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = amplitude * np.sin(wave * y + 1.3) * np.cos(0.7 * wave * x)
        dy = amplitude * np.sin(wave * x + 0.4) * np.cos(0.8 * wave * y)
        return np.column_stack([x + dx, y + dy])

    faces = shapely.transform(faces, wiggle)
    outline = shapely.coverage_union_all(faces)
    n_cells = len(faces)
    # Number cells by street, community, then west -> east, north -> south in the community.
    ccol, crow = col // COMMUNITY_BLOCK[0], row // COMMUNITY_BLOCK[1]
    communities_across = math.ceil(cols / COMMUNITY_BLOCK[0])
    street = (crow // STREET_BLOCK[1]) * math.ceil(communities_across / STREET_BLOCK[0]) + (
        ccol // STREET_BLOCK[0]
    )
    community = (crow % STREET_BLOCK[1]) * STREET_BLOCK[0] + ccol % STREET_BLOCK[0]
    frame_order = np.lexsort((col, -row, community, street))
    key = street * 1000 + community
    sorted_key = key[frame_order]
    first = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
    number = np.arange(n_cells) - np.repeat(first, np.diff(np.r_[first, n_cells]))
    street_codes = np.char.add(DISTRICT, np.char.zfill((street[frame_order] + 1).astype(str), 3))
    community_codes = np.char.add(
        street_codes, np.char.zfill((community[frame_order] + 1).astype(str), 3)
    )
    codes = np.char.add(community_codes, np.char.zfill((number + 1).astype(str), 3))
    cells = gpd.GeoDataFrame(
        {
            "code": codes.astype(object),
            "community_code": community_codes.astype(object),
            "street_code": street_codes.astype(object),
        },
        geometry=faces[frame_order],
        crs="EPSG:4326",
    )
    # Leave one cell in 200 out: gaps inside the district.
    keep = rng.random(len(cells)) >= 0.005
    return cells[keep].reset_index(drop=True), outline


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


def store_city(conn: Connection, cells: gpd.GeoDataFrame, outline: shapely.Geometry) -> None:
    """District, streets, communities, one layout version per community and the cells."""
    conn.execute(
        text(
            "INSERT INTO district (code, name, geom) VALUES (:c, '天河区 (synthetic)', "
            "ST_Multi(ST_GeomFromWKB(:g, 4326)))"
        ),
        {"c": DISTRICT, "g": shapely.to_wkb(outline)},
    )
    streets = sorted(set(cells["street_code"]))
    communities = cells.drop_duplicates("community_code")[["community_code", "street_code"]]
    copy_rows(
        conn,
        "street",
        pd.DataFrame(
            {
                "code": streets,
                "district_code": DISTRICT,
                "name": [f"第{k + 1}街道" for k in range(len(streets))],
            }
        ),
    )
    copy_rows(
        conn,
        "community",
        pd.DataFrame(
            {
                "code": communities["community_code"].to_numpy(),
                "street_code": communities["street_code"].to_numpy(),
                "name": [f"第{k + 1}社区" for k in range(len(communities))],
            }
        ),
    )
    version_ids = reserve_ids(conn, "layout_version", len(communities))
    copy_rows(
        conn,
        "layout_version",
        pd.DataFrame(
            {
                "id": version_ids,
                "community_code": communities["community_code"].to_numpy(),
                "version": 1,
                "method": "import",
                "published_by": "scripts/bench/geocode.py",
            }
        ),
    )
    version_of = pd.Series(version_ids, index=communities["community_code"].to_numpy())
    copy_rows(
        conn,
        "grid_cell",
        pd.DataFrame(
            {
                "code": cells["code"].to_numpy(),
                "community_code": cells["community_code"].to_numpy(),
                "geom": np.asarray(cells.geometry.array),
                "version_from_id": version_of[cells["community_code"]].to_numpy(),
            }
        ),
        geometry={"geom": "polygon"},
    )
    conn.execute(text("ANALYZE grid_cell"))


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
    (cells, outline), _ = _timed(
        "making the city", lambda: synthetic_city(args.cells, seed=args.seed)
    )
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
                store_city(conn, cells, outline)

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
