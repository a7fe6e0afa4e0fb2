"""Case density per cell, Gi* hotspots, heat points and inspection recency (gridgis.analysis)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import insert_sample_areas, sign_in
from flask.testing import FlaskClient
from libpysal.graph import Graph
from scipy import sparse
from shapely import box
from sqlalchemy import Engine, create_engine, text

from gridgis.analysis.density import (
    bin_points,
    cell_case_density,
    density_cells,
    heat_points,
    inspection_recency,
)
from gridgis.analysis.hotspots import getis_ord_g_star, hotspots, queen_neighbours
from gridgis.db.queries import read_areas
from gridgis.errors import CRSError, InputError, NotFoundError
from gridgis.web import create_app
from gridgis.web.db import dispose_engine

CST = ZoneInfo("Asia/Shanghai")
YEAR_2025 = {"since": dt.datetime(2025, 1, 1), "until": dt.datetime(2026, 1, 1)}


def _lattice(side: int, values: Any = None, *, crs: str = "EPSG:3857") -> gpd.GeoDataFrame:
    """``side x side`` unit squares, row by row from the bottom left."""
    squares = [box(x, y, x + 1, y + 1) for y in range(side) for x in range(side)]
    data = {} if values is None else {"value": np.asarray(values, dtype=float)}
    return gpd.GeoDataFrame(data, geometry=squares, crs=crs)


# --- Gi* ----------------------------------------------------------------------------------------


def _g_star_by_hand(x: list[float], neighbours: list[set[int]]) -> list[float]:
    """Ord & Getis (1995) eq. 14 with binary weights, the cell itself included, in plain Python."""
    n = len(x)
    mean = sum(x) / n
    s = math.sqrt(sum(v * v for v in x) / n - mean * mean)
    out = []
    for i in range(n):
        near = neighbours[i] | {i}
        w_sum = len(near)  # binary weights: W_i = S1_i = number of cells in the neighbourhood
        local = sum(x[j] for j in near)
        if w_sum == n:  # 0 / 0: the neighbourhood is every cell, its sum the global one
            out.append(0.0)
            continue
        out.append((local - mean * w_sum) / (s * math.sqrt((n * w_sum - w_sum**2) / (n - 1))))
    return out


def test_g_star_on_a_3x3_lattice_matches_a_hand_computation() -> None:
    # Values 1..9 row by row from the bottom left:   7 8 9
    #                                                 4 5 6
    #                                                 1 2 3
    cells = _lattice(3, range(1, 10))
    neighbours = queen_neighbours(cells)
    z = getis_ord_g_star(cells["value"], neighbours)
    # mean 5, S^2 = 285/9 - 25 = 20/3. Corner cell (value 1): itself and 2, 4, 5, each
    # w = 1/4, so sum w x = 3, W = 1, S1 = 1/4: z = (3 - 5) / (S sqrt((9/4 - 1) / 8))
    # = -2 / sqrt(20/3 * 5/32) = -2 sqrt(24) / 5.
    assert z[0] == pytest.approx(-2 * math.sqrt(24) / 5, rel=1e-12)
    # Edge cell (value 2): itself and 1, 3, 4, 5, 6, w = 1/6: sum w x = 3.5, S1 = 1/6,
    # z = -1.5 / (S sqrt((9/6 - 1) / 8)) = -6 / sqrt(20/3).
    assert z[1] == pytest.approx(-6 / math.sqrt(20 / 3), rel=1e-12)
    # The centre sees every cell: its local mean is the global one.
    assert z[4] == 0.0
    # Symmetry of the values: the top right corner mirrors the bottom left one.
    assert z[8] == pytest.approx(-z[0], rel=1e-12)
    # Every cell, against the formula with binary weights (row-standardising does not
    # change Gi*: a row's common factor cancels) computed in plain Python.
    rows, cols = neighbours.nonzero()
    near: list[set[int]] = [set() for _ in range(9)]
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        near[i].add(j)
    assert z.tolist() == pytest.approx(_g_star_by_hand(list(range(1, 10)), near), abs=1e-12)


def test_queen_neighbours_of_a_lattice_match_libpysal() -> None:
    cells = _lattice(4)
    ours = queen_neighbours(cells)
    theirs = Graph.build_contiguity(cells, rook=False).sparse
    assert (ours != theirs).nnz == 0
    assert ours.sum(axis=1).tolist()[:5] == [3, 5, 5, 3, 5]
    # Rook would leave out the corners: the centre cells have 8 queen neighbours.
    assert ours.sum(axis=1).tolist()[5] == 8


def test_queen_neighbours_tolerate_slivers_and_need_a_crs() -> None:
    # A 1 cm gap between two cells in degrees (EPSG:4326): neighbours within 0.1 m only.
    left = box(119.0, 25.4, 119.001, 25.401)
    right = box(119.001 + 1e-7, 25.4, 119.002, 25.401)
    cells = gpd.GeoDataFrame(geometry=[left, right, None], crs="EPSG:4326")
    assert queen_neighbours(cells).toarray().tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert queen_neighbours(cells, tolerance=0).nnz == 0
    with pytest.raises(CRSError, match="no CRS"):
        queen_neighbours(gpd.GeoDataFrame(geometry=[left, right]))
    with pytest.raises(InputError, match="`tolerance` was -1"):
        queen_neighbours(cells, tolerance=-1)


def test_a_planted_cluster_is_hot() -> None:
    rng = np.random.default_rng(20250101)
    side = 15
    rates = rng.normal(100.0, 10.0, size=(side, side))
    rates[6:9, 6:9] += 40.0  # four standard deviations, a 3 x 3 block in the middle
    cells = _lattice(side, rates.ravel())
    found = hotspots(cells, "value")
    rows, cols = np.divmod(np.arange(side * side), side)
    planted = (rows >= 6) & (rows <= 8) & (cols >= 6) & (cols <= 8)
    far = (np.maximum(abs(rows - 7), abs(cols - 7))) >= 3
    assert found.loc[7 * side + 7, "hotspot"] == "hot_99"
    assert found.loc[planted, "hotspot"].str.startswith("hot").all()
    assert found.loc[planted, "significant"].all()
    assert not found.loc[far, "hotspot"].str.startswith("hot").any()
    assert not found["hotspot"].str.startswith("cold").any()
    assert found.index.equals(cells.index) and found.crs == cells.crs


def test_a_random_field_is_mostly_not_significant_after_fdr() -> None:
    significant, raw = [], []
    for seed in range(5):
        values = np.random.default_rng(seed).normal(50.0, 5.0, size=400)
        cells = _lattice(20, values)
        neighbours = queen_neighbours(cells)
        corrected = hotspots(cells, "value", neighbours=neighbours)
        uncorrected = hotspots(cells, "value", neighbours=neighbours, correction="none")
        significant.append(corrected["significant"].mean())
        raw.append((uncorrected["gi_p"] <= 0.05).mean())
        # The adjusted p-values are never below the raw ones.
        assert (corrected["gi_q"] >= corrected["gi_p"] - 1e-15).all()
    assert max(significant) <= 0.05
    # Without the correction the same fields show "hotspots" by chance.
    assert sum(raw) > sum(significant)


def test_islands_missing_values_and_a_flat_field() -> None:
    cells = _lattice(3, [1.0, 2.0, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0, 9.0])
    far = gpd.GeoDataFrame({"value": [100.0]}, geometry=[box(50, 50, 51, 51)], crs=cells.crs)
    found = hotspots(pd.concat([cells, far], ignore_index=True), "value")
    assert found.loc[4, "hotspot"] == "no_data" and math.isnan(found.loc[4, "gi_z"])
    assert found.loc[9, "hotspot"] == "island" and math.isnan(found.loc[9, "gi_z"])
    assert found.loc[9, "neighbours"] == 0
    assert not found.loc[[4, 9], "significant"].any()
    # The missing centre is nobody's neighbour: a corner keeps its two edge neighbours.
    assert found.loc[0, "neighbours"] == 2
    flat = hotspots(_lattice(3, [5.0] * 9), "value")
    assert (flat["gi_z"] == 0).all() and (flat["hotspot"] == "not_significant").all()
    with pytest.raises(InputError, match="`column` was 'rate'"):
        hotspots(cells, "rate")
    with pytest.raises(InputError, match="`correction` was 'bonferroni'"):
        hotspots(cells, "value", correction="bonferroni")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="must be finite"):
        getis_ord_g_star([1.0, np.inf], sparse.csr_array(np.ones((2, 2))))


# --- heat points (pure) -------------------------------------------------------------------------


def test_bin_points_caps_the_points_and_keeps_every_case() -> None:
    rng = np.random.default_rng(7)
    lon = 119.0 + rng.normal(0, 0.01, size=5000)
    lat = 25.4 + rng.normal(0, 0.01, size=5000)
    kept, size = bin_points(lon, lat, max_points=5000)
    assert size is None and len(kept) == 5000 and (kept["weight"] == 1).all()
    binned, size = bin_points(lon, lat, max_points=300)
    assert size is not None and len(binned) <= 300
    assert binned["weight"].sum() == 5000
    # The weighted mean position is unchanged by binning.
    assert np.average(binned["lon"], weights=binned["weight"]) == pytest.approx(lon.mean())
    assert np.average(binned["lat"], weights=binned["weight"]) == pytest.approx(lat.mean())
    with pytest.raises(InputError, match="`max_points` was 0"):
        bin_points(lon, lat, max_points=0)


# --- hand-made cells, cases and inspections -----------------------------------------------------

A, A_OLD, B, C, D = 1, 2, 3, 4, 5
CELLS = {
    # id: (code, geometry, households, valid_from, valid_to)
    A: ("350304001001001", box(118.95, 25.38, 118.96, 25.39), 400, "2025-06-01", None),
    A_OLD: ("350304001001001", box(118.95, 25.38, 118.965, 25.39), 500, "2024-01-01", "2025-06-01"),
    B: ("350304001001002", box(118.96, 25.38, 118.97, 25.39), 250, "2024-01-01", None),
    C: ("350304001001003", box(118.95, 25.39, 118.96, 25.40), 0, "2024-01-01", None),
    D: ("350304002001001", box(119.00, 25.38, 119.01, 25.39), 100, "2024-01-01", None),
}
CASES = [
    # (category, reported_at in China Standard Time, cell id or None, rejected)
    ("fire_safety", "2025-07-01 09:00", A, False),
    ("fire_safety", "2025-08-01 09:00", A, False),
    ("fire_safety", "2025-09-01 09:00", A, True),
    ("environment", "2025-07-15 09:00", A, False),
    ("fire_safety", "2025-03-01 09:00", A_OLD, False),
    ("fire_safety", "2024-12-31 23:30", B, False),  # before 2025 in Beijing, not in UTC
    ("fire_safety", "2025-01-01 00:00", B, False),  # `since` is inclusive
    ("dispute", "2025-12-31 23:59", B, False),
    ("fire_safety", "2026-01-01 00:00", B, False),  # `until` is exclusive
    ("fire_safety", "2025-05-05 09:00", C, False),
    ("fire_safety", "2025-06-06 09:00", D, False),
    ("fire_safety", "2025-04-04 09:00", None, False),  # filed in no cell
]
NOW = dt.datetime(2025, 12, 31, 12, 0, tzinfo=CST)
INSPECTIONS = [
    # (days before NOW, cell ids visited)
    (1.0, [A]),
    (2.0, [A, B]),
    (10.0, [A]),
    (30.0, [A]),  # exactly at the start of the 30-day window: outside it
    (-1.0, [A]),  # after NOW: ignored
    (45.5, [B]),
    (0.0, [D]),  # exactly at NOW: counts
    (244.0, [A_OLD]),
]


def _local(text_time: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_time).replace(tzinfo=CST)


@pytest.fixture
def tiny(engine: Engine) -> Engine:
    """Two communities, four active cells and a retired version, cases and inspections."""
    insert_sample_areas(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name) "
                "VALUES ('350304002001', '350304002', '东岩社区')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO layout_version (id, community_code, version, method) VALUES "
                "(1, '350304001001', 1, 'import'), (2, '350304001001', 2, 'edit'), "
                "(3, '350304002001', 1, 'import')"
            )
        )
        for cell_id, (code, geom, households, valid_from, valid_to) in CELLS.items():
            conn.execute(
                text(
                    "INSERT INTO grid_cell (id, code, community_code, geom, households, "
                    "version_from_id, version_to_id, valid_from, valid_to, status) VALUES "
                    "(:id, :code, :community, ST_Multi(ST_GeomFromText(:wkt, 4326)), "
                    ":households, :v_from, :v_to, :valid_from, :valid_to, :status)"
                ),
                {
                    "id": cell_id,
                    "code": code,
                    "community": code[:12],
                    "wkt": geom.wkt,
                    "households": households,
                    "v_from": 3 if code.startswith("350304002") else 1 + (cell_id == A),
                    "v_to": 2 if valid_to else None,
                    "valid_from": _local(valid_from + " 00:00"),
                    "valid_to": _local(valid_to + " 00:00") if valid_to else None,
                    "status": "retired" if valid_to else "active",
                },
            )
        for number, (category, reported, cell_id, rejected) in enumerate(CASES, start=1):
            at = _local(reported)
            point = CELLS[cell_id][1].centroid if cell_id else shapely.Point(118.99, 25.45)
            conn.execute(
                text(
                    "INSERT INTO case_record (id, category_code, cell_id, reported_at, "
                    "rejected_at, geom) VALUES (:id, :category, :cell, :at, :rejected, "
                    "ST_GeomFromText(:wkt, 4326))"
                ),
                {
                    "id": number,
                    "category": category,
                    "cell": cell_id,
                    "at": at,
                    "rejected": at + dt.timedelta(hours=1) if rejected else None,
                    "wkt": point.wkt,
                },
            )
        for number, (days, visited) in enumerate(INSPECTIONS, start=1):
            conn.execute(
                text(
                    "INSERT INTO inspection (id, started_at, geom) "
                    "VALUES (:id, :at, ST_GeomFromText(:wkt, 4326))"
                ),
                {
                    "id": number,
                    "at": NOW - dt.timedelta(days=days),
                    "wkt": CELLS[visited[0]][1].centroid.wkt,
                },
            )
            for cell_id in visited:
                conn.execute(
                    text("INSERT INTO inspection_cell (inspection_id, cell_id) VALUES (:i, :c)"),
                    {"i": number, "c": cell_id},
                )
    return engine


def _expected_counts(
    *, categories: set[str] | None = None, rejected: bool = False
) -> dict[int, int]:
    """Cases per cell id for 2025 (Beijing time), counted from :data:`CASES`."""
    counts = dict.fromkeys(CELLS, 0)
    since, until = _local("2025-01-01 00:00"), _local("2026-01-01 00:00")
    for category, reported, cell_id, is_rejected in CASES:
        if cell_id is None or not since <= _local(reported) < until:
            continue
        if (categories is None or category in categories) and (rejected or not is_rejected):
            counts[cell_id] += 1
    return counts


def test_counts_and_rates_per_1000_households(tiny: Engine) -> None:
    cells = cell_case_density(tiny, **YEAR_2025)
    assert cells.index.tolist() == [A, B, C, D]  # active cells only, by code
    assert cells.crs == "EPSG:4326"
    expected = _expected_counts()
    assert cells["cases"].to_dict() == {k: expected[k] for k in (A, B, C, D)}
    # A: 3 cases (the rejected one left out) for 400 households; B: 2 for 250; D: 1 for 100.
    assert cells.loc[[A, B, D], "rate_per_1000"].tolist() == [7.5, 8.0, 10.0]
    assert cells.loc[C, "cases"] == 1 and math.isnan(cells.loc[C, "rate_per_1000"])
    assert cells.loc[A, ["community", "street", "households"]].tolist() == [
        "英龙社区",
        "镇海街道",
        400,
    ]


def test_filters_by_category_rejection_retirement_and_area(tiny: Engine) -> None:
    fire = cell_case_density(tiny, category="消防安全", **YEAR_2025)
    assert fire["cases"].to_dict() == {
        k: v for k, v in _expected_counts(categories={"fire_safety"}).items() if k != A_OLD
    }
    assert fire.loc[A, "rate_per_1000"] == 5.0
    two = cell_case_density(tiny, category=["environment", "矛盾纠纷"], by_category=True)
    assert two.loc[[A, B], ["cases", "cases_dispute", "cases_environment"]].values.tolist() == [
        [1, 0, 1],
        [1, 1, 0],
    ]
    assert [c for c in two.columns if c.startswith("cases_")] == [  # in the order asked
        "cases_environment",
        "cases_dispute",
    ]
    with_rejected = cell_case_density(tiny, include_rejected=True, **YEAR_2025)
    assert with_rejected.loc[A, "cases"] == _expected_counts(rejected=True)[A] == 4
    history = cell_case_density(tiny, include_retired=True, **YEAR_2025)
    assert history.loc[A_OLD, ["status", "cases", "rate_per_1000"]].tolist() == [
        "retired",
        1,
        2.0,
    ]
    # A retired version that ended before the period is not shown.
    later = cell_case_density(tiny, include_retired=True, since=dt.datetime(2025, 7, 1))
    assert A_OLD not in later.index
    west = cell_case_density(tiny, street="350304001", **YEAR_2025)
    assert west.index.tolist() == [A, B, C]
    east = cell_case_density(tiny, community="350304002001", **YEAR_2025)
    assert east.index.tolist() == [D] and east["cases"].tolist() == [1]


def test_bad_filters_name_the_value(tiny: Engine) -> None:
    with pytest.raises(InputError, match="`street` was '3503040' but is expected to be a 9-digit"):
        cell_case_density(tiny, street="3503040")
    with pytest.raises(NotFoundError, match="`community` was '350304001099' but no community"):
        cell_case_density(tiny, community="350304001099")
    with pytest.raises(NotFoundError, match=r"`category` was '火灾'.*fire_safety"):
        cell_case_density(tiny, category=["fire_safety", "火灾"])
    with pytest.raises(InputError, match=r"`since` .* must come before `until`"):
        cell_case_density(tiny, since=dt.datetime(2025, 2, 1), until=dt.datetime(2025, 1, 1))
    with pytest.raises(InputError, match="`community` was '350304002001' but is not in the street"):
        cell_case_density(tiny, street="350304001", community="350304002001")
    with pytest.raises(InputError, match="`until` was '2025' but is expected to be a datetime"):
        cell_case_density(tiny, until="2025")  # type: ignore[arg-type]


def test_inspection_recency_against_hand_set_times(tiny: Engine) -> None:
    recency = inspection_recency(tiny, now=NOW)
    assert recency.index.tolist() == [A, B, C, D]
    assert recency["days_since_inspection"].loc[[A, B, D]].tolist() == pytest.approx(
        [1.0, 2.0, 0.0]
    )
    # A: 1, 2 and 10 days ago are in the 30 days; exactly 30 days ago and tomorrow are not.
    assert recency["recent_inspections"].to_dict() == {A: 3, B: 1, C: 0, D: 1}
    assert recency["never_inspected"].to_dict() == {A: False, B: False, C: True, D: False}
    assert math.isnan(recency.loc[C, "days_since_inspection"])
    assert recency.loc[A, "last_inspected_at"] == pd.Timestamp(NOW - dt.timedelta(days=1))
    # As of 40 days earlier, B was last seen 5.5 days before and A not within 30 days.
    earlier = inspection_recency(tiny, now=NOW - dt.timedelta(days=40))
    assert earlier.loc[B, "days_since_inspection"] == pytest.approx(5.5)
    assert earlier.loc[A, "never_inspected"]  # its earlier visits were to the old version
    wider = inspection_recency(tiny, now=NOW, window_days=31, include_retired=True)
    assert wider.loc[A, "recent_inspections"] == 4
    assert wider.loc[A_OLD, "days_since_inspection"] == pytest.approx(244.0)
    with pytest.raises(InputError, match="`window_days` was 0"):
        inspection_recency(tiny, window_days=0)


def test_heat_points_are_the_counted_cases(tiny: Engine) -> None:
    heat = heat_points(tiny, **YEAR_2025)
    assert heat.bin_degrees is None and heat.cases == sum(_expected_counts().values()) - 1
    binned = heat_points(tiny, **YEAR_2025, include_retired=True, max_points=2)
    assert len(binned.points) <= 2 and binned.cases == sum(_expected_counts().values())
    assert binned.points["weight"].sum() == binned.cases


def test_density_cells_puts_it_together(tiny: Engine) -> None:
    cells = density_cells(tiny, now=NOW, **YEAR_2025)
    assert cells.loc[A, ["cases", "days_since_inspection", "recent_inspections"]].tolist() == [
        3,
        pytest.approx(1.0),
        3,
    ]
    assert cells.loc[C, "hotspot"] == "no_data"  # no households, no rate
    assert cells.loc[D, "hotspot"] == "island"  # alone in its community's corner of the map
    by_count = density_cells(tiny, now=NOW, value="count", include_retired=True, **YEAR_2025)
    assert by_count.loc[C, "hotspot"] == "not_significant"
    assert by_count.loc[A_OLD, "hotspot"] is None  # retired cells are not tested
    with pytest.raises(InputError, match="`value` was 'density'"):
        density_cells(tiny, value="density")  # type: ignore[arg-type]


# --- the demo district --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(pg_server: Any, demo_template: str) -> Iterator[str]:
    """One copy of the demo for this module's tests that only read."""
    name = f"gridgis_density_{os.getpid()}"
    yield pg_server.create(name, template=demo_template)
    pg_server.drop(name)


