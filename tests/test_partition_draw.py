"""Drawing grid cells: exact tiling, bounds, roads, codes, special cases, real data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from sqlalchemy import text

from gridgis.crs import metric_crs
from gridgis.db.layout import communities_in, read_inputs
from gridgis.partition import (
    DrawResult,
    PartitionError,
    assign_codes,
    draw_cells,
    draw_layout,
    polsby_popper,
)
from gridgis.partition._engine import too_coarse
from gridgis.partition.validate import validate_layout

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEICESTER = DATA / "real" / "leicester_oa"
SHANGHAI = DATA / "real" / "shanghai_lujiazui"
CRS = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres
X0, Y0 = 480_000.0, 2_560_000.0  # near Guangzhou
COMMUNITY = "440106001001"


# --- helpers ------------------------------------------------------------------------------------


def squares(side: int, *, size: float = 100.0, low: int = 40, high: int = 120, seed: int = 0):
    """side × side square small areas with random households."""
    rng = np.random.default_rng(seed)
    col, row = np.meshgrid(np.arange(side), np.arange(side))
    x, y = X0 + col.ravel() * size, Y0 + row.ravel() * size
    return gpd.GeoDataFrame(
        {"households": rng.integers(low, high + 1, side * side)},
        geometry=shapely.box(x, y, x + size, y + size),
        crs=CRS,
    )


def footprints(area: Polygon, *, spacing: float = 40.0, households: int = 30, seed: int = 0):
    """Rectangular buildings on a jittered lattice inside ``area``."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    gx, gy = np.meshgrid(np.arange(minx + spacing / 2, maxx, spacing),
                         np.arange(miny + spacing / 2, maxy, spacing))  # fmt: skip
    cx = gx.ravel() + rng.uniform(-5, 5, gx.size)
    cy = gy.ravel() + rng.uniform(-5, 5, gy.size)
    w, h = rng.uniform(10, 22, cx.size), rng.uniform(8, 12, cx.size)
    geoms = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    inside = shapely.contains(area, geoms)
    geoms = geoms[inside]
    return gpd.GeoDataFrame(
        {"households": rng.integers(households // 2, households * 3 // 2 + 1, geoms.size)},
        geometry=geoms,
        crs=CRS,
    )


def points_in(area: Polygon, n: int, *, households: int = 30, seed: int = 0):
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    xy = np.column_stack([rng.uniform(minx, maxx, 4 * n), rng.uniform(miny, maxy, 4 * n)])
    pts = shapely.points(xy)
    pts = pts[shapely.contains(area, pts)][:n]
    return gpd.GeoDataFrame(
        {"households": rng.integers(households // 2, households * 3 // 2 + 1, pts.size)},
        geometry=pts,
        crs=CRS,
    )


def assert_tiles(result: DrawResult, community, *, rel: float = 1e-6) -> None:
    """Cells tile ``community`` exactly and are single polygons."""
    geoms = np.asarray(result.cells.geometry.array)
    union = shapely.union_all(geoms)
    assert shapely.area(shapely.symmetric_difference(union, community)) <= rel * community.area
    assert abs(shapely.area(geoms).sum() - community.area) <= rel * community.area
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    pairs = a < b
    overlap = shapely.area(shapely.intersection(geoms[a[pairs]], geoms[b[pairs]]))
    assert overlap.sum() <= rel * community.area
    assert (shapely.get_num_geometries(geoms) == 1).all(), "a cell is in several pieces"


def assert_units(result: DrawResult, units: gpd.GeoDataFrame, community=None) -> None:
    """Every unit is in exactly one cell, wholly (never split), and counts add up.

    Units crossing the ``community``'s outline are judged by their part inside it.
    """
    assert result.assignment.index.equals(units.index)
    assert result.assignment.notna().all()
    cells = result.cells.set_index("code")
    assert set(result.assignment) <= set(cells.index)
    counted = units["households"].groupby(result.assignment).sum()
    assert (counted.reindex(cells.index, fill_value=0) == cells["households"]).all()
    own = np.asarray(cells.geometry.reindex(result.assignment.to_numpy()).array)
    geoms = np.asarray(units.geometry.array)
    if (shapely.get_type_id(geoms) == 0).all():
        assert shapely.dwithin(own, geoms, 1e-6).all()
    else:
        if community is not None:
            geoms = shapely.intersection(geoms, community)
        inside = shapely.area(shapely.intersection(own, geoms)) / shapely.area(geoms)
        assert inside.min() > 1 - 1e-6


def assert_bounds(result: DrawResult, lo: int = 300, hi: int = 500) -> None:
    """Every cell is within bounds unless flagged with a reason."""
    cells = result.cells
    out = ~cells["households"].between(lo, hi)
    assert all(len(f) > 0 for f in cells.loc[out, "flags"])
    assert all(len(f) == 0 for f in cells.loc[~out, "flags"])


def assert_valid(result: DrawResult, units=None, communities=None, community="group") -> None:
    report = validate_layout(
        result.cells,
        units=units,
        households="households" if units is not None else None,
        communities=communities,
        community=community,
        flags="flags",
    )
    assert report.ok, "\n".join(report.lines())


# --- the rules ----------------------------------------------------------------------------------


def test_small_areas_tile_exactly_within_bounds() -> None:
    units = squares(20)
    result = draw_cells(units, community_code=COMMUNITY)
    community = box(X0, Y0, X0 + 2000, Y0 + 2000)
    assert_tiles(result, community)
    assert_units(result, units)
    assert result.cells["households"].between(300, 500).all()
    assert result.summary()["share_within_bounds"] == 1.0
    assert result.cells.crs == units.crs
    assert list(result.cells.columns) == [
        "code", "group", "households", "units", "polsby_popper", "flags", "geometry"
    ]  # fmt: skip
    # The tessellation of small areas is the areas themselves.
    tiles = np.asarray(result.tessellation.geometry.array)
    assert shapely.area(shapely.symmetric_difference(tiles, units.geometry.array)).max() < 1e-6
    assert_valid(result, units)


def test_codes_are_15_digits_unique_and_run_west_east_north_south() -> None:
    result = draw_cells(squares(20, seed=3), community_code=COMMUNITY)
    codes = result.cells["code"]
    assert codes.str.fullmatch(COMMUNITY + r"\d{3}").all()
    assert codes.is_unique and codes.is_monotonic_increasing
    assert codes.iloc[0] == COMMUNITY + "001"
    # The documented rule: rows of one typical cell height from the north, west→east.
    points = result.cells.geometry.representative_point()
    bounds = result.cells.geometry.bounds
    height = float((bounds["maxy"] - bounds["miny"]).median())
    row = np.floor((points.y.max() - points.y) / height + 1e-9).to_numpy()
    x = points.x.to_numpy()
    assert (np.diff(row) >= 0).all()
    same_row = np.diff(row) == 0
    assert (np.diff(x)[same_row] >= 0).all()


def test_assign_codes_rule_and_width() -> None:
    cells = gpd.GeoDataFrame(
        geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)], crs=CRS
    )
    assert assign_codes(cells, prefix=COMMUNITY).tolist() == [
        COMMUNITY + "004", COMMUNITY + "003", COMMUNITY + "001", COMMUNITY + "002"
    ]  # fmt: skip
    assert assign_codes(cells, prefix="", first_number=998).tolist() == [
        "1001", "1000", "0998", "0999"
    ]  # fmt: skip
    with pytest.raises(PartitionError, match="at most 999 cells"):
        assign_codes(cells, prefix=COMMUNITY, first_number=997)


def test_polsby_popper() -> None:
    values = polsby_popper([box(0, 0, 1, 1), box(0, 0, 10, 1), Point(0, 0)])
    assert values[0] == pytest.approx(np.pi / 4)
    assert values[1] < values[0]
    assert np.isnan(values[2])


def test_points_need_a_community_and_tile_it() -> None:
    community = box(X0, Y0, X0 + 1200, Y0 + 900)
    units = points_in(community, 120)
    with pytest.raises(PartitionError, match="`community` is required"):
        draw_cells(units)
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, units)
    assert_bounds(result)
    assert result.cells["households"].between(300, 500).all()
    assert_valid(result, units)


def test_footprints_are_never_split() -> None:
    community = box(X0, Y0, X0 + 1000, Y0 + 800)
    units = footprints(community)
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, units)
    assert result.cells["households"].between(300, 500).all()
    # Each building lies inside its own tile.
    tiles = np.asarray(result.tessellation.geometry.array)
    inside = shapely.area(shapely.intersection(tiles, np.asarray(units.geometry.array)))
    assert np.allclose(inside, units.area.to_numpy(), rtol=1e-6)
    assert_valid(result, units)


