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

from gridgis.db.models import CASE_EVENT_KINDS, CASE_STEPS, DEPARTMENT_CODE_PATTERN, LOCATED_BY
from gridgis.errors import InputError
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
    "CaseEscalation",
    "CaseFilters",
    "CaseList",
    "CaseNote",
    "CasePhoto",
    "CasePhotos",
    "CaseQuery",
    "CaseStats",
    "CaseStatsQuery",
    "CaseStatsRow",
    "CaseStep",
    "Categories",
    "Category",
    "DepartmentAnswer",
    "DepartmentQuery",
    "Departments",
    "NewCase",
    "NewDepartment",
    "PhotoLink",
    "Timeline",
    "TimelineEntry",
]

CASE_STEP_CHOICES: tuple[str, ...] = (*CASE_STEPS, "rejected")
"""Every value of a case's ``step``: the forward lifecycle, then ``rejected`` (作废)."""
MAX_ABS_COORDINATE = 1e8
"""The largest coordinate a request may give (projected CRSs reach millions of metres)."""

NextStep = Literal["registered", "dispatched", "handled", "verified", "closed", "rejected"]
"""A step a case can be moved to (written out for type checkers; equal to the lifecycle's)."""
Step = Literal["reported", NextStep]
StepTaken = Literal[NextStep, "returned"]
"""What the steps route takes: a next step, or ``returned`` (退单, back to ``registered``)."""
EventKind = Literal[
    "reported", "registered", "dispatched", "returned", "reassigned", "handled", "verified",
    "closed", "rejected", "escalated", "merged", "note",
]  # fmt: skip
"""A timeline entry's kind: the report, then those of ``case_event`` (written out for type
checkers; checked equal to the model's on import)."""
if set(get_args(EventKind)) != {"reported", *CASE_EVENT_KINDS}:  # pragma: no cover
    raise ImportError(f"EventKind {get_args(EventKind)} differs from {CASE_EVENT_KINDS}")
DEPARTMENT_PATTERN = DEPARTMENT_CODE_PATTERN
"""A department's code (``gridgis departments add CODE NAME``)."""
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
    what_zh: ClassVar[str] = "事件"
    reported_at: Moment | None = Field(
        None, description="When it was reported (with a UTC offset); default now."
    )

    @model_validator(mode="after")
    def _placed(self) -> NewCase:
        if (self.lon is None or self.lat is None) and self.address is None:
            raise InputError(
                "`case` needs `lon` and `lat` or `address`",
                zh="事件需要 `lon` 和 `lat`（经纬度），或 `address`（地址）",
            )
        return self


class CaseStep(Request):
    """The next step of a case. Who took it (``<step>_by``) is the signed-in user."""

    what: ClassVar[str] = "step"
    what_zh: ClassVar[str] = "办理步骤"

    step: StepTaken = Field(
        description="The step taken, `rejected` (作废), or `returned` (退单: a department sends "
        "a dispatched case back; it is at `registered` again). `dispatched` on a dispatched "
        "case reassigns it (改派)."
    )
    at: Moment | None = Field(None, description="When the step was taken; default now.")
    note: str | None = Field(
        None, max_length=2000, description="What the step says; required for `returned`."
    )
    department: str | None = Field(
        None,
        pattern=DEPARTMENT_PATTERN,
        description="With `dispatched`: the department's code (default: the dispatch rules').",
    )
    assignee: str | None = Field(
        None, min_length=1, max_length=64, description="With `dispatched`: who handles it."
    )


class CaseEscalation(Request):
    """An escalation (督办) of a case to the street office's leaders."""

    what: ClassVar[str] = "escalation"
    what_zh: ClassVar[str] = "督办"

    note: str = Field(min_length=1, max_length=2000, description="Why, and what is asked.")


class CaseNote(Request):
    """A note on a case's timeline."""

    what: ClassVar[str] = "note"
    what_zh: ClassVar[str] = "备注"

    note: str = Field(min_length=1, max_length=2000)


class CaseFilters(Request):
    """What a list of cases is filtered by besides its area and period (the case list's,
    and a cases export's: exactly the cases a list shows)."""

    CASE_FILTERS: ClassVar[tuple[str, ...]] = (
        "cell", "category", "step", "overdue", "closed_late", "department", "assignee",
        "escalated", "text",
    )  # fmt: skip
    """These fields' names."""

    cell: CellCode | None = Field(None, description="Filed in this cell (any of its versions).")
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
    department: str | None = Field(
        None, pattern=DEPARTMENT_PATTERN, description="Dispatched to this department (code)."
    )
    assignee: str | None = Field(
        None, min_length=1, max_length=64, description="Dispatched to this person."
    )
    escalated: Flag | None = Field(None, description="Only escalated cases (督办; true) or not.")
    text: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Words in the description or address, or the external id.",
    )


