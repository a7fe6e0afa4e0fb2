"""Rosters of people and places: grid workers' roles and what they serve, party
organisations as a tree, service facilities of more kinds.

- ``grid_worker`` gains ``id_number`` (people's data, shown masked); ``worker_role``
  holds one row per role a person holds (专职网格员, 楼栋长...); besides the cells of
  ``worker_cell``, a person may serve buildings (``worker_building``), units of
  buildings (``worker_unit``) or whole communities (``worker_community``).
- ``party_branch`` gains ``kind`` (党委 ``committee``, 党总支 ``general_branch``,
  党支部 ``branch``, the default, 党小组 ``group``), ``parent_id`` (the organisation it
  belongs to), ``address``, ``secretary`` and ``secretary_phone``.
- ``service_facility.kind`` allows ``health``, ``police``, ``school``, ``elderly`` and
  ``other`` besides ``centre`` and ``station`` (which keep their meaning); ``kind_name``
  keeps the kind as the file named it, ``address`` its address.

Downgrading drops what was added; facilities of the new kinds are deleted, since the
old schema cannot hold them.

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-10
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_FACILITY_KINDS = "kind IN ('centre', 'station')"
_FACILITY_KINDS = "kind IN ('centre', 'station', 'health', 'police', 'school', 'elderly', 'other')"
_BRANCH_KINDS = "kind IN ('committee', 'general_branch', 'branch', 'group')"


def _worker_link(table: str, *columns: Any, key: list[str]) -> None:
    op.create_table(
        table,
        sa.Column("worker_id", sa.Integer(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["grid_worker.id"],
            name=op.f(f"fk_{table}_worker_id_grid_worker"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("worker_id", *key, name=op.f(f"pk_{table}")),
    )


def upgrade() -> None:
    op.add_column("grid_worker", sa.Column("id_number", sa.Text(), nullable=True))
    _worker_link(
        "worker_role",
        sa.Column("role", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "role ~ '^[a-z][a-z0-9_]{0,39}$'", name=op.f("ck_worker_role_role_format")
        ),
        key=["role"],
    )
    op.create_index(op.f("ix_worker_role_role"), "worker_role", ["role"], unique=False)
    _worker_link(
        "worker_building",
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_worker_building_building_id_building"),
            ondelete="CASCADE",
        ),
        key=["building_id"],
    )
    op.create_index(
        op.f("ix_worker_building_building_id"), "worker_building", ["building_id"], unique=False
    )
    _worker_link(
        "worker_unit",
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_number", sa.Integer(), nullable=False),
        sa.CheckConstraint("unit_number >= 1", name=op.f("ck_worker_unit_unit_number_positive")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_worker_unit_building_id_building"),
            ondelete="CASCADE",
        ),
        key=["building_id", "unit_number"],
    )
    op.create_index(
        op.f("ix_worker_unit_building_id"), "worker_unit", ["building_id"], unique=False
    )
    _worker_link(
        "worker_community",
        sa.Column("community_code", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_worker_community_community_code_community"),
        ),
        key=["community_code"],
    )
    op.create_index(
        op.f("ix_worker_community_community_code"),
        "worker_community",
        ["community_code"],
        unique=False,
    )

    op.add_column(
        "party_branch", sa.Column("kind", sa.Text(), server_default="branch", nullable=False)
    )
    op.add_column("party_branch", sa.Column("parent_id", sa.Integer(), nullable=True))
    op.add_column("party_branch", sa.Column("address", sa.Text(), nullable=True))
    op.add_column("party_branch", sa.Column("secretary", sa.Text(), nullable=True))
    op.add_column("party_branch", sa.Column("secretary_phone", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_party_branch_kind"), "party_branch", _BRANCH_KINDS)
    op.create_check_constraint(
        op.f("ck_party_branch_not_own_parent"),
        "party_branch",
        "parent_id IS NULL OR parent_id <> id",
    )
    op.create_foreign_key(
        op.f("fk_party_branch_parent_id_party_branch"),
        "party_branch",
        "party_branch",
        ["parent_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(op.f("ix_party_branch_parent_id"), "party_branch", ["parent_id"], unique=False)

    op.drop_constraint(op.f("ck_service_facility_kind"), "service_facility", type_="check")
    op.create_check_constraint(
        op.f("ck_service_facility_kind"), "service_facility", _FACILITY_KINDS
    )
    op.add_column("service_facility", sa.Column("kind_name", sa.Text(), nullable=True))
    op.add_column("service_facility", sa.Column("address", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("service_facility", "address")
    op.drop_column("service_facility", "kind_name")
    op.drop_constraint(op.f("ck_service_facility_kind"), "service_facility", type_="check")
    op.execute(sa.text(f"DELETE FROM service_facility WHERE NOT ({_OLD_FACILITY_KINDS})"))
    op.create_check_constraint(
        op.f("ck_service_facility_kind"), "service_facility", _OLD_FACILITY_KINDS
    )

    op.drop_index(op.f("ix_party_branch_parent_id"), table_name="party_branch")
    op.drop_constraint(
        op.f("fk_party_branch_parent_id_party_branch"), "party_branch", type_="foreignkey"
    )
    op.drop_constraint(op.f("ck_party_branch_not_own_parent"), "party_branch", type_="check")
    op.drop_constraint(op.f("ck_party_branch_kind"), "party_branch", type_="check")
    for column in ("secretary_phone", "secretary", "address", "parent_id", "kind"):
        op.drop_column("party_branch", column)

    op.drop_index(op.f("ix_worker_community_community_code"), table_name="worker_community")
    op.drop_table("worker_community")
    op.drop_index(op.f("ix_worker_unit_building_id"), table_name="worker_unit")
    op.drop_table("worker_unit")
    op.drop_index(op.f("ix_worker_building_building_id"), table_name="worker_building")
    op.drop_table("worker_building")
    op.drop_index(op.f("ix_worker_role_role"), table_name="worker_role")
    op.drop_table("worker_role")
    op.drop_column("grid_worker", "id_number")
