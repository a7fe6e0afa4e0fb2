"""What a cell's popup shows: its name and code, households, grid workers, party branches
and cases, in one read.

People's names and phones are given as stored only when ``reveal`` is set (the web layer
sets it for users whose area holds the cell); otherwise they are masked as exports mask
them (:func:`gridgis.audit.mask_person`).

Examples
--------
>>> card = cell_card(engine, "350304001001001")  # doctest: +SKIP
>>> card["households"], card["open_cases"], card["workers"][0]["name"]  # doctest: +SKIP
(412, 3, '林**')
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select

from gridgis.audit import mask_person
from gridgis.cases.deadlines import is_overdue
from gridgis.cases.duplicates import is_merged
from gridgis.db import queries
from gridgis.db.models import (
    BranchCell,
    Case,
    Community,
    GridCell,
    GridWorker,
    PartyBranch,
    Street,
    WorkerCell,
    WorkerRole,
)
from gridgis.errors import NotFoundError

__all__ = ["cell_card"]

_CELL = (
    select(
        GridCell.id,
        GridCell.code,
        GridCell.name,
        GridCell.households,
        GridCell.residents,
        GridCell.community_code,
        Community.name.label("community_name"),
        Community.street_code,
        Street.name.label("street_name"),
    )
    .join(Community, Community.code == GridCell.community_code)
    .join(Street, Street.code == Community.street_code)
    .where(GridCell.code == bindparam("code"), GridCell.valid_to.is_(None))
)
_WORKERS = (
    select(
        GridWorker.name,
        GridWorker.phone,
        func.array_remove(func.array_agg(WorkerRole.role), None).label("roles"),
    )
    .join(WorkerCell, WorkerCell.worker_id == GridWorker.id)
    .outerjoin(WorkerRole, WorkerRole.worker_id == GridWorker.id)
    .where(WorkerCell.cell_id == bindparam("cell_id"))
    .group_by(GridWorker.id)
    .order_by(GridWorker.name)
)
_BRANCHES = (
    select(PartyBranch.name, PartyBranch.secretary, PartyBranch.member_count)
    .join(BranchCell, BranchCell.branch_id == PartyBranch.id)
    .where(BranchCell.cell_id == bindparam("cell_id"))
    .order_by(PartyBranch.name)
)
_OPEN = Case.closed_at.is_(None) & Case.rejected_at.is_(None)
_CASES = select(
    func.count().filter(_OPEN).label("open_cases"),
    func.count().filter(is_overdue(bindparam("now"))).label("overdue_cases"),
    func.count().label("cases"),
).where(
    Case.cell_id.in_(select(GridCell.id).where(GridCell.code == bindparam("code"))),
    ~is_merged(),
)


def cell_card(
    bind: Engine | Connection,
    code: str,
    *,
    reveal: bool = False,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The active cell ``code`` as its popup shows it.

    Returns
    -------
    dict
        ``code``, ``name``, ``households``, ``residents``, ``community_code``,
        ``community_name``, ``street_code``, ``street_name``, ``workers`` (``name``,
        ``phone``, ``roles``), ``branches`` (``name``, ``secretary``, ``members``),
        ``cases`` (filed in any version of the cell), ``open_cases``, ``overdue_cases``
        (超期 at ``now``, default now), ``people_masked``.

    Raises
    ------
    NotFoundError
        When no active cell has the code.
    """
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    with queries.connection(bind) as conn:
        cell = conn.execute(_CELL, {"code": code}).one_or_none()
        if cell is None:
            raise NotFoundError(
                f"no active cell has the code {code!r}",
                field="code",
                zh=f"没有编码为 {code!r} 的现行网格",
            )
        workers = conn.execute(_WORKERS, {"cell_id": cell.id}).all()
        branches = conn.execute(_BRANCHES, {"cell_id": cell.id}).all()
        counts = conn.execute(_CASES, {"code": code, "now": moment}).one()

    def shown(value: Any, field: str) -> Any:
        return value if reveal else mask_person(value, field)

    card = {key: value for key, value in cell._mapping.items() if key != "id"}
    return card | {
        "workers": [
            {
                "name": shown(w.name, "name"),
                "phone": shown(w.phone, "phone"),
                "roles": sorted(w.roles or []),
            }
            for w in workers
        ],
        "branches": [
            {
                "name": b.name,
                "secretary": shown(b.secretary, "secretary"),
                "members": b.member_count,
            }
            for b in branches
        ],
        "cases": int(counts.cases),
        "open_cases": int(counts.open_cases),
        "overdue_cases": int(counts.overdue_cases),
        "people_masked": not reveal,
    }
