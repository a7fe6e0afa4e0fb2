"""Real footprints through `gridgis partition`: repeated sites, broken rings, collapsed parts.

OpenStreetMap draws some buildings twice (a building and its ``building:part``
with the same outline), some rings cross themselves, some collapse to a line.
Cells are drawn from repaired footprints (gridgis.partition.footprints), and
the repairs are reported, never a GEOS traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from click.testing import CliRunner, Result
from conftest import SHARED_DATA
from shapely.geometry import Polygon, box

from gridgis.cli import main
from gridgis.partition import draw_layout
from gridgis.partition.footprints import clean_footprints, nearest_regions
from gridgis.partition.outline import outline_of_units

LUJIAZUI = SHARED_DATA / "real" / "shanghai_lujiazui" / "shanghai_buildings.geojson"
METRIC = "EPSG:4549"  # CGCS2000 / 3-degree Gauss-Kruger CM 120E: what crs.py picks for Shanghai
X0, Y0 = 641_400.0, 3_458_600.0


def _partition(units: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        main,
        ["partition", str(units), "--households-field", "households", "-o", str(out), *extra],
    )


def _read_back(out: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    cells = pyogrio.read_dataframe(out, layer="cells")
    units = pyogrio.read_dataframe(out, layer="units")
    return cells, units


def _check_layout(
    cells: gpd.GeoDataFrame, units: gpd.GeoDataFrame, lo: int, hi: int
) -> tuple[int, float]:
    """Cells tile their ground once, every unit lies wholly in its one cell, households add up.

    Returns the number of cells and the share within bounds.
    """
    cells = cells.to_crs(METRIC)
    units = units.to_crs(METRIC)
    geoms = np.asarray(cells.geometry.array, dtype=object)
    assert shapely.is_valid(geoms).all()
    union = shapely.union_all(geoms, grid_size=1e-6)
    overlap = float(np.sum(shapely.area(geoms)) - shapely.area(union))
    assert overlap < 1.0, f"cells overlap by {overlap:.3f} m²"
    # Every building has a cell, and that cell holds its footprint (1 cm² of noise).
    assert units["cell_code"].notna().all()
    assert set(units["cell_code"]) <= set(cells["code"])
    by_code = dict(zip(cells["code"], geoms, strict=True))
    own = np.asarray([by_code[c] for c in units["cell_code"]], dtype=object)
    footprints = shapely.make_valid(np.asarray(units.geometry.array, dtype=object))
    outside = shapely.area(footprints) - shapely.area(shapely.intersection(footprints, own))
    assert outside.max() < 1e-4, f"footprint row {int(outside.argmax())} sticks out of its cell"
    # Households: each cell's count is its units' sum; out-of-bounds cells are flagged.
    counted = units.groupby("cell_code")["households"].sum()
    assert counted.reindex(cells["code"], fill_value=0).tolist() == cells["households"].tolist()
    within = (cells["households"] >= lo) & (cells["households"] <= hi)
    flags = cells["flags"].fillna("")
    assert (flags[~within] != "").all()
    return len(cells), float(within.mean())


def _lujiazui(tmp_path: Path) -> Path:
    """The real footprints, with households from the footprint area and two communities.

    The file has no households: one per 150 m² of footprint (and at least one).
    Communities: west (the Bund, 浦西) and east (Lujiazui, 浦东) of 121.495° E,
    by the centroid of the largest footprint each overlaps (a building's parts
    are in the building's community).
    """
    buildings = gpd.read_file(LUJIAZUI)
    geoms = np.asarray(buildings.to_crs(METRIC).geometry.array, dtype=object)
    area = shapely.area(geoms)
    buildings["households"] = (1 + area // 150).astype(int)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    shared = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    host = np.arange(len(geoms))
    for i, j in zip(a[shared > 0].tolist(), b[shared > 0].tolist(), strict=True):
        host[i] = j if area[j] > area[host[i]] else host[i]
    lon = shapely.get_x(shapely.centroid(np.asarray(buildings.geometry.array)))[host]
    buildings["community"] = np.where(lon < 121.495, "浦西", "浦东")
    path = tmp_path / "lujiazui.gpkg"
    pyogrio.write_dataframe(buildings, path)
    return path


def test_partition_draws_the_real_lujiazui_footprints(tmp_path: Path) -> None:
    units = _lujiazui(tmp_path)
    out = tmp_path / "cells.gpkg"
    result = _partition(units, out, "--group-field", "community")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    cells, mapped = _read_back(out)
    assert len(mapped) == 1450
    n, share = _check_layout(cells, mapped, 300, 500)
    summary = re.search(
        r"(\d+) cells from 1450 units in 2 groups; ([\d.]+)% within 300-500", result.output
    )
    assert summary is not None, result.output
    assert int(summary.group(1)) == n
    assert abs(float(summary.group(2)) - 100 * share) < 0.1
    # Communities keep their own buildings: a cell never mixes both sides of the river.
    sides = mapped.groupby("cell_code")["community"].nunique()
    assert (sides == 1).all()


def _footprints() -> list[Polygon]:
    """Ten 12 m x 12 m buildings 40 m apart, in two rows, in the metric CRS."""
    return [
        box(X0 + 40 * i, Y0 + 40 * j, X0 + 40 * i + 12, Y0 + 40 * j + 12)
        for j in range(2)
        for i in range(5)
    ]


def _noisy(poly: Polygon) -> Polygon:
    """The same outline with each vertex repeated and doubled 0.1 mm away."""
    ring: list[tuple[float, float]] = []
    for x, y in shapely.get_coordinates(poly)[:-1]:
        ring += [(x, y), (x, y), (x + 1e-4, y), (x + 1e-4, y + 1e-4)]
    return Polygon([*ring, ring[0]])


def test_buildings_drawn_twice_in_two_communities(tmp_path: Path) -> None:
    """OSM's building and building:part with one outline: one centroid, once in the Voronoi."""
    polys = _footprints()
    frame = gpd.GeoDataFrame(
        {
            "households": [60] * 12,
            "community": ["A"] * 5 + ["B"] * 5 + ["A", "B"],
        },
        geometry=[*polys, polys[0], _noisy(polys[7])],
        crs=METRIC,
    )
    outlines = outline_of_units(frame, group="community")
    assert outlines is not None
    assert not shapely.intersects(
        shapely.buffer(outlines.geometry.iloc[0], -0.01), outlines.geometry.iloc[1]
    )
    result = draw_layout(
        frame,
        households="households",
        group="community",
        communities=outlines,
        min_households=100,
        max_households=200,
    )
    assert result.assignment.notna().all()
    # The building drawn twice is one site: both copies in the one cell around it.
    code = result.assignment.iloc[0]
    assert result.assignment.iloc[10] == code and code.startswith("A")
    cells = result.cells.set_index("code").geometry
    assert shapely.covers(cells[code], polys[0])
    assert shapely.covers(cells[result.assignment.iloc[11]], polys[7])


def test_building_drawn_twice_in_two_communities_is_named(tmp_path: Path) -> None:
    polys = _footprints()
    frame = gpd.GeoDataFrame(
        {"households": [60] * 11, "community": ["A"] * 5 + ["B"] * 6},
        geometry=[*polys, polys[0]],
        crs=METRIC,
    )
    units = tmp_path / "twice.gpkg"
    pyogrio.write_dataframe(frame, units)
    result = _partition(units, tmp_path / "cells.gpkg", "--group-field", "community")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1] == (
        "Error: 1 footprint(s) lie wholly under buildings of another community (a building "
        "and its part, or a building drawn twice, in two communities): rows 10 (B); give them "
        "one community, or leave the copy out"
    )


