"""The register of key households (``gridgis import residents``): Chinese headers in any
order, addresses to buildings through the geocoder, a per-row report, one transaction,
an idempotent upsert, a template, an export read back; and the 大走访 exports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.access import Policy
from gridgis.export import export
from gridgis.export.visits import LEDGER_HEADER, write_ledger
from gridgis.party.campaigns import Visitor, create_campaign
from gridgis.party.ledger import list_ledger
from gridgis.party.visits import list_targets, log_visit
from gridgis.registers.reasons import say
from gridgis.registers.residents import import_residents
from gridgis.registers.templates import write_template


def _addresses(engine: Engine, n: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (str(r[0]), str(r[1]))
            for r in conn.execute(
                text(
                    "SELECT address, community_code FROM building WHERE address IS NOT NULL "
                    "ORDER BY id LIMIT :n"
                ),
                {"n": n},
            )
        ]


def _file(tmp_path: Path, engine: Engine, *, encoding: str = "utf-8-sig") -> Path:
    places = _addresses(engine, 3)
    frame = pd.DataFrame(
        {
            "备注": ["", "低保", "", "", ""],
            "户主": ["张建国", "李秀英", "王五", "赵六", "钱七"],
            "编号": ["R1", "R2", "R3", "R4", "R5"],
            "住址": [places[0][0], places[1][0], places[2][0], "火星路1号", places[0][0]],
            "类别": ["退役军人", "困难户、残疾人", "needy", "困难户", "外星人"],
            "电话": ["13800001111", "0594-2345678", "", "", ""],
            "房号": ["101", "202", "", "", ""],
        }
    )
    path = tmp_path / "重点户.csv"
    frame.to_csv(path, index=False, encoding=encoding)
    return path


def test_import_residents_reports_each_row_and_is_idempotent(
    demo_engine: Engine, tmp_path: Path
) -> None:
    path = _file(tmp_path, demo_engine, encoding="gbk")
    report = import_residents(demo_engine, path, actor="test")
    assert report.counts == {
        "read": 5, "imported": 3, "updated": 0, "unchanged": 0, "flagged": 0, "rejected": 2,
    }  # fmt: skip
    rows = report.rows.set_index("id")
    assert "not matched" in rows.at["R4", "reason"]
    assert "unknown household category '外星人'" in rows.at["R5", "reason"]
    assert "未知重点户类别" in say(rows.at["R5", "reason"], "zh")
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT r.external_id, r.categories, r.community_code = b.community_code "
                "FROM resident_household r JOIN building b ON b.id = r.building_id "
                "WHERE r.external_id LIKE 'R_' ORDER BY 1"
            )
        ).all()
    assert [(r[0], sorted(r[1]), r[2]) for r in stored] == [
        ("R1", ["veteran"], True), ("R2", ["disabled", "needy"], True), ("R3", ["needy"], True),
    ]  # fmt: skip
    again = import_residents(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 3 and again.counts["imported"] == 0

    # A masked export reads back unchanged; the template has the importer's headers.
    out = tmp_path / "residents.xlsx"
    export(demo_engine, "residents", "xlsx", out, actor="test")
    sheet = openpyxl.load_workbook(out).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names and all(n.endswith("*") for n in names)
    back = import_residents(demo_engine, out, actor="test")
    assert back.counts["unchanged"] == back.counts["read"] > 3
    template = write_template("residents", tmp_path / "模板.xlsx")
    headers = [c.value for c in openpyxl.load_workbook(template).worksheets[0][1]]
    assert headers[:3] == ["编号", "户主", "电话"]


def test_a_street_office_imports_only_its_street(demo_engine: Engine, tmp_path: Path) -> None:
    path = _file(tmp_path, demo_engine)
    community = _addresses(demo_engine, 1)[0][1]
    other = "350304999" if not community.startswith("350304999") else "350304001"
    report = import_residents(demo_engine, path, street=other, actor="test", dry_run=True)
    assert report.counts["imported"] == 0
    assert "outside street" in " ".join(report.rows["reason"].dropna())


def test_the_ledger_exports_in_the_chinese_layout(demo_engine: Engine, tmp_path: Path) -> None:
    import_residents(demo_engine, _file(tmp_path, demo_engine), actor="test")
    community = _addresses(demo_engine, 1)[0][1]
    today = dt.date.today()
    campaign = create_campaign(
        demo_engine, name="大走访", area=community, starts_on=today, ends_on=today, actor="t"
    )
    target = list_targets(demo_engine, campaign_id=campaign["id"])[0]
    with demo_engine.connect() as conn:
        user = conn.execute(
            text(
                "INSERT INTO app_user (name, role, password_hash) "
                "VALUES ('boss', 'admin', 'scrypt:x') RETURNING id"
            )
        ).scalar_one()
        conn.commit()
    log_visit(
        demo_engine, target["id"], policy=Policy(name="boss", role="admin"),
        visitor=Visitor(user_id=user), problems=[{"category": "市容环境", "description": "堆物"}],
        actor="boss",
    )  # fmt: skip
    entries = list_ledger(demo_engine, campaign_id=campaign["id"], people=lambda street: False)
    out = tmp_path / "台账.xlsx"
    assert write_ledger(out, entries, fmt="xlsx") == 1
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    assert list(rows[0]) == list(LEDGER_HEADER)
    assert rows[1][0] == 1 and rows[1][6] == "堆物" and rows[1][9] == "未销号"
    assert rows[1][3].endswith("*")  # the target's name, masked
    gpkg = tmp_path / "台账.gpkg"
    write_ledger(gpkg, entries, fmt="gpkg")
    from gridgis.cli import main

    result = CliRunner().invoke(
        main, ["export", "ledger", "--format", "csv", "--campaign", str(campaign["id"]),
               "-o", str(tmp_path / "l.csv")],
        env={"GRIDGIS_DATABASE_URL": demo_engine.url.render_as_string(hide_password=False)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "l.csv").read_text(encoding="utf-8-sig").startswith("序号,社区,网格")
