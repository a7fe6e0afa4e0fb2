"""The base map: none by default, an XYZ server, 天地图 with a key, GCJ-02 tiles shifted.

The browser test serves tiles from the app itself (a route added for the
test), so the page still asks nothing of the outside; it checks where
Leaflet puts each tile with WGS84 and with GCJ-02 tiles.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask, Response
from flask.testing import FlaskClient

from gridgis.crs import wgs84_to_gcj02
from gridgis.errors import ConfigError
from gridgis.web import create_app
from gridgis.web.basemap import base_map, image_sources
from gridgis.web.db import dispose_engine

PUTIAN = (119.0077, 25.4310)  # lon, lat: in the demo district
TEST_TILES = "/test-tiles/{z}/{x}/{y}.png"


def _png() -> bytes:
    """A 256 × 256 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xc8" * 256 for _ in range(256))
    header = struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_no_base_map_by_default() -> None:
    assert base_map({"TILE_URL": None, "TIANDITU_KEY": None}) is None
    assert image_sources(None) == []


def test_xyz_server_and_its_csp_source() -> None:
    described = base_map(
        {
            "TILE_URL": "https://{s}.tile.intranet.example/{z}/{x}/{y}.png",
            "TILE_ATTRIBUTION": "© OpenStreetMap",
            "TILE_SUBDOMAINS": "ab",
            "TILE_MAX_ZOOM": 17,
        }
    )
    assert described is not None
    assert described["crs"] == "wgs84"
    assert described["layers"] == [
        {
            "url": "https://{s}.tile.intranet.example/{z}/{x}/{y}.png",
            "subdomains": "ab",
            "attribution": "© OpenStreetMap",
            "maxZoom": 17,
        }
    ]
    assert image_sources(described) == ["https://*.tile.intranet.example"]
    assert image_sources(base_map({"TILE_URL": "/proxy/{z}/{x}/{y}.png"})) == []
    assert image_sources(base_map({"TILE_URL": "http://{s}.{d}.example/{z}/{x}/{y}"})) == ["http:"]


def test_tianditu_with_a_key() -> None:
    described = base_map({"TIANDITU_KEY": "0123456789abcdef0123456789abcdef"})
    assert described is not None and described["name"] == "tianditu"
    urls = [layer["url"] for layer in described["layers"]]
    assert ["LAYER=vec" in urls[0], "LAYER=cva" in urls[1]] == [True, True]
    assert all("tk=0123456789abcdef0123456789abcdef" in url for url in urls)
    assert all("{s}" in url and "{z}" in url for url in urls)
    assert image_sources(described) == ["https://*.tianditu.gov.cn"]
    # A tile URL wins over the key.
    assert (
        base_map({"TILE_URL": "/t/{z}/{x}/{y}.png", "TIANDITU_KEY": "0123456789ab"})["name"]
        == "custom"
    )


def test_bad_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="TIANDITU_KEY was 'not a key!'"):
        base_map({"TIANDITU_KEY": "not a key!"})
    with pytest.raises(ConfigError, match="TILE_CRS was 'bd09'"):
        base_map({"TILE_URL": "/t/{z}/{x}/{y}.png", "TILE_CRS": "bd09"})
    monkeypatch.setenv("GRIDGIS_TILE_CRS", "mercator")
    with pytest.raises(ConfigError, match="GRIDGIS_TILE_CRS was 'mercator'"):
        create_app({"TESTING": True})
    monkeypatch.setenv("GRIDGIS_TILE_CRS", "gcj02")
    monkeypatch.setenv("GRIDGIS_TILE_MAX_ZOOM", "99")
    with pytest.raises(ConfigError, match="GRIDGIS_TILE_MAX_ZOOM was '99'"):
        create_app({"TESTING": True})


def test_pages_allow_only_the_tile_hosts(database_url: str) -> None:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "TIANDITU_KEY": "0123456789abcdef"}
    )
    client: FlaskClient = app.test_client()
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tianditu.gov.cn;" in policy
    assert "default-src 'self'" in policy
    dispose_engine(app)


