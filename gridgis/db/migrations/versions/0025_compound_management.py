"""红心物业: the register of compounds and how each is managed (issue 19).

``compound_management``: one row per compound (小区) of a community, named as its
buildings name it; whether it is an old compound (老旧小区) and the year it was built;
its management (a company, 红心物业 in one of four modes, or none); the company, the
contact (people's data), the 驻区单位 that takes it on (驻区单位包保), the party
organisation leading it, since when, and a note.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MANAGEMENTS = ("company", "red", "none")
_RED_MODES = ("service", "autonomy", "unit", "community")


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "compound_management",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("old", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("built_year", sa.Integer(), nullable=True),
        sa.Column("management", sa.Text(), server_default="none", nullable=False),
        sa.Column("red_mode", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("contact_phone", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            f"management IN ({_listed(_MANAGEMENTS)})",
            name=op.f("ck_compound_management_management"),
        ),
        sa.CheckConstraint(
            f"red_mode IS NULL OR red_mode IN ({_listed(_RED_MODES)})",
            name=op.f("ck_compound_management_red_mode"),
        ),
        sa.CheckConstraint(
            "(management = 'red') = (red_mode IS NOT NULL)",
            name=op.f("ck_compound_management_red_has_mode"),
        ),
        sa.CheckConstraint(
            "coalesce(red_mode = 'unit', false) = (unit_id IS NOT NULL)",
            name=op.f("ck_compound_management_unit_mode"),
        ),
        sa.CheckConstraint(
            "management = 'company' OR company IS NULL",
            name=op.f("ck_compound_management_company_only"),
        ),
        sa.CheckConstraint(
            "built_year IS NULL OR built_year BETWEEN 1900 AND 2100",
            name=op.f("ck_compound_management_built_year"),
        ),
        sa.CheckConstraint(
            "length(btrim(name)) > 0", name=op.f("ck_compound_management_name_given")
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_compound_management_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["party_unit.id"],
            name=op.f("fk_compound_management_unit_id_party_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["party_branch.id"],
            name=op.f("fk_compound_management_organisation_id_party_branch"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compound_management")),
        sa.UniqueConstraint(
            "community_code", "name", name=op.f("uq_compound_management_community_code_name")
        ),
    )
    for column in ("community_code", "unit_id", "organisation_id"):
        op.create_index(op.f(f"ix_compound_management_{column}"), "compound_management", [column])


def downgrade() -> None:
    op.drop_table("compound_management")
