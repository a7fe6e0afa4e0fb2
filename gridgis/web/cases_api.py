"""The case intake API (事件上报) under ``/api``: JSON in, JSON out.

Routes
------
``POST /api/cases``
    File a case (body: :data:`NewCase` of the OpenAPI document: ``category``,
    ``lon``/``lat`` [+ ``crs``] or ``address``, ``description``, ``source``,
    ``external_id``, ``reported_at``). Answers 201 with the case and a
    ``Location`` header.
``GET /api/cases/<id>``
    One case, with its likely duplicates (``duplicates``, 疑似重复) and the cases
    merged into it (``merged_from``); a new case's answer has its ``likely_duplicates``.
    Merging is :mod:`gridgis.web.duplicates_api`'s.
``POST /api/cases/<id>/steps``
    Move a case on (body ``{"step", "at"}``); answers the case.
``GET /api/cases?street=&community=&cell=&category=&step=&overdue=&closed_late=&since=&until=``
    (and ``limit=&offset=``): ``{"cases": [...], "limit": n, "offset": n}``, newest report
    first; ``overdue`` (超期) picks open cases past their deadline, ``closed_late``
    (逾期结案) those closed after it.
``GET /api/cases/stats?level=&layout=&since=&until=``
    ``{"level", "layout", "rows": [...]}``: counts, 结案率 and 按期结案率 per area.
``GET /api/categories``
    The categories with their Chinese and English names and time limits.

Access
------
Every route needs a signed-in user or an API token (``Authorization: Bearer
ggt_...``, see :mod:`gridgis.web.auth`); without one it answers 401.

- Administrators read, file and move on every case.
- A street office (role ``street``) reads only the cases filed in its street:
  lists and figures are limited to it, a ``street``, ``community`` or ``cell``
  filter outside it is answered 403 naming it, and another street's case is
  answered 404 as if it did not exist. It files only cases that fall in its
  street (a point or address located elsewhere, or nowhere, is answered 403
  and nothing is stored) and moves on only its own cases.
- Analysts read everything and change nothing: both POSTs answer 403.
- A grid worker (role ``worker``) reads the cases of the cells and communities it
  serves and those it filed; it files cases in its street and verifies (核查) the
  cases of its cells. A department (role ``department``) reads the cases dispatched
  to it and handles (处置) or returns (退单) them. Both add notes to what they see;
  what they may not take is answered 403, a case they may not see 404.

Who is recorded: ``reported_by`` of a new case and ``<step>_by`` of a step
are the name of the signed-in user (or the token's user). The request cannot
name someone else: the bodies have no such field.

The views only translate: each route is declared with its schemas
(:mod:`gridgis.schemas.cases`) through :func:`gridgis.web.endpoints.endpoint`,
which checks requests and answers 4xx with ``{"error": {"code", "message",
"field"}}`` when one breaks them; who may see what is
:class:`gridgis.access.Policy`'s answer; the work is done by :mod:`gridgis.cases`.

Filing is the hot path: each server process keeps one
:class:`gridgis.cases.IntakeCache` (:func:`intake_cache`: the active cells and
the categories in memory) and, for cases by address, one address book
(:func:`address_book`). Both check the versions of the tables they come from
(:mod:`gridgis.db.versions`) for every case, so a change made in any way (a
redraw, a building added by another program) applies to the very next case.
``GRIDGIS_INTAKE_SYNC_COMMIT`` (:func:`intake_durable`, default ``on``) can let
new cases be answered before they reach the disk.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, url_for
from sqlalchemy import Connection, Engine

from gridgis import cases, config
from gridgis.access import CASE_ROLES, Policy
from gridgis.cases import photos as photo_lib
from gridgis.cases.photos import Photo, PhotoError, PhotoProblem
from gridgis.db.versions import VersionedCache
from gridgis.errors import (
    ConflictError,
    DuplicateCaseError,
    ForbiddenError,
    NotFoundError,
)
from gridgis.schemas.cases import (
    Case,
    CaseEscalation,
    CaseList,
    CaseNote,
    CaseQuery,
    CaseStats,
    CaseStatsQuery,
    CaseStep,
    Categories,
    NewCase,
    Timeline,
    TimelineEntry,
)
from gridgis.schemas.common import MAX_ID
from gridgis.schemas.duplicates import CaseDetail, FiledCase
from gridgis.web.auth import current_user, policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import JSON, MULTIPART, Link, Reply, endpoint, uploads
from gridgis.web.geojson import json_value
from gridgis.web.i18n import gettext

if TYPE_CHECKING:
    from gridgis.address import AddressBook

__all__ = [
    "address_book",
    "bp",
    "file_case",
    "intake_cache",
    "intake_durable",
    "photo_links",
    "photo_store",
    "scoped_case",
    "signed_in_name",
    "uploaded_photos",
    "visible_duplicates",
    "with_duplicates",
    "with_likely_duplicates",
]

bp = Blueprint("cases", __name__, url_prefix="/api")

_BOOK_KEY = "gridgis_address_book"
_BOOK_TABLES = ("building", "community", "street", "district")
"""What the address book is read from (:func:`gridgis.address.load_address_book`)."""
_CACHE_KEY = "gridgis_intake_cache"
_book_lock = threading.Lock()
_cache_lock = threading.Lock()


def address_book(app: Flask) -> AddressBook:
    """Return the app's address book, loaded again when a building or an area changed.

    Matching an address needs every building of the district; loading them
    for each request would cost far more than the match, so each app
    process keeps one book (a :class:`gridgis.db.versions.VersionedCache` of
    the tables ``building``, ``community``, ``street`` and ``district``): each
    request checks their versions (one read of four rows) and the book is
    loaded again when one changed, so a building added, renamed or deleted in
    any way is matched by the next request. ``ADDRESS_BOOK_SECONDS`` in the
    app's config (from ``GRIDGIS_ADDRESS_BOOK_SECONDS``, default 0) lets that
    many seconds pass between checks.

    Examples
    --------
    >>> with app.app_context():
    ...     book = address_book(app)
    """
    books: VersionedCache[AddressBook] | None = app.extensions.get(_BOOK_KEY)
    if books is None:
        with _book_lock:
            books = app.extensions.get(_BOOK_KEY)
            if books is None:
                books = VersionedCache(
                    _BOOK_TABLES,
                    _load_address_book,
                    check_every=float(app.config["ADDRESS_BOOK_SECONDS"]),
                )
                app.extensions[_BOOK_KEY] = books
    return books.get(get_engine())


def _load_address_book(conn: Connection) -> AddressBook:
    from gridgis.address import load_address_book

    return load_address_book(conn)


def intake_cache(app: Flask) -> cases.IntakeCache:
    """Return the app's :class:`gridgis.cases.IntakeCache` (cells and categories in memory).

    One per app, so one per server process; every case filed through it checks the
    versions of the cells and categories (see the class for how fresh it is).
    ``INTAKE_CACHE_SECONDS`` in the app's config sets its ``max_age`` (default 0).

    Examples
    --------
    >>> with app.app_context():
    ...     cache = intake_cache(app)
    """
    cache: cases.IntakeCache | None = app.extensions.get(_CACHE_KEY)
    if cache is None:
        with _cache_lock:
            cache = app.extensions.get(_CACHE_KEY)
            if cache is None:
                cache = cases.IntakeCache(max_age=app.config["INTAKE_CACHE_SECONDS"])
                app.extensions[_CACHE_KEY] = cache
    return cache


def intake_durable(app: Flask) -> bool:
    """Whether a new case is on disk before it is answered (the default) or just after.

    ``INTAKE_SYNC_COMMIT`` in the app's config (from ``GRIDGIS_INTAKE_SYNC_COMMIT``):
    on (default) or off, also given as ``"on"``/``"off"``. With off,
    :func:`gridgis.cases.create_case` runs with ``durable=False``: each case is
    answered before PostgreSQL has flushed it to disk, so a crash of the database
    server may lose the cases of its last fraction of a second (never corrupting
    anything). Worth it only where clients retry (with ``external_id``) and the disk's
    flushes are slow; ``scripts/bench/intake.py --sync-commit off`` measures it.

    Raises
    ------
    ConfigError
        When the app's config holds neither a boolean nor one of its spellings.

    Examples
    --------
    >>> from gridgis.web import create_app
    >>> intake_durable(create_app({"INTAKE_SYNC_COMMIT": "off"}))
    False
    """
    value = app.config["INTAKE_SYNC_COMMIT"]
    if isinstance(value, bool):
        return value
    return config.settings(intake_sync_commit=value).intake_sync_commit  # checked as the variable


def signed_in_name() -> str:
    """The name of the user making this request (the caller has required a login)."""
    user = current_user()
    if user is None:  # pragma: no cover - every caller is behind a guard
        abort(401, "log in first")
    return user.name


def scoped_case(case_id: int) -> dict[str, Any]:
    """Case ``case_id`` if the user may see it; another street's case is "not found".

    A street office is told the same as for a case that does not exist, so
    that it cannot learn which ids other streets have.

    Raises
    ------
    NotFoundError
        When the case does not exist or is outside the user's street.
    """
    if not 1 <= case_id <= MAX_ID:
        raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
    case = cases.get_case(get_engine(), case_id)
    policy().seen(case)
    return case


def file_case(
    *,
    actor: str | None = None,
    photos: Sequence[Photo] = (),
    link: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """File a case with :func:`gridgis.cases.create_case`, within what the user may file.

    ``fields`` are the case's (``category``, ``lon``, ``lat``, ``address``...);
    ``actor`` is who files it for the audit trail (default: the signed-in user);
    the app's intake cache, address book and durability setting are added.
    For a street office the case is located and, unless it falls in its street, answered
    403 before it is stored: a case in another street, or placed in no cell at all, is not
    stored. An
    ``external_id`` already taken is answered 409 naming the case that has it
    only when the user may see that case; otherwise the answer says nothing of it.
    ``photos`` (checked by :func:`uploaded_photos`) are stored with the case, by the one
    statement that stores it: when the case is not stored, neither are they; ``link``, a
    photo's URL (Open311's ``media_url``), in the case's transaction.

    Examples
    --------
    >>> from gridgis.users import add_user, issue_token
    >>> _ = add_user(
    ...     engine, "wang", role="street", street="350304001", password="s3cret-pass",
    ...     actor="admin",
    ... )
    >>> signed_in = {"Authorization": "Bearer " + issue_token(engine, "wang", actor="admin")}
    >>> with app.test_request_context("/api/cases", headers=signed_in):
    ...     app.preprocess_request()  # reads the token
    ...     file_case(category="fire_safety", lon=119.02, lat=25.40, reported_by="王芳")
    {'id': 5027, ...}
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    book = None
    if fields.get("address") is not None and fields.get("lon") is None:
        book = address_book(app)
    options: dict[str, Any] = {
        "book": book,
        "cache": intake_cache(app),
        "durable": intake_durable(app),
        "actor": actor or signed_in_name(),  # who files it, for the audit trail
    }
    rules = policy()
    if rules.street is not None:
        options["check"] = functools.partial(_may_file, rules)
    if link is None:
        if photos:
            options |= {"photos": photos, "store": photo_store()}
        case = _file_in(get_engine(), rules, fields, options)
        ids = case.pop("photo_ids", None)
        if ids:
            case["photos"] = [photo_links(case["id"], i) for i in ids]
        return case
    with get_engine().begin() as conn:  # an abort below rolls the case back
        case = _file_in(conn, rules, fields, options)
        photo_id = photo_lib.add_link(
            conn, case["id"], link, actor=options["actor"], street_code=case["street_code"]
        )
        case["photos"] = [photo_links(case["id"], photo_id, link)]
    return case


