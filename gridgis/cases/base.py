"""What every part of :mod:`gridgis.cases` shares: the steps, times and input checks.

Also the period filter other modules' queries use (:func:`period_clauses`) and
the errors a database refusal of a case becomes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute

from gridgis.db.models import CASE_STEP_NAMES_ZH, CASE_STEPS
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.times import CHINA_TZ, aware, to_display

STEPS: tuple[str, ...] = (*CASE_STEPS, "rejected")
"""Every value of a case's ``step``: the forward lifecycle, then ``rejected`` (作废)."""


LOCAL_TZ = CHINA_TZ
"""The time zone of times given without one, and of the times in case dicts: the fixed
+08:00 of :data:`gridgis.times.CHINA_TZ` (kept under this name for callers)."""


_FINISHED = ("closed", "rejected")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _period(
    since: object | None, until: object | None, *, ordered: bool
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``since`` and ``until`` read by :func:`gridgis.times.aware` (``None`` stays ``None``)."""
    start = aware(since, field="since") if since is not None else None
    end = aware(until, field="until") if until is not None else None
    if ordered and start is not None and end is not None and start >= end:
        raise InputError(
            f"`since` ({start.isoformat()}) must come before `until` ({end.isoformat()})",
            zh=f"`since`（{start.isoformat()}）必须早于 `until`（{end.isoformat()}）",
        )
    return start, end


def period_clauses(
    column: ColumnElement[dt.datetime] | QueryableAttribute[dt.datetime],
    since: object | None,
    until: object | None,
    *,
    ordered: bool = False,
) -> list[ColumnElement[bool]]:
    """Conditions keeping ``column`` in ``[since, until)``, for a Core ``select().where()``.

    ``since`` and ``until`` (either may be ``None``) are read by
    :func:`gridgis.times.aware` and bound as values. With ``ordered``, a ``since``
    not before ``until`` is refused.

    Examples
    --------
    >>> from gridgis.db.models import Case
    >>> [str(c) for c in period_clauses(Case.reported_at, dt.datetime(2025, 1, 1), None)]
    ['case_record.reported_at >= :reported_at_1']
    """
    start, end = _period(since, until, ordered=ordered)
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _iso(value: dt.datetime | None) -> str | None:
    return to_display(value)


def _check_texts(**texts: object) -> None:
    """Refuse text PostgreSQL cannot store (a NUL character), naming the field and the value."""
    for name, value in texts.items():
        if isinstance(value, str) and "\x00" in value:
            raise InputError(
                f"`{name}` was {value!r} but may not contain a NUL character (U+0000)",
                zh=f"`{name}` 为 {value!r}，不能含有 NUL 字符（U+0000）",
            )


def _step_label(step: str) -> str:
    return f"{step!r} ({CASE_STEP_NAMES_ZH[step]})"


def _step_zh(step: str) -> str:
    """The step's name in a Chinese message: “派遣”."""
    return f"“{CASE_STEP_NAMES_ZH[step]}”"


def _some(value: object, name: str) -> list[object]:
    """``value`` as a non-empty list: one value (a string) or a sequence of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset) and value:
        return list(value)
    raise InputError(
        f"`{name}` was {value!r} but is expected to be a string or a non-empty list of them",
        zh=f"`{name}` 为 {value!r}，应为文字或由文字组成的非空列表",
    )


def _check_case_id(case_id: object) -> int:
    if isinstance(case_id, bool) or not isinstance(case_id, int | np.integer):
        raise InputError(
            f"`case_id` was {case_id!r} but is expected to be an integer",
            zh=f"`case_id` 为 {case_id!r}，应为整数",
        )
    return int(case_id)


def _check_step(step: object) -> str:
    """Return the step code of ``step`` (a code such as 'registered' or its Chinese name)."""
    by_name = {zh: code for code, zh in CASE_STEP_NAMES_ZH.items()}
    if isinstance(step, str):
        key = step.strip()
        if key in STEPS:
            return key
        if key.lower() in STEPS:
            return key.lower()
        if key in by_name:
            return by_name[key]
    allowed = ", ".join(f"{s} ({CASE_STEP_NAMES_ZH[s]})" for s in STEPS)
    allowed_zh = "、".join(f"{s}（{CASE_STEP_NAMES_ZH[s]}）" for s in STEPS)
    raise InputError(
        f"`step` was {step!r} but is expected to be one of {allowed}",
        zh=f"`step`（步骤）为 {step!r}，应为以下之一：{allowed_zh}",
    )


def _translate(exc: IntegrityError | psycopg.IntegrityError, what: str) -> Exception:
    """A database refusal (SQLAlchemy's or the driver's) as a gridgis error saying what."""
    orig = exc.orig if isinstance(exc, IntegrityError) else exc
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    message = getattr(diag, "message_primary", None) or str(orig).strip()
    code = getattr(orig, "sqlstate", None)
    if code == "23505":
        return ConflictError(f"{what} was refused: it would duplicate a unique value ({message})")
    if code == "23503":
        return NotFoundError(
            f"{what} was refused: it refers to a row that does not exist ({message})"
        )
    if code == "23514" and constraint.startswith("ck_case_record_"):
        rule = constraint.removeprefix("ck_case_record_").replace("_", " ")
        return InputError(f"{what} was refused: the case's times break the rule {rule!r}")
    return ConflictError(f"{what} was refused by the database: {message}")
