"""Cases (事件) with their categories and lifecycle, and inspections (巡查)."""

from __future__ import annotations

import datetime as dt
import itertools

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _area, _gist, _one_of, _valid

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


class CaseCategory(Base):
    """A case category with its time limit to close (按期结案 deadline)."""

    __tablename__ = "case_category"
    __table_args__ = (CheckConstraint("deadline_hours > 0", name="deadline_positive"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    deadline_hours: Mapped[int] = mapped_column(Integer)


CASE_EVENT_KINDS: tuple[str, ...] = (
    "registered",
    "dispatched",
    "returned",
    "reassigned",
    "handled",
    "verified",
    "closed",
    "rejected",
    "escalated",
    "merged",
    "note",
)
"""What a case's timeline records after its report: the steps, 退单 (``returned``), 改派
(``reassigned``), 督办 (``escalated``), 合并 (``merged``) and plain notes."""

CASE_EVENT_NAMES_ZH: dict[str, str] = {
    **CASE_STEP_NAMES_ZH,
    "returned": "退单",
    "reassigned": "改派",
    "escalated": "督办",
    "merged": "合并",
    "note": "备注",
}


WEBHOOK_FORMATS: tuple[str, ...] = ("json", "wecom", "dingtalk")
"""The bodies a department's webhook may be posted in: gridgis's own signed JSON, or the
markdown message of a WeCom (企业微信) or DingTalk (钉钉) group robot."""


DEPARTMENT_CODE_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
"""A department's code: 1-32 letters, digits, ``_ . -``, starting with a letter or digit (the
table's check, the API's schemas and the importers all read it from here)."""


class Department(Base):
    """A department (职能部门) that handles dispatched cases, of a district or of one street."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint(f"code ~ '{DEPARTMENT_CODE_PATTERN}'", name="code_format"),
        CheckConstraint("length(btrim(name)) > 0", name="name_given"),
        CheckConstraint("(district_code IS NULL) <> (street_code IS NULL)", name="one_area"),
        CheckConstraint("webhook_url IS NULL OR webhook_url ~ '^https?://'", name="webhook_http"),
        _one_of("webhook_format", WEBHOOK_FORMATS),
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    district_code: Mapped[str | None] = mapped_column(ForeignKey("district.code"), index=True)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    phone: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Where its notices are also posted (gridgis.webhooks); all three null: nowhere.
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    webhook_format: Mapped[str | None] = mapped_column(Text)


class DispatchRule(Base):
    """The default department of a category, everywhere (``area_code`` empty) or in one
    district, street or community (the most specific rule wins)."""

    __tablename__ = "dispatch_rule"
    __table_args__ = (
        CheckConstraint("area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})?$'", name="area_format"),
        UniqueConstraint("category_code", "area_code"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("case_category.code", ondelete="CASCADE"))
    area_code: Mapped[str] = mapped_column(Text, server_default="")
    department_code: Mapped[str] = mapped_column(
        ForeignKey("department.code", ondelete="CASCADE", onupdate="CASCADE")
    )


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
        CheckConstraint("merged_into_id <> id", name="merged_not_self"),
        _one_of("located_by", LOCATED_BY),
        _one_of("location_flag", LOCATION_FLAGS),
        _valid(),
        _gist("case_record"),
        Index("ix_case_record_reported_at", "reported_at"),
        Index("ix_case_record_step", "step"),
        Index("ix_case_record_category_code_reported_at", "category_code", "reported_at"),
        # A list of one area's or one department's cases, newest first, reads its first
        # page from the index (0020): no sort of a street's 50,000 cases for 100 of them.
        Index("ix_case_record_street_code_reported_at", "street_code", "reported_at", "id"),
        Index("ix_case_record_community_code_reported_at", "community_code", "reported_at", "id"),
        Index("ix_case_record_department_code_reported_at", "department_code", "reported_at", "id"),
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
    community_code: Mapped[str | None] = mapped_column(ForeignKey("community.code"))
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"))
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
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("department.code", onupdate="CASCADE")
    )
    assignee: Mapped[str | None] = mapped_column(Text)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    escalated_by: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)


class CaseEvent(Base):
    """One entry of a case's timeline after its report: a step, a return, an escalation,
    a merge or a note, when and by whom, with the department it concerns."""

    __tablename__ = "case_event"
    __table_args__ = (
        _one_of("kind", CASE_EVENT_KINDS),
        Index("ix_case_event_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("department.code", onupdate="CASCADE")
    )
    assignee: Mapped[str | None] = mapped_column(Text)


PHOTO_KINDS: tuple[str, ...] = ("upload", "link")
"""How a photo came: an ``upload`` (stored by gridgis) or a ``link`` (Open311's ``media_url``)."""


class CasePhoto(Base):
    """A photo of a case: filed with it (``event_id`` empty) or with a step of its timeline.

    An upload is kept in the photo store under ``storage_key`` (its bytes, metadata
    removed; see :mod:`gridgis.cases.photos`); a link is only its URL (``storage_key``).
    """

    __tablename__ = "case_photo"
    __table_args__ = (
        _one_of("kind", PHOTO_KINDS),
        CheckConstraint(
            "kind = 'link' OR (content_type IS NOT NULL AND sha256 IS NOT NULL AND width > 0 "
            "AND height > 0 AND bytes > 0)",
            name="upload_described",
        ),
        CheckConstraint("length(storage_key) BETWEEN 1 AND 2048", name="storage_key_length"),
        Index("ix_case_photo_case_id_id", "case_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_event.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str] = mapped_column(Text)


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
