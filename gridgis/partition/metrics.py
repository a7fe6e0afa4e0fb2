"""Shape measures of cells.

Examples
--------
>>> from shapely.geometry import box, Point
>>> polsby_popper([box(0, 0, 1, 1), box(0, 0, 4, 1), Point(0, 0).buffer(1, quad_segs=64)]).round(3)
array([0.785, 0.503, 1.   ])
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis import crs as crs_mod

__all__ = ["polsby_popper"]


def polsby_popper(geoms: Any) -> NDArray[np.float64]:
    """Polsby–Popper compactness ``4πA / P²`` of each geometry, vectorised.

    1 for a circle, about 0.785 for a square, towards 0 for long thin or
    ragged shapes. Cells are compared on it (DOMAIN.md: cells should be
    compact as well as follow roads).

    Parameters
    ----------
    geoms:
        A GeoSeries or GeoDataFrame (measured in a metric CRS: a geographic
        one is projected with :func:`gridgis.crs.metric_crs` first), or a
        shapely geometry, list or array of them (measured as given).

    Returns
    -------
    numpy.ndarray
        One float per geometry; NaN where the perimeter is 0 (empty,
        points, lines).
    """
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        if geoms.crs is not None and geoms.crs.is_geographic and len(geoms):
            geoms = geoms.to_crs(crs_mod.metric_crs(geoms))
        array = np.asarray(geoms.array, dtype=object)
    elif isinstance(geoms, shapely.Geometry):
        array = np.asarray([geoms], dtype=object)
    else:
        array = np.asarray(geoms, dtype=object).ravel()
    area = np.asarray(shapely.area(array), dtype=float)
    perimeter = np.asarray(shapely.length(array), dtype=float)
    area = np.where(np.isin(shapely.get_type_id(array), (3, 6)), area, 0.0)
    out = np.full(array.shape, np.nan)
    ok = perimeter > 0
    out[ok] = 4.0 * math.pi * area[ok] / perimeter[ok] ** 2
    return out
