#!/usr/bin/env python
"""Take a screenshot of a gridgis page in headless Chromium (for the README).

Usage::

    gridgis serve &                                # or any running gridgis app
    GRIDGIS_PASSWORD=gridgis-demo .venv/bin/python scripts/screenshot.py \
        http://127.0.0.1:5000/map/density docs/density.png --user demo
    .venv/bin/python scripts/screenshot.py URL OUT.png --district 350304 --lang en

Logs in (``--user``; the password from ``GRIDGIS_PASSWORD`` or asked), waits
until the page has drawn (the map pages' ``data-…`` attribute of
``tests/_browser.py``'s ``PAGE_READY``; a map that failed is an error),
optionally zooms to one district as a click in the overview's side panel
would, and writes a PNG of the window (1200x800 unless told otherwise). Uses
the Chromium on PATH with the same settings as the browser tests; it never
runs ``playwright install``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from _browser import (  # noqa: E402
    BrowserUnavailable,
    check_playwright,
    launch_chromium,
    ready_selector,
)


def _district_code(value: str) -> str:
    if not re.fullmatch(r"[0-9]{6}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a 6-digit district code")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="page to shoot, e.g. http://127.0.0.1:5000/")
    parser.add_argument("out", type=Path, help="PNG file to write (folders are created)")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument(
        "--district", metavar="CODE", type=_district_code, help="zoom to this district first"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the map (default 30)"
    )
    parser.add_argument("--user", default="demo", help="user to log in as (default demo)")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh", help="page language")
    return parser.parse_args(argv)


def screenshot(
    url: str,
    out: Path,
    *,
    width: int = 1200,
    height: int = 800,
    district: str | None = None,
    timeout: float = 30.0,
    user: str = "demo",
    password: str = "",
    lang: str = "zh",
) -> Path:
    """Log in, load ``url``, wait for the page to draw, save a ``width`` x ``height`` PNG."""
    check_playwright()
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
            page.set_default_timeout(timeout * 1000)
            parts = urlsplit(url)
            base = f"{parts.scheme}://{parts.netloc}"
            page.goto(f"{base}/login?lang={lang}")
            page.fill("#login-name", user)
            page.fill("#login-password", password)
            page.click("form.auth-form button[type=submit]")
            page.wait_for_load_state("load")
            if urlsplit(page.url).path == "/login":
                raise RuntimeError(f"could not log in as {user!r}")
            page.goto(url)
            selector = ready_selector(parts.path or "/")
            page.wait_for_selector(selector, state="attached")
            attribute = re.search(r"\[(data-[a-z-]+)", selector)
            if attribute and page.get_attribute("body", attribute.group(1)) == "error":
                status = page.locator("#map-status").inner_text()
                raise RuntimeError(f"the map did not load: {status}")
            if district:
                page.locator(f".district-link[data-code='{district}']").click()
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # let zoom animations and label placement settle
            page.screenshot(path=str(out))
        finally:
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        check_playwright()
    except BrowserUnavailable as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 1
    from playwright.sync_api import Error as PlaywrightError

    password = os.environ.get("GRIDGIS_PASSWORD") or getpass.getpass(f"password of {args.user}: ")

    try:
        path = screenshot(
            args.url,
            args.out,
            width=args.width,
            height=args.height,
            district=args.district,
            timeout=args.timeout,
            user=args.user,
            password=password,
            lang=args.lang,
        )
    except (BrowserUnavailable, RuntimeError, PlaywrightError) as exc:
        print(f"screenshot: {exc}", file=sys.stderr)
        return 1
    print(f"screenshot: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
