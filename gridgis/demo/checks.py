"""Checks of a demo district before it is loaded (:func:`validate_demo`, :func:`check_overlap`):
its layouts validated level by level, and its cells refused when they overlap."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gridgis.demo.generate import DemoDistrict
from gridgis.errors import Problem, ValidationError
from gridgis.partition.validate import LayoutFinding, LayoutReport, validate_layout

__all__ = ["OVERLAP_TOLERANCE_M2", "DemoCheck", "check_overlap", "validate_demo"]

OVERLAP_TOLERANCE_M2 = 0.01
"""Area (m², in a metric CRS) the demo's cells may share in all, across the whole district.

Cells are fitted to their communities' outlines as stored, so neighbouring
cells meet along identical edges: any overlap above this is a fault of the
generator, and :func:`run_demo` stops before loading anything."""


@dataclass
class DemoCheck:
    """The validator's verdict on one level of a demo district.

    Attributes
    ----------
    level:
        ``"streets in district"``, ``"communities in streets"`` or ``"cells in communities"``.
    report:
        What :func:`gridgis.partition.validate.validate_layout` found.
    expected:
        Findings that are facts of the real outline, not faults: the part of
        a level that holds an island of the district is in two pieces.
    """

    level: str
    report: LayoutReport
    expected: list[LayoutFinding] = field(default_factory=list)

    @property
    def errors(self) -> list[LayoutFinding]:
        """Error findings that are not expected."""
        return [f for f in self.report.findings if f.severity == "error" and f not in self.expected]

    @property
    def ok(self) -> bool:
        """No error besides the expected ones."""
        return not self.errors

    def lines(self, *, warnings: bool = False) -> list[str]:
        """Summary and errors for people (expected ones marked); warnings only if asked."""
        head = self.report.lines()[0]
        if self.ok and self.expected:
            head = head.replace("NOT ok", f"ok but for {len(self.expected)} expected")
        out = [f"{self.level}: {head}"]
        for finding in self.report.findings:
            if finding.severity != "error" and not warnings:
                continue
            mark = " (expected: an island of the district)" if finding in self.expected else ""
            out.append(f"  {finding}{mark}")
        return out


def _islands(demo: DemoDistrict) -> shapely.Geometry | None:
    outline = demo.district.geometry.iloc[0]
    parts = shapely.get_parts(outline)
    if len(parts) < 2:
        return None
    order = np.argsort(-shapely.area(parts))
    return shapely.union_all(parts[order[1:]])


def _check(
    level: str, report: LayoutReport, frame: gpd.GeoDataFrame, islands: shapely.Geometry | None
) -> DemoCheck:
    expected: list[LayoutFinding] = []
    if islands is not None:
        holding = set(frame.loc[frame.intersects(islands), "code"].astype(str))
        expected = [f for f in report.findings if f.kind == "non_contiguous" and f.code in holding]
    return DemoCheck(level, report, expected)


def validate_demo(demo: DemoDistrict, *, units: bool = True) -> list[DemoCheck]:
    """Check that every level of a demo district nests in and tiles its parent.

    Runs :func:`gridgis.partition.validate.validate_layout` on the street
    offices in the district outline, the communities in their street offices,
    and the cells in their communities (with the buildings and their
    households against each community's bounds, and the engine's flags).

    Parameters
    ----------
    demo:
        A generated district.
    units:
        Check buildings and households of the cells too (the slow part).
    """
    islands = _islands(demo)
    streets = demo.streets.assign(district_code=demo.code)
    checks = [
        _check(
            "streets in district",
            validate_layout(
                streets[["code", "district_code", "geometry"]],
                community="district_code",
                communities=demo.district[["code", "geometry"]],
            ),
            streets,
            islands,
        ),
        _check(
            "communities in streets",
            validate_layout(
                demo.communities[["code", "street_code", "geometry"]],
                community="street_code",
                communities=demo.streets[["code", "geometry"]],
            ),
            demo.communities,
            islands,
        ),
    ]
    bounds = {
        str(c): (int(lo), int(hi))
        for c, lo, hi in zip(
            demo.communities["code"],
            demo.communities["min_households"],
            demo.communities["max_households"],
            strict=True,
        )
    }
    cells = demo.cells[["code", "households", "flags", "geometry"]]
    checks.append(
        _check(
            "cells in communities",
            validate_layout(
                cells,
                communities=demo.communities[["code", "geometry"]],
                units=demo.buildings[["households", "geometry"]] if units else None,
                households="households",
                bounds=bounds,
                flags="flags",
                tolerance_m2=OVERLAP_TOLERANCE_M2,
            ),
            demo.cells,
            islands,
        )
    )
    return checks


def check_overlap(checks: list[DemoCheck]) -> None:
    """Refuse a demo whose cells overlap by more than :data:`OVERLAP_TOLERANCE_M2` in all.

    Parameters
    ----------
    checks:
        What :func:`validate_demo` found; the cells' level is judged, over
        every pair of cells of the district (any communities, any streets).

    Raises
    ------
    ValidationError
        Naming the total overlap and each pair of cells with its area.
    """
    for check in checks:
        if check.level != "cells in communities":
            continue
        total = check.report.overlap_m2
        if total > OVERLAP_TOLERANCE_M2:
            pairs = [
                Problem(None, f.code, f"overlaps {f.other} by {f.measure:,.3f} m²")
                for f in check.report.findings
                if f.kind == "overlap"
            ]
            raise ValidationError(
                f"the demo's cells overlap by {total:,.3f} m² in all, more than the "
                f"{OVERLAP_TOLERANCE_M2:g} m² allowed: nothing was loaded",
                pairs,
            )
