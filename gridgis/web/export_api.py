"""The exports of :mod:`gridgis.export` as downloads, under ``/api/export``.

Routes
------
``GET /api/export/<what>.<fmt>``
    ``what`` is ``cells``, ``cases``, ``inspections`` or ``stats``, or the registers
    ``organisations``, ``leaders``, ``units``, ``members`` and ``residents``, the 大走访
    ``visits`` and ``ledger`` (台账) and the ``sanling`` figures (issue 19;
    :data:`WEB_REGISTERS`; members, key households, visits and the ledger for
    administrators and street offices only, :data:`PEOPLE_REGISTERS`); ``fmt``
    is ``shp`` (a zip), ``gpkg``, ``geojson``, ``csv`` or ``xlsx``. The file
    is the one ``gridgis export`` writes (see :mod:`gridgis.export` for the
    columns, the shapefile's field names and ``fields.csv``), answered as an
    attachment with its media type and a file name that names the area and
    the period, e.g. ``350304001_镇海街道_cases_2025-01-01_2025-06-30.zip`` or
    ``350304_荔城区_cells.gpkg``
    (``Content-Disposition: attachment; filename="…"; filename*=UTF-8''…``:
    an ASCII name without the Chinese for old clients, the full one for the rest).

Query parameters
----------------
``district``, ``street``, ``community``
    Only this district (6 digits), street office (9 digits) or community
    (12 digits). Given together, each must lie in the coarser one (a street
    outside the district given is a 400 naming both codes); the finest decides.
``from``, ``to``
    ``YYYY-MM-DD``: the first and the last day (included) of the period, in
    China Standard Time. Cases count by report time, inspections by start,
    statistics by both; the cells ignore the period.
``crs``
    ``wgs84`` (default), ``cgcs2000``, ``gcj02``, ``bd09`` or ``EPSG:nnnn``.
``encoding``
    ``utf-8`` (default) or ``gbk``: only for ``shp`` and ``csv``.
``level``
    Only for ``stats``: ``cell`` (default), ``community`` or ``street``.

The period filters visits by when they were made and the ledger by when each problem
was found; for ``sanling`` it is the period of the figures (both days, or neither: the
quarter of the latest case reported).

Who may export what
-------------------
Every signed-in user (a session or an API token; 401 otherwise). An
administrator or analyst exports everything. A street office (role
``street``) exports its own street only: with no ``street`` or
``community`` the export is of its street, and a street or community
outside it, or a district that does not hold it, is answered 403 naming
the code (its own district gives its own street).

A parameter that is unknown, repeated or malformed is answered 422 (the
route's schema, :class:`gridgis.schemas.exports.ExportQuery`), a value
the export refuses 400 (e.g. ``encoding=gbk`` for a GeoPackage, ``from``
after ``to``, a street outside the district given), an unknown ``what``,
``fmt``, district, street or community 404, all as
``{"error": {"code", "message", "field"}}`` naming the value.

The file is written to an anonymous temporary file (never held in memory
whole), streamed, and removed once sent or when the answer is closed.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

from flask import Blueprint, Response

from gridgis.analysis.figures import area_path
from gridgis.errors import ForbiddenError, InputError, NotFoundError
from gridgis.export import EXPORT_KINDS, FORMATS, ExportResult, export
from gridgis.schemas.areas import FEATURE_COLLECTION
from gridgis.schemas.exports import ExportQuery
from gridgis.web.auth import policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.geojson import GEOJSON_MIMETYPE

__all__ = [
    "EXPORT_PATH",
    "OPERATION_ID",
    "area_label",
    "bp",
    "check_export",
    "content_disposition",
    "download_name",
    "export_options",
    "export_query",
]

bp = Blueprint("export_api", __name__, url_prefix="/api/export")

OPERATION_ID = "exportData"
"""The route's ``operationId`` in the OpenAPI document."""

