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
   mapped part, a building drawn twice) or by more than :data:`NOISE_M2`.
   Parts of the community that no unit can reach (an island without any
   unit) are returned as *orphans*.
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

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely

from gridgis.partition._arrays import BoolArray, FloatArray, GeomArray, IntArray
from gridgis.partition.blocks import (
    _largest_overlap,
    _merge_empty_blocks,
    _points_in_blocks,
    absorb_noise,
    make_blocks,
    road_lines,
)
from gridgis.partition.errors import GeometryFailure, PartitionError, geos_guard
from gridgis.partition.footprints import (
    FOOTPRINT_GRID,
    FootprintRepair,
    clean_footprints,
    distinct_sites,
    nearest_regions,
)
from gridgis.partition.graph import Graph, adjacency_pairs, build_graph
from gridgis.partition.overlay import (
    CAN_CLEAN,
    GRID,
    NOISE_M2,
    _first_per_group,
    _geom_array,
    clean_coverage,
    dissolve,
    polygonal,
    tolerance,
    union_of_areas,
)

__all__ = [
    "AREAS_SHARE",
    "CAN_CLEAN",
    "GRID",
    "NOISE_M2",
    "NOISE_SHARE",
    "OVERLAP_SHARE",
    "GeometryFailure",
    "PartitionError",
    "Tessellation",
    "absorb_noise",
    "clean_coverage",
    "dissolve",
    "geos_guard",
    "make_blocks",
    "polygonal",
    "road_lines",
    "tessellate",
    "tolerance",
    "union_of_areas",
]

AREAS_SHARE = 0.01
"""Polygon units whose disjoint areas leave less than this share of the community
uncovered are small areas that tile it (census blocks): they are their own tiles,
and the ground they leave uncovered goes to the unit it shares most boundary with."""

NOISE_SHARE = 1e-9
"""Uncovered ground below this share of the community is floating-point noise."""

OVERLAP_SHARE = 0.01
"""Footprints overlapping by more than this share of the smaller are one site."""

_SAMPLE_MIN_M = 0.5
_SAMPLE_MAX_M = 10.0


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
    one (a building and its mapped part, a footprint drawn twice), or by more
    than :data:`~gridgis.partition.overlay.NOISE_M2` (the area the validator
    would report as a split building), are one site: their union, never split
    between cells. Smaller overlaps are digitising noise: the later footprint
    loses the shared area.
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
    # An overlap above the validator's tolerance would split the later footprint between
    # cells (OpenStreetMap footprints drawn over a neighbour's by metres): one site too.
    strong = (overlap > OVERLAP_SHARE * smaller) | (overlap > NOISE_M2)
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
            "collapse to lines or points",
            zh=f"没有一个楼栋有面积：第 {[labels[k] for k in lost[:10]]} 行的轮廓都退化成了线或点",
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
