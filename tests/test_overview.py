"""The drill-down pages /area/<code> and the overview / (gridgis.web.overview, maps)."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import log_in, serve, watched_page
from conftest import DEMO_DISTRICT, TEST_PASSWORD, add_test_user, cell_point, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.analysis.figures import area_total
from gridgis.cases import create_case

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _codes(engine: Engine) -> dict[str, str]:
    """A cell with a point inside it (``own_*``) and a cell of another street (``other_*``)."""
    cell, _, _ = cell_point(engine)
    other, _, _ = cell_point(engine, last=True)
    assert cell[:9] != other[:9]
    return {
        "district": cell[:6],
        "own_street": cell[:9],
        "own_community": cell[:12],
        "own_cell": cell,
        "other_street": other[:9],
        "other_community": other[:12],
        "other_cell": other,
    }


def _page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _config(html: str) -> dict:
    block = re.search(r'<script type="application/json" id="gridgis-config">(.*?)</script>', html)
    assert block is not None
    return json.loads(block.group(1))


def _child_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([0-9]+)">', html)


def _figure(html: str, name: str) -> str:
    found = re.search(rf'<dd data-figure="{name}">([^<]*)</dd>', html)
    assert found is not None, name
    return found.group(1)


def _file_xss_case(engine: Engine, cell: str) -> int:
    """A case in ``cell`` whose description is markup, newest of its cell and overdue."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface("
                "ST_Buffer(geom, -0.0002)) AS p FROM grid_cell WHERE code = :c "
                "AND valid_to IS NULL) s"
            ),
            {"c": cell},
        ).one()
    case = create_case(
        engine,
        category="cityscape",
        lon=row.lon,
        lat=row.lat,
        description=XSS,
        reported_at=dt.datetime.now(dt.UTC),
        actor="test",
    )
    with engine.begin() as conn:  # past its deadline already
        conn.execute(
            text("UPDATE case_record SET deadline = reported_at WHERE id = :id"),
            {"id": case["id"]},
        )
    assert case["cell_code"] == cell
    return int(case["id"])


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_every_level_for_readers_of_everything(
    client: FlaskClient, demo_engine: Engine, role: str
) -> None:
    codes = _codes(demo_engine)
    sign_in(client, role=role)
    with demo_engine.connect() as conn:
        streets = conn.execute(
            text("SELECT code FROM street WHERE district_code = :d ORDER BY code"),
            {"d": DEMO_DISTRICT},
        ).scalars()
        communities = conn.execute(
            text("SELECT code FROM community WHERE street_code = :s ORDER BY code"),
            {"s": codes["own_street"]},
        ).scalars()
        cells = conn.execute(
            text(
                "SELECT code FROM grid_cell WHERE community_code = :c AND valid_to IS NULL "
                "ORDER BY code"
            ),
            {"c": codes["own_community"]},
        ).scalars()
        expected = {
            codes["district"]: list(streets),
            codes["own_street"]: list(communities),
            codes["own_community"]: list(cells),
        }
    for code, children in expected.items():
        html = _page(client, f"/area/{code}")
        assert _child_rows(html) == children
        for child in children:
            assert f'href="/area/{child}"' in html
        total = area_total(demo_engine, code)
        assert _figure(html, "households") == str(total["households"])
        assert _figure(html, "overdue_cases") == str(total["overdue_cases"])
        assert _figure(html, "closed_late") == str(total["closed_late"])
        config = _config(html)
        assert sorted(config["figures"]) == children
        assert config["areasUrl"].startswith("/api/areas/")
        # Breadcrumb: back to / and to every level above.
        assert 'href="/"' in html
        assert f'href="/area/{codes["district"]}"' in html or code == codes["district"]
    cell_html = _page(client, f"/area/{codes['other_cell']}")
    assert _child_rows(cell_html) == []
    assert 'id="workers-heading"' in cell_html and 'id="cases-heading"' in cell_html
    assert f'href="/area/{codes["other_community"]}"' in cell_html
    index = _page(client, "/")
    assert f'href="/area/{codes["district"]}"' in index
    district = area_total(demo_engine, codes["district"])
    figures = re.search(
        r'<span class="district-figures" data-code="350304">(.*?)</span>\s*<a', index, re.S
    )
    assert figures is not None
    assert f"户数 {district['households']}" in " ".join(figures.group(1).split())


