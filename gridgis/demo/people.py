"""Grid workers, party branches and party-mass service facilities of a demo district.

* Grid workers (网格员): one per cell (一格一员), except about 3 % of cells
  left uncovered; a worker of a small rural cell below the minimum often also
  serves the next cell of the same village. Urban workers are mostly
  full-time (专职), rural ones mostly part-time (兼职).
* Party branches (网格党支部): about 88 % of cells have one, at a building of
  the cell; some rural branches serve two cells. Members are about 3 % of the
  cell's residents (3–80).
* Service facilities: one party-mass service centre (党群服务中心) per street
  office, and a station (党群服务站) in about half of the communities (more
  often urban ones), each at a building near the households' centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.demo import names
from gridgis.demo.profiles import DistrictProfile

__all__ = ["People", "build_people"]

UNCOVERED_SHARE = 0.03
BRANCH_SHARE = 0.88


@dataclass
class People:
    """Workers, branches and facilities (points in the district's metric CRS).

    Attributes
    ----------
    workers:
        ``external_id``, ``name``, ``phone``, ``employment``, ``street_code``,
        ``cell_code`` (the worker's main cell).
    worker_cells:
        ``worker``, ``cell_code``: every cell a worker serves.
    branches:
        ``external_id``, ``name``, ``community_code``, ``member_count``, geometry.
    branch_cells:
        ``branch``, ``cell_code``.
    facilities:
        ``external_id``, ``name``, ``kind`` (``centre``/``station``),
        ``street_code``, ``community_code``, geometry.
    """

    workers: pd.DataFrame
    worker_cells: pd.DataFrame
    branches: gpd.GeoDataFrame
    branch_cells: pd.DataFrame
    facilities: gpd.GeoDataFrame


def _anchor(homes: pd.DataFrame, fallback: shapely.Point) -> shapely.Point:
    """The home nearest the households' centre (``fallback`` when there are none)."""
    weights = homes["households"].to_numpy(dtype=float)
    if len(homes) == 0 or weights.sum() <= 0:
        return fallback
    points = np.asarray(homes["location"].array, dtype=object)
    x, y = shapely.get_x(points), shapely.get_y(points)
    cx, cy = np.average(x, weights=weights), np.average(y, weights=weights)
    i = int(np.argmin(np.hypot(x - cx, y - cy)))
    return shapely.Point(x[i], y[i])


def build_people(
    cells: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    profile: DistrictProfile,
    *,
    rng: np.random.Generator,
) -> People:
    """Workers, branches and facilities for the cells of a district.

    Parameters
    ----------
    cells:
        ``code``, ``community_code``, ``households``, ``residents``, ``flags``,
        geometry (metric).
    buildings:
        ``community_code``, ``households``, ``location`` (metric points).
    streets, communities:
        The divisions (``code``, ``name``; communities also ``short_name``,
        ``kind``, ``street_code``, geometry), metric.
    profile:
        The district's figures.
    rng:
        The random generator.
    """
    crs = cells.crs
    cells = cells.sort_values("code", ignore_index=True)
    kinds = dict(zip(communities["code"], communities["kind"], strict=True))
    kind = cells["community_code"].map(kinds)
    rural = (kind == "village").to_numpy()
    n = len(cells)
    covered = rng.random(n) >= UNCOVERED_SHARE
    if n >= 20 and covered.all():
        covered[int(rng.integers(n))] = False
    # A small rural cell often shares the worker of the cell before it in the same village.
    small = np.asarray(["below_min" in f for f in cells["flags"]], dtype=bool) & rural
    same_as_previous = np.zeros(n, dtype=bool)
    same_as_previous[1:] = (
        small[1:]
        & (cells["community_code"].to_numpy()[1:] == cells["community_code"].to_numpy()[:-1])
        & covered[:-1]
        & (rng.random(n - 1) < 0.5)
    )
    own_worker = covered & ~same_as_previous
    worker_index = np.cumsum(own_worker) - 1
    # Cells sharing: the worker of the previous cell (a short forward fill).
    shared_from = np.where(own_worker, worker_index, -1)
    for i in np.flatnonzero(same_as_previous):
        shared_from[i] = shared_from[i - 1]
    n_workers = int(own_worker.sum())
    worker_ids = [f"demo-{profile.code}-w{i:05d}" for i in range(1, n_workers + 1)]
    employment = np.where(
        rng.random(n_workers) < np.where(rural[own_worker], 0.45, 0.85), "full_time", "part_time"
    )
    workers = pd.DataFrame(
        {
            "external_id": worker_ids,
            "name": names.person_names(rng, n_workers, local=profile.surnames),
            "phone": names.phone_numbers(rng, n_workers),
            "employment": employment,
            "street_code": cells["community_code"].str[:9].to_numpy()[own_worker],
            "cell_code": cells["code"].to_numpy()[own_worker],
        }
    )
    served = shared_from >= 0
    worker_cells = pd.DataFrame(
        {
            "worker": np.asarray(worker_ids, dtype=object)[shared_from[served]],
            "cell_code": cells["code"].to_numpy()[served],
        }
    )

    # Party branches: most cells; a rural branch sometimes serves the next cell too.
    has_branch = rng.random(n) < BRANCH_SHARE
    joins_previous = np.zeros(n, dtype=bool)
    joins_previous[1:] = (
        rural[1:]
        & has_branch[:-1]
        & (cells["community_code"].to_numpy()[1:] == cells["community_code"].to_numpy()[:-1])
        & (rng.random(n - 1) < 0.2)
    )
    own_branch = has_branch & ~joins_previous
    branch_of = np.where(own_branch, np.cumsum(own_branch) - 1, -1)
    for i in np.flatnonzero(joins_previous):
        branch_of[i] = branch_of[i - 1]
    n_branches = int(own_branch.sum())
    branch_ids = [f"demo-{profile.code}-p{i:05d}" for i in range(1, n_branches + 1)]
    short = dict(zip(communities["code"], communities["short_name"], strict=True))
    seq = cells.groupby("community_code").cumcount().to_numpy() + 1
    branch_cells_idx = np.flatnonzero(own_branch)
    residents = cells["residents"].to_numpy(dtype=float)
    member_count = np.clip(np.rint(residents * 0.03 * rng.uniform(0.6, 1.4, n)), 3, 80)
    # A branch sits at a residential building of its cell, else inside the cell.
    located = gpd.sjoin(
        gpd.GeoDataFrame(
            {"households": buildings["households"].to_numpy()},
            geometry=buildings["location"].to_numpy(),
            crs=crs,
        ),
        cells[["code", "geometry"]],
        predicate="within",
    )
    located = located[located["households"] > 0]
    pick = (
        located.assign(r=rng.random(len(located)))
        .sort_values(["code", "r"], kind="stable")
        .drop_duplicates("code")
    )
    spot = dict(zip(pick["code"], pick.geometry, strict=True))
    fallback = shapely.point_on_surface(cells.geometry.to_numpy())
    branch_geoms = [spot.get(cells["code"].iat[i], fallback[i]) for i in branch_cells_idx]
    branches = gpd.GeoDataFrame(
        {
            "external_id": branch_ids,
            "name": [
                f"{short[cells['community_code'].iat[i]]}第{seq[i]}网格党支部"
                for i in branch_cells_idx
            ],
            "community_code": cells["community_code"].to_numpy()[branch_cells_idx],
            "member_count": member_count[branch_cells_idx].astype(np.int64),
        },
        geometry=branch_geoms,
        crs=crs,
    )
    with_branch = branch_of >= 0
    branch_cells = pd.DataFrame(
        {
            "branch": np.asarray(branch_ids, dtype=object)[branch_of[with_branch]],
            "cell_code": cells["code"].to_numpy()[with_branch],
        }
    )

    # Facilities: a centre per street office, stations in about half the communities (loops
    # over the few dozen street offices and a few hundred communities).
    rows = []
    homes = buildings[buildings["households"] > 0]
    for street_code, street_name, geom in zip(
        streets["code"], streets["name"], streets.geometry, strict=True
    ):
        mine = homes[homes["community_code"].str[:9] == street_code]
        at = _anchor(mine, geom.representative_point())
        rows.append((f"{street_name}党群服务中心", "centre", street_code, None, at))
    station_p = np.where(communities["kind"].to_numpy() == "village", 0.4, 0.65)
    wants_station = rng.random(len(communities)) < station_p
    for code, short_name, geom, wanted in zip(
        communities["code"],
        communities["short_name"],
        communities.geometry,
        wants_station,
        strict=True,
    ):
        if not wanted:
            continue
        mine = homes[homes["community_code"] == code]
        at = _anchor(mine, geom.representative_point())
        rows.append((f"{short_name}党群服务站", "station", code[:9], code, at))
    facilities = gpd.GeoDataFrame(
        {
            "external_id": [f"demo-{profile.code}-f{i:04d}" for i in range(1, len(rows) + 1)],
            "name": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "street_code": [r[2] for r in rows],
            "community_code": [r[3] for r in rows],
        },
        geometry=[r[4] for r in rows],
        crs=crs,
    )
    return People(workers, worker_cells, branches, branch_cells, facilities)
