"""The demo's 驻区单位, 党建联合体, needs list and 三零 cases (issue 19, points 5 and 6).

At the seeds' proportions: 辽源 joins its 驻区单位 in 62 联合体 over 521 cells, so the demo
has one alliance per ``521 / 62`` cells (at least one per street), each of a street or,
one in four, of one community, with 3 to 8 units; the first unit or two of each seat
their party leader on the 大党委 (兼职委员). Units stand at buildings of the non-residential
compounds of their street (schools, markets, shops), are linked to one or two of its
communities, and are written to :data:`RESIDENT_UNITS_FILE`, loaded by ``gridgis import
resident-units``. Each community posts a few needs (需求, 资源, 项目); about two in three
are claimed by a unit of its street and half of those are done.

The 三零 figures come from the demo's cases: the categories 信访 (``petition``), 安全事故
(``safety_accident``) and 治安案件 (``public_security_case``) are added to the demo's
database and mapped (:func:`gridgis.party.sanling.default_categories`), and a share of
the generated cases becomes one of them — a petition from a 社情民意 or 矛盾纠纷 report, a
safety accident from a 消防安全 one, a public-security case from a 治安隐患 one — keeping
their place, time and lifecycle, so the demo's count of cases is unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, insert, select

from gridgis.db.models import CaseCategory
from gridgis.demo.names import person_names, phone_numbers
from gridgis.errors import ValidationError

__all__ = [
    "ALLIANCE_CELLS",
    "RESIDENT_UNITS_FILE",
    "SANLING_DEMO_CATEGORIES",
    "PartyDemo",
    "add_sanling_categories",
    "build_party",
    "load_party",
    "sanling_cases",
    "write_resident_units",
]

RESIDENT_UNITS_FILE = "驻区单位.xlsx"
"""The demo's register of 驻区单位, as a district office fills in the template."""

ALLIANCE_CELLS = 521 / 62
"""Cells per 联合体 (辽源: 62 alliances, 521 cells)."""

SANLING_DEMO_CATEGORIES: tuple[tuple[str, str, str, int], ...] = (
    ("petition", "信访", "Petitions (letters and visits)", 168),
    ("safety_accident", "安全事故", "Safety accidents", 72),
    ("public_security_case", "治安案件", "Public-security cases", 48),
)
"""The categories the demo adds for the 三零 figures: code, Chinese and English names,
time limit in hours."""

_RELABEL: dict[str, tuple[tuple[str, ...], float, str]] = {
    "petition": (("public_opinion", "dispute"), 0.2, "居民到街道上访，反映{0}问题"),
    "safety_accident": (("fire_safety",), 0.012, "{0}发生安全事故，已处置"),
    "public_security_case": (("public_security",), 0.3, "{0}发生治安案件，已报警"),
}
"""Per added category: the generated categories it is drawn from, the share of their
cases that become it, and its description."""

_ISSUES = ("物业收费", "噪音扰民", "拆迁补偿", "停车难", "漏水", "邻里纠纷")
_UNIT_WORDS: tuple[tuple[str, str, str], ...] = (
    ("school", "第{n}中学", "党总支"),
    ("school", "实验小学", "党支部"),
    ("hospital", "社区卫生服务中心", "党支部"),
    ("enterprise", "供电所", "党支部"),
    ("enterprise", "农商银行支行", "党支部"),
    ("enterprise", "建设有限公司", "党支部"),
    ("agency", "税务分局", "党支部"),
    ("agency", "派出所", "党支部"),
    ("institution", "自来水公司营业所", "党支部"),
    ("social", "志愿者协会", "党支部"),
)
_NEEDS: tuple[tuple[str, str, str], ...] = (
    ("need", "老旧小区加装路灯", "小区主干道夜间照明不足，需协调安装路灯"),
    ("need", "独居老人结对帮扶", "为辖区独居老人提供定期探访和就医陪同"),
    ("need", "背街小巷环境整治", "清理卫生死角、规范停车"),
    ("resource", "党员活动室共享", "社区活动室周末向驻区单位开放"),
    ("resource", "法律咨询志愿服务", "每月一次法律咨询进社区"),
    ("project", "四点半课堂", "为双职工家庭子女提供课后托管"),
    ("project", "红心物业试点", "无物业老旧小区引入党建引领的物业服务"),
)


