"""The data model of gridgis (SQLAlchemy 2 typed models, GeoAlchemy2 geometries).

Everything is stored in EPSG:4326 (WGS84; CGCS2000 is the same for this
work). The schema itself is created by the Alembic migrations in
``gridgis/db/migrations``; a test checks that these models and the migrated
database agree.

What the database can hold, it holds: official codes are checked by pattern
and nest by prefix in their parent's code; foreign keys tie every level to its
parent; geometries are checked valid; a case's lifecycle steps are checked to
be in order, its current step is computed from them, and a trigger refuses to
move a case backwards; a retired cell code can never be issued again.

``audit_log`` records who changed what (:mod:`gridgis.audit`), written in the
same transaction as the change itself. ``data_version`` numbers the state of the
tables gridgis keeps in memory, bumped by triggers (:mod:`gridgis.db.versions`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4326

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASE_STEPS: tuple[str, ...] = (
    "reported",
    "registered",
    "dispatched",
    "handled",
    "verified",
    "closed",
)
"""The forward lifecycle of a case: 上报 → 立案 → 派遣 → 处置 → 核查 → 结案."""

CASE_STEP_NAMES_ZH: dict[str, str] = {
    "reported": "上报",
    "registered": "立案",
    "dispatched": "派遣",
    "handled": "处置",
    "verified": "核查",
    "closed": "结案",
    "rejected": "作废",
}


def _area(srid_type: str) -> Geometry:
    return Geometry(srid_type, srid=SRID, spatial_index=False)


def _gist(table: str, column: str = "geom") -> Index:
    return Index(f"ix_{table}_{column}", column, postgresql_using="gist")


def _valid(column: str = "geom") -> CheckConstraint:
    return CheckConstraint(f"{column} IS NULL OR ST_IsValid({column})", name=f"{column}_valid")


def _step_expression() -> str:
    """SQL for the computed current step of a case."""
    parts = ["CASE WHEN rejected_at IS NOT NULL THEN 'rejected'"]
    for step in reversed(CASE_STEPS[1:]):
        parts.append(f" WHEN {step}_at IS NOT NULL THEN '{step}'")
    parts.append(" ELSE 'reported' END")
    return "".join(parts)


def _step_order_checks() -> list[CheckConstraint]:
    """Each step needs the one before it, no earlier in time."""
    checks = []
    for before, after in itertools.pairwise(CASE_STEPS):
        checks.append(
            CheckConstraint(
                f"{after}_at IS NULL OR ({before}_at IS NOT NULL AND {after}_at >= {before}_at)",
                name=f"{after}_after_{before}",
            )
        )
    checks.append(
        CheckConstraint(
            "rejected_at IS NULL OR (closed_at IS NULL AND rejected_at >= reported_at)",
            name="rejected_not_closed",
        )
    )
    return checks


LOCATED_BY: tuple[str, ...] = ("coordinates", "address")
"""How a case or inspection was placed: by its coordinates, or by matching its address."""

LOCATION_FLAGS: tuple[str, ...] = ("outside", "gap", "swapped", "outside_china", "unmatched")
"""Why a case or inspection has no cell: ``outside`` the district; in a ``gap`` between
cells inside it; coordinates that look ``swapped`` (lat, lon); ``outside_china``; an
address that matched no building (``unmatched``)."""


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IS NULL OR {column} IN ({listed})", name=column)


class Base(DeclarativeBase):
    """Declarative base of every gridgis table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class District(Base):
    """A district (区/县), 6-digit official code."""

    __tablename__ = "district"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{6}$'", name="code_format"),
        _valid(),
        _gist("district"),
    )

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(_area("MULTIPOLYGON"))

    streets: Mapped[list[Street]] = relationship(back_populates="district")


