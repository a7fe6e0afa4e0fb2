"""Key figures per area (gridgis.analysis.figures) on the small demo district."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import DEMO_DISTRICT, cell_point
from sqlalchemy import Engine, text

from gridgis.analysis.figures import (
    COUNT_COLUMNS,
    DETAIL_COLUMNS,
    FIGURE_COLUMNS,
    area_figures,
    area_path,
    area_total,
    cell_service,
    child_level,
    figure_records,
    level_of,
)
from gridgis.cases import advance_case, create_case, get_case
from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.errors import InputError, NotFoundError

NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
"""After every demo case was reported: open demo cases are past their deadlines."""


def _frame(engine: Engine, sql: str, **params: object) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(text(sql), conn, params=params)


def test_children_add_up_to_their_parents(demo_engine: Engine) -> None:
    district = area_total(demo_engine, DEMO_DISTRICT, now=NOW)
    streets = area_figures(demo_engine, "street", within=DEMO_DISTRICT, now=NOW)
    assert list(streets.columns) == list(FIGURE_COLUMNS)
    assert len(streets) > 1 and (streets["parent_code"] == DEMO_DISTRICT).all()
    cell_sums = ["households", "residents", "cells", "cells_out_of_bounds"]
    cell_sums += ["cells_without_worker", "cells_without_branch"]
    for column in cell_sums:
        assert streets[column].sum() == district[column], column
    # Every demo case lies in a cell, so the case counts add up too.
    for column in ("cases", "open_cases", "overdue_cases", "closed_cases", "closed_on_time"):
        assert streets[column].sum() == district[column], column
    assert streets["closed_late"].sum() == district["closed_late"]
    street = streets.iloc[0]
    communities = area_figures(demo_engine, "community", within=street["code"], now=NOW)
    cells = area_figures(demo_engine, "cell", within=street["code"], now=NOW)
    for column in COUNT_COLUMNS:
        assert communities[column].sum() == street[column], column
        if column != "cells":
            assert cells[column].sum() == street[column], column
    assert (cells["cells"] == 1).all() and len(cells) == street["cells"]


def test_figures_equal_direct_counts(demo_engine: Engine) -> None:
    """Every figure of every cell, against pandas on the raw tables."""
    cells = _frame(
        demo_engine,
        "SELECT g.id, g.code, g.households, g.residents, "
        "coalesce(m.min_households, :low) AS low, coalesce(m.max_households, :high) AS high "
        "FROM grid_cell g JOIN community m ON m.code = g.community_code "
        "WHERE g.valid_to IS NULL",
        low=DEFAULT_BOUNDS[0],
        high=DEFAULT_BOUNDS[1],
    )
    workers = set(_frame(demo_engine, "SELECT cell_id FROM worker_cell")["cell_id"])
    branches = set(_frame(demo_engine, "SELECT cell_id FROM branch_cell")["cell_id"])
    cases = _frame(
        demo_engine,
        "SELECT g.code, c.closed_at, c.rejected_at, c.deadline FROM case_record c "
        "JOIN grid_cell g ON g.id = c.cell_id",
    )
    got = area_figures(demo_engine, "cell", now=NOW).set_index("code")
    assert sorted(got.index) == sorted(cells["code"])
    # The demo has cells without a worker, without a branch, and open cases.
    assert got["cells_without_worker"].sum() > 0 and got["cells_without_branch"].sum() > 0
    assert got["open_cases"].sum() > 0
    for cell in cells.itertuples():
        row = got.loc[cell.code]
        assert row["households"] == cell.households and row["residents"] == cell.residents
        assert row["cells_out_of_bounds"] == int(not cell.low <= cell.households <= cell.high)
        assert row["cells_without_worker"] == int(cell.id not in workers)
        assert row["cells_without_branch"] == int(cell.id not in branches)
        mine = cases[cases["code"] == cell.code]
        open_ = mine[mine["closed_at"].isna() & mine["rejected_at"].isna()]
        closed = mine[mine["closed_at"].notna()]
        on_time = int((closed["closed_at"] <= closed["deadline"]).sum())
        assert row["cases"] == len(mine)
        assert row["open_cases"] == len(open_)
        assert row["overdue_cases"] == int((open_["deadline"] < pd.Timestamp(NOW)).sum())
        assert row["closed_cases"] == len(closed)
        assert row["closed_on_time"] == on_time
        assert row["closed_late"] == int((closed["closed_at"] > closed["deadline"]).sum())
        if len(closed):
            assert row["on_time_rate"] == pytest.approx(on_time / len(closed))
        else:
            assert pd.isna(row["on_time_rate"])


def test_district_figures_equal_sql_counts(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        direct = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM grid_cell WHERE valid_to IS NULL) AS cells, "
                "(SELECT sum(households) FROM grid_cell WHERE valid_to IS NULL) AS households, "
                "(SELECT count(*) FROM case_record WHERE closed_at IS NULL "
                " AND rejected_at IS NULL) AS open_cases, "
                "(SELECT count(*) FROM case_record WHERE closed_at IS NULL "
                " AND rejected_at IS NULL AND deadline < :now) AS overdue_cases, "
                "(SELECT count(*) FROM case_record WHERE closed_at IS NOT NULL) AS closed, "
                "(SELECT count(*) FROM case_record WHERE closed_at > deadline) AS closed_late"
            ),
            {"now": NOW},
        ).one()
    total = area_total(demo_engine, DEMO_DISTRICT, now=NOW)
    assert total["level"] == "district" and total["name"] == "荔城区"
    assert total["cells"] == direct.cells and total["households"] == direct.households
    assert total["open_cases"] == direct.open_cases
    assert total["overdue_cases"] == direct.overdue_cases
    assert total["closed_cases"] == direct.closed
    assert total["closed_late"] == direct.closed_late > 0
    assert [r["code"] for r in figure_records(area_figures(demo_engine, "district"))] == [
        DEMO_DISTRICT
    ]


def test_a_case_past_its_deadline_is_overdue_up_the_hierarchy(demo_engine: Engine) -> None:
    code, lon, lat = cell_point(demo_engine)
    chain = [code[:6], code[:9], code[:12], code]
    before = {c: area_total(demo_engine, c) for c in chain}
    # Reported two days ago in a category with 48 hours: open and overdue now.
    case = create_case(
        demo_engine,
        category="cityscape",
        lon=lon,
        lat=lat,
        reported_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=49),
        actor="test",
    )
    assert case["cell_code"] == code and case["overdue"]
    after = {c: area_total(demo_engine, c) for c in chain}
    for c in chain:
        assert after[c]["cases"] == before[c]["cases"] + 1, c
        assert after[c]["open_cases"] == before[c]["open_cases"] + 1, c
        assert after[c]["overdue_cases"] == before[c]["overdue_cases"] + 1, c
    # Closed late: no longer open or overdue-open; closed, but not on time.
    for step in ("registered", "dispatched", "handled", "verified", "closed"):
        advance_case(demo_engine, case["id"], step, actor="测试")
    closed = area_total(demo_engine, code)
    assert closed["open_cases"] == before[code]["open_cases"]
    assert closed["overdue_cases"] == before[code]["overdue_cases"]
    assert closed["closed_cases"] == before[code]["closed_cases"] + 1
    assert closed["closed_on_time"] == before[code]["closed_on_time"]
    assert closed["closed_late"] == before[code]["closed_late"] + 1
    shown = get_case(demo_engine, case["id"])
    assert (shown["overdue"], shown["closed_late"]) == (False, True)


def test_no_cases_and_out_of_bounds(demo_engine: Engine) -> None:
    code, _, _ = cell_point(demo_engine)
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM case_record WHERE cell_id IN "
                "(SELECT id FROM grid_cell WHERE code = :code)"
            ),
            {"code": code},
        )
        # Bounds no cell of the community can meet.
        conn.execute(
            text("UPDATE community SET min_households = 0, max_households = 0 WHERE code = :c"),
            {"c": code[:12]},
        )
    total = area_total(demo_engine, code)
    assert total["cases"] == total["closed_cases"] == 0
    assert total["on_time_rate"] is None  # nothing closed: no rate
    assert total["cells_out_of_bounds"] == 1
    community = area_total(demo_engine, code[:12])
    assert community["cells_out_of_bounds"] == community["cells"] >= 1


def test_path_and_service_of_a_cell(demo_engine: Engine) -> None:
    code, _, _ = cell_point(demo_engine)
    path = area_path(demo_engine, code)
    assert [p["level"] for p in path] == ["district", "street", "community", "cell"]
    assert [p["code"] for p in path] == [code[:6], code[:9], code[:12], code]
    assert path[0]["name"] == "荔城区"
    assert area_path(demo_engine, code[:9] + "999")[-1]["code"] == code[:9]
    with demo_engine.connect() as conn:
        workers = conn.execute(
            text(
                "SELECT w.name FROM grid_worker w JOIN worker_cell x ON x.worker_id = w.id "
                "JOIN grid_cell g ON g.id = x.cell_id WHERE g.code = :c ORDER BY w.name"
            ),
            {"c": code},
        ).scalars()
        branches = conn.execute(
            text(
                "SELECT b.name FROM party_branch b JOIN branch_cell x ON x.branch_id = b.id "
                "JOIN grid_cell g ON g.id = x.cell_id WHERE g.code = :c ORDER BY b.name"
            ),
            {"c": code},
        ).scalars()
        expected_workers, expected_branches = list(workers), list(branches)
    service = cell_service(demo_engine, code)
    assert [w["name"] for w in service["workers"]] == expected_workers
    assert [b["name"] for b in service["branches"]] == expected_branches


def test_bad_arguments_are_named(demo_engine: Engine) -> None:
    with pytest.raises(InputError, match="`level` was 'town'"):
        area_figures(demo_engine, "town")
    with pytest.raises(InputError, match="`within` was '35a'"):
        area_figures(demo_engine, "street", within="35a")
    with pytest.raises(InputError, match="`code` was '1234'"):
        area_total(demo_engine, "1234")
    with pytest.raises(NotFoundError, match="no street has the code '350304999'"):
        area_total(demo_engine, "350304999")
    with pytest.raises(NotFoundError, match="no active cell has the code"):
        area_total(demo_engine, "350304001001999")
    with pytest.raises(InputError, match="15-digit cell code"):
        cell_service(demo_engine, "350304001")
    assert level_of("350304001001") == "community"
    assert child_level("district") == "street" and child_level("cell") is None
    assert area_figures(demo_engine, "community", within="999").empty


def test_period_category_and_detail_options(demo_engine: Engine) -> None:
    cut = dt.datetime(2025, 7, 1)
    plain = area_figures(demo_engine, "street", now=NOW)
    later = area_figures(demo_engine, "street", now=NOW, since=cut, by_category=True, detail=True)
    categories = _frame(demo_engine, "SELECT code FROM case_category ORDER BY code")["code"]
    assert list(later.columns) == [
        *FIGURE_COLUMNS,
        *DETAIL_COLUMNS,
        *(f"cases_{c}" for c in categories),
    ]
    assert (later[[f"cases_{c}" for c in categories]].sum(axis=1) == later["cases"]).all()
    assert (later["cases"] < plain["cases"]).all() and later["cases"].sum() > 0
    counted = _frame(
        demo_engine,
        "SELECT street_code AS code, count(*) AS n, count(closed_at) AS closed FROM case_record "
        "WHERE reported_at >= :cut GROUP BY 1",
        cut=cut.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))),
    ).set_index("code")
    indexed = later.set_index("code")
    assert (indexed["cases"] == counted["n"].reindex(indexed.index).fillna(0)).all()
    assert (indexed["closed_cases"] == counted["closed"].reindex(indexed.index).fillna(0)).all()
    fire = area_figures(demo_engine, "street", now=NOW, category="消防安全", by_category=True)
    assert [c for c in fire.columns if c.startswith("cases_")] == ["cases_fire_safety"]
    assert (fire["cases"] == fire["cases_fire_safety"]).all()
    assert (
        fire["cases"] == area_figures(demo_engine, "street", category="fire_safety")["cases"]
    ).all()
    # Detail: buildings add up; a worker of several cells counts once higher up.
    cells = area_figures(demo_engine, "cell", detail=True)
    assert cells["buildings"].sum() == later["buildings"].sum() > 0
    served = _frame(
        demo_engine,
        "SELECT g.code, count(*) AS n FROM worker_cell w JOIN grid_cell g ON g.id = w.cell_id "
        "WHERE g.valid_to IS NULL GROUP BY 1",
    ).set_index("code")["n"]
    assert (cells.set_index("code")["workers"] == served.reindex(cells["code"]).fillna(0)).all()
    assert later["workers"].sum() <= cells["workers"].sum()
    assert (
        later["workers"].sum()
        >= _frame(
            demo_engine,
            "SELECT count(DISTINCT w.worker_id) AS n FROM worker_cell w "
            "JOIN grid_cell g ON g.id = w.cell_id WHERE g.valid_to IS NULL",
        )["n"].iloc[0]
    )
    with pytest.raises(InputError, match="`by_category` was 'yes'"):
        area_figures(demo_engine, "street", by_category="yes")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="'火灾'"):
        area_figures(demo_engine, "street", category="火灾")
    with pytest.raises(InputError, match="must come before"):
        area_figures(demo_engine, "street", since=cut, until=cut)
