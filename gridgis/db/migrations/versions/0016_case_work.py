"""Case work: departments, dispatch rules, the timeline of a case, field roles.

- ``department`` (职能部门): a department that handles dispatched cases, of a
  district or of one street; ``dispatch_rule`` names the default department of a
  category, optionally only in one area (a street or community code).
- ``case_record`` gains the department and person a case is dispatched to, when
  and by whom it was escalated (督办), and the case it was merged into (合并).
- ``case_event``: every step of a case after its report (立案, 派遣, 退单, 改派,
  处置, 核查, 结案, 作废, 督办, 合并, notes), when, by whom, with its note.
- ``app_user`` gains the roles ``worker`` (a grid worker's login, linked to the
  imported worker) and ``department`` (a department's login).
- The forward-only trigger now lets a department's return (退单) take a
  dispatched case back to 立案: ``dispatched_at`` may be cleared while the case
  has not been handled.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_KINDS = (
    "registered",
    "dispatched",
    "returned",
    "reassigned",
    "handled",
    "verified",
    "closed",
    "rejected",
    "escalated",
    "merged",
    "note",
)
_ROLES_BEFORE = ("admin", "street", "analyst")
_ROLES_AFTER = ("admin", "street", "analyst", "worker", "department")

_FORWARD_ONLY = """
CREATE OR REPLACE FUNCTION gridgis_case_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    step text;
    old_at timestamptz;
    new_at timestamptz;
