"""Tests of gridgis.partition.validate: every finding kind on hand-made layouts, and real data.

Layouts are squares in metres in EPSG:4549 (CGCS2000 Gauss-Krüger CM 120E) placed near
荔城区 (119.0 E, 25.4 N), so m² can be pinned exactly; a few are in EPSG:4326 to check the
geodesic measure. No database is needed.
"""

from __future__ import annotations

import copy
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gridgis.boundaries import area_m2
from gridgis.errors import CoordinateError, CRSError, GridGISError, InputError
from gridgis.partition.validate import (
    FINDING_KINDS,
    LayoutFinding,
    LayoutReport,
    validate_layout,
)

CRS = "EPSG:4549"
X0, Y0 = 400_000.0, 2_810_000.0
COMMUNITY = "350304001001"
OTHER_COMMUNITY = "350304001002"
TO_WGS84 = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEICESTER = SHARED_DATA / "real" / "leicester_oa"
TILING_KINDS = {"gap", "overlap", "outside_community", "crosses_community"}


def sq(x: float, y: float, w: float, h: float | None = None) -> Polygon:
    """A w × h rectangle (metres) with its south-west corner at (x, y) from the origin."""
    return box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + (w if h is None else h))


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 of a point given in metres from the origin."""
    lon, lat = TO_WGS84.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def layout(
    codes: list[str | None], geoms: list[object], crs: str | None = CRS, **columns: object
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": codes, **columns}, geometry=geoms, crs=crs)


def outlines(pairs: dict[str, Polygon], crs: str = CRS) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": list(pairs)}, geometry=list(pairs.values()), crs=crs)


def code(n: int, community: str = COMMUNITY) -> str:
    return f"{community}{n:03d}"


def tiling_2x2(**columns: object) -> gpd.GeoDataFrame:
    """Four 100 m squares numbered west→east, north→south, tiling a 200 m community."""
    geoms = [sq(0, 100, 100), sq(100, 100, 100), sq(0, 0, 100), sq(100, 0, 100)]
    return layout([code(n) for n in (1, 2, 3, 4)], geoms, **columns)


def community_2x2() -> gpd.GeoDataFrame:
    return outlines({COMMUNITY: sq(0, 0, 200)})


def only(report: LayoutReport, kind: str) -> list[LayoutFinding]:
    return [f for f in report.findings if f.kind == kind]


def assert_at(finding: LayoutFinding, x: float, y: float, *, metres: float = 1.0) -> None:
    """The finding's WGS84 point is within ``metres`` of (x, y) from the origin."""
    assert finding.lon is not None and finding.lat is not None, finding
    geod = pyproj.Geod(ellps="WGS84")
    lon, lat = lonlat(x, y)
    distance = geod.inv(lon, lat, finding.lon, finding.lat)[2]
    assert distance < metres, f"{finding} is {distance:.2f} m from the expected point"


# --- a clean layout ----------------------------------------------------------------------------


def test_clean_tiling_has_no_findings() -> None:
    cells = tiling_2x2(households=[300, 420, 500, 350])
    report = validate_layout(cells, communities=community_2x2(), households="households")
    assert report.findings == []
    assert report.ok
    assert (report.cells, report.communities) == (4, 1)
    assert report.by_kind() == {}
    assert report.lines() == ["4 cells in 1 community: ok, no findings"]
    assert report.households is not None
    assert report.households.tolist() == [300, 420, 500, 350]


def test_clean_tiling_with_units_counts_households_per_cell() -> None:
    cells = tiling_2x2()
    buildings = [
        sq(10, 110, 30),
        sq(60, 110, 30),
        sq(110, 110, 80),
        sq(10, 10, 80),
        sq(110, 10, 80),
    ]
    units = gpd.GeoDataFrame({"households": [200, 150, 420, 310, 480]}, geometry=buildings, crs=CRS)
    report = validate_layout(
        cells, communities=community_2x2(), units=units, households="households"
    )
    assert report.findings == []
    assert report.households is not None
    assert report.households.tolist() == [350, 420, 310, 480]
    assert report.households.index.equals(cells.index)


def test_empty_layout_leaves_the_whole_community_as_a_gap() -> None:
    cells = layout([], [])
    report = validate_layout(cells, communities=community_2x2())
    [gap] = report.findings
    assert (gap.kind, gap.code) == ("gap", COMMUNITY)
    assert gap.measure == pytest.approx(40_000)
    assert "no cell" in gap.detail
    assert validate_layout(layout([], [])).findings == []