@pytest.fixture(scope="module")
def demo(demo_db: str) -> Iterator[Engine]:
    engine = create_engine(demo_db)
    yield engine
    engine.dispose()


def test_demo_counts_equal_an_independent_sql_count(demo: Engine) -> None:
    since, until = dt.datetime(2025, 3, 1, tzinfo=CST), dt.datetime(2025, 9, 1, tzinfo=CST)
    cells = cell_case_density(demo, category=["fire_safety", "工商食药"], since=since, until=until)
    with demo.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.code, g.households, count(c.id) FROM grid_cell g "
                "LEFT JOIN case_record c ON c.cell_id = g.id AND c.rejected_at IS NULL "
                "AND c.category_code IN ('fire_safety', 'commerce_food_drug') "
                "AND c.reported_at >= :since AND c.reported_at < :until "
                "WHERE g.valid_to IS NULL GROUP BY g.code, g.households ORDER BY g.code"
            ),
            {"since": since, "until": until},
        ).all()
    assert cells["code"].tolist() == [r[0] for r in rows]
    assert cells["cases"].tolist() == [r[2] for r in rows]
    assert cells["cases"].sum() > 500
    for (_, households, count), rate in zip(rows, cells["rate_per_1000"], strict=True):
        if households:
            assert rate == pytest.approx(count * 1000 / households)
        else:
            assert math.isnan(rate)