def _add_photos(
    conn: Connection,
    case: dict[str, Any],
    photos: Sequence[Photo],
    *,
    store: photo_lib.PhotoStore,
    written: list[str],
    actor: str,
    event_id: int | None = None,
) -> None:
    ids = photo_lib.add_photos(
        conn,
        case["id"],
        photos,
        store=store,
        actor=actor,
        event_id=event_id,
        street_code=case["street_code"],
        written=written,
    )
    if ids:
        case["photos"] = [photo_links(case["id"], i) for i in ids]


def _file_in(
    bind: Engine | Connection, rules: Policy, fields: dict[str, Any], options: dict[str, Any]
) -> dict[str, Any]:
    """File the case on ``bind``; a duplicate ``external_id`` named only to who may see it."""
    try:
        return cases.create_case(bind, **fields, **options)
    except DuplicateCaseError as exc:
        if rules.may_see(exc.street_code):
            raise
        raise ConflictError(  # nothing of a case the user may not see, not even its id
            f"`external_id` was {fields.get('external_id')!r} but that external id is "
            "already taken; a case is filed only once, and nothing was stored",
            zh=f"`external_id` 为 {fields.get('external_id')!r}，但该外部编号已被使用；"
            "同一事件只能上报一次，未保存任何内容",
        ) from None


