"""Cleaning building footprints, and nearest-unit regions that survive coincident sites.

Real footprints (OpenStreetMap, surveys) are not textbook polygons: vertices
repeated or a fraction of a millimetre apart, rings that touch or cross
themselves, parts that collapse to a line, and the same building drawn twice
(a building and its mapped ``building:part`` share one outline). GEOS rejects
some of these outright: ``voronoi_polygons(..., ordered=True)`` raises
"Multiple input coordinates in cell" when two sites coincide (the centroids of
a footprint drawn twice), overlays raise "side location conflict" on
self-crossing rings.

* :func:`clean_footprints` repairs the footprints that need it, and only
  those, in the metric CRS: snapped to a grid of :data:`FOOTPRINT_GRID`
  (which drops repeated and nearly coincident vertices and makes the
  polygon valid). It returns its diagnostics (what was repaired, what
  collapsed to no area) instead of fixing silently; callers decide what a
  collapsed footprint becomes and report it.
* :func:`nearest_regions` is the one Voronoi diagram of the partition
  package: each site's region, with coincident sites (after rounding to
  :data:`gridgis.partition.units.GRID`) sharing one region, given to the
  first of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from gridgis import crs as crs_mod
from gridgis.errors import Problem
from gridgis.partition._arrays import FloatArray, GeomArray, IntArray
from gridgis.partition.polygons import polygonal

FOOTPRINT_GRID = 0.005
"""Grid (metres of the metric CRS) that footprints needing repair are snapped to: 5 mm,
far below the accuracy of any footprint survey, far above floating-point noise."""

SITE_RESOLUTION = 1e-6
"""Sites of a Voronoi diagram closer than this (metres) are one site: the precision grid
of every overlay (:data:`gridgis.partition.units.GRID`)."""


@dataclass(frozen=True)
class FootprintRepair:
    """Footprints after :func:`clean_footprints`, and what was done to them.

    Attributes
    ----------
    geoms:
        One geometry per input, in the input's order and CRS: the input
        itself when it was clean (or not a polygon), the repaired polygon
        otherwise, an empty polygon when it collapsed.
    repaired:
        Positions of the footprints that were snapped to the grid (invalid,
        or with repeated or nearly coincident vertices) and kept an area.
    collapsed:
        Positions of the footprints left with no area (a flat ring, a
        sliver thinner than the grid, an empty polygon).
    reasons:
        What was wrong with each footprint in ``repaired`` and ``collapsed``,
        by position.
    """

    geoms: GeomArray
    repaired: IntArray
    collapsed: IntArray
    reasons: dict[int, str]

    def problems(self) -> list[Problem]:
        """The repairs as :class:`~gridgis.errors.Problem` rows (1-based), collapsed first."""
        found: list[Problem] = []
        for what, rows in (
            ("no area left: it joins the cell of the nearest building", self.collapsed),
            ("repaired", self.repaired),
        ):
            found += [
                Problem(row=k + 1, code=None, reason=f"footprint {self.reasons[k]}; {what}")
                for k in rows.tolist()
            ]
        return found


def clean_footprints(geoms: Any, *, grid_size: float = FOOTPRINT_GRID) -> FootprintRepair:
    """Repair the footprints GEOS cannot work with; report what was done.

    A polygon needs repair when it is invalid (self-crossing or touching
    rings, a flat ring) or has consecutive vertices closer than
    ``grid_size`` (repeated points, a vertex drawn twice a fraction of a
    millimetre apart). Those, and only those, are made valid
    (:func:`shapely.make_valid`: crossings noded) and snapped to a grid of
    ``grid_size`` (:func:`shapely.set_precision`: repeated and nearly
    coincident vertices merged, collapsed parts removed), keeping the
    polygon parts. Clean polygons and non-polygons (points) are returned as
    they are, so clean data draws exactly as before.

    Parameters
    ----------
    geoms:
        Footprints (or points), in a metric CRS (see :mod:`gridgis.crs`).
    grid_size:
        Snapping grid, in metres; default :data:`FOOTPRINT_GRID` (5 mm).

    Returns
    -------
    FootprintRepair

    Examples
    --------
    >>> ring = [(0, 0), (0, 0), (10, 0), (10.0001, 0), (10, 10), (0, 10), (0, 0)]
    >>> bow = shapely.Polygon([(20, 0), (30, 10), (30, 0), (20, 10)])
    >>> flat = shapely.Polygon([(40, 0), (50, 0), (45, 0)])
    >>> fixed = clean_footprints([shapely.Polygon(ring), bow, flat, shapely.box(60, 0, 70, 10)])
    >>> fixed.repaired.tolist(), fixed.collapsed.tolist()
    ([0, 1], [2])
    >>> [round(a, 3) for a in shapely.area(fixed.geoms).tolist()]
    [100.0, 50.0, 0.0, 100.0]
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    polygons = np.isin(shapely.get_type_id(geoms), (3, 6))
    reasons: dict[int, str] = {}
    candidates = np.flatnonzero(polygons)
    valid = shapely.is_valid(geoms[candidates])
    thinned = shapely.remove_repeated_points(geoms[candidates], tolerance=grid_size)
    crowded = shapely.get_num_coordinates(thinned) < shapely.get_num_coordinates(geoms[candidates])
    bare = shapely.is_empty(geoms[candidates])
    for k in candidates[bare].tolist():
        reasons[k] = "was empty"
    dirty = candidates[(~valid | crowded) & ~bare]
    if dirty.size == 0:
        return FootprintRepair(
            geoms=out,
            repaired=np.zeros(0, dtype=np.int64),
            collapsed=candidates[bare].astype(np.int64),
            reasons=reasons,
        )
    why = shapely.is_valid_reason(geoms[dirty])
    for k, reason, was_valid in zip(
        dirty.tolist(), why.tolist(), shapely.is_valid(geoms[dirty]).tolist(), strict=True
    ):
        reasons[k] = (
            f"had vertices closer than {grid_size * 1000:g} mm"
            if was_valid
            else f"was invalid ({reason})"
        )
    # make_valid first: set_precision's overlay rejects self-crossing rings.
    snapped = shapely.set_precision(shapely.make_valid(geoms[dirty]), grid_size)
    parts, owner = shapely.get_parts(polygonal(snapped), return_index=True)
    keep = shapely.area(parts) > 0
    fixed = np.empty(dirty.size, dtype=object)
    fixed[:] = [shapely.Polygon()] * dirty.size
    if keep.any():
        shapely.multipolygons(parts[keep], indices=owner[keep], out=fixed)
    single = shapely.get_num_geometries(fixed) == 1
    fixed[single] = shapely.get_geometry(fixed[single], 0)
    out[dirty] = fixed
    lost = shapely.is_empty(fixed) | (shapely.area(fixed) <= 0)
    return FootprintRepair(
        geoms=out,
        repaired=dirty[~lost].astype(np.int64),
        collapsed=np.sort(np.concatenate([dirty[lost], candidates[bare]])).astype(np.int64),
        reasons=reasons,
    )


