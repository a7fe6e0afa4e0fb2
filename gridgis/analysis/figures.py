"""Key figures of districts, streets, communities and cells (概览的关键指标).

One row per area: its households and residents, its active cells and how
many break the household bounds or lack a grid worker or a party branch, and
its cases: open, overdue, closed and the share closed on time (按期结案率).
The overview pages drill down with them (district → street → community →
cell) and per-cell exports build on them.

How each figure is counted
--------------------------
Households, residents and the cell counts come from the **active** cells
(``grid_cell.valid_to IS NULL``) whose code starts with the area's code, so
the figures of an area are the sums of those of its children.

``cells_out_of_bounds``
    Active cells whose households are outside their community's bounds
    (``min_households`` / ``max_households``, default
    :data:`gridgis.db.layout.DEFAULT_BOUNDS`), as the cell tiles flag them
    (:mod:`gridgis.db.tiles`).
``cells_without_worker``, ``cells_without_branch``
    Active cells that no grid worker (``worker_cell``) or no party branch
    (``branch_cell``) serves (一格一员, 一网格一支部).

Cases count in the area they were **filed** in (as
:func:`gridgis.cases.case_stats` with ``layout="filed"``): a cell's cases are
those filed in any version of the cell with its code; a community's or a
street's are those stored with its code; a district's those whose street is
in it. A case filed in a street but in no cell (a gap) counts in the street
and the district but in no community or cell, so only for the cell counts are
parents the exact sums of their children.

``cases``
    Every case filed, rejected ones included. In every case figure, a case merged
    into another (合并, :func:`gridgis.cases.is_merged`) is left out: it is counted
    once, through the case it was merged into.
``open_cases``
    Cases neither closed (结案) nor rejected (作废).
``overdue_cases``
    超期: open cases past their deadline at ``now`` (:func:`gridgis.cases.is_overdue`;
    ``overdue_open`` of :func:`~gridgis.cases.case_stats`).
``closed_cases``, ``closed_on_time``, ``closed_late``
    Cases closed, those closed no later than their deadline (按期结案), and those
    closed after it (逾期结案, :func:`gridgis.cases.is_closed_late`).
``on_time_rate``
    按期结案率: ``closed_on_time / closed_cases``; NaN in a frame (``None`` in
    :func:`figure_records` and :func:`area_total`) when nothing was closed.

Options of :func:`area_figures` (the per-area statistics and the exports use them)
-------------------------------------------------------------------------------------
``since``, ``until``, ``category``
    Only the cases reported in ``[since, until)`` and of these categories
    count in every case figure (open and overdue then mean: of the cases
    reported in the period, those open, or open past their deadline, at ``now``).
``by_category``
    Adds ``cases_<category code>`` (cases filed, per category).
``detail``
    Adds the columns of :data:`DETAIL_COLUMNS`:

    ``buildings``
        Buildings whose point lies in an active cell of the area (a point on a
        boundary that several cells share goes to the smallest code, so
        parents are the sums of their cells).
    ``workers``, ``branches``
        Distinct grid workers and party branches serving the area's active
        cells (a worker of two cells counts once in their community, so these
        are *not* the sums of the children).

Every function reads with one SQL statement: about 0.1 s for a district of
800 cells and 100,000 cases (about 0.5 s more with ``detail``, which places
every building in its cell).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
from geoalchemy2 import Geometry
from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Connection,
    Engine,
    Integer,
    Select,
    Text,
    and_,
    any_,
    cast,
    distinct,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.orm import QueryableAttribute

from gridgis.cases import (
    is_closed_late,
    is_closed_on_time,
    is_merged,
    is_overdue,
    period_clauses,
    resolve_categories,
)
from gridgis.codes import LEVEL_DIGITS, LEVEL_ZH, LEVELS, Level, level_of, parent_code
from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.locate import cell_at
from gridgis.db.models import (
    BranchCell,
    Building,
    Case,
    CaseCategory,
    Community,
    District,
    GridCell,
    GridWorker,
    PartyBranch,
    Street,
    WorkerCell,
)
from gridgis.db.queries import connection
from gridgis.errors import InputError, NotFoundError
from gridgis.times import aware

__all__ = [
    "COUNT_COLUMNS",
    "DETAIL_COLUMNS",
    "FIGURE_COLUMNS",
    "area_figures",
    "area_path",
    "area_total",
    "cell_service",
    "child_level",
    "figure_records",
    "level_of",
]

COUNT_COLUMNS: tuple[str, ...] = (
    "households",
    "residents",
    "cells",
    "cells_out_of_bounds",
    "cells_without_worker",
    "cells_without_branch",
    "cases",
    "open_cases",
    "overdue_cases",
    "closed_cases",
    "closed_on_time",
    "closed_late",
)
"""The figures that are counts (whole numbers, 0 when there is nothing)."""

FIGURE_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "parent_code",
    *COUNT_COLUMNS,
    "on_time_rate",
)
"""The columns of :func:`area_figures`, in order."""

DETAIL_COLUMNS: tuple[str, ...] = ("buildings", "workers", "branches")
"""The counts :func:`area_figures` adds with ``detail=True`` (after :data:`FIGURE_COLUMNS`)."""

_GEOMETRY = Geometry(geometry_type=None, srid=-1)
"""PostGIS's ``geometry``, with no type or SRID (the type of a cast)."""


