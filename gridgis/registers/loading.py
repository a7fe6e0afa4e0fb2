"""Running a register import: one transaction and one audit row, rolled back on failure."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine

from gridgis.intake.loading import run_import as shared_run_import
from gridgis.registers.report import RegisterReport

__all__ = ["run_import"]

logger = logging.getLogger("gridgis.registers")


def run_import(
    engine: Engine | Connection,
    kind: str,
    path: Path,
    body: Callable[[Connection], RegisterReport],
    *,
    dry_run: bool,
    actor: str,
) -> RegisterReport:
    """Run ``body`` in one transaction, committed unless ``dry_run``; audit it in the same one.

    ``body`` checks and stores the rows and returns the report; whatever it raises
    rolls everything back, so a failure leaves the database as it was. One audit row
    (action ``import``, object type ``kind`` without its plural ``s``) sums the import
    up: the file's name and the count of each outcome. The transaction, the audit
    row and the errors are :func:`gridgis.intake.loading.run_import`'s, shared with
    the imports of cases and inspections.

    Raises
    ------
    ConflictError, DatabaseError
        When the database refuses the rows (nothing is imported).
    """

    def counted(conn: Connection) -> tuple[RegisterReport, dict[str, object]]:
        report = body(conn)
        summary: dict[str, object] = {"dry_run": dry_run}
        return report, summary | report.counts

    report = shared_run_import(
        engine, kind, path.name, counted, dry_run=dry_run, actor=actor, log=logger
    )
    report.committed = not dry_run
    return report


def changed_fields(
    old: pd.DataFrame, new: pd.DataFrame, fields: list[str]
) -> list[list[tuple[str, object, object]]]:
    """Per row, the fields whose value differs between ``old`` and ``new`` (aligned rows),
    as (field, before, after); NaN/None compare equal to each other."""
    out: list[list[tuple[str, object, object]]] = [[] for _ in range(len(new))]
    for field in fields:
        before = old[field].to_numpy(dtype=object)
        after = new[field].to_numpy(dtype=object)
        both_missing = pd.isna(before) & pd.isna(after)
        differs = ~both_missing & (pd.isna(before) | pd.isna(after) | (before != after))
        for i in differs.nonzero()[0]:  # the few changed values, worded one by one
            out[i].append((field, before[i], after[i]))
    return out
