"""Case density per cell: counts, rates per 1,000 households, heat points, inspection recency.

Every function reads through a connection and returns a frame; the
statistics are done in SQL (one ``GROUP BY`` per question) and in numpy.

Which cases count
    Cases are counted in the cell they were filed in (``case_record.cell_id``,
    which does not change when the layout does), filtered by category and by
    ``reported_at`` (``since`` inclusive, ``until`` exclusive). Rejected cases
    (作废: duplicates, false reports) are left out unless ``include_rejected``;
    cases merged into another (合并) always are (they count through that case).
    Cases filed in no cell (outside every cell, unmatched addresses) are in
    no cell's count and are not drawn on the heat map either, so the two
    layers agree.
Which cells
    The active cells; with ``include_retired`` also the retired versions whose
    validity overlaps the period (a redraw's old cells keep their cases).
    ``street`` and ``community`` keep the cells of that area.
Rates
    ``rate_per_1000 = cases * 1000 / households``; NaN for a cell with no
    households (a rate there is undefined, not infinite).

Examples
--------
>>> import datetime as dt
>>> from gridgis.db.engine import get_engine
>>> year = dict(since=dt.datetime(2025, 1, 1), until=dt.datetime(2026, 1, 1))
>>> cells = density_cells(get_engine(), category="消防安全", **year)
>>> cells[["code", "households", "cases", "rate_per_1000", "hotspot"]].head(2)
... # doctest: +NORMALIZE_WHITESPACE
                    code  households  cases  rate_per_1000          hotspot
cell_id
1        350304001001001         416     35      84.134615  not_significant
2        350304001002001         458     54     117.903930  not_significant
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    Text,
    and_,
    any_,
    cast,
    distinct,
    extract,
    func,
    literal,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, array_agg

from gridgis.analysis.hotspots import hotspots
from gridgis.analysis.neighbours import active_cell_neighbours
from gridgis.cases import is_merged, period_clauses, resolve_categories
from gridgis.codes import LEVEL_ZH, check_code
from gridgis.db import queries
from gridgis.db.models import (
    Case,
    CaseCategory,
    Community,
    District,
    GridCell,
    Inspection,
    InspectionCell,
    Street,
)
from gridgis.errors import InputError, NotFoundError
from gridgis.times import aware

__all__ = [
    "DEFAULT_MAX_HEAT_POINTS",
    "HeatPoints",
    "bin_points",
    "cell_case_density",
    "check_area_code",
    "density_cells",
    "heat_points",
    "inspection_recency",
    "rate_per_1000",
    "resolve_categories",
]

DEFAULT_MAX_HEAT_POINTS = 50_000
"""Most points a heat layer gets; beyond it cases are binned on a fine grid."""

_FIRST_BIN_DEGREES = 1e-5
"""The finest binning grid tried (about 1 m)."""

_FLOATS = ARRAY(DOUBLE_PRECISION)

Value = Literal["rate", "count"]
_VALUE_COLUMNS: dict[str, str] = {"rate": "rate_per_1000", "count": "cases"}


# --- checking the filter ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter:
    """A checked filter: conditions on the cells (:class:`~gridgis.db.models.GridCell`) and
    on the cases (:class:`~gridgis.db.models.Case`, joined with their cell)."""

    cells: list[ColumnElement[bool]]
    case_only: list[ColumnElement[bool]]
    categories: list[str] = field(default_factory=list)

    @property
    def cases(self) -> list[ColumnElement[bool]]:
        """The conditions of the cases and of their cells."""
        return self.cells + self.case_only


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InputError(
            f"`{name}` was {value!r} but is expected to be True or False",
            zh=f"`{name}` 为 {value!r}，应为 True 或 False",
        )
    return value


def _check_count(name: str, value: object, high: int | None = None) -> int:
    """``value`` as an int from 1 to ``high`` (no bound when ``None``), else raise naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < 1
        or (high is not None and value > high)
    ):
        wanted = "an integer >= 1" if high is None else f"an integer from 1 to {high}"
        wanted_zh = "不小于 1 的整数" if high is None else f" 1 到 {high} 之间的整数"
        raise InputError(
            f"`{name}` was {value!r} but is expected to be {wanted}",
            zh=f"`{name}` 为 {value!r}，应为{wanted_zh}",
        )
    return int(value)


