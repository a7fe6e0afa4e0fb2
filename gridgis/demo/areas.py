"""Street offices, communities and the main roads of a demo district, tiling its real outline.

How
---
Everything is computed in metres, in an equidistant cylindrical projection
centred on the district (:func:`local_crs`), whose straight lines are
straight in EPSG:4326 too, so the tiling survives the conversion.

1. Each community gets a resident target (villages of the profile's size,
   development-zone "virtual" communities small, urban communities sharing
   the rest) and an area demand (urban residents at the core or town density;
   villages share what is left of the outline).
2. One set of lines is drawn over the outline: a warped, rotated street grid
   inside an urban core around the profile's centre (an ellipse holding the
   area demand of the street offices' urban communities, its rim a ring
   road), field and village-road lines elsewhere (the edges of a Voronoi
   diagram whose sites get denser towards the core), arterials radiating from
   the core, a meandering river and a railway. The lines are noded once and
   polygonized into faces: every face shares its edges exactly with its
   neighbours, so any union of faces tiles exactly.
3. Faces are split among the street offices, then each street office's faces
   among its communities, by recursive bisection: the ordered children (街道
   before 镇/乡, 社区 before 村) are cut in two groups, and the first group's
   share of the area demand is grown as one connected piece of faces, face by
   face through shared edges. Between more and less urban groups it grows from
   the face nearest the centre, core faces first; otherwise across the
   region's longest axis (or round the centre when the region wraps around
   it), from whichever end leaves the rest in one piece. A street office
   whose faces are too few or too coarse for its communities (small urban
   communities need several faces) gets its large faces cut in two and the
   lines polygonized again. Pieces that still end up cut off from the rest of
   their area go to the neighbour they share most boundary with, within the
   same parent; islands of the outline to the nearest area.
4. Streets and communities are unions of their faces.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp  # type: ignore[import-untyped]
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.demo import names
from gridgis.demo.profiles import DistrictProfile
from gridgis.errors import InputError

__all__ = ["Areas", "build_areas", "local_crs", "resident_targets"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_STREET_RANK = {"subdistrict": 0, "zone": 1, "town": 2, "township": 3}
_COMMUNITY_RANK = {"urban": 0, "virtual": 1, "village": 2}
VIRTUAL_RESIDENTS = 1_500
"""Typical residents of a development zone's virtual community (dormitories)."""
_MIN_VILLAGE_KM2 = 0.8


@dataclass
class Areas:
    """The geography of a demo district, in its metric CRS.

    Attributes
    ----------
    crs:
        The metric CRS of every frame here (:func:`local_crs`).
    outline:
        The district outline.
    centre:
        The centre of the urban core.
    core:
        The urban core zone (street grid inside, ring road on its rim), or
        empty when the district has no 街道 communities.
    grid_angle:
        Orientation of the core's street grid, radians.
    streets:
        ``code``, ``name``, ``kind``, geometry.
    communities:
        ``code``, ``name``, ``street_code``, ``short_name``, ``kind``,
        ``db_kind``, ``residents`` (target at scale 1), ``area_demand`` (km²),
        ``core`` (share of the area in the core), geometry.
    faces:
        The faces (blocks and fields) that make up the communities:
        ``community_code``, ``core`` (bool), geometry.
    roads:
        ``name``, ``kind`` (see :data:`gridgis.db.models.ROAD_KINDS`), geometry
        (LineString or MultiLineString).
    """

    crs: pyproj.CRS
    outline: BaseGeometry
    centre: shapely.Point
    core: BaseGeometry
    grid_angle: float
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    faces: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame


def local_crs(outline_wgs84: BaseGeometry) -> pyproj.CRS:
    """An equidistant cylindrical CRS (metres) true to scale at the outline's middle latitude.

    Its coordinates are a linear function of longitude and latitude, so a
    straight edge here is a straight edge in EPSG:4326 too: a vertex put on an
    edge of the outline here is on the same edge once converted back, and the
    street offices tile the stored outline exactly. (A transverse Mercator
    zone bends a 2 km edge by centimetres, enough for slivers of tens of m²
    between the outline and the streets along it.) Over a district the
    east-west scale is off by less than 0.3 %.
    """
    x0, y0, x1, y1 = outline_wgs84.bounds
    lat = round((y0 + y1) / 2.0, 4)
    lon = round((x0 + x1) / 2.0, 4)
    return pyproj.CRS.from_proj4(
        f"+proj=eqc +lat_ts={lat} +lat_0=0 +lon_0={lon} +x_0=500000 +y_0=0 "
        "+ellps=GRS80 +units=m +no_defs"
    )


def _street_kinds(streets: pd.DataFrame) -> dict[str, str]:
    return dict(zip(streets["code"], streets["kind"], strict=True))


# --- targets -------------------------------------------------------------------------------------


