"""Loading into the database: one transaction per import, with its audit row.

Also what every import asks the database (external ids already stored), the
errors a refusal becomes, and the progress messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, Text, any_, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import QueryableAttribute

from gridgis import audit
from gridgis.crs import CRSSpec
from gridgis.errors import ConflictError, DatabaseError, GridGISError
from gridgis.intake.checks import _crs_label
from gridgis.intake.report import OUTCOMES, IntakeReport

# The logger keeps the name the import's log lines have always carried.
logger = logging.getLogger("gridgis.intake")

_DUPLICATE_NOTE = "external id already in the database: nothing added"


def _duplicates(
    conn: Connection,
    external_id: QueryableAttribute[str | None],
    ids: pd.Series,
    repeated: NDArray[np.bool_],
) -> NDArray[np.bool_]:
    """Rows whose external id is already stored in the column ``external_id`` (e.g.
    ``Case.external_id``); an id the file repeats is rejected anyway."""
    # An id with a NUL is rejected anyway, and PostgreSQL could not even compare it.
    wanted = [i for i in ids.dropna().unique().tolist() if "\x00" not in str(i)]
    if not wanted:
        return np.zeros(len(ids), dtype=bool)
    # One array parameter (= ANY), however many ids the file has.
    stored = conn.execute(
        select(external_id).where(external_id == any_(literal(wanted, ARRAY(Text))))
    ).scalars()
    return ids.isin(set(stored)).to_numpy() & ~repeated


def _database_failure(exc: Exception, what: str) -> GridGISError:
    """A clear error for a database failure during an import (which was rolled back)."""
    original = getattr(exc, "orig", exc)
    sqlstate = getattr(original, "sqlstate", None)
    detail = str(original).strip().splitlines()
    message = detail[0] if detail else type(original).__name__
    extra = next((line for line in detail[1:] if line.startswith("DETAIL")), "")
    if sqlstate == "23505":
        return ConflictError(
            f"while this import ran, {what} with the same external id were stored by someone "
            f"else ({extra or message}); nothing was imported: run the import again, it skips "
            "what is already stored"
        )
    return DatabaseError(
        f"the database refused the import of {what} ({sqlstate or 'no SQLSTATE'}: {message}"
        + (f"; {extra}" if extra else "")
        + "); nothing was imported"
    )


def _run_import(
    engine: Engine,
    kind: Literal["cases", "inspections"],
    rows: pd.DataFrame,
    spec: CRSSpec,
    body: Callable[[Connection], pd.DataFrame],
    *,
    dry_run: bool,
    actor: str,
) -> IntakeReport:
    """Run ``body`` in one transaction, committed unless ``dry_run``, and report on it.

    ``body`` checks, places and stores what it can, and returns the report's lines;
    whatever it raises rolls everything back. One audit row sums the import up (the
    file's name and the count of each outcome), in the same transaction.
    """
    import psycopg

    name = Path(rows.attrs["path"]).name
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                lines = body(conn)
                assert lines["outcome"].isin(OUTCOMES).all(), f"each of the {kind} has one outcome"
                outcomes = {str(k): int(v) for k, v in lines["outcome"].value_counts().items()}
                audit.record(
                    conn,
                    actor=actor,
                    action="import",
                    object_type=kind.removesuffix("s"),
                    object_id=None,
                    after={"file": name, "rows": len(rows)} | outcomes,
                )
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    except (DBAPIError, psycopg.Error) as exc:
        logger.warning("import of %s from %s refused by the database", kind, name)
        raise _database_failure(exc, kind) from exc
    except SQLAlchemyError as exc:
        logger.warning("import of %s from %s failed", kind, name)
        raise DatabaseError(f"the import of {kind} failed: {exc}; nothing was imported") from exc
    logger.info(
        "import of %s from %s by %s: %d rows, %s in %.1f s%s",
        kind,
        name,
        actor,
        len(rows),
        outcomes,
        time.perf_counter() - started,
        " (dry run, rolled back)" if dry_run else "",
    )
    report = IntakeReport(
        kind=kind,
        path=Path(rows.attrs["path"]),
        rows=lines,
        numbering=rows.attrs["numbering"],
        rows_read=len(rows),
        encoding=rows.attrs.get("encoding"),  # a CSV's or a shapefile's (None otherwise)
        crs=_crs_label(spec),
        committed=not dry_run,
    )
    counts = report.counts
    assert sum(counts.get(o, 0) for o in OUTCOMES) == len(lines), counts
    return report


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)
