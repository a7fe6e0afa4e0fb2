"""驻区单位, 党建联合体, the needs list and the 三零 categories (issue 19, points 5 and 6).

- ``party_unit`` and ``party_unit_community``: organisations based in the area, their
  contact and party leader (people's data), and the communities they are linked to;
- ``party_alliance`` and ``party_alliance_unit``: 党建联合体 of a street or community and
  their units (``committee``: the unit's leader is a part-time member of the 大党委);
- ``party_need``: the needs list a community posts, claimed by units, followed to done;
- ``sanling_category``: which case categories count as 上访, 安全事故 or 治安案件,
  seeded from the categories whose Chinese names say so (信访/上访, 事故, 治安案件/刑事).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIT_KINDS = ("enterprise", "school", "agency", "institution", "hospital", "social", "other")
_NEED_KINDS = ("need", "resource", "project")
_NEED_STATES = ("open", "claimed", "done")
_FIGURES = ("petition", "accident", "security")
_DEFAULTS = (
    ("petition", "(信访|上访)"),
    ("accident", "事故"),
    ("security", "(治安案件|刑事|发案)"),
)
"""The categories counted by default: their Chinese names say petition, accident, case
(a 治安隐患 or 消防安全 report is a hazard, not an incident: not counted)."""


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "party_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="other", nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column(
            "location",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.Text(), nullable=True),
        sa.Column("party_org", sa.Text(), nullable=True),
        sa.Column("party_leader", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN ({_listed(_UNIT_KINDS)})", name=op.f("ck_party_unit_kind")),
        sa.CheckConstraint(
            "location IS NULL OR ST_IsValid(location)", name=op.f("ck_party_unit_location_valid")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_unit_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_party_unit_street_code_street")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_unit")),
        sa.UniqueConstraint("external_id", name=op.f("uq_party_unit_external_id")),
    )
    for column in ("community_code", "street_code"):
        op.create_index(op.f(f"ix_party_unit_{column}"), "party_unit", [column])
    op.create_index("ix_party_unit_location", "party_unit", ["location"], postgresql_using="gist")
    op.create_table(
        "party_unit_community",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["party_unit.id"],
            name=op.f("fk_party_unit_community_unit_id_party_unit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_unit_community_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("unit_id", "community_code", name=op.f("pk_party_unit_community")),
    )
    op.create_index(
        op.f("ix_party_unit_community_community_code"), "party_unit_community", ["community_code"]
    )
    op.create_table(
        "party_alliance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_party_alliance_street_code_street")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_alliance_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_alliance")),
        sa.UniqueConstraint("name", name=op.f("uq_party_alliance_name")),
    )
    op.create_index(op.f("ix_party_alliance_street_code"), "party_alliance", ["street_code"])
    op.create_table(
        "party_alliance_unit",
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("committee", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alliance_id"],
            ["party_alliance.id"],
            name=op.f("fk_party_alliance_unit_alliance_id_party_alliance"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["party_unit.id"],
            name=op.f("fk_party_alliance_unit_unit_id_party_unit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alliance_id", "unit_id", name=op.f("pk_party_alliance_unit")),
    )
    op.create_index(op.f("ix_party_alliance_unit_unit_id"), "party_alliance_unit", ["unit_id"])
    op.create_table(
        "party_need",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=False),
        sa.Column("kind", sa.Text(), server_default="need", nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("state", sa.Text(), server_default="open", nullable=False),
        sa.Column("posted_by", sa.Text(), nullable=False),
        sa.Column(
            "posted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_note", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN ({_listed(_NEED_KINDS)})", name=op.f("ck_party_need_kind")),
        sa.CheckConstraint(f"state IN ({_listed(_NEED_STATES)})", name=op.f("ck_party_need_state")),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_party_need_title_given")),
        sa.CheckConstraint(
            "(state = 'open') = (unit_id IS NULL)", name=op.f("ck_party_need_claimed_by_unit")
        ),
        sa.CheckConstraint(
            "(state = 'done') = (done_at IS NOT NULL)", name=op.f("ck_party_need_done_at")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_need_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_party_need_street_code_street")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["party_unit.id"],
            name=op.f("fk_party_need_unit_id_party_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_need")),
        sa.UniqueConstraint("external_id", name=op.f("uq_party_need_external_id")),
    )
    op.create_index(op.f("ix_party_need_community_code"), "party_need", ["community_code"])
    op.create_index(op.f("ix_party_need_unit_id"), "party_need", ["unit_id"])
    op.create_index("ix_party_need_street_code_state", "party_need", ["street_code", "state"])
    op.create_table(
        "sanling_category",
        sa.Column("category_code", sa.Text(), nullable=False),
        sa.Column("figure", sa.Text(), nullable=False),
        sa.CheckConstraint(
            f"figure IN ({_listed(_FIGURES)})", name=op.f("ck_sanling_category_figure")
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["case_category.code"],
            name=op.f("fk_sanling_category_category_code_case_category"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_code", name=op.f("pk_sanling_category")),
    )
    for figure, pattern in _DEFAULTS:
        # raw SQL: data seeded in the migration, the defaults by the categories' names.
        op.execute(
            "INSERT INTO sanling_category (category_code, figure) "
            f"SELECT code, '{figure}' FROM case_category WHERE name_zh ~ '{pattern}' "
            "ON CONFLICT DO NOTHING"
        )


def downgrade() -> None:
    op.drop_table("sanling_category")
    op.drop_table("party_need")
    op.drop_table("party_alliance_unit")
    op.drop_table("party_alliance")
    op.drop_table("party_unit_community")
    op.drop_table("party_unit")
