"""The case intake API (/api/cases...) through Flask's test client, on the demo district."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import geopandas as gpd
import pytest
from _api_auth import token_client
from conftest import backdate_case_to_1900
from conftest import cell_point as _cell_point
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import Engine, text

from gridgis.crs import wgs84_to_gcj02
from gridgis.db.layout import publish_cells
from gridgis.web import create_app
from gridgis.web.cases_api import intake_durable
from gridgis.web.db import dispose_engine
from gridgis.web.endpoints import MAX_BODY_BYTES
from gridgis.web.openapi import openapi_document


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    """The app (conftest's ``app``, ``client``) serves this test's copy of the demo district."""
    return demo_url


@pytest.fixture
def db(demo_engine: Engine) -> Engine:
    return demo_engine


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An administrator's client, by API token (tests/test_api_scope.py covers the roles)."""
    return token_client(app.test_client(), role="admin", name="admin-api")


@pytest.fixture(scope="module")
def shared_client(shared_client: FlaskClient) -> FlaskClient:
    """conftest's shared client on the demo, as an administrator by API token."""
    return token_client(shared_client, role="admin", name="admin-shared")


def _hours(db: Engine, category: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text("SELECT deadline_hours FROM case_category WHERE code = :c"), {"c": category}
            ).scalar_one()
        )


