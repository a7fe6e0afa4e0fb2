"""The rules of 党员积分 and the yearly ranking of members per organisation.

:func:`list_rules` and :func:`set_rule` read and change what each kind of activity
is worth (an administrator's business; every change audited). A change applies
to activity recorded from then on: each recorded activity keeps the points it
earned (:mod:`gridgis.party.points`).

:func:`ranking` sums each member's points of a year and ranks the members of
each organisation (1 the most points; members with equal points share a rank,
the next rank counting them all: 1, 1, 3).

Examples
--------
>>> [r["kind"] for r in list_rules(engine)]
['meeting', 'visit', 'volunteer']
>>> ranking(engine, year=2026)["year"]
2026
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from sqlalchemy import Connection, Engine, Text, cast, extract, func, select
from sqlalchemy.dialects.postgresql import insert

from gridgis import audit
from gridgis.access import Policy
from gridgis.db.models import POINT_UNITS, PartyActivity, PartyBranch, PartyMember, PointRule
from gridgis.db.queries import result_frame
from gridgis.errors import InputError
from gridgis.party.members import mask_member, member_view

__all__ = [
    "RANKING_COLUMNS",
    "RANKING_HEADERS",
    "list_rules",
    "ranking",
    "ranking_frame",
    "ranking_table",
    "set_rule",
    "write_ranking",
]

RANKING_COLUMNS: tuple[str, ...] = (
    "organisation", "organisation_name", "rank", "member", "name", "points", "activities",
    "hours",
)  # fmt: skip
"""The columns of a ranking's rows (and of its export), in order."""

_KIND = r"^[a-z][a-z0-9_]{0,39}$"


def list_rules(engine: Engine | Connection) -> list[dict[str, Any]]:
    """Every rule: ``kind``, ``label_zh``, ``label_en``, ``points`` (a number), ``per``."""
    query = select(
        PointRule.kind, PointRule.label_zh, PointRule.label_en, PointRule.points, PointRule.per
    ).order_by(PointRule.kind)

    def read(conn: Connection) -> list[dict[str, Any]]:
        return [dict(r._mapping) | {"points": float(r.points)} for r in conn.execute(query).all()]

    if isinstance(engine, Connection):
        return read(engine)
    with engine.connect() as conn:
        return read(conn)


