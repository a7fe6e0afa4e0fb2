"""Walking distances along a road network: noded lines, snapped places, Dijkstra.

How a walking distance is measured here:

1. **The network.** :func:`road_network` keeps the walkable lines of a ``road``
   frame (kinds :data:`WALKABLE_KINDS`; railways, rivers and walls are barriers
   and are left out), projects them to a metric CRS, nodes them with
   :func:`shapely.node` (every crossing becomes a shared vertex) and cuts them
   into straight segments between consecutive vertices. Dead ends that stop
   short of another road (drawn a few metres apart, or ending on a community
   edge) are joined to the nearest other line within ``join_gaps`` metres by a
   straight connector of that length: the walker crosses the gap.
2. **The places.** :func:`attach` snaps each place (a facility, a building, a
   candidate site) to the nearest point of the nearest segment, cuts that
   segment there, and hangs the place on the cut by a connector as long as
   the snap distance, so every distance counts the walk to and from the road.
   A place farther than ``snap_limit`` from every road is not attached: it has
   no network near it and callers measure it in a straight line.
3. **The walk.** The segments form a sparse, undirected graph weighted by
   metric length; :func:`nearest_sources` runs one multi-source Dijkstra
   (:func:`scipy.sparse.csgraph.dijkstra` with ``min_only=True`` and
   ``limit=``) and :func:`reach` runs the per-source searches in batches,
   both stopping at the walking limit, so a search touches only the streets
   within reach.

Places are leaves of the graph, so no path walks through a building or a
facility. Everything here works in metres, in the network's CRS.

Examples
--------
>>> import geopandas as gpd, shapely
>>> roads = gpd.GeoDataFrame(
...     {"kind": ["local"]},
...     geometry=[shapely.LineString([(0, 0), (1000, 0)])],
...     crs="EPSG:4547",
... )
>>> net = road_network(roads)
>>> placed = attach(net, shapely.points([(0, 10), (400, 20)]), snap_limit=150.0)
>>> pairs = reach(placed, [0], [1], limit=500.0)
>>> round(float(pairs.distance[0]), 3)  # 10 m to the road, 400 m along it, 20 m off it
430.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_array  # type: ignore[import-untyped]
from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
    connected_components,
    dijkstra,
)

from gridgis import crs as crs_mod
from gridgis.errors import CRSError, InputError

__all__ = [
    "DEFAULT_JOIN_GAPS",
    "DEFAULT_SNAP_LIMIT",
    "NOT_WALKABLE_KINDS",
    "WALKABLE_KINDS",
    "AttachedNetwork",
    "Pairs",
    "RoadNetwork",
    "attach",
    "nearest_sources",
    "reach",
    "road_network",
]

WALKABLE_KINDS: tuple[str, ...] = ("arterial", "secondary", "local", "path")
"""Kinds of ``road`` line people walk along."""

NOT_WALKABLE_KINDS: tuple[str, ...] = ("railway", "river", "wall", "other")
"""Kinds of ``road`` line that are barriers, not ways: never part of the walking network."""

DEFAULT_JOIN_GAPS = 30.0
"""Metres: a dead end this close to another line is joined to it."""

DEFAULT_SNAP_LIMIT = 150.0
"""Metres: a place farther than this from every walkable line has no network near it."""

_MIN_EDGE = 1e-6
"""Metres: the least edge weight, so that csgraph never takes a zero-length edge for no edge."""

_NODE_DECIMALS = 3
"""Vertices equal to the millimetre are one node."""

_BATCH_ENTRIES = 4_000_000
"""Sources × nodes of one batch of :func:`reach` (32 MB of distances)."""


@dataclass(frozen=True)
class RoadNetwork:
    """Walkable lines cut into straight segments between nodes, in metres.

    Attributes
    ----------
    crs:
        The metric CRS of the coordinates.
    node_xy:
        ``(n_nodes, 2)`` node coordinates.
    edge_u, edge_v:
        The two nodes of each segment.
    joins:
        How many dead ends were joined to a nearby line (their connectors are
        segments too).

    Examples
    --------
    >>> from sqlalchemy import func, select
    >>> from gridgis.db.models import Road
    >>> from gridgis.db.queries import read_geoframe
    >>> with engine.connect() as conn:
    ...     roads = read_geoframe(conn, select(Road.kind, func.ST_AsEWKB(Road.geom).label("geom")))
    >>> net = road_network(roads)
    >>> net.n_nodes, net.n_edges, round(net.length)
    (9150, 12042, 1191644)
    """

    crs: pyproj.CRS
    node_xy: NDArray[np.float64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    joins: int = 0

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of straight segments."""
        return int(self.edge_u.shape[0])

    @property
    def edge_length(self) -> NDArray[np.float64]:
        """Length of each segment in metres."""
        d = self.node_xy[self.edge_v] - self.node_xy[self.edge_u]
        return np.hypot(d[:, 0], d[:, 1])

    @property
    def length(self) -> float:
        """Total length of the network in metres."""
        return float(self.edge_length.sum())

    def components(self) -> tuple[int, NDArray[np.int32]]:
        """Number of connected components and the component of each node."""
        graph = _graph(self.n_nodes, self.edge_u, self.edge_v, self.edge_length)
        n, labels = connected_components(graph, directed=False)
        return int(n), labels