def _geom_last(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with its geometry column ``geom`` moved to the end."""
    return frame[[c for c in frame.columns if c != "geom"] + ["geom"]]


_AREAS: dict[str, type[District] | type[Street] | type[Community]] = {
    "district": District,
    "street": Street,
    "community": Community,
}


def check_area_code(
    conn: Connection, value: object, level: Literal["district", "street", "community"]
) -> str:
    """``value`` if it is the code of a stored district (6 digits), street (9) or community (12).

    Raises
    ------
    InputError
        When ``value`` is not a code of that many digits.
    NotFoundError
        When no such area is stored.

    Examples
    --------
    >>> check_area_code(conn, "350304", "district")
    '350304'
    """
    code = check_code(value, level)
    area = _AREAS[level]
    if conn.execute(select(area.code).where(area.code == code)).first() is None:
        raise NotFoundError(
            f"`{level}` was {code!r} but no {level} has that code",
            zh=f"`{level}` 为 {code!r}，但没有这个编码的{LEVEL_ZH.get(level, level)}",
        )
    return code


def _filter(
    conn: Connection,
    *,
    street: str | None,
    community: str | None,
    category: str | Sequence[str] | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    include_retired: bool,
    include_rejected: bool,
) -> _Filter:
    _check_flag("include_retired", include_retired)
    _check_flag("include_rejected", include_rejected)
    cell_where: list[ColumnElement[bool]] = []
    case_where = period_clauses(Case.reported_at, since, until, ordered=True)
    if street is not None:
        code = check_area_code(conn, street, "street")
        cell_where.append(func.left(GridCell.community_code, 9) == code)
    if community is not None:
        code = check_area_code(conn, community, "community")
        cell_where.append(GridCell.community_code == code)
        if street is not None and not community.startswith(street):
            raise InputError(
                f"`community` was {community!r} but is not in the street given ({street!r})",
                zh=f"`community` 为 {community!r}，不在所给的街道（{street!r}）内",
            )
    if include_retired:
        retired: list[ColumnElement[bool]] = []
        if since is not None:
            retired.append(GridCell.valid_to > aware(since, field="since"))
        if until is not None:
            retired.append(GridCell.valid_from < aware(until, field="until"))
        if retired:
            cell_where.append(or_(GridCell.valid_to.is_(None), and_(*retired)))
    else:
        cell_where.append(GridCell.valid_to.is_(None))
    categories: list[str] = []
    if category is not None:
        categories = resolve_categories(conn, category)
        case_where.append(Case.category_code == any_(literal(categories, ARRAY(Text))))
    if not include_rejected:
        case_where.append(Case.rejected_at.is_(None))
    case_where.append(~is_merged())  # counted once, through the case it was merged into
    return _Filter(cell_where, case_where, categories)


# --- counts and rates ---------------------------------------------------------------------------


def _read_cells(conn: Connection, where: _Filter, geometry: bool) -> gpd.GeoDataFrame:
    shape = func.ST_AsBinary(GridCell.geom) if geometry else cast(null(), LargeBinary)
    query = (
        select(
            GridCell.id.label("cell_id"),
            GridCell.code,
            GridCell.name,
            GridCell.community_code,
            Community.name.label("community"),
            Community.street_code,
            Street.name.label("street"),
            GridCell.status,
            GridCell.valid_from,
            GridCell.valid_to,
            GridCell.households,
            shape.label("geom"),
        )
        .join_from(GridCell, Community, Community.code == GridCell.community_code)
        .join(Street, Street.code == Community.street_code)
        .where(*where.cells)
        .order_by(GridCell.code, GridCell.valid_from)
    )
    out = queries.read_geoframe(conn, query).set_index("cell_id")
    out["households"] = out["households"].astype("int64")
    for name in ("valid_from", "valid_to"):
        out[name] = pd.to_datetime(out[name], utc=True)
    return out


def rate_per_1000(cases: pd.Series, households: pd.Series) -> pd.Series:
    """``cases * 1000 / households``; NaN where there are no households (undefined, not infinite).

    Examples
    --------
    >>> rate_per_1000(pd.Series([3, 1]), pd.Series([400, 0])).tolist()
    [7.5, nan]
    """
    rate = cases.astype("float64") * 1000.0 / households.where(households > 0).astype("float64")
    return rate.astype("float64")


def cell_case_density(
    connection: Engine | Connection,
    *,
    street: str | None = None,
    community: str | None = None,
    category: str | Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_retired: bool = False,
    include_rejected: bool = False,
    by_category: bool = False,
    geometry: bool = True,
) -> gpd.GeoDataFrame:
    """Cases and cases per 1,000 households in each cell.

    Parameters
    ----------
    connection:
        The database.
    street, community:
        Only the cells of this street office (9 digits) or community (12 digits).
    category:
        A category code, Chinese or English name (``"fire_safety"``, ``"消防安全"``), or a
        list of them; default every category.
    since, until:
        Cases reported at or after ``since`` and before ``until`` (a naive
        datetime is China Standard Time).
    include_retired:
        Also the retired cell versions valid during the period.
    include_rejected:
        Also count rejected cases (作废).
    by_category:
        Add a ``cases_<code>`` column per category (those asked for, in that
        order, else every category by code).
    geometry:
        Read the cells' polygons (default); ``False`` leaves ``geom`` empty
        (``None``), for figures alone: a whole city's polygons are most of
        the time of reading it.

    Returns
    -------
    GeoDataFrame
        Indexed by ``cell_id`` (``grid_cell.id``: a code has one row per
        version), EPSG:4326, sorted by code; columns ``code``, ``name``,
        ``community_code``, ``community``, ``street_code``, ``street``,
        ``status``, ``valid_from``, ``valid_to``, ``households``, ``cases``,
        ``rate_per_1000`` (NaN where there are no households), the optional
        ``cases_<code>`` columns, and the geometry ``geom``.

    Examples
    --------
    >>> cells = cell_case_density(engine, community="350304001001",
    ...                           category=["fire_safety", "环境保护"])
    >>> cells[["code", "households", "cases", "rate_per_1000"]].iloc[0]
    code             350304001001001
    households                   416
    cases                         38
    rate_per_1000          91.346154
    Name: 1, dtype: object
    """
    _check_flag("by_category", by_category)
    with queries.connection(connection) as conn:
        where = _filter(
            conn,
            street=street,
            community=community,
            category=category,
            since=since,
            until=until,
            include_retired=include_retired,
            include_rejected=include_rejected,
        )
        cells = _read_cells(conn, where, geometry)
        query = (
            select(Case.cell_id, Case.category_code, func.count().label("cases"))
            .join_from(Case, GridCell, GridCell.id == Case.cell_id)
            .where(*where.cases)
            .group_by(Case.cell_id, Case.category_code)
        )
        counts = queries.result_frame(
            conn.execute(query), columns=["cell_id", "category_code", "cases"]
        )
        all_categories = where.categories or list(
            conn.execute(select(CaseCategory.code).order_by(CaseCategory.code)).scalars()
        )
    table = counts.pivot_table(
        index="cell_id", columns="category_code", values="cases", aggfunc="sum", fill_value=0
    ).reindex(index=cells.index, columns=all_categories, fill_value=0)
    table = table.fillna(0).astype("int64")
    out = cells.copy()
    out["cases"] = table.sum(axis=1).astype("int64")
    out["rate_per_1000"] = rate_per_1000(out["cases"], out["households"])
    if by_category:
        for code in all_categories:
            out[f"cases_{code}"] = table[code].astype("int64")
    return _geom_last(out)


# --- heat points --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatPoints:
    """The points of a heat layer.

    Attributes
    ----------
    points:
        ``lon``, ``lat`` (EPSG:4326) and ``weight`` (cases at that point).
    cases:
        Cases the points stand for (the sum of the weights).
    bin_degrees:
        ``None`` when every case is a point of weight 1; else the size in
        degrees of the grid the cases were binned on (each point is the mean
        position of its bin's cases, weighted by their number).
    """

    points: pd.DataFrame
    cases: int
    bin_degrees: float | None


def bin_points(
    lon: ArrayLike, lat: ArrayLike, *, max_points: int = DEFAULT_MAX_HEAT_POINTS
) -> tuple[pd.DataFrame, float | None]:
    """Thin points for a heat layer: at most ``max_points``, counts as weights.

    Points are kept as they are when there are few enough; otherwise they are
    binned on a square grid of 1e-5 degree (about 1 m), doubled until the
    occupied bins are at most ``max_points``. Each bin becomes one point at
    the mean position of its points, weighted by how many they are.

    Parameters
    ----------
    lon, lat:
        Coordinates (EPSG:4326), NaN-free, same length.
    max_points:
        The most points returned (at least 1).

    Returns
    -------
    (DataFrame, float or None)
        ``lon``, ``lat``, ``weight``; and the grid size used (``None`` when
        the points were kept as they are).

    Examples
    --------
    >>> frame, size = bin_points([119.000002, 119.000004, 119.5], [25.4, 25.4, 25.5], max_points=2)
    >>> frame["weight"].tolist(), size
    ([2, 1], 1e-05)
    """
    max_points = _check_count("max_points", max_points)
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputError(
            f"`lon` has {len(x)} values but `lat` has {len(y)}; they must pair up",
            zh=f"`lon` 有 {len(x)} 个值，`lat` 有 {len(y)} 个值；两者必须一一对应",
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError(
            "`lon` and `lat` must be finite numbers", zh="`lon` 和 `lat` 必须是有限的数"
        )
    if len(x) <= max_points:
        frame = pd.DataFrame({"lon": x, "lat": y, "weight": np.ones(len(x), dtype=np.int64)})
        return frame, None
    size = _FIRST_BIN_DEGREES
    while True:
        col = np.floor(x / size).astype(np.int64)
        row = np.floor(y / size).astype(np.int64)
        col -= col.min()
        row -= row.min()
        # One integer per bin (row-major), far faster to deduplicate than pairs.
        _, inverse = np.unique(col * (int(row.max()) + 1) + row, return_inverse=True)
        bins = int(inverse.max()) + 1
        if bins <= max_points:
            break
        size *= 2.0
    weight = np.bincount(inverse, minlength=bins)
    frame = pd.DataFrame(
        {
            "lon": np.bincount(inverse, weights=x, minlength=bins) / weight,
            "lat": np.bincount(inverse, weights=y, minlength=bins) / weight,
            "weight": weight.astype(np.int64),
        }
    )
    frame = frame.sort_values("weight", ascending=False, kind="stable").reset_index(drop=True)
    return frame, size


def heat_points(
    connection: Engine | Connection,
    *,
    street: str | None = None,
    community: str | None = None,
    category: str | Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_retired: bool = False,
    include_rejected: bool = False,
    max_points: int = DEFAULT_MAX_HEAT_POINTS,
) -> HeatPoints:
    """The case points of a heat layer, binned when there are more than ``max_points``.

    The filter is that of :func:`cell_case_density` (the same cases, so the
    heat layer and the per-cell counts agree); cases without a point are
    left out. See :func:`bin_points` for the thinning.

    Returns
    -------
    HeatPoints

    Examples
    --------
    >>> heat = heat_points(engine, category="消防安全", max_points=20_000)
    >>> len(heat.points) <= 20_000, heat.cases
    (True, 2309)
    """
    with queries.connection(connection) as conn:
        where = _filter(
            conn,
            street=street,
            community=community,
            category=category,
            since=since,
            until=until,
            include_retired=include_retired,
            include_rejected=include_rejected,
        )
        none = literal([], _FLOATS)
        query = (
            select(
                func.coalesce(array_agg(func.ST_X(Case.geom)), none),
                func.coalesce(array_agg(func.ST_Y(Case.geom)), none),
            )
            .join_from(Case, GridCell, GridCell.id == Case.cell_id)
            .where(*where.cases, Case.geom.is_not(None))
        )
        lon, lat = conn.execute(query).one()
    frame, size = bin_points(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64), max_points=max_points
    )
    return HeatPoints(points=frame, cases=len(lon), bin_degrees=size)


# --- inspection recency -------------------------------------------------------------------------


def inspection_recency(
    connection: Engine | Connection,
    *,
    now: dt.datetime | None = None,
    window_days: int = 30,
    street: str | None = None,
    community: str | None = None,
    include_retired: bool = False,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    level: Literal["cell", "community", "street"] = "cell",
) -> pd.DataFrame:
    """How long ago each cell was last inspected, and how often lately.

    An inspection visits the cells listed for it in ``inspection_cell`` (the
    cell versions it passed through); its time is ``started_at``.
    Inspections after ``now`` are ignored, so the figures can be taken as of
    any past moment. A cell redrawn since keeps its old version's visits on
    that version: the new version starts never inspected.

    Parameters
    ----------
    connection:
        The database.
    now:
        The moment to measure from (default the current time; naive is China
        Standard Time).
    window_days:
        Length of the recent window (``now - window_days`` exclusive to ``now``
        inclusive) for ``recent_inspections``.
    street, community, include_retired:
        Which cells, as in :func:`cell_case_density`.
    since, until:
        The period of ``inspections``: inspections started at or after
        ``since`` and before ``until`` (and not after ``now``).
    level:
        ``"cell"`` (default): one row per cell version. ``"community"`` or
        ``"street"``: one row per area that has selected cells, the visits of
        its cells together; an inspection through several of its cells counts
        once, so an area's counts are at most the sums of its cells'.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell_id`` (by ``code`` for a community or street), sorted
        by code: ``code``, ``last_inspected_at`` (aware, NaT when never),
        ``days_since_inspection`` (float, NaN when never),
        ``recent_inspections`` (int), ``inspections`` (int, in the period),
        ``never_inspected`` (bool).

    Examples
    --------
    >>> recency = inspection_recency(engine, now=dt.datetime(2026, 1, 1))
    >>> recency.loc[recency["never_inspected"], "code"].tolist()  # each cell is patrolled
    []
    """
    moment = aware(now, field="now") if now is not None else dt.datetime.now(dt.UTC)
    window_days = _check_count("window_days", window_days, 3660)
    digits = {"cell": None, "community": 12, "street": 9}
    if level not in digits:
        raise InputError(
            f"`level` was {level!r} but is expected to be one of {list(digits)}",
            zh=f"`level` 为 {level!r}，应为 {list(digits)} 之一",
        )
    with queries.connection(connection) as conn:
        where = _filter(
            conn,
            street=street,
            community=community,
            category=None,
            since=None,
            until=None,
            include_retired=include_retired,
            include_rejected=True,
        )
        window_start = moment - dt.timedelta(days=window_days)
        period = period_clauses(Inspection.started_at, since, until)
        size = digits[level]
        key = GridCell.id if size is None else func.left(GridCell.code, size)
        inspections = distinct(Inspection.id)
        visits = (
            select(
                key.label("area"),
                func.max(Inspection.started_at).label("last_inspected_at"),
                func.count(inspections)
                .filter(Inspection.started_at > window_start)
                .label("recent"),
                func.count(inspections).filter(and_(true(), *period)).label("in_period"),
            )
            .join_from(InspectionCell, Inspection, Inspection.id == InspectionCell.inspection_id)
            .join(GridCell, GridCell.id == InspectionCell.cell_id)
            .where(Inspection.started_at <= moment, *where.cells)
            .group_by(key)
            .cte("visits")
        )
        if size is None:
            areas = select(
                GridCell.id.label("area"),
                GridCell.code,
                GridCell.code.label("sort_code"),
                GridCell.valid_from,
            )
        else:
            areas = select(
                key.label("area"),
                key.label("code"),
                key.label("sort_code"),
                cast(null(), DateTime(timezone=True)).label("valid_from"),
            ).distinct()
        a = areas.where(*where.cells).subquery("a")
        since_last = literal(moment, DateTime(timezone=True)) - visits.c.last_inspected_at
        query = (
            select(
                a.c.area,
                a.c.code,
                visits.c.last_inspected_at,
                (extract("epoch", since_last) / Decimal("86400.0")).label("days_since_inspection"),
                func.coalesce(visits.c.recent, 0).label("recent_inspections"),
                func.coalesce(visits.c.in_period, 0).label("inspections"),
            )
            .select_from(a)
            .outerjoin(visits, visits.c.area == a.c.area)
            .order_by(a.c.sort_code, a.c.valid_from)
        )
        frame = queries.result_frame(
            conn.execute(query),
            columns=[
                "area",
                "code",
                "last_inspected_at",
                "days_since_inspection",
                "recent_inspections",
                "inspections",
            ],
        )
    if size is None:
        frame = frame.set_index("area")
        frame.index.name = "cell_id"
    else:
        frame = frame.drop(columns="area").set_index("code", drop=False)
        frame.index.name = "code"
    frame["last_inspected_at"] = pd.to_datetime(frame["last_inspected_at"], utc=True)
    frame["days_since_inspection"] = frame["days_since_inspection"].astype("float64")
    frame["recent_inspections"] = frame["recent_inspections"].astype("int64")
    frame["inspections"] = frame["inspections"].astype("int64")
    frame["never_inspected"] = frame["last_inspected_at"].isna()
    return frame


# --- everything the density map shows -----------------------------------------------------------


def density_cells(
    connection: Engine | Connection,
    *,
    street: str | None = None,
    community: str | None = None,
    category: str | Sequence[str] | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    include_retired: bool = False,
    include_rejected: bool = False,
    by_category: bool = False,
    value: Value = "rate",
    now: dt.datetime | None = None,
    window_days: int = 30,
    geometry: bool = True,
) -> gpd.GeoDataFrame:
    """Counts, rates, hotspot classes and inspection recency per cell, in one frame.

    :func:`cell_case_density`, then :func:`gridgis.analysis.hotspots.hotspots`
    on the active cells, then :func:`inspection_recency`.

    The hotspots are found among the cells selected (a street's cells are
    compared with each other, not with the district), on the rates per 1,000
    households by default (``value="rate"``): case counts grow with the
    households of a cell, so hotspots of counts mostly rediscover the most
    populous cells, whereas a rate asks where cases are frequent for the
    people living there. Cells hold 150 to 500 households in practice, so the
    small-number instability of rates is limited; cells with no households
    have no rate and are classed ``no_data``. ``value="count"`` tests the
    counts instead (every cell has one). Retired cells (``include_retired``)
    overlap their successors, so they are not tested: their hotspot columns
    are empty. The neighbours are the active layout's, remembered per state
    of the layout (:mod:`gridgis.analysis.neighbours`), so the polygons are
    needed only when ``geometry`` asks for them.

    Parameters
    ----------
    connection, street, community, category, since, until, include_retired, \
include_rejected, by_category, geometry:
        As in :func:`cell_case_density`.
    value:
        ``"rate"`` or ``"count"``: what Gi* is computed on.
    now, window_days:
        As in :func:`inspection_recency`.

    Returns
    -------
    GeoDataFrame
        The columns of :func:`cell_case_density`, then those of
        :func:`~gridgis.analysis.hotspots.hotspots` (``neighbours``, ``gi_z``,
        ``gi_p``, ``gi_q``, ``significant``, ``hotspot``), then those of
        :func:`inspection_recency` (``last_inspected_at``,
        ``days_since_inspection``, ``recent_inspections``, ``never_inspected``).

    Examples
    --------
    >>> cells = density_cells(engine, since=dt.datetime(2025, 1, 1),
    ...                       until=dt.datetime(2026, 1, 1))
    >>> cells["hotspot"].value_counts().head(2)
    hotspot
    not_significant    123
    hot_90               5
    Name: count, dtype: int64
    """
    if value not in _VALUE_COLUMNS:
        raise InputError(
            f"`value` was {value!r} but is expected to be one of {list(_VALUE_COLUMNS)}",
            zh=f"`value` 为 {value!r}，应为 {list(_VALUE_COLUMNS)} 之一",
        )
    with queries.connection(connection) as conn:
        cells = cell_case_density(
            conn,
            street=street,
            community=community,
            category=category,
            since=since,
            until=until,
            include_retired=include_retired,
            include_rejected=include_rejected,
            by_category=by_category,
            geometry=geometry,
        )
        recency = inspection_recency(
            conn,
            now=now,
            window_days=window_days,
            street=street,
            community=community,
            include_retired=include_retired,
        )
        active = cells[cells["status"] == "active"]
        neighbours = active_cell_neighbours(conn, active.index.to_numpy())
    tested = hotspots(active, _VALUE_COLUMNS[value], neighbours=neighbours)
    out = cells.copy()
    out["neighbours"] = tested["neighbours"].reindex(out.index).astype("Int64")
    for name in ("gi_z", "gi_p", "gi_q"):
        out[name] = tested[name].reindex(out.index).astype("float64")
    out["significant"] = tested["significant"].reindex(out.index).astype("boolean")
    out["hotspot"] = tested["hotspot"].reindex(out.index).astype(object)
    out["hotspot"] = out["hotspot"].where(out["hotspot"].notna(), None)
    for name in ("last_inspected_at", "days_since_inspection", "recent_inspections"):
        out[name] = recency[name].reindex(out.index)
    out["never_inspected"] = recency["never_inspected"].reindex(out.index).astype(bool)
    return _geom_last(out)
