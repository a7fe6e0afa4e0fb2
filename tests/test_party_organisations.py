"""The party organisation tree (issue 19, point 1) on the small demo district.

The demo's tree comes through the importers (a community 党委 or 党总支, the 网格党支部
of its cells, 楼栋党小组 on buildings). The 一网格一支部 status of the cells and the
buildings' 党小组 coverage answered by the API match counts made here in SQL, after
edits that make some cells shared; editing refuses cycles, is audited, and keeps a
street office to its street; an analyst sees figures but no names.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import assert_no_inline_code, response_json, role_client
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from gridgis.export import export
from gridgis.party.organisations import cell_status, read_cell_links, read_cells
from gridgis.registers.branches import import_branches


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="po")


def _token(client: FlaskClient) -> dict[str, str]:
    with client.session_transaction() as session:
        return {"X-CSRF-Token": str(session["csrf"])}


@pytest.fixture(scope="module")
def engine(demo_db: str) -> Any:
    eng = create_engine(demo_db)
    yield eng
    eng.dispose()


def _sql_status(engine: Engine, street: str) -> dict[str, str]:
    """一网格一支部 per active cell of ``street``, counted in SQL."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "WITH b AS (SELECT bc.branch_id, bc.cell_id FROM branch_cell bc "
                "  JOIN party_branch p ON p.id = bc.branch_id "
                "  JOIN grid_cell g ON g.id = bc.cell_id "
                "  WHERE p.kind = 'branch' AND g.valid_to IS NULL), "
                "spread AS (SELECT branch_id, count(*) AS n FROM b GROUP BY branch_id) "
                "SELECT g.code, count(b.branch_id) AS branches, coalesce(max(s.n), 0) AS widest "
                "FROM grid_cell g LEFT JOIN b ON b.cell_id = g.id "
                "LEFT JOIN spread s ON s.branch_id = b.branch_id "
                "WHERE g.valid_to IS NULL AND g.code LIKE :street GROUP BY g.code"
            ),
            {"street": street + "%"},
        ).all()
    return {
        r.code: "none"
        if r.branches == 0
        else "own"
        if r.branches == 1 and r.widest == 1
        else "shared"
        for r in rows
    }


