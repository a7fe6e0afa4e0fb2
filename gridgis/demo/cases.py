"""A year of cases (事件) and inspection patrols (巡查) in a demo district.

Cases
-----
* Categories in the mix of the field figures of DOMAIN.md (fire safety and
  commerce/food/drug far ahead, then the smaller ones); see :data:`CATEGORY_SHARES`.
* Where: each category draws its places from hotspots (markets, shops, old
  lane compounds, construction sites, schools, village squares, roads) and
  from homes weighted by households, jittered by a few to tens of metres.
* When: the year up to the day the demo is generated (:func:`demo_period`:
  the calendar of 2025, Asia/Shanghai, moved on by whole weeks so that it
  ends in the week before ``today``; the same seed and ``today`` give the same
  cases), fewer cases at weekends and on public holidays; fire safety peaks
  in winter and around the Spring Festival, environment and cityscape in
  summer, commerce before festivals (the holidays and festivals of 2025 moved
  on with the weeks, so a few days off from the real ones of later years);
  patrol reports in office hours, hotline and app reports into the evening,
  school cases at the school run (7–8 h, 16–17 h).
* Lifecycle: 上报 → 立案 → 派遣 → 处置 → 核查 → 结案 with log-normal
  durations (registration within the hour in the daytime, next morning at
  night; handling about a third of the category's time limit, with a long
  tail and a slower or faster pace per street office), so that about one case
  in ten closes after its deadline. About 3.5 % are rejected (作废). Steps
  that would fall after the end of the period are left open.
* Raw coordinates as received: grid workers' app in WGS84, residents' app in
  GCJ-02, the 12345 hotline in BD-09, departments in CGCS2000.

Inspections
-----------
About :data:`PATROLS_PER_WEEK` patrols per grid worker and week, on working
days, each a GPS track (a point every 40 m on foot, 80 m by e-bike in
villages, a few metres of GPS noise) along the boundary of the worker's cell,
which follows roads; the visited cells are those the track passes through.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis import crs as crs_mod
from gridgis.codes import parent_code
from gridgis.demo.profiles import DistrictProfile
from gridgis.errors import InputError
from gridgis.times import CHINA_TZ

__all__ = [
    "CATEGORY_SHARES",
    "PATROLS_PER_WEEK",
    "Activity",
    "build_cases",
    "build_inspections",
    "demo_period",
]

_CALENDAR = (
    dt.datetime(2025, 1, 1, tzinfo=CHINA_TZ),
    dt.datetime(2026, 1, 1, tzinfo=CHINA_TZ),
)
"""The calendar year the demo's patterns are drawn on (weekends, holidays and seasons of
2025, China Standard Time); :func:`demo_period` moves it on to the year up to today."""


def demo_period(today: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The year the demo's cases and inspections cover, up to ``today``.

    The calendar of 2025 moved on by whole weeks (so that weekdays stay weekdays):
    the period ends at a midnight (+08:00) in the week up to ``today``, at the latest
    ``today``'s own midnight, and is as long as 2025.

    Parameters
    ----------
    today:
        The day the demo is generated (default today in China Standard Time); a
        datetime counts by its day (an aware one at +08:00).

    Examples
    --------
    >>> start, end = demo_period(dt.date(2026, 1, 1))
    >>> start.isoformat(), end.isoformat()
    ('2025-01-01T00:00:00+08:00', '2026-01-01T00:00:00+08:00')
    >>> [t.date().isoformat() for t in demo_period(dt.date(2026, 12, 6))]
    ['2025-12-03', '2026-12-03']
    """
    if today is None:
        today = dt.datetime.now(CHINA_TZ).date()
    elif isinstance(today, dt.datetime):
        today = (today.astimezone(CHINA_TZ) if today.tzinfo else today).date()
    elif not isinstance(today, dt.date):
        raise InputError(f"`today` was {today!r} but is expected to be a date")
    weeks = (today - _CALENDAR[1].date()).days // 7
    shift = dt.timedelta(weeks=weeks)
    return _CALENDAR[0] + shift, _CALENDAR[1] + shift


