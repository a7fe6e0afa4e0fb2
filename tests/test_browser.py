"""The overview map in a real browser: headless Chromium driven by Playwright.

The app runs in a real WSGI server on 127.0.0.1 (a free port) in a thread.
Without Playwright or Chromium these tests fail with what to install; they
never skip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _browser import BrowserUnavailable, check_playwright, find_chromium, launch_chromium
from conftest import TEST_PASSWORD, add_test_user, insert_sample_areas
from flask import Flask
from sqlalchemy import Engine
from werkzeug.serving import make_server

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
    """Serve ``app`` on 127.0.0.1 on a free port; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gridgis-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def chromium() -> str:
    """The Chromium on PATH; fail (never skip) when it or Playwright is missing."""
    try:
        check_playwright()
        return find_chromium()
    except BrowserUnavailable as exc:
        problem = str(exc)
    pytest.fail(f"the browser tests need Playwright and Chromium: {problem}", pytrace=False)


def test_overview_map_draws_districts_and_stays_offline(chromium: str, live_server: str) -> None:
    from playwright.sync_api import ConsoleMessage, Request, sync_playwright

    own_host = urlsplit(live_server).netloc
    requests: list[str] = []
    console_errors: list[str] = []

    def on_request(request: Request) -> None:
        requests.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Exception) -> None:
        console_errors.append(f"uncaught: {error}")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="zh-CN")
            page.on("request", on_request)
            page.on("console", on_console)
            page.on("pageerror", on_page_error)

            # Every page needs a signed-in user: the login form first.
            page.goto(live_server + "/")
            assert urlsplit(page.url).path == "/login"
            page.fill("#login-name", "admin")
            page.fill("#login-password", TEST_PASSWORD)
            page.click("form.auth-form button[type=submit]")
            page.wait_for_url(live_server + "/")
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
        finally:
            browser.close()

    assert console_errors == []
    assert requests, "the page made no requests"
    outside = [url for url in requests if urlsplit(url).netloc != own_host]
    assert outside == [], f"the page reached outside {own_host}: {outside}"
    paths = {urlsplit(url).path for url in requests}
    assert {
        "/",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/js/overview.js",
        "/api/areas/district.geojson",
        "/api/areas/street.geojson",
    } <= paths
