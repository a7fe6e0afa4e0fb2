"""Launching the machine's Chromium under Playwright, for tests and scripts.

Playwright's own browser download is never used (``playwright install``
needs the internet): the Chromium found on ``PATH`` is driven instead. When
Playwright or Chromium is missing, :class:`BrowserUnavailable` says what to
install; tests turn it into a failure, never a skip.

The browser tests share the rest: :func:`require_chromium` (fail, never
skip), :func:`serve` (the app on a free local port), :func:`watched_page`
(a page whose requests, outside requests and console errors are recorded in
a :class:`PageWatch`) and :func:`log_in` (through the login form).

Importable as ``_browser`` from the tests (``tests/`` is on ``sys.path``
under pytest) and from ``scripts/screenshot.py``.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from flask import Flask
    from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Route

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
)


class BrowserUnavailable(RuntimeError):
    """Playwright or Chromium is not installed."""


def find_chromium() -> str:
    """Return the path of the Chromium on ``PATH``, or raise saying how to get one."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserUnavailable(
        f"no Chromium found on PATH (looked for {', '.join(CHROMIUM_NAMES)}); "
        "install it with `apt-get install chromium` (do not run `playwright install`)"
    )


def check_playwright() -> None:
    """Raise :class:`BrowserUnavailable` if the playwright package is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        raise BrowserUnavailable(
            "the Python package `playwright` is missing; install the test extras: "
            "pip install -e '.[test]'"
        ) from exc


def launch_chromium(playwright: Playwright) -> Browser:
    """Start headless Chromium from ``PATH`` with Playwright.

    Examples
    --------
    >>> from playwright.sync_api import sync_playwright
    >>> with sync_playwright() as p:  # doctest: +SKIP
    ...     browser = launch_chromium(p)
    ...     page = browser.new_page()
    """
    return playwright.chromium.launch(
        executable_path=find_chromium(),
        args=list(CHROMIUM_ARGS),
        headless=True,
    )


def require_chromium() -> str:
    """The Chromium on PATH; fail the calling test (never skip) when it or Playwright is missing."""
    import pytest

    try:
        check_playwright()
        return find_chromium()
    except BrowserUnavailable as exc:
        problem = str(exc)
    pytest.fail(f"the browser tests need Playwright and Chromium: {problem}", pytrace=False)


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 on a free port in a thread; yield its base URL.

    Examples
    --------
    >>> with serve(create_app()) as base:  # doctest: +SKIP
    ...     base
    'http://127.0.0.1:40123'
    """
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gridgis-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@dataclass
class PageWatch:
    """What a page asked for and complained about.

    Requests to another host than ``own_host`` are aborted (never made) and
    listed in ``outside``; ``paths`` are the paths of every request.
    """

    own_host: str
    paths: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc != self.own_host:
            self.outside.append(url)
            route.abort()
        else:
            route.continue_()

    def on_request(self, request: Request) -> None:
        self.paths.append(urlsplit(request.url).path)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_page_error(self, error: Exception) -> None:
        self.console_errors.append(f"uncaught: {error}")

    def assert_clean(self) -> None:
        """Assert that the page logged no error and reached no other host."""
        assert self.console_errors == []
        assert self.paths, "the page made no requests"
        assert self.outside == [], f"the page reached outside {self.own_host}: {self.outside}"


@contextmanager
def watched_page(base_url: str) -> Iterator[tuple[Page, PageWatch]]:
    """A 1200 × 800 zh-CN page in headless Chromium, watched by a :class:`PageWatch`.

    Examples
    --------
    >>> with watched_page(base) as (page, watch):  # doctest: +SKIP
    ...     page.goto(base + "/")
    >>> watch.assert_clean()  # doctest: +SKIP
    """
    from playwright.sync_api import sync_playwright

    watch = PageWatch(urlsplit(base_url).netloc)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800}, locale="zh-CN")
            page.route("**/*", watch.route)
            page.on("request", watch.on_request)
            page.on("console", watch.on_console)
            page.on("pageerror", watch.on_page_error)
            yield page, watch
        finally:
            browser.close()


def log_in(page: Page, base_url: str, name: str, password: str, *, then: str = "/") -> None:
    """Open ``then``, be sent to the login form, sign in and land back on ``then``.

    Examples
    --------
    >>> log_in(page, base, "admin", TEST_PASSWORD, then="/map/cells")  # doctest: +SKIP
    """
    page.goto(base_url + then)
    assert urlsplit(page.url).path == "/login", page.url
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("form.auth-form button[type=submit]")
    page.wait_for_url(base_url + then)


PAGE_READY: dict[str, str] = {
    "/": "body[data-map-ready]",
    "/area/": "body[data-area-drawn]",
    "/map/cells": "body[data-cells-drawn]",
    "/map/placement": "body[data-placement-drawn]",
    "/map/density": "body[data-density-drawn]",
    "/export": "main",
    "/edit/": "main",
    "/import/": "#import-form",
    "/account": "main",
    "/admin/audit": "#audit-table",
    "/party": ".party-hub h1",
    "/party/units": "body[data-party-drawn]",
    "/party/sanling": "body[data-sanling-drawn]",
    "/party/property": "body[data-property-drawn]",
}
"""What says a page has drawn, by path (a prefix for the pages of an area): the map
pages set a ``data-…`` attribute on ``body`` when their map has drawn (or failed:
the value is then ``"error"``)."""


def ready_selector(path: str) -> str:
    """The selector of :data:`PAGE_READY` for ``path`` (the longest matching prefix)."""
    plain = path.split("?", 1)[0]
    if plain in PAGE_READY:
        return PAGE_READY[plain]
    prefixes = [p for p in PAGE_READY if p.endswith("/") and p != "/" and plain.startswith(p)]
    if not prefixes:
        raise KeyError(f"no ready selector for page {path!r}; add it to PAGE_READY")
    return PAGE_READY[max(prefixes, key=len)]


_PAINTED_PIXEL_JS = """
() => {
  const mapBox = document.getElementById("map").getBoundingClientRect();
  for (const canvas of document.querySelectorAll(".leaflet-tile-container canvas")) {
    const box = canvas.getBoundingClientRect();
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const alpha = (x, y) => data[4 * (y * canvas.width + x) + 3];
    for (let y = 8; y < canvas.height - 8; y += 4) {
      for (let x = 8; x < canvas.width - 8; x += 4) {
        const px = box.left + x * box.width / canvas.width;
        const py = box.top + y * box.height / canvas.height;
        if (px < mapBox.left + 60 || px > mapBox.right - 60 || py < mapBox.top + TOP
            || py > mapBox.bottom - 40) { continue; }
        let solid = true;
        for (let d = -4; d <= 4 && solid; d += 2) {
          solid = alpha(x + d, y) > 0 && alpha(x, y + d) > 0;
        }
        if (solid) { return { x: px, y: py }; }
      }
    }
  }
  return null;
}
"""


def painted_pixel_js(*, top: int) -> str:
    """Script for ``page.evaluate``: the page point ``{x, y}`` of a pixel that a cell tile
    painted solidly (so a click there hits a cell), or null. It keeps away from the map's
    edges and ``top`` pixels below its top (where controls such as the layer box lie)."""
    return _PAINTED_PIXEL_JS.replace("TOP", str(int(top)))
