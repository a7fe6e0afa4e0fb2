"""Running a roster import: read the file's columns, one transaction, one audit summary.

:func:`read_register` reads a file (:func:`gridgis.intake.readers.read_table`) and
finds its columns (:func:`gridgis.registers.columns.match_columns`);
:func:`run_register_import` runs an importer's body in one transaction, rolled back
on any failure and for a dry run, writes the audit row summing the import up in
that transaction, and turns database refusals into gridgis errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gridgis import audit
from gridgis.errors import DatabaseError
from gridgis.intake.fields import as_text
from gridgis.intake.loading import database_failure
from gridgis.intake.readers import SourceTable, read_table
from gridgis.registers.columns import ALIASES, Columns, match_columns
from gridgis.registers.report import OUTCOMES, RegisterReport, RowOutcomes

__all__ = ["ROSTER_ALIASES", "Register", "read_register", "run_register_import"]

logger = logging.getLogger("gridgis.registers")

ROSTER_ALIASES: dict[str, tuple[str, ...]] = {
    **ALIASES,
    "unit": ("unit", "units", "unit_number", "单元", "单元号", "所在单元"),
    "secretary_phone": ("secretary_phone", "书记电话", "书记手机", "书记联系电话"),
    "street": ("street", "street_code", "街道", "街道编码", "街道代码"),
}
"""The headers of :data:`gridgis.registers.columns.ALIASES` and those of the rosters' own
fields (units a 单元长 serves, a party secretary's phone, a street)."""


@dataclass(frozen=True)
class Register:
    """A register file read: its table, the column of each field, the values as text.

    Attributes
    ----------
    table:
        The file as read (rows numbered as the user sees them).
    columns:
        The column of each field (``None``: the file has none).
    """

    table: SourceTable
    columns: Columns

    def __len__(self) -> int:
        return len(self.table.fields)

    def text(self, field: str) -> list[str | None]:
        """The values of ``field`` as text, ``None`` when blank or when the file has no
        such column (Excel's 12.0 is ``'12'``)."""
        column = self.columns.get(field)
        if column is None:
            return [None] * len(self)
        return [as_text(v) for v in self.table.fields[column].tolist()]

    def outcomes(self) -> RowOutcomes:
        """An empty outcome per row, with the rows' ids."""
        return RowOutcomes(self.table.row, self.text("id"))

    def repeated_ids(self) -> tuple[list[str | None], np.ndarray]:
        """Per row: why its id is unusable (missing, or used by several rows), and whether
        it is repeated (:func:`gridgis.intake.checks.id_problems`' rule and wording)."""
        from gridgis.intake.checks import id_problems

        rows = pd.DataFrame(
            {"row": self.table.row, "external_id": pd.Series(self.text("id"), dtype=object)}
        )
        rows.attrs["numbering"] = self.table.numbering
        reasons, repeated = id_problems(rows)
        return [r.replace("external id", "id") if r else r for r in reasons], repeated


def read_register(
    path: str | Path,
    fields: Sequence[str],
    *,
    given: Mapping[str, str | None] | None = None,
    required: Sequence[str] = ("id",),
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> Register:
    """Read a register file and find the column of each of ``fields``.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError
        When the file cannot be read, a column named in ``given`` is not in it
        (the message lists its columns) or a ``required`` field has none.
    """
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    columns = match_columns(
        table.field_names,
        fields,
        given=given,
        required=required,
        aliases=ROSTER_ALIASES,
        source=table.path.name,
    )
    return Register(table=table, columns=columns)


def run_register_import(
    engine: Engine,
    kind: str,
    register: Register,
    body: Callable[[Connection], RowOutcomes],
    *,
    dry_run: bool,
    actor: str,
    crs: str | None = None,
    notes: Sequence[str] = (),
) -> RegisterReport:
    """Run ``body`` in one transaction, committed unless ``dry_run``, and report on it.

    ``body`` checks and stores what it can and returns the rows' outcomes; whatever it
    raises rolls everything back. One audit row (action ``import``, object type
    ``kind`` without its plural ``s``) sums the import up: the file's name and the
    count of each outcome.

    Raises
    ------
    ConflictError
        When someone else stored one of the same ids meanwhile; nothing is imported.
    DatabaseError
        When the database refuses the rows; nothing is imported.
    """
    import psycopg

    name = register.table.path.name
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                rows = body(conn).frame()
                counts = {o: int((rows["outcome"] == o).sum()) for o in OUTCOMES}
                audit.record(
                    conn,
                    actor=actor,
                    action="import",
                    object_type=kind.removesuffix("ies").removesuffix("s")
                    + ("y" if kind.endswith("ies") else ""),
                    object_id=None,
                    after={"file": name, "rows": len(rows), "dry_run": dry_run} | counts,
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
        raise database_failure(exc, kind) from exc
    except SQLAlchemyError as exc:
        logger.warning("import of %s from %s failed", kind, name)
        raise DatabaseError(f"the import of {kind} failed: {exc}; nothing was imported") from exc
    logger.info(
        "import of %s from %s by %s: %s in %.1f s%s",
        kind,
        name,
        actor,
        counts,
        time.perf_counter() - started,
        " (dry run, rolled back)" if dry_run else "",
    )
    unused = register.columns.unused
    all_notes = list(notes)
    if unused:
        all_notes.insert(0, "columns not read: " + ", ".join(unused))
    return RegisterReport(
        kind,
        register.table.path,
        rows,
        numbering=register.table.numbering,
        encoding=register.table.encoding,
        crs=crs,
        committed=not dry_run,
        notes=all_notes,
    )