def _post_case(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    case: dict[str, Any] = _json(client.post("/api/cases", json=body), 201)
    return case


def _the_case(answer: dict[str, Any]) -> dict[str, Any]:
    """A case answer without what is looked up around the case (likely duplicates, merges:
    tests/test_duplicates.py), so that a new case's answer and a later GET compare."""
    around = ("likely_duplicates", "duplicates", "merged_from")
    return {key: value for key, value in answer.items() if key not in around}


# --- filing ------------------------------------------------------------------------------


def test_create_by_point_routes_the_case_to_its_cell(client: FlaskClient, db: Engine) -> None:
    code, lon, lat = _cell_point(db)
    response = client.post(
        "/api/cases",
        json={
            "category": "fire_safety",
            "lon": lon,
            "lat": lat,
            "description": "楼道堆放杂物，堵塞消防通道",
            "source": "网格员巡查",
            "external_id": "api-test-1",
            "reported_at": "2025-06-01T09:30:00+08:00",
        },
    )
    case = _json(response, 201)
    assert response.headers["Location"] == f"/api/cases/{case['id']}"
    assert case["cell_code"] == code
    assert case["community_code"] == code[:12]
    assert case["street_code"] == code[:9]
    assert case["located_by"] == "coordinates"
    assert case["location_flag"] is None
    assert case["step"] == "reported"
    assert case["reported_by"] == "admin-api"  # who filed it: the token's user
    assert case["category_name"] == "消防安全"
    assert (case["raw_x"], case["raw_y"], case["raw_crs"]) == (lon, lat, "wgs84")
    reported = dt.datetime.fromisoformat(case["reported_at"])
    assert reported == dt.datetime(2025, 6, 1, 1, 30, tzinfo=dt.UTC)
    deadline = dt.datetime.fromisoformat(case["deadline"])
    assert deadline - reported == dt.timedelta(hours=_hours(db, "fire_safety"))
    assert _the_case(_json(client.get(response.headers["Location"]), 200)) == _the_case(case)


def test_create_by_gcj02_point_lands_in_the_same_cell(client: FlaskClient, db: Engine) -> None:
    code, lon, lat = _cell_point(db)
    x, y = wgs84_to_gcj02(lon, lat)
    case = _post_case(client, {"category": "cityscape", "lon": x, "lat": y, "crs": "gcj02"})
    assert case["cell_code"] == code
    assert case["raw_crs"] == "gcj02"
    assert case["lon"] == pytest.approx(lon, abs=1e-7)


def test_create_by_address_matches_the_building(client: FlaskClient, db: Engine) -> None:
    with db.connect() as conn:
        building = conn.execute(
            text(
                "SELECT b.id, b.address, g.code FROM building b JOIN grid_cell g "
                "ON g.valid_to IS NULL AND ST_Covers(g.geom, b.location) "
                "WHERE b.address LIKE '荔城区镇海街道文献社区%' AND b.address IN ("
                "  SELECT address FROM building GROUP BY address HAVING count(*) = 1) "
                "ORDER BY b.id LIMIT 1"
            )
        ).one()
    case = _post_case(
        client, {"category": "消防安全", "address": building.address, "source": "12345热线"}
    )
    assert case["located_by"] == "address"
    assert case["building_id"] == building.id
    assert case["cell_code"] == building.code
    assert case["address"] == building.address
    assert case["category"] == "fire_safety"
    assert 0 < case["match_score"] <= 1


def test_a_case_filed_right_after_a_redraw_goes_to_the_new_cell(
    client: FlaskClient, db: Engine
) -> None:
    code, lon, lat = _cell_point(db)
    body = {"category": "errand", "lon": lon, "lat": lat}
    assert _post_case(client, body)["cell_code"] == code  # the app now holds the cells
    community = code[:12]
    with db.begin() as conn:  # merge the community's cells into one
        cells = gpd.read_postgis(
            text("SELECT code, geom FROM grid_cell WHERE community_code = :c AND valid_to IS NULL"),
            conn,
            params={"c": community},
            geom_col="geom",
        )
        version = conn.execute(
            text("SELECT max(version) FROM layout_version WHERE community_code = :c"),
            {"c": community},
        ).scalar_one()
        merged = gpd.GeoDataFrame(
            {"code": [f"{community}999"]}, geometry=[cells.union_all()], crs="EPSG:4326"
        )
        publish_cells(
            conn, community, merged, method="draw", expected_version=version, actor="test"
        )
    case = _post_case(client, body)
    assert case["cell_code"] == f"{community}999"
    assert _the_case(_json(client.get(f"/api/cases/{case['id']}"), 200)) == _the_case(case)


def test_the_sync_commit_setting(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_INTAKE_SYNC_COMMIT", "off")
    quick = create_app({"TESTING": True, "DATABASE_URL": demo_url})
    wrong = create_app({"TESTING": True, "DATABASE_URL": demo_url, "INTAKE_SYNC_COMMIT": "maybe"})
    try:
        assert not intake_durable(quick)
        quick_client = token_client(quick.test_client(), name="quick")
        case = _post_case(quick_client, {"category": "errand", "address": "荔城区"})
        assert case["location_flag"] == "unmatched"
        body = {"category": "errand", "address": "x"}
        refused = token_client(wrong.test_client(), name="wrong").post("/api/cases", json=body)
        assert _json(refused, 500)["error"]["message"] == (
            "GRIDGIS_INTAKE_SYNC_COMMIT was 'maybe' but is expected to be 'on' or 'off'"
        )
    finally:
        dispose_engine(quick)
        dispose_engine(wrong)


def test_a_point_outside_the_district_is_filed_with_its_flag(client: FlaskClient) -> None:
    case = _post_case(client, {"category": "dispute", "lon": 116.404, "lat": 39.915})
    assert case["cell_code"] is None
    assert case["location_flag"] == "outside"
    assert (case["lon"], case["lat"]) == (116.404, 39.915)


# --- the lifecycle -----------------------------------------------------------------------


def test_a_case_moves_through_every_step_to_closed(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    case = _post_case(
        client,
        {"category": "errand", "lon": lon, "lat": lat, "reported_at": "2025-06-01T08:00:00Z"},
    )
    url = f"/api/cases/{case['id']}/steps"
    hour = dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)
    for n, step in enumerate(["registered", "dispatched", "handled", "verified", "closed"]):
        at = (hour + dt.timedelta(hours=n)).isoformat()
        case = _json(client.post(url, json={"step": step, "at": at}), 200)
        assert case["step"] == step
        assert case[f"{step}_by"] == "admin-api"
        assert dt.datetime.fromisoformat(case[f"{step}_at"]) == hour + dt.timedelta(hours=n)
    assert case["overdue"] is False
    error = _json(client.post(url, json={"step": "rejected"}), 409)["error"]["message"]
    assert re.search(r"case \d+ is finished: 'closed' \(结案\)", error)


def test_steps_cannot_be_skipped_or_undone_and_keep_their_order(
    client: FlaskClient, db: Engine
) -> None:
    _, lon, lat = _cell_point(db)
    case = _post_case(
        client,
        {"category": "errand", "lon": lon, "lat": lat, "reported_at": "2025-06-01T08:00:00Z"},
    )
    url = f"/api/cases/{case['id']}/steps"
    skipped = _json(client.post(url, json={"step": "handled"}), 409)["error"]["message"]
    assert "cannot skip to 'handled' (处置)" in skipped
    early = client.post(url, json={"step": "registered", "at": "2025-06-01T07:00:00Z"})
    assert "a step cannot come before the one it follows" in _json(early, 400)["error"]["message"]
    _json(client.post(url, json={"step": "registered"}), 200)
    back = _json(client.post(url, json={"step": "registered"}), 409)["error"]["message"]
    assert "cannot go back to 'registered'" in back
    rejected = _json(client.post(url, json={"step": "rejected"}), 200)
    assert rejected["step"] == "rejected"
    assert rejected["rejected_by"] == "admin-api"


# --- listing and figures -----------------------------------------------------------------


def _count(db: Engine, where: str, params: dict[str, Any]) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM case_record c LEFT JOIN grid_cell g ON g.id = c.cell_id "
                    f"WHERE {where}"
                ),
                params,
            ).scalar_one()
        )


