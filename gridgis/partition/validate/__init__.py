"""Validating a cell layout: codes, geometry, tiling, buildings and households.

:func:`validate_layout` judges any layout of grid cells (网格), whether drawn by
the engine, edited by hand or imported, against the rules of DOMAIN.md and
returns a :class:`LayoutReport`: one :class:`LayoutFinding` per problem, each
naming the cell (or community, or unit), the amount (m², households, parts)
and a WGS84 point to look at. Nothing is repaired and the input is not changed.

The rules, as built
-------------------
Codes
    Cells of a community with a 12-digit (Chinese) code must have 15-digit
    codes that start with the community's code. For other communities
    (analysts' own groups such as UK MSOAs ``"E02002846"``) any non-empty code
    is accepted; a code of the form ``<group>-NNN`` must name the cell's own
    group. Codes must be unique.
Contiguity
    A cell must be one piece. Parts are contiguous only when they share an
    edge: parts touching at a single point count as separate parts (a valid
    MultiPolygon's parts can only touch at points, so the number of parts of
    the cell, after repairing an invalid one, is the number reported).
Slivers
    A polygon part of a cell, or a gap polygon, is a sliver when its area is
    below ``sliver_m2``, or when it is thin and small: Polsby–Popper
    compactness ``4πA/P²`` below :data:`THIN_POLSBY_POPPER` (0.05, a strip
    about 1:60) *and* area below :data:`THIN_AREA_FACTOR` × ``sliver_m2``
    (1,000 m² by default). Slivers are warnings (digitising noise to clean).
Tiling
    Overlaps are checked between any two cells of the whole layout (cells of
    different communities and streets must not share area either), each
    measured in a metric CRS (where a sliver between two long, nearly
    collinear edges has the area it has on the ground); their total,
    however small each, is :attr:`LayoutReport.overlap_m2`. Gaps, parts outside the own
    community and parts inside another community need ``communities``.
    Areas not above ``tolerance_m2`` are coordinate noise and ignored. A
    community outline without any cell is reported as one gap.
Units and households
    Each unit (building, small area; point or polygon) is counted in exactly
    one cell: the one its representative point (:func:`shapely.point_on_surface`)
    lies in. A point on a boundary shared by several cells, or inside an
    overlap, goes to the cell with the smallest code (then the first row). A
    polygon whose point lies in no cell (a building straddling the community's
    edge, its point on the far side) goes to the cell it overlaps most.
    Missing household counts of units count as 0. Not judged for households:
    cells with a missing count of their own (without ``units``), and cells
    without a usable polygon (with ``units``).
Severity
    Everything is an ``"error"`` except slivers, invalid unit polygons, and
    household findings of cells the engine flagged (see :data:`FLAG_DOWNGRADES`),
    which are ``"warning"``.

Measuring
---------
Geometry operations run in the CRS the cells are in, where their edges are
straight as stored (a projection bends long lon/lat edges by millimetres to
centimetres, which would show as false slivers along every boundary whose
vertices do not match exactly). A projected CRS must be in metres. For a
geographic CRS (EPSG:4326, CGCS2000), each piece found is measured on the
ellipsoid at its own latitude (degree area × meridian and prime-vertical
radii), which is within 0.001 % of the geodesic area for pieces of a few
kilometres and is vectorised, unlike :func:`gridgis.boundaries.area_m2`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> cells = gpd.GeoDataFrame(
...     {"code": ["350304001001001", "350304001001002"]},
...     geometry=[box(0, 0, 100, 100), box(90, 0, 200, 100)], crs="EPSG:4547")
>>> report = validate_layout(cells)
>>> report.ok, report.by_kind()
(False, {'overlap': 1})
>>> report.findings[0].measure
1000.0
"""

from __future__ import annotations

from gridgis.partition.validate.checks import (
    FLAG_DOWNGRADES,
    THIN_AREA_FACTOR,
    THIN_POLSBY_POPPER,
)
from gridgis.partition.validate.layout import validate_layout
from gridgis.partition.validate.report import (
    FINDING_KINDS,
    SEVERITIES,
    UNITS,
    LayoutFinding,
    LayoutReport,
)

__all__ = [
    "FINDING_KINDS",
    "FLAG_DOWNGRADES",
    "SEVERITIES",
    "THIN_AREA_FACTOR",
    "THIN_POLSBY_POPPER",
    "UNITS",
    "LayoutFinding",
    "LayoutReport",
    "validate_layout",
]
