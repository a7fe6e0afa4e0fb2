"""Walking coverage and maximal covering: hand-made networks, the demo district, the JSON API."""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import sign_in
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import LineString, Point, Polygon
from sqlalchemy import Engine, create_engine

from gridgis.analysis.network import attach, reach, road_network
from gridgis.analysis.placement import (
    GREEDY_SOLVER,
    MILP_SOLVER,
    WALK_MINUTES,
    max_cover,
    read_placement_data,
    suggest_sites,
    walking_coverage,
)
from gridgis.errors import CRSError, InputError, NotFoundError
from gridgis.web import create_app
from gridgis.web.db import dispose_engine
from gridgis.web.placement_api import _MARGIN_EXTRA

METRIC = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Krüger CM 114E, metres
X0, Y0 = 500_000.0, 2_500_000.0
"""Origin of the hand-made places (about 114.0 E, 22.6 N)."""


def _xy(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def _line(*points: tuple[float, float]) -> LineString:
    return LineString([(X0 + x, Y0 + y) for x, y in points])


def _roads(*lines: LineString, kind: str = "local") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": [kind] * len(lines)}, geometry=list(lines), crs=METRIC)


def _points(*points: tuple[float, float], **columns: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[_xy(x, y) for x, y in points], crs=METRIC)


def _buildings(*points: tuple[float, float], households: list[int] | None = None) -> Any:
    return _points(*points, households=households or [10] * len(points))


# --- walking distances on hand-made networks -----------------------------------------------------


def test_a_building_400_m_along_the_road_is_covered_at_500_m_not_300_m() -> None:
    roads = _roads(_line((0, 0), (1000, 0)))
    facility = _points((0, 10), name=["站"])
    building = _buildings((400, 20), households=[7])
    at_500 = walking_coverage(facility, building, roads, distance=WALK_MINUTES[10])
    # 10 m from the facility to the road, 400 m along it, 20 m to the door.
    assert at_500.buildings["distance"].iloc[0] == pytest.approx(430.0)
    assert at_500.buildings["covered"].tolist() == [True]
    assert at_500.buildings["via"].tolist() == ["network"]
    assert at_500.buildings["facility"].tolist() == [0]
    assert at_500.facilities["method"].tolist() == ["network"]
    assert at_500.facilities["snap_distance"].iloc[0] == pytest.approx(10.0)
    assert at_500.facilities["households_reached"].tolist() == [7.0]
    assert at_500.summary["method"] == "network"
    assert at_500.summary["households_covered"] == 7.0
    at_300 = walking_coverage(facility, building, roads, distance=WALK_MINUTES[5])
    assert at_300.buildings["covered"].tolist() == [False]
    assert math.isnan(at_300.buildings["distance"].iloc[0])
    assert at_300.facilities["households_reached"].tolist() == [0.0]
    # The service area reaches 300 - 10 m along the road each way, widened by 50 m.
    area = at_300.facilities["service_area"].iloc[0]
    assert area.contains(_xy(250, 0)) and not area.contains(_xy(400, 0))


def test_the_walk_follows_the_road_not_the_straight_line() -> None:
    # A U-shaped road: the two ends are 100 m apart, 900 m apart along it.
    roads = _roads(_line((0, 0), (0, 400), (100, 400), (100, 0)))
    facility = _points((-10, 0))
    building = _buildings((110, 0))
    assert (
        not walking_coverage(facility, building, roads, distance=500.0).buildings["covered"].iloc[0]
    )
    far = walking_coverage(facility, building, roads, distance=1000.0)
    assert far.buildings["distance"].iloc[0] == pytest.approx(10 + 900 + 10)


def test_crossing_roads_are_noded_and_short_gaps_joined() -> None:
    crossing = _roads(_line((0, 0), (1000, 0)), _line((500, -500), (500, 500)))
    facility = _points((0, 5))
    building = _buildings((505, 400))
    cov = walking_coverage(facility, building, crossing, distance=1000.0)
    assert cov.buildings["distance"].iloc[0] == pytest.approx(5 + 500 + 400 + 5)
    # Two roads 5 m apart: joined by a 5 m connector, unless joining is switched off.
    gap = _roads(_line((0, 0), (500, 0)), _line((505, 0), (1000, 0)))
    target = _buildings((900, 5))
    joined = walking_coverage(facility, target, gap, distance=1000.0)
    assert joined.buildings["distance"].iloc[0] == pytest.approx(5 + 500 + 5 + 395 + 5)
    assert joined.summary["network"]["joined_gaps"] == 2
    apart = walking_coverage(facility, target, gap, distance=1000.0, join_gaps=0.0)
    assert not apart.buildings["covered"].iloc[0]
    assert apart.summary["network"]["components"] == 2


def test_straight_lines_where_no_walkable_road_is_near() -> None:
    facility = _points((0, 0))
    building = _buildings((400, 0))
    no_roads = _roads()
    # A river is a barrier, not a way; a road 300 m off is beyond the snap limit.
    river = _roads(_line((0, 0), (400, 0)), kind="river")
    far_road = _roads(_line((0, 300), (400, 300)))
    for roads in (no_roads, river, far_road):
        at_500 = walking_coverage(facility, building, roads, distance=500.0)
        assert at_500.buildings["distance"].iloc[0] == pytest.approx(400.0)
        assert at_500.buildings["via"].tolist() == ["straight_line"]
        assert at_500.buildings["method"].tolist() == ["straight_line"]
        assert at_500.facilities["method"].tolist() == ["straight_line"]
        assert at_500.summary["method"] == "straight_line"
        area = at_500.facilities["service_area"].iloc[0]
        assert area.area == pytest.approx(math.pi * 500**2, rel=0.01)
        at_300 = walking_coverage(facility, building, roads, distance=300.0)
        assert not at_300.buildings["covered"].iloc[0]


def test_a_facility_off_the_network_covers_by_straight_line_the_rest_by_road() -> None:
    roads = _roads(_line((0, 0), (2000, 0)))
    facilities = _points((0, 10), (1500, 400), name=["路边", "远离道路"])
    buildings = _buildings((300, 10), (1500, 200), (1700, 10))
    cov = walking_coverage(facilities, buildings, roads, distance=500.0)
    assert cov.facilities["method"].tolist() == ["network", "straight_line"]
    assert cov.buildings["via"].tolist() == ["network", "straight_line", "straight_line"]
    assert cov.buildings["facility"].tolist() == [0, 1, 1]
    assert cov.buildings["distance"].to_numpy() == pytest.approx([320, 200, math.hypot(200, 390)])
    assert cov.summary["method"] == "mixed"
    assert cov.facilities["households_nearest"].tolist() == [10.0, 20.0]


def test_cells_are_not_covered_below_the_threshold() -> None:
    roads = _roads(_line((0, 0), (3000, 0)))
    facility = _points((0, 10))
    # Cell A: 60 of 100 households within 500 m; cell B: none; cell C: no households.
    buildings = _buildings((100, 10), (900, 10), (2500, 10), households=[60, 40, 5])
    cells = gpd.GeoDataFrame(
        {"code": ["350304001001001", "350304001001002", "350304001001003"]},
        geometry=[
            Polygon(
                [(X0 + a, Y0 - 100), (X0 + b, Y0 - 100), (X0 + b, Y0 + 100), (X0 + a, Y0 + 100)]
            )
            for a, b in ((-100, 1000), (1000, 2800), (2800, 3000))
        ],
        crs=METRIC,
    )
    half = walking_coverage(facility, buildings, roads, distance=500.0, cells=cells)
    assert half.cells["households"].tolist() == [100, 5, 0]
    assert half.cells["households_covered"].tolist() == [60, 0, 0]
    assert half.cells["covered_share"].iloc[:2].tolist() == [0.6, 0.0]
    assert math.isnan(half.cells["covered_share"].iloc[2])
    assert half.cells["covered"].tolist() == [True, False, True]
    assert half.cells_not_covered["code"].tolist() == ["350304001001002"]
    assert half.buildings["cell_code"].tolist() == cells["code"].iloc[[0, 0, 1]].tolist()
    strict = walking_coverage(
        facility, buildings, roads, distance=500.0, cells=cells, threshold=0.7
    )
    assert strict.summary["cells_not_covered"] == 2


def test_inputs_are_checked_and_never_changed() -> None:
    roads = _roads(_line((0, 0), (1000, 0)))
    facility = _points((0, 10))
    building = _buildings((400, 20))
    before = building.copy()
    walking_coverage(facility, building, roads, distance=500.0)
    assert building.equals(before) and list(building.columns) == ["households", "geometry"]
    with pytest.raises(InputError, match="`distance` was -1"):
        walking_coverage(facility, building, roads, distance=-1)
    with pytest.raises(InputError, match=r"`threshold` was 1\.5"):
        walking_coverage(facility, building, roads, distance=500.0, threshold=1.5)
    with pytest.raises(CRSError, match="`buildings` is in EPSG:4326"):
        walking_coverage(facility, building.to_crs("EPSG:4326"), roads, distance=500.0)
    bad = building.assign(households=[-3])
    with pytest.raises(InputError, match="rows 0 are not"):
        walking_coverage(facility, bad, roads, distance=500.0)
    with pytest.raises(InputError, match="`join_gaps` was -5"):
        road_network(roads, join_gaps=-5)


def test_reach_gives_every_pair_within_the_limit() -> None:
    net = road_network(_roads(_line((0, 0), (1000, 0))))
    places = np.asarray([_xy(0, 10), _xy(400, 20), _xy(800, 0), _xy(500, 400)], dtype=object)
    placed = attach(net, places, snap_limit=150.0)
    assert placed.on_network.tolist() == [True, True, True, False]
    pairs = reach(placed, [0, 2], [1, 2, 3], limit=500.0)
    assert not isinstance(pairs, tuple)
    found = sorted(
        zip(pairs.source.tolist(), pairs.target.tolist(), pairs.distance.tolist(), strict=True)
    )
    assert [(s, t) for s, t, _ in found] == [(0, 0), (1, 0), (1, 1)]
    # 10 + 400 + 20 m; 400 + 20 m; a place to itself. Place 3 is 400 m off the road.
    assert [d for _, _, d in found] == pytest.approx([430.0, 420.0, 0.0], abs=1e-3)


# --- maximal covering ----------------------------------------------------------------------------

# Candidate 0 covers the four middle demand points (2 households each); 1 and 2 cover two of
# them and one outer point of 3 households each. Greedy takes 0 (8), then adds 3: 11.
# The optimum is {1, 2}: 14. The LP bound is 14 too: 8 + 3 x1 + 3 x2 <= 8 + 3 * 2.
_COVER = [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]]
_WEIGHTS = [2, 2, 2, 2, 3, 3]


