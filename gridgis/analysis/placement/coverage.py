"""Walking coverage: households within walking distance of a facility.

:func:`walking_coverage` walks the road network from every party branch,
service centre and station to the buildings around it (straight lines
where a place is off the network) and returns a :class:`Coverage` per
facility, building and cell, with each facility's service area
(:data:`AREA_METHOD`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridgis.analysis import network as net_mod
from gridgis.analysis.placement._shared import (
    DEFAULT_THRESHOLD,
    _cell_of,
    _check_distance,
    _check_frames,
    _households,
    _points,
    _straight_pairs,
)
from gridgis.errors import InputError

AREA_BUFFER = 50.0
"""Metres the hull of the reached road is widened by (the walk from the road to a door)."""

AREA_RATIO = 0.2
"""``ratio`` of :func:`shapely.concave_hull` (0 most concave, 1 convex hull)."""

AREA_METHOD = (
    f"network: concave hull (ratio {AREA_RATIO}) of the road reached, widened by "
    f"{AREA_BUFFER:g} m; straight_line: circle"
)
"""How the service-area polygons are drawn (said in every summary)."""


@dataclass(frozen=True)
class Coverage:
    """Walking coverage of facilities over buildings and cells (see :func:`walking_coverage`).

    Attributes
    ----------
    facilities:
        The input facilities (same index, same CRS) with ``method``
        (``"network"`` | ``"straight_line"``), ``snap_distance`` (metres to the
        nearest walkable road), ``buildings_reached`` and ``households_reached``
        (within ``distance`` of this facility; overlapping), ``households_nearest``
        (covered households for which it is the nearest facility; these add up
        to the households covered), and ``service_area`` (a second geometry
        column: :data:`AREA_METHOD`; ``None`` when areas were not asked for).
    buildings:
        The input buildings with ``cell_code`` (when cells were given),
        ``method`` (how the building is measured), ``distance`` (metres to the
        nearest facility within reach, NaN beyond), ``facility`` (that
        facility's index label, ``None`` beyond), ``via`` (the method of that
        measurement) and ``covered``.
    cells:
        The input cells with ``households``, ``households_covered``,
        ``covered_share`` (NaN without households) and ``covered`` (share at
        least ``threshold``; a cell without households counts as covered);
        ``None`` when no cells were given.
    summary:
        JSON-ready figures: distance, households (covered), shares, cells not
        covered, methods, the network and the seconds taken.
    network:
        The walking network, in metres (reused by :func:`suggest_sites`).
    """

    facilities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame | None
    summary: dict[str, Any]
    network: net_mod.RoadNetwork = field(repr=False)

    @property
    def cells_not_covered(self) -> gpd.GeoDataFrame | None:
        """The cells with less than ``threshold`` of their households covered."""
        if self.cells is None:
            return None
        return self.cells[~self.cells["covered"]]


def walking_coverage(
    facilities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    distance: float,
    cells: gpd.GeoDataFrame | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    households: str = "households",
    code: str = "code",
    snap_limit: float = net_mod.DEFAULT_SNAP_LIMIT,
    join_gaps: float = net_mod.DEFAULT_JOIN_GAPS,
    areas: bool = True,
    crs: pyproj.CRS | str | None = None,
) -> Coverage:
    """Households within walking ``distance`` of a facility, per building, facility and cell.

    Parameters
    ----------
    facilities:
        Points (branches, centres, stations), any columns.
    buildings:
        Points with a ``households`` column.
    roads:
        Lines with a ``kind`` column (:data:`gridgis.analysis.network.WALKABLE_KINDS`
        are walked; railways, rivers and walls are not); may be empty.
    distance:
        Walking metres, e.g. ``WALK_MINUTES[10]`` (500).
    cells:
        Cell polygons with a ``code`` column; each building goes to the cell
        it lies in (on a shared edge, the smallest code).
    threshold:
        Share (0–1] of a cell's households that must be covered.
    households, code:
        Column names.
    snap_limit:
        Metres: a place farther than this from every walkable road is measured
        in straight lines (its ``method`` says so).
    join_gaps:
        Metres: dead ends this close to another road are joined to it.
    areas:
        Draw each facility's service area (:data:`AREA_METHOD`).
    crs:
        Metric CRS to measure in; default the data's own when projected, else
        the one :func:`gridgis.crs.metric_crs` chooses.

    Returns
    -------
    Coverage
        Frames in the input CRS, input index kept; inputs are not changed.

    Raises
    ------
    CRSError
        When the frames have no CRS or different ones (nothing is reprojected
        silently).
    InputError
        For a bad distance, threshold or households column.

    Examples
    --------
    >>> from gridgis.analysis.placement import read_placement_data
    >>> with engine.connect() as conn:
    ...     data = read_placement_data(conn, street="350304001")
    >>> cov = walking_coverage(
    ...     data.facilities, data.buildings, data.roads, cells=data.cells, distance=300.0
    ... )
    >>> cov.summary["households_covered"], cov.summary["method"]
    (1571.0, 'network')
    """
    started = perf_counter()
    distance = _check_distance(distance)
    if not (0 < threshold <= 1):
        raise InputError(
            f"`threshold` was {threshold!r} but is expected to be a share in (0, 1]",
            zh=f"`threshold` 为 {threshold!r}，应为 0 到 1 之间的比例（不含 0）",
        )
    frames = {"facilities": facilities, "buildings": buildings, "roads": roads}
    if cells is not None:
        frames["cells"] = cells
        if code not in cells.columns:
            raise InputError(
                f"`cells` has no column {code!r} (the cell codes)",
                zh=f"`cells` 没有 {code!r} 列（网格编码）",
            )
    input_crs = _check_frames(frames)
    weights = _households(buildings, households)
    metric = _metric(facilities, buildings, crs)
    network = net_mod.road_network(roads.to_crs(metric), join_gaps=join_gaps, crs=metric)
    fac_pts = _points(facilities, metric, "facilities")
    bld_pts = _points(buildings, metric, "buildings")
    n_fac, n_bld = fac_pts.size, bld_pts.size
    attached = net_mod.attach(network, np.concatenate([fac_pts, bld_pts]), snap_limit=snap_limit)
    fac_on = attached.on_network[:n_fac]
    bld_on = attached.on_network[n_fac:]
    fac_idx = np.arange(n_fac)
    bld_idx = n_fac + np.arange(n_bld)

    # Nearest facility of every building: one multi-source search, then straight lines.
    node_dist, node_owner = net_mod.nearest_sources(attached, fac_idx, limit=distance)
    bld_node = attached.place_node[bld_idx]
    best = _take(node_dist, bld_node, np.inf)
    owner = np.where(np.isfinite(best), _take(node_owner, bld_node, -1), -1)
    via = np.full(n_bld, None, dtype=object)
    via[np.isfinite(best)] = "network"
    line_pairs = _straight_pairs(fac_pts, bld_pts, fac_on, bld_on, distance)
    if len(line_pairs):
        closest = (
            pd.DataFrame({"b": line_pairs.target, "f": line_pairs.source, "d": line_pairs.distance})
            .sort_values(["d", "f"])
            .drop_duplicates("b")
        )
        b, f, d = closest["b"].to_numpy(), closest["f"].to_numpy(), closest["d"].to_numpy()
        better = d < best[b]
        b, f, d = b[better], f[better], d[better]
        best[b], owner[b], via[b] = d, f, "straight_line"
    covered = np.isfinite(best)

    # Each facility's own reach (overlapping): one search per facility, in batches.
    reached = net_mod.reach(attached, fac_idx, bld_idx, limit=distance, extent=areas)
    net_pairs, extents = reached if isinstance(reached, tuple) else (reached, None)
    all_f = np.concatenate([net_pairs.source, line_pairs.source])
    all_b = np.concatenate([net_pairs.target, line_pairs.target])
    hh_reached = np.bincount(all_f, weights=weights[all_b], minlength=n_fac)
    bld_reached = np.bincount(all_f, minlength=n_fac)
    hh_nearest = np.bincount(owner[covered], weights=weights[covered], minlength=n_fac)

    fac_out = facilities.copy()
    fac_out["method"] = np.where(fac_on, "network", "straight_line")
    fac_out["snap_distance"] = attached.snap_distance[:n_fac]
    fac_out["buildings_reached"] = bld_reached.astype(np.int64)
    fac_out["households_reached"] = hh_reached
    fac_out["households_nearest"] = hh_nearest
    if areas:
        polygons = _service_areas(fac_pts, fac_on, extents, distance)
        fac_out["service_area"] = gpd.GeoSeries(polygons, index=fac_out.index, crs=metric).to_crs(
            input_crs
        )
    else:
        fac_out["service_area"] = gpd.GeoSeries(
            np.full(n_fac, None, dtype=object), index=fac_out.index, crs=input_crs
        )

    bld_out = buildings.copy()
    if cells is not None:
        bld_out["cell_code"] = _cell_of(buildings, cells, code)
    bld_out["method"] = np.where(bld_on, "network", "straight_line")
    bld_out["distance"] = np.where(covered, best, np.nan)
    fac_labels = np.asarray(facilities.index, dtype=object)
    nearest = np.full(n_bld, None, dtype=object)
    nearest[covered] = fac_labels[owner[covered]]
    bld_out["facility"] = nearest
    bld_out["via"] = via
    bld_out["covered"] = covered

    cells_out = None
    if cells is not None:
        cells_out = _cell_coverage(cells, code, bld_out["cell_code"], weights, covered, threshold)

    total = float(weights.sum())
    covered_hh = float(weights[covered].sum())
    n_comp = int(np.unique(attached.component[: network.n_nodes]).size) if network.n_nodes else 0
    summary: dict[str, Any] = {
        "distance_m": distance,
        "threshold": threshold,
        "method": _overall_method(fac_on, bld_on),
        "area_method": AREA_METHOD if areas else None,
        "facilities": n_fac,
        "facilities_network": int(fac_on.sum()),
        "facilities_straight_line": int((~fac_on).sum()),
        "buildings": n_bld,
        "buildings_network": int(bld_on.sum()),
        "buildings_straight_line": int((~bld_on).sum()),
        "buildings_covered": int(covered.sum()),
        "households": total,
        "households_covered": covered_hh,
        "households_covered_network": float(weights[via == "network"].sum()),
        "households_covered_straight_line": float(weights[via == "straight_line"].sum()),
        "covered_share": covered_hh / total if total else None,
        "cells": None if cells_out is None else len(cells_out),
        "cells_not_covered": None if cells_out is None else int((~cells_out["covered"]).sum()),
        "network": {
            "nodes": network.n_nodes,
            "segments": network.n_edges,
            "length_km": round(network.length / 1000.0, 3),
            "joined_gaps": network.joins,
            "components": n_comp,
            "snap_limit_m": float(snap_limit),
            "join_gaps_m": float(join_gaps),
            "crs": metric.to_string(),
        },
        "seconds": round(perf_counter() - started, 3),
    }
    return Coverage(fac_out, bld_out, cells_out, summary, network)


# --- helpers ------------------------------------------------------------------------------------


def _metric(
    facilities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, crs: pyproj.CRS | str | None
) -> pyproj.CRS:
    if crs is not None or pyproj.CRS(buildings.crs).is_projected:
        return net_mod.metric_crs_for(buildings, crs=crs, name="buildings")
    both = pd.concat([buildings.geometry, facilities.geometry.to_crs(buildings.crs)])
    return net_mod.metric_crs_for(gpd.GeoSeries(both, crs=buildings.crs), name="buildings")


def _service_areas(
    points: NDArray[np.object_],
    on_network: NDArray[np.bool_],
    extents: NDArray[np.object_] | None,
    distance: float,
) -> NDArray[np.object_]:
    """Concave hull of each facility's reached road, widened; circles off the network."""
    out = np.asarray(shapely.buffer(points, distance, quad_segs=8), dtype=object)
    net = np.flatnonzero(on_network)
    if net.size == 0:
        return out
    reached = np.full(points.size, None, dtype=object) if extents is None else extents
    # The facility itself belongs to its area (it may reach no road within the distance).
    own = reached[net]
    clouds = np.where(shapely.is_missing(own), points[net], shapely.union(own, points[net]))
    hulls = shapely.concave_hull(clouds, ratio=AREA_RATIO)
    widened = shapely.buffer(hulls, AREA_BUFFER, quad_segs=4)
    out[net] = shapely.simplify(widened, 2.0)
    return out


