"""Notices: each user's inbox, the outbox of webhook deliveries, departments' webhooks.

- ``notice``: one row per notice per recipient (派遣, 改派, 退单, 督办, 即将超期), read
  or unread; a partial index on the unread rows keeps the navigation bar's count cheap.
- ``outbox``: a notice waiting to be posted to a department's webhook, with its
  attempts and the time of the next one.
- ``department`` gains ``webhook_url``, ``webhook_secret`` and ``webhook_format``
  (``json``, ``wecom``, ``dingtalk``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("dispatched", "returned", "reassigned", "escalated", "overdue_soon")
_FORMATS = ("json", "wecom", "dingtalk")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.add_column("department", sa.Column("webhook_url", sa.Text(), nullable=True))
    op.add_column("department", sa.Column("webhook_secret", sa.Text(), nullable=True))
    op.add_column("department", sa.Column("webhook_format", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_department_webhook_http"),
        "department",
        "webhook_url IS NULL OR webhook_url ~ '^https?://'",
    )
    op.create_check_constraint(
        op.f("ck_department_webhook_format"),
        "department",
        f"webhook_format IS NULL OR webhook_format IN ({_listed(_FORMATS)})",
    )
    op.create_table(
        "notice",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            f"kind IS NULL OR kind IN ({_listed(_KINDS)})", name=op.f("ck_notice_kind")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_notice_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_notice_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index("ix_notice_user_id_id", "notice", ["user_id", "id"])
    op.create_index(
        "ix_notice_unread", "notice", ["user_id"], postgresql_where=sa.text("read_at IS NULL")
    )
    op.create_index("ix_notice_case_id_kind", "notice", ["case_id", "kind"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("department_code", sa.Text(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("message", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts_positive")),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["department.code"],
            name=op.f("fk_outbox_department_code_department"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_outbox_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(op.f("ix_outbox_department_code"), "outbox", ["department_code"])
    op.create_index(
        "ix_outbox_due",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("sent_at IS NULL AND failed_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_index(op.f("ix_outbox_department_code"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_notice_case_id_kind", table_name="notice")
    op.drop_index("ix_notice_unread", table_name="notice")
    op.drop_index("ix_notice_user_id_id", table_name="notice")
    op.drop_table("notice")
    op.drop_constraint(op.f("ck_department_webhook_format"), "department", type_="check")
    op.drop_constraint(op.f("ck_department_webhook_http"), "department", type_="check")
    op.drop_column("department", "webhook_format")
    op.drop_column("department", "webhook_secret")
    op.drop_column("department", "webhook_url")