def test_milp_finds_the_optimum_greedy_misses() -> None:
    s = max_cover(_COVER, _WEIGHTS, 2)
    assert s.greedy_objective == 11.0
    assert s.objective == 14.0 and s.milp_objective == 14.0
    assert sorted(s.chosen.tolist()) == [1, 2] and s.gains.sum() == 14.0
    assert s.solver == MILP_SOLVER and s.optimal and s.milp_status == "optimal"
    assert s.lp_bound == pytest.approx(14.0)
    assert s.bound == 14.0 and s.gap == 0.0
    assert s.greedy_gap == pytest.approx(3 / 14)
    assert s.summary.startswith("MILP (HiGHS) optimal: 14 households; greedy 11, within 21.4%")
    assert set(s.seconds) == {"greedy", "lp", "milp"}


def test_the_gap_is_reported_against_the_lp_bound_when_milp_is_not_run() -> None:
    s = max_cover(_COVER, _WEIGHTS, 2, milp_limit=0)
    assert s.solver == GREEDY_SOLVER and not s.optimal
    assert s.milp_objective is None and s.milp_status.startswith("not run")
    assert s.lp_bound == pytest.approx(14.0)
    # The LP bound (14) is tighter than greedy's own guarantee, 11 / (1 - 1/e) = 17.4.
    assert s.bound == pytest.approx(14.0)
    assert s.gap == pytest.approx(3 / 14) and s.greedy_gap == s.gap
    assert "within 21.4% of the LP bound 14" in s.summary


