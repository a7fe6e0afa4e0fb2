"""驻区单位, 联合体 and the needs list (issue 19 point 5): the importer (template, per-row report,
dry run, street limits, reading its export back), the demo at the seeds' proportions,
alliances and needs audited and kept within a street office's street, people's data
masked outside the street on the API and in exports."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import add_test_user, cell_point, log_in_client, response_json
from flask import Flask
from sqlalchemy import Engine, create_engine, func, select, text

from gridgis.audit import mask_person
from gridgis.cli import main
from gridgis.db.models import PartyAlliance, PartyAllianceUnit, PartyNeed, PartyUnit
from gridgis.demo.party_units import ALLIANCE_CELLS
from gridgis.errors import ConflictError, ForbiddenError, NotFoundError
from gridgis.export import export
from gridgis.party.alliances import add_alliance, join_alliance, leave_alliance, list_units
from gridgis.party.needs import claim_need, finish_need, list_needs, post_need
from gridgis.registers.catalogue import import_kind
from gridgis.registers.reasons import UNKNOWN, say
from gridgis.registers.resident_units import import_resident_units
from gridgis.registers.templates import write_template
from gridgis.web import create_app


def _streets(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT DISTINCT left(community_code, 9) FROM grid_cell ORDER BY 1")
            ).scalars()
        )


def _audits(engine: Engine, object_type: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.action, r.actor)
            for r in conn.execute(
                text("SELECT action, actor FROM audit_log WHERE object_type = :t ORDER BY id"),
                {"t": object_type},
            )
        ]


def test_the_demo_joins_units_in_alliances_at_the_seeds_proportions(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        cells = conn.execute(
            text(
                "SELECT left(community_code, 9), count(*) FROM grid_cell "
                "WHERE valid_to IS NULL GROUP BY 1"
            )
        ).all()
        alliances = dict(
            conn.execute(
                select(PartyAlliance.street_code, func.count()).group_by(PartyAlliance.street_code)
            ).all()
        )
        sizes = conn.execute(
            select(func.count(), func.count().filter(PartyAllianceUnit.committee)).group_by(
                PartyAllianceUnit.alliance_id
            )
        ).all()
        states = dict(conn.execute(select(PartyNeed.state, func.count()).group_by("state")).all())
        units = conn.execute(select(func.count()).select_from(PartyUnit)).scalar_one()
    for street, n in cells:
        assert alliances[street] == max(1, round(n / ALLIANCE_CELLS)), street
    assert all(3 <= size <= 8 and 1 <= seated <= 2 for size, seated in sizes)
    assert units == sum(size for size, _ in sizes)
    assert set(states) == {"open", "claimed", "done"}
    # Loaded through the importer: one import row of the units, by the demo.
    assert ("import", "demo") in _audits(demo_engine, "resident_unit")


def _register(engine: Engine, folder: Path) -> Path:
    """A file a street office fills in: five rows, two good, three wrong."""
    cell, lon, lat = cell_point(engine)
    community = cell[:12]
    add_alliance(engine, "测试联合体", street=cell[:9], actor="test")
    rows = [
        ["T1", "市第一中学", "学校", lon, lat, community, "陈明", "13712345678", "一中党总支",
         "林华", community, "测试联合体", "是"],
        ["T2", "某某建设有限公司", "公司", lon, lat, None, "王强", "0594-2345678", None, None,
         None, None, "否"],
        ["T3", "神秘单位", "外星机构", lon, lat, None, None, None, None, None, None, None, "是"],
        ["T4", "农商银行", "企业", lon, lat, None, "李四", "call me", None, None, None,
         "没有的联合体", None],
        ["T5", "无处可寻", "机关", None, None, None, None, None, None, None, None, None, None],
    ]  # fmt: skip
    headers = ["编号", "单位名称", "单位类型", "经度", "纬度", "所在社区", "联系人", "联系电话",
               "党组织", "党组织书记", "结对社区", "联合体", "兼职委员"]  # fmt: skip
    path = folder / "驻区单位.csv"
    pd.DataFrame(rows, columns=headers).to_csv(path, index=False, encoding="gbk")
    return path


def test_the_importer_reports_each_row_and_upserts(demo_engine: Engine, tmp_path: Path) -> None:
    template = write_template("resident-units", tmp_path / "模板.xlsx")
    headers = pd.read_excel(template, nrows=0).columns.tolist()
    assert headers[:3] == ["编号", "单位名称", "单位类型"] and "兼职委员" in headers
    assert import_kind("resident-units").street_limited
    path = _register(demo_engine, tmp_path)
    with demo_engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(PartyUnit)).scalar_one()
    dry = import_resident_units(demo_engine, path, dry_run=True, actor="test")
    assert dry.counts == {"read": 5, "imported": 2, "updated": 0, "unchanged": 0,
                          "flagged": 0, "rejected": 3}  # fmt: skip
    with demo_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(PartyUnit)).scalar_one() == before
    report = import_resident_units(demo_engine, path, actor="test")
    assert report.counts["imported"] == 2 and report.counts["rejected"] == 3
    reasons = dict(zip(report.rows["id"], report.rows["reason"], strict=True))
    assert "unknown kind '外星机构'" in reasons["T3"]
    assert "phone 'call me'" in reasons["T4"] and "没有的联合体" in reasons["T4"]
    assert "no coordinates and no address" in reasons["T5"]
    assert "committee member (兼职委员) but in no alliance" in reasons["T3"]
    # Every reason has its code and its Chinese.
    rejected = report.rows[report.rows["reason"].notna()]
    assert not [c for c in rejected["reason_code"] if UNKNOWN in str(c).split(";")]
    assert "未知联合体 '没有的联合体'" in say(reasons["T4"], "zh")
    assert "不属于任何联合体" in say(reasons["T3"], "zh")
    units = {u["external_id"]: u for u in list_units(demo_engine, reveal=True)}
    first = units["T1"]
    assert (first["kind"], first["contact"], first["party_leader"]) == ("school", "陈明", "林华")
    assert first["alliances"] == [{"id": first["alliances"][0]["id"], "name": "测试联合体",
                                   "committee": True}]  # fmt: skip
    assert units["T2"]["kind"] == "enterprise"
    again = import_resident_units(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 2 and again.counts["imported"] == 0
    # A street office's file: rows of another street are rejected with the reason.
    other = next(s for s in _streets(demo_engine) if s != first["street_code"])
    limited = import_resident_units(demo_engine, path, street=other, dry_run=True, actor="test")
    assert limited.counts["imported"] == 0
    away = limited.rows["reason"].dropna()
    assert f"outside street {other}" in " ".join(away)
    assert not [c for c in limited.rows["reason_code"].dropna() if UNKNOWN in str(c).split(";")]


def test_the_export_reads_back_masked_or_not(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(PartyUnit)).scalar_one()
    for reveal, name in ((False, "masked.csv"), (True, "plain.xlsx")):
        path = tmp_path / name
        result = export(demo_engine, "units", path.suffix[1:], path, reveal=reveal, actor="t")
        assert result.rows == stored
        frame = pd.read_csv(path, dtype=str) if name.endswith("csv") else pd.read_excel(path)
        assert frame["contact"].str.contains(r"\*").all() != reveal
        back = import_resident_units(demo_engine, path, actor="test")
        assert back.counts["unchanged"] == stored, back.rows["reason"].dropna().tolist()[:3]
    gpkg = tmp_path / "units.gpkg"
    export(demo_engine, "units", "gpkg", gpkg)
    assert import_resident_units(demo_engine, gpkg, actor="t").counts["unchanged"] == stored


def test_alliances_and_needs_are_audited_and_kept_within_a_street(demo_engine: Engine) -> None:
    mine, other = _streets(demo_engine)[:2]
    units = list_units(demo_engine, reveal=True)
    own = next(u for u in units if u["street_code"] == mine)
    away = next(u for u in units if u["street_code"] == other and mine not in "".join(u["linked"]))
    with pytest.raises(ForbiddenError, match=f"in street {mine} only"):
        add_alliance(demo_engine, "越界联合体", street=other, within=mine, actor="office")
    added = add_alliance(demo_engine, "本街联合体", street=mine, within=mine, actor="office")
    with pytest.raises(ConflictError, match="exists already"):
        add_alliance(demo_engine, "本街联合体", street=mine, actor="office")
    join_alliance(demo_engine, added["id"], own["external_id"], committee=True, within=mine,
                  actor="office")  # fmt: skip
    leave_alliance(demo_engine, added["id"], own["external_id"], within=mine, actor="office")
    with pytest.raises(NotFoundError, match="is not in alliance"):
        leave_alliance(demo_engine, added["id"], own["external_id"], actor="office")
    assert [a for a in _audits(demo_engine, "alliance") if a[1] == "office"] == [
        ("create", "office"), ("join", "office"), ("leave", "office"),
    ]  # fmt: skip
    community = own["community_code"]
    need = post_need(demo_engine, community=community, title="加装路灯", kind="需求",
                     within=mine, actor="office")  # fmt: skip
    assert need["state"] == "open" and need["kind"] == "need"
    with pytest.raises(ForbiddenError, match="may be posted in street"):
        post_need(demo_engine, community=away["community_code"], title="x", within=mine,
                  actor="office")  # fmt: skip
    with pytest.raises(ForbiddenError, match="not linked to community"):
        claim_need(demo_engine, need["id"], away["external_id"], within=mine, actor="office")
    claimed = claim_need(demo_engine, need["id"], own["external_id"], within=mine, actor="office")
    assert (claimed["state"], claimed["unit"]) == ("claimed", own["name"])
    with pytest.raises(ConflictError, match="claimed already"):
        claim_need(demo_engine, need["id"], own["external_id"], actor="admin")
    foreign = next(n for n in list_needs(demo_engine, within=other))
    with pytest.raises(NotFoundError, match=f"need {foreign['id']} does not exist"):
        finish_need(demo_engine, foreign["id"], note="越界", within=mine, actor="office")
    done = finish_need(demo_engine, need["id"], note="路灯已安装", within=mine, actor="office")
    assert (done["state"], done["done_note"], done["done_by"]) == ("done", "路灯已安装", "office")
    with pytest.raises(ConflictError, match="only a claimed need"):
        finish_need(demo_engine, need["id"], actor="office")
    assert [a for a in _audits(demo_engine, "need") if a[1] == "office"] == [
        ("create", "office"), ("claim", "office"), ("done", "office"),
    ]  # fmt: skip


@pytest.fixture
def demo_app(demo_url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": demo_url})


def test_the_api_masks_people_outside_the_street_and_scopes_changes(
    demo_app: Flask, demo_url: str
) -> None:
    engine = create_engine(demo_url)
    try:
        mine, other = _streets(engine)[:2]
        stored = {u["id"]: u for u in list_units(engine, reveal=True)}
        foreign = next(n for n in list_needs(engine, within=other, state="open"))
        own_need = next(n for n in list_needs(engine, within=mine, state="open"))
    finally:
        engine.dispose()
    add_test_user(demo_url, "units-office", role="street", street=mine)
    add_test_user(demo_url, "units-analyst", role="analyst")
    office = demo_app.test_client()
    token = log_in_client(office, "units-office")
    seen = response_json(office.get("/api/party/units"), 200)["units"]
    assert seen and all(
        u["community_code"].startswith(mine) or any(c.startswith(mine) for c in u["linked"])
        for u in seen
    )
    for unit in seen:
        real = stored[unit["id"]]
        if (unit["community_code"] or "").startswith(mine):
            assert unit["contact"] == real["contact"]
        else:  # linked to the street but lying in another: masked
            assert unit["contact"] == mask_person(real["contact"], "contact")
    assert response_json(office.get(f"/api/party/units?area={other}"), 403)
    analyst = demo_app.test_client()
    log_in_client(analyst, "units-analyst")
    everyone = response_json(analyst.get("/api/party/units"), 200)["units"]
    assert len(everyone) == len(stored)
    assert all(u["contact_phone"] is None or "*" in u["contact_phone"] for u in everyone)
    masked = analyst.get("/api/party/units.csv")
    assert masked.status_code == 200
    frame = pd.read_csv(io.BytesIO(masked.data), dtype=str)
    assert frame["party_leader"].dropna().str.contains(r"\*").all()
    headers = {"X-CSRF-Token": token}
    # A street office cannot act in another street: its needs are "not found".
    unit = next(u for u in seen if (u["community_code"] or "").startswith(mine))
    refused = office.post(f"/api/party/needs/{foreign['id']}/claim",
                          json={"unit": unit["external_id"]}, headers=headers)  # fmt: skip
    assert response_json(refused, 404)["error"]["message"] == f"need {foreign['id']} does not exist"
    claimed = office.post(f"/api/party/needs/{own_need['id']}/claim",
                          json={"unit": unit["external_id"]}, headers=headers)  # fmt: skip
    assert response_json(claimed, 200)["state"] == "claimed"
    done = office.post(f"/api/party/needs/{own_need['id']}/done", json={"note": "已办结"},
                       headers=headers)  # fmt: skip
    assert response_json(done, 200)["done_note"] == "已办结"
    posted = office.post("/api/party/needs", json={"community": foreign["community_code"],
                         "title": "越界"}, headers=headers)  # fmt: skip
    assert response_json(posted, 403)
    page = office.get(f"/party/units?street={mine}")
    assert page.status_code == 200 and "需求清单" in page.get_data(as_text=True)
    assert office.get(f"/party/units?street={other}").status_code == 403


def test_the_cli_adds_lists_and_joins_alliances(demo_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    engine = create_engine(demo_url)
    try:
        street = _streets(engine)[0]
        unit = next(u for u in list_units(engine) if u["street_code"] == street)
    finally:
        engine.dispose()
    runner = CliRunner()
    added = runner.invoke(main, ["party", "alliances", "add", "命令行联合体", "--street", street])
    assert added.exit_code == 0, added.output
    joined = runner.invoke(
        main, ["party", "alliances", "join", "命令行联合体", unit["external_id"], "--committee"]
    )
    assert joined.exit_code == 0 and "兼职委员" in joined.output, joined.output
    listed = runner.invoke(main, ["party", "alliances", "list", "--area", street])
    assert "命令行联合体" in listed.output
    shown = runner.invoke(main, ["party", "sanling-categories"])
    assert "safety_accident" in shown.output
    wrong = runner.invoke(main, ["party", "alliances", "leave", "命令行联合体", "没有的单位"])
    assert wrong.exit_code == 1 and "no unit has it" in wrong.output
