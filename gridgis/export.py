"""Exports for analysts: cells, cases, inspections and per-area statistics as files.

One function, :func:`export`, reads what to export from the database
(filtered by district, street office or community and by period), converts the
coordinates, and writes one of five formats. The CLI (``gridgis export``)
and the web app's downloads call it; it knows nothing of either.

What is exported (``what``)
---------------------------
``cells``
    The active grid cells (polygons): ``code``, ``name``, ``community_code``,
    ``community``, ``street_code``, ``street``, ``district_code``,
    ``valid_from``, ``households``, ``residents``, ``buildings``, ``workers``,
    ``has_worker``, ``branches``, ``has_branch``. The period does not filter cells.
``cases``
    Cases (points) filed in the district, street or community and reported in the
    period: ids, category code and Chinese name, the Chinese description,
    source, address, the cell, community and street filed in, the current
    step (code and Chinese name), ``overdue`` at the time of export, the
    deadline and the time of every step. A case without a point has an
    empty geometry.
``inspections``
    Inspection patrols (巡查) started in the period that visited a cell of
    the district, street or community: ``id``, ``external_id``, ``worker_id``,
    ``worker``, ``started_at``, ``ended_at``, ``located_by``, ``cells``
    (cells visited). Points and tracks are separate layers
    (``inspection_points``, ``inspection_tracks``) wherever a format needs
    one geometry type per layer.
``stats``
    :func:`gridgis.analysis.stats.area_statistics` at ``level`` (cell,
    community or street) for the period, with the area polygons.

Formats (``fmt``)
-----------------
``shp``
    A **zip** holding, per layer, ``.shp``, ``.shx``, ``.dbf``, ``.prj`` and
    ``.cpg`` (the text encoding: ``UTF-8`` or ``GBK``), plus ``fields.csv``
    (layer, short name, full name, type, description; UTF-8 with BOM) and
    ``README.txt``. DBF field names hold at most 10 characters: they are
    shortened by :func:`short_field_names`. DBF has dates but no times, so
    each time (e.g. ``reported_at``) becomes two fields: the date in China
    Standard Time as a DBF date field (type D) under the column's own name,
    and ``<name>_time``, the time of day ``HH:MM:SS`` (China Standard Time)
    as text. A DBF text field holds at most 254 bytes: longer text is cut at
    a character boundary (counted in :attr:`ExportResult.truncated`).
``gpkg``
    A GeoPackage, one layer per geometry type, times as DateTime fields
    (UTC, as the GeoPackage standard stores them), text in UTF-8.
``geojson``
    One FeatureCollection (points and tracks may mix), times as ISO 8601
    with their offset (+08:00), text in UTF-8.
``csv``
    UTF-8 with a byte order mark (Excel opens it right) or GBK; points as
    ``lon``, ``lat`` columns, other geometries as ``wkt``; times as
    ``YYYY-MM-DD HH:MM:SS`` in China Standard Time.
``xlsx``
    The same columns as the CSV in one sheet, times as Excel date-times
    (China Standard Time).

CSV and xlsx cells are made by :mod:`gridgis.sheets`: text that starts like a
formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets a leading ``'`` in CSV and is
a text cell (``quotePrefix``) in xlsx; xlsx escapes what XML cannot hold as
``_xHHHH_`` and cuts text to 32,767 characters (counted in ``truncated``).

Coordinate systems (``crs``)
----------------------------
``wgs84`` (the stored coordinates), ``cgcs2000`` (EPSG:4490; the same
numbers, labelled CGCS2000), ``gcj02`` and ``bd09`` (converted by
:func:`gridgis.crs.transform_geometry`), or ``EPSG:nnnn`` (through PROJ).

GCJ-02 and BD-09 have no official definition that GDAL or PROJ know (they are
WGS84 longitude/latitude with a secret non-linear offset), so no ``.prj``
can describe them. A GCJ-02 or BD-09 file is labelled as WGS 84 (EPSG:4326:
a ``.prj`` ``GEOGCS["GCS_WGS_1984", ...]``, the GeoPackage's SRS 4326, the
GeoJSON's CRS84) because that is what the numbers are, degrees on the WGS84
ellipsoid; software then draws them where AMap (GCJ-02) or Baidu (BD-09)
tiles, themselves drawn that way, show them, and 100–700 m away from true
WGS84 data. The zip's ``README.txt`` and :attr:`ExportResult.crs` say which
system the coordinates are really in.

Examples
--------
>>> import tempfile
>>> from gridgis.db.engine import get_engine
>>> with tempfile.TemporaryDirectory() as folder:
...     result = export(get_engine(), "cases", "shp", Path(folder) / "cases.zip",
...                     street="350304001", encoding="gbk")
>>> result.rows, result.files[:3]
(987, ['cases.shp', 'cases.shx', 'cases.dbf'])
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.raw import write as write_raw
from sqlalchemy import Connection, Engine, text

from gridgis.analysis.figures import area_figures
from gridgis.analysis.stats import area_geometries, area_prefix, area_statistics
from gridgis.cases import OVERDUE_SQL, period_conditions
from gridgis.crs import CRSSpec, parse_crs, transform_geometry
from gridgis.db.models import CASE_STEP_NAMES_ZH
from gridgis.db.queries import connection
from gridgis.errors import FileEncodingError, InputError
from gridgis.sheets import safe_csv_value, write_xlsx
from gridgis.times import CHINA_TZ, aware, display_series

__all__ = [
    "ENCODINGS",
    "EXPORT_KINDS",
    "FIELD_ABBREVIATIONS",
    "FORMATS",
    "ExportResult",
    "FieldName",
    "export",
    "short_field_names",
]

EXPORT_KINDS: tuple[str, ...] = ("cells", "cases", "inspections", "stats")
"""What :func:`export` can export."""

FORMATS: dict[str, str] = {
    "shp": "application/zip",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
"""The formats and their media types."""

ENCODINGS: tuple[str, ...] = ("utf-8", "gbk")
"""Text encodings of shapefiles and CSV files (the other formats are always UTF-8)."""

_SUFFIXES = {"shp": ".zip", "gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "xlsx": ".xlsx"}

DBF_NAME_LENGTH = 10
"""The most characters of a DBF field name."""

_DBF_TEXT_BYTES = 254
"""The most bytes of a DBF text field."""

FIELD_ABBREVIATIONS: dict[str, str] = {
    "1000": "1k",
    "at": "",
    "branch": "br",
    "branches": "br",
    "buildings": "bldg",
    "cases": "n",
    "category": "cat",
    "cityscape": "city",
    "closed": "clsd",
    "commerce": "com",
    "community": "comm",
    "days": "d",
    "description": "desc",
    "dispatched": "disp",
    "dispute": "dspt",
    "district": "dist",
    "drug": "drg",
    "environment": "env",
    "external": "ext",
    "facility": "fac",
    "handled": "hand",
    "households": "hh",
    "inspected": "insp",
    "inspection": "insp",
    "inspections": "insp",
    "management": "mgt",
    "opinion": "op",
    "overdue": "ovd",
    "per": "p",
    "property": "prop",
    "public": "pub",
    "registered": "reg",
    "rejected": "rej",
    "reported": "rep",
    "residents": "res",
    "safety": "safe",
    "security": "sec",
    "significant": "sig",
    "since": "snc",
    "street": "st",
    "time": "t",
    "verified": "ver",
    "without": "no",
    "worker": "wkr",
    "workers": "wkrs",
}
"""Words replaced in field names longer than 10 characters (see :func:`short_field_names`)."""

_DESCRIPTIONS: dict[str, str] = {
    "id": "编号 / id",
    "external_id": "外部编号 / external id",
    "code": "编码 / code",
    "name": "名称 / name",
    "community_code": "社区编码 / community code",
    "community": "社区 / community",
    "street_code": "街道编码 / street office code",
    "street": "街道 / street office",
    "district_code": "区县编码 / district code",
    "cell_code": "网格编码 / cell code",
    "valid_from": "生效时间 / valid from",
    "households": "户数 / households",
    "residents": "人口 / residents",
    "buildings": "楼栋数 / buildings",
    "cells": "网格数 / cells",
    "workers": "网格员数 / grid workers",
    "has_worker": "有网格员 / every cell has a grid worker",
    "branches": "党支部数 / party branches",
    "has_branch": "有党支部 / every cell has a party branch",
    "cells_without_worker": "无网格员的网格数 / cells without a grid worker",
    "cells_without_branch": "无党支部的网格数 / cells without a party branch",
    "category": "类别编码 / category code",
    "category_name": "类别 / category",
    "description": "描述 / description",
    "source": "来源 / source",
    "address": "地址 / address",
    "step": "环节编码 / current step",
    "step_name": "环节 / current step (Chinese)",
    "overdue": "超期 / overdue at export time",
    "deadline": "期限 / deadline",
    "located_by": "定位方式 / located by",
    "cases": "案件数 / cases",
    "rate_per_1000": "每千户案件数 / cases per 1,000 households",
    "open_cases": "未结案件 / open cases",
    "overdue_cases": "超期未结 / open cases past deadline",
    "closed_cases": "已结案件 / closed cases",
    "closed_on_time": "按期结案 / closed on time",
    "on_time_rate": "按期结案率 / share closed on time",
    "inspections": "巡查次数 / inspections in the period",
    "last_inspected_at": "最近巡查 / last inspection",
    "days_since_inspection": "距最近巡查天数 / days since the last inspection",
    "gi_z": "Gi* z 值 / Getis-Ord Gi* z-score",
    "gi_q": "校正 p 值 / FDR-adjusted p-value",
    "hotspot": "热点类别 / hotspot class",
    "significant": "显著 / significant at 5 % FDR",
    "worker_id": "网格员编号 / grid worker id",
    "worker": "网格员 / grid worker",
    "started_at": "开始时间 / started",
    "ended_at": "结束时间 / ended",
    "lon": "经度 / longitude",
    "lat": "纬度 / latitude",
    "wkt": "几何 (WKT) / geometry as WKT",
}
_STEP_LABELS = CASE_STEP_NAMES_ZH


@dataclass(frozen=True)
class FieldName:
    """One exported field: its name in the file, the column it holds, what it means.

    For formats other than ``shp`` ``short`` equals ``full``.
    """

    layer: str
    short: str
    full: str
    type: str
    description: str


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote.

    Attributes
    ----------
    what, format:
        The arguments.
    rows:
        Features (rows) written, all layers together.
    layers:
        Rows per layer (shapefile or GeoPackage layer; one entry for the
        single-table formats), in the order written.
    files:
        The files written: the members of the zip for ``shp``, else the one
        output file's name.
    fields:
        Every field of every layer, with its short name (shapefile) and description.
    crs:
        The coordinate system of the coordinates (``wgs84``, ``gcj02``,
        ``EPSG:4547`` ...), and ``declared_crs`` what the file says (see the
        module notes for GCJ-02 and BD-09).
    encoding:
        The text encoding of a shapefile or CSV file; ``utf-8`` otherwise.
    truncated:
        Text values cut to fit a DBF field (254 bytes) or an Excel cell (32,767 characters).
    media_type, filename:
        For a download: the media type, and a file name such as ``cases.zip``.
    """

    what: str
    format: str
    rows: int
    layers: dict[str, int]
    files: list[str]
    fields: list[FieldName]
    crs: str
    declared_crs: str
    encoding: str
    truncated: int
    media_type: str
    filename: str

    def field_map(self, layer: str | None = None) -> dict[str, str]:
        """Full column name → name in the file (of ``layer``, default the first)."""
        chosen = layer if layer is not None else next(iter(self.layers))
        return {f.full: f.short for f in self.fields if f.layer == chosen}


