"""Point-in-cell in PostGIS: :func:`locate_in_db`, reading a stored layout, :func:`cell_at`.

The database half of :mod:`gridgis.geocode` (which is pure geometry and does
not reach the database): :func:`locate_in_db` sends the points to the
database (a binary ``COPY`` into an indexed temporary table for many points,
an ``unnest`` of two arrays for a few) and joins them with ``grid_cell``
there; :func:`load_cell_index` reads a stored layout (active, or valid at a
time) into a :class:`~gridgis.geocode.memory.CellIndex`; :func:`cell_at` is the
same rule as a subquery for a ``LATERAL`` join; :class:`DatabaseLocator` is the
:class:`~gridgis.geocode.CellLocator` that asks PostGIS.

The statements are SQLAlchemy Core, but for the bulk path's temporary table,
its ``COPY`` and its bucket join (see :func:`_db_hits_bulk`), which are SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    FromClause,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    column,
    func,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, aggregate_order_by, array_agg
from sqlalchemy.orm import QueryableAttribute

from gridgis.crs import CRSLike
from gridgis.db.models import Community, District, GridCell
from gridgis.errors import InputError
from gridgis.geocode.locators import _cell_of_row
from gridgis.geocode.memory import CellIndex
from gridgis.geocode.rules import _checked_lonlat, _frame, _smallest

__all__ = ["DatabaseLocator", "cell_at", "load_cell_index", "locate_in_db"]

_DB_BULK_MIN = 2_000
_DB_BULK_CELLS_PER_POINT = 2
""":func:`locate_in_db` copies the points into an indexed temporary table from
``_DB_BULK_MIN`` points on, and from half as many points as the layout has cells
(reading every cell's bucket rows costs about as much as probing for 15,000 points
when there are 30,000 cells)."""

_CELL = GridCell.__table__
_COMMUNITY = Community.__table__
_DISTRICT = District.__table__
_PG_SETTINGS = table("pg_settings", column("name"), column("setting"), column("unit"))
_FLOATS = ARRAY(DOUBLE_PRECISION)


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    if at is not None and (not isinstance(at, dt.datetime) or at.utcoffset() is None):
        raise InputError(
            f"`at` was {at!r} but is expected to be a timezone-aware datetime "
            "(e.g. datetime(2024, 5, 1, tzinfo=timezone.utc)) or None for the active cells",
            zh=f"`at` 为 {at!r}，应为带时区的日期时间（例如 datetime(2024, 5, 1, tzinfo="
            "timezone.utc)），或为 None 表示现行网格",
        )
    return at


def _at_params(at: dt.datetime | None) -> dict[str, Any]:
    """The bind parameters of the statements built with ``dated`` (``:at``)."""
    return {"at": at} if at is not None else {}


def _in_layout(cells: FromClause, dated: bool) -> ColumnElement[bool]:
    """The condition on ``cells`` (``grid_cell`` or an alias) selecting the layout: the
    active cells, or with ``dated`` those valid at ``:at``."""
    if not dated:
        return cells.c.valid_to.is_(None)
    at = bindparam("at", type_=DateTime(timezone=True))
    return and_(cells.c.valid_from <= at, or_(cells.c.valid_to.is_(None), cells.c.valid_to > at))


# The statements of the few-point path (one case filed: every call) are built once per
# kind of layout and reused with their parameters.


@functools.cache
def _outline_select(dated: bool) -> Select[*tuple[Any, ...]]:
    """One row: the union of the outlines of the districts holding the layout's cells (WKB),
    and their codes."""
    districts = (
        select(func.left(_CELL.c.community_code, 6)).where(_in_layout(_CELL, dated)).distinct()
    )
    return select(
        func.ST_AsBinary(func.ST_Union(_DISTRICT.c.geom)).label("wkb"),
        array_agg(aggregate_order_by(_DISTRICT.c.code, _DISTRICT.c.code)).label("codes"),
    ).where(_DISTRICT.c.code.in_(districts))


@functools.cache
def _cells_select(dated: bool) -> Select[*tuple[Any, ...]]:
    """The layout's cells with their street, by code (for :func:`load_cell_index`)."""
    return (
        select(
            _CELL.c.id,
            _CELL.c.code,
            _CELL.c.community_code,
            _COMMUNITY.c.street_code,
            func.ST_AsBinary(_CELL.c.geom).label("wkb"),
        )
        .join_from(_CELL, _COMMUNITY, _COMMUNITY.c.code == _CELL.c.community_code)
        .where(_in_layout(_CELL, dated))
        .order_by(_CELL.c.code)
    )


