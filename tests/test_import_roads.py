"""Importing roads: upserted on their id, rejected rows by number, replace within its area."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text

from gridgis.boundaries import prepare_boundaries
from gridgis.cli import main
from gridgis.db.load import BoundaryImportError, import_boundaries
from gridgis.db.roads import import_roads
from gridgis.errors import NotFoundError

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


def _roads(rows: list[tuple[object, str, object]]) -> gpd.GeoDataFrame:
    """Rows of (编号, 类型, geometry) named 路1, 路2..."""
    return gpd.GeoDataFrame(
        {
            "编号": [r[0] for r in rows],
            "名称": [f"路{i}" for i in range(1, len(rows) + 1)],
            "类型": [r[1] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs="EPSG:4326",
    )


WEST_ROADS = [
    ("W1", "arterial", LineString([(119.001, 25.401), (119.019, 25.419)])),
    ("W2", "river", LineString([(119.001, 25.419), (119.019, 25.401)])),
]
EAST_ROAD = ("E1", "local", LineString([(119.021, 25.401), (119.039, 25.419)]))


def _stored(engine: Engine) -> dict[str | None, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, kind, name FROM road ORDER BY external_id"))
        return {e: (k, n) for e, k, n in rows}


def _import(engine: Engine, frame: gpd.GeoDataFrame, **kwargs: object):  # type: ignore[no-untyped-def]
    return import_roads(
        engine, frame, id_field="编号", kind_field="类型", name_field="名称", actor="test",
        **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_second_import_of_the_same_file_changes_nothing(engine: Engine) -> None:
    first = _import(engine, _roads(WEST_ROADS), source="道路.gpkg")
    assert first.committed and first.inserted == ["W1", "W2"]
    again = _import(engine, _roads(WEST_ROADS), source="道路.gpkg")
    assert again.inserted == [] and again.updated == [] and again.unchanged == ["W1", "W2"]
    assert "0 new, 0 changed, 2 unchanged, 0 rejected" in again.lines()[0]
    # A changed kind updates that road, on its id; nothing is added.
    changed = _import(engine, _roads([WEST_ROADS[0], ("W2", "railway", WEST_ROADS[1][2])]))
    assert changed.updated == ["W2"] and changed.unchanged == ["W1"]
    assert _stored(engine) == {"W1": ("arterial", "路1"), "W2": ("railway", "路2")}
    with engine.connect() as conn:
        audits = conn.execute(
            text(
                "SELECT summary->'after' FROM audit_log WHERE action = 'import' "
                "AND object_type = 'road' ORDER BY id"
            )
        ).scalars()
        counts = [(a["file"], a["imported"], a["updated"], a["unchanged"]) for a in audits]
    assert counts == [("道路.gpkg", 2, 0, 0), ("道路.gpkg", 0, 0, 2), (None, 0, 1, 1)]


def test_rejected_rows_are_reported_with_number_and_reason(engine: Engine) -> None:
    frame = _roads(
        [
            WEST_ROADS[0],
            ("W2", "highway", WEST_ROADS[1][2]),
            ("W3", "local", Point(119.01, 25.41)),
            (None, "local", WEST_ROADS[1][2]),
            ("W1", "local", WEST_ROADS[1][2]),
        ]
    )
    with pytest.raises(BoundaryImportError, match="5 of 5 roads were rejected") as caught:
        _import(engine, frame)
    reasons = {p.row: p.reason for p in caught.value.report.rejected}
    assert reasons[2].startswith("kind 'highway' is not one of arterial")
    assert reasons[3] == "geometry is a Point, not a line"
    assert reasons[4] == "no id in field '编号'"
    assert reasons[1] == reasons[5] == "id 'W1' is used by rows 1, 5 of the file"
    assert _stored(engine) == {}


def test_replace_deletes_only_the_roads_of_its_area(engine: Engine) -> None:
    _districts(engine)
    _import(engine, _roads([*WEST_ROADS, EAST_ROAD]))
    without_id = LineString([(119.005, 25.401), (119.005, 25.419)])
    import_roads(engine, gpd.GeoDataFrame(geometry=[without_id], crs="EPSG:4326"), actor="test")
    # The west district's file now has W1 only: W2 and the road without an id go, E1 stays.
    report = _import(engine, _roads([WEST_ROADS[0]]), district="350304", replace=True)
    assert report.unchanged == ["W1"] and len(report.retired) == 2 and "W2" in report.retired
    assert "2 roads of the area retired" in report.lines()[0]
    assert sorted(_stored(engine), key=str) == ["E1", "W1"]
    # Without a district the area is that of the districts the file's lines run into.
    moved = LineString([(119.022, 25.401), (119.022, 25.419)])
    report = _import(engine, _roads([("E2", "local", moved)]), replace=True)
    assert report.inserted == ["E2"] and report.retired == ["E1"]
    assert sorted(_stored(engine), key=str) == ["E2", "W1"]
    # A line along the edge between the two runs into neither: replace deletes nothing.
    edge = LineString([(119.02, 25.401), (119.02, 25.419)])
    report = _import(engine, _roads([("B1", "wall", edge)]), replace=True)
    assert report.inserted == ["B1"] and report.retired == []
    assert sorted(_stored(engine), key=str) == ["B1", "E2", "W1"]


def test_lines_outside_the_district_are_rejected(engine: Engine) -> None:
    _districts(engine)
    with pytest.raises(BoundaryImportError, match="1 of 2 roads") as caught:
        _import(engine, _roads([WEST_ROADS[0], EAST_ROAD]), district="350304")
    [problem] = caught.value.report.rejected
    assert (problem.row, problem.code) == (2, "E1")
    assert problem.reason == "the line does not run into district 350304's outline"
    with pytest.raises(NotFoundError, match="no outline of it is stored"):
        _import(engine, _roads([WEST_ROADS[0]]), district="350305")
    assert _stored(engine) == {}


def test_runs_in_the_callers_transaction_and_rolls_back_with_it(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin() as transaction:
        report = _import(conn, _roads(WEST_ROADS))
        assert report.inserted == ["W1", "W2"]
        assert conn.execute(text("SELECT count(*) FROM road")).scalar_one() == 2
        # A refused import rolls back its savepoint only.
        with pytest.raises(BoundaryImportError):
            _import(conn, _roads([EAST_ROAD, ("E2", "local", Point(0, 0))]))
        assert conn.execute(text("SELECT count(*) FROM road")).scalar_one() == 2
        transaction.rollback()
    assert _stored(engine) == {}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_cli_imports_with_ids_and_says_so_the_second_time(
    env_database: str, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "道路.gpkg"
    _roads(WEST_ROADS).to_file(path, driver="GPKG", engine="pyogrio")
    runner = CliRunner()
    args = ["import", "roads", str(path), "--id-field", "编号", "--kind-field", "类型"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "2 new, 0 changed, 0 unchanged" in first.output
    again = runner.invoke(main, args)
    assert "0 new, 0 changed, 2 unchanged" in again.output
    bad = runner.invoke(main, [*args[:-2], "--kind-field", "名称"])
    assert bad.exit_code == 1
    assert "rejected row 1, code W1: kind '路1' is not one of" in bad.output


def test_road_kinds_are_read_in_chinese_too(engine: Engine) -> None:
    """A district's file says 主干路, 次干路, 支路, 铁路, 河流 as often as the codes."""
    line = WEST_ROADS[0][2]
    frame = _roads(
        [
            ("C1", "主干路", line), ("C2", "次干路", line), ("C3", "支路", line),
            ("C4", "步行道", line), ("C5", "铁路", line), ("C6", "河流", line),
            ("C7", "围墙", line), ("C8", "快速路", line), ("C9", "其他", line),
        ]
    )  # fmt: skip
    assert _import(engine, frame).inserted == [f"C{i}" for i in range(1, 10)]
    kinds = {key: kind for key, (kind, _) in _stored(engine).items()}
    assert kinds == {
        "C1": "arterial", "C2": "secondary", "C3": "local", "C4": "path", "C5": "railway",
        "C6": "river", "C7": "wall", "C8": "arterial", "C9": "other",
    }  # fmt: skip
    with pytest.raises(BoundaryImportError) as caught:
        _import(engine, _roads([("C10", "高速公路X", line)]))
    reason = caught.value.report.rejected[0].reason
    assert "高速公路X" in reason and "主干路" in reason  # the Chinese names are listed