def test_list_filters_by_area_category_step_and_time(client: FlaskClient, db: Engine) -> None:
    with db.connect() as conn:
        sample = conn.execute(
            text(
                "SELECT g.code AS cell, c.community_code, c.street_code, c.category_code, "
                "c.reported_at FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                "ORDER BY c.id LIMIT 1"
            )
        ).one()
    since = sample.reported_at - dt.timedelta(days=30)
    until = sample.reported_at + dt.timedelta(days=30)
    filters: list[tuple[dict[str, str], str, dict[str, Any]]] = [
        ({"street": sample.street_code}, "c.street_code = :v", {"v": sample.street_code}),
        (
            {"community": sample.community_code},
            "c.community_code = :v",
            {"v": sample.community_code},
        ),
        ({"cell": sample.cell}, "g.code = :v", {"v": sample.cell}),
        ({"category": sample.category_code}, "c.category_code = :v", {"v": sample.category_code}),
        ({"step": "rejected"}, "c.step = :v", {"v": "rejected"}),
        ({"since": since.isoformat()}, "c.reported_at >= :v", {"v": since}),
        ({"until": until.isoformat()}, "c.reported_at < :v", {"v": until}),
        (
            {"overdue": "true"},
            "c.closed_at IS NULL AND c.rejected_at IS NULL AND now() > c.deadline",
            {},
        ),
        ({"closed_late": "true"}, "c.closed_at > c.deadline", {}),
    ]
    for query, where, params in filters:
        answer = _json(client.get("/api/cases", query_string={**query, "limit": 1000}), 200)
        assert answer["limit"] == 1000 and answer["offset"] == 0
        expected = _count(db, where, params)
        assert expected > 0, query
        assert len(answer["cases"]) == min(expected, 1000), query
        key, value = next(iter(query.items()))
        field = {"cell": "cell_code", "community": "community_code", "street": "street_code"}
        for case in answer["cases"]:
            if key in field:
                assert case[field[key]] == value
            elif key in ("category", "step"):
                assert case[key] == value
            elif key in ("overdue", "closed_late"):
                assert case[key] is True
            elif key == "since":
                assert dt.datetime.fromisoformat(case["reported_at"]) >= since
            else:
                assert dt.datetime.fromisoformat(case["reported_at"]) < until


def test_overdue_lists_only_open_cases_past_their_deadline(client: FlaskClient) -> None:
    # 超期 is open and past its deadline; a case closed after its deadline is 逾期结案, not 超期.
    answer = _json(client.get("/api/cases", query_string={"overdue": "true", "limit": 1000}), 200)
    assert answer["cases"]
    finished = [c["id"] for c in answer["cases"] if c["step"] in ("closed", "rejected")]
    assert finished == []


