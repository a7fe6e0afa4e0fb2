"""Cell editing: proposals, drafts, uploads and publishing, in the library and the web app."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, add_test_user, sign_in
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import Point
from sqlalchemy import Engine, text

from gridgis.db.layout import layout_history, publish_cells, publish_many, read_inputs
from gridgis.editing import (
    StaleDraftError,
    UnpublishableDraftError,
    community_summaries,
    discard_drafts,
    draft_diff,
    drafts_of,
    load_draft,
    propose_from_file,
    propose_layout,
    publish_draft,
    read_layout_file,
    save_draft,
)
from gridgis.errors import ConflictError, CRSError, NotFoundError, ValidationError

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells of about 400 households (bounds 300–500)."""
VILLAGE = "350304100205"
"""后卓村委会 of the small demo: one cell of 23 households (bounds 150–300)."""


def _grow(engine: Engine, community: str = COMMUNITY, factor: int = 2) -> None:
    """Multiply the households of a community's buildings: its cells break the maximum."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE building SET households = households * :f WHERE community_code = :c"),
            {"f": factor, "c": community},
        )


def _snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a publish may change, to compare before and after a refused one."""
    with engine.connect() as conn:
        return {
            table: [tuple(r) for r in conn.execute(text(sql))]
            for table, sql in {
                "grid_cell": "SELECT id, code, valid_to, version_to_id, households, "
                "ST_AsText(geom) FROM grid_cell ORDER BY id",
                "layout_version": "SELECT id, community_code, version FROM layout_version "
                "ORDER BY id",
                "cell_code": "SELECT code, retired_at FROM cell_code ORDER BY code",
                "layout_draft": "SELECT id, base_version, cells::text FROM layout_draft "
                "ORDER BY id",
            }.items()
        }


def _total_households(engine: Engine, community: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT sum(households) FROM building WHERE community_code = :c"),
                {"c": community},
            ).scalar_one()
        )


# --- proposing -----------------------------------------------------------------------------------


def test_adjust_on_the_demo_gives_a_valid_layout(demo_engine: Engine) -> None:
    _grow(demo_engine)
    proposal = propose_layout(demo_engine, COMMUNITY, method="adjust", seed=0)
    assert proposal.method == "adjust" and proposal.base_version == 1
    assert proposal.bounds == (300, 500)
    assert proposal.report.ok, proposal.report.lines()
    assert not [f for f in proposal.report.findings if f.severity == "error"]
    cells = proposal.cells
    assert cells.crs.to_epsg() == 4326
    assert list(cells.columns) == ["code", "households", "flags", "geometry"]
    assert cells["code"].str.match(rf"^{COMMUNITY}\d{{3}}$").all() and cells["code"].is_unique
    assert int(cells["households"].sum()) == _total_households(demo_engine, COMMUNITY)
    # Every cell is within the bounds, or flagged by the engine (and then only a warning).
    for row in cells.itertuples():
        assert 300 <= row.households <= 500 or row.flags, row
    # The two old cells (now about 720 and 880 households) are split; each keeps its code on
    # the part that holds at least half the households of both, the other parts are new.
    old = set(read_inputs(demo_engine, COMMUNITY).cells["code"])
    assert old < set(cells["code"])


def test_draw_a_village_with_a_small_cell_is_valid_with_a_warning(demo_engine: Engine) -> None:
    proposal = propose_layout(demo_engine, VILLAGE, method="draw")
    assert proposal.method == "draw" and len(proposal.cells) == 1
    assert proposal.cells["flags"].iloc[0] == ["below_min"]
    assert proposal.report.ok
    [finding] = proposal.report.findings
    assert finding.kind == "households_below_min" and finding.severity == "warning"
    assert "flagged 'below_min'" in finding.detail


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"method": "redraw"}, "InputError", r"`method` was 'redraw'"),
        ({"min_households": 600, "max_households": 500}, "InputError", r"min was 600 and max 500"),
    ],
)
def test_propose_refuses_bad_options(
    demo_engine: Engine, options: dict[str, Any], error: str, match: str
) -> None:
    with pytest.raises(ValueError, match=match) as info:
        propose_layout(demo_engine, COMMUNITY, **options)
    assert type(info.value).__name__ == error


