"""The users of the web app: name, role, the street a street office is limited to.

Passwords are stored only as werkzeug scrypt hashes; API tokens only as their
SHA-256. ``session_version`` is raised when a password changes, which ends
every session signed in with the old one; ``failed_logins`` and
``locked_until`` slow down password guessing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=True),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'street', 'analyst')", name=op.f("ck_app_user_role")),
        sa.CheckConstraint(
            "(role = 'street') = (street_code IS NOT NULL)", name=op.f("ck_app_user_street_scope")
        ),
        sa.CheckConstraint(
            "name ~ '^[^[:space:][:cntrl:]/]{1,64}$'", name=op.f("ck_app_user_name_format")
        ),
        sa.CheckConstraint(
            "password_hash ~ '^(scrypt|pbkdf2):'", name=op.f("ck_app_user_password_hashed")
        ),
        sa.ForeignKeyConstraint(
            ["street_code"], ["street.code"], name=op.f("fk_app_user_street_code_street")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("name", name=op.f("uq_app_user_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_app_user_token_hash")),
    )
    op.create_index(op.f("ix_app_user_street_code"), "app_user", ["street_code"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_app_user_street_code"), table_name="app_user")
    op.drop_table("app_user")
