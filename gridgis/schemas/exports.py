"""The exports as downloads: which area, period, coordinates and encoding.

Examples
--------
>>> ExportQuery.model_validate({"from": "2025-01-01", "to": "2025-06-30"}).since
datetime.date(2025, 1, 1)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from gridgis.codes import code_pattern
from gridgis.schemas.cases import CaseFilters
from gridgis.schemas.common import CRS_PATTERN, StreetCode, parse_day

__all__ = ["Day", "ExportQuery"]


Day = Annotated[
    dt.date,
    BeforeValidator(parse_day),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}),
]
"""A day ``YYYY-MM-DD`` (China Standard Time), years 1900–2100."""


class ExportQuery(CaseFilters):
    """Which area and period an export holds, in which coordinates and text encoding; a
    cases export takes the filters of the case list too (:class:`CaseFilters`)."""

    district: Annotated[str, Field(pattern=code_pattern("district"))] | None = Field(
        None,
        description="Only this district; a street or community outside it is a 400. For a "
        "street office, a district that does not hold its street is a 403, and its own "
        "district exports its own street.",
    )
    street: StreetCode | None = Field(
        None,
        description="Only this street office; a street office's own by default, another one "
        "is a 403.",
    )
    community: Annotated[str, Field(pattern=code_pattern("community"))] | None = Field(
        None,
        description="Only this community; for a street office, one outside its street is a 403.",
    )
    since: Day | None = Field(
        None,
        alias="from",
        description="First day of the period (China Standard Time); cases by report time, "
        "inspections by start. Cells ignore the period.",
    )
    to: Day | None = Field(None, description="Last day of the period (included).")
    crs: str = Field(
        "wgs84",
        pattern=CRS_PATTERN,
        description="Coordinates written: wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn.",
    )
    encoding: Literal["utf-8", "gbk"] = Field(
        "utf-8", description="Text encoding of a shapefile or CSV file (other formats: utf-8)."
    )
    level: Literal["cell", "community", "street"] | None = Field(
        None, description="Only for stats: one row per cell (default), community or street."
    )
    headers: Literal["codes", "zh"] = Field(
        "codes",
        description="The header row of a CSV or Excel file: the fields' codes (default, for "
        "scripts) or their Chinese names (户数, 按期结案率 …), as the export page asks in a "
        "Chinese UI.",
    )