BEGIN
    FOREACH step IN ARRAY ARRAY['reported', 'registered', 'dispatched', 'handled',
                                'verified', 'closed', 'rejected'] LOOP
        EXECUTE format('SELECT ($1).%I_at, ($2).%I_at', step, step)
            INTO old_at, new_at USING OLD, NEW;
        IF old_at IS NOT NULL AND new_at IS DISTINCT FROM old_at {returned} THEN
            RAISE EXCEPTION 'case % already passed step "%" at %; a case only moves forward',
                OLD.id, step, old_at
                USING ERRCODE = 'check_violation';
        END IF;
    END LOOP;
    IF OLD.closed_at IS NOT NULL OR OLD.rejected_at IS NOT NULL THEN
        IF NEW.registered_at IS DISTINCT FROM OLD.registered_at
           OR NEW.dispatched_at IS DISTINCT FROM OLD.dispatched_at
           OR NEW.handled_at IS DISTINCT FROM OLD.handled_at
           OR NEW.verified_at IS DISTINCT FROM OLD.verified_at
           OR NEW.rejected_at IS DISTINCT FROM OLD.rejected_at
           OR NEW.closed_at IS DISTINCT FROM OLD.closed_at THEN
            RAISE EXCEPTION 'case % is finished (%); its steps cannot change', OLD.id, OLD.step
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
"""
_RETURNED = (
    "AND NOT (step = 'dispatched' AND new_at IS NULL AND OLD.handled_at IS NULL "
    "AND NEW.handled_at IS NULL AND OLD.closed_at IS NULL AND OLD.rejected_at IS NULL)"
)


def _role_check(roles: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_app_user_role"), "app_user", type_="check")
    listed = ", ".join(f"'{r}'" for r in roles)
    op.create_check_constraint(op.f("ck_app_user_role"), "app_user", f"role IN ({listed})")


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'", name=op.f("ck_department_code_format")
        ),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_department_name_given")),
        sa.CheckConstraint(
            "(district_code IS NULL) <> (street_code IS NULL)", name=op.f("ck_department_one_area")
        ),
        sa.ForeignKeyConstraint(
            ["district_code"], ["district.code"], name=op.f("fk_department_district_code_district")
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_department_street_code_street")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_department")),
    )
    op.create_index(op.f("ix_department_district_code"), "department", ["district_code"])
    op.create_index(op.f("ix_department_street_code"), "department", ["street_code"])
    op.create_table(
        "dispatch_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_code", sa.Text(), nullable=False),
        sa.Column("area_code", sa.Text(), nullable=False, server_default=""),
        sa.Column("department_code", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12})?$'",
            name=op.f("ck_dispatch_rule_area_format"),
        ),
        sa.ForeignKeyConstraint(
            ["category_code"],
            ["case_category.code"],
            name=op.f("fk_dispatch_rule_category_code_case_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["department.code"],
            name=op.f("fk_dispatch_rule_department_code_department"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_rule")),
        sa.UniqueConstraint(
            "category_code", "area_code", name=op.f("uq_dispatch_rule_category_code_area_code")
        ),
    )
    op.add_column("case_record", sa.Column("department_code", sa.Text(), nullable=True))
    op.add_column("case_record", sa.Column("assignee", sa.Text(), nullable=True))
    op.add_column(
        "case_record", sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("case_record", sa.Column("escalated_by", sa.Text(), nullable=True))
    op.add_column("case_record", sa.Column("merged_into_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_case_record_department_code_department"),
        "case_record",
        "department",
        ["department_code"],
        ["code"],
        onupdate="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_case_record_merged_into_id_case_record"),
        "case_record",
        "case_record",
        ["merged_into_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_case_record_merged_not_self"), "case_record", "merged_into_id <> id"
    )
    op.create_index(op.f("ix_case_record_department_code"), "case_record", ["department_code"])
    op.create_index(op.f("ix_case_record_merged_into_id"), "case_record", ["merged_into_id"])
    op.create_table(
        "case_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("department_code", sa.Text(), nullable=True),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IS NULL OR kind IN (" + ", ".join(f"'{k}'" for k in _EVENT_KINDS) + ")",
            name=op.f("ck_case_event_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_record.id"],
            name=op.f("fk_case_event_case_id_case_record"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["department.code"],
            name=op.f("fk_case_event_department_code_department"),
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_event")),
    )
    op.create_index(op.f("ix_case_event_case_id_id"), "case_event", ["case_id", "id"])
    op.add_column("app_user", sa.Column("worker_id", sa.Integer(), nullable=True))
    op.add_column("app_user", sa.Column("department_code", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_app_user_worker_id_grid_worker"), "app_user", "grid_worker", ["worker_id"], ["id"]
    )
    op.create_foreign_key(
        op.f("fk_app_user_department_code_department"),
        "app_user",
        "department",
        ["department_code"],
        ["code"],
        onupdate="CASCADE",
    )
    op.create_index(op.f("ix_app_user_worker_id"), "app_user", ["worker_id"])
    op.create_index(op.f("ix_app_user_department_code"), "app_user", ["department_code"])
    _role_check(_ROLES_AFTER)
    op.create_check_constraint(
        op.f("ck_app_user_worker_link"), "app_user", "(role = 'worker') = (worker_id IS NOT NULL)"
    )
    op.create_check_constraint(
        op.f("ck_app_user_department_link"),
        "app_user",
        "(role = 'department') = (department_code IS NOT NULL)",
    )
    op.execute(_FORWARD_ONLY.format(returned=_RETURNED))


def downgrade() -> None:
    op.execute(_FORWARD_ONLY.format(returned=""))
    op.execute("DELETE FROM app_user WHERE role IN ('worker', 'department')")
    op.drop_constraint(op.f("ck_app_user_department_link"), "app_user", type_="check")
    op.drop_constraint(op.f("ck_app_user_worker_link"), "app_user", type_="check")
    _role_check(_ROLES_BEFORE)
    op.drop_index(op.f("ix_app_user_department_code"), table_name="app_user")
    op.drop_index(op.f("ix_app_user_worker_id"), table_name="app_user")
    op.drop_constraint(op.f("fk_app_user_department_code_department"), "app_user", "foreignkey")
    op.drop_constraint(op.f("fk_app_user_worker_id_grid_worker"), "app_user", "foreignkey")
    op.drop_column("app_user", "department_code")
    op.drop_column("app_user", "worker_id")
    op.drop_index(op.f("ix_case_event_case_id_id"), table_name="case_event")
    op.drop_table("case_event")
    op.drop_index(op.f("ix_case_record_merged_into_id"), table_name="case_record")
    op.drop_index(op.f("ix_case_record_department_code"), table_name="case_record")
    op.drop_constraint(op.f("ck_case_record_merged_not_self"), "case_record", type_="check")
    op.drop_constraint(
        op.f("fk_case_record_merged_into_id_case_record"), "case_record", "foreignkey"
    )
    op.drop_constraint(
        op.f("fk_case_record_department_code_department"), "case_record", "foreignkey"
    )
    for column in ("merged_into_id", "escalated_by", "escalated_at", "assignee", "department_code"):
        op.drop_column("case_record", column)
    op.drop_table("dispatch_rule")
    op.drop_index(op.f("ix_department_street_code"), table_name="department")
    op.drop_index(op.f("ix_department_district_code"), table_name="department")
    op.drop_table("department")
