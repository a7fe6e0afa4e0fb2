"""The photos of 大走访 visits (issue 19 point 4): shown as thumbnails linking to the photo on
the visitor's 我的走访 list and on the ledger (台账) rows, served only to those who may see
the visit — the visitor, the street office of its street and an administrator; another
street's office gets 404 and an analyst 403 — and a visit logged with a photo on a phone
shows its thumbnail (375 × 812, a real Chromium)."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PASSWORD, log_in_client, sign_in
from flask import Flask
from PIL import Image
from sqlalchemy import create_engine, text
from test_party_visits import _street, seed_people

from gridgis.party.campaigns import Visitor, assign_targets, create_campaign
from gridgis.party.visits import list_targets
from gridgis.users import add_user


def _jpeg() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (640, 480), "green")
    image.paste(Image.new("RGB", (320, 480), "white"))
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def app(demo_url: str, tmp_path: Path) -> Iterator[Flask]:
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app(
        {"TESTING": True, "DATABASE_URL": demo_url, "PHOTO_DIR": str(tmp_path / "photos")}
    )
    yield application
    dispose_engine(application)


def _member_with_a_target(url: str) -> dict[str, Any]:
    """A campaign of the busiest street, a party member with one target assigned and a
    login (``li``) of its own; the street and the target."""
    engine = create_engine(url)
    today = dt.date.today()
    try:
        street = _street(engine)
        seeded = seed_people(engine, street)
        member = seeded["members"][0]
        campaign = create_campaign(
            engine, name="春季大走访", area=street, starts_on=today - dt.timedelta(days=7),
            ends_on=today + dt.timedelta(days=30), actor="test",
        )  # fmt: skip
        target = next(
            t
            for t in list_targets(engine, campaign_id=campaign["id"], limit=1000)
            if t["kind"] == "household" and t["lon"] is not None
        )
        assign_targets(engine, campaign["id"], Visitor(member_id=member),
                       target_ids=[target["id"]], actor="test")  # fmt: skip
        add_user(engine, "li", role="member", member=str(member), password=TEST_PASSWORD,
                 actor="test")  # fmt: skip
        with engine.connect() as conn:
            other = conn.execute(
                text("SELECT min(code) FROM street WHERE code <> :s"), {"s": street}
            ).scalar_one()
    finally:
        engine.dispose()
    return {"street": street, "other": str(other), "target": target, "campaign": campaign}


def _photo_of(url: str, visit_id: int) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT id FROM visit_photo WHERE visit_id = :v"), {"v": visit_id}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_the_photos_show_to_those_who_may_see_the_visit(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    seeded = _member_with_a_target(url)
    visitor = app.test_client()
    token = log_in_client(visitor, "li")
    logged = visitor.post(
        "/api/party/visits",
        data={
            "target": str(seeded["target"]["id"]),
            "note": "入户走访",
            "problem_category": "市容环境",
            "problem_description": "楼道堆物",
            "photos": (io.BytesIO(_jpeg()), "楼道.jpg"),
        },
        content_type="multipart/form-data",
        headers={"X-CSRF-Token": token},
    )
    assert logged.status_code == 201, logged.get_data(as_text=True)
    visit = logged.get_json()
    assert visit["photos"] == 1
    photo = _photo_of(url, visit["id"])
    full = f"/api/party/visits/{visit['id']}/photos/{photo}"
    thumb = full + "/thumbnail"

    office = app.test_client()
    sign_in(office, role="street", street=seeded["street"], name="office")
    admin = app.test_client()
    sign_in(admin, role="admin", name="boss")
    for who, client in (("visitor", visitor), ("office", office), ("admin", admin)):
        answer = client.get(full)
        assert answer.status_code == 200, who
        assert answer.mimetype == "image/jpeg" and answer.data[:2] == b"\xff\xd8", who
        small = client.get(thumb)
        assert small.status_code == 200, who
        with Image.open(io.BytesIO(small.data)) as image:
            assert max(image.size) <= 320 and image.format == "JPEG", who

    stranger = app.test_client()
    sign_in(stranger, role="street", street=seeded["other"], name="elsewhere")
    analyst = app.test_client()
    sign_in(analyst, role="analyst", name="counter")
    for path in (full, thumb):
        assert stranger.get(path).status_code == 404, path
        assert analyst.get(path).status_code == 403, path
    assert visitor.get(f"/api/party/visits/{visit['id']}/photos/{photo + 1000}").status_code == 404

    # The pages: thumbnails linking to the photo on 我的走访 and on the ledger's row.
    mine = visitor.get("/party/visits").get_data(as_text=True)
    assert _linked(mine, full, thumb)
    ledger = office.get(f"/party/ledger?campaign={seeded['campaign']['id']}").get_data(as_text=True)
    assert _linked(ledger, full, thumb)
    assert "走访照片" in ledger
    counted = analyst.get("/party/ledger").get_data(as_text=True)
    assert "楼道堆物" in counted and f"/visits/{visit['id']}/photos/" not in counted
    elsewhere = stranger.get("/party/ledger").get_data(as_text=True)
    assert f"/visits/{visit['id']}/photos/" not in elsewhere


def _linked(html: str, full: str, thumb: str) -> bool:
    """Whether ``html`` holds a link to the photo ``full`` around its thumbnail ``thumb``."""
    pattern = rf'<a class="visit-photo" href="{re.escape(full)}"[^>]*><img src="{re.escape(thumb)}"'
    return re.search(pattern, html) is not None


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    from _browser import serve

    with serve(app) as base:
        yield base


@pytest.mark.browser
def test_a_visit_logged_with_a_photo_shows_its_thumbnail_on_a_phone(
    live_server: str, app: Flask, tmp_path: Path
) -> None:
    from _browser import launch_chromium, require_chromium
    from playwright.sync_api import sync_playwright
    from test_case_browser import SCREENSHOTS, Phone

    require_chromium()
    seeded = _member_with_a_target(app.config["DATABASE_URL"])
    target = seeded["target"]
    picture = tmp_path / "门口.jpg"
    picture.write_bytes(_jpeg())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            phone = Phone(
                browser, live_server, "li",
                geolocation={"longitude": target["lon"], "latitude": target["lat"]},
                permissions=["geolocation"],
            )  # fmt: skip
            page = phone.open(
                f"/party/visits/new?target={target['id']}", "body[data-visit-form-ready]"
            )
            page.click("#visit-gps")
            page.wait_for_selector("body[data-visit-point]", state="attached")
            page.fill("#visit-note", "老人在家，情况良好")
            page.set_input_files("#visit-photos", str(picture))
            with page.expect_navigation(url=re.compile(r".*/party/visits\?done=1$")):
                page.click("#visit-submit")
            page.wait_for_selector("#visit-done", state="attached")
            image = page.locator("#visit-list a.visit-photo img").first
            image.wait_for()
            image.scroll_into_view_if_needed()
            page.wait_for_function(
                "() => { const i = document.querySelector('#visit-list a.visit-photo img');"
                " return i && i.complete && i.naturalWidth > 0; }"
            )
            size = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
            assert max(size) == 320 and size == [320, 240], size
            box = image.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 375
            href = page.locator("#visit-list a.visit-photo").first.get_attribute("href") or ""
            assert re.fullmatch(r"/api/party/visits/\d+/photos/\d+", href), href
            page.screenshot(path=str(SCREENSHOTS / "party-visit-photo-phone.png"), full_page=True)
            full = phone.context.request.get(live_server + href)
            assert full.status == 200 and full.headers["content-type"] == "image/jpeg"
            assert phone.errors == []
        finally:
            browser.close()
