"""What a publish carries from the closed cells to the new ones: lineage and links.

When :func:`gridgis.db.layout.publish_cells` closes cell rows (a reshaped cell
gets a new row under its code, a retired one none), this module records which
new rows continue them (``cell_lineage``, with the households carried) and
moves the links that people built on them (grid workers' ``worker_cell``, party
organisations' ``branch_cell``) to the successor, by the rule of
:mod:`gridgis.partition.lineage`: a reshaped cell's own new row; for a retired
cell, the new cell that took at least half its households (or area, where it
held none). A link whose cell has no such successor is *undecided*: the
publish is refused (:class:`UnlinkedError`) unless the publisher accepts to
leave it on the retired cell for a person to decide. Every move, and every
link left undecided, is a row of ``cell_link_move``, which a rollback reads
backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from gridgis.db.models import (
    BranchCell,
    CellLineage,
    CellLinkMove,
    GridCell,
    GridWorker,
    PartyBranch,
    WorkerCell,
)
from gridgis.errors import ConflictError
from gridgis.partition.lineage import area_pairs, carried, decide

__all__ = ["LINK_TABLES", "LinkChange", "UnlinkedError", "carry_over"]

LINK_NAMES_ZH = {"worker": "网格员", "branch": "党组织"}
"""How people call each kind of link's owner."""

LINK_TABLES: dict[str, tuple[Any, Any, Any]] = {  # link -> (table, owner column, owners)
    "worker": (WorkerCell, WorkerCell.worker_id, GridWorker),
    "branch": (BranchCell, BranchCell.branch_id, PartyBranch),
}


