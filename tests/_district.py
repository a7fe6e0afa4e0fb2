"""The files of a made-up district around the real Lujiazui buildings, for the onboarding tests.

What a district office would hand over for issue 16's "your own district in five
steps", written from the real OpenStreetMap buildings of Lujiazui / the Bund
(``../shared/data/real/shanghai_lujiazui``, 1,450 footprints, 696 with heights):
the boundaries (district, two streets split at the river, four communities in
each), the buildings file with an address column, a household register by
address, a workers' roster in the Excel template, party branches. Shared by
``test_onboarding.py`` (the command line) and ``test_onboarding_browser.py``
(the web import page); importable as ``_district`` (``tests/`` is on ``sys.path``
under pytest).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
from conftest import SHARED_DATA
from shapely.geometry import box

LUJIAZUI = SHARED_DATA / "real" / "shanghai_lujiazui" / "shanghai_buildings.geojson"
DISTRICT = "310115"
STREETS = {"310115001": "外滩街道", "310115002": "陆家嘴街道"}
RIVER = 121.497
"""Longitude of the made-up line between the two streets (the Huangpu, roughly)."""
MIN, MAX = 300, 500


def write_geojson(rows: list[dict[str, object]], path: Path) -> Path:
    """``rows`` (each with a ``geometry``) as a GeoJSON file in EPSG:4326."""
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path, driver="GeoJSON")
    return path


def boundaries(folder: Path) -> tuple[Path, Path, Path]:
    """A made-up district around the buildings, two streets split at the river, four
    communities in each street (quarters), as a district office's GeoJSON files."""
    west, south, east, north = gpd.read_file(LUJIAZUI).total_bounds
    pad = 0.002
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    mid_y = (south + north) / 2
    district = write_geojson(
        [{"code": DISTRICT, "name": "浦江区", "geometry": box(west, south, east, north)}],
        folder / "区.geojson",
    )
    spans = dict(zip(STREETS, ((west, RIVER), (RIVER, east)), strict=True))
    streets = write_geojson(
        [
            {
                "code": code,
                "name": name,
                "geometry": box(spans[code][0], south, spans[code][1], north),
            }
            for code, name in STREETS.items()
        ],
        folder / "街道.geojson",
    )
    rows: list[dict[str, object]] = []
    for street, (x0, x1) in spans.items():
        mid_x = (x0 + x1) / 2
        quarters = [(x0, mid_y, mid_x, north), (mid_x, mid_y, x1, north),
                    (x0, south, mid_x, mid_y), (mid_x, south, x1, mid_y)]  # fmt: skip
        for k, quarter in enumerate(quarters, start=1):
            rows.append(
                {
                    "社区编码": f"{street}{k:03d}",
                    "社区名称": f"第{k}社区",
                    "geometry": box(*quarter),
                }
            )
    communities = write_geojson(rows, folder / "社区.geojson")
    return district, streets, communities


def buildings_frame() -> gpd.GeoDataFrame:
    """The OpenStreetMap buildings as an office would hand them over: their own columns,
    plus one 地址 column joined from OSM's street and house number where it has both."""
    frame = gpd.read_file(LUJIAZUI)
    both = frame["addr_street"].notna() & frame["addr_housenumber"].notna()
    frame["地址"] = None
    frame.loc[both, "地址"] = (
        frame.loc[both, "addr_street"] + frame.loc[both, "addr_housenumber"] + "号"
    )
    return frame


def buildings_file(folder: Path) -> tuple[Path, pd.DataFrame]:
    """:func:`buildings_frame` written as ``楼栋.geojson``; the path and the frame."""
    frame = buildings_frame()
    path = folder / "楼栋.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path, frame


def register_frame(buildings: pd.DataFrame) -> pd.DataFrame:
    """A household register (实有房屋: 编号, 房屋地址, 户数) for the plain addresses only one
    building has (at most eight; 40, 50, 60... households)."""
    addresses = buildings["地址"].dropna()
    plain = addresses[addresses.str.fullmatch(r"\D+\d+号") & ~addresses.duplicated(keep=False)]
    chosen = sorted(plain)[:8]
    return pd.DataFrame(
        {"编号": [f"H{i:03d}" for i in range(len(chosen))], "房屋地址": chosen,
         "户数": [40 + 10 * i for i in range(len(chosen))]}
    )  # fmt: skip


def household_register(folder: Path, buildings: pd.DataFrame) -> tuple[Path, list[str]]:
    """:func:`register_frame` as a GBK CSV ``实有房屋.csv``; the path and its addresses."""
    frame = register_frame(buildings)
    path = folder / "实有房屋.csv"
    frame.to_csv(path, index=False, encoding="gbk")
    return path, frame["房屋地址"].tolist()


def leader_buildings(buildings: pd.DataFrame, n: int = 5) -> list[str]:
    """The ids of ``n`` buildings with an address, to have a 楼栋长 each."""
    return buildings.loc[buildings["地址"].notna(), "id"].astype(str).head(n).tolist()


def fill_workers_template(
    template: Path,
    path: Path,
    *,
    codes: Sequence[str],
    leaders: Sequence[str],
    extra: Sequence[dict[str, object]] = (),
) -> Path:
    """The workers' Excel ``template`` filled in and saved as ``path``: its example row
    removed, a 专职网格员 for each cell of ``codes`` (W0000...), a 楼栋长 for each building
    id of ``leaders`` (L000...), then the ``extra`` rows (by Chinese header)."""
    book = openpyxl.load_workbook(template)
    sheet = book["导入"]
    header = [c.value for c in sheet[1]]
    sheet.delete_rows(2)  # the example row
    rows: list[dict[str, object]] = []
    for i, code in enumerate(codes):
        rows.append({"编号": f"W{i:04d}", "姓名": f"网格员{i}", "电话": f"1380000{i:04d}",
                     "角色": "专职网格员", "网格": code})  # fmt: skip
    for k, building in enumerate(leaders):
        rows.append({"编号": f"L{k:03d}", "姓名": f"楼栋长{k}", "角色": "楼栋长", "楼栋": building})
    for given in [*rows, *extra]:
        row = dict.fromkeys(header) | given
        sheet.append([row[h] for h in header])
    book.save(path)
    return path


def branches_frame(buildings: pd.DataFrame, codes: Sequence[str]) -> pd.DataFrame:
    """Party branches: a 党委 for each street (at a made-up seat), a 党总支 for each community
    with cells, covering them (网格, joined by 、), its parent the street's 党委."""
    west, south, east, north = buildings.total_bounds
    seats = {
        "310115001": ((west + RIVER) / 2, (south + north) / 2),
        "310115002": ((RIVER + east) / 2, (south + north) / 2),
    }  # street offices
    return pd.DataFrame(
        [{"编号": f"P{s}", "名称": f"{name}党工委", "类型": "党委", "上级组织": None,
          "经度": seats[s][0], "纬度": seats[s][1], "网格": None}
         for s, name in STREETS.items()]
        + [{"编号": f"P{c}", "名称": f"第{c[-1]}社区党总支", "类型": "党总支",
            "上级组织": f"P{c[:9]}", "网格": "、".join(x for x in codes if x.startswith(c))}
           for c in sorted({x[:12] for x in codes})]
    )  # fmt: skip
