"""The 大走访 ledger (台账): problems found on visits, their cases, and their 销号.

A problem found on a visit is an entry of the ledger (:func:`gridgis.party.visits.log_visit`
writes it). One action (:func:`file_case`) turns it into a case, filed through the
case code (:func:`gridgis.cases.create_case`) at the target's building, so in its
cell; the entry is 销号 (crossed off) when that case closes (结案). A problem solved
on the spot is crossed off by hand, with a note (:func:`clear_entry`).

The state is never stored: it is read from the case each time the ledger is read,
so it stays honest whatever happens to the case:

- ``open`` (未销号): no case yet;
- ``in_case`` (办理中): its case is open;
- ``closed`` (已销号): its case is closed (``closed_how`` ``case``) or it was crossed
  off by hand (``manual``); ``closed_at`` says when;
- ``rejected`` (事件作废): its case was rejected (作废); the problem stands: it may be
  filed again or crossed off by hand.

A case merged (合并) into another counts by the case it was merged into (followed
to the end of the chain); a case that is reopened, should gridgis ever reopen one,
takes the entry back to ``in_case`` with it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased

from gridgis import audit
from gridgis.cases.filing import create_case
from gridgis.db.models import (
    Building,
    Case,
    CaseCategory,
    Community,
    GridCell,
    LedgerEntry,
    Visit,
    VisitCampaign,
    VisitTarget,
)
from gridgis.db.queries import reading, transaction
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.party.campaigns import known_id
from gridgis.party.visits import (
    join_target_people,
    join_visitor,
    target_columns,
    target_point,
    visitor_name,
)

__all__ = [
    "LEDGER_STATES",
    "LEDGER_STATE_NAMES_ZH",
    "clear_entry",
    "file_case",
    "get_entry",
    "list_ledger",
]

LEDGER_STATES: tuple[str, ...] = ("open", "in_case", "closed", "rejected")
"""Where an entry stands (see the module's description)."""
LEDGER_STATE_NAMES_ZH: dict[str, str] = {
    "open": "未销号",
    "in_case": "办理中",
    "closed": "已销号",
    "rejected": "事件作废",
}
"""The Chinese name of each state."""
MAX_CHAIN = 20
"""How many merges a ledger entry's case is followed through."""

People = Callable[[str | None], bool]


def _effective_case() -> Any:
    """Ledger entry id -> the case that stands for its problem: its own, or the one it was
    merged into (to the end of the chain)."""
    merged = aliased(Case, name="merged")
    start = (
        select(
            LedgerEntry.id.label("entry_id"),
            LedgerEntry.case_id.label("case_id"),
            literal(0).label("depth"),
        )
        .where(LedgerEntry.case_id.is_not(None))
        .cte("chain", recursive=True)
    )
    chain = start.union_all(
        select(start.c.entry_id, merged.merged_into_id, start.c.depth + 1)
        .join(merged, merged.id == start.c.case_id)
        .where(merged.merged_into_id.is_not(None), start.c.depth < MAX_CHAIN)
    )
    return (
        select(chain.c.entry_id, chain.c.case_id)
        .ext(distinct_on(chain.c.entry_id))
        .order_by(chain.c.entry_id, chain.c.depth.desc())
        .subquery("effective")
    )


@functools.cache
def _ledger_select() -> Select[*tuple[Any, ...]]:
    effective = _effective_case()
    stands = aliased(Case, name="stands")
    state = case(
        (LedgerEntry.cleared_at.is_not(None), literal("closed")),
        (stands.step == "closed", literal("closed")),
        (stands.step == "rejected", literal("rejected")),
        (stands.id.is_not(None), literal("in_case")),
        else_=literal("open"),
    )
    closed_at = case(
        (LedgerEntry.cleared_at.is_not(None), LedgerEntry.cleared_at),
        (stands.step == "closed", stands.closed_at),
        else_=None,
    )
    closed_how = case(
        (LedgerEntry.cleared_at.is_not(None), literal("manual")),
        (stands.step == "closed", literal("case")),
        else_=None,
    )
    query = (
        select(
            LedgerEntry.id,
            LedgerEntry.campaign_id,
            VisitCampaign.name.label("campaign_name"),
            LedgerEntry.target_id,
            VisitTarget.kind.label("target_kind"),
            *target_columns(),
            *target_point(),
            visitor_name(),
            LedgerEntry.visit_id,
            LedgerEntry.cell_id,
            GridCell.code.label("cell_code"),
            GridCell.name.label("cell_name"),
            LedgerEntry.community_code,
            Community.name.label("community_name"),
            LedgerEntry.street_code,
            LedgerEntry.category_code,
            CaseCategory.name_zh.label("category_name"),
            LedgerEntry.description,
            LedgerEntry.found_by,
            LedgerEntry.found_at,
            LedgerEntry.case_id,
            effective.c.case_id.label("standing_case_id"),
            stands.step.label("case_step"),
            state.label("state"),
            closed_at.label("closed_at"),
            closed_how.label("closed_how"),
            LedgerEntry.cleared_by,
            LedgerEntry.cleared_note,
        )
        .select_from(LedgerEntry)
        .join(VisitCampaign, VisitCampaign.id == LedgerEntry.campaign_id)
        .join(VisitTarget, VisitTarget.id == LedgerEntry.target_id)
        .join(CaseCategory, CaseCategory.code == LedgerEntry.category_code)
        .outerjoin(GridCell, GridCell.id == LedgerEntry.cell_id)
        .outerjoin(Community, Community.code == LedgerEntry.community_code)
        .outerjoin(effective, effective.c.entry_id == LedgerEntry.id)
        .outerjoin(stands, stands.id == effective.c.case_id)
        .outerjoin(Visit, Visit.id == LedgerEntry.visit_id)
    )
    return join_visitor(join_target_people(query), Visit.__table__)


def _entry(row: Any, people: People | None) -> dict[str, Any]:
    out = dict(row._mapping)
    if people is not None and not people(out.get("street_code")):
        for field in ("target_name", "visitor_name"):
            out[field] = audit.mask_person(out.get(field), "name")
    out["state_zh"] = LEDGER_STATE_NAMES_ZH[out["state"]]
    return out


def list_ledger(
    bind: Engine | Connection,
    *,
    campaign_id: int | None = None,
    within: str | None = None,
    state: str | Sequence[str] | None = None,
    category: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    people: People | None = None,
    limit: int | None = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Ledger entries, oldest first (as the 台账 numbers them), with their state.

    Parameters
    ----------
    within:
        Only entries in this area (a street, community or cell code prefix).
    state:
        One or more of :data:`LEDGER_STATES`.
    category:
        A case category's code.
    since, until:
        Found at or after ``since``, before ``until``.
    people:
        Whether the user may see a street's people's data (the target's name is
        masked where not); ``None``: shown as stored.

    Raises
    ------
    InputError
        For an unknown state.
    """
    states = [state] if isinstance(state, str) else list(state or [])
    if unknown := [s for s in states if s not in LEDGER_STATES]:
        raise InputError(
            f"`state` was {unknown[0]!r} but is expected to be one of {list(LEDGER_STATES)}",
            field="state",
            zh=f"`state` 为 {unknown[0]!r}，应为以下之一：{list(LEDGER_STATES)}",
        )
    inner = _ledger_select()
    if campaign_id is not None:
        inner = inner.where(LedgerEntry.campaign_id == int(campaign_id))
    if within is not None:
        if len(within) > 12:
            inner = inner.where(GridCell.code.startswith(within))
        else:
            inner = inner.where(LedgerEntry.community_code.startswith(within))
    if category is not None:
        inner = inner.where(LedgerEntry.category_code == category)
    if since is not None:
        inner = inner.where(LedgerEntry.found_at >= since)
    if until is not None:
        inner = inner.where(LedgerEntry.found_at < until)
    sub = inner.subquery("ledger")
    query = select(sub).order_by(sub.c.found_at, sub.c.id).offset(offset)
    if states:
        query = query.where(sub.c.state.in_(states))
    if limit is not None:
        query = query.limit(limit)
    with reading(bind) as conn:
        return [_entry(r, people) for r in conn.execute(query)]


def get_entry(
    bind: Engine | Connection, entry_id: int, *, people: People | None = None
) -> dict[str, Any]:
    """One ledger entry (as :func:`list_ledger` gives it); :class:`NotFoundError` if none."""
    entry_id = known_id(entry_id, "ledger entry", bits=63)
    with reading(bind) as conn:
        row = conn.execute(_ledger_select().where(LedgerEntry.id == int(entry_id))).one_or_none()
    if row is None:
        raise NotFoundError(
            f"ledger entry {entry_id} does not exist", zh=f"台账条目 {entry_id} 不存在"
        )
    return _entry(row, people)


def _locked(conn: Connection, entry_id: int) -> dict[str, Any]:
    entry_id = known_id(entry_id, "ledger entry", bits=63)
    found = conn.execute(
        select(LedgerEntry.id).where(LedgerEntry.id == int(entry_id)).with_for_update()
    ).one_or_none()
    if found is None:
        raise NotFoundError(
            f"ledger entry {entry_id} does not exist", zh=f"台账条目 {entry_id} 不存在"
        )
    return get_entry(conn, entry_id)


def file_case(
    bind: Engine | Connection,
    entry_id: int,
    *,
    actor: str,
    reported_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Turn ledger entry ``entry_id`` into a case, filed at the target's building.

    The case takes the entry's category and description, the visitor as its reporter
    and ``大走访`` as its source, and is placed by the point of the target's building
    (so in its cell), reported now (or at ``reported_at``). An entry whose case was
    rejected (作废) may be filed again.

    Returns
    -------
    dict
        The entry after (``case_id`` set, state ``in_case``).

    Raises
    ------
    ConflictError
        When the entry has a case that is not rejected, or is crossed off already.
    """
    with transaction(bind) as conn:
        entry = _locked(conn, entry_id)
        if entry["state"] in ("in_case", "closed"):
            raise ConflictError(
                f"ledger entry {entry_id} is {LEDGER_STATE_NAMES_ZH[entry['state']]}"
                + (f" (case {entry['standing_case_id']})" if entry["standing_case_id"] else "")
                + ": it is filed as a case once",
                zh=f"台账条目 {entry_id} {LEDGER_STATE_NAMES_ZH[entry['state']]}"
                + (f"（事件 {entry['standing_case_id']}）" if entry["standing_case_id"] else "")
                + "：每个条目只能转为事件一次",
            )
        place = conn.execute(
            select(
                func.ST_X(Building.location), func.ST_Y(Building.location), Building.address
            ).join(VisitTarget, VisitTarget.building_id == Building.id)
            .where(VisitTarget.id == entry["target_id"])
        ).one_or_none()  # fmt: skip
        lon, lat, address = place if place is not None else (None, None, None)
        filed = create_case(
            conn,
            category=entry["category_code"],
            lon=lon,
            lat=lat,
            address=address if lon is None else None,
            description=entry["description"],
            source="大走访",
            reported_by=entry["found_by"],
            reported_at=reported_at,
            actor=actor,
        )
        conn.execute(
            update(LedgerEntry).where(LedgerEntry.id == entry["id"]).values(case_id=filed["id"])
        )
        audit.record(
            conn,
            actor=actor,
            action="file_case",
            object_type="ledger_entry",
            object_id=entry["id"],
            before={"case_id": entry["case_id"]},
            after={"case_id": filed["id"]},
            street_code=entry["street_code"],
        )
        return get_entry(conn, entry["id"])


def clear_entry(
    bind: Engine | Connection,
    entry_id: int,
    *,
    note: str,
    actor: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Cross ledger entry ``entry_id`` off by hand (销号), for a problem solved on the spot.

    Raises
    ------
    InputError
        Without a note.
    ConflictError
        When its case is still open (close the case: the entry follows), or it is
        crossed off already.
    """
    if not isinstance(note, str) or not note.strip() or len(note) > 2000 or "\x00" in note:
        raise InputError(
            "`note` is required: say how the problem was solved (at most 2000 characters)",
            field="note",
            zh="`note` 必须填写：说明问题是如何解决的（不超过 2000 个字符）",
        )
    with transaction(bind) as conn:
        entry = _locked(conn, entry_id)
        if entry["state"] == "in_case":
            raise ConflictError(
                f"ledger entry {entry_id} is being handled as case {entry['standing_case_id']}: "
                "it is crossed off when that case closes",
                zh=f"台账条目 {entry_id} 正作为事件 {entry['standing_case_id']} 办理："
                "该事件结案时自动销号",
            )
        if entry["state"] == "closed":
            raise ConflictError(
                f"ledger entry {entry_id} is crossed off already (已销号)",
                zh=f"台账条目 {entry_id} 已销号",
            )
        conn.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == entry["id"])
            .values(
                cleared_at=func.now() if at is None else at,
                cleared_by=actor,
                cleared_note=note.strip(),
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="clear",
            object_type="ledger_entry",
            object_id=entry["id"],
            before={"state": entry["state"]},
            after={"state": "closed", "note": note.strip()},
            street_code=entry["street_code"],
        )
        return get_entry(conn, entry["id"])
