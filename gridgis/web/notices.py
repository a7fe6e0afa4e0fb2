"""The inbox (消息): the signed-in user's notices, as JSON and as a page; the webhook
worker of each web process.

Routes
------
``GET /api/notices?unread=&limit=&offset=``
    ``{"notices": [...], "unread": n, "limit", "offset"}``, newest first.
``GET /api/notices/count``
    ``{"unread": n}`` (one index-only query).
``POST /api/notices/<id>/read``
    Mark one notice read; answers it. Another user's notice is 404.
``POST /api/notices/read``
    Mark every notice read: ``{"marked": n, "unread": 0}``.
``GET /notices``, ``POST /notices``
    The inbox page (unread first marked), and its form: ``notice`` = an id or ``all``.

Every role has an inbox (``roles=CASE_ROLES``, a department too); a user only ever
sees its own notices. Marking its own notices read is the one change an analyst may
make besides its password (:data:`gridgis.web.auth._ANALYST_ALLOWED`).

The webhook worker: :func:`init_app` starts one
:class:`gridgis.webhooks.DeliveryWorker` per process at its first request (after a
fork, so every gunicorn worker has its own), unless ``WEBHOOK_WORKER`` is false
(tests, by default).
"""

from __future__ import annotations

import datetime as dt
import os
import threading

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gridgis import notices
from gridgis.access import CASE_ROLES
from gridgis.errors import InputError, NotFoundError
from gridgis.schemas.common import MAX_ID
from gridgis.schemas.notices import Notice, NoticeList, NoticeQuery, NoticesRead, UnreadCount
from gridgis.web.auth import current_user, roles_required
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["api_bp", "bp", "init_app"]

api_bp = Blueprint("notices", __name__, url_prefix="/api")
bp = Blueprint("notice_pages", __name__)

PAGE_SIZE = 50
"""Notices on one page of the inbox."""

_worker_lock = threading.Lock()
_workers: dict[int, object] = {}


def _user_id() -> int:
    user = current_user()
    assert user is not None  # the route is guarded
    return user.id


@endpoint(
    api_bp,
    "/notices",
    operation_id="listNotices",
    tags=("notices",),
    roles=CASE_ROLES,
    query=NoticeQuery,
    replies=(Reply(200, NoticeList, "The signed-in user's notices, newest first."),),
)
def list_notices(*, query: NoticeQuery) -> Response:
    """The signed-in user's notices, newest first."""
    engine, user = get_engine(), _user_id()
    found = notices.list_notices(
        engine, user, unread=query.unread, limit=query.limit, offset=query.offset
    )
    return jsonify(
        notices=found,
        unread=notices.count_unread(engine, user),
        limit=query.limit,
        offset=query.offset,
    )


@endpoint(
    api_bp,
    "/notices/count",
    operation_id="countUnreadNotices",
    tags=("notices",),
    roles=CASE_ROLES,
    replies=(Reply(200, UnreadCount, "How many notices are unread."),),
)
def count_notices() -> Response:
    """How many of the signed-in user's notices are unread."""
    return jsonify(unread=notices.count_unread(get_engine(), _user_id()))


@endpoint(
    api_bp,
    "/notices/<int:notice_id>/read",
    method="POST",
    operation_id="readNotice",
    tags=("notices",),
    roles=CASE_ROLES,
    replies=(Reply(200, Notice, "The notice, read."),),
    errors=(404, 413, 415),
)
def mark_read(notice_id: int) -> Response:
    """Mark one of the signed-in user's notices read."""
    if not 1 <= notice_id <= MAX_ID:
        raise NotFoundError(f"notice {notice_id} does not exist", zh=f"消息 {notice_id} 不存在")
    return jsonify(notices.mark_read(get_engine(), _user_id(), notice_id))


@endpoint(
    api_bp,
    "/notices/read",
    method="POST",
    operation_id="readAllNotices",
    tags=("notices",),
    roles=CASE_ROLES,
    replies=(Reply(200, NoticesRead, "Every notice is read."),),
    errors=(413, 415),
)
def mark_all_read() -> Response:
    """Mark every notice of the signed-in user read."""
    return jsonify(marked=notices.mark_all_read(get_engine(), _user_id()), unread=0)


def _page_number() -> int:
    value = request.args.get("page", "1").strip() or "1"
    if not value.isdigit() or not 1 <= int(value) <= 100_000:
        raise InputError(
            f"`page` was {value!r} but is expected to be a whole number from 1",
            zh=f"`page`（页码）为 {value!r}，应为从 1 起的整数",
        )
    return int(value)


@bp.get("/notices")
@roles_required(*CASE_ROLES)
def inbox() -> str:
    """The inbox page: the user's notices, newest first, unread ones marked."""
    engine, user = get_engine(), _user_id()
    page = _page_number()
    rows = notices.list_notices(engine, user, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    for row in rows:  # the page shows times at +08:00 (the `local_time` filter)
        row["created_at"] = dt.datetime.fromisoformat(row["created_at"])
    return render_template(
        "notices.html",
        rows=rows[:PAGE_SIZE],
        unread=notices.count_unread(engine, user),
        page=page,
        previous_url=url_for(".inbox", page=page - 1) if page > 1 else None,
        next_url=url_for(".inbox", page=page + 1) if len(rows) > PAGE_SIZE else None,
    )


@bp.post("/notices")
@roles_required(*CASE_ROLES)
def read_from_page() -> BaseResponse:
    """The inbox's form: mark one notice (``notice`` = its id) or ``all`` read."""
    which = request.form.get("notice", "").strip()
    engine, user = get_engine(), _user_id()
    if which == "all":
        notices.mark_all_read(engine, user)
    elif which.isdigit() and len(which) <= 19 and 1 <= int(which) <= MAX_ID:
        notices.mark_read(engine, user, int(which))
    else:
        raise InputError(
            f"`notice` was {which[:40]!r} but is expected to be an id or 'all'",
            zh=f"`notice` 为 {which[:40]!r}，应为消息编号或 'all'",
        )
    return redirect(url_for(".inbox"))


def _start_worker(app: Flask) -> None:
    """Start this process's webhook worker, once (a forked process starts its own)."""
    pid = os.getpid()
    if pid in _workers:
        return
    from gridgis.webhooks import DeliveryWorker

    with _worker_lock:
        if pid not in _workers:
            _workers[pid] = DeliveryWorker(get_engine()).start()


def init_app(app: Flask) -> None:
    """Register the inbox's API and page; start the webhook worker on the first request
    unless ``WEBHOOK_WORKER`` is false (the default when testing)."""
    app.register_blueprint(api_bp)
    app.register_blueprint(bp)
    app.config.setdefault("WEBHOOK_WORKER", not app.testing)

    @app.before_request
    def _webhook_worker() -> None:
        if app.config["WEBHOOK_WORKER"]:
            _start_worker(app)