# --- codes -------------------------------------------------------------------------------------


def test_code_findings_for_chinese_codes() -> None:
    geoms = [sq(100 * k, 0, 100) for k in range(6)]
    codes = [
        code(1),
        "35030400100102",  # 14 digits
        code(3, OTHER_COMMUNITY),  # belongs to another community than its row says
        code(1),  # duplicate of the first
        None,
        code(6),
    ]
    cells = layout(codes, geoms, community=[COMMUNITY] * 6)
    report = validate_layout(cells, community="community")
    assert report.by_kind() == {
        "malformed_code": 2,
        "duplicate_code": 1,
        "code_outside_community": 1,
    }
    malformed = {f.code: f for f in only(report, "malformed_code")}
    assert set(malformed) == {"35030400100102", None}
    assert "15-digit" in malformed["35030400100102"].detail
    assert "row 5" in malformed[None].detail
    [outside] = only(report, "code_outside_community")
    assert (outside.code, outside.other) == (code(3, OTHER_COMMUNITY), COMMUNITY)
    [duplicate] = only(report, "duplicate_code")
    assert (duplicate.code, duplicate.measure, duplicate.unit) == (code(1), 2, "cells")
    assert "rows 1, 4" in duplicate.detail
    assert_at(duplicate, 50, 50)
    assert all(f.severity == "error" for f in report.findings)


def test_a_code_without_community_column_must_be_15_digits() -> None:
    cells = layout([code(1), "3503040010010002"], [sq(0, 0, 100), sq(100, 0, 100)])
    report = validate_layout(cells)
    [bad] = report.findings
    assert (bad.kind, bad.code) == ("malformed_code", "3503040010010002")


def test_sequence_codes_without_any_community_are_accepted() -> None:
    # What the engine draws for units without a community code: "001", "002", ...
    cells = layout(["001", "002"], [sq(0, 0, 100), sq(100, 0, 100)])
    report = validate_layout(cells)
    assert report.findings == []
    assert report.communities == 0


def test_uk_style_groups_accept_group_codes_and_free_codes() -> None:
    group = "E02002846"
    geoms = [sq(0, 0, 100), sq(100, 0, 100)]
    communities = outlines({group: sq(0, 0, 200, 100)})
    # "<group>-NNN" codes name their community themselves.
    cells = layout([f"{group}-001", f"{group}-002"], geoms)
    report = validate_layout(cells, communities=communities)
    assert report.findings == []
    assert report.communities == 1
    # Any non-empty code is accepted with a community column ...
    free = layout(["north", "south"], geoms, msoa=[group, group])
    assert validate_layout(free, community="msoa", communities=communities).findings == []
    # ... but a group code must name the cell's own group, and codes must be unique.
    wrong = layout([f"{group}-001", "E02002847-002"], geoms, msoa=[group, group])
    report = validate_layout(wrong, community="msoa", communities=communities)
    [outside] = report.findings
    assert (outside.kind, outside.code, outside.other) == (
        "code_outside_community",
        "E02002847-002",
        group,
    )
    twice = layout(["north", "north"], geoms, msoa=[group, group])
    assert validate_layout(twice, community="msoa").by_kind() == {"duplicate_code": 1}


def test_a_cell_whose_community_cannot_be_known_is_reported_when_outlines_are_given() -> None:
    group = "E02002846"
    cells = layout(["north", "south"], [sq(0, 0, 100), sq(100, 0, 100)])
    assert validate_layout(cells).findings == []  # nothing to tie the cells to
    report = validate_layout(cells, communities=outlines({group: sq(0, 0, 200, 100)}))
    assert {(f.kind, f.code) for f in report.findings} == {
        ("code_outside_community", "north"),
        ("code_outside_community", "south"),
        ("gap", group),
    }
    assert "unknown" in only(report, "code_outside_community")[0].detail


# --- geometry ----------------------------------------------------------------------------------


def test_overlap_of_10_by_20_metres_is_200_m2() -> None:
    cells = tiling_2x2()
    grown = shapely.union_all([sq(100, 100, 100), sq(90, 100, 10, 20)])
    cells.loc[1, "geometry"] = grown
    report = validate_layout(cells, communities=community_2x2())
    [overlap] = report.findings
    assert (overlap.kind, overlap.code, overlap.other) == ("overlap", code(1), code(2))
    assert overlap.measure == pytest.approx(200.0)
    assert overlap.unit == "m2"
    assert overlap.severity == "error"
    assert_at(overlap, 95, 110, metres=6)
    assert not report.ok


