"""Field mapping: the fields of a file as frames with fixed column names.

A field that is not named is looked for under the names of :data:`CASE_FIELDS` or
:data:`INSPECTION_FIELDS`; vector files give their geometry as the coordinates.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.errors import InputError
from gridgis.intake.readers import SourceTable, _blank, read_table

CASE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("external_id", "id", "case_id", "编号", "事件编号"),
    "category": ("category", "category_code", "类别", "事件类别", "事件类型", "类型"),
    "time": ("reported_at", "time", "上报时间", "时间"),
    "description": ("description", "描述", "事件描述", "内容"),
    "address": ("address", "地址", "事发地址"),
    "x": ("x", "lon", "lng", "longitude", "经度"),
    "y": ("y", "lat", "latitude", "纬度"),
    "source": ("source", "来源"),
    "reported_by": ("reported_by", "上报人"),
    "registered_at": ("registered_at", "立案时间"),
    "registered_by": ("registered_by", "立案人"),
    "dispatched_at": ("dispatched_at", "派遣时间"),
    "dispatched_by": ("dispatched_by", "派遣人"),
    "handled_at": ("handled_at", "处置时间"),
    "handled_by": ("handled_by", "处置人"),
    "verified_at": ("verified_at", "核查时间"),
    "verified_by": ("verified_by", "核查人"),
    "closed_at": ("closed_at", "结案时间"),
    "closed_by": ("closed_by", "结案人"),
    "rejected_at": ("rejected_at", "作废时间"),
    "rejected_by": ("rejected_by", "作废人"),
}
"""Field names looked for (case-insensitively, in this order) when a case field is not named.