def _may_file(rules: Policy, case: Mapping[str, Any]) -> None:
    """Refuse (403) a case placed outside what the user may file in (before it is stored)."""
    if not rules.may_file(case["street_code"]):
        where = (
            f"in street {case['street_code']}"
            if case["street_code"]
            else f"in no cell (location_flag {case['location_flag']!r})"
        )
        where_zh = (
            f"街道 {case['street_code']}"
            if case["street_code"]
            else f"任何网格之外（location_flag {case['location_flag']!r}）"
        )
        raise ForbiddenError(
            f"the case falls {where} but user {signed_in_name()!r} may file cases only "
            f"in street {rules.street}; nothing was stored",
            zh=f"该事件位于{where_zh}，但用户 {signed_in_name()!r} 只能在街道 {rules.street} "
            "上报事件；未保存任何内容",
        )


@endpoint(
    bp,
    "/cases",
    method="POST",
    operation_id="createCase",
    tags=("cases",),
    roles=("admin", "street", "worker"),
    body=NewCase,
    body_types=(JSON, MULTIPART),
    upload_field="photos",
    replies=(
        Reply(
            201,
            FiledCase,
            "The case as stored, with its likely duplicates (疑似重复).",
            headers={"Location": "URL of the new case."},
            links={
                "GetCase": Link("getCase", {"case_id": "$response.body#/id"}, "The new case."),
                "AdvanceCase": Link(
                    "advanceCase", {"case_id": "$response.body#/id"}, "Move the new case on."
                ),
            },
        ),
    ),
    errors=(400, 404, 409, 413, 415),
)
def create_case(*, body: NewCase) -> tuple[Response, int, dict[str, str]]:
    """File a case by point or by address; it is routed to its cell.

    As JSON, or as `multipart/form-data`: the same fields as form fields (text) and up to
    9 photos (`GRIDGIS_PHOTO_MAX_COUNT`) in the repeatable file field `photos` (JPEG, PNG
    or HEIC, read by their bytes; HEIC is stored as JPEG). A bad photo refuses the whole request
    (400 naming each photo by position and name, with the reason), and nothing is stored."""
    photos = uploaded_photos()
    fields = {key: value for key, value in body if value is not None}
    case = file_case(**fields, reported_by=signed_in_name(), photos=photos)
    location = url_for("cases.get_case", case_id=case["id"])
    return jsonify(with_likely_duplicates(case)), 201, {"Location": location}


