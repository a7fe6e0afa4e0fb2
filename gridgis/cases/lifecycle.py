"""The lifecycle: moving a case on to its next step, or rejecting it (作废); dispatch to a
department (派遣), its return (退单) and reassignment (改派), escalation (督办), notes, and
the timeline that records them.

Every step after the report is also a row of ``case_event`` (the timeline) with its
note and the department it concerns; the step columns of ``case_record`` keep the
latest time of each step, which the deadlines and statistics read.

- **派遣** (``dispatched``) names a department (``department``), else the dispatch rules
  choose one (:func:`gridgis.cases.departments.default_department`); where no rule
  applies and departments serve the case's area, one must be named. Where no
  department serves the area at all, the case is dispatched without one (the street
  office handles it itself). Dispatching a case that is already dispatched, to another
  department or person, is a reassignment (改派).
- **退单** (``returned``): the department a case was dispatched to sends it back, with
  its reason; the case is at 立案 again, for the dispatcher to send on.
- **督办** (:func:`escalate_case`): a supervisor marks a case for the street office's
  leaders, with a note; the case shows when and by whom.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from gridgis import audit, notices
from gridgis.cases.base import (
    _FINISHED,
    STEPS,
    _check_case_id,
    _check_step,
    _check_texts,
    _iso,
    _now,
    _step_label,
    _step_zh,
    _translate,
)
from gridgis.cases.departments import (
    check_department,
    default_department,
    department_serves,
    list_departments,
)
from gridgis.cases.records import get_case
from gridgis.db import queries
from gridgis.db.models import CASE_EVENT_NAMES_ZH, CASE_STEPS, Case, CaseEvent, Department
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.times import aware, parse_time

MAX_NOTE_CHARS = 2000
"""The longest note a step, return, escalation or plain note may carry."""

_REQUIRED_ZH = {"a return (退单)": "退单", "an escalation (督办)": "督办", "a note": "该操作"}
"""What needs a note (``required`` of ``_check_note``), as a Chinese message names it."""

_STEP_COLUMNS = (
    Case.id,
    Case.step,
    Case.category_code,
    Case.community_code,
    Case.street_code,
    Case.department_code,
    Case.assignee,
    *(Case.__table__.c[f"{step}_{what}"] for step in STEPS for what in ("at", "by")),
)
_PLAIN = select(*_STEP_COLUMNS).where(Case.id == bindparam("id"))
_STEPS = _PLAIN.with_for_update()
"""Case ``:id``'s step, and when and by whom it took each, locked until the transaction ends."""


def _check_note(note: object, *, required: str | None = None) -> str | None:
    """A step's note, stripped (``None`` when empty); ``required`` names what needs one."""
    if note is not None and not isinstance(note, str):
        raise InputError(
            f"`note` was {note!r} but is expected to be text", zh=f"`note` 为 {note!r}，应为文字"
        )
    text = note.strip() if note else ""
    if required and not text:
        raise InputError(
            f"{required} needs a note that gives the reason",
            zh=f"{_REQUIRED_ZH.get(required, required)}需要填写说明原因的备注",
        )
    if len(text) > MAX_NOTE_CHARS:
        raise InputError(
            f"`note` has {len(text)} characters but may have at most {MAX_NOTE_CHARS}",
            zh=f"`note`（备注）有 {len(text)} 个字符，最多只能有 {MAX_NOTE_CHARS} 个",
        )
    _check_texts(note=text)
    return text or None


def _check_actor(actor: object) -> str:
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(
            f"`actor` was {actor!r} but is expected to name who takes the step",
            zh=f"`actor` 为 {actor!r}，应为办理该步骤的人",
        )
    _check_texts(actor=actor)
    return actor.strip()


def _event(
    conn: Connection,
    case_id: int,
    kind: str,
    *,
    at: dt.datetime,
    actor: str,
    note: str | None,
    department: str | None = None,
    assignee: str | None = None,
) -> int:
    """Add one entry to the case's timeline; returns its id."""
    return int(
        conn.execute(
            insert(CaseEvent)
            .values(
                case_id=case_id,
                kind=kind,
                at=at,
                actor=actor,
                note=note,
                department_code=department,
                assignee=assignee,
            )
            .returning(CaseEvent.id)
        ).scalar_one()
    )


