"""Spreadsheet cells (gridgis.sheets): text opens as text, never as a formula; xlsx holds any text.

Every file is read back with a real reader (openpyxl, the csv module); the CLI's
``cases stats -o`` CSV is written from the small demo district.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.sheets import (
    EXCEL_TEXT_LIMIT,
    safe_csv_frame,
    safe_csv_value,
    safe_xlsx_value,
    write_xlsx,
)

FORMULAS = ['=HYPERLINK("http://example.com","x")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"]


def _unescape(value: str) -> str:
    """What Excel shows for a stored text: ``_xHHHH_`` is the character HHHH."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def test_csv_quotes_text_that_starts_like_a_formula_and_only_text() -> None:
    assert [safe_csv_value(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    assert safe_csv_value("井盖 = 丢失") == "井盖 = 丢失"
    assert safe_csv_value("") == "" and safe_csv_value(None) is None
    assert safe_csv_value(-3) == -3 and safe_csv_value(-3.5) == -3.5
    assert safe_csv_value(np.int64(-3)) == -3 and safe_csv_value("-3") == "'-3"
    frame = pd.DataFrame({"id": ["=1+2", "K-1", None], "n": [-3, 4, 5], "x": [-1.5, 0.0, None]})
    safe = safe_csv_frame(frame)
    assert safe["id"].tolist()[:2] == ["'=1+2", "K-1"] and pd.isna(safe["id"].iloc[2])
    assert safe["n"].tolist() == [-3, 4, 5] and safe["n"].dtype == frame["n"].dtype
    assert frame["id"].tolist()[0] == "=1+2"  # the input is not changed


@pytest.mark.parametrize("code", range(1, 32))
def test_xlsx_holds_every_control_character(code: int, tmp_path: Path) -> None:
    value = f"a{chr(code)}b"
    path = tmp_path / "c.xlsx"

    write_xlsx(path, ["text"], [[value], [chr(code)]], sheet="s")

    sheet = openpyxl.load_workbook(path)["s"]
    for row, wanted in ((2, value), (3, chr(code))):
        cell = sheet.cell(row, 1)
        assert cell.data_type == "s"
        if code in (9, 10):  # tab and line feed are XML characters: stored as they are
            assert cell.value == wanted
        elif code == 13:  # XML reads a carriage return as a line feed
            assert cell.value == wanted.replace("\r", "\n")
        else:
            assert cell.value == wanted.replace(chr(code), f"_x{code:04X}_")
            assert _unescape(cell.value) == wanted


def test_xlsx_text_is_never_a_formula_nor_an_error(tmp_path: Path) -> None:
    values = [*FORMULAS, "#N/A", "#REF!", "=", "'=1", "井盖丢失"]
    path = tmp_path / "f.xlsx"

    write_xlsx(path, ["text", "n"], [[v, -3] for v in values], sheet="s")

    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in xml and 't="e"' not in xml
    sheet = openpyxl.load_workbook(path)["s"]
    for row, value in enumerate(values, start=2):
        cell = sheet.cell(row, 1)
        assert cell.data_type == "s" and cell.value == value.replace("\r", "\n")
        assert cell.quotePrefix == value.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert sheet.cell(row, 2).value == -3 and sheet.cell(row, 2).data_type == "n"


def test_xlsx_escapes_are_unambiguous_and_long_text_is_cut(tmp_path: Path) -> None:
    values = [
        "_x000B_ typed",
        "\ufffe\uffff",
        "长" * (EXCEL_TEXT_LIMIT + 5),
        "a" * (EXCEL_TEXT_LIMIT - 3) + "\x0b" + "b",  # the cut would fall inside the escape
        "a" * (EXCEL_TEXT_LIMIT - 1) + "𠮷",  # two UTF-16 units: the cut would split it
    ]
    path = tmp_path / "e.xlsx"

    cut = write_xlsx(path, ["text"], [[v] for v in values], sheet="s")

    assert cut == 3
    sheet = openpyxl.load_workbook(path)["s"]
    got = [sheet.cell(row, 1).value for row in range(2, len(values) + 2)]
    assert got[0] == "_x005F_x000B_ typed" and _unescape(got[0]) == "_x000B_ typed"
    assert got[1] == "_xFFFE__xFFFF_" and _unescape(got[1]) == values[1]
    assert got[2] == "长" * EXCEL_TEXT_LIMIT
    assert got[3] == "a" * (EXCEL_TEXT_LIMIT - 3)
    assert got[4] == "a" * (EXCEL_TEXT_LIMIT - 1)
    assert safe_xlsx_value(np.float64(-0.5)) == -0.5 and safe_xlsx_value(None) is None


def test_xlsx_dates_keep_their_format(tmp_path: Path) -> None:
    path = tmp_path / "d.xlsx"
    moment = dt.datetime(2025, 6, 1, 8, 30)

    write_xlsx(path, ["at"], [[moment], [None]], sheet="s", number_formats=["yyyy-mm-dd hh:mm"])

    cell = openpyxl.load_workbook(path)["s"].cell(2, 1)
    assert cell.is_date and cell.value == moment and cell.number_format == "yyyy-mm-dd hh:mm"


def test_cli_case_stats_csv_quotes_names_that_start_like_formulas(
    demo_url: str, demo_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_engine.begin() as conn:
        code = conn.execute(
            text(
                "SELECT community_code FROM case_record WHERE community_code IS NOT NULL "
                "ORDER BY community_code LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            text("UPDATE community SET name = :n WHERE code = :c"), {"n": "=1+1", "c": code}
        )
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    output = tmp_path / "stats.csv"
    try:
        result = CliRunner().invoke(
            main, ["cases", "stats", "--level", "community", "-o", str(output)]
        )
    finally:
        dispose_engines()

    assert result.exit_code == 0, result.output
    with output.open(encoding="utf-8-sig", newline="") as f:
        rows = {r["code"]: r for r in csv.DictReader(f)}
    assert rows[code]["name"] == "'=1+1"
    assert int(rows[code]["cases"]) > 0  # numbers stay numbers
