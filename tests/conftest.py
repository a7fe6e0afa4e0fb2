"""Shared fixtures and helpers of the tests.

The databases (a real PostGIS, the templates built once per run and the
copies for each test) are the plugin ``_databases``, which the root
``conftest.py`` loads so that the doctests of ``gridgis/`` share them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _databases import DEMO_DISTRICT as DEMO_DISTRICT
from _databases import DEMO_SCALE as DEMO_SCALE
from _databases import _Server
from _databases import cluster_home as cluster_home
from sqlalchemy import Engine, create_engine, text

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
MARKUP_NAME = '<img src="/xss.png" onerror="window.__xss = 1">社区'
"""A name holding markup: pages must show it as text."""


@pytest.fixture
def demo_engine(demo_url: str) -> Iterator[Engine]:
    eng = create_engine(demo_url)
    yield eng
    eng.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


# --- the web app ----------------------------------------------------------------------------------


@pytest.fixture
def app_database_url(database_url: str) -> str:
    """The database the ``app`` fixture serves: this test's empty one. A module whose
    tests need the demo district overrides this fixture to return ``demo_url``."""
    return database_url


@pytest.fixture
def app(app_database_url: str) -> Iterator[Flask]:
    """The web app on ``app_database_url``; its engine is disposed of afterwards."""
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app({"TESTING": True, "DATABASE_URL": app_database_url})
    yield application
    dispose_engine(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def shared_client(
    request: pytest.FixtureRequest, pg_server: _Server, demo_template: str
) -> Iterator[FlaskClient]:
    """A client on one copy of the demo district for the tests of a module that only read
    or are refused (one copy per module, not per test)."""
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    name = f"gridgis_shared_{request.module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"
    application = create_app(
        {"TESTING": True, "DATABASE_URL": pg_server.create(name, template=demo_template)}
    )
    yield application.test_client()
    dispose_engine(application)
    pg_server.drop(name)


@pytest.fixture(scope="module")
def web(demo_db: str) -> Iterator[Flask]:
    """The web app on the module's copy of the demo (:func:`demo_db`)."""
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app({"TESTING": True, "DATABASE_URL": demo_db})
    yield application
    dispose_engine(application)


@pytest.fixture(scope="module")
def streets(demo_db: str) -> list[str]:
    """The street offices of the module's demo copy that have cells, by code (two or more)."""
    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT DISTINCT co.street_code FROM grid_cell g "
                    "JOIN community co ON co.code = g.community_code "
                    "WHERE g.valid_to IS NULL ORDER BY 1"
                )
            )
            found = [r[0] for r in rows]
    finally:
        engine.dispose()
    assert len(found) >= 2
    return found


def busiest_street(engine: Engine) -> str:
    """The code of the street office with the most active cells (the first such, by code)."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT left(code, 9) FROM grid_cell WHERE valid_to IS NULL "
                    "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
                )
            ).scalar_one()
        )


@pytest.fixture
def chromium() -> str:
    """Chromium for a browser test: the test fails, never skips, when it is missing."""
    from _browser import require_chromium

    return require_chromium()


_ROLE_CLIENTS: dict[tuple[str, str, str | None], FlaskClient] = {}


def role_client(web: Flask, role: str, street: str | None = None, *, prefix: str) -> FlaskClient:
    """A client of ``web`` signed in with ``role`` (of ``street``): one user, named
    ``<prefix>-<role>-<street or all>``, and one client per database, role and street."""
    key = (web.config["DATABASE_URL"], role, street)
    if key not in _ROLE_CLIENTS:
        client = web.test_client()
        sign_in(client, role=role, street=street, name=f"{prefix}-{role}-{street or 'all'}")
        _ROLE_CLIENTS[key] = client
    return _ROLE_CLIENTS[key]


def role_users(url: str, prefix: str, street: str) -> dict[str, tuple[str, str | None]]:
    """Add an admin, an analyst and a street office of ``street`` to the database at
    ``url``, named ``<prefix>-<role>``; their (name, street) by role."""
    users = {
        "admin": (f"{prefix}-admin", None),
        "analyst": (f"{prefix}-analyst", None),
        "street": (f"{prefix}-street", street),
    }
    for role, (name, street_code) in users.items():
        add_test_user(url, name, role=role, street=street_code)
    return users


def assert_no_inline_code(html: str) -> None:
    """The page keeps the CSP: scripts are files or JSON data, no style or event attributes."""
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)


def response_json(response: Any, status: int) -> Any:
    """The JSON body of a test client's ``response``, after checking its status and type."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


