"""驻区单位, 党建联合体, the needs list and the 三零 categories (issue 19, points 5 and 6).

- ``party_unit``: an organisation based in the area (驻区单位: a company, school,
  agency, hospital...), where it is, who to call (``contact``, ``contact_phone``:
  people's data) and its party organisation and leader (``party_leader``: people's
  data); ``party_unit_community`` the communities it is linked to (结对共建).
- ``party_alliance``: a 党建联合体 of a street (``community_code`` empty) or of one
  community; ``party_alliance_unit`` its member units, ``committee`` marking a
  unit whose leader sits on the 大党委 as a part-time member (兼职委员).
- ``party_need``: the needs list (需求清单 / 资源清单 / 项目清单) a community posts,
  claimed (认领) by a unit and followed to done with a note.
- ``sanling_category``: which case categories count for which of the 三零 figures
  (上访 ``petition``, 安全事故 ``accident``, 治安案件 ``security``).
"""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _area, _gist, _valid

UNIT_KINDS: tuple[str, ...] = (
    "enterprise", "school", "agency", "institution", "hospital", "social", "other",
)  # fmt: skip
"""Kinds of 驻区单位: 企业, 学校, 机关, 事业单位, 医院, 社会组织, 其他."""

UNIT_KIND_NAMES_ZH: dict[str, str] = {
    "enterprise": "企业",
    "school": "学校",
    "agency": "机关",
    "institution": "事业单位",
    "hospital": "医院",
    "social": "社会组织",
    "other": "其他",
}
"""The Chinese name of each unit kind."""

NEED_KINDS: tuple[str, ...] = ("need", "resource", "project")
"""What a community posts: a need (需求), a resource offered (资源), a project (项目)."""

NEED_KIND_NAMES_ZH: dict[str, str] = {"need": "需求", "resource": "资源", "project": "项目"}

NEED_STATES: tuple[str, ...] = ("open", "claimed", "done")
"""Where a need is: posted and open (待认领), claimed by a unit (已认领), done (已完成)."""

NEED_STATE_NAMES_ZH: dict[str, str] = {"open": "待认领", "claimed": "已认领", "done": "已完成"}

SANLING_FIGURES: tuple[str, ...] = ("petition", "accident", "security")
"""The three figures of a 三零 community: 上访 (petitions), 安全事故 (safety accidents),
治安案件 (public-security cases)."""

SANLING_FIGURE_NAMES_ZH: dict[str, str] = {
    "petition": "上访",
    "accident": "安全事故",
    "security": "治安案件",
}


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class PartyUnit(Base):
    """An organisation based in the area (驻区单位) and its party organisation."""

    __tablename__ = "party_unit"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_listed(UNIT_KINDS)})", name="kind"),
        _valid("location"),
        _gist("party_unit", "location"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default="other")
    address: Mapped[str | None] = mapped_column(Text)
    location: Mapped[WKBElement] = mapped_column(_area("POINT"))
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    contact: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    party_org: Mapped[str | None] = mapped_column(Text)
    party_leader: Mapped[str | None] = mapped_column(Text)


class PartyUnitCommunity(Base):
    """A community a unit is linked to (结对共建)."""

    __tablename__ = "party_unit_community"

    unit_id: Mapped[int] = mapped_column(
        ForeignKey("party_unit.id", ondelete="CASCADE"), primary_key=True
    )
    community_code: Mapped[str] = mapped_column(
        ForeignKey("community.code"), primary_key=True, index=True
    )


class PartyAlliance(Base):
    """A 党建联合体: units joined with a street (or one community of it)."""

    __tablename__ = "party_alliance"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    street_code: Mapped[str] = mapped_column(ForeignKey("street.code"), index=True)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"))
    created_by: Mapped[str] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )


class PartyAllianceUnit(Base):
    """A unit in an alliance; ``committee``: its leader sits on the 大党委 (兼职委员)."""

    __tablename__ = "party_alliance_unit"

    alliance_id: Mapped[int] = mapped_column(
        ForeignKey("party_alliance.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("party_unit.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # raw SQL: DDL, the column's default as the migration writes it.
    committee: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    joined_on: Mapped[dt.date | None] = mapped_column(Date)


class PartyNeed(Base):
    """An entry of a community's needs list, and who claimed and finished it."""

    __tablename__ = "party_need"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_listed(NEED_KINDS)})", name="kind"),
        CheckConstraint(f"state IN ({_listed(NEED_STATES)})", name="state"),
        CheckConstraint("length(btrim(title)) > 0", name="title_given"),
        CheckConstraint("(state = 'open') = (unit_id IS NULL)", name="claimed_by_unit"),
        CheckConstraint("(state = 'done') = (done_at IS NOT NULL)", name="done_at"),
        Index("ix_party_need_street_code_state", "street_code", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), index=True)
    street_code: Mapped[str] = mapped_column(ForeignKey("street.code"))
    kind: Mapped[str] = mapped_column(Text, server_default="need")
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(Text, server_default="open")
    posted_by: Mapped[str] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    posted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_unit.id", ondelete="RESTRICT"), index=True
    )
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    done_note: Mapped[str | None] = mapped_column(Text)


class SanlingCategory(Base):
    """A case category that counts for one of the 三零 figures."""

    __tablename__ = "sanling_category"
    __table_args__ = (CheckConstraint(f"figure IN ({_listed(SANLING_FIGURES)})", name="figure"),)

    category_code: Mapped[str] = mapped_column(
        ForeignKey("case_category.code", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )
    figure: Mapped[str] = mapped_column(Text)
