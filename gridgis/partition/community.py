"""Drawing the cells of one community in a metric CRS: tiles, the plan, cells in one piece.

:func:`draw_metric` tiles the community by its units
(:func:`~gridgis.partition.units.tessellate`), splits the tile graph
(:func:`~gridgis.partition._engine.plan_cells`) and dissolves the tiles
into cells (:class:`Drawn`); :func:`reattach_detached_parts` gives pieces a
cell lies apart in to a neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridgis.partition._arrays import FloatArray, GeomArray, IntArray
from gridgis.partition._engine import plan_cells
from gridgis.partition.errors import PartitionError, geos_guard
from gridgis.partition.overlay import CAN_CLEAN, GRID, dissolve, union_of_areas
from gridgis.partition.units import tessellate


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
        raise PartitionError("the community outline has no area", zh="社区边界没有面积")
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
