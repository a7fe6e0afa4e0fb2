"""Keeping cell codes stable across redraws.

A redraw keeps the code of every cell that continues an old one (the rule of
:mod:`gridgis.partition.lineage`: they share at least half the households of
both); every other new cell gets the next free number of its community, in the order the engine
numbered them (west→east, north→south), and a code once issued is never
issued to another cell.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd
import shapely

from gridgis.errors import InputError
from gridgis.partition.lineage import match_cells

SAME_SHAPE_TOLERANCE = 1e-6
"""Two cells are the same when their symmetric difference is below this share of their area."""


def same_shape(
    a: shapely.Geometry, b: shapely.Geometry, *, tolerance: float = SAME_SHAPE_TOLERANCE
) -> bool:
    """Whether two cells are the same: equal vertices, or a symmetric difference
    below ``tolerance`` of the larger area."""
    if shapely.equals_exact(a, b, tolerance=1e-9):
        return True
    scale = max(float(shapely.area(a)), float(shapely.area(b)))
    return (
        scale > 0 and float(shapely.area(shapely.symmetric_difference(a, b))) <= tolerance * scale
    )


def next_free_number(prefix: str, used_codes: Iterable[str]) -> int:
    """The first sequence number after every code of ``prefix`` ever issued.

    Examples
    --------
    >>> next_free_number("350304001001", ["350304001001001", "350304001001007"])
    8
    """
    numbers = [
        int(code[len(prefix) :])
        for code in used_codes
        if code.startswith(prefix) and code[len(prefix) :].isdigit()
    ]
    return max(numbers, default=0) + 1


def reconcile_codes(
    new_cells: gpd.GeoDataFrame,
    old_cells: gpd.GeoDataFrame,
    *,
    prefix: str,
    used_codes: Iterable[str] = (),
    code: str = "code",
    digits: int = 3,
    buildings: gpd.GeoDataFrame | None = None,
) -> pd.Series:
    """Codes for a redrawn layout: old codes for the cells that continue old ones
    (:mod:`gridgis.partition.lineage`), fresh ones for the rest.

    Parameters
    ----------
    new_cells:
        The new layout, in the engine's numbering order (its ``code`` column
        decides the order of fresh numbers).
    old_cells:
        The layout it replaces: ``code`` and geometry, same CRS.
    prefix:
        The community code the cell codes start with.
    used_codes:
        Every code ever issued in the community (active and retired).
    code:
        Name of the code column in both frames.
    digits:
        Width of the sequence number.
    buildings:
        ``households`` and a point or footprint, same CRS: a new cell continues an old
        one when they share at least half the households of both. Without them, the
        share of both areas decides (an unchanged cell always keeps its code).

    Returns
    -------
    pandas.Series
        The code of each new cell, indexed like ``new_cells``.

    Raises
    ------
    InputError
        When the two layouts are in different CRSs, or the numbers run out.
    """
    if old_cells.crs != new_cells.crs and not old_cells.empty:
        raise InputError(
            f"the old layout is in {old_cells.crs} and the new one in {new_cells.crs}; "
            "give both in the same CRS",
            zh=f"旧网格的坐标系是 {old_cells.crs}，而新网格的坐标系是 {new_cells.crs}；请使用同一"
            "坐标系",
        )
    order = new_cells.sort_values(code).index
    result = pd.Series(index=new_cells.index, dtype=object)
    if not old_cells.empty:
        homes = (
            buildings
            if buildings is not None
            else gpd.GeoDataFrame({"households": []}, geometry=[], crs=old_cells.crs)
        )
        old_codes = old_cells[code].astype(str).to_dict()
        continues = match_cells(old_cells, new_cells, homes).continues
        result = pd.Series(
            [old_codes.get(continues.get(label)) for label in new_cells.index],
            index=new_cells.index,
            dtype=object,
        )
    number = next_free_number(prefix, [*used_codes, *old_cells[code].astype(str)])
    for label in order:
        if pd.isna(result.loc[label]):
            if number >= 10**digits:
                raise InputError(
                    f"community {prefix} has used all {10**digits - 1} cell numbers; "
                    "codes are never reused",
                    zh=f"社区 {prefix} 已用完全部 {10**digits - 1} 个网格编号；编码不会重复使用",
                )
            result.loc[label] = f"{prefix}{number:0{digits}d}"
            number += 1
    return result
