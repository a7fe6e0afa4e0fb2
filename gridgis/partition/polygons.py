"""The polygon parts of geometries: what overlays and repairs leave besides lines and points."""

from __future__ import annotations

import numpy as np
import shapely

from gridgis.partition._arrays import GeomArray

__all__ = ["polygonal"]


def polygonal(geoms: GeomArray) -> GeomArray:
    """Keep only the polygon parts of each geometry (overlays may add lines and points).

    Polygons nested in a collection are kept too: GEOS's ``make_valid`` answers a ring
    folded over itself with ``GeometryCollection(MultiPolygon, LineString)``.
    """
    geoms = np.asarray(geoms, dtype=object)
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))
    if odd.size == 0:
        return geoms
    parts, owner = shapely.get_parts(geoms[odd], return_index=True)
    nested = np.isin(shapely.get_type_id(parts), (6, 7))
    while nested.any():  # multi-polygons and collections inside a collection: their parts
        inner, within = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        owner = np.concatenate([owner[~nested], owner[nested][within]])
        nested = np.isin(shapely.get_type_id(parts), (6, 7))
        order = np.argsort(owner, kind="stable")  # shapely wants the indices in order
        parts, owner = parts[order], owner[order]
    keep = shapely.get_type_id(parts) == 3
    fixed = np.empty(odd.size, dtype=object)
    fixed[:] = [shapely.Polygon()] * odd.size
    if keep.any():
        shapely.multipolygons(parts[keep], indices=owner[keep], out=fixed)
    geoms = geoms.copy()
    geoms[odd] = fixed
    return geoms
