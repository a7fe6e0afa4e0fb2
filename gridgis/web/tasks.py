"""A user's work on cases (待办) as JSON, and the counts the navigation bar shows.

Routes
------
``GET /api/tasks?limit=``
    ``{"lists": {name: {"count", "cases"}}, "total"}``: the lists of
    :func:`gridgis.cases.tasks.task_lists` for the signed-in user (``handle``,
    ``verify``, ``escalated``, ``overdue``; only those it has), each with its count
    and its first ``limit`` cases (default 10), nearest deadline first; ``total``
    counts the cases to handle or verify.

Every role may call it (a department too); an analyst has no lists.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify

from gridgis import cases
from gridgis.access import CASE_ROLES
from gridgis.cases.tasks import task_lists
from gridgis.schemas.tasks import TaskQuery, Tasks
from gridgis.web.auth import policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["BADGE_LISTS", "bp", "task_counts", "user_tasks"]

bp = Blueprint("tasks", __name__, url_prefix="/api")

BADGE_LISTS: tuple[str, ...] = ("handle", "verify")
"""The lists the navigation's badge counts."""


def task_counts() -> dict[str, int]:
    """The number of cases in each of the signed-in user's lists of work (one query; read
    once per request), and ``total``: those to handle or verify."""
    cached: dict[str, int] | None = g.get("gridgis_task_counts")
    if cached is None:
        counts = cases.count_cases(get_engine(), task_lists(policy()))
        counts["total"] = sum(counts.get(name, 0) for name in BADGE_LISTS)
        g.gridgis_task_counts = cached = counts
    return cached


@endpoint(
    bp,
    "/tasks",
    operation_id="listTasks",
    tags=("cases",),
    roles=CASE_ROLES,
    query=TaskQuery,
    replies=(Reply(200, Tasks, "The signed-in user's lists of work."),),
)
def list_tasks(*, query: TaskQuery) -> Response:
    """The cases the signed-in user has to handle, verify or follow, and those overdue."""
    return jsonify(lists=user_tasks(query.limit), total=task_counts()["total"])


def user_tasks(limit: int) -> dict[str, dict[str, Any]]:
    """The signed-in user's lists of work by name: ``count`` and the first ``limit``
    ``cases``, nearest deadline first."""
    counts = task_counts()
    out: dict[str, dict[str, Any]] = {}
    for name, filters in task_lists(policy()).items():
        found = (
            cases.list_cases(get_engine(), **filters, order="deadline", limit=limit)
            if limit and counts[name]
            else []
        )
        out[name] = {"count": counts[name], "cases": found}
    return out
