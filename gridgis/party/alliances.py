"""驻区单位 as stored, and the 党建联合体 they join (with the 大党委's part-time members).

A 联合体 belongs to a street (and optionally one community of it); administrators
create alliances anywhere, a street office in its own street (``within``: the code a
user is kept within, its street). A unit joins or leaves an alliance; ``committee``
seats its party leader on the 大党委 as a part-time member (兼职委员). Every change is
recorded in the audit trail in the same transaction.

People's data of a unit (contact, contact phone, party leader) is given as stored
only where ``reveal`` allows (a policy's ``may_see_people``), masked elsewhere.

Examples
--------
>>> added = add_alliance(engine, "东梅联合体", street="350304001", actor="li")  # doctest: +SKIP
>>> join_alliance(engine, "东梅联合体", "DW-001", committee=True, actor="cli:li")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import (
    UNIT_KIND_NAMES_ZH,
    Community,
    PartyAlliance,
    PartyAllianceUnit,
    PartyUnit,
    PartyUnitCommunity,
    Street,
)
from gridgis.db.queries import connection, transaction
from gridgis.errors import ConflictError, ForbiddenError, InputError, NotFoundError

__all__ = [
    "PERSON_FIELDS",
    "Reveal",
    "add_alliance",
    "find_unit",
    "join_alliance",
    "leave_alliance",
    "list_alliances",
    "list_units",
    "masked_unit",
]

Reveal = bool | Callable[[str | None], bool]
"""Whose people's data is given as stored: everyone's, no one's, or the units whose
community code the function accepts."""

PERSON_FIELDS: dict[str, str] = {
    "contact": "contact",
    "contact_phone": "contact_phone",
    "party_leader": "party_leader",
}
"""A unit's fields holding people's data, and how each is masked."""


_MAX_INT = 2**31 - 1
"""The largest id of an alliance or unit (``integer``)."""


def _shows(reveal: Reveal, code: str | None) -> bool:
    return reveal if isinstance(reveal, bool) else bool(reveal(code))


def masked_unit(unit: dict[str, Any], reveal: Reveal) -> dict[str, Any]:
    """``unit`` with its people's data masked unless ``reveal`` shows its community."""
    if _shows(reveal, unit.get("community_code") or unit.get("street_code")):
        return unit
    return unit | {k: audit.mask_person(unit.get(k), how) for k, how in PERSON_FIELDS.items()}


def _in(within: str | None, code: str | None) -> bool:
    return within is None or (code is not None and code.startswith(within))


