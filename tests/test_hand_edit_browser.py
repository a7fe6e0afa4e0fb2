"""Editing cells by hand in a real Chromium: move a building, undo, merge (a live finding),
split by a line drawn with the mouse, preview and publish."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user
from flask import Flask
from shapely.geometry import LineString
from sqlalchemy import Engine, text

from gridgis.db.layout import read_inputs
from gridgis.partition.hand import cell_of_buildings

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells (362 and 440 households; bounds 300–500)."""
UTM = "EPSG:32650"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


def _layout(engine: Engine) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    inputs = read_inputs(engine, COMMUNITY)
    cells = inputs.cells.rename_geometry("geometry")[["code", "households", "geometry"]]
    return cells.sort_values("code").reset_index(drop=True), inputs.buildings.rename_geometry(
        "geometry"
    )


def _cut_line(cells: gpd.GeoDataFrame) -> list[list[float]]:
    """A few points (lon, lat) along the boundary the two cells share, run on 40 m past the
    outline at both ends: a line a person would draw to cut the merged cell back in two."""
    metric = cells.to_crs(UTM).geometry
    shared = shapely.line_merge(shapely.intersection(metric.iloc[0].boundary, metric.iloc[1]))
    parts = sorted(shapely.get_parts(shared), key=lambda g: g.length)
    coords: list[tuple[float, ...]] = []
    for point in parts[-1].simplify(20).coords:
        # points a person clicks are apart: a click on the last vertex ends the line
        if not coords or shapely.Point(point).distance(shapely.Point(coords[-1])) >= 60:
            coords.append(point)

    def beyond(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float]:
        dx, dy = b[0] - a[0], b[1] - a[1]
        scale = 40.0 / max((dx * dx + dy * dy) ** 0.5, 1e-9)
        return (b[0] + dx * scale, b[1] + dy * scale)

    drawn = LineString([beyond(coords[1], coords[0]), *coords, beyond(coords[-2], coords[-1])])
    back = gpd.GeoSeries([drawn], crs=UTM).to_crs(4326).iloc[0]
    return [[x, y] for x, y in back.coords]


def _pixel(page: Any, lon: float, lat: float) -> tuple[float, float]:
    """The page coordinates of a place on the editor's map."""
    point = page.evaluate(
        "([lat, lon]) => { const p = window.gridgisHand.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lat, lon],
    )
    box = page.locator("#map").bounding_box()
    return box["x"] + point[0], box["y"] + point[1]


def _wait_state(page: Any, after: int) -> int:
    """Wait until the editor has drawn a state after number ``after``; return its number."""
    page.wait_for_function(
        "n => Number(document.body.getAttribute('data-hand-state') || 0) > n", arg=after
    )
    return int(page.evaluate("Number(document.body.getAttribute('data-hand-state'))"))


