"""Users, login, sessions, CSRF, roles and scope: gridgis.users, gridgis.web.auth, the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TEST_PASSWORD, add_test_user, insert_sample_areas, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from werkzeug.test import TestResponse

from gridgis import users
from gridgis.cli import main
from gridgis.errors import ConfigError, ConflictError, InputError, NotFoundError
from gridgis.web import create_app
from gridgis.web.auth import default_config, roles_required
from gridgis.web.db import dispose_engine

TEMPLATES = Path(__file__).resolve().parent.parent / "gridgis" / "web" / "templates"
NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def areas(engine: Engine) -> None:
    insert_sample_areas(engine)


def _csrf(client: FlaskClient) -> str:
    """The CSRF token of the client's session (made by visiting the login page if needed)."""
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token is None:
        client.get("/login")
        with client.session_transaction() as session:
            token = session["csrf"]
    return str(token)


def _post_login(client: FlaskClient, name: str, password: str, **extra: str) -> TestResponse:
    return client.post(
        "/login", data={"name": name, "password": password, "csrf_token": _csrf(client), **extra}
    )


def _codes(client: FlaskClient, url: str, **headers: str) -> list[str]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = json.loads(response.get_data(as_text=True))
    return [f["properties"]["code"] for f in data["features"]]


# --- `gridgis users` ---------------------------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_add_asks_twice_hidden_and_stores_only_a_scrypt_hash(
    env_database: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDGIS_PASSWORD", raising=False)
    result = CliRunner().invoke(
        main,
        ["users", "add", "zhenhai", "--role", "street", "--street", "350304001"],
        input="short\nlong enough pass\nlong enough pass\n",
    )
    assert result.exit_code == 0, result.output
    # A too short password is refused and asked again; nothing typed is echoed.
    assert "the password has 5 characters but needs at least 10" in result.output
    assert "Repeat for confirmation" in result.output
    assert "short" not in result.output and "long enough pass" not in result.output
    assert "added user 'zhenhai': street of street 350304001 镇海街道" in result.output
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT role, street_code, password_hash FROM app_user WHERE name = 'zhenhai'")
        ).one()
    assert (stored.role, stored.street_code) == ("street", "350304001")
    assert stored.password_hash.startswith("scrypt:32768:8:1$")
    assert "long enough pass" not in stored.password_hash
    user = users.authenticate(engine, "zhenhai", "long enough pass")
    assert user is not None and user.scope == "350304001"


def test_add_takes_the_password_from_the_environment(env_database: str, engine: Engine) -> None:
    result = CliRunner().invoke(
        main, ["users", "add", "chen", "--role", "analyst"], env={"GRIDGIS_PASSWORD": "pw"}
    )
    assert result.exit_code == 1
    assert "Error: the password has 2 characters but needs at least 10" in result.output
    assert users.count_users(engine) == 0
    result = CliRunner().invoke(
        main, ["users", "add", "chen", "--role", "analyst"], env={"GRIDGIS_PASSWORD": TEST_PASSWORD}
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "added user 'chen': analyst"
    assert TEST_PASSWORD not in result.output
    assert users.authenticate(engine, "chen", TEST_PASSWORD) is not None


@pytest.mark.usefixtures("areas")
@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (["--role", "boss"], 2, "'boss' is not one of 'admin', 'street', 'analyst'"),
        (["--role", "street"], 2, "role 'street' needs --street CODE: the street 'x1' may see"),
        (
            ["--role", "street", "--street", "350304009"],
            1,
            "Error: street '350304009' does not exist; the streets of district 350304 are "
            "350304001, 350304002",
        ),
        (
            ["--role", "street", "--street", "350399001"],
            1,
            "Error: street '350399001' does not exist; load the streets first",
        ),
        (
            ["--role", "street", "--street", "3503040"],
            1,
            "`street` was '3503040' but is expected to be a street's 9-digit code",
        ),
        (["--role", "admin", "--street", "350304001"], 2, "--street is only for role 'street'"),
    ],
)
def test_add_refuses_bad_roles_and_streets_naming_them(
    env_database: str, engine: Engine, options: list[str], code: int, message: str
) -> None:
    result = CliRunner().invoke(
        main, ["users", "add", "x1", *options], env={"GRIDGIS_PASSWORD": TEST_PASSWORD}
    )
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split())
    assert users.count_users(engine) == 0


