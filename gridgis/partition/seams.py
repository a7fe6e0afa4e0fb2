"""Seams: cells fitted exactly to their communities' stored outlines, sharing their vertices.

Cells are built in a metric CRS and transformed back to the CRS the
communities are stored in. A straight edge in one CRS is slightly curved in
the other, so a cell vertex that lay on the community's edge in metres lies
micrometres to centimetres off it in lon/lat, and a cell corner on the
outline where a neighbouring community's cells have no vertex leaves a thin
triangle between the two: an overlap or a gap across the seam (metres² along
a kilometre of edge when measured on the ellipsoid or in a metric CRS).

:func:`fit_cells` removes both, in the outlines' own CRS and for a whole
layout at once (every community, every street): each cell vertex near its
community's boundary is moved onto it, the outline's own vertices are put
into the cells' edges along it, and every vertex a cell has on a community
boundary is put into the edges of the cells on the other side; two cells that
still overlap (along a common edge that is no seam) give that ground to the
first of them. Shared
edges then have identical coordinates on both sides, so the cells of
neighbouring communities meet along a line, with no area in common in any
CRS, and a community's cells cover exactly its outline.

Examples
--------
>>> import numpy as np
>>> from shapely.geometry import box
>>> outlines = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)], dtype=object)
>>> cells = np.array([box(0, 0, 10.004, 5), box(0, 5, 10, 10), box(10, 0, 20, 10)], dtype=object)
>>> fitted = fit_cells(cells, np.array([0, 0, 1]), outlines, tolerance=0.01)
>>> [round(float(g.area), 6) for g in fitted]
[50.0, 50.0, 100.0]
>>> len(fitted[2].exterior.coords)  # the corner (10, 5) of the left cells, shared
6
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgis.partition._arrays import GeomArray, IntArray
from gridgis.partition.errors import PartitionError
from gridgis.partition.overlay import polygonal

BoolArray = NDArray[np.bool_]

__all__ = ["SEAM_M", "fit_cells", "fit_frames", "fit_layout", "seam_tolerance"]

SEAM_M = 0.05
"""Cell vertices within this many metres of their community's boundary are moved onto it."""

_METRES_PER_DEGREE = 111_320.0
_EXACT = 1e-6
"""Share of the seam tolerance within which a vertex is on an edge already (float noise)."""


def seam_tolerance(crs: pyproj.CRS, metres: float = SEAM_M) -> float:
    """``metres`` in the units of ``crs`` (degrees of latitude for a geographic CRS)."""
    return metres / _METRES_PER_DEGREE if crs.is_geographic else metres


def _nearby_points(
    cells: GeomArray,
    points: GeomArray,
    reach: float,
    *,
    cell_owner: IntArray | None = None,
    point_owner: IntArray | None = None,
) -> GeomArray:
    """For each cell, a MultiPoint of the ``points`` within ``reach`` of its envelope.

    With owners, only the points of the cell's own outline.
    """
    out = np.full(cells.size, None, dtype=object)
    if points.size == 0:
        return out
    boxes = shapely.buffer(shapely.envelope(cells), reach, quad_segs=1)
    cell_k, point_k = shapely.STRtree(points).query(boxes, predicate="intersects")
    if cell_owner is not None and point_owner is not None:
        keep = cell_owner[cell_k] == point_owner[point_k]
        cell_k, point_k = cell_k[keep], point_k[keep]
    shapely.multipoints(points[point_k], indices=cell_k, out=out)
    return out


def _snap(
    cells: GeomArray,
    present: BoolArray,
    targets: GeomArray,
    tolerance: float,
) -> None:
    """Snap each present cell, in place, to its target points (``None``: left as it is)."""
    snap = present.copy()
    snap[present] = ~shapely.is_missing(targets)
    cells[snap] = shapely.snap(cells[snap], targets[~shapely.is_missing(targets)], tolerance)


