"""Drafts of cell layouts: a proposal kept between its preview and its publish.

An administrator's draw, adjust or uploaded file is stored here until it is
published (then deleted) or discarded, so it survives between requests and
across web workers. ``base_version`` is the layout version it was computed
from; publishing is refused once the community has moved on. The cells are a
GeoJSON FeatureCollection (``code``, ``households``, ``flags``) and the
validator's report is kept with them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "layout_draft",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("cells", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("base_version >= 0", name=op.f("ck_layout_draft_base_version")),
        sa.CheckConstraint(
            "method IN ('draw', 'adjust', 'import', 'edit')", name=op.f("ck_layout_draft_method")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(cells -> 'features') = 'array'",
            name=op.f("ck_layout_draft_cells_collection"),
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_layout_draft_community_code_community"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layout_draft")),
    )
    op.create_index(
        op.f("ix_layout_draft_community_code"), "layout_draft", ["community_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_layout_draft_community_code"), table_name="layout_draft")
    op.drop_table("layout_draft")
