"""Bulk import of cases and inspections (gridgis.intake) on the small demo district."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, text

from gridgis.cli import main
from gridgis.crs import from_wgs84
from gridgis.db.engine import dispose_engines
from gridgis.errors import ConflictError, FileEncodingError, GridGISError, InputError
from gridgis.intake import (
    OUTCOMES,
    IntakeReport,
    import_cases,
    import_inspections,
    parse_times,
    read_case_rows,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
CASE_HEADER = ["external_id", "category", "reported_at", "x", "y", "address", "description"]


# --- helpers: places of the demo district, found independently of the code under test ----------


def _interior_points(
    conn: Connection, n: int, *, offset: int = 0
) -> list[tuple[str, float, float]]:
    """(code, lon, lat) of a point well inside each of ``n`` active cells."""
    rows = conn.execute(
        text(
            "SELECT code, ST_X(p), ST_Y(p) FROM ("
            "  SELECT code, ST_PointOnSurface(geom) AS p FROM grid_cell "
            "  WHERE valid_to IS NULL ORDER BY code OFFSET :offset LIMIT :n"
            ") AS t"
        ),
        {"n": n, "offset": offset},
    ).all()
    return [(code, float(x), float(y)) for code, x, y in rows]


def _cell_at(conn: Connection, lon: float, lat: float) -> str | None:
    return conn.execute(
        text(
            "SELECT min(code) FROM grid_cell WHERE valid_to IS NULL "
            "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
        ),
        {"x": lon, "y": lat},
    ).scalar()


def _buildings(conn: Connection, n: int, *, exclude_cells: tuple[str, ...] = ()) -> list[Any]:
    """Buildings with a unique address, their id and the code of the cell holding them."""
    return conn.execute(
        text(
            "SELECT b.id, b.address, c.code FROM building b "
            "JOIN grid_cell c ON c.valid_to IS NULL AND ST_Intersects(c.geom, b.location) "
            "WHERE b.address IS NOT NULL AND NOT (c.code = ANY(:skip)) AND b.address IN ("
            "  SELECT address FROM building GROUP BY address HAVING count(*) = 1) "
            "ORDER BY b.id LIMIT :n"
        ),
        {"n": n, "skip": list(exclude_cells)},
    ).all()


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _write_csv(path: Path, header: list[str], rows: list[list[Any]], encoding: str) -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _by_id(report: IntakeReport) -> dict[str, dict[str, Any]]:
    return {str(r["external_id"]): r for r in report.rows.to_dict("records") if r["external_id"]}


def _check_counts(report: IntakeReport) -> None:
    counts = report.counts
    total = counts["inspections"] if report.kind == "inspections" else counts["rows_read"]
    assert sum(counts.get(o, 0) for o in OUTCOMES) == total == len(report.rows)


def _retire(conn: Connection, code: str) -> None:
    """Retire a cell without successor: its area becomes a gap of the layout."""
    conn.execute(
        text(
            "UPDATE grid_cell SET status = 'retired', valid_to = now() "
            "WHERE code = :code AND valid_to IS NULL"
        ),
        {"code": code},
    )


@pytest.fixture
def places(demo_engine: Engine) -> dict[str, Any]:
    """Cells, buildings and a gap (a retired cell) of this test's demo copy."""
    with demo_engine.begin() as conn:
        points = _interior_points(conn, 4)
        gap_code, gap_x, gap_y = _interior_points(conn, 1, offset=40)[0]
        _retire(conn, gap_code)
        buildings = _buildings(conn, 3, exclude_cells=(gap_code,))
        hours = dict(conn.execute(text("SELECT code, deadline_hours FROM case_category")).all())
        worker = conn.execute(
            text("SELECT id, external_id, name FROM grid_worker ORDER BY id LIMIT 1")
        ).one()
        named = conn.execute(
            text(
                "SELECT id, name FROM grid_worker WHERE name IN ("
                "  SELECT name FROM grid_worker GROUP BY name HAVING count(*) = 1) "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
    return {
        "points": points,
        "gap": (gap_code, gap_x, gap_y),
        "buildings": buildings,
        "hours": hours,
        "worker": worker,
        "named_worker": named,
    }


# --- pure functions --------------------------------------------------------------------------


def test_parse_times_reads_the_usual_forms() -> None:
    times = parse_times(
        [
            "2026-03-01 08:30",
            "2026/3/1 8:30",
            "2026-03-01T08:30:00+08:00",
            "2026-03-01T00:30:00Z",
            "2026年3月1日 8:30",
            dt.datetime(2026, 3, 1, 8, 30),
            "2026-13-01",
            "",
            None,
        ]
    )
    expected = pd.Timestamp("2026-03-01 00:30", tz="UTC")
    assert times.iloc[:6].tolist() == [expected] * 6
    assert times.iloc[6:].isna().all()
    serial = parse_times([46082.5], excel_serials=True)  # Excel's day number of 2026-03-01 12:00
    assert serial.iloc[0] == pd.Timestamp("2026-03-01 04:00", tz="UTC")
    assert parse_times([46082.5]).isna().all()
    with pytest.raises(InputError, match="`timezone` was 'Mars/Base'"):
        parse_times(["2026-03-01"], timezone="Mars/Base")


def test_read_case_rows_names_the_fields_of_the_file(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "c.csv", ["编号", "类别", "上报时间", "经度", "纬度"], [["A", "消防安全",
        "2026-03-01", "119", "25.4"]], "utf-8"
    )  # fmt: skip
    rows = read_case_rows(path)
    assert rows.loc[0, ["row", "external_id", "category", "x", "y"]].tolist() == [
        2, "A", "消防安全", "119", "25.4"
    ]  # fmt: skip
    with pytest.raises(
        InputError,
        match=r"`category_field` \(--category-field\) was '类型' .* 编号, 类别, 上报时间",
    ):
        read_case_rows(path, category_field="类型")
    with pytest.raises(InputError, match="give both `x_field` and `y_field`"):
        read_case_rows(path, x_field="经度")


# --- cases -------------------------------------------------------------------------------------


def test_import_cases_csv_reports_every_row_and_is_idempotent(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (c1, x1, y1), (_, x2, y2) = places["points"][:2]
    _, gap_x, gap_y = places["gap"]
    (b1_id, b1_address, b1_cell), (b2_id, b2_address, b2_cell) = places["buildings"][:2]
    t = "2026-03-01 08:30"
    rows = [
        ["K-01", "消防安全", t, x1, y1, "", "灭火器过期"],  # 2: coordinates
        ["K-02", "environment", t, "", "", b1_address, ""],  # 3: address
        ["K-03", "环境保护", t, y2, x2, "", ""],  # 4: swapped
        ["K-04", "环境保护", t, 116.4, 39.9, "", ""],  # 5: outside the district
        ["K-05", "环境保护", t, gap_x, gap_y, "", ""],  # 6: in the gap
        ["K-06", "垃圾", t, x1, y1, "", ""],  # 7: unknown category
        ["K-07", "消防安全", "2026-13-01", x1, y1, "", ""],  # 8: not a date
        ["K-08", "消防安全", t, x1, y1, "", ""],  # 9: repeated id
        ["K-08", "消防安全", t, x2, y2, "", ""],  # 10: repeated id
        ["", "消防安全", t, x1, y1, "", ""],  # 11: no id
        ["K-09", "消防安全", t, "abc", "25.4", "", ""],  # 12: not numbers, no address
        ["K-10", "消防安全", t, "", "", "不存在路1号", ""],  # 13: unmatched address
        ["K-11", "消防安全", "", x1, y1, "", ""],  # 14: no time
        ["K-12", "消防安全", t, "abc", "def", b2_address, ""],  # 15: address after bad coordinates
        ["K-13", "消防安全", t, gap_x, gap_y, b2_address, ""],  # 16: gap, then the address
    ]
    path = _write_csv(tmp_path / "cases.csv", CASE_HEADER, rows, "utf-8-sig")
    before = _count(demo_engine, "case_record")

    report = import_cases(demo_engine, path, actor="test")

    _check_counts(report)
    assert report.committed
    assert report.counts == {
        "rows_read": 15, "coordinates": 1, "address": 3, "flagged": 4, "rejected": 7,
        "duplicate": 0,
    }  # fmt: skip
    assert report.flags == {"outside": 1, "gap": 1, "swapped": 1, "unmatched": 1}
    lines = report.rows.set_index("row")
    assert lines["outcome"].to_dict() == {
        2: "coordinates", 3: "address", 4: "flagged", 5: "flagged", 6: "flagged",
        7: "rejected", 8: "rejected", 9: "rejected", 10: "rejected", 11: "rejected",
        12: "rejected", 13: "flagged", 14: "rejected", 15: "address", 16: "address",
    }  # fmt: skip
    assert lines.loc[2, "cell_code"] == c1
    assert lines.loc[3, "cell_code"] == b1_cell
    assert lines.loc[3, "match_score"] == 1.0
    assert lines.loc[15, "cell_code"] == lines.loc[16, "cell_code"] == b2_cell
    assert lines.loc[[4, 5, 6, 13], "flag"].tolist() == ["swapped", "outside", "gap", "unmatched"]
    assert "unknown category '垃圾'" in lines.loc[7, "reason"]
    assert "time '2026-13-01' is not a date" in lines.loc[8, "reason"]
    assert "external id 'K-08' is used by rows 9, 10" in lines.loc[9, "reason"]
    assert "external id 'K-08' is used by rows 9, 10" in lines.loc[10, "reason"]
    assert lines.loc[11, "reason"] == "external id missing"
    assert lines.loc[12, "reason"] == "coordinates ('abc', '25.4') are not numbers and no address"
    assert "address '不存在路1号' not matched" in lines.loc[13, "reason"]
    assert lines.loc[14, "reason"] == "time missing"
    assert "coordinates ('abc', 'def') are not numbers" in lines.loc[15, "reason"]
    assert "not used" in lines.loc[16, "reason"]

    with demo_engine.connect() as conn:
        stored = {
            r["external_id"]: r
            for r in conn.execute(
                text(
                    "SELECT r.external_id, r.located_by, r.location_flag, c.code AS cell, "
                    "r.building_id, r.match_score, r.raw_x, r.raw_y, r.raw_crs, r.step, "
                    "r.description, "
                    "r.reported_at, r.deadline, r.category_code, r.community_code, "
                    "r.street_code, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat "
                    "FROM case_record r LEFT JOIN grid_cell c ON c.id = r.cell_id "
                    "WHERE r.external_id LIKE 'K-%'"
                )
            ).mappings()
        }
        b1_lon, b1_lat = conn.execute(
            text("SELECT ST_X(location), ST_Y(location) FROM building WHERE id = :id"),
            {"id": b1_id},
        ).one()
    assert _count(demo_engine, "case_record") == before + 8
    assert sorted(stored) == ["K-01", "K-02", "K-03", "K-04", "K-05", "K-10", "K-12", "K-13"]
    k1 = stored["K-01"]
    assert (k1["located_by"], k1["cell"], k1["raw_crs"], k1["step"]) == (
        "coordinates", c1, "wgs84", "reported"
    )  # fmt: skip
    assert (k1["raw_x"], k1["raw_y"]) == pytest.approx((x1, y1))
    assert k1["description"] == "灭火器过期"
    assert (k1["community_code"], k1["street_code"]) == (c1[:12], c1[:9])
    assert k1["reported_at"] == dt.datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI)
    assert k1["deadline"] - k1["reported_at"] == dt.timedelta(hours=places["hours"]["fire_safety"])
    k2 = stored["K-02"]
    assert (k2["located_by"], k2["building_id"], k2["cell"]) == ("address", b1_id, b1_cell)
    assert (k2["lon"], k2["lat"]) == pytest.approx((b1_lon, b1_lat))
    assert k2["raw_x"] is None and k2["raw_crs"] is None and k2["match_score"] == 1.0
    assert stored["K-12"]["building_id"] == b2_id
    k3 = stored["K-03"]  # a swapped point is never used
    assert (k3["location_flag"], k3["cell"], k3["lon"], k3["located_by"]) == (
        "swapped", None, None, None
    )  # fmt: skip
    assert (stored["K-04"]["location_flag"], stored["K-04"]["lon"]) == ("outside", 116.4)
    k5 = stored["K-05"]
    assert (k5["location_flag"], k5["located_by"], k5["cell"]) == ("gap", "coordinates", None)
    assert _cell_at_gap_is_none(demo_engine, gap_x, gap_y)
    k10 = stored["K-10"]
    assert (k10["location_flag"], k10["located_by"], k10["lon"]) == ("unmatched", None, None)

    again = import_cases(demo_engine, path, actor="test")

    _check_counts(again)
    assert again.counts["duplicate"] == 8
    assert again.counts["rejected"] == 7
    assert _count(demo_engine, "case_record") == before + 8


def _cell_at_gap_is_none(engine: Engine, lon: float, lat: float) -> bool:
    with engine.connect() as conn:
        return _cell_at(conn, lon, lat) is None


def test_import_cases_gbk_csv_in_gcj02_keeps_chinese_text(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (c1, x1, y1), (c2, x2, y2) = places["points"][2:4]
    gx1, gy1 = from_wgs84(x1, y1, "gcj02")
    gx2, gy2 = from_wgs84(x2, y2, "gcj02")
    header = ["编号", "类别", "上报时间", "经度", "纬度", "描述"]
    rows = [
        ["G-1", "消防安全", "2026/3/1 8:30", gx1, gy1, "楼道堆放杂物，存在消防隐患"],
        ["G-2", "市容环境", "2026年3月2日 9:05", gx2, gy2, "占道经营"],
    ]
    path = _write_csv(tmp_path / "gbk.csv", header, rows, "gbk")

    with pytest.raises(FileEncodingError, match="as utf-8"):
        import_cases(demo_engine, path, encoding="utf-8", crs="gcj02", actor="test")
    report = import_cases(demo_engine, path, crs="gcj02", description_field="描述", actor="test")

    _check_counts(report)
    assert report.encoding == "gbk"
    assert report.rows["cell_code"].tolist() == [c1, c2]
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT external_id, description, raw_crs, reported_at FROM case_record "
                "WHERE external_id LIKE 'G-%' ORDER BY external_id"
            )
        ).all()
    assert [(r[0], r[1], r[2]) for r in stored] == [
        ("G-1", "楼道堆放杂物，存在消防隐患", "gcj02"),
        ("G-2", "占道经营", "gcj02"),
    ]
    assert stored[1][3] == dt.datetime(2026, 3, 2, 9, 5, tzinfo=SHANGHAI)


def test_import_cases_from_excel(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1), (_, x2, y2) = places["points"][:2]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号", "类别", "上报时间", "x", "y"])
    sheet.append([1001, "消防安全", dt.datetime(2026, 3, 1, 8, 30), x1, y1])
    sheet.append([])  # a blank row keeps the numbering of the rows below it
    sheet.append([1002, "道路设施", "2026/3/1 9:00", x2, y2])
    sheet.append([1003, "道路设施", 46082.5, x2, y2])  # an Excel day number
    sheet.append([1004, "道路设施", "明天", x2, y2])
    path = tmp_path / "cases.xlsx"
    book.save(path)

    report = import_cases(demo_engine, path, actor="test")

    _check_counts(report)
    assert report.numbering == "row"
    assert report.rows["row"].tolist() == [2, 4, 5, 6]
    assert report.rows["outcome"].tolist() == ["coordinates"] * 3 + ["rejected"]
    assert report.rows["external_id"].tolist() == ["1001", "1002", "1003", "1004"]
    assert report.rows["reason"].iloc[3] == "time '明天' is not a date"
    with demo_engine.connect() as conn:
        times = dict(
            conn.execute(
                text(
                    "SELECT external_id, reported_at FROM case_record "
                    "WHERE external_id IN ('1001', '1002', '1003')"
                )
            ).all()
        )
    assert times == {
        "1001": dt.datetime(2026, 3, 1, 8, 30, tzinfo=SHANGHAI),
        "1002": dt.datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI),
        "1003": dt.datetime(2026, 3, 1, 12, 0, tzinfo=SHANGHAI),
    }