CATEGORY_SHARES: dict[str, float] = {
    "fire_safety": 0.485,
    "commerce_food_drug": 0.385,
    "cityscape": 0.035,
    "public_opinion": 0.026,
    "environment": 0.021,
    "public_security": 0.018,
    "road_facility": 0.014,
    "property_management": 0.010,
    "errand": 0.0045,
    "dispute": 0.0015,
}
"""Share of each category: the proportions of DOMAIN.md's field figures (fire safety
60,638; commerce/food/drug 48,208; public opinion 3,204; environment 2,575; errands
509; disputes 167), with 8 % left for the categories it does not count."""

DEADLINE_HOURS: dict[str, int] = {
    "fire_safety": 72,
    "commerce_food_drug": 120,
    "environment": 120,
    "cityscape": 48,
    "dispute": 168,
    "public_opinion": 168,
    "public_security": 48,
    "errand": 72,
    "road_facility": 120,
    "property_management": 120,
}
"""The time limits of the seeded categories (``case_category.deadline_hours``)."""

PATROLS_PER_WEEK = 1.5

_ANCHORS: dict[str, dict[str, float]] = {
    "fire_safety": {"home": 0.35, "old_compound": 0.25, "shops": 0.2, "market": 0.1, "plaza": 0.1},
    "commerce_food_drug": {"market": 0.35, "shops": 0.35, "school": 0.1, "home": 0.1, "plaza": 0.1},
    "environment": {"construction": 0.45, "road": 0.2, "home": 0.2, "plaza": 0.15},
    "cityscape": {"market": 0.3, "road": 0.3, "construction": 0.2, "shops": 0.2},
    "dispute": {"home": 0.8, "market": 0.1, "plaza": 0.1},
    "public_opinion": {"home": 0.85, "plaza": 0.15},
    "public_security": {"school": 0.4, "market": 0.2, "shops": 0.2, "home": 0.2},
    "errand": {"home": 0.9, "plaza": 0.1},
    "road_facility": {"road": 0.8, "school": 0.2},
    "property_management": {"estate": 1.0},
}
_JITTER = {"home": 8.0, "estate": 15.0, "old_compound": 30.0, "shops": 25.0, "market": 25.0,
           "plaza": 30.0, "school": 20.0, "construction": 35.0, "road": 10.0}  # fmt: skip

_TEXTS: dict[str, tuple[str, ...]] = {
    "fire_safety": ("{p}楼道堆放杂物，堵塞消防通道", "{p}电动车在楼道内停放充电",
                    "{p}灭火器过期未更换", "{p}沿街店铺“三合一”场所住人",
                    "{p}私拉乱接电线", "{p}消防栓被遮挡", "{p}燃气瓶露天存放"),
    "commerce_food_drug": ("{p}无证经营小餐饮", "{p}销售过期食品", "{p}从业人员无健康证",
                           "{p}药店未凭处方销售处方药", "{p}售卖“三无”食品",
                           "{p}价格未明码标价", "{p}后厨卫生状况差"),
    "environment": ("{p}工地扬尘未覆盖", "{p}夜间施工噪音扰民", "{p}餐饮油烟直排",
                    "{p}河沟漂浮垃圾", "{p}焚烧垃圾"),
    "cityscape": ("{p}占道经营", "{p}乱贴小广告", "{p}垃圾桶满溢", "{p}共享单车乱停放",
                  "{p}建筑垃圾乱堆放", "{p}违规设置户外广告"),
    "dispute": ("{p}邻里楼上漏水纠纷", "{p}物业费收缴纠纷", "{p}宅基地边界纠纷",
                "{p}停车位纠纷", "{p}噪音扰邻纠纷"),
    "public_opinion": ("{p}居民反映路灯不亮", "{p}居民建议增设健身器材", "{p}居民反映停水未通知",
                       "{p}居民建议增设公交站点", "{p}居民反映老旧小区加装电梯意愿"),
    "public_security": ("{p}上下学时段校门口交通拥堵", "{p}可疑人员徘徊", "{p}围墙破损存在安全隐患",
                        "{p}非法营运车辆揽客", "{p}电动车无牌上路"),
    "errand": ("{p}代办高龄津贴申领", "{p}代办城乡居民医保参保", "{p}代办居住证",
               "{p}代办残疾人证年审", "{p}代办养老金资格认证"),
    "road_facility": ("{p}井盖破损", "{p}路面塌陷", "{p}路灯损坏", "{p}交通标志缺失",
                      "{p}人行道板松动"),
    "property_management": ("{p}电梯故障困人", "{p}小区绿化带被毁", "{p}二次供水水箱未清洗",
                            "{p}楼道照明损坏", "{p}地下车库积水"),
}  # fmt: skip

