"""Importing the party members register (党员名册) from a district's file.

One row per member: id, name (姓名), sex (性别), birth year or date (出生年份 /
出生日期), date joined (入党日期), organisation (所在党组织: its id or its name),
kind (党员类型: 直管, 在职, 流动, 离退休), address (地址), phone, ID-card number
(身份证号, its check digit checked), the community an 在职党员 reported to and when
(报到社区, 报到日期), and whether the household is a 党员中心户 (是/否). Headers
Chinese or English, in any order.

The address is placed on a building through the address book
(:mod:`gridgis.address`), as :mod:`gridgis.registers.households` does; a member
whose address matches no building or several equally is still stored, flagged
``not_placed`` with the reason and the best candidates, and counted in the
community of their organisation. A birth year or sex missing from the file is
read from the ID number.

Rows are upserted on the file's id in one transaction; a second import of the
same file changes nothing. A masked export read back keeps the stored values
(:func:`gridgis.party.members.mask_member`). Every member changed is audited.

Examples
--------
>>> report = import_members(engine, "党员名册.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 412, 'imported': 405, 'updated': 0, 'unchanged': 0, 'flagged': 5, 'rejected': 2}
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import MEMBER_KIND_NAMES_ZH, Building, PartyBranch, PartyMember
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.party.members import PERSON_FIELDS, mask_member
from gridgis.registers.addresses import candidate_ids
from gridgis.registers.columns import ALIASES, match_columns
from gridgis.registers.places import Areas, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, run_register_import
from gridgis.registers.upsert import changes, outcome_of
from gridgis.registers.values import yes_no
from gridgis.registers.workers import check_phone

__all__ = [
    "MEMBER_ALIASES",
    "MEMBER_FIELDS",
    "check_member_id_number",
    "import_members",
    "member_kind",
    "read_date",
]

MEMBER_FIELDS: tuple[str, ...] = (
    "id", "name", "sex", "birth", "joined", "organisation", "kind", "address", "phone",
    "id_number", "report_community", "reported_on", "central_household",
)  # fmt: skip
"""The fields of a members register."""

MEMBER_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "external_id", "编号", "党员编号", "人员编号"),
    "name": ("name", "姓名", "党员姓名"),
    "sex": ("sex", "gender", "性别"),
    "birth": ("birth", "birth_year", "born", "birthday", "出生年份", "出生日期", "出生年月"),
    "joined": ("joined", "joined_on", "入党日期", "入党时间", "入党年月"),
    "organisation": (
        "organisation", "organization", "branch", "所在党组织", "党组织", "所属党组织",
        "所在支部", "所在党支部", "党支部",
    ),
    "kind": ("kind", "type", "党员类型", "类型", "类别"),
    "address": (*ALIASES["address"], "家庭住址", "居住地址", "现居住地址"),
    "phone": ALIASES["phone"],
    "id_number": ALIASES["id_number"],
    "report_community": ("report_community", "report_community_code", "报到社区"),
    "reported_on": ("reported_on", "报到日期", "报到时间"),
    "central_household": ("central_household", "党员中心户", "中心户"),
}  # fmt: skip
"""The headers each field of a members register is known by."""

_KIND_WORDS: dict[str, str] = {
    **{k: k for k in MEMBER_KIND_NAMES_ZH},
    **{v: k for k, v in MEMBER_KIND_NAMES_ZH.items()},
    **{v.removesuffix("党员"): k for k, v in MEMBER_KIND_NAMES_ZH.items()},
    "离休": "retired", "退休": "retired", "离退休干部": "retired",
}  # fmt: skip
_SEX_WORDS = {"男": "male", "male": "male", "m": "male", "女": "female", "female": "female",
              "f": "female"}  # fmt: skip
_DATE = re.compile(r"^\s*(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?)?)?")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_FORM = re.compile(r"^[0-9]{17}[0-9Xx]$")


def member_kind(value: str | None) -> str | None:
    """The kind code of a member kind written in Chinese or English (``None``: unknown).

    Examples
    --------
    >>> member_kind("在职党员"), member_kind("流动"), member_kind("retired"), member_kind("x")
    ('employed', 'mobile', 'retired', None)
    """
    if value is None:
        return None
    return _KIND_WORDS.get(value.strip().casefold()) or _KIND_WORDS.get(value.strip())


def read_date(value: str | None) -> tuple[dt.date | None, bool]:
    """A date as written (``2001-07-01``, ``2001/7/1``, ``2001年7月``, ``2001.07``, an Excel
    date), the first of the month or year when the day or month is left out; and whether
    the text was a date.

    Examples
    --------
    >>> read_date("2001年7月1日"), read_date("1998.03"), read_date(None), read_date("昨天")
    ((datetime.date(2001, 7, 1), True), (datetime.date(1998, 3, 1), True), (None, True), \
(None, False))
    """
    if value is None:
        return None, True
    found = _DATE.match(value)
    if found is None:
        return None, False
    year, month, day = (int(found.group(1)), int(found.group(2) or 1), int(found.group(3) or 1))
    try:
        return dt.date(year, month, day), True
    except ValueError:
        return None, False


def check_member_id_number(value: str | None) -> str | None:
    """Why ``value`` is not an ID-card number: its form, and the check digit of an 18-character
    one (GB 11643); the value named masked.

    Examples
    --------
    >>> check_member_id_number("11010519491231002X") is None
    True
    >>> check_member_id_number("110105194912310021")
    "ID number '**************0021' has a wrong check digit (GB 11643)"
    """
    if value is None:
        return None
    masked = audit.mask_person_data(value, key="id_number")
    if not _ID_FORM.match(value):
        if re.fullmatch(r"[0-9]{15}", value):
            return None
        return f"ID number {masked!r} is not 18 (or 15) characters: 17 digits and a digit or X"
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17].upper():
        return f"ID number {masked!r} has a wrong check digit (GB 11643)"
    return None


def _from_id_number(value: str | None) -> tuple[int | None, str | None]:
    """The birth year and sex an 18-character ID number holds."""
    if value is None or not _ID_FORM.match(value):
        return None, None
    return int(value[6:10]), ("male" if int(value[16]) % 2 else "female")


def _read(
    path: str | Path, given: dict[str, str | None], encoding: str | None, sheet: str | None,
    layer: str | None,
) -> Register:  # fmt: skip
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    columns = match_columns(
        table.field_names, MEMBER_FIELDS, given=given, required=("id", "name"),
        aliases=MEMBER_ALIASES, source=table.path.name,
    )  # fmt: skip
    return Register(table=table, columns=columns)


_FIELDS = (
    "name", "sex", "birth_year", "joined_on", "organisation", "kind", "phone", "id_number",
    "address", "building_id", "community_code", "street_code", "report_community_code",
    "reported_on", "central_household",
)  # fmt: skip


def _stored(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored members with these external ids, by external id (their fields)."""
    if not ids:
        return {}
    query = (
        select(
            PartyMember.id.label("_id"),
            PartyMember.external_id,
            PartyMember.name,
            PartyMember.sex,
            PartyMember.birth_year,
            PartyMember.joined_on,
            PartyBranch.external_id.label("organisation"),
            PartyMember.kind,
            PartyMember.phone,
            PartyMember.id_number,
            PartyMember.address,
            PartyMember.building_id,
            PartyMember.community_code,
            PartyMember.street_code,
            PartyMember.report_community_code,
            PartyMember.reported_on,
            PartyMember.central_household,
        )
        .outerjoin(PartyBranch, PartyBranch.id == PartyMember.branch_id)
        .where(PartyMember.external_id.in_(ids))
    )
    return {str(r.external_id): dict(r._mapping) for r in conn.execute(query)}