@dataclass(frozen=True)
class PartyDemo:
    """What :func:`build_party` makes.

    Attributes
    ----------
    alliances:
        ``name``, ``street_code``, ``community_code`` (empty for a street's).
    units:
        The register of :data:`RESIDENT_UNITS_FILE`: its Chinese headers.
    needs:
        ``community``, ``kind``, ``title``, ``description``, ``due_on``, ``unit`` (the
        claiming unit's id, or ``None``), ``done`` (and ``note``).
    """

    alliances: pd.DataFrame
    units: pd.DataFrame
    needs: list[dict[str, Any]]


def sanling_cases(cases: pd.DataFrame, *, seed: int, district: str) -> pd.DataFrame:
    """``cases`` with a share in the 三零 categories (:data:`SANLING_DEMO_CATEGORIES`),
    drawn from a stream of its own (the other cases, and the other streams of the demo,
    stay as they were); the added categories have their sources' time limits, so the
    deadlines hold."""
    rng = np.random.default_rng([int(seed), int(district), 19])
    out = cases.copy()
    category = out["category_code"].to_numpy(dtype=object).copy()
    description = out["description"].to_numpy(dtype=object).copy()
    address = out["address"].to_numpy(dtype=object)
    draws = rng.random(len(out))
    for code, (sources, share, words) in _RELABEL.items():
        chosen = np.isin(cases["category_code"].to_numpy(dtype=object), sources) & (draws < share)
        category[chosen] = code
        for i in np.flatnonzero(chosen).tolist():  # a few dozen descriptions, worded one by one
            place = address[i] if isinstance(address[i], str) and address[i] else "辖区"
            what = _ISSUES[i % len(_ISSUES)] if code == "petition" else place
            description[i] = words.format(what)
    out["category_code"] = category
    out["description"] = description
    return out


def _unique(taken: set[str], street: str, community: str, word: str) -> str:
    """A unit's name: the street's short name and the word, else the community's (社区 and
    村委会 dropped), else numbered; added to ``taken``."""
    place = community.removesuffix("居委会").removesuffix("委会").removesuffix("社区")
    for name in (f"{street}{word}", f"{place}{word}"):
        if name not in taken:
            taken.add(name)
            return name
    n = 2
    while f"{street}{word}{n}部" in taken:
        n += 1
    taken.add(f"{street}{word}{n}部")
    return f"{street}{word}{n}部"


def build_party(demo: Any, *, seed: int) -> PartyDemo:
    """The demo district's 联合体, 驻区单位, needs and relabelled cases (deterministic in
    ``seed``)."""
    rng = np.random.default_rng([seed, 19, 5])
    streets = demo.streets.sort_values("code")
    communities = demo.communities.sort_values("code")
    cells_per_street = demo.cells["community_code"].str[:9].value_counts()
    compounds = demo.compounds
    busy = compounds.loc[compounds["use"].isin(["school", "market", "commercial"]), "compound"]
    buildings = demo.buildings.copy()
    points = shapely.point_on_surface(np.asarray(buildings.geometry.to_numpy(), dtype=object))
    buildings["lon"], buildings["lat"] = shapely.get_x(points), shapely.get_y(points)
    alliances: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    taken: set[str] = set()
    names = dict(zip(communities["code"], communities["name"], strict=True))
    for street in streets.itertuples():  # a few streets
        mine = communities[communities["code"].str.startswith(street.code)]
        if mine.empty:
            continue
        count = max(1, round(int(cells_per_street.get(street.code, 0)) / ALLIANCE_CELLS))
        homes = buildings[buildings["community_code"].str.startswith(street.code)]
        preferred = homes[homes["compound"].isin(set(busy))]
        pool = preferred if len(preferred) >= 8 else homes
        short = str(street.name).removesuffix("街道").removesuffix("镇").removesuffix("乡")
        for a in range(count):
            community = None
            if rng.random() < 0.25:
                community = str(mine["code"].iloc[int(rng.integers(len(mine)))])
            name = f"{short}{'社区' if community else '街道'}党建联合体{a + 1}"
            alliances.append({"name": name, "street_code": street.code,
                              "community_code": community})  # fmt: skip
            size = int(rng.integers(3, 9))
            spots = pool.iloc[rng.choice(len(pool), size=min(size, len(pool)), replace=False)]
            people = person_names(rng, 2 * len(spots))
            phones = phone_numbers(rng, len(spots))
            for j, spot in enumerate(spots.itertuples()):
                kind, word, org = _UNIT_WORDS[int(rng.integers(len(_UNIT_WORDS)))]
                title = _unique(taken, short, str(names.get(spot.community_code, "")),
                                word.format(n=len(units) % 9 + 1))  # fmt: skip
                linked = [str(spot.community_code)]
                if rng.random() < 0.4:
                    linked.append(str(mine["code"].iloc[int(rng.integers(len(mine)))]))
                units.append({
                    "编号": f"DW{len(units) + 1:04d}", "单位名称": title,
                    "单位类型": {"enterprise": "企业", "school": "学校", "agency": "机关",
                             "institution": "事业单位", "hospital": "医院",
                             "social": "社会组织"}[kind],
                    "经度": round(float(spot.lon), 7), "纬度": round(float(spot.lat), 7),
                    "地址": spot.address, "所在社区": spot.community_code,
                    "联系人": people[2 * j], "联系电话": phones[j],
                    "党组织": f"{title}{org}", "党组织书记": people[2 * j + 1],
                    "结对社区": "、".join(sorted(set(linked))), "联合体": name,
                    "兼职委员": "是" if j < 2 else "否",
                })  # fmt: skip
    frame = pd.DataFrame(units)
    end = demo.period[1].date() if hasattr(demo.period[1], "date") else dt.date.today()
    needs: list[dict[str, Any]] = []
    for community in communities.itertuples():  # a few needs per community
        street_units = [u for u in units if str(u["所在社区"]).startswith(community.code[:9])]
        for _ in range(int(rng.integers(1, 4))):
            kind, title, text = _NEEDS[int(rng.integers(len(_NEEDS)))]
            draw = rng.random()
            unit = None
            if street_units and draw < 0.66:
                unit = street_units[int(rng.integers(len(street_units)))]["编号"]
            needs.append({
                "community": community.code, "kind": kind, "title": title, "description": text,
                "due_on": end + dt.timedelta(days=int(rng.integers(15, 120))),
                "unit": unit, "done": unit is not None and draw < 0.33,
                "note": "已完成并经社区验收" if draw < 0.33 else None,
            })  # fmt: skip
    return PartyDemo(pd.DataFrame(alliances), frame, needs)