def _listed_ids(client: FlaskClient, query: dict[str, str]) -> set[int]:
    """The ids of every case ``GET /api/cases`` answers for ``query``, page by page."""
    ids: set[int] = set()
    while True:
        page = {**query, "limit": 1000, "offset": len(ids)}
        cases = _json(client.get("/api/cases", query_string=page), 200)["cases"]
        ids |= {c["id"] for c in cases}
        if len(cases) < 1000:
            return ids


def _ids(db: Engine, where: str) -> set[int]:
    with db.connect() as conn:
        return set(conn.execute(text(f"SELECT id FROM case_record WHERE {where}")).scalars())


def test_overdue_and_closed_late_match_a_count_over_the_database(
    client: FlaskClient, db: Engine
) -> None:
    # Worked out again from case_record: 超期 is open (neither closed nor rejected) and past
    # its deadline; 逾期结案 is closed after its deadline.
    open_late = "closed_at IS NULL AND rejected_at IS NULL AND deadline < now()"
    closed_late = "closed_at IS NOT NULL AND closed_at > deadline"
    everything = _listed_ids(client, {})
    before = _ids(db, open_late)
    overdue = _listed_ids(client, {"overdue": "true"})
    after = _ids(db, open_late)  # a deadline may pass while the pages are read
    assert before and before <= overdue <= after
    late = _listed_ids(client, {"closed_late": "true"})
    assert late and late == _ids(db, closed_late)
    assert not overdue & late
    assert _listed_ids(client, {"overdue": "false"}) == everything - overdue
    assert _listed_ids(client, {"closed_late": "false"}) == everything - late
    both = _listed_ids(client, {"overdue": "false", "closed_late": "false"})
    assert both == everything - overdue - late
    # 按期结案率 of the figures and the cases closed late add up to the cases closed.
    rows = _json(client.get("/api/cases/stats?level=street"), 200)["rows"]
    assert sum(r["closed"] - r["closed_on_time"] for r in rows) == len(late)
    assert sum(r["closed_late"] for r in rows) == len(late)
    assert sum(r["overdue_open"] for r in rows) in range(len(before), len(after) + 1)


def test_list_pages_newest_first(client: FlaskClient) -> None:
    first = _json(client.get("/api/cases?limit=5"), 200)["cases"]
    second = _json(client.get("/api/cases?limit=5&offset=5"), 200)["cases"]
    keys = [(dt.datetime.fromisoformat(c["reported_at"]), c["id"]) for c in first + second]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == 10


def test_stats_count_every_case_once(client: FlaskClient, db: Engine) -> None:
    answer = _json(client.get("/api/cases/stats?level=street&layout=filed"), 200)
    assert (answer["level"], answer["layout"]) == ("street", "filed")
    total = _count(db, "true", {})
    assert sum(row["cases"] for row in answer["rows"]) == total
    with db.connect() as conn:
        streets = set(conn.execute(text("SELECT code FROM street")).scalars())
    assert {row["code"] for row in answer["rows"]} - {None} <= streets
    rates = [row["closure_rate"] for row in answer["rows"] if row["closure_rate"] is not None]
    assert rates and all(0 <= r <= 1 for r in rates)


def test_categories_list_names_and_time_limits(client: FlaskClient, db: Engine) -> None:
    answer = _json(client.get("/api/categories"), 200)
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT code, name_zh, name_en, deadline_hours FROM case_category ORDER BY code")
        ).all()
    assert answer == [dict(r._mapping) for r in rows]


# --- invalid requests --------------------------------------------------------------------