def fit_cells(
    cells: GeomArray, owner: IntArray, outlines: GeomArray, *, tolerance: float
) -> GeomArray:
    """Cells fitted to their outlines and sharing their vertices along every seam.

    Parameters
    ----------
    cells:
        Cell polygons, in the CRS of ``outlines``. Not changed.
    owner:
        Position in ``outlines`` of each cell's community; ``-1``: none (the
        cell is left as it is, but still shares the seams' vertices).
    outlines:
        The communities' outlines exactly as stored.
    tolerance:
        In the CRS's units (:func:`seam_tolerance`): cell vertices this close
        to their community's boundary are moved onto it.

    Returns
    -------
    numpy.ndarray
        The fitted cells (a cell that fitting makes invalid is repaired).
    """
    out = np.asarray(cells, dtype=object).copy()
    owner = np.asarray(owner, dtype=np.int64)
    present = ~shapely.is_missing(out) & ~shapely.is_empty(out)
    if not present.any() or len(outlines) == 0:
        return out
    boundaries = shapely.boundary(np.asarray(outlines, dtype=object))
    shapely.prepare(boundaries)

    # 1. Vertices near the own community's boundary onto its nearest point.
    coords, cell_of = shapely.get_coordinates(out[present], return_index=True)
    mine = owner[np.flatnonzero(present)][cell_of]
    points: GeomArray = np.asarray(shapely.points(coords), dtype=object)
    line = np.full(points.size, None, dtype=object)
    line[mine >= 0] = boundaries[mine[mine >= 0]]
    near = np.flatnonzero(shapely.dwithin(points, line, tolerance))
    if near.size:
        nearest = shapely.get_point(shapely.shortest_line(points[near], line[near]), 1)
        coords[near] = shapely.get_coordinates(nearest)
        out[present] = shapely.set_coordinates(out[present].copy(), coords)

    # 2. The outlines' vertices into the cells' edges along them; 3. every vertex a cell
    # has on a community boundary into the edges of the cells on the other side. Each
    # cell snaps to the points near it (GEOS compares every vertex with every point).
    xy, outline_of = shapely.get_coordinates(boundaries, return_index=True)
    owners = owner[present]
    corners = _nearby_points(
        out[present],
        np.asarray(shapely.points(xy), dtype=object),
        tolerance,
        cell_owner=owners,
        point_owner=outline_of,
    )
    _snap(out, present, corners, tolerance)
    coords, cell_of = shapely.get_coordinates(out[present], return_index=True)
    mine = owner[np.flatnonzero(present)][cell_of]
    line = np.full(len(coords), None, dtype=object)
    line[mine >= 0] = boundaries[mine[mine >= 0]]
    exact = tolerance * _EXACT
    on_seams = shapely.dwithin(shapely.points(coords), line, exact)
    seams = np.asarray(shapely.points(np.unique(coords[on_seams], axis=0)), dtype=object)
    _snap(out, present, _nearby_points(out[present], seams, tolerance), exact)
    bad = np.flatnonzero(present & ~shapely.is_valid(out))
    if bad.size:
        out[bad] = polygonal(shapely.make_valid(out[bad]))
        # A repaired cell that snapping pinched into pieces meeting at a point (a ring
        # folded across itself): its own shape clipped to its outline instead, whole.
        given = np.asarray(cells, dtype=object)[bad]
        pinched = bad[shapely.get_num_geometries(out[bad]) > shapely.get_num_geometries(given)]
        for k in pinched.tolist():
            if owner[k] >= 0:
                clipped = shapely.intersection(
                    shapely.make_valid(np.asarray(cells, dtype=object)[k]), outlines[owner[k]]
                )
                out[k] = polygonal(np.asarray([clipped], dtype=object))[0]
    out = _without_overlaps(out, (tolerance * _OVERLAP_SHARE) ** 2)
    out = _without_gaps(out, owner, np.asarray(outlines, dtype=object), tolerance * tolerance)
    return _without_crumbs(out, tolerance * tolerance)


def _without_gaps(
    cells: GeomArray, owner: IntArray, outlines: GeomArray, min_area: float
) -> GeomArray:
    """Give ground of a community that none of its cells holds to the cell it borders most.

    The engine's roads path can leave a hole between cells (249 m² in a community of the
    雨花区 demo); a community's cells must cover it exactly. Only pieces larger than
    ``min_area`` that border a cell of the community are given; the rest stay (the
    validator reports them).
    """
    out = cells.copy()
    owned = np.flatnonzero((owner >= 0) & ~shapely.is_missing(out) & ~shapely.is_empty(out))
    # One overlay per community (a few hundred in a district): its cells' union is needed.
    for k in np.unique(owner[owned]):
        mine = owned[owner[owned] == k]
        gap = shapely.difference(outlines[k], shapely.union_all(out[mine]))
        if shapely.is_empty(gap) or shapely.area(gap) <= min_area:
            continue
        pieces = shapely.get_parts(polygonal(np.asarray([gap], dtype=object))[0])
        for piece in pieces[shapely.area(pieces) > min_area]:
            shared = shapely.length(
                shapely.intersection(shapely.boundary(out[mine]), shapely.boundary(piece))
            )
            if shared.max() <= 0:
                continue
            best = mine[int(np.argmax(shared))]
            out[best] = polygonal(
                np.asarray([shapely.make_valid(shapely.union(out[best], piece))], dtype=object)
            )[0]
    return out


_OVERLAP_SHARE = 0.01
"""Overlaps of two cells larger than (this share of the seam tolerance)² are resolved."""


