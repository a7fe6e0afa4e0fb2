"""The party organisation tree and the leaders roster under ``/api/party`` (issue 19).

Routes
------
``GET /api/party/organisations?street=&community=``
    The organisations of the area as a tree, with kind, secretary (masked unless the
    user may see the area's people), members (registered, else the stored count), the
    cells and buildings each covers. A street office gets its own street's.
``POST /api/party/organisations``
    Create one (administrators; a street office in its street). Audited.
``GET /api/party/organisations/<id>``
    One organisation as stored, with its cells, buildings (楼栋编号) and compounds.
``PATCH /api/party/organisations/<id>``
    Rename, change kind, move under another parent (a cycle is a 409), change the
    secretary or counts, set the cells and buildings covered. Audited.
``DELETE /api/party/organisations/<id>?children=refuse|reparent``
    Delete one; with children, 409 (``refuse``, the default) or hand them to its parent.
``GET /api/party/cell-status?street=&community=``
    一网格一支部 per cell (none / own / shared), and the buildings a 党小组 covers or
    holding a 党员中心户 (with how many of each).
``GET /api/party/leaders?street=&community=``
    网格长, 楼栋长, 单元长 coverage per community; with ``community``, its buildings
    without a 楼栋长, and its leaders (names and phones) for users who may see its
    people (``null`` for the others: an analyst sees figures, not names).

An organisation outside a street office's street is answered 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, url_for
from sqlalchemy import select

from gridgis.access import Policy
from gridgis.audit import mask_person
from gridgis.db import tiles as db_tiles
from gridgis.db.models import Building
from gridgis.errors import InputError, NotFoundError
from gridgis.party import organisation_edits as edits
from gridgis.party.leaders import (
    COVERAGE_COLUMNS,
    buildings_without_leader,
    leader_coverage,
    leader_roster,
    read_leader_data,
)
from gridgis.party.organisations import (
    building_coverage,
    cell_status,
    organisation_tree,
    read_building_links,
    read_buildings,
    read_cell_links,
    read_cells,
    read_central_households,
    read_organisations,
    status_counts,
)
from gridgis.schemas.organisations import (
    CellStatusAnswer,
    DeleteOrganisation,
    LeadersAnswer,
    LeadersQuery,
    NewOrganisation,
    OrganisationChange,
    OrganisationDetail,
    OrganisationTree,
    PartyQuery,
)
from gridgis.web.auth import policy
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["area_of", "bp"]

bp = Blueprint("organisation_api", __name__, url_prefix="/api/party")

_ORGANISATION_PATH = {"organisation_id": {"type": "integer", "minimum": 1, "maximum": edits.MAX_ID}}

EDITORS = ("admin", "street")
"""Who changes the tree: administrators, and street offices in their street."""


def area_of(rules: Policy, street: str | None, community: str | None) -> str | None:
    """The code prefix of the area asked for, kept within the user's scope (a street
    office's own street by default; another one is a 403)."""
    chosen = rules.area_choice("street", street)
    community = rules.area_filter("community", community)
    if community is not None:
        if chosen is not None and not community.startswith(chosen):
            raise InputError(
                f"`community` was {community!r} but it is not in street {chosen}",
                field="community",
                zh=f"`community` 为 {community!r}，但该社区不在街道 {chosen} 内",
            )
        return community
    return chosen


def _scope(rules: Policy) -> str | None:
    return rules.street if rules.role == "street" else None


def _detail(conn: Any, organisation_id: int, rules: Policy) -> dict[str, Any]:
    found = edits.get_organisation(conn, organisation_id)
    if rules.street is not None and not rules.may_see(found["community_code"]):
        raise NotFoundError(
            f"organisation {organisation_id} does not exist",
            field="id",
            zh=f"党组织 {organisation_id} 不存在",
        )
    rows = conn.execute(
        select(Building.id, Building.external_id, Building.compound).where(
            Building.id.in_(found["buildings"])
        )
    ).all()
    found["buildings"] = sorted(str(r.external_id or r.id) for r in rows)
    found["compounds"] = sorted({str(r.compound) for r in rows if r.compound})
    if not rules.may_see_people(found["community_code"]):
        found["secretary"] = mask_person(found["secretary"], "secretary")
        found["secretary_phone"] = mask_person(found["secretary_phone"], "phone")
    return found