The fields of the later lifecycle steps (``registered_at`` … ``rejected_by``, see
:data:`HISTORY_FIELDS`) are optional: they carry the history of past cases (a year of
cases from a former system, closed or still open)."""

CASE_STEPS_AFTER_REPORT: tuple[str, ...] = (
    "registered", "dispatched", "handled", "verified", "closed", "rejected",
)  # fmt: skip
"""The lifecycle steps a file of past cases may give times and actors for (立案 → 结案, 作废)."""

HISTORY_FIELDS: tuple[str, ...] = tuple(
    f"{step}_{part}" for step in CASE_STEPS_AFTER_REPORT for part in ("at", "by")
)
"""The optional history fields of a case: ``registered_at``, ``registered_by`` … ``rejected_by``."""

INSPECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("external_id", "id", "inspection_id", "编号", "巡查编号"),
    "worker": ("worker", "worker_id", "网格员", "巡查人"),
    "time": ("started_at", "time", "开始时间", "时间"),
    "end_time": ("ended_at", "end_time", "结束时间"),
    "x": ("x", "lon", "lng", "longitude", "经度"),
    "y": ("y", "lat", "latitude", "纬度"),
}
"""Field names looked for when an inspection field is not named (tracks are never guessed)."""


def _resolve(
    table: SourceTable,
    key: str,
    given: str | None,
    candidates: Sequence[str] = (),
    *,
    role: str | None = None,
) -> str | None:
    """The field of ``table`` for ``key``: the one given, else the first candidate found.

    The option naming it is ``<key>_field``; with a ``role`` the field is needed.
    """
    option = f"{key}_field"
    names = table.field_names
    lower = {name.lower(): name for name in names}
    if given is not None:
        if given in names:
            return given
        if given.lower() in lower:
            return lower[given.lower()]
        raise InputError(
            f"`{option}` (--{option.replace('_', '-')}) was {given!r} but {table.path.name} "
            "has no such field; "
            f"its fields are: {', '.join(names) or '(none)'}",
            zh=f"`{option}`（--{option.replace('_', '-')}）为 {given!r}，但 {table.path.name} "
            f"没有这个字段；它的字段有：{'、'.join(names) or '（无）'}",
        )
    for candidate in candidates:
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    if role is not None:
        raise InputError(
            f"{table.path.name} has no field for the {role} (looked for {', '.join(candidates)}): "
            f"name it with `{option}` (--{option.replace('_', '-')}); "
            f"its fields are: {', '.join(names) or '(none)'}",
            zh=f"{table.path.name} 中没有 {role} 字段（查找过 {', '.join(candidates)}）："
            f"请用 `{option}`（--{option.replace('_', '-')}）指定；"
            f"它的字段有：{'、'.join(names) or '（无）'}",
        )
    return None


def _column(table: SourceTable, name: str | None) -> pd.Series:
    if name is None:
        return pd.Series([None] * len(table.fields), dtype=object)
    return table.fields[name].astype(object).reset_index(drop=True)


def as_text(value: object) -> str | None:
    """A field value as text: ``None`` when blank; 12.0 -> '12' (Excel stores ids as numbers)."""
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return str(value)
    return str(value).strip()


def _texts(values: pd.Series) -> pd.Series:
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Text already (CSV): strip it without a Python call per value.
        stripped = values.astype(object).str.strip()
        return stripped.where(stripped.notna() & (stripped != ""), None).astype(object)
    return pd.Series([as_text(v) for v in values], dtype=object)


def _point_xy(
    geometry: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str | None]]:
    """x, y of point geometries; NaN and a note for anything else."""
    n = len(geometry)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    notes: list[str | None] = [None] * n
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    type_ids = np.where(missing, -1, shapely.get_type_id(geometry))
    single = type_ids == 0
    if single.any():
        x[single] = shapely.get_x(geometry[single])
        y[single] = shapely.get_y(geometry[single])
    multi = np.flatnonzero(type_ids == 4)
    if multi.size:
        counts = shapely.get_num_geometries(geometry[multi])
        one = multi[counts == 1]
        firsts = shapely.get_geometry(geometry[one], 0)
        x[one] = shapely.get_x(firsts)
        y[one] = shapely.get_y(firsts)
    # Notes are built per bad feature only, which are few: a loop is clearer than masks here.
    for i in np.flatnonzero(~single):
        if type_ids[i] == -1:
            notes[i] = "the feature has no geometry"
        elif type_ids[i] == 4 and math.isfinite(x[i]):
            continue
        else:
            notes[i] = f"the geometry is a {geometry[i].geom_type}, not a point"
    return x, y, notes


def _coordinate_columns(
    table: SourceTable,
    x_field: str | None,
    y_field: str | None,
    candidates: dict[str, tuple[str, ...]],
) -> tuple[pd.Series, pd.Series, pd.Series, bool]:
    """Raw x, y values and notes: from named/guessed fields, else a vector file's points."""
    if (x_field is None) != (y_field is None):
        raise InputError(
            f"give both `x_field` and `y_field` or neither, not only "
            f"{'x_field' if x_field else 'y_field'}={x_field or y_field!r}",
            zh="`x_field` 和 `y_field` 要么都给，要么都不给，不能只给 "
            f"{'x_field' if x_field else 'y_field'}={x_field or y_field!r}",
        )
    n = len(table.fields)
    if table.kind == "vector" and x_field is None:
        assert table.geometry is not None
        x, y, notes = _point_xy(table.geometry)
        for i, problem in table.invalid_geometry.items():
            notes[i] = problem
        return (
            pd.Series(x, dtype=object),
            pd.Series(y, dtype=object),
            pd.Series(notes, dtype=object),
            True,
        )
    xf = _resolve(table, "x", x_field, candidates["x"])
    yf = _resolve(table, "y", y_field, candidates["y"])
    if xf is None or yf is None:
        empty = pd.Series([None] * n, dtype=object)
        return empty, empty.copy(), empty.copy(), False
    return _column(table, xf), _column(table, yf), pd.Series([None] * n, dtype=object), True


def _frame_attrs(table: SourceTable) -> dict[str, Any]:
    return {
        "path": str(table.path),
        "kind": table.kind,
        "numbering": table.numbering,
        "encoding": table.encoding,
        "crs": table.crs.to_string() if table.crs is not None else None,
    }


