"""Party members of a demo district and their activity, as a district office's files.

* How many: 龙港区 reports 8,902 members for its 233,000 residents; a demo
  district has the same share of its households (:data:`MEMBERS_PER_HOUSEHOLD`),
  spread over the party branches by their member counts.
* Who: members of a branch live in buildings of the branch's community (more
  in buildings with more households); kinds mixed (:data:`KIND_SHARES`: 直管,
  在职, 流动, 离退休), ages realistic (retired members born 1930–1966, so some
  80 and over; the others 1966–2004), a little over half men; most 在职党员 have
  reported (报到) to their community; a few households are 党员中心户. No ID
  numbers: made-up ones could be someone's.
* Activity: about three members in ten have one to three in the demo's year: volunteer
  hours and meetings attended.

:func:`write_members` writes both files under the headers of ``gridgis template
members`` and ``gridgis template activities``, loaded by
:func:`gridgis.registers.members.import_members` (after the branches) and
:func:`gridgis.registers.activities.import_activities`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from gridgis.demo import names
from gridgis.demo.generate import DemoDistrict
from gridgis.demo.profiles import profile
from gridgis.registers.templates import template_columns

__all__ = [
    "ACTIVITIES_FILE",
    "KIND_SHARES",
    "MEMBERS_FILE",
    "MEMBERS_PER_HOUSEHOLD",
    "member_registers",
    "write_members",
]

MEMBERS_FILE = "党员名册.csv"
ACTIVITIES_FILE = "党员活动.csv"

MEMBERS_PER_HOUSEHOLD = 8_902 / profile("211403").households
"""龙港区's members per household (8,902 members, 233,000 residents at 2.35 a household)."""

KIND_SHARES: dict[str, float] = {"直管党员": 0.45, "在职党员": 0.25, "流动党员": 0.08,
                                 "离退休党员": 0.22}  # fmt: skip
"""The share of each kind of member."""

REPORTED_SHARE = 0.7
CENTRAL_SHARE = 0.04
ACTIVE_SHARE = 0.3


def member_registers(demo: DemoDistrict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's members register and file of activity, under the templates' headers."""
    rng = np.random.default_rng([demo.seed, 19])
    buildings = demo.buildings[demo.buildings["households"] > 0]
    unique = ~buildings["address"].duplicated(keep=False) & buildings["address"].notna()
    buildings = buildings[unique]
    branches = demo.branches[demo.branches["community_code"].isin(buildings["community_code"])]
    total = round(MEMBERS_PER_HOUSEHOLD * float(demo.buildings["households"].sum()))
    heads = {c.field: c.header for c in template_columns("members")}
    if total == 0 or branches.empty:
        return pd.DataFrame(columns=list(heads.values())), pd.DataFrame()
    weights = branches["member_count"].to_numpy(dtype=float) + 1.0
    per_branch = rng.multinomial(total, weights / weights.sum())
    rows = []
    homes_of = {c: g for c, g in buildings.groupby("community_code")}
    for (_, branch), count in zip(branches.iterrows(), per_branch, strict=True):
        if count == 0:
            continue
        homes = homes_of[branch["community_code"]]
        share = homes["households"].to_numpy(dtype=float)
        picked = rng.choice(len(homes), size=int(count), p=share / share.sum())
        for k in picked.tolist():  # one member a row, a few thousand at most
            rows.append((branch["external_id"], homes["address"].iat[k], branch["community_code"]))
    n = len(rows)
    kinds = rng.choice(list(KIND_SHARES), size=n, p=list(KIND_SHARES.values()))
    year = demo.period[1].year
    retired = kinds == "离退休党员"
    born = np.where(retired, rng.integers(1930, 1967, n), rng.integers(1966, 2005, n))
    joined = np.minimum(born + rng.integers(18, 41, n), year - 1)
    employed = kinds == "在职党员"
    reported = employed & (rng.random(n) < REPORTED_SHARE)
    central = ~employed & (rng.random(n) < CENTRAL_SHARE)
    members = pd.DataFrame(
        {
            heads["id"]: [f"DY{i + 1:06d}" for i in range(n)],
            heads["name"]: names.person_names(rng, n, local=demo.profile.surnames),
            heads["sex"]: np.where(rng.random(n) < 0.55, "男", "女"),
            heads["birth"]: born,
            heads["joined"]: [f"{y}-07-01" for y in joined],
            heads["organisation"]: [r[0] for r in rows],
            heads["kind"]: kinds,
            heads["address"]: [r[1] for r in rows],
            heads["phone"]: names.phone_numbers(rng, n),
            heads["id_number"]: None,
            heads["report_community"]: [
                r[2] if f else None for r, f in zip(rows, reported, strict=True)
            ],
            heads["reported_on"]: [
                f"{rng.integers(2019, year)}-{rng.integers(1, 13):02d}-15" if f else None
                for f in reported
            ],
            heads["central_household"]: np.where(central, "是", "否"),
        }
    )
    return members, _activities(rng, members[heads["id"]].tolist(), demo.period[1].date())


def _activities(rng: np.random.Generator, members: list[str], last: dt.date) -> pd.DataFrame:
    heads = {c.field: c.header for c in template_columns("activities")}
    active = [m for m in members if rng.random() < ACTIVE_SHARE]
    counts = rng.integers(1, 4, len(active))
    who = np.repeat(np.asarray(active, dtype=object), counts)
    n = len(who)
    volunteer = rng.random(n) < 0.6
    start = dt.date(last.year, 1, 1).toordinal()
    span = max(last.toordinal() - start, 1)
    days = [dt.date.fromordinal(start + int(d)).isoformat() for d in rng.integers(0, span, n)]
    return pd.DataFrame(
        {
            heads["id"]: [f"HD{i + 1:07d}" for i in range(n)],
            heads["member"]: who,
            heads["kind"]: np.where(volunteer, "志愿服务", "参加组织生活"),
            heads["date"]: days,
            heads["hours"]: np.where(volunteer, rng.integers(1, 9, n) / 2, np.nan),
            heads["note"]: np.where(volunteer, "社区志愿服务", "主题党日"),
        }
    )


def write_members(demo: DemoDistrict, folder: str | Path) -> dict[str, Path]:
    """Write the members register and the activity file (UTF-8 CSV) into ``folder``;
    their paths by kind (``members``, ``activities``; none when there are no members)."""
    members, activities = member_registers(demo)
    if members.empty:
        return {}
    target = Path(folder)
    out = {"members": target / MEMBERS_FILE, "activities": target / ACTIVITIES_FILE}
    members.to_csv(out["members"], index=False, encoding="utf-8")
    activities.to_csv(out["activities"], index=False, encoding="utf-8")
    return out
