"""The case intake API (事件上报) under ``/api``: JSON in, JSON out.

Routes
------
``POST /api/cases``
    File a case (body: :data:`NewCase` of the OpenAPI document: ``category``,
    ``lon``/``lat`` [+ ``crs``] or ``address``, ``description``, ``source``,
    ``external_id``, ``reported_at``). Answers 201 with the case and a
    ``Location`` header.
``GET /api/cases/<id>``
    One case.
``POST /api/cases/<id>/steps``
    Move a case on (body ``{"step", "at"}``); answers the case.
``GET /api/cases?street=&community=&cell=&category=&step=&overdue=&since=&until=&limit=&offset=``
    ``{"cases": [...], "limit": n, "offset": n}``, newest report first.
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

Who is recorded: ``reported_by`` of a new case and ``<step>_by`` of a step
are the name of the signed-in user (or the token's user). The request cannot
name someone else: the bodies have no such field.

The views only translate: each request is checked against the OpenAPI
document (:mod:`gridgis.web.openapi`) and answered 4xx with
``{"error": message}`` when it breaks it; the work is done by
:mod:`gridgis.cases`.

Filing is the hot path: each server process keeps one
:class:`gridgis.cases.IntakeCache` (:func:`intake_cache`: the active cells and
the categories in memory, checked against the newest published layout by the
insert itself, so a redraw applies to the very next case) and, for cases by
address, one address book (:func:`address_book`). ``GRIDGIS_INTAKE_SYNC_COMMIT``
(:func:`intake_durable`, default ``on``) can let new cases be answered before
they reach the disk.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request, url_for

from gridgis import cases
from gridgis.errors import ConfigError, ConflictError, DuplicateCaseError, NotFoundError
from gridgis.web.auth import current_user, in_scope, login_required, roles_required, scope
from gridgis.web.db import get_engine
from gridgis.web.geojson import json_value
from gridgis.web.openapi import read_body, read_query

if TYPE_CHECKING:
    from gridgis.address import AddressBook

__all__ = [
    "ADDRESS_BOOK_SECONDS",
    "address_book",
    "bp",
    "file_case",
    "intake_cache",
    "intake_durable",
    "scoped_case",
    "scoped_filter",
    "signed_in_name",
]

bp = Blueprint("cases", __name__, url_prefix="/api")

ADDRESS_BOOK_SECONDS = 300.0
"""How long an app process reuses its address book before reloading the buildings."""
_BOOK_KEY = "gridgis_address_book"
_CACHE_KEY = "gridgis_intake_cache"
_MAX_CASE_ID = 2**63 - 1
_book_lock = threading.Lock()
_cache_lock = threading.Lock()


def address_book(app: Flask) -> AddressBook:
    """Return the app's address book, loaded at most every :data:`ADDRESS_BOOK_SECONDS`.

    Matching an address needs every building of the district; loading them
    for each request would cost far more than the match, so each app
    process keeps one book and reloads it when it is older than the limit.

    Examples
    --------
    >>> with app.app_context():
    ...     book = address_book(app)
    """
    from gridgis.address import load_address_book

    cached: tuple[float, AddressBook] | None = app.extensions.get(_BOOK_KEY)
    now = time.monotonic()
    if cached is not None and now - cached[0] < ADDRESS_BOOK_SECONDS:
        return cached[1]
    with _book_lock:
        cached = app.extensions.get(_BOOK_KEY)
        if cached is None or now - cached[0] >= ADDRESS_BOOK_SECONDS:
            with get_engine().connect() as conn:
                cached = (time.monotonic(), load_address_book(conn))
            app.extensions[_BOOK_KEY] = cached
    return cached[1]


def intake_cache(app: Flask) -> cases.IntakeCache:
    """Return the app's :class:`gridgis.cases.IntakeCache` (cells and categories in memory).

    One per app, so one per server process; cases filed through it are checked
    against the newest published layout by the insert itself (see the class for how
    fresh it is). ``INTAKE_CACHE_SECONDS`` in the app's config sets its ``max_age``.

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
                cache = cases.IntakeCache(max_age=app.config.get("INTAKE_CACHE_SECONDS", 60.0))
                app.extensions[_CACHE_KEY] = cache
    return cache


def intake_durable(app: Flask) -> bool:
    """Whether a new case is on disk before it is answered (the default) or just after.

    ``INTAKE_SYNC_COMMIT`` in the app's config, else the environment variable
    ``GRIDGIS_INTAKE_SYNC_COMMIT``: ``on`` (default) or ``off``. With ``off``,
    :func:`gridgis.cases.create_case` runs with ``durable=False``: each case is
    answered before PostgreSQL has flushed it to disk, so a crash of the database
    server may lose the cases of its last fraction of a second (never corrupting
    anything). Worth it only where clients retry (with ``external_id``) and the disk's
    flushes are slow; ``scripts/bench/intake.py --sync-commit off`` measures it.

    Examples
    --------
    >>> from gridgis.web import create_app
    >>> intake_durable(create_app({"INTAKE_SYNC_COMMIT": "off"}))
    False
    """
    value = app.config.get("INTAKE_SYNC_COMMIT") or os.environ.get("GRIDGIS_INTAKE_SYNC_COMMIT")
    setting = (value or "on").strip().lower()
    if setting not in ("on", "off"):
        raise ConfigError(
            f"GRIDGIS_INTAKE_SYNC_COMMIT was {value!r} but is expected to be 'on' or 'off'"
        )
    return setting == "on"


def _case_id(case_id: int) -> int:
    if case_id < 1 or case_id > _MAX_CASE_ID:
        raise NotFoundError(f"case {case_id} does not exist")
    return case_id