@dataclass
class _Layer:
    """One table to write: attribute columns and WGS84 geometries of one kind."""

    name: str
    frame: pd.DataFrame
    geoms: np.ndarray
    geometry_type: str
    descriptions: dict[str, str] = field(default_factory=dict)


# --- checking the arguments ---------------------------------------------------------------------


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise InputError(f"`{name}` was {value!r} but is expected to be one of {list(allowed)}")


def _moment(value: object, name: str) -> dt.datetime | None:
    """A period bound: a datetime, or a date meaning its midnight in China Standard Time."""
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)
    return aware(value, field=name)


# --- field names --------------------------------------------------------------------------------


def _fit(words: list[str], limit: int) -> str:
    """Join ``words`` with ``_`` within ``limit`` characters, cutting the longest word first."""
    words = [w for w in words if w]
    for shortest in (3, 2):
        while len("_".join(words)) > limit and max(len(w) for w in words) > shortest:
            longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
            words[longest] = words[longest][:-1]
    joined = "_".join(words)
    if len(joined) > limit:
        joined = "".join(words)
    return joined[:limit]


def short_field_names(names: Sequence[str], *, limit: int = DBF_NAME_LENGTH) -> dict[str, str]:
    """Field names of at most ``limit`` characters (DBF: 10), stable and unique.

    The rule, applied to the names in order:

    1. A name of at most ``limit`` characters is kept as it is.
    2. Otherwise each word (split at ``_``) found in
       :data:`FIELD_ABBREVIATIONS` is replaced by its abbreviation
       (``households`` → ``hh``, ``reported`` → ``rep``).
       Words that abbreviate to nothing (``at``) are left out.
    3. While the name is too long, the longest word (the first of equal
       ones) loses its last letter, down to 3 letters a word, then down to
       2; then the underscores are dropped; then the name is cut at ``limit``.
    4. A name already given (compared without case: DBF names ignore it)
       gets ``_2``, ``_3``, ... in place of its last characters.

    The result depends only on the names and their order: the same columns
    always get the same short names.

    Examples
    --------
    >>> short_field_names(["code", "households", "cells_without_worker", "reported_at_time"])
    {'code': 'code', 'households': 'households', 'cells_without_worker': 'cel_no_wkr', \
'reported_at_time': 'rep_t'}
    >>> short_field_names(["cases_public_opinion", "cases_public_security"])
    {'cases_public_opinion': 'n_pub_op', 'cases_public_security': 'n_pub_sec'}
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if len(name) <= limit:
            short = name
        else:
            words = [FIELD_ABBREVIATIONS.get(w, w) for w in name.split("_")]
            short = _fit(words, limit)
        candidate, k = short, 1
        while candidate.lower() in taken:
            k += 1
            suffix = f"_{k}"
            candidate = short[: limit - len(suffix)] + suffix
        taken.add(candidate.lower())
        out[name] = candidate
    return out


# --- reading ------------------------------------------------------------------------------------


def _rows_and_shapes(
    conn: Connection, sql: str, params: dict[str, Any]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of ``sql`` as an object frame, and the shapes of its last column (WKB)."""
    result = conn.execute(text(sql), params)
    columns = list(result.keys())
    rows = result.all()
    frame = pd.DataFrame([tuple(r[:-1]) for r in rows], columns=columns[:-1], dtype=object)
    wkb = np.array([r[-1] for r in rows], dtype=object)
    return frame, np.asarray(shapely.from_wkb(wkb), dtype=object)


