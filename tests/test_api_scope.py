"""Who sees what through the JSON APIs: every route, every role, on the demo district.

A street office (role ``street``) sees, files and moves on only its own
street's cells and cases; an analyst reads everything and changes nothing;
anonymous requests are answered 401 everywhere but ``/api/health``,
``/api/openapi.json`` and Open311's reading (public, as its specification has
it, unless ``GRIDGIS_OPEN311_PUBLIC_READ`` is off). An API token stands in for
a session.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from _api_auth import user_token
from conftest import response_json, sample_url, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

V2 = "/open311/v2"
PUBLIC = {"/api/health", "/api/openapi.json", "/open311/v2/<path:rest>"}
"""Routes anyone may call: monitoring, the API's description, and Open311's 404 for paths
that are no resource (it reads nothing)."""
OPEN311_READS = {
    "/open311/v2/services.<fmt>",
    "/open311/v2/services/<service_code>.<fmt>",
    "/open311/v2/requests.<fmt>",
    "/open311/v2/requests/<service_request_id>.<fmt>",
}
"""Open311's resources anyone may GET by default (``GRIDGIS_OPEN311_PUBLIC_READ``)."""


class Streets(NamedTuple):
    own: str
    other: str
    own_case: int
    other_case: int
    own_point: tuple[float, float]
    other_point: tuple[float, float]
    other_address: str


@pytest.fixture(scope="module")
def app(shared_client: FlaskClient) -> Flask:
    """The app of conftest's shared client: one copy of the demo for this module."""
    return shared_client.application


@pytest.fixture(scope="module")
def db(app: Flask) -> Iterator[Engine]:
    engine = create_engine(app.config["DATABASE_URL"])
    yield engine
    engine.dispose()


def _point(db: Engine, street: str) -> tuple[float, float]:
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
                "  SELECT ST_PointOnSurface(ST_Buffer(geom, -0.0002)) AS p FROM grid_cell"
                "  WHERE valid_to IS NULL AND code LIKE :s || '%'"
                "  AND NOT ST_IsEmpty(ST_Buffer(geom, -0.0002)) ORDER BY code LIMIT 1) s"
            ),
            {"s": street},
        ).one()
    return row.lon, row.lat


@pytest.fixture(scope="module")
def streets(db: Engine) -> Streets:
    """Two streets of the demo that both have open cases, and what lies in each."""
    with db.connect() as conn:
        own, other = conn.execute(
            text(
                "SELECT street_code FROM case_record WHERE street_code IS NOT NULL "
                "AND step NOT IN ('closed', 'rejected') "
                "GROUP BY street_code ORDER BY count(*) DESC LIMIT 2"
            )
        ).scalars()
        first_open = (
            "SELECT min(id) FROM case_record WHERE street_code = :s "
            "AND step NOT IN ('closed', 'rejected')"
        )
        own_case = conn.execute(text(first_open), {"s": own}).scalar_one()
        other_case = conn.execute(text(first_open), {"s": other}).scalar_one()
        address = conn.execute(
            text(
                "SELECT b.address FROM building b JOIN grid_cell g "
                "ON g.valid_to IS NULL AND ST_Covers(g.geom, b.location) "
                "WHERE g.code LIKE :s || '%' AND b.address IN ("
                "  SELECT address FROM building GROUP BY address HAVING count(*) = 1) "
                "ORDER BY b.id LIMIT 1"
            ),
            {"s": other},
        ).scalar_one()
    return Streets(own, other, own_case, other_case, _point(db, own), _point(db, other), address)


def _client(app: Flask, name: str, role: str, street: str | None = None) -> FlaskClient:
    client = app.test_client()
    token = user_token(app.config["DATABASE_URL"], name, role=role, street=street)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="module")
def office(app: Flask, streets: Streets) -> FlaskClient:
    """A street office of ``streets.own``, by API token."""
    return _client(app, "office", "street", streets.own)


@pytest.fixture(scope="module")
def analyst(app: Flask) -> FlaskClient:
    return _client(app, "analyst", "analyst")


