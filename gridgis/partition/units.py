"""Tiles of a community, one per unit, and the adjacency graph between them.

Cells are drawn as unions of *tiles*: pieces of the community that together
cover it exactly, one per unit (building, address point or small area). Exact
tiling of the cells then follows from exact tiling of the tiles, whatever the
partition does, and a unit is never split because its tile is never split.

How the tiles are made (:func:`tessellate`), and why
-----------------------------------------------------
0. **Repair.** Footprints GEOS cannot work with (invalid rings, vertices
   a fraction of a millimetre apart) are repaired on a 5 mm grid, and one
   left with no area shares the tile of the nearest unit
   (:mod:`gridgis.partition.footprints`, which reports what it did).
1. **Blocks.** Roads and other barriers (lines), clipped to the community,
   are noded together with the community's boundary and polygonized: the
   faces are the *blocks*. Lines that end inside a block (dead ends) do not
   cut it. Without roads the community is one block. Tiles never cross a
   block edge (except a building that straddles one), so a cell boundary can
   always run along a road rather than through a block.
2. **Units to blocks.** A point goes to the block it lies in (a point on the
   community boundary, or on a road, still belongs: ties go to the first
   block); a footprint to the block it overlaps most.
3. **Tiles.**

   * *Small areas that tile* (census blocks; recognised because they cover
     at least 99 % of the community, :data:`AREAS_SHARE`): the tile is the
     unit itself, clipped to the community; ground they leave uncovered
     goes to the unit it shares the longest boundary with. Without a
     community outline, the outline is their union.
   * *Points and building footprints*: blocks without any unit are merged
     into the neighbouring block they share the longest boundary with (a
     park joins a neighbourhood). Inside each block, every part of the
     ground goes to its nearest unit: a Voronoi diagram
     (:func:`~gridgis.partition.footprints.nearest_regions`) of the points,
     or of points sampled along the footprints' outlines, dissolved per unit
     and clipped to the block. Finally each footprint is given wholly to its
     own tile (taken out of any neighbour's tile the sampling let it reach),
     so a building is never split, even one that straddles a road.
     Nearest-unit tiles are what a surveyor would draw by hand (boundaries
     half-way between buildings) and cost one Voronoi diagram per block.

   Units that share a tile form one *site* (the graph has one node per
   site): address points at the same spot, and footprints overlapping by
   more than 1 % of the smaller (:data:`OVERLAP_SHARE`; a building and its
   mapped part, a building drawn twice). Parts of the community that no
   unit can reach (an island without any unit) are returned as *orphans*.
   Pieces of at most :data:`NOISE_M2` (a speck between two nearly
   coincident road lines, a crumb an overlay cut off a tile) are never
   blocks, tiles or orphans: they join the neighbour they share the longest
   boundary with, or are dropped when they touch none (:func:`absorb_noise`).
4. **Precision.** Overlays run on a 1 µm grid in the metric CRS
   (:data:`GRID`, GEOS snap-rounding), and the tiles are then cleaned into an
   edge-matched coverage (:func:`clean_coverage`, GEOS 3.14), so neighbouring
   tiles share their vertices exactly and unions of tiles have no slivers.

The graph of the tiles is built by :func:`gridgis.partition.graph.build_graph`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely

from gridgis.errors import GridGISError
from gridgis.partition._arrays import BoolArray, FloatArray, GeomArray, IntArray
from gridgis.partition.footprints import (
    FOOTPRINT_GRID,
    FootprintRepair,
    clean_footprints,
    distinct_sites,
    nearest_regions,
)
from gridgis.partition.graph import Graph, adjacency_pairs, build_graph

GRID = 1e-6
"""Precision grid of every overlay, in metres of the metric CRS (1 µm)."""

AREAS_SHARE = 0.01
"""Polygon units whose disjoint areas leave less than this share of the community
uncovered are small areas that tile it (census blocks): they are their own tiles,
and the ground they leave uncovered goes to the unit it shares most boundary with."""

NOISE_SHARE = 1e-9
"""Uncovered ground below this share of the community is floating-point noise."""

NOISE_M2 = 1.0
"""Pieces of ground of at most this area (m²) are coordinate noise: never a block, a tile or
a cell of their own (:func:`absorb_noise`). The same bound as the default ``tolerance_m2`` of
:func:`gridgis.partition.validate.validate_layout`, below which gaps and overlaps are noise."""

OVERLAP_SHARE = 0.01
"""Footprints overlapping by more than this share of the smaller are one site."""

_SAMPLE_MIN_M = 0.5
_SAMPLE_MAX_M = 10.0


class PartitionError(GridGISError, ValueError):
    """Units, a community or options that no layout of cells can be drawn from.

    The message names the bad argument and value (and the rows concerned).
    Subclasses :class:`ValueError`; the web layer answers with status 422.
    """

    status = 422


class GeometryFailure(PartitionError):
    """GEOS failed on the units' geometry (a robustness failure, not an infeasible layout).

    Raised by :func:`geos_guard`; a caller that can try again differently (on a
    coarser grid, without roads, as the demo generator does) catches this one.
    """


@contextmanager
def geos_guard(what: str) -> Iterator[None]:
    """Turn a GEOS failure inside the block (or decorated function) into a :class:`GeometryFailure`.

    Input footprints are repaired before any overlay
    (:func:`~gridgis.partition.footprints.clean_footprints`), so GEOS should
    not fail; should it still, the user gets what was being done and what
    GEOS said (with the coordinates, in the metric CRS), not a traceback.
    """
    try:
        yield
    except shapely.errors.GEOSException as exc:
        raise GeometryFailure(
            f"{what} failed on the units' geometry (GEOS: {exc!s}); check the units for "
            "footprints drawn twice or broken near there, and repair or leave them out"
        ) from exc


@dataclass
class Tessellation:
    """Tiles of a community, one per site, with their graph.

    Attributes
    ----------
    tiles:
        One polygon per site, in the metric CRS; together they tile the
        community except for ``orphans``.
    site:
        The site of each input unit (position in ``tiles``).
    households:
        Households of each site (sum of its units).
    block:
        The block (road-bounded face, after merging blocks without units) of
        each site.
    orphans:
        Parts of the community no unit reaches (islands without units), each
        larger than :data:`NOISE_M2`.
    graph:
        The adjacency graph of the tiles.
    mode:
        ``"points"``, ``"footprints"`` or ``"areas"``.
    repair:
        What :func:`~gridgis.partition.footprints.clean_footprints` repaired
        (positions of the input units).
    """

    tiles: GeomArray
    site: IntArray
    households: FloatArray
    block: IntArray
    orphans: GeomArray
    graph: Graph
    mode: str
    repair: FootprintRepair | None = None


# --- small helpers ------------------------------------------------------------------------------


def _geom_array(values: object) -> GeomArray:
    return np.asarray(values, dtype=object)


def _first_per_group(keys: IntArray, values: IntArray, n: int) -> IntArray:
    """For each key in ``range(n)``, the first value in ``values`` paired with it, else -1."""
    out = np.full(n, -1, dtype=np.int64)
    if keys.size:
        # Reverse assignment: the first occurrence is written last and wins.
        out[keys[::-1]] = values[::-1]
    return out


def dissolve(geoms: GeomArray, groups: IntArray, n: int, *, coverage: bool = False) -> GeomArray:
    """Union of ``geoms`` per group ``0..n-1`` (empty polygon for a group with none).

    Shapely has no grouped union, so this loops over the groups (one GEOS
    call each); ``coverage=True`` uses the faster coverage union, valid only
    when the geometries of a group form a coverage (Voronoi cells, cleaned
    tiles).
    """
    out = np.full(n, shapely.Polygon(), dtype=object)
    if geoms.size == 0:
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    ends = np.r_[starts[1:], sorted_groups.size]
    for start, end in zip(starts, ends, strict=True):
        members = geoms[order[start:end]]
        if members.size == 1:
            out[sorted_groups[start]] = members[0]
        elif coverage:
            try:
                out[sorted_groups[start]] = shapely.coverage_union_all(members)
            except shapely.errors.GEOSException:
                # Voronoi cells clipped by a footprint can meet at vertices GEOS
                # does not see as shared ("incorrectly noded"): overlay instead.
                out[sorted_groups[start]] = _robust_union(members)
        else:
            out[sorted_groups[start]] = shapely.union_all(members, grid_size=GRID)
    return out


def _robust_union(members: GeomArray) -> Any:
    """Union that survives inputs GEOS's fast paths reject, trying exact before snapped."""
    for attempt in (
        lambda: shapely.union_all(members, grid_size=GRID),
        lambda: shapely.union_all(members),
        lambda: shapely.union_all(shapely.make_valid(shapely.set_precision(members, GRID))),
    ):
        try:
            return attempt()
        except shapely.errors.GEOSException:
            continue
    return shapely.union_all(shapely.buffer(members, 0))


