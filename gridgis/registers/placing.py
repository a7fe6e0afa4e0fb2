"""Where each building of a file is: footprints and points made WGS84, repaired, put in communities.

Pure functions on arrays of shapely geometries (no database), so the rules can
be tested and reused (the households and facilities importers place points the
same way).

Examples
--------
>>> import shapely
>>> squares = np.array([shapely.box(0, 0, 2, 2), shapely.box(2, 0, 4, 2)], dtype=object)
>>> communities = pd.DataFrame({"code": ["A", "B"], "geom": squares})
>>> found = place_in_communities(np.array([shapely.box(1.5, 0, 2.1, 1)], dtype=object),
...                              communities, straddle_share=0.1)
>>> found["community_code"].tolist(), found["other_community_code"].tolist()
(['A'], ['B'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.crs import CRSSpec, check_lonlat, metric_crs, transform_geometry
from gridgis.partition.polygons import polygonal

__all__ = [
    "STRADDLE_SHARE",
    "Shapes",
    "footprint_areas",
    "place_in_communities",
    "prepare_shapes",
]

STRADDLE_SHARE = 0.05
"""A building straddles two communities when at least this share of its footprint lies in
the second one (less is taken for a boundary drawn a little off, not a real straddle)."""

_POLYGONAL = (3, 6)  # Polygon, MultiPolygon


@dataclass
class Shapes:
    """The geometries of a file's rows, in WGS84, and what was done to them.

    Attributes
    ----------
    footprint:
        A MultiPolygon per row that has one (``None`` for points and bad rows).
    location:
        A point per usable row: the point given, or a point on the footprint.
    swapped:
        Rows whose coordinates looked like (lat, lon) and were exchanged.
    repaired:
        Rows whose footprint was invalid (self-intersecting...) and was repaired.
    reason:
        Why a row has no usable geometry (``None``: fine, or no geometry given).
    """

    footprint: NDArray[np.object_]
    location: NDArray[np.object_]
    swapped: NDArray[np.bool_]
    repaired: NDArray[np.bool_]
    reason: list[str | None]


def _swap_xy(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    return shapely.transform(geoms, lambda xy: xy[:, ::-1])


def _polygonal_parts(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Each geometry's polygons as one MultiPolygon (``None`` when it has none)."""
    out = np.full(len(geoms), None, dtype=object)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return out
    # make_valid may return a collection with lines or points beside the polygons.
    parts, index = shapely.get_parts(polygonal(geoms[present]), return_index=True)
    keep = ~shapely.is_empty(parts)
    rebuilt = np.full(len(present), None, dtype=object)
    if keep.any():
        shapely.multipolygons(parts[keep], indices=index[keep], out=rebuilt)
    out[present] = rebuilt
    return out


def prepare_shapes(geoms: NDArray[np.object_], spec: CRSSpec) -> Shapes:
    """Make the geometries of a file's rows WGS84 footprints and locations, and check them.

    Polygons become footprints (MultiPolygons, 2D) with a location on them,
    points become locations. Coordinates that look swapped (lat, lon) are
    exchanged and flagged; an invalid footprint is repaired (``make_valid``,
    keeping its polygons) and flagged, or refused when nothing polygonal is
    left; lines, empty geometries and coordinates outside China are refused.

    Parameters
    ----------
    geoms:
        One shapely geometry (or ``None``) per row, in ``spec``.
    spec:
        The CRS of the coordinates.
    """
    n = len(geoms)
    geoms = np.asarray(geoms, dtype=object)
    reason: list[str | None] = [None] * n
    present = ~shapely.is_missing(geoms)
    present[present] = ~shapely.is_empty(geoms[present])
    type_id = np.full(n, -1)
    type_id[present] = shapely.get_type_id(geoms[present])
    polygonal = np.isin(type_id, _POLYGONAL)
    single_point = type_id == 0
    multi_point = type_id == 4
    if multi_point.any():
        one = shapely.get_num_geometries(geoms[multi_point]) == 1
        positions = np.flatnonzero(multi_point)
        geoms[positions[one]] = shapely.get_geometry(geoms[positions[one]], 0)
        single_point[positions[one]] = True
    usable = polygonal | single_point
    for i in np.flatnonzero(present & ~usable):  # the few rows of another kind, worded one by one
        reason[i] = f"the geometry is a {geoms[i].geom_type}, not a footprint or a point"
    wgs = np.full(n, None, dtype=object)
    if usable.any():
        flat = shapely.force_2d(geoms[usable])
        wgs[usable] = transform_geometry(flat, from_crs=spec, to_crs="wgs84")
    swapped = np.zeros(n, dtype=bool)
    if usable.any():
        probe = shapely.point_on_surface(wgs[usable])
        flags = check_lonlat(shapely.get_x(probe), shapely.get_y(probe))
        positions = np.flatnonzero(usable)
        if spec.is_wgs84 or spec.is_obfuscated:
            turn = positions[flags == "swapped"]
            if turn.size:
                raw = _swap_xy(shapely.force_2d(geoms[turn]))
                wgs[turn] = transform_geometry(raw, from_crs=spec, to_crs="wgs84")
                swapped[turn] = True
                flags[flags == "swapped"] = "ok"
        for i, flag in zip(positions[flags != "ok"].tolist(), flags[flags != "ok"], strict=True):
            x, y = shapely.get_x(probe[positions == i])[0], shapely.get_y(probe[positions == i])[0]
            where = "outside China" if flag == "outside_china" else "not a longitude/latitude"
            reason[i] = f"the coordinates ({x:.10g}, {y:.10g}) are {where} (as {spec.name})"
            usable[i] = False
    footprint = np.full(n, None, dtype=object)
    repaired = np.zeros(n, dtype=bool)
    shapes = polygonal & usable
    if shapes.any():
        positions = np.flatnonzero(shapes)
        valid = shapely.is_valid(wgs[positions])
        fixed = wgs[positions].copy()
        if (~valid).any():
            fixed[~valid] = _polygonal_parts(shapely.make_valid(wgs[positions][~valid]))
        rebuilt = _polygonal_parts(fixed)
        area_ok = np.array([g is not None for g in rebuilt], dtype=bool)
        area_ok[area_ok] = shapely.area(rebuilt[area_ok]) > 0
        footprint[positions[area_ok]] = rebuilt[area_ok]
        repaired[positions[~valid & area_ok]] = True
        for i in positions[~area_ok]:
            reason[i] = "the footprint is invalid and cannot be repaired (it has no area)"
            usable[i] = False
    location = np.full(n, None, dtype=object)
    has_footprint = np.array([g is not None for g in footprint], dtype=bool)
    if has_footprint.any():
        location[has_footprint] = shapely.point_on_surface(footprint[has_footprint])
    points = single_point & usable
    location[points] = wgs[points]
    return Shapes(footprint, location, swapped, repaired, reason)


