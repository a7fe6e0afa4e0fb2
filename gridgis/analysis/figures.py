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
    Every case filed, rejected ones included.
``open_cases``
    Cases neither closed (结案) nor rejected (作废).
``overdue_cases``
    Open cases past their deadline at ``now`` (the overdue rule of
    :mod:`gridgis.cases`, restricted to open cases: ``overdue_open`` of
    :func:`~gridgis.cases.case_stats`).
``closed_cases``, ``closed_on_time``
    Cases closed, and those closed no later than their deadline (按期结案).
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
from sqlalchemy import Connection, Engine, text

from gridgis.cases import OVERDUE_SQL, period_conditions, resolve_categories
from gridgis.codes import LEVEL_DIGITS, LEVELS, Level, level_of, parent_code
from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.locate import cell_at_sql
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

_AREAS_SQL: dict[Level, str] = {
    "district": "SELECT code, name, CAST(NULL AS text) AS parent_code FROM district",
    "street": "SELECT code, name, district_code AS parent_code FROM street",
    "community": "SELECT code, name, street_code AS parent_code FROM community",
    "cell": (
        "SELECT code, name, community_code AS parent_code FROM grid_cell WHERE valid_to IS NULL"
    ),
}

_CASE_KEY: dict[Level, tuple[str, str]] = {
    # The area a case was filed in, and the join that gives it.
    "district": ("left(c.street_code, 6)", ""),
    "street": ("c.street_code", ""),
    "community": ("c.community_code", ""),
    "cell": ("g.code", " JOIN grid_cell g ON g.id = c.cell_id"),
}

_OPEN_SQL = "c.closed_at IS NULL AND c.rejected_at IS NULL"


def _figures_sql(level: Level, *, case_where: str, categories: list[str], detail: bool) -> str:
    digits = LEVEL_DIGITS[level]
    key, join = _CASE_KEY[level]
    per_category = "".join(
        f",\n               count(*) FILTER (WHERE c.category_code = :category_{i}) AS k{i}"
        for i in range(len(categories))
    )
    category_columns = "".join(f", coalesce(s.k{i}, 0) AS k{i}" for i in range(len(categories)))
    detail_ctes = ""
    detail_columns = ""
    detail_joins = ""
    if detail:
        detail_ctes = f""",
    building_agg AS (
        SELECT left(x.code, {digits}) AS area_code, count(*) AS buildings
        FROM building b
        CROSS JOIN LATERAL ({cell_at_sql("b.location")}) x
        WHERE b.location && (
            SELECT ST_SetSRID(CAST(ST_Extent(g.geom) AS geometry), 4326) FROM grid_cell g
            WHERE g.valid_to IS NULL AND g.code LIKE :prefix
        ) AND x.code LIKE :prefix
        GROUP BY 1
    ),
    service_agg AS (
        SELECT left(g.code, {digits}) AS area_code,
               count(DISTINCT w.worker_id) AS workers, count(DISTINCT r.branch_id) AS branches
        FROM grid_cell g
        LEFT JOIN worker_cell w ON w.cell_id = g.id
        LEFT JOIN branch_cell r ON r.cell_id = g.id
        WHERE g.valid_to IS NULL AND g.code LIKE :prefix
        GROUP BY 1
    )"""
        detail_columns = (
            ", coalesce(b.buildings, 0) AS buildings, coalesce(v.workers, 0) AS workers, "
            "coalesce(v.branches, 0) AS branches"
        )
        detail_joins = (
            "\n    LEFT JOIN building_agg b ON b.area_code = a.code"
            "\n    LEFT JOIN service_agg v ON v.area_code = a.code"
        )
    return f"""
    WITH areas AS (
        SELECT * FROM ({_AREAS_SQL[level]}) a WHERE a.code LIKE :prefix
    ),
    cell_flags AS (
        SELECT left(g.code, {digits}) AS area_code, g.households, g.residents,
               (g.households < coalesce(m.min_households, {DEFAULT_BOUNDS[0]})
                OR g.households > coalesce(m.max_households, {DEFAULT_BOUNDS[1]}))
                   AS out_of_bounds,
               EXISTS (SELECT 1 FROM worker_cell w WHERE w.cell_id = g.id) AS has_worker,
               EXISTS (SELECT 1 FROM branch_cell b WHERE b.cell_id = g.id) AS has_branch
        FROM grid_cell g JOIN community m ON m.code = g.community_code
        WHERE g.valid_to IS NULL AND g.code LIKE :prefix
    ),
    cell_agg AS (
        SELECT area_code, sum(households) AS households, sum(residents) AS residents,
               count(*) AS cells,
               count(*) FILTER (WHERE out_of_bounds) AS cells_out_of_bounds,
               count(*) FILTER (WHERE NOT has_worker) AS cells_without_worker,
               count(*) FILTER (WHERE NOT has_branch) AS cells_without_branch
        FROM cell_flags GROUP BY area_code
    ),
    case_agg AS (
        SELECT {key} AS area_code, count(*) AS cases,
               count(*) FILTER (WHERE {_OPEN_SQL}) AS open_cases,
               count(*) FILTER (WHERE {_OPEN_SQL} AND {OVERDUE_SQL}) AS overdue_cases,
               count(c.closed_at) AS closed_cases,
               count(*) FILTER (WHERE c.closed_at <= c.deadline) AS closed_on_time{per_category}
        FROM case_record c{join}
        WHERE {key} LIKE :prefix{case_where}
        GROUP BY {key}
    ){detail_ctes}
    SELECT a.code, a.name, a.parent_code,
           coalesce(k.households, 0) AS households, coalesce(k.residents, 0) AS residents,
           coalesce(k.cells, 0) AS cells,
           coalesce(k.cells_out_of_bounds, 0) AS cells_out_of_bounds,
           coalesce(k.cells_without_worker, 0) AS cells_without_worker,
           coalesce(k.cells_without_branch, 0) AS cells_without_branch,
           coalesce(s.cases, 0) AS cases, coalesce(s.open_cases, 0) AS open_cases,
           coalesce(s.overdue_cases, 0) AS overdue_cases,
           coalesce(s.closed_cases, 0) AS closed_cases,
           coalesce(s.closed_on_time, 0) AS closed_on_time,
           s.closed_on_time::float8 / nullif(s.closed_cases, 0) AS on_time_rate
           {detail_columns}{category_columns}
    FROM areas a
    LEFT JOIN cell_agg k ON k.area_code = a.code
    LEFT JOIN case_agg s ON s.area_code = a.code{detail_joins}
    ORDER BY a.code
    """


