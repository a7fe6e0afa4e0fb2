"""Visits (入户走访): whom a visitor is to visit, and a visit logged from the phone.

A visit names its target, its visitor (a party member, a grid worker or a street
office's user: :class:`~gridgis.party.campaigns.Visitor`), when it was made, where
the phone was (the browser's geolocation, WGS84, with its accuracy in metres), a
note, photos (kept in the case photo store, :mod:`gridgis.cases.photos`) and the
problems found, each of which becomes an entry of the ledger (台账,
:mod:`gridgis.party.ledger`). A visit by a party member earns the member points
(:func:`gridgis.party.points.record_activity`, kind ``visit``).

Who may visit whom (:func:`check_visit`): a party member the targets assigned to it;
a grid worker those assigned to it and those of its street; a street office's user
those of its street; an administrator any.

Names and phones of targets are people's data: a listing masks them unless
``people`` says the user may see those of the target's street.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)

from gridgis import audit
from gridgis.access import Policy
from gridgis.cases.categories import load_categories
from gridgis.cases.photos import Photo, PhotoStore
from gridgis.db.models import (
    SRID,
    AppUser,
    Building,
    GridCell,
    GridWorker,
    LedgerEntry,
    PartyMember,
    ResidentHousehold,
    Visit,
    VisitCampaign,
    VisitPhoto,
    VisitTarget,
)
from gridgis.db.queries import reading, transaction
from gridgis.errors import ForbiddenError, InputError, NotFoundError
from gridgis.party.campaigns import Visitor, known_id
from gridgis.party.points import record_activity
from gridgis.times import aware, parse_time

__all__ = [
    "check_visit",
    "get_target",
    "join_target_people",
    "join_visitor",
    "known_id",
    "list_targets",
    "list_visits",
    "log_visit",
    "target_columns",
    "target_point",
    "visit_photo",
    "visit_photos",
    "visitor_name",
    "visitor_of",
]

MAX_NOTE_CHARS = 2000
"""The longest note or problem description."""
MAX_PROBLEMS = 20
"""The most problems one visit may record."""

People = Callable[[str | None], bool]
"""Whether the user may see the people's data of a street (``Policy.may_see_people``)."""

_CHINA = dt.timezone(dt.timedelta(hours=8))


def visitor_of(policy: Policy, user_id: int | None) -> Visitor:
    """The visitor a user logs visits as: its party member, its grid worker, else itself."""
    if policy.role == "member" and policy.member is not None:
        return Visitor(member_id=policy.member)
    if policy.role == "worker" and policy.worker is not None:
        return Visitor(worker_id=policy.worker)
    if policy.role in ("street", "admin") and user_id is not None:
        return Visitor(user_id=user_id)
    raise ForbiddenError(
        f"user {policy.name or ''!r} does not visit ({policy.role})",
        zh=f"用户 {policy.name or ''!r}（{policy.role}）不做走访",
    )


_HOUSEHOLD = ResidentHousehold.__table__.alias("h")
_MEMBER = PartyMember.__table__.alias("m")
_BUILDING = Building.__table__.alias("b")
_VMEMBER = PartyMember.__table__.alias("vm")
_VWORKER = GridWorker.__table__.alias("vw")
_VUSER = AppUser.__table__.alias("vu")


def target_columns() -> list[Any]:
    """The name (``target_name``: the head of household, the member, the building) and the
    ``address`` of a target, for a query joined by :func:`join_target_people`."""
    return [
        func.coalesce(
            _HOUSEHOLD.c.head_name, _MEMBER.c.name, _BUILDING.c.name, _BUILDING.c.address
        ).label("target_name"),
        func.coalesce(_BUILDING.c.address, _HOUSEHOLD.c.address, _MEMBER.c.address).label(
            "address"
        ),
    ]


def target_point() -> list[Any]:
    """The point of a target's building (``target_lon``, ``target_lat``), for a query joined
    by :func:`join_target_people`."""
    return [
        func.ST_X(_BUILDING.c.location).label("target_lon"),
        func.ST_Y(_BUILDING.c.location).label("target_lat"),
    ]