@endpoint(
    bp,
    "/cases/<int:case_id>",
    operation_id="getCase",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, CaseDetail, "The case, with its likely duplicates."),),
    errors=(404,),
)
def get_case(case_id: int) -> Response:
    """One case."""
    return jsonify(with_duplicates(scoped_case(case_id)))


@endpoint(
    bp,
    "/cases/<int:case_id>/steps",
    method="POST",
    operation_id="advanceCase",
    tags=("cases",),
    roles=CASE_ROLES,
    body=CaseStep,
    body_types=(JSON, MULTIPART),
    upload_field="photos",
    replies=(
        Reply(
            200,
            Case,
            "The case after the step.",
            links={
                "GetCase": Link("getCase", {"case_id": "$response.body#/id"}, "The case."),
                "AdvanceCase": Link(
                    "advanceCase", {"case_id": "$response.body#/id"}, "Its next step."
                ),
            },
        ),
    ),
    errors=(400, 404, 409, 413, 415),
)
def advance_case(case_id: int, *, body: CaseStep) -> Response:
    """Move a case to its next step, dispatch (派遣) or reassign it, return it (退单), or
    reject it (作废).

    As JSON, or as `multipart/form-data` with the fields as text and photos in the
    repeatable file field `photos` (as for filing): they belong to the step's timeline
    entry, and are stored with the step or not at all."""
    case = scoped_case(case_id)
    if not policy().may_take(case, body.step):
        raise ForbiddenError(
            f"user {signed_in_name()!r} ({policy().role}) may not take the step "
            f"{body.step!r} on case {case_id}",
            zh=f"用户 {signed_in_name()!r}（{policy().role}）不能对事件 {case_id} 执行步骤 "
            f"{body.step!r}",
        )
    photos = uploaded_photos()
    store = photo_store()
    written: list[str] = []
    try:
        with get_engine().begin() as conn:
            moved = cases.advance_case(
                conn,
                case_id,
                body.step,
                actor=signed_in_name(),
                at=body.at,
                note=body.note,
                department=body.department,
                assignee=body.assignee,
            )
            _add_photos(
                conn,
                moved,
                photos,
                store=store,
                written=written,
                actor=signed_in_name(),
                event_id=moved["event_id"],
            )
    except BaseException:
        photo_lib.discard(store, written)
        raise
    return jsonify(moved)


