"""A street office imports only within its street: `street=` of the register importers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import box
from sqlalchemy import Engine, text

from gridgis.boundaries import prepare_boundaries
from gridgis.db.load import import_boundaries
from gridgis.errors import InputError
from gridgis.registers.buildings import import_buildings
from gridgis.registers.households import import_households

# Two streets of one district near Lujiazui, one community each (WGS84).
WEST = box(121.50, 31.23, 121.51, 31.24)
EAST = box(121.51, 31.23, 121.52, 31.24)
OWN, OTHER = "310115001", "310115002"


def store_two_streets(engine: Engine) -> None:
    """District 310115 with streets 310115001 (west) and 310115002 (east), a community each."""
    outline = shapely.union_all([WEST, EAST])
    levels = {
        "district": [{"code": "310115", "name": "浦东新区", "geometry": outline}],
        "street": [
            {"code": OWN, "name": "陆家嘴街道", "geometry": WEST},
            {"code": OTHER, "name": "潍坊新村街道", "geometry": EAST},
        ],
        "community": [
            {"code": f"{OWN}001", "name": "西社区", "geometry": WEST},
            {"code": f"{OTHER}001", "name": "东社区", "geometry": EAST},
        ],
    }
    for level, rows in levels.items():
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        import_boundaries(engine, prepare_boundaries(frame, level=level), level=level, actor="t")


def _write(path: Path) -> Path:
    west, east = box(121.502, 31.232, 121.5023, 31.2323), box(121.512, 31.232, 121.5123, 31.2323)
    rows = [
        {"编号": "W1", "地址": "银城路1号", "户数": 10, "geometry": west},
        {"编号": "E1", "地址": "东方路9号", "户数": 20, "geometry": east},
    ]
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    return path


def _stored(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, community_code, households FROM building"))
        return {r[0]: (r[1], r[2]) for r in rows}


def test_buildings_outside_the_street_are_rejected(engine: Engine, tmp_path: Path) -> None:
    store_two_streets(engine)
    path = _write(tmp_path / "楼栋.geojson")
    report = import_buildings(engine, path, street=OWN, actor="street-office")
    rows = report.rows.set_index("id")
    assert rows.loc["W1", "outcome"] == "imported"
    assert rows.loc["E1", "outcome"] == "rejected"
    assert rows.loc["E1", "reason"] == (
        f"the building lies in community {OTHER}001, outside street {OWN}"
    )
    assert _stored(engine) == {"W1": (f"{OWN}001", 10)}


def test_a_stored_building_of_another_street_is_not_taken_over(
    engine: Engine, tmp_path: Path
) -> None:
    store_two_streets(engine)
    import_buildings(engine, _write(tmp_path / "all.geojson"), actor="admin")
    # The same id E1, moved into the own street by the street office's file.
    moved = [{"编号": "E1", "户数": 5, "geometry": box(121.503, 31.233, 121.5033, 31.2333)}]
    path = tmp_path / "moved.geojson"
    gpd.GeoDataFrame(moved, geometry="geometry", crs="EPSG:4326").to_file(path)
    report = import_buildings(engine, path, street=OWN, actor="street-office")
    assert report.rows.loc[0, "outcome"] == "rejected"
    assert report.rows.loc[0, "reason"] == (
        f"id 'E1' is a building of community {OTHER}001, outside street {OWN}"
    )
    assert _stored(engine)["E1"] == (f"{OTHER}001", 20)


def test_households_of_buildings_outside_the_street_are_rejected(
    engine: Engine, tmp_path: Path
) -> None:
    store_two_streets(engine)
    import_buildings(engine, _write(tmp_path / "all.geojson"), actor="admin")
    register = tmp_path / "实有房屋.csv"
    register.write_text("地址,户数\n银城路1号,30\n东方路9号,40\n", encoding="utf-8")
    report = import_households(engine, register, street=OWN, actor="street-office")
    rows = report.rows.set_index("row")
    assert rows.loc[2, "outcome"] == "updated"
    assert rows.loc[3, "outcome"] == "rejected"
    assert rows.loc[3, "reason"] == (
        f"address '东方路9号' is building E1 of community {OTHER}001, outside street {OWN}"
    )
    assert _stored(engine) == {"W1": (f"{OWN}001", 30), "E1": (f"{OTHER}001", 20)}


def test_a_bad_street_is_refused(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"`street` was '3101' but is expected to be a 9-digit"):
        import_buildings(engine, _write(tmp_path / "b.geojson"), street="3101", actor="t")
