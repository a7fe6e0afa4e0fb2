"""The buildings a party organisation covers (issue 19): ``branch_building``.

A 楼栋党小组 is built on buildings ("党小组建在楼栋上"); a 党支部 built on a compound
(小区) covers that compound's buildings. The link is kept like ``branch_cell``'s:
it goes with the organisation and with the building.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "branch_building",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["party_branch.id"],
            name=op.f("fk_branch_building_branch_id_party_branch"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_branch_building_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("branch_id", "building_id", name=op.f("pk_branch_building")),
    )
    op.create_index(
        op.f("ix_branch_building_building_id"), "branch_building", ["building_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_branch_building_building_id"), table_name="branch_building")
    op.drop_table("branch_building")
