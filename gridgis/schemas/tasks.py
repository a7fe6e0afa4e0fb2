"""A user's work on cases (待办): the lists of :mod:`gridgis.cases.tasks` with their counts.

Examples
--------
>>> TaskQuery().limit
10
"""

from __future__ import annotations

from pydantic import Field

from gridgis.schemas.cases import Case
from gridgis.schemas.common import Answer, Request

__all__ = ["TaskList", "TaskQuery", "Tasks"]

MAX_TASK_LIMIT = 100
"""The most cases of each list one answer gives."""


class TaskQuery(Request):
    """How many cases of each list to give (the first page, oldest deadline first)."""

    limit: int = Field(10, ge=0, le=MAX_TASK_LIMIT, description="At most this many per list.")


class TaskList(Answer):
    """One list of work: how many cases it holds, and the first of them."""

    count: int = Field(ge=0)
    cases: list[Case]  # type: ignore[valid-type]


class Tasks(Answer):
    """The signed-in user's work: ``handle`` (to register, dispatch, handle or close),
    ``verify`` (a grid worker's cases to verify), ``escalated`` (督办, still open),
    ``overdue`` (超期); only the lists the user has (none for an analyst)."""

    lists: dict[str, TaskList]
    total: int = Field(ge=0, description="Cases to handle or verify (the navigation's badge).")