def test_the_report_csv_quotes_values_that_look_like_formulas(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1) = places["points"][0]
    ids = ['=HYPERLINK("http://example.com","x")', "@SUM(A1)", "-5", "+7", "K-1"]  # tabs: stripped
    rows = [[i, "消防安全", "2026-03-01 08:30", x1, y1, "", ""] for i in ids]
    rows.append(["=1+2", "=垃圾", "2026-03-01 08:30", x1, y1, "", ""])
    path = _write_csv(tmp_path / "cases.csv", CASE_HEADER, rows, "utf-8")

    report = import_cases(demo_engine, path, dry_run=True, actor="test")
    written = report.write_csv(tmp_path / "cases.report.csv")

    with open(written, encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [r["row"] for r in lines] == ["2", "3", "4", "5", "6", "7"]  # numbers stay
    assert [r["external_id"] for r in lines] == ["'" + i for i in ids[:-1]] + ["K-1", "'=1+2"]
    assert lines[-1]["reason"].startswith("unknown category '=垃圾'")
    assert report.rows["external_id"].tolist()[0] == ids[0]  # the report itself is unchanged


def test_import_cases_from_geojson_and_shapefile(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (c1, x1, y1), (c2, x2, y2) = places["points"][:2]
    _, b_address, b_cell = places["buildings"][2]
    frame = gpd.GeoDataFrame(
        {
            "external_id": ["V-1", "V-2", "V-3", "V-4"],
            "category": ["消防安全", "治安隐患", "治安隐患", "治安隐患"],
            "reported_at": ["2026-03-01 08:30", "2026-03-01 09:30", "2026-03-01 10:30", ""],
            "address": [None, None, b_address, None],
        },
        geometry=[shapely.Point(x1, y1), shapely.Point(x2, y2), None, shapely.Point(x1, y1)],
        crs="EPSG:4326",
    )
    geojson = tmp_path / "cases.geojson"
    pyogrio.write_dataframe(frame, geojson, driver="GeoJSON")
    shapefile = tmp_path / "shp" / "cases.shp"
    shapefile.parent.mkdir()
    shp_frame = frame.copy()
    shp_frame["external_id"] = ["S-1", "S-2", "S-3", "S-4"]
    shp_frame = shp_frame.rename(columns={"external_id": "id", "reported_at": "time"})
    pyogrio.write_dataframe(shp_frame, shapefile, encoding="UTF-8")

    for path, prefix in ((geojson, "V"), (shapefile, "S")):
        report = import_cases(demo_engine, path, actor="test")

        _check_counts(report)
        assert report.numbering == "feature"
        assert report.rows["row"].tolist() == [1, 2, 3, 4]
        assert report.rows["outcome"].tolist() == [
            "coordinates", "coordinates", "address", "rejected"
        ]  # fmt: skip
        assert report.rows["cell_code"].tolist()[:3] == [c1, c2, b_cell]
        assert report.rows["reason"].iloc[3] == "time missing"
        assert report.rows["external_id"].tolist()[0] == f"{prefix}-1"
    csv_path = report.write_csv(tmp_path / "shp.report.csv")
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[0] == (
        "feature,external_id,outcome,flag,reason,cell_code,match_score"
    )


def test_a_failed_import_changes_nothing(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1), (_, x2, y2) = places["points"][:2]
    t = "2026-03-01 08:30"
    rows = [[f"R-{i}", "消防安全", t, x1 if i % 2 else x2, y1 if i % 2 else y2, "", ""]
            for i in range(1, 6)]  # fmt: skip
    path = _write_csv(tmp_path / "race.csv", CASE_HEADER, rows, "utf-8")
    before = _count(demo_engine, "case_record")
    other = demo_engine.connect()
    transaction = other.begin()
    other.execute(
        text(
            "INSERT INTO case_record (external_id, category_code, reported_at) "
            "VALUES ('R-3', 'dispute', now())"
        )
    )
    other_pid = other.execute(text("SELECT pg_backend_pid()")).scalar_one()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            import_cases(demo_engine, path, actor="test")
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        # The import does not see the uncommitted R-3, so its COPY waits on that row's lock.
        _wait_for_lock_wait(demo_engine, blocked_by=other_pid, thread=worker)
    finally:
        transaction.commit()
        other.close()
    worker.join()

    assert len(failure) == 1
    assert isinstance(failure[0], ConflictError)
    assert "R-3" in str(failure[0]) and "nothing was imported" in str(failure[0])
    assert _count(demo_engine, "case_record") == before + 1  # only the other transaction's row
    with demo_engine.connect() as conn:
        ours = conn.execute(
            text("SELECT count(*) FROM case_record WHERE external_id LIKE 'R-%'")
        ).scalar_one()
    assert ours == 1

    report = import_cases(
        demo_engine, path, actor="test"
    )  # run again: the rest goes in, R-3 is skipped
    assert report.counts["coordinates"] == 4 and report.counts["duplicate"] == 1


def _wait_for_lock_wait(engine: Engine, *, blocked_by: int, thread: threading.Thread) -> None:
    """Wait until a session waits for ``blocked_by`` (or the import thread ended)."""
    with engine.connect() as conn:
        while thread.is_alive():
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
                ),
                {"pid": blocked_by},
            ).scalar_one()
            conn.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the import ended before it met the concurrent row")