def _tile_app(database_url: str, crs: str) -> Flask:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "TILE_URL": TEST_TILES, "TILE_CRS": crs}
    )
    png = _png()

    def tile(z: int, x: int, y: int) -> Response:
        return Response(png, mimetype="image/png")

    app.add_url_rule("/test-tiles/<int:z>/<int:x>/<int:y>.png", "test_tile", tile)
    return app


@pytest.fixture
def chromium() -> str:
    return require_chromium()


# Where each loaded base-map tile is drawn, against where a WGS84 tile z/x/y belongs.
TILE_OFFSETS_JS = """
() => {
  const map = gridgis.maps[0];
  const box = map.getContainer().getBoundingClientRect();
  const out = [];
  document.querySelectorAll(".gridgis-basemap img.leaflet-tile-loaded").forEach((img) => {
    const m = img.src.match(/test-tiles\\/(\\d+)\\/(\\d+)\\/(\\d+)\\.png/);
    const z = +m[1], x = +m[2], y = +m[3];
    const corner = map.latLngToContainerPoint(map.unproject([x * 256, y * 256], z));
    const rect = img.getBoundingClientRect();
    out.push([rect.left - box.left - corner.x, rect.top - box.top - corner.y]);
  });
  return out;
}
"""


@pytest.mark.browser
@pytest.mark.parametrize("crs", ["wgs84", "gcj02"])
def test_tiles_are_placed_and_gcj02_tiles_shifted(
    chromium: str, database_url: str, crs: str
) -> None:
    add_test_user(database_url, "viewer", role="analyst")
    app = _tile_app(database_url, crs)
    lon, lat, z = PUTIAN[0], PUTIAN[1], 16
    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, "viewer", TEST_PASSWORD, then="/map/cells")
        page.wait_for_selector(f"body[data-basemap='custom:{crs}']")
        page.evaluate(
            "([lat, lon, z]) => gridgis.maps[0].setView([lat, lon], z, {animate: false})",
            [lat, lon, z],
        )
        page.wait_for_function(
            "() => document.querySelectorAll('.gridgis-basemap img.leaflet-tile-loaded').length"
            " >= 4 && !document.querySelector('.gridgis-basemap img:not(.leaflet-tile-loaded)')"
        )
        offsets = page.evaluate(TILE_OFFSETS_JS)
        # The shift the tiles need: GCJ-02 minus WGS84 of the centre, in pixels at z.
        expected = page.evaluate(
            """([lat, lon, z]) => {
                 const map = gridgis.maps[0];
                 const g = gridgis.wgs84ToGcj02(lon, lat);
                 const a = map.project([lat, lon], z), b = map.project([g[1], g[0]], z);
                 return [a.x - b.x, a.y - b.y];
               }""",
            [lat, lon, z],
        )
    watch.assert_clean()
    assert any(p.startswith("/test-tiles/16/") for p in watch.paths)
    assert offsets
    want = (0.0, 0.0) if crs == "wgs84" else tuple(expected)
    if crs == "gcj02":
        assert abs(want[0]) > 50 and abs(want[1]) > 50, want  # hundreds of metres in Putian
    for dx, dy in offsets:
        assert abs(dx - want[0]) <= 1.5 and abs(dy - want[1]) <= 1.5, (dx, dy, want)
    dispose_engine(app)


@pytest.mark.browser
def test_script_shift_matches_gridgis_crs(chromium: str, database_url: str) -> None:
    add_test_user(database_url, "viewer", role="analyst")
    app = _tile_app(database_url, "gcj02")
    points = [PUTIAN, (116.404, 39.915), (121.47, 31.23), (2.35, 48.85)]
    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, "viewer", TEST_PASSWORD, then="/map/cells")
        page.wait_for_selector("body[data-basemap='custom:gcj02']")
        shifted = page.evaluate("(pts) => pts.map(([x, y]) => gridgis.wgs84ToGcj02(x, y))", points)
    watch.assert_clean()
    for (lon, lat), (got_lon, got_lat) in zip(points, shifted, strict=True):
        want = wgs84_to_gcj02(lon, lat)
        assert abs(got_lon - want[0]) < 1e-9 and abs(got_lat - want[1]) < 1e-9
    dispose_engine(app)