_BAD_CASES: list[tuple[str, Any, int, str]] = [
    ("not an object", [1, 2], 422, r"the body was \[1, 2\] but is expected to be a JSON object"),
    ("unknown field", {"category": "dispute", "address": "x", "colour": "red"}, 422,
     r"`case` has unknown field\(s\) `colour`; allowed: `category`"),
    ("missing category", {"address": "荔城区"}, 422, r"`case` needs `category`"),
    ("no place", {"category": "dispute"}, 422, r"`case` needs `lon` and `lat` or `address`"),
    ("lon as text", {"category": "dispute", "lon": "119.0", "lat": 25.4}, 422,
     r"`lon` was '119\.0' but is expected to be a finite number"),
    ("lat as boolean", {"category": "dispute", "lon": 119.0, "lat": True}, 422,
     r"`lat` was True but is expected to be a finite number"),
    ("huge lon", {"category": "dispute", "lon": 1e300, "lat": 25.4}, 422,
     r"`lon` was 1e\+300 but is expected to be at most 100000000\.0"),
    ("huge integer", {"category": "dispute", "lon": 10**40, "lat": 25.4}, 422,
     r"`lon` was 1(0){40} but is expected to be at most 100000000\.0"),
    ("null category", {"category": None, "address": "x"}, 422,
     r"`category` was null but is expected to be a string"),
    ("naive time", {"category": "dispute", "address": "x", "reported_at": "2025-06-01 08:00"},
     422, r"`reported_at` was '2025-06-01 08:00' but is expected to be an ISO 8601 date-time"),
    ("year 0001", {"category": "dispute", "address": "x", "reported_at": "0001-01-01T00:00:00Z"},
     422, r"in the years 1900–2999"),
    ("long text", {"category": "dispute", "address": "x", "description": "长" * 4001}, 422,
     r"`description` has 4001 characters but is expected to have at most 4000"),
    ("NUL", {"category": "dispute", "address": "x", "source": "a\x00b"}, 400,
     r"字段 `source` 的值 'a\\x00b' 含有空字符（NUL）"),
    ("lone surrogate", {"category": "dispute", "address": "x", "source": "\ud800"}, 422,
     r"`source` was '\\ud800' but is not valid Unicode text"),
    ("reported_by", {"category": "dispute", "address": "x", "reported_by": "林"}, 422,
     r"`case` has unknown field\(s\) `reported_by`; allowed: `category`"),
    ("empty external id", {"category": "dispute", "address": "x", "external_id": ""}, 422,
     r"`external_id` was '' but is expected to be non-empty"),
    ("unknown crs form", {"category": "dispute", "lon": 1, "lat": 2, "crs": "mars"}, 422,
     r"`crs` was 'mars' but is expected to match .*\(wgs84 \(default\) \| cgcs2000"),
    ("unknown EPSG", {"category": "dispute", "lon": 1, "lat": 2, "crs": "EPSG:99999"}, 400,
     r"`crs` was 'EPSG:99999' but is expected to be one of wgs84"),
    ("lon without lat", {"category": "dispute", "lon": 119.0, "address": "荔城区"}, 400,
     r"`lon` was 119\.0 and `lat` was None: give both coordinates, or neither"),
    ("not degrees", {"category": "dispute", "lon": 500, "lat": 500}, 400,
     r"`lon`/`lat` were \(500\.0, 500\.0\) in wgs84 but these are not a longitude and latitude"),
    ("unknown category", {"category": "no_such", "address": "x"}, 404,
     r"`category` was 'no_such' but is expected to be one of the categories"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "message"), [c[1:] for c in _BAD_CASES],
                         ids=[c[0] for c in _BAD_CASES])  # fmt: skip
def test_invalid_cases_are_refused_with_a_message(
    shared_client: FlaskClient, body: Any, status: int, message: str
) -> None:
    sent = json.dumps(body)  # ASCII escapes: a lone surrogate travels as \ud800
    response = shared_client.post("/api/cases", data=sent, content_type="application/json")
    error = _json(response, status)["error"]["message"]
    assert re.search(message, error), error


