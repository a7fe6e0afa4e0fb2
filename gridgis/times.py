"""Times: reading them (files, requests, the library's arguments) and showing them.

One module owns both directions, so that every part of gridgis agrees:

* China Standard Time is the fixed offset **+08:00** (:data:`CHINA_TZ`), not
  the IANA zone ``Asia/Shanghai``: zoneinfo gives that zone its local mean
  time (+08:05:43) before 1901 and summer time (+09:00) in 1986-1991, which
  no case file means. A time written without an offset is read at +08:00.
* Every time shown to a person or answered by an API goes through
  :func:`to_display` (one value) or :func:`display_series` (a pandas
  column): ISO 8601 at +08:00, whatever the year.
* A time a case or an inspection says it happened is *plausible* from
  1949-10-01 (:data:`EARLIEST`) to the end of tomorrow in China
  (:func:`latest`): :func:`parse_time` refuses others, naming the field and
  the value, and the bulk import rejects such rows with the reason
  (:func:`read_times`).

Examples
--------
>>> parse_time("2026/3/1 8:30", field="reported_at").isoformat()
'2026-03-01T08:30:00+08:00'
>>> to_display(dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
'1900-01-01T08:00:00+08:00'
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from gridgis.errors import InputError

__all__ = [
    "CHINA_TZ",
    "DEFAULT_TIMEZONE",
    "EARLIEST",
    "aware",
    "display_series",
    "latest",
    "parse_time",
    "parse_times",
    "read_times",
    "time_zone",
    "to_display",
    "to_local",
    "to_minutes",
]

CHINA_TZ = dt.timezone(dt.timedelta(hours=8))
"""China Standard Time, UTC+08:00 (no summer time since 1991, no local mean time)."""

DEFAULT_TIMEZONE = "Asia/Shanghai"
"""The time zone of times written without one: read as :data:`CHINA_TZ`."""

EARLIEST = dt.datetime(1949, 10, 1, tzinfo=CHINA_TZ)
"""The earliest plausible time of a case or an inspection."""

_CHINA_NAMES = {"asia/shanghai", "prc", "asia/chongqing", "asia/chungking", "asia/harbin", "cst"}
_AWARE = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.I)
_TIME_FORMATS: tuple[str, ...] = (
    "ISO8601",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日%H:%M",
    "%Y年%m月%d日 %H时%M分",
    "%Y年%m月%d日",
)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31
_ZONE_YEARS = (1900, 9999)  # zoneinfo zones other than China's: years pandas can localise


def time_zone(timezone: str) -> dt.tzinfo:
    """The zone of times written without one: :data:`CHINA_TZ` for China's names, else IANA.

    Examples
    --------
    >>> time_zone("Asia/Shanghai") is CHINA_TZ
    True
    """
    if not isinstance(timezone, str):
        raise InputError(
            f"`timezone` was {timezone!r} but is expected to be an IANA name",
            zh=f"`timezone` 为 {timezone!r}，应为 IANA 时区名",
        )
    if timezone.strip().lower() in _CHINA_NAMES:
        return CHINA_TZ
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"`timezone` was {timezone!r} but is expected to be an IANA name such as "
            "'Asia/Shanghai' or 'UTC'",
            zh=f"`timezone` 为 {timezone!r}，应为 IANA 时区名，如 'Asia/Shanghai' 或 'UTC'",
        ) from exc


def latest(now: dt.datetime | pd.Timestamp | None = None) -> dt.datetime:
    """The latest plausible time at ``now``: the end of tomorrow in China (+08:00).

    Examples
    --------
    >>> latest(dt.datetime(2026, 3, 1, 23, 0, tzinfo=CHINA_TZ)).isoformat()
    '2026-03-03T00:00:00+08:00'
    """
    moment = dt.datetime.now(dt.UTC) if now is None else aware(now, field="now")
    today = moment.astimezone(CHINA_TZ).date()
    return dt.datetime.combine(today + dt.timedelta(days=2), dt.time(), tzinfo=CHINA_TZ)


def aware(value: object, *, field: str) -> dt.datetime:
    """``value`` (a datetime) as an aware datetime; a naive one is read at +08:00.

    No plausibility check: for the bounds of a query (``since``, ``until``, ``now``).

    Raises
    ------
    InputError
        When ``value`` is not a datetime (the message names ``field``).
    """
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            raise InputError(
                f"`{field}` was NaT but is expected to be a datetime",
                zh=f"`{field}` 为空（NaT），应为日期时间",
            )
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise InputError(
            f"`{field}` was {value!r} but is expected to be a datetime "
            "(a naive one is read as China Standard Time, +08:00)",
            zh=f"`{field}` 为 {value!r}，应为日期时间（未注明时区的按北京时间 +08:00 理解）",
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=CHINA_TZ)


def _shown(value: object) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return repr(value.isoformat())
    return repr(value)


def _implausible(moment: dt.datetime | pd.Timestamp, limit: dt.datetime) -> tuple[str, str] | None:
    """Why ``moment`` (aware) is no plausible time of a case or an inspection, if it is not
    (in English and in Chinese)."""
    if pd.Timestamp(moment) < pd.Timestamp(EARLIEST):  # pandas: also year 0 (1-01-01 +08:00)
        first = EARLIEST.date().isoformat()
        return f"is before {first}", f"早于 {first}"
    if pd.Timestamp(moment) >= pd.Timestamp(limit):
        tomorrow = (limit.date() - dt.timedelta(days=1)).isoformat()
        return f"is after tomorrow ({tomorrow})", f"晚于明天（{tomorrow}）"
    return None


def parse_time(
    value: object,
    *,
    field: str,
    now: dt.datetime | pd.Timestamp | None = None,
    plausible: bool = True,
) -> dt.datetime:
    """Read one time (of a case, a step, an inspection, an option), checked to be plausible.

    Parameters
    ----------
    value:
        A datetime, a date (midnight) or text in one of the forms case files
        use (ISO 8601, ``2026/3/1 8:30``, ``2026年3月1日``...). Without an
        offset it is China Standard Time (+08:00).
    field:
        The name of the value, for the message.
    now:
        The moment "tomorrow" is counted from (default: now).
    plausible:
        Refuse times before 1949-10-01 or after tomorrow (``False``: any time,
        for the bounds of a query).

    Returns
    -------
    datetime.datetime
        Aware; text without an offset at +08:00.

    Raises
    ------
    InputError
        When ``value`` is not a time, or (``plausible``) is before 1949-10-01
        or after tomorrow; the message names ``field`` and the value.

    Examples
    --------
    >>> parse_time("1900-01-01", field="reported_at")
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: `reported_at` was '1900-01-01' but is before 1949-10-01: \
not a plausible date
    """
    moment: dt.datetime | pd.Timestamp
    if isinstance(value, dt.datetime | pd.Timestamp):
        moment = aware(value, field=field)
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)
    elif isinstance(value, str) and value.strip() and len(value) <= 64:
        try:  # ISO 8601, the usual case, without pandas
            moment = aware(dt.datetime.fromisoformat(value.strip()), field=field)
        except ValueError:
            moment = parse_times([value]).iloc[0]  # the other forms of case files
        if moment is pd.NaT:
            raise InputError(
                f"`{field}` was {value!r} but is expected to be a time such as "
                "2026-03-01T08:30:00+08:00 or 2026-03-01 08:30 (China Standard Time)",
                zh=f"`{field}` 为 {value!r}，应为时间，如 2026-03-01T08:30:00+08:00 或 "
                "2026-03-01 08:30（北京时间）",
            )
    else:
        raise InputError(
            f"`{field}` was {value!r} but is expected to be a time "
            "(a datetime, or text such as 2026-03-01T08:30:00+08:00)",
            zh=f"`{field}` 为 {value!r}，应为时间（日期时间，或 2026-03-01T08:30:00+08:00 "
            "这样的文字）",
        )
    why = _implausible(moment, latest(now)) if plausible else None
    if why is not None:
        raise InputError(
            f"`{field}` was {_shown(value)} but {why[0]}: not a plausible date",
            zh=f"`{field}` 为 {_shown(value)}，{why[1]}：不是合理的日期",
        )
    if isinstance(moment, pd.Timestamp):  # text of the other forms: read in UTC
        if moment.year < 2:
            raise InputError(
                f"`{field}` was {_shown(value)} but is before year 2",
                zh=f"`{field}` 为 {_shown(value)}，早于公元 2 年",
            )
        return moment.to_pydatetime().astimezone(CHINA_TZ)
    return moment


def to_local(value: object) -> dt.datetime | None:
    """An aware time at +08:00 (a naive one is taken to be at +08:00); ``None`` for none."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, dt.datetime):
        raise InputError(f"{value!r} is not a datetime", zh=f"{value!r} 不是日期时间")
    if value.tzinfo is None:
        return value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(CHINA_TZ)


