"""Cases (事件) in and out: a new case, a step, the case, lists and figures.

Examples
--------
>>> NewCase(category="dispute", address="荔城区镇海街道文献社区瑞隆里59号1栋").lon is None
True
>>> CaseStep(step="registered").step
'registered'
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, RootModel, create_model, model_validator

from gridgis.db.models import CASE_STEPS, LOCATED_BY
from gridgis.schemas.common import (
    CRS_PATTERN,
    MAX_ID,
    Answer,
    CellCode,
    CommunityCode,
    Flag,
    Moment,
    Page,
    Request,
    StreetCode,
)

__all__ = [
    "CASE_STEP_CHOICES",
    "MAX_ABS_COORDINATE",
    "Case",
    "CaseList",
    "CaseQuery",
    "CaseStats",
    "CaseStatsQuery",
    "CaseStatsRow",
    "CaseStep",
    "Categories",
    "Category",
    "NewCase",
]

CASE_STEP_CHOICES: tuple[str, ...] = (*CASE_STEPS, "rejected")
"""Every value of a case's ``step``: the forward lifecycle, then ``rejected`` (作废)."""
MAX_ABS_COORDINATE = 1e8
"""The largest coordinate a request may give (projected CRSs reach millions of metres)."""

NextStep = Literal["registered", "dispatched", "handled", "verified", "closed", "rejected"]
"""A step a case can be moved to (written out for type checkers; equal to the lifecycle's)."""
Step = Literal["reported", NextStep]
if get_args(NextStep) != CASE_STEP_CHOICES[1:]:  # pragma: no cover - caught on import
    raise ImportError(f"NextStep {get_args(NextStep)} differs from {CASE_STEP_CHOICES[1:]}")


class NewCase(Request):
    """A new case, placed by ``lon``/``lat`` (in ``crs``, default wgs84) or by ``address``.

    ``address`` is a building address of the district, e.g.
    荔城区镇海街道文献社区瑞隆里59号1栋. Coordinates win when both are given;
    the address is kept. ``reported_by`` is recorded as the signed-in user or
    the API token's user: the body cannot name someone else.
    """

    category: str = Field(
        min_length=1,
        max_length=64,
        description="A category code or Chinese name of GET /api/categories, e.g. "
        "fire_safety or 消防安全.",
    )
    lon: float | None = Field(
        None,
        ge=-MAX_ABS_COORDINATE,
        le=MAX_ABS_COORDINATE,
        description="Longitude, or easting in a projected `crs`.",
    )
    lat: float | None = Field(
        None,
        ge=-MAX_ABS_COORDINATE,
        le=MAX_ABS_COORDINATE,
        description="Latitude, or northing in a projected `crs`.",
    )
    crs: str | None = Field(
        None,
        pattern=CRS_PATTERN,
        description="wgs84 (default) | cgcs2000 | gcj02 | bd09 | EPSG:nnnn",
    )
    address: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=4000)
    source: str | None = Field(None, max_length=100, description="e.g. 12345热线")
    external_id: str | None = Field(None, min_length=1, max_length=100)

    what: ClassVar[str] = "case"
    reported_at: Moment | None = Field(
        None, description="When it was reported (with a UTC offset); default now."
    )

    @model_validator(mode="after")
    def _placed(self) -> NewCase:
        if (self.lon is None or self.lat is None) and self.address is None:
            raise ValueError("`case` needs `lon` and `lat` or `address`")
        return self


class CaseStep(Request):
    """The next step of a case. Who took it (``<step>_by``) is the signed-in user."""

    what: ClassVar[str] = "step"

    step: NextStep = Field(description="The step taken (or `rejected`, 作废).")
    at: Moment | None = Field(None, description="When the step was taken; default now.")


