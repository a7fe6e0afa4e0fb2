"""The report of a register import: one outcome per row, totals that add up, a CSV.

Every row of the file ends in exactly one of :data:`OUTCOMES`:

``imported``
    new: stored for the first time;
``updated``
    its id was stored already and some of its fields differ: they are changed,
    and ``changes`` says which (``households 120 → 136; footprint``);
``unchanged``
    its id was stored already with the same values: nothing is written (so an
    import of the same file a second time reports every row ``unchanged``);
``flagged``
    stored (new or changed) but with something a person should look at, named
    in ``flags`` and ``reason`` (a footprint repaired, a building straddling
    two communities, coordinates that looked swapped, households estimated...);
``rejected``
    not stored; ``reason`` says why, naming the bad value.

``reason`` is English, for the command line and logs; ``reason_code`` names the code
of each of its sentences (``;``-joined, as ``flags``), whose words in Chinese and
English are in :mod:`gridgis.registers.reasons` (:meth:`RegisterReport.reasons_in`
says them in a language).

A row that is ``unchanged`` keeps its stored flags in ``flags``: the second
import of a file with flagged rows changes nothing and says so.

Row numbers are those the user sees, as in :mod:`gridgis.intake`: for CSV and
Excel the header is row 1 (the first data row is row 2), features of vector
files are numbered from 1.

Examples
--------
>>> import numpy as np
>>> outcomes = RowOutcomes(np.array([2, 3, 4]), ids=["B1", "B2", "B2"])
>>> outcomes.reject([1, 2], ["id 'B2' is used by rows 3, 4 of the file"] * 2)
>>> outcomes.set([0], "imported")
>>> report = RegisterReport("buildings", Path("楼栋.csv"), outcomes.frame(), numbering="row")
>>> report.counts
{'read': 3, 'imported': 1, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 2}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from gridgis.intake.report import closing_lines, default_report_path, write_rows_csv
from gridgis.registers import reasons as _reasons

__all__ = ["COLUMNS", "OUTCOMES", "RegisterReport", "RowOutcomes", "default_report_path"]

OUTCOMES: tuple[str, ...] = ("imported", "updated", "unchanged", "flagged", "rejected")
"""What can happen to a row of a register file: exactly one of these."""

COLUMNS: tuple[str, ...] = ("row", "id", "outcome", "flags", "reason", "reason_code", "changes")
"""The columns every register report starts with (an importer may add its own after them)."""


class RowOutcomes:
    """The outcome of each row of a file, filled in by masks as an import decides them.

    A row's outcome can be set once; setting it again is a mistake of the
    importer and raises. Flags and reasons accumulate (``"; "``-joined).

    Parameters
    ----------
    rows:
        The row (or feature) numbers of the file.
    ids:
        The id of each row as read (``None`` where it has none).
    """

    def __init__(self, rows: ArrayLike, ids: Sequence[object] | pd.Series) -> None:
        self.row = np.asarray(rows, dtype=np.int64)
        n = len(self.row)
        self.id = np.asarray(list(ids), dtype=object)
        if len(self.id) != n:
            raise ValueError(f"{len(self.id)} ids for {n} rows")
        self.outcome = np.full(n, None, dtype=object)
        self.flags: list[list[str]] = [[] for _ in range(n)]
        self.reason: list[list[str]] = [[] for _ in range(n)]
        self.changes = np.full(n, None, dtype=object)
        self.extra: dict[str, NDArray[Any]] = {}

    def __len__(self) -> int:
        return len(self.row)

    def _positions(self, where: ArrayLike) -> NDArray[np.intp]:
        where = np.asarray(where)
        if where.dtype == bool:
            if where.shape != (len(self),):
                raise ValueError(f"a mask of {where.shape} for {len(self)} rows")
            return np.flatnonzero(where)
        return where.astype(np.intp).reshape(-1)

    @property
    def pending(self) -> NDArray[np.bool_]:
        """Rows with no outcome yet."""
        return pd.isna(self.outcome)

    def set(self, where: ArrayLike, outcome: str) -> None:
        """Give the rows ``where`` (a mask or positions) their ``outcome``."""
        if outcome not in OUTCOMES:
            raise ValueError(f"`outcome` was {outcome!r} but is expected to be in {OUTCOMES}")
        positions = self._positions(where)
        already = positions[pd.notna(self.outcome[positions])]
        if already.size:
            rows = ", ".join(str(r) for r in self.row[already][:5])
            raise ValueError(f"rows {rows} have an outcome already, not {outcome!r}")
        self.outcome[positions] = outcome

    def reject(self, where: ArrayLike, reasons: Sequence[str | None] | str) -> None:
        """Reject the rows ``where``, each with its reason (one text or one per row)."""
        positions = self._positions(where)
        self.set(positions, "rejected")
        self.note(positions, reasons)

    def note(self, where: ArrayLike, reasons: Sequence[str | None] | str) -> None:
        """Add a reason (one text, or one per row of ``where``) to the rows ``where``."""
        positions = self._positions(where)
        texts = [reasons] * len(positions) if isinstance(reasons, str) else list(reasons)
        if len(texts) != len(positions):
            raise ValueError(f"{len(texts)} reasons for {len(positions)} rows")
        for i, text in zip(positions.tolist(), texts, strict=True):
            if text and text not in self.reason[i]:
                self.reason[i].append(text)

    def flag(
        self, where: ArrayLike, flag: str, reasons: Sequence[str | None] | str | None = None
    ) -> None:
        """Add ``flag`` (and a reason) to the rows ``where``; their outcome is left alone."""
        positions = self._positions(where)
        for i in positions.tolist():
            if flag not in self.flags[i]:
                self.flags[i].append(flag)
        if reasons is not None:
            self.note(positions, reasons)

    def is_flagged(self) -> NDArray[np.bool_]:
        """Rows that carry a flag."""
        return np.fromiter((bool(f) for f in self.flags), dtype=bool, count=len(self))

    def add_column(self, name: str, values: Sequence[Any] | NDArray[Any]) -> None:
        """A column of the report of this kind of import (``community_code``...)."""
        if name in COLUMNS:
            raise ValueError(f"`name` was {name!r}, a column every report has")
        array = np.asarray(values, dtype=object)
        if array.shape != (len(self),):
            raise ValueError(f"{array.shape} values for {len(self)} rows")
        self.extra[name] = array

    def frame(self) -> pd.DataFrame:
        """The report's rows: :data:`COLUMNS`, then the added columns.

        Raises
        ------
        ValueError
            When a row has no outcome yet.
        """
        missing = np.flatnonzero(self.pending)
        if missing.size:
            rows = ", ".join(str(r) for r in self.row[missing][:5])
            raise ValueError(f"{missing.size} rows have no outcome (rows {rows})")
        data: dict[str, Any] = {
            "row": self.row,
            "id": pd.Series(self.id, dtype=object),
            "outcome": pd.Series(self.outcome, dtype=object),
            "flags": pd.Series([";".join(f) or None for f in self.flags], dtype=object),
            "reason": pd.Series(["; ".join(r) or None for r in self.reason], dtype=object),
            "reason_code": pd.Series(
                [";".join(_reasons.codes(t) or "" for t in r) or None for r in self.reason],
                dtype=object,
            ),
            "changes": pd.Series(self.changes, dtype=object),
        }
        data.update({k: pd.Series(v, dtype=object) for k, v in self.extra.items()})
        return pd.DataFrame(data)


@dataclass
class RegisterReport:
    """What an import of a register did, row by row.

    Attributes
    ----------
    kind:
        What was imported: ``"buildings"``, ``"households"``, ``"workers"``,
        ``"branches"``, ``"facilities"``.
    path:
        The file imported.
    rows:
        One line per row of the file, columns :data:`COLUMNS` first.
    numbering:
        ``"row"`` (CSV/Excel: header = row 1) or ``"feature"`` (vector files, from 1).
    encoding:
        The text encoding a CSV file or shapefile was read with.
    crs:
        The CRS of the coordinates, when the file had any.
    committed:
        Whether the database was changed (``False`` for a dry run).
    notes:
        Lines for people about the whole import (columns not read, defaults used...).
    shapes:
        Each row's geometry in WGS84 (footprint, else point; ``None`` where it has
        none), for maps of the report (the flagged rows on the web import page);
        ``None`` for a kind without geometry. Not written to the CSV.

    Raises
    ------
    ValueError
        When a row has no outcome or one not in :data:`OUTCOMES`.
    """

    kind: str
    path: Path
    rows: pd.DataFrame
    numbering: Literal["row", "feature"] = "row"
    encoding: str | None = None
    crs: str | None = None
    committed: bool = False
    notes: list[str] = field(default_factory=list)
    shapes: NDArray[np.object_] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "reason" in self.rows.columns and "reason_code" not in self.rows.columns:
            # rows made by hand (not by RowOutcomes.frame): the codes read from the reasons
            self.rows = self.rows.copy()
            at = list(self.rows.columns).index("reason") + 1
            self.rows.insert(at, "reason_code", self.rows["reason"].map(_reasons.codes))
        missing = [c for c in COLUMNS if c not in self.rows.columns]
        if missing:
            raise ValueError(f"the report's rows lack the columns {missing}")
        bad = ~self.rows["outcome"].isin(OUTCOMES)
        if bad.any():
            rows = self.rows.loc[bad, "row"].head(5).tolist()
            raise ValueError(f"rows {rows} have no outcome of {OUTCOMES}")

    @property
    def counts(self) -> dict[str, int]:
        """``read`` and the rows of each outcome: ``read`` is their sum."""
        found = self.rows["outcome"].value_counts()
        counts = {"read": len(self.rows)}
        counts.update({o: int(found.get(o, 0)) for o in OUTCOMES})
        return counts

    @property
    def flags(self) -> dict[str, int]:
        """How many ``flagged`` rows carry each flag (a row may carry several), in order met."""
        stored = self.rows.loc[self.rows["outcome"] == "flagged", "flags"].dropna()
        counted: dict[str, int] = {}
        for flag in stored.str.split(";").explode():
            counted[flag] = counted.get(flag, 0) + 1
        return counted

    def lines(self, *, max_listed: int = 20) -> list[str]:
        """The summary for people: totals, flags, the first rejected rows."""
        counts = self.counts
        head = self.path.name + (f" ({self.encoding})" if self.encoding else "")
        out = [f"{head}: {counts['read']} {self.numbering}s read ({self.kind})"]
        for outcome in OUTCOMES:
            line = f"  {outcome}: {counts[outcome]}"
            if outcome == "flagged" and (flags := self.flags):
                line += " (" + ", ".join(f"{k} {n}" for k, n in flags.items()) + ")"
            out.append(line)
        out.extend(closing_lines(self.rows, self.numbering, self.notes, self.committed,
                                 max_rejected=max_listed))  # fmt: skip
        return out

    def reasons_in(self, language: str) -> pd.Series:
        """Each row's ``reason`` in ``language`` (``"en"``: as is; ``"zh"``: Chinese).

        Examples
        --------
        >>> outcomes = RowOutcomes([2], ids=["B1"])
        >>> outcomes.reject([0], "households '-3' is negative")
        >>> RegisterReport("buildings", Path("楼栋.csv"), outcomes.frame()).reasons_in("zh")[0]
        "户数 '-3' 是负数"
        """
        return self.rows["reason"].map(lambda text: _reasons.say(text, language))

    def write_csv(self, path: str | Path, *, language: str = "en") -> Path:
        """Write ``rows`` as CSV (UTF-8 with BOM for Excel; the first column named after the
        numbering, ``row`` or ``feature``), the reasons in ``language`` (English by default)."""
        rows = self.rows
        if language != "en":
            rows = rows.assign(reason=self.reasons_in(language))
        return write_rows_csv(rows, self.numbering, path)
