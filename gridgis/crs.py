"""China's coordinate systems: WGS84/CGCS2000, GCJ-02, BD-09 and projected CRSs.

Coordinates met in Chinese city work come in four families:

``wgs84``
    GPS lon/lat, EPSG:4326. Everything gridgis stores is in this system.
``cgcs2000``
    China's geodetic system, EPSG:4490. It differs from WGS84 by centimetres and
    is treated as identical to it here.
``gcj02``
    The obfuscated "Mars" system of AMap (Gaode), Tencent and Google China,
    100–700 m away from WGS84 in a non-linear way. PROJ does not know it.
``bd09``
    Baidu's system: a second obfuscation on top of GCJ-02.

plus any CRS that pyproj understands (``"EPSG:4547"``, ``32650``, a
:class:`pyproj.CRS`), typically a CGCS2000 Gauss-Krüger or UTM projection.

Every function that takes a ``crs`` argument accepts all of these forms and
reads them with :func:`parse_crs`. The GCJ-02 and BD-09 transforms are
vectorised with numpy; their inverses are iterative and accurate to well under
a millimetre (see ``scripts/bench/crs_accuracy.py``).

Examples
--------
>>> from gridgis.crs import wgs84_to_gcj02, gcj02_to_wgs84
>>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
>>> round(lon, 6), round(lat, 6)
(116.410244, 39.916404)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(back[0], 9), round(back[1], 9)
(116.404, 39.915)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeVar, overload

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gridgis.errors import CoordinateError, CRSError, Problem

if TYPE_CHECKING:
    import geopandas

__all__ = [
    "CHINA_BBOX",
    "CRS_CHOICES",
    "CRS_CHOICES_HELP",
    "LONLAT_FLAGS",
    "CRSError",
    "CRSLike",
    "CRSSpec",
    "CoordinateError",
    "assert_lonlat_in_china",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_lonlat",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "metric_crs",
    "parse_crs",
    "to_wgs84",
    "to_wgs84_frame",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray: TypeAlias = NDArray[np.float64]
GeometryT = TypeVar("GeometryT", bound=shapely.Geometry)

CRS_CHOICES = "wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn"
"""The accepted forms of a ``crs`` argument, in one line."""

CRS_CHOICES_HELP = (
    f"{CRS_CHOICES}  "
    "(wgs84 = GPS, EPSG:4326; cgcs2000 = EPSG:4490, treated as wgs84; "
    "gcj02 = AMap/Gaode/Tencent; bd09 = Baidu; EPSG:nnnn = any CRS pyproj knows, "
    "e.g. EPSG:4547 for CGCS2000 Gauss-Krüger CM 114E)"
)
"""Help text for a ``--crs`` option listing every accepted form."""

# --- GCJ-02 / BD-09 constants ------------------------------------------------------------------

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
_TOLERANCE_DEG = 1e-10
"""Iterative inverses stop when a step moves the point less than this (about 10 µm)."""
_MAX_ITERATIONS = 30
"""Cap on the iterations of the inverses (convergence normally takes 3–5)."""

CHINA_BBOX: tuple[float, float, float, float] = (73.4, 18.1, 135.1, 53.6)
"""(west, south, east, north) in degrees of the box :func:`check_lonlat` calls China.