def _areas(level: Level, prefix: str) -> Select[*tuple[Any, ...]]:
    """``code``, ``name``, ``parent_code`` of the areas of ``level`` whose code is like
    ``prefix`` (active cells only)."""
    if level == "district":
        return select(District.code, District.name, cast(null(), Text).label("parent_code")).where(
            District.code.like(prefix)
        )
    if level == "street":
        return select(Street.code, Street.name, Street.district_code.label("parent_code")).where(
            Street.code.like(prefix)
        )
    if level == "community":
        return select(
            Community.code, Community.name, Community.street_code.label("parent_code")
        ).where(Community.code.like(prefix))
    return select(GridCell.code, GridCell.name, GridCell.community_code.label("parent_code")).where(
        GridCell.valid_to.is_(None), GridCell.code.like(prefix)
    )


def _case_area(level: Level) -> ColumnElement[Any] | QueryableAttribute[Any]:
    """The code of the area of ``level`` a case was filed in (a cell's needs its cell joined)."""
    if level == "district":
        return func.left(Case.street_code, 6)
    if level == "street":
        return Case.street_code
    if level == "community":
        return Case.community_code
    return GridCell.code


def _figures_select(
    level: Level,
    *,
    prefix: str,
    now: dt.datetime,
    case_where: list[ColumnElement[bool]],
    categories: list[str],
    detail: bool,
) -> Select[*tuple[Any, ...]]:
    """One statement answering every figure of the areas of ``level`` whose code is like
    ``prefix``: the areas, then per area the aggregates of its active cells and of its
    cases (and with ``detail`` of its buildings and services), each a CTE joined by code."""
    digits = LEVEL_DIGITS[level]
    active = (GridCell.valid_to.is_(None), GridCell.code.like(prefix))
    areas = _areas(level, prefix).cte("areas")

    lo, hi = DEFAULT_BOUNDS
    cell_flags = (
        select(
            func.left(GridCell.code, digits).label("area_code"),
            GridCell.households,
            GridCell.residents,
            or_(
                GridCell.households < func.coalesce(Community.min_households, lo),
                GridCell.households > func.coalesce(Community.max_households, hi),
            ).label("out_of_bounds"),
            exists().where(WorkerCell.cell_id == GridCell.id).label("has_worker"),
            exists().where(BranchCell.cell_id == GridCell.id).label("has_branch"),
        )
        .join_from(GridCell, Community, Community.code == GridCell.community_code)
        .where(*active)
        .cte("cell_flags")
    )
    flags = cell_flags.c
    cell_agg = (
        select(
            flags.area_code,
            func.sum(flags.households).label("households"),
            func.sum(flags.residents).label("residents"),
            func.count().label("cells"),
            func.count().filter(flags.out_of_bounds).label("cells_out_of_bounds"),
            func.count().filter(not_(flags.has_worker)).label("cells_without_worker"),
            func.count().filter(not_(flags.has_branch)).label("cells_without_branch"),
        )
        .group_by(flags.area_code)
        .cte("cell_agg")
    )

    key = _case_area(level)
    still_open = and_(Case.closed_at.is_(None), Case.rejected_at.is_(None))
    case_agg = select(
        key.label("area_code"),
        func.count().label("cases"),
        func.count().filter(still_open).label("open_cases"),
        func.count().filter(is_overdue(now)).label("overdue_cases"),  # open ones only
        func.count(Case.closed_at).label("closed_cases"),
        func.count().filter(is_closed_on_time()).label("closed_on_time"),
        func.count().filter(is_closed_late()).label("closed_late"),
        *(
            func.count().filter(Case.category_code == code).label(f"k{i}")
            for i, code in enumerate(categories)
        ),
    ).select_from(Case)
    if level == "cell":
        case_agg = case_agg.join(GridCell, GridCell.id == Case.cell_id)
    counted = ~is_merged()  # a merged case (合并) counts once, through the case it joined
    case_agg_cte = (
        case_agg.where(key.like(prefix), counted, *case_where).group_by(key).cte("case_agg")
    )

    k, c = cell_agg.c, case_agg_cte.c
    columns: list[ColumnElement[Any]] = [
        areas.c.code,
        areas.c.name,
        areas.c.parent_code,
        *(
            func.coalesce(k[name], 0).label(name)
            for name in (
                "households",
                "residents",
                "cells",
                "cells_out_of_bounds",
                "cells_without_worker",
                "cells_without_branch",
            )
        ),
        *(
            func.coalesce(c[name], 0).label(name)
            for name in (
                "cases",
                "open_cases",
                "overdue_cases",
                "closed_cases",
                "closed_on_time",
                "closed_late",
            )
        ),
        (
            cast(c.closed_on_time, DOUBLE_PRECISION)
            / cast(func.nullif(c.closed_cases, 0), DOUBLE_PRECISION)
        ).label("on_time_rate"),
    ]
    query = (
        select()
        .select_from(areas)
        .outerjoin(cell_agg, k.area_code == areas.c.code)
        .outerjoin(case_agg_cte, c.area_code == areas.c.code)
    )
    if detail:
        building_agg, service_agg = _detail_ctes(digits, active, prefix)
        b, v = building_agg.c, service_agg.c
        columns += [
            func.coalesce(b.buildings, 0).label("buildings"),
            func.coalesce(v.workers, 0).label("workers"),
            func.coalesce(v.branches, 0).label("branches"),
        ]
        query = query.outerjoin(building_agg, b.area_code == areas.c.code).outerjoin(
            service_agg, v.area_code == areas.c.code
        )
    columns += [func.coalesce(c[f"k{i}"], 0).label(f"k{i}") for i in range(len(categories))]
    return query.add_columns(*columns).order_by(areas.c.code)


