"""Exports for analysts: cells, cases, inspections and per-area statistics as files.

One function, :func:`export`, reads what to export from the database
(filtered by district, street office or community and by period), converts the
coordinates, and writes one of five formats. The CLI (``gridgis export``)
and the web app's downloads call it; it knows nothing of either.

This module holds :func:`export` and its result; the steps are in
:mod:`~gridgis.export.reading` (the layers from the database),
:mod:`~gridgis.export.converting` (coordinates, text encoding),
:mod:`~gridgis.export.writers` (one writer per format) and
:mod:`~gridgis.export.layers` (the layer and field types, short DBF names,
what each column means).

What is exported (``what``)
---------------------------
``cells``
    The active grid cells (polygons): ``code``, ``name``, ``community_code``,
    ``community``, ``street_code``, ``street``, ``district_code``,
    ``valid_from``, ``households``, ``households_estimated`` (those that are
    estimates, from ``gridgis import buildings --estimate-households``),
    ``estimated_share`` (their share, 0–1; empty without households),
    ``residents``, ``buildings``, ``workers``, ``has_worker``, ``branches``,
    ``has_branch``. The period does not filter cells.
``cases``
    Cases (points) filed in the district, street or community and reported in the
    period: ids, category code and Chinese name, the Chinese description,
    source, address, the cell, community and street filed in, the current
    step (code and Chinese name), ``overdue`` (超期: open and past the deadline
    at the time of export), ``closed_late`` (逾期结案: closed after the
    deadline), the deadline and the time of every step. A case without a point has an
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
``buildings``
    A register, written so that ``gridgis import buildings`` reads it back:
    see :mod:`gridgis.export.registers` (formats gpkg, geojson, csv, xlsx).
``visits``, ``ledger``, ``sanling``
    The 大走访 visits, the ledger (台账) in its Chinese layout and the 三零 figures (xlsx,
    csv, gpkg): see :mod:`gridgis.export.party`.

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
(990, ['cases.shp', 'cases.shx', 'cases.dbf'])
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine

from gridgis import audit
from gridgis.analysis.stats import area_prefix
from gridgis.db.queries import connection, transaction
from gridgis.errors import InputError
from gridgis.export.converting import _check_text, _project, _target
from gridgis.export.layers import DBF_NAME_LENGTH as DBF_NAME_LENGTH
from gridgis.export.layers import FIELD_ABBREVIATIONS, FieldName, _description, short_field_names
from gridgis.export.party import PARTY_EXPORTS, write_party
from gridgis.export.reading import _read
from gridgis.export.registers import REGISTERS, Reveal, read_register, revealed
from gridgis.export.writers import (
    Progress,
    _columns,
    _frame_fields,
    _write_csv,
    _write_geojson,
    _write_gpkg,
    _write_shp,
    _write_xlsx,
    deliver,
    header_names,
)
from gridgis.times import CHINA_TZ, aware

__all__ = [
    "ENCODINGS",
    "EXPORT_KINDS",
    "FIELD_ABBREVIATIONS",
    "FORMATS",
    "HEADER_CHOICES",
    "PARTY_KINDS",
    "REGISTER_KINDS",
    "ExportResult",
    "FieldName",
    "Progress",
    "export",
    "short_field_names",
]

EXPORT_KINDS: tuple[str, ...] = ("cells", "cases", "inspections", "stats")
"""What :func:`export` can export for analysts (every format)."""

REGISTER_KINDS: tuple[str, ...] = tuple(REGISTERS)
PARTY_KINDS: tuple[str, ...] = tuple(PARTY_EXPORTS)
"""The exports of party work (:mod:`gridgis.export.party`): ``visits``, ``ledger``, ``sanling``."""
HEADER_CHOICES: tuple[str, ...] = ("codes", "zh")
"""The header rows of CSV and Excel files: the fields' codes, or their Chinese names."""
"""The registers :func:`export` writes so that their importers read them back
(:mod:`gridgis.export.registers`): ``buildings``."""

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

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` of a download: the media type, with its charset for a CSV file."""
        if self.format == "csv":
            return f"text/csv; charset={'GBK' if self.encoding == 'gbk' else 'utf-8'}"
        return self.media_type


# --- checking the arguments ---------------------------------------------------------------------


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    raise InputError(
        f"`{name}` was {value!r} but is expected to be one of {list(allowed)}",
        zh=f"`{name}` 为 {value!r}，应为以下之一：{list(allowed)}",
    )


def _moment(value: object, name: str) -> dt.datetime | None:
    """A period bound: a datetime, or a date meaning its midnight in China Standard Time."""
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)
    return aware(value, field=name)


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
    reveal: Reveal = False,
    actor: str | None = None,
    progress: Progress | None = None,
    headers: str = "codes",
    case_filter: Mapping[str, Any] | None = None,
    campaign: int | None = None,
) -> ExportResult:
    """Export cells, cases, inspections, statistics or a register to a file.

    Parameters
    ----------
    bind:
        The database.
    what:
        ``"cells"``, ``"cases"``, ``"inspections"`` or ``"stats"`` (see the
        module notes for the columns of each), or a register of
        :data:`REGISTER_KINDS` (``"buildings"``: see :mod:`gridgis.export.registers`).
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
    reveal:
        For a register, the visits and the ledger: whose person data is written as it
        is (``True``), masked (``False``, the default), that of the areas whose codes
        start with a text (a street), or a function of a row's area code saying whether
        the exporting user may see it (see :mod:`gridgis.export.registers`).
    actor:
        Who exports: an export that writes people's data unmasked is recorded in the
        audit trail under this name (``system`` when not given).
    progress:
        Told ``(rows written, rows in all)`` while the file is written: every
        5,000 rows for CSV and xlsx, per layer for shapefiles and GeoPackages,
        once for GeoJSON; first ``(0, rows)`` once the rows are read. It may
        raise to stop the export (nothing is left half-written at ``out``'s path).
        Without it nothing is counted.
    headers:
        The header row of a CSV or Excel file: ``"codes"`` (the field names, as
        scripts read them; the default) or ``"zh"`` (the fields' Chinese names, 户数,
        按期结案率 …, as people read them; a name used twice keeps its code). The other
        formats always have the codes (their field list says the Chinese).
    case_filter:
        For ``cases``: the filters of :func:`gridgis.cases.list_cases` (``category``,
        ``step``, ``overdue``, ``closed_late``, ``department``, ``assignee``,
        ``escalated``, ``cell``, ``text`` …), so that the file holds exactly the cases a
        list shows (overdue judged now); refused for the other kinds.
    campaign:
        For ``visits`` and ``ledger``: only this 大走访 campaign's (its number).

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
    kind = _choice("what", what, EXPORT_KINDS + REGISTER_KINDS + PARTY_KINDS)
    form = _choice("fmt", fmt, tuple(FORMATS))
    if kind in REGISTERS and form not in REGISTERS[kind].formats:
        raise InputError(
            f"`fmt` was {fmt!r} but {kind} are exported as {list(REGISTERS[kind].formats)}, "
            "the formats their importer reads back",
            zh=f"`fmt` 为 {fmt!r}，但 {kind} 只能导出为 {list(REGISTERS[kind].formats)}，"
            "即其导入功能能读回的格式",
        )
    if kind in PARTY_EXPORTS and form not in PARTY_EXPORTS[kind].formats:
        raise InputError(
            f"`fmt` was {fmt!r} but {kind} are exported as {list(PARTY_EXPORTS[kind].formats)}",
            zh=f"`fmt` 为 {fmt!r}，但 {kind} 只能导出为 {list(PARTY_EXPORTS[kind].formats)}",
        )
    if campaign is not None and kind not in ("visits", "ledger"):
        raise InputError(
            f"`campaign` was {campaign!r} but only visits and the ledger belong to a "
            f"campaign; leave it out for {kind}",
            zh=f"`campaign` 为 {campaign!r}，但只有走访记录和问题台账属于走访活动；"
            f"导出 {kind} 时请去掉它",
        )
    chosen_encoding = _choice("encoding", encoding, ENCODINGS)
    if chosen_encoding != "utf-8" and form not in ("shp", "csv"):
        raise InputError(
            f"`encoding` was {encoding!r} but only shapefiles and CSV files can be written "
            f"in GBK; {form} text is always UTF-8",
            zh=f"`encoding` 为 {encoding!r}，但只有 Shapefile 和 CSV 文件可以用 GBK 编码；"
            f"{form} 文件的文字总是 UTF-8",
        )
    chosen_level = _choice("level", level, ("cell", "community", "street"))
    chosen_headers = _choice("headers", headers, HEADER_CHOICES)
    if case_filter and kind != "cases":
        raise InputError(
            f"filters of cases ({', '.join(sorted(case_filter))}) were given but {kind} "
            "has no cases to filter; leave them out",
            zh=f"给出了事件的筛选条件（{', '.join(sorted(case_filter))}），但 {kind} "
            "没有事件可以筛选：请去掉这些条件",
        )
    if chosen_headers != "codes" and kind in REGISTERS:
        raise InputError(
            f"`headers` was {headers!r} but a register is written with its importer's "
            "headers, so that it reads back",
            zh=f"`headers` 为 {headers!r}，但台账按其导入功能的表头导出，以便能再读回",
        )
    if chosen_headers != "codes" and kind in PARTY_EXPORTS:
        raise InputError(
            f"`headers` was {headers!r} but {kind} are written in their own layout",
            zh=f"`headers` 为 {headers!r}，但 {kind} 按其固定格式导出",
        )
    spec, spec_name, declared = _target(crs)
    if kind in PARTY_EXPORTS and spec_name != "wgs84":
        raise InputError(
            f"`crs` was {crs!r} but {kind} are written in WGS84 (wgs84) only",
            zh=f"`crs` 为 {crs!r}，但 {kind} 只能以 WGS84（wgs84）导出",
        )
    start = _moment(since, "since")
    end = _moment(until, "until")
    if start is not None and end is not None and start >= end:
        raise InputError(
            f"`since` ({start.isoformat()}) must come before `until` ({end.isoformat()})",
            zh=f"`since`（{start.isoformat()}）必须早于 `until`（{end.isoformat()}）",
        )
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    path: Path | None = None
    if isinstance(out, str | Path):
        path = Path(out)
        if form == "shp" and path.suffix.lower() != ".zip":
            raise InputError(
                f"`out` was {str(path)!r} but a shapefile export is a zip: name it *.zip",
                zh=f"`out` 为 {str(path)!r}，但 Shapefile 导出为 zip 文件：请以 .zip 结尾命名",
            )
    if kind in PARTY_EXPORTS:
        return _export_party(
            bind, kind, form, out, district=district, street=street, community=community,
            since=start, until=end, campaign=campaign, reveal=reveal, actor=actor,
            encoding=chosen_encoding, progress=progress,
        )  # fmt: skip
    with connection(bind) as conn:
        if kind in REGISTERS:
            within = area_prefix(conn, street, community, district=district)
            layers = read_register(conn, kind, within, spec=spec, fmt=form, reveal=reveal)
            if reveal is not False and REGISTERS[kind].person_fields:
                _record_export(
                    bind, kind, within, actor=actor, action="export_person_data",
                    after={"rows": len(layers[0].frame), "format": form,
                           "fields": list(REGISTERS[kind].person_fields)},
                )  # fmt: skip
        else:
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
                case_filter=case_filter,
            )
    _check_text(layers, chosen_encoding)
    _project(layers, spec)
    if progress is not None:
        progress(0, sum(len(layer.frame) for layer in layers))
    base = layers[0].name if len(layers) == 1 else kind
    filename = base + _SUFFIXES[form]
    truncated = 0
    with tempfile.TemporaryDirectory(prefix="gridgis-export-") as tmp:
        folder = Path(tmp)
        target = folder / ("out" + _SUFFIXES[form])
        if form == "shp":
            files, fields, truncated = _write_shp(
                layers, folder, target, encoding=chosen_encoding, declared=declared,
                what=kind, spec_name=spec_name, progress=progress,
            )  # fmt: skip
        elif form == "gpkg":
            fields = [f for layer in layers for f in _frame_fields(layer)]
            _write_gpkg(layers, target, declared, progress)
        elif form == "geojson":
            fields = [replace(f, layer=base) for f in _frame_fields(layers[0])]
            _write_geojson(layers, target, declared, base, progress)
        else:
            header, kinds = _columns(layers)
            shown = header_names(layers[0], header, chosen_headers)
            fields = [
                FieldName(base, name, c, k, _description(layers[0], c))
                for name, c, k in zip(shown, header, kinds, strict=True)
            ]
            if form == "csv":
                _write_csv(layers, target, chosen_encoding, progress, header=shown)
            else:
                truncated = _write_xlsx(layers, target, base, progress, header=shown)
        if form != "shp":
            files = [path.name if path is not None else filename]
        deliver(target, out)
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


def _record_export(
    bind: Engine | Connection,
    kind: str,
    within: str | None,
    *,
    actor: str | None,
    action: str,
    after: dict[str, Any],
) -> None:
    """Record an export of people's data (``action``) in the audit trail."""
    with transaction(bind) as writing:
        audit.record(
            writing,
            actor=actor or audit.SYSTEM,
            action=action,
            object_type=kind,
            object_id=within or "all",
            after=after,
            street_code=within[:9] if within and len(within) >= 9 else None,
        )


def _export_party(
    bind: Engine | Connection,
    kind: str,
    form: str,
    out: Path | str | BinaryIO,
    *,
    district: str | None,
    street: str | None,
    community: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    campaign: int | None,
    reveal: Reveal,
    actor: str | None,
    encoding: str,
    progress: Progress | None,
) -> ExportResult:
    """:func:`export` of the visits, the ledger or the 三零 figures (:mod:`gridgis.export.party`).

    A list of people (visits, ledger) is recorded in the audit trail whether or not its
    names are revealed (``export_person_data`` when they are, else ``export``)."""
    spec = PARTY_EXPORTS[kind]
    test = revealed(reveal)
    people = None if test is True else (lambda _code: False) if test is False else test
    filename = spec.filename + _SUFFIXES[form]
    with tempfile.TemporaryDirectory(prefix="gridgis-export-") as tmp:
        target = Path(tmp) / filename
        with connection(bind) as conn:
            within = area_prefix(conn, street, community, district=district)
            rows = write_party(
                conn, kind, form, target, within=within, since=since, until=until,
                campaign=campaign, people=people, encoding=encoding,
            )  # fmt: skip
        if progress is not None:
            progress(rows, rows)
        deliver(target, out)
    if spec.person_fields:
        _record_export(
            bind, kind, within, actor=actor,
            action="export" if reveal is False else "export_person_data",
            after={"rows": rows, "format": form, "campaign": campaign,
                   "fields": list(spec.person_fields), "revealed": reveal is not False},
        )  # fmt: skip
    return ExportResult(
        what=kind,
        format=form,
        rows=rows,
        layers={spec.filename: rows},
        files=[Path(out).name if isinstance(out, str | Path) else filename],
        fields=[],
        crs="wgs84",
        declared_crs="EPSG:4326",
        encoding=encoding if form == "csv" else "utf-8",
        truncated=0,
        media_type=FORMATS[form],
        filename=filename,
    )
