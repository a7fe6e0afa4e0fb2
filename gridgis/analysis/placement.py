"""Party-branch placement: walking coverage of branches and stations, and where to add more.

Two questions, one module:

**Who is within walking distance?** :func:`walking_coverage` measures, for
every building, the walk to the nearest party branch (党支部) or party-mass
service centre / station (党群服务中心 / 服务站) along the road network
(:mod:`gridgis.analysis.network`), up to the 5 / 10 / 15-minute distances of
the living-circle standard (:data:`WALK_MINUTES`: 300 / 500 / 1,000 m, GB
50180-2018). A place farther than ``snap_limit`` from every walkable road has
no network near it: its distances are straight lines, and every facility,
building and summary says which ``method`` it got (``"network"`` or
``"straight_line"``). Households covered are those of the buildings within the
distance of any facility; a cell is *not covered* when fewer than
``threshold`` (default 50 %) of its households are.

**Where would k new sites cover the most?** :func:`suggest_sites` solves the
maximal covering location problem (MCLP, Church & ReVelle 1974) over
candidate sites (the largest buildings, or road junctions, of the cells not
covered; or points you give) and the households not yet covered.
:func:`max_cover` always runs the greedy heuristic (within a factor
1 − 1/e ≈ 63 % of the optimum, Nemhauser et al. 1978), solves the LP
relaxation for an upper bound, and solves the integer programme exactly with
HiGHS (:func:`scipy.optimize.milp`) under a time limit when it is small
enough; the result says which solver gave the sites and how far from the
best bound they are.

The service area drawn for a facility (:data:`AREA_METHOD`) is the concave
hull of the road it reaches, widened by 50 m: buffering hundreds of reached
road segments per facility costs seconds per facility at 1,000 m, the hull
a fraction of a millisecond. Straight-line facilities get a circle.

Examples
--------
>>> with engine.connect() as conn:
...     data = read_placement_data(conn, street="350304001")
>>> cov = walking_coverage(
...     data.facilities, data.buildings, data.roads, cells=data.cells, distance=500.0
... )
>>> round(cov.summary["covered_share"], 2)
0.75
>>> plan = suggest_sites(
...     data.facilities, data.buildings, data.roads, cells=data.cells, k=3, distance=500.0
... )
>>> plan.solution.summary
'MILP (HiGHS) optimal: 176 households; greedy 176, within 0.0% of the optimum; ...'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import (  # type: ignore[import-untyped]
    Bounds,
    LinearConstraint,
    milp,
)
from scipy.sparse import (  # type: ignore[import-untyped]
    csr_array,
    identity,
)
from scipy.sparse import hstack as sparse_hstack
from sqlalchemy import Connection, text

from gridgis import crs as crs_mod
from gridgis.analysis import network as net_mod
from gridgis.codes import is_code
from gridgis.db.queries import read_geoframe
from gridgis.errors import CRSError, InputError, NotFoundError
from gridgis.geocode import smallest_cell

__all__ = [
    "AREA_METHOD",
    "CANDIDATE_KINDS",
    "DEFAULT_THRESHOLD",
    "FACILITY_KINDS",
    "WALK_MINUTES",
    "CoverSolution",
    "Coverage",
    "Placement",
    "PlacementData",
    "max_cover",
    "read_placement_data",
    "suggest_sites",
    "walking_coverage",
]

WALK_MINUTES: dict[int, float] = {5: 300.0, 10: 500.0, 15: 1000.0}
"""Walking minutes → metres of the 5 / 10 / 15-minute living circles (GB 50180-2018)."""

FACILITY_KINDS: tuple[str, ...] = ("branch", "centre", "station")
"""Party branch (党支部), service centre (党群服务中心), service station (服务站)."""

CANDIDATE_KINDS: tuple[str, ...] = ("buildings", "road_nodes")
"""Default candidate sites of :func:`suggest_sites`."""

DEFAULT_THRESHOLD = 0.5
"""A cell is covered when at least this share of its households is."""

AREA_BUFFER = 50.0
"""Metres the hull of the reached road is widened by (the walk from the road to a door)."""

AREA_RATIO = 0.2
"""``ratio`` of :func:`shapely.concave_hull` (0 most concave, 1 convex hull)."""

AREA_METHOD = (
    f"network: concave hull (ratio {AREA_RATIO}) of the road reached, widened by "
    f"{AREA_BUFFER:g} m; straight_line: circle"
)
"""How the service-area polygons are drawn (said in every summary)."""

DEFAULT_TIME_LIMIT = 10.0
"""Seconds HiGHS may spend on the exact MCLP."""

DEFAULT_MILP_LIMIT = 200_000
"""Largest MCLP (non-zeros of the reduced coverage matrix) solved exactly."""

DEFAULT_LP_LIMIT = 2_000_000
"""Largest MCLP whose LP relaxation is solved for the upper bound."""


# --- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementData:
    """What a placement analysis reads from the database (all EPSG:4326).

    Attributes
    ----------
    facilities:
        ``facility_id`` (``"branch:12"``, ``"station:3"``), ``kind`` (one of
        :data:`FACILITY_KINDS`), ``id``, ``name``, ``community_code``,
        ``street_code``, ``in_area`` (inside the street asked for), point geometry.
        Facilities up to ``margin`` outside the street are included: they serve it too.
    buildings:
        ``id``, ``address``, ``households``, point geometry (the building's location).
    cells:
        Active cells: ``id``, ``code``, ``name``, ``community_code``, geometry.
    roads:
        ``id``, ``name``, ``kind``, line geometry (barriers included; the network keeps
        the walkable kinds).
    street, street_name:
        The street read, or ``None`` for everything stored.
    """

    facilities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    street: str | None = None
    street_name: str | None = None


_FACILITIES_SQL = """
SELECT * FROM (
    SELECT 'branch:' || id AS facility_id, 'branch' AS kind, id, name, community_code,
           left(community_code, 9) AS street_code, location AS geom
    FROM party_branch
    UNION ALL
    SELECT kind || ':' || id, kind, id, name, community_code,
           COALESCE(street_code, left(community_code, 9)), location
    FROM service_facility
) f
WHERE kind = ANY(:kinds)
"""


def read_placement_data(
    connection: Connection,
    *,
    street: str | None = None,
    kinds: Sequence[str] = FACILITY_KINDS,
    margin: float = 1500.0,
) -> PlacementData:
    """Read facilities, buildings, cells and roads for a placement analysis.

    Parameters
    ----------
    connection:
        An open connection (read inside its transaction).
    street:
        A street office's 9-digit code: its buildings and cells, and the
        facilities and roads up to ``margin`` metres around them. ``None``
        reads everything stored.
    kinds:
        Facility kinds to read (:data:`FACILITY_KINDS`).
    margin:
        Metres around the street within which facilities and roads are read
        (a facility just outside serves the street's households too).

    Returns
    -------
    PlacementData

    Raises
    ------
    InputError
        For a malformed street code, an unknown kind or a negative margin.
    NotFoundError
        When the street is not stored.

    Examples
    --------
    >>> with engine.connect() as conn:
    ...     data = read_placement_data(conn, street="350304001")
    >>> len(data.facilities), len(data.buildings)
    (39, 484)
    """
    kinds = _check_kinds(kinds)
    if not (margin >= 0 and math.isfinite(margin)):
        raise InputError(f"`margin` was {margin!r} but is expected to be metres >= 0")
    street_name: str | None = None
    params: dict[str, Any] = {"kinds": list(kinds)}
    area = ""
    if street is not None:
        if not is_code(street, "street"):
            raise InputError(
                f"`street` was {street!r} but is expected to be a street office's 9-digit code "
                "(e.g. 350304001)"
            )
        street_name = connection.execute(
            text("SELECT name FROM street WHERE code = :code"), {"code": street}
        ).scalar()
        if street_name is None:
            raise NotFoundError(f"`street` was {street!r} but no street office has that code")
        params["prefix"] = street + "%"
        box = connection.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
                " SELECT ST_Extent(g) AS e FROM ("
                "  SELECT geom AS g FROM street WHERE code = :code"
                "  UNION ALL SELECT geom FROM grid_cell"
                "   WHERE valid_to IS NULL AND code LIKE :prefix"
                "  UNION ALL SELECT location FROM building WHERE community_code LIKE :prefix"
                " ) parts) extent"
            ),
            {"code": street, "prefix": params["prefix"]},
        ).one()
        if box[0] is None:  # a street with no outline, cell or building yet
            params.update(x0=0.0, y0=0.0, x1=-1.0, y1=-1.0)
        else:
            lat = math.radians((box[1] + box[3]) / 2)
            dy = margin / 111_320.0
            dx = dy / max(math.cos(lat), 0.01)
            params.update(x0=box[0] - dx, y0=box[1] - dy, x1=box[2] + dx, y1=box[3] + dy)
        area = " AND geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
    cell_filter = " AND code LIKE :prefix" if street else ""
    building_filter = " WHERE community_code LIKE :prefix" if street else ""
    facilities = _read(connection, _FACILITIES_SQL + area + " ORDER BY facility_id", params)
    prefix = street or ""
    facilities["in_area"] = facilities["street_code"].fillna("").str.startswith(prefix)
    buildings = _read(
        connection,
        "SELECT id, address, households, location AS geom FROM building"
        + building_filter
        + " ORDER BY id",
        params,
    )
    cells = _read(
        connection,
        "SELECT id, code, name, community_code, geom FROM grid_cell WHERE valid_to IS NULL"
        + cell_filter
        + " ORDER BY code",
        params,
    )
    roads = _read(
        connection,
        "SELECT id, name, kind, geom FROM road WHERE true" + area + " ORDER BY id",
        params,
    )
    return PlacementData(facilities, buildings, cells, roads, street, street_name)


def _read(connection: Connection, sql: str, params: dict[str, Any]) -> gpd.GeoDataFrame:
    return read_geoframe(connection, sql, params)


# --- coverage -----------------------------------------------------------------------------------


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
        raise InputError(f"`threshold` was {threshold!r} but is expected to be a share in (0, 1]")
    frames = {"facilities": facilities, "buildings": buildings, "roads": roads}
    if cells is not None:
        frames["cells"] = cells
        if code not in cells.columns:
            raise InputError(f"`cells` has no column {code!r} (the cell codes)")
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


# --- maximal covering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverSolution:
    """The answer of :func:`max_cover`, with the evidence of how good it is.

    Attributes
    ----------
    chosen:
        Candidate positions of the sites, in order of what each adds (sites
        that add nothing are left out, so there may be fewer than ``k``).
    gains:
        What each chosen site adds, in that order; they sum to ``objective``.
    objective:
        Demand weight (households) covered by the chosen sites.
    solver:
        ``"HiGHS MILP (scipy.optimize.milp)"`` or ``"greedy"``: which gave ``chosen``.
    optimal:
        Whether ``chosen`` is proved optimal.
    greedy_objective:
        What the greedy heuristic covers (always run).
    milp_objective, milp_status:
        The exact solver's objective (``None`` if not run) and ``"optimal"``,
        ``"time limit"``, or why it was not run.
    lp_bound:
        The LP relaxation's optimum: no choice of ``k`` sites covers more
        (``None`` when the problem was too large for it).
    bound:
        The best upper bound known: the proved optimum, else the least of the
        LP bound, HiGHS's dual bound and greedy / (1 − 1/e).
    gap, greedy_gap:
        ``(bound - objective) / bound`` for the chosen sites and for greedy (0 when
        the bound is 0).
    seconds:
        Time of each solver.
    summary:
        One sentence for people: which solver, how close to optimal.
    """

    chosen: NDArray[np.int64]
    gains: NDArray[np.float64]
    objective: float
    solver: str
    optimal: bool
    greedy_objective: float
    milp_objective: float | None
    milp_status: str
    lp_bound: float | None
    bound: float
    gap: float
    greedy_gap: float
    candidates: int
    demand_points: int
    seconds: dict[str, float]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (positions as lists)."""
        return {
            "chosen": [int(i) for i in self.chosen],
            "gains": [float(g) for g in self.gains],
            "objective": self.objective,
            "solver": self.solver,
            "optimal": self.optimal,
            "greedy_objective": self.greedy_objective,
            "milp_objective": self.milp_objective,
            "milp_status": self.milp_status,
            "lp_bound": self.lp_bound,
            "bound": self.bound,
            "gap": self.gap,
            "greedy_gap": self.greedy_gap,
            "candidates": self.candidates,
            "demand_points": self.demand_points,
            "seconds": dict(self.seconds),
            "summary": self.summary,
        }


MILP_SOLVER = "HiGHS MILP (scipy.optimize.milp)"
GREEDY_SOLVER = "greedy"
_GREEDY_FACTOR = 1.0 - 1.0 / math.e


def max_cover(
    coverage: ArrayLike | csr_array,
    weights: ArrayLike,
    k: int,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    milp_limit: int = DEFAULT_MILP_LIMIT,
    lp_limit: int = DEFAULT_LP_LIMIT,
) -> CoverSolution:
    """Choose ``k`` candidates that together cover the most demand weight (MCLP).

    The model: maximise ``sum(w_i * y_i)`` subject to ``y_i <= sum(x_j for j
    covering i)``, ``sum(x_j) <= k``, ``x`` binary, ``0 <= y <= 1``. Demand
    points covered by the same candidates are merged first (same optimum,
    fewer rows).

    Parameters
    ----------
    coverage:
        ``(n_candidates, n_demand)`` boolean matrix (dense or scipy sparse):
        candidate ``j`` covers demand point ``i``.
    weights:
        Demand weights (households), >= 0.
    k:
        Number of sites to choose (>= 1; more than the candidates means all of them).
    time_limit:
        Seconds for HiGHS on the integer programme (and again on the LP).
    milp_limit, lp_limit:
        The integer programme is solved when the reduced matrix has at most
        ``milp_limit`` non-zeros, its LP relaxation (the upper bound) when it
        has at most ``lp_limit``; greedy always runs.

    Returns
    -------
    CoverSolution

    Examples
    --------
    Greedy takes the big middle set and misses the better pair:

    >>> cover = [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]]
    >>> s = max_cover(cover, [2, 2, 2, 2, 3, 3], 2)
    >>> s.greedy_objective, s.objective, s.solver, s.optimal
    (11.0, 14.0, 'HiGHS MILP (scipy.optimize.milp)', True)
    >>> round(s.greedy_gap, 3)
    0.214
    """
    matrix = csr_array(coverage, dtype=bool).astype(np.float64)
    if matrix.ndim != 2:
        raise InputError("`coverage` must be a 2-D (candidates × demand) matrix")
    n, m = matrix.shape
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != m:
        raise InputError(f"`weights` has {w.shape[0]} values but `coverage` has {m} demand columns")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError("`weights` must be finite and >= 0 (households)")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"`k` was {k!r} but is expected to be an integer >= 1")
    if not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(f"`time_limit` was {time_limit!r} but is expected to be seconds > 0")
    k = min(int(k), n)
    seconds: dict[str, float] = {}

    t = perf_counter()
    greedy = _greedy(matrix, w, k)
    seconds["greedy"] = perf_counter() - t
    greedy_obj = _covered_weight(matrix, w, greedy)

    reduced, reduced_w = _merge_demand(matrix, w)
    size = int(reduced.nnz)
    lp_bound: float | None = None
    if n and k and reduced.shape[1] and size <= lp_limit:
        t = perf_counter()
        lp = _solve(reduced, reduced_w, k, integral=False, time_limit=time_limit)
        seconds["lp"] = perf_counter() - t
        if lp.status == 0 and lp.fun is not None:
            lp_bound = float(-lp.fun)
    milp_obj: float | None = None
    milp_sites: NDArray[np.int64] | None = None
    milp_dual: float | None = None
    if not n or not k or reduced.shape[1] == 0:
        status = "not needed: nothing to cover"
    elif size > milp_limit:
        status = f"not run: {size:,} non-zeros is more than the limit of {milp_limit:,}"
    else:
        t = perf_counter()
        res = _solve(reduced, reduced_w, k, integral=True, time_limit=time_limit)
        seconds["milp"] = perf_counter() - t
        if res.x is not None:
            milp_sites = np.flatnonzero(res.x[:n] > 0.5).astype(np.int64)
            milp_obj = _covered_weight(matrix, w, milp_sites)
        if res.status == 0:
            status = "optimal"
        elif res.status == 1:
            status = f"time limit ({time_limit:g} s)"
        else:
            status = f"failed: {res.message}"
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and math.isfinite(dual):
            milp_dual = float(-dual)

    optimal = status == "optimal" and milp_obj is not None
    bounds = [b for b in (lp_bound, milp_dual) if b is not None]
    if greedy_obj > 0:
        bounds.append(greedy_obj / _GREEDY_FACTOR)
    if optimal and milp_obj is not None:
        bound = milp_obj
    elif reduced.shape[1] == 0 or not n:
        bound = 0.0
    else:
        bound = min(bounds) if bounds else float(reduced_w.sum())
    use_milp = milp_obj is not None and milp_sites is not None and milp_obj >= greedy_obj
    sites = milp_sites if use_milp and milp_sites is not None else greedy
    objective = float(milp_obj) if use_milp and milp_obj is not None else greedy_obj
    bound = max(bound, objective)  # rounding in a solver's bound must not undercut a solution
    order, gains = _by_gain(matrix, w, sites)
    solution = CoverSolution(
        chosen=order,
        gains=gains,
        objective=objective,
        solver=MILP_SOLVER if use_milp else GREEDY_SOLVER,
        optimal=optimal and use_milp,
        greedy_objective=greedy_obj,
        milp_objective=milp_obj,
        milp_status=status,
        lp_bound=lp_bound,
        bound=bound,
        gap=_gap(objective, bound),
        greedy_gap=_gap(greedy_obj, bound),
        candidates=n,
        demand_points=m,
        seconds={key: round(value, 4) for key, value in seconds.items()},
        summary="",
    )
    return _with_summary(solution)


def _gap(value: float, bound: float) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - value) / bound)


