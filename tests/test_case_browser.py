"""One case through every step in a real Chromium at 375 × 812 (a phone), with four users:
a grid worker files it by GPS (with a photo when the server takes photos), the street office
registers and dispatches it, the department returns it (退单), the street office dispatches
it again, the department handles it, the worker verifies it and the street office closes it.
Each user sees only the actions it may take; every page fits the phone's width and its
buttons and links are at least 44 px tall."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import launch_chromium, require_chromium, serve
from conftest import TEST_PASSWORD
from flask import Flask
from PIL import Image
from sqlalchemy import Engine, create_engine, text

from gridgis import cases
from gridgis.cases.departments import add_department
from gridgis.users import add_user

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 375, "height": 812}
WORKER = "demo-350304-w00001"
STREET = "350304001"


def _png() -> bytes:
    """A small PNG made by Pillow: the photo the worker attaches."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


_FITS_JS = """
() => {
  const small = [];
  for (const el of document.querySelectorAll(
      ".top-bar a, .top-bar button, .cases-main a, .cases-main button, "
      + ".cases-main select, .cases-main input")) {
    if (el.closest(".leaflet-container")) { continue; }
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) { continue; }  // hidden
    if (box.height < 44) {
      small.push(`${el.tagName} ${el.id || el.textContent.trim()} ${box.height}`);
    }
  }
  const map = document.getElementById("map");
  const mapBox = map ? map.getBoundingClientRect() : null;
  return {
    width: document.documentElement.scrollWidth,
    small: small,
    mapFits: !mapBox || (mapBox.left >= 0 && mapBox.right <= 375 && mapBox.height > 100),
  };
}
"""


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _place(engine: Engine) -> tuple[float, float, str]:
    """A point (lon, lat) inside a cell the grid worker serves, and that cell's code."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT g.code, ST_X(ST_PointOnSurface(g.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(g.geom)) AS lat FROM grid_worker w "
                "JOIN worker_cell wc ON wc.worker_id = w.id JOIN grid_cell g ON g.id = wc.cell_id "
                "WHERE w.external_id = :id AND g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            ),
            {"id": WORKER},
        ).one()
    return float(row.lon), float(row.lat), str(row.code)


def _check_fits(page: Any, where: str) -> None:
    found = page.evaluate(_FITS_JS)
    assert found["width"] <= PHONE["width"], f"{where}: scrolls sideways ({found['width']} px)"
    assert found["small"] == [], f"{where}: targets under 44 px: {found['small']}"
    assert found["mapFits"], f"{where}: the map does not fit"


class Phone:
    """One user's phone: a browser context at 375 × 812, signed in."""

    def __init__(self, browser: Any, base: str, name: str, **options: Any) -> None:
        self.base = base
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=PHONE, locale="zh-CN", **options)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(base + "/login")
        self.page.fill("#login-name", name)
        self.page.fill("#login-password", TEST_PASSWORD)
        self.page.click("form.auth-form button[type=submit]")
        self.page.wait_for_load_state()

    def open(self, path: str, ready: str = "main") -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_selector(ready, state="attached")
        _check_fits(self.page, path)
        return self.page

    def actions(self, case_id: int) -> list[str]:
        page = self.open(f"/cases/{case_id}", "body[data-case-drawn]")
        return page.eval_on_selector_all(
            "#case-actions button", "els => els.map(e => e.dataset.action)"
        )

    def take(
        self,
        case_id: int,
        action: str,
        *,
        note: str = "",
        department: str = "",
        still_seen: bool = True,
    ) -> None:
        page = self.open(f"/cases/{case_id}", "body[data-case-drawn]")
        page.click(f"#action-{action}")
        if note:
            page.fill("#case-action-note", note)
        if department:
            page.select_option("#case-action-department", department)
        with page.expect_navigation():
            page.click("#case-action-submit")
        if still_seen:
            page.wait_for_selector("body[data-case-drawn]", state="attached")
        else:  # e.g. a department that returned the case no longer sees it: 404
            page.wait_for_selector("main", state="attached")
            assert page.locator("#case-main").count() == 0
        assert self.errors == []