@endpoint(
    bp,
    "/cases/<int:case_id>/escalations",
    method="POST",
    operation_id="escalateCase",
    tags=("cases",),
    roles=("admin", "street"),
    body=CaseEscalation,
    replies=(Reply(200, Case, "The case, escalated."),),
    errors=(400, 404, 409, 413, 415),
)
def escalate_case(case_id: int, *, body: CaseEscalation) -> Response:
    """Escalate a case (督办) to the street office's leaders, with a note."""
    case = scoped_case(case_id)
    if not policy().may_take(case, "escalated"):
        raise ForbiddenError(
            f"user {signed_in_name()!r} may not escalate case {case_id}",
            zh=f"用户 {signed_in_name()!r} 不能督办事件 {case_id}",
        )
    return jsonify(
        cases.escalate_case(get_engine(), case_id, actor=signed_in_name(), note=body.note)
    )


@endpoint(
    bp,
    "/cases/<int:case_id>/notes",
    method="POST",
    operation_id="addCaseNote",
    tags=("cases",),
    roles=CASE_ROLES,
    body=CaseNote,
    replies=(Reply(201, TimelineEntry, "The note, as the timeline lists it."),),
    errors=(400, 404, 413, 415),
)
def add_case_note(case_id: int, *, body: CaseNote) -> tuple[Response, int]:
    """Add a note to a case's timeline."""
    case = scoped_case(case_id)
    if not policy().may_take(case, "note"):
        raise ForbiddenError(
            f"user {signed_in_name()!r} may not add notes to case {case_id}",
            zh=f"用户 {signed_in_name()!r} 不能给事件 {case_id} 添加备注",
        )
    return jsonify(
        cases.add_note(get_engine(), case_id, actor=signed_in_name(), note=body.note)
    ), 201


