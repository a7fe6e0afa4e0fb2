"""Drawing grid cells (网格) of 300–500 households that tile a community exactly.

:func:`draw_cells` draws the cells of one community, :func:`draw_layout` of
many at once (a street office, a district, or any grouping of units).

How
---
1. Everything is computed in a metric CRS: the units' own when projected,
   else the one :func:`gridgis.crs.metric_crs` chooses; results come back in
   the units' CRS.
2. The community is tiled by its units (:mod:`gridgis.partition.units`):
   Voronoi tiles of points or footprints inside road-bounded blocks, or the
   units themselves when they are small areas that already tile. Cells are
   unions of tiles, so they tile the community exactly and never split a
   unit.
3. The tile graph is split into contiguous cells within the household
   bounds by recursive spanning-tree bisection that prefers cuts along
   roads, then made compact by a local search
   (:mod:`gridgis.partition._engine` explains both and why).
4. Cells are coded west→east, north→south (:mod:`gridgis.partition.codes`).

Decisions on the special cases
------------------------------
* A unit with more than ``max_households`` is a cell of its own, flagged
  ``"oversized_unit"``.
* A community with fewer than ``min_households`` is one cell, flagged ``"below_min"``.
* A MultiPolygon community: tiles never cross the sea between islands, so
  each island's units form cells within that island. An island whose units
  cannot fill a cell is a cell of its own, flagged ``"below_min"`` and
  ``"infeasible_component"`` (it does not merge across water: a cell must be
  contiguous). An island, or any part of the community, that no unit reaches
  is a cell of its own with no households, flagged ``"below_min"`` and
  ``"no_units"``.
* Roads cut blocks; a cut along a road is preferred to any other valid cut,
  so a road that cuts the community in two separates cells whenever the
  households on each side can be split within the bounds on their own (the
  two sides are then, in effect, separate components). Otherwise cells
  cross the road, where the tiles on both sides touch.
* A cell out of bounds for any other reason (the search found no split
  within bounds) is flagged ``"below_min"`` or ``"above_max"`` and
  ``"split_not_found"``.
* Units on the community boundary are clipped to it; a point exactly on the
  boundary belongs. Units wholly outside are an error.

Examples
--------
>>> import geopandas as gpd
>>> import numpy as np
>>> from shapely.geometry import box
>>> squares = [box(x, y, x + 100, y + 100)
...            for y in range(0, 1000, 100) for x in range(0, 1000, 100)]
>>> blocks = gpd.GeoDataFrame({"households": np.full(100, 40)}, geometry=squares, crs="EPSG:4547")
>>> result = draw_cells(blocks, community_code="211403001001")
>>> len(result.cells), result.cells["households"].between(300, 500).all()
(10, np.True_)
>>> result.cells["code"].iloc[0]
'211403001001001'
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis.partition.arguments import DENSIFY_DEGREES as DENSIFY_DEGREES
from gridgis.partition.arguments import (
    _community_outlines,
    _group_bounds,
    _rows,
    _same_crs,
    check_bounds,
    check_units,
    choose_metric,
    community_prefix,
    group_key,
    group_prefix,
    road_array,
    to_metric,
)
from gridgis.partition.arguments import densify as densify
from gridgis.partition.community import Drawn as Drawn
from gridgis.partition.community import draw_metric
from gridgis.partition.community import reattach_detached_parts as reattach_detached_parts
from gridgis.partition.errors import PartitionError
from gridgis.partition.result import CELL_COLUMNS as CELL_COLUMNS
from gridgis.partition.result import DrawResult, _finish, _tiles_frame, cells_frame
from gridgis.partition.seams import fit_frames

__all__ = ["DrawResult", "draw_cells", "draw_layout"]

# CELL_COLUMNS, DENSIFY_DEGREES, Drawn, densify and reattach_detached_parts now live in
# gridgis.partition.arguments, .community and .result; they stay importable from here.


def _seed_for(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode("utf-8"))])


def draw_cells(
    units: gpd.GeoDataFrame,
    *,
    households: str = "households",
    community: BaseGeometry | None = None,
    community_code: str | None = None,
    roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    min_households: int = 300,
    max_households: int = 500,
    first_number: int = 1,
    seed: int = 0,
) -> DrawResult:
    """Draw contiguous cells of ``min``–``max`` households that tile one community.

    Parameters
    ----------
    units:
        Buildings (points or footprint polygons) or small areas that tile the
        community (census blocks), with ``.crs`` set. Not changed.
    households:
        Column of ``units`` with each unit's households (numbers >= 0).
    community:
        The outline to tile, in the units' CRS. ``None``: the union of the
        (polygon) units; required for point units.
    community_code:
        The community's 12-digit code: cells are coded it + 3 digits. ``None``:
        ``"001"``, ``"002"``, ... (3 digits, more if over 999 cells).
    roads:
        Lines to follow (roads, rivers, rail, walls), in the units' CRS.
    min_households, max_households:
        Household bounds of a cell.
    first_number:
        The first sequence number.
    seed:
        Random seed; the result is the same for the same inputs and seed.

    Returns
    -------
    DrawResult

    Raises
    ------
    PartitionError
        For impossible inputs (no CRS, missing or negative households, mixed
        geometry types, point units without a community, units outside the
        community, bad bounds or codes); the message names the value.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> homes = gpd.GeoDataFrame({"households": [200, 220, 180, 240]},
    ...     geometry=[Point(50, 50), Point(150, 50), Point(50, 150), Point(150, 150)],
    ...     crs="EPSG:4547")
    >>> result = draw_cells(homes, community=box(0, 0, 200, 200))
    >>> result.cells[["code", "households", "units"]].to_dict("list")
    {'code': ['001', '002'], 'households': [380, 460], 'units': [2, 2]}
    """
    started = time.perf_counter()
    lo, hi = check_bounds(min_households, max_households)
    prefix = community_prefix(community_code)
    units, values, points = check_units(units, households)
    if community is not None and not isinstance(community, BaseGeometry):
        raise PartitionError(
            f"`community` must be a shapely geometry in the units' CRS, not a "
            f"{type(community).__name__}",
            zh="`community` 应为与楼栋同一坐标系的 shapely 图形，而不是 "
            f"{type(community).__name__}",
        )
    if points and community is None:
        raise PartitionError(
            "`community` is required when units are points: give the outline to tile",
            zh="楼栋为点时需要 `community`：请给出要划分的社区边界",
        )
    if community is None and len(units) == 0:
        raise PartitionError(
            "no units and no `community`: nothing to draw",
            zh="既没有楼栋，也没有 `community`：无从划分网格",
        )
    crs = units.crs
    metric = choose_metric(units.geometry, community)
    geoms = np.asarray(
        (units.geometry if _same_crs(crs, metric) else units.geometry.to_crs(metric)).array,
        dtype=object,
    )
    outline = None if community is None else to_metric(community, crs, metric)
    drawn = draw_metric(
        geoms,
        values,
        outline,
        road_array(roads, crs, metric),
        min_households=lo,
        max_households=hi,
        rng=np.random.default_rng(seed),
        labels=list(units.index),
    )
    frame, _ = cells_frame(
        drawn, prefix=prefix, group=community_code, first_number=first_number, metric=metric,
        crs=crs,
    )  # fmt: skip
    if community is not None:
        fit_frames([frame], [community], crs)
    codes = frame["code"].to_numpy()
    assignment = pd.Series(codes[drawn.unit_cell], index=units.index, name="code", dtype=object)
    tiles = _tiles_frame(drawn.unit_tiles, assignment, metric, crs)
    return _finish([frame], assignment, tiles, {c: (lo, hi) for c in codes}, crs, started)


def draw_layout(
    units: gpd.GeoDataFrame,
    *,
    households: str = "households",
    group: str | None = None,
    communities: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    min_households: int = 300,
    max_households: int = 500,
    bounds: Mapping[str, tuple[int, int]] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> DrawResult:
    """Draw the cells of many communities at once (a street office, a district).

    Parameters
    ----------
    units:
        Buildings or small areas, with ``.crs`` set. Not changed.
    households:
        Column with each unit's households.
    group:
        Column naming each unit's community. ``None``: all units are one.
    communities:
        Outlines to tile: columns ``code`` (matched to the group values as
        text) and geometry, in the units' CRS. ``None``: each group's outline
        is the union of its (polygon) units. A community without units is one
        empty cell flagged ``"below_min"`` and ``"no_units"``.
    roads:
        Lines to follow, in the units' CRS (clipped to each community).
    min_households, max_households:
        Default household bounds.
    bounds:
        Per-community ``(min, max)`` overrides, keyed by group value.
    seed:
        Random seed; each community's result depends only on the seed and its
        own inputs.
    progress:
        Called as ``progress(done, total)`` after each community.

    Returns
    -------
    DrawResult
        Cells of all groups together, sorted by code: a group value that is a
        12-digit community code is the prefix of its 15-digit cell codes;
        any other is followed by ``"-"`` and 3 digits (``"E02002846-001"``).

    Raises
    ------
    PartitionError
        As :func:`draw_cells`, and for a missing group column, units without
        a group, groups without an outline or duplicated outlines.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> areas = gpd.GeoDataFrame(
    ...     {"households": [150] * 8, "msoa": ["A"] * 4 + ["B"] * 4},
    ...     geometry=[box(x, 0, x + 1, 1) for x in range(8)], crs="EPSG:27700")
    >>> result = draw_layout(areas, group="msoa")
    >>> result.cells["code"].tolist(), result.cells["households"].tolist()
    (['A-001', 'A-002', 'B-001', 'B-002'], [300, 300, 300, 300])
    """
    started = time.perf_counter()
    lo, hi = check_bounds(min_households, max_households)
    units, values, points = check_units(units, households)
    crs = units.crs
    if group is not None and group not in units.columns:
        raise PartitionError(
            f"`group` was {group!r} but `units` has no such column; its columns are "
            + ", ".join(str(c) for c in units.columns if c != units.geometry.name),
            zh=f"`group` 为 {group!r}，但 `units` 没有这一列；现有的列："
            + "、".join(str(c) for c in units.columns if c != units.geometry.name),
        )
    if group is not None:
        raw = units[group]
        empty = raw.isna().to_numpy()
        if empty.any():
            raise PartitionError(
                f"units must all name their community in {group!r}; rows "
                f"{_rows(list(units.index[empty]))} do not",
                zh=f"每个楼栋都要在 {group!r} 列写明所属社区；第 "
                f"{_rows(list(units.index[empty]), zh=True)} 行没有写",
            )
        keys = np.asarray([group_key(v) for v in raw.to_numpy()], dtype=object)
    else:
        keys = np.full(len(units), "", dtype=object)
    outlines: dict[str, BaseGeometry] = {}
    if communities is not None:
        outlines = _community_outlines(communities, crs, group is None)
    elif points:
        raise PartitionError(
            "`communities` is required when units are points: give the outlines to tile",
            zh="楼栋为点时需要 `communities`：请给出要划分的社区边界",
        )
    group_keys = sorted(set(keys.tolist()) | set(outlines))
    if communities is not None:
        lacking = sorted(set(keys.tolist()) - set(outlines))
        if lacking:
            raise PartitionError(
                f"{len(lacking)} group(s) of `units` have no outline in `communities`: "
                f"{_rows(lacking)}; `communities` has codes {_rows(sorted(outlines))}",
                zh=f"`units` 中有 {len(lacking)} 组在 `communities` 中没有边界："
                f"{_rows(lacking, zh=True)}；`communities` 中的编码为 "
                f"{_rows(sorted(outlines), zh=True)}",
            )
    limits = _group_bounds(bounds, lo, hi)
    metric = choose_metric(
        units.geometry,
        shapely.union_all(list(outlines.values())) if outlines else None,
    )
    projected = units.geometry if _same_crs(crs, metric) else units.geometry.to_crs(metric)
    geoms = np.asarray(projected.array, dtype=object)
    road_geoms = road_array(roads, crs, metric)
    road_tree = shapely.STRtree(road_geoms) if road_geoms is not None else None
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    frames: list[gpd.GeoDataFrame] = []
    unit_codes = np.empty(len(units), dtype=object)
    unit_tiles = np.empty(len(units), dtype=object)
    cell_bounds: dict[str, tuple[int, int]] = {}
    index_labels = list(units.index)
    # One community at a time: each is its own problem (tiles never cross a
    # community), and progress is reported between them.
    for done, key in enumerate(group_keys, start=1):
        start = np.searchsorted(sorted_keys, key, side="left")
        end = np.searchsorted(sorted_keys, key, side="right")
        rows = order[start:end]
        g_lo, g_hi = limits.get(key, (lo, hi))
        outline = to_metric(outlines[key], crs, metric) if key in outlines else None
        local_roads = None
        if road_tree is not None and road_geoms is not None:
            reach = (
                outline if outline is not None else shapely.box(*shapely.total_bounds(geoms[rows]))
            )
            near = road_tree.query(reach, predicate="intersects")
            local_roads = road_geoms[np.sort(near)] if near.size else None
        drawn = draw_metric(
            geoms[rows],
            values[rows],
            outline,
            local_roads,
            min_households=g_lo,
            max_households=g_hi,
            rng=_seed_for(seed, key),
            labels=[index_labels[r] for r in rows],
        )
        label = key if group is not None else None
        frame, _ = cells_frame(
            drawn, prefix=group_prefix(key) if key else "", group=label, first_number=1,
            metric=metric, crs=crs,
        )  # fmt: skip
        codes = frame["code"].to_numpy()
        unit_codes[rows] = codes[drawn.unit_cell]
        unit_tiles[rows] = drawn.unit_tiles
        cell_bounds.update({c: (g_lo, g_hi) for c in codes})
        frames.append(frame)
        if progress is not None:
            progress(done, len(group_keys))
    if outlines:
        fit_frames(frames, [outlines.get(key) for key in group_keys], crs)
    assignment = pd.Series(unit_codes, index=units.index, name="code", dtype=object)
    tiles = _tiles_frame(unit_tiles, assignment, metric, crs)
    return _finish(frames, assignment, tiles, cell_bounds, crs, started)
