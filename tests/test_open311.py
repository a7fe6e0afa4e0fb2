"""Open311 GeoReport v2 (/open311/v2/...) through Flask's test client, on the demo district."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest
from _api_auth import token_client, user_token
from click.testing import CliRunner, Result
from conftest import backdate_case_to_1900, cell_point, sign_in
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from gridgis import open311_keys
from gridgis.cli import main
from gridgis.db.engine import dispose_engines

V2 = "/open311/v2"
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


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


def _error(response: Any, status: int) -> str:
    """The description of the spec's one-error list, after checking its shape."""
    errors = _json(response, status)
    assert isinstance(errors, list) and len(errors) == 1
    assert set(errors[0]) == {"code", "description"}
    assert errors[0]["code"] == status
    description: str = errors[0]["description"]
    return description


def _cell_point(db: Engine) -> tuple[str, float, float]:
    return cell_point(db, last=True)


def test_services_are_the_case_categories(client: FlaskClient, db: Engine) -> None:
    services = _json(client.get(f"{V2}/services.json"), 200)
    with db.connect() as conn:
        categories = conn.execute(
            text("SELECT code, name_zh, deadline_hours FROM case_category ORDER BY code")
        ).all()
    assert [s["service_code"] for s in services] == [c.code for c in categories]
    for service, category in zip(services, categories, strict=True):
        assert set(service) == {
            "service_code",
            "service_name",
            "description",
            "metadata",
            "type",
            "keywords",
            "group",
        }
        assert service["service_name"] == category.name_zh
        assert service["metadata"] is False
        assert service["type"] == "realtime"
        assert f"按期结案时限 {category.deadline_hours} 小时" in service["description"]
    definition = _json(client.get(f"{V2}/services/fire_safety.json"), 200)
    assert definition == {"service_code": "fire_safety", "attributes": []}
    missing = _error(client.get(f"{V2}/services/no_such.json"), 404)
    assert missing.startswith("`service_code` was 'no_such' but is expected to be one of [")


def test_a_request_round_trips_and_closes(app: Flask, client: FlaskClient, db: Engine) -> None:
    code, lon, lat = _cell_point(db)
    key = user_token(app.config["DATABASE_URL"], "12345-app", role="admin")
    created = app.test_client().post(  # the spec's way: the key is a field of the form
        f"{V2}/requests.json",
        data={
            "api_key": key,
            "service_code": "road_facility",
            "lat": str(lat),
            "long": str(lon),
            "address_string": "荔城区镇海街道某路口",
            "description": "井盖破损",
            "first_name": "小明",
            "last_name": "林",
            "email": "lin@example.cn",
        },
    )
    answer = _json(created, 201)
    assert len(answer) == 1 and set(answer[0]) == {
        "service_request_id",
        "service_notice",
        "account_id",
    }
    request_id = answer[0]["service_request_id"]
    assert re.fullmatch(r"[0-9]+", request_id)
    assert answer[0]["account_id"] is None
    with db.connect() as conn:
        hours = conn.execute(
            text("SELECT deadline_hours FROM case_category WHERE code = 'road_facility'")
        ).scalar_one()
    assert answer[0]["service_notice"] == f"按期结案时限 {hours} 小时"

    [got] = _json(client.get(f"{V2}/requests/{request_id}.json"), 200)
    assert set(got) == REQUEST_FIELDS
    assert got["service_request_id"] == request_id
    assert got["status"] == "open"
    assert got["status_notes"] == "已上报，待立案"
    assert (got["service_code"], got["service_name"]) == ("road_facility", "道路设施")
    assert got["description"] == "井盖破损"
    assert got["agency_responsible"] == f"网格 {code}"
    assert (got["lat"], got["long"]) == (pytest.approx(lat), pytest.approx(lon))
    assert got["address"] == "荔城区镇海街道某路口"
    assert got["media_url"] is None and got["zipcode"] is None
    requested = dt.datetime.fromisoformat(got["requested_datetime"])
    expected = dt.datetime.fromisoformat(got["expected_datetime"])
    assert expected - requested == dt.timedelta(hours=hours)
    assert got["updated_datetime"] == got["requested_datetime"]
    case = _json(client.get(f"/api/cases/{request_id}"), 200)
    assert case["source"] == "Open311"
    assert case["reported_by"] == "12345-app / 林小明 / lin@example.cn"

    for step in ("registered", "dispatched", "handled", "verified", "closed"):
        case = _json(
            client.post(f"/api/cases/{request_id}/steps", json={"step": step}),
            200,
        )
    [closed] = _json(client.get(f"{V2}/requests/{request_id}.json"), 200)
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已结案"
    assert closed["updated_datetime"] == case["closed_at"]
    assert _json(client.get(f"{V2}/requests.json?service_request_id={request_id}"), 200) == [closed]


