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
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgis.demo import names
from gridgis.demo.areas import Areas
from gridgis.demo.profiles import DistrictProfile

__all__ = ["BUILDING_TYPES", "BuildingType", "Housing", "build_housing"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class BuildingType:
    """A residential building type: footprint, lattice spacing, units, floors."""

    name: str
    unit_length: float
    depth: float
    gap_x: float
    gap_y: float
    units: tuple[int, int]
    per_floor: tuple[int, int]
    floors: tuple[int, int]


BUILDING_TYPES: dict[str, BuildingType] = {
    t.name: t
    for t in (
        BuildingType("lane", 10.0, 8.0, 4.0, 4.0, (1, 1), (1, 1), (2, 4)),
        BuildingType("walkup", 16.0, 12.0, 10.0, 22.0, (2, 4), (2, 2), (5, 7)),
        BuildingType("midrise", 20.0, 16.0, 16.0, 36.0, (1, 2), (2, 4), (11, 18)),
        BuildingType("tower", 24.0, 22.0, 22.0, 50.0, (1, 2), (3, 6), (26, 33)),
        BuildingType("dorm", 24.0, 14.0, 14.0, 24.0, (2, 2), (6, 6), (6, 12)),
        BuildingType("village", 12.0, 10.0, 8.0, 8.0, (1, 1), (1, 1), (2, 5)),
        BuildingType("commercial", 30.0, 20.0, 18.0, 24.0, (1, 1), (0, 0), (2, 24)),
    )
}
"""The residential building types (see the module docstring)."""

_DENSER = {"lane": "walkup", "walkup": "midrise", "midrise": "tower", "dorm": "midrise"}
_SPARSER = {"tower": "midrise", "midrise": "walkup", "dorm": "walkup"}
_HALF_WIDTH = {"arterial": 18.0, "secondary": 11.0, "local": 6.0, "path": 3.5,
               "railway": 14.0, "river": 22.0, "wall": 1.0, "other": 3.0}  # fmt: skip
_EDGE = 3.0
_MIN_COMPOUND_M2 = 1_200.0


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


# --- lanes and compounds ------------------------------------------------------------------------


_HAMLET_QUALIFIERS = ("东", "西", "南", "北", "上", "下", "前", "后", "新", "大", "小")
"""Prefixes that tell apart hamlets of one village drawn with the same name."""


def _lane_grid(
    polygon: BaseGeometry, spacing: float, angle: float, rng: np.random.Generator
) -> list[BaseGeometry]:
    """Straight lanes every ``spacing`` metres across ``polygon`` at ``angle``, clipped."""
    c = polygon.centroid
    half = (
        math.hypot(polygon.bounds[2] - polygon.bounds[0], polygon.bounds[3] - polygon.bounds[1]) / 2
    )
    offsets = np.arange(-half, half + spacing, spacing) + rng.uniform(0, spacing)
    ca, sa = math.cos(angle), math.sin(angle)
    lines: list[NDArray[np.object_]] = []
    low, high = np.full(len(offsets), -half), np.full(len(offsets), half)
    for family in (0, 1):
        if family == 0:
            x0, y0, x1, y1 = offsets, low, offsets, high
        else:
            x0, y0, x1, y1 = low, offsets, high, offsets
        coords = np.stack(
            [
                np.column_stack([ca * x0 - sa * y0 + c.x, sa * x0 + ca * y0 + c.y]),
                np.column_stack([ca * x1 - sa * y1 + c.x, sa * x1 + ca * y1 + c.y]),
            ],
            axis=1,
        )
        lines.append(np.asarray(shapely.linestrings(coords), dtype=object))
    clipped = shapely.intersection(np.concatenate(lines), polygon)
    return [g for g in clipped if not g.is_empty and g.length > 40.0]


def _free_land(
    polygon: BaseGeometry, roads: gpd.GeoDataFrame, tree: shapely.STRtree
) -> list[BaseGeometry]:
    """The parts of ``polygon`` clear of roads (by their half width) and of its edge."""
    inner: BaseGeometry = polygon.buffer(-_EDGE)
    near = tree.query(polygon, predicate="intersects")
    if near.size:
        widths = roads["kind"].map(_HALF_WIDTH).fillna(3.0).to_numpy()[near] + 2.0
        cover = shapely.union_all(
            shapely.buffer(roads.geometry.to_numpy()[near], widths, quad_segs=2)
        )
        inner = inner.difference(cover)
    parts = shapely.get_parts(inner)
    parts = parts[shapely.area(parts) >= _MIN_COMPOUND_M2]
    return parts.tolist()


# --- slots: footprints on a lattice -------------------------------------------------------------


def _orientation(polygons: NDArray[np.object_]) -> FloatArray:
    rect = shapely.minimum_rotated_rectangle(polygons)
    coords = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(len(polygons), 5, 2)
    d1 = coords[:, 1] - coords[:, 0]
    d2 = coords[:, 2] - coords[:, 1]
    long_side = np.where(
        (np.hypot(d1[:, 0], d1[:, 1]) >= np.hypot(d2[:, 0], d2[:, 1]))[:, None], d1, d2
    )
    return np.arctan2(long_side[:, 1], long_side[:, 0])


def _slots(
    polygons: NDArray[np.object_],
    types: NDArray[np.object_],
    angles: FloatArray,
    rng: np.random.Generator,
    *,
    jitter: float = 0.0,
) -> tuple[IntArray, NDArray[np.object_], IntArray]:
    """Footprints of each polygon's type on a lattice inside it.

    Returns the polygon index of each footprint, the footprints (largest
    possible for the type) and their units.
    """
    n = len(polygons)
    spec = [BUILDING_TYPES[t] for t in types]
    units = np.asarray([rng.integers(s.units[0], s.units[1] + 1) for s in spec])
    length = np.asarray([s.unit_length for s in spec]) * units
    depth = np.asarray([s.depth for s in spec])
    dx = length + np.asarray([s.gap_x for s in spec])
    dy = depth + np.asarray([s.gap_y for s in spec])
    centroid = shapely.centroid(polygons)
    cx, cy = shapely.get_x(centroid), shapely.get_y(centroid)
    ca, sa = np.cos(angles), np.sin(angles)
    coords = shapely.get_coordinates(polygons, return_index=True)
    pts, owner = coords
    u = (pts[:, 0] - cx[owner]) * ca[owner] + (pts[:, 1] - cy[owner]) * sa[owner]
    v = -(pts[:, 0] - cx[owner]) * sa[owner] + (pts[:, 1] - cy[owner]) * ca[owner]
    umin = np.full(n, np.inf)
    umax = np.full(n, -np.inf)
    vmin = np.full(n, np.inf)
    vmax = np.full(n, -np.inf)
    np.minimum.at(umin, owner, u)
    np.maximum.at(umax, owner, u)
    np.minimum.at(vmin, owner, v)
    np.maximum.at(vmax, owner, v)
    nx = np.maximum(np.floor((umax - umin - length) / dx).astype(np.int64) + 1, 0)
    ny = np.maximum(np.floor((vmax - vmin - depth) / dy).astype(np.int64) + 1, 0)
    count = nx * ny
    idx = np.repeat(np.arange(n), count)
    if idx.size == 0:
        return idx, np.empty(0, dtype=object), idx
    start = np.cumsum(count) - count
    k = np.arange(idx.size) - start[idx]
    col, row = k % nx[idx], k // nx[idx]
    # Centre the lattice in the polygon's box.
    u0 = (umin + umax) / 2 - (nx - 1) * dx / 2
    v0 = (vmin + vmax) / 2 - (ny - 1) * dy / 2
    uc = u0[idx] + col * dx[idx] + rng.uniform(-jitter, jitter, idx.size)
    vc = v0[idx] + row * dy[idx] + rng.uniform(-jitter, jitter, idx.size)
    hl, hd = length[idx] / 2, depth[idx] / 2
    corners_u = np.stack([uc - hl, uc + hl, uc + hl, uc - hl, uc - hl], axis=1)
    corners_v = np.stack([vc - hd, vc - hd, vc + hd, vc + hd, vc - hd], axis=1)
    a_c, a_s = ca[idx][:, None], sa[idx][:, None]
    x = corners_u * a_c - corners_v * a_s + cx[idx][:, None]
    y = corners_u * a_s + corners_v * a_c + cy[idx][:, None]
    footprints = np.asarray(shapely.polygons(np.stack([x, y], axis=2)), dtype=object)
    shapely.prepare(polygons)
    inside = shapely.contains(polygons[idx], footprints)
    return idx[inside], footprints[inside], units[idx][inside]


def _draw_attributes(
    types: NDArray[np.object_], units: IntArray, rng: np.random.Generator, *, dense: bool = False
) -> tuple[IntArray, IntArray]:
    """Floors and households per floor for buildings of the given types."""
    floors = np.empty(len(types), dtype=np.int64)
    per_floor = np.empty(len(types), dtype=np.int64)
    for name, spec in BUILDING_TYPES.items():
        mask = types == name
        if not mask.any():
            continue
        lo, hi = spec.floors
        if name == "walkup":
            floors[mask] = rng.choice([5, 6, 6, 6, 7], mask.sum())
        elif name == "village":
            floors[mask] = rng.choice([2, 3, 3, 4, 4, 5], mask.sum())
        else:
            floors[mask] = rng.integers(hi if dense else lo, hi + 1, mask.sum())
        p_lo, p_hi = spec.per_floor
        per_floor[mask] = rng.integers(p_hi if dense else p_lo, p_hi + 1, mask.sum())
    return floors, per_floor


# --- compound types -----------------------------------------------------------------------------


def _urban_types(
    distance: FloatArray, core_radius: float, town: NDArray[np.bool_], rng: np.random.Generator
) -> NDArray[np.object_]:
    """Residential type of each urban compound from its distance to the centre."""
    d = distance / max(core_radius, 1.0)
    p_core_inner = np.array([0.30, 0.50, 0.15, 0.05])
    p_core_outer = np.array([0.08, 0.42, 0.30, 0.20])
    p_outside = np.array([0.05, 0.30, 0.35, 0.30])
    p_town = np.array([0.30, 0.40, 0.20, 0.10])
    t = np.clip(d / 0.6, 0.0, 1.0)[:, None]
    p = np.where(d[:, None] <= 1.0, (1 - t) * p_core_inner + t * p_core_outer, p_outside)
    p = np.where(town[:, None], p_town, p)
    cum = np.cumsum(p, axis=1)
    draw = rng.random(len(d))[:, None]
    choice = (draw > cum).sum(axis=1)
    return np.asarray(["lane", "walkup", "midrise", "tower"], dtype=object)[np.minimum(choice, 3)]


# --- the district -------------------------------------------------------------------------------


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


def _hotspots(
    comp: gpd.GeoDataFrame,
    hamlets: pd.DataFrame,
    hamlet_names: dict[tuple[str, int], str],
    communities: pd.DataFrame,
    metric: pyproj.CRS,
) -> gpd.GeoDataFrame:
    rows_kind: list[str] = []
    rows_name: list[str] = []
    rows_code: list[str] = []
    rows_weight: list[float] = []
    rows_geom: list[BaseGeometry] = []
    special = comp[comp["use"].isin(["market", "school", "construction", "commercial"])]
    rows_kind += special["use"].replace({"commercial": "shops"}).tolist()
    rows_name += special["compound"].tolist()
    rows_code += special["community_code"].tolist()
    rows_weight += [1.0] * len(special)
    rows_geom += special.geometry.representative_point().tolist()
    old = comp[(comp["use"] == "residential") & (comp["type"] == "lane")]
    rows_kind += ["old_compound"] * len(old)
    rows_name += old["compound"].tolist()
    rows_code += old["community_code"].tolist()
    rows_weight += (old.geometry.area / 10_000.0).clip(0.3, 5.0).tolist()
    rows_geom += old.geometry.representative_point().tolist()
    if len(hamlets):
        # Each village's first hamlet has its square (a small market and the village office).
        first = hamlets[hamlets["h"] == 0]
        rows_kind += ["plaza"] * len(first)
        short = dict(zip(communities.index, communities["short_name"], strict=True))
        rows_name += [f"{short[c]}{hamlet_names[(c, 0)]}广场" for c in first["code"]]
        rows_code += first["code"].tolist()
        rows_weight += [0.5] * len(first)
        rows_geom += list(np.asarray(shapely.points(first["x"], first["y"]), dtype=object))
    return gpd.GeoDataFrame(
        {"kind": rows_kind, "name": rows_name, "community_code": rows_code, "weight": rows_weight},
        geometry=rows_geom,
        crs=metric,
    )
