"""Your own district in five steps again, through the web app in headless Chromium (issue 16).

The same district as ``test_onboarding.py`` (the files made by ``_district``: the
1,450 real OpenStreetMap buildings of Lujiazui, made-up boundaries around them),
from an empty migrated database, as an administrator would do it in the browser:

1. the boundaries are loaded with the command line (``gridgis import boundaries``):
   the web app has no page that imports district, street or community outlines;
2. the buildings, with households estimated, are uploaded through the import page
   (``/import/``);
3. then the household register (its address column named in the form);
4. the cells are drawn community by community on the cell editing pages
   (``/edit/<community>``: 重新划分, preview, 发布);
5. the workers' roster (the Excel template, downloaded from the import page, filled in
   for the drawn cells), the party branches and the service facilities are uploaded
   through the import page.

Each upload holds one deliberately bad row; each dry run's report is read on the page
(the counts, the bad row listed as rejected with its row number and reason), the
database is checked unchanged, then the import is confirmed. Finally the coverage is
read where a user reads it, on the district's page (``/area/310115``): no cell without
a grid worker. A street office then sees only the kinds kept within a street
(buildings, households) offered on the import page.

The test itself runs in 54-59 s on this shared 2-core machine (load average 7-10;
the eight draws about 20 s, the buildings' dry run and import about 9 s), plus the
database set-up every test has.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from _browser import log_in, serve, watched_page
from _district import (
    DISTRICT,
    LUJIAZUI,
    STREETS,
    boundaries,
    branches_frame,
    buildings_frame,
    fill_workers_template,
    leader_buildings,
    register_frame,
)
from click.testing import CliRunner
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask
from playwright.sync_api import Page
from shapely.geometry import box
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.registers.catalogue import kinds
from gridgis.web import create_app
from gridgis.web.db import dispose_engine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not LUJIAZUI.exists(), reason=f"the shared OpenStreetMap data is absent: {LUJIAZUI}"
    ),
]

_CHINESE = re.compile(r"[\u4e00-\u9fff]")
OUTCOMES = ("read", "imported", "updated", "unchanged", "flagged", "rejected")
RUN = 120_000
"""How long a stage of an import may take on the page (ms)."""


@pytest.fixture
def app(env_database: str, tmp_path: Path) -> Iterator[Flask]:
    add_test_user(env_database, "admin", role="admin")
    application = create_app(
        {"TESTING": True, "DATABASE_URL": env_database, "IMPORT_STAGING": str(tmp_path / "st")}
    )
    yield application
    dispose_engine(application)


def _load_boundaries(folder: Path) -> None:
    """Step 1 with the command line: the web app cannot import boundaries."""
    district, streets, communities = boundaries(folder)
    for args in (
        [district, "--level", "district"],
        [streets, "--level", "street"],
        [communities, "--level", "community", "--code-field", "社区编码",
         "--name-field", "社区名称"],
    ):  # fmt: skip
        result = CliRunner().invoke(main, ["import", "boundaries", *map(str, args)])
        assert result.exit_code == 0, result.output


def _rows(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _dry_run(
    page: Page, base: str, kind: str, path: Path, *, fields: dict[str, str] | None = None,
    estimate: bool = False,
) -> dict[str, int]:  # fmt: skip
    """Upload ``path`` as ``kind`` on the import page; wait for the dry run's report and
    return its counts as the page shows them."""
    page.goto(base + "/import/")
    page.check(f"input[name=kind][value={kind}]")
    if estimate:
        page.check("#import-estimate")
    if fields:
        page.locator(f"details.import-fields[data-kind={kind}] summary").click()
        for field, column in fields.items():
            page.fill(f"input[name={kind}_{field}_field]", column)
    page.set_input_files("#import-file", str(path))
    page.click("#import-submit")
    page.wait_for_url(re.compile(r"/import/[0-9a-f]{16}$"))
    page.wait_for_selector("#import-counts, #import-error", timeout=RUN)
    assert page.locator("#import-error").count() == 0, page.locator("#import-error").inner_text()
    assert page.locator("#import-dry-note").is_visible()
    return {
        o: int(page.locator(f"#import-counts dd[data-outcome={o}]").inner_text()) for o in OUTCOMES
    }


def _rejected(page: Page) -> list[tuple[int, str]]:
    """The rejected rows the report lists: (row number, the row's text)."""
    rows = page.locator("#import-rows tr.import-row-rejected")
    return [
        (int(str(rows.nth(i).get_attribute("data-row"))), rows.nth(i).inner_text())
        for i in range(rows.count())
    ]


def _confirm(page: Page) -> str:
    """Confirm the dry run shown; wait for the import; the page's closing sentence."""
    page.click("#import-confirm")
    page.wait_for_selector("#import-done, #import-error", timeout=RUN)
    assert page.locator("#import-error").count() == 0, page.locator("#import-error").inner_text()
    return page.locator("#import-done").inner_text()


def _draw(page: Page, base: str, community: str) -> None:
    """Draw a community's cells on its editing page, preview the draft, publish it."""
    page.goto(f"{base}/edit/{community}")
    page.check("#edit-propose input[name=method][value=draw]")
    page.click("#edit-propose button[type=submit]")
    page.wait_for_url(re.compile(rf"/edit/{community}/drafts/\d+$"), timeout=RUN)
    publish = page.locator("#edit-publish button[type=submit]")
    assert publish.is_enabled(), page.locator("#edit-findings").inner_text()
    publish.click()
    page.wait_for_url(f"{base}/edit/{community}")


def _cell_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT code FROM grid_cell WHERE valid_to IS NULL ORDER BY code")
        )
        return [str(c) for c in found.scalars()]


