"""Changing the party organisation tree by hand (issue 19, point 1): create, rename,
change kind, move under another parent, set the cells and buildings covered, delete.

Each function changes one organisation in the caller's transaction and writes its audit
row there (:func:`gridgis.audit.record`: who, what, before and after, the secretary's
phone masked). ``street`` limits a street office: the organisation, its new parent and
every cell and building it covers must lie in that street (an organisation of no
community is the district's, outside every street). A move that would make an
organisation its own ancestor is refused (:class:`~gridgis.errors.ConflictError`, 409).

Deleting an organisation that has children either refuses (``children="refuse"``, the
default: 409 naming them) or hands them to its parent (``children="reparent"``); its
members keep their record with no organisation, its cell and building links go with it.

Examples
--------
>>> with engine.begin() as conn:  # doctest: +SKIP
...     new = create_organisation(conn, name="1号楼党小组", kind="group", parent_id=12,
...                               buildings=["B0101"], actor="li")
...     update_organisation(conn, new, {"name": "1号楼第一党小组"}, actor="li")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from gridgis import audit
from gridgis.db.models import (
    BRANCH_KINDS,
    BranchBuilding,
    BranchCell,
    Building,
    Community,
    GridCell,
    PartyBranch,
)
from gridgis.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from gridgis.registers.kinds import BRANCH_KIND_NAMES, branch_kind
from gridgis.registers.workers import check_phone

__all__ = [
    "CHILD_RULES",
    "EDITABLE",
    "MAX_ID",
    "create_organisation",
    "delete_organisation",
    "get_organisation",
    "set_coverage",
    "update_organisation",
]

EDITABLE: tuple[str, ...] = (
    "name", "kind", "parent_id", "secretary", "secretary_phone", "member_count", "address",
)  # fmt: skip
"""The fields :func:`update_organisation` changes."""

MAX_ID = 2**31 - 1
"""The largest id an organisation may have (``integer``): a larger one names none."""

CHILD_RULES: tuple[str, ...] = ("refuse", "reparent")
"""What deleting an organisation with children does: refuse, or hand them to its parent."""

_FIELDS = (
    PartyBranch.id, PartyBranch.external_id, PartyBranch.name, PartyBranch.kind,
    PartyBranch.parent_id, PartyBranch.community_code, PartyBranch.address,
    PartyBranch.secretary, PartyBranch.secretary_phone, PartyBranch.member_count,
)  # fmt: skip


def get_organisation(conn: Connection, organisation_id: int) -> dict[str, Any]:
    """One organisation as stored, with its ``cells`` (codes) and ``buildings`` (ids).

    Raises
    ------
    NotFoundError
        When no organisation has that id.
    """
    if not 1 <= organisation_id <= MAX_ID:
        raise NotFoundError(
            f"organisation {organisation_id} does not exist",
            field="id",
            zh=f"党组织 {organisation_id} 不存在",
        )
    row = conn.execute(select(*_FIELDS).where(PartyBranch.id == organisation_id)).one_or_none()
    if row is None:
        raise NotFoundError(
            f"organisation {organisation_id} does not exist",
            field="id",
            zh=f"党组织 {organisation_id} 不存在",
        )
    out = dict(row._mapping)
    out["cells"] = sorted(
        conn.execute(
            select(GridCell.code)
            .join(BranchCell, BranchCell.cell_id == GridCell.id)
            .where(BranchCell.branch_id == organisation_id, GridCell.valid_to.is_(None))
        ).scalars()
    )
    out["buildings"] = sorted(
        int(b)
        for b in conn.execute(
            select(BranchBuilding.building_id).where(BranchBuilding.branch_id == organisation_id)
        ).scalars()
    )
    return out


def _street_of(community: str | None) -> str | None:
    return community[:9] if community else None


def _in_street(street: str | None, community: str | None, what: str, what_zh: str) -> None:
    """Refuse (403) what lies outside ``street``."""
    if street is not None and not (community or "").startswith(street):
        where = f"community {community}" if community else "no community (the district's)"
        where_zh = f"社区 {community}" if community else "区级（不属于任何社区）"
        raise ForbiddenError(
            f"{what} lies in {where}, outside street {street}",
            zh=f"{what_zh} 位于{where_zh}，不在街道 {street} 内",
        )


def _seen(street: str | None, community: str | None, organisation_id: int, field: str) -> None:
    """Refuse an organisation outside ``street`` as if it did not exist (404): a street
    office does not learn which ids other streets hold."""
    if street is not None and not (community or "").startswith(street):
        raise NotFoundError(
            f"organisation {organisation_id} does not exist",
            field=field,
            zh=f"党组织 {organisation_id} 不存在",
        )


def _kind(value: str) -> str:
    kind = value if value in BRANCH_KINDS else branch_kind(value)
    if kind is None:
        listing = "、".join(BRANCH_KIND_NAMES.values())
        raise InputError(
            f"`kind` was {value!r} but is expected to be one of {list(BRANCH_KINDS)} ({listing})",
            field="kind",
            zh=f"`kind` 为 {value!r}，应为以下之一：{list(BRANCH_KINDS)}（{listing}）",
        )
    return kind


def _check_parent(
    conn: Connection, organisation_id: int | None, parent_id: int | None, street: str | None
) -> None:
    """Refuse a parent that does not exist, lies outside ``street`` or is the organisation
    itself or one of its descendants."""
    if parent_id is None:
        return
    if not 1 <= parent_id <= MAX_ID:
        raise NotFoundError(
            f"parent organisation {parent_id} does not exist",
            field="parent_id",
            zh=f"上级组织 {parent_id} 不存在",
        )
    parent = conn.execute(
        select(PartyBranch.community_code).where(PartyBranch.id == parent_id)
    ).one_or_none()
    if parent is None:
        raise NotFoundError(
            f"parent organisation {parent_id} does not exist",
            field="parent_id",
            zh=f"上级组织 {parent_id} 不存在",
        )
    _seen(street, parent.community_code, parent_id, "parent_id")
    if organisation_id is None:
        return
    up = {int(i): p for i, p in conn.execute(select(PartyBranch.id, PartyBranch.parent_id))}
    node: int | None = parent_id
    seen: set[int] = set()
    while node is not None and node not in seen:  # walk up the parent's ancestors
        if node == organisation_id:
            raise ConflictError(
                f"`parent_id` was {parent_id} but organisation {parent_id} lies under "
                f"organisation {organisation_id}: the move would make a cycle",
                field="parent_id",
                zh=f"`parent_id` 为 {parent_id}，但党组织 {parent_id} 是党组织 "
                f"{organisation_id} 的下级：这样移动会形成循环",
            )
        seen.add(node)
        node = up.get(node)


def _cells(conn: Connection, codes: Sequence[str], street: str | None) -> list[tuple[int, str]]:
    """(id, community) of the active cells of ``codes``; unknown codes and cells outside
    ``street`` refused together."""
    wanted = sorted(set(codes))
    found = {
        str(code): (int(i), str(community))
        for i, code, community in conn.execute(
            select(GridCell.id, GridCell.code, GridCell.community_code).where(
                GridCell.code.in_(wanted), GridCell.valid_to.is_(None)
            )
        )
    }
    if unknown := [c for c in wanted if c not in found]:
        raise NotFoundError(
            f"`cells` named {unknown} but no active cell has these codes",
            field="cells",
            zh=f"`cells` 中的 {unknown} 不是任何现行网格的编码",
        )
    if street is not None and (away := [c for c in wanted if not c.startswith(street)]):
        raise ForbiddenError(
            f"cells {away} lie outside street {street}", zh=f"网格 {away} 不在街道 {street} 内"
        )
    return [found[c] for c in wanted]


def _buildings(
    conn: Connection, values: Sequence[str | int], street: str | None
) -> list[tuple[int, str]]:
    """(id, community) of the buildings named by external id (楼栋编号), else by database id."""
    wanted = sorted({str(v) for v in values})
    rows = conn.execute(
        select(Building.id, Building.external_id, Building.community_code).where(
            Building.external_id.in_(wanted)
            | Building.id.in_([int(v) for v in wanted if v.isdigit() and len(v) < 18])
        )
    ).all()
    by_external = {str(r.external_id): r for r in rows if r.external_id is not None}
    by_id = {str(r.id): r for r in rows}
    out: dict[int, str] = {}
    unknown: list[str] = []
    for value in wanted:
        row = by_external.get(value) or by_id.get(value)
        if row is None:
            unknown.append(value)
        else:
            out[int(row.id)] = str(row.community_code)
    if unknown:
        raise NotFoundError(
            f"`buildings` named {unknown} but no building has these ids",
            field="buildings",
            zh=f"`buildings` 中的 {unknown} 不是任何楼栋的编号",
        )
    if street is not None and (
        away := sorted(b for b, c in out.items() if not c.startswith(street))
    ):
        raise ForbiddenError(
            f"buildings {away} lie outside street {street}",
            zh=f"楼栋 {away} 不在街道 {street} 内",
        )
    return sorted(out.items())


def _location(
    conn: Connection,
    *,
    lon: float | None,
    lat: float | None,
    cell_ids: list[int],
    building_ids: list[int],
    parent_id: int | None,
    community: str | None,
) -> Any:
    """Where a new organisation is put: the point given, else inside its first cell, else on
    its first building, else its parent's place, else inside its community."""
    if lon is not None and lat is not None:
        return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    candidates: list[Any] = []
    if cell_ids:
        candidates.append(
            select(func.ST_PointOnSurface(GridCell.geom)).where(GridCell.id == cell_ids[0])
        )
    if building_ids:
        candidates.append(select(Building.location).where(Building.id == building_ids[0]))
    if parent_id is not None:
        candidates.append(select(PartyBranch.location).where(PartyBranch.id == parent_id))
    if community is not None:
        candidates.append(
            select(func.ST_PointOnSurface(Community.geom)).where(Community.code == community)
        )
    for query in candidates:
        point = conn.execute(query).scalar()
        if point is not None:
            return point
    raise InputError(
        "the organisation has no place: give `lon` and `lat`, or a cell, a building, a "
        "parent or a community",
        field="lon",
        zh="该党组织没有位置：请给出 `lon` 和 `lat`，或网格、楼栋、上级组织或社区",
    )