def resident_targets(
    profile: DistrictProfile,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.Series:
    """Residents of each community at scale 1, summing exactly to the profile's residents.

    Villages get about ``profile.village_residents``, virtual communities
    about :data:`VIRTUAL_RESIDENTS`, and urban communities share the rest
    (those of towns about 60 % of those of street offices), each varied by a
    log-normal factor.
    """
    kinds = communities["kind"].to_numpy()
    street_kind = communities["street_code"].map(_street_kinds(streets)).to_numpy()
    noise = rng.lognormal(0.0, 0.3, len(communities))
    residents = np.zeros(len(communities))
    village = kinds == "village"
    virtual = kinds == "virtual"
    urban = kinds == "urban"
    residents[village] = profile.village_residents * noise[village]
    residents[virtual] = VIRTUAL_RESIDENTS * noise[virtual]
    rest = profile.residents - residents[village | virtual].sum()
    if urban.any():
        if rest < 1_000 * urban.sum():
            # Not enough people left for the urban communities: shrink the villages.
            factor = (profile.residents * 0.5) / max(residents[village | virtual].sum(), 1.0)
            residents[village | virtual] *= factor
            rest = profile.residents - residents[village | virtual].sum()
        weight = noise[urban] * np.where(np.isin(street_kind[urban], ["subdistrict"]), 1.0, 0.6)
        residents[urban] = rest * weight / weight.sum()
    else:
        residents *= profile.residents / residents.sum()
    rounded = np.floor(residents).astype(np.int64)
    short = profile.residents - int(rounded.sum())
    order = np.argsort(-(residents - rounded), kind="stable")
    rounded[order[:short]] += 1
    return pd.Series(rounded, index=communities.index, name="residents")


def _area_demands(
    profile: DistrictProfile,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    residents: pd.Series,
    total_km2: float,
) -> FloatArray:
    kinds = communities["kind"].to_numpy()
    street_kind = communities["street_code"].map(_street_kinds(streets)).to_numpy()
    people = residents.to_numpy(dtype=float)
    demand = np.zeros(len(communities))
    urban = kinds == "urban"
    core = urban & (street_kind == "subdistrict")
    demand[core] = people[core] / profile.core_density
    demand[urban & ~core] = people[urban & ~core] / profile.town_density
    virtual = kinds == "virtual"
    demand[virtual] = np.maximum(2.5, people[virtual] / 1_000.0)
    village = kinds == "village"
    fixed = demand[~village].sum()
    if village.any():
        left = total_km2 - fixed
        if left < _MIN_VILLAGE_KM2 * village.sum():
            # The outline is small for its people: make every non-village denser.
            demand[~village] *= (total_km2 * 0.5) / fixed
            left = total_km2 - demand[~village].sum()
        share = np.sqrt(people[village])
        demand[village] = left * share / share.sum()
    else:
        demand *= total_km2 / demand.sum()
    return demand


# --- lines ---------------------------------------------------------------------------------------


def _centre(profile: DistrictProfile, outline: BaseGeometry, metric: pyproj.CRS) -> shapely.Point:
    x, y = crs_mod.from_wgs84(profile.centre[0], profile.centre[1], metric)
    point = shapely.Point(x, y)
    if not outline.contains(point):
        # A centre outside the outline: the nearest point 200 m inside it.
        inner = outline.buffer(-200.0)
        target = inner if not inner.is_empty else outline
        point = shapely.Point(shapely.shortest_line(target, point).coords[0])
    return point


def _ellipse(centre: shapely.Point, radius: float, ratio: float, angle: float) -> BaseGeometry:
    t = np.linspace(0.0, 2.0 * math.pi, 97)[:-1]
    x, y = radius * np.cos(t), radius * ratio * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return shapely.Polygon(np.column_stack([centre.x + c * x - s * y, centre.y + s * x + c * y]))


def _core_zone(
    outline: BaseGeometry, centre: shapely.Point, area_m2: float, rng: np.random.Generator
) -> BaseGeometry:
    """An ellipse around the centre whose part inside the outline has ``area_m2``."""
    if area_m2 <= 0:
        return shapely.Polygon()
    ratio = float(rng.uniform(0.7, 0.95))
    angle = float(rng.uniform(0.0, math.pi))
    lo, hi = 0.0, math.sqrt(outline.area / math.pi) * 4.0
    shape: BaseGeometry = shapely.Polygon()
    # Bisection on the radius: the clipped area grows monotonically with it.
    for _ in range(30):
        mid = (lo + hi) / 2.0
        shape = _ellipse(centre, mid, ratio, angle).intersection(outline)
        if shape.area < area_m2:
            lo = mid
        else:
            hi = mid
    return shapely.make_valid(_ellipse(centre, hi, ratio, angle))


def _rotate(x: FloatArray, y: FloatArray, angle: float) -> tuple[FloatArray, FloatArray]:
    c, s = math.cos(angle), math.sin(angle)
    return c * x - s * y, s * x + c * y


def _grid_lines(
    zone: BaseGeometry, spacing: float, angle: float, rng: np.random.Generator
) -> tuple[list[BaseGeometry], list[int]]:
    """Warped grid lines over ``zone`` (not yet clipped); their index across the grid."""
    cx, cy = zone.centroid.x, zone.centroid.y
    half = max(zone.bounds[2] - zone.bounds[0], zone.bounds[3] - zone.bounds[1])
    offsets = np.arange(-half, half + spacing, spacing)
    along = np.linspace(-half, half, max(int(2 * half / 60.0), 8))
    lines: list[BaseGeometry] = []
    index: list[int] = []
    for family in (0, 1):
        phase = rng.uniform(0, 2 * math.pi, len(offsets))
        wavelength = rng.uniform(6.0, 12.0, len(offsets)) * spacing
        amplitude = rng.uniform(0.0, 0.12, len(offsets)) * spacing
        # One line per offset: a Python loop over a few dozen lines, each built vectorised.
        for k, off in enumerate(offsets):
            u = off + amplitude[k] * np.sin(2 * math.pi * along / wavelength[k] + phase[k])
            x, y = (u, along) if family == 0 else (along, u)
            rx, ry = _rotate(x, y, angle)
            lines.append(shapely.LineString(np.column_stack([rx + cx, ry + cy])))
            index.append(k)
    return lines, index


def _curve(
    start: tuple[float, float], direction: float, length: float, rng: np.random.Generator,
    *, amplitude: float, wavelength: float, both_ways: bool = False,
) -> BaseGeometry:  # fmt: skip
    s = np.linspace(-length if both_ways else 0.0, length, 400)
    wobble = amplitude * (
        np.sin(2 * math.pi * s / wavelength + rng.uniform(0, 2 * math.pi))
        + 0.4 * np.sin(2 * math.pi * s / (wavelength * 0.37) + rng.uniform(0, 2 * math.pi))
    )
    if not both_ways:
        wobble *= np.clip(s / (wavelength * 0.5), 0.0, 1.0)
    x, y = _rotate(s, wobble, direction)
    return shapely.LineString(np.column_stack([x + start[0], y + start[1]]))


def _voronoi_sites(
    region: BaseGeometry,
    centre: shapely.Point,
    core_radius: float,
    spacing: float,
    rng: np.random.Generator,
    *,
    near: float | None = None,
) -> NDArray[np.object_]:
    """Sites in ``region``: a jittered lattice, ``spacing`` apart far out and ``near`` apart
    (default 55 % of ``spacing``) at the core, where small urban communities need small faces."""
    near = spacing * 0.55 if near is None else min(near, spacing)
    fine = near
    x0, y0, x1, y1 = region.bounds
    xs = np.arange(x0, x1 + fine, fine)
    ys = np.arange(y0, y1 + fine * 0.866, fine * 0.866)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + (np.arange(len(ys))[:, None] % 2) * fine / 2.0
    x = gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) * fine
    y = gy.ravel() + rng.uniform(-0.35, 0.35, gy.size) * fine
    d = np.hypot(x - centre.x, y - centre.y)
    reach = np.clip((d - core_radius) / (3.0 * max(core_radius, 1.0) + 2000.0), 0, 1)
    local = near + (spacing - near) * reach
    keep = rng.random(x.size) < (fine / local) ** 2
    points = shapely.points(x[keep], y[keep])
    return points[shapely.contains_xy(region, x[keep], y[keep])]


