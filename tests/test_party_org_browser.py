"""The party organisation and leaders pages in a real Chromium (issue 19, points 1-2).

An administrator opens /party/organisations: the cells are drawn with their 一网格一支部
status, the tree shows every organisation of the street, and an organisation is renamed
through the edit form (the tree shows the new name, the audit trail has it). An analyst
sees the tree with the secretaries masked and no edit form. The leaders page, at a
phone's 375 px width, draws the cells, the table of communities, and a community's
drill-down when its row is tapped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, role_users
from flask import Flask
from sqlalchemy import create_engine, text

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def _open_tree(page: Page, base: str, user: str, street: str) -> None:
    """Sign in as ``user`` onto the organisations page of ``street``, its tree drawn."""
    log_in(page, base, user, TEST_PASSWORD, then=f"/party/organisations?street={street}")
    page.wait_for_selector("body[data-party-tree]", timeout=60_000)


@pytest.mark.browser
def test_the_tree_and_map_render_and_edit(web: Flask, demo_db: str, streets: list[str]) -> None:
    require_chromium()
    street = streets[0]
    users = role_users(demo_db, "pw", street)
    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            total = conn.execute(
                text("SELECT count(*) FROM party_branch WHERE community_code LIKE :s"),
                {"s": street + "%"},
            ).scalar_one()
            secretary = conn.execute(
                text("SELECT secretary FROM party_branch WHERE community_code LIKE :s "
                     "AND secretary IS NOT NULL ORDER BY id LIMIT 1"), {"s": street + "%"}
            ).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(web) as base, watched_page(base) as (page, watch):
        _open_tree(page, base, users["admin"][0], street)
        page.wait_for_selector("body[data-party-drawn='true']", timeout=60_000)
        assert page.title() == "党组织体系 · gridgis"
        assert int(page.get_attribute("body", "data-party-tree") or "0") == total
        assert page.locator("#party-tree li[data-organisation]").count() == total
        assert page.locator(".leaflet-tile-container canvas").count() > 0
        summary = page.locator("#party-summary").inner_text()
        assert "一网格一支部" in summary and "无党支部" in summary
        assert secretary in page.locator("#party-tree").inner_text()
        # Rename the first 支部 through the form.
        page.locator("#party-tree .party-edit-button").first.click()
        page.wait_for_selector("#edit-title:has-text('编辑：')", timeout=30_000)
        page.fill("#org-name", "浏览器改名党支部")
        page.click("#org-save")
        page.wait_for_selector("#edit-status:has-text('已保存')", timeout=30_000)
        page.wait_for_selector("#party-tree :text('浏览器改名党支部')", timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "party-organisations-admin.png"))

        # Signing out while the map still loads tiles would answer them 401: let them land.
        page.wait_for_load_state("networkidle")
        page.context.clear_cookies()
        _open_tree(page, base, users["analyst"][0], street)
        tree = page.locator("#party-tree").inner_text()
        assert secretary not in tree and secretary[0] + "*" in tree
        assert page.locator("#org-form").count() == 0
        assert page.locator(".party-edit-button").count() == 0
    watch.assert_clean()
    assert {"/static/js/party_organisations.js", "/api/party/organisations",
            "/api/party/cell-status"} <= set(watch.paths)  # fmt: skip
    assert any(p.startswith("/tiles/cells/") for p in watch.paths)
    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            renamed = conn.execute(
                text("SELECT count(*) FROM audit_log WHERE object_type = 'organisation' "
                     "AND action = 'update' AND actor = :a"), {"a": users["admin"][0]}
            ).scalar_one()  # fmt: skip
    finally:
        engine.dispose()
    assert renamed == 1


@pytest.mark.browser
def test_the_leaders_page_on_a_phone(web: Flask, demo_db: str, streets: list[str]) -> None:
    require_chromium()
    street = streets[0]
    users = role_users(demo_db, "pwl", street)
    with serve(web) as base, watched_page(base) as (page, watch):
        page.set_viewport_size({"width": 375, "height": 812})
        log_in(page, base, users["street"][0], TEST_PASSWORD, then="/party/leaders")
        page.wait_for_selector("body[data-leaders-drawn='true']", timeout=60_000)
        assert page.title() == "网格长、楼栋长、单元长 · gridgis"
        rows = page.locator("#leaders-table tbody tr")
        assert rows.count() > 0
        assert "楼栋长覆盖率" in page.locator("#leaders-summary").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the page scrolls sideways ({width} px)"
        code = rows.first.get_attribute("data-community")
        rows.first.click()
        page.wait_for_selector(f"body[data-leaders-drill='{code}']", timeout=30_000)
        leaders = page.locator("#drill-leaders li")
        assert leaders.count() > 0
        assert "（" in leaders.first.inner_text()  # 姓名（楼栋长）…: names for its own street
        page.screenshot(path=str(SCREENSHOTS / "party-leaders-phone.png"), full_page=True)
    watch.assert_clean()
    assert "/api/party/leaders" in watch.paths


@pytest.mark.browser
def test_a_refused_edit_is_told_in_chinese(web: Flask, demo_db: str, streets: list[str]) -> None:
    """Issue 18 point 10: the API's refusal reaches the Chinese page in Chinese."""
    require_chromium()
    street = streets[-1]
    users = role_users(demo_db, "pz", street)
    with serve(web) as base, watched_page(base) as (page, watch):
        _open_tree(page, base, users["admin"][0], street)
        page.locator("#party-tree .party-edit-button").first.click()
        page.wait_for_selector("#edit-title:has-text('编辑：')", timeout=30_000)
        own = page.input_value("#org-id")
        page.fill("#org-parent", own)  # its own parent: refused (409)
        page.click("#org-save")
        page.wait_for_selector("#edit-status:has-text('保存失败')", timeout=30_000)
        said = page.locator("#edit-status").inner_text()
    assert f"`parent_id` 为 {own}：党组织不能是自己的上级组织" in said, said
    assert "cannot" not in said
    # The browser logs the refused request itself; nothing else went wrong.
    assert watch.console_errors and all("409" in e for e in watch.console_errors)
    assert watch.outside == []
