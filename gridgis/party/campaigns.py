"""大走访 campaigns: their targets per cell, who visits whom, and how far they have come.

A campaign has a name, a period, an area (a district, street or community code)
and target rules. The rules are the codes of household categories (table
``household_category``: ``veteran`` 退役军人, ``needy`` 困难户 ...) and of party
members: ``elderly_member`` (80岁以上老党员) and ``member_direct``,
``member_employed``, ``member_mobile``, ``member_retired`` (the four kinds). The
default, :data:`FOUR_MUSTS`, is the 四个必走 rule: 退役军人, 困难户, 80岁以上老党员 and
the four kinds of party members. Buildings may be added: every household of them
is visited (one target a building, beside the key households in it).

Creating a campaign lists its targets (``visit_target``) with the cell of each
target's building; targets are then assigned to visitors (a party member, a grid
worker or a street office's user), by cell in bulk or one by one.

Examples
--------
>>> campaign = create_campaign(engine, name="2026年春季大走访", area="350304001",
...     starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 4, 30),
...     actor="cli:li")  # doctest: +SKIP
>>> campaign["targets"]  # doctest: +SKIP
212
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from gridgis import audit
from gridgis.db.locate import cell_at
from gridgis.db.models import (
    MEMBER_KINDS,
    AppUser,
    Building,
    CampaignBuilding,
    GridCell,
    GridWorker,
    HouseholdCategory,
    PartyMember,
    ResidentHousehold,
    Visit,
    VisitCampaign,
    VisitTarget,
    WorkerCell,
)
from gridgis.db.queries import reading, transaction
from gridgis.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "ELDERLY_AGE",
    "FOUR_MUSTS",
    "MEMBER_RULES",
    "Visitor",
    "assign_targets",
    "assign_to_cell_workers",
    "campaign_progress",
    "close_campaign",
    "create_campaign",
    "get_campaign",
    "known_id",
    "list_campaigns",
    "rule_names",
    "user_visitor",
    "visitor_choices",
]

ELDERLY_AGE = 80
"""From this age (in the campaign's first year) a party member is an 老党员 to visit."""

MEMBER_RULES: dict[str, tuple[str, str]] = {
    "elderly_member": (f"{ELDERLY_AGE}岁以上老党员", f"Party member aged {ELDERLY_AGE} or more"),
    "member_direct": ("直管党员", "Party member (direct)"),
    "member_employed": ("在职党员", "Party member (employed)"),
    "member_mobile": ("流动党员", "Party member (mobile)"),
    "member_retired": ("离退休党员", "Party member (retired)"),
}
"""The target rules on party members, with their Chinese and English names."""

FOUR_MUSTS: tuple[str, ...] = ("veteran", "needy", *MEMBER_RULES)
"""The 四个必走 rule: 退役军人, 困难户, 80岁以上老党员 and the four kinds of party members."""

BUILDING_RULE = "building"
"""The reason of a target listed because its building is one the campaign visits whole."""


@dataclass(frozen=True)
class Visitor:
    """Who visits: exactly one of a party member, a grid worker, a user (a street cadre)."""

    member_id: int | None = None
    worker_id: int | None = None
    user_id: int | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.member_id, self.worker_id, self.user_id) if v is not None]
        if len(given) != 1:
            raise InputError(
                "a visitor is exactly one of a party member (`member`), a grid worker "
                f"(`worker`) or a user (`user`); got {self!r}",
                field="visitor",
                zh="走访人必须是党员（`member`）、网格员（`worker`）或用户（`user`）三者之一；"
                f"收到的是 {self!r}",
            )

    @property
    def columns(self) -> dict[str, int | None]:
        """The visitor as the ``visitor_*`` columns of a target or a visit."""
        return {
            "visitor_member_id": self.member_id,
            "visitor_worker_id": self.worker_id,
            "visitor_user_id": self.user_id,
        }


