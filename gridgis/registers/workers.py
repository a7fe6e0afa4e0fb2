"""Importing grid workers (网格员) and the other people of the grid from a district's roster.

One row per person: id, name, phone, ID-card number, roles (专职网格员, 兼职网格员,
网格长, 楼栋长, 单元长, 网格指导员 and those configured, several in one cell:
``网格长、楼栋长``), and what the person serves: cells (by code), buildings (by
building id or address), units of that building (单元长: ``2`` or ``1、2``) or whole
communities (by code or name). Headers may be Chinese or English, in any order
(:mod:`gridgis.registers.columns`).

Rows are upserted on the file's id in one transaction: a second import of the same
file changes nothing (every row ``unchanged``). A row is rejected, with its number
and the bad value, for a missing or repeated id, a missing name, an unknown role,
an unknown cell code, building or community, a phone or ID-card number that is not
one. A person who serves nothing is stored and flagged ``serves_nothing``.

Examples
--------
>>> report = import_workers(engine, "网格员花名册.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 131, 'imported': 128, 'updated': 0, 'unchanged': 0, 'flagged': 1, 'rejected': 2}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from gridgis import audit
from gridgis.audit import mask_person
from gridgis.codes import check_code
from gridgis.db.models import (
    Building,
    GridWorker,
    WorkerBuilding,
    WorkerCell,
    WorkerCommunity,
    WorkerRole,
    WorkerUnit,
)
from gridgis.intake.loading import say
from gridgis.registers.kinds import role_codes, split_list, worker_roles
from gridgis.registers.places import Areas, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, read_register, run_register_import
from gridgis.registers.upsert import changes, outcome_of, replace_links_of

__all__ = ["WORKER_FIELDS", "check_id_number", "check_phone", "import_workers", "unmasked"]

WORKER_FIELDS: tuple[str, ...] = (
    "id", "name", "phone", "id_number", "role", "cells", "building", "unit", "community",
)  # fmt: skip
"""The fields of a workers' roster (see :data:`gridgis.registers.running.ROSTER_ALIASES`)."""

_PHONE = re.compile(r"^\+?[0-9][0-9\- ()]{4,19}$")
_ID_NUMBER = re.compile(r"^([0-9]{15}|[0-9]{17}[0-9Xx])$")
_UNIT = re.compile(r"^([0-9]{1,3})\s*(单元|门)?$")


def check_phone(value: str | None) -> str | None:
    """Why ``value`` is not a phone number (``None``: it is one, or there is none).

    Examples
    --------
    >>> check_phone("0594-2345678"), check_phone("138 1234 5678")
    (None, None)
    >>> check_phone("call me")
    "phone 'call me' is not a phone number (digits, with - or spaces)"
    """
    if value is None or _PHONE.match(value):
        return None
    return f"phone {value!r} is not a phone number (digits, with - or spaces)"


def check_id_number(value: str | None) -> str | None:
    """Why ``value`` is not an ID-card number (15 digits, or 17 and a digit or X); the
    value is named masked.

    Examples
    --------
    >>> check_id_number("35030419900101123X") is None
    True
    >>> check_id_number("3503041990")
    "ID number '******1990' is not 18 (or 15) characters: 17 digits and a digit or X"
    """
    if value is None or _ID_NUMBER.match(value):
        return None
    masked = audit.mask_person_data(value, key="id_number")
    return f"ID number {masked!r} is not 18 (or 15) characters: 17 digits and a digit or X"


def _employment(roles: list[str]) -> str:
    part_time = "part_time_worker" in roles and "full_time_worker" not in roles
    return "part_time" if part_time else "full_time"


