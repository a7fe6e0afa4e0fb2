"""The area to tile when only units are given (analysts' files with no community outline).

Small areas that already tile (census blocks, compounds) are their own
outline: their union. Buildings, as points or as footprints that cover a
small share of the ground, are not: their outline is the convex hull of the
group's buildings grown by a margin, so that cells cover the ground between
and around them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis import crs as crs_mod
from gridgis.errors import InputError
from gridgis.partition.errors import PartitionError, geos_guard
from gridgis.partition.footprints import clean_footprints, nearest_regions
from gridgis.partition.overlay import GRID, polygonal

TILING_SHARE = 0.5
"""Polygon units covering at least this share of their hull are taken to tile the area."""


def units_tile(units: gpd.GeoDataFrame) -> bool:
    """Whether polygon units cover their area (census blocks) rather than dot it (buildings).

    The units are judged as :func:`outline_of_units` uses them: in the metric
    CRS, repaired by :func:`~gridgis.partition.footprints.clean_footprints`.
    """
    metric = units.crs if units.crs.is_projected else crs_mod.metric_crs(units.geometry)
    return _tile(clean_footprints(np.asarray(units.to_crs(metric).geometry.array)).geoms)


def _tile(geoms: np.ndarray) -> bool:
    if not np.all(shapely.get_type_id(geoms) >= 3):  # 3 = Polygon, 6 = MultiPolygon
        return False
    union = shapely.union_all(geoms)
    hull = shapely.convex_hull(union)
    return bool(shapely.area(union) >= TILING_SHARE * shapely.area(hull))


@geos_guard("outlining the ground of the units")
def outline_of_units(
    units: gpd.GeoDataFrame,
    *,
    group: str | None = None,
    margin: float | None = None,
) -> gpd.GeoDataFrame | None:
    """Outlines to tile for each group of building units, or ``None`` when the units tile.

    Parameters
    ----------
    units:
        Buildings (points or footprints) or small areas, with ``.crs`` set.
    group:
        Column naming each unit's community; without it all units are one.
    margin:
        How far the outline reaches beyond the outermost buildings, in metres;
        default: the median distance between neighbouring buildings (at least
        10 m).

    Returns
    -------
    GeoDataFrame or None
        ``code`` (the group value) and the outline, in the units' CRS; ``None``
        when the units are areas that tile (their union is the outline).
    """
    if units.crs is None:
        raise InputError("the units have no CRS: pass --crs", zh="楼栋没有坐标系：请用 --crs 指定")
    metric = units.crs if units.crs.is_projected else crs_mod.metric_crs(units.geometry)
    projected = units.to_crs(metric)
    keys = (
        projected[group].astype(str).to_numpy()
        if group
        else np.full(len(projected), "", dtype=object)
    )
    # Repaired footprints (the units themselves are drawn from the same repair, in
    # tessellate); collapsed ones stay out of the hulls: they join a neighbour's cell.
    repair = clean_footprints(np.asarray(projected.geometry.array, dtype=object))
    if _tile(repair.geoms):
        return None
    keep = np.ones(len(projected), dtype=bool)
    keep[repair.collapsed] = False
    if not keep.any():
        raise InputError(
            "no unit has an area: every footprint collapsed to a line or a point",
            zh="没有一个楼栋有面积：所有轮廓都退化成了线或点",
        )
    geoms, keys, labels = repair.geoms[keep], keys[keep], projected.index[keep]
    points = shapely.centroid(geoms)
    gap = max(margin if margin is not None else _median_spacing(points), 10.0)
    codes = sorted(set(keys))
    # Each group's ground: the hull of its buildings grown by the margin ...
    hulls: list[shapely.Geometry] = [
        shapely.buffer(shapely.convex_hull(shapely.union_all(geoms[keys == key])), gap, quad_segs=4)
        for key in codes
    ]
    # ... shared out between groups by nearest building where hulls overlap.
    if len(codes) > 1:
        # A building drawn twice has one centroid: its region goes to the first.
        cells = nearest_regions(shapely.get_coordinates(points), shapely.union_all(hulls))
        nearest = [shapely.union_all(cells[keys == key]) for key in codes]
        outlines: list[shapely.Geometry] = []
        for i, hull in enumerate(hulls):  # one per community: a handful
            others = shapely.union_all([h for j, h in enumerate(hulls) if j != i])
            contested = shapely.intersection(hull, others)
            outlines.append(
                shapely.union(
                    shapely.difference(hull, contested),
                    shapely.intersection(contested, nearest[i]),
                )
            )
        hulls = _claim_own_footprints(outlines, geoms, keys, codes, labels)
    frame = gpd.GeoDataFrame({"code": codes}, geometry=hulls, crs=metric)
    return frame.to_crs(units.crs)


def _claim_own_footprints(
    outlines: list[shapely.Geometry],
    geoms: np.ndarray,
    keys: np.ndarray,
    codes: list[str],
    labels: pd.Index,
) -> list[shapely.Geometry]:
    """Move each footprint wholly into its own group's outline.

    Ground shared out by nearest centroid can cut through a large building
    whose centroid is far from the cut: the building would lie in two
    communities and be clipped. Each group takes its footprints' ground from
    the others; where footprints of two groups overlap, the first group in
    ``codes`` keeps the overlap; a footprint wholly under another group's
    (a building drawn twice, once in each community) is an error.
    """
    own = [shapely.union_all(geoms[keys == key], grid_size=GRID) for key in codes]
    hidden: list[str] = []
    for i, key in enumerate(codes[1:], start=1):  # one per community: a handful
        earlier = shapely.union_all(own[:i], grid_size=GRID)
        shapely.prepare(earlier)
        rows = np.flatnonzero(keys == key)
        under = rows[shapely.covers(earlier, geoms[rows])]
        hidden += [f"{labels[k]!r} ({key})" for k in under]
    if hidden:
        shown = ", ".join(hidden[:10]) + (
            f" and {len(hidden) - 10} more" if len(hidden) > 10 else ""
        )
        shown_zh = "、".join(hidden[:10]) + (
            f" 等（另有 {len(hidden) - 10} 个）" if len(hidden) > 10 else ""
        )
        raise PartitionError(
            f"{len(hidden)} footprint(s) lie wholly under buildings of another community "
            f"(a building and its part, or a building drawn twice, in two communities): rows "
            f"{shown}; give them one community, or leave the copy out",
            zh=f"有 {len(hidden)} 个楼栋轮廓完全压在另一个社区的楼栋之下（同一楼栋或其局部被画了两"
            f"次，分属两个社区）：{shown_zh}；请把它们归入同一个社区，或去掉重复的一个",
        )
    claimed = [
        shapely.difference(ground, shapely.union_all(own[:i], grid_size=GRID), grid_size=GRID)
        for i, ground in enumerate(own)  # one per community: a handful
    ]
    claimed = list(polygonal(np.asarray(claimed, dtype=object)))
    areas = polygonal(np.asarray(outlines, dtype=object))
    result = []
    for i, outline in enumerate(areas):
        others = shapely.union_all([c for j, c in enumerate(claimed) if j != i], grid_size=GRID)
        rest = polygonal(np.asarray([shapely.difference(outline, others, grid_size=GRID)]))[0]
        result.append(shapely.union(rest, claimed[i], grid_size=GRID))
    return list(polygonal(np.asarray(result, dtype=object)))


def _median_spacing(points: np.ndarray) -> float:
    if len(points) < 2:
        return 10.0
    tree = shapely.STRtree(points)
    left, right = tree.query_nearest(
        points, exclusive=True, all_matches=False, return_distance=False
    )
    distances = shapely.distance(points[left], points[right])
    return float(np.median(distances)) if len(distances) else 10.0
