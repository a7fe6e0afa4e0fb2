"""A redraw keeps what people built on the cells: codes, workers' and party organisations' links
(issue 17, points 1–3), through the same calls as `gridgis cells draw|adjust`."""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.db.continuity import UnlinkedError
from gridgis.db.engine import dispose_engines
from gridgis.db.layout import LayoutDiff, publish_cells, read_inputs
from gridgis.redraw import redraw

STREET = "350304002"
"""A street of the small demo whose communities hold one or two cells each."""


def _boost(engine: Engine, street: str, factor: int = 12) -> None:
    """Multiply the street's households so that each community needs several cells."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE building SET households = households * :f WHERE community_code LIKE :s"),
            {"f": factor, "s": f"{street}%"},
        )


def _active(engine: Engine, street: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT code, id FROM grid_cell WHERE valid_to IS NULL AND community_code LIKE :s"
            ),
            {"s": f"{street}%"},
        )
        return {r.code: r.id for r in rows}


def _links(engine: Engine, street: str) -> set[tuple[str, int, str]]:
    """(kind, owner id, cell code) of every worker and organisation link in the street."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT 'worker' AS k, worker_id AS o, c.code, c.valid_to IS NULL AS live "
                "FROM worker_cell JOIN grid_cell c ON c.id = cell_id WHERE c.code LIKE :s "
                "UNION ALL SELECT 'branch', branch_id, c.code, c.valid_to IS NULL "
                "FROM branch_cell JOIN grid_cell c ON c.id = cell_id WHERE c.code LIKE :s"
            ),
            {"s": f"{street}%"},
        )
        return {(r.k, r.o, r.code) for r in rows if r.live}


def _staff_every_cell(engine: Engine, street: str) -> None:
    """Give each active cell of the street a worker of its own and a party branch link."""
    with engine.begin() as conn:
        cells = conn.execute(
            text(
                "SELECT id, code FROM grid_cell WHERE valid_to IS NULL AND community_code LIKE :s "
                "ORDER BY code"
            ),
            {"s": f"{street}%"},
        ).all()
        for cell in cells:
            worker = conn.execute(
                text(
                    "INSERT INTO grid_worker (name, phone, street_code) "
                    "VALUES (:n, '19900000000', :s) RETURNING id"
                ),
                {"n": f"网格员{cell.code[-3:]}", "s": street},
            ).scalar_one()
            conn.execute(
                text("INSERT INTO worker_cell (worker_id, cell_id) VALUES (:w, :c)"),
                {"w": worker, "c": cell.id},
            )
            branch = conn.execute(
                text(
                    "INSERT INTO party_branch (name, community_code, location) "
                    "SELECT :n, :cc, ST_PointOnSurface(geom) FROM grid_cell WHERE id = :c "
                    "RETURNING id"
                ),
                {"n": f"第{cell.code[-3:]}网格党支部", "cc": cell.code[:12], "c": cell.id},
            ).scalar_one()
            conn.execute(
                text("INSERT INTO branch_cell (branch_id, cell_id) VALUES (:b, :c)"),
                {"b": branch, "c": cell.id},
            )


@pytest.fixture
def drawn(demo_engine: Engine) -> Engine:
    """The street with several cells per community, drawn, each cell staffed."""
    _boost(demo_engine, STREET)
    # Boosted twelvefold, two communities' layouts carry validator errors; continuity is
    # what these tests are about, so publish them anyway (as --allow-findings).
    redraw(
        demo_engine,
        STREET,
        method="draw",
        actor="cli:test",
        accept_unlinked=True,
        allow_findings=True,
    )
    _staff_every_cell(demo_engine, STREET)
    return demo_engine


def test_a_second_draw_on_unchanged_data_publishes_nothing(drawn: Engine) -> None:
    codes, links = _active(drawn, STREET), _links(drawn, STREET)
    assert len(codes) >= 40
    again = redraw(drawn, STREET, method="draw", actor="cli:test", allow_findings=True)
    assert all(d.version is None for d in again.diffs)
    assert again.lines()[-1].startswith(f"published 0 of {len(again.diffs)} communities")
    assert all("no change" in d.line() for d in again.diffs)
    assert _active(drawn, STREET) == codes  # same codes, same rows
    assert _links(drawn, STREET) == links