_HANDLER = {
    "fire_safety": "消防救援站", "commerce_food_drug": "市场监督管理所",
    "environment": "生态环境分局", "cityscape": "综合执法队", "dispute": "人民调解委员会",
    "public_opinion": "社区居委会", "public_security": "派出所", "errand": "党群服务站",
    "road_facility": "住建局养护所", "property_management": "物业服务中心",
}  # fmt: skip

_SOURCES = ("网格员巡查", "居民随手拍", "12345热线", "部门移交")
_SOURCE_SHARE = np.array([0.65, 0.12, 0.15, 0.08])
_SOURCE_CRS = ("wgs84", "gcj02", "bd09", "cgcs2000")

# Public holidays of 2025 (days off), with the Spring Festival on 29 January.
_HOLIDAYS = [
    ("2025-01-01", "2025-01-01"), ("2025-01-28", "2025-02-04"), ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"), ("2025-05-31", "2025-06-02"), ("2025-10-01", "2025-10-08"),
]  # fmt: skip
_SPRING_FESTIVAL = dt.date(2025, 1, 29)
_MID_AUTUMN = dt.date(2025, 10, 6)


@dataclass
class Activity:
    """Cases or inspections (metric geometry) and the cells they touch."""

    records: gpd.GeoDataFrame
    cells: pd.DataFrame


def _days() -> pd.DatetimeIndex:
    """The days of :data:`_CALENDAR` (the patterns are drawn on them, then moved on)."""
    start, end = _CALENDAR
    return pd.date_range(start.date(), end.date() - dt.timedelta(days=1), freq="D")


def _day_weights(category: str, days: pd.DatetimeIndex) -> NDArray[np.float64]:
    doy = days.day_of_year.to_numpy()
    weekday = days.day_of_week.to_numpy()
    w = np.array([1.1, 1.1, 1.08, 1.05, 1.0, 0.7, 0.6])[weekday]
    holiday = np.zeros(len(days), dtype=bool)
    for a, b in _HOLIDAYS:
        holiday |= (days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b))
    to_festival = (days - pd.Timestamp(_SPRING_FESTIVAL)).days.to_numpy()
    to_mid_autumn = (days - pd.Timestamp(_MID_AUTUMN)).days.to_numpy()
    if category == "fire_safety":
        w = w * (1.0 + 0.45 * np.cos(2 * np.pi * (doy - 15) / 365.0))
        w = w * np.where(np.abs(to_festival) <= 10, 1.5, 1.0)
        w = w * np.where(holiday, 0.7, 1.0)
    else:
        w = w * np.where(holiday, 0.4, 1.0)
    if category in ("environment", "cityscape"):
        w = w * (1.0 + 0.35 * np.cos(2 * np.pi * (doy - 200) / 365.0))
    if category == "commerce_food_drug":
        before = ((to_festival >= -21) & (to_festival < -1)) | (
            (to_mid_autumn >= -14) & (to_mid_autumn < -1)
        )
        w = w * np.where(before, 1.35, 1.0)
    if category == "public_security":
        month = days.month.to_numpy()
        w = w * np.where(np.isin(month, [2, 7, 8]), 0.7, 1.15)
    return w / w.sum()