# --- faces and their split -----------------------------------------------------------------------


def _adjacency(faces: NDArray[np.object_]) -> sp.csr_matrix:
    """Shared boundary length (m) between faces that share an edge."""
    tree = shapely.STRtree(faces)
    left, right = tree.query(faces, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(
        shapely.intersection(shapely.boundary(faces[left]), shapely.boundary(faces[right]))
    )
    edge = shared > 1e-6
    n = len(faces)
    matrix = sp.coo_matrix((shared[edge], (left[edge], right[edge])), shape=(n, n))
    return (matrix + matrix.T).tocsr()


def _split_share(ranks: list[int], weights: FloatArray) -> tuple[int, bool]:
    """Where to split an ordered list of children, and whether it is an urban/rural split."""
    total = weights.sum()
    for k in range(1, len(ranks)):
        if ranks[k] != ranks[k - 1]:
            share = weights[:k].sum() / total
            if 0.03 <= share <= 0.97:
                return k, True
    cum = np.cumsum(weights)[:-1] / total
    return int(np.argmin(np.abs(cum - 0.5))) + 1, False


def _grow(
    ids: IntArray,
    key: FloatArray,
    target: float,
    area: FloatArray,
    adjacency: sp.csr_matrix,
    counts: tuple[int, int],
) -> NDArray[np.bool_]:
    """Faces of ``ids`` grown from the lowest ``key`` through shared edges, lowest key first,
    until their area reaches ``target``; at least ``counts[0]`` faces and all but ``counts[1]``.
    """
    local = {int(face): i for i, face in enumerate(ids)}
    taken = np.zeros(len(ids), dtype=bool)
    queued = np.zeros(len(ids), dtype=bool)
    order = np.argsort(key, kind="stable")
    indptr, indices = adjacency.indptr, adjacency.indices
    heap: list[tuple[float, int]] = []
    got, n_taken, next_seed = 0.0, 0, 0
    most = len(ids) - counts[1]
    # Flood fill in key order: a Python loop over faces, since each step depends on the last.
    while n_taken < most:
        if not heap:
            while next_seed < len(ids) and queued[order[next_seed]]:
                next_seed += 1
            if next_seed >= len(ids):
                break
            seed = int(order[next_seed])
            queued[seed] = True
            heapq.heappush(heap, (float(key[seed]), seed))
        _, i = heapq.heappop(heap)
        a = float(area[ids[i]])
        if n_taken >= counts[0] and got + a / 2.0 > target:
            break
        taken[i] = True
        n_taken += 1
        got += a
        face = int(ids[i])
        for neighbour in indices[indptr[face] : indptr[face + 1]]:
            j = local.get(int(neighbour))
            if j is not None and not queued[j]:
                queued[j] = True
                heapq.heappush(heap, (float(key[j]), j))
    return taken


def _cut_off(
    ids: IntArray, left: NDArray[np.bool_], adjacency: sp.csr_matrix, area: FloatArray
) -> float:
    """Area of the pieces cut off from the largest piece on either side of a split."""
    sub = adjacency[ids][:, ids].tocoo()
    same = left[sub.row] == left[sub.col]
    graph = sp.coo_matrix(
        (np.ones(int(same.sum())), (sub.row[same], sub.col[same])), shape=(len(ids), len(ids))
    )
    n, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp, weights=area[ids], minlength=n)
    lost = 0.0
    for side in (left, ~left):
        if side.any():
            pieces = sizes[np.unique(comp[side])]
            lost += float(pieces.sum() - pieces.max())
    return lost


