"""Deadlines: each category's time limit in hours; when a case is overdue or closed late."""

from __future__ import annotations

import datetime as dt

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    and_,
    cast,
    false,
    func,
    literal,
    update,
)
from sqlalchemy.orm import aliased

from gridgis import audit
from gridgis.cases.categories import case_categories, load_categories
from gridgis.db import queries
from gridgis.db.models import Case, CaseCategory
from gridgis.errors import InputError

MAX_DEADLINE_HOURS = 24 * 366
"""The longest time limit a category may have (a year)."""

_AWARE = DateTime(timezone=True)


def is_overdue(
    now: dt.datetime | ColumnElement[dt.datetime], cases: type[Case] = Case
) -> ColumnElement[bool]:
    """Whether a case is overdue (超期) at ``now``: still open (neither closed nor rejected)
    and past its deadline; never NULL. For the queries of other modules too.

    A case closed after its deadline is not overdue but closed late (逾期结案,
    :func:`is_closed_late`).

    Parameters
    ----------
    now:
        The time (aware), or an expression of it (e.g. a ``bindparam``).
    cases:
        The case rows: :class:`~gridgis.db.models.Case`, or an alias of it.

    Examples
    --------
    >>> from sqlalchemy import select
    >>> late = select(Case.id).where(is_overdue(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    """
    moment = cast(now, _AWARE) if isinstance(now, ColumnElement) else literal(now, _AWARE)
    return func.coalesce(
        and_(cases.closed_at.is_(None), cases.rejected_at.is_(None), moment > cases.deadline),
        false(),
    )


def is_closed_on_time(cases: type[Case] = Case) -> ColumnElement[bool]:
    """Whether a case was closed by its deadline (按期结案): ``closed_at <= deadline``.

    NULL (not counted by a ``count().filter``) for an open case or one without a
    deadline; with :func:`is_closed_late` it splits the closed cases with a deadline.

    Examples
    --------
    >>> from sqlalchemy import select
    >>> on_time = select(Case.id).where(is_closed_on_time())
    """
    return cases.closed_at <= cases.deadline


def is_closed_late(cases: type[Case] = Case) -> ColumnElement[bool]:
    """Whether a case was closed after its deadline (逾期结案); never NULL.

    The complement, among closed cases with a deadline, of 按期结案 (``closed_at <=
    deadline``), so that 按期结案率 and the count closed late always add up.

    Parameters
    ----------
    cases:
        The case rows: :class:`~gridgis.db.models.Case`, or an alias of it.

    Examples
    --------
    >>> from sqlalchemy import select
    >>> late = select(Case.id).where(is_closed_late())
    """
    return func.coalesce(cases.closed_at > cases.deadline, false())


def deadline_hours(connection: Engine | Connection) -> dict[str, int]:
    """The time limit of each case category, in hours (table ``case_category``).

    Examples
    --------
    >>> deadline_hours(engine)["fire_safety"]
    72
    """
    return {c["code"]: int(c["deadline_hours"]) for c in case_categories(connection)}


def set_deadline_hours(
    connection: Engine | Connection, category: str, hours: int, *, actor: str
) -> None:
    """Change the time limit of a case category (``actor`` is recorded in the audit trail).

    Cases filed from then on get the new limit; cases already filed keep the
    deadline they were filed with.

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    category:
        The category's code (``"fire_safety"``), Chinese or English name
        (``"消防安全"``, ``"Fire safety"``), as :class:`CaseCategories` reads them.
    hours:
        The new limit, 1 to :data:`MAX_DEADLINE_HOURS`.

    Raises
    ------
    InputError
        When ``hours`` is not a whole number in that range.
    NotFoundError
        When the category does not exist (the message lists those that do).

    Examples
    --------
    >>> set_deadline_hours(engine, "fire_safety", 48, actor="admin")
    """
    if (
        isinstance(hours, bool)
        or not isinstance(hours, int | np.integer)
        or not 1 <= int(hours) <= MAX_DEADLINE_HOURS
    ):
        raise InputError(
            f"`hours` was {hours!r} but is expected to be a whole number of hours from 1 to "
            f"{MAX_DEADLINE_HOURS}",
            zh=f"`hours` 为 {hours!r}，应为 1 到 {MAX_DEADLINE_HOURS} 之间的整数小时",
        )
    with queries.transaction(connection) as conn:
        code = load_categories(conn).resolve(category)
        before = aliased(CaseCategory, name="old")
        old = conn.execute(
            update(CaseCategory)
            .values(deadline_hours=int(hours))
            .where(before.code == CaseCategory.code, CaseCategory.code == code)
            .returning(before.deadline_hours)
        ).scalar_one()
        if old != int(hours):
            audit.record(
                conn,
                actor=actor,
                action="update",
                object_type="category",
                object_id=code,
                before={"deadline_hours": old},
                after={"deadline_hours": int(hours)},
            )