def _detail_ctes(
    digits: int, active: tuple[ColumnElement[bool], ...], prefix: str
) -> tuple[CTE, CTE]:
    """Per area: its buildings (each in the active cell holding its point, by
    :func:`gridgis.db.locate.cell_at`), and the distinct workers and branches of its cells."""
    cell = cell_at(Building.location).lateral("x")
    extent = (
        select(func.ST_SetSRID(cast(func.ST_Extent(GridCell.geom), _GEOMETRY), 4326))
        .where(*active)
        .scalar_subquery()
    )
    area_code = func.left(cell.c.code, digits)
    building_agg = (
        select(area_code.label("area_code"), func.count().label("buildings"))
        .select_from(Building)
        .join(cell, true())
        .where(Building.location.intersects(extent), cell.c.code.like(prefix))
        .group_by(area_code)
        .cte("building_agg")
    )
    cell_area = func.left(GridCell.code, digits)
    service_agg = (
        select(
            cell_area.label("area_code"),
            func.count(distinct(WorkerCell.worker_id)).label("workers"),
            func.count(distinct(BranchCell.branch_id)).label("branches"),
        )
        .select_from(GridCell)
        .outerjoin(WorkerCell, WorkerCell.cell_id == GridCell.id)
        .outerjoin(BranchCell, BranchCell.cell_id == GridCell.id)
        .where(*active)
        .group_by(cell_area)
        .cte("service_agg")
    )
    return building_agg, service_agg


def _check_level(level: object) -> Level:
    for allowed in LEVELS:
        if level == allowed:
            return allowed
    raise InputError(
        f"`level` was {level!r} but is expected to be one of {list(LEVELS)}",
        zh=f"`level` 为 {level!r}，应为 {list(LEVELS)} 之一",
    )