@pytest.mark.browser
def test_move_undo_merge_split_and_publish_by_hand(
    live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    require_chromium()
    add_test_user(demo_url, "editor", role="admin")
    cells, buildings = _layout(demo_engine)
    one, two = list(cells["code"])
    holder = cell_of_buildings(cells, buildings)
    of_two = buildings[(holder == 1) & (buildings["households"] > 0)]
    building = int(of_two.index[0])
    spot = shapely.point_on_surface(of_two.geometry.iloc[0])
    line = _cut_line(cells)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    with watched_page(live_server) as (page, watch):
        log_in(page, live_server, "editor", TEST_PASSWORD, then=f"/edit/{COMMUNITY}")
        page.click("#edit-hand button[type=submit]")
        page.wait_for_url(re.compile(rf".*/edit/{COMMUNITY}/drafts/\d+/hand$"))
        n = _wait_state(page, 0)
        assert page.locator("#hand-verdict").inner_text().startswith("校验通过")

        # move one building: zoom to it, click it, choose cell one, move
        page.evaluate(
            "([lat, lon]) => window.gridgisHand.map.setView([lat, lon], 18, {animate: false})",
            [spot.y, spot.x],
        )
        page.mouse.click(*_pixel(page, spot.x, spot.y))
        households = int(buildings.loc[building, "households"])
        assert page.locator("#hand-selection").inner_text() == f"已选 1 栋楼，共 {households} 户"
        page.select_option("#hand-target", one)
        page.click("#hand-move")
        n = _wait_state(page, n)
        assert page.locator("#hand-error").is_hidden()
        steps = page.locator("#hand-steps li")
        assert steps.count() == 1 and "把 1 栋楼移入网格" in steps.inner_text()
        moved = page.evaluate(
            f"window.gridgisHand.state().buildings.features"
            f".find(f => f.properties.id === {building}).properties.cell"
        )
        assert moved == one

        # undo it
        page.click("#hand-undo")
        n = _wait_state(page, n)
        assert page.locator("#hand-steps li").count() == 0
        assert page.locator("#hand-undo").is_disabled()

        # drag a vertex of cell one half-way to its centre, then undo that too
        page.select_option("#hand-cell", one)
        page.click("#hand-reshape")
        vertex = page.locator(".leaflet-marker-pane .marker-icon:not(.marker-icon-middle)").first
        vertex.wait_for()
        box = vertex.bounding_box()
        start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        centre = page.evaluate(
            f"(() => {{ const c = window.gridgisHand.cells()['{one}'].getBounds().getCenter();"
            " const p = window.gridgisHand.map.latLngToContainerPoint(c); return [p.x, p.y]; })()"
        )
        frame = page.locator("#map").bounding_box()
        end = ((start[0] + frame["x"] + centre[0]) / 2, (start[1] + frame["y"] + centre[1]) / 2)
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=8)
        page.mouse.up()
        page.click("#hand-reshape-done")
        n = _wait_state(page, n)
        assert page.locator("#hand-error").is_hidden(), page.locator("#hand-error").inner_text()
        reshaped = page.locator("#hand-steps li")
        assert reshaped.count() == 1 and reshaped.inner_text().startswith(f"修改网格 {one}")
        page.click("#hand-undo")
        n = _wait_state(page, n)
        assert page.locator("#hand-steps li").count() == 0

        # merge the two cells: the live finding says the merged cell is over the maximum
        page.evaluate(
            "window.gridgisHand.map.fitBounds(L.geoJSON(window.gridgisHand.state()"
            ".outline).getBounds(), {animate: false})"
        )
        page.select_option("#hand-cell", one)
        page.select_option("#hand-other", two)
        page.click("#hand-merge")
        n = _wait_state(page, n)
        total = int(cells["households"].sum())
        findings = page.locator("#hand-findings").inner_text()
        assert f"有 {total} 户，超过上限 500 户" in findings
        assert one in findings and "南郊社区第1网格" in findings
        assert page.locator("#hand-verdict").inner_text().startswith("有 1 个错误")
        assert len(page.evaluate("Object.keys(window.gridgisHand.cells())")) == 1
        page.screenshot(path=str(SCREENSHOTS / "hand-edit-merged.png"))

        # split it again with a line drawn along the old boundary (click the last point twice)
        page.evaluate(
            "line => window.gridgisHand.map.fitBounds(line.map(p => [p[1], p[0]]),"
            " {padding: [40, 40], animate: false})",
            line,
        )
        page.click("#hand-split-line")
        for lon, lat in line:
            page.mouse.click(*_pixel(page, lon, lat))
        page.mouse.click(*_pixel(page, *line[-1]))
        n = _wait_state(page, n)
        assert page.locator("#hand-error").is_hidden(), page.locator("#hand-error").inner_text()
        codes = page.evaluate("Object.keys(window.gridgisHand.cells())")
        assert len(codes) == 2 and one in codes and two not in codes  # never reused
        assert page.locator("#hand-verdict").inner_text().startswith("校验通过")
        assert [
            s.startswith(p)
            for s, p in zip(
                page.locator("#hand-steps li").all_inner_texts(),
                ("把网格", "按画线拆分网格"),
                strict=True,
            )
        ] == [True, True]
        page.screenshot(path=str(SCREENSHOTS / "hand-edit.png"))

        # preview and publish
        page.click("#hand-preview")
        page.wait_for_url(re.compile(rf".*/edit/{COMMUNITY}/drafts/\d+$"))
        accept = page.locator("#edit-accept-unlinked")
        if accept.count():
            accept.check()
        page.click("#edit-publish button[type=submit]")
        page.wait_for_url(f"{live_server}/edit/{COMMUNITY}")
        assert "已发布第 2 版" in page.locator(".edit-flash").inner_text()
    watch.assert_clean()

    with demo_engine.connect() as conn:
        current = conn.execute(
            text(
                "SELECT code, households FROM grid_cell WHERE community_code = :c "
                "AND valid_to IS NULL ORDER BY code"
            ),
            {"c": COMMUNITY},
        ).all()
    assert len(current) == 2 and current[0].code == one
    assert sum(r.households for r in current) == total
    assert all(300 <= r.households <= 500 for r in current)
