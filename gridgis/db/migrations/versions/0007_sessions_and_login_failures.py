"""Revocable sessions and throttled logins: ``user_session``, ``login_failure``.

A browser session is a row of ``user_session`` (the cookie holds a random id,
the table its SHA-256): logging out deletes it, a password change deletes the
user's rows and removing the user cascades, so a copied cookie stops working
on the next request in every server process. ``login_failure`` records wrong
passwords by name and client address for the sliding-window throttle that
replaces the per-account lock (``app_user.failed_logins``, ``locked_until``),
which let anyone lock any account.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_user_session")),
    )
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"], unique=False)
    op.create_index(
        op.f("ix_user_session_expires_at"), "user_session", ["expires_at"], unique=False
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failure")),
    )
    op.create_index(
        "ix_login_failure_name_address_failed_at",
        "login_failure",
        ["name", "address", "failed_at"],
        unique=False,
    )
    op.create_index(
        "ix_login_failure_address_failed_at",
        "login_failure",
        ["address", "failed_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_login_failure_failed_at"), "login_failure", ["failed_at"], unique=False
    )
    op.drop_column("app_user", "locked_until")
    op.drop_column("app_user", "failed_logins")


def downgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("app_user", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_index(op.f("ix_login_failure_failed_at"), table_name="login_failure")
    op.drop_index("ix_login_failure_address_failed_at", table_name="login_failure")
    op.drop_index("ix_login_failure_name_address_failed_at", table_name="login_failure")
    op.drop_table("login_failure")
    op.drop_index(op.f("ix_user_session_expires_at"), table_name="user_session")
    op.drop_index(op.f("ix_user_session_user_id"), table_name="user_session")
    op.drop_table("user_session")