def test_a_json_request_by_address_is_placed_at_the_building(
    client: FlaskClient, db: Engine
) -> None:
    with db.connect() as conn:
        building = conn.execute(
            text(
                "SELECT id, address FROM building WHERE address IN ("
                "  SELECT address FROM building GROUP BY address HAVING count(*) = 1) "
                "ORDER BY id LIMIT 1"
            )
        ).one()
    answer = _json(
        client.post(
            f"{V2}/requests.json",
            json={"service_code": "property_management", "address_string": building.address},
        ),
        201,
    )
    [got] = _json(client.get(f"{V2}/requests/{answer[0]['service_request_id']}.json"), 200)
    assert got["address_id"] == str(building.id)
    assert got["address"] == building.address
    assert got["lat"] is not None and got["long"] is not None


def test_requests_filter_by_id_service_status_and_dates(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    ids = []
    for service in ("dispute", "dispute", "errand"):
        body = {"service_code": service, "lat": lat, "long": lon}
        ids.append(_json(client.post(f"{V2}/requests.json", json=body), 201)[0])
    ids = [a["service_request_id"] for a in ids]
    client.post(f"/api/cases/{ids[1]}/steps", json={"step": "rejected"})

    def listed(query: str) -> list[str]:
        return [
            r["service_request_id"] for r in _json(client.get(f"{V2}/requests.json?{query}"), 200)
        ]

    # Without dates: the last 90 days, which hold the new requests.
    recent = _json(client.get(f"{V2}/requests.json"), 200)
    assert [r["service_request_id"] for r in recent][:3] == ids[::-1]
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    assert all(dt.datetime.fromisoformat(r["requested_datetime"]) >= cutoff for r in recent)
    assert listed(f"service_request_id={ids[2]},{ids[0]},999999999") == [ids[2], ids[0]]
    since = f"start_date={(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()}"
    since = since.replace("+", "%2B")
    assert listed(f"{since}&service_code=dispute") == [ids[1], ids[0]]
    assert listed(f"{since}&status=closed") == [ids[1]]
    assert listed(f"{since}&status=open") == [ids[2], ids[0]]
    assert listed(f"{since}&service_code=errand,dispute&status=open,closed") == ids[::-1]
    assert listed(f"{since}&service_code=errand,dispute&status=open") == [ids[2], ids[0]]
    with db.connect() as conn:
        first = conn.execute(text("SELECT min(reported_at) FROM case_record")).scalar_one()
        count = conn.execute(
            text(
                "SELECT count(*) FROM case_record "
                "WHERE reported_at >= :s AND reported_at < :e AND category_code = 'fire_safety'"
            ),
            {"s": first, "e": first + dt.timedelta(days=60)},
        ).scalar_one()
    start = first.isoformat()
    end = (first + dt.timedelta(days=60)).isoformat()
    window = _json(
        client.get(
            f"{V2}/requests.json",
            query_string={"start_date": start, "end_date": end, "service_code": "fire_safety"},
        ),
        200,
    )
    assert count > 0 and len(window) == count
    times = [dt.datetime.fromisoformat(r["requested_datetime"]) for r in window]
    assert all(first <= t < first + dt.timedelta(days=60) for t in times)
    assert times == sorted(times, reverse=True)


_BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("no service", {"data": {"lat": "25.4", "long": "119.0"}}, 400,
     r"`service request` needs `service_code`"),
    ("no place", {"data": {"service_code": "dispute"}}, 400,
     r"needs `lat` and `long` or `address_string`"),
    ("lat as text", {"data": {"service_code": "dispute", "lat": "north", "long": "119"}}, 400,
     r"`lat` was 'north' but is expected to be a finite number"),
    ("lat out of range", {"data": {"service_code": "dispute", "lat": "95", "long": "119"}}, 400,
     r"`lat` was 95\.0 but is expected to be at most 90"),
    ("NaN", {"data": {"service_code": "dispute", "lat": "NaN", "long": "119"}}, 400,
     r"`lat` was 'NaN' but is expected to be a finite number"),
    ("repeated", {"data": "service_code=dispute&service_code=errand&address_string=x",
                  "content_type": "application/x-www-form-urlencoded"}, 400,
     r"`service_code` was given 2 times but may be given once"),
    ("unknown field", {"data": {"service_code": "dispute", "address_string": "x", "x": "1"}},
     400, r"unknown field\(s\) `x`"),
    ("media", {"data": {"service_code": "dispute", "address_string": "x", "media_url": "u"}},
     400, r"`media_url` was 'u' but is expected to be an http or https URL"),
    ("address id", {"json": {"service_code": "dispute", "address_id": "17"}}, 400,
     r"`address_id` is not supported by this server: send `lat` and `long` or `address_string`"),
    ("attribute", {"data": {"service_code": "dispute", "address_string": "x",
                            "attribute[size]": "big"}}, 400,
     r"`attribute\[size\]`: no service of this server has attributes"),
    ("unknown service", {"data": {"service_code": "graffiti", "address_string": "x"}}, 404,
     r"`category` was 'graffiti' but is expected to be one of the categories"),
    ("bad service code", {"data": {"service_code": "Graffiti!", "address_string": "x"}}, 400,
     r"`service_code` was 'Graffiti!' but is expected to match"),
    ("multipart", {"data": {"service_code": "dispute"}, "content_type": "multipart/form-data"},
     415, r"content type was 'multipart/form-data' but is expected to be "
          r"'application/x-www-form-urlencoded' or 'application/json'"),
    ("JSON list", {"json": [{"service_code": "dispute"}]}, 400,
     r"the body was \[\{'service_code': 'dispute'\}\] but is expected to be a JSON object"),
    ("broken JSON", {"data": "{", "content_type": "application/json"}, 400,
     r"the body is not valid JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "status", "message"), [c[1:] for c in _BAD_REQUESTS],
                         ids=[c[0] for c in _BAD_REQUESTS])  # fmt: skip
def test_invalid_requests_get_the_spec_error_list(
    shared_client: FlaskClient, kwargs: dict[str, Any], status: int, message: str
) -> None:
    description = _error(shared_client.post(f"{V2}/requests.json", **kwargs), status)
    assert re.search(message, description), description


_BAD_URLS: list[tuple[str, int, str]] = [
    ("services.xml", 400, r"the xml format is not supported by this server; ask for the same "
                          r"resource with \.json"),
    ("requests.xml", 400, r"the xml format is not supported"),
    ("requests/1.xml", 400, r"the xml format is not supported"),
    ("services.csv", 404, r"the format was 'csv' but this server answers only \.json"),
    ("requests/abc.json", 404, r"`service_request_id` was 'abc' but is expected to be a number"),
    ("requests/987654321.json", 404, r"case 987654321 does not exist"),
    ("requests.json?status=pending", 400, r"`status` was 'pending' but is expected to match"),
    ("requests.json?start_date=yesterday", 400, r"`start_date` was 'yesterday'"),
    ("requests.json?service_request_id=1;2", 400, r"`service_request_id` was '1;2'"),
    ("requests.json?page=2", 400, r"unknown query parameter\(s\) `page`"),
    ("tokens/1.json", 404, r"/open311/v2/tokens/1\.json is not a GeoReport v2 resource"),
]  # fmt: skip


def test_a_resource_asked_with_the_wrong_method_names_the_right_one(
    shared_client: FlaskClient,
) -> None:
    response = shared_client.post(f"{V2}/services.json", data={"service_code": "dispute"})
    assert _error(response, 405) == f"{V2}/services.json answers GET only"
    assert response.headers["Allow"] == "GET"


@pytest.mark.parametrize(("path", "status", "message"), _BAD_URLS, ids=[u[0] for u in _BAD_URLS])
def test_bad_resources_get_the_spec_error_list(
    shared_client: FlaskClient, path: str, status: int, message: str
) -> None:
    description = _error(shared_client.get(f"{V2}/{path}"), status)
    assert re.search(message, description), description


# --- who may ask -------------------------------------------------------------------------


_READS = [
    "services.json",
    "services/dispute.json",
    "requests.json",
    "requests/1.json",
    "requests.json?service_request_id=1",
]


def test_anyone_reads_services_and_requests_without_a_key(app: Flask, db: Engine) -> None:
    """The specification's reading is public: a new client lists the services first (issue 18)."""
    anonymous = app.test_client()
    services = _json(anonymous.get(f"{V2}/services.json"), 200)
    assert {s["service_code"] for s in services} >= {"dispute", "road_facility"}
    assert _json(anonymous.get(f"{V2}/services/dispute.json"), 200) == {
        "service_code": "dispute",
        "attributes": [],
    }
    since = "start_date=2000-01-01T00:00:00Z"
    listed = _json(anonymous.get(f"{V2}/requests.json?{since}"), 200)
    assert listed and all(set(r) == REQUEST_FIELDS for r in listed)
    with db.connect() as conn:  # every street's requests, and those placed in no street
        streets = conn.execute(
            text(
                "SELECT count(DISTINCT street_code) FROM case_record WHERE street_code IS NOT NULL"
            )
        ).scalar_one()
        some_id = conn.execute(text("SELECT min(id) FROM case_record")).scalar_one()
    assert streets >= 2
    [one] = _json(anonymous.get(f"{V2}/requests/{some_id}.json"), 200)
    assert one["service_request_id"] == str(some_id) and set(one) == REQUEST_FIELDS
    assert (one["lat"], one["long"]) != (None, None)  # the point is what Open311 is for
    assert _json(anonymous.get(f"{V2}/requests.json?service_request_id={some_id}"), 200) == [one]
    assert "api_key" in _error(
        anonymous.post(f"{V2}/requests.json", data={"service_code": "x"}), 401
    )


def test_with_public_reading_off_every_resource_needs_a_key_a_token_or_a_session(
    app: Flask, db: Engine
) -> None:
    app.config["OPEN311_PUBLIC_READ"] = False  # GRIDGIS_OPEN311_PUBLIC_READ=off: an intranet
    anonymous = app.test_client()
    for method, path in [*(("GET", p) for p in _READS), ("POST", "requests.json")]:
        data = {"service_code": "x"} if method == "POST" else None
        response = anonymous.open(f"{V2}/{path}", method=method, data=data)
        assert "api_key" in _error(response, 401), path
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="gridgis"'
    key = user_token(app.config["DATABASE_URL"], "open311-key", role="admin")
    assert len(_json(anonymous.get(f"{V2}/services.json?api_key={key}"), 200)) > 0
    client_key = _client_key(app, "intranet-app")
    assert len(_json(anonymous.get(f"{V2}/services.json?api_key={client_key}"), 200)) > 0
    _, lon, lat = _cell_point(db)
    body = {"service_code": "dispute", "lat": lat, "long": lon}
    by_json_key = _json(anonymous.post(f"{V2}/requests.json", json={**body, "api_key": key}), 201)
    request_id = by_json_key[0]["service_request_id"]
    [got] = _json(
        anonymous.get(f"{V2}/requests/{request_id}.json", query_string={"api_key": key}), 200
    )
    assert got["service_code"] == "dispute"
    session = app.test_client()
    csrf = sign_in(session, role="admin", name="open311-session")
    assert _json(session.get(f"{V2}/requests/{request_id}.json"), 200) == [got]
    no_csrf = session.post(f"{V2}/requests.json", json=body)
    assert "CSRF" in _error(no_csrf, 400)
    with_csrf = session.post(f"{V2}/requests.json", json=body, headers={"X-CSRF-Token": csrf})
    assert _json(with_csrf, 201)[0]["service_request_id"] != request_id
    # The served description says so: no read without a key (and a 401 documented).
    paths = _json(anonymous.get("/api/openapi.json"), 200)["paths"]
    reads = {path: paths[path]["get"] for path in paths if path.startswith(V2)}
    assert reads and all({} not in op["security"] for op in reads.values())
    assert all("401" in op["responses"] for op in reads.values())


def test_with_public_reading_on_the_description_says_reads_need_no_key(app: Flask) -> None:
    paths = _json(app.test_client().get("/api/openapi.json"), 200)["paths"]
    reads = {path: paths[path]["get"] for path in paths if path.startswith(V2)}
    assert reads and all({} in op["security"] for op in reads.values())


# --- client keys ---------------------------------------------------------------------------------


def _cli(app: Flask, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """Run ``gridgis ARGS`` on the app's database."""
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", app.config["DATABASE_URL"])
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        dispose_engines()


def _client_key(app: Flask, name: str) -> str:
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        return open311_keys.add_key(engine, name, actor="test")
    finally:
        engine.dispose()


def _trail(db: Engine, name: str) -> list[tuple[str, str, dict[str, Any]]]:
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, action, summary FROM audit_log WHERE object_type = 'open311_client' "
                "AND object_id = :name ORDER BY id"
            ),
            {"name": name},
        )
        return [(r.actor, r.action, r.summary) for r in rows]


