"""The overview map in a real browser: headless Chromium driven by Playwright.

The app runs in a real WSGI server on 127.0.0.1 (a free port) in a thread.
Without Playwright or Chromium these tests fail with what to install; they
never skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user, insert_sample_areas
from flask import Flask
from sqlalchemy import Engine

from gridgis.web import create_app
from gridgis.web.db import dispose_engine

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser

MAP_BOX_JS = """
code => {
  const path = document.querySelector(`path.gridgis-district[data-code="${code}"]`);
  const map = document.getElementById("map").getBoundingClientRect();
  const box = path.getBoundingClientRect();
  return {
    width: box.width / map.width,
    height: box.height / map.height,
    cx: (box.left + box.width / 2 - map.left) / map.width,
    cy: (box.top + box.height / 2 - map.top) / map.height,
  };
}
"""


@pytest.fixture
def app(database_url: str, engine: Engine) -> Iterator[Flask]:
    insert_sample_areas(engine)
    add_test_user(database_url, "admin", role="admin")
    application = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield application
    dispose_engine(application)


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.fixture
def chromium() -> str:
    return require_chromium()


def test_overview_map_draws_districts_and_stays_offline(chromium: str, live_server: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(live_server) as (page, watch):
        # Every page needs a signed-in user: the login form first.
        log_in(page, live_server, "admin", TEST_PASSWORD)
        page.wait_for_selector("path.gridgis-district")
        page.wait_for_selector("body[data-map-ready='true']")
        page.wait_for_load_state("networkidle")

        assert page.title() == "gridgis 网格化管理"
        assert page.locator("path.gridgis-district").count() == 2
        assert page.locator("path.gridgis-street").count() == 3
        labels = page.locator(".leaflet-tooltip.district-label").all_inner_texts()
        assert sorted(" ".join(label.split()) for label in labels) == [
            "荔城区 350304",
            "龙港区 211403",
        ]
        assert page.locator("#map-status").inner_text() == "已显示 2 个区县、3 个街道。"
        page.screenshot(path=str(SCREENSHOTS / "overview.png"))

        # Both districts are in view at first: each is a small square of the map.
        before = page.evaluate(MAP_BOX_JS, "211403")
        assert before["width"] < 0.2 and 0 < before["cx"] < 1 and 0 < before["cy"] < 1

        # Clicking 龙港区 in the panel zooms to it.
        page.get_by_role("button", name="龙港区").click()
        page.wait_for_function(
            "code => { const b = (" + MAP_BOX_JS + ")(code);"
            " return b.width > 0.5 || b.height > 0.5; }",
            arg="211403",
        )
        page.wait_for_timeout(400)  # let the zoom animation settle before measuring
        after = page.evaluate(MAP_BOX_JS, "211403")
        assert 0.4 < after["cx"] < 0.6 and 0.4 < after["cy"] < 0.6, after
        assert "active" in (
            page.locator(".district-link[data-code='211403']").get_attribute("class") or ""
        )
        page.screenshot(path=str(SCREENSHOTS / "overview-zoomed.png"))

    watch.assert_clean()
    assert {
        "/",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/js/overview.js",
        "/api/areas/district.geojson",
        "/api/areas/street.geojson",
    } <= set(watch.paths)
