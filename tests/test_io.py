"""Reading files: bounded listings, shapefile encodings, and the one reader of zip files."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

from gridgis.archive import extract_archive
from gridgis.errors import (
    CRSError,
    FileEncodingError,
    InputError,
    Problem,
    ValidationError,
    listing,
)
from gridgis.intake import read_table
from gridgis.io import apply_named_crs, encoding_note, flags_from_text, read_vector, write_layout

NAMES = ["镇海街道", "拱辰街道", "西天尾镇"]
"""Street names that GBK and UTF-8 write with different bytes."""


# --- bounded listings ----------------------------------------------------------------------------


def test_listing_counts_and_shows_the_first() -> None:
    assert listing([]) == "0 problems"
    assert listing(["row 2: no code"]) == "1 problem: row 2: no code"
    many = listing((f"row {i}: no code" for i in range(1, 100_001)), shown=3)
    assert many == "100,000 problems; first 3: row 1: no code; row 2: no code; row 3: no code; …"
    assert listing(range(1, 8), noun="", shown=3, sep=", ") == "1, 2, 3, … (7 in all)"
    # A part of a long list, with the count given: only the part is read.
    assert listing(iter([4, 5]), noun="row", shown=2, sep=", ", count=10**9) == (
        "1,000,000,000 rows; first 2: 4, 5, …"
    )
    long = listing(["x" * 10_000], width=50)
    assert len(long) < 70 and long.endswith("x…")


def test_validation_error_message_is_bounded() -> None:
    problems = [Problem(i, "350304002005001", "the code is also on row(s) 1") for i in range(5000)]
    error = ValidationError("cells.geojson: 5000 of 5000 features rejected", problems)
    message = str(error)
    assert len(message) < 3000
    assert message.startswith("cells.geojson: 5000 of 5000 features rejected\n5,000 problems;")
    assert len(error.problems) == 5000


# --- shapefile encodings -------------------------------------------------------------------------


def _streets(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["350304001", "350304002", "350304100"], "名称": NAMES},
        geometry=[box(119.0 + i / 100, 25.4, 119.01 + i / 100, 25.41) for i in range(3)],
        crs=crs,
    )


def _gbk_without_cpg(folder: Path, stem: str = "streets") -> Path:
    """A GBK shapefile with neither a .cpg nor a GBK language driver, as Chinese software writes."""
    path = folder / f"{stem}.shp"
    pyogrio.write_dataframe(_streets(), path, encoding="gbk")
    path.with_suffix(".cpg").unlink()
    assert path.with_suffix(".dbf").read_bytes()[29] in (0, 0x57)  # none, or "ANSI"
    return path


def _zipped(path: Path, archive: Path, *, folder: str = "") -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in sorted(path.parent.glob(f"{path.stem}.*")):
            if part != archive:
                zipped.write(part, folder + part.name)
    return archive


@pytest.mark.parametrize("zipped", [False, True], ids=["shp", "zip"])
def test_gbk_shapefile_without_cpg_is_detected(tmp_path: Path, zipped: bool) -> None:
    path = _gbk_without_cpg(tmp_path)
    if zipped:
        path = _zipped(path, tmp_path / "streets.zip", folder="数据/")
    frame = read_vector(path)
    assert frame["名称"].tolist() == NAMES
    assert (frame.attrs["encoding"], frame.attrs["encoding_source"]) == ("gbk", "detected")
    assert encoding_note(frame) == "GBK (detected)"
    table = read_table(path)  # the importers' reader goes through read_vector too
    assert table.fields["名称"].tolist() == NAMES and table.encoding == "gbk"


def test_utf8_shapefile_without_cpg_is_detected_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "streets.shp"
    pyogrio.write_dataframe(_streets(), path)
    path.with_suffix(".cpg").unlink()
    frame = read_vector(path)
    assert frame["名称"].tolist() == NAMES and encoding_note(frame) == "UTF-8 (detected)"


def test_cpg_then_language_driver_then_detection(tmp_path: Path) -> None:
    path = tmp_path / "streets.shp"
    pyogrio.write_dataframe(_streets(), path, encoding="gbk")
    frame = read_vector(path)
    assert frame["名称"].tolist() == NAMES and encoding_note(frame) == "GBK (from its .cpg file)"
    path.with_suffix(".cpg").write_text("936")  # a code page number, as ArcGIS writes
    assert encoding_note(read_vector(path)) == "GBK (from its .cpg file)"
    path.with_suffix(".cpg").unlink()
    dbf = bytearray(path.with_suffix(".dbf").read_bytes())
    dbf[29] = 0x4D  # language driver: code page 936 (GBK)
    path.with_suffix(".dbf").write_bytes(bytes(dbf))
    frame = read_vector(path)
    assert frame["名称"].tolist() == NAMES and encoding_note(frame) == "GBK (from its DBF header)"
    # --encoding wins over everything the file says.
    assert encoding_note(read_vector(path, encoding="gb18030")) == "GB18030 (given)"


def test_undecodable_shapefile_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "streets.shp"
    pyogrio.write_dataframe(_streets(), path)
    path.with_suffix(".cpg").unlink()
    dbf = path.with_suffix(".dbf").read_bytes()
    at = dbf.index("拱辰".encode())
    path.with_suffix(".dbf").write_bytes(dbf[:at] + b"\x80\xff" + dbf[at + 2 :])
    with pytest.raises(FileEncodingError, match=r"上传\.shp \(record 2, field 2\).*--encoding"):
        read_vector(path, name="上传.shp")


# --- zip files -----------------------------------------------------------------------------------


def _archive(path: Path, members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_a_zipped_shapefile_is_read_through_the_archive_reader(tmp_path: Path) -> None:
    archive = _zipped(_gbk_without_cpg(tmp_path), tmp_path / "streets.zip")
    unpacked = tmp_path / "out"
    unpacked.mkdir()
    files = extract_archive(archive, unpacked, name="街道.zip")
    assert sorted(f.name for f in files) == sorted(
        f"streets.{s}" for s in ("dbf", "prj", "shp", "shx")
    )
    assert all(f.is_file() and not f.is_symlink() for f in files)


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"cells.shx": b"x"}, ("cells.shp",), r"'cells\.shp' is a symbolic link"),
        ({"../cells.shp": b"x"}, (), r"'\.\./cells\.shp' has an absolute path or '\.\.'"),
        ({"/tmp/cells.shp": b"x"}, (), r"'/tmp/cells\.shp' has an absolute path"),
        ({"a\\..\\..\\cells.shp": b"x"}, (), r"cells\.shp' has an absolute path or '\.\.'"),
    ],
    ids=["link", "dot-dot", "absolute", "backslashes"],
)
def test_archives_that_would_reach_outside_are_refused(
    tmp_path: Path, members: dict[str, bytes], links: tuple[str, ...], message: str
) -> None:
    archive = _archive(tmp_path / "upload.zip", members, links=links)
    folder = tmp_path / "deep" / "out"
    folder.mkdir(parents=True)
    with pytest.raises(InputError, match=rf"^网格\.zip cannot be read: 1 problem: .*{message}"):
        read_vector(archive, name="网格.zip")
    with pytest.raises(InputError, match=message):
        extract_archive(archive, folder, name="网格.zip")
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == [
        "deep",
        "upload.zip",
    ]


def test_zip_bombs_are_refused_before_unpacking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path / "bomb.zip", {f"{i}.txt": b"\0" * 1_000_000 for i in range(5)})
    assert archive.stat().st_size < 50_000
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setenv("GRIDGIS_ARCHIVE_MAX_BYTES", "4000000")
    with pytest.raises(InputError, match=r"bomb\.zip would unpack to 5,000,000 bytes.*4,000,000"):
        extract_archive(archive, folder, name="bomb.zip")
    monkeypatch.setenv("GRIDGIS_ARCHIVE_MAX_BYTES", "5000000")
    monkeypatch.setenv("GRIDGIS_ARCHIVE_MAX_MEMBERS", "4")
    with pytest.raises(InputError, match=r"bomb\.zip holds 5 files, more than the 4 allowed"):
        read_vector(archive, name="bomb.zip")
    assert list(folder.iterdir()) == []
    monkeypatch.setenv("GRIDGIS_ARCHIVE_MAX_MEMBERS", "5")
    assert len(extract_archive(archive, folder)) == 5


def test_an_archive_is_named_as_its_sender_knows_it(tmp_path: Path) -> None:
    empty = _archive(tmp_path / "upload.zip", {"readme.txt": b"hello"})
    with pytest.raises(InputError, match=r"^网格\.zip holds no shapefile .*1 file: readme\.txt$"):
        read_vector(empty, name="网格.zip")
    broken = _archive(tmp_path / "upload.zip", {"cells.shp": b"not a shapefile"})
    with pytest.raises(InputError, match=r"cannot read 网格\.zip/cells\.shp") as info:
        read_vector(broken, name="网格.zip")
    assert str(tmp_path) not in str(info.value) and "gridgis-zip-" not in str(info.value)
    (tmp_path / "not.zip").write_bytes(b"PK but not a zip")
    with pytest.raises(InputError, match=r"^网格\.zip is not a readable zip file"):
        read_vector(tmp_path / "not.zip", name="网格.zip")


def test_several_shapefiles_in_a_zip_need_a_layer(tmp_path: Path) -> None:
    first = _gbk_without_cpg(tmp_path, "east")
    second = _gbk_without_cpg(tmp_path, "west")
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in [*first.parent.glob("east.*"), *second.parent.glob("west.*")]:
            zipped.write(part, part.name)
    with pytest.raises(InputError, match=r"several layers \(east\.shp, west\.shp\).*--layer"):
        read_vector(archive)
    assert read_vector(archive, layer="west")["名称"].tolist() == NAMES


# --- the CRS a user names for a file (moved out of the CLI) -----------------------------------


def _point_frame(crs: str | None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": ["A"]}, geometry=[Point(119.0125, 25.4363)], crs=crs)


def test_a_named_crs_is_applied_by_the_file_commands_rule() -> None:
    undeclared = _point_frame(None)
    with pytest.raises(CRSError, match="does not say its CRS and none was given: pass --crs"):
        apply_named_crs(undeclared, None)
    assert apply_named_crs(_point_frame("EPSG:4326"), None).crs == "EPSG:4326"
    # Set, not converted, on a file that says no CRS.
    set_only = apply_named_crs(undeclared, "EPSG:4549")
    assert set_only.crs.to_epsg() == 4549 and set_only.geometry.x.iloc[0] == 119.0125
    # GCJ-02 overrides what a file copied from AMap says, and converts.
    amap = apply_named_crs(_point_frame("EPSG:4326"), "gcj02")
    assert amap.crs.to_epsg() == 4326
    assert amap.geometry.x.iloc[0] == pytest.approx(119.00775, abs=1e-4)
    # A file in a projected CRS is converted to WGS84; a disagreeing name is an error.
    projected = _point_frame("EPSG:4326").to_crs(4549)
    assert apply_named_crs(projected, "EPSG:4549").crs.to_epsg() == 4326
    with pytest.raises(CRSError, match=r"EPSG:4549 but `crs` was 'EPSG:4547'"):
        apply_named_crs(projected, "EPSG:4547")
    assert undeclared.crs is None  # the input is not changed


# --- layouts on files (moved out of the CLI) -----------------------------------------------------


def _layout() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.Series]:
    cells = gpd.GeoDataFrame(
        {"code": ["001", "002"], "households": [320, 610], "flags": [[], ["oversize", "gap"]]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    units = gpd.GeoDataFrame(
        {"households": [320, 610]}, geometry=[Point(0.5, 0.5), Point(1.5, 0.5)], crs="EPSG:4326"
    )
    return cells, units, pd.Series(["001", "002"], index=units.index)


def test_a_layout_round_trips_through_a_geopackage(tmp_path: Path) -> None:
    cells, units, assignment = _layout()
    out = tmp_path / "new" / "layout.gpkg"
    assert write_layout(cells, units, assignment, out) == [out]
    assert "cell_code" not in units.columns  # the input is not changed
    assert pyogrio.list_layers(out)[:, 0].tolist() == ["cells", "units"]
    back = flags_from_text(read_vector(out, layer="cells"))
    assert back["flags"].tolist() == [[], ["oversize", "gap"]]
    assert read_vector(out, layer="units")["cell_code"].tolist() == ["001", "002"]
    write_layout(cells.iloc[:1], units, assignment, out)  # replaced, not appended to
    assert len(read_vector(out, layer="cells")) == 1


def test_a_layout_in_another_format_is_two_files(tmp_path: Path) -> None:
    cells, units, assignment = _layout()
    out = tmp_path / "layout.geojson"
    written = write_layout(cells, units, assignment, out)
    assert written == [out, tmp_path / "layout_units.geojson"]
    assert read_vector(written[1])["cell_code"].tolist() == ["001", "002"]


def test_missing_flags_are_no_flag() -> None:
    cells = gpd.GeoDataFrame(
        {"flags": ["oversize", None, float("nan"), "", ["gap"]]}, geometry=[Point(0, 0)] * 5
    )
    assert flags_from_text(cells)["flags"].tolist() == [["oversize"], [], [], [], ["gap"]]
