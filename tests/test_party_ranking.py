"""党员积分 (issue 19, point 3): rules set by administrators (CLI, page, API), activity imported
through ``record_activity`` with its report, and the yearly ranking per organisation, which
matches independent SQL over the database (API, page, export and CLI)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import assert_no_inline_code, response_json, role_client
from flask import Flask
from sqlalchemy import Engine, create_engine, text

from gridgis.audit import read_audit
from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.party.ranking import list_rules, ranking, set_rule
from gridgis.registers.activities import import_activities

YEAR = 2021
"""A year the demo's own activity does not reach, so that the tests' activity is all of it."""


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def _two_members(engine: Engine) -> tuple[str, str, str]:
    """Two members of the same organisation, and the organisation's id."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.external_id AS org, array_agg(m.external_id ORDER BY m.id) AS ids "
                "FROM party_member m JOIN party_branch p ON p.id = m.branch_id "
                "GROUP BY p.id HAVING count(*) >= 2 ORDER BY p.id LIMIT 1"
            )
        ).one()
    return row.ids[0], row.ids[1], row.org


def test_activity_is_imported_with_its_points_once(demo_engine: Engine, tmp_path: Path) -> None:
    first, second, _ = _two_members(demo_engine)
    header = ["党员编号", "活动类型", "日期", "时长", "备注"]
    rows = [
        [first, "志愿服务", f"{YEAR}-03-05", 2.5, "环境整治"],
        [first, "参加组织生活", f"{YEAR}-04-01", None, "主题党日"],
        [second, "meeting", f"{YEAR}年5月1日", None, None],
        [second, "志愿服务", f"{YEAR}-05-02", None, None],
        ["NOBODY", "meeting", f"{YEAR}-05-03", None, None],
        [second, "跳舞", f"{YEAR}-05-04", None, None],
        [second, "meeting", "昨天", None, None],
    ]
    path = _csv(tmp_path / "活动.csv", header, rows)
    report = import_activities(demo_engine, path, actor="test")
    assert report.counts == {"read": 7, "imported": 3, "updated": 0, "unchanged": 0,
                             "flagged": 0, "rejected": 4}  # fmt: skip
    reasons = report.rows.set_index("row")["reason"]
    assert reasons[5] == "hours missing: a volunteer is counted per hour"
    assert reasons[6] == "unknown member 'NOBODY': no member has that id"
    assert reasons[7].startswith("unknown activity '跳舞' (known: ")
    assert reasons[8] == "date '昨天' is not a date"
    zh = report.reasons_in("zh")
    assert zh[3] == "缺少时长：volunteer 按小时计分" and zh[4].startswith("未知党员")
    assert report.rows["points"].tolist()[:3] == [2.5, 1.0, 1.0]
    again = import_activities(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 3 and again.counts["imported"] == 0
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT count(*), sum(points) FROM party_activity WHERE source = 'import' "
                "AND extract(year FROM occurred_on) = :y"
            ),
            {"y": YEAR},
        ).one()
    assert tuple(stored) == (3, 4.5)
    with demo_engine.connect() as conn:
        other = conn.execute(
            text(
                "SELECT code FROM street WHERE code NOT IN (SELECT street_code FROM party_member "
                "WHERE external_id = :m) AND code LIKE '350304%' ORDER BY code LIMIT 1"
            ),
            {"m": first},
        ).scalar_one()
    refused = import_activities(demo_engine, path, street=other, dry_run=True, actor="test")
    assert refused.counts["rejected"] == 7
    assert f"outside street {other}" in refused.rows["reason"][0]
    imports = read_audit(demo_engine, object_type="activity", actor="test")
    assert len(imports) == 2 and imports.iloc[0]["action"] == "import"  # not the dry run