def test_oversized_building_is_a_cell_of_its_own() -> None:
    community = box(X0, Y0, X0 + 800, Y0 + 600)
    units = footprints(community, seed=2)
    tower = units.index[len(units) // 2]
    units.loc[tower, "households"] = 800
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    code = result.assignment[tower]
    cell = result.cells.set_index("code").loc[code]
    assert cell["units"] == 1 and cell["households"] == 800
    assert cell["flags"] == ["oversized_unit"]
    assert_bounds(result)
    assert_tiles(result, community)
    assert_valid(result, units)


def test_footprints_overlapping_by_metres_are_never_split() -> None:
    """Two large OpenStreetMap footprints drawn over each other by 5 m² (under 1 % of
    either, issue 16): one site, so the later one is not cut between two cells."""
    community = box(X0, Y0, X0 + 400, Y0 + 100)
    units = gpd.GeoDataFrame(
        {"households": [400, 400, 350, 350]},
        geometry=[box(X0 + 10, Y0 + 10, X0 + 100, Y0 + 90),
                  box(X0 + 99.9, Y0 + 10, X0 + 190, Y0 + 90),  # 0.1 m × 80 m over the first
                  box(X0 + 210, Y0 + 10, X0 + 290, Y0 + 90),
                  box(X0 + 310, Y0 + 10, X0 + 390, Y0 + 90)],
        crs=CRS,
    )  # fmt: skip
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert result.assignment[0] == result.assignment[1]
    tower = result.cells.set_index("code").loc[result.assignment[0]]
    assert tower["households"] == 800 and tower["flags"] == ["oversized_unit"]
    assert_tiles(result, community)
    assert_valid(result, units)


def test_pocket_cut_off_by_an_oversized_tower_joins_the_tower() -> None:
    """A house of 100 households that only a tower of 800 reaches (issue 16, Lujiazui): it
    joins the tower's cell, already out of bounds, instead of being a cell of 100; and
    houses that fit neither one cell nor two give the tower what they cannot fit."""
    community = box(X0, Y0, X0 + 400, Y0 + 100)
    units = gpd.GeoDataFrame(
        {"households": [100, 800, 200, 200]},
        geometry=[box(X0 + 20 + 100 * i, Y0 + 30, X0 + 80 + 100 * i, Y0 + 70) for i in range(4)],
        crs=CRS,
    )
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert result.assignment[0] == result.assignment[1]
    tower = result.cells.set_index("code").loc[result.assignment[1]]
    assert tower["households"] == 900 and tower["flags"] == ["oversized_unit"]
    assert result.cells["households"].sort_values().tolist() == [400, 900]
    assert_bounds(result)
    assert_tiles(result, community)
    assert_valid(result, units)
    # 560 households beside the tower fit neither one cell nor two: the tower takes the
    # house next to it (80), and the other two are a cell within bounds.
    units["households"] = [800, 80, 240, 240]
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert result.assignment[0] == result.assignment[1]
    assert result.cells["households"].sort_values().tolist() == [480, 880]
    assert_bounds(result)
    assert_valid(result, units)


def test_units_too_coarse_for_the_bounds_are_flagged_and_excused() -> None:
    """72 + 6 × 144 households: 432 + 504, 360 + 576 or 432 + 360 + 144; no way within 300–500."""
    community = box(X0, Y0, X0 + 700, Y0 + 100)
    units = gpd.GeoDataFrame(
        {"households": [72] + [144] * 6},
        geometry=[box(X0 + 20 + 100 * i, Y0 + 30, X0 + 80 + 100 * i, Y0 + 70) for i in range(7)],
        crs=CRS,
    )
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    out = result.cells[~result.cells["households"].between(300, 500)]
    assert len(out) == 1 and "coarse_units" in out["flags"].iloc[0]
    assert_tiles(result, community)
    assert_valid(result, units)  # the flag turns the finding into a warning
    report = validate_layout(result.cells, units=units, households="households")
    assert not report.ok  # without the engine's flags it is an error


def test_pocket_behind_a_tower_is_flagged_and_excused() -> None:
    """Houses reachable only through a tower's tile: too few alone, too many with the tower."""
    main = box(X0, Y0, X0 + 600, Y0 + 300)
    neck = box(X0 + 600, Y0 + 140, X0 + 640, Y0 + 160)
    pocket = box(X0 + 640, Y0 + 100, X0 + 740, Y0 + 200)
    community = shapely.union_all([main, neck, pocket])
    gx, gy = np.meshgrid(np.arange(20, 600, 40), np.arange(20, 300, 40))
    xy = [(X0 + x, Y0 + y) for x, y in zip(gx.ravel(), gy.ravel(), strict=True)]
    households = [30] * len(xy) + [400, 60, 60]
    xy += [(X0 + 620, Y0 + 150), (X0 + 700, Y0 + 125), (X0 + 700, Y0 + 175)]
    units = gpd.GeoDataFrame(
        {"households": households}, geometry=[Point(x, y) for x, y in xy], crs=CRS
    )
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    tower = result.assignment.iloc[-3]
    assert (result.assignment.iloc[-2:] == tower).all()
    cell = result.cells.set_index("code").loc[tower]
    assert cell["households"] == 520 and cell["flags"] == ["above_max", "enclosed_units"]
    others = result.cells[result.cells["code"] != tower]
    assert others["households"].between(300, 500).all()
    assert_tiles(result, community)
    assert_units(result, units)
    assert_valid(result, units)


def test_too_coarse_agrees_with_brute_force() -> None:
    from itertools import product

    rng = np.random.default_rng(3)
    for _ in range(300):
        values = rng.choice([40, 72, 100, 144, 150, 210, 260, 330], size=rng.integers(1, 8))
        total = int(values.sum())
        feasible = any(
            ((sums >= 300) & (sums <= 500)).all()
            for k in range(1, min(total // 300, 4) + 1)
            for labels in product(range(k), repeat=values.size)
            for sums in [np.bincount(labels, weights=values, minlength=k)]
        )
        if total < 1200:  # at most three cells: the proof is exact
            assert too_coarse(values.astype(float), 300, 500) == (not feasible), values
        elif feasible:
            assert not too_coarse(values.astype(float), 300, 500), values


def test_community_below_min_is_one_flagged_cell() -> None:
    community = box(X0, Y0, X0 + 300, Y0 + 300)
    units = points_in(community, 6, households=30)
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert len(result.cells) == 1
    assert result.cells["flags"].iloc[0] == ["below_min"]
    assert result.cells["households"].iloc[0] == units["households"].sum()
    assert result.cells.geometry.iloc[0].equals(community)


def test_community_with_a_hole() -> None:
    hole = box(X0 + 400, Y0 + 300, X0 + 700, Y0 + 500)
    community = box(X0, Y0, X0 + 1100, Y0 + 800).difference(hole)
    units = footprints(community, seed=4)
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, units)
    assert shapely.area(shapely.intersection(shapely.union_all(result.cells.geometry), hole)) < 1e-6
    assert result.cells["households"].between(300, 500).all()


def test_comb_shaped_community_tiles_are_one_piece_each() -> None:
    """A unit's nearest ground can lie across a gap of the outline: it goes to a neighbour."""
    teeth = [box(X0, Y0 + y, X0 + 1000, Y0 + y + 100) for y in (0, 200, 400)]
    community = shapely.union_all([box(X0, Y0, X0 + 100, Y0 + 500), *teeth])
    xy = [(50, 250), (900, 250), (350, 50), (350, 450), (650, 250)]
    units = gpd.GeoDataFrame(
        {"households": [100] * len(xy)},
        geometry=[Point(X0 + x, Y0 + y) for x, y in xy],
        crs=CRS,
    )
    # Nearest to the middle tooth's far end (900, 250) are also the far ends of the others.
    result = draw_cells(
        units, community=community, community_code=COMMUNITY, min_households=90, max_households=110
    )
    tiles = np.asarray(result.tessellation.geometry.array)
    assert (shapely.get_num_geometries(tiles) == 1).all(), "a tile is in several pieces"
    assert len(result.cells) == len(units)
    assert_tiles(result, community)
    assert_units(result, units)
    report = validate_layout(
        result.cells, units=units, households="households", min_households=90, max_households=110
    )
    assert report.ok, "\n".join(report.lines())


def test_multipolygon_community_keeps_islands_apart() -> None:
    big = box(X0, Y0, X0 + 800, Y0 + 800)
    small = box(X0 + 1000, Y0, X0 + 1120, Y0 + 120)  # a few buildings only
    community = MultiPolygon([big, small])
    units = pd.concat([footprints(big, seed=5), footprints(small, seed=6)], ignore_index=True)
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, units)
    for geom in result.cells.geometry:
        inside_big = geom.intersection(big).area
        assert inside_big == pytest.approx(geom.area, rel=1e-9) or inside_big < 1e-6
    island = result.cells[result.cells.intersects(small.buffer(-1))]
    assert len(island) == 1
    assert island["flags"].iloc[0] == ["below_min", "infeasible_component"]
    assert_bounds(result)


def test_specks_of_noise_join_a_neighbour_and_real_orphans_stay() -> None:
    """A road 2 mm off a corner cuts a speck (2e-6 m²) no unit reaches: never a cell of its own."""
    big = box(X0, Y0, X0 + 600, Y0 + 600)
    island = box(X0 + 800, Y0, X0 + 900, Y0 + 100)  # real ground without any unit
    community = MultiPolygon([big, island])
    units = points_in(big, 40, seed=1)
    corner = LineString([(X0 - 1, Y0 + 1.002), (X0 + 1.002, Y0 - 1)])
    street = LineString([(X0 + 300, Y0 - 10), (X0 + 300, Y0 + 610)])
    roads = gpd.GeoSeries([corner, street], crs=CRS)
    result = draw_cells(units, community=community, community_code=COMMUNITY, roads=roads)
    cells = result.cells
    assert cells.area.min() > 1.0, "a cell is a speck of coordinate noise"
    orphans = cells[cells["units"] == 0]
    assert len(orphans) == 1
    assert orphans.geometry.iloc[0].equals(island)
    assert orphans["flags"].iloc[0] == ["below_min", "no_units"]
    assert_tiles(result, community)
    assert_units(result, units)
    assert_bounds(result)


def test_buildings_on_the_boundary_are_clipped_and_points_on_it_belong() -> None:
    community = box(X0, Y0, X0 + 600, Y0 + 600)
    units = footprints(box(X0 - 20, Y0 - 20, X0 + 620, Y0 + 620), seed=7)
    units = units[units.representative_point().within(community)]
    assert (~units.within(community)).any(), "the fixture must straddle the boundary"
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, units, community)
    on_edge = gpd.GeoDataFrame(
        {"households": [40, 40, 40]},
        geometry=[Point(X0, Y0 + 300), Point(X0 + 600, Y0 + 600), Point(X0 + 300, Y0 + 300)],
        crs=CRS,
    )
    pts = pd.concat([points_in(community, 40, seed=8), on_edge], ignore_index=True)
    result = draw_cells(pts, community=community, community_code=COMMUNITY)
    assert_tiles(result, community)
    assert_units(result, pts)


