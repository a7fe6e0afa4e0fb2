"""Reading a cell's history: its versions, what it came from, what replaced it.

A cell code lives through layout versions (a new row each time its shape
changes) and may be retired. :func:`cell_history` answers for any code ever
issued — active or retired — with every version of it, its predecessors (cells
whose households it took over, from ``cell_lineage``) and its successors (the
cells that took its households when it changed or was retired), so that the
page of a retired cell says what replaced it instead of "not found".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import shapely
import shapely.geometry
from shapely.geometry.base import BaseGeometry
from sqlalchemy import BindParameter, Connection, Engine, bindparam, func, select
from sqlalchemy.orm import aliased

from gridgis.codes import default_cell_name
from gridgis.db.models import (
    Case,
    CellCode,
    CellLineage,
    Community,
    GridCell,
    LayoutVersion,
)
from gridgis.db.queries import connection

__all__ = ["CellHistory", "cell_history"]


@dataclass
class CellHistory:
    """Everything known of one cell code through time.

    Attributes
    ----------
    code, community_code, community_name:
        The cell and its community.
    name:
        The newest name it had.
    active:
        Whether a layout in force holds it.
    issued_at, retired_at:
        When the code was issued, and retired (None while active).
    versions:
        Each row of the code, oldest first: ``version_from``, ``version_to`` (None while in
        force), ``method`` (how the version that made it came about), ``valid_from``,
        ``valid_to``, ``households``.
    successors, predecessors:
        ``code``, ``name``, ``active`` (the code is in force now), ``households`` carried,
        ``share`` (of the giving cell's households), ``version`` (the community's version
        that made the change), ``valid_from`` — cells that took this cell's households,
        and cells whose households it took.
    outline:
        The newest shape of the cell (EPSG:4326).
    cases:
        Cases filed in any version of the cell.
    """

    code: str
    community_code: str
    community_name: str
    name: str | None
    active: bool
    issued_at: dt.datetime | None
    retired_at: dt.datetime | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    successors: list[dict[str, Any]] = field(default_factory=list)
    predecessors: list[dict[str, Any]] = field(default_factory=list)
    outline: BaseGeometry | None = None
    cases: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (times as RFC 3339, the outline as GeoJSON geometry)."""

        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, dt.datetime) else value

        rows = {
            key: [{k: plain(v) for k, v in row.items()} for row in getattr(self, key)]
            for key in ("versions", "successors", "predecessors")
        }
        return {
            "code": self.code,
            "community_code": self.community_code,
            "community_name": self.community_name,
            "name": self.name,
            "status": "active" if self.active else "retired",
            "issued_at": plain(self.issued_at),
            "retired_at": plain(self.retired_at),
            **rows,
            "cases": self.cases,
            "outline": shapely.geometry.mapping(self.outline) if self.outline else None,
        }


_CODE: BindParameter[str] = bindparam("code")
_CODE_ROW = (
    select(CellCode.code, CellCode.issued_at, CellCode.retired_at, Community.code, Community.name)
    .join(Community, Community.code == CellCode.community_code)
    .where(CellCode.code == _CODE)
)
_made = aliased(LayoutVersion)
_closed = aliased(LayoutVersion)
_ROWS = (
    select(
        GridCell.id,
        GridCell.name,
        GridCell.households,
        GridCell.valid_from,
        GridCell.valid_to,
        _made.version.label("version_from"),
        _made.method,
        _closed.version.label("version_to"),
        func.ST_AsBinary(GridCell.geom).label("wkb"),
    )
    .join(_made, _made.id == GridCell.version_from_id)
    .outerjoin(_closed, _closed.id == GridCell.version_to_id)
    .where(GridCell.code == _CODE)
    .order_by(GridCell.valid_from, GridCell.id)
)


def _links_statement(*, forward: bool) -> Any:
    """Lineage rows leaving (``forward``) or reaching the rows of the code, with the other
    cell's code, name and whether that code is in force now."""
    mine, other = aliased(GridCell), aliased(GridCell)
    now = aliased(GridCell)
    here, there = (
        (CellLineage.predecessor_id, CellLineage.successor_id)
        if forward
        else (CellLineage.successor_id, CellLineage.predecessor_id)
    )
    in_force = (
        select(func.count())
        .select_from(now)
        .where(now.code == other.code, now.valid_to.is_(None))
        .scalar_subquery()
    )
    return (
        select(
            other.code,
            other.name,
            CellLineage.households,
            CellLineage.share,
            LayoutVersion.version,
            LayoutVersion.published_at.label("valid_from"),
            (in_force > 0).label("active"),
        )
        .join(mine, mine.id == here)
        .join(other, other.id == there)
        .join(LayoutVersion, LayoutVersion.id == CellLineage.version_id)
        .where(mine.code == _CODE, other.code != _CODE)
        .order_by(LayoutVersion.version, CellLineage.households.desc(), other.code)
    )


_SUCCESSORS = _links_statement(forward=True)
_PREDECESSORS = _links_statement(forward=False)
_CASES = (
    select(func.count())
    .select_from(Case)
    .join(GridCell, GridCell.id == Case.cell_id)
    .where(GridCell.code == _CODE)
)


def cell_history(bind: Engine | Connection, code: str) -> CellHistory | None:
    """The history of cell ``code`` (active or retired), or None when it was never issued.

    Examples
    --------
    >>> h = cell_history(engine, "350304002005001")
    >>> h.active, h.versions[0]["version_from"]
    (True, 1)
    """
    with connection(bind) as conn:
        head = conn.execute(_CODE_ROW, {"code": code}).first()
        if head is None:
            return None
        rows = conn.execute(_ROWS, {"code": code}).all()
        params = {"code": code}
        history = CellHistory(
            code=code,
            community_code=head[3],
            community_name=head[4],
            name=next((r.name for r in reversed(rows) if r.name), None),
            active=any(r.valid_to is None for r in rows),
            issued_at=head.issued_at,
            retired_at=head.retired_at,
            versions=[
                {
                    "version_from": r.version_from,
                    "version_to": r.version_to,
                    "method": r.method,
                    "valid_from": r.valid_from,
                    "valid_to": r.valid_to,
                    "households": r.households,
                }
                for r in rows
            ],
            successors=[dict(r._mapping) for r in conn.execute(_SUCCESSORS, params)],
            predecessors=[dict(r._mapping) for r in conn.execute(_PREDECESSORS, params)],
            outline=shapely.from_wkb(bytes(rows[-1].wkb)) if rows else None,
            cases=int(conn.execute(_CASES, params).scalar_one()),
        )
    return history


def cell_names(bind: Engine | Connection, community_code: str) -> dict[str, str]:
    """Each cell code ever issued in the community → its newest name.

    A code never stored (a draft's new cell) has no entry; :func:`names_of` gives it the
    default name (:func:`names_of`).
    """
    with connection(bind) as conn:
        rows = conn.execute(
            select(GridCell.code, GridCell.name)
            .where(GridCell.community_code == community_code, GridCell.name.is_not(None))
            .order_by(GridCell.code, GridCell.valid_from, GridCell.id)
        )
        # Oldest first: each later version of a code overwrites the earlier name.
        return {str(r.code): str(r.name) for r in rows}


def names_of(
    bind: Engine | Connection, community_code: str, community_name: str | None, codes: Any
) -> dict[str, str]:
    """The names of ``codes`` (cells of the community): stored, or the default name for a
    code that has none yet (a draft's new cell)."""
    names = cell_names(bind, community_code)
    return {
        str(code): names.get(str(code)) or default_cell_name(community_name, str(code))
        for code in codes
    }