def distinct_sites(
    xy: FloatArray, *, resolution: float = SITE_RESOLUTION
) -> tuple[FloatArray, IntArray, IntArray]:
    """Points rounded to ``resolution`` and made distinct.

    Returns
    -------
    tuple
        The distinct sites in order of first appearance, the first input
        point of each site, and for each input point the position of its site.
    """
    rounded = np.round(np.asarray(xy, dtype=float).reshape(-1, 2) / resolution) * resolution
    if rounded.shape[0] == 0:
        none = np.zeros(0, dtype=np.int64)
        return rounded, none, none
    _, first, inverse = np.unique(rounded, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    first = np.sort(first).astype(np.int64)
    return rounded[first], first, rank[inverse.ravel()]


def nearest_regions(
    xy: FloatArray, extent: Any, *, resolution: float = SITE_RESOLUTION
) -> GeomArray:
    """The region of the ground nearest to each point (its Voronoi cell), reaching ``extent``.

    Points that coincide after rounding to ``resolution`` (a footprint drawn
    twice has one centroid) are one site of the diagram: its region goes to
    the first of them, the later ones get an empty polygon. So the regions
    of all points together still cover ``extent`` once, and GEOS never sees
    the repeated sites it rejects ("Multiple input coordinates in cell").

    Parameters
    ----------
    xy:
        Coordinates of the points, shape ``(n, 2)``, in a metric CRS.
    extent:
        Geometry the diagram must reach (regions extend to cover it).
    resolution:
        Points closer than this are one site; default :data:`SITE_RESOLUTION`.

    Returns
    -------
    numpy.ndarray
        One polygon per point, in the input's order.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 0.0]])
    >>> ground = shapely.box(-5, -5, 15, 5)
    >>> regions = nearest_regions(xy, ground)
    >>> [round(a) for a in shapely.area(shapely.intersection(regions, ground)).tolist()]
    [100, 100, 0]
    """
    sites, first, site_of = distinct_sites(xy, resolution=resolution)
    out = np.empty(site_of.size, dtype=object)
    out[:] = [shapely.Polygon()] * site_of.size
    if sites.shape[0] == 0:
        return out
    if sites.shape[0] == 1:
        regions = np.asarray([shapely.envelope(extent)], dtype=object)
    else:
        # Each site at its first point as given, not as rounded: rounding moved sites by
        # up to half the resolution, and the cells drawn from those regions left a gap
        # of 125 m² in a community of the 雨花区 demo.
        exact = np.asarray(xy, dtype=float).reshape(-1, 2)[first]
        regions = shapely.get_parts(
            shapely.voronoi_polygons(shapely.multipoints(exact), extend_to=extent, ordered=True)
        )
    out[first] = regions
    return out


def footprint_problems(units: Any) -> list[Problem]:
    """What :func:`clean_footprints` will repair in a frame of units, row by row (1-based).

    The repair happens anyway when cells are drawn; this tells the user about
    it (the ``gridgis partition`` command prints it). Computed in the metric
    CRS the cells are drawn in.

    Parameters
    ----------
    units:
        A GeoDataFrame of buildings (footprints or points), with ``.crs`` set.

    Returns
    -------
    list of Problem
        Footprints left with no area first, then repaired ones; empty when all
        are clean.
    """
    series = units.geometry
    if series.crs is not None and not series.crs.is_projected:
        series = series.to_crs(crs_mod.metric_crs(series))
    return clean_footprints(np.asarray(series.array, dtype=object)).problems()
