"""The party members register (issue 19, point 3): `gridgis import members` with its per-row
report and round trip through the export; a street office sees members' personal data only
for its own street, an analyst counts only (pages, API and exports); the figures per
organisation and per cell match independent SQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import assert_no_inline_code, response_json, role_client
from flask import Flask
from sqlalchemy import Engine, create_engine, text

from gridgis.audit import read_audit
from gridgis.cli import main
from gridgis.export import export
from gridgis.party.members import mask_member, member_figures
from gridgis.registers.members import import_members
from gridgis.registers.templates import write_template

HEADER = ["编号", "姓名", "性别", "出生年份", "入党日期", "所在党组织", "党员类型", "地址",
          "电话", "身份证号", "报到社区", "报到日期", "党员中心户"]  # fmt: skip


def _csv(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def _place(engine: Engine) -> dict[str, str]:
    """A demo organisation and the unique address of a building of its community."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.external_id AS org, p.name, b.address, b.external_id AS building, "
                "b.community_code FROM party_branch p JOIN building b "
                "ON b.community_code = p.community_code WHERE b.address IS NOT NULL "
                "AND (SELECT count(*) FROM building o WHERE o.address = b.address) = 1 "
                "ORDER BY p.id, b.id LIMIT 1"
            )
        ).one()
    return dict(row._mapping)


def _members(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT external_id, name, sex, birth_year, joined_on, branch_id, kind, "
                    "phone, id_number, address, building_id, community_code, street_code, "
                    "report_community_code, reported_on, central_household FROM party_member "
                    "ORDER BY id"
                )
            )
        ]


def test_import_reports_every_row_and_reads_its_export_back(
    demo_engine: Engine, tmp_path: Path
) -> None:
    place = _place(demo_engine)
    rows = [
        ["T1", "王芳", "女", 1941, "1965-07-01", place["org"], "离退休党员", place["address"],
         "13812345678", "11010519491231002X", None, None, "是"],
        ["T2", "李强", None, "1988年3月", "2010/7/1", place["name"], "在职", place["address"],
         None, None, place["community_code"], "2024-05-04", "否"],
        ["T3", "赵敏", "女", 1990, None, place["org"], "流动党员", "不存在路999号",
         None, None, None, None, None],
        ["T4", "钱一", "男", 1970, None, place["org"], "直管", place["address"],
         None, "110105194912310021", None, None, None],
        ["T5", "孙二", "男", 1970, None, "没有这个支部", "直管", place["address"],
         None, None, None, None, None],
        ["T6", "周三", "X", 1970, None, place["org"], "党外人士", place["address"],
         None, None, None, None, "也许"],
        ["T1", "重复", "男", 1970, None, place["org"], "直管", place["address"],
         None, None, None, None, None],
    ]  # fmt: skip
    path = _csv(tmp_path / "党员名册.csv", rows)
    before = _members(demo_engine)
    dry = import_members(demo_engine, path, dry_run=True, actor="test")
    assert _members(demo_engine) == before
    report = import_members(demo_engine, path, actor="test")
    assert dry.counts == report.counts
    counts = report.counts
    assert counts == {"read": 7, "imported": 1, "updated": 0, "unchanged": 0, "flagged": 1,
                      "rejected": 5}  # fmt: skip
    assert counts["read"] == sum(v for k, v in counts.items() if k != "read")
    by_row = report.rows.set_index("row")
    assert by_row.loc[3, "outcome"] == "imported"  # T2, its sex read from nothing: None
    assert by_row.loc[4, "outcome"] == "flagged" and by_row.loc[4, "flags"] == "not_placed"
    assert "不存在路999号" in by_row.loc[4, "reason"]
    assert "wrong check digit" in by_row.loc[5, "reason"]
    assert "unknown organisation '没有这个支部'" in by_row.loc[6, "reason"]
    assert re.search(r"central_household '也许'.*sex 'X'.*unknown kind '党外人士'",
                     by_row.loc[7, "reason"])  # fmt: skip
    assert "used by rows 2, 8" in by_row.loc[2, "reason"]
    zh = report.reasons_in("zh")
    assert "校验位错误" in zh[3] and "未知党组织" in zh[4]
    codes = report.rows["reason_code"].dropna().str.split(";").explode()
    assert "unknown" not in set(codes), report.rows["reason"].tolist()
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT m.kind, m.birth_year, m.report_community_code, m.reported_on, "
                "b.external_id, p.external_id FROM party_member m "
                "JOIN building b ON b.id = m.building_id "
                "JOIN party_branch p ON p.id = m.branch_id WHERE m.external_id = 'T2'"
            )
        ).one()
        unplaced = conn.execute(
            text("SELECT building_id, community_code FROM party_member WHERE external_id = 'T3'")
        ).one()
    assert tuple(stored)[:3] == ("employed", 1988, place["community_code"])
    assert tuple(stored)[4:] == (place["building"], place["org"])
    assert unplaced.building_id is None and unplaced.community_code == place["community_code"]

    again = import_members(demo_engine, path, actor="test")
    assert again.counts["imported"] == 0 and again.counts["unchanged"] == 2

    stored_members = _members(demo_engine)
    for fmt, reveal in (("csv", False), ("xlsx", True), ("gpkg", False)):
        out = tmp_path / f"members.{fmt}"
        export(demo_engine, "members", fmt, out, reveal=reveal, actor="test")
        if fmt == "csv":
            frame = pd.read_csv(out, dtype=str)
            t2 = frame.set_index("id").loc["T2"]
            assert t2["name"] == "李*" and t2["birth"] == "19**"
            assert t2["address"] == mask_member(place["address"], "address")
        back = import_members(demo_engine, out, actor="test")
        assert back.counts["rejected"] == 0, back.rows["reason"].dropna().head().tolist()
        assert back.counts["imported"] == back.counts["updated"] == 0, fmt
        assert _members(demo_engine) == stored_members
    audit = read_audit(demo_engine, object_type="member")
    assert len(audit) >= 5


