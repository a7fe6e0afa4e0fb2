"""Case density and hotspots per cell, and heat points: the filters and answers.

Examples
--------
>>> HeatQuery.model_validate({"category": ["dispute,noise"], "max_points": "10"}).categories()
['dispute', 'noise']
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from gridgis.analysis.density import DEFAULT_MAX_HEAT_POINTS
from gridgis.errors import InputError
from gridgis.schemas.areas import FEATURE_COLLECTION
from gridgis.schemas.common import Answer, CommunityCode, DayOrTime, Flag, Request, StreetCode

__all__ = [
    "CELLS_COLLECTION",
    "CellTable",
    "CellTableQuery",
    "CellsQuery",
    "DensityFilter",
    "Heat",
    "HeatQuery",
]


class DensityFilter(Request):
    """Which cases and cells: the filter of every density route."""

    street: StreetCode | None = Field(
        None,
        description="Only this street office; a street office's own by default, another one "
        "is a 403.",
    )
    community: CommunityCode | None = Field(
        None,
        description="Only this community; for a street office, one outside its street is a 403.",
    )
    category: list[str] = Field(
        default_factory=list,
        description="Category codes or Chinese names; repeat or separate by commas.",
    )
    since: DayOrTime | None = Field(None, description="Reported at or after this.")
    until: DayOrTime | None = Field(
        None, description="Reported before this; a bare date includes its whole day."
    )
    retired: Flag = Field(False, description="1: retired cells (valid during the period) too.")
    rejected: Flag = Field(False, description="1: rejected cases too.")

    @field_validator("category")
    @classmethod
    def _names_a_category(cls, value: list[str]) -> list[str]:
        for text in value:
            if not any(part.strip() for part in text.split(",")):
                raise InputError(
                    f"`category` was {text!r} but is expected to name a category",
                    zh=f"`category` 为 {text!r}，应写明事件类别",
                )
        return value

    def categories(self) -> list[str] | None:
        """The categories asked for, split at commas (``None``: every category)."""
        wanted = [part.strip() for value in self.category for part in value.split(",")]
        wanted = [part for part in wanted if part]
        return wanted or None


class CellTableQuery(DensityFilter):
    """The figures per cell: what Gi* tests, per-category counts, inspection recency."""

    value: Literal["rate", "count"] = Field("rate", description="What Gi* tests.")
    by_category: Flag = Field(False, description="1: a `cases_<category>` count per category.")
    now: DayOrTime | None = Field(
        None, description="The moment inspection recency is measured from (default now)."
    )
    window_days: int = Field(30, ge=1, le=3660, description="The recent-inspection window in days.")
    fields: str | None = Field(
        None,
        max_length=2000,
        description="A comma list of the properties to send (`code` always comes).",
    )


class CellsQuery(CellTableQuery):
    """The figures per cell as GeoJSON."""

    geometry: Flag = Field(True, description="0: features without geometry (join them by `code`).")


class HeatQuery(DensityFilter):
    """The case points of a heat layer."""

    max_points: int = Field(
        DEFAULT_MAX_HEAT_POINTS,
        ge=1,
        le=DEFAULT_MAX_HEAT_POINTS,
        description="At most this many points.",
    )


class CellTable(Answer):
    """The cells' figures as a table: column names once, a list of values a cell."""

    columns: list[str]
    rows: list[list[Any]]
    density: dict[str, Any]


class Heat(Answer):
    """Case points for a heat layer as [lat, lon, weight]."""

    points: list[list[float]]
    order: list[str]
    cases: int = Field(ge=0)
    bin_degrees: float | None
    max_weight: int = Field(ge=0)
    filters: dict[str, Any]


CELLS_COLLECTION: dict[str, Any] = {
    **FEATURE_COLLECTION,
    "required": ["type", "features", "density"],
}
"""The cells with their figures: a FeatureCollection with the foreign member ``density``."""