def test_street_office_sees_only_its_own_street(client: FlaskClient, demo_engine: Engine) -> None:
    codes = _codes(demo_engine)
    sign_in(client, role="street", street=codes["own_street"])
    for key in ("own_street", "own_community", "own_cell"):
        _page(client, f"/area/{codes[key]}")
    for key in ("other_street", "other_community", "other_cell"):
        html = _page(client, f"/area/{codes[key]}", 403)
        assert codes["own_street"] in html
    _page(client, "/area/110101", 403)  # another district
    # Its district: only its own street's row, and its street's figures.
    html = _page(client, f"/area/{codes['district']}")
    assert _child_rows(html) == [codes["own_street"]]
    street = area_total(demo_engine, codes["own_street"])
    assert _figure(html, "households") == str(street["households"])
    assert _figure(html, "cells") == str(street["cells"])
    assert "仅显示本街道" in html
    index = _page(client, "/")
    assert f'href="/area/{codes["district"]}"' in index
    assert f"网格 {street['cells']} 个" in index
    # The map's data is scoped the same way.
    config = _config(html)
    areas = client.get(config["areasUrl"])
    assert [f["properties"]["code"] for f in json.loads(areas.get_data())["features"]] == [
        codes["own_street"]
    ]


def test_bad_and_unknown_codes_are_404(client: FlaskClient) -> None:
    sign_in(client)
    bad = ("12345", "35030400", "abc", "3503040010010010")
    for code in bad:  # a Chinese page (the default) says it in Chinese
        html = _page(client, f"/area/{code}", 404)
        assert "6 位（区）、9 位（街道）、12 位（社区）或 15 位（网格）" in html_lib.unescape(html)
    assert "没有编码为 '999999' 的区" in html_lib.unescape(_page(client, "/area/999999", 404))
    client.set_cookie("gridgis_lang", "en")  # the English pages from here on
    for code in bad:
        html = _page(client, f"/area/{code}", 404)
        assert "6 (district), 9 (street), 12 (community) or 15 (cell) digits" in html_lib.unescape(
            html
        )
    assert "no district has the code '999999'" in html_lib.unescape(
        _page(client, "/area/999999", 404)
    )
    assert "no cell has the code '350304001001999'" in html_lib.unescape(
        _page(client, "/area/350304001001999", 404)
    )


def test_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get(f"/area/{DEMO_DISTRICT}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_case_descriptions_are_escaped(client: FlaskClient, demo_engine: Engine) -> None:
    cell = _codes(demo_engine)["own_cell"]
    case_id = _file_xss_case(demo_engine, cell)
    sign_in(client)
    html = _page(client, f"/area/{cell}")
    assert "<script>window.__xss" not in html and "<img src=x" not in html
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x" in html
    row = re.search(rf'<tr data-case="{case_id}" class="overdue">(.*?)</tr>', html, re.S)
    assert row is not None and "超期" in row.group(1)
    # In the map's data too: as JSON text, no markup the browser would parse.
    config = _config(html)
    assert config["cases"][0]["id"] == case_id
    assert config["cases"][0]["description"] == XSS and config["cases"][0]["overdue"]


def test_english_page_has_english_headings(client: FlaskClient, demo_engine: Engine) -> None:
    codes = _codes(demo_engine)
    sign_in(client)
    html = _page(client, f"/area/{codes['own_street']}?lang=en")
    assert '<html lang="en">' in html
    assert "Key figures" in html and "Areas below: Community" in html
    assert "Closed on time" in html and "Overdue cases" in html
    shown = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # the catalog is Chinese
    assert "关键指标" not in shown and "按期结案率" not in shown
    cell_html = _page(client, f"/area/{codes['own_cell']}?lang=en")
    assert "Recent cases (newest" in cell_html and "Grid worker" in cell_html
    index = _page(client, "/?lang=en")
    assert "Districts" in index and "Closed on time" in index


# --- in the browser ------------------------------------------------------------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _visit(page, base: str, path: str, name: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + path)
    page.wait_for_selector("body[data-area-drawn='true'], body[data-map-ready='true']")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SCREENSHOTS / f"overview-{name}.png"))


