"""Cells have names: a cell without one is named after its community and number.

The default is the community's short name (without 居民委员会/居委会, and 村 for a
村民委员会/村委会) + 第N网格, N the cell code's sequence number: 七境社区第3网格,
沟尾村第12网格 (:func:`gridgis.codes.default_cell_name` is the same rule). A new row
of a code that had a name keeps that name (a reshaped cell stays what people call
it). A trigger applies this to every insert, by any path (publishing, the demo's
bulk load, SQL); the cells stored before get their default now.

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEFAULT = """
CREATE FUNCTION gridgis_default_cell_name(community_name text, cell_code text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(
               regexp_replace(coalesce(community_name, ''), '(居民委员会|居委会)$', ''),
               '村(民委员会|委会)$', '村')
           || '第' || (right(cell_code, 3))::int || '网格'
$$;

CREATE FUNCTION gridgis_name_cell() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name IS NULL OR btrim(NEW.name) = '' THEN
        SELECT name INTO NEW.name FROM grid_cell
         WHERE code = NEW.code AND name IS NOT NULL
         ORDER BY valid_from DESC, id DESC LIMIT 1;
    END IF;
    IF NEW.name IS NULL THEN
        SELECT gridgis_default_cell_name(name, NEW.code) INTO NEW.name
          FROM community WHERE code = NEW.community_code;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER grid_cell_name BEFORE INSERT ON grid_cell
    FOR EACH ROW EXECUTE FUNCTION gridgis_name_cell();

UPDATE grid_cell g SET name = gridgis_default_cell_name(c.name, g.code)
  FROM community c WHERE c.code = g.community_code AND (g.name IS NULL OR btrim(g.name) = '');
"""


def upgrade() -> None:
    op.execute(_DEFAULT)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS grid_cell_name ON grid_cell")
    op.execute("DROP FUNCTION IF EXISTS gridgis_name_cell()")
    op.execute("DROP FUNCTION IF EXISTS gridgis_default_cell_name(text, text)")
