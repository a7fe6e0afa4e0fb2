"""No API key of a URL reaches a log (gridgis.web.logs): gunicorn's, the dev server's, the app's.

Open311 clients may send their key as ``?api_key=``; the access log of a real
gunicorn started as the README says, the development server's log and the
app's own logger all write ``api_key=***`` instead.
"""

from __future__ import annotations

import http.client
import logging
import threading
from pathlib import Path

import pytest
from _api_auth import user_token
from _server import gunicorn
from flask import Flask
from werkzeug.serving import make_server

from gridgis.web.logs import WerkzeugRequestHandler, mask, mask_query

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
