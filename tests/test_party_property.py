"""红心物业 (issue 19): the register of compounds and how each is managed.

The importer (good and bad rows, both languages, dry run, upsert, a street office's
limits, its export read back), the demo at plausible proportions through the importer,
the figures of the API against independent counts over the database, the 物业管理 cases
per compound, the edit (audited, kept within a street office's street, refused to
analysts) and people's data masked per role on the page, the API and the exports."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import add_test_user, log_in_client, response_json
from flask import Flask
from sqlalchemy import Engine, create_engine, text

from gridgis.audit import mask_person
from gridgis.cli import main
from gridgis.party.compound_edits import set_management
from gridgis.party.compounds import CASE_REACH_M, case_window, list_compounds
from gridgis.registers.catalogue import import_kind
from gridgis.registers.compounds import import_compounds
from gridgis.registers.templates import write_template
from gridgis.web import create_app

_HEADERS = ["社区", "小区", "老旧小区", "建成年份", "管理方式", "红心物业模式", "物业公司",
            "联系人", "联系电话", "包保单位", "牵头党组织", "起始日期", "备注"]  # fmt: skip


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _unregistered(engine: Engine, street: str | None = None) -> list[tuple[str, str]]:
    """Compounds with households that the register does not name (independent SQL)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT b.community_code, b.compound FROM building b "
                "LEFT JOIN compound_management m "
                "  ON m.community_code = b.community_code AND m.name = b.compound "
                "WHERE b.compound IS NOT NULL AND m.id IS NULL "
                "  AND b.community_code LIKE :like "
                "GROUP BY 1, 2 HAVING sum(b.households) > 0 ORDER BY 1, 2"
            ),
            {"like": f"{street or ''}%"},
        ).all()
    return [(str(c), str(n)) for c, n in rows]