def to_display(value: object) -> str | None:
    """ISO 8601 text of a time at +08:00, for people and API answers; ``None`` for none.

    Examples
    --------
    >>> to_display(dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC))
    '2026-03-01T08:30:00+08:00'
    """
    local = to_local(value)
    return None if local is None else local.isoformat()


def to_minutes(value: object) -> str:
    """``2026-03-01 08:30``: a time at +08:00 to the minute, for pages; ``""`` for none.

    Examples
    --------
    >>> to_minutes(dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
    '1900-01-01 08:00'
    """
    local = to_local(value)
    return "" if local is None else local.strftime("%Y-%m-%d %H:%M")


def display_series(values: pd.Series) -> pd.Series:
    """A column of times (aware, or naive UTC as the database gives them) at +08:00."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(CHINA_TZ)


def _parse_naive_and_aware(
    values: ArrayLike, zone: dt.tzinfo, *, excel_serials: bool
) -> tuple[pd.Series, np.ndarray]:
    """Times in UTC (``NaT`` where not a time) and where a naive one was too early to localise."""
    items = list(np.asarray(values, dtype=object).ravel())
    n = len(items)
    naive = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us]")
    out = pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")
    early = np.zeros(n, dtype=bool)
    texts: dict[int, str] = {}
    aware_texts: dict[int, str] = {}
    moments_naive: dict[int, Any] = {}
    moments_aware: dict[int, Any] = {}
    serials: dict[int, float] = {}
    # Sorting mixed Python values into kinds needs a look at each one; the parsing is vectorised.
    for i, value in enumerate(items):
        if isinstance(value, str):
            stripped = value.strip()
            if stripped[:1].isdigit():  # not pandas' words 'now', 'today'
                (aware_texts if _AWARE.search(stripped) else texts)[i] = stripped
        elif isinstance(value, dt.datetime | pd.Timestamp):
            if value is not pd.NaT:
                (moments_aware if value.tzinfo is not None else moments_naive)[i] = value
        elif isinstance(value, dt.date):
            moments_naive[i] = dt.datetime(value.year, value.month, value.day)
        elif isinstance(value, np.datetime64) and not np.isnat(value):
            moments_naive[i] = value
        elif (
            excel_serials
            and isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
            and 0 < float(value) < _EXCEL_MAX_SERIAL
        ):
            serials[i] = float(value)
    if texts:
        index = list(texts)
        series = pd.Series(list(texts.values()), index=index, dtype=object)
        parsed = pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
        for fmt in _TIME_FORMATS:
            todo = parsed.isna()
            if not todo.any():
                break
            attempt = pd.to_datetime(series[todo], format=fmt, errors="coerce")
            parsed[todo] = attempt.astype("datetime64[us]")
        naive[index] = parsed
    if moments_naive:
        index = list(moments_naive)
        naive[index] = pd.to_datetime(
            pd.Series(list(moments_naive.values()), index=index), errors="coerce"
        ).astype("datetime64[us]")
    if serials:
        index = list(serials)
        days = pd.to_timedelta(pd.Series(list(serials.values()), index=index), unit="D")
        naive[index] = (_EXCEL_EPOCH + days).astype("datetime64[us]").dt.round("s")
    has_naive = naive.notna().to_numpy()
    if zone is not CHINA_TZ:
        # zoneinfo's rules cannot be applied by pandas far from today; such times are
        # implausible anyway, and reported as too early.
        years = naive.dt.year.to_numpy(dtype=float, na_value=np.nan)
        outside = has_naive & ~((years >= _ZONE_YEARS[0]) & (years <= _ZONE_YEARS[1]))
        early = outside & (years < _ZONE_YEARS[0])
        has_naive = has_naive & ~outside
    if has_naive.any():
        local = naive[has_naive].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        out[has_naive] = local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if aware_texts:
        index = list(aware_texts)
        out[index] = pd.to_datetime(
            pd.Series(list(aware_texts.values()), index=index),
            format="ISO8601",
            errors="coerce",
            utc=True,
        ).astype("datetime64[us, UTC]")
    if moments_aware:
        index = list(moments_aware)
        out[index] = pd.to_datetime(
            pd.Series(list(moments_aware.values()), index=index), utc=True
        ).astype("datetime64[us, UTC]")
    return out, early


def parse_times(
    values: ArrayLike,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    excel_serials: bool = False,
) -> pd.Series:
    """Read times written in the ways Chinese case files write them (vectorised).

    Accepted: ISO 8601 (``2026-03-01T08:30:00+08:00``, ``2026-03-01 08:30``),
    ``2026/3/1 8:30``, ``2026.3.1``, ``2026年3月1日 8:30``, date only (midnight),
    ``datetime`` objects (Excel dates), and with ``excel_serials`` Excel's
    day numbers (46082.35). Times without an offset are in ``timezone``
    (``Asia/Shanghai``: the fixed +08:00). No plausibility check: see
    :func:`read_times`.

    Parameters
    ----------
    values:
        Text, datetimes, numbers or ``None``.
    timezone:
        IANA time zone of times without an offset.
    excel_serials:
        Read numbers as Excel day numbers (only for values from Excel).

    Returns
    -------
    pandas.Series
        ``datetime64[us, UTC]``, RangeIndex, ``NaT`` where a value is blank or
        not a time.

    Examples
    --------
    >>> parse_times(["2026/3/1 8:30", "2026-03-01T00:30:00Z", "2026-13-01"]).tolist()
    [Timestamp('2026-03-01 00:30:00+0000', tz='UTC'), Timestamp('2026-03-01 00:30:00+0000', tz='UTC'), NaT]
    """  # noqa: E501
    parsed, _ = _parse_naive_and_aware(values, time_zone(timezone), excel_serials=excel_serials)
    return parsed


def _blank(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_times(
    values: pd.Series,
    *,
    what: str,
    required: bool,
    timezone: str = DEFAULT_TIMEZONE,
    excel_serials: bool = False,
    now: dt.datetime | pd.Timestamp | None = None,
) -> tuple[pd.Series, list[str | None]]:
    """A column of times for the bulk import, and a reason per row that cannot be used.

    Parameters
    ----------
    values:
        The column as read from the file.
    what:
        The name of the column in the reasons (``"time"``, ``"end time"``).
    required:
        Whether a blank value is a reason.
    timezone, excel_serials:
        See :func:`parse_times`.
    now:
        The moment "tomorrow" is counted from (default: now).

    Returns
    -------
    (pandas.Series, list)
        The times (``datetime64[us, UTC]``, ``NaT`` where blank or refused) and,
        per row, ``None`` or the reason in the words of the import report:
        ``time '2026-13-01' is not a date``, ``time '1900-01-01' is before
        1949-10-01, not a plausible date``, ``... is after tomorrow (2026-03-02)...``.

    Examples
    --------
    >>> times, reasons = read_times(pd.Series(["2026-03-01", "1900-01-01"]), what="time",
    ...                             required=True, now=dt.datetime(2026, 3, 1, tzinfo=CHINA_TZ))
    >>> reasons
    [None, "time '1900-01-01' is before 1949-10-01, not a plausible date"]
    """
    parsed, early = _parse_naive_and_aware(values, time_zone(timezone), excel_serials=excel_serials)
    raw = list(values)
    blank = np.fromiter((_blank(v) for v in raw), dtype=bool, count=len(raw))
    limit = pd.Timestamp(latest(now))
    too_early = early | (parsed < pd.Timestamp(EARLIEST)).fillna(False).to_numpy(dtype=bool)
    too_late = (parsed >= limit).fillna(False).to_numpy(dtype=bool)
    bad = parsed.isna().to_numpy() & ~blank & ~too_early
    reasons: list[str | None] = [None] * len(raw)
    # Wording, for the few rows that need it; the checks above are vectorised.
    for i in np.flatnonzero(bad | too_early | too_late | (blank & required)):
        if blank[i]:
            reasons[i] = f"{what} missing"
            continue
        shown = _as_text(raw[i])
        if too_early[i]:
            reasons[i] = f"{what} {shown!r} is before {EARLIEST.date()}, not a plausible date"
        elif too_late[i]:
            day = (limit - pd.Timedelta(days=1)).date()
            reasons[i] = f"{what} {shown!r} is after tomorrow ({day}), not a plausible date"
        else:
            reasons[i] = f"{what} {shown!r} is not a date"
    refused = too_early | too_late
    if refused.any():
        parsed = parsed.copy()
        parsed[refused] = pd.NaT
    return parsed, reasons


_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?)"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
RFC3339_YEARS = (1900, 2999)
"""The years an RFC 3339 time of a request may name."""


def parse_rfc3339(value: str) -> dt.datetime | None:
    """Read an RFC 3339 date-time (with ``Z`` or an offset) of the years
    :data:`RFC3339_YEARS`; ``None`` when it is not one.

    Examples
    --------
    >>> parse_rfc3339("2025-03-01T08:00:00+08:00").isoformat()
    '2025-03-01T08:00:00+08:00'
    >>> parse_rfc3339("2025-03-01") is None
    True
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    day, time, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        parsed = parse_time(f"{day}T{time}{offset}", field="time", plausible=False)
    except InputError:
        return None
    if not RFC3339_YEARS[0] <= parsed.year <= RFC3339_YEARS[1]:
        return None
    return parsed
