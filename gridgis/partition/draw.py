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
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.codes import is_code
from gridgis.partition._arrays import FloatArray, GeomArray, IntArray
from gridgis.partition._engine import plan_cells
from gridgis.partition.codes import assign_codes
from gridgis.partition.errors import PartitionError, geos_guard
from gridgis.partition.metrics import polsby_popper
from gridgis.partition.overlay import CAN_CLEAN, GRID, dissolve, polygonal, union_of_areas
from gridgis.partition.seams import fit_frames
from gridgis.partition.units import tessellate

__all__ = ["DrawResult", "draw_cells", "draw_layout"]

CELL_COLUMNS = ["code", "group", "households", "units", "polsby_popper", "flags", "geometry"]
"""Columns of every cells frame the engine returns, in this order."""

_SHOWN = 10


# --- results ------------------------------------------------------------------------------------


def _summary(cells: gpd.GeoDataFrame, bounds: pd.DataFrame, seconds: float) -> dict[str, float]:
    n = len(cells)
    if n == 0:
        return {
            "n_cells": 0.0,
            "share_within_bounds": float("nan"),
            "min_households": float("nan"),
            "median_households": float("nan"),
            "max_households": float("nan"),
            "median_polsby_popper": float("nan"),
            "seconds": float(seconds),
        }
    households = cells["households"].to_numpy(dtype=float)
    limits = bounds.reindex(cells["code"].to_numpy())
    within = (households >= limits["min_households"].to_numpy()) & (
        households <= limits["max_households"].to_numpy()
    )
    return {
        "n_cells": float(n),
        "share_within_bounds": float(np.mean(within)),
        "min_households": float(households.min()),
        "median_households": float(np.median(households)),
        "max_households": float(households.max()),
        "median_polsby_popper": float(np.nanmedian(cells["polsby_popper"].to_numpy(dtype=float))),
        "seconds": float(seconds),
    }


@dataclass
class DrawResult:
    """Cells drawn for one or more communities.

    Attributes
    ----------
    cells:
        One row per cell, sorted by code: ``code`` (str), ``group`` (the
        community code or group value, or None), ``households`` (int),
        ``units`` (number of units), ``polsby_popper`` (float), ``flags``
        (list of str, empty when the cell is within bounds) and the
        (Multi)Polygon; CRS = the units' CRS.
    assignment:
        The cell code of each input unit, indexed like the units.
    tessellation:
        The tile of each input unit (``code`` and the polygon; for polygon
        units that tile, the unit clipped to the community), indexed like
        the units, in their CRS. Units sharing a spot share a tile.
    bounds:
        ``min_households`` and ``max_households`` each cell was drawn for,
        indexed by code.
    seconds:
        Wall time of the drawing.
    """

    cells: gpd.GeoDataFrame
    assignment: pd.Series
    tessellation: gpd.GeoDataFrame
    bounds: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """``n_cells``, ``share_within_bounds``, ``min/median/max_households``,
        ``median_polsby_popper`` and ``seconds``."""
        return _summary(self.cells, self.bounds, self.seconds)


# --- checking arguments -------------------------------------------------------------------------


