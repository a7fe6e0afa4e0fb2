"""A street office imports rosters only within its street: `street=` of the workers,
branches and facilities importers (rows outside are rejected with the reason)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gridgis.registers.branches import import_branches
from gridgis.registers.facilities import import_facilities
from gridgis.registers.workers import import_workers


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


@pytest.fixture
def two(demo_engine: Engine) -> dict[str, Any]:
    """A cell, community and a point inside it, of two streets of the demo."""
    with demo_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT ON (c.street_code) c.street_code, g.code, c.code, c.name, "
                "ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) "
                "FROM grid_cell g JOIN community c ON c.code = g.community_code "
                "WHERE g.valid_to IS NULL ORDER BY c.street_code, g.code LIMIT 2"
            )
        ).all()
    keys = ("street", "cell", "community", "name", "lon", "lat")
    own, other = (dict(zip(keys, r, strict=True)) for r in rows)
    return {"own": own, "other": other}


def _reasons(report: Any) -> dict[str, Any]:
    frame = report.rows.set_index("id")
    return {i: (r["outcome"], r["reason"]) for i, r in frame.iterrows()}


def test_workers_serving_another_street_or_nothing_are_rejected(
    demo_engine: Engine, two: dict[str, Any], tmp_path: Path
) -> None:
    own, other = two["own"], two["other"]
    path = _write_csv(
        tmp_path / "网格员.csv",
        ["编号", "姓名", "网格", "社区"],
        [
            ["W1", "王芳", own["cell"], None],
            ["W2", "李强", other["cell"], None],
            ["W3", "赵六", own["cell"], other["name"]],
            ["W4", "孙七", None, None],
        ],
    )
    street = own["street"]
    report = import_workers(demo_engine, path, street=street, actor="street-office")
    got = _reasons(report)
    assert got["W1"] == ("imported", None)
    assert got["W2"] == (
        "rejected",
        f"cell {other['cell']} is in community {other['community']}, outside street {street}",
    )
    assert got["W3"] == (
        "rejected",
        f"community {other['community']} is outside street {street}",
    )
    assert got["W4"] == ("rejected", f"serves no cell, building or community of street {street}")
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT external_id FROM grid_worker WHERE external_id LIKE 'W_'")
        ).scalars()
        assert sorted(stored) == ["W1"]


def test_facilities_outside_the_street_or_stored_for_another_are_rejected(
    demo_engine: Engine, two: dict[str, Any], tmp_path: Path
) -> None:
    own, other = two["own"], two["other"]
    header = ["编号", "名称", "类型", "经度", "纬度"]
    # An administrator stores F9 in the other street first.
    admin = [["F9", "东站", "警务室", other["lon"], other["lat"]]]
    import_facilities(demo_engine, _write_csv(tmp_path / "a.csv", header, admin), actor="admin")
    path = _write_csv(
        tmp_path / "设施.csv",
        header,
        [
            ["F1", "本街道卫生站", "卫生服务站", own["lon"], own["lat"]],
            ["F2", "外街道警务室", "警务室", other["lon"], other["lat"]],
            ["F9", "东站（搬来）", "警务室", own["lon"], own["lat"]],
        ],
    )
    street = own["street"]
    got = _reasons(import_facilities(demo_engine, path, street=street, actor="street-office"))
    assert got["F1"] == ("imported", None)
    assert got["F2"] == (
        "rejected",
        f"the facility lies in community {other['community']}, outside street {street}",
    )
    assert got["F9"] == (
        "rejected",
        f"the id is stored for a facility of {other['street']}, outside street {street}",
    )
    with demo_engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM service_facility WHERE external_id = 'F9'"))
        assert name.scalar_one() == "东站"


def test_branches_outside_the_street_or_serving_its_cells_are_rejected(
    demo_engine: Engine, two: dict[str, Any], tmp_path: Path
) -> None:
    own, other = two["own"], two["other"]
    path = _write_csv(
        tmp_path / "党组织.csv",
        ["编号", "名称", "类型", "上级", "经度", "纬度", "网格"],
        [
            ["P1", "本街道支部", "党支部", None, own["lon"], own["lat"], own["cell"]],
            ["P2", "跨街道支部", "党支部", None, own["lon"], own["lat"], other["cell"]],
            ["P3", "外街道支部", "党支部", None, other["lon"], other["lat"], None],
            ["P4", "跨街道党小组", "党小组", "P2", own["lon"], own["lat"], None],
        ],
    )
    street = own["street"]
    got = _reasons(import_branches(demo_engine, path, street=street, actor="street-office"))
    assert got["P1"] == ("imported", None)
    assert got["P2"] == (
        "rejected",
        f"cell {other['cell']} is in community {other['community']}, outside street {street}",
    )
    assert got["P3"] == (
        "rejected",
        f"the organisation lies in community {other['community']}, outside street {street}",
    )
    assert got["P4"] == ("rejected", "parent 'P2' is rejected")


def test_the_cli_imports_within_a_street(
    demo_url: str, demo_engine: Engine, two: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`gridgis import workers|branches|facilities --street STREET`: rows outside the street
    are rejected with their row number and reason; the report CSV has their codes."""
    from click.testing import CliRunner

    from gridgis.cli import main

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    own, other = two["own"], two["other"]
    street = own["street"]
    runner = CliRunner()
    facilities = _write_csv(
        tmp_path / "设施.csv",
        ["编号", "名称", "类型", "经度", "纬度"],
        [
            ["CF1", "本街道卫生站", "卫生服务站", own["lon"], own["lat"]],
            ["CF2", "外街道警务室", "警务室", other["lon"], other["lat"]],
        ],
    )
    done = runner.invoke(main, ["import", "facilities", str(facilities), "--street", street])
    assert done.exit_code == 0, done.output
    assert "imported: 1" in done.output and "rejected: 1" in done.output
    assert (
        f"rejected row 3: the facility lies in community {other['community']}, "
        f"outside street {street}"
    ) in done.output
    report = (tmp_path / "设施.report.csv").read_text(encoding="utf-8-sig")
    assert "lies_outside_street" in report
    workers = _write_csv(
        tmp_path / "网格员.csv",
        ["编号", "姓名", "网格"],
        [["CW1", "王芳", own["cell"]], ["CW2", "李强", other["cell"]]],
    )
    done = runner.invoke(main, ["import", "workers", str(workers), "--street", street])
    assert done.exit_code == 0, done.output
    assert (
        f"rejected row 3: cell {other['cell']} is in community {other['community']}, "
        f"outside street {street}"
    ) in done.output
    branches = _write_csv(
        tmp_path / "党组织.csv",
        ["编号", "名称", "类型", "经度", "纬度"],
        [["CP1", "外街道支部", "党支部", other["lon"], other["lat"]]],
    )
    done = runner.invoke(main, ["import", "branches", str(branches), "--street", street,
                                "--dry-run"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "rejected row 2: the organisation lies in community" in done.output
    bad = runner.invoke(main, ["import", "facilities", str(facilities), "--street", "east"])
    assert bad.exit_code != 0 and "east" in bad.output and "Traceback" not in bad.output
    with demo_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT external_id FROM service_facility WHERE external_id LIKE 'CF_'")
        ).scalars()
        assert sorted(stored) == ["CF1"]