def set_rule(
    engine: Engine,
    kind: str,
    points: Decimal | float | str,
    *,
    per: str = "each",
    label_zh: str | None = None,
    label_en: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Add the rule of ``kind`` or change it; audited in the same transaction.

    Raises
    ------
    InputError
        For a kind that is not a code (``volunteer``), points that are not a number
        from 0 to 999999, a ``per`` not in ``each``/``hour``, or a new rule with no label.
    """
    import re

    if not re.match(_KIND, kind):
        raise InputError(
            f"`kind` was {kind!r} but is expected to be a code of lower-case letters, digits "
            "and _ starting with a letter (volunteer, meeting)",
            field="kind",
            zh=f"`kind` 为 {kind!r}，应为以字母开头、由小写字母、数字和 _ 组成的代码"
            "（如 volunteer、meeting）",
        )
    try:
        value = Decimal(str(points)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise InputError(
            f"`points` was {points!r} but is expected to be a number",
            zh=f"`points` 为 {points!r}，应为数字",
        ) from None
    if not Decimal(0) <= value < Decimal(1_000_000):
        raise InputError(
            f"`points` was {points!r} but is expected to be from 0 to 999999",
            zh=f"`points` 为 {points!r}，应在 0 到 999999 之间",
        )
    if per not in POINT_UNITS:
        raise InputError(
            f"`per` was {per!r} but is expected to be one of {list(POINT_UNITS)}",
            field="per",
            zh=f"`per` 为 {per!r}，应为以下之一：{list(POINT_UNITS)}",
        )
    with engine.begin() as conn:
        before = conn.execute(select(PointRule).where(PointRule.kind == kind)).mappings().first()
        old = None if before is None else {k: before[k] for k in ("label_zh", "label_en",
                                                                    "points", "per")}  # fmt: skip
        if old is None and not label_zh:
            raise InputError(
                f"a new rule ({kind}) needs its Chinese name (--label)",
                field="label",
                zh=f"新的积分规则（{kind}）需要中文名称（--label）",
            )
        after = {
            "label_zh": label_zh or (old or {}).get("label_zh"),
            "label_en": label_en or (old or {}).get("label_en") or kind,
            "points": value,
            "per": per,
        }
        conn.execute(
            insert(PointRule)
            .values(kind=kind, **after)
            .on_conflict_do_update(index_elements=["kind"], set_=after)
        )
        audit.record(
            conn,
            actor=actor,
            action="create" if old is None else "update",
            object_type="point_rule",
            object_id=kind,
            before=None if old is None else old | {"points": float(old["points"])},
            after=after | {"points": float(value)},
        )
    return {"kind": kind, **after, "points": float(value)}


def ranking_frame(
    bind: Engine | Connection,
    *,
    year: int,
    organisation: str | None = None,
    within: str | None = None,
) -> pd.DataFrame:
    """Each member's points of ``year`` and rank in their organisation (columns
    :data:`RANKING_COLUMNS` and ``street_code``), as stored; members with no activity
    that year are left out."""
    totals = (
        select(
            PartyActivity.member_id,
            func.sum(PartyActivity.points).label("points"),
            func.count().label("activities"),
            func.coalesce(func.sum(PartyActivity.hours), 0).label("hours"),
        )
        .where(extract("year", PartyActivity.occurred_on) == year)
        .group_by(PartyActivity.member_id)
        .subquery()
    )
    organisation_key = func.coalesce(PartyBranch.external_id, cast(PartyBranch.id, Text))
    rank = func.rank().over(partition_by=PartyMember.branch_id, order_by=totals.c.points.desc())
    query = (
        select(
            organisation_key.label("organisation"),
            PartyBranch.name.label("organisation_name"),
            rank.label("rank"),
            func.coalesce(PartyMember.external_id, cast(PartyMember.id, Text)).label("member"),
            PartyMember.name,
            totals.c.points,
            totals.c.activities,
            totals.c.hours,
            PartyMember.street_code,
        )
        .join(totals, totals.c.member_id == PartyMember.id)
        .outerjoin(PartyBranch, PartyBranch.id == PartyMember.branch_id)
        .order_by(organisation_key, rank, PartyMember.id)
    )
    if within is not None:
        query = query.where(
            (PartyMember.street_code.startswith(within, autoescape=True))
            | (PartyBranch.community_code.startswith(within, autoescape=True))
        )
    if organisation is not None:
        query = query.where(organisation_key == organisation)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            frame = result_frame(conn.execute(query))
    else:
        frame = result_frame(bind.execute(query))
    columns = [*RANKING_COLUMNS, "street_code"]
    return frame.reindex(columns=columns)


def ranking(
    bind: Engine | Connection,
    *,
    year: int,
    organisation: str | None = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """The ranking of ``year`` (of one organisation, by its id), as ``policy``'s user sees it:
    the members it sees, names masked where it may not see them (all, for an analyst);
    ``None``: everything, unmasked.

    Returns
    -------
    dict
        ``year``, ``organisation`` and ``rows`` (:data:`RANKING_COLUMNS` each).

    Raises
    ------
    ForbiddenError
        For a user who reads no area.
    InputError
        For a year before 1900 or after 2100.
    """
    if not 1900 <= year <= 2100:
        raise InputError(
            f"`year` was {year!r} but is expected to be from 1900 to 2100",
            zh=f"`year` 为 {year!r}，应在 1900 到 2100 之间",
        )
    view = None if policy is None else member_view(policy)
    within = None if view is None else view.within
    frame = ranking_frame(bind, year=year, organisation=organisation, within=within)
    rows = []
    for row in frame.to_dict("records"):  # a ranking's rows, each masked on its own
        shown = view is None or (view.rows and view.reveals(row["street_code"]))
        rows.append(
            {
                "organisation": row["organisation"],
                "organisation_name": row["organisation_name"],
                "rank": int(row["rank"]),
                "member": row["member"],
                "name": row["name"] if shown else mask_member(row["name"], "name"),
                "points": float(row["points"]),
                "activities": int(row["activities"]),
                "hours": float(row["hours"]),
            }
        )
    return {"year": year, "organisation": organisation, "rows": rows}


RANKING_HEADERS: dict[str, str] = {
    "organisation": "党组织编号", "organisation_name": "党组织", "rank": "名次",
    "member": "党员编号", "name": "姓名", "points": "积分", "activities": "活动次数",
    "hours": "时长（小时）",
}  # fmt: skip
"""The Chinese header of each column of an exported ranking."""


def ranking_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A ranking's rows as the table its export writes (Chinese headers)."""
    frame = pd.DataFrame(rows, columns=list(RANKING_COLUMNS))
    return frame.rename(columns=RANKING_HEADERS)


def write_ranking(
    rows: list[dict[str, Any]], target: Path | BinaryIO, *, fmt: str | None = None
) -> Path | BinaryIO:
    """Write a ranking's rows (:func:`ranking`) as CSV (UTF-8 with BOM) or ``.xlsx``, chosen by
    ``fmt`` or the file's suffix; no text opens as a formula (:mod:`gridgis.sheets`).

    Raises
    ------
    InputError
        For another format.
    """
    from gridgis.sheets import safe_csv_frame, write_xlsx

    form = fmt or (Path(target).suffix.lower().lstrip(".") if isinstance(target, Path) else "")
    table = ranking_table(rows)
    if form == "csv":
        data = ("\ufeff" + safe_csv_frame(table).to_csv(index=False)).encode("utf-8")
        if isinstance(target, Path):
            target.write_bytes(data)
        else:
            target.write(data)
    elif form == "xlsx":
        write_xlsx(target, list(table.columns), table.itertuples(index=False), sheet="积分排名")
    else:
        raise InputError(
            f"`fmt` was {form!r} but a ranking is written as csv or xlsx",
            zh=f"`fmt` 为 {form!r}，积分排名只能导出为 csv 或 xlsx",
        )
    return target
