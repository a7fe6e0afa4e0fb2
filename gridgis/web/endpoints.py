"""The one way a JSON route is declared: its access, its request schemas, its answers.

Every JSON route of the app is declared with :func:`endpoint`::

    @endpoint(bp, "/cases", method="POST", operation_id="createCase", tags=("cases",),
              roles=("admin", "street"), body=NewCase,
              replies=(Reply(201, Case, "The case as stored."),), errors=(403, 404, 409))
    def create_case(*, body: NewCase) -> tuple[Response, int]: ...

The declaration does four things at once, so they cannot drift apart:

- **access**: who may call the route (``roles``: ``None`` for every signed-in
  user, :data:`PUBLIC` for anyone); the route is guarded by
  :func:`gridgis.web.auth.guard` with it, and the route table's test reads it;
- **requests**: the query parameters are read into the ``query`` model and the
  body into the ``body`` model (pydantic v2), and the view receives them
  checked and converted; an unknown, repeated or bad parameter or field is
  answered 422 naming it, the value and what was expected;
- **answers**: the replies (status, model or media type) — in tests
  (``app.testing``) every JSON answer is checked against its declared model;
- **description**: :mod:`gridgis.web.openapi` writes the OpenAPI 3.1
  document from these declarations alone, with the links of the replies
  (:class:`Link`: the case a POST answers is the one to GET next).

Which library: APIFlask and flask-smorest build on marshmallow (a second
schema language beside the pydantic models the library and CLI share);
flask-openapi3 brings its own app and blueprint classes; spectree decorates
plain Flask views with pydantic models but answers errors in its own shape
and reads query strings as plain dicts (a repeated parameter silently wins).
The few hundred lines here keep Flask's blueprints, pydantic's models and
the error shape of :mod:`gridgis.web.errors`.

Status codes (every JSON route but Open311, which keeps its specification's):
400 the body is not readable JSON (or has a NUL character); 401 nobody signed
in; 403 the user may not; 404 not found; 409 a conflict with stored data;
413 too large; 415 a body of another content type; 422 a parameter or field
that is missing, unknown, repeated or has a bad value; 503 no database.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import pydantic
from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel
from werkzeug.datastructures import MultiDict

from gridgis.errors import InputError
from gridgis.web.auth import checks_itself, guard
from gridgis.web.limits import CheckedRequest, check_json
from gridgis.web.validation_words import field_names as _list_fields
from gridgis.web.validation_words import invalid as _invalid
from gridgis.web.validation_words import shown as _show
from gridgis.web.validation_words import translate as _translate

__all__ = [
    "MAX_BODY_BYTES",
    "MULTIPART",
    "PUBLIC",
    "BodyTooLargeError",
    "Link",
    "Operation",
    "Reply",
    "UnsupportedMediaTypeError",
    "check_body",
    "endpoint",
    "json_body",
    "operations",
    "read_body",
    "read_fields",
    "read_query",
    "upload_limit",
    "uploads",
]

MAX_BODY_BYTES = 64 * 1024
"""The largest JSON or form body a JSON route reads (an upload has its own limit)."""

PUBLIC: Final = ("*",)
"""``roles`` of a route anyone may call, signed in or not."""

JSON: Final = "application/json"
FORM: Final = "application/x-www-form-urlencoded"
MULTIPART: Final = "multipart/form-data"
"""A body of text fields (the body model's, converted from text as a form's) and files
(the route's ``upload_field``, repeatable), up to :func:`upload_limit` bytes."""

M = TypeVar("M", bound=BaseModel)
V = TypeVar("V", bound=Callable[..., Any])


@dataclass(frozen=True)
class Link:
    """How a value of an answer is a parameter of another operation (an OpenAPI link).

    Clients, and schemathesis's stateful tests, follow it: the case a POST
    answers is the one to GET or move on next.

    Attributes
    ----------
    operation_id:
        The ``operationId`` of the operation the link leads to.
    parameters:
        Its parameters (by name) and where in the answer each is found, as an
        OpenAPI runtime expression such as ``$response.body#/id``.
    description:
        What following the link does.

    Examples
    --------
    >>> Link("getCase", {"case_id": "$response.body#/id"}, "The case.").operation_id
    'getCase'
    """

    operation_id: str
    parameters: Mapping[str, str]
    description: str = ""


@dataclass(frozen=True)
class Reply:
    """One answer a route may give.

    Attributes
    ----------
    status:
        The HTTP status.
    model:
        The pydantic model of a JSON body (``None``: see ``media_type``/``schema``).
    description:
        What the answer means.
    media_type:
        The content type (``application/json`` by default).
    schema:
        A JSON Schema for a body with no model (GeoJSON, a file, a tile).
    headers:
        Headers the answer carries, by name, with their description.
    content:
        For an answer that comes in one of several media types (an export): the JSON
        Schema of each, by media type; ``media_type`` and ``schema`` are then unused.
    links:
        The operations a value of this answer leads to, by link name.
    """

    status: int
    model: type[BaseModel] | None = None
    description: str = ""
    media_type: str = JSON
    schema: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content: Mapping[str, Mapping[str, Any]] | None = None
    links: Mapping[str, Link] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """A JSON route as declared with :func:`endpoint` (the OpenAPI operation)."""

    endpoint: str
    rule: str
    method: str
    operation_id: str
    summary: str
    description: str
    tags: tuple[str, ...]
    roles: tuple[str, ...] | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    body_types: tuple[str, ...]
    replies: tuple[Reply, ...]
    errors: tuple[int, ...]
    path: Mapping[str, Mapping[str, Any]]
    error_format: str
    guarded: bool
    upload_field: str | None = None

    @property
    def public(self) -> bool:
        """Whether anyone may call it, signed in or not."""
        return self.roles == PUBLIC


_OPERATIONS: dict[str, Operation] = {}


def operations() -> dict[str, Operation]:
    """Every declared operation, by endpoint name (``blueprint.view``)."""
    return dict(_OPERATIONS)


def endpoint(
    bp: Blueprint,
    rule: str,
    *,
    method: str = "GET",
    operation_id: str,
    tags: Sequence[str],
    replies: Sequence[Reply],
    roles: Sequence[str] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_types: Sequence[str] = (JSON,),
    errors: Sequence[int] = (),
    path: Mapping[str, Mapping[str, Any]] | None = None,
    error_format: str = "api",
    guarded: bool = True,
    guard_with: Callable[[Any], Any] | None = None,
    body_read_by_view: bool = False,
    upload_field: str | None = None,
) -> Callable[[V], V]:
    """Declare a JSON route on ``bp``: see the module's description.

    Parameters
    ----------
    bp:
        The blueprint the route belongs to.
    rule:
        Its URL rule, relative to the blueprint's prefix (Flask syntax).
    method:
        The one HTTP method it answers.
    operation_id:
        The OpenAPI ``operationId`` (unique).
    tags:
        OpenAPI tags grouping the route.
    replies:
        Its successful (and other particular) answers.
    roles:
        Who may call it: ``None`` every signed-in user, :data:`PUBLIC` anyone,
        else the roles named.
    query, body:
        Pydantic models of its query parameters and body; the view receives
        them checked as the keyword arguments ``query`` and ``body``.
    body_types:
        The content types the body may come in (JSON, and a form for Open311).
    errors:
        The 4xx/5xx statuses it may answer besides the ones every route may
        (401/403 for guarded routes, 422 with parameters, 503).
    path:
        JSON Schemas of path arguments narrower than their converter's (by name).
    error_format:
        ``"api"`` (``{"error": {...}}``) or ``"open311"`` (the specification's list).
    guarded:
        ``False`` for a route that answers refusals itself in its own format
        (Open311): ``roles`` is then recorded for the route table, and the view
        must enforce it.
    guard_with:
        With ``guarded=False``: the route's own guard, run before the request is
        read (Open311's check for a key, answered in its format).
    body_read_by_view:
        The view reads the body itself (:func:`read_fields`, then
        :func:`check_body`), e.g. to authenticate by a key inside it first; the
        body is still described by ``body``.
    upload_field:
        With :data:`MULTIPART` in ``body_types``: the name of its (repeatable) file
        field, which the view reads with :func:`uploads`; the OpenAPI document
        describes it as an array of files beside the body's fields.
    """
    if roles is not None and roles != PUBLIC and not roles:
        raise ValueError("`roles` was empty but is expected to name at least one role")

    def decorate(view: V) -> V:
        name = f"{bp.name}.{view.__name__}"
        doc = (view.__doc__ or "").strip()
        summary, _, rest = doc.partition("\n")
        operation = Operation(
            endpoint=name,
            rule=(bp.url_prefix or "") + rule,
            method=method.upper(),
            operation_id=operation_id,
            summary=summary.strip(),
            description=rest.strip(),
            tags=tuple(tags),
            roles=tuple(roles) if roles is not None else None,
            query=query,
            body=body,
            body_types=tuple(body_types),
            replies=tuple(replies),
            errors=tuple(errors),
            path=dict(path or {}),
            error_format=error_format,
            guarded=guarded,
            upload_field=upload_field,
        )
        taken = [o for o in _OPERATIONS.values() if o.operation_id == operation_id]
        if taken and taken[0].endpoint != name:
            raise ValueError(f"`operation_id` {operation_id!r} is taken by {taken[0].endpoint}")
        _OPERATIONS[name] = operation

        @functools.wraps(view)
        def wrapped(**path: Any) -> Any:
            if query is not None:
                path["query"] = read_query(query, request.args)
            if body is not None and not body_read_by_view:
                path["body"] = read_body(
                    body, types=operation.body_types, upload_field=upload_field
                )
            response = current_app.make_response(view(**path))
            if current_app.testing:
                _check_reply(operation, response)
            return response

        if guarded:
            view_function = guard(wrapped, roles=operation.roles)
        else:  # its own guard, run before the request is read
            own = guard_with(wrapped) if guard_with is not None else wrapped
            view_function = checks_itself(operation.roles)(own)
        bp.add_url_rule(rule, view.__name__, view_function, methods=[method.upper()])
        return view

    return decorate


# --- reading requests ----------------------------------------------------------------------------


class UnsupportedMediaTypeError(InputError):
    """The request body has a content type the route does not read."""

    status = 415
    code = "unsupported_media_type"


class BodyTooLargeError(InputError):
    """The request body is larger than :data:`MAX_BODY_BYTES`."""

    status = 413
    code = "too_large"


def _is_list(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and getattr(info.annotation, "__origin__", None) is list


def read_query(model: type[M], args: MultiDict[str, str]) -> M:
    """Read the query parameters ``args`` into ``model``.

    Unknown parameters and a parameter given twice (unless its field is a
    list) are refused; an empty value counts as absent (a form's empty field). Values are text, so
    the model converts them (``"5"`` to 5); booleans are ``true``/``false``
    (also ``1``/``0``, ``yes``/``no``).

    Raises
    ------
    ValidationError
        (422) listing every bad parameter.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Page(BaseModel, extra="forbid"):
    ...     limit: int = 100
    >>> read_query(Page, MultiDict({"limit": "5"})).limit
    5
    """
    problems: list[tuple[str, str]] = []
    fields: list[str] = []
    allowed = _list_fields(model)
    unknown = [key for key in args if key not in allowed]
    if unknown:
        fields.append(unknown[0])
        listed = ", ".join(f"`{_show(key)[1:-1]}`" for key in unknown[:10])
        named = ", ".join(f"`{key}`" for key in allowed) or "none"
        problems.append(
            (
                f"unknown query parameter(s) {listed}; allowed: {named}",
                f"未知的查询参数 {listed}；可用的有：{named if allowed else '（无）'}",
            )
        )
    values: dict[str, Any] = {}
    for key in allowed:
        given = [v for v in args.getlist(key) if v != ""]  # an empty value: not given
        if not given:
            continue
        if _is_list(model, key):
            values[key] = given
        elif len(given) > 1:
            problems.append(
                (
                    f"`{key}` was given {len(given)} times but may be given once",
                    f"`{key}` 给了 {len(given)} 次，但只能给一次",
                )
            )
            fields.append(key)
        else:
            values[key] = given[0]
    if problems:
        raise _invalid("query parameters", "查询参数", problems, field=fields[0])
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        raise _translate(exc, model, query=True) from None


def _content_type() -> str:
    return repr(request.mimetype) if request.mimetype else "missing"


def _raw_body() -> bytes:
    _check_length()
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise BodyTooLargeError(
            f"the body has more than {MAX_BODY_BYTES} bytes",
            zh=f"请求内容超过了 {MAX_BODY_BYTES} 字节",
        )
    return data


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
    no ``NaN``/``Infinity``, no number too large for a float, no field given
    twice and no NUL character in a string (:func:`gridgis.web.limits.check_json`).

    Raises
    ------
    UnsupportedMediaTypeError
        (415) for another content type.
    BodyTooLargeError
        (413) for a body over :data:`MAX_BODY_BYTES`.
    InputError
        (400) when the body is not such JSON.
    """
    if request.mimetype != JSON:
        raise UnsupportedMediaTypeError(
            f"the body's content type was {_content_type()} but is expected to be {JSON!r}",
            zh=f"请求内容的类型为 {_content_type()}，应为 {JSON!r}",
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
        raise InputError(
            f"the body is not valid JSON: {reason}",
            zh="请求内容不是有效的 JSON："
            + ("嵌套层数过多" if isinstance(exc, RecursionError) else reason),
        ) from None
    check_json(value)
    return value


def _form_fields() -> dict[str, str]:
    _check_length()
    return _repeated_refused(request.form)


def _repeated_refused(form: MultiDict[str, str]) -> dict[str, str]:
    repeated = [
        (
            f"`{_show(key)[1:-1]}` was given {len(form.getlist(key))} times but may be given once",
            f"`{_show(key)[1:-1]}` 给了 {len(form.getlist(key))} 次，但只能给一次",
        )
        for key in form
        if len(form.getlist(key)) > 1
    ]
    if repeated:
        raise _invalid("body", "请求内容", repeated)
    return form.to_dict()


def upload_limit() -> int:
    """The largest multipart body a route with uploads reads: ``PHOTO_MAX_COUNT`` photos of
    ``PHOTO_MAX_BYTES`` (the app's config, from ``GRIDGIS_PHOTO_*``) and
    :data:`MAX_BODY_BYTES` of fields, within the app's ``MAX_CONTENT_LENGTH``."""
    config = current_app.config
    limit = int(config["PHOTO_MAX_COUNT"]) * int(config["PHOTO_MAX_BYTES"]) + MAX_BODY_BYTES
    overall = config.get("MAX_CONTENT_LENGTH")
    return min(limit, int(overall)) if overall else limit


def _multipart_fields(upload_field: str | None) -> dict[str, str]:
    limit = upload_limit()
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLargeError(
            f"the body has {length} bytes but may have at most {limit}",
            zh=f"请求内容有 {length} 字节，最多只能有 {limit} 字节",
        )
    request.max_content_length = limit  # a body sent without its length: read up to the limit
    if isinstance(checked := request._get_current_object(), CheckedRequest):  # type: ignore[attr-defined]
        checked.in_memory_bytes = limit  # its files are read into memory anyway (uploads)
    others = [name for name in request.files if name != upload_field]
    if others:
        listed = ", ".join(f"`{_show(name)[1:-1]}`" for name in others[:10])
        problem = f"unknown file field(s) {listed}; files go in `{upload_field or '(none)'}`"
        problem_zh = f"未知的文件字段 {listed}；文件应放在 `{upload_field or '（无）'}` 中"
        raise _invalid("body", "请求内容", [(problem, problem_zh)], field=others[0])
    return _repeated_refused(request.form)


def uploads(field: str) -> list[tuple[str, bytes]]:
    """The files of the multipart body's ``field``, in order: each its name and bytes
    (none for a JSON body)."""
    if request.mimetype != MULTIPART:
        return []
    return [(file.filename or "", file.read()) for file in request.files.getlist(field)]


def _check_length() -> None:
    """Refuse (413) a body whose declared length is over :data:`MAX_BODY_BYTES`, unread."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise BodyTooLargeError(
            f"the body has {length} bytes but may have at most {MAX_BODY_BYTES}",
            zh=f"请求内容有 {length} 字节，最多只能有 {MAX_BODY_BYTES} 字节",
        )


def read_fields(
    types: Sequence[str] = (JSON,), *, upload_field: str | None = None
) -> tuple[dict[str, Any], bool]:
    """The request's body as raw fields, and whether to check them strictly (JSON) or
    convert them from text (a form, when ``types`` allows one).

    Raises
    ------
    ValidationError
        (422) when the body is not a JSON object, or a form field is repeated.
    UnsupportedMediaTypeError, BodyTooLargeError, InputError
        See :func:`json_body`.
    """
    if FORM in types and request.mimetype == FORM:
        return _form_fields(), False
    if MULTIPART in types and request.mimetype == MULTIPART:
        return _multipart_fields(upload_field), False
    if JSON in types and request.mimetype == JSON:
        fields = json_body()
        if not isinstance(fields, dict):
            shown = _show(fields)
            problem = f"the body was {shown} but is expected to be a JSON object"
            raise _invalid("body", "请求内容", [(problem, f"请求内容为 {shown}，应为 JSON 对象")])
        return fields, True
    expected = " or ".join(repr(t) for t in types)
    raise UnsupportedMediaTypeError(
        f"the body's content type was {_content_type()} but is expected to be {expected}",
        zh=f"请求内容的类型为 {_content_type()}，应为 {expected.replace(' or ', ' 或 ')}",
    )


def check_body(model: type[M], fields: Mapping[str, Any], *, strict: bool) -> M:
    """``fields`` (of :func:`read_fields`) checked as ``model``; 422 listing every problem."""
    try:
        return model.model_validate(fields, strict=strict)
    except pydantic.ValidationError as exc:  # a form's values are text, as a query's
        raise _translate(exc, model, query=False, text=not strict) from None


def read_body(
    model: type[M], *, types: Sequence[str] = (JSON,), upload_field: str | None = None
) -> M:
    """Read the request's body into ``model``.

    A JSON body is read strictly (:func:`json_body`) and checked in pydantic's
    strict mode (``"119.0"`` is not a number, ``1`` is not ``true``); a form
    (when ``types`` allows one) is text, so its values are converted.

    Raises
    ------
    ValidationError
        (422) listing every missing, unknown or bad field, or when the body is
        not a JSON object.
    UnsupportedMediaTypeError, BodyTooLargeError, InputError
        See :func:`json_body`.
    """
    fields, strict = read_fields(types, upload_field=upload_field)
    return check_body(model, fields, strict=strict)


# --- checking answers in tests -------------------------------------------------------------------


def _check_reply(operation: Operation, response: Response) -> None:
    """In tests: an answer must be what the operation declares (else an AssertionError)."""
    if response.status_code >= 400:
        return  # errors have one shape, made by gridgis.web.errors (Open311: its own)
    declared = {reply.status: reply for reply in operation.replies}
    reply = declared.get(response.status_code)
    if reply is None:
        raise AssertionError(
            f"{operation.operation_id} answered {response.status_code}, which it does not declare"
        )
    if not reply.media_type:
        if response.get_data():
            raise AssertionError(
                f"{operation.operation_id} answered {response.status_code} with a body"
            )
        return
    if reply.model is not None:
        try:
            reply.model.model_validate_json(response.get_data())
        except pydantic.ValidationError as exc:
            raise AssertionError(
                f"{operation.operation_id} answered a body its model {reply.model.__name__} "
                f"refuses: {exc}"
            ) from None
    elif reply.content is not None:
        if response.mimetype not in reply.content:
            raise AssertionError(
                f"{operation.operation_id} answered {response.mimetype!r}, not one of "
                f"{list(reply.content)}"
            )
    elif response.mimetype != reply.media_type.split(";")[0]:
        raise AssertionError(
            f"{operation.operation_id} answered {response.mimetype!r}, not {reply.media_type!r}"
        )
