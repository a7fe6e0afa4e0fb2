"""The 红心物业 page in a real Chromium (issue 19): a street office sees its street's compounds
on the map coloured by management and the figures per community as the API counts them,
picks a compound with none and puts it under 红心物业 (驻区单位包保) in the form, at phone
width (375 px) too; the change is stored and audited. No console error, no request
outside the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _browser import log_in, ready_selector, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask
from sqlalchemy import Engine, text

from gridgis.party.compounds import list_compounds

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "party"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.mark.browser
def test_property_page_maps_compounds_and_saves_an_edit(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    with demo_engine.connect() as conn:
        street, unit = conn.execute(
            text(
                "SELECT left(m.community_code, 9), min(u.id) FROM compound_management m "
                "JOIN party_unit u ON u.street_code = left(m.community_code, 9) "
                "WHERE m.management = 'none' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).one()
    add_test_user(demo_url, "property-office", role="street", street=street)
    rows = list_compounds(demo_engine, within=street)
    target = next(r for r in rows if r["management"] == "none")
    outlined = sum(1 for r in list_compounds(demo_engine, within=street, outlines=True)
                   if r["outline"])  # fmt: skip
    base = live_server
    with watched_page(base) as (page, watch):
        log_in(page, base, "property-office", TEST_PASSWORD, then="/party/property")
        page.wait_for_selector(ready_selector("/party/property"), state="attached", timeout=60_000)
        assert page.get_attribute("body", "data-property-compounds") == str(len(rows))
        assert page.locator(".leaflet-interactive").count() >= outlined > 0
        communities = {r["community_code"] for r in rows}
        assert page.locator("#figures-table tbody tr").count() == len(communities)
        nones = [r for r in rows if r["management"] == "none"]
        assert page.locator("#compounds-table tbody tr").count() == len(nones)  # to act on
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "property.png"))
        page.set_viewport_size({"width": 375, "height": 812})
        key = f"{target['community_code']}/{target['name']}"
        page.locator(f'#compounds-table tr[data-key="{key}"]').click()
        assert page.input_value("#edit-compound") == target["name"]
        page.select_option("#edit-management", "red")
        page.select_option("#edit-mode", "unit")
        page.select_option("#edit-unit", str(unit))
        page.fill("#edit-contact", "赵六")
        page.fill("#edit-phone", "13611112222")
        button = page.locator("#compound-form button[type=submit]")
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 375  # usable at phone width
        button.click()
        page.wait_for_selector(f'body[data-property-saved="{target["name"]}"]', timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "property-phone.png"))
        watch.assert_clean()
    stored = list_compounds(demo_engine, within=target["community_code"], reveal=True)
    saved = next(r for r in stored if r["name"] == target["name"])
    assert (saved["management"], saved["red_mode"], saved["unit_id"], saved["contact"]) == (
        "red", "unit", unit, "赵六",
    )  # fmt: skip
    with demo_engine.connect() as conn:
        actors = (
            conn.execute(
                text(
                    "SELECT actor FROM audit_log WHERE object_type = 'compound' AND object_id = :k"
                ),
                {"k": key},
            )
            .scalars()
            .all()
        )
    assert actors == ["property-office"]
