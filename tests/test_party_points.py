"""Points of party members (migration 0021, :mod:`gridgis.party.points`): each activity keeps
the points its rule gave when recorded; a source row is recorded once per member."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, update

from gridgis.db.models import PartyActivity, PartyMember, PointRule
from gridgis.errors import InputError, NotFoundError
from gridgis.party.points import points_for, record_activity

DAY = dt.date(2026, 5, 1)


def _member(engine: Engine) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                PartyMember.__table__.insert().values(name="李红", kind="retired")
                .returning(PartyMember.id)
            ).scalar_one()
        )  # fmt: skip


def test_seeded_rules_give_points_each_and_per_hour(engine: Engine) -> None:
    with engine.connect() as conn:
        assert points_for(conn, "visit") == Decimal("2")
        assert points_for(conn, "meeting") == Decimal("1")
        assert points_for(conn, "volunteer", Decimal("2.5")) == Decimal("2.50")
        with pytest.raises(InputError, match="per hour"):
            points_for(conn, "volunteer")
        with pytest.raises(NotFoundError, match=r"'dancing'.*'meeting'"):
            points_for(conn, "dancing")


def test_points_are_kept_as_recorded_and_a_source_row_counts_once(engine: Engine) -> None:
    member = _member(engine)
    with engine.begin() as conn:
        first = record_activity(
            conn, member_id=member, kind="visit", occurred_on=DAY, source="visit",
            source_id=41, actor="test",
        )  # fmt: skip
        conn.execute(update(PointRule).where(PointRule.kind == "visit").values(points=5))
        again = record_activity(
            conn, member_id=member, kind="visit", occurred_on=DAY, source="visit",
            source_id=41, actor="test",
        )  # fmt: skip
        later = record_activity(
            conn, member_id=member, kind="visit", occurred_on=DAY, source="visit",
            source_id=42, actor="test",
        )  # fmt: skip
        total = conn.execute(
            select(func.count(), func.sum(PartyActivity.points)).where(
                PartyActivity.member_id == member
            )
        ).one()
    assert (first, again, later) == (Decimal("2"), Decimal("2"), Decimal("5"))
    assert tuple(total) == (2, Decimal("7"))


def test_unknown_source_is_refused(engine: Engine) -> None:
    member = _member(engine)
    with pytest.raises(InputError, match="'phone'"), engine.begin() as conn:
        record_activity(
            conn, member_id=member, kind="visit", occurred_on=DAY, source="phone", actor="t"
        )
