"""The OpenAPI 3.0 description of the JSON APIs, and request checks that obey it.

Routes
------
``GET /api/openapi.json``
    The OpenAPI document: the case intake API (``/api/cases``...), the Open311
    GeoReport v2 endpoints (``/open311/v2/...``), the area endpoints of
    :mod:`gridgis.web.api`, density (:mod:`gridgis.web.density_api`), placement
    (:mod:`gridgis.web.placement_api`), the cell tiles (:mod:`gridgis.web.tiles`)
    and the exports (:mod:`gridgis.web.export_api`). Open to anyone, like
    ``/api/health``.

Security: every other operation needs a session (cookie ``session`` after
``POST /login``; unsafe methods also the ``X-CSRF-Token`` header) or an API
token (``Authorization: Bearer ggt_...``); Open311 also takes the token as
``api_key``. Each such operation lists 401 (no user) and 403 (a role or a
street it may not use) among its answers.

The document is the single description of what a request may contain: the
views of :mod:`gridgis.web.cases_api` and :mod:`gridgis.web.open311` read
their query parameters and bodies with :func:`read_query` and
:func:`check_object`, which interpret the same schemas (the subset of JSON
Schema used here: ``type``, ``nullable``, ``enum``, ``minimum``/``maximum``,
``minLength``/``maxLength``, ``pattern``, ``format: date-time``,
``properties``/``required``/``additionalProperties: false`` and ``$ref``).
A request the document calls invalid is therefore always answered with a
4xx and a message naming the field, the value and what was expected.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MultiDict

from gridgis.db.models import CASE_STEPS, LOCATED_BY
from gridgis.errors import InputError, Problem, ValidationError
from gridgis.times import parse_time
from gridgis.web.limits import check_json

__all__ = [
    "CASE_STEP_CHOICES",
    "MAX_ABS_COORDINATE",
    "MAX_BODY_BYTES",
    "OPEN311_PREFIX",
    "BodyTooLargeError",
    "UnsupportedMediaTypeError",
    "body_fields",
    "bp",
    "check_fields",
    "check_object",
    "check_value",
    "json_body",
    "openapi_document",
    "operation",
    "parse_datetime",
    "read_body",
    "read_query",
]

bp = Blueprint("openapi", __name__, url_prefix="/api")

OPEN311_PREFIX = "/open311/v2"
CASE_STEP_CHOICES: tuple[str, ...] = (*CASE_STEPS, "rejected")
"""Every value of a case's ``step``: the forward lifecycle, then ``rejected`` (作废)."""
MAX_ABS_COORDINATE = 1e8
"""Largest absolute coordinate accepted: covers Gauss-Krüger eastings with a zone prefix."""
MAX_BODY_BYTES = 64 * 1024
"""Largest request body read: a case is a few hundred bytes."""
_MAX_ID = 2**63 - 1  # bigint
_MAX_OFFSET = 1_000_000_000
_CATEGORY_PATTERN = "^[a-z][a-z0-9_]{0,63}$"
_TEXT = {"type": "string", "maxLength": 200}
_DATETIME_YEARS = (1900, 2999)
"""Years a date-time may have: wide for any real case, far from the limits of the calendar."""

_CRS_PATTERN = "^(?:wgs84|cgcs2000|gcj02|bd09|WGS84|CGCS2000|GCJ02|BD09|EPSG:[0-9]{4,5})$"


# --- the document --------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def _json(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": dict(schema),
    }


_DATETIME = {"type": "string", "format": "date-time"}

_CASE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1},
    "external_id": _nullable({"type": "string"}),
    "category": {"type": "string"},
    "category_name": {"type": "string"},
    "description": _nullable({"type": "string"}),
    "source": _nullable({"type": "string"}),
    "address": _nullable({"type": "string"}),
    "lon": _nullable({"type": "number"}),
    "lat": _nullable({"type": "number"}),
    "raw_x": _nullable({"type": "number"}),
    "raw_y": _nullable({"type": "number"}),
    "raw_crs": _nullable({"type": "string"}),
    "located_by": _nullable({"type": "string", "enum": list(LOCATED_BY)}),
    "location_flag": _nullable({"type": "string"}),
    "building_id": _nullable({"type": "integer"}),
    "match_score": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "cell_code": _nullable({"type": "string", "pattern": "^[0-9]{15}$"}),
    "community_code": _nullable({"type": "string", "pattern": "^[0-9]{12}$"}),
    "street_code": _nullable({"type": "string", "pattern": "^[0-9]{9}$"}),
    "step": {"type": "string", "enum": list(CASE_STEP_CHOICES)},
    "deadline": _nullable(_DATETIME),
    "overdue": {"type": "boolean"},
    "reported_at": _DATETIME,
    "reported_by": _nullable({"type": "string"}),
} | {
    f"{step}_{suffix}": _nullable(_DATETIME if suffix == "at" else {"type": "string"})
    for step in CASE_STEP_CHOICES[1:]
    for suffix in ("at", "by")
}


