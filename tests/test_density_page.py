"""The case density map page (/map/density) on the small demo district.

Client tests check access, scoping and the filters the page offers; a browser
test opens the page as an administrator, an analyst and a street office in
headless Chromium: the cells are drawn with their figures, the heat layer
draws, the colour modes switch, and a cell's popup shows names as text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _browser import log_in, painted_pixel_js, require_chromium, serve, watched_page
from conftest import (
    MARKUP_NAME,
    TEST_PASSWORD,
    assert_no_inline_code,
    role_client,
    role_users,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
STREET_OPTION = re.compile(r'<option value="([0-9]{9})"')
CATEGORY_BOX = re.compile(r'<input type="checkbox" name="category" value="([a-z_]+)"( checked)?>')


@pytest.fixture(scope="module")
def demo_db(demo_db: str) -> str:
    """The module's demo copy, its communities given a name with markup."""
    engine = create_engine(demo_db)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE community SET name = :name"), {"name": MARKUP_NAME})
    finally:
        engine.dispose()
    return demo_db


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="dp")


def test_each_role_gets_the_page_with_its_filters(web: Flask, streets: list[str]) -> None:
    assert web.test_client().get("/map/density").status_code == 302  # to the login page
    for role in ("admin", "analyst"):
        response = _client(web, role).get("/map/density")
        assert response.status_code == 200, response.get_data(as_text=True)
        html = response.get_data(as_text=True)
        assert "<title>案件密度图 · gridgis</title>" in html
        assert set(streets) <= set(STREET_OPTION.findall(html))
        assert '<option value="" selected>全部街道</option>' in html
        categories = [c["code"] for c in _client(web, role).get("/api/categories").get_json()]
        assert [m[0] for m in CATEGORY_BOX.findall(html)] == categories
        assert "Getis-Ord Gi*" in html and "Benjamini–Hochberg" in html
        assert "校正后 q ≤ 0.05 为显著" in html
        assert_no_inline_code(html)

    own = streets[1]
    office = _client(web, "street", own)
    response = office.get("/map/density")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert STREET_OPTION.findall(html) == [own]  # its own street only, no "all"
    assert "全部街道" not in html
    assert f'"street": "{own}"' in html
    assert f'"streetBounds": {{"{own}": ' in html


def test_filters_in_the_address_are_shown(web: Flask, streets: list[str]) -> None:
    response = _client(web, "analyst").get(
        f"/map/density?street={streets[0]}&category=fire_safety&category=工商食药"
        "&since=2025-01-01&until=2025-06-30&colour=hotspot&value=count"
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    checked = sorted(m[0] for m in CATEGORY_BOX.findall(html) if m[1])
    assert checked == ["commerce_food_drug", "fire_safety"]
    assert '<input type="radio" name="colour" value="hotspot" checked>' in html
    assert 'name="since" id="density-since" value="2025-01-01"' in html
    assert f'<option value="{streets[0]}" selected>' in html
    assert '"value": "count"' in html


def test_a_street_office_asking_for_another_street_is_refused(
    web: Flask, streets: list[str]
) -> None:
    office = _client(web, "street", streets[0])
    response = office.get(f"/map/density?street={streets[1]}")
    assert response.status_code == 403
    assert streets[0] in response.get_data(as_text=True)
    # The data behind the page is refused the same way.
    assert office.get(f"/api/density/cells.geojson?street={streets[1]}").status_code == 403
    assert office.get(f"/api/density/heat.json?street={streets[1]}").status_code == 403


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("colour=households", 400, "`colour` was &#39;households&#39;"),
        ("value=mean", 400, "`value` was &#39;mean&#39;"),
        ("since=2025-13-01", 400, "`since` was &#39;2025-13-01&#39;"),
        ("until=yesterday", 400, "`until` was &#39;yesterday&#39;"),
        ("category=nothing", 404, "`category` was &#39;nothing&#39;"),
        ("street=350304999", 404, "no street office has that code"),
    ],
)
def test_bad_parameters_are_refused(web: Flask, query: str, status: int, message: str) -> None:
    response = _client(web, "analyst").get(f"/map/density?{query}&lang=en")
    assert response.status_code == status
    assert message in response.get_data(as_text=True)


