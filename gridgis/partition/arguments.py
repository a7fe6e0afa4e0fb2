"""Checking and preparing the arguments of :func:`~gridgis.partition.draw_cells` and kin.

Household bounds, community codes, the units frame, roads, community
outlines and per-community bounds are checked here (each bad value raises a
:class:`~gridgis.partition.PartitionError` naming it); the metric CRS to
draw in is chosen here and outlines are moved into it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.codes import is_code
from gridgis.partition._arrays import FloatArray, GeomArray
from gridgis.partition.errors import PartitionError
from gridgis.partition.overlay import GRID, polygonal

_SHOWN = 10


def check_bounds(min_households: object, max_households: object) -> tuple[int, int]:
    """Validate the household bounds; return them as ints."""
    for name, value in (("min_households", min_households), ("max_households", max_households)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise PartitionError(
                f"`{name}` was {value!r} but is expected to be an integer",
                zh=f"`{name}` 为 {value!r}，应为整数",
            )
    lo, hi = int(min_households), int(max_households)  # type: ignore[call-overload]
    if lo < 1:
        raise PartitionError(
            f"`min_households` was {lo} but must be at least 1",
            zh=f"`min_households`（每格最少户数）为 {lo}，至少应为 1",
        )
    if hi < lo:
        raise PartitionError(
            f"`max_households` was {hi} but must be at least `min_households` ({lo})",
            zh=f"`max_households`（每格最多户数）为 {hi}，不能小于 `min_households`（{lo}）",
        )
    return lo, hi


def community_prefix(community_code: str | None) -> str:
    """The code prefix of a community: its 12-digit code, or ``""``."""
    if community_code is None:
        return ""
    if not is_code(community_code, "community"):
        raise PartitionError(
            f"`community_code` was {community_code!r} but is expected to be a 12-digit "
            "community code such as '211403001001' (or None)",
            zh=f"`community_code` 为 {community_code!r}，应为 12 位社区编码，例如 '211403001001'（"
            "或 None）",
        )
    return community_code


def _rows(labels: list[Any], *, zh: bool = False) -> str:
    """The first labels, for an error message (in Chinese with ``zh``)."""
    shown = ("、" if zh else ", ").join(repr(label) for label in labels[:_SHOWN])
    more = len(labels) - _SHOWN
    if more <= 0:
        return shown
    return shown + (f" 等（另有 {more} 个）" if zh else f" and {more} more")


def check_units(units: object, households: str) -> tuple[gpd.GeoDataFrame, FloatArray, bool]:
    """Validate the units frame; return it, its households and whether it holds points."""
    if not isinstance(units, gpd.GeoDataFrame):
        raise PartitionError(
            f"`units` must be a GeoDataFrame, not a {type(units).__name__}",
            zh=f"`units` 应为 GeoDataFrame，而不是 {type(units).__name__}",
        )
    if units.crs is None:
        raise PartitionError(
            "`units` has no CRS; set it (units.set_crs(...)) so areas can be measured",
            zh="`units` 没有坐标系；请先设置（units.set_crs(...)），否则无法计算面积",
        )
    if households not in units.columns:
        raise PartitionError(
            f"`households` was {households!r} but `units` has no such column; its columns are "
            + ", ".join(str(c) for c in units.columns if c != units.geometry.name),
            zh=f"`households` 为 {households!r}，但 `units` 没有这一列；现有的列："
            + "、".join(str(c) for c in units.columns if c != units.geometry.name),
        )
    values = pd.to_numeric(units[households], errors="coerce").to_numpy(dtype=float)
    text = units[households].to_numpy()
    not_numbers = [units.index[k] for k in np.flatnonzero(np.isnan(values)) if not pd.isna(text[k])]
    if not_numbers:
        raise PartitionError(
            f"column {households!r} must hold numbers; rows {_rows(not_numbers)} do not",
            zh=f"{households!r} 列应为数字；第 {_rows(not_numbers, zh=True)} 行不是数字",
        )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise PartitionError(
            f"column {households!r} must hold household counts >= 0; rows "
            f"{_rows(list(units.index[bad]))} are missing or negative",
            zh=f"{households!r} 列应为不小于 0 的户数；第 {_rows(list(units.index[bad]), zh=True)}"
            " 行缺失或为负数",
        )
    geoms = np.asarray(units.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise PartitionError(
            f"{int(missing.sum())} unit(s) have no geometry: rows "
            f"{_rows(list(units.index[missing]))}",
            zh=f"有 {int(missing.sum())} 个楼栋没有图形：第 "
            f"{_rows(list(units.index[missing]), zh=True)} 行",
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
                "7 collections)",
                zh=f"楼栋应为点或多边形；第 {_rows(list(units.index[odd]), zh=True)} 行是 GEOS 类"
                f"型 {kinds_found}（1/2 为线，4 为多点，5 为多线，7 为几何集合）",
            )
        raise PartitionError(
            f"units must be all points or all polygons, not {int(points.sum())} points and "
            f"{int(polygons.sum())} polygons",
            zh=f"楼栋应全部为点或全部为多边形，现有 {int(points.sum())} 个点和 "
            f"{int(polygons.sum())} 个多边形",
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
                "gridgis never re-projects silently: pass roads.to_crs(units.crs)",
                zh=f"`roads` 的坐标系是 {roads.crs.to_string()}，而楼栋的坐标系是 "
                f"{crs.to_string()}；本系统从不自动转换坐标系：请传入 roads.to_crs(units.crs)",
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
    raise PartitionError(
        "neither units nor a community were given: nothing to draw",
        zh="既没有楼栋，也没有社区边界：无从划分网格",
    )


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


def group_key(value: object) -> str:
    """A group value as text (integral floats lose their ``.0``)."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def group_prefix(key: str) -> str:
    """Cell-code prefix of a group: the key when it is a 12-digit code, else key + '-'."""
    return key if is_code(key, "community") else f"{key}-"


