"""The requests and answers of the notices API (:mod:`gridgis.web.notices`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gridgis.schemas.common import MAX_ID, Answer, Flag, Page

__all__ = ["Notice", "NoticeList", "NoticeQuery", "NoticesRead", "UnreadCount"]


class NoticeQuery(Page):
    """The signed-in user's notices, newest first."""

    unread: Flag | None = Field(
        None, description="Only the unread notices (true) or only the read ones (false)."
    )


class Notice(Answer):
    """One notice: a case dispatched (派遣) or reassigned (改派) to the user's department,
    returned (退单), escalated (督办), or due soon (即将超期)."""

    id: int = Field(ge=1, le=MAX_ID)
    case_id: int = Field(ge=1, le=MAX_ID)
    kind: Literal["dispatched", "returned", "reassigned", "escalated", "overdue_soon"]
    kind_name: str = Field(description="The kind in Chinese (派遣, 改派, 退单, 督办, 即将超期).")
    text: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    read_at: str | None = Field(
        json_schema_extra={"format": "date-time"}, description="Null while unread."
    )
    link: str = Field(description="The path of the case's page.")


class NoticeList(Answer):
    """A page of notices."""

    notices: list[Notice]
    unread: int = Field(ge=0, description="How many of the user's notices are unread.")
    limit: int
    offset: int


class UnreadCount(Answer):
    """How many of the signed-in user's notices are unread."""

    unread: int = Field(ge=0)


class NoticesRead(Answer):
    """What marking every notice read did."""

    marked: int = Field(ge=0, description="How many notices were unread.")
    unread: int = Field(ge=0)