class Street(Base):
    """A street office (街道/乡镇), 9-digit code: district code + 3 digits."""

    __tablename__ = "street"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{9}$'", name="code_format"),
        CheckConstraint("left(code, 6) = district_code", name="code_in_district"),
        _valid(),
        _gist("street"),
    )

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    district_code: Mapped[str] = mapped_column(ForeignKey("district.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(_area("MULTIPOLYGON"))

    district: Mapped[District] = relationship(back_populates="streets")
    communities: Mapped[list[Community]] = relationship(back_populates="street")


class Community(Base):
    """A community or village (社区/村), 12-digit code: street code + 3 digits.

    ``min_households`` / ``max_households`` override the default cell bounds
    (300–500) for this community, e.g. smaller rural cells.
    """

    __tablename__ = "community"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_format"),
        CheckConstraint("left(code, 9) = street_code", name="code_in_street"),
        CheckConstraint(
            "min_households IS NULL OR max_households IS NULL "
            "OR (min_households >= 0 AND min_households <= max_households)",
            name="household_bounds",
        ),
        CheckConstraint("kind IN ('urban', 'rural')", name="kind"),
        _valid(),
        _gist("community"),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    street_code: Mapped[str] = mapped_column(ForeignKey("street.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default="urban")
    min_households: Mapped[int | None] = mapped_column(Integer)
    max_households: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement | None] = mapped_column(_area("MULTIPOLYGON"))

    street: Mapped[Street] = relationship(back_populates="communities")


class LayoutVersion(Base):
    """One published layout of a community's cells (a redraw, an adjustment, an import).

    ``version`` counts 1, 2, 3... per community; the unique pair
    (community_code, version) is what makes two concurrent publishes of the
    same community impossible: the second one's insert fails.
    """

    __tablename__ = "layout_version"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("method IN ('draw', 'adjust', 'import', 'edit')", name="method"),
        Index("uq_layout_version_community_version", "community_code", "version", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"))
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    published_by: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class LayoutDraft(Base):
    """A proposed layout of a community's cells, kept until it is published or discarded.

    Made by a draw, an adjustment or an uploaded file (:mod:`gridgis.editing`);
    ``base_version`` is the layout version it was computed from, and publishing
    it is refused once the community is at another version. ``cells`` is a
    GeoJSON FeatureCollection (properties ``code``, ``households``, ``flags``;
    EPSG:4326), ``report`` the validator's findings on it.
    """

    __tablename__ = "layout_draft"
    __table_args__ = (
        CheckConstraint("base_version >= 0", name="base_version"),
        CheckConstraint("method IN ('draw', 'adjust', 'import', 'edit')", name="method"),
        CheckConstraint("jsonb_typeof(cells -> 'features') = 'array'", name="cells_collection"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_code: Mapped[str] = mapped_column(
        ForeignKey("community.code", ondelete="CASCADE"), index=True
    )
    base_version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(Text)
    cells: Mapped[dict[str, Any]] = mapped_column(JSONB)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class CellCode(Base):
    """Every cell code ever issued; a retired code is never issued again."""

    __tablename__ = "cell_code"
    __table_args__ = (CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),)

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class GridCell(Base):
    """A grid cell (网格) in one layout version of its community.

    A cell row is valid from ``valid_from`` until ``valid_to`` (open while
    active). Unchanged cells keep their row through later layouts; a changed
    or removed cell gets ``valid_to`` and stays queryable, so historical cases
    keep the cell they were filed in.
    """

    __tablename__ = "grid_cell"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
        CheckConstraint("left(code, 12) = community_code", name="code_in_community"),
        CheckConstraint("households >= 0 AND residents >= 0", name="counts_nonnegative"),
        CheckConstraint("status IN ('active', 'retired')", name="status"),
        CheckConstraint("(status = 'active') = (valid_to IS NULL)", name="status_matches_validity"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity_order"),
        _valid(),
        _gist("grid_cell"),
        Index(
            "uq_grid_cell_active_code",
            "code",
            unique=True,
            # raw SQL: DDL, the index's predicate as the migration writes it.
            postgresql_where=text("valid_to IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(ForeignKey("cell_code.code"), index=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement] = mapped_column(_area("MULTIPOLYGON"))
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    residents: Mapped[int] = mapped_column(Integer, server_default="0")
    version_from_id: Mapped[int] = mapped_column(ForeignKey("layout_version.id"))
    version_to_id: Mapped[int | None] = mapped_column(ForeignKey("layout_version.id"))
    valid_from: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(Text, server_default="active")
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")


BUILDING_FLAGS: tuple[str, ...] = ("straddles", "repaired", "swapped")
"""What an import found on a building for a person to look at: it ``straddles`` two
communities (the second is ``other_community_code``), its footprint was invalid and
``repaired``, its coordinates looked ``swapped`` (lat, lon) and were exchanged."""


class Building(Base):
    """A building (楼栋): a footprint or only a point, with households.

    ``location`` is always set (a point on the footprint when there is one) and
    is what geocoding and cell assignment use. ``households_estimated`` says the
    households are an estimate from the footprint and floors (``gridgis import
    buildings --estimate-households``), to be replaced by a real count;
    ``flags`` (:data:`BUILDING_FLAGS`) what its import found; ``external_id`` is
    the id of the file it was imported from, what a later import upserts on.
    """

    __tablename__ = "building"
    __table_args__ = (
        CheckConstraint(
            "households >= 0 AND residents >= 0 AND (floors IS NULL OR floors >= 1)",
            name="counts",
        ),
        CheckConstraint(
            "footprint IS NULL OR ST_Intersects(footprint, location)", name="location_on_footprint"
        ),
        CheckConstraint(
            "flags <@ ARRAY[" + ", ".join(f"'{f}'" for f in BUILDING_FLAGS) + "]::text[]",
            name="flags",
        ),
        CheckConstraint(
            "other_community_code IS NULL OR other_community_code <> community_code",
            name="other_community",
        ),
        CheckConstraint("height IS NULL OR height > 0", name="height_positive"),
        _valid("footprint"),
        _gist("building", "footprint"),
        _gist("building", "location"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("community.code"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    compound: Mapped[str | None] = mapped_column(Text)
    footprint: Mapped[WKBElement | None] = mapped_column(_area("MULTIPOLYGON"))
    location: Mapped[WKBElement] = mapped_column(_area("POINT"))
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    residents: Mapped[int] = mapped_column(Integer, server_default="0")
    floors: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[float | None] = mapped_column(Float)
    households_estimated: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    other_community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"))

    units: Mapped[list[BuildingUnit]] = relationship(back_populates="building")


class BuildingUnit(Base):
    """A unit / entrance (单元) of a building (optional)."""

    __tablename__ = "building_unit"
    __table_args__ = (
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("households >= 0", name="households_nonnegative"),
        Index("uq_building_unit_building_id_number", "building_id", "number", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer, server_default="0")

    building: Mapped[Building] = relationship(back_populates="units")


ROAD_KINDS: tuple[str, ...] = (
    "arterial",
    "secondary",
    "local",
    "path",
    "railway",
    "river",
    "wall",
    "other",
)
"""Kinds of line that cells follow: roads, and other barriers (rail, rivers, walls)."""


class Road(Base):
    """A road or another barrier (railway, river, wall) that cell boundaries follow."""

    __tablename__ = "road"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in ROAD_KINDS) + ")",
            name="kind",
        ),
        _valid(),
        _gist("road"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default="local")
    geom: Mapped[WKBElement] = mapped_column(_area("MULTILINESTRING"))


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


class CaseCategory(Base):
    """A case category with its time limit to close (按期结案 deadline)."""

    __tablename__ = "case_category"
    __table_args__ = (CheckConstraint("deadline_hours > 0", name="deadline_positive"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    deadline_hours: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """A case (事件): where and what, and when each lifecycle step happened, by whom.

    The raw coordinates and the system they came in (``wgs84``, ``gcj02``,
    ``bd09``, ``EPSG:nnnn``) are kept as received; ``geom`` is WGS84. The
    cell, community and street are those the case was filed in and do not
    change when the layout does.
    """

    __tablename__ = "case_record"
    __table_args__ = (
        *_step_order_checks(),
        CheckConstraint(
            "deadline IS NULL OR deadline >= reported_at", name="deadline_after_report"
        ),
        CheckConstraint(
            "match_score IS NULL OR (match_score >= 0 AND match_score <= 1)",
            name="match_score_range",
        ),
        _one_of("located_by", LOCATED_BY),
        _one_of("location_flag", LOCATION_FLAGS),
        _valid(),
        _gist("case_record"),
        Index("ix_case_record_reported_at", "reported_at"),
        Index("ix_case_record_step", "step"),
        Index("ix_case_record_category_code_reported_at", "category_code", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    # No index of its own: (category_code, reported_at) above serves every lookup (0006).
    category_code: Mapped[str] = mapped_column(ForeignKey("case_category.code"))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[WKBElement | None] = mapped_column(_area("POINT"))
    raw_x: Mapped[float | None] = mapped_column(Float)
    raw_y: Mapped[float | None] = mapped_column(Float)
    raw_crs: Mapped[str | None] = mapped_column(Text)
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    located_by: Mapped[str | None] = mapped_column(Text)
    location_flag: Mapped[str | None] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("building.id", ondelete="SET NULL"), index=True
    )
    match_score: Mapped[float | None] = mapped_column(Float)
    deadline: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    step: Mapped[str] = mapped_column(Text, Computed(_step_expression(), persisted=True))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[str | None] = mapped_column(Text)
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    registered_by: Mapped[str | None] = mapped_column(Text)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_by: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(Text)
    rejected_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_by: Mapped[str | None] = mapped_column(Text)


class Inspection(Base):
    """An inspection patrol (巡查) by a grid worker: a point or a GPS track."""

    __tablename__ = "inspection"
    __table_args__ = (
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="time_order"),
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'LINESTRING', 'MULTILINESTRING')", name="geom_kind"
        ),
        _one_of("located_by", LOCATED_BY),
        _one_of("location_flag", LOCATION_FLAGS),
        _valid(),
        _gist("inspection"),
        Index("ix_inspection_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    geom: Mapped[WKBElement] = mapped_column(_area("GEOMETRY"))
    located_by: Mapped[str | None] = mapped_column(Text)
    location_flag: Mapped[str | None] = mapped_column(Text)


class InspectionCell(Base):
    """The cells an inspection visited."""

    __tablename__ = "inspection_cell"

    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), primary_key=True, index=True)


USER_ROLES: tuple[str, ...] = ("admin", "street", "analyst")
"""Who may do what in the web app: ``admin`` sees and edits everything; ``street`` (a
street office, 街道) sees and exports only its own street; ``analyst`` reads and exports
everything and edits nothing."""


class AppUser(Base):
    """A user of the web app. Passwords are kept only as werkzeug hashes (scrypt),
    API tokens only as their SHA-256; see :mod:`gridgis.users`."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in USER_ROLES) + ")", name="role"),
        CheckConstraint("(role = 'street') = (street_code IS NOT NULL)", name="street_scope"),
        CheckConstraint("name ~ '^[^[:space:][:cntrl:]/]{1,64}$'", name="name_format"),
        CheckConstraint("password_hash ~ '^(scrypt|pbkdf2):'", name="password_hashed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A signed-in browser session; the cookie holds its random id, the table only its SHA-256.

    A session is valid while its row exists and ``expires_at`` is ahead: logging
    out deletes the row, a password change deletes the user's rows, removing the
    user deletes them with it (see :mod:`gridgis.web.auth`).
    """

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginFailure(Base):
    """A wrong password given for ``name`` (which may not exist) from ``address``.

    Counted over a sliding window to throttle guessing (see :mod:`gridgis.logins`);
    rows older than the window are deleted as new ones arrive.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_name_address_failed_at", "name", "address", "failed_at"),
        Index("ix_login_failure_address_failed_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditLog(Base):
    """One change to the data: who (``actor``), when (``at``), what (``action`` on
    ``object_type`` ``object_id``) and a ``summary`` of the fields before and after.

    Written by :func:`gridgis.audit.record` in the transaction of the change, so a
    change that is rolled back leaves no row. ``street_code`` is the street the
    object lies in, when it has one (to limit a street office's view later); it is
    plain text, not a foreign key, so the trail outlives the areas it names.
    ``request_id`` ties the row to the web request that made it (see
    :mod:`gridgis.web.logs`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_object_type_object_id", "object_type", "object_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text)


class DataVersion(Base):
    """The version of a table whose rows gridgis keeps in memory (:mod:`gridgis.db.versions`).

    A statement-level trigger on the table (migration 0009) gives its row a new
    ``version`` from the sequence ``data_version_seq`` whenever a transaction
    inserts, updates, deletes or truncates rows of it, however it does so; a cache
    loads again when a version it loaded its data at has changed.
    """

    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