@functools.cache
def _few_hits_select(dated: bool) -> Select[*tuple[Any, ...]]:
    """(point, cell id) pairs of the points ``:x``, ``:y``: one GiST probe per point."""
    points = (
        func.unnest(bindparam("x", type_=_FLOATS), bindparam("y", type_=_FLOATS))
        .table_valued("x", "y", with_ordinality="i")
        .render_derived(name="p")
    )
    point = func.ST_SetSRID(func.ST_MakePoint(points.c.x, points.c.y), 4326)
    return (
        select((points.c.i - 1).label("i"), _CELL.c.id)
        .join_from(points, _CELL, func.ST_Intersects(_CELL.c.geom, point))
        .where(_in_layout(_CELL, dated))
    )


_HIT_CELLS = (
    select(_CELL.c.id, _CELL.c.code, _CELL.c.community_code, _COMMUNITY.c.street_code)
    .join_from(_CELL, _COMMUNITY, _COMMUNITY.c.code == _CELL.c.community_code)
    .where(_CELL.c.id == any_(bindparam("ids", type_=ARRAY(Integer))))
    .order_by(_CELL.c.code)
)
"""The cells ``:ids`` with their community and street, by code."""


@functools.cache
def _size_select(dated: bool) -> Select[*tuple[Any, ...]]:
    """The layout's number of cells and their median height in degrees."""
    height = func.ST_YMax(_CELL.c.geom) - func.ST_YMin(_CELL.c.geom)
    return select(func.count(), func.percentile_disc(0.5).within_group(height)).where(
        _in_layout(_CELL, dated)
    )


def load_cell_index(connection: Connection, *, at: dt.datetime | None = None) -> CellIndex:
    """Read a stored layout into a :class:`CellIndex`.

    Parameters
    ----------
    connection:
        An open connection (its transaction is used as is).
    at:
        ``None`` for the active cells, or a timezone-aware time for the cells
        valid then (``valid_from <= at < valid_to``, or still open).

    Returns
    -------
    CellIndex
        With ``cell_ids`` from ``grid_cell.id``, street codes from the
        communities, and the outline of the districts holding the cells.

    Raises
    ------
    InputError
        When ``at`` is not a timezone-aware datetime.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> from gridgis.geocode import locate
    >>> with get_engine().connect() as conn:
    ...     index = load_cell_index(conn)
    ...     locate(index, [119.0128], [25.4119])["cell_code"].tolist()
    ['350304001007001']
    """
    params = _at_params(_aware(at))
    dated = at is not None
    rows = connection.execute(_cells_select(dated), params).all()
    outline_row = connection.execute(_outline_select(dated), params).one()
    wkbs = np.array([bytes(r.wkb) for r in rows], dtype=object)
    return CellIndex(
        cell_ids=np.array([r.id for r in rows], dtype=np.int64),
        codes=np.array([r.code for r in rows], dtype=object),
        community_codes=np.array([r.community_code for r in rows], dtype=object),
        street_codes=np.array([r.street_code for r in rows], dtype=object),
        geoms=shapely.from_wkb(wkbs) if len(wkbs) else np.zeros(0, dtype=object),
        outline=shapely.from_wkb(bytes(outline_row.wkb)) if outline_row.wkb else None,
        districts=tuple(outline_row.codes or ()),
        at=at,
    )


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_COPY_TRAILER = b"\xff\xff"
_POINT_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("key_size", ">i4"),
        ("key", ">i8"),
        ("i_size", ">i4"),
        ("i", ">i4"),
        ("geom_size", ">i4"),
        ("byte_order", "u1"),
        ("wkb_type", "<u4"),
        ("srid", "<u4"),
        ("x", "<f8"),
        ("y", "<f8"),
    ]
)
"""One row of ``COPY ... (FORMAT binary)``: an int8, an int4 and a little-endian EWKB point."""
_HIT = np.dtype([("i", ">i4"), ("id", ">i4")])
"""A (point, cell id) pair as PostgreSQL's ``int4send`` writes them: big-endian int4s."""