def _with_summary(s: CoverSolution) -> CoverSolution:
    lp = "" if s.lp_bound is None else f"; LP bound {s.lp_bound:,.0f}"
    if s.optimal:
        text_ = (
            f"MILP (HiGHS) optimal: {s.objective:,.0f} households; greedy "
            f"{s.greedy_objective:,.0f}, within {s.greedy_gap:.1%} of the optimum{lp}"
        )
    elif s.milp_objective is not None:
        text_ = (
            f"{'MILP (HiGHS)' if s.solver == MILP_SOLVER else 'greedy'}: "
            f"{s.objective:,.0f} households, within {s.gap:.1%} of the best bound "
            f"{s.bound:,.0f}; MILP {s.milp_status}; greedy {s.greedy_objective:,.0f}{lp}"
        )
    else:
        which = "LP bound" if s.lp_bound is not None and s.bound == s.lp_bound else "bound"
        text_ = (
            f"greedy: {s.objective:,.0f} households, within {s.gap:.1%} of the {which} "
            f"{s.bound:,.0f}; MILP {s.milp_status}"
        )
    return _replace_summary(s, text_)


def _replace_summary(s: CoverSolution, summary: str) -> CoverSolution:
    return replace(s, summary=summary)


def _greedy(matrix: csr_array, w: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """Pick, k times, the candidate adding the most uncovered weight; stop when none adds."""
    remaining = w.copy()
    chosen: list[int] = []
    columns = matrix.tocsr()
    for _ in range(k):  # k sparse products: k is small (sites to build)
        gains = columns @ remaining
        if chosen:
            gains[chosen] = -1.0
        j = int(np.argmax(gains)) if gains.size else -1
        if j < 0 or gains[j] <= 0:
            break
        chosen.append(j)
        remaining[columns.indices[columns.indptr[j] : columns.indptr[j + 1]]] = 0.0
    return np.asarray(chosen, dtype=np.int64)


def _covered_weight(matrix: csr_array, w: NDArray[np.float64], sites: NDArray[np.int64]) -> float:
    if sites.size == 0:
        return 0.0
    hit = np.asarray(matrix[sites].sum(axis=0)).ravel() > 0
    return float(w[hit].sum())


def _by_gain(
    matrix: csr_array, w: NDArray[np.float64], sites: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Order ``sites`` by what each adds to those before it; drop those adding nothing."""
    if sites.size == 0:
        return sites, np.zeros(0, dtype=np.float64)
    sub = csr_array(matrix[sites])
    order = _greedy(sub, w, sites.size)
    remaining = w.copy()
    gains = []
    for j in order:  # at most k sites
        idx = sub.indices[sub.indptr[j] : sub.indptr[j + 1]]
        gains.append(float(remaining[idx].sum()))
        remaining[idx] = 0.0
    return sites[order], np.asarray(gains, dtype=np.float64)


def _merge_demand(
    matrix: csr_array, w: NDArray[np.float64]
) -> tuple[csr_array, NDArray[np.float64]]:
    """Drop demand no candidate covers (or of weight 0); merge demand with the same coverers.

    Columns are grouped by two random projections of their pattern: two different
    candidate sets get the same pair of keys with probability about 1e-30.
    """
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    keep = np.flatnonzero((counts > 0) & (w > 0))
    sub = csr_array(matrix[:, keep])
    if keep.size == 0:
        return csr_array((matrix.shape[0], 0)), np.zeros(0)
    rng = np.random.default_rng(0)
    keys = sub.T @ rng.random((matrix.shape[0], 2))
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    merged_w = np.bincount(group.ravel(), weights=w[keep]).astype(np.float64)
    return csr_array(sub[:, first]), merged_w


def _solve(
    matrix: csr_array, w: NDArray[np.float64], k: int, *, integral: bool, time_limit: float
) -> Any:
    """The MCLP (or its LP relaxation) for HiGHS."""
    n, m = matrix.shape
    c = np.concatenate([np.zeros(n), -w])
    link = sparse_hstack([-matrix.T, identity(m, format="csr")], format="csr")
    budget = np.concatenate([np.ones(n), np.zeros(m)])[None, :]
    integrality = np.concatenate([np.full(n, 1 if integral else 0), np.zeros(m, dtype=int)])
    return milp(
        c,
        constraints=[
            LinearConstraint(link, -np.inf, 0.0),
            LinearConstraint(budget, -np.inf, float(k)),
        ],
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit), "presolve": True},
    )


# --- suggesting sites ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where ``k`` new sites would cover the most uncovered households.

    Attributes
    ----------
    sites:
        The chosen candidates (their columns kept) with ``rank``,
        ``households_added`` (what each adds to those ranked before it) and
        ``cell_code``; input CRS.
    solution:
        The solver's answer and its quality (:class:`CoverSolution`).
    coverage:
        The coverage by the existing facilities the sites add to.
    k, distance:
        As asked.
    candidates:
        How many candidate sites were weighed.
    uncovered_households:
        Households not covered by the existing facilities.
    """

    sites: gpd.GeoDataFrame
    solution: CoverSolution
    coverage: Coverage = field(repr=False)
    k: int
    distance: float
    candidates: int
    uncovered_households: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (without the sites' geometry)."""
        s = self.solution
        share = s.objective / self.uncovered_households if self.uncovered_households else None
        return {
            "k": self.k,
            "distance_m": self.distance,
            "sites": len(self.sites),
            "candidates": self.candidates,
            "uncovered_households": self.uncovered_households,
            "households_added": s.objective,
            "share_of_uncovered_added": share,
            "solver": s.solver,
            "optimal": s.optimal,
            "objective": s.objective,
            "bound": s.bound,
            "gap": s.gap,
            "lp_bound": s.lp_bound,
            "greedy_objective": s.greedy_objective,
            "greedy_gap": s.greedy_gap,
            "milp_objective": s.milp_objective,
            "milp_status": s.milp_status,
            "seconds": dict(s.seconds),
            "summary": s.summary,
        }


def suggest_sites(
    facilities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    *,
    k: int,
    distance: float,
    cells: gpd.GeoDataFrame | None = None,
    candidates: Literal["buildings", "road_nodes"] | gpd.GeoDataFrame = "buildings",
    per_cell: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
    households: str = "households",
    code: str = "code",
    time_limit: float = DEFAULT_TIME_LIMIT,
    milp_limit: int = DEFAULT_MILP_LIMIT,
    snap_limit: float = net_mod.DEFAULT_SNAP_LIMIT,
    join_gaps: float = net_mod.DEFAULT_JOIN_GAPS,
    coverage: Coverage | None = None,
    crs: pyproj.CRS | str | None = None,
) -> Placement:
    """Choose ``k`` new sites that cover the most households not yet within ``distance``.

    Parameters
    ----------
    facilities, buildings, roads, cells, threshold, households, code, snap_limit,
    join_gaps, crs:
        As for :func:`walking_coverage`.
    k:
        Number of new sites (branches or stations) to place.
    distance:
        Walking metres a site covers (e.g. ``WALK_MINUTES[10]``).
    candidates:
        ``"buildings"``: in each cell not covered, its ``per_cell`` buildings
        with the most households; ``"road_nodes"``: in each cell not covered,
        the ``per_cell`` road junctions nearest the centre of its uncovered
        households; or a GeoDataFrame of candidate points (same CRS).
    per_cell:
        Candidates per cell not covered.
    time_limit, milp_limit:
        As for :func:`max_cover`.
    coverage:
        The coverage already computed with these inputs and ``distance``
        (saves computing it again).

    Returns
    -------
    Placement

    Raises
    ------
    InputError
        For a bad ``k``, ``per_cell`` or ``candidates``, or candidates taken
        from cells when no cells are given.

    Examples
    --------
    >>> with engine.connect() as conn:
    ...     data = read_placement_data(conn, street="350304001")
    >>> plan = suggest_sites(
    ...     data.facilities, data.buildings, data.roads, cells=data.cells, k=3, distance=500.0
    ... )
    >>> plan.to_dict()["solver"], plan.solution.optimal
    ('HiGHS MILP (scipy.optimize.milp)', True)
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"`k` was {k!r} but is expected to be an integer >= 1")
    if isinstance(per_cell, bool) or not isinstance(per_cell, int) or per_cell < 1:
        raise InputError(f"`per_cell` was {per_cell!r} but is expected to be an integer >= 1")
    given = isinstance(candidates, gpd.GeoDataFrame)
    if not given and candidates not in CANDIDATE_KINDS:
        raise InputError(
            f"`candidates` was {candidates!r} but is expected to be one of "
            f"{list(CANDIDATE_KINDS)} or a GeoDataFrame of points"
        )
    if not given and cells is None:
        raise InputError(
            f"`candidates` {candidates!r} are taken from the cells not covered: pass `cells`"
        )
    distance = _check_distance(distance)
    if coverage is None:
        coverage = walking_coverage(
            facilities,
            buildings,
            roads,
            distance=distance,
            cells=cells,
            threshold=threshold,
            households=households,
            code=code,
            snap_limit=snap_limit,
            join_gaps=join_gaps,
            areas=False,
            crs=crs,
        )
    elif coverage.summary["distance_m"] != distance:
        raise InputError(
            f"`coverage` was computed for {coverage.summary['distance_m']:g} m but `distance` "
            f"is {distance:g} m"
        )
    input_crs = _check_frames({"buildings": buildings, "facilities": facilities})
    network = coverage.network
    metric = network.crs
    weights = _households(buildings, households)
    demand = np.flatnonzero(~coverage.buildings["covered"].to_numpy() & (weights > 0))
    uncovered = float(weights[demand].sum())

    if given:
        assert isinstance(candidates, gpd.GeoDataFrame)
        _check_frames({"buildings": buildings, "candidates": candidates})
        cand = candidates.copy()
        if cells is not None:
            cand["cell_code"] = _cell_of(cand, cells, code)
        cand["candidate"] = "given"
    elif candidates == "buildings":
        cand = _building_candidates(coverage, code, weights, per_cell)
    else:
        cand = _node_candidates(coverage, cells, code, weights, per_cell, network)
    cand_pts = _points(cand, metric, "candidates") if len(cand) else np.zeros(0, dtype=object)
    dem_pts = _points(buildings.iloc[demand], metric, "buildings")
    n_cand = cand_pts.size
    attached = net_mod.attach(network, np.concatenate([cand_pts, dem_pts]), snap_limit=snap_limit)
    cand_on = attached.on_network[:n_cand]
    dem_on = attached.on_network[n_cand:]
    pairs = net_mod.reach(
        attached, np.arange(n_cand), n_cand + np.arange(dem_pts.size), limit=distance
    )
    assert isinstance(pairs, net_mod.Pairs)
    straight = _straight_pairs(cand_pts, dem_pts, cand_on, dem_on, distance)
    rows = np.concatenate([pairs.source, straight.source])
    cols = np.concatenate([pairs.target, straight.target])
    matrix = csr_array((np.ones(rows.size, dtype=bool), (rows, cols)), shape=(n_cand, dem_pts.size))
    solution = max_cover(matrix, weights[demand], k, time_limit=time_limit, milp_limit=milp_limit)
    sites = cand.iloc[solution.chosen].copy()
    sites["rank"] = np.arange(1, len(sites) + 1)
    sites["households_added"] = solution.gains
    sites["method"] = np.where(cand_on[solution.chosen], "network", "straight_line")
    if sites.crs is not None and not _same_crs(sites.crs, input_crs):
        sites = sites.to_crs(input_crs)
    return Placement(
        sites=sites,
        solution=solution,
        coverage=coverage,
        k=int(k),
        distance=distance,
        candidates=n_cand,
        uncovered_households=uncovered,
    )


def _building_candidates(
    coverage: Coverage, code: str, weights: NDArray[np.float64], per_cell: int
) -> gpd.GeoDataFrame:
    """The ``per_cell`` buildings with most households in each cell not covered."""
    cells = coverage.cells
    assert cells is not None
    bld = coverage.buildings
    open_cells = set(cells.loc[~cells["covered"], code].astype(str))
    code_col = bld["cell_code"]
    mask = code_col.isin(open_cells).to_numpy() & (weights > 0)
    picked = (
        pd.DataFrame({"pos": np.flatnonzero(mask), "cell": code_col.to_numpy()[mask]})
        .assign(hh=weights[mask])
        .sort_values(["cell", "hh", "pos"], ascending=[True, False, True])
        .groupby("cell", sort=True)
        .head(per_cell)
    )
    keep = [c for c in bld.columns if c not in ("method", "distance", "facility", "via", "covered")]
    cand = bld.iloc[picked["pos"].to_numpy()][keep].copy()
    cand["candidate"] = "building"
    return cand


def _node_candidates(
    coverage: Coverage,
    cells: gpd.GeoDataFrame | None,
    code: str,
    weights: NDArray[np.float64],
    per_cell: int,
    network: net_mod.RoadNetwork,
) -> gpd.GeoDataFrame:
    """The ``per_cell`` road junctions nearest each uncovered cell's household centre."""
    assert cells is not None and coverage.cells is not None
    crs = coverage.buildings.crs
    empty = gpd.GeoDataFrame({"cell_code": [], "candidate": []}, geometry=[], crs=crs)
    open_cells = coverage.cells[~coverage.cells["covered"]]
    if network.n_nodes == 0 or open_cells.empty:
        return empty
    degree = np.bincount(
        np.concatenate([network.edge_u, network.edge_v]), minlength=network.n_nodes
    )
    junction = np.flatnonzero(degree >= 3)
    if junction.size == 0:
        junction = np.arange(network.n_nodes)
    nodes = gpd.GeoSeries(shapely.points(network.node_xy[junction]), crs=network.crs).to_crs(crs)
    open_geoms = np.asarray(open_cells.geometry.array, dtype=object)
    ni, ci = shapely.STRtree(open_geoms).query(
        np.asarray(nodes.array, dtype=object), predicate="intersects"
    )
    if ni.size == 0:
        return empty
    # Centre of each open cell's uncovered households (its centroid when it has none).
    bld = coverage.buildings
    metric_bld = bld.geometry.to_crs(network.crs)
    xy = shapely.get_coordinates(np.asarray(metric_bld.array, dtype=object))
    open_codes = open_cells[code].to_numpy()
    pos = pd.Index(open_codes).get_indexer(bld["cell_code"].to_numpy())
    w = np.where((pos >= 0) & ~bld["covered"].to_numpy(), weights, 0.0)
    sel = pos >= 0
    sums = np.bincount(pos[sel], weights=w[sel], minlength=len(open_codes))
    cx = np.bincount(pos[sel], weights=(w * xy[:, 0])[sel], minlength=len(open_codes))
    cy = np.bincount(pos[sel], weights=(w * xy[:, 1])[sel], minlength=len(open_codes))
    centroid = shapely.get_coordinates(
        np.asarray(open_cells.geometry.to_crs(network.crs).centroid.array, dtype=object)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(sums > 0, cx / sums, centroid[:, 0])
        cy = np.where(sums > 0, cy / sums, centroid[:, 1])
    node_xy = network.node_xy[junction[ni]]
    gap = np.hypot(node_xy[:, 0] - cx[ci], node_xy[:, 1] - cy[ci])
    picked = (
        pd.DataFrame({"node": ni, "cell": ci, "gap": gap})
        .sort_values(["cell", "gap", "node"])
        .drop_duplicates("node")
        .groupby("cell", sort=True)
        .head(per_cell)
    )
    out = gpd.GeoDataFrame(
        {
            "node": junction[picked["node"].to_numpy()],
            "cell_code": open_codes[picked["cell"].to_numpy()],
            "candidate": "road_node",
        },
        geometry=np.asarray(nodes.array, dtype=object)[picked["node"].to_numpy()],
        crs=crs,
    )
    return out


# --- helpers ------------------------------------------------------------------------------------


def _check_distance(distance: float) -> float:
    try:
        value = float(distance)
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise InputError(
            f"`distance` was {distance!r} but is expected to be walking metres > 0 "
            f"(e.g. {WALK_MINUTES})"
        )
    return value


def _check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(kinds)
    bad = [k for k in chosen if k not in FACILITY_KINDS]
    if bad or not chosen:
        raise InputError(
            f"`kinds` was {list(chosen)!r} but is expected to be one or more of "
            f"{list(FACILITY_KINDS)}"
        )
    return chosen


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
            raise InputError(f"`{name}` must be a GeoDataFrame, not a {type(frame).__name__}")
        if frame.crs is None:
            raise CRSError(f"`{name}` has no CRS: set it first (e.g. {name}.set_crs('EPSG:4326'))")
        if ref_crs is None:
            ref_name, ref_crs = name, pyproj.CRS(frame.crs)
        elif not _same_crs(frame.crs, ref_crs):
            raise CRSError(
                f"`{name}` is in {pyproj.CRS(frame.crs).to_string()} but `{ref_name}` is in "
                f"{ref_crs.to_string()}: reproject one of them explicitly; gridgis never "
                "reprojects silently"
            )
    assert ref_crs is not None
    return ref_crs


def _households(buildings: gpd.GeoDataFrame, column: str) -> NDArray[np.float64]:
    if column not in buildings.columns:
        raise InputError(f"`buildings` has no column {column!r} (households per building)")
    values = pd.to_numeric(buildings[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        rows = ", ".join(str(r) for r in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise InputError(
            f"`buildings[{column!r}]` must be numbers >= 0, but rows {rows} are not "
            f"(e.g. {buildings[column].iloc[int(bad[0])]!r})"
        )
    return values


def _metric(
    facilities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, crs: pyproj.CRS | str | None
) -> pyproj.CRS:
    if crs is not None or pyproj.CRS(buildings.crs).is_projected:
        return net_mod.metric_crs_for(buildings, crs=crs, name="buildings")
    both = pd.concat([buildings.geometry, facilities.geometry.to_crs(buildings.crs)])
    return net_mod.metric_crs_for(gpd.GeoSeries(both, crs=buildings.crs), name="buildings")


def _points(frame: gpd.GeoDataFrame, metric: pyproj.CRS, name: str) -> NDArray[np.object_]:
    geoms = np.asarray(frame.geometry.to_crs(metric).array, dtype=object)
    bad = np.flatnonzero(
        shapely.is_missing(geoms)
        | shapely.is_empty(geoms)
        | (shapely.get_type_id(geoms) != shapely.GeometryType.POINT)
    )
    if bad.size:
        rows = ", ".join(str(frame.index[i]) for i in bad[:5]) + (" ..." if bad.size > 5 else "")
        raise InputError(f"`{name}` must be points, but rows {rows} are not (or are empty)")
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