def test_an_update_is_audited_and_a_street_office_stays_in_its_street(
    demo_engine: Engine, tmp_path: Path
) -> None:
    place = _place(demo_engine)
    row = ["U1", "陈红", "女", 1950, None, place["org"], "离退休", place["address"],
           "13900001111", None, None, None, "是"]  # fmt: skip
    first = _csv(tmp_path / "a.csv", [row])
    import_members(demo_engine, first, actor="test")
    changed = _csv(tmp_path / "b.csv", [[*row[:8], "13900002222", None, None, None, "否"]])
    report = import_members(demo_engine, changed, actor="test")
    assert report.counts["updated"] == 1
    assert "phone *******1111 → *******2222" in report.rows["changes"][0]
    trail = read_audit(demo_engine, object_type="party_member", object_id="U1")
    assert len(trail) == 1 and trail.iloc[0]["actor"] == "test"
    own = place["community_code"][:9]
    with demo_engine.connect() as conn:
        other = conn.execute(
            text("SELECT DISTINCT street_code FROM community WHERE street_code <> :s LIMIT 1"),
            {"s": own},
        ).scalar_one()
    refused = import_members(demo_engine, changed, street=other, actor="test")
    assert refused.counts["rejected"] == 1
    assert f"outside street {other}" in refused.rows["reason"][0]
    assert "不在街道" in refused.reasons_in("zh")[0]
    kept = import_members(demo_engine, changed, street=own, actor="test")
    assert kept.counts["unchanged"] == 1


