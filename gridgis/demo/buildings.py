"""Compounds (小区), buildings with footprints, units and addresses, and the places cases gather.

How
---
Urban communities get lanes (a rotated street grid of 110–150 m inside the
community, along the core's grid where they are in the core); what the roads
and a 3 m margin along the community's edge leave free are the compounds.
A few compounds are markets, schools, parks or construction sites; the others
are residential, each of one type:

=========  ==========================  =====  ===============  ===========
type       building                    units  households/floor floors
=========  ==========================  =====  ===============  ===========
lane       old low-rise house, 10×8 m  1      1                2–4
walkup     6-storey walk-up slab       2–4    2                5–7
midrise    slab tower                  1–2    2–4              11–18
tower      point tower                 1–2    3–6              26–33
dorm       dormitory (development zone) 2     6                6–12
village    village house, 12×10 m      1      1                2–5
=========  ==========================  =====  ===============  ===========

Old lanes and walk-ups dominate near the centre, towers farther out.
Footprints stand on a lattice aligned with the compound (spacing leaves the
sunlight gaps of each type), entirely inside the compound, so they never
touch a road, another footprint or the community's edge. Households are
units × households per floor × floors. Compounds are filled in random order
until the community's household target is reached (the last one partly);
when the free land cannot hold the target, compounds are rebuilt with the
next denser type. Village houses stand in two to five hamlets (自然村) per
village, nearest the hamlet centre first.

Addresses follow 区 街道 社区 路 号 栋: the compound's number on its nearest
named road, then the building; old lane houses and village houses have a
number of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis.demo import names
from gridgis.demo.addresses import _finish_buildings
from gridgis.demo.areas import Areas
from gridgis.demo.building_types import (
    _DENSER,
    _SPARSER,
    BUILDING_TYPES,
    BuildingType,
    _draw_attributes,
    _urban_types,
)
from gridgis.demo.compounds import _EDGE, _HALF_WIDTH, _free_land, _lane_grid
from gridgis.demo.footprints import _orientation, _slots
from gridgis.demo.hotspots import _hotspots
from gridgis.demo.profiles import DistrictProfile

__all__ = ["BUILDING_TYPES", "BuildingType", "Housing", "build_housing"]


@dataclass
class Housing:
    """Where people live, in the district's metric CRS.

    Attributes
    ----------
    compounds:
        ``compound`` (name), ``community_code``, ``use`` (``residential``,
        ``commercial``, ``market``, ``school``, ``park``, ``construction``,
        ``open``), ``type`` (the
        building type of residential compounds), geometry.
    buildings:
        ``external_id``, ``community_code``, ``compound``, ``name``,
        ``address``, ``type``, ``floors``, ``units``, ``per_floor``,
        ``households``, ``residents``, ``location`` (a point on the
        footprint), geometry (the footprint).
    units:
        ``external_id`` of the building, ``number`` (1…), ``households``.
    lanes:
        Roads added inside communities: ``name``, ``kind``, geometry.
    hotspots:
        Where cases gather: ``kind`` (``market``, ``school``,
        ``construction``, ``old_compound``, ``plaza``), ``name``,
        ``community_code``, ``weight``, geometry (point).
    shortfall:
        Households a community could not house (its code → households), empty
        when every target was met.
    """

    compounds: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: pd.DataFrame
    lanes: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    shortfall: dict[str, int]


_HAMLET_QUALIFIERS = ("东", "西", "南", "北", "上", "下", "前", "后", "新", "大", "小")
"""Prefixes that tell apart hamlets of one village drawn with the same name."""


def build_housing(
    areas: Areas,
    profile: DistrictProfile,
    households: pd.Series,
    *,
    rng: np.random.Generator,
) -> Housing:
    """Compounds, buildings, units, lanes and case hotspots for every community.

    Parameters
    ----------
    areas:
        The district's geography (:func:`gridgis.demo.areas.build_areas`).
    profile:
        The district's figures.
    households:
        Households to house per community code (already scaled).
    rng:
        The random generator.
    """
    metric = areas.crs
    communities = areas.communities.set_index("code")
    street_names = dict(zip(areas.streets["code"], areas.streets["name"], strict=True))
    core_radius = math.sqrt(max(areas.core.area, 1e6) / math.pi)

    # Lanes of urban communities, then the land free of every road.
    lane_geoms: list[BaseGeometry] = []
    lane_owner: list[str] = []
    village_codes = communities.index[communities["kind"] == "village"].tolist()
    urban_codes = communities.index[communities["kind"] != "village"].tolist()
    # One community at a time: a few hundred, each done with array operations.
    for code in urban_codes:
        row = communities.loc[code]
        angle = areas.grid_angle if row["core"] > 0.5 else float(rng.uniform(0, math.pi))
        spacing = float(rng.uniform(110.0, 150.0))
        lanes = _lane_grid(row.geometry, spacing, angle, rng)
        lane_geoms += lanes
        lane_owner += [code] * len(lanes)

    # Hamlets of villages: centres, radius, and two lanes through each (a loop over the
    # villages: each draws its hamlet centres apart from one another).
    hamlet_rows = []
    for code in village_codes:
        row = communities.loc[code]
        house_count = max(int(households.get(code, 0)) / 3.3, 1.0)
        n_hamlets = int(np.clip(round(house_count / 90.0), 1, 5))
        inner = row.geometry.buffer(-150.0)
        if inner.is_empty:
            inner = row.geometry.buffer(-20.0)
        if inner.is_empty:
            inner = row.geometry
        x0, y0, x1, y1 = inner.bounds
        cand_x = rng.uniform(x0, x1, 200)
        cand_y = rng.uniform(y0, y1, 200)
        ok = shapely.contains_xy(inner, cand_x, cand_y)
        cand = np.column_stack([cand_x[ok], cand_y[ok]])
        if len(cand) == 0:
            rp = inner.representative_point()
            cand = np.array([[rp.x, rp.y]])
        chosen = [cand[0]]
        for point in cand[1:]:
            if len(chosen) >= n_hamlets:
                break
            if min(math.hypot(*(point - c)) for c in chosen) > 350.0:
                chosen.append(point)
        per_hamlet = house_count / len(chosen)
        # Room for about 2.5 times the houses: lanes and the village edge take their share.
        radius = math.sqrt(per_hamlet * 20.0 * 18.0 * 2.5 / math.pi) + 30.0
        for h, (hx, hy) in enumerate(chosen):
            angle = float(rng.uniform(0, math.pi))
            hamlet_rows.append((code, h, hx, hy, radius, angle))
            for turn in (0.0, math.pi / 2):
                dx, dy = (
                    math.cos(angle + turn) * radius * 1.3,
                    math.sin(angle + turn) * radius * 1.3,
                )
                lane = shapely.LineString([(hx - dx, hy - dy), (hx + dx, hy + dy)]).intersection(
                    row.geometry
                )
                if not lane.is_empty:
                    lane_geoms.append(lane)
                    lane_owner.append(code)
    lane_kinds = ["local" if communities.at[c, "kind"] != "village" else "path" for c in lane_owner]
    lanes = gpd.GeoDataFrame(
        {
            "name": names.road_names(rng, lane_kinds),
            "kind": lane_kinds,
            "community_code": lane_owner,
        },
        geometry=lane_geoms,
        crs=metric,
    )
    all_roads = pd.concat(
        [areas.roads[["name", "kind", "geometry"]], lanes[["name", "kind", "geometry"]]],
        ignore_index=True,
    )
    all_roads = gpd.GeoDataFrame(all_roads, geometry="geometry", crs=metric)
    road_tree = shapely.STRtree(all_roads.geometry.to_numpy())

    # Compounds of urban communities: one overlay per community (its roads buffered and
    # cut out), a few hundred in all.
    comp_geoms: list[BaseGeometry] = []
    comp_owner: list[str] = []
    for code in urban_codes:
        parts = _free_land(communities.at[code, "geometry"], all_roads, road_tree)
        comp_geoms += parts
        comp_owner += [code] * len(parts)
    comp = gpd.GeoDataFrame({"community_code": comp_owner}, geometry=comp_geoms, crs=metric)
    comp["area"] = comp.area
    centroid = comp.geometry.centroid
    comp["distance"] = centroid.distance(areas.centre).to_numpy()
    kind_of = communities["kind"]
    is_town = (
        communities["street_code"]
        .map(dict(zip(areas.streets["code"], areas.streets["kind"], strict=True)))
        .isin(["town", "township", "zone"])
    )
    comp["use"] = "residential"
    # Non-residential compounds: per community a market, schools by residents, parks and sites.
    uses = comp["use"].to_numpy(dtype=object).copy()
    order_rng = rng.permutation(len(comp))
    by_comm = pd.Series(np.arange(len(comp))[order_rng]).groupby(
        comp["community_code"].to_numpy()[order_rng]
    )
    for code, members in by_comm:
        idx = members.to_numpy()
        if len(idx) < 4:
            continue
        people = float(communities.at[code, "residents"])
        wanted_uses = ["market"] if kind_of[code] != "virtual" else []
        wanted_uses += ["school"] * int(min(round(people / 7_000.0), len(idx) // 6))
        wanted_uses += ["park"] * int(rng.random() < 0.4)
        wanted_uses += ["construction"] * int(rng.random() < 0.35)
        n_take = min(len(wanted_uses), max(len(idx) // 4, 1))
        big_first = idx[np.argsort(-comp["area"].to_numpy()[idx], kind="stable")]
        # Schools and markets on the larger compounds, in random order among the largest half.
        pool = big_first[: max(len(big_first) // 2, n_take)]
        pick = rng.permutation(pool)[:n_take]
        uses[pick] = wanted_uses[:n_take]
    comp["use"] = uses
    resid = (comp["use"] == "residential").to_numpy()
    types = np.full(len(comp), None, dtype=object)
    types[resid] = _urban_types(
        comp["distance"].to_numpy()[resid],
        core_radius,
        comp["community_code"].map(is_town).to_numpy(dtype=bool)[resid],
        rng,
    )
    virtual = comp["community_code"].map(kind_of).to_numpy() == "virtual"
    types[resid & virtual] = "dorm"
    comp["type"] = types
    comp["angle"] = _orientation(comp.geometry.to_numpy()) if len(comp) else np.zeros(0)
    comp["fill_order"] = rng.permutation(len(comp))

    # Urban buildings: slots per residential compound, filled to each community's target.
    # Each round re-draws the communities whose land holds far too few or far too many
    # households for their target with denser or sparser types.
    shortfall: dict[str, int] = {}
    chosen_frames: list[pd.DataFrame] = []
    pending = set(urban_codes)
    last = 6
    for round_ in range(last + 1):
        if not pending:
            break
        sel = np.flatnonzero(resid & comp["community_code"].isin(pending).to_numpy())
        owner, footprints, units = _slots(
            comp.geometry.to_numpy()[sel], comp["type"].to_numpy()[sel],
            comp["angle"].to_numpy()[sel], rng,
        )  # fmt: skip
        owner = sel[owner]
        btypes = comp["type"].to_numpy()[owner]
        floors, per_floor = _draw_attributes(btypes, units, rng, dense=round_ >= last - 1)
        slots = pd.DataFrame(
            {
                "compound_index": owner,
                "community_code": comp["community_code"].to_numpy()[owner],
                "fill_order": comp["fill_order"].to_numpy()[owner],
                "type": btypes,
                "units": units,
                "floors": floors,
                "per_floor": per_floor,
                "geometry": footprints,
            }
        )
        slots["households"] = slots["units"] * slots["floors"] * slots["per_floor"]
        slots = slots.sort_values(["community_code", "fill_order"], kind="stable")
        slots["cum"] = slots.groupby("community_code")["households"].cumsum()
        target = slots["community_code"].map(households).fillna(0).to_numpy()
        before = slots["cum"].to_numpy() - slots["households"].to_numpy()
        # Take buildings while the total stays nearer the target than without them.
        take = before + slots["households"].to_numpy() / 2.0 < target
        capacity = slots.groupby("community_code")["households"].sum()
        wanted = {c: int(households.get(c, 0)) for c in pending}
        short = {c for c in pending if capacity.get(c, 0) < wanted[c]}
        resid_types = comp.loc[resid & comp["community_code"].isin(pending).to_numpy()]
        sparse_ok = resid_types.groupby("community_code")["type"].agg(
            lambda t: bool(t.isin(["tower", "midrise", "dorm"]).any())
        )
        excess = {
            c for c in pending - short
            if capacity.get(c, 0) > 1.6 * wanted[c] and round_ < 4 and sparse_ok.get(c, False)
        }  # fmt: skip
        done = pending - short - excess
        chosen_frames.append(slots[take & slots["community_code"].isin(done).to_numpy()])
        if round_ == last:
            chosen_frames.append(slots[slots["community_code"].isin(short).to_numpy()])
            for c in sorted(short):
                shortfall[c] = wanted[c] - int(capacity.get(c, 0))
            break
        codes = comp["community_code"].to_numpy()
        up = resid & np.isin(codes, list(short))
        comp.loc[up, "type"] = comp.loc[up, "type"].map(lambda t: _DENSER.get(t, t))
        if round_ >= 2:
            # Towers everywhere are not enough: parks, schools and sites become housing too.
            spare = ~resid & np.isin(codes, list(short)) & (comp["use"] != "market").to_numpy()
            comp.loc[spare, "use"] = "residential"
            comp.loc[spare, "type"] = "tower"
            resid = resid | spare
        down = resid & np.isin(codes, list(excess)) & (rng.random(len(comp)) < 0.5)
        comp.loc[down, "type"] = comp.loc[down, "type"].map(lambda t: _SPARSER.get(t, t))
        pending = short | excess
    urban = pd.concat(chosen_frames, ignore_index=True) if chosen_frames else pd.DataFrame()
    # Residential compounds left empty: in town and city centres about half become shops and
    # offices (buildings without households), the others stay open land.
    filled = np.zeros(len(comp), dtype=bool)
    if not urban.empty:
        filled[urban["compound_index"].to_numpy()] = True
    left = resid & ~filled
    comp.loc[left, "use"] = "open"
    comp.loc[left, "type"] = None
    central = comp["distance"].to_numpy() < 1.5 * core_radius
    central |= comp["community_code"].map(is_town).to_numpy(dtype=bool)
    empty = left & central & (rng.random(len(comp)) < 0.5)
    comp.loc[empty, "use"] = "commercial"
    comp.loc[empty, "type"] = "commercial"
    sel = np.flatnonzero(empty)
    if sel.size:
        owner, footprints, units = _slots(
            comp.geometry.to_numpy()[sel], comp["type"].to_numpy()[sel],
            comp["angle"].to_numpy()[sel], rng,
        )  # fmt: skip
        owner = sel[owner]
        commercial = pd.DataFrame(
            {
                "compound_index": owner,
                "community_code": comp["community_code"].to_numpy()[owner],
                "fill_order": comp["fill_order"].to_numpy()[owner],
                "type": "commercial",
                "units": 0,
                "floors": rng.choice([2, 3, 4, 5, 8, 12, 18, 24], len(owner)),
                "per_floor": 0,
                "geometry": footprints,
                "households": 0,
            }
        )
        urban = pd.concat([urban, commercial], ignore_index=True)

    # Village houses around hamlet centres.
    village_frames = []
    hamlet_names: dict[tuple[str, int], str] = {}
    if hamlet_rows:
        ham = pd.DataFrame(hamlet_rows, columns=["code", "h", "x", "y", "radius", "angle"])
        words = names.word_pool(rng, len(ham))
        suffixes = profile.hamlet_suffixes
        taken: set[tuple[str, str]] = set()
        for (code, h), word in zip(zip(ham["code"], ham["h"], strict=True), words, strict=True):
            name = word[0] + suffixes[int(rng.integers(len(suffixes)))]
            # Hamlets of one village never share a name (their houses would share addresses):
            # a second 瑶厝 becomes 东瑶厝, then 西瑶厝 ...
            for qualifier in ("", *_HAMLET_QUALIFIERS):
                if (code, qualifier + name) not in taken:
                    name = qualifier + name
                    break
            else:
                name = f"{name}{h + 1}"
            taken.add((code, name))
            hamlet_names[(code, h)] = name
        discs = shapely.buffer(shapely.points(ham["x"], ham["y"]), ham["radius"] * 1.25)
        village_geoms = communities.loc[ham["code"], "geometry"].to_numpy()
        land = []
        # One hamlet at a time: free land of its village within its disc (a few hundred).
        for disc, village in zip(discs, village_geoms, strict=True):
            free = shapely.intersection(disc, village.buffer(-_EDGE))
            near = road_tree.query(free, predicate="intersects")
            if near.size:
                widths = all_roads["kind"].map(_HALF_WIDTH).fillna(3.0).to_numpy()[near] + 2.0
                free = free.difference(
                    shapely.union_all(
                        shapely.buffer(all_roads.geometry.to_numpy()[near], widths, quad_segs=2)
                    )
                )
            land.append(free)
        land_arr = np.asarray(land, dtype=object)
        owner, footprints, units = _slots(
            land_arr, np.full(len(ham), "village", dtype=object), ham["angle"].to_numpy(), rng,
            jitter=1.5,
        )  # fmt: skip
        floors, per_floor = _draw_attributes(
            np.full(len(owner), "village", dtype=object), units, rng
        )
        cx, cy = (
            shapely.get_x(shapely.centroid(footprints)),
            shapely.get_y(shapely.centroid(footprints)),
        )
        dist = np.hypot(cx - ham["x"].to_numpy()[owner], cy - ham["y"].to_numpy()[owner])
        houses = pd.DataFrame(
            {
                "hamlet": owner,
                "community_code": ham["code"].to_numpy()[owner],
                "type": "village",
                "units": units,
                "floors": floors,
                "per_floor": per_floor,
                "geometry": footprints,
                "rank": dist * rng.uniform(0.8, 1.2, len(owner)),
            }
        )
        houses["households"] = houses["units"] * houses["floors"] * houses["per_floor"]
        # Fill hamlets evenly: interleave them by distance rank within each hamlet.
        houses["order"] = houses.groupby("hamlet")["rank"].rank(method="first")
        houses = houses.sort_values(["community_code", "order", "hamlet"], kind="stable")
        houses["cum"] = houses.groupby("community_code")["households"].cumsum()
        target = houses["community_code"].map(households).fillna(0).to_numpy()
        before = houses["cum"].to_numpy() - houses["households"].to_numpy()
        take = before + houses["households"].to_numpy() / 2.0 < target
        village_frames.append(houses[take])
        capacity = houses.groupby("community_code")["households"].sum()
        for code in village_codes:
            missing = int(households.get(code, 0)) - int(capacity.get(code, 0))
            if missing > 0:
                shortfall[code] = missing
        hamlets = ham
    else:
        hamlets = pd.DataFrame(columns=["code", "h", "x", "y", "radius", "angle"])

    buildings, units_frame, comp_names = _finish_buildings(
        urban, pd.concat(village_frames, ignore_index=True) if village_frames else pd.DataFrame(),
        comp, hamlets, hamlet_names, all_roads, areas, profile, communities, street_names, rng,
    )  # fmt: skip
    comp["compound"] = comp_names
    hotspots = _hotspots(comp, hamlets, hamlet_names, communities, metric)
    return Housing(
        compounds=gpd.GeoDataFrame(
            comp[["compound", "community_code", "use", "type", "geometry"]],
            geometry="geometry",
            crs=metric,
        ),
        buildings=buildings,
        units=units_frame,
        lanes=gpd.GeoDataFrame(
            lanes[["name", "kind", "geometry"]], geometry="geometry", crs=metric
        ),
        hotspots=hotspots,
        shortfall=shortfall,
    )
