"""The statement that files a case (and its audit row, and its photos' rows) in one INSERT.

Split from :mod:`gridgis.cases.filing`, which places the case and calls :func:`_insert`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Float,
    Integer,
    ScalarSelect,
    Select,
    String,
    Text,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.types import TypeEngine

from gridgis import audit
from gridgis.cases import filed_photos
from gridgis.cases.base import _translate
from gridgis.cases.filed_photos import Check, FiledPhotos
from gridgis.db.models import SRID, AuditLog, Case, CaseCategory, LayoutVersion
from gridgis.errors import DuplicateCaseError

_TEXT, _FLOAT = Text(), Float()


def _param(name: str, type_: TypeEngine[Any]) -> ColumnElement[Any]:
    """The bound value ``name``, cast to ``type_`` in the SQL: it may be ``None``, and the
    statement goes to the driver as it is (:func:`_insert`), so the type is written out."""
    return cast(bindparam(name), type_)


def _layout_version() -> ScalarSelect[int]:
    """The newest published layout: ``publish_cells`` adds a ``layout_version`` row for every
    redraw, adjustment or import, so this number changes whenever the active cells do.

    It must be the number :class:`IntakeCache` records as its layout's ``version`` when it
    loads the cells: the insert compares the two.
    """
    return select(func.coalesce(func.max(LayoutVersion.id), 0)).scalar_subquery()


def _case_values(
    category: type[CaseCategory],
) -> dict[str, ColumnElement[Any] | QueryableAttribute[Any]]:
    """The columns of a new case, by name: the sent values, and what ``category`` (the row
    of ``case_category``) gives."""
    reported_at = _param("reported_at", DateTime(timezone=True))
    lon, lat = _param("lon", _FLOAT), _param("lat", _FLOAT)
    return {
        "external_id": _param("external_id", _TEXT),
        "category_code": category.code,
        "description": _param("description", _TEXT),
        "source": _param("source", _TEXT),
        "address": _param("address", _TEXT),
        "reported_at": reported_at,
        "reported_by": _param("reported_by", _TEXT),
        # The limit in force now, read in the same statement: a change made a moment ago
        # (set_deadline_hours, in any process) applies at once.
        "deadline": reported_at + category.deadline_hours * literal(dt.timedelta(hours=1)),
        "geom": case(
            (lon.is_(None), null()), else_=func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID)
        ),
        "raw_x": _param("raw_x", _FLOAT),
        "raw_y": _param("raw_y", _FLOAT),
        "raw_crs": _param("raw_crs", _TEXT),
        "cell_id": _param("cell_id", Integer()),
        "community_code": _param("community_code", String()),
        "street_code": _param("street_code", String()),
        "located_by": _param("located_by", _TEXT),
        "location_flag": _param("location_flag", _TEXT),
        "building_id": _param("building_id", BigInteger()),
        "match_score": _param("match_score", _FLOAT),
    }


def _insert_statement(*, checked_layout: bool, durable: bool, photos: bool = False) -> Select[Any]:
    """One statement that files a case and answers what only the database knows of it.

    That is the id, the step, the deadline and the category's name; the rest of the
    case dict is what was sent (:func:`_new_case`): answering every column would cost
    more than the insert itself (the driver and SQLAlchemy describe each column).

    Nothing is inserted (and no row answered) when the category does not exist, when
    another case has the ``external_id`` (``ON CONFLICT DO NOTHING``: no error, so the
    caller's transaction goes on), or, with ``checked_layout``, when a layout newer than
    ``:layout_version`` has been published since the case was placed. The audit row
    (:mod:`gridgis.audit`) is inserted by the same statement, for the case it inserted
    (none when it inserted none). Not ``durable``:
    the statement turns ``synchronous_commit`` off for its transaction (in autocommit,
    for itself alone). With ``photos``, the case's id is the parameter ``:case_id`` and the
    statement also stores the photos and their audit rows (:mod:`gridgis.cases.filed_photos`),
    answering their ids.
    """
    category = aliased(CaseCategory, name="k")
    values = _case_values(category)
    if photos:
        values = {"id": _param("case_id", BigInteger()), **values}
    chosen = select(*values.values()).where(category.code == bindparam("category_code"))
    if checked_layout:
        chosen = chosen.where(_layout_version() == _param("layout_version", BigInteger()))
    if not durable:
        chosen = chosen.where(func.set_config("synchronous_commit", "off", True) == "off")
    filed = (
        pg_insert(Case)
        .from_select(list(values), chosen)
        .on_conflict_do_nothing(index_elements=[Case.external_id])
        .returning(Case.id, Case.category_code, Case.step, Case.deadline, Case.street_code)
        .cte("c")
    )
    # The audit row, in the same statement: written if and only if the case is.
    audited = insert(AuditLog).from_select(
        ["actor", "action", "object_type", "object_id", "street_code", "summary", "request_id"],
        select(
            _param("audit_actor", _TEXT),
            literal("create"),
            literal("case"),
            cast(filed.c.id, _TEXT),
            filed.c.street_code,
            cast(_param("audit_summary", _TEXT), JSONB),
            _param("audit_request", _TEXT),
        ),
    )
    answered: list[Any] = [
        filed.c.id,
        filed.c.step,
        filed.c.deadline,
        CaseCategory.name_zh.label("category_name"),
    ]
    ctes = [audited.cte("a")]
    if photos:
        ctes += filed_photos.photo_ctes(
            filed, actor=_param("audit_actor", _TEXT), request=_param("audit_request", _TEXT)
        )
        answered.append(filed_photos.photo_ids_column(ctes[2]).label("photo_ids"))
    return (
        select(*answered)
        .join_from(filed, CaseCategory, CaseCategory.code == filed.c.category_code)
        .add_cte(*ctes)
    )


_INSERTS = {
    (checked, durable, photos): _insert_statement(
        checked_layout=checked, durable=durable, photos=photos
    )
    for checked in (False, True)
    for durable in (False, True)
    for photos in (False, True)
}
_WHY_NOT_FILED = select(
    _layout_version().label("version"),
    exists().where(CaseCategory.code == bindparam("category_code")).label("known"),
    select(Case.id)
    .where(Case.external_id == bindparam("external_id"))
    .scalar_subquery()
    .label("existing"),
    select(Case.street_code)
    .where(Case.external_id == bindparam("external_id"))
    .scalar_subquery()
    .label("existing_street"),
)


class _Inserted(NamedTuple):
    """What the insert answers (see :func:`_insert_statement`)."""

    id: int
    step: str
    deadline: dt.datetime
    category_name: str
    photo_ids: list[int] | None = None


def _insert(
    conn: Connection,
    key: tuple[bool, bool],
    values: dict[str, Any],
    *,
    direct: bool,
    photos: FiledPhotos | None = None,
    check: Check | None = None,
) -> _Inserted | None:
    """Run the insert ``_INSERTS[key]``; ``None`` when it stored nothing.

    ``direct``: the connection is this module's own, in autocommit, so the statement can
    go straight to the driver, past SQLAlchemy's execution context and result objects
    (about 0.1 ms of the 1 ms a case costs in all; psycopg still prepares it after
    its fifth use on a connection).
    """
    if check is not None:
        try:
            check(values)  # where the case falls, before anything is stored
        except Exception:
            if values["external_id"] is not None:  # a taken id is said first, as it was
                why = conn.execute(_WHY_NOT_FILED, values).one()
                if why.existing is not None:
                    raise duplicate(why, values["external_id"]) from None
            raise
    values["audit_summary"] = json.dumps(
        audit.summary(None, {k: values.get(k) for k in _AUDITED}), ensure_ascii=False
    )
    full = (*key, photos is not None)
    if photos is not None:
        values |= photos.values(conn, direct=direct)
    if not direct:
        row = conn.execute(_INSERTS[full], values).one_or_none()
        return None if row is None else _Inserted(*row)
    statement = _DRIVER_SQL.get(full)
    if statement is None:
        statement = _DRIVER_SQL[full] = _driver_statement(_INSERTS[full], conn.dialect)
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    try:
        found = driver.execute(statement.sql, statement.constants | values).fetchone()
    except psycopg.IntegrityError as exc:
        raise _translate(exc, "filing the case") from exc
    return None if found is None else _Inserted(*found)


_AUDITED = (
    "external_id",
    "category_code",
    "source",
    "reported_at",
    "cell_code",
    "community_code",
    "street_code",
    "located_by",
    "location_flag",
)
"""The fields of a new case its audit row keeps: where and what kind, not what people
wrote (description, address, reporter), which stays in the case alone."""


class _DriverStatement(NamedTuple):
    """A statement as the driver takes it: SQL with ``%(name)s`` parameters, and the values of
    those SQLAlchemy named itself (the constants of the expression: ``'create'``, the SRID...)."""

    sql: str
    constants: dict[str, Any]


def _driver_statement(statement: Select[Any], dialect: Dialect) -> _DriverStatement:
    compiled = statement.compile(dialect=dialect)
    # The named parameters (bindparam(name), no value) are the caller's; the others are the
    # expression's constants, which SQLAlchemy sends as parameters too.
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return _DriverStatement(compiled.string, constants)


_DRIVER_SQL: dict[tuple[bool, bool, bool], _DriverStatement] = {}
"""The inserts as the driver takes them, made on first use."""


def duplicate(why: Any, external_id: str | None) -> DuplicateCaseError:
    """The error for a case whose ``external_id`` case ``why.existing`` has already."""
    return DuplicateCaseError(
        f"`external_id` was {external_id!r} but case {why.existing} already has it; "
        "a case is filed only once",
        zh=f"`external_id` 为 {external_id!r}，但事件 {why.existing} 已使用该编号；"
        "同一事件只能上报一次",
        case_id=why.existing,
        street_code=why.existing_street,
    )