def test_propose_on_an_unknown_community(demo_engine: Engine) -> None:
    with pytest.raises(NotFoundError, match="community '350304999999' does not exist"):
        propose_layout(demo_engine, "350304999999")


# --- drafts --------------------------------------------------------------------------------------


def test_publishing_a_draft_bumps_the_version(demo_engine: Engine) -> None:
    _grow(demo_engine)
    proposal = propose_layout(demo_engine, COMMUNITY, method="adjust")
    draft_id = save_draft(demo_engine, proposal, actor="王芳")

    draft = load_draft(demo_engine, draft_id)
    assert (draft.community_code, draft.method, draft.base_version) == (COMMUNITY, "adjust", 1)
    assert not draft.stale and draft.publishable and draft.created_by == "王芳"
    assert draft.cells["code"].tolist() == proposal.cells["code"].tolist()
    assert draft.cells["households"].tolist() == proposal.cells["households"].tolist()
    assert all(
        shapely.equals_exact(a, b, tolerance=0)
        for a, b in zip(draft.cells.geometry, proposal.cells.geometry, strict=True)
    )
    [listed] = drafts_of(demo_engine, COMMUNITY)
    assert listed["id"] == draft_id and listed["ok"] is True
    assert listed["cells"] == len(proposal.cells)

    preview = draft_diff(demo_engine, draft)
    old = set(read_inputs(demo_engine, COMMUNITY).cells["code"])
    assert preview.version == 2 and preview.retired == [] and set(preview.reshaped) == old
    assert sorted(preview.added) == sorted(set(proposal.cells["code"]) - old)
    assert layout_history(demo_engine, COMMUNITY)[-1]["version"] == 1  # the preview rolled back

    diff = publish_draft(demo_engine, draft_id, actor="王芳")
    assert diff.previous_version == 1 and diff.version == 2
    assert diff.added == preview.added and diff.retired == preview.retired
    assert diff.households_total == _total_households(demo_engine, COMMUNITY)
    history = layout_history(demo_engine, COMMUNITY)
    assert history[-1]["version"] == 2 and history[-1]["method"] == "adjust"
    assert history[-1]["published_by"] == "王芳" and history[-1]["note"] == f"draft {draft_id}"
    assert set(read_inputs(demo_engine, COMMUNITY).cells["code"]) == set(proposal.cells["code"])
    assert drafts_of(demo_engine, COMMUNITY) == []
    with pytest.raises(NotFoundError, match=f"draft {draft_id} does not exist"):
        publish_draft(demo_engine, draft_id, actor="test")


def test_a_stale_draft_is_refused_and_nothing_changes(demo_engine: Engine) -> None:
    _grow(demo_engine)
    first = save_draft(
        demo_engine, propose_layout(demo_engine, COMMUNITY, method="adjust"), actor="test"
    )
    second = save_draft(
        demo_engine, propose_layout(demo_engine, COMMUNITY, method="draw", seed=3), actor="test"
    )
    publish_draft(demo_engine, first, actor="test")
    assert load_draft(demo_engine, second).stale
    before = _snapshot(demo_engine)
    with pytest.raises(ConflictError, match=rf"draft {second} was computed from version 1") as info:
        publish_draft(demo_engine, second, actor="test")
    assert isinstance(info.value, StaleDraftError) and info.value.status == 409
    assert "now version 2" in str(info.value) and "nothing was published" in str(info.value)
    assert _snapshot(demo_engine) == before

    assert discard_drafts(demo_engine, COMMUNITY, stale_only=True, actor="test") == 1
    assert drafts_of(demo_engine, COMMUNITY) == []


