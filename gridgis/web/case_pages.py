"""The case pages (事件): the list, one case, the filing form and a user's work.

Routes
------
``GET /cases?street=&community=&cell=&category=&step=&overdue=&closed_late=&department=``
``&assignee=&since=&until=&text=&order=&page=``
    The cases the user sees, filtered (the filters of ``GET /api/cases``; ``since`` and
    ``until`` are days ``YYYY-MM-DD``, ``until`` included), in ``order`` (``newest``,
    ``oldest``, ``deadline``, ``id``), :data:`PAGE_SIZE` a page, with a map of the
    page's cases and a link to the export of the cases with the same area and period.
``GET /cases/<id>``
    One case: its pin in its cell, the timeline of its steps (when, who, note), its
    deadline and the time left, the actions this user may take now (static/js/case_page.js
    posts them to the case API), its photos and near-duplicates when the API has them.
``GET /cases/new``
    The filing form (上报): a point on the map, the phone's position or an address (the
    geocoder's match shown before saving), category, description, up to 9 photos.
``GET /tasks``
    The signed-in user's work (:mod:`gridgis.cases.tasks`): cases to handle, to verify,
    escalated, overdue.
``GET /api/geocode?address=``
    Where a case filed at that address would be placed (:func:`gridgis.cases.locate_address`).

Who may open them: every role opens ``/cases``, ``/cases/<id>`` and ``/tasks`` and sees
only the cases :class:`gridgis.access.Policy` lets it see (another street's case is a
404); the filing form and the geocoder are for those who file (administrators, street
offices, grid workers).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import shapely
from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from pydantic import Field, ValidationError
from pydantic_core import PydanticCustomError

from gridgis import cases
from gridgis.access import CASE_ROLES
from gridgis.cases.departments import list_departments
from gridgis.cases.tasks import TASK_LISTS
from gridgis.db.models import CASE_EVENT_NAMES_ZH, CASE_STEP_NAMES_ZH
from gridgis.db.queries import read_areas
from gridgis.errors import InputError
from gridgis.schemas.cases import CASE_STEP_CHOICES, CaseQuery
from gridgis.schemas.common import Answer, Request, parse_day
from gridgis.schemas.exports import ExportQuery
from gridgis.web.area_choice import street_choices
from gridgis.web.auth import csrf_token, policy, roles_required
from gridgis.web.cases_api import address_book, case_filters, scoped_case
from gridgis.web.cell_layer import cells_bounds
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.i18n import gettext
from gridgis.web.tasks import user_tasks

__all__ = ["FILING_ROLES", "PAGE_SIZE", "bp"]

bp = Blueprint("case_pages", __name__)

PAGE_SIZE = 20
"""Cases on a page of the list."""
FILING_ROLES: tuple[str, ...] = ("admin", "street", "worker")
"""Who files cases (the roles of ``POST /api/cases``)."""
MAX_PHOTOS = 9
"""The most photos the filing form takes."""

ORDER_NAMES: dict[str, str] = {
    "newest": "最新上报",
    "oldest": "最早上报",
    "deadline": "期限最近",
    "id": "编号",
}
ACTION_NAMES: dict[str, str] = {
    "registered": "立案",
    "dispatched": "派遣",
    "handled": "处置",
    "verified": "核查",
    "closed": "结案",
    "returned": "退单",
    "rejected": "作废",
    "escalated": "督办",
    "merged": "合并",
    "note": "备注",
}
"""The actions the case page offers."""
TASK_NAMES: dict[str, str] = {
    "handle": "待办理",
    "verify": "待核查",
    "escalated": "督办中",
    "overdue": "已超期",
}
_FILTER_KEYS = (
    "street", "community", "cell", "category", "step", "overdue", "closed_late",
    "department", "assignee", "text",
)  # fmt: skip
_EXPORTED = ("street", "community", *ExportQuery.CASE_FILTERS)
"""The list's filters the cases export takes too (all of them)."""


def _day(name: str) -> dt.date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return parse_day(value)
    except PydanticCustomError:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be a date YYYY-MM-DD",
            zh=f"`{name}` 为 {value!r}，应为 YYYY-MM-DD 格式的日期",
        ) from None


def _chosen(name: str, allowed: tuple[str, ...] | list[str], default: str) -> str:
    value = request.args.get(name, "").strip() or default
    if value not in allowed:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be one of {list(allowed)}",
            zh=f"`{name}` 为 {value!r}，应为以下之一：{list(allowed)}",
        )
    return value