def _check_values(values: Mapping[str, Any]) -> None:
    if "name" in values and not str(values["name"] or "").strip():
        raise InputError(
            "`name` was empty but an organisation needs a name",
            field="name",
            zh="`name` 为空：党组织必须有名称",
        )
    count = values.get("member_count")
    if count is not None and (not isinstance(count, int) or count < 0):
        raise InputError(
            f"`member_count` was {count!r} but is expected to be a whole number of 0 or more",
            field="member_count",
            zh=f"`member_count` 为 {count!r}，应为 0 或更大的整数",
        )
    if (why := check_phone(values.get("secretary_phone"))) is not None:
        raise InputError(
            why.replace("phone", "secretary's phone", 1),
            field="secretary_phone",
            zh=f"书记电话 {values.get('secretary_phone')!r} 不是电话号码"
            "（应为数字，可含 - 或空格）",
        )


def create_organisation(
    conn: Connection,
    *,
    name: str,
    kind: str = "branch",
    parent_id: int | None = None,
    community_code: str | None = None,
    cells: Sequence[str] = (),
    buildings: Sequence[str | int] = (),
    secretary: str | None = None,
    secretary_phone: str | None = None,
    member_count: int = 0,
    address: str | None = None,
    external_id: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    street: str | None = None,
    actor: str,
) -> int:
    """Create an organisation (its community: as given, else its first cell's or
    building's, else its parent's) and return its id."""
    values = {"name": name, "member_count": member_count, "secretary_phone": secretary_phone}
    _check_values(values)
    chosen = _kind(kind)
    _check_parent(conn, None, parent_id, street)
    cell_rows = _cells(conn, cells, street)
    building_rows = _buildings(conn, buildings, street)
    if community_code is None:
        firsts = [c for _, c in cell_rows] + [c for _, c in building_rows]
        if firsts:
            community_code = firsts[0]
        elif parent_id is not None:
            community_code = conn.execute(
                select(PartyBranch.community_code).where(PartyBranch.id == parent_id)
            ).scalar()
    elif (
        conn.execute(select(Community.code).where(Community.code == community_code)).first() is None
    ):
        raise NotFoundError(
            f"`community_code` was {community_code!r} but no community has it",
            field="community_code",
            zh=f"`community_code` 为 {community_code!r}，没有这个编码的社区",
        )
    _in_street(street, community_code, "the organisation", "该党组织")
    if (
        external_id is not None
        and conn.execute(
            select(PartyBranch.id).where(PartyBranch.external_id == external_id)
        ).first()
    ):
        raise ConflictError(
            f"`external_id` was {external_id!r} but an organisation has it already",
            field="external_id",
            zh=f"`external_id` 为 {external_id!r}，已有党组织使用该编号",
        )
    location = _location(
        conn, lon=lon, lat=lat, cell_ids=[i for i, _ in cell_rows],
        building_ids=[i for i, _ in building_rows], parent_id=parent_id,
        community=community_code,
    )  # fmt: skip
    new_id = conn.execute(
        insert(PartyBranch)
        .values(
            external_id=external_id,
            name=name.strip(),
            kind=chosen,
            parent_id=parent_id,
            community_code=community_code,
            secretary=secretary,
            secretary_phone=secretary_phone,
            member_count=member_count,
            address=address,
            location=location,
        )
        .returning(PartyBranch.id)
    ).scalar_one()
    if external_id is None:  # an id of its own, which an export writes and an import matches
        taken = conn.execute(
            select(PartyBranch.id).where(PartyBranch.external_id == str(new_id))
        ).first()
        conn.execute(
            update(PartyBranch)
            .where(PartyBranch.id == new_id)
            .values(external_id=f"org-{new_id}" if taken else str(new_id))
        )
    _link(conn, new_id, [i for i, _ in cell_rows], [i for i, _ in building_rows])
    after = get_organisation(conn, new_id)
    audit.record(conn, actor=actor, action="create", object_type="organisation",
                 object_id=new_id, after=after, street_code=_street_of(community_code))  # fmt: skip
    return int(new_id)