_BAD_BODIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("text/plain", {"data": "{}", "content_type": "text/plain"}, 415,
     r"the body's content type was 'text/plain' but is expected to be 'application/json'"),
    ("no content type", {"data": "{}"}, 415, r"the body's content type was missing"),
    ("form", {"data": {"category": "dispute"}}, 415,
     r"content type was 'application/x-www-form-urlencoded'"),
    ("broken JSON", {"data": '{"category": ', "content_type": "application/json"}, 400,
     r"the body is not valid JSON: Expecting value"),
    ("NaN", {"data": '{"lon": NaN}', "content_type": "application/json"}, 400,
     r"NaN is not a number JSON allows"),
    ("Infinity", {"data": '{"lon": -Infinity}', "content_type": "application/json"}, 400,
     r"-Infinity is not a number JSON allows"),
    ("overflowing float", {"data": '{"lon": 1e999}', "content_type": "application/json"}, 400,
     r"1e999 is too large for a number"),
    ("duplicate field", {"data": '{"lon": 1, "lon": 2}', "content_type": "application/json"},
     400, r"the field 'lon' is given twice"),
    ("not UTF-8", {"data": b'{"address": "\xff"}', "content_type": "application/json"}, 400,
     r"the body is not valid JSON: 'utf-8' codec can't decode"),
    ("too deep", {"data": "[" * 100_000 + "]" * 100_000, "content_type": "application/json"},
     413, r"the body has 200000 bytes but may have at most 65536"),
    ("nested deeply", {"data": "[" * 30_000 + "]" * 30_000, "content_type": "application/json"},
     400, r"the body is not valid JSON: it is nested too deeply"),
    ("too large", {"json": {"category": "x", "address": "x" * MAX_BODY_BYTES}}, 413,
     r"but may have at most 65536"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "status", "message"), [c[1:] for c in _BAD_BODIES],
                         ids=[c[0] for c in _BAD_BODIES])  # fmt: skip
def test_unreadable_bodies_are_refused_with_a_message(
    shared_client: FlaskClient, kwargs: dict[str, Any], status: int, message: str
) -> None:
    error = _json(shared_client.post("/api/cases", **kwargs), status)["error"]["message"]
    assert re.search(message, error), error