def polygonal(geoms: GeomArray) -> GeomArray:
    """Keep only the polygon parts of each geometry (overlays may add lines and points)."""
    geoms = _geom_array(geoms)
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(geoms), (3, 6)))
    if odd.size == 0:
        return geoms
    parts, owner = shapely.get_parts(geoms[odd], return_index=True)
    keep = shapely.get_type_id(parts) == 3
    fixed = np.empty(odd.size, dtype=object)
    fixed[:] = [shapely.Polygon()] * odd.size
    if keep.any():
        shapely.multipolygons(parts[keep], indices=owner[keep], out=fixed)
    geoms = geoms.copy()
    geoms[odd] = fixed
    return geoms


def tolerance(community: shapely.Geometry) -> float:
    """Adjacency tolerance for a community: 1 mm per km of its size, at least 10 µm."""
    size = math.sqrt(max(float(shapely.area(community)), 1.0))
    return max(1e-6 * size, 10 * GRID)


CAN_CLEAN = hasattr(shapely, "coverage_clean") and shapely.geos_version >= (3, 14, 0)
"""Whether GEOS can clean a coverage (shapely >= 2.2 with GEOS >= 3.14)."""


def union_of_areas(geoms: GeomArray) -> tuple[GeomArray, shapely.Geometry]:
    """Small areas put on the grid and cleaned into a coverage, and their union.

    The outline of a community given only by its small areas (census blocks).
    """
    snapped = polygonal(shapely.set_precision(clean_footprints(geoms).geoms, GRID))
    if not CAN_CLEAN:
        return snapped, shapely.union_all(snapped, grid_size=GRID)
    size = math.sqrt(max(float(np.sum(shapely.area(snapped))), 1.0))
    cleaned = clean_coverage(snapped, max(1e-6 * size, 10 * GRID))
    return cleaned, shapely.coverage_union_all(cleaned)


