"""The PostGIS path: :func:`locate_in_db`, and reading a stored layout.

:func:`locate_in_db` sends the points to the database (a binary ``COPY``
into an indexed temporary table for many points, a ``VALUES`` list for a
few) and joins them with ``grid_cell`` there; :func:`load_cell_index`
reads a stored layout (active, or valid at a time) into a
:class:`~gridgis.geocode.memory.CellIndex`; :func:`cell_at_sql` is the
same rule as SQL for a ``LATERAL`` join.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import Connection, bindparam, text

from gridgis.crs import CRSLike
from gridgis.errors import InputError
from gridgis.geocode.memory import CellIndex
from gridgis.geocode.rules import _checked_lonlat, _frame, _smallest

_DB_BULK_MIN = 2_000
_DB_BULK_CELLS_PER_POINT = 2
""":func:`locate_in_db` copies the points into an indexed temporary table from
``_DB_BULK_MIN`` points on, and from half as many points as the layout has cells
(reading every cell's bucket rows costs about as much as probing for 15,000 points
when there are 30,000 cells)."""
_POINTS_TABLE = "gridgis_geocode_points"


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    if at is not None and (not isinstance(at, dt.datetime) or at.utcoffset() is None):
        raise InputError(
            f"`at` was {at!r} but is expected to be a timezone-aware datetime "
            "(e.g. datetime(2024, 5, 1, tzinfo=timezone.utc)) or None for the active cells"
        )
    return at


def _at_params(at: dt.datetime | None) -> dict[str, Any]:
    """The bind parameters of :func:`_layout_sql` and :func:`_outline_sql`."""
    return {"at": at} if at is not None else {}


def _layout_sql(at: dt.datetime | None) -> str:
    """SQL condition on ``grid_cell c`` selecting the layout (``:at`` bound when ``at`` is set)."""
    if at is None:
        return "c.valid_to IS NULL"
    return "c.valid_from <= :at AND (c.valid_to IS NULL OR c.valid_to > :at)"


def _outline_sql(at: dt.datetime | None) -> str:
    """SQL of one row: the union of the outlines of the districts holding the layout's cells."""
    return (
        "SELECT ST_Union(d.geom) AS geom, array_agg(d.code ORDER BY d.code) AS codes "
        "FROM district d WHERE d.code IN (SELECT DISTINCT left(c.community_code, 6) "
        f"FROM grid_cell c WHERE {_layout_sql(at)})"
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
    rows = connection.execute(
        text(
            "SELECT c.id, c.code, c.community_code, m.street_code, ST_AsBinary(c.geom) AS wkb "
            "FROM grid_cell c JOIN community m ON m.code = c.community_code "
            f"WHERE {_layout_sql(at)} ORDER BY c.code"
        ),
        params,
    ).all()
    outline_row = connection.execute(
        text(f"SELECT ST_AsBinary(o.geom) AS wkb, o.codes FROM ({_outline_sql(at)}) AS o"),
        params,
    ).one()
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
    table = _POINTS_TABLE
    connection.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))
    connection.execute(
        text(
            f"CREATE TEMP TABLE {table} "
            "(k int8 NOT NULL, i int4 NOT NULL, geom geometry(Point, 4326) NOT NULL)"
        )
    )
    driver: Any = connection.connection.driver_connection
    copy_in = f"COPY {table} (k, i, geom) FROM STDIN (FORMAT binary)"
    with driver.cursor() as cursor, cursor.copy(copy_in) as copy:
        copy.write(_binary_points(key[order], lon[order], lat[order]))
    connection.execute(text(f"CREATE INDEX ON {table} (k)"))
    connection.execute(text(f"ANALYZE {table}"))
    # The bucket ranges are widened by a millionth of a bucket against rounding; OFFSET 0
    # keeps the lateral subquery from being flattened into a join driven from the points;
    # the pairs come back as one bytea, not a million rows.
    column = "floor((ST_{0}(c.geom) - :{1}) / :size {2} 1e-6)::int8"
    data = connection.execute(
        text(
            "SELECT string_agg(int4send(p.i) || int4send(c.id), ''::bytea) "
            "FROM grid_cell c CROSS JOIN LATERAL generate_series("
            f"greatest({column.format('YMin', 'y0', '-')}, 0), "
            f"least({column.format('YMax', 'y0', '+')}, :rows - 1)) AS row "
            f"CROSS JOIN LATERAL (SELECT q.i FROM {table} q WHERE q.k BETWEEN "
            f"row * :across + greatest({column.format('XMin', 'x0', '-')}, 0) AND "
            f"row * :across + least({column.format('XMax', 'x0', '+')}, :across - 1) "
            "AND ST_Intersects(c.geom, q.geom) OFFSET 0) AS p "
            f"WHERE {_layout_sql(at)}"
        ),
        {
            **_at_params(at),
            "size": size,
            "x0": x0,
            "y0": y0,
            "across": across,
            "rows": int(ky.max()) + 1,
        },
    ).scalar_one()
    connection.execute(text(f"DROP TABLE {table}"))
    hits = np.frombuffer(bytes(data) if data is not None else b"", dtype=_HIT)
    return order[hits["i"].astype(np.intp)], hits["id"].astype(np.int64)


