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
from sqlalchemy import Connection, text

from gridgis.codes import is_code
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


_FACILITIES_SQL = """
SELECT * FROM (
    SELECT 'branch:' || id AS facility_id, 'branch' AS kind, id, name, community_code,
           left(community_code, 9) AS street_code, location AS geom
    FROM party_branch
    UNION ALL
    SELECT kind || ':' || id, kind, id, name, community_code,
           COALESCE(street_code, left(community_code, 9)), location
    FROM service_facility
) f
WHERE kind = ANY(:kinds)
"""


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
        raise InputError(f"`margin` was {margin!r} but is expected to be metres >= 0")
    street_name: str | None = None
    params: dict[str, Any] = {"kinds": list(kinds)}
    area = ""
    if street is not None:
        if not is_code(street, "street"):
            raise InputError(
                f"`street` was {street!r} but is expected to be a street office's 9-digit code "
                "(e.g. 350304001)"
            )
        street_name = connection.execute(
            text("SELECT name FROM street WHERE code = :code"), {"code": street}
        ).scalar()
        if street_name is None:
            raise NotFoundError(f"`street` was {street!r} but no street office has that code")
        params["prefix"] = street + "%"
        box = connection.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                " SELECT ST_Extent(g) AS e FROM ("
                "  SELECT geom AS g FROM street WHERE code = :code"
                "  UNION ALL SELECT geom FROM grid_cell"
                "   WHERE valid_to IS NULL AND code LIKE :prefix"
                "  UNION ALL SELECT location FROM building WHERE community_code LIKE :prefix"
                " ) parts) extent"
            ),
            {"code": street, "prefix": params["prefix"]},
        ).one()
        if box[0] is None:  # a street with no outline, cell or building yet
            params.update(x0=0.0, y0=0.0, x1=-1.0, y1=-1.0)
        else:
            lat = math.radians((box[1] + box[3]) / 2)
            dy = margin / 111_320.0
            dx = dy / max(math.cos(lat), 0.01)
            params.update(x0=box[0] - dx, y0=box[1] - dy, x1=box[2] + dx, y1=box[3] + dy)
        area = " AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
    cell_filter = " AND code LIKE :prefix" if street else ""
    building_filter = " WHERE community_code LIKE :prefix" if street else ""
    facilities = _read(connection, _FACILITIES_SQL + area + " ORDER BY facility_id", params)
    prefix = street or ""
    facilities["in_area"] = facilities["street_code"].fillna("").str.startswith(prefix)
    buildings = _read(
        connection,
        "SELECT id, address, households, location AS geom FROM building"
        + building_filter
        + " ORDER BY id",
        params,
    )
    cells = _read(
        connection,
        "SELECT id, code, name, community_code, geom FROM grid_cell WHERE valid_to IS NULL"
        + cell_filter
        + " ORDER BY code",
        params,
    )
    roads = _read(
        connection,
        "SELECT id, name, kind, geom FROM road WHERE true" + area + " ORDER BY id",
        params,
    )
    return PlacementData(facilities, buildings, cells, roads, street, street_name)


def _read(connection: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    return read_geoframe(connection, text(sql), params)


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(kinds)
    bad = [k for k in chosen if k not in FACILITY_KINDS]
    if bad or not chosen:
        raise InputError(
            f"`kinds` was {list(chosen)!r} but is expected to be one or more of "
            f"{list(FACILITY_KINDS)}"
        )
    return chosen