def test_a_client_key_is_added_listed_used_and_revoked_on_the_command_line(
    app: Flask, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = _cli(app, monkeypatch, "open311", "key", "add", "12345-app")
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert re.fullmatch(r"g311_[A-Za-z0-9_-]{43}", key)
    assert "shown only now" in added.stderr
    with db.connect() as conn:
        stored = conn.execute(text("SELECT key_hash FROM open311_client")).scalar_one()
    assert stored == hashlib.sha256(key.encode()).hexdigest()  # only the hash is kept
    again = _cli(app, monkeypatch, "open311", "key", "add", "12345-app")
    assert again.exit_code == 1 and "has a key already" in again.output
    listed = _cli(app, monkeypatch, "open311", "key", "list")
    assert listed.exit_code == 0
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("12345-app")]
    assert row.split()[-1] == "valid" and "never" in row

    _, lon, lat = _cell_point(db)
    anonymous = app.test_client()
    form = {"service_code": "dispute", "lat": str(lat), "long": str(lon), "first_name": "芳"}
    form |= {"last_name": "王", "phone": "13812345678"}
    [filed] = _json(anonymous.post(f"{V2}/requests.json", data={**form, "api_key": key}), 201)
    by_json = anonymous.post(
        f"{V2}/requests.json",
        json={"service_code": "dispute", "lat": lat, "long": lon, "api_key": key},
    )
    by_header = anonymous.post(f"{V2}/requests.json", data=form, headers={"X-Api-Key": key})
    assert _json(by_json, 201) and _json(by_header, 201)
    with db.connect() as conn:
        case = conn.execute(
            text("SELECT source, reported_by FROM case_record WHERE id = :id"),
            {"id": int(filed["service_request_id"])},
        ).one()
        filer = conn.execute(
            text(
                "SELECT actor FROM audit_log WHERE object_type = 'case' AND object_id = :id "
                "AND action = 'create'"
            ),
            {"id": filed["service_request_id"]},
        ).scalar_one()
    assert (case.source, case.reported_by) == ("Open311", "12345-app / 王芳 / 13812345678")
    assert filer == "open311:12345-app"

    revoked = _cli(app, monkeypatch, "open311", "key", "revoke", "12345-app")
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    for response in [
        anonymous.post(f"{V2}/requests.json", data={**form, "api_key": key}),
        anonymous.post(f"{V2}/requests.json", json={**form, "api_key": key}),
        anonymous.get(f"{V2}/services.json", headers={"X-Api-Key": key}),
    ]:
        assert "12345-app" in _error(response, 403) and "revoked" in _error(response, 403)
    listed = _cli(app, monkeypatch, "open311", "key", "list")
    [row] = [line for line in listed.stdout.splitlines() if line.startswith("12345-app")]
    assert "revoked" in row and "never" not in row
    unknown = _cli(app, monkeypatch, "open311", "key", "revoke", "no-such-app")
    assert unknown.exit_code == 1 and "no Open311 client named 'no-such-app'" in unknown.output
    assert [(action, summary) for _, action, summary in _trail(db, "12345-app")] == [
        ("add_key", {"before": {"key": None}, "after": {"key": "new"}}),
        ("revoke_key", {"before": {"key": "valid"}, "after": {"key": "revoked"}}),
    ]
    assert key not in str(_trail(db, "12345-app"))


