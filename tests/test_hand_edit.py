"""Editing cells by hand: the pure operations, the undoable steps on a draft, the API."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import sign_in
from flask.testing import FlaskClient
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text

from gridgis.editing import draft_diff, load_draft, publish_draft
from gridgis.editing.hand import apply_edit, draft_cells, edit_steps, start_hand_edit, undo_edit
from gridgis.errors import InputError, NotFoundError
from gridgis.partition.hand import (
    HandEditError,
    cell_of_buildings,
    merge_cells,
    move_buildings,
    new_code,
    reshape_cell,
    split_by_buildings,
    split_by_line,
)

UTM = "EPSG:32650"
"""Metres around Putian (the demo's district) for building the synthetic layouts."""
X0, Y0 = 700_000.0, 2_700_000.0
PREFIX = "350304001001"
A, B, C = (f"{PREFIX}{n:03d}" for n in (1, 2, 3))

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells of about 400 households (bounds 300–500)."""


# --- the pure operations on a synthetic community -----------------------------------------------


def _layout(*, far: bool = False) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Two 200 m squares side by side (A west, B east), each with 4×4 buildings of 10
    households; ``far`` adds a cell C 1 km away with 4 buildings."""
    squares = [(A, box(X0, Y0, X0 + 200, Y0 + 200)), (B, box(X0 + 200, Y0, X0 + 400, Y0 + 200))]
    if far:
        squares.append((C, box(X0 + 1400, Y0, X0 + 1600, Y0 + 200)))
    cells = gpd.GeoDataFrame(
        {"code": [c for c, _ in squares]}, geometry=[g for _, g in squares], crs=UTM
    )
    points = []
    for _, square in squares:
        x, y = square.bounds[:2]
        step = 4 if square.area > 0 and len(points) < 32 else 2
        for i in range(step):
            for j in range(step):
                points.append(Point(x + 25 + 50 * i * 4 / step, y + 25 + 50 * j * 4 / step))
    buildings = gpd.GeoDataFrame(
        {"households": [10] * len(points)},
        geometry=[p.buffer(6, quad_segs=2) for p in points],
        index=range(101, 101 + len(points)),
        crs=UTM,
    )
    return cells.to_crs(4326), buildings.to_crs(4326)


def _households(cells: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> dict[str, int]:
    holder = cell_of_buildings(cells, buildings)
    codes = list(cells["code"])
    out = {code: 0 for code in codes}
    for k, h in zip(holder, buildings["households"], strict=True):
        assert k >= 0, "every building lies in a cell"
        out[codes[k]] += int(h)
    return out


def _area_m2(cells: gpd.GeoDataFrame) -> float:
    return float(cells.to_crs(UTM).geometry.area.sum())


def _assert_tiles(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> None:
    """The cells after an edit cover what they covered before, without overlap."""
    a = before.to_crs(UTM).geometry
    b = after.to_crs(UTM).geometry
    assert abs(float(b.area.sum()) - float(a.area.sum())) < 1.0
    union_before = shapely.union_all(a.to_numpy())
    union_after = shapely.union_all(b.to_numpy())
    assert shapely.symmetric_difference(union_before, union_after).area < 1.0
    assert all(g.is_valid and g.geom_type in ("Polygon", "MultiPolygon") for g in b)


def _west_column(buildings: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, code: str) -> list[int]:
    """Ids of the buildings of ``code`` nearest its east edge (the column by the border)."""
    holder = cell_of_buildings(cells, buildings)
    position = list(cells["code"]).index(code)
    members = buildings[holder == position].to_crs(UTM)
    x = members.geometry.centroid.x
    return list(members.index[np.isclose(x, x.max())])


def test_moving_a_column_of_buildings_gives_their_ground_to_the_neighbour() -> None:
    cells, buildings = _layout()
    column = _west_column(buildings, cells, A)
    assert len(column) == 4
    moved = move_buildings(cells, buildings, column, B)
    assert _households(moved, buildings) == {A: 120, B: 200}
    _assert_tiles(cells, moved)
    # the input is left alone
    assert _households(cells, buildings) == {A: 160, B: 160}
    # the new boundary runs half-way between the columns, 25 m west of the old one
    a_east = moved.to_crs(UTM).geometry.iloc[0].bounds[2]
    assert a_east == pytest.approx(X0 + 150, abs=2.0)


def test_moving_every_building_of_a_cell_removes_the_cell() -> None:
    cells, buildings = _layout()
    holder = cell_of_buildings(cells, buildings)
    everything = list(buildings.index[holder == 0])
    moved = move_buildings(cells, buildings, everything, B)
    assert list(moved["code"]) == [B]
    assert _households(moved, buildings) == {B: 320}
    _assert_tiles(cells, moved)


@pytest.mark.parametrize(
    ("ids", "to", "reason"),
    [
        ([999], B, "unknown_building"),
        ([101], "350304001001099", "unknown_cell"),
        ([], B, "nothing_to_move"),
    ],
)
def test_a_move_that_cannot_be_made_says_why(ids: list[int], to: str, reason: str) -> None:
    cells, buildings = _layout()
    b_ids = _west_column(buildings, cells, B)
    with pytest.raises(HandEditError) as info:
        move_buildings(cells, buildings, ids or b_ids, to)
    assert info.value.reason == reason
    assert isinstance(info.value, InputError)


def test_a_building_in_no_cell_cannot_be_moved() -> None:
    cells, buildings = _layout()
    outside = gpd.GeoDataFrame(
        {"households": [5]}, geometry=[Point(X0 - 500, Y0).buffer(5)], index=[900], crs=UTM
    ).to_crs(4326)
    both = gpd.GeoDataFrame(
        gpd.pd.concat([buildings, outside]), geometry="geometry", crs=buildings.crs
    )
    with pytest.raises(HandEditError) as info:
        move_buildings(cells, both, [900], B)
    assert info.value.reason == "building_outside"
    assert info.value.values["ids"] == [900]


def test_merging_neighbours_keeps_the_first_code_and_all_the_ground() -> None:
    cells, buildings = _layout(far=True)
    merged = merge_cells(cells, B, A)
    assert sorted(merged["code"]) == [B, C]
    assert _households(merged, buildings)[B] == 320
    _assert_tiles(cells, merged)
    assert merged.to_crs(UTM).geometry.iloc[0].geom_type == "Polygon"


@pytest.mark.parametrize(("into", "other", "reason"), [(A, C, "not_adjacent"), (A, A, "same_cell")])
def test_a_merge_of_cells_that_do_not_touch_is_refused(into: str, other: str, reason: str) -> None:
    cells, _ = _layout(far=True)
    with pytest.raises(HandEditError) as info:
        merge_cells(cells, into, other)
    assert info.value.reason == reason


def test_a_line_splits_a_cell_the_smaller_side_becomes_a_new_cell() -> None:
    cells, buildings = _layout()
    # a north–south line 60 m into A: one column (40 households) west of it
    line = gpd.GeoSeries([LineString([(X0 + 60, Y0 - 10), (X0 + 60, Y0 + 210)])], crs=UTM)
    used = [A, B, f"{PREFIX}004"]  # 004 was issued once and retired: never reused
    out, fresh = split_by_line(
        cells, buildings, line.to_crs(4326).iloc[0], code=A, used_codes=used, prefix=PREFIX
    )
    assert fresh == f"{PREFIX}005"
    assert _households(out, buildings) == {A: 120, B: 160, fresh: 40}
    _assert_tiles(cells, out)


def test_a_line_that_does_not_cross_the_cell_is_refused() -> None:
    cells, buildings = _layout()
    inside = gpd.GeoSeries([LineString([(X0 + 60, Y0 + 50), (X0 + 60, Y0 + 150)])], crs=UTM)
    with pytest.raises(HandEditError) as info:
        split_by_line(
            cells, buildings, inside.to_crs(4326).iloc[0], code=A, used_codes=[], prefix=PREFIX
        )
    assert info.value.reason == "line_misses"


def test_splitting_by_buildings_needs_buildings_on_both_sides() -> None:
    cells, buildings = _layout()
    holder = cell_of_buildings(cells, buildings)
    of_a = list(buildings.index[holder == 0])
    out, fresh = split_by_buildings(
        cells, buildings, of_a[:3], code=A, used_codes=[A, B], prefix=PREFIX
    )
    assert fresh == C
    assert _households(out, buildings) == {A: 130, B: 160, C: 30}
    _assert_tiles(cells, out)
    for chosen in (of_a, [999]):
        with pytest.raises(HandEditError) as info:
            split_by_buildings(cells, buildings, chosen, code=A, used_codes=[], prefix=PREFIX)
        assert info.value.reason == "empty_side"


def test_reshaping_a_cell_gives_the_ground_it_leaves_to_its_neighbour() -> None:
    cells, buildings = _layout()
    community = shapely.union_all(cells.geometry.to_numpy())
    smaller = gpd.GeoSeries([box(X0, Y0, X0 + 140, Y0 + 200)], crs=UTM).to_crs(4326).iloc[0]
    out = reshape_cell(cells, A, smaller, community=community)
    assert _households(out, buildings) == {A: 120, B: 200}
    _assert_tiles(cells, out)
    # growing it back takes the ground from B again
    out_back = reshape_cell(
        out,
        A,
        gpd.GeoSeries([box(X0, Y0, X0 + 200, Y0 + 200)], crs=UTM).to_crs(4326).iloc[0],
        community=community,
    )
    assert _households(out_back, buildings) == {A: 160, B: 160}
    _assert_tiles(cells, out_back)
    far_away = gpd.GeoSeries([box(X0 + 5000, Y0, X0 + 5100, Y0 + 100)], crs=UTM).to_crs(4326)
    with pytest.raises(HandEditError) as info:
        reshape_cell(cells, A, far_away.iloc[0], community=community)
    assert info.value.reason == "empty_outline"


def test_new_codes_are_never_reused() -> None:
    assert new_code(PREFIX, [A, f"{PREFIX}007"]) == f"{PREFIX}008"
    assert new_code(PREFIX, []) == A


# --- steps on a draft of the demo district ------------------------------------------------------


def _cell_buildings(engine: Engine, draft_id: int) -> tuple[gpd.GeoDataFrame, Any, list[str]]:
    """The draft's cells, and for each of the community's buildings the position of its cell."""
    from gridgis.db.layout import read_inputs

    cells = draft_cells(engine, draft_id)
    buildings = read_inputs(engine, COMMUNITY).buildings.rename_geometry("geometry")
    return buildings, cell_of_buildings(cells, buildings), [str(c) for c in cells["code"]]


def _border_buildings(engine: Engine, draft_id: int, source: str, target: str) -> list[int]:
    """The buildings of cell ``source`` nearest cell ``target``, as few as make a move that
    carries households and leaves ``target`` in one piece."""
    cells = draft_cells(engine, draft_id)
    buildings, holder, codes = _cell_buildings(engine, draft_id)
    members = buildings[holder == codes.index(source)]
    other = cells.to_crs(UTM).geometry.iloc[codes.index(target)]
    nearest = list(members.to_crs(UTM).geometry.distance(other).sort_values().index)
    for k in range(1, 40):
        ids = [int(b) for b in nearest[:k]]
        if not members.loc[ids, "households"].sum():
            continue
        moved = move_buildings(cells, buildings, ids, target)
        if shapely.get_num_geometries(moved.geometry.iloc[codes.index(target)]) == 1:
            return ids
    raise AssertionError(f"no buildings of cell {source} border cell {target}")


def _snapshot(engine: Engine, draft_id: int) -> tuple[Any, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT d.cells::text, d.report::text, "
                    "(SELECT count(*) FROM layout_draft_step s WHERE s.draft_id = d.id) "
                    "FROM layout_draft d WHERE d.id = :id"
                ),
                {"id": draft_id},
            ).one()
        )


def test_hand_edits_on_a_draft_are_judged_undone_and_published(demo_engine: Engine) -> None:
    draft_id = start_hand_edit(demo_engine, COMMUNITY, actor="editor")
    start = draft_cells(demo_engine, draft_id)
    one, two = sorted(start["code"])
    households = dict(zip(start["code"], start["households"], strict=True))
    assert load_draft(demo_engine, draft_id).method == "edit"

    # move the buildings of cell two nearest cell one
    moved = _border_buildings(demo_engine, draft_id, two, one)
    buildings, _, _ = _cell_buildings(demo_engine, draft_id)
    weight = int(buildings.loc[moved, "households"].sum())
    apply_edit(demo_engine, draft_id, "move", {"buildings": moved, "to": one}, actor="editor")
    after = draft_cells(demo_engine, draft_id)
    now = dict(zip(after["code"], after["households"], strict=True))
    assert now == {one: households[one] + weight, two: households[two] - weight}

    # a refused edit changes nothing
    before = _snapshot(demo_engine, draft_id)
    with pytest.raises(HandEditError) as info:
        apply_edit(demo_engine, draft_id, "merge", {"into": one, "other": one}, actor="editor")
    assert info.value.reason == "same_cell"
    with pytest.raises(InputError):
        apply_edit(demo_engine, draft_id, "move", {"buildings": "all", "to": one}, actor="editor")
    assert _snapshot(demo_engine, draft_id) == before

    # merge: one cell of all households, over the maximum (500): a live finding
    apply_edit(demo_engine, draft_id, "merge", {"into": one, "other": two}, actor="editor")
    merged = load_draft(demo_engine, draft_id)
    assert list(merged.cells["code"]) == [one]
    assert int(merged.cells["households"].iloc[0]) == households[one] + households[two]
    kinds = {(f["kind"], f.get("code")) for f in merged.report["findings"]}
    assert ("households_above_max", one) in kinds
    assert not merged.publishable

    # split the merged cell by a north–south line through its middle
    outline = merged.cells.to_crs(UTM).geometry.iloc[0]
    xmin, ymin, xmax, ymax = outline.bounds
    middle = (xmin + xmax) / 2
    line = gpd.GeoSeries([LineString([(middle, ymin - 50), (middle, ymax + 50)])], crs=UTM)
    coords = [list(c) for c in line.to_crs(4326).iloc[0].coords]
    apply_edit(demo_engine, draft_id, "split", {"code": one, "line": coords}, actor="editor")
    split = draft_cells(demo_engine, draft_id)
    assert len(split) == 2
    fresh = next(c for c in split["code"] if c != one)
    assert fresh not in (one, two)  # a new code, never a retired one
    assert int(split["households"].sum()) == households[one] + households[two]
    steps = edit_steps(demo_engine, draft_id)
    assert [s.action for s in steps] == ["move", "merge", "split"]
    assert steps[-1].params["new_code"] == fresh

    # undo step by step: back to the move, then to the start
    assert undo_edit(demo_engine, draft_id, actor="editor").action == "split"
    assert list(draft_cells(demo_engine, draft_id)["code"]) == [one]
    undo_edit(demo_engine, draft_id, actor="editor")
    back = draft_cells(demo_engine, draft_id)
    assert dict(zip(back["code"], back["households"], strict=True)) == now
    undo_edit(demo_engine, draft_id, actor="editor")
    assert draft_cells(demo_engine, draft_id)["households"].tolist() == start["households"].tolist()
    with pytest.raises(NotFoundError):
        undo_edit(demo_engine, draft_id, actor="editor")

    # redo the move and publish: codes kept, one building changed cell
    apply_edit(demo_engine, draft_id, "move", {"buildings": moved, "to": one}, actor="editor")
    assert load_draft(demo_engine, draft_id).publishable
    diff = draft_diff(demo_engine, load_draft(demo_engine, draft_id))
    assert sorted(diff.reshaped) == [one, two] and not diff.added and not diff.retired
    assert diff.households_moved == weight
    published = publish_draft(demo_engine, draft_id, actor="editor")
    assert published.version == published.previous_version + 1
    assert published.households_moved == weight
    with demo_engine.connect() as conn:
        cells_now = {
            r.code
            for r in conn.execute(
                text(
                    "SELECT g.code FROM building b JOIN grid_cell g ON g.valid_to IS NULL "
                    "AND ST_Intersects(g.geom, b.location) WHERE b.id = ANY(:ids)"
                ),
                {"ids": moved},
            )
        }
        audit = [
            r.action
            for r in conn.execute(
                text(
                    "SELECT action FROM audit_log WHERE object_type = 'draft' "
                    "AND object_id = :id ORDER BY id"
                ),
                {"id": str(draft_id)},
            )
        ]
    assert cells_now == {one}
    assert audit.count("edit") == 4 and audit.count("undo") == 3


# --- the editor's pages and API -----------------------------------------------------------------


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _post(client: FlaskClient, url: str, token: str, body: Any = None) -> Any:
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": token})


def test_the_editor_api_edits_judges_in_chinese_and_undoes(client: FlaskClient) -> None:
    token = sign_in(client, role="admin")
    response = client.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    editor = response.headers["Location"]
    draft_id = int(editor.rstrip("/").split("/")[-2])
    page = client.get(editor)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "leaflet-geoman" in html and "hand_edit.js" in html

    state = client.get(f"/api/drafts/{draft_id}/edit").get_json()
    assert state["ok"] and state["bounds"] == [300, 500] and not state["steps"]
    cells = {f["properties"]["code"]: f["properties"] for f in state["cells"]["features"]}
    one, two = sorted(cells)
    assert cells[one]["name"] == "南郊社区第1网格"
    assert {f["properties"]["cell"] for f in state["buildings"]["features"]} == {one, two}

    # a refused edit: 400 in Chinese, naming the cell by code and name, nothing changed
    refused = _post(
        client,
        f"/api/drafts/{draft_id}/steps",
        token,
        {"action": "merge", "into": one, "other": one},
    )
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "same_cell"
    assert error["message"].startswith(f"不能把网格 {one}（{cells[one]['name']}）")
    assert error["message"].endswith("与自身合并")
    assert client.get(f"/api/drafts/{draft_id}/edit").get_json()["steps"] == []

    # merge: the live finding names the cell and the bound
    merged = _post(
        client,
        f"/api/drafts/{draft_id}/steps",
        token,
        {"action": "merge", "into": one, "other": two},
    )
    assert merged.status_code == 200, merged.get_data(as_text=True)
    after = merged.get_json()
    assert not after["ok"]
    total = cells[one]["households"] + cells[two]["households"]
    texts = [f["text"] for f in after["findings"] if f["kind"] == "households_above_max"]
    assert len(texts) == 1
    assert f"网格 {one}（{cells[one]['name']}）" in texts[0]
    assert texts[0].endswith(f"有 {total} 户，超过上限 500 户")
    steps = [s["text"] for s in after["steps"]]
    assert len(steps) == 1 and steps[0].startswith(f"把网格 {two}（{cells[two]['name']}）")
    assert [f["properties"]["out_of_bounds"] for f in after["cells"]["features"]] == [True]

    # the draft page shows the findings in Chinese too
    draft_page = client.get(f"/edit/{COMMUNITY}/drafts/{draft_id}").get_data(as_text=True)
    assert "超过上限 500 户" in draft_page and "households_above_max:" not in draft_page

    undone = _post(client, f"/api/drafts/{draft_id}/undo", token)
    assert undone.status_code == 200
    assert undone.get_json()["ok"] and not undone.get_json()["steps"]
    nothing = _post(client, f"/api/drafts/{draft_id}/undo", token)
    assert nothing.status_code == 404
    assert _post(client, "/api/drafts/999999/steps", token, {"action": "merge"}).status_code == 404
    # ids beyond the column's range are drafts that do not exist, not a database error
    assert client.get(f"/api/drafts/{2**63}/edit").status_code == 404
    assert client.get(f"/edit/{COMMUNITY}/drafts/{2**31}").status_code == 404
    malformed = _post(client, f"/api/drafts/{draft_id}/steps", token, {"action": "paint"})
    assert malformed.status_code == 422  # the body does not match the schema
    # without the CSRF token, nothing is done
    assert client.post(f"/api/drafts/{draft_id}/undo", json={}).status_code in (400, 403)


@pytest.mark.parametrize(("role", "street"), [("analyst", None), ("street", "350304001")])
def test_analysts_and_other_streets_do_not_edit_by_hand(
    client: FlaskClient, role: str, street: str | None
) -> None:
    admin = client.application.test_client()
    admin_token = sign_in(admin, role="admin")
    response = admin.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": admin_token})
    draft_id = int(response.headers["Location"].rstrip("/").split("/")[-2])
    token = sign_in(client, role=role, street=street)
    assert client.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/edit/{COMMUNITY}/drafts/{draft_id}/hand").status_code == 403
    assert client.get(f"/api/drafts/{draft_id}/edit").status_code == 403
    assert _post(client, f"/api/drafts/{draft_id}/undo", token).status_code == 403
    merge = {"action": "merge", "into": "350304002005001", "other": "350304002005002"}
    assert _post(client, f"/api/drafts/{draft_id}/steps", token, merge).status_code == 403


def test_the_street_office_edits_by_hand_within_its_street(client: FlaskClient) -> None:
    token = sign_in(client, role="street", street=COMMUNITY[:9])
    response = client.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    draft_id = int(response.headers["Location"].rstrip("/").split("/")[-2])
    state = client.get(f"/api/drafts/{draft_id}/edit").get_json()
    one, two = sorted(f["properties"]["code"] for f in state["cells"]["features"])
    merged = _post(
        client,
        f"/api/drafts/{draft_id}/steps",
        token,
        {"action": "merge", "into": one, "other": two},
    )
    assert merged.status_code == 200
    assert [s["created_by"] for s in merged.get_json()["steps"]] == [f"street-{COMMUNITY[:9]}"]


def _start(client: FlaskClient, token: str) -> tuple[int, dict[str, Any]]:
    response = client.post(f"/edit/{COMMUNITY}/hand", data={"csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    draft_id = int(response.headers["Location"].rstrip("/").split("/")[-2])
    return draft_id, client.get(f"/api/drafts/{draft_id}/edit").get_json()


def _counts(state: dict[str, Any]) -> dict[str, int]:
    return {
        f["properties"]["code"]: f["properties"]["households"] for f in state["cells"]["features"]
    }


def test_splitting_by_chosen_buildings_and_reshaping_through_the_api(client: FlaskClient) -> None:
    token = sign_in(client, role="admin")
    draft_id, state = _start(client, token)
    before = _counts(state)
    one, two = sorted(before)
    # three buildings of cell two with households make a new cell
    of_two = [
        f["properties"]
        for f in state["buildings"]["features"]
        if f["properties"]["cell"] == two and f["properties"]["households"] > 0
    ][:3]
    chosen = [p["id"] for p in of_two]
    split = _post(
        client,
        f"/api/drafts/{draft_id}/steps",
        token,
        {"action": "split", "code": two, "buildings": chosen},
    )
    assert split.status_code == 200, split.get_data(as_text=True)
    after = split.get_json()
    fresh = after["steps"][-1]["text"].rsplit("新网格 ", 1)[-1].split("（")[0]
    counts = _counts(after)
    assert set(counts) == {one, two, fresh}
    assert counts[fresh] == sum(p["households"] for p in of_two)
    assert counts[two] == before[two] - counts[fresh] and counts[one] == before[one]
    assert {f["properties"]["id"] for f in after["buildings"]["features"]
            if f["properties"]["cell"] == fresh} == set(chosen)  # fmt: skip
    # the new cell is far below the minimum: said at once
    assert any(
        f["kind"] == "households_below_min" and f["code"] == fresh for f in after["findings"]
    )
    _post(client, f"/api/drafts/{draft_id}/undo", token)

    # reshape: cell one takes a band of its neighbour holding its nearest building
    cells = gpd.GeoDataFrame.from_features(state["cells"]["features"], crs=4326).to_crs(UTM)
    outline = gpd.GeoSeries([shapely.geometry.shape(state["outline"])], crs=4326)
    houses = gpd.GeoDataFrame.from_features(state["buildings"]["features"], crs=4326).to_crs(UTM)
    near = houses[(houses["cell"] == two) & (houses["households"] > 0)]
    first = cells.set_index("code").geometry[one]
    reach = float(near.geometry.representative_point().distance(first).min())
    grown = first.buffer(reach + 10)
    grown = grown.intersection(outline.to_crs(UTM).iloc[0])
    ring = gpd.GeoSeries([shapely.Polygon(max(shapely.get_parts(grown), key=lambda g: g.area)
                                          .exterior)], crs=UTM).to_crs(4326).iloc[0]  # fmt: skip
    reshaped = _post(
        client,
        f"/api/drafts/{draft_id}/steps",
        token,
        {"action": "reshape", "code": one, "outline": [list(c) for c in ring.exterior.coords]},
    )
    assert reshaped.status_code == 200, reshaped.get_data(as_text=True)
    state_after = reshaped.get_json()
    counts = _counts(state_after)
    assert set(counts) == {one, two}
    assert counts[one] > before[one] and counts[one] + counts[two] == before[one] + before[two]
    assert state_after["steps"][-1]["text"].startswith(f"修改网格 {one}")
    assert not [f for f in state_after["findings"] if f["kind"] in ("gap", "overlap")]