def test_demo_neighbours_contain_libpysal_queen(demo: Engine) -> None:
    cells = read_areas(demo, "cell").reset_index(drop=True)
    ours = queen_neighbours(cells)
    theirs = Graph.build_contiguity(cells, rook=False).sparse.tocsr()
    # libpysal's queen links cells that share a vertex; every such pair is ours too.
    assert (theirs.multiply(ours) != theirs).nnz == 0
    # Ours also links cells whose boundaries meet where only one of them has a vertex
    # (a T-junction), or that float-point noise keeps a hair apart: within 0.1 m.
    extra = sparse.triu(ours - theirs.multiply(ours)).tocoo()
    geoms = np.asarray(cells.geometry.array, dtype=object)
    gaps = shapely.distance(geoms[extra.row], geoms[extra.col])
    assert (gaps <= 0.1 / 111_320).all()


# --- the JSON endpoints -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web(demo_db: str) -> Iterator[Any]:
    application = create_app({"TESTING": True, "DATABASE_URL": demo_db})
    yield application
    dispose_engine(application)


def _answer(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def test_cells_geojson_for_an_administrator(web: Any, demo: Engine) -> None:
    client = web.test_client()
    assert _answer(client, "/api/density/cells.geojson", 401)["error"]["message"]
    sign_in(client, role="admin", name="density-admin")
    response = client.get(
        "/api/density/cells.geojson?since=2025-01-01&until=2025-12-31&category=消防安全"
        "&now=2026-01-01T00:00:00%2B08:00&by_category=1"
    )
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    answer = json.loads(response.get_data(as_text=True))
    expected = density_cells(
        demo,
        category="fire_safety",
        since=dt.datetime(2025, 1, 1),
        until=dt.datetime(2026, 1, 1),
        now=dt.datetime(2026, 1, 1),
    )
    properties = [f["properties"] for f in answer["features"]]
    assert [p["code"] for p in properties] == expected["code"].tolist()
    assert [p["cases"] for p in properties] == expected["cases"].tolist()
    assert [p["cases_fire_safety"] for p in properties] == expected["cases"].tolist()
    assert [p["hotspot"] for p in properties] == expected["hotspot"].tolist()
    assert [p["recent_inspections"] for p in properties] == expected["recent_inspections"].tolist()
    first = properties[0]
    assert first["last_inspected_at"] is None or first["last_inspected_at"].endswith("+08:00")
    for p in properties:
        assert p["rate_per_1000"] is None or p["rate_per_1000"] >= 0
        assert p["hotspot"] in ("no_data", "island") or isinstance(p["gi_z"], float)
    meta = answer["density"]
    assert meta["cases"] == int(expected["cases"].sum())
    assert meta["filters"]["category"] == ["消防安全"]
    assert meta["filters"]["until"].startswith("2026-01-01T00:00:00")  # a bare date: whole day
    assert "Benjamini-Hochberg" in meta["hotspots"]["correction"]

    bare = _answer(client, "/api/density/cells.geojson?category=fire_safety&geometry=0")
    assert [f["properties"]["code"] for f in bare["features"]] == expected["code"].tolist()
    assert all(f["geometry"] is None for f in bare["features"])
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in answer["features"])

    heat = _answer(client, "/api/density/heat.json?category=fire_safety&max_points=200")
    assert len(heat["points"]) <= 200 and heat["order"] == ["lat", "lon", "weight"]
    assert sum(p[2] for p in heat["points"]) == heat["cases"]
    lat, lon, _ = heat["points"][0]
    assert 24 < lat < 27 and 118 < lon < 120