_BAD_QUERIES: list[tuple[str, str, int, str]] = [
    ("/api/cases?limit=0", "", 422, r"`limit` was 0 but is expected to be at least 1"),
    ("/api/cases?limit=1001", "", 422, r"`limit` was 1001 but is expected to be at most 1000"),
    ("/api/cases?limit=ten", "", 422, r"`limit` was 'ten' but is expected to be an integer"),
    ("/api/cases?limit=5.5", "", 422, r"`limit` was '5\.5' but is expected to be an integer"),
    ("/api/cases?offset=-1", "", 422, r"`offset` was -1 but is expected to be at least 0"),
    ("/api/cases?limit=5&limit=6", "", 422, r"`limit` was given 2 times but may be given once"),
    ("/api/cases?page=2", "", 422, r"unknown query parameter\(s\) `page`; allowed: .*`street`"),
    ("/api/cases?overdue=maybe", "", 422, r"`overdue` was 'maybe' but is expected to be true or"),
    ("/api/cases?street=35030400", "", 422, r"`street` was '35030400' but is expected to match"),
    ("/api/cases?cell=%00", "", 400, r"参数 `cell` 的值 '\\x00' 含有空字符（NUL）"),
    ("/api/cases?step=done", "", 422, r"`step` was 'done' but is expected to be one of \['rep"),
    ("/api/cases?since=2025-01-01", "", 422, r"`since` was '2025-01-01' but is expected to be"),
    ("/api/cases?category=no_such", "", 404, r"`category` was 'no_such'"),
    ("/api/cases/stats?level=district", "", 422, r"`level` was 'district' but is expected to"),
    ("/api/cases/stats?layout=today", "", 422, r"`layout` was 'today' but is expected to be"),
    ("/api/cases/99999999999999999999", "", 404, r"case 99999999999999999999 does not exist"),
    ("/api/cases/0", "", 404, r"case 0 does not exist"),
    ("/api/cases/123456789", "", 404, r"case 123456789 does not exist"),
    ("/api/cases/abc", "", 404, r"The requested URL was not found"),
    ("/api/cases", "PUT", 405, r"The method is not allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "method", "status", "message"), _BAD_QUERIES,
                         ids=[q[0] + q[1] for q in _BAD_QUERIES])  # fmt: skip
def test_invalid_parameters_are_refused_with_a_message(
    shared_client: FlaskClient, url: str, method: str, status: int, message: str
) -> None:
    error = _json(shared_client.open(url, method=method or "GET"), status)["error"]["message"]
    assert re.search(message, error), error


def test_invalid_steps_are_refused_with_a_message(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    url = f"/api/cases/{_post_case(client, {'category': 'errand', 'lon': lon, 'lat': lat})['id']}"
    bad: list[tuple[Any, int, str]] = [
        ({"step": "finished"}, 422, r"`step` was 'finished' but is expected to be"),
        ({"step": "reported"}, 422, r"`step` was 'reported' but is expected to be"),
        ({"at": "2025-06-01T07:00:00Z"}, 422, r"`step` needs `step`"),
        ({"step": "registered", "actor": "a"}, 422, r"unknown field\(s\) `actor`; allowed: `step`"),
        ({"step": "registered", "at": "yesterday"}, 422, r"`at` was 'yesterday'"),
    ]
    for body, status, message in bad:
        error = _json(client.post(url + "/steps", json=body), status)["error"]["message"]
        assert re.search(message, error), (body, error)
    missing = client.post("/api/cases/987654321/steps", json={"step": "registered"})
    assert _json(missing, 404)["error"]["message"] == "case 987654321 does not exist"
    assert _json(client.get(url), 200)["step"] == "reported"


def test_a_duplicate_external_id_is_a_conflict(client: FlaskClient) -> None:
    body = {"category": "dispute", "address": "荔城区", "external_id": "12345-0001"}
    first = _post_case(client, body)
    error = _json(client.post("/api/cases", json=body), 409)["error"]["message"]
    assert error == (
        f"`external_id` was '12345-0001' but case {first['id']} already has it; "
        "a case is filed only once"
    )


# --- the OpenAPI document ----------------------------------------------------------------


def test_openapi_document_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    served = _json(client.get("/api/openapi.json"), 200)
    assert served == openapi_document()
    assert served["openapi"] == "3.1.0"
    validate(served)  # against the OpenAPI 3.1 meta-schema
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, item in served["paths"].items()
        for method in item
    }
    routes = set()  # every JSON route the app registers (the API, Open311, the tiles)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/open311/", "/tiles/")):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
            routes |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    routes -= {("/open311/v2/<rest>", "GET"), ("/open311/v2/<rest>", "POST")}  # the spec's 404
    assert documented == routes
    schemes = served["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerToken"]["description"],
    }
    assert (schemes["open311ApiKey"]["in"], schemes["open311ApiKey"]["name"]) == (
        "query",
        "api_key",
    )
    for path, item in served["paths"].items():
        for method, op in item.items():
            public = op.get("security") == []
            assert public == (path in ("/api/health", "/api/openapi.json")), (path, method)
            key_optional = {} in op.get("security", [])  # Open311's reading
            assert key_optional == (path.startswith("/open311/") and method == "get"), path
            if not public:
                assert {"401", "403"} <= set(op["responses"]), (path, method)
    # 超期 and 逾期结案: two query parameters declared alike, two fields of a case.
    parameters = {p["name"]: p for p in served["paths"]["/api/cases"]["get"]["parameters"]}
    assert parameters["closed_late"]["schema"] == parameters["overdue"]["schema"]
    assert "逾期结案" in parameters["closed_late"]["description"]
    assert "超期" in parameters["overdue"]["description"]
    case = served["components"]["schemas"]["Case"]
    assert {"overdue", "closed_late"} <= set(case["required"])
    assert case["properties"]["closed_late"]["type"] == "boolean"


# --- implausible dates and old times (issue 14, defect 13) -----------------------------------


@pytest.mark.parametrize(
    ("reported_at", "status", "message"),
    [
        ("0001-01-01T00:00:00+08:00", 422, r"`reported_at` was '0001-01-01T00:00:00\+08:00'"),
        ("1900-01-01T00:00:00+08:00", 400,
         r"`reported_at` was '1900-01-01T00:00:00\+08:00' but is before 1949-10-01"),
        (f"{dt.date.today().year + 1}-03-01T08:00:00+08:00", 400,
         r"`reported_at` was '\d{4}-03-01T08:00:00\+08:00' but is after tomorrow"),
    ],
)  # fmt: skip
def test_implausible_report_times_are_refused_naming_the_field(
    client: FlaskClient, db: Engine, reported_at: str, status: int, message: str
) -> None:
    _, lon, lat = _cell_point(db)
    response = client.post(
        "/api/cases",
        json={"category": "errand", "lon": lon, "lat": lat, "reported_at": reported_at},
    )
    assert response.status_code == status, response.get_data(as_text=True)
    assert re.search(message, _json(response, status)["error"]["message"])
    implausible = text(
        "SELECT count(*) FROM case_record "
        "WHERE reported_at < '1949-10-01' OR reported_at > now() + interval '2 days'"
    )
    with db.connect() as conn:
        assert conn.execute(implausible).scalar() == 0