# --- inspections -------------------------------------------------------------------------------


def _cells_of_track(engine: Engine, wkt: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT code FROM grid_cell WHERE valid_to IS NULL "
                    "AND ST_Intersects(geom, ST_GeomFromText(:wkt, 4326)) ORDER BY code"
                ),
                {"wkt": wkt},
            ).scalars()
        )


def _visited(engine: Engine, external_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT c.code FROM inspection i "
                    "JOIN inspection_cell v ON v.inspection_id = i.id "
                    "JOIN grid_cell c ON c.id = v.cell_id "
                    "WHERE i.external_id = :e ORDER BY c.code"
                ),
                {"e": external_id},
            ).scalars()
        )


def test_import_inspections_from_geojson_tracks(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (c1, x1, y1), (_, x2, y2), (_, x3, y3) = places["points"][:3]
    track = shapely.LineString([(x1, y1), (x2, y2), (x3, y3)])
    worker = places["worker"]
    named = places["named_worker"]
    features = [
        ("P-1", worker.external_id, "2026-03-01 08:00", "2026-03-01 09:00", track),
        ("P-2", named.name, "2026-03-01 08:00", None, shapely.Point(x1, y1)),
        ("P-3", None, "2026-03-01 08:00", None, shapely.LineString([(116.4, 39.9), (116.4, 40)])),
        ("P-4", "无此人", "2026-03-01 08:00", None, shapely.Point(x1, y1)),
        ("P-5", None, "2026-03-01 10:00", "2026-03-01 09:00", shapely.Point(x1, y1)),
        ("P-6", None, "2026-03-01 10:00", None, shapely.Point(y1, x1)),
    ]  # fmt: skip
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": i, "worker": w, "started_at": s, "ended_at": e},
                "geometry": shapely.geometry.mapping(g),
            }
            for i, w, s, e, g in features
        ],
    }
    path = tmp_path / "patrols.geojson"
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    before = _count(demo_engine, "inspection")

    report = import_inspections(demo_engine, path, actor="test")

    _check_counts(report)
    lines = report.rows.set_index("external_id")
    assert lines["outcome"].to_dict() == {
        "P-1": "coordinates", "P-2": "coordinates", "P-3": "flagged", "P-4": "rejected",
        "P-5": "rejected", "P-6": "rejected",
    }  # fmt: skip
    expected = _cells_of_track(demo_engine, track.wkt)
    assert len(expected) >= 3
    assert lines.loc["P-1", "cell_codes"].split(";") == expected
    assert _visited(demo_engine, "P-1") == expected
    assert _visited(demo_engine, "P-2") == [c1]
    assert lines.loc["P-3", "flag"] == "outside" and _visited(demo_engine, "P-3") == []
    assert (
        lines.loc["P-4", "reason"]
        == "unknown worker '无此人' (neither a worker's external id nor a name)"
    )
    assert "end time '2026-03-01 09:00:00' is before the start time" in lines.loc["P-5", "reason"]
    assert "longitude and latitude look swapped" in lines.loc["P-6", "reason"]
    assert _count(demo_engine, "inspection") == before + 3
    with demo_engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT external_id, worker_id FROM inspection "
                    "WHERE external_id IN ('P-1', 'P-2', 'P-3')"
                )
            ).all()
        )
    assert stored == {"P-1": worker.id, "P-2": named.id, "P-3": None}

    again = import_inspections(demo_engine, path, actor="test")
    assert again.counts["duplicate"] == 3
    assert _count(demo_engine, "inspection") == before + 3