def _schemas() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
            "additionalProperties": False,
        },
        "Case": {
            "type": "object",
            "description": "A case (事件) with its place, cell and lifecycle. Times are ISO 8601.",
            "required": list(_CASE_PROPERTIES),
            "properties": _CASE_PROPERTIES,
            "additionalProperties": False,
        },
        "CaseList": {
            "type": "object",
            "required": ["cases", "limit", "offset"],
            "properties": {
                "cases": {"type": "array", "items": _ref("Case")},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
            "additionalProperties": False,
        },
        "NewCase": {
            "type": "object",
            "description": (
                "A new case, placed by `lon`/`lat` (in `crs`, default wgs84) or by `address` "
                "(a building address of the district, e.g. 荔城区镇海街道文献社区瑞隆里59号1栋). "
                "Coordinates win when both are given; the address is kept. `reported_by` is "
                "recorded as the signed-in user or the API token's user."
            ),
            "required": ["category"],
            "properties": {
                "category": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "description": (
                        "A category code or Chinese name of GET /api/categories, e.g. "
                        "fire_safety or 消防安全."
                    ),
                },
                "lon": {
                    "type": "number",
                    "minimum": -MAX_ABS_COORDINATE,
                    "maximum": MAX_ABS_COORDINATE,
                    "description": "Longitude, or easting in a projected `crs`.",
                },
                "lat": {
                    "type": "number",
                    "minimum": -MAX_ABS_COORDINATE,
                    "maximum": MAX_ABS_COORDINATE,
                    "description": "Latitude, or northing in a projected `crs`.",
                },
                "crs": {
                    "type": "string",
                    "pattern": _CRS_PATTERN,
                    "description": "wgs84 (default) | cgcs2000 | gcj02 | bd09 | EPSG:nnnn",
                },
                "address": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": "string", "maxLength": 4000},
                "source": {"type": "string", "maxLength": 100, "description": "e.g. 12345热线"},
                "external_id": {"type": "string", "minLength": 1, "maxLength": 100},
                "reported_at": {
                    **_DATETIME,
                    "description": "When it was reported (with a UTC offset); default now.",
                },
            },
            "anyOf": [{"required": ["lon", "lat"]}, {"required": ["address"]}],
            "additionalProperties": False,
        },
        "CaseStep": {
            "type": "object",
            "description": (
                "The next step of a case. Who took it (`<step>_by`) is recorded as the "
                "signed-in user or the API token's user."
            ),
            "required": ["step"],
            "properties": {
                "step": {"type": "string", "enum": list(CASE_STEP_CHOICES[1:])},
                "at": {**_DATETIME, "description": "When the step was taken; default now."},
            },
            "additionalProperties": False,
        },
        "Category": {
            "type": "object",
            "required": ["code", "name_zh", "name_en", "deadline_hours"],
            "properties": {
                "code": {"type": "string"},
                "name_zh": {"type": "string"},
                "name_en": {"type": "string"},
                "deadline_hours": {"type": "integer", "minimum": 1},
            },
            "additionalProperties": False,
        },
        "CaseStats": {
            "type": "object",
            "required": ["level", "layout", "rows"],
            "properties": {
                "level": {"type": "string"},
                "layout": {"type": "string"},
                "rows": {"type": "array", "items": _ref("CaseStatsRow")},
            },
            "additionalProperties": False,
        },
        "CaseStatsRow": {
            "type": "object",
            "description": (
                "One area (code null: the cases in no area). closure_rate is 结案率 "
                "closed / (cases - rejected); on_time_rate is 按期结案率 closed_on_time / closed."
            ),
            "required": list(_STATS_ROW),
            "properties": _STATS_ROW,
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "required": ["status", "postgis"],
            "properties": {"status": {"type": "string"}, "postgis": {"type": "string"}},
            "additionalProperties": False,
        },
        "Summary": {
            "type": "object",
            "required": ["district", "street", "community", "cell"],
            "properties": {
                level: {"type": "integer", "minimum": 0}
                for level in ("district", "street", "community", "cell")
            },
            "additionalProperties": False,
        },
        "Open311Error": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "description"],
                "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "Open311Service": {
            "type": "object",
            "required": [
                "service_code",
                "service_name",
                "description",
                "metadata",
                "type",
                "keywords",
                "group",
            ],
            "properties": {
                "service_code": {"type": "string"},
                "service_name": {"type": "string"},
                "description": {"type": "string"},
                "metadata": {"type": "boolean"},
                "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
                "keywords": {"type": "string"},
                "group": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "Open311ServiceDefinition": {
            "type": "object",
            "required": ["service_code", "attributes"],
            "properties": {
                "service_code": {"type": "string"},
                "attributes": {"type": "array", "maxItems": 0, "items": {"type": "object"}},
            },
            "additionalProperties": False,
        },
        "Open311NewRequest": {
            "type": "object",
            "description": (
                "A service request: `service_code`, and `lat` + `long` (WGS84) or "
                "`address_string`. `api_key` is an API token (`gridgis users token NAME`), "
                "needed unless the request has a bearer token or a session. "
                "`jurisdiction_id`, `device_id` and `account_id` are accepted and ignored. "
                "`address_id`, `media_url` and `attribute[...]` are not supported (no service "
                "has attributes). The case's `reported_by` is the key's user, then the "
                "requester's name, email and phone."
            ),
            "required": ["service_code"],
            "properties": {
                "api_key": {"type": "string", "maxLength": 200},
                "jurisdiction_id": {"type": "string", "maxLength": 200},
                "service_code": {"type": "string", "pattern": _CATEGORY_PATTERN},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "long": {"type": "number", "minimum": -180, "maximum": 180},
                "address_string": {"type": "string", "minLength": 1, "maxLength": 200},
                "email": {"type": "string", "maxLength": 254},
                "device_id": {"type": "string", "maxLength": 200},
                "account_id": {"type": "string", "maxLength": 200},
                "first_name": {"type": "string", "maxLength": 50},
                "last_name": {"type": "string", "maxLength": 50},
                "phone": {"type": "string", "maxLength": 30},
                "description": {"type": "string", "maxLength": 4000},
            },
            "anyOf": [{"required": ["lat", "long"]}, {"required": ["address_string"]}],
            "additionalProperties": False,
        },
        "Open311RequestCreated": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["service_request_id", "service_notice", "account_id"],
                "properties": {
                    "service_request_id": {"type": "string"},
                    "service_notice": _nullable({"type": "string"}),
                    "account_id": _nullable({"type": "string"}),
                },
                "additionalProperties": False,
            },
        },
        "Open311Request": {
            "type": "object",
            "required": list(_OPEN311_REQUEST_FIELDS),
            "properties": _OPEN311_REQUEST_FIELDS,
            "additionalProperties": False,
        },
        "Open311Requests": {"type": "array", "items": _ref("Open311Request")},
    }


_STATS_ROW: dict[str, Any] = {
    "code": _nullable({"type": "string"}),
    "name": _nullable({"type": "string"}),
    **{
        key: {"type": "integer", "minimum": 0}
        for key in ("cases", "closed", "rejected", "closed_on_time", "overdue_open")
    },
    "closure_rate": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "on_time_rate": _nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "median_hours_to_close": _nullable({"type": "number"}),
}

_OPEN311_REQUEST_FIELDS: dict[str, Any] = {
    "service_request_id": {"type": "string"},
    "status": {"type": "string", "enum": ["open", "closed"]},
    "status_notes": _nullable({"type": "string"}),
    "service_name": {"type": "string"},
    "service_code": {"type": "string"},
    "description": _nullable({"type": "string"}),
    "agency_responsible": _nullable({"type": "string"}),
    "service_notice": _nullable({"type": "string"}),
    "requested_datetime": _DATETIME,
    "updated_datetime": _DATETIME,
    "expected_datetime": _nullable(_DATETIME),
    "address": _nullable({"type": "string"}),
    "address_id": _nullable({"type": "string"}),
    "zipcode": _nullable({"type": "string"}),
    "lat": _nullable({"type": "number"}),
    "long": _nullable({"type": "number"}),
    "media_url": _nullable({"type": "string"}),
}