class CaseQuery(Page):
    """The filter of a list of cases (newest report first)."""

    street: StreetCode | None = None
    community: CommunityCode | None = None
    cell: CellCode | None = None
    category: str | None = Field(
        None, min_length=1, max_length=64, description="Category code or Chinese name."
    )
    step: Step | None = Field(None, description="Current step.")
    overdue: Flag | None = Field(
        None,
        description="Only overdue cases (超期: open and past their deadline; true) or not (false).",
    )
    closed_late: Flag | None = Field(
        None,
        description="Only cases closed after their deadline (逾期结案; true) or not (false).",
    )
    since: Moment | None = Field(None, description="Reported at or after this time.")
    until: Moment | None = Field(None, description="Reported before this time.")


class CaseStatsQuery(Request):
    """Which figures: per which areas, in which cells, over which period."""

    level: Literal["cell", "community", "street"] = Field("cell", description="Area level.")
    layout: Literal["filed", "current"] = Field(
        "filed", description="Count cases in the cell they were filed in, or in today's cells."
    )
    since: Moment | None = Field(None, description="Reported at or after this time.")
    until: Moment | None = Field(None, description="Reported before this time.")


class _CaseFields(Answer):
    """A case (事件) with its place, cell and lifecycle. Times are ISO 8601 with offset."""

    id: int = Field(ge=1, le=MAX_ID)
    external_id: str | None
    category: str
    category_name: str
    description: str | None
    source: str | None
    address: str | None
    lon: float | None
    lat: float | None
    raw_x: float | None
    raw_y: float | None
    raw_crs: str | None
    located_by: Literal[LOCATED_BY] | None  # type: ignore[valid-type]
    location_flag: str | None
    building_id: int | None
    match_score: float | None = Field(ge=0, le=1)
    cell_code: CellCode | None
    community_code: CommunityCode | None
    street_code: StreetCode | None
    step: Step
    deadline: str | None = Field(json_schema_extra={"format": "date-time"})
    overdue: bool = Field(description="超期: open (not closed or rejected) and past its deadline.")
    closed_late: bool = Field(description="逾期结案: closed after its deadline.")
    reported_at: str = Field(json_schema_extra={"format": "date-time"})
    reported_by: str | None
    merged_into: int | None = Field(
        ge=1,
        le=MAX_ID,
        description="合并: the case this one was merged into (it is then rejected).",
    )


_STEP_FIELDS: dict[str, Any] = {
    f"{step}_{suffix}": (
        str | None,
        Field(json_schema_extra={"format": "date-time"}) if suffix == "at" else Field(),
    )
    for step in CASE_STEP_CHOICES[1:]
    for suffix in ("at", "by")
}
Case: type[_CaseFields] = create_model(  # <step>_at and <step>_by of every step
    "Case", __base__=_CaseFields, __doc__=_CaseFields.__doc__, **_STEP_FIELDS
)


class CaseList(Answer):
    """A page of cases."""

    cases: list[Case]  # type: ignore[valid-type]
    limit: int
    offset: int


class CaseStatsRow(Answer):
    """One area (``code`` null: the cases in no area).

    ``closure_rate`` is 结案率, closed / (cases - rejected); ``on_time_rate`` is
    按期结案率, closed_on_time / closed.
    """

    code: str | None
    name: str | None
    cases: int = Field(ge=0)
    closed: int = Field(ge=0)
    rejected: int = Field(ge=0)
    closed_on_time: int = Field(ge=0)
    closed_late: int = Field(ge=0, description="逾期结案: closed after the deadline.")
    overdue_open: int = Field(ge=0, description="超期: open and past the deadline now.")
    closure_rate: float | None = Field(ge=0, le=1)
    on_time_rate: float | None = Field(ge=0, le=1)
    median_hours_to_close: float | None


class CaseStats(Answer):
    """Case figures per area."""

    level: str
    layout: str
    rows: list[CaseStatsRow]


class Category(Answer):
    """A case category with its time limit to close."""

    code: str
    name_zh: str
    name_en: str
    deadline_hours: int = Field(ge=1)


class Categories(RootModel[list[Category]]):
    """The case categories."""