def clean_coverage(tiles: GeomArray, tol: float) -> GeomArray:
    """Make neighbouring tiles share exactly the same vertices along their common edges.

    Tiles come from separate overlays, each snap-rounded on its own, so a
    shared edge can carry a vertex in one tile that lies half a grid step off
    the edge in the other: a gap a micrometre wide that would make a union of
    tiles two parts. GEOS's coverage cleaner snaps such vertices together
    (within ``10 * GRID``) and gives gaps narrower than ``2 * tol`` to a
    neighbour. Without it (GEOS < 3.14) tiles are returned as they are and
    cells are dissolved with snap-rounding instead.
    """
    if not CAN_CLEAN or tiles.size < 2:
        return tiles
    cleaner = shapely.coverage_clean  # type: ignore[attr-defined]  # shapely >= 2.2
    cleaned: GeomArray = np.asarray(
        cleaner(tiles, snapping_distance=10 * GRID, gap_width=2 * tol), dtype=np.object_
    )
    lost = shapely.is_empty(cleaned) | (shapely.area(cleaned) <= 0)
    if lost.any():  # never lose a tile: keep the original where the cleaner emptied it
        cleaned[lost] = tiles[lost]
    return polygonal(cleaned)


# --- blocks ------------------------------------------------------------------------------------


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
    """Faces of the community cut by ``lines`` (see the module's step 1).

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


# --- tiles -------------------------------------------------------------------------------------


def _voronoi_tiles(
    points: FloatArray,
    point_site: IntArray,
    point_block: IntArray,
    site_block: IntArray,
    blocks: GeomArray,
    n_sites: int,
) -> GeomArray:
    """Nearest-unit tiles inside each block (see the module's step 3)."""
    tiles = np.full(n_sites, shapely.Polygon(), dtype=object)
    sites_per_block = np.bincount(site_block, minlength=blocks.size)
    single = sites_per_block[site_block] == 1
    tiles[single] = blocks[site_block[single]]
    regions: list[GeomArray] = []
    owners: list[IntArray] = []
    busy = np.flatnonzero(sites_per_block > 1)
    keep = sites_per_block[point_block] > 1
    points, point_site, point_block = points[keep], point_site[keep], point_block[keep]
    order = np.argsort(point_block, kind="stable")
    points, point_site, point_block = points[order], point_site[order], point_block[order]
    starts = np.searchsorted(point_block, busy, side="left")
    ends = np.searchsorted(point_block, busy, side="right")
    # One Voronoi diagram per block: blocks are separate problems (GEOS builds one
    # diagram per call), and there are far fewer blocks than units.
    for block, start, end in zip(busy, starts, ends, strict=True):
        regions.append(nearest_regions(points[start:end], blocks[block]))
        owners.append(point_site[start:end])
    if regions:
        merged = dissolve(np.concatenate(regions), np.concatenate(owners), n_sites, coverage=True)
        todo = ~single
        tiles[todo] = shapely.intersection(merged[todo], blocks[site_block[todo]], grid_size=GRID)
    return polygonal(tiles)


def _sample_outlines(polys: GeomArray, owner: IntArray) -> tuple[FloatArray, IntArray]:
    """Points along the outlines of ``polys`` (spacing from their size) and their owner."""
    sizes = np.sqrt(shapely.area(polys))
    spacing = float(
        np.clip(np.median(sizes) / 4 if sizes.size else 1.0, _SAMPLE_MIN_M, _SAMPLE_MAX_M)
    )
    lines = shapely.segmentize(shapely.boundary(polys), spacing)
    xy, index = shapely.get_coordinates(lines, return_index=True)
    return xy, owner[index]


def _interiors_meet(a: GeomArray, b: GeomArray) -> BoolArray:
    """Whether the interiors of each pair share area (not only a boundary)."""
    meet = shapely.relate_pattern(a, b, "T********")
    if meet.any():
        rows = np.flatnonzero(meet)
        area = shapely.area(shapely.intersection(a[rows], b[rows], grid_size=GRID))
        meet[rows[area <= 0]] = False
    return np.asarray(meet, dtype=bool)


def _sites(polys: GeomArray) -> tuple[IntArray, GeomArray]:
    """Group overlapping footprints into sites; return each unit's site and site footprints.

    Footprints that overlap by more than :data:`OVERLAP_SHARE` of the smaller
    one (a building and its mapped part, a footprint drawn twice) are one
    site: their union, never split between cells. Smaller overlaps are
    digitising noise: the later footprint loses the shared area.
    """
    n = polys.size
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    later = a > b
    a, b = a[later].astype(np.int64), b[later].astype(np.int64)
    meet = _interiors_meet(polys[a], polys[b]) if a.size else np.zeros(0, dtype=bool)
    a, b = a[meet], b[meet]
    if a.size == 0:
        return np.arange(n, dtype=np.int64), polys
    overlap = shapely.area(shapely.intersection(polys[a], polys[b], grid_size=GRID))
    smaller = np.minimum(shapely.area(polys[a]), shapely.area(polys[b]))
    strong = overlap > OVERLAP_SHARE * smaller
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # Union–find over the overlapping pairs (few: mapping duplicates and parts).
    for x, y in zip(a[strong].tolist(), b[strong].tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    root = np.asarray([find(x) for x in range(n)], dtype=np.int64)
    roots, site = np.unique(root, return_inverse=True)
    site = site.astype(np.int64)
    footprints = dissolve(polys, site, roots.size)
    # What is left is noise between different sites: the later site gives way.
    weak = ~strong & (site[a] != site[b])
    if weak.any():
        sa, sb = site[a[weak]], site[b[weak]]
        first, second = np.minimum(sa, sb), np.maximum(sa, sb)
        footprints = footprints.copy()
        for row in np.unique(second):
            earlier = footprints[np.unique(first[second == row])]
            footprints[row] = shapely.difference(
                footprints[row], shapely.union_all(earlier, grid_size=GRID), grid_size=GRID
            )
    return site, polygonal(footprints)


def _claim_footprints(tiles: GeomArray, footprints: GeomArray) -> GeomArray:
    """Give each footprint wholly to its own tile (footprints are disjoint)."""
    tree = shapely.STRtree(footprints)
    t, f = tree.query(tiles, predicate="intersects")
    other = t != f
    t, f = t[other], f[other]
    if t.size:
        meet = _interiors_meet(tiles[t], footprints[f])
        t, f = t[meet], f[meet]
    tiles = tiles.copy()
    # Only the few tiles the outline sampling let into a neighbour's footprint.
    for row in np.unique(t):
        intruders = shapely.union_all(footprints[f[t == row]], grid_size=GRID)
        tiles[row] = shapely.difference(tiles[row], intruders, grid_size=GRID)
    has = ~shapely.is_empty(footprints)
    tiles[has] = shapely.union(tiles[has], footprints[has], grid_size=GRID)
    return polygonal(tiles)


def _outside_error(labels: list[object], what: str) -> PartitionError:
    shown = ", ".join(repr(label) for label in labels[:10])
    more = f" and {len(labels) - 10} more" if len(labels) > 10 else ""
    return PartitionError(
        f"{len(labels)} unit(s) lie outside the community ({what}): rows {shown}{more}; "
        "give the right `community`, or leave those units out"
    )


def tessellate(
    geoms: GeomArray,
    households: FloatArray,
    community: shapely.Geometry,
    roads: GeomArray | None,
    *,
    labels: list[object] | None = None,
    tiling: bool = False,
) -> Tessellation:
    """Tile ``community`` by its units, repaired first (see the module docstring).

    Footprints GEOS cannot work with are repaired by
    :func:`~gridgis.partition.footprints.clean_footprints` (the
    :class:`Tessellation`'s ``repair`` says which); one left with no area (a
    flat ring) has no tile of its own: it shares the site, and so the cell,
    of the nearest other unit. Arguments and result as :func:`_tessellate`.
    """
    geoms = _geom_array(geoms)
    n = geoms.size
    labels = labels if labels is not None else list(range(n))
    # Tiling areas come cleaned from union_of_areas: on their grid, only empties remain.
    repair = clean_footprints(geoms, grid_size=GRID if tiling else FOOTPRINT_GRID)
    lost = repair.collapsed
    if lost.size == 0:
        tess = _tessellate(repair.geoms, households, community, roads, labels=labels, tiling=tiling)
        return replace(tess, repair=repair)
    if lost.size == n:
        raise PartitionError(
            f"no unit has an area: the footprints of rows {[labels[k] for k in lost[:10]]} "
            "collapse to lines or points"
        )
    kept = np.ones(n, dtype=bool)
    kept[lost] = False
    rows = np.flatnonzero(kept)
    tess = _tessellate(
        repair.geoms[kept], households[kept], community, roads,
        labels=[labels[k] for k in rows], tiling=tiling,
    )  # fmt: skip
    site = np.zeros(n, dtype=np.int64)  # a unit with nothing left at all: the first site
    site[kept] = tess.site
    q, near = shapely.STRtree(repair.geoms[kept]).query_nearest(geoms[lost], all_matches=False)
    site[lost[q]] = tess.site[near]
    households_site = tess.households.copy()
    np.add.at(households_site, site[lost], households[lost])
    return replace(tess, site=site, households=households_site, repair=repair)


def _tessellate(
    geoms: GeomArray,
    households: FloatArray,
    community: shapely.Geometry,
    roads: GeomArray | None,
    *,
    labels: list[object] | None = None,
    tiling: bool = False,
) -> Tessellation:
    """Tile ``community`` by its units (see the module docstring).

    Parameters
    ----------
    geoms:
        The units (all points, or all polygons), in a metric CRS.
    households:
        Households of each unit.
    community:
        The polygon to tile, in the same CRS, on the :data:`GRID`.
    roads:
        Lines to follow, or ``None``.
    labels:
        Index labels of the units, for messages.
    tiling:
        The units are polygons already on the grid, cleaned with
        :func:`clean_coverage`, and ``community`` is their union (the
        default outline of small areas): nothing to clip or fill.

    Returns
    -------
    Tessellation

    Raises
    ------
    PartitionError
        When units lie outside the community.
    """
    geoms = _geom_array(geoms)
    n = geoms.size
    labels = labels if labels is not None else list(range(n))
    tol = tolerance(community)
    lines = road_lines(roads, community) if roads is not None else _geom_array([])
    blocks = make_blocks(community, lines, tol=tol)
    points_mode = bool(n) and bool(np.all(shapely.get_type_id(geoms) == 0))

    if points_mode:
        xy = shapely.get_coordinates(geoms)
        rounded = np.round(xy / GRID) * GRID
        _, first, site = np.unique(rounded, axis=0, return_index=True, return_inverse=True)
        # Sites numbered in order of first appearance, for determinism.
        rank = np.empty(first.size, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(first.size)
        site = rank[site.ravel()]
        n_sites = first.size
        site_xy = rounded[np.sort(first)]
        site_points: GeomArray | None = np.asarray(shapely.points(site_xy), dtype=np.object_)
        assert site_points is not None
        site_block = _points_in_blocks(site_points, blocks, tol)
        if (site_block < 0).any():
            bad = np.flatnonzero(site_block[site] < 0)
            raise _outside_error([labels[k] for k in bad], "points farther than the tolerance")
        footprints = None
        mode = "points"
    else:
        if tiling:
            clipped = geoms
        else:
            shapely.prepare(community)
            inside = shapely.covers(community, geoms)
            clipped = np.empty(n, dtype=object)
            clipped[inside] = shapely.set_precision(geoms[inside], GRID)
            clipped[~inside] = shapely.intersection(geoms[~inside], community, grid_size=GRID)
            clipped = polygonal(clipped)
            outside = np.flatnonzero(shapely.area(clipped) <= 0)
            if outside.size:
                raise _outside_error([labels[k] for k in outside], "no area inside it")
        if tiling and CAN_CLEAN:
            site, footprints = np.arange(n, dtype=np.int64), clipped
        else:
            site, footprints = _sites(clipped)
        n_sites = footprints.size
        covered = float(np.sum(shapely.area(footprints)))
        uncovered = float(shapely.area(community)) - covered
        if uncovered <= AREAS_SHARE * float(shapely.area(community)):
            mode = "areas"
        else:
            mode = "footprints"
        site_points = None

    households_site = np.zeros(n_sites)
    np.add.at(households_site, site, households)

    orphans = _geom_array([])
    if mode == "areas":
        tiles = footprints
        assert tiles is not None
        # Blocks only label road crossings here: a unit's block is the one its
        # representative point lies in.
        if blocks.size == 1:
            site_block = np.zeros(n_sites, dtype=np.int64)
        else:
            site_block = _points_in_blocks(shapely.point_on_surface(tiles), blocks, tol)
            site_block = np.where(site_block >= 0, site_block, 0)
        # Ground the units leave uncovered goes to the unit it touches most.
        if not tiling and uncovered > NOISE_SHARE * float(shapely.area(community)):
            covered_ground = shapely.union_all(tiles, grid_size=GRID)
            rest = polygonal(
                _geom_array([shapely.difference(community, covered_ground, grid_size=GRID)])
            )
            pieces = shapely.get_parts(rest)
            pieces = pieces[shapely.area(pieces) > 0]
            if pieces.size:
                tiles, orphans = _attach_pieces(tiles, pieces, tol)
    else:
        if footprints is not None:
            if blocks.size == 1:
                site_block = np.zeros(n_sites, dtype=np.int64)
            else:
                site_block = _largest_overlap(footprints, blocks)
                site_block = np.where(site_block >= 0, site_block, 0)
        occupied = np.bincount(site_block, minlength=blocks.size) > 0
        owner, reached = _merge_empty_blocks(blocks, occupied, tol)
        if not reached.all():
            orphans = shapely.get_parts(shapely.union_all(blocks[~reached], grid_size=GRID))
        merged = dissolve(blocks[reached], owner[reached], blocks.size)
        keep = np.flatnonzero(occupied)
        remap = np.full(blocks.size, -1, dtype=np.int64)
        remap[keep] = np.arange(keep.size)
        blocks = merged[keep]
        site_block = remap[site_block]
        if points_mode:
            assert site_points is not None
            sample_xy, sample_site = shapely.get_coordinates(site_points), np.arange(n_sites)
        else:
            assert footprints is not None
            sample_xy, sample_site = _sample_outlines(footprints, np.arange(n_sites))
            # The samples only guide the split of open ground (footprints are claimed
            # exactly afterwards): millimetres are plenty, and shared vertices go.
            sample_xy, first, _ = distinct_sites(sample_xy, resolution=1e-3)
            sample_site = sample_site[first]
        tiles = _voronoi_tiles(
            sample_xy, sample_site, site_block[sample_site], site_block, blocks, n_sites
        )
        if footprints is not None:
            tiles = _claim_footprints(tiles, footprints)

    if mode != "areas":
        anchors = footprints if footprints is not None else site_points
        assert anchors is not None
        tiles, strays = _detach_stray_parts(tiles, anchors, tol)
        if strays.size:
            orphans = np.concatenate([orphans, strays])
    if orphans.size:
        # Pieces of noise (a speck cut off a tile, a crumb of uncovered ground)
        # are never a cell of their own: they join a tile or vanish.
        tiles, orphans = absorb_noise(tiles, orphans, tol)
    if not (tiling and mode == "areas"):
        tiles = clean_coverage(tiles, tol)
    graph = build_graph(tiles, site_block, tol=tol, clean=CAN_CLEAN and tiles.size > 1)
    return Tessellation(
        tiles=tiles,
        site=site,
        households=households_site,
        block=site_block,
        orphans=orphans,
        graph=graph,
        mode=mode,
    )


def _detach_stray_parts(
    tiles: GeomArray, anchors: GeomArray, tol: float
) -> tuple[GeomArray, GeomArray]:
    """Keep each tile in one piece: the piece holding its unit; the others go to neighbours.

    A Voronoi region clipped by a concave block, or a tile a neighbour's
    footprint is cut out of, can fall apart into pieces. A tile in pieces
    would join, in the graph, ground on both sides of whatever separates
    them, and a cell made of it would come out in pieces too. The piece that
    overlaps the unit's footprint most (or holds its point) stays; every other
    piece joins the neighbouring tile it shares the longest boundary with
    (:func:`_attach_pieces`, never back to its own tile). Pieces that touch
    no other tile are returned as orphans.

    Returns
    -------
    tuple
        The tiles, and the pieces no tile could take.
    """
    multi = np.flatnonzero(shapely.get_num_geometries(tiles) > 1)
    if not multi.size:
        return tiles, _geom_array([])
    tiles = tiles.copy()
    strays: list[Any] = []
    owners: list[int] = []
    # Few tiles are in pieces (usually none): one small overlay each.
    for i in multi:
        parts = shapely.get_parts(tiles[i])
        anchor = anchors[i]
        if shapely.get_type_id(anchor) == 0:
            score = -shapely.distance(parts, anchor)
        else:
            score = shapely.area(shapely.intersection(parts, anchor, grid_size=GRID))
        keep = int(np.lexsort((-shapely.area(parts), -score))[0])
        tiles[i] = parts[keep]
        for k in range(parts.size):
            if k != keep:
                strays.append(parts[k])
                owners.append(int(i))
    return _attach_pieces(
        tiles, _geom_array(strays), tol, exclude=np.asarray(owners, dtype=np.int64)
    )


def _attach_pieces(
    tiles: GeomArray, pieces: GeomArray, tol: float, *, exclude: IntArray | None = None
) -> tuple[GeomArray, GeomArray]:
    """Union each piece into the tile it shares the longest boundary with.

    Returns the new tiles and the pieces that touch no tile (orphans). A piece
    touching only other pieces joins the tile its neighbour piece joins, in
    rounds (pieces in a row along a boundary). ``exclude`` names, per piece,
    a tile it must not join (the tile it was cut from).
    """
    tiles = tiles.copy()
    host = np.full(pieces.size, -1, dtype=np.int64)
    tree = shapely.STRtree(tiles)
    p, t = tree.query(pieces, predicate="dwithin", distance=tol)
    if p.size:
        grown = shapely.buffer(tiles[t], tol, quad_segs=1, join_style="mitre")
        shared = shapely.length(shapely.intersection(shapely.boundary(pieces[p]), grown))
        ok = shared > 10 * tol
        if exclude is not None:
            ok &= t != exclude[p]
        p, t, shared = p[ok], t[ok], shared[ok]
        order = np.lexsort((t, -shared, p))
        host = _first_per_group(p[order].astype(np.int64), t[order].astype(np.int64), pieces.size)
    if (host < 0).any() and pieces.size > 1:
        a, b, length = adjacency_pairs(pieces, tol=tol)
        src, dst = np.concatenate([a, b]), np.concatenate([b, a])
        weight = np.concatenate([length, length])
        # Rounds of propagation through touching pieces (sequential by nature).
        while True:
            reach = (host[src] < 0) & (host[dst] >= 0)
            if exclude is not None:
                reach &= host[dst] != exclude[src]
            if not reach.any():
                break
            s, d, w = src[reach], dst[reach], weight[reach]
            order = np.lexsort((d, -w, s))
            first = _first_per_group(s[order], host[d[order]], pieces.size)
            newly = (host < 0) & (first >= 0)
            host[newly] = first[newly]
    for row in np.unique(host[host >= 0]):
        # Few tiles receive ground; each takes the union of its own pieces.
        tiles[row] = shapely.union_all(
            np.concatenate([[tiles[row]], pieces[host == row]]), grid_size=GRID
        )
    return tiles, pieces[host < 0]
