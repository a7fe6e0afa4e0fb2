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

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.demo import names
from gridgis.demo.bisection import _bisect, _repair
from gridgis.demo.faces import _adjacency, _blade, _faces, _to_cut
from gridgis.demo.linework import _centre, _core_zone, _curve, _grid_lines, _voronoi_sites
from gridgis.demo.profiles import DistrictProfile
from gridgis.demo.targets import VIRTUAL_RESIDENTS as VIRTUAL_RESIDENTS
from gridgis.demo.targets import _area_demands, resident_targets
from gridgis.errors import InputError

__all__ = ["Areas", "build_areas", "local_crs", "resident_targets"]

IntArray = NDArray[np.int64]

_STREET_RANK = {"subdistrict": 0, "zone": 1, "town": 2, "township": 3}
_COMMUNITY_RANK = {"urban": 0, "virtual": 1, "village": 2}


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
