"""大走访 in a real Chromium at 375 × 812 (a phone): a party member logs a visit with a
problem found, the street office turns it into a case, takes the case through every step
to 结案 on the case pages, and the ledger shows the entry 已销号; the campaign's map and its
cells show the share visited change (issue 19's Done-when)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import launch_chromium, require_chromium, serve
from conftest import TEST_PASSWORD
from flask import Flask
from sqlalchemy import create_engine, text
from test_case_browser import SCREENSHOTS, Phone
from test_party_visits import seed_people

from gridgis.party.campaigns import Visitor, assign_targets, campaign_progress, create_campaign
from gridgis.party.visits import list_targets
from gridgis.users import add_user


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _street_with_targets(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    text(
                        "SELECT left(community_code, 9) FROM building GROUP BY 1 "
                        "ORDER BY count(*) DESC, 1 LIMIT 1"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.browser
def test_visit_problem_case_closed_ledger_crossed_off_on_a_phone(
    live_server: str, app: Flask, tmp_path: Path
) -> None:
    require_chromium()
    url = app.config["DATABASE_URL"]
    street = _street_with_targets(url)
    engine = create_engine(url)
    today = dt.date.today()
    try:
        seeded = seed_people(engine, street)
        member = seeded["members"][0]
        campaign = create_campaign(
            engine, name="春季大走访", area=street, starts_on=today - dt.timedelta(days=7),
            ends_on=today + dt.timedelta(days=30), actor="test",
        )  # fmt: skip
        cells = campaign_progress(engine, campaign["id"])
        cell = cells[0]["cell_code"]
        assign_targets(engine, campaign["id"], Visitor(member_id=member), cell=cell, actor="test")
        target = list_targets(engine, visitor=Visitor(member_id=member))[0]
        add_user(engine, "office", role="street", street=street, password=TEST_PASSWORD,
                 actor="test")  # fmt: skip
        add_user(engine, "li", role="member", member=str(member), password=TEST_PASSWORD,
                 actor="test")  # fmt: skip
    finally:
        engine.dispose()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            visitor = Phone(
                browser, live_server, "li",
                geolocation={"longitude": target["lon"], "latitude": target["lat"]},
                permissions=["geolocation"],
            )  # fmt: skip
            office = Phone(browser, live_server, "office")

            # The campaign's cell before the visit.
            page = office.open(f"/party/campaigns/{campaign['id']}", "body[data-campaign-drawn]")
            before = page.get_attribute(f'#campaign-cells li[data-cell="{cell}"]', "data-share")
            assert before in ("0.0", "0")

            # The member sees its targets only, and logs a visit with a problem.
            page = visitor.open("/party/visits")
            listed = page.eval_on_selector_all(
                "#target-list a[data-target]", "els => els.map(e => Number(e.dataset.target))"
            )
            assert target["id"] in listed
            assert all(t in {x["id"] for x in _assigned(url, member)} for t in listed)
            page = visitor.open(
                f"/party/visits/new?target={target['id']}", "body[data-visit-form-ready]"
            )
            page.click("#visit-gps")
            page.wait_for_selector("body[data-visit-point]", state="attached")
            page.fill("#visit-note", "老人身体尚好")
            page.select_option("#visit-problem-category", "fire_safety")
            page.fill("#visit-problem-description", "楼道堆放杂物，堵塞消防通道")
            page.screenshot(path=str(SCREENSHOTS / "party-visit-phone.png"), full_page=True)
            with page.expect_navigation(url=re.compile(r".*/party/visits\?done=1$")):
                page.click("#visit-submit")
            page.wait_for_selector("#visit-done", state="attached")
            assert (
                page.get_attribute(f'#target-list a[data-target="{target["id"]}"]', "data-visited")
                == "yes"
            )
            # A member reads no area page and no ledger.
            visitor.page.goto(live_server + "/party/ledger")
            assert visitor.page.locator("#ledger-list").count() == 0

            # The campaign's cell after the visit: its share went up.
            page = office.open(f"/party/campaigns/{campaign['id']}", "body[data-campaign-drawn]")
            after = page.get_attribute(f'#campaign-cells li[data-cell="{cell}"]', "data-share")
            assert float(after or 0) > 0
            expected = _share(url, campaign["id"], cell)
            assert abs(float(after or 0) - expected) < 1e-4

            # The street office turns the problem into a case …
            page = office.open(
                f"/party/ledger?campaign={campaign['id']}", "body[data-ledger-ready]"
            )
            entry = page.locator("#ledger-list li[data-state=open]").first
            entry_id = entry.get_attribute("data-entry")
            with page.expect_navigation():
                entry.locator("button.ledger-file").click()
            page.wait_for_selector("body[data-ledger-ready]", state="attached")
            row = page.locator(f'#ledger-list li[data-entry="{entry_id}"]')
            assert row.get_attribute("data-state") == "in_case"
            case_href = row.locator("a.ledger-case").get_attribute("href") or ""
            case_id = int(case_href.rsplit("/", 1)[1])

            # … and takes the case through its real steps to 结案.
            office.take(case_id, "registered")
            office.take(case_id, "dispatched")
            office.take(case_id, "handled", note="已清理杂物")
            office.take(case_id, "verified", note="现场核查已清理")
            office.take(case_id, "closed")

            page = office.open(
                f"/party/ledger?campaign={campaign['id']}", "body[data-ledger-ready]"
            )
            row = page.locator(f'#ledger-list li[data-entry="{entry_id}"]')
            assert row.get_attribute("data-state") == "closed"
            assert "已销号" in row.inner_text()
            page.screenshot(path=str(SCREENSHOTS / "party-ledger-phone.png"), full_page=True)
            for phone in (visitor, office):
                assert phone.errors == []
        finally:
            browser.close()


def _assigned(url: str, member: int) -> list[dict]:
    engine = create_engine(url)
    try:
        return list_targets(engine, visitor=Visitor(member_id=member))
    finally:
        engine.dispose()


def _share(url: str, campaign: int, cell: str) -> float:
    """The share visited of ``cell``, counted in SQL."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE EXISTS "
                    "(SELECT 1 FROM visit v WHERE v.target_id = t.id)) "
                    "FROM visit_target t JOIN grid_cell g ON g.id = t.cell_id "
                    "WHERE t.campaign_id = :c AND g.code = :g"
                ),
                {"c": campaign, "g": cell},
            ).one()
    finally:
        engine.dispose()
    return round(row[1] / row[0], 4)
