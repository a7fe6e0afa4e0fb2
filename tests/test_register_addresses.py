"""`gridgis import buildings` of rows with an address and no coordinates (issue 16, point 1)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
import shapely.affinity
from shapely.geometry import Point, box
from sqlalchemy import Engine
from test_register_buildings import EAST, WEST, store_areas
from test_register_export import _stored

from gridgis.registers.buildings import import_buildings


def _known(engine: Engine, tmp_path: Path) -> None:
    """Three buildings with addresses: 梅园路12号 1栋 and 2栋 (west), 花园路3号 (east)."""
    store_areas(engine, [WEST, EAST])
    west = box(121.502, 31.232, 121.5023, 31.2323)
    rows = [
        {"id": "A1", "address": "梅园路12号1栋", "geometry": west},
        {
            "id": "A2",
            "address": "梅园路12号2栋",
            "geometry": shapely.affinity.translate(west, 0.001),
        },
        {"id": "A3", "address": "花园路3号", "geometry": Point(121.515, 31.235)},
    ]
    path = tmp_path / "known.geojson"
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    assert import_buildings(engine, path, actor="t").counts["imported"] == 3


def test_rows_with_only_an_address_are_placed_flagged_or_rejected(
    engine: Engine, tmp_path: Path
) -> None:
    _known(engine, tmp_path)
    path = tmp_path / "地址.csv"
    path.write_text(
        "编号,地址,户数\n"
        "N1,梅园路12号3栋,60\n"  # row 2: a new 栋 at a known number
        "N2,花园路3号,10\n"  # row 3: the address of A3
        "N3,无名路99号,10\n"  # row 4: a road no building is on
        "N4,梅园路13号,10\n"  # row 5: a number the road does not have
        "N5,,10\n"  # row 6: neither coordinates nor address
        "A1,,\n",  # row 7: a stored building, no coordinates: it keeps its footprint
        encoding="utf-8",
    )
    report = import_buildings(engine, path, actor="t")
    rows = report.rows.set_index("row")
    assert report.counts == {
        "read": 6, "imported": 0, "updated": 0, "unchanged": 1, "flagged": 2, "rejected": 3,
    }  # fmt: skip
    assert rows.loc[2, "flags"] == "geocoded"
    assert "at the house number only" in rows.loc[2, "reason"]
    assert "A1 梅园路12号1栋, A2 梅园路12号2栋" in rows.loc[2, "reason"]
    assert rows.loc[3, "flags"] == "geocoded"
    assert "at building A3 花园路3号" in rows.loc[3, "reason"]
    assert rows.loc[4, "reason"].startswith("address '无名路99号' cannot be placed: no road")
    assert "no such number: 梅园路 has no 13号" in rows.loc[5, "reason"]
    assert rows.loc[6, "reason"] == "no coordinates and no address"
    stored = _stored(engine)
    middle = shapely.centroid(shapely.multipoints(stored.loc[["A1", "A2"], "location"].tolist()))
    assert stored.loc["N1", "location"].equals_exact(middle, tolerance=1e-9)
    assert stored.loc["N1", "community_code"] == "310115001001"
    assert stored.loc["N2", "location"].equals(stored.loc["A3", "location"])
    assert stored.loc["N2", "community_code"] == "310115001002"
    assert stored.loc["A1", "footprint"] is not None
    # A second import changes nothing: the placed rows are now stored buildings.
    again = import_buildings(engine, path, actor="t")
    assert again.counts["unchanged"] == 3 and again.counts["rejected"] == 3


def test_an_excel_register_of_addresses_is_placed(engine: Engine, tmp_path: Path) -> None:
    _known(engine, tmp_path)
    path = tmp_path / "楼栋.xlsx"
    pd.DataFrame({"楼栋编号": ["X1"], "楼栋地址": ["梅园路12号2幢"], "层数": [6]}).to_excel(
        path, index=False
    )
    report = import_buildings(engine, path, actor="t")
    assert report.counts["flagged"] == 1, report.rows
    stored = _stored(engine)
    assert stored.loc["X1", "location"].equals(stored.loc["A2", "location"])
