"""The party organisation tree on the grid (issue 19, point 1): 社区党组织 → 网格党支部 →
楼栋党小组 → 党员中心户.

Reading (``read_*``) gives plain frames of what is stored; the figures are computed by
pure functions of those frames, so a test (or a notebook) can feed them its own:

- :func:`organisation_tree`: the organisations as a tree (nested dicts), each with its
  kind, secretary, member count (from ``party_member`` where members are registered,
  else the stored ``member_count``), and the cells and buildings it covers;
- :func:`cell_status`: 一网格一支部 per cell — ``none`` (no 党支部 covers it), ``own``
  (exactly one 党支部 covers it and that 支部 covers no other cell), ``shared`` (its
  支部 covers other cells too, or several 支部 cover it);
- :func:`building_coverage`: per building, the 党小组 covering it (党小组建在楼栋上)
  and its 党员中心户 (members whose household is marked so).

Changing the tree (create, rename, change kind, move, set the cells and buildings,
delete) is :mod:`gridgis.party.organisation_edits`.

Examples
--------
>>> with engine.connect() as conn:
...     status = cell_status(read_cells(conn), read_cell_links(conn))
>>> sorted(set(status["status"])) <= ["none", "own", "shared"]
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from gridgis.db.models import (
    BranchBuilding,
    BranchCell,
    Building,
    GridCell,
    PartyBranch,
    PartyMember,
)
from gridgis.db.queries import result_frame
from gridgis.registers.kinds import BRANCH_KIND_NAMES

__all__ = [
    "CELL_STATUSES",
    "building_coverage",
    "cell_status",
    "organisation_tree",
    "read_building_links",
    "read_buildings",
    "read_cell_links",
    "read_cells",
    "read_central_households",
    "read_organisations",
    "status_counts",
]

CELL_STATUSES: tuple[str, ...] = ("none", "own", "shared")
"""一网格一支部 status of a cell: no 党支部, a 党支部 of its own, a shared one."""

_ORGANISATION_COLUMNS = [
    "id", "external_id", "name", "kind", "parent_id", "community_code", "address",
    "secretary", "secretary_phone", "member_count", "registered_members", "lon", "lat",
]  # fmt: skip


def _within(column: Any, within: str | None) -> Any:
    return column.startswith(within, autoescape=True)


def read_organisations(conn: Connection, *, within: str | None = None) -> pd.DataFrame:
    """Every stored organisation (those of communities whose code starts with ``within``;
    with ``within``, an organisation of no community is left out), with the members
    registered to it (``registered_members``) and the cells and buildings it covers
    (``cells``: codes of active cells; ``buildings``: building ids), by ``id``."""
    members = (
        select(PartyMember.branch_id, func.count().label("n"))
        .where(PartyMember.branch_id.is_not(None))
        .group_by(PartyMember.branch_id)
        .subquery()
    )
    query = (
        select(
            PartyBranch.id,
            PartyBranch.external_id,
            PartyBranch.name,
            PartyBranch.kind,
            PartyBranch.parent_id,
            PartyBranch.community_code,
            PartyBranch.address,
            PartyBranch.secretary,
            PartyBranch.secretary_phone,
            PartyBranch.member_count,
            func.coalesce(members.c.n, 0).label("registered_members"),
            func.ST_X(PartyBranch.location).label("lon"),
            func.ST_Y(PartyBranch.location).label("lat"),
        )
        .outerjoin(members, members.c.branch_id == PartyBranch.id)
        .order_by(PartyBranch.id)
    )
    if within is not None:
        query = query.where(_within(PartyBranch.community_code, within))
    frame = result_frame(conn.execute(query), _ORGANISATION_COLUMNS)
    ids = [int(i) for i in frame["id"]]
    cells: dict[int, list[str]] = {i: [] for i in ids}
    buildings: dict[int, list[int]] = {i: [] for i in ids}
    links = (
        select(BranchCell.branch_id, GridCell.code)
        .join(GridCell, GridCell.id == BranchCell.cell_id)
        .where(GridCell.valid_to.is_(None), BranchCell.branch_id.in_(ids))
        .order_by(GridCell.code)
    )
    for owner, code in conn.execute(links):
        cells[int(owner)].append(str(code))
    covered = (
        select(BranchBuilding.branch_id, BranchBuilding.building_id)
        .where(BranchBuilding.branch_id.in_(ids))
        .order_by(BranchBuilding.building_id)
    )
    for owner, building in conn.execute(covered):
        buildings[int(owner)].append(int(building))
    frame["cells"] = [cells[i] for i in ids]
    frame["buildings"] = [buildings[i] for i in ids]
    return frame.set_index("id", drop=False)


def _members(frame: pd.DataFrame) -> np.ndarray:
    """Members per organisation: those registered where any are, else the stored count."""
    registered = frame["registered_members"].to_numpy(dtype=np.int64)
    stored = frame["member_count"].to_numpy(dtype=np.int64)
    return np.where(registered > 0, registered, stored)


def organisation_tree(organisations: pd.DataFrame, *, people: Any = None) -> list[dict[str, Any]]:
    """The organisations of ``organisations`` (as :func:`read_organisations` reads them) as
    a forest: a list of roots, each ``{"id", "name", "kind", "kind_name", "secretary",
    "members", "member_source", "cells", "buildings", "children": [...]}``.

    An organisation whose parent is not in the frame (another street's, or none) is a
    root. ``people`` shows the secretary: a function of the organisation's row giving
    the name as the user may see it (``None``: as stored).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": [1, 2], "name": ["社区党委", "第一网格党支部"],
    ...     "kind": ["committee", "branch"], "parent_id": [None, 1],
    ...     "community_code": ["350304001001"] * 2, "secretary": ["李强", None],
    ...     "member_count": [40, 12], "registered_members": [0, 15],
    ...     "cells": [[], ["350304001001001"]], "buildings": [[], []]})
    >>> tree = organisation_tree(frame)
    >>> tree[0]["name"], tree[0]["children"][0]["members"], tree[0]["children"][0]["member_source"]
    ('社区党委', 15, 'register')
    """
    members = _members(organisations)
    nodes: dict[int, dict[str, Any]] = {}
    for row, count in zip(organisations.to_dict("records"), members.tolist(), strict=True):
        secretary = row.get("secretary")
        secretary = None if pd.isna(secretary) else secretary
        row["secretary"] = secretary
        nodes[int(row["id"])] = {
            "id": int(row["id"]),
            "external_id": None if pd.isna(row.get("external_id")) else row["external_id"],
            "name": row["name"],
            "kind": row["kind"],
            "kind_name": BRANCH_KIND_NAMES.get(row["kind"], row["kind"]),
            "parent_id": None if pd.isna(row["parent_id"]) else int(row["parent_id"]),
            "community_code": None if pd.isna(row.get("community_code")) else row["community_code"],
            "secretary": people(row) if people is not None else secretary,
            "members": int(count),
            "member_source": "register" if row["registered_members"] > 0 else "count",
            "cells": list(row["cells"]),
            "buildings": len(row["buildings"]),
            "children": [],
        }
    roots: list[dict[str, Any]] = []
    for node in nodes.values():
        parent = nodes.get(node["parent_id"]) if node["parent_id"] is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def read_cells(conn: Connection, *, within: str | None = None) -> pd.DataFrame:
    """The active cells (``id``, ``code``, ``community_code``, ``households``) whose code
    starts with ``within``."""
    query = select(GridCell.id, GridCell.code, GridCell.community_code, GridCell.households).where(
        GridCell.valid_to.is_(None)
    )
    if within is not None:
        query = query.where(_within(GridCell.code, within))
    return result_frame(
        conn.execute(query.order_by(GridCell.code)), ["id", "code", "community_code", "households"]
    )


def read_cell_links(conn: Connection) -> pd.DataFrame:
    """Every organisation → active cell link: ``branch_id``, ``kind``, ``name``, ``cell_id``
    (all of them: a 支部 of one street covering a cell of another still shares it)."""
    query = (
        select(BranchCell.branch_id, PartyBranch.kind, PartyBranch.name, BranchCell.cell_id)
        .join(PartyBranch, PartyBranch.id == BranchCell.branch_id)
        .join(GridCell, GridCell.id == BranchCell.cell_id)
        .where(GridCell.valid_to.is_(None))
    )
    return result_frame(conn.execute(query), ["branch_id", "kind", "name", "cell_id"])


def cell_status(cells: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """一网格一支部 per cell: ``branches`` (how many 党支部 cover it), ``branch_names``
    and ``status`` (``none``, ``own``, ``shared``), keeping ``cells``' rows and index.

    Only organisations of kind ``branch`` (党支部) count; a 党支部's cells are counted
    over every link given, so pass all of them (:func:`read_cell_links`).

    Examples
    --------
    >>> cells = pd.DataFrame({"id": [1, 2, 3, 4], "code": ["a", "b", "c", "d"]})
    >>> links = pd.DataFrame({"branch_id": [10, 11, 11, 12, 13], "kind": ["branch"] * 4 + ["group"],
    ...     "name": ["一支部", "二支部", "二支部", "三支部", "小组"], "cell_id": [1, 2, 3, 3, 4]})
    >>> cell_status(cells, links)["status"].tolist()
    ['own', 'shared', 'shared', 'none']
    """
    branches = links[links["kind"] == "branch"].drop_duplicates(["branch_id", "cell_id"])
    cells_per_branch = branches.groupby("branch_id")["cell_id"].nunique()
    spread = branches["branch_id"].map(cells_per_branch).to_numpy()
    per_cell = branches.assign(spread=spread).groupby("cell_id")
    count = per_cell["branch_id"].nunique()
    widest = per_cell["spread"].max()
    names = per_cell["name"].agg(lambda s: sorted(set(s)))
    ids = cells["id"]
    n = ids.map(count).fillna(0).astype("int64").to_numpy()
    alone = ids.map(widest).fillna(0).to_numpy() == 1
    out = cells.copy()
    out["branches"] = n
    out["branch_names"] = [v if isinstance(v, list) else [] for v in ids.map(names)]
    out["status"] = np.where(n == 0, "none", np.where((n == 1) & alone, "own", "shared"))
    return out


def status_counts(status: pd.DataFrame) -> dict[str, int]:
    """How many cells of each status (every status named, zero included)."""
    counted = status["status"].value_counts()
    return {s: int(counted.get(s, 0)) for s in CELL_STATUSES}


def read_buildings(conn: Connection, *, within: str | None = None) -> pd.DataFrame:
    """The buildings (``id``, ``external_id``, ``name``, ``address``, ``compound``,
    ``community_code``, ``households``, ``lon``, ``lat``) of communities whose code starts
    with ``within``."""
    query = select(
        Building.id,
        Building.external_id,
        Building.name,
        Building.address,
        Building.compound,
        Building.community_code,
        Building.households,
        func.ST_X(Building.location).label("lon"),
        func.ST_Y(Building.location).label("lat"),
    ).order_by(Building.id)
    if within is not None:
        query = query.where(_within(Building.community_code, within))
    columns = ["id", "external_id", "name", "address", "compound", "community_code",
               "households", "lon", "lat"]  # fmt: skip
    return result_frame(conn.execute(query), columns)


def read_building_links(conn: Connection) -> pd.DataFrame:
    """Every organisation → building link: ``branch_id``, ``kind``, ``name``, ``building_id``."""
    query = select(
        BranchBuilding.branch_id, PartyBranch.kind, PartyBranch.name, BranchBuilding.building_id
    ).join(PartyBranch, PartyBranch.id == BranchBuilding.branch_id)
    return result_frame(conn.execute(query), ["branch_id", "kind", "name", "building_id"])


def read_central_households(conn: Connection) -> pd.DataFrame:
    """The members whose household is a 党员中心户 and placed on a building: ``member_id``,
    ``building_id``."""
    query = select(PartyMember.id, PartyMember.building_id).where(
        PartyMember.central_household.is_(True), PartyMember.building_id.is_not(None)
    )
    return result_frame(conn.execute(query), ["member_id", "building_id"])


def building_coverage(
    buildings: pd.DataFrame, links: pd.DataFrame, central: pd.DataFrame
) -> pd.DataFrame:
    """Per building: ``groups`` (党小组 covering it), ``group_names``, ``has_group`` and
    ``central_households`` (党员中心户 in it), keeping ``buildings``' rows and index.

    Examples
    --------
    >>> buildings = pd.DataFrame({"id": [1, 2]})
    >>> links = pd.DataFrame({"branch_id": [5, 6], "kind": ["group", "branch"],
    ...                       "name": ["1号楼党小组", "支部"], "building_id": [1, 2]})
    >>> central = pd.DataFrame({"member_id": [9], "building_id": [2]})
    >>> covered = building_coverage(buildings, links, central)
    >>> covered[["has_group", "central_households"]].values.tolist()
    [[True, 0], [False, 1]]
    """
    groups = links[links["kind"] == "group"].drop_duplicates(["branch_id", "building_id"])
    by_building = groups.groupby("building_id")
    count = by_building["branch_id"].nunique()
    names = by_building["name"].agg(lambda s: sorted(set(s)))
    households = central.groupby("building_id")["member_id"].nunique()
    ids = buildings["id"]
    out = buildings.copy()
    out["groups"] = ids.map(count).fillna(0).astype("int64").to_numpy()
    out["group_names"] = [v if isinstance(v, list) else [] for v in ids.map(names)]
    out["has_group"] = out["groups"].to_numpy() > 0
    out["central_households"] = ids.map(households).fillna(0).astype("int64").to_numpy()
    return out
