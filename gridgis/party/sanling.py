"""三零 communities (居民零上访、安全零事故、治安零发案): three figures per community and period.

A community qualifies (三零) in a period when none of its cases of that period counts
as a petition (上访), a safety accident (安全事故) or a public-security case (治安案件).
Which case categories count for which figure is a table administrators edit
(``sanling_category``, :func:`set_categories`); its defaults are the categories whose
Chinese names say so (信访/上访, 事故, 治安案件/刑事/发案, :func:`default_categories`).
A 治安隐患 or 消防安全 report is a hazard found, not an incident, and does not count
unless an administrator maps it.

A case counts in the community it was filed in, by the time it was reported (China
Standard Time); a case merged into another (合并) or rejected (作废) does not count.

Periods (:func:`parse_period`): a month ``2025-03``, a quarter ``2025-Q1``, a year
``2025``, or a range of days ``2025-01-01..2025-02-15`` (both days included).

Examples
--------
>>> p = parse_period("2025-Q2")
>>> p.label, p.start.isoformat(), p.end.isoformat()
('2025-Q2', '2025-04-01', '2025-07-01')
>>> parse_period("2025-02").days
28
>>> figures = sanling_figures(engine, "2025", within="350304001")  # doctest: +SKIP
>>> list(figures.columns)[:4]  # doctest: +SKIP
['community_code', 'community', 'street_code', 'street']
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, and_, delete, func, insert, literal, select

from gridgis import audit
from gridgis.db.models import (
    SANLING_FIGURE_NAMES_ZH,
    SANLING_FIGURES,
    Case,
    CaseCategory,
    Community,
    SanlingCategory,
    Street,
)
from gridgis.db.queries import connection, result_frame, transaction
from gridgis.errors import InputError, NotFoundError
from gridgis.times import CHINA_TZ

__all__ = [
    "DEFAULT_PATTERNS",
    "SANLING_COLUMNS",
    "Period",
    "category_map",
    "counted_cases",
    "default_categories",
    "figure_names",
    "latest_quarter",
    "parse_period",
    "sanling_figures",
    "set_categories",
]

DEFAULT_PATTERNS: dict[str, str] = {
    "petition": "(信访|上访)",
    "accident": "事故",
    "security": "(治安案件|刑事|发案)",
}
"""The default mapping: a category counts for a figure when its Chinese name matches
(the same patterns migration 0022 seeds the table with)."""

SANLING_COLUMNS: tuple[str, ...] = (
    "community_code", "community", "street_code", "street", "period", "since", "until",
    "petition", "accident", "security", "total", "sanling",
)  # fmt: skip
"""The columns of the figures (:func:`sanling_figures`), in order: ``since`` the first day,
``until`` the last day (included), ``sanling`` whether all three are zero."""

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|~|至)\s*(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """A period of whole days: ``start`` included, ``end`` excluded; ``label`` as asked."""

    label: str
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days

    @property
    def last(self) -> dt.date:
        """The period's last day."""
        return self.end - dt.timedelta(days=1)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The period as times: midnight of its first day and of the day after its last,
        China Standard Time."""
        return (
            dt.datetime.combine(self.start, dt.time(), tzinfo=CHINA_TZ),
            dt.datetime.combine(self.end, dt.time(), tzinfo=CHINA_TZ),
        )


def _month_after(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1)


def parse_period(value: str | Period) -> Period:
    """The period ``value`` names: ``2025-03``, ``2025-Q1``, ``2025`` or
    ``2025-01-01..2025-02-15`` (both days included).

    Raises
    ------
    InputError
        Naming the value and the forms allowed.

    Examples
    --------
    >>> parse_period("2025-01-01..2025-01-31").days
    31
    >>> parse_period("2025-13")
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: `period` was '2025-13' but is expected to be a month (2025-03), a quarter (2025-Q1), a year (2025) or days (2025-01-01..2025-02-15)
    """  # noqa: E501
    if isinstance(value, Period):
        return value
    text = str(value).strip()
    wrong = InputError(
        f"`period` was {value!r} but is expected to be a month (2025-03), a quarter "
        "(2025-Q1), a year (2025) or days (2025-01-01..2025-02-15)",
        field="period",
    )
    try:
        if m := _MONTH.match(text):
            year, month = int(m.group(1)), int(m.group(2))
            start = dt.date(year, month, 1)
            return Period(f"{year:04d}-{month:02d}", start, _month_after(year, month))
        if m := _QUARTER.match(text):
            year, quarter = int(m.group(1)), int(m.group(2))
            start = dt.date(year, 3 * quarter - 2, 1)
            return Period(f"{year:04d}-Q{quarter}", start, _month_after(year, 3 * quarter))
        if m := _YEAR.match(text):
            year = int(m.group(1))
            return Period(f"{year:04d}", dt.date(year, 1, 1), dt.date(year + 1, 1, 1))
        if m := _RANGE.match(text):
            first, last = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
            if last < first:
                raise InputError(
                    f"`period` was {value!r} but its last day comes before its first",
                    field="period",
                    zh=f"`period` 为 {value!r}，结束日期早于开始日期",
                )
            return Period(
                f"{first.isoformat()}..{last.isoformat()}", first, last + dt.timedelta(days=1)
            )
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise wrong from None
    raise wrong


# --- the mapping ------------------------------------------------------------------------------


def category_map(bind: Engine | Connection) -> dict[str, list[str]]:
    """Each figure's category codes (``petition``, ``accident``, ``security``), sorted."""
    out: dict[str, list[str]] = {f: [] for f in SANLING_FIGURES}
    with connection(bind) as conn:
        rows = conn.execute(
            select(SanlingCategory.figure, SanlingCategory.category_code).order_by(
                SanlingCategory.category_code
            )
        )
        for figure, code in rows:
            out[str(figure)].append(str(code))
    return out