def _responses() -> dict[str, Any]:
    texts = {
        "E400": "The request cannot be read: bad JSON, or a value the library refused.",
        "E401": "Nobody is signed in and no valid API token was sent.",
        "E403": (
            "The user may not do this: an analyst changing data, or a street office asking "
            "for (or filing in) another street."
        ),
        "E404": "Not found.",
        "E409": "The change conflicts with the case's state (a step backwards or skipped).",
        "E413": "The body is larger than allowed.",
        "E415": "The body is not of a supported content type.",
        "E422": "A field or parameter is missing, unknown or has a bad value.",
        "E503": "The database cannot be reached.",
    }
    out = {name: _json(_ref("Error"), text) for name, text in texts.items()}
    open311 = {
        "O400": "A field is missing, unknown or has a bad value; or a format other than json.",
        "O401": "No valid api_key, bearer token or session.",
        "O403": "The user may not do this (an analyst filing; a request in another street).",
        "O404": "No such service or service request.",
        "O413": "The body is larger than allowed.",
        "O415": "The body is neither form-encoded nor JSON.",
        "O503": "The database cannot be reached.",
    }
    out |= {name: _json(_ref("Open311Error"), text) for name, text in open311.items()}
    return out


def _e(*statuses: int, prefix: str = "E") -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/{prefix}{s}"} for s in statuses}


_SINCE_UNTIL = [
    _query("since", _DATETIME, "Reported at or after this time (ISO 8601 with offset)."),
    _query("until", _DATETIME, "Reported before this time (ISO 8601 with offset)."),
]


def _case_paths() -> dict[str, Any]:
    case_id = {
        "name": "case_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": _MAX_ID},
    }
    return {
        "/api/cases": {
            "post": {
                "operationId": "createCase",
                "summary": "File a case by point or by address; it is routed to its cell.",
                "tags": ["cases"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewCase")}},
                },
                "responses": {
                    "201": {
                        **_json(_ref("Case"), "The case as stored."),
                        "headers": {
                            "Location": {
                                "description": "URL of the new case.",
                                "schema": {"type": "string"},
                            }
                        },
                    },
                    **_e(400, 404, 409, 413, 415, 422, 503),
                },
            },
            "get": {
                "operationId": "listCases",
                "summary": "Cases, newest first, filtered.",
                "tags": ["cases"],
                "parameters": [
                    _query("street", {"type": "string", "pattern": "^[0-9]{9}$"}, "Street code."),
                    _query(
                        "community",
                        {"type": "string", "pattern": "^[0-9]{12}$"},
                        "Community code.",
                    ),
                    _query("cell", {"type": "string", "pattern": "^[0-9]{15}$"}, "Cell code."),
                    _query(
                        "category",
                        {"type": "string", "minLength": 1, "maxLength": 64},
                        "Category code or Chinese name.",
                    ),
                    _query(
                        "step",
                        {"type": "string", "enum": list(CASE_STEP_CHOICES)},
                        "Current step.",
                    ),
                    _query("overdue", {"type": "boolean"}, "Only overdue (true) or not (false)."),
                    *_SINCE_UNTIL,
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                        "At most this many cases.",
                    ),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": _MAX_OFFSET, "default": 0},
                        "Skip this many cases.",
                    ),
                ],
                "responses": {
                    "200": _json(_ref("CaseList"), "The cases."),
                    **_e(400, 404, 422, 503),
                },
            },
        },
        "/api/cases/{case_id}": {
            "get": {
                "operationId": "getCase",
                "summary": "One case.",
                "tags": ["cases"],
                "parameters": [case_id],
                "responses": {"200": _json(_ref("Case"), "The case."), **_e(404, 422, 503)},
            }
        },
        "/api/cases/{case_id}/steps": {
            "post": {
                "operationId": "advanceCase",
                "summary": "Move a case to its next step, or reject it (作废).",
                "tags": ["cases"],
                "parameters": [case_id],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("CaseStep")}},
                },
                "responses": {
                    "200": _json(_ref("Case"), "The case after the step."),
                    **_e(400, 404, 409, 413, 415, 422, 503),
                },
            }
        },
        "/api/cases/stats": {
            "get": {
                "operationId": "caseStats",
                "summary": "Case figures per area: counts, 结案率, 按期结案率.",
                "tags": ["cases"],
                "parameters": [
                    _query(
                        "level",
                        {
                            "type": "string",
                            "enum": ["cell", "community", "street"],
                            "default": "cell",
                        },
                        "Area level of the rows.",
                    ),
                    _query(
                        "layout",
                        {"type": "string", "enum": ["filed", "current"], "default": "filed"},
                        "Count cases in the cell they were filed in, or in today's cells.",
                    ),
                    *_SINCE_UNTIL,
                ],
                "responses": {
                    "200": _json(_ref("CaseStats"), "One row per area."),
                    **_e(400, 422, 503),
                },
            }
        },
        "/api/categories": {
            "get": {
                "operationId": "listCategories",
                "summary": "Case categories with their time limits to close.",
                "tags": ["cases"],
                "responses": {
                    "200": _json({"type": "array", "items": _ref("Category")}, "Categories."),
                    **_e(503),
                },
            }
        },
    }


_API_KEY = _query(
    "api_key",
    {"type": "string", "maxLength": 200},
    "An API token (`gridgis users token NAME`), unless the request sends a bearer token or "
    "has a session.",
)