def test_overlaps_below_the_tolerance_are_noise() -> None:
    cells = tiling_2x2()
    cells.loc[1, "geometry"] = shapely.union_all([sq(100, 100, 100), sq(99.9, 100, 0.1, 5)])
    assert validate_layout(cells).findings == []  # 0.5 m² < 1 m²
    report = validate_layout(cells, tolerance_m2=0.1)
    [overlap] = report.findings
    assert overlap.measure == pytest.approx(0.5)


def test_gap_and_sliver_gap_per_polygon() -> None:
    cells = tiling_2x2()
    cells.loc[3, "geometry"] = sq(100, 0, 100, 90)  # leaves 100 m × 10 m
    cells.loc[2, "geometry"] = sq(0, 0.2, 100, 99.8)  # leaves 100 m × 0.2 m
    report = validate_layout(cells, communities=community_2x2())
    assert report.by_kind() == {"gap": 1, "sliver": 1}
    [gap] = only(report, "gap")
    assert (gap.code, gap.unit, gap.severity) == (COMMUNITY, "m2", "error")
    assert gap.measure == pytest.approx(1000.0)
    assert_at(gap, 150, 95, metres=51)
    [sliver] = only(report, "sliver")
    assert (sliver.code, sliver.severity) == (COMMUNITY, "warning")
    assert sliver.measure == pytest.approx(20.0)
    assert "gap" in sliver.detail


def test_small_and_thin_cell_parts_are_slivers() -> None:
    # Cell 1 has a stray 5 m × 5 m part; cell 2 a 1 m × 600 m strip (600 m², Polsby–Popper
    # 0.0066); cell 3 a 5 m × 600 m strip, thin but 3,000 m², so not a sliver.
    cells = layout(
        [code(1), code(2), code(3)],
        [
            MultiPolygon([sq(0, 0, 100), sq(0, -50, 5)]),
            MultiPolygon([sq(200, 0, 100), sq(200, -20, 600, 1)]),
            MultiPolygon([sq(400, 200, 100), sq(400, 400, 600, 5)]),
        ],
    )
    report = validate_layout(cells)
    slivers = {f.code: f for f in only(report, "sliver")}
    assert set(slivers) == {code(1), code(2)}
    assert slivers[code(1)].measure == pytest.approx(25.0)
    assert "smaller than" in slivers[code(1)].detail
    assert_at(slivers[code(1)], 2.5, -47.5, metres=3)
    assert slivers[code(2)].measure == pytest.approx(600.0)
    assert "thin" in slivers[code(2)].detail
    assert all(f.severity == "warning" for f in slivers.values())
    contiguity = {f.code: f.measure for f in only(report, "non_contiguous")}
    assert contiguity == {code(1): 2, code(2): 2, code(3): 2}


def test_parts_touching_at_a_corner_are_not_contiguous() -> None:
    corner = MultiPolygon([sq(0, 0, 100), sq(100, 100, 100)])
    assert corner.is_valid
    report = validate_layout(layout([code(1)], [corner]))
    [finding] = report.findings
    assert (finding.kind, finding.measure, finding.unit) == ("non_contiguous", 2, "parts")
    assert finding.severity == "error"
    # Parts sharing an edge make an invalid MultiPolygon, which is one piece.
    edge = MultiPolygon([sq(0, 0, 100), sq(100, 0, 100)])
    report = validate_layout(layout([code(1)], [edge]))
    assert report.by_kind() == {"invalid_geometry": 1}


def test_invalid_geometry_names_the_reason_and_the_place() -> None:
    bow_tie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])
    cells = layout([code(1), code(2), code(3)], [bow_tie, None, Point(X0 + 500, Y0)])
    report = validate_layout(cells)
    invalid = {f.code: f for f in only(report, "invalid_geometry")}
    assert set(invalid) == {code(1), code(2), code(3)}
    assert "Self-intersection" in invalid[code(1)].detail
    assert "[" not in invalid[code(1)].detail  # projected coordinates replaced by lon/lat
    assert_at(invalid[code(1)], 50, 50, metres=0.01)
    assert invalid[code(2)].detail == "no geometry"
    assert invalid[code(2)].lon is None
    assert "Point, not a polygon" in invalid[code(3)].detail
    # The repaired bow tie is two triangles meeting at a point.
    assert [f.code for f in only(report, "non_contiguous")] == [code(1)]


# --- communities -------------------------------------------------------------------------------