def test_import_inspections_from_gps_fixes(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1), (_, x2, y2), (_, x3, y3), (_, x4, y4) = places["points"]
    line = shapely.LineString([(x1, y1), (x2, y2), (x3, y3)])
    fixes = shapely.line_interpolate_point(line, np.linspace(0, 1, 5), normalized=True)
    base = dt.datetime(2026, 3, 1, 8, 0)
    rows = [
        ["T-1", seq, (base + dt.timedelta(minutes=seq)).strftime("%Y-%m-%d %H:%M"), p.x, p.y]
        for seq, p in enumerate(fixes)
    ]
    rows.append(["T-1", 9, "2026-03-01 08:30", "bad", "25.4"])  # left out, and said so
    rows += [
        ["T-2", 2, "2026-03-01 09:10", x4, y4],
        ["T-2", 1, "2026-03-01 09:00", x3, y3],
    ]
    rows.append(["", 1, "2026-03-01 09:00", x3, y3])  # no track id: rejected
    shuffled = [rows[i] for i in (3, 6, 0, 8, 4, 1, 5, 7, 2)]
    path = _write_csv(tmp_path / "gps.csv", ["track", "seq", "time", "lon", "lat"], shuffled,
                      "utf-8")  # fmt: skip

    report = import_inspections(
        demo_engine, path, track_field="track", order_field="seq", actor="test"
    )

    _check_counts(report)
    assert report.counts["rows_read"] == 9 and report.counts["inspections"] == 3
    lines = report.rows.set_index("row")
    assert lines.loc[5, "outcome"] == "rejected" and lines.loc[5, "reason"] == "track id missing"
    by_id = _by_id(report)
    assert by_id["T-1"]["outcome"] == "coordinates"
    assert by_id["T-1"]["rows"] == "2,4,6-8,10"
    assert by_id["T-2"]["rows"] == "3,9"
    assert (
        "1 of 6 fixes left out (row 8 coordinates ('bad', '25.4') are not numbers)"
        in (by_id["T-1"]["reason"])
    )
    with demo_engine.connect() as conn:
        stored = {
            r.external_id: r
            for r in conn.execute(
                text(
                    "SELECT external_id, ST_AsText(geom) AS wkt, started_at, ended_at "
                    "FROM inspection WHERE external_id IN ('T-1', 'T-2')"
                )
            )
        }
    t1 = shapely.from_wkt(stored["T-1"].wkt)
    assert shapely.get_coordinates(t1) == pytest.approx(shapely.get_coordinates(fixes))
    assert stored["T-1"].started_at == dt.datetime(2026, 3, 1, 8, 0, tzinfo=SHANGHAI)
    assert stored["T-1"].ended_at == dt.datetime(2026, 3, 1, 8, 4, tzinfo=SHANGHAI)
    t2 = shapely.from_wkt(stored["T-2"].wkt)
    assert shapely.get_coordinates(t2) == pytest.approx(np.array([[x3, y3], [x4, y4]]))
    for ident, geom in (("T-1", t1), ("T-2", t2)):
        assert _visited(demo_engine, ident) == _cells_of_track(demo_engine, geom.wkt)
        assert by_id[ident]["cells"] == len(_visited(demo_engine, ident))


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def test_cli_imports_cases_and_inspections_with_reports(
    cli_env: str, demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (c1, x1, y1), (_, x2, y2) = places["points"][:2]
    path = _write_csv(
        tmp_path / "c.csv", CASE_HEADER,
        [["C-1", "消防安全", "2026-03-01 08:30", x1, y1, "", ""],
         ["C-2", "垃圾", "2026-03-01 08:30", x1, y1, "", ""]],
        "utf-8",
    )  # fmt: skip
    runner = CliRunner()

    dry = runner.invoke(main, ["import", "cases", str(path), "--dry-run", "--report",
                               str(tmp_path / "dry.csv")])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    assert "nothing was changed (dry run)" in dry.output
    assert _count_ids(demo_engine, "case_record", "C-%") == 0
    nowhere = runner.invoke(
        main, ["import", "cases", str(path), "--report", str(tmp_path / "no" / "r.csv")]
    )
    assert nowhere.exit_code == 2 and "no folder" in nowhere.output
    assert _count_ids(demo_engine, "case_record", "C-%") == 0

    result = runner.invoke(main, ["import", "cases", str(path)])

    assert result.exit_code == 0, result.output
    assert "by coordinates: 1" in result.output and "rejected: 1" in result.output
    assert "rejected row 3: unknown category '垃圾'" in result.output
    report = tmp_path / "c.report.csv"
    with open(report, encoding="utf-8-sig", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [(r["row"], r["outcome"], r["cell_code"]) for r in written] == [
        ("2", "coordinates", c1), ("3", "rejected", "")
    ]  # fmt: skip
    assert _count_ids(demo_engine, "case_record", "C-%") == 1

    bad = runner.invoke(main, ["import", "cases", str(path), "--id-field", "编号"])
    assert bad.exit_code == 1
    assert (
        "`id_field` (--id-field) was '编号'" in bad.output and "external_id, category" in bad.output
    )

    gps = _write_csv(
        tmp_path / "gps.csv", ["track", "time", "x", "y"],
        [["W-1", "2026-03-01 08:00", x1, y1], ["W-1", "2026-03-01 08:05", x2, y2]],
        "utf-8",
    )  # fmt: skip
    patrols = runner.invoke(main, ["import", "inspections", str(gps), "--track-field", "track"])
    assert patrols.exit_code == 0, patrols.output
    assert "2 rows read, 1 inspections" in patrols.output
    assert (tmp_path / "gps.report.csv").exists()
    assert _visited(demo_engine, "W-1") == _cells_of_track(
        demo_engine, shapely.LineString([(x1, y1), (x2, y2)]).wkt
    )


def _count_ids(engine: Engine, table: str, like: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE external_id LIKE :like"), {"like": like}
            ).scalar_one()
        )


def test_files_that_cannot_be_imported_change_nothing(demo_engine: Engine, tmp_path: Path) -> None:
    before = _count(demo_engine, "case_record")
    header_only = _write_csv(tmp_path / "h.csv", CASE_HEADER, [], "utf-8")
    assert import_cases(demo_engine, header_only, actor="test").counts == {
        "rows_read": 0, "coordinates": 0, "address": 0, "flagged": 0, "rejected": 0,
        "duplicate": 0,
    }  # fmt: skip
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"external_id,category,reported_at,address\n\xff\xfe\xfa\n")
    with pytest.raises(FileEncodingError, match="neither UTF-8"):
        import_cases(demo_engine, mixed, actor="test")
    long_rows = tmp_path / "long.csv"
    long_rows.write_text("external_id,category,reported_at,address\nA,B,C,D,E\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable CSV file"):
        import_cases(demo_engine, long_rows, actor="test")
    no_place = _write_csv(tmp_path / "n.csv", ["external_id", "category", "reported_at"],
                          [["A", "消防安全", "2026-03-01"]], "utf-8")  # fmt: skip
    with pytest.raises(InputError, match="neither coordinates nor an address"):
        import_cases(demo_engine, no_place, actor="test")
    with pytest.raises(GridGISError, match="does not exist"):
        import_cases(demo_engine, tmp_path / "missing.csv", actor="test")
    assert _count(demo_engine, "case_record") == before