def test_a_geos_failure_is_a_clear_error(tmp_path: Path) -> None:
    """Small areas that tile, one drawn twice: GEOS's coverage union refuses the overlap.

    (A known limit: areas that tile are not grouped into sites as footprints are.)
    """
    areas = [
        box(X0 + 30 * i, Y0 + 30 * j, X0 + 30 * i + 20, Y0 + 30 * j + 20)
        for j in range(4)
        for i in range(4)
    ]  # 53 % of their hull: small areas that tile, by outline.TILING_SHARE
    frame = gpd.GeoDataFrame({"households": [60] * 17}, geometry=[*areas, areas[0]], crs=METRIC)
    units = tmp_path / "areas.gpkg"
    pyogrio.write_dataframe(frame, units)
    result = _partition(units, tmp_path / "cells.gpkg", "--min", "100", "--max", "200")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1] == (
        "Error: drawing the cells of a community failed on the units' geometry (GEOS: "
        "TopologyException: CoverageUnion cannot process overlapping inputs.); check the units "
        "for footprints drawn twice or broken near there, and repair or leave them out"
    )


def test_broken_footprints_are_repaired_and_reported(tmp_path: Path) -> None:
    polys = _footprints()
    bowtie = Polygon([(X0 + 200, Y0), (X0 + 212, Y0 + 12), (X0 + 212, Y0), (X0 + 200, Y0 + 12)])
    flat = Polygon([(X0 + 160, Y0 + 20), (X0 + 170, Y0 + 20), (X0 + 165, Y0 + 20)])
    frame = gpd.GeoDataFrame(
        {"households": [60] * 10 + [60, 60, 60]},
        geometry=[*polys, _noisy(box(X0 + 200, Y0 + 40, X0 + 212, Y0 + 52)), bowtie, flat],
        crs=METRIC,
    )
    units = tmp_path / "broken.gpkg"
    pyogrio.write_dataframe(frame, units)
    out = tmp_path / "cells.gpkg"
    result = _partition(units, out, "--min", "150", "--max", "250")
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: row 13: footprint was invalid (Self-intersection[641565 3458620]); "
        "no area left: it joins the cell of the nearest building",
        "note: row 11: footprint was invalid (Self-intersection[641600.0001 3458652]); repaired",
        "note: row 12: footprint was invalid (Self-intersection[641606 3458606]); repaired",
    ]
    cells, mapped = _read_back(out)
    assert len(mapped) == 13
    _check_layout(cells, mapped, 150, 250)
    assert int(cells["households"].sum()) == 13 * 60
    # The flat ring has no tile of its own: it is counted in its neighbour's cell.
    assert mapped["cell_code"].iloc[12] == mapped["cell_code"].iloc[4]