def test_cell_table_holds_the_geojson_figures_and_only_the_fields_asked(
    analyst: FlaskClient,
) -> None:
    query = "since=2025-01-01&until=2025-12-31&now=2026-01-01T00:00:00%2B08:00"
    full = _answer(analyst, f"/api/density/cells.geojson?geometry=0&{query}")
    table = _answer(analyst, f"/api/density/cells.json?{query}")
    rows = [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]
    assert rows == [f["properties"] for f in full["features"]]
    assert table["density"] == full["density"]

    asked = "hotspot,cases,gi_z,cases"  # code comes first, always; a repeat counts once
    fields = _answer(analyst, f"/api/density/cells.json?fields={asked}&{query}")
    assert fields["columns"] == ["code", "hotspot", "cases", "gi_z"]
    assert fields["rows"] == [[r["code"], r["hotspot"], r["cases"], r["gi_z"]] for r in rows]
    geojson = _answer(analyst, f"/api/density/cells.geojson?fields=cases&{query}")
    assert all(set(f["properties"]) == {"code", "cases"} for f in geojson["features"])
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in geojson["features"])

    unknown = _answer(analyst, "/api/density/cells.json?fields=cases,colour", 422)["error"][
        "message"
    ]
    assert "`fields` named 'colour'" in unknown and "rate_per_1000" in unknown
    geometry = _answer(analyst, "/api/density/cells.json?geometry=0", 422)["error"]["message"]
    assert "unknown query parameter(s) `geometry`" in geometry