def organisation_index(
    conn: Connection,
) -> tuple[dict[str, int], dict[str, list[str]], dict[str, Any]]:
    """Organisations by external id (→ database id), by name (→ external ids), and each
    one's community code by external id."""
    rows = conn.execute(
        select(
            PartyBranch.id, PartyBranch.external_id, PartyBranch.name, PartyBranch.community_code
        )
    ).all()
    by_id = {str(r.external_id or r.id): int(r.id) for r in rows}
    by_name: dict[str, list[str]] = {}
    for r in rows:
        by_name.setdefault(str(r.name), []).append(str(r.external_id or r.id))
    community = {str(r.external_id or r.id): r.community_code for r in rows}
    return by_id, by_name, community


def _unmasked(values: list[str | None], stored: list[Any], field: str) -> list[str | None]:
    """The file's values, a value that is exactly the masked form of the stored one replaced
    by the stored one (as text)."""
    out: list[str | None] = []
    for value, before in zip(values, stored, strict=True):
        if value is not None and before is not None and value == mask_member(before, field):
            out.append(str(before))
        else:
            out.append(value)
    return out


def _place(
    conn: Connection, addresses: list[str | None], todo: list[int]
) -> tuple[dict[int, int], dict[int, str], dict[int, str | None]]:
    """Building ids of the rows ``todo`` whose address matched one; why the others did not,
    with their best candidate buildings."""
    from gridgis.address import load_address_book, match_addresses

    placed: dict[int, int] = {}
    why: dict[int, str] = {}
    candidates: dict[int, str | None] = {}
    wanted = [i for i in todo if addresses[i] is not None]
    if not wanted:
        return placed, why, candidates
    found = match_addresses(load_address_book(conn), [addresses[i] for i in wanted])
    ids = found["building_id"].to_numpy(dtype=np.int64, na_value=-1)
    reasons = found["reason"].tolist()
    labels: dict[int, str] = {}
    named = sorted({c for r in reasons for c in candidate_ids(r)})
    if named:
        query = select(Building.id, Building.external_id, Building.address).where(
            Building.id.in_(named)
        )
        labels = {int(b): f"{e or b} {a or ''}".strip() for b, e, a in conn.execute(query)}
    for k, i in enumerate(wanted):  # wording each row's place
        if ids[k] >= 0:
            placed[i] = int(ids[k])
        else:
            why[i] = f"address {addresses[i]!r} not matched: {reasons[k]}"
            shown = [labels.get(c, str(c)) for c in candidate_ids(reasons[k])]
            candidates[i] = " | ".join(shown) or None
    return placed, why, candidates


