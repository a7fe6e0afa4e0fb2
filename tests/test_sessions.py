"""Sessions end when they should, at once and in every server process.

Each test serves the same database with two apps, as gunicorn's workers do:
what one of them revokes, the other obeys on its next request.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import TEST_PASSWORD, add_test_user, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from gridgis import users
from gridgis.web import create_app
from gridgis.web.db import dispose_engine

NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def workers(database_url: str) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one database with one secret key (two gunicorn workers)."""
    settings = {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "k" * 64}
    first, second = create_app(settings), create_app(settings)
    yield first, second
    dispose_engine(first)
    dispose_engine(second)


def _copy_session(source: FlaskClient, target: FlaskClient) -> None:
    """Give ``target`` the session cookie of ``source`` (a cookie copied off a browser)."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_logout_revokes_the_session_in_every_worker(workers: tuple[Flask, Flask]) -> None:
    first, second = workers
    browser = first.test_client()
    token = sign_in(browser)
    thief = second.test_client()
    _copy_session(browser, thief)
    assert thief.get("/api/summary").status_code == 200  # read now, kept by that worker
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert browser.get("/api/summary").status_code == 401
    refused = thief.get("/api/summary")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["message"].startswith("log in first")
    # Another session of the same user goes on: a logout ends this one only.
    other = second.test_client()
    assert (
        other.post(
            "/login", data={"name": "admin", "password": TEST_PASSWORD, "csrf_token": _csrf(other)}
        ).status_code
        == 302
    )
    assert other.get("/api/summary").status_code == 200


def _csrf(client: FlaskClient) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return str(session["csrf"])


def test_password_change_and_removal_revoke_sessions_and_tokens_at_once(
    workers: tuple[Flask, Flask], engine: Engine, database_url: str
) -> None:
    first, second = workers
    browser = second.test_client()
    sign_in(browser)
    token = users.issue_token(engine, "admin", actor="test")
    bearer = {"Authorization": f"Bearer {token}"}
    script = first.test_client()
    assert browser.get("/api/summary").status_code == 200
    assert script.get("/api/summary", headers=bearer).status_code == 200
    users.set_password(engine, "admin", NEW_PASSWORD, actor="test")  # the CLI, another process
    assert browser.get("/api/summary").status_code == 401
    assert script.get("/api/summary", headers=bearer).status_code == 401
    assert not users.get_user(engine, "admin").has_token

    add_test_user(database_url, "robot", role="analyst")
    robot = {"Authorization": f"Bearer {users.issue_token(engine, 'robot', actor='test')}"}
    office = first.test_client()
    sign_in(office, name="clerk")
    assert script.get("/api/summary", headers=robot).status_code == 200
    assert office.get("/api/summary").status_code == 200
    users.revoke_token(engine, "robot", actor="test")
    assert script.get("/api/summary", headers=robot).status_code == 401
    users.remove_user(engine, "clerk", actor="test")
    assert office.get("/api/summary").status_code == 401


def test_answers_after_login_set_no_cookie(workers: tuple[Flask, Flask]) -> None:
    """The cookie is sent when the session changes, not with every answer: an answer still
    under way would otherwise put back a cookie the browser has just dropped (the density
    page test's browser, cleared between two users, came back signed in as the first)."""
    browser = workers[0].test_client()
    sign_in(browser)
    for path in ("/", "/api/me", "/api/summary", "/map/density"):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert response.headers.getlist("Set-Cookie") == [], path
