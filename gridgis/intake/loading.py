"""Loading into the database: one transaction per import, with its audit row.

:func:`run_import` is the one transaction every import of a file runs in (cases,
inspections and the registers of :mod:`gridgis.registers`). Also what every
import asks the database (external ids already stored), the errors a refusal
becomes, and the progress messages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

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
from gridgis.intake.checks import crs_label
from gridgis.intake.report import OUTCOMES, IntakeReport

# The logger keeps the name the import's log lines have always carried.
logger = logging.getLogger("gridgis.intake")

T = TypeVar("T")

Database = Engine | Connection
"""Where an import runs: an engine (its own transaction), or a connection inside the
caller's transaction (a savepoint of it: see :func:`run_import`)."""

_DUPLICATE_NOTE = "external id already in the database: nothing added"

_KIND_ZH = {
    "buildings": "楼栋",
    "cases": "事件",
    "households": "住户",
    "inspections": "巡查记录",
    "roads": "道路",
}
"""What an import loads, as a Chinese message names it (other kinds keep their name)."""


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


def database_failure(exc: Exception, what: str) -> GridGISError:
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
            "what is already stored",
            zh=f"导入期间，其他人保存了外部编号相同的{_KIND_ZH.get(what, what)}；未导入任何内容："
            "请再次导入，已保存的会被跳过",
        )
    return DatabaseError(
        f"the database refused the import of {what} ({sqlstate or 'no SQLSTATE'}: {message}"
        + (f"; {extra}" if extra else "")
        + "); nothing was imported",
        zh=f"数据库拒绝了{_KIND_ZH.get(what, what)}的导入（{sqlstate or '无 SQLSTATE'}）；"
        "未导入任何内容",
    )


def run_import(
    engine: Database,
    kind: str,
    name: str,
    body: Callable[[Connection], tuple[T, Mapping[str, object]]],
    *,
    dry_run: bool,
    actor: str,
    log: logging.Logger = logger,
) -> T:
    """Run ``body`` in one transaction, committed unless ``dry_run``, audited in the same one.

    The one way every import of a file runs (cases, inspections, the registers of
    :mod:`gridgis.registers`). ``body`` checks and stores the rows and returns its
    result with a summary of it (counts per outcome...); whatever it raises rolls
    everything back, so a failure leaves the database as it was. One audit row
    (action ``import``, object type ``kind`` without its plural ``s``) sums the
    import up: ``{"file": name} | summary``.

    Parameters
    ----------
    engine:
        The database; or a connection inside a transaction of the caller's (the demo
        loads a district's files in one transaction): the import then runs in a
        savepoint of it, released at the end or rolled back, and the caller commits.
    kind:
        What is imported (``cases``, ``buildings``...), for the audit row and messages.
    name:
        The file's name.
    body:
        Does the import on the connection; returns (result, summary).
    dry_run:
        Roll back at the end instead of committing.
    actor:
        Who imports.
    log:
        Where the closing line goes (each package keeps its logger's name).

    Returns
    -------
    The result of ``body``.

    Raises
    ------
    ConflictError, DatabaseError
        When the database refuses the rows (nothing is imported).
    """
    import psycopg

    started = time.perf_counter()
    try:
        with _connection(engine) as conn:
            transaction = conn.begin_nested() if conn.in_transaction() else conn.begin()
            try:
                result, summary = body(conn)
                audit.record(
                    conn,
                    actor=actor,
                    action="import",
                    object_type=singular(kind),
                    object_id=None,
                    after={"file": name} | dict(summary),
                )
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    except (DBAPIError, psycopg.Error) as exc:
        log.warning("import of %s from %s refused by the database", kind, name)
        raise database_failure(exc, kind) from exc
    except SQLAlchemyError as exc:
        log.warning("import of %s from %s failed", kind, name)
        raise DatabaseError(
            f"the import of {kind} failed: {exc}; nothing was imported",
            zh=f"{_KIND_ZH.get(kind, kind)}导入失败：数据库出错；未导入任何内容",
        ) from exc
    log.info(
        "import of %s from %s by %s: %s in %.1f s%s",
        kind,
        name,
        actor,
        dict(summary),
        time.perf_counter() - started,
        " (dry run, rolled back)" if dry_run else "",
    )
    return result


@contextmanager
def _connection(engine: Database) -> Iterator[Connection]:
    """A new connection of ``engine``, or the caller's connection as it is (left open)."""
    if isinstance(engine, Connection):
        yield engine
        return
    with engine.connect() as conn:
        yield conn


def _run_import(
    engine: Database,
    kind: Literal["cases", "inspections"],
    rows: pd.DataFrame,
    spec: CRSSpec,
    body: Callable[[Connection], pd.DataFrame],
    *,
    dry_run: bool,
    actor: str,
) -> IntakeReport:
    """Run ``body`` through :func:`run_import` and report on it.

    ``body`` checks, places and stores what it can, and returns the report's lines.
    """

    def counted(conn: Connection) -> tuple[pd.DataFrame, dict[str, object]]:
        lines = body(conn)
        assert lines["outcome"].isin(OUTCOMES).all(), f"each of the {kind} has one outcome"
        summary: dict[str, object] = {"rows": len(rows)}
        for outcome, count in lines["outcome"].value_counts().items():
            summary[str(outcome)] = int(count)
        return lines, summary

    path = Path(rows.attrs["path"])
    lines = run_import(engine, kind, path.name, counted, dry_run=dry_run, actor=actor)
    report = IntakeReport(
        kind=kind,
        path=path,
        rows=lines,
        numbering=rows.attrs["numbering"],
        rows_read=len(rows),
        encoding=rows.attrs.get("encoding"),  # a CSV's or a shapefile's (None otherwise)
        crs=crs_label(spec),
        committed=not dry_run,
    )
    counts = report.counts
    assert sum(counts.get(o, 0) for o in OUTCOMES) == len(lines), counts
    return report


def say(progress: Callable[[str], None] | None, message: str) -> None:
    """Tell ``progress`` (when given) what the import is doing now."""
    if progress is not None:
        progress(message)


def singular(kind: str) -> str:
    """The object type of an import of ``kind``: one of what it imports.

    Examples
    --------
    >>> [singular(k) for k in ("cases", "buildings", "facilities", "branches")]
    ['case', 'building', 'facility', 'branch']
    """
    if kind.endswith("ies"):
        return kind[:-3] + "y"
    if kind.endswith("ches"):
        return kind[:-2]
    return kind.removesuffix("s")
