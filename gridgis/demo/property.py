"""The demo's compounds and how each is managed (红心物业, issue 19).

The demo's urban compounds (the 小区 of its residential buildings; a village's hamlets
are no 小区 and stay out of the register) are written to :data:`COMPOUNDS_FILE` with the
headers of the template and loaded by ``gridgis import compounds``, at plausible
proportions (:data:`OLD_SHARES`, :data:`NEW_SHARES`): the lane houses and walk-ups are old
compounds (老旧小区, built before 2001), most of them under 红心物业 in one of its four
modes (:data:`RED_MODE_SHARES`), some with a company, a few with none (the gap the
practice closes); the newer compounds mostly have a company. A 红心物业 compound is led by
its community's 党组织; one taken on by a 驻区单位 names a unit of its street (else the
community covers it: 社区兜底). Deterministic in the seed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgis.db.models import MANAGEMENT_NAMES_ZH, RED_MODE_NAMES_ZH
from gridgis.demo.names import person_names, phone_numbers

__all__ = [
    "COMPOUNDS_FILE",
    "NEW_SHARES",
    "OLD_SHARES",
    "OLD_TYPES",
    "RED_MODE_SHARES",
    "build_compounds",
    "write_compounds",
]

COMPOUNDS_FILE = "小区物业.xlsx"
"""The demo's register of compounds, as a district office fills in the template."""

OLD_TYPES: dict[str, tuple[int, int]] = {"lane": (1965, 1990), "walkup": (1980, 2000)}
"""The building types of old compounds and the years they were built in."""

NEW_YEARS = (2003, 2020)
"""The years the other (newer) compounds were built in."""

OLD_SHARES: dict[str, float] = {"red": 0.72, "company": 0.18, "none": 0.10}
"""How the old compounds are managed."""

NEW_SHARES: dict[str, float] = {"company": 0.85, "red": 0.10, "none": 0.05}
"""How the newer compounds are managed."""

RED_MODE_SHARES: dict[str, float] = {"service": 0.35, "autonomy": 0.30, "unit": 0.20,
                                     "community": 0.15}  # fmt: skip
"""The 红心物业 modes of the old compounds (a newer compound under 红心物业: 物业服务)."""

_COMPANIES = ("{place}物业服务有限公司", "{place}物业管理有限公司", "万家物业{place}服务中心")
_NOTES = {"none": "无物业，待引入红心物业", "community": "社区代管，党员志愿者值守"}


def _draw(rng: np.random.Generator, shares: dict[str, float]) -> str:
    return str(rng.choice(list(shares), p=np.array(list(shares.values())) / sum(shares.values())))


def build_compounds(demo: Any, *, units: pd.DataFrame, organisations: pd.DataFrame,
                    seed: int) -> pd.DataFrame:  # fmt: skip
    """The register of the demo's urban compounds (its Chinese headers).

    ``units``: the demo's 驻区单位 register (its 编号 and 所在社区); ``organisations``: the
    party tree's (``external_id``, ``kind``, ``community_code``).
    """
    rng = np.random.default_rng([int(seed), int(demo.code), 25])
    homes = demo.buildings[
        (demo.buildings["households"] > 0) & (demo.buildings["type"] != "village")
    ]
    kinds = (
        homes.groupby(["community_code", "compound"])["type"]
        .agg(lambda s: s.mode().iloc[0])
        .sort_index()
    )
    leading = organisations[organisations["kind"].isin(["committee", "general_branch"])]
    led = dict(zip(leading["community_code"], leading["external_id"], strict=True))
    unit_ids = units["编号"].astype(str).to_numpy() if len(units) else np.array([], dtype=object)
    unit_streets = (
        units["所在社区"].astype(str).str[:9].to_numpy()
        if len(units)
        else np.array([], dtype=object)
    )
    people = person_names(rng, len(kinds))
    phones = phone_numbers(rng, len(kinds))
    end = demo.period[1].date() if hasattr(demo.period[1], "date") else dt.date.today()
    rows: list[dict[str, Any]] = []
    for i, ((community, compound), kind) in enumerate(kinds.items()):  # a few hundred compounds
        old = kind in OLD_TYPES
        low, high = OLD_TYPES.get(kind, NEW_YEARS)
        built = int(rng.integers(low, high + 1))
        management = _draw(rng, OLD_SHARES if old else NEW_SHARES)
        mode = (_draw(rng, RED_MODE_SHARES) if old else "service") if management == "red" else None
        unit = None
        if mode == "unit":
            mine = unit_ids[unit_streets == community[:9]]
            if len(mine):
                unit = str(mine[int(rng.integers(len(mine)))])
            else:
                mode = "community"
        place = str(compound)[:2]
        company = _COMPANIES[int(rng.integers(len(_COMPANIES)))].format(place=place)
        since = end - dt.timedelta(days=int(rng.integers(200, 2500)))
        rows.append({
            "社区": community, "小区": compound, "老旧小区": "是" if old else "否",
            "建成年份": built, "管理方式": MANAGEMENT_NAMES_ZH[management],
            "红心物业模式": RED_MODE_NAMES_ZH[mode] if mode else None,
            "物业公司": company if management == "company" else None,
            "联系人": people[i] if management != "none" else None,
            "联系电话": phones[i] if management != "none" else None,
            "包保单位": unit,
            "牵头党组织": led.get(community) if management == "red" else None,
            "起始日期": since.isoformat() if management != "none" else None,
            "备注": _NOTES.get(mode or management),
        })  # fmt: skip
    return pd.DataFrame(rows)


def write_compounds(compounds: pd.DataFrame, folder: str | Path) -> Path:
    """Write the register of compounds as an Excel file in ``folder``."""
    path = Path(folder) / COMPOUNDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    compounds.to_excel(path, index=False, sheet_name="导入")
    return path