def default_categories(bind: Engine | Connection) -> dict[str, list[str]]:
    """The default mapping over the stored categories (:data:`DEFAULT_PATTERNS`)."""
    with connection(bind) as conn:
        rows = conn.execute(
            select(CaseCategory.code, CaseCategory.name_zh).order_by(CaseCategory.code)
        ).all()
    out: dict[str, list[str]] = {f: [] for f in SANLING_FIGURES}
    taken: set[str] = set()
    for figure, pattern in DEFAULT_PATTERNS.items():
        for code, name in rows:
            if code not in taken and re.search(pattern, str(name)):
                out[figure].append(str(code))
                taken.add(str(code))
    return out


def set_categories(
    bind: Engine | Connection,
    mapping: Mapping[str, list[str]],
    *,
    actor: str,
) -> dict[str, list[str]]:
    """Replace the categories of the figures ``mapping`` names (code or Chinese/English
    name of each category); the other figures keep theirs. Audited.

    Raises
    ------
    InputError
        For a figure that is not one of :data:`SANLING_FIGURES`, or a category given
        for two figures.
    NotFoundError
        For a category that does not exist (the message lists those there are).
    """
    from gridgis.cases.categories import load_categories

    unknown = sorted(set(mapping) - set(SANLING_FIGURES))
    if unknown:
        raise InputError(
            f"`figure` was {unknown[0]!r} but is expected to be one of {list(SANLING_FIGURES)}",
            field="figure",
            zh=f"`figure` 为 {unknown[0]!r}，应为以下之一：{list(SANLING_FIGURES)}",
        )
    with transaction(bind) as conn:
        categories = load_categories(conn)
        resolved = {
            f: list(dict.fromkeys(categories.resolve(c) for c in v)) for f, v in mapping.items()
        }
        seen: dict[str, str] = {}
        for figure, codes in resolved.items():
            for code in codes:
                if code in seen and seen[code] != figure:
                    raise InputError(
                        f"category {code!r} was given for both {seen[code]} and {figure}: a "
                        "category counts for one figure only",
                        field="category",
                        zh=f"类别 {code!r} 同时给了 {seen[code]} 和 {figure}："
                        "一个类别只能计入一项数字",
                    )
                seen[code] = figure
        before = category_map(conn)
        conn.execute(
            delete(SanlingCategory).where(
                SanlingCategory.figure.in_(list(resolved))
                | SanlingCategory.category_code.in_(list(seen))
            )
        )
        rows = [{"category_code": c, "figure": f} for c, f in seen.items()]
        if rows:
            conn.execute(insert(SanlingCategory), rows)
        after = category_map(conn)
        audit.record(
            conn,
            actor=actor,
            action="update",
            object_type="sanling_categories",
            object_id="all",
            before=before,
            after=after,
        )
    return after


# --- the figures --------------------------------------------------------------------------------


def _counted(period: Period) -> Any:
    """The conditions of a case that counts: reported in the period, neither merged nor
    rejected."""
    since, until = period.bounds()
    return and_(
        Case.reported_at >= since,
        Case.reported_at < until,
        Case.merged_into_id.is_(None),
        Case.rejected_at.is_(None),
    )