def read_case_rows(
    path: str | Path,
    *,
    id_field: str | None = None,
    category_field: str | None = None,
    time_field: str | None = None,
    description_field: str | None = None,
    address_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    source_field: str | None = None,
    reported_by_field: str | None = None,
    history_fields: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame:
    """Read the cases of a file into one frame with fixed column names.

    A field that is not named is looked for under the names in
    :data:`CASE_FIELDS` (``external_id``, ``编号``, ``category``, ``类别``,
    ``reported_at``, ``上报时间``, ``address``, ``地址``, ``x``/``lon``/``经度``...).
    Vector files give their points as x/y (in the file's CRS) unless x/y
    fields are named.

    Parameters
    ----------
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage (see :func:`read_table`).
    id_field, category_field, time_field:
        The external id, the category (code or Chinese name) and the time
        reported; needed.
    description_field, address_field, source_field, reported_by_field:
        Optional fields.
    x_field, y_field:
        Coordinates (both or neither).
    history_fields:
        The fields of the later lifecycle steps, by :data:`HISTORY_FIELDS` key
        (``{"closed_at": "办结时间"}``); those not named are looked for under the
        names of :data:`CASE_FIELDS` (``立案时间``, ``结案人``...), and may be absent.
    encoding, sheet, layer:
        See :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        One line per row of the file (RangeIndex), columns ``row``,
        ``external_id``, ``category``, ``time``, ``description``,
        ``address``, ``source``, ``reported_by`` (text or ``None``), ``x``,
        ``y`` (values as read), ``location_note`` (why a vector feature gives
        no point), and the :data:`HISTORY_FIELDS` (times as read, actors as text;
        all ``None`` when the file has no such field). ``.attrs`` holds ``path``,
        ``kind``, ``numbering`` (``row``/``feature``), ``encoding`` and the file's ``crs``.

    Raises
    ------
    InputError
        When a named field is not in the file (the message lists the
        file's fields), a needed one cannot be found, or the file has
        neither coordinates nor an address field.

    Examples
    --------
    >>> rows = read_case_rows("cases.csv", category_field="事件类型")  # doctest: +SKIP
    >>> rows.loc[0, ["row", "external_id", "category"]].tolist()  # doctest: +SKIP
    [2, 'A-0001', '消防安全']
    """
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    fields = CASE_FIELDS
    id_name = _resolve(table, "id", id_field, fields["id"], role="external id")
    category_name = _resolve(table, "category", category_field, fields["category"], role="category")
    time_name = _resolve(table, "time", time_field, fields["time"], role="time reported")
    description_name = _resolve(table, "description", description_field, fields["description"])
    address_name = _resolve(table, "address", address_field, fields["address"])
    source_name = _resolve(table, "source", source_field, fields["source"])
    reporter_name = _resolve(table, "reported_by", reported_by_field, fields["reported_by"])
    named = dict(history_fields or {})
    unknown = sorted(set(named) - set(HISTORY_FIELDS))
    if unknown:
        raise InputError(
            f"`history_fields` named {', '.join(unknown)} but is expected to name only "
            f"{', '.join(HISTORY_FIELDS)}",
            zh=f"`history_fields` 中有 {', '.join(unknown)}，但只能是 {', '.join(HISTORY_FIELDS)}",
        )
    history = {key: _resolve(table, key, named.get(key), fields[key]) for key in HISTORY_FIELDS}
    x, y, notes, has_xy = _coordinate_columns(table, x_field, y_field, fields)
    if not has_xy and address_name is None:
        raise InputError(
            f"{table.path.name} has neither coordinates nor an address: name them with "
            "`x_field`/`y_field` or `address_field`; "
            f"its fields are: {', '.join(table.field_names)}",
            zh=f"{table.path.name} 中既没有坐标也没有地址：请用 `x_field`/`y_field` 或 "
            f"`address_field` 指定；它的字段有：{'、'.join(table.field_names)}",
        )
    rows = pd.DataFrame(
        {
            "row": table.row,
            "external_id": _texts(_column(table, id_name)),
            "category": _texts(_column(table, category_name)),
            "time": _column(table, time_name),
            "description": _texts(_column(table, description_name)),
            "address": _texts(_column(table, address_name)),
            "source": _texts(_column(table, source_name)),
            "reported_by": _texts(_column(table, reporter_name)),
            "x": x,
            "y": y,
            "location_note": notes,
        }
    )
    for key, name in history.items():
        column = _column(table, name)
        rows[key] = column if key.endswith("_at") else _texts(column)
    rows.attrs.update(_frame_attrs(table))
    return rows


def read_inspection_rows(
    path: str | Path,
    *,
    id_field: str | None = None,
    worker_field: str | None = None,
    time_field: str | None = None,
    end_time_field: str | None = None,
    track_field: str | None = None,
    order_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame:
    """Read the inspections (or GPS fixes) of a file into one frame with fixed column names.

    Parameters
    ----------
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage.
    id_field:
        The inspection's external id (not with ``track_field``: then the
        track id is the external id).
    worker_field:
        The grid worker: ``grid_worker.external_id`` or name (optional).
    time_field, end_time_field:
        Start time (needed) and end time (optional).
    track_field, order_field:
        Rows are GPS fixes of tracks: ``track_field`` names the track,
        ``order_field`` orders the fixes (default: by time).
    x_field, y_field:
        Coordinates; vector files use their geometry when these are not given.
    encoding, sheet, layer:
        See :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``row``, ``external_id``, ``worker``, ``track`` (text or
        ``None``), ``time``, ``end_time``, ``order``, ``x``, ``y`` (as read),
        ``geometry`` (vector files: the feature's geometry in the file's CRS),
        ``location_note``; ``.attrs`` as for :func:`read_case_rows`.

    Raises
    ------
    InputError
        When a named field is not in the file, or a needed one cannot be found.

    Examples
    --------
    >>> rows = read_inspection_rows("gps.csv", track_field="track")  # doctest: +SKIP
    """
    if track_field is not None and id_field is not None:
        raise InputError(
            f"`id_field` ({id_field!r}) and `track_field` ({track_field!r}) were both given: "
            "with tracks the track id is the inspection's external id",
            zh=f"同时给了 `id_field`（{id_field!r}）和 `track_field`（{track_field!r}）："
            "有轨迹时，轨迹编号就是巡查记录的外部编号",
        )
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    fields = INSPECTION_FIELDS
    # Tracks are never guessed: without `track_field` (or `order_field`) there is none.
    track_name = _resolve(table, "track", track_field)
    order_name = _resolve(table, "order", order_field)
    if order_name is not None and track_name is None:
        raise InputError(
            f"`order_field` ({order_field!r}) needs `track_field` too",
            zh=f"`order_field`（{order_field!r}）还需要 `track_field`",
        )
    id_name = (
        _resolve(table, "id", id_field, fields["id"], role="external id")
        if track_name is None
        else None
    )
    worker_name = _resolve(table, "worker", worker_field, fields["worker"])
    time_name = _resolve(table, "time", time_field, fields["time"], role="start time")
    end_name = _resolve(table, "end_time", end_time_field, fields["end_time"])
    if table.kind != "vector" or x_field is not None:
        x, y, notes, has_xy = _coordinate_columns(table, x_field, y_field, fields)
        if not has_xy:
            raise InputError(
                f"{table.path.name} has no coordinates: name them with `x_field` and `y_field`; "
                f"its fields are: {', '.join(table.field_names)}",
                zh=f"{table.path.name} 中没有坐标：请用 `x_field` 和 `y_field` 指定；"
                f"它的字段有：{'、'.join(table.field_names)}",
            )
        geometry = pd.Series([None] * len(table.fields), dtype=object)
    else:
        assert table.geometry is not None
        n = len(table.fields)
        x = pd.Series([None] * n, dtype=object)
        y = x.copy()
        notes = x.copy()
        for i, problem in table.invalid_geometry.items():
            notes.iat[i] = problem
        geometry = pd.Series(list(table.geometry), dtype=object)
    rows = pd.DataFrame(
        {
            "row": table.row,
            "external_id": _texts(_column(table, id_name if track_name is None else track_name)),
            "worker": _texts(_column(table, worker_name)),
            "track": _texts(_column(table, track_name)),
            "time": _column(table, time_name),
            "end_time": _column(table, end_name),
            "order": _column(table, order_name),
            "x": x,
            "y": y,
            "geometry": geometry,
            "location_note": notes,
        }
    )
    rows.attrs.update(_frame_attrs(table))
    rows.attrs["tracks"] = track_name is not None
    rows.attrs["geometry"] = table.kind == "vector" and x_field is None
    return rows