def check_bounds(min_households: object, max_households: object) -> tuple[int, int]:
    """Validate the household bounds; return them as ints."""
    for name, value in (("min_households", min_households), ("max_households", max_households)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise PartitionError(f"`{name}` was {value!r} but is expected to be an integer")
    lo, hi = int(min_households), int(max_households)  # type: ignore[call-overload]
    if lo < 1:
        raise PartitionError(f"`min_households` was {lo} but must be at least 1")
    if hi < lo:
        raise PartitionError(
            f"`max_households` was {hi} but must be at least `min_households` ({lo})"
        )
    return lo, hi


def community_prefix(community_code: str | None) -> str:
    """The code prefix of a community: its 12-digit code, or ``""``."""
    if community_code is None:
        return ""
    if not is_code(community_code, "community"):
        raise PartitionError(
            f"`community_code` was {community_code!r} but is expected to be a 12-digit "
            "community code such as '211403001001' (or None)"
        )
    return community_code


def _rows(labels: list[Any]) -> str:
    shown = ", ".join(repr(label) for label in labels[:_SHOWN])
    return shown + (f" and {len(labels) - _SHOWN} more" if len(labels) > _SHOWN else "")


def check_units(units: object, households: str) -> tuple[gpd.GeoDataFrame, FloatArray, bool]:
    """Validate the units frame; return it, its households and whether it holds points."""
    if not isinstance(units, gpd.GeoDataFrame):
        raise PartitionError(f"`units` must be a GeoDataFrame, not a {type(units).__name__}")
    if units.crs is None:
        raise PartitionError(
            "`units` has no CRS; set it (units.set_crs(...)) so areas can be measured"
        )
    if households not in units.columns:
        raise PartitionError(
            f"`households` was {households!r} but `units` has no such column; its columns are "
            + ", ".join(str(c) for c in units.columns if c != units.geometry.name)
        )
    values = pd.to_numeric(units[households], errors="coerce").to_numpy(dtype=float)
    text = units[households].to_numpy()
    not_numbers = [units.index[k] for k in np.flatnonzero(np.isnan(values)) if not pd.isna(text[k])]
    if not_numbers:
        raise PartitionError(
            f"column {households!r} must hold numbers; rows {_rows(not_numbers)} do not"
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise PartitionError(
            f"column {households!r} must hold household counts >= 0; rows "
            f"{_rows(list(units.index[bad]))} are missing or negative"
        )
    geoms = np.asarray(units.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise PartitionError(
            f"{int(missing.sum())} unit(s) have no geometry: rows "
            f"{_rows(list(units.index[missing]))}"
        )
    kinds = shapely.get_type_id(geoms)
    points = kinds == 0
    polygons = np.isin(kinds, (3, 6))
    if not (points.all() or polygons.all()):
        odd = ~(points | polygons)
        if odd.any():
            kinds_found = sorted(set(shapely.get_type_id(geoms[odd]).tolist()))
            raise PartitionError(
                f"units must be points or polygons; rows {_rows(list(units.index[odd]))} are "
                f"GEOS types {kinds_found} (1/2 lines, 4 multipoints, 5 multilines, "
                "7 collections)"
            )
        raise PartitionError(
            f"units must be all points or all polygons, not {int(points.sum())} points and "
            f"{int(polygons.sum())} polygons"
        )
    return units, values, bool(points.all()) and len(units) > 0


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return bool(a == b or a.equals(b, ignore_axis_order=True))


def road_array(roads: object, crs: pyproj.CRS, metric: pyproj.CRS) -> GeomArray | None:
    """Roads (GeoDataFrame, GeoSeries, geometries) as a metric geometry array."""
    if roads is None:
        return None
    if isinstance(roads, gpd.GeoDataFrame):
        roads = roads.geometry
    if isinstance(roads, gpd.GeoSeries):
        if roads.crs is not None and not _same_crs(roads.crs, crs):
            raise PartitionError(
                f"`roads` is in {roads.crs.to_string()} but the units are in {crs.to_string()}; "
                "gridgis never re-projects silently: pass roads.to_crs(units.crs)"
            )
        series = roads.set_crs(crs, allow_override=True)
    else:
        series = gpd.GeoSeries(np.asarray(roads, dtype=object).ravel(), crs=crs)
    if len(series) == 0:
        return None
    return np.asarray(series.to_crs(metric).array, dtype=object)


def choose_metric(series: gpd.GeoSeries, extra: BaseGeometry | None = None) -> pyproj.CRS:
    """The metric CRS to compute in: the data's own when projected, else metric_crs()."""
    crs = series.crs
    if crs is not None and crs.is_projected:
        return crs
    if len(series):
        return crs_mod.metric_crs(series)
    if extra is not None:
        return crs_mod.metric_crs(gpd.GeoSeries([extra], crs=crs))
    raise PartitionError("neither units nor a community were given: nothing to draw")


DENSIFY_DEGREES = 1e-4
"""Outlines in lon/lat get a vertex at least this often (about 11 m) before projection."""


def densify(geoms: Any, crs: pyproj.CRS) -> Any:
    """Add vertices along long lon/lat edges so that they survive a projection.

    An edge straight in lon/lat is slightly curved in a metric CRS. Cells are
    built in the metric CRS with vertices along the community's outline;
    projected back, those vertices would stray millimetres to centimetres
    off the straight lon/lat edge (slivers of a few m² along the outline).
    With a vertex every ~11 m the stray is below a micrometre.
    """
    if crs.is_geographic:
        return shapely.segmentize(geoms, DENSIFY_DEGREES)
    return geoms


def to_metric(geom: BaseGeometry, crs: pyproj.CRS, metric: pyproj.CRS) -> Any:
    """One outline from ``crs`` to ``metric``, on the precision grid, polygon parts only."""
    if not _same_crs(crs, metric):
        geom = gpd.GeoSeries([densify(geom, crs)], crs=crs).to_crs(metric).iloc[0]
    geom = shapely.make_valid(shapely.set_precision(geom, GRID))
    return polygonal(np.asarray([geom], dtype=object))[0]


# --- drawing in a metric CRS --------------------------------------------------------------------


@dataclass
class Drawn:
    """Cells of one community in the metric CRS (before coding)."""

    geoms: GeomArray
    households: FloatArray
    units: IntArray
    flags: list[list[str]]
    unit_cell: IntArray
    unit_tiles: GeomArray


@geos_guard("drawing the cells of a community")
def draw_metric(
    geoms: GeomArray,
    households: FloatArray,
    community: Any,
    roads: GeomArray | None,
    *,
    min_households: int,
    max_households: int,
    rng: np.random.Generator,
    labels: list[Any] | None = None,
) -> Drawn:
    """Draw the cells of one community; all geometry in one metric CRS, on the grid."""
    n = geoms.size
    tiling = community is None
    if community is None:  # small areas: their union is the community
        geoms, community = union_of_areas(geoms)
    if shapely.is_empty(community) or shapely.area(community) <= 0:
        raise PartitionError("the community outline has no area")
    if n == 0:
        return Drawn(
            geoms=np.asarray([community], dtype=object),
            households=np.zeros(1),
            units=np.zeros(1, dtype=np.int64),
            flags=[["below_min", "no_units"]],
            unit_cell=np.zeros(0, dtype=np.int64),
            unit_tiles=np.zeros(0, dtype=object),
        )
    tess = tessellate(geoms, households, community, roads, labels=labels, tiling=tiling)
    total = float(households.sum())
    plan = plan_cells(
        tess.graph,
        tess.households,
        min_households=min_households,
        max_households=max_households,
        rng=rng,
    )
    m = len(plan.flags)
    unit_cell = plan.labels[tess.site]
    if total < min_households:
        cell_geoms = np.asarray([community], dtype=object)
        orphans = np.zeros(0, dtype=object)
    else:
        cell_geoms = dissolve(tess.tiles, plan.labels, m, coverage=CAN_CLEAN)
        cell_geoms, unit_cell, split = reattach_detached_parts(
            cell_geoms,
            shapely.point_on_surface(geoms),
            unit_cell,
            households,
            min_households=min_households,
            max_households=max_households,
        )
        orphans = tess.orphans
    cell_hh = np.asarray(np.bincount(unit_cell, weights=households, minlength=m), dtype=float)
    cell_units = np.bincount(unit_cell, minlength=m).astype(np.int64)
    flags = [list(f) for f in plan.flags]
    if total >= min_households:
        for i in split:
            flags[i].append("non_contiguous")
    if orphans.size:
        cell_geoms = np.concatenate([cell_geoms, orphans])
        cell_hh = np.concatenate([cell_hh, np.zeros(orphans.size)])
        cell_units = np.concatenate([cell_units, np.zeros(orphans.size, dtype=np.int64)])
        flags += [["below_min", "no_units"] for _ in range(orphans.size)]
    return Drawn(
        geoms=cell_geoms,
        households=cell_hh,
        units=cell_units,
        flags=flags,
        unit_cell=unit_cell,
        unit_tiles=tess.tiles[tess.site],
    )


def reattach_detached_parts(
    cell_geoms: GeomArray,
    unit_points: GeomArray,
    unit_cell: IntArray,
    households: FloatArray,
    *,
    min_households: int,
    max_households: int,
) -> tuple[GeomArray, IntArray, set[int]]:
    """Move pieces of a cell that lie apart from its main piece to the neighbour they border most.

    Tiles that touch only at a corner, or a tile that a concave outline cuts
    in two, can leave a cell in pieces. Each piece other than the one with
    most households goes, with its buildings, to the neighbouring cell it
    shares the longest edge with, where both cells stay within bounds.

    Returns
    -------
    tuple
        The cell geometries, the units' cells, and the cells still in pieces.
    """
    out = cell_geoms.copy()
    cells_of_units = unit_cell.copy()
    cell_hh = np.bincount(cells_of_units, weights=households, minlength=out.size)
    left: set[int] = set()
    multi = np.flatnonzero(shapely.get_num_geometries(out) > 1)
    # Loop over the few cells in pieces (usually none): each needs its own overlays.
    for i in multi:
        parts = shapely.get_parts(out[i])
        members = np.flatnonzero(cells_of_units == i)
        inside = shapely.intersects(parts[:, None], unit_points[members][None, :])
        part_hh = (inside * households[members][None, :]).sum(axis=1)
        keep = int(np.argmax(part_hh + 1e-9 * shapely.area(parts)))
        for k in np.flatnonzero(np.arange(parts.size) != keep):
            moving = members[inside[k]]
            amount = float(households[moving].sum())
            others = np.delete(np.arange(out.size), i)
            shared = shapely.length(shapely.intersection(shapely.boundary(parts[k]), out[others]))
            moved = False
            for j in others[np.argsort(-shared)]:
                if shared[np.searchsorted(others, j)] <= 0:
                    break
                fits = amount == 0 or (
                    cell_hh[j] + amount <= max_households and cell_hh[i] - amount >= min_households
                )
                if fits:
                    out[j] = shapely.union(out[j], parts[k], grid_size=GRID)
                    out[i] = shapely.difference(out[i], parts[k], grid_size=GRID)
                    cells_of_units[moving] = j
                    cell_hh[j] += amount
                    cell_hh[i] -= amount
                    moved = True
                    break
            if not moved:
                left.add(int(i))
    return out, cells_of_units, left


def cells_frame(
    drawn: Drawn,
    *,
    prefix: str,
    group: str | None,
    first_number: int,
    metric: pyproj.CRS,
    crs: pyproj.CRS,
) -> tuple[gpd.GeoDataFrame, IntArray]:
    """The cells frame (input CRS, codes assigned, not yet sorted) and each cell's position."""
    metric_cells = gpd.GeoSeries(drawn.geoms, crs=metric)
    codes = assign_codes(metric_cells, prefix=prefix, first_number=first_number)
    geometry = metric_cells if _same_crs(metric, crs) else metric_cells.to_crs(crs)
    frame = gpd.GeoDataFrame(
        {
            "code": codes.to_numpy(),
            "group": pd.Series([group] * len(codes), dtype=object),
            "households": np.round(drawn.households).astype(np.int64),
            "units": drawn.units,
            "polsby_popper": polsby_popper(drawn.geoms),
            "flags": pd.Series([list(f) for f in drawn.flags], dtype=object),
        },
        geometry=geometry.to_numpy(),
        crs=crs,
    )
    return frame, np.arange(len(frame))


def _seed_for(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode("utf-8"))])


def _finish(
    cells: list[gpd.GeoDataFrame],
    assignment: pd.Series,
    tiles: gpd.GeoDataFrame,
    bounds: dict[str, tuple[int, int]],
    crs: pyproj.CRS,
    started: float,
) -> DrawResult:
    if cells:
        frame = pd.concat(cells, ignore_index=True)
    else:
        frame = gpd.GeoDataFrame({c: [] for c in CELL_COLUMNS[:-1]}, geometry=[], crs=crs)
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)[CELL_COLUMNS]
    frame = frame.sort_values("code", kind="stable").reset_index(drop=True)
    limits = pd.DataFrame(
        {
            "min_households": [bounds[c][0] for c in frame["code"]],
            "max_households": [bounds[c][1] for c in frame["code"]],
        },
        index=pd.Index(frame["code"].to_numpy(), name="code"),
    )
    return DrawResult(
        cells=frame,
        assignment=assignment,
        tessellation=tiles,
        bounds=limits,
        seconds=time.perf_counter() - started,
    )


