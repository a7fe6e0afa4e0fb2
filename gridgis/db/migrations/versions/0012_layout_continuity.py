"""Continuity of layouts across redraws: lineage of cells, links carried, bounds kept.

- ``cell_lineage`` records, for each published version, which cell rows it closed
  (``predecessor_id``) and which of its new rows continue them (``successor_id``),
  with the households carried from one to the other and their share of the
  predecessor's households (by area where the predecessor held none). A retired
  cell's page answers with its successors from here; a rollback reads it backwards.
- ``cell_link_move`` records every link of a person or organisation to a cell that a
  publish moved (``link``: ``worker`` for ``worker_cell``, ``branch`` for
  ``branch_cell``; ``owner_id`` is the worker's or organisation's id), from the closed
  row to its successor, or to none when the cell vanished without a clear successor
  and the publisher accepted to leave the link undecided. A rollback moves them back.
- ``layout_version`` and ``layout_draft`` keep the bounds (households per cell) a run
  was computed and validated with (``min_households``, ``max_households``; NULL: the
  community's stored bounds at the time), and ``method`` allows ``rollback``.

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_METHODS = "method IN ('draw', 'adjust', 'import', 'edit')"
_METHODS = "method IN ('draw', 'adjust', 'import', 'edit', 'rollback')"
_LINKS = "link IN ('worker', 'branch')"


def _cell_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["grid_cell.id"], name=op.f(f"fk_{table}_{column}_grid_cell")
    )


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["version_id"],
        ["layout_version.id"],
        name=op.f(f"fk_{table}_version_id_layout_version"),
        ondelete="CASCADE",
    )


def _methods(check: str) -> None:
    for table in ("layout_version", "layout_draft"):
        op.drop_constraint(op.f(f"ck_{table}_method"), table, type_="check")
        op.create_check_constraint(op.f(f"ck_{table}_method"), table, check)


def upgrade() -> None:
    op.create_table(
        "cell_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("predecessor_id", sa.Integer(), nullable=False),
        sa.Column("successor_id", sa.Integer(), nullable=False),
        sa.Column("households", sa.Integer(), server_default="0", nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.CheckConstraint("households >= 0", name=op.f("ck_cell_lineage_households")),
        sa.CheckConstraint("share >= 0 AND share <= 1", name=op.f("ck_cell_lineage_share")),
        sa.CheckConstraint("predecessor_id <> successor_id", name=op.f("ck_cell_lineage_distinct")),
        _version_fk("cell_lineage"),
        _cell_fk("cell_lineage", "predecessor_id"),
        _cell_fk("cell_lineage", "successor_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_lineage")),
        sa.UniqueConstraint(
            "predecessor_id",
            "successor_id",
            name=op.f("uq_cell_lineage_predecessor_id_successor_id"),
        ),
    )
    op.create_index(
        op.f("ix_cell_lineage_successor_id"), "cell_lineage", ["successor_id"], unique=False
    )
    op.create_index(
        op.f("ix_cell_lineage_version_id"), "cell_lineage", ["version_id"], unique=False
    )
    op.create_table(
        "cell_link_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("from_cell_id", sa.Integer(), nullable=False),
        sa.Column("to_cell_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(_LINKS, name=op.f("ck_cell_link_move_link")),
        _version_fk("cell_link_move"),
        _cell_fk("cell_link_move", "from_cell_id"),
        _cell_fk("cell_link_move", "to_cell_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cell_link_move")),
    )
    op.create_index(
        op.f("ix_cell_link_move_version_id"), "cell_link_move", ["version_id"], unique=False
    )
    for table in ("layout_version", "layout_draft"):
        op.add_column(table, sa.Column("min_households", sa.Integer(), nullable=True))
        op.add_column(table, sa.Column("max_households", sa.Integer(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_{table}_bounds"),
            table,
            "(min_households IS NULL) = (max_households IS NULL)"
            " AND (min_households IS NULL OR (min_households >= 1"
            " AND max_households >= min_households))",
        )
    _methods(_METHODS)


def downgrade() -> None:
    op.execute("DELETE FROM layout_draft WHERE method = 'rollback'")
    # A rollback version stays a version; it is recorded as the edit it was.
    op.execute("UPDATE layout_version SET method = 'edit' WHERE method = 'rollback'")
    _methods(_OLD_METHODS)
    for table in ("layout_version", "layout_draft"):
        op.drop_constraint(op.f(f"ck_{table}_bounds"), table, type_="check")
        op.drop_column(table, "max_households")
        op.drop_column(table, "min_households")
    op.drop_index(op.f("ix_cell_link_move_version_id"), table_name="cell_link_move")
    op.drop_table("cell_link_move")
    op.drop_index(op.f("ix_cell_lineage_version_id"), table_name="cell_lineage")
    op.drop_index(op.f("ix_cell_lineage_successor_id"), table_name="cell_lineage")
    op.drop_table("cell_lineage")