def child_level(level: str) -> Level | None:
    """The level below ``level`` (``None`` below a cell).

    Examples
    --------
    >>> child_level("street"), child_level("cell")
    ('community', None)
    """
    index = LEVELS.index(_check_level(level))
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def area_figures(
    bind: Engine | Connection,
    level: str,
    *,
    within: str | None = None,
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    category: str | Sequence[str] | None = None,
    by_category: bool = False,
    detail: bool = False,
) -> pd.DataFrame:
    """The key figures of every area of ``level`` whose code starts with ``within``.

    Parameters
    ----------
    bind:
        The database, or a connection to read inside its transaction.
    level:
        ``"district"``, ``"street"``, ``"community"`` or ``"cell"`` (active cells).
    within:
        Only areas whose code starts with this code (1 to 15 digits), e.g. the
        communities of a street: ``level="community", within="350304001"``;
        ``None``: every area of ``level``.
    now:
        The time open cases are judged overdue at (default now; naive means
        China Standard Time).
    since, until:
        Only cases reported at or after ``since`` and before ``until``.
    category:
        Only cases of this category (code or Chinese name) or these categories.
    by_category:
        Add ``cases_<code>`` per category (those of ``category``, else every
        category, by code).
    detail:
        Add ``buildings``, ``workers`` and ``branches`` (:data:`DETAIL_COLUMNS`).

    Returns
    -------
    pandas.DataFrame
        One row per area, by code, with the columns of :data:`FIGURE_COLUMNS`
        (see the module's docstring for how each is counted), then those of
        ``detail`` and ``by_category``. Counts are int64; ``on_time_rate`` is
        float64, NaN where nothing was closed; ``name`` may be ``None`` for a cell.

    Raises
    ------
    InputError
        When ``level`` or ``within`` is not one of those allowed.

    Examples
    --------
    >>> streets = area_figures(engine, "street", within="350304")
    >>> streets[["code", "name", "households", "overdue_cases"]].head(2)
            code  name  households  overdue_cases
    0  350304001  镇海街道        2640              9
    1  350304002  拱辰街道        2564              5
    """
    checked = _check_level(level)
    if within is not None and (
        not isinstance(within, str) or not re.fullmatch(r"[0-9]{1,15}", within)
    ):
        raise InputError(
            f"`within` was {within!r} but is expected to be an area code (1 to 15 digits)",
            zh=f"`within` 为 {within!r}，应为区域编码（1 到 15 位数字）",
        )
    if not isinstance(by_category, bool) or not isinstance(detail, bool):
        raise InputError(
            f"`by_category` was {by_category!r} and `detail` {detail!r}; both are expected "
            "to be True or False",
            zh=f"`by_category` 为 {by_category!r}，`detail` 为 {detail!r}；两者都应为 True 或 "
            "False",
        )
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    case_where = period_clauses(Case.reported_at, since, until, ordered=True)
    with connection(bind) as conn:
        chosen: list[str] = []
        if category is not None:
            chosen = resolve_categories(conn, category)
            case_where.append(Case.category_code == any_(literal(chosen, ARRAY(Text))))
        listed: list[str] = []
        if by_category:
            listed = chosen or list(
                conn.execute(select(CaseCategory.code).order_by(CaseCategory.code)).scalars()
            )
        query = _figures_select(
            checked,
            prefix=(within or "") + "%",
            now=moment,
            case_where=case_where,
            categories=listed,
            detail=detail,
        )
        rows = conn.execute(query).all()
    names = [
        *FIGURE_COLUMNS,
        *(DETAIL_COLUMNS if detail else ()),
        *(f"cases_{code}" for code in listed),
    ]
    columns: dict[str, pd.Series] = {}
    for i, column in enumerate(names):
        values = [row[i] for row in rows]
        if column == "on_time_rate":
            columns[column] = pd.Series(values, dtype="float64")
        elif column in ("code", "name", "parent_code"):
            columns[column] = pd.Series(values, dtype=object)
        else:
            columns[column] = pd.Series(values, dtype="int64")
    return pd.DataFrame(columns)


def figure_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of an :func:`area_figures` frame as JSON-ready dicts.

    Counts are ``int``, ``on_time_rate`` a ``float`` or ``None`` (nothing closed).

    Examples
    --------
    >>> round(figure_records(area_figures(engine, "district"))[0]["on_time_rate"], 3)
    0.891
    """
    records: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        record: dict[str, Any] = {}
        for key, value in row.items():
            if key in COUNT_COLUMNS:
                record[str(key)] = int(value)
            elif isinstance(value, float) and math.isnan(value):
                record[str(key)] = None
            else:
                record[str(key)] = value
        records.append(record)
    return records


def area_total(
    bind: Engine | Connection, code: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The key figures of one area (a district, street, community or active cell).

    Parameters
    ----------
    bind:
        The database.
    code:
        The area's code; its length gives its level (:func:`level_of`).
    now:
        The time open cases are judged overdue at (default now).

    Returns
    -------
    dict
        ``level`` and the columns of :data:`FIGURE_COLUMNS` as
        :func:`figure_records` gives them (``on_time_rate`` ``None`` when
        nothing was closed).

    Raises
    ------
    InputError
        When ``code`` is not an area code.
    NotFoundError
        When no area (no active cell) has this code.

    Examples
    --------
    >>> area_total(engine, "350304001")["cells"]
    11
    """
    level = level_of(code)
    records = figure_records(area_figures(bind, level, within=code, now=now))
    if not records:
        what = "active cell" if level == "cell" else level
        raise NotFoundError(
            f"no {what} has the code {code!r}",
            zh=f"没有编码为 {code!r} 的"
            f"{'现行网格' if level == 'cell' else LEVEL_ZH.get(level, level)}",
        )
    return {"level": level, **records[0]}