@dataclass(frozen=True)
class LinkChange:
    """A link of a worker or organisation to a cell that a publish moves, or cannot.

    ``to_code`` is None for a link left undecided (no clear successor).
    """

    link: str
    owner_id: int
    owner: str
    from_code: str
    to_code: str | None

    def line(self, *, zh: bool = False) -> str:
        """One line for people (in Chinese with ``zh``)."""
        if zh:
            who = f"{LINK_NAMES_ZH.get(self.link, self.link)} {self.owner}（编号 {self.owner_id}）"
            if self.to_code is None:
                return f"{who}：网格 {self.from_code} 撤销后没有明确的承接网格"
            return f"{who}：{self.from_code} → {self.to_code}"
        who = f"{self.link} {self.owner} (id {self.owner_id})"
        if self.to_code is None:
            return f"{who}: cell {self.from_code} retired without a clear successor"
        return f"{who}: {self.from_code} -> {self.to_code}"

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON-ready fields."""
        return {
            "link": self.link,
            "owner_id": self.owner_id,
            "owner": self.owner,
            "from_code": self.from_code,
            "to_code": self.to_code,
        }


class UnlinkedError(ConflictError):
    """A publish would leave links on retired cells without a clear successor.

    ``undecided`` lists them; publishing again with ``accept_unlinked=True``
    leaves them on the retired cells, recorded, for a person to decide.
    """

    def __init__(self, community_code: str, undecided: list[LinkChange]) -> None:
        self.community_code = community_code
        self.undecided = undecided
        listed = "; ".join(change.line() for change in undecided[:10])
        more = f" and {len(undecided) - 10} more" if len(undecided) > 10 else ""
        listed_zh = "；".join(change.line(zh=True) for change in undecided[:10])
        more_zh = f" 等（另有 {len(undecided) - 10} 条）" if len(undecided) > 10 else ""
        super().__init__(
            f"community {community_code}: {len(undecided)} link(s) would be left on retired "
            f"cells without a clear successor: {listed}{more}; nothing was published — "
            "reassign them after publishing, or accept to leave them undecided",
            zh=f"社区 {community_code}：有 {len(undecided)} 条关联会留在已撤销、没有明确承接网格的"
            f"网格上：{listed_zh}{more_zh}；未发布任何内容——请在发布后重新分配，"
            "或确认保留这些关联待定",
        )


_ACTIVE_IDS = select(GridCell.code, GridCell.id).where(
    GridCell.community_code == bindparam("community"), GridCell.valid_to.is_(None)
)


def _lineage_pairs(
    closed: dict[str, int],
    before: dict[int, tuple[str, int]],
    after: dict[int, tuple[str, int]],
    old_geoms: dict[str, shapely.Geometry],
    new_geoms: dict[str, shapely.Geometry],
) -> pd.DataFrame:
    """``old``, ``new`` (codes), ``households``, ``share_old``, ``share_new``: what each
    closed cell gave to each cell of the new layout (by area for those without households)."""
    both = [b for b in before if b in after]
    pairs = carried(
        [before[b][0] for b in both], [after[b][0] for b in both], [before[b][1] for b in both]
    )
    pairs = pairs[pairs["old"].isin(list(closed)) & (pairs["households"] > 0)]
    empty = [code for code in closed if code not in set(pairs["old"])]
    if empty and new_geoms:
        old_series = gpd.GeoSeries([old_geoms[c] for c in empty], index=empty)
        new_codes = list(new_geoms)
        new_series = gpd.GeoSeries([new_geoms[c] for c in new_codes], index=new_codes)
        by_area = area_pairs(
            old_series, new_series, np.arange(len(empty)), np.array([], dtype=np.int64)
        )
        if len(by_area):
            by_area = by_area.assign(households=0)  # labelled by code already
            pairs = pd.concat([pairs, by_area], ignore_index=True)
    return pairs.reset_index(drop=True)


def _links(conn: Connection, closed_ids: dict[int, str]) -> list[tuple[str, int, str, int]]:
    """``(link, owner id, owner name, closed cell id)`` of every link on the closed rows."""
    rows: list[tuple[str, int, str, int]] = []
    for link, (table, owner_column, owner_table) in LINK_TABLES.items():
        statement = (
            select(owner_column, owner_table.name, table.cell_id)
            .join(owner_table, owner_table.id == owner_column)
            .where(table.cell_id.in_(list(closed_ids)))
            .order_by(table.cell_id, owner_column)
        )
        rows.extend((link, int(o), str(n), int(c)) for o, n, c in conn.execute(statement))
    return rows


def carry_over(
    conn: Connection,
    *,
    community_code: str,
    version_id: int,
    closed: dict[str, int],
    reshaped: set[str],
    before: dict[int, tuple[str, int]],
    after: dict[int, tuple[str, int]],
    old_geoms: dict[str, shapely.Geometry],
    new_geoms: dict[str, shapely.Geometry],
    accept_unlinked: bool,
) -> tuple[list[LinkChange], list[LinkChange]]:
    """Record the lineage of the closed rows and move their links, in the caller's transaction.

    Parameters
    ----------
    conn:
        Inside the publish's transaction, after the new rows were inserted.
    community_code, version_id:
        The community and the layout version being published.
    closed:
        Code → id of each row the publish closed (reshaped and retired cells).
    reshaped:
        The closed codes that continue under a new row.
    before, after:
        Building id → (cell code, households) before and after the publish.
    old_geoms, new_geoms:
        The closed cells' shapes, and the shapes of every active cell after the publish.
    accept_unlinked:
        Leave links without a clear successor on their retired cells (recorded) instead
        of refusing.

    Returns
    -------
    tuple of list of LinkChange
        The links moved, and those left undecided.

    Raises
    ------
    UnlinkedError
        When links have no clear successor and ``accept_unlinked`` is false.
    """
    if not closed:
        return [], []
    new_ids = {code: int(i) for code, i in conn.execute(_ACTIVE_IDS, {"community": community_code})}
    pairs = _lineage_pairs(closed, before, after, old_geoms, new_geoms)
    _, successor = decide(pairs) if len(pairs) else ({}, {})
    successor.update({code: code for code in reshaped if code in new_ids})
    shares = np.clip(np.nan_to_num(pairs["share_old"].to_numpy(dtype=float)), 0.0, 1.0)
    lineage = [
        {
            "version_id": version_id,
            "predecessor_id": closed[str(o)],
            "successor_id": new_ids[str(n)],
            "households": int(h),
            "share": float(share),
        }
        for o, n, h, share in zip(
            pairs["old"], pairs["new"], pairs["households"], shares, strict=True
        )
        if str(n) in new_ids
    ]
    recorded = {(row["predecessor_id"], row["successor_id"]) for row in lineage}
    lineage.extend(
        {
            "version_id": version_id,
            "predecessor_id": closed[code],
            "successor_id": new_ids[code],
            "households": 0,
            "share": 0.0,
        }
        for code in sorted(reshaped)
        if code in new_ids and (closed[code], new_ids[code]) not in recorded
    )
    if lineage:
        conn.execute(insert(CellLineage), lineage)
    closed_ids = {i: code for code, i in closed.items()}
    moved: list[LinkChange] = []
    undecided: list[LinkChange] = []
    for link, owner_id, owner, cell_id in _links(conn, closed_ids):
        code = closed_ids[cell_id]
        target = successor.get(code)
        change = LinkChange(link, owner_id, owner, code, target)
        (moved if target is not None else undecided).append(change)
    if undecided and not accept_unlinked:
        raise UnlinkedError(community_code=community_code, undecided=undecided)
    for link, (table, owner_column, _) in LINK_TABLES.items():
        mine = [c for c in moved if c.link == link]
        if not mine:
            continue
        conn.execute(
            delete(table).where(
                owner_column == bindparam("owner"), table.cell_id == bindparam("cell")
            ),
            [{"owner": c.owner_id, "cell": closed[c.from_code]} for c in mine],
        )
        key = owner_column.key
        conn.execute(
            pg_insert(table).on_conflict_do_nothing(),
            [{key: c.owner_id, "cell_id": new_ids[str(c.to_code)]} for c in mine],
        )
    changes = moved + undecided
    if changes:
        conn.execute(
            insert(CellLinkMove),
            [
                {
                    "version_id": version_id,
                    "link": c.link,
                    "owner_id": c.owner_id,
                    "from_cell_id": closed[c.from_code],
                    "to_cell_id": None if c.to_code is None else new_ids[c.to_code],
                }
                for c in changes
            ],
        )
    return moved, undecided
