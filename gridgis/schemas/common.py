"""Field types every schema shares: area codes, request times, paging.

Examples
--------
>>> from pydantic import TypeAdapter
>>> TypeAdapter(Moment).validate_python("2025-03-01T08:00:00+08:00").isoformat()
'2025-03-01T08:00:00+08:00'
>>> TypeAdapter(StreetCode).validate_python("350304001")
'350304001'
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from gridgis.codes import code_pattern
from gridgis.errors import InputError
from gridgis.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET
from gridgis.times import CHINA_TZ, RFC3339_YEARS, parse_rfc3339, parse_time

__all__ = [
    "MAX_ID",
    "Answer",
    "AreaCode",
    "CellCode",
    "CommunityCode",
    "DayOrTime",
    "Flag",
    "Moment",
    "Page",
    "Request",
    "StreetCode",
    "day_start",
    "parse_day",
]

MAX_ID = 2**63 - 1
"""The largest id a table holds (``bigint``)."""


class Request(BaseModel):
    """A request's parameters or body: unknown fields are refused, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Answer(BaseModel):
    """An answer's model: a field the answer does not declare is an error (in tests)."""

    model_config = ConfigDict(extra="forbid")


def _moment(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "not a date-time")
    parsed = parse_rfc3339(value)
    if parsed is None:
        raise PydanticCustomError(
            "datetime_parsing",
            "expected an ISO 8601 date-time with a UTC offset in the years {low}–{high}",
            {"low": RFC3339_YEARS[0], "high": RFC3339_YEARS[1]},
        )
    return parsed


Moment = Annotated[
    dt.datetime,
    BeforeValidator(_moment),
    PlainSerializer(lambda v: v.isoformat(), return_type=str),
    Field(json_schema_extra={"format": "date-time"}),
]
"""An RFC 3339 time with ``Z`` or an offset (``2025-06-01T08:00:00+08:00``), years 1900–2999."""

_QUERY_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
QUERY_YEARS = (1900, 2100)
"""The years a time of a filter (``since``, ``until``, ``now``) may name."""


def parse_day(value: object, *, kind: str = "day", expected: str | None = None) -> dt.date:
    """``value`` as a day ``YYYY-MM-DD`` of the years :data:`QUERY_YEARS`.

    Raises
    ------
    pydantic_core.PydanticCustomError
        Of type ``kind``, saying ``expected`` (a pydantic validator turns it into a
        field's error).

    Examples
    --------
    >>> parse_day("2025-06-30")
    datetime.date(2025, 6, 30)
    """
    expected = expected or f"a date YYYY-MM-DD from {QUERY_YEARS[0]} to {QUERY_YEARS[1]}"
    if isinstance(value, dt.datetime):
        raise PydanticCustomError(kind, expected)
    if isinstance(value, dt.date):
        day = value
    elif not isinstance(value, str) or not _QUERY_TIME.fullmatch(value):
        raise PydanticCustomError(kind, expected)
    else:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(kind, expected) from None
    if not QUERY_YEARS[0] <= day.year <= QUERY_YEARS[1]:
        raise PydanticCustomError(kind, expected)
    return day


def _day_or_time(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value
    expected = (
        "a date (YYYY-MM-DD) or an ISO 8601 time (e.g. 2025-03-01T08:00:00+08:00) "
        f"from {QUERY_YEARS[0]} to {QUERY_YEARS[1]}"
    )
    if not isinstance(value, str) or not value.isascii() or len(value) > 40:
        raise PydanticCustomError("day_or_time", expected)
    if _QUERY_TIME.fullmatch(value):
        return parse_day(value, kind="day_or_time", expected=expected)
    try:
        moment = parse_time(value, field="time", plausible=False)
    except InputError:
        raise PydanticCustomError("day_or_time", expected) from None
    if not QUERY_YEARS[0] <= moment.year <= QUERY_YEARS[1]:
        raise PydanticCustomError("day_or_time", expected)
    return moment


DayOrTime = Annotated[
    dt.datetime | dt.date,
    BeforeValidator(_day_or_time),
    WithJsonSchema({"type": "string", "maxLength": 40}),
]
"""A bound of a filter: a bare date (``2025-03-01``, a :class:`datetime.date`) or an ISO
8601 time (without an offset: China Standard Time), years 1900–2100."""


def day_start(value: dt.date | dt.datetime | None, *, end: bool = False) -> dt.datetime | None:
    """A :data:`DayOrTime` as a moment: a bare date is its midnight (+08:00), or with
    ``end`` the next midnight (``until=2025-12-31`` includes the 31st)."""
    if value is None or isinstance(value, dt.datetime):
        return value
    midnight = dt.datetime.combine(value, dt.time(), tzinfo=CHINA_TZ)
    return midnight + dt.timedelta(days=1) if end else midnight


CRS_PATTERN = "^(?:wgs84|cgcs2000|gcj02|bd09|WGS84|CGCS2000|GCJ02|BD09|EPSG:[0-9]{4,5})$"
"""The forms a request may name a CRS in (:func:`gridgis.crs.parse_crs` checks the EPSG code)."""

StreetCode = Annotated[
    str, Field(pattern=code_pattern("street"), description="A 9-digit street code.")
]
CommunityCode = Annotated[
    str, Field(pattern=code_pattern("community"), description="A 12-digit community code.")
]
CellCode = Annotated[str, Field(pattern=code_pattern("cell"), description="A 15-digit cell code.")]
AreaCode = Annotated[
    str, Field(pattern=r"^[0-9]{2,15}$", description="An area code or its start (2–15 digits).")
]


FLAG_WORDS: dict[str, bool] = {
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "yes": True,
    "no": False,
}
"""The words a yes/no query parameter may be."""


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value in FLAG_WORDS:
        return FLAG_WORDS[value]
    return value


Flag = Annotated[
    bool,
    BeforeValidator(_flag),
    WithJsonSchema({"type": "string", "enum": list(FLAG_WORDS)}),
]
"""A yes/no query parameter: ``true``/``false``, ``1``/``0``, ``yes``/``no``."""


class Page(Request):
    """Paging of a list: at most ``limit`` items after skipping ``offset``."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="At most this many items.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many items.")
