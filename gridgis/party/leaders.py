"""The leaders roster on the ground (issue 19, point 2): 网格长, 楼栋长, 单元长 and how
much of each community they cover.

The leaders are grid workers (``grid_worker``) holding the role ``grid_leader``,
``building_leader`` or ``unit_leader`` (``worker_role``), imported with the workers'
roster; what each serves is its cells (``worker_cell``), buildings (``worker_building``)
and units (``worker_unit``: building and unit number). :func:`leader_coverage` computes,
per community:

- ``cells``, ``cells_with_grid_leader``: active cells, and those a 网格长 serves;
- ``buildings``, ``buildings_with_leader``, ``building_share``: buildings, those a
  楼栋长 serves, the share;
- ``units``, ``units_with_leader``, ``unit_share``: units (``building_unit`` rows),
  those a 单元长 serves, the share (``None`` when the community has none);
- ``grid_leaders``, ``building_leaders``, ``unit_leaders``: how many people hold each
  role and serve something of the community.

Reading (``read_leader_data``) and figures are apart: the figures are a pure function of
frames.

Examples
--------
>>> with engine.connect() as conn:
...     coverage = leader_coverage(read_leader_data(conn))
>>> {"building_share", "unit_share", "grid_leaders"} <= set(coverage.columns)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from gridgis.db.models import (
    BuildingUnit,
    GridCell,
    GridWorker,
    WorkerBuilding,
    WorkerCell,
    WorkerRole,
    WorkerUnit,
)
from gridgis.db.queries import result_frame
from gridgis.party.organisations import read_buildings, read_cells

__all__ = [
    "COVERAGE_COLUMNS",
    "LEADER_ROLES",
    "LeaderData",
    "buildings_without_leader",
    "leader_coverage",
    "leader_roster",
    "read_leader_data",
]

LEADER_ROLES: dict[str, str] = {
    "grid_leader": "网格长",
    "building_leader": "楼栋长",
    "unit_leader": "单元长",
}
"""The roles of the roster, by code, with their Chinese names."""

COVERAGE_COLUMNS: tuple[str, ...] = (
    "community_code", "cells", "cells_with_grid_leader", "buildings", "buildings_with_leader",
    "building_share", "units", "units_with_leader", "unit_share", "grid_leaders",
    "building_leaders", "unit_leaders",
)  # fmt: skip
"""The columns of :func:`leader_coverage`, in order."""


@dataclass(frozen=True)
class LeaderData:
    """What the figures are computed from (frames as :func:`read_leader_data` reads them).

    Attributes
    ----------
    cells:
        ``id``, ``code``, ``community_code`` of the active cells.
    buildings:
        ``id``, ``external_id``, ``name``, ``address``, ``community_code``, ``households``...
    units:
        ``building_id``, ``number`` of the buildings' units.
    workers:
        ``id``, ``external_id``, ``name``, ``phone``, ``street_code`` of people with a leader role.
    roles:
        ``worker_id``, ``role`` (leader roles only).
    worker_cells, worker_buildings, worker_units:
        What they serve: ``worker_id`` and ``cell_id``; ``building_id``; ``building_id``
        and ``unit_number``.
    """

    cells: pd.DataFrame
    buildings: pd.DataFrame
    units: pd.DataFrame
    workers: pd.DataFrame
    roles: pd.DataFrame
    worker_cells: pd.DataFrame
    worker_buildings: pd.DataFrame
    worker_units: pd.DataFrame


def read_leader_data(conn: Connection, *, within: str | None = None) -> LeaderData:
    """Read the cells, buildings and units of the communities whose code starts with
    ``within`` (all when ``None``), and every leader with what they serve."""
    cells = read_cells(conn, within=within)
    buildings = read_buildings(conn, within=within)
    units = result_frame(
        conn.execute(select(BuildingUnit.building_id, BuildingUnit.number)),
        ["building_id", "number"],
    )
    units = units[units["building_id"].isin(buildings["id"])].reset_index(drop=True)
    roles = result_frame(
        conn.execute(
            select(WorkerRole.worker_id, WorkerRole.role).where(
                WorkerRole.role.in_(list(LEADER_ROLES))
            )
        ),
        ["worker_id", "role"],
    )
    leaders = sorted({int(w) for w in roles["worker_id"]})
    workers = result_frame(
        conn.execute(
            select(
                GridWorker.id,
                GridWorker.external_id,
                GridWorker.name,
                GridWorker.phone,
                GridWorker.street_code,
            )
            .where(GridWorker.id.in_(leaders))
            .order_by(GridWorker.id)
        ),
        ["id", "external_id", "name", "phone", "street_code"],
    )
    worker_cells = result_frame(
        conn.execute(
            select(WorkerCell.worker_id, WorkerCell.cell_id)
            .join(GridCell, GridCell.id == WorkerCell.cell_id)
            .where(WorkerCell.worker_id.in_(leaders), GridCell.valid_to.is_(None))
        ),
        ["worker_id", "cell_id"],
    )
    worker_buildings = result_frame(
        conn.execute(
            select(WorkerBuilding.worker_id, WorkerBuilding.building_id).where(
                WorkerBuilding.worker_id.in_(leaders)
            )
        ),
        ["worker_id", "building_id"],
    )
    worker_units = result_frame(
        conn.execute(
            select(WorkerUnit.worker_id, WorkerUnit.building_id, WorkerUnit.unit_number).where(
                WorkerUnit.worker_id.in_(leaders)
            )
        ),
        ["worker_id", "building_id", "unit_number"],
    )
    return LeaderData(
        cells, buildings, units, workers, roles, worker_cells, worker_buildings, worker_units
    )


def _holding(data: LeaderData, role: str) -> set[int]:
    return {int(w) for w in data.roles.loc[data.roles["role"] == role, "worker_id"]}


def _share(part: np.ndarray, whole: np.ndarray) -> list[float | None]:
    return [
        None if w == 0 else round(float(p) / float(w), 4) for p, w in zip(part, whole, strict=True)
    ]


def leader_coverage(data: LeaderData) -> pd.DataFrame:
    """Per community (of the cells or buildings given): the figures of
    :data:`COVERAGE_COLUMNS`, ordered by community code.

    Examples
    --------
    >>> data = LeaderData(
    ...     cells=pd.DataFrame({"id": [1], "code": ["350304001001001"],
    ...                         "community_code": ["350304001001"]}),
    ...     buildings=pd.DataFrame({"id": [7, 8], "community_code": ["350304001001"] * 2}),
    ...     units=pd.DataFrame({"building_id": [7, 7], "number": [1, 2]}),
    ...     workers=pd.DataFrame({"id": [3]}),
    ...     roles=pd.DataFrame({"worker_id": [3, 3], "role": ["building_leader", "unit_leader"]}),
    ...     worker_cells=pd.DataFrame({"worker_id": [], "cell_id": []}),
    ...     worker_buildings=pd.DataFrame({"worker_id": [3], "building_id": [7]}),
    ...     worker_units=pd.DataFrame({"worker_id": [3], "building_id": [7], "unit_number": [2]}))
    >>> row = leader_coverage(data).iloc[0]
    >>> float(row["building_share"]), float(row["unit_share"]), int(row["building_leaders"])
    (0.5, 0.5, 1)
    """
    communities = sorted(
        set(data.cells["community_code"].astype(str))
        | set(data.buildings["community_code"].astype(str))
    )
    out = pd.DataFrame({"community_code": communities})
    index = pd.Index(communities)

    def per_community(codes: pd.Series) -> np.ndarray:
        counted = codes.astype(str).value_counts()
        return counted.reindex(index, fill_value=0).to_numpy(dtype=np.int64)

    def people(frame: pd.DataFrame, community: pd.Series, role: str) -> np.ndarray:
        holders = frame["worker_id"].isin(list(_holding(data, role))).to_numpy()
        pairs = pd.DataFrame(
            {"w": frame["worker_id"].to_numpy()[holders], "c": community.to_numpy()[holders]}
        ).drop_duplicates()
        return per_community(pairs["c"])

    cell_community = pd.Series(
        data.cells["community_code"].astype(str).to_numpy(), index=data.cells["id"].astype(int)
    )
    building_community = pd.Series(
        data.buildings["community_code"].astype(str).to_numpy(),
        index=data.buildings["id"].astype(int),
    )
    # Links to cells and buildings outside those read (another street's) are left out.
    worker_cells = data.worker_cells[data.worker_cells["cell_id"].isin(cell_community.index)]
    worker_buildings = data.worker_buildings[
        data.worker_buildings["building_id"].isin(building_community.index)
    ]
    unit_keys = set(
        zip(data.units["building_id"].astype(int), data.units["number"].astype(int), strict=True)
    )
    known_unit = np.array(
        [
            (int(b), int(n)) in unit_keys
            for b, n in zip(
                data.worker_units["building_id"], data.worker_units["unit_number"], strict=True
            )
        ],
        dtype=bool,
    )
    worker_units = data.worker_units.loc[known_unit]
    grid_leaders = _holding(data, "grid_leader")
    led_cells = worker_cells.loc[worker_cells["worker_id"].isin(list(grid_leaders)), "cell_id"]
    led_cells = pd.Series(sorted({int(c) for c in led_cells}), dtype=np.int64)
    building_leaders = _holding(data, "building_leader")
    led_buildings = worker_buildings.loc[
        worker_buildings["worker_id"].isin(list(building_leaders)), "building_id"
    ]
    led_buildings = pd.Series(sorted({int(b) for b in led_buildings}), dtype=np.int64)
    unit_leaders = _holding(data, "unit_leader")
    led_units = worker_units[worker_units["worker_id"].isin(list(unit_leaders))]
    led_unit_buildings = (
        led_units[["building_id", "unit_number"]].drop_duplicates()["building_id"].astype(int)
    )

    out["cells"] = per_community(data.cells["community_code"])
    out["cells_with_grid_leader"] = per_community(led_cells.map(cell_community))
    out["buildings"] = per_community(data.buildings["community_code"])
    out["buildings_with_leader"] = per_community(led_buildings.map(building_community))
    out["building_share"] = _share(
        out["buildings_with_leader"].to_numpy(), out["buildings"].to_numpy()
    )
    out["units"] = per_community(data.units["building_id"].astype(int).map(building_community))
    out["units_with_leader"] = per_community(led_unit_buildings.map(building_community))
    out["unit_share"] = _share(out["units_with_leader"].to_numpy(), out["units"].to_numpy())
    out["grid_leaders"] = people(
        worker_cells, worker_cells["cell_id"].astype(int).map(cell_community), "grid_leader"
    )
    out["building_leaders"] = people(
        worker_buildings,
        worker_buildings["building_id"].astype(int).map(building_community),
        "building_leader",
    )
    out["unit_leaders"] = people(
        worker_units, worker_units["building_id"].astype(int).map(building_community), "unit_leader"
    )
    return out[list(COVERAGE_COLUMNS)]


def buildings_without_leader(data: LeaderData, *, community: str | None = None) -> pd.DataFrame:
    """The buildings no 楼栋长 serves (of ``community`` when given), by id."""
    leaders = _holding(data, "building_leader")
    served = set(
        data.worker_buildings.loc[
            data.worker_buildings["worker_id"].isin(list(leaders)), "building_id"
        ].astype(int)
    )
    frame = data.buildings[~data.buildings["id"].astype(int).isin(list(served))]
    if community is not None:
        frame = frame[frame["community_code"].astype(str) == community]
    return frame.reset_index(drop=True)


def leader_roster(
    data: LeaderData, *, people: Callable[[str | None], bool] | None = None
) -> pd.DataFrame:
    """One row per leader: ``id`` (the roster's id), ``name``, ``phone``, ``roles``
    (Chinese, 、-joined), ``community_code`` (of the first thing served), ``cells``,
    ``buildings`` (楼栋编号), ``units`` (``楼栋编号-单元``), ``street_code``.

    ``people`` decides from a leader's community code whether the name and phone are
    shown as stored; the others are masked (:func:`gridgis.audit.mask_person`).
    """
    from gridgis.audit import mask_person

    cell_code = dict(zip(data.cells["id"].astype(int), data.cells["code"].astype(str), strict=True))
    cell_community = dict(
        zip(data.cells["id"].astype(int), data.cells["community_code"].astype(str), strict=True)
    )
    label = {
        int(i): (str(e) if e is not None and not pd.isna(e) else str(i))
        for i, e in zip(data.buildings["id"], data.buildings["external_id"], strict=True)
    }
    building_community = dict(
        zip(
            data.buildings["id"].astype(int),
            data.buildings["community_code"].astype(str),
            strict=True,
        )
    )
    served: dict[int, dict[str, list[Any]]] = {}

    def add(worker: Any, key: str, value: Any, community: str | None) -> None:
        entry = served.setdefault(
            int(worker), {"cells": [], "buildings": [], "units": [], "at": []}
        )
        entry[key].append(value)
        if community is not None:
            entry["at"].append(community)

    for w, c in zip(data.worker_cells["worker_id"], data.worker_cells["cell_id"], strict=True):
        if int(c) in cell_code:
            add(w, "cells", cell_code[int(c)], cell_community[int(c)])
    for w, b in zip(
        data.worker_buildings["worker_id"], data.worker_buildings["building_id"], strict=True
    ):
        if int(b) in label:
            add(w, "buildings", label[int(b)], building_community[int(b)])
    for w, b, n in zip(
        data.worker_units["worker_id"], data.worker_units["building_id"],
        data.worker_units["unit_number"], strict=True,
    ):  # fmt: skip
        if int(b) in label:
            add(w, "units", f"{label[int(b)]}-{int(n)}", building_community[int(b)])
    roles: dict[int, list[str]] = {}
    for w, r in zip(data.roles["worker_id"], data.roles["role"], strict=True):
        roles.setdefault(int(w), []).append(LEADER_ROLES.get(str(r), str(r)))
    rows = []
    for w in data.workers.to_dict("records"):
        entry = served.get(int(w["id"]))
        if entry is None:
            continue  # serves nothing here (another street's)
        community = min(entry["at"]) if entry["at"] else None
        shown = people is None or people(community)
        rows.append(
            {
                "id": w["external_id"] if w["external_id"] is not None else str(w["id"]),
                "name": w["name"] if shown else mask_person(w["name"], "name"),
                "phone": w["phone"] if shown else mask_person(w["phone"], "phone"),
                "roles": "、".join(sorted(roles.get(int(w["id"]), []))),
                "community_code": community,
                "cells": "、".join(sorted(set(entry["cells"]))) or None,
                "buildings": "、".join(sorted(set(entry["buildings"]))) or None,
                "units": "、".join(sorted(set(entry["units"]))) or None,
                "street_code": w["street_code"],
            }
        )
    columns = ["id", "name", "phone", "roles", "community_code", "cells", "buildings", "units",
               "street_code"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns, dtype=object)
