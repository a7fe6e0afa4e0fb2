"""Guessing passwords: failed logins are throttled, weak passwords refused.

Failed logins are counted per account and address, per address and per
account (looser) in the database, so every server process sees them; a
throttled login is answered 429 with ``Retry-After`` and unlocks by itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from click.testing import CliRunner
from conftest import TEST_PASSWORD, add_test_user, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from gridgis import users
from gridgis.cli import main
from gridgis.errors import ConfigError, InputError, ThrottledError
from gridgis.web import create_app
from gridgis.web.db import dispose_engine

WRONG = "not the password at all"


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small limits: 3 failures per account and address, 6 per address, 9 per account."""
    monkeypatch.setenv("GRIDGIS_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("GRIDGIS_LOGIN_MAX_FAILURES_ADDRESS", "6")
    monkeypatch.setenv("GRIDGIS_LOGIN_MAX_FAILURES_ACCOUNT", "9")
    monkeypatch.setenv("GRIDGIS_LOGIN_WINDOW_MINUTES", "15")


def _from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client: FlaskClient, name: str, password: str) -> TestResponse:
    client.get("/login")
    with client.session_transaction() as session:
        token = str(session["csrf"])
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


@pytest.mark.usefixtures("limits")
def test_failed_logins_are_throttled_per_account_and_address(app: Flask, database_url: str) -> None:
    add_test_user(database_url, "wang")
    stranger = _from(app, "203.0.113.7")
    for _ in range(3):
        assert _login(stranger, "wang", WRONG).status_code == 200
    refused = _login(stranger, "wang", TEST_PASSWORD)  # even the right one, from there
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    html = refused.get_data(as_text=True)
    assert "登录失败次数过多，请 15 分钟后再试。" in html
    with stranger.session_transaction() as session:
        assert "user_id" not in session
    english = stranger.get("/login?lang=en")
    assert english.status_code == 200
    again = _login(stranger, "wang", TEST_PASSWORD)
    assert "Too many failed logins; try again in 15 minutes." in again.get_data(as_text=True)
    # The owner, at the office, is not locked out by a stranger's guesses.
    assert _login(_from(app, "198.51.100.20"), "wang", TEST_PASSWORD).status_code == 302


@pytest.mark.usefixtures("limits")
def test_one_address_guessing_many_accounts_is_throttled(app: Flask, database_url: str) -> None:
    add_test_user(database_url, "li")
    sprayer = _from(app, "203.0.113.8")
    for name in ("a1", "a2", "a3", "a4", "a5", "a6"):
        assert _login(sprayer, name, WRONG).status_code == 200
    assert _login(sprayer, "li", TEST_PASSWORD).status_code == 429
    assert _login(_from(app, "198.51.100.21"), "li", TEST_PASSWORD).status_code == 302


@pytest.mark.usefixtures("limits")
def test_many_addresses_guessing_one_account_hit_the_looser_account_limit(
    app: Flask, database_url: str
) -> None:
    add_test_user(database_url, "zhao")
    for i in range(9):
        assert _login(_from(app, f"203.0.113.{100 + i}"), "zhao", WRONG).status_code == 200
    refused = _login(_from(app, "198.51.100.22"), "zhao", TEST_PASSWORD)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


@pytest.mark.usefixtures("limits")
def test_a_throttled_account_unlocks_by_itself(engine: Engine, database_url: str) -> None:
    add_test_user(database_url, "chen")
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    for i in range(12):  # more than every limit, from one address
        when = start + dt.timedelta(seconds=i)
        with contextlib.suppress(ThrottledError):
            users.authenticate(engine, "chen", WRONG, address="203.0.113.9", now=when)
    with pytest.raises(ThrottledError, match="too many failed logins") as caught:
        users.authenticate(
            engine,
            "chen",
            TEST_PASSWORD,
            address="203.0.113.9",
            now=start + dt.timedelta(minutes=1),
        )
    assert 0 < caught.value.retry_after <= 15 * 60
    # Refused attempts are not counted: the lock ends a window after the last counted failure.
    later = start + dt.timedelta(minutes=15, seconds=12)
    user = users.authenticate(engine, "chen", TEST_PASSWORD, address="203.0.113.9", now=later)
    assert user is not None and user.last_login_at == later


