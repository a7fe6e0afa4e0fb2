"""Checking the values of the rows read, and wording why a row is rejected.

Coordinates as numbers and as WGS84 points, times, external ids (missing or
repeated), text with a NUL character, and the CRS the coordinates are in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.crs import CRSLike, CRSSpec, parse_crs, to_wgs84
from gridgis.errors import InputError
from gridgis.intake.fields import as_text
from gridgis.intake.readers import _blank
from gridgis.times import read_times


def _numbers(raw_x: pd.Series, raw_y: pd.Series) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Float x, y; whether any coordinate was given; whether both are numbers."""

    def to_float(values: pd.Series) -> NDArray[np.float64]:
        cleaned = values.map(lambda v: v.strip() if isinstance(v, str) else v).astype(object)
        cleaned = cleaned.where(~cleaned.map(_blank), None)
        return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    x = to_float(raw_x)
    y = to_float(raw_y)
    given = ~(raw_x.map(_blank).to_numpy(dtype=bool) & raw_y.map(_blank).to_numpy(dtype=bool))
    numeric = np.isfinite(x) & np.isfinite(y)
    return x, y, given, numeric


def _coordinate_reason(raw_x: object, raw_y: object) -> str:
    return f"coordinates ({as_text(raw_x) or ''!r}, {as_text(raw_y) or ''!r}) are not numbers"


def _compact_rows(numbers: Iterable[int]) -> str:
    """'2-5,9,11-12' for rows 2, 3, 4, 5, 9, 11, 12."""
    values = sorted(set(int(n) for n in numbers))
    if not values:
        return ""
    parts = []
    start = prev = values[0]
    for value in values[1:]:
        if value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = value
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def _join(*reasons: str | None) -> str | None:
    present = [r for r in reasons if r]
    return "; ".join(present) if present else None


_NUL_NAMES = {"external_id": "external id", "reported_by": "reported by"}


def _nul_problems(rows: pd.DataFrame, columns: Sequence[str]) -> list[str | None]:
    """Per row: which of the text ``columns`` hold a NUL character (PostgreSQL text cannot)."""
    reasons: list[str | None] = [None] * len(rows)
    for column in columns:
        values = rows[column].astype(object)
        has_nul = values.map(lambda v: isinstance(v, str) and "\x00" in v).to_numpy(dtype=bool)
        name = _NUL_NAMES.get(column, column)
        for i in np.flatnonzero(has_nul).tolist():  # wording for the few rows that have one
            reasons[i] = _join(
                reasons[i], f"{name} {values.iat[i]!r} contains a NUL character (U+0000)"
            )
    return reasons


_SHOWN_ROWS = 10
"""How many rows a reason about a repeated external id names (it also says how many)."""


def id_problems(rows: pd.DataFrame) -> tuple[list[str | None], NDArray[np.bool_]]:
    """Per row: why its external id is unusable (missing, or used by several rows of the
    file), and whether it is repeated (such rows are rejected, never skipped as duplicates)."""
    ids = rows["external_id"]
    numbers = rows["row"].to_numpy()
    numbering = rows.attrs.get("numbering", "row")
    present = ids.notna().to_numpy()
    repeated = ids.duplicated(keep=False).to_numpy() & present
    reasons: list[str | None] = [None if p else "external id missing" for p in present]
    positions = np.flatnonzero(repeated)
    groups = pd.Series(positions).groupby(ids.iloc[positions].to_numpy()).agg(list)
    for ident, members in groups.items():  # one sentence per repeated id
        first = ", ".join(str(numbers[m]) for m in members[:_SHOWN_ROWS])
        if len(members) <= _SHOWN_ROWS:
            listed = f"{numbering}s {first} of the file"
        else:  # bounded: each row's reason names a few rows, not all of them
            listed = f"{len(members):,} {numbering}s of the file (first {first}, …)"
        for m in members:
            reasons[m] = f"external id {ident!r} is used by {listed}"
    return reasons, repeated


def _times(
    rows: pd.DataFrame,
    column: str,
    *,
    what: str,
    required: bool,
    timezone: str,
    now: pd.Timestamp,
) -> tuple[pd.Series, list[str | None]]:
    """The times of ``column`` (Excel day numbers read as such) and a reason per bad one."""
    return read_times(
        rows[column],
        what=what,
        required=required,
        timezone=timezone,
        excel_serials=rows.attrs.get("kind") == "excel",
        now=now,
    )


def _lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64], numeric: NDArray[np.bool_], spec: CRSSpec
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 lon, lat of the ``numeric`` coordinates in ``spec``; NaN for the others."""
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    if numeric.any():
        lon[numeric], lat[numeric] = to_wgs84(x[numeric], y[numeric], spec)
    return lon, lat


def source_crs(attrs: Mapping[Any, Any], crs: CRSLike | None, *, uses_file_crs: bool) -> CRSSpec:
    """The CRS of the coordinates: ``crs`` or the vector file's own; wgs84 when neither says."""
    given = parse_crs(crs) if crs is not None else None
    own = parse_crs(attrs["crs"]) if uses_file_crs and attrs.get("crs") else None
    if own is None:
        return given or parse_crs("wgs84")
    if given is None:
        return own
    same = (own.is_wgs84 and given.is_wgs84) or (
        own.crs is not None and given.crs is not None and own.crs.equals(given.crs)
    )
    if same:
        return given
    if given.is_obfuscated and own.is_wgs84:
        # A file cannot declare GCJ-02 or BD-09 (GeoJSON is always EPSG:4326): saying so is
        # the only way, and it is said explicitly here, so it is no silent re-projection.
        return given
    raise InputError(
        f"the file says its coordinates are in {own.name} but `crs` was {given.name!r}; "
        "gridgis never re-projects silently: leave `crs` out to use the file's own",
        zh=f"文件声明其坐标系为 {own.name}，但 `crs` 为 {given.name!r}；gridgis 不会悄悄转换坐标："
        "不填 `crs` 即使用文件自带的坐标系",
    )


def crs_label(spec: CRSSpec) -> str:
    if spec.crs is not None and spec.is_wgs84:
        return "cgcs2000" if spec.crs.to_epsg() == 4490 else "wgs84"
    return spec.name


def _points(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.object_]:
    out = np.full(len(lon), None, dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    if finite.any():
        out[finite] = shapely.points(lon[finite], lat[finite])
    return out