ROUTE_SAMPLE_ARGS = {
    "level": "cell",
    "case_id": "1",
    "z": "0",
    "x": "0",
    "y": "0",
    "fmt": "json",
    "service_code": "dispute",
    "service_request_id": "1",
    "filename": "css/app.css",
}
"""A value for each argument of the app's routes (others get ``1``), to call every route."""


def sample_url(rule: Any, args: dict[str, str] | None = None) -> str:
    """The URL of a Flask ``rule`` with each argument filled from ``args`` (default
    :data:`ROUTE_SAMPLE_ARGS`; others get ``1``)."""
    values = ROUTE_SAMPLE_ARGS if args is None else args
    url = str(rule.rule)
    for name in rule.arguments:
        url = re.sub(rf"<(?:[\w()]+:)?{name}>", values.get(name, "1"), url)
    return url


def backdate_case_to_1900(engine: Engine, case_id: int) -> None:
    """Store case ``case_id`` as reported on 1900-01-01 (an old system's migration might),
    past the triggers that refuse such times."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text(
                "UPDATE case_record SET reported_at = '1900-01-01 00:00:00+08', "
                "deadline = '1900-01-02 00:00:00+08' WHERE id = :id"
            ),
            {"id": case_id},
        )


def cell_point(engine: Engine, *, last: bool = False) -> tuple[str, float, float]:
    """The code of the first (``last``: the last) active cell and a point well inside it."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT code, ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
                "  SELECT code, ST_PointOnSurface(ST_Buffer(geom, -0.0002)) AS p FROM grid_cell"
                "  WHERE valid_to IS NULL AND NOT ST_IsEmpty(ST_Buffer(geom, -0.0002))"
                f"  ORDER BY code{' DESC' if last else ''} LIMIT 1) s"
            )
        ).one()
    return row.code, row.lon, row.lat


# Two districts far apart, each a small square, with two and one streets and
# one community. Codes follow the official nesting (district + 3 digits ...).
LICHENG = "POLYGON((118.95 25.38, 119.05 25.38, 119.05 25.46, 118.95 25.46, 118.95 25.38))"
LICHENG_WEST = "POLYGON((118.95 25.38, 119.00 25.38, 119.00 25.46, 118.95 25.46, 118.95 25.38))"
LICHENG_EAST = "POLYGON((119.00 25.38, 119.05 25.38, 119.05 25.46, 119.00 25.46, 119.00 25.38))"
LONGGANG = "POLYGON((120.85 40.68, 120.95 40.68, 120.95 40.76, 120.85 40.76, 120.85 40.68))"


def insert_sample_areas(engine: Engine) -> None:
    """Store 荔城区 (2 streets, 1 community) and 龙港区 (1 street)."""
    districts = [("350304", "荔城区", LICHENG), ("211403", "龙港区", LONGGANG)]
    streets = [
        ("350304001", "350304", "镇海街道", LICHENG_WEST),
        ("350304002", "350304", "拱辰街道", LICHENG_EAST),
        ("211403001", "211403", "北港街道", LONGGANG),
    ]
    with engine.begin() as conn:
        for code, name, wkt in districts:
            conn.execute(
                text(
                    "INSERT INTO district (code, name, geom) "
                    "VALUES (:code, :name, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {"code": code, "name": name, "wkt": wkt},
            )
        for code, district_code, name, wkt in streets:
            conn.execute(
                text(
                    "INSERT INTO street (code, district_code, name, geom) VALUES "
                    "(:code, :district_code, :name, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {"code": code, "district_code": district_code, "name": name, "wkt": wkt},
            )
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name, kind) "
                "VALUES ('350304001001', '350304001', '英龙社区', 'urban')"
            )
        )


OTHER_DISTRICT = {
    "district": "211403",
    "district_name": "龙港区",
    "street": "211403001",
    "street_name": "北港街道",
    "community": "211403001001",
    "cell": "211403001001001",
}
"""The second district :func:`insert_other_district` adds beside the demo's 荔城区."""

_OTHER_CELL = "POLYGON((120.88 40.70, 120.90 40.70, 120.90 40.72, 120.88 40.72, 120.88 40.70))"