def test_list_password_token_and_remove(env_database: str, engine: Engine) -> None:
    env = {"GRIDGIS_PASSWORD": TEST_PASSWORD}
    assert "no users yet" in CliRunner().invoke(main, ["users", "list"]).output
    first = CliRunner().invoke(
        main, ["users", "add", "demo", "--role", "admin", "--if-no-users"], env=env
    )
    assert first.output.strip() == "added user 'demo': admin"
    again = CliRunner().invoke(
        main, ["users", "add", "other", "--role", "admin", "--if-no-users"], env=env
    )
    assert again.exit_code == 0 and "users exist already: 'other' not added" in again.output
    taken = CliRunner().invoke(main, ["users", "add", "demo", "--role", "analyst"], env=env)
    assert taken.exit_code == 1 and "a user named 'demo' already exists" in taken.output

    changed = CliRunner().invoke(
        main, ["users", "password", "demo"], env={"GRIDGIS_PASSWORD": NEW_PASSWORD}
    )
    assert changed.exit_code == 0, changed.output
    assert users.authenticate(engine, "demo", TEST_PASSWORD) is None
    assert users.authenticate(engine, "demo", NEW_PASSWORD) is not None

    issued = CliRunner().invoke(main, ["users", "token", "demo"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    assert re.fullmatch(r"ggt_[A-Za-z0-9_-]{43}", token)
    assert "shown only now" in issued.stderr
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM app_user WHERE name = 'demo'")).scalar()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    user = users.user_for_token(engine, token)
    assert user is not None and user.name == "demo"

    listing = CliRunner().invoke(main, ["users", "list"]).output.splitlines()
    assert listing[0].split() == ["name", "role", "street", "token", "last", "login"]
    assert listing[1].split()[:4] == ["demo", "admin", "-", "yes"]

    assert CliRunner().invoke(main, ["users", "token", "demo", "--revoke"]).exit_code == 0
    assert users.user_for_token(engine, token) is None
    removed = CliRunner().invoke(main, ["users", "remove", "demo", "--yes"])
    assert removed.output.strip() == "removed user 'demo'"
    unknown = CliRunner().invoke(main, ["users", "remove", "demo", "--yes"])
    assert unknown.exit_code == 1 and "there is no user named 'demo'" in unknown.output


# --- the library and the table -----------------------------------------------------------------


def test_user_rules_in_the_library_and_the_table(engine: Engine) -> None:
    users.add_user(engine, "李明", role="analyst", password=TEST_PASSWORD, actor="test")
    with pytest.raises(ConflictError, match="a user named '李明' already exists"):
        users.add_user(engine, "李明", role="admin", password=TEST_PASSWORD, actor="test")
    with pytest.raises(InputError, match="the user name was 'li ming' but is expected"):
        users.add_user(engine, "li ming", role="admin", password=TEST_PASSWORD, actor="test")
    with pytest.raises(InputError, match="must not be the user name"):
        users.add_user(engine, "longname12", role="admin", password="LongName12", actor="test")
    with pytest.raises(InputError, match="needs the street it is limited to"):
        users.add_user(engine, "s", role="street", password=TEST_PASSWORD, actor="test")
    with pytest.raises(NotFoundError, match="there is no user named 'nobody'"):
        users.set_password(engine, "nobody", TEST_PASSWORD, actor="test")
    # The table holds the same rules for anything written around the library.
    for sql, constraint in [
        (
            "INSERT INTO app_user (name, role, password_hash) VALUES ('a', 'street', 'scrypt:x')",
            "ck_app_user_street_scope",
        ),
        (
            "INSERT INTO app_user (name, role, password_hash) VALUES ('b', 'admin', 'plain')",
            "ck_app_user_password_hashed",
        ),
        (
            "INSERT INTO app_user (name, role, password_hash) VALUES ('c', 'boss', 'scrypt:x')",
            "ck_app_user_role",
        ),
    ]:
        with pytest.raises(IntegrityError, match=constraint), engine.begin() as conn:
            conn.execute(text(sql))


# --- logging in and out -------------------------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_anonymous_reaches_only_the_login_page_health_and_static_files(
    client: FlaskClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/"
    for url in ("/api/summary", "/api/areas/district.geojson", "/api/me"):
        api = client.get(url)
        assert api.status_code == 401, url
        assert api.get_json()["error"]["message"].startswith("log in first")
        assert api.headers["WWW-Authenticate"] == 'Bearer realm="gridgis"'
    assert client.get("/api/health").status_code == 200
    static = client.get("/static/css/auth.css")
    static.close()
    assert static.status_code == 200
    login = client.get("/login?next=/api/summary")
    html = login.get_data(as_text=True)
    assert login.status_code == 200 and "<h2>登录</h2>" in html
    assert re.search(r'<input type="hidden" name="csrf_token" value="[\w-]{43}">', html)
    assert '<input type="hidden" name="next" value="/api/summary">' in html


def test_login_sets_a_hardened_session_cookie(client: FlaskClient, database_url: str) -> None:
    add_test_user(database_url, "admin")
    before = _csrf(client)
    response = _post_login(client, "admin", TEST_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    flags = {part.strip().split("=")[0] for part in cookie.split(";")}
    assert {"HttpOnly", "SameSite", "Expires", "Path"} <= flags
    assert "SameSite=Lax" in cookie and "Secure" not in flags
    page = client.get("/").get_data(as_text=True)
    assert '<a class="user-bar-name" href="/account">admin</a>' in page
    assert 'action="/logout"' in page
    # A login starts a new session: the CSRF token of the anonymous one is not kept.
    me = client.get("/api/me").get_json()
    assert me["csrf_token"] != before and me["csrf_token"] == _csrf(client)
    assert me | {"csrf_token": ""} == {
        "name": "admin",
        "role": "admin",
        "street_code": None,
        "street_name": None,
        "csrf_token": "",
    }


def test_session_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("GRIDGIS_SECURE_COOKIES", "1")
    monkeypatch.setenv("GRIDGIS_SESSION_HOURS", "2")
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    assert app.config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(hours=2)
    add_test_user(database_url, "admin")
    client = app.test_client()
    try:
        response = _post_login(client, "admin", TEST_PASSWORD)
    finally:
        dispose_engine(app)
    assert "Secure" in response.headers["Set-Cookie"].split("; ")
    monkeypatch.setenv("GRIDGIS_SESSION_HOURS", "forever")
    with pytest.raises(ConfigError, match="GRIDGIS_SESSION_HOURS was 'forever'"):
        default_config()
    monkeypatch.setenv("GRIDGIS_SESSION_HOURS", "8")
    monkeypatch.setenv("GRIDGIS_SECURE_COOKIES", "maybe")
    with pytest.raises(ConfigError, match="GRIDGIS_SECURE_COOKIES was 'maybe'"):
        default_config()


def test_wrong_name_or_password_get_the_same_answer(client: FlaskClient, database_url: str) -> None:
    add_test_user(database_url, "admin")
    wrong_password = _post_login(client, "admin", "not the password")
    unknown_name = _post_login(client, "nobody", TEST_PASSWORD)
    for response in (wrong_password, unknown_name):
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert '<p class="auth-error" role="alert">用户名或密码错误。</p>' in html
        assert "从同一地址连续输错 5 次密码后，须等 15 分钟才能再试。" in html
    assert wrong_password.get_data(as_text=True) == unknown_name.get_data(as_text=True).replace(
        'value="nobody"', 'value="admin"'
    )
    with client.session_transaction() as session:
        assert "user_id" not in session
    assert client.get("/api/summary").status_code == 401


def test_login_goes_on_only_to_a_page_of_this_app(client: FlaskClient, database_url: str) -> None:
    add_test_user(database_url, "admin")
    for next_url, expected in [
        ("/api/summary?x=1", "/api/summary?x=1"),
        ("//evil.example/steal", "/"),
        ("/\\evil.example", "/"),  # browsers read a backslash as a slash
    ]:
        response = _post_login(client, "admin", TEST_PASSWORD, next=next_url)
        assert response.headers["Location"] == expected, next_url


def test_logout_is_a_post_with_the_csrf_token(client: FlaskClient) -> None:
    token = sign_in(client)
    assert client.get("/logout").status_code == 405  # a link or an <img> cannot log one out
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?logged_out=1"
    assert "已退出登录。" in client.get("/login?logged_out=1").get_data(as_text=True)
    assert client.get("/").status_code == 302


# --- CSRF --------------------------------------------------------------------------------------


def test_csrf_missing_is_400_and_wrong_is_403(client: FlaskClient, database_url: str) -> None:
    add_test_user(database_url, "admin")
    form = {"name": "admin", "password": TEST_PASSWORD}
    missing = client.post("/login", data=form)
    assert missing.status_code == 400
    assert "carries no CSRF token" in missing.get_data(as_text=True)
    _csrf(client)
    wrong = client.post("/login", data={**form, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert "CSRF token is wrong" in wrong.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session

    # Signed in, every unsafe request needs it: forms in a field, JSON in a header.
    token = sign_in(client, name="admin2")
    body = {"category": "fire_safety", "lon": 119.0, "lat": 25.42}
    no_header = client.post("/api/cases", json=body)
    assert no_header.status_code == 400 and "CSRF" in no_header.get_json()["error"]["message"]
    other = client.post("/api/cases", json=body, headers={"X-CSRF-Token": token[::-1]})
    assert other.status_code == 403 and "CSRF" in other.get_json()["error"]["message"]
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)("/api/summary").status_code == 400
    accepted = client.post("/api/cases", json=body, headers={"X-CSRF-Token": token})
    assert accepted.status_code == 201, accepted.get_data(as_text=True)


# --- API tokens --------------------------------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_api_token_authenticates_a_request_without_csrf(
    client: FlaskClient, engine: Engine, database_url: str
) -> None:
    add_test_user(database_url, "gongchen", role="street", street="350304002")
    add_test_user(database_url, "analyst", role="analyst")
    token = users.issue_token(engine, "gongchen", actor="test")
    bearer = {"Authorization": f"Bearer {token}"}
    summary = client.get("/api/summary", headers=bearer)
    assert summary.get_json() == {"district": 1, "street": 1, "community": 0, "cell": 0}
    assert _codes(client, "/api/areas/street.geojson", **bearer) == ["350304002"]
    for header in (f"Bearer {token[:-1]}x", "Bearer ", f"Basic {token}"):
        refused = client.get("/api/summary", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="gridgis"'
    # A token is no cookie a browser adds by itself: no CSRF token is needed with it.
    analyst = {"Authorization": f"Bearer {users.issue_token(engine, 'analyst', actor='test')}"}
    refused = client.post("/api/cases", json={"category": "fire_safety"}, headers=analyst)
    assert refused.status_code == 403
    assert "analysts read and export but change nothing" in refused.get_json()["error"]["message"]


@pytest.mark.usefixtures("areas")
def test_open311_api_key_is_an_api_token(
    client: FlaskClient, engine: Engine, database_url: str
) -> None:
    add_test_user(database_url, "analyst", role="analyst")
    key = users.issue_token(engine, "analyst", actor="test")
    url = "/open311/v2/requests.json"
    form = {"service_code": "fire_safety", "lat": "25.42", "long": "119.0"}
    as_analyst = client.post(url, data={**form, "api_key": key})
    assert as_analyst.status_code == 403
    assert "analyst" in as_analyst.get_json()[0]["description"]
    assert client.post(url, data={**form, "api_key": key[:-2] + "zz"}).status_code == 401


# --- roles and scope ---------------------------------------------------------------------------


def _street_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT DISTINCT substr(code, 1, 9) FROM grid_cell "
                    "WHERE valid_to IS NULL ORDER BY 1"
                )
            ).scalars()
        )


@pytest.fixture
def demo_app(demo_url: str) -> Iterator[Flask]:
    application = create_app({"TESTING": True, "DATABASE_URL": demo_url})
    yield application
    dispose_engine(application)


def test_a_street_office_sees_only_its_street(demo_app: Flask, demo_engine: Engine) -> None:
    own, other, *_ = _street_codes(demo_engine)
    admin = demo_app.test_client()
    sign_in(admin)
    office = demo_app.test_client()
    sign_in(office, role="street", street=own)

    for level in ("street", "community", "cell"):
        every = _codes(admin, f"/api/areas/{level}.geojson")
        mine = _codes(office, f"/api/areas/{level}.geojson")
        assert {c[:9] for c in every} >= {own, other}
        assert mine and all(code.startswith(own) for code in mine), level
        assert mine == [c for c in every if c.startswith(own)]
    assert _codes(office, "/api/areas/district.geojson") == [own[:6]]  # its district's outline
    assert _codes(office, f"/api/areas/street.geojson?within={own[:6]}") == [own]
    community = _codes(office, "/api/areas/community.geojson")[0]
    assert set(_codes(office, f"/api/areas/cell.geojson?within={community}")) == {
        c for c in _codes(admin, "/api/areas/cell.geojson") if c.startswith(community)
    }
    refused = office.get(f"/api/areas/cell.geojson?within={other}")
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        f"`within` was '{other}' but user 'street-{own}' may see only street {own}"
    )

    with demo_engine.connect() as conn:
        communities, cells = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM community WHERE street_code = :s), "
                "(SELECT count(*) FROM grid_cell WHERE valid_to IS NULL AND code LIKE :p)"
            ),
            {"s": own, "p": own + "%"},
        ).one()
    assert office.get("/api/summary").get_json() == {
        "district": 1,
        "street": 1,
        "community": communities,
        "cell": cells,
    }
    assert admin.get("/api/summary").get_json()["cell"] > cells

    page = office.get("/").get_data(as_text=True)
    panel = re.search(r'<ul class="district-list">(.*?)</ul>', page, re.S)
    assert panel is not None
    assert re.findall(r'class="district-link" data-code="(\d+)"', panel.group(1)) == [own[:6]]
    assert f"街道 1 · 社区 {communities}" in panel.group(1)
    assert f"网格 <strong>{cells}</strong>" in page


