"""The OpenAPI 3.1 description of the JSON APIs, written from the routes' declarations.

Routes
------
``GET /api/openapi.json``
    The document. Open to anyone, like ``/api/health``.

Every route declared with :func:`gridgis.web.endpoints.endpoint` is described
from its declaration alone: path and its parameters from the URL rule, query
parameters and body from its pydantic models, answers from its replies (with
their links: which value of an answer is a parameter of which operation), who
may call it (security, 401/403) from its roles. Open311's errors are the
specification's list (``[{"code", "description"}]``), every other route's
``{"error": {"code", "message", "field"}}``.

Security: every operation but the public ones needs a session (cookie
``session`` after ``POST /login``; unsafe methods also the ``X-CSRF-Token``
header) or an API token (``Authorization: Bearer ggt_...`` or ``X-Api-Key``);
Open311 also takes the token as ``api_key``.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gridgis.web.endpoints import (
    MULTIPART,
    PUBLIC,
    Link,
    Operation,
    Reply,
    endpoint,
    operations,
)

__all__ = ["bp", "openapi_document"]

bp = Blueprint("openapi", __name__, url_prefix="/api")

_REF = "#/components/schemas/{model}"
_PATH_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_CONVERTERS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    "string": {"type": "string"},
    "path": {"type": "string"},
}
_ERROR_TEXTS: dict[int, str] = {
    400: "The request cannot be read: bad JSON, or a value the library refused.",
    401: "Nobody is signed in and no valid API token was sent.",
    403: "The user may not do this: an analyst changing data, or a street office asking for "
    "(or filing in) another street.",
    404: "Not found.",
    409: "The change conflicts with stored data (a case's state, an external id taken).",
    413: "The body is larger than allowed.",
    415: "The body is not of a supported content type.",
    422: "A parameter or field is missing, unknown, repeated or has a bad value.",
    503: "The database or the photo store cannot be reached.",
}
_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "description": "The kind of error, e.g. not_found."},
                "message": {"type": "string", "description": "What was wrong, naming the value."},
                "field": {
                    "type": ["string", "null"],
                    "description": "The parameter or field at fault.",
                },
            },
            "additionalProperties": False,
        }
    },
    "additionalProperties": False,
}


_OPEN311_ERROR_TEXTS: dict[int, str] = {
    400: "A field is missing, unknown or has a bad value; or a format other than json.",
    401: "No valid api_key, bearer token or session (reading needs none unless "
    "GRIDGIS_OPEN311_PUBLIC_READ is off).",
    403: "The user may not do this (an analyst filing; a request in another street); or the "
    "client's api_key is revoked.",
    404: "No such service or service request.",
    429: "The client's api_key made more requests this minute than it may; see Retry-After.",
    413: "The body is larger than allowed.",
    415: "The body is neither form-encoded nor JSON.",
    422: "A field is missing, unknown or has a bad value.",
    503: "The database or the photo store cannot be reached.",
}
_OPEN311_ERROR_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "additionalProperties": False,
    },
}
_SIGNED_IN: list[dict[str, list[str]]] = [
    {"sessionCookie": []},
    {"bearerToken": []},
    {"apiKeyHeader": []},
]
"""The ``security`` of the JSON API: a session or an API token."""
_OPEN311_SECURITY = [{"open311ApiKey": []}, *_SIGNED_IN]
_INFO = {
    "title": "gridgis",
    "version": "1",
    "description": (
        "Case intake (事件上报) for grid-based community governance: file cases by point "
        "or address, move them through 上报 → 立案 → 派遣 → 处置 → 核查 → 结案, list and "
        "count them; the same cases as Open311 GeoReport v2 service requests; areas, case "
        "density, facility placement, cell tiles and exports. Errors are "
        '`{"error": {"code", "message", "field"}}` under /api and `[{"code": status, '
        '"description": message}]` under /open311/v2.'
    ),
}
_TAGS = [
    {"name": "cases", "description": "The case intake API."},
    {"name": "open311", "description": "Open311 GeoReport v2 (JSON only)."},
    {"name": "areas", "description": "Areas, the signed-in user and the service's health."},
    {"name": "maps", "description": "Case density, facility placement, cell tiles."},
    {
        "name": "exports",
        "description": "Files for analysts: shapefile, GeoPackage, GeoJSON, CSV, Excel.",
    },
    {"name": "imports", "description": "Imports of a district's registers (the import page)."},
    {
        "name": "party",
        "description": "Party building on the grid (党建): organisations, leaders, 驻区单位, "
        "联合体, the needs list and the 三零 communities.",
    },
    {
        "name": "members",
        "description": "Party members (党员名册), their figures and points (党员积分).",
    },
]


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
                "Open311's api_key: the key of a client application `g311_...` issued with "
                "`gridgis open311 key add NAME` (rate-limited; it files as that client), or "
                f"{token[0].lower()}{token[1:]} In the query, or as a field of the body of "
                "POST requests.json; better in the `X-Api-Key` header, which stays out of "
                "URLs (access logs mask the query field all the same). Reading needs none "
                "unless GRIDGIS_OPEN311_PUBLIC_READ is off."
            ),
        },
    }


def _path(rule: str) -> str:
    return _PATH_ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(
                op.path.get(name) or _CONVERTERS.get(converter or "string", {"type": "string"})
            ),
        }
        for converter, name in _PATH_ARGUMENT.findall(op.rule)
    ]


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _query_schema(dict(prop), required=name in required)
        description = prop.pop("description", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            parameter["description"] = description
        out.append(parameter)
    return out


def _query_schema(prop: dict[str, Any], *, required: bool) -> dict[str, Any]:
    """A field's JSON Schema as a query parameter's: no ``null`` (absent is absent), and an
    empty value allowed for an optional one (it counts as absent)."""
    prop.pop("title", None)
    branches = [b for b in prop.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        prop = {**branches[0], **prop}
    elif branches:
        prop["anyOf"] = branches
    if prop.get("default", 0) is None:
        del prop["default"]
    elif isinstance(prop.get("default"), bool):  # a flag's default, as the query writes it
        prop["default"] = "true" if prop["default"] else "false"
    if required:
        return prop
    outer: dict[str, Any] = {k: prop.pop(k) for k in ("description", "default") if k in prop}
    return {"anyOf": [prop, {"const": ""}], **outer}


def _content(reply: Reply) -> dict[str, Any]:
    if reply.content is not None:
        return {kind: {"schema": dict(schema)} for kind, schema in reply.content.items()}
    if reply.model is not None:
        return {reply.media_type: {"schema": {"$ref": _REF.format(model=reply.model.__name__)}}}
    return {reply.media_type: {"schema": dict(reply.schema or {})}}


def _link(link: Link) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": link.operation_id, "parameters": dict(link.parameters)}
    if link.description:
        out["description"] = link.description
    return out


def _operation(op: Operation, *, open311_public_read: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
    }
    if op.description:
        out["description"] = op.description
    parameters = _path_parameters(op)
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        ref = {"$ref": _REF.format(model=op.body.__name__)}
        content: dict[str, Any] = {kind: {"schema": ref} for kind in op.body_types}
        if op.upload_field is not None and MULTIPART in content:
            content[MULTIPART] = {
                "schema": {"$ref": _REF.format(model=_upload_model(op))},
                "encoding": {op.upload_field: {"contentType": "image/jpeg, image/png"}},
            }
        out["requestBody"] = {"required": True, "content": content}
    responses: dict[str, Any] = {}
    for reply in op.replies:
        answer: dict[str, Any] = {"description": reply.description or "OK."}
        if reply.media_type:
            answer["content"] = _content(reply)
        if reply.headers:
            answer["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in reply.headers.items()
            }
        if reply.links:
            answer["links"] = {name: _link(link) for name, link in reply.links.items()}
        responses[str(reply.status)] = answer
    errors = set(op.errors) | {400, 503}  # 400: a NUL anywhere in the request
    open311_read = op.public and op.error_format == "open311"
    if not op.public:
        errors |= {401, 403}
    elif open311_read and not open311_public_read:
        errors.add(401)
    if op.query is not None or op.body is not None:
        errors.add(422)
    prefix = "O" if op.error_format == "open311" else "E"
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/{prefix}{status}"}
    out["responses"] = dict(sorted(responses.items()))
    if open311_read:  # Open311's reading: a key is optional unless public reading is off
        out["security"] = (
            [{}, *_OPEN311_SECURITY] if open311_public_read else list(_OPEN311_SECURITY)
        )
    elif op.public:
        out["security"] = []
    elif op.error_format == "open311":
        out["security"] = _OPEN311_SECURITY
    return out


def _upload_model(op: Operation) -> str:
    """The name of the schema of ``op``'s multipart body: its body's fields and its files."""
    assert op.body is not None
    return f"{op.body.__name__}Upload"


def _upload_schemas(ops: list[Operation], schemas: dict[str, Any]) -> dict[str, Any]:
    """The multipart bodies' schemas: each the body's, with the file field added."""
    out: dict[str, Any] = {}
    for op in ops:
        if op.upload_field is None or op.body is None:
            continue
        schema = copy.deepcopy(schemas[op.body.__name__])
        schema["title"] = _upload_model(op)
        schema["properties"][op.upload_field] = {
            "type": "array",
            "items": {"type": "string", "contentMediaType": "application/octet-stream"},
            "description": "Photos (JPEG or PNG, repeat the field for each); the other "
            "fields are text, as in a form.",
        }
        out[_upload_model(op)] = schema
    return out


def _models(ops: list[Operation]) -> list[tuple[type[BaseModel], Any]]:
    seen: dict[str, tuple[type[BaseModel], Any]] = {}
    for op in ops:
        if op.body is not None:
            seen[op.body.__name__] = (op.body, "validation")
        for reply in op.replies:
            if reply.model is not None:
                seen[reply.model.__name__] = (reply.model, "validation")
    return list(seen.values())


def _error_responses(prefix: str, texts: dict[int, str], schema: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}{status}": {
            "description": text,
            "content": {"application/json": {"schema": schema}},
        }
        for status, text in texts.items()
    }


@functools.cache
def _document(open311_public_read: bool = True) -> dict[str, Any]:
    ops = sorted(operations().values(), key=lambda o: (o.rule, o.method))
    _, defs = models_json_schema(_models(ops), ref_template=_REF)
    schemas = defs.get("$defs", {}) | {
        "Error": _ERROR_SCHEMA,
        "Open311Error": _OPEN311_ERROR_SCHEMA,
    }
    schemas |= _upload_schemas(ops, schemas)
    responses = _error_responses(
        "E", _ERROR_TEXTS, {"$ref": "#/components/schemas/Error"}
    ) | _error_responses("O", _OPEN311_ERROR_TEXTS, {"$ref": "#/components/schemas/Open311Error"})
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(_path(op.rule), {})[op.method.lower()] = _operation(
            op, open311_public_read=open311_public_read
        )
    return {
        "openapi": "3.1.0",
        "info": _INFO,
        "tags": _TAGS,
        "security": _SIGNED_IN,
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": responses,
            "securitySchemes": _security_schemes(),
        },
    }


def openapi_document(*, open311_public_read: bool = True) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the gridgis JSON APIs (a fresh copy).

    ``open311_public_read``: whether Open311 is readable without a key
    (``GRIDGIS_OPEN311_PUBLIC_READ``); off, its reads document a key as required.

    The routes are declared when their modules are imported, as
    :func:`gridgis.web.create_app` does.

    Examples
    --------
    >>> from gridgis.web import create_app
    >>> _ = create_app({"TESTING": True, "DATABASE_URL": None, "SECRET_KEY": "x"})
    >>> doc = openapi_document()
    >>> doc["openapi"], "/api/cases" in doc["paths"]
    ('3.1.0', True)
    """
    return copy.deepcopy(_document(open311_public_read))


@endpoint(
    bp,
    "/openapi.json",
    operation_id="openapi",
    tags=("areas",),
    roles=PUBLIC,
    replies=(Reply(200, description="The OpenAPI 3.1 document.", schema={"type": "object"}),),
)
def openapi_json() -> Response:
    """This document (open to anyone)."""
    return jsonify(_document(bool(current_app.config["OPEN311_PUBLIC_READ"])))
