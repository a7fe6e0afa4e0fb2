"""Data versions: ``data_version``, one row per table whose rows gridgis keeps in memory.

A statement-level trigger on each of those tables gives the table's row a new
number (from the sequence ``data_version_seq``, so a number is never given twice,
not even after a rollback) whenever a statement inserts, updates, deletes or
truncates rows of it, through gridgis or not (plain SQL, another process). The
caches (:mod:`gridgis.db.versions`) compare the numbers they loaded their data at
with the current ones, one indexed read of a few rows, and load again when one
differs.

Costs, by design:

- Once per table and transaction: the trigger notes in a transaction-local
  setting (``gridgis.bumped_<table>``) that it has bumped the table, and later
  statements of the same transaction skip the update. Readers see the number only
  when the transaction commits, so one new number says as much as one a
  statement; a ``COPY`` or a many-row insert costs one update, and so does a
  transaction of ten thousand single-row inserts. The note is rolled back with a
  savepoint, like the update it stands for.
- The update locks the table's row until the transaction ends: two transactions
  writing the same watched table take turns from the first write of the second
  one; writers of different tables never wait for each other. None of the tables
  is written on a hot path (cases, audit rows, sessions and logins are not
  watched).
- The sequence starts at the time of the migration in milliseconds, so a database
  created again does not give the numbers of the one before (a browser's ETag of a
  tile made from them stays wrong for neither).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WATCHED: tuple[str, ...] = (
    "district",
    "street",
    "community",
    "layout_version",
    "grid_cell",
    "building",
    "building_unit",
    "worker_cell",
    "branch_cell",
    "case_category",
)
"""The tables this revision watches (as they were then; later revisions add their own)."""

_FUNCTION = """
CREATE FUNCTION gridgis_bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag text := 'gridgis.bumped_' || TG_TABLE_NAME;
BEGIN
    IF current_setting(flag, true) = 'on' THEN
        RETURN NULL;  -- already bumped by this transaction
    END IF;
    INSERT INTO data_version (name, version)
    VALUES (TG_TABLE_NAME, nextval('data_version_seq'))
    ON CONFLICT (name) DO UPDATE SET version = excluded.version;
    PERFORM set_config(flag, 'on', true);
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_data_version")),
    )
    op.execute("CREATE SEQUENCE data_version_seq OWNED BY data_version.version")
    op.execute(
        "SELECT setval('data_version_seq', (extract(epoch FROM clock_timestamp()) * 1000)::int8)"
    )
    op.execute(_FUNCTION)
    for table in WATCHED:
        op.execute(
            f"INSERT INTO data_version (name, version) VALUES ('{table}', nextval('data_version_seq'))"
        )
        op.execute(
            f"CREATE TRIGGER {table}_data_version "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_data_version()"
        )


def downgrade() -> None:
    for table in WATCHED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_data_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridgis_bump_data_version()")
    op.drop_table("data_version")  # and its sequence, which it owns
