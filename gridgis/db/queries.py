"""Reading the stored hierarchy back as GeoDataFrames (EPSG:4326)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import WKBElement
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Label,
    Result,
    ScalarSelect,
    Select,
    Text,
    bindparam,
    cast,
    func,
    null,
    select,
)
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from gridgis.codes import LEVELS, Level, parent_code
from gridgis.db.models import Community, District, GridCell, Street
from gridgis.errors import ConfigError


def ewkb(geom: ColumnElement[Any] | QueryableAttribute[Any], name: str = "geom") -> Label[Any]:
    """``ST_AsEWKB(geom) AS name``: a geometry as PostGIS's binary with its SRID, plain bytes.

    What :func:`read_geoframe` parses fastest; selecting a geometry column
    itself works too, but GeoAlchemy2 then wraps each value in a
    :class:`~geoalchemy2.WKBElement`.

    Examples
    --------
    >>> print(ewkb(GridCell.geom))
    ST_AsEWKB(grid_cell.geom)
    """
    return func.ST_AsEWKB(geom).label(name)


def _level_select(level: Level) -> Select[*tuple[Any, ...]]:
    """The columns :func:`read_areas` answers for ``level``, unfiltered and unsorted."""
    if level == "district":
        return select(
            District.code,
            District.name,
            cast(null(), Text).label("parent_code"),
            ewkb(District.geom),
        )
    if level == "street":
        return select(
            Street.code, Street.name, Street.district_code.label("parent_code"), ewkb(Street.geom)
        )
    if level == "community":
        return select(
            Community.code,
            Community.name,
            Community.street_code.label("parent_code"),
            ewkb(Community.geom),
        )
    return select(
        GridCell.code,
        GridCell.name,
        GridCell.community_code.label("parent_code"),
        GridCell.households,
        GridCell.residents,
        ewkb(GridCell.geom),
    ).where(GridCell.valid_to.is_(None))


_MODELS: dict[str, type[District] | type[Street] | type[Community] | type[GridCell]] = {
    "district": District,
    "street": Street,
    "community": Community,
    "cell": GridCell,
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
def reading(bind: Engine | Connection) -> Iterator[Connection]:
    """``bind`` if it is a connection, else a new one in autocommit, for reads that need no
    transaction: each statement sees what is committed when it starts, as it would in a
    READ COMMITTED transaction, and the ``BEGIN`` and ``ROLLBACK`` round trips are saved
    (on every request's user, the intake cache's versions, a filing's likely duplicates)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def unprepared(conn: Connection) -> Iterator[Connection]:
    """``conn`` with psycopg's preparing of statements off inside the block.

    psycopg prepares a statement from its fifth use on a connection; PostgreSQL then plans
    it once for any parameters after a few uses (a generic plan). For a query whose best
    plan depends on its values (a point, for the spatial index), that plan can be far
    slower: inside this block each statement is planned for its own values.
    """
    driver: Any = conn.connection.driver_connection
    if not hasattr(driver, "prepare_threshold"):  # another driver: nothing to turn off
        yield conn
        return
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield conn
    finally:
        driver.prepare_threshold = threshold


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """Use ``bind`` if it is a connection (the caller commits), else one committed transaction."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def plain_value(value: object) -> object:
    """``value`` as the database driver takes it: NaN, ``pd.NA`` and None alike as None,
    numpy scalars as Python numbers.

    Examples
    --------
    >>> plain_value(np.int64(3)), plain_value(float("nan")), plain_value(pd.NA), plain_value("a")
    (3, None, None, 'a')
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def result_frame(result: Result[Any], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows of ``result`` as a DataFrame (columns named as in the query, or ``columns``).

    Values as :meth:`pandas.DataFrame.from_records` makes them of tuples
    (``Decimal`` made float). The rows are made plain tuples first: given
    SQLAlchemy's rows themselves, pandas probes each for attributes, which
    SQLAlchemy answers through its slow missing-key path (0.4 s for 30,000
    rows of nine columns, against 0.1 s).

    Examples
    --------
    >>> with engine.connect() as conn:
    ...     frame = result_frame(conn.execute(select(GridCell.code, GridCell.households)))
    >>> list(frame.columns)
    ['code', 'households']
    """
    names = list(result.keys()) if columns is None else list(columns)
    rows = [tuple(row) for row in result.all()]
    return pd.DataFrame.from_records(rows, columns=names, coerce_float=True)


def read_geoframe(
    conn: Connection,
    statement: Executable,
    params: dict[str, Any] | None = None,
    *,
    geom_col: str = "geom",
    crs: str = "EPSG:4326",
) -> gpd.GeoDataFrame:
    """Run ``statement`` and answer its rows as a GeoDataFrame whose geometry is ``geom_col``.

    The same frame as :func:`geopandas.read_postgis` (columns in the query's
    order, values as :meth:`pandas.DataFrame.from_records` makes them), but
    every geometry is parsed in one call of :func:`shapely.from_wkb` instead
    of one Python call a row: a third of a second less for a street's
    buildings. The geometry column may be binary (:func:`ewkb`,
    ``ST_AsBinary``), hex EWKB, or a GeoAlchemy2 geometry column selected as
    it is (:class:`~geoalchemy2.WKBElement`); NULL stays missing. An empty
    answer has ``crs`` too.

    Parameters
    ----------
    conn:
        An open connection.
    statement:
        A Core ``select()`` (or another executable returning rows).
    params:
        Values of the statement's ``bindparam()`` s, if it has any.
    geom_col:
        The column holding the geometries.
    crs:
        Their CRS.

    Examples
    --------
    >>> with engine.connect() as conn:
    ...     cells = read_geoframe(conn, select(GridCell.code, ewkb(GridCell.geom)).limit(2))
    >>> cells.crs.to_epsg(), cells.geometry.name
    (4326, 'geom')
    """
    frame = result_frame(conn.execute(statement, params or {}))
    values = frame[geom_col].to_numpy(dtype=object)
    if any(isinstance(value, WKBElement) for value in values):
        # A geometry column selected as it is: GeoAlchemy2 wrapped each value; unwrap them.
        values = np.array(
            [value.data if isinstance(value, WKBElement) else value for value in values],
            dtype=object,
        )
    geoms = shapely.from_wkb(values) if len(values) else np.zeros(0, dtype=object)
    frame[geom_col] = gpd.GeoSeries(geoms, index=frame.index, crs=crs)
    return gpd.GeoDataFrame(frame, geometry=geom_col, crs=crs)


def check_level(level: str) -> Level:
    """Return ``level`` if it is one of :data:`LEVELS`, else raise naming it."""
    if level not in LEVELS:
        raise ConfigError(
            f"`level` was {level!r} but is expected to be one of {list(LEVELS)}",
            zh=f"`level` 为 {level!r}，应为 {list(LEVELS)} 之一",
        )
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
    >>> from gridgis.db.engine import get_engine
    >>> districts = read_areas(get_engine(), "district")
    >>> districts.loc[0, ["code", "name"]].tolist(), districts.geometry.geom_type[0]
    (['350304', '荔城区'], 'MultiPolygon')
    """
    statement = _areas_statement(check_level(level), bool(within), with_geometry_only)
    with connection(engine) as conn:
        return read_geoframe(conn, statement, {"prefix": f"{within}%"} if within else None)


@functools.cache
def _areas_statement(
    level: Level, within: bool, with_geometry_only: bool
) -> Select[*tuple[Any, ...]]:
    """The select of :func:`read_areas`, built once per kind of call (the web reads cells
    at every request); ``within`` binds ``prefix``."""
    model = _MODELS[level]
    statement = _level_select(level)
    if within:
        statement = statement.where(model.code.like(bindparam("prefix")))
    if with_geometry_only:
        statement = statement.where(model.geom.is_not(None))
    return statement.order_by(model.code)


def count_areas(engine: Engine | Connection) -> dict[str, int]:
    """Number of stored districts, streets, communities and active cells."""
    with connection(engine) as conn:
        row = conn.execute(_COUNT_AREAS).one()
    return dict(zip(LEVELS, (int(v) for v in row), strict=True))


_COUNT_AREAS = select(
    select(func.count()).select_from(District).scalar_subquery(),
    select(func.count()).select_from(Street).scalar_subquery(),
    select(func.count()).select_from(Community).scalar_subquery(),
    select(func.count()).select_from(GridCell).where(GridCell.valid_to.is_(None)).scalar_subquery(),
)


def _district_overview() -> Select[*tuple[Any, ...]]:
    """Each district with its numbers of streets and communities, by code."""
    streets = (
        select(func.count())
        .select_from(Street)
        .where(Street.district_code == District.code)
        .scalar_subquery()
    )
    communities = (
        select(func.count())
        .select_from(Community)
        .join(Street, Street.code == Community.street_code)
        .where(Street.district_code == District.code)
        .scalar_subquery()
    )
    return select(
        District.code,
        District.name,
        District.geom.is_not(None).label("has_outline"),
        streets.label("streets"),
        communities.label("communities"),
    ).order_by(District.code)


_DISTRICT_OVERVIEW = _district_overview()


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
    >>> district_summaries(engine)
    [DistrictSummary(code='350304', name='荔城区', streets=6, communities=130, has_outline=True)]
    """
    with connection(engine) as conn:
        rows = conn.execute(_DISTRICT_OVERVIEW).all()
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


def _count(*where: ColumnElement[bool]) -> ScalarSelect[int]:
    """How many rows of the table ``where`` is about match it."""
    return select(func.count()).where(*where).scalar_subquery()


_STREET_COUNTS = select(
    _count(District.code == bindparam("district")),
    _count(Street.code == bindparam("street")),
    _count(Community.street_code == bindparam("street")),
    _count(GridCell.valid_to.is_(None), GridCell.code.like(bindparam("prefix"))),
)
"""The areas a street's user sees: its district, itself, its communities, its active cells."""


def area_counts(bind: Engine | Connection, *, street: str | None = None) -> dict[str, int]:
    """Number of districts, streets, communities and active cells a user can see.

    Parameters
    ----------
    street:
        A street user's scope (:attr:`User.scope`): its district, itself, its
        communities and their cells are counted. ``None`` counts everything
        (as :func:`gridgis.db.queries.count_areas`).

    Examples
    --------
    >>> area_counts(engine, street="350304001")
    {'district': 1, 'street': 1, 'community': 11, 'cell': 11}
    """
    if street is None:
        return count_areas(bind)
    with connection(bind) as conn:
        row = conn.execute(
            _STREET_COUNTS,
            {"district": parent_code(street, "district"), "street": street, "prefix": street + "%"},
        ).one()
    levels = ("district", "street", "community", "cell")
    return dict(zip(levels, (int(v) for v in row), strict=True))