def test_imported_communities_are_tiled_exactly_and_share_their_seam() -> None:
    # Issue 14, defect 15: cells drawn inside imported lon/lat outlines came back from
    # the metric CRS off the stored edges (slivers outside the community, and corners
    # on the shared edge that the other side's cells lack).
    x0, y0 = 119.0, 25.40
    a, b = (x0 + 0.004, y0), (x0 + 0.008, y0 + 0.0055)  # a diagonal edge of 700 m
    west = Polygon([(x0, y0), a, b, (x0, y0 + 0.0055)])
    east = Polygon([a, (x0 + 0.012, y0), (x0 + 0.012, y0 + 0.0055), b])
    codes = ["350304001001", "350304001002"]
    communities = gpd.GeoDataFrame({"code": codes}, geometry=[west, east], crs="EPSG:4326")
    rng = np.random.default_rng(3)
    points, owners = [], []
    for code, outline in zip(codes, (west, east), strict=True):
        xy = rng.uniform(outline.bounds[:2], outline.bounds[2:], (1000, 2))
        inside = shapely.points(xy)[
            shapely.contains(shapely.buffer(outline, -2e-5), shapely.points(xy))
        ]
        points += list(inside[:150])
        owners += [code] * 150
    units = gpd.GeoDataFrame(
        {"households": 10, "community": owners}, geometry=points, crs="EPSG:4326"
    )
    roads = gpd.GeoSeries(
        [
            LineString([(x0, y0 + 0.003), (x0 + 0.012, y0 + 0.0025)]),
            LineString([(x0 + 0.002, y0), (x0 + 0.01, y0 + 0.0055)]),
        ],
        crs="EPSG:4326",
    )
    result = draw_layout(units, group="community", communities=communities, roads=roads)
    cells = result.cells
    assert cells["code"].str[:12].nunique() == 2 and len(cells) >= 6

    # Exactly: nothing outside the own outline, nothing of it uncovered. Measured as
    # stored, with straight lon/lat edges (as the validator does): a projection would
    # bend the 700 m edge, which has no vertex between its ends, away from the cells'.
    m2_per_degree2 = 111_320.0**2 * np.cos(np.radians(y0))
    own = communities.set_index("code").geometry.reindex(cells["code"].str[:12]).to_numpy()
    geoms = np.asarray(cells.geometry.array)
    assert shapely.area(shapely.difference(geoms, own)).sum() * m2_per_degree2 <= 1e-6
    for code, outline in zip(codes, (west, east), strict=True):
        mine = geoms[cells["code"].str[:12].to_numpy() == code]
        bare = shapely.difference(outline, shapely.union_all(mine))
        assert shapely.area(bare) * m2_per_degree2 <= 1e-6
    # Both sides of the seam have the same vertices on it.
    seam = shapely.intersection(west.boundary, east.boundary)
    on_seam = [
        {tuple(xy) for xy in shapely.get_coordinates(g) if shapely.dwithin(seam, Point(xy), 1e-12)}
        for g in (shapely.union_all(geoms[cells["code"].str[:12] == c]) for c in codes)
    ]
    assert on_seam[0] == on_seam[1]
    report = validate_layout(cells, communities=communities, tolerance_m2=0.01)
    assert not {f.kind for f in report.findings} & {
        "gap",
        "overlap",
        "outside_community",
        "crosses_community",
    }, "\n".join(report.lines())
    assert report.overlap_m2 <= 0.01


