"""Grid cells as Mapbox Vector Tiles, made by PostGIS (``ST_AsMVT``).

A web map of 30,000 styled cells cannot be one GeoJSON document: the page
would carry every vertex and the browser would style every feature before
drawing. Here PostGIS cuts the active cells into the standard web-map tiles
(``z/x/y`` in Web Mercator, EPSG:3857): :func:`cell_tile` takes the cells
that touch the tile (``ST_TileEnvelope``), simplifies each by half a pixel at
the tile's zoom (``ST_Simplify``; a cell smaller than that disappears),
snaps it to the tile's grid of :data:`TILE_EXTENT` units (``ST_AsMVTGeom``)
and encodes the tile (``ST_AsMVT``). Cells are not clipped to the tile: they
are small, so a cell across a tile edge costs a few vertices, and clipping
(with the validity repair it needs) took a third of the time. Measured on a
city of 30,000 cells: about 10 ms a tile at zoom 14, 50 at zoom 12, 100 at
zoom 11 (6,400 cells in the tile).

One layer, :data:`CELL_LAYER`, one feature per active cell (feature id = the
``grid_cell`` row id) with the properties:

``code``, ``community``, ``street``
    The cell's 15-digit code, its community's and street office's codes
    (their names are in :func:`area_names`: a name on every feature made the
    tile a tenth larger).
``households``
    Households of the cell.
``out_of_bounds``
    Whether the households are outside the community's bounds
    (``min_households`` / ``max_households``, default
    :data:`gridgis.db.layout.DEFAULT_BOUNDS`).
``has_worker``, ``has_branch``
    Whether a grid worker (``worker_cell``) or a party branch (``branch_cell``)
    serves the cell (一格一员, 一网格一支部).
``colour``
    The class the map colours the cell by, for the ``colour`` asked for (see
    :func:`colour_classes`).
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

from sqlalchemy import Connection, Engine, func, select, text, union_all

from gridgis.codes import is_code
from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.models import Community, GridCell, Street
from gridgis.db.queries import connection
from gridgis.db.versions import read_versions
from gridgis.errors import InputError

__all__ = [
    "CELL_LAYER",
    "COLOURS",
    "HOUSEHOLD_BREAKS",
    "MAX_ZOOM",
    "TABLES",
    "TILE_EXTENT",
    "area_names",
    "cell_tile",
    "cells_extent",
    "cells_stamp",
    "check_colour",
    "check_street",
    "check_tile",
    "colour_classes",
    "simplify_tolerance",
    "streets_with_cells",
]

Colour = Literal["households", "worker", "branch"]

CELL_LAYER = "cells"
"""Name of the layer of cells inside a tile."""

COLOURS: tuple[Colour, ...] = ("households", "worker", "branch")
"""What the cells can be coloured by: households, grid-worker or party-branch coverage."""

HOUSEHOLD_BREAKS: tuple[int, ...] = (150, 300, 400, 500, 650)
"""Upper bounds of the household classes 0–4 (class 5 is 650 and more)."""

MAX_ZOOM = 22
"""The deepest zoom served (about 4 cm a pixel)."""

TILE_PIXELS = 256
"""Pixels across a tile as the map draws it."""

TILE_EXTENT = 1024
"""Units across a tile: 4 a pixel, enough for screens of twice the pixel density. (The MVT
default, 4096, is for renderers that stretch tiles past their zoom; ours are asked for at
every zoom up to :data:`MAX_ZOOM`.) The smaller grid drops more vertices and takes less time."""

TILE_MARGIN_PIXELS = 4
"""Cells this close to a tile are in it too, so that their outlines show at its edges."""

SIMPLIFY_PIXELS = 0.5
"""Douglas-Peucker tolerance, in pixels at the tile's zoom: at zoom 11 it keeps a sixth of the
vertices of cells drawn along roads, and the tile takes half the time."""

TILE_FORMAT = "2"
"""Changes whenever the tile's content changes for the same data (part of the stamp)."""

