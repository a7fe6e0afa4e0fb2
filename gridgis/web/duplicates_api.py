"""Near-duplicate cases (疑似重复) and merging them (合并) under ``/api``.

Routes
------
``GET /api/cases/<id>/duplicates``
    ``{"duplicates": [...]}``: the open cases of the same category within
    ``GRIDGIS_DUPLICATE_METRES`` and ``GRIDGIS_DUPLICATE_DAYS`` of the case, both
    ways (:func:`gridgis.cases.duplicates_of`), nearest first.
``POST /api/cases/<id>/merge``
    Body ``{"into": ID, "note": "..."}``: merge the case into case ``ID``
    (:func:`gridgis.cases.merge_cases`); answers the merged case (``step``
    ``rejected``, ``merged_into`` ``ID``). 409 when either case is finished or
    merged already; 400 for a case merged into itself.

A new case's answer (``POST /api/cases``) carries its ``likely_duplicates`` and
one case's (``GET /api/cases/<id>``) its ``duplicates`` and ``merged_from``
(:func:`gridgis.web.cases_api.with_duplicates` adds them).

Access is that of the other case routes (:mod:`gridgis.web.cases_api`): a case
the user may not see is answered 404, and so are the likely duplicates in
another street (left out of the lists); merging needs the right to change both
cases (administrators; a street office in its own street), else 403.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gridgis import cases
from gridgis.access import CASE_ROLES
from gridgis.errors import ForbiddenError
from gridgis.schemas.cases import Case
from gridgis.schemas.duplicates import CaseMerge, Duplicates
from gridgis.web.auth import policy
from gridgis.web.cases_api import scoped_case, signed_in_name, visible_duplicates
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Link, Reply, endpoint

__all__ = ["bp"]

bp = Blueprint("duplicates", __name__, url_prefix="/api")


@endpoint(
    bp,
    "/cases/<int:case_id>/duplicates",
    operation_id="caseDuplicates",
    tags=("cases",),
    roles=CASE_ROLES,
    replies=(Reply(200, Duplicates, "The likely duplicates, nearest first."),),
    errors=(404,),
)
def case_duplicates(case_id: int) -> Response:
    """The likely duplicates of a case (疑似重复), both ways."""
    scoped_case(case_id)
    return jsonify(duplicates=visible_duplicates(cases.duplicates_of(get_engine(), case_id)))


@endpoint(
    bp,
    "/cases/<int:case_id>/merge",
    method="POST",
    operation_id="mergeCase",
    tags=("cases",),
    roles=("admin", "street"),
    body=CaseMerge,
    replies=(
        Reply(
            200,
            Case,
            "The merged case: rejected (作废), with `merged_into`.",
            links={
                "GetCase": Link("getCase", {"case_id": "$response.body#/id"}, "The case."),
                "GetMergedInto": Link(
                    "getCase", {"case_id": "$response.body#/merged_into"}, "The case it joined."
                ),
            },
        ),
    ),
    errors=(400, 404, 409, 413, 415),
)
def merge_case(case_id: int, *, body: CaseMerge) -> Response:
    """Merge a case into the open case it repeats (合并)."""
    rules = policy()
    duplicate = scoped_case(case_id)
    into = scoped_case(body.into)
    for case in (duplicate, into):
        if not rules.may_change(case["street_code"]):
            raise ForbiddenError(
                f"user {signed_in_name()!r} may not change case {case['id']}",
                zh=f"用户 {signed_in_name()!r} 不能修改事件 {case['id']}",
            )
    merged = cases.merge_cases(
        get_engine(), case_id, body.into, actor=signed_in_name(), note=body.note
    )
    return jsonify(merged)