def signed_in_name() -> str:
    """The name of the user making this request (the caller has required a login)."""
    user = current_user()
    if user is None:  # pragma: no cover - every caller is behind login_required
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
    case = cases.get_case(get_engine(), _case_id(case_id))
    if not in_scope(case["street_code"]):
        raise NotFoundError(f"case {case_id} does not exist")
    return case


def scoped_filter(key: str, value: str | None) -> str | None:
    """An area filter (street, community or cell code), refused (403) outside the user's street.

    Examples
    --------
    >>> from gridgis.users import add_user, issue_token
    >>> _ = add_user(
    ...     engine, "zhenhai", role="street", street="350304001", password="s3cret-pass"
    ... )
    >>> signed_in = {"Authorization": "Bearer " + issue_token(engine, "zhenhai")}
    >>> with app.test_request_context("/api/cases", headers=signed_in):
    ...     app.preprocess_request()  # reads the token
    ...     scoped_filter("community", "350304002001")
    Traceback (most recent call last):
    werkzeug.exceptions.Forbidden: 403 Forbidden: `community` was '350304002001' but user ...
    """
    own = scope()
    if own is None or value is None or value.startswith(own):
        return value
    abort(403, f"`{key}` was {value!r} but user {signed_in_name()!r} may see only street {own}")


def file_case(**fields: Any) -> dict[str, Any]:
    """File a case with :func:`gridgis.cases.create_case`, within what the user may file.

    ``fields`` are the case's (``category``, ``lon``, ``lat``, ``address``...);
    the app's intake cache, address book and durability setting are added.
    For a street office the case is located and stored in one transaction that
    is rolled back, and answered 403, unless the case falls in its street: a
    case in another street, or placed in no cell at all, is not stored. An
    ``external_id`` already taken is answered 409 naming the case that has it
    only when the user may see that case; otherwise the answer says nothing of it.

    Examples
    --------
    >>> from gridgis.users import add_user, issue_token
    >>> _ = add_user(
    ...     engine, "wang", role="street", street="350304001", password="s3cret-pass"
    ... )
    >>> signed_in = {"Authorization": "Bearer " + issue_token(engine, "wang")}
    >>> with app.test_request_context("/api/cases", headers=signed_in):
    ...     app.preprocess_request()  # reads the token
    ...     file_case(category="fire_safety", lon=119.02, lat=25.40, reported_by="王芳")
    {'id': 5001, ...}
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    book = None
    if fields.get("address") is not None and fields.get("lon") is None:
        book = address_book(app)
    options: dict[str, Any] = {
        "book": book,
        "cache": intake_cache(app),
        "durable": intake_durable(app),
    }
    own = scope()
    if own is None:
        return cases.create_case(get_engine(), **fields, **options)
    with get_engine().begin() as conn:  # an abort below rolls the case back
        try:
            case = cases.create_case(conn, **fields, **options)
        except DuplicateCaseError as exc:
            if in_scope(exc.street_code):
                raise
            raise ConflictError(  # nothing of a case the user may not see, not even its id
                f"`external_id` was {fields.get('external_id')!r} but that external id is "
                "already taken; a case is filed only once, and nothing was stored"
            ) from None
        if not in_scope(case["street_code"]):
            where = (
                f"in street {case['street_code']}"
                if case["street_code"]
                else f"in no cell (location_flag {case['location_flag']!r})"
            )
            abort(
                403,
                f"the case falls {where} but user {signed_in_name()!r} may file cases only "
                f"in street {own}; nothing was stored",
            )
    return case


@bp.post("/cases")
@roles_required("admin", "street")
def create_case() -> tuple[Response, int, dict[str, str]]:
    """File a case; answer it with 201 and its URL in ``Location``."""
    body = read_body({"$ref": "#/components/schemas/NewCase"}, what="case")
    case = file_case(**body, reported_by=signed_in_name())
    location = url_for("cases.get_case", case_id=case["id"])
    return jsonify(case), 201, {"Location": location}


@bp.get("/cases/<int:case_id>")
@login_required
def get_case(case_id: int) -> Response:
    """Answer one case."""
    return jsonify(scoped_case(case_id))


@bp.post("/cases/<int:case_id>/steps")
@roles_required("admin", "street")
def advance_case(case_id: int) -> Response:
    """Move a case to its next step (or reject it); answer the case after it."""
    case_id = scoped_case(case_id)["id"]
    body = read_body({"$ref": "#/components/schemas/CaseStep"}, what="step")
    step = body.pop("step")
    return jsonify(cases.advance_case(get_engine(), case_id, step, actor=signed_in_name(), **body))


@bp.get("/cases")
@login_required
def list_cases() -> Response:
    """Answer the cases that match the query, newest first."""
    query = read_query("listCases", request.args)
    for key in ("street", "community", "cell"):
        query[key] = scoped_filter(key, query.get(key))
    if query["street"] is None:
        query["street"] = scope()
    found = cases.list_cases(get_engine(), **query)
    return jsonify(cases=found, limit=query["limit"], offset=query["offset"])


@bp.get("/cases/stats")
@login_required
def case_stats() -> Response:
    """Answer the case figures per cell, community or street office (a street office: its own)."""
    query = read_query("caseStats", request.args)
    frame = cases.case_stats(get_engine(), **query)
    own = scope()
    if own is not None:  # its own areas; not the row of cases in no area
        frame = frame[frame["code"].fillna("").str.startswith(own)]
    return jsonify(level=query["level"], layout=query["layout"], rows=_records(frame))


@bp.get("/categories")
@login_required
def categories() -> Response:
    """Answer the case categories with their time limits."""
    return jsonify(cases.case_categories(get_engine()))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts: NaN becomes null, numpy numbers Python ones."""
    return [json_value(row) for row in frame.to_dict(orient="records")]
