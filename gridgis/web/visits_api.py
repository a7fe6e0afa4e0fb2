"""The 大走访 API: campaigns, their progress per cell, targets, visits and the ledger.

Routes (``/api/party``)
-----------------------
``GET /campaigns``, ``POST /campaigns``
    The campaigns the user sees; a new one (administrators; a street office in its street).
``GET /campaigns/<id>/progress``
    Per cell: targets, visited, share, overdue, with the cells' outlines.
``POST /campaigns/<id>/assignments``
    Targets of a cell (bulk) or by id to a party member, a grid worker or a user.
``GET /targets``, ``GET /visits``, ``POST /visits``
    Targets and visits (a party member: its own only); a visit logged from the phone.
``GET /ledger``, ``POST /ledger/<id>/case``, ``POST /ledger/<id>/clear``
    The 台账; an entry filed as a case; an entry crossed off by hand (销号).
``GET /visits/<id>/photos/<photo_id>/thumbnail``
    A visit photo's thumbnail.

Who sees what: :class:`gridgis.access.Policy`. A street office and a grid worker see
their street; an analyst reads everything with people's data masked; a party member
(``member``) sees only the targets assigned to it and its own visits. Names and phones
are shown as stored only where ``Policy.may_see_people`` allows.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pandas as pd
from flask import Blueprint, Response
from flask import jsonify as _jsonify
from sqlalchemy import select

from gridgis import audit
from gridgis.access import VISIT_ROLES, Policy
from gridgis.cases import photos as photo_lib
from gridgis.db.models import AppUser
from gridgis.db.queries import read_areas
from gridgis.errors import ForbiddenError, InputError, NotFoundError
from gridgis.party import campaigns as campaign_lib
from gridgis.party import ledger as ledger_lib
from gridgis.party import visits as visit_lib
from gridgis.party.campaigns import Visitor
from gridgis.schemas.common import day_start
from gridgis.schemas.party_visits import (
    Assignment,
    AssignmentAnswer,
    Campaign,
    CampaignProgress,
    CampaignQuery,
    Campaigns,
    LedgerClearing,
    LedgerEntry,
    LedgerList,
    LedgerQuery,
    NewCampaign,
    NewVisit,
    TargetQuery,
    Targets,
    Visit,
    VisitQuery,
    Visits,
)
from gridgis.web.auth import current_user, policy
from gridgis.web.cases_api import photo_store, signed_in_name, uploaded_photos
from gridgis.web.db import get_engine
from gridgis.web.endpoints import JSON, MULTIPART, Reply, endpoint
from gridgis.web.geojson import feature_collection
from gridgis.web.photos_api import _IMAGE, _served

__all__ = [
    "CAMPAIGN_ROLES",
    "LEDGER_ROLES",
    "bp",
    "campaign_scope",
    "jsonify",
    "ledger_for",
    "own_visitor",
    "plain",
    "progress_of",
    "scoped_campaign",
    "targets_for",
]

bp = Blueprint("visits_api", __name__, url_prefix="/api/party")

CAMPAIGN_ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker")
"""Who reads campaigns and their progress."""
LEDGER_ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker")
"""Who reads the ledger."""
TARGET_ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker", "member")
"""Who reads targets and visits (a party member: its own)."""


def plain(value: Any) -> Any:
    """``value`` with its dates and times as ISO 8601 text and decimals as numbers."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def jsonify(value: Any) -> Response:
    """Flask's ``jsonify`` of :func:`plain` ``value``."""
    return _jsonify(plain(value))


def campaign_scope(rules: Policy) -> str | None:
    """The area a user reads campaigns, targets, visits and the ledger in (``None``: all)."""
    return rules.street


def own_visitor() -> Visitor:
    """The visitor the signed-in user logs visits as."""
    user = current_user()
    return visit_lib.visitor_of(policy(), None if user is None else user.id)


def scoped_campaign(campaign_id: int) -> dict[str, Any]:
    """The campaign, or 404 when the user's street neither holds it nor lies in it."""
    found = campaign_lib.get_campaign(get_engine(), campaign_id)
    scope = campaign_scope(policy())
    if scope is not None and not (
        found["area_code"].startswith(scope) or scope.startswith(found["area_code"])
    ):
        raise NotFoundError(
            f"campaign {campaign_id} does not exist", zh=f"走访活动 {campaign_id} 不存在"
        )
    return found