def sanling_figures(
    bind: Engine | Connection,
    period: str | Period,
    *,
    within: str | None = None,
) -> pd.DataFrame:
    """The three figures and the status of every community in ``within`` for ``period``.

    Parameters
    ----------
    bind:
        The database.
    period:
        See :func:`parse_period`.
    within:
        A district, street or community code: the communities whose code starts with it
        (all when ``None``).

    Returns
    -------
    pandas.DataFrame
        One row per community (sorted by code), the columns of :data:`SANLING_COLUMNS`;
        ``sanling`` is ``True`` when the three counts are zero.

    Raises
    ------
    InputError
        For a period not understood (:func:`parse_period`).
    NotFoundError
        When ``within`` names no stored area.
    """
    chosen = parse_period(period)
    figure = SanlingCategory.figure
    counts = (
        select(
            Case.community_code.label("code"),
            *[func.count().filter(figure == f).label(f) for f in SANLING_FIGURES],
        )
        .join(SanlingCategory, SanlingCategory.category_code == Case.category_code)
        .where(_counted(chosen), Case.community_code.is_not(None))
        .group_by(Case.community_code)
    )
    if within is not None:
        counts = counts.where(Case.community_code.startswith(within, autoescape=True))
    tally = counts.subquery("tally")
    query = (
        select(
            Community.code.label("community_code"),
            Community.name.label("community"),
            Street.code.label("street_code"),
            Street.name.label("street"),
            *[func.coalesce(tally.c[f], literal(0)).label(f) for f in SANLING_FIGURES],
        )
        .join(Street, Street.code == Community.street_code)
        .outerjoin(tally, tally.c.code == Community.code)
        .order_by(Community.code)
    )
    if within is not None:
        query = query.where(Community.code.startswith(within, autoescape=True))
    with connection(bind) as conn:
        frame = result_frame(
            conn.execute(query),
            columns=["community_code", "community", "street_code", "street", *SANLING_FIGURES],
        )
        if frame.empty and within is not None:
            known = conn.execute(
                select(func.count()).select_from(Street).where(Street.code.startswith(within[:9]))
            ).scalar_one()
            if not known:
                raise NotFoundError(
                    f"`within` was {within!r} but no area has that code",
                    zh=f"`within` 为 {within!r}，没有这个编码的区域",
                )
    for f in SANLING_FIGURES:
        frame[f] = frame[f].astype("int64")
    frame["total"] = frame[list(SANLING_FIGURES)].sum(axis=1).astype("int64")
    frame["sanling"] = frame["total"] == 0
    frame["period"] = chosen.label
    frame["since"] = chosen.start
    frame["until"] = chosen.last
    return frame[list(SANLING_COLUMNS)].reset_index(drop=True)


def counted_cases(
    bind: Engine | Connection,
    period: str | Period,
    community: str,
    *,
    figure: str | None = None,
) -> list[int]:
    """The ids of the cases a community's figures count (one ``figure`` or all three)."""
    chosen = parse_period(period)
    if figure is not None and figure not in SANLING_FIGURES:
        raise InputError(
            f"`figure` was {figure!r} but is expected to be one of {list(SANLING_FIGURES)}",
            field="figure",
            zh=f"`figure` 为 {figure!r}，应为以下之一：{list(SANLING_FIGURES)}",
        )
    query = (
        select(Case.id)
        .join(SanlingCategory, SanlingCategory.category_code == Case.category_code)
        .where(_counted(chosen), Case.community_code == community)
        .order_by(Case.id)
    )
    if figure is not None:
        query = query.where(SanlingCategory.figure == figure)
    with connection(bind) as conn:
        return [int(i) for i in conn.execute(query).scalars()]


def latest_quarter(bind: Engine | Connection, *, today: dt.date | None = None) -> str:
    """The quarter of the latest case reported (a page's default period), else the
    quarter of ``today``."""
    with connection(bind) as conn:
        latest = conn.execute(select(func.max(Case.reported_at))).scalar()
    day = latest.astimezone(CHINA_TZ).date() if latest is not None else (today or dt.date.today())
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def figure_names(language: str = "zh") -> dict[str, str]:
    """The figures' names: Chinese (``zh``) or English."""
    if language == "en":
        return {
            "petition": "Petitions",
            "accident": "Safety accidents",
            "security": "Public-security cases",
        }
    return dict(SANLING_FIGURE_NAMES_ZH)
