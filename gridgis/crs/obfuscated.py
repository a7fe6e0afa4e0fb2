"""GCJ-02 and BD-09, the obfuscated systems PROJ does not know, to and from WGS84.

The forward transforms are the published formulas, vectorised with numpy;
the inverses iterate to well under a millimetre. Outside the rough box of
China GCJ-02 leaves points unchanged, as AMap does.
"""

from __future__ import annotations

import math
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike

from gridgis.crs._arrays import FloatArray, _finish, _in_box, _iterate_inverse, _prepare

_KRASOVSKY_A = 6378245.0
"""Semi-major axis (m) of the Krasovsky 1940 ellipsoid used by the GCJ-02 algorithm."""
_KRASOVSKY_EE = 0.00669342162296594323
"""First eccentricity squared of the Krasovsky 1940 ellipsoid."""
_X_PI = math.pi * 3000.0 / 180.0
"""The constant of the BD-09 formulas."""
_GCJ_BOX = (72.004, 0.8293, 137.8347, 55.8271)
"""The rough box (west, south, east, north) inside which GCJ-02 shifts points.

This is the bounding test of the widely used open implementations: points
outside it are returned unchanged, as AMap does for foreign places.
"""


# --- GCJ-02 -------------------------------------------------------------------------------------


def _gcj_shift(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 shift in degrees at WGS84 ``(lon, lat)``, without the China box test."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    wave = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + wave
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + wave
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _gcj_forward_unboxed(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_shift(lon, lat)
    return lon + dlon, lat + dlat


def _wgs84_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_lon, out_lat = lon.copy(), lat.copy()
    idx = np.flatnonzero(_in_box(lon, lat, _GCJ_BOX))
    out_lon[idx], out_lat[idx] = _gcj_forward_unboxed(lon[idx], lat[idx])
    return out_lon, out_lat


def _gcj02_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    out_lon, out_lat = lon.copy(), lat.copy()
    idx = np.flatnonzero(_in_box(lon, lat, _GCJ_BOX))
    target_lon, target_lat = lon[idx], lat[idx]
    dlon, dlat = _gcj_shift(target_lon, target_lat)  # one-step estimate as the start
    out_lon[idx], out_lat[idx] = _iterate_inverse(
        _gcj_forward_unboxed, target_lon, target_lat, target_lon - dlon, target_lat - dlat
    )
    return out_lon, out_lat


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Shift WGS84 lon/lat to GCJ-02 (AMap/Gaode, Tencent).

    The published GCJ-02 algorithm (Krasovsky ellipsoid polynomials). Points
    outside the rough China box (lon 72.004–137.8347, lat 0.8293–55.8271)
    are returned unchanged, as AMap does.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes of the same (or broadcastable) shape, degrees.

    Returns
    -------
    tuple
        ``(lon, lat)``: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> wgs84_to_gcj02(116.404, 39.915)  # Tiananmen
    (116.41024449916938, 39.91640428150164)
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_wgs84_to_gcj02(x, y), shape)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Convert GCJ-02 lon/lat to WGS84 by iterating on the forward transform.

    Starts from the usual one-step approximation (error up to about 2 m) and
    applies ``p <- p + (gcj - wgs84_to_gcj02(p))`` until a step is below
    1e-10 degrees (at most 30 steps, normally 3–4). The round trip
    ``gcj02_to_wgs84(wgs84_to_gcj02(p))`` returns ``p`` to within a
    millimetre everywhere in China. Points outside the GCJ-02 box are
    returned unchanged.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, degrees in GCJ-02.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84([120.8346, 119.0138], [40.7124, 25.4283])
    >>> lon.round(5).tolist(), lat.round(5).tolist()
    ([120.82941, 119.00906], [40.71094, 25.43107])
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_gcj02_to_wgs84(x, y), shape)


# --- BD-09 --------------------------------------------------------------------------------------


def _gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _iterate_inverse(_gcj02_to_bd09, lon, lat, z * np.cos(theta), z * np.sin(theta))


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu).

    The standard ``x_pi = pi * 3000 / 180`` formulas. They apply everywhere
    (there is no China box test in BD-09 itself).

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, degrees in GCJ-02.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> gcj02_to_bd09(116.404, 39.915)
    (116.41036949371029, 39.92133699351021)
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_gcj02_to_bd09(x, y), shape)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Convert BD-09 lon/lat to GCJ-02, iterating on :func:`gcj02_to_bd09`.

    The usual closed-form inverse is only approximate (errors of a few
    decimetres); it is used as the starting point and refined until a step
    is below 1e-10 degrees.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, degrees in BD-09.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(116.41036949371029, 39.92133699351021)
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_bd09_to_gcj02(x, y), shape)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Convert WGS84 lon/lat to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, degrees in WGS84.

    Returns
    -------
    tuple
        ``(lon, lat)`` in BD-09: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> wgs84_to_bd09(116.404, 39.915)
    (116.41662724378733, 39.922699552216216)
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_gcj02_to_bd09(*_wgs84_to_gcj02(x, y)), shape)


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Any:
    """Convert BD-09 lon/lat to WGS84 (through GCJ-02, both steps iterative).

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, degrees in BD-09.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(116.41662724378733, 39.922699552216216)
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    x, y, shape = _prepare(lon, lat)
    return _finish(*_gcj02_to_wgs84(*_bd09_to_gcj02(x, y)), shape)
