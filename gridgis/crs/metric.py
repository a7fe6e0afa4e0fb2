"""The metric CRS to measure a place in: :func:`metric_crs`.

CGCS2000 3-degree Gauss-Krüger zones inside China, UTM elsewhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyproj
import shapely

from gridgis.crs._arrays import _prepare
from gridgis.crs.parsing import _crs_from_epsg, _from_pyproj
from gridgis.crs.transform import _to_wgs84
from gridgis.errors import CoordinateError

_GK_FIRST_EPSG = 4534
"""EPSG:4534 is "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; codes run to 4554 (CM 135E)."""
_CHINA_LON_RANGE = (73.5, 135.1)
_CHINA_LAT_RANGE = (0.0, 56.0)


def _centroid_xy(geoms: Any) -> tuple[float, float]:
    """Area-weighted centroid of a geometry or an array of geometries."""
    if not isinstance(geoms, shapely.Geometry):
        geoms = shapely.geometrycollections(np.asarray(geoms, dtype=object).ravel())
    point: Any = shapely.centroid(geoms)
    if point is None or point.is_empty:
        return math.nan, math.nan
    return float(point.x), float(point.y)


def _centroid_lonlat(geometry_or_lonlat: Any) -> tuple[float, float]:
    if isinstance(geometry_or_lonlat, shapely.Geometry):
        return _centroid_xy(geometry_or_lonlat)
    if isinstance(geometry_or_lonlat, tuple | list) and len(geometry_or_lonlat) == 2:
        first = geometry_or_lonlat[0]
        if not isinstance(first, shapely.Geometry):
            lon, lat, _ = _prepare(geometry_or_lonlat[0], geometry_or_lonlat[1])
            return float(np.nanmean(lon)), float(np.nanmean(lat))
    import geopandas

    if isinstance(geometry_or_lonlat, geopandas.GeoDataFrame | geopandas.GeoSeries):
        series = geometry_or_lonlat.geometry
        cx, cy = _centroid_xy(series.array)
        if series.crs is not None and not _from_pyproj(series.crs).is_wgs84:
            lon, lat = _to_wgs84(np.array([cx]), np.array([cy]), _from_pyproj(series.crs))
            return float(lon[0]), float(lat[0])
        return cx, cy
    return _centroid_xy(geometry_or_lonlat)


def metric_crs(geometry_or_lonlat: Any) -> pyproj.CRS:
    """Choose the projected CRS in metres to measure a place in.

    Inside China (centroid longitude 73.5–135.1 E, latitude 0–56 N) this is
    the CGCS2000 3-degree Gauss-Krüger zone without zone prefix
    (EPSG:4534 "CM 75E" … EPSG:4554 "CM 135E") whose central meridian is
    nearest the centroid; elsewhere the WGS84 UTM zone (EPSG:326xx north,
    327xx south) of the centroid.

    Parameters
    ----------
    geometry_or_lonlat:
        A shapely geometry or array of them in WGS84 lon/lat, a GeoSeries or
        GeoDataFrame (its own CRS is honoured; unset means WGS84), or a
        ``(lon, lat)`` pair of numbers or arrays.

    Returns
    -------
    pyproj.CRS

    Raises
    ------
    CoordinateError
        When the centroid is not a valid lon/lat (e.g. metres given without a CRS).

    Examples
    --------
    >>> metric_crs((116.40, 39.91)).name  # Beijing
    'CGCS2000 / 3-degree Gauss-Kruger CM 117E'
    >>> metric_crs((2.35, 48.86)).to_epsg()  # Paris
    32631
    """
    lon, lat = _centroid_lonlat(geometry_or_lonlat)
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise CoordinateError(
            f"the centroid ({lon}, {lat}) is not a WGS84 lon/lat; projected data needs its CRS",
            zh=f"中心点（{lon}, {lat}）不是 WGS84 经纬度；投影坐标的数据需要注明坐标系",
        )
    if (
        _CHINA_LON_RANGE[0] <= lon <= _CHINA_LON_RANGE[1]
        and _CHINA_LAT_RANGE[0] <= lat <= _CHINA_LAT_RANGE[1]
    ):
        zone = min(max(math.floor((lon - 73.5) / 3.0), 0), 20)
        return _crs_from_epsg(_GK_FIRST_EPSG + zone)
    utm_zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return _crs_from_epsg((32600 if lat >= 0 else 32700) + utm_zone)
