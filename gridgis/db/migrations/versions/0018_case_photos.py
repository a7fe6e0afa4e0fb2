"""Photos of cases: ``case_photo``, filed with a case or with a step of its timeline.

An upload is kept in the photo store (``GRIDGIS_HOME/photos`` by default) under
``storage_key``, with its content type, size in pixels and bytes, and SHA-256; a
link (Open311's ``media_url``) is only its URL, in ``storage_key``.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_photo",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IS NULL OR kind IN ('upload', 'link')", name=op.f("ck_case_photo_kind")
        ),
        sa.CheckConstraint(
            "kind = 'link' OR (content_type IS NOT NULL AND sha256 IS NOT NULL AND width > 0 "
            "AND height > 0 AND bytes > 0)",
            name=op.f("ck_case_photo_upload_described"),
        ),
        sa.CheckConstraint(
            "length(storage_key) BETWEEN 1 AND 2048", name=op.f("ck_case_photo_storage_key_length")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_case_photo_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_event.id"],
            name=op.f("fk_case_photo_event_id_case_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_photo")),
    )
    op.create_index(op.f("ix_case_photo_case_id_id"), "case_photo", ["case_id", "id"])
    op.create_index(op.f("ix_case_photo_event_id"), "case_photo", ["event_id"])


def downgrade() -> None:
    op.drop_table("case_photo")