# --- bad rows and implausible dates (issue 14, defects 12 and 13) ------------------------------


def _next_year() -> str:
    return f"{dt.date.today().year + 1}-03-01 08:00"


def test_cli_rejects_bad_rows_with_their_number_and_imports_the_rest(
    cli_env: str, demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1), (_, x2, y2) = places["points"][:2]
    lines = [
        ",".join(CASE_HEADER),
        f"R-1,消防安全,1949-10-01 00:00,{x1},{y1},,",
        f"R-2,消防安全,0001-01-01 08:00,{x1},{y1},,",
        f"R-3,消防安全,1900-01-01 08:00,{x1},{y1},,",
        f"R-4,消防安全,{_next_year()},{x1},{y1},,",
        f"R-5,消防安全,2026-03-01 08:00,{x1},{y1},,楼道\x00堆物",
        f"R-6,消防安全,1988-07-01 12:00,{x2},{y2},,",  # summer time in zoneinfo, not in China
    ]
    path = tmp_path / "bad.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))

    result = CliRunner().invoke(main, ["import", "cases", str(path)])

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "by coordinates: 2" in result.output and "rejected: 4" in result.output
    assert (
        "rejected row 3: time '0001-01-01 08:00' is before 1949-10-01, not a plausible date"
        in result.output
    )
    assert (
        "rejected row 4: time '1900-01-01 08:00' is before 1949-10-01, not a plausible date"
        in result.output
    )
    assert re.search(
        r"rejected row 5: time '\d{4}-03-01 08:00' is after tomorrow \(\d{4}-\d\d-\d\d\), "
        "not a plausible date",
        result.output,
    )
    assert (
        r"rejected row 6: description '楼道\x00堆物' contains a NUL character (U+0000)"
        in result.output
    )
    with demo_engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT external_id, reported_at FROM case_record WHERE external_id LIKE 'R-%'"
                )
            ).all()
        )
    assert stored == {
        "R-1": dt.datetime(1949, 10, 1, tzinfo=SHANGHAI),
        "R-6": dt.datetime(1988, 7, 1, 12, tzinfo=SHANGHAI),
    }