def _link(conn: Connection, organisation_id: int, cells: list[int], buildings: list[int]) -> None:
    conn.execute(delete(BranchCell).where(BranchCell.branch_id == organisation_id))
    conn.execute(delete(BranchBuilding).where(BranchBuilding.branch_id == organisation_id))
    if cells:
        conn.execute(
            insert(BranchCell), [{"branch_id": organisation_id, "cell_id": c} for c in cells]
        )
    if buildings:
        conn.execute(
            insert(BranchBuilding),
            [{"branch_id": organisation_id, "building_id": b} for b in buildings],
        )


def update_organisation(
    conn: Connection,
    organisation_id: int,
    changes: Mapping[str, Any],
    *,
    cells: Sequence[str] | None = None,
    buildings: Sequence[str | int] | None = None,
    street: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Rename, change the kind, move under another parent (``parent_id``; ``None``: a root),
    change the secretary, phone, member count or address, and make the cells (codes) and
    buildings (楼栋编号, else database ids) it covers exactly those given (``None``: keep
    them); one audit row. Returns the organisation."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InputError(
            f"fields {unknown} cannot be changed; these can: {list(EDITABLE)}",
            zh=f"字段 {unknown} 不能修改；可以修改的字段：{list(EDITABLE)}",
        )
    before = get_organisation(conn, organisation_id)
    _seen(street, before["community_code"], organisation_id, "id")
    values = dict(changes)
    _check_values(values)
    if "kind" in values:
        values["kind"] = _kind(str(values["kind"]))
    if "name" in values:
        values["name"] = str(values["name"]).strip()
    if "parent_id" in values:
        if values["parent_id"] == organisation_id:
            raise ConflictError(
                f"`parent_id` was {organisation_id}: an organisation cannot be its own parent",
                field="parent_id",
                zh=f"`parent_id` 为 {organisation_id}：党组织不能是自己的上级组织",
            )
        _check_parent(conn, organisation_id, values["parent_id"], street)
    if values:
        conn.execute(update(PartyBranch).where(PartyBranch.id == organisation_id).values(**values))
    if cells is not None or buildings is not None:
        cell_ids = (
            [i for i, _ in _cells(conn, cells, street)]
            if cells is not None
            else [int(i) for i, _ in _cells(conn, before["cells"], None)]
        )
        building_ids = (
            [i for i, _ in _buildings(conn, buildings, street)]
            if buildings is not None
            else list(before["buildings"])
        )
        _link(conn, organisation_id, cell_ids, building_ids)
    after = get_organisation(conn, organisation_id)
    audit.record(conn, actor=actor, action="update", object_type="organisation",
                 object_id=organisation_id, before=before, after=after,
                 street_code=_street_of(before["community_code"]))  # fmt: skip
    return after