@dataclass(frozen=True)
class AttachedNetwork:
    """A :class:`RoadNetwork` with places hung on it, ready for shortest paths.

    Attributes
    ----------
    network:
        The network the places were attached to.
    graph:
        Sparse ``(n_nodes, n_nodes)`` graph: road segments cut at the snap
        points, and one connector per attached place; symmetric (each edge is
        stored in both directions).
    node_xy:
        Coordinates of every node: the network's, then the snap points, then
        the attached places.
    edge_u, edge_v, edge_length:
        The road segments (after cutting; connectors to places left out), for
        drawing what a search reached.
    place_node:
        The node of each place, ``-1`` when it was not attached.
    snap_distance:
        Metres from each place to the nearest walkable line (``inf`` when
        there is none at all).
    component:
        Connected component of each node.
    """

    network: RoadNetwork
    graph: csr_array
    node_xy: NDArray[np.float64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    edge_length: NDArray[np.float64]
    place_node: NDArray[np.int64]
    snap_distance: NDArray[np.float64]
    component: NDArray[np.int32] = field(repr=False)

    @property
    def on_network(self) -> NDArray[np.bool_]:
        """Which places are attached to the network."""
        return self.place_node >= 0


@dataclass(frozen=True)
class Pairs:
    """Source–target pairs within a walking limit (one row per pair).

    Attributes
    ----------
    source, target:
        Positions in the ``sources`` and ``targets`` given to :func:`reach`.
    distance:
        Walking distance in metres, snap distances included.
    """

    source: NDArray[np.int64]
    target: NDArray[np.int64]
    distance: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.source.shape[0])


