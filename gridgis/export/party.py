"""The 大走访 visits, the ledger (台账) and the 三零 figures as :func:`gridgis.export.export`
writes them (issue 19, point 8): the files of ``gridgis export visits | ledger | sanling``.

Each is written by its own module, in its own layout: the visits and the ledger by
:mod:`gridgis.export.visits` (the usual Chinese layout of a 台账: 序号, 社区, 网格, 走访对象 …),
the 三零 figures by :mod:`gridgis.export.sanling`. This module reads their rows for an area,
a period and (visits and ledger) a campaign, and masks people's names where the exporting
user may not see them.

The period (``since``, ``until``: China Standard Time, ``until`` excluded) filters visits
by when they were made and ledger entries by when their problem was found; for 三零 it is
the period of the figures (both days, or neither: the quarter of the latest case reported,
the 三零 page's default).

Examples
--------
>>> import io
>>> PARTY_EXPORTS["ledger"].formats
('xlsx', 'csv', 'gpkg')
>>> write_party(engine, "sanling", "csv", io.BytesIO(), within=None, since=dt.date(2025, 1, 1),
...             until=dt.date(2025, 4, 1)) > 0
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, Engine

from gridgis.db.queries import connection
from gridgis.errors import InputError
from gridgis.export.sanling import SANLING_FORMATS, export_sanling
from gridgis.export.visits import LEDGER_FORMATS, write_ledger, write_visits
from gridgis.party.ledger import list_ledger
from gridgis.party.sanling import latest_quarter
from gridgis.party.visits import list_visits
from gridgis.times import CHINA_TZ

__all__ = ["PARTY_EXPORTS", "PartyExport", "write_party"]

People = Callable[[str | None], bool]
"""Whether the exporting user sees the people's data of an area (a street code)."""


@dataclass(frozen=True)
class PartyExport:
    """One export of party work.

    Attributes
    ----------
    name:
        What ``gridgis export NAME`` exports.
    formats:
        The formats it is written in.
    person_fields:
        The columns holding people's names (masked unless revealed); none for figures.
    filename:
        The file's name, without its suffix.
    """

    name: str
    formats: tuple[str, ...]
    person_fields: tuple[str, ...] = ()
    filename: str = ""


PARTY_EXPORTS: dict[str, PartyExport] = {
    "visits": PartyExport(
        "visits", tuple(LEDGER_FORMATS), ("target_name", "visitor_name"), "visits"
    ),
    "ledger": PartyExport(
        "ledger", tuple(LEDGER_FORMATS), ("target_name", "visitor_name"), "ledger"
    ),
    "sanling": PartyExport("sanling", SANLING_FORMATS, (), "sanling"),
}
"""The exports of party work, by name."""


def _day(value: dt.date | dt.datetime | None, name: str) -> dt.date | None:
    """A period bound as a day (China Standard Time); a time that is not a midnight is refused."""
    if value is None or not isinstance(value, dt.datetime):
        return value
    local = value.astimezone(CHINA_TZ)
    if local.time() != dt.time():
        raise InputError(
            f"`{name}` was {value.isoformat()} but the 三零 figures count whole days: give a "
            "day (its midnight in China Standard Time)",
            field=name,
            zh=f"`{name}` 为 {value.isoformat()}，但三零统计按整天计算：请给出日期（北京时间零点）",
        )
    return local.date()


def _moment(value: dt.date | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)


