"""Importing the register of compounds (小区) and how each is managed (红心物业, issue 19).

``gridgis import compounds FILE``: one row per compound of a community. The community
(社区: its code or name) and the compound's name (小区, as its buildings name it:
``gridgis import buildings``'s 小区) say which; a compound no building of that community
names is rejected (import the buildings first). Then whether it is old (老旧小区: 是/否;
when blank, built in 2000 or before), the year built (建成年份), the management
(管理方式: 物业公司, 红心物业 or 无), the 红心物业 mode (红心物业模式: 物业服务, 居民自治,
驻区单位包保, 社区兜底; a mode alone in 管理方式 says 红心物业 too), the company
(物业公司), the contact and phone (people's data), the 驻区单位 taking it on (包保单位: its
id or name; for 驻区单位包保 only), the party organisation leading it (牵头党组织: its id
or name), since when (起始日期) and a note.

Upserted on (community, compound) in one transaction with a per-row report whose id is
``<community>/<compound>``: importing the same file twice changes nothing. A row with an
unknown community, compound, management, mode, unit or organisation, or values that
disagree (a company named for 红心物业), is rejected with its row number and reason (in
English and Chinese: :mod:`gridgis.registers.reasons`); the rest loads. A street office's
file is kept within its street.

Examples
--------
>>> report = import_compounds(engine, "小区物业.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 40, 'imported': 38, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 2}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, tuple_, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import Building, CompoundManagement, PartyUnit
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.party.compound_edits import (
    built_year_problem,
    compound_key,
    management_of,
    management_problems,
    old_by_year,
)
from gridgis.party.compounds import STORED_FIELDS
from gridgis.registers.columns import match_columns
from gridgis.registers.members import organisation_index, read_date
from gridgis.registers.places import Areas
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, run_register_import
from gridgis.registers.upsert import changes, outcome_of
from gridgis.registers.values import yes_no
from gridgis.registers.workers import check_phone, unmasked

__all__ = ["COMPOUND_ALIASES", "COMPOUND_FIELDS", "import_compounds"]

COMPOUND_FIELDS: tuple[str, ...] = (
    "community", "compound", "old", "built", "management", "mode", "company", "contact",
    "contact_phone", "unit", "organisation", "since", "note",
)  # fmt: skip
"""The fields of a register of compounds."""

COMPOUND_ALIASES: dict[str, tuple[str, ...]] = {
    "community": ("community", "community_code", "社区", "所在社区", "社区编码", "社区名称"),
    "compound": ("compound", "小区", "小区名称", "院落"),
    "old": ("old", "老旧小区", "是否老旧小区"),
    "built": ("built", "built_year", "建成年份", "建成年代", "建成时间"),
    "management": ("management", "管理方式", "物业管理方式", "物业管理"),
    "mode": ("mode", "red_mode", "红心物业模式", "模式"),
    "company": ("company", "物业公司", "物业公司名称", "物业企业"),
    "contact": ("contact", "联系人", "负责人"),
    "contact_phone": ("contact_phone", "phone", "联系电话", "电话", "手机"),
    "unit": ("unit", "resident_unit", "包保单位", "驻区单位"),
    "organisation": ("organisation", "organization", "牵头党组织", "党组织", "物业党支部"),
    "since": ("since", "起始日期", "开始日期", "启动日期"),
    "note": ("note", "备注", "说明"),
}
"""The headers each field is known by."""


def _read(path: str | Path, given: dict[str, str | None], **options: Any) -> Register:
    table = read_table(path, **options)
    columns = match_columns(
        table.field_names, COMPOUND_FIELDS, given=given, required=("community", "compound"),
        aliases=COMPOUND_ALIASES, source=table.path.name,
    )  # fmt: skip
    return Register(table=table, columns=columns)


def _stored(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    if not keys:
        return {}
    m = CompoundManagement
    rows = conn.execute(
        select(m.id, m.community_code, m.name, *(getattr(m, f) for f in STORED_FIELDS)).where(
            tuple_(m.community_code, m.name).in_(keys)
        )
    )
    return {(str(r.community_code), str(r.name)): dict(r._mapping) for r in rows}


def _units(conn: Connection) -> tuple[dict[str, int], dict[str, list[str]]]:
    """驻区单位 by file id (the database id when it has none) → database id, and by name →
    file ids (as :func:`gridgis.registers.members.organisation_index` gives organisations)."""
    by_id: dict[str, int] = {}
    by_name: dict[str, list[str]] = {}
    for uid, external, name in conn.execute(
        select(PartyUnit.id, PartyUnit.external_id, PartyUnit.name)
    ):
        by_id[str(external or uid)] = int(uid)
        by_name.setdefault(str(name), []).append(str(external or uid))
    return by_id, by_name


def _lookup(value: str | None, by_id: dict[str, int], by_name: dict[str, list[str]]) -> int | None:
    """The database id a file names by its file id or (unique) name; ``None`` when none
    (or several) answer."""
    if value is None:
        return None
    if value in by_id:
        return by_id[value]
    named = by_name.get(value, [])
    return by_id[named[0]] if len(named) == 1 else None


def import_compounds(
    engine: Engine | Connection,
    path: str | Path,
    *,
    community_field: str | None = None,
    compound_field: str | None = None,
    old_field: str | None = None,
    built_field: str | None = None,
    management_field: str | None = None,
    mode_field: str | None = None,
    company_field: str | None = None,
    contact_field: str | None = None,
    contact_phone_field: str | None = None,
    unit_field: str | None = None,
    organisation_field: str | None = None,
    since_field: str | None = None,
    note_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of compounds and their management, in one transaction, with a
    per-row report.

    Parameters
    ----------
    engine:
        The database, with the buildings (their 小区), and the 驻区单位 and party
        organisations the file names.
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage (a table: geometries are not read).
    community_field, compound_field, old_field, built_field, management_field, mode_field, \
company_field, contact_field, contact_phone_field, unit_field, organisation_field, \
since_field, note_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows of a community of another street are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row sums the import up, one row per compound changed.

    Returns
    -------
    RegisterReport
        With the column ``community_code``.
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "community": community_field, "compound": compound_field, "old": old_field,
        "built": built_field, "management": management_field, "mode": mode_field,
        "company": company_field, "contact": contact_field,
        "contact_phone": contact_phone_field, "unit": unit_field,
        "organisation": organisation_field, "since": since_field, "note": note_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = _read(path, given, encoding=encoding, sheet=sheet, layer=layer)
    n = len(register)
    text = {field: register.texts(field) for field in COMPOUND_FIELDS}
    codes: list[str | None] = [None] * n

    def body(conn: Connection) -> RowOutcomes:
        areas = Areas.load(conn)
        for i, value in enumerate(text["community"]):
            codes[i] = None if value is None else areas.community_code(value)
        names = [None if v is None else v.strip() for v in text["compound"]]
        ids = [compound_key(c or (t or ""), m or "") for c, t, m in
               zip(codes, text["community"], names, strict=True)]  # fmt: skip
        outcomes = RowOutcomes(register.table.row, ids)
        say(progress, f"checking {n} compounds")
        wanted = sorted({(c, m) for c, m in zip(codes, names, strict=True) if c and m})
        known = {
            (str(c), str(m))
            for c, m in conn.execute(
                select(Building.community_code, Building.compound)
                .where(tuple_(Building.community_code, Building.compound).in_(wanted))
                .distinct()
            )
        } if wanted else set()  # fmt: skip
        stored = _stored(conn, wanted)
        units_by_id, units_by_name = _units(conn)
        organisations_by_id, organisations_by_name, _ = organisation_index(conn)
        keys = [(c, m) if c and m else None for c, m in zip(codes, names, strict=True)]
        old, old_why = yes_no(pd.Series(text["old"], dtype=object), "old")
        old_given = [v is not None for v in text["old"]]
        before_of = [stored.get(k, {}) if k else {} for k in keys]
        contacts = unmasked(text["contact"], [b.get("contact") for b in before_of], "contact")
        phones = unmasked(
            text["contact_phone"], [b.get("contact_phone") for b in before_of], "contact_phone"
        )
        seen = Counter(k for k in keys if k is not None)
        rows_of: dict[tuple[str, str], list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None and seen[key] > 1:
                rows_of.setdefault(key, []).append(int(register.table.row[i]))
        wanted_rows: list[dict[str, Any] | None] = [None] * n
        for i in range(n):  # wording per row; the look-ups are dictionary ones
            problems = [p for p in [old_why[i]] if p]
            community, name = codes[i], names[i]
            if text["community"][i] is None:
                problems.append("community missing")
            elif community is None:
                problems.append(
                    f"unknown community {text['community'][i]!r} (neither a code nor a name)"
                )
            if name is None:
                problems.append("compound missing")
            elif community is not None:
                if (community, name) in rows_of:
                    listed = ", ".join(str(r) for r in rows_of[(community, name)])
                    problems.append(f"compound {name!r} is used by rows {listed} of the file")
                if (community, name) not in known and (community, name) not in stored:
                    problems.append(
                        f"unknown compound {name!r}: no building of community {community} names it"
                    )
                if street is not None and not community.startswith(street):
                    problems.append(
                        f"the compound lies in community {community}, outside street {street}"
                    )
            management, mode = management_of(text["management"][i], text["mode"][i])
            unit_text = text["unit"][i]
            problems += management_problems(
                management, mode, company=text["company"][i], unit=unit_text,
                given=(text["management"][i], text["mode"][i]),
            )  # fmt: skip
            unit_id = _lookup(unit_text, units_by_id, units_by_name)
            if unit_text is not None and unit_id is None:
                problems.append(
                    f"unknown resident unit {unit_text!r}: no 驻区单位 has that id or name"
                )
            organisation = text["organisation"][i]
            organisation_id = _lookup(organisation, organisations_by_id, organisations_by_name)
            if organisation is not None and organisation_id is None:
                if len(organisations_by_name.get(organisation, [])) > 1:
                    problems.append(
                        f"organisation {organisation!r} names several organisations: use its id"
                    )
                else:
                    problems.append(
                        f"unknown organisation {organisation!r}: no organisation has that id "
                        "or name"
                    )
            built, why = built_year_problem(text["built"][i])
            problems += [p for p in (why, check_phone(phones[i])) if p]
            since, ok = read_date(text["since"][i])
            if not ok:
                problems.append(f"since {text['since'][i]!r} is not a date")
            if "**" in (contacts[i] or ""):
                problems.append(
                    "contact masked (as an export writes it for those who may not see it) but "
                    "not the masked form of the stored person's: give the real value"
                )
            if problems:
                outcomes.reject([i], "; ".join(problems))
                continue
            wanted_rows[i] = {
                "old": old_by_year(bool(old[i]) if old_given[i] else None, built),
                "built_year": built,
                "management": management,
                "red_mode": mode if management == "red" else None,
                "company": text["company"][i],
                "contact": contacts[i],
                "contact_phone": phones[i],
                "unit_id": unit_id,
                "organisation_id": organisation_id,
                "since": since,
                "note": text["note"][i],
            }
        say(progress, f"storing {int(outcomes.pending.sum())} compounds")
        for i in np.flatnonzero(outcomes.pending).tolist():
            after = wanted_rows[i]
            assert after is not None and codes[i] is not None and names[i] is not None
            community, name = str(codes[i]), str(names[i])
            before = stored.get((community, name))
            old_values = None if before is None else {k: before[k] for k in STORED_FIELDS}
            outcome = outcome_of(old_values, after)
            if before is None:
                conn.execute(
                    insert(CompoundManagement).values(community_code=community, name=name, **after)
                )
            elif outcome != "unchanged":
                conn.execute(
                    update(CompoundManagement)
                    .where(CompoundManagement.id == before["id"])
                    .values(**after)
                )
                outcomes.changes[i] = "; ".join(changes(old_values, after))
                audit.record(conn, actor=actor, action="update", object_type="compound",
                             object_id=compound_key(community, name), before=old_values,
                             after=after, street_code=community[:9])  # fmt: skip
            outcomes.set([i], outcome)
        outcomes.add_column("community_code", codes)
        return outcomes

    return run_register_import(engine, "compounds", register, body, dry_run=dry_run, actor=actor)