class _Resolved:
    """What one row asks to store, once its references are read against the database."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.roles: list[str] = []
        self.cells: list[int] = []
        self.cell_codes: list[str] = []
        self.buildings: list[int] = []
        self.units: list[tuple[int, int]] = []
        self.communities: list[str] = []


def _resolve_buildings(
    conn: Connection, register: Register, areas: Areas
) -> list[tuple[list[int], list[str]]]:
    """Per row: the building ids named (by id, else by address) and the items not found."""
    items = [split_list(v) for v in register.texts("building")]
    unknown = sorted({i for row in items for i in row if i not in areas.buildings})
    by_address: dict[str, int] = {}
    if unknown:
        from gridgis.address import load_address_book, match_addresses

        found = match_addresses(load_address_book(conn), unknown)
        for text, ident in zip(unknown, found["building_id"].tolist(), strict=True):
            if not pd.isna(ident):  # an unmatched address is <NA>, whose == raises
                by_address[text] = int(ident)
    out = []
    for row in items:
        ids = [areas.buildings.get(i, by_address.get(i, -1)) for i in row]
        out.append(
            ([i for i in ids if i >= 0], [t for t, i in zip(row, ids, strict=True) if i < 0])
        )
    return out


def unmasked(values: list[str | None], stored: list[str | None], field: str) -> list[str | None]:
    """The file's values, with a value that is exactly the masked form of the stored one
    (as a masked export writes it) replaced by the stored one.

    Examples
    --------
    >>> unmasked(["张**", "李四", "王**"], ["张三丰", "张三", None], "name")
    ['张三丰', '李四', '王**']
    """
    return [
        s if v is not None and s is not None and v != s and v == mask_person(s, field) else v
        for v, s in zip(values, stored, strict=True)
    ]


def _looks_masked(value: str | None) -> bool:
    return value is not None and "**" in value


def _resolve(
    conn: Connection,
    register: Register,
    areas: Areas,
    person: dict[str, list[str | None]],
) -> list[_Resolved]:
    """Read every row's roles, cells, buildings, units and communities (the problems named);
    ``person``: the rows' name, phone and id_number, unmasked where the file held the
    masked form of the stored value."""
    known_roles = worker_roles()
    buildings = _resolve_buildings(conn, register, areas)
    out = []
    names, phones, id_numbers = person["name"], person["phone"], person["id_number"]
    roles_given = register.texts("role")
    cells_given = register.texts("cells")
    units_given = register.texts("unit")
    communities_given = register.texts("community")
    # One pass over the rows, each a few dictionary look-ups: a roster has thousands at most.
    for i in range(len(register)):
        r = _Resolved()
        if names[i] is None:
            r.problems.append("name missing")
        masked = [f for f in ("name", "phone", "id_number") if _looks_masked(person[f][i])]
        if masked:
            r.problems.append(
                f"{'、'.join(masked)} masked (as an export writes it for those who may not "
                "see it) but not the masked form of the stored person's: give the real value"
            )
        for value in (names[i], phones[i], id_numbers[i]):
            if value is not None and "\x00" in value:
                r.problems.append("text with a NUL character (U+0000)")
        r.problems.extend(p for p in (check_phone(phones[i]), check_id_number(id_numbers[i])) if p)
        r.roles, unknown_roles = role_codes(roles_given[i])
        if unknown_roles:
            listing = "、".join(known_roles.values())
            r.problems.append(f"unknown role {'、'.join(unknown_roles)!r} (known: {listing})")
        if roles_given[i] is None:
            r.roles = ["full_time_worker"]
        r.cell_codes = split_list(cells_given[i])
        r.cells, unknown_cells = areas.cell_ids(r.cell_codes)
        if unknown_cells:
            r.problems.append(
                f"unknown cell code {'、'.join(unknown_cells)!r}: no active cell has it"
            )
        r.buildings, unknown_buildings = buildings[i]
        if unknown_buildings:
            r.problems.append(
                f"unknown building {'、'.join(unknown_buildings)!r}: neither a building id "
                "nor an address matched to a building"
            )
        units = split_list(units_given[i])
        if units:
            numbers = [m.group(1) for u in units if (m := _UNIT.match(u))]
            if len(numbers) < len(units):
                r.problems.append(
                    f"unit {units_given[i]!r} is not a unit number such as 2 or 2单元"
                )
            elif len(r.buildings) != 1 or unknown_buildings:
                r.problems.append(
                    f"unit {units_given[i]!r} needs exactly one building in the building column"
                )
            else:
                r.units = [(r.buildings[0], int(n)) for n in numbers if int(n) >= 1]
        for value in split_list(communities_given[i]):
            code = areas.community_code(value)
            if code is None:
                r.problems.append(f"unknown community {value!r} (neither a code nor a name)")
            elif code not in r.communities:
                r.communities.append(code)
        out.append(r)
    return out


def _stored(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored people with these external ids: their fields and links, by external id."""
    if not ids:
        return {}
    rows = conn.execute(
        select(
            GridWorker.id,
            GridWorker.external_id,
            GridWorker.name,
            GridWorker.phone,
            GridWorker.id_number,
            GridWorker.employment,
            GridWorker.street_code,
        ).where(GridWorker.external_id.in_(ids))
    ).all()
    found = {
        str(r.external_id): {
            "_id": int(r.id),
            "name": r.name,
            "phone": r.phone,
            "id_number": r.id_number,
            "employment": r.employment,
            "street_code": r.street_code,
            "roles": [],
            "cells": [],
            "buildings": [],
            "units": [],
            "communities": [],
        }
        for r in rows
    }
    by_id = {v["_id"]: v for v in found.values()}
    keys = list(by_id)
    links: list[tuple[str, Any]] = [
        ("roles", select(WorkerRole.worker_id, WorkerRole.role)),
        ("cells", select(WorkerCell.worker_id, WorkerCell.cell_id)),
        ("buildings", select(WorkerBuilding.worker_id, WorkerBuilding.building_id)),
        ("communities", select(WorkerCommunity.worker_id, WorkerCommunity.community_code)),
    ]
    for name, query in links:
        for owner, value in conn.execute(query.where(query.selected_columns[0].in_(keys))):
            by_id[int(owner)][name].append(value)
    units = select(WorkerUnit.worker_id, WorkerUnit.building_id, WorkerUnit.unit_number)
    for owner, building, number in conn.execute(units.where(WorkerUnit.worker_id.in_(keys))):
        by_id[int(owner)]["units"].append((int(building), int(number)))
    return found