# raw SQL: ST_AsMVT encodes a whole tile from a set of rows, with ST_AsMVTGeom and
# ST_TileEnvelope around it; this is PostGIS's own language for vector tiles, and reads
# better (and plans the same) as the one statement it is than as an expression tree.
_TILE_SQL = text(
    """
    WITH cells AS (
        SELECT c.id, c.code, c.community_code, co.street_code, c.households,
               (c.households < coalesce(co.min_households, CAST(:min_households AS int4))
                OR c.households > coalesce(co.max_households, CAST(:max_households AS int4)))
                   AS out_of_bounds,
               EXISTS (SELECT 1 FROM worker_cell w WHERE w.cell_id = c.id) AS has_worker,
               EXISTS (SELECT 1 FROM branch_cell b WHERE b.cell_id = c.id) AS has_branch,
               c.geom
        FROM grid_cell c
        JOIN community co ON co.code = c.community_code
        WHERE c.valid_to IS NULL
          AND (CAST(:street AS text) IS NULL OR co.street_code = :street)
          AND c.geom && ST_Transform(
              ST_TileEnvelope(:z, :x, :y, margin => CAST(:margin AS float8)), 4326)
    ),
    features AS (
        SELECT id, code, community_code AS community, street_code AS street, households,
               out_of_bounds, has_worker, has_branch,
               CASE CAST(:colour AS text)
                   WHEN 'worker' THEN has_worker::int
                   WHEN 'branch' THEN has_branch::int
                   ELSE width_bucket(households, CAST(:breaks AS int[]))
               END AS colour,
               ST_AsMVTGeom(ST_Transform(ST_Simplify(geom, :tolerance), 3857),
                            ST_TileEnvelope(:z, :x, :y), CAST(:extent AS int4), 0, false)
                   AS geom
        FROM cells
    )
    SELECT ST_AsMVT(features, CAST(:layer AS text), CAST(:extent AS int4), 'geom', 'id')
    FROM features
    WHERE geom IS NOT NULL
    """
)
"""The tile ``:z/:x/:y`` of the active cells; :func:`cell_tile` binds the rest from the
constants of this module (:data:`TILE_EXTENT`, :data:`CELL_LAYER` ...)."""

