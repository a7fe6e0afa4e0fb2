"""Per-area statistics (gridgis.analysis.stats) on the small demo district."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from conftest import busiest_street, insert_other_district
from geopandas.testing import assert_geodataframe_equal
from sqlalchemy import Engine, create_engine, text

from gridgis.analysis.hotspots import HOTSPOT_CLASSES
from gridgis.analysis.stats import area_statistics
from gridgis.errors import InputError, NotFoundError

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
"""After every demo case was reported."""

CST = dt.timezone(dt.timedelta(hours=8))
SUMMED = (
    "households",
    "residents",
    "buildings",
    "cells",
    "cells_without_worker",
    "cells_without_branch",
    "cases",
    "open_cases",
    "overdue_cases",
    "closed_cases",
    "closed_on_time",
    "closed_late",
)


@pytest.fixture(scope="module")
def db(demo_db: str) -> Iterator[Engine]:
    """The module's read-only copy of the demo district."""
    engine = create_engine(demo_db)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def street(db: Engine) -> str:
    """The street office with the most active cells."""
    return busiest_street(db)


def _scalar(db: Engine, sql: str, **params: object) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def _text(db: Engine, sql: str, **params: object) -> object:
    with db.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_cell_totals_agree_with_sql(db: Engine) -> None:
    cells = area_statistics(db, "cell", now=NOW)
    assert cells.crs == "EPSG:4326"
    assert cells["code"].is_unique and cells["code"].is_monotonic_increasing
    assert len(cells) == _scalar(db, "SELECT count(*) FROM grid_cell WHERE valid_to IS NULL")
    assert cells["households"].sum() == _scalar(
        db, "SELECT sum(households) FROM grid_cell WHERE valid_to IS NULL"
    )
    with db.connect() as conn:
        per_cell = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT g.code, c.category_code, count(*) AS n, "
                    "count(*) FILTER (WHERE c.closed_at <= c.deadline) AS on_time, "
                    "count(c.closed_at) AS closed "
                    "FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                    "WHERE g.code IN (SELECT code FROM grid_cell WHERE valid_to IS NULL) "
                    "GROUP BY 1, 2"
                )
            ).all(),
            columns=["code", "category", "n", "on_time", "closed"],
        )
        categories = list(
            conn.execute(text("SELECT code FROM case_category ORDER BY code")).scalars()
        )
        visits = dict(
            conn.execute(
                text(
                    "SELECT g.code, count(*) FROM inspection_cell x "
                    "JOIN inspection i ON i.id = x.inspection_id "
                    "JOIN grid_cell g ON g.id = x.cell_id "
                    "WHERE g.valid_to IS NULL AND i.started_at <= :now GROUP BY 1"
                ),
                {"now": NOW},
            ).all()
        )
        workers = dict(
            conn.execute(
                text(
                    "SELECT g.code, count(*) FROM worker_cell w JOIN grid_cell g "
                    "ON g.id = w.cell_id WHERE g.valid_to IS NULL GROUP BY 1"
                )
            ).all()
        )
    assert per_cell["n"].sum() > 1000
    assert [c for c in cells.columns if c.startswith("cases_")] == [
        f"cases_{c}" for c in categories
    ]
    table = per_cell.pivot_table(
        index="code", columns="category", values="n", aggfunc="sum", fill_value=0
    )
    indexed = cells.set_index("code")
    for category in categories:
        expected = table.get(category, pd.Series(dtype="int64")).reindex(indexed.index)
        assert (indexed[f"cases_{category}"] == expected.fillna(0).astype("int64")).all()
    totals = per_cell.groupby("code")[["n", "on_time", "closed"]].sum().reindex(indexed.index)
    totals = totals.fillna(0).astype("int64")
    assert (indexed["cases"] == totals["n"]).all()
    assert (indexed["closed_on_time"] == totals["on_time"]).all()
    closed = totals["closed"].where(totals["closed"] > 0)
    assert np.allclose(indexed["on_time_rate"], totals["on_time"] / closed, equal_nan=True)
    rate = indexed["cases"] * 1000 / indexed["households"].where(indexed["households"] > 0)
    assert np.allclose(indexed["rate_per_1000"], rate, equal_nan=True)
    assert (indexed["inspections"] == pd.Series(visits).reindex(indexed.index).fillna(0)).all()
    served = pd.Series(workers).reindex(indexed.index).fillna(0).astype("int64")
    assert (indexed["workers"] == served).all()
    assert (indexed["has_worker"] == (served > 0)).all()
    assert indexed["buildings"].sum() == _scalar(
        db,
        "SELECT count(*) FROM building b WHERE EXISTS (SELECT 1 FROM grid_cell g "
        "WHERE g.valid_to IS NULL AND ST_Covers(g.geom, b.location))",
    )
    assert set(cells["hotspot"]) <= set(HOTSPOT_CLASSES)
    assert np.isfinite(cells["gi_z"]).sum() > len(cells) / 2


