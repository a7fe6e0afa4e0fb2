"""Buildings imported from a district's own files (issue 16): estimates, flags, a second community.

- ``height``: metres, as the file gives it (floors are estimated from it);
- ``households_estimated``: the households are an estimate (footprint × floors ×
  residential share ÷ dwelling size), to be replaced by a real count;
- ``flags``: what the import found for a person to look at (``straddles`` two
  communities, footprint ``repaired``, coordinates that looked ``swapped``);
- ``other_community_code``: the second community of a building that straddles two
  (``community_code`` is the one holding most of its footprint).

The external id (``external_id``, unique since 0001) is what an import upserts on.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = ("straddles", "repaired", "swapped")


def upgrade() -> None:
    op.add_column("building", sa.Column("height", sa.Float(), nullable=True))
    op.add_column(
        "building",
        sa.Column(
            "households_estimated", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    op.add_column(
        "building",
        sa.Column(
            "flags", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
    )
    op.add_column(
        "building", sa.Column("other_community_code", sa.String(length=12), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_building_other_community_code_community"),
        "building",
        "community",
        ["other_community_code"],
        ["code"],
    )
    listed = ", ".join(f"'{f}'" for f in _FLAGS)
    op.create_check_constraint(
        op.f("ck_building_flags"), "building", f"flags <@ ARRAY[{listed}]::text[]"
    )
    op.create_check_constraint(
        op.f("ck_building_other_community"),
        "building",
        "other_community_code IS NULL OR other_community_code <> community_code",
    )
    op.create_check_constraint(
        op.f("ck_building_height_positive"), "building", "height IS NULL OR height > 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_building_height_positive"), "building", type_="check")
    op.drop_constraint(op.f("ck_building_other_community"), "building", type_="check")
    op.drop_constraint(op.f("ck_building_flags"), "building", type_="check")
    op.drop_constraint(
        op.f("fk_building_other_community_code_community"), "building", type_="foreignkey"
    )
    op.drop_column("building", "other_community_code")
    op.drop_column("building", "flags")
    op.drop_column("building", "households_estimated")
    op.drop_column("building", "height")
