"""Generating a whole demo district in memory: :func:`generate_district` → :class:`DemoDistrict`.

Pure: no database. The result depends only on the district, the seed and
the scale; the geography (streets, communities, roads) only on the district
and the seed, so a small-scale run has the same map as a full one.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.data import path as data_path
from gridgis.demo import areas as areas_mod
from gridgis.demo import buildings as buildings_mod
from gridgis.demo import cases as cases_mod
from gridgis.demo import people as people_mod
from gridgis.demo.party_units import sanling_cases
from gridgis.demo.profiles import DistrictProfile, divisions, profile
from gridgis.errors import InputError
from gridgis.partition.seams import fit_layout

__all__ = ["RURAL_BOUNDS", "URBAN_BOUNDS", "DemoDistrict", "Progress", "generate_district"]

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``, called as a long task advances."""

URBAN_BOUNDS = (300, 500)
"""Households per cell in urban communities (社区) and development zones."""
RURAL_BOUNDS = (150, 300)
"""Households per cell in villages (村): smaller cells, as rural practice has them."""

_PARALLEL_UNITS = 8_000
_CHUNKS_PER_WORKER = 10


@dataclass
class DemoDistrict:
    """A generated demo district; every frame in EPSG:4326.

    Attributes
    ----------
    code, name, seed, scale, profile:
        What was generated, and the figures it was built to.
    district:
        ``code``, ``name`` and the real outline.
    streets:
        ``code``, ``name``, ``kind`` (``subdistrict``, ``town``,
        ``township``, ``zone``), geometry.
    communities:
        ``code``, ``name``, ``street_code``, ``short_name``, ``kind``
        (``urban``, ``village``, ``virtual``), ``db_kind`` (``urban`` /
        ``rural``), ``min_households``, ``max_households``,
        ``residents_target``, ``households_target``, geometry.
    roads:
        ``external_id``, ``name``, ``kind``, geometry (lines).
    compounds:
        ``compound``, ``community_code``, ``use``, ``type``, geometry.
    buildings:
        ``external_id``, ``community_code``, ``compound``, ``name``,
        ``address``, ``type``, ``floors``, ``units``, ``per_floor``,
        ``households``, ``residents``, footprint geometry and ``location``
        (points, EPSG:4326).
    units:
        ``external_id`` (building), ``number``, ``households``.
    cells:
        ``code``, ``community_code``, ``households``, ``residents``,
        ``flags`` (list of str), geometry: as drawn by the cell engine.
    workers, worker_cells:
        Grid workers (``external_id``, ``name``, ``phone``, ``employment``,
        ``street_code``, ``cell_code``) and the cells each serves
        (``worker``, ``cell_code``).
    branches, branch_cells:
        Party branches (``external_id``, ``name``, ``community_code``,
        ``member_count``, point) and their cells (``branch``, ``cell_code``).
    facilities:
        ``external_id``, ``name``, ``kind``, ``street_code``,
        ``community_code``, point.
    hotspots:
        Markets, shops, schools, construction sites, old compounds and
        village squares where cases gather (not stored in the database).
    cases:
        See :func:`gridgis.demo.cases.build_cases`.
    inspections, inspection_cells:
        See :func:`gridgis.demo.cases.build_inspections`.
    period:
        The year the cases and patrols cover (:func:`gridgis.demo.cases.demo_period`).
    targets:
        ``residents``, ``households`` and ``cases`` the scale asked for.
    shortfall:
        Households a community could not house (normally empty).
    engine_notes:
        Communities the cell engine failed on at first, and how they were
        drawn in the end (normally empty; see :func:`draw_cells_for`).
    seconds:
        Wall time of each phase.
    """

    code: str
    name: str
    seed: int
    scale: float
    profile: DistrictProfile
    district: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: pd.DataFrame
    cells: gpd.GeoDataFrame
    workers: pd.DataFrame
    worker_cells: pd.DataFrame
    branches: gpd.GeoDataFrame
    branch_cells: pd.DataFrame
    facilities: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    cases: gpd.GeoDataFrame
    inspections: gpd.GeoDataFrame
    inspection_cells: pd.DataFrame
    period: tuple[dt.datetime, dt.datetime]
    targets: dict[str, int]
    shortfall: dict[str, int] = field(default_factory=dict)
    engine_notes: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    FRAMES = (
        "district", "streets", "communities", "roads", "compounds", "buildings", "units",
        "cells", "workers", "worker_cells", "branches", "branch_cells", "facilities",
        "hotspots", "cases", "inspections", "inspection_cells",
    )  # fmt: skip

    def fingerprint(self) -> str:
        """A SHA-256 of every frame's content (geometries as WKB): equal for equal districts."""
        digest = hashlib.sha256()
        for name in self.FRAMES:
            frame = getattr(self, name)
            digest.update(name.encode())
            for column in frame.columns:
                values = frame[column]
                digest.update(str(column).encode())
                if isinstance(values.dtype, gpd.array.GeometryDtype):
                    wkb = shapely.to_wkb(np.asarray(values.array, dtype=object))
                    digest.update(b"".join(w or b"" for w in wkb))
                else:
                    digest.update(
                        pd.util.hash_pandas_object(values.astype(str), index=False)
                        .to_numpy()
                        .tobytes()
                    )
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        """Rows of each frame, and total households and residents."""
        out = {name: len(getattr(self, name)) for name in self.FRAMES}
        out["households"] = int(self.buildings["households"].sum())
        out["residents"] = int(self.buildings["residents"].sum())
        return out


