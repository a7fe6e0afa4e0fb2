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
import shapely

from gridgis import crs as crs_mod
from gridgis.errors import InputError

TILING_SHARE = 0.5
"""Polygon units covering at least this share of their hull are taken to tile the area."""


def units_tile(units: gpd.GeoDataFrame) -> bool:
    """Whether polygon units cover their area (census blocks) rather than dot it (buildings)."""
    geoms = np.asarray(units.geometry.array, dtype=object)
    if not np.all(shapely.get_type_id(geoms) >= 3):  # 3 = Polygon, 6 = MultiPolygon
        return False
    union = shapely.union_all(geoms)
    hull = shapely.convex_hull(union)
    return bool(shapely.area(union) >= TILING_SHARE * shapely.area(hull))


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
        raise InputError("the units have no CRS: pass --crs")
    if units_tile(units):
        return None
    metric = units.crs if units.crs.is_projected else crs_mod.metric_crs(units.geometry.union_all())
    projected = units.to_crs(metric)
    keys = (
        projected[group].astype(str).to_numpy()
        if group
        else np.full(len(projected), "", dtype=object)
    )
    geoms = np.asarray(projected.geometry.array, dtype=object)
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
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(points), extend_to=shapely.union_all(hulls), ordered=True
            )
        )
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
        hulls = outlines
    frame = gpd.GeoDataFrame({"code": codes}, geometry=hulls, crs=metric)
    return frame.to_crs(units.crs)


def _median_spacing(points: np.ndarray) -> float:
    if len(points) < 2:
        return 10.0
    tree = shapely.STRtree(points)
    left, right = tree.query_nearest(
        points, exclusive=True, all_matches=False, return_distance=False
    )
    distances = shapely.distance(points[left], points[right])
    return float(np.median(distances)) if len(distances) else 10.0
