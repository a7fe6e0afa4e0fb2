"""`gridgis export facilities`: what was imported, written so that the importer reads it back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import Engine, text
from test_register_buildings import EAST, WEST, store_areas

from gridgis.export import export
from gridgis.registers.facilities import import_facilities


def _facilities(path: Path) -> Path:
    """Facilities of every kind an import stores: a listed kind, a synonym, a kind not
    listed (stored as ``other``), a named community, one in no community (flagged),
    texts with commas and quotes."""
    rows = [
        {"编号": "F1", "名称": "梅园党群服务中心", "类型": "党群服务中心",
         "地址": "梅园路1号", "经度": 121.505, "纬度": 31.235, "社区": None},
        {"编号": "F2", "名称": '卫生站, "东"', "类型": "卫生服务站",
         "地址": None, "经度": 121.515, "纬度": 31.235, "社区": None},
        {"编号": "F3", "名称": "图书室", "类型": "图书室",
         "地址": "梅园路3号", "经度": 121.5051, "纬度": 31.2351, "社区": "310115001002"},
        {"编号": "F4", "名称": "城外警务室", "类型": "警务室",
         "地址": None, "经度": 121.60, "纬度": 31.30, "社区": None},
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8")
    return path


def _stored(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_id, name, kind, kind_name, address, community_code, "
                "street_code, ST_AsBinary(location) AS location "
                "FROM service_facility ORDER BY external_id"
            )
        )
        frame = pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))
    frame["location"] = [shapely.from_wkb(bytes(v)) for v in frame["location"]]
    return frame.set_index("external_id")


def _assert_same(before: pd.DataFrame, after: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(before.drop(columns="location"), after.drop(columns="location"))
    for a, b in zip(before["location"], after["location"], strict=True):
        assert shapely.equals_exact(a, b, tolerance=1e-9)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv", "xlsx"])
def test_exported_facilities_read_back_unchanged_and_into_an_empty_table(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    store_areas(engine, [WEST, EAST])
    first = import_facilities(engine, _facilities(tmp_path / "src.csv"), actor="t")
    assert first.counts["rejected"] == 0, first.rows[["id", "outcome", "reason"]]
    before = _stored(engine)
    assert before.loc["F3", "kind"] == "other" and before.loc["F3", "kind_name"] == "图书室"
    assert before.loc["F3", "community_code"] == "310115001002"  # named, not where it lies
    assert pd.isna(before.loc["F4", "community_code"])
    out = tmp_path / f"facilities.{fmt}"
    assert export(engine, "facilities", fmt, out).rows == 4
    # The same database: every row unchanged, nothing written.
    again = import_facilities(engine, out, actor="t")
    assert again.counts["unchanged"] == 4, again.rows[["id", "outcome", "changes", "reason"]]
    _assert_same(before, _stored(engine))
    # An empty table: the same facilities back.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM service_facility"))
    fresh = import_facilities(engine, out, actor="t")
    assert fresh.counts["imported"] + fresh.counts["flagged"] == 4
    _assert_same(before, _stored(engine))


def test_facilities_export_columns_and_area(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    import_facilities(engine, _facilities(tmp_path / "src.csv"), actor="t")
    out = tmp_path / "f.csv"
    export(engine, "facilities", "csv", out, community="310115001002")
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert list(table.columns) == [
        "id", "name", "kind", "address", "community", "lon", "lat",
    ]  # fmt: skip
    assert table["id"].tolist() == ["F2", "F3"]


def test_cli_export_facilities(engine: Engine, env_database: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    store_areas(engine, [WEST, EAST])
    import_facilities(engine, _facilities(tmp_path / "src.csv"), actor="t")
    out = tmp_path / "设施.xlsx"
    result = CliRunner().invoke(
        main, ["export", "facilities", "--format", "xlsx", "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"wrote 4 facilities to {out}" in result.output
