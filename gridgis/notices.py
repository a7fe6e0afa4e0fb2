"""Notices (消息): each user's inbox of what happened to the cases they work on.

A notice is written in the same transaction as the step it tells of, so a step that
is rolled back leaves none (:func:`on_event`, called by :mod:`gridgis.cases.lifecycle`).
Who gets what:

- **派遣** (``dispatched``) and **改派** (``reassigned``): the logins of the department
  the case goes to (role ``department``). A case dispatched to no department (the
  street office handles it itself) tells no one.
- **退单** (``returned``): the street office logins of the case's street (role
  ``street``), who dispatch it again, and the user who dispatched it (the actor of the
  last 派遣 or 改派), whatever its role.
- **督办** (``escalated``): the street office logins of the case's street, and the
  logins of the department the case is dispatched to (it is their work that is
  pressed). Administrators are not told: an escalation usually comes from the
  district's centre, that is from them, and they see every case anyway.
- **即将超期** (``overdue_soon``): :func:`notify_overdue_soon` (``gridgis notices
  sweep``, run every few minutes by cron or a timer) tells the department of a case at
  派遣, else the street office, once per case, when the deadline is less than
  ``GRIDGIS_OVERDUE_SOON_HOURS`` (24) away.

Nobody is told of what they did themselves. Each notice for a department whose
webhook is set (:func:`gridgis.webhooks.set_webhook`) also queues one delivery in the
``outbox`` (per department and event, however many logins it has); the delivery is
posted later by :func:`gridgis.webhooks.deliver_due`, never inside the request.

Examples
--------
>>> from gridgis.cases import advance_case, create_case
>>> case = create_case(engine, category="fire_safety", lon=119.0128, lat=25.4119, actor="wang")
>>> _ = advance_case(engine, case["id"], "registered", actor="office")
>>> sent = advance_case(engine, case["id"], "dispatched", actor="office")  # calls on_event
>>> sent["department_code"]
'350304-YJ'
>>> count_unread(engine, user_id=1)  # the demo's administrator is told of nothing
0
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from gridgis import config
from gridgis.db import queries
from gridgis.db.models import (
    NOTICE_NAMES_ZH,
    AppUser,
    Case,
    CaseCategory,
    CaseEvent,
    Department,
    Notice,
    Outbox,
)
from gridgis.errors import InputError, NotFoundError

__all__ = [
    "CASE_LINK",
    "count_unread",
    "list_notices",
    "mark_all_read",
    "mark_read",
    "notify_overdue_soon",
    "on_event",
]

CASE_LINK = "/cases/{case_id}"
"""The path of a case's page, which a notice links to (prefixed by ``GRIDGIS_PUBLIC_URL``
in webhook messages)."""

MAX_ID = 2**63 - 1
_SWEEP_LOCK = 0x6E6F7469636573  # "notices": one overdue sweep at a time
_NOTE_CHARS = 80
"""The most characters of a step's note a notice quotes."""

_CASE = (
    select(
        Case.id,
        Case.street_code,
        Case.department_code,
        Case.step,
        Case.deadline,
        CaseCategory.name_zh.label("category_name"),
    )
    .join(CaseCategory, CaseCategory.code == Case.category_code)
    .where(Case.id == bindparam("case_id"))
)


def case_link(case_id: int) -> str:
    """The link to a case's page in a message sent out (``GRIDGIS_PUBLIC_URL`` + path)."""
    base = config.settings().public_url
    path = CASE_LINK.format(case_id=case_id)
    return (base.rstrip("/") + path) if base else path


def _department_users(code: str | None) -> Any:
    return select(AppUser.id).where(AppUser.role == "department", AppUser.department_code == code)


def _street_users(street: str | None) -> Any:
    return select(AppUser.id).where(AppUser.role == "street", AppUser.street_code == street)


def _quoted(note: str | None) -> str:
    if not note:
        return ""
    short = note if len(note) <= _NOTE_CHARS else note[: _NOTE_CHARS - 1] + "…"
    return f"：{short}"


def _department_name(conn: Connection, code: str | None) -> str:
    if code is None:
        return "街道"
    name = conn.execute(select(Department.name).where(Department.code == code)).scalar()
    return str(name or code)


def _value(value: Any, type_: Any) -> Any:
    """``value`` as a column of an INSERT ... SELECT (an SQL expression is kept)."""
    return value if isinstance(value, ColumnElement) else literal(value, type_)


