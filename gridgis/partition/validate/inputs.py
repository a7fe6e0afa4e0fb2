"""Reading the arguments of :func:`~gridgis.partition.validate.validate_layout`.

Columns, codes as text, household counts, engine flags, the CRS of each
frame and the options: each bad value raises an error that names it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis import crs as crs_mod
from gridgis.errors import CoordinateError, CRSError, InputError, listing, listing_zh
from gridgis.partition._arrays import FloatArray

_METRE_NAMES = {"metre", "meter", "m", "metres", "meters"}
_DEGREE_NAMES = {"degree", "degrees", "degree minute second hemisphere"}
_SHOWN_ROWS = 10


def _text(value: object) -> str | None:
    """A code as text: ints (and floats holding ints) without decimals; None for missing."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        value = int(number) if number.is_integer() else number
    text = str(value).strip()
    return text or None


def _column(frame: pd.DataFrame, name: str, option: str, what: str) -> pd.Series:
    if name not in frame.columns:
        fields = ", ".join(repr(str(c)) for c in frame.columns if c != frame.geometry.name)
        raise InputError(
            f"`{option}` was {name!r} but {what} has no such column; its columns are: {fields}",
            zh=f"`{option}` 为 {name!r}，但 {what} 没有这一列；现有的列：{fields}",
        )
    return frame[name]


def _rows(positions: Iterable[int], *, zh: bool = False) -> str:
    rows = (int(p) + 1 for p in positions)
    if zh:
        return listing_zh(rows, noun="", shown=_SHOWN_ROWS, sep="、")
    return listing(rows, noun="", shown=_SHOWN_ROWS, sep=", ")


def _counts(frame: pd.DataFrame, name: str, what: str) -> FloatArray:
    """A household column as floats (NaN where missing); bad values raise InputError."""
    raw = _column(frame, name, "households", what)
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(raw.notna().to_numpy() & ~np.isfinite(numbers))
    if bad.size:
        raise InputError(
            f"column {name!r} of {what} (given by `households`) must hold household counts, "
            f"but rows {_rows(bad)} are not numbers (e.g. {raw.iloc[int(bad[0])]!r})",
            zh=f"{what} 的 {name!r} 列（由 `households` 指定）应为户数，但第 {_rows(bad, zh=True)}"
            f" 行不是数字（例如 {raw.iloc[int(bad[0])]!r}）",
        )
    negative = np.flatnonzero(numbers < 0)
    if negative.size:
        raise InputError(
            f"column {name!r} of {what} (given by `households`) has negative household counts "
            f"in rows {_rows(negative)} (e.g. {numbers[negative[0]]:g})",
            zh=f"{what} 的 {name!r} 列（由 `households` 指定）在第 {_rows(negative, zh=True)} 行有"
            f"负的户数（例如 {numbers[negative[0]]:g}）",
        )
    return numbers


def _flags(value: object) -> set[str]:
    """The engine flags of a cell: a list of strings, or one comma-separated string."""
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    if isinstance(value, Iterable):
        return {str(item) for item in value}
    return set()


def _same_crs(a: Any, b: Any) -> bool:
    crs_a, crs_b = pyproj.CRS(a), pyproj.CRS(b)
    if crs_mod.parse_crs(crs_a).is_wgs84 and crs_mod.parse_crs(crs_b).is_wgs84:
        return True  # WGS84 and CGCS2000 differ by centimetres (DOMAIN.md)
    return bool(crs_a.equals(crs_b, ignore_axis_order=True))


def _check_crs(cells: gpd.GeoDataFrame) -> pyproj.CRS:
    if cells.crs is None:
        raise CRSError(
            "`cells` has no CRS: set it first (e.g. cells.set_crs('EPSG:4326')); "
            "areas cannot be measured without it",
            zh="`cells` 没有坐标系：请先设置（例如 cells.set_crs('EPSG:4326')），否则无法计算面积",
        )
    crs = pyproj.CRS(cells.crs)
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown"
    allowed = _DEGREE_NAMES if crs.is_geographic else _METRE_NAMES
    if unit.lower() not in allowed:
        raise InputError(
            f"the CRS of `cells` ({crs.to_string()}) measures in {unit!r}; a projected CRS must "
            "be in metres (e.g. a CGCS2000 Gauss-Krüger zone such as EPSG:4547) and a "
            "geographic one in degrees: reproject the layout explicitly",
            zh=f"`cells` 的坐标系（{crs.to_string()}）以 {unit!r} 为单位；投影坐标系应以米为单位（"
            "例如 CGCS2000 高斯-克吕格投影带 EPSG:4547），地理坐标系应以度为单位：请先明确地转"
            "换网格的坐标系",
        )
    return crs


