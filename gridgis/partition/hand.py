"""Editing cells by hand: move buildings, merge, split, reshape (pure).

What a grid administrator does after walking the streets, as operations on a
layout (a GeoDataFrame of cells with ``code`` and polygons, EPSG:4326) and the
community's buildings (index = building id, ``households``, footprint or point):

- :func:`move_buildings` gives the ground of some buildings to another cell
  (an existing one, or a new one: :func:`split_by_buildings`);
- :func:`merge_cells` joins two adjacent cells under the first one's code;
- :func:`split_by_line` cuts a cell in two along a drawn line, following the
  buildings rather than the line where it would cut one;
- :func:`reshape_cell` gives a cell a new outline (its vertices dragged): the
  ground it gains is taken from its neighbours, the ground it gives up goes to
  the neighbour it touches most.

*The ground of a building* is its tile among the buildings of its own cell
(:func:`gridgis.partition.units.tessellate` on that cell alone: every part of
the cell goes to the nearest building, roads cut tiles, a footprint is never
split). Moving a building moves its tile, so the boundary between the two
cells runs half-way between buildings, as the engine draws it, and other
cells' boundaries do not move at all.

Every operation returns a new frame (the input is left alone) and never judges
the result: households against the bounds, contiguity, gaps and split
buildings are the validator's (:func:`gridgis.partition.validate.validate_layout`),
so a move to a cell that is not a neighbour is allowed and reported there.
Refused (:class:`HandEditError`, with a ``reason`` code and its values for the
words people read): an unknown cell or building, a building in no cell, a
merge of cells that do not touch, a line that does not cut the cell in two, a
split that leaves one side without buildings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import split

from gridgis.errors import InputError
from gridgis.partition.arguments import choose_metric, road_array
from gridgis.partition.lineage import place_points
from gridgis.partition.overlay import GRID, NOISE_M2, _robust_union, polygonal
from gridgis.partition.reconcile import next_free_number
from gridgis.partition.units import tessellate

__all__ = [
    "MIN_SHARED_M",
    "HandEditError",
    "cell_of_buildings",
    "merge_cells",
    "move_buildings",
    "new_code",
    "reshape_cell",
    "split_by_buildings",
    "split_by_line",
]

MIN_SHARED_M = 1.0
"""Two cells are adjacent (may be merged) when their shared boundary is at least this long."""

CODE_LENGTH = 15
"""Digits of a cell code (community code + sequence number)."""


class HandEditError(InputError):
    """A hand edit that cannot be made; ``reason`` and ``values`` say why, for translation.

    Reasons: ``unknown_cell``, ``unknown_building``, ``building_outside``,
    ``same_cell``, ``not_adjacent``, ``line_misses``,
    ``empty_side``, ``nothing_to_move``, ``empty_outline``.
    """

    def __init__(self, reason: str, message: str, *, zh: str | None = None, **values: Any) -> None:
        super().__init__(message, zh=zh)
        self.reason = reason
        self.values = values


# --- helpers ------------------------------------------------------------------------------------


def new_code(prefix: str, used_codes: Iterable[str]) -> str:
    """The next cell code of community ``prefix`` never issued (see ``next_free_number``).

    Examples
    --------
    >>> new_code("350304001001", ["350304001001001", "350304001001004"])
    '350304001001005'
    """
    number = next_free_number(prefix, used_codes)
    return f"{prefix}{number:0{CODE_LENGTH - len(prefix)}d}"


def _position(cells: gpd.GeoDataFrame, code: str) -> int:
    hits = np.flatnonzero(cells["code"].astype(str).to_numpy() == str(code))
    if hits.size == 0:
        raise HandEditError(
            "unknown_cell",
            f"there is no cell {code!r} in the layout",
            code=code,
            zh=f"草案中没有网格 {code}",
        )
    return int(hits[0])


def _points(buildings: gpd.GeoDataFrame) -> np.ndarray:
    geoms = np.asarray(buildings.geometry.array, dtype=object)
    return np.asarray(shapely.point_on_surface(geoms), dtype=object)


def cell_of_buildings(cells: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> np.ndarray:
    """The position of the cell holding each building (by a point on it), -1 for none."""
    return place_points(cells, _points(buildings))


def _metric(cells: gpd.GeoDataFrame) -> pyproj.CRS:
    return choose_metric(cells.geometry)


def _to(geoms: Sequence[Any], crs: Any, target: Any) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(list(geoms), crs=crs).to_crs(target).array, dtype=object)


def _polygon(geom: Any) -> Any:
    """The polygonal part of ``geom`` (metric) without crumbs of at most ``NOISE_M2``
    that overlays leave along shared edges (an empty polygon when nothing is left)."""
    shape = polygonal(np.asarray([shapely.make_valid(geom)], dtype=object))[0]
    parts = shapely.get_parts(shape)
    kept = parts[shapely.area(parts) > NOISE_M2]
    if kept.size == parts.size:
        return shape
    return shapely.union_all(kept) if kept.size else shapely.Polygon()


def _overlay(operation: Any, a: Any, b: Any) -> Any:
    """``operation`` (shapely's union, difference, intersection) on the precision grid,
    retried on snapped, repaired inputs where GEOS rejects the exact ones."""
    try:
        return operation(a, b, grid_size=GRID)
    except shapely.errors.GEOSException:
        a, b = (shapely.make_valid(shapely.set_precision(g, GRID)) for g in (a, b))
        return operation(a, b, grid_size=GRID)


def _union(geoms: Any) -> Any:
    return _robust_union(np.asarray(list(geoms), dtype=object))


SNAP_M = 0.01
"""Two boundaries closer than this (m) are one: overlays move vertices by coordinate noise."""


def _shared_length(a: Any, b: Any) -> float:
    """Metres of ``a``'s boundary that run along ``b``'s (within :data:`SNAP_M`).

    Exact boundary intersections of two polygons that went through different
    overlays or reprojections are points, not lines; a thin buffer makes them count.
    """
    if shapely.is_empty(a) or shapely.is_empty(b):
        return 0.0
    near = shapely.buffer(shapely.boundary(b), SNAP_M)
    return float(shapely.length(shapely.intersection(shapely.boundary(a), near)))


def _with_geometry(cells: gpd.GeoDataFrame, geoms: dict[int, Any], metric: Any) -> gpd.GeoDataFrame:
    """``cells`` with the rows in ``geoms`` (positions) replaced by metric polygons;
    rows whose polygon came out empty are dropped (the cell is gone)."""
    out = cells.copy()
    if not geoms:
        return out
    positions = list(geoms)
    back = _to([geoms[p] for p in positions], metric, cells.crs)
    column = out.geometry.name
    values = out[column].to_numpy(dtype=object).copy()
    for position, geom in zip(positions, back, strict=True):
        values[position] = geom
    out[column] = gpd.GeoSeries(values, index=out.index, crs=cells.crs)
    if "flags" in out.columns:
        # The engine's flags described the cells it drew; an edited cell has none.
        flags = out["flags"].to_numpy(dtype=object).copy()
        for position in positions:
            flags[position] = []
        out["flags"] = list(flags)
    gone = [p for p in positions if shapely.is_empty(values[p]) or shapely.area(values[p]) == 0]
    if gone:
        out = out.drop(index=out.index[gone])
    return out.reset_index(drop=True)


def _append_cell(cells: gpd.GeoDataFrame, code: str) -> gpd.GeoDataFrame:
    """``cells`` with an empty new cell ``code`` at the end."""
    row: dict[str, Any] = {column: None for column in cells.columns}
    row["code"] = code
    if "flags" in cells.columns:
        row["flags"] = []
    if "households" in cells.columns:
        row["households"] = 0
    row[cells.geometry.name] = shapely.Polygon()
    extra = gpd.GeoDataFrame([row], geometry=cells.geometry.name, crs=cells.crs)
    frame = pd.concat([cells, extra], ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry=cells.geometry.name, crs=cells.crs)


# --- operations ---------------------------------------------------------------------------------


def move_buildings(
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    building_ids: Iterable[Any],
    to_code: str,
    *,
    roads: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Give the ground of some buildings to cell ``to_code``.

    Parameters
    ----------
    cells:
        The layout: ``code``, polygons (any CRS; EPSG:4326 as stored).
    buildings:
        The community's buildings (index = building id), footprints or points.
    building_ids:
        The buildings to move (ids of ``buildings``). Buildings already in
        ``to_code`` are left where they are.
    to_code:
        The receiving cell (a code of ``cells``).
    roads:
        Roads and barriers (lines): tiles do not cross them, so the new boundary
        follows a road where one runs between the buildings.

    Returns
    -------
    GeoDataFrame
        The layout after the move; a cell left with no ground is gone.

    Raises
    ------
    HandEditError
        ``unknown_cell``, ``unknown_building``, ``building_outside`` (in no
        cell), ``nothing_to_move`` (all already in ``to_code``).
    """
    target = _position(cells, to_code)
    wanted = list(dict.fromkeys(building_ids))
    unknown = [b for b in wanted if b not in buildings.index]
    if unknown:
        raise HandEditError(
            "unknown_building",
            f"building(s) {unknown[:10]} are not buildings of the community",
            ids=unknown[:10],
            zh=f"这些楼栋不属于本社区：{'、'.join(map(str, unknown[:10]))}",
        )
    if cells.crs is not None and buildings.crs is not None and buildings.crs != cells.crs:
        buildings = buildings.to_crs(cells.crs)
    holder = cell_of_buildings(cells, buildings)
    where = dict(zip(buildings.index, holder, strict=True))
    outside = [b for b in wanted if where[b] < 0]
    if outside:
        raise HandEditError(
            "building_outside",
            f"building(s) {outside[:10]} lie in no cell of the layout",
            ids=outside[:10],
            zh=f"这些楼栋不在任何网格内：{'、'.join(map(str, outside[:10]))}",
        )
    moving = [b for b in wanted if where[b] != target]
    if not moving:
        raise HandEditError(
            "nothing_to_move",
            f"the buildings are in cell {to_code} already",
            code=to_code,
            zh=f"所选楼栋已在网格 {to_code} 中",
        )
    metric = _metric(cells)
    geoms = _to(cells.geometry.array, cells.crs, metric)
    lines = road_array(roads, cells.crs, metric) if roads is not None and len(roads) else None
    changed: dict[int, Any] = {}
    taken = []
    for source in sorted({int(where[b]) for b in moving}):
        region = _ground(
            geoms[source],
            buildings.iloc[np.flatnonzero(holder == source)],
            {b for b in moving if where[b] == source},
            cells.crs,
            metric,
            lines,
        )
        taken.append(region)
        changed[source] = _polygon(_overlay(shapely.difference, geoms[source], region))
    changed[target] = _polygon(_union([geoms[target], *taken]))
    return _with_geometry(cells, changed, metric)


def _ground(
    cell: BaseGeometry,
    members: gpd.GeoDataFrame,
    moving: set[Any],
    crs: Any,
    metric: Any,
    lines: Any,
) -> Any:
    """The part of ``cell`` (metric) nearest to the ``moving`` buildings among ``members``."""
    if len(moving) == len(members):
        return cell
    footprints = _to(members.geometry.array, crs, metric)
    households = members["households"].fillna(0).to_numpy(dtype=float)
    tess = tessellate(footprints, households, cell, lines, labels=list(members.index))
    chosen = {int(tess.site[k]) for k, b in enumerate(members.index) if b in moving}
    region = _union(tess.tiles[sorted(chosen)])
    return _polygon(_overlay(shapely.intersection, region, cell))


def split_by_buildings(
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    building_ids: Iterable[Any],
    *,
    code: str,
    used_codes: Iterable[str],
    prefix: str,
    roads: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Make a new cell of some buildings of cell ``code``; return the layout and its code.

    The new code is the next number of community ``prefix`` never issued
    (``used_codes``: every code ever issued, with the layout's own).

    Raises
    ------
    HandEditError
        As :func:`move_buildings`; ``empty_side`` when the buildings are all of
        the cell's, or none of them is in it.
    """
    source = _position(cells, code)
    wanted = list(dict.fromkeys(building_ids))
    if cells.crs is not None and buildings.crs is not None and buildings.crs != cells.crs:
        buildings = buildings.to_crs(cells.crs)
    holder = cell_of_buildings(cells, buildings)
    inside = set(buildings.index[holder == source])
    chosen = [b for b in wanted if b in inside]
    if not chosen or len(chosen) == len(inside):
        raise HandEditError(
            "empty_side",
            f"a split of cell {code} must leave buildings on both sides; "
            f"{len(chosen)} of its {len(inside)} were chosen",
            code=code,
            chosen=len(chosen),
            total=len(inside),
            zh=f"拆分后网格 {code} 的两边都要有楼栋（已选 {len(chosen)} 栋，共 {len(inside)} 栋）",
        )
    fresh = new_code(prefix, [*used_codes, *cells["code"].astype(str)])
    grown = _append_cell(cells, fresh)
    return move_buildings(grown, buildings, chosen, fresh, roads=roads), fresh


def split_by_line(
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    line: BaseGeometry,
    *,
    code: str,
    used_codes: Iterable[str],
    prefix: str,
    roads: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, str]:
    """Cut cell ``code`` in two along ``line`` (same CRS as ``cells``).

    The side of the line holding fewer households becomes a new cell (the other
    keeps the code; a line that winds through a concave cell may leave several
    pieces on one side, which then make one cell); buildings go to the side their
    point lies on, and the new boundary
    runs between buildings (see :func:`move_buildings`), so no building is cut
    even where the line crosses one.

    Raises
    ------
    HandEditError
        ``line_misses`` (the line does not cross the cell from edge to edge),
        ``empty_side`` (one side has no buildings).
    """
    source = _position(cells, code)
    cell = cells.geometry.iloc[source]
    pieces = [p for p in split(cell, line).geoms if p.area > 0] if line else []
    if len(pieces) < 2:
        raise HandEditError(
            "line_misses",
            f"the line does not cut cell {code} in two: draw it from one edge across to another",
            code=code,
            zh=f"画线没有把网格 {code} 分成两部分：请从网格的一边画到另一边",
        )
    sides = np.asarray([_side(line, piece.representative_point()) for piece in pieces])
    if (sides == sides[0]).all():
        raise HandEditError(
            "line_misses",
            f"the line does not cut cell {code} in two: draw it from one edge across to another",
            code=code,
            zh=f"画线没有把网格 {code} 分成两部分：请从网格的一边画到另一边",
        )
    halves = [
        shapely.union_all([p for p, s in zip(pieces, sides, strict=True) if s == side])
        for side in (-1, 1)
    ]
    if cells.crs is not None and buildings.crs is not None and buildings.crs != cells.crs:
        buildings = buildings.to_crs(cells.crs)
    holder = cell_of_buildings(cells, buildings)
    members = buildings[holder == source]
    side = place_points(gpd.GeoSeries(halves, crs=cells.crs), _points(members))
    households = members["households"].fillna(0).to_numpy(dtype=float)
    weight = [float(households[side == k].sum()) + 1e-9 * int((side == k).sum()) for k in (0, 1)]
    smaller = 0 if weight[0] < weight[1] else 1
    chosen = list(members.index[side == smaller])
    return split_by_buildings(
        cells, buildings, chosen, code=code, used_codes=used_codes, prefix=prefix, roads=roads
    )


def _side(line: Any, point: Any) -> int:
    """Which side of ``line`` the point lies on: -1 right, 1 left (of the nearest segment)."""
    coords = np.asarray(line.coords)
    along = float(shapely.line_locate_point(line, point))
    lengths = np.hypot(*np.diff(coords, axis=0).T)
    k = min(int(np.searchsorted(np.cumsum(lengths), along)), len(lengths) - 1)
    (x1, y1), (x2, y2) = coords[k], coords[k + 1]
    cross = (x2 - x1) * (point.y - y1) - (y2 - y1) * (point.x - x1)
    return 1 if cross > 0 else -1


def merge_cells(cells: gpd.GeoDataFrame, into: str, other: str) -> gpd.GeoDataFrame:
    """Join cell ``other`` to cell ``into``; ``into`` keeps its code, ``other`` is gone.

    Raises
    ------
    HandEditError
        ``unknown_cell``, ``same_cell``, ``not_adjacent`` (they share less than
        :data:`MIN_SHARED_M` of boundary).
    """
    keep, gone = _position(cells, into), _position(cells, other)
    if keep == gone:
        raise HandEditError(
            "same_cell",
            f"cell {into} cannot be merged with itself",
            code=into,
            zh=f"不能把网格 {into} 与自身合并",
        )
    metric = _metric(cells)
    geoms = _to(cells.geometry.array, cells.crs, metric)
    shared = _shared_length(geoms[keep], geoms[gone])
    if shared < MIN_SHARED_M:
        raise HandEditError(
            "not_adjacent",
            f"cells {into} and {other} do not share a boundary ({shared:.1f} m); "
            "only neighbours can be merged",
            code=into,
            other=other,
            zh=f"网格 {into} 与 {other} 不相邻（共同边界 {shared:.1f} 米），只能合并相邻的网格",
        )
    merged = _polygon(_overlay(shapely.union, geoms[keep], geoms[gone]))
    return _with_geometry(cells, {keep: merged, gone: shapely.Polygon()}, metric)


def reshape_cell(
    cells: gpd.GeoDataFrame, code: str, outline: BaseGeometry, *, community: BaseGeometry
) -> gpd.GeoDataFrame:
    """Give cell ``code`` the polygon ``outline`` (same CRS as ``cells``), within ``community``.

    Ground the new outline takes from other cells leaves them; ground the cell
    gives up goes, piece by piece, to the neighbour sharing the longest boundary
    with the piece (a piece touching no other cell stays uncovered, and the
    validator reports the gap).

    Raises
    ------
    HandEditError
        ``unknown_cell``; ``empty_outline`` when nothing of the outline lies in the
        community.
    """
    position = _position(cells, code)
    metric = _metric(cells)
    geoms = _to(cells.geometry.array, cells.crs, metric)
    area, outline_m = _to([community, outline], cells.crs, metric)
    new = _polygon(_overlay(shapely.intersection, shapely.make_valid(outline_m), area))
    if shapely.is_empty(new) or shapely.area(new) <= 0:
        raise HandEditError(
            "empty_outline",
            f"the new outline of cell {code} does not overlap the community",
            code=code,
            zh=f"网格 {code} 的新边界不在社区内",
        )
    changed: dict[int, Any] = {position: new}
    others = [k for k in range(len(geoms)) if k != position]
    for k in others:
        if shapely.intersects(geoms[k], new):
            changed[k] = _polygon(_overlay(shapely.difference, geoms[k], new))
    lost = _polygon(_overlay(shapely.difference, geoms[position], new))
    pieces: Any = shapely.get_parts(lost) if not shapely.is_empty(lost) else []
    for piece in pieces:
        best, best_length = -1, 0.0
        for k in others:
            current = changed.get(k, geoms[k])
            length = _shared_length(piece, current)
            if length > best_length:
                best, best_length = k, length
        if best >= 0 and best_length >= MIN_SHARED_M:
            changed[best] = _polygon(_overlay(shapely.union, changed.get(best, geoms[best]), piece))
    return _with_geometry(cells, changed, metric)