def _deliver(
    conn: Connection,
    *,
    case_id: int,
    kind: str,
    text_: str,
    recipients: Any,
    actor: str | None,
    departments: tuple[str | None, ...],
    now: dt.datetime | Any,
) -> list[int]:
    """Write the notices of one event to ``recipients`` (a select of user ids, less the
    actor) and queue a webhook delivery for each of ``departments`` with a webhook."""
    chosen = recipients.subquery()
    users = select(chosen.c.id)
    if actor is not None:
        users = users.where(chosen.c.id.not_in(select(AppUser.id).where(AppUser.name == actor)))
    when = _value(now, Notice.created_at.type)
    rows = select(
        users.subquery().c.id,
        _value(case_id, Notice.case_id.type),
        _value(kind, Notice.kind.type),
        _value(text_, Notice.text.type),
        when,
    ).distinct()
    ids = conn.execute(
        insert(Notice)
        .from_select(["user_id", "case_id", "kind", "text", "created_at"], rows)
        .returning(Notice.id)
    ).scalars()
    notice_ids = sorted(int(i) for i in ids)
    codes = [code for code in dict.fromkeys(departments) if code is not None]
    if codes:
        message = {
            "case_id": case_id,
            "kind": kind,
            "kind_name": NOTICE_NAMES_ZH[kind],
            "text": text_,
            "link": case_link(case_id),
        }
        hooked = select(
            Department.code,
            _value(case_id, Outbox.case_id.type),
            _value(kind, Outbox.kind.type),
            _value(message, Outbox.message.type),
            when,
            when,
        ).where(Department.code.in_(codes), Department.webhook_url.is_not(None))
        conn.execute(
            insert(Outbox).from_select(
                ["department_code", "case_id", "kind", "message", "created_at", "next_attempt_at"],
                hooked,
            )
        )
    return notice_ids


