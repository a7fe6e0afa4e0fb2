"""Cells as vector tiles (/tiles/cells/z/x/y.pbf) and the cell map (/map/cells).

Tiles are decoded with a real reader (``mapbox-vector-tile``) and compared
with the demo district in PostGIS; the map is opened in headless Chromium.
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import shapely
from _browser import log_in, painted_pixel_js, serve, watched_page
from conftest import MARKUP_NAME, TEST_PASSWORD, add_test_user, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.tiles import CELL_LAYER, HOUSEHOLD_BREAKS, TILE_EXTENT

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
Z = 13


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, role="analyst")
    return client


def _tile_of(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Fractional XYZ tile coordinates of a point (Web Mercator)."""
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return x, y


def _a_cell(engine: Engine, *, offset: int = 0) -> Any:
    """An active cell of the demo with what its tile must say about it."""
    sql = text(
        f"""
        SELECT c.id, c.code, c.community_code, co.street_code, c.households,
               (c.households < coalesce(co.min_households, {DEFAULT_BOUNDS[0]})
                OR c.households > coalesce(co.max_households, {DEFAULT_BOUNDS[1]}))
                   AS out_of_bounds,
               EXISTS (SELECT 1 FROM worker_cell w WHERE w.cell_id = c.id) AS has_worker,
               EXISTS (SELECT 1 FROM branch_cell b WHERE b.cell_id = c.id) AS has_branch,
               ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat
        FROM grid_cell c JOIN community co ON co.code = c.community_code
        WHERE c.valid_to IS NULL ORDER BY c.code OFFSET :offset LIMIT 1
        """
    )
    with engine.connect() as conn:
        return conn.execute(sql, {"offset": offset}).one()


def _codes_touching(
    engine: Engine, z: int, x: int, y: int, *, margin: float = 0.0, by_box: bool = False
) -> set[str]:
    """Active cells that touch tile ``z/x/y`` grown by ``margin`` (or whose box does)."""
    envelope = "ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => CAST(:m AS float8)), 4326)"
    where = f"geom && {envelope}" if by_box else f"ST_Intersects(geom, {envelope})"
    sql = text(f"SELECT code FROM grid_cell WHERE valid_to IS NULL AND {where}")
    with engine.connect() as conn:
        return set(conn.execute(sql, {"z": z, "x": x, "y": y, "m": margin}).scalars())


def _decode(body: bytes) -> dict[str, Any]:
    layers = mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})
    assert set(layers) == {CELL_LAYER}
    layer: dict[str, Any] = layers[CELL_LAYER]
    return layer


def test_tile_holds_the_demo_cells_with_their_properties(
    client: FlaskClient, demo_engine: Engine
) -> None:
    cell = _a_cell(demo_engine)
    fx, fy = _tile_of(cell.lon, cell.lat, Z)
    x, y = int(fx), int(fy)

    response = client.get(f"/tiles/cells/{Z}/{x}/{y}.pbf")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers["ETag"].startswith('W/"')
    assert "Content-Encoding" not in response.headers
    layer = _decode(response.data)
    assert layer["extent"] == TILE_EXTENT

    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    assert len(by_code) == len(layer["features"])
    # Every cell that touches the tile is in it; none whose bounding box is farther than the
    # margin of 4 pixels is.
    assert _codes_touching(demo_engine, Z, x, y) <= set(by_code)
    near = _codes_touching(demo_engine, Z, x, y, margin=4 / 256, by_box=True)
    assert set(by_code) <= near

    feature = by_code[cell.code]
    assert feature["id"] == cell.id
    assert feature["properties"] == {
        "code": cell.code,
        "community": cell.community_code,
        "street": cell.street_code,
        "households": cell.households,
        "out_of_bounds": cell.out_of_bounds,
        "has_worker": cell.has_worker,
        "has_branch": cell.has_branch,
        "colour": sum(cell.households >= b for b in HOUSEHOLD_BREAKS),
    }
    # The cell's point on surface, in tile units, is inside the decoded polygon.
    polygon = shapely.geometry.shape(feature["geometry"])
    assert polygon.geom_type in {"Polygon", "MultiPolygon"}
    inside = shapely.Point((fx - x) * TILE_EXTENT, (fy - y) * TILE_EXTENT)
    assert polygon.buffer(1.0).contains(inside)

    # The same tile compressed, and coloured by worker coverage.
    packed = client.get(f"/tiles/cells/{Z}/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == response.data
    by_worker = client.get(f"/tiles/cells/{Z}/{x}/{y}.pbf?colour=worker")
    worker_feature = next(
        f for f in _decode(by_worker.data)["features"] if f["properties"]["code"] == cell.code
    )
    assert worker_feature["properties"]["colour"] == int(cell.has_worker)


def test_empty_tile_is_no_content(client: FlaskClient) -> None:
    response = client.get("/tiles/cells/10/0/0.pbf")
    assert response.status_code == 204
    assert response.data == b""
    assert response.headers["ETag"].startswith('W/"')


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/tiles/cells/23/0/0.pbf", 400, "tile `z` was 23 but is expected to be 0 to 22"),
        ("/tiles/cells/2/4/0.pbf", 400, "tile `x` was 4 but is expected to be 0 to 3 at zoom 2"),
        ("/tiles/cells/0/0/1.pbf", 400, "tile `y` was 1 but is expected to be 0 to 0 at zoom 0"),
        ("/tiles/cells/1/-1/0.pbf", 404, None),
        ("/tiles/cells/1/0/0.pbf?colour=red", 422, "`colour` was 'red'"),
        ("/tiles/cells/1/0/0.pbf?street=35030400", 422, "`street` was '35030400'"),
        ("/map/cells?colour=households;", 400, "`colour` 为 &#39;households;&#39;"),  # a zh page
        ("/map/cells?colour=households;&lang=en", 400, "`colour` was &#39;households;&#39;"),
    ],
)
def test_bad_requests_are_refused(
    client: FlaskClient, url: str, status: int, message: str | None
) -> None:
    response = client.get(url)
    assert response.status_code == status
    if message is not None:
        assert message in response.get_data(as_text=True)