# --- public API ---------------------------------------------------------------------------------


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
            f"{type(community).__name__}"
        )
    if points and community is None:
        raise PartitionError(
            "`community` is required when units are points: give the outline to tile"
        )
    if community is None and len(units) == 0:
        raise PartitionError("no units and no `community`: nothing to draw")
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


def _tiles_frame(
    tiles: GeomArray, assignment: pd.Series, metric: pyproj.CRS, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    series = gpd.GeoSeries(tiles, index=assignment.index, crs=metric)
    if not _same_crs(metric, crs):
        series = series.to_crs(crs)
    return gpd.GeoDataFrame({"code": assignment}, geometry=series, crs=crs)


def group_key(value: object) -> str:
    """A group value as text (integral floats lose their ``.0``)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def group_prefix(key: str) -> str:
    """Cell-code prefix of a group: the key when it is a 12-digit code, else key + '-'."""
    return key if is_code(key, "community") else f"{key}-"


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
            + ", ".join(str(c) for c in units.columns if c != units.geometry.name)
        )
    if group is not None:
        raw = units[group]
        empty = raw.isna().to_numpy()
        if empty.any():
            raise PartitionError(
                f"units must all name their community in {group!r}; rows "
                f"{_rows(list(units.index[empty]))} do not"
            )
        keys = np.asarray([group_key(v) for v in raw.to_numpy()], dtype=object)
    else:
        keys = np.full(len(units), "", dtype=object)
    outlines: dict[str, BaseGeometry] = {}
    if communities is not None:
        outlines = _community_outlines(communities, crs, group is None)
    elif points:
        raise PartitionError(
            "`communities` is required when units are points: give the outlines to tile"
        )
    group_keys = sorted(set(keys.tolist()) | set(outlines))
    if communities is not None:
        lacking = sorted(set(keys.tolist()) - set(outlines))
        if lacking:
            raise PartitionError(
                f"{len(lacking)} group(s) of `units` have no outline in `communities`: "
                f"{_rows(lacking)}; `communities` has codes {_rows(sorted(outlines))}"
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


def _community_outlines(
    communities: object, crs: pyproj.CRS, single: bool
) -> dict[str, BaseGeometry]:
    if not isinstance(communities, gpd.GeoDataFrame):
        raise PartitionError(
            f"`communities` must be a GeoDataFrame, not a {type(communities).__name__}"
        )
    if "code" not in communities.columns:
        raise PartitionError("`communities` must have a `code` column naming each community")
    if communities.crs is not None and not _same_crs(communities.crs, crs):
        raise PartitionError(
            f"`communities` is in {communities.crs.to_string()} but the units are in "
            f"{crs.to_string()}; pass communities.to_crs(units.crs)"
        )
    keys = [group_key(v) for v in communities["code"].to_numpy()]
    if single:
        if len(keys) != 1:
            raise PartitionError(
                f"without `group`, `communities` must hold one outline, not {len(keys)}"
            )
        keys = [""]
    duplicated = sorted(k for k, count in Counter(keys).items() if count > 1)
    if duplicated:
        raise PartitionError(f"`communities` repeats the codes {_rows(duplicated)}")
    geoms = np.asarray(communities.geometry.array, dtype=object)
    bad = [k for k, g in zip(keys, geoms, strict=True) if g is None or shapely.area(g) <= 0]
    if bad:
        raise PartitionError(f"`communities` has no polygon for codes {_rows(bad)}")
    return dict(zip(keys, geoms, strict=True))


def _group_bounds(
    bounds: Mapping[str, tuple[int, int]] | None, lo: int, hi: int
) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for key, pair in (bounds or {}).items():
        try:
            g_lo, g_hi = pair
        except (TypeError, ValueError):
            raise PartitionError(
                f"`bounds[{key!r}]` was {pair!r} but is expected to be (min, max)"
            ) from None
        out[group_key(key)] = check_bounds(g_lo, g_hi)
    return out
