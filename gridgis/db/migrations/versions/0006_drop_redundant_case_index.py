"""Drop ``ix_case_record_category_code``: ``(category_code, reported_at)`` serves it.

Every query that filters cases by category (the lists, the density map, the
statistics, the foreign key's check when a category is deleted) can use the
composite index ``ix_case_record_category_code_reported_at``, whose leading
column is ``category_code``. The single-column index was one more B-tree that
every filed case updated, for no query.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_case_record_category_code", table_name="case_record")


def downgrade() -> None:
    op.create_index("ix_case_record_category_code", "case_record", ["category_code"], unique=False)
