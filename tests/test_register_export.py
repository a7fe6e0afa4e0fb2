"""`gridgis export buildings`: what was imported, written so that the importer reads it back."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, box
from sqlalchemy import Engine, text
from test_register_buildings import EAST, WEST, _bowtie, _square, store_areas

from gridgis.errors import InputError
from gridgis.export import export
from gridgis.export.layers import _Layer
from gridgis.export.registers import RegisterExport, _masked, mask_person
from gridgis.registers.buildings import import_buildings


def _source(path: Path) -> Path:
    """Buildings of every kind an import stores: counted, estimated, a point, a straddler,
    a repaired footprint, texts with commas and quotes, a height with decimals."""
    rows = [
        {"编号": "B1", "名称": "1号楼", "地址": "梅园路12号1栋", "小区": "梅园小区",
         "户数": 120, "人口": 300, "层数": 6, "高度": 18.6, "geometry": _square(121.502, 31.232)},
        {"编号": "B2", "名称": '2号楼, "东"', "地址": None, "小区": None,
         "户数": None, "人口": None, "层数": 18, "高度": None,
         "geometry": _square(121.512, 31.232)},
        {"编号": "B3", "名称": None, "地址": "梅园路14号", "小区": None,
         "户数": 40, "人口": None, "层数": None, "高度": None,
         "geometry": box(121.5098, 31.235, 121.5101, 31.2353)},
        {"编号": "B4", "名称": "岗亭", "地址": None, "小区": None,
         "户数": 0, "人口": None, "层数": None, "高度": 3.25,
         "geometry": Point(121.506, 31.236)},
        {"编号": "B5", "名称": None, "地址": None, "小区": None,
         "户数": None, "人口": None, "层数": 3, "高度": None,
         "geometry": _bowtie(121.503, 31.233)},
    ]  # fmt: skip
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    return path


def _stored(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_id, community_code, other_community_code, name, address, "
                "compound, households, households_estimated, residents, floors, height, flags, "
                "ST_AsBinary(footprint) AS footprint, ST_AsBinary(location) AS location "
                "FROM building ORDER BY external_id"
            )
        )
        frame = pd.DataFrame(rows.fetchall(), columns=list(rows.keys()))
    for column in ("footprint", "location"):
        frame[column] = [None if v is None else shapely.from_wkb(bytes(v)) for v in frame[column]]
    return frame.set_index("external_id")


def _assert_same(before: pd.DataFrame, after: pd.DataFrame) -> None:
    shapes = ["footprint", "location"]
    pd.testing.assert_frame_equal(before.drop(columns=shapes), after.drop(columns=shapes))
    for column in shapes:
        for a, b in zip(before[column], after[column], strict=True):
            assert (a is None and b is None) or shapely.equals_exact(a, b, tolerance=1e-9)


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv", "xlsx"])
def test_exported_buildings_read_back_unchanged_and_into_an_empty_table(
    engine: Engine, tmp_path: Path, fmt: str
) -> None:
    store_areas(engine, [WEST, EAST])
    first = import_buildings(engine, _source(tmp_path / "src.geojson"), estimate=True, actor="t")
    assert first.counts["rejected"] == 0
    before = _stored(engine)
    assert before["households_estimated"].tolist() == [False, True, False, False, True]
    assert before.loc["B3", "flags"] == ["straddles"] and before.loc["B5", "flags"] == ["repaired"]
    out = tmp_path / f"buildings.{fmt}"
    result = export(engine, "buildings", fmt, out)
    assert result.rows == 5
    # The same database: every row unchanged, nothing written.
    again = import_buildings(engine, out, actor="t")
    assert again.counts["unchanged"] == 5, again.rows[["id", "outcome", "changes", "reason"]]
    _assert_same(before, _stored(engine))
    # An empty table (as in a fresh database): the same buildings, estimates still estimates.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM building"))
    fresh = import_buildings(engine, out, actor="t")
    assert fresh.counts["imported"] + fresh.counts["flagged"] == 5
    assert fresh.rows.set_index("id").loc["B2", "flags"] == "estimated"
    _assert_same(before, _stored(engine))


def test_the_export_has_the_columns_the_importer_reads(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    import_buildings(engine, _source(tmp_path / "src.geojson"), estimate=True, actor="t")
    out = tmp_path / "b.csv"
    export(engine, "buildings", "csv", out, community="310115001002")
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert list(table.columns) == [
        "id", "name", "address", "compound", "households", "estimated", "residents", "floors",
        "height", "community_code", "other_community_code", "cell_code", "flags", "longitude",
        "latitude", "wkt",
    ]  # fmt: skip
    assert table["id"].tolist() == ["B2"]  # only the eastern community's building
    assert table.loc[0, "estimated"] == "true" and table.loc[0, "wkt"].startswith("MULTIPOLYGON")
    with pytest.raises(InputError, match=r"`fmt` was 'shp' but buildings are exported as"):
        export(engine, "buildings", "shp", tmp_path / "b.zip")


def test_person_data_is_masked_unless_revealed() -> None:
    register = RegisterExport("people", lambda *a: None, person_fields=("name", "phone"))  # type: ignore[arg-type,return-value]

    def layer() -> _Layer:
        frame = pd.DataFrame(
            {"name": ["张三丰", "李四"], "phone": ["13812345678", None],
             "community_code": ["310115001001", "310115001002"]}
        )  # fmt: skip
        return _Layer("people", frame, np.array([None, None], dtype=object), "Point")

    hidden = layer()
    _masked(hidden, register, False)
    assert hidden.frame["name"].tolist() == ["张**", "李*"]
    assert hidden.frame["phone"].tolist() == ["*******5678", None]
    shown = layer()
    _masked(shown, register, True)
    assert shown.frame["name"].tolist() == ["张三丰", "李四"]
    some = layer()
    _masked(some, register, lambda code: code == "310115001002")
    assert some.frame["name"].tolist() == ["张**", "李四"]
    assert mask_person("13812345678", "id_number") == "*******5678"


def test_cli_export_buildings(engine: Engine, env_database: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    store_areas(engine, [WEST, EAST])
    import_buildings(engine, _source(tmp_path / "src.geojson"), actor="t")
    out = tmp_path / "楼栋.xlsx"
    result = CliRunner().invoke(
        main, ["export", "buildings", "--format", "xlsx", "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"wrote 5 buildings to {out}" in result.output
    bad = CliRunner().invoke(main, ["export", "buildings", "--format", "xlsx", "--street", "1"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


def test_cells_say_how_many_of_their_households_are_estimates(
    engine: Engine, tmp_path: Path
) -> None:
    from gridgis.db.layout import publish_cells

    west, east = store_areas(engine, [WEST, EAST])
    import_buildings(engine, _source(tmp_path / "src.geojson"), estimate=True, actor="t")
    with engine.begin() as conn:
        for code, outline in ((west, WEST), (east, EAST)):
            cells = gpd.GeoDataFrame({"code": [f"{code}001"]}, geometry=[outline], crs="EPSG:4326")
            publish_cells(conn, code, cells, method="import", expected_version=None, actor="t")
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT community_code, sum(households) FILTER (WHERE households_estimated) "
                    "FROM building GROUP BY community_code"
                )
            ).all()
        )
    out = tmp_path / "cells.csv"
    export(engine, "cells", "csv", out)
    table = pd.read_csv(out, encoding="utf-8-sig", dtype={"code": str}).set_index("code")
    # West: B1 (120, counted), B3 (40, counted, its point in the west), B4 (0), B5 (estimated).
    assert table.loc[f"{west}001", "households_estimated"] == stored[west]
    assert table.loc[f"{west}001", "estimated_share"] == pytest.approx(
        stored[west] / (120 + 40 + stored[west]), abs=0.001
    )
    assert table.loc[f"{east}001", "households_estimated"] == stored[east]
    assert table.loc[f"{east}001", "estimated_share"] == 1.0


def test_lujiazui_round_trip(engine: Engine, tmp_path: Path) -> None:
    """1,450 OpenStreetMap footprints (holes, multipolygons, heights) through xlsx and back."""
    from test_register_buildings import LUJIAZUI, _lujiazui_communities

    store_areas(engine, _lujiazui_communities())
    import_buildings(engine, LUJIAZUI, estimate=True, actor="t")
    before = _stored(engine)
    out = tmp_path / "陆家嘴.xlsx"
    assert export(engine, "buildings", "xlsx", out).rows == len(before) == 1450
    assert import_buildings(engine, out, actor="t").counts["unchanged"] == 1450
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM building"))
    import_buildings(engine, out, actor="t")
    _assert_same(before, _stored(engine))