def area_path(bind: Engine | Connection, code: str) -> list[dict[str, Any]]:
    """The area with this code and those above it, district first (for a breadcrumb).

    Returns
    -------
    list of dict
        ``level``, ``code``, ``name`` of each stored area on the way from the
        district down to ``code``; an area missing from the database is left out,
        so the last entry is the area itself only when it exists.

    Raises
    ------
    InputError
        When ``code`` is not an area code.

    Examples
    --------
    >>> [a["name"] for a in area_path(engine, "350304001007")]
    ['荔城区', '镇海街道', '阔口社区居委会']
    """
    level = level_of(code)
    levels = LEVELS[: LEVELS.index(level) + 1]
    parts = {
        "district": select(literal("district").label("level"), District.code, District.name),
        "street": select(literal("street"), Street.code, Street.name),
        "community": select(literal("community"), Community.code, Community.name),
        "cell": select(literal("cell"), GridCell.code, GridCell.name).where(
            GridCell.valid_to.is_(None)
        ),
    }
    codes = {"district": District.code, "street": Street.code, "community": Community.code}
    path = union_all(
        *(parts[lv].where(codes.get(lv, GridCell.code) == parent_code(code, lv)) for lv in levels)
    )
    with connection(bind) as conn:
        rows = conn.execute(path).all()
    found = {row.level: {"level": row.level, "code": row.code, "name": row.name} for row in rows}
    return [found[lv] for lv in levels if lv in found]


def _service_select(code: str) -> CompoundSelect[*tuple[Any, ...]]:
    """The workers and party branches serving the active cell ``code``, workers first, each
    by name: ``kind``, ``id``, ``name``, ``phone``, ``detail`` (employment), ``member_count``."""
    in_cell = (GridCell.code == code, GridCell.valid_to.is_(None))
    workers = (
        select(
            literal("worker").label("kind"),
            GridWorker.id,
            GridWorker.name,
            GridWorker.phone,
            GridWorker.employment.label("detail"),
            cast(null(), Integer).label("member_count"),
        )
        .join_from(GridWorker, WorkerCell, WorkerCell.worker_id == GridWorker.id)
        .join(GridCell, GridCell.id == WorkerCell.cell_id)
        .where(*in_cell)
    )
    branches = (
        select(
            literal("branch"),
            PartyBranch.id,
            PartyBranch.name,
            null(),
            PartyBranch.community_code,
            PartyBranch.member_count,
        )
        .join_from(PartyBranch, BranchCell, BranchCell.branch_id == PartyBranch.id)
        .join(GridCell, GridCell.id == BranchCell.cell_id)
        .where(*in_cell)
    )
    both: CompoundSelect[*tuple[Any, ...]] = union_all(workers, branches)
    named = both.selected_columns
    return both.order_by(named.kind.desc(), named.name, named.id)


def cell_service(bind: Engine | Connection, code: str) -> dict[str, list[dict[str, Any]]]:
    """Who serves an active cell: its grid workers (网格员) and party branches (党支部).

    Returns
    -------
    dict
        ``workers``: ``id``, ``name``, ``phone``, ``employment`` (``full_time`` or
        ``part_time``); ``branches``: ``id``, ``name``, ``member_count``; each by name.

    Raises
    ------
    InputError
        When ``code`` is not a 15-digit cell code.

    Examples
    --------
    >>> cell_service(engine, "350304001001001")["workers"][0]["employment"]
    'full_time'
    """
    if level_of(code) != "cell":
        raise InputError(
            f"`code` was {code!r} but is expected to be a 15-digit cell code",
            zh=f"`code` 为 {code!r}，应为 15 位网格编码",
        )
    out: dict[str, list[dict[str, Any]]] = {"workers": [], "branches": []}
    with connection(bind) as conn:
        for row in conn.execute(_service_select(code)):
            if row.kind == "worker":
                out["workers"].append(
                    {"id": row.id, "name": row.name, "phone": row.phone, "employment": row.detail}
                )
            else:
                out["branches"].append(
                    {"id": row.id, "name": row.name, "member_count": int(row.member_count)}
                )
    return out