def _page_number() -> int:
    value = request.args.get("page", "").strip() or "1"
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise InputError(
            f"`page` was {value!r} but is expected to be a number from 1 to 100000",
            zh=f"`page`（页码）为 {value!r}，应为 1 到 100000 之间的数",
        )
    return int(value)


def _asked() -> dict[str, str]:
    """The list's filters as asked (empty fields of the form left out)."""
    return {key: request.args[key].strip() for key in _FILTER_KEYS if request.args.get(key, "")}


def _query(asked: dict[str, str], page: int) -> CaseQuery:
    try:
        return CaseQuery(**asked, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise InputError(
            f"the filters of the list are wrong: {problems}", zh=f"列表的筛选条件有误：{problems}"
        ) from None


def _case_row(case: dict[str, Any]) -> dict[str, Any]:
    """What the list and the task lists show of a case."""
    return case | {
        "step_name": gettext(CASE_STEP_NAMES_ZH[case["step"]]),
        "reported_day": (case["reported_at"] or "")[:16].replace("T", " "),
        "deadline_day": (case["deadline"] or "")[:16].replace("T", " "),
        "url": url_for("case_pages.case_page", case_id=case["id"]),
    }


def _points(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "lon": r["lon"],
            "lat": r["lat"],
            "url": r["url"],
            "title": r["category_name"],
        }
        for r in rows
        if r["lon"] is not None and r["lat"] is not None
    ]


def _export_url(asked: dict[str, str], since: dt.date | None, until: dt.date | None) -> str | None:
    """The export of exactly the listed cases (their area, period and every other filter),
    for those who may export (the export route is open to the roles that read areas, and a
    grid worker does not export its street); ``None`` for the others."""
    if not policy().may_call(None) or policy().role == "worker":
        return None
    args: dict[str, Any] = {key: value for key, value in asked.items() if key in _EXPORTED}
    if since is not None:
        args["from"] = since.isoformat()
    if until is not None:
        args["to"] = until.isoformat()
    return url_for("export_api.download", what="cases", fmt="xlsx", **args)


def _page_url(args: dict[str, str], page: int) -> str:
    values: dict[str, Any] = {**args, "page": str(page)}
    return url_for("case_pages.case_list", **values)


@bp.get("/cases")
@roles_required(*CASE_ROLES)
def case_list() -> str:
    """Render the filtered, sorted, paged list of cases with their map."""
    engine = get_engine()
    rules = policy()
    asked = _asked()
    page = _page_number()
    order = _chosen("order", tuple(ORDER_NAMES), "newest")
    since, until = _day("since"), _day("until")
    filters = case_filters(_query(asked, page))
    filters["since"] = (
        None if since is None else dt.datetime.combine(since, dt.time(), cases.LOCAL_TZ)
    )
    filters["until"] = (
        None
        if until is None
        else dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), cases.LOCAL_TZ)
    )
    found = cases.list_cases(engine, **filters, order=order)
    rows = [_case_row(c) for c in found[:PAGE_SIZE]]
    args = (
        dict(asked)
        | {"order": order}
        | {k: request.args[k] for k in ("since", "until") if request.args.get(k)}
    )
    offices = rules.role in ("admin", "analyst")
    return render_template(
        "cases.html",
        rows=rows,
        asked=asked,
        args=args,
        since=request.args.get("since", ""),
        until=request.args.get("until", ""),
        order=order,
        orders=ORDER_NAMES,
        page=page,
        previous_url=_page_url(args, page - 1) if page > 1 else None,
        next_url=_page_url(args, page + 1) if len(found) > PAGE_SIZE else None,
        streets=street_choices(engine) if offices else [],
        categories=cases.case_categories(engine),
        steps=[(s, CASE_STEP_NAMES_ZH[s]) for s in CASE_STEP_CHOICES],
        departments=list_departments(engine, area=rules.street)
        if rules.role in ("admin", "analyst", "street")
        else [],
        export_url=_export_url(asked, since, until),
        page_config={"points": _points(rows), "bounds": None},
        may_file=rules.role in FILING_ROLES,
    )


def _time_left(case: dict[str, Any]) -> dict[str, Any] | None:
    """Hours to the deadline (negative: past it) of an open case; ``None`` when finished."""
    if case["step"] in ("closed", "rejected") or not case["deadline"]:
        return None
    deadline = dt.datetime.fromisoformat(case["deadline"])
    hours = (deadline - dt.datetime.now(dt.UTC)).total_seconds() / 3600
    return {"hours": round(abs(hours), 1), "late": hours < 0}


