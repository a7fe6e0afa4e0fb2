"""The requests and answers of the 驻区单位, 联合体, needs and 三零 API
(:mod:`gridgis.web.party_api`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from gridgis.schemas.common import MAX_ID, Answer, AreaCode, CommunityCode, Request, StreetCode

__all__ = [
    "Alliance",
    "AllianceList",
    "AllianceMember",
    "AllianceQuery",
    "Claim",
    "Done",
    "Need",
    "NeedList",
    "NeedQuery",
    "NewAlliance",
    "NewNeed",
    "SanlingAnswer",
    "SanlingCategories",
    "SanlingMapping",
    "SanlingQuery",
    "SanlingRow",
    "Unit",
    "UnitAlliance",
    "UnitList",
    "UnitQuery",
]

UnitKind = Literal["enterprise", "school", "agency", "institution", "hospital", "social", "other"]
NeedKind = Literal["need", "resource", "project"]
NeedState = Literal["open", "claimed", "done"]
_UNIT = Field(min_length=1, max_length=200, description="The unit's id in its file, or its name.")


class UnitQuery(Request):
    """Which 驻区单位: those lying in (or linked to a community of) an area."""

    area: AreaCode | None = Field(None, description="A street or community code (or its start).")
    kind: UnitKind | None = None
    alliance: int | None = Field(None, ge=1, le=MAX_ID, description="Only this alliance's units.")


class UnitAlliance(Answer):
    """An alliance a unit is in."""

    id: int
    name: str
    committee: bool = Field(description="Its party leader sits on the 大党委 (兼职委员).")


class Unit(Answer):
    """A 驻区单位; contact, phone and party leader masked outside the user's area."""

    id: int
    external_id: str | None
    name: str
    kind: UnitKind
    kind_name: str
    address: str | None
    lon: float
    lat: float
    community_code: str | None
    street_code: str | None
    contact: str | None
    contact_phone: str | None
    party_org: str | None
    party_leader: str | None
    linked: list[str] = Field(description="The communities it is linked to (结对社区).")
    alliances: list[UnitAlliance]


class UnitList(Answer):
    """The units of an area."""

    units: list[Unit]


class AllianceQuery(Request):
    """Which alliances: those of an area."""

    area: AreaCode | None = Field(None, description="A street or community code.")


class Alliance(Answer):
    """A 党建联合体 with its count of units and of 大党委 part-time members."""

    id: int
    name: str
    street_code: str
    community_code: str | None
    units: int = Field(ge=0)
    committee: int = Field(ge=0, description="Units whose leader is a 兼职委员.")


class AllianceList(Answer):
    """The alliances of an area."""

    alliances: list[Alliance]


class NewAlliance(Request):
    """A new 联合体 of a street (or of one community)."""

    name: str = Field(min_length=1, max_length=200)
    street: StreetCode | None = None
    community: CommunityCode | None = None


class AllianceMember(Request):
    """A unit joining an alliance (or changing its seat on the 大党委)."""

    unit: str = _UNIT
    committee: bool = Field(False, description="Its party leader is a 兼职委员 of the 大党委.")


class NeedQuery(Request):
    """Which needs: of an area, in a state, of a kind."""

    area: AreaCode | None = Field(None, description="A street or community code.")
    state: NeedState | None = None
    kind: NeedKind | None = None


class Need(Answer):
    """An entry of a community's needs list and where it stands."""

    id: int
    external_id: str | None
    community_code: str
    street_code: str
    kind: NeedKind
    kind_name: str
    title: str
    description: str | None
    due_on: str | None = Field(json_schema_extra={"format": "date"})
    state: NeedState
    state_name: str
    posted_by: str
    posted_at: str = Field(json_schema_extra={"format": "date-time"})
    unit_id: int | None
    unit: str | None = Field(description="The claiming unit's name.")
    claimed_by: str | None
    claimed_at: str | None = Field(json_schema_extra={"format": "date-time"})
    done_by: str | None
    done_at: str | None = Field(json_schema_extra={"format": "date-time"})
    done_note: str | None


class NeedList(Answer):
    """Needs, newest first."""

    needs: list[Need]


class NewNeed(Request):
    """A need (需求), resource (资源) or project (项目) a community posts."""

    community: CommunityCode
    title: str = Field(min_length=1, max_length=200)
    kind: NeedKind = "need"
    description: str | None = Field(None, max_length=2000)
    due_on: dt.date | None = None


class Claim(Request):
    """The unit that claims a need (认领)."""

    unit: str = _UNIT


class Done(Request):
    """A need done, with a note."""

    note: str | None = Field(None, max_length=2000)


class SanlingQuery(Request):
    """The 三零 figures of a period, for the communities of an area."""

    period: str = Field(
        min_length=4,
        max_length=40,
        description="2025-03 (a month), 2025-Q1 (a quarter), 2025 (a year) or "
        "2025-01-01..2025-02-15 (days, both included).",
    )
    area: AreaCode | None = Field(None, description="A street or community code.")


class SanlingRow(Answer):
    """One community's figures for the period."""

    community_code: str
    community: str
    street_code: str
    street: str
    petition: int = Field(ge=0, description="上访")
    accident: int = Field(ge=0, description="安全事故")
    security: int = Field(ge=0, description="治安案件")
    total: int = Field(ge=0)
    sanling: bool = Field(description="All three are zero (三零).")
    cases_url: str = Field(description="The case list of the counted categories there then.")


class SanlingAnswer(Answer):
    """The figures of every community of the area, and how they were counted."""

    period: str
    since: str = Field(json_schema_extra={"format": "date"})
    until: str = Field(json_schema_extra={"format": "date"}, description="The last day.")
    categories: dict[str, list[str]] = Field(description="The categories of each figure.")
    communities: list[SanlingRow]
    sanling: int = Field(ge=0, description="How many communities are 三零.")


class SanlingCategories(Request):
    """The categories of the figures to set (codes or names); a figure left out keeps its."""

    petition: list[str] | None = None
    accident: list[str] | None = None
    security: list[str] | None = None


class SanlingMapping(Answer):
    """The categories (codes) counted for each 三零 figure."""

    petition: list[str]
    accident: list[str]
    security: list[str]
