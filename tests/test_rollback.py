"""Rollback: an earlier layout published again, with the links as they were (issue 17, point 4)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shapely
from click.testing import CliRunner
from conftest import sign_in
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.db.layout import layout_history, publish_cells, read_inputs
from gridgis.db.rollback import rollback
from gridgis.errors import InputError, NotFoundError

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells, each with its grid worker and party branch."""


def _merge(engine: Engine, community: str) -> tuple[str, str]:
    cells = read_inputs(engine, community).cells.rename_geometry("geometry")
    cells = cells.sort_values("households", ascending=False).reset_index(drop=True)
    kept, gone = cells["code"].tolist()[:2]
    merged = cells[cells["code"] != gone][["code", "geometry"]].copy()
    merged.loc[merged["code"] == kept, "geometry"] = shapely.union(
        cells.geometry[0], cells.geometry[1]
    )
    with engine.begin() as conn:
        publish_cells(conn, community, merged, method="edit", expected_version=None, actor="t")
    return kept, gone


def _links(engine: Engine, community: str) -> set[tuple[str, int, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT 'worker' AS k, worker_id AS o, c.code, c.valid_to IS NULL AS live "
                "FROM worker_cell JOIN grid_cell c ON c.id = cell_id WHERE c.community_code = :c "
                "UNION ALL SELECT 'branch', branch_id, c.code, c.valid_to IS NULL "
                "FROM branch_cell JOIN grid_cell c ON c.id = cell_id WHERE c.community_code = :c"
            ),
            {"c": community},
        )
        return {(r.k, r.o, r.code, r.live) for r in rows}


def _shapes(engine: Engine, community: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, ST_AsText(ST_Normalize(geom)) AS g FROM grid_cell "
                "WHERE community_code = :c AND valid_to IS NULL"
            ),
            {"c": community},
        )
        return {r.code: r.g for r in rows}


def test_rollback_restores_the_earlier_codes_shapes_and_links(demo_engine: Engine) -> None:
    links, shapes = _links(demo_engine, COMMUNITY), _shapes(demo_engine, COMMUNITY)
    assert len({(k, o) for k, o, _, _ in links}) >= 4  # a worker and a branch per cell
    kept, gone = _merge(demo_engine, COMMUNITY)
    assert {code for *_, code, live in links} == {kept, gone}
    merged = _links(demo_engine, COMMUNITY)
    assert all(code == kept for _, _, code, live in merged if live)

    preview = rollback(demo_engine, COMMUNITY, actor="t", dry_run=True)
    assert preview[0].added == [gone] and _links(demo_engine, COMMUNITY) == merged
    [diff] = rollback(demo_engine, COMMUNITY, actor="cli:t")
    assert diff.version == 3 and diff.added == [gone] and diff.reshaped == [kept]
    assert _shapes(demo_engine, COMMUNITY) == shapes
    assert {(k, o, c) for k, o, c, live in _links(demo_engine, COMMUNITY) if live} == {
        (k, o, c) for k, o, c, _ in links
    }
    history = layout_history(demo_engine, COMMUNITY)
    assert [h["method"] for h in history] == ["draw", "edit", "rollback"]
    assert history[-1]["note"] == "rollback to version 1"


def test_a_street_rollback_touches_only_the_communities_of_its_last_change(
    demo_engine: Engine,
) -> None:
    others = "350304002001"
    cells = read_inputs(demo_engine, others).cells.rename_geometry("geometry")
    cells["geometry"] = shapely.buffer(cells.geometry.values, 1e-5)  # an earlier change
    with demo_engine.begin() as conn:
        publish_cells(
            conn,
            others,
            cells[["code", "geometry"]],
            method="edit",
            expected_version=None,
            actor="t",
        )
    _, gone = _merge(demo_engine, COMMUNITY)  # the last change
    other_shapes = _shapes(demo_engine, others)
    [diff] = rollback(demo_engine, "350304002", actor="t")
    assert diff.community_code == COMMUNITY and gone in _shapes(demo_engine, COMMUNITY)
    assert _shapes(demo_engine, others) == other_shapes


