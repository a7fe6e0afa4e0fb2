"""Blocks: the faces of a community cut by its roads, and the units in each (steps 1-2 of tiling).

:func:`road_lines` clips the barriers to the community, :func:`make_blocks`
polygonizes them with its boundary, :func:`absorb_noise` gives specks to a
neighbour; the private helpers find the block of each unit and merge blocks
without units into a neighbour. How and why is told in
:mod:`gridgis.partition.units`.
"""

from __future__ import annotations

import numpy as np
import shapely

from gridgis.partition._arrays import BoolArray, GeomArray, IntArray
from gridgis.partition.graph import adjacency_pairs
from gridgis.partition.overlay import GRID, NOISE_M2, _first_per_group, _geom_array, polygonal

__all__ = ["absorb_noise", "make_blocks", "road_lines"]


def road_lines(roads: GeomArray, community: shapely.Geometry) -> GeomArray:
    """Linear parts of ``roads`` inside ``community`` (polygons count by their outline)."""
    roads = _geom_array(roads)
    roads = roads[~shapely.is_missing(roads) & ~shapely.is_empty(roads)]
    if roads.size == 0:
        return roads
    kinds = shapely.get_type_id(roads)
    polygons = np.isin(kinds, (3, 6))
    if polygons.any():
        roads = roads.copy()
        roads[polygons] = shapely.boundary(roads[polygons])
    shapely.prepare(community)
    near = shapely.intersects(community, roads)
    clipped = shapely.intersection(roads[near], community, grid_size=GRID)
    parts = shapely.get_parts(clipped)
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2))]
    return parts[shapely.length(parts) > 0]


def make_blocks(community: shapely.Geometry, lines: GeomArray, *, tol: float) -> GeomArray:
    """Faces of the community cut by ``lines`` (see step 1 in :mod:`gridgis.partition.units`).

    Faces of noise (two road lines a micrometre apart enclose a speck) join
    a neighbouring face (:func:`absorb_noise`, adjacency within ``tol``).
    """
    if lines.size == 0:
        return _geom_array([community])
    noded = shapely.union_all(
        np.concatenate([_geom_array([shapely.boundary(community)]), lines]), grid_size=GRID
    )
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if faces.size == 0:
        return _geom_array([community])
    shapely.prepare(community)
    inside = shapely.contains_properly(community, shapely.point_on_surface(faces))
    faces = faces[inside & (shapely.area(faces) > 0)]
    if faces.size == 0:
        return _geom_array([community])
    real = shapely.area(faces) > NOISE_M2
    if real.any() and not real.all():
        faces, _ = absorb_noise(faces[real], faces[~real], tol)
    return faces


