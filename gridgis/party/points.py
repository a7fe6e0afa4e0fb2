"""Points of party members (党员积分): activity is recorded with the points its rule gives.

A rule (table ``point_rule``) says what one kind of activity is worth: so many
points each (a visit, a meeting attended) or per hour (volunteer service). Every
piece of recorded activity (``party_activity``) keeps the points it earned when it
was recorded, so a later change of a rule does not rewrite last year's ranking.

:func:`record_activity` is the one way activity enters the ledger: a logged visit
(大走访) calls it with ``source="visit"`` and the visit's id, an import with
``source="import"``; recording the same source row twice for a member changes
nothing (the row is kept once).

Examples
--------
>>> with engine.begin() as conn:  # doctest: +SKIP
...     record_activity(conn, member_id=12, kind="volunteer", occurred_on=dt.date(2026, 5, 1),
...                     hours=Decimal("2.5"), actor="cli:li")
Decimal('2.50')
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert

from gridgis.db.models import ACTIVITY_SOURCES, PartyActivity, PointRule
from gridgis.errors import InputError, NotFoundError

__all__ = ["points_for", "record_activity"]


def points_for(conn: Connection, kind: str, hours: Decimal | None = None) -> Decimal:
    """The points one activity of ``kind`` earns now (``hours`` of it, for a rule per hour).

    Raises
    ------
    NotFoundError
        When no rule names ``kind`` (naming the kinds there are).
    InputError
        When the rule counts hours and ``hours`` is missing or not above 0.
    """
    rule = conn.execute(
        select(PointRule.points, PointRule.per).where(PointRule.kind == kind)
    ).one_or_none()
    if rule is None:
        known = list(conn.execute(select(PointRule.kind).order_by(PointRule.kind)).scalars())
        raise NotFoundError(
            f"`kind` was {kind!r} but is expected to be one of {known}",
            field="kind",
            zh=f"`kind` 为 {kind!r}，应为以下之一：{known}",
        )
    if rule.per == "each":
        return Decimal(rule.points)
    if hours is None or not hours > 0:
        raise InputError(
            f"`hours` was {hours!r} but a {kind} is counted per hour: give hours above 0",
            field="hours",
            zh=f"`hours` 为 {hours!r}，但 {kind} 按小时计分：请给出大于 0 的小时数",
        )
    return (Decimal(rule.points) * Decimal(hours)).quantize(Decimal("0.01"))


def record_activity(
    conn: Connection,
    *,
    member_id: int,
    kind: str,
    occurred_on: dt.date,
    hours: Decimal | None = None,
    source: str = "manual",
    source_id: int | None = None,
    note: str | None = None,
    actor: str,
) -> Decimal:
    """Record one activity of member ``member_id`` with the points its rule gives now.

    Runs on the caller's connection (in its transaction). The same ``source`` row
    (``source``, ``source_id``) is recorded once per member: a second call changes
    nothing and returns the points first recorded.

    Returns
    -------
    Decimal
        The points the activity earned.

    Raises
    ------
    InputError
        For an unknown ``source`` or missing hours (see :func:`points_for`).
    NotFoundError
        For a kind no rule names.
    """
    if source not in ACTIVITY_SOURCES:
        raise InputError(
            f"`source` was {source!r} but is expected to be one of {list(ACTIVITY_SOURCES)}",
            field="source",
            zh=f"`source` 为 {source!r}，应为以下之一：{list(ACTIVITY_SOURCES)}",
        )
    points = points_for(conn, kind, hours)
    statement = (
        insert(PartyActivity)
        .values(
            member_id=member_id,
            kind=kind,
            occurred_on=occurred_on,
            hours=hours,
            points=points,
            source=source,
            source_id=source_id,
            note=note,
            recorded_by=actor,
        )
        .on_conflict_do_nothing(
            index_elements=["source", "source_id", "member_id"],
            index_where=PartyActivity.source_id.is_not(None),
        )
        .returning(PartyActivity.points)
    )
    stored = conn.execute(statement).scalar_one_or_none()
    if stored is not None:
        return Decimal(stored)
    earlier = conn.execute(
        select(PartyActivity.points).where(
            PartyActivity.source == source,
            PartyActivity.source_id == source_id,
            PartyActivity.member_id == member_id,
        )
    ).scalar_one()
    return Decimal(earlier)