def test_a_community_is_the_sum_of_its_cells(db: Engine, street: str) -> None:
    since = dt.datetime(2025, 3, 1)
    cells = area_statistics(db, "cell", street=street, since=since, now=NOW)
    communities = area_statistics(db, "community", street=street, since=since, now=NOW)
    assert set(communities["code"]) == set(cells["community_code"])
    grouped = cells.groupby("community_code")
    indexed = communities.set_index("code")
    summed = [*SUMMED, *(c for c in cells.columns if c.startswith("cases_"))]
    sums = grouped[summed].sum().reindex(indexed.index)
    for column in summed:
        assert (indexed[column] == sums[column]).all(), column
    assert indexed["cases"].sum() > 100
    # Rates are recomputed from the sums, not summed or averaged.
    households = indexed["households"].where(indexed["households"] > 0)
    assert np.allclose(indexed["rate_per_1000"], indexed["cases"] * 1000 / households)
    closed = indexed["closed_cases"].where(indexed["closed_cases"] > 0)
    assert np.allclose(indexed["on_time_rate"], indexed["closed_on_time"] / closed, equal_nan=True)
    # An inspection through several cells of a community counts once for it.
    assert (indexed["inspections"] <= grouped["inspections"].sum()).all()
    assert (indexed["inspections"] >= grouped["inspections"].max()).all()
    last = grouped["last_inspected_at"].max().reindex(indexed.index)
    assert (indexed["last_inspected_at"] == last).all()
    assert (indexed["workers"] <= grouped["workers"].sum()).all()
    assert (indexed["has_worker"] == grouped["has_worker"].all()).all()
    assert (indexed["has_branch"] == grouped["has_branch"].all()).all()
    assert (indexed["street_code"] == street).all()
    assert not communities.geometry.is_empty.any()

    streets = area_statistics(db, "street", since=since, now=NOW).set_index("code")
    mine = streets.loc[street]
    for column in summed:
        assert mine[column] == indexed[column].sum(), column
    assert indexed["inspections"].max() <= mine["inspections"] < indexed["inspections"].sum()
    # The street's rate is recomputed from its sums, not the sum or mean of its parts'.
    assert len(indexed) > 1
    assert math.isclose(mine["rate_per_1000"], mine["cases"] * 1000 / mine["households"])
    assert not math.isclose(mine["rate_per_1000"], indexed["rate_per_1000"].sum())
    assert not math.isclose(mine["rate_per_1000"], indexed["rate_per_1000"].mean())
    assert math.isclose(mine["on_time_rate"], mine["closed_on_time"] / mine["closed_cases"])


def test_period_filters_cases_and_inspections(db: Engine, street: str) -> None:
    cut = dt.datetime(2025, 7, 1)
    whole = area_statistics(db, "community", street=street, now=NOW).set_index("code")
    first = area_statistics(db, "community", street=street, until=cut, now=NOW).set_index("code")
    second = area_statistics(db, "community", street=street, since=cut, now=NOW).set_index("code")
    for column in ("cases", "closed_cases", "closed_on_time", "inspections", "cases_fire_safety"):
        assert (first[column] + second[column] == whole[column]).all(), column
    assert first["cases"].sum() > 0 and second["cases"].sum() > 0
    assert first["cases"].sum() == _scalar(
        db,
        "SELECT count(*) FROM case_record WHERE street_code = :s AND reported_at < :cut",
        s=street,
        cut=cut.replace(tzinfo=CST),
    )
    # Households do not depend on the period; the last inspection is that up to `now`.
    assert (first["households"] == whole["households"]).all()
    assert (first["last_inspected_at"] == whole["last_inspected_at"]).all()
    june = area_statistics(
        db,
        "street",
        street=street,
        since=dt.datetime(2025, 6, 1),
        until=dt.datetime(2025, 7, 1),
        now=NOW,
    )
    assert june["inspections"].iloc[0] == _scalar(
        db,
        "SELECT count(DISTINCT i.id) FROM inspection i JOIN inspection_cell x "
        "ON x.inspection_id = i.id JOIN grid_cell g ON g.id = x.cell_id "
        "WHERE g.valid_to IS NULL AND left(g.code, 9) = :s "
        "AND i.started_at >= :a AND i.started_at < :b",
        s=street,
        a=dt.datetime(2025, 6, 1, tzinfo=CST),
        b=dt.datetime(2025, 7, 1, tzinfo=CST),
    )
    earlier = area_statistics(db, "street", street=street, now=dt.datetime(2025, 6, 1))
    assert earlier["last_inspected_at"].iloc[0] < dt.datetime(2025, 6, 1, tzinfo=CST)
    days = (
        dt.datetime(2025, 6, 1, tzinfo=CST) - earlier["last_inspected_at"].iloc[0]
    ).total_seconds() / 86400
    assert math.isclose(earlier["days_since_inspection"].iloc[0], days)


