"""Importing the register of key households (重点户): whom a 大走访 must visit.

One row per household: id, head of household (户主) and phone (people's data),
categories (退役军人, 困难户, 独居老人, 残疾人 and those configured in
``household_category``; several in one cell: ``退役军人、困难户``; codes or Chinese
names), building (its id as imported) or address (matched to a building by the
geocoder's address book), unit, room and a note. The household's community and
street are its building's.

Rows are upserted on the file's id in one transaction: a second import of the same
file changes nothing (every row ``unchanged``). A row is rejected, with its number
and the reason, for a missing or repeated id, a missing name, an unknown category, an
address matched to no building, a phone that is not one, or (``street``) a building
outside the street office's street. A masked export read back keeps the stored
name and phone.

Examples
--------
>>> report = import_residents(engine, "重点户.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 212, 'imported': 210, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 2}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import Building, HouseholdCategory, ResidentHousehold
from gridgis.db.queries import plain_value
from gridgis.intake.loading import say
from gridgis.registers.kinds import split_list
from gridgis.registers.places import Areas, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import read_register, run_register_import
from gridgis.registers.upsert import changes, outcome_of
from gridgis.registers.workers import check_phone, unmasked

__all__ = ["RESIDENT_FIELDS", "household_categories", "import_residents"]

RESIDENT_FIELDS: tuple[str, ...] = (
    "id", "name", "phone", "categories", "building", "address", "unit", "room", "note",
)  # fmt: skip
"""The fields of a register of key households."""

_STORED = ("head_name", "phone", "categories", "building_id", "unit", "room", "address", "note")


def household_categories(conn: Connection) -> dict[str, str]:
    """The household categories: code -> Chinese name (``veteran`` -> ``退役军人``)."""
    query = select(HouseholdCategory.code, HouseholdCategory.name_zh).order_by(
        HouseholdCategory.code
    )
    return {str(c): str(n) for c, n in conn.execute(query)}


def _stored(conn: Connection) -> dict[str, dict[str, Any]]:
    query = select(
        ResidentHousehold.id,
        ResidentHousehold.external_id,
        *(ResidentHousehold.__table__.c[c] for c in _STORED),
        ResidentHousehold.community_code,
    ).where(ResidentHousehold.external_id.is_not(None))
    return {str(r.external_id): dict(r._mapping) for r in conn.execute(query)}


def _buildings(
    conn: Connection, areas: Areas, given: list[str | None], addresses: list[str | None]
) -> list[tuple[int | None, str | None]]:
    """Per row: its building (by id as imported, else its address) and why none."""
    wanted = sorted({a for g, a in zip(given, addresses, strict=True) if g is None and a})
    matched: dict[str, tuple[int | None, str | None]] = {}
    if wanted:
        from gridgis.address import load_address_book, match_addresses

        found = match_addresses(load_address_book(conn), wanted)
        for text, ident, why in zip(
            wanted, found["building_id"].tolist(), found["reason"].tolist(), strict=True
        ):
            matched[text] = (None, why) if pd.isna(ident) else (int(ident), None)
    out: list[tuple[int | None, str | None]] = []
    for building, address in zip(given, addresses, strict=True):
        if building is not None:
            ident = areas.buildings.get(building)
            out.append(
                (ident, None)
                if ident is not None
                else (None, f"unknown building {building!r}: no stored building has that id")
            )
        elif address:
            ident, why = matched[address]
            out.append(
                (ident, None if ident is not None else f"address {address!r} not matched: {why}")
            )
        else:
            out.append((None, "building missing"))
    return out


def import_residents(
    engine: Engine | Connection,
    path: str | Path,
    *,
    id_field: str | None = None,
    name_field: str | None = None,
    phone_field: str | None = None,
    categories_field: str | None = None,
    building_field: str | None = None,
    address_field: str | None = None,
    unit_field: str | None = None,
    room_field: str | None = None,
    note_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of key households, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database, with the buildings (``gridgis import buildings``).
    path:
        CSV (any encoding), ``.xlsx``, GeoPackage or GeoJSON (a geometry is not read:
        a household is placed by its building).
    id_field, name_field, phone_field, categories_field, building_field, address_field, \
unit_field, room_field, note_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows whose building lies in another street, and
        ids stored for a household of another street, are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row sums the import up, one row per household updated
        (name and phone masked).

    Returns
    -------
    RegisterReport
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "name": name_field, "phone": phone_field,
        "categories": categories_field, "building": building_field,
        "address": address_field, "unit": unit_field, "room": room_field, "note": note_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = read_register(
        path, RESIDENT_FIELDS, given=given, required=("id", "name"),
        encoding=encoding, sheet=sheet, layer=layer,
    )  # fmt: skip

    def body(conn: Connection) -> RowOutcomes:
        n = len(register)
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        ids = register.texts("id")
        stored = _stored(conn)
        before_of = [stored.get(str(i), {}) if i is not None else {} for i in ids]
        names = unmasked(register.texts("name"), [b.get("head_name") for b in before_of], "name")
        phones = unmasked(register.texts("phone"), [b.get("phone") for b in before_of], "phone")
        known = household_categories(conn)
        by_name = {name: code for code, name in known.items()} | {c: c for c in known}
        listing = "、".join(known.values())
        areas = Areas.load(conn, buildings=True)
        addresses = register.texts("address")
        say(progress, f"matching {n} households to buildings")
        buildings = _buildings(conn, areas, register.texts("building"), addresses)
        places = dict(
            conn.execute(
                select(Building.id, Building.community_code).where(
                    Building.id.in_(sorted({b for b, _ in buildings if b is not None}))
                )
            ).all()
        )
        categories: list[list[str]] = []
        community: list[str | None] = []
        categories_given = register.texts("categories")
        for i in range(n):  # wording per row
            found: list[str] = [p for p in [id_reasons[i]] if p]
            if names[i] is None:
                found.append("name missing")
            items = split_list(categories_given[i])
            codes = [by_name.get(item) for item in items]
            for item, code in zip(items, codes, strict=True):
                if code is None:
                    found.append(f"unknown household category {item!r} (known: {listing})")
            categories.append(sorted({c for c in codes if c is not None}))
            if (why := check_phone(phones[i])) is not None:
                found.append(why)
            if any(v is not None and "**" in v for v in (names[i], phones[i])):
                found.append(
                    "name or phone masked (as an export writes it for those who may not see "
                    "it) but not the masked form of the stored person's: give the real value"
                )
            building, problem = buildings[i]
            found.extend([problem] if problem else [])
            community.append(places.get(building) if building is not None else None)
            if street is not None and not found:
                found.extend(
                    street_problems(
                        street, "household", community=community[i],
                        stored_area=before_of[i].get("community_code") if before_of[i] else None,
                    )
                )  # fmt: skip
            if found:
                outcomes.reject([i], "; ".join(found))
        say(progress, f"storing {int(outcomes.pending.sum())} households")
        texts = {f: register.texts(f) for f in ("unit", "room", "note")}
        for i in range(n):
            if not outcomes.pending[i]:
                continue
            after = {
                "head_name": names[i],
                "phone": phones[i],
                "categories": categories[i],
                "building_id": buildings[i][0],
                "unit": texts["unit"][i],
                "room": texts["room"][i],
                "address": addresses[i],
                "note": texts["note"][i],
            }
            where = community[i]
            street_of = where[:9] if where else None
            values = after | {"community_code": where, "street_code": street_of}
            before = stored.get(str(ids[i]))
            old: dict[str, Any] | None = None
            if before is not None:
                old = {k: plain_value(before[k]) for k in _STORED}
                old["categories"] = sorted(before["categories"] or [])
            outcome = outcome_of(old, after)
            if outcome == "imported":
                conn.execute(insert(ResidentHousehold).values(external_id=ids[i], **values))
            elif outcome == "updated" and before is not None:
                conn.execute(
                    update(ResidentHousehold)
                    .where(ResidentHousehold.id == before["id"])
                    .values(**values)
                )
                outcomes.changes[i] = "; ".join(changes(old, after))
                audit.record(
                    conn, actor=actor, action="update", object_type="resident_household",
                    object_id=ids[i], before=_masked(old), after=_masked(after),
                    street_code=street_of,
                )  # fmt: skip
            outcomes.set([i], outcome)
        outcomes.add_column("community_code", community)
        return outcomes

    return run_register_import(engine, "residents", register, body, dry_run=dry_run, actor=actor)


def _masked(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fields of a household for the audit trail: its name and phone masked."""
    if values is None:
        return None
    return values | {
        "head_name": audit.mask_person(values.get("head_name"), "name"),
        "phone": audit.mask_person(values.get("phone"), "phone"),
    }