def absorb_noise(hosts: GeomArray, pieces: GeomArray, tol: float) -> tuple[GeomArray, GeomArray]:
    """Give each piece of noise (at most :data:`NOISE_M2`) to a host; return the real pieces.

    A piece of noise joins the host it shares the longest boundary with
    (boundary within ``tol`` of the host, as in :func:`adjacency_pairs`, but
    any positive length counts: a speck's whole outline is shorter than a
    corner contact between real tiles). A piece that shares no boundary with
    any host (alone, or touching one only at a point) is dropped: it is
    noise, and the validator ignores gaps this small. Should the union put a
    speck beside its host rather than onto it (a gap of less than ``tol``),
    the speck is dropped too, so a host never comes out in more pieces.

    Parameters
    ----------
    hosts:
        Polygons that take the noise (tiles or blocks), in a metric CRS.
    pieces:
        Candidate pieces, in the same CRS.
    tol:
        Adjacency tolerance, in metres.

    Returns
    -------
    tuple
        The hosts (noise added), and the pieces larger than :data:`NOISE_M2`
        (unchanged, in order).

    Examples
    --------
    >>> hosts = _geom_array([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)])
    >>> speck = shapely.box(200, 40, 200.000_01, 40.001)  # 1e-8 m² against the second
    >>> hosts, rest = absorb_noise(hosts, _geom_array([speck]), 1e-3)
    >>> rest.size, bool(shapely.covers(hosts[1], speck))
    (0, True)
    """
    pieces = _geom_array(pieces)
    noise = shapely.area(pieces) <= NOISE_M2
    if not noise.any():
        return hosts, pieces
    specks = pieces[noise]
    hosts = _geom_array(hosts).copy()
    if hosts.size:
        tree = shapely.STRtree(hosts)
        p, h = tree.query(specks, predicate="dwithin", distance=tol)
        grown = shapely.buffer(hosts[h], tol, quad_segs=1, join_style="mitre")
        shared = shapely.length(shapely.intersection(shapely.boundary(specks[p]), grown))
        ok = shared > 0
        p, h, shared = p[ok].astype(np.int64), h[ok].astype(np.int64), shared[ok]
        order = np.lexsort((h, -shared, p))
        host = _first_per_group(p[order], h[order], specks.size)
        # Only the few hosts that receive noise (usually none) need an overlay.
        for row in np.unique(host[host >= 0]).tolist():
            before = hosts[row]
            merged = polygonal(
                _geom_array(
                    [shapely.union_all(np.r_[[before], specks[host == row]], grid_size=GRID)]
                )
            )[0]
            if shapely.get_num_geometries(merged) > shapely.get_num_geometries(before):
                parts = shapely.get_parts(merged)
                onto = shapely.area(shapely.intersection(parts, before, grid_size=GRID)) > 0
                merged = shapely.union_all(parts[onto], grid_size=GRID)
            hosts[row] = merged
    return hosts, pieces[~noise]


def _points_in_blocks(points: GeomArray, blocks: GeomArray, tol: float) -> IntArray:
    """Block of each point (first block touching it; else the nearest within ``tol``; else -1)."""
    tree = shapely.STRtree(blocks)
    p, b = tree.query(points, predicate="intersects")
    order = np.lexsort((b, p))
    out = _first_per_group(p[order].astype(np.int64), b[order].astype(np.int64), points.size)
    missing = np.flatnonzero(out < 0)
    if missing.size:
        q, nb = tree.query_nearest(points[missing], max_distance=tol)
        found = _first_per_group(q.astype(np.int64), nb.astype(np.int64), missing.size)
        out[missing] = found
    return out


def _largest_overlap(polys: GeomArray, targets: GeomArray) -> IntArray:
    """For each polygon, the target it overlaps most (-1 if none)."""
    tree = shapely.STRtree(targets)
    p, t = tree.query(polys, predicate="intersects")
    area = shapely.area(shapely.intersection(polys[p], targets[t], grid_size=GRID))
    pos = area > 0
    p, t, area = p[pos].astype(np.int64), t[pos].astype(np.int64), area[pos]
    order = np.lexsort((t, -area, p))
    return _first_per_group(p[order], t[order], polys.size)


def _merge_empty_blocks(
    blocks: GeomArray, occupied: BoolArray, tol: float
) -> tuple[IntArray, BoolArray]:
    """Give every block without units to a neighbouring block (longest shared boundary).

    Returns the representative block of each block and whether it reached an
    occupied block (``False``: an island without units).
    """
    n = blocks.size
    owner = np.where(occupied, np.arange(n), -1)
    if occupied.all():
        return owner, occupied.copy()
    i, j, length = adjacency_pairs(blocks, tol=tol)
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    lengths = np.concatenate([length, length])
    # Label propagation, one ring of blocks per round; a loop over rounds because
    # each round depends on the previous one (rounds <= blocks, usually 1-3).
    while True:
        reach = (owner[src] < 0) & (owner[dst] >= 0)
        if not reach.any():
            break
        s, d, w = src[reach], dst[reach], lengths[reach]
        order = np.lexsort((d, -w, s))
        first = _first_per_group(s[order], owner[d[order]], n)
        newly = (owner < 0) & (first >= 0)
        owner[newly] = first[newly]
    return owner, owner >= 0