def footprint_areas(footprint: NDArray[np.object_]) -> NDArray[np.float64]:
    """The area of each footprint in m² (NaN where there is none), measured in a metric CRS."""
    areas = np.full(len(footprint), np.nan)
    has = np.array([g is not None for g in footprint], dtype=bool)
    if has.any():
        crs = metric_crs(footprint[has])
        projected = transform_geometry(footprint[has], from_crs="wgs84", to_crs=crs)
        areas[has] = shapely.area(projected)
    return areas


def place_in_communities(
    shapes: NDArray[np.object_],
    communities: pd.DataFrame,
    *,
    straddle_share: float = STRADDLE_SHARE,
) -> pd.DataFrame:
    """The community of each footprint (largest overlap) or point (the one containing it).

    Parameters
    ----------
    shapes:
        Footprints or points in WGS84 (``None``: not placed).
    communities:
        ``code`` and ``geom`` (shapely, WGS84) of the communities.
    straddle_share:
        The share of a footprint in a second community that makes it straddle both.

    Returns
    -------
    pandas.DataFrame
        One row per shape: ``community_code`` (``None`` when in none),
        ``other_community_code`` (the second community of a straddling
        footprint), ``share`` (of the footprint in its community; 1 for points).
        A point on a boundary goes to the smaller code.
    """
    n = len(shapes)
    code = np.full(n, None, dtype=object)
    other = np.full(n, None, dtype=object)
    share = np.full(n, np.nan)
    present = np.flatnonzero(np.array([g is not None for g in shapes], dtype=bool))
    if present.size == 0 or communities.empty:
        return pd.DataFrame({"community_code": code, "other_community_code": other, "share": share})
    outlines = np.asarray(communities["geom"].to_numpy(), dtype=object)
    codes = communities["code"].to_numpy(dtype=object)
    tree = shapely.STRtree(outlines)
    pairs = tree.query(shapes[present], predicate="intersects")
    if pairs.shape[1]:
        which, community = present[pairs[0]], pairs[1]
        is_area = np.isin(shapely.get_type_id(shapes[which]), _POLYGONAL)
        overlap = np.ones(len(which))
        if is_area.any():
            cut = shapely.intersection(shapes[which[is_area]], outlines[community[is_area]])
            overlap[is_area] = shapely.area(cut) / shapely.area(shapes[which[is_area]])
        found = pd.DataFrame({"which": which, "code": codes[community], "share": overlap})
        found = found[found["share"] > 0].sort_values(
            ["which", "share", "code"], ascending=[True, False, True]
        )
        first = found.drop_duplicates("which")
        code[first["which"].to_numpy()] = first["code"].to_numpy()
        share[first["which"].to_numpy()] = first["share"].to_numpy()
        rest = found[found.duplicated("which") & (found["share"] >= straddle_share)]
        second = rest.drop_duplicates("which")
        other[second["which"].to_numpy()] = second["code"].to_numpy()
    return pd.DataFrame({"community_code": code, "other_community_code": other, "share": share})