def _ranked_by_sql(engine: Engine, year: int) -> dict[str, tuple[str | None, int, float]]:
    """Each member's organisation, rank in it and points of ``year``, computed apart."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "WITH t AS (SELECT member_id, sum(points) AS points FROM party_activity "
                "WHERE occurred_on >= make_date(:y, 1, 1) "
                "AND occurred_on < make_date(:y + 1, 1, 1) "
                "GROUP BY member_id) "
                "SELECT m.external_id, p.external_id AS org, t.points, "
                "1 + (SELECT count(*) FROM t t2 JOIN party_member m2 ON m2.id = t2.member_id "
                "     WHERE m2.branch_id IS NOT DISTINCT FROM m.branch_id "
                "     AND t2.points > t.points) AS rank "
                "FROM t JOIN party_member m ON m.id = t.member_id "
                "LEFT JOIN party_branch p ON p.id = m.branch_id"
            ),
            {"y": year},
        )
        return {r.external_id: (r.org, int(r.rank), float(r.points)) for r in rows}


@pytest.fixture(scope="module")
def scored(demo_db: str) -> Iterator[dict[str, Any]]:
    """The module's demo copy with activity of :data:`YEAR`: ties, and members of several
    organisations."""
    engine = create_engine(demo_db)
    try:
        with engine.connect() as conn:
            members = conn.execute(
                text(
                    "SELECT m.id, m.external_id, m.street_code FROM party_member m "
                    "WHERE m.branch_id IN (SELECT branch_id FROM party_member "
                    "GROUP BY 1 HAVING count(*) >= 3 ORDER BY 1 LIMIT 3) ORDER BY m.id"
                )
            ).all()
        with engine.begin() as conn:
            for k, member in enumerate(members):
                for day in range(1 + k % 3):  # 1, 2 or 3 meetings: ties across members
                    conn.execute(
                        text(
                            "INSERT INTO party_activity (member_id, kind, occurred_on, points, "
                            "source, recorded_by) VALUES (:m, 'meeting', make_date(:y, 3, :d), "
                            "1, 'manual', 'test')"
                        ),
                        {"m": member.id, "y": YEAR, "d": day + 1},
                    )
        yield {"street": members[0].street_code}
    finally:
        engine.dispose()


def test_the_ranking_matches_independent_sql(web: Flask, demo_db: str, scored: dict) -> None:
    engine = create_engine(demo_db)
    try:
        expected = _ranked_by_sql(engine, YEAR)
        found = ranking(engine, year=YEAR)
        one_org = next(iter({v[0] for v in expected.values()}))
        only = ranking(engine, year=YEAR, organisation=one_org)
    finally:
        engine.dispose()
    got = {r["member"]: (r["organisation"], r["rank"], r["points"]) for r in found["rows"]}
    assert got == expected and len(got) > 3
    ranks = [r["rank"] for r in found["rows"]]
    assert 1 in ranks and len(set(ranks)) > 1 and len(set(ranks)) < len(ranks)  # ties share
    assert {r["organisation"] for r in only["rows"]} == {one_org}
    admin = role_client(web, "admin", prefix="pr")
    answer = response_json(admin.get(f"/api/party/ranking?year={YEAR}"), 200)
    assert answer["rows"] == found["rows"]
    page = admin.get(f"/party/points?year={YEAR}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and found["rows"][0]["name"] in html
    assert_no_inline_code(html)
    exported = admin.get(f"/api/party/ranking.csv?year={YEAR}")
    table = list(csv.DictReader(io.StringIO(exported.get_data().decode("utf-8-sig"))))
    assert [(r["党员编号"], int(r["名次"])) for r in table] == [
        (r["member"], r["rank"]) for r in found["rows"]
    ]
    office = role_client(web, "street", scored["street"], prefix="pr")
    seen = response_json(office.get(f"/api/party/ranking?year={YEAR}"), 200)["rows"]
    assert seen and all(
        r["name"] == next(f["name"] for f in found["rows"] if f["member"] == r["member"])
        for r in seen
    )
    analyst = role_client(web, "analyst", prefix="pr")
    masked = response_json(analyst.get(f"/api/party/ranking?year={YEAR}"), 200)["rows"]
    assert [r["points"] for r in masked] == [r["points"] for r in found["rows"]]
    assert all(r["name"] != f["name"] for r, f in zip(masked, found["rows"], strict=True))


def test_rules_are_set_by_administrators_and_audited(web: Flask, demo_db: str) -> None:
    admin = role_client(web, "admin", prefix="pr")
    with admin.session_transaction() as session:
        token = str(session["csrf"])
    answer = admin.post(
        "/party/points/rules",
        data={
            "kind": "study",
            "points": "3",
            "per": "each",
            "label_zh": "学习",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302
    rules = response_json(admin.get("/api/party/rules"), 200)["rules"]
    assert {"kind": "study", "label_zh": "学习", "label_en": "study", "points": 3.0,
            "per": "each"} in rules  # fmt: skip
    changed = admin.post(
        "/api/party/rules", json={"kind": "study", "points": 4.5}, headers={"X-CSRF-Token": token}
    )
    assert response_json(changed, 200)["points"] == 4.5
    office = role_client(web, "street", "350304001", prefix="pr")
    with office.session_transaction() as session:
        office_token = str(session["csrf"])
    refused = office.post(
        "/api/party/rules",
        json={"kind": "study", "points": 9},
        headers={"X-CSRF-Token": office_token},
    )
    assert refused.status_code == 403
    engine = create_engine(demo_db)
    try:
        trail = read_audit(engine, object_type="point_rule", object_id="study")
        assert len(trail) == 2
        with pytest.raises(Exception, match="needs its Chinese name"):
            set_rule(engine, "dancing", 2, actor="test")
        assert [r["kind"] for r in list_rules(engine)].count("study") == 1
    finally:
        engine.dispose()


def test_the_cli_sets_rules_and_writes_the_ranking(
    demo_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    runner = CliRunner()
    try:
        result = runner.invoke(main, ["party", "rules", "set", "volunteer", "1.5", "--per", "hour"])
        assert result.exit_code == 0, result.output
        listed = runner.invoke(main, ["party", "rules", "list"])
        assert "volunteer" in listed.output and "1.5 per hour" in listed.output
        bad = runner.invoke(main, ["party", "rules", "set", "Bad Kind", "1"])
        assert bad.exit_code == 1 and "`kind` was 'Bad Kind'" in bad.output
        out = tmp_path / "排名.xlsx"
        written = runner.invoke(main, ["party", "ranking", "--year", "2026", "-o", str(out)])
        assert written.exit_code == 0 and out.exists(), written.output
        printed = runner.invoke(main, ["party", "ranking", "--year", "2026"])
        assert printed.exit_code == 0, printed.output
    finally:
        dispose_engines()
