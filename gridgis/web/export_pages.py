"""The export page (数据导出): a form whose download is the export API's file.

Routes
------
``GET /export?what=&fmt=&area=&encoding=&crs=&from=&to=&level=``
    The form: what to export, the format, the text encoding (shapefile and
    CSV), the coordinate system, the area (every district, street and
    community the user may see: a street office only its own street and its
    communities) and the period, with notes on the shapefile's field names.
    The query arguments preselect the choices (``area`` is a 6-digit
    district, a 9-digit street or a 12-digit community code); an area
    outside a street office's street is a 403 (its own district preselects
    its street), an unknown one a 404, a malformed value a 400.
``GET /export/download?what=&fmt=&area=&…``
    What the form submits (a GET form: nothing changes, no CSRF token): a
    redirect (303) to ``/api/export/<what>.<fmt>`` with the area as
    ``district``, ``street`` or ``community``, empty fields left out,
    ``encoding`` kept only for a shapefile or CSV file and ``level`` only for
    statistics. The API then checks the rest, the user's scope included, and
    answers the file.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import Engine
from werkzeug.wrappers import Response as BaseResponse

from gridgis.crs import metric_crs
from gridgis.db import tiles as db_tiles
from gridgis.db.queries import district_summaries
from gridgis.errors import InputError, NotFoundError
from gridgis.export import ENCODINGS, EXPORT_KINDS, FIELD_ABBREVIATIONS, FORMATS
from gridgis.web.auth import login_required, policy
from gridgis.web.cell_layer import cells_bounds
from gridgis.web.db import get_engine
from gridgis.web.export_api import WEB_REGISTERS, may_export
from gridgis.web.i18n import get_language

__all__ = ["LEVELS", "bp"]

bp = Blueprint("export_pages", __name__)

LEVELS: tuple[str, ...] = ("cell", "community", "street")
"""The levels of a statistics export, finest first."""

NAMED_CRS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")
"""The coordinate systems offered by name; the page adds the data's Gauss-Krüger zone."""

_AREA = re.compile(r"[0-9]{6}(?:[0-9]{3}){0,2}")
_AREA_PARAMETERS = {6: "district", 9: "street", 12: "community"}
_AREA_ZH = {6: "区", 9: "街道", 12: "社区"}
"""The export API's parameter for an area code of each length."""
_AREAS_ZH = {6: "区", 9: "街道", 12: "社区"}
_FIELDS = ("what", "fmt", "area", "encoding", "crs", "from", "to", "level", "headers")
_TEXT_FORMATS = ("shp", "csv")
_TABLE_FORMATS = ("csv", "xlsx")
"""The formats with a header row (Chinese names or the fields' codes)."""


def _arg(name: str) -> str | None:
    return request.args.get(name, "").strip() or None


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = _arg(name) or allowed[0]
    if value not in allowed:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be one of {list(allowed)}",
            zh=f"`{name}` 为 {value!r}，应为以下之一：{list(allowed)}",
        )
    return value


def _area_arg() -> str | None:
    """``?area=``: a district, street or community code, or nothing (everything)."""
    area = _arg("area")
    if area is not None and not _AREA.fullmatch(area):
        raise InputError(
            f"`area` was {area!r} but is expected to be a district (6 digits), street "
            "(9 digits) or community (12 digits) code",
            zh=f"`area` 为 {area!r}，应为区（6 位）、街道（9 位）或社区（12 位）的编码",
        )
    return area


def _districts(engine: Engine) -> list[dict[str, str]]:
    """The districts the user may export whole, by code: every one, none for a street office."""
    if policy().street is not None:
        return []
    return [{"code": d.code, "name": d.name} for d in district_summaries(engine)]


def _areas(engine: Engine) -> list[dict[str, Any]]:
    """The streets the user may export, each with its communities, by code."""
    names = db_tiles.area_names(engine, street=policy().street)
    communities: dict[str, list[dict[str, str]]] = {}
    for code in sorted(names):
        if len(code) == 12:
            communities.setdefault(code[:9], []).append({"code": code, "name": names[code]})
    return [
        {"code": code, "name": names[code], "communities": communities.get(code, [])}
        for code in sorted(names)
        if len(code) == 9
    ]