@pytest.mark.usefixtures("areas")
def test_an_analyst_reads_everything_and_changes_nothing(client: FlaskClient) -> None:
    token = sign_in(client, role="analyst")
    assert client.get("/").status_code == 200
    assert len(_codes(client, "/api/areas/street.geojson")) == 3
    refused = client.post(
        "/api/cases",
        json={"category": "fire_safety", "lon": 119.0, "lat": 25.42},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 403
    assert refused.get_json()["error"]["message"] == (
        "user 'analyst' is an analyst: analysts read and export but change nothing"
    )
    # Its own password is its own to change.
    changed = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": TEST_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 302 and changed.headers["Location"] == "/account?changed=1"


def test_roles_required_lets_only_those_roles_in(database_url: str, engine: Engine) -> None:
    insert_sample_areas(engine)
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})

    @roles_required("admin")
    def publish() -> dict[str, bool]:
        return {"published": True}

    app.add_url_rule("/api/probe/publish", view_func=publish, methods=["POST"])
    try:
        assert app.test_client().post("/api/probe/publish").status_code == 401
        outcomes = {}
        for role, street in [("admin", None), ("street", "350304001"), ("analyst", None)]:
            client = app.test_client()
            token = sign_in(client, role=role, street=street)
            response = client.post("/api/probe/publish", headers={"X-CSRF-Token": token})
            outcomes[role] = (response.status_code, response.get_json())
    finally:
        dispose_engine(app)
    assert outcomes["admin"] == (200, {"published": True})
    assert outcomes["street"] == (
        403,
        {
            "error": {
                "code": "forbidden",
                "message": "user 'street-350304001' has role 'street' but this needs 'admin'",
                "field": None,
            }
        },
    )
    assert outcomes["analyst"][0] == 403
    with pytest.raises(ValueError, match=r"`roles` was \['boss'\]"):
        roles_required("boss")