TABLES: tuple[str, ...] = ("grid_cell", "community", "worker_cell", "branch_cell")
"""What a tile is made from: :func:`cells_stamp` changes when one of them is written."""


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`~gridgis.errors.InputError` unless ``z/x/y`` is a tile.

    ``z`` is 0 to :data:`MAX_ZOOM`; ``x`` and ``y`` are 0 to ``2**z - 1``
    (XYZ numbering: ``y`` counts from the north).

    Examples
    --------
    >>> check_tile(12, 3400, 1750)
    >>> check_tile(2, 4, 0)
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: tile `x` was 4 but is expected to be 0 to 3 at zoom 2
    """
    if not 0 <= z <= MAX_ZOOM:
        raise InputError(
            f"tile `z` was {z} but is expected to be 0 to {MAX_ZOOM}",
            zh=f"瓦片 `z` 为 {z}，应为 0 到 {MAX_ZOOM}",
        )
    last = 2**z - 1
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value <= last:
            raise InputError(
                f"tile `{name}` was {value} but is expected to be 0 to {last} at zoom {z}",
                zh=f"瓦片 `{name}` 为 {value}，在缩放级别 {z} 下应为 0 到 {last}",
            )


def check_colour(colour: str) -> Colour:
    """Return ``colour`` if it is one of :data:`COLOURS`, else raise naming it.

    Examples
    --------
    >>> check_colour("worker")
    'worker'
    """
    for allowed in COLOURS:
        if colour == allowed:
            return allowed
    raise InputError(
        f"`colour` was {colour!r} but is expected to be one of {list(COLOURS)}",
        zh=f"`colour` 为 {colour!r}，应为 {list(COLOURS)} 之一",
    )


def check_street(street: str | None) -> str | None:
    """Return ``street`` if it is ``None`` or a 9-digit street office code, else raise.

    Examples
    --------
    >>> check_street("350304001")
    '350304001'
    """
    if street is None or is_code(street, "street"):
        return street
    raise InputError(
        f"`street` was {street!r} but is expected to be a 9-digit street code",
        zh=f"`street` 为 {street!r}，应为 9 位街道编码",
    )


def colour_classes(colour: str) -> list[int]:
    """The values the ``colour`` property takes in tiles coloured by ``colour``.

    ``households``: ``0`` below 150 households, ``1`` 150–299, ``2`` 300–399,
    ``3`` 400–499, ``4`` 500–649, ``5`` 650 and more (:data:`HOUSEHOLD_BREAKS`);
    ``worker`` and ``branch``: ``0`` not served, ``1`` served.

    Examples
    --------
    >>> colour_classes("branch")
    [0, 1]
    """
    if check_colour(colour) == "households":
        return list(range(len(HOUSEHOLD_BREAKS) + 1))
    return [0, 1]


def cell_tile(
    bind: Engine | Connection,
    z: int,
    x: int,
    y: int,
    *,
    street: str | None = None,
    colour: str = "households",
) -> bytes:
    """Return the vector tile ``z/x/y`` of the active cells (``b""`` when none is in it).

    Parameters
    ----------
    bind:
        The database, or a connection to read inside its transaction.
    z, x, y:
        The tile (XYZ numbering, Web Mercator), checked by :func:`check_tile`.
    street:
        Only the cells of this street office (9-digit code).
    colour:
        What the ``colour`` property classifies: ``"households"``, ``"worker"``
        or ``"branch"`` (:func:`colour_classes`).

    Returns
    -------
    bytes
        The Mapbox Vector Tile (protobuf, not compressed) with one layer,
        :data:`CELL_LAYER`; empty when no active cell touches the tile.

    Examples
    --------
    >>> tile = cell_tile(engine, 12, 3402, 1749)
    >>> import mapbox_vector_tile
    >>> cells = mapbox_vector_tile.decode(tile)["cells"]
    >>> cells["features"][0]["properties"]["code"]
    '350304...'
    """
    check_tile(z, x, y)
    street = check_street(street)
    colour = check_colour(colour)
    params = {
        "tolerance": simplify_tolerance(z, y),
        "z": z,
        "x": x,
        "y": y,
        "margin": TILE_MARGIN_PIXELS / TILE_PIXELS,
        "street": street,
        "colour": colour,
        "breaks": list(HOUSEHOLD_BREAKS),
        "min_households": DEFAULT_BOUNDS[0],
        "max_households": DEFAULT_BOUNDS[1],
        "extent": TILE_EXTENT,
        "layer": CELL_LAYER,
    }
    with connection(bind) as conn:
        tile = conn.execute(_TILE_SQL, params).scalar()
    return bytes(tile) if tile else b""


def simplify_tolerance(z: int, y: int) -> float:
    """:data:`SIMPLIFY_PIXELS` in degrees for tile row ``y`` at zoom ``z``.

    A pixel spans ``360 / (256 * 2**z)`` degrees of longitude, and that times
    the cosine of the latitude in degrees of latitude; the smaller is used, so
    no vertex moves by more than half a pixel.

    Examples
    --------
    >>> round(simplify_tolerance(12, 1757) * 111_320, 1)  # metres
    17.4
    """
    lat = math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / 2**z)))
    return SIMPLIFY_PIXELS * 360.0 / (TILE_PIXELS * 2**z) * math.cos(lat)


def cells_stamp(bind: Engine | Connection) -> str:
    """A short text that changes whenever the cells a tile shows may have changed.

    Made from the versions of the tables a tile is made from (:data:`TABLES`: the
    cells, their communities' household bounds, the grid-worker and party-branch
    assignments; :mod:`gridgis.db.versions`), which change with every transaction that
    writes one of them, however it does so, and from :data:`TILE_FORMAT`. So an ETag
    built on it is safe to revalidate against, and costs one read of four rows.

    Examples
    --------
    >>> stamp = cells_stamp(engine)
    >>> len(stamp), stamp == cells_stamp(engine)
    (16, True)
    """
    versions = read_versions(bind, TABLES)
    key = "|".join([TILE_FORMAT, *(str(number) for number in versions.numbers)])
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def cells_extent(
    bind: Engine | Connection, *, street: str | None = None
) -> tuple[float, float, float, float] | None:
    """The bounding box ``(west, south, east, north)`` of the active cells, or ``None``.

    Examples
    --------
    >>> cells_extent(engine, street="350304001")
    (118.98..., 25.38..., 119.05..., 25.42...)
    """
    street = check_street(street)
    found = (
        select(func.ST_Extent(GridCell.geom).label("box"))
        .join(Community, Community.code == GridCell.community_code)
        .where(GridCell.valid_to.is_(None))
    )
    if street is not None:
        found = found.where(Community.street_code == street)
    box = found.subquery().c.box
    extent = select(func.ST_XMin(box), func.ST_YMin(box), func.ST_XMax(box), func.ST_YMax(box))
    with connection(bind) as conn:
        row = conn.execute(extent).one()
    if row[0] is None:
        return None
    return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def streets_with_cells(bind: Engine | Connection, *, street: str | None = None) -> set[str]:
    """The codes of the street offices that have active cells (``street`` only, if given)."""
    street = check_street(street)
    query = (
        select(Community.street_code)
        .join(GridCell, GridCell.community_code == Community.code)
        .where(GridCell.valid_to.is_(None))
        .distinct()
    )
    if street is not None:
        query = query.where(Community.street_code == street)
    with connection(bind) as conn:
        return {str(code) for code in conn.execute(query).scalars()}


def area_names(bind: Engine | Connection, *, street: str | None = None) -> dict[str, str]:
    """Names of the street offices and communities by code (of ``street`` only, if given).

    The tiles carry codes; a map shows these names beside them.

    Examples
    --------
    >>> area_names(engine, street="350304001")["350304001"]
    '镇海街道'
    """
    street = check_street(street)
    streets = select(Street.code, Street.name)
    communities = select(Community.code, Community.name)
    if street is not None:
        streets = streets.where(Street.code == street)
        communities = communities.where(Community.street_code == street)
    with connection(bind) as conn:
        return {row.code: row.name for row in conn.execute(union_all(streets, communities))}
