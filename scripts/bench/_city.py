"""A synthetic city of grid cells for the web benchmark, and storing it in PostGIS.

``city(30_000)`` makes about 30,000 cells of about 220 m (a jittered Voronoi
tessellation near Guangzhou, edges cut into ~25 m segments and wiggled by one
smooth displacement field, so neighbours still share their boundaries): about
50 vertices a cell, like drawn cells that follow roads. 50 cells make a
community (10 × 5), 25 communities a street office (5 × 5), all in district
440106. Households per cell are about normal (mean 400, sd 90), so about a
quarter are outside the default 300–500 bounds; 92 % of the cells have a grid
worker and 75 % a party branch. Deterministic for a seed.

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


def city(n_cells: int = 30_000, *, seed: int = 0) -> City:
    """Make the synthetic city (see the module docstring).

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
    sx = ORIGIN[0] + (col + 0.5 + rng.uniform(-0.35, 0.35, col.size)) * SPACING
    sy = ORIGIN[1] + (row + 0.5 + rng.uniform(-0.35, 0.35, row.size)) * SPACING
    seeds = shapely.multipoints(np.column_stack([sx, sy]))
    faces = shapely.get_parts(shapely.voronoi_polygons(seeds, ordered=True))
    inner = np.flatnonzero((col >= 0) & (col < cols) & (row >= 0) & (row < rows))[:n_cells]
    faces, col, row = faces[inner], col[inner], row[inner]
    faces = shapely.segmentize(faces, SPACING / 9)
    amplitude, wave = SPACING / 12, 2 * math.pi / (SPACING * 2.3)

    def wiggle(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        dx = amplitude * np.sin(wave * y + 1.3) * np.cos(0.7 * wave * x)
        dy = amplitude * np.sin(wave * x + 0.4) * np.cos(0.8 * wave * y)
        return np.column_stack([x + dx, y + dy])

    # Round so that the vertices two neighbours share stay equal after the wiggle.
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
    return City(cells=cells, outline=shapely.coverage_union_all(faces))


def store_city(conn: Connection, town: City, *, published_by: str = "scripts/bench") -> None:
    """Store ``town`` in the empty, migrated database of ``conn`` (inside its transaction)."""
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
