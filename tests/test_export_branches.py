"""`gridgis export branches`: party organisations as imported, read back by `gridgis import
branches` as all unchanged, masked or not (issue 16, point 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from gridgis.audit import read_audit
from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.registers.branches import import_branches


@pytest.fixture
def demo_env(demo_url: str, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo, with a 党委 over two organisations, a secretary and a phone on one."""
    with demo_engine.begin() as conn:
        first, second, third = conn.execute(
            text("SELECT id FROM party_branch ORDER BY id LIMIT 3")
        ).scalars()
        conn.execute(
            text(
                "UPDATE party_branch SET kind = 'committee', secretary = '陈秀英', "
                "secretary_phone = '13905941234' WHERE id = :a"
            ),
            {"a": first},
        )
        conn.execute(
            text("UPDATE party_branch SET parent_id = :a WHERE id IN (:b, :c)"),
            {"a": first, "b": second, "c": third},
        )
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def _stored(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT b.external_id, b.name, b.kind, b.parent_id, b.address, b.secretary, "
                    "b.secretary_phone, b.member_count, b.community_code, "
                    "ST_AsText(b.location), (SELECT array_agg(cell_id ORDER BY cell_id) "
                    "FROM branch_cell WHERE branch_id = b.id) FROM party_branch b ORDER BY b.id"
                )
            )
        ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg", "geojson"])
def test_a_revealed_export_imports_back_unchanged(
    demo_env: str, demo_engine: Engine, tmp_path: Path, fmt: str
) -> None:
    before = _stored(demo_engine)
    assert any(row[3] for row in before) and any(row[5] for row in before)
    out = tmp_path / f"branches.{fmt}"
    done = CliRunner().invoke(
        main, ["export", "branches", "--format", fmt, "-o", str(out), "--reveal-person-data"]
    )
    assert done.exit_code == 0, done.output
    report = import_branches(demo_engine, out, actor="t")
    assert report.counts["unchanged"] == len(before) == report.counts["read"], report.counts
    assert _stored(demo_engine) == before
    assert read_audit(demo_engine, object_type="branches")["action"].tolist() == [
        "export_person_data"
    ]


def test_a_masked_export_imports_back_without_overwriting(
    demo_env: str, demo_engine: Engine, tmp_path: Path
) -> None:
    before = _stored(demo_engine)
    out = tmp_path / "branches.csv"
    done = CliRunner().invoke(main, ["export", "branches", "--format", "csv", "-o", str(out)])
    assert done.exit_code == 0, done.output
    frame = pd.read_csv(out, dtype=str)
    assert (
        "陈**" in frame["secretary"].tolist() and "*******1234" in frame["secretary_phone"].tolist()
    )
    report = import_branches(demo_engine, out, actor="t")
    assert report.counts["unchanged"] == len(before), report.counts
    assert _stored(demo_engine) == before
