"""The case lifecycle (事件): filing, steps, deadlines and on-time figures.

A case is reported (上报), then registered (立案), dispatched (派遣),
handled (处置), verified (核查) and closed (结案), one step after the
other; a case that is not finished can instead be rejected (作废). Each step
is stored with its time and who took it (``<step>_at`` / ``<step>_by`` in
``case_record``); the database computes the current ``step`` and a trigger
refuses to move a case backwards or to change a finished one. This module
checks the same rules first, so that the errors say plainly what was wrong.

Deadlines: each category (``case_category``) has a time limit in hours; a
case's ``deadline`` is its report time plus the limit in force when it was
filed. A case is *overdue* when it is open (neither closed nor rejected) and
the deadline has passed, or when it was closed after its deadline; it is
closed on time (按期结案) when ``closed_at <= deadline``.

Times without a time zone are read as China Standard Time (+08:00, see
:mod:`gridgis.times`); a case's report and step times must be plausible
(from 1949-10-01 to tomorrow); case dicts give times as ISO 8601 strings at
+08:00.

Every function takes an engine or a connection. With a connection, the work
is part of the caller's transaction (the caller commits); with an engine, a
change is committed before the function returns.

Filing many cases (the intake API): give :func:`create_case` an
:class:`IntakeCache`. The point is then placed in cells held in memory (about
15 µs, against 1-2 ms for a PostGIS lookup) and the case stored by one
``INSERT`` that also reads the category's time limit and checks that no
layout was published since the cells were loaded (if one was, nothing is
stored, the cells are reloaded and the case placed again): one round trip per
case, never a case in a replaced layout. Measured over HTTP with
``scripts/bench/intake.py`` on 2 cores: about 1.9 ms of CPU per case in all
(gunicorn, Flask, this module, PostgreSQL), against 6.7 ms when every case
looked its point up in PostGIS with a dozen statements.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> engine = get_engine()
>>> case = create_case(
...     engine, category="fire_safety", lon=119.0128, lat=25.4119, actor="wangfang"
... )
>>> case["cell_code"], case["step"]
('350304001007001', 'reported')
>>> advance_case(engine, case["id"], "registered", actor="镇海街道")["step"]
'registered'
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Connection, Engine, TextClause, text
from sqlalchemy.exc import IntegrityError

from gridgis import audit, config, paging
from gridgis.codes import LEVEL_DIGITS, check_code
from gridgis.crs import CRSLike, CRSSpec, parse_crs, to_wgs84
from gridgis.db import queries
from gridgis.db.models import CASE_STEP_NAMES_ZH, CASE_STEPS
from gridgis.errors import ConflictError, DuplicateCaseError, InputError, NotFoundError
from gridgis.geocode import (
    CellIndex,
    CellLocator,
    DatabaseLocator,
    IndexLocator,
    cell_at_sql,
    point_flag,
)
from gridgis.paging import check_page
from gridgis.times import CHINA_TZ, aware, parse_time, to_display

if TYPE_CHECKING:
    from gridgis.address import AddressBook

__all__ = [
    "LOCAL_TZ",
    "STAT_LAYOUTS",
    "STAT_LEVELS",
    "STEPS",
    "CaseCategories",
    "IntakeCache",
    "advance_case",
    "case_categories",
    "case_stats",
    "create_case",
    "deadline_hours",
    "get_case",
    "list_cases",
    "load_categories",
    "resolve_categories",
    "set_deadline_hours",
]

STEPS: tuple[str, ...] = (*CASE_STEPS, "rejected")
"""Every value of a case's ``step``: the forward lifecycle, then ``rejected`` (作废)."""

STAT_LEVELS: tuple[str, ...] = ("cell", "community", "street")
"""The levels :func:`case_stats` groups by."""

STAT_LAYOUTS: tuple[str, ...] = ("filed", "current")
"""``filed``: the area stored on each case; ``current``: the active cell containing its point."""

LOCAL_TZ = CHINA_TZ
"""The time zone of times given without one, and of the times in case dicts: the fixed
+08:00 of :data:`gridgis.times.CHINA_TZ` (kept under this name for callers)."""

MAX_DEADLINE_HOURS = 24 * 366
"""The longest time limit a category may have (a year)."""

MAX_LIMIT = paging.MAX_LIMIT
"""The most cases :func:`list_cases` returns at once (:data:`gridgis.paging.MAX_LIMIT`)."""

_FINISHED = ("closed", "rejected")

OVERDUE_SQL = (
    "coalesce(CASE WHEN c.closed_at IS NOT NULL THEN c.closed_at > c.deadline "
    "WHEN c.rejected_at IS NOT NULL THEN false ELSE CAST(:now AS timestamptz) > c.deadline END, "
    "false)"
)
"""SQL of whether case row ``c`` is overdue at ``:now``: closed after its deadline, or
still open past it (a rejected case never is). For queries of other modules too."""

_CASE_COLUMNS_SQL = (
    "c.id, c.external_id, c.category_code AS category, k.name_zh AS category_name, "
    "c.description, c.source, c.address, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, "
    "c.raw_x, c.raw_y, c.raw_crs, c.located_by, c.location_flag, c.building_id, c.match_score, "
    "g.code AS cell_code, c.community_code, c.street_code, c.step, c.deadline, "
    f"{OVERDUE_SQL} AS overdue, " + ", ".join(f"c.{step}_at, c.{step}_by" for step in STEPS)
)


_CASE_SELECT = (
    f"SELECT {_CASE_COLUMNS_SQL} FROM case_record c "
    "JOIN case_category k ON k.code = c.category_code LEFT JOIN grid_cell g ON g.id = c.cell_id"
)


# --- small helpers ------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def period_conditions(
    column: str,
    since: object | None,
    until: object | None,
    params: dict[str, Any],
    *,
    ordered: bool = False,
) -> list[str]:
    """SQL conditions keeping ``column`` in ``[since, until)``; the times go into ``params``.

    ``since`` and ``until`` (either may be ``None``) are read by
    :func:`gridgis.times.aware` and stored as ``:since`` and ``:until``. With
    ``ordered``, a ``since`` not before ``until`` is refused.

    Examples
    --------
    >>> params = {}
    >>> period_conditions("c.reported_at", dt.datetime(2025, 1, 1), None, params)
    ['c.reported_at >= :since']
    """
    conditions: list[str] = []
    if since is not None:
        params["since"] = aware(since, field="since")
        conditions.append(f"{column} >= :since")
    if until is not None:
        params["until"] = aware(until, field="until")
        conditions.append(f"{column} < :until")
    if ordered and since is not None and until is not None and params["since"] >= params["until"]:
        raise InputError(
            f"`since` ({params['since'].isoformat()}) must come before `until` "
            f"({params['until'].isoformat()})"
        )
    return conditions