def _community_outlines(
    communities: object, crs: pyproj.CRS, single: bool
) -> dict[str, BaseGeometry]:
    if not isinstance(communities, gpd.GeoDataFrame):
        raise PartitionError(
            f"`communities` must be a GeoDataFrame, not a {type(communities).__name__}",
            zh=f"`communities` 应为 GeoDataFrame，而不是 {type(communities).__name__}",
        )
    if "code" not in communities.columns:
        raise PartitionError(
            "`communities` must have a `code` column naming each community",
            zh="`communities` 需要有 `code` 列，写明每个社区的编码",
        )
    if communities.crs is not None and not _same_crs(communities.crs, crs):
        raise PartitionError(
            f"`communities` is in {communities.crs.to_string()} but the units are in "
            f"{crs.to_string()}; pass communities.to_crs(units.crs)",
            zh=f"`communities` 的坐标系是 {communities.crs.to_string()}，而楼栋的坐标系是 "
            f"{crs.to_string()}；请传入 communities.to_crs(units.crs)",
        )
    keys = [group_key(v) for v in communities["code"].to_numpy()]
    if single:
        if len(keys) != 1:
            raise PartitionError(
                f"without `group`, `communities` must hold one outline, not {len(keys)}",
                zh=f"没有 `group` 时，`communities` 只能有一个边界，而不是 {len(keys)} 个",
            )
        keys = [""]
    duplicated = sorted(k for k, count in Counter(keys).items() if count > 1)
    if duplicated:
        raise PartitionError(
            f"`communities` repeats the codes {_rows(duplicated)}",
            zh=f"`communities` 中编码重复：{_rows(duplicated, zh=True)}",
        )
    geoms = np.asarray(communities.geometry.array, dtype=object)
    bad = [k for k, g in zip(keys, geoms, strict=True) if g is None or shapely.area(g) <= 0]
    if bad:
        raise PartitionError(
            f"`communities` has no polygon for codes {_rows(bad)}",
            zh=f"`communities` 中编码 {_rows(bad, zh=True)} 没有多边形边界",
        )
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
                f"`bounds[{key!r}]` was {pair!r} but is expected to be (min, max)",
                zh=f"`bounds[{key!r}]` 为 {pair!r}，应为（最少, 最多）两个数",
            ) from None
        out[group_key(key)] = check_bounds(g_lo, g_hi)
    return out