def _without_overlaps(cells: GeomArray, min_area: float) -> GeomArray:
    """Give ground two cells both hold to the first of them (by position).

    The seams are fitted by moving vertices; two cells of one community whose
    common edge is not a seam (drawn on a coarser grid, as the demo's retry
    does) can still overlap by a sliver along it. Only pairs that overlap by
    more than ``min_area`` are touched; the later cell loses the ground, and
    its edge there becomes the earlier cell's (the same coordinates), unless
    losing it would cut the later cell in two (a neck of it along the seam, as
    in an adjusted cell of the 荔城区 demo): then the earlier cell loses it, if
    that keeps the earlier one whole.
    """
    present = np.flatnonzero(~shapely.is_missing(cells) & ~shapely.is_empty(cells))
    if present.size < 2:
        return cells
    tree = shapely.STRtree(cells[present])
    left, right = tree.query(cells[present], predicate="intersects")
    pair = left < right
    left, right = present[left[pair]], present[right[pair]]
    if left.size == 0:
        return cells
    area = shapely.area(shapely.intersection(cells[left], cells[right]))
    hit = area > min_area
    if not hit.any():
        return cells
    out = cells.copy()
    crumb = min_area / _OVERLAP_SHARE**2  # as _without_crumbs: parts below it do not count
    # One difference per overlapping pair, in order (a later cell may lose to several).
    for first, later in zip(left[hit], right[hit], strict=True):
        cut = _repaired(shapely.difference(out[later], out[first]))
        if _pieces(cut, crumb) > _pieces(out[later], crumb):
            # Losing the sliver would cut the later cell in two (a neck of it runs along
            # the seam): the first cell loses it instead, when that keeps the first whole.
            other = _repaired(shapely.difference(out[first], out[later]))
            if _pieces(other, crumb) <= _pieces(out[first], crumb):
                out[first] = other
                continue
        out[later] = cut
    return out


def _repaired(geom: BaseGeometry) -> BaseGeometry:
    return polygonal(np.asarray([shapely.make_valid(geom)], dtype=object))[0]


def _pieces(geom: BaseGeometry, min_area: float) -> int:
    """The parts of ``geom`` of at least ``min_area`` (its largest always counts)."""
    if geom is None or shapely.is_empty(geom):
        return 0
    area = shapely.area(shapely.get_parts(geom))
    return max(1, int((area >= min_area).sum()))


def _without_crumbs(cells: GeomArray, min_area: float) -> GeomArray:
    """Drop the parts of multi-part cells smaller than ``min_area`` (never a cell's largest).

    Moving vertices onto a seam can pinch a cell and leave a crumb of a part
    (1e-15 m² on the demo) beside it: a cell "in two parts" for the validator,
    though no ground is lost that matters (the crumb is below the seam's own
    tolerance squared).
    """
    multi = np.flatnonzero(shapely.get_type_id(cells) == 6)
    if multi.size == 0:
        return cells
    parts, owner = shapely.get_parts(cells[multi], return_index=True)
    area = shapely.area(parts)
    largest = np.zeros(multi.size)
    np.maximum.at(largest, owner, area)
    keep = (area >= min_area) | (area == largest[owner])
    if keep.all():
        return cells
    out = cells.copy()
    fixed = np.empty(multi.size, dtype=object)
    shapely.multipolygons(parts[keep], indices=owner[keep], out=fixed)
    single = shapely.get_num_geometries(fixed) == 1
    fixed[single] = shapely.get_geometry(fixed[single], 0)
    out[multi] = fixed
    return out


def fit_layout(
    cells: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *, community: str = "community_code"
) -> gpd.GeoDataFrame:
    """A layout's cells fitted to the communities' outlines (:func:`fit_cells`), as a copy.

    Parameters
    ----------
    cells:
        The cells, with a column ``community`` naming each one's community.
    communities:
        Columns ``code`` and geometry, in the CRS of ``cells``.
    community:
        The column of ``cells`` with the community codes.
    """
    crs = cells.crs
    if crs is None or communities.crs is None or not crs.equals(communities.crs):
        raise PartitionError(
            f"`cells` ({crs}) and `communities` ({communities.crs}) must be in one CRS",
            zh=f"`cells`（{crs}）与 `communities`（{communities.crs}）必须使用同一坐标系",
        )
    position = {str(code): k for k, code in enumerate(communities["code"])}
    owner = np.asarray([position.get(str(c), -1) for c in cells[community]], dtype=np.int64)
    fitted = fit_cells(
        np.asarray(cells.geometry.array, dtype=object),
        owner,
        np.asarray(communities.geometry.array, dtype=object),
        tolerance=seam_tolerance(crs),
    )
    return cells.set_geometry(gpd.GeoSeries(fitted, index=cells.index, crs=crs))


def fit_frames(
    frames: list[gpd.GeoDataFrame], outlines: list[BaseGeometry | None], crs: pyproj.CRS
) -> None:
    """Fit the cells of each frame, in place, to the outline at its position, all at once.

    Cells come back from the metric CRS micrometres to centimetres off their
    community's stored edge; :func:`fit_cells` puts them on it and makes
    neighbouring communities' cells share every vertex.
    A frame whose outline is ``None`` only shares the seams' vertices.
    """
    if not frames:
        return
    sizes = [len(f) for f in frames]
    geoms = np.concatenate([np.asarray(f.geometry.array, dtype=object) for f in frames])
    owner = np.repeat(
        np.asarray([k if o is not None else -1 for k, o in enumerate(outlines)], dtype=np.int64),
        sizes,
    )
    shapes = np.asarray([o if o is not None else shapely.Polygon() for o in outlines], dtype=object)
    fitted = fit_cells(geoms, owner, shapes, tolerance=seam_tolerance(crs))
    for frame, part in zip(frames, np.split(fitted, np.cumsum(sizes)[:-1]), strict=True):
        frame["geometry"] = gpd.GeoSeries(part, index=frame.index, crs=crs)
