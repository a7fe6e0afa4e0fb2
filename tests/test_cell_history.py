"""The page and the API of a retired cell answer with its history and successors (issue 17,
point 3), on the demo after a real publish that merges two cells."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shapely
from _browser import log_in, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user, sign_in
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from gridgis.db.layout import publish_cells, read_inputs
from gridgis.db.lineage import cell_history

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells of about 400 households."""
NEVER = f"{COMMUNITY}999"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _merge(engine: Engine) -> tuple[str, str]:
    """Merge the community's two cells into the larger one; (kept code, retired code)."""
    cells = read_inputs(engine, COMMUNITY).cells.rename_geometry("geometry")
    cells = cells.sort_values("households", ascending=False).reset_index(drop=True)
    assert len(cells) == 2
    kept, gone = cells["code"].tolist()
    merged = cells.iloc[:1][["code", "geometry"]].copy()
    merged["geometry"] = [shapely.union(cells.geometry[0], cells.geometry[1])]
    with engine.begin() as conn:
        diff = publish_cells(
            conn, COMMUNITY, merged, method="edit", expected_version=None, actor="test"
        )
    assert diff.retired == [gone] and diff.reshaped == [kept]
    return kept, gone


def test_the_history_of_a_merged_cell_names_its_successor(demo_engine: Engine) -> None:
    kept, gone = _merge(demo_engine)
    retired = cell_history(demo_engine, gone)
    assert retired is not None and not retired.active and retired.retired_at is not None
    [successor] = retired.successors
    assert successor["code"] == kept and successor["active"] and successor["version"] == 2
    assert successor["share"] == pytest.approx(1.0) and successor["households"] > 0
    assert [(v["version_from"], v["version_to"]) for v in retired.versions] == [(1, 2)]
    survivor = cell_history(demo_engine, kept)
    assert survivor is not None and survivor.active
    assert [p["code"] for p in survivor.predecessors] == [gone]
    assert [(v["version_from"], v["version_to"]) for v in survivor.versions] == [(1, 2), (2, None)]
    assert cell_history(demo_engine, NEVER) is None


def test_the_retired_cells_page_and_api(client: FlaskClient, demo_engine: Engine) -> None:
    kept, gone = _merge(demo_engine)
    sign_in(client)
    page = client.get(f"/area/{gone}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已撤销" in html and "承接网格" in html and f'href="/area/{kept}"' in html
    assert "100%" in html
    english = client.get(f"/area/{gone}?lang=en").get_data(as_text=True)
    assert "Successor cells" in english and "Retired" in english
    answer = client.get(f"/api/cells/{gone}/history")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "retired" and body["community_code"] == COMMUNITY
    assert [s["code"] for s in body["successors"]] == [kept]
    assert body["outline"]["type"] in {"Polygon", "MultiPolygon"}
    live = client.get(f"/api/cells/{kept}/history").get_json()
    assert live["status"] == "active" and [p["code"] for p in live["predecessors"]] == [gone]
    assert client.get(f"/area/{NEVER}").status_code == 404
    assert client.get(f"/api/cells/{NEVER}/history").status_code == 404
    assert client.get("/api/cells/12345/history").status_code == 404


def test_a_street_office_may_not_read_another_streets_retired_cell(
    client: FlaskClient, demo_engine: Engine
) -> None:
    _, gone = _merge(demo_engine)
    sign_in(client, role="street", street="350304001")
    assert client.get(f"/area/{gone}").status_code == 403
    assert client.get(f"/api/cells/{gone}/history").status_code == 403


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.mark.browser
def test_the_retired_cells_map_leads_to_its_successor(
    chromium: str, live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    kept, gone = _merge(demo_engine)
    add_test_user(demo_url, "admin-h", role="admin")
    with watched_page(live_server) as (page, watch):
        log_in(page, live_server, "admin-h", TEST_PASSWORD, then=f"/area/{gone}")
        page.wait_for_selector("body[data-area-drawn='true']")
        assert "1 个承接网格" in page.locator("#map-status").inner_text()
        page.locator(f"path.gridgis-successor[data-code='{kept}']").click()
        page.wait_for_url(f"{live_server}/area/{kept}")
        page.wait_for_selector("body[data-area-drawn='true']")
    watch.assert_clean()