@pytest.mark.usefixtures("limits")
def test_changing_the_password_is_throttled_too(client: FlaskClient) -> None:
    token = sign_in(client)
    form = {"csrf_token": token, "new_password": "a fine new passphrase"}
    for _ in range(3):
        wrong = client.post(
            "/account/password",
            data={**form, "current_password": WRONG, "new_password_again": form["new_password"]},
        )
        assert wrong.status_code == 400
    throttled = client.post(
        "/account/password",
        data={
            **form,
            "current_password": TEST_PASSWORD,
            "new_password_again": form["new_password"],
        },
    )
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers


# --- weak passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1x", "the password has 7 characters but needs at least 10"),
        ("woaini1314", "the password is one of the most common passwords"),
        ("1234567890", "the password is one of the most common passwords"),
        ("QWERTYUIOP", "the password is one of the most common passwords"),
        ("Password123", "the password is one of the most common passwords"),
    ],
)
def test_short_and_common_passwords_are_refused(
    engine: Engine, password: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        users.add_user(engine, "liu", role="admin", password=password, actor="test")
    users.add_user(engine, "liu", role="admin", password=TEST_PASSWORD, actor="test")
    with pytest.raises(InputError, match=message):
        users.set_password(engine, "liu", password, actor="test")
    users.check_password("gridgis-demo")  # the demo's password (Makefile) is fine


def test_the_minimum_length_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_PASSWORD_MIN_LENGTH", "16")
    with pytest.raises(InputError, match="has 12 characters but needs at least 16"):
        users.check_password("gridgis-demo")
    monkeypatch.setenv("GRIDGIS_PASSWORD_MIN_LENGTH", "3")
    with pytest.raises(ConfigError, match="GRIDGIS_PASSWORD_MIN_LENGTH was '3'"):
        users.check_password("gridgis-demo")


def test_the_account_page_and_the_cli_refuse_a_common_password(
    client: FlaskClient, env_database: str
) -> None:
    token = sign_in(client)
    page = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": TEST_PASSWORD,
            "new_password": "1qaz2wsx3edc",
            "new_password_again": "1qaz2wsx3edc",
        },
    )
    assert page.status_code == 400
    assert "新密码太常见，容易被猜中；请换一个。" in page.get_data(as_text=True)
    result = CliRunner().invoke(
        main, ["users", "add", "zhou", "--role", "analyst"], env={"GRIDGIS_PASSWORD": "a123456789"}
    )
    assert result.exit_code == 1
    assert "Error: the password is one of the most common passwords" in result.output


@pytest.mark.usefixtures("limits")
def test_behind_a_trusted_proxy_the_forwarded_address_is_throttled(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDGIS_TRUSTED_PROXIES", "1")
    add_test_user(database_url, "sun")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        proxy = _from(app, "127.0.0.1")  # nginx on the same machine
        stranger = {"X-Forwarded-For": "203.0.113.50"}
        for _ in range(3):
            proxy.get("/login")
            with proxy.session_transaction() as session:
                token = str(session["csrf"])
            data = {"name": "sun", "password": WRONG, "csrf_token": token}
            assert proxy.post("/login", data=data, headers=stranger).status_code == 200
        data = {"name": "sun", "password": TEST_PASSWORD, "csrf_token": token}
        assert proxy.post("/login", data=data, headers=stranger).status_code == 429
        owner = {"X-Forwarded-For": "198.51.100.30"}
        assert proxy.post("/login", data=data, headers=owner).status_code == 302
    finally:
        dispose_engine(app)
    monkeypatch.setenv("GRIDGIS_TRUSTED_PROXIES", "many")
    with pytest.raises(ConfigError, match="GRIDGIS_TRUSTED_PROXIES was 'many'"):
        create_app({"TESTING": True, "DATABASE_URL": database_url})