def user_visitor(bind: Engine | Connection, name: str) -> tuple[Visitor, str | None]:
    """The visitor a street office's user (or an administrator) named ``name`` visits as,
    and the user's street (``None`` for an administrator).

    Raises
    ------
    NotFoundError
        When no street office's user or administrator has that name.
    """
    with reading(bind) as conn:
        found = conn.execute(
            select(AppUser.id, AppUser.role, AppUser.street_code).where(AppUser.name == name)
        ).one_or_none()
    if found is None or found.role not in ("street", "admin"):
        raise NotFoundError(
            f"`user` was {name!r} but no street office's user has that name",
            field="user",
            zh=f"`user` 为 {name!r}，但没有这个名称的街道办用户",
        )
    return Visitor(user_id=int(found.id)), found.street_code


def known_id(value: object, what: str, *, bits: int = 31) -> int:
    """``value`` as a row id of ``what``; one no row can have (not a whole number, below 1,
    above the column's range) is refused as not found."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**bits:
        raise NotFoundError(
            f"{what} {value!r} does not exist", zh=f"{_ROWS_ZH.get(what, what)} {value!r} 不存在"
        )
    return value


_ROWS_ZH: dict[str, str] = {
    "campaign": "走访活动",
    "visit": "走访记录",
    "visit target": "走访对象",
    "photo": "照片",
    "ledger entry": "台账条目",
}
"""The Chinese of :func:`known_id`'s ``what``."""