def test_cell_reaching_into_the_next_community() -> None:
    a, b = COMMUNITY, OTHER_COMMUNITY
    communities = outlines({a: sq(0, 0, 200), b: sq(200, 0, 200)})
    cells = layout(
        [code(1, a), code(2, a), code(1, b)],
        [sq(0, 0, 100, 200), sq(100, 0, 120, 200), sq(220, 0, 180, 200)],
    )
    report = validate_layout(cells, communities=communities)
    assert report.by_kind() == {"gap": 1, "outside_community": 1, "crosses_community": 1}
    [outside] = only(report, "outside_community")
    assert (outside.code, outside.other) == (code(2, a), a)
    assert outside.measure == pytest.approx(4000.0)
    assert_at(outside, 210, 100, metres=11)
    [crosses] = only(report, "crosses_community")
    assert (crosses.code, crosses.other) == (code(2, a), b)
    assert crosses.measure == pytest.approx(4000.0)
    [gap] = only(report, "gap")
    assert (gap.code, gap.measure) == (b, pytest.approx(4000.0))
    assert report.communities == 2


def test_cell_of_a_community_without_outline_is_outside() -> None:
    cells = tiling_2x2()
    cells.loc[3, "code"] = code(4, OTHER_COMMUNITY)
    report = validate_layout(cells, communities=community_2x2())
    assert {(f.kind, f.code, f.other) for f in report.findings} == {
        ("outside_community", code(4, OTHER_COMMUNITY), OTHER_COMMUNITY),
        ("crosses_community", code(4, OTHER_COMMUNITY), COMMUNITY),
        ("gap", COMMUNITY, None),
    }
    [outside] = only(report, "outside_community")
    assert outside.measure == pytest.approx(10_000.0)
    assert "not in `communities`" in outside.detail


def test_bad_community_outlines_are_refused_together() -> None:
    bad = gpd.GeoDataFrame(
        {"code": [COMMUNITY, COMMUNITY, None]},
        geometry=[sq(0, 0, 200), sq(0, 0, 200), None],
        crs=CRS,
    )
    with pytest.raises(InputError, match=r"3 problems: row 3: no code; row 3: no geometry"):
        validate_layout(tiling_2x2(), communities=bad)


# --- units and households ----------------------------------------------------------------------


def test_split_and_unassigned_units() -> None:
    cells = tiling_2x2()
    units = gpd.GeoDataFrame(
        {"households": [30, 12, 200]},
        geometry=[sq(90, 0, 30, 10), Point(X0 - 10, Y0 - 10), sq(20, 20, 20)],
        index=["B-17", "B-18", "B-19"],
        crs=CRS,
    )
    report = validate_layout(cells, units=units, households="households", min_households=0)
    assert report.by_kind() == {"split_unit": 1, "unassigned_unit": 1}
    [split] = only(report, "split_unit")
    # 20 m × 10 m lie in cell 4 (where its representative point is), 10 m × 10 m in cell 3.
    assert (split.code, split.other, split.unit) == (code(4), "B-17", "m2")
    assert split.measure == pytest.approx(100.0)
    assert code(3) in split.detail and code(4) in split.detail
    assert_at(split, 95, 5, metres=6)
    [unassigned] = only(report, "unassigned_unit")
    assert (unassigned.code, unassigned.other) == (None, "B-18")
    assert (unassigned.measure, unassigned.unit) == (12, "households")
    assert_at(unassigned, -10, -10, metres=0.01)
    assert report.households is not None
    assert report.households.tolist() == [0, 0, 200, 30]


def test_footprint_sticking_out_of_the_layout_counts_in_the_cell_it_overlaps_most() -> None:
    """A building straddling the community's edge with its point outside (issue 16):
    counted where the engine puts it, not an unassigned unit."""
    cells = tiling_2x2()
    units = gpd.GeoDataFrame(
        {"households": [7]}, geometry=[sq(-30, 60, 50, 10)], index=["B-20"], crs=CRS
    )
    report = validate_layout(cells, units=units, households="households", min_households=0)
    assert report.by_kind() == {}
    assert report.households is not None
    assert report.households.tolist() == [0, 0, 7, 0]


def test_unassigned_unit_without_households_counts_one_unit() -> None:
    units = gpd.GeoDataFrame(geometry=[Point(X0 - 10, Y0 - 10)], crs=CRS)
    report = validate_layout(tiling_2x2(), units=units)
    [finding] = report.findings
    assert (finding.kind, finding.other, finding.measure, finding.unit) == (
        "unassigned_unit",
        "0",
        1,
        "units",
    )
    assert report.households is None