def test_excel_rows_with_implausible_dates_are_rejected(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1) = places["points"][0]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号", "类别", "上报时间", "x", "y"])
    sheet.append(["X-1", "消防安全", dt.datetime(2026, 3, 1, 8, 30), x1, y1])
    sheet.append(["X-2", "消防安全", "0001-01-01", x1, y1])
    sheet.append(["X-3", "消防安全", dt.datetime(1900, 1, 1), x1, y1])  # an Excel date
    sheet.append(["X-4", "消防安全", 1.5, x1, y1])  # an Excel day number: 1899-12-31 12:00
    sheet.append(["X-5", "消防安全", dt.datetime(dt.date.today().year + 1, 3, 1), x1, y1])
    path = tmp_path / "dates.xlsx"
    book.save(path)

    report = import_cases(demo_engine, path, actor="test")

    _check_counts(report)
    assert report.rows["outcome"].tolist() == ["coordinates"] + ["rejected"] * 4
    assert report.rows["reason"].tolist()[1:4] == [
        "time '0001-01-01' is before 1949-10-01, not a plausible date",
        "time '1900-01-01 00:00:00' is before 1949-10-01, not a plausible date",
        "time '1.5' is before 1949-10-01, not a plausible date",
    ]
    assert "is after tomorrow" in report.rows["reason"].iloc[4]
    assert _count_ids(demo_engine, "case_record", "X-%") == 1


