"""The case intake API (事件上报) under ``/api``: JSON in, JSON out.

Routes
------
``POST /api/cases``
    File a case (body: :data:`NewCase` of the OpenAPI document: ``category``,
    ``lon``/``lat`` [+ ``crs``] or ``address``, ``description``, ``source``,
    ``external_id``, ``reported_by``, ``reported_at``). Answers 201 with the
    case and a ``Location`` header.
``GET /api/cases/<id>``
    One case.
``POST /api/cases/<id>/steps``
    Move a case on (body ``{"step", "actor", "at"}``); answers the case.
``GET /api/cases?street=&community=&cell=&category=&step=&overdue=&since=&until=&limit=&offset=``
    ``{"cases": [...], "limit": n, "offset": n}``, newest report first.
``GET /api/cases/stats?level=&layout=&since=&until=``
    ``{"level", "layout", "rows": [...]}``: counts, 结案率 and 按期结案率 per area.
``GET /api/categories``
    The categories with their Chinese and English names and time limits.

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

import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for

from gridgis import cases
from gridgis.errors import ConfigError, NotFoundError
from gridgis.web.db import get_engine
from gridgis.web.openapi import read_body, read_query

if TYPE_CHECKING:
    from gridgis.address import AddressBook

__all__ = ["ADDRESS_BOOK_SECONDS", "address_book", "bp", "intake_cache", "intake_durable"]

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
    >>> with app.app_context():  # doctest: +SKIP
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
    >>> with app.app_context():  # doctest: +SKIP
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
    >>> intake_durable(create_app({"INTAKE_SYNC_COMMIT": "off"}))  # doctest: +SKIP
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


@bp.post("/cases")
def create_case() -> tuple[Response, int, dict[str, str]]:
    """File a case; answer it with 201 and its URL in ``Location``."""
    body = read_body({"$ref": "#/components/schemas/NewCase"}, what="case")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    book = None
    if "address" in body and "lon" not in body:
        book = address_book(app)
    case = cases.create_case(
        get_engine(), **body, book=book, cache=intake_cache(app), durable=intake_durable(app)
    )
    location = url_for("cases.get_case", case_id=case["id"])
    return jsonify(case), 201, {"Location": location}


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int) -> Response:
    """Answer one case."""
    return jsonify(cases.get_case(get_engine(), _case_id(case_id)))


@bp.post("/cases/<int:case_id>/steps")
def advance_case(case_id: int) -> Response:
    """Move a case to its next step (or reject it); answer the case after it."""
    case_id = _case_id(case_id)
    body = read_body({"$ref": "#/components/schemas/CaseStep"}, what="step")
    step = body.pop("step")
    return jsonify(cases.advance_case(get_engine(), case_id, step, **body))


@bp.get("/cases")
def list_cases() -> Response:
    """Answer the cases that match the query, newest first."""
    query = read_query("listCases", request.args)
    found = cases.list_cases(get_engine(), **query)
    return jsonify(cases=found, limit=query["limit"], offset=query["offset"])


@bp.get("/cases/stats")
def case_stats() -> Response:
    """Answer the case figures per cell, community or street office."""
    query = read_query("caseStats", request.args)
    frame = cases.case_stats(get_engine(), **query)
    return jsonify(level=query["level"], layout=query["layout"], rows=_records(frame))


@bp.get("/categories")
def categories() -> Response:
    """Answer the case categories with their time limits."""
    return jsonify(cases.case_categories(get_engine()))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts: NaN becomes null, numpy numbers Python ones."""
    return [
        {str(key): _plain(value) for key, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _plain(value.item())
    return value