def join_target_people(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """``query`` (which reads ``visit_target``) joined to its household, member and building."""
    return (
        query.outerjoin(_HOUSEHOLD, _HOUSEHOLD.c.id == VisitTarget.household_id)
        .outerjoin(_MEMBER, _MEMBER.c.id == VisitTarget.member_id)
        .outerjoin(_BUILDING, _BUILDING.c.id == VisitTarget.building_id)
    )


def visitor_name() -> Any:
    """The visitor's name, for a query joined by :func:`join_visitor`."""
    return func.coalesce(_VMEMBER.c.name, _VWORKER.c.name, _VUSER.c.name).label("visitor_name")


def join_visitor(query: Select[*tuple[Any, ...]], table: Any) -> Select[*tuple[Any, ...]]:
    """``query`` joined to the visitor of ``table`` (``visit`` or ``visit_target``)."""
    return _with_visitor(query, table)


def _with_visitor(query: Select[*tuple[Any, ...]], table: Any) -> Select[*tuple[Any, ...]]:
    return (
        query.outerjoin(_VMEMBER, _VMEMBER.c.id == table.c.visitor_member_id)
        .outerjoin(_VWORKER, _VWORKER.c.id == table.c.visitor_worker_id)
        .outerjoin(_VUSER, _VUSER.c.id == table.c.visitor_user_id)
    )


def _visitor_kind(table: Any) -> Any:
    return case(
        (table.c.visitor_member_id.is_not(None), literal("member")),
        (table.c.visitor_worker_id.is_not(None), literal("worker")),
        (table.c.visitor_user_id.is_not(None), literal("user")),
        else_=None,
    )


@functools.cache
def _target_select() -> Select[*tuple[Any, ...]]:
    targets = VisitTarget.__table__
    last = (
        select(func.max(Visit.visited_at))
        .where(Visit.target_id == VisitTarget.id)
        .scalar_subquery()
    )
    query = select(
        VisitTarget.id,
        VisitTarget.campaign_id,
        VisitCampaign.name.label("campaign_name"),
        VisitTarget.kind,
        VisitTarget.household_id,
        VisitTarget.member_id,
        VisitTarget.building_id,
        VisitTarget.cell_id,
        GridCell.code.label("cell_code"),
        VisitTarget.community_code,
        VisitTarget.street_code,
        VisitTarget.reasons,
        func.coalesce(VisitTarget.due_on, VisitCampaign.ends_on).label("due_on"),
        func.coalesce(_HOUSEHOLD.c.head_name, _MEMBER.c.name).label("name"),
        func.coalesce(_HOUSEHOLD.c.phone, _MEMBER.c.phone).label("phone"),
        func.coalesce(_BUILDING.c.address, _HOUSEHOLD.c.address, _MEMBER.c.address).label(
            "address"
        ),
        _BUILDING.c.name.label("building_name"),
        _HOUSEHOLD.c.unit,
        _HOUSEHOLD.c.room,
        func.ST_X(_BUILDING.c.location).label("lon"),
        func.ST_Y(_BUILDING.c.location).label("lat"),
        _visitor_kind(targets).label("visitor_kind"),
        func.coalesce(
            targets.c.visitor_member_id, targets.c.visitor_worker_id, targets.c.visitor_user_id
        ).label("visitor_id"),
        func.coalesce(_VMEMBER.c.name, _VWORKER.c.name, _VUSER.c.name).label("visitor_name"),
        last.label("visited_at"),
    )
    query = (
        query.select_from(VisitTarget)
        .join(VisitCampaign, VisitCampaign.id == VisitTarget.campaign_id)
        .outerjoin(GridCell, GridCell.id == VisitTarget.cell_id)
        .outerjoin(_HOUSEHOLD, _HOUSEHOLD.c.id == VisitTarget.household_id)
        .outerjoin(_MEMBER, _MEMBER.c.id == VisitTarget.member_id)
        .outerjoin(_BUILDING, _BUILDING.c.id == VisitTarget.building_id)
    )
    return _with_visitor(query, targets)


def _masked(row: Mapping[Any, Any], people: People | None, fields: Sequence[str]) -> dict[str, Any]:
    out = dict(row)
    if people is not None and not people(out.get("street_code")):
        for field in fields:
            out[field] = audit.mask_person(out.get(field), "name" if "name" in field else field)
    return out


def _target(row: Any, people: People | None) -> dict[str, Any]:
    out = _masked(row._mapping, people, ("name", "phone", "visitor_name"))
    out["reasons"] = list(out["reasons"] or [])
    out["visited"] = out["visited_at"] is not None
    if out["kind"] == "building" and out["name"] is None:
        out["name"] = out.pop("building_name") or out["address"]
    else:
        out.pop("building_name", None)
    return out


def _assigned_to(visitor: Visitor) -> Any:
    if visitor.member_id is not None:
        return VisitTarget.visitor_member_id == visitor.member_id
    if visitor.worker_id is not None:
        return VisitTarget.visitor_worker_id == visitor.worker_id
    return VisitTarget.visitor_user_id == visitor.user_id


def list_targets(
    bind: Engine | Connection,
    *,
    campaign_id: int | None = None,
    visitor: Visitor | None = None,
    within: str | None = None,
    cell: str | None = None,
    visited: bool | None = None,
    people: People | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Targets, by cell and id: of a campaign, assigned to a ``visitor``, in an area.

    Parameters
    ----------
    visitor:
        Only the targets assigned to this visitor.
    within:
        Only targets in this area (a code prefix: a street office's street).
    visited:
        Only those visited (``True``) or not yet (``False``).
    people:
        Whether the user may see the names and phones of a street's people
        (masked where not); ``None``: shown as stored.
    """
    query = _target_select()
    if campaign_id is not None:
        query = query.where(VisitTarget.campaign_id == int(campaign_id))
    if visitor is not None:
        query = query.where(_assigned_to(visitor))
    if within is not None:
        query = query.where(VisitTarget.community_code.startswith(within))
    if cell is not None:
        query = query.where(GridCell.code == cell)
    if visited is not None:
        seen = exists().where(Visit.target_id == VisitTarget.id)
        query = query.where(seen if visited else ~seen)
    query = query.order_by(GridCell.code, VisitTarget.id).limit(limit).offset(offset)
    with reading(bind) as conn:
        return [_target(r, people) for r in conn.execute(query)]


def get_target(
    bind: Engine | Connection, target_id: int, *, people: People | None = None
) -> dict[str, Any]:
    """One target (as :func:`list_targets` gives it); :class:`NotFoundError` if none."""
    target_id = known_id(target_id, "visit target", bits=63)
    with reading(bind) as conn:
        row = conn.execute(_target_select().where(VisitTarget.id == int(target_id))).one_or_none()
    if row is None:
        raise NotFoundError(
            f"visit target {target_id} does not exist", zh=f"走访对象 {target_id} 不存在"
        )
    return _target(row, people)


def check_visit(target: Mapping[str, Any], policy: Policy, visitor: Visitor) -> None:
    """Refuse a visit ``visitor`` may not log on ``target`` (as not found: 404).

    A party member visits the targets assigned to it; a grid worker those assigned to it
    and those in its street; a street office's user those in its street; an
    administrator any.
    """
    assigned = (target["visitor_kind"], target["visitor_id"])
    if policy.role == "admin":
        return
    if policy.role == "member" and assigned == ("member", visitor.member_id):
        return
    if policy.role == "worker" and (
        assigned == ("worker", visitor.worker_id) or policy.may_see(target["community_code"])
    ):
        return
    if policy.role == "street" and policy.may_change(target["community_code"]):
        return
    raise NotFoundError(
        f"visit target {target['id']} does not exist", zh=f"走访对象 {target['id']} 不存在"
    )


def _check_note(value: object, field: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise InputError(f"`{field}` is required", field=field, zh=f"`{field}` 必须填写")
        return None
    if not isinstance(value, str) or len(value) > MAX_NOTE_CHARS or "\x00" in value:
        raise InputError(
            f"`{field}` is expected to be text of at most {MAX_NOTE_CHARS} characters",
            field=field,
            zh=f"`{field}` 应为不超过 {MAX_NOTE_CHARS} 个字符的文字",
        )
    if required and not value.strip():
        raise InputError(f"`{field}` is required", field=field, zh=f"`{field}` 必须填写")
    return value.strip()


def _check_point(
    lon: float | None, lat: float | None, accuracy: float | None
) -> tuple[float | None, float | None]:
    if (lon is None) != (lat is None):
        raise InputError(
            f"`lon` was {lon!r} and `lat` was {lat!r}: give both, or neither",
            field="lon",
            zh=f"`lon` 为 {lon!r}，`lat` 为 {lat!r}：两者要么都给，要么都不给",
        )
    if lon is not None and lat is not None and not (73 <= lon <= 136 and 3 <= lat <= 54):
        raise InputError(
            f"`lon`, `lat` were {lon!r}, {lat!r} but are expected to be WGS84 degrees "
            "in China (the browser's geolocation)",
            field="lon",
            zh=f"`lon`、`lat` 为 {lon!r}、{lat!r}，应为中国境内的 WGS84 经纬度（浏览器定位所得）",
        )
    if accuracy is not None and not float(accuracy) >= 0:
        raise InputError(
            f"`accuracy` was {accuracy!r} but is expected to be 0 or more metres",
            zh=f"`accuracy` 为 {accuracy!r}，应为 0 或更大的米数",
        )
    return lon, lat


def log_visit(
    bind: Engine | Connection,
    target_id: int,
    *,
    policy: Policy,
    visitor: Visitor,
    visited_at: dt.datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    accuracy: float | None = None,
    note: str | None = None,
    problems: Sequence[Mapping[str, Any]] = (),
    photos: Sequence[Photo] = (),
    store: PhotoStore | None = None,
    written: list[str] | None = None,
    actor: str,
) -> dict[str, Any]:
    """Log a visit of ``target_id`` by ``visitor``, with its problems and photos; audited.

    Parameters
    ----------
    policy:
        The user's policy: who may visit whom (:func:`check_visit`).
    visited_at:
        When (default now; naive means China Standard Time).
    lon, lat, accuracy:
        Where the phone was (WGS84 degrees) and how sure it was (metres).
    problems:
        Each a mapping with ``category`` (a case category's code or name) and
        ``description``: an entry of the ledger each.
    photos:
        Checked photos (:func:`gridgis.cases.photos.prepare_photos`), kept in ``store``
        under ``visits/<visit id>/``; the keys written are added to ``written``.

    Returns
    -------
    dict
        The visit (:func:`list_visits`'s form) with ``ledger_ids`` and ``points``.
    """
    when = _now()
    if visited_at is not None:
        when = parse_time(aware(visited_at, field="visited_at"), field="visited_at")
    note = _check_note(note, "note")
    lon, lat = _check_point(lon, lat, accuracy)
    if len(problems) > MAX_PROBLEMS:
        raise InputError(
            f"a visit records at most {MAX_PROBLEMS} problems",
            field="problems",
            zh=f"一次走访最多记录 {MAX_PROBLEMS} 个问题",
        )
    if photos and store is None:
        raise InputError(
            "photos need a store", field="photos", zh="没有存放照片的位置，无法保存照片"
        )
    with transaction(bind) as conn:
        target = get_target(conn, target_id)
        check_visit(target, policy, visitor)
        categories = load_categories(conn)
        found = []
        for i, problem in enumerate(problems, start=1):
            description = _check_note(
                problem.get("description"), f"problems[{i}].description", required=True
            )
            found.append((categories.resolve(problem.get("category")), description))
        geom = None
        if lon is not None and lat is not None:
            geom = func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), SRID)
        visit_id = int(
            conn.execute(
                insert(Visit)
                .values(campaign_id=target["campaign_id"], target_id=target["id"],
                        visited_at=when, geom=geom,
                        accuracy=None if accuracy is None else float(accuracy),
                        note=note, logged_by=actor, **visitor.columns)
                .returning(Visit.id)
            ).scalar_one()
        )  # fmt: skip
        ledger_ids = []
        for category, description in found:
            ledger_ids.append(
                int(
                    conn.execute(
                        insert(LedgerEntry)
                        .values(campaign_id=target["campaign_id"], target_id=target["id"],
                                visit_id=visit_id, cell_id=target["cell_id"],
                                community_code=target["community_code"],
                                street_code=target["street_code"], category_code=category,
                                description=description, found_by=actor, found_at=when)
                        .returning(LedgerEntry.id)
                    ).scalar_one()
                )
            )  # fmt: skip
        for photo in photos:
            assert store is not None
            key = f"visits/{visit_id}/{photo.sha256}.{photo.extension}"
            if store.put(key, photo.data) and written is not None:
                written.append(key)
            conn.execute(
                insert(VisitPhoto).values(
                    visit_id=visit_id, storage_key=key, content_type=photo.content_type,
                    width=photo.width, height=photo.height, bytes=len(photo.data),
                    sha256=photo.sha256, created_by=actor,
                )
            )  # fmt: skip
        points = None
        if visitor.member_id is not None:
            points = record_activity(
                conn, member_id=visitor.member_id, kind="visit",
                occurred_on=when.astimezone(_CHINA).date(), source="visit",
                source_id=visit_id, actor=actor,
            )  # fmt: skip
        audit.record(
            conn,
            actor=actor,
            action="create",
            object_type="visit",
            object_id=visit_id,
            after={"campaign_id": target["campaign_id"], "target_id": target["id"],
                   "visited_at": when, **visitor.columns, "gps": geom is not None,
                   "photos": len(photos), "ledger_ids": ledger_ids},
            street_code=target["street_code"],
        )  # fmt: skip
        for entry in ledger_ids:
            audit.record(
                conn, actor=actor, action="create", object_type="ledger_entry",
                object_id=entry, after={"visit_id": visit_id, "campaign_id":
                                        target["campaign_id"]},
                street_code=target["street_code"],
            )  # fmt: skip
        visit = list_visits(conn, visit_id=visit_id)[0]
    visit["ledger_ids"] = ledger_ids
    visit["points"] = points
    return visit


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@functools.cache
def _visit_select() -> Select[*tuple[Any, ...]]:
    """The visits with their target, cell, visitor and counts (filters are added)."""
    visits = Visit.__table__
    photos = select(func.count()).where(VisitPhoto.visit_id == Visit.id).scalar_subquery()
    problems = select(func.count()).where(LedgerEntry.visit_id == Visit.id).scalar_subquery()
    query = select(
        Visit.id,
        Visit.campaign_id,
        VisitCampaign.name.label("campaign_name"),
        Visit.target_id,
        VisitTarget.kind.label("target_kind"),
        *target_columns(),
        GridCell.code.label("cell_code"),
        VisitTarget.community_code,
        VisitTarget.street_code,
        Visit.visited_at,
        _visitor_kind(visits).label("visitor_kind"),
        visitor_name(),
        func.ST_X(Visit.geom).label("lon"),
        func.ST_Y(Visit.geom).label("lat"),
        Visit.accuracy,
        Visit.note,
        Visit.logged_by,
        photos.label("photos"),
        problems.label("problems"),
    )
    query = (
        query.select_from(Visit)
        .join(VisitTarget, VisitTarget.id == Visit.target_id)
        .join(VisitCampaign, VisitCampaign.id == Visit.campaign_id)
        .outerjoin(GridCell, GridCell.id == VisitTarget.cell_id)
    )
    return _with_visitor(join_target_people(query), visits)


def list_visits(
    bind: Engine | Connection,
    *,
    visit_id: int | None = None,
    campaign_id: int | None = None,
    visitor: Visitor | None = None,
    within: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    people: People | None = None,
    limit: int | None = 500,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Visits, newest first, with their target's name (masked unless ``people``), the
    visitor's name, where the phone was and how many photos."""
    query = _visit_select()
    if visit_id is not None:
        query = query.where(Visit.id == int(visit_id))
    if campaign_id is not None:
        query = query.where(Visit.campaign_id == int(campaign_id))
    if visitor is not None:
        query = query.where(
            or_(
                *(
                    column == value
                    for column, value in (
                        (Visit.visitor_member_id, visitor.member_id),
                        (Visit.visitor_worker_id, visitor.worker_id),
                        (Visit.visitor_user_id, visitor.user_id),
                    )
                    if value is not None
                )
            )
        )
    if within is not None:
        query = query.where(VisitTarget.community_code.startswith(within))
    if since is not None:
        query = query.where(Visit.visited_at >= since)
    if until is not None:
        query = query.where(Visit.visited_at < until)
    query = query.order_by(Visit.visited_at.desc(), Visit.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with reading(bind) as conn:
        return [
            _masked(r._mapping, people, ("target_name", "visitor_name"))
            for r in conn.execute(query)
        ]


def visit_photo(bind: Engine | Connection, visit_id: int, photo_id: int) -> dict[str, Any]:
    """Photo ``photo_id`` of visit ``visit_id`` in the form :func:`gridgis.cases.photos.thumbnail`
    reads (``kind`` ``upload``), with the visit's street and its visitor (the ``visitor_*``
    columns of :attr:`Visitor.columns`); :class:`NotFoundError` if none."""
    query = (
        select(VisitPhoto.id, VisitPhoto.storage_key, VisitPhoto.content_type,
               VisitTarget.street_code, VisitTarget.community_code,
               Visit.visitor_member_id, Visit.visitor_worker_id, Visit.visitor_user_id)
        .join(Visit, Visit.id == VisitPhoto.visit_id)
        .join(VisitTarget, VisitTarget.id == Visit.target_id)
        .where(VisitPhoto.visit_id == int(visit_id), VisitPhoto.id == int(photo_id))
    )  # fmt: skip
    with reading(bind) as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(
            f"visit {visit_id} has no photo {photo_id}",
            zh=f"走访记录 {visit_id} 没有照片 {photo_id}",
        )
    return dict(row._mapping) | {"kind": "upload"}


def visit_photos(bind: Engine | Connection, visit_ids: Sequence[int]) -> dict[int, list[int]]:
    """The photos (ids, oldest first) of each of ``visit_ids`` that has any."""
    if not visit_ids:
        return {}
    query = (
        select(VisitPhoto.visit_id, VisitPhoto.id)
        .where(VisitPhoto.visit_id.in_(sorted({int(v) for v in visit_ids})))
        .order_by(VisitPhoto.visit_id, VisitPhoto.id)
    )
    found: dict[int, list[int]] = {}
    with reading(bind) as conn:
        for visit_id, photo_id in conn.execute(query):
            found.setdefault(int(visit_id), []).append(int(photo_id))
    return found
