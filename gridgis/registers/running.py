"""Running a roster import: read the file's columns, one transaction, one audit summary.

:func:`read_register` reads a file (:func:`gridgis.intake.readers.read_table`) and
finds its columns (:func:`gridgis.registers.columns.match_columns`);
:func:`run_register_import` runs an importer's body in one transaction, rolled back
on any failure and for a dry run, writes the audit row summing the import up in
that transaction, and turns database refusals into gridgis errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, Engine

from gridgis.intake.fields import as_text
from gridgis.intake.readers import SourceTable, read_table
from gridgis.registers.columns import ALIASES, Columns, match_columns
from gridgis.registers.loading import run_import
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.values import file_ids

__all__ = ["ROSTER_ALIASES", "Register", "read_register", "run_register_import"]

ROSTER_ALIASES: dict[str, tuple[str, ...]] = {
    **ALIASES,
    "unit": ("unit", "units", "unit_number", "单元", "单元号", "所在单元"),
    "secretary_phone": ("secretary_phone", "书记电话", "书记手机", "书记联系电话"),
    "wkt": ("wkt", "geometry", "geom", "几何", "线形"),
    "street": ("street", "street_code", "街道", "街道编码", "街道代码"),
    "district": ("district", "district_code", "区县", "区", "区县编码", "区县代码"),
    "name": (*ALIASES["name"], "户主", "户主姓名"),
    "room": ("room", "房号", "室号", "房间号"),
    "note": ("note", "备注", "说明"),
    "categories": (
        "categories",
        "category",
        "重点户类别",
        "户类别",
        "人员类别",
        "事件类别",
        "受理类别",
        "负责类别",
        "类别",
        "事件类型",
    ),
}
"""The headers of :data:`gridgis.registers.columns.ALIASES` and those of the rosters' own
fields (units a 单元长 serves, a party secretary's phone, a street, a road's line as WKT)."""


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

    def texts(self, field: str) -> list[str | None]:
        """The values of ``field`` as text, ``None`` when blank or when the file has no
        such column (Excel's 12.0 is ``'12'``)."""
        column = self.columns.get(field)
        if column is None:
            return [None] * len(self)
        return [as_text(v) for v in self.table.fields[column].tolist()]

    def outcomes(self) -> RowOutcomes:
        """An empty outcome per row, with the rows' ids."""
        return RowOutcomes(self.table.row, self.texts("id"))

    def id_problems(self) -> list[str | None]:
        """Per row: why its id is unusable (missing, or used by several rows of the file:
        :func:`gridgis.registers.values.file_ids`)."""
        ids = pd.Series(self.texts("id"), dtype=object)
        return file_ids(ids, self.table.row, self.table.numbering)


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
    engine: Engine | Connection,
    kind: str,
    register: Register,
    body: Callable[[Connection], RowOutcomes],
    *,
    dry_run: bool,
    actor: str,
    crs: str | None = None,
    notes: Sequence[str] = (),
) -> RegisterReport:
    """Run ``body`` in one transaction (:func:`gridgis.registers.loading.run_import`: committed
    unless ``dry_run``, one audit row summing it up) and report on the rows' outcomes.

    ``body`` checks and stores what it can and returns the rows' outcomes; whatever it
    raises rolls everything back. The report notes the file's columns no field read.

    Raises
    ------
    ConflictError
        When someone else stored one of the same ids meanwhile; nothing is imported.
    DatabaseError
        When the database refuses the rows; nothing is imported.
    """
    unused = register.columns.unused
    all_notes = (["columns not read: " + ", ".join(unused)] if unused else []) + list(notes)

    def report(conn: Connection) -> RegisterReport:
        return RegisterReport(
            kind,
            register.table.path,
            body(conn).frame(),
            numbering=register.table.numbering,
            encoding=register.table.encoding,
            crs=crs,
            notes=all_notes,
        )

    return run_import(engine, kind, register.table.path, report, dry_run=dry_run, actor=actor)
