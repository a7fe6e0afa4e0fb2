"""Points to grid cells: which cell (and community, street) each point lies in.

Two paths give the same answer for the same layout:

:func:`locate` (in memory)
    Looks points up in a :class:`CellIndex` built once with
    :func:`cell_index` (from a GeoDataFrame) or
    :func:`gridgis.db.locate.load_cell_index` (from the database) and reused
    for any number of calls.
:func:`gridgis.db.locate.locate_in_db` (PostGIS)
    Sends the points to the database and joins them with ``grid_cell``
    there; nothing is loaded beforehand. It lives in the store
    (:mod:`gridgis.db.locate`, with :func:`~gridgis.db.locate.cell_at` and
    :class:`~gridgis.db.locate.DatabaseLocator`): this package is pure
    geometry and does not reach the database.

Both return one row per input point, in input order, and never drop a point:
a point in no cell carries a ``flag`` and a ``reason`` instead of a cell.

The package re-exports its public names from three modules:
:mod:`~gridgis.geocode.memory` (the index and :func:`locate`),
:mod:`~gridgis.geocode.rules` (the checks, flags and smallest-code rule both
paths share) and :mod:`~gridgis.geocode.locators` (:class:`CellLocator` over
either, :class:`IndexLocator`).

Coordinates
    ``x``/``y`` may be in any system :func:`gridgis.crs.parse_crs` accepts
    (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:nnnn``); they are
    converted to WGS84 first, then checked with
    :func:`gridgis.crs.check_lonlat`. Points that look swapped (lat, lon),
    lie outside China or are not coordinates at all (NaN, metres given as
    degrees) are flagged ``swapped`` / ``outside_china`` / ``invalid`` and
    never looked up, so they are never silently put in a cell.
Outside and gap
    A checked point in no cell is ``outside`` when it is not in the outline
    of the layout and ``gap`` when it is (a hole in the cell layout). The
    outline of a stored layout is the union of the outlines (table
    ``district``) of the districts that hold at least one of its cells: a
    point in a district that has no cells yet is ``outside``, not a gap.
    Without an outline every point in no cell is ``outside``.
Boundaries
    Cells are closed: a point exactly on an edge or corner shared by several
    cells is covered by all of them, and goes to the one with the smallest
    code. The rule is deterministic and the same in both paths and in
    :func:`gridgis.db.layout.refresh_cell_counts`.
Time
    A layout is the active cells (``valid_to IS NULL``), or with ``at`` the
    cells valid at that time (``valid_from <= at < valid_to``, or still
    open): historical cases resolve to the cell they were filed in.

How the in-memory path works
    :func:`cell_index` lays a grid of square buckets over the cells (about
    four buckets across a median cell) and asks a shapely ``STRtree`` of the
    prepared cells, once, which cells intersect each bucket and which cell
    holds it entirely. A point in such a whole bucket gets its cell from two
    array look-ups; only the points in buckets cut by a cell edge are tested
    exactly (``shapely.intersects_xy`` against each candidate, bucket by
    bucket so the prepared cells stay in cache), and the first hit in code
    order is the smallest code. Querying the tree with the points themselves
    (``STRtree.query(shapely.points(x, y), predicate="intersects")``) took
    3.5 s for the million points below, 7 times as long.
Which path to use
    Measured with ``scripts/bench/geocode.py`` on 2 cores shared with other
    work (figures vary by about a fifth from run to run): 30,000 cells of
    about 100 vertices, 1,000,000 points. geopandas ``sjoin(predicate=
    "within")`` takes 1.34 s (740,000 points/s; making its points takes
    0.8 s more); :func:`locate` 0.46 s (2.2 M points/s, 3.0 times faster;
    2.9-3.6 times over four runs) on an index that
    :func:`~gridgis.db.locate.load_cell_index` reads and builds in 2.0 s
    (:func:`cell_index` from a frame: 1.3 s);
    :func:`~gridgis.db.locate.locate_in_db` 3.1 s (320,000 points/s). One
    point: 0.7 ms in memory, 1.2 ms in PostGIS. So a bulk import (the CLI)
    loads a :class:`CellIndex` and uses :func:`locate` (2.5 s in all for a
    million points, and the index serves any further file); a single request
    (the web API, one case) uses :func:`~gridgis.db.locate.locate_in_db`,
    which loads nothing and always sees the current layout.

Examples
--------
>>> import geopandas
>>> from shapely import box
>>> cells = geopandas.GeoDataFrame(
...     {"code": ["350304001001001", "350304001001002"]},
...     geometry=[box(119.00, 25.40, 119.01, 25.41), box(119.01, 25.40, 119.02, 25.41)],
...     crs="EPSG:4326",
... )
>>> index = cell_index(cells, outline=box(119.0, 25.4, 119.03, 25.41))
>>> found = locate(index, [119.005, 119.01, 119.025, 25.405], [25.405, 25.405, 25.405, 119.0])
>>> found[["cell_code", "flag"]].to_numpy().tolist()  # doctest: +NORMALIZE_WHITESPACE
[['350304001001001', None], ['350304001001001', None], [None, 'gap'], [None, 'swapped']]
"""

from __future__ import annotations

from gridgis.geocode.locators import CellLocator, IndexLocator
from gridgis.geocode.memory import CellIndex, cell_index, locate
from gridgis.geocode.rules import FLAG_REASONS, point_flag, smallest_cell

__all__ = [
    "FLAG_REASONS",
    "CellIndex",
    "CellLocator",
    "IndexLocator",
    "cell_index",
    "locate",
    "point_flag",
    "smallest_cell",
]