def rule_names(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every target rule: code -> (Chinese name, English name): the household categories,
    then the rules on members, then ``building``."""
    found = {
        str(code): (str(zh), str(en))
        for code, zh, en in conn.execute(
            select(
                HouseholdCategory.code, HouseholdCategory.name_zh, HouseholdCategory.name_en
            ).order_by(HouseholdCategory.code)
        )
    }
    return found | MEMBER_RULES | {BUILDING_RULE: ("整栋走访", "Whole building")}


def _check_area(area: object) -> str:
    if not isinstance(area, str) or not area.isdigit() or len(area) not in (6, 9, 12):
        raise InputError(
            f"`area` was {area!r} but is expected to be a district (6 digits), street (9) "
            "or community (12 digits) code",
            field="area",
            zh=f"`area` 为 {area!r}，应为区（6 位）、街道（9 位）或社区（12 位）编码",
        )
    return area


def _check_rules(conn: Connection, rules: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(FOUR_MUSTS if rules is None else rules))
    known = rule_names(conn)
    by_name = {zh: code for code, (zh, _en) in known.items()}
    codes = [by_name.get(r, r) for r in chosen]
    unknown = [r for r, c in zip(chosen, codes, strict=True) if c not in known or c == "building"]
    if unknown or not codes:
        listed = ", ".join(f"{c} ({zh})" for c, (zh, _en) in known.items() if c != "building")
        raise InputError(
            f"`rules` was {chosen!r} but is expected to be one or more of: {listed}",
            field="rules",
            zh=f"`rules` 为 {chosen!r}，应为以下一项或多项：{listed}",
        )
    return codes


def _check_text(value: object, field: str, *, longest: int = 200) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > longest or "\x00" in value:
        raise InputError(
            f"`{field}` was {value!r} but is expected to be text of 1 to {longest} characters",
            field=field,
            zh=f"`{field}` 为 {value!r}，应为 1 到 {longest} 个字符的文字",
        )
    return value.strip()


def _building_places(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """Building id -> (cell id, community code, street code) of its active cell."""
    if not ids:
        return {}
    found = cell_at(Building.location).lateral("c")
    query = (
        select(Building.id, found.c.id, Building.community_code)
        .outerjoin(found, true())
        .where(Building.id.in_(sorted(set(ids))))
    )
    return {
        int(b): (None if cell is None else int(cell), community, community[:9])
        for b, cell, community in conn.execute(query)
    }


def _targets(
    conn: Connection, area: str, rules: list[str], buildings: list[int], year: int
) -> list[dict[str, Any]]:
    """The targets of a campaign: key households, members, whole buildings."""
    in_area = ResidentHousehold.community_code.startswith(area)
    rows: list[dict[str, Any]] = []
    whole = set(buildings)
    households = select(
        ResidentHousehold.id,
        ResidentHousehold.building_id,
        ResidentHousehold.categories,
        ResidentHousehold.community_code,
    ).where(
        in_area,
        or_(
            ResidentHousehold.categories.overlap(rules),
            ResidentHousehold.building_id.in_(sorted(whole)),
        ),
    )
    for hid, building, categories, community in conn.execute(
        households.order_by(ResidentHousehold.id)
    ):
        reasons = [c for c in categories if c in rules] + (
            [BUILDING_RULE] if building in whole else []
        )
        rows.append({"kind": "household", "household_id": int(hid), "building_id": building,
                     "community_code": community, "reasons": reasons})  # fmt: skip
    kinds = [k for k in MEMBER_KINDS if f"member_{k}" in rules]
    old = "elderly_member" in rules
    members = select(
        PartyMember.id,
        PartyMember.building_id,
        PartyMember.kind,
        PartyMember.birth_year,
        PartyMember.community_code,
    ).where(
        PartyMember.community_code.startswith(area),
        or_(
            PartyMember.kind.in_(kinds),
            and_(literal(old), PartyMember.birth_year <= year - ELDERLY_AGE),
        ),
    )
    for mid, building, kind, born, community in conn.execute(members.order_by(PartyMember.id)):
        reasons = (["elderly_member"] if old and born is not None and born <= year - ELDERLY_AGE
                   else []) + ([f"member_{kind}"] if kind in kinds else [])  # fmt: skip
        rows.append({"kind": "member", "member_id": int(mid), "building_id": building,
                     "community_code": community, "reasons": reasons})  # fmt: skip
    for building in sorted(whole):
        rows.append({"kind": "building", "building_id": building, "community_code": None,
                     "reasons": [BUILDING_RULE]})  # fmt: skip
    return rows


def create_campaign(
    bind: Engine | Connection,
    *,
    name: str,
    area: str,
    starts_on: dt.date,
    ends_on: dt.date,
    rules: Iterable[str] | None = None,
    buildings: Iterable[int] = (),
    actor: str,
) -> dict[str, Any]:
    """Create a campaign and list its targets, each in the cell of its building.

    Parameters
    ----------
    bind:
        The database (a connection: in the caller's transaction).
    name:
        What it is called (``2026年春季大走访``).
    area:
        The district, street or community code it covers.
    starts_on, ends_on:
        Its period; a target not visited by ``ends_on`` (or its own due date) is overdue.
    rules:
        Codes (or Chinese names) of the target rules; default :data:`FOUR_MUSTS`.
    buildings:
        Buildings (ids) whose households are all visited; they must lie in ``area``.
    actor:
        Who creates it (the audit trail).

    Returns
    -------
    dict
        The campaign (:func:`get_campaign`).

    Raises
    ------
    InputError
        A bad name, area, period or rule, or a building outside the area.
    NotFoundError
        A building that does not exist.
    """
    name = _check_text(name, "name")
    area = _check_area(area)
    if not isinstance(starts_on, dt.date) or not isinstance(ends_on, dt.date):
        raise InputError(
            "`starts_on` and `ends_on` are expected to be dates",
            field="starts_on",
            zh="`starts_on` 和 `ends_on` 应为日期",
        )
    if ends_on < starts_on:
        raise InputError(
            f"`ends_on` was {ends_on.isoformat()} but the campaign starts on "
            f"{starts_on.isoformat()}: it must end on that day or later",
            field="ends_on",
            zh=f"`ends_on` 为 {ends_on.isoformat()}，但走访活动 {starts_on.isoformat()} 开始："
            "结束日期不能早于开始日期",
        )
    chosen_buildings = sorted({int(b) for b in buildings})
    with transaction(bind) as conn:
        codes = _check_rules(conn, rules)
        places = _building_places(conn, chosen_buildings)
        missing = [b for b in chosen_buildings if b not in places]
        if missing:
            raise NotFoundError(
                f"`buildings` names buildings that do not exist: {missing}",
                zh=f"`buildings` 中有不存在的楼栋：{missing}",
            )
        away = [b for b in chosen_buildings if not str(places[b][1]).startswith(area)]
        if away:
            raise InputError(
                f"`buildings` {away} lie outside the campaign's area {area}",
                field="buildings",
                zh=f"`buildings` 中的楼栋 {away} 不在走访活动的范围 {area} 内",
            )
        campaign_id = int(
            conn.execute(
                insert(VisitCampaign)
                .values(name=name, area_code=area, starts_on=starts_on, ends_on=ends_on,
                        rules=codes, created_by=actor)
                .returning(VisitCampaign.id)
            ).scalar_one()
        )  # fmt: skip
        if chosen_buildings:
            conn.execute(
                insert(CampaignBuilding),
                [{"campaign_id": campaign_id, "building_id": b} for b in chosen_buildings],
            )
        rows = _targets(conn, area, codes, chosen_buildings, starts_on.year)
        places |= _building_places(
            conn, [r["building_id"] for r in rows if r["building_id"] is not None]
        )
        for row in rows:
            cell, community, _street = places.get(row["building_id"], (None, None, None))
            community = community or row["community_code"]
            row.update(campaign_id=campaign_id, cell_id=cell, community_code=community,
                       street_code=community[:9] if community else None)  # fmt: skip
            row.setdefault("household_id", None)
            row.setdefault("member_id", None)
        if rows:
            conn.execute(insert(VisitTarget), rows)
        audit.record(
            conn,
            actor=actor,
            action="create",
            object_type="visit_campaign",
            object_id=campaign_id,
            after={"name": name, "area_code": area, "starts_on": starts_on, "ends_on": ends_on,
                   "rules": codes, "buildings": chosen_buildings, "targets": len(rows)},
            street_code=area[:9] if len(area) >= 9 else None,
        )  # fmt: skip
        return get_campaign(conn, campaign_id)


def close_campaign(
    bind: Engine | Connection, campaign_id: int, *, on: dt.date | None = None, actor: str
) -> dict[str, Any]:
    """Close a campaign: its period ends on ``on`` (default today, China Standard Time), so
    that its targets not visited by then are overdue from the day after. Audited.

    Raises
    ------
    NotFoundError
        When there is no such campaign.
    ConflictError
        When the campaign ended before ``on`` already.
    InputError
        When ``on`` comes before the campaign starts.
    """
    day = on or dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    with transaction(bind) as conn:
        campaign = get_campaign(conn, campaign_id)
        if campaign["ends_on"] < day:
            raise ConflictError(
                f"campaign {campaign['id']} ended on {campaign['ends_on'].isoformat()} already",
                zh=f"走访活动 {campaign['id']} 已于 {campaign['ends_on'].isoformat()} 结束",
            )
        if day < campaign["starts_on"]:
            raise InputError(
                f"`on` was {day.isoformat()} but campaign {campaign['id']} starts on "
                f"{campaign['starts_on'].isoformat()}: it cannot end before it starts",
                field="on",
                zh=f"`on` 为 {day.isoformat()}，但走访活动 {campaign['id']} 于 "
                f"{campaign['starts_on'].isoformat()} 开始：结束日不能早于开始日",
            )
        conn.execute(
            update(VisitCampaign).where(VisitCampaign.id == campaign["id"]).values(ends_on=day)
        )
        area = campaign["area_code"]
        audit.record(
            conn, actor=actor, action="close", object_type="visit_campaign",
            object_id=campaign["id"], before={"ends_on": campaign["ends_on"]},
            after={"ends_on": day}, street_code=area[:9] if len(area) >= 9 else None,
        )  # fmt: skip
        return get_campaign(conn, campaign["id"])


_VISITED = exists().where(Visit.target_id == VisitTarget.id)


def _campaign_select() -> Select[*tuple[Any, ...]]:
    targets = (
        select(
            func.count().label("targets"),
            func.count().filter(_VISITED).label("visited"),
        )
        .where(VisitTarget.campaign_id == VisitCampaign.id)
        .lateral("t")
    )
    return select(
        VisitCampaign.id,
        VisitCampaign.name,
        VisitCampaign.area_code,
        VisitCampaign.starts_on,
        VisitCampaign.ends_on,
        VisitCampaign.rules,
        VisitCampaign.created_by,
        VisitCampaign.created_at,
        targets.c.targets,
        targets.c.visited,
    ).join(targets, true())


def _campaign(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["rules"] = list(out["rules"])
    out["share"] = round(out["visited"] / out["targets"], 4) if out["targets"] else None
    return out


def get_campaign(bind: Engine | Connection, campaign_id: int) -> dict[str, Any]:
    """A campaign with its counts of targets and of those visited (``share``: visited/targets).

    Raises
    ------
    NotFoundError
        When there is no such campaign.
    """
    campaign_id = known_id(campaign_id, "campaign")
    with reading(bind) as conn:
        row = conn.execute(_campaign_select().where(VisitCampaign.id == campaign_id)).one_or_none()
    if row is None:
        raise NotFoundError(
            f"campaign {campaign_id} does not exist", zh=f"走访活动 {campaign_id} 不存在"
        )
    return _campaign(row)


def list_campaigns(bind: Engine | Connection, *, within: str | None = None) -> list[dict[str, Any]]:
    """The campaigns, newest first; ``within``: those of an area inside it or holding it (a
    street office sees its district's campaigns and its own street's)."""
    query = _campaign_select().order_by(VisitCampaign.starts_on.desc(), VisitCampaign.id.desc())
    if within is not None:
        query = query.where(
            or_(
                VisitCampaign.area_code.startswith(within),
                literal(within).startswith(VisitCampaign.area_code),
            )
        )
    with reading(bind) as conn:
        return [_campaign(r) for r in conn.execute(query)]


def campaign_progress(
    bind: Engine | Connection,
    campaign_id: int,
    *,
    today: dt.date | None = None,
    within: str | None = None,
) -> list[dict[str, Any]]:
    """Per cell of a campaign: its targets, those visited, the share visited and the overdue.

    A target is overdue when it has no visit and ``today`` is past its due date, or past
    the campaign's end when it has none. Targets whose building lies in no cell are one
    row with ``cell_id`` ``None``.

    Parameters
    ----------
    today:
        The day to judge overdue on (default: today in China, +08:00).
    within:
        Only cells in this area (a street office's street).
    """
    day = today or dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    campaign = get_campaign(bind, campaign_id)
    due = func.coalesce(VisitTarget.due_on, campaign["ends_on"])
    visited = _VISITED
    query = (
        select(
            VisitTarget.cell_id,
            GridCell.code.label("cell_code"),
            GridCell.name.label("cell_name"),
            func.min(VisitTarget.community_code).label("community_code"),
            func.count().label("targets"),
            func.count().filter(visited).label("visited"),
            func.count().filter(~visited, due < day).label("overdue"),
        )
        .outerjoin(GridCell, GridCell.id == VisitTarget.cell_id)
        .where(VisitTarget.campaign_id == campaign["id"])
        .group_by(VisitTarget.cell_id, GridCell.code, GridCell.name)
        .order_by(GridCell.code)
    )
    if within is not None:
        query = query.where(VisitTarget.street_code.startswith(within[:9]),
                            VisitTarget.community_code.startswith(within))  # fmt: skip
    with reading(bind) as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    for row in rows:
        row["share"] = round(row["visited"] / row["targets"], 4) if row["targets"] else None
    return rows


def _visitor_street(conn: Connection, visitor: Visitor) -> str | None:
    """Where a visitor belongs: a member's street, a worker's street, a user's street."""
    if visitor.member_id is not None:
        query = select(PartyMember.street_code).where(PartyMember.id == visitor.member_id)
        what = f"party member {visitor.member_id}"
        what_zh = f"党员 {visitor.member_id}"
    elif visitor.worker_id is not None:
        query = select(GridWorker.street_code).where(GridWorker.id == visitor.worker_id)
        what = f"grid worker {visitor.worker_id}"
        what_zh = f"网格员 {visitor.worker_id}"
    else:
        query = select(
            case((AppUser.role.in_(("street", "admin")), AppUser.street_code), else_=literal("-"))
        ).where(AppUser.id == visitor.user_id)
        what = f"user {visitor.user_id}"
        what_zh = f"用户 {visitor.user_id}"
    found = conn.execute(query).one_or_none()
    if found is None:
        raise NotFoundError(
            f"the visitor, {what}, does not exist",
            field="visitor",
            zh=f"走访人（{what_zh}）不存在",
        )
    if found[0] == "-":
        raise InputError(
            f"{what} is neither a street office's user nor an administrator: a party member "
            "or a grid worker visits as such",
            field="visitor",
            zh=f"{what_zh} 既不是街道办的用户，也不是管理员：党员或网格员以其本人身份走访",
        )
    return None if found[0] is None else str(found[0])


def assign_targets(
    bind: Engine | Connection,
    campaign_id: int,
    visitor: Visitor | None,
    *,
    cell: str | None = None,
    target_ids: Sequence[int] | None = None,
    only_unassigned: bool = False,
    within: str | None = None,
    actor: str,
) -> int:
    """Assign targets of a campaign to ``visitor`` (``None``: take the assignment back).

    Either every target of the cell ``cell`` (its 15-digit code; bulk) or the targets
    ``target_ids`` (one by one). ``only_unassigned`` leaves targets that have a visitor.
    ``within`` (a street office's street): targets outside it are refused.

    Returns
    -------
    int
        How many targets were assigned.

    Raises
    ------
    InputError
        Neither or both of ``cell`` and ``target_ids``.
    NotFoundError
        A target id not of the campaign (or outside ``within``), an unknown cell.
    """
    if (cell is None) == (target_ids is None):
        raise InputError(
            "give either `cell` (every target of a cell) or `target_ids`",
            zh="请给出 `cell`（该网格的全部走访对象）或 `target_ids` 二者之一",
        )
    with transaction(bind) as conn:
        campaign = {"id": _campaign_id(conn, campaign_id)}
        if visitor is not None:
            _visitor_street(conn, visitor)
        conditions = [VisitTarget.campaign_id == campaign["id"]]
        if within is not None:
            conditions.append(VisitTarget.community_code.startswith(within))
        if cell is not None:
            cell_ids = select(GridCell.id).where(GridCell.code == cell)
            if conn.execute(cell_ids).first() is None:
                raise NotFoundError(
                    f"`cell` was {cell!r} but no cell has that code",
                    field="cell",
                    zh=f"`cell` 为 {cell!r}，没有这个编码的网格",
                )
            conditions.append(VisitTarget.cell_id.in_(cell_ids))
        else:
            wanted = sorted({int(t) for t in target_ids or ()})
            conditions.append(VisitTarget.id.in_(wanted))
            found = set(conn.execute(select(VisitTarget.id).where(*conditions)).scalars())
            if missing := [t for t in wanted if t not in found]:
                raise NotFoundError(
                    f"`target_ids` names targets campaign {campaign['id']} does not have "
                    f"(or that you may not change): {missing}",
                    field="target_ids",
                    zh=f"`target_ids` 中有走访活动 {campaign['id']} 没有"
                    f"（或您无权修改）的走访对象：{missing}",
                )
        if only_unassigned:
            conditions.append(
                func.num_nonnulls(
                    VisitTarget.visitor_member_id,
                    VisitTarget.visitor_worker_id,
                    VisitTarget.visitor_user_id,
                )
                == 0
            )
        columns = (
            visitor.columns
            if visitor is not None
            else dict.fromkeys(("visitor_member_id", "visitor_worker_id", "visitor_user_id"))
        )
        changed = conn.execute(
            update(VisitTarget)
            .where(*conditions)
            .values(**columns, assigned_at=func.now(), assigned_by=actor)
            .returning(VisitTarget.id)
        ).all()
        if not changed and cell is not None and not only_unassigned:
            raise ConflictError(
                f"cell {cell} has no target in campaign {campaign['id']}",
                zh=f"网格 {cell} 在走访活动 {campaign['id']} 中没有走访对象",
            )
        audit.record(
            conn,
            actor=actor,
            action="assign",
            object_type="visit_campaign",
            object_id=campaign["id"],
            after={**columns, "cell": cell, "targets": len(changed)},
            street_code=within,
        )
        return len(changed)


def _campaign_id(conn: Connection, campaign_id: int) -> int:
    campaign_id = known_id(campaign_id, "campaign")
    found = conn.execute(
        select(VisitCampaign.id).where(VisitCampaign.id == campaign_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFoundError(
            f"campaign {campaign_id} does not exist", zh=f"走访活动 {campaign_id} 不存在"
        )
    return int(found)


def assign_to_cell_workers(bind: Engine | Connection, campaign_id: int, *, actor: str) -> int:
    """Assign every target of a campaign that has no visitor to the grid worker of its cell
    (the first by id where a cell has several); targets in no cell, or in a cell without
    a worker, stay unassigned. One statement, one audit row.

    Returns
    -------
    int
        How many targets were assigned.
    """
    with transaction(bind) as conn:
        campaign = _campaign_id(conn, campaign_id)
        workers = (
            select(WorkerCell.cell_id, func.min(WorkerCell.worker_id).label("worker_id"))
            .group_by(WorkerCell.cell_id)
            .subquery("w")
        )
        changed = conn.execute(
            update(VisitTarget)
            .where(
                VisitTarget.campaign_id == campaign,
                VisitTarget.cell_id == workers.c.cell_id,
                func.num_nonnulls(
                    VisitTarget.visitor_member_id,
                    VisitTarget.visitor_worker_id,
                    VisitTarget.visitor_user_id,
                )
                == 0,
            )
            .values(visitor_worker_id=workers.c.worker_id, assigned_at=func.now(),
                    assigned_by=actor)
            .returning(VisitTarget.id)
        ).all()  # fmt: skip
        audit.record(
            conn, actor=actor, action="assign", object_type="visit_campaign",
            object_id=campaign, after={"to": "cell workers", "targets": len(changed)},
        )  # fmt: skip
        return len(changed)


def visitor_choices(
    bind: Engine | Connection, *, within: str | None
) -> dict[str, list[dict[str, Any]]]:
    """Who may be assigned targets in an area: its party members, grid workers and street
    offices' users (``id`` and ``name``; names are people's data, for those who assign)."""
    members = select(PartyMember.id, PartyMember.name).order_by(PartyMember.name, PartyMember.id)
    workers = select(GridWorker.id, GridWorker.name).order_by(GridWorker.name, GridWorker.id)
    users = select(AppUser.id, AppUser.name).where(AppUser.role == "street").order_by(AppUser.name)
    if within is not None:
        members = members.where(PartyMember.community_code.startswith(within))
        workers = workers.where(GridWorker.street_code == within[:9])
        users = users.where(AppUser.street_code == within[:9])
    with reading(bind) as conn:
        return {
            kind: [{"id": int(i), "name": str(n)} for i, n in conn.execute(query.limit(2000))]
            for kind, query in (("member", members), ("worker", workers), ("user", users))
        }