def test_parse_times_reads_old_dates_at_plus_eight_hours() -> None:
    times = parse_times(["1900-01-01 08:00", "0001-01-01", dt.datetime(1, 1, 1)])
    assert times.iloc[0] == pd.Timestamp("1900-01-01 00:00", tz="UTC")  # not +08:05:43 (LMT)
    assert times.iloc[1] == pd.Timestamp("0001-01-01", tz="UTC") - pd.Timedelta(hours=8)
    assert times.iloc[2] == times.iloc[1]


@pytest.mark.parametrize("how", ["random bytes", "truncated", "not a workbook"])
def test_a_corrupt_xlsx_is_one_clear_error_naming_the_file(
    cli_env: str, demo_engine: Engine, tmp_path: Path, how: str
) -> None:
    path = tmp_path / "上报.xlsx"
    if how == "random bytes":
        path.write_bytes(np.random.default_rng(14).bytes(4000))
    else:
        book = openpyxl.Workbook()
        book.active.append(["编号", "类别", "上报时间", "地址"])
        for i in range(200):
            book.active.append([f"K-{i}", "消防安全", "2026-03-01", f"某路{i}号"])
        book.save(path)
        data = path.read_bytes()
        if how == "truncated":
            path.write_bytes(data[: len(data) * 2 // 3])
        else:
            import zipfile

            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("readme.txt", "not a workbook")
    before = _count(demo_engine, "case_record")

    with pytest.raises(InputError, match=r"上报\.xlsx is not a readable Excel \.xlsx file"):
        import_cases(demo_engine, path, actor="test")
    result = CliRunner().invoke(main, ["import", "cases", str(path)])

    assert result.exit_code == 1
    assert f"{path} is not a readable Excel .xlsx file" in result.output
    assert "Traceback" not in result.output and "BadZipFile" not in result.output
    assert _count(demo_engine, "case_record") == before


def test_inspections_with_a_one_vertex_line_or_an_old_date_are_rejected(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    (_, x1, y1), (_, x2, y2) = places["points"][:2]

    def feature(ident: str, started: str, coordinates: list[list[float]]) -> dict[str, Any]:
        return {
            "type": "Feature",
            "properties": {"external_id": ident, "started_at": started},
            "geometry": {"type": "LineString", "coordinates": coordinates},
        }

    path = tmp_path / "tracks.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    feature("V-1", "2026-03-01 08:00", [[x1, y1]]),
                    feature("V-2", "2026-03-01 08:00", [[x1, y1], [x2, y2]]),
                    feature("V-3", "1900-01-01 08:00", [[x1, y1], [x2, y2]]),
                ],
            }
        ),
        encoding="utf-8",
    )

    report = import_inspections(demo_engine, path, actor="test")

    _check_counts(report)
    assert report.numbering == "feature"
    assert report.rows["outcome"].tolist() == ["rejected", "coordinates", "rejected"]
    reasons = report.rows["reason"].tolist()
    assert reasons[0] == "the geometry is invalid: a line has a single vertex (it needs two)"
    assert (
        reasons[2] == "start time '1900-01-01 08:00:00' is before 1949-10-01, not a plausible date"
    )
    assert _count_ids(demo_engine, "inspection", "V-%") == 1

    points = tmp_path / "points.csv"
    points.write_bytes(
        "external_id,started_at,x,y\n"
        f"P-1\x00,2026-03-01 08:00,{x1},{y1}\nP-2,2026-03-01 08:00,{x1},{y1}\n".encode()
    )
    by_row = import_inspections(demo_engine, points, actor="test")
    assert by_row.rows["outcome"].tolist() == ["rejected", "coordinates"]
    assert by_row.rows["reason"].iloc[0] == (
        r"external id 'P-1\x00' contains a NUL character (U+0000)"
    )

    gps = _write_csv(
        tmp_path / "gps.csv", ["track", "time", "x", "y"],
        [["W-9", "2026-03-01 08:00", x1, y1], ["W-9", "1900-01-01 08:05", x2, y2],
         ["W-9", "2026-03-01 08:10", x2, y2]],
        "utf-8",
    )  # fmt: skip
    fixes = import_inspections(demo_engine, gps, track_field="track", actor="test")
    assert fixes.rows["outcome"].tolist() == ["coordinates"]
    assert "row 3 time '1900-01-01 08:05' is before 1949-10-01" in fixes.rows["reason"].iloc[0]


