"""Importing the units (单元) of buildings: building id, unit number, households.

One row per unit (楼栋单元): the building's id as in the register of buildings
(``楼栋编号``, the id ``gridgis import buildings`` stored), the unit's number (``2``,
``2单元`` or ``2门``) and its households (``户数``; blank is 0). Upserted on
(building, number) in one transaction, with a per-row report: importing the same
file twice changes nothing. A row naming a building no stored building has, a unit
that is not a number of 1 or more, or a (building, unit) another row of the file
has too, is rejected with its row number and reason; the rest loads.

The units are what a 单元长 serves (``gridgis import workers``: 楼栋 and 单元).

Examples
--------
>>> report = import_units(engine, "楼栋单元.csv", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 36, 'imported': 35, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 1}
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Text, any_, bindparam, insert, literal, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.db.models import Building, BuildingUnit
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.registers.columns import match_columns
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import ROSTER_ALIASES, Register, run_register_import
from gridgis.registers.upsert import changes, outcome_of
from gridgis.registers.values import numbers

__all__ = ["UNIT_ALIASES", "UNIT_FIELDS", "UNIT_NUMBER", "import_units", "unit_number"]

UNIT_FIELDS: tuple[str, ...] = ("building", "unit", "households")
"""The fields of a register of units."""

UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    **ROSTER_ALIASES,
    "building": ("building", "building_id", "楼栋编号", "建筑编号", "楼栋", "所在楼栋"),
}
"""The headers of the fields: those of the rosters, with the building known by its id
(楼栋编号, which in the other registers is the row's own id)."""

UNIT_NUMBER = re.compile(r"^([0-9]{1,3})\s*(单元|门)?$")
"""A unit's number as written: ``2``, ``2单元``, ``2门``."""


def unit_number(text: str | None) -> int | None:
    """The number of a unit as written (``2``, ``2单元``, ``2 门``), ``None`` if it is none.

    Examples
    --------
    >>> unit_number("2单元"), unit_number("12"), unit_number("二单元"), unit_number("0")
    (2, 12, None, None)
    """
    match = UNIT_NUMBER.match(text.strip()) if text is not None else None
    if match is None or int(match.group(1)) < 1:
        return None
    return int(match.group(1))


def _building_ids(conn: Connection, ids: list[str]) -> dict[str, int]:
    """The stored buildings of these external ids: their row ids."""
    if not ids:
        return {}
    found = conn.execute(
        select(Building.external_id, Building.id).where(
            Building.external_id == any_(literal(sorted(set(ids)), ARRAY(Text)))
        )
    )
    return {str(e): int(i) for e, i in found}


def _stored_units(conn: Connection, building_ids: list[int]) -> dict[tuple[int, int], Any]:
    """The stored units of these buildings, by (building id, number)."""
    if not building_ids:
        return {}
    found = conn.execute(
        select(BuildingUnit.id, BuildingUnit.building_id, BuildingUnit.number,
               BuildingUnit.households)
        .where(BuildingUnit.building_id.in_(sorted(set(building_ids))))
    )  # fmt: skip
    return {(int(r.building_id), int(r.number)): r for r in found}


def import_units(
    engine: Engine | Connection,
    path: str | Path,
    *,
    building_field: str | None = None,
    unit_field: str | None = None,
    households_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of the units of buildings, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database; the buildings must be in it (``gridgis import buildings``). Or a
        connection in a transaction of the caller's (the demo's load): the import then
        runs in a savepoint of it, and the caller commits.
    path:
        CSV, ``.xlsx`` or any table GDAL reads (geometry, if any, is not read).
    building_field, unit_field, households_field:
        The column of each field, when its header is not one gridgis knows
        (:data:`UNIT_ALIASES`: 楼栋编号/building, 单元/unit, 户数/households).
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (one audit row, object type ``unit``, sums the import up).

    Returns
    -------
    RegisterReport
        A row's ``id`` is ``<building>/<unit>`` as written; extra column
        ``building_id`` (the stored building's row id).
    """
    given = {"building": building_field, "unit": unit_field, "households": households_field}
    say(progress, f"reading {path}")
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    columns = match_columns(
        table.field_names, UNIT_FIELDS, given=given, required=("building", "unit"),
        aliases=UNIT_ALIASES, source=table.path.name,
    )  # fmt: skip
    register = Register(table=table, columns=columns)

    def body(conn: Connection) -> RowOutcomes:
        buildings, units = register.texts("building"), register.texts("unit")
        ids = [f"{b or ''}/{u or ''}" for b, u in zip(buildings, units, strict=True)]
        outcomes = RowOutcomes(register.table.row, ids)
        households, households_why = numbers(
            pd.Series(register.texts("households"), dtype=object), "households", whole=True
        )
        numbered = [unit_number(u) for u in units]
        stored_buildings = _building_ids(conn, [b for b in buildings if b is not None])
        rows_of: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, (b, n) in enumerate(zip(buildings, numbered, strict=True)):
            if b is not None and n is not None:
                rows_of[(b, n)].append(int(register.table.row[i]))
        building_id = np.full(len(register), None, dtype=object)
        # Wording per row; the look-ups are dictionary ones (a register has thousands at most).
        for i in range(len(register)):
            problems: list[str | None] = []
            building, number = buildings[i], numbered[i]
            if building is None:
                problems.append("building missing")
            elif buildings[i] not in stored_buildings:
                problems.append(
                    f"unknown building {buildings[i]!r}: no stored building has that id"
                )
            else:
                building_id[i] = stored_buildings[str(buildings[i])]
            if units[i] is None:
                problems.append("unit missing")
            elif numbered[i] is None:
                problems.append(f"unit {units[i]!r} is not a unit number such as 2 or 2单元")
            problems.append(households_why[i])
            if building is not None and number is not None and len(rows_of[building, number]) > 1:
                others = ", ".join(str(r) for r in rows_of[building, number])
                problems.append(f"unit {ids[i]!r} is used by rows {others} of the file")
            if any(problems):
                outcomes.reject([i], "; ".join(p for p in problems if p))
        todo = np.flatnonzero(outcomes.pending)
        stored = _stored_units(conn, [int(building_id[i]) for i in todo])
        say(progress, f"storing {todo.size} units")
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for i in todo.tolist():
            number = numbered[i]
            assert number is not None
            after = {"households": 0 if np.isnan(households[i]) else int(households[i])}
            before = stored.get((int(building_id[i]), number))
            old = None if before is None else {"households": int(before.households)}
            outcome = outcome_of(old, after)
            if before is None:
                inserts.append({"building_id": building_id[i], "number": number, **after})
            elif outcome == "updated":
                outcomes.changes[i] = "; ".join(changes(old, after))
                updates.append({"stored_id": before.id, **after})
            outcomes.set([i], outcome)
        if inserts:  # one statement each, executed for many rows
            conn.execute(insert(BuildingUnit), inserts)
        if updates:
            by_id = BuildingUnit.id == bindparam("stored_id")
            conn.execute(update(BuildingUnit).where(by_id), updates)
        outcomes.add_column("building_id", building_id)
        return outcomes

    return run_register_import(engine, "units", register, body, dry_run=dry_run, actor=actor)
