"""The party-branch placement map page (/map/placement) on the small demo district.

Client tests check access and scoping; a browser test opens the page as an
administrator, an analyst and a street office in headless Chromium: the cells
are drawn with their coverage, the facilities' walking areas shown, and the
"k new sites" form answers sites with the solver and its gap.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _browser import log_in, require_chromium, serve, watched_page
from conftest import (
    TEST_PASSWORD,
    assert_no_inline_code,
    role_client,
    role_users,
)
from flask import Flask
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
OPTION = re.compile(r'<option value="([0-9]{9})"')


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="pp")


def test_each_role_gets_the_page_with_its_streets(web: Flask, streets: list[str]) -> None:
    assert web.test_client().get("/map/placement").status_code == 302  # to the login page
    for role in ("admin", "analyst"):
        response = _client(web, role).get("/map/placement")
        assert response.status_code == 200, response.get_data(as_text=True)
        html = response.get_data(as_text=True)
        assert "<title>党支部布局图 · gridgis</title>" in html
        assert set(streets) <= set(OPTION.findall(html))
        assert f'<option value="{streets[0]}" selected>' in html  # the first street by default
        assert_no_inline_code(html)

    own = streets[1]
    office = _client(web, "street", own)
    response = office.get("/map/placement")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert OPTION.findall(html) == [own]  # its own street only
    assert f'<input type="hidden" name="street" value="{own}">' in html
    assert f'"street": "{own}"' in html
    assert office.get(f"/map/placement?street={own}&minutes=15").status_code == 200


def test_a_street_office_asking_for_another_street_is_refused(
    web: Flask, streets: list[str]
) -> None:
    office = _client(web, "street", streets[0])
    response = office.get(f"/map/placement?street={streets[1]}")
    assert response.status_code == 403
    assert streets[0] in response.get_data(as_text=True)
    # The data behind the page is refused the same way.
    api = office.get(f"/api/placement/coverage.geojson?street={streets[1]}")
    assert api.status_code == 403


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("minutes=7", 400, "`minutes` was &#39;7&#39;"),
        ("street=3503", 400, "应为 9 位街道编码"),  # the page is in Chinese
        ("street=350304999", 404, "no street office has that code"),
    ],
)
def test_bad_parameters_are_refused(web: Flask, query: str, status: int, message: str) -> None:
    language = "en" if message.isascii() else "zh"  # a Chinese message on the Chinese page
    response = _client(web, "analyst").get(f"/map/placement?{query}&lang={language}")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_the_page_in_english(web: Flask, streets: list[str]) -> None:
    response = _client(web, "analyst").get(f"/map/placement?street={streets[0]}&lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Party branch placement · gridgis</title>" in html
    assert "10 minutes (about 500 m)" in html
    assert "New sites (maximal covering)" in html
    assert "党支部布局图" not in html


# --- in the browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_placement_map_as_each_role(web: Flask, demo_db: str, streets: list[str]) -> None:
    require_chromium()
    users = role_users(demo_db, "pb", streets[0])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(web) as base, watched_page(base) as (page, watch):
        for role, (name, street) in users.items():
            page.context.clear_cookies()
            log_in(page, base, name, TEST_PASSWORD, then="/map/placement")
            page.wait_for_selector("body[data-placement-drawn='true']", timeout=60_000)
            assert page.title() == "党支部布局图 · gridgis"
            assert page.locator(".leaflet-tile-container canvas").count() > 0
            assert page.locator("path.leaflet-interactive").count() > 0  # facilities
            summary = page.locator("#placement-summary").inner_text()
            assert re.search(r"覆盖户数\s+[0-9,]+ / [0-9,]+ 户（[0-9.]+ %）", summary), summary
            assert "未覆盖网格" in summary
            method = page.locator("#placement-method").inner_text()
            assert method.startswith("距离计算：沿道路步行距离（路网）"), method
            options = page.locator("#placement-street option").evaluate_all(
                "els => els.map(e => e.value)"
            )
            if role == "street":
                assert options == [street]
            else:
                assert set(streets) <= set(options)

            page.fill("#suggest-k", "2")
            page.click("#suggest-submit")
            page.wait_for_selector("body[data-placement-suggested]", timeout=60_000)
            shown = int(page.get_attribute("body", "data-placement-suggested") or "0")
            assert 1 <= shown <= 2
            assert page.locator("#suggest-sites li").count() == shown
            solution = page.locator("#suggest-solution").inner_text()
            assert "HiGHS" in solution or "greedy" in solution, solution
            assert re.search(r"解的质量\s+(已证明为最优解|距最优至多差 [0-9.]+ %)", solution)
            assert page.locator(".leaflet-tooltip.site-label").count() == shown
            page.screenshot(path=str(SCREENSHOTS / f"placement-{role}.png"))
            page.evaluate("() => document.body.removeAttribute('data-placement-suggested')")
    watch.assert_clean()
    assert {
        "/static/js/placement_page.js",
        "/static/js/cellmap.js",
        "/api/placement/coverage.geojson",
        "/api/placement/suggest",
    } <= set(watch.paths)
    assert any(p.startswith("/tiles/cells/") for p in watch.paths)