@endpoint(
    bp,
    "/campaigns",
    operation_id="listCampaigns",
    tags=("party",),
    roles=CAMPAIGN_ROLES,
    query=CampaignQuery,
    replies=(Reply(200, Campaigns, "The campaigns, newest first."),),
    errors=(403,),
)
def list_campaigns(*, query: CampaignQuery) -> Response:
    """The 大走访 campaigns of the user's area (or of ``area``)."""
    rules = policy()
    area = rules.area_filter("area", query.area) or campaign_scope(rules)
    return jsonify({"campaigns": campaign_lib.list_campaigns(get_engine(), within=area)})


@endpoint(
    bp,
    "/campaigns",
    method="POST",
    operation_id="createCampaign",
    tags=("party",),
    roles=("admin", "street"),
    body=NewCampaign,
    replies=(Reply(201, Campaign, "The campaign with its count of targets."),),
    errors=(400, 404, 413, 415),
)
def create_campaign(*, body: NewCampaign) -> tuple[Response, int]:
    """Create a campaign and list its targets per cell (default rules: the 四个必走)."""
    rules = policy()
    if not rules.may_change(body.area) or len(body.area) < (9 if rules.street else 6):
        raise ForbiddenError(
            f"`area` was {body.area!r} but user {signed_in_name()!r} may create campaigns "
            f"only in street {rules.street}",
            zh=f"`area` 为 {body.area!r}，但用户 {signed_in_name()!r} 只能在街道 {rules.street} "
            "新建走访活动",
        )
    created = campaign_lib.create_campaign(
        get_engine(),
        name=body.name,
        area=body.area,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        rules=body.rules,
        buildings=body.buildings,
        actor=signed_in_name(),
    )
    return jsonify(created), 201


def progress_of(campaign: dict[str, Any]) -> dict[str, Any]:
    """A campaign's progress per cell in the user's area, with the cells' outlines (each
    with its share, targets, visited and overdue)."""
    engine = get_engine()
    scope = campaign_scope(policy())
    cells = campaign_lib.campaign_progress(engine, campaign["id"], within=scope)
    area = campaign["area_code"] if scope is None or len(campaign["area_code"]) > 9 else scope
    outlines = read_areas(engine, "cell", within=area)
    outlines = outlines[["code", "name", outlines.geometry.name]]
    figures = pd.DataFrame([c for c in cells if c["cell_code"] is not None])
    if figures.empty:
        shown = outlines.iloc[0:0]
    else:
        keep = ["cell_code", "targets", "visited", "overdue", "share"]
        shown = outlines.merge(figures[keep], left_on="code", right_on="cell_code", how="inner")
        shown = shown.drop(columns=["cell_code"])
    return {
        "campaign": campaign,
        "cells": cells,
        "outlines": json.loads(feature_collection(shown)),
    }


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>/progress",
    operation_id="campaignProgress",
    tags=("party",),
    roles=CAMPAIGN_ROLES,
    replies=(Reply(200, CampaignProgress, "Per cell: targets, visited, share, overdue."),),
    errors=(404,),
)
def campaign_progress(campaign_id: int) -> Response:
    """A campaign's progress per cell: share of targets visited, overdue targets."""
    return jsonify(progress_of(scoped_campaign(campaign_id)))


def _visitor_for(body: Assignment, rules: Policy) -> Visitor | None:
    if body.user is not None:
        with get_engine().connect() as conn:
            found = conn.execute(
                select(AppUser.id, AppUser.role, AppUser.street_code).where(
                    AppUser.name == body.user
                )
            ).one_or_none()
        if found is None or found.role not in ("street", "admin"):
            raise NotFoundError(
                f"`user` was {body.user!r} but no street office's user has that name",
                field="user",
                zh=f"`user` 为 {body.user!r}，没有这个名字的街道办用户",
            )
        if rules.street is not None and found.street_code != rules.street:
            raise ForbiddenError(
                f"user {body.user!r} is not of street {rules.street}",
                zh=f"用户 {body.user!r} 不属于街道 {rules.street}",
            )
        return Visitor(user_id=int(found.id))
    if body.member is not None:
        return Visitor(member_id=body.member)
    if body.worker is not None:
        return Visitor(worker_id=body.worker)
    return None


@endpoint(
    bp,
    "/campaigns/<int:campaign_id>/assignments",
    method="POST",
    operation_id="assignTargets",
    tags=("party",),
    roles=("admin", "street"),
    body=Assignment,
    replies=(Reply(200, AssignmentAnswer, "How many targets were assigned."),),
    errors=(400, 404, 409, 413, 415),
)
def assign_targets(campaign_id: int, *, body: Assignment) -> Response:
    """Assign a cell's targets (bulk) or targets by id to a visitor (none: take them back)."""
    rules = policy()
    campaign = scoped_campaign(campaign_id)
    if body.cell is not None:
        rules.area_filter("cell", body.cell)
    count = campaign_lib.assign_targets(
        get_engine(),
        campaign["id"],
        _visitor_for(body, rules),
        cell=body.cell,
        target_ids=body.target_ids,
        only_unassigned=body.only_unassigned,
        within=rules.street,
        actor=signed_in_name(),
    )
    return jsonify({"assigned": count})


