"""The entry point :func:`validate_layout`: reads the arguments, runs the checks, reports.

The rules it applies are told in :mod:`gridgis.partition.validate`.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import pandas as pd

from gridgis.errors import InputError
from gridgis.partition.measure import Measure
from gridgis.partition.overlay import NOISE_M2
from gridgis.partition.validate.checks import (
    _Cells,
    _check_codes,
    _check_communities,
    _check_geometry,
    _check_households,
    _check_overlaps,
    _check_units,
)
from gridgis.partition.validate.inputs import (
    _check_crs,
    _check_lonlat,
    _check_options,
    _check_other_crs,
    _column,
    _counts,
    _text,
)
from gridgis.partition.validate.report import LayoutReport, _Findings

__all__ = ["validate_layout"]


def validate_layout(
    cells: gpd.GeoDataFrame,
    *,
    code: str = "code",
    community: str | None = None,
    communities: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    households: str | None = None,
    min_households: int = 300,
    max_households: int = 500,
    bounds: Mapping[str, tuple[int, int]] | None = None,
    sliver_m2: float = 50.0,
    tolerance_m2: float = NOISE_M2,
    flags: str | None = None,
) -> LayoutReport:
    """Check a cell layout against the rules of grid management; report every problem.

    Parameters
    ----------
    cells:
        One row per cell: a code column and a (Multi)Polygon, in EPSG:4326 /
        CGCS2000 or a projected CRS in metres. Not changed.
    code:
        Column with each cell's code.
    community:
        Column with each cell's community code. Without it (or where it is
        empty) the community is the first 12 digits of a 15-digit code, or
        ``<group>`` of a code ``<group>-NNN``.
    communities:
        Community outlines (columns ``code`` and geometry) in the CRS of
        ``cells``: enables the gap, outside-community and crosses-community
        checks. Every outline is expected to be covered by cells.
    units:
        Buildings or small areas (points or polygons) in the CRS of
        ``cells``, identified by their index: enables the split-unit and
        unassigned-unit checks and counting households from ``units``.
    households:
        Column with household counts: of ``units`` when given, else of
        ``cells``. Without it, households are not checked.
    min_households, max_households:
        Households allowed per cell (DOMAIN.md: 300–500 in urban communities).
    bounds:
        Per-community ``(min, max)`` overrides, keyed by community code.
    sliver_m2:
        A cell part or gap smaller than this is a sliver (see the package's rules).
    tolerance_m2:
        Overlaps, gaps, areas outside and unit shares not above this are noise
        (default :data:`gridgis.partition.units.NOISE_M2`, 1 m²: the engine never
        makes a cell of a piece this small).
    flags:
        Column of ``cells`` with the engine's flags (a list of strings, or a
        comma-separated string): a cell flagged ``"oversized_unit"`` gets its
        ``households_above_max`` finding, and one flagged ``"below_min"`` its
        ``households_below_min`` finding, as a warning naming the flag.

    Returns
    -------
    LayoutReport
        The findings (see :data:`FINDING_KINDS`), counts of cells and
        communities, and the households counted per cell.

    Raises
    ------
    CRSError
        When a frame has no CRS, or ``communities`` / ``units`` are in another
        CRS than ``cells`` (nothing is reprojected silently).
    CoordinateError
        When the CRS is geographic but coordinates are not lon/lat (metres
        labelled EPSG:4326).
    InputError
        When a named column is missing, an option is out of range, household
        counts are not numbers, the CRS is projected but not in metres, or a
        community outline is missing, invalid or duplicated.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame(
    ...     {"code": ["350304001001001", "350304001001002"], "households": [420, 260]},
    ...     geometry=[box(119.00, 25.40, 119.01, 25.41), box(119.01, 25.40, 119.02, 25.41)],
    ...     crs="EPSG:4326")
    >>> outline = gpd.GeoDataFrame({"code": ["350304001001"]},
    ...     geometry=[box(119.00, 25.40, 119.02, 25.41)], crs="EPSG:4326")
    >>> report = validate_layout(cells, communities=outline, households="households")
    >>> for line in report.lines():
    ...     print(line)  # doctest: +NORMALIZE_WHITESPACE
    2 cells in 1 community: NOT ok, 1 error(s), 0 warning(s) (households_below_min 1)
    households_below_min 350304001001002 / 350304001001: 260 households
    at (119.015000, 25.405000) — 260 households, below the minimum of 300
    (default for community 350304001001) [error]
    """
    if not isinstance(cells, gpd.GeoDataFrame):
        raise InputError(
            f"`cells` must be a GeoDataFrame, not a {type(cells).__name__}",
            zh=f"`cells` 应为 GeoDataFrame，而不是 {type(cells).__name__}",
        )
    checked_bounds = _check_options(
        min_households=min_households,
        max_households=max_households,
        bounds=bounds,
        sliver_m2=sliver_m2,
        tolerance_m2=tolerance_m2,
    )
    crs = _check_crs(cells)
    if communities is not None:
        _check_other_crs(communities, "communities", crs)
        _column(communities, "code", "communities", "`communities`")
    if units is not None:
        _check_other_crs(units, "units", crs)
    if crs.is_geographic:
        for name, frame in (("cells", cells), ("communities", communities), ("units", units)):
            if frame is not None:
                _check_lonlat(frame, name)
    cell_counts = unit_counts = None
    if households is not None:
        if units is not None:
            unit_counts = _counts(units, households, "`units`")
        else:
            cell_counts = _counts(cells, households, "`cells`")
    flag_values = list(_column(cells, flags, "flags", "`cells`")) if flags is not None else None

    data = _Cells(cells, code, community)
    measure = Measure(crs)
    found = _Findings()
    _check_geometry(data, measure, sliver_m2, found)
    known = community is not None or communities is not None
    _check_codes(data, code=code, community_known=known, found=found)
    tree = _check_overlaps(data, measure, tolerance_m2, found)
    if communities is not None:
        _check_communities(
            data,
            communities,
            measure,
            sliver_m2=sliver_m2,
            tolerance_m2=tolerance_m2,
            found=found,
        )
    counts = cell_counts
    if units is not None:
        counted = _check_units(data, tree, units, unit_counts, measure, tolerance_m2, found)
        counts = counted if unit_counts is not None else None
    if counts is not None:
        _check_households(
            data,
            counts,
            min_households=min_households,
            max_households=max_households,
            bounds=checked_bounds,
            flags=flag_values,
            found=found,
        )

    named = {c for c in data.community if c is not None}
    if communities is not None:
        named |= {t for t in (_text(v) for v in communities["code"]) if t is not None}
    series = None
    if counts is not None:
        series = pd.Series(counts, index=cells.index, name="households", dtype="float64")
    return LayoutReport(
        found.located(crs),
        cells=data.n,
        communities=len(named),
        households=series,
        overlap_m2=found.overlap_m2,
    )