def test_a_street_office_sees_only_its_street(web: Any) -> None:
    client = web.test_client()
    sign_in(client, role="street", street="350304001", name="density-street")
    answer = _answer(client, "/api/density/cells.geojson")
    streets = {f["properties"]["street_code"] for f in answer["features"]}
    assert streets == {"350304001"}
    heat = _answer(client, "/api/density/heat.json")
    assert heat["cases"] == _cases_in_street(web, "350304001")
    for url in (
        "/api/density/cells.geojson?street=350304002",
        "/api/density/heat.json?community=350304002001",
    ):
        assert "may see only street 350304001" in _answer(client, url, 403)["error"]["message"]


def _cases_in_street(web: Any, street: str) -> int:
    engine = create_engine(web.config["DATABASE_URL"])
    try:
        return int(cell_case_density(engine, street=street)["cases"].sum())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def analyst(web: Any) -> FlaskClient:
    client: FlaskClient = web.test_client()
    sign_in(client, role="analyst", name="density-analyst")
    return client


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("since=2025-13-01", 422, "`since` was '2025-13-01'"),
        ("since=yesterday", 422, "`since` was 'yesterday'"),
        ("until=0001-01-01", 422, "from 1900 to 2100"),
        ("since=2025-06-01&until=2025-01-01", 400, "must come before `until`"),
        ("street=35030400", 422, "`street` was '35030400'"),
        ("street=350304%00001", 400, "NUL"),
        ("community=350304001999", 404, "no community has that code"),
        ("category=火灾", 404, "`category` was '火灾'"),
        ("category=,", 422, "`category` was ','"),
        ("retired=maybe", 422, "`retired` was 'maybe'"),
        ("value=density", 422, "`value` was 'density'"),
        ("geometry=none", 422, "`geometry` was 'none'"),
        ("window_days=0", 422, "`window_days` was 0"),
        ("window_days=99999999999999999999", 422, "`window_days`"),
        ("now=2025-01-01T25:00", 422, "`now` was"),
        ("street=350304001&street=350304002", 422, "`street` was given 2 times"),
        ("colour=red", 422, "unknown query parameter(s) `colour`"),
    ],
)
def test_cells_geojson_refuses_bad_input(
    analyst: FlaskClient, query: str, status: int, message: str
) -> None:
    assert (
        message
        in _answer(analyst, f"/api/density/cells.geojson?{query}", status)["error"]["message"]
    )


