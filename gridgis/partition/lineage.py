"""Which new cells continue which old ones: the lineage of a redraw.

A redraw replaces some cells of a community. Each new cell that *continues* an
old one keeps its code, and the links people built on the old cell (its grid
worker, its party branch) move to it. This module decides both, from the
households the cells share.

The rule, exactly
-----------------
Every building is placed in one old and one new cell by its point (the
building's point, or the representative point of its footprint). The
households that an old cell ``o`` and a new cell ``n`` share are the
households of the buildings in both; their **share of the old cell** is that
number over the old cell's households, their **share of the new cell** that
number over the new cell's.

- ``n`` **continues** ``o`` (and keeps its code) when they share at least
  :data:`CONTINUES` (50 %) of the households of *both*. Two cells meeting
  that bar for each other are a one-to-one pair except in an exact 50/50 tie,
  which goes to the pair sharing more households, then to the older code.
- ``n`` is ``o``'s **clear successor** when it takes at least :data:`CONTINUES`
  of ``o``'s households: a continuation, or the cell that took most of a
  retired one. Links of a cell that vanished move there; a retired cell
  without a clear successor leaves its links undecided, for a person.
- Where a cell holds no households (an empty park, a cell whose buildings all
  moved), the shares are measured by **area** instead, for that cell's pairs.

A cell with the same shape as before is trivially its own continuation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.errors import InputError

__all__ = [
    "CONTINUES",
    "CellMatch",
    "area_pairs",
    "carried",
    "decide",
    "match_cells",
    "place_points",
]

CONTINUES = 0.5
"""Share of the households of both cells that makes a new cell continue an old one."""


@dataclass
class CellMatch:
    """The pairs of an old and a new layout and what each carried.

    Attributes
    ----------
    pairs:
        One row per (old, new) pair that shares households or area: ``old`` and
        ``new`` (labels of the two frames), ``households`` (shared), ``share_old``
        and ``share_new`` (of each cell's households, or area where it held
        none), ``by_area`` (bool).
    continues:
        New label → the old label it continues (one-to-one).
    successor:
        Old label → its clear successor's new label (old cells without one are absent).
    """

    pairs: pd.DataFrame
    continues: dict[object, object]
    successor: dict[object, object]


def place_points(cells: gpd.GeoSeries | gpd.GeoDataFrame, points: np.ndarray) -> np.ndarray:
    """The position (0-based) of the cell holding each point, -1 for a point in none.

    A point on a shared edge goes to the first cell in frame order. Vectorised
    (one STRtree query for all points).
    """
    geoms = np.asarray(cells.geometry.array, dtype=object)
    result = np.full(len(points), -1, dtype=np.int64)
    if len(geoms) == 0 or len(points) == 0:
        return result
    tree = shapely.STRtree(geoms)
    point_index, cell_index = tree.query(points, predicate="intersects")
    order = np.lexsort((cell_index, point_index))
    point_index, cell_index = point_index[order], cell_index[order]
    first = np.ones(len(point_index), dtype=bool)
    first[1:] = point_index[1:] != point_index[:-1]
    result[point_index[first]] = cell_index[first]
    return result


def carried(
    old: Iterable[object], new: Iterable[object], households: Iterable[int]
) -> pd.DataFrame:
    """Households carried from each old cell to each new cell.

    Parameters
    ----------
    old, new:
        For each building, the label of its old and its new cell (``None`` or NaN:
        in none).
    households:
        For each building, its households.

    Returns
    -------
    pandas.DataFrame
        ``old``, ``new``, ``households``, ``share_old``, ``share_new``: one row per pair
        sharing at least one building (shares over each cell's households among these
        buildings; NaN where the cell holds none).

    Examples
    --------
    >>> carried(["a", "a", "b"], ["x", "y", "y"], [300, 100, 50]).round(2).values.tolist()
    [['a', 'x', 300, 0.75, 1.0], ['a', 'y', 100, 0.25, 0.67], ['b', 'y', 50, 1.0, 0.33]]
    """
    frame = pd.DataFrame(
        {
            "old": list(old),
            "new": list(new),
            "households": np.asarray(list(households), dtype=np.int64),
        }
    )
    frame = frame.dropna(subset=["old", "new"])
    pairs: pd.DataFrame = frame.groupby(["old", "new"], sort=True, as_index=False)[
        ["households"]
    ].sum()
    old_total = frame.groupby("old")["households"].sum()
    new_total = frame.groupby("new")["households"].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs["share_old"] = pairs["households"] / pairs["old"].map(old_total).replace(0, np.nan)
        pairs["share_new"] = pairs["households"] / pairs["new"].map(new_total).replace(0, np.nan)
    return pairs


def area_pairs(
    old: gpd.GeoDataFrame | gpd.GeoSeries,
    new: gpd.GeoDataFrame | gpd.GeoSeries,
    old_rows: np.ndarray,
    new_rows: np.ndarray,
) -> pd.DataFrame:
    """Shares by area (``old``, ``new`` labels of the two frames, ``share_old``,
    ``share_new``) of the pairs that touch the given positions: the cells without
    households."""
    old_geoms = np.asarray(old.geometry.array, dtype=object)
    new_geoms = np.asarray(new.geometry.array, dtype=object)
    tree = shapely.STRtree(new_geoms)
    left, right = tree.query(old_geoms, predicate="intersects")
    keep = np.isin(left, old_rows) | np.isin(right, new_rows)
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return pd.DataFrame(columns=["old", "new", "share_old", "share_new"])
    shared = shapely.area(shapely.intersection(old_geoms[left], new_geoms[right]))
    with np.errstate(divide="ignore", invalid="ignore"):
        share_old = shared / shapely.area(old_geoms[left])
        share_new = shared / shapely.area(new_geoms[right])
    frame = pd.DataFrame(
        {
            "old": old.index.to_numpy()[left],
            "new": new.index.to_numpy()[right],
            "share_old": np.clip(np.nan_to_num(share_old), 0, 1),
            "share_new": np.clip(np.nan_to_num(share_new), 0, 1),
        }
    )
    return frame[(frame["share_old"] > 0) | (frame["share_new"] > 0)]


def decide(pairs: pd.DataFrame) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The continuations and clear successors among ``pairs`` (the module's rule).

    Parameters
    ----------
    pairs:
        ``old``, ``new``, ``households``, ``share_old``, ``share_new`` (as from :func:`carried`).

    Returns
    -------
    tuple of dict
        New → the old it continues (one-to-one); old → its clear successor.
    """
    # Ties: more households first, then the larger share of the old cell (to a millionth),
    # then the older label, then the first new one.
    ranked = pairs.assign(rank_share=pairs["share_old"].round(6)).sort_values(
        ["households", "rank_share", "old", "new"],
        ascending=[False, False, True, True],
        kind="stable",
    )
    continues: dict[Any, Any] = {}
    taken: set[Any] = set()
    # Shares are compared to a millionth: an exact half measured by area is a half.
    share_old, share_new = ranked["rank_share"], ranked["share_new"].round(6)
    strong = ranked[(share_old >= CONTINUES) & (share_new >= CONTINUES)]
    for o, n in zip(strong["old"], strong["new"], strict=True):
        if n not in continues and o not in taken:
            continues[n] = o
            taken.add(o)
    successor: dict[Any, Any] = {o: n for n, o in continues.items()}
    most = ranked[share_old >= CONTINUES]
    for o, n in zip(most["old"], most["new"], strict=True):
        successor.setdefault(o, n)
    return continues, successor


