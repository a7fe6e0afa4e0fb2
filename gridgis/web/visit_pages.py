"""The 大走访 pages (``/party/...``): campaigns, a campaign's progress map, the visitor's
targets and visit form (phone first, 375 px), and the ledger (台账) with its export.

Routes
------
``GET /party/campaigns``
    The campaigns of the user's area; the form to create one (administrators, street
    offices).
``GET /party/campaigns/<id>``
    Its progress map (share of targets visited per cell), its cells with their overdue
    targets, and the form to assign a cell's targets to a visitor.
``GET /party/visits``
    The signed-in visitor's targets (not visited first) and its last visits.
``GET /party/visits/new?target=``
    The visit form: GPS, note, a problem found, photos.
``GET /party/ledger?campaign=&area=&state=&category=&since=&until=``
    The ledger with its filters; filing an entry as a case, crossing it off by hand.
``GET /party/ledger/export?format=xlsx|csv&…``
    The same entries as a file in the usual layout of a 台账.

The pages read through the JSON routes' own functions (:mod:`gridgis.web.visits_api`),
so they show what the API shows the same user.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Blueprint, Response, render_template, request, send_file, url_for

from gridgis.access import VISIT_ROLES
from gridgis.cases import case_categories
from gridgis.errors import InputError
from gridgis.export.visits import LEDGER_FORMATS, write_ledger
from gridgis.party import campaigns as campaign_lib
from gridgis.party import visits as visit_lib
from gridgis.party.ledger import LEDGER_STATE_NAMES_ZH, LEDGER_STATES
from gridgis.schemas.common import parse_day
from gridgis.times import CHINA_TZ
from gridgis.web.auth import csrf_token, policy, roles_required
from gridgis.web.db import get_engine
from gridgis.web.i18n import gettext
from gridgis.web.visits_api import (
    CAMPAIGN_ROLES,
    LEDGER_ROLES,
    campaign_scope,
    ledger_for,
    own_visitor,
    progress_of,
    scoped_campaign,
    targets_for,
)

__all__ = ["bp"]

bp = Blueprint("visit_pages", __name__, url_prefix="/party")

MAX_PHOTOS = 9
"""The most photos the visit form takes."""


def _local(moment: dt.datetime | None) -> str:
    """A time as the pages show it: China Standard Time, to the minute."""
    if moment is None:
        return ""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)}%"


@bp.get("/campaigns")
@roles_required(*CAMPAIGN_ROLES)
def campaigns_page() -> str:
    """Render the campaigns and, for those who may, the form to create one."""
    engine = get_engine()
    rules = policy()
    found = campaign_lib.list_campaigns(engine, within=campaign_scope(rules))
    with engine.connect() as conn:
        names = campaign_lib.rule_names(conn)
    return render_template(
        "party_campaigns.html",
        campaigns=[c | {"share_text": _share(c["share"])} for c in found],
        may_create=rules.role in ("admin", "street"),
        rules=[(code, zh) for code, (zh, _en) in names.items() if code != "building"],
        defaults=campaign_lib.FOUR_MUSTS,
        area=rules.street or "",
        page_config={
            "csrfToken": csrf_token(),
            "campaignsUrl": url_for("visits_api.create_campaign"),
        },
    )


@bp.get("/campaigns/<int:campaign_id>")
@roles_required(*CAMPAIGN_ROLES)
def campaign_page(campaign_id: int) -> str:
    """Render a campaign's progress map, its cells and the assignment form."""
    rules = policy()
    campaign = scoped_campaign(campaign_id)
    progress = progress_of(campaign)
    cells = [c | {"share_text": _share(c["share"])} for c in progress["cells"]]
    may_assign = rules.role in ("admin", "street")
    scope = campaign_scope(rules) or (
        campaign["area_code"] if len(campaign["area_code"]) >= 9 else None
    )
    visitors = campaign_lib.visitor_choices(get_engine(), within=scope) if may_assign else {}
    return render_template(
        "party_campaign.html",
        campaign=campaign | {"share_text": _share(campaign["share"])},
        cells=cells,
        overdue=sum(c["overdue"] for c in cells),
        may_assign=may_assign,
        visitors=visitors,
        page_config={
            "outlines": progress["outlines"],
            "csrfToken": csrf_token(),
            "assignUrl": url_for("visits_api.assign_targets", campaign_id=campaign_id),
        },
    )


@bp.get("/visits")
@roles_required(*VISIT_ROLES)
def visits_page() -> str:
    """Render the signed-in visitor's targets (not visited first) and its last visits."""
    targets = targets_for(mine=True, limit=500)
    targets.sort(key=lambda t: (t["visited"], t["cell_code"] or "", t["id"]))
    visits = visit_lib.list_visits(get_engine(), visitor=own_visitor(), limit=20)
    names = _rule_names()
    return render_template(
        "party_visits.html",
        targets=[
            t
            | {
                "reason_text": "、".join(gettext(names.get(r, r)) for r in t["reasons"]),
                "url": url_for("visit_pages.visit_form", target=t["id"]),
            }
            for t in targets
        ],
        visits=[v | {"when": _local(v["visited_at"])} for v in visits],
        done=request.args.get("done", ""),
    )