def test_invalid_unit_polygon_is_a_warning_and_still_counted() -> None:
    bow_tie = Polygon(
        [(X0 + 10, Y0 + 10), (X0 + 30, Y0 + 30), (X0 + 30, Y0 + 10), (X0 + 10, Y0 + 30)]
    )
    units = gpd.GeoDataFrame({"households": [40]}, geometry=[bow_tie], index=["B-1"], crs=CRS)
    report = validate_layout(tiling_2x2(), units=units, households="households", min_households=0)
    [finding] = report.findings
    assert (finding.kind, finding.code, finding.other) == ("invalid_geometry", None, "B-1")
    assert finding.severity == "warning" and report.ok
    assert "Self-intersection" in finding.detail
    assert report.households is not None
    assert report.households.tolist() == [0, 0, 40, 0]


def test_unit_on_a_shared_boundary_goes_to_the_smaller_code() -> None:
    cells = tiling_2x2()
    on_edge = gpd.GeoDataFrame({"households": [7]}, geometry=[Point(X0 + 100, Y0 + 50)], crs=CRS)
    report = validate_layout(cells, units=on_edge, households="households", min_households=0)
    assert report.findings == []
    assert report.households is not None
    assert report.households.tolist() == [0, 0, 7, 0]
    # The same with the codes of cells 3 and 4 swapped: the smaller code wins, not the row.
    swapped = cells.assign(code=[code(1), code(2), code(4), code(3)])
    report = validate_layout(swapped, units=on_edge, households="households", min_households=0)
    assert report.households is not None
    assert report.households.tolist() == [0, 0, 0, 7]


def test_households_above_and_below_the_bounds() -> None:
    cells = tiling_2x2(households=[600, 200, 400, None])
    report = validate_layout(cells, households="households")
    assert report.by_kind() == {"households_above_max": 1, "households_below_min": 1}
    [above] = only(report, "households_above_max")
    assert (above.code, above.other, above.measure, above.unit) == (
        code(1),
        COMMUNITY,
        600,
        "households",
    )
    assert "above the maximum of 500" in above.detail
    assert_at(above, 50, 150, metres=1)
    [below] = only(report, "households_below_min")
    assert (below.code, below.measure, below.severity) == (code(2), 200, "error")
    # Per-community bounds override the defaults; the cell without a count is not judged.
    relaxed = validate_layout(cells, households="households", bounds={COMMUNITY: (100, 700)})
    assert relaxed.findings == []
    assert relaxed.households is not None
    assert np.isnan(relaxed.households.iloc[3])


def test_engine_flags_turn_household_findings_into_warnings() -> None:
    cells = tiling_2x2(
        households=[600, 200, 650, 100],
        flags=[["oversized_unit"], ["below_min"], ["below_min"], None],
    )
    report = validate_layout(cells, households="households", flags="flags")
    severity = {f.code: f.severity for f in report.findings}
    assert severity == {code(1): "warning", code(2): "warning", code(3): "error", code(4): "error"}
    flagged = {f.code: f for f in report.findings}
    assert "'oversized_unit'" in flagged[code(1)].detail
    assert "'below_min'" in flagged[code(2)].detail
    assert not report.ok
    only_flagged = cells.iloc[:2]
    assert validate_layout(only_flagged, households="households", flags="flags").ok


def test_bad_household_counts_are_refused() -> None:
    cells = tiling_2x2(households=[300, "many", 400, -2])
    with pytest.raises(InputError, match=r"'households'.*rows 2 are not numbers.*'many'"):
        validate_layout(cells, households="households")
    cells = tiling_2x2(households=[300, 301, 400, -2])
    with pytest.raises(InputError, match=r"negative household counts in rows 4"):
        validate_layout(cells, households="households")


# --- measuring in lon/lat ----------------------------------------------------------------------


def test_lonlat_layout_is_measured_geodesically() -> None:
    d = 0.001  # about 100 m
    west = box(119.0, 25.4, 119.0 + 2 * d, 25.4 + 2 * d)
    east = box(119.0 + d, 25.4, 119.0 + 3 * d, 25.4 + 2 * d)
    cells = layout([code(1), code(2)], [west, east], crs="EPSG:4326")
    report = validate_layout(cells)
    [overlap] = report.findings
    expected = area_m2(box(119.0 + d, 25.4, 119.0 + 2 * d, 25.4 + 2 * d))
    assert overlap.measure == pytest.approx(expected, rel=0.01)
    assert overlap.measure == pytest.approx(expected, rel=1e-5)  # what the module promises
    assert overlap.lon == pytest.approx(119.0 + 1.5 * d, abs=d / 2)
    assert overlap.lat == pytest.approx(25.4 + d, abs=d)