@endpoint(
    bp,
    "/organisations",
    operation_id="partyOrganisations",
    tags=("party",),
    query=PartyQuery,
    replies=(Reply(200, OrganisationTree, "The organisations as a tree."),),
    errors=(403,),
)
def organisations(*, query: PartyQuery) -> Response:
    """The organisation tree of an area (a street office's own street by default)."""
    rules = policy()
    within = area_of(rules, query.street, query.community)
    with get_engine().connect() as conn:
        frame = read_organisations(conn, within=within)

    def secretary(row: dict[str, Any]) -> str | None:
        value = row.get("secretary")
        shown = rules.may_see_people(row.get("community_code"))
        return value if shown else mask_person(value, "secretary")

    tree = organisation_tree(frame, people=secretary)
    kinds = frame["kind"].value_counts()
    return jsonify(
        organisations=tree,
        total=len(frame),
        kinds={str(k): int(v) for k, v in kinds.items()},
        may_edit=rules.changes_anything,
    )


@endpoint(
    bp,
    "/organisations",
    method="POST",
    operation_id="createPartyOrganisation",
    tags=("party",),
    roles=EDITORS,
    body=NewOrganisation,
    replies=(Reply(201, OrganisationDetail, "The organisation as stored."),),
    errors=(400, 403, 404, 409, 413, 415),
)
def create(*, body: NewOrganisation) -> tuple[Response, int, dict[str, str]]:
    """Create an organisation (a street office: in its street)."""
    rules = policy()
    with get_engine().begin() as conn:
        new_id = edits.create_organisation(
            conn, **body.model_dump(), street=_scope(rules), actor=signed_in_name()
        )
        found = _detail(conn, new_id, rules)
    location = url_for("organisation_api.organisation", organisation_id=new_id)
    return jsonify(found), 201, {"Location": location}


@endpoint(
    bp,
    "/organisations/<int:organisation_id>",
    path=_ORGANISATION_PATH,
    operation_id="partyOrganisation",
    tags=("party",),
    replies=(Reply(200, OrganisationDetail, "The organisation."),),
    errors=(404,),
)
def organisation(organisation_id: int) -> Response:
    """One organisation with the cells, buildings and compounds it covers."""
    with get_engine().connect() as conn:
        return jsonify(_detail(conn, organisation_id, policy()))


@endpoint(
    bp,
    "/organisations/<int:organisation_id>",
    path=_ORGANISATION_PATH,
    method="PATCH",
    operation_id="changePartyOrganisation",
    tags=("party",),
    roles=EDITORS,
    body=OrganisationChange,
    replies=(Reply(200, OrganisationDetail, "The organisation as changed."),),
    errors=(400, 403, 404, 409, 413, 415),
)
def change(organisation_id: int, *, body: OrganisationChange) -> Response:
    """Change an organisation: the fields given only (``parent_id`` null: a root)."""
    rules = policy()
    given = body.model_dump(include=body.model_fields_set)
    cover = {k: given.pop(k) for k in ("cells", "buildings") if k in given}
    for key in ("name", "kind", "member_count"):
        if key in given and given[key] is None:
            raise InputError(
                f"`{key}` was null but it needs a value", field=key, zh=f"`{key}` 为空，但必须有值"
            )
    street, actor = _scope(rules), signed_in_name()
    with get_engine().begin() as conn:
        edits.update_organisation(conn, organisation_id, given, **cover, street=street, actor=actor)
        return jsonify(_detail(conn, organisation_id, rules))