def write_resident_units(units: pd.DataFrame, folder: str | Path) -> Path:
    """Write the register of 驻区单位 as an Excel file in ``folder``."""
    path = Path(folder) / RESIDENT_UNITS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    units.to_excel(path, index=False, sheet_name="导入")
    return path


def add_sanling_categories(conn: Connection) -> None:
    """Add the 三零 categories the demo's cases use (those missing) and map them."""
    from gridgis.party.sanling import default_categories, set_categories

    known = set(conn.execute(select(CaseCategory.code)).scalars())
    missing = [
        {"code": c, "name_zh": zh, "name_en": en, "deadline_hours": hours}
        for c, zh, en, hours in SANLING_DEMO_CATEGORIES
        if c not in known
    ]
    if missing:
        conn.execute(insert(CaseCategory), missing)
    set_categories(conn, default_categories(conn), actor="system")


def load_party(conn: Connection, party: PartyDemo, path: Path, *, actor: str) -> dict[str, int]:
    """Store the demo's alliances, import its units file (``gridgis import resident-units``)
    and post, claim and finish its needs, on ``conn``. Returns the counts stored."""
    from gridgis.party.alliances import add_alliance
    from gridgis.party.needs import claim_need, finish_need, post_need
    from gridgis.registers.resident_units import import_resident_units

    for row in party.alliances.to_dict("records"):
        add_alliance(
            conn,
            str(row["name"]),
            street=str(row["street_code"]),
            community=row["community_code"] if isinstance(row["community_code"], str) else None,
            actor=actor,
        )
    report = import_resident_units(conn, path, actor=actor)
    for i, need in enumerate(party.needs):
        posted = post_need(
            conn, community=need["community"], title=need["title"], kind=need["kind"],
            description=need["description"], due_on=need["due_on"],
            external_id=f"demo-need-{i + 1}", actor=actor,
        )  # fmt: skip
        if need["unit"] is not None:
            claim_need(conn, posted["id"], need["unit"], actor=actor)
            if need["done"]:
                finish_need(conn, posted["id"], note=need["note"], actor=actor)
    counts = report.counts
    if counts["imported"] != counts["read"]:
        raise ValidationError(
            f"the demo's file {path.name} did not import cleanly: {counts}; nothing was loaded"
        )
    return {"alliances": len(party.alliances), "units": counts["imported"],
            "needs": len(party.needs)}  # fmt: skip