def _browse(base: str, user: str, codes: dict[str, str], role: str, case_id: int | None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(base) as (page, watch):
        log_in(page, base, user, TEST_PASSWORD)
        page.wait_for_selector("body[data-map-ready='true']")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SCREENSHOTS / f"overview-index-{role}.png"))
        # From / to the district's page by its link.
        page.locator(f"a.district-open[href='/area/{codes['district']}']").click()
        page.wait_for_selector("body[data-area-drawn='true']")
        page.wait_for_load_state("networkidle")
        children = page.locator("path.gridgis-area").count()
        assert children == page.locator("#children-table tbody tr").count() > 0
        page.screenshot(path=str(SCREENSHOTS / f"overview-district-{role}.png"))
        # Clicking the own street on the map opens its page.
        page.locator(f"path.gridgis-area[data-code='{codes['own_street']}']").click()
        page.wait_for_url(base + f"/area/{codes['own_street']}")
        page.wait_for_selector("body[data-area-drawn='true']")
        page.wait_for_load_state("networkidle")
        assert page.locator("path.gridgis-area").count() > 0
        page.select_option("#colour-figure", "overdue_cases")
        page.wait_for_selector("body[data-area-colour='overdue_cases']")
        page.screenshot(path=str(SCREENSHOTS / f"overview-street-{role}.png"))
        _visit(page, base, f"/area/{codes['own_community']}", f"community-{role}")
        assert (
            page.locator("path.gridgis-area").count()
            == page.locator("#children-table tbody tr").count()
        )
        _visit(page, base, f"/area/{codes['own_cell']}", f"cell-{role}")
        assert page.locator("path.gridgis-area").count() == 1
        if case_id is not None:
            page.locator(f"path.gridgis-case[data-case='{case_id}']").click()
            popup = page.locator(".leaflet-popup-content .case-popup")
            popup.wait_for()
            assert XSS in popup.inner_text()
            assert popup.locator("img").count() == 0 and popup.locator("script").count() == 0
            assert page.evaluate("() => window.__xss") is None
            page.screenshot(path=str(SCREENSHOTS / f"overview-cell-popup-{role}.png"))
        assert page.evaluate("() => window.__xss") is None
    watch.assert_clean()
    assert {"/static/js/area.js", "/static/js/overview.js"} <= set(watch.paths)


@pytest.mark.browser
@pytest.mark.parametrize("role", ["admin", "analyst", "street"])
def test_drill_down_in_the_browser(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine, role: str
) -> None:
    codes = _codes(demo_engine)
    case_id = _file_xss_case(demo_engine, codes["own_cell"])
    street = codes["own_street"] if role == "street" else None
    add_test_user(demo_url, f"u-{role}", role=role, street=street)
    _browse(live_server, f"u-{role}", codes, role, case_id)


@pytest.mark.browser
def test_a_refused_rename_is_told_in_chinese_in_the_browser(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    codes = _codes(demo_engine)
    add_test_user(demo_url, "u-rename", role="street", street=codes["own_street"])
    with watched_page(live_server) as (page, watch):
        log_in(page, live_server, "u-rename", TEST_PASSWORD)
        page.goto(live_server + f"/area/{codes['own_cell']}")
        page.fill("#area-rename-name", "   ")  # not empty to the browser, no name to gridgis
        with page.expect_navigation():
            page.click("#area-rename button[type='submit']")
        shown = page.inner_text("body")
        assert "网格名称应为 1 到 60 个字的文本，而不是 '   '" in shown
        assert "a cell name must be" not in shown
    assert watch.outside == []  # the 400 page itself is logged as a console error: not checked