def _check_lonlat(frame: gpd.GeoDataFrame, name: str) -> None:
    """Geometries said to be in degrees must have longitudes and latitudes."""
    bounds = shapely.bounds(np.asarray(frame.geometry.array, dtype=object))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(
            (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1)
            | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
        )
    if bad.size:
        raise CoordinateError(
            f"`{name}` is in a geographic CRS ({frame.crs}) but rows {_rows(bad)} have "
            "coordinates beyond ±180° / ±90° (e.g. x = "
            f"{bounds[bad[0], 0]:.10g}): projected metres need their own CRS",
            zh=f"`{name}` 使用地理坐标系（{frame.crs}），但第 {_rows(bad, zh=True)} 行的坐标超出 ±"
            f"180° / ±90°（例如 x = {bounds[bad[0], 0]:.10g}）：以米为单位的投影坐标需要相应的"
            "投影坐标系",
        )


def _check_other_crs(frame: object, name: str, cells_crs: pyproj.CRS) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"`{name}` must be a GeoDataFrame, not a {type(frame).__name__}",
            zh=f"`{name}` 应为 GeoDataFrame，而不是 {type(frame).__name__}",
        )
    if frame.crs is None:
        raise CRSError(
            f"`{name}` has no CRS; it must be in the CRS of `cells` ({cells_crs})",
            zh=f"`{name}` 没有坐标系；它应与 `cells` 使用同一坐标系（{cells_crs}）",
        )
    if not _same_crs(frame.crs, cells_crs):
        raise CRSError(
            f"`{name}` is in {pyproj.CRS(frame.crs).to_string()} but `cells` is in "
            f"{cells_crs.to_string()}: reproject one of them explicitly (e.g. "
            f"{name}.to_crs(cells.crs)); gridgis never reprojects silently",
            zh=f"`{name}` 的坐标系是 {pyproj.CRS(frame.crs).to_string()}，而 `cells` 的是 "
            f"{cells_crs.to_string()}：请明确地转换其中一个（例如 {name}.to_crs(cells.crs)）；"
            "本系统从不自动转换坐标系",
        )


def _check_options(
    *,
    min_households: int,
    max_households: int,
    bounds: Mapping[str, tuple[int, int]] | None,
    sliver_m2: float,
    tolerance_m2: float,
) -> dict[str, tuple[float, float]]:
    for name, value in (("sliver_m2", sliver_m2), ("tolerance_m2", tolerance_m2)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise InputError(
                f"`{name}` was {value!r} but is expected to be a number >= 0",
                zh=f"`{name}` 为 {value!r}，应为不小于 0 的数",
            )
    if not (0 <= min_households <= max_households):
        raise InputError(
            f"`min_households` was {min_households!r} and `max_households` {max_households!r}; "
            "expected 0 <= min_households <= max_households",
            zh=f"`min_households` 为 {min_households!r}，`max_households` 为 {max_households!r}；"
            "应满足 0 <= 最少户数 <= 最多户数",
        )
    checked: dict[str, tuple[float, float]] = {}
    for key, pair in (bounds or {}).items():
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            low, high = math.nan, math.nan
        if not (0 <= low <= high):
            raise InputError(
                f"`bounds` for community {key!r} was {pair!r} but is expected to be a "
                "(min, max) pair of household counts with 0 <= min <= max",
                zh=f"社区 {key!r} 的 `bounds` 为 {pair!r}，应为（最少, 最多）两个户数，且 0 <= 最"
                "少 <= 最多",
            )
        checked[str(key)] = (low, high)
    return checked
