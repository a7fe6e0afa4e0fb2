"""The web app through Flask's test client, on a real PostGIS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from conftest import insert_sample_areas, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from gridgis.web import create_app
from gridgis.web.db import dispose_engine


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield application
    dispose_engine(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A client signed in as an administrator (every route but /api/health needs a user)."""
    client = app.test_client()
    sign_in(client)
    return client


@pytest.fixture
def areas(engine: Engine) -> None:
    insert_sample_areas(engine)


def _geojson(client: FlaskClient, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    return json.loads(response.get_data(as_text=True))


# --- the app factory ---------------------------------------------------------


def _connections(database_url: str) -> int:
    """How many sessions other than the asking one are connected to the database."""
    probe = create_engine(database_url, poolclass=NullPool)
    with probe.connect() as conn:
        count = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    probe.dispose()
    return int(count)


def test_create_app_connects_to_nothing_until_a_request(database_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    assert _connections(database_url) == 0
    assert app.test_client().get("/api/health").status_code == 200
    assert _connections(database_url) == 1  # the pooled connection, kept for the next request
    other = create_app({"TESTING": True, "DATABASE_URL": database_url})
    assert other.test_client().get("/api/health").status_code == 200
    assert _connections(database_url) == 1  # one engine per database and process
    dispose_engine(app)
    assert _connections(database_url) == 0


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_TILE_URL", "http://tiles.intranet.example/{z}/{x}/{y}.png")
    monkeypatch.setenv("GRIDGIS_TILE_ATTRIBUTION", "区测绘院")
    monkeypatch.setenv("GRIDGIS_SECRET_KEY", "s3cret")
    app = create_app()
    assert app.config["TILE_URL"] == "http://tiles.intranet.example/{z}/{x}/{y}.png"
    assert app.config["TILE_ATTRIBUTION"] == "区测绘院"
    assert app.config["SECRET_KEY"] == "s3cret"
    assert create_app({"TILE_URL": None}).config["TILE_URL"] is None


# --- the overview page -------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_index_is_chinese_and_lists_districts_with_counts(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "<title>gridgis 网格化管理</title>" in html
    panel = re.search(r'<ul class="district-list">(.*?)</ul>', html, re.S)
    assert panel is not None
    items = re.findall(r"<li>(.*?)</li>", panel.group(1), re.S)
    assert len(items) == 2
    longgang, licheng = items  # ordered by code
    assert "龙港区" in longgang and "211403" in longgang and "街道 1 · 社区 0" in longgang
    assert "荔城区" in licheng and "350304" in licheng and "街道 2 · 社区 1" in licheng


@pytest.mark.usefixtures("areas")
def test_index_loads_only_local_files(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    urls = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', html)
    assert urls, "the page links no scripts or styles"
    assert [u for u in urls if not u.startswith("/")] == []
    assert "http://" not in html and "https://" not in html
    assert [u for u in urls if u.startswith("//")] == []
    assert "/static/vendor/leaflet/leaflet.js" in urls
    assert "/static/vendor/leaflet/leaflet.css" in urls
    assert "/static/js/overview.js" in urls
    assert "/static/css/app.css" in urls
    # Inline scripts are JSON data blocks only (settings, base map, translations);
    # no base map is configured.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    inline = {
        re.search(r'id="([^"]+)"', attrs).group(1): body  # type: ignore[union-attr]
        for attrs, body in scripts
        if body.strip()
    }
    assert all('type="application/json"' in attrs for attrs, body in scripts if body.strip())
    assert set(inline) == {"gridgis-config", "gridgis-basemap", "gridgis-messages"}
    assert json.loads(inline["gridgis-basemap"]) is None
    assert json.loads(inline["gridgis-messages"]) == {}  # Chinese: nothing to translate
    config = json.loads(inline["gridgis-config"])
    assert config["districtsUrl"] == "/api/areas/district.geojson"
    assert config["streetsUrl"] == "/api/areas/street.geojson"


def test_index_forbids_requests_outside_the_app(client: FlaskClient) -> None:
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "img-src 'self' data:;" in csp


def test_index_with_base_map_escapes_its_settings(database_url: str) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "TILE_URL": "https://{s}.tiles.example.org/{z}/{x}/{y}.png",
            "TILE_ATTRIBUTION": "</script><script>alert(1)</script>",
        }
    )
    try:
        client = app.test_client()
        sign_in(client)
        response = client.get("/")
    finally:
        dispose_engine(app)
    html = response.get_data(as_text=True)
    assert "<script>alert(1)" not in html
    block = re.search(r'<script type="application/json" id="gridgis-basemap">(.*?)</script>', html)
    assert block is not None
    described = json.loads(block.group(1))
    assert described["layers"][0]["url"] == "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    assert described["layers"][0]["attribution"] == "</script><script>alert(1)</script>"
    assert (
        "img-src 'self' data: https://*.tiles.example.org;"
        in (response.headers["Content-Security-Policy"])
    )
    assert "离线模式" not in html


def test_index_escapes_names_from_the_database(client: FlaskClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO district (code, name) VALUES ('350305', :name)"),
            {"name": "<img src=x onerror=alert(1)>"},
        )
    html = client.get("/").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'disabled title="尚无边界"' in html  # no outline yet: nothing to zoom to