@pytest.mark.browser
def test_one_case_through_every_step_on_a_phone(
    live_server: str, app: Flask, tmp_path: Path
) -> None:
    require_chromium()
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        add_department(engine, "cgj", "城管测试局", district="350304", actor="test")
        for name, role, extra in (
            ("office", "street", {"street": STREET}),
            ("wang", "worker", {"worker": WORKER}),
            ("cgj", "department", {"department": "cgj"}),
        ):
            add_user(engine, name, role=role, password=TEST_PASSWORD, actor="test", **extra)
        lon, lat, cell = _place(engine)
        other = cases.list_cases(engine, street="350304002", limit=1)[0]["id"]
    finally:
        engine.dispose()
    photo = tmp_path / "photo.png"
    photo.write_bytes(_png())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            worker = Phone(
                browser,
                live_server,
                "wang",
                geolocation={"longitude": lon, "latitude": lat},
                permissions=["geolocation"],
            )
            office = Phone(browser, live_server, "office")
            department = Phone(browser, live_server, "cgj")

            # the worker files a case by GPS
            page = worker.open("/cases/new", "body[data-case-form-ready]")
            page.click("#case-gps")
            page.wait_for_selector("body[data-case-point]", state="attached")
            page.select_option("#case-category", "fire_safety")
            page.fill("#case-description", "楼道堆放杂物，堵塞消防通道")
            page.set_input_files("#case-photos", str(photo))
            page.screenshot(path=str(SCREENSHOTS / "case-new-phone.png"))
            with page.expect_navigation(url=re.compile(r".*/cases/\d+$")):
                page.click("#case-submit")
            case_id = int(page.url.rsplit("/", 1)[1])
            page.wait_for_selector("body[data-case-drawn]", state="attached")
            assert cell in page.locator("#case-facts").inner_text()
            assert worker.actions(case_id) == ["note"]
            assert page.locator("#case-photos img").count() == 1

            # the street office sees it to do, registers and dispatches it
            tasks = office.open("/tasks")
            assert tasks.locator(f'#tasks-handle a[data-case="{case_id}"]').count() == 1
            assert int(tasks.locator(".nav-badge").inner_text()) >= 1
            assert "registered" in office.actions(case_id)
            assert department.open(f"/cases/{case_id}").locator("#case-main").count() == 0

            # an action the server refuses says why in the page's language (Chinese)
            page = office.open(f"/cases/{case_id}", "body[data-case-drawn]")
            page.click("#action-merged")
            page.fill("#case-action-into", str(case_id))
            page.click("#case-action-submit")
            page.wait_for_selector("#case-action-status:has-text('不能合并')")
            refused = page.locator("#case-action-status").inner_text()
            assert refused == f"未能提交：事件 {case_id} 不能合并到它自己", refused
            office.take(case_id, "registered")
            office.take(case_id, "dispatched", department="cgj")

            # the department sees only its case and returns it
            listed = department.open("/cases").eval_on_selector_all(
                "#case-list a[data-case]", "els => els.map(e => Number(e.dataset.case))"
            )
            assert listed == [case_id]
            assert department.actions(case_id) == ["handled", "returned", "note"]
            department.open(f"/cases/{other}")
            assert department.page.locator("#case-main").count() == 0  # 404
            department.take(case_id, "returned", note="不属于本部门职责", still_seen=False)

            # dispatched again, handled
            assert office.actions(case_id)[:2] == ["dispatched", "rejected"]
            office.take(case_id, "dispatched", department="cgj")
            department.take(case_id, "handled", note="已清理杂物")

            # the worker verifies, the street office closes
            assert "verified" in worker.actions(case_id)
            worker.take(case_id, "verified", note="现场核查已清理")
            office.take(case_id, "closed")
            done = office.open(f"/cases/{case_id}", "body[data-case-drawn]")
            assert done.locator("#case-step").inner_text() == "结案"
            kinds = done.eval_on_selector_all(
                "#case-timeline li", "els => els.map(e => e.className)"
            )
            assert kinds == [
                "event-reported",
                "event-registered",
                "event-dispatched",
                "event-returned",
                "event-dispatched",
                "event-handled",
                "event-verified",
                "event-closed",
            ]
            assert "不属于本部门职责" in done.locator("#case-timeline").inner_text()
            assert office.actions(case_id) == ["note"]
            done.screenshot(path=str(SCREENSHOTS / "case-closed-phone.png"), full_page=True)
            office.open("/cases", "body[data-cases-drawn]")
            for phone in (worker, office, department):
                assert phone.errors == []
        finally:
            browser.close()