def _rule_names() -> dict[str, str]:
    with get_engine().connect() as conn:
        return {code: zh for code, (zh, _en) in campaign_lib.rule_names(conn).items()}


@bp.get("/visits/new")
@roles_required(*VISIT_ROLES)
def visit_form() -> str:
    """Render the visit form of one target."""
    value = request.args.get("target", "").strip()
    if not value.isdigit() or int(value) >= 2**63:
        raise InputError(
            f"`target` was {value!r} but is expected to be a target's number",
            zh=f"`target` 为 {value!r}，应为走访对象的编号",
        )
    rules = policy()
    people = None if rules.role == "member" else rules.may_see_people
    target = visit_lib.get_target(get_engine(), int(value), people=people)
    visit_lib.check_visit(target, rules, own_visitor())
    names = _rule_names()
    return render_template(
        "party_visit_new.html",
        target=target
        | {"reason_text": "、".join(gettext(names.get(r, r)) for r in target["reasons"])},
        categories=case_categories(get_engine()),
        max_photos=MAX_PHOTOS,
        page_config={
            "csrfToken": csrf_token(),
            "visitsUrl": url_for("visits_api.log_visit"),
            "doneUrl": url_for("visit_pages.visits_page"),
            "target": target["id"],
            "maxPhotos": MAX_PHOTOS,
        },
    )


def _ledger_filters() -> dict[str, Any]:
    """The ledger page's filters as asked (empty fields left out), checked."""
    args = request.args
    out: dict[str, Any] = {}
    campaign = args.get("campaign", "").strip()
    if campaign:
        if not campaign.isdigit() or int(campaign) >= 2**31:
            raise InputError(
                f"`campaign` was {campaign!r} but is expected to be a number",
                zh=f"`campaign` 为 {campaign!r}，应为数字",
            )
        out["campaign"] = int(campaign)
    area = args.get("area", "").strip()
    if area:
        if not area.isdigit() or not 2 <= len(area) <= 15:
            raise InputError(
                f"`area` was {area!r} but is expected to be an area code",
                zh=f"`area` 为 {area!r}，应为区域编码",
            )
        out["area"] = area
    state = args.get("state", "").strip()
    if state:
        if state not in LEDGER_STATES:
            raise InputError(
                f"`state` was {state!r} but is expected to be one of {LEDGER_STATES}",
                zh=f"`state` 为 {state!r}，应为以下之一：{LEDGER_STATES}",
            )
        out["state"] = state
    category = args.get("category", "").strip()
    if category:
        out["category"] = category
    for key in ("since", "until"):
        day = args.get(key, "").strip()
        if day:
            out[key] = parse_day(day)
    return out


@bp.get("/ledger")
@roles_required(*LEDGER_ROLES)
def ledger_page() -> str:
    """Render the ledger with its filters, actions and export links."""
    rules = policy()
    asked = _ledger_filters()
    entries = ledger_for(**asked, limit=1000)
    engine = get_engine()
    shown_args: dict[str, Any] = {
        k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asked.items()
    }
    return render_template(
        "party_ledger.html",
        entries=[
            e
            | {
                "found_day": _local(e["found_at"]),
                "closed_day": _local(e["closed_at"]),
                "state_label": gettext(e["state_zh"]),
                "case_url": url_for("case_pages.case_page", case_id=e["standing_case_id"])
                if e["standing_case_id"]
                else None,
            }
            for e in entries
        ],
        asked=shown_args,
        campaigns=campaign_lib.list_campaigns(engine, within=campaign_scope(rules)),
        categories=case_categories(engine),
        states=[(s, LEDGER_STATE_NAMES_ZH[s]) for s in LEDGER_STATES],
        may_change=rules.role in ("admin", "street"),
        export_urls={
            fmt: url_for("visit_pages.ledger_export", format=fmt, **shown_args)
            for fmt in ("xlsx", "csv")
        }
        if rules.role in ("admin", "street", "analyst")
        else {},
        page_config={
            "csrfToken": csrf_token(),
            "caseUrl": url_for("visits_api.file_ledger_case", entry_id=0),
            "clearUrl": url_for("visits_api.clear_ledger_entry", entry_id=0),
        },
    )


@bp.get("/ledger/export")
@roles_required("admin", "street", "analyst")
def ledger_export() -> Response:
    """The ledger's entries (the page's filters) as a 台账 file (xlsx or csv)."""
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        raise InputError(
            f"`format` was {fmt!r} but is expected to be one of ['xlsx', 'csv']",
            zh=f"`format` 为 {fmt!r}，应为以下之一：['xlsx', 'csv']",
        )
    asked = _ledger_filters()
    entries = ledger_for(**asked, limit=None)
    out = io.BytesIO()
    write_ledger(out, entries, fmt=fmt)
    out.seek(0)
    today = dt.date.today().isoformat()
    return send_file(
        out,
        mimetype=LEDGER_FORMATS[fmt],
        as_attachment=True,
        download_name=f"大走访台账_{today}.{fmt}",
    )