@endpoint(
    bp,
    "/organisations/<int:organisation_id>",
    path=_ORGANISATION_PATH,
    method="DELETE",
    operation_id="deletePartyOrganisation",
    tags=("party",),
    roles=EDITORS,
    query=DeleteOrganisation,
    replies=(Reply(204, description="Deleted.", media_type=""),),
    errors=(404, 409),
)
def remove(organisation_id: int, *, query: DeleteOrganisation) -> tuple[str, int]:
    """Delete an organisation (its children refused or handed to its parent)."""
    rules = policy()
    with get_engine().begin() as conn:
        edits.delete_organisation(
            conn,
            organisation_id,
            children=query.children,
            street=_scope(rules),
            actor=signed_in_name(),
        )
    return "", 204


@endpoint(
    bp,
    "/cell-status",
    operation_id="partyCellStatus",
    tags=("party",),
    query=PartyQuery,
    replies=(Reply(200, CellStatusAnswer, "The cells' status and the buildings' coverage."),),
    errors=(400, 403),
)
def cells_status(*, query: PartyQuery) -> Response:
    """一网格一支部 status per cell, and the buildings with a 党小组 or a 党员中心户."""
    within = area_of(policy(), query.street, query.community)
    with get_engine().connect() as conn:
        status = cell_status(read_cells(conn, within=within), read_cell_links(conn))
        buildings = building_coverage(
            read_buildings(conn, within=within),
            read_building_links(conn),
            read_central_households(conn),
        )
    marked = buildings[(buildings["groups"] > 0) | (buildings["central_households"] > 0)]
    columns = ["id", "external_id", "community_code", "lon", "lat", "groups", "group_names",
               "central_households"]  # fmt: skip
    return jsonify(
        counts=status_counts(status) | {"cells": len(status), "buildings": len(buildings)},
        cells=status[["code", "community_code", "status", "branches", "branch_names"]].to_dict(
            "records"
        ),
        buildings=[_plain(r) for r in marked[columns].to_dict("records")],
        buildings_with_group=int((buildings["groups"] > 0).sum()),
        central_household_buildings=int((buildings["central_households"] > 0).sum()),
    )


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row with numpy numbers as Python ones and NaN as None."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and value != value:
            value = None
        out[str(key)] = value
    return out


def coverage_rows(coverage: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    """The coverage frame as rows with each community's name."""
    return [
        _plain(r) | {"community_name": names.get(str(r["community_code"]))}
        for r in coverage.to_dict("records")
    ]


def coverage_totals(coverage: Any) -> dict[str, Any]:
    """The sums of the coverage frame, with the shares of the sums."""
    sums = {c: int(coverage[c].sum()) for c in COVERAGE_COLUMNS if c not in (
        "community_code", "building_share", "unit_share")}  # fmt: skip
    return sums | {
        "community_code": "",
        "community_name": None,
        "building_share": round(sums["buildings_with_leader"] / sums["buildings"], 4)
        if sums["buildings"]
        else None,
        "unit_share": round(sums["units_with_leader"] / sums["units"], 4)
        if sums["units"]
        else None,
    }


@endpoint(
    bp,
    "/leaders",
    operation_id="partyLeaders",
    tags=("party",),
    query=LeadersQuery,
    replies=(Reply(200, LeadersAnswer, "The leaders' coverage."),),
    errors=(400, 403),
)
def leaders(*, query: LeadersQuery) -> Response:
    """网格长, 楼栋长 and 单元长 coverage per community, with a community's drill-down."""
    rules = policy()
    within = area_of(rules, query.street, query.community)
    engine = get_engine()
    with engine.connect() as conn:
        data = read_leader_data(conn, within=within)
    coverage = leader_coverage(data)
    names = db_tiles.area_names(engine, street=rules.street)
    without = roster = None
    if query.community is not None:
        unled = buildings_without_leader(data, community=query.community)
        without = [
            _plain(r)
            for r in unled[["id", "external_id", "name", "address", "households"]].to_dict(
                "records"
            )
        ]
        if rules.may_see_people(query.community):
            people = leader_roster(data, people=rules.may_see_people)
            roster = [_plain(r) for r in people.drop(columns=["street_code"]).to_dict("records")]
    return jsonify(
        communities=coverage_rows(coverage, names),
        totals=coverage_totals(coverage),
        without_leader=without,
        leaders=roster,
    )
