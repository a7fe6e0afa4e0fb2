"""Near-duplicate cases (疑似重复) and merging (合并): the answers and the merge request.

Examples
--------
>>> CaseMerge(into=4321, note="同一处漏水").into
4321
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, create_model

from gridgis.cases.duplicates import MAX_NOTE_CHARS
from gridgis.schemas.cases import Case, Step
from gridgis.schemas.common import MAX_ID, Answer, Request, StreetCode

__all__ = ["CaseDetail", "CaseMerge", "Duplicates", "FiledCase", "LikelyDuplicate"]


class LikelyDuplicate(Answer):
    """An open case of the same category, near and close in time (疑似重复).

    ``relation``: ``earlier`` (reported no later than the case asked about, which may
    repeat it) or ``later`` (it may repeat the case asked about).
    """

    id: int = Field(ge=1, le=MAX_ID)
    category: str
    distance_m: float = Field(ge=0, description="Metres between the two points.")
    reported_at: str = Field(json_schema_extra={"format": "date-time"})
    relation: Literal["earlier", "later"]
    step: Step
    description: str | None
    street_code: StreetCode | None


class Duplicates(Answer):
    """The likely duplicates of a case, nearest first."""

    duplicates: list[LikelyDuplicate]


FiledCase = create_model(
    "FiledCase",
    __base__=Case,
    __doc__="A case just filed, with the open cases it may repeat (疑似重复).",
    likely_duplicates=(
        list[LikelyDuplicate],
        Field(description="Open cases of the same category nearby and close in time."),
    ),
)

CaseDetail = create_model(
    "CaseDetail",
    __base__=Case,
    __doc__="A case with its likely duplicates (both ways) and the cases merged into it.",
    duplicates=(
        list[LikelyDuplicate],
        Field(description="疑似重复: open cases of the same category nearby and close in time."),
    ),
    merged_from=(
        list[int],
        Field(description="合并: the cases merged into this one, by id."),
    ),
)


class CaseMerge(Request):
    """Merge this case (a duplicate) into another open case (合并).

    The duplicate is finished (作废, with ``merged_into``) and counted once, through
    the case it was merged into; both timelines record the merge with ``note``.
    """

    what: ClassVar[str] = "merge"
    what_zh: ClassVar[str] = "合并请求"

    into: int = Field(ge=1, le=MAX_ID, description="The open case this one repeats.")
    note: str | None = Field(None, min_length=1, max_length=MAX_NOTE_CHARS)
