"""Sanity checks of coordinates: swapped lon/lat, outside China, not degrees at all.

:func:`check_lonlat` flags each point (:data:`LONLAT_FLAGS`) against
:data:`CHINA_BBOX`; :func:`assert_lonlat_in_china` raises naming them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gridgis.crs._arrays import _in_box, _prepare
from gridgis.errors import CoordinateError, Problem

CHINA_BBOX: tuple[float, float, float, float] = (73.4, 18.1, 135.1, 53.6)
"""(west, south, east, north) in degrees of the box :func:`check_lonlat` calls China.

It is a box, not the national outline: it includes parts of neighbouring
countries and excludes the South China Sea islands south of Hainan (Sansha).
Pass a wider ``bbox`` to the checks for work there.
"""

LONLAT_FLAGS = ("ok", "swapped", "outside_china", "invalid")
"""The flags :func:`check_lonlat` returns, from good to bad."""


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

_FLAG_REASONS_ZH = {
    "swapped": "经度和纬度似乎填反了",
    "outside_china": "不在中国境内",
    "invalid": "不是经纬度（缺失，或 |经度| > 180 / |纬度| > 90）",
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
    lines_zh = [
        f"{flags.size} 个点中有 {bad.size} 个不是中国境内的 WGS84 经纬度"
        f"（经度 {west:g}–{east:g}，纬度 {south:g}–{north:g}）："
    ]
    lines_zh += [
        f"  - 第 {int(i) + 1} 行：lon={fx[i]:.10g}, lat={fy[i]:.10g}："
        f"{_FLAG_REASONS_ZH[str(flags[i])]}"
        for i in bad[:max_shown]
    ]
    if bad.size > max_shown:
        lines.append(f"  ... and {bad.size - max_shown} more")
        lines_zh.append(f"  ……另有 {bad.size - max_shown} 个")
    finite = np.isfinite(fx[bad]) & np.isfinite(fy[bad])
    if np.any(finite & ((np.abs(fx[bad]) > 1000) | (np.abs(fy[bad]) > 1000))):
        lines.append(
            "Values in the hundreds of thousands look like projected metres: "
            "give their CRS, e.g. --crs EPSG:4547."
        )
        lines_zh.append("数值达几十万，像是投影坐标（米）：请指定其坐标系，如 EPSG:4547。")
    raise CoordinateError("\n".join(lines), zh="\n".join(lines_zh))
