"""Names, house numbers and addresses of compounds and buildings, and the finished tables.

Addresses follow 区 街道 社区 路 号 栋: the compound's number on its nearest
named road, then the building; old lane houses and village houses have a
number of their own. The buildings also get their external ids and
residents, and the units table is drawn from them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gridgis.demo import names
from gridgis.demo.areas import Areas
from gridgis.demo.profiles import DistrictProfile

IntArray = NDArray[np.int64]


def _road_numbers(
    points: NDArray[np.object_], roads: gpd.GeoDataFrame, named: NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """Nearest named road of each point and the point's house number (号) on it."""
    geoms = roads.geometry.to_numpy()[named]
    index = np.flatnonzero(named)
    tree = shapely.STRtree(geoms)
    found = tree.query_nearest(points, all_matches=False)
    nearest = np.zeros(len(points), dtype=np.int64)
    nearest[found[0]] = found[1]
    road = geoms[nearest]
    along = shapely.line_locate_point(road, points)
    ahead = shapely.line_interpolate_point(road, along + 1.0)
    here = shapely.line_interpolate_point(road, along)
    dx = shapely.get_x(ahead) - shapely.get_x(here)
    dy = shapely.get_y(ahead) - shapely.get_y(here)
    px = shapely.get_x(points) - shapely.get_x(here)
    py = shapely.get_y(points) - shapely.get_y(here)
    left = (dx * py - dy * px) > 0
    # Odd numbers on the left, even on the right, one per 30 m of road, and never two places
    # with one number: along each side, a place takes the next free number when its 30 m
    # stretch is taken (n = running max of (stretch - rank) + rank).
    stretch = np.floor(along / 30.0).astype(np.int64)
    side = np.where(left, 1, 2)
    order = np.lexsort((np.arange(len(points)), along, side, nearest))
    key = nearest[order] * 2 + side[order]
    start = np.r_[True, key[1:] != key[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(key.size), 0))
    rank = np.arange(key.size) - first
    shifted = stretch[order] - rank
    running = np.empty_like(shifted)
    starts = np.flatnonzero(start)
    for lo, hi in zip(starts, np.r_[starts[1:], key.size], strict=True):
        # One short accumulate per road side (a few hundred sides per district).
        running[lo:hi] = np.maximum.accumulate(shifted[lo:hi])
    slot = np.empty_like(stretch)
    slot[order] = running + rank
    return index[nearest], 2 * slot + side


