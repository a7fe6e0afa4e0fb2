"""Filing a case: check it, place it (point, else address) and store it with one INSERT."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Text,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from gridgis import audit
from gridgis.cases.base import STEPS, _check_texts, _iso, _now, _translate
from gridgis.cases.cache import IntakeCache
from gridgis.cases.categories import load_categories
from gridgis.cases.filed_photos import Check, FiledPhotos
from gridgis.cases.photos import Photo, PhotoStore
from gridgis.crs import CRSLike, CRSSpec, parse_crs, to_wgs84
from gridgis.db.locate import DatabaseLocator
from gridgis.db.models import Building, Community
from gridgis.errors import ConflictError, InputError
from gridgis.geocode import CellIndex, CellLocator, IndexLocator, point_flag
from gridgis.times import aware, parse_time

if TYPE_CHECKING:
    from gridgis.address import AddressBook

from gridgis.cases.filing_sql import (
    _WHY_NOT_FILED,
    _insert,
    _Inserted,
    duplicate,
)

_TEXT, _FLOAT = Text(), Float()


_BUILDING = (
    select(
        Building.id,
        func.ST_X(Building.location).label("lon"),
        func.ST_Y(Building.location).label("lat"),
        Building.community_code,
        Community.street_code,
    )
    .join(Community, Community.code == Building.community_code)
    .where(Building.id == bindparam("id"))
)
_MAX_LAYOUT_RETRIES = 3
"""How often :func:`create_case` places a case again when layouts keep being published
under it, before it places it in the database instead."""


@functools.lru_cache(maxsize=64)
def _named_system(crs: str | int) -> tuple[CRSSpec, bool, bool]:
    return _system_of(crs)


def _system(crs: CRSLike) -> tuple[CRSSpec, bool, bool]:
    """The CRS, whether it is geographic (lon/lat) and whether it is WGS84 as it is.

    Remembered for CRSs named by text or number (asking pyproj costs about 30 µs a case).
    """
    if isinstance(crs, str | int) and not isinstance(crs, bool):
        return _named_system(crs)
    return _system_of(crs)


def _system_of(crs: CRSLike) -> tuple[CRSSpec, bool, bool]:
    spec = parse_crs(crs)
    geographic = spec.is_obfuscated or (spec.crs is not None and spec.crs.is_geographic)
    return spec, geographic, spec.is_wgs84


def _locate_point(
    conn: Connection, x: object, y: object, crs: CRSLike, cells: CellLocator | None
) -> dict[str, Any]:
    """Where the point (x, y) in ``crs`` is: WGS84 point, cell and flag (as case columns).

    The cell's code comes along as ``cell_code`` (not a column of ``case_record``).
    """
    try:
        fx, fy = float(x), float(y)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"`lon`/`lat` were ({x!r}, {y!r}) but are expected to be numbers",
            zh=f"`lon`/`lat` 为 ({x!r}, {y!r})，应为数字",
        ) from None
    spec, geographic, wgs84 = _system(crs)
    found: dict[str, Any] = {
        "raw_x": fx,
        "raw_y": fy,
        "raw_crs": spec.name,
        "located_by": "coordinates",
    }
    if geographic:
        # Check the numbers as given: converting a swapped pair first could turn it into
        # infinities (pyproj) and hide that it was merely swapped.
        flag = point_flag(fx, fy)
        if flag in ("swapped", "outside_china"):
            return found | {"location_flag": flag}
        if flag == "invalid":
            raise _invalid_point(fx, fy, spec.name)
    if wgs84:  # checked above; converting would change nothing
        lon, lat, checked = fx, fy, True
    else:
        converted = to_wgs84(fx, fy, spec)
        lon, lat, checked = float(converted[0]), float(converted[1]), False
    located = _find_cell(conn, lon, lat, cells, checked=checked)
    flag = located["flag"]
    if flag == "invalid":
        raise _invalid_point(fx, fy, spec.name)
    if flag in ("swapped", "outside_china"):
        return found | {"location_flag": flag}
    found |= {"lon": lon, "lat": lat}
    if flag is not None:  # 'outside' the district or in a 'gap': the point is kept
        return found | {"location_flag": flag}
    return found | {key: located[key] for key in _CELL_KEYS}


_CELL_KEYS = ("cell_id", "cell_code", "community_code", "street_code")


def _find_cell(
    conn: Connection,
    lon: float,
    lat: float,
    cells: CellLocator | None,
    *,
    checked: bool = False,
) -> dict[str, Any]:
    """``flag`` and, when located, the cell of one WGS84 point (``checked``: known plausible).

    ``cells``: where to look (``None``: the active cells, in the database).
    """
    if not checked:
        flag = point_flag(lon, lat)
        if flag != "ok":
            return {"flag": flag}
    return (cells if cells is not None else DatabaseLocator(conn)).cell_of(lon, lat)


def _invalid_point(x: float, y: float, crs_name: str) -> InputError:
    return InputError(
        f"`lon`/`lat` were ({x!r}, {y!r}) in {crs_name} but these are not a longitude and "
        "latitude (missing, or |lon| > 180 / |lat| > 90); projected coordinates need their "
        "`crs`, e.g. 'EPSG:4547'; file a case without a point by leaving lon and lat out"
    )


def _locate_address(
    conn: Connection, address: str, book: AddressBook | None, cells: CellLocator | None
) -> dict[str, Any]:
    """Where the address is: the matched building's point, its cell, or the 'unmatched' flag."""
    from gridgis.address import load_address_book, match_addresses

    if book is None:
        book = load_address_book(conn)
    match = match_addresses(book, [address]).iloc[0]
    score = float(match["score"])
    found: dict[str, Any] = {"located_by": "address", "match_score": min(max(score, 0.0), 1.0)}
    if pd.isna(match["building_id"]):
        return found | {"location_flag": "unmatched"}
    building = conn.execute(_BUILDING, {"id": int(match["building_id"])}).one()
    found |= {
        "building_id": int(building.id),
        "lon": float(building.lon),
        "lat": float(building.lat),
        "community_code": building.community_code,
        "street_code": building.street_code,
    }
    located = _find_cell(conn, float(building.lon), float(building.lat), cells)
    if located["flag"] is not None:
        return found | {"location_flag": located["flag"]}
    return found | {key: located[key] for key in _CELL_KEYS}