def _open311_paths() -> dict[str, Any]:
    def errors(*statuses: int) -> dict[str, Any]:
        return _e(*statuses, prefix="O")

    comma_ids = "^[0-9]{1,18}(,[0-9]{1,18}){0,99}$"
    comma_codes = "^[a-z][a-z0-9_]{0,63}(,[a-z][a-z0-9_]{0,63}){0,9}$"
    return {
        f"{OPEN311_PREFIX}/services.json": {
            "get": {
                "operationId": "open311Services",
                "summary": "The services (case categories) that requests can be filed in.",
                "tags": ["open311"],
                "parameters": [_query("jurisdiction_id", _TEXT, "Accepted and ignored."), _API_KEY],
                "responses": {
                    "200": _json(
                        {"type": "array", "items": _ref("Open311Service")}, "The services."
                    ),
                    **errors(400, 503),
                },
            }
        },
        f"{OPEN311_PREFIX}/services/{{service_code}}.json": {
            "get": {
                "operationId": "open311ServiceDefinition",
                "summary": "A service definition (no service has attributes).",
                "tags": ["open311"],
                "parameters": [
                    {
                        "name": "service_code",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": _CATEGORY_PATTERN},
                    },
                    _query("jurisdiction_id", _TEXT, "Accepted and ignored."),
                    _API_KEY,
                ],
                "responses": {
                    "200": _json(_ref("Open311ServiceDefinition"), "The definition."),
                    **errors(400, 404, 503),
                },
            }
        },
        f"{OPEN311_PREFIX}/requests.json": {
            "post": {
                "operationId": "open311CreateRequest",
                "summary": "File a service request (a case).",
                "tags": ["open311"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": _ref("Open311NewRequest")},
                        "application/json": {"schema": _ref("Open311NewRequest")},
                    },
                },
                "responses": {
                    "201": _json(_ref("Open311RequestCreated"), "The new request's id."),
                    **errors(400, 404, 413, 415, 503),
                },
            },
            "get": {
                "operationId": "open311Requests",
                "summary": (
                    "Service requests, newest first; at most 1000. Without dates, the last 90 days."
                ),
                "tags": ["open311"],
                "parameters": [
                    _query(
                        "service_request_id",
                        {"type": "string", "pattern": comma_ids},
                        "Comma-separated ids; when given, the other filters are ignored.",
                    ),
                    _query(
                        "service_code",
                        {"type": "string", "pattern": comma_codes},
                        "Comma-separated service codes (at most 10).",
                    ),
                    _query("start_date", _DATETIME, "Requested at or after (w3 date-time)."),
                    _query("end_date", _DATETIME, "Requested before (w3 date-time)."),
                    _query(
                        "status",
                        {"type": "string", "pattern": "^(open|closed)(,(open|closed))?$"},
                        "open, closed or both (comma-separated).",
                    ),
                    _query("jurisdiction_id", _TEXT, "Accepted and ignored."),
                    _API_KEY,
                ],
                "responses": {
                    "200": _json(_ref("Open311Requests"), "The requests."),
                    **errors(400, 404, 503),
                },
            },
        },
        f"{OPEN311_PREFIX}/requests/{{service_request_id}}.json": {
            "get": {
                "operationId": "open311Request",
                "summary": "One service request, as a list of one.",
                "tags": ["open311"],
                "parameters": [
                    {
                        "name": "service_request_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
                    },
                    _query("jurisdiction_id", _TEXT, "Accepted and ignored."),
                    _API_KEY,
                ],
                "responses": {
                    "200": _json(_ref("Open311Requests"), "The request."),
                    **errors(400, 404, 503),
                },
            }
        },
    }


_PUBLIC: list[dict[str, list[str]]] = []
"""The ``security`` of an operation anyone may call."""
_SIGNED_IN: list[dict[str, list[str]]] = [
    {"sessionCookie": []},
    {"bearerToken": []},
    {"apiKeyHeader": []},
]
"""The ``security`` of the JSON API: a session or an API token."""
_OPEN311_SECURITY = [{"open311ApiKey": []}, *_SIGNED_IN]


def _security_schemes() -> dict[str, Any]:
    token = (
        "An API token `ggt_...` issued with `gridgis users token NAME`; it acts as that "
        "user (role and street) and needs no CSRF token."
    )
    return {
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "session",
            "description": (
                "The session of POST /login (a browser). POST, PUT, PATCH and DELETE with a "
                "session also need the `X-CSRF-Token` header (from GET /api/me)."
            ),
        },
        "bearerToken": {"type": "http", "scheme": "bearer", "description": token},
        "apiKeyHeader": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": f"{token} The same as `Authorization: Bearer`, in its own header.",
        },
        "open311ApiKey": {
            "type": "apiKey",
            "in": "query",
            "name": "api_key",
            "description": (
                f"Open311's api_key: {token} In the query, or as a field of the body of "
                "POST requests.json; better in the `X-Api-Key` header, which stays out of "
                "URLs (access logs mask the query field all the same)."
            ),
        },
    }


def _street_code(description: str) -> dict[str, Any]:
    """A 9-digit street code that the view strips and may leave empty (the default)."""
    return _query("street", {"type": "string", "pattern": r"^\s*([0-9]{9})?\s*$"}, description)


_FLAG_PATTERN = r"^\s*(1|0|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo])?\s*$"
"""A flag as density_api reads it: 1/0, true/false, yes/no in any case, or empty (off)."""


GEOJSON = "application/geo+json"


def _geojson(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {GEOJSON: {"schema": dict(schema)}}}


_FEATURES = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"type": "object"}},
    },
}


def _area_paths() -> dict[str, Any]:
    return {
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Whether the database and its PostGIS answer (open to anyone).",
                "tags": ["areas"],
                "security": _PUBLIC,
                "responses": {"200": _json(_ref("Health"), "Healthy."), **_e(503)},
            }
        },
        "/api/summary": {
            "get": {
                "operationId": "summary",
                "summary": (
                    "Numbers of stored districts, streets, communities and active cells (a "
                    "street office: its district, its street and what lies in it)."
                ),
                "tags": ["areas"],
                "responses": {"200": _json(_ref("Summary"), "The counts."), **_e(503)},
            }
        },
        "/api/areas/{level}.geojson": {
            "get": {
                "operationId": "areas",
                "summary": (
                    "The areas of a level as a GeoJSON FeatureCollection (EPSG:4326). A street "
                    "office gets its own street and what lies in it, and its district's outline."
                ),
                "tags": ["areas"],
                "parameters": [
                    {
                        "name": "level",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["district", "street", "community", "cell"],
                        },
                    },
                    _query(
                        "within",
                        {"type": "string", "pattern": r"^\s*([0-9]{2,15})?\s*$"},
                        "Keep the areas whose code starts with this (2 to 15 digits); for a "
                        "street office, one outside its street is a 403.",
                    ),
                ],
                "responses": {
                    "200": _geojson(_FEATURES, "A FeatureCollection."),
                    **_e(404, 422, 503),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document (open to anyone).",
                "tags": ["areas"],
                "security": _PUBLIC,
                "responses": {
                    "200": _json({"type": "object"}, "The OpenAPI 3.0 document."),
                },
            }
        },
    }


def _density_parameters() -> list[dict[str, Any]]:
    time_text = "YYYY-MM-DD or an ISO 8601 time (no offset: China Standard Time), years 1900–2100."
    return [
        _street_code(
            "Only this street office (9 digits); a street office's own by default, another "
            "one is a 403."
        ),
        _query(
            "community",
            {"type": "string", "pattern": r"^\s*([0-9]{12})?\s*$"},
            "Only this community (12 digits); for a street office, one outside its street is a "
            "403.",
        ),
        {
            "name": "category",
            "in": "query",
            "required": False,
            "description": "Category codes or Chinese names; repeat or separate by commas.",
            "schema": {"type": "array", "items": {"type": "string"}},
            "style": "form",
            "explode": True,
        },
        _query("since", {"type": "string"}, f"Reported at or after this. {time_text}"),
        _query(
            "until",
            {"type": "string"},
            f"Reported before this; a bare date includes its whole day. {time_text}",
        ),
        _query("retired", {"type": "string", "pattern": _FLAG_PATTERN}, "1: retired cells too."),
        _query("rejected", {"type": "string", "pattern": _FLAG_PATTERN}, "1: rejected cases too."),
    ]