def _points_sql() -> str:
    return "unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p(x, y, i)"


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
        text(
            f"SELECT p.i - 1 AS i, c.id FROM {_points_sql()} JOIN grid_cell c "
            "ON ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)) "
            f"WHERE {_layout_sql(at)}"
        ),
        {"x": lon.tolist(), "y": lat.tolist(), **_at_params(at)},
    ).all()
    return (
        np.array([r.i for r in rows], dtype=np.intp),
        np.array([r.id for r in rows], dtype=np.int64),
    )


def _db_outline(connection: Connection, at: dt.datetime | None) -> shapely.Geometry | None:
    """The outline of the layout's districts, as :func:`load_cell_index` reads it."""
    wkb = connection.execute(
        text(f"SELECT ST_AsBinary(o.geom) FROM ({_outline_sql(at)}) AS o"),
        _at_params(at),
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb)) if wkb is not None else None


@contextmanager
def _settings(connection: Connection, **values: str) -> Iterator[None]:
    """Set PostgreSQL settings for the caller's transaction, then put them back."""
    if not values:
        yield
        return
    names = list(values)
    before = connection.execute(
        text("SELECT name, setting, unit FROM pg_settings WHERE name IN :names").bindparams(
            bindparam("names", expanding=True)
        ),
        {"names": names},
    ).all()
    for name, value in values.items():
        connection.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    yield
    for row in before:
        value = f"{row.setting}{row.unit}" if row.unit and row.unit[0].isalpha() else row.setting
        connection.execute(text("SELECT set_config(:n, :v, true)"), {"n": row.name, "v": value})


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
        The system of ``lon``/``lat`` (default WGS84), as for :func:`locate`.

    Returns
    -------
    pandas.DataFrame
        Exactly as :func:`locate`, with the same flags and the same
        smallest-code rule on shared boundaries.

    Raises
    ------
    InputError
        When ``at`` is not a timezone-aware datetime.
    CRSError, CoordinateError
        As for :func:`locate`.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> with get_engine().connect() as conn:
    ...     found = locate_in_db(conn, [119.0128, 25.4119], [25.4119, 119.0128])
    >>> found[["cell_code", "flag"]].to_numpy().tolist()
    [['350304001007001', None], [None, 'swapped']]
    """
    at = _aware(at)
    layout, params = _layout_sql(at), _at_params(at)
    lon_, lat_, status = _checked_lonlat(lon, lat, crs)
    ok = np.flatnonzero(status == 0)
    count, height = 0, None
    if ok.size >= _DB_BULK_MIN:
        count, height = connection.execute(
            text(
                "SELECT count(*), percentile_disc(0.5) WITHIN GROUP "
                f"(ORDER BY ST_YMax(c.geom) - ST_YMin(c.geom)) FROM grid_cell c WHERE {layout}"
            ),
            params,
        ).one()
    # The plans are simple and, for many points, costly enough for PostgreSQL to compile
    # them (JIT), which only costs time here.
    with _settings(connection, **({"jit": "off"} if ok.size >= 500 else {})):
        if height is not None and ok.size * _DB_BULK_CELLS_PER_POINT >= count:
            point, cell_id = _db_hits_bulk(connection, lon_[ok], lat_[ok], at, float(height))
        else:
            point, cell_id = _db_hits_few(connection, lon_[ok], lat_[ok], at)
    hit_cells = connection.execute(
        text(
            "SELECT c.id, c.code, c.community_code, m.street_code FROM grid_cell c "
            "JOIN community m ON m.code = c.community_code "
            "WHERE c.id = ANY(CAST(:ids AS integer[])) ORDER BY c.code"
        ),
        {"ids": np.unique(cell_id).tolist()},
    ).all()
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


def cell_at_sql(point: str, *, where: str = "") -> str:
    """SQL of the active cell holding ``point`` (an SQL expression), by the same rule.

    A subquery of one row (``code``, ``id``) for a ``LATERAL`` join: the active cell
    whose polygon intersects the point, the smallest code when the point lies on a
    boundary several cells share, as :func:`locate_in_db` finds it. ``where`` adds a
    condition on the cell ``g`` (e.g. ``"g.community_code = b.community_code"``).

    Examples
    --------
    >>> print(cell_at_sql("b.location"))  # doctest: +NORMALIZE_WHITESPACE
    SELECT g.code, g.id FROM grid_cell g WHERE g.valid_to IS NULL
    AND ST_Intersects(g.geom, b.location) ORDER BY g.code LIMIT 1
    """
    extra = f" AND {where}" if where else ""
    return (
        "SELECT g.code, g.id FROM grid_cell g WHERE g.valid_to IS NULL"
        f"{extra} AND ST_Intersects(g.geom, {point}) ORDER BY g.code LIMIT 1"
    )
