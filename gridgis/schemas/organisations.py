"""The party organisation tree, the 一网格一支部 map and the leaders roster, as the API
answers them (issue 19, points 1 and 2).

Examples
--------
>>> NewOrganisation(name="1号楼党小组", kind="group", parent_id=3).kind
'group'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gridgis.schemas.common import Answer, CommunityCode, Request, StreetCode

__all__ = [
    "BuildingCoverage",
    "CellStatus",
    "CellStatusAnswer",
    "CoverageRow",
    "DeleteOrganisation",
    "Leader",
    "LeadersAnswer",
    "LeadersQuery",
    "NewOrganisation",
    "Organisation",
    "OrganisationChange",
    "OrganisationDetail",
    "OrganisationTree",
    "PartyQuery",
    "UnledBuilding",
]

_MAX_ORGANISATION = 2**31 - 1  # party_branch.id is an integer

_KINDS = (
    "committee (党委), general_branch (党总支), branch (党支部), group (党小组); "
    "the Chinese names are read too."
)


class PartyQuery(Request):
    """Which area: a street office (its own by default) or one community."""

    street: StreetCode | None = Field(
        None, description="A street office's code; a street office's own by default."
    )
    community: CommunityCode | None = Field(None, description="Only this community.")


class Organisation(Answer):
    """One organisation of the tree, with its children."""

    id: int
    external_id: str | None
    name: str
    kind: str
    kind_name: str
    parent_id: int | None
    community_code: str | None
    secretary: str | None = Field(description="Masked unless the user may see the area's people.")
    members: int = Field(
        description="Members registered to it where any are, else the count stored."
    )
    member_source: Literal["register", "count"]
    cells: list[str]
    buildings: int
    children: list[Organisation]


class OrganisationTree(Answer):
    """The organisations of an area as a forest, and whether the user may change them."""

    organisations: list[Organisation]
    total: int
    kinds: dict[str, int] = Field(description="How many organisations of each kind.")
    may_edit: bool


class OrganisationDetail(Answer):
    """One organisation as stored, with what it covers."""

    id: int
    external_id: str | None
    name: str
    kind: str
    parent_id: int | None
    community_code: str | None
    address: str | None
    secretary: str | None
    secretary_phone: str | None
    member_count: int
    cells: list[str]
    buildings: list[str] = Field(description="楼栋编号 (the database id of one with none).")
    compounds: list[str] = Field(description="The compounds (小区) of its buildings.")


class NewOrganisation(Request):
    """An organisation to create."""

    name: str = Field(min_length=1, max_length=200, description="e.g. 东梅社区第一网格党支部.")
    kind: str = Field("branch", max_length=20, description=_KINDS)
    parent_id: int | None = Field(None, ge=1, le=_MAX_ORGANISATION)
    community_code: CommunityCode | None = None
    cells: list[str] = Field(default_factory=list, max_length=200)
    buildings: list[str] = Field(default_factory=list, max_length=2000)
    secretary: str | None = Field(None, max_length=100)
    secretary_phone: str | None = Field(None, max_length=40)
    member_count: int = Field(0, ge=0, le=1_000_000)
    address: str | None = Field(None, max_length=300)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class OrganisationChange(Request):
    """What to change: only the fields given (``parent_id`` null: make it a root)."""

    name: str | None = Field(None, min_length=1, max_length=200)
    kind: str | None = Field(None, max_length=20, description=_KINDS)
    parent_id: int | None = Field(None, ge=1, le=_MAX_ORGANISATION)
    secretary: str | None = Field(None, max_length=100)
    secretary_phone: str | None = Field(None, max_length=40)
    member_count: int | None = Field(None, ge=0, le=1_000_000)
    address: str | None = Field(None, max_length=300)
    cells: list[str] | None = Field(None, max_length=200)
    buildings: list[str] | None = Field(None, max_length=2000)


class DeleteOrganisation(Request):
    """What happens to the children of an organisation deleted."""

    children: Literal["refuse", "reparent"] = Field(
        "refuse",
        description="refuse (409 when it has children) or reparent (hand them to its parent).",
    )


class CellStatus(Answer):
    """一网格一支部 status of one cell."""

    code: str
    community_code: str
    status: Literal["none", "own", "shared"]
    branches: int
    branch_names: list[str]


class BuildingCoverage(Answer):
    """党小组 coverage and 党员中心户 of one building."""

    id: int
    external_id: str | None
    community_code: str
    lon: float
    lat: float
    groups: int
    group_names: list[str]
    central_households: int


class CellStatusAnswer(Answer):
    """The cells' status and the buildings' coverage of an area."""

    counts: dict[str, int]
    cells: list[CellStatus]
    buildings: list[BuildingCoverage]
    buildings_with_group: int
    central_household_buildings: int


class LeadersQuery(PartyQuery):
    """Which area; with ``community``, its buildings without a 楼栋长 too."""


class CoverageRow(Answer):
    """The leaders' coverage of one community."""

    community_code: str
    community_name: str | None
    cells: int
    cells_with_grid_leader: int
    buildings: int
    buildings_with_leader: int
    building_share: float | None
    units: int
    units_with_leader: int
    unit_share: float | None
    grid_leaders: int
    building_leaders: int
    unit_leaders: int


class UnledBuilding(Answer):
    """A building no 楼栋长 serves."""

    id: int
    external_id: str | None
    name: str | None
    address: str | None
    households: int


class Leader(Answer):
    """A 网格长, 楼栋长 or 单元长 and what they serve."""

    id: str
    name: str | None
    phone: str | None
    roles: str
    community_code: str | None
    cells: str | None
    buildings: str | None
    units: str | None


class LeadersAnswer(Answer):
    """Coverage per community; with a community, its buildings without a 楼栋长 and (for
    users who may see its people) its leaders."""

    communities: list[CoverageRow]
    totals: CoverageRow
    without_leader: list[UnledBuilding] | None
    leaders: list[Leader] | None = Field(
        description="Names and phones as stored: only for users whose area holds them; "
        "null for the others (an analyst sees figures, not names)."
    )