def test_road_that_cuts_the_community_in_two_is_never_crossed() -> None:
    community = box(X0, Y0, X0 + 1000, Y0 + 800)
    river = LineString([(X0 - 50, Y0 + 380), (X0 + 500, Y0 + 420), (X0 + 1050, Y0 + 390)])
    units = footprints(community, seed=9)
    units = units[~units.intersects(river.buffer(8))]
    roads = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[river], crs=CRS)
    result = draw_cells(units, community=community, community_code=COMMUNITY, roads=roads)
    assert_tiles(result, community)
    assert_units(result, units)
    assert result.cells["households"].between(300, 500).all()
    north = shapely.get_parts(shapely.polygonize(
        [shapely.union_all([community.boundary, river])]
    ))  # fmt: skip
    north = max(north, key=lambda p: p.centroid.y)
    for geom in result.cells.geometry:
        share = geom.intersection(north).area / geom.area
        assert share < 1e-6 or share > 1 - 1e-6, "a cell crosses the river"


def test_deterministic_for_a_seed_and_input_untouched() -> None:
    community = box(X0, Y0, X0 + 900, Y0 + 700)
    units = footprints(community, seed=10)
    units.index = [f"b{k}" for k in range(len(units))]
    before = units.copy()
    first = draw_cells(units, community=community, community_code=COMMUNITY, seed=7)
    second = draw_cells(units, community=community, community_code=COMMUNITY, seed=7)
    pd.testing.assert_frame_equal(units, before)
    assert first.cells.drop(columns="geometry").equals(second.cells.drop(columns="geometry"))
    assert first.cells.geometry.geom_equals_exact(second.cells.geometry, 0).all()
    assert first.assignment.equals(second.assignment)
    assert first.tessellation.index.equals(units.index)
    assert first.tessellation.crs == units.crs