def on_event(conn: Connection, event_id: int) -> list[int]:
    """Write the notices of one entry of a case's timeline (派遣, 改派, 退单, 督办), in the
    caller's transaction; other kinds of entry tell no one.

    Returns
    -------
    list of int
        The ids of the notices written.
    """
    event = conn.execute(
        select(
            CaseEvent.case_id,
            CaseEvent.kind,
            CaseEvent.actor,
            CaseEvent.note,
            CaseEvent.department_code,
        ).where(CaseEvent.id == event_id)
    ).one_or_none()
    if event is None:
        raise NotFoundError(
            f"case event {event_id} does not exist", zh=f"事件处理记录 {event_id} 不存在"
        )
    if event.kind not in NOTICE_NAMES_ZH:
        return []
    case = conn.execute(_CASE, {"case_id": event.case_id}).one()
    label = f"案件 {case.id}（{case.category_name}）"
    now = func.now()
    if event.kind in ("dispatched", "reassigned"):
        if event.department_code is None:
            return []
        verb = "派遣" if event.kind == "dispatched" else "改派"
        words = f"{label}已{verb}至{_department_name(conn, event.department_code)}"
        return _deliver(
            conn,
            case_id=case.id,
            kind=event.kind,
            text_=words + _quoted(event.note),
            recipients=_department_users(event.department_code),
            actor=event.actor,
            departments=(event.department_code,),
            now=now,
        )
    if event.kind == "returned":
        dispatcher = (
            select(CaseEvent.actor)
            .where(
                CaseEvent.case_id == case.id,
                CaseEvent.kind.in_(("dispatched", "reassigned")),
                CaseEvent.id < event_id,
            )
            .order_by(CaseEvent.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        by_name = select(AppUser.id).where(AppUser.name == dispatcher)
        words = f"{label}被{_department_name(conn, event.department_code)}退单"
        return _deliver(
            conn,
            case_id=case.id,
            kind="returned",
            text_=words + _quoted(event.note),
            recipients=_street_users(case.street_code).union(by_name),
            actor=event.actor,
            departments=(),
            now=now,
        )
    # escalated (督办)
    recipients = _street_users(case.street_code)
    if case.department_code is not None:
        recipients = recipients.union(_department_users(case.department_code))
    return _deliver(
        conn,
        case_id=case.id,
        kind="escalated",
        text_=f"{label}被督办" + _quoted(event.note),
        recipients=recipients,
        actor=event.actor,
        departments=(case.department_code,),
        now=now,
    )


def notify_overdue_soon(
    bind: Engine | Connection,
    now: dt.datetime | None = None,
    *,
    hours: float | None = None,
) -> int:
    """Tell whoever holds each open case whose deadline is near that it is due soon
    (即将超期), once per case.

    A case at 派遣 with a department tells that department's logins (and its webhook),
    any other open case the street office of its street. A case that has been told
    (a notice or a webhook delivery of kind ``overdue_soon``) is never told again; a
    case nobody could be told of is looked at again by the next sweep. Sweeps take
    turns (an advisory lock), so two at once never tell a case twice.

    Parameters
    ----------
    bind:
        The database.
    now:
        The time to sweep at (default now).
    hours:
        The window before the deadline (default ``GRIDGIS_OVERDUE_SOON_HOURS``).

    Returns
    -------
    int
        How many cases were told of.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise InputError(
            f"`now` was {now!r} but is expected to carry its UTC offset",
            zh=f"`now` 为 {now!r}，应带有 UTC 时差",
        )
    window = config.settings().overdue_soon_hours if hours is None else hours
    if not window > 0:
        raise InputError(
            f"`hours` was {hours!r} but is expected to be a number of hours > 0",
            zh=f"`hours` 为 {hours!r}，应为大于 0 的小时数",
        )
    told = or_(
        exists().where(Notice.case_id == Case.id, Notice.kind == "overdue_soon"),
        exists().where(Outbox.case_id == Case.id, Outbox.kind == "overdue_soon"),
    )
    due = (
        select(Case.id, Case.street_code, Case.department_code, Case.step, Case.deadline)
        .where(
            Case.step.not_in(("closed", "rejected")),
            Case.merged_into_id.is_(None),
            and_(Case.deadline > now, Case.deadline <= now + dt.timedelta(hours=window)),
            ~told,
        )
        .order_by(Case.deadline, Case.id)
    )
    count = 0
    with queries.transaction(bind) as conn:
        conn.execute(select(func.pg_advisory_xact_lock(_SWEEP_LOCK)))
        for case in conn.execute(due).all():
            category = conn.execute(_CASE, {"case_id": case.id}).one().category_name
            left = (case.deadline - now).total_seconds() / 3600
            when = case.deadline.astimezone(dt.timezone(dt.timedelta(hours=8)))
            words = (
                f"案件 {case.id}（{category}）将于 {when:%m-%d %H:%M} 到期"
                f"（还剩约 {max(left, 0.1):.1f} 小时）"
            )
            to_department = case.step == "dispatched" and case.department_code is not None
            written = _deliver(
                conn,
                case_id=case.id,
                kind="overdue_soon",
                text_=words,
                recipients=_department_users(case.department_code)
                if to_department
                else _street_users(case.street_code),
                actor=None,
                departments=(case.department_code,) if to_department else (),
                now=now,
            )
            queued = conn.execute(
                select(exists().where(Outbox.case_id == case.id, Outbox.kind == "overdue_soon"))
            ).scalar()
            count += bool(written or queued)
    return count


def _check_id(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"`{name}` was {value!r} but is expected to be a whole number",
            zh=f"`{name}` 为 {value!r}，应为整数",
        )
    return value


def _record(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["kind_name"] = NOTICE_NAMES_ZH[out["kind"]]
    out["link"] = CASE_LINK.format(case_id=out["case_id"])
    for key in ("created_at", "read_at"):
        out[key] = out[key].isoformat() if out[key] is not None else None
    return out


_COLUMNS = (
    Notice.id,
    Notice.case_id,
    Notice.kind,
    Notice.text,
    Notice.created_at,
    Notice.read_at,
)


def list_notices(
    bind: Engine | Connection,
    user_id: int,
    *,
    unread: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """A user's notices, newest first: ``id``, ``case_id``, ``kind``, ``kind_name``
    (Chinese), ``text``, ``created_at``, ``read_at`` (ISO 8601; null while unread),
    ``link`` (the case's page). ``unread=True`` lists only the unread, ``False`` only
    the read."""
    user_id = _check_id(user_id, "user_id")
    query = select(*_COLUMNS).where(Notice.user_id == user_id)
    if unread is not None:
        query = query.where(Notice.read_at.is_(None) if unread else Notice.read_at.is_not(None))
    query = query.order_by(Notice.id.desc()).limit(limit).offset(offset)
    with queries.connection(bind) as conn:
        return [_record(row) for row in conn.execute(query)]


_UNREAD = select(func.count()).where(
    Notice.user_id == bindparam("user_id"), Notice.read_at.is_(None)
)


def count_unread(bind: Engine | Connection, user_id: int) -> int:
    """How many of the user's notices are unread (one index-only read)."""
    with queries.connection(bind) as conn:
        return int(conn.execute(_UNREAD, {"user_id": _check_id(user_id, "user_id")}).scalar_one())


def mark_read(bind: Engine | Connection, user_id: int, notice_id: int) -> dict[str, Any]:
    """Mark one of the user's notices read (a notice read before keeps its time).

    Raises
    ------
    NotFoundError
        When the notice does not exist or is another user's.
    """
    user_id, notice_id = _check_id(user_id, "user_id"), _check_id(notice_id, "notice_id")
    if not 1 <= notice_id <= MAX_ID:
        raise NotFoundError(f"notice {notice_id} does not exist", zh=f"消息 {notice_id} 不存在")
    mine = and_(Notice.id == notice_id, Notice.user_id == user_id)
    with queries.transaction(bind) as conn:
        conn.execute(
            update(Notice).where(mine, Notice.read_at.is_(None)).values(read_at=func.now())
        )
        row = conn.execute(select(*_COLUMNS).where(mine)).one_or_none()
    if row is None:
        raise NotFoundError(f"notice {notice_id} does not exist", zh=f"消息 {notice_id} 不存在")
    return _record(row)


def mark_all_read(bind: Engine | Connection, user_id: int) -> int:
    """Mark every unread notice of the user read; returns how many were unread."""
    user_id = _check_id(user_id, "user_id")
    with queries.transaction(bind) as conn:
        result = conn.execute(
            update(Notice)
            .where(Notice.user_id == user_id, Notice.read_at.is_(None))
            .values(read_at=func.now())
        )
    return int(result.rowcount)
