"""Changing how a compound is managed (红心物业), and the rules its values keep.

:func:`management_of` reads a management and mode as people write them (物业公司,
红心物业, 无, a mode's name alone: 居民自治); :func:`management_problems` says what is
wrong with a compound's management (the importer's row reasons, an edit's error: the
same English sentences, coded in :mod:`gridgis.registers.reasons`, so that both are said
in Chinese too); :func:`set_management` stores one compound's management (administrators
anywhere, a street office in its street), audited in the same transaction.

Examples
--------
>>> management_of("红心物业（居民自治）", None), management_of("包保", None)
(('red', 'autonomy'), ('red', 'unit'))
>>> management_of("物业公司", None), management_of("无", None), management_of("随便", None)
(('company', None), ('none', None), (None, None))
>>> management_problems("red", None, company=None, unit=None)
['red_mode missing']
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import (
    MANAGEMENT_NAMES_ZH,
    MANAGEMENTS,
    RED_MODE_NAMES_ZH,
    RED_MODES,
    Building,
    CompoundManagement,
    PartyBranch,
)
from gridgis.db.queries import transaction
from gridgis.errors import ForbiddenError, InputError, NotFoundError
from gridgis.party.alliances import find_unit
from gridgis.party.compounds import STORED_FIELDS
from gridgis.registers.reasons import say
from gridgis.registers.workers import check_phone

__all__ = [
    "BUILT_YEARS",
    "built_year_problem",
    "compound_key",
    "management_of",
    "management_problems",
    "old_by_year",
    "set_management",
]

BUILT_YEARS = (1900, 2100)
"""The years a compound may have been built in."""

OLD_UNTIL = 2000
"""A compound built in this year or before is old (老旧小区: 国办发〔2020〕23号 covers the
compounds built by the end of 2000), when its register does not say."""

_MANAGEMENT_WORDS: dict[str, str] = {
    "company": "company", "物业公司": "company", "物业": "company", "有物业": "company",
    "物业企业": "company", "red": "red", "红心物业": "red", "none": "none", "无": "none",
    "无物业": "none", "没有": "none", "空白": "none",
}  # fmt: skip
_MODE_WORDS: dict[str, str] = {
    "service": "service", "物业服务": "service", "autonomy": "autonomy", "居民自治": "autonomy",
    "自治": "autonomy", "unit": "unit", "驻区单位包保": "unit", "单位包保": "unit",
    "包保": "unit", "community": "community", "社区兜底": "community", "兜底": "community",
}  # fmt: skip


def _known(names: dict[str, str]) -> str:
    return "、".join(names.values())


def _mode_in(text: str) -> str | None:
    """The mode a text names: exactly, or a mode's name of 3 characters or more inside it."""
    key = text.strip().casefold()
    found = _MODE_WORDS.get(key)
    return found or next((c for k, c in _MODE_WORDS.items() if len(k) > 2 and k in key), None)


def management_of(management: str | None, mode: str | None) -> tuple[str | None, str | None]:
    """``(management, red_mode)`` codes of the words given: a mode named in either (alone,
    or as 红心物业（居民自治）) makes it 红心物业; ``None`` for words not known
    (:func:`management_problems` names them)."""
    found_mode = None
    for word in (mode, management):
        if word and word.strip() and found_mode is None:
            found_mode = _mode_in(word)
    if not (management and management.strip()):
        return ("red" if found_mode else None), found_mode
    key = management.strip().casefold()
    chosen = _MANAGEMENT_WORDS.get(key)
    if chosen is None and ("红心" in key or _mode_in(key) is not None):
        chosen = "red"
    return chosen, found_mode