_CHUNK_BYTES = 256 * 1024
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEARS = (1900, 2100)
_UNSAFE_IN_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def export_query(what: str, query: ExportQuery) -> dict[str, Any]:
    """The keyword arguments of :func:`gridgis.export.export` for a request's checked query.

    A street office is kept to its own street (403 outside it; its own
    district gives its own street); ``to`` is made the day after (the
    export's end is exclusive).

    Raises
    ------
    InputError
        A bad date, ``from`` after ``to``, or ``level`` for anything but ``stats``.
    ForbiddenError
        A street office asked for another street, a community outside its own
        or a district that does not hold its street.
    """
    rules = policy()
    street = rules.area_filter("street", query.street)
    community = rules.area_filter("community", query.community)
    district = rules.outline_filter("district", query.district)
    if street is None:
        street = rules.street
    since, last = query.since, query.to
    if since is not None and last is not None and since > last:
        raise InputError(
            f"`from` ({since.isoformat()}) must not come after `to` ({last.isoformat()})",
            zh=f"`from`（{since.isoformat()}）不能晚于 `to`（{last.isoformat()}）",
        )
    level = query.level
    if level is not None and what != "stats":
        raise InputError(
            f"`level` was {level!r} but only a stats export has a level; leave it out for {what}",
            zh=f"`level` 为 {level!r}，但只有统计（stats）导出才有 level；导出 {what} 时请不要填",
        )
    return {
        "district": district,
        "street": street,
        "community": community,
        "since": since,
        "until": last + dt.timedelta(days=1) if last is not None else None,
        "crs": query.crs,
        "encoding": query.encoding,
        "level": level or "cell",
        "headers": query.headers,
        "case_filter": _case_filter(what, query),
    }


def _case_filter(what: str, query: ExportQuery) -> dict[str, Any] | None:
    """The filters of a cases export (those of ``GET /api/cases``), refused for the other
    kinds; a cell outside a street office's street is a 403."""
    given = {
        key: getattr(query, key)
        for key in ExportQuery.CASE_FILTERS
        if getattr(query, key) is not None
    }
    if not given:
        return None
    if what != "cases":
        raise InputError(
            f"`{sorted(given)[0]}` filters cases but this export is of {what}; leave it out",
            zh=f"`{sorted(given)[0]}` 用于筛选事件，但本次导出的是 {what}；请不要填",
        )
    if "cell" in given:
        policy().area_filter("cell", given["cell"])
    return given


def _safe_part(text: str) -> str:
    """``text`` fit for a file name: no path separators, quotes or control characters."""
    return _UNSAFE_IN_NAME.sub("_", text).strip(" ._")[:60]


def area_label(code: str) -> str:
    """The name of the district, street or community ``code`` fit for a file name ("" if none)."""
    path = area_path(get_engine(), code)
    if path and path[-1]["code"] == code:
        return _safe_part(path[-1]["name"] or "")
    return ""


def download_name(
    result: ExportResult, *, code: str | None, first: dt.date | None, last: dt.date | None
) -> tuple[str, str]:
    """The file name of a download, and its ASCII-only fallback.

    ``<area code>_<area name>_<export's name>_<from>_<to>.<suffix>`` with the
    parts that apply, e.g. ``350304001_镇海街道_cells.gpkg`` (fallback
    ``350304001_cells.gpkg``); ``code`` is a district's, street's or
    community's (``350304_荔城区_cells.gpkg``).
    """
    stem, _, suffix = result.filename.rpartition(".")
    days = [d.isoformat() for d in (first, last) if d is not None]
    codes = [code] if code else []
    name = area_label(code) if code else ""
    full = "_".join([*codes, *([name] if name else []), stem, *days]) + "." + suffix
    return full, "_".join([*codes, stem, *days]) + "." + suffix