def road_network(
    roads: gpd.GeoDataFrame,
    *,
    kinds: Sequence[str] = WALKABLE_KINDS,
    join_gaps: float = DEFAULT_JOIN_GAPS,
    crs: pyproj.CRS | str | None = None,
) -> RoadNetwork:
    """Build the walking network of ``roads``.

    Parameters
    ----------
    roads:
        Lines (LineString or MultiLineString) with a CRS; a ``kind`` column,
        when present, keeps only the rows whose kind is in ``kinds``.
    kinds:
        The kinds people walk along (default :data:`WALKABLE_KINDS`).
    join_gaps:
        Metres: a dead end within this distance of another line is joined to
        it by a straight connector (0 joins nothing).
    crs:
        Metric CRS to work in; default the roads' own CRS when projected,
        else the one :func:`gridgis.crs.metric_crs` chooses.

    Returns
    -------
    RoadNetwork
        Possibly empty (no walkable line).

    Raises
    ------
    CRSError
        When ``roads`` has no CRS, or ``crs`` is not projected.
    InputError
        When ``join_gaps`` is negative or a geometry is not a line.

    Examples
    --------
    >>> from sqlalchemy import func, select
    >>> from gridgis.db.models import Road
    >>> from gridgis.db.queries import read_geoframe
    >>> with engine.connect() as conn:
    ...     roads = read_geoframe(conn, select(Road.kind, func.ST_AsEWKB(Road.geom).label("geom")))
    >>> road_network(roads).joins
    1058
    """
    if not isinstance(roads, gpd.GeoDataFrame):
        raise InputError(
            f"`roads` must be a GeoDataFrame, not a {type(roads).__name__}",
            zh=f"`roads` 应为 GeoDataFrame，而不是 {type(roads).__name__}",
        )
    if join_gaps < 0 or not np.isfinite(join_gaps):
        raise InputError(
            f"`join_gaps` was {join_gaps!r} but is expected to be metres >= 0",
            zh=f"`join_gaps` 为 {join_gaps!r}，应为不小于 0 的米数",
        )
    metric = metric_crs_for(roads, crs=crs, name="roads")
    walkable = roads
    if "kind" in roads.columns:
        walkable = roads[roads["kind"].isin(list(kinds))]
    geoms = np.asarray(walkable.geometry.to_crs(metric).array, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    types = shapely.get_type_id(geoms)
    not_lines = ~np.isin(types, [1, 5])  # LineString, MultiLineString
    if not_lines.any():
        bad = shapely.get_type_id(geoms[not_lines][0])
        raise InputError(
            f"`roads` must hold lines, but {int(not_lines.sum())} geometries are not "
            f"(e.g. one of type id {bad}: 1 is LineString, 5 is MultiLineString)",
            zh=f"`roads` 应为线，但有 {int(not_lines.sum())} 个图形不是（例如类型编号为 {bad} 的一"
            "个：1 为线，5 为多线）",
        )
    lines = shapely.get_parts(geoms)
    if lines.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return RoadNetwork(metric, np.zeros((0, 2)), empty, empty.copy())
    parts = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    coords, part_of = shapely.get_coordinates(parts, return_index=True)
    first = np.flatnonzero(part_of[1:] == part_of[:-1])
    node_xy, node_of = np.unique(np.round(coords, _NODE_DECIMALS), axis=0, return_inverse=True)
    node_of = node_of.ravel()
    edge_u, edge_v = node_of[first], node_of[first + 1]
    edge_part = part_of[first]
    keep = edge_u != edge_v
    edge_u, edge_v, edge_part = edge_u[keep], edge_v[keep], edge_part[keep]
    joins = 0
    if join_gaps > 0:
        node_xy, edge_u, edge_v, joins = _join_gaps(node_xy, edge_u, edge_v, edge_part, join_gaps)
    return RoadNetwork(
        metric,
        node_xy.astype(np.float64),
        edge_u.astype(np.int64),
        edge_v.astype(np.int64),
        joins,
    )


def metric_crs_for(
    frame: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    crs: pyproj.CRS | str | None = None,
    name: str = "frame",
) -> pyproj.CRS:
    """The metric CRS to measure ``frame`` in: ``crs``, else its own if projected, else chosen.

    Examples
    --------
    >>> from sqlalchemy import func, select
    >>> from gridgis.db.models import Building
    >>> from gridgis.db.queries import read_geoframe
    >>> with engine.connect() as conn:
    ...     location = func.ST_AsEWKB(Building.location).label("location")
    ...     buildings = read_geoframe(conn, select(location), geom_col="location")
    >>> metric_crs_for(buildings).name
    'CGCS2000 / 3-degree Gauss-Kruger CM 120E'
    """
    if frame.crs is None:
        raise CRSError(
            f"`{name}` has no CRS: set it first (e.g. {name}.set_crs('EPSG:4326'))",
            zh=f"`{name}` 没有坐标系：请先设置（例如 {name}.set_crs('EPSG:4326')）",
        )
    if crs is not None:
        chosen = pyproj.CRS(crs)
        if not chosen.is_projected:
            raise CRSError(
                f"`crs` was {chosen.to_string()!r} but is expected to be a projected CRS in "
                "metres (e.g. EPSG:4547)",
                zh=f"`crs` 为 {chosen.to_string()!r}，应为以米为单位的投影坐标系（例如 EPSG:4547）",
            )
        return chosen
    own = pyproj.CRS(frame.crs)
    if own.is_projected:
        return own
    if len(frame) == 0:
        raise InputError(
            f"`{name}` is empty and in degrees: pass `crs` to say where to measure",
            zh=f"`{name}` 为空且以度为单位：请用 `crs` 指定在哪个坐标系中量算距离",
        )
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    return crs_mod.metric_crs(geoms)


def attach(
    network: RoadNetwork,
    points: ArrayLike,
    *,
    snap_limit: float = DEFAULT_SNAP_LIMIT,
) -> AttachedNetwork:
    """Hang ``points`` on the network at their nearest road point.

    Parameters
    ----------
    network:
        From :func:`road_network`.
    points:
        Shapely points in the network's CRS (metres).
    snap_limit:
        A point farther than this from every segment is not attached
        (``place_node`` ``-1``): there is no network near it.

    Returns
    -------
    AttachedNetwork

    Examples
    --------
    >>> import shapely
    >>> line = shapely.LineString([(0, 0), (1000, 0)])
    >>> net = road_network(gpd.GeoDataFrame({"kind": ["local"]}, geometry=[line], crs="EPSG:4547"))
    >>> placed = attach(net, shapely.points([(0, 10), (400, 20), (500, 900)]), snap_limit=150.0)
    >>> placed.on_network.tolist()  # the third point is 900 m from the road
    [True, True, False]
    """
    if not (snap_limit >= 0 and np.isfinite(snap_limit)):
        raise InputError(
            f"`snap_limit` was {snap_limit!r} but is expected to be metres >= 0",
            zh=f"`snap_limit` 为 {snap_limit!r}，应为不小于 0 的米数",
        )
    pts = np.asarray(points, dtype=object).ravel()
    n_places = pts.shape[0]
    snap = np.full(n_places, np.inf)
    place_node = np.full(n_places, -1, dtype=np.int64)
    node_xy, edge_u, edge_v = network.node_xy, network.edge_u, network.edge_v
    conn_u = conn_v = np.zeros(0, dtype=np.int64)
    conn_len = np.zeros(0)
    valid = ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if n_places else np.zeros(0, bool)
    if network.n_edges and valid.any():
        segments = _segments(node_xy, edge_u, edge_v)
        tree = shapely.STRtree(segments)
        which = np.flatnonzero(valid)
        (qi, qs), dist = tree.query_nearest(pts[which], return_distance=True, all_matches=False)
        place = which[qi]
        snap[place] = dist
        near = dist <= snap_limit
        place, seg = place[near], qs[near]
        if place.size:
            t = shapely.line_locate_point(segments[seg], pts[place], normalized=True)
            t = np.nan_to_num(t, nan=0.0)
            node_xy, edge_u, edge_v, stop = _split(node_xy, edge_u, edge_v, seg, t)
            place_xy = shapely.get_coordinates(pts[place])
            place_node[place] = node_xy.shape[0] + np.arange(place.size)
            node_xy = np.vstack([node_xy, place_xy])
            conn_u, conn_v = stop, place_node[place]
            conn_len = snap[place]
    road_len = _lengths(node_xy, edge_u, edge_v)
    graph = _graph(
        node_xy.shape[0],
        np.concatenate([edge_u, conn_u]),
        np.concatenate([edge_v, conn_v]),
        np.concatenate([road_len, conn_len]),
    )
    _, component = connected_components(graph, directed=False)
    return AttachedNetwork(
        network=network,
        graph=graph,
        node_xy=node_xy,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length=road_len,
        place_node=place_node,
        snap_distance=snap,
        component=component,
    )


def nearest_sources(
    attached: AttachedNetwork,
    sources: ArrayLike,
    *,
    limit: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Walking distance from every node to its nearest source, up to ``limit``.

    One multi-source Dijkstra (``min_only=True``) from the attached sources.

    Parameters
    ----------
    attached:
        From :func:`attach`.
    sources:
        Place positions (into the points given to :func:`attach`); those not
        attached are ignored.
    limit:
        Metres; farther nodes get ``inf``.

    Returns
    -------
    distance, source
        Per node: metres to the nearest source (``inf`` beyond ``limit``) and
        that source's place position (``-1`` when none).

    Examples
    --------
    >>> import shapely
    >>> line = shapely.LineString([(0, 0), (1000, 0)])
    >>> net = road_network(gpd.GeoDataFrame({"kind": ["local"]}, geometry=[line], crs="EPSG:4547"))
    >>> placed = attach(net, shapely.points([(0, 10), (400, 20)]), snap_limit=150.0)
    >>> dist, src = nearest_sources(placed, [0], limit=500.0)
    >>> float(dist[placed.place_node[1]])
    430.0
    """
    limit = _check_limit(limit)
    src = np.asarray(sources, dtype=np.int64).ravel()
    n_nodes = attached.node_xy.shape[0]
    nodes = attached.place_node[src]
    keep = nodes >= 0
    src, nodes = src[keep], nodes[keep]
    if nodes.size == 0:
        return np.full(n_nodes, np.inf), np.full(n_nodes, -1, dtype=np.int64)
    dist, _, origin = dijkstra(
        attached.graph,
        directed=True,
        indices=nodes,
        limit=limit,
        min_only=True,
        return_predecessors=True,
    )
    place_of_node = np.full(n_nodes, -1, dtype=np.int64)
    place_of_node[nodes] = src
    owner = np.where(origin >= 0, place_of_node[np.maximum(origin, 0)], -1)
    return np.asarray(dist, dtype=np.float64), owner


def reach(
    attached: AttachedNetwork,
    sources: ArrayLike,
    targets: ArrayLike,
    *,
    limit: float,
    extent: bool = False,
) -> Pairs | tuple[Pairs, NDArray[np.object_]]:
    """Every source–target pair within ``limit`` metres of walking.

    One Dijkstra per attached source, run in batches with ``limit=``; sources
    or targets not attached form no pair here (measure them in a straight line).

    Parameters
    ----------
    attached:
        From :func:`attach`.
    sources, targets:
        Place positions (into the points given to :func:`attach`).
    limit:
        Metres.
    extent:
        Also return, per source, the extent of the road it reaches as a
        MultiPoint: the network nodes within ``limit`` and the points where
        ``limit`` falls inside a segment (``None`` for a source not attached,
        or one that reaches no road). Its hull outlines the service area.

    Returns
    -------
    Pairs, or (Pairs, NDArray of MultiPoint) when ``extent``

    Examples
    --------
    >>> import shapely
    >>> line = shapely.LineString([(0, 0), (1000, 0)])
    >>> net = road_network(gpd.GeoDataFrame({"kind": ["local"]}, geometry=[line], crs="EPSG:4547"))
    >>> placed = attach(net, shapely.points([(0, 10), (400, 20)]), snap_limit=150.0)
    >>> pairs = reach(placed, [0], [1], limit=500.0)
    >>> pairs.distance
    array([430.])
    """
    limit = _check_limit(limit)
    src = np.asarray(sources, dtype=np.int64).ravel()
    tgt = np.asarray(targets, dtype=np.int64).ravel()
    src_nodes = attached.place_node[src]
    tgt_nodes = attached.place_node[tgt]
    active = np.flatnonzero(src_nodes >= 0)
    tgt_on = np.flatnonzero(tgt_nodes >= 0)
    n_nodes = attached.node_xy.shape[0]
    batch = max(1, _BATCH_ENTRIES // max(n_nodes, 1))
    out_s: list[NDArray[np.int64]] = []
    out_t: list[NDArray[np.int64]] = []
    out_d: list[NDArray[np.float64]] = []
    reached = np.full(src.shape[0], None, dtype=object)
    incidence = _incidence(attached) if extent else None
    for start in range(0, active.size, batch):  # batches bound the memory of the dense rows
        rows = active[start : start + batch]
        dist = dijkstra(attached.graph, directed=True, indices=src_nodes[rows], limit=limit)
        dist = np.atleast_2d(dist)
        at_targets = dist[:, tgt_nodes[tgt_on]]
        r, c = np.nonzero(np.isfinite(at_targets))
        out_s.append(rows[r])
        out_t.append(tgt_on[c])
        out_d.append(at_targets[r, c])
        if incidence is not None:
            reached[rows] = _reached_extent(attached, dist, limit, incidence)
    pairs = Pairs(
        np.concatenate(out_s) if out_s else np.zeros(0, dtype=np.int64),
        np.concatenate(out_t) if out_t else np.zeros(0, dtype=np.int64),
        np.concatenate(out_d) if out_d else np.zeros(0),
    )
    if extent:
        return pairs, reached
    return pairs


# --- helpers ------------------------------------------------------------------------------------


def _check_limit(limit: float) -> float:
    value = float(limit)
    if not (value > 0 and np.isfinite(value)):
        raise InputError(
            f"`limit` was {limit!r} but is expected to be metres > 0",
            zh=f"`limit` 为 {limit!r}，应为大于 0 的米数",
        )
    return value


def _lengths(
    node_xy: NDArray[np.float64], u: NDArray[np.int64], v: NDArray[np.int64]
) -> NDArray[np.float64]:
    d = node_xy[v] - node_xy[u]
    return np.hypot(d[:, 0], d[:, 1])


def _segments(
    node_xy: NDArray[np.float64], u: NDArray[np.int64], v: NDArray[np.int64]
) -> NDArray[np.object_]:
    return np.asarray(shapely.linestrings(np.stack([node_xy[u], node_xy[v]], axis=1)))


def _graph(
    n_nodes: int,
    u: NDArray[np.int64],
    v: NDArray[np.int64],
    weight: NDArray[np.float64],
) -> csr_array:
    """Symmetric sparse graph, each pair with its least weight (duplicates not summed)."""
    a, b = np.minimum(u, v), np.maximum(u, v)
    w = np.maximum(weight, _MIN_EDGE)
    keep = a != b
    a, b, w = a[keep], b[keep], w[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(a.shape[0], dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    # Both directions stored: csgraph's directed=False would symmetrise a copy on every call.
    rows, cols = np.concatenate([a, b]), np.concatenate([b, a])
    return csr_array((np.concatenate([w, w]), (rows, cols)), shape=(n_nodes, n_nodes))


def _split(
    node_xy: NDArray[np.float64],
    edge_u: NDArray[np.int64],
    edge_v: NDArray[np.int64],
    on_edge: NDArray[np.int64],
    t: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Cut segments at fractions ``t`` along them; return nodes, edges and the new stop nodes."""
    n_nodes, n_edges = node_xy.shape[0], edge_u.shape[0]
    a, b = node_xy[edge_u[on_edge]], node_xy[edge_v[on_edge]]
    stop_xy = a + t[:, None] * (b - a)
    stop = n_nodes + np.arange(on_edge.shape[0], dtype=np.int64)
    edges = np.arange(n_edges, dtype=np.int64)
    seg = np.concatenate([edges, edges, on_edge])
    frac = np.concatenate([np.zeros(n_edges), np.ones(n_edges), t])
    node = np.concatenate([edge_u, edge_v, stop])
    order = np.lexsort((frac, seg))
    seg, node = seg[order], node[order]
    same = seg[1:] == seg[:-1]
    return np.vstack([node_xy, stop_xy]), node[:-1][same], node[1:][same], stop


def _join_gaps(
    node_xy: NDArray[np.float64],
    edge_u: NDArray[np.int64],
    edge_v: NDArray[np.int64],
    edge_part: NDArray[np.int64],
    tolerance: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], int]:
    """Join each dead end to the nearest segment of another line within ``tolerance``."""
    degree = np.bincount(np.concatenate([edge_u, edge_v]), minlength=node_xy.shape[0])
    ends = np.flatnonzero(degree == 1)
    if ends.size == 0:
        return node_xy, edge_u, edge_v, 0
    end_part = np.full(node_xy.shape[0], -1, dtype=np.int64)
    end_part[edge_u] = edge_part
    end_part[edge_v] = edge_part
    segments = _segments(node_xy, edge_u, edge_v)
    end_points = np.asarray(shapely.points(node_xy[ends]), dtype=object)
    qi, qs = shapely.STRtree(segments).query(end_points, predicate="dwithin", distance=tolerance)
    other = edge_part[qs] != end_part[ends[qi]]
    qi, qs = qi[other], qs[other]
    if qi.size == 0:
        return node_xy, edge_u, edge_v, 0
    gap = shapely.distance(end_points[qi], segments[qs])
    best = pd.DataFrame({"end": qi, "seg": qs, "gap": gap}).sort_values(["gap", "seg"])
    best = best.drop_duplicates("end")
    seg = best["seg"].to_numpy()
    end = ends[best["end"].to_numpy()]
    t = np.asarray(
        shapely.line_locate_point(
            segments[seg], end_points[best["end"].to_numpy()], normalized=True
        ),
        dtype=np.float64,
    )
    node_xy, edge_u, edge_v, stop = _split(node_xy, edge_u, edge_v, seg, np.nan_to_num(t))
    return (
        node_xy,
        np.concatenate([edge_u, end]),
        np.concatenate([edge_v, stop]),
        int(end.size),
    )


@dataclass(frozen=True)
class _Incidence:
    """The road segments at each node: ``other[indptr[n]:indptr[n + 1]]`` are its neighbours."""

    indptr: NDArray[np.int64]
    other: NDArray[np.int64]
    length: NDArray[np.float64]
    longest: NDArray[np.float64]


def _incidence(attached: AttachedNetwork) -> _Incidence:
    n_nodes = attached.node_xy.shape[0]
    u, v, length = attached.edge_u, attached.edge_v, attached.edge_length
    frm = np.concatenate([u, v])
    to = np.concatenate([v, u])
    both = np.concatenate([length, length])
    order = np.argsort(frm, kind="stable")
    indptr = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(frm, minlength=n_nodes), out=indptr[1:])
    longest = np.zeros(n_nodes)
    np.maximum.at(longest, frm, both)
    return _Incidence(indptr, to[order], both[order], longest)


