"""Cell names: the name a street office gives a cell, checked and audited.

Split from :mod:`gridgis.db.layout` (which re-exports :func:`rename_cell`): naming a
cell changes no layout version.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select, update

from gridgis import audit
from gridgis.db.models import GridCell
from gridgis.db.queries import transaction
from gridgis.errors import InputError, NotFoundError

__all__ = ["MAX_CELL_NAME", "rename_cell"]

MAX_CELL_NAME = 60
"""Longest cell name accepted (characters)."""


def rename_cell(bind: Engine | Connection, code: str, name: str, *, actor: str) -> str:
    """Give the active cell ``code`` the name ``name`` (audited); return the old name.

    Raises
    ------
    InputError
        When the name is empty, too long or holds control characters.
    NotFoundError
        When no active cell has the code.
    """
    new = " ".join(str(name).split())
    if not new or len(new) > MAX_CELL_NAME or any(ord(ch) < 32 for ch in str(name).strip()):
        raise InputError(
            f"a cell name must be 1 to {MAX_CELL_NAME} characters of text, not {name!r}",
            field="name",
            zh=f"网格名称应为 1 到 {MAX_CELL_NAME} 个字的文本，而不是 {name!r}",
        )
    with transaction(bind) as conn:
        old = conn.execute(
            select(GridCell.name)
            .where(GridCell.code == code, GridCell.valid_to.is_(None))
            .with_for_update()
        ).one_or_none()
        if old is None:
            raise NotFoundError(
                f"no active cell has the code {code!r}", zh=f"没有编码为 {code!r} 的现行网格"
            )
        conn.execute(
            update(GridCell)
            .where(GridCell.code == code, GridCell.valid_to.is_(None))
            .values(name=new)
        )
        audit.record(
            conn,
            actor=actor,
            action="rename",
            object_type="cell",
            object_id=code,
            before={"name": old[0]},
            after={"name": new},
            street_code=code[:9],
        )
    return str(old[0] or "")