@pytest.mark.parametrize(
    ("query", "status", "english", "chinese"),
    [
        (
            "community=350304001999",
            404,
            "`community` was '350304001999' but no community has that code",
            "`community` 为 '350304001999'，但没有这个编码的社区",
        ),
        (
            "street=350304001&community=350304002001",
            400,
            "`community` was '350304002001' but is not in the street given ('350304001')",
            "`community` 为 '350304002001'，不在所给的街道（'350304001'）内",
        ),
    ],
)
def test_a_chinese_page_is_told_the_error_in_chinese(
    analyst: FlaskClient, query: str, status: int, english: str, chinese: str
) -> None:
    url = f"/api/density/cells.geojson?{query}"
    assert _answer(analyst, url, status)["error"]["message"] == english
    answer = analyst.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert answer.status_code == status
    assert answer.get_json()["error"]["message"] == chinese


def test_heat_json_refuses_bad_input(analyst: FlaskClient) -> None:
    for query, message in (
        ("max_points=0", "`max_points` was 0"),
        ("max_points=50001", "at most 50000"),
        ("value=rate", "unknown query parameter(s) `value`"),
        ("since=2025-01-01T00:00:00%2B25:00", "`since` was"),
    ):
        assert (
            message in _answer(analyst, f"/api/density/heat.json?{query}", 422)["error"]["message"]
        )


