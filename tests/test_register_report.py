"""The report of a register import: one outcome per row, totals that add up, a CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgis.registers.report import OUTCOMES, RegisterReport, RowOutcomes


def _outcomes() -> RowOutcomes:
    outcomes = RowOutcomes(np.arange(2, 8), ids=["B1", "B2", "B3", "B4", "B5", None])
    outcomes.set([0], "imported")
    outcomes.set(np.array([False, True, False, False, False, False]), "updated")
    outcomes.changes[1] = "households 10 → 12"
    outcomes.set([2], "unchanged")
    outcomes.flag([2, 3], "straddles", "also in community 310115001002")
    outcomes.flag([3], "estimated")
    outcomes.set([3], "flagged")
    outcomes.reject([4, 5], ["households '-3' is negative", "id missing"])
    return outcomes


def test_every_row_has_one_outcome_and_the_totals_add_up(tmp_path: Path) -> None:
    report = RegisterReport("buildings", tmp_path / "楼栋.xlsx", _outcomes().frame())
    counts = report.counts
    assert counts == {
        "read": 6,
        "imported": 1,
        "updated": 1,
        "unchanged": 1,
        "flagged": 1,
        "rejected": 2,
    }
    assert counts["read"] == sum(counts[o] for o in OUTCOMES)
    assert report.flags == {"straddles": 1, "estimated": 1}
    rows = report.rows.set_index("id")
    assert rows.loc["B4", "flags"] == "straddles;estimated"
    assert rows.loc["B3", "flags"] == "straddles"  # unchanged keeps its flags
    assert rows.loc["B2", "changes"] == "households 10 → 12"


def test_lines_list_the_rejected_rows_with_their_numbers(tmp_path: Path) -> None:
    report = RegisterReport("buildings", tmp_path / "b.csv", _outcomes().frame(), encoding="gbk")
    lines = report.lines()
    assert lines[0] == "b.csv (gbk): 6 rows read (buildings)"
    assert "  flagged: 1 (straddles 1, estimated 1)" in lines
    assert "  rejected row 6: households '-3' is negative" in lines
    assert "  rejected row 7: id missing" in lines
    assert lines[-1] == "nothing was changed (dry run)"


def test_the_csv_names_its_numbering_and_defuses_formulas(tmp_path: Path) -> None:
    outcomes = RowOutcomes([1, 2], ids=["=1+2", "F2"])
    outcomes.set([0, 1], "imported")
    outcomes.add_column("community_code", ["310115001001", "310115001002"])
    report = RegisterReport(
        "buildings", tmp_path / "b.geojson", outcomes.frame(), numbering="feature"
    )
    written = report.write_csv(tmp_path / "b.report.csv")
    assert written.read_bytes().startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(written, dtype=str, encoding="utf-8-sig")
    assert list(back.columns) == [
        "feature",
        "id",
        "outcome",
        "flags",
        "reason",
        "reason_code",
        "changes",
        "community_code",
    ]
    assert back["id"].tolist() == ["'=1+2", "F2"]


def test_a_row_without_an_outcome_is_a_mistake() -> None:
    outcomes = RowOutcomes([2, 3], ids=["a", "b"])
    outcomes.set([0], "imported")
    with pytest.raises(ValueError, match=r"1 rows have no outcome \(rows 3\)"):
        outcomes.frame()
    with pytest.raises(ValueError, match="have an outcome already"):
        outcomes.set([0], "updated")
    with pytest.raises(ValueError, match="`outcome` was 'skipped'"):
        outcomes.set([1], "skipped")


def test_a_report_refuses_rows_with_an_unknown_outcome(tmp_path: Path) -> None:
    rows = pd.DataFrame(
        {"row": [2], "id": ["a"], "outcome": ["duplicate"], "flags": [None], "reason": [None],
         "changes": [None]}
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"rows \[2\] have no outcome"):
        RegisterReport("buildings", tmp_path / "a.csv", rows)
