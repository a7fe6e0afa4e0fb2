"""红心物业: how each compound (小区) of a community is managed (issue 19).

``compound_management`` is the register of compounds: one row per compound of a
community, the compound named as its buildings name it (``building.compound``). It says
whether the compound is an old one (老旧小区, and the year it was built) and how it is
managed:

- ``company``: by a property management company (物业公司: its name, a contact);
- ``red``: by 红心物业, party-led property management, in one of four modes
  (:data:`RED_MODES`): 物业服务 (a service team the party organisation sets up),
  居民自治 (residents manage it themselves), 驻区单位包保 (a 驻区单位 takes it on:
  ``unit_id``) or 社区兜底 (the community covers it);
- ``none``: by nobody (无物业), the gap the practice exists to close.

``organisation_id`` is the party organisation leading it (a 物业党支部, or the community's
党组织); ``contact`` and ``contact_phone`` are people's data (masked outside the user's
area). A compound no row names is not registered yet.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base

MANAGEMENTS: tuple[str, ...] = ("company", "red", "none")
"""How a compound is managed: a company (物业公司), 红心物业, or nobody (无)."""

MANAGEMENT_NAMES_ZH: dict[str, str] = {"company": "物业公司", "red": "红心物业", "none": "无物业"}
"""The Chinese name of each way of management."""

RED_MODES: tuple[str, ...] = ("service", "autonomy", "unit", "community")
"""The modes of 红心物业: 物业服务, 居民自治, 驻区单位包保, 社区兜底."""

RED_MODE_NAMES_ZH: dict[str, str] = {
    "service": "物业服务",
    "autonomy": "居民自治",
    "unit": "驻区单位包保",
    "community": "社区兜底",
}
"""The Chinese name of each 红心物业 mode."""


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class CompoundManagement(Base):
    """A compound (小区) of a community and how it is managed."""

    __tablename__ = "compound_management"
    __table_args__ = (
        UniqueConstraint("community_code", "name"),
        CheckConstraint(f"management IN ({_listed(MANAGEMENTS)})", name="management"),
        CheckConstraint(f"red_mode IS NULL OR red_mode IN ({_listed(RED_MODES)})", name="red_mode"),
        CheckConstraint("(management = 'red') = (red_mode IS NOT NULL)", name="red_has_mode"),
        CheckConstraint(
            "coalesce(red_mode = 'unit', false) = (unit_id IS NOT NULL)", name="unit_mode"
        ),
        CheckConstraint("management = 'company' OR company IS NULL", name="company_only"),
        CheckConstraint(
            "built_year IS NULL OR built_year BETWEEN 1900 AND 2100", name="built_year"
        ),
        CheckConstraint("length(btrim(name)) > 0", name="name_given"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    old: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    built_year: Mapped[int | None] = mapped_column(Integer)
    management: Mapped[str] = mapped_column(Text, server_default="none")
    red_mode: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_unit.id", ondelete="RESTRICT"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_branch.id", ondelete="SET NULL"), index=True
    )
    since: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
