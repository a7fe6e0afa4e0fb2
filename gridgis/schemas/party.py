"""The members register, its figures, the points rules and the ranking: filters and answers.

Examples
--------
>>> MembersQuery.model_validate({"kind": "retired", "age": "80+"}).filters()
{'kind': 'retired', 'age': '80+'}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridgis.schemas.common import Answer, CellCode, CommunityCode, Flag, Page, Request

__all__ = [
    "Member",
    "MemberFigures",
    "Members",
    "MembersQuery",
    "Ranking",
    "RankingQuery",
    "Rule",
    "RuleBody",
    "Rules",
    "StatsQuery",
]

Kind = Literal["direct", "employed", "mobile", "retired"]
Band = Literal["<35", "35-59", "60-79", "80+", "unknown"]


class StatsQuery(Request):
    """Which members the figures count."""

    organisation: str | None = Field(
        None, max_length=100, description="Only this organisation (its id)."
    )
    kind: Kind | None = Field(
        None, description="Only this kind: direct, employed, mobile, retired."
    )
    community: CommunityCode | None = Field(None, description="Only members living here.")
    cell: CellCode | None = Field(None, description="Only members whose building is in this cell.")
    age: Band | None = Field(None, description="Only this age band.")
    reported: Flag | None = Field(None, description="Only 在职党员 who reported (1) or not (0).")
    year: int | None = Field(None, ge=1900, le=2100, description="Ages in this year (default now).")

    def filters(self) -> dict[str, Any]:
        """The filters given, by name (:data:`gridgis.party.members.FILTERS`)."""
        names = ("organisation", "kind", "community", "cell", "age", "reported")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class MembersQuery(StatsQuery, Page):
    """Which members to list, a page of them."""


class Member(Answer):
    """A member as the user may see them (personal data masked unless ``masked`` is false)."""

    id: str
    name: str | None
    sex: str | None
    birth_year: int | str | None
    age_band: str
    joined_on: str | None
    kind: str
    organisation: str | None
    organisation_name: str | None
    phone: str | None
    id_number: str | None
    address: str | None
    community_code: str | None
    cell_code: str | None
    reported: bool
    report_community_code: str | None
    reported_on: str | None
    central_household: bool
    masked: bool


class Members(Answer):
    """A page of members and how many match."""

    total: int
    members: list[Member]


class Counts(Answer):
    """The counts of a group of members."""

    members: int
    kind: dict[str, int]
    sex: dict[str, int]
    age: dict[str, int]
    employed: int
    reported: int
    reported_share: float | None
    central_households: int


class OrganisationCounts(Counts):
    """The counts of one organisation's members."""

    organisation: str | None
    name: str | None
    community_code: str | None


class CellCounts(Counts):
    """The counts of the members living in one cell."""

    cell_code: str | None


class MemberFigures(Counts):
    """The counts of all the members seen, per organisation and per cell."""

    year: int
    within: str | None
    organisations: list[OrganisationCounts]
    cells: list[CellCounts]


class RankingQuery(Request):
    """Which year, which organisation."""

    year: int = Field(..., ge=1900, le=2100, description="The year ranked.")
    organisation: str | None = Field(
        None, max_length=100, description="Only this organisation (its id)."
    )


class RankedMember(Answer):
    """A member's place in their organisation's ranking."""

    organisation: str | None
    organisation_name: str | None
    rank: int
    member: str
    name: str | None
    points: float
    activities: int
    hours: float


class Ranking(Answer):
    """The ranking of a year."""

    year: int
    organisation: str | None
    rows: list[RankedMember]


class Rule(Answer):
    """What one kind of activity is worth."""

    kind: str
    label_zh: str
    label_en: str
    points: float
    per: Literal["each", "hour"]


class Rules(Answer):
    """Every rule."""

    rules: list[Rule]


class RuleBody(Request):
    """A rule to add or change (administrators)."""

    kind: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,39}$", description="The activity's code.")
    points: float = Field(..., ge=0, lt=1_000_000, description="Points per activity or hour.")
    per: Literal["each", "hour"] = Field("each", description="Per activity or per hour.")
    label_zh: str | None = Field(None, max_length=100, description="The Chinese name.")
    label_en: str | None = Field(None, max_length=100, description="The English name.")