def test_clean_footprints_leaves_clean_ones_alone() -> None:
    polys = _footprints()
    fixed = clean_footprints([*polys, _noisy(polys[0])])
    assert fixed.repaired.tolist() == [10] and fixed.collapsed.size == 0
    assert all(fixed.geoms[k] is polys[k] for k in range(10))
    assert shapely.get_num_coordinates(fixed.geoms[10]) == 5
    assert shapely.equals(fixed.geoms[10], polys[0])


def test_nearest_regions_share_a_repeated_site() -> None:
    xy = np.array([[X0, Y0], [X0 + 10, Y0], [X0, Y0], [X0 + 1e-4, Y0 + 30]])
    ground = box(X0 - 5, Y0 - 5, X0 + 15, Y0 + 35)
    regions = shapely.intersection(nearest_regions(xy, ground), ground)
    assert shapely.is_empty(regions[2])
    assert abs(float(np.sum(shapely.area(regions))) - shapely.area(ground)) < 1e-6


def test_nearest_regions_are_drawn_from_the_points_as_given() -> None:
    """Distinct points keep their exact coordinates as sites: rounding them to the site
    resolution moved the diagram, and the cells drawn from it left a 125 m² gap in
    community 430111008010 of the 雨花区 demo."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, (300, 2)) + np.array([491_000.0, 3_131_000.0])
    ground = shapely.box(491_000, 3_131_000, 492_000, 3_132_000)
    plain = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=ground, ordered=True)
    )
    regions = nearest_regions(xy, ground)
    assert all(shapely.equals_exact(regions, plain, tolerance=0))