def test_a_failed_publish_leaves_the_database_as_it_was(demo_engine: Engine) -> None:
    _grow(demo_engine)
    publish_draft(
        demo_engine,
        save_draft(
            demo_engine, propose_layout(demo_engine, COMMUNITY, method="adjust"), actor="test"
        ),
        actor="test",
    )
    # Retire one cell for good: a layout without it (its links left undecided, on purpose).
    cells = read_inputs(demo_engine, COMMUNITY).cells.rename_geometry("geometry")
    retired = sorted(cells["code"])[-1:]
    with demo_engine.begin() as conn:
        publish_cells(
            conn,
            COMMUNITY,
            cells[cells["code"] != retired[0]][["code", "geometry"]],
            method="edit",
            expected_version=None,
            actor="test",
            accept_unlinked=True,
        )
    # A draft at version 2 that would issue a retired code again: the database's trigger
    # refuses it in the middle of the publish (after the version row and the closed cells).
    proposal = propose_layout(demo_engine, COMMUNITY, method="draw", seed=7)
    draft_id = save_draft(demo_engine, proposal, actor="test")
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE layout_draft SET cells = jsonb_set(cells, "
                "'{features,0,properties,code}', to_jsonb(CAST(:code AS text))) WHERE id = :id"
            ),
            {"code": retired[0], "id": draft_id},
        )
    before = _snapshot(demo_engine)
    with pytest.raises(ConflictError, match=rf"refused draft {draft_id}.*retired"):
        publish_draft(demo_engine, draft_id, actor="test")
    with pytest.raises(ConflictError, match=rf"refused draft {draft_id}.*retired"):
        draft_diff(demo_engine, load_draft(demo_engine, draft_id))
    assert _snapshot(demo_engine) == before


def test_a_draft_with_validation_errors_is_not_published(
    demo_engine: Engine, tmp_path: Path
) -> None:
    cells = read_inputs(demo_engine, COMMUNITY).cells.rename_geometry("geometry")
    cells.loc[cells.index[0], "geometry"] = cells.geometry.iloc[0].buffer(0.001)  # overlaps
    path = tmp_path / "overlap.geojson"
    cells[["code", "geometry"]].to_file(path)
    proposal = propose_from_file(demo_engine, COMMUNITY, path)
    assert proposal.method == "import" and not proposal.report.ok
    draft_id = save_draft(demo_engine, proposal, actor="test")
    assert not load_draft(demo_engine, draft_id).publishable
    before = _snapshot(demo_engine)
    with pytest.raises(UnpublishableDraftError, match=r"validation error\(s\); nothing was"):
        publish_draft(demo_engine, draft_id, actor="test")
    assert _snapshot(demo_engine) == before


# --- layout files --------------------------------------------------------------------------------


def _current_cells(engine: Engine) -> gpd.GeoDataFrame:
    cells = read_inputs(engine, COMMUNITY).cells.rename_geometry("geometry")
    return cells[["code", "geometry"]].reset_index(drop=True)


def test_upload_geojson_reports_every_bad_feature(demo_engine: Engine, tmp_path: Path) -> None:
    cells = _current_cells(demo_engine)
    extra = gpd.GeoDataFrame(
        {"code": [f"{COMMUNITY}099", "350304002006001", cells["code"].iloc[0]]},
        geometry=[Point(119.03, 25.43), cells.geometry.iloc[0], cells.geometry.iloc[1]],
        crs="EPSG:4326",
    )
    path = tmp_path / "cells.geojson"
    gpd.GeoDataFrame(pd.concat([cells, extra], ignore_index=True), crs="EPSG:4326").to_file(path)
    with pytest.raises(ValidationError, match=r"cells.geojson: 4 of 5 features rejected") as info:
        propose_from_file(demo_engine, COMMUNITY, path)
    rows = {(p.row, p.reason) for p in info.value.problems}
    first = cells["code"].iloc[0]
    assert rows == {
        (1, "the code is also on row(s) 5"),
        (3, "a cell must be a polygon, not a Point"),
        (4, f"the code is not of community {COMMUNITY}"),
        (5, "the code is also on row(s) 1"),
    }
    assert {p.code for p in info.value.problems if p.row in (1, 5)} == {first}
    assert "row 3, code 350304002005099: a cell must be a polygon" in str(info.value)


