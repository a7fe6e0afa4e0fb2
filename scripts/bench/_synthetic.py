"""Synthetic inputs for the partition benchmark: a lattice of squares and a district.

Both are deterministic for a seed and in EPSG:4547 (CGCS2000 / 3-degree
Gauss-Krüger CM 114E, metres), placed near Guangzhou.

``lattice``
    ``side × side`` square units that tile a square community (like census
    blocks), households uniform in ``[low, high]``.
``district``
    About ``n_buildings`` rectangular building footprints in about
    ``n_communities`` irregular communities (Voronoi cells of a jittered
    grid), with a road network: every community boundary, plus wobbly
    arterial roads every ~250 m that cut communities into blocks. Buildings
    keep clear of roads and never cross a community boundary. Households per
    building: 80 % low-rise (4–12), 17 % mid-rise (12–40), 3 % high-rise
    (40–150), and one oversized tower (520–700) in about one community in
    five. Community codes are 12-digit: district 440106, streets 001…,
    10 communities per street.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, box

CRS = "EPSG:4547"
ORIGIN = (480_000.0, 2_560_000.0)
DISTRICT_CODE = "440106"


def lattice(
    side: int = 40,
    *,
    size: float = 100.0,
    low: int = 40,
    high: int = 120,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """``side²`` squares of ``size`` metres with random households (column ``households``)."""
    rng = np.random.default_rng(seed)
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    x0 = ORIGIN[0] + col.ravel() * size
    y0 = ORIGIN[1] + row.ravel() * size
    geoms = shapely.box(x0, y0, x0 + size, y0 + size)
    return gpd.GeoDataFrame(
        {
            "unit": [f"L{k:05d}" for k in range(side * side)],
            "households": rng.integers(low, high + 1, side * side),
            "community": "440106001001",
        },
        geometry=geoms,
        crs=CRS,
    )


def _wobbly(start: tuple[float, float], end: tuple[float, float], rng: np.random.Generator,
            amplitude: float) -> LineString:  # fmt: skip
    steps = 12
    t = np.linspace(0.0, 1.0, steps + 1)
    x = start[0] + (end[0] - start[0]) * t
    y = start[1] + (end[1] - start[1]) * t
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1.0
    offset = rng.normal(0.0, amplitude, steps + 1)
    offset[[0, -1]] = 0.0
    return LineString(np.column_stack([x - dy / length * offset, y + dx / length * offset]))


def district(
    n_buildings: int = 20_000,
    n_communities: int = 40,
    *,
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings, communities and roads of a synthetic district (see the module docstring).

    Returns
    -------
    buildings:
        Footprints with ``building`` (id), ``households`` and ``community`` (12-digit code).
    communities:
        ``code`` and outline.
    roads:
        ``kind`` (``"boundary"`` or ``"arterial"``) and line.
    """
    rng = np.random.default_rng(seed)
    spacing = 35.0
    # Ground per building ~ spacing², plus roads and clearances (~45 %).
    area = n_buildings * spacing**2 * 1.45
    width = math.sqrt(area * 4 / 3)
    height = area / width
    x0, y0 = ORIGIN
    outline = box(x0, y0, x0 + width, y0 + height)

    cols = max(1, round(math.sqrt(n_communities * width / height)))
    rows = max(1, math.ceil(n_communities / cols))
    cx = (np.arange(cols) + 0.5) / cols * width + x0
    cy = (np.arange(rows) + 0.5) / rows * height + y0
    gx, gy = np.meshgrid(cx, cy)
    jitter = 0.25 * min(width / cols, height / rows)
    seeds = np.column_stack(
        [gx.ravel() + rng.uniform(-jitter, jitter, gx.size),
         gy.ravel() + rng.uniform(-jitter, jitter, gy.size)]
    )[:n_communities]  # fmt: skip
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline, ordered=True)
    )
    polygons = shapely.set_precision(shapely.intersection(cells, outline), 0.01)
    codes = [f"{DISTRICT_CODE}{k // 10 + 1:03d}{k % 10 + 1:03d}" for k in range(len(polygons))]
    communities = gpd.GeoDataFrame({"code": codes}, geometry=polygons, crs=CRS)

    # Roads: every community boundary, and arterials every ~250 m each way.
    boundary_lines = shapely.get_parts(
        shapely.line_merge(shapely.union_all(shapely.boundary(polygons)))
    )
    arterials = []
    every = 250.0
    for x in np.arange(x0 + every, x0 + width, every):
        arterials.append(_wobbly((x, y0), (x, y0 + height), rng, 6.0))
    for y in np.arange(y0 + every, y0 + height, every):
        arterials.append(_wobbly((x0, y), (x0 + width, y), rng, 6.0))
    roads = gpd.GeoDataFrame(
        {"kind": ["boundary"] * len(boundary_lines) + ["arterial"] * len(arterials)},
        geometry=list(boundary_lines) + arterials,
        crs=CRS,
    )

    # Buildings on a jittered lattice, off the roads, inside one community.
    bx, by = np.meshgrid(
        np.arange(x0 + spacing / 2, x0 + width, spacing),
        np.arange(y0 + spacing / 2, y0 + height, spacing),
    )
    px = bx.ravel() + rng.uniform(-4, 4, bx.size)
    py = by.ravel() + rng.uniform(-4, 4, by.size)
    long_side = rng.uniform(12, 28, px.size)
    short_side = rng.uniform(9, 14, px.size)
    angle = rng.normal(0.0, 0.15, px.size) + np.where(rng.random(px.size) < 0.3, math.pi / 2, 0)
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
    local_x = corners[None, :, 0] * long_side[:, None]
    local_y = corners[None, :, 1] * short_side[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    ring_x = px[:, None] + local_x * cos - local_y * sin
    ring_y = py[:, None] + local_x * sin + local_y * cos
    footprints = shapely.polygons(np.stack([ring_x, ring_y], axis=-1))
    road_zone = shapely.union_all(shapely.buffer(np.asarray(roads.geometry.array), 7.0))
    shapely.prepare(road_zone)
    clear = ~shapely.intersects(road_zone, footprints)
    footprints = footprints[clear]
    tree = shapely.STRtree(polygons)
    f, c = tree.query(footprints, predicate="within")
    owner = np.full(footprints.size, -1)
    owner[f] = c
    keep = np.flatnonzero(owner >= 0)
    if keep.size > n_buildings:
        keep = np.sort(rng.choice(keep, n_buildings, replace=False))
    footprints, owner = footprints[keep], owner[keep]
    n = footprints.size
    kind = rng.random(n)
    households = np.where(
        kind < 0.80,
        rng.integers(4, 13, n),
        np.where(kind < 0.97, rng.integers(12, 41, n), rng.integers(40, 151, n)),
    )
    # One oversized tower in about one community in five.
    for community in range(0, len(polygons), 5):
        members = np.flatnonzero(owner == community)
        if members.size:
            households[rng.choice(members)] = rng.integers(520, 701)
    buildings = gpd.GeoDataFrame(
        {
            "building": [f"B{k:06d}" for k in range(n)],
            "households": households.astype(np.int64),
            "community": pd.Series(np.asarray(codes, dtype=object)[owner], dtype=object),
        },
        geometry=footprints,
        crs=CRS,
    )
    return buildings, communities, roads


def change_households(households: np.ndarray, *, share: float = 0.10, seed: int = 1) -> np.ndarray:
    """Households after a random change of up to ``share`` either way for every unit.

    Each unit's count is multiplied by a factor uniform in ``[1 - share, 1 + share]``
    and rounded (at least 0).
    """
    rng = np.random.default_rng(seed)
    factor = rng.uniform(1.0 - share, 1.0 + share, len(households))
    return np.maximum(np.round(np.asarray(households, dtype=float) * factor), 0).astype(np.int64)