def content_disposition(full: str, fallback: str) -> str:
    """The ``Content-Disposition`` of a download named ``full`` (``fallback``: ASCII only)."""
    simple = unicodedata.normalize("NFKD", fallback).encode("ascii", "ignore").decode("ascii")
    simple = simple.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{simple}\"; filename*=UTF-8''{quote(full, safe='')}"


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    """The file's bytes in pieces; the file is closed (and so removed) after the last."""
    try:
        while chunk := file.read(_CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


_FILE = {"type": "string", "format": "binary"}

WEB_REGISTERS: tuple[str, ...] = (
    "organisations", "leaders", "units", "members", "residents", "visits", "ledger", "sanling",
    "compounds",
)  # fmt: skip
"""The registers and ledgers of party work the export page offers (issue 19): people's names
and phones masked unless the user may see them (:attr:`gridgis.access.Policy.people_scope`),
the export recorded in the audit trail; the header row always the file's own."""

PEOPLE_REGISTERS: dict[str, tuple[str, ...]] = {
    "members": ("admin", "street"),
    "residents": ("admin", "street"),
    "visits": ("admin", "street"),
    "ledger": ("admin", "street"),
}
"""Registers of people themselves (party members, key households, whom the 大走访 visited and
the problems found at their homes) and the roles that export them: an analyst sees their
counts on the party pages, never a list of people, even masked."""


def may_export(what: str, role: str | None) -> bool:
    """Whether a user of ``role`` may export ``what`` (see :data:`PEOPLE_REGISTERS`)."""
    return role in PEOPLE_REGISTERS.get(what, (role,))


EXPORT_PATH = {
    "what": {"type": "string", "enum": list(EXPORT_KINDS + WEB_REGISTERS)},
    "fmt": {"type": "string", "enum": list(FORMATS)},
}
"""The path arguments of an export route, described."""


def check_export(what: str, fmt: str) -> None:
    """Refuse (404) a ``what`` or ``fmt`` of an export route that is not offered."""
    offered = EXPORT_KINDS + WEB_REGISTERS
    if what not in offered:
        raise NotFoundError(
            f"`what` was {what!r} but is expected to be one of {list(offered)}",
            zh=f"`what` 为 {what!r}，应为以下之一：{list(offered)}",
        )
    if fmt not in FORMATS:
        raise NotFoundError(
            f"`fmt` was {fmt!r} but is expected to be one of {list(FORMATS)}",
            zh=f"`fmt`（格式）为 {fmt!r}，应为以下之一：{list(FORMATS)}",
        )


def export_options(what: str, fmt: str, query: ExportQuery) -> dict[str, Any]:
    """The keyword arguments of :func:`gridgis.export.export` for an export route (a direct
    download or a background job): ``what`` and ``fmt`` offered (404), the user allowed
    (403: a list of people for an analyst), the area kept to the user's
    (:func:`export_query`) and, for a register, whose people's data is revealed, as plain
    data a job's parameters keep.
    """
    check_export(what, fmt)
    rules = policy()
    if not may_export(what, rules.role):
        raise ForbiddenError(
            f"`what` was {what!r}: a list of people is exported by administrators and street "
            "offices only; its figures are on the party pages",
            zh=f"`what` 为 {what!r}：人员名单只能由管理员和街道办导出；统计数字见党建页面",
        )
    options = export_query(what, query)
    if what in WEB_REGISTERS:
        options |= {"reveal": rules.people_scope, "headers": "codes", "actor": rules.name}
    return options


@endpoint(
    bp,
    "/<what>.<fmt>",
    operation_id=OPERATION_ID,
    tags=("exports",),
    query=ExportQuery,
    path=EXPORT_PATH,
    replies=(
        Reply(
            200,
            description="The file, as an attachment.",
            headers={
                "Content-Disposition": 'attachment; filename="<ASCII name>"; '
                "filename*=UTF-8''<the name with the area's Chinese name>"
            },
            content={
                media: (
                    {**FEATURE_COLLECTION, "additionalProperties": True}
                    if media == GEOJSON_MIMETYPE
                    else _FILE
                )
                for media in dict.fromkeys(FORMATS.values())
            },
        ),
    ),
    errors=(400, 403, 404),
)
def download(what: str, fmt: str, *, query: ExportQuery) -> Response:
    """Cells, cases, inspections, per-area statistics or a register or ledger of party
    work as a file to download.

    shp: a zip with fields.csv naming the shortened DBF fields; a street
    office's own street only; a list of people (members, key households, visits, the
    ledger) for administrators and street offices only.
    """
    options = export_options(what, fmt, query)
    out: BinaryIO = tempfile.TemporaryFile(prefix="gridgis-export-")  # noqa: SIM115
    try:
        result = export(get_engine(), what, fmt, out, **options)
        size = out.tell()
        out.seek(0)
        until = options["until"]
        full, fallback = download_name(
            result,
            code=options["community"] or options["street"] or options["district"],
            first=options["since"],
            last=until - dt.timedelta(days=1) if until is not None else None,
        )
    except BaseException:
        out.close()
        raise
    response = Response(_chunks(out), content_type=result.content_type)
    response.call_on_close(out.close)  # a download broken off, or never read
    response.content_length = size
    response.headers["Content-Disposition"] = content_disposition(full, fallback)
    response.headers["Cache-Control"] = "private, no-store"
    return response
