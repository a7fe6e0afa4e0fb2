"""The 驻区单位 and 三零 pages in a real Chromium (issue 19, points 5 and 6): a street office
sees its street's units, alliances and needs, claims a need for a unit and marks it done;
the 三零 page maps and ranks the street's communities as the API counts them and links
each to its cases. No console error, no request outside the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import log_in, ready_selector, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask
from sqlalchemy import Engine, text

from gridgis.party.alliances import list_units
from gridgis.party.needs import list_needs
from gridgis.party.sanling import sanling_figures

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "party"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _street(engine: Engine) -> str:
    """The street with the most open needs."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT street_code FROM party_need WHERE state = 'open' "
                    "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
                )
            ).scalar_one()
        )


@pytest.mark.browser
def test_units_and_sanling_pages(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    street = _street(demo_engine)
    add_test_user(demo_url, "party-office", role="street", street=street)
    units = list_units(demo_engine, within=street)
    needs = list_needs(demo_engine, within=street)
    target = next(n for n in needs if n["state"] == "open")
    base = live_server
    with watched_page(base) as (page, watch):
        log_in(page, base, "party-office", TEST_PASSWORD, then="/party/units")
        page.wait_for_selector(ready_selector("/party/units"), state="attached", timeout=60_000)
        assert page.get_attribute("body", "data-party-units") == str(len(units))
        assert page.get_attribute("body", "data-party-needs") == str(len(needs))
        assert page.locator("#units-table tbody tr").count() == len(units)
        assert page.locator(".leaflet-interactive").count() >= len(units)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "units.png"))
        row = page.locator(f'#needs-table tr[data-need="{target["id"]}"]')
        row.locator("select").select_option(index=0)
        row.locator("button.need-claim").click()
        claimed = page.locator(f'#needs-table tr[data-need="{target["id"]}"][data-state="claimed"]')
        claimed.wait_for(timeout=30_000)
        claimed.locator("input").fill("已完成验收")
        claimed.locator("button.need-done").click()
        page.locator(f'#needs-table tr[data-need="{target["id"]}"][data-state="done"]').wait_for(
            timeout=30_000
        )
        done = next(n for n in list_needs(demo_engine, within=street) if n["id"] == target["id"])
        assert (done["state"], done["done_note"], done["done_by"]) == (
            "done", "已完成验收", "party-office",
        )  # fmt: skip

        page.goto(base + "/party/sanling?period=2025")
        page.wait_for_selector(ready_selector("/party/sanling"), state="attached", timeout=60_000)
        figures = sanling_figures(demo_engine, "2025", within=street)
        assert page.locator("#sanling-table tbody tr").count() == len(figures)
        zero = int(figures["sanling"].sum())
        assert page.get_attribute("body", "data-sanling-count") == str(zero)
        assert page.locator("#sanling-table tbody tr.sanling").count() == zero
        page.screenshot(path=str(SCREENSHOTS / "sanling.png"))
        first = page.locator("#sanling-table tbody tr").first
        community = first.get_attribute("data-community")
        first.locator("a").click()
        page.wait_for_url(f"**/cases?*community={community}*")
        watch.assert_clean()
