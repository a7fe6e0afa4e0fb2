"""The 驻区单位, 联合体, needs and 三零 API (issue 19, points 5 and 6), under ``/api/party``.

Routes
------
``GET /api/party/units``, ``GET /api/party/units.<fmt>``
    The 驻区单位 of an area (as JSON; or as a file ``gridgis import resident-units`` reads
    back: xlsx, csv, gpkg), their contact, phone and party leader masked outside the
    user's area (:meth:`gridgis.access.Policy.may_see_people`).
``GET /api/party/alliances``, ``POST /api/party/alliances``
    The 联合体 of an area; a new one (administrators anywhere, a street office in its street).
``POST /api/party/alliances/<id>/units``, ``DELETE /api/party/alliances/<id>/units/<unit>``
    A unit joins (or changes its 大党委 seat) or leaves an alliance.
``GET /api/party/needs``, ``POST /api/party/needs``
    The needs list of an area; a need posted by a community.
``POST /api/party/needs/<id>/claim``, ``POST /api/party/needs/<id>/done``
    A unit claims a need (认领); a claimed need is done, with a note.
``GET /api/party/sanling``, ``GET /api/party/sanling.<fmt>``
    The 三零 figures of a period per community (JSON, or an xlsx, csv or gpkg file).
``PUT /api/party/sanling/categories``
    Which case categories count for each figure (administrators).

Who: the roles that read areas (administrators, street offices, analysts) read; a
street office reads and changes only its own street (another street's need or alliance
is "not found", as a case is); analysts change nothing.
"""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from gridgis.access import OFFICE_ROLES
from gridgis.errors import NotFoundError
from gridgis.export import FORMATS, export
from gridgis.export.sanling import SANLING_FORMATS, export_sanling
from gridgis.party import alliances, needs, sanling
from gridgis.schemas.party_units import (
    Alliance,
    AllianceList,
    AllianceMember,
    AllianceQuery,
    Claim,
    Done,
    Need,
    NeedList,
    NeedQuery,
    NewAlliance,
    NewNeed,
    SanlingAnswer,
    SanlingCategories,
    SanlingMapping,
    SanlingQuery,
    UnitList,
    UnitQuery,
)
from gridgis.web.auth import policy
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.export_api import content_disposition

__all__ = ["bp"]

bp = Blueprint("party_api", __name__, url_prefix="/api/party")

