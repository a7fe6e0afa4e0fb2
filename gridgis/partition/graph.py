"""The adjacency graph of the tiles of a community (:func:`build_graph`).

Two tiles are neighbours when they share a boundary of positive length
(touching at a corner does not count: cells must be contiguous along an edge).
Each edge carries the shared length and whether it crosses a road (its two
tiles lie in different blocks). Each node carries its area and its
*exterior* length (boundary not shared with another tile: the community's
outline). In a clean coverage the shared lengths come from matching the
tiles' segments by sorting (:func:`coverage_edges`), without any overlay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridgis.partition._arrays import BoolArray, FloatArray, GeomArray, IntArray

__all__ = ["Graph", "adjacency_pairs", "build_graph", "coverage_edges"]


@dataclass
class Graph:
    """Adjacency of tiles: undirected edges ``i < j`` with shared lengths.

    Attributes
    ----------
    n:
        Number of nodes (sites).
    i, j:
        End nodes of each edge, ``i < j``.
    length:
        Shared boundary length of each edge, in metres.
    road:
        Whether each edge crosses a road (its tiles lie in different blocks).
    area:
        Area of each node's tile, in square metres.
    exterior:
        Boundary length of each node's tile not shared with another tile.
    """

    n: int
    i: IntArray
    j: IntArray
    length: FloatArray
    road: BoolArray
    area: FloatArray
    exterior: FloatArray

    def csr(self) -> tuple[IntArray, IntArray, IntArray]:
        """Both directions of every edge, grouped by node: ``(indptr, neighbour, edge)``."""
        src = np.concatenate([self.i, self.j])
        dst = np.concatenate([self.j, self.i])
        edge = np.concatenate([np.arange(self.i.size), np.arange(self.i.size)])
        order = np.lexsort((dst, src))
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.add.at(indptr, src + 1, 1)
        return np.cumsum(indptr), dst[order].astype(np.int64), edge[order].astype(np.int64)


def adjacency_pairs(
    geoms: GeomArray, *, tol: float, min_length: float | None = None
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs ``i < j`` of polygons sharing a boundary, and the shared length.

    The shared length is the length of ``i``'s boundary within ``tol`` of
    ``j``, so coordinate noise below ``tol`` neither hides a neighbour nor
    shortens an edge. Pairs sharing less than ``min_length`` (default
    ``10 * tol``: corner contacts) are dropped.
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.size < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="dwithin", distance=tol)
    keep = a < b
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    grown = shapely.buffer(geoms, tol, quad_segs=1, join_style="mitre")
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), grown[b]))
    ok = shared > (10 * tol if min_length is None else min_length)
    return a[ok], b[ok], shared[ok]


def coverage_edges(
    tiles: GeomArray,
) -> tuple[IntArray, IntArray, FloatArray, FloatArray]:
    """Shared boundary lengths of an edge-matched coverage, from its segments.

    In a clean coverage two neighbours carry exactly the same vertices along
    their common boundary, so every segment of it appears once in each: the
    segments (canonically ordered) are matched by sorting, with no geometry
    operation at all. Returns pairs ``i < j``, their shared length, and each
    tile's exterior length (segments that appear once).
    """
    parts, part_tile = shapely.get_parts(tiles, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    start, end = xy[:-1][same], xy[1:][same]
    owner = part_tile[ring_part[ring[:-1][same]]].astype(np.int64)
    length = np.hypot(end[:, 0] - start[:, 0], end[:, 1] - start[:, 1])
    keep = length > 0
    start, end, owner, length = start[keep], end[keep], owner[keep], length[keep]
    swap = (start[:, 0] > end[:, 0]) | ((start[:, 0] == end[:, 0]) & (start[:, 1] > end[:, 1]))
    lo = np.where(swap[:, None], end, start)
    hi = np.where(swap[:, None], start, end)
    order = np.lexsort((owner, hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    key = np.column_stack([lo, hi])[order]
    owner, length = owner[order], length[order]
    twin = np.all(key[1:] == key[:-1], axis=1) & (owner[1:] != owner[:-1])
    first = np.flatnonzero(twin)
    a, b = owner[first], owner[first + 1]
    i, j = np.minimum(a, b), np.maximum(a, b)
    paired = np.zeros(owner.size, dtype=bool)
    paired[first] = True
    paired[first + 1] = True
    outline: FloatArray = np.asarray(
        np.bincount(owner[~paired], weights=length[~paired], minlength=tiles.size),
        dtype=np.float64,
    )
    if i.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0), outline
    pair_key = i * tiles.size + j
    unique, inverse = np.unique(pair_key, return_inverse=True)
    shared = np.asarray(np.bincount(inverse, weights=length[first]), dtype=np.float64)
    first_tile = np.asarray(unique // tiles.size, dtype=np.int64)
    second_tile = np.asarray(unique % tiles.size, dtype=np.int64)
    return first_tile, second_tile, shared, outline


def build_graph(tiles: GeomArray, block: IntArray, *, tol: float, clean: bool = False) -> Graph:
    """The :class:`Graph` of ``tiles`` (edges crossing roads: different ``block``).

    ``clean``: the tiles are an edge-matched coverage (see :func:`clean_coverage`),
    so shared lengths come from matching segments; otherwise from overlays with
    a tolerance (:func:`adjacency_pairs`).
    """
    area = np.asarray(shapely.area(tiles), dtype=float)
    if clean:
        i, j, length, exterior = coverage_edges(tiles)
        ok = length > 10 * tol
        i, j, length = i[ok], j[ok], length[ok]
    else:
        i, j, length = adjacency_pairs(tiles, tol=tol)
        shared = np.zeros(tiles.size)
        np.add.at(shared, i, length)
        np.add.at(shared, j, length)
        exterior = np.maximum(shapely.length(tiles) - shared, 0.0)
    return Graph(
        n=int(tiles.size),
        i=i,
        j=j,
        length=length,
        road=block[i] != block[j],
        area=area,
        exterior=exterior,
    )