def test_a_wrong_client_key_is_refused_even_where_none_is_needed(app: Flask) -> None:
    anonymous = app.test_client()
    wrong = "g311_" + "x" * 43
    for response in [
        anonymous.get(f"{V2}/services.json?api_key={wrong}"),
        anonymous.get(f"{V2}/requests.json", headers={"X-Api-Key": wrong}),
        anonymous.post(f"{V2}/requests.json", data={"service_code": "dispute", "api_key": wrong}),
        anonymous.post(f"{V2}/requests.json", json={"service_code": "dispute", "api_key": wrong}),
    ]:
        assert "not valid" in _error(response, 401)


def test_a_client_key_over_its_limit_is_answered_429(app: Flask) -> None:
    app.config["OPEN311_KEY_PER_MINUTE"] = 2
    key = _client_key(app, "busy-app")
    other = _client_key(app, "quiet-app")
    anonymous = app.test_client()
    for _ in range(2):
        _json(anonymous.get(f"{V2}/services.json", headers={"X-Api-Key": key}), 200)
    throttled = anonymous.get(f"{V2}/services.json", headers={"X-Api-Key": key})
    message = _error(throttled, 429)
    assert "'busy-app' may make 2 requests a minute" in message
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    refused = anonymous.post(f"{V2}/requests.json", data={"service_code": "x", "api_key": key})
    assert "may make 2 requests" in _error(refused, 429)
    # Each key has its own limit; reading with no key at all is not limited by it.
    assert _json(anonymous.get(f"{V2}/services.json", headers={"X-Api-Key": other}), 200)
    assert _json(anonymous.get(f"{V2}/services.json"), 200)