def management_problems(
    management: str | None,
    red_mode: str | None,
    *,
    company: str | None,
    unit: str | None,
    given: tuple[str | None, str | None] = (None, None),
) -> list[str]:
    """What is wrong with a compound's management codes (English, coded in
    :mod:`gridgis.registers.reasons`); ``given``: the words as written, for the messages."""
    said_management, said_mode = given
    problems: list[str] = []
    if management is None:
        if said_management:
            problems.append(
                f"unknown management {said_management!r} (known: {_known(MANAGEMENT_NAMES_ZH)})"
            )
        else:
            problems.append("management missing")
    if said_mode and red_mode is None:
        problems.append(f"unknown 红心物业 mode {said_mode!r} (known: {_known(RED_MODE_NAMES_ZH)})")
    if management == "red" and red_mode is None and not said_mode:
        problems.append("red_mode missing")
    if management in ("company", "none") and red_mode is not None:
        problems.append(
            f"红心物业 mode {RED_MODE_NAMES_ZH[red_mode]!r} given but the management is "
            f"{MANAGEMENT_NAMES_ZH[management]}"
        )
    if management == "company" and company is None:
        problems.append("company missing")
    if management in ("red", "none") and company is not None:
        problems.append(
            f"company {company!r} given but the management is {MANAGEMENT_NAMES_ZH[management]}"
        )
    if management == "red" and red_mode == "unit" and unit is None:
        problems.append("resident_unit missing")
    if unit is not None and red_mode != "unit":
        problems.append(f"resident unit {unit!r} given but the mode is not 驻区单位包保")
    return problems


def built_year_problem(value: str | int | None) -> tuple[int | None, str | None]:
    """The year a compound was built as a number, or why it is not one (``1985``, ``1985年``).

    Examples
    --------
    >>> built_year_problem("1985年"), built_year_problem("古代")
    ((1985, None), (None, "built '古代' is not a year from 1900 to 2100"))
    """
    if value is None:
        return None, None
    text = str(value).strip().removesuffix("年").strip()
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit() and BUILT_YEARS[0] <= int(text) <= BUILT_YEARS[1]:
        return int(text), None
    return None, f"built {str(value)!r} is not a year from {BUILT_YEARS[0]} to {BUILT_YEARS[1]}"


def old_by_year(old: bool | None, built_year: int | None) -> bool:
    """Whether a compound is old: as given, else built in :data:`OLD_UNTIL` or before."""
    if old is not None:
        return old
    return built_year is not None and built_year <= OLD_UNTIL


def compound_key(community: str, name: str) -> str:
    """How a compound is named in a report or the audit trail: ``<community>/<name>``."""
    return f"{community}/{name}"


def _id_or_text(value: str) -> str | int:
    """A number that fits an ``integer`` id as an int (looked up as a file id first)."""
    return int(value) if value.isdigit() and int(value) < 2**31 else value


def _organisation(conn: Connection, value: str | int) -> int:
    text = str(value).strip()
    rows = conn.execute(select(PartyBranch.id).where(PartyBranch.external_id == text)).all()
    if not rows and isinstance(value, int):
        rows = conn.execute(select(PartyBranch.id).where(PartyBranch.id == value)).all()
    if not rows:
        rows = conn.execute(select(PartyBranch.id).where(PartyBranch.name == text)).all()
    if len(rows) > 1:
        raise InputError(
            f"organisation {text!r} names several organisations: use its id",
            field="organisation",
            zh=f"党组织 {text!r} 对应多个党组织：请使用其编号",
        )
    if not rows:
        raise NotFoundError(
            f"unknown organisation {text!r}: no organisation has that id or name",
            field="organisation",
            zh=f"未知的党组织 {text!r}：没有党组织使用这个编号或名称",
        )
    return int(rows[0][0])


def _stored(conn: Connection, community: str, name: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(CompoundManagement.id, *(getattr(CompoundManagement, f) for f in STORED_FIELDS))
        .where(CompoundManagement.community_code == community, CompoundManagement.name == name)
        .with_for_update()
    ).first()
    return None if row is None else dict(row._mapping)


