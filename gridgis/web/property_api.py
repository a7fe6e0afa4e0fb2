"""The 红心物业 API (issue 19): the compounds of an area and how each is managed.

Routes
------
``GET /api/party/compounds``
    The compounds (小区) of an area: management, 红心物业 mode, contact (masked outside the
    user's area, :meth:`gridgis.access.Policy.may_see_people`), the 驻区单位 and party
    organisation named, the 物业管理 cases of the twelve months, optionally the outlines;
    and the units and organisations an edit may name.
``GET /api/party/compounds/figures``
    Per community: compounds, old ones, the share with any management, the share by
    红心物业 mode, those with none; and the area's total.
``POST /api/party/compounds``
    How one compound is managed (its register row created or replaced), audited:
    administrators anywhere, a street office in its street.

Who: administrators, street offices (their own street only) and analysts read; analysts
change nothing. The export is the export page's (``/api/export/compounds.<fmt>``).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gridgis.access import OFFICE_ROLES
from gridgis.party import compound_edits, compounds
from gridgis.schemas.property import (
    Compound,
    CompoundChange,
    CompoundList,
    CompoundQuery,
    FiguresAnswer,
    FiguresQuery,
)
from gridgis.web.auth import policy
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["bp"]

bp = Blueprint("property_api", __name__, url_prefix="/api/party")


def _area(value: str | None) -> str | None:
    """The area asked, kept to a street office's street (its own when none is asked)."""
    return policy().area_choice("area", value)


@endpoint(
    bp,
    "/compounds",
    operation_id="listCompounds",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=CompoundQuery,
    replies=(Reply(200, CompoundList, "The compounds, by community and name."),),
    errors=(403,),
)
def list_compounds(*, query: CompoundQuery) -> Response:
    """The compounds of an area and how each is managed (红心物业), contacts masked outside
    the user's area, with their 物业管理 cases of the twelve months."""
    engine = get_engine()
    area = _area(query.area)
    since, until = compounds.case_window(engine, query.until)
    rows = compounds.list_compounds(
        engine, within=area, reveal=policy().may_see_people, until=query.until,
        outlines=query.outlines,
    )  # fmt: skip
    if query.management is not None:
        wanted = None if query.management == "unregistered" else query.management
        rows = [r for r in rows if r["management"] == wanted]
    return jsonify(
        {"since": since.isoformat(), "until": until.isoformat(), "compounds": rows}
        | compounds.choices(engine, within=area)
    )


@endpoint(
    bp,
    "/compounds/figures",
    operation_id="compoundFigures",
    tags=("party",),
    roles=OFFICE_ROLES,
    query=FiguresQuery,
    replies=(Reply(200, FiguresAnswer, "The figures, by community code."),),
    errors=(403,),
)
def compound_figures(*, query: FiguresQuery) -> Response:
    """Per community: compounds, old ones, the share with any management and by 红心物业
    mode, those with none (无物业), 物业管理 cases; and the area's total."""
    engine = get_engine()
    area = _area(query.area)
    since, until = compounds.case_window(engine, query.until)
    rows = compounds.list_compounds(engine, within=area, until=query.until)
    names = compounds.community_names(engine, within=area)
    return jsonify(
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "communities": compounds.community_figures(rows, names=names),
            "total": compounds.total_figures(rows, area),
        }
    )


@endpoint(
    bp,
    "/compounds",
    method="POST",
    operation_id="setCompoundManagement",
    tags=("party",),
    roles=("admin", "street"),
    body=CompoundChange,
    replies=(Reply(200, Compound, "The compound as stored."),),
    errors=(400, 403, 404, 413, 415),
)
def set_compound_management(*, body: CompoundChange) -> Response:
    """Store how a compound is managed (a company, 红心物业 in one of its modes, or none)."""
    engine = get_engine()
    rules = policy()
    values = body.model_dump(exclude={"community", "compound"})
    compound_edits.set_management(
        engine, body.community, body.compound, within=rules.street, actor=signed_in_name(),
        **values,
    )  # fmt: skip
    rows = compounds.list_compounds(engine, within=body.community, reveal=rules.may_see_people)
    return jsonify(next(r for r in rows if r["name"] == body.compound.strip()))
