"""The needs list (需求清单 / 资源清单 / 项目清单): posted by communities, claimed by units.

A community posts an entry (a need 需求, a resource 资源 or a project 项目) with a title,
a description and a due date; a 驻区单位 claims it (认领) and, once done, it is closed
with a note (已完成). Each step is recorded in the audit trail in the same transaction.

Who acts is kept within ``within`` (a street office's street; ``None`` for an
administrator): an entry outside it is answered as not found, as a case is, and the
unit that claims must lie in it or be linked to the entry's community.

Examples
--------
>>> need = post_need(engine, community="350304001001", title="老旧小区加装路灯",
...                  actor="cli:li")  # doctest: +SKIP
>>> claim_need(engine, need["id"], "DW-001", actor="cli:li")["state"]  # doctest: +SKIP
'claimed'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.models import (
    NEED_KIND_NAMES_ZH,
    NEED_KINDS,
    NEED_STATE_NAMES_ZH,
    NEED_STATES,
    Community,
    PartyNeed,
    PartyUnit,
    PartyUnitCommunity,
)
from gridgis.db.queries import connection, transaction
from gridgis.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from gridgis.party.alliances import find_unit

__all__ = ["claim_need", "finish_need", "list_needs", "need_kind", "post_need"]

_COLUMNS = (
    PartyNeed.id, PartyNeed.external_id, PartyNeed.community_code, PartyNeed.street_code,
    PartyNeed.kind, PartyNeed.title, PartyNeed.description, PartyNeed.due_on, PartyNeed.state,
    PartyNeed.posted_by, PartyNeed.posted_at, PartyNeed.unit_id, PartyNeed.claimed_by,
    PartyNeed.claimed_at, PartyNeed.done_by, PartyNeed.done_at, PartyNeed.done_note,
)  # fmt: skip


def need_kind(value: str | None) -> str:
    """The kind code of ``value`` (code or Chinese name; default ``need``).

    Examples
    --------
    >>> need_kind("资源"), need_kind(None), need_kind("project")
    ('resource', 'need', 'project')
    """
    if value is None or not value.strip():
        return "need"
    text = value.strip()
    if text in NEED_KINDS:
        return text
    for code, name in NEED_KIND_NAMES_ZH.items():
        if text in (name, name + "清单"):
            return code
    raise InputError(
        f"`kind` was {value!r} but is expected to be one of {list(NEED_KINDS)} "
        f"({'、'.join(NEED_KIND_NAMES_ZH.values())})",
        field="kind",
        zh=f"`kind` 为 {value!r}，应为以下之一：{list(NEED_KINDS)}"
        f"（{'、'.join(NEED_KIND_NAMES_ZH.values())}）",
    )


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for key in ("posted_at", "claimed_at", "done_at", "due_on"):
        if out.get(key) is not None:
            out[key] = out[key].isoformat()
    out["kind_name"] = NEED_KIND_NAMES_ZH[out["kind"]]
    out["state_name"] = NEED_STATE_NAMES_ZH[out["state"]]
    return out


def _one(conn: Connection, need_id: int, within: str | None) -> dict[str, Any]:
    if not 1 <= need_id <= 2**63 - 1:
        raise NotFoundError(
            f"need {need_id} does not exist", field="need_id", zh=f"需求 {need_id} 不存在"
        )
    row = conn.execute(
        select(*_COLUMNS, PartyUnit.name.label("unit"))
        .outerjoin(PartyUnit, PartyUnit.id == PartyNeed.unit_id)
        .where(PartyNeed.id == need_id)
        .with_for_update(of=PartyNeed)
    ).first()
    if row is None or (within is not None and not row.street_code.startswith(within[:9])):
        raise NotFoundError(
            f"need {need_id} does not exist", field="need_id", zh=f"需求 {need_id} 不存在"
        )
    return _plain(row)


def post_need(
    bind: Engine | Connection,
    *,
    community: str,
    title: str,
    kind: str | None = None,
    description: str | None = None,
    due_on: dt.date | None = None,
    external_id: str | None = None,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Post an entry of ``community``'s needs list. Audited.

    Raises
    ------
    InputError
        For an empty title or an unknown kind.
    NotFoundError
        For a community that is not stored.
    ForbiddenError
        For a community outside ``within``.
    """
    check_code(community, "community")
    text = (title or "").strip()
    if not text:
        raise InputError(
            "`title` was empty but a need needs a title",
            field="title",
            zh="`title` 为空：需求必须有标题",
        )
    code = need_kind(kind)
    if within is not None and not community.startswith(within[:9]):
        raise ForbiddenError(
            f"`community` was {community!r} but needs may be posted in street {within[:9]} only",
            zh=f"`community` 为 {community!r}，但您只能在街道 {within[:9]} 发布需求",
        )
    with transaction(bind) as conn:
        street = conn.execute(
            select(Community.street_code).where(Community.code == community)
        ).scalar()
        if street is None:
            raise NotFoundError(
                f"community {community} does not exist",
                field="community",
                zh=f"社区 {community} 不存在",
            )
        values = {
            "community_code": community, "street_code": street, "kind": code, "title": text,
            "description": description, "due_on": due_on, "posted_by": actor,
            "external_id": external_id,
        }  # fmt: skip
        stored = insert(PartyNeed).values(**values).returning(PartyNeed.id)
        need_id = conn.execute(stored).scalar_one()
        audit.record(conn, actor=actor, action="create", object_type="need", object_id=need_id,
                     after=values, street_code=street)  # fmt: skip
        return _one(conn, int(need_id), None)


