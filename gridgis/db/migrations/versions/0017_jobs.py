"""Background jobs (long exports) queued in PostgreSQL: ``background_job``.

A job is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` by the runner of a web
process or by ``gridgis jobs worker``; its progress, its result file (under the
data home) and its error are kept on the row (see :mod:`gridgis.jobs`).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "background_job",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("street_code", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), server_default="queued", nullable=False),
        sa.Column("done", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("result_path", sa.Text(), nullable=True),
        sa.Column("result_name", sa.Text(), nullable=True),
        sa.Column("media_type", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("worker", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed', 'cancelled')",
            name=op.f("ck_background_job_state"),
        ),
        sa.CheckConstraint(
            "done >= 0 AND (total IS NULL OR total >= 0)",
            name=op.f("ck_background_job_progress"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_job")),
    )
    op.create_index("ix_background_job_state_id", "background_job", ["state", "id"], unique=False)
    op.create_index(op.f("ix_background_job_owner"), "background_job", ["owner"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_background_job_owner"), table_name="background_job")
    op.drop_index("ix_background_job_state_id", table_name="background_job")
    op.drop_table("background_job")