def _unit(engine: Engine, street: str) -> str | None:
    """The file id of a 驻区单位 of ``street`` (``None``: it has none)."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT external_id FROM party_unit WHERE street_code = :s ORDER BY id LIMIT 1"),
            {"s": street},
        ).scalar()


def _file(folder: Path, rows: list[list[object]]) -> Path:
    path = folder / "小区物业.csv"
    pd.DataFrame(rows, columns=_HEADERS).to_csv(path, index=False, encoding="gbk")
    return path


def test_the_demo_registers_its_urban_compounds_through_the_importer(
    demo_engine: Engine,
) -> None:
    with demo_engine.connect() as conn:
        by = dict(
            conn.execute(
                text(
                    "SELECT old::text || '/' || management || '/' || coalesce(red_mode, ''), "
                    "count(*) FROM compound_management GROUP BY 1"
                )
            ).all()
        )
        audits = conn.execute(
            text(
                "SELECT action, actor FROM audit_log WHERE object_type = 'compound' "
                "AND action = 'import'"
            )
        ).all()
    old = {k: v for k, v in by.items() if k.startswith("true/")}
    old_total = sum(old.values())
    red = sum(v for k, v in old.items() if "/red/" in k)
    assert old_total >= 20
    assert red / old_total > 0.5  # most old compounds are under 红心物业 ...
    assert {k.rsplit("/", 1)[1] for k in old if "/red/" in k} == {
        "service", "autonomy", "unit", "community",
    }  # fmt: skip
    assert old.get("true/company/", 0) > 0 and 0 < old.get("true/none/", 0) < red  # a few none
    assert ("import", "demo") in [tuple(a) for a in audits]
    # Every compound named in the register is a compound of its community's buildings.
    assert (
        _scalar(
            demo_engine,
            "SELECT count(*) FROM compound_management m WHERE NOT EXISTS (SELECT 1 FROM building b "
            "WHERE b.community_code = m.community_code AND b.compound = m.name)",
        )
        == 0
    )


def test_the_importer_reports_each_row_in_both_languages(
    demo_engine: Engine, tmp_path: Path
) -> None:
    template = write_template("compounds", tmp_path / "模板.xlsx")
    assert pd.read_excel(template, nrows=0).columns.tolist() == _HEADERS
    assert import_kind("compounds").street_limited
    pairs = [(r["community_code"], r["name"]) for r in list_compounds(demo_engine)]
    community = next(
        c for c, _ in pairs if sum(k == c for k, _ in pairs) >= 2 and _unit(demo_engine, c[:9])
    )
    first, second = [n for c, n in pairs if c == community][:2]
    street = community[:9]
    unit = _unit(demo_engine, street)
    rows = [
        [community, first, "是", 1990, "红心物业", "居民自治", None, "陈明", "13712345678",
         None, None, "2023-05-01", None],
        [community, second, None, 1992, "驻区单位包保", None, None, "王强", "0594-2345678",
         unit, None, "2024年3月", "单位包保"],
        [community, "没有这个小区", "是", None, "无", None, None, None, None, None, None,
         None, None],
        [community, first, "是", "古代", "红心物业", None, "某物业公司", None, "call me",
         "DW-none", "没有的党组织", "昨天", None],
        ["不存在的社区", first, None, None, "外包", None, None, None, None, None, None,
         None, None],
    ]  # fmt: skip
    path = _file(tmp_path, rows)
    before = _scalar(demo_engine, "SELECT count(*) FROM compound_management")
    dry = import_compounds(demo_engine, path, dry_run=True, actor="test")
    assert dry.counts["rejected"] == 4 and dry.counts["imported"] + dry.counts["updated"] == 1
    assert _scalar(demo_engine, "SELECT count(*) FROM compound_management") == before
    report = import_compounds(demo_engine, path, actor="test")
    reasons = dict(zip(report.rows["row"], report.rows["reason"], strict=True))
    zh = dict(zip(report.rows["row"], report.reasons_in("zh"), strict=True))
    codes = dict(zip(report.rows["row"], report.rows["reason_code"], strict=True))
    assert f"compound '{first}' is used by rows 2, 5 of the file" in reasons[2]
    assert reasons[4] == (
        f"unknown compound '没有这个小区': no building of community {community} names it"
    )
    assert zh[4] == f"未知小区 '没有这个小区'：社区 {community} 没有楼栋属于该小区"
    assert codes[5].split(";") == [
        "duplicate_id", "missing", "company_not_company", "unit_not_unit_mode",
        "unknown_resident_unit", "unknown_organisation", "bad_built_year", "bad_phone",
        "not_a_date",
    ]  # fmt: skip
    assert "未知管理方式 '外包'" in zh[6] and "未知社区 '不存在的社区'" in zh[6]
    assert "unknown" not in ";".join(c for c in codes.values() if isinstance(c, str)).split(";")
    stored = {r["name"]: r for r in list_compounds(demo_engine, within=community, reveal=True)}
    assert (stored[second]["management"], stored[second]["red_mode"]) == ("red", "unit")
    assert stored[second]["unit_external_id"] == unit and stored[second]["old"]  # 1992: old
    assert stored[second]["since"] == "2024-03-01"
    again = import_compounds(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 1 and again.counts["rejected"] == 4
    # A street office's file is kept within its street.
    other = next(c for c, _ in pairs if not c.startswith(street))
    office = import_compounds(demo_engine, path, street=other[:9], dry_run=True, actor="t")
    assert (
        f"the compound lies in community {community}, outside street {other[:9]}"
        in office.rows["reason"][1]
    )


def test_the_export_reads_back_masked_and_holds_the_outlines(
    demo_engine: Engine, demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    runner = CliRunner()
    xlsx = tmp_path / "compounds.xlsx"
    result = runner.invoke(main, ["export", "compounds", "--format", "xlsx", "-o", str(xlsx)])
    assert result.exit_code == 0, result.output
    registered = _scalar(demo_engine, "SELECT count(*) FROM compound_management")
    sheet = openpyxl.load_workbook(xlsx).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in r], strict=True)) for r in sheet.iter_rows(2)]
    assert len(rows) == registered
    named = [r for r in rows if r["contact"]]
    assert named and all("*" in r["contact"] and "*" in r["contact_phone"] for r in named)
    back = runner.invoke(main, ["import", "compounds", str(xlsx), "--dry-run"])
    assert back.exit_code == 0, back.output
    assert f"unchanged: {registered}" in back.output  # masked values are the stored ones
    gpkg = tmp_path / "compounds.gpkg"
    result = runner.invoke(main, ["export", "compounds", "--format", "gpkg", "-o", str(gpkg)])
    assert result.exit_code == 0, result.output
    frame = pyogrio.read_dataframe(gpkg)
    assert len(frame) == registered
    assert set(frame.geometry.geom_type) == {"Polygon"} and frame.geometry.is_valid.all()
    # Each outline holds its compound's buildings.
    with demo_engine.connect() as conn:
        outside = conn.execute(
            text(
                "SELECT count(*) FROM building b JOIN compound_management m "
                "ON m.community_code = b.community_code AND m.name = b.compound"
            )
        ).scalar_one()
    assert outside > len(frame)


def _figures_by_sql(engine: Engine, street: str) -> dict[str, dict[str, int]]:
    """The figures per community counted over the database, independently of the library."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "WITH c AS (SELECT community_code, compound FROM building "
                "  WHERE compound IS NOT NULL AND community_code LIKE :like "
                "  GROUP BY 1, 2 HAVING sum(households) > 0 "
                "  UNION SELECT community_code, name FROM compound_management "
                "  WHERE community_code LIKE :like) "
                "SELECT c.community_code, count(*), count(m.id), "
                "  count(*) FILTER (WHERE m.old), "
                "  count(*) FILTER (WHERE m.management IN ('company', 'red')), "
                "  count(*) FILTER (WHERE m.management = 'none'), "
                "  count(*) FILTER (WHERE m.red_mode = 'unit') "
                "FROM c LEFT JOIN compound_management m "
                "  ON m.community_code = c.community_code AND m.name = c.compound "
                "GROUP BY 1"
            ),
            {"like": f"{street}%"},
        ).all()
    keys = ("compounds", "registered", "old", "managed", "none", "unit")
    return {str(r[0]): dict(zip(keys, map(int, r[1:]), strict=True)) for r in rows}