def list_needs(
    bind: Engine | Connection,
    *,
    within: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    unit: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """The needs of ``within`` (community codes starting with it), newest first, with the
    claiming unit's name and point."""
    if state is not None and state not in NEED_STATES:
        raise InputError(
            f"`state` was {state!r} but is expected to be one of {list(NEED_STATES)}",
            field="state",
            zh=f"`state` 为 {state!r}，应为以下之一：{list(NEED_STATES)}",
        )
    query = (
        select(*_COLUMNS, PartyUnit.name.label("unit"))
        .outerjoin(PartyUnit, PartyUnit.id == PartyNeed.unit_id)
        .order_by(PartyNeed.posted_at.desc(), PartyNeed.id.desc())
        .limit(limit)
    )
    if within is not None:
        query = query.where(PartyNeed.community_code.startswith(within, autoescape=True))
    if state is not None:
        query = query.where(PartyNeed.state == state)
    if kind is not None:
        query = query.where(PartyNeed.kind == need_kind(kind))
    if unit is not None:
        query = query.where(PartyNeed.unit_id == unit)
    with connection(bind) as conn:
        return [_plain(r) for r in conn.execute(query)]


def claim_need(
    bind: Engine | Connection,
    need_id: int,
    unit: str | int,
    *,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Record that ``unit`` (file id or name) claims (认领) an open need. Audited.

    Raises
    ------
    NotFoundError
        For a need (or one outside ``within``) or a unit that does not exist.
    ForbiddenError
        For a unit that neither lies in ``within`` nor is linked to the need's community.
    ConflictError
        When the need is claimed or done already.
    """
    with transaction(bind) as conn:
        need = _one(conn, need_id, within)
        found = find_unit(conn, unit)
        if within is not None and not (found["street_code"] or "").startswith(within[:9]):
            linked = conn.execute(
                select(PartyUnitCommunity.community_code).where(
                    PartyUnitCommunity.unit_id == found["id"],
                    PartyUnitCommunity.community_code == need["community_code"],
                )
            ).first()
            if linked is None:
                raise ForbiddenError(
                    f"`unit` was {unit!r} but it lies outside street {within[:9]} and is not "
                    f"linked to community {need['community_code']}",
                    zh=f"`unit` 为 {unit!r}，该单位不在街道 {within[:9]} 内，也没有与社区 "
                    f"{need['community_code']} 结对",
                )
        if need["state"] != "open":
            raise ConflictError(
                f"need {need_id} is {need['state']} already (by {need['unit']})",
                field="need_id",
                zh=f"需求 {need_id} 已是“{NEED_STATE_NAMES_ZH[need['state']]}”（{need['unit']}）",
            )
        now = dt.datetime.now(dt.UTC)
        conn.execute(
            update(PartyNeed)
            .where(PartyNeed.id == need_id)
            .values(state="claimed", unit_id=found["id"], claimed_by=actor, claimed_at=now)
        )
        audit.record(conn, actor=actor, action="claim", object_type="need", object_id=need_id,
                     before={"state": "open"},
                     after={"state": "claimed", "unit": found["external_id"] or found["id"]},
                     street_code=need["street_code"])  # fmt: skip
        return _one(conn, need_id, None)


def finish_need(
    bind: Engine | Connection,
    need_id: int,
    *,
    note: str | None = None,
    within: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Close a claimed need as done (已完成), with a note. Audited.

    Raises
    ------
    NotFoundError
        For a need that does not exist (or lies outside ``within``).
    ConflictError
        When the need is not claimed (open, or done already).
    """
    with transaction(bind) as conn:
        need = _one(conn, need_id, within)
        if need["state"] != "claimed":
            raise ConflictError(
                f"need {need_id} is {need['state']}: only a claimed need can be done",
                field="need_id",
                zh=f"需求 {need_id} 是“{NEED_STATE_NAMES_ZH[need['state']]}”：只有已认领的需求"
                "才能标为已完成",
            )
        now = dt.datetime.now(dt.UTC)
        text = (note or "").strip() or None
        conn.execute(
            update(PartyNeed)
            .where(PartyNeed.id == need_id)
            .values(state="done", done_by=actor, done_at=now, done_note=text)
        )
        audit.record(conn, actor=actor, action="done", object_type="need", object_id=need_id,
                     before={"state": "claimed"}, after={"state": "done", "note": text},
                     street_code=need["street_code"])  # fmt: skip
        return _one(conn, need_id, None)
