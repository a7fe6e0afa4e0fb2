"""Running a register import: one transaction and one audit row, rolled back on failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gridgis import audit
from gridgis.errors import DatabaseError
from gridgis.intake.loading import database_failure
from gridgis.registers.report import RegisterReport

__all__ = ["run_import"]

logger = logging.getLogger("gridgis.registers")


def run_import(
    engine: Engine,
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
    up: the file's name and the count of each outcome.

    Raises
    ------
    ConflictError, DatabaseError
        When the database refuses the rows (nothing is imported).
    """
    import psycopg

    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                report = body(conn)
                audit.record(
                    conn,
                    actor=actor,
                    action="import",
                    object_type=_singular(kind),
                    object_id=None,
                    after={"file": path.name, "dry_run": dry_run} | report.counts,
                )
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    except (DBAPIError, psycopg.Error) as exc:
        logger.warning("import of %s from %s refused by the database", kind, path.name)
        raise database_failure(exc, kind) from exc
    except SQLAlchemyError as exc:
        raise DatabaseError(f"the import of {kind} failed: {exc}; nothing was imported") from exc
    report.committed = not dry_run
    logger.info(
        "import of %s from %s by %s: %s in %.1f s%s",
        kind,
        path.name,
        actor,
        report.counts,
        time.perf_counter() - started,
        " (dry run, rolled back)" if dry_run else "",
    )
    return report


def _singular(kind: str) -> str:
    """``buildings`` → ``building``, ``facilities`` → ``facility``, ``branches`` → ``branch``."""
    if kind.endswith("ies"):
        return kind[:-3] + "y"
    if kind.endswith("ches"):
        return kind[:-2]
    return kind.removesuffix("s")


def say(progress: Callable[[str], None] | None, message: str) -> None:
    """Tell ``progress`` (when given) what the import is doing now."""
    if progress is not None:
        progress(message)


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