def _check_level(level: object) -> Level:
    for allowed in LEVELS:
        if level == allowed:
            return allowed
    raise InputError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")


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
    0  350304001  镇海街道        2640              8
    1  350304002  拱辰街道        2564              3
    """
    checked = _check_level(level)
    if within is not None and (
        not isinstance(within, str) or not re.fullmatch(r"[0-9]{1,15}", within)
    ):
        raise InputError(
            f"`within` was {within!r} but is expected to be an area code (1 to 15 digits)"
        )
    if not isinstance(by_category, bool) or not isinstance(detail, bool):
        raise InputError(
            f"`by_category` was {by_category!r} and `detail` {detail!r}; both are expected "
            "to be True or False"
        )
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    params: dict[str, Any] = {"prefix": (within or "") + "%", "now": moment}
    case_where = "".join(
        " AND " + c for c in period_conditions("c.reported_at", since, until, params, ordered=True)
    )
    with connection(bind) as conn:
        chosen: list[str] = []
        if category is not None:
            chosen = resolve_categories(conn, category)
            params["categories"] = chosen
            case_where += " AND c.category_code = ANY(CAST(:categories AS text[]))"
        listed: list[str] = []
        if by_category:
            listed = chosen or list(
                conn.execute(text("SELECT code FROM case_category ORDER BY code")).scalars()
            )
            params |= {f"category_{i}": code for i, code in enumerate(listed)}
        sql = _figures_sql(checked, case_where=case_where, categories=listed, detail=detail)
        rows = conn.execute(text(sql), params).all()
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
        raise NotFoundError(f"no {what} has the code {code!r}")
    return {"level": level, **records[0]}


_PATH_SQL = """
    SELECT 'district' AS level, code, name FROM district WHERE code = :district
    UNION ALL SELECT 'street', code, name FROM street WHERE code = :street
    UNION ALL SELECT 'community', code, name FROM community WHERE code = :community
    UNION ALL SELECT 'cell', code, name FROM grid_cell WHERE code = :cell AND valid_to IS NULL
"""


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
    params: dict[str, str | None] = {
        lv: parent_code(code, lv) if len(code) >= LEVEL_DIGITS[lv] else None for lv in LEVELS
    }
    with connection(bind) as conn:
        rows = conn.execute(text(_PATH_SQL), params).all()
    found = {row.level: {"level": row.level, "code": row.code, "name": row.name} for row in rows}
    return [found[lv] for lv in LEVELS[: LEVELS.index(level) + 1] if lv in found]


_SERVICE_SQL = """
    SELECT 'worker' AS kind, w.id, w.name, w.phone, w.employment AS detail,
           CAST(NULL AS int) AS member_count
    FROM grid_worker w JOIN worker_cell x ON x.worker_id = w.id
    JOIN grid_cell g ON g.id = x.cell_id
    WHERE g.code = :code AND g.valid_to IS NULL
    UNION ALL
    SELECT 'branch', b.id, b.name, NULL, b.community_code, b.member_count
    FROM party_branch b JOIN branch_cell x ON x.branch_id = b.id
    JOIN grid_cell g ON g.id = x.cell_id
    WHERE g.code = :code AND g.valid_to IS NULL
    ORDER BY kind DESC, name, id
"""


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
        raise InputError(f"`code` was {code!r} but is expected to be a 15-digit cell code")
    out: dict[str, list[dict[str, Any]]] = {"workers": [], "branches": []}
    with connection(bind) as conn:
        for row in conn.execute(text(_SERVICE_SQL), {"code": code}):
            if row.kind == "worker":
                out["workers"].append(
                    {"id": row.id, "name": row.name, "phone": row.phone, "employment": row.detail}
                )
            else:
                out["branches"].append(
                    {"id": row.id, "name": row.name, "member_count": int(row.member_count)}
                )
    return out