def set_management(
    bind: Engine | Connection,
    community: str,
    compound: str,
    *,
    management: str,
    red_mode: str | None = None,
    company: str | None = None,
    contact: str | None = None,
    contact_phone: str | None = None,
    unit: str | int | None = None,
    organisation: str | int | None = None,
    since: dt.date | None = None,
    note: str | None = None,
    old: bool | None = None,
    built_year: int | None = None,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Store how ``compound`` of ``community`` is managed (its register row, created or
    replaced), audited. ``unit`` a 驻区单位 (file id, id or name) for 驻区单位包保;
    ``organisation`` the party organisation leading it (file id, id or name); ``old``
    defaults to the stored flag, else to the year (:func:`old_by_year`).

    Raises
    ------
    InputError
        When the management is not one of :data:`gridgis.db.models.MANAGEMENTS`, the mode not
        one of :data:`~gridgis.db.models.RED_MODES`, or they disagree with the company and
        unit given (:func:`management_problems`); a phone that is no phone; a year out of
        range.
    ForbiddenError
        For a community outside ``within`` (a street office's street).
    NotFoundError
        For a community none of whose buildings names the compound (and no register row
        does), or an unknown unit or organisation.
    """
    check_code(community, "community")
    name = (compound or "").strip()
    if within is not None and not community.startswith(within):
        raise ForbiddenError(
            f"`community` was {community!r} but compounds may be changed in street {within} only",
            zh=f"`community` 为 {community!r}，但只能修改街道 {within} 内的小区",
        )
    text = {k: (v.strip() or None) if isinstance(v, str) else v
            for k, v in (("company", company), ("contact", contact),
                         ("contact_phone", contact_phone), ("note", note))}  # fmt: skip
    unit_text = None if unit is None else str(unit).strip() or None
    problems = [] if name else ["compound missing"]
    if management not in MANAGEMENTS:
        problems.append(f"unknown management {management!r} (known: {_known(MANAGEMENT_NAMES_ZH)})")
    elif red_mode is not None and red_mode not in RED_MODES:
        problems.append(f"unknown 红心物业 mode {red_mode!r} (known: {_known(RED_MODE_NAMES_ZH)})")
    else:
        problems += management_problems(
            management, red_mode, company=text["company"], unit=unit_text
        )
    if (why := check_phone(text["contact_phone"])) is not None:
        problems.append(why)
    if built_year is not None:
        problems += [p for p in [built_year_problem(built_year)[1]] if p]
    if problems:
        reasons = "; ".join(problems)  # the importer's reasons, which say() tells in Chinese
        raise InputError(reasons, field="management", zh=say(reasons, "zh"))
    with transaction(bind) as conn:
        before = _stored(conn, community, name)
        if before is None and (
            conn.execute(
                select(Building.id)
                .where(Building.community_code == community, Building.compound == name)
                .limit(1)
            ).first()
            is None
        ):
            raise NotFoundError(
                f"unknown compound {name!r}: no building of community {community} names it",
                field="compound",
                zh=f"未知的小区 {name!r}：社区 {community} 没有楼栋属于这个小区",
            )
        # a unit or organisation named by its file id, else its database id, else its name
        found = None if unit_text is None else find_unit(conn, _id_or_text(unit_text))
        unit_id = None if found is None else int(found["id"])
        organisation_id = (
            None
            if organisation is None or str(organisation).strip() == ""
            else _organisation(conn, _id_or_text(str(organisation).strip()))
        )
        stored_old = None if before is None else bool(before["old"])
        after = {
            "old": old_by_year(old if old is not None else stored_old, built_year),
            "built_year": built_year,
            "management": management,
            "red_mode": red_mode if management == "red" else None,
            "company": text["company"],
            "contact": text["contact"],
            "contact_phone": text["contact_phone"],
            "unit_id": unit_id,
            "organisation_id": organisation_id,
            "since": since,
            "note": text["note"],
        }
        if before is None:
            row_id = conn.execute(
                insert(CompoundManagement)
                .values(community_code=community, name=name, **after)
                .returning(CompoundManagement.id)
            ).scalar_one()
        else:
            row_id = int(before["id"])
            conn.execute(
                update(CompoundManagement).where(CompoundManagement.id == row_id).values(**after)
            )
        old_values = None if before is None else {k: before[k] for k in STORED_FIELDS}
        audit.record(
            conn, actor=actor, action="create" if before is None else "update",
            object_type="compound", object_id=compound_key(community, name),
            before=old_values, after=after, street_code=community[:9],
        )  # fmt: skip
    return {"id": int(row_id), "community_code": community, "name": name, **after}