def test_bad_rollbacks_are_refused_and_change_nothing(demo_engine: Engine) -> None:
    with pytest.raises(InputError, match="only version 1"):
        rollback(demo_engine, COMMUNITY, actor="t")
    _merge(demo_engine, COMMUNITY)
    with pytest.raises(InputError, match="`--to` was 2 but is expected to be an earlier version"):
        rollback(demo_engine, COMMUNITY, to_version=2, actor="t")
    with pytest.raises(InputError, match="give it with --community"):
        rollback(demo_engine, "350304002", to_version=1, actor="t")
    with pytest.raises(NotFoundError, match="no community in 350304999"):
        rollback(demo_engine, "350304999", actor="t")
    assert len(layout_history(demo_engine, COMMUNITY)) == 2


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def test_the_cli_rolls_back(demo_env: str, demo_engine: Engine) -> None:
    _merge(demo_engine, COMMUNITY)
    runner = CliRunner()
    dry = runner.invoke(main, ["cells", "rollback", "--community", COMMUNITY, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would roll back 1 of 1 communities (dry run" in dry.output
    done = runner.invoke(main, ["cells", "rollback", "--community", COMMUNITY, "--to", "1"])
    assert done.exit_code == 0, done.output
    assert "version 2 -> 3" in done.output and "moved back to their cells" in done.output
    refused = runner.invoke(main, ["cells", "rollback", "--street", "350304002", "--to", "1"])
    assert refused.exit_code != 0 and "--community" in refused.output


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def test_the_rollback_button_asks_for_confirmation_then_rolls_back(
    client: FlaskClient, demo_engine: Engine
) -> None:
    token = sign_in(client)
    page = client.get(f"/edit/{COMMUNITY}").get_data(as_text=True)
    assert 'id="edit-rollback"' not in page  # one version: nothing to go back to
    _, gone = _merge(demo_engine, COMMUNITY)
    page = client.get(f"/edit/{COMMUNITY}").get_data(as_text=True)
    assert 'id="edit-rollback"' in page and "确认回退到第 1 版" in page
    unconfirmed = client.post(f"/edit/{COMMUNITY}/rollback", data={"csrf_token": token})
    assert unconfirmed.status_code == 400
    assert "请先勾选确认" in unconfirmed.get_data(as_text=True)
    assert len(layout_history(demo_engine, COMMUNITY)) == 2
    done = client.post(f"/edit/{COMMUNITY}/rollback", data={"csrf_token": token, "confirm": "1"})
    assert done.status_code == 302
    page = client.get(f"/edit/{COMMUNITY}").get_data(as_text=True)
    assert "已回退：第 3 版" in page and "回退" in page
    assert gone in _shapes(demo_engine, COMMUNITY)
    street = FlaskClient(client.application, use_cookies=True)
    street_token = sign_in(street, role="street", street="350304001")
    refused = street.post(
        f"/edit/{COMMUNITY}/rollback", data={"csrf_token": street_token, "confirm": "1"}
    )
    assert refused.status_code == 403  # another street's layouts are not this office's
    assert len(layout_history(demo_engine, COMMUNITY)) == 3


def test_a_refused_rollback_is_told_in_the_page_language(client: FlaskClient) -> None:
    token = sign_in(client)
    form = {"csrf_token": token, "confirm": "1"}
    chinese = client.post(f"/edit/{COMMUNITY}/rollback", data=form).get_data(as_text=True)
    assert f"社区 {COMMUNITY} 只有第 1 版：没有更早的网格可以回退" in chinese
    assert "only version 1" not in chinese
    english = client.post(f"/edit/{COMMUNITY}/rollback?lang=en", data=form)
    assert "has only version 1: there is no earlier layout" in english.get_data(as_text=True)