def test_etag_revalidates_until_the_cells_change(client: FlaskClient, demo_engine: Engine) -> None:
    cell = _a_cell(demo_engine, offset=3)
    fx, fy = _tile_of(cell.lon, cell.lat, Z)
    url = f"/tiles/cells/{Z}/{int(fx)}/{int(fy)}.pbf?colour=branch"
    first = client.get(url)
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag

    # The cell loses its grid worker(s) and branch: the stamp, the ETag and the tile change.
    with demo_engine.begin() as conn:
        conn.execute(text("DELETE FROM worker_cell WHERE cell_id = :id"), {"id": cell.id})
        conn.execute(text("DELETE FROM branch_cell WHERE cell_id = :id"), {"id": cell.id})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    feature = next(
        f for f in _decode(changed.data)["features"] if f["properties"]["code"] == cell.code
    )
    assert feature["properties"]["has_worker"] is False
    assert feature["properties"]["has_branch"] is False
    assert feature["properties"]["colour"] == 0


def test_street_filter_and_street_scope(
    app: Flask, client: FlaskClient, demo_engine: Engine
) -> None:
    cell = _a_cell(demo_engine)
    fx, fy = _tile_of(cell.lon, cell.lat, 11)
    url = f"/tiles/cells/11/{int(fx)}/{int(fy)}.pbf"
    everything = {f["properties"]["street"] for f in _decode(client.get(url).data)["features"]}
    assert len(everything) > 1, "pick a tile across street offices"
    mine = client.get(f"{url}?street={cell.street_code}")
    assert {f["properties"]["street"] for f in _decode(mine.data)["features"]} == {cell.street_code}

    office = app.test_client()
    sign_in(office, role="street", street=cell.street_code)
    scoped = office.get(url)
    assert {f["properties"]["street"] for f in _decode(scoped.data)["features"]} == {
        cell.street_code
    }
    assert scoped.headers["ETag"] != client.get(url).headers["ETag"]
    other = sorted(everything - {cell.street_code})[0]
    refused = office.get(f"{url}?street={other}")
    assert refused.status_code == 403
    assert "may see only street" in refused.get_data(as_text=True)
    assert app.test_client().get(url).status_code in {302, 401}


# --- in the browser ------------------------------------------------------------------------------


@pytest.fixture
def live_server(app: Flask, demo_engine: Engine) -> Iterator[str]:
    # Names holding markup must show as text in the popups.
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE community SET name = :name"), {"name": MARKUP_NAME})
    with serve(app) as base:
        yield base


@pytest.mark.browser
def test_cell_map_draws_the_cells_offline(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    add_test_user(demo_url, "viewer", role="analyst")
    with demo_engine.connect() as conn:
        active = conn.execute(text("SELECT count(*) FROM grid_cell WHERE valid_to IS NULL"))
        n_cells = int(active.scalar_one())

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(live_server) as (page, watch):
        log_in(page, live_server, "viewer", TEST_PASSWORD, then="/map/cells")
        page.wait_for_selector("body[data-cells-drawn='true']")
        page.wait_for_load_state("networkidle")

        assert page.title() == "网格分布图 · gridgis"
        status = page.locator("#map-status").inner_text()
        assert status.startswith(f"已显示 {n_cells} 个网格"), status
        assert page.locator("#cell-legend li").count() == len(HOUSEHOLD_BREAKS) + 2
        assert page.locator(".leaflet-tile-container canvas").count() > 0
        page.screenshot(path=str(SCREENSHOTS / "cells-map.png"))

        # Click a painted pixel: the cell's popup shows its code and names as text.
        spot = page.evaluate(painted_pixel_js(top=220))
        assert spot is not None, "no cell was painted on the map"
        page.mouse.click(spot["x"], spot["y"])
        popup = page.locator(".leaflet-popup-content .cell-popup")
        popup.wait_for()
        text_shown = popup.inner_text()
        assert re.search(r"^网格 350304[0-9]{9}$", text_shown, flags=re.MULTILINE)
        assert MARKUP_NAME in text_shown
        assert popup.locator("img").count() == 0
        # The card follows: workers (masked for an analyst), cases, a link to their list.
        link = popup.locator("a.cell-popup-link")
        link.wait_for()
        assert re.search(r"/cases\?cell=350304[0-9]{9}$", link.get_attribute("href") or "")
        assert re.search(r"[0-9]+ 件未结，其中 [0-9]+ 件超期", popup.inner_text())
        assert page.evaluate("() => window.__xss") is None
        page.screenshot(path=str(SCREENSHOTS / "cells-map-popup.png"))

        # Colour by grid-worker coverage: the tiles are asked again, the legend follows.
        page.get_by_label("网格员（一格一员）").check()
        page.wait_for_selector("body[data-cells-colour='worker']")
        assert page.locator("#cell-legend h2").inner_text() == "网格员（一格一员）"

    watch.assert_clean()
    assert {
        "/map/cells",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
        "/static/js/cellmap.js",
        "/static/js/cells_page.js",
    } <= set(watch.paths)
    assert any(p.startswith("/tiles/cells/") for p in watch.paths)
    assert "/xss.png" not in watch.paths
