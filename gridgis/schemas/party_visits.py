"""The 大走访 API's requests and answers: campaigns, targets, visits, the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from gridgis.errors import InputError
from gridgis.schemas.common import (
    MAX_ID,
    Answer,
    AreaCode,
    CellCode,
    DayOrTime,
    Flag,
    Page,
    Request,
)

__all__ = [
    "Assignment",
    "AssignmentAnswer",
    "Campaign",
    "CampaignProgress",
    "CampaignQuery",
    "Campaigns",
    "CellProgress",
    "LedgerClearing",
    "LedgerEntry",
    "LedgerList",
    "LedgerQuery",
    "NewCampaign",
    "NewVisit",
    "ProblemFound",
    "Target",
    "TargetQuery",
    "Targets",
    "Visit",
    "VisitQuery",
    "Visits",
]

LEDGER_STATE_PATTERN = "^(open|in_case|closed|rejected)$"


class NewCampaign(Request):
    """A campaign: name, period, area, target rules (default the 四个必走), buildings."""

    name: str = Field(min_length=1, max_length=200, description="e.g. 2026年春季大走访")
    area: AreaCode = Field(description="The district, street or community it covers.")
    starts_on: dt.date
    ends_on: dt.date
    rules: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None,
        max_length=40,
        description="Target rules: household category codes (veteran, needy ...) and "
        "elderly_member, member_direct, member_employed, member_mobile, member_retired; "
        "default the 四个必走.",
    )
    buildings: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default_factory=list, max_length=1000, description="Buildings visited whole (ids)."
    )


class Campaign(Answer):
    """A campaign with its counts of targets and of those visited."""

    id: int
    name: str
    area_code: str
    starts_on: dt.date
    ends_on: dt.date
    rules: list[str]
    created_by: str
    created_at: dt.datetime
    targets: int
    visited: int
    share: float | None


class Campaigns(Answer):
    """Campaigns, newest first."""

    campaigns: list[Campaign]


class CampaignQuery(Request):
    """Which campaigns: those of an area (inside it, or holding it)."""

    area: AreaCode | None = None


class CellProgress(Answer):
    """One cell's progress: targets, visited, share visited, overdue."""

    cell_id: int | None
    cell_code: str | None
    cell_name: str | None
    community_code: str | None
    targets: int
    visited: int
    overdue: int
    share: float | None


class CampaignProgress(Answer):
    """A campaign's progress per cell, with the cells' outlines for the map."""

    campaign: Campaign
    cells: list[CellProgress]
    outlines: dict[str, Any] = Field(description="GeoJSON FeatureCollection of the cells.")


class Assignment(Request):
    """Targets (every target of ``cell``, or ``target_ids``) to a visitor (one of
    ``member``, ``worker``, ``user``; none of them takes the assignment back)."""

    cell: CellCode | None = None
    target_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=2000)
    member: int | None = Field(None, ge=1, le=2**31 - 1, description="party_member id")
    worker: int | None = Field(None, ge=1, le=2**31 - 1, description="grid_worker id")
    user: str | None = Field(None, min_length=1, max_length=64, description="A user's name.")
    only_unassigned: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> Assignment:
        if (self.cell is None) == (self.target_ids is None):
            raise InputError(
                "give either `cell` or `target_ids`",
                zh="请给出 `cell`（网格）或 `target_ids`（走访对象）中的一个",
            )
        if sum(v is not None for v in (self.member, self.worker, self.user)) > 1:
            raise InputError(
                "give at most one of `member`, `worker`, `user`",
                zh="`member`（党员）、`worker`（网格员）、`user`（用户）最多只能给出一个",
            )
        return self


class AssignmentAnswer(Answer):
    """How many targets were assigned."""

    assigned: int


class TargetQuery(Page):
    """Which targets: of a campaign, of a cell, visited or not, the user's own (``mine``)."""

    campaign: int | None = Field(None, ge=1, le=2**31 - 1)
    cell: CellCode | None = None
    visited: Flag | None = None
    mine: Flag = False


