"""Importing roads: every row reported, good rows upserted on their id, replace within its area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text

from gridgis.boundaries import prepare_boundaries
from gridgis.cli import main
from gridgis.db.load import import_boundaries
from gridgis.errors import InputError, NotFoundError
from gridgis.registers.catalogue import import_kind
from gridgis.registers.roads import import_roads

# Two districts side by side near Putian (WGS84).
WEST = box(119.00, 25.40, 119.02, 25.42)
EAST = box(119.02, 25.40, 119.04, 25.42)


def _districts(engine: Engine) -> None:
    frame = gpd.GeoDataFrame(
        {"code": ["350304", "350302"], "name": ["荔城区", "城厢区"]},
        geometry=[WEST, EAST],
        crs="EPSG:4326",
    )
    import_boundaries(
        engine, prepare_boundaries(frame, level="district"), level="district", actor="test"
    )


def _roads(
    folder: Path, rows: list[tuple[object, str, object]], *, name: str = "道路.gpkg"
) -> Path:
    """A GeoPackage of rows (编号, 类型, geometry) named 路1, 路2... under Chinese headers."""
    frame = gpd.GeoDataFrame(
        {
            "编号": [r[0] for r in rows],
            "道路名称": [f"路{i}" for i in range(1, len(rows) + 1)],
            "类型": [r[1] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs="EPSG:4326",
    )
    path = folder / name
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


WEST_ROADS = [
    ("W1", "arterial", LineString([(119.001, 25.401), (119.019, 25.419)])),
    ("W2", "river", LineString([(119.001, 25.419), (119.019, 25.401)])),
]
EAST_ROAD = ("E1", "local", LineString([(119.021, 25.401), (119.039, 25.419)]))


def _stored(engine: Engine) -> dict[str | None, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, kind, name FROM road ORDER BY external_id"))
        return {e: (k, n) for e, k, n in rows}


def test_a_file_with_bad_rows_imports_the_good_ones_and_names_each_bad_one(
    engine: Engine, tmp_path: Path
) -> None:
    path = _roads(
        tmp_path,
        [
            WEST_ROADS[0],
            ("W2", "highway", WEST_ROADS[1][2]),
            ("W3", "local", Point(119.01, 25.41)),
            (None, "local", WEST_ROADS[1][2]),
            ("W4", "铁路", WEST_ROADS[1][2]),
            ("W5", "local", LineString([(25.401, 119.001), (25.419, 119.019)])),
            ("W6", "支路", WEST_ROADS[1][2]),
            ("W6", "支路", WEST_ROADS[0][2]),
        ],
    )
    report = import_roads(engine, path, actor="test")
    assert report.committed
    counts = report.counts
    assert counts == {"read": 8, "imported": 2, "updated": 0, "unchanged": 0, "flagged": 0,
                      "rejected": 6}  # fmt: skip
    assert counts["read"] == sum(v for k, v in counts.items() if k != "read")
    rows = report.rows.set_index("row")
    assert rows.loc[1, "outcome"] == rows.loc[5, "outcome"] == "imported"
    assert rows.loc[2, "reason"].startswith("unknown kind 'highway' (known: arterial, secondary")
    assert "主干路" in rows.loc[2, "reason"]
    assert rows.loc[3, "reason"] == "the geometry is a Point, not a line"
    assert rows.loc[4, "reason"] == "id missing"
    assert rows.loc[6, "reason"].startswith("the coordinates (25.401, 119.001) are")
    assert (
        rows.loc[7, "reason"]
        == rows.loc[8, "reason"]
        == ("id 'W6' is used by features 7, 8 of the file")
    )
    # Each reason in Chinese too, for the web page and the Chinese CSV.
    chinese = report.reasons_in("zh")
    assert chinese[2] == "图形是 Point，不是线" and chinese[3] == "缺少编号"
    assert chinese[1].startswith("未知类型 'highway'")
    assert report.rows["reason_code"].tolist()[1:4] == ["unknown_kind", "not_a_line", "missing"]
    assert _stored(engine) == {"W1": ("arterial", "路1"), "W4": ("railway", "路5")}
    # The per-row report, in either language.
    written = pd.read_csv(report.write_csv(tmp_path / "r.csv", language="zh"), dtype=str)
    assert written.columns[0] == "feature" and written.loc[2, "reason"] == "图形是 Point，不是线"


def test_second_import_of_the_same_file_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    path = _roads(tmp_path, WEST_ROADS)
    first = import_roads(engine, path, actor="test")
    assert first.counts["imported"] == 2
    again = import_roads(engine, path, actor="test")
    assert again.counts["unchanged"] == 2 and again.counts["imported"] == 0
    # A changed kind and line update that road, on its id; nothing is added.
    moved = LineString([(119.002, 25.419), (119.019, 25.402)])
    changed = import_roads(engine, _roads(tmp_path, [WEST_ROADS[0], ("W2", "铁路", moved)]),
                           actor="test")  # fmt: skip
    assert changed.counts["updated"] == 1 and changed.counts["unchanged"] == 1
    assert changed.rows.loc[1, "changes"] == "kind river → railway; line"
    assert _stored(engine) == {"W1": ("arterial", "路1"), "W2": ("railway", "路2")}
    with engine.connect() as conn:
        audits = conn.execute(
            text(
                "SELECT summary->'after' FROM audit_log WHERE action = 'import' "
                "AND object_type = 'road' ORDER BY id"
            )
        ).scalars()
        counts = [(a["file"], a["imported"], a["updated"], a["unchanged"]) for a in audits]
    assert counts == [("道路.gpkg", 2, 0, 0), ("道路.gpkg", 0, 0, 2), ("道路.gpkg", 0, 1, 1)]


def test_a_dry_run_and_a_failure_store_nothing(engine: Engine, tmp_path: Path) -> None:
    path = _roads(tmp_path, WEST_ROADS)
    dry = import_roads(engine, path, dry_run=True, actor="test")
    assert not dry.committed and dry.counts["imported"] == 2
    assert _stored(engine) == {}
    with pytest.raises(NotFoundError, match="no outline of it is stored"):
        import_roads(engine, path, district="350305", actor="test")
    with pytest.raises(InputError, match="`default_kind` was 'lane'"):
        import_roads(engine, path, default_kind="lane", actor="test")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_replace_deletes_only_the_roads_of_its_area(engine: Engine, tmp_path: Path) -> None:
    _districts(engine)
    import_roads(engine, _roads(tmp_path, [*WEST_ROADS, EAST_ROAD]), actor="test")
    without_id = gpd.GeoDataFrame(
        geometry=[LineString([(119.005, 25.401), (119.005, 25.419)])], crs="EPSG:4326"
    )
    without_id.to_file(tmp_path / "无编号.geojson", driver="GeoJSON", engine="pyogrio")
    assert import_roads(engine, tmp_path / "无编号.geojson", actor="test").counts["imported"] == 1
    # The west district's file now has W1 and a bad W2: the road without an id goes, W2 (the
    # file still carries its id) and E1 stay.
    west = _roads(tmp_path, [WEST_ROADS[0], ("W2", "highway", WEST_ROADS[1][2])])
    report = import_roads(engine, west, district="350304", replace=True, actor="test")
    assert report.counts["unchanged"] == 1 and report.counts["rejected"] == 1
    assert report.notes[-1].startswith("replace: 1 stored roads of 350304 the file no longer")
    assert sorted(_stored(engine), key=str) == ["E1", "W1", "W2"]
    # Without a district the area is that of the districts the file's lines run into.
    moved = LineString([(119.022, 25.401), (119.022, 25.419)])
    report = import_roads(engine, _roads(tmp_path, [("E2", "local", moved)]), replace=True,
                          actor="test")  # fmt: skip
    assert report.counts["imported"] == 1 and "(E1)" in report.notes[-1]
    assert sorted(_stored(engine), key=str) == ["E2", "W1", "W2"]
    # A line along the edge between the two runs into neither: replace deletes nothing.
    edge = LineString([(119.02, 25.401), (119.02, 25.419)])
    report = import_roads(engine, _roads(tmp_path, [("B1", "wall", edge)]), replace=True,
                          actor="test")  # fmt: skip
    assert report.counts["imported"] == 1
    assert sorted(_stored(engine), key=str) == ["B1", "E2", "W1", "W2"]


def test_lines_outside_the_district_are_rejected_and_the_rest_load(
    engine: Engine, tmp_path: Path
) -> None:
    _districts(engine)
    report = import_roads(
        engine, _roads(tmp_path, [WEST_ROADS[0], EAST_ROAD]), district="350304", actor="test"
    )
    assert report.counts["imported"] == 1 and report.counts["rejected"] == 1
    rejected = report.rows[report.rows["outcome"] == "rejected"].iloc[0]
    assert (rejected["row"], rejected["id"]) == (2, "E1")
    assert rejected["reason"] == "the line does not run into district 350304's outline"
    assert report.reasons_in("zh")[1] == "该线不在区县 350304 的轮廓内"
    assert _stored(engine) == {"W1": ("arterial", "路1")}


def test_a_csv_with_wkt_and_chinese_headers(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "道路.csv"
    pd.DataFrame(
        {
            "道路编号": ["R1", "R2"],
            "路名": ["梅园路", "荔城大道"],
            "道路等级": ["支路", "主干路"],
            "wkt": [WEST_ROADS[0][2].wkt, "LINESTRING (119.0"],
        }
    ).to_csv(path, index=False, encoding="gbk")
    report = import_roads(engine, path, actor="test")
    assert report.numbering == "row" and report.encoding == "gbk"
    assert report.rows["outcome"].tolist() == ["imported", "rejected"]
    assert report.rows.loc[1, "reason"] == "wkt 'LINESTRING (119.0' is not a geometry in WKT"
    assert _stored(engine) == {"R1": ("local", "梅园路")}


def test_cli_reports_every_row_and_writes_the_csv(
    env_database: str, engine: Engine, tmp_path: Path
) -> None:
    path = _roads(tmp_path, [*WEST_ROADS, ("W3", "highway", WEST_ROADS[0][2])])
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "roads", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "imported: 2" in dry.output and "rejected: 1" in dry.output
    assert _stored(engine) == {}
    first = runner.invoke(main, ["import", "roads", str(path), "--kind-field", "类型"])
    assert first.exit_code == 0, first.output
    assert "feature 3" in first.output and "unknown kind 'highway'" in first.output
    report = pd.read_csv(tmp_path / "道路.report.csv", dtype=str)
    assert report["outcome"].tolist() == ["imported", "imported", "rejected"]
    again = runner.invoke(main, ["import", "roads", str(path)])
    assert "unchanged: 2" in again.output
    assert sorted(_stored(engine), key=str) == ["W1", "W2"]


def test_the_web_import_page_offers_roads() -> None:
    kind = import_kind("roads")
    assert kind.label("zh") == "道路及铁路、河流、围墙" and not kind.street_limited
    assert kind.accepts("道路.gpkg") and kind.accepts("道路.csv")
    assert kind.checked_options({"kind_field": "等级", "crs": "gcj02"}) == {
        "kind_field": "等级",
        "crs": "gcj02",
    }


def test_road_kinds_are_read_in_chinese_too(engine: Engine, tmp_path: Path) -> None:
    """A district's file says 主干路, 次干路, 支路, 铁路, 河流 as often as the codes."""
    line = WEST_ROADS[0][2]
    path = _roads(
        tmp_path,
        [
            ("C1", "主干路", line), ("C2", "次干路", line), ("C3", "支路", line),
            ("C4", "步行道", line), ("C5", "铁路", line), ("C6", "河流", line),
            ("C7", "围墙", line), ("C8", "快速路", line), ("C9", "其他", line),
        ],
    )  # fmt: skip
    assert import_roads(engine, path, actor="test").counts["imported"] == 9
    kinds = {key: kind for key, (kind, _) in _stored(engine).items()}
    assert kinds == {
        "C1": "arterial", "C2": "secondary", "C3": "local", "C4": "path", "C5": "railway",
        "C6": "river", "C7": "wall", "C8": "arterial", "C9": "other",
    }  # fmt: skip
