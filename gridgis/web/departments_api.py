"""The departments' API: ``GET /api/departments`` and ``POST /api/departments``.

Every user who works on cases reads the departments (a dispatcher chooses one, a
department sees its own name); a street office reads those serving its street (its
district's and its own). Administrators add departments of any district or street, a
street office those of its own street (街道科室).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from gridgis.access import CASE_ROLES
from gridgis.cases import departments
from gridgis.errors import ForbiddenError
from gridgis.schemas.cases import DepartmentAnswer, DepartmentQuery, Departments, NewDepartment
from gridgis.web.auth import policy
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint

__all__ = ["bp"]

bp = Blueprint("departments", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/departments",
    operation_id="listDepartments",
    tags=("cases",),
    roles=CASE_ROLES,
    query=DepartmentQuery,
    replies=(Reply(200, Departments, "The departments, by code."),),
    errors=(403,),
)
def list_departments(*, query: DepartmentQuery) -> Response:
    """The departments that handle dispatched cases (those serving ``area`` when given)."""
    rules = policy()
    area = query.area
    if rules.street is not None:
        area = rules.area_choice("area", area)
    found = departments.list_departments(get_engine(), area=area)
    if rules.role == "department":
        found = [d for d in found if d["code"] == rules.department]
    return jsonify(found)


@endpoint(
    bp,
    "/departments",
    method="POST",
    operation_id="addDepartment",
    tags=("cases",),
    roles=("admin", "street"),
    body=NewDepartment,
    replies=(Reply(201, DepartmentAnswer, "The department.", headers={"Location": "The list."}),),
    errors=(400, 404, 409, 413, 415),
)
def add_department(*, body: NewDepartment) -> tuple[Response, int, dict[str, str]]:
    """Add a department of a district (administrators) or of a street."""
    rules = policy()
    if rules.role == "street" and (body.street is None or not rules.may_change(body.street)):
        raise ForbiddenError(
            f"user {signed_in_name()!r} may add departments of street {rules.street} only",
            zh=f"用户 {signed_in_name()!r} 只能添加街道 {rules.street} 的职能部门",
        )
    added = departments.add_department(
        get_engine(),
        body.code,
        body.name,
        district=body.district,
        street=body.street,
        phone=body.phone,
        actor=signed_in_name(),
    )
    return jsonify(added), 201, {"Location": url_for("departments.list_departments")}
