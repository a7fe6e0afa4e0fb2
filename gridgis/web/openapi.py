"""The OpenAPI 3.1 description of the JSON APIs, written from the routes' declarations.

Routes
------
``GET /api/openapi.json``
    The document. Open to anyone, like ``/api/health``.

Every route declared with :func:`gridgis.web.endpoints.endpoint` is described
from its declaration alone: path and its parameters from the URL rule, query
parameters and body from its pydantic models, answers from its replies, who
may call it (security, 401/403) from its roles. The routes not yet declared
that way (Open311, density, placement, tiles, exports) keep their hand-written
description in :mod:`gridgis.web.openapi_legacy`, merged in here (its
OpenAPI 3.0 ``nullable`` turned into 3.1's ``"null"`` type).

Security: every operation but the public ones needs a session (cookie
``session`` after ``POST /login``; unsafe methods also the ``X-CSRF-Token``
header) or an API token (``Authorization: Bearer ggt_...`` or ``X-Api-Key``).
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gridgis.web import openapi_legacy
from gridgis.web.endpoints import PUBLIC, Operation, Reply, endpoint, operations

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
    503: "The database cannot be reached.",
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


def _path(rule: str) -> str:
    return _PATH_ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(_CONVERTERS.get(converter or "string", {"type": "string"})),
        }
        for converter, name in _PATH_ARGUMENT.findall(rule)
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


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": list(op.tags),
    }
    if op.description:
        out["description"] = op.description
    parameters = _path_parameters(op.rule)
    if op.query is not None:
        parameters += _query_parameters(op.query)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        ref = {"$ref": _REF.format(model=op.body.__name__)}
        out["requestBody"] = {
            "required": True,
            "content": {kind: {"schema": ref} for kind in op.body_types},
        }
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
        responses[str(reply.status)] = answer
    errors = set(op.errors) | {503}
    if not op.public:
        errors |= {401, 403}
    if op.query is not None or op.body is not None:
        errors.add(422)
    for status in sorted(errors):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    out["responses"] = dict(sorted(responses.items()))
    if op.public:
        out["security"] = []
    return out


def _nullable_to_31(schema: Any) -> Any:
    """An OpenAPI 3.0 schema with ``nullable: true`` as a 3.1 (JSON Schema) one."""
    if isinstance(schema, list):
        return [_nullable_to_31(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _nullable_to_31(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "$ref" in out or "type" not in out:
            ref = {k: out.pop(k) for k in list(out) if k == "$ref"}
            out = {"anyOf": [ref or out, {"type": "null"}]}
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


@functools.cache
def _document() -> dict[str, Any]:
    ops = sorted(operations().values(), key=lambda o: (o.rule, o.method))
    legacy = _nullable_to_31(openapi_legacy.openapi_document())
    _, defs = models_json_schema(_models(ops), ref_template=_REF)
    schemas = legacy["components"]["schemas"] | defs.get("$defs", {})
    schemas["Error"] = _ERROR_SCHEMA
    responses = legacy["components"]["responses"] | {
        f"E{status}": {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status, text in _ERROR_TEXTS.items()
    }
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(_path(op.rule), {})[op.method.lower()] = _operation(op)
    for path, item in legacy["paths"].items():
        for method, described in item.items():
            paths.setdefault(path, {}).setdefault(method, described)
    info = dict(legacy["info"])
    info["description"] = info["description"].replace(
        '`{"error": message}` under /api',
        '`{"error": {"code", "message", "field"}}` under /api',
    )
    return {
        "openapi": "3.1.0",
        "info": info,
        "tags": legacy["tags"],
        "security": legacy["security"],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": responses,
            "securitySchemes": legacy["components"]["securitySchemes"],
        },
    }


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of the gridgis JSON APIs (a fresh copy).

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
    return copy.deepcopy(_document())


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
    return jsonify(_document())