def _finish_buildings(
    urban: pd.DataFrame,
    village: pd.DataFrame,
    comp: gpd.GeoDataFrame,
    hamlets: pd.DataFrame,
    hamlet_names: dict[tuple[str, int], str],
    roads: gpd.GeoDataFrame,
    areas: Areas,
    profile: DistrictProfile,
    communities: pd.DataFrame,
    street_names: dict[str, str],
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[str]]:
    metric = areas.crs
    road_names = roads["name"]
    named = roads["kind"].isin(["arterial", "secondary", "local", "path"]).to_numpy()
    # Compound names by their type, numbers on the nearest named road.
    comp_types = [t if t is not None else "walkup" for t in comp["type"]]
    comp_names = names.compound_names(rng, comp_types)
    use_name = {"market": "农贸市场", "school": "学校", "park": "公园", "construction": "在建工地",
                "open": "绿地"}  # fmt: skip
    comp_names = [
        n[:2] + use_name[u] if u in use_name else n
        for n, u in zip(comp_names, comp["use"], strict=True)
    ]
    # Compounds and lane houses are numbered together, so no two share a road and number.
    lane_house = np.zeros(0, dtype=bool)
    lane_points = np.zeros(0, dtype=object)
    if not urban.empty:
        lane_house = (urban["type"] == "lane").to_numpy()
        lane_points = shapely.point_on_surface(urban["geometry"].to_numpy()[lane_house])
    places = np.concatenate([comp.geometry.representative_point().to_numpy(), lane_points])
    if len(places):
        road_idx, numbers = _road_numbers(places, roads, named)
    else:
        road_idx, numbers = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_comp = len(comp)
    comp_road = road_names.to_numpy()[road_idx[:n_comp]]

    frames = []
    if not urban.empty:
        u = urban.copy()
        u["compound"] = np.asarray(comp_names, dtype=object)[u["compound_index"].to_numpy()]
        u["road"] = comp_road[u["compound_index"].to_numpy()]
        u["number"] = numbers[:n_comp][u["compound_index"].to_numpy()]
        u["seq"] = u.groupby("compound_index").cumcount() + 1
        if lane_house.any():
            u.loc[lane_house, "road"] = road_names.to_numpy()[road_idx[n_comp:]]
            u.loc[lane_house, "number"] = numbers[n_comp:]
        u["place"] = np.where(
            lane_house,
            u["road"] + u["number"].astype(str) + "号",
            u["road"] + u["number"].astype(str) + "号" + u["seq"].astype(str) + "栋",
        )
        u["name"] = np.where(lane_house, u["place"], u["compound"] + u["seq"].astype(str) + "栋")
        frames.append(u)
    if not village.empty:
        v = village.copy()
        hamlet_code = hamlets["code"].to_numpy()[v["hamlet"].to_numpy()]
        hamlet_h = hamlets["h"].to_numpy()[v["hamlet"].to_numpy()]
        v["hamlet_name"] = [
            hamlet_names[(c, h)] for c, h in zip(hamlet_code, hamlet_h, strict=True)
        ]
        v = v.sort_values(["hamlet", "rank"], kind="stable")
        v["seq"] = v.groupby("hamlet").cumcount() + 1
        short = v["community_code"].map(communities["short_name"])
        v["compound"] = short + v["hamlet_name"]
        v["place"] = v["hamlet_name"] + v["seq"].astype(str) + "号"
        v["name"] = v["place"]
        frames.append(v)
    if not frames:
        empty = gpd.GeoDataFrame(
            {c: [] for c in ["external_id", "community_code", "compound", "name", "address",
                             "type", "floors", "units", "per_floor", "households", "residents"]},
            geometry=[], crs=metric,
        )  # fmt: skip
        empty["location"] = gpd.GeoSeries([], crs=metric)
        return empty, pd.DataFrame(columns=["external_id", "number", "households"]), comp_names
    b = pd.concat(frames, ignore_index=True)
    b = b.sort_values(["community_code", "compound", "seq"], kind="stable", ignore_index=True)
    street = b["community_code"].str[:9].map(street_names)
    short = b["community_code"].map(communities["short_name"])
    b["address"] = profile.name + street + short + b["place"]
    b["external_id"] = [f"demo-{profile.code}-b{i:06d}" for i in range(1, len(b) + 1)]
    # Residents: households × household size, varied per building, held to each community's total.
    raw = b["households"].to_numpy() * profile.household_size * rng.lognormal(0, 0.12, len(b))
    total = (
        b.groupby("community_code")["households"].transform("sum").to_numpy()
        * profile.household_size
    )
    raw_sum = pd.Series(raw).groupby(b["community_code"].to_numpy()).transform("sum").to_numpy()
    b["residents"] = np.maximum(
        np.rint(raw * total / np.maximum(raw_sum, 1e-9)), b["households"]
    ).astype(np.int64)
    # Footprints on a 1 cm grid: survey precision, and no near-coincident vertices.
    footprints = gpd.GeoSeries(
        shapely.transform(b["geometry"].to_numpy(), lambda xy: np.round(xy, 2)), crs=metric
    )
    buildings = gpd.GeoDataFrame(
        b[["external_id", "community_code", "compound", "name", "address", "type", "floors",
           "units", "per_floor", "households", "residents"]].reset_index(drop=True),
        geometry=footprints.to_numpy(), crs=metric,
    )  # fmt: skip
    buildings["location"] = gpd.GeoSeries(
        shapely.point_on_surface(footprints.to_numpy()), crs=metric
    )
    unit_counts = buildings["units"].to_numpy()
    units = pd.DataFrame(
        {
            "external_id": np.repeat(buildings["external_id"].to_numpy(), unit_counts),
            "number": np.concatenate([np.arange(1, n + 1) for n in unit_counts])
            if len(unit_counts)
            else np.zeros(0, dtype=np.int64),
            "households": np.repeat(
                (buildings["floors"] * buildings["per_floor"]).to_numpy(), unit_counts
            ),
        }
    )
    return buildings, units, comp_names
