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
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

from gridgis.times import RFC3339_YEARS, parse_rfc3339

__all__ = [
    "MAX_ID",
    "MAX_OFFSET",
    "AreaCode",
    "CellCode",
    "CommunityCode",
    "Flag",
    "Moment",
    "Page",
    "Request",
    "StreetCode",
]

MAX_ID = 2**63 - 1
"""The largest id a table holds (``bigint``)."""
MAX_OFFSET = 1_000_000_000


class Request(BaseModel):
    """A request's parameters or body: unknown fields are refused, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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

StreetCode = Annotated[str, Field(pattern=r"^[0-9]{9}$", description="A 9-digit street code.")]
CommunityCode = Annotated[
    str, Field(pattern=r"^[0-9]{12}$", description="A 12-digit community code.")
]
CellCode = Annotated[str, Field(pattern=r"^[0-9]{15}$", description="A 15-digit cell code.")]
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

    limit: int = Field(100, ge=1, le=1000, description="At most this many items.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many items.")