def sanling_period(
    conn: Connection, since: dt.date | dt.datetime | None, until: dt.date | dt.datetime | None
) -> str:
    """The 三零 period of an export's ``since`` and ``until`` (excluded): those days, or the
    quarter of the latest case reported when neither is given.

    Raises
    ------
    InputError
        When only one is given.
    """
    first, end = _day(since, "since"), _day(until, "until")
    if first is None and end is None:
        return latest_quarter(conn)
    if first is None:
        raise InputError(
            f"a 三零 export was given its last day ({end}) but not its first (`from`, "
            "`since`): give both days, or neither for the latest quarter",
            field="since",
            zh=f"三零导出给了最后一天（{end}），但没有给第一天（`from`、`since`）："
            "请两天都给，或都不给以导出最近一个季度",
        )
    if end is None:
        raise InputError(
            f"a 三零 export was given its first day ({first}) but not its last (`to`, "
            "`until`): give both days, or neither for the latest quarter",
            field="until",
            zh=f"三零导出给了第一天（{first}），但没有给最后一天（`to`、`until`）："
            "请两天都给，或都不给以导出最近一个季度",
        )
    last = end - dt.timedelta(days=1)
    return f"{first.isoformat()}..{last.isoformat()}"


def write_party(
    bind: Engine | Connection,
    what: str,
    fmt: str,
    out: Path | BinaryIO,
    *,
    within: str | None,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    campaign: int | None = None,
    people: People | None = None,
    encoding: str = "utf-8",
) -> int:
    """Write the visits, the ledger or the 三零 figures of the area ``within`` to ``out``.

    Parameters
    ----------
    what:
        ``visits``, ``ledger`` or ``sanling``.
    fmt:
        One of the export's :attr:`PartyExport.formats`.
    out:
        A path (a GeoPackage needs one) or a binary file open for writing.
    within:
        A district, street or community code (``None``: everywhere).
    since, until:
        The period (see the module's notes).
    campaign:
        Visits and ledger: only this campaign's.
    people:
        Visits and ledger: whether the user sees an area's people's data (``None``: as
        stored); names elsewhere are masked.
    encoding:
        ``utf-8``, or ``gbk`` for a 三零 CSV file.

    Returns
    -------
    int
        The rows written.

    Raises
    ------
    InputError
        A format, encoding, period or campaign the export does not take, naming it.
    """
    if what not in PARTY_EXPORTS:
        raise InputError(
            f"`what` was {what!r} but is expected to be one of {list(PARTY_EXPORTS)}",
            zh=f"`what` 为 {what!r}，应为以下之一：{list(PARTY_EXPORTS)}",
        )
    spec = PARTY_EXPORTS[what]
    if fmt not in spec.formats:
        raise InputError(
            f"`fmt` was {fmt!r} but {what} are exported as {list(spec.formats)}",
            field="fmt",
            zh=f"`fmt` 为 {fmt!r}，但 {what} 只能导出为 {list(spec.formats)}",
        )
    if what == "sanling":
        if campaign is not None:
            raise InputError(
                f"`campaign` was {campaign!r} but the 三零 figures have no campaign; leave it out",
                field="campaign",
                zh=f"`campaign` 为 {campaign!r}，但三零统计不属于走访活动：请去掉它",
            )
        with connection(bind) as conn:
            period = sanling_period(conn, since, until)
            return export_sanling(conn, period, fmt, out, within=within, encoding=encoding)
    if encoding != "utf-8":
        raise InputError(
            f"`encoding` was {encoding!r} but the {what} are written in UTF-8 only",
            field="encoding",
            zh=f"`encoding` 为 {encoding!r}，但 {what} 只能以 UTF-8 编码导出",
        )
    if fmt == "gpkg" and not isinstance(out, Path):
        raise InputError(
            "a GeoPackage is written to a path", field="out", zh="GeoPackage 只能写入文件路径"
        )
    start, end = _moment(since), _moment(until)
    if what == "ledger":
        entries = list_ledger(
            bind, campaign_id=campaign, within=within, since=start, until=end, people=people,
            limit=None,
        )  # fmt: skip
        return write_ledger(out, entries, fmt=fmt)
    visits = list_visits(
        bind, campaign_id=campaign, within=within, since=start, until=end, people=people,
        limit=None,
    )  # fmt: skip
    return write_visits(out, visits, fmt=fmt)
