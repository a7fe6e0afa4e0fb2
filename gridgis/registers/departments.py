"""Importing departments (职能部门) and the categories each handles by default.

One row per department: its code (编码), name (名称), the district (区县) or street
(街道) it serves — a code or a name — its duty phone (电话) and, optionally, the case
categories (事件类别: codes or Chinese names, separated by 、 , ; or spaces) it
handles by default there: each becomes a dispatch rule of the department's area
(:func:`gridgis.cases.departments.add_rule` replaces a rule of the same category and
area). Upserted on the code in one transaction, with a per-row report; for
administrators (departments are the district's business).

Examples
--------
>>> import_departments(engine, "部门.xlsx", actor="cli:li").counts  # doctest: +SKIP
{'read': 6, 'imported': 6, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 0}
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from gridgis.cases.categories import load_categories
from gridgis.cases.departments import set_rule
from gridgis.db.models import DEPARTMENT_CODE_PATTERN, Department, District, Street
from gridgis.intake.loading import say
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import read_register, run_register_import
from gridgis.registers.upsert import changes, outcome_of
from gridgis.registers.workers import check_phone

__all__ = ["DEPARTMENT_FIELDS", "import_departments"]

DEPARTMENT_FIELDS: tuple[str, ...] = ("id", "name", "district", "street", "phone", "categories")
"""The fields of a departments' register (``id`` is the department's code)."""

_CODE = re.compile(DEPARTMENT_CODE_PATTERN)
_SEPARATORS = re.compile(r"[、,，;；\s]+")
_FIELDS = ("name", "district_code", "street_code", "phone")


def _areas(conn: Connection) -> dict[str, tuple[str, str]]:
    """District and street codes and names -> (level, code)."""
    out: dict[str, tuple[str, str]] = {}
    for level, table in (("district", District), ("street", Street)):
        for code, name in conn.execute(select(table.code, table.name)):
            out[code] = (level, code)
            out.setdefault(name, (level, code))
    return out


def import_departments(
    engine: Engine | Connection,
    path: str | Path,
    *,
    id_field: str | None = None,
    name_field: str | None = None,
    district_field: str | None = None,
    street_field: str | None = None,
    phone_field: str | None = None,
    categories_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of departments, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database.
    path:
        CSV or ``.xlsx`` (or any table :func:`gridgis.intake.readers.read_table` reads).
    id_field, name_field, district_field, street_field, phone_field, categories_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (one audit row sums the import up).

    Returns
    -------
    RegisterReport
        A row is rejected for a bad or repeated code, no name, no district or street
        (or one not in the database), a bad phone or an unknown category.
    """
    given = {
        "id": id_field, "name": name_field, "district": district_field,
        "street": street_field, "phone": phone_field, "categories": categories_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = read_register(
        path, DEPARTMENT_FIELDS, given=given, required=("id", "name"),
        encoding=encoding, sheet=sheet, layer=layer,
    )  # fmt: skip

    def body(conn: Connection) -> RowOutcomes:
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        ids, names = register.texts("id"), register.texts("name")
        districts, streets = register.texts("district"), register.texts("street")
        phones, listed = register.texts("phone"), register.texts("categories")
        areas = _areas(conn)
        categories = load_categories(conn)
        rows: dict[int, dict[str, Any]] = {}
        rules: dict[int, list[str]] = {}
        for i in range(len(register)):
            problems = [id_reasons[i]]
            code_given = ids[i]
            if code_given is not None and not _CODE.fullmatch(code_given):
                problems.append(
                    f"id {code_given!r} is not a code of 1 to 32 letters, digits, '_', '.' or '-'"
                )
            if names[i] is None:
                problems.append("name missing")
            if any(v is not None and "\x00" in v for v in (ids[i], names[i], phones[i])):
                problems.append("text with a NUL character (U+0000)")
            place = streets[i] or districts[i]
            area = areas.get(place) if place is not None else None
            if place is None:
                problems.append("district or street missing")
            elif area is None:
                problems.append(f"unknown area {place!r} (neither a district nor a street)")
            phone = phones[i]
            problems.append(check_phone(phone))
            codes: list[str] = []
            for word in _SEPARATORS.split(listed[i] or ""):
                if not word:
                    continue
                code = categories.code_of(word)
                if code is None:
                    problems.append(f"unknown category {word!r} (known: {categories.listing()})")
                else:
                    codes.append(code)
            if any(problems):
                outcomes.reject([i], "; ".join(p for p in problems if p))
                continue
            assert area is not None
            level, code_of_area = area
            rows[i] = {
                "name": names[i],
                "district_code": code_of_area if level == "district" else None,
                "street_code": code_of_area if level == "street" else None,
                "phone": phone,
            }
            rules[i] = codes
        say(progress, f"storing {len(rows)} departments")
        stored = {
            r.code: dict(r._mapping)
            for r in conn.execute(
                select(Department.code, *(Department.__table__.c[f] for f in _FIELDS)).where(
                    Department.code.in_([ids[i] for i in rows])
                )
            )
        }
        for i, after in rows.items():
            code = str(ids[i])
            before = stored.get(code)
            old = None if before is None else {k: before[k] for k in _FIELDS}
            outcome = outcome_of(old, after)
            if before is None:
                conn.execute(insert(Department).values(code=code, **after))
            elif outcome == "updated":
                outcomes.changes[i] = "; ".join(changes(old, after))
                conn.execute(update(Department).where(Department.code == code).values(after))
            area_code = after["street_code"] or after["district_code"]
            for category in rules[i]:
                moved = set_rule(conn, category, area_code, code) != code
                if moved and outcome == "unchanged":
                    outcome = "updated"
                    outcomes.changes[i] = f"dispatch rule for {category}"
            outcomes.set([i], outcome)
        return outcomes

    return run_register_import(engine, "departments", register, body, dry_run=dry_run, actor=actor)