def _wanted(name: str | None, phone: str | None, id_number: str | None, r: _Resolved,
            areas: Areas, building_area: dict[int, str]) -> dict[str, Any]:  # fmt: skip
    """The stored form of a row: fields and the links it serves (its street: that of its
    first cell, else community, else building or unit: a 楼栋长's is the building's)."""
    street = None
    if r.cells:
        street = areas.street_of(areas.cell_community(r.cells[0]))
    elif r.communities:
        street = areas.street_of(r.communities[0])
    elif r.buildings or r.units:
        first = r.buildings[0] if r.buildings else r.units[0][0]
        street = areas.street_of(building_area.get(first))
    return {
        "name": name,
        "phone": phone,
        "id_number": id_number,
        "employment": _employment(r.roles),
        "street_code": street,
        "roles": r.roles,
        "cells": r.cells,
        "buildings": r.buildings,
        "units": r.units,
        "communities": r.communities,
    }


_FIELDS = ("name", "phone", "id_number", "employment", "street_code")


def _store(conn: Connection, rows: list[tuple[str, dict[str, Any] | None, dict[str, Any]]]) -> None:
    """Insert or update people (external id, stored state or ``None``, wanted state) and
    rewrite their links: a few statements, each executed for many people."""
    new = [(external, after) for external, before, after in rows if before is None]
    ids: list[int] = []
    if new:
        query = insert(GridWorker).returning(GridWorker.id, sort_by_parameter_order=True)
        values = [{"external_id": e, **{k: a[k] for k in _FIELDS}} for e, a in new]
        ids = [int(i) for i in conn.execute(query, values).scalars()]
    new_ids = dict(zip((external for external, _ in new), ids, strict=True))
    stored = [int(before["_id"]) for _, before, _ in rows if before is not None]
    if stored:
        by_id = GridWorker.id == bindparam("stored_id")
        conn.execute(
            update(GridWorker).where(by_id),
            [
                {"stored_id": int(before["_id"]), **{k: after[k] for k in _FIELDS}}
                for _, before, after in rows
                if before is not None
            ],
        )
    owners = [
        (new_ids[external] if before is None else int(before["_id"]), after)
        for external, before, after in rows
    ]
    links: list[tuple[Any, Callable[[dict[str, Any]], list[dict[str, Any]]]]] = [
        (WorkerRole, lambda a: [{"role": r} for r in a["roles"]]),
        (WorkerCell, lambda a: [{"cell_id": c} for c in a["cells"]]),
        (WorkerBuilding, lambda a: [{"building_id": b} for b in a["buildings"]]),
        (WorkerUnit, lambda a: [{"building_id": b, "unit_number": n} for b, n in a["units"]]),
        (WorkerCommunity, lambda a: [{"community_code": c} for c in a["communities"]]),
    ]
    for model, rows_of in links:
        served = {worker_id: rows_of(after) for worker_id, after in owners}
        replace_links_of(conn, model, "worker_id", served, stored=stored)


