"""What the parts of :mod:`gridgis.analysis.placement` share.

The walking distances of the living-circle standard and the covered share
of a cell, and the checks and geometry helpers that both
:func:`~gridgis.analysis.placement.walking_coverage` and
:func:`~gridgis.analysis.placement.suggest_sites` run on their inputs:
one CRS for every frame, households as numbers, points only, straight-line
pairs off the road network, the cell each point lies in.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridgis import crs as crs_mod
from gridgis.analysis import network as net_mod
from gridgis.errors import CRSError, InputError
from gridgis.geocode import smallest_cell

WALK_MINUTES: dict[int, float] = {5: 300.0, 10: 500.0, 15: 1000.0}
"""Walking minutes → metres of the 5 / 10 / 15-minute living circles (GB 50180-2018)."""


DEFAULT_THRESHOLD = 0.5
"""A cell is covered when at least this share of its households is."""


def _check_distance(distance: float) -> float:
    try:
        value = float(distance)
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise InputError(
            f"`distance` was {distance!r} but is expected to be walking metres > 0 "
            f"(e.g. {WALK_MINUTES})",
            zh=f"`distance` 为 {distance!r}，应为大于 0 的步行米数（例如 {WALK_MINUTES}）",
        )
    return value


def _same_crs(a: Any, b: Any) -> bool:
    crs_a, crs_b = pyproj.CRS(a), pyproj.CRS(b)
    if crs_mod.parse_crs(crs_a).is_wgs84 and crs_mod.parse_crs(crs_b).is_wgs84:
        return True  # WGS84 and CGCS2000 differ by centimetres (DOMAIN.md)
    return bool(crs_a.equals(crs_b, ignore_axis_order=True))


def _check_frames(frames: dict[str, gpd.GeoDataFrame]) -> pyproj.CRS:
    """Every frame a GeoDataFrame with the same CRS; return that CRS."""
    ref_name, ref_crs = "", None
    for name, frame in frames.items():
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError(
                f"`{name}` must be a GeoDataFrame, not a {type(frame).__name__}",
                zh=f"`{name}` 应为 GeoDataFrame，而不是 {type(frame).__name__}",
            )
        if frame.crs is None:
            raise CRSError(
                f"`{name}` has no CRS: set it first (e.g. {name}.set_crs('EPSG:4326'))",
                zh=f"`{name}` 没有坐标系：请先设置（例如 {name}.set_crs('EPSG:4326')）",
            )
        if ref_crs is None:
            ref_name, ref_crs = name, pyproj.CRS(frame.crs)
        elif not _same_crs(frame.crs, ref_crs):
            raise CRSError(
                f"`{name}` is in {pyproj.CRS(frame.crs).to_string()} but `{ref_name}` is in "
                f"{ref_crs.to_string()}: reproject one of them explicitly; gridgis never "
                "reprojects silently",
                zh=f"`{name}` 的坐标系是 {pyproj.CRS(frame.crs).to_string()}，而 `{ref_name}` 的是"
                f" {ref_crs.to_string()}：请明确地转换其中一个；本系统从不自动转换坐标系",
            )
    assert ref_crs is not None
    return ref_crs


def _households(buildings: gpd.GeoDataFrame, column: str) -> NDArray[np.float64]:
    if column not in buildings.columns:
        raise InputError(
            f"`buildings` has no column {column!r} (households per building)",
            zh=f"`buildings` 没有 {column!r} 列（每栋楼的户数）",
        )
    values = pd.to_numeric(buildings[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        rows = ", ".join(str(r) for r in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise InputError(
            f"`buildings[{column!r}]` must be numbers >= 0, but rows {rows} are not "
            f"(e.g. {buildings[column].iloc[int(bad[0])]!r})",
            zh=f"`buildings[{column!r}]` 应为不小于 0 的数，但第 {rows} 行不是（例如 "
            f"{buildings[column].iloc[int(bad[0])]!r}）",
        )
    return values


def _points(frame: gpd.GeoDataFrame, metric: pyproj.CRS, name: str) -> NDArray[np.object_]:
    geoms = np.asarray(frame.geometry.to_crs(metric).array, dtype=object)
    bad = np.flatnonzero(
        shapely.is_missing(geoms)
        | shapely.is_empty(geoms)
        | (shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    )
    if bad.size:
        rows = ", ".join(str(frame.index[i]) for i in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise InputError(
            f"`{name}` must be points, but rows {rows} are not (or are empty)",
            zh=f"`{name}` 应为点，但第 {rows} 行不是（或为空）",
        )
    return geoms


def _straight_pairs(
    sources: NDArray[np.object_],
    targets: NDArray[np.object_],
    source_on: NDArray[np.bool_],
    target_on: NDArray[np.bool_],
    distance: float,
) -> net_mod.Pairs:
    """Pairs within ``distance`` in a straight line, where the source or the target is off
    the network (pairs with both on it are walked along the roads instead)."""
    found_s: list[NDArray[np.int64]] = []
    found_t: list[NDArray[np.int64]] = []
    # Sources off the network against every target; sources on it against targets off it.
    for src, tgt in (
        (np.flatnonzero(~source_on), np.arange(targets.size)),
        (np.flatnonzero(source_on), np.flatnonzero(~target_on)),
    ):
        if src.size and tgt.size:
            si, ti = shapely.STRtree(targets[tgt]).query(
                sources[src], predicate="dwithin", distance=distance
            )
            found_s.append(src[si])
            found_t.append(tgt[ti])
    s = np.concatenate(found_s).astype(np.int64) if found_s else np.zeros(0, np.int64)
    t = np.concatenate(found_t).astype(np.int64) if found_t else np.zeros(0, np.int64)
    return net_mod.Pairs(s, t, np.asarray(shapely.distance(sources[s], targets[t]), float))


def _cell_of(frame: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, code: str) -> NDArray[np.object_]:
    """The code of the cell each point lies in (smallest code on a shared edge), else None."""
    pts = np.asarray(frame.geometry.array, dtype=object)
    out = np.full(pts.size, None, dtype=object)
    if pts.size == 0 or cells.empty:
        return out
    codes = cells[code].astype(str).to_numpy()
    by_code = np.argsort(codes, kind="stable")
    found = smallest_cell(pts, np.asarray(cells.geometry.array, dtype=object)[by_code])
    out[found >= 0] = codes[by_code][found[found >= 0]]
    return out
