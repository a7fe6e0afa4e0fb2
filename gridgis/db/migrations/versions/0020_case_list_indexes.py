"""Indexes that read a list of cases' first page in order: one street's, one community's,
one department's cases, newest first.

The single-column indexes on ``street_code``, ``community_code`` and
``department_code`` of ``case_record`` become ``(code, reported_at, id)``: the same
look-ups by code, and a list of a street's 50,000 cases, newest first, read 100 rows
from the index instead of sorting all of them (``scripts/bench/case_list.py``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("street_code", "community_code", "department_code")


def upgrade() -> None:
    for column in _COLUMNS:
        op.create_index(
            op.f(f"ix_case_record_{column}_reported_at"),
            "case_record",
            [column, "reported_at", "id"],
        )
        op.drop_index(op.f(f"ix_case_record_{column}"), table_name="case_record")


def downgrade() -> None:
    for column in _COLUMNS:
        op.create_index(op.f(f"ix_case_record_{column}"), "case_record", [column])
        op.drop_index(op.f(f"ix_case_record_{column}_reported_at"), table_name="case_record")