def test_a_district_without_cells_gives_empty_frames(engine: Engine) -> None:
    insert_sample_areas(engine)
    cells = density_cells(engine, street="350304001", now=NOW)
    assert len(cells) == 0 and cells.crs == "EPSG:4326"
    assert {"cases", "rate_per_1000", "hotspot", "days_since_inspection"} <= set(cells.columns)
    heat = heat_points(engine)
    assert heat.cases == 0 and len(heat.points) == 0


def test_inspection_recency_per_period_and_per_area(tiny: Engine) -> None:
    last_two_weeks = inspection_recency(tiny, now=NOW, since=NOW - dt.timedelta(days=15))
    # A: 1, 2 and 10 days ago; the one after NOW never counts; D: exactly at NOW counts.
    assert last_two_weeks["inspections"].to_dict() == {A: 3, B: 1, C: 0, D: 1}
    before = inspection_recency(tiny, now=NOW, until=NOW - dt.timedelta(days=5))
    assert before["inspections"].to_dict() == {A: 2, B: 1, C: 0, D: 0}
    every = inspection_recency(tiny, now=NOW)
    communities = inspection_recency(tiny, now=NOW, level="community")
    assert communities.index.tolist() == ["350304001001", "350304002001"]
    # Inspection 2 went through A and B: once for their community, once for each cell.
    assert communities["inspections"].tolist() == [5, 1]
    assert every.loc[[A, B, C], "inspections"].sum() == 6
    assert (
        communities.loc["350304001001", "last_inspected_at"]
        == every.loc[[A, B, C], "last_inspected_at"].max()
    )
    assert communities["days_since_inspection"].tolist() == pytest.approx([1.0, 0.0])
    streets = inspection_recency(tiny, now=NOW, level="street", since=NOW - dt.timedelta(days=15))
    assert streets["inspections"].to_dict() == {"350304001": 3, "350304002": 1}
    one = inspection_recency(tiny, now=NOW, level="community", community="350304002001")
    assert one.index.tolist() == ["350304002001"]
    with pytest.raises(InputError, match="`level` was 'district'"):
        inspection_recency(tiny, level="district")  # type: ignore[arg-type]