def locate_address(
    bind: Engine | Connection, address: str, *, book: AddressBook | None = None
) -> dict[str, Any]:
    """Where a new case filed at ``address`` would be placed, without filing it.

    What a filing form shows before saving: the building matched (its id and
    address), the score, the point and its cell, community and street, or
    ``location_flag`` (``unmatched``, ``outside`` …) and ``reason`` when it is not placed.

    Examples
    --------
    >>> locate_address(engine, "荔城区镇海街道文献社区瑞隆里59号1栋")["located_by"]
    'address'
    """
    from gridgis.address import load_address_book, match_addresses

    with _filing(bind, autocommit=True) as conn:
        if book is None:
            book = load_address_book(conn)
        found = _locate_address(conn, address, book, None)
        match = match_addresses(book, [address]).iloc[0]
        building_address = None
        if found.get("building_id") is not None:
            building_address = conn.execute(
                select(Building.address).where(Building.id == found["building_id"])
            ).scalar_one()
    return {
        "address": address,
        "lon": found.get("lon"),
        "lat": found.get("lat"),
        "building_id": found.get("building_id"),
        "building_address": building_address,
        "match_score": found.get("match_score"),
        "matched": str(match["matched"]) or None,
        "reason": match["reason"],
        "cell_code": found.get("cell_code"),
        "community_code": found.get("community_code"),
        "street_code": found.get("street_code"),
        "location_flag": found.get("location_flag"),
        "located_by": "address",
    }


def _place(
    conn: Connection,
    cells: CellLocator | None,
    *,
    lon: float | None,
    lat: float | None,
    crs: CRSLike,
    address: str | None,
    book: AddressBook | None,
) -> dict[str, Any]:
    """The location columns of a new case (see :func:`create_case`)."""
    place: dict[str, Any] = {
        "lon": None,
        "lat": None,
        "raw_x": None,
        "raw_y": None,
        "raw_crs": None,
        "cell_id": None,
        "cell_code": None,
        "community_code": None,
        "street_code": None,
        "located_by": None,
        "location_flag": None,
        "building_id": None,
        "match_score": None,
    }
    if lon is not None:
        return place | _locate_point(conn, lon, lat, crs, cells)
    if address is not None and address.strip():
        return place | _locate_address(conn, address, book, cells)
    return place | {"location_flag": "unmatched"}