def targets_for(
    *,
    campaign: int | None = None,
    cell: str | None = None,
    visited: bool | None = None,
    mine: bool = False,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The targets the user sees (a party member: those assigned to it)."""
    rules = policy()
    visitor = own_visitor() if mine or rules.role == "member" else None
    within = None if rules.role == "member" or visitor is not None else campaign_scope(rules)
    # A party member sees the names of its own targets: whom it is to visit.
    people = None if rules.role == "member" else rules.may_see_people
    return visit_lib.list_targets(
        get_engine(), campaign_id=campaign, visitor=visitor, within=within, cell=cell,
        visited=visited, people=people, limit=limit, offset=offset,
    )  # fmt: skip


@endpoint(
    bp,
    "/targets",
    operation_id="listTargets",
    tags=("party",),
    roles=TARGET_ROLES,
    query=TargetQuery,
    replies=(Reply(200, Targets, "The targets, by cell."),),
    errors=(403,),
)
def list_targets(*, query: TargetQuery) -> Response:
    """Targets of campaigns: a party member sees those assigned to it (``mine``: the
    user's own for the others)."""
    if query.cell is not None and policy().role != "member":
        policy().area_filter("cell", query.cell)
    found = targets_for(
        campaign=query.campaign, cell=query.cell, visited=query.visited, mine=query.mine,
        limit=query.limit, offset=query.offset,
    )  # fmt: skip
    return jsonify({"targets": found})


@endpoint(
    bp,
    "/visits",
    operation_id="listVisits",
    tags=("party",),
    roles=TARGET_ROLES,
    query=VisitQuery,
    replies=(Reply(200, Visits, "The visits, newest first."),),
)
def list_visits(*, query: VisitQuery) -> Response:
    """Visits: a party member sees its own (``mine``: the user's own for the others)."""
    rules = policy()
    visitor = own_visitor() if query.mine or rules.role == "member" else None
    found = visit_lib.list_visits(
        get_engine(),
        campaign_id=query.campaign,
        visitor=visitor,
        within=None if visitor is not None else campaign_scope(rules),
        since=day_start(query.since),
        until=day_start(query.until, end=True),
        people=None if rules.role == "member" else rules.may_see_people,
        limit=query.limit,
        offset=query.offset,
    )
    return jsonify({"visits": found})


@endpoint(
    bp,
    "/visits",
    method="POST",
    operation_id="logVisit",
    tags=("party",),
    roles=VISIT_ROLES,
    body=NewVisit,
    body_types=(JSON, MULTIPART),
    upload_field="photos",
    replies=(Reply(201, Visit, "The visit, with its ledger entries and points."),),
    errors=(400, 404, 413, 415),
)
def log_visit(*, body: NewVisit) -> tuple[Response, int]:
    """Log a visit from the phone: whom, when, GPS, note, photos, problems found.

    As JSON, or as `multipart/form-data` with photos in the repeatable file field
    `photos` (JPEG or PNG) and one problem as `problem_category` and
    `problem_description`. Each problem becomes an entry of the ledger (台账)."""
    problems = [p.model_dump() for p in body.problems]
    if body.problem_category or body.problem_description:
        if not (body.problem_category and body.problem_description):
            raise InputError(
                "a problem needs both `problem_category` and `problem_description`",
                field="problem_category",
                zh="问题需要同时填写 `problem_category` 和 `problem_description`",
            )
        problems.append(
            {"category": body.problem_category, "description": body.problem_description}
        )
    photos = uploaded_photos()
    store = photo_store()
    written: list[str] = []
    visited_at = day_start(body.visited_at)
    try:
        visit = visit_lib.log_visit(
            get_engine(), body.target, policy=policy(), visitor=own_visitor(),
            visited_at=visited_at, lon=body.lon, lat=body.lat, accuracy=body.accuracy,
            note=body.note, problems=problems, photos=photos, store=store, written=written,
            actor=signed_in_name(),
        )  # fmt: skip
    except BaseException:
        photo_lib.discard(store, written)
        raise
    visit["points"] = None if visit["points"] is None else float(visit["points"])
    return jsonify(visit), 201


def ledger_for(
    *,
    campaign: int | None = None,
    area: str | None = None,
    state: str | None = None,
    category: str | None = None,
    since: Any = None,
    until: Any = None,
    limit: int | None = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The ledger entries the user sees, people's data masked where it may not see them."""
    rules = policy()
    within = rules.area_filter("area", area) or campaign_scope(rules)
    return ledger_lib.list_ledger(
        get_engine(), campaign_id=campaign, within=within, state=state, category=category,
        since=day_start(since), until=day_start(until, end=True),
        people=rules.may_see_people, limit=limit, offset=offset,
    )  # fmt: skip


@endpoint(
    bp,
    "/ledger",
    operation_id="listLedger",
    tags=("party",),
    roles=LEDGER_ROLES,
    query=LedgerQuery,
    replies=(Reply(200, LedgerList, "The ledger (台账), oldest first."),),
    errors=(403,),
)
def list_ledger(*, query: LedgerQuery) -> Response:
    """The 台账: problems found on visits, with their case and state (open / 销号)."""
    found = ledger_for(
        campaign=query.campaign, area=query.area, state=query.state, category=query.category,
        since=query.since, until=query.until, limit=query.limit, offset=query.offset,
    )  # fmt: skip
    return jsonify({"entries": found})


def _changeable_entry(entry_id: int) -> dict[str, Any]:
    entry = ledger_lib.get_entry(get_engine(), entry_id)
    rules = policy()
    if not rules.may_see(entry["community_code"] or entry["street_code"]):
        raise NotFoundError(
            f"ledger entry {entry_id} does not exist", zh=f"台账条目 {entry_id} 不存在"
        )
    if not rules.may_change(entry["community_code"] or entry["street_code"]):
        raise ForbiddenError(
            f"user {signed_in_name()!r} may not change ledger entry {entry_id}",
            zh=f"用户 {signed_in_name()!r} 无权修改台账条目 {entry_id}",
        )
    return entry


@endpoint(
    bp,
    "/ledger/<int:entry_id>/case",
    method="POST",
    operation_id="fileLedgerCase",
    tags=("party",),
    roles=("admin", "street"),
    replies=(Reply(201, LedgerEntry, "The entry with its new case."),),
    errors=(404, 409),
)
def file_ledger_case(entry_id: int) -> tuple[Response, int]:
    """Turn a ledger entry into a case, filed at the target's building (in its cell)."""
    _changeable_entry(entry_id)
    entry = ledger_lib.file_case(get_engine(), entry_id, actor=signed_in_name())
    return jsonify(_shown(entry)), 201


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    rules = policy()
    if not rules.may_see_people(entry["street_code"]):
        for field in ("target_name", "visitor_name"):
            entry[field] = audit.mask_person(entry[field], "name")
    return entry


@endpoint(
    bp,
    "/ledger/<int:entry_id>/clear",
    method="POST",
    operation_id="clearLedgerEntry",
    tags=("party",),
    roles=("admin", "street"),
    body=LedgerClearing,
    replies=(Reply(200, LedgerEntry, "The entry, crossed off (已销号)."),),
    errors=(400, 404, 409, 413, 415),
)
def clear_ledger_entry(entry_id: int, *, body: LedgerClearing) -> Response:
    """Cross a ledger entry off by hand (销号), for a problem solved on the spot."""
    _changeable_entry(entry_id)
    entry = ledger_lib.clear_entry(get_engine(), entry_id, note=body.note, actor=signed_in_name())
    return jsonify(_shown(entry))


@endpoint(
    bp,
    "/visits/<int:visit_id>/photos/<int:photo_id>/thumbnail",
    operation_id="getVisitPhotoThumbnail",
    tags=("party",),
    roles=VISIT_ROLES,
    replies=(Reply(200, description="The thumbnail.", media_type="image/jpeg", schema=_IMAGE),),
    errors=(404,),
)
def visit_photo_thumbnail(visit_id: int, photo_id: int) -> Response:
    """A visit photo's thumbnail (JPEG, 320 px on its longer side): for the visit's party
    member, and the users of its street."""
    rules = policy()
    visit_lib.known_id(visit_id, "visit", bits=63)
    visit_lib.known_id(photo_id, "photo", bits=63)
    photo = visit_lib.visit_photo(get_engine(), visit_id, photo_id)
    own = rules.role == "member" and photo["by_member"] == rules.member
    if not (own or rules.role == "admin" or rules.may_see(photo["community_code"])):
        raise NotFoundError(
            f"visit {visit_id} has no photo {photo_id}",
            zh=f"走访记录 {visit_id} 没有照片 {photo_id}",
        )
    return _served(photo_lib.thumbnail(photo_store(), photo), "image/jpeg")