def _cell_outline(cell_code: str | None) -> dict[str, Any] | None:
    if cell_code is None:
        return None
    cells = read_areas(get_engine(), "cell", within=cell_code)
    cells = cells[cells["code"] == cell_code]
    if cells.empty:
        return None
    outline: dict[str, Any] = shapely.geometry.mapping(cells.geometry.iloc[0])
    return outline


@bp.get("/cases/<int:case_id>")
@roles_required(*CASE_ROLES)
def case_page(case_id: int) -> str:
    """Render one case: pin, cell, timeline, deadline, actions."""
    engine = get_engine()
    case = scoped_case(case_id)
    rules = policy()
    actions = [a for a in rules.case_actions(case) if a in ACTION_NAMES]
    timeline = cases.case_timeline(engine, case_id)
    area = case["street_code"] or (case["community_code"] or "")[:9] or None
    departments = list_departments(engine, area=area) if "dispatched" in actions else []
    action_names = {
        a: gettext(
            "改派" if a == "dispatched" and case["step"] == "dispatched" else ACTION_NAMES[a]
        )
        for a in actions
    }
    return render_template(
        "case.html",
        case=_case_row(case),
        events=[
            e
            | {
                "kind_label": gettext(CASE_EVENT_NAMES_ZH.get(e["kind"], e["kind"])),
                "when": e["at"][:16].replace("T", " "),
            }
            for e in timeline
        ],
        actions=actions,
        action_names=action_names,
        departments=departments,
        time_left=_time_left(case),
        page_config={
            "caseId": case_id,
            "point": [case["lat"], case["lon"]] if case["lon"] is not None else None,
            "cell": _cell_outline(case["cell_code"]),
            "csrfToken": csrf_token(),
            "stepsUrl": url_for("cases.advance_case", case_id=case_id),
            "escalateUrl": url_for("cases.escalate_case", case_id=case_id),
            "noteUrl": url_for("cases.add_case_note", case_id=case_id),
            "mergeUrl": url_for("duplicates.merge_case", case_id=case_id),
            "photosUrl": url_for("photos.list_case_photos", case_id=case_id),
            "duplicatesUrl": url_for("duplicates.case_duplicates", case_id=case_id),
        },
    )


@bp.get("/cases/new")
@roles_required(*FILING_ROLES)
def new_case() -> str:
    """Render the filing form."""
    engine = get_engine()
    rules = policy()
    street = rules.street
    return render_template(
        "case_new.html",
        categories=cases.case_categories(engine),
        max_photos=MAX_PHOTOS,
        page_config={
            "bounds": cells_bounds(engine, street=street),
            "csrfToken": csrf_token(),
            "casesUrl": url_for("cases.create_case"),
            "geocodeUrl": url_for("case_pages.geocode"),
            "maxPhotos": MAX_PHOTOS,
        },
    )


@bp.get("/tasks")
@roles_required(*CASE_ROLES)
def tasks_page() -> str:
    """Render the signed-in user's lists of work."""
    lists = [
        {
            "name": name,
            "label": gettext(TASK_NAMES[name]),
            "count": found["count"],
            "rows": [_case_row(c) for c in found["cases"]],
        }
        for name, found in user_tasks(PAGE_SIZE).items()
    ]
    return render_template("tasks.html", lists=lists, order=TASK_LISTS)


class GeocodeQuery(Request):
    """An address to place."""

    address: str = Field(min_length=1, max_length=200, description="The address as written.")


class GeocodeMatch(Answer):
    """Where a case at the address would be placed: the building matched, its point and cell."""

    address: str
    lon: float | None
    lat: float | None
    building_id: int | None
    building_address: str | None
    match_score: float | None
    matched: str | None
    reason: str | None
    cell_code: str | None
    community_code: str | None
    street_code: str | None
    location_flag: str | None
    located_by: str


@endpoint(
    bp,
    "/api/geocode",
    operation_id="geocodeAddress",
    tags=("cases",),
    roles=FILING_ROLES,
    query=GeocodeQuery,
    replies=(Reply(200, GeocodeMatch, "The match (lon and lat null when none)."),),
)
def geocode(*, query: GeocodeQuery) -> Response:
    """Match an address to a building and its cell, as filing a case there would."""
    book = address_book(current_app._get_current_object())  # type: ignore[attr-defined]
    found = cases.locate_address(get_engine(), query.address, book=book)
    rules = policy()
    if found["street_code"] is not None and not rules.may_see(found["street_code"]):
        # a match outside the user's street says nothing of that street
        found = {key: None for key in found} | {
            "address": query.address,
            "located_by": "address",
            "location_flag": "outside",
            "reason": "outside the street the user files cases in",
        }
    return jsonify(found)
