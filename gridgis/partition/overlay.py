"""Overlays that hold up: the precision grid, grouped unions, polygon-only results, clean coverages.

Every overlay of the cell engine runs on :data:`GRID` (1 µm, GEOS
snap-rounding); pieces of at most :data:`NOISE_M2` are noise. The helpers
here dissolve geometries per group (:func:`dissolve`), keep only polygon
parts (:func:`polygonal`), choose the adjacency tolerance of a community
(:func:`tolerance`) and clean tiles into an edge-matched coverage
(:func:`clean_coverage`, :func:`union_of_areas`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from gridgis.partition._arrays import GeomArray, IntArray
from gridgis.partition.footprints import clean_footprints
from gridgis.partition.polygons import polygonal

__all__ = [
    "CAN_CLEAN",
    "GRID",
    "NOISE_M2",
    "clean_coverage",
    "dissolve",
    "polygonal",
    "tolerance",
    "union_of_areas",
]

GRID = 1e-6
"""Precision grid of every overlay, in metres of the metric CRS (1 µm)."""

NOISE_M2 = 1.0
"""Pieces of ground of at most this area (m²) are coordinate noise: never a block, a tile or
a cell of their own (:func:`absorb_noise`). The same bound as the default ``tolerance_m2`` of
:func:`gridgis.partition.validate.validate_layout`, below which gaps and overlaps are noise."""


def _geom_array(values: object) -> GeomArray:
    return np.asarray(values, dtype=object)


def _first_per_group(keys: IntArray, values: IntArray, n: int) -> IntArray:
    """For each key in ``range(n)``, the first value in ``values`` paired with it, else -1."""
    out = np.full(n, -1, dtype=np.int64)
    if keys.size:
        # Reverse assignment: the first occurrence is written last and wins.
        out[keys[::-1]] = values[::-1]
    return out


def dissolve(geoms: GeomArray, groups: IntArray, n: int, *, coverage: bool = False) -> GeomArray:
    """Union of ``geoms`` per group ``0..n-1`` (empty polygon for a group with none).

    Shapely has no grouped union, so this loops over the groups (one GEOS
    call each); ``coverage=True`` uses the faster coverage union, valid only
    when the geometries of a group form a coverage (Voronoi cells, cleaned
    tiles).
    """
    out = np.full(n, shapely.Polygon(), dtype=object)
    if geoms.size == 0:
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], sorted_groups.size]
    for start, end in zip(starts, ends, strict=True):
        members = geoms[order[start:end]]
        if members.size == 1:
            out[sorted_groups[start]] = members[0]
        elif coverage:
            try:
                out[sorted_groups[start]] = shapely.coverage_union_all(members)
            except shapely.errors.GEOSException:
                # Voronoi cells clipped by a footprint can meet at vertices GEOS
                # does not see as shared ("incorrectly noded"): overlay instead.
                out[sorted_groups[start]] = _robust_union(members)
        else:
            out[sorted_groups[start]] = shapely.union_all(members, grid_size=GRID)
    return out


def _robust_union(members: GeomArray) -> Any:
    """Union that survives inputs GEOS's fast paths reject, trying exact before snapped."""
    for attempt in (
        lambda: shapely.union_all(members, grid_size=GRID),
        lambda: shapely.union_all(members),
        lambda: shapely.union_all(shapely.make_valid(shapely.set_precision(members, GRID))),
    ):
        try:
            return attempt()
        except shapely.errors.GEOSException:
            continue
    return shapely.union_all(shapely.buffer(members, 0))


def tolerance(community: shapely.Geometry) -> float:
    """Adjacency tolerance for a community: 1 mm per km of its size, at least 10 µm."""
    size = math.sqrt(max(float(shapely.area(community)), 1.0))
    return max(1e-6 * size, 10 * GRID)


CAN_CLEAN = hasattr(shapely, "coverage_clean") and shapely.geos_version >= (3, 14, 0)
"""Whether GEOS can clean a coverage (shapely >= 2.2 with GEOS >= 3.14)."""


def union_of_areas(geoms: GeomArray) -> tuple[GeomArray, shapely.Geometry]:
    """Small areas put on the grid and cleaned into a coverage, and their union.

    The outline of a community given only by its small areas (census blocks).
    """
    snapped = polygonal(shapely.set_precision(clean_footprints(geoms).geoms, GRID))
    if not CAN_CLEAN:
        return snapped, shapely.union_all(snapped, grid_size=GRID)
    size = math.sqrt(max(float(np.sum(shapely.area(snapped))), 1.0))
    cleaned = clean_coverage(snapped, max(1e-6 * size, 10 * GRID))
    return cleaned, shapely.coverage_union_all(cleaned)


def clean_coverage(tiles: GeomArray, tol: float) -> GeomArray:
    """Make neighbouring tiles share exactly the same vertices along their common edges.

    Tiles come from separate overlays, each snap-rounded on its own, so a
    shared edge can carry a vertex in one tile that lies half a grid step off
    the edge in the other: a gap a micrometre wide that would make a union of
    tiles two parts. GEOS's coverage cleaner snaps such vertices together
    (within ``10 * GRID``) and gives gaps narrower than ``2 * tol`` to a
    neighbour. Without it (GEOS < 3.14) tiles are returned as they are and
    cells are dissolved with snap-rounding instead.
    """
    if not CAN_CLEAN or tiles.size < 2:
        return tiles
    cleaner = shapely.coverage_clean  # type: ignore[attr-defined]  # shapely >= 2.2
    cleaned: GeomArray = np.asarray(
        cleaner(tiles, snapping_distance=10 * GRID, gap_width=2 * tol), dtype=np.object_
    )
    lost = shapely.is_empty(cleaned) | (shapely.area(cleaned) <= 0)
    if lost.any():  # never lose a tile: keep the original where the cleaner emptied it
        cleaned[lost] = tiles[lost]
    return polygonal(cleaned)
