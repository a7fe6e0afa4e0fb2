"""The lifecycle: moving a case on to its next step, or rejecting it (作废)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from gridgis import audit
from gridgis.cases.base import (
    _FINISHED,
    STEPS,
    _check_case_id,
    _check_step,
    _check_texts,
    _iso,
    _now,
    _step_label,
    _translate,
)
from gridgis.cases.records import get_case
from gridgis.db import queries
from gridgis.db.models import CASE_STEPS, Case
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.times import aware, parse_time

_STEPS = (
    select(
        Case.id,
        Case.step,
        *(Case.__table__.c[f"{step}_{what}"] for step in STEPS for what in ("at", "by")),
    )
    .where(Case.id == bindparam("id"))
    .with_for_update()
)
"""Case ``:id``'s step, and when and by whom it took each, locked until the transaction ends."""


def advance_case(
    connection: Engine | Connection,
    case_id: int,
    step: str,
    *,
    actor: str,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move a case to its next step, or reject it (作废); the step is written to the audit trail.

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    case_id:
        The case.
    step:
        The case's next step (``registered`` after ``reported``, and so on) or
        ``rejected`` from any step that is not finished; the Chinese names
        (立案, 派遣, 处置, 核查, 结案, 作废) are accepted too.
    actor:
        Who takes the step (a person or an office); required.
    at:
        When (default now; naive means China Standard Time, +08:00); never earlier
        than the case's previous step, nor after tomorrow.

    Returns
    -------
    dict
        The case after the step, as :func:`get_case` returns it.

    Raises
    ------
    NotFoundError
        When the case does not exist.
    ConflictError
        When the step skips a step, goes back, or the case is finished
        (closed or rejected).
    InputError
        For an unknown step, an empty ``actor``, or a time before the previous step.

    Examples
    --------
    >>> from gridgis.cases import create_case
    >>> case = create_case(
    ...     engine, category="fire_safety", lon=119.0128, lat=25.4119, actor="wangfang"
    ... )
    >>> advance_case(engine, case["id"], "registered", actor="镇海街道网格中心")["step"]
    'registered'
    >>> advance_case(engine, case["id"], "dispatched", actor="镇海街道网格中心")["step"]
    'dispatched'
    """
    case_id = _check_case_id(case_id)
    step = _check_step(step)
    if step == "reported":
        raise InputError(
            "`step` was 'reported' but a case is reported when it is filed (create_case); "
            f"the steps that follow are {', '.join(_step_label(s) for s in STEPS[1:])}"
        )
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(f"`actor` was {actor!r} but is expected to name who takes the step")
    actor = actor.strip()
    when = parse_time(aware(at, field="at"), field="at") if at is not None else _now()
    _check_texts(actor=actor)
    with queries.transaction(connection) as conn:
        row = conn.execute(_STEPS, {"id": case_id}).one_or_none()
        if row is None:
            raise NotFoundError(f"case {case_id} does not exist")
        record = row._mapping
        current = record["step"]
        since = record[f"{current}_at"]
        if current in _FINISHED:
            raise ConflictError(
                f"case {case_id} is finished: {_step_label(current)} at {_iso(since)} by "
                f"{record[f'{current}_by'] or 'unknown'}; a finished case cannot change "
                f"(asked for {_step_label(step)})"
            )
        if step != "rejected":
            position, target = CASE_STEPS.index(current), CASE_STEPS.index(step)
            following = CASE_STEPS[position + 1]
            if target <= position:
                raise ConflictError(
                    f"case {case_id} is at step {_step_label(current)} and cannot go back to "
                    f"{_step_label(step)}, which it passed at {_iso(record[f'{step}_at'])}; "
                    "a case only moves forward"
                )
            if target > position + 1:
                raise ConflictError(
                    f"case {case_id} is at step {_step_label(current)}; its next step is "
                    f"{_step_label(following)}, it cannot skip to {_step_label(step)}"
                )
        if when < since:
            raise InputError(
                f"`at` was {_iso(when)} but case {case_id} reached its previous step "
                f"{_step_label(current)} at {_iso(since)}; a step cannot come before the one "
                "it follows"
            )
        try:
            with conn.begin_nested():
                conn.execute(
                    update(Case)
                    .where(Case.id == case_id)
                    .values({f"{step}_at": when, f"{step}_by": actor})
                )
        except IntegrityError as exc:
            raise _translate(exc, f"moving case {case_id} to {_step_label(step)}") from exc
        case = get_case(conn, case_id)
        audit.record(
            conn,
            actor=actor,
            action="advance",
            object_type="case",
            object_id=case_id,
            before={"step": current},
            after={"step": step, f"{step}_at": when},
            street_code=case["street_code"],
        )
        return case