def test_max_cover_edge_cases_and_errors() -> None:
    nothing = max_cover(np.zeros((3, 0)), [], 2)
    assert nothing.objective == 0.0 and nothing.chosen.size == 0 and nothing.bound == 0.0
    more_than_useful = max_cover([[1, 0], [1, 0]], [5, 1], 2)
    assert more_than_useful.chosen.tolist() in ([0], [1]) and more_than_useful.objective == 5.0
    with pytest.raises(InputError, match="`k` was 0"):
        max_cover(_COVER, _WEIGHTS, 0)
    with pytest.raises(InputError, match="`weights` has 2 values"):
        max_cover(_COVER, [1, 2], 1)


def test_suggest_sites_on_a_road_where_greedy_is_suboptimal() -> None:
    # The instance above laid out along a road, with 300 m walks: sites on the road,
    # houses 10 m off it; a facility at the far end already covers one house.
    roads = _roads(_line((0, 0), (3000, 0)))
    facility = _points((2900, 10))
    houses = [(750, 10), (760, 10), (1240, 10), (1250, 10), (350, 10), (1650, 10), (2950, 10)]
    buildings = _buildings(*houses, households=[2, 2, 2, 2, 3, 3, 50])
    candidates = _points((1000, 0), (600, 0), (1400, 0), name=["S1", "S2", "S3"])
    plan = suggest_sites(facility, buildings, roads, k=2, distance=300.0, candidates=candidates)
    assert plan.uncovered_households == 14.0
    assert plan.solution.greedy_objective == 11.0
    assert sorted(plan.sites["name"]) == ["S2", "S3"]
    assert plan.sites["households_added"].sum() == 14.0 and plan.sites["rank"].tolist() == [1, 2]
    assert plan.to_dict()["solver"] == MILP_SOLVER and plan.to_dict()["optimal"]
    assert plan.to_dict()["share_of_uncovered_added"] == 1.0
    with pytest.raises(InputError, match="pass `cells`"):
        suggest_sites(facility, buildings, roads, k=2, distance=300.0)


