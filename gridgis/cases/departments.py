"""Departments (职能部门) that handle dispatched cases, and the rules that choose one.

A department belongs to a district (城管, 住建, 市场监管, 公安 …) or to one street
(街道科室); it is known by a short code (``CG``, ``ZJ-001``…) that users'
scripts and dispatch steps name. A dispatch rule names the default department
of a category, everywhere or in one district, street or community: when a
case is dispatched without a department, the most specific rule whose area
holds the case chooses it (:func:`default_department`).

Every function takes an engine or a connection (with a connection, the work
is part of the caller's transaction); every change writes a row of the audit
trail.

Examples
--------
>>> add_department(engine, "WS", "卫生健康局", district="350304", actor="cli:admin")["name"]
'卫生健康局'
>>> add_rule(engine, "errand", "WS", area="350304001", actor="cli:admin")["department_code"]
'WS'
>>> default_department(engine, "errand", "350304001007")
'WS'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from gridgis import audit
from gridgis.cases.categories import resolve_categories
from gridgis.codes import check_code, level_of
from gridgis.db import queries
from gridgis.db.models import (
    DEPARTMENT_CODE_PATTERN,
    Case,
    Department,
    DispatchRule,
    District,
    Street,
)
from gridgis.errors import ConflictError, InputError, NotFoundError

__all__ = [
    "add_department",
    "add_rule",
    "check_department",
    "default_department",
    "department_serves",
    "list_departments",
    "list_rules",
    "set_rule",
]

_CODE = re.compile(DEPARTMENT_CODE_PATTERN)
_DISTRICT, _STREET = 6, 9
_LEVEL_ZH = {"district": "区", "street": "街道"}

_COLUMNS = (
    Department.code,
    Department.name,
    Department.district_code,
    Department.street_code,
    Department.phone,
)


def _check_code(code: object) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code.strip()):
        raise InputError(
            f"`department` was {code!r} but is expected to be a code of 1 to 32 letters, "
            "digits, '_', '.' or '-' starting with a letter or digit (e.g. 'CG')",
            zh=f"`department` 为 {code!r}，应为 1 到 32 个字母、数字、“_”“.”或“-”组成的编码，"
            "以字母或数字开头（例如 'CG'）",
        )
    return code.strip()


def _area_of(row: Mapping[Any, Any]) -> str:
    return str(row["street_code"] or row["district_code"])


def _record(row: Mapping[Any, Any]) -> dict[str, Any]:
    out = {key: row[key] for key in ("code", "name", "district_code", "street_code", "phone")}
    out["area_code"] = _area_of(row)
    return out


def department_serves(department: Mapping[str, Any], area_code: str | None) -> bool:
    """Whether a department (as :func:`check_department` returns it) handles cases in
    the area ``area_code`` (a street, community or cell code; ``None``: in no area)."""
    return area_code is not None and area_code.startswith(department["area_code"])


def add_department(
    bind: Engine | Connection,
    code: str,
    name: str,
    *,
    district: str | None = None,
    street: str | None = None,
    phone: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Add a department of a district or of one street.

    Parameters
    ----------
    bind:
        The database.
    code:
        Its code, unique (1-32 letters, digits, ``_ . -``).
    name:
        Its name (城市管理局 …), unique within its district or street.
    district, street:
        Exactly one: the 6-digit district or 9-digit street it serves.
    phone:
        The duty phone, optional.
    actor:
        Who adds it (for the audit trail).

    Returns
    -------
    dict
        ``code``, ``name``, ``district_code``, ``street_code``, ``phone``, ``area_code``.

    Raises
    ------
    InputError
        A bad code or name, neither or both of district and street.
    NotFoundError
        The district or street does not exist.
    ConflictError
        The code, or the name within the same area, is taken.
    """
    code = _check_code(code)
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise InputError(
            f"`name` was {name!r} but is expected to name the department",
            zh=f"`name` 为 {name!r}，应为职能部门的名称",
        )
    name = name.strip()
    if (district is None) == (street is None):
        raise InputError(
            f"department {code!r} needs exactly one of `district` (6 digits) or `street` "
            f"(9 digits); got district={district!r}, street={street!r}",
            zh=f"职能部门 {code!r} 需要且只需要 `district`（6 位）或 `street`（9 位）之一；"
            f"收到 district={district!r}，street={street!r}",
        )
    area_table, area = (District, district) if district is not None else (Street, street)
    level = "district" if district is not None else "street"
    area = check_code(str(area), level)
    with queries.transaction(bind) as conn:
        if conn.execute(select(area_table.code).where(area_table.code == area)).first() is None:
            raise NotFoundError(
                f"{level} {area!r} does not exist (department {code!r})",
                zh=f"{_LEVEL_ZH[level]} {area!r} 不存在（职能部门 {code!r}）",
            )
        if conn.execute(select(Department.code).where(Department.code == code)).first():
            raise ConflictError(
                f"a department with the code {code!r} already exists",
                zh=f"编码为 {code!r} 的职能部门已存在",
            )
        same_name = select(Department.code).where(
            Department.name == name,
            Department.district_code.is_not_distinct_from(district and area),
            Department.street_code.is_not_distinct_from(street and area),
        )
        taken = conn.execute(same_name).scalar()
        if taken is not None:
            raise ConflictError(
                f"{level} {area} already has a department named {name!r} ({taken})",
                zh=f"{_LEVEL_ZH[level]} {area} 已有名为 {name!r} 的职能部门（{taken}）",
            )
        values = {
            "code": code,
            "name": name,
            "district_code": area if district is not None else None,
            "street_code": area if street is not None else None,
            "phone": phone.strip() if phone and phone.strip() else None,
        }
        conn.execute(insert(Department).values(values))
        audit.record(
            conn,
            actor=actor,
            action="create",
            object_type="department",
            object_id=code,
            after=values,
            street_code=values["street_code"],
        )
        return check_department(conn, code)


