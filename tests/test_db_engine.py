"""Pooled connections: the idle ping, and code that changes a connection's isolation.

Issue 14 (1): the ping of a connection idle past the threshold left it inside a
transaction, and filing a case then switched it to autocommit, which psycopg
refuses inside a transaction: the case was answered 500 and not stored. Here the
threshold is made short (``GRIDGIS_DB_IDLE_PING_SECONDS``) so that the tests can
sleep past it several times.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from _api_auth import token_client
from conftest import cell_point, response_json
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from gridgis import config
from gridgis.cases import IntakeCache, create_case, get_case
from gridgis.db.engine import dispose_engine, get_engine, normalise_url, ping_when_idle
from gridgis.errors import ConfigError

IDLE = 0.3
"""The idle threshold of these tests, in seconds."""


@pytest.fixture
def app_database_url(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("GRIDGIS_DB_IDLE_PING_SECONDS", str(IDLE))
    return demo_url


@pytest.fixture
def pinged(demo_url: str) -> Iterator[Engine]:
    engine = ping_when_idle(create_engine(demo_url), idle_seconds=IDLE)
    yield engine
    engine.dispose()


def test_a_pinged_connection_is_handed_out_outside_a_transaction(pinged: Engine) -> None:
    with pinged.connect() as conn:
        conn.execute(text("SELECT 1"))
    time.sleep(IDLE * 2)
    with pinged.connect() as conn:  # pinged now
        driver = conn.connection.driver_connection
        assert driver is not None
        assert driver.info.transaction_status.name == "IDLE"
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        assert autocommit.execute(text("SELECT 1")).scalar_one() == 1


def test_cases_filed_after_idle_are_all_stored(pinged: Engine) -> None:
    code, lon, lat = cell_point(pinged)
    cache = IntakeCache()  # the web app's path: autocommit on a pooled connection
    filed = []
    for number in range(3):
        time.sleep(IDLE * 2)
        case = create_case(
            pinged,
            category="fire_safety",
            lon=lon,
            lat=lat,
            cache=cache,
            external_id=f"idle-{number}",
            actor="test",
        )
        filed.append(case["id"])
    for number, case_id in enumerate(filed):
        assert get_case(pinged, case_id)["external_id"] == f"idle-{number}"
        assert get_case(pinged, case_id)["cell_code"] == code


def test_the_api_stores_every_case_filed_after_idle(app: Flask, demo_engine: Engine) -> None:
    client: FlaskClient = token_client(app.test_client(), role="admin", name="admin-idle")
    code, lon, lat = cell_point(demo_engine)
    ids = []
    for number in range(3):
        time.sleep(IDLE * 2)
        response = client.post(
            "/api/cases",
            json={"category": "fire_safety", "lon": lon, "lat": lat, "external_id": f"i{number}"},
        )
        ids.append(response_json(response, 201)["id"])
    for number, case_id in enumerate(ids):
        time.sleep(IDLE * 2)
        case = response_json(client.get(f"/api/cases/{case_id}"), 200)
        assert (case["external_id"], case["cell_code"]) == (f"i{number}", code)


def test_idle_threshold_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_DB_IDLE_PING_SECONDS", "soon")
    with pytest.raises(ConfigError, match="GRIDGIS_DB_IDLE_PING_SECONDS was 'soon'"):
        config.settings()
    monkeypatch.delenv("GRIDGIS_DB_IDLE_PING_SECONDS")
    assert config.settings().db_idle_ping_seconds == 10.0


# --- one engine per database and process ------------------------------------------------------


def test_the_engine_of_a_database_is_made_once(env_database: str) -> None:
    configured = get_engine()
    assert all(get_engine() is configured for _ in range(100))
    assert get_engine(env_database) is get_engine(env_database)
    with configured.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    dispose_engine()  # for tests that drop their database: forgotten, made anew next time
    assert get_engine() is not configured


def test_a_forked_child_makes_its_own_engine(database_url: str) -> None:
    parent = get_engine(database_url)
    with parent.connect() as conn:  # a pooled connection the child must not use nor close
        parent_backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    child = os.fork()
    if child == 0:  # the child: exit 0 only if it has an engine of its own that works
        status = 1
        try:
            own = get_engine(database_url)
            with own.connect() as conn:
                backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            status = 0 if own is not parent and backend != parent_backend else 2
        finally:
            os._exit(status)
    _, waited = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(waited) == 0
    assert get_engine(database_url) is parent
    with parent.connect() as conn:  # the parent's pooled connection survived the child
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == parent_backend
    dispose_engine(database_url)


# --- a database that cannot be used: said to the user without its password --------------------


@pytest.mark.parametrize(
    "url",
    [
        "mysql://gridgis:S3cret-pw@db.example/gridgis",
        "sqlite://gridgis:S3cret-pw@/gridgis?password=S3cret-pw",
        "postgresql://gridgis:S3cret-pw@127.0.0.1:1/gridgis",
        "postgresql://gridgis@127.0.0.1:1/gridgis?password=S3cret-pw",
    ],
)
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_database_that_cannot_be_used_never_shows_its_password(url: str, language: str) -> None:
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine as dispose_app_engine

    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "DATABASE_URL": url})
    try:
        client = app.test_client()
        api = client.get("/api/health", headers={"Accept-Language": language})
        page = client.get(f"/?lang={language[:2]}")
    finally:
        dispose_app_engine(app)
    assert api.status_code in (500, 503)
    for answer in (api, page):
        shown = answer.get_data(as_text=True)
        assert "S3cret" not in shown and "Traceback" not in shown
    message = api.get_json()["error"]["message"]
    if api.status_code == 503:  # unreachable: neither the server's address nor the driver's words
        assert "127.0.0.1" not in message and "connection" not in message
    if language == "zh-CN":
        assert "管理员" in message and "gridgis@" not in message and "127.0.0.1" not in message


def test_a_bad_database_url_is_named_without_its_password() -> None:
    with pytest.raises(ConfigError, match=r"'mysql://gridgis:\*\*\*@db.example/gridgis'") as caught:
        normalise_url("mysql://gridgis:S3cret-pw@db.example/gridgis")
    assert "S3cret" not in str(caught.value) and "S3cret" not in (caught.value.zh or "")


def test_tables_older_than_the_code_are_told_to_upgrade(database_url: str) -> None:
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine as dispose_app_engine

    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE grid_cell CASCADE"))  # as if a migration was not run
    finally:
        engine.dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        client: FlaskClient = token_client(app.test_client(), role="admin", name="admin-old")
        english = client.get("/api/summary")
        chinese = client.get("/api/summary", headers={"Accept-Language": "zh-CN"})
    finally:
        dispose_app_engine(app)
    assert english.status_code == chinese.status_code == 503
    assert english.get_json()["error"] == {
        "code": "database_unavailable",
        "message": "the database's tables are older than this version of gridgis; ask the "
        "administrator to run `gridgis db upgrade`",
        "field": None,
    }
    assert chinese.get_json()["error"]["message"].startswith("数据库的表结构还没有升级")