def _report_form(state: dict[str, Any], cell_codes: dict[int, str]) -> dict[str, Any]:
    """A stored or wanted state as the report and the audit trail compare it."""
    form = {k: state[k] for k in _FIELDS}
    form["roles"] = sorted(state["roles"])
    form["cells"] = sorted(cell_codes.get(c, str(c)) for c in state["cells"])
    form["buildings"] = sorted(state["buildings"])
    form["units"] = sorted(f"{b}/{n}" for b, n in state["units"])
    form["communities"] = sorted(state["communities"])
    return form


def import_workers(
    engine: Engine | Connection,
    path: str | Path,
    *,
    id_field: str | None = None,
    name_field: str | None = None,
    phone_field: str | None = None,
    id_number_field: str | None = None,
    role_field: str | None = None,
    cells_field: str | None = None,
    building_field: str | None = None,
    unit_field: str | None = None,
    community_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a roster of grid workers and the other people of the grid, in one transaction.

    Parameters
    ----------
    engine:
        The database.
    path:
        The roster: CSV (UTF-8 or GBK, detected), ``.xlsx``, or a vector file's table.
    id_field, name_field, phone_field, id_number_field, role_field, cells_field, \
building_field, unit_field, community_field:
        The column of each field, when its header is not one gridgis knows
        (:data:`gridgis.registers.running.ROSTER_ALIASES`).
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows serving nothing in it, or a cell,
        building or community of another street, and ids stored for a person of
        another street, are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports. The audit trail gets one row summing the import up, and one
        row per person whose stored data changed (phones and ID numbers masked).

    Returns
    -------
    RegisterReport
        One outcome per row; the rows' ``cells`` column lists the cell codes served.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError
        When the file cannot be read, or has no id or name column; nothing is imported.
    ConflictError, DatabaseError
        When the database refuses the rows; nothing is imported.
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "name": name_field, "phone": phone_field,
        "id_number": id_number_field, "role": role_field, "cells": cells_field,
        "building": building_field, "unit": unit_field, "community": community_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = read_register(
        path, WORKER_FIELDS, given=given, required=("id", "name"),
        encoding=encoding, sheet=sheet, layer=layer,
    )  # fmt: skip

    def body(conn: Connection) -> RowOutcomes:
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        areas = Areas.load(conn, buildings=register.columns.get("building") is not None)
        say(progress, f"checking the cells, buildings and communities of {len(register)} rows")
        ids = register.texts("id")
        known = _stored(conn, sorted({str(i) for i in ids if i is not None}))
        person = {
            field: unmasked(
                register.texts(field),
                [None if i is None else known.get(str(i), {}).get(field) for i in ids],
                field,
            )
            for field in ("name", "phone", "id_number")
        }
        resolved = _resolve(conn, register, areas, person)
        good = [i for i in range(len(register)) if not id_reasons[i] and not resolved[i].problems]
        bad = np.setdiff1d(np.arange(len(register)), good)
        outcomes.reject(bad, [_reason(id_reasons[i], resolved[i].problems) for i in bad.tolist()])
        stored = _stored(conn, [str(ids[i]) for i in good])
        if street is not None:
            good = _within_street(conn, street, good, ids, resolved, stored, areas, outcomes)
        codes = dict(zip(areas.cells["id"].tolist(), areas.cells["code"].tolist(), strict=True))
        names, phones, numbers = person["name"], person["phone"], person["id_number"]
        building_area = _building_communities(
            conn,
            {b for i in good for b in [*resolved[i].buildings, *(u for u, _ in resolved[i].units)]},
        )
        say(progress, f"storing {len(good)} people")
        storing: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
        for i in good:
            external = str(ids[i])
            before = stored.get(external)
            after = _wanted(names[i], phones[i], numbers[i], resolved[i], areas, building_area)
            old = None if before is None else _report_form(before, codes)
            new = _report_form(after, codes)
            outcome = outcome_of(old, new)
            if outcome != "unchanged":
                storing.append((external, before, after))
            if outcome == "updated":
                outcomes.changes[i] = "; ".join(changes(old, new))
                audit.record(conn, actor=actor, action="update", object_type="worker",
                             object_id=external, before=old, after=new,
                             street_code=new["street_code"])  # fmt: skip
            if not (after["cells"] or after["buildings"] or after["units"] or after["communities"]):
                outcomes.flag([i], "serves_nothing", "serves no cell, building, unit or community")
            outcomes.set(
                [i], "flagged" if outcomes.flags[i] and outcome != "unchanged" else outcome
            )
        _store(conn, storing)
        served = np.asarray(["、".join(r.cell_codes) or None for r in resolved], dtype=object)
        outcomes.add_column("cells", served)
        return outcomes

    return run_register_import(engine, "workers", register, body, dry_run=dry_run, actor=actor)


def _building_communities(conn: Connection, ids: set[int]) -> dict[int, str]:
    """Building id -> its community code, for the buildings ``ids``."""
    if not ids:
        return {}
    query = select(Building.id, Building.community_code).where(Building.id.in_(sorted(ids)))
    return {int(b): str(c) for b, c in conn.execute(query)}


def _within_street(
    conn: Connection,
    street: str,
    good: list[int],
    ids: list[str | None],
    resolved: list[_Resolved],
    stored: dict[str, dict[str, Any]],
    areas: Areas,
    outcomes: RowOutcomes,
) -> list[int]:
    """The rows of ``good`` within ``street``; the others rejected with the reason."""
    wanted = {b for i in good for b in resolved[i].buildings}
    query = select(Building.id, Building.community_code).where(Building.id.in_(wanted))
    building_area = {int(b): c for b, c in conn.execute(query)} if wanted else {}
    kept = []
    for i in good:
        r = resolved[i]
        served = [
            *((f"cell {code}", areas.cell_community(c))
              for code, c in zip(r.cell_codes, r.cells, strict=True)),
            *((f"building {b}", building_area.get(b)) for b in r.buildings),
            *((f"community {c}", c) for c in r.communities),
        ]  # fmt: skip
        before = stored.get(str(ids[i]))
        problems = street_problems(
            street, "person", located=False, served=served,
            stored_area=None if before is None else before["street_code"] or "",
        )  # fmt: skip
        if not served:
            problems.append(f"serves no cell, building or community of street {street}")
        if problems:
            outcomes.reject([i], "; ".join(problems))
        else:
            kept.append(i)
    return kept


def _reason(id_reason: str | None, problems: list[str]) -> str:
    return "; ".join([p for p in [id_reason, *problems] if p])
