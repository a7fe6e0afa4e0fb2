"""Areas, health, counts and the signed-in user, as the API answers them.

Examples
--------
>>> AreasQuery(within="350304").within
'350304'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridgis.schemas.common import Answer, AreaCode, Request, StreetCode

__all__ = ["FEATURE_COLLECTION", "AreasQuery", "Health", "Me", "Summary", "TileQuery"]


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