# --- the demo district ---------------------------------------------------------------------------


STREET = "350304001"


def test_demo_coverage_is_consistent(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        data = read_placement_data(conn, street=STREET)
        with pytest.raises(NotFoundError, match="no street office has that code"):
            read_placement_data(conn, street="350304999")
        with pytest.raises(InputError, match="9-digit code"):
            read_placement_data(conn, street="3503")
    assert len(data.roads) and len(data.buildings) and len(data.cells)
    assert set(data.facilities["kind"]) == {"branch", "centre", "station"}
    assert data.cells["code"].str.startswith(STREET).all()
    coverages = {
        m: walking_coverage(
            data.facilities, data.buildings, data.roads, cells=data.cells, distance=d
        )
        for m, d in WALK_MINUTES.items()
    }
    covered = {m: c.buildings["covered"].to_numpy() for m, c in coverages.items()}
    assert (covered[5] <= covered[10]).all() and (covered[10] <= covered[15]).all()
    for cov in coverages.values():
        s = cov.summary
        bld = cov.buildings
        assert s["households_covered"] == bld.loc[bld["covered"], "households"].sum()
        assert cov.facilities["households_nearest"].sum() == pytest.approx(s["households_covered"])
        assert s["cells_not_covered"] == int((cov.cells["covered_share"] < 0.5).sum())
        assert s["area_method"].startswith("network: concave hull")
        # No walk is shorter than the straight line to the facility it reaches.
        hit = bld[bld["covered"]]
        fac = cov.facilities.to_crs(cov.network.crs).geometry
        straight = shapely.distance(
            np.asarray(hit.to_crs(cov.network.crs).geometry.array, dtype=object),
            np.asarray(fac.loc[hit["facility"].to_numpy()].array, dtype=object),
        )
        assert (hit["distance"].to_numpy() >= straight - 1e-6).all()
        assert (hit["distance"].to_numpy() <= s["distance_m"]).all()
    assert coverages[5].summary["covered_share"] < coverages[15].summary["covered_share"]


# --- the JSON API --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin(web: Flask) -> FlaskClient:
    client = web.test_client()
    sign_in(client, role="admin", name="placement-admin")
    return client


def _answer(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 200:
        assert response.mimetype == "application/geo+json"
    return json.loads(response.get_data(as_text=True))


def test_coverage_geojson_matches_the_library(web: Flask, admin: FlaskClient) -> None:
    assert _answer(web.test_client(), "/api/placement/coverage.geojson", 401)["error"]["message"]
    answer = _answer(admin, f"/api/placement/coverage.geojson?street={STREET}&minutes=5")
    engine = create_engine(web.config["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            data = read_placement_data(conn, street=STREET, margin=300.0 + _MARGIN_EXTRA)
    finally:
        engine.dispose()
    expected = walking_coverage(
        data.facilities, data.buildings, data.roads, cells=data.cells, distance=300.0
    )
    roles: dict[str, list[dict[str, Any]]] = {}
    for feature in answer["features"]:
        roles.setdefault(feature["properties"]["role"], []).append(feature)
    assert len(roles["cell"]) == len(data.cells)
    assert len(roles["facility"]) == len(data.facilities)
    assert len(roles["service_area"]) == len(data.facilities)
    summary = answer["summary"]
    assert summary["street"] == STREET and summary["minutes"] == 5
    assert summary["distance_m"] == 300.0 and summary["street_name"]
    assert summary["households_covered"] == expected.summary["households_covered"]
    assert summary["cells_not_covered"] == len(summary["cells_not_covered_codes"])
    assert summary["method"] in ("network", "mixed")
    facility = roles["facility"][0]["properties"]
    assert facility["method"] in ("network", "straight_line")
    assert {"households_reached", "households_nearest", "snap_distance_m"} <= set(facility)
    assert roles["service_area"][0]["geometry"]["type"] == "Polygon"
    lon, lat = roles["facility"][0]["geometry"]["coordinates"]
    assert 118 < lon < 120 and 24 < lat < 27
    bare = _answer(admin, f"/api/placement/coverage.geojson?street={STREET}&cell_geometry=0")
    cells = [f for f in bare["features"] if f["properties"]["role"] == "cell"]
    assert len(cells) == len(data.cells) and all(f["geometry"] is None for f in cells)


def test_suggest_answers_sites_with_solver_and_gap(admin: FlaskClient) -> None:
    answer = _answer(admin, f"/api/placement/suggest?street={STREET}&k=2&minutes=5")
    solution = answer["solution"]
    assert solution["solver"] in (MILP_SOLVER, GREEDY_SOLVER)
    assert solution["bound"] >= solution["objective"] >= solution["greedy_objective"] >= 0
    assert 0.0 <= solution["gap"] <= solution["greedy_gap"] + 1e-12 <= 1.0
    assert solution["summary"] and solution["k"] == 2 and solution["minutes"] == 5
    assert len(answer["features"]) == solution["sites"] <= 2
    added = [f["properties"]["households_added"] for f in answer["features"]]
    assert sum(added) == pytest.approx(solution["objective"])
    for feature in answer["features"]:
        assert feature["properties"]["role"] == "site"
        assert feature["properties"]["cell_code"].startswith(STREET)
    nodes = _answer(
        admin, f"/api/placement/suggest?street={STREET}&k=1&minutes=5&candidates=road_nodes"
    )
    assert all(f["properties"]["candidate"] == "road_node" for f in nodes["features"])


def test_a_street_office_sees_only_its_street(web: Flask) -> None:
    client = web.test_client()
    sign_in(client, role="street", street=STREET, name="placement-street")
    answer = _answer(client, "/api/placement/coverage.geojson?minutes=15")
    assert answer["summary"]["street"] == STREET
    assert not answer["summary"]["facilities_outside_shown"]
    for feature in answer["features"]:
        props = feature["properties"]
        if props["role"] == "cell":
            assert props["code"].startswith(STREET)
        if props["role"] == "facility":
            assert props["street_code"] == STREET and props["in_area"]
    for url in (
        "/api/placement/coverage.geojson?street=350304002",
        "/api/placement/suggest?street=350304002",
    ):
        assert "may see only street 350304001" in _answer(client, url, 403)["error"]["message"]


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("minutes=7", 422, "`minutes` was 7"),
        ("minutes=ten", 422, "`minutes` was 'ten'"),
        ("street=3503", 422, "`street` was '3503'"),
        ("street=350304%00001", 400, "NUL"),
        ("street=350304999", 404, "no street office has that code"),
        ("threshold=0", 422, "`threshold` was 0"),
        ("threshold=nan", 422, "`threshold` was 'nan'"),
        ("kinds=branch,shop", 422, "`kinds` was 'branch,shop'"),
        ("k=0", 422, "`k` was 0"),
        ("k=9999999999999999999999", 422, "`k` was"),
        ("k=-1", 422, "`k` was -1"),
        ("candidates=roofs", 422, "`candidates` was 'roofs'"),
        ("cell_geometry=maybe", 422, "`cell_geometry` was 'maybe'"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    admin: FlaskClient, query: str, status: int, message: str
) -> None:
    route = "suggest" if query.startswith(("k=", "candidates=")) else "coverage.geojson"
    assert message in _answer(admin, f"/api/placement/{route}?{query}", status)["error"]["message"]


def test_a_chinese_page_is_told_an_unknown_street_in_chinese(admin: FlaskClient) -> None:
    url = "/api/placement/coverage.geojson?street=350304999"
    chinese = admin.get(url, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 404
    assert chinese.get_json()["error"]["message"] == "`street` 为 '350304999'，但没有这个编码的街道"
    english = _answer(admin, url, 404)["error"]["message"]
    assert english == "`street` was '350304999' but no street office has that code"


def test_an_empty_database_answers_an_empty_collection(database_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        client = app.test_client()
        sign_in(client)
        answer = _answer(client, "/api/placement/coverage.geojson")
        assert answer["features"] == [] and answer["summary"]["households"] == 0
        suggestion = _answer(client, "/api/placement/suggest?k=2")
        assert suggestion["features"] == [] and suggestion["solution"]["sites"] == 0
    finally:
        dispose_engine(app)