@pytest.fixture
def demo_app(demo_url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": demo_url})


def test_the_figures_match_independent_counts(demo_app: Flask, demo_url: str) -> None:
    engine = create_engine(demo_url)
    try:
        street = str(
            _scalar(
                engine,
                "SELECT left(community_code, 9) FROM compound_management "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
            )
        )
        expected = _figures_by_sql(engine, street)
        since, until = case_window(engine)
        # Cases: by their building, else the nearest building of their community in reach.
        cases = _scalar(
            engine,
            "SELECT count(*) FROM case_record c, LATERAL (SELECT b.compound FROM building b "
            "  WHERE b.community_code = c.community_code AND ST_DWithin(b.location::geography, "
            "  c.geom::geography, :reach) ORDER BY b.location <-> c.geom LIMIT 1) near "
            "WHERE c.category_code = 'property_management' AND c.community_code LIKE :like "
            "AND c.reported_at >= :since AND c.reported_at < :until AND near.compound IN ("
            "  SELECT compound FROM building WHERE community_code = c.community_code "
            "  GROUP BY 1 HAVING sum(households) > 0)",
            reach=CASE_REACH_M, like=f"{street}%",
            since=f"{since} 00:00+08", until=f"{until} 00:00+08",
        )  # fmt: skip
    finally:
        engine.dispose()
    add_test_user(demo_url, "property-analyst", role="analyst")
    client = demo_app.test_client()
    log_in_client(client, "property-analyst")
    answer = response_json(client.get(f"/api/party/compounds/figures?area={street}"), 200)
    got = {r["community_code"]: r for r in answer["communities"]}
    assert set(got) == set(expected)
    for code, counts in expected.items():
        for key, value in counts.items():
            assert got[code][key] == value, (code, key)
        managed = got[code]["managed_share"]
        assert managed == (
            round(counts["managed"] / counts["registered"], 4) if counts["registered"] else None
        )
    total = answer["total"]
    assert total["compounds"] == sum(c["compounds"] for c in expected.values())
    assert total["none"] == sum(c["none"] for c in expected.values())
    assert total["cases"] == cases and cases > 0
    assert answer["since"] == since.isoformat() and answer["until"] == until.isoformat()
    listed = response_json(client.get(f"/api/party/compounds?area={street}&management=none"), 200)
    assert len(listed["compounds"]) == total["none"]
    assert all(r["management"] == "none" for r in listed["compounds"])


def test_people_are_masked_per_role_and_edits_kept_within_a_street(
    demo_app: Flask, demo_url: str
) -> None:
    engine = create_engine(demo_url)
    try:
        rows = list_compounds(engine, reveal=True)
        named = [r for r in rows if r["contact"]]
        mine = named[0]["community_code"][:9]
        other = next(r for r in named if not r["community_code"].startswith(mine))
        target = next(
            r for r in rows if r["community_code"].startswith(mine) and r["management"] == "none"
        )
        unit = _unit(engine, mine)
    finally:
        engine.dispose()
    add_test_user(demo_url, "property-office", role="street", street=mine)
    add_test_user(demo_url, "property-analyst2", role="analyst")
    office = demo_app.test_client()
    token = log_in_client(office, "property-office")
    seen = response_json(office.get("/api/party/compounds?outlines=true"), 200)["compounds"]
    assert seen and all(r["community_code"].startswith(mine) for r in seen)
    assert all(r["outline"] is None or r["outline"]["type"] == "Polygon" for r in seen)
    real = {(r["community_code"], r["name"]): r for r in rows}
    assert all(r["contact"] == real[(r["community_code"], r["name"])]["contact"] for r in seen)
    assert response_json(office.get(f"/api/party/compounds?area={other['community_code']}"), 403)
    page = office.get("/party/property")
    assert page.status_code == 200 and "红心物业" in page.get_data(as_text=True)
    assert office.get(f"/party/property?street={other['community_code'][:9]}").status_code == 403
    analyst = demo_app.test_client()
    analyst_token = log_in_client(analyst, "property-analyst2")
    everyone = response_json(analyst.get("/api/party/compounds"), 200)["compounds"]
    assert {(r["community_code"], r["name"]): r["contact"] for r in everyone if r["contact"]} == {
        k: mask_person(r["contact"], "contact") for k, r in real.items() if r["contact"]
    }
    assert all("*" in r["contact_phone"] for r in everyone if r["contact_phone"])
    # The export page's route masks for the analyst, not for the street office.
    masked = pd.read_csv(io.BytesIO(analyst.get("/api/export/compounds.csv").data), dtype=str)
    assert masked["contact"].dropna().str.contains(r"\*").all()
    own = pd.read_csv(
        io.BytesIO(office.get(f"/api/export/compounds.csv?street={mine}").data), dtype=str
    )
    assert len(own) and not own["contact"].dropna().str.contains(r"\*").any()
    assert "compounds" in analyst.get("/export").get_data(as_text=True)
    # Edits: the street office in its street (audited), refused elsewhere and to analysts.
    body = {"community": target["community_code"], "compound": target["name"],
            "management": "red", "red_mode": "unit", "unit": unit, "contact": "赵六",
            "contact_phone": "13611112222", "since": "2025-06-01"}  # fmt: skip
    saved = office.post("/api/party/compounds", json=body, headers={"X-CSRF-Token": token})
    answer = response_json(saved, 200)
    assert (answer["management"], answer["red_mode"], answer["contact"]) == ("red", "unit", "赵六")
    assert answer["unit_external_id"] == unit
    audit_engine = create_engine(demo_url)
    with audit_engine.connect() as conn:
        trail = conn.execute(
            text(
                "SELECT actor, action FROM audit_log WHERE object_type = 'compound' "
                "AND object_id = :id"
            ),
            {"id": f"{target['community_code']}/{target['name']}"},
        ).all()
    audit_engine.dispose()
    assert [tuple(t) for t in trail] == [("property-office", "update")]
    away = body | {"community": other["community_code"], "compound": other["name"]}
    assert response_json(
        office.post("/api/party/compounds", json=away, headers={"X-CSRF-Token": token}), 403
    )
    wrong = body | {"red_mode": "service", "company": "某公司"}
    error = response_json(
        office.post("/api/party/compounds?lang=zh", json=wrong, headers={"X-CSRF-Token": token}),
        400,
    )["error"]["message"]
    assert "填了物业公司 '某公司'，但管理方式是红心物业" in error
    assert response_json(
        analyst.post("/api/party/compounds", json=body, headers={"X-CSRF-Token": analyst_token}),
        403,
    )


def test_set_management_refuses_what_it_cannot_store(demo_engine: Engine) -> None:
    (community, name), *_ = _unregistered(demo_engine)
    with pytest.raises(ValueError, match=r"company missing"):
        set_management(demo_engine, community, name, management="company", actor="t")
    with pytest.raises(LookupError, match=r"unknown compound '无名'"):
        set_management(demo_engine, community, "无名", management="none", actor="t")
    with pytest.raises(PermissionError, match=r"street 999999999 only"):
        set_management(demo_engine, community, name, management="none", within="999999999",
                       actor="t")  # fmt: skip
    stored = set_management(demo_engine, community, name, management="none", built_year=1988,
                            actor="t")  # fmt: skip
    assert stored["old"] is True  # built in 2000 or before: old when the flag is not given