def match_cells(
    old: gpd.GeoDataFrame,
    new: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    households: str = "households",
) -> CellMatch:
    """Match a new layout to the old one by the households they share (see the module's rule).

    Parameters
    ----------
    old, new:
        The two layouts (geometry; any labels), in one CRS.
    buildings:
        The buildings (``households`` and a point or footprint), in the same CRS.
    households:
        Name of the households column of ``buildings``.

    Returns
    -------
    CellMatch

    Raises
    ------
    InputError
        When the frames are in different CRSs.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> old = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)])
    >>> new = gpd.GeoDataFrame(geometry=[box(0, 0, 1.2, 1), box(1.2, 0, 2, 1)])
    >>> homes = gpd.GeoDataFrame({"households": [100, 100, 100]},
    ...                          geometry=[Point(0.5, 0.5), Point(1.1, 0.5), Point(1.5, 0.5)])
    >>> m = match_cells(old, new, homes)
    >>> m.continues, m.successor
    ({0: 0, 1: 1}, {0: 0, 1: 1})
    """
    if buildings.empty:
        buildings = gpd.GeoDataFrame({households: []}, geometry=[], crs=old.crs)
    for name, frame in (("new", new), ("buildings", buildings)):
        if frame.crs != old.crs and not frame.empty and not old.empty:
            raise InputError(
                f"the old layout is in {old.crs} and the {name} in {frame.crs}; "
                "give all in the same CRS",
                zh=f"旧网格的坐标系是 {old.crs}，而{'新网格' if name == 'new' else '楼栋'}的坐标系"
                f"是 {frame.crs}；请使用同一坐标系",
            )
    geoms = np.asarray(buildings.geometry.array, dtype=object)
    points = (
        np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
        if len(geoms)
        else geoms
    )
    old_at = place_points(old, points)
    new_at = place_points(new, points)
    old_labels = np.where(old_at >= 0, old_at, -1)
    new_labels = np.where(new_at >= 0, new_at, -1)
    counts = buildings[households].fillna(0).astype(np.int64).to_numpy()
    inside = (old_labels >= 0) & (new_labels >= 0)
    pairs = carried(old_labels[inside], new_labels[inside], counts[inside])
    pairs["by_area"] = False
    pairs = pairs[pairs["households"] > 0]
    old_held = set(pairs["old"])
    new_held = set(pairs["new"])
    empty_old = np.array([i for i in range(len(old)) if i not in old_held], dtype=np.int64)
    empty_new = np.array([j for j in range(len(new)) if j not in new_held], dtype=np.int64)
    if len(empty_old) or len(empty_new):
        by_area = area_pairs(
            old.reset_index(drop=True), new.reset_index(drop=True), empty_old, empty_new
        )
        by_area["households"] = 0
        by_area["by_area"] = True
        pairs = pd.concat([pairs, by_area], ignore_index=True) if len(by_area) else pairs
    pairs = pairs.astype({"old": np.int64, "new": np.int64}).reset_index(drop=True)
    continues, successor = decide(pairs)
    old_index, new_index = old.index.tolist(), new.index.tolist()
    labelled = pairs.assign(
        old=[old_index[o] for o in pairs["old"]], new=[new_index[n] for n in pairs["new"]]
    )
    return CellMatch(
        pairs=labelled,
        continues={new_index[n]: old_index[o] for n, o in continues.items()},
        successor={old_index[o]: new_index[n] for o, n in successor.items()},
    )
