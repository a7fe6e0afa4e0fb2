"""The hierarchy and what lies in it: districts, streets, communities, layouts of grid
cells, buildings and their units, roads."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.db.models._base import Base, _area, _gist, _valid


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


LAYOUT_METHODS: tuple[str, ...] = ("draw", "adjust", "import", "edit", "rollback")
"""How a layout came about; ``rollback`` publishes an earlier layout again."""

_METHODS = ", ".join(f"'{m}'" for m in LAYOUT_METHODS)


def _bounds_check() -> CheckConstraint:
    return CheckConstraint(
        "(min_households IS NULL) = (max_households IS NULL)"
        " AND (min_households IS NULL OR (min_households >= 1"
        " AND max_households >= min_households))",
        name="bounds",
    )


class LayoutVersion(Base):
    """One published layout of a community's cells (a redraw, an adjustment, an import).

    ``version`` counts 1, 2, 3... per community; the unique pair
    (community_code, version) is what makes two concurrent publishes of the
    same community impossible: the second one's insert fails.
    """

    __tablename__ = "layout_version"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(f"method IN ({_METHODS})", name="method"),
        _bounds_check(),
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
    min_households: Mapped[int | None] = mapped_column(Integer)
    max_households: Mapped[int | None] = mapped_column(Integer)


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
        CheckConstraint(f"method IN ({_METHODS})", name="method"),
        _bounds_check(),
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
    min_households: Mapped[int | None] = mapped_column(Integer)
    max_households: Mapped[int | None] = mapped_column(Integer)


HAND_EDITS: tuple[str, ...] = ("move", "merge", "split", "reshape")
"""The kinds of :class:`LayoutDraftStep` (edits made by hand on a draft)."""

_HAND_EDITS = ", ".join(f"'{m}'" for m in HAND_EDITS)


class LayoutDraftStep(Base):
    """One edit made by hand on a draft, kept so that it can be undone.

    ``seq`` numbers the draft's steps from 1; ``action`` is one of :data:`HAND_EDITS`
    and ``params`` what was asked (buildings, cells, the line or outline drawn) and
    what it made (a new cell's code); ``cells`` and ``report`` are the draft's cells
    and validator report *before* the step (undoing the step puts them back).
    """

    __tablename__ = "layout_draft_step"
    __table_args__ = (
        UniqueConstraint("draft_id", "seq"),
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint(f"action IN ({_HAND_EDITS})", name="action"),
        CheckConstraint("jsonb_typeof(cells -> 'features') = 'array'", name="cells_collection"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("layout_draft.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
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


class CellLineage(Base):
    """Which new cell rows of a published version continue which closed ones.

    ``households`` were carried from ``predecessor_id`` to ``successor_id``;
    ``share`` is their share of the predecessor's households (of its area where
    it held none). A cell split in two has two rows; two cells merged have two
    rows with the same successor.
    """

    __tablename__ = "cell_lineage"
    __table_args__ = (
        CheckConstraint("households >= 0", name="households"),
        CheckConstraint("share >= 0 AND share <= 1", name="share"),
        CheckConstraint("predecessor_id <> successor_id", name="distinct"),
        UniqueConstraint("predecessor_id", "successor_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("layout_version.id", ondelete="CASCADE"), index=True
    )
    predecessor_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"))
    successor_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"), index=True)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    share: Mapped[float] = mapped_column(Float)


CELL_LINKS: tuple[str, ...] = ("worker", "branch")
"""Links to cells that a publish carries: ``worker`` (``worker_cell``), ``branch``
(``branch_cell``)."""


class CellLinkMove(Base):
    """A link of a worker or organisation to a cell that a publish moved.

    From the closed row ``from_cell_id`` to its successor ``to_cell_id``, or to
    none (NULL) when the cell vanished without a clear successor and the
    publisher accepted to leave the link undecided.
    """

    __tablename__ = "cell_link_move"
    __table_args__ = (
        CheckConstraint(f"link IN ({', '.join(repr(k) for k in CELL_LINKS)})", name="link"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("layout_version.id", ondelete="CASCADE"), index=True
    )
    link: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(Integer)
    from_cell_id: Mapped[int] = mapped_column(ForeignKey("grid_cell.id"))
    to_cell_id: Mapped[int | None] = mapped_column(ForeignKey("grid_cell.id"))


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
    # raw SQL: DDL, the column's default as the migration writes it.
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
