"""Notices: the in-app inbox of each user, and the outbox of webhook deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base, _one_of

NOTICE_KINDS: tuple[str, ...] = (
    "dispatched",
    "returned",
    "reassigned",
    "escalated",
    "overdue_soon",
)
"""What a notice tells: a case dispatched (派遣) or reassigned (改派) to the recipient's
department, returned (退单), escalated (督办), or due soon (即将超期)."""

NOTICE_NAMES_ZH: dict[str, str] = {
    "dispatched": "派遣",
    "returned": "退单",
    "reassigned": "改派",
    "escalated": "督办",
    "overdue_soon": "即将超期",
}
"""The Chinese name of each kind of notice."""


class Notice(Base):
    """One notice in one user's inbox; ``read_at`` is null while it is unread."""

    __tablename__ = "notice"
    __table_args__ = (
        _one_of("kind", NOTICE_KINDS),
        Index("ix_notice_user_id_id", "user_id", "id"),
        # The unread count of the navigation bar, on every page: only the unread rows.
        Index(
            "ix_notice_unread",
            "user_id",
            postgresql_where=text("read_at IS NULL"),  # raw SQL: a partial index's predicate
        ),
        # The sweep's "never twice" (gridgis.notices.notify_overdue_soon).
        Index("ix_notice_case_id_kind", "case_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Outbox(Base):
    """A notice waiting to be posted to a department's webhook (:mod:`gridgis.webhooks`).

    ``message`` is what to say (case, kind, text, link); the URL, secret and format
    are the department's when it is sent. A row is due at ``next_attempt_at`` until it
    is sent (``sent_at``) or given up (``failed_at``), with ``attempts`` and the last
    error kept.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_positive"),
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            # raw SQL: a partial index's predicate
            postgresql_where=text("sent_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    department_code: Mapped[str] = mapped_column(
        ForeignKey("department.code", ondelete="CASCADE", onupdate="CASCADE"), index=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