@endpoint(
    bp,
    "/cases/<int:case_id>/timeline",
    operation_id="caseTimeline",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, Timeline, "The timeline, and what this user may do now."),),
    errors=(404,),
)
def case_timeline(case_id: int) -> Response:
    """A case's timeline (report, steps, returns, escalations, merges, notes), oldest
    first, and the actions the signed-in user may take now."""
    case = scoped_case(case_id)
    events = cases.case_timeline(get_engine(), case_id)
    by_event = photo_lib.photos_by_event(get_engine(), case_id)
    for event in events:
        key = None if event["kind"] == "reported" else event["id"]
        shown = by_event.get(key, []) if key is not None or event["kind"] == "reported" else []
        event["photos"] = [photo_links(case_id, i) for i in shown]
    return jsonify(case_id=case_id, events=events, actions=list(policy().case_actions(case)))


# --- photos --------------------------------------------------------------------------------------


def photo_store() -> photo_lib.PhotoStore:
    """The app's photo store: the bucket when ``GRIDGIS_PHOTO_STORE=s3``, else the folder
    ``PHOTO_DIR`` of its config, else ``GRIDGIS_PHOTO_DIR``..."""
    return photo_lib.photo_store(current_app.config.get("PHOTO_DIR"))


def photo_links(case_id: int, photo_id: int, link: str | None = None) -> dict[str, Any]:
    """Where photo ``photo_id`` of case ``case_id`` is served (``link``: a link's own URL)."""
    if link is not None:
        return {"id": photo_id, "url": link, "thumbnail_url": None}
    return {
        "id": photo_id,
        "url": url_for("photos.case_photo", case_id=case_id, photo_id=photo_id),
        "thumbnail_url": url_for("photos.case_photo_thumbnail", case_id=case_id, photo_id=photo_id),
    }


def _problem_text(problem: PhotoProblem) -> str:
    v = problem.values
    what = gettext("第 {index} 张照片（{name}）", index=problem.index, name=problem.name)
    if problem.reason == "heic":
        return gettext(
            "{what}是 HEIC 格式，无法读取；请在手机相机设置中选择“兼容性最佳”格式，或上传 JPEG",
            what=what,
        )
    if problem.reason == "kind":
        return gettext("{what}不是 JPEG 或 PNG 图片", what=what)
    if problem.reason == "empty":
        return gettext("{what}是空文件", what=what)
    if problem.reason == "too_large":
        return gettext(
            "{what}有 {size} 字节，超过了每张照片的上限 {limit} 字节",
            what=what,
            size=v["bytes"],
            limit=v["limit"],
        )
    if problem.reason == "too_many_pixels":
        return gettext(
            "{what}有 {width}×{height} 像素，超过了上限 {limit} 像素",
            what=what,
            width=v["width"],
            height=v["height"],
            limit=v["limit"],
        )
    if problem.reason == "too_many":
        return gettext(
            "上传了 {count} 张照片，最多可以上传 {limit} 张", count=v["count"], limit=v["limit"]
        )
    return gettext("{what}无法读取：{detail}", what=what, detail=v["detail"])


def uploaded_photos() -> list[Photo]:
    """The request's photos (multipart field ``photos``), checked and stripped
    (:func:`gridgis.cases.photos.prepare_photos` with the app's limits).

    Raises
    ------
    PhotoError
        (400) naming every photo refused, in the request's language; nothing is stored.
    """
    files = uploads("photos")
    if not files:
        return []
    config_ = current_app.config
    try:
        return photo_lib.prepare_photos(
            files,
            max_bytes=config_["PHOTO_MAX_BYTES"],
            max_count=config_["PHOTO_MAX_COUNT"],
            max_pixels=config_["PHOTO_MAX_PIXELS"],
        )
    except PhotoError as exc:
        texts = [_problem_text(p) for p in exc.problems]
        refused = PhotoError(problems=exc.problems)
        refused.args = ("；".join(texts) + gettext("；未保存任何内容。"),)
        raise refused from None


