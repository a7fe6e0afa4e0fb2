"""Long imports show progress for every kind: each importer tells its phases
(reading, checking or placing, storing) to ``progress``, which the import page shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from test_import_page import buildings_file
from test_register_street import store_two_streets

from gridgis.registers.catalogue import import_kind

FILES = {
    "households": ("实有房屋.csv", "编号,地址,户数\nB1,银城路1号,30\n"),
    "workers": ("网格员.csv", "编号,姓名,社区\nW1,王芳,西社区\n"),
    "branches": ("党组织.csv", "编号,名称,类型,经度,纬度\nP1,西支部,党支部,121.505,31.235\n"),
    "facilities": ("设施.csv", "编号,名称,类型,经度,纬度\nF1,西站,警务室,121.505,31.235\n"),
    "roads": ("道路.csv", '编号,类型,wkt\nR1,支路,"LINESTRING (121.501 31.231, 121.509 31.239)"\n'),
}


@pytest.mark.parametrize("kind", ["buildings", *FILES])
def test_every_kind_tells_its_phases(engine: Engine, tmp_path: Path, kind: str) -> None:
    store_two_streets(engine)
    if kind == "buildings":
        path = tmp_path / "楼栋.geojson"
        path.write_bytes(buildings_file(tmp_path))
    else:
        name, content = FILES[kind]
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
    said: list[str] = []
    importer = import_kind(kind).importer
    importer(engine, path, dry_run=True, progress=said.append, actor="t")
    assert said[0].startswith("reading "), said
    assert any(m.startswith(("checking", "placing", "matching")) for m in said), said
    assert any(m.startswith(("storing", "updating", "comparing")) for m in said), said