def _bisect(
    ids: IntArray,
    keys: list[str],
    ranks: list[int],
    weights: FloatArray,
    xy: FloatArray,
    centre: tuple[float, float],
    area: FloatArray,
    core: NDArray[np.bool_],
    adjacency: sp.csr_matrix,
    sizes: list[int],
    out: dict[str, IntArray],
) -> None:
    """Recursive bisection of faces ``ids`` among ``keys`` (see the module docstring).

    ``weights`` has two columns: each child's demand for core faces and for
    the others. The first group of children gets its share of the region's
    area, grown as one connected piece from the region's end along the cut
    direction; in a split between urban and rural children, the urban ones
    take the core faces first.
    """
    r_all = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    theta_all = np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0])
    stack = [(ids, keys, ranks, weights, sizes)]
    # A work list instead of recursion: depth stays small, but this keeps tracebacks short.
    while stack:
        ids, keys, ranks, weights, sizes = stack.pop()
        if len(keys) == 1:
            out[keys[0]] = ids
            continue
        k, urban_split = _split_share(ranks, weights.sum(axis=1))
        total_share = weights[:k].sum() / weights.sum()
        r, a = r_all[ids], area[ids]
        theta = theta_all[ids]
        mean_dir = math.atan2(float(np.sum(a * np.sin(theta))), float(np.sum(a * np.cos(theta))))
        rel = (theta - mean_dir + math.pi) % (2 * math.pi) - math.pi
        is_core = core[ids]
        if urban_split:
            # The urban group gathers around the region's face nearest the centre, core first.
            pole = xy[ids[int(np.argmin(r))]]
            key = np.hypot(xy[ids, 0] - pole[0], xy[ids, 1] - pole[1])
            if weights[:k, 0].sum() > 0:
                key = key - 1e9 * is_core
        target = total_share * float(a.sum())
        counts = (sum(sizes[:k]), sum(sizes[k:]))
        if urban_split:
            left = _grow(ids, key, target, area, adjacency, counts)
            if _cut_off(ids, left, adjacency, area) > 0.0:
                # The urban group cut the rest in two: grow the rest from the far end instead.
                rest = float(a.sum()) - target
                other = ~_grow(ids, -key, rest, area, adjacency, counts[::-1])
                if _cut_off(ids, other, adjacency, area) < _cut_off(ids, left, adjacency, area):
                    left = other
        else:
            # Across the longest axis (area-weighted principal axis), or into sectors when the
            # region wraps around the centre; grown from either end, whichever cuts nothing off.
            pts = xy[ids] - np.average(xy[ids], axis=0, weights=a)
            axes = np.linalg.eigh((pts * a[:, None]).T @ pts)[1]
            t_lo, t_hi = np.quantile(rel, [0.02, 0.98])
            keys_to_try = [pts @ axes[:, -1], pts @ axes[:, 0]]
            if t_hi - t_lo > math.radians(200.0):
                keys_to_try.insert(0, rel)
            best: tuple[float, int, NDArray[np.bool_]] | None = None
            for rank, key in enumerate(keys_to_try):
                for grown_left in (True, False):
                    if grown_left:
                        mask = _grow(ids, key, target, area, adjacency, counts)
                    else:
                        rest = float(a.sum()) - target
                        mask = ~_grow(ids, -key, rest, area, adjacency, counts[::-1])
                    score = _cut_off(ids, mask, adjacency, area)
                    if best is None or (score, rank) < (best[0], best[1]):
                        best = (score, rank, mask)
                if best is not None and best[0] == 0.0:
                    break
            assert best is not None
            left = best[2]
        stack.append((ids[~left], keys[k:], ranks[k:], weights[k:], sizes[k:]))
        stack.append((ids[left], keys[:k], ranks[:k], weights[:k], sizes[:k]))