def test_public_answers_leave_out_personal_fields(
    app: Flask, client: FlaskClient, db: Engine
) -> None:
    _, lon, lat = _cell_point(db)
    description = "楼道堆物，联系人手机 13812345678，身份证 350304199001011234"
    [filed] = _json(
        client.post(
            f"{V2}/requests.json",
            json={
                "service_code": "cityscape",
                "lat": lat,
                "long": lon,
                "description": description,
                "first_name": "芳",
                "last_name": "王",
                "email": "wang@example.cn",
                "phone": "13912345678",
            },
        ),
        201,
    )
    request_id = filed["service_request_id"]
    anonymous = app.test_client()
    key = _client_key(app, "public-app")
    answers = [
        _json(anonymous.get(f"{V2}/requests/{request_id}.json"), 200),
        _json(anonymous.get(f"{V2}/requests.json?service_request_id={request_id}"), 200),
        _json(anonymous.get(f"{V2}/requests/{request_id}.json", headers={"X-Api-Key": key}), 200),
    ]
    for [public] in answers:
        text_of = str(public)
        for personal in ("王芳", "wang@example.cn", "13912345678", "13812345678", "199001011234"):
            assert personal not in text_of
        assert (
            public["description"] == "楼道堆物，联系人手机 138****5678，身份证 350304********1234"
        )
        assert public["media_url"] is None
        assert (public["lat"], public["long"]) == (pytest.approx(lat), pytest.approx(lon))
    [as_admin] = _json(client.get(f"{V2}/requests/{request_id}.json"), 200)
    assert as_admin["description"] == description  # as before for a signed-in user
    listed = _json(anonymous.get(f"{V2}/requests.json?service_code=cityscape"), 200)
    assert [r for r in listed if r["service_request_id"] == request_id] == answers[0]