def _tick(progress: Progress | None, phase: str, done: int, total: int) -> None:
    if progress is not None:
        progress(phase, done, total)


def read_outline(district: str) -> BaseGeometry:
    """The real outline of a seed district (EPSG:4326) from the bundled boundaries."""
    frame = gpd.read_file(data_path("boundaries", f"{district}.geojson"))
    if frame.empty:
        raise InputError(f"the bundled outline of district {district} is empty")
    outline: BaseGeometry = shapely.union_all(np.asarray(frame.geometry.array, dtype=object))
    return outline


# --- cells by the engine -------------------------------------------------------------------------


_RETRIES = (("with roads", True, None), ("without roads", False, None),
            ("with roads, footprints on a 10 cm grid", True, 0.1),
            ("without roads, footprints on a 10 cm grid", False, 0.1))  # fmt: skip
"""How a community is drawn again when the engine fails on it (a geometry error deep in its
tiling): without its roads, then with its footprints rounded to 10 cm."""


def _on_grid(geoms: NDArray[np.object_], grid: float) -> NDArray[np.object_]:
    def snap(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.round(xy / grid) * grid

    return np.asarray(shapely.transform(geoms, snap), dtype=object)


def _draw_chunk(
    args: tuple[
        gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, tuple[int, int]], int
    ],
) -> tuple[gpd.GeoDataFrame, pd.Series, dict[str, str]]:
    """Cells of a chunk of communities, and how those the engine failed on were drawn."""
    from gridgis.partition import PartitionError, draw_layout
    from gridgis.partition.errors import GeometryFailure

    units, outlines, roads, bounds, seed = args
    try:
        result = draw_layout(
            units, group="community_code", communities=outlines, roads=roads, bounds=bounds,
            seed=seed,
        )  # fmt: skip
        return result.cells, result.assignment, {}
    except (shapely.errors.GEOSException, GeometryFailure):
        pass
    cells: list[gpd.GeoDataFrame] = []
    assignments: list[pd.Series] = []
    notes: dict[str, str] = {}
    # One community at a time, to find those the engine cannot draw as they are.
    for code in outlines["code"]:
        mine = units[units["community_code"] == code]
        outline = outlines[outlines["code"] == code]
        errors: list[str] = []
        for how, with_roads, grid in _RETRIES:
            attempt = mine
            if grid is not None:
                attempt = mine.set_geometry(_on_grid(mine.geometry.to_numpy(), grid))
            try:
                result = draw_layout(
                    attempt, group="community_code", communities=outline,
                    roads=roads if with_roads else None, bounds={code: bounds[code]}, seed=seed,
                )  # fmt: skip
            except (shapely.errors.GEOSException, GeometryFailure) as exc:
                errors.append(f"{how}: {exc}")
                continue
            if errors:
                notes[str(code)] = f"drawn {how} ({errors[0]})"
            break
        else:
            raise PartitionError(
                f"the cell engine cannot draw community {code} ({len(mine)} buildings): "
                + "; ".join(errors)
            )
        cells.append(result.cells)
        assignments.append(result.assignment)
    return pd.concat(cells, ignore_index=True), pd.concat(assignments), notes