def _hours(
    source: NDArray[np.int64], school: NDArray[np.bool_], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Hour of day (fractional) of each report by source; school cases at the school run."""
    hours = np.arange(24)
    patrol = np.where((hours >= 8) & (hours < 12) | (hours >= 14) & (hours < 18), 1.0, 0.02)
    app = np.interp(hours, [0, 7, 9, 12, 18, 21, 23], [0.05, 0.4, 1.0, 0.9, 1.2, 1.0, 0.2])
    hotline = np.interp(hours, [0, 8, 10, 17, 21, 23], [0.02, 0.8, 1.0, 1.0, 0.6, 0.05])
    office = np.where((hours >= 9) & (hours < 17), 1.0, 0.01)
    rush = np.where(np.isin(hours, [7, 16]), 1.0, 0.08)
    tables = [patrol, app, hotline, office, rush]
    kind = np.where(school, 4, source)
    out = np.empty(len(source))
    for k, table in enumerate(tables):
        mask = kind == k
        if mask.any():
            out[mask] = rng.choice(24, mask.sum(), p=table / table.sum())
    return out + rng.random(len(source))


def _lognormal(
    rng: np.random.Generator, median: NDArray[np.float64] | float, sigma: float, n: int
) -> NDArray[np.float64]:
    return np.asarray(median) * rng.lognormal(0.0, sigma, n)


def _raw(
    points: NDArray[np.object_], source: NDArray[np.int64], crs: crs_mod.CRSLike
) -> NDArray[np.float64]:
    """The coordinates each source sends (rounded to 7 decimals, about 1 cm) for ``points``."""
    x = np.asarray(shapely.get_x(points), dtype=float)
    lon, lat = crs_mod.to_wgs84(x, np.asarray(shapely.get_y(points), dtype=float), crs)
    raw = np.column_stack([np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)])
    for k, name in enumerate(_SOURCE_CRS):
        mine = source == k
        if mine.any() and name in ("gcj02", "bd09"):
            raw[mine, 0], raw[mine, 1] = crs_mod.from_wgs84(raw[mine, 0], raw[mine, 1], name)
    return np.round(raw, 7)


def _received(raw: NDArray[np.float64], source: NDArray[np.int64], crs: crs_mod.CRSLike) -> NDArray:
    """The points (in ``crs``) that coordinates as received denote, as an import reads them."""
    lon, lat = raw[:, 0].copy(), raw[:, 1].copy()
    for k, name in enumerate(_SOURCE_CRS):
        mine = source == k
        if mine.any():
            lon[mine], lat[mine] = crs_mod.to_wgs84(raw[mine, 0], raw[mine, 1], name)
    x, y = crs_mod.from_wgs84(lon, lat, crs)
    return np.asarray(shapely.points(x, y), dtype=object)


def _as_received(
    points: NDArray[np.object_],
    source: NDArray[np.int64],
    cells: NDArray[np.object_],
    crs: crs_mod.CRSLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]:
    """Raw coordinates of each case and the point they denote, inside the case's cell.

    A point within a centimetre of its cell's edge could be read back, from coordinates
    rounded to 7 decimals (or through GCJ-02 and BD-09), in the next cell: the rare such
    case is moved to a point well inside its cell, so that importing the demo's files
    places every case where it was generated.
    """
    raw = _raw(points, source, crs)
    received = _received(raw, source, crs)
    for _ in range(3):
        off = np.flatnonzero(~shapely.within(received, cells))
        if off.size == 0:
            break
        inner = np.asarray(shapely.point_on_surface(cells[off]), dtype=object)
        raw[off] = _raw(inner, source[off], crs)
        received[off] = _received(raw[off], source[off], crs)
    return raw[:, 0], raw[:, 1], received


def build_cases(
    n_cases: int,
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    workers: pd.DataFrame,
    worker_cells: pd.DataFrame,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    profile: DistrictProfile,
    *,
    rng: np.random.Generator,
    today: dt.date | None = None,
) -> Activity:
    """``n_cases`` cases over :func:`demo_period` of ``today`` (see the module docstring).

    The same ``rng`` state gives the same cases for any ``today``, moved in time by
    whole weeks.

    Returns
    -------
    Activity
        ``records``: ``external_id``, ``category_code``, ``description``,
        ``source``, ``address``, ``raw_x``, ``raw_y``, ``raw_crs``,
        ``cell_code``, ``community_code``, ``street_code``, ``deadline``,
        ``reported_at``/``_by`` … ``closed_at``/``_by``, ``rejected_at``/``_by``,
        point geometry (metric). ``cells`` is empty.
    """
    crs = cells.crs
    categories = np.asarray(list(CATEGORY_SHARES), dtype=object)
    shares = np.asarray(list(CATEGORY_SHARES.values()))
    category = categories[rng.choice(len(categories), n_cases, p=shares / shares.sum())]

    # Anchors: candidate points and weights of each kind.
    homes = buildings[buildings["households"] > 0]
    anchors: dict[str, tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.object_]]] = {}

    def add(
        kind: str, points: gpd.GeoSeries, weight: NDArray[np.float64], address: NDArray[np.object_]
    ) -> None:
        if len(points) and weight.sum() > 0:
            xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
            anchors[kind] = (xy, weight / weight.sum(), address)

    home_pts = gpd.GeoSeries(homes["location"].to_numpy(), crs=crs)
    add("home", home_pts, homes["households"].to_numpy(dtype=float), homes["address"].to_numpy())
    estate = homes["type"].isin(["walkup", "midrise", "tower", "dorm"]).to_numpy()
    add("estate", home_pts[estate], homes["households"].to_numpy(dtype=float)[estate],
        homes["address"].to_numpy()[estate])  # fmt: skip
    for kind in ("market", "shops", "school", "construction", "old_compound", "plaza"):
        spots = hotspots[hotspots["kind"] == kind]
        add(kind, spots.geometry, spots["weight"].to_numpy(dtype=float), spots["name"].to_numpy())
    street_roads = roads[roads["kind"].isin(["arterial", "secondary", "local"])]
    if len(street_roads):
        length = street_roads.length.to_numpy()
        pick = rng.choice(len(street_roads), 4000, p=length / length.sum())
        pts = shapely.line_interpolate_point(
            street_roads.geometry.to_numpy()[pick], rng.random(4000), normalized=True
        )
        add("road", gpd.GeoSeries(pts, crs=crs), np.ones(4000),
            street_roads["name"].to_numpy()[pick])  # fmt: skip

    x = np.zeros(n_cases)
    y = np.zeros(n_cases)
    place = np.empty(n_cases, dtype=object)
    anchor_kind = np.empty(n_cases, dtype=object)
    for cat in categories:
        idx = np.flatnonzero(category == cat)
        if idx.size == 0:
            continue
        mix = {k: v for k, v in _ANCHORS[cat].items() if k in anchors} or (
            {"home": 1.0} if "home" in anchors else {}
        )
        if not mix:
            mix = {"cell": 1.0}
        kinds = np.asarray(list(mix), dtype=object)
        p = np.asarray(list(mix.values()))
        chosen = kinds[rng.choice(len(kinds), idx.size, p=p / p.sum())]
        for kind in kinds:
            sub = idx[chosen == kind]
            if sub.size == 0:
                continue
            if kind == "cell":
                reps = shapely.point_on_surface(cells.geometry.to_numpy())
                j = rng.integers(len(reps), size=sub.size)
                x[sub], y[sub] = shapely.get_x(reps[j]), shapely.get_y(reps[j])
                place[sub] = cells["code"].to_numpy()[j]
            else:
                xy, weight, address = anchors[kind]
                j = rng.choice(len(weight), sub.size, p=weight)
                sigma = _JITTER[kind]
                x[sub] = xy[j, 0] + rng.normal(0, sigma, sub.size)
                y[sub] = xy[j, 1] + rng.normal(0, sigma, sub.size)
                place[sub] = address[j]
            anchor_kind[sub] = kind
    points = np.asarray(shapely.points(x, y), dtype=object)
    # The cell of each case; a point jittered outside every cell goes back to its anchor's cell.
    tree = shapely.STRtree(cells.geometry.to_numpy())
    inside = tree.query(points, predicate="within")
    cell_of = np.full(n_cases, -1, dtype=np.int64)
    cell_of[inside[0]] = inside[1]
    lost = np.flatnonzero(cell_of < 0)
    if lost.size:
        nearest = tree.query_nearest(points[lost], all_matches=False)
        cell_of[lost[nearest[0]]] = nearest[1]
        snapped = shapely.point_on_surface(cells.geometry.to_numpy()[cell_of[lost]])
        near = shapely.distance(points[lost], cells.geometry.to_numpy()[cell_of[lost]]) > 0
        points[lost[near]] = snapped[near]
    cell_code = cells["code"].to_numpy()[cell_of]
    community_code = cells["community_code"].to_numpy()[cell_of]
    street_code = np.asarray([parent_code(c, "street") for c in community_code], dtype=object)

    # Time of report.
    days = _days()
    day_index = np.zeros(n_cases, dtype=np.int64)
    for cat in categories:
        idx = np.flatnonzero(category == cat)
        if idx.size:
            day_index[idx] = rng.choice(len(days), idx.size, p=_day_weights(str(cat), days))
    source = rng.choice(len(_SOURCES), n_cases, p=_SOURCE_SHARE)
    school = (anchor_kind == "school") & np.isin(
        category, ["public_security", "commerce_food_drug"]
    )
    hour = _hours(source, school, rng)
    period = demo_period(today)
    start = pd.Timestamp(period[0])
    reported = (
        start
        + pd.to_timedelta(day_index, unit="D")
        + pd.to_timedelta(np.round(hour * 3600.0), unit="s")
    )
    since_epoch = (reported - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    t_report = np.asarray(since_epoch, dtype=float)

    # Lifecycle.
    limit_h = np.asarray([DEADLINE_HOURS[c] for c in category], dtype=float)
    pace = dict(zip(streets["code"], rng.lognormal(0.0, 0.25, len(streets)), strict=True))
    street_pace = np.asarray([pace.get(s, 1.0) for s in street_code])
    local_hour = ((t_report + 8 * 3600) % 86400) / 3600.0
    night = (local_hour < 8) | (local_hour >= 21)
    until_morning = np.where(local_hour >= 21, 24 - local_hour + 8, 8 - local_hour) * 3600.0
    register = np.where(
        night,
        until_morning + rng.uniform(0, 3600, n_cases),
        _lognormal(rng, 25 * 60.0, 0.8, n_cases),
    )
    dispatch = _lognormal(rng, 35 * 60.0, 0.9, n_cases)
    handle = _lognormal(rng, 0.36 * limit_h * 3600.0 * street_pace, 0.8, n_cases)
    verify = _lognormal(rng, 3 * 3600.0, 0.7, n_cases)
    close = _lognormal(rng, 1.5 * 3600.0, 0.6, n_cases)
    t_registered = t_report + register
    t_dispatched = t_registered + dispatch
    t_handled = t_dispatched + handle
    t_verified = t_handled + verify
    t_closed = t_verified + close
    rejected = rng.random(n_cases) < 0.035
    t_rejected = t_report + _lognormal(rng, 2 * 3600.0, 1.0, n_cases)
    end = period[1].timestamp()
    deadline = t_report + limit_h * 3600.0

    def who(keep: NDArray[np.bool_], names: NDArray[np.object_]) -> NDArray[np.object_]:
        out = np.full(n_cases, None, dtype=object)
        out[keep] = names[keep]
        return out

    def stamp(t: NDArray[np.float64], keep: NDArray[np.bool_]) -> pd.Series:
        values = pd.to_datetime(np.round(np.where(keep, t, 0)).astype(np.int64), unit="s", utc=True)
        series = pd.Series(values).dt.tz_convert(CHINA_TZ)
        return series.where(keep)

    alive = ~rejected
    keep_reg = alive & (t_registered < end)
    keep_dis = keep_reg & (t_dispatched < end)
    keep_han = keep_dis & (t_handled < end)
    keep_ver = keep_han & (t_verified < end)
    keep_clo = keep_ver & (t_closed < end)
    keep_rej = rejected & (t_rejected < end)

    # Who.
    centre = {
        code: f"{name}网格化服务管理中心"
        for code, name in zip(streets["code"], streets["name"], strict=True)
    }
    short = dict(zip(communities["code"], communities["short_name"], strict=True))
    worker_name = dict(zip(workers["external_id"], workers["name"], strict=True))
    worker_of_cell = dict(
        zip(worker_cells["cell_code"], worker_cells["worker"].map(worker_name), strict=True)
    )
    cell_worker = np.asarray([worker_of_cell.get(c) for c in cell_code], dtype=object)
    centre_name = np.asarray(
        [centre.get(s, "网格化服务管理中心") for s in street_code], dtype=object
    )
    reporter = np.where(
        source == 0,
        np.where(pd.isna(cell_worker), centre_name, cell_worker),
        np.asarray(["居民（匿名）", "12345热线", "区职能部门"], dtype=object)[
            np.clip(source - 1, 0, 2)
        ],
    )
    street_name = dict(zip(streets["code"], streets["name"], strict=True))
    handler = np.asarray(
        [
            (short.get(cm, "") if cat in ("dispute", "public_opinion", "errand") else
             street_name.get(s, "").removesuffix("街道").removesuffix("镇").removesuffix("乡"))
            + _HANDLER[cat]
            for cat, s, cm in zip(category, street_code, community_code, strict=True)
        ],
        dtype=object,
    )  # fmt: skip
    verifier = np.where(pd.isna(cell_worker), centre_name, cell_worker)

    # What and where, in words; raw coordinates in the system each source uses.
    pick = rng.integers(0, 7, n_cases)
    description = np.asarray(
        [
            _TEXTS[c][k % len(_TEXTS[c])].format(p=str(p))
            for c, k, p in zip(category, pick, place, strict=True)
        ],
        dtype=object,
    )
    raw_x, raw_y, points = _as_received(points, source, cells.geometry.to_numpy()[cell_of], crs)
    records = gpd.GeoDataFrame(
        {
            "external_id": [f"demo-{profile.code}-c{i:07d}" for i in range(1, n_cases + 1)],
            "category_code": category,
            "description": description,
            "source": np.asarray(_SOURCES, dtype=object)[source],
            "address": place,
            "raw_x": raw_x,
            "raw_y": raw_y,
            "raw_crs": np.asarray(_SOURCE_CRS, dtype=object)[source],
            "cell_code": cell_code,
            "community_code": community_code,
            "street_code": street_code,
            "deadline": stamp(deadline, np.ones(n_cases, dtype=bool)),
            "reported_at": stamp(t_report, np.ones(n_cases, dtype=bool)),
            "reported_by": reporter,
            "registered_at": stamp(t_registered, keep_reg),
            "registered_by": who(keep_reg, centre_name),
            "dispatched_at": stamp(t_dispatched, keep_dis),
            "dispatched_by": who(keep_dis, centre_name),
            "handled_at": stamp(t_handled, keep_han),
            "handled_by": who(keep_han, handler),
            "verified_at": stamp(t_verified, keep_ver),
            "verified_by": who(keep_ver, verifier),
            "closed_at": stamp(t_closed, keep_clo),
            "closed_by": who(keep_clo, centre_name),
            "rejected_at": stamp(t_rejected, keep_rej),
            "rejected_by": who(keep_rej, centre_name),
        },
        geometry=points,
        crs=crs,
    )
    records = records.sort_values(["reported_at", "external_id"], kind="stable", ignore_index=True)
    records["external_id"] = [f"demo-{profile.code}-c{i:07d}" for i in range(1, n_cases + 1)]
    return Activity(records, pd.DataFrame(columns=["record", "cell_code"]))


def build_inspections(
    cells: gpd.GeoDataFrame,
    workers: pd.DataFrame,
    communities: pd.DataFrame,
    profile: DistrictProfile,
    *,
    rng: np.random.Generator,
    scale: float = 1.0,
    today: dt.date | None = None,
) -> Activity:
    """GPS-tracked patrols of every grid worker over :func:`demo_period` of ``today``.

    ``scale`` below 1 thins the patrols in proportion (for small test runs).

    Returns
    -------
    Activity
        ``records``: ``external_id``, ``worker`` (the worker's external id),
        ``started_at``, ``ended_at``, LineString geometry (metric);
        ``cells``: ``record`` (inspection external id), ``cell_code``.
    """
    crs = cells.crs
    days = _days()
    holiday = np.zeros(len(days), dtype=bool)
    for a, b in _HOLIDAYS:
        holiday |= (days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b))
    workday = (days.day_of_week < 5) & ~holiday
    work_days = np.flatnonzero(workday)
    geoms = cells.set_index("code").geometry
    kind = dict(zip(communities["code"], communities["kind"], strict=True))
    n_workers = len(workers)
    if n_workers == 0:
        empty = gpd.GeoDataFrame(
            {"external_id": [], "worker": [], "started_at": [], "ended_at": []},
            geometry=[],
            crs=crs,
        )
        return Activity(empty, pd.DataFrame(columns=["record", "cell_code"]))
    p = min(PATROLS_PER_WEEK / 5.0 * min(scale, 1.0) ** 0.5, 1.0)
    takes = rng.random((n_workers, len(work_days))) < p
    w_idx, d_idx = np.nonzero(takes)
    n = len(w_idx)
    cell_code = workers["cell_code"].to_numpy()[w_idx]
    rural = np.asarray([kind.get(c[:12]) == "village" for c in workers["cell_code"]])[w_idx]
    polygons = shapely.get_parts(geoms.reindex(workers["cell_code"]).to_numpy(), return_index=True)
    # The largest polygon of each worker's cell: its ring (simplified to 2 m) is the route.
    parts, owner = polygons
    order = np.lexsort((-shapely.area(parts), owner))
    first = np.unique(owner[order], return_index=True)[1]
    worker_rings = shapely.simplify(shapely.get_exterior_ring(parts[order][first]), 2.0)
    ring_xy, ring_of = shapely.get_coordinates(worker_rings, return_index=True)
    seg = np.hypot(np.diff(ring_xy[:, 0]), np.diff(ring_xy[:, 1]))
    seg[ring_of[1:] != ring_of[:-1]] = 0.0  # no segment between the end of a ring and the next
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    ring_start = np.searchsorted(ring_of, np.arange(len(worker_rings)))
    ring_end = np.searchsorted(ring_of, np.arange(len(worker_rings)), side="right") - 1
    ring_length = arc[ring_end] - arc[ring_start]
    perimeter = ring_length[w_idx]
    length = np.minimum(perimeter * rng.uniform(0.6, 1.0, n), np.where(rural, 6000.0, 3000.0))
    step = np.where(rural, 80.0, 40.0)
    count = np.clip(np.ceil(length / step).astype(np.int64) + 1, 6, 120)
    start = rng.random(n) * perimeter
    owner_pt = np.repeat(np.arange(n), count)
    offset = np.arange(owner_pt.size) - np.repeat(np.cumsum(count) - count, count)
    along = (start[owner_pt] + offset * (length / (count - 1))[owner_pt]) % np.maximum(
        perimeter[owner_pt], 1e-9
    )
    # Points along the rings by arc length, all at once (vertex search in the joined arcs).
    ring = w_idx[owner_pt]
    target = arc[ring_start[ring]] + along
    k = np.clip(
        np.searchsorted(arc, target, side="right") - 1, ring_start[ring], ring_end[ring] - 1
    )
    k = np.maximum(k, 0)
    span = np.maximum(arc[k + 1] - arc[k], 1e-12)
    f = np.clip((target - arc[k]) / span, 0.0, 1.0)
    px = ring_xy[k, 0] + f * (ring_xy[k + 1, 0] - ring_xy[k, 0]) + rng.normal(0, 4.0, owner_pt.size)
    py = ring_xy[k, 1] + f * (ring_xy[k + 1, 1] - ring_xy[k, 1]) + rng.normal(0, 4.0, owner_pt.size)
    tracks = shapely.linestrings(px, py, indices=owner_pt)
    speed = np.where(rural, 3.5, 1.1)
    duration = length / speed + rng.uniform(5, 25, n) * 60.0
    hour = np.where(rng.random(n) < 0.6, rng.uniform(8.5, 10.5, n), rng.uniform(14.5, 16.5, n))
    base = pd.Timestamp(demo_period(today)[0])
    started = (
        base
        + pd.to_timedelta(work_days[d_idx], unit="D")
        + pd.to_timedelta(np.round(hour * 3600), unit="s")
    )
    ended = started + pd.to_timedelta(np.round(duration), unit="s")
    order = np.lexsort((w_idx, np.asarray(started.asi8)))
    ids = np.asarray([f"demo-{profile.code}-i{i:07d}" for i in range(1, n + 1)], dtype=object)
    records = gpd.GeoDataFrame(
        {
            "external_id": ids,
            "worker": workers["external_id"].to_numpy()[w_idx][order],
            "started_at": pd.Series(started[order]).dt.tz_convert("Asia/Shanghai"),
            "ended_at": pd.Series(ended[order]).dt.tz_convert("Asia/Shanghai"),
            "cell_code": cell_code[order],
        },
        geometry=tracks[order],
        crs=crs,
    )
    # Visited cells: every cell the track passes through (as the importer of patrols finds
    # them, :func:`gridgis.intake.import_inspections`); the tracks go in the tree.
    tree = shapely.STRtree(records.geometry.to_numpy())
    cell_k, track_k = tree.query(cells.geometry.to_numpy(), predicate="intersects")
    visited = pd.DataFrame(
        {"record": ids[track_k], "cell_code": cells["code"].to_numpy()[cell_k]}
    ).sort_values(["record", "cell_code"], ignore_index=True)
    return Activity(records.drop(columns="cell_code"), visited)