@contextmanager
def _filing(bind: Engine | Connection, *, autocommit: bool) -> Iterator[Connection]:
    """Use ``bind`` if it is a connection (the caller commits), else a new one.

    Filing writes with one INSERT (the rest are reads): alone it is atomic, and with
    ``autocommit`` it saves the BEGIN and COMMIT round trips of a transaction. Without it
    (filing that looks the point up in PostGIS) one transaction is committed, so that
    :func:`gridgis.geocode.locate_in_db` can set its settings for it.
    """
    if isinstance(bind, Connection):
        yield bind
    elif autocommit:
        with bind.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
    else:
        with bind.begin() as conn:
            yield conn


def _file_cached(
    conn: Connection,
    cache: IntakeCache,
    category: object,
    values: dict[str, Any],
    where: dict[str, Any],
    *,
    durable: bool,
    direct: bool,
    photos: FiledPhotos | None = None,
    check: Check | None = None,
) -> _Inserted | None:
    """Insert the case placed in ``cache``'s cells; ``None`` when refused (see the caller).

    When a layout was published after the cells were loaded, the insert stores nothing:
    the cells are loaded again and the case placed again (a few times at most, then in
    the database itself).
    """
    values["category_code"] = cache._category(conn, category)
    replaced = None
    for _ in range(_MAX_LAYOUT_RETRIES):
        layout = cache._current(conn, replaced=replaced)
        values |= _place(conn, layout.locator, **where) | {"layout_version": layout.version}
        row = _insert(conn, (True, durable), values, direct=direct, photos=photos, check=check)
        if row is not None:
            return row
        why = conn.execute(_WHY_NOT_FILED, values).one()
        if why.version == layout.version or not why.known or why.existing is not None:
            return None  # refused for another reason
        replaced = layout
    values |= _place(conn, None, **where)
    return _insert(conn, (False, durable), values, direct=direct, photos=photos, check=check)


