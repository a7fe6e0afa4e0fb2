"""Areas, health, counts and the signed-in user, as the API answers them.

Examples
--------
>>> AreasQuery(within="350304").within
'350304'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridgis.schemas.common import Answer, AreaCode, CellCode, Request, StreetCode

__all__ = [
    "FEATURE_COLLECTION",
    "AreasQuery",
    "CellCard",
    "CellHistory",
    "Health",
    "Me",
    "Summary",
    "TileQuery",
]


class AreasQuery(Request):
    """Which areas of a level."""

    within: AreaCode | None = Field(
        None,
        description="Keep the areas whose code starts with this (2 to 15 digits); for a "
        "street office, one outside its street is a 403.",
    )


class TileQuery(Request):
    """Which cells a vector tile holds and what its ``colour`` property classifies."""

    street: StreetCode | None = Field(
        None,
        description="Only this street office's cells; a street office's own by default, "
        "another one is a 403.",
    )
    colour: Literal["households", "worker", "branch"] = Field(
        "households", description="What the `colour` property classifies."
    )


class Health(Answer):
    """The database and its PostGIS answer."""

    status: str
    postgis: str


class Summary(Answer):
    """How many areas are stored (for a street office: its district, street and what is in it)."""

    district: int = Field(ge=0)
    street: int = Field(ge=0)
    community: int = Field(ge=0)
    cell: int = Field(ge=0)


class Me(Answer):
    """The signed-in user and this session's CSRF token."""

    name: str
    role: str
    street_code: str | None
    street_name: str | None
    csrf_token: str


FEATURE_COLLECTION: dict[str, Any] = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"const": "FeatureCollection"},
        "features": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "geometry", "properties"],
                "properties": {
                    "type": {"const": "Feature"},
                    "geometry": {"type": ["object", "null"]},
                    "properties": {"type": "object"},
                },
            },
        },
    },
}
"""The JSON Schema of a GeoJSON FeatureCollection (RFC 7946) as the API sends them."""


class CellVersion(Answer):
    """One row of a cell code: the layout versions it was in force for."""

    version_from: int = Field(ge=1, description="The community's version that made it.")
    version_to: int | None = Field(None, description="The version that closed it (None: in force).")
    method: str = Field(description="How the version that made it came about (draw, adjust...).")
    valid_from: str
    valid_to: str | None
    households: int = Field(ge=0)


class CellLink(Answer):
    """A cell that took over households of this one (successor) or gave it some (predecessor)."""

    code: str
    name: str | None
    active: bool = Field(description="Whether the code is in force now.")
    households: int = Field(ge=0, description="Households carried.")
    share: float = Field(ge=0, le=1, description="Their share of the giving cell's households.")
    version: int = Field(ge=1, description="The community's layout version of the change.")
    valid_from: str


class CellHistory(Answer):
    """Everything known of a cell code through time, active or retired."""

    code: str
    community_code: str
    community_name: str
    name: str | None
    status: Literal["active", "retired"]
    issued_at: str | None
    retired_at: str | None
    versions: list[CellVersion]
    successors: list[CellLink]
    predecessors: list[CellLink]
    cases: int = Field(ge=0, description="Cases filed in any version of the cell.")
    outline: dict[str, Any] | None = Field(description="The newest shape (GeoJSON, EPSG:4326).")


class CardWorker(Answer):
    """A grid worker of a cell (name and phone masked unless the user may see them)."""

    name: str
    phone: str | None
    roles: list[str]


class CardBranch(Answer):
    """A party organisation covering a cell."""

    name: str
    secretary: str | None
    members: int


class CellCard(Answer):
    """What a cell's popup shows."""

    code: CellCode
    name: str | None
    households: int
    residents: int
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    workers: list[CardWorker]
    branches: list[CardBranch]
    cases: int = Field(ge=0, description="Cases filed in any version of the cell.")
    open_cases: int = Field(ge=0)
    overdue_cases: int = Field(ge=0, description="超期: open and past the deadline now.")
    people_masked: bool = Field(description="Whether names and phones are masked.")
    cases_url: str = Field(description="The list of the cell's cases.")