def _error(response: Any, status: int) -> str:
    body = response_json(response, status)
    if isinstance(body, list):  # Open311's list of errors
        assert len(body) == 1 and body[0]["code"] == status
        return str(body[0]["description"])
    return str(body["error"]["message"])


def _count_cases(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM case_record")).scalar_one())


# --- anonymous ---------------------------------------------------------------------------


def _anonymous_calls(app: Flask, *, public_read: bool) -> Iterator[tuple[str, str, Any]]:
    """Each (method, url, answer) of an anonymous call to an /api, /open311 or /tiles route
    that needs a user (a key, for Open311), with Open311's reading public or not."""
    anonymous = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/open311/", "/tiles/")) or rule.rule in PUBLIC:
            continue
        url = sample_url(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if public_read and method == "GET" and rule.rule in OPEN311_READS:
                continue
            yield method, url, anonymous.open(url, method=method, json={})


def test_every_api_route_but_the_public_ones_needs_a_user(app: Flask) -> None:
    """Enumerates the app's routes: a new /api, /open311 or /tiles route without a login
    check fails here."""
    for public_read in (False, True):
        app.config["OPEN311_PUBLIC_READ"] = public_read
        checked = []
        for method, url, response in _anonymous_calls(app, public_read=public_read):
            message = _error(response, 401)
            assert "token" in message or "api_key" in message, (method, url, message)
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="gridgis"'
            checked.append((method, url))
        assert ("GET", "/api/cases") in checked and ("POST", "/api/cases/1/steps") in checked
        assert ("GET", "/tiles/cells/0/0/0.pbf") in checked
        assert ("POST", f"{V2}/requests.json") in checked
        assert (("GET", f"{V2}/services.json") in checked) is not public_read
        assert len(checked) >= 18
    anonymous = app.test_client()
    for url in ("/api/health", "/api/openapi.json", f"{V2}/services.json", f"{V2}/requests.json"):
        assert anonymous.get(url).status_code == 200


# --- a street office ---------------------------------------------------------------------


def test_a_street_office_lists_and_counts_only_its_street(
    office: FlaskClient, streets: Streets
) -> None:
    listed = response_json(office.get("/api/cases?limit=1000"), 200)["cases"]
    assert listed and {c["street_code"] for c in listed} == {streets.own}
    for key, code in [
        ("street", streets.other),
        ("community", streets.other + "001"),
        ("cell", streets.other + "001001"),
    ]:
        message = _error(office.get(f"/api/cases?{key}={code}"), 403)
        assert message == (
            f"`{key}` was {code!r} but user 'office' may see only street {streets.own}"
        )
    own_filter = response_json(office.get(f"/api/cases?community={streets.own}001"), 200)
    assert {c["street_code"] for c in own_filter["cases"]} <= {streets.own}
    for level in ("cell", "community", "street"):
        rows = response_json(office.get(f"/api/cases/stats?level={level}"), 200)["rows"]
        assert rows and all(
            r["code"] is not None and r["code"].startswith(streets.own) for r in rows
        )
    assert [
        r["code"] for r in response_json(office.get("/api/cases/stats?level=street"), 200)["rows"]
    ] == [streets.own]
    assert response_json(office.get("/api/categories"), 200)
    since = "start_date=2000-01-01T00:00:00Z"
    requests = response_json(office.get(f"{V2}/requests.json?{since}"), 200)
    assert requests  # filtered by the same street code as /api/cases: check the first
    first = response_json(office.get(f"/api/cases/{requests[0]['service_request_id']}"), 200)
    assert first["street_code"] == streets.own


def test_another_streets_case_does_not_exist_for_a_street_office(
    office: FlaskClient, streets: Streets
) -> None:
    assert (
        response_json(office.get(f"/api/cases/{streets.own_case}"), 200)["id"] == streets.own_case
    )
    hidden = _error(office.get(f"/api/cases/{streets.other_case}"), 404)
    assert hidden == f"case {streets.other_case} does not exist"
    assert _error(office.get("/api/cases/987654321"), 404) == "case 987654321 does not exist"
    assert _error(office.get(f"{V2}/requests/{streets.other_case}.json"), 404) == (
        f"case {streets.other_case} does not exist"
    )
    both = f"{streets.own_case},{streets.other_case}"
    found = response_json(office.get(f"{V2}/requests.json?service_request_id={both}"), 200)
    assert [r["service_request_id"] for r in found] == [str(streets.own_case)]
    step = office.post(f"/api/cases/{streets.other_case}/steps", json={"step": "rejected"})
    assert _error(step, 404) == f"case {streets.other_case} does not exist"


def test_a_street_office_moves_on_only_its_own_cases(
    office: FlaskClient, streets: Streets, db: Engine
) -> None:
    case = response_json(
        office.post(f"/api/cases/{streets.own_case}/steps", json={"step": "rejected"}), 200
    )
    assert (case["step"], case["rejected_by"]) == ("rejected", "office")
    with db.connect() as conn:
        other = conn.execute(
            text("SELECT step FROM case_record WHERE id = :i"), {"i": streets.other_case}
        ).scalar_one()
    assert other not in ("rejected", "closed")


def test_a_street_office_files_only_in_its_street(
    office: FlaskClient, streets: Streets, db: Engine
) -> None:
    before = _count_cases(db)
    lon, lat = streets.other_point
    refused = [
        office.post("/api/cases", json={"category": "errand", "lon": lon, "lat": lat}),
        office.post("/api/cases", json={"category": "errand", "address": streets.other_address}),
        office.post("/api/cases", json={"category": "errand", "lon": 116.404, "lat": 39.915}),
        office.post(
            f"{V2}/requests.json", json={"service_code": "errand", "lat": lat, "long": lon}
        ),
    ]
    messages = [_error(r, 403) for r in refused]
    assert messages[0] == (
        f"the case falls in street {streets.other} but user 'office' may file cases only in "
        f"street {streets.own}; nothing was stored"
    )
    assert messages[1] == messages[0] and messages[3] == messages[0]
    assert "falls in no cell (location_flag 'outside')" in messages[2]
    assert _count_cases(db) == before
    lon, lat = streets.own_point
    filed = response_json(
        office.post("/api/cases", json={"category": "errand", "lon": lon, "lat": lat}), 201
    )
    assert (filed["street_code"], filed["reported_by"]) == (streets.own, "office")
    assert _count_cases(db) == before + 1


def test_a_street_office_gets_only_its_streets_cells_and_areas(
    office: FlaskClient, streets: Streets
) -> None:
    other = streets.other
    for url in [
        f"/api/areas/cell.geojson?within={other}",
        f"/tiles/cells/0/0/0.pbf?street={other}",
        f"/api/density/cells.geojson?street={other}&geometry=0",
        f"/api/density/cells.geojson?community={other}001&geometry=0",
        f"/api/density/cells.json?street={other}",
        f"/api/density/heat.json?street={other}",
        f"/api/placement/coverage.geojson?street={other}",
        f"/api/placement/suggest?street={other}",
    ]:
        message = _error(office.get(url), 403)
        assert other in message and streets.own in message, (url, message)
    cells = office.get("/api/areas/cell.geojson").get_json()["features"]
    assert cells and all(f["properties"]["code"].startswith(streets.own) for f in cells)
    density = office.get("/api/density/cells.geojson?geometry=0").get_json()
    assert density["features"]
    assert {f["properties"]["street_code"] for f in density["features"]} == {streets.own}
    table = office.get("/api/density/cells.json?fields=street_code").get_json()
    assert table["rows"] and {row[1] for row in table["rows"]} == {streets.own}
    summary = response_json(office.get("/api/summary"), 200)
    assert summary["street"] == 1


def test_a_street_office_exports_no_other_district(office: FlaskClient, streets: Streets) -> None:
    message = _error(office.get("/api/export/cells.csv?district=110101"), 403)
    assert message == f"`district` was '110101' but user 'office' may see only street {streets.own}"
    own_district = office.get(f"/api/export/cells.csv?district={streets.own[:6]}")
    assert own_district.status_code == 200
    rows = csv.DictReader(io.StringIO(own_district.get_data().decode("utf-8-sig")))
    codes = [row["code"] for row in rows]
    assert codes and all(code.startswith(streets.own) for code in codes)
    both = _error(office.get(f"/api/export/cells.csv?district=110101&street={streets.own}"), 403)
    assert "'110101'" in both


def test_a_street_office_learns_nothing_of_another_streets_case_by_its_external_id(
    office: FlaskClient, streets: Streets, db: Engine
) -> None:
    """The 409 for a taken external id names the case only to who may see it."""
    with db.begin() as conn:
        for case_id, external_id in [
            (streets.other_case, "elsewhere-0001"),
            (streets.own_case, "at-home-0001"),
        ]:
            conn.execute(
                text("UPDATE case_record SET external_id = :e WHERE id = :i"),
                {"e": external_id, "i": case_id},
            )
    before = _count_cases(db)
    lon, lat = streets.own_point
    for point in (streets.own_point, streets.other_point):
        body = {"category": "errand", "lon": point[0], "lat": point[1]}
        hidden = _error(
            office.post("/api/cases", json=body | {"external_id": "elsewhere-0001"}), 409
        )
        assert hidden == (
            "`external_id` was 'elsewhere-0001' but that external id is already taken; "
            "a case is filed only once, and nothing was stored"
        )
        assert str(streets.other_case) not in hidden and streets.other not in hidden
    own = _error(
        office.post(
            "/api/cases",
            json={"category": "errand", "lon": lon, "lat": lat, "external_id": "at-home-0001"},
        ),
        409,
    )
    assert own == (
        f"`external_id` was 'at-home-0001' but case {streets.own_case} already has it; "
        "a case is filed only once"
    )
    assert _count_cases(db) == before


# --- analysts and administrators ---------------------------------------------------------


def test_an_analyst_reads_everything_and_changes_nothing(
    analyst: FlaskClient, streets: Streets, db: Engine
) -> None:
    listed = response_json(analyst.get("/api/cases?limit=1000"), 200)["cases"]
    assert len({c["street_code"] for c in listed}) > 1
    assert response_json(analyst.get(f"/api/cases/{streets.other_case}"), 200)
    assert response_json(analyst.get(f"/api/cases?street={streets.other}"), 200)["cases"]
    before = _count_cases(db)
    lon, lat = streets.own_point
    for response in [
        analyst.post("/api/cases", json={"category": "errand", "lon": lon, "lat": lat}),
        analyst.post(f"/api/cases/{streets.other_case}/steps", json={"step": "rejected"}),
        analyst.post(
            f"{V2}/requests.json", json={"service_code": "errand", "lat": lat, "long": lon}
        ),
    ]:
        assert "analyst" in _error(response, 403)
    assert _count_cases(db) == before


def test_a_session_works_like_a_token_and_needs_its_csrf_token(
    app: Flask, streets: Streets
) -> None:
    session = app.test_client()
    csrf = sign_in(session, role="street", street=streets.own, name="office-session")
    listed = response_json(session.get("/api/cases?limit=50"), 200)["cases"]
    assert {c["street_code"] for c in listed} == {streets.own}
    assert _error(session.get(f"/api/cases/{streets.other_case}"), 404)
    lon, lat = streets.own_point
    body = {"category": "errand", "lon": lon, "lat": lat}
    assert "CSRF" in _error(session.post("/api/cases", json=body), 400)
    filed = session.post("/api/cases", json=body, headers={"X-CSRF-Token": csrf})
    assert response_json(filed, 201)["reported_by"] == "office-session"


def test_an_administrator_sees_and_moves_on_every_street(app: Flask, streets: Streets) -> None:
    admin = _client(app, "admin-scope", "admin")
    assert response_json(admin.get(f"/api/cases/{streets.other_case}"), 200)
    rows = response_json(admin.get("/api/cases/stats?level=street"), 200)["rows"]
    assert {streets.own, streets.other} <= {r["code"] for r in rows}
    lon, lat = streets.other_point
    filed = response_json(
        admin.post("/api/cases", json={"category": "errand", "lon": lon, "lat": lat}), 201
    )
    moved = admin.post(f"/api/cases/{filed['id']}/steps", json={"step": "registered"})
    assert response_json(moved, 200)["registered_by"] == "admin-scope"