def test_the_page_in_english(web: Flask) -> None:
    response = _client(web, "analyst").get("/map/density?lang=en")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Case density · gridgis</title>" in html
    for category in _client(web, "analyst").get("/api/categories").get_json():
        assert f"{category['name_en']}\n" in html
    assert "Cases per 1,000 households" in html
    assert "案件密度图" not in html


# --- in the browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_density_map_as_each_role(web: Flask, demo_db: str, streets: list[str]) -> None:
    require_chromium()
    users = role_users(demo_db, "db", streets[0])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(web) as base, watched_page(base) as (page, watch):
        for role, (name, street) in users.items():
            page.context.clear_cookies()
            log_in(page, base, name, TEST_PASSWORD, then="/map/density")
            page.wait_for_selector("body[data-density-drawn='true']", timeout=60_000)
            page.wait_for_selector("body[data-density-heat]")
            assert page.title() == "案件密度图 · gridgis"
            assert int(page.get_attribute("body", "data-density-heat") or "0") > 0
            assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
            assert page.locator(".leaflet-tile-container canvas").count() > 0
            assert re.match(r"[0-9,]+ 个网格，[0-9,]+ 件案件", page.inner_text("#density-totals"))
            assert page.inner_text("#density-legend h2") == "每千户案件数"
            options = page.locator("#density-street option").evaluate_all(
                "els => els.map(e => e.value)"
            )
            if role == "street":
                assert options == [street]
            else:
                assert set(streets) <= set(options)

            page.screenshot(path=str(SCREENSHOTS / f"density-{role}.png"))

            if role == "admin":
                # A cell's popup shows its figures, and names holding markup as text.
                spot = page.evaluate(painted_pixel_js(top=100))
                assert spot is not None, "no cell was painted on the map"
                page.mouse.click(spot["x"], spot["y"])
                popup = page.locator(".leaflet-popup-content .cell-popup")
                popup.wait_for()
                shown = popup.inner_text()
                assert re.search(r"^网格 350304[0-9]{9}$", shown, flags=re.MULTILINE)
                assert MARKUP_NAME in shown
                assert "Gi* z" in shown and "距上次巡查" in shown
                assert popup.locator("img").count() == 0
                assert page.evaluate("() => window.__xss") is None
                page.keyboard.press("Escape")

            # Colour by hotspot class: the legend follows, the cells are drawn again.
            page.get_by_label("热点（Gi*）").check()
            page.wait_for_selector("body[data-density-colour='hotspot']")
            assert page.inner_text("#density-legend h2") == "热点（Gi*）"
            assert page.locator("#density-legend li").count() == 9
            assert re.match(r"显著热点 [0-9]+ 个", page.inner_text("#density-hotspot-count"))

            if role == "analyst":
                # One category: the figures are asked again and the address follows.
                before = page.inner_text("#density-totals")
                page.check("input[name='category'][value='fire_safety']")
                page.click("#density-apply")
                page.wait_for_function(
                    "t => document.getElementById('density-totals').textContent !== t", arg=before
                )
                assert "category=fire_safety" in page.url
                page.uncheck("input[name='category'][value='fire_safety']")

            # Hiding the heat layer removes its canvas.
            page.uncheck("#density-heat")
            assert page.locator("canvas.leaflet-heatmap-layer").count() == 0

            # While hidden, moving the map and asking the figures again touch the layer
            # (its max is fitted to the view, its points replaced): neither may throw.
            box = page.locator("#map").bounding_box()
            assert box is not None
            middle_x, middle_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(middle_x, middle_y)
            page.mouse.down()
            page.mouse.move(middle_x + 60, middle_y + 40, steps=5)
            page.mouse.up()
            page.evaluate("() => document.body.removeAttribute('data-density-heat')")
            page.click("#density-apply")
            page.wait_for_selector("body[data-density-heat]", state="attached")
            # Shown again, it draws the points it was given while hidden.
            page.check("#density-heat")
            assert page.locator("canvas.leaflet-heatmap-layer").count() == 1
    watch.assert_clean()
    assert {
        "/static/js/density_page.js",
        "/static/vendor/leaflet.heat/leaflet-heat.js",
        "/api/density/cells.json",
        "/api/density/heat.json",
    } <= set(watch.paths)
    assert "/xss.png" not in watch.paths