def _locked(conn: Connection, case_id: int) -> dict[str, Any]:
    row = conn.execute(_STEPS, {"id": case_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
    return dict(row._mapping)


def _open(record: dict[str, Any], case_id: int, asked: str) -> None:
    current = record["step"]
    if current in _FINISHED:
        raise ConflictError(
            f"case {case_id} is finished: {_step_label(current)} at "
            f"{_iso(record[f'{current}_at'])} by {record[f'{current}_by'] or 'unknown'}; a "
            f"finished case cannot change (asked for {asked})",
            zh=f"事件 {case_id} 已办结：{_iso(record[f'{current}_at'])} 由 "
            f"{record[f'{current}_by'] or '未知'} {_step_zh(current)}；已办结的事件不能再更改"
            f"（所请求的操作：{asked}）",
        )


def _dispatch_to(
    conn: Connection,
    record: dict[str, Any],
    department: str | None,
    case_id: int,
) -> str | None:
    """The department a dispatch sends the case to: the one named, else the rules' choice,
    else none where no department serves the case's area."""
    area = record["community_code"] or record["street_code"]
    if department is not None:
        chosen = check_department(conn, department)
        if not department_serves(chosen, area):
            raise InputError(
                f"`department` was {chosen['code']!r} ({chosen['name']}) but it serves "
                f"{chosen['area_code']} and case {case_id} lies in {area or 'no area'}",
                zh=f"`department` 为 {chosen['code']!r}（{chosen['name']}），它负责 "
                f"{chosen['area_code']}，而事件 {case_id} 位于 {area or '任何区域之外'}",
            )
        return str(chosen["code"])
    by_rule = default_department(conn, record["category_code"], area)
    if by_rule is not None:
        return by_rule
    if area is not None and list_departments(conn, area=area):
        raise InputError(
            f"case {case_id} ({record['category_code']}) has no dispatch rule for "
            f"{area}; name the `department` to dispatch it to",
            zh=f"事件 {case_id}（{record['category_code']}）在 {area} 没有派遣规则；"
            "请指定要派往的 `department`（职能部门）",
        )
    return None


def advance_case(
    connection: Engine | Connection,
    case_id: int,
    step: str,
    *,
    actor: str,
    at: dt.datetime | None = None,
    note: str | None = None,
    department: str | None = None,
    assignee: str | None = None,
) -> dict[str, Any]:
    """Move a case to its next step, send it back (退单), or reject it (作废).

    The step is recorded on the case's timeline with its note, and in the audit trail.

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    case_id:
        The case.
    step:
        The case's next step (``registered`` after ``reported``, and so on),
        ``rejected`` from any step that is not finished, or ``returned`` (退单) from
        ``dispatched``, which takes the case back to ``registered``; the Chinese
        names (立案, 派遣, 退单, 处置, 核查, 结案, 作废) are accepted too.
        ``dispatched`` on a dispatched case reassigns it (改派).
    actor:
        Who takes the step (a person or an office); required.
    at:
        When (default now; naive means China Standard Time, +08:00); never earlier
        than the case's previous step, nor after tomorrow.
    note:
        What the step says (up to :data:`MAX_NOTE_CHARS` characters); required for
        ``returned``.
    department:
        For ``dispatched``: the code of the department the case goes to (default: as
        the dispatch rules choose).
    assignee:
        For ``dispatched``: the person in the department who handles it, optional.

    Returns
    -------
    dict
        The case after the step, as :func:`get_case` returns it, with ``event_id`` (the
        timeline entry the step made).

    Raises
    ------
    NotFoundError
        When the case or the department does not exist.
    ConflictError
        When the step skips a step, goes back (other than a return), or the case is
        finished (closed or rejected).
    InputError
        For an unknown step, an empty ``actor``, a missing reason, a department that
        does not serve the case's area, or a time before the previous step.

    Examples
    --------
    >>> from gridgis.cases import create_case
    >>> case = create_case(
    ...     engine, category="fire_safety", lon=119.0128, lat=25.4119, actor="wangfang"
    ... )
    >>> advance_case(engine, case["id"], "registered", actor="镇海街道网格中心")["step"]
    'registered'
    >>> advance_case(engine, case["id"], "dispatched", actor="镇海街道网格中心")["department_code"]
    '350304-YJ'
    >>> advance_case(engine, case["id"], "dispatched", actor="镇海街道网格中心",
    ...              department="350304001-ZZ")["department_name"]  # 改派 to the street's office
    '镇海街道综治办'
    """
    case_id = _check_case_id(case_id)
    returning = isinstance(step, str) and step.strip() in ("returned", "退单")
    step = "returned" if returning else _check_step(step)
    if step == "reported":
        raise InputError(
            "`step` was 'reported' but a case is reported when it is filed (create_case); "
            f"the steps that follow are {', '.join(_step_label(s) for s in STEPS[1:])}",
            zh="`step` 为 'reported'，但事件在上报（create_case）时即已“上报”；之后的步骤为："
            + "、".join(_step_zh(s) for s in STEPS[1:]),
        )
    actor = _check_actor(actor)
    note = _check_note(
        note,
        required="a return (退单)" if step == "returned" else None,
    )
    if step != "dispatched" and (department is not None or assignee is not None):
        raise InputError(
            f"`department` and `assignee` go with the step 'dispatched' (派遣), not {step!r}",
            zh=f"`department` 和 `assignee` 只用于“派遣”这一步，不能用于 {step!r}",
        )
    if assignee is not None:
        if not isinstance(assignee, str) or not assignee.strip() or len(assignee) > 64:
            raise InputError(
                f"`assignee` was {assignee!r} but is expected to name a person (1-64 characters)",
                zh=f"`assignee` 为 {assignee!r}，应为承办人的姓名（1 到 64 个字符）",
            )
        _check_texts(assignee=assignee)
        assignee = assignee.strip()
    when = parse_time(aware(at, field="at"), field="at") if at is not None else _now()
    with queries.transaction(connection) as conn:
        record = _locked(conn, case_id)
        current = record["step"]
        _open(record, case_id, step if step == "returned" else _step_label(step))
        since = record[f"{current}_at"]
        if when < since:
            raise InputError(
                f"`at` was {_iso(when)} but case {case_id} reached its previous step "
                f"{_step_label(current)} at {_iso(since)}; a step cannot come before the one "
                "it follows",
                zh=f"`at` 为 {_iso(when)}，但事件 {case_id} 已于 {_iso(since)} 到达上一步骤"
                f"{_step_zh(current)}；一个步骤不能早于它之前的步骤",
            )
        values: dict[str, Any] = {}
        kind = step
        event_department = None
        if step == "returned":
            if current != "dispatched":
                raise ConflictError(
                    f"case {case_id} is at step {_step_label(current)}; only a dispatched "
                    "case (派遣) can be returned (退单)",
                    zh=f"事件 {case_id} 处于{_step_zh(current)}步骤；只有已派遣的事件才能退单",
                )
            event_department = record["department_code"]
            values = {
                "dispatched_at": None,
                "dispatched_by": None,
                "department_code": None,
                "assignee": None,
            }
        elif step == "dispatched" and current == "dispatched":
            target = _dispatch_to(conn, record, department, case_id)
            if (target, assignee) == (record["department_code"], record["assignee"]):
                raise ConflictError(
                    f"case {case_id} is already dispatched to "
                    f"{target or 'no department'}{f' ({assignee})' if assignee else ''}",
                    zh=f"事件 {case_id} 已派遣到 "
                    f"{target or '（无职能部门）'}{f'（{assignee}）' if assignee else ''}",
                )
            kind, event_department = "reassigned", target
            values = {"department_code": target, "assignee": assignee}
        else:
            if step != "rejected":
                position, target_at = CASE_STEPS.index(current), CASE_STEPS.index(step)
                following = CASE_STEPS[position + 1]
                if target_at <= position:
                    raise ConflictError(
                        f"case {case_id} is at step {_step_label(current)} and cannot go back "
                        f"to {_step_label(step)}, which it passed at "
                        f"{_iso(record[f'{step}_at'])}; a case only moves forward",
                        zh=f"事件 {case_id} 处于{_step_zh(current)}步骤，不能退回到已于 "
                        f"{_iso(record[f'{step}_at'])} 完成的{_step_zh(step)}步骤；"
                        "事件只能向前推进",
                    )
                if target_at > position + 1:
                    raise ConflictError(
                        f"case {case_id} is at step {_step_label(current)}; its next step is "
                        f"{_step_label(following)}, it cannot skip to {_step_label(step)}",
                        zh=f"事件 {case_id} 处于{_step_zh(current)}步骤，下一步是"
                        f"{_step_zh(following)}，不能跳到{_step_zh(step)}",
                    )
            values = {f"{step}_at": when, f"{step}_by": actor}
            if step == "dispatched":
                event_department = _dispatch_to(conn, record, department, case_id)
                values.update(department_code=event_department, assignee=assignee)
            elif step in ("handled",):
                event_department = record["department_code"]
        try:
            with conn.begin_nested():
                conn.execute(update(Case).where(Case.id == case_id).values(values))
        except IntegrityError as exc:
            raise _translate(exc, f"moving case {case_id} to {step}") from exc
        event_id = _event(
            conn,
            case_id,
            kind,
            at=when,
            actor=actor,
            note=note,
            department=event_department,
            assignee=assignee if step == "dispatched" else None,
        )
        notices.on_event(conn, event_id)  # same transaction: a rolled-back step tells no one
        case = get_case(conn, case_id)
        after: dict[str, Any] = {"step": case["step"], f"{kind}_at": when}
        if step in ("dispatched", "returned"):
            after.update(department_code=case["department_code"], assignee=case["assignee"])
        if note:
            after["note"] = note
        audit.record(
            conn,
            actor=actor,
            action=kind if kind in ("returned", "reassigned") else "advance",
            object_type="case",
            object_id=case_id,
            before={
                "step": current,
                **(
                    {"department_code": record["department_code"], "assignee": record["assignee"]}
                    if step in ("dispatched", "returned")
                    else {}
                ),
            },
            after=after,
            street_code=case["street_code"],
        )
        case["event_id"] = event_id
        return case


def escalate_case(
    connection: Engine | Connection,
    case_id: int,
    *,
    actor: str,
    note: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Escalate a case (督办) to the street office's leaders, with a note.

    A case may be escalated more than once; the case keeps the latest time and who,
    the timeline every escalation.

    Raises
    ------
    NotFoundError
        When the case does not exist.
    ConflictError
        When the case is finished.
    InputError
        Without a note, or with an empty ``actor``.
    """
    case_id = _check_case_id(case_id)
    actor = _check_actor(actor)
    text = _check_note(note, required="an escalation (督办)")
    when = parse_time(aware(at, field="at"), field="at") if at is not None else _now()
    with queries.transaction(connection) as conn:
        record = _locked(conn, case_id)
        _open(record, case_id, "escalated (督办)")
        conn.execute(
            update(Case).where(Case.id == case_id).values(escalated_at=when, escalated_by=actor)
        )
        event_id = _event(
            conn,
            case_id,
            "escalated",
            at=when,
            actor=actor,
            note=text,
            department=record["department_code"],
        )
        notices.on_event(conn, event_id)
        case = get_case(conn, case_id)
        audit.record(
            conn,
            actor=actor,
            action="escalate",
            object_type="case",
            object_id=case_id,
            after={"escalated_at": when, "note": text},
            street_code=case["street_code"],
        )
        case["event_id"] = event_id
        return case


def add_note(
    connection: Engine | Connection, case_id: int, *, actor: str, note: str
) -> dict[str, Any]:
    """Add a note to a case's timeline (a finished case too: a later remark).

    Returns
    -------
    dict
        The timeline entry, as :func:`case_timeline` lists them.
    """
    case_id = _check_case_id(case_id)
    actor = _check_actor(actor)
    text = _check_note(note, required="a note")
    when = _now()
    with queries.transaction(connection) as conn:
        record = _locked(conn, case_id)
        event_id = _event(conn, case_id, "note", at=when, actor=actor, note=text)
        audit.record(
            conn,
            actor=actor,
            action="note",
            object_type="case",
            object_id=case_id,
            after={"note": text},
            street_code=record["street_code"],
        )
        return next(e for e in case_timeline(conn, case_id) if e["id"] == event_id)


_TIMELINE = (
    select(
        CaseEvent.id,
        CaseEvent.kind,
        CaseEvent.at,
        CaseEvent.actor,
        CaseEvent.note,
        CaseEvent.department_code,
        Department.name.label("department_name"),
        CaseEvent.assignee,
    )
    .outerjoin(Department, Department.code == CaseEvent.department_code)
    .where(CaseEvent.case_id == bindparam("id"))
    .order_by(CaseEvent.at, CaseEvent.id)
)


def case_timeline(connection: Engine | Connection, case_id: int) -> list[dict[str, Any]]:
    """A case's timeline, oldest first: its report, then every step, return, escalation,
    merge and note with when, who, the note and the department.

    Each entry: ``id`` (``None`` for the report and for steps of cases loaded without a
    timeline, which come from the case's step columns), ``kind``, ``kind_name`` (Chinese),
    ``at`` (ISO 8601), ``actor``, ``note``, ``department_code``, ``department_name``,
    ``assignee``.

    Raises
    ------
    NotFoundError
        When the case does not exist.
    """
    case_id = _check_case_id(case_id)
    with queries.connection(connection) as conn:
        record = conn.execute(_PLAIN, {"id": case_id}).one_or_none()
        if record is None:
            raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
        steps = record._mapping
        events = [dict(r._mapping) for r in conn.execute(_TIMELINE, {"id": case_id})]
    recorded = {e["kind"] for e in events}
    entries: list[dict[str, Any]] = []
    for step in STEPS:
        at = steps[f"{step}_at"]
        if at is not None and (step == "reported" or step not in recorded):
            entries.append(
                {
                    "id": None,
                    "kind": step,
                    "at": at,
                    "actor": steps[f"{step}_by"],
                    "note": None,
                    "department_code": None,
                    "department_name": None,
                    "assignee": None,
                }
            )
    entries.extend(events)
    entries.sort(key=lambda e: (e["at"], e["id"] is not None, e["id"] or 0))
    for entry in entries:
        entry["kind_name"] = CASE_EVENT_NAMES_ZH[entry["kind"]]
        entry["at"] = _iso(entry["at"])
    return entries