def test_lonlat_sliver_and_gap_in_cgcs2000_outline() -> None:
    d = 0.001
    community = outlines({COMMUNITY: box(119.0, 25.4, 119.0 + 2 * d, 25.4 + d)}, crs="EPSG:4490")
    gap_width = 5e-6  # about 0.5 m
    cells = layout(
        [code(1), code(2)],
        [
            box(119.0, 25.4, 119.0 + d, 25.4 + d),
            box(119.0 + d + gap_width, 25.4, 119.0 + 2 * d, 25.4 + d),
        ],
        crs="EPSG:4326",
    )
    report = validate_layout(cells, communities=community)
    [sliver] = report.findings
    assert (sliver.kind, sliver.code) == ("sliver", COMMUNITY)
    expected = area_m2(box(119.0 + d, 25.4, 119.0 + d + gap_width, 25.4 + d))
    assert sliver.measure == pytest.approx(expected, rel=1e-4)
    assert "thin" in sliver.detail  # about 56 m², but a 0.5 m × 111 m strip


def test_sliver_between_communities_is_measured_on_the_ground() -> None:
    # Issue 14, defect 15: the corner of a cell on a 1.3 km community edge, a few
    # micrometres off the straight lon/lat edge of the neighbouring community's cell.
    # In degrees the sliver is noise (0.011 m²); on the ground, where the edges are
    # straight (ST_Area(::geography), a metric CRS) it is 21 m².
    p, q = (120.92, 40.814), (120.935, 40.818)
    corner = ((p[0] + q[0]) / 2 + 4e-11, (p[1] + q[1]) / 2 - 1.5e-10)
    north = Polygon([p, corner, q, (q[0], q[1] + 0.005), (p[0], p[1] + 0.005)])
    south = Polygon([p, q, (q[0], q[1] - 0.005), (p[0], p[1] - 0.005)])
    cells = layout(["211403001011001", "211403001012001"], [north, south], crs="EPSG:4326")
    report = validate_layout(cells, tolerance_m2=0.01)
    [overlap] = report.findings
    on_ground, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(Polygon([p, corner, q]))
    assert (overlap.kind, overlap.code, overlap.other) == (
        "overlap",
        "211403001011001",
        "211403001012001",
    )
    assert overlap.measure == pytest.approx(abs(on_ground), rel=0.02)
    assert report.overlap_m2 == pytest.approx(overlap.measure)


def test_overlap_total_counts_every_pair_of_the_whole_layout() -> None:
    # Three communities of two street offices; each overlap below the tolerance alone.
    codes = ["350304001001001", "350304001002001", "350304002001001"]
    cells = layout(codes, [sq(0, 0, 100), sq(99.995, 0, 100), sq(199.99, 0, 100)])
    report = validate_layout(cells)
    assert report.findings == []
    assert report.overlap_m2 == pytest.approx(1.0)
    strict = validate_layout(cells, tolerance_m2=0.01)
    assert [(f.code, f.other) for f in strict.findings] == [
        (codes[0], codes[1]),
        (codes[1], codes[2]),
    ]
    assert [f.measure for f in strict.findings] == pytest.approx([0.5, 0.5])
    tiled = layout(codes, [sq(0, 0, 100), sq(100, 0, 100), sq(200, 0, 100)])
    assert validate_layout(tiled).overlap_m2 == 0.0


# --- the report --------------------------------------------------------------------------------


def test_finding_prints_as_one_line() -> None:
    finding = LayoutFinding(
        "overlap",
        "350304001001001",
        "350304001001002",
        12.4,
        "m2",
        119.012345,
        25.401234,
        "overlaps 350304001001002 by 12.4 m²",
        "error",
    )
    assert str(finding) == (
        "overlap 350304001001001 / 350304001001002: 12.4 m² at (119.012345, 25.401234)"
        " — overlaps 350304001001002 by 12.4 m² [error]"
    )
    bare = LayoutFinding(
        "invalid_geometry", None, None, 0.0, "", None, None, "no geometry", "error"
    )
    assert str(bare) == "invalid_geometry - — no geometry [error]"


