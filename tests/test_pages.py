"""Every page of the app, as every role, in headless Chromium, in Chinese and English.

One walk per role through the pages its navigation bar offers (and one it must
not reach) on the small demo district: each page draws (a map page sets its
``data-…`` attribute to ``"true"``, not ``"error"``), shows no console error and
asks nothing outside the app. Screenshots go to
``test-artifacts/screenshots/pages/<role>-<page>.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from _browser import log_in, ready_selector, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text


def _nav(page: Any) -> list[str]:
    """The links of the navigation bar, without the count of work on 待办."""
    return [re.sub(r"\s*\d+$", "", text) for text in page.locator(".nav-bar a").all_inner_texts()]


SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "pages"
NAV_ZH = [
    "概览", "待办", "事件", "上报事件", "网格覆盖", "党支部布局", "案件密度", "数据导出",
    "数据导入", "网格编辑", "审计日志",
]  # fmt: skip
NAV_EN = [
    "Overview",
    "To do",
    "Cases",
    "Report a case",
    "Coverage",
    "Party branches",
    "Case density",
    "Exports",
    "Import",
    "Cell editing",
    "Audit trail",
]


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _codes(engine: Engine) -> dict[str, str]:
    """A street, one of its communities, and a community of another street."""
    with engine.connect() as conn:
        streets = list(conn.execute(text("SELECT code FROM street ORDER BY code")).scalars())
        community = conn.execute(
            text(
                "SELECT community_code FROM grid_cell WHERE valid_to IS NULL "
                "AND community_code LIKE :s ORDER BY community_code LIMIT 1"
            ),
            {"s": streets[0] + "%"},
        ).scalar_one()
    return {"district": streets[0][:6], "street": streets[0], "community": community}


def _open(page, base: str, path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + path)
    selector = ready_selector(path)
    page.wait_for_selector(selector, state="attached", timeout=60_000)
    for attribute in ("data-map-ready", "data-area-drawn", "data-cells-drawn"):
        assert page.get_attribute("body", attribute) != "error", (path, attribute)
    for attribute in ("data-placement-drawn", "data-density-drawn"):
        assert page.get_attribute("body", attribute) != "error", (path, attribute)


@pytest.mark.browser
@pytest.mark.parametrize("role", ["admin", "analyst", "street"])
def test_every_page_as_each_role(
    chromium: str, app: Flask, demo_url: str, demo_engine: Engine, role: str
) -> None:
    codes = _codes(demo_engine)
    street = codes["street"] if role == "street" else None
    add_test_user(demo_url, f"{role}-user", role=role, street=street)
    pages = {
        "overview": "/",
        "district": f"/area/{codes['district']}",
        "street": f"/area/{codes['street']}",
        "cells": "/map/cells",
        "placement": "/map/placement",
        "density": "/map/density",
        "export": "/export",
        "account": "/account",
    }
    if role in ("admin", "street"):
        pages["import"] = "/import/"
        pages |= {"editing": "/edit/", "editing-community": f"/edit/{codes['community']}"}
    if role == "admin":
        pages["audit"] = "/admin/audit"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, f"{role}-user", TEST_PASSWORD)
        nav = _nav(page)
        analyst = [NAV_ZH[0], NAV_ZH[2], *NAV_ZH[4:8]]  # no work, files no cases
        offered = {  # the inbox (消息) comes last, for every role
            "admin": [*NAV_ZH, "党员名册", "消息"],
            "street": [*NAV_ZH[:10], "党员名册", "消息"],
            "analyst": [*analyst, "党员名册", "消息"],
        }
        assert nav == offered[role]
        for name, path in pages.items():
            _open(page, base, path)
            assert page.locator("html").get_attribute("lang") == "zh-CN"
            page.screenshot(path=str(SCREENSHOTS / f"{role}-{name}.png"))
        if role != "admin":
            # Not offered, and refused when asked for anyway (with this session's cookie).
            assert page.request.get(base + "/admin/audit").status == 403
        if role == "analyst":
            assert page.request.get(base + "/edit/").status == 403
            assert page.request.get(base + "/import/").status == 403
    watch.assert_clean()


@pytest.mark.browser
def test_switching_to_english_and_back(
    chromium: str, app: Flask, demo_url: str, demo_engine: Engine
) -> None:
    codes = _codes(demo_engine)
    add_test_user(demo_url, "office", role="street", street=codes["street"])
    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, "office", TEST_PASSWORD, then="/map/cells")
        page.wait_for_selector("body[data-cells-drawn]")
        page.locator(".lang-switch a", has_text="English").click()
        page.wait_for_selector("body[data-cells-drawn]")
        assert page.locator("html").get_attribute("lang") == "en"
        assert _nav(page) == [*NAV_EN[:10], "Party members", "Notices"]
        assert page.locator("#map-status").inner_text().startswith("Showing ")
        assert page.locator("#cell-legend h2").inner_text() == "Households"
        page.screenshot(path=str(SCREENSHOTS / "street-cells-en.png"))
        # The choice is kept for the next pages.
        _open(page, base, "/map/density")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator(".nav-bar a.current").inner_text() == "Case density"
        page.screenshot(path=str(SCREENSHOTS / "street-density-en.png"))
        page.locator(".lang-switch a", has_text="中文").click()
        page.wait_for_selector("body[data-density-drawn]")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator(".nav-bar a.current").inner_text() == "案件密度"
    watch.assert_clean()


def test_a_map_of_one_street_opens_on_a_street_with_cells(
    client: FlaskClient, demo_engine: Engine
) -> None:
    # Issue 18 (found as a new user): with the official divisions of another district
    # loaded but nothing drawn there yet, the placement map opened on that district's
    # first street (211403001, first by code) and showed an empty map.
    from conftest import LONGGANG, sign_in

    first_drawn = _codes(demo_engine)["street"]
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO district (code, name, geom) "
                "VALUES ('211403', '龙港区', ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"wkt": LONGGANG},
        )
        conn.execute(
            text(
                "INSERT INTO street (code, district_code, name, geom) VALUES "
                "('211403001', '211403', '连山街道', ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"wkt": LONGGANG},
        )
    sign_in(client, role="admin")
    html = client.get("/map/placement").get_data(as_text=True)
    chosen = re.search(r'<option value="(\d{9})"[^>]*selected', html)
    assert chosen is not None and chosen.group(1) == first_drawn
    assert '<option value="211403001"' in html  # still offered
    asked = client.get("/map/placement?street=211403001").get_data(as_text=True)
    assert re.search(r'<option value="211403001"[^>]*selected', asked)
