"""The demo's 大走访: key households as a district's file, and a running campaign.

:func:`write_residents` writes the register of key households (重点户.csv: 户主, 电话,
类别, 住址 …), one household in about every :data:`KEY_HOUSEHOLD_SHARE` of the
buildings, placed by its address. :func:`load_visits` imports it through
:func:`gridgis.registers.residents.import_residents`, then runs a 大走访 campaign over
the district as a district would: the 四个必走 targets listed per cell, each cell's
targets assigned to its grid worker, about :data:`VISITED_SHARE` of them visited
(problems found on some), some problems filed as cases and taken to 结案 (their
entries 销号), some crossed off on the spot.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, select

from gridgis.access import Policy
from gridgis.demo.names import person_names, phone_numbers
from gridgis.errors import ValidationError

__all__ = ["KEY_HOUSEHOLD_SHARE", "RESIDENTS_FILE", "load_visits", "write_residents"]

RESIDENTS_FILE = "重点户.csv"
"""The demo's register of key households."""
KEY_HOUSEHOLD_SHARE = 0.12
"""The share of buildings with a key household in the demo."""
VISITED_SHARE = 0.6
"""The share of the campaign's targets visited so far."""
MAX_VISITS = 150
"""The most visits the demo logs (its load time stays small at any scale)."""
_CATEGORIES = (("退役军人", 0.3), ("困难户", 0.35), ("独居老人", 0.2), ("残疾人", 0.15))
_PROBLEMS = (
    ("市容环境", "楼道堆放杂物"),
    ("消防安全", "电动车在楼道充电"),
    ("道路设施", "小区路灯不亮"),
    ("矛盾纠纷", "邻里噪音纠纷"),
    ("便民代办", "老人需代办医保报销"),
    ("物业管理", "屋顶漏水无人维修"),
)
_CHINA = dt.timezone(dt.timedelta(hours=8))


def resident_register(buildings: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """The demo's key households: one in about :data:`KEY_HOUSEHOLD_SHARE` of the buildings
    with an address, in the headers a district's register has."""
    rng = np.random.default_rng(seed + 19)
    homes = buildings[buildings["address"].notna()].reset_index(drop=True)
    chosen = homes[rng.random(len(homes)) < KEY_HOUSEHOLD_SHARE].reset_index(drop=True)
    n = len(chosen)
    names = [name for name, _ in _CATEGORIES]
    weights = [weight for _, weight in _CATEGORIES]
    first = rng.choice(len(names), size=n, p=np.array(weights))
    second = rng.choice(len(names), size=n, p=np.array(weights))
    both = rng.random(n) < 0.1
    categories = [
        "、".join(dict.fromkeys([names[a], *([names[b]] if two else [])]))
        for a, b, two in zip(first, second, both, strict=True)
    ]
    return pd.DataFrame(
        {
            "编号": [f"ZD{i + 1:05d}" for i in range(n)],
            "户主": person_names(rng, n),
            "电话": phone_numbers(rng, n),
            "类别": categories,
            "住址": chosen["address"].tolist(),
            "单元": rng.integers(1, 4, size=n).astype(str),
            "房号": [
                f"{f}0{r}"
                for f, r in zip(rng.integers(1, 7, n), rng.integers(1, 4, n), strict=True)
            ],
        }
    )


def write_residents(buildings: pd.DataFrame, folder: str | Path, *, seed: int) -> Path:
    """Write :func:`resident_register` to ``folder`` as :data:`RESIDENTS_FILE` (UTF-8, BOM)."""
    path = Path(folder) / RESIDENTS_FILE
    resident_register(buildings, seed=seed).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def load_visits(
    conn: Connection, path: Path, *, district: str, now: dt.datetime, seed: int, actor: str
) -> dict[str, int]:
    """Import the key households of ``path`` and run a campaign in ``district`` up to ``now``.

    Returns the counts: households, targets, visits, ledger entries, cases, closed.
    """
    from gridgis.party.campaigns import Visitor, assign_to_cell_workers, create_campaign
    from gridgis.party.visits import log_visit
    from gridgis.registers.residents import import_residents

    report = import_residents(conn, path, actor=actor)
    if report.counts["rejected"] or report.counts["flagged"]:
        reasons = report.rows["reason"].dropna().head(3).tolist()
        raise ValidationError(f"the demo's file {path.name} did not import cleanly: {reasons}")
    rng = np.random.default_rng(seed + 41)
    today = now.astimezone(_CHINA).date()
    campaign = create_campaign(
        conn, name=f"{today.year}年大走访", area=district,
        starts_on=today - dt.timedelta(days=30), ends_on=today + dt.timedelta(days=30),
        actor=actor,
    )  # fmt: skip
    assign_to_cell_workers(conn, campaign["id"], actor=actor)
    targets = _assigned(conn, campaign["id"])
    chosen = targets[rng.random(len(targets)) < VISITED_SHARE][:MAX_VISITS]
    policy = Policy(name=actor, role="admin")
    counts = {"households": report.counts["imported"], "targets": campaign["targets"],
              "visits": 0, "ledger": 0, "cases": 0, "closed": 0}  # fmt: skip
    start = dt.datetime.combine(campaign["starts_on"], dt.time(9), _CHINA)
    span = max((now - start).total_seconds() - 86_400 * 3, 3600)
    for target, worker in chosen.itertuples(index=False):  # one visit at a time, as logged
        when = start + dt.timedelta(seconds=float(rng.uniform(0, span)))
        problems = []
        if rng.random() < 0.25:
            category, description = _PROBLEMS[int(rng.integers(len(_PROBLEMS)))]
            problems.append({"category": category, "description": description})
        visit = log_visit(
            conn, int(target), policy=policy, visitor=Visitor(worker_id=int(worker)),
            visited_at=when, note="入户走访", problems=problems, actor=actor,
        )  # fmt: skip
        counts["visits"] += 1
        for entry in visit["ledger_ids"]:
            counts["ledger"] += 1
            _settle(conn, entry, when, float(rng.random()), counts, actor=actor)
    return counts


def _assigned(conn: Connection, campaign: int) -> pd.DataFrame:
    from gridgis.db.models import VisitTarget

    rows = conn.execute(
        select(VisitTarget.id, VisitTarget.visitor_worker_id)
        .where(VisitTarget.campaign_id == campaign, VisitTarget.visitor_worker_id.is_not(None))
        .order_by(VisitTarget.id)
    ).all()
    return pd.DataFrame(rows, columns=["target", "worker"])


def _settle(
    conn: Connection, entry: int, when: dt.datetime, draw: float, counts: dict[str, int],
    *, actor: str,
) -> None:  # fmt: skip
    """A problem's fate: filed as a case the next day (and taken to 结案 within days for
    half of them), crossed off on the spot, or left open."""
    from gridgis.cases import advance_case
    from gridgis.party.ledger import clear_entry, file_case

    if draw < 0.2:
        clear_entry(conn, entry, note="当场协调解决", actor=actor, at=when)
        return
    if draw >= 0.7:
        return
    filed = when + dt.timedelta(days=1)
    case = file_case(conn, entry, actor=actor, reported_at=filed)["case_id"]
    counts["cases"] += 1
    if draw < 0.45:
        for hours, step in enumerate(("registered", "dispatched", "handled", "verified", "closed")):
            advance_case(conn, case, step, actor=actor, note="大走访问题办结",
                         at=filed + dt.timedelta(hours=4 * (hours + 1)))  # fmt: skip
        counts["closed"] += 1