def import_members(
    engine: Engine | Connection,
    path: str | Path,
    *,
    id_field: str | None = None,
    name_field: str | None = None,
    sex_field: str | None = None,
    birth_field: str | None = None,
    joined_field: str | None = None,
    organisation_field: str | None = None,
    kind_field: str | None = None,
    address_field: str | None = None,
    phone_field: str | None = None,
    id_number_field: str | None = None,
    report_community_field: str | None = None,
    reported_on_field: str | None = None,
    central_household_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of party members, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database, with the organisations (``gridgis import branches``) and buildings.
    path:
        CSV (UTF-8 or GBK), ``.xlsx``, or a vector file's table.
    id_field, name_field, sex_field, birth_field, joined_field, organisation_field, \
kind_field, address_field, phone_field, id_number_field, report_community_field, \
reported_on_field, central_household_field:
        The column of each field, when its header is not one gridgis knows
        (:data:`MEMBER_ALIASES`).
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: a member living (or, unplaced, organised) in
        another street, and an id stored for a member of another street, is rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row sums the import up, one row per member changed.

    Returns
    -------
    RegisterReport
        Extra columns ``building`` (the building placed on), ``community_code`` and
        ``candidates`` (the best buildings of an address not placed).

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
        "id": id_field, "name": name_field, "sex": sex_field, "birth": birth_field,
        "joined": joined_field, "organisation": organisation_field, "kind": kind_field,
        "address": address_field, "phone": phone_field, "id_number": id_number_field,
        "report_community": report_community_field, "reported_on": reported_on_field,
        "central_household": central_household_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = _read(path, given, encoding, sheet, layer)

    def body(conn: Connection) -> RowOutcomes:
        n = len(register)
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        ids = register.texts("id")
        stored = _stored(conn, sorted({i for i in ids if i is not None and "\x00" not in i}))
        before_of = [stored.get(i, {}) if i is not None else {} for i in ids]
        person = {
            f: _unmasked(
                register.texts("birth" if f == "birth_year" else f),
                [b.get(f) for b in before_of],
                f,
            )
            for f in PERSON_FIELDS
        }
        areas = Areas.load(conn)
        by_id, by_name, organisation_community = organisation_index(conn)
        central, central_why = yes_no(
            pd.Series(register.texts("central_household"), dtype=object), "central_household"
        )
        wanted: list[dict[str, Any]] = [{} for _ in range(n)]
        problems: list[list[str]] = [[] for _ in range(n)]
        sexes, kinds = register.texts("sex"), register.texts("kind")
        joined, organisations = register.texts("joined"), register.texts("organisation")
        reports, reported = register.texts("report_community"), register.texts("reported_on")
        say(progress, f"checking {n} members")
        for i in range(n):  # wording each row's problems
            found = problems[i]
            found.extend(p for p in (id_reasons[i], central_why[i]) if p)
            if person["name"][i] is None:
                found.append("name missing")
            masked = [f for f in PERSON_FIELDS if person[f][i] is not None
                      and "**" in str(person[f][i])]  # fmt: skip
            if masked:
                found.append(
                    f"{'、'.join(masked)} masked (as an export writes it for those who may not "
                    "see it) but not the masked form of the stored person's: give the real value"
                )
            if any(v is not None and "\x00" in v for v in
                   (*(person[f][i] for f in PERSON_FIELDS), organisations[i])):  # fmt: skip
                found.append("text with a NUL character (U+0000)")
            phone, number = person["phone"][i], person["id_number"][i]
            found.extend(p for p in (check_phone(phone), check_member_id_number(number)) if p)
            year_of_id, sex_of_id = _from_id_number(number)
            birth, ok = read_date(person["birth_year"][i])
            birth_year = birth.year if birth is not None else year_of_id
            if not ok or (birth_year is not None and not 1900 <= birth_year <= 2100):
                found.append(f"birth {person['birth_year'][i]!r} is not a year or a date")
            sex, sex_given = sex_of_id, sexes[i]
            if sex_given is not None:
                sex = _SEX_WORDS.get(sex_given.strip().casefold())
                if sex is None:
                    found.append(f"sex {sex_given!r} is not 男 or 女 (male or female)")
            joined_on, ok = read_date(joined[i])
            if not ok:
                found.append(f"joined {joined[i]!r} is not a date")
            reported_on, ok = read_date(reported[i])
            if not ok:
                found.append(f"reported_on {reported[i]!r} is not a date")
            kind = "direct" if kinds[i] is None else member_kind(kinds[i])
            if kind is None:
                listing = "、".join(MEMBER_KIND_NAMES_ZH.values())
                found.append(f"unknown kind {kinds[i]!r} (known: {listing})")
            organisation = organisations[i]
            if organisation is not None and organisation not in by_id:
                named = by_name.get(organisation, [])
                if len(named) == 1:
                    organisation = named[0]
                elif named:
                    found.append(f"organisation {organisation!r} names several organisations: "
                                 "use its id")  # fmt: skip
                else:
                    found.append(f"unknown organisation {organisation!r}: no organisation has "
                                 "that id or name")  # fmt: skip
            report_code, report_given = None, reports[i]
            if report_given is not None:
                report_code = areas.community_code(report_given)
                if report_code is None:
                    found.append(f"unknown community {report_given!r} (neither a code nor a name)")
            wanted[i] = {
                "name": person["name"][i], "sex": sex, "birth_year": birth_year,
                "joined_on": joined_on, "organisation": organisation, "kind": kind,
                "phone": phone, "id_number": number, "address": person["address"][i],
                "report_community_code": report_code,
                "reported_on": reported_on if report_code is not None else None,
                "central_household": bool(central[i]),
            }  # fmt: skip
        bad = [i for i in range(n) if problems[i]]
        outcomes.reject(bad, ["; ".join(problems[i]) for i in bad])
        todo = np.flatnonzero(outcomes.pending).tolist()
        say(progress, f"placing {len(todo)} addresses")
        addresses = [w.get("address") for w in wanted]
        placed, unplaced, candidates = _place(conn, addresses, todo)
        communities = _building_communities(conn, sorted(set(placed.values())))
        for i in todo:  # each row's place, and its street for a street office
            building = placed.get(i)
            community = communities.get(building) if building is not None else None
            if building is None:  # counted in its organisation's community
                organisation = wanted[i]["organisation"]
                community = organisation_community.get(organisation) if organisation else None
            wanted[i] |= {
                "building_id": building,
                "community_code": community,
                "street_code": areas.street_of(community),
            }
            before = stored.get(str(ids[i]))
            away = (
                []
                if street is None
                else street_problems(
                    street, "member", community=community,
                    stored_area=None if before is None else before["street_code"] or "",
                )
            )  # fmt: skip
            if away:
                outcomes.reject([i], "; ".join(away))
            elif building is None:
                outcomes.flag([i], "not_placed", unplaced.get(i) or "address missing")
        say(progress, f"storing {int(outcomes.pending.sum())} members")
        storing: list[tuple[str, dict[str, Any] | None, dict[str, Any]]] = []
        for i in np.flatnonzero(outcomes.pending).tolist():
            external = str(ids[i])
            before = stored.get(external)
            old = None if before is None else {k: before[k] for k in _FIELDS}
            outcome = outcome_of(old, wanted[i])
            if outcome != "unchanged":
                storing.append((external, before, wanted[i]))
            if outcome == "updated":
                outcomes.changes[i] = "; ".join(changes(old, wanted[i]))
                audit.record(conn, actor=actor, action="update", object_type="party_member",
                             object_id=external, before=_audited(old),
                             after=_audited(wanted[i]),
                             street_code=wanted[i]["street_code"])  # fmt: skip
            flagged = outcomes.flags[i] and outcome != "unchanged"
            outcomes.set([i], "flagged" if flagged else outcome)
        _store(conn, storing, by_id)
        labels = {b: e for e, b in _building_labels(conn, sorted(set(placed.values()))).items()}
        outcomes.add_column("building", [labels.get(w.get("building_id") or -1) for w in wanted])
        outcomes.add_column("community_code", [w.get("community_code") for w in wanted])
        outcomes.add_column("candidates", [candidates.get(i) for i in range(n)])
        return outcomes

    return run_register_import(engine, "members", register, body, dry_run=dry_run, actor=actor)


def _audited(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """A member's state for the audit trail (dates as text)."""
    if state is None:
        return None
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in state.items()}


def _building_communities(conn: Connection, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    query = select(Building.id, Building.community_code).where(Building.id.in_(ids))
    return {int(b): c for b, c in conn.execute(query)}


def _building_labels(conn: Connection, ids: list[int]) -> dict[str, int]:
    """A building's id in a file (its external id, else its database id) → database id."""
    if not ids:
        return {}
    query = select(Building.id, Building.external_id).where(Building.id.in_(ids))
    return {str(e if e is not None else b): int(b) for b, e in conn.execute(query)}


def _store(
    conn: Connection,
    rows: list[tuple[str, dict[str, Any] | None, dict[str, Any]]],
    organisations: dict[str, int],
) -> None:
    """Insert or update members (external id, stored state or ``None``, wanted state): two
    statements, each executed for many members."""

    def values(after: dict[str, Any]) -> dict[str, Any]:
        out = {k: after[k] for k in _FIELDS if k != "organisation"}
        organisation = after["organisation"]
        out["branch_id"] = organisations.get(organisation) if organisation else None
        return out

    new = [{"external_id": e, **values(a)} for e, before, a in rows if before is None]
    if new:
        conn.execute(insert(PartyMember), new)
    old = [{"stored_id": int(b["_id"]), **values(a)} for _, b, a in rows if b is not None]
    if old:
        conn.execute(update(PartyMember).where(PartyMember.id == bindparam("stored_id")), old)