def _islands(
    labels: NDArray[np.object_],
    geoms: NDArray[np.object_],
    orphans: IntArray,
    comp: IntArray,
    allowed: dict[str, set[str]] | None,
) -> NDArray[np.object_]:
    """Cut-off pieces touching nothing along an edge (islands): to the nearest other label."""
    labels = labels.copy()
    # A loop over the few islands of a district outline.
    for c in orphans:
        members = np.flatnonzero(comp == c)
        own = labels[members[0]]
        others = np.flatnonzero(comp != c)
        if allowed is not None:
            others = others[np.isin(labels[others], list(allowed[own]))]
        if others.size == 0:
            continue
        piece = shapely.union_all(geoms[members])
        distance = shapely.distance(geoms[others], piece)
        labels[members] = labels[others[int(np.argmin(distance))]]
    return labels


def _repair(
    labels: NDArray[np.object_],
    adjacency: sp.csr_matrix,
    area: FloatArray,
    geoms: NDArray[np.object_],
    allowed: dict[str, set[str]] | None = None,
) -> NDArray[np.object_]:
    """Give every cut-off piece of a region to the neighbour it shares most boundary with."""
    labels = labels.copy()
    rows, cols = adjacency.nonzero()
    lengths = np.asarray(adjacency[rows, cols]).ravel()
    # A few rounds: moving one piece can cut off another (rarely more than two rounds).
    for _ in range(20):
        keep = labels[rows] == labels[cols]
        inner = sp.coo_matrix(
            (np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=adjacency.shape
        ).tocsr()
        n_comp, comp = connected_components(inner, directed=False)
        comp_area = np.bincount(comp, weights=area, minlength=n_comp)
        frame = pd.DataFrame({"label": labels, "area": comp_area[comp]})
        main = frame.groupby("label")["area"].transform("max").to_numpy()
        orphans = np.unique(comp[frame["area"].to_numpy() < main])
        if orphans.size == 0:
            return labels
        # Score each (piece, neighbouring label) pair by the boundary they share.
        across = ~keep & np.isin(comp[rows], orphans)
        pairs = pd.DataFrame(
            {
                "comp": comp[rows[across]],
                "own": labels[rows[across]],
                "other": labels[cols[across]],
                "length": lengths[across],
            }
        )
        if allowed is not None and not pairs.empty:
            ok = [o in allowed[w] for w, o in zip(pairs["own"], pairs["other"], strict=True)]
            pairs = pairs[np.asarray(ok, dtype=bool)]
        if pairs.empty:
            return _islands(labels, geoms, orphans, comp, allowed)
        best = (
            pairs.groupby(["comp", "other"], sort=True)["length"]
            .sum()
            .reset_index()
            .sort_values(["comp", "length"], ascending=[True, False], kind="stable")
            .drop_duplicates("comp")
        )
        target = dict(zip(best["comp"], best["other"], strict=True))
        moving = np.isin(comp, list(target))
        labels[moving] = [target[c] for c in comp[moving]]
    return labels


def _merge_tiny(faces: NDArray[np.object_], min_m2: float = 25.0) -> NDArray[np.object_]:
    """Join faces under ``min_m2`` (left where nearly parallel lines cross) to the neighbour
    they share most edge with; one touching nothing along an edge is dropped (its area is
    below ``min_m2``, a speck no check counts)."""
    area = shapely.area(faces)
    tiny = np.flatnonzero(area < min_m2)
    if tiny.size == 0:
        return faces
    adjacency = _adjacency(faces).tolil()
    out = faces.copy()
    gone = np.zeros(len(faces), dtype=bool)
    # A loop over the few tiny faces; each join changes the neighbour's shape.
    for i in tiny[np.argsort(area[tiny])]:
        row = adjacency.rows[i]
        lengths = adjacency.data[i]
        best, best_length = -1, 0.0
        for j, length in zip(row, lengths, strict=True):
            if not gone[j] and j != i and area[j] >= min_m2 and length > best_length:
                best, best_length = j, length
        gone[i] = True
        if best >= 0:
            out[best] = shapely.union(out[best], out[i])
    return out[~gone]


def _faces(linework: list[BaseGeometry], outline: BaseGeometry) -> NDArray[np.object_]:
    """The faces of the lines, noded once and polygonized, tiny ones merged away."""
    noded = shapely.union_all(np.asarray(linework, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    reps = shapely.point_on_surface(faces)
    faces = faces[shapely.intersects(outline, reps)]
    return _merge_tiny(faces)


def _blade(face: BaseGeometry) -> BaseGeometry:
    """A line across a polygon's longest side, through its centroid, clipped to it."""
    box = shapely.minimum_rotated_rectangle(face)
    coords = shapely.get_coordinates(box)[:4]
    sides = np.diff(np.vstack([coords, coords[:1]]), axis=0)
    longest = sides[int(np.argmax(np.hypot(sides[:, 0], sides[:, 1])))]
    normal = np.array([-longest[1], longest[0]])
    normal = normal / (np.hypot(*normal) or 1.0)
    c = np.asarray(face.centroid.coords[0])
    reach = float(np.hypot(*longest)) + 1.0
    return shapely.LineString([c - normal * reach, c + normal * reach]).intersection(face)


def _to_cut(
    faces: NDArray[np.object_],
    labels: NDArray[np.object_],
    xy: FloatArray,
    centre: shapely.Point,
    needs: dict[str, tuple[int, float, float]],
) -> IntArray:
    """Faces to cut in two so that each street office can be split among its communities.

    ``needs[street]`` is ``(faces, urban_m2, smallest_m2)``: at least that many
    faces, and around the face nearest the centre, within the area its urban
    communities need, no face larger than a third of the smallest of them.
    """
    area = shapely.area(faces)
    cut: list[int] = []
    for key, (count, urban_m2, smallest_m2) in needs.items():
        members = np.flatnonzero(labels == key)
        if members.size == 0:
            continue
        by_size = members[np.argsort(-area[members], kind="stable")]
        cut += by_size[: max(count - members.size, 0)].tolist()
        if urban_m2 > 0:
            d_centre = np.hypot(xy[members, 0] - centre.x, xy[members, 1] - centre.y)
            pole = xy[members[int(np.argmin(d_centre))]]
            reach = math.sqrt(urban_m2 / math.pi) * 1.5
            near = np.hypot(xy[members, 0] - pole[0], xy[members, 1] - pole[1]) <= reach
            big = area[members] > max(smallest_m2 / 3.0, 15_000.0)
            cut += members[near & big].tolist()
    return np.unique(np.asarray(cut, dtype=np.int64))


# --- the district --------------------------------------------------------------------------------


def build_areas(
    outline_wgs84: BaseGeometry,
    profile: DistrictProfile,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    *,
    rng: np.random.Generator,
) -> Areas:
    """Tile the real outline into the district's street offices and communities.

    Parameters
    ----------
    outline_wgs84:
        The district outline, EPSG:4326.
    profile:
        The district's figures.
    streets, communities:
        The official divisions (:func:`gridgis.demo.profiles.divisions`).
    rng:
        The random generator (the result depends only on its state).

    Returns
    -------
    Areas
    """
    if outline_wgs84 is None or outline_wgs84.is_empty:
        raise InputError(f"the outline of district {profile.code} is empty")
    metric = local_crs(outline_wgs84)
    outline = shapely.make_valid(
        crs_mod.transform_geometry(outline_wgs84, from_crs="EPSG:4326", to_crs=metric)
    )
    centre = _centre(profile, outline, metric)
    communities = communities.copy()
    residents = resident_targets(profile, streets, communities, rng)
    communities["residents"] = residents
    demand = _area_demands(profile, streets, communities, residents, outline.area / 1e6)
    communities["area_demand"] = demand
    street_kind = dict(zip(streets["code"], streets["kind"], strict=True))
    in_core = (communities["kind"] == "urban").to_numpy() & (
        communities["street_code"].map(street_kind) == "subdistrict"
    ).to_numpy()
    core_m2 = float(demand[in_core].sum()) * 1e6
    core = _core_zone(outline, centre, core_m2 * 1.05, rng)
    core_in = core.intersection(outline) if not core.is_empty else core
    core_radius = math.sqrt(max(core_m2, 1e6) / math.pi)

    # Lines.
    urban_km2 = demand[in_core]
    block = math.sqrt(float(np.median(urban_km2)) * 1e6 / 8.0) if urban_km2.size else 250.0
    spacing_core = float(np.clip(block, 170.0, 320.0))
    rural_kinds = communities["kind"] == "village"
    rural_km2 = demand[rural_kinds.to_numpy()] if rural_kinds.any() else demand
    spacing_rural = float(np.clip(math.sqrt(float(np.median(rural_km2)) * 1e6 / 8.0), 280.0, 900.0))
    angle = float(rng.uniform(-0.45, 0.45))
    road_geoms: list[BaseGeometry] = []
    road_kinds: list[str] = []
    linework: list[BaseGeometry] = [outline.boundary]
    if not core_in.is_empty:
        grid, index = _grid_lines(core_in, spacing_core, angle, rng)
        clipped = shapely.intersection(np.asarray(grid, dtype=object), core_in)
        keep = ~shapely.is_empty(clipped)
        clipped = clipped[keep]
        kinds = [
            "arterial" if i % 3 == 0 else "secondary" for i, k in zip(index, keep, strict=True) if k
        ]
        ring = core.boundary.intersection(outline)
        linework += [core_in.boundary, *clipped.tolist()]
        road_geoms += [*clipped.tolist(), ring]
        road_kinds += [*kinds, "arterial"]
    rural = outline.difference(core_in) if not core_in.is_empty else outline
    # Near the core the faces must be small enough for several per urban community.
    smallest_urban = demand[(communities["kind"] != "village").to_numpy()]
    near = (
        math.sqrt(float(np.quantile(smallest_urban, 0.25)) * 1e6 / 4.0)
        if smallest_urban.size
        else spacing_rural * 0.55
    )
    sites = _voronoi_sites(
        rural, centre, core_radius, spacing_rural, rng, near=float(np.clip(near, 170.0, 600.0))
    )
    if len(sites) >= 3:
        edges = shapely.voronoi_polygons(
            shapely.multipoints(sites), only_edges=True, extend_to=outline.envelope.buffer(1000.0)
        )
        field = shapely.intersection(shapely.get_parts(edges), rural)
        field = field[~shapely.is_empty(field)]
        linework += field.tolist()
        village_road = rng.random(len(field)) < 0.6
        road_geoms += field[village_road].tolist()
        road_kinds += ["path"] * int(village_road.sum())
    diagonal = math.hypot(
        outline.bounds[2] - outline.bounds[0], outline.bounds[3] - outline.bounds[1]
    )
    n_radial = int(rng.integers(4, 7))
    start_dir = float(rng.uniform(0, 2 * math.pi))
    for i in range(n_radial):
        direction = start_dir + 2 * math.pi * i / n_radial + float(rng.normal(0, 0.25))
        radial = _curve(
            (centre.x, centre.y), direction, diagonal, rng, amplitude=400.0, wavelength=6000.0
        )
        radial = radial.intersection(rural)
        if not radial.is_empty:
            linework.append(radial)
            road_geoms.append(radial)
            road_kinds.append("arterial")
    river_dir = float(rng.uniform(0, math.pi))
    for kind, offset, amplitude, wavelength, turn in (
        ("river", 1.25, 350.0, 3000.0, 0.0),
        ("railway", -1.8, 500.0, 20000.0, 0.35),
    ):
        direction = river_dir + turn
        normal = direction + math.pi / 2
        dist = offset * core_radius + math.copysign(800.0, offset)
        start = (centre.x + dist * math.cos(normal), centre.y + dist * math.sin(normal))
        line = _curve(start, direction, diagonal, rng, amplitude=amplitude, wavelength=wavelength,
                      both_ways=True).intersection(outline)  # fmt: skip
        if not line.is_empty:
            linework.append(line)
            road_geoms.append(line)
            road_kinds.append(kind)

    faces = _faces(linework, outline)
    reps = shapely.point_on_surface(faces)
    area = shapely.area(faces)
    x, y = shapely.get_x(reps), shapely.get_y(reps)
    xy = np.column_stack([x, y])
    pole = (centre.x, centre.y)
    adjacency = _adjacency(faces)

    # Streets: core faces go to the core communities, the others to the rest.
    is_core_face = (
        shapely.contains(core_in, reps) if not core_in.is_empty else np.zeros(len(faces), bool)
    )
    communities["core_demand"] = np.where(in_core, demand, 0.0)
    communities["rest_demand"] = np.where(in_core, 0.0, demand)
    street_demand = (
        communities.groupby("street_code")[["core_demand", "rest_demand"]]
        .sum()
        .reindex(streets["code"])
        .fillna(0.1)
    )
    street_kind_list = [str(k) for k in streets["kind"]]
    street_code_list = [str(c) for c in streets["code"]]
    order = sorted(
        range(len(streets)), key=lambda i: (_STREET_RANK[street_kind_list[i]], street_code_list[i])
    )
    street_keys = [street_code_list[i] for i in order]
    if len(faces) < len(street_keys):
        raise InputError(
            f"district {profile.code}: {len(faces)} faces for {len(street_keys)} streets"
        )
    found: dict[str, IntArray] = {}
    _bisect(
        np.arange(len(faces)),
        street_keys,
        [_STREET_RANK[street_kind_list[i]] for i in order],
        street_demand.reindex(street_keys).to_numpy(dtype=float),
        xy,
        pole,
        area,
        is_core_face,
        adjacency,
        [1] * len(street_keys),
        found,
    )
    street_of = np.empty(len(faces), dtype=object)
    for key, members in found.items():
        street_of[members] = key
    street_of = _repair(street_of, adjacency, area, faces)
    urban_rows = (communities["kind"] != "village").to_numpy()
    needs: dict[str, tuple[int, float, float]] = {}
    for key in street_keys:
        in_street = (communities["street_code"] == key).to_numpy()
        urban_demand = demand[in_street & urban_rows]
        needs[key] = (
            int(in_street.sum()) * 2,
            float(urban_demand.sum()) * 1e6,
            float(urban_demand.min()) * 1e6 if urban_demand.size else np.inf,
        )
    for _ in range(6):
        to_cut = _to_cut(faces, street_of, xy, centre, needs)
        if to_cut.size == 0:
            break
        # Street offices with too few faces, or too coarse ones where their urban communities
        # go: cut those faces in two and polygonize the lines again (faces keep exact edges).
        # A loop over the faces to cut, each with its own rectangle.
        blades = [_blade(faces[i]) for i in to_cut]
        linework = linework + [b for b in blades if not b.is_empty]
        old_faces, old_streets = faces, street_of
        faces = _faces(linework, outline)
        reps = shapely.point_on_surface(faces)
        tree = shapely.STRtree(old_faces)
        hit = tree.query(reps, predicate="within")
        street_of = np.empty(len(faces), dtype=object)
        street_of[hit[0]] = old_streets[hit[1]]
        lost = np.flatnonzero(pd.isna(street_of))
        if lost.size:
            nearest = tree.query_nearest(reps[lost], all_matches=False)
            street_of[lost[nearest[0]]] = old_streets[nearest[1]]
        area = shapely.area(faces)
        xy = np.column_stack([shapely.get_x(reps), shapely.get_y(reps)])
        adjacency = _adjacency(faces)
        is_core_face = (
            shapely.contains(core_in, reps) if not core_in.is_empty else np.zeros(len(faces), bool)
        )

    # Communities, street by street.
    community_of = np.empty(len(faces), dtype=object)
    parent = dict(zip(communities["code"], communities["street_code"], strict=True))
    siblings = {
        code: set(communities.loc[communities["street_code"] == street, "code"])
        for code, street in parent.items()
    }
    for street in street_keys:
        members = np.flatnonzero(street_of == street)
        mine = communities[communities["street_code"] == street]
        mine = mine.assign(_rank=mine["kind"].map(_COMMUNITY_RANK)).sort_values(["_rank", "code"])
        if mine.empty:
            raise InputError(f"street office {street} has no communities in the official list")
        if len(members) < len(mine):
            raise InputError(
                f"street office {street} got {len(members)} faces for {len(mine)} communities; "
                "the demo's line spacing is too coarse for this district"
            )
        got: dict[str, IntArray] = {}
        _bisect(
            members,
            mine["code"].astype(str).tolist(),
            mine["_rank"].astype(int).tolist(),
            mine[["core_demand", "rest_demand"]].to_numpy(dtype=float),
            xy,
            pole,
            area,
            is_core_face,
            adjacency,
            [1] * len(mine),
            got,
        )
        for key, ids in got.items():
            community_of[ids] = key
    community_of = _repair(community_of, adjacency, area, faces, allowed=siblings)
    street_of = np.asarray([parent[c] for c in community_of], dtype=object)

    face_frame = gpd.GeoDataFrame(
        {
            "community_code": community_of,
            "core": is_core_face,
        },
        geometry=faces,
        crs=metric,
    )
    community_geoms = face_frame.dissolve("community_code").geometry
    street_geoms = (
        gpd.GeoSeries(faces, crs=metric)
        .groupby(street_of)
        .agg(lambda s: shapely.union_all(np.asarray(s.array, dtype=object)))
    )
    core_share = (
        face_frame.assign(a=area * face_frame["core"].astype(float))
        .groupby("community_code")["a"]
        .sum()
        / face_frame.assign(a=area).groupby("community_code")["a"].sum()
    )
    communities_gdf = gpd.GeoDataFrame(
        communities.assign(core=communities["code"].map(core_share).fillna(0.0).to_numpy()),
        geometry=communities["code"].map(community_geoms).to_numpy(),
        crs=metric,
    )
    streets_gdf = gpd.GeoDataFrame(
        streets.copy(), geometry=streets["code"].map(street_geoms).to_numpy(), crs=metric
    )
    road_names = names.road_names(
        rng,
        road_kinds,
        extra=tuple(
            n.removesuffix("街道").removesuffix("镇").removesuffix("乡")[:2]
            for n in streets["name"]
            if len(n) >= 3
        ),
    )
    road_names = [
        profile.river if k == "river" else profile.railway if k == "railway" else n
        for n, k in zip(road_names, road_kinds, strict=True)
    ]
    roads = gpd.GeoDataFrame(
        {"name": road_names, "kind": road_kinds}, geometry=road_geoms, crs=metric
    )
    roads = roads[~roads.geometry.is_empty].reset_index(drop=True)
    return Areas(
        crs=metric,
        outline=outline,
        centre=centre,
        core=core_in,
        grid_angle=angle,
        streets=streets_gdf,
        communities=communities_gdf,
        faces=face_frame,
        roads=roads,
    )
