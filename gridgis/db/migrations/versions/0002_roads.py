"""Roads and other barriers (railways, rivers, walls) that cell boundaries follow.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "road",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), server_default="local", nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTILINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('arterial', 'secondary', 'local', 'path', 'railway', 'river', 'wall', "
            "'other')",
            name=op.f("ck_road_kind"),
        ),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_road_geom_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road")),
        sa.UniqueConstraint("external_id", name=op.f("uq_road_external_id")),
    )
    op.create_index("ix_road_geom", "road", ["geom"], unique=False, postgresql_using="gist")


def downgrade() -> None:
    op.drop_index("ix_road_geom", table_name="road", postgresql_using="gist")
    op.drop_table("road")