def test_an_adjust_after_a_tenth_of_households_changed_keeps_codes_and_links(
    drawn: Engine,
) -> None:
    before, links = _active(drawn, STREET), _links(drawn, STREET)
    with drawn.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE building SET households = households * 4 "
                "WHERE community_code LIKE :s AND id % 10 = 3"
            ),
            {"s": f"{STREET}%"},
        ).rowcount
    assert changed > 50
    dry = redraw(
        drawn, STREET, method="adjust", actor="cli:test", dry_run=True, allow_findings=True
    )
    listed = {(c.link, c.owner_id, c.from_code) for d in dry.diffs for c in d.links_undecided}
    result = redraw(
        drawn,
        STREET,
        method="adjust",
        actor="cli:test",
        accept_unlinked=True,
        allow_findings=True,
    )
    after = _active(drawn, STREET)
    kept = set(before) & set(after)
    assert len(kept) >= 0.95 * len(before)
    assert any(d.reshaped or d.added for d in result.diffs)  # the change did change cells
    moved = {(c.link, c.owner_id): c.to_code for d in result.diffs for c in d.links_moved}
    now = _links(drawn, STREET)
    for kind, owner, code in links:
        if code in after and (kind, owner) not in moved:
            assert (kind, owner, code) in now  # untouched cell: link untouched
        elif (kind, owner) in moved:
            assert (kind, owner, moved[kind, owner]) in now
        else:  # listed before publishing, and left on the retired cell
            assert (kind, owner, code) in listed
    with drawn.connect() as conn:
        dangling = conn.execute(
            text(
                "SELECT count(*) FROM worker_cell w JOIN grid_cell c ON c.id = w.cell_id "
                "WHERE c.valid_to IS NOT NULL AND c.code LIKE :s AND NOT EXISTS ("
                " SELECT 1 FROM cell_link_move m WHERE m.from_cell_id = c.id"
                " AND m.owner_id = w.worker_id AND m.link = 'worker' AND m.to_cell_id IS NULL)"
            ),
            {"s": f"{STREET}%"},
        ).scalar_one()
    assert dangling == 0


def _community_with_cells(engine: Engine, at_least: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT community_code FROM grid_cell WHERE valid_to IS NULL "
                "AND community_code LIKE :s GROUP BY 1 HAVING count(*) >= :n ORDER BY 1 LIMIT 1"
            ),
            {"s": f"{STREET}%", "n": at_least},
        ).scalar_one()


def _publish(engine: Engine, community: str, cells: gpd.GeoDataFrame, **kw: bool) -> LayoutDiff:
    with engine.begin() as conn:
        return publish_cells(
            conn, community, cells, method="edit", expected_version=None, actor="test", **kw
        )


def test_a_merge_carries_both_cells_links_and_records_the_lineage(drawn: Engine) -> None:
    community = _community_with_cells(drawn, 3)
    cells = read_inputs(drawn, community).cells.rename_geometry("geometry")
    cells = cells.sort_values("code").reset_index(drop=True)
    tree = shapely.STRtree(cells.geometry.to_numpy())
    first = 0
    neighbours = [j for j in tree.query(cells.geometry[first], predicate="touches") if j != first]
    assert neighbours, "cells of a community touch"
    second = int(neighbours[0])
    keep, gone = sorted([first, second], key=lambda i: -int(cells.households[i]))
    merged = shapely.union(cells.geometry[keep], cells.geometry[gone])
    layout = cells.drop(index=[gone]).copy()
    layout.loc[keep, "geometry"] = merged
    links = _links(drawn, STREET)
    gone_code, keep_code = cells.code[gone], cells.code[keep]
    diff = _publish(drawn, community, layout[["code", "geometry"]])
    assert diff.retired == [gone_code] and diff.reshaped == [keep_code]
    now = _links(drawn, STREET)
    for kind, owner, code in links:
        if code == gone_code:
            assert (kind, owner, keep_code) in now
    assert {(c.from_code, c.to_code) for c in diff.links_moved} == {
        (gone_code, keep_code),
        (keep_code, keep_code),
    }
    with drawn.connect() as conn:
        lineage = conn.execute(
            text(
                "SELECT p.code AS old, s.code AS new, l.share FROM cell_lineage l "
                "JOIN grid_cell p ON p.id = l.predecessor_id "
                "JOIN grid_cell s ON s.id = l.successor_id WHERE l.version_id = ("
                " SELECT max(id) FROM layout_version WHERE community_code = :c)"
            ),
            {"c": community},
        ).all()
    assert {(r.old, r.new) for r in lineage} == {(gone_code, keep_code), (keep_code, keep_code)}
    assert all(r.share == pytest.approx(1.0) for r in lineage)


