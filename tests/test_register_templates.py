"""Excel templates (issue 16, point 7): read back with openpyxl, and their example row
imported through the importer of their kind."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.errors import InputError
from gridgis.registers.branches import import_branches
from gridgis.registers.facilities import import_facilities
from gridgis.registers.templates import TEMPLATES, template_columns, write_template
from gridgis.registers.workers import import_workers


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_template_reads_back(kind: str, tmp_path: Path) -> None:
    path = write_template(kind, tmp_path / f"{kind}.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["导入", "每列说明"]
    sheet = book["导入"]
    columns = template_columns(kind)
    assert [c.value for c in sheet[1]] == [c.header for c in columns]
    assert [c.value for c in sheet[2]] == [c.example for c in columns]
    help_rows = list(book["每列说明"].iter_rows(min_row=2, max_row=len(columns) + 1,
                                              values_only=True))  # fmt: skip
    assert [r[0] for r in help_rows] == [c.header for c in columns]
    assert all(r[3] for r in help_rows), "every column is explained"
    coded = {c.header for c in columns if c.choices}
    validated = {
        sheet.cell(row=1, column=openpyxl.utils.column_index_from_string(
            str(v.sqref).split(":")[0].rstrip("0123456789"))).value
        for v in sheet.data_validations.dataValidation
    }  # fmt: skip
    assert validated == coded


def test_template_roles_drop_down_lists_the_configured_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDGIS_WORKER_ROLES", "volunteer=志愿者")
    path = write_template("workers", tmp_path / "w.xlsx")
    sheet = openpyxl.load_workbook(path)["导入"]
    (validation,) = sheet.data_validations.dataValidation
    assert "网格长" in validation.formula1 and "志愿者" in validation.formula1


def test_template_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="`kind` was 'roads'"):
        write_template("roads", tmp_path / "x.xlsx")
    with pytest.raises(InputError, match=r"an Excel \.xlsx file"):
        write_template("workers", tmp_path / "x.csv")


def test_example_rows_import(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.connect() as conn:
        cell = conn.execute(
            text(
                "SELECT count(*) FROM grid_cell WHERE code = '350304001001001' AND valid_to IS NULL"
            )
        ).scalar_one()
    assert cell == 1, "the example cell code is a cell of the demo district"
    for kind, importer in (
        ("workers", import_workers),
        ("branches", import_branches),
        ("facilities", import_facilities),
    ):
        path = write_template(kind, tmp_path / f"{kind}.xlsx")
        report = importer(demo_engine, path, actor="test")
        assert report.counts["read"] == 1
        assert report.counts["rejected"] == 0, report.rows["reason"].tolist()
        assert report.counts["imported"] + report.counts["flagged"] == 1


def test_cli_template_and_import(demo_url: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    runner = CliRunner()
    path = tmp_path / "网格员.xlsx"
    done = runner.invoke(main, ["template", "workers", "-o", str(path)])
    assert done.exit_code == 0, done.output
    dry = runner.invoke(main, ["import", "workers", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "imported: 1" in dry.output and "nothing was changed (dry run)" in dry.output
    bad = runner.invoke(main, ["import", "workers", str(path), "--phone-field", "手机号码"])
    assert bad.exit_code == 1
    assert "`--phone-field` was '手机号码' but 网格员.xlsx has no such column" in bad.output
    assert "Traceback" not in bad.output
    done = runner.invoke(main, ["import", "workers", str(path)])
    assert done.exit_code == 0 and "committed" in done.output
    assert (tmp_path / "网格员.report.csv").exists()


def test_buildings_and_households_example_rows_import(demo_engine: Engine, tmp_path: Path) -> None:
    from gridgis.registers.buildings import import_buildings
    from gridgis.registers.households import import_households

    buildings = import_buildings(demo_engine, write_template("buildings", tmp_path / "b.xlsx"),
                                 actor="test")  # fmt: skip
    assert buildings.counts["read"] == 1
    assert buildings.counts["imported"] + buildings.counts["flagged"] == 1, buildings.rows
    households = import_households(
        demo_engine, write_template("households", tmp_path / "h.xlsx"), actor="test"
    )
    assert households.counts["read"] == 1
    assert households.counts["rejected"] == 0, households.rows["reason"].tolist()
