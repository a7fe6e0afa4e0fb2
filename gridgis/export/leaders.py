"""Exporting the leaders roster (issue 19, point 2): ``gridgis export leaders``.

Two tables: the coverage of each community (:data:`gridgis.party.leaders.COVERAGE_COLUMNS`
and the community's name; in a GeoPackage, its outline) and the leaders (网格长, 楼栋长,
单元长) with what each serves. A GeoPackage holds them as two layers
(``leader_coverage`` and ``leaders``); a CSV or Excel file as one table, the
communities' rows first (``row`` = ``community``), then the leaders' (``row`` =
``leader``). Names and phones are masked unless the exporting user may see them (the
``reveal`` of :func:`gridgis.export.export`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, func, select

from gridgis.crs import CRSSpec
from gridgis.db.models import Community
from gridgis.export.layers import _Layer
from gridgis.party.leaders import leader_coverage, leader_roster, read_leader_data

__all__ = ["LEADER_COLUMNS", "read_leaders"]

LEADER_COLUMNS: tuple[str, ...] = (
    "id", "name", "phone", "roles", "community_code", "cells_served", "buildings_served",
    "units_served", "street_code",
)  # fmt: skip
"""The columns of the leaders' table, in order."""

_DESCRIPTIONS = {
    "row": "行类型 / row: community (coverage) or leader",
    "community_name": "社区 / community",
    "cells_with_grid_leader": "有网格长的网格数 / cells with a grid leader (网格长)",
    "buildings_with_leader": "有楼栋长的楼栋数 / buildings with a building leader (楼栋长)",
    "building_share": "楼栋长覆盖率 / share of buildings with a building leader (0-1)",
    "units": "单元数 / units (单元)",
    "units_with_leader": "有单元长的单元数 / units with a unit leader (单元长)",
    "unit_share": "单元长覆盖率 / share of units with a unit leader (0-1)",
    "grid_leaders": "网格长人数 / grid leaders",
    "building_leaders": "楼栋长人数 / building leaders",
    "unit_leaders": "单元长人数 / unit leaders",
    "phone": "电话 / phone (masked unless revealed)",
    "roles": "角色 / roles (、-separated)",
    "cells_served": "所服务网格编码 / cells served (、-separated)",
    "buildings_served": "所服务楼栋编号 / buildings served (、-separated)",
    "units_served": "所服务单元 / units served (楼栋编号-单元)",
}


def read_leaders(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> list[_Layer]:
    """The coverage per community and the leaders of the area ``within`` (all: ``None``)."""
    data = read_leader_data(conn, within=within)
    coverage = leader_coverage(data)
    rows = conn.execute(
        select(Community.code, Community.name, func.ST_AsBinary(Community.geom)).where(
            Community.code.in_(coverage["community_code"].tolist())
        )
    ).all()
    names = {str(r[0]): r[1] for r in rows}
    outlines = {str(r[0]): r[2] for r in rows}
    coverage.insert(1, "community_name", [names.get(c) for c in coverage["community_code"]])
    people = leader_roster(data)
    people = people.rename(
        columns={"cells": "cells_served", "buildings": "buildings_served", "units": "units_served"}
    )
    descriptions = dict(_DESCRIPTIONS)
    if fmt == "gpkg":
        wkb = [outlines.get(c) for c in coverage["community_code"]]
        geoms = np.asarray(shapely.from_wkb(np.array(wkb, dtype=object)), dtype=object)
        return [
            _Layer("leader_coverage", coverage, geoms, "MultiPolygon", descriptions),
            _Layer(
                "leaders", people, np.full(len(people), None, dtype=object), "None", descriptions
            ),
        ]
    table = pd.concat(
        [coverage.astype(object).assign(row="community"), people.assign(row="leader")],
        ignore_index=True,
    )
    columns = ["row", *coverage.columns, *[c for c in people.columns if c not in coverage]]
    table = table[columns].astype(object).where(table[columns].notna(), None)
    return [_Layer("leaders", table, np.full(len(table), None, dtype=object), "None", descriptions)]
