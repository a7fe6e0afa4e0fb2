"""The web app's users, sessions and login failures; the audit trail; data versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gridgis.db.models._base import Base

USER_ROLES: tuple[str, ...] = ("admin", "street", "analyst", "worker", "department", "member")
"""Who may do what in the web app: ``admin`` sees and edits everything; ``street`` (a
street office, 街道) sees and exports only its own street; ``analyst`` reads and exports
everything and edits nothing; ``worker`` (网格员) sees the cases of the cells it serves,
files cases and verifies them; ``department`` (职能部门) handles the cases dispatched to it;
``member`` (党员) is a party member's login: it sees the 大走访 targets assigned to the member
and logs its visits."""


class AppUser(Base):
    """A user of the web app. Passwords are kept only as werkzeug hashes (scrypt),
    API tokens only as their SHA-256; see :mod:`gridgis.users`."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in USER_ROLES) + ")", name="role"),
        CheckConstraint("(role = 'street') = (street_code IS NOT NULL)", name="street_scope"),
        CheckConstraint("(role = 'worker') = (worker_id IS NOT NULL)", name="worker_link"),
        CheckConstraint(
            "(role = 'department') = (department_code IS NOT NULL)", name="department_link"
        ),
        CheckConstraint("(role = 'member') = (member_id IS NOT NULL)", name="member_link"),
        CheckConstraint("name ~ '^[^[:space:][:cntrl:]/]{1,64}$'", name="name_format"),
        CheckConstraint("password_hash ~ '^(scrypt|pbkdf2):'", name="password_hashed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(ForeignKey("street.code"), index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("grid_worker.id"), index=True)
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("department.code", onupdate="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("party_member.id"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str | None] = mapped_column(Text, unique=True)
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A signed-in browser session; the cookie holds its random id, the table only its SHA-256.

    A session is valid while its row exists and ``expires_at`` is ahead: logging
    out deletes the row, a password change deletes the user's rows, removing the
    user deletes them with it (see :mod:`gridgis.web.auth`).
    """

    __tablename__ = "user_session"

    id_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class LoginFailure(Base):
    """A wrong password given for ``name`` (which may not exist) from ``address``.

    Counted over a sliding window to throttle guessing (see :mod:`gridgis.logins`);
    rows older than the window are deleted as new ones arrive.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_name_address_failed_at", "name", "address", "failed_at"),
        Index("ix_login_failure_address_failed_at", "address", "failed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class Open311Client(Base):
    """A client application of Open311 with its own key (``gridgis open311 key add NAME``).

    Only the key's SHA-256 is kept (see :mod:`gridgis.open311_keys`). A revoked key
    keeps its row (``revoked_at``), so that it is refused as revoked, not as unknown.
    ``window_start`` and ``window_count`` count the key's requests of the current
    minute for its rate limit; the row is the store every server process shares.
    """

    __tablename__ = "open311_client"
    __table_args__ = (
        CheckConstraint("name ~ '^[^[:space:][:cntrl:]/]{1,64}$'", name="name_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    window_count: Mapped[int] = mapped_column(Integer, server_default="0")


class AuditLog(Base):
    """One change to the data: who (``actor``), when (``at``), what (``action`` on
    ``object_type`` ``object_id``) and a ``summary`` of the fields before and after.

    Written by :func:`gridgis.audit.record` in the transaction of the change, so a
    change that is rolled back leaves no row. ``street_code`` is the street the
    object lies in, when it has one (to limit a street office's view later); it is
    plain text, not a foreign key, so the trail outlives the areas it names.
    ``request_id`` ties the row to the web request that made it (see
    :mod:`gridgis.web.logs`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_object_type_object_id", "object_type", "object_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    object_type: Mapped[str] = mapped_column(Text)
    object_id: Mapped[str | None] = mapped_column(Text)
    street_code: Mapped[str | None] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    request_id: Mapped[str | None] = mapped_column(Text)


class DataVersion(Base):
    """The version of a table whose rows gridgis keeps in memory (:mod:`gridgis.db.versions`).

    A statement-level trigger on the table (migration 0009) gives its row a new
    ``version`` from the sequence ``data_version_seq`` whenever a transaction
    inserts, updates, deletes or truncates rows of it, however it does so; a cache
    loads again when a version it loaded its data at has changed.
    """

    __tablename__ = "data_version"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


JOB_STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
"""Where a background job stands (:mod:`gridgis.jobs`)."""


class BackgroundJob(Base):
    """A long task (an export) run in the background by any process (:mod:`gridgis.jobs`).

    A runner claims a ``queued`` job with ``SELECT … FOR UPDATE SKIP LOCKED``,
    marks it ``running`` under its own ``worker`` name and refreshes
    ``heartbeat_at`` while it runs; a ``running`` job whose heartbeat is older
    than the stale timeout belonged to a process that died and is queued again
    (or failed after its attempts). ``result_path`` is the file written under
    the data home, never shown to users; ``error`` is the user's sentence.
    """

    __tablename__ = "background_job"
    __table_args__ = (
        CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in JOB_STATES) + ")", name="state"),
        CheckConstraint("done >= 0 AND (total IS NULL OR total >= 0)", name="progress"),
        Index("ix_background_job_state_id", "state", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    # raw SQL: DDL, the column's default as the migration writes it.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    owner: Mapped[str] = mapped_column(Text, index=True)
    street_code: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default="queued")
    done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    result_path: Mapped[str | None] = mapped_column(Text)
    result_name: Mapped[str | None] = mapped_column(Text)
    media_type: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