def check_department(bind: Engine | Connection, code: str) -> dict[str, Any]:
    """The department with this code, as :func:`add_department` returns it.

    Raises
    ------
    NotFoundError
        When there is none (the message lists a few that exist).
    """
    code = _check_code(code)
    with queries.connection(bind) as conn:
        row = conn.execute(select(*_COLUMNS).where(Department.code == code)).one_or_none()
        if row is None:
            known = list(conn.execute(select(Department.code).order_by(Department.code).limit(12)))
            hint = (
                f"; the departments are {', '.join(r[0] for r in known)}"
                if known
                else "; add one first (`gridgis departments add CODE NAME --district D`)"
            )
            hint_zh = (
                f"；现有的职能部门：{'、'.join(r[0] for r in known)}"
                if known
                else "；请先添加（`gridgis departments add CODE NAME --district D`）"
            )
            raise NotFoundError(
                f"department {code!r} does not exist{hint}",
                zh=f"职能部门 {code!r} 不存在{hint_zh}",
            )
    return _record(row._mapping)


def list_departments(bind: Engine | Connection, *, area: str | None = None) -> list[dict[str, Any]]:
    """Every department, by code; with ``area`` (a district, street or community code),
    those that handle cases there (the district's and that street's)."""
    statement = select(*_COLUMNS).order_by(Department.code)
    if area is not None:
        level_of(area)
        # a district's own departments, and those of its streets (from a district) or of
        # the street that holds the area
        street = area if len(area) == _DISTRICT else area[:_STREET]
        statement = statement.where(
            or_(
                Department.district_code == area[:_DISTRICT],
                Department.street_code.startswith(street),
            )
        )
    with queries.connection(bind) as conn:
        return [_record(r._mapping) for r in conn.execute(statement)]