def test_an_old_case_is_answered_at_plus_eight_hours(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    case = _post_case(client, {"category": "errand", "lon": lon, "lat": lat})
    backdate_case_to_1900(db, case["id"])
    answered = _json(client.get(f"/api/cases/{case['id']}"), 200)
    assert answered["reported_at"] == "1900-01-01T00:00:00+08:00"  # not 00:05:43+08:05:43
    assert answered["deadline"] == "1900-01-02T00:00:00+08:00"
    listed = _json(
        client.get("/api/cases?since=1900-01-01T00:00:00%2B08:00&until=1901-01-01T00:00:00Z"), 200
    )
    mine = [c for c in listed["cases"] if c["id"] == case["id"]]
    assert [c["reported_at"] for c in mine] == ["1900-01-01T00:00:00+08:00"]


# --- errors in the asker's language --------------------------------------------------------

_ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def test_case_errors_come_in_chinese_when_asked(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    case = _post_case(client, {"category": "errand", "lon": lon, "lat": lat})
    url = f"/api/cases/{case['id']}/steps"
    skipped = client.post(url, json={"step": "handled"}, headers=_ZH)
    assert _json(skipped, 409)["error"]["message"] == (
        f"事件 {case['id']} 处于“上报”步骤，下一步是“立案”，不能跳到“处置”"
    )
    english = _json(client.post(url, json={"step": "handled"}), 409)["error"]["message"]
    assert "cannot skip to 'handled' (处置)" in english
    missing = client.post("/api/cases/987654321/steps", json={"step": "registered"}, headers=_ZH)
    assert _json(missing, 404)["error"] == {
        "code": "not_found",
        "message": "事件 987654321 不存在",
        "field": None,
    }
    body = {"category": "dispute", "address": "荔城区", "external_id": "12345-zh"}
    _post_case(client, body)
    again = _json(client.post("/api/cases", json=body, headers=_ZH), 409)["error"]["message"]
    assert again.startswith("`external_id` 为 '12345-zh'，但事件 ") and "只能上报一次" in again


def test_request_errors_come_in_chinese_when_asked(client: FlaskClient) -> None:
    unknown = _json(client.get("/api/cases?colour=red", headers=_ZH), 422)["error"]
    assert unknown["message"].startswith("查询参数有误\n")
    assert "未知的查询参数 `colour`" in unknown["message"]
    english = _json(client.get("/api/cases?colour=red"), 422)["error"]["message"]
    assert english.startswith("invalid query parameters\n")
    not_json = client.post("/api/cases", data="x", content_type="text/plain", headers=_ZH)
    assert _json(not_json, 415)["error"]["message"].startswith("请求内容的类型为 'text/plain'")
    # werkzeug's own 404 (no route) answers its Chinese title, the English stays werkzeug's
    assert _json(client.get("/api/no-such-route", headers=_ZH), 404)["error"]["message"] == "未找到"
    assert "not found" in _json(client.get("/api/no-such-route"), 404)["error"]["message"]


def test_body_checks_come_in_chinese_when_asked(shared_client: FlaskClient) -> None:
    body = {"category": "errand", "lon": "119", "lat": 25.4, "description": "x" * 5000}
    zh = _json(shared_client.post("/api/cases", json=body, headers=_ZH), 422)["error"]
    assert zh["message"].startswith("事件有误\n")
    assert "`lon` 为 '119'，应为有限的数" in zh["message"]
    assert "`description` 有 5000 个字符，最多应为" in zh["message"]
    english = _json(shared_client.post("/api/cases", json=body), 422)["error"]["message"]
    assert english.startswith("invalid case\n") and "`lon` was '119'" in english
    missing = shared_client.post("/api/cases/1/steps", json={}, headers=_ZH)
    assert "办理步骤缺少 `step`" in _json(missing, 422)["error"]["message"]
    assert (
        "`step` needs `step`"
        in _json(shared_client.post("/api/cases/1/steps", json={}), 422)["error"]["message"]
    )
