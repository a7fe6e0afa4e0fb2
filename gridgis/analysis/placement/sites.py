"""Suggesting sites: where ``k`` new facilities would cover the most uncovered households.

:func:`suggest_sites` takes the coverage of the existing facilities, picks
candidates (the largest buildings or the road junctions of the cells not
covered, or points given), measures what each would reach and lets
:func:`~gridgis.analysis.placement.mclp.max_cover` choose; the answer is a
:class:`Placement`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_array  # type: ignore[import-untyped]

from gridgis.analysis import network as net_mod
from gridgis.analysis.placement._shared import (
    DEFAULT_THRESHOLD,
    _cell_of,
    _check_distance,
    _check_frames,
    _households,
    _points,
    _same_crs,
    _straight_pairs,
)
from gridgis.analysis.placement.coverage import Coverage, walking_coverage
from gridgis.analysis.placement.mclp import (
    DEFAULT_MILP_LIMIT,
    DEFAULT_TIME_LIMIT,
    CoverSolution,
    max_cover,
)
from gridgis.errors import InputError

CANDIDATE_KINDS: tuple[str, ...] = ("buildings", "road_nodes")
"""Default candidate sites of :func:`suggest_sites`."""


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
    >>> from gridgis.analysis.placement import read_placement_data
    >>> with engine.connect() as conn:
    ...     data = read_placement_data(conn, street="350304001")
    >>> plan = suggest_sites(
    ...     data.facilities, data.buildings, data.roads, cells=data.cells, k=3, distance=500.0
    ... )
    >>> plan.to_dict()["solver"], plan.solution.optimal
    ('HiGHS MILP (scipy.optimize.milp)', True)
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(
            f"`k` was {k!r} but is expected to be an integer >= 1",
            zh=f"`k` 为 {k!r}，应为不小于 1 的整数",
        )
    if isinstance(per_cell, bool) or not isinstance(per_cell, int) or per_cell < 1:
        raise InputError(
            f"`per_cell` was {per_cell!r} but is expected to be an integer >= 1",
            zh=f"`per_cell` 为 {per_cell!r}，应为不小于 1 的整数",
        )
    given = isinstance(candidates, gpd.GeoDataFrame)
    if not given and candidates not in CANDIDATE_KINDS:
        raise InputError(
            f"`candidates` was {candidates!r} but is expected to be one of "
            f"{list(CANDIDATE_KINDS)} or a GeoDataFrame of points",
            zh=f"`candidates` 为 {candidates!r}，应为 {list(CANDIDATE_KINDS)} 之一，或由点组成的 "
            "GeoDataFrame",
        )
    if not given and cells is None:
        raise InputError(
            f"`candidates` {candidates!r} are taken from the cells not covered: pass `cells`",
            zh=f"`candidates` 为 {candidates!r} 时从未覆盖的网格中选取：请传入 `cells`",
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
            f"is {distance:g} m",
            zh=f"`coverage` 是按 {coverage.summary['distance_m']:g} 米计算的，而 `distance` 为 "
            f"{distance:g} 米",
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