def test_report_lines_and_frame() -> None:
    cells = tiling_2x2(households=[600, 400, 400, 400])
    cells.loc[2, "geometry"] = None
    report = validate_layout(cells, households="households")
    lines = report.lines()
    assert lines[0] == (
        "4 cells in 1 community: NOT ok, 2 error(s), 0 warning(s) "
        "(invalid_geometry 1, households_above_max 1)"
    )
    assert lines[1:] == [str(f) for f in report.findings]
    assert [f.kind for f in report.findings] == ["invalid_geometry", "households_above_max"]
    frame = report.to_frame()
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.crs == "EPSG:4326"
    assert list(frame.columns) == [
        "kind",
        "severity",
        "code",
        "other",
        "measure",
        "unit",
        "detail",
        "lon",
        "lat",
        "geometry",
    ]
    assert frame["kind"].tolist() == ["invalid_geometry", "households_above_max"]
    assert frame.geometry.iloc[0] is None  # the cell without geometry has no location
    point = frame.geometry.iloc[1]
    assert point.geom_type == "Point"
    assert (point.x, point.y) == (frame["lon"].iloc[1], frame["lat"].iloc[1])
    assert point.x == pytest.approx(lonlat(50, 150)[0], abs=1e-5)
    empty = LayoutReport([], cells=0, communities=0).to_frame()
    assert empty.empty and empty.crs == "EPSG:4326"


def test_every_kind_is_documented_in_order() -> None:
    assert len(FINDING_KINDS) == len(set(FINDING_KINDS)) == 14
    assert FINDING_KINDS[:3] == ("malformed_code", "duplicate_code", "code_outside_community")


# --- arguments ---------------------------------------------------------------------------------


def test_crs_mismatch_is_an_error_never_a_reprojection() -> None:
    cells = tiling_2x2()
    lonlat_outline = community_2x2().to_crs("EPSG:4326")
    with pytest.raises(
        CRSError, match=r"`communities` is in EPSG:4326 but `cells` is in EPSG:4549"
    ):
        validate_layout(cells, communities=lonlat_outline)
    units = gpd.GeoDataFrame(geometry=[Point(119.0, 25.4)], crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"`units` is in EPSG:4326"):
        validate_layout(cells, units=units)
    with pytest.raises(CRSError, match=r"`cells` has no CRS"):
        validate_layout(layout(cells["code"].tolist(), list(cells.geometry), crs=None))
    # CGCS2000 and WGS84 are the same for this work.
    wgs = cells.to_crs("EPSG:4326")
    assert validate_layout(wgs, communities=community_2x2().to_crs("EPSG:4490")).ok


def test_metres_labelled_as_lonlat_are_refused() -> None:
    mislabelled = tiling_2x2().set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(CoordinateError, match=r"`cells` is in a geographic CRS.*rows 1, 2, 3, 4"):
        validate_layout(mislabelled)