def _two_cells(engine: Engine, street: str) -> tuple[str, str, int]:
    """Two cells of ``street`` that have a 支部 each, and the first one's 支部."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.code, p.id FROM grid_cell g JOIN branch_cell bc ON bc.cell_id = g.id "
                "JOIN party_branch p ON p.id = bc.branch_id AND p.kind = 'branch' "
                "WHERE g.valid_to IS NULL AND g.code LIKE :s ORDER BY g.code LIMIT 2"
            ),
            {"s": street + "%"},
        ).all()
    assert len(rows) == 2
    return rows[0].code, rows[1].code, int(rows[0].id)


def test_the_demo_tree_came_through_the_importer(engine: Engine) -> None:
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(text("SELECT kind, count(*) FROM party_branch GROUP BY kind")).all()
        )
        orphans = conn.execute(
            text("SELECT count(*) FROM party_branch WHERE kind <> 'committee' "
                 "AND kind <> 'general_branch' AND parent_id IS NULL")
        ).scalar_one()  # fmt: skip
        groups = conn.execute(
            text("SELECT count(*) FROM branch_building bb JOIN party_branch p "
                 "ON p.id = bb.branch_id WHERE p.kind = 'group'")
        ).scalar_one()  # fmt: skip
        secretaries = conn.execute(
            text("SELECT count(*) FROM party_branch WHERE secretary IS NULL")
        ).scalar_one()
    assert kinds["branch"] > 0 and kinds["group"] > 0
    assert kinds.get("committee", 0) + kinds.get("general_branch", 0) > 0
    assert orphans == 0  # every 支部 and 小组 hangs under its community's organisation
    assert groups == kinds["group"]  # a 楼栋党小组 covers its building
    assert secretaries == 0


def test_cell_status_matches_sql_counts(web: Flask, engine: Engine, streets: list[str]) -> None:
    street = streets[0]
    admin = _client(web, "admin")
    first, second, branch = _two_cells(engine, street)
    # A second 支部 on the first cell, and the first cell's 支部 also on the second: shared.
    created = admin.post(
        "/api/party/organisations",
        json={"name": "共建党支部", "kind": "党支部", "cells": [first]},
        headers=_token(admin),
    )
    response_json(created, 201)
    changed = admin.patch(
        f"/api/party/organisations/{branch}", json={"cells": [first, second]}, headers=_token(admin)
    )
    assert response_json(changed, 200)["cells"] == [first, second]
    answer = response_json(admin.get(f"/api/party/cell-status?street={street}"), 200)
    got = {c["code"]: c["status"] for c in answer["cells"]}
    expected = _sql_status(engine, street)
    assert got == expected
    assert got[first] == got[second] == "shared"
    assert answer["counts"]["shared"] >= 2
    assert {"none", "own", "shared"} <= set(answer["counts"])
    assert sum(answer["counts"][s] for s in ("none", "own", "shared")) == len(expected)
    # The library on the whole district agrees with SQL too.
    with engine.connect() as conn:
        status = cell_status(read_cells(conn), read_cell_links(conn))
    whole: dict[str, str] = {}
    for s in streets:
        whole |= _sql_status(engine, s)
    assert dict(zip(status["code"], status["status"], strict=True)) == whole


def test_building_coverage_and_central_households_match_sql(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    street = streets[0]
    with engine.begin() as conn:
        building = conn.execute(
            text("SELECT id FROM building WHERE community_code LIKE :s AND households > 0 "
                 "ORDER BY id LIMIT 1"), {"s": street + "%"}
        ).scalar_one()  # fmt: skip
        conn.execute(
            text("INSERT INTO party_member (name, building_id, community_code, street_code, "
                 "central_household) SELECT '林党员', id, community_code, left(community_code, 9), "
                 "true FROM building WHERE id = :b"), {"b": building}
        )  # fmt: skip
        groups, central = conn.execute(
            text(
                "SELECT (SELECT count(DISTINCT bb.building_id) FROM branch_building bb "
                "  JOIN party_branch p ON p.id = bb.branch_id "
                "  JOIN building b ON b.id = bb.building_id "
                "  WHERE p.kind = 'group' AND b.community_code LIKE :s), "
                "(SELECT count(DISTINCT m.building_id) FROM party_member m JOIN building b "
                "  ON b.id = m.building_id WHERE m.central_household AND b.community_code LIKE :s)"
            ),
            {"s": street + "%"},
        ).one()
        here = conn.execute(
            text("SELECT count(*) FROM party_member WHERE central_household AND building_id = :b"),
            {"b": building},
        ).scalar_one()
    answer = response_json(
        _client(web, "analyst").get(f"/api/party/cell-status?street={street}"), 200
    )
    assert answer["buildings_with_group"] == groups > 0
    assert answer["central_household_buildings"] == central >= 1
    marked = {b["id"]: b for b in answer["buildings"]}
    assert marked[building]["central_households"] == here
    assert sum(1 for b in answer["buildings"] if b["groups"]) == groups


def _tree_nodes(tree: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for node in tree:
        out.append(node)
        out.extend(_tree_nodes(node["children"]))
    return out


def test_the_tree_counts_registered_members_where_there_are(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    street = streets[1]
    with engine.begin() as conn:
        # This street's organisations without a members register: then three members of one.
        conn.execute(
            text("DELETE FROM party_member WHERE branch_id IN (SELECT id FROM party_branch "
                 "WHERE community_code LIKE :s)"), {"s": street + "%"}
        )  # fmt: skip
        branch = conn.execute(
            text("SELECT id FROM party_branch WHERE kind = 'branch' AND community_code LIKE :s "
                 "ORDER BY id LIMIT 1"), {"s": street + "%"}
        ).scalar_one()  # fmt: skip
        for name in ("甲", "乙", "丙"):
            conn.execute(
                text("INSERT INTO party_member (name, branch_id) VALUES (:n, :b)"),
                {"n": name, "b": branch},
            )
        stored = dict(
            conn.execute(
                text("SELECT id, member_count FROM party_branch WHERE community_code LIKE :s"),
                {"s": street + "%"},
            ).all()
        )
    answer = response_json(
        _client(web, "admin").get(f"/api/party/organisations?street={street}"), 200
    )
    nodes = {n["id"]: n for n in _tree_nodes(answer["organisations"])}
    assert len(nodes) == answer["total"] == len(stored)
    assert nodes[branch]["members"] == 3 and nodes[branch]["member_source"] == "register"
    others = [n for i, n in nodes.items() if i != branch]
    assert all(n["members"] == stored[n["id"]] and n["member_source"] == "count" for n in others)
    roots = answer["organisations"]
    assert roots and all(r["kind"] in ("committee", "general_branch") for r in roots)


def test_editing_refuses_cycles_and_is_audited(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    street = streets[1]
    admin = _client(web, "admin")
    headers = _token(admin)
    with engine.connect() as conn:
        top, child = conn.execute(
            text("SELECT p.id, c.id FROM party_branch p JOIN party_branch c ON c.parent_id = p.id "
                 "WHERE p.parent_id IS NULL AND p.community_code LIKE :s ORDER BY p.id LIMIT 1"),
            {"s": street + "%"},
        ).one()  # fmt: skip
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE object_type = 'organisation'")
        ).scalar_one()
    # A committee under its own 支部: a cycle, refused; so is being one's own parent.
    cycle = admin.patch(
        f"/api/party/organisations/{top}", json={"parent_id": child}, headers=headers
    )
    assert "cycle" in response_json(cycle, 409)["error"]["message"]
    itself = admin.patch(
        f"/api/party/organisations/{top}", json={"parent_id": top}, headers=headers
    )
    assert response_json(itself, 409)["error"]["field"] == "parent_id"
    # Create a 党小组 under the 支部, rename it, change its kind, move it, delete it.
    made = response_json(
        admin.post("/api/party/organisations",
                   json={"name": "试点党小组", "kind": "group", "parent_id": child},
                   headers=headers), 201)  # fmt: skip
    new = made["id"]
    assert made["community_code"] and made["community_code"].startswith(street)
    renamed = admin.patch(
        f"/api/party/organisations/{new}",
        json={"name": "一号楼党小组", "kind": "党支部", "parent_id": top},
        headers=headers,
    )
    body = response_json(renamed, 200)
    assert (body["name"], body["kind"], body["parent_id"]) == ("一号楼党小组", "branch", top)
    # Deleting an organisation with children: refused by default, else they move up.
    grandchild = response_json(
        admin.post("/api/party/organisations", json={"name": "下级党小组", "kind": "group",
                   "parent_id": new}, headers=headers), 201)["id"]  # fmt: skip
    refused = admin.delete(f"/api/party/organisations/{new}", headers=headers)
    assert "child organisations" in response_json(refused, 409)["error"]["message"]
    moved = admin.delete(f"/api/party/organisations/{new}?children=reparent", headers=headers)
    assert moved.status_code == 204
    assert (
        response_json(admin.get(f"/api/party/organisations/{grandchild}"), 200)["parent_id"] == top
    )
    assert admin.get(f"/api/party/organisations/{new}").status_code == 404
    with engine.connect() as conn:
        trail = conn.execute(
            text("SELECT action, actor FROM audit_log WHERE object_type = 'organisation' "
                 "ORDER BY id OFFSET :n"), {"n": audited}
        ).all()  # fmt: skip
    assert [a for a, _ in trail] == ["create", "update", "create", "delete"]
    assert {actor for _, actor in trail} == {"po-admin-all"}


def test_a_street_office_edits_only_its_own_street(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    own, other = streets[0], streets[1]
    office = _client(web, "street", own)
    headers = _token(office)
    with engine.connect() as conn:
        theirs = conn.execute(
            text("SELECT id FROM party_branch WHERE community_code LIKE :s ORDER BY id LIMIT 1"),
            {"s": other + "%"},
        ).scalar_one()
        mine = conn.execute(
            text("SELECT id FROM party_branch WHERE community_code LIKE :s AND kind = 'branch' "
                 "ORDER BY id LIMIT 1"), {"s": own + "%"}
        ).scalar_one()  # fmt: skip
        other_cell = conn.execute(
            text("SELECT code FROM grid_cell WHERE valid_to IS NULL AND code LIKE :s LIMIT 1"),
            {"s": other + "%"},
        ).scalar_one()
        before = conn.execute(
            text("SELECT name FROM party_branch WHERE id = :i"), {"i": theirs}
        ).scalar_one()
    # Another street's organisation does not exist for it; nor may it reach there.
    assert (
        office.patch(
            f"/api/party/organisations/{theirs}", json={"name": "改"}, headers=headers
        ).status_code
        == 404
    )
    assert office.delete(f"/api/party/organisations/{theirs}", headers=headers).status_code == 404
    assert office.get(f"/api/party/organisations/{theirs}").status_code == 404
    moved = office.patch(
        f"/api/party/organisations/{mine}", json={"parent_id": theirs}, headers=headers
    )
    assert moved.status_code == 404
    taken = office.patch(
        f"/api/party/organisations/{mine}", json={"cells": [other_cell]}, headers=headers
    )
    assert "outside street" in response_json(taken, 403)["error"]["message"]
    made = office.post(
        "/api/party/organisations",
        json={"name": "越界党支部", "cells": [other_cell]},
        headers=headers,
    )
    assert made.status_code == 403
    assert office.get(f"/api/party/organisations?street={other}").status_code == 403
    # Its own: changed.
    ok = office.patch(
        f"/api/party/organisations/{mine}", json={"secretary": "陈书记"}, headers=headers
    )
    assert response_json(ok, 200)["secretary"] == "陈书记"
    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT name FROM party_branch WHERE id = :i"), {"i": theirs}
        ).scalar_one()
    assert after == before
    # An analyst changes nothing.
    analyst = _client(web, "analyst")
    refused = analyst.patch(
        f"/api/party/organisations/{mine}", json={"name": "x"}, headers=_token(analyst)
    )
    assert refused.status_code == 403


def test_an_analyst_sees_figures_but_no_names(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    street = streets[0]
    with engine.connect() as conn:
        secretaries = set(
            conn.execute(
                text("SELECT secretary FROM party_branch WHERE community_code LIKE :s "
                     "AND secretary IS NOT NULL"), {"s": street + "%"}
            ).scalars()
        )  # fmt: skip
    assert secretaries
    analyst = _client(web, "analyst")
    answer = analyst.get(f"/api/party/organisations?street={street}").get_data(as_text=True)
    assert not [s for s in secretaries if s in answer]
    admin = response_json(
        _client(web, "admin").get(f"/api/party/organisations?street={street}"), 200
    )
    shown = {n["secretary"] for n in _tree_nodes(admin["organisations"])}
    assert secretaries <= shown
    # The export too: masked for the analyst, as stored for the street office of the street.
    out = io.BytesIO()
    export(engine, "organisations", "csv", out, street=street, reveal=False)
    text_out = out.getvalue().decode("utf-8-sig")
    assert not [s for s in secretaries if s in text_out]
    download = analyst.get(f"/api/export/organisations.csv?street={street}")
    assert download.status_code == 200
    assert not [s for s in secretaries if s in download.get_data(as_text=True)]
    office = _client(web, "street", street)
    full = office.get(f"/api/export/organisations.csv?street={street}").get_data(as_text=True)
    assert secretaries <= {s for s in secretaries if s in full}


def test_the_export_reads_back_with_its_buildings(
    engine: Engine, tmp_path: Path, streets: list[str]
) -> None:
    path = tmp_path / "organisations.csv"
    export(engine, "organisations", "csv", path, street=streets[0], reveal=True)
    frame = pd.read_csv(path, dtype=str)
    assert {"kind", "parent", "cells", "buildings"} <= set(frame.columns)
    assert frame["buildings"].notna().any()
    again = import_branches(engine, path, actor="test", dry_run=True)
    assert again.counts["unchanged"] == again.counts["read"] == len(frame)
    # An unknown building is refused with its row.
    frame.loc[0, "buildings"] = "no-such-building"
    broken = tmp_path / "broken.csv"
    frame.to_csv(broken, index=False)
    report = import_branches(engine, broken, actor="test", dry_run=True)
    assert report.counts["rejected"] >= 1
    reasons = " ".join(str(r) for r in report.rows["reason"].dropna())
    assert "unknown building 'no-such-building'" in reasons


def test_the_page_for_each_role(web: Flask, streets: list[str]) -> None:
    assert web.test_client().get("/party/organisations").status_code == 302
    for role, street in (("admin", None), ("analyst", None), ("street", streets[1])):
        response = _client(web, role, street).get("/party/organisations")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html
        assert "<title>党组织体系 · gridgis</title>" in html
        assert_no_inline_code(html)
        assert ('id="org-form"' in html) == (role != "analyst")
        if street:
            assert f'"street": "{street}"' in html
    office = _client(web, "street", streets[1])
    assert office.get(f"/party/organisations?street={streets[0]}").status_code == 403
    english = _client(web, "analyst").get("/party/organisations?lang=en").get_data(as_text=True)
    assert "党组织体系" not in english.split("<body", 1)[1].split("gridgis-config", 1)[0]


def test_the_export_page_offers_lists_of_people_to_offices_only(
    web: Flask, streets: list[str]
) -> None:
    street = streets[0]
    analyst = _client(web, "analyst")
    for what in ("members", "residents"):
        refused = analyst.get(f"/api/export/{what}.csv?street={street}")
        assert refused.status_code == 403, what
    page = analyst.get("/export").get_data(as_text=True)
    assert 'value="units"' in page and 'value="organisations"' in page
    assert 'value="members"' not in page and 'value="residents"' not in page
    assert analyst.get(f"/api/export/units.csv?street={street}").status_code == 200
    office = _client(web, "street", street)
    assert 'value="members"' in office.get("/export").get_data(as_text=True)
    for what in ("members", "residents"):
        answer = office.get(f"/api/export/{what}.csv?street={street}")
        assert answer.status_code == 200, what
        assert len(pd.read_csv(io.BytesIO(answer.data), dtype=str)) > 0, what