def case_filters(query: CaseQuery) -> dict[str, Any]:
    """The filters of :func:`gridgis.cases.list_cases` for ``query``, kept to the cases the
    signed-in user sees: an area filter outside a street office's street is 403."""
    rules = policy()
    filters = dict(query)
    if filters.get("category") and "," in filters["category"]:  # several: any of them
        filters["category"] = [c.strip() for c in filters["category"].split(",") if c.strip()]
    if rules.role in ("worker", "department"):
        for key in ("street", "community", "cell"):
            if filters[key] is not None and not rules.may_see(filters[key]):
                raise rules.refusal(key, filters[key])
    else:
        filters["street"] = rules.street_filter(query.street)
        for key in ("community", "cell"):
            filters[key] = rules.area_filter(key, filters[key])
    own = rules.case_filters()
    for key, value in own.items():
        if key in ("department",) and filters.get(key) not in (None, value):
            raise rules.refusal(key, filters[key])
        filters[key] = value
    return filters


@endpoint(
    bp,
    "/cases",
    operation_id="listCases",
    tags=("cases",),
    roles=CASE_ROLES,
    query=CaseQuery,
    replies=(
        Reply(
            200,
            CaseList,
            "The cases.",
            links={
                "GetFirstCase": Link(
                    "getCase", {"case_id": "$response.body#/cases/0/id"}, "The first case listed."
                )
            },
        ),
    ),
    errors=(404,),
)
def list_cases(*, query: CaseQuery) -> Response:
    """Cases, newest first, filtered."""
    found = cases.list_cases(get_engine(), **case_filters(query))
    return jsonify(cases=found, limit=query.limit, offset=query.offset)


@endpoint(
    bp,
    "/cases/stats",
    operation_id="caseStats",
    tags=("cases",),
    query=CaseStatsQuery,
    replies=(Reply(200, CaseStats, "One row per area."),),
)
def case_stats(*, query: CaseStatsQuery) -> Response:
    """Case figures per area: counts, 结案率, 按期结案率."""
    frame = cases.case_stats(get_engine(), **dict(query))
    rules = policy()
    if rules.street is not None:  # its own areas; not the row of cases in no area
        frame = frame[[rules.may_see(code) for code in frame["code"]]]
    return jsonify(level=query.level, layout=query.layout, rows=_records(frame))


@endpoint(
    bp,
    "/categories",
    operation_id="listCategories",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, Categories, "The categories."),),
)
def categories() -> Response:
    """Case categories with their time limits to close."""
    return jsonify(cases.case_categories(get_engine()))


# --- likely duplicates (疑似重复; the routes are gridgis.web.duplicates_api's) ---------------


def visible_duplicates(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The likely duplicates the user may see (a street office: those in its street; a
    grid worker or department: the cases it sees)."""
    rules = policy()
    if rules.role in ("worker", "department"):
        engine = get_engine()
        return [row for row in found if rules.may_see_case(cases.get_case(engine, row["id"]))]
    return [row for row in found if rules.may_see(row["street_code"])]


def with_likely_duplicates(case: dict[str, Any]) -> dict[str, Any]:
    """``case`` (just filed) with ``likely_duplicates``: the open cases it may repeat.

    Looked up after the case is stored, apart from the tuned filing itself.
    """
    found = cases.likely_duplicates(
        get_engine(),
        case["id"],
        category=case["category"],
        lon=case["lon"],
        lat=case["lat"],
        at=dt.datetime.fromisoformat(case["reported_at"]),
    )
    return case | {"likely_duplicates": visible_duplicates(found)}


def with_duplicates(case: dict[str, Any]) -> dict[str, Any]:
    """``case`` with its ``duplicates`` (both ways) and the cases ``merged_from`` it."""
    engine = get_engine()
    return case | {
        "duplicates": visible_duplicates(cases.duplicates_of(engine, case["id"])),
        "merged_from": cases.merged_from(engine, case["id"]),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts: NaN becomes null, numpy numbers Python ones."""
    return [json_value(row) for row in frame.to_dict(orient="records")]