def test_categories_restrict_the_cases(db: Engine, street: str) -> None:
    fire = area_statistics(db, "community", street=street, categories=["消防安全"], now=NOW)
    every = area_statistics(db, "community", street=street, now=NOW).set_index("code")
    assert [c for c in fire.columns if c.startswith("cases_")] == ["cases_fire_safety"]
    fire = fire.set_index("code")
    assert (fire["cases"] == fire["cases_fire_safety"]).all()
    assert (fire["cases"] == every["cases_fire_safety"]).all()
    assert (fire["cases"] < every["cases"]).any()
    with pytest.raises(NotFoundError, match="'火灾'"):
        area_statistics(db, "cell", categories=["火灾"])


def test_scoping_arguments(db: Engine, street: str) -> None:
    cells = area_statistics(db, "cell", street=street, now=NOW)
    assert len(cells) and cells["code"].str.startswith(street).all()
    community = str(cells["community_code"].iloc[0])
    one = area_statistics(db, "cell", community=community, now=NOW)
    assert set(one["code"]) == set(cells.loc[cells["community_code"] == community, "code"])
    alone = area_statistics(db, "community", community=community, now=NOW)
    assert alone["code"].tolist() == [community]
    assert alone["hotspot"].tolist() == ["island"]  # nothing to compare it with
    with pytest.raises(InputError, match="`level` was 'district'"):
        area_statistics(db, "district")
    with pytest.raises(InputError, match=r"`community` was .* but `level` is 'street'"):
        area_statistics(db, "street", community=community)
    other = str(_text(db, "SELECT min(code) FROM street WHERE code <> :s", s=street))
    with pytest.raises(InputError, match="not in the street given"):
        area_statistics(db, "cell", street=other, community=community)
    with pytest.raises(NotFoundError, match="`street` was '350304999'"):
        area_statistics(db, "cell", street="350304999")
    with pytest.raises(InputError, match="`street` was '3503'"):
        area_statistics(db, "cell", street="3503")
    with pytest.raises(InputError, match=r"`since` .* must come before `until`"):
        area_statistics(db, "cell", since=dt.datetime(2025, 2, 1), until=dt.datetime(2025, 1, 1))


def test_district_scope_on_one_district_is_everything(db: Engine, street: str) -> None:
    district = street[:6]
    for level in ("cell", "community", "street"):
        whole = area_statistics(db, level, now=NOW)
        scoped = area_statistics(db, level, district=district, now=NOW)
        assert len(scoped) > 1
        assert_geodataframe_equal(scoped, whole)
    in_street = area_statistics(db, "community", district=district, street=street, now=NOW)
    assert_geodataframe_equal(in_street, area_statistics(db, "community", street=street, now=NOW))
    with pytest.raises(
        NotFoundError, match="`district` was '999999' but no district has that code"
    ):
        area_statistics(db, "cell", district="999999")
    with pytest.raises(InputError, match="`district` was '35030' but is expected to be a 6-digit"):
        area_statistics(db, "cell", district="35030")
    with pytest.raises(InputError, match="`district` was '350304001' but is expected"):
        area_statistics(db, "cell", district="350304001")


def test_district_scope_leaves_out_another_district(demo_engine: Engine) -> None:
    before = area_statistics(demo_engine, "street", now=NOW)
    other = insert_other_district(demo_engine)
    demo = before["district_code"].iloc[0]
    june = {"since": dt.datetime(2025, 6, 1), "until": dt.datetime(2025, 7, 1), "now": NOW}
    for level in ("cell", "community", "street"):
        every = area_statistics(demo_engine, level, **june)
        assert set(every["district_code"]) == {demo, other["district"]}
        mine = area_statistics(demo_engine, level, district=demo, **june)
        assert set(mine["district_code"]) == {demo}
        assert not mine["code"].str.startswith(other["district"]).any()
        theirs = area_statistics(demo_engine, level, district=other["district"], **june)
        wanted = other[level]
        assert theirs["code"].tolist() == [wanted]
        row = theirs.iloc[0]
        assert (row["households"], row["cases"], row["inspections"]) == (400, 1, 1)
        assert row["hotspot"] == "island"  # compared with nothing of the other district
    assert_geodataframe_equal(
        area_statistics(demo_engine, "street", district=demo, now=NOW), before
    )
    street = str(before["code"].iloc[0])
    with pytest.raises(
        InputError,
        match=rf"`street` was '{street}' but is not in the district given \('211403'\)",
    ):
        area_statistics(demo_engine, "cell", district="211403", street=street)
    community = str(
        _text(demo_engine, "SELECT min(code) FROM community WHERE street_code = :s", s=street)
    )
    with pytest.raises(
        InputError,
        match=rf"`community` was '{community}' but is not in the district given \('211403'\)",
    ):
        area_statistics(demo_engine, "cell", district="211403", community=community)