def test_the_key_may_come_in_an_x_api_key_header(app: Flask, db: Engine) -> None:
    """A key in a header stays out of URLs (and so out of access logs)."""
    anonymous = app.test_client()
    key = user_token(app.config["DATABASE_URL"], "open311-header", role="admin")
    header = {"X-Api-Key": key}
    assert len(_json(anonymous.get(f"{V2}/services.json", headers=header), 200)) > 0
    _, lon, lat = _cell_point(db)
    form = {"service_code": "dispute", "lat": str(lat), "long": str(lon)}
    [filed] = _json(anonymous.post(f"{V2}/requests.json", data=form, headers=header), 201)
    [got] = _json(
        anonymous.get(f"{V2}/requests/{filed['service_request_id']}.json", headers=header), 200
    )
    assert got["service_code"] == "dispute"
    wrong = anonymous.get(f"{V2}/services.json", headers={"X-Api-Key": "ggt_" + "x" * 43})
    assert "not valid" in _error(wrong, 401)


def test_a_wrong_key_is_refused_in_the_spec_format(app: Flask, db: Engine) -> None:
    anonymous = app.test_client()
    wrong_token = "ggt_" + "x" * 43
    body = {"service_code": "dispute", "address_string": "荔城区"}
    answers = [
        anonymous.post(f"{V2}/requests.json", data={**body, "api_key": wrong_token}),
        anonymous.post(f"{V2}/requests.json", data={**body, "api_key": "not-a-token"}),
        anonymous.post(f"{V2}/requests.json", json={**body, "api_key": wrong_token}),
        anonymous.get(f"{V2}/services.json?api_key={wrong_token}"),
        anonymous.get(f"{V2}/services.json", headers={"Authorization": f"Bearer {wrong_token}"}),
    ]
    for response in answers:
        description = _error(response, 401)
        assert "not valid" in description or "api_key" in description, description
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="gridgis"'
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM case_record WHERE source = 'Open311'")
            ).scalar_one()
            == 0
        )


