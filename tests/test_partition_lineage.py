"""The rule that decides which new cells continue which old ones (gridgis.partition.lineage)."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from gridgis.errors import InputError
from gridgis.partition.lineage import CONTINUES, carried, match_cells, place_points
from gridgis.partition.reconcile import reconcile_codes


def _frame(*geoms: object, crs: str = "EPSG:3857", **columns: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs)


def _homes(*rows: tuple[float, float, int]) -> gpd.GeoDataFrame:
    return _frame(*(Point(x, y) for x, y, _ in rows), households=[h for *_, h in rows])


OLD = _frame(box(0, 0, 10, 10), box(10, 0, 20, 10), code=["A", "B"])


def test_a_cell_that_keeps_most_households_keeps_its_code_even_when_its_shape_changes() -> None:
    homes = _homes((2, 5, 300), (9, 5, 100), (15, 5, 400))
    new = _frame(box(0, 0, 8, 10), box(8, 0, 20, 10), code=["1", "2"])  # A loses x=9 to B
    match = match_cells(OLD, new, homes)
    assert match.continues == {0: 0, 1: 1}
    assert match.successor == {0: 0, 1: 1}
    row = match.pairs.set_index(["old", "new"]).loc[(0, 1)]
    assert row.households == 100 and row.share_old == pytest.approx(0.25)
    assert row.share_new == pytest.approx(0.2)
    assert reconcile_codes(new, OLD, prefix="", buildings=homes).tolist() == ["A", "B"]


def test_a_split_keeps_the_code_on_the_part_holding_half_of_both_and_the_rest_is_new() -> None:
    homes = _homes((2, 5, 300), (8, 5, 200), (15, 5, 400))
    new = _frame(box(0, 0, 5, 10), box(5, 0, 10, 10), box(10, 0, 20, 10), code=["1", "2", "3"])
    match = match_cells(OLD, new, homes)
    assert match.continues == {0: 0, 2: 1}  # 300 of A's 500: 60 % of A, 100 % of the part
    codes = reconcile_codes(new, OLD, prefix="C", used_codes=["C007"], digits=3, buildings=homes)
    assert codes.tolist() == ["A", "C008", "B"]  # never a number issued before


def test_an_even_three_way_split_leaves_no_continuation_and_no_clear_successor() -> None:
    homes = _homes((2, 5, 100), (5, 5, 100), (8, 5, 100), (15, 5, 400))
    new = _frame(box(0, 0, 3, 10), box(3, 0, 7, 10), box(7, 0, 10, 10), box(10, 0, 20, 10))
    match = match_cells(OLD, new, homes)
    assert match.continues == {3: 1}
    assert 0 not in match.successor  # each part took a third: nobody's links move silently


def test_a_merge_continues_the_larger_cell_and_succeeds_both() -> None:
    homes = _homes((5, 5, 300), (15, 5, 200))
    new = _frame(box(0, 0, 20, 10))
    match = match_cells(OLD, new, homes)
    assert match.continues == {0: 0}  # A: 100 % of A, 60 % of the merged cell
    assert match.successor == {0: 0, 1: 0}  # B's links go to the merged cell


def test_cells_without_households_are_matched_by_area() -> None:
    homes = _homes((15, 5, 400))
    new = _frame(box(0, 0, 9, 10), box(9, 0, 20, 10))
    match = match_cells(OLD, new, homes)
    assert match.continues == {0: 0, 1: 1}
    by_area = match.pairs[match.pairs["by_area"]]
    assert set(by_area["old"]) == {0}
    assert by_area.set_index("new").loc[0, "share_old"] == pytest.approx(0.9)


def test_an_unchanged_layout_without_buildings_keeps_every_code() -> None:
    empty = gpd.GeoDataFrame({"households": []}, geometry=[], crs="EPSG:3857")
    assert reconcile_codes(OLD[["geometry"]].assign(code=["x", "y"]), OLD, prefix="").tolist() == [
        "A",
        "B",
    ]
    assert match_cells(OLD, OLD, empty).continues == {0: 0, 1: 1}


def test_layouts_in_different_crs_are_refused() -> None:
    new = _frame(box(0, 0, 1, 1), crs="EPSG:4326")
    with pytest.raises(InputError, match=r"in EPSG:3857 and the new in EPSG:4326"):
        match_cells(OLD, new, _homes((0.5, 0.5, 1)).set_crs("EPSG:4326", allow_override=True))


def test_points_on_a_shared_edge_go_to_one_cell_and_points_outside_to_none() -> None:
    placed = place_points(OLD, gpd.GeoSeries([Point(10, 5), Point(5, 5), Point(50, 5)]).values)
    assert placed.tolist() == [0, 0, -1]


def test_carried_sums_households_per_pair_and_skips_buildings_outside() -> None:
    pairs = carried(["a", None, "a"], ["x", "x", "x"], [10, 99, 30])
    assert pairs[["old", "new", "households"]].values.tolist() == [["a", "x", 40]]
    assert CONTINUES == 0.5
