"""Party members on the grid and the points they earn (issue 19).

- ``party_member``: the members register (党员名册). A member belongs to an
  organisation (``party_branch``), is of one of four kinds (:data:`MEMBER_KINDS`:
  直管, 在职, 流动, 离退休), lives at an address placed on a building, and an
  在职党员 reports (报到) to the community where they live. ``central_household``
  marks the member's household a 党员中心户. ``name``, ``phone`` and
  ``id_number`` are people's data, shown only to users whose area holds the member.
- ``point_rule``: what an activity is worth (党员积分): a visit, an hour of
  volunteer service, a meeting attended; configurable per district.
- ``party_activity``: recorded activity of a member, with the points it earned
  when it was recorded (a later change of the rules does not rewrite last
  year's ranking). ``source`` says where it came from (a logged visit, an
  import, a hand entry) and ``source_id`` which row of it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _one_of

MEMBER_KINDS: tuple[str, ...] = ("direct", "employed", "mobile", "retired")
"""Kinds of party member: 直管 (``direct``, organised where they live), 在职
(``employed``, organised at work, reporting to their home community), 流动
(``mobile``, away from their home organisation), 离退休 (``retired``)."""

MEMBER_KIND_NAMES_ZH: dict[str, str] = {
    "direct": "直管党员",
    "employed": "在职党员",
    "mobile": "流动党员",
    "retired": "离退休党员",
}
"""The Chinese name of each member kind."""

SEXES: tuple[str, ...] = ("male", "female")
"""A member's sex as stored (男 ``male``, 女 ``female``)."""

ACTIVITY_FORMAT = "^[a-z][a-z0-9_]{0,39}$"
"""What an activity kind's code looks like (``visit``, ``volunteer``, ``meeting``)."""

POINT_UNITS: tuple[str, ...] = ("each", "hour")
"""How a rule counts: per activity (``each``) or per hour of it (``hour``)."""

ACTIVITY_SOURCES: tuple[str, ...] = ("visit", "import", "manual")
"""Where a recorded activity came from: a logged visit (大走访), an imported file,
an entry by hand."""


class PartyMember(Base):
    """A party member (党员) in the register: who, which organisation, which kind, where.

    ``community_code`` and ``street_code`` are where the member lives (from the
    building when the address was placed), which decides who may see their
    personal data. ``report_community_code`` and ``reported_on`` record an
    在职党员's 报到 at their home community.
    """

    __tablename__ = "party_member"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in MEMBER_KINDS) + ")", name="kind"),
        _one_of("sex", SEXES),
        CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    sex: Mapped[str | None] = mapped_column(Text)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    joined_on: Mapped[dt.date | None] = mapped_column(Date)
    branch_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_branch.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(Text, server_default="direct")
    phone: Mapped[str | None] = mapped_column(Text)
    id_number: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    report_community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"))
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    # raw SQL: DDL, the column's default as the migration writes it.
    central_household: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class PointRule(Base):
    """What one kind of activity is worth in points (党员积分规则)."""

    __tablename__ = "point_rule"
    __table_args__ = (
        CheckConstraint(f"kind ~ '{ACTIVITY_FORMAT}'", name="kind_format"),
        CheckConstraint("per IN (" + ", ".join(f"'{p}'" for p in POINT_UNITS) + ")", name="per"),
    )

    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    per: Mapped[str] = mapped_column(Text, server_default="each")


class PartyActivity(Base):
    """One recorded activity of a member and the points it earned then."""

    __tablename__ = "party_activity"
    __table_args__ = (
        CheckConstraint(f"kind ~ '{ACTIVITY_FORMAT}'", name="kind_format"),
        CheckConstraint(
            "source IN (" + ", ".join(f"'{s}'" for s in ACTIVITY_SOURCES) + ")", name="source"
        ),
        CheckConstraint("hours IS NULL OR hours > 0", name="hours_positive"),
        Index("ix_party_activity_member_id_occurred_on", "member_id", "occurred_on"),
        Index(
            "uq_party_activity_source_source_id_member_id",
            "source",
            "source_id",
            "member_id",
            unique=True,
            # raw SQL: a partial index's predicate
            postgresql_where=text("source_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("party_member.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    source: Mapped[str] = mapped_column(Text, server_default="manual")
    source_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