def insert_other_district(engine: Engine) -> dict[str, str]:
    """Add 龙港区 with one street, community and active cell, one case (reported
    2025-06-15) and one inspection (started 2025-06-16) in it: a database of two
    districts. Returns :data:`OTHER_DISTRICT` (its codes and names)."""
    codes = OTHER_DISTRICT
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO district (code, name, geom) "
                "VALUES (:code, :name, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"code": codes["district"], "name": codes["district_name"], "wkt": LONGGANG},
        )
        conn.execute(
            text(
                "INSERT INTO street (code, district_code, name, geom) "
                "VALUES (:code, :district, :name, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {
                "code": codes["street"],
                "district": codes["district"],
                "name": codes["street_name"],
                "wkt": LONGGANG,
            },
        )
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name, geom) "
                "VALUES (:code, :street, '港湾社区', ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"code": codes["community"], "street": codes["street"], "wkt": _OTHER_CELL},
        )
        version = conn.execute(
            text(
                "INSERT INTO layout_version (community_code, version, method) "
                "VALUES (:community, 1, 'import') RETURNING id"
            ),
            {"community": codes["community"]},
        ).scalar_one()
        cell_id = conn.execute(
            text(
                "INSERT INTO grid_cell (code, community_code, name, geom, households, residents, "
                "version_from_id) VALUES (:code, :community, '港湾一网格', "
                "ST_Multi(ST_GeomFromText(:wkt, 4326)), 400, 1200, :version) RETURNING id"
            ),
            {
                "code": codes["cell"],
                "community": codes["community"],
                "wkt": _OTHER_CELL,
                "version": version,
            },
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO case_record (category_code, description, cell_id, community_code, "
                "street_code, reported_at, geom) SELECT min(code), '龙港区的案件', :cell, "
                ":community, :street, '2025-06-15T10:00+08', "
                "ST_SetSRID(ST_MakePoint(120.89, 40.71), 4326) FROM case_category"
            ),
            {"cell": cell_id, "community": codes["community"], "street": codes["street"]},
        )
        inspection = conn.execute(
            text(
                "INSERT INTO inspection (started_at, geom) VALUES "
                "('2025-06-16T09:00+08', ST_SetSRID(ST_MakePoint(120.89, 40.71), 4326)) "
                "RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text("INSERT INTO inspection_cell VALUES (:i, :c)"), {"i": inspection, "c": cell_id}
        )
    return dict(codes)


# --- signing in to the web app (gridgis.web.auth) -----------------------------------------------

TEST_PASSWORD = "correct horse battery staple"
"""The password of every user :func:`sign_in` adds."""


_TEST_PASSWORD_HASH: list[str] = []


def add_test_user(
    url: str,
    name: str,
    *,
    role: str = "admin",
    street: str | None = None,
    worker: int | None = None,
    department: str | None = None,
) -> None:
    """Add a web user with :data:`TEST_PASSWORD` to the database at ``url``.

    The password is hashed once per run (scrypt costs about 0.1 s); tests of
    adding users themselves use :func:`gridgis.users.add_user`.
    """
    from werkzeug.security import generate_password_hash

    from gridgis.users import PASSWORD_METHOD

    if not _TEST_PASSWORD_HASH:
        _TEST_PASSWORD_HASH.append(generate_password_hash(TEST_PASSWORD, method=PASSWORD_METHOD))
    eng = create_engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO app_user (name, role, street_code, worker_id, department_code, "
                    "password_hash) VALUES (:name, :role, :street, :worker, :department, :hash)"
                ),
                {
                    "name": name,
                    "role": role,
                    "street": street,
                    "worker": worker,
                    "department": department,
                    "hash": _TEST_PASSWORD_HASH[0],
                },
            )
    finally:
        eng.dispose()


def sign_in(
    client: FlaskClient, *, role: str = "admin", street: str | None = None, name: str | None = None
) -> str:
    """Add a user with ``role`` to the client's app database and log the client in as it.

    ``client`` is a Flask test client; the user is named after its role unless
    ``name`` is given. Returns the session's CSRF token, for the POSTs that follow
    (form field ``csrf_token`` or header ``X-CSRF-Token``).
    """
    name = name or (f"{role}-{street}" if street else role)
    add_test_user(client.application.config["DATABASE_URL"], name, role=role, street=street)
    return log_in_client(client, name)


def log_in_client(client: FlaskClient, name: str) -> str:
    """Log the client in as the existing user ``name`` (password :data:`TEST_PASSWORD`)
    through the login form; return the session's CSRF token."""
    client.get("/login")
    with client.session_transaction() as session:
        token = str(session["csrf"])
    response = client.post(
        "/login", data={"name": name, "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    with client.session_transaction() as session:
        return str(session["csrf"])