def test_links_without_a_clear_successor_are_refused_then_left_when_accepted(
    drawn: Engine,
) -> None:
    community = _community_with_cells(drawn, 2)
    cells = read_inputs(drawn, community).cells.rename_geometry("geometry").sort_values("code")
    dropped = cells.code.iloc[-1]
    layout = cells[cells.code != dropped][["code", "geometry"]]  # its buildings in no cell now
    versions = _active(drawn, STREET)
    with pytest.raises(UnlinkedError) as refused:
        _publish(drawn, community, layout)
    assert {c.from_code for c in refused.value.undecided} == {dropped}
    assert {c.link for c in refused.value.undecided} == {"worker", "branch"}
    assert dropped in str(refused.value) and "网格员" in str(refused.value)
    assert _active(drawn, STREET) == versions  # nothing published
    diff = _publish(drawn, community, layout, accept_unlinked=True)
    assert [c.from_code for c in diff.links_undecided] == [dropped, dropped]
    with drawn.connect() as conn:
        left = conn.execute(
            text(
                "SELECT count(*) FROM cell_link_move m JOIN grid_cell c ON c.id = m.from_cell_id "
                "WHERE c.code = :code AND m.to_cell_id IS NULL"
            ),
            {"code": dropped},
        ).scalar_one()
    assert left == 2


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def test_the_cli_refuses_undecided_links_and_names_the_flag(
    demo_env: str, demo_engine: Engine
) -> None:
    _boost(demo_engine, STREET)
    runner = CliRunner()
    refused = runner.invoke(main, ["cells", "draw", "--street", STREET, "--allow-findings"])
    assert refused.exit_code == 1, refused.output
    assert "--accept-unlinked" in refused.output and "without a clear successor" in refused.output
    dry = runner.invoke(main, ["cells", "draw", "--street", STREET, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "link undecided worker" in dry.output and " new: None -> " in dry.output
    done = runner.invoke(
        main, ["cells", "draw", "--street", STREET, "--accept-unlinked", "--allow-findings"]
    )
    assert done.exit_code == 0, done.output
    again = runner.invoke(main, ["cells", "draw", "--street", STREET, "--allow-findings"])
    assert again.exit_code == 0, again.output
    assert "published 0 of" in again.output and "no change" in again.output


def test_a_cell_without_households_is_followed_by_area(drawn: Engine) -> None:
    community = _community_with_cells(drawn, 3)
    cells = read_inputs(drawn, community).cells.rename_geometry("geometry")
    cells = cells.sort_values("code").reset_index(drop=True)
    tree = shapely.STRtree(cells.geometry.to_numpy())
    [first, *_] = [j for j in tree.query(cells.geometry[0], predicate="touches") if j != 0]
    empty, keep = cells.code[0], cells.code[int(first)]
    with drawn.begin() as conn:
        conn.execute(
            text(
                "UPDATE building b SET households = 0 FROM grid_cell c WHERE c.code = :code "
                "AND c.valid_to IS NULL AND ST_Intersects(c.geom, b.location)"
            ),
            {"code": empty},
        )
    layout = cells[cells.code != empty][["code", "geometry"]].copy()
    layout.loc[layout.code == keep, "geometry"] = shapely.union(
        cells.geometry[0], cells.geometry[int(first)]
    )
    diff = _publish(drawn, community, layout)
    assert diff.retired == [empty] and not diff.links_undecided
    assert {c.to_code for c in diff.links_moved if c.from_code == empty} == {keep}
    with drawn.connect() as conn:
        row = conn.execute(
            text(
                "SELECT l.households, l.share FROM cell_lineage l "
                "JOIN grid_cell p ON p.id = l.predecessor_id WHERE p.code = :code"
            ),
            {"code": empty},
        ).one()
    assert row.households == 0 and row.share == pytest.approx(1.0)
