"""Near-duplicate cases (疑似重复) and merging them (合并).

A case is a *likely duplicate* of another when both are open (neither closed,
rejected nor merged), of the same category, within ``GRIDGIS_DUPLICATE_METRES``
(default 50 m, measured on the WGS84 spheroid) of each other and reported within
``GRIDGIS_DUPLICATE_DAYS`` (default 7 days) of each other, before or after. An
unlocated case (no point) has no likely duplicates. The lookup is a proposal
shown when a case is filed and on both cases; a person decides and merges.

Merging (:func:`merge_cases`) links the duplicate to the case it repeats and
finishes it. How a merged case is stored:

- ``merged_into_id`` names the case it was merged into;
- ``rejected_at`` / ``rejected_by`` are the time and person of the merge, so its
  ``step`` is ``rejected`` (作废) and it is finished: nothing is invented. Closing
  it (结案) would need a time for every earlier step (立案 … 核查) it never took,
  and would count it closed (and maybe on time) in 结案率 and 按期结案率;
- its timeline (``case_event``) has a ``merged`` (合并) entry naming the other
  case, and so has the timeline of the case it was merged into; the audit trail
  has an ``merge`` row.

A merged case is counted once, through the case it was merged into: every
figure that counts cases (:func:`gridgis.cases.case_stats`,
:func:`gridgis.analysis.figures.area_figures`, the density of
:mod:`gridgis.analysis.density`) leaves out the cases :func:`is_merged` picks.
Lists and exports of cases still hold them, as records.

Cases of different categories may be merged: the lookup proposes only cases of
the same category, but a person may judge that two reports filed under
different categories are one incident (a blocked fire lane reported as 消防安全
and as 市容环境). The audit row keeps both categories.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> engine = get_engine()
>>> [d["id"] for d in duplicates_of(engine, 4321)]  # doctest: +SKIP
[4330]
>>> merge_cases(engine, 4330, 4321, actor="镇海街道网格中心")["merged_into"]  # doctest: +SKIP
4321
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from geoalchemy2 import Geography
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    case,
    cast,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from gridgis import audit, config
from gridgis.cases.base import (
    _FINISHED,
    _check_case_id,
    _check_texts,
    _iso,
    _now,
    _step_label,
    _step_zh,
    _translate,
)
from gridgis.cases.records import get_case
from gridgis.db import queries
from gridgis.db.models import Case, CaseEvent
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.times import aware

__all__ = [
    "MAX_DUPLICATES",
    "duplicates_of",
    "is_merged",
    "likely_duplicates",
    "merge_cases",
    "merged_from",
]

MAX_DUPLICATES = 100
"""The most likely duplicates one lookup returns."""

MAX_NOTE_CHARS = 1000
"""The longest note a merge may carry."""

_LAST_ID = 2**63 - 1
"""The largest id (``bigint``): what a case not yet stored is compared with."""

_METRES_PER_DEGREE = 110_000.0
"""Fewer metres than a degree of latitude (110.57–111.69 km) or of longitude at the
equator (111.32 km) hold: boxes drawn with it are a little too large, never too small."""


def is_merged(cases: type[Case] = Case) -> ColumnElement[bool]:
    """Whether a case was merged into another (合并); never NULL. For the queries of other
    modules: a figure that counts cases counts ``~is_merged()`` ones, so that a merged case
    is counted once, through the case it was merged into.

    Examples
    --------
    >>> from sqlalchemy import select
    >>> counted = select(Case.id).where(~is_merged())
    """
    return cases.merged_into_id.is_not(None)


def _open() -> ColumnElement[bool]:
    return Case.closed_at.is_(None) & Case.rejected_at.is_(None) & Case.merged_into_id.is_(None)


_POINT = func.ST_SetSRID(func.ST_MakePoint(bindparam("lon"), bindparam("lat")), 4326)
_EXCLUDED: BindParameter[int] = bindparam("excluded")
_AT: BindParameter[dt.datetime] = bindparam("at")
_DISTANCE = func.ST_Distance(cast(Case.geom, Geography), cast(_POINT, Geography))
_NEAR = (
    select(
        Case.id,
        Case.category_code.label("category"),
        _DISTANCE.label("distance_m"),
        Case.reported_at,
        case(
            # Reported at the same time: the lower id was filed first.
            (tuple_(Case.reported_at, Case.id) < tuple_(_AT, _EXCLUDED), "earlier"),
            else_="later",
        ).label("relation"),
        Case.step,
        Case.description,
        Case.street_code,
    )
    .where(
        Case.category_code == bindparam("category"),
        _open(),
        Case.id != _EXCLUDED,
        # The box (&&) lets the GiST index on geom pick the candidates; ST_DWithin on the
        # spheroid then keeps those truly within the distance.
        Case.geom.op("&&")(func.ST_Expand(_POINT, bindparam("dx"), bindparam("dy"))),
        func.ST_DWithin(cast(Case.geom, Geography), cast(_POINT, Geography), bindparam("metres")),
        Case.reported_at >= _AT - bindparam("window"),
        Case.reported_at <= _AT + bindparam("window"),
    )
    .order_by(_DISTANCE, Case.id)
    .limit(bindparam("limit"))
)
"""Open cases of ``:category`` within ``:metres`` of (``:lon``, ``:lat``) and ``:window``
of ``:at``, nearest first."""


def _positive(value: object, name: str, default: float, high: float) -> float:
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(float(value))
        or not 0 < float(value) <= high
    ):
        raise InputError(
            f"`{name}` was {value!r} but is expected to be a number > 0 and <= {high}",
            zh=f"`{name}` 为 {value!r}，应为大于 0 且不超过 {high} 的数",
        )
    return float(value)


def _row(row: Mapping[Any, Any]) -> dict[str, Any]:
    out = dict(row)
    out["distance_m"] = round(float(out["distance_m"]), 1)
    out["reported_at"] = _iso(out["reported_at"])
    return out


def likely_duplicates(
    connection: Engine | Connection,
    case_id: int | None = None,
    *,
    category: str,
    lon: float | None,
    lat: float | None,
    at: dt.datetime,
    metres: float | None = None,
    days: float | None = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """Open cases a case of ``category`` at (``lon``, ``lat``) reported ``at`` may repeat.

    Parameters
    ----------
    connection:
        The database.
    case_id:
        The case asked about, when it is stored (left out of the answer).
    category:
        The category's code (``fire_safety``), as stored on cases.
    lon, lat:
        The WGS84 point; ``None`` (an unlocated case): no likely duplicates.
    at:
        When the case was reported (naive: China Standard Time).
    metres, days:
        How near and how close in time (before or after ``at``); default
        ``GRIDGIS_DUPLICATE_METRES`` (50) and ``GRIDGIS_DUPLICATE_DAYS`` (7), read now.
    limit:
        The most cases returned, 1 to :data:`MAX_DUPLICATES`.

    Returns
    -------
    list of dict
        Nearest first (then lowest id): ``id``, ``category``, ``distance_m`` (on the
        spheroid, to 0.1 m), ``reported_at``, ``relation`` (``earlier``: reported
        before ``at``, or at ``at`` with a lower id than ``case_id``: the case may repeat
        it; ``later``: it may repeat the case),
        ``step``, ``description`` and ``street_code`` (for a caller limited to a street).

    Raises
    ------
    InputError
        For a bad ``metres``, ``days``, ``limit``, ``at`` or point.

    Examples
    --------
    >>> import datetime as dt
    >>> found = likely_duplicates(
    ...     engine, category="fire_safety", lon=119.0128, lat=25.4119,
    ...     at=dt.datetime(2025, 6, 1, 9, 30),
    ... )
    """
    settings = config.settings()
    metres = _positive(metres, "metres", settings.duplicate_metres, 10_000)
    days = _positive(days, "days", settings.duplicate_days, 366)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_DUPLICATES:
        raise InputError(
            f"`limit` was {limit!r} but is expected to be a whole number from 1 to "
            f"{MAX_DUPLICATES}",
            zh=f"`limit` 为 {limit!r}，应为 1 到 {MAX_DUPLICATES} 之间的整数",
        )
    when = aware(at, field="at")
    if lon is None or lat is None:
        return []
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(
            f"`lon`/`lat` were ({lon!r}, {lat!r}) but are expected to be a WGS84 longitude "
            "and latitude",
            zh=f"`lon`/`lat` 为 ({lon!r}, {lat!r})，应为 WGS84 经度和纬度",
        )
    dy = metres / _METRES_PER_DEGREE
    dx = dy / max(math.cos(math.radians(min(abs(lat) + dy, 90.0))), 1e-6)
    params = {
        "category": category,
        "lon": float(lon),
        "lat": float(lat),
        "dx": min(dx, 360.0),
        "dy": dy,
        "metres": metres,
        "at": when,
        "window": dt.timedelta(days=days),
        # A case not yet stored comes after every stored one reported at the same time.
        "excluded": _LAST_ID if case_id is None else _check_case_id(case_id),
        "limit": limit,
    }
    # Never prepared, so planned for this point each time: prepared (psycopg does so from a
    # statement's fifth use on a connection), PostgreSQL soon keeps one plan for any point,
    # by category and date, reading every open case of the category of the last weeks (3-4
    # ms of its CPU with a few thousand, more as they grow), where the plan for the point
    # takes the few candidates from the spatial index (0.4-0.6 ms, and 0.3 ms to plan).
    with queries.reading(connection) as conn, queries.unprepared(conn):
        return [_row(r._mapping) for r in conn.execute(_NEAR, params)]


_STORED = select(
    Case.category_code,
    func.ST_X(Case.geom).label("lon"),
    func.ST_Y(Case.geom).label("lat"),
    Case.reported_at,
    _open().label("open"),
).where(Case.id == bindparam("id"))


def duplicates_of(
    connection: Engine | Connection,
    case_id: int,
    *,
    metres: float | None = None,
    days: float | None = None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    """The likely duplicates of stored case ``case_id``, both ways: the open cases it may
    repeat (``relation`` ``earlier``) and those that may repeat it (``later``).

    A finished or merged case has none (it can no longer be merged, nor merged into);
    nor has an unlocated one. Options and answer as :func:`likely_duplicates`.

    Raises
    ------
    NotFoundError
        When the case does not exist.

    Examples
    --------
    >>> [d["relation"] for d in duplicates_of(engine, 4321)]  # doctest: +SKIP
    ['later']
    """
    case_id = _check_case_id(case_id)
    with queries.connection(connection) as conn:
        row = conn.execute(_STORED, {"id": case_id}).one_or_none()
        if row is None:
            raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
        if not row.open:
            return []
        return likely_duplicates(
            conn,
            case_id,
            category=row.category_code,
            lon=row.lon,
            lat=row.lat,
            at=row.reported_at,
            metres=metres,
            days=days,
            limit=limit,
        )


_MERGED_FROM = select(Case.id).where(Case.merged_into_id == bindparam("id")).order_by(Case.id)


def merged_from(connection: Engine | Connection, case_id: int) -> list[int]:
    """The ids of the cases merged into case ``case_id`` (合并), lowest first.

    Examples
    --------
    >>> merged_from(engine, 4321)  # doctest: +SKIP
    [4330]
    """
    case_id = _check_case_id(case_id)
    with queries.connection(connection) as conn:
        return [int(i) for i in conn.execute(_MERGED_FROM, {"id": case_id}).scalars()]


_STEP_TIMES = tuple(
    f"{step}_at"
    for step in ("reported", "registered", "dispatched", "handled", "verified", "closed")
)

_LOCK = (
    select(
        Case.id,
        Case.step,
        Case.category_code,
        Case.street_code,
        Case.merged_into_id,
        *(Case.__table__.c[name] for name in _STEP_TIMES),
        Case.rejected_at,
    )
    .where(Case.id.in_([bindparam("a"), bindparam("b")]))
    .order_by(Case.id)  # locked in id order: two merges of the same pair cannot deadlock
    .with_for_update()
)
"""Both cases of a merge, locked until the transaction ends."""


def _finished_reason(record: Mapping[Any, Any], case_id: int) -> tuple[str, str] | None:
    """Why case ``case_id`` cannot take part in a merge, in English and in Chinese."""
    if record["merged_into_id"] is not None:
        return (
            f"case {case_id} was merged into case {record['merged_into_id']} already "
            f"(at {_iso(record['rejected_at'])})",
            f"事件 {case_id} 已于 {_iso(record['rejected_at'])} 合并到事件 "
            f"{record['merged_into_id']}",
        )
    step = record["step"]
    if step in _FINISHED:
        at = _iso(record[step + "_at"])
        return (
            f"case {case_id} is finished ({_step_label(step)} at {at})",
            f"事件 {case_id} 已办结（{at} {_step_zh(step)}）",
        )
    return None


def merge_cases(
    connection: Engine | Connection,
    duplicate_id: int,
    into_id: int,
    *,
    actor: str,
    note: str | None = None,
) -> dict[str, Any]:
    """Merge case ``duplicate_id`` into case ``into_id`` (合并), in one transaction.

    Both cases are locked; the duplicate gets ``merged_into_id`` and is finished as
    ``rejected`` (作废) at the time of the merge by ``actor`` (see the module's notes
    for why not 结案); both timelines get a ``merged`` entry naming the other case,
    with ``note``; the audit trail a ``merge`` row. From then on the duplicate is
    counted once, through ``into_id``.

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    duplicate_id:
        The case that repeats the other; it must be open and not merged.
    into_id:
        The case it repeats, which stays; it must be open and not merged. Its category
        may differ (a person's judgement; the lookup proposes the same category only).
    actor:
        Who merges (a person or an office); required.
    note:
        Why, for both timelines (at most :data:`MAX_NOTE_CHARS` characters).

    Returns
    -------
    dict
        The duplicate after the merge, as :func:`gridgis.cases.get_case` returns it
        (``step`` ``rejected``, ``merged_into`` ``into_id``).

    Raises
    ------
    InputError
        Merging a case into itself; an empty ``actor``; a bad ``note``.
    NotFoundError
        When either case does not exist.
    ConflictError
        When either case is finished (closed or rejected) or merged already.

    Examples
    --------
    >>> merged = merge_cases(engine, 4330, 4321, actor="镇海街道网格中心", note="同一处")
    ... # doctest: +SKIP
    >>> merged["step"], merged["merged_into"]  # doctest: +SKIP
    ('rejected', 4321)
    """
    duplicate_id, into_id = _check_case_id(duplicate_id), _check_case_id(into_id)
    if duplicate_id == into_id:
        raise InputError(
            f"case {duplicate_id} cannot be merged into itself",
            zh=f"事件 {duplicate_id} 不能合并到它自己",
        )
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(
            f"`actor` was {actor!r} but is expected to name who merges the cases",
            zh=f"`actor` 为 {actor!r}，应为合并事件的人",
        )
    actor = actor.strip()
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
        raise InputError(
            f"`note` was {note!r:.80} but is expected to be text of at most {MAX_NOTE_CHARS} "
            "characters",
            zh=f"`note` 为 {note!r:.80}，应为不超过 {MAX_NOTE_CHARS} 个字符的文字",
        )
    note = note.strip() or None if note is not None else None
    _check_texts(actor=actor, note=note)
    with queries.transaction(connection) as conn:
        rows = {r.id: r._mapping for r in conn.execute(_LOCK, {"a": duplicate_id, "b": into_id})}
        for case_id in (duplicate_id, into_id):
            if case_id not in rows:
                raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
        duplicate, into = rows[duplicate_id], rows[into_id]
        for record, case_id, role, role_zh in (
            (duplicate, duplicate_id, "merged", "被合并"),
            (into, into_id, "merged into", "作为合并目标"),
        ):
            reason = _finished_reason(record, case_id)
            if reason is not None:
                raise ConflictError(
                    f"case {duplicate_id} cannot be merged into case {into_id}: {reason[0]}; "
                    f"only an open case can be {role}",
                    zh=f"事件 {duplicate_id} 不能合并到事件 {into_id}：{reason[1]}；"
                    f"只有未办结的事件才能{role_zh}",
                )
        latest = max(duplicate[name] for name in _STEP_TIMES if duplicate[name] is not None)
        when = max(_now(), latest)  # a report stamped a little ahead of this clock
        try:
            with conn.begin_nested():
                conn.execute(
                    update(Case)
                    .where(Case.id == duplicate_id)
                    .values(merged_into_id=into_id, rejected_at=when, rejected_by=actor)
                )
        except IntegrityError as exc:
            raise _translate(exc, f"merging case {duplicate_id} into case {into_id}") from exc
        extra = f"；{note}" if note else ""
        conn.execute(
            insert(CaseEvent),
            [
                {
                    "case_id": duplicate_id,
                    "kind": "merged",
                    "at": when,
                    "actor": actor,
                    "note": f"合并到事件 {into_id}{extra}",
                },
                {
                    "case_id": into_id,
                    "kind": "merged",
                    "at": when,
                    "actor": actor,
                    "note": f"事件 {duplicate_id} 合并到此事件{extra}",
                },
            ],
        )
        audit.record(
            conn,
            actor=actor,
            action="merge",
            object_type="case",
            object_id=duplicate_id,
            before={"step": duplicate["step"], "merged_into_id": None},
            after={
                "step": "rejected",
                "merged_into_id": into_id,
                "rejected_at": when,
                "category": duplicate["category_code"],
                "into_category": into["category_code"],
                "note": note,
            },
            street_code=duplicate["street_code"],
        )
        return get_case(conn, duplicate_id)
