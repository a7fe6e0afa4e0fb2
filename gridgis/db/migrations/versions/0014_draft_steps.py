"""Edits made by hand on a draft are kept step by step, so that each can be undone.

``layout_draft_step`` holds, per draft, each hand edit (``action``: move, merge,
split, reshape; ``params``: what was asked, and what it made, such as a new cell's code) with the
draft's cells and validator report as they were *before* it; undoing the last step
puts them back and deletes the row. Steps go with their draft.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "layout_draft_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cells", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_layout_draft_step_seq")),
        sa.CheckConstraint(
            "action IN ('move', 'merge', 'split', 'reshape')",
            name=op.f("ck_layout_draft_step_action"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(cells -> 'features') = 'array'",
            name=op.f("ck_layout_draft_step_cells_collection"),
        ),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["layout_draft.id"],
            name=op.f("fk_layout_draft_step_draft_id_layout_draft"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layout_draft_step")),
        sa.UniqueConstraint("draft_id", "seq", name=op.f("uq_layout_draft_step_draft_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("layout_draft_step")