class CaseQuery(Page, CaseFilters):
    """The filter of a list of cases (newest report first)."""

    street: StreetCode | None = None
    community: CommunityCode | None = None
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


class PhotoLink(Answer):
    """Where a photo of a case is: the photo and its thumbnail (an upload), or its link."""

    id: int = Field(ge=1, le=MAX_ID)
    url: str = Field(description="The photo: this server's route, or the link (Open311).")
    thumbnail_url: str | None = Field(
        description="Its thumbnail (JPEG, 320 px on its longer side); null for a link."
    )


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
    department_code: str | None = Field(description="The department it is dispatched to.")
    department_name: str | None
    assignee: str | None = Field(description="The person it is dispatched to.")
    escalated_at: str | None = Field(
        json_schema_extra={"format": "date-time"}, description="督办: last escalated at."
    )
    escalated_by: str | None
    merged_into: int | None = Field(
        ge=1,
        le=MAX_ID,
        description="合并: the case this one was merged into (it is then rejected).",
    )
    event_id: int | None = Field(
        None, description="In a step's answer: the timeline entry the step made."
    )
    photos: list[PhotoLink] | None = Field(
        None, description="In the answer of a filing or step that carried photos: those photos."
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


class CasePhoto(PhotoLink):
    """A photo of a case: filed with it (``event_id`` null) or with an entry of its timeline."""

    event_id: int | None = Field(description="The timeline entry it belongs to; null: the filing.")
    kind: Literal["upload", "link"] = Field(
        description="`upload`: kept by this server; `link`: only its URL (Open311 `media_url`)."
    )
    content_type: str | None
    width: int | None
    height: int | None
    bytes: int | None
    sha256: str | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    created_by: str


class CasePhotos(Answer):
    """The photos of a case, oldest first."""

    case_id: int = Field(ge=1, le=MAX_ID)
    photos: list[CasePhoto]


class TimelineEntry(Answer):
    """One entry of a case's timeline: its report, a step, a return (退单), a
    reassignment (改派), an escalation (督办), a merge (合并) or a note."""

    id: int | None = Field(
        description="The entry's id; null for the report and for steps of cases loaded "
        "without a timeline."
    )
    kind: EventKind
    kind_name: str = Field(description="The kind in Chinese (上报, 立案, 派遣, 退单 …).")
    at: str = Field(json_schema_extra={"format": "date-time"})
    actor: str | None
    note: str | None
    department_code: str | None
    department_name: str | None
    assignee: str | None
    photos: list[PhotoLink] = Field(
        default_factory=list,
        description="Its photos (the report's: those filed with the case).",
    )


class Timeline(Answer):
    """A case's timeline, oldest first, and what the signed-in user may do now."""

    case_id: int = Field(ge=1, le=MAX_ID)
    events: list[TimelineEntry]
    actions: list[str] = Field(
        description="The steps and actions this user may take now: the next step, "
        "`dispatched` (again: 改派), `returned`, `rejected`, `escalated`, `merged`, `note`."
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


class DepartmentQuery(Request):
    """Which departments: those serving an area (a district, street or community code)."""

    area: str | None = Field(
        None, pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$", description="An area code."
    )


class NewDepartment(Request):
    """A department (职能部门) of a district or of one street."""

    what: ClassVar[str] = "department"
    what_zh: ClassVar[str] = "职能部门"

    code: str = Field(pattern=DEPARTMENT_PATTERN, description="Its code, e.g. CG.")
    name: str = Field(min_length=1, max_length=100, description="e.g. 城市管理局.")
    district: str | None = Field(None, pattern=r"^[0-9]{6}$", description="The district.")
    street: str | None = Field(None, pattern=r"^[0-9]{9}$", description="Or the street.")
    phone: str | None = Field(None, max_length=40, description="The duty phone.")

    @model_validator(mode="after")
    def _one_area(self) -> NewDepartment:
        if (self.district is None) == (self.street is None):
            raise InputError(
                "`department` needs exactly one of `district` or `street`",
                zh="职能部门需要且只能给出 `district`（区）或 `street`（街道）中的一个",
            )
        return self


class DepartmentAnswer(Answer):
    """A department and the area it serves."""

    code: str
    name: str
    district_code: str | None
    street_code: str | None
    phone: str | None
    area_code: str = Field(description="The district or street code it serves.")


class Departments(RootModel[list[DepartmentAnswer]]):
    """Departments, by code."""