def draw_cells_for(
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    bounds: dict[str, tuple[int, int]],
    *,
    seed: int,
    workers: int | None = None,
    progress: Progress | None = None,
) -> tuple[gpd.GeoDataFrame, pd.Series, dict[str, str]]:
    """Cells of every community by :func:`gridgis.partition.draw_layout`, in parallel chunks.

    Each community's cells depend only on the seed and its own inputs, so
    splitting the communities among processes changes nothing. Processes are
    started with ``spawn``: a script calling this must guard its top level
    with ``if __name__ == "__main__":``.

    Returns
    -------
    cells, assignment, notes
        The cells (units' CRS), each unit's cell code, and for each community
        the engine failed on at first, how it was drawn (see :data:`_RETRIES`).
    """
    units = buildings[["households", "community_code", "geometry"]]
    codes = communities["code"].tolist()
    per = units.groupby("community_code").size().reindex(codes).fillna(0).to_numpy()
    n_workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    parallel = n_workers > 1 and len(units) >= _PARALLEL_UNITS
    n_chunks = min(len(codes), _CHUNKS_PER_WORKER * n_workers if parallel else 8)
    # Chunks of about equal work: communities in code order, cut by cumulative units.
    cut = np.searchsorted(np.cumsum(per + 20), np.linspace(0, (per + 20).sum(), n_chunks + 1)[1:-1])
    groups = [g for g in np.split(np.arange(len(codes)), np.unique(cut)) if len(g)]
    jobs = []
    for group in groups:
        mine = [codes[i] for i in group]
        jobs.append(
            (
                units[units["community_code"].isin(mine)],
                communities[communities["code"].isin(mine)][["code", "geometry"]],
                roads,
                {c: bounds[c] for c in mine},
                seed,
            )
        )
    results: list[tuple[gpd.GeoDataFrame, pd.Series, dict[str, str]] | None] = [None] * len(jobs)
    _tick(progress, "cells", 0, len(jobs))
    if parallel:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(n_workers, mp_context=context) as pool:
            futures = {pool.submit(_draw_chunk, job): i for i, job in enumerate(jobs)}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                results[futures[future]] = future.result()
                _tick(progress, "cells", done, len(jobs))
    else:
        for i, job in enumerate(jobs):
            results[i] = _draw_chunk(job)
            _tick(progress, "cells", i + 1, len(jobs))
    done_results = [r for r in results if r is not None]
    cells = pd.concat([r[0] for r in done_results], ignore_index=True)
    assignment = pd.concat([r[1] for r in done_results]).reindex(units.index)
    cells = gpd.GeoDataFrame(cells, geometry="geometry", crs=buildings.crs)
    notes = {code: note for r in done_results for code, note in r[2].items()}
    return cells.sort_values("code", ignore_index=True), assignment, dict(sorted(notes.items()))


# --- the district --------------------------------------------------------------------------------


def _to_wgs84(frame: gpd.GeoDataFrame, metric: pyproj.CRS) -> gpd.GeoDataFrame:
    """Every geometry column to EPSG:4326 (vertex by vertex, so shared vertices stay shared).

    A polygon that a microscopic ring makes invalid once converted (a ring of
    nanometres collapsing) is repaired; the repair changes nothing visible.
    """
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, gpd.array.GeometryDtype):
            geoms = crs_mod.transform_geometry(
                np.asarray(out[column].array, dtype=object), from_crs=metric, to_crs="EPSG:4326"
            )
            polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
            bad = np.flatnonzero(polygonal & ~shapely.is_valid(geoms))
            if bad.size:
                fixed = shapely.make_valid(geoms[bad])
                parts, index = shapely.get_parts(fixed, return_index=True)
                keep = np.isin(shapely.get_type_id(parts), (3, 6))
                rebuilt = np.full(bad.size, None, dtype=object)
                shapely.multipolygons(parts[keep], indices=index[keep], out=rebuilt)
                single = shapely.get_num_geometries(rebuilt) == 1
                rebuilt[single] = shapely.get_geometry(rebuilt[single], 0)
                geoms[bad] = rebuilt
            out[column] = gpd.GeoSeries(geoms, index=out.index, crs="EPSG:4326")
    return out.set_crs("EPSG:4326", allow_override=True)


