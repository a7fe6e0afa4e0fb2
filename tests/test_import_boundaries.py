"""Importing boundaries: files, encodings, repairs, topology, all-or-nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from gridgis import crs as crs_mod
from gridgis.boundaries import check_topology, prepare_boundaries
from gridgis.cli import main
from gridgis.db.load import BoundaryImportError, import_boundaries, load_divisions
from gridgis.db.queries import read_areas
from gridgis.errors import FileEncodingError, InputError
from gridgis.io import read_vector

ROOT = Path(__file__).resolve().parent.parent

# A 2 km x 2 km district near Putian split into two streets (WGS84).
DISTRICT = box(119.00, 25.40, 119.02, 25.42)
WEST = box(119.00, 25.40, 119.01, 25.42)
EAST = box(119.01, 25.40, 119.02, 25.42)


def _frame(rows: list[dict[str, object]], crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def _import(engine: Engine, frame: gpd.GeoDataFrame, level: str, **kwargs: object):  # type: ignore[no-untyped-def]
    prepared = prepare_boundaries(frame, level=level, crs=kwargs.pop("crs", None))  # type: ignore[arg-type]
    return import_boundaries(engine, prepared, level=level, **kwargs, actor="test")  # type: ignore[arg-type]


def _district(engine: Engine) -> None:
    _import(
        engine, _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]), "district"
    )


def _table(engine: Engine, table: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(text(f"SELECT code, name FROM {table} ORDER BY code"))
        ]


def test_streets_import_nested_and_tiling(engine: Engine) -> None:
    _district(engine)
    report = _import(
        engine,
        _frame(
            [
                {"code": "350304001", "name": "镇海街道", "geometry": WEST},
                {"code": "350304002", "name": "拱辰街道", "geometry": EAST},
            ]
        ),
        "street",
    )
    assert report.committed and sorted(report.inserted) == ["350304001", "350304002"]
    assert report.topology == []
    streets = read_areas(engine, "street")
    assert streets["name"].tolist() == ["镇海街道", "拱辰街道"]
    assert streets["parent_code"].tolist() == ["350304", "350304"]
    again = _import(
        engine,
        _frame([{"code": "350304001", "name": "镇海街道", "geometry": WEST}]),
        "street",
    )
    assert again.unchanged == ["350304001"] and again.inserted == []


def test_overlap_and_outside_are_reported_in_m2_and_block(engine: Engine) -> None:
    _district(engine)
    frame = _frame(
        [
            {
                "code": "350304001",
                "name": "镇海街道",
                "geometry": box(119.00, 25.40, 119.011, 25.42),
            },
            {
                "code": "350304002",
                "name": "拱辰街道",
                "geometry": box(119.01, 25.40, 119.03, 25.42),
            },
        ]
    )
    with pytest.raises(BoundaryImportError, match="stick out of their parent or overlap") as info:
        _import(engine, frame, "street")
    kinds = {f.kind: f for f in info.value.report.topology}
    overlap = kinds["overlap"]
    # 0.001 deg of longitude x 0.02 deg of latitude at 25.4 N: about 100.6 m x 2214 m.
    assert {overlap.code, overlap.other} == {"350304001", "350304002"}
    assert overlap.area_m2 == pytest.approx(100.6 * 2214, rel=0.02)
    outside = kinds["outside_parent"]
    assert outside.code == "350304002" and outside.other == "350304"
    assert outside.area_m2 == pytest.approx(1006 * 2214, rel=0.02)
    assert outside.lon is not None and 119.02 < outside.lon < 119.03
    assert _table(engine, "street") == []  # nothing changed
    allowed = _import(engine, frame, "street", allow_topology_errors=True)
    assert allowed.committed and len(allowed.blocking) == 2


def test_gap_is_reported_but_does_not_block(engine: Engine) -> None:
    _district(engine)
    report = _import(
        engine, _frame([{"code": "350304001", "name": "镇海街道", "geometry": WEST}]), "street"
    )
    assert report.committed
    (gap,) = report.topology
    assert gap.kind == "gap" and gap.code == "350304"
    assert gap.area_m2 == pytest.approx(1006 * 2214, rel=0.02)


def test_bad_rows_are_all_reported_with_row_numbers_and_nothing_changes(engine: Engine) -> None:
    _district(engine)
    bowtie = Polygon([(119.0, 25.40), (119.01, 25.41), (119.01, 25.40), (119.0, 25.41)])
    frame = _frame(
        [
            {"code": "350304001", "name": "镇海街道", "geometry": WEST},
            {"code": "35030400", "name": "短码", "geometry": EAST},
            {"code": "350399003", "name": "无上级", "geometry": EAST},
            {"code": "350304004", "name": None, "geometry": EAST},
            {
                "code": "350304005",
                "name": "线",
                "geometry": shapely.LineString([(119, 25.4), (119.01, 25.41)]),
            },
            {"code": "350304006", "name": "蝴蝶", "geometry": bowtie},
        ]
    )
    with pytest.raises(BoundaryImportError, match="5 of 6 features were rejected") as info:
        _import(engine, frame, "street")
    rows = {p.row: p.reason for p in info.value.report.rejected}
    assert "not 9 digits" in rows[2]
    assert "district 350399 is not in the database" in rows[3]
    assert "no name" in rows[4]
    assert "LineString, not a polygon" in rows[5]
    assert "cannot be repaired safely" in rows[6]
    assert _table(engine, "street") == []


def test_safe_repair_is_reported(engine: Engine) -> None:
    _district(engine)
    # A ring that touches itself at one point: valid after make_valid, same area.
    ring = Polygon(
        [
            (119.0, 25.40),
            (119.01, 25.40),
            (119.01, 25.42),
            (119.005, 25.41),
            (119.0, 25.42),
            (119.005, 25.41),
            (119.0, 25.40),
        ]
    )
    assert not ring.is_valid
    prepared = prepare_boundaries(
        _frame([{"code": "350304001", "name": "镇海街道", "geometry": ring}]), level="street"
    )
    assert prepared.rejected == []
    (repair,) = prepared.repaired
    assert repair.row == 1 and repair.code == "350304001" and "invalid" in repair.detail
    assert prepared.frame.geometry.iloc[0].is_valid


def test_gcj02_geojson_is_shifted_back_to_wgs84(engine: Engine, tmp_path: Path) -> None:
    _district(engine)
    gcj = crs_mod.transform_geometry(WEST, from_crs="wgs84", to_crs="gcj02")
    path = tmp_path / "streets.geojson"
    _frame([{"code": "350304001", "name": "镇海街道", "geometry": gcj}]).to_file(path)
    report = _import(engine, read_vector(path), "street", crs="gcj02")
    assert report.committed and report.topology[0].kind == "gap"  # WEST only: east half is a gap
    stored = read_areas(engine, "street").geometry.iloc[0]
    assert shapely.hausdorff_distance(stored, WEST) < 1e-6  # about 0.1 m


def test_missing_crs_and_projected_input(tmp_path: Path) -> None:
    frame = _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}], crs=None)
    with pytest.raises(ValueError, match="--crs"):
        prepare_boundaries(frame, level="district")
    metric = crs_mod.metric_crs(DISTRICT.centroid)
    projected = _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]).to_crs(metric)
    prepared = prepare_boundaries(projected, level="district")
    assert prepared.rejected == []
    assert shapely.hausdorff_distance(prepared.frame.geometry.iloc[0], DISTRICT) < 1e-7
    swapped = _frame(
        [
            {
                "code": "350304",
                "name": "荔城区",
                "geometry": shapely.transform(DISTRICT, lambda c: c[:, ::-1]),
            }
        ]
    )
    (problem,) = prepare_boundaries(swapped, level="district").rejected
    assert "swapped" in problem.reason


def test_missing_field_lists_the_fields() -> None:
    frame = _frame([{"adcode": "350304", "name": "荔城区", "geometry": DISTRICT}])
    with pytest.raises(InputError, match=r"no field 'code'.*adcode, name"):
        prepare_boundaries(frame, level="district")


def _gbk_shapefile(folder: Path) -> Path:
    path = folder / "streets_gbk.shp"
    frame = _frame(
        [
            {"DM": "350304001", "MC": "镇海街道", "geometry": WEST},
            {"DM": "350304002", "MC": "拱辰街道", "geometry": EAST},
        ]
    )
    pyogrio.write_dataframe(frame, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    return path


def test_gbk_shapefile_without_cpg(engine: Engine, tmp_path: Path) -> None:
    path = _gbk_shapefile(tmp_path)
    assert path.with_suffix(".dbf").read_bytes()[29] in (0, 0x57)  # no CJK language driver
    frame = read_vector(path)  # detected: not UTF-8, strictly GBK
    assert frame["MC"].tolist() == ["镇海街道", "拱辰街道"]
    assert (frame.attrs["encoding"], frame.attrs["encoding_source"]) == ("gbk", "detected")
    _district(engine)
    prepared = prepare_boundaries(frame, level="street", code_field="DM", name_field="MC")
    import_boundaries(engine, prepared, level="street", actor="test")
    assert _table(engine, "street") == [("350304001", "镇海街道"), ("350304002", "拱辰街道")]
    # --encoding overrides: read as UTF-8, the GBK bytes do not decode.
    with pytest.raises(FileEncodingError, match=r"streets_gbk\.shp as utf-8 \(given\).*--encoding"):
        read_vector(path, encoding="utf-8")


def test_shapefile_with_cpg_is_decoded_by_it(tmp_path: Path) -> None:
    path = tmp_path / "gbk_with_cpg.shp"
    pyogrio.write_dataframe(
        _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]), path, encoding="GBK"
    )
    assert path.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    assert read_vector(path)["name"].tolist() == ["荔城区"]


@pytest.mark.parametrize("zipped", [False, True], ids=["shp", "zip"])
def test_cli_import_gbk_shapefile(
    env_database: str, engine: Engine, tmp_path: Path, zipped: bool
) -> None:
    runner = CliRunner()
    district = tmp_path / "district.geojson"
    _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]).to_file(district)
    ok = runner.invoke(main, ["import", "boundaries", str(district), "--level", "district"])
    assert ok.exit_code == 0, ok.output
    assert "1 new" in ok.output and "committed" in ok.output and "encoding" not in ok.output
    path = _gbk_shapefile(tmp_path)
    if zipped:
        archive = tmp_path / "streets.zip"
        with zipfile.ZipFile(archive, "w") as zipped_file:
            for part in path.parent.glob("streets_gbk.*"):
                zipped_file.write(part, part.name)
        path = archive
    args = ["import", "boundaries", str(path), "--level", "street", "--code-field", "DM",
            "--name-field", "MC"]  # fmt: skip
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    assert f"{path.name}: encoding: GBK (detected)" in done.output and "2 new" in done.output
    assert _table(engine, "street") == [("350304001", "镇海街道"), ("350304002", "拱辰街道")]
    forced = runner.invoke(main, [*args, "--encoding", "gb18030", "--dry-run"])
    assert forced.exit_code == 0, forced.output
    assert "encoding: GB18030 (given)" in forced.output


def test_cli_dry_run_changes_nothing(env_database: str, engine: Engine, tmp_path: Path) -> None:
    district = tmp_path / "district.gpkg"
    _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]).to_file(district)
    result = CliRunner().invoke(
        main, ["import", "boundaries", str(district), "--level", "district", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "nothing was changed" in result.output
    assert _table(engine, "district") == []


def test_cli_rejects_report_rows(env_database: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    _frame(
        [
            {"code": "35030", "name": "坏", "geometry": DISTRICT},
            {"code": "350304", "name": "荔城区", "geometry": DISTRICT},
        ]
    ).to_file(path)
    result = CliRunner().invoke(main, ["import", "boundaries", str(path), "--level", "district"])
    assert result.exit_code == 1
    assert "rejected row 1, code 35030: code '35030' is not 6 digits" in result.output
    assert "nothing was changed" in result.output


def test_cell_import_publishes_versions_and_retires_codes(engine: Engine) -> None:
    _district(engine)
    _import(engine, _frame([{"code": "350304001", "name": "镇海街道", "geometry": WEST}]), "street")
    _import(
        engine,
        _frame([{"code": "350304001001", "name": "东梅社区", "geometry": WEST}]),
        "community",
    )
    north = box(119.00, 25.41, 119.01, 25.42)
    south = box(119.00, 25.40, 119.01, 25.41)
    first = _frame(
        [
            {"code": "350304001001001", "name": "一网格", "geometry": north},
            {"code": "350304001001002", "name": "二网格", "geometry": south},
        ]
    )
    report = _import(engine, first, "cell")
    assert report.layout_versions == {"350304001001": 1}
    # Redraw: the north cell stays, the south one is split in two new cells.
    second = _frame(
        [
            {"code": "350304001001001", "name": "一网格", "geometry": north},
            {
                "code": "350304001001003",
                "name": "三网格",
                "geometry": box(119.0, 25.40, 119.005, 25.41),
            },
            {
                "code": "350304001001004",
                "name": "四网格",
                "geometry": box(119.005, 25.40, 119.01, 25.41),
            },
        ]
    )
    report = _import(engine, second, "cell")
    assert report.layout_versions == {"350304001001": 2}
    assert report.unchanged == ["350304001001001"]
    assert report.retired == ["350304001001002"]
    assert sorted(report.inserted) == ["350304001001003", "350304001001004"]
    active = read_areas(engine, "cell")["code"].tolist()
    assert active == ["350304001001001", "350304001001003", "350304001001004"]
    with engine.connect() as conn:
        history = conn.execute(text("SELECT code, status FROM grid_cell ORDER BY code")).all()
    assert ("350304001001002", "retired") in [tuple(r) for r in history]
    # A retired code cannot come back.
    with pytest.raises(BoundaryImportError, match="1 of 2 features were rejected") as info:
        _import(
            engine,
            _frame(
                [
                    {"code": "350304001001001", "name": "一网格", "geometry": north},
                    {"code": "350304001001002", "name": "二网格", "geometry": south},
                ]
            ),
            "cell",
        )
    assert "never reused" in info.value.report.rejected[0].reason


def test_check_topology_finds_nothing_on_a_clean_tiling() -> None:
    children = _frame(
        [
            {"code": "350304001", "parent_code": "350304", "geometry": WEST},
            {"code": "350304002", "parent_code": "350304", "geometry": EAST},
        ]
    )
    parents = _frame([{"code": "350304", "geometry": DISTRICT}])
    assert check_topology(children, parents) == []


def test_load_divisions_official_names(engine: Engine) -> None:
    counts = load_divisions(engine, ["211403"], actor="test")
    assert counts["district"] == 1 and counts["street"] > 0
    with engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM community WHERE code = '211403001006'")).scalar()
    assert name == "仙山社区"
    with pytest.raises(LookupError, match="999999"):
        load_divisions(engine, ["999999"], actor="test")


def test_real_outlines_import(engine: Engine) -> None:
    load_divisions(engine, actor="test")
    for code in ("211403", "350304", "430111", "220402"):
        prepared = prepare_boundaries(
            read_vector(ROOT / "data" / "boundaries" / f"{code}.geojson"), level="district"
        )
        report = import_boundaries(engine, prepared, level="district", actor="test")
        assert report.updated == [code], report.lines()
    districts = read_areas(engine, "district")
    assert len(districts) == 4
    assert json.loads(districts.to_json())["features"][0]["properties"]["name"]