def test_a_repeated_id_is_reported_in_bounded_words(demo_engine: Engine, tmp_path: Path) -> None:
    """Each of 3,000 rows sharing an id names a few of the others and their count, not all
    of them: the report grows with the rows, not with their square (issue 14, 2)."""
    rows = [["SAME", "消防安全", "2025-03-01 08:00", "", "", "不存在路1号", ""]] * 3000
    path = _write_csv(tmp_path / "same.csv", CASE_HEADER, rows, "utf-8")
    report = import_cases(demo_engine, path, actor="test")
    reasons = report.rows["reason"]
    assert (report.rows["outcome"] == "rejected").all()
    assert reasons.str.len().max() < 400
    assert reasons.iloc[0].startswith("external id 'SAME' is used by 3,000 rows of the file")
    assert "2, 3, 4" in reasons.iloc[0]


def test_import_cases_with_their_history_stores_the_step_reached(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    # A year of past cases from a former system: each stored at the step it had reached.
    (_, x1, y1), (_, x2, y2) = places["points"][:2]
    header = ["编号", "类别", "上报时间", "经度", "纬度", "立案时间", "立案人", "派遣时间",
              "处置时间", "核查时间", "结案时间", "结案人", "作废时间", "作废人"]  # fmt: skip
    rows = [
        ["H-1", "消防安全", "2025-03-01 08:30", x1, y1, "2025-03-01 09:00", "中心",
         "2025-03-01 09:30", "2025-03-02 10:00", "2025-03-02 15:00", "2025-03-02 16:00", "中心",
         "", ""],
        ["H-2", "消防安全", "2025-03-01 08:30", x2, y2, "2025-03-01 09:00", "中心", "", "", "",
         "", "", "", ""],
        ["H-3", "消防安全", "2025-03-01 08:30", x2, y2, "", "", "", "", "", "", "",
         "2025-03-01 10:00", "中心"],
        ["H-4", "消防安全", "2025-03-01 08:30", x1, y1, "2025-03-01 09:00", "", "", "", "",
         "2025-03-02 16:00", "", "", ""],
        ["H-5", "消防安全", "2025-03-01 08:30", x1, y1, "2025-03-01 08:00", "", "", "", "", "",
         "", "", ""],
        ["H-6", "消防安全", "2025-03-01 08:30", x1, y1, "2025-03-01 09:00", "", "", "", "", "",
         "", "2025-03-01 10:00", ""],
    ]  # fmt: skip
    path = _write_csv(tmp_path / "past.csv", header, rows, "utf-8")
    report = import_cases(demo_engine, path, actor="test")

    _check_counts(report)
    lines = _by_id(report)
    assert [lines[f"H-{i}"]["outcome"] for i in range(1, 7)] == [
        "coordinates", "coordinates", "coordinates", "rejected", "rejected", "coordinates",
    ]  # fmt: skip
    assert lines["H-4"]["reason"] == ("closed (结案) time without a verified (核查) time")
    assert lines["H-5"]["reason"] == "registered (立案) time is before the reported time"
    with demo_engine.connect() as conn:
        stored = {
            r[0]: r[1:]
            for r in conn.execute(
                text(
                    "SELECT external_id, step, closed_at, closed_by, registered_by, rejected_by "
                    "FROM case_record WHERE external_id LIKE 'H-%'"
                )
            ).all()
        }
    assert stored["H-1"] == (
        "closed",
        dt.datetime(2025, 3, 2, 16, 0, tzinfo=SHANGHAI),
        "中心",
        "中心",
        None,
    )
    assert stored["H-2"][0] == "registered" and stored["H-3"] == (
        "rejected",
        None,
        None,
        None,
        "中心",
    )
    assert stored["H-6"][0] == "rejected"


def test_a_file_error_has_its_chinese_naming_the_file_not_its_folder(tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(b"external_id,category,reported_at,address\n\xff\xfe\xfa\n")
    with pytest.raises(FileEncodingError, match="neither UTF-8") as caught:
        read_case_rows(mixed)
    assert str(tmp_path) in str(caught.value)  # the English, for the command line, keeps it
    assert caught.value.zh is not None and caught.value.zh.startswith("无法解码 mixed.csv：")
    assert str(tmp_path) not in caught.value.zh
    with pytest.raises(GridGISError, match="does not exist") as missing:
        read_case_rows(tmp_path / "gone.csv")
    assert missing.value.text("zh") == "文件 'gone.csv' 不存在"
