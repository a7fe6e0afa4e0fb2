"""Points to cells: boundaries, gaps, flags, coordinate systems, history; memory == PostGIS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import LICHENG, insert_sample_areas
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine, func, literal, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION

from gridgis.crs import from_wgs84
from gridgis.db.layout import publish_cells
from gridgis.db.locate import DatabaseLocator, cell_at, load_cell_index, locate_in_db
from gridgis.errors import CoordinateError, CRSError, InputError, ValidationError
from gridgis.geocode import (
    FLAG_REASONS,
    CellIndex,
    CellLocator,
    IndexLocator,
    cell_index,
    locate,
    smallest_cell,
)

COMMUNITY = "350304001001"
# Four cells meeting at (119.01, 25.41), one more to the east, and a hole at the
# north-east: codes are on purpose not in west-east / south-north order.
CELLS = {
    f"{COMMUNITY}003": box(119.00, 25.40, 119.01, 25.41),  # south-west
    f"{COMMUNITY}002": box(119.01, 25.40, 119.02, 25.41),  # south-east
    f"{COMMUNITY}004": box(119.00, 25.41, 119.01, 25.42),  # north-west
    f"{COMMUNITY}001": box(119.01, 25.41, 119.02, 25.42),  # north-east
    f"{COMMUNITY}005": box(119.02, 25.40, 119.03, 25.41),  # further east
}
# (name, lon, lat, expected cell code or None, expected flag)
POINTS = [
    ("inside", 119.005, 25.405, f"{COMMUNITY}003", None),
    ("west/east edge", 119.010, 25.405, f"{COMMUNITY}002", None),
    ("south/north edge", 119.005, 25.410, f"{COMMUNITY}003", None),
    ("corner of four", 119.010, 25.410, f"{COMMUNITY}001", None),
    ("corner of two", 119.020, 25.410, f"{COMMUNITY}001", None),
    ("outer edge", 119.000, 25.405, f"{COMMUNITY}003", None),
    ("gap", 119.025, 25.415, None, "gap"),
    ("gap elsewhere in the district", 118.97, 25.39, None, "gap"),
    ("outside the district", 119.10, 25.40, None, "outside"),
    ("in a district with no cells", 120.90, 40.70, None, "outside"),
    ("swapped", 25.405, 119.005, None, "swapped"),
    ("outside China", 2.35, 48.86, None, "outside_china"),
    ("NaN", float("nan"), 25.405, None, "invalid"),
    ("metres as degrees", 500_000.0, 2_800_000.0, None, "invalid"),
]
COLUMNS = ["lon", "lat", "cell_id", "cell_code", "community_code", "street_code", "flag", "reason"]


def _frame(cells: Mapping[str, BaseGeometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": list(cells)}, geometry=list(cells.values()), crs="EPSG:4326")


def _store_cells(engine: Engine) -> None:
    """荔城区 (a square, see conftest) with the cells above; 龙港区 without cells."""
    insert_sample_areas(engine)
    with engine.begin() as conn:
        publish_cells(
            conn, COMMUNITY, _frame(CELLS), method="import", expected_version=None, actor="test"
        )


def _xy(
    points: list[tuple[str, float, float, str | None, str | None]],
) -> tuple[np.ndarray, np.ndarray]:
    return np.array([p[1] for p in points]), np.array([p[2] for p in points])


def _expected(found: pd.DataFrame) -> None:
    rows: list[dict[Hashable, Any]] = found.to_dict("records")
    for (name, lon, lat, code, flag), row in zip(POINTS, rows, strict=True):
        assert (row["cell_code"], row["flag"]) == (code, flag), name
        if code is None:
            assert row["community_code"] is None and row["street_code"] is None, name
            assert pd.isna(row["cell_id"]) and row["reason"] == FLAG_REASONS[str(flag)], name
        else:
            assert (row["community_code"], row["street_code"]) == (COMMUNITY, COMMUNITY[:9]), name
            assert row["reason"] is None, name
        if flag in ("swapped", "invalid"):
            assert np.isnan(row["lon"]) and np.isnan(row["lat"]), name
        else:
            assert (row["lon"], row["lat"]) == (lon, lat), name


def test_boundaries_gaps_and_flags_alike_in_memory_and_in_postgis(engine: Engine) -> None:
    _store_cells(engine)
    x, y = _xy(POINTS)
    from_file = locate(cell_index(_frame(CELLS), outline=shapely.from_wkt(LICHENG)), x, y)
    _expected(from_file)
    assert from_file["cell_id"].isna().all()  # no database ids for cells from a file
    with engine.connect() as conn:
        index = load_cell_index(conn)
        in_memory = locate(index, x, y)
        in_db = locate_in_db(conn, x, y)
        # Enough points for the bulk path (temporary table, cells-driven join).
        many = locate_in_db(conn, np.tile(x, 400), np.tile(y, 400))
        ids = {r.code: r.id for r in conn.execute(text("SELECT code, id FROM grid_cell"))}
    assert index.districts == ("350304",) and len(index) == 5
    assert list(in_memory.columns) == COLUMNS and isinstance(in_memory.index, pd.RangeIndex)
    assert in_memory["cell_id"].dtype == "Int64" and in_memory["cell_code"].dtype == object
    _expected(in_memory)
    located = in_memory["cell_code"].notna()
    assert in_memory.loc[located, "cell_id"].tolist() == [
        ids[c] for c in in_memory.loc[located, "cell_code"]
    ]
    pd.testing.assert_frame_equal(in_db, in_memory)
    tiled = pd.concat([in_memory] * 400, ignore_index=True)
    pd.testing.assert_frame_equal(many, tiled)


def test_other_coordinate_systems_give_the_cell_of_the_wgs84_point(engine: Engine) -> None:
    _store_cells(engine)
    lon = np.array([119.0051, 119.0149, 119.0232])
    lat = np.array([25.4049, 25.4151, 25.4012])
    with engine.connect() as conn:
        index = load_cell_index(conn)
        wgs84 = locate(index, lon, lat)
        assert wgs84["cell_code"].tolist() == [f"{COMMUNITY}{n}" for n in ("003", "001", "005")]
        for crs in ("gcj02", "bd09", "EPSG:4547", "cgcs2000"):
            x, y = from_wgs84(lon, lat, crs)
            for found in (locate(index, x, y, crs=crs), locate_in_db(conn, x, y, crs=crs)):
                assert found["cell_code"].tolist() == wgs84["cell_code"].tolist(), crs
                np.testing.assert_allclose(found["lon"], lon, atol=1e-8, err_msg=crs)
                np.testing.assert_allclose(found["lat"], lat, atol=1e-8, err_msg=crs)
        # GCJ-02 read as WGS84 lands hundreds of metres away: in another cell here.
        x, y = from_wgs84(lon, lat, "gcj02")
        assert locate(index, x, y)["cell_code"].tolist() != wgs84["cell_code"].tolist()


def test_memory_and_postgis_agree_on_random_points_in_the_demo(demo_engine: Engine) -> None:
    rng = np.random.default_rng(7)
    with demo_engine.connect() as conn:
        index = load_cell_index(conn)
        assert index.districts == ("350304",) and len(index) > 100
        west, south, east, north = shapely.bounds(index.outline)
        x = rng.uniform(west - 0.01, east + 0.01, 4000)
        y = rng.uniform(south - 0.01, north + 0.01, 4000)
        # Cell vertices: exactly on boundaries shared by two or three cells.
        vertices = shapely.get_coordinates(index.geoms)
        pick = rng.choice(len(vertices), 500, replace=False)
        x[:500], y[:500] = vertices[pick, 0], vertices[pick, 1]
        swap = np.arange(500, 510)
        x[swap], y[swap] = y[swap], x[swap]  # (fancy indexing copies: a true swap)
        x[510:520] = np.nan
        x[520:530] += 40.0  # outside China
        in_memory = locate(index, x, y)
        in_db = locate_in_db(conn, x, y)
        few = locate_in_db(conn, x[:400], y[:400])  # one probe of the cell index per point
    pd.testing.assert_frame_equal(in_db, in_memory)
    pd.testing.assert_frame_equal(few, in_memory.iloc[:400])
    flags = in_memory["flag"].value_counts(dropna=False)
    assert flags[["swapped", "invalid", "outside_china"]].tolist() == [10, 10, 10]
    assert flags["outside"] > 100 and in_memory["cell_code"].notna().sum() > 1000
    # Every vertex is in a cell, and in the smallest-coded of the cells touching it.
    on_vertex = in_memory.iloc[:500]
    assert on_vertex["cell_code"].notna().all()
    touching = shapely.intersects_xy(index.geoms[:, None], x[:500], y[:500])
    smallest = index.codes[np.argmax(touching, axis=0)]
    assert on_vertex["cell_code"].tolist() == smallest.tolist()
    assert (touching.sum(axis=0) > 1).sum() > 100


def test_one_cell_locator_interface_gives_one_answer_on_the_demo(demo_engine: Engine) -> None:
    """In memory, in PostGIS, one point at a time, in bulk, in SQL, in a Core query and from
    plain geometry:
    the same cell for every point, also on edges and corners several cells share."""
    rng = np.random.default_rng(15)
    with demo_engine.connect() as conn:
        index = load_cell_index(conn)
        # Vertices (on corners and edges two or three cells share), midpoints of the
        # cells' edges (on one shared edge, mostly) and points anywhere in the district.
        rings = shapely.get_exterior_ring(shapely.get_parts(index.geoms))
        coords, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[1:] == ring[:-1]
        mids = ((coords[:-1] + coords[1:]) / 2)[same]
        mids = mids[rng.choice(len(mids), 600, replace=False)]
        corners = coords[rng.choice(len(coords), 600, replace=False)]
        west, south, east, north = shapely.bounds(index.outline)
        anywhere = np.column_stack([rng.uniform(west, east, 600), rng.uniform(south, north, 600)])
        x, y = np.concatenate([corners, mids, anywhere]).T
        memory, database = IndexLocator(index), DatabaseLocator(conn)
        assert isinstance(memory, CellLocator) and isinstance(database, CellLocator)
        in_memory = memory.locate(x, y)
        pd.testing.assert_frame_equal(database.locate(x, y), in_memory)
        one_by_one = [memory.cell_of(float(a), float(b)) for a, b in zip(x, y, strict=True)]
        assert [c.get("cell_code") for c in one_by_one] == in_memory["cell_code"].tolist()
        assert [c["flag"] for c in one_by_one] == in_memory["flag"].tolist()
        sample = rng.choice(len(x), 40, replace=False)
        assert [database.cell_of(float(x[i]), float(y[i])) for i in sample] == [
            one_by_one[i] for i in sample
        ]
        points = (
            func.unnest(
                literal(x.tolist(), ARRAY(DOUBLE_PRECISION)),
                literal(y.tolist(), ARRAY(DOUBLE_PRECISION)),
            )
            .table_valued("x", "y", with_ordinality="i")
            .render_derived(name="p")
        )
        found = cell_at(func.ST_SetSRID(func.ST_MakePoint(points.c.x, points.c.y), 4326)).lateral()
        in_core = conn.execute(
            select(points.c.i, found.c.code)
            .select_from(points)
            .outerjoin(found, true())
            .order_by(points.c.i)
        ).all()
    assert [r.code for r in in_core] == in_memory["cell_code"].tolist()
    plain = smallest_cell(shapely.points(x, y), index.geoms)
    assert [index.codes[i] if i >= 0 else None for i in plain] == in_memory["cell_code"].tolist()
    shared = shapely.intersects_xy(index.geoms[:, None], x, y).sum(axis=0) > 1
    assert shared.sum() > 300  # many points lie on edges or corners of several cells


def _two_touching(index: CellIndex) -> tuple[int, int]:
    """Positions of two cells of one community that share an edge."""
    for i in range(len(index)):
        mine = np.flatnonzero(index.community_codes == index.community_codes[i])
        for j in mine[mine > i]:  # a small demo: a plain loop over pairs is clear
            if shapely.intersection(index.geoms[i], index.geoms[j]).length > 0:
                return i, int(j)
    raise AssertionError("no two touching cells in one community")


def test_a_historical_layout_resolves_to_the_cell_valid_then(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        before = load_cell_index(conn)
        loaded_at = conn.execute(text("SELECT max(valid_from) FROM grid_cell")).scalar_one()
    i, j = _two_touching(before)
    community = before.community_codes[i]
    mine = np.flatnonzero(before.community_codes == community)
    merged_code = f"{community}901"
    kept = [k for k in mine if k not in (i, j)]
    other = int(np.flatnonzero(before.community_codes != community)[0])  # stays as it is
    layout = gpd.GeoDataFrame(
        {"code": [*before.codes[kept], merged_code]},
        geometry=[*before.geoms[kept], shapely.union(before.geoms[i], before.geoms[j])],
        crs="EPSG:4326",
    )
    redrawn_at = loaded_at + dt.timedelta(days=30)
    with demo_engine.begin() as conn:
        publish_cells(conn, community, layout, method="adjust", expected_version=None,
                      now=redrawn_at, actor="test")  # fmt: skip
    inside = shapely.point_on_surface(before.geoms[[i, j, other]])
    x, y = shapely.get_x(inside), shapely.get_y(inside)
    then = redrawn_at - dt.timedelta(days=1)
    with demo_engine.connect() as conn:
        old = load_cell_index(conn, at=then)
        new = load_cell_index(conn)
        results = {
            "old": (locate(old, x, y), locate_in_db(conn, x, y, at=then)),
            "new": (locate(new, x, y), locate_in_db(conn, x, y)),
            "later": (
                locate(load_cell_index(conn, at=redrawn_at), x, y),
                locate_in_db(conn, x, y, at=redrawn_at + dt.timedelta(days=1)),
            ),
        }
        many = locate_in_db(conn, np.tile(x, 1000), np.tile(y, 1000), at=then)  # bulk path
    assert len(old) == len(before) and len(new) == len(before) - 1
    assert old.at == then and new.at is None
    for when, (in_memory, in_db) in results.items():
        pd.testing.assert_frame_equal(in_db, in_memory, obj=when)
    tiled = pd.concat([results["old"][0]] * 1000, ignore_index=True)
    pd.testing.assert_frame_equal(many, tiled)
    old_codes = results["old"][0]["cell_code"].tolist()
    assert old_codes == [before.codes[i], before.codes[j], before.codes[other]]
    assert results["old"][0]["cell_id"].tolist() == before.cell_ids[[i, j, other]].tolist()
    for when in ("new", "later"):
        found = results[when][0]
        assert found["cell_code"].tolist() == [merged_code, merged_code, before.codes[other]]
        assert found.loc[2, "cell_id"] == before.cell_ids[other]  # the unchanged cell's row


def test_without_an_outline_a_point_in_no_cell_is_outside() -> None:
    index = cell_index(_frame(CELLS))
    assert index.outline is None
    found = locate(index, [119.025, 119.005], [25.415, 25.405])
    assert found["flag"].tolist() == ["outside", None]


def test_empty_inputs() -> None:
    found = locate(cell_index(_frame(CELLS)), [], [])
    assert list(found.columns) == COLUMNS and len(found) == 0
    empty = cell_index(_frame(CELLS).iloc[:0])
    assert locate(empty, [119.005], [25.405])["flag"].tolist() == ["outside"]


def test_a_scalar_point() -> None:
    found = locate(cell_index(_frame(CELLS)), 119.005, 25.405)
    assert found["cell_code"].tolist() == [f"{COMMUNITY}003"]


def test_bad_cells_are_reported_together() -> None:
    bowtie = shapely.Polygon([(119.0, 25.4), (119.01, 25.41), (119.01, 25.4), (119.0, 25.41)])
    cells = gpd.GeoDataFrame(
        {"code": [f"{COMMUNITY}001", f"{COMMUNITY}001", "35030400100100", None, f"{COMMUNITY}009"]},
        geometry=[box(119.0, 25.4, 119.01, 25.41), box(119.01, 25.4, 119.02, 25.41),
                  shapely.Point(119.0, 25.4), bowtie, None],
        crs="EPSG:4326",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        cell_index(cells)
    message = str(caught.value)
    assert "6 problem(s) in the 5 cells" in message
    assert f"row 2, code {COMMUNITY}001: the code is also on row 1" in message
    assert "row 3, code 35030400100100: `code` is not a 15-digit cell code" in message
    assert "row 3, code 35030400100100: the geometry is not a non-empty (multi)polygon" in message
    assert "row 4: `code` is not a 15-digit cell code" in message
    assert "row 4: invalid geometry: Self-intersection" in message
    assert f"row 5, code {COMMUNITY}009: the geometry is not a non-empty (multi)polygon" in message


def test_bad_arguments_are_named(engine: Engine) -> None:
    cells = _frame(CELLS)
    with pytest.raises(InputError, match=r"`code` was '编码' but is expected to be a column"):
        cell_index(cells, code="编码")
    with pytest.raises(CRSError, match=r"cells are in EPSG:4547 but must be in EPSG:4326"):
        cell_index(cells.to_crs("EPSG:4547"))
    index = cell_index(cells)
    with pytest.raises(CRSError, match=r"`crs` was 'mars'"):
        locate(index, [119.0], [25.4], crs="mars")
    with pytest.raises(CoordinateError, match=r"shape \(2,\).*shape \(3,\)"):
        locate(index, [119.0, 119.1], [25.4, 25.5, 25.6])
    naive = dt.datetime(2024, 5, 1, 8, 0)
    with engine.connect() as conn:
        with pytest.raises(InputError, match=r"`at` was .*2024, 5, 1.* timezone-aware"):
            load_cell_index(conn, at=naive)
        with pytest.raises(InputError, match=r"`at` was .* timezone-aware"):
            locate_in_db(conn, [119.0], [25.4], at=naive)
        # An empty database: nothing to find, and no outline.
        found = locate_in_db(conn, [119.005, 25.405], [25.405, 119.005])
        many = locate_in_db(conn, np.full(3000, 119.005), np.full(3000, 25.405))
    assert found["flag"].tolist() == ["outside", "swapped"]
    assert (many["flag"] == "outside").all()