It is a box, not the national outline: it includes parts of neighbouring
countries and excludes the South China Sea islands south of Hainan (Sansha).
Pass a wider ``bbox`` to the checks for work there.
"""

LONLAT_FLAGS = ("ok", "swapped", "outside_china", "invalid")
"""The flags :func:`check_lonlat` returns, from good to bad."""


# --- CRS parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CRSSpec:
    """A coordinate system as gridgis understands it.

    Attributes
    ----------
    name:
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``, or the pyproj
        name of the CRS (``"EPSG:4547"``), for messages.
    obfuscation:
        ``"gcj02"`` or ``"bd09"`` for the obfuscated Chinese systems, which
        PROJ does not know; ``None`` otherwise.
    crs:
        The :class:`pyproj.CRS` when ``obfuscation`` is ``None``; ``None`` for
        the obfuscated systems.

    Examples
    --------
    >>> parse_crs("GCJ02").is_obfuscated
    True
    >>> parse_crs("epsg:4547").crs.name
    'CGCS2000 / 3-degree Gauss-Kruger CM 114E'
    """

    name: str
    obfuscation: Literal["gcj02", "bd09"] | None = None
    crs: pyproj.CRS | None = None

    @property
    def is_obfuscated(self) -> bool:
        """Whether this is GCJ-02 or BD-09 (which PROJ cannot transform)."""
        return self.obfuscation is not None

    @property
    def is_wgs84(self) -> bool:
        """Whether coordinates in this system are WGS84 lon/lat for gridgis.

        True for EPSG:4326, OGC:CRS84 and CGCS2000 (EPSG:4490), which differ
        from WGS84 by centimetres.
        """
        return self.crs is not None and _is_wgs84_like(self.crs)

    def __str__(self) -> str:
        return self.name


CRSLike: TypeAlias = "str | int | pyproj.CRS | CRSSpec"
"""Anything :func:`parse_crs` accepts."""

_NAMED: dict[str, tuple[str, Literal["gcj02", "bd09"] | None, int | None]] = {
    "wgs84": ("wgs84", None, 4326),
    "wgs-84": ("wgs84", None, 4326),
    "cgcs2000": ("cgcs2000", None, 4490),
    "gcj02": ("gcj02", "gcj02", None),
    "gcj-02": ("gcj02", "gcj02", None),
    "bd09": ("bd09", "bd09", None),
    "bd-09": ("bd09", "bd09", None),
}


def _unknown_crs(value: object, reason: str) -> CRSError:
    return CRSError(
        f"`crs` was {value!r} but is expected to be one of wgs84, cgcs2000, gcj02, bd09 "
        f"or a CRS that pyproj understands such as 'EPSG:4547' or 32650 ({reason})"
    )


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> CRSSpec:
    key = text.strip().lower()
    if key in _NAMED:
        name, obfuscation, epsg = _NAMED[key]
        crs = pyproj.CRS.from_epsg(epsg) if epsg is not None else None
        return CRSSpec(name=name, obfuscation=obfuscation, crs=crs)
    if not key:
        raise _unknown_crs(text, "it is empty")
    if key.isdigit():
        key = f"EPSG:{key}"
    try:
        crs = pyproj.CRS.from_user_input(key.upper() if key.startswith("epsg:") else text.strip())
    except pyproj.exceptions.CRSError as exc:
        raise _unknown_crs(text, f"pyproj: {exc}") from None
    return _from_pyproj(crs)


def _from_pyproj(crs: pyproj.CRS) -> CRSSpec:
    return CRSSpec(name=crs.to_string(), crs=crs)


def parse_crs(value: CRSLike) -> CRSSpec:
    """Read a ``crs`` argument in any accepted form.

    Parameters
    ----------
    value:
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` (any case, and
        ``"gcj-02"``/``"bd-09"``/``"wgs-84"``), an EPSG code as ``int`` or
        ``"EPSG:nnnn"`` / ``"epsg:nnnn"`` / ``"nnnn"``, any other string
        pyproj understands (WKT, PROJ string), a :class:`pyproj.CRS`, or an
        existing :class:`CRSSpec` (returned as is).

    Returns
    -------
    CRSSpec

    Raises
    ------
    CRSError
        When the value is none of these; the message names the value and
        the accepted forms.

    Examples
    --------
    >>> parse_crs("BD09")
    CRSSpec(name='bd09', obfuscation='bd09', crs=None)
    >>> parse_crs(4490).is_wgs84
    True
    >>> parse_crs("mars")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgis.errors.CRSError: `crs` was 'mars' but is expected to be one of wgs84, ...
    """
    if isinstance(value, CRSSpec):
        return value
    if isinstance(value, pyproj.CRS):
        return _from_pyproj(value)
    if isinstance(value, bool) or value is None:
        raise _unknown_crs(value, "no CRS given")
    if isinstance(value, int | np.integer):
        try:
            return _from_pyproj(pyproj.CRS.from_epsg(int(value)))
        except pyproj.exceptions.CRSError:
            raise _unknown_crs(value, f"EPSG:{value} does not exist") from None
    if isinstance(value, str):
        return _parse_text(value)
    raise _unknown_crs(value, f"a {type(value).__name__} is not a CRS")


@functools.lru_cache(maxsize=256)
def _is_wgs84_like(crs: pyproj.CRS) -> bool:
    if not crs.is_geographic or len(crs.axis_info) != 2:
        return False
    auth = crs.to_authority(min_confidence=70)
    return auth in {("EPSG", "4326"), ("EPSG", "4490"), ("OGC", "CRS84")}


def _same_crs(a: CRSSpec, b: CRSSpec) -> bool:
    if a.is_obfuscated or b.is_obfuscated:
        return a.obfuscation == b.obfuscation
    if a.is_wgs84 and b.is_wgs84:
        return True
    assert a.crs is not None and b.crs is not None
    return bool(a.crs.equals(b.crs, ignore_axis_order=True))


# --- array helpers ------------------------------------------------------------------------------


def _prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Return flat float64 copies of two coordinate inputs broadcast together, and their shape.

    The shape is ``()`` when both inputs are scalars.
    """
    try:
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CoordinateError(f"coordinates must be numbers: {exc}") from None
    try:
        bx, by = np.broadcast_arrays(x, y)
    except ValueError:
        raise CoordinateError(
            f"x/longitude has shape {x.shape} and y/latitude has shape {y.shape}; they must match"
        ) from None
    return bx.ravel().astype(np.float64), by.ravel().astype(np.float64), bx.shape


def _finish(x: FloatArray, y: FloatArray, shape: tuple[int, ...]) -> Any:
    if shape == ():
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


def _iterate_inverse(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    target_x: FloatArray,
    target_y: FloatArray,
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x, y) == (target_x, target_y)`` by fixed-point iteration.

    ``forward`` is the identity plus a small, slowly varying shift, so the
    update ``p <- p + (target - forward(p))`` contracts by a factor of about
    0.003 per step. Only the points that have not converged are recomputed.
    """
    x = x.copy()
    y = y.copy()
    active = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        fx, fy = forward(x[active], y[active])
        dx = target_x[active] - fx
        dy = target_y[active] - fy
        x[active] += dx
        y[active] += dy
        active = active[(np.abs(dx) > _TOLERANCE_DEG) | (np.abs(dy) > _TOLERANCE_DEG)]
    return x, y


def _in_box(lon: FloatArray, lat: FloatArray, box: tuple[float, float, float, float]) -> NDArray:
    west, south, east, north = box
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


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


# --- any CRS <-> WGS84 --------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _wgs84_spec() -> CRSSpec:
    return _parse_text("wgs84")


def _pyproj_transform(
    x: FloatArray, y: FloatArray, src: pyproj.CRS, dst: pyproj.CRS
) -> tuple[FloatArray, FloatArray]:
    tx, ty = _transformer(src, dst).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def _to_wgs84(x: FloatArray, y: FloatArray, spec: CRSSpec) -> tuple[FloatArray, FloatArray]:
    if spec.obfuscation == "gcj02":
        return _gcj02_to_wgs84(x, y)
    if spec.obfuscation == "bd09":
        return _gcj02_to_wgs84(*_bd09_to_gcj02(x, y))
    if spec.is_wgs84:
        return x.copy(), y.copy()
    assert spec.crs is not None
    return _pyproj_transform(x, y, spec.crs, _crs_from_epsg(4326))


def _from_wgs84(lon: FloatArray, lat: FloatArray, spec: CRSSpec) -> tuple[FloatArray, FloatArray]:
    if spec.obfuscation == "gcj02":
        return _wgs84_to_gcj02(lon, lat)
    if spec.obfuscation == "bd09":
        return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))
    if spec.is_wgs84:
        return lon.copy(), lat.copy()
    assert spec.crs is not None
    return _pyproj_transform(lon, lat, _crs_from_epsg(4326), spec.crs)


def _convert(
    x: FloatArray, y: FloatArray, src: CRSSpec, dst: CRSSpec
) -> tuple[FloatArray, FloatArray]:
    if _same_crs(src, dst):
        return x.copy(), y.copy()
    if src.crs is not None and dst.crs is not None and not (src.is_wgs84 or dst.is_wgs84):
        return _pyproj_transform(x, y, src.crs, dst.crs)  # direct: PROJ picks the best path
    if src.obfuscation == "gcj02" and dst.obfuscation == "bd09":
        return _gcj02_to_bd09(x, y)
    if src.obfuscation == "bd09" and dst.obfuscation == "gcj02":
        return _bd09_to_gcj02(x, y)
    return _from_wgs84(*_to_wgs84(x, y, src), dst)


@overload
def to_wgs84(x: float, y: float, crs: CRSLike) -> tuple[float, float]: ...
@overload
def to_wgs84(x: ArrayLike, y: ArrayLike, crs: CRSLike) -> tuple[FloatArray, FloatArray]: ...
def to_wgs84(x: ArrayLike, y: ArrayLike, crs: CRSLike) -> Any:
    """Convert coordinates in any accepted system to WGS84 lon/lat.

    Parameters
    ----------
    x, y:
        Scalars or array-likes: lon/lat for geographic systems (GCJ-02,
        BD-09, CGCS2000...), easting/northing in metres for projected ones.
    crs:
        The system of ``x``/``y``, in any form :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, otherwise float64 arrays.

    Raises
    ------
    CRSError
        When ``crs`` is not understood.

    Examples
    --------
    >>> lon, lat = to_wgs84(439_700.0, 4_416_300.0, "EPSG:4548")  # CGCS2000 GK CM 117E
    >>> round(lon, 3), round(lat, 3)
    (116.295, 39.879)
    >>> lon, lat = to_wgs84(116.41024449916938, 39.91640428150164, "gcj02")
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    spec = parse_crs(crs)
    px, py, shape = _prepare(x, y)
    return _finish(*_to_wgs84(px, py, spec), shape)


@overload
def from_wgs84(lon: float, lat: float, crs: CRSLike) -> tuple[float, float]: ...
@overload
def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRSLike) -> tuple[FloatArray, FloatArray]: ...
def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRSLike) -> Any:
    """Convert WGS84 lon/lat to any accepted system.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, WGS84 degrees.
    crs:
        The target system, in any form :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        ``(x, y)`` in ``crs``: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> from_wgs84(116.404, 39.915, "gcj02")
    (116.41024449916938, 39.91640428150164)
    >>> x, y = from_wgs84(117.0, 40.0, "EPSG:4548")
    >>> round(x, 3)
    500000.0
    """
    spec = parse_crs(crs)
    px, py, shape = _prepare(lon, lat)
    return _finish(*_from_wgs84(px, py, spec), shape)


# --- geometries and frames ----------------------------------------------------------------------


def _transform_array(geoms: NDArray[np.object_], src: CRSSpec, dst: CRSSpec) -> NDArray:
    def func(coords: FloatArray) -> FloatArray:
        out = coords.copy()
        out[:, 0], out[:, 1] = _convert(coords[:, 0].copy(), coords[:, 1].copy(), src, dst)
        return out

    out = np.empty(geoms.shape, dtype=object)
    has_z = np.asarray(shapely.has_z(geoms), dtype=bool)
    # Two calls rather than include_z=None (shapely >= 2.1) so Z values are kept on any shapely 2.
    out[~has_z] = shapely.transform(geoms[~has_z], func, include_z=False)
    out[has_z] = shapely.transform(geoms[has_z], func, include_z=True)
    return out


@overload
def transform_geometry(geoms: GeometryT, *, from_crs: CRSLike, to_crs: CRSLike) -> GeometryT: ...
@overload
def transform_geometry(geoms: Any, *, from_crs: CRSLike, to_crs: CRSLike) -> Any: ...
def transform_geometry(geoms: Any, *, from_crs: CRSLike, to_crs: CRSLike) -> Any:
    """Transform geometries between any two accepted systems.

    Points, lines, polygons and collections all work: every coordinate goes
    through the vectorised transforms of this module (``shapely.transform``).

    Parameters
    ----------
    geoms:
        A shapely geometry, a sequence or numpy array of them, or a
        :class:`geopandas.GeoSeries`. A GeoSeries whose ``.crs`` is set must
        agree with ``from_crs``.
    from_crs, to_crs:
        Source and target systems, in any form :func:`parse_crs` accepts.

    Returns
    -------
    shapely.Geometry, numpy.ndarray or geopandas.GeoSeries
        The same kind as the input (a sequence gives an array). A GeoSeries
        keeps its index and gets ``.crs = to_crs`` (``None`` for GCJ-02/BD-09,
        which geopandas cannot represent).

    Raises
    ------
    CRSError
        When a CRS is not understood, or a GeoSeries' own CRS differs from
        ``from_crs``.

    Examples
    --------
    >>> from shapely import Point
    >>> p = transform_geometry(Point(116.41024449916938, 39.91640428150164),
    ...                        from_crs="gcj02", to_crs="wgs84")
    >>> round(p.x, 9), round(p.y, 9)
    (116.404, 39.915)
    """
    src = parse_crs(from_crs)
    dst = parse_crs(to_crs)
    if isinstance(geoms, shapely.Geometry):
        return _transform_array(np.array([geoms], dtype=object), src, dst)[0]
    import geopandas

    if isinstance(geoms, geopandas.GeoSeries):
        if geoms.crs is not None and not _same_crs(_from_pyproj(geoms.crs), src):
            raise CRSError(
                f"the GeoSeries is in {geoms.crs.to_string()} but `from_crs` was {src.name!r}; "
                "they must agree (set_crs(None, allow_override=True) first if the series' "
                "CRS is wrong)"
            )
        values = _transform_array(np.asarray(geoms.array, dtype=object), src, dst)
        return geopandas.GeoSeries(values, index=geoms.index, crs=dst.crs, name=geoms.name)
    if isinstance(geoms, geopandas.GeoDataFrame):
        raise TypeError("transform_geometry takes geometries; use to_wgs84_frame for a frame")
    return _transform_array(np.asarray(geoms, dtype=object), src, dst)


def to_wgs84_frame(
    gdf: geopandas.GeoDataFrame,
    crs: CRSLike | None = None,
    *,
    allow_override: bool = False,
) -> geopandas.GeoDataFrame:
    """Return a copy of a GeoDataFrame in WGS84 (EPSG:4326).

    Parameters
    ----------
    gdf:
        The frame (or a GeoSeries). It is not changed.
    crs:
        The system its coordinates are in, in any form :func:`parse_crs`
        accepts; needed when ``gdf.crs`` is unset, and the only way to say
        that coordinates are GCJ-02 or BD-09 (geopandas cannot record them).
    allow_override:
        When ``gdf.crs`` is set and ``crs`` names a different system, use
        ``crs`` instead of raising. Meant for files that declare a wrong
        CRS, such as GeoJSON copied from AMap, which is GCJ-02 but read as
        EPSG:4326 because GeoJSON has no other choice.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with the same index and columns, ``.crs`` EPSG:4326; every
        geometry column is converted (a GeoSeries in gives a GeoSeries out).

    Raises
    ------
    CRSError
        When ``gdf.crs`` and ``crs`` differ (unless ``allow_override``), when
        neither is given, or when ``crs`` is not understood.

    Examples
    --------
    >>> import geopandas
    >>> from shapely import Point
    >>> cases = geopandas.GeoDataFrame({"case": ["A1"]},
    ...                                geometry=[Point(120.8346, 40.7124)])
    >>> out = to_wgs84_frame(cases, "gcj02")
    >>> out.crs.to_epsg(), round(float(out.geometry.x.iloc[0]), 5)
    (4326, 120.82941)
    """
    import geopandas

    if not isinstance(gdf, geopandas.GeoDataFrame | geopandas.GeoSeries):
        raise TypeError(f"expected a GeoDataFrame or GeoSeries, got {type(gdf).__name__}")
    own = _from_pyproj(gdf.crs) if gdf.crs is not None else None
    given = parse_crs(crs) if crs is not None else None
    if own is None and given is None:
        raise CRSError(f"the data has no CRS and none was given: pass --crs {CRS_CHOICES}")
    if own is not None and given is not None and not _same_crs(own, given) and not allow_override:
        raise CRSError(
            f"the data says it is in {own.name} but `crs` was {given.name!r}; gridgis never "
            "re-projects silently: give no `crs` to use the data's own, or pass "
            "allow_override=True if the data's CRS is wrong (GeoJSON copied from AMap is "
            "read as EPSG:4326 but holds gcj02)"
        )
    src = given if given is not None else own
    assert src is not None
    wgs84 = _wgs84_spec()
    if isinstance(gdf, geopandas.GeoSeries):
        values = _transform_array(np.asarray(gdf.array, dtype=object), src, wgs84)
        return geopandas.GeoSeries(values, index=gdf.index, crs="EPSG:4326", name=gdf.name)
    out = gdf.copy()
    # Every geometry column moves, not only the active one, so none is left behind in `src`.
    for column in gdf.columns[gdf.dtypes == "geometry"]:
        values = _transform_array(np.asarray(gdf[column].array, dtype=object), src, wgs84)
        out[column] = geopandas.GeoSeries(values, index=gdf.index, crs="EPSG:4326")
    return out.set_crs("EPSG:4326", allow_override=True)


# --- metric CRS ---------------------------------------------------------------------------------

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


@functools.lru_cache(maxsize=128)
def _crs_from_epsg(code: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(code)


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
            f"the centroid ({lon}, {lat}) is not a WGS84 lon/lat; projected data needs its CRS"
        )
    if (
        _CHINA_LON_RANGE[0] <= lon <= _CHINA_LON_RANGE[1]
        and _CHINA_LAT_RANGE[0] <= lat <= _CHINA_LAT_RANGE[1]
    ):
        zone = min(max(math.floor((lon - 73.5) / 3.0), 0), 20)
        return _crs_from_epsg(_GK_FIRST_EPSG + zone)
    utm_zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return _crs_from_epsg((32600 if lat >= 0 else 32700) + utm_zone)


# --- sanity checks ------------------------------------------------------------------------------


def check_lonlat(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    bbox: tuple[float, float, float, float] = CHINA_BBOX,
) -> NDArray[np.str_]:
    """Flag coordinates that cannot be WGS84 lon/lat in China.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes of the same shape, meant to be degrees.
    bbox:
        ``(west, south, east, north)`` of the area called China; the default
        :data:`CHINA_BBOX` is the box lon 73.4–135.1, lat 18.1–53.6.

    Returns
    -------
    numpy.ndarray of str
        One flag per point, same shape as the input:

        ``"ok"``
            inside ``bbox``;
        ``"swapped"``
            outside ``bbox``, but inside it with lon and lat exchanged
            (e.g. lon 39.9, lat 116.4);
        ``"outside_china"``
            a valid lon/lat outside ``bbox`` (GCJ-02 or BD-09 data given as
            WGS84 does not cause this: their shifts are under a kilometre);
        ``"invalid"``
            NaN or infinite, ``|lat| > 90`` or ``|lon| > 180`` (for example
            projected metres), and not a swapped pair.

    Examples
    --------
    >>> check_lonlat([116.4, 39.9, 2.35, float("nan"), 500000.0],
    ...              [39.9, 116.4, 48.86, 30.0, 4400000.0]).tolist()
    ['ok', 'swapped', 'outside_china', 'invalid', 'invalid']
    """
    x, y, shape = _prepare(lon, lat)
    finite = np.isfinite(x) & np.isfinite(y)
    inside = _in_box(x, y, bbox)
    swapped = ~inside & _in_box(y, x, bbox)
    valid = finite & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
    flags = np.full(x.shape, "outside_china", dtype="<U13")
    flags[~valid] = "invalid"
    flags[swapped] = "swapped"
    flags[inside] = "ok"
    return flags.reshape(shape)


_FLAG_REASONS = {
    "swapped": "longitude and latitude look swapped",
    "outside_china": "outside China",
    "invalid": "not a longitude/latitude (missing, or |lon| > 180 / |lat| > 90)",
}


def assert_lonlat_in_china(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    bbox: tuple[float, float, float, float] = CHINA_BBOX,
    max_shown: int = 20,
) -> None:
    """Raise unless every point is a plausible WGS84 lon/lat in China.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes of the same shape (flattened in C order to
        number the rows).
    bbox:
        Passed to :func:`check_lonlat`.
    max_shown:
        At most this many bad rows are listed in the message.

    Raises
    ------
    CoordinateError
        Listing the bad rows (1-based), their values and what is wrong with
        them, the first ``max_shown`` of them, and a hint when the values
        look like projected metres.

    Examples
    --------
    >>> assert_lonlat_in_china([116.4, 39.9], [39.9, 116.4])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgis.errors.CoordinateError: 1 of 2 points are not WGS84 lon/lat in China ...
      - row 2: lon=39.9, lat=116.4: longitude and latitude look swapped
    """
    x, y, _ = _prepare(lon, lat)
    flags = check_lonlat(x, y, bbox=bbox)
    bad = np.flatnonzero(flags != "ok")
    if bad.size == 0:
        return
    fx, fy = x, y
    problems = [
        Problem(
            row=int(i) + 1,
            code=None,
            reason=f"lon={fx[i]:.10g}, lat={fy[i]:.10g}: {_FLAG_REASONS[str(flags[i])]}",
        )
        for i in bad[:max_shown]
    ]
    west, south, east, north = bbox
    lines = [
        f"{bad.size} of {flags.size} points are not WGS84 lon/lat in China "
        f"(lon {west:g}–{east:g}, lat {south:g}–{north:g}):"
    ]
    lines += [f"  - {p}" for p in problems]
    if bad.size > max_shown:
        lines.append(f"  ... and {bad.size - max_shown} more")
    finite = np.isfinite(fx[bad]) & np.isfinite(fy[bad])
    if np.any(finite & ((np.abs(fx[bad]) > 1000) | (np.abs(fy[bad]) > 1000))):
        lines.append(
            "Values in the hundreds of thousands look like projected metres: "
            "give their CRS, e.g. --crs EPSG:4547."
        )
    raise CoordinateError("\n".join(lines))
