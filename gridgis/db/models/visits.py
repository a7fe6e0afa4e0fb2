"""大走访 (door-to-door visits, issue 19): key households, campaigns, targets, visits, the ledger.

- ``household_category``: the categories a key household may have (退役军人,
  困难户, 独居老人, 残疾人 ...), with their names: configurable rows, not code.
- ``resident_household``: the register of key households (重点户): a building,
  unit and room, the head of household and a phone (people's data), and its
  categories. Imported with ``gridgis import residents``.
- ``visit_campaign``: a campaign (走访活动) with its period, its area (a district,
  street or community code), its target rules and, optionally, buildings whose
  households are all visited (``campaign_building``).
- ``visit_target``: whom a campaign visits (a key household, a party member, or a
  whole building), in the cell of its building, and who is to visit it (a member,
  a grid worker or a street office's user).
- ``visit``: a visit logged (who, whom, when, GPS, note) with its photos
  (``visit_photo``, in the case photo store).
- ``ledger_entry``: a problem found on a visit (台账). It becomes a case with one
  action (``case_id``) and is 销号 when that case closes, or by hand with a note
  (``cleared_*``) when it was solved on the spot. Its state is read from the case
  each time (:mod:`gridgis.party.ledger`), so a case reopened or merged never leaves
  the ledger saying otherwise.
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _area, _one_of

HOUSEHOLD_CATEGORY_FORMAT = "^[a-z][a-z0-9_]{0,39}$"
"""What a household category's code looks like (``veteran``, ``needy``)."""

TARGET_KINDS: tuple[str, ...] = ("household", "member", "building")
"""Whom a campaign visits: a key ``household``, a party ``member``, or every household of
a ``building``."""


class HouseholdCategory(Base):
    """A category of key household (退役军人, 困难户 ...) with its names."""

    __tablename__ = "household_category"
    __table_args__ = (CheckConstraint(f"code ~ '{HOUSEHOLD_CATEGORY_FORMAT}'", name="code_format"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)


class ResidentHousehold(Base):
    """A key household (重点户) of the register: where, who heads it, its categories."""

    __tablename__ = "resident_household"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    unit: Mapped[str | None] = mapped_column(Text)
    room: Mapped[str | None] = mapped_column(Text)
    head_name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    categories: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    address: Mapped[str | None] = mapped_column(Text)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    note: Mapped[str | None] = mapped_column(Text)


class VisitCampaign(Base):
    """A 大走访 campaign: name, period, area and the rules that choose its targets."""

    __tablename__ = "visit_campaign"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="period"),
        CheckConstraint("area_code ~ '^[0-9]{6}([0-9]{3}){0,2}$'", name="area_code_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    area_code: Mapped[str] = mapped_column(Text, index=True)
    rules: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class CampaignBuilding(Base):
    """A building whose households a campaign visits, all of them."""

    __tablename__ = "campaign_building"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("visit_campaign.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), primary_key=True
    )


class VisitTarget(Base):
    """Whom a campaign visits, where (the cell of the building), and who is to visit."""

    __tablename__ = "visit_target"
    __table_args__ = (
        _one_of("kind", TARGET_KINDS),
        CheckConstraint(
            "(kind = 'household') = (household_id IS NOT NULL) "
            "AND (kind = 'member') = (member_id IS NOT NULL)",
            name="kind_link",
        ),
        CheckConstraint(
            "num_nonnulls(visitor_member_id, visitor_worker_id, visitor_user_id) <= 1",
            name="one_visitor",
        ),
        Index(
            "uq_visit_target_campaign_id_household_id",
            "campaign_id",
            "household_id",
            unique=True,
            # raw SQL: a partial index's predicate
            postgresql_where=text("household_id IS NOT NULL"),
        ),
        Index(
            "uq_visit_target_campaign_id_member_id",
            "campaign_id",
            "member_id",
            unique=True,
            # raw SQL: a partial index's predicate
            postgresql_where=text("member_id IS NOT NULL"),
        ),
        Index(
            "uq_visit_target_campaign_id_building_id",
            "campaign_id",
            "building_id",
            unique=True,
            # raw SQL: a partial index's predicate
            postgresql_where=text("kind = 'building'"),
        ),
        Index("ix_visit_target_campaign_id_cell_id", "campaign_id", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("visit_campaign.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("resident_household.id", ondelete="CASCADE")
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("party_member.id", ondelete="CASCADE"))
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"))
    community_code: Mapped[str | None] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(9), index=True)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    visitor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_member.id", ondelete="SET NULL"), index=True
    )
    visitor_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="SET NULL"), index=True
    )
    visitor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_by: Mapped[str | None] = mapped_column(Text)


class Visit(Base):
    """A visit made (入户走访): who, whom, when, where the phone was, what was said."""

    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint(
            "num_nonnulls(visitor_member_id, visitor_worker_id, visitor_user_id) <= 1",
            name="one_visitor",
        ),
        CheckConstraint("accuracy IS NULL OR accuracy >= 0", name="accuracy"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("visit_campaign.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("visit_target.id", ondelete="CASCADE"), index=True
    )
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    visitor_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_member.id", ondelete="SET NULL")
    )
    visitor_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="SET NULL")
    )
    visitor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )
    geom: Mapped[WKBElement | None] = mapped_column(_area("POINT"))
    accuracy: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    logged_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class VisitPhoto(Base):
    """A photo of a visit, kept in the case photo store (:mod:`gridgis.cases.photos`)."""

    __tablename__ = "visit_photo"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class LedgerEntry(Base):
    """A problem found on a visit (台账): where, what, who found it; its case; its 销号 by hand."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(
            "(cleared_at IS NULL) = (cleared_by IS NULL) "
            "AND (cleared_at IS NULL OR cleared_note IS NOT NULL)",
            name="cleared",
        ),
        Index("ix_ledger_entry_campaign_id_found_at", "campaign_id", "found_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("visit_campaign.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(
        ForeignKey("visit_target.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("visit.id", ondelete="SET NULL"), index=True
    )
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"))
    community_code: Mapped[str | None] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(9), index=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("case_category.code"))
    description: Mapped[str] = mapped_column(Text)
    found_by: Mapped[str] = mapped_column(Text)
    found_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_record.id", ondelete="SET NULL"), index=True
    )
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(Text)
    cleared_note: Mapped[str | None] = mapped_column(Text)