def test_upload_zipped_shapefile_in_another_crs(demo_engine: Engine, tmp_path: Path) -> None:
    cells = _current_cells(demo_engine).to_crs("EPSG:4528")  # CGCS2000 Gauss-Krüger CM 120E
    folder = tmp_path / "shp"
    folder.mkdir()
    pyogrio.write_dataframe(cells, folder / "cells.shp")
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, part.name)
    proposal = propose_from_file(demo_engine, COMMUNITY, archive, name="网格.zip")
    assert proposal.cells.crs.to_epsg() == 4326
    assert proposal.cells["code"].tolist() == cells["code"].tolist()
    assert proposal.report.ok, proposal.report.lines()
    back = proposal.cells.to_crs("EPSG:4528")
    assert all(
        a.symmetric_difference(b).area < 1e-6 * b.area
        for a, b in zip(back.geometry, cells.geometry, strict=True)
    )
    # One bad feature (an invalid bow-tie polygon) is reported by its row.
    bad = cells.copy()
    x0, y0, x1, y1 = bad.geometry.iloc[1].bounds
    bad.loc[bad.index[1], "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    pyogrio.write_dataframe(bad, folder / "cells.shp")
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in folder.iterdir():
            zipped.write(part, part.name)
    with pytest.raises(ValidationError, match=r"网格.zip: 1 of 2 features rejected") as info:
        propose_from_file(demo_engine, COMMUNITY, archive, name="网格.zip")
    [problem] = info.value.problems
    assert problem.row == 2 and problem.code == cells["code"].iloc[1]
    assert problem.reason.startswith("invalid polygon: Self-intersection")


def test_upload_needs_a_crs_and_a_code(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=None)
    path = tmp_path / "cells.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        pyogrio.write_dataframe(frame, path)
    with pytest.raises(CRSError, match="does not say its coordinate system"):
        read_layout_file(path, COMMUNITY)
    with pytest.raises(ValueError, match=r"has no `code` column.*its columns are name"):
        read_layout_file(path, COMMUNITY, crs="wgs84")


def test_community_summaries(demo_engine: Engine) -> None:
    everything = community_summaries(demo_engine)
    assert len(everything) == 130
    [nanjiao] = community_summaries(demo_engine, search="南郊社区")
    assert (nanjiao.code, nanjiao.cells, nanjiao.version, nanjiao.drafts) == (COMMUNITY, 2, 1, 0)
    assert nanjiao.out_of_bounds == 0
    by_code = community_summaries(demo_engine, search=VILLAGE)
    assert [c.code for c in by_code] == [VILLAGE] and by_code[0].out_of_bounds == 1
    assert community_summaries(demo_engine, search="%") == []


# --- the CLI uses the same proposal --------------------------------------------------------------


def test_cli_and_library_publish_the_same_layout(demo_engine: Engine) -> None:
    _grow(demo_engine)
    proposal = propose_layout(demo_engine, COMMUNITY, method="adjust")
    [diff] = publish_many(
        demo_engine,
        [(COMMUNITY, proposal.cells[["code", "flags", "geometry"]], proposal.base_version)],
        method="adjust",
        dry_run=True,
        actor="test",
    )
    old = set(read_inputs(demo_engine, COMMUNITY).cells["code"])
    assert sorted(diff.added) == sorted(set(proposal.cells["code"]) - old)
    assert set(diff.reshaped) == old


# --- the web pages -------------------------------------------------------------------------------


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _routes(draft_id: int) -> list[tuple[str, str]]:
    base = f"/edit/{COMMUNITY}"
    return [
        ("GET", "/edit/"),
        ("GET", base),
        ("GET", f"{base}/drafts/{draft_id}"),
        ("POST", f"{base}/propose"),
        ("POST", f"{base}/upload"),
        ("POST", f"{base}/drafts/{draft_id}/publish"),
        ("POST", f"{base}/drafts/{draft_id}/discard"),
        ("POST", f"{base}/drafts/discard"),
    ]


def _a_draft(url: str) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        return save_draft(engine, propose_layout(engine, COMMUNITY, method="adjust"), actor="test")
    finally:
        engine.dispose()


@pytest.mark.parametrize(("role", "street"), [("analyst", None), ("street", "350304001")])
def test_analysts_and_other_streets_do_not_edit(
    client: FlaskClient, demo_engine: Engine, role: str, street: str | None
) -> None:
    draft_id = _a_draft(client.application.config["DATABASE_URL"])
    token = sign_in(client, role=role, street=street)
    before = _snapshot(demo_engine)
    for method, path in _routes(draft_id):
        data = {"csrf_token": token, "method": "draw"} if method == "POST" else None
        response = client.open(path, method=method, data=data)
        if role == "street" and path == "/edit/":
            # the list of its own street's communities, without this one
            assert response.status_code == 200
            assert COMMUNITY not in response.get_data(as_text=True)
            continue
        assert response.status_code == 403, (method, path)
    assert _snapshot(demo_engine) == before


def test_a_street_office_edits_the_cells_of_its_own_street(client: FlaskClient) -> None:
    token = sign_in(client, role="street", street=COMMUNITY[:9])
    listing = _page(client, "/edit/")
    assert COMMUNITY in listing and "350304001" not in listing
    assert "网格编辑" in listing  # in the navigation bar
    _page(client, f"/edit/{COMMUNITY}")
    response = client.post(
        f"/edit/{COMMUNITY}/propose", data={"csrf_token": token, "method": "adjust"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    draft_page = _page(client, response.headers["Location"])
    assert "edit-publish" in draft_page
    hand = client.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": token})
    assert hand.status_code == 302
    _page(client, hand.headers["Location"])


def test_anonymous_users_are_sent_to_the_login(client: FlaskClient) -> None:
    for method, path in _routes(1):
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/login?next=")


def test_posts_without_csrf_are_refused(client: FlaskClient, demo_engine: Engine) -> None:
    draft_id = _a_draft(client.application.config["DATABASE_URL"])
    sign_in(client)
    before = _snapshot(demo_engine)
    for method, path in _routes(draft_id):
        if method == "POST":
            assert client.post(path, data={"method": "draw"}).status_code == 400, path
    assert _snapshot(demo_engine) == before


def _page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _config(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="gridgis-config">(.*?)</script>', html)
    assert found
    return dict(json.loads(found.group(1)))


def test_the_map_marks_cells_whose_households_are_partly_estimated(
    client: FlaskClient, demo_engine: Engine
) -> None:
    sign_in(client)
    with demo_engine.begin() as conn:  # half the community's buildings counted by estimate
        conn.execute(
            text(
                "UPDATE building SET households_estimated = true WHERE community_code = :c "
                "AND id % 2 = 0"
            ),
            {"c": COMMUNITY},
        )
        estimated = conn.execute(
            text(
                "SELECT sum(households) FROM building WHERE community_code = :c "
                "AND households_estimated"
            ),
            {"c": COMMUNITY},
        ).scalar_one()
    current = _config(_page(client, f"/edit/{COMMUNITY}"))["current"]["features"]
    assert estimated > 0
    assert sum(f["properties"]["households_estimated"] for f in current) == estimated


def test_administrator_adjusts_previews_and_publishes(
    client: FlaskClient, demo_engine: Engine
) -> None:
    token = sign_in(client)
    with demo_engine.begin() as conn:
        conn.execute(
            text("UPDATE community SET name = :n WHERE code = :c"),
            {"n": '<img src=x onerror="alert(1)">社区', "c": COMMUNITY},
        )
    listing = _page(client, "/edit/?q=" + COMMUNITY)
    assert COMMUNITY in listing and VILLAGE not in listing
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;社区" in listing
    assert "<img src=x" not in listing

    page = _page(client, f"/edit/{COMMUNITY}")
    config = _config(page)
    assert config["mode"] == "community" and len(config["current"]["features"]) == 2
    assert 'name="csrf_token"' in page and "第 1 版" in page
    _grow(demo_engine)  # both cells now break the maximum of 500
    page = _page(client, f"/edit/{COMMUNITY}")
    current = _config(page)["current"]["features"]
    assert [f["properties"]["out_of_bounds"] for f in current] == [True, True]
    assert sum(f["properties"]["households"] for f in current) == _total_households(
        demo_engine, COMMUNITY
    )
    assert page.count('class="edit-tag"') == 2

    response = client.post(
        f"/edit/{COMMUNITY}/propose",
        data={"csrf_token": token, "method": "adjust", "seed": "0", "min": "", "max": ""},
    )
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    draft_id = int(preview_url.rsplit("/", 1)[1])
    assert preview_url == f"/edit/{COMMUNITY}/drafts/{draft_id}"
    preview = _page(client, preview_url)
    config = _config(preview)
    assert config["mode"] == "draft"
    # Both cells split: each keeps its code on its larger part (reshaped), the rest is new.
    assert {f["properties"]["status"] for f in config["current"]["features"]} == {"reshaped"}
    assert {f["properties"]["status"] for f in config["proposed"]["features"]} == {
        "added",
        "reshaped",
    }
    changes = preview.split('id="edit-cell-changes"')[1].split("</table>")[0]
    assert "调整边界（编码保留）" in changes and "新增" in changes
    assert re.search(r"\d+ → \d+", changes) and re.search(r"— → \d+", changes)
    assert "与当前网格的差异" in preview and "校验结果" in preview
    assert re.search(r"改变网格的户数</dt><dd>\d+ / \d+ 户", preview)
    assert "disabled" not in preview.split('id="edit-publish"')[1].split("</form>")[0]

    response = client.post(f"{preview_url}/publish", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/edit/{COMMUNITY}"
    page = _page(client, f"/edit/{COMMUNITY}")
    assert "已发布第 2 版" in page and 'data-version="2"' in page
    assert layout_history(demo_engine, COMMUNITY)[-1]["published_by"] == "admin"
    english = _page(client, f"/edit/{COMMUNITY}?lang=en")
    assert "Version history" in english and "Version 2" in english


def test_stale_publish_and_bad_upload_show_on_the_page(
    client: FlaskClient, demo_engine: Engine
) -> None:
    token = sign_in(client)
    _grow(demo_engine)
    stale = _a_draft(client.application.config["DATABASE_URL"])
    publish_draft(demo_engine, _a_draft(client.application.config["DATABASE_URL"]), actor="test")

    before = _snapshot(demo_engine)
    response = client.post(f"/edit/{COMMUNITY}/drafts/{stale}/publish", data={"csrf_token": token})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "未能发布" in html and "现为第 2 版，草案基于第 1 版" in html
    assert f"草案 {stale} 基于社区 {COMMUNITY} 的第 1 版网格计算" in html  # its own Chinese
    assert _snapshot(demo_engine) == before
    preview = _page(client, f"/edit/{COMMUNITY}/drafts/{stale}")
    assert "现为第 2 版，草案基于第 1 版" in preview
    assert "disabled" in preview.split('id="edit-publish"')[1].split("</form>")[0]

    broken = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": f"{COMMUNITY}050"},
                    "geometry": {"type": "Point", "coordinates": [119.03, 25.43]},
                },
                {
                    "type": "Feature",
                    "properties": {"code": "12"},
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[119.0, 25.4], [119.01, 25.4], [119.01, 25.41], [119.0, 25.4]]
                        ],
                    },
                },
            ],
        }
    ).encode()
    from io import BytesIO

    response = client.post(
        f"/edit/{COMMUNITY}/upload",
        data={"csrf_token": token, "crs": "", "file": (BytesIO(broken), "网格.geojson")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "未能生成草案" in html and "2 个要素中有 2 个被拒绝，未保存任何内容" in html
    assert "第 1 行" in html and "网格必须是多边形，而不是 Point" in html
    assert "第 2 行" in html and "网格编码应为 15 位数字" in html
    assert "features rejected" not in html and "a cell code" not in html
    english = client.post(
        f"/edit/{COMMUNITY}/upload?lang=en",
        data={"csrf_token": token, "crs": "", "file": (BytesIO(broken), "网格.geojson")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "2 of 2 features rejected" in english and "a cell code has 15 digits" in english
    client.get(f"/edit/{COMMUNITY}?lang=zh")  # back to Chinese for what follows
    response = client.post(
        f"/edit/{COMMUNITY}/upload",
        data={"csrf_token": token, "file": (BytesIO(b"x"), "cells.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "cells.csv 不是本页可读取的网格文件" in response.get_data(as_text=True)
    assert _snapshot(demo_engine) == before

    assert client.get(f"/edit/{VILLAGE}/drafts/{stale}").status_code == 404
    assert client.get("/edit/350304999999").status_code == 404
    response = client.post(f"/edit/{COMMUNITY}/drafts/discard", data={"csrf_token": token})
    assert response.status_code == 302
    assert drafts_of(demo_engine, COMMUNITY) == []


# --- in the browser ------------------------------------------------------------------------------


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as base:
        yield base


@pytest.mark.browser
def test_adjust_preview_and_publish_in_the_browser(
    live_server: str, demo_url: str, demo_engine: Engine
) -> None:
    require_chromium()
    add_test_user(demo_url, "editor", role="admin")
    _grow(demo_engine)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with watched_page(live_server) as (page, watch):
        log_in(page, live_server, "editor", TEST_PASSWORD, then=f"/edit/{COMMUNITY}")
        page.wait_for_selector("body[data-editing-drawn='true']")
        assert page.locator(".leaflet-overlay-pane path").count() >= 3  # outline and 2 cells
        assert page.locator("#map-status").inner_text() == "已显示 2 个网格"
        page.screenshot(path=str(SCREENSHOTS / "editing-community.png"))

        page.check("input[name=method][value=adjust]")
        page.click("#edit-propose button[type=submit]")
        page.wait_for_url(re.compile(rf".*/edit/{COMMUNITY}/drafts/\d+$"))
        page.wait_for_selector("body[data-editing-drawn='true']")
        assert page.locator(".leaflet-control-layers-overlays label").count() == 3
        n_new = page.locator(".edit-cells tbody tr").count()
        assert n_new >= 4
        assert page.locator("#map-status").inner_text() == f"已显示 {n_new} 个网格"
        page.screenshot(path=str(SCREENSHOTS / "editing-preview.png"))

        page.click("#edit-publish button[type=submit]")
        page.wait_for_url(f"{live_server}/edit/{COMMUNITY}")
        page.wait_for_selector("body[data-editing-drawn='true']")
        assert page.locator("#edit-history tr[data-version='2']").count() == 1
        assert "已发布第 2 版" in page.locator(".edit-flash").inner_text()
        assert page.locator("#edit-version").get_attribute("data-version") == "2"
    watch.assert_clean()


def test_the_community_list_is_paged_and_searched(client: FlaskClient, demo_engine: Engine) -> None:
    # Issue 18 (found as a new user): the edit index was one 13,444-px list of every
    # community of the district. It shows 25 to a page, with the search kept across pages.
    sign_in(client)
    total = len(community_summaries(demo_engine))
    assert total > 25
    first = _page(client, "/edit/")
    assert first.count('class="edit-code">3503') == 25 + first.count("<h2>")
    assert f"共 {total} 个社区" in first and 'rel="next"' in first and 'rel="prev"' not in first
    pages = -(-total // 25)
    last = _page(client, f"/edit/?page={pages}")
    assert 'rel="prev"' in last and 'rel="next"' not in last
    codes = re.compile(r'<td class="edit-code">(\d{12})</td>')
    past = _page(client, "/edit/?page=999")  # past the end: the last page
    assert codes.findall(past) == codes.findall(last)
    seen = set()
    for page in range(1, pages + 1):
        html = _page(client, f"/edit/?page={page}")
        seen |= set(codes.findall(html))
    assert len(seen) == total
    found = _page(client, "/edit/?q=南郊社区")
    assert "共 1 个社区" in found and "edit-pager" not in found
    assert _page(client, "/edit/?page=abc", status=400)


@pytest.mark.parametrize(
    ("name", "body", "said"),
    [
        (
            "cells.gpkg",
            b"not a geopackage",
            "无法读取 cells.gpkg：不是可识别的 GeoJSON、GeoPackage 或 Shapefile",
        ),
        ("cells.zip", b"PK\x03\x04 broken", "cells.zip 不是可以打开的 zip 压缩文件"),
        (
            "cells.geojson",
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},'
            b' "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}}]}',
            "cells.geojson 没有 code 列（每个网格的 15 位网格编码）；现有的列：无",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_told_in_the_users_words(
    client: FlaskClient, name: str, body: bytes, said: str
) -> None:
    # Issue 18 (found as a new user): GDAL's English words, naming drivers and paths,
    # appeared on the Chinese page.
    token = sign_in(client)
    response = client.post(
        f"/edit/{COMMUNITY}/upload",
        data={"csrf_token": token, "file": (BytesIO(body), name)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert said in html
    for internal in ("DRIVER", "It might help", "/tmp", "not recognized", "LinearRing"):
        assert internal not in html, internal
    english = client.post(
        f"/edit/{COMMUNITY}/upload?lang=en",
        data={"csrf_token": token, "file": (BytesIO(body), name)},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert name in english and said not in english and "DRIVER" not in english
