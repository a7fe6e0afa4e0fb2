"""What the demo knows about each seed district: population figures and official divisions.

The figures and their sources are listed in :mod:`gridgis.demo`. Everything
here is data and reading; the generator modules use it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pandas as pd

from gridgis.data import path as data_path
from gridgis.errors import NotFoundError

__all__ = [
    "CASES_PER_RESIDENT",
    "PROFILES",
    "DistrictProfile",
    "divisions",
    "profile",
]


@dataclass(frozen=True)
class DistrictProfile:
    """The figures the demo generator builds one district to.

    Attributes
    ----------
    code, name, city:
        The district's official code and name, and its prefecture city.
    residents:
        Resident population (常住人口) the demo reproduces at scale 1.
    household_size:
        Residents per household.
    centre:
        ``(lon, lat)`` (WGS84) of the main urban centre, where the dense
        core is drawn.
    village_residents:
        Typical residents of one village (村), before random variation.
    core_density:
        Residents per km² of a community in the urban core (街道 社区).
    town_density:
        Residents per km² of a community (社区) of a town (镇/乡).
    river, railway:
        Names of the river and the railway drawn across the district.
    hamlet_suffixes:
        Endings of natural-village names (自然村): 厝 in Fujian, 屯 in the north-east.
    surnames:
        Surnames frequent in the region, most common first (boosted in generated names).
    source:
        Where the population figure comes from.
    """

    code: str
    name: str
    city: str
    residents: int
    household_size: float
    centre: tuple[float, float]
    village_residents: int
    core_density: float
    town_density: float
    river: str
    railway: str
    hamlet_suffixes: tuple[str, ...]
    surnames: tuple[str, ...]
    source: str

    @property
    def households(self) -> int:
        """Households the demo reproduces at scale 1 (residents / household size)."""
        return round(self.residents / self.household_size)

    @property
    def cases(self) -> int:
        """Cases per year at scale 1."""
        return round(self.residents * CASES_PER_RESIDENT)


CASES_PER_RESIDENT = 100_000 / 674_000
"""Cases per resident and year: about 100,000 a year in 荔城区 (674,000 residents).

