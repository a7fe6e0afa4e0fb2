"""Launching the machine's Chromium under Playwright, for tests and scripts.

Playwright's own browser download is never used (``playwright install``
needs the internet): the Chromium found on ``PATH`` is driven instead. When
Playwright or Chromium is missing, :class:`BrowserUnavailable` says what to
install; tests turn it into a failure, never a skip.

Importable as ``_browser`` from the tests (``tests/`` is on ``sys.path``
under pytest) and from ``scripts/screenshot.py``.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

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