def test_index_without_districts_says_so(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "尚无区县数据" in html
    assert "离线模式" in html


# --- the GeoJSON API ---------------------------------------------------------


@pytest.mark.usefixtures("areas")
def test_districts_geojson_keeps_names_and_coordinates(client: FlaskClient) -> None:
    data = _geojson(client, "/api/areas/district.geojson")
    assert data["type"] == "FeatureCollection"
    by_code = {f["properties"]["code"]: f for f in data["features"]}
    assert list(by_code) == ["211403", "350304"]
    licheng = by_code["350304"]
    assert licheng["properties"] == {"code": "350304", "name": "荔城区", "parent_code": None}
    assert licheng["geometry"]["type"] == "MultiPolygon"
    ring = licheng["geometry"]["coordinates"][0][0]
    # GeoJSON is longitude, latitude: 荔城区 is at about 119.0E 25.4N.
    assert all(118.9 < lon < 119.1 and 25.3 < lat < 25.5 for lon, lat in ring)
    assert sorted(ring[:4]) == [[118.95, 25.38], [118.95, 25.46], [119.05, 25.38], [119.05, 25.46]]
    longgang = by_code["211403"]["geometry"]["coordinates"][0][0]
    assert all(120.8 < lon < 121.0 and 40.6 < lat < 40.8 for lon, lat in longgang)


@pytest.mark.usefixtures("areas")
def test_geojson_is_utf8_not_escaped(client: FlaskClient) -> None:
    body = client.get("/api/areas/district.geojson").get_data()
    assert "荔城区".encode() in body


@pytest.mark.usefixtures("areas")
def test_within_keeps_the_areas_inside_a_code(client: FlaskClient) -> None:
    data = _geojson(client, "/api/areas/street.geojson?within=350304")
    features = data["features"]
    assert [f["properties"]["code"] for f in features] == ["350304001", "350304002"]
    assert [f["properties"]["name"] for f in features] == ["镇海街道", "拱辰街道"]
    assert {f["properties"]["parent_code"] for f in features} == {"350304"}
    every = _geojson(client, "/api/areas/street.geojson")
    assert len(every["features"]) == 3


def test_empty_level_is_an_empty_collection(client: FlaskClient) -> None:
    assert _geojson(client, "/api/areas/cell.geojson") == {
        "type": "FeatureCollection",
        "features": [],
    }


def test_unknown_level_is_404_json_naming_it(client: FlaskClient) -> None:
    response = client.get("/api/areas/province.geojson")
    assert response.status_code == 404
    assert response.is_json
    message = response.get_json()["error"]["message"]
    assert "'province'" in message
    assert "['district', 'street', 'community', 'cell']" in message


def test_bad_within_is_rejected_naming_it(client: FlaskClient) -> None:
    response = client.get("/api/areas/street.geojson?within=35%25")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "within")
    assert "`within` was '35%' but is expected to match ^[0-9]{2,15}$" in error["message"]


def test_health_reports_postgis(client: FlaskClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert re.match(r"^3\.\d+", body["postgis"]), body


@pytest.mark.usefixtures("areas")
def test_summary_counts_the_areas(client: FlaskClient) -> None:
    assert client.get("/api/summary").get_json() == {
        "district": 2,
        "street": 3,
        "community": 1,
        "cell": 0,
    }


# --- errors ------------------------------------------------------------------


def test_unreachable_database_is_503_without_traceback() -> None:
    # Port 1 on the loopback refuses at once: nothing listens there.
    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/api/health")
    finally:
        dispose_engine(app)
    assert response.status_code == 503
    message = response.get_json()["error"]["message"]
    assert message.startswith("cannot reach the database")
    assert "Traceback" not in message


def test_unexpected_error_is_a_plain_500(database_url: str) -> None:
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "DATABASE_URL": database_url})

    def boom() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/boom", view_func=boom)
    app.add_url_rule("/boom", endpoint="boom_page", view_func=boom)
    client = app.test_client()
    api = client.get("/api/boom")
    assert api.status_code == 500
    assert "secret internals" not in api.get_data(as_text=True)
    assert set(api.get_json()) == {"error"}
    page = client.get("/boom")
    assert page.status_code == 500
    assert page.mimetype == "text/html"
    assert "secret internals" not in page.get_data(as_text=True)
    assert "服务器内部错误" in page.get_data(as_text=True)


def test_unknown_page_is_chinese_html_and_unknown_api_path_is_json(client: FlaskClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "404 未找到" in html
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert api.is_json and "error" in api.get_json()


# --- static files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mimetypes"),
    [
        ("/static/vendor/leaflet/leaflet.js", {"text/javascript", "application/javascript"}),
        ("/static/vendor/leaflet/leaflet.css", {"text/css"}),
        ("/static/vendor/leaflet/images/layers.png", {"image/png"}),
        ("/static/js/overview.js", {"text/javascript", "application/javascript"}),
        ("/static/css/app.css", {"text/css"}),
        ("/static/img/favicon.svg", {"image/svg+xml"}),
    ],
)
def test_static_files_are_served(client: FlaskClient, path: str, mimetypes: set[str]) -> None:
    response = client.get(path)
    try:
        assert response.status_code == 200
        assert response.mimetype in mimetypes
        assert len(response.get_data()) > 0
    finally:
        response.close()


def test_vendored_leaflet_is_the_expected_version(client: FlaskClient) -> None:
    response = client.get("/static/vendor/leaflet/leaflet.js")
    try:
        assert b'version="1.9.4"' in response.get_data() or b"1.9.4" in response.get_data()
    finally:
        response.close()