def _chosen_area(streets: list[dict[str, Any]], districts: list[dict[str, str]]) -> str | None:
    """The area asked for, kept within the user's street (403) and the stored areas (404).

    A street office asking for its own district gets its street: what the
    export API would give it.
    """
    area = _area_arg()
    area = policy().area_choice("area", area)
    if area is None:
        return None
    known = (
        {d["code"] for d in districts}
        | {s["code"] for s in streets}
        | {c["code"] for s in streets for c in s["communities"]}
    )
    if area not in known:
        raise NotFoundError(
            f"`area` was {area!r} but no {_AREA_PARAMETERS[len(area)]} has that code",
            zh=f"`area` 为 {area!r}，但没有这个编码的{_AREA_ZH[len(area)]}",
        )
    return area


def _crs_choices(engine: Engine) -> list[dict[str, str]]:
    """The named systems, then the CGCS2000 Gauss-Krüger zone of the user's cells (if any)."""
    choices = [{"value": name, "label": name} for name in NAMED_CRS]
    bounds = cells_bounds(engine, street=policy().street)
    if bounds is not None:
        (south, west), (north, east) = bounds
        zone = metric_crs(((west + east) / 2, (south + north) / 2))
        epsg = zone.to_epsg()
        if epsg is not None:
            choices.append({"value": f"EPSG:{epsg}", "label": f"EPSG:{epsg} {zone.name}"})
    return choices


@bp.get("/export")
@login_required
def export_page() -> str:
    """Render the export form."""
    engine = get_engine()
    streets = _areas(engine)
    districts = _districts(engine)
    crs_choices = _crs_choices(engine)
    crs = _arg("crs") or "wgs84"
    if crs not in {c["value"] for c in crs_choices}:
        crs_choices.append({"value": crs, "label": crs})  # checked by the API on download
    chosen = {
        "what": _choice("what", EXPORT_KINDS + WEB_REGISTERS),
        "fmt": _choice("fmt", tuple(FORMATS)),
        "encoding": _choice("encoding", ENCODINGS),
        "level": _choice("level", LEVELS),
        "headers": _arg("headers") or ("zh" if get_language() == "zh" else "codes"),
        "crs": crs,
        "area": _chosen_area(streets, districts),
        "from": _arg("from") or "",
        "to": _arg("to") or "",
    }
    return render_template(
        "export.html",
        districts=districts,
        streets=streets,
        everything=policy().street is None,
        chosen=chosen,
        kinds=tuple(k for k in EXPORT_KINDS + WEB_REGISTERS if may_export(k, policy().role)),
        formats=tuple(FORMATS),
        encodings=ENCODINGS,
        levels=LEVELS,
        crs_choices=crs_choices,
        abbreviations=sorted(FIELD_ABBREVIATIONS.items()),
    )


@bp.get("/export/download")
@login_required
def download() -> BaseResponse:
    """Send the form's choices on to the export API (303), in its parameters."""
    unknown = sorted(set(request.args) - set(_FIELDS) - {"lang"})
    if unknown:
        raise InputError(
            f"unknown query parameter {unknown[0]!r}; the parameters are {_FIELDS}",
            zh=f"未知的查询参数 {unknown[0]!r}；可用的参数有 {_FIELDS}",
        )
    what = _choice("what", EXPORT_KINDS + WEB_REGISTERS)
    fmt = _choice("fmt", tuple(FORMATS))
    params: dict[str, str] = {}
    area = _area_arg()
    if area is not None:
        params[_AREA_PARAMETERS[len(area)]] = area
    for name in ("from", "to", "crs"):
        value = _arg(name)
        if value is not None:
            params[name] = value
    encoding = _arg("encoding")
    if encoding is not None and fmt in _TEXT_FORMATS:
        params["encoding"] = encoding
    level = _arg("level")
    if level is not None and what == "stats":
        params["level"] = level
    headers = _arg("headers")
    if headers is not None and fmt in _TABLE_FORMATS:
        params["headers"] = headers
    target: str = url_for("export_api.download", what=what, fmt=fmt, **params)  # type: ignore[arg-type]
    return redirect(target, code=303)