# raw SQL: DDL of the temporary table the bulk path copies its points into
_DROP_POINTS = text("DROP TABLE IF EXISTS pg_temp.gridgis_geocode_points")
# raw SQL: DDL (a temporary table; PostGIS's geometry type)
_CREATE_POINTS = text(
    "CREATE TEMP TABLE gridgis_geocode_points "
    "(k int8 NOT NULL, i int4 NOT NULL, geom geometry(Point, 4326) NOT NULL)"
)
# raw SQL: a binary COPY into the temporary table (psycopg's copy, not a statement)
_COPY_POINTS = "COPY gridgis_geocode_points (k, i, geom) FROM STDIN (FORMAT binary)"
# raw SQL: DDL (an index on the temporary table)
_INDEX_POINTS = text("CREATE INDEX ON gridgis_geocode_points (k)")
# raw SQL: ANALYZE has no Core form
_ANALYZE_POINTS = text("ANALYZE gridgis_geocode_points")
# raw SQL: DDL (dropping the temporary table)
_DROP_POINTS_AFTER = text("DROP TABLE gridgis_geocode_points")

# A join planned by hand against the temporary table: each cell reads the points of the
# bucket rows under its bounding box (generate_series, then one B-tree range scan a row);
# OFFSET 0 keeps the lateral subquery from being flattened into a join driven from the
# points; the pairs come back as one bytea, not a million rows. The bucket ranges are
# widened by a millionth of a bucket against rounding. ``:at`` NULL: the active cells;
# else those valid at ``:at``.
# raw SQL: a plan written by hand (lateral generate_series, an OFFSET 0 fence, int4send)
_BUCKET_HITS = text(
    """
    SELECT string_agg(int4send(p.i) || int4send(c.id), ''::bytea)
    FROM grid_cell c
    CROSS JOIN LATERAL generate_series(
        greatest(floor((ST_YMin(c.geom) - :y0) / :size - 1e-6)::int8, 0),
        least(floor((ST_YMax(c.geom) - :y0) / :size + 1e-6)::int8, :rows - 1)) AS row
    CROSS JOIN LATERAL (
        SELECT q.i FROM gridgis_geocode_points q
        WHERE q.k BETWEEN
                row * :across + greatest(floor((ST_XMin(c.geom) - :x0) / :size - 1e-6)::int8, 0)
            AND row * :across + least(floor((ST_XMax(c.geom) - :x0) / :size + 1e-6)::int8,
                                      :across - 1)
          AND ST_Intersects(c.geom, q.geom)
        OFFSET 0) AS p
    WHERE CASE WHEN CAST(:at AS timestamptz) IS NULL THEN c.valid_to IS NULL
               ELSE c.valid_from <= :at AND (c.valid_to IS NULL OR c.valid_to > :at) END
    """
)


