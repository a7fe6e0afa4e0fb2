"""Party members, points rules and recorded activity (issue 19).

- ``party_member``: the members register (党员名册): organisation, kind (直管,
  在职, 流动, 离退休), sex, birth year, date joined, address placed on a building,
  the community and street where the member lives, an 在职党员's 报到, and the
  党员中心户 mark.
- ``point_rule``: what an activity is worth (党员积分), seeded with a visit (走访,
  2 points), an hour of volunteer service (志愿服务, 1 point an hour) and a meeting
  attended (参加组织生活, 1 point).
- ``party_activity``: a member's recorded activity and the points it earned then.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS = ("direct", "employed", "mobile", "retired")
_SEXES = ("male", "female")
_UNITS = ("each", "hour")
_SOURCES = ("visit", "import", "manual")
_FORMAT = "^[a-z][a-z0-9_]{0,39}$"
_RULES = (
    ("visit", "走访", "Visit", 2, "each"),
    ("volunteer", "志愿服务", "Volunteer service", 1, "hour"),
    ("meeting", "参加组织生活", "Meeting attended", 1, "each"),
)


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.create_table(
        "party_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Text(), server_default="direct", nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("id_number", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("building_id", sa.BigInteger(), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("report_community_code", sa.String(length=12), nullable=True),
        sa.Column("reported_on", sa.Date(), nullable=True),
        sa.Column(
            "central_household", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.CheckConstraint(f"kind IN ({_listed(_KINDS)})", name=op.f("ck_party_member_kind")),
        sa.CheckConstraint(
            f"sex IS NULL OR sex IN ({_listed(_SEXES)})", name=op.f("ck_party_member_sex")
        ),
        sa.CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100",
            name=op.f("ck_party_member_birth_year"),
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["party_branch.id"],
            name=op.f("fk_party_member_branch_id_party_branch"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_party_member_building_id_building"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_code"],
            ["community.code"],
            name=op.f("fk_party_member_community_code_community"),
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_party_member_street_code_street")
        ),
        sa.ForeignKeyConstraint(
            ["report_community_code"],
            ["community.code"],
            name=op.f("fk_party_member_report_community_code_community"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_member")),
        sa.UniqueConstraint("external_id", name=op.f("uq_party_member_external_id")),
    )
    for column in ("branch_id", "building_id", "community_code", "street_code"):
        op.create_index(op.f(f"ix_party_member_{column}"), "party_member", [column])
    rule = op.create_table(
        "point_rule",
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("label_zh", sa.Text(), nullable=False),
        sa.Column("label_en", sa.Text(), nullable=False),
        sa.Column("points", sa.Numeric(8, 2), nullable=False),
        sa.Column("per", sa.Text(), server_default="each", nullable=False),
        sa.CheckConstraint(f"kind ~ '{_FORMAT}'", name=op.f("ck_point_rule_kind_format")),
        sa.CheckConstraint(f"per IN ({_listed(_UNITS)})", name=op.f("ck_point_rule_per")),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_point_rule")),
    )
    op.bulk_insert(
        rule,
        [
            {"kind": k, "label_zh": zh, "label_en": en, "points": p, "per": per}
            for k, zh, en, p, per in _RULES
        ],
    )
    op.create_table(
        "party_activity",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Numeric(8, 2), nullable=True),
        sa.Column("points", sa.Numeric(8, 2), nullable=False),
        sa.Column("source", sa.Text(), server_default="manual", nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.Text(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(f"kind ~ '{_FORMAT}'", name=op.f("ck_party_activity_kind_format")),
        sa.CheckConstraint(
            f"source IN ({_listed(_SOURCES)})", name=op.f("ck_party_activity_source")
        ),
        sa.CheckConstraint(
            "hours IS NULL OR hours > 0", name=op.f("ck_party_activity_hours_positive")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["party_member.id"],
            name=op.f("fk_party_activity_member_id_party_member"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_activity")),
    )
    op.create_index(
        "ix_party_activity_member_id_occurred_on", "party_activity", ["member_id", "occurred_on"]
    )
    op.create_index(
        "uq_party_activity_source_source_id_member_id",
        "party_activity",
        ["source", "source_id", "member_id"],
        unique=True,
        postgresql_where=sa.text("source_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("party_activity")
    op.drop_table("point_rule")
    op.drop_table("party_member")