def generate_district(
    district: str = "350304",
    *,
    seed: int = 0,
    scale: float = 1.0,
    outline: BaseGeometry | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> DemoDistrict:
    """Generate a demo district: geography, people, cells, a year of cases and patrols.

    Parameters
    ----------
    district:
        One of the seed districts (``211403``, ``350304``, ``430111``, ``220402``).
    seed:
        Random seed; the same seed gives the same district.
    scale:
        Share of the real population (and of cases and patrols) to generate,
        ``0 < scale <= 1``; the map stays the same. Cell bounds do not
        scale: at small scales most communities are one cell below the
        minimum, flagged ``below_min``.
    outline:
        The district outline (EPSG:4326); default the bundled real one.
    workers:
        Processes for the cell engine (default: up to 4, by CPU); 1 runs in
        this process.
    progress:
        ``progress(phase, done, total)``.
    today:
        The cases and patrols cover the year up to this day
        (:func:`gridgis.demo.cases.demo_period`; default today). The same seed and
        ``today`` give the same district; another ``today`` moves the cases and
        patrols in time by whole weeks and changes nothing else.

    Returns
    -------
    DemoDistrict

    Raises
    ------
    NotFoundError
        When ``district`` is not a seed district.
    InputError
        When ``scale`` is out of range.

    Examples
    --------
    >>> demo = generate_district("211403", scale=0.01, workers=1)  # doctest: +SKIP
    >>> sorted(demo.streets["name"])[:2]  # doctest: +SKIP
    ['北港街道', '双树乡']
    """
    if not (isinstance(scale, int | float) and 0 < float(scale) <= 1.0):
        raise InputError(f"`scale` was {scale!r} but is expected to be in (0, 1]")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"`seed` was {seed!r} but is expected to be a non-negative integer")
    prof = profile(district)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    streams = np.random.SeedSequence([int(seed), int(prof.code)]).spawn(6)
    rng_areas, rng_housing, rng_people, rng_cases, rng_patrols, rng_cells = (
        np.random.default_rng(s) for s in streams
    )
    streets_df, communities_df = divisions(prof.code)
    outline = read_outline(prof.code) if outline is None else outline

    _tick(progress, "areas", 0, 1)
    areas = areas_mod.build_areas(outline, prof, streets_df, communities_df, rng=rng_areas)
    metric = areas.crs
    _tick(progress, "areas", 1, 1)
    seconds["areas"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _tick(progress, "buildings", 0, 1)
    comm = areas.communities
    households = (comm["residents"] * float(scale) / prof.household_size).round().astype(np.int64)
    households.index = comm["code"].to_numpy()
    housing = buildings_mod.build_housing(areas, prof, households, rng=rng_housing)
    _tick(progress, "buildings", 1, 1)
    seconds["buildings"] = time.perf_counter() - clock

    clock = time.perf_counter()
    bounds = {
        code: RURAL_BOUNDS if kind == "village" else URBAN_BOUNDS
        for code, kind in zip(comm["code"], comm["kind"], strict=True)
    }
    roads_metric = gpd.GeoDataFrame(
        pd.concat(
            [
                areas.roads[["name", "kind", "geometry"]],
                housing.lanes[["name", "kind", "geometry"]],
            ],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=metric,
    )
    cell_seed = int(rng_cells.integers(2**31 - 1))
    cells, assignment, engine_notes = draw_cells_for(
        housing.buildings, comm, roads_metric, bounds, seed=cell_seed, workers=workers,
        progress=progress,
    )  # fmt: skip
    residents = housing.buildings["residents"].groupby(assignment.to_numpy()).sum()
    cells = cells.rename(columns={"group": "community_code"})
    cells["community_code"] = cells["code"].str[:12]
    cells["residents"] = cells["code"].map(residents).fillna(0).astype(np.int64)
    cells["households"] = cells["households"].astype(np.int64)
    cells["flags"] = [list(f) for f in cells["flags"]]
    cells = cells[["code", "community_code", "households", "residents", "flags", "geometry"]]
    seconds["cells"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _tick(progress, "people", 0, 1)
    people = people_mod.build_people(
        cells, housing.buildings, areas.streets, comm, prof, rng=rng_people
    )
    _tick(progress, "people", 1, 1)
    seconds["people"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _tick(progress, "cases", 0, 1)
    n_cases = round(prof.cases * float(scale))
    cases = cases_mod.build_cases(
        n_cases, cells, housing.buildings, housing.hotspots, roads_metric, people.workers,
        people.worker_cells, areas.streets, comm, prof, rng=rng_cases, today=today,
    )  # fmt: skip
    _tick(progress, "cases", 1, 1)
    seconds["cases"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _tick(progress, "inspections", 0, 1)
    patrols = cases_mod.build_inspections(
        cells, people.workers, comm, prof, rng=rng_patrols, scale=float(scale), today=today
    )
    _tick(progress, "inspections", 1, 1)
    seconds["inspections"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # Roads as lines only: clipping leaves points and slivers of a few centimetres behind.
    parts, index = shapely.get_parts(roads_metric.geometry.to_numpy(), return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0.5)
    lines = np.full(len(roads_metric), None, dtype=object)
    shapely.multilinestrings(parts[keep], indices=index[keep], out=lines)
    one = shapely.get_num_geometries(lines) == 1
    lines[one] = shapely.get_geometry(lines[one], 0)
    roads_out = roads_metric.set_geometry(gpd.GeoSeries(lines, crs=metric))
    roads_out = roads_out[~shapely.is_missing(lines)].reset_index(drop=True)
    roads_out.insert(
        0, "external_id", [f"demo-{prof.code}-r{i:05d}" for i in range(1, len(roads_out) + 1)]
    )
    communities_out = comm[
        ["code", "name", "street_code", "short_name", "kind", "db_kind", "residents", "geometry"]
    ].rename(columns={"residents": "residents_full"})
    communities_out["min_households"] = [bounds[c][0] for c in communities_out["code"]]
    communities_out["max_households"] = [bounds[c][1] for c in communities_out["code"]]
    communities_out["residents_target"] = (
        (communities_out["residents_full"] * float(scale)).round().astype(np.int64)
    )
    communities_out["households_target"] = communities_out["code"].map(households).to_numpy()
    communities_out = communities_out.drop(columns="residents_full")
    district_frame = gpd.GeoDataFrame(
        {"code": [prof.code], "name": [prof.name]}, geometry=[outline], crs="EPSG:4326"
    )
    communities_wgs84 = _to_wgs84(
        gpd.GeoDataFrame(communities_out, geometry="geometry", crs=metric), metric
    )
    # Cells fitted to the outlines as stored, across the whole district at once (the
    # chunks were drawn apart): neighbouring communities' cells share every vertex.
    cells_wgs84 = fit_layout(_to_wgs84(cells, metric), communities_wgs84[["code", "geometry"]])
    demo = DemoDistrict(
        code=prof.code,
        name=prof.name,
        seed=int(seed),
        scale=float(scale),
        profile=prof,
        district=district_frame,
        streets=_to_wgs84(areas.streets, metric),
        communities=communities_wgs84,
        roads=_to_wgs84(roads_out, metric),
        compounds=_to_wgs84(housing.compounds, metric),
        buildings=_to_wgs84(housing.buildings, metric),
        units=housing.units,
        cells=cells_wgs84,
        workers=people.workers,
        worker_cells=people.worker_cells,
        branches=_to_wgs84(people.branches, metric),
        branch_cells=people.branch_cells,
        facilities=_to_wgs84(people.facilities, metric),
        hotspots=_to_wgs84(housing.hotspots, metric),
        cases=sanling_cases(_to_wgs84(cases.records, metric), seed=int(seed), district=prof.code),
        inspections=_to_wgs84(patrols.records, metric),
        inspection_cells=patrols.cells,
        period=cases_mod.demo_period(today),
        targets={
            "residents": round(prof.residents * float(scale)),
            "households": round(prof.households * float(scale)),
            "cases": n_cases,
        },
        shortfall=housing.shortfall,
        engine_notes=engine_notes,
    )
    seconds["wgs84"] = time.perf_counter() - clock
    demo.seconds = seconds
    return demo