def list_units(
    bind: Engine | Connection,
    *,
    within: str | None = None,
    reveal: Reveal = False,
    alliance: int | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """The units lying in ``within`` (or linked to one of its communities), by name:
    id, file id, name, kind (and its Chinese name), address, point, community and street,
    contact and phone, party organisation and leader (masked unless ``reveal``), linked
    communities and alliances (``committee``: those where it is a 兼职委员)."""
    query = select(
        PartyUnit.id,
        PartyUnit.external_id,
        PartyUnit.name,
        PartyUnit.kind,
        PartyUnit.address,
        func.ST_X(PartyUnit.location).label("lon"),
        func.ST_Y(PartyUnit.location).label("lat"),
        PartyUnit.community_code,
        PartyUnit.street_code,
        PartyUnit.contact,
        PartyUnit.contact_phone,
        PartyUnit.party_org,
        PartyUnit.party_leader,
    ).order_by(PartyUnit.name, PartyUnit.id)
    if kind is not None:
        query = query.where(PartyUnit.kind == kind)
    with connection(bind) as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        linked: dict[int, list[str]] = {}
        for owner, code in conn.execute(
            select(PartyUnitCommunity.unit_id, PartyUnitCommunity.community_code).order_by(
                PartyUnitCommunity.community_code
            )
        ):
            linked.setdefault(int(owner), []).append(str(code))
        groups: dict[int, list[dict[str, Any]]] = {}
        for owner, group_id, name, committee in conn.execute(
            select(
                PartyAllianceUnit.unit_id,
                PartyAlliance.id,
                PartyAlliance.name,
                PartyAllianceUnit.committee,
            )
            .join(PartyAlliance, PartyAlliance.id == PartyAllianceUnit.alliance_id)
            .order_by(PartyAlliance.name)
        ):
            groups.setdefault(int(owner), []).append(
                {"id": int(group_id), "name": str(name), "committee": bool(committee)}
            )
    out = []
    for unit in rows:  # a few hundred units: their links joined in memory
        uid = int(unit["id"])
        unit["linked"] = linked.get(uid, [])
        unit["alliances"] = groups.get(uid, [])
        unit["kind_name"] = UNIT_KIND_NAMES_ZH.get(unit["kind"], unit["kind"])
        if not (_in(within, unit["community_code"]) or any(_in(within, c) for c in unit["linked"])):
            continue
        if alliance is not None and all(g["id"] != alliance for g in unit["alliances"]):
            continue
        out.append(masked_unit(unit, reveal))
    return out


def find_unit(conn: Connection, unit: str | int) -> dict[str, Any]:
    """A stored unit by its file id, database id or (unique) name.

    Raises
    ------
    NotFoundError
        When no unit (or several by that name) answers.
    """
    columns = (PartyUnit.id, PartyUnit.external_id, PartyUnit.name, PartyUnit.community_code,
               PartyUnit.street_code)  # fmt: skip
    text = str(unit).strip()
    if "\x00" in text:
        raise NotFoundError(
            f"`unit` was {unit!r} but no unit has it",
            field="unit",
            zh=f"`unit` 为 {unit!r}，没有这样的驻区单位",
        )
    rows = conn.execute(select(*columns).where(PartyUnit.external_id == text)).all()
    if not rows and text.isdigit() and isinstance(unit, int):
        rows = conn.execute(select(*columns).where(PartyUnit.id == int(text))).all()
    if not rows:
        rows = conn.execute(select(*columns).where(PartyUnit.name == text)).all()
    if len(rows) != 1:
        raise NotFoundError(
            f"`unit` was {unit!r} but "
            + ("several units have that name: give its id" if rows else "no unit has it"),
            field="unit",
            zh=f"`unit` 为 {unit!r}，"
            + ("有多个驻区单位同名：请给出其编号" if rows else "没有这样的驻区单位"),
        )
    return dict(rows[0]._mapping)


def _find_alliance(conn: Connection, alliance: str | int, within: str | None) -> dict[str, Any]:
    columns = (PartyAlliance.id, PartyAlliance.name, PartyAlliance.street_code,
               PartyAlliance.community_code)  # fmt: skip
    if "\x00" in str(alliance) or (str(alliance).isdigit() and int(alliance) > _MAX_INT):
        raise NotFoundError(
            f"alliance {alliance!r} does not exist",
            field="alliance",
            zh=f"联合体 {alliance!r} 不存在",
        )
    if isinstance(alliance, int) or str(alliance).isdigit():
        row = conn.execute(select(*columns).where(PartyAlliance.id == int(alliance))).first()
        if row is None:
            row = conn.execute(select(*columns).where(PartyAlliance.name == str(alliance))).first()
    else:
        row = conn.execute(select(*columns).where(PartyAlliance.name == str(alliance))).first()
    if row is None or not _in(within, row.street_code):
        raise NotFoundError(
            f"alliance {alliance!r} does not exist",
            field="alliance",
            zh=f"联合体 {alliance!r} 不存在",
        )
    return dict(row._mapping)


def add_alliance(
    bind: Engine | Connection,
    name: str,
    *,
    street: str | None = None,
    community: str | None = None,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Create a 联合体 of ``street``, or of ``community`` (its street then implied).

    Raises
    ------
    InputError
        Without a name, or with neither a street nor a community, or a community
        outside the street given.
    NotFoundError
        For a street or community that is not stored.
    ForbiddenError
        For a street outside ``within`` (a street office's own street).
    ConflictError
        When an alliance of that name exists.
    """
    title = (name or "").strip()
    if not title:
        raise InputError(
            "`name` was empty but an alliance needs a name",
            field="name",
            zh="`name` 为空：联合体必须有名称",
        )
    if community is not None:
        check_code(community, "community")
        if street is not None and not community.startswith(street):
            raise InputError(
                f"`community` was {community!r} but it is not in street {street}",
                field="community",
                zh=f"`community` 为 {community!r}，但该社区不在街道 {street} 内",
            )
        street = community[:9]
    if street is None:
        raise InputError(
            "an alliance belongs to a street or a community: give one",
            field="street",
            zh="联合体属于一个街道或社区：请给出其一",
        )
    check_code(street, "street")
    if not _in(within, street):
        raise ForbiddenError(
            f"`street` was {street!r} but alliances may be added in street {within} only",
            zh=f"`street` 为 {street!r}，但您只能在街道 {within} 新建联合体",
        )
    with transaction(bind) as conn:
        if conn.execute(select(Street.code).where(Street.code == street)).first() is None:
            raise NotFoundError(
                f"street {street} does not exist", field="street", zh=f"街道 {street} 不存在"
            )
        if community is not None and (
            conn.execute(select(Community.code).where(Community.code == community)).first() is None
        ):
            raise NotFoundError(
                f"community {community} does not exist",
                field="community",
                zh=f"社区 {community} 不存在",
            )
        if conn.execute(select(PartyAlliance.id).where(PartyAlliance.name == title)).first():
            raise ConflictError(
                f"an alliance named {title!r} exists already",
                field="name",
                zh=f"名为 {title!r} 的联合体已存在",
            )
        alliance_id = conn.execute(
            insert(PartyAlliance)
            .values(name=title, street_code=street, community_code=community, created_by=actor)
            .returning(PartyAlliance.id)
        ).scalar_one()
        after = {"name": title, "street_code": street, "community_code": community}
        audit.record(conn, actor=actor, action="create", object_type="alliance",
                     object_id=int(alliance_id), after=after, street_code=street)  # fmt: skip
    return {"id": int(alliance_id), **after, "units": 0, "committee": 0}


def list_alliances(bind: Engine | Connection, *, within: str | None = None) -> list[dict[str, Any]]:
    """The alliances of ``within`` by name, with their count of units and of 兼职委员."""
    units = func.count(PartyAllianceUnit.unit_id)
    committee = func.count(PartyAllianceUnit.unit_id).filter(PartyAllianceUnit.committee)
    query = (
        select(
            PartyAlliance.id,
            PartyAlliance.name,
            PartyAlliance.street_code,
            PartyAlliance.community_code,
            units.label("units"),
            committee.label("committee"),
        )
        .outerjoin(PartyAllianceUnit, PartyAllianceUnit.alliance_id == PartyAlliance.id)
        .group_by(PartyAlliance.id)
        .order_by(PartyAlliance.name)
    )
    if within is not None:
        query = query.where(PartyAlliance.street_code.startswith(within[:9], autoescape=True))
        if len(within) > 9:
            query = query.where(
                (PartyAlliance.community_code.is_(None))
                | PartyAlliance.community_code.startswith(within, autoescape=True)
            )
    with connection(bind) as conn:
        return [dict(r._mapping) | {"units": int(r.units), "committee": int(r.committee)}
                for r in conn.execute(query)]  # fmt: skip


def join_alliance(
    bind: Engine | Connection,
    alliance: str | int,
    unit: str | int,
    *,
    committee: bool = False,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Put ``unit`` (file id or name) in ``alliance`` (id or name), or change whether its
    leader is a 兼职委员 of the 大党委 when it is in already. Audited.

    Raises
    ------
    NotFoundError
        For an alliance (or one outside ``within``) or a unit that does not exist.
    """
    with transaction(bind) as conn:
        group = _find_alliance(conn, alliance, within)
        found = find_unit(conn, unit)
        key = (PartyAllianceUnit.alliance_id == group["id"]) & (
            PartyAllianceUnit.unit_id == found["id"]
        )
        was = conn.execute(select(PartyAllianceUnit.committee).where(key)).first()
        if was is None:
            conn.execute(
                insert(PartyAllianceUnit).values(
                    alliance_id=group["id"],
                    unit_id=found["id"],
                    committee=committee,
                    joined_on=func.current_date(),
                )
            )
        else:
            conn.execute(update(PartyAllianceUnit).where(key).values(committee=committee))
        name = found["external_id"] or found["id"]
        audit.record(
            conn, actor=actor, action="join", object_type="alliance", object_id=group["id"],
            before=None if was is None else {"unit": name, "committee": bool(was[0])},
            after={"unit": name, "committee": committee}, street_code=group["street_code"],
        )  # fmt: skip
    return {"alliance": group["name"], "unit": found["name"], "committee": committee}


def leave_alliance(
    bind: Engine | Connection,
    alliance: str | int,
    unit: str | int,
    *,
    within: str | None = None,
    actor: str,
) -> None:
    """Take ``unit`` out of ``alliance``. Audited.

    Raises
    ------
    NotFoundError
        For an alliance, a unit, or a unit not in the alliance.
    """
    with transaction(bind) as conn:
        group = _find_alliance(conn, alliance, within)
        found = find_unit(conn, unit)
        gone = conn.execute(
            delete(PartyAllianceUnit).where(
                PartyAllianceUnit.alliance_id == group["id"],
                PartyAllianceUnit.unit_id == found["id"],
            )
        ).rowcount
        if not gone:
            raise NotFoundError(
                f"unit {unit!r} is not in alliance {group['name']!r}",
                field="unit",
                zh=f"驻区单位 {unit!r} 不在联合体 {group['name']!r} 中",
            )
        audit.record(conn, actor=actor, action="leave", object_type="alliance",
                     object_id=group["id"], before={"unit": found["external_id"] or found["id"]},
                     street_code=group["street_code"])  # fmt: skip
