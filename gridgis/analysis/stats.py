"""Per-area statistics: one row per cell, community or street office, with its polygon.

What the analysts export (``gridgis export stats``) and what the per-cell
tables of the notebooks show. Nothing is computed here that is computed
elsewhere; this module puts together, for each area:

- the key figures of :func:`gridgis.analysis.figures.area_figures` (with
  ``detail`` and ``by_category``): households, residents, buildings, cells,
  workers, branches, cases in the period (in total and per category), open,
  overdue, closed, closed on time and 按期结案率;
- the cases per 1,000 households
  (:func:`gridgis.analysis.density.rate_per_1000`);
- the inspections in the period and the last one
  (:func:`gridgis.analysis.density.inspection_recency`);
- the hotspot class of the area among the areas of its level
  (:func:`gridgis.analysis.hotspots.hotspots`, Getis-Ord Gi* on the rate,
  queen contiguity, Benjamini–Hochberg).

How each column is counted
--------------------------
``code``, ``name``, ``community_code``, ``community``, ``street_code``, ``street``
    The area and the areas above it (and ``district_code``) (``community_*`` only for cells,
    ``street_*`` for cells and communities); for a cell also ``valid_from``,
    when its current version took effect.
``households``, ``residents``, ``buildings``, ``cells``
    Of the area's active cells: their sums, so an area's are the sums of its
    children's (a building counts in the cell its point lies in).
``workers``, ``branches``
    Distinct grid workers (网格员) and party branches (党支部) serving the
    area's active cells: a worker of two cells counts once in their community.
``has_worker``, ``has_branch``
    Every active cell of the area has a grid worker (一格一员), a party branch
    (一网格一支部); for a cell: it has one. ``cells_without_worker`` and
    ``cells_without_branch`` count the cells that do not.
``cases``, ``cases_<category code>``
    Cases filed in the area (as :mod:`gridgis.analysis.figures` counts them:
    rejected ones included) and reported in ``[since, until)``; per category,
    one column per category asked for (every category by default, by code).
``rate_per_1000``
    ``cases * 1000 / households``, NaN without households; recomputed for
    each area, never summed.
``open_cases``, ``overdue_cases``, ``closed_cases``, ``closed_on_time``, ``closed_late``,
``on_time_rate``
    Of those cases: open at ``now``, open past their deadline at ``now`` (超期),
    closed, closed by their deadline (按期结案), closed after it (逾期结案), and
    按期结案率 ``closed_on_time / closed_cases`` (NaN when none was closed).
``inspections``
    Inspections started in ``[since, until)`` (and not after ``now``) that
    visited the area's active cells; one through several cells of a community
    counts once for it.
``last_inspected_at``, ``days_since_inspection``
    The last inspection of the area's active cells up to ``now`` (NaT / NaN
    when never).
``gi_z``, ``gi_q``, ``hotspot``, ``significant``
    Gi* z-score, its false-discovery-adjusted p-value, the class (one of
    :data:`gridgis.analysis.hotspots.HOTSPOT_CLASSES`) and whether it is
    significant at 5 % FDR, among the areas of the same level in the scope
    (a street's cells are compared with each other, not with the district).

Examples
--------
>>> import datetime as dt
>>> from gridgis.db.engine import get_engine
>>> year = dict(since=dt.datetime(2025, 1, 1), until=dt.datetime(2026, 1, 1))
>>> cells = area_statistics(get_engine(), "cell", street="350304001", **year)
>>> cells[["code", "households", "cases", "hotspot"]].head(2)
              code  households  cases          hotspot
0  350304001001001         416    107  not_significant
1  350304001002001         458    167  not_significant
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Engine, ScalarSelect, Select, exists, func, select

from gridgis.analysis.density import check_area_code, inspection_recency, rate_per_1000
from gridgis.analysis.figures import area_figures
from gridgis.analysis.hotspots import hotspots
from gridgis.codes import LEVEL_ZH
from gridgis.db.models import Community, GridCell, Street
from gridgis.db.queries import connection, read_geoframe
from gridgis.errors import InputError
from gridgis.times import aware

__all__ = ["STATISTICS_LEVELS", "StatisticsLevel", "area_geometries", "area_statistics"]

StatisticsLevel = Literal["cell", "community", "street"]
_AreaLevel = Literal["district", "street", "community"]
STATISTICS_LEVELS: tuple[StatisticsLevel, ...] = ("cell", "community", "street")
"""The levels :func:`area_statistics` gives rows for."""


def _geometry_select(level: StatisticsLevel, prefix: str) -> Select[*tuple[Any, ...]]:
    """The areas of ``level`` whose code is like ``prefix``, with their parents and polygons
    (WKB, as ``geometry``), by code. An area without an outline of its own gets the union of
    its active cells; only areas with active cells are read."""
    if level == "cell":
        return (
            select(
                GridCell.code,
                GridCell.name,
                GridCell.community_code,
                Community.name.label("community"),
                Community.street_code,
                Street.name.label("street"),
                Street.district_code,
                GridCell.valid_from,
                func.ST_AsBinary(GridCell.geom).label("geometry"),
            )
            .join_from(GridCell, Community, Community.code == GridCell.community_code)
            .join(Street, Street.code == Community.street_code)
            .where(GridCell.valid_to.is_(None), GridCell.code.like(prefix))
            .order_by(GridCell.code)
        )
    if level == "community":
        own: tuple[ColumnElement[bool], ...] = (
            GridCell.valid_to.is_(None),
            GridCell.community_code == Community.code,
        )
        return (
            select(
                Community.code,
                Community.name,
                Community.street_code,
                Street.name.label("street"),
                Street.district_code,
                func.ST_AsBinary(func.coalesce(Community.geom, _union_of_cells(own))).label(
                    "geometry"
                ),
            )
            .join_from(Community, Street, Street.code == Community.street_code)
            .where(Community.code.like(prefix), exists().where(*own))
            .order_by(Community.code)
        )
    own = (GridCell.valid_to.is_(None), func.left(GridCell.code, 9) == Street.code)
    return (
        select(
            Street.code,
            Street.name,
            Street.district_code,
            func.ST_AsBinary(func.coalesce(Street.geom, _union_of_cells(own))).label("geometry"),
        )
        .where(Street.code.like(prefix), exists().where(*own))
        .order_by(Street.code)
    )


def _union_of_cells(own: tuple[ColumnElement[bool], ...]) -> ScalarSelect[Any]:
    """The union of the cells meeting the conditions ``own``, as one multipolygon."""
    return select(func.ST_Multi(func.ST_Union(GridCell.geom))).where(*own).scalar_subquery()


def _check_level(level: object) -> StatisticsLevel:
    for allowed in STATISTICS_LEVELS:
        if level == allowed:
            return allowed
    raise InputError(
        f"`level` was {level!r} but is expected to be one of {list(STATISTICS_LEVELS)}",
        zh=f"`level` 为 {level!r}，应为 {list(STATISTICS_LEVELS)} 之一",
    )


def area_prefix(
    conn: Connection, street: str | None, community: str | None, *, district: str | None = None
) -> str | None:
    """The code prefix of a district, street office or community (checked: stored, consistent).

    The finest area given: codes nest (district 6 digits, street 9, community
    12), so everything in it has a code that starts with its code. ``None``
    when none is given (everything). For :func:`area_statistics` and
    :func:`gridgis.export.export`.

    Raises
    ------
    InputError, NotFoundError
        A malformed or unknown code, or an area outside a coarser one given (a
        street or community outside the district, a community outside the street).

    Examples
    --------
    >>> area_prefix(conn, "350304001", None, district="350304")
    '350304001'
    """
    levels: tuple[tuple[_AreaLevel, str | None], ...] = (
        ("district", district),
        ("street", street),
        ("community", community),
    )
    given = [(level, code) for level, code in levels if code is not None]
    for level, code in given:
        check_area_code(conn, code, level)
    for (outer, outer_code), (inner, inner_code) in pairwise(given):
        if not inner_code.startswith(outer_code):
            raise InputError(
                f"`{inner}` was {inner_code!r} but is not in the {outer} given ({outer_code!r})",
                zh=f"`{inner}` 为 {inner_code!r}，不在所给的{LEVEL_ZH.get(outer, outer)}（"
                f"{outer_code!r}）内",
            )
    return given[-1][1] if given else None


def _scope(
    conn: Connection,
    level: StatisticsLevel,
    street: str | None,
    community: str | None,
    district: str | None = None,
) -> str | None:
    """The code prefix of the areas in scope (checked: stored, consistent), or ``None``."""
    prefix = area_prefix(conn, street, community, district=district)
    if community is not None and level == "street":
        raise InputError(
            f"`community` was {community!r} but `level` is 'street': a community "
            "holds no street; scope street figures with `street`",
            zh=f"`community` 为 {community!r}，但 `level` 为 'street'：社区之下没有街道；街道统计"
            "请用 `street` 限定范围",
        )
    return prefix


def area_geometries(
    bind: Engine | Connection, level: str, *, within: str | None = None
) -> gpd.GeoDataFrame:
    """The areas of ``level`` that have active cells, with their parents and polygons.

    Parameters
    ----------
    bind:
        The database.
    level:
        ``"cell"`` (active cells), ``"community"`` or ``"street"``.
    within:
        Only areas whose code starts with this code.

    Returns
    -------
    GeoDataFrame
        EPSG:4326, sorted by code: ``code``, ``name``, the parent columns
        (see the module notes), ``geometry``. A community or street without an
        outline of its own gets the union of its active cells.

    Examples
    --------
    >>> area_geometries(engine, "community", within="350304001").iloc[0]["street"]
    '镇海街道'
    """
    checked = _check_level(level)
    with connection(bind) as conn:
        frame = read_geoframe(
            conn, _geometry_select(checked, (within or "") + "%"), geom_col="geometry"
        )
    if "valid_from" in frame.columns:
        frame["valid_from"] = pd.to_datetime(frame["valid_from"], utc=True)
    return frame


def area_statistics(
    bind: Engine | Connection,
    level: str = "cell",
    *,
    district: str | None = None,
    street: str | None = None,
    community: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    categories: str | Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> gpd.GeoDataFrame:
    """Statistics of every active cell, community or street office, with its polygon.

    Parameters
    ----------
    bind:
        The database, or a connection to read inside its transaction.
    level:
        ``"cell"``, ``"community"`` or ``"street"``.
    district, street, community:
        Only the areas of this district (6 digits), street office (9 digits)
        or community (12 digits); a community does not scope street figures.
        Given together, each must lie in the coarser one.
    since, until:
        The period: cases reported and inspections started at or after
        ``since`` and before ``until`` (naive: China Standard Time).
    categories:
        Only cases of these categories (codes or Chinese names), each with its
        ``cases_<code>`` column; default every category.
    now:
        When open cases are judged overdue and days since the last inspection
        are counted (default now).

    Returns
    -------
    GeoDataFrame
        One row per area that has active cells, by code, EPSG:4326, geometry
        column ``geometry``; the columns are described in the module notes.

    Raises
    ------
    InputError
        When ``level``, a code, the period or ``categories`` is not one of those allowed,
        or a street or community lies outside the district or street given.
    NotFoundError
        When ``district``, ``street``, ``community`` or a category is not stored.

    Examples
    --------
    >>> communities = area_statistics(engine, "community", street="350304001",
    ...                               since=dt.datetime(2025, 1, 1))
    >>> communities[["name", "cases", "rate_per_1000", "on_time_rate"]].head(2)
          name  cases  rate_per_1000  on_time_rate
    0  文献社区居委会    107     257.211538      0.883495
    1  长寿社区居委会    167     364.628821      0.882716
    """
    checked = _check_level(level)
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    with connection(bind) as conn:
        within = _scope(conn, checked, street, community, district)
        figures = area_figures(
            conn,
            checked,
            within=within,
            now=moment,
            since=since,
            until=until,
            category=categories,
            by_category=True,
            detail=True,
        )
        recency = inspection_recency(
            conn,
            now=moment,
            street=street,
            community=community,
            since=since,
            until=until,
            level=checked,
        )
        areas = area_geometries(conn, checked, within=within)
    recency = recency.set_index("code")
    figures = figures.set_index("code").reindex(areas["code"])
    out = areas.copy()
    for column in ("households", "residents", "buildings", "cells"):
        out[column] = figures[column].to_numpy()
    for column in ("workers", "branches"):
        out[column] = figures[column].to_numpy()
    out["cells_without_worker"] = figures["cells_without_worker"].to_numpy()
    out["cells_without_branch"] = figures["cells_without_branch"].to_numpy()
    out["has_worker"] = out["cells_without_worker"] == 0
    out["has_branch"] = out["cells_without_branch"] == 0
    category_columns = [c for c in figures.columns if c.startswith("cases_")]
    out["cases"] = figures["cases"].to_numpy()
    for column in category_columns:
        out[column] = figures[column].to_numpy()
    out["rate_per_1000"] = rate_per_1000(out["cases"], out["households"])
    for column in ("open_cases", "overdue_cases", "closed_cases", "closed_on_time", "closed_late"):
        out[column] = figures[column].to_numpy()
    out["on_time_rate"] = figures["on_time_rate"].to_numpy(dtype="float64")
    found = recency.reindex(out["code"])
    out["inspections"] = found["inspections"].fillna(0).astype("int64").to_numpy()
    out["last_inspected_at"] = pd.to_datetime(found["last_inspected_at"], utc=True).to_numpy()
    out["last_inspected_at"] = pd.to_datetime(out["last_inspected_at"], utc=True)
    out["days_since_inspection"] = found["days_since_inspection"].to_numpy(dtype="float64")
    tested = hotspots(out, "rate_per_1000")
    for column in ("gi_z", "gi_q"):
        out[column] = tested[column].astype("float64")
    out["hotspot"] = tested["hotspot"].astype(object)
    out["significant"] = tested["significant"].astype(bool)
    counts: dict[str, Any] = {c: "int64" for c in _COUNT_COLUMNS if c in out.columns}
    counts |= {c: "int64" for c in category_columns}
    out = out.astype(counts)
    return out[[c for c in out.columns if c != "geometry"] + ["geometry"]]


_COUNT_COLUMNS = (
    "households",
    "residents",
    "buildings",
    "cells",
    "workers",
    "branches",
    "cells_without_worker",
    "cells_without_branch",
    "cases",
    "open_cases",
    "overdue_cases",
    "closed_cases",
    "closed_on_time",
    "closed_late",
    "inspections",
)