def _times(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _read_cells(conn: Connection, within: str | None) -> list[_Layer]:
    areas = area_geometries(conn, "cell", within=within)
    figures = area_figures(conn, "cell", within=within, detail=True).set_index("code")
    figures = figures.reindex(areas["code"])
    frame = pd.DataFrame(areas.drop(columns="geometry"))
    for column in ("households", "residents", "buildings", "workers"):
        frame[column] = figures[column].to_numpy()
    frame["has_worker"] = frame["workers"] > 0
    frame["branches"] = figures["branches"].to_numpy()
    frame["has_branch"] = frame["branches"] > 0
    _times(frame, ["valid_from"])
    geoms = np.asarray(areas.geometry.array, dtype=object)
    return [_Layer("cells", frame.reset_index(drop=True), geoms, "MultiPolygon")]


_STEP_TIMES = tuple(f"{step}_at" for step in _STEP_LABELS)


def _read_cases(conn: Connection, where: list[str], params: dict[str, Any]) -> list[_Layer]:
    sql = f"""
        SELECT c.id, c.external_id, c.category_code AS category, k.name_zh AS category_name,
               c.description, c.source, c.address, g.code AS cell_code, c.community_code,
               c.street_code, c.step, {OVERDUE_SQL} AS overdue, c.deadline,
               {", ".join(f"c.{column}" for column in _STEP_TIMES)}, c.located_by,
               ST_AsBinary(c.geom) AS wkb
        FROM case_record c JOIN case_category k ON k.code = c.category_code
        LEFT JOIN grid_cell g ON g.id = c.cell_id
        WHERE {" AND ".join(where) or "true"}
        ORDER BY c.id
    """
    frame, geoms = _rows_and_shapes(conn, sql, params)
    frame["id"] = frame["id"].astype("int64")
    frame["overdue"] = frame["overdue"].astype(bool)
    frame.insert(
        list(frame.columns).index("step") + 1,
        "step_name",
        frame["step"].map(CASE_STEP_NAMES_ZH),
    )
    _times(frame, ["deadline", *_STEP_TIMES])
    return [_Layer("cases", frame, geoms, "Point")]


def _read_inspections(conn: Connection, where: list[str], params: dict[str, Any]) -> list[_Layer]:
    sql = f"""
        SELECT i.id, i.external_id, i.worker_id, w.name AS worker, i.started_at, i.ended_at,
               i.located_by,
               (SELECT count(*) FROM inspection_cell x WHERE x.inspection_id = i.id) AS cells,
               ST_AsBinary(i.geom) AS wkb
        FROM inspection i LEFT JOIN grid_worker w ON w.id = i.worker_id
        WHERE {" AND ".join(where) or "true"}
        ORDER BY i.id
    """
    frame, geoms = _rows_and_shapes(conn, sql, params)
    frame["id"] = frame["id"].astype("int64")
    frame["worker_id"] = frame["worker_id"].astype("Int64")
    frame["cells"] = frame["cells"].astype("int64")
    _times(frame, ["started_at", "ended_at"])
    kinds = shapely.get_type_id(geoms)
    points = kinds == shapely.GeometryType.POINT
    tracks = ~points
    # A track layer holds one type: LineStrings become one-part MultiLineStrings.
    lines = np.asarray(
        [g if isinstance(g, shapely.MultiLineString) else shapely.MultiLineString([g])
         for g in geoms[tracks]],
        dtype=object,
    )  # fmt: skip
    return [
        _Layer("inspection_points", frame[points].reset_index(drop=True), geoms[points], "Point"),
        _Layer("inspection_tracks", frame[tracks].reset_index(drop=True), lines, "MultiLineString"),
    ]


def _read_stats(conn: Connection, level: str, **options: Any) -> list[_Layer]:
    stats = area_statistics(conn, level, **options)
    frame = pd.DataFrame(stats.drop(columns="geometry")).reset_index(drop=True)
    geoms = np.asarray(stats.geometry.array, dtype=object)
    descriptions: dict[str, str] = {}
    names = {
        row.code: row.name_zh
        for row in conn.execute(text("SELECT code, name_zh FROM case_category"))
    }
    for column in frame.columns:
        if column.startswith("cases_"):
            code = column.removeprefix("cases_")
            descriptions[column] = f"{names.get(code, code)}案件数 / cases of category {code}"
    return [_Layer(f"stats_{level}", frame, geoms, "MultiPolygon", descriptions)]


def _read(
    conn: Connection,
    what: str,
    *,
    district: str | None,
    street: str | None,
    community: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    level: str,
    now: dt.datetime,
) -> list[_Layer]:
    within = area_prefix(conn, street, community, district=district)
    if what == "cells":
        return _read_cells(conn, within)
    if what == "stats":
        return _read_stats(
            conn,
            level,
            district=district,
            street=street,
            community=community,
            since=since,
            until=until,
            now=now,
        )
    params: dict[str, Any] = {"now": now}
    time = "c.reported_at" if what == "cases" else "i.started_at"
    where = period_conditions(time, since, until, params)
    if what == "cases":
        if within is not None:
            # A case carries the codes of its community and street: the finest the
            # prefix names decides, by equality (their indexes serve) when the prefix
            # is a whole code of that column, by prefix for a district's streets.
            column = "c.community_code" if len(within) == 12 else "c.street_code"
            if len(within) in (9, 12):
                where.append(f"{column} = :area")
                params["area"] = within
            else:
                where.append(f"{column} LIKE :prefix")
                params["prefix"] = within + "%"
        return _read_cases(conn, where, params)
    if within is not None:
        where.append(
            "EXISTS (SELECT 1 FROM inspection_cell x JOIN grid_cell g ON g.id = x.cell_id "
            "WHERE x.inspection_id = i.id AND g.code LIKE :prefix)"
        )
        params["prefix"] = within + "%"
    return _read_inspections(conn, where, params)


# --- converting ---------------------------------------------------------------------------------


def _target(crs: object) -> tuple[CRSSpec, str, Any]:
    """The parsed system, its name for messages, and the CRS a file declares."""
    spec = parse_crs(crs)  # type: ignore[arg-type]
    if spec.is_obfuscated or spec.crs is None:
        return spec, spec.name, "EPSG:4326"
    if (
        spec.crs.is_geocentric
        or spec.crs.is_vertical
        or not (spec.crs.is_geographic or spec.crs.is_projected)
    ):
        raise InputError(
            f"`crs` was {spec.name!r} ({spec.crs.name}) but an export needs a geographic or "
            "projected 2D system (e.g. wgs84, cgcs2000, gcj02, bd09 or EPSG:4547)"
        )
    return spec, spec.name, spec.crs


def _project(layers: list[_Layer], spec: CRSSpec) -> None:
    if spec.name == "wgs84":
        return
    for layer in layers:
        if len(layer.geoms):
            layer.geoms = np.asarray(
                transform_geometry(layer.geoms, from_crs="wgs84", to_crs=spec), dtype=object
            )


def _kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int"
    if pd.api.types.is_float_dtype(series.dtype):
        return "float"
    return "text"


def _description(layer: _Layer, column: str) -> str:
    """Chinese / English meaning of a column, for ``fields.csv`` and :class:`FieldName`."""
    if column in layer.descriptions:
        return layer.descriptions[column]
    if column in _DESCRIPTIONS:
        return _DESCRIPTIONS[column]
    if column.endswith("_time"):
        return f"{_description(layer, column.removesuffix('_time'))} (时刻 HH:MM:SS, 北京时间)"
    step = column.removesuffix("_at")
    if column.endswith("_at") and step in _STEP_LABELS:
        return f"{_STEP_LABELS[step]}时间 / {step} at"
    return column


def _row_label(layer: _Layer, position: int) -> str:
    for key in ("id", "code"):
        if key in layer.frame.columns:
            return f"row {position + 1} ({key} {layer.frame[key].iloc[position]})"
    return f"row {position + 1}"


def _check_text(layers: list[_Layer], encoding: str) -> None:
    """Raise naming every value (up to 10) that ``encoding`` cannot encode."""
    if encoding == "utf-8":
        return
    problems: list[str] = []
    for layer in layers:
        for column in layer.frame.columns:
            if _kind(layer.frame[column]) != "text":
                continue
            for position, value in enumerate(layer.frame[column].tolist()):
                if not isinstance(value, str):
                    continue
                try:
                    value.encode(encoding)
                except UnicodeEncodeError as exc:
                    bad = value[exc.start]
                    problems.append(
                        f"{layer.name} {_row_label(layer, position)}, field {column!r}: "
                        f"{bad!r} (U+{ord(bad):04X}) in {value!r}"
                    )
                    if len(problems) >= 10:
                        break
    if problems:
        raise FileEncodingError(
            f"`encoding` was {encoding!r} but {encoding.upper()} cannot encode "
            + "; ".join(problems[:10])
            + ". Export with encoding 'utf-8' instead."
        )


def _local(series: pd.Series) -> pd.Series:
    """Aware times as naive China Standard Time (+08:00, whatever the year)."""
    return display_series(series).dt.tz_localize(None)


# --- writing ------------------------------------------------------------------------------------


def _cut(value: str, encoding: str, limit: int) -> tuple[str, bool]:
    data = value.encode(encoding)
    if len(data) <= limit:
        return value, False
    return data[:limit].decode(encoding, errors="ignore"), True


def _dbf_columns(layer: _Layer, encoding: str) -> tuple[list[str], list[np.ndarray], int]:
    """Full names and arrays of a layer's DBF fields (times split in date and time)."""
    names: list[str] = []
    arrays: list[np.ndarray] = []
    truncated = 0
    for column in layer.frame.columns:
        series = layer.frame[column]
        kind = _kind(series)
        if kind == "datetime":
            local = _local(series)
            names.append(column)
            arrays.append(local.dt.normalize().to_numpy().astype("datetime64[D]"))
            names.append(f"{column}_time")
            arrays.append(
                np.array(
                    [None if pd.isna(v) else v.strftime("%H:%M:%S") for v in local], dtype=object
                )
            )
        elif kind == "text":
            values: list[str | None] = []
            for value in series.tolist():
                if isinstance(value, str):
                    value, cut = _cut(value, encoding, _DBF_TEXT_BYTES)
                    truncated += cut
                    values.append(value)
                else:
                    values.append(None)
            names.append(column)
            arrays.append(np.array(values, dtype=object))
        elif kind == "int" and series.hasnans:
            names.append(column)
            arrays.append(series.astype("float64").to_numpy())
        else:
            names.append(column)
            arrays.append(series.to_numpy())
    return names, arrays, truncated


def _shp_type(array: np.ndarray) -> str:
    if array.dtype.kind == "M":
        return "date"
    if array.dtype.kind == "b":
        return "bool"
    if array.dtype.kind in "iu":
        return "int"
    if array.dtype.kind == "f":
        return "float"
    return "text"


def _readme(what: str, spec_name: str, declared: Any, encoding: str) -> str:
    note = ""
    if spec_name in ("gcj02", "bd09"):
        note = (
            f"\nThe coordinates are {spec_name.upper()} (obfuscated Chinese system), which has no "
            "official CRS definition: the .prj says WGS 84 because the numbers are degrees on "
            "the WGS84 ellipsoid. They line up with AMap/Tencent (GCJ-02) or Baidu (BD-09) "
            "maps and lie 100-700 m from true WGS84 data.\n"
        )
    return (
        f"gridgis export: {what}\n"
        f"Coordinates: {spec_name} (declared CRS: {declared})\n"
        f"Text encoding of the .dbf files: {encoding.upper()} (see the .cpg files)\n"
        "Field names: at most 10 characters; fields.csv maps each to its full name.\n"
        "Times: DBF has no time type; a time is a date field (China Standard Time, UTC+8) "
        "under the column's name plus <name>_time, HH:MM:SS as text.\n" + note
    )


def _write_shp(
    layers: list[_Layer], folder: Path, target: Path, *, encoding: str, declared: Any,
    what: str, spec_name: str,
) -> tuple[list[str], list[FieldName], int]:  # fmt: skip
    files: list[str] = []
    fields: list[FieldName] = []
    truncated = 0
    for layer in layers:
        names, arrays, cut = _dbf_columns(layer, encoding)
        truncated += cut
        short = short_field_names(names)
        path = folder / f"{layer.name}.shp"
        write_raw(
            str(path),
            geometry=shapely.to_wkb(layer.geoms),
            field_data=arrays,
            fields=[short[n] for n in names],
            crs=_pyogrio_crs(declared),
            encoding="GBK" if encoding == "gbk" else "UTF-8",
            geometry_type=layer.geometry_type,
            driver="ESRI Shapefile",
        )
        cpg = path.with_suffix(".cpg")
        cpg.write_text("GBK" if encoding == "gbk" else "UTF-8", encoding="ascii")
        for name, array in zip(names, arrays, strict=True):
            fields.append(
                FieldName(
                    layer.name, short[name], name, _shp_type(array), _description(layer, name)
                )
            )
        files += [f"{layer.name}{suffix}" for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
    listing = io.StringIO()
    writer = csv.writer(listing)
    writer.writerow(["layer", "short_name", "full_name", "type", "description"])
    for f in fields:
        writer.writerow(
            [safe_csv_value(v) for v in (f.layer, f.short, f.full, f.type, f.description)]
        )
    (folder / "fields.csv").write_text(listing.getvalue(), encoding="utf-8-sig")
    (folder / "README.txt").write_text(
        _readme(what, spec_name, declared, encoding), encoding="utf-8"
    )
    files += ["fields.csv", "README.txt"]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(folder / name, arcname=name)
    return files, fields, truncated


def _pyogrio_crs(declared: Any) -> str:
    """The CRS as text pyogrio accepts (WKT for a pyproj CRS)."""
    return declared if isinstance(declared, str) else declared.to_wkt()


def _frame_fields(layer: _Layer) -> list[FieldName]:
    return [
        FieldName(layer.name, c, c, _kind(layer.frame[c]), _description(layer, c))
        for c in layer.frame.columns
    ]


def _geo_frame(layer: _Layer, declared: Any, *, local_times: bool) -> gpd.GeoDataFrame:
    frame = layer.frame.copy()
    for column in frame.columns:
        if _kind(frame[column]) == "datetime" and local_times:
            frame[column] = display_series(frame[column])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(layer.geoms, crs=declared))


def _write_gpkg(layers: list[_Layer], target: Path, declared: Any) -> None:
    for layer in layers:
        pyogrio.write_dataframe(
            _geo_frame(layer, declared, local_times=False),
            target,
            layer=layer.name,
            driver="GPKG",
            geometry_type=layer.geometry_type,
            promote_to_multi=False,
        )


def _write_geojson(layers: list[_Layer], target: Path, declared: Any, name: str) -> None:
    frames = [_geo_frame(layer, declared, local_times=True) for layer in layers]
    together = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    together = gpd.GeoDataFrame(together, geometry="geometry", crs=frames[0].crs)
    pyogrio.write_dataframe(
        together, target, layer=name, driver="GeoJSON", geometry_type="Unknown",
        promote_to_multi=False,
    )  # fmt: skip


def _columns(layers: list[_Layer]) -> tuple[list[str], list[str]]:
    """Header and column kinds of the CSV and Excel outputs: lon/lat for points, else wkt."""
    points = any(layer.geometry_type == "Point" for layer in layers)
    others = any(layer.geometry_type != "Point" for layer in layers)
    columns = list(layers[0].frame.columns)
    kinds = [_kind(layers[0].frame[c]) for c in columns]
    header = columns + (["lon", "lat"] if points else []) + (["wkt"] if others else [])
    kinds += (["float", "float"] if points else []) + (["text"] if others else [])
    return header, kinds


def _table(layers: list[_Layer]) -> tuple[list[str], list[list[Any]], list[str]]:
    """Header, rows and column kinds of the CSV and Excel outputs."""
    header, kinds = _columns(layers)
    points = "lon" in header
    others = "wkt" in header
    columns = list(layers[0].frame.columns)
    rows: list[list[Any]] = []
    for layer in layers:
        values: list[list[Any]] = []
        for column, kind in zip(columns, kinds, strict=False):
            series = layer.frame[column]
            if kind == "datetime":
                values.append([None if pd.isna(v) else v.to_pydatetime() for v in _local(series)])
            else:
                values.append([None if _missing(v) else v for v in series.tolist()])
        geoms = layer.geoms
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        is_point = layer.geometry_type == "Point"
        if points:
            xs = np.full(len(geoms), np.nan)
            ys = np.full(len(geoms), np.nan)
            if is_point and present.any():
                xs[present] = shapely.get_x(geoms[present])
                ys[present] = shapely.get_y(geoms[present])
            values.append([None if math.isnan(x) else float(x) for x in xs])
            values.append([None if math.isnan(y) else float(y) for y in ys])
        if others:
            wkt = shapely.to_wkt(geoms, rounding_precision=-1) if not is_point else None
            values.append(
                [None] * len(geoms)
                if wkt is None
                else [w if p else None for w, p in zip(wkt, present, strict=True)]
            )
        rows.extend(list(r) for r in zip(*values, strict=True))
    return header, rows, kinds


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _write_csv(layers: list[_Layer], target: Path, encoding: str) -> None:
    header, rows, _ = _table(layers)
    with target.open("w", encoding="utf-8-sig" if encoding == "utf-8" else "gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_value(safe_csv_value(v)) for v in row])


def _write_xlsx(layers: list[_Layer], target: Path, sheet: str) -> int:
    header, rows, kinds = _table(layers)
    formats = ["yyyy-mm-dd hh:mm:ss" if kind == "datetime" else None for kind in kinds]
    return write_xlsx(target, header, rows, sheet=sheet, number_formats=formats)


# --- the public function ------------------------------------------------------------------------


def export(
    bind: Engine | Connection,
    what: str,
    fmt: str,
    out: Path | str | BinaryIO,
    *,
    district: str | None = None,
    street: str | None = None,
    community: str | None = None,
    since: dt.datetime | dt.date | None = None,
    until: dt.datetime | dt.date | None = None,
    crs: str = "wgs84",
    encoding: str = "utf-8",
    level: str = "cell",
    now: dt.datetime | None = None,
) -> ExportResult:
    """Export cells, cases, inspections or statistics to a file.

    Parameters
    ----------
    bind:
        The database.
    what:
        ``"cells"``, ``"cases"``, ``"inspections"`` or ``"stats"`` (see the
        module notes for the columns of each).
    fmt:
        ``"shp"`` (a zip), ``"gpkg"``, ``"geojson"``, ``"csv"`` or ``"xlsx"``.
    out:
        A path (a ``shp`` export's name must end in ``.zip``) or a binary
        file object open for writing (a web response, ``io.BytesIO``).
    district, street, community:
        Only what lies in this district (6 digits), street office (9 digits)
        or community (12 digits): cells and statistics of its areas, cases
        filed in it, inspections that visited one of its cells. Given
        together, each must lie in the coarser one (the finest then decides).
        A web view passes the street of a street-office user here.
    since, until:
        The period (cases by report time, inspections by start, statistics of
        both): at or after ``since``, before ``until``. A date means its
        midnight in China Standard Time, so a day ``D`` is ``since=D,
        until=D + 1 day``.
    crs:
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:nnnn"``.
    encoding:
        ``"utf-8"`` or ``"gbk"``: the text of a shapefile or CSV file.
    level:
        For ``stats``: ``"cell"``, ``"community"`` or ``"street"``.
    now:
        When cases are judged overdue and days since the last inspection are
        counted (default now).

    Returns
    -------
    ExportResult
        Rows written per layer, the files, every field with its short name.

    Raises
    ------
    InputError
        Naming the argument and value when ``what``, ``fmt``, ``crs``,
        ``encoding``, ``level``, a code or the period is not allowed, and
        naming both codes when a street or community lies outside the
        district (or a community outside the street) given.
    NotFoundError
        When the district, street or community is not stored.
    FileEncodingError
        When GBK cannot encode some text: the message names the layer, row
        (and its id or code), field and character.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO()
    >>> result = export(engine, "stats", "xlsx", buffer, level="community",
    ...                 since=dt.date(2025, 1, 1), until=dt.date(2025, 7, 1))
    >>> result.rows, result.media_type
    (130, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    """
    kind = _choice("what", what, EXPORT_KINDS)
    form = _choice("fmt", fmt, tuple(FORMATS))
    chosen_encoding = _choice("encoding", encoding, ENCODINGS)
    if chosen_encoding != "utf-8" and form not in ("shp", "csv"):
        raise InputError(
            f"`encoding` was {encoding!r} but only shapefiles and CSV files can be written "
            f"in GBK; {form} text is always UTF-8"
        )
    chosen_level = _choice("level", level, ("cell", "community", "street"))
    spec, spec_name, declared = _target(crs)
    start = _moment(since, "since")
    end = _moment(until, "until")
    if start is not None and end is not None and start >= end:
        raise InputError(
            f"`since` ({start.isoformat()}) must come before `until` ({end.isoformat()})"
        )
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    path: Path | None = None
    if isinstance(out, str | Path):
        path = Path(out)
        if form == "shp" and path.suffix.lower() != ".zip":
            raise InputError(
                f"`out` was {str(path)!r} but a shapefile export is a zip: name it *.zip"
            )
    with connection(bind) as conn:
        layers = _read(
            conn,
            kind,
            district=district,
            street=street,
            community=community,
            since=start,
            until=end,
            level=chosen_level,
            now=moment,
        )
    _check_text(layers, chosen_encoding)
    _project(layers, spec)
    base = layers[0].name if len(layers) == 1 else kind
    filename = base + _SUFFIXES[form]
    truncated = 0
    with tempfile.TemporaryDirectory(prefix="gridgis-export-") as tmp:
        folder = Path(tmp)
        target = folder / ("out" + _SUFFIXES[form])
        if form == "shp":
            files, fields, truncated = _write_shp(
                layers, folder, target, encoding=chosen_encoding, declared=declared,
                what=kind, spec_name=spec_name,
            )  # fmt: skip
        elif form == "gpkg":
            fields = [f for layer in layers for f in _frame_fields(layer)]
            _write_gpkg(layers, target, declared)
        elif form == "geojson":
            fields = [replace(f, layer=base) for f in _frame_fields(layers[0])]
            _write_geojson(layers, target, declared, base)
        else:
            header, kinds = _columns(layers)
            fields = [
                FieldName(base, c, c, k, _description(layers[0], c))
                for c, k in zip(header, kinds, strict=True)
            ]
            if form == "csv":
                _write_csv(layers, target, chosen_encoding)
            else:
                truncated = _write_xlsx(layers, target, base)
        if form != "shp":
            files = [path.name if path is not None else filename]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, path)
        else:
            with target.open("rb") as source:
                shutil.copyfileobj(source, out)  # type: ignore[arg-type]
    counts = {layer.name: len(layer.frame) for layer in layers}
    if form in ("geojson", "csv", "xlsx"):
        counts = {base: sum(counts.values())}
    return ExportResult(
        what=kind,
        format=form,
        rows=sum(counts.values()),
        layers=counts,
        files=files,
        fields=fields,
        crs=spec_name,
        declared_crs=declared if isinstance(declared, str) else declared.to_string(),
        encoding=chosen_encoding if form in ("shp", "csv") else "utf-8",
        truncated=truncated,
        media_type=FORMATS[form],
        filename=filename,
    )