class Target(Answer):
    """A target with its place, the visitor assigned and when it was last visited."""

    id: int
    campaign_id: int
    campaign_name: str
    kind: str
    household_id: int | None
    member_id: int | None
    building_id: int | None
    cell_id: int | None
    cell_code: str | None
    community_code: str | None
    street_code: str | None
    reasons: list[str]
    due_on: dt.date | None
    name: str | None
    phone: str | None
    address: str | None
    unit: str | None
    room: str | None
    lon: float | None
    lat: float | None
    visitor_kind: str | None
    visitor_id: int | None
    visitor_name: str | None
    visited_at: dt.datetime | None
    visited: bool


class Targets(Answer):
    """Targets, by cell."""

    targets: list[Target]


class ProblemFound(Request):
    """A problem found on a visit: a case category and what it is."""

    category: str = Field(min_length=1, max_length=64, description="A case category (code/name).")
    description: str = Field(min_length=1, max_length=500)


class NewVisit(Request):
    """A visit: whom, when, where the phone was, a note, problems found (JSON: ``problems``;
    a form: one problem as ``problem_category`` and ``problem_description``) and, as
    multipart, photos in the file field ``photos``."""

    what: ClassVar[str] = "visit"
    what_zh: ClassVar[str] = "走访记录"

    target: int = Field(ge=1, le=MAX_ID)
    visited_at: DayOrTime | None = None
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=100_000)
    note: str | None = Field(None, max_length=1000)
    problems: list[ProblemFound] = Field(default_factory=list, max_length=5)
    problem_category: str | None = Field(None, max_length=64)
    problem_description: str | None = Field(None, max_length=500)


class Visit(Answer):
    """A visit as stored."""

    id: int
    campaign_id: int
    campaign_name: str
    target_id: int
    target_kind: str
    target_name: str | None
    address: str | None
    cell_code: str | None
    community_code: str | None
    street_code: str | None
    visited_at: dt.datetime
    visitor_kind: str | None
    visitor_name: str | None
    lon: float | None
    lat: float | None
    accuracy: float | None
    note: str | None
    logged_by: str
    photos: int
    problems: int
    ledger_ids: list[int] | None = None
    points: float | None = None


class Visits(Answer):
    """Visits, newest first."""

    visits: list[Visit]


class VisitQuery(Page):
    """Which visits: of a campaign, the user's own (``mine``), in a period."""

    campaign: int | None = Field(None, ge=1, le=2**31 - 1)
    mine: Flag = False
    since: DayOrTime | None = None
    until: DayOrTime | None = None


class LedgerQuery(Page):
    """Which ledger entries: campaign, area, state, category, period of finding."""

    campaign: int | None = Field(None, ge=1, le=2**31 - 1)
    area: AreaCode | None = None
    state: str | None = Field(None, pattern=LEDGER_STATE_PATTERN)
    category: str | None = Field(None, max_length=64)
    since: DayOrTime | None = None
    until: DayOrTime | None = None


class LedgerEntry(Answer):
    """A ledger entry (台账) with its state, read from its case."""

    id: int
    campaign_id: int
    campaign_name: str
    target_id: int
    target_kind: str
    target_name: str | None
    address: str | None
    target_lon: float | None
    target_lat: float | None
    visitor_name: str | None
    visit_id: int | None
    cell_id: int | None
    cell_code: str | None
    cell_name: str | None
    community_code: str | None
    community_name: str | None
    street_code: str | None
    category_code: str
    category_name: str
    description: str
    found_by: str
    found_at: dt.datetime
    case_id: int | None
    standing_case_id: int | None
    case_step: str | None
    state: str
    state_zh: str
    closed_at: dt.datetime | None
    closed_how: str | None
    cleared_by: str | None
    cleared_note: str | None


class LedgerList(Answer):
    """Ledger entries, oldest first."""

    entries: list[LedgerEntry]


class LedgerClearing(Request):
    """A 销号 by hand: how the problem was solved."""

    note: str = Field(min_length=1, max_length=1000)
