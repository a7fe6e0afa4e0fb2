"""How each case was located: by coordinates or by address, the matched building, and flags.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCATED_BY = ("coordinates", "address")
LOCATION_FLAGS = ("outside", "gap", "swapped", "outside_china", "unmatched")


def _in(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IS NULL OR {column} IN ({listed})"


def upgrade() -> None:
    for table in ("case_record", "inspection"):
        op.add_column(table, sa.Column("located_by", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("location_flag", sa.Text(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_{table}_located_by"), table, _in("located_by", LOCATED_BY)
        )
        op.create_check_constraint(
            op.f(f"ck_{table}_location_flag"), table, _in("location_flag", LOCATION_FLAGS)
        )
    op.add_column("case_record", sa.Column("building_id", sa.BigInteger(), nullable=True))
    op.add_column("case_record", sa.Column("match_score", sa.Float(), nullable=True))
    op.create_foreign_key(
        op.f("fk_case_record_building_id_building"),
        "case_record",
        "building",
        ["building_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_case_record_building_id", "case_record", ["building_id"])
    op.create_check_constraint(
        op.f("ck_case_record_match_score_range"),
        "case_record",
        "match_score IS NULL OR (match_score >= 0 AND match_score <= 1)",
    )
    op.create_index("ix_case_record_category_code_reported_at", "case_record",
                    ["category_code", "reported_at"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_case_record_category_code_reported_at", table_name="case_record")
    op.drop_constraint(op.f("ck_case_record_match_score_range"), "case_record", type_="check")
    op.drop_index("ix_case_record_building_id", table_name="case_record")
    op.drop_constraint(
        op.f("fk_case_record_building_id_building"), "case_record", type_="foreignkey"
    )
    op.drop_column("case_record", "match_score")
    op.drop_column("case_record", "building_id")
    for table in ("case_record", "inspection"):
        op.drop_constraint(op.f(f"ck_{table}_location_flag"), table, type_="check")
        op.drop_constraint(op.f(f"ck_{table}_located_by"), table, type_="check")
        op.drop_column(table, "location_flag")
        op.drop_column(table, "located_by")