def _iso(value: dt.datetime | None) -> str | None:
    return to_display(value)


def _check_texts(**texts: object) -> None:
    """Refuse text PostgreSQL cannot store (a NUL character), naming the field and the value."""
    for name, value in texts.items():
        if isinstance(value, str) and "\x00" in value:
            raise InputError(f"`{name}` was {value!r} but may not contain a NUL character (U+0000)")


def _step_label(step: str) -> str:
    return f"{step!r} ({CASE_STEP_NAMES_ZH[step]})"


def _check_code(value: str | None, level: str) -> str | None:
    return None if value is None else check_code(value, level)


def _some(value: object, name: str) -> list[object]:
    """``value`` as a non-empty list: one value (a string) or a sequence of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset) and value:
        return list(value)
    raise InputError(
        f"`{name}` was {value!r} but is expected to be a string or a non-empty list of them"
    )


def _check_case_id(case_id: object) -> int:
    if isinstance(case_id, bool) or not isinstance(case_id, int | np.integer):
        raise InputError(f"`case_id` was {case_id!r} but is expected to be an integer")
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
    raise InputError(f"`step` was {step!r} but is expected to be one of {allowed}")


class CaseCategories:
    """The case categories (table ``case_category``) and the one rule that names them.

    A category is named by its code (``fire_safety``, in any case), its Chinese name
    (``消防安全``) or its English name (``Fire safety``, in any case), with spaces
    around it ignored. Filing a case, listing cases, the density maps, the figures and
    the bulk import all ask this rule. An exact code or Chinese name wins over a
    case-folded one.

    Parameters
    ----------
    rows:
        ``(code, name_zh, name_en)`` of each category.

    Examples
    --------
    >>> known = CaseCategories([("fire_safety", "消防安全", "Fire safety")])
    >>> [known.code_of(v) for v in ("消防安全", " FIRE_SAFETY", "fire safety", "火灾")]
    ['fire_safety', 'fire_safety', 'fire_safety', None]
    """

    def __init__(self, rows: Iterable[Sequence[object]]) -> None:
        listed = sorted((str(code), str(zh), str(en)) for code, zh, en in rows)
        self.names: dict[str, str] = {code: zh for code, zh, _ in listed}
        """Code -> Chinese name, by code."""
        self._folded: dict[str, str] = {}
        for code, zh, en in reversed(listed):  # the first category wins a shared key
            for key in (en, zh, code):
                self._folded[key.casefold()] = code
        self._exact = {zh: code for code, zh, _ in listed} | {c: c for c in self.names}

    def __len__(self) -> int:
        return len(self.names)

    def code_of(self, value: object) -> str | None:
        """The code of the category ``value`` names, ``None`` when none (or not text)."""
        if not isinstance(value, str):
            return None
        key = value.strip()
        return self._exact.get(key) or self._folded.get(key.casefold())

    def listing(self) -> str:
        """The categories as an error message lists them: ``code (中文名), ...``."""
        return ", ".join(f"{code} ({name})" for code, name in self.names.items())

    def unknown(self, value: object) -> NotFoundError:
        """The error for a category ``value`` that names none, listing those there are."""
        return NotFoundError(
            f"`category` was {value!r} but is expected to be one of the categories in "
            f"case_category: {self.listing()}"
        )

    def resolve(self, value: object) -> str:
        """The code of ``value``, else :meth:`unknown`."""
        code = self.code_of(value)
        if code is None:
            raise self.unknown(value)
        return code

    def resolve_all(self, value: object) -> list[str]:
        """Codes of one category or a non-empty list of them, without repeats, in order.

        Raises
        ------
        InputError
            When ``value`` is neither text nor a non-empty list.
        NotFoundError
            Naming the first that names no category.
        """
        return list(dict.fromkeys(self.resolve(v) for v in _some(value, "category")))


def load_categories(connection: Engine | Connection) -> CaseCategories:
    """The case categories stored in ``case_category``.

    Examples
    --------
    >>> load_categories(engine).resolve("Fire safety")  # doctest: +SKIP
    'fire_safety'
    """
    with queries.connection(connection) as conn:
        rows = conn.execute(text("SELECT code, name_zh, name_en FROM case_category"))
        return CaseCategories(rows.all())


def resolve_categories(connection: Engine | Connection, category: object) -> list[str]:
    """Codes for ``category``: one category or a non-empty list (see :class:`CaseCategories`).

    Raises
    ------
    InputError
        When ``category`` is neither text nor a non-empty list.
    NotFoundError
        Naming the first unknown category and listing the known ones.

    Examples
    --------
    >>> resolve_categories(engine, ["消防安全", "dispute"])  # doctest: +SKIP
    ['fire_safety', 'dispute']
    """
    return load_categories(connection).resolve_all(category)


def _record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A case row as a JSON-ready dict."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dt.datetime):
            out[key] = _iso(value)
        elif isinstance(value, float) and math.isnan(value):
            out[key] = None
        else:
            out[key] = value
    out["overdue"] = bool(out["overdue"])
    return out


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


# --- categories and deadlines -------------------------------------------------------------------


def case_categories(connection: Engine | Connection) -> list[dict[str, Any]]:
    """The case categories with their time limits, by code.

    Returns
    -------
    list of dict
        ``code``, ``name_zh``, ``name_en``, ``deadline_hours``.

    Examples
    --------
    >>> [c["name_zh"] for c in case_categories(engine)][:2]
    ['市容环境', '工商食药']
    """
    with queries.connection(connection) as conn:
        rows = conn.execute(
            text("SELECT code, name_zh, name_en, deadline_hours FROM case_category ORDER BY code")
        )
        return [dict(r._mapping) for r in rows]


def deadline_hours(connection: Engine | Connection) -> dict[str, int]:
    """The time limit of each case category, in hours (table ``case_category``).

    Examples
    --------
    >>> deadline_hours(engine)["fire_safety"]
    72
    """
    return {c["code"]: int(c["deadline_hours"]) for c in case_categories(connection)}


def set_deadline_hours(
    connection: Engine | Connection, category: str, hours: int, *, actor: str
) -> None:
    """Change the time limit of a case category (``actor`` is recorded in the audit trail).

    Cases filed from then on get the new limit; cases already filed keep the
    deadline they were filed with.

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    category:
        The category's code (``"fire_safety"``), Chinese or English name
        (``"消防安全"``, ``"Fire safety"``), as :class:`CaseCategories` reads them.
    hours:
        The new limit, 1 to :data:`MAX_DEADLINE_HOURS`.

    Raises
    ------
    InputError
        When ``hours`` is not a whole number in that range.
    NotFoundError
        When the category does not exist (the message lists those that do).

    Examples
    --------
    >>> set_deadline_hours(engine, "fire_safety", 48, actor="admin")
    """
    if (
        isinstance(hours, bool)
        or not isinstance(hours, int | np.integer)
        or not 1 <= int(hours) <= MAX_DEADLINE_HOURS
    ):
        raise InputError(
            f"`hours` was {hours!r} but is expected to be a whole number of hours from 1 to "
            f"{MAX_DEADLINE_HOURS}"
        )
    with queries.transaction(connection) as conn:
        code = load_categories(conn).resolve(category)
        old = conn.execute(
            text(
                "UPDATE case_category k SET deadline_hours = :h FROM case_category old "
                "WHERE old.code = k.code AND k.code = :c RETURNING old.deadline_hours"
            ),
            {"h": int(hours), "c": code},
        ).scalar_one()
        if old != int(hours):
            audit.record(
                conn,
                actor=actor,
                action="update",
                object_type="category",
                object_id=code,
                before={"deadline_hours": old},
                after={"deadline_hours": int(hours)},
            )


# --- filing a case ------------------------------------------------------------------------------

_LAYOUT_VERSION_SQL = "(SELECT coalesce(max(v.id), 0) FROM layout_version v)"
"""The newest published layout: ``publish_cells`` adds a ``layout_version`` row for every
redraw, adjustment or import, so this number changes whenever the active cells do."""

_FINGERPRINT_SQL = text(
    f"SELECT {_LAYOUT_VERSION_SQL} AS version, concat_ws('/', "
    + ", ".join(
        f"(SELECT count(*) || ':' || coalesce(max(xmin::text::int8), 0) FROM {table})"
        for table in ("grid_cell", "community", "district")
    )
    + ") AS fingerprint"
)
"""The tables :class:`IntakeCache` copies the cells from, summed up: a row count and the
newest writing transaction of each (an insert or update raises the latter, a delete
lowers the former), so that edits made without ``publish_cells`` (plain SQL, a reload
of the boundaries) are seen too."""

_INSERT_COLUMNS = (
    "external_id",
    "category_code",
    "description",
    "source",
    "address",
    "reported_at",
    "reported_by",
    "deadline",
    "geom",
    "raw_x",
    "raw_y",
    "raw_crs",
    "cell_id",
    "community_code",
    "street_code",
    "located_by",
    "location_flag",
    "building_id",
    "match_score",
)
_CASE_VALUES = (
    "CAST(:external_id AS text)",
    "k.code",
    "CAST(:description AS text)",
    "CAST(:source AS text)",
    "CAST(:address AS text)",
    "CAST(:reported_at AS timestamptz)",
    "CAST(:reported_by AS text)",
    # The limit in force now, read in the same statement: a change made a moment ago
    # (set_deadline_hours, in any process) applies at once.
    "CAST(:reported_at AS timestamptz) + k.deadline_hours * interval '1 hour'",
    "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL ELSE "
    "ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326) END",
    "CAST(:raw_x AS float8)",
    "CAST(:raw_y AS float8)",
    "CAST(:raw_crs AS text)",
    "CAST(:cell_id AS int4)",
    "CAST(:community_code AS varchar)",
    "CAST(:street_code AS varchar)",
    "CAST(:located_by AS text)",
    "CAST(:location_flag AS text)",
    "CAST(:building_id AS int8)",
    "CAST(:match_score AS float8)",
)


def _insert_sql(*, checked_layout: bool, durable: bool) -> TextClause:
    """One statement that files a case and answers what only the database knows of it.

    That is the id, the step, the deadline and the category's name; the rest of the
    case dict is what was sent (:func:`_new_case`): answering every column would cost
    more than the insert itself (the driver and SQLAlchemy describe each column).

    Nothing is inserted (and no row answered) when the category does not exist, when
    another case has the ``external_id`` (``ON CONFLICT DO NOTHING``: no error, so the
    caller's transaction goes on), or, with ``checked_layout``, when a layout newer than
    ``:layout_version`` has been published since the case was placed. The audit row
    (:mod:`gridgis.audit`) is inserted by the same statement, for the case it inserted
    (none when it inserted none). Not ``durable``:
    the statement turns ``synchronous_commit`` off for its transaction (in autocommit,
    for itself alone).
    """
    checked = f" AND {_LAYOUT_VERSION_SQL} = CAST(:layout_version AS int8)"
    asynchronous = " AND set_config('synchronous_commit', 'off', true) = 'off'"
    return text(
        f"WITH c AS (INSERT INTO case_record ({', '.join(_INSERT_COLUMNS)}) "
        f"SELECT {', '.join(_CASE_VALUES)} FROM case_category k WHERE k.code = :category_code"
        + (checked if checked_layout else "")
        + ("" if durable else asynchronous)
        + " ON CONFLICT (external_id) DO NOTHING "
        "RETURNING id, category_code, step, deadline, street_code), "
        # The audit row, in the same statement: written if and only if the case is.
        "a AS (INSERT INTO audit_log (actor, action, object_type, object_id, street_code, "
        "summary, request_id) SELECT CAST(:audit_actor AS text), 'create', 'case', "
        "c.id::text, c.street_code, CAST(:audit_summary AS jsonb), "
        "CAST(:audit_request AS text) FROM c) "
        "SELECT c.id, c.step, c.deadline, k.name_zh AS category_name FROM c "
        "JOIN case_category k ON k.code = c.category_code"
    )


_INSERTS = {
    (checked, durable): _insert_sql(checked_layout=checked, durable=durable)
    for checked in (False, True)
    for durable in (False, True)
}
_WHY_NOT_FILED = text(
    f"SELECT {_LAYOUT_VERSION_SQL} AS version, "
    "EXISTS (SELECT 1 FROM case_category WHERE code = :category_code) AS known, "
    "(SELECT id FROM case_record WHERE external_id = :external_id) AS existing, "
    "(SELECT street_code FROM case_record WHERE external_id = :external_id) AS existing_street"
)
_BUILDING = text(
    "SELECT b.id, ST_X(b.location) AS lon, ST_Y(b.location) AS lat, b.community_code, "
    "m.street_code FROM building b JOIN community m ON m.code = b.community_code "
    "WHERE b.id = :id"
)
_MAX_LAYOUT_RETRIES = 3
"""How often :func:`create_case` places a case again when layouts keep being published
under it, before it places it in the database instead."""


@dataclass(frozen=True, eq=False)
class _Layout:
    """The active cells as :class:`IntakeCache` holds them."""

    locator: IndexLocator
    version: int
    fingerprint: str


class IntakeCache:
    """What filing a case reads again and again, kept in memory: active cells, categories.

    Give one to :func:`create_case` (``cache=``) for every case a process files; the
    web app keeps one per process. It is safe to share between threads.

    How fresh it is:

    - Cells published through gridgis (:func:`gridgis.db.layout.publish_cells`: a redraw,
      an adjustment, an import) are never missed: each case is inserted on condition
      that the newest ``layout_version`` is still the one the cells were loaded at, in
      the same statement; when it is not, nothing is inserted, the cells are loaded
      again and the case placed again. So a case is never filed in a replaced layout,
      however recent the change, and checking costs no query of its own.
    - Time limits are read by the inserting statement itself, never from the cache.
    - Anything else the cache holds is seen within ``max_age`` seconds: a request that
      finds the cache older than that reads the categories again (a category renamed)
      and sums up the tables of the cells (row counts and the newest writing
      transaction: one query of about 0.2 ms), reloading the cells only if they
      changed (a cell, community or district edited by plain SQL). An unknown category
      reloads the categories at once, so a new one is known to the next case.

    Parameters
    ----------
    max_age:
        Seconds between the checks for edits made without ``publish_cells``;
        default ``GRIDGIS_INTAKE_CACHE_SECONDS`` (60).

    Examples
    --------
    >>> cache = IntakeCache()
    >>> case = create_case(engine, category="消防安全", lon=119.0128, lat=25.4119,
    ...                    cache=cache, actor="wangfang")
    >>> len(cache.cells(engine))
    131
    """

    def __init__(self, *, max_age: float | None = None) -> None:
        if max_age is None:
            max_age = config.settings().intake_cache_seconds
        if isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age < 0:
            raise InputError(f"`max_age` was {max_age!r} but is expected to be seconds, >= 0")
        self.max_age = float(max_age)
        self._lock = threading.Lock()
        self._layout: _Layout | None = None
        self._categories = CaseCategories([])
        self._checked = -math.inf

    def cells(self, connection: Engine | Connection) -> CellIndex:
        """The active cells, loaded or checked first when needed.

        Examples
        --------
        >>> len(IntakeCache().cells(engine))
        131
        """
        with queries.connection(connection) as conn:
            return self._current(conn).locator.index

    def clear(self) -> None:
        """Forget everything: the next case loads the cells and categories again.

        Examples
        --------
        >>> cache = IntakeCache()
        >>> cache.clear()
        """
        with self._lock:
            self._layout, self._categories = None, CaseCategories([])
            self._checked = -math.inf

    def _current(self, conn: Connection, *, replaced: _Layout | None = None) -> _Layout:
        """The cells to place a case in; ``replaced``: cells found out of date."""
        layout = self._layout
        if layout is not None and layout is not replaced:
            if time.monotonic() - self._checked < self.max_age:
                return layout
            # Time to look for edits made without publish_cells. Only one thread looks;
            # the others go on with the cells they have (a published change is caught
            # by the insert in any case).
            if not self._lock.acquire(blocking=False):
                return layout
            try:
                if self._layout is layout:
                    found = conn.execute(_FINGERPRINT_SQL).one()
                    if found.fingerprint != layout.fingerprint:
                        self._load(conn)
                    else:
                        self._categories = load_categories(conn)
                    self._checked = time.monotonic()
                return self._layout or layout
            finally:
                self._lock.release()
        with self._lock:
            if self._layout is None or self._layout is replaced:
                self._load(conn)
            assert self._layout is not None
            return self._layout

    def _load(self, conn: Connection) -> None:
        """Read the cells and categories (with the lock held)."""
        from gridgis.geocode import load_cell_index

        # The summary first: a change made while the cells are read makes it differ from
        # what was read, which only means one more reload.
        found = conn.execute(_FINGERPRINT_SQL).one()
        index = load_cell_index(conn)
        self._categories = load_categories(conn)
        self._layout = _Layout(IndexLocator(index), int(found.version), str(found.fingerprint))
        self._checked = time.monotonic()

    def _category(self, conn: Connection, category: object) -> str:
        """The code of ``category``, from memory; read again once when it is unknown."""
        code = self._categories.code_of(category)
        if code is None:
            self._categories = load_categories(conn)
            code = self._categories.resolve(category)
        return code


@functools.lru_cache(maxsize=64)
def _named_system(crs: str | int) -> tuple[CRSSpec, bool, bool]:
    return _system_of(crs)


def _system(crs: CRSLike) -> tuple[CRSSpec, bool, bool]:
    """The CRS, whether it is geographic (lon/lat) and whether it is WGS84 as it is.

    Remembered for CRSs named by text or number (asking pyproj costs about 30 µs a case).
    """
    if isinstance(crs, str | int) and not isinstance(crs, bool):
        return _named_system(crs)
    return _system_of(crs)


def _system_of(crs: CRSLike) -> tuple[CRSSpec, bool, bool]:
    spec = parse_crs(crs)
    geographic = spec.is_obfuscated or (spec.crs is not None and spec.crs.is_geographic)
    return spec, geographic, spec.is_wgs84


def _locate_point(
    conn: Connection, x: object, y: object, crs: CRSLike, cells: CellLocator | None
) -> dict[str, Any]:
    """Where the point (x, y) in ``crs`` is: WGS84 point, cell and flag (as case columns).

    The cell's code comes along as ``cell_code`` (not a column of ``case_record``).
    """
    try:
        fx, fy = float(x), float(y)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"`lon`/`lat` were ({x!r}, {y!r}) but are expected to be numbers"
        ) from None
    spec, geographic, wgs84 = _system(crs)
    found: dict[str, Any] = {
        "raw_x": fx,
        "raw_y": fy,
        "raw_crs": spec.name,
        "located_by": "coordinates",
    }
    if geographic:
        # Check the numbers as given: converting a swapped pair first could turn it into
        # infinities (pyproj) and hide that it was merely swapped.
        flag = point_flag(fx, fy)
        if flag in ("swapped", "outside_china"):
            return found | {"location_flag": flag}
        if flag == "invalid":
            raise _invalid_point(fx, fy, spec.name)
    if wgs84:  # checked above; converting would change nothing
        lon, lat, checked = fx, fy, True
    else:
        converted = to_wgs84(fx, fy, spec)
        lon, lat, checked = float(converted[0]), float(converted[1]), False
    located = _find_cell(conn, lon, lat, cells, checked=checked)
    flag = located["flag"]
    if flag == "invalid":
        raise _invalid_point(fx, fy, spec.name)
    if flag in ("swapped", "outside_china"):
        return found | {"location_flag": flag}
    found |= {"lon": lon, "lat": lat}
    if flag is not None:  # 'outside' the district or in a 'gap': the point is kept
        return found | {"location_flag": flag}
    return found | {key: located[key] for key in _CELL_KEYS}


_CELL_KEYS = ("cell_id", "cell_code", "community_code", "street_code")


def _find_cell(
    conn: Connection,
    lon: float,
    lat: float,
    cells: CellLocator | None,
    *,
    checked: bool = False,
) -> dict[str, Any]:
    """``flag`` and, when located, the cell of one WGS84 point (``checked``: known plausible).

    ``cells``: where to look (``None``: the active cells, in the database).
    """
    if not checked:
        flag = point_flag(lon, lat)
        if flag != "ok":
            return {"flag": flag}
    return (cells if cells is not None else DatabaseLocator(conn)).cell_of(lon, lat)


def _invalid_point(x: float, y: float, crs_name: str) -> InputError:
    return InputError(
        f"`lon`/`lat` were ({x!r}, {y!r}) in {crs_name} but these are not a longitude and "
        "latitude (missing, or |lon| > 180 / |lat| > 90); projected coordinates need their "
        "`crs`, e.g. 'EPSG:4547'; file a case without a point by leaving lon and lat out"
    )


def _locate_address(
    conn: Connection, address: str, book: AddressBook | None, cells: CellLocator | None
) -> dict[str, Any]:
    """Where the address is: the matched building's point, its cell, or the 'unmatched' flag."""
    from gridgis.address import load_address_book, match_addresses

    if book is None:
        book = load_address_book(conn)
    match = match_addresses(book, [address]).iloc[0]
    score = float(match["score"])
    found: dict[str, Any] = {"located_by": "address", "match_score": min(max(score, 0.0), 1.0)}
    if pd.isna(match["building_id"]):
        return found | {"location_flag": "unmatched"}
    building = conn.execute(_BUILDING, {"id": int(match["building_id"])}).one()
    found |= {
        "building_id": int(building.id),
        "lon": float(building.lon),
        "lat": float(building.lat),
        "community_code": building.community_code,
        "street_code": building.street_code,
    }
    located = _find_cell(conn, float(building.lon), float(building.lat), cells)
    if located["flag"] is not None:
        return found | {"location_flag": located["flag"]}
    return found | {key: located[key] for key in _CELL_KEYS}


def _place(
    conn: Connection,
    cells: CellLocator | None,
    *,
    lon: float | None,
    lat: float | None,
    crs: CRSLike,
    address: str | None,
    book: AddressBook | None,
) -> dict[str, Any]:
    """The location columns of a new case (see :func:`create_case`)."""
    place: dict[str, Any] = {
        "lon": None,
        "lat": None,
        "raw_x": None,
        "raw_y": None,
        "raw_crs": None,
        "cell_id": None,
        "cell_code": None,
        "community_code": None,
        "street_code": None,
        "located_by": None,
        "location_flag": None,
        "building_id": None,
        "match_score": None,
    }
    if lon is not None:
        return place | _locate_point(conn, lon, lat, crs, cells)
    if address is not None and address.strip():
        return place | _locate_address(conn, address, book, cells)
    return place | {"location_flag": "unmatched"}


@contextmanager
def _filing(bind: Engine | Connection, *, autocommit: bool) -> Iterator[Connection]:
    """Use ``bind`` if it is a connection (the caller commits), else a new one.

    Filing writes with one INSERT (the rest are reads): alone it is atomic, and with
    ``autocommit`` it saves the BEGIN and COMMIT round trips of a transaction. Without it
    (filing that looks the point up in PostGIS) one transaction is committed, so that
    :func:`gridgis.geocode.locate_in_db` can set its settings for it.
    """
    if isinstance(bind, Connection):
        yield bind
    elif autocommit:
        with bind.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with bind.begin() as conn:
            yield conn


class _Inserted(NamedTuple):
    """What the insert answers (see :func:`_insert_sql`)."""

    id: int
    step: str
    deadline: dt.datetime
    category_name: str


def _insert(
    conn: Connection, key: tuple[bool, bool], values: dict[str, Any], *, direct: bool
) -> _Inserted | None:
    """Run the insert ``_INSERTS[key]``; ``None`` when it stored nothing.

    ``direct``: the connection is this module's own, in autocommit, so the statement can
    go straight to the driver, past SQLAlchemy's execution context and result objects
    (about 0.1 ms of the 1 ms a case costs in all; psycopg still prepares it after
    its fifth use on a connection).
    """
    values["audit_summary"] = json.dumps(
        audit.summary(None, {k: values.get(k) for k in _AUDITED}), ensure_ascii=False
    )
    if not direct:
        row = conn.execute(_INSERTS[key], values).one_or_none()
        return None if row is None else _Inserted(*row)
    sql = _DRIVER_SQL.get(key)
    if sql is None:
        sql = _DRIVER_SQL[key] = str(_INSERTS[key].compile(dialect=conn.dialect))
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    try:
        found = driver.execute(sql, values).fetchone()
    except psycopg.IntegrityError as exc:
        raise _translate(exc, "filing the case") from exc
    return None if found is None else _Inserted(*found)


_AUDITED = (
    "external_id",
    "category_code",
    "source",
    "reported_at",
    "cell_code",
    "community_code",
    "street_code",
    "located_by",
    "location_flag",
)
"""The fields of a new case its audit row keeps: where and what kind, not what people
wrote (description, address, reporter), which stays in the case alone."""

_DRIVER_SQL: dict[tuple[bool, bool], str] = {}
"""The inserts as the driver takes them (``%(name)s`` parameters), made on first use."""


def _file_cached(
    conn: Connection,
    cache: IntakeCache,
    category: object,
    values: dict[str, Any],
    where: dict[str, Any],
    *,
    durable: bool,
    direct: bool,
) -> _Inserted | None:
    """Insert the case placed in ``cache``'s cells; ``None`` when refused (see the caller).

    When a layout was published after the cells were loaded, the insert stores nothing:
    the cells are loaded again and the case placed again (a few times at most, then in
    the database itself).
    """
    values["category_code"] = cache._category(conn, category)
    replaced = None
    for _ in range(_MAX_LAYOUT_RETRIES):
        layout = cache._current(conn, replaced=replaced)
        values |= _place(conn, layout.locator, **where) | {"layout_version": layout.version}
        row = _insert(conn, (True, durable), values, direct=direct)
        if row is not None:
            return row
        why = conn.execute(_WHY_NOT_FILED, values).one()
        if why.version == layout.version or not why.known or why.existing is not None:
            return None  # refused for another reason
        replaced = layout
    values |= _place(conn, None, **where)
    return _insert(conn, (False, durable), values, direct=direct)


def create_case(
    connection: Engine | Connection,
    *,
    category: str,
    lon: float | None = None,
    lat: float | None = None,
    crs: CRSLike = "wgs84",
    address: str | None = None,
    description: str | None = None,
    source: str | None = None,
    external_id: str | None = None,
    reported_by: str | None = None,
    reported_at: dt.datetime | None = None,
    book: AddressBook | None = None,
    index: CellIndex | None = None,
    cache: IntakeCache | None = None,
    durable: bool = True,
    actor: str,
) -> dict[str, Any]:
    """File a new case: locate it, give it its deadline, store it at step 'reported'.

    Where the case is comes from its point when ``lon``/``lat`` are given
    (converted from ``crs`` to WGS84 and looked up among the active cells), else
    from its address (matched to a building, whose point is then looked up).
    A case that cannot be placed in a cell is stored all the same, without a
    cell, with ``location_flag`` saying why: ``outside`` the district, in a
    ``gap`` between cells, coordinates that look ``swapped`` or are
    ``outside_china`` (such points are not stored as the case's point), or an
    address that is ``unmatched`` (also when neither a point nor an address
    was given). ``raw_x``/``raw_y``/``raw_crs`` keep the coordinates as given.

    The case is stored by one ``INSERT`` that also reads the category's time limit
    and answers the stored case; with an engine it runs in autocommit (one
    statement is atomic), with a connection in the caller's transaction, which
    goes on after a refusal (unknown category, duplicate ``external_id``). The same
    statement writes the case's audit row (:mod:`gridgis.audit`).

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    category:
        A category code (``"fire_safety"``), Chinese or English name (``"消防安全"``,
        ``"Fire safety"``), as :class:`CaseCategories` reads them.
    lon, lat:
        The point, in ``crs`` (x and y: metres for a projected CRS).
    crs:
        The system of ``lon``/``lat``: wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn.
    address:
        The address as reported; used to place the case when there is no point.
    description, source, reported_by:
        Free text (what, which channel, who reported).
    external_id:
        The case's identifier in another system; unique.
    reported_at:
        When it was reported (default now; naive means China Standard Time, +08:00);
        from 1949-10-01 to tomorrow.
    book:
        An address book from :func:`gridgis.address.load_address_book`, to reuse
        for many cases (default: loaded when an address must be matched).
    index:
        Cells from :func:`gridgis.geocode.load_cell_index` to place the case in, as
        they are (the caller keeps them current); default: the active cells, looked up
        in the database.
    cache:
        An :class:`IntakeCache` to reuse for many cases: the cells and categories come
        from memory, checked against the database by the insert itself, so a case is
        never placed in a replaced layout. Fastest; ignored when ``index`` is given.
    durable:
        ``True`` (the default): the case is on disk when this returns (PostgreSQL's
        ``synchronous_commit``). ``False``: it is answered before its WAL record is
        flushed, which saves the wait and much of the CPU of a flush per case; a crash
        of the database server (not of this process) may then lose the cases of its
        last moments (PostgreSQL's ``wal_writer_delay``, 200 ms by default, up to three
        times that), never corrupt anything. With a connection, this holds for the
        rest of the caller's transaction. For intake from clients that retry (with
        ``external_id``); the web app's setting is ``GRIDGIS_INTAKE_SYNC_COMMIT``.
    actor:
        Who files the case into gridgis (the signed-in user or the API token's user;
        ``cli:<login>``), recorded in the audit trail; ``reported_by`` is who reported it.

    Returns
    -------
    dict
        The stored case, as :func:`get_case` returns it.

    Raises
    ------
    NotFoundError
        When the category does not exist (the message lists those that do).
    DuplicateCaseError
        (a :class:`ConflictError`) when a case with this ``external_id`` exists
        (the message names it; the error carries its id and street).
    InputError
        When only one of ``lon``/``lat`` is given, or they are not coordinates at all;
        when ``reported_at`` is before 1949-10-01 or after tomorrow; when a text
        holds a NUL character (PostgreSQL cannot store it).

    Examples
    --------
    >>> case = create_case(
    ...     engine, category="消防安全", address="荔城区镇海街道文献社区瑞隆里59号1栋",
    ...     actor="wangfang",
    ... )
    >>> case["located_by"], case["building_id"] is not None
    ('address', True)
    """
    when = _now()
    if reported_at is not None:
        when = parse_time(aware(reported_at, field="reported_at"), field="reported_at")
    _check_texts(
        external_id=external_id,
        description=description,
        source=source,
        address=address,
        reported_by=reported_by,
    )
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(f"`actor` was {actor!r} but is expected to name who files the case")
    _check_texts(actor=actor)
    if (lon is None) != (lat is None):
        raise InputError(
            f"`lon` was {lon!r} and `lat` was {lat!r}: give both coordinates, or neither"
        )
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise InputError(f"`external_id` was {external_id!r} but is expected to be non-empty text")
    if address is not None and not isinstance(address, str):
        raise InputError(f"`address` was {address!r} but is expected to be text")
    if index is not None and not isinstance(index, CellIndex):
        raise InputError(f"`index` must be a CellIndex, not {type(index).__name__}")
    if index is not None:
        cache = None
    if not isinstance(durable, bool):
        raise InputError(f"`durable` was {durable!r} but is expected to be True or False")
    values: dict[str, Any] = {
        "external_id": external_id,
        "description": description,
        "source": source,
        "address": address,
        "reported_at": when,
        "reported_by": reported_by,
        "now": _now(),
        "audit_actor": actor.strip(),
        "audit_request": audit.request_id.get(),
    }
    where: dict[str, Any] = {"lon": lon, "lat": lat, "crs": crs, "address": address, "book": book}
    direct = cache is not None and not isinstance(connection, Connection)
    with _filing(connection, autocommit=direct) as conn:
        try:
            if cache is None:
                values["category_code"] = load_categories(conn).resolve(category)
                values |= _place(conn, IndexLocator(index) if index is not None else None, **where)
                row = _insert(conn, (False, durable), values, direct=direct)
            else:
                row = _file_cached(
                    conn, cache, category, values, where, durable=durable, direct=direct
                )
        except IntegrityError as exc:
            if cache is not None:  # e.g. a cell deleted under the cache (not via gridgis)
                cache.clear()
            raise _translate(exc, "filing the case") from exc
        if row is None:
            why = conn.execute(_WHY_NOT_FILED, values).one()
            if not why.known:
                if cache is not None:
                    cache.clear()
                raise load_categories(conn).unknown(category)
            if why.existing is not None:
                raise DuplicateCaseError(
                    f"`external_id` was {external_id!r} but case {why.existing} already has it; "
                    "a case is filed only once",
                    case_id=why.existing,
                    street_code=why.existing_street,
                )
            raise ConflictError(
                "filing the case was refused: nothing was stored, and what stood in the way "
                "(a category, an external_id, a newer layout) changed meanwhile; try again"
            )
        return _new_case(row, values)


def _new_case(row: _Inserted, values: Mapping[str, Any]) -> dict[str, Any]:
    """The case dict (as :func:`get_case` gives it) of a case just inserted with ``values``."""
    deadline: dt.datetime = row.deadline
    case = {
        "id": row.id,
        "external_id": values["external_id"],
        "category": values["category_code"],
        "category_name": row.category_name,
    }
    for key in _SENT_KEYS:
        case[key] = values[key]
    case |= {"step": row.step, "deadline": _iso(deadline), "overdue": values["now"] > deadline}
    for step in STEPS:
        case[f"{step}_at"] = case[f"{step}_by"] = None
    case["reported_at"] = _iso(values["reported_at"])
    case["reported_by"] = values["reported_by"]
    return case


_SENT_KEYS = (
    "description",
    "source",
    "address",
    "lon",
    "lat",
    "raw_x",
    "raw_y",
    "raw_crs",
    "located_by",
    "location_flag",
    "building_id",
    "match_score",
    "cell_code",
    "community_code",
    "street_code",
)


# --- moving a case on ---------------------------------------------------------------------------


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
        row = conn.execute(
            text(
                "SELECT id, step, "
                + ", ".join(f"{s}_at, {s}_by" for s in STEPS)
                + " FROM case_record WHERE id = :id FOR UPDATE"
            ),
            {"id": case_id},
        ).one_or_none()
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
                # `step` is one of STEPS (checked above), so the column names are safe.
                conn.execute(
                    text(f"UPDATE case_record SET {step}_at = :at, {step}_by = :by WHERE id = :id"),
                    {"at": when, "by": actor, "id": case_id},
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


# --- reading cases ------------------------------------------------------------------------------


def get_case(connection: Engine | Connection, case_id: int) -> dict[str, Any]:
    """One case as a JSON-ready dict (times as ISO 8601 at +08:00).

    Keys: ``id``, ``external_id``, ``category``, ``category_name``,
    ``description``, ``source``, ``address``, ``lon``, ``lat``, ``raw_x``,
    ``raw_y``, ``raw_crs``, ``located_by``, ``location_flag``, ``building_id``,
    ``match_score``, ``cell_code``, ``community_code``, ``street_code``,
    ``step``, ``deadline``, ``overdue``, and ``<step>_at`` / ``<step>_by``
    for reported, registered, dispatched, handled, verified, closed, rejected.

    Raises
    ------
    NotFoundError
        When the case does not exist.

    Examples
    --------
    >>> get_case(engine, 1)["step"]
    'closed'
    """
    case_id = _check_case_id(case_id)
    with queries.connection(connection) as conn:
        row = conn.execute(
            text(_CASE_SELECT + " WHERE c.id = :id"), {"id": case_id, "now": _now()}
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return _record(row._mapping)


def list_cases(
    connection: Engine | Connection,
    *,
    street: str | None = None,
    community: str | None = None,
    cell: str | None = None,
    category: str | Sequence[str] | None = None,
    step: str | Sequence[str] | None = None,
    overdue: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = paging.DEFAULT_LIMIT,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Cases matching every filter given, newest report first (then highest id).

    Parameters
    ----------
    connection:
        The database.
    street, community, cell:
        Codes (9, 12, 15 digits) of the area the case was filed in; a cell code
        matches every version of that cell.
    category:
        A category (code, Chinese or English name), or a list of them (any matches).
    step:
        The current step (``reported`` ... ``closed``, ``rejected``), or a list of
        steps (any of them matches).
    overdue:
        Only overdue cases (``True``) or only those that are not (``False``).
    since, until:
        Reported at or after ``since`` and before ``until``.
    limit, offset:
        Paging: 1 to :data:`MAX_LIMIT` cases, after skipping ``offset`` (0 to
        :data:`gridgis.paging.MAX_OFFSET`), as :func:`gridgis.paging.check_page` checks.

    Returns
    -------
    list of dict
        Cases as :func:`get_case` returns them.

    Examples
    --------
    >>> [c["id"] for c in list_cases(engine, community="350304002001", limit=3)]
    [4966, 4898, 4890]
    >>> open_ones = list_cases(engine, step=["reported", "registered"], category=["消防安全",
    ...                        "dispute"])
    """
    limit, offset = check_page(limit, offset, max_limit=MAX_LIMIT)
    if overdue is not None and not isinstance(overdue, bool):
        raise InputError(f"`overdue` was {overdue!r} but is expected to be True, False or None")
    where: list[str] = []
    params: dict[str, Any] = {"now": _now(), "limit": limit, "offset": offset}
    for level, value, column in (
        ("street", street, "c.street_code"),
        ("community", community, "c.community_code"),
        ("cell", cell, "g.code"),
    ):
        if _check_code(value, level) is not None:
            where.append(f"{column} = :{level}")
            params[level] = value
    if step is not None:
        where.append("c.step = ANY(CAST(:steps AS text[]))")
        params["steps"] = [_check_step(s) for s in _some(step, "step")]
    if overdue is not None:
        where.append(f"{OVERDUE_SQL} = :overdue")
        params["overdue"] = overdue
    where += period_conditions("c.reported_at", since, until, params)
    with queries.connection(connection) as conn:
        if category is not None:
            where.append("c.category_code = ANY(CAST(:categories AS text[]))")
            params["categories"] = resolve_categories(conn, category)
        sql = (
            _CASE_SELECT
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY c.reported_at DESC, c.id DESC LIMIT :limit OFFSET :offset"
        )
        return [_record(r._mapping) for r in conn.execute(text(sql), params)]


# --- figures ------------------------------------------------------------------------------------

_FILED_KEY = {"cell": "g.code", "community": "c.community_code", "street": "c.street_code"}
_AREA_NAMES = {
    "cell": (
        "SELECT DISTINCT ON (code) code, name, valid_to IS NULL AS active FROM grid_cell "
        "ORDER BY code, valid_to IS NULL DESC, valid_from DESC"
    ),
    "community": (
        "SELECT m.code, m.name, EXISTS (SELECT 1 FROM grid_cell g WHERE g.valid_to IS NULL "
        "AND g.community_code = m.code) AS active FROM community m"
    ),
    "street": (
        "SELECT s.code, s.name, EXISTS (SELECT 1 FROM grid_cell g JOIN community m "
        "ON m.code = g.community_code WHERE g.valid_to IS NULL AND m.street_code = s.code) "
        "AS active FROM street s"
    ),
}
"""Each area's name, and whether it has active cells (such areas get a row even without cases)."""
_STAT_COLUMNS = (
    "code",
    "name",
    "cases",
    "closed",
    "rejected",
    "closed_on_time",
    "closure_rate",
    "on_time_rate",
    "overdue_open",
    "median_hours_to_close",
)


def case_stats(
    connection: Engine | Connection,
    *,
    level: str = "cell",
    layout: str = "filed",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Closure and on-time figures per cell, community or street office.

    Parameters
    ----------
    connection:
        The database.
    level:
        ``"cell"``, ``"community"`` or ``"street"``.
    layout:
        ``"filed"``: each case counts in the area stored on it, the one it was
        filed in (a cell retired since keeps its cases). ``"current"``: each
        case's point is placed again in the active cells (a point on a shared
        boundary goes to the smallest code), so that after a redraw every case
        is counted once in today's layout.
    since, until:
        Only cases reported at or after ``since`` and before ``until``.
    now:
        The time open cases are judged overdue at (default now).

    Returns
    -------
    pandas.DataFrame
        One row per area, by code: every active cell (or every community or
        street that has active cells), every other area that has cases, and a row
        with code ``None``
        for the cases in no area (no point, or outside every cell). Columns:

        ``code``, ``name``
            The area.
        ``cases``
            Cases reported (all, rejected included).
        ``closed``, ``rejected``
            Cases closed (结案) and rejected (作废).
        ``closed_on_time``
            Cases closed no later than their deadline (按期结案).
        ``closure_rate``
            结案率: ``closed / (cases - rejected)`` (a rejected case is not a case to close).
        ``on_time_rate``
            按期结案率: ``closed_on_time / closed``.
        ``overdue_open``
            Open cases (neither closed nor rejected) past their deadline at ``now``.
        ``median_hours_to_close``
            Median hours from report to closing, over the closed cases.

        Rates and the median are NaN where there is nothing to divide.

    Examples
    --------
    >>> stats = case_stats(engine, level="street")
    >>> stats[["code", "name", "closure_rate"]].head(1).round(2)
            code  name  closure_rate
    0  350304001  镇海街道          0.99
    """
    if level not in STAT_LEVELS:
        raise InputError(f"`level` was {level!r} but is expected to be one of {list(STAT_LEVELS)}")
    if layout not in STAT_LAYOUTS:
        raise InputError(
            f"`layout` was {layout!r} but is expected to be one of {list(STAT_LAYOUTS)}"
        )
    params: dict[str, Any] = {"now": aware(now, field="now") if now is not None else _now()}
    where: list[str] = []
    where += period_conditions("c.reported_at", since, until, params)
    filters = (" WHERE " + " AND ".join(where)) if where else ""
    if layout == "filed":
        picked = (
            f"SELECT c.*, {_FILED_KEY[level]} AS area_code FROM case_record c "
            f"LEFT JOIN grid_cell g ON g.id = c.cell_id{filters}"
        )
    else:
        digits = LEVEL_DIGITS[level]
        # The smallest code wins on a boundary that several active cells share.
        picked = (
            f"SELECT c.*, left(a.code, {digits}) AS area_code FROM case_record c "
            f"LEFT JOIN LATERAL ({cell_at_sql('c.geom')}) a ON true"
            f"{filters}"
        )
    sql = f"""
        WITH picked AS ({picked}),
        agg AS (
            SELECT area_code,
                count(*) AS cases,
                count(closed_at) AS closed,
                count(rejected_at) AS rejected,
                count(*) FILTER (WHERE closed_at <= deadline) AS closed_on_time,
                count(*) FILTER (WHERE closed_at IS NULL AND rejected_at IS NULL
                                 AND CAST(:now AS timestamptz) > deadline) AS overdue_open,
                percentile_cont(0.5) WITHIN GROUP (
                    ORDER BY extract(epoch FROM closed_at - reported_at) / 3600.0
                ) AS median_hours_to_close
            FROM picked GROUP BY area_code
        ),
        names AS ({_AREA_NAMES[level]}),
        keys AS (
            SELECT area_code AS code FROM agg UNION SELECT code FROM names WHERE active
        )
        SELECT k.code, n.name,
            coalesce(a.cases, 0) AS cases,
            coalesce(a.closed, 0) AS closed,
            coalesce(a.rejected, 0) AS rejected,
            coalesce(a.closed_on_time, 0) AS closed_on_time,
            a.closed::float8 / nullif(a.cases - a.rejected, 0) AS closure_rate,
            a.closed_on_time::float8 / nullif(a.closed, 0) AS on_time_rate,
            coalesce(a.overdue_open, 0) AS overdue_open,
            a.median_hours_to_close
        FROM keys k
        LEFT JOIN agg a ON a.area_code IS NOT DISTINCT FROM k.code
        LEFT JOIN names n ON n.code = k.code
        ORDER BY k.code NULLS LAST
    """
    with queries.connection(connection) as conn:
        rows = conn.execute(text(sql), params).all()
    dtypes: dict[str, Any] = {"code": object, "name": object, "closure_rate": "float64"}
    dtypes |= {"on_time_rate": "float64", "median_hours_to_close": "float64"}
    return pd.DataFrame(
        {
            column: pd.Series(
                [r[i] for r in rows],
                dtype=dtypes.get(column, "int64"),  # the other columns are counts
            )
            for i, column in enumerate(_STAT_COLUMNS)
        }
    )
