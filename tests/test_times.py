"""One module reads and shows times (gridgis.times): +08:00 whatever the year, plausible dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gridgis.errors import InputError
from gridgis.times import (
    CHINA_TZ,
    display_series,
    latest,
    parse_time,
    read_times,
    to_display,
    to_minutes,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=CHINA_TZ)


def test_old_times_are_shown_at_plus_eight_hours_not_local_mean_time() -> None:
    old = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
    assert to_display(old) == "1900-01-01T08:00:00+08:00"  # zoneinfo gives +08:05:43 (LMT)
    assert to_minutes(old) == "1900-01-01 08:00"
    summer = dt.datetime(1988, 7, 1, 4, 0, tzinfo=dt.UTC)  # China kept summer time 1986-1991
    assert to_display(summer) == "1988-07-01T12:00:00+08:00"
    column = display_series(pd.Series([old, summer, None], dtype="datetime64[us, UTC]"))
    assert [None if v is pd.NaT else v.isoformat() for v in column] == [
        "1900-01-01T08:00:00+08:00",
        "1988-07-01T12:00:00+08:00",
        None,
    ]
    assert to_display(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01 08:30", dt.datetime(2026, 3, 1, 8, 30, tzinfo=CHINA_TZ)),
        ("2026/3/1 8:30", dt.datetime(2026, 3, 1, 8, 30, tzinfo=CHINA_TZ)),
        ("2026年3月1日", dt.datetime(2026, 3, 1, tzinfo=CHINA_TZ)),
        ("2026-03-01T00:30:00Z", dt.datetime(2026, 3, 1, 8, 30, tzinfo=CHINA_TZ)),
        ("1949-10-01", dt.datetime(1949, 10, 1, tzinfo=CHINA_TZ)),
        (dt.datetime(2026, 3, 1, 8, 30), dt.datetime(2026, 3, 1, 8, 30, tzinfo=CHINA_TZ)),
        (dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, tzinfo=CHINA_TZ)),
    ],
)
def test_parse_time_reads_the_usual_forms_at_plus_eight(value: object, expected: object) -> None:
    parsed = parse_time(value, field="reported_at", now=NOW)
    assert parsed == expected
    assert parsed.utcoffset() is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0001-01-01", r"`reported_at` was '0001-01-01' but is before 1949-10-01"),
        ("0001-01-01T00:00:00+08:00", r"was '0001-01-01T00:00:00\+08:00' but is before 1949"),
        ("1900-01-01T00:00:00+08:00", r"but is before 1949-10-01: not a plausible date"),
        ("1949-09-30 23:59", r"was '1949-09-30 23:59' but is before 1949-10-01"),
        ("2026-03-03", r"was '2026-03-03' but is after tomorrow \(2026-03-02\)"),
        (dt.datetime(2027, 1, 1), r"was '2027-01-01T00:00:00' but is after tomorrow"),
        ("明天", r"`reported_at` was '明天' but is expected to be a time"),
        (17, r"`reported_at` was 17 but is expected to be a time"),
    ],
)
def test_parse_time_refuses_implausible_dates_naming_field_and_value(
    value: object, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        parse_time(value, field="reported_at", now=NOW)


def test_tomorrow_is_counted_in_china() -> None:
    late_evening_utc = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.UTC)  # 04:00 on 2 March in China
    assert latest(late_evening_utc) == dt.datetime(2026, 3, 4, tzinfo=CHINA_TZ)
    assert parse_time("2026-03-03 23:59", field="at", now=late_evening_utc).day == 3
    assert parse_time("1900-01-01", field="since", plausible=False).year == 1900


def test_read_times_words_each_bad_row() -> None:
    times, reasons = read_times(
        pd.Series(["2026-03-01 08:00", "0001-01-01", "1900-01-01", "2027-01-01", "x", None]),
        what="time",
        required=True,
        now=NOW,
    )
    assert reasons == [
        None,
        "time '0001-01-01' is before 1949-10-01, not a plausible date",
        "time '1900-01-01' is before 1949-10-01, not a plausible date",
        "time '2027-01-01' is after tomorrow (2026-03-02), not a plausible date",
        "time 'x' is not a date",
        "time missing",
    ]
    assert times.iloc[0] == pd.Timestamp("2026-03-01 00:00", tz="UTC")
    assert times.iloc[1:].isna().all()
    with pytest.raises(InputError, match="`timezone` was 'Mars/Base'"):
        read_times(pd.Series(["2026-03-01"]), what="time", required=True, timezone="Mars/Base")
    # Another zone's rules are kept (and cannot reach back to year 1, which is too early anyway).
    utc, why = read_times(
        pd.Series(["2026-03-01 08:00", "0001-01-01"]), what="time", required=True,
        timezone="UTC", now=NOW,
    )  # fmt: skip
    assert utc.iloc[0] == pd.Timestamp("2026-03-01 08:00", tz="UTC")
    assert why[1] == "time '0001-01-01' is before 1949-10-01, not a plausible date"
