"""Figures: closure and on-time rates per cell, community or street office."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Float,
    Numeric,
    Select,
    cast,
    exists,
    extract,
    func,
    literal,
    select,
    true,
    type_coerce,
    union,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import aliased

from gridgis.cases.base import _now, period_clauses
from gridgis.cases.deadlines import is_closed_late, is_closed_on_time, is_overdue
from gridgis.cases.duplicates import is_merged
from gridgis.codes import LEVEL_DIGITS
from gridgis.db import queries
from gridgis.db.locate import cell_at
from gridgis.db.models import Case, Community, GridCell, Street
from gridgis.errors import InputError
from gridgis.times import aware

STAT_LEVELS: tuple[str, ...] = ("cell", "community", "street")
"""The levels :func:`case_stats` groups by."""

STAT_LAYOUTS: tuple[str, ...] = ("filed", "current")
"""``filed``: the area stored on each case; ``current``: the active cell containing its point."""


def _active() -> ColumnElement[bool]:
    return GridCell.valid_to.is_(None)


def _area_names(level: str) -> Select[*tuple[Any, ...]]:
    """Each area's name, and whether it has active cells (such areas get a row even without
    cases)."""
    if level == "cell":
        return (
            select(GridCell.code, GridCell.name, _active().label("active"))
            .ext(distinct_on(GridCell.code))
            .order_by(GridCell.code, _active().desc(), GridCell.valid_from.desc())
        )
    if level == "community":
        has_cells = exists().where(_active(), GridCell.community_code == Community.code)
        return select(Community.code, Community.name, has_cells.label("active"))
    has_cells = (
        select(GridCell.id)
        .join(Community, Community.code == GridCell.community_code)
        .where(_active(), Community.street_code == Street.code)
        .exists()
    )
    return select(Street.code, Street.name, has_cells.label("active"))


_CASE_TIMES = (Case.reported_at, Case.deadline, Case.closed_at, Case.rejected_at)
"""What the figures read of a case (besides its area)."""


def _ratio(part: ColumnElement[Any], whole: ColumnElement[Any]) -> ColumnElement[Any]:
    """``part / whole`` in floating point; NULL where ``whole`` is 0."""
    return cast(part, Float) / func.nullif(whole, 0, type_=Float)


def _stats_select(
    level: str, layout: str, period: list[ColumnElement[bool]], now: dt.datetime
) -> Select[*tuple[Any, ...]]:
    """The figures of :func:`case_stats`, one row per area (see there)."""
    if layout == "filed":
        filed = {
            "cell": GridCell.code,
            "community": Case.community_code,
            "street": Case.street_code,
        }
        areas = select(*_CASE_TIMES, filed[level].label("area_code")).outerjoin(
            GridCell, GridCell.id == Case.cell_id
        )
    else:
        cell = cell_at(Case.geom).lateral("a")
        current = func.left(cell.c.code, LEVEL_DIGITS[level])
        areas = select(*_CASE_TIMES, current.label("area_code")).outerjoin(cell, true())
    # A merged case (合并) counts once, through the case it was merged into.
    picked = areas.where(*period, ~is_merged()).cte("picked")
    times = aliased(Case, picked)  # the case times of picked, for the rules of deadlines.py
    # Hours as numeric / numeric (3600.0, one decimal): PostgreSQL's exact division, rounded
    # once, when percentile_cont takes it as a float8.
    hours_to_close = extract("epoch", picked.c.closed_at - picked.c.reported_at) / literal(
        Decimal("3600.0"), Numeric()
    )
    agg = (
        select(
            picked.c.area_code,
            func.count().label("cases"),
            func.count(picked.c.closed_at).label("closed"),
            func.count(picked.c.rejected_at).label("rejected"),
            func.count().filter(is_closed_on_time(times)).label("closed_on_time"),
            func.count().filter(is_closed_late(times)).label("closed_late"),
            func.count().filter(is_overdue(now, times)).label("overdue_open"),
            # PostgreSQL answers a float8: typed so, SQLAlchemy passes it on as it is (typed
            # numeric, it would round it to a Decimal of 10 places).
            type_coerce(func.percentile_cont(0.5).within_group(hours_to_close), Float).label(
                "median_hours_to_close"
            ),
        )
        .group_by(picked.c.area_code)
        .cte("agg")
    )
    names = _area_names(level).cte("names")
    keys = union(
        select(agg.c.area_code.label("code")), select(names.c.code).where(names.c.active)
    ).cte("keys")
    return (
        select(
            keys.c.code,
            names.c.name,
            func.coalesce(agg.c.cases, 0).label("cases"),
            func.coalesce(agg.c.closed, 0).label("closed"),
            func.coalesce(agg.c.rejected, 0).label("rejected"),
            func.coalesce(agg.c.closed_on_time, 0).label("closed_on_time"),
            func.coalesce(agg.c.closed_late, 0).label("closed_late"),
            _ratio(agg.c.closed, agg.c.cases - agg.c.rejected).label("closure_rate"),
            _ratio(agg.c.closed_on_time, agg.c.closed).label("on_time_rate"),
            func.coalesce(agg.c.overdue_open, 0).label("overdue_open"),
            agg.c.median_hours_to_close,
        )
        .select_from(keys)
        .outerjoin(agg, agg.c.area_code.is_not_distinct_from(keys.c.code))
        .outerjoin(names, names.c.code == keys.c.code)
        .order_by(keys.c.code.asc().nulls_last())
    )


_STAT_COLUMNS = (
    "code",
    "name",
    "cases",
    "closed",
    "rejected",
    "closed_on_time",
    "closed_late",
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
            Cases reported (all, rejected included; a case merged into another, 合并,
            is left out: it counts through that case).
        ``closed``, ``rejected``
            Cases closed (结案) and rejected (作废).
        ``closed_on_time``
            Cases closed no later than their deadline (按期结案).
        ``closed_late``
            Cases closed after their deadline (逾期结案). With ``closed_on_time`` it
            makes ``closed``, but for a closed case without a deadline (neither).
        ``closure_rate``
            结案率: ``closed / (cases - rejected)`` (a rejected case is not a case to close).
        ``on_time_rate``
            按期结案率: ``closed_on_time / closed``.
        ``overdue_open``
            Overdue cases (超期): open (neither closed nor rejected) and past their
            deadline at ``now``. A case closed late is not among them.
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
        raise InputError(
            f"`level` was {level!r} but is expected to be one of {list(STAT_LEVELS)}",
            zh=f"`level` 为 {level!r}，应为以下之一：{list(STAT_LEVELS)}",
        )
    if layout not in STAT_LAYOUTS:
        raise InputError(
            f"`layout` was {layout!r} but is expected to be one of {list(STAT_LAYOUTS)}",
            zh=f"`layout` 为 {layout!r}，应为以下之一：{list(STAT_LAYOUTS)}",
        )
    moment = aware(now, field="now") if now is not None else _now()
    period = period_clauses(Case.reported_at, since, until)
    with queries.connection(connection) as conn:
        rows = conn.execute(_stats_select(level, layout, period, moment)).all()
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