def test_an_analyst_reads_but_files_no_request(app: Flask, db: Engine) -> None:
    key = user_token(app.config["DATABASE_URL"], "analyst-311", role="analyst")
    anonymous = app.test_client()
    assert _json(anonymous.get(f"{V2}/services.json?api_key={key}"), 200)
    assert _json(anonymous.get(f"{V2}/requests.json?api_key={key}"), 200) == []
    _, lon, lat = _cell_point(db)
    body = {"service_code": "dispute", "lat": str(lat), "long": str(lon)}
    by_form = anonymous.post(f"{V2}/requests.json", data={**body, "api_key": key})
    assert "analyst" in _error(by_form, 403)
    by_json = anonymous.post(f"{V2}/requests.json", json={**body, "api_key": key})
    assert "analyst" in _error(by_json, 403)
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM case_record WHERE source = 'Open311'")
            ).scalar_one()
            == 0
        )


def test_an_old_request_is_answered_at_plus_eight_hours(client: FlaskClient, db: Engine) -> None:
    _, lon, lat = _cell_point(db)
    answer = _json(
        client.post(
            f"{V2}/requests.json",
            json={"service_code": "road_facility", "lat": lat, "long": lon, "description": "旧"},
        ),
        201,
    )
    case_id = int(answer[0]["service_request_id"])
    backdate_case_to_1900(db, case_id)
    (request,) = _json(client.get(f"{V2}/requests/{case_id}.json"), 200)
    assert request["requested_datetime"] == "1900-01-01T00:00:00+08:00"  # not +08:05:43
    assert request["updated_datetime"] == "1900-01-01T00:00:00+08:00"
    assert request["expected_datetime"] == "1900-01-02T00:00:00+08:00"
    assert request["service_notice"].startswith("按期结案时限 24 小时")


def test_open311_errors_come_in_chinese_when_asked(client: FlaskClient) -> None:
    zh = {"Accept-Language": "zh-CN"}
    missing = _error(client.get(f"{V2}/services/no_such.json", headers=zh), 404)
    assert missing.startswith("`service_code` 为 'no_such'，应为以下之一：[")
    unknown = _error(client.get(f"{V2}/requests/12x.json", headers=zh), 404)
    assert unknown == "`service_request_id` 为 '12x'，应为数字"
    english = _error(client.get(f"{V2}/requests/12x.json"), 404)
    assert english == "`service_request_id` was '12x' but is expected to be a number"