def _map_paths() -> dict[str, Any]:
    """Density, placement and the cell tiles: the data behind the map pages."""
    placement = [
        _street_code(
            "A street office's 9-digit code (empty: everything stored); a street office's own "
            "by default, another one is a 403."
        ),
        _query(
            "minutes",
            {"type": "integer", "enum": [5, 10, 15]},
            "Walking minutes: 5, 10 or 15 (300, 500 or 1,000 m); default 10.",
        ),
        _query(
            "threshold",
            {"type": "number", "minimum": 1, "maximum": 100},
            "Percent of a cell's households that must be covered; default 50.",
        ),
        _query(
            "kinds",
            {
                "type": "string",
                "pattern": (r"^\s*(branch|centre|station)?\s*(,\s*(branch|centre|station)?\s*)*$"),
            },
            "Comma list of facility kinds: branch, centre, station (default all).",
        ),
    ]
    feature_collection = {**_FEATURES, "additionalProperties": True}
    figures = [
        *_density_parameters(),
        _query(
            "value",
            {"type": "string", "pattern": r"^\s*(rate|count)?\s*$"},
            "What Gi* tests: rate (default) or count.",
        ),
        _query(
            "by_category",
            {"type": "string", "pattern": _FLAG_PATTERN},
            "1: a `cases_<category>` count per category.",
        ),
        _query(
            "now",
            {"type": "string"},
            "The moment inspection recency is measured from (default now).",
        ),
        _query(
            "window_days",
            {"type": "integer", "minimum": 1, "maximum": 3660},
            "The recent-inspection window in days (default 30).",
        ),
    ]
    fields = _query(
        "fields",
        {"type": "string"},
        "A comma list of the properties to send (`code` always comes); an unknown name is a 400.",
    )
    return {
        "/api/density/cells.geojson": {
            "get": {
                "operationId": "densityCells",
                "summary": (
                    "Cells with case counts, rates per 1,000 households, Getis-Ord Gi* hotspot "
                    "classes and inspection recency; a foreign member `density` holds the "
                    "filter, totals and method."
                ),
                "tags": ["maps"],
                "parameters": [
                    *figures,
                    _query(
                        "geometry",
                        {"type": "string", "pattern": _FLAG_PATTERN},
                        "0: features without geometry (join them by `code`).",
                    ),
                    fields,
                ],
                "responses": {
                    "200": _geojson(
                        {**feature_collection, "required": ["type", "features", "density"]},
                        "The cells.",
                    ),
                    **_e(400, 404, 503),
                },
            }
        },
        "/api/density/cells.json": {
            "get": {
                "operationId": "densityCellTable",
                "summary": (
                    "The figures of cells.geojson as a table, without geometry: `columns` "
                    "(names once) and `rows` (a list of values a cell), and the member "
                    "`density`; for a map that draws the cells from vector tiles."
                ),
                "tags": ["maps"],
                "parameters": [
                    *figures,
                    fields,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["columns", "rows", "density"],
                            "properties": {
                                "columns": {"type": "array", "items": {"type": "string"}},
                                "rows": {"type": "array", "items": {"type": "array"}},
                                "density": {"type": "object"},
                            },
                        },
                        "The cells' figures.",
                    ),
                    **_e(400, 404, 503),
                },
            }
        },
        "/api/density/heat.json": {
            "get": {
                "operationId": "densityHeat",
                "summary": (
                    "Case points for a heat layer as [lat, lon, weight], binned on a fine grid "
                    "when there are more than `max_points`."
                ),
                "tags": ["maps"],
                "parameters": [
                    *_density_parameters(),
                    _query(
                        "max_points",
                        {"type": "integer", "minimum": 1, "maximum": 50000},
                        "At most this many points (default 50,000).",
                    ),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["points", "cases", "bin_degrees", "max_weight"],
                            "properties": {
                                "points": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "minItems": 3,
                                        "maxItems": 3,
                                        "items": {"type": "number"},
                                    },
                                },
                                "order": {"type": "array", "items": {"type": "string"}},
                                "cases": {"type": "integer", "minimum": 0},
                                "bin_degrees": _nullable({"type": "number"}),
                                "max_weight": {"type": "integer", "minimum": 0},
                                "filters": {"type": "object"},
                            },
                        },
                        "The points.",
                    ),
                    **_e(400, 404, 503),
                },
            }
        },
        "/api/placement/coverage.geojson": {
            "get": {
                "operationId": "placementCoverage",
                "summary": (
                    "Walking coverage of party branches and service centres / stations: "
                    "features with `role` cell, service_area or facility; a foreign member "
                    "`summary` holds the figures."
                ),
                "tags": ["maps"],
                "parameters": [
                    *placement,
                    _query(
                        "cell_geometry",
                        {
                            "type": "string",
                            "pattern": r"^\s*(0|1|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])?\s*$",
                        },
                        "0: the cells' polygons left out (null).",
                    ),
                ],
                "responses": {
                    "200": _geojson(
                        {**feature_collection, "required": ["type", "features", "summary"]},
                        "The coverage.",
                    ),
                    **_e(400, 404, 503),
                },
            }
        },
        "/api/placement/suggest": {
            "get": {
                "operationId": "placementSuggest",
                "summary": (
                    "Where `k` new sites would cover the most households not yet covered "
                    "(MILP, HiGHS): features with `role` site; a foreign member `solution`."
                ),
                "tags": ["maps"],
                "parameters": [
                    *placement,
                    _query(
                        "k",
                        {"type": "integer", "minimum": 1, "maximum": 50},
                        "New sites wanted (default 3).",
                    ),
                    _query(
                        "candidates",
                        {"type": "string", "pattern": r"^\s*(buildings|road_nodes)?\s*$"},
                        "Where sites may go: buildings (default) or road_nodes.",
                    ),
                ],
                "responses": {
                    "200": _geojson(
                        {**feature_collection, "required": ["type", "features", "solution"]},
                        "The sites.",
                    ),
                    **_e(400, 404, 503),
                },
            }
        },
        "/tiles/cells/{z}/{x}/{y}.pbf": {
            "get": {
                "operationId": "cellTile",
                "summary": (
                    "A Mapbox Vector Tile of the active cells in tile z/x/y (XYZ numbering). "
                    "Cached privately for 60 s with a weak ETag."
                ),
                "tags": ["maps"],
                "parameters": [
                    *(
                        {
                            "name": name,
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 0, "maximum": high},
                            "description": text,
                        }
                        for name, high, text in (
                            ("z", 22, "Zoom, 0 to 22."),
                            ("x", 2**22 - 1, "Column, 0 to 2^z - 1."),
                            ("y", 2**22 - 1, "Row from the north, 0 to 2^z - 1."),
                        )
                    ),
                    _query(
                        "street",
                        {"type": "string", "pattern": "^([0-9]{9})?$"},
                        "Only this street office's cells; a street office's own by default, "
                        "another one is a 403.",
                    ),
                    _query(
                        "colour",
                        {"type": "string", "pattern": "^(households|worker|branch)?$"},
                        "What the `colour` property classifies (default households).",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The tile (gzip-compressed when accepted).",
                        "content": {
                            "application/vnd.mapbox-vector-tile": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    },
                    "204": {"description": "No cell is in this tile."},
                    "304": {"description": "Not modified since the ETag sent."},
                    **_e(400, 404, 503),
                },
            }
        },
    }


