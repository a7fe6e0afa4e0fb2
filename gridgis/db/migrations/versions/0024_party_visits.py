"""大走访: key households, campaigns, targets, visits and the ledger (issue 19).

- ``household_category``: the categories of key households with their names, seeded
  with 退役军人 (veteran), 困难户 (needy), 独居老人 (elderly_alone) and 残疾人
  (disabled); more may be added.
- ``resident_household``: the register of key households (``gridgis import residents``).
- ``visit_campaign`` and ``campaign_building``: campaigns, their period, area, target
  rules and the buildings whose households they visit.
- ``visit_target``: whom a campaign visits, in which cell, and who is to visit.
- ``visit`` and ``visit_photo``: visits logged, with GPS and photos.
- ``ledger_entry``: problems found (台账), their case and their 销号 by hand.
- ``app_user`` gains the role ``member`` (党员) and ``member_id``.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FORMAT = "^[a-z][a-z0-9_]{0,39}$"
_CATEGORIES = (
    ("veteran", "退役军人", "Veteran"),
    ("needy", "困难户", "Household in need"),
    ("elderly_alone", "独居老人", "Elderly living alone"),
    ("disabled", "残疾人", "Person with a disability"),
)
_ROLES_BEFORE = ("admin", "street", "analyst", "worker", "department")
_ROLES = (*_ROLES_BEFORE, "member")
_VISITORS = "num_nonnulls(visitor_member_id, visitor_worker_id, visitor_user_id)"


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    name = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{name}"), ondelete=ondelete
    )


def _visitors(table: str) -> list[sa.ForeignKeyConstraint]:
    return [
        _fk(table, "visitor_member_id", "party_member.id", "SET NULL"),
        _fk(table, "visitor_worker_id", "grid_worker.id", "SET NULL"),
        _fk(table, "visitor_user_id", "app_user.id", "SET NULL"),
    ]


def upgrade() -> None:
    category = op.create_table(
        "household_category",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.CheckConstraint(f"code ~ '{_FORMAT}'", name=op.f("ck_household_category_code_format")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_household_category")),
        sa.UniqueConstraint("name_zh", name=op.f("uq_household_category_name_zh")),
    )
    op.bulk_insert(
        category, [{"code": c, "name_zh": zh, "name_en": en} for c, zh, en in _CATEGORIES]
    )
    op.create_table(
        "resident_household",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("unit", sa.Text(), nullable=True),
        sa.Column("room", sa.Text(), nullable=True),
        sa.Column("head_name", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("categories", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _fk("resident_household", "building_id", "building.id", "SET NULL"),
        _fk("resident_household", "community_code", "community.code"),
        _fk("resident_household", "street_code", "street.code"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_household")),
        sa.UniqueConstraint("external_id", name=op.f("uq_resident_household_external_id")),
    )
    for column in ("building_id", "community_code", "street_code"):
        op.create_index(op.f(f"ix_resident_household_{column}"), "resident_household", [column])
    op.create_table(
        "visit_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("area_code", sa.Text(), nullable=False),
        sa.Column("rules", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_visit_campaign_period")),
        sa.CheckConstraint(
            "area_code ~ '^[0-9]{6}([0-9]{3}){0,2}$'",
            name=op.f("ck_visit_campaign_area_code_format"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_campaign")),
    )
    op.create_index(op.f("ix_visit_campaign_area_code"), "visit_campaign", ["area_code"])
    op.create_table(
        "campaign_building",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.BigInteger(), nullable=False),
        _fk("campaign_building", "campaign_id", "visit_campaign.id", "CASCADE"),
        _fk("campaign_building", "building_id", "building.id", "CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "building_id", name=op.f("pk_campaign_building")),
    )
    op.create_table(
        "visit_target",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("reasons", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("visitor_member_id", sa.Integer(), nullable=True),
        sa.Column("visitor_worker_id", sa.Integer(), nullable=True),
        sa.Column("visitor_user_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IS NULL OR kind IN ('household', 'member', 'building')",
            name=op.f("ck_visit_target_kind"),
        ),
        sa.CheckConstraint(
            "(kind = 'household') = (household_id IS NOT NULL) "
            "AND (kind = 'member') = (member_id IS NOT NULL)",
            name=op.f("ck_visit_target_kind_link"),
        ),
        sa.CheckConstraint(f"{_VISITORS} <= 1", name=op.f("ck_visit_target_one_visitor")),
        _fk("visit_target", "campaign_id", "visit_campaign.id", "CASCADE"),
        _fk("visit_target", "household_id", "resident_household.id", "CASCADE"),
        _fk("visit_target", "member_id", "party_member.id", "CASCADE"),
        _fk("visit_target", "building_id", "building.id", "SET NULL"),
        _fk("visit_target", "cell_id", "grid_cell.id"),
        *_visitors("visit_target"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_target")),
    )
    for column in (
        "building_id",
        "street_code",
        "visitor_member_id",
        "visitor_worker_id",
        "visitor_user_id",
    ):
        op.create_index(op.f(f"ix_visit_target_{column}"), "visit_target", [column])
    op.create_index(
        "ix_visit_target_campaign_id_cell_id", "visit_target", ["campaign_id", "cell_id"]
    )
    for column, where in (
        ("household_id", "household_id IS NOT NULL"),
        ("member_id", "member_id IS NOT NULL"),
        ("building_id", "kind = 'building'"),
    ):
        op.create_index(
            f"uq_visit_target_campaign_id_{column}",
            "visit_target",
            ["campaign_id", column],
            unique=True,
            postgresql_where=sa.text(where),
        )
    op.create_table(
        "visit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visitor_member_id", sa.Integer(), nullable=True),
        sa.Column("visitor_worker_id", sa.Integer(), nullable=True),
        sa.Column("visitor_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=4326, spatial_index=False),
            nullable=True,
        ),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("logged_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        # a visitor removed later leaves the visit without one (its FK is SET NULL)
        sa.CheckConstraint(f"{_VISITORS} <= 1", name=op.f("ck_visit_one_visitor")),
        sa.CheckConstraint("accuracy IS NULL OR accuracy >= 0", name=op.f("ck_visit_accuracy")),
        _fk("visit", "campaign_id", "visit_campaign.id", "CASCADE"),
        _fk("visit", "target_id", "visit_target.id", "CASCADE"),
        *_visitors("visit"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    for column in ("campaign_id", "target_id"):
        op.create_index(op.f(f"ix_visit_{column}"), "visit", [column])
    op.create_table(
        "visit_photo",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=False),
        sa.Column("storage_key", sa.Text(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        _fk("visit_photo", "visit_id", "visit.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_photo")),
    )
    op.create_index(op.f("ix_visit_photo_visit_id"), "visit_photo", ["visit_id"])
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.BigInteger(), nullable=False),
        sa.Column("visit_id", sa.BigInteger(), nullable=True),
        sa.Column("cell_id", sa.Integer(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("category_code", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("found_by", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.Text(), nullable=True),
        sa.Column("cleared_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(cleared_at IS NULL) = (cleared_by IS NULL) "
            "AND (cleared_at IS NULL OR cleared_note IS NOT NULL)",
            name=op.f("ck_ledger_entry_cleared"),
        ),
        _fk("ledger_entry", "campaign_id", "visit_campaign.id", "CASCADE"),
        _fk("ledger_entry", "target_id", "visit_target.id", "CASCADE"),
        _fk("ledger_entry", "visit_id", "visit.id", "SET NULL"),
        _fk("ledger_entry", "cell_id", "grid_cell.id"),
        _fk("ledger_entry", "category_code", "case_category.code"),
        _fk("ledger_entry", "case_id", "case_record.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    for column in ("target_id", "visit_id", "street_code", "case_id"):
        op.create_index(op.f(f"ix_ledger_entry_{column}"), "ledger_entry", [column])
    op.create_index(
        "ix_ledger_entry_campaign_id_found_at", "ledger_entry", ["campaign_id", "found_at"]
    )
    op.add_column("app_user", sa.Column("member_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_app_user_member_id_party_member"),
        "app_user",
        "party_member",
        ["member_id"],
        ["id"],
    )
    op.create_index(op.f("ix_app_user_member_id"), "app_user", ["member_id"])
    op.drop_constraint(op.f("ck_app_user_role"), "app_user", type_="check")
    op.create_check_constraint(op.f("ck_app_user_role"), "app_user", f"role IN ({_listed(_ROLES)})")
    op.create_check_constraint(
        op.f("ck_app_user_member_link"), "app_user", "(role = 'member') = (member_id IS NOT NULL)"
    )


def downgrade() -> None:
    op.execute(
        sa.delete(sa.table("app_user", sa.column("role"))).where(sa.column("role") == "member")
    )
    op.drop_constraint(op.f("ck_app_user_member_link"), "app_user", type_="check")
    op.drop_constraint(op.f("ck_app_user_role"), "app_user", type_="check")
    op.create_check_constraint(
        op.f("ck_app_user_role"), "app_user", f"role IN ({_listed(_ROLES_BEFORE)})"
    )
    op.drop_index(op.f("ix_app_user_member_id"), table_name="app_user")
    op.drop_constraint(op.f("fk_app_user_member_id_party_member"), "app_user", type_="foreignkey")
    op.drop_column("app_user", "member_id")
    for table in (
        "ledger_entry",
        "visit_photo",
        "visit",
        "visit_target",
        "campaign_building",
        "visit_campaign",
        "resident_household",
        "household_category",
    ):
        op.drop_table(table)