def set_coverage(
    conn: Connection,
    organisation_id: int,
    *,
    cells: Sequence[str] | None = None,
    buildings: Sequence[str | int] | None = None,
    street: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Make the cells and buildings an organisation covers exactly those given (``None``:
    keep them as they are); returns the organisation (:func:`update_organisation`)."""
    return update_organisation(
        conn, organisation_id, {}, cells=cells, buildings=buildings, street=street, actor=actor
    )


def delete_organisation(
    conn: Connection,
    organisation_id: int,
    *,
    children: str = "refuse",
    street: str | None = None,
    actor: str,
) -> list[int]:
    """Delete an organisation; returns the ids of the children handed to its parent.

    Raises
    ------
    ConflictError
        (409) with ``children="refuse"`` when it has children (naming them).
    """
    if children not in CHILD_RULES:
        raise InputError(
            f"`children` was {children!r} but is expected to be one of {list(CHILD_RULES)}",
            field="children",
            zh=f"`children` 为 {children!r}，应为以下之一：{list(CHILD_RULES)}",
        )
    before = get_organisation(conn, organisation_id)
    _seen(street, before["community_code"], organisation_id, "id")
    kids = [
        int(i)
        for i in conn.execute(
            select(PartyBranch.id)
            .where(PartyBranch.parent_id == organisation_id)
            .order_by(PartyBranch.id)
        ).scalars()
    ]
    if kids and children == "refuse":
        raise ConflictError(
            f"organisation {organisation_id} has {len(kids)} child organisations {kids}: "
            "move or delete them first, or delete with children=reparent to hand them to "
            "its parent",
            field="children",
            zh=f"党组织 {organisation_id} 有 {len(kids)} 个下级组织 {kids}：请先移动或删除它们，"
            "或以 children=reparent 删除，把下级组织移交给它的上级组织",
        )
    if kids:
        conn.execute(
            update(PartyBranch)
            .where(PartyBranch.id.in_(kids))
            .values(parent_id=before["parent_id"])
        )
    conn.execute(delete(PartyBranch).where(PartyBranch.id == organisation_id))
    audit.record(conn, actor=actor, action="delete", object_type="organisation",
                 object_id=organisation_id, before=before,
                 after={"children_moved_to": before["parent_id"], "children": kids},
                 street_code=_street_of(before["community_code"]))  # fmt: skip
    return kids
