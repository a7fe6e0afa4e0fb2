"""The people and places on the grid: workers and what they serve, party
organisations and the cells they cover, service facilities."""

from __future__ import annotations

from geoalchemy2 import WKBElement
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _area, _gist, _valid

WORKER_ROLE_FORMAT = "^[a-z][a-z0-9_]{0,39}$"
"""What a worker's role code looks like (``grid_leader``); the roles a district uses are
named in :mod:`gridgis.registers.kinds` and configurable (``GRIDGIS_WORKER_ROLES``)."""


class GridWorker(Base):
    """A grid worker (网格员) or another person of the grid: 网格长, 楼栋长, 单元长...

    ``employment`` says full-time (专职) or part-time (兼职); ``roles`` (table
    ``worker_role``) what the person is, possibly several. What they serve:
    cells (``worker_cell``), buildings (``worker_building``), units of buildings
    (``worker_unit``) or whole communities (``worker_community``). ``phone`` and
    ``id_number`` are people's data, shown masked to users who may not see the area.
    """

    __tablename__ = "grid_worker"
    __table_args__ = (
        CheckConstraint("employment IN ('full_time', 'part_time')", name="employment"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    employment: Mapped[str] = mapped_column(Text, server_default="full_time")
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    id_number: Mapped[str | None] = mapped_column(Text)


class WorkerCell(Base):
    """Which cells a grid worker serves (usually one; sometimes two small ones)."""

    __tablename__ = "worker_cell"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), primary_key=True, index=True)


class WorkerRole(Base):
    """A role a person holds (专职网格员, 楼栋长...): one row per role, several per person."""

    __tablename__ = "worker_role"
    __table_args__ = (CheckConstraint(f"role ~ '{WORKER_ROLE_FORMAT}'", name="role_format"),)

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(Text, primary_key=True, index=True)


class WorkerBuilding(Base):
    """Which buildings a person serves (a 楼栋长's building)."""

    __tablename__ = "worker_building"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkerUnit(Base):
    """Which units (单元, by number) of which buildings a person serves (a 单元长's)."""

    __tablename__ = "worker_unit"
    __table_args__ = (CheckConstraint("unit_number >= 1", name="unit_number_positive"),)

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    unit_number: Mapped[int] = mapped_column(Integer, primary_key=True)


class WorkerCommunity(Base):
    """Which whole communities a person serves (a 网格指导员's, say)."""

    __tablename__ = "worker_community"

    worker_id: Mapped[int] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True
    )
    community_code: Mapped[str] = mapped_column(
        ForeignKey("community.code"), primary_key=True, index=True
    )


BRANCH_KINDS: tuple[str, ...] = ("committee", "general_branch", "branch", "group")
"""Kinds of party organisation: 党委, 党总支, 党支部, 党小组 (see
:data:`gridgis.registers.kinds.BRANCH_KIND_NAMES`)."""


class PartyBranch(Base):
    """A party organisation at a point: a 党支部 by default, or a 党委, 党总支, 党小组.

    ``parent_id`` is the organisation it belongs to (a 党小组's 党支部, a
    党支部's 党委), which makes a tree; ``secretary`` and ``secretary_phone`` are
    people's data.
    """

    __tablename__ = "party_branch"
    __table_args__ = (
        CheckConstraint("member_count >= 0", name="member_count_nonnegative"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in BRANCH_KINDS) + ")", name="kind"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        _valid("location"),
        _gist("party_branch", "location"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    member_count: Mapped[int] = mapped_column(Integer, server_default="0")
    location: Mapped[WKBElement] = mapped_column(_area("POINT"))
    kind: Mapped[str] = mapped_column(Text, server_default="branch")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_branch.id", ondelete="SET NULL"), index=True
    )
    address: Mapped[str | None] = mapped_column(Text)
    secretary: Mapped[str | None] = mapped_column(Text)
    secretary_phone: Mapped[str | None] = mapped_column(Text)


class BranchCell(Base):
    """Which cells a party branch serves (一网格一支部)."""

    __tablename__ = "branch_cell"

    branch_id: Mapped[int] = mapped_column(
        ForeignKey("party_branch.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), primary_key=True, index=True)


class BranchBuilding(Base):
    """Which buildings a party organisation covers: a 楼栋党小组's buildings
    ("党小组建在楼栋上"), or the buildings of the compounds (小区) a 党支部 is built on."""

    __tablename__ = "branch_building"

    branch_id: Mapped[int] = mapped_column(
        ForeignKey("party_branch.id", ondelete="CASCADE"), primary_key=True
    )
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), primary_key=True, index=True
    )


FACILITY_KINDS: tuple[str, ...] = (
    "centre",
    "station",
    "health",
    "police",
    "school",
    "elderly",
    "other",
)
"""Kinds of service facility: 党群服务中心 (``centre``), 社区/党群服务站 (``station``),
卫生服务站 (``health``), 警务室 (``police``), 学校 (``school``), 养老 (``elderly``) and
``other`` (its own name in ``kind_name``)."""


class ServiceFacility(Base):
    """A service facility: a party-mass service centre (党群服务中心) or station (服务站),
    a health station, a police room, a school, an elderly-care home or another kind.

    ``kind_name`` is the kind as the file named it (``文化活动室`` for an ``other``).
    """

    __tablename__ = "service_facility"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in FACILITY_KINDS) + ")", name="kind"
        ),
        _valid("location"),
        _gist("service_facility", "location"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    location: Mapped[WKBElement] = mapped_column(_area("POINT"))
    kind_name: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