def _binary_points(
    key: NDArray[np.int64], lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> bytes:
    """Rows (key, position, point) as a binary COPY stream (built with numpy, no loop)."""
    rows = np.empty(len(lon), dtype=_POINT_ROW)
    rows["fields"] = 3
    rows["key_size"] = 8
    rows["key"] = key
    rows["i_size"] = 4
    rows["i"] = np.arange(len(lon))
    rows["geom_size"] = 25
    rows["byte_order"] = 1
    rows["wkb_type"] = 0x20000001  # point, with an SRID
    rows["srid"] = 4326
    rows["x"] = lon
    rows["y"] = lat
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


def _db_hits_bulk(
    connection: Connection,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    at: dt.datetime | None,
    height: float,
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """(point, cell id) pairs, driven from the cells (``height``: their median in degrees).

    The points go into a temporary table, sorted by the row-major number of the bucket
    they fall in (a grid of about a third of the median cell height) and B-tree indexed
    on it; each cell then reads the points of the bucket rows under its bounding box,
    one range scan per row, and tests them exactly. Building that B-tree takes a tenth
    of the time of a GiST index on the points, and the per-cell reads are as fast.
    """
    size = max(height / 3.0, 1e-6)
    x0, y0 = float(lon.min()), float(lat.min())
    kx = np.floor((lon - x0) / size).astype(np.int64)
    ky = np.floor((lat - y0) / size).astype(np.int64)
    across = int(kx.max()) + 1
    key = ky * across + kx
    order = np.argsort(key, kind="stable")
    connection.execute(_DROP_POINTS)
    connection.execute(_CREATE_POINTS)
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(_COPY_POINTS) as copy:
        copy.write(_binary_points(key[order], lon[order], lat[order]))
    connection.execute(_INDEX_POINTS)
    connection.execute(_ANALYZE_POINTS)
    data = connection.execute(
        _BUCKET_HITS,
        {
            "at": at,
            "size": size,
            "x0": x0,
            "y0": y0,
            "across": across,
            "rows": int(ky.max()) + 1,
        },
    ).scalar_one()
    connection.execute(_DROP_POINTS_AFTER)
    hits = np.frombuffer(bytes(data) if data is not None else b"", dtype=_HIT)
    return order[hits["i"].astype(np.intp)], hits["id"].astype(np.int64)


def _db_hits_few(
    connection: Connection,
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    at: dt.datetime | None,
) -> tuple[NDArray[np.intp], NDArray[np.int64]]:
    """(point, cell id) pairs, one probe of the cells' GiST index per point."""
    if len(lon) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64)
    rows = connection.execute(
        _few_hits_select(at is not None),
        {"x": lon.tolist(), "y": lat.tolist(), **_at_params(at)},
    ).all()
    return (
        np.array([r.i for r in rows], dtype=np.intp),
        np.array([r.id for r in rows], dtype=np.int64),
    )


def _db_outline(connection: Connection, at: dt.datetime | None) -> shapely.Geometry | None:
    """The outline of the layout's districts, as :func:`load_cell_index` reads it."""
    wkb = connection.execute(_outline_select(at is not None), _at_params(at)).scalar_one()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


@contextmanager
def _settings(connection: Connection, **values: str) -> Iterator[None]:
    """Set PostgreSQL settings for the caller's transaction, then put them back."""
    if not values:
        yield
        return
    names = list(values)
    settings = _PG_SETTINGS.c
    before = connection.execute(
        select(settings.name, settings.setting, settings.unit).where(settings.name.in_(names))
    ).all()
    for name, value in values.items():
        connection.execute(select(func.set_config(name, value, True)))
    yield
    for row in before:
        value = f"{row.setting}{row.unit}" if row.unit and row.unit[0].isalpha() else row.setting
        connection.execute(select(func.set_config(row.name, value, True)))


def locate_in_db(
    connection: Connection,
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    at: dt.datetime | None = None,
    crs: CRSLike = "wgs84",
) -> pd.DataFrame:
    """Find the cell of each point in PostGIS (nothing is loaded beforehand).

    The points are checked in Python first (:func:`gridgis.crs.check_lonlat`);
    only plausible ones are sent. A few points (fewer than 2,000, or than
    half the cells) are joined one by one through the cells' GiST index
    (about 25 µs a point). More are copied (binary ``COPY``) into a
    temporary table keyed by a grid of buckets, and each cell reads the
    points under its bounding box from it: about 4 µs a point plus 7 µs a
    cell, so 4-5 times faster for 200,000 points in 30,000 cells. The point
    on several cells still goes to the smallest code, and the ``gap`` /
    ``outside`` test uses the same district outline as
    :func:`load_cell_index`.

    Parameters
    ----------
    connection:
        An open connection; its transaction is used (a temporary table is
        created and dropped in it for large inputs).
    lon, lat:
        Coordinates (array-likes of one shape, or scalars).
    at:
        ``None`` for the active cells, or a timezone-aware time for the
        cells valid then.
    crs:
        The system of ``lon``/``lat`` (default WGS84), as for
        :func:`gridgis.geocode.locate`.

    Returns
    -------
    pandas.DataFrame
        Exactly as :func:`gridgis.geocode.locate`, with the same flags and the
        same smallest-code rule on shared boundaries.

    Raises
    ------
    InputError
        When ``at`` is not a timezone-aware datetime.
    CRSError, CoordinateError
        As for :func:`gridgis.geocode.locate`.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> with get_engine().connect() as conn:
    ...     found = locate_in_db(conn, [119.0128, 25.4119], [25.4119, 119.0128])
    >>> found[["cell_code", "flag"]].to_numpy().tolist()
    [['350304001007001', None], [None, 'swapped']]
    """
    at = _aware(at)
    lon_, lat_, status = _checked_lonlat(lon, lat, crs)
    ok = np.flatnonzero(status == 0)
    count, height = 0, None
    if ok.size >= _DB_BULK_MIN:
        count, height = connection.execute(_size_select(at is not None), _at_params(at)).one()
    # The plans are simple and, for many points, costly enough for PostgreSQL to compile
    # them (JIT), which only costs time here.
    with _settings(connection, **({"jit": "off"} if ok.size >= 500 else {})):
        if height is not None and ok.size * _DB_BULK_CELLS_PER_POINT >= count:
            point, cell_id = _db_hits_bulk(connection, lon_[ok], lat_[ok], at, float(height))
        else:
            point, cell_id = _db_hits_few(connection, lon_[ok], lat_[ok], at)
    hit_cells = connection.execute(_HIT_CELLS, {"ids": np.unique(cell_id).tolist()}).all()
    ids = np.array([r.id for r in hit_cells], dtype=np.int64)
    by_id = np.argsort(ids)
    rank = by_id[np.searchsorted(ids, cell_id, sorter=by_id)]
    found = np.full(len(lon_), -1, dtype=np.int64)
    found[ok] = _smallest(point, rank, ok.size)
    return _frame(
        lon_,
        lat_,
        status,
        found,
        lambda: _db_outline(connection, at),
        ids,
        np.array([r.code for r in hit_cells], dtype=object),
        np.array([r.community_code for r in hit_cells], dtype=object),
        np.array([r.street_code for r in hit_cells], dtype=object),
    )


def cell_at(
    point: ColumnElement[Any] | QueryableAttribute[Any],
    *,
    community: ColumnElement[str] | QueryableAttribute[str] | None = None,
) -> Select[str, int]:
    """The active cell holding ``point`` (a geometry expression), by the rule of the locators.

    A select of one row (``code``, ``id``) to join ``LATERAL``: the active cell
    whose polygon intersects the point, the smallest code when the point lies
    on a boundary several cells share, as :func:`locate_in_db` finds it. The
    cells are an alias of their own, so the caller's query may read
    ``grid_cell`` too.

    Parameters
    ----------
    point:
        A point geometry, usually a column of the enclosing query
        (``Building.location``).
    community:
        Only cells of this community (an expression of its code, e.g.
        ``Building.community_code``).

    Examples
    --------
    >>> from sqlalchemy import select, true
    >>> from gridgis.db.models import Building
    >>> found = cell_at(Building.location).lateral("x")
    >>> query = select(Building.id, found.c.code).join(found, true()).order_by(Building.id)
    >>> conn.execute(query.limit(1)).one()
    (1, '350304001001001')
    """
    cells = _CELL.alias()
    conditions: list[ColumnElement[bool]] = [cells.c.valid_to.is_(None)]
    if community is not None:
        conditions.append(cells.c.community_code == community)
    conditions.append(func.ST_Intersects(cells.c.geom, point))
    return select(cells.c.code, cells.c.id).where(*conditions).order_by(cells.c.code).limit(1)


@dataclass(frozen=True)
class DatabaseLocator:
    """A :class:`~gridgis.geocode.CellLocator` that asks PostGIS (:func:`locate_in_db`).

    Examples
    --------
    >>> from gridgis.geocode import CellLocator
    >>> locator = DatabaseLocator(conn)
    >>> isinstance(locator, CellLocator), locator.cell_of(119.0128, 25.4119)["cell_code"]
    (True, '350304001007001')
    """

    connection: Connection
    at: dt.datetime | None = None

    def locate(self, x: ArrayLike, y: ArrayLike, *, crs: CRSLike = "wgs84") -> pd.DataFrame:
        return locate_in_db(self.connection, x, y, at=self.at, crs=crs)

    def cell_of(self, lon: float, lat: float) -> dict[str, Any]:
        return _cell_of_row(self.locate([lon], [lat]).iloc[0])