def test_projected_crs_must_be_in_metres() -> None:
    feet = tiling_2x2().set_crs("EPSG:2249", allow_override=True)  # US survey feet
    with pytest.raises(InputError, match=r"measures in 'US survey foot'.*metres"):
        validate_layout(feet)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"code": "cell_code"}, r"`code` was 'cell_code' but `cells` has no such column"),
        ({"community": "sq"}, r"`community` was 'sq'"),
        ({"households": "hh"}, r"`households` was 'hh'"),
        ({"flags": "engine"}, r"`flags` was 'engine'"),
        ({"min_households": 600}, r"`min_households` was 600 and `max_households` 500"),
        ({"bounds": {COMMUNITY: (500, 300)}}, r"`bounds` for community '350304001001'"),
        ({"bounds": {COMMUNITY: 400}}, r"`bounds` for community '350304001001' was 400"),
        ({"sliver_m2": -1.0}, r"`sliver_m2` was -1.0"),
        ({"tolerance_m2": float("nan")}, r"`tolerance_m2` was nan"),
    ],
)
def test_bad_arguments_name_the_value(options: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        validate_layout(tiling_2x2(), **options)
    assert isinstance(caught.value, GridGISError) and isinstance(caught.value, ValueError)


def test_inputs_are_not_changed() -> None:
    cells = tiling_2x2(households=[600, 200, 400, 400], flags=[["oversized_unit"], [], [], []])
    cells.loc[1, "geometry"] = Polygon(
        [(X0 + 100, Y0 + 100), (X0 + 200, Y0 + 200), (X0 + 200, Y0 + 100), (X0 + 100, Y0 + 200)]
    )
    cells.index = [10, 11, 12, 13]
    communities = community_2x2()
    units = gpd.GeoDataFrame({"households": [5]}, geometry=[sq(90, 0, 30, 10)], crs=CRS)
    before = [copy.deepcopy(frame) for frame in (cells, communities, units)]
    report = validate_layout(cells, communities=communities, units=units, households="households")
    assert not report.ok
    for frame, kept in zip((cells, communities, units), before, strict=True):
        assert_geodataframe_equal(frame, kept)
    assert not shapely.is_valid(cells.geometry.iloc[1])  # not repaired in place
    assert report.households is not None
    assert list(report.households.index) == [10, 11, 12, 13]


# --- scale -------------------------------------------------------------------------------------


def _grid(nx: int, ny: int, size: float = 100.0) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """nx × ny squares; each 5 × 4 block is one community, numbered like the engine would."""
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
    ix, iy = ix.ravel(), iy.ravel()
    block = (iy // 4) * (nx // 5) + ix // 5
    communities = np.array([f"350304001{b + 1:03d}" for b in block])
    sequence = (3 - iy % 4) * 5 + ix % 5 + 1
    cells = gpd.GeoDataFrame(
        {"code": [f"{c}{s:03d}" for c, s in zip(communities, sequence, strict=True)]},
        geometry=shapely.box(
            X0 + ix * size, Y0 + iy * size, X0 + (ix + 1) * size, Y0 + (iy + 1) * size
        ),
        crs=CRS,
    )
    outline = cells[["geometry"]].assign(code=communities).dissolve("code").reset_index()
    return cells, outline


def test_a_thousand_cells_validate_and_one_moved_cell_is_found() -> None:
    cells, communities = _grid(40, 25)
    assert validate_layout(cells, communities=communities).findings == []
    moved = cells.copy()
    moved.loc[500, "geometry"] = translate(cells.geometry.iloc[500], 3.0, 0.0)
    report = validate_layout(moved, communities=communities)
    kinds = report.by_kind()
    assert kinds["overlap"] == 1 and kinds["gap"] == 1
    [overlap] = only(report, "overlap")
    assert overlap.measure == pytest.approx(300.0)
    [gap] = only(report, "gap")
    assert gap.measure == pytest.approx(300.0)


# --- real data: Leicester census areas ---------------------------------------------------------


@pytest.mark.skipif(not LEICESTER.exists(), reason=f"shared data not found at {LEICESTER}")
def test_leicester_census_areas_tile() -> None:
    """LSOAs (cells) in MSOAs (communities), households counted from the OAs (units).

    Census geography tiles exactly up to coordinate noise: the dissolved LSOAs overlap
    by at most 0.0065 m², so any tolerance of 0.01 m² or more finds no tiling error.
    """
    areas = gpd.read_file(LEICESTER / "E06000016_Leicester.shp")
    counts = pd.read_csv(LEICESTER / "leicester_oa_households.csv")
    assert areas.crs.to_epsg() == 27700
    oas = areas.merge(counts, left_on="oa_code", right_on="OA11CD", how="inner")
    assert len(oas) == len(areas) == 969
    cells = (
        oas.dissolve(by="LSOA11CD", aggfunc={"MSOA11CD": "first"})
        .reset_index()
        .rename(columns={"LSOA11CD": "code"})
    )
    communities = (oas.dissolve(by="MSOA11CD").reset_index()[["MSOA11CD", "geometry"]]).rename(
        columns={"MSOA11CD": "code"}
    )
    units = oas.set_index("oa_code")[["Total_Households", "geometry"]]

    report = validate_layout(
        cells,
        community="MSOA11CD",
        communities=communities,
        units=units,
        households="Total_Households",
        min_households=0,
        max_households=2000,
        tolerance_m2=0.01,
    )
    assert report.findings == [], report.lines()[:20]
    assert (report.cells, report.communities) == (192, 37)
    assert report.households is not None
    expected = counts.groupby("LSOA11CD")["Total_Households"].sum()
    counted = pd.Series(report.households.to_numpy(), index=cells["code"])
    pd.testing.assert_series_equal(
        counted.sort_index(), expected.astype(float).sort_index(), check_names=False
    )
    # With no tolerance at all, rounding along shared edges shows as a few overlaps of
    # under 0.01 m²: a tolerance is needed, and the default 1 m² is ample.
    strict = validate_layout(cells, community="MSOA11CD", communities=communities, tolerance_m2=0)
    assert set(strict.by_kind()) <= TILING_KINDS
    assert all(f.measure < 0.01 for f in strict.findings), strict.lines()

    # With the urban bounds of 300–500, the LSOAs (416–1,136 households) are mostly too big.
    judged = validate_layout(cells, units=units, households="Total_Households")
    assert set(judged.by_kind()) == {"households_above_max"}
    assert len(judged.findings) == int((expected > 500).sum())