def test_your_own_district_through_the_import_page(
    chromium: str, app: Flask, engine: Engine, tmp_path: Path
) -> None:
    _load_boundaries(tmp_path)
    frame = buildings_frame()
    west, south, east, north = frame.total_bounds

    # The buildings, and one far outside the district (rejected).
    faraway = gpd.GeoDataFrame(
        {"id": ["faraway"], "geometry": [box(122.5, 31.0, 122.5003, 31.0003)]}, crs="EPSG:4326"
    )
    buildings = tmp_path / "楼栋.geojson"
    gpd.GeoDataFrame(pd.concat([frame, faraway], ignore_index=True), crs="EPSG:4326").to_file(
        buildings, driver="GeoJSON"
    )
    # The register, and an address no building has (rejected).
    register = register_frame(frame)
    addresses = register["房屋地址"].tolist()
    assert len(addresses) >= 5
    register.loc[len(register)] = ["H999", "不存在路999号", 30]
    register_csv = tmp_path / "实有房屋.csv"
    register.to_csv(register_csv, index=False, encoding="gbk")

    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, "admin", TEST_PASSWORD, then="/import/")
        # The form names every kind's columns in Chinese (the page is in Chinese).
        for kind in [k.name for k in kinds()]:
            page.check(f"input[name=kind][value={kind}]")
            page.locator(f"details.import-fields[data-kind={kind}] summary").click()
            labels = page.locator(f"details.import-fields[data-kind={kind}] label span")
            untranslated = [t for t in labels.all_inner_texts() if not _CHINESE.search(t)]
            assert untranslated == [], f"{kind}: {untranslated}"

        # 2. Buildings with estimated households.
        counts = _dry_run(page, base, "buildings", buildings, estimate=True)
        assert counts["read"] == 1451 and counts["rejected"] == 1, counts
        assert counts["imported"] + counts["flagged"] == 1450, counts
        [(row, why)] = _rejected(page)
        assert row == 1451 and "不在任何社区内" in why, why
        assert _rows(engine, "building") == 0
        assert _confirm(page) == "导入已完成：1450 行写入数据库。"
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT count(*), bool_and(households_estimated) FROM building")
            ).one()
        assert tuple(stored) == (1450, True)

        # 3. Households from the register, by its 房屋地址 column.
        counts = _dry_run(page, base, "households", register_csv, fields={"address": "房屋地址"})
        assert counts == {"read": len(addresses) + 1, "imported": 0, "updated": len(addresses),
                          "unchanged": 0, "flagged": 0, "rejected": 1}  # fmt: skip
        [(row, why)] = _rejected(page)
        assert row == len(addresses) + 2 and "未能匹配" in why, why
        _confirm(page)
        with engine.connect() as conn:
            counted = conn.execute(
                text(
                    "SELECT count(*), sum(households) FROM building WHERE NOT households_estimated"
                )
            ).one()
        assert tuple(counted) == (len(addresses), sum(40 + 10 * i for i in range(len(addresses))))

        # 4. Cells, drawn community by community.
        with engine.connect() as conn:
            communities = conn.execute(text("SELECT code FROM community ORDER BY code")).scalars()
            communities = [str(c) for c in communities]
        assert len(communities) == 8
        for community in communities:
            _draw(page, base, community)
        codes = _cell_codes(engine)
        assert codes and {c[:12] for c in codes} == set(communities)

        # 5. Workers in the Excel template downloaded from the form, with a cell code that
        # does not exist (rejected).
        page.goto(base + "/import/")
        page.check("input[name=kind][value=workers]")
        with page.expect_download() as download:
            page.click("#import-template-workers")
        template = tmp_path / "网格员.xlsx"
        download.value.save_as(template)
        leaders = leader_buildings(frame)
        unknown = f"{DISTRICT}999999999"
        bad = {
            "编号": "W9999",
            "姓名": "无名",
            "角色": "专职网格员",
            "网格": unknown,
        }
        roster = fill_workers_template(
            template, tmp_path / "网格员花名册.xlsx", codes=codes, leaders=leaders, extra=[bad]
        )
        good = len(codes) + len(leaders)
        counts = _dry_run(page, base, "workers", roster)
        assert counts["read"] == good + 1 and counts["rejected"] == 1, counts
        assert counts["imported"] + counts["flagged"] == good, counts
        [(row, why)] = _rejected(page)
        assert row == good + 2 and unknown in why, why
        assert _rows(engine, "grid_worker") == 0
        _confirm(page)

        # Branches, with one whose parent organisation does not exist (rejected).
        branches = branches_frame(frame, codes)
        orphan = {"编号": "P0", "名称": "孤立党支部", "类型": "党支部", "上级组织": "P404",
                  "经度": (west + east) / 2, "纬度": (south + north) / 2, "网格": None}  # fmt: skip
        branches = pd.concat([branches, pd.DataFrame([orphan])], ignore_index=True)
        branch_csv = tmp_path / "党组织.csv"
        branches.to_csv(branch_csv, index=False)
        counts = _dry_run(page, base, "branches", branch_csv)
        assert counts["read"] == len(branches) and counts["rejected"] == 1, counts
        [(row, why)] = _rejected(page)
        assert row == len(branches) + 1 and "P404" in why, why
        _confirm(page)

        # Facilities: a 党群服务中心 in each street, a clinic across the district's edge
        # (stored, flagged: in no community) and a row without a kind (rejected).
        seats = branches.iloc[: len(STREETS)]
        facilities = pd.DataFrame(
            [{"编号": f"F{i}", "名称": f"{name}党群服务中心", "类型": "党群服务中心",
              "经度": seat["经度"], "纬度": seat["纬度"]}
             for i, (name, (_, seat)) in enumerate(zip(STREETS.values(), seats.iterrows(),
                                                       strict=True))]
            + [{"编号": "F8", "名称": "江边卫生服务站", "类型": "卫生服务站",
                "经度": east + 0.01, "纬度": north + 0.01},
               {"编号": "F9", "名称": "无类型设施", "类型": None,
                "经度": (west + east) / 2, "纬度": (south + north) / 2}]
        )  # fmt: skip
        facility_xlsx = tmp_path / "服务设施.xlsx"
        facilities.to_excel(facility_xlsx, index=False)
        counts = _dry_run(page, base, "facilities", facility_xlsx)
        assert counts == {"read": 4, "imported": 2, "updated": 0, "unchanged": 0, "flagged": 1,
                          "rejected": 1}, counts  # fmt: skip
        [(row, why)] = _rejected(page)
        assert row == 5 and "缺少类型" in why, why
        flagged = page.locator("#import-rows tr.import-row-flagged")
        assert flagged.get_attribute("data-row") == "4"
        assert flagged.locator("td").nth(3).inner_text() == "不在任何社区内"
        assert page.locator(".import-flags").inner_text() == "需核查：不在任何社区内 1"
        _confirm(page)
        assert _rows(engine, "service_facility") == 3

        # Coverage as a user reads it: the district's page, no cell without a grid worker.
        page.goto(f"{base}/area/{DISTRICT}")
        figure = {
            key: page.locator(f"#area-figures dd[data-figure={key}]").inner_text()
            for key in ("cells", "cells_without_worker", "cells_without_branch")
        }
        assert figure == {"cells": str(len(codes)), "cells_without_worker": "0",
                          "cells_without_branch": "0"}  # fmt: skip

        # A street office is offered the kinds kept within its street only.
        add_test_user(app.config["DATABASE_URL"], "office", role="street", street="310115001")
        office = page.context.browser.new_page()  # a context of its own: no admin session
        log_in(office, base, "office", TEST_PASSWORD, then="/import/")
        offered = office.locator("input[name=kind]").evaluate_all("els => els.map(e => e.value)")
        assert offered == [k.name for k in kinds() if k.street_limited]
        assert "units" not in offered and "departments" not in offered and "roads" not in offered
        office.close()
    watch.assert_clean()