def test_the_template_has_the_importers_headers(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(write_template("members", tmp_path / "党员.xlsx"))
    assert [c.value for c in book["导入"][1]] == HEADER
    runner = CliRunner()
    result = runner.invoke(main, ["template", "activities", "-o", str(tmp_path / "活动.xlsx")])
    assert result.exit_code == 0, result.output


# --- who sees what ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cross(demo_db: str) -> Iterator[dict[str, Any]]:
    """A member of an organisation of street A living in street B (personal data of street
    B), and the two streets."""
    engine = create_engine(demo_db)
    try:
        with engine.begin() as conn:
            org = conn.execute(
                text("SELECT id, community_code FROM party_branch ORDER BY id LIMIT 1")
            ).one()
            home = conn.execute(
                text(
                    "SELECT id, community_code FROM building WHERE left(community_code, 9) "
                    "<> :s ORDER BY id LIMIT 1"
                ),
                {"s": org.community_code[:9]},
            ).one()
            conn.execute(
                text(
                    "INSERT INTO party_member (external_id, name, sex, birth_year, kind, phone, "
                    "address, branch_id, building_id, community_code, street_code) VALUES "
                    "('X1', '跨街道', 'male', 1960, 'employed', '13811112222', '外街道某路1号', "
                    ":b, :h, :c, :s)"
                ),
                {
                    "b": org.id,
                    "h": home.id,
                    "c": home.community_code,
                    "s": home.community_code[:9],
                },
            )
        yield {"street": org.community_code[:9], "other": home.community_code[:9]}
    finally:
        engine.dispose()


def _get(client: Any, url: str, status: int = 200) -> Any:
    return response_json(client.get(url), status)


def test_a_street_office_sees_personal_data_only_of_its_street(
    web: Flask, cross: dict[str, Any]
) -> None:
    office = role_client(web, "street", cross["street"], prefix="pm")
    listing = _get(office, "/api/party/members?limit=1000")
    assert listing["total"] == len(listing["members"]) > 1
    by_id = {m["id"]: m for m in listing["members"]}
    x1 = by_id["X1"]
    assert x1["masked"] and x1["name"] == "跨**" and x1["phone"] == "*******2222"
    assert x1["address"].startswith("外街道某路1") and "*" in x1["address"]
    own = [m for m in listing["members"] if m["id"] != "X1"]
    assert own and not any(m["masked"] for m in own)
    assert all(m["community_code"].startswith(cross["street"]) for m in own)
    page = office.get(f"/party/members?cell={x1['cell_code']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "跨**" in html and "13811112222" not in html
    assert_no_inline_code(html)
    first = office.get("/party/members").get_data(as_text=True)
    assert own[0]["name"] in first and own[0]["phone"] in first
    exported = office.get("/api/party/members.csv")
    assert exported.status_code == 200
    rows = {
        r["id"]: r for r in csv.DictReader(io.StringIO(exported.get_data().decode("utf-8-sig")))
    }
    # the export holds the members living in its street, unmasked; X1 lives elsewhere
    assert "X1" not in rows and rows[own[0]["id"]]["name"] == own[0]["name"]
    other = role_client(web, "street", cross["other"], prefix="pm")
    seen = {m["id"]: m for m in _get(other, "/api/party/members?limit=1000")["members"]}
    assert not seen["X1"]["masked"] and seen["X1"]["phone"] == "13811112222"
    admin = role_client(web, "admin", prefix="pm")
    everyone = _get(admin, "/api/party/members?limit=1000")
    assert everyone["total"] > listing["total"]
    assert not any(m["masked"] for m in everyone["members"])


def test_an_analyst_sees_counts_only(web: Flask, cross: dict[str, Any]) -> None:
    analyst = role_client(web, "analyst", prefix="pm")
    _get(analyst, "/api/party/members", 403)
    assert analyst.get("/api/party/members.xlsx").status_code == 403
    figures = _get(analyst, "/api/party/members/stats")
    assert figures["members"] > 0 and figures["organisations"] and figures["cells"]
    html = analyst.get("/party/members").get_data(as_text=True)
    assert "跨街道" not in html and "跨*" not in html and "13811112222" not in html
    assert 'id="party-counts-only"' in html and 'id="party-members"' not in html
    ranked = _get(analyst, "/api/party/ranking?year=2025")
    assert all("*" in r["name"] or len(r["name"]) == 1 for r in ranked["rows"])
    office = role_client(web, "street", cross["street"], prefix="pm")
    english = office.get("/party/members?lang=en").get_data(as_text=True)
    assert "Per organisation" in english


def test_figures_match_independent_counts(web: Flask, demo_db: str, cross: dict[str, Any]) -> None:
    engine = create_engine(demo_db)
    try:
        figures = member_figures(engine, year=2025)
        with engine.connect() as conn:
            per_org = {
                (r.org, r.kind): r.n
                for r in conn.execute(
                    text(
                        "SELECT p.external_id AS org, m.kind, count(*) AS n FROM party_member m "
                        "LEFT JOIN party_branch p ON p.id = m.branch_id GROUP BY 1, 2"
                    )
                )
            }
            per_cell = {
                r.code: (r.n, r.old, r.reported)
                for r in conn.execute(
                    text(
                        "SELECT g.code, count(*) AS n, "
                        "count(*) FILTER (WHERE 2025 - m.birth_year >= 80) AS old, "
                        "count(*) FILTER (WHERE m.kind = 'employed' "
                        "AND m.report_community_code IS NOT NULL) AS reported "
                        "FROM party_member m JOIN building b ON b.id = m.building_id "
                        "JOIN grid_cell g ON g.valid_to IS NULL AND ST_Covers(g.geom, b.location) "
                        "GROUP BY 1"
                    )
                )
            }
            total = conn.execute(text("SELECT count(*) FROM party_member")).scalar_one()
        street_total = conn_count = None
        office = role_client(web, "street", cross["street"], prefix="pm")
        stats = _get(office, f"/api/party/members/stats?community={cross['street']}001")
        assert stats["within"] == cross["street"]
        with engine.connect() as conn:
            conn_count = conn.execute(
                text("SELECT count(*) FROM party_member WHERE community_code = :c"),
                {"c": f"{cross['street']}001"},
            ).scalar_one()
            street_total = conn.execute(
                text(
                    "SELECT count(*) FROM party_member m LEFT JOIN party_branch p "
                    "ON p.id = m.branch_id WHERE m.street_code = :s "
                    "OR left(p.community_code, 9) = :s"
                ),
                {"s": cross["street"]},
            ).scalar_one()
    finally:
        engine.dispose()
    assert figures["members"] == total
    got_org = {
        (o["organisation"], k): n for o in figures["organisations"] for k, n in o["kind"].items()
    }
    assert got_org == per_org
    got_cell = {
        c["cell_code"]: (c["members"], c["age"].get("80+", 0), c["reported"])
        for c in figures["cells"]
        if c["cell_code"] is not None
    }
    assert got_cell == per_cell
    assert stats["members"] == conn_count
    office_all = _get(office, "/api/party/members/stats")
    assert office_all["members"] == street_total


def test_the_demo_has_members_at_the_seeds_proportions(demo_db: str) -> None:
    from gridgis.demo.members import MEMBERS_PER_HOUSEHOLD

    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT sum(households) FROM building) AS households, "
                    "(SELECT count(*) FROM party_member WHERE external_id LIKE 'DY%') AS members, "
                    "(SELECT count(DISTINCT kind) FROM party_member) AS kinds, "
                    "(SELECT count(*) FROM party_member WHERE kind = 'retired' "
                    " AND birth_year <= 1945) AS old, "
                    "(SELECT count(*) FROM party_member WHERE central_household) AS central, "
                    "(SELECT count(*) FROM party_member WHERE building_id IS NULL "
                    " AND external_id LIKE 'DY%') AS unplaced, "
                    "(SELECT count(*) FROM party_activity WHERE source = 'import') AS activity"
                )
            ).one()
    finally:
        engine.dispose()
    assert row.members == round(MEMBERS_PER_HOUSEHOLD * row.households)
    assert row.kinds == 4 and row.old > 0 and row.central > 0 and row.activity > 0
    assert row.unplaced == 0