def _reached_extent(
    attached: AttachedNetwork, dist: NDArray[np.float64], limit: float, inc: _Incidence
) -> NDArray[np.object_]:
    """Per row of ``dist`` (node distances of one source), the extent of the road reached.

    The network's own nodes within ``limit`` (the snap points of places lie on
    segments between them and add nothing to the outline), and, on each
    segment the walk enters but cannot finish, the point where it stops.
    """
    n_base = attached.network.n_nodes
    r, node = np.nonzero(np.isfinite(dist))
    d = dist[r, node]
    base = node < n_base
    # Nodes from which some segment cannot be walked to its end: expand them to those segments.
    edge_end = d + inc.longest[node] > limit
    fr, fn, fd = r[edge_end], node[edge_end], d[edge_end]
    count = inc.indptr[fn + 1] - inc.indptr[fn]
    slot = np.repeat(inc.indptr[fn] - np.cumsum(count) + count, count) + np.arange(count.sum())
    fr, fn, fd = np.repeat(fr, count), np.repeat(fn, count), np.repeat(fd, count)
    seg_len, other = inc.length[slot], inc.other[slot]
    stops = fd + seg_len > limit
    fr, fn, fd, seg_len, other = fr[stops], fn[stops], fd[stops], seg_len[stops], other[stops]
    t = np.clip((limit - fd) / np.maximum(seg_len, 1e-12), 0.0, 1.0)
    p, q = attached.node_xy[fn], attached.node_xy[other]
    rows = np.concatenate([r[base], fr])
    xy = np.vstack([attached.node_xy[node[base]], p + t[:, None] * (q - p)])
    out = np.full(dist.shape[0], None, dtype=object)
    if rows.size:
        order = np.argsort(rows, kind="stable")
        shapely.multipoints(xy[order], indices=rows[order], out=out)
    return out