The district figures quoted in DOMAIN.md (fire safety 60,638 and commerce /
food / drug 48,208 cases in a year, besides the smaller categories) are of
this order for a district of a few hundred thousand residents.
"""

PROFILES: dict[str, DistrictProfile] = {
    p.code: p
    for p in (
        DistrictProfile(
            code="350304",
            name="荔城区",
            city="莆田市",
            residents=674_000,
            household_size=2.75,
            centre=(119.010, 25.432),
            village_residents=2_600,
            core_density=20_000.0,
            town_density=12_000.0,
            river="木兰溪",
            railway="福厦铁路",
            hamlet_suffixes=("厝", "厝", "厝", "埔", "墩", "头", "边", "洋"),
            surnames=("林", "陈", "黄", "郑", "吴", "李", "王", "张", "刘", "蔡", "翁", "方"),
            source="常住人口 67.4万 (荔城区人民政府, as of 2025-02, quoted by hendeli.cn)",
        ),
        DistrictProfile(
            code="211403",
            name="龙港区",
            city="葫芦岛市",
            residents=233_000,
            household_size=2.35,
            centre=(120.836, 40.711),
            village_residents=1_600,
            core_density=18_000.0,
            town_density=9_000.0,
            river="连山河",
            railway="京哈铁路",
            hamlet_suffixes=("屯", "屯", "沟", "营", "台", "家窝铺"),
            surnames=("王", "李", "张", "刘", "杨", "赵", "孙", "于", "高", "郭", "马", "徐"),
            source="about 233,000 residents (issue 4: the figure of the field reports)",
        ),
        DistrictProfile(
            code="430111",
            name="雨花区",
            city="长沙市",
            residents=1_264_895,
            household_size=2.55,
            centre=(113.010, 28.160),
            village_residents=2_500,
            core_density=22_000.0,
            town_density=10_000.0,
            river="浏阳河",
            railway="京广铁路",
            hamlet_suffixes=("冲", "湾", "塘", "坡", "屋场", "岭"),
            surnames=("刘", "李", "陈", "王", "张", "周", "彭", "黄", "罗", "谭", "易", "曾"),
            source="第七次全国人口普查 (2020-11-01): 1,264,895 (雨花区第七次全国人口普查公报)",
        ),
        DistrictProfile(
            code="220402",
            name="龙山区",
            city="辽源市",
            residents=327_079,
            household_size=2.40,
            centre=(125.145, 42.890),
            village_residents=1_300,
            core_density=20_000.0,
            town_density=8_000.0,
            river="东辽河",
            railway="四梅铁路",
            hamlet_suffixes=("屯", "屯", "沟", "岗", "甸子", "家店"),
            surnames=("王", "李", "张", "刘", "赵", "孙", "杨", "于", "高", "马", "姜", "韩"),
            source=(
                "第七次全国人口普查 (2020-11-01): 327,079 "
                "(中国人口普查分县资料—2020, quoted by Wikipedia 龙山区)"
            ),
        ),
    )
}
"""The four seed districts, by code."""


def profile(district: str) -> DistrictProfile:
    """The profile of a seed district.

    Raises
    ------
    NotFoundError
        When the code is not one of the seed districts.
    """
    found = PROFILES.get(str(district))
    if found is None:
        known = ", ".join(f"{p.code} {p.name}" for p in PROFILES.values())
        raise NotFoundError(f"`district` was {district!r} but the demo knows only {known}")
    return found


_RURAL = re.compile(r"村(委会|民委员会)?$")
_SUFFIX = re.compile(r"(居民委员会|居委会|村民委员会|村委会|管理委员会)")


def _street_kind(name: str) -> str:
    if name.endswith("街道") and "特殊" not in name:
        return "subdistrict"
    if name.endswith("镇"):
        return "town"
    if name.endswith("乡"):
        return "township"
    return "zone"


def _community_kind(name: str) -> str:
    if "虚拟" in name:
        return "virtual"
    if "社区" not in name and _RURAL.search(name):
        return "village"
    return "urban"


def short_name(name: str) -> str:
    """A community's name as used in addresses: 文献社区居委会 → 文献社区.

    Examples
    --------
    >>> short_name("曹屯村民委员会"), short_name("步云村委会"), short_name("仙山社区")
    ('曹屯村', '步云村', '仙山社区')
    """
    shortened = _SUFFIX.sub("", name)
    if shortened and not shortened.endswith(("社区", "村")) and "村" in name:
        shortened += "村"
    return shortened or name


def divisions(district: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The official street offices and communities of a district, classified.

    Returns
    -------
    streets:
        ``code``, ``name``, ``kind`` (``subdistrict`` 街道, ``town`` 镇,
        ``township`` 乡, ``zone`` 开发区 and special streets), sorted by code.
    communities:
        ``code``, ``name``, ``street_code``, ``short_name``, ``kind``
        (``urban`` 社区, ``village`` 村, ``virtual`` 虚拟社区 of a development
        zone) and ``db_kind`` (``urban`` or ``rural``, the database's
        ``community.kind``), sorted by code.

    Raises
    ------
    NotFoundError
        When the district has no streets in the bundled list.
    """
    folder = data_path("divisions")
    with open(folder / "streets.csv", encoding="utf-8", newline="") as handle:
        street_rows = [r for r in csv.DictReader(handle) if r["areaCode"] == district]
    with open(folder / "villages.csv", encoding="utf-8", newline="") as handle:
        village_rows = [r for r in csv.DictReader(handle) if r["areaCode"] == district]
    if not street_rows:
        raise NotFoundError(f"district {district!r} has no street offices in the bundled list")
    streets = pd.DataFrame(
        {
            "code": [r["code"] for r in street_rows],
            "name": [r["name"] for r in street_rows],
            "kind": [_street_kind(r["name"]) for r in street_rows],
        },
        dtype=object,
    )
    communities = pd.DataFrame(
        {
            "code": [r["code"] for r in village_rows],
            "name": [r["name"] for r in village_rows],
            "street_code": [r["streetCode"] for r in village_rows],
            "short_name": [short_name(r["name"]) for r in village_rows],
            "kind": [_community_kind(r["name"]) for r in village_rows],
        },
        dtype=object,
    )
    communities["db_kind"] = communities["kind"].map(
        {"urban": "urban", "virtual": "urban", "village": "rural"}
    )
    streets = streets.sort_values("code", ignore_index=True)
    communities = communities.sort_values("code", ignore_index=True)
    return streets, communities