# --- sessions end ------------------------------------------------------------------------------


def test_sessions_end_on_password_change_removal_and_age(
    app: Flask, engine: Engine, database_url: str
) -> None:
    client = app.test_client()
    sign_in(client)
    assert client.get("/api/summary").status_code == 200
    users.set_password(engine, "admin", NEW_PASSWORD, actor="test")
    assert client.get("/api/summary").status_code == 401

    sign_in(client, role="analyst")
    users.remove_user(engine, "analyst", actor="test")
    assert client.get("/api/summary").status_code == 401

    add_test_user(database_url, "old")
    assert _post_login(client, "old", TEST_PASSWORD).status_code == 302
    with client.session_transaction() as session:
        session["login_at"] = time.time() - 9 * 3600  # the default lifetime is 8 hours
    assert client.get("/").headers["Location"] == "/login?next=/"


def test_password_changed_here_ends_other_sessions_at_once(app: Flask) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    token = sign_in(here)
    assert _post_login(elsewhere, "admin", TEST_PASSWORD).status_code == 302
    assert elsewhere.get("/api/summary").status_code == 200
    response = here.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": TEST_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert here.get("/api/summary").status_code == 200
    assert elsewhere.get("/api/summary").status_code == 401


def test_account_page_changes_the_password(client: FlaskClient, engine: Engine) -> None:
    token = sign_in(client)
    page = client.get("/account").get_data(as_text=True)
    assert '<dd class="account-name">admin</dd>' in page and "管理员" in page

    def change(current: str, new: str, again: str) -> TestResponse:
        return client.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": current,
                "new_password": new,
                "new_password_again": again,
            },
        )

    assert "当前密码错误。" in change("wrong", NEW_PASSWORD, NEW_PASSWORD).get_data(as_text=True)
    assert "不一致" in change(TEST_PASSWORD, NEW_PASSWORD, "other").get_data(as_text=True)
    assert change(TEST_PASSWORD, "short", "short").status_code == 400
    done = change(TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert done.headers["Location"] == "/account?changed=1"
    assert "密码已修改" in client.get("/account?changed=1").get_data(as_text=True)
    assert users.authenticate(engine, "admin", NEW_PASSWORD) is not None


# --- escaping ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_user_text_is_escaped_in_pages(client: FlaskClient, database_url: str) -> None:
    name = "<svg>onload=alert(1)"
    sign_in(client, name=name)
    for url in ("/", "/account"):
        html = client.get(url).get_data(as_text=True)
        assert "<svg>" not in html, url
        assert "&lt;svg&gt;onload=alert(1)" in html, url
    client.post("/logout", data={"csrf_token": _csrf(client)})
    failed = _post_login(client, '"><script>alert(1)</script>', "x" * 8).get_data(as_text=True)
    assert "<script>alert(1)" not in failed
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in failed


def test_templates_never_turn_escaping_off() -> None:
    app = create_app({"TESTING": True})
    assert app.jinja_env.autoescape("page.html") is True  # type: ignore[operator]
    offenders = [
        f"{path.name}: {line.strip()}"
        for path in sorted(TEMPLATES.glob("*.html"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", line)
    ]
    assert offenders == []
