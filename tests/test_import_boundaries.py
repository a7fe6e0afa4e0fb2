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
from sqlalchemy import Connection, Engine, text

from gridgis import crs as crs_mod
from gridgis.boundaries import area_m2, check_topology, prepare_boundaries
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


def _street_and_community(bind: Engine | Connection) -> None:
    _import(bind, _frame([{"code": "350304", "name": "荔城区", "geometry": DISTRICT}]), "district")
    _import(bind, _frame([{"code": "350304001", "name": "镇海街道", "geometry": WEST}]), "street")


def test_communities_carry_kind_and_households_per_cell(engine: Engine) -> None:
    """A communities' file says each one's kind and bounds; bad ones are rejected by row."""
    _street_and_community(engine)
    north, south = box(119.00, 25.41, 119.01, 25.42), box(119.00, 25.40, 119.01, 25.41)
    frame = _frame(
        [
            {"code": "350304001001", "name": "东梅社区", "类型": "社区", "最少": 300, "最多": 500,
             "geometry": north},
            {"code": "350304001201", "name": "曹屯村", "类型": "村", "最少": "150", "最多": 250.0,
             "geometry": south},
        ]
    )  # fmt: skip
    fields = {"kind_field": "类型", "min_field": "最少", "max_field": "最多"}
    prepared = prepare_boundaries(frame, level="community", **fields)
    report = import_boundaries(engine, prepared, level="community", actor="test")
    assert sorted(report.inserted) == ["350304001001", "350304001201"]
    query = text("SELECT code, kind, min_households, max_households FROM community ORDER BY code")
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(query)]
    assert stored == [("350304001001", "urban", 300, 500), ("350304001201", "rural", 150, 250)]
    # The same file again changes nothing; a changed bound updates that community only.
    again = import_boundaries(engine, prepared, level="community", actor="test")
    assert again.unchanged == ["350304001001", "350304001201"]
    frame.loc[1, "最多"] = 260
    changed = prepare_boundaries(frame, level="community", **fields)
    assert import_boundaries(engine, changed, level="community", actor="test").updated == [
        "350304001201"
    ]
    # Bad values are rejected with their row; options for another level are refused.
    bad = frame.assign(类型=["城镇", "村"], 最少=[300, "many"])
    rejected = prepare_boundaries(bad, level="community", **fields).rejected
    assert [(p.row, p.reason) for p in rejected] == [
        (1, "kind '城镇' is not urban (社区) or rural (村)"),
        (2, "min 'many' is not a whole number"),
    ]
    upside_down = frame.assign(最少=[500, 150], 最多=[300, 260])
    [problem] = prepare_boundaries(upside_down, level="community", **fields).rejected
    assert problem.reason == "households per cell must satisfy 0 <= min <= max, not 500 and 300"
    with pytest.raises(InputError, match=r"`flags_field` \(--flags-field\) is for cell"):
        prepare_boundaries(frame, level="community", flags_field="类型")
    with pytest.raises(InputError, match="give both --min-field and --max-field"):
        prepare_boundaries(frame, level="community", min_field="最少")


def test_cells_drawn_elsewhere_keep_their_flags_and_method_in_the_callers_transaction(
    engine: Engine,
) -> None:
    """The demo's load: cells of a file drawn by a partitioner, imported in one transaction."""
    north, south = box(119.00, 25.41, 119.01, 25.42), box(119.00, 25.40, 119.01, 25.41)
    cells = _frame(
        [
            {"code": "350304001001001", "标记": "below_min", "geometry": north},
            {"code": "350304001001002", "标记": None, "geometry": south},
        ]
    )
    with engine.connect() as conn, conn.begin():
        _street_and_community(conn)
        _import(conn, _frame([{"code": "350304001001", "name": "东梅社区", "geometry": WEST}]),
                "community")  # fmt: skip
        prepared = prepare_boundaries(cells, level="cell", flags_field="标记")
        # A dry run rolls back its own savepoint only.
        dry = import_boundaries(conn, prepared, level="cell", actor="test", dry_run=True)
        assert not dry.committed and dry.layout_versions == {"350304001001": 1}
        assert conn.execute(text("SELECT count(*) FROM grid_cell")).scalar_one() == 0
        # A refused import too.
        with pytest.raises(BoundaryImportError):
            _import(conn, _frame([{"code": "350399001", "name": "X", "geometry": EAST}]), "street")
        report = import_boundaries(
            conn, prepared, level="cell", actor="test", method="draw", published_by="gridgis demo",
            note="demo district",
        )  # fmt: skip
        assert report.layout_versions == {"350304001001": 1}
    with engine.connect() as conn:
        cells_stored = conn.execute(text("SELECT code, flags FROM grid_cell ORDER BY code")).all()
        version = conn.execute(text("SELECT method, published_by, note FROM layout_version")).one()
    assert [tuple(r) for r in cells_stored] == [
        ("350304001001001", ["below_min"]),
        ("350304001001002", []),
    ]
    assert tuple(version) == ("draw", "gridgis demo", "demo district")
    with pytest.raises(InputError, match="other than 'import' for cells only"):
        import_boundaries(engine, prepared, level="street", method="draw", actor="test")


def test_a_sliver_without_area_as_stored_is_not_outside_its_parent() -> None:
    """A street cut to its district's outline may keep a piece of no area along the edge,
    whose geodesic edges bow apart into a square metre (seen on the demo's 龙港区, seed 2)."""
    parent = box(120.98, 40.70, 121.00, 40.745)
    sliver = Polygon([(120.99123042086194, 40.74514492316276),
                      (120.99193418143639, 40.74513645590947),
                      (120.9954878643094, 40.745093699986334),
                      (120.98954510000002, 40.7451652)])  # fmt: skip
    assert shapely.area(sliver) < 1e-17 and area_m2(sliver) > 1.0  # the ellipsoid's bow
    child = shapely.MultiPolygon([box(120.985, 40.71, 120.995, 40.745), sliver])
    children = _frame([{"code": "350304001", "parent_code": "350304", "geometry": child}])
    parents = _frame([{"code": "350304", "geometry": parent}])
    assert [f for f in check_topology(children, parents) if f.kind != "gap"] == []
