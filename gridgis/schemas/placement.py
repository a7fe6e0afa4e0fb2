"""Walking coverage of party branches and service centres, and where new sites would go.

Examples
--------
>>> CoverageQuery.model_validate({"kinds": "branch, centre", "minutes": "5"}).facility_kinds()
('branch', 'centre')
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from gridgis.analysis.placement import DEFAULT_THRESHOLD, FACILITY_KINDS, WALK_MINUTES
from gridgis.errors import InputError
from gridgis.schemas.areas import FEATURE_COLLECTION
from gridgis.schemas.common import Flag, Request, StreetCode

__all__ = [
    "COVERAGE_COLLECTION",
    "DEFAULT_K",
    "DEFAULT_MINUTES",
    "MAX_K",
    "SITES_COLLECTION",
    "CoverageQuery",
    "SuggestQuery",
]

DEFAULT_MINUTES = 10
"""Walking minutes when the request names none."""
DEFAULT_K = 3
"""New sites suggested when the request names no ``k``."""
MAX_K = 50
"""Most new sites one request may ask for."""

_KINDS = "|".join(FACILITY_KINDS)
_KINDS_PATTERN = rf"^ *({_KINDS})? *(, *({_KINDS})? *)*$"


class PlacementQuery(Request):
    """Whose coverage, at which walking distance and threshold, of which facilities."""

    street: StreetCode | None = Field(
        None,
        description="A street office's code (none: everything stored); a street office's own "
        "by default, another one is a 403.",
    )
    minutes: int = Field(
        DEFAULT_MINUTES,
        description="Walking minutes: 5, 10 or 15 (300, 500 or 1,000 m).",
        json_schema_extra={"enum": list(WALK_MINUTES)},
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD * 100,
        ge=1,
        le=100,
        allow_inf_nan=False,
        description="Percent of a cell's households that must be covered.",
    )
    kinds: str | None = Field(
        None,
        pattern=_KINDS_PATTERN,
        max_length=200,
        description=f"Comma list of facility kinds: {', '.join(FACILITY_KINDS)} (default all).",
    )

    @field_validator("minutes")
    @classmethod
    def _walking_minutes(cls, value: int) -> int:
        if value not in WALK_MINUTES:
            raise InputError(
                f"`minutes` was {value!r} but is expected to be one of {list(WALK_MINUTES)} "
                "(walking minutes: 300, 500 or 1,000 m)",
                zh=f"`minutes` 为 {value!r}，应为 {list(WALK_MINUTES)} 之一（步行分钟数，"
                "约 300、500 或 1,000 米）",
            )
        return value

    def facility_kinds(self) -> tuple[str, ...]:
        """The kinds asked for (every kind when none is)."""
        asked = [k.strip() for k in re.split(",", self.kinds or "") if k.strip()]
        return tuple(asked) or FACILITY_KINDS

    @property
    def distance(self) -> float:
        """The walking distance in metres."""
        return WALK_MINUTES[self.minutes]


class CoverageQuery(PlacementQuery):
    """The walking coverage of a street (or everything)."""

    cell_geometry: Flag = Field(True, description="0: the cells' polygons left out (null).")


class SuggestQuery(PlacementQuery):
    """Where ``k`` new sites would cover the most households not yet covered."""

    k: int = Field(DEFAULT_K, ge=1, le=MAX_K, description="New sites wanted.")
    candidates: Literal["buildings", "road_nodes"] = Field(
        "buildings", description="Where sites may go."
    )


COVERAGE_COLLECTION: dict[str, Any] = {
    **FEATURE_COLLECTION,
    "required": ["type", "features", "summary"],
}
SITES_COLLECTION: dict[str, Any] = {
    **FEATURE_COLLECTION,
    "required": ["type", "features", "solution"],
}