_EXPORT_MEDIA_TYPES: tuple[str, ...] = (
    "application/zip",
    "application/geopackage+sqlite3",
    "application/geo+json",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)
"""The media types of the export formats (gridgis.export.FORMATS): shp, gpkg, geojson, csv,
xlsx."""

_DAY_PATTERN = r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})?\s*$"


def _export_paths() -> dict[str, Any]:
    """The downloads of :mod:`gridgis.web.export_api`."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "/api/export/{what}.{fmt}": {
            "get": {
                "operationId": "exportData",
                "summary": (
                    "Cells, cases, inspections or per-area statistics as a file to download "
                    "(shp: a zip with fields.csv naming the shortened DBF fields); a street "
                    "office's own street only."
                ),
                "tags": ["exports"],
                "parameters": [
                    {
                        "name": "what",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["cells", "cases", "inspections", "stats"],
                        },
                        "description": "What to export.",
                    },
                    {
                        "name": "fmt",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "enum": ["shp", "gpkg", "geojson", "csv", "xlsx"],
                        },
                        "description": "The file format (shp: a zip).",
                    },
                    _query(
                        "district",
                        {"type": "string", "pattern": r"^\s*([0-9]{6})?\s*$"},
                        "Only this district (6 digits); a street or community outside it is a "
                        "400. For a street office, a district that does not hold its street is "
                        "a 403, and its own district exports its own street.",
                    ),
                    _street_code(
                        "Only this street office (9 digits); a street office's own by default, "
                        "another one is a 403."
                    ),
                    _query(
                        "community",
                        {"type": "string", "pattern": r"^\s*([0-9]{12})?\s*$"},
                        "Only this community (12 digits); for a street office, one outside its "
                        "street is a 403.",
                    ),
                    _query(
                        "from",
                        {"type": "string", "pattern": _DAY_PATTERN},
                        "First day of the period, YYYY-MM-DD (China Standard Time); cases by "
                        "report time, inspections by start. Cells ignore the period.",
                    ),
                    _query(
                        "to",
                        {"type": "string", "pattern": _DAY_PATTERN},
                        "Last day of the period (included), YYYY-MM-DD.",
                    ),
                    _query(
                        "crs",
                        {"type": "string", "pattern": _CRS_PATTERN, "default": "wgs84"},
                        "Coordinates written: wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn.",
                    ),
                    _query(
                        "encoding",
                        {"type": "string", "enum": ["utf-8", "gbk"], "default": "utf-8"},
                        "Text encoding of a shapefile or CSV file (other formats: utf-8 only).",
                    ),
                    _query(
                        "level",
                        {"type": "string", "enum": ["cell", "community", "street"]},
                        "Only for stats: one row per cell (default), community or street office.",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "The file, as an attachment.",
                        "headers": {
                            "Content-Disposition": {
                                "description": (
                                    'attachment; filename="<ASCII name>"; '
                                    "filename*=UTF-8''<the name with the area's Chinese name>"
                                ),
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {
                            media: (
                                {"schema": {**_FEATURES, "additionalProperties": True}}
                                if media == GEOJSON
                                else binary
                            )
                            for media in _EXPORT_MEDIA_TYPES
                        },
                    },
                    **_e(400, 404, 422, 503),
                },
            }
        }
    }


def _secured(paths: dict[str, Any]) -> dict[str, Any]:
    """Add the 401 and 403 answers to every operation that needs a user."""
    for path, item in paths.items():
        for op in item.values():
            if op.get("security") == _PUBLIC:
                continue
            prefix = "O" if path.startswith(OPEN311_PREFIX) else "E"
            if prefix == "O":
                op["security"] = _OPEN311_SECURITY
            op["responses"] |= _e(401, 403, prefix=prefix)
            op["responses"] = dict(sorted(op["responses"].items()))
    return paths


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "gridgis",
            "version": "1",
            "description": (
                "Case intake (事件上报) for grid-based community governance: file cases by point "
                "or address, move them through 上报 → 立案 → 派遣 → 处置 → 核查 → 结案, list and "
                "count them; the same cases as Open311 GeoReport v2 service requests. Errors are "
                '`{"error": message}` under /api and `[{"code": status, "description": '
                "message}]` under /open311/v2."
            ),
        },
        "tags": [
            {"name": "cases", "description": "The case intake API."},
            {"name": "open311", "description": "Open311 GeoReport v2 (JSON only)."},
            {"name": "areas", "description": "Areas and the service's health."},
            {"name": "maps", "description": "Case density, facility placement, cell tiles."},
            {
                "name": "exports",
                "description": "Files for analysts: shapefile, GeoPackage, GeoJSON, CSV, Excel.",
            },
        ],
        "security": _SIGNED_IN,
        "paths": _secured(
            _case_paths() | _open311_paths() | _area_paths() | _map_paths() | _export_paths()
        ),
        "components": {
            "schemas": _schemas(),
            "responses": _responses(),
            "securitySchemes": _security_schemes(),
        },
    }


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.0 document of the gridgis JSON APIs (a fresh copy).

    Examples
    --------
    >>> doc = openapi_document()
    >>> doc["openapi"], "/api/cases" in doc["paths"]
    ('3.0.3', True)
    """
    return copy.deepcopy(_document())


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Answer the OpenAPI document."""
    return jsonify(_document())


# --- checking requests against the document -----------------------------------------------------


def operation(operation_id: str) -> dict[str, Any]:
    """Return the operation object of the document with ``operationId`` ``operation_id``.

    Examples
    --------
    >>> operation("listCases")["summary"]
    'Cases, newest first, filtered.'
    """
    return _operations()[operation_id]


@functools.cache
def _operations() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in _document()["paths"].values():
        for op in item.values():
            found[op["operationId"]] = op
    return found


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    name = ref.rsplit("/", 1)[-1]
    resolved: Mapping[str, Any] = _document()["components"]["schemas"][name]
    return resolved


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


_TYPE_NAMES = {
    "string": "a string",
    "number": "a finite number",
    "integer": "an integer",
    "boolean": "true or false",
    "object": "an object",
    "array": "an array",
}
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,30}")
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,30})?(?:[eE][+-]?[0-9]{1,4})?")
_DATETIME_TEXT = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?)"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_datetime(value: str) -> dt.datetime | None:
    """Read an RFC 3339 date-time (with ``Z`` or an offset); ``None`` when it is not one.

    Examples
    --------
    >>> parse_datetime("2025-03-01T08:00:00+08:00").isoformat()
    '2025-03-01T08:00:00+08:00'
    >>> parse_datetime("2025-03-01") is None
    True
    """
    match = _DATETIME_TEXT.fullmatch(value)
    if match is None:
        return None
    day, time, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        parsed = parse_time(f"{day}T{time}{offset}", field="time", plausible=False)
    except InputError:
        return None
    if not _DATETIME_YEARS[0] <= parsed.year <= _DATETIME_YEARS[1]:
        return None
    return parsed


def _from_text(text: str, kind: str | None) -> Any:
    """Read a query or form value as ``kind``; return it unchanged when it is not one."""
    if kind == "integer" and _INTEGER_TEXT.fullmatch(text):
        return int(text)
    if kind == "number" and _NUMBER_TEXT.fullmatch(text):
        return float(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def check_value(
    value: Any, schema: Mapping[str, Any], *, name: str, text: bool = False
) -> tuple[Any, list[str]]:
    """Check one value against a schema of the document.

    Parameters
    ----------
    value:
        The value as parsed from JSON, or the text of a query or form field.
    schema:
        A schema (or ``$ref``) of :func:`openapi_document`.
    name:
        The field's name, for messages.
    text:
        ``value`` came as text (query string, form): read numbers and
        booleans from it first.

    Returns
    -------
    tuple
        The value ready for the library (numbers as ``int``/``float``,
        ``date-time`` strings as aware :class:`datetime.datetime`), and the
        problems found (empty when valid).

    Examples
    --------
    >>> check_value("7", {"type": "integer", "minimum": 1}, name="limit", text=True)
    (7, [])
    >>> check_value(0, {"type": "integer", "minimum": 1}, name="limit")[1]
    ['`limit` was 0 but is expected to be at least 1']
    """
    schema = _resolve(schema)
    kind = str(schema.get("type"))
    if value is None:
        if schema.get("nullable"):
            return None, []
        return None, [f"`{name}` was null but is expected to be {_TYPE_NAMES.get(kind, kind)}"]
    if text and isinstance(value, str):
        value = _from_text(value, kind)
    expected = f"but is expected to be {_TYPE_NAMES.get(kind, kind)}"
    if kind == "object":
        if not isinstance(value, dict):
            return value, [f"`{name}` was {_show(value)} {expected}"]
        return check_object(value, schema, what=name, text=text)
    if kind == "string":
        if not isinstance(value, str):
            return value, [f"`{name}` was {_show(value)} {expected}"]
        return _check_string(value, schema, name)
    if kind in ("number", "integer"):
        return _check_number(value, schema, name, kind, expected)
    if kind == "boolean":
        if not isinstance(value, bool):
            return value, [f"`{name}` was {_show(value)} {expected}"]
        return value, []
    raise TypeError(f"the document has a schema of type {kind!r} that requests cannot use")


def _check_string(value: str, schema: Mapping[str, Any], name: str) -> tuple[Any, list[str]]:
    shown = _show(value)
    if "\x00" in value:
        return value, [f"`{name}` was {shown} but may not contain a NUL character"]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value, [f"`{name}` was {shown} but is not valid Unicode text (lone surrogate)"]
    if "enum" in schema and value not in schema["enum"]:
        return value, [f"`{name}` was {shown} but is expected to be one of {schema['enum']}"]
    if len(value) < schema.get("minLength", 0):
        return value, [f"`{name}` was {shown} but is expected to be non-empty"]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return value, [
            f"`{name}` has {len(value)} characters but is expected to have at most "
            f"{schema['maxLength']}"
        ]
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        return value, [
            f"`{name}` was {shown} but is expected to match {schema['pattern']}"
            + (f" ({schema['description']})" if "description" in schema else "")
        ]
    if schema.get("format") == "date-time":
        parsed = parse_datetime(value)
        if parsed is None:
            return value, [
                f"`{name}` was {shown} but is expected to be an ISO 8601 date-time with a UTC "
                f"offset in the years {_DATETIME_YEARS[0]}–{_DATETIME_YEARS[1]}, "
                "e.g. 2025-03-01T08:30:00+08:00"
            ]
        return parsed, []
    return value, []


def _check_number(
    value: Any, schema: Mapping[str, Any], name: str, kind: str, expected: str
) -> tuple[Any, list[str]]:
    shown = _show(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value, [f"`{name}` was {shown} {expected}"]
    if isinstance(value, float):
        if not math.isfinite(value):
            return value, [f"`{name}` was {shown} {expected}"]
        if kind == "integer":
            if not value.is_integer():
                return value, [f"`{name}` was {shown} {expected}"]
            value = int(value)
    if "minimum" in schema and value < schema["minimum"]:
        return value, [f"`{name}` was {shown} but is expected to be at least {schema['minimum']}"]
    if "maximum" in schema and value > schema["maximum"]:
        return value, [f"`{name}` was {shown} but is expected to be at most {schema['maximum']}"]
    return (float(value) if kind == "number" else value), []


def check_object(
    data: Mapping[str, Any], schema: Mapping[str, Any], *, what: str, text: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Check an object's fields: required ones present, no unknown ones, each value valid.

    Returns the converted fields that were given (see :func:`check_value`)
    and every problem found, not only the first.

    Examples
    --------
    >>> schema = {"type": "object", "required": ["step"], "additionalProperties": False,
    ...           "properties": {"step": {"type": "string"}}}
    >>> check_object({"stp": "closed"}, schema, what="body")[1]
    ['`body` has unknown field(s) `stp`; allowed: `step`', '`body` needs `step`']
    """
    schema = _resolve(schema)
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems: list[str] = []
    unknown = [key for key in data if key not in properties]
    if unknown and schema.get("additionalProperties") is False:
        listed = ", ".join(f"`{_show(key)[1:-1]}`" for key in unknown[:10])
        allowed = ", ".join(f"`{key}`" for key in properties)
        problems.append(f"`{what}` has unknown field(s) {listed}; allowed: {allowed}")
    missing = [key for key in schema.get("required", []) if key not in data]
    if missing:
        problems.append(f"`{what}` needs " + ", ".join(f"`{key}`" for key in missing))
    choices = schema.get("anyOf", [])
    if choices and not any(all(key in data for key in c.get("required", [])) for c in choices):
        wanted = " or ".join(
            " and ".join(f"`{key}`" for key in c.get("required", [])) for c in choices
        )
        problems.append(f"`{what}` needs {wanted}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in properties:
            out[key], found = check_value(value, properties[key], name=key, text=text)
            problems.extend(found)
    return out, problems


def read_query(operation_id: str, args: MultiDict[str, str]) -> dict[str, Any]:
    """Read the query parameters of a request to operation ``operation_id``.

    Unknown and repeated parameters are refused, each value is checked and
    converted by its schema, and absent ones get their schema's default.

    Raises
    ------
    ValidationError
        Listing every bad parameter.

    Examples
    --------
    >>> read_query("listCases", MultiDict({"limit": "5"}))["limit"]
    5
    """
    parameters = {
        p["name"]: p["schema"]
        for p in operation(operation_id).get("parameters", [])
        if p["in"] == "query"
    }
    return _from_multidict(args, parameters, what="query")


def _from_multidict(
    args: MultiDict[str, str], parameters: Mapping[str, Any], *, what: str
) -> dict[str, Any]:
    problems: list[str] = []
    unknown = [key for key in args if key not in parameters]
    if unknown:
        listed = ", ".join(f"`{_show(key)[1:-1]}`" for key in unknown[:10])
        allowed = ", ".join(f"`{key}`" for key in parameters) or "none"
        problems.append(f"unknown {what} parameter(s) {listed}; allowed: {allowed}")
    out: dict[str, Any] = {}
    for name, schema in parameters.items():
        given = args.getlist(name)
        if len(given) > 1:
            problems.append(f"`{name}` was given {len(given)} times but may be given once")
        elif given:
            out[name], found = check_value(given[0], schema, name=name, text=True)
            problems.extend(found)
        elif "default" in schema:
            out[name] = schema["default"]
    if problems:
        raise ValidationError(
            f"invalid {what} parameters", [Problem(None, None, p) for p in problems]
        )
    return out


# --- reading bodies ------------------------------------------------------------------------------


class UnsupportedMediaTypeError(InputError):
    """The request body has a content type the endpoint does not read."""

    status = 415


class BodyTooLargeError(InputError):
    """The request body is larger than :data:`MAX_BODY_BYTES`."""

    status = 413


def _raw_body() -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLargeError(
            f"the body has {length} bytes but may have at most {MAX_BODY_BYTES}"
        )
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise BodyTooLargeError(f"the body has more than {MAX_BODY_BYTES} bytes")
    return data


def _content_type() -> str:
    return repr(request.mimetype) if request.mimetype else "missing"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the field {key!r} is given twice")
        out[key] = value
    return out


def json_body() -> Any:
    """Return the request's JSON body, strictly read.

    The content type must be ``application/json``; the text UTF-8 JSON with
    no ``NaN``/``Infinity``, no number too large for a float, no field
    given twice and no NUL character in a string (:func:`gridgis.web.limits.check_json`).

    Raises
    ------
    UnsupportedMediaTypeError
        (415) for another content type.
    BodyTooLargeError
        (413) for a body over :data:`MAX_BODY_BYTES`.
    InputError
        (400) when the body is not such JSON.
    """
    if request.mimetype != "application/json":
        raise UnsupportedMediaTypeError(
            f"the body's content type was {_content_type()} but is expected to be "
            "'application/json'"
        )
    data = _raw_body()
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeError are ValueErrors
        reason = str(exc) if not isinstance(exc, RecursionError) else "it is nested too deeply"
        raise InputError(f"the body is not valid JSON: {reason}") from None
    check_json(value)
    return value


def body_fields(*, what: str, form: bool = False) -> tuple[dict[str, Any], bool]:
    """Return the request's body as raw fields, and whether they came as text (a form).

    Parameters
    ----------
    what:
        What the body is, for messages ("case", "service request").
    form:
        Also read ``application/x-www-form-urlencoded`` bodies (Open311);
        a field given twice is refused.

    Raises
    ------
    ValidationError
        (422) when the body is not an object, or a form field is repeated.
    InputError, UnsupportedMediaTypeError, BodyTooLargeError
        See :func:`json_body`.
    """
    if form and request.mimetype == "application/x-www-form-urlencoded":
        _raw_body_check_length()
        repeated = [
            f"`{_show(key)[1:-1]}` was given {len(request.form.getlist(key))} times but may "
            "be given once"
            for key in request.form
            if len(request.form.getlist(key)) > 1
        ]
        if repeated:
            raise ValidationError(f"invalid {what}", [Problem(None, None, p) for p in repeated])
        return request.form.to_dict(), True
    if form and request.mimetype != "application/json":
        raise UnsupportedMediaTypeError(
            f"the body's content type was {_content_type()} but is expected to be "
            "'application/x-www-form-urlencoded' or 'application/json'"
        )
    data = json_body()
    if not isinstance(data, dict):
        raise ValidationError(
            f"invalid {what}",
            [
                Problem(
                    None, None, f"the body was {_show(data)} but is expected to be a JSON object"
                )
            ],
        )
    return data, False


def check_fields(
    fields: Mapping[str, Any], schema: Mapping[str, Any], *, what: str, text: bool = False
) -> dict[str, Any]:
    """Check a body's fields against an object schema; return them converted.

    Raises
    ------
    ValidationError
        (422) listing every missing, unknown or bad field.
    """
    values, problems = check_object(fields, schema, what=what, text=text)
    if problems:
        raise ValidationError(f"invalid {what}", [Problem(None, None, p) for p in problems])
    return values


def read_body(schema: Mapping[str, Any], *, what: str, form: bool = False) -> dict[str, Any]:
    """Read the request's body and check it as the object ``schema`` describes.

    :func:`body_fields` then :func:`check_fields`.

    Examples
    --------
    >>> with app.test_request_context(json={"step": "registered"}):
    ...     read_body({"$ref": "#/components/schemas/CaseStep"}, what="step")
    {'step': 'registered'}
    """
    fields, text = body_fields(what=what, form=form)
    return check_fields(fields, schema, what=what, text=text)


def _raw_body_check_length() -> None:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLargeError(
            f"the body has {length} bytes but may have at most {MAX_BODY_BYTES}"
        )
