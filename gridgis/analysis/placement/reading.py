"""Reading a placement analysis's facilities, buildings, cells and roads from the database.

:func:`read_placement_data` returns a :class:`PlacementData` (all EPSG:4326)
for one street office and the facilities and roads around it, or for
everything stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Subquery,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute

from gridgis.codes import is_code
from gridgis.db.models import Building, GridCell, PartyBranch, Road, ServiceFacility, Street
from gridgis.db.queries import read_geoframe
from gridgis.errors import InputError, NotFoundError

FACILITY_KINDS: tuple[str, ...] = ("branch", "centre", "station")
"""Party branch (党支部), service centre (党群服务中心), service station (服务站)."""


@dataclass(frozen=True)
class PlacementData:
    """What a placement analysis reads from the database (all EPSG:4326).

    Attributes
    ----------
    facilities:
        ``facility_id`` (``"branch:12"``, ``"station:3"``), ``kind`` (one of
        :data:`FACILITY_KINDS`), ``id``, ``name``, ``community_code``,
        ``street_code``, ``in_area`` (inside the street asked for), point geometry.
        Facilities up to ``margin`` outside the street are included: they serve it too.
    buildings:
        ``id``, ``address``, ``households``, point geometry (the building's location).
    cells:
        Active cells: ``id``, ``code``, ``name``, ``community_code``, geometry.
    roads:
        ``id``, ``name``, ``kind``, line geometry (barriers included; the network keeps
        the walkable kinds).
    street, street_name:
        The street read, or ``None`` for everything stored.
    """

    facilities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    street: str | None = None
    street_name: str | None = None


def _facilities() -> Subquery:
    """Party branches and service facilities as one table ``f`` of the columns of
    :attr:`PlacementData.facilities` (``geom`` the location as stored).

    Only 党支部 (``kind = 'branch'``) are places residents walk to: a 党委 or 党总支 is
    the organisation above them, a 党小组 a group of one building."""
    branches = select(
        (literal("branch:") + cast(PartyBranch.id, Text)).label("facility_id"),
        literal("branch").label("kind"),
        PartyBranch.id,
        PartyBranch.name,
        PartyBranch.community_code,
        func.left(PartyBranch.community_code, 9).label("street_code"),
        PartyBranch.location.label("geom"),
    ).where(PartyBranch.kind == "branch")
    services = select(
        ServiceFacility.kind + ":" + cast(ServiceFacility.id, Text),
        ServiceFacility.kind,
        ServiceFacility.id,
        ServiceFacility.name,
        ServiceFacility.community_code,
        func.coalesce(ServiceFacility.street_code, func.left(ServiceFacility.community_code, 9)),
        ServiceFacility.location,
    )
    return union_all(branches, services).subquery("f")


def read_placement_data(
    connection: Connection,
    *,
    street: str | None = None,
    kinds: Sequence[str] = FACILITY_KINDS,
    margin: float = 1500.0,
) -> PlacementData:
    """Read facilities, buildings, cells and roads for a placement analysis.

    Parameters
    ----------
    connection:
        An open connection (read inside its transaction).
    street:
        A street office's 9-digit code: its buildings and cells, and the
        facilities and roads up to ``margin`` metres around them. ``None``
        reads everything stored.
    kinds:
        Facility kinds to read (:data:`FACILITY_KINDS`).
    margin:
        Metres around the street within which facilities and roads are read
        (a facility just outside serves the street's households too).

    Returns
    -------
    PlacementData

    Raises
    ------
    InputError
        For a malformed street code, an unknown kind or a negative margin.
    NotFoundError
        When the street is not stored.

    Examples
    --------
    >>> with engine.connect() as conn:
    ...     data = read_placement_data(conn, street="350304001")
    >>> len(data.facilities), len(data.buildings)
    (39, 484)
    """
    kinds = _check_kinds(kinds)
    if not (margin >= 0 and math.isfinite(margin)):
        raise InputError(
            f"`margin` was {margin!r} but is expected to be metres >= 0",
            zh=f"`margin` 为 {margin!r}，应为不小于 0 的米数",
        )
    street_name: str | None = None
    facilities = _facilities()
    facility_query = select(
        *(c for c in facilities.c if c.name != "geom"), _ewkb(facilities.c.geom)
    ).where(facilities.c.kind == any_(bindparam("kinds", list(kinds), type_=ARRAY(Text))))
    building_query = select(
        Building.id, Building.address, Building.households, _ewkb(Building.location)
    ).order_by(Building.id)
    cell_query = (
        select(
            GridCell.id,
            GridCell.code,
            GridCell.name,
            GridCell.community_code,
            _ewkb(GridCell.geom),
        )
        .where(GridCell.valid_to.is_(None))
        .order_by(GridCell.code)
    )
    road_query = select(Road.id, Road.name, Road.kind, _ewkb(Road.geom)).order_by(Road.id)
    if street is not None:
        if not is_code(street, "street"):
            raise InputError(
                f"`street` was {street!r} but is expected to be a street office's 9-digit code "
                "(e.g. 350304001)",
                zh=f"`street` 为 {street!r}，应为 9 位街道编码（例如 350304001）",
            )
        street_name = connection.execute(select(Street.name).where(Street.code == street)).scalar()
        if street_name is None:
            raise NotFoundError(
                f"`street` was {street!r} but no street office has that code",
                zh=f"`street` 为 {street!r}，但没有这个编码的街道",
            )
        prefix = street + "%"
        area = _around(connection, street, prefix, margin)
        facility_query = facility_query.where(facilities.c.geom.intersects(area))
        building_query = building_query.where(Building.community_code.like(prefix))
        cell_query = cell_query.where(GridCell.code.like(prefix))
        road_query = road_query.where(Road.geom.intersects(area))
    facilities_frame = read_geoframe(connection, facility_query.order_by(facilities.c.facility_id))
    facilities_frame["in_area"] = (
        facilities_frame["street_code"].fillna("").str.startswith(street or "")
    )
    buildings = read_geoframe(connection, building_query)
    cells = read_geoframe(connection, cell_query)
    roads = read_geoframe(connection, road_query)
    return PlacementData(facilities_frame, buildings, cells, roads, street, street_name)


def _ewkb(geom: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[Any]:
    """``geom`` as PostGIS's binary with its SRID, named ``geom`` (what read_geoframe parses)."""
    return func.ST_AsEWKB(geom).label("geom")


def _around(connection: Connection, street: str, prefix: str, margin: float) -> ColumnElement[Any]:
    """The box ``margin`` metres around a street's outline, cells and buildings."""
    parts = union_all(
        select(Street.geom.label("g")).where(Street.code == street),
        select(GridCell.geom).where(GridCell.valid_to.is_(None), GridCell.code.like(prefix)),
        select(Building.location).where(Building.community_code.like(prefix)),
    ).subquery("parts")
    extent = select(func.ST_Extent(parts.c.g).label("e")).subquery("extent")
    e = extent.c.e
    box = connection.execute(
        select(func.ST_XMin(e), func.ST_YMin(e), func.ST_XMax(e), func.ST_YMax(e))
    ).one()
    if box[0] is None:  # a street with no outline, cell or building yet
        x0, y0, x1, y1 = 0.0, 0.0, -1.0, -1.0
    else:
        lat = math.radians((box[1] + box[3]) / 2)
        dy = margin / 111_320.0
        dx = dy / max(math.cos(lat), 0.01)
        x0, y0, x1, y1 = box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy
    return func.ST_MakeEnvelope(x0, y0, x1, y1, 4326)


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(kinds)
    bad = [k for k in chosen if k not in FACILITY_KINDS]
    if bad or not chosen:
        raise InputError(
            f"`kinds` was {list(chosen)!r} but is expected to be one or more of "
            f"{list(FACILITY_KINDS)}",
            zh=f"`kinds` 为 {list(chosen)!r}，应为 {list(FACILITY_KINDS)} 中的一个或多个",
        )
    return chosen
