"""The party organisation tree and the leaders on the ground of a demo district (issue 19).

Built from a generated district (:class:`gridgis.demo.generate.DemoDistrict`) and written
as the district's own files, so that they load through the importers:

* a community 党组织 per community that has a 网格党支部: a 党委 where the community
  has three cells or more, else a 党总支; the 网格党支部 of its cells (as the demo draws
  them, one per cell or per two small rural cells) under it;
* 楼栋党小组 for some residential buildings (the biggest first), under the 支部 of the
  building's cell, each covering its building: as many as make the district's
  organisations come to 龙港区's proportion (336 organisations for its households,
  :data:`ORGANISATIONS_PER_HOUSEHOLD`), and at least one for every
  :data:`MIN_GROUPS_PER_BRANCH` branches (the committees and branches alone exceed that
  proportion in a small demo);
* secretaries (names and phones, people's data) for every organisation;
* a 网格长 for most cells (the role added to the cell's grid worker: "专职网格员、网格长"),
  a 楼栋长 for most residential buildings and a 单元长 for most units (people of their
  own, serving a building, or a unit of one).

Deterministic: the random draws are seeded by the district's seed.

Examples
--------
>>> demo = generate_district("211403", scale=0.01, seed=1, workers=1)  # doctest: +SKIP
>>> tree = build_party_tree(demo)  # doctest: +SKIP
>>> sorted(set(tree.organisations["kind"]))  # doctest: +SKIP
['branch', 'committee', 'general_branch', 'group']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.demo import names
from gridgis.registers.kinds import WORKER_ROLE_NAMES

if TYPE_CHECKING:
    from gridgis.demo.generate import DemoDistrict

__all__ = [
    "BUILDING_LEADER_SHARE",
    "GRID_LEADER_SHARE",
    "MIN_GROUPS_PER_BRANCH",
    "ORGANISATIONS_PER_HOUSEHOLD",
    "UNIT_LEADER_SHARE",
    "PartyTree",
    "build_party_tree",
]

ORGANISATIONS_PER_HOUSEHOLD = 336 / round(233_000 / 2.35)
"""龙港区: 336 party organisations for its about 99,000 households."""
MIN_GROUPS_PER_BRANCH = 4
"""At least one 楼栋党小组 for every four 网格党支部."""
GRID_LEADER_SHARE = 0.9
"""Cells whose grid worker is also its 网格长."""
BUILDING_LEADER_SHARE = 0.85
"""Residential buildings with a 楼栋长."""
UNIT_LEADER_SHARE = 0.8
"""Units (单元) with a 单元长."""
_SEED = 19  # issue 19: the draws of this module, apart from the district's others


@dataclass
class PartyTree:
    """The organisations and the leaders of a demo district.

    Attributes
    ----------
    organisations:
        One row per organisation: ``external_id``, ``name``, ``kind``, ``parent``
        (external id or ``None``), ``community_code``, ``member_count``, ``secretary``,
        ``secretary_phone``, ``cells`` and ``buildings`` (lists of cell codes and
        building external ids), ``lon``, ``lat``.
    grid_leaders:
        The external ids of the grid workers who are also 网格长.
    leaders:
        The 楼栋长 and 单元长: ``external_id``, ``name``, ``phone``, ``roles`` (codes),
        ``building`` (external id), ``units`` (numbers).
    """

    organisations: pd.DataFrame
    grid_leaders: list[str]
    leaders: pd.DataFrame


def _committees(demo: DemoDistrict, rng: np.random.Generator) -> pd.DataFrame:
    communities = demo.communities
    with_branch = set(demo.branches["community_code"])
    cells_per = demo.cells.groupby("community_code").size()
    rows = communities[communities["code"].isin(with_branch)].sort_values("code")
    spots = shapely.point_on_surface(rows.geometry.to_numpy())
    n = len(rows)
    kind = np.where(
        rows["code"].map(cells_per).fillna(0).to_numpy() >= 3, "committee", "general_branch"
    )
    suffix = np.where(kind == "committee", "党委", "党总支")
    return pd.DataFrame(
        {
            "external_id": [f"demo-{demo.code}-c{i:04d}" for i in range(1, n + 1)],
            "name": [f"{s}社区{x}" for s, x in zip(rows["short_name"], suffix, strict=True)],
            "kind": kind,
            "parent": None,
            "community_code": rows["code"].to_numpy(),
            "member_count": rng.integers(5, 12, size=n),
            "cells": [[] for _ in range(n)],
            "buildings": [[] for _ in range(n)],
            "lon": shapely.get_x(spots),
            "lat": shapely.get_y(spots),
        }
    )


def _cell_of_buildings(demo: DemoDistrict, buildings: pd.DataFrame) -> np.ndarray:
    """The code of the cell holding each building's point (``None`` outside every cell)."""
    points = gpd.GeoDataFrame(
        {"i": np.arange(len(buildings))},
        geometry=np.asarray(buildings["location"].array, dtype=object),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(points, demo.cells[["code", "geometry"]], predicate="within")
    joined = joined.drop_duplicates("i")
    out = np.full(len(buildings), None, dtype=object)
    out[joined["i"].to_numpy()] = joined["code"].to_numpy()
    return out


def build_party_tree(demo: DemoDistrict) -> PartyTree:
    """The organisation tree and the leaders of ``demo`` (see the module's notes)."""
    rng = np.random.default_rng([demo.seed, _SEED])
    committees = _committees(demo, rng)
    parent_of = dict(zip(committees["community_code"], committees["external_id"], strict=True))
    served = demo.branch_cells.groupby("branch")["cell_code"].agg(sorted)
    branches = pd.DataFrame(
        {
            "external_id": demo.branches["external_id"].to_numpy(),
            "name": demo.branches["name"].to_numpy(),
            "kind": "branch",
            "parent": demo.branches["community_code"].map(parent_of).to_numpy(),
            "community_code": demo.branches["community_code"].to_numpy(),
            "member_count": demo.branches["member_count"].to_numpy(),
            "cells": [list(served.get(b, [])) for b in demo.branches["external_id"]],
            "buildings": [[] for _ in range(len(demo.branches))],
            "lon": demo.branches.geometry.x.to_numpy(),
            "lat": demo.branches.geometry.y.to_numpy(),
        }
    )
    # 楼栋党小组: the biggest residential buildings of cells with a 支部.
    homes = demo.buildings[demo.buildings["households"] > 0].reset_index(drop=True)
    cell = _cell_of_buildings(demo, homes)
    branch_of_cell = dict(
        zip(demo.branch_cells["cell_code"], demo.branch_cells["branch"], strict=True)
    )
    branch = np.array(
        [branch_of_cell.get(c) if c is not None else None for c in cell], dtype=object
    )
    eligible = np.flatnonzero(pd.notna(branch))
    target = round(float(homes["households"].sum()) * ORGANISATIONS_PER_HOUSEHOLD)
    wanted = max(
        target - len(committees) - len(branches), -(-len(branches) // MIN_GROUPS_PER_BRANCH)
    )
    weights = homes["households"].to_numpy(dtype=float)[eligible]
    n_groups = min(wanted, len(eligible))
    picked = (
        eligible[
            np.argsort(-(weights * rng.uniform(0.5, 1.5, size=len(eligible))), kind="stable")[
                :n_groups
            ]
        ]
        if n_groups
        else np.array([], dtype=np.int64)
    )
    picked = np.sort(picked)
    short = dict(zip(demo.communities["code"], demo.communities["short_name"], strict=True))
    group_points = np.asarray(homes["location"].array, dtype=object)[picked]
    groups = pd.DataFrame(
        {
            "external_id": [f"demo-{demo.code}-g{i:05d}" for i in range(1, len(picked) + 1)],
            "name": [
                f"{short[c]}{n or a}党小组"
                for c, n, a in zip(
                    homes["community_code"].to_numpy()[picked],
                    homes["name"].to_numpy()[picked],
                    homes["address"].to_numpy()[picked],
                    strict=True,
                )
            ],
            "kind": "group",
            "parent": branch[picked],
            "community_code": homes["community_code"].to_numpy()[picked],
            "member_count": rng.integers(3, 9, size=len(picked)),
            "cells": [[] for _ in range(len(picked))],
            "buildings": [[b] for b in homes["external_id"].to_numpy()[picked]],
            "lon": shapely.get_x(group_points) if len(picked) else np.array([], dtype=float),
            "lat": shapely.get_y(group_points) if len(picked) else np.array([], dtype=float),
        }
    )
    organisations = pd.concat([committees, branches, groups], ignore_index=True)
    n = len(organisations)
    organisations["secretary"] = names.person_names(rng, n, local=demo.profile.surnames)
    organisations["secretary_phone"] = names.phone_numbers(rng, n)
    organisations["member_count"] = organisations["member_count"].astype(np.int64)

    # 网格长: the cell's grid worker, for most cells.
    workers = demo.workers.sort_values("external_id")
    grid_leaders = sorted(
        workers["external_id"].to_numpy()[rng.random(len(workers)) < GRID_LEADER_SHARE].tolist()
    )
    # 楼栋长 for most residential buildings (also 单元长 of its first unit when that unit has
    # one), 单元长 for most units.
    led = rng.random(len(homes)) < BUILDING_LEADER_SHARE
    units = demo.units[demo.units["external_id"].isin(set(homes["external_id"]))]
    unit_led = units[rng.random(len(units)) < UNIT_LEADER_SHARE]
    rows: list[tuple[str, tuple[str, ...], str, tuple[int, ...]]] = []
    first_units = set(unit_led.loc[unit_led["number"] == 1, "external_id"].astype(str))
    for building in homes["external_id"].to_numpy()[led]:  # one row per building led
        both = building in first_units
        roles = ("building_leader", "unit_leader") if both else ("building_leader",)
        rows.append(("b", roles, str(building), (1,) if both else ()))
    led_buildings = set(homes["external_id"].to_numpy()[led].astype(str))
    for building, number in zip(
        unit_led["external_id"].astype(str), unit_led["number"], strict=True
    ):
        if int(number) == 1 and building in led_buildings:
            continue  # the 楼栋长's own
        rows.append(("u", ("unit_leader",), building, (int(number),)))
    k = len(rows)
    start = len(demo.workers)  # phones: the first 1,000 people of the district differ
    order = rng.permutation(k)
    leaders = pd.DataFrame(
        {
            "external_id": [f"demo-{demo.code}-l{i:06d}" for i in range(1, k + 1)],
            "name": names.person_names(rng, k, local=demo.profile.surnames),
            "phone": [f"0044 7700 900{(start + int(r)) % 1000:03d}" for r in order],
            "roles": [r[1] for r in rows],
            "building": [r[2] for r in rows],
            "units": [r[3] for r in rows],
        }
    )
    return PartyTree(organisations, grid_leaders, leaders)


def role_names(codes: tuple[str, ...]) -> str:
    """Roles as a roster writes them: ``楼栋长、单元长``."""
    return "、".join(WORKER_ROLE_NAMES[c] for c in codes)