def test_geographic_crs_is_measured_in_metres_and_returned_as_given() -> None:
    units = squares(12).to_crs("EPSG:4326")
    community = shapely.union_all(np.asarray(units.geometry.array))
    result = draw_cells(units, community=community, community_code=COMMUNITY)
    assert result.cells.crs.to_epsg() == 4326
    assert_tiles(result, community)
    assert_units(result, units)
    assert result.cells["households"].between(300, 500).all()
    metric = result.cells.to_crs(metric_crs(result.cells.geometry))
    assert result.cells["polsby_popper"].to_numpy() == pytest.approx(
        polsby_popper(metric.geometry), rel=1e-3
    )
    assert_valid(result, units)


def test_bad_inputs_name_the_value() -> None:
    units = squares(4)
    with pytest.raises(PartitionError, match="`community_code` was '12345'"):
        draw_cells(units, community_code="12345")
    with pytest.raises(PartitionError, match="`max_households` was 200"):
        draw_cells(units, min_households=300, max_households=200)
    with pytest.raises(PartitionError, match="`households` was 'hh'"):
        draw_cells(units, households="hh")
    negative = units.assign(households=units["households"] * -1)
    with pytest.raises(PartitionError, match="rows 0, 1, 2"):
        draw_cells(negative)
    roads = gpd.GeoSeries([LineString([(0, 0), (1, 1)])], crs="EPSG:4326")
    with pytest.raises(PartitionError, match="`roads` is in EPSG:4326"):
        draw_cells(units, roads=roads)
    far = gpd.GeoDataFrame({"households": [50]}, geometry=[Point(0, 0)], crs=CRS)
    with pytest.raises(PartitionError, match="outside the community"):
        draw_cells(far, community=box(X0, Y0, X0 + 10, Y0 + 10))
    with pytest.raises(PartitionError, match="no CRS"):
        draw_cells(units.set_crs(None, allow_override=True))


