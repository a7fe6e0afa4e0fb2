"""The case lifecycle: filing and locating, steps, deadlines, overdue, figures per area, CLI."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import insert_sample_areas
from shapely.geometry import Polygon, box
from sqlalchemy import Connection, Engine, text

from gridgis.address import MATCH_THRESHOLD
from gridgis.cases import (
    LOCAL_TZ,
    IntakeCache,
    advance_case,
    case_categories,
    case_stats,
    create_case,
    deadline_hours,
    get_case,
    list_cases,
    set_deadline_hours,
)
from gridgis.cli import main
from gridgis.crs import wgs84_to_gcj02
from gridgis.db.layout import publish_cells
from gridgis.db.locate import load_cell_index
from gridgis.errors import ConflictError, CRSError, InputError, NotFoundError

T0 = dt.datetime(2025, 1, 1, 8, 0, tzinfo=LOCAL_TZ)
NOW = dt.datetime(2025, 3, 1, 0, 0, tzinfo=LOCAL_TZ)

# 英龙社区 (street 镇海街道, the west half of the sample 荔城区) in two cells; 拱辰街道 (the
# east half) gets one community whose single cell covers only its southern half, so the
# northern half of the east is a gap between cells inside the district.
WEST_COMMUNITY, EAST_COMMUNITY = "350304001001", "350304002001"
CELL_A, CELL_B = f"{WEST_COMMUNITY}001", f"{WEST_COMMUNITY}002"
CELL_C = f"{EAST_COMMUNITY}001"
BOX_A, BOX_B = box(118.95, 25.38, 118.975, 25.46), box(118.975, 25.38, 119.00, 25.46)
BOX_C = box(119.00, 25.38, 119.05, 25.42)
IN_A, IN_B, IN_C = (118.96, 25.40), (118.99, 25.45), (119.02, 25.40)
IN_GAP = (119.02, 25.44)
POINTS = {CELL_A: IN_A, CELL_B: IN_B, CELL_C: IN_C}


def _cells(*rows: tuple[str, Polygon]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [code for code, _ in rows]}, geometry=[g for _, g in rows], crs="EPSG:4326"
    )


def _seed(engine: Engine) -> None:
    """The sample areas of conftest with the three cells above."""
    insert_sample_areas(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name, kind) "
                "VALUES (:c, '350304002', '拱辰社区', 'urban')"
            ),
            {"c": EAST_COMMUNITY},
        )
        publish_cells(
            conn,
            WEST_COMMUNITY,
            _cells((CELL_A, BOX_A), (CELL_B, BOX_B)),
            method="import",
            expected_version=None,
            actor="test",
        )
        publish_cells(
            conn,
            EAST_COMMUNITY,
            _cells((CELL_C, BOX_C)),
            method="import",
            expected_version=None,
            actor="test",
        )


def _insert(
    conn: Connection,
    *,
    cell: str | None,
    reported: dt.datetime,
    closed_after: float | None = None,
    rejected: bool = False,
    registered: bool = False,
    hours: int = 72,
) -> int:
    """Store a case directly, filed in ``cell`` at that cell's point above, with the steps given.

    ``closed_after``: hours from report to closing (every step in between at that time).
    """
    where = {"id": None, "community_code": None, "street_code": None, "lon": None, "lat": None}
    if cell is not None:
        row = conn.execute(
            text(
                "SELECT g.id, g.community_code, m.street_code FROM grid_cell g "
                "JOIN community m ON m.code = g.community_code "
                "WHERE g.code = :c AND g.valid_to IS NULL"
            ),
            {"c": cell},
        ).one()
        lon, lat = POINTS[cell]
        where = dict(row._mapping) | {"lon": lon, "lat": lat}
    closed = reported + dt.timedelta(hours=closed_after) if closed_after is not None else None
    return int(
        conn.execute(
            text(
                "INSERT INTO case_record (category_code, geom, cell_id, community_code, "
                "street_code, reported_at, deadline, registered_at, dispatched_at, handled_at, "
                "verified_at, closed_at, rejected_at, location_flag) VALUES ('fire_safety', "
                "CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint("
                "CAST(:lon AS float8), CAST(:lat AS float8)), 4326) END, :id, :community_code, "
                ":street_code, :reported, :deadline, :registered, :closed, :closed, :closed, "
                ":closed, :rejected, :flag) RETURNING id"
            ),
            where
            | {
                "reported": reported,
                "deadline": reported + dt.timedelta(hours=hours),
                "registered": closed or (reported + dt.timedelta(hours=1) if registered else None),
                "closed": closed,
                "rejected": reported + dt.timedelta(hours=2) if rejected else None,
                "flag": None if cell is not None else "unmatched",
            },
        ).scalar_one()
    )


def _day(day: int, month: int = 1, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=LOCAL_TZ)


def _seed_figures(engine: Engine) -> None:
    """Ten cases whose figures are worked out by hand in the tests below (now = 1 March)."""
    with engine.begin() as conn:
        # cell A: closed on time after 24 h; closed late after 96 h; rejected; open, overdue
        _insert(conn, cell=CELL_A, reported=_day(1), closed_after=24)
        _insert(conn, cell=CELL_A, reported=_day(2), closed_after=96)
        _insert(conn, cell=CELL_A, reported=_day(3), rejected=True)
        _insert(conn, cell=CELL_A, reported=_day(20, 2), registered=True)
        # cell B: closed on time after 10 h; open, deadline (3 March) not yet passed
        _insert(conn, cell=CELL_B, reported=_day(5), closed_after=10)
        _insert(conn, cell=CELL_B, reported=_day(28, 2, 12))
        # cell C: 48 h on time, 200 h late, 30 h on time
        _insert(conn, cell=CELL_C, reported=_day(10), closed_after=48)
        _insert(conn, cell=CELL_C, reported=_day(11), closed_after=200)
        _insert(conn, cell=CELL_C, reported=_day(12), closed_after=30)
        # nowhere: no point, open past its deadline
        _insert(conn, cell=None, reported=_day(15))


def _row(stats: pd.DataFrame, code: str | None) -> dict[str, object]:
    picked = stats[stats["code"].isna()] if code is None else stats[stats["code"] == code]
    assert len(picked) == 1, f"{code} appears {len(picked)} times"
    return picked.iloc[0].to_dict()


def _figures(row: dict[str, object]) -> tuple[object, ...]:
    def rounded(value: object) -> object:
        assert isinstance(value, float)
        return None if math.isnan(value) else round(value, 6)

    return (
        row["cases"],
        row["closed"],
        row["rejected"],
        row["closed_on_time"],
        rounded(row["closure_rate"]),
        rounded(row["on_time_rate"]),
        row["overdue_open"],
        rounded(row["median_hours_to_close"]),
    )


# --- the lifecycle ------------------------------------------------------------------------------


def test_full_lifecycle_records_each_step_with_time_and_actor(engine: Engine) -> None:
    case = create_case(
        engine,
        category="fire_safety",
        description="楼道内电动车充电",
        source="12345热线",
        reported_by="林芳",
        reported_at=T0,
        external_id="hotline-0001",
        actor="test",
    )
    assert case["step"] == "reported"
    assert case["reported_at"] == "2025-01-01T08:00:00+08:00"
    assert case["reported_by"] == "林芳"
    assert case["deadline"] == "2025-01-04T08:00:00+08:00"  # fire safety: 72 h
    assert case["category_name"] == "消防安全"
    assert case["location_flag"] == "unmatched" and case["cell_code"] is None
    actors = {
        "registered": "镇海街道网格中心",
        "dispatched": "镇海街道网格中心",
        "handled": "镇海消防救援站",
        "verified": "陈伟",
        "closed": "镇海街道网格中心",
    }
    for hours, (step, actor) in enumerate(actors.items(), start=1):
        case = advance_case(
            engine, case["id"], step, actor=actor, at=T0 + dt.timedelta(hours=hours)
        )
        assert case["step"] == step
    stored = get_case(engine, case["id"])
    assert [stored[f"{s}_by"] for s in actors] == list(actors.values())
    assert [stored[f"{s}_at"] for s in actors] == [
        f"2025-01-01T{8 + h:02d}:00:00+08:00" for h in range(1, 6)
    ]
    assert stored["rejected_at"] is None and stored["overdue"] is False
    # Chinese step names are understood, and a naive time is China Standard Time.
    other = create_case(engine, category="消防安全", reported_at=T0, actor="test")
    moved = advance_case(
        engine, other["id"], "立案", actor="网格中心", at=dt.datetime(2025, 1, 1, 9)
    )
    assert moved["step"] == "registered" and moved["registered_at"] == "2025-01-01T09:00:00+08:00"
    rejected = advance_case(
        engine, other["id"], "rejected", actor="网格中心", at=T0 + dt.timedelta(2)
    )
    assert rejected["step"] == "rejected" and rejected["rejected_by"] == "网格中心"


def test_steps_only_move_forward_one_at_a_time(engine: Engine) -> None:
    case = create_case(engine, category="dispute", reported_at=T0, actor="test")
    cid = case["id"]
    skip = (
        f"case {cid} is at step 'reported' (上报); its next step is 'registered' (立案), "
        "it cannot skip to 'dispatched' (派遣)"
    )
    with pytest.raises(ConflictError, match=re.escape(skip)):
        advance_case(engine, cid, "dispatched", actor="网格中心", at=T0)
    advance_case(engine, cid, "registered", actor="网格中心", at=T0 + dt.timedelta(hours=1))
    advance_case(engine, cid, "dispatched", actor="网格中心", at=T0 + dt.timedelta(hours=2))
    back = (
        f"case {cid} is at step 'dispatched' (派遣) and cannot go back to 'registered' (立案), "
        "which it passed at 2025-01-01T09:00:00+08:00; a case only moves forward"
    )
    with pytest.raises(ConflictError, match=re.escape(back)):
        advance_case(engine, cid, "registered", actor="网格中心", at=T0 + dt.timedelta(hours=3))
    early = (
        "`at` was 2025-01-01T09:30:00+08:00 but case "
        f"{cid} reached its previous step 'dispatched' (派遣) at 2025-01-01T10:00:00+08:00"
    )
    with pytest.raises(InputError, match=re.escape(early)):
        advance_case(engine, cid, "handled", actor="消防站", at=T0 + dt.timedelta(hours=1.5))
    with pytest.raises(InputError, match=r"`actor` was ' ' but is expected to name who"):
        advance_case(engine, cid, "handled", actor=" ")
    with pytest.raises(InputError, match=r"`step` was 'done' but is expected to be one of"):
        advance_case(engine, cid, "done", actor="消防站")
    with pytest.raises(InputError, match=r"`step` was 'reported' but a case is reported when"):
        advance_case(engine, cid, "reported", actor="消防站")
    with pytest.raises(NotFoundError, match=r"case 999999 does not exist"):
        advance_case(engine, 999999, "handled", actor="消防站")
    # Nothing of the refused moves was stored.
    stored = get_case(engine, cid)
    assert stored["step"] == "dispatched" and stored["handled_at"] is None


def test_finished_cases_cannot_change(engine: Engine) -> None:
    case = create_case(engine, category="errand", reported_at=T0, actor="test")
    cid = case["id"]
    for hours, step in enumerate(("registered", "dispatched", "handled", "verified"), start=1):
        advance_case(engine, cid, step, actor="网格员", at=T0 + dt.timedelta(hours=hours))
    advance_case(engine, cid, "closed", actor="王五", at=T0 + dt.timedelta(hours=5))
    finished = (
        f"case {cid} is finished: 'closed' (结案) at 2025-01-01T13:00:00+08:00 by 王五; "
        "a finished case cannot change"
    )
    with pytest.raises(ConflictError, match=re.escape(finished + " (asked for 'rejected' (作废))")):
        advance_case(engine, cid, "rejected", actor="王五")
    with pytest.raises(ConflictError, match=re.escape(finished + " (asked for 'verified' (核查))")):
        advance_case(engine, cid, "verified", actor="王五")
    other = create_case(engine, category="errand", reported_at=T0, actor="test")
    advance_case(engine, other["id"], "rejected", actor="李四", at=T0 + dt.timedelta(hours=1))
    with pytest.raises(ConflictError, match=r"is finished: 'rejected' \(作废\) at .* by 李四"):
        advance_case(engine, other["id"], "registered", actor="李四")
    assert get_case(engine, cid)["rejected_at"] is None


def test_advance_inside_the_callers_transaction(engine: Engine) -> None:
    case = create_case(engine, category="errand", reported_at=T0, actor="test")
    with engine.connect() as conn:
        advance_case(conn, case["id"], "registered", actor="网格员", at=T0)
        with pytest.raises(ConflictError, match="cannot skip"):
            advance_case(conn, case["id"], "handled", actor="网格员", at=T0)
        conn.rollback()
    assert get_case(engine, case["id"])["step"] == "reported"


# --- categories and deadlines -------------------------------------------------------------------


def test_unknown_category_and_duplicate_external_id(engine: Engine) -> None:
    with pytest.raises(
        NotFoundError,
        match=r"`category` was 'fire' but is expected to be one of the categories in "
        r"case_category: cityscape \(市容环境\), commerce_food_drug \(工商食药\)",
    ):
        create_case(engine, category="fire", actor="test")
    first = create_case(engine, category="cityscape", external_id="12345-2025-0001", actor="test")
    with pytest.raises(
        ConflictError,
        match=re.escape(
            f"`external_id` was '12345-2025-0001' but case {first['id']} already has it"
        ),
    ):
        create_case(engine, category="cityscape", external_id="12345-2025-0001", actor="test")
    with pytest.raises(InputError, match=r"`lon` was 119.0 and `lat` was None: give both"):
        create_case(engine, category="cityscape", lon=119.0, actor="test")
    with pytest.raises(InputError, match=r"`reported_at` was '2025-01-01' but is expected to be"):
        create_case(engine, category="cityscape", reported_at="2025-01-01", actor="test")  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_record")).scalar_one() == 1


def test_deadline_comes_from_the_category_table(engine: Engine) -> None:
    hours = deadline_hours(engine)
    assert len(hours) == 10 and hours["fire_safety"] == 72 and hours["dispute"] == 168
    before = create_case(engine, category="fire_safety", reported_at=T0, actor="test")
    assert before["deadline"] == "2025-01-04T08:00:00+08:00"
    set_deadline_hours(engine, "消防安全", 24, actor="test")
    assert deadline_hours(engine)["fire_safety"] == 24
    after = create_case(engine, category="fire_safety", reported_at=T0, actor="test")
    assert after["deadline"] == "2025-01-02T08:00:00+08:00"
    assert get_case(engine, before["id"])["deadline"] == "2025-01-04T08:00:00+08:00"
    with pytest.raises(InputError, match=r"`hours` was 0 but is expected to be a whole number"):
        set_deadline_hours(engine, "fire_safety", 0, actor="test")
    with pytest.raises(NotFoundError, match=r"`category` was 'fires' but is expected"):
        set_deadline_hours(engine, "fires", 12, actor="test")
    names = {c["code"]: c["name_en"] for c in case_categories(engine)}
    assert names["errand"] == "Errands for residents"


def test_overdue_is_open_past_deadline_and_closed_late_is_apart(engine: Engine) -> None:
    now = dt.datetime.now(LOCAL_TZ)
    old = now - dt.timedelta(days=30)
    open_late = create_case(
        engine, category="cityscape", reported_at=old, actor="test"
    )  # 48 h limit
    open_in_time = create_case(engine, category="cityscape", reported_at=now, actor="test")
    closed_late, closed_in_time, rejected = (
        create_case(engine, category="cityscape", reported_at=old, actor="test") for _ in range(3)
    )
    for case, hours in ((closed_late, 49), (closed_in_time, 48)):
        for step in ("registered", "dispatched", "handled", "verified", "closed"):
            advance_case(
                engine, case["id"], step, actor="网格员", at=old + dt.timedelta(hours=hours)
            )
    advance_case(engine, rejected["id"], "rejected", actor="网格员", at=old)
    cases = {
        "open_late": open_late,
        "open_in_time": open_in_time,
        "closed_late": closed_late,
        "closed_in_time": closed_in_time,
        "rejected": rejected,
    }
    stored = {name: get_case(engine, case["id"]) for name, case in cases.items()}
    # 超期: open and past the deadline; 逾期结案: closed after it. Never both.
    assert {name: case["overdue"] for name, case in stored.items()} == {
        "open_late": True,
        "open_in_time": False,
        "closed_late": False,
        "closed_in_time": False,
        "rejected": False,
    }
    assert {name: case["closed_late"] for name, case in stored.items()} == {
        "open_late": False,
        "open_in_time": False,
        "closed_late": True,
        "closed_in_time": False,  # closed exactly at the deadline is on time
        "rejected": False,
    }
    assert {c["id"] for c in list_cases(engine, overdue=True)} == {open_late["id"]}
    assert {c["id"] for c in list_cases(engine, closed_late=True)} == {closed_late["id"]}
    assert {c["id"] for c in list_cases(engine, overdue=False, closed_late=False)} == {
        open_in_time["id"],
        closed_in_time["id"],
        rejected["id"],
    }
    # As filed (the answer of create_case): open, so never closed late.
    assert (open_late["overdue"], open_late["closed_late"]) == (True, False)
    assert (open_in_time["overdue"], open_in_time["closed_late"]) == (False, False)
    with pytest.raises(InputError, match=r"`closed_late` was 'yes' but is expected to be True"):
        list_cases(engine, closed_late="yes")  # type: ignore[arg-type]


# --- listing --------------------------------------------------------------------------------------


def test_list_filters_order_and_paging(engine: Engine) -> None:
    _seed(engine)
    _seed_figures(engine)
    everything = list_cases(engine, limit=1000)
    assert len(everything) == 10
    keys = [(c["reported_at"], c["id"]) for c in everything]
    assert keys == sorted(keys, reverse=True)
    assert {c["cell_code"] for c in list_cases(engine, community=WEST_COMMUNITY)} == {
        CELL_A,
        CELL_B,
    }
    assert len(list_cases(engine, street="350304002")) == 3
    assert len(list_cases(engine, cell=CELL_A)) == 4
    assert [c["step"] for c in list_cases(engine, step="rejected")] == ["rejected"]
    january = list_cases(engine, since=_day(5), until=_day(11))
    assert [c["reported_at"][:10] for c in january] == ["2025-01-10", "2025-01-05"]
    assert len(list_cases(engine, category="fire_safety", limit=2, offset=9)) == 1
    assert list_cases(engine, limit=3, offset=3) == everything[3:6]
    with pytest.raises(InputError, match=r"`limit` was 0 but is expected to be from 1 to 1000"):
        list_cases(engine, limit=0)
    with pytest.raises(InputError, match=r"`limit` was 1001 but"):
        list_cases(engine, limit=1001)
    with pytest.raises(
        InputError, match=r"`community` was '3503' but is expected to be a 12-digit"
    ):
        list_cases(engine, community="3503")


# --- figures ------------------------------------------------------------------------------------


def test_stats_per_cell_community_and_street_by_hand(engine: Engine) -> None:
    _seed(engine)
    _seed_figures(engine)
    cells = case_stats(engine, level="cell", now=NOW)
    assert list(cells.columns) == [
        "code",
        "name",
        "cases",
        "closed",
        "rejected",
        "closed_on_time",
        "closed_late",
        "closure_rate",
        "on_time_rate",
        "overdue_open",
        "median_hours_to_close",
    ]
    assert cells["code"].tolist() == [CELL_A, CELL_B, CELL_C, None]
    # 逾期结案 (closed late) apart from 超期 (open overdue): A and C each closed one late.
    assert cells["closed_late"].tolist() == [1, 0, 1, 0]
    assert (cells["closed_late"] == cells["closed"] - cells["closed_on_time"]).all()
    # cases, closed, rejected, on time, 结案率, 按期结案率, open overdue, median hours
    assert _figures(_row(cells, CELL_A)) == (4, 2, 1, 1, round(2 / 3, 6), 0.5, 1, 60.0)
    assert _figures(_row(cells, CELL_B)) == (2, 1, 0, 1, 0.5, 1.0, 0, 10.0)
    assert _figures(_row(cells, CELL_C)) == (3, 3, 0, 2, 1.0, round(2 / 3, 6), 0, 48.0)
    assert _figures(_row(cells, None)) == (1, 0, 0, 0, 0.0, None, 1, None)
    communities = case_stats(engine, level="community", now=NOW)
    west = _row(communities, WEST_COMMUNITY)
    assert west["name"] == "英龙社区"
    assert _figures(west) == (6, 3, 1, 2, 0.6, round(2 / 3, 6), 1, 24.0)
    assert _figures(_row(communities, EAST_COMMUNITY)) == _figures(_row(cells, CELL_C))
    streets = case_stats(engine, level="street", now=NOW)
    assert streets["name"].tolist() == ["镇海街道", "拱辰街道", None]
    assert _figures(_row(streets, "350304001")) == _figures(west)
    # A period: reported from 5 January up to (not including) 12 January.
    period = case_stats(engine, level="cell", since=_day(5), until=_day(12), now=NOW)
    assert _figures(_row(period, CELL_A))[:2] == (0, 0)  # an active cell without cases
    assert _figures(_row(period, CELL_C)) == (2, 2, 0, 1, 1.0, 0.5, 0, 124.0)
    assert period["code"].isna().sum() == 0
    with pytest.raises(InputError, match=r"`level` was 'district' but is expected to be one of"):
        case_stats(engine, level="district")
    with pytest.raises(InputError, match=r"`layout` was 'today' but is expected to be one of"):
        case_stats(engine, layout="today")


def test_stats_after_a_redraw_filed_and_current(engine: Engine) -> None:
    _seed(engine)
    _seed_figures(engine)
    with engine.begin() as conn:
        # A case exactly on the line between A and B (filed in A, the smaller code) and one
        # on the line where the redrawn cells 003 and 004 will meet.
        for lon, lat in ((118.975, 25.40), (118.96, 25.42)):
            case_id = _insert(conn, cell=CELL_A, reported=_day(6), closed_after=5)
            conn.execute(
                text("UPDATE case_record SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
                     "WHERE id = :id"),
                {"x": lon, "y": lat, "id": case_id},
            )  # fmt: skip
    total = 12
    before = case_stats(engine, level="cell", layout="current", now=NOW)
    assert before["cases"].sum() == total
    assert _row(before, CELL_A)["cases"] == 6
    with engine.begin() as conn:  # redraw 英龙社区 as a south and a north cell
        publish_cells(
            conn,
            WEST_COMMUNITY,
            _cells(
                (f"{WEST_COMMUNITY}003", box(118.95, 25.38, 119.00, 25.42)),
                (f"{WEST_COMMUNITY}004", box(118.95, 25.42, 119.00, 25.46)),
            ),
            method="draw",
            expected_version=1,
            actor="test",
        )
    filed = case_stats(engine, level="cell", layout="filed", now=NOW)
    assert filed["cases"].sum() == total
    assert _row(filed, CELL_A)["cases"] == 6 and _row(filed, CELL_B)["cases"] == 2
    assert f"{WEST_COMMUNITY}003" in set(filed["code"])  # active cells appear, with 0 cases
    assert _row(filed, f"{WEST_COMMUNITY}003")["cases"] == 0
    current = case_stats(engine, level="cell", layout="current", now=NOW)
    assert current["cases"].sum() == total
    assert current["code"].tolist() == [
        f"{WEST_COMMUNITY}003",
        f"{WEST_COMMUNITY}004",
        CELL_C,
        None,
    ]
    # A's four centre cases and the one on the A/B line lie in the south cell, with the
    # case on the new line (smallest code wins); B's two cases lie in the north.
    assert _row(current, f"{WEST_COMMUNITY}003")["cases"] == 6
    assert _row(current, f"{WEST_COMMUNITY}004")["cases"] == 2
    assert _row(current, None)["cases"] == 1
    for level in ("community", "street"):
        by_filed = case_stats(engine, level=level, layout="filed", now=NOW)
        by_current = case_stats(engine, level=level, layout="current", now=NOW)
        assert by_filed["cases"].sum() == by_current["cases"].sum() == total
        # The redraw stayed inside the community, so its figures do not change.
        assert _figures(
            _row(by_filed, WEST_COMMUNITY if level == "community" else "350304001")
        ) == (_figures(_row(by_current, WEST_COMMUNITY if level == "community" else "350304001")))


def test_stats_on_the_demo_district(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
        result = conn.execute(
            text(
                "SELECT street_code, reported_at, deadline, closed_at, rejected_at FROM case_record"
            )
        )
        raw = pd.DataFrame(result.all(), columns=list(result.keys()))
    now = raw["reported_at"].max()
    streets = case_stats(demo_engine, level="street", now=now)
    for layout in ("filed", "current"):
        for level in ("cell", "community", "street"):
            stats = case_stats(demo_engine, level=level, layout=layout, now=now)
            assert stats["cases"].sum() == total, (layout, level)
            assert stats["code"].dropna().is_unique
    # One street worked out again with pandas from the raw rows.
    code = streets.dropna(subset=["code"]).sort_values("cases").iloc[-1]["code"]
    mine = raw[raw["street_code"] == code]
    closed = mine[mine["closed_at"].notna()]
    expected_closure = len(closed) / (len(mine) - mine["rejected_at"].notna().sum())
    expected_on_time = (closed["closed_at"] <= closed["deadline"]).mean()
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    row = _row(streets, code)
    assert row["cases"] == len(mine)
    assert row["closure_rate"] == pytest.approx(expected_closure)
    assert row["on_time_rate"] == pytest.approx(expected_on_time)
    assert row["median_hours_to_close"] == pytest.approx(hours.median())
    some = list_cases(demo_engine, street=code, overdue=True, limit=50)
    assert some and all(c["street_code"] == code and c["overdue"] for c in some)


def test_stats_median_is_exactly_what_postgresql_computes(demo_engine: Engine) -> None:
    # PostgreSQL's median is a float8; it must come out as it is, not rounded on the way.
    with demo_engine.connect() as conn:
        result = conn.execute(text("SELECT street_code, reported_at, closed_at FROM case_record"))
        raw = pd.DataFrame(result.all(), columns=list(result.keys()))
    closed = raw[raw["closed_at"].notna()]
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    expected = hours.groupby(closed["street_code"]).median()
    streets = case_stats(demo_engine, level="street").dropna(subset=["code"])
    found = streets.set_index("code")["median_hours_to_close"].loc[expected.index]
    assert len(expected) > 1
    assert found.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-14, abs=0)


# --- locating new cases -------------------------------------------------------------------------


def test_create_by_point_locates_and_flags(engine: Engine) -> None:
    _seed(engine)
    in_b = create_case(
        engine, category="cityscape", lon=IN_B[0], lat=IN_B[1], reported_at=T0, actor="test"
    )
    assert (in_b["cell_code"], in_b["community_code"], in_b["street_code"]) == (
        CELL_B,
        WEST_COMMUNITY,
        "350304001",
    )
    assert in_b["located_by"] == "coordinates" and in_b["location_flag"] is None
    assert (in_b["lon"], in_b["lat"]) == pytest.approx(IN_B)
    # The same place as AMap (GCJ-02) gives it: converted, located in the same cell.
    gx, gy = wgs84_to_gcj02(*IN_C)
    in_c = create_case(engine, category="cityscape", lon=gx, lat=gy, crs="gcj02", actor="test")
    assert in_c["cell_code"] == CELL_C
    assert (in_c["raw_x"], in_c["raw_y"], in_c["raw_crs"]) == (gx, gy, "gcj02")
    assert in_c["lon"] == pytest.approx(IN_C[0], abs=1e-7)
    # In a gap between cells, outside the district: point kept, no cell.
    gap = create_case(engine, category="cityscape", lon=IN_GAP[0], lat=IN_GAP[1], actor="test")
    assert (gap["location_flag"], gap["cell_code"], gap["lon"]) == ("gap", None, IN_GAP[0])
    outside = create_case(engine, category="cityscape", lon=116.40, lat=39.90, actor="test")
    assert (outside["location_flag"], outside["cell_code"]) == ("outside", None)
    # Swapped (lat, lon) and outside China: stored, flagged, the point not used.
    swapped = create_case(
        engine, category="cityscape", lon=IN_A[1], lat=IN_A[0], external_id="app-77", actor="test"
    )
    assert swapped["location_flag"] == "swapped"
    assert (swapped["lon"], swapped["lat"], swapped["cell_code"]) == (None, None, None)
    assert (swapped["raw_x"], swapped["raw_y"], swapped["raw_crs"]) == (IN_A[1], IN_A[0], "wgs84")
    assert get_case(engine, swapped["id"])["external_id"] == "app-77"
    paris = create_case(engine, category="cityscape", lon=2.35, lat=48.86, actor="test")
    assert (paris["location_flag"], paris["lon"]) == ("outside_china", None)
    with pytest.raises(InputError, match=r"`lon`/`lat` were \(500000.0, 4400000.0\) in wgs84"):
        create_case(engine, category="cityscape", lon=500000.0, lat=4400000.0, actor="test")
    with pytest.raises(CRSError, match=r"`crs` was 'mars'"):
        create_case(
            engine, category="cityscape", lon=IN_A[0], lat=IN_A[1], crs="mars", actor="test"
        )
    stats = case_stats(engine, level="cell")
    assert _row(stats, CELL_B)["cases"] == 1 and _row(stats, CELL_C)["cases"] == 1
    assert _row(stats, None)["cases"] == 4


def test_create_by_address_locates_the_building(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        building = conn.execute(
            text(
                "SELECT b.id, b.address, (SELECT g.code FROM grid_cell g WHERE g.valid_to IS NULL "
                "AND ST_Covers(g.geom, b.location) ORDER BY g.code LIMIT 1) AS cell_code "
                "FROM building b WHERE b.address LIKE '%栋' AND b.address IN (SELECT address "
                "FROM building GROUP BY address HAVING count(*) = 1) ORDER BY b.id LIMIT 1"
            )
        ).one()
    case = create_case(
        demo_engine, category="property_management", address=building.address, actor="test"
    )
    assert case["located_by"] == "address" and case["location_flag"] is None
    assert case["building_id"] == building.id
    assert case["cell_code"] == building.cell_code is not None
    assert case["match_score"] >= MATCH_THRESHOLD
    assert case["address"] == building.address and case["raw_x"] is None
    lost = create_case(
        demo_engine, category="property_management", address="火星市奥林帕斯路1号", actor="test"
    )
    assert (lost["location_flag"], lost["located_by"], lost["cell_code"]) == (
        "unmatched",
        "address",
        None,
    )


def test_a_filed_case_answers_as_it_is_stored_on_every_path(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        index = load_cell_index(conn)
    gx, gy = wgs84_to_gcj02(*IN_C)
    places: list[dict[str, Any]] = [
        {"lon": IN_B[0], "lat": IN_B[1]},
        {"lon": 118.975, "lat": 25.40},  # on the A/B line: the smaller code, A
        {"lon": gx, "lat": gy, "crs": "gcj02"},
        {"lon": IN_C[0], "lat": IN_C[1], "crs": "EPSG:4490"},
        {"lon": IN_GAP[0], "lat": IN_GAP[1]},
        {"lon": 116.40, "lat": 39.90},
        {"lon": IN_A[1], "lat": IN_A[0]},
        {"lon": 2.35, "lat": 48.86},
        {"address": "火星市奥林帕斯路1号"},
        {},
    ]
    cache = IntakeCache()
    for n, where in enumerate([{"cache": cache}, {"index": index}, {}]):
        for m, place in enumerate(places):
            case = create_case(
                engine, category="消防安全", description="楼道堆物", source="12345",
                external_id=f"x-{n}-{m}", reported_by="王芳", reported_at=_day(1 + m), **place,
                **where,
                actor="test",
            )  # fmt: skip
            assert case == get_case(engine, case["id"]), (where, place)
    placed = list_cases(engine, limit=1000)
    cells = {(c["raw_x"], c["raw_y"]): c["cell_code"] for c in placed if c["cell_code"]}
    assert cells[(118.975, 25.40)] == CELL_A and cells[IN_B] == CELL_B
    assert cells[IN_C] == CELL_C and cells[(gx, gy)] == CELL_C
    by_path = [
        [(c["cell_code"], c["location_flag"]) for c in placed if c["external_id"][2] == str(n)]
        for n in range(3)
    ]
    assert by_path[0] == by_path[1] == by_path[2]  # memory, a given index and PostGIS agree


def test_the_cache_follows_redraws_edits_and_categories(engine: Engine) -> None:
    _seed(engine)
    cache = IntakeCache()
    first = create_case(
        engine, category="cityscape", lon=IN_A[0], lat=IN_A[1], cache=cache, actor="test"
    )
    assert first["cell_code"] == CELL_A
    with engine.connect() as conn:
        stale = load_cell_index(conn)
    with engine.begin() as conn:  # redraw 英龙社区 as a south and a north cell
        publish_cells(
            conn,
            WEST_COMMUNITY,
            _cells(
                (f"{WEST_COMMUNITY}003", box(118.95, 25.38, 119.00, 25.42)),
                (f"{WEST_COMMUNITY}004", box(118.95, 25.42, 119.00, 25.46)),
            ),
            method="draw",
            expected_version=1,
            actor="test",
        )
    # Right after the publish, the cache places the case in the new layout ...
    south = create_case(
        engine, category="cityscape", lon=IN_A[0], lat=IN_A[1], cache=cache, actor="test"
    )
    assert south == get_case(engine, south["id"])
    assert south["cell_code"] == f"{WEST_COMMUNITY}003"
    assert len(cache.cells(engine)) == 3
    # ... inside the caller's transaction too; an index given by the caller is used as it is.
    with engine.begin() as conn:
        north = create_case(
            conn, category="cityscape", lon=IN_B[0], lat=IN_B[1], cache=cache, actor="test"
        )
        old = create_case(
            conn, category="cityscape", lon=IN_B[0], lat=IN_B[1], index=stale, actor="test"
        )
    assert (north["cell_code"], old["cell_code"]) == (f"{WEST_COMMUNITY}004", CELL_B)
    # Cells edited without publish_cells are seen after max_age (0 here: every case).
    fresh = IntakeCache(max_age=0)
    gap = create_case(
        engine, category="cityscape", lon=IN_GAP[0], lat=IN_GAP[1], cache=fresh, actor="test"
    )
    assert gap["location_flag"] == "gap"
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE grid_cell SET geom = ST_Multi(ST_MakeEnvelope(119.00, 25.38, 119.05, "
                "25.46, 4326)) WHERE code = :c"
            ),
            {"c": CELL_C},
        )
    moved = create_case(
        engine, category="cityscape", lon=IN_GAP[0], lat=IN_GAP[1], cache=fresh, actor="test"
    )
    assert (moved["cell_code"], moved["location_flag"]) == (CELL_C, None)
    # Categories: a time limit changed a moment ago applies, a new category is found at once.
    set_deadline_hours(engine, "cityscape", 5, actor="test")
    limited = create_case(engine, category="市容环境", reported_at=T0, cache=cache, actor="test")
    assert limited["deadline"] == "2025-01-01T13:00:00+08:00"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO case_category (code, name_zh, name_en, deadline_hours) "
                "VALUES ('flood', '防汛', 'Flood control', 6)"
            )
        )
    assert create_case(engine, category="防汛", cache=cache, actor="test")["category"] == "flood"
    with pytest.raises(NotFoundError, match=r"`category` was 'fire' but .* flood \(防汛\)"):
        create_case(engine, category="fire", cache=cache, actor="test")


def test_refusals_leave_the_callers_transaction_usable(engine: Engine) -> None:
    _seed(engine)
    cache = IntakeCache()
    with engine.begin() as conn:
        first = create_case(
            conn, category="cityscape", external_id="a-1", cache=cache, actor="test"
        )
        for where in ({"cache": cache}, {}):
            with pytest.raises(ConflictError, match=rf"but case {first['id']} already has it"):
                create_case(conn, category="cityscape", external_id="a-1", **where, actor="test")
            with pytest.raises(NotFoundError, match=r"`category` was 'fire'"):
                create_case(conn, category="fire", **where, actor="test")
        second = create_case(
            conn, category="cityscape", lon=IN_C[0], lat=IN_C[1], cache=cache, actor="test"
        )
    assert get_case(engine, second["id"])["cell_code"] == CELL_C
    with pytest.raises(InputError, match=r"`index` must be a CellIndex, not IntakeCache"):
        create_case(engine, category="cityscape", index=cache, actor="test")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"`max_age` was -1 but is expected to be seconds"):
        IntakeCache(max_age=-1)


def test_a_case_filed_without_waiting_for_the_disk(engine: Engine) -> None:
    _seed(engine)
    quick = create_case(
        engine, category="cityscape", lon=IN_B[0], lat=IN_B[1], durable=False, actor="test"
    )
    assert quick == get_case(engine, quick["id"]) and quick["cell_code"] == CELL_B
    with engine.connect() as conn:  # the setting went with the statement's transaction
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with engine.begin() as conn:  # in the caller's transaction: for the rest of it
        create_case(conn, category="cityscape", durable=False, cache=IntakeCache(), actor="test")
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    with pytest.raises(InputError, match=r"`durable` was 'no' but is expected to be True or"):
        create_case(engine, category="cityscape", durable="no", actor="test")  # type: ignore[arg-type]


def test_list_cases_takes_lists_of_categories_and_steps(engine: Engine) -> None:
    _seed(engine)
    _seed_figures(engine)
    create_case(engine, category="dispute", reported_at=_day(2, 2), actor="test")
    both = list_cases(engine, category=["fire_safety", "矛盾纠纷"], step=["reported", "registered"])
    assert [(c["category"], c["step"]) for c in both] == [
        ("fire_safety", "reported"),
        ("fire_safety", "registered"),
        ("dispute", "reported"),
        ("fire_safety", "reported"),
    ]
    assert list_cases(engine, step=("closed",)) == list_cases(engine, step="closed")
    with pytest.raises(InputError, match=r"`step` was \[\] but is expected to be a string or"):
        list_cases(engine, step=[])
    with pytest.raises(NotFoundError, match=r"`category` was 'fire' but"):
        list_cases(engine, category=["dispute", "fire"])


# --- the command line ---------------------------------------------------------------------------


def test_cli_show_advance_stats_deadlines(
    env_database: str, engine: Engine, tmp_path: Path
) -> None:
    _seed(engine)
    _seed_figures(engine)
    case = create_case(
        engine, category="fire_safety", lon=IN_A[0], lat=IN_A[1], reported_at=T0, actor="test"
    )
    runner = CliRunner()
    shown = runner.invoke(main, ["cases", "show", str(case["id"])])
    assert shown.exit_code == 0, shown.output
    assert re.search(rf"cell_code\s+{CELL_A}", shown.output)
    assert re.search(r"step\s+reported", shown.output)
    moved = runner.invoke(
        main,
        [
            "cases",
            "advance",
            str(case["id"]),
            "立案",
            "--actor",
            "网格中心",
            "--at",
            "2025-01-01T09:00",
        ],
    )
    assert moved.exit_code == 0, moved.output
    assert moved.output.startswith(
        f"case {case['id']}: registered (立案) at 2025-01-01T09:00:00+08:00 by 网格中心"
    )
    skipped = runner.invoke(
        main, ["cases", "advance", str(case["id"]), "closed", "--actor", "网格中心"]
    )
    assert skipped.exit_code == 1
    assert (
        "its next step is 'dispatched' (派遣), it cannot skip to 'closed' (结案)" in skipped.output
    )
    bad_time = runner.invoke(
        main, ["cases", "advance", str(case["id"]), "dispatched", "--actor", "x", "--at", "today"]
    )
    assert bad_time.exit_code == 2 and "is not an ISO 8601 time" in bad_time.output
    missing = runner.invoke(main, ["cases", "show", "999999"])
    assert missing.exit_code == 1 and "case 999999 does not exist" in missing.output

    out = tmp_path / "streets.csv"
    written = runner.invoke(
        main,
        ["cases", "stats", "--level", "street", "--from", "2025-01-01", "--to", "2025-01-11", "-o",
         str(out)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str})
    assert table["code"].tolist() == ["350304001", "350304002"]
    # 1-11 January: A's cases of the 1st, 2nd, 3rd, B's of the 5th, the new one; C's 10th, 11th
    assert table["cases"].tolist() == [5, 2]
    printed = runner.invoke(main, ["cases", "stats", "--level", "community", "--layout", "current"])
    assert printed.exit_code == 0, printed.output
    assert "英龙社区" in printed.output and "(none)" in printed.output
    header = printed.output.splitlines()[0].split()
    assert {"closed_on_time", "closed_late", "overdue_open"} <= set(header)

    deadlines = runner.invoke(
        main, ["cases", "deadlines", "--set", "fire_safety=24", "--set", "矛盾纠纷=96"]
    )
    assert deadlines.exit_code == 0, deadlines.output
    assert re.search(r"fire_safety\s+消防安全\s+24 h", deadlines.output)
    assert re.search(r"dispute\s+矛盾纠纷\s+96 h", deadlines.output)
    assert deadline_hours(engine)["dispute"] == 96
    refused = runner.invoke(main, ["cases", "deadlines", "--set", "fire_safety=12", "--set", "x=1"])
    assert refused.exit_code == 1 and "`category` was 'x'" in refused.output
    assert deadline_hours(engine)["fire_safety"] == 24  # all changes or none
    malformed = runner.invoke(main, ["cases", "deadlines", "--set", "fire_safety"])
    assert malformed.exit_code == 2 and "is not CATEGORY=HOURS" in malformed.output


def test_texts_with_nul_and_implausible_times_are_refused(engine: Engine) -> None:
    _seed(engine)
    for key in ("description", "source", "address", "reported_by", "external_id"):
        with pytest.raises(
            InputError, match=rf"`{key}` was 'a\\x00b' but may not contain a NUL character"
        ):
            create_case(
                engine,
                category="cityscape",
                lon=IN_B[0],
                lat=IN_B[1],
                **{key: "a\x00b"},
                actor="test",
            )
    with pytest.raises(
        InputError, match=r"`reported_at` was '1900-01-01T00:00:00\+08:00' but is before"
    ):
        create_case(engine, category="cityscape", reported_at=dt.datetime(1900, 1, 1), actor="test")
    with pytest.raises(
        InputError, match=r"`reported_at` was '\d{4}-01-01T00:00:00\+08:00' but is after"
    ):
        create_case(
            engine,
            category="cityscape",
            reported_at=dt.datetime(dt.date.today().year + 1, 1, 1),
            actor="test",
        )
    case = create_case(
        engine, category="cityscape", lon=IN_B[0], lat=IN_B[1], reported_at=T0, actor="test"
    )
    with pytest.raises(InputError, match=r"`actor` was 'a\\x00b' but may not contain a NUL"):
        advance_case(engine, case["id"], "registered", actor="a\x00b")
    with pytest.raises(
        InputError, match=r"`at` was '\d{4}-01-01T00:00:00\+08:00' but is after tomorrow"
    ):
        advance_case(
            engine, case["id"], "registered", actor="x",
            at=dt.datetime(dt.date.today().year + 1, 1, 1),
        )  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_record")).scalar() == 1


def test_a_category_is_named_the_same_way_everywhere(engine: Engine) -> None:
    # Drift: a bulk import took a code in any case and the English name ("Fire safety"),
    # while filing one case, listing cases and the density maps took neither.
    from gridgis.analysis.density import cell_case_density

    insert_sample_areas(engine)
    where = {"actor": "cli:test"}
    for asked in ("fire_safety", " FIRE_SAFETY ", "消防安全", "Fire safety", "fire SAFETY"):
        assert create_case(engine, category=asked, **where)["category"] == "fire_safety"
        cached = create_case(engine, category=asked, cache=IntakeCache(), **where)
        assert cached["category"] == "fire_safety"
        assert {c["category"] for c in list_cases(engine, category=[asked, "Dispute"])} == {
            "fire_safety"
        }
    density = cell_case_density(engine, category=["Fire safety", "消防安全"], by_category=True)
    assert [c for c in density.columns if c.startswith("cases_")] == ["cases_fire_safety"]
    with pytest.raises(NotFoundError, match=r"`category` was 'fire' but .* fire_safety \(消防安全"):
        create_case(engine, category="fire", **where)


def test_paging_bounds_are_those_of_the_api(engine: Engine) -> None:
    # Drift: the API refused an offset above 10**9, list_cases took any and a huge one was
    # a database error (bigint out of range) instead of an InputError naming it.
    assert list_cases(engine, offset=1_000_000_000) == []
    with pytest.raises(InputError, match=r"`offset` was 9223372036854775808 but is expected"):
        list_cases(engine, offset=2**63)
    with pytest.raises(InputError, match=r"`offset` was -1 but is expected to be from 0"):
        list_cases(engine, offset=-1)
    with pytest.raises(InputError, match=r"`limit` was True but"):
        list_cases(engine, limit=True)
