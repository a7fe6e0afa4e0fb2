"""Open311 client applications and their keys: ``open311_client``.

A client application of Open311 (``gridgis open311 key add NAME``) gets a key of its
own, kept as its SHA-256; revoking it keeps the row (``revoked_at``) so that the key
is refused as revoked. ``window_start`` and ``window_count`` hold the key's requests
of the current minute, for its rate limit.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_count", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "name ~ '^[^[:space:][:cntrl:]/]{1,64}$'",
            name=op.f("ck_open311_client_name_format"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_client")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_client_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_client_name")),
    )


def downgrade() -> None:
    op.drop_table("open311_client")
