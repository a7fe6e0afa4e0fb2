"""The report of an import: one outcome per row, counts, flags, a summary and a CSV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from gridgis.sheets import safe_csv_frame

OUTCOMES: tuple[str, ...] = ("coordinates", "address", "flagged", "rejected", "duplicate")
"""What can happen to a row: exactly one of these."""

_FLAG_ORDER: tuple[str, ...] = ("outside", "gap", "swapped", "outside_china", "unmatched")


@dataclass
class IntakeReport:
    """What an import of cases or inspections did, row by row.

    Attributes
    ----------
    kind:
        ``"cases"`` or ``"inspections"``.
    path:
        The file imported.
    rows:
        One line per input row (cases) or per inspection (inspections; a
        track built from GPS fixes lists its rows in ``rows``), with
        ``row``, ``external_id``, ``outcome``, ``flag``, ``reason``,
        ``cell_code``, ``match_score`` (cases) or ``rows``, ``cells``,
        ``cell_codes`` (inspections).
    numbering:
        ``"row"`` (CSV/Excel: header = row 1) or ``"feature"`` (vector files, from 1).
    rows_read:
        Rows (or features) read from the file.
    encoding:
        The text encoding a CSV file was read with.
    crs:
        The CRS of the coordinates.
    committed:
        Whether the database was changed (``False`` for a dry run).
    """

    kind: Literal["cases", "inspections"]
    path: Path
    rows: pd.DataFrame
    numbering: str
    rows_read: int
    encoding: str | None = None
    crs: str | None = None
    committed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Rows read and the number of each outcome (they add up to the rows of ``rows``)."""
        outcomes = self.rows["outcome"].value_counts() if len(self.rows) else pd.Series(dtype=int)
        counts = {"rows_read": int(self.rows_read)}
        if self.kind == "inspections":
            counts["inspections"] = len(self.rows)
        for outcome in OUTCOMES:
            if self.kind == "inspections" and outcome == "address":
                continue
            counts[outcome] = int(outcomes.get(outcome, 0))
        return counts

    @property
    def flags(self) -> dict[str, int]:
        """Flagged rows by ``location_flag``."""
        flagged = self.rows.loc[self.rows["outcome"] == "flagged", "flag"].value_counts()
        return {flag: int(flagged[flag]) for flag in _FLAG_ORDER if flag in flagged.index}

    def lines(self, *, max_rejected: int = 20) -> list[str]:
        """The summary as lines of text for people, with the first rejected rows."""
        counts = self.counts
        read = f"{self.path.name}" + (f" ({self.encoding})" if self.encoding else "")
        read += f": {counts['rows_read']} {self.numbering}s read"
        if self.kind == "inspections":
            read += f", {counts['inspections']} inspections"
        out = [read]
        out.append(f"  by coordinates: {counts['coordinates']}")
        if self.kind == "cases":
            out.append(f"  by address: {counts['address']}")
        flags = ", ".join(f"{flag} {n}" for flag, n in self.flags.items())
        out.append(f"  flagged: {counts['flagged']}" + (f" ({flags})" if flags else ""))
        out.append(f"  rejected: {counts['rejected']}")
        out.append(f"  duplicates: {counts['duplicate']} (external id already stored)")
        out.extend(closing_lines(self.rows, self.numbering, self.notes, self.committed,
                                 max_rejected=max_rejected))  # fmt: skip
        return out

    def write_csv(self, path: str | Path) -> Path:
        """Write ``rows`` as CSV (UTF-8 with BOM, so that Excel shows the Chinese text).

        The first column is named ``row`` or ``feature`` after the numbering; text that
        starts like a formula gets a ``'`` (:func:`gridgis.sheets.safe_csv_value`).
        """
        return write_rows_csv(self.rows, self.numbering, path)


def closing_lines(
    rows: pd.DataFrame,
    numbering: str,
    notes: list[str],
    committed: bool,
    *,
    max_rejected: int = 20,
) -> list[str]:
    """The end of a report's summary: the first rejected rows, the notes, committed or not.

    Shared by the reports of every import (cases, inspections, registers).
    """
    out = []
    rejected = rows[rows["outcome"] == "rejected"]
    for row, reason in zip(rejected["row"].head(max_rejected), rejected["reason"], strict=False):
        out.append(f"  rejected {numbering} {row}: {reason}")
    if len(rejected) > max_rejected:
        out.append(f"  ... and {len(rejected) - max_rejected} more rejected (see the report)")
    out.extend(f"  {note}" for note in notes)
    out.append("committed" if committed else "nothing was changed (dry run)")
    return out


def write_rows_csv(rows: pd.DataFrame, numbering: str, path: str | Path) -> Path:
    """Write a report's ``rows`` as CSV for Excel: UTF-8 with BOM, formulas defused.

    The column ``row`` is named after the ``numbering`` (``row`` or ``feature``); text
    that starts like a formula gets a ``'`` (:func:`gridgis.sheets.safe_csv_value`).
    Shared by the reports of every import (cases, inspections, registers).
    """
    target = Path(path)
    frame = rows.rename(columns={"row": numbering})
    safe_csv_frame(frame).to_csv(target, index=False, encoding="utf-8-sig")
    return target


def default_report_path(path: str | Path) -> Path:
    """``<stem>.report.csv`` next to the input file.

    Examples
    --------
    >>> str(default_report_path("/data/cases_2026.xlsx"))
    '/data/cases_2026.report.csv'
    """
    file = Path(path)
    return file.with_name(f"{file.stem}.report.csv")
