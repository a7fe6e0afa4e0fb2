"""Figures: closure and on-time rates per cell, community or street office."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgis.cases.base import _now, period_conditions
from gridgis.codes import LEVEL_DIGITS
from gridgis.db import queries
from gridgis.db.locate import cell_at_sql
from gridgis.errors import InputError
from gridgis.times import aware

STAT_LEVELS: tuple[str, ...] = ("cell", "community", "street")
"""The levels :func:`case_stats` groups by."""

STAT_LAYOUTS: tuple[str, ...] = ("filed", "current")
"""``filed``: the area stored on each case; ``current``: the active cell containing its point."""


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
