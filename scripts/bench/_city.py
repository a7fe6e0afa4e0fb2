"""A synthetic city of grid cells for the benchmarks, and storing it in PostGIS.

``city(30_000)`` makes about 30,000 cells of about 220 m (a jittered Voronoi
tessellation near Guangzhou, edges cut into ~25 m segments and wiggled by one
smooth displacement field, so neighbours still share their boundaries): about
50 vertices a cell, like drawn cells that follow roads. 50 cells make a
community (10 × 5), 25 communities a street office (5 × 5), all in district
440106. Households per cell are about normal (mean 400, sd 90), so about a
quarter are outside the default 300–500 bounds; 92 % of the cells have a grid
worker and 75 % a party branch. Deterministic for a seed. The place, the
seed spacing, the segment length, the wiggle and a share of cells left out
(gaps) are parameters: ``scripts/bench/geocode.py`` draws smaller, more
detailed cells with gaps.

:func:`store_city` writes it into a migrated, empty database: district,
streets, communities, one layout version per community, the cells, workers
and branches with their cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from gridgis.db.bulk import copy_rows, reserve_ids

DISTRICT = "440106"
ORIGIN = (113.05, 22.95)
"""South-west corner of the city (lon, lat)."""
SPACING = 0.0022
"""Distance between Voronoi seeds in degrees (about 220 m)."""
COMMUNITY_BLOCK = (10, 5)
"""Cells (columns, rows) per community."""
STREET_BLOCK = (5, 5)
"""Communities (columns, rows) per street office."""


@dataclass
class City:
    """Cells (``code``, ``community_code``, ``street_code``, ``households``,
    ``has_worker``, ``has_branch``, polygon; EPSG:4326) and the district outline."""

    cells: gpd.GeoDataFrame
    outline: shapely.Geometry


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


def city(
    n_cells: int = 30_000,
    *,
    seed: int = 0,
    origin: tuple[float, float] = ORIGIN,
    spacing: float = SPACING,
    step: float | None = None,
    amplitude: float | None = None,
    gaps: float = 0.0,
) -> City:
    """Make the synthetic city (see the module docstring).

    Parameters
    ----------
    n_cells:
        Cells drawn (before the gaps are left out).
    seed:
        Seed of the random generator.
    origin:
        South-west corner (lon, lat).
    spacing:
        Distance between Voronoi seeds in degrees (the cell size).
    step:
        Longest edge segment before the wiggle (default ``spacing / 9``).
    amplitude:
        Largest displacement of the wiggle (default ``spacing / 12``).
    gaps:
        Share of the cells left out, making gaps inside the district.

    Examples
    --------
    >>> small = city(500)
    >>> len(small.cells)
    500
    """
    rng = np.random.default_rng(seed)
    cols = max(COMMUNITY_BLOCK[0], round(math.sqrt(n_cells * 4 / 3) / 10) * 10)
    rows = max(COMMUNITY_BLOCK[1], math.ceil(n_cells / cols / 5) * 5)
    # One more ring of seeds around the city, whose faces are dropped: no clipped edge.
    grid = np.meshgrid(np.arange(-1, cols + 1), np.arange(-1, rows + 1))
    col, row = grid[0].ravel(), grid[1].ravel()
    sx = origin[0] + (col + 0.5 + rng.uniform(-0.35, 0.35, col.size)) * spacing
    sy = origin[1] + (row + 0.5 + rng.uniform(-0.35, 0.35, row.size)) * spacing
    seeds = shapely.multipoints(np.column_stack([sx, sy]))
    faces = shapely.get_parts(shapely.voronoi_polygons(seeds, ordered=True))
    inner = np.flatnonzero((col >= 0) & (col < cols) & (row >= 0) & (row < rows))[:n_cells]
    faces, col, row = faces[inner], col[inner], row[inner]
    # Wiggle every edge with one smooth displacement field: shared vertices move alike, so
    # the cells still tile the district exactly (no slivers, no overlaps).
    faces = _segmentize(faces, spacing / 9 if step is None else step)
    shift = spacing / 12 if amplitude is None else amplitude
    wave = 2 * math.pi / (spacing * 2.3)

    def wiggle(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = shift * np.sin(wave * y + 1.3) * np.cos(0.7 * wave * x)
        dy = shift * np.sin(wave * x + 0.4) * np.cos(0.8 * wave * y)
        return np.column_stack([x + dx, y + dy])

    # Coordinates to 1e-7 degree (about 1 cm), as stored cells have them.
    faces = shapely.set_precision(shapely.transform(faces, wiggle), 1e-7)
    n = len(faces)
    ccol, crow = col // COMMUNITY_BLOCK[0], row // COMMUNITY_BLOCK[1]
    across = math.ceil(cols / COMMUNITY_BLOCK[0])
    street = (crow // STREET_BLOCK[1]) * math.ceil(across / STREET_BLOCK[0]) + (
        ccol // STREET_BLOCK[0]
    )
    community = (crow % STREET_BLOCK[1]) * STREET_BLOCK[0] + ccol % STREET_BLOCK[0]
    # Number cells west -> east, north -> south inside each community.
    order = np.lexsort((col, -row, community, street))
    key = (street * 1000 + community)[order]
    first = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    number = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    street_codes = np.char.add(DISTRICT, np.char.zfill((street[order] + 1).astype(str), 3))
    community_codes = np.char.add(
        street_codes, np.char.zfill((community[order] + 1).astype(str), 3)
    )
    codes = np.char.add(community_codes, np.char.zfill((number + 1).astype(str), 3))
    households = np.clip(rng.normal(400, 90, n).round(), 20, None).astype(np.int64)
    cells = gpd.GeoDataFrame(
        {
            "code": codes.astype(object),
            "community_code": community_codes.astype(object),
            "street_code": street_codes.astype(object),
            "households": households,
            "has_worker": rng.random(n) < 0.92,
            "has_branch": rng.random(n) < 0.75,
        },
        geometry=faces[order],
        crs="EPSG:4326",
    )
    if gaps:
        cells = cells[rng.random(n) >= gaps].reset_index(drop=True)
    return City(cells=cells, outline=shapely.coverage_union_all(faces))


def store_city(conn: Connection, town: City, *, published_by: str = "scripts/bench") -> None:
    """Store ``town`` in the empty, migrated database of ``conn`` (inside its transaction).

    Examples
    --------
    >>> with engine.begin() as conn:  # doctest: +SKIP
    ...     store_city(conn, city(3_000), published_by="scripts/bench/geocode.py")
    """
    cells = town.cells
    conn.execute(
        text(
            "INSERT INTO district (code, name, geom) VALUES (:c, '合成市 (synthetic)', "
            "ST_Multi(ST_GeomFromWKB(:g, 4326)))"
        ),
        {"c": DISTRICT, "g": shapely.to_wkb(town.outline)},
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
                "published_by": published_by,
            }
        ),
    )
    version_of = pd.Series(version_ids, index=communities["community_code"].to_numpy())
    cell_ids = reserve_ids(conn, "grid_cell", len(cells))
    copy_rows(
        conn,
        "grid_cell",
        pd.DataFrame(
            {
                "id": cell_ids,
                "code": cells["code"].to_numpy(),
                "community_code": cells["community_code"].to_numpy(),
                "geom": np.asarray(cells.geometry.array),
                "households": cells["households"].to_numpy(),
                "residents": (cells["households"].to_numpy() * 2.8).round().astype(np.int64),
                "version_from_id": version_of[cells["community_code"]].to_numpy(),
            }
        ),
        geometry={"geom": "polygon"},
    )
    served = cell_ids[cells["has_worker"].to_numpy()]
    worker_ids = reserve_ids(conn, "grid_worker", len(served))
    copy_rows(
        conn,
        "grid_worker",
        pd.DataFrame(
            {
                "id": worker_ids,
                "name": [f"网格员{k + 1}" for k in range(len(served))],
                "street_code": cells["street_code"].to_numpy()[cells["has_worker"].to_numpy()],
            }
        ),
    )
    copy_rows(conn, "worker_cell", pd.DataFrame({"worker_id": worker_ids, "cell_id": served}))
    with_branch = cells["has_branch"].to_numpy()
    branch_cells = cell_ids[with_branch]
    branch_ids = reserve_ids(conn, "party_branch", len(branch_cells))
    copy_rows(
        conn,
        "party_branch",
        pd.DataFrame(
            {
                "id": branch_ids,
                "name": [f"第{k + 1}网格党支部" for k in range(len(branch_cells))],
                "community_code": cells["community_code"].to_numpy()[with_branch],
                "member_count": 12,
                "location": shapely.point_on_surface(np.asarray(cells.geometry.array))[with_branch],
            }
        ),
        geometry={"location": None},
    )
    copy_rows(conn, "branch_cell", pd.DataFrame({"branch_id": branch_ids, "cell_id": branch_cells}))
    for table in ("grid_cell", "worker_cell", "branch_cell", "community", "street"):
        conn.execute(text(f"ANALYZE {table}"))