def _cell_coverage(
    cells: gpd.GeoDataFrame,
    code: str,
    cell_codes: pd.Series,
    weights: NDArray[np.float64],
    covered: NDArray[np.bool_],
    threshold: float,
) -> gpd.GeoDataFrame:
    pos = pd.Index(cells[code].astype(str).to_numpy()).get_indexer(
        cell_codes.astype(object).to_numpy()
    )
    sel = pos >= 0
    total = np.bincount(pos[sel], weights=weights[sel], minlength=len(cells))
    got = np.bincount(pos[sel], weights=(weights * covered)[sel], minlength=len(cells))
    out = cells.copy()
    out["households"] = total
    out["households_covered"] = got
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, got / total, np.nan)
    out["covered_share"] = share
    out["covered"] = (total == 0) | (share >= threshold - 1e-12)
    return out


def _take(values: NDArray[Any], nodes: NDArray[np.int64], fill: Any) -> NDArray[Any]:
    """``values[nodes]``, with ``fill`` where the node is ``-1`` (a place not attached)."""
    out = np.full(nodes.shape, fill, dtype=values.dtype)
    ok = nodes >= 0
    out[ok] = values[nodes[ok]]
    return out


def _overall_method(fac_on: NDArray[np.bool_], bld_on: NDArray[np.bool_]) -> str:
    every = np.concatenate([fac_on, bld_on])
    if every.size == 0 or every.all():
        return "network"
    if not every.any():
        return "straight_line"
    return "mixed"
