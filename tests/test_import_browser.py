"""The import page in a real browser: upload real footprints, read the dry run, confirm.

The fifty westernmost OpenStreetMap footprints of Lujiazui
(``../shared/data/real/shanghai_lujiazui``; those crossing the line between the two
made-up communities left out), plus a footprint straddling them (flagged) and one
far outside (rejected), uploaded through the page in headless Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from _browser import log_in, serve, watched_page
from conftest import SHARED_DATA, TEST_PASSWORD, add_test_user
from flask import Flask
from shapely.geometry import box
from sqlalchemy import Engine, text
from test_register_buildings import store_areas

from gridgis.web import create_app
from gridgis.web.db import dispose_engine

LUJIAZUI = SHARED_DATA / "real" / "shanghai_lujiazui" / "shanghai_buildings.geojson"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def lujiazui_sample(engine: Engine, folder: Path) -> Path:
    """Real footprints in two made-up communities (stored), a straddler and an outlier."""
    frame = gpd.read_file(LUJIAZUI)
    frame = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    centres = frame.geometry.representative_point()
    frame = frame.iloc[centres.x.argsort()[:50]][["id", "geometry"]].reset_index(drop=True)
    west, south, east, north = frame.total_bounds
    pad, middle = 0.0005, (west + east) / 2
    south, north = south - pad, north + pad
    west, east = west - pad, east + pad
    store_areas(engine, [box(west, south, middle, north), box(middle, south, east, north)])
    # Whatever the real footprints do, one clearly straddles the line and one lies far away.
    line = shapely.LineString([(middle, south), (middle, north)])
    frame = frame[~frame.geometry.intersects(line)]
    y = (south + north) / 2
    extra = gpd.GeoDataFrame(
        {
            "id": ["straddler", "faraway"],
            "geometry": [
                box(middle - 0.0002, y, middle + 0.0002, y + 0.0002),
                box(122.5, 31.0, 122.5003, 31.0003),
            ],
        },
        crs="EPSG:4326",
    )
    sample = gpd.GeoDataFrame(
        gpd.pd.concat([frame, extra], ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    sample["id"] = sample["id"].astype(str)
    path = folder / "陆家嘴楼栋.geojson"
    sample.to_file(path)
    return path


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    add_test_user(database_url, "admin", role="admin")
    application = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "IMPORT_STAGING": str(tmp_path / "st")}
    )
    yield application
    dispose_engine(application)


def test_upload_dry_run_confirm_in_a_browser(
    chromium: str, app: Flask, engine: Engine, tmp_path: Path
) -> None:
    path = lujiazui_sample(engine, tmp_path)
    read = len(gpd.read_file(path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(app) as base, watched_page(base) as (page, watch):
        log_in(page, base, "admin", TEST_PASSWORD, then="/import/")
        page.check("input[name=kind][value=buildings]")
        page.check("#import-estimate")
        page.set_input_files("#import-file", str(path))
        page.click("#import-submit")
        page.wait_for_url(re.compile(r"/import/[0-9a-f]{16}$"))
        page.wait_for_selector("#import-counts", timeout=60_000)  # the page reloads when done
        counts = {
            o: int(page.locator(f"#import-counts dd[data-outcome={o}]").inner_text())
            for o in ("read", "imported", "flagged", "rejected")
        }
        assert counts == {"read": read, "imported": read - 2, "flagged": 1, "rejected": 1}
        rejected = page.locator("#import-rows tr.import-row-rejected")
        assert rejected.count() == 1
        assert "不在任何社区内" in rejected.inner_text()  # the reason in the page's Chinese
        assert page.locator("#import-rows tr.import-row-flagged").inner_text().count("跨社区")
        page.wait_for_selector("body[data-import-drawn=true]")
        assert page.locator("#map path.leaflet-interactive").count() == 2  # the rings are not
        page.screenshot(path=str(SCREENSHOTS / "import-dry-run.png"), full_page=True)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM building")).scalar_one() == 0
        page.click("#import-confirm")
        page.wait_for_selector("#import-done", timeout=60_000)
        assert page.locator("#import-done").inner_text() == f"导入已完成：{read - 1} 行写入数据库。"
        page.screenshot(path=str(SCREENSHOTS / "import-done.png"), full_page=True)
    watch.assert_clean()
    assert any(p.startswith("/api/imports/") for p in watch.paths)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*), bool_and(households_estimated) FROM building")
        ).one()
    assert tuple(stored) == (read - 1, True)
