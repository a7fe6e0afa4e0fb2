"""Importing the units (单元) of buildings: upserted on (building, unit), rejections by row."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import insert_sample_areas
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.registers.reasons import codes
from gridgis.registers.templates import write_template
from gridgis.registers.units import import_units


@pytest.fixture
def buildings(engine: Engine) -> Engine:
    """荔城区 with buildings B1 and B2 in 英龙社区."""
    insert_sample_areas(engine)
    with engine.begin() as conn:
        for ident in ("B1", "B2"):
            conn.execute(
                text(
                    "INSERT INTO building (external_id, community_code, location) VALUES "
                    "(:ident, '350304001001', ST_SetSRID(ST_MakePoint(119.01, 25.43), 4326))"
                ),
                {"ident": ident},
            )
    return engine


def _csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["楼栋编号,单元,户数", *lines]) + "\n", encoding="utf-8")
    return path


def _units(engine: Engine) -> list[tuple[str, int, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT b.external_id, u.number, u.households FROM building_unit u "
                "JOIN building b ON b.id = u.building_id ORDER BY 1, 2"
            )
        )
        return [tuple(r) for r in rows]


def test_second_import_of_the_same_file_changes_nothing(buildings: Engine, tmp_path: Path) -> None:
    path = _csv(tmp_path / "单元.csv", ["B1,1,12", "B1,2单元,14", "B2,1,"])
    first = import_units(buildings, path, actor="test")
    assert first.counts == {"read": 3, "imported": 3, "updated": 0, "unchanged": 0,
                            "flagged": 0, "rejected": 0}  # fmt: skip
    assert _units(buildings) == [("B1", 1, 12), ("B1", 2, 14), ("B2", 1, 0)]
    again = import_units(buildings, path, actor="test")
    assert again.counts["unchanged"] == 3 and again.counts["imported"] == 0
    changed = import_units(buildings, _csv(tmp_path / "b.csv", ["B1,2,15"]), actor="test")
    assert changed.counts["updated"] == 1
    assert changed.rows["changes"].tolist() == ["households 14 → 15"]
    assert _units(buildings) == [("B1", 1, 12), ("B1", 2, 15), ("B2", 1, 0)]
    with buildings.connect() as conn:
        audits = conn.execute(
            text(
                "SELECT summary->'after' FROM audit_log WHERE action = 'import' "
                "AND object_type = 'unit' ORDER BY id"
            )
        ).scalars()
        assert [(a["file"], a["imported"], a["unchanged"]) for a in audits] == [
            ("单元.csv", 3, 0), ("单元.csv", 0, 3), ("b.csv", 0, 0),
        ]  # fmt: skip


def test_rejected_rows_have_their_number_and_reason(buildings: Engine, tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "单元.csv",
        ["B1,1,12", "B9,1,3", "B1,二,3", "B2,1,-3", "B2,3,1", "B2,3,2", ",1,1"],
    )
    report = import_units(buildings, path, actor="test")
    rejected = report.rows[report.rows["outcome"] == "rejected"].set_index("row")["reason"]
    assert rejected.to_dict() == {
        3: "unknown building 'B9': no stored building has that id",
        4: "unit '二' is not a unit number such as 2 or 2单元",
        5: "households '-3' is negative",
        6: "unit 'B2/3' is used by rows 6, 7 of the file",
        7: "unit 'B2/3' is used by rows 6, 7 of the file",
        8: "building missing",
    }
    # Every reason has its code (and so its Chinese words on the import page).
    assert [codes(r) for r in rejected] == [
        "unknown_building_id", "bad_unit", "negative", "duplicate_id", "duplicate_id", "missing",
    ]  # fmt: skip
    assert report.counts["imported"] == 1 and _units(buildings) == [("B1", 1, 12)]


def test_runs_in_the_callers_transaction_and_rolls_back_with_it(
    buildings: Engine, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "单元.csv", ["B1,1,12"])
    with buildings.connect() as conn, conn.begin() as transaction:
        assert import_units(conn, path, actor="test").counts["imported"] == 1
        assert conn.execute(text("SELECT count(*) FROM building_unit")).scalar_one() == 1
        transaction.rollback()
    assert _units(buildings) == []


def test_template_and_cli(buildings: Engine, env_database: str, tmp_path: Path) -> None:
    template = write_template("units", tmp_path / "单元.xlsx")
    runner = CliRunner()
    result = runner.invoke(main, ["import", "units", str(template)])
    assert result.exit_code == 0, result.output
    # The example row names building LJZ-0001, which this database does not have.
    assert "unknown building 'LJZ-0001'" in result.output
    path = _csv(tmp_path / "u.csv", ["B1,1,12", "B2,2,8"])
    result = runner.invoke(main, ["import", "units", str(path)])
    assert result.exit_code == 0, result.output
    assert _units(buildings) == [("B1", 1, 12), ("B2", 2, 8)]
    again = runner.invoke(main, ["import", "units", str(path)])
    assert "unchanged: 2" in again.output, again.output
