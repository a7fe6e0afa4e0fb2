"""The requests and answers of the 红心物业 API (:mod:`gridgis.web.property_api`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from gridgis.schemas.common import Answer, AreaCode, CommunityCode, Flag, Request, parse_day

__all__ = [
    "Compound",
    "CompoundChange",
    "CompoundFigures",
    "CompoundList",
    "CompoundQuery",
    "FiguresAnswer",
    "FiguresQuery",
    "NamedChoice",
]

Management = Literal["company", "red", "none"]
RedMode = Literal["service", "autonomy", "unit", "community"]
_SHARE = Field(None, ge=0, le=1)

Day = Annotated[
    dt.date,
    BeforeValidator(parse_day),
    WithJsonSchema({"type": "string", "format": "date"}),
]
"""A day ``YYYY-MM-DD`` (in a JSON body too, which is read strictly)."""


class FiguresQuery(Request):
    """Which compounds: those of an area; whose 物业管理 cases up to a day."""

    area: AreaCode | None = Field(None, description="A street or community code (or its start).")
    until: Day | None = Field(
        None,
        description="The cases of the twelve months before this day (default: the day after "
        "the latest case).",
    )


class CompoundQuery(FiguresQuery):
    """Which compounds, and whether with their outlines."""

    management: Literal["company", "red", "none", "unregistered"] | None = Field(
        None, description="Only the compounds managed so (unregistered: not in the register)."
    )
    outlines: Flag = Field(False, description="With each compound's outline (GeoJSON).")


class Compound(Answer):
    """A compound (小区) and how it is managed; contact masked outside the user's area."""

    id: int | None = Field(description="The register row's id (none: unregistered).")
    community_code: str
    name: str
    buildings: int = Field(ge=0)
    households: int = Field(ge=0)
    registered: bool
    old: bool = Field(description="An old compound (老旧小区).")
    built_year: int | None
    management: Management | None
    management_name: str
    red_mode: RedMode | None
    red_mode_name: str | None
    company: str | None
    contact: str | None
    contact_phone: str | None
    unit_id: int | None
    unit: str | None = Field(description="The 驻区单位 taking it on (驻区单位包保).")
    unit_external_id: str | None
    organisation_id: int | None
    organisation: str | None = Field(description="The party organisation leading it.")
    organisation_external_id: str | None
    since: str | None
    note: str | None
    cases: int = Field(ge=0, description="Its 物业管理 cases in the twelve months.")
    outline: dict[str, Any] | None = Field(None, description="A GeoJSON geometry.")


class NamedChoice(Answer):
    """A 驻区单位 or party organisation the edit form offers."""

    id: int
    name: str
    community_code: str | None


class CompoundList(Answer):
    """The compounds of an area, and what the edit form offers."""

    since: dt.date
    until: dt.date = Field(description="The first day after the twelve months.")
    compounds: list[Compound]
    units: list[NamedChoice]
    organisations: list[NamedChoice]


class CompoundFigures(Answer):
    """A community's compounds by management."""

    community_code: str
    community_name: str | None
    compounds: int = Field(ge=0)
    registered: int = Field(ge=0)
    unregistered: int = Field(ge=0)
    old: int = Field(ge=0, description="Old compounds (老旧小区).")
    managed: int = Field(ge=0, description="Managed by a company or 红心物业.")
    old_managed: int = Field(ge=0)
    company: int = Field(ge=0)
    red: int = Field(ge=0)
    none: int = Field(ge=0, description="无物业: the compounds to act on.")
    cases: int = Field(ge=0)
    service: int = Field(ge=0)
    autonomy: int = Field(ge=0)
    unit: int = Field(ge=0)
    community: int = Field(ge=0)
    managed_share: float | None = _SHARE
    old_managed_share: float | None = _SHARE
    service_share: float | None = _SHARE
    autonomy_share: float | None = _SHARE
    unit_share: float | None = _SHARE
    community_share: float | None = _SHARE


class FiguresAnswer(Answer):
    """The figures per community, and for the whole area."""

    since: dt.date
    until: dt.date
    communities: list[CompoundFigures]
    total: CompoundFigures


class CompoundChange(Request):
    """How a compound is managed, as stored in its register row (replacing it)."""

    community: CommunityCode
    compound: str = Field(min_length=1, max_length=200)
    management: Management
    red_mode: RedMode | None = None
    company: str | None = Field(None, max_length=200)
    contact: str | None = Field(None, max_length=100)
    contact_phone: str | None = Field(None, max_length=40)
    unit: str | None = Field(None, max_length=200, description="A 驻区单位's id or name.")
    organisation: str | None = Field(
        None, max_length=200, description="A party organisation's id or name."
    )
    since: Day | None = None
    note: str | None = Field(None, max_length=2000)
    old: bool | None = None
    built_year: int | None = Field(None, ge=1900, le=2100)