_CHANGERS = ("admin", "street")
_FILE = {"type": "string", "format": "binary"}
_MEDIA = {fmt: FORMATS[fmt] for fmt in ("xlsx", "csv", "gpkg")}
_FMT_PATH = {"fmt": {"type": "string", "enum": list(SANLING_FORMATS)}}
_ALLIANCE_PATH = {"alliance_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}
_NEED_PATH = {"need_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def _area(value: str | None) -> str | None:
    """The area asked, kept to a street office's street (its own when none is asked)."""
    return policy().area_choice("area", value)


def _fmt(fmt: str) -> str:
    if fmt not in SANLING_FORMATS:
        raise NotFoundError(
            f"`fmt` was {fmt!r} but is expected to be one of {SANLING_FORMATS}",
            zh=f"`fmt` 为 {fmt!r}，应为以下之一：{SANLING_FORMATS}",
        )
    return fmt


def _file(data: bytes, fmt: str, name: str) -> Response:
    response = Response(data, content_type=_MEDIA[fmt])
    response.headers["Content-Disposition"] = content_disposition(name, name)
    return response


# --- units --------------------------------------------------------------------------------------


@endpoint(
    bp,
    "/units",
    operation_id="listResidentUnits",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=UnitQuery,
    replies=(Reply(200, UnitList, "The units, by name."),),
    errors=(403,),
)
def list_units(*, query: UnitQuery) -> Response:
    """The 驻区单位 of an area, people's data masked outside the user's area."""
    rules = policy()
    found = alliances.list_units(
        get_engine(),
        within=_area(query.area),
        reveal=rules.may_see_people,
        alliance=query.alliance,
        kind=query.kind,
    )
    return jsonify({"units": found})


@endpoint(
    bp,
    "/units.<fmt>",
    operation_id="exportResidentUnits",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=AllianceQuery,
    path=_FMT_PATH,
    replies=(Reply(200, description="The register.", content={m: _FILE for m in _MEDIA.values()}),),
    errors=(403, 404),
)
def export_units(fmt: str, *, query: AllianceQuery) -> Response:
    """The 驻区单位 of an area as a file `gridgis import resident-units` reads back."""
    chosen = _fmt(fmt)
    rules = policy()
    area = _area(query.area)
    with tempfile.TemporaryFile() as out:
        export(
            get_engine(), "units", chosen, out,
            street=area if area and len(area) == 9 else None,
            community=area if area and len(area) == 12 else None,
            reveal=rules.may_see_people, actor=signed_in_name(),
        )  # fmt: skip
        out.seek(0)
        data = out.read()
    return _file(data, chosen, f"{area + '_' if area else ''}驻区单位.{chosen}")


# --- alliances ----------------------------------------------------------------------------------


@endpoint(
    bp,
    "/alliances",
    operation_id="listAlliances",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=AllianceQuery,
    replies=(Reply(200, AllianceList, "The alliances, by name."),),
    errors=(403,),
)
def list_alliances(*, query: AllianceQuery) -> Response:
    """The 党建联合体 of an area with their units and 大党委 part-time members."""
    return jsonify({"alliances": alliances.list_alliances(get_engine(), within=_area(query.area))})


@endpoint(
    bp,
    "/alliances",
    method="POST",
    operation_id="addAlliance",
    tags=("party",),
    roles=_CHANGERS,
    body=NewAlliance,
    replies=(Reply(201, Alliance, "The alliance."),),
    errors=(400, 404, 409, 413, 415),
)
def add_alliance(*, body: NewAlliance) -> tuple[Response, int]:
    """Create a 联合体 of a street or a community."""
    added = alliances.add_alliance(
        get_engine(), body.name, street=body.street, community=body.community,
        within=policy().street, actor=signed_in_name(),
    )  # fmt: skip
    return jsonify(added), 201


@endpoint(
    bp,
    "/alliances/<int:alliance_id>/units",
    method="POST",
    operation_id="joinAlliance",
    tags=("party",),
    roles=_CHANGERS,
    body=AllianceMember,
    path=_ALLIANCE_PATH,
    replies=(Reply(200, AllianceList, "The alliances of the user's area."),),
    errors=(400, 404, 413, 415),
)
def join_alliance(alliance_id: int, *, body: AllianceMember) -> Response:
    """Put a unit in the alliance (or change whether its leader is a 兼职委员)."""
    engine = get_engine()
    within = policy().street
    alliances.join_alliance(
        engine, alliance_id, body.unit, committee=body.committee, within=within,
        actor=signed_in_name(),
    )  # fmt: skip
    return jsonify({"alliances": alliances.list_alliances(engine, within=within)})


@endpoint(
    bp,
    "/alliances/<int:alliance_id>/units/<unit>",
    method="DELETE",
    operation_id="leaveAlliance",
    tags=("party",),
    roles=_CHANGERS,
    path=_ALLIANCE_PATH,
    replies=(Reply(200, AllianceList, "The alliances of the user's area."),),
    errors=(404,),
)
def leave_alliance(alliance_id: int, unit: str) -> Response:
    """Take a unit out of the alliance."""
    engine = get_engine()
    within = policy().street
    alliances.leave_alliance(engine, alliance_id, unit, within=within, actor=signed_in_name())
    return jsonify({"alliances": alliances.list_alliances(engine, within=within)})


# --- needs --------------------------------------------------------------------------------------


@endpoint(
    bp,
    "/needs",
    operation_id="listNeeds",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=NeedQuery,
    replies=(Reply(200, NeedList, "The needs, newest first."),),
    errors=(403,),
)
def list_needs(*, query: NeedQuery) -> Response:
    """The needs list (需求, 资源, 项目) of an area."""
    found = needs.list_needs(
        get_engine(), within=_area(query.area), state=query.state, kind=query.kind
    )
    return jsonify({"needs": found})


@endpoint(
    bp,
    "/needs",
    method="POST",
    operation_id="postNeed",
    tags=("party",),
    roles=_CHANGERS,
    body=NewNeed,
    replies=(Reply(201, Need, "The need as posted."),),
    errors=(400, 404, 413, 415),
)
def post_need(*, body: NewNeed) -> tuple[Response, int]:
    """Post a need of a community."""
    posted = needs.post_need(
        get_engine(), community=body.community, title=body.title, kind=body.kind,
        description=body.description, due_on=body.due_on, within=policy().street,
        actor=signed_in_name(),
    )  # fmt: skip
    return jsonify(posted), 201


@endpoint(
    bp,
    "/needs/<int:need_id>/claim",
    method="POST",
    operation_id="claimNeed",
    tags=("party",),
    roles=_CHANGERS,
    body=Claim,
    path=_NEED_PATH,
    replies=(Reply(200, Need, "The need, claimed."),),
    errors=(400, 404, 409, 413, 415),
)
def claim_need(need_id: int, *, body: Claim) -> Response:
    """A unit claims the need (认领)."""
    claimed = needs.claim_need(
        get_engine(), need_id, body.unit, within=policy().street, actor=signed_in_name()
    )
    return jsonify(claimed)


@endpoint(
    bp,
    "/needs/<int:need_id>/done",
    method="POST",
    operation_id="finishNeed",
    tags=("party",),
    roles=_CHANGERS,
    body=Done,
    path=_NEED_PATH,
    replies=(Reply(200, Need, "The need, done."),),
    errors=(400, 404, 409, 413, 415),
)
def finish_need(need_id: int, *, body: Done) -> Response:
    """The claimed need is done (已完成), with a note."""
    done = needs.finish_need(
        get_engine(), need_id, note=body.note, within=policy().street, actor=signed_in_name()
    )
    return jsonify(done)


# --- 三零 -----------------------------------------------------------------------------------------


def sanling_answer(period: str, area: str | None) -> dict[str, Any]:
    """The figures of ``period`` for the communities of ``area``, each with the link to its
    counted cases in the case list."""
    engine = get_engine()
    chosen = sanling.parse_period(period)
    figures = sanling.sanling_figures(engine, chosen, within=area)
    mapped = sanling.category_map(engine)
    every = ",".join(c for codes in mapped.values() for c in codes)
    rows = []
    for row in figures.to_dict("records"):
        link = url_for(
            "case_pages.case_list", community=row["community_code"], category=every or None,
            since=chosen.start.isoformat(), until=chosen.last.isoformat(),
        )  # fmt: skip
        rows.append({
            "community_code": row["community_code"], "community": row["community"],
            "street_code": row["street_code"], "street": row["street"],
            "petition": int(row["petition"]), "accident": int(row["accident"]),
            "security": int(row["security"]), "total": int(row["total"]),
            "sanling": bool(row["sanling"]), "cases_url": link,
        })  # fmt: skip
    return {
        "period": chosen.label,
        "since": chosen.start.isoformat(),
        "until": chosen.last.isoformat(),
        "categories": mapped,
        "communities": rows,
        "sanling": sum(1 for r in rows if r["sanling"]),
    }


@endpoint(
    bp,
    "/sanling",
    operation_id="sanlingFigures",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=SanlingQuery,
    replies=(Reply(200, SanlingAnswer, "The figures, by community code."),),
    errors=(400, 403, 404),
)
def sanling_figures(*, query: SanlingQuery) -> Response:
    """The 三零 figures (上访, 安全事故, 治安案件) of a period per community, and its status."""
    return jsonify(sanling_answer(query.period, _area(query.area)))


@endpoint(
    bp,
    "/sanling.<fmt>",
    operation_id="exportSanling",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=SanlingQuery,
    path=_FMT_PATH,
    replies=(Reply(200, description="The figures.", content={m: _FILE for m in _MEDIA.values()}),),
    errors=(400, 403, 404),
)
def export_sanling_file(fmt: str, *, query: SanlingQuery) -> Response:
    """The 三零 figures of a period as a file: a row per community."""
    chosen = _fmt(fmt)
    area = _area(query.area)
    period = sanling.parse_period(query.period)
    with tempfile.TemporaryFile() as out:
        export_sanling(get_engine(), period, chosen, out, within=area)  # type: ignore[arg-type]
        out.seek(0)
        data = out.read()
    name = f"{area + '_' if area else ''}三零社区_{period.label.replace('..', '_')}.{chosen}"
    return _file(data, chosen, name)


@endpoint(
    bp,
    "/sanling/categories",
    method="PUT",
    operation_id="setSanlingCategories",
    tags=("party",),
    roles=("admin",),
    body=SanlingCategories,
    replies=(Reply(200, SanlingMapping, "The categories of each figure."),),
    errors=(400, 404, 413, 415),
)
def set_sanling_categories(*, body: SanlingCategories) -> Response:
    """Set which case categories count for each figure (administrators)."""
    given = {k: v for k, v in body.model_dump().items() if v is not None}
    return jsonify(sanling.set_categories(get_engine(), given, actor=signed_in_name()))
