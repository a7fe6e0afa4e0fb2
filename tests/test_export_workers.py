"""`gridgis export workers`: the roster as imported, read back by `gridgis import workers` as all
unchanged, masked or not (issue 16, point 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.audit import mask_person, read_audit
from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.registers.workers import import_workers, unmasked


@pytest.fixture
def demo_env(demo_url: str, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo, with people of every kind of link: a 楼栋长 and 单元长 of a building's
    units 1 and 2 with an ID number, a person serving a whole community."""
    with demo_engine.begin() as conn:
        first, second = conn.execute(text("SELECT id FROM grid_worker ORDER BY id LIMIT 2")).all()
        building = conn.execute(text("SELECT id FROM building ORDER BY id LIMIT 1")).scalar_one()
        for statement in (
            "UPDATE grid_worker SET id_number = '35030419900101123X' WHERE id = :w",
            "INSERT INTO worker_role VALUES (:w, 'building_leader'), (:w, 'unit_leader')",
            "INSERT INTO worker_building VALUES (:w, :b)",
            "INSERT INTO worker_unit VALUES (:w, :b, 1), (:w, :b, 2)",
            "DELETE FROM worker_cell WHERE worker_id = :v",
            "INSERT INTO worker_community SELECT :v, community_code FROM building WHERE id = :b",
        ):
            conn.execute(text(statement), {"w": first.id, "v": second.id, "b": building})
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def _people(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT w.external_id, w.name, w.phone, w.id_number, w.street_code, "
                    "(SELECT array_agg(role ORDER BY role) FROM worker_role "
                    " WHERE worker_id = w.id),"
                    " (SELECT array_agg(cell_id ORDER BY cell_id) FROM worker_cell "
                    "  WHERE worker_id = w.id),"
                    " (SELECT array_agg(building_id ORDER BY building_id) FROM worker_building "
                    "  WHERE worker_id = w.id),"
                    " (SELECT array_agg(unit_number) FROM worker_unit WHERE worker_id = w.id),"
                    " (SELECT array_agg(community_code) FROM worker_community "
                    "  WHERE worker_id = w.id) FROM grid_worker w ORDER BY w.id"
                )
            )
        ]


def _export(tmp_path: Path, fmt: str, *extra: str) -> Path:
    out = tmp_path / f"workers.{fmt}"
    done = CliRunner().invoke(main, ["export", "workers", "--format", fmt, "-o", str(out), *extra])
    assert done.exit_code == 0, done.output
    assert "read it back with `gridgis import workers" in done.output
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg"])
def test_a_revealed_export_imports_back_unchanged(
    demo_env: str, demo_engine: Engine, tmp_path: Path, fmt: str
) -> None:
    before = _people(demo_engine)
    assert len(before) > 100 and any(p[7] for p in before) and any(p[9] for p in before)
    out = _export(tmp_path, fmt, "--reveal-person-data")
    report = import_workers(demo_engine, out, actor="t")
    assert report.counts["read"] == len(before)
    assert report.counts["unchanged"] == len(before), report.counts
    assert _people(demo_engine) == before
    [row] = read_audit(demo_engine, object_type="workers").itertuples()
    assert row.action == "export_person_data" and row.actor.startswith("cli:")


def test_a_masked_export_imports_back_without_overwriting_anyone(
    demo_env: str, demo_engine: Engine, tmp_path: Path
) -> None:
    before = _people(demo_engine)
    out = _export(tmp_path, "csv")
    frame = pd.read_csv(out, dtype=str)
    assert frame["name"].str.contains(r"\*").all() and frame["phone"].str.startswith("*").all()
    assert read_audit(demo_engine, object_type="workers").empty
    report = import_workers(demo_engine, out, actor="t")
    assert report.counts["unchanged"] == len(before), report.counts
    assert _people(demo_engine) == before
    # A masked value that is not the stored person's is refused, naming the row.
    frame.loc[0, "name"] = "李**"
    frame.to_csv(out, index=False)
    report = import_workers(demo_engine, out, actor="t")
    assert report.counts["rejected"] == 1
    [reason] = [r for r in report.rows["reason"].tolist() if isinstance(r, str) and r]
    assert "name masked" in reason and "give the real value" in reason
    assert _people(demo_engine) == before


def test_unmasked_keeps_only_the_exact_masked_form() -> None:
    stored = ["张三丰", "13812345678", None]
    assert mask_person("张三丰", "name") == "张**"
    assert unmasked(["张**", "李四", "王**"], ["张三丰", "张三", None], "name") == [
        "张三丰",
        "李四",
        "王**",
    ]
    assert unmasked(["*******5678", "*******0000", None], stored[1:2] * 3, "phone") == [
        "13812345678",
        "*******0000",
        None,
    ]
