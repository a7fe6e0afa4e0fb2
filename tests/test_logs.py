"""Logs (gridgis.web.logs): no API key of a URL reaches one; one structured line per request.

Open311 clients may send their key as ``?api_key=``; the access log of a real
gunicorn started as the README says, the development server's log and the
app's own logger all write ``api_key=***`` instead.
"""

from __future__ import annotations

import http.client
import logging
import re
import threading
from pathlib import Path

import pytest
from _api_auth import user_token
from _server import gunicorn
from conftest import sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from werkzeug.serving import make_server

from gridgis.audit import read_audit
from gridgis.web.logs import REQUEST_ID, WerkzeugRequestHandler, mask, mask_query

V2 = "/open311/v2"


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_mask_hides_the_values_of_secret_query_fields() -> None:
    assert mask("GET /open311/v2/requests.json?api_key=ggt_abc&status=open HTTP/1.1") == (
        "GET /open311/v2/requests.json?api_key=***&status=open HTTP/1.1"
    )
    assert mask_query("API_KEY=a&token=b&api%5Fkey=c&tk=d&lang=en") == (
        "API_KEY=***&token=***&api%5Fkey=***&tk=***&lang=en"
    )
    assert mask("/login?next=/edit/&lang=en") == "/login?next=/edit/&lang=en"


def test_the_gunicorn_access_log_masks_keys_and_credential_headers(
    database_url: str, tmp_path: Path
) -> None:
    key = user_token(database_url, "open311-logged", role="admin")
    log_format = '%(r)s %(q)s %(s)s "%({x-api-key}i)s" "%({authorization}i)s" %({query_string}e)s'
    with gunicorn(
        tmp_path,
        {"GRIDGIS_DATABASE_URL": database_url},
        options=["--access-logformat", log_format],
    ) as server:
        assert _get(server.port, f"{V2}/requests.json?api_key={key}&status=open") == 200
        assert _get(server.port, f"{V2}/services.json", {"X-Api-Key": key}) == 200
        assert _get(server.port, "/api/categories", {"Authorization": f"Bearer {key}"}) == 200
    logged = server.access_log.read_text()
    assert key not in logged and key[4:] not in logged
    lines = logged.splitlines()
    assert len(lines) == 3, logged
    masked = "api_key=***&status=open"
    assert lines[0].startswith(f"GET {V2}/requests.json?{masked} HTTP/1.1 {masked} 200 "), logged
    assert lines[0].endswith(f" {masked}"), logged
    assert lines[1].endswith(' 200 "***" "-" '), logged  # X-Api-Key
    assert lines[2].endswith(' 200 "-" "***" '), logged  # Authorization


def test_the_development_server_log_masks_keys(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    key = user_token(app.config["DATABASE_URL"], "open311-dev", role="admin")
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=WerkzeugRequestHandler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            assert _get(server.port, f"{V2}/services.json?api_key={key}") == 200
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"GET {V2}/services.json?api_key=*** HTTP/1.1" in logged and key not in logged


def test_the_apps_own_log_masks_keys(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        app.logger.warning("slow request %s", "/open311/v2/requests.json?api_key=ggt_secret")
    assert caplog.records[-1].getMessage() == "slow request /open311/v2/requests.json?api_key=***"


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gridgis.web.requests"]


def test_one_structured_line_per_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = sign_in(client, name="王芳")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gridgis.web.requests"):
        answered = client.get("/api/cases/12345", headers={"X-Request-Id": "abc-123.x:y_z"})
        fresh = client.get("/api/categories?api_key=ggt_secret", headers={"X-Request-Id": "a b"})
        filed = client.post(
            "/api/cases",
            json={"category": "errand", "address": "荔城区某路1号"},
            headers={"X-CSRF-Token": csrf, "X-Request-Id": "filing-1"},
        )
    assert answered.status_code == 404 and answered.headers["X-Request-Id"] == "abc-123.x:y_z"
    generated = fresh.headers["X-Request-Id"]
    assert REQUEST_ID.fullmatch(generated) and generated != "a b"
    lines = _request_lines(caplog)
    assert len(lines) == 3, [r.getMessage() for r in caplog.records]
    first = lines[0].getMessage()
    assert re.fullmatch(
        r"request_id=abc-123\.x:y_z user=王芳 method=GET route=/api/cases/<int:case_id> "
        r"status=404 duration_ms=[0-9.]+",
        first,
    ), first
    assert lines[0].status == 404 and lines[0].route == "/api/cases/<int:case_id>"  # type: ignore[attr-defined]
    assert "api_key" not in lines[1].getMessage() and f"request_id={generated} " in (
        lines[1].getMessage()
    )
    assert filed.status_code == 201, filed.get_json()
    assert "status=201" in lines[2].getMessage()
    engine = create_engine(client.application.config["DATABASE_URL"])
    try:
        rows = read_audit(engine, object_type="case")
    finally:
        engine.dispose()
    assert rows[["actor", "request_id"]].values.tolist() == [["王芳", "filing-1"]]


def test_requests_refused_early_are_logged_too(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gridgis.web.requests"):
        refused = client.post("/api/cases", json={"category": "errand"})
        missing = client.get("/no/such/page")
    assert refused.status_code == 401 and missing.status_code == 404
    messages = [r.getMessage() for r in _request_lines(caplog)]
    assert "user=- method=POST route=/api/cases status=401" in messages[0]
    assert "route=- status=404" in messages[1]
    assert missing.headers["X-Request-Id"]