def create_case(
    connection: Engine | Connection,
    *,
    category: str,
    lon: float | None = None,
    lat: float | None = None,
    crs: CRSLike = "wgs84",
    address: str | None = None,
    description: str | None = None,
    source: str | None = None,
    external_id: str | None = None,
    reported_by: str | None = None,
    reported_at: dt.datetime | None = None,
    book: AddressBook | None = None,
    index: CellIndex | None = None,
    cache: IntakeCache | None = None,
    durable: bool = True,
    actor: str,
    photos: Sequence[Photo] = (),
    store: PhotoStore | None = None,
    check: Check | None = None,
) -> dict[str, Any]:
    """File a new case: locate it, give it its deadline, store it at step 'reported'.

    Where the case is comes from its point when ``lon``/``lat`` are given
    (converted from ``crs`` to WGS84 and looked up among the active cells), else
    from its address (matched to a building, whose point is then looked up).
    A case that cannot be placed in a cell is stored all the same, without a
    cell, with ``location_flag`` saying why: ``outside`` the district, in a
    ``gap`` between cells, coordinates that look ``swapped`` or are
    ``outside_china`` (such points are not stored as the case's point), or an
    address that is ``unmatched`` (also when neither a point nor an address
    was given). ``raw_x``/``raw_y``/``raw_crs`` keep the coordinates as given.

    The case is stored by one ``INSERT`` that also reads the category's time limit
    and answers the stored case; with an engine it runs in autocommit (one
    statement is atomic), with a connection in the caller's transaction, which
    goes on after a refusal (unknown category, duplicate ``external_id``). The same
    statement writes the case's audit row (:mod:`gridgis.audit`).

    Parameters
    ----------
    connection:
        The database (an engine commits at once; a connection leaves the commit to the caller).
    category:
        A category code (``"fire_safety"``), Chinese or English name (``"消防安全"``,
        ``"Fire safety"``), as :class:`CaseCategories` reads them.
    lon, lat:
        The point, in ``crs`` (x and y: metres for a projected CRS).
    crs:
        The system of ``lon``/``lat``: wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn.
    address:
        The address as reported; used to place the case when there is no point.
    description, source, reported_by:
        Free text (what, which channel, who reported).
    external_id:
        The case's identifier in another system; unique.
    reported_at:
        When it was reported (default now; naive means China Standard Time, +08:00);
        from 1949-10-01 to tomorrow.
    book:
        An address book from :func:`gridgis.address.load_address_book`, to reuse
        for many cases (default: loaded when an address must be matched).
    index:
        Cells from :func:`gridgis.geocode.load_cell_index` to place the case in, as
        they are (the caller keeps them current); default: the active cells, looked up
        in the database.
    cache:
        An :class:`IntakeCache` to reuse for many cases: the cells and categories come
        from memory, checked against the database by the insert itself, so a case is
        never placed in a replaced layout. Fastest; ignored when ``index`` is given.
    durable:
        ``True`` (the default): the case is on disk when this returns (PostgreSQL's
        ``synchronous_commit``). ``False``: it is answered before its WAL record is
        flushed, which saves the wait and much of the CPU of a flush per case; a crash
        of the database server (not of this process) may then lose the cases of its
        last moments (PostgreSQL's ``wal_writer_delay``, 200 ms by default, up to three
        times that), never corrupt anything. With a connection, this holds for the
        rest of the caller's transaction. For intake from clients that retry (with
        ``external_id``); the web app's setting is ``GRIDGIS_INTAKE_SYNC_COMMIT``.
    actor:
        Who files the case into gridgis (the signed-in user or the API token's user;
        ``cli:<login>``), recorded in the audit trail; ``reported_by`` is who reported it.
    photos, store:
        Photos filed with the case (from :func:`gridgis.cases.photos.prepare_photos`),
        and the store their bytes go to: stored, with an audit row each, by the case's own
        statement (:mod:`gridgis.cases.filed_photos`); when the case is not stored, neither
        are they. Only with an engine (``connection``), which commits them at once.
    check:
        Called with the placed case's fields (``street_code``, ``location_flag``...)
        before it is stored; what it raises refuses the case, and nothing is stored (a web
        user filing only in its own area).

    Returns
    -------
    dict
        The stored case, as :func:`get_case` returns it; with ``photos``, also
        ``photo_ids``, the new photos' ids in order.

    Raises
    ------
    NotFoundError
        When the category does not exist (the message lists those that do).
    DuplicateCaseError
        (a :class:`ConflictError`) when a case with this ``external_id`` exists
        (the message names it; the error carries its id and street).
    InputError
        When only one of ``lon``/``lat`` is given, or they are not coordinates at all;
        when ``reported_at`` is before 1949-10-01 or after tomorrow; when a text
        holds a NUL character (PostgreSQL cannot store it).

    Examples
    --------
    >>> case = create_case(
    ...     engine, category="消防安全", address="荔城区镇海街道文献社区瑞隆里59号1栋",
    ...     actor="wangfang",
    ... )
    >>> case["located_by"], case["building_id"] is not None
    ('address', True)
    """
    when = _now()
    if reported_at is not None:
        when = parse_time(aware(reported_at, field="reported_at"), field="reported_at")
    _check_texts(
        external_id=external_id,
        description=description,
        source=source,
        address=address,
        reported_by=reported_by,
    )
    if not isinstance(actor, str) or not actor.strip():
        raise InputError(
            f"`actor` was {actor!r} but is expected to name who files the case",
            zh=f"`actor` 为 {actor!r}，应为上报事件的人",
        )
    _check_texts(actor=actor)
    if (lon is None) != (lat is None):
        raise InputError(
            f"`lon` was {lon!r} and `lat` was {lat!r}: give both coordinates, or neither",
            zh=f"`lon` 为 {lon!r}，`lat` 为 {lat!r}：经纬度要么都填，要么都不填",
        )
    if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
        raise InputError(
            f"`external_id` was {external_id!r} but is expected to be non-empty text",
            zh=f"`external_id` 为 {external_id!r}，应为非空文字",
        )
    if address is not None and not isinstance(address, str):
        raise InputError(
            f"`address` was {address!r} but is expected to be text",
            zh=f"`address` 为 {address!r}，应为文字",
        )
    if index is not None and not isinstance(index, CellIndex):
        raise InputError(
            f"`index` must be a CellIndex, not {type(index).__name__}",
            zh=f"`index` 应为 CellIndex，而不是 {type(index).__name__}",
        )
    if index is not None:
        cache = None
    if not isinstance(durable, bool):
        raise InputError(
            f"`durable` was {durable!r} but is expected to be True or False",
            zh=f"`durable` 为 {durable!r}，应为 True 或 False",
        )
    filed = None
    if photos:
        if store is None or isinstance(connection, Connection):
            raise InputError(
                "`photos` are filed with an engine and a `store`, not in a transaction",
                zh="带 `photos` 的事件须用 engine 和 `store` 上报，不能在事务中上报",
            )
        filed = FiledPhotos(photos, store, actor=actor.strip())
    values: dict[str, Any] = {
        "external_id": external_id,
        "description": description,
        "source": source,
        "address": address,
        "reported_at": when,
        "reported_by": reported_by,
        "now": _now(),
        "audit_actor": actor.strip(),
        "audit_request": audit.request_id.get(),
    }
    where: dict[str, Any] = {"lon": lon, "lat": lat, "crs": crs, "address": address, "book": book}
    direct = cache is not None and not isinstance(connection, Connection)
    try:
        with _filing(connection, autocommit=direct) as conn:
            row = _file(conn, cache, category, values, where, index, durable, direct, filed, check)
            if row is None:
                _refused(conn, cache, category, values)
    except BaseException:
        if filed is not None:
            filed.discard()
        raise
    case = _new_case(row, values)
    if filed is not None:
        case["photo_ids"] = list(row.photo_ids or ())
    return case