def test_draw_layout_codes_bounds_and_progress() -> None:
    a = squares(8, seed=11)
    b = squares(8, seed=12)
    b = b.set_geometry(b.translate(xoff=1000))
    a["community"], b["community"] = COMMUNITY, "MSOA-B"
    units = pd.concat([a, b], ignore_index=True)
    seen: list[tuple[int, int]] = []
    result = draw_layout(
        units,
        group="community",
        bounds={"MSOA-B": (200, 300)},
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    cells = result.cells
    mine = cells[cells["group"] == COMMUNITY]
    other = cells[cells["group"] == "MSOA-B"]
    assert mine["code"].str.fullmatch(COMMUNITY + r"\d{3}").all()
    assert other["code"].str.fullmatch(r"MSOA-B-\d{3}").all()
    assert mine["households"].between(300, 500).all()
    assert other["households"].between(200, 300).all()
    assert result.summary()["share_within_bounds"] == 1.0
    assert_units(result, units)
    # Outlines given: a community without units is one empty, flagged cell.
    outlines = gpd.GeoDataFrame(
        {"code": [COMMUNITY, "MSOA-B", "MSOA-C"]},
        geometry=[
            box(X0, Y0, X0 + 800, Y0 + 800),
            box(X0 + 1000, Y0, X0 + 1800, Y0 + 800),
            box(X0 + 2000, Y0, X0 + 2100, Y0 + 100),
        ],
        crs=CRS,
    )
    result = draw_layout(units, group="community", communities=outlines)
    empty = result.cells[result.cells["group"] == "MSOA-C"]
    assert empty["code"].tolist() == ["MSOA-C-001"]
    assert empty["flags"].iloc[0] == ["below_min", "no_units"]
    assert empty["households"].iloc[0] == 0
    with pytest.raises(PartitionError, match="have no outline"):
        draw_layout(
            units,
            group="community",
            communities=gpd.GeoDataFrame(
                {"code": [COMMUNITY]}, geometry=[box(0, 0, 1, 1)], crs=CRS
            ),
        )


# --- real data ----------------------------------------------------------------------------------


@pytest.mark.skipif(not LEICESTER.exists(), reason="../shared/data is not beside this checkout")
def test_leicester_census_areas_by_msoa() -> None:
    areas = gpd.read_file(LEICESTER / "E06000016_Leicester.shp")
    table = pd.read_csv(LEICESTER / "leicester_oa_households.csv")
    units = areas.merge(
        table[["OA11CD", "MSOA11CD", "Total_Households"]], left_on="oa_code", right_on="OA11CD"
    ).rename(columns={"Total_Households": "households"})
    assert len(units) == 969 and units.crs.to_epsg() == 27700
    result = draw_layout(units, group="MSOA11CD")
    assert_units(result, units)
    assert_bounds(result)
    summary = result.summary()
    # E02002834 cannot be done: its hub area (128 households) is the only way in
    # to three areas (110 + 146 + 131) that cannot make a cell on their own, so
    # one cell there holds at least 515 households. Every other cell fits.
    assert summary["share_within_bounds"] >= 0.99
    out = result.cells[~result.cells["households"].between(300, 500)]
    assert set(out["group"]) <= {"E02002834"}
    assert_valid(result, units)
    for msoa, group in units.groupby("MSOA11CD"):
        cells = result.cells[result.cells["group"] == msoa]
        outline = shapely.union_all(np.asarray(group.geometry.array))
        assert abs(cells.area.sum() - outline.area) <= 1e-6 * outline.area


@pytest.mark.skipif(not SHANGHAI.exists(), reason="../shared/data is not beside this checkout")
def test_shanghai_buildings_follow_roads() -> None:
    community = box(121.4880, 31.2448, 121.4955, 31.2512)  # part of Lujiazui, EPSG:4326
    buildings = gpd.read_file(SHANGHAI / "shanghai_buildings.geojson")
    buildings = buildings[
        (buildings["kind"] == "building") & buildings.representative_point().within(community)
    ].copy()
    # No households in OpenStreetMap: footprint area x floors (height / 3 m, else
    # 3 floors) / 90 m² per household.
    area = buildings.to_crs(metric_crs(buildings.geometry)).area
    floors = np.where(buildings["height"].notna(),
                      np.maximum(np.round(buildings["height"].fillna(0) / 3), 1), 3)  # fmt: skip
    buildings["households"] = np.round(area * floors / 90).astype(int)
    roads = gpd.read_file(SHANGHAI / "shanghai_roads.geojson")
    roads = roads[roads["kind"].isin(["major_road", "minor_road"]) & roads.intersects(community)]
    result = draw_cells(buildings, community=community, community_code="310115001001", roads=roads)
    assert_tiles(result, community, rel=1e-6)
    assert_units(result, buildings, community)
    assert_bounds(result)
    assert (
        result.cells.loc[result.cells["households"] > 500, "flags"]
        .map(lambda f: "oversized_unit" in f)
        .all()
    )
    outline = gpd.GeoDataFrame({"code": ["310115001001"]}, geometry=[community], crs="EPSG:4326")
    assert_valid(result, buildings, outline, community=None)
    # Cell boundaries prefer roads: a larger share of them lies on a road than of
    # the tile boundaries they were chosen from.
    metric = metric_crs(community)
    near_road = shapely.union_all(np.asarray(roads.to_crs(metric).buffer(2).array))
    outline_m = gpd.GeoSeries([community], crs="EPSG:4326").to_crs(metric).iloc[0].boundary

    def share_on_roads(geoms: gpd.GeoSeries) -> float:
        lines = shapely.union_all(np.asarray(geoms.to_crs(metric).boundary.array))
        inner = lines.difference(outline_m.buffer(1))
        return inner.intersection(near_road).length / inner.length

    assert share_on_roads(result.cells.geometry) > share_on_roads(result.tessellation.geometry)


# --- the demo district --------------------------------------------------------------------------


def _draw_community(engine, code: str) -> tuple[DrawResult, gpd.GeoSeries]:
    """Draw one community of the database as `gridgis.editing.propose_layout` does.

    Returns the result and the cells' areas in m².
    """
    inputs = read_inputs(engine, code)
    result = draw_cells(
        inputs.buildings.rename_geometry("geometry"),
        community=inputs.outline,
        community_code=inputs.code,
        roads=inputs.roads if not inputs.roads.empty else None,
        min_households=inputs.bounds[0],
        max_households=inputs.bounds[1],
    )
    cells = result.cells.geometry
    return result, cells.to_crs(metric_crs(cells)).area


def test_demo_community_nanjiao_has_no_empty_specks(demo_engine) -> None:
    """南郊社区: its roads meet the outline in specks of 1e-10 m² that were drawn as empty cells."""
    with demo_engine.connect() as conn:
        code = conn.execute(
            text("SELECT code FROM community WHERE name LIKE '南郊社区%'")
        ).scalar_one()
    result, area = _draw_community(demo_engine, code)
    cells = result.cells
    assert area.min() > 1.0, cells.loc[area <= 1.0, ["code", "households", "flags"]]
    assert (cells["units"] > 0).all()
    assert not any("no_units" in flags for flags in cells["flags"])


def test_demo_cells_are_never_specks(demo_engine) -> None:
    """No cell of any community of the small demo is below 1 m² (the validator's noise)."""
    tiny = []
    for code in communities_in(demo_engine, "350304"):
        result, area = _draw_community(demo_engine, code)
        tiny += [(c, a) for c, a in zip(result.cells["code"], area, strict=True) if a <= 1.0]
    assert tiny == []


def test_fitting_leaves_no_overlap_between_cells_of_one_community() -> None:
    """Cells drawn on a coarser grid (the demo's retry) can overlap by a sliver along their
    common edge, away from any community boundary: fitting gives that ground to one of them
    (issue 14, 15: 0.3 m² between 350304103214002 and 003 in the full demo)."""
    from gridgis.partition.seams import fit_cells

    outline = np.array([box(0, 0, 100, 100)], dtype=object)
    left = Polygon([(0, 0), (50.01, 0), (50.03, 100), (0, 100)])  # crosses x = 50 by 1-3 cm
    right = box(50, 0, 100, 100)
    fitted = fit_cells(np.array([left, right], dtype=object), np.array([0, 0]), outline,
                       tolerance=0.05)  # fmt: skip
    assert shapely.area(shapely.intersection(fitted[0], fitted[1])) < 1e-9
    assert shapely.area(shapely.union_all(fitted)) == pytest.approx(10_000, abs=1e-6)
    assert all(shapely.is_valid(fitted))


def test_fitting_gives_a_hole_between_cells_to_the_cell_it_borders_most() -> None:
    """A community's cells cover it exactly: ground none of them holds (the roads path left
    249 m² in 430111002008 of the 雨花区 demo) goes to the neighbour it borders most."""
    from gridgis.partition.seams import fit_cells

    outline = np.array([box(0, 0, 100, 100)], dtype=object)
    cells = np.array([box(0, 0, 50, 100), box(50, 0, 100, 90)], dtype=object)
    fitted = fit_cells(cells, np.array([0, 0]), outline, tolerance=0.05)
    assert shapely.area(shapely.union_all(fitted)) == pytest.approx(10_000, abs=1e-6)
    assert shapely.area(fitted[1]) == pytest.approx(5_000, abs=1e-6)  # 50 m of border
    assert shapely.area(shapely.intersection(fitted[0], fitted[1])) < 1e-9
    assert all(shapely.is_valid(fitted)) and all(shapely.get_num_geometries(fitted) == 1)


def test_fitting_never_pinches_a_cell_in_two() -> None:
    """Snapping moves vertices near the community's edge onto it; a cell whose narrow neck
    runs along the edge folded across itself and came out in two parts meeting on a line
    (an adjust of 350304002005 with bounds 250–400: a new cell of 266 households in two
    parts, ``non_contiguous``). The cell stays in one piece."""
    from gridgis.partition.seams import fit_cells

    outline = np.array([box(0, 0, 100, 100)], dtype=object)
    # two legs joined by a corridor 4 mm high, 2–6 mm below the edge (within tolerance)
    cell = Polygon([(10, 50), (40, 50), (40, 99.994), (60, 99.994), (60, 50), (90, 50),
                    (90, 99.998), (10, 99.998)])  # fmt: skip
    rest = shapely.difference(outline[0], cell)
    fitted = fit_cells(np.array([cell, rest], dtype=object), np.array([0, 0]), outline,
                       tolerance=0.01)  # fmt: skip
    assert shapely.get_num_geometries(fitted[0]) == 1
    assert shapely.area(fitted[0]) == pytest.approx(shapely.area(cell), abs=0.01)
    assert shapely.area(shapely.union_all(fitted)) == pytest.approx(10_000, abs=1e-6)
    assert shapely.area(shapely.intersection(fitted[0], fitted[1])) < 1e-9
    assert all(shapely.is_valid(fitted))
