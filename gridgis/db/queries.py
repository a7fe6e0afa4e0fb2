"""Reading the stored hierarchy back as GeoDataFrames (EPSG:4326)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
from sqlalchemy import Connection, Engine, text

from gridgis.errors import ConfigError

Level = Literal["district", "street", "community", "cell"]
LEVELS: tuple[Level, ...] = ("district", "street", "community", "cell")

_SQL: dict[str, str] = {
    "district": "SELECT code, name, NULL::text AS parent_code, geom FROM district",
    "street": "SELECT code, name, district_code AS parent_code, geom FROM street",
    "community": "SELECT code, name, street_code AS parent_code, geom FROM community",
    "cell": (
        "SELECT code, name, community_code AS parent_code, households, residents, geom "
        "FROM grid_cell WHERE valid_to IS NULL"
    ),
}


@contextmanager
def connection(bind: Engine | Connection) -> Iterator[Connection]:
    """Use ``bind`` if it is a connection (inside its transaction), else open one."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """Use ``bind`` if it is a connection (the caller commits), else one committed transaction."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def check_level(level: str) -> Level:
    """Return ``level`` if it is one of :data:`LEVELS`, else raise naming it."""
    if level not in LEVELS:
        raise ConfigError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    return level


def read_areas(
    engine: Engine | Connection,
    level: str,
    *,
    within: str | None = None,
    with_geometry_only: bool = True,
) -> gpd.GeoDataFrame:
    """Read the districts, streets, communities or active cells.

    Parameters
    ----------
    engine:
        The database, or a connection to read inside its transaction.
    level:
        ``"district"``, ``"street"``, ``"community"`` or ``"cell"``.
    within:
        Only areas whose code starts with this code (e.g. a street's
        communities: ``within="350304001"``).
    with_geometry_only:
        Leave out areas that have no polygon yet (official names loaded
        before their boundaries).

    Returns
    -------
    GeoDataFrame
        Columns ``code``, ``name``, ``parent_code`` (and ``households``,
        ``residents`` for cells), geometry in EPSG:4326, sorted by code.

    Examples
    --------
    >>> read_areas(get_engine(), "district")  # doctest: +SKIP
         code  name parent_code                                           geom
    0  350304  荔城区        None  MULTIPOLYGON (((119.0 25.4, ...
    """
    sql = _SQL[check_level(level)]
    conditions = []
    params: dict[str, str] = {}
    if within:
        conditions.append("code LIKE :prefix")
        params["prefix"] = within + "%"
    if with_geometry_only:
        conditions.append("geom IS NOT NULL")
    if conditions:
        joiner = " AND " if " WHERE " in sql else " WHERE "
        sql = sql + joiner + " AND ".join(conditions)
    sql += " ORDER BY code"
    with connection(engine) as conn:
        frame = gpd.read_postgis(text(sql), conn, geom_col="geom", params=params, crs="EPSG:4326")
    if frame.crs is None:  # an empty result carries no CRS
        frame = frame.set_crs("EPSG:4326")
    return frame


def count_areas(engine: Engine | Connection) -> dict[str, int]:
    """Number of stored districts, streets, communities and active cells."""
    with connection(engine) as conn:
        row = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM district), (SELECT count(*) FROM street), "
                "(SELECT count(*) FROM community), "
                "(SELECT count(*) FROM grid_cell WHERE valid_to IS NULL)"
            )
        ).one()
    return dict(zip(LEVELS, (int(v) for v in row), strict=True))


_DISTRICT_OVERVIEW_SQL = text(
    """
    SELECT d.code, d.name, d.geom IS NOT NULL AS has_outline,
           (SELECT count(*) FROM street s WHERE s.district_code = d.code) AS streets,
           (SELECT count(*) FROM community c JOIN street s ON s.code = c.street_code
             WHERE s.district_code = d.code) AS communities
    FROM district d
    ORDER BY d.code
    """
)


@dataclass(frozen=True)
class DistrictSummary:
    """One line of the overview panel."""

    code: str
    name: str
    streets: int
    communities: int
    has_outline: bool


def district_summaries(engine: Engine | Connection) -> list[DistrictSummary]:
    """Return every district with its numbers of streets and communities, by code.

    Examples
    --------
    >>> district_summaries(engine)  # doctest: +SKIP
    [DistrictSummary(code='350304', name='荔城区', streets=6, communities=88, has_outline=True)]
    """
    with connection(engine) as conn:
        rows = conn.execute(_DISTRICT_OVERVIEW_SQL).all()
    return [
        DistrictSummary(
            code=row.code,
            name=row.name,
            streets=int(row.streets),
            communities=int(row.communities),
            has_outline=bool(row.has_outline),
        )
        for row in rows
    ]