def add_rule(
    bind: Engine | Connection,
    category: str,
    department: str,
    *,
    area: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Make ``department`` the default of ``category`` (everywhere, or in ``area``: a
    district, street or community code); an existing rule for the same category and
    area is replaced.

    Raises
    ------
    InputError
        An unknown category, a bad area code, or an area the department does not serve.
    NotFoundError
        The department does not exist.
    """
    area_code = ""
    if area is not None:
        level = level_of(area)
        if level == "cell":
            raise InputError(
                f"`area` was {area!r} but a dispatch rule is for a district, street or community",
                zh=f"`area` 为 {area!r}，但派遣规则只适用于区、街道或社区",
            )
        area_code = area
    with queries.transaction(bind) as conn:
        (category_code,) = resolve_categories(conn, category)
        chosen = check_department(conn, department)
        if area_code and not (
            department_serves(chosen, area_code) or chosen["area_code"].startswith(area_code)
        ):
            raise InputError(
                f"`area` was {area_code!r} but department {chosen['code']} serves only "
                f"{chosen['area_code']}",
                zh=f"`area` 为 {area_code!r}，但职能部门 {chosen['code']} 只负责 "
                f"{chosen['area_code']}",
            )
        before = set_rule(conn, category_code, area_code, chosen["code"])
        rule = {
            "category": category_code,
            "area_code": area_code,
            "department_code": chosen["code"],
        }
        audit.record(
            conn,
            actor=actor,
            action="create" if before is None else "update",
            object_type="dispatch_rule",
            object_id=f"{category_code}@{area_code or '*'}",
            before=None if before is None else {"department_code": before},
            after=rule,
            street_code=area_code[:_STREET] if len(area_code) >= _STREET else None,
        )
        return rule


def set_rule(conn: Connection, category: str, area_code: str, department: str) -> str | None:
    """Make ``department`` the rule of ``category`` in ``area_code`` (``""``: everywhere),
    in the caller's transaction, unchecked and unaudited (:func:`add_rule` checks and
    audits one rule, an import sums its rows up); the department it replaces, if any."""
    where = (DispatchRule.category_code == category, DispatchRule.area_code == area_code)
    before: str | None = conn.execute(select(DispatchRule.department_code).where(*where)).scalar()
    if before is None:
        conn.execute(
            insert(DispatchRule).values(
                category_code=category, area_code=area_code, department_code=department
            )
        )
    elif before != department:
        conn.execute(update(DispatchRule).where(*where).values(department_code=department))
    return before


def _chosen_by_rules(category: ColumnElement[Any], area: ColumnElement[Any]) -> Select[Any]:
    """The department the rules choose for ``category`` in ``area`` (SQL expressions: values
    or a case's columns): the most specific rule whose area holds it and whose department
    serves it."""
    return (
        select(DispatchRule.department_code)
        .join(Department, Department.code == DispatchRule.department_code)
        .where(
            DispatchRule.category_code == category,
            area.startswith(DispatchRule.area_code),
            area.startswith(func.coalesce(Department.street_code, Department.district_code)),
        )
        .order_by(func.length(DispatchRule.area_code).desc())
        .limit(1)
    )


def list_rules(bind: Engine | Connection) -> list[dict[str, Any]]:
    """Every dispatch rule: ``category``, ``area_code`` (``""``: everywhere),
    ``department_code``, ``department_name``."""
    statement = (
        select(
            DispatchRule.category_code.label("category"),
            DispatchRule.area_code,
            DispatchRule.department_code,
            Department.name.label("department_name"),
        )
        .join(Department, Department.code == DispatchRule.department_code)
        .order_by(DispatchRule.category_code, DispatchRule.area_code)
    )
    with queries.connection(bind) as conn:
        return [dict(r._mapping) for r in conn.execute(statement)]


def default_department(
    bind: Engine | Connection, category: str, area_code: str | None
) -> str | None:
    """The department a case of ``category`` (a code) in ``area_code`` (its community or
    street code) goes to by the rules: the most specific rule whose area holds it and
    whose department serves it; ``None`` when no rule applies."""
    if area_code is None:
        return None
    with queries.connection(bind) as conn:
        return conn.execute(_chosen_by_rules(literal(category), literal(area_code))).scalar()


def dispatch_rules_apply(bind: Engine | Connection, *, actor: str) -> int:
    """Give every dispatched case without a department the one its rules choose (for
    data loaded before departments existed); returns how many cases were changed."""
    cases = Case.__table__.c
    chosen = _chosen_by_rules(cases.category_code, cases.community_code).scalar_subquery()
    with queries.transaction(bind) as conn:
        try:
            changed = conn.execute(
                update(Case)
                .where(Case.department_code.is_(None), Case.dispatched_at.is_not(None))
                .values(department_code=chosen)
            ).rowcount
        except IntegrityError as exc:  # pragma: no cover - the rules only name departments
            raise ConflictError(
                f"applying the dispatch rules was refused: {exc.orig}",
                zh="应用派遣规则被数据库拒绝，未作任何更改",
            ) from exc
        audit.record(
            conn,
            actor=actor,
            action="apply",
            object_type="dispatch_rule",
            object_id=None,
            after={"cases_given_a_department": changed},
        )
        return int(changed)