def _file(
    conn: Connection,
    cache: IntakeCache | None,
    category: str,
    values: dict[str, Any],
    where: dict[str, Any],
    index: CellIndex | None,
    durable: bool,
    direct: bool,
    filed: FiledPhotos | None,
    check: Check | None,
) -> _Inserted | None:
    try:
        if cache is None:
            values["category_code"] = load_categories(conn).resolve(category)
            values |= _place(conn, IndexLocator(index) if index is not None else None, **where)
            return _insert(conn, (False, durable), values, direct=direct, photos=filed, check=check)
        return _file_cached(
            conn, cache, category, values, where,
            durable=durable, direct=direct, photos=filed, check=check,
        )  # fmt: skip
    except IntegrityError as exc:
        if cache is not None:  # e.g. a cell deleted under the cache (not via gridgis)
            cache.clear()
        raise _translate(exc, "filing the case") from exc


def _refused(
    conn: Connection, cache: IntakeCache | None, category: str, values: dict[str, Any]
) -> NoReturn:
    """Raise why the insert stored nothing."""
    external_id = values["external_id"]
    why = conn.execute(_WHY_NOT_FILED, values).one()
    if not why.known:
        if cache is not None:
            cache.clear()
        raise load_categories(conn).unknown(category)
    if why.existing is not None:
        raise duplicate(why, external_id)
    raise ConflictError(
        "filing the case was refused: nothing was stored, and what stood in the way "
        "(a category, an external_id, a newer layout) changed meanwhile; try again",
        zh="事件上报未成功，未保存任何内容：其间有妨碍上报的内容（事件类别、external_id 或新的"
        "网格布局）发生了变化；请重试",
    )


def _new_case(row: _Inserted, values: Mapping[str, Any]) -> dict[str, Any]:
    """The case dict (as :func:`get_case` gives it) of a case just inserted with ``values``."""
    deadline: dt.datetime = row.deadline
    case = {
        "id": row.id,
        "external_id": values["external_id"],
        "category": values["category_code"],
        "category_name": row.category_name,
    }
    for key in _SENT_KEYS:
        case[key] = values[key]
    case |= {
        "step": row.step,
        "deadline": _iso(deadline),
        "overdue": values["now"] > deadline,  # just filed: open
        "closed_late": False,
    }
    for step in STEPS:
        case[f"{step}_at"] = case[f"{step}_by"] = None
    case["reported_at"] = _iso(values["reported_at"])
    case["reported_by"] = values["reported_by"]
    for key in _UNSET_KEYS:  # a new case is dispatched to no one, escalated, merged
        case[key] = None
    return case


_UNSET_KEYS = (
    "department_code",
    "department_name",
    "assignee",
    "escalated_at",
    "escalated_by",
    "merged_into",
)


_SENT_KEYS = (
    "description",
    "source",
    "address",
    "lon",
    "lat",
    "raw_x",
    "raw_y",
    "raw_crs",
    "located_by",
    "location_flag",
    "building_id",
    "match_score",
    "cell_code",
    "community_code",
    "street_code",
)
