"""Reading cases: one case or a filtered page of them, as JSON-ready dicts."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Select,
    Text,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors

from gridgis import paging
from gridgis.cases.base import (
    STEPS,
    _check_case_id,
    _check_step,
    _iso,
    _now,
    _period,
    _some,
)
from gridgis.cases.categories import resolve_categories
from gridgis.cases.deadlines import is_closed_late, is_overdue
from gridgis.codes import check_code, level_of
from gridgis.db import queries
from gridgis.db.models import Case, CaseCategory, Department, GridCell
from gridgis.errors import InputError, NotFoundError
from gridgis.paging import check_page

MAX_LIMIT = paging.MAX_LIMIT
"""The most cases :func:`list_cases` returns at once (:data:`gridgis.paging.MAX_LIMIT`)."""


_NOW: BindParameter[dt.datetime] = bindparam("now")
"""The time a case is judged overdue at (bound when the select runs)."""


def _case_select() -> Select[Any]:
    """Cases as :func:`get_case` gives them (a select to filter and order), overdue at ``:now``."""
    steps = Case.__table__.c
    return (
        select(
            Case.id,
            Case.external_id,
            Case.category_code.label("category"),
            CaseCategory.name_zh.label("category_name"),
            Case.description,
            Case.source,
            Case.address,
            func.ST_X(Case.geom).label("lon"),
            func.ST_Y(Case.geom).label("lat"),
            Case.raw_x,
            Case.raw_y,
            Case.raw_crs,
            Case.located_by,
            Case.location_flag,
            Case.building_id,
            Case.match_score,
            GridCell.code.label("cell_code"),
            Case.community_code,
            Case.street_code,
            Case.step,
            Case.deadline,
            is_overdue(_NOW).label("overdue"),
            is_closed_late().label("closed_late"),
            *(steps[f"{step}_{what}"] for step in STEPS for what in ("at", "by")),
            Case.department_code,
            Department.name.label("department_name"),
            Case.assignee,
            Case.escalated_at,
            Case.escalated_by,
            Case.merged_into_id.label("merged_into"),
        )
        .join(CaseCategory, CaseCategory.code == Case.category_code)
        .outerjoin(GridCell, GridCell.id == Case.cell_id)
        .outerjoin(Department, Department.code == Case.department_code)
    )


_CASES = _case_select()
_CASE_BY_ID = _CASES.where(Case.id == bindparam("id"))
_AWARE = DateTime(timezone=True)
_CELLS = aliased(GridCell)
"""The cells a worker's filter looks its codes up in (not the listing's own join)."""
_FILTERS: dict[str, ColumnElement[bool]] = {
    "street": Case.street_code == bindparam("street"),
    "community": Case.community_code == bindparam("community"),
    "cell": GridCell.code == bindparam("cell"),
    "steps": Case.step == any_(bindparam("steps", type_=ARRAY(Text))),
    "overdue": is_overdue(_NOW) == bindparam("overdue", type_=Boolean),
    "closed_late": is_closed_late() == bindparam("closed_late", type_=Boolean),
    "since": Case.reported_at >= bindparam("since", type_=_AWARE),
    "until": Case.reported_at < bindparam("until", type_=_AWARE),
    "categories": Case.category_code == any_(bindparam("categories", type_=ARRAY(Text))),
    "department": Case.department_code == bindparam("department"),
    "assignee": Case.assignee == bindparam("assignee"),
    "escalated": Case.escalated_at.is_not(None) == bindparam("escalated", type_=Boolean),
    # A worker's cells (every version of each) as ids looked up once, not a LIKE per case:
    # the newest cases are then read in order and kept while they match.
    "within": or_(
        Case.cell_id.in_(
            select(_CELLS.id).where(_CELLS.code.like(any_(bindparam("within", type_=ARRAY(Text)))))
        ),
        Case.community_code.like(any_(bindparam("within", type_=ARRAY(Text)))),
        Case.reported_by == bindparam("within_reporter", type_=Text),
    ),
    # Each column by itself: the planner then knows from their statistics how common the
    # words are, and reads the newest cases in order while they match (a common word's
    # first page in a few milliseconds); a word no case has is a scan of every case.
    "text": or_(
        Case.description.ilike(bindparam("text")),
        Case.address.ilike(bindparam("text")),
        Case.external_id == bindparam("text_exact"),
    ),
}
"""The filters of :func:`list_cases`, each with the parameter it binds."""


ORDERS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "newest": (Case.reported_at.desc(), Case.id.desc()),
    "oldest": (Case.reported_at.asc(), Case.id.asc()),
    "deadline": (Case.deadline.asc().nulls_last(), Case.id.asc()),
    "id": (Case.id.desc(),),
}
"""The orders :func:`list_cases` can list cases in: newest report first (the default),
oldest first, nearest deadline first, highest id first."""


@functools.lru_cache(maxsize=len(ORDERS) * 2 ** len(_FILTERS))
def _listing(filters: tuple[str, ...], order: str = "newest") -> Select[Any]:
    """The select of :func:`list_cases` with ``filters`` (keys of :data:`_FILTERS`).

    Made once per combination: SQLAlchemy then finds its compiled form by the statement
    itself, instead of working out afresh how a new statement's columns match it (about
    half a millisecond for these 36 columns).
    """
    return (
        _CASES.where(*(_FILTERS[name] for name in filters))
        .order_by(*ORDERS[order])
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


def _check_code(value: str | None, level: str) -> str | None:
    return None if value is None else check_code(value, level)


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
    out["closed_late"] = bool(out["closed_late"])
    return out


def get_case(connection: Engine | Connection, case_id: int) -> dict[str, Any]:
    """One case as a JSON-ready dict (times as ISO 8601 at +08:00).

    Keys: ``id``, ``external_id``, ``category``, ``category_name``,
    ``description``, ``source``, ``address``, ``lon``, ``lat``, ``raw_x``,
    ``raw_y``, ``raw_crs``, ``located_by``, ``location_flag``, ``building_id``,
    ``match_score``, ``cell_code``, ``community_code``, ``street_code``,
    ``step``, ``deadline``, ``overdue`` (超期: open and past the deadline now),
    ``closed_late`` (逾期结案: closed after the deadline), ``<step>_at`` /
    ``<step>_by`` for reported, registered, dispatched, handled, verified, closed,
    rejected, and ``merged_into``: the case it was merged into (合并; it is then
    ``rejected`` at the merge, see :mod:`gridgis.cases.duplicates`), else ``None``.

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
        row = conn.execute(_CASE_BY_ID, {"id": case_id, "now": _now()}).one_or_none()
    if row is None:
        raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
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
    closed_late: bool | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    department: str | None = None,
    assignee: str | None = None,
    escalated: bool | None = None,
    within: Sequence[str] | None = None,
    within_reporter: str | None = None,
    text: str | None = None,
    order: str = "newest",
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
        Only overdue cases (超期: open and past their deadline now; ``True``) or only
        those that are not (``False``).
    closed_late:
        Only cases closed after their deadline (逾期结案; ``True``) or only those that
        are not (``False``).
    since, until:
        Reported at or after ``since`` and before ``until``.
    department, assignee:
        Dispatched to this department (code) or person.
    escalated:
        Only escalated cases (督办; ``True``) or only those that are not (``False``).
    within, within_reporter:
        Only cases in one of these cells or communities (codes, or code prefixes), or
        reported by ``within_reporter``: what a grid worker sees.
    text:
        Words in the description or address (any case), or the external id.
    order:
        One of :data:`ORDERS`: ``newest`` report first (default), ``oldest``,
        ``deadline`` (nearest first, cases without one last) or ``id`` (highest first).
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
    [4999, 3168, 4582]
    >>> open_ones = list_cases(engine, step=["reported", "registered"], category=["消防安全",
    ...                        "dispute"])
    """
    limit, offset = check_page(limit, offset, max_limit=MAX_LIMIT)
    if order not in ORDERS:
        raise InputError(
            f"`order` was {order!r} but is expected to be one of {list(ORDERS)}",
            zh=f"`order` 为 {order!r}，应为以下之一：{list(ORDERS)}",
        )
    filters = {
        "street": street,
        "community": community,
        "cell": cell,
        "category": category,
        "step": step,
        "overdue": overdue,
        "closed_late": closed_late,
        "since": since,
        "until": until,
        "department": department,
        "assignee": assignee,
        "escalated": escalated,
        "within": within,
        "within_reporter": within_reporter,
        "text": text,
    }
    with queries.connection(connection) as conn:
        params = _case_params(conn, filters) | {"limit": limit, "offset": offset}
        chosen = _listing(tuple(name for name in _FILTERS if params.get(name) is not None), order)
        return [_record(r._mapping) for r in conn.execute(chosen, params)]


def _case_params(conn: Connection, filters: Mapping[str, Any]) -> dict[str, Any]:
    """The bound parameters of the filters of :func:`list_cases` (checked; ``now`` too)."""
    known = {
        "street", "community", "cell", "category", "step", "overdue", "closed_late", "since",
        "until", "department", "assignee", "escalated", "within", "within_reporter", "text",
    }  # fmt: skip
    unknown = sorted(set(filters) - known)
    if unknown:
        raise InputError(
            f"unknown case filters {unknown}; expected some of {sorted(known)}",
            zh=f"未知的事件筛选条件 {unknown}；可用的有 {sorted(known)}",
        )
    for name in ("overdue", "closed_late", "escalated"):
        flag = filters.get(name)
        if flag is not None and not isinstance(flag, bool):
            raise InputError(
                f"`{name}` was {flag!r} but is expected to be True, False or None",
                zh=f"`{name}` 为 {flag!r}，应为 True、False 或 None",
            )
    params: dict[str, Any] = {"now": _now()}
    for level in ("street", "community", "cell"):
        if _check_code(filters.get(level), level) is not None:
            params[level] = filters[level]
    if filters.get("step") is not None:
        params["steps"] = [_check_step(s) for s in _some(filters["step"], "step")]
    for name in ("overdue", "closed_late", "department", "assignee", "escalated"):
        if filters.get(name) is not None:
            params[name] = filters[name]
    params["since"], params["until"] = _period(
        filters.get("since"), filters.get("until"), ordered=False
    )
    within = filters.get("within")
    if within is not None:
        params["within"] = [f"{code}%" for code in within if level_of(code)]
        params["within_reporter"] = filters.get("within_reporter")
    text = filters.get("text")
    if text is not None and text.strip():
        words = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["text"], params["text_exact"] = f"%{words}%", text.strip()
    if filters.get("category") is not None:
        params["categories"] = resolve_categories(conn, filters["category"])
    return params


_Clause = TypeVar("_Clause", Select[Any], ColumnElement[bool])


def _bound(statement: _Clause, params: Mapping[str, Any], suffix: str) -> _Clause:
    """``statement`` with each bound parameter renamed with ``suffix`` and given its value
    from ``params``: several lists' filters (the same names, other values) in one query."""

    def rename(element: Any, **kw: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in params:
            return bindparam(element.key + suffix, value=params[element.key], type_=element.type)
        return None

    renamed: _Clause = visitors.replacement_traverse(cast(Any, statement), {}, rename)
    return renamed


def case_conditions(
    connection: Engine | Connection, filters: Mapping[str, Any]
) -> list[ColumnElement[bool]]:
    """The conditions of :func:`list_cases`'s ``filters`` with their values bound, for
    another query over ``case_record`` (outer-joined to ``grid_cell`` on the case's cell):
    an export of exactly the cases a list shows.

    Raises
    ------
    InputError, NotFoundError
        As :func:`list_cases` for a bad or unknown filter.
    """
    with queries.connection(connection) as conn:
        params = _case_params(conn, filters)
    used = [key for key in _FILTERS if params.get(key) is not None]
    return [_bound(_FILTERS[key], params, "_filter") for key in used]


def count_cases(
    connection: Engine | Connection, lists: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """How many cases each of several lists holds, in one query.

    Parameters
    ----------
    connection:
        The database.
    lists:
        A name for each list, and its filters: keyword arguments of :func:`list_cases`
        (without ``order``, ``limit`` and ``offset``).

    Returns
    -------
    dict
        The number of cases of each list, by name (0 for no lists at all).

    Examples
    --------
    >>> count_cases(engine, {"open": {"step": ["reported", "registered"]},
    ...                      "late": {"overdue": True}})  # doctest: +SKIP
    {'open': 12, 'late': 3}
    """
    if not lists:
        return {}
    with queries.connection(connection) as conn:
        counts = []
        for n, (name, filters) in enumerate(lists.items()):
            params = _case_params(conn, filters)
            used = tuple(key for key in _FILTERS if params.get(key) is not None)
            counting = select(func.count()).select_from(
                _CASES.where(*(_FILTERS[key] for key in used)).subquery()
            )
            counts.append(_bound(counting, params, f"_{n}").scalar_subquery().label(name))
        row = conn.execute(select(*counts)).one()
    return {name: int(row._mapping[name]) for name in lists}
