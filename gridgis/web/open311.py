"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over the case intake.

Services are the case categories (``service_code`` = category code,
``service_name`` = its Chinese name); service requests are cases
(``service_request_id`` = case id). Only the JSON format is served: a
``.xml`` resource is answered 400 with a message saying so.

Routes (under ``/open311/v2``)
------------------------------
``GET services.json``
    Every service.
``GET services/<service_code>.json``
    A service definition; no service has attributes.
``POST requests.json``
    File a request: form-encoded (as the spec says) or JSON, with
    ``service_code``, ``lat`` + ``long`` (WGS84) or ``address_string``,
    ``description``, ``email``, ``first_name``, ``last_name``, ``phone``,
    and ``api_key`` (see below); ``jurisdiction_id``, ``device_id`` and
    ``account_id`` are accepted and ignored. Answers 201 with
    ``[{"service_request_id", "service_notice", "account_id"}]``. The case's
    ``reported_by`` is the name of the user of the key (or session), then the
    requester's name, email and phone when given, joined by `` / ``.
``GET requests.json?service_request_id=&service_code=&start_date=&end_date=&status=``
    Requests, newest first, at most 1000; without dates, those of the last 90 days.
``GET requests/<service_request_id>.json``
    One request, as a list of one.

Access
------
As the specification has it, the four ``GET`` resources are open to anyone,
with no key and no login (``GRIDGIS_OPEN311_PUBLIC_READ``, on by default; off,
they need a key, a token or a login like filing does: an intranet). Filing
(``POST requests.json``) needs the spec's ``api_key``:

- the key of a client application, ``g311_...`` from ``gridgis open311 key add
  NAME`` (:mod:`gridgis.open311_keys`): it files anywhere in the district, as
  ``open311:NAME`` in the audit trail; a revoked key is answered 403, a key over
  its requests a minute (``GRIDGIS_OPEN311_KEY_PER_MINUTE``, every request sent
  with it counts, reads too) 429 with ``Retry-After``;
- or a user's API token, ``ggt_...`` from ``gridgis users token NAME``, an
  ``Authorization: Bearer`` header with one, or a signed-in session.

A key is best sent in an ``X-Api-Key`` header, which stays out of URLs; else a
query field, a form field of ``POST requests.json``, or a field of its JSON
body; access logs mask it (:mod:`gridgis.web.logs`). Without one, filing is
answered 401, and so is any resource sent a key that is not valid.

Users are scoped like ``/api/cases`` (:mod:`gridgis.web.cases_api`): a street
office lists and reads only its street's requests (another street's request
is 404, as if it did not exist) and files only requests located in its street
(403 otherwise, nothing stored); analysts read but cannot file (403). Anyone
else (nobody signed in, or a client key) reads every request, without the
personal fields: mobile and ID-card numbers in the description are masked
(:func:`gridgis.audit.mask_person_data`) and there is never a ``media_url`` (a photo
may show people). A user's answers give as ``media_url`` the request's first photo: its
link (``media_url`` sent when filing, kept as given) or its thumbnail on this server.
The reporter's name, phone and email are never in an answer.

Errors are the spec's list ``[{"code": status, "description": message}]``
with that HTTP status: 400 for a bad or missing field, 401 without a valid
key, 403 for what the user may not do or a revoked key, 404 for an unknown
service or request, 429 for a key over its limit.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from gridgis import cases, open311_keys, users
from gridgis.audit import mask_person_data
from gridgis.cases.photos import check_link, first_photos
from gridgis.db.engine import unreachable
from gridgis.errors import (
    GridGISError,
    InputError,
    NotFoundError,
    ThrottledError,
    ValidationError,
)
from gridgis.schemas.open311 import (
    CATEGORY_PATTERN,
    NewRequest,
    Open311Query,
    RequestCreated,
    RequestsQuery,
    ServiceDefinition,
    ServiceRequests,
    Services,
)
from gridgis.times import parse_time
from gridgis.web.auth import PUBLIC_ROLES, checks_itself, current_user, policy
from gridgis.web.cases_api import file_case, signed_in_name
from gridgis.web.db import get_engine
from gridgis.web.endpoints import (
    FORM,
    JSON,
    PUBLIC,
    Reply,
    check_body,
    endpoint,
    read_fields,
)
from gridgis.web.errors import answer_language, http_message

__all__ = ["DEFAULT_DAYS", "MAX_REQUESTS", "OPEN311_PREFIX", "SOURCE", "bp", "service_request"]

OPEN311_PREFIX = "/open311/v2"
_FORMAT = {"fmt": {"type": "string", "enum": ["json"]}}
"""The one format served (``.xml`` is answered 400)."""
F = TypeVar("F", bound=Callable[..., Any])


def _route(rule: str, **declaration: Any) -> Callable[[F], F]:
    """Declare an Open311 route (:func:`gridgis.web.endpoints.endpoint`): its errors in the
    specification's format, its refusals (401, 403) answered by the view itself."""
    return endpoint(
        bp, rule, tags=("open311",), error_format="open311", guarded=False, **declaration
    )


bp = Blueprint("open311", __name__, url_prefix=OPEN311_PREFIX)

MAX_REQUESTS = 1000
"""The most requests ``GET requests.json`` answers (the spec suggests 1000)."""
DEFAULT_DAYS = 90
"""Without ``start_date``, ``GET requests.json`` covers this many days (the spec's default)."""
SOURCE = "Open311"
"""The ``source`` of a case filed through Open311."""

_OPEN_STEPS = ("reported", "registered", "dispatched", "handled", "verified")
_CLOSED_STEPS = ("closed", "rejected")
_STATUS_NOTES = {
    "reported": "已上报，待立案",
    "registered": "已立案，待派遣",
    "dispatched": "已派遣，处置中",
    "handled": "已处置，待核查",
    "verified": "已核查，待结案",
    "closed": "已结案",
    "rejected": "已作废（不予立案）",
}
_FLAG_NOTICES = {
    "outside": "位置在本辖区之外，未分派到网格",
    "gap": "位置不在任何网格内，待人工分派",
    "swapped": "经纬度疑似颠倒，未分派到网格，请核对位置",
    "outside_china": "位置不在中国境内，未分派到网格，请核对位置",
    "unmatched": "地址未能匹配到楼栋，待人工分派",
}


# --- errors in the spec's format -----------------------------------------------------------------


def _error(status: int, message: str) -> tuple[Response, int]:
    return jsonify([{"code": status, "description": message}]), status


@bp.errorhandler(GridGISError)
def _gridgis_error(exc: GridGISError) -> tuple[Response, int]:
    # The spec answers every bad or missing field with 400.
    status = 400 if isinstance(exc, ValidationError) else exc.status
    response, status = _error(status, exc.text(answer_language()))
    if isinstance(exc, ThrottledError):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response, status


@bp.errorhandler(OperationalError)
def _database_unreachable(exc: OperationalError) -> tuple[Response, int]:
    error = unreachable()
    return _error(error.status, str(error))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> HTTPException | tuple[Response, int]:
    if exc.code is None or exc.code < 400:
        return exc
    return _error(exc.code, http_message(exc))


@bp.after_request
def _spec_errors(response: Response) -> Response:
    """Answer errors made outside this module (a wrong API token) in the spec's format too.

    :mod:`gridgis.web.auth` refuses a wrong token with a ready ``{"error": {"message"...}}``
    answer (:func:`gridgis.web.errors.error_json`), which error handlers never see; its
    status and headers are kept.
    """
    if response.status_code < 400 or not response.is_json:
        return response
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        response.set_data(
            json.dumps([{"code": response.status_code, "description": error["message"]}])
        )
    return response


# --- who is asking -------------------------------------------------------------------------------


_NOT_VALID = (
    "the api_key is not valid; ask the operators of this server for one (`gridgis open311 "
    "key add NAME`, or a user's `gridgis users token NAME`)"
)


def _unauthorized(message: str | None = None) -> tuple[Response, int]:
    response, status = _error(
        401,
        message
        or "send the api_key of an Open311 client (`gridgis open311 key add NAME`) or of an "
        "API token (`gridgis users token NAME`) in an `X-Api-Key` header (or the query, or "
        "the body), an `Authorization: Bearer <token>` header, or log in first",
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
    return response, status


def _client() -> open311_keys.ClientKey | None:
    """The client application whose key this request was sent with, if any."""
    client: open311_keys.ClientKey | None = g.get("open311_client")
    return client


def _use_client_key(key: str) -> bool:
    """Count a request made with the client key ``key``; ``False`` if no client has it.

    Raises :class:`~gridgis.errors.ForbiddenError` (403) for a revoked key and
    :class:`~gridgis.errors.ThrottledError` (429) over its limit.
    """
    client = open311_keys.use_key(
        get_engine(), key, per_minute=current_app.config["OPEN311_KEY_PER_MINUTE"]
    )
    if client is None:
        return False
    g.open311_client = client
    return True


@bp.before_request
def _client_key() -> tuple[Response, int] | None:
    """Check a client key sent in the ``X-Api-Key`` header, the query or a form.

    A user's API token sent the same ways is read by :mod:`gridgis.web.auth`; a
    key in a JSON body by the view (:func:`_key_in_body`). With a user signed in,
    a key is not looked at. Any other key is answered 401: a client must learn
    that its key is wrong, even where no key is needed.
    """
    form = request.mimetype == FORM
    key = (
        request.headers.get("X-Api-Key", "").strip()
        or request.args.get("api_key")
        or (request.form.get("api_key") if form and request.method == "POST" else None)
    )
    if not key or key.startswith(users.TOKEN_PREFIX) or current_user() is not None:
        return None  # a user's token (auth.py read it), or a user is asking already
    if not _use_client_key(key):
        return _unauthorized(_NOT_VALID)
    return None


def _key_in_body(fields: dict[str, Any]) -> bool:
    """Authenticate by the ``api_key`` field of a JSON body (forms are read before the view).

    Only when the request has neither a user nor a client yet. Returns ``False``
    when the key is neither a client's key nor a valid API token.
    """
    key = fields.get("api_key")
    if current_user() is not None or _client() is not None:
        return True
    if not isinstance(key, str) or not key:
        return True
    if key.startswith(open311_keys.KEY_PREFIX):
        return _use_client_key(key)
    user = users.user_for_token(get_engine(), key)
    if user is None:
        return False
    g.user = user
    g.auth_method = "token"
    g.pop("policy", None)
    return True


def _reader(view: F) -> F:
    """Let anyone reach ``view`` when Open311 is public to read (``OPEN311_PUBLIC_READ``);
    else only requests with a user (session, token or api_key) or a client key; others 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        public = current_app.config["OPEN311_PUBLIC_READ"]
        if not public and current_user() is None and _client() is None:
            return _unauthorized()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _public_answer() -> bool:
    """Whether this request is answered as to the public: nobody is signed in (a client key
    or none). Such answers cover every street and leave people's personal fields out."""
    return current_user() is None


def _may_read(street_code: str | None) -> bool:
    """Whether the request's asker may read a case of ``street_code``: the public every
    case, a user as :class:`gridgis.access.Policy` says."""
    return _public_answer() or policy().may_see(street_code)


def _check_format(fmt: str) -> None:
    if fmt == "json":
        return
    if fmt == "xml":
        raise InputError(
            "the xml format is not supported by this server; ask for the same resource with "
            ".json (e.g. services.json)",
            zh="本服务器不支持 xml 格式；请用 .json 请求同一资源（例如 services.json）",
        )
    raise NotFoundError(
        f"the format was {fmt!r} but this server answers only .json",
        zh=f"格式为 {fmt!r}，但本服务器只提供 .json",
    )


@bp.route("/<path:rest>", methods=["GET", "POST"])
@checks_itself(PUBLIC_ROLES)
def unknown_resource(rest: str) -> tuple[Response, int]:
    """Answer a path that is no GeoReport v2 resource with the spec's 404.

    A resource asked for with the wrong method (``POST services.json``) gets
    405 and the method it answers instead.
    """
    other = "GET" if request.method == "POST" else "POST"
    try:
        endpoint, _ = current_app.url_map.bind_to_environ(request.environ).match(method=other)
    except HTTPException:
        endpoint = None
    if endpoint is not None and endpoint != request.endpoint:
        response, status = _error(405, f"{request.path} answers {other} only")
        response.headers["Allow"] = other
        return response, status
    return _error(
        404,
        f"{OPEN311_PREFIX}/{rest} is not a GeoReport v2 resource; this server has "
        "services.json, services/<service_code>.json, requests.json and "
        "requests/<service_request_id>.json",
    )


_READ_ERRORS = (400, 401, 403, 404, 429)
"""What a read may answer: 401 for a wrong key (or none, with public reading off), 403 a
revoked key, 429 a key over its limit."""


# --- services ------------------------------------------------------------------------------------


def _service(category: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_code": category["code"],
        "service_name": category["name_zh"],
        "description": (
            f"{category['name_zh']}（{category['name_en']}）：按期结案时限 "
            f"{category['deadline_hours']} 小时"
        ),
        "metadata": False,
        "type": "realtime",
        "keywords": f"{category['name_zh']}, {category['name_en']}",
        "group": "事件",
    }


@_route(
    "/services.<fmt>",
    operation_id="open311Services",
    roles=PUBLIC,
    guard_with=_reader,
    query=Open311Query,
    path=_FORMAT,
    replies=(Reply(200, Services, "The services."),),
    errors=_READ_ERRORS,
)
def services(fmt: str, *, query: Open311Query) -> Response:
    """The services (case categories) that requests can be filed in."""
    _check_format(fmt)
    return jsonify([_service(c) for c in cases.case_categories(get_engine())])


@_route(
    "/services/<service_code>.<fmt>",
    operation_id="open311ServiceDefinition",
    roles=PUBLIC,
    guard_with=_reader,
    query=Open311Query,
    path={**_FORMAT, "service_code": {"type": "string", "pattern": CATEGORY_PATTERN}},
    replies=(Reply(200, ServiceDefinition, "The definition."),),
    errors=_READ_ERRORS,
)
def service_definition(service_code: str, fmt: str, *, query: Open311Query) -> Response:
    """A service definition (no service has attributes)."""
    _check_format(fmt)
    known = {c["code"] for c in cases.case_categories(get_engine())}
    if service_code not in known:
        raise NotFoundError(
            f"`service_code` was {service_code!r} but is expected to be one of {sorted(known)}",
            zh=f"`service_code` 为 {service_code!r}，应为以下之一：{sorted(known)}",
        )
    return jsonify({"service_code": service_code, "attributes": []})


# --- requests ------------------------------------------------------------------------------------


def service_request(
    case: dict[str, Any], *, public: bool = False, photo: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return a case dict (:func:`gridgis.cases.get_case`) as a GeoReport v2 service request.

    ``status`` is ``closed`` for a closed or rejected case, else ``open``;
    ``status_notes`` says the step in Chinese; ``expected_datetime`` is the
    deadline; ``agency_responsible`` is the grid cell the case was routed to;
    ``address_id`` the matched building. The reporter (name, phone, email) is
    never part of it. ``public``: for someone not signed in, mobile and ID-card
    numbers in the description are masked; the address and point are kept (they
    are the point of Open311), and there is no ``media_url``; else ``media_url`` is
    ``photo``'s (the case's first, :func:`gridgis.cases.photos.first_photos`): a link
    as given, an upload's thumbnail as an absolute URL of this server.

    Examples
    --------
    >>> from gridgis.cases import get_case
    >>> service_request(get_case(engine, 1))["status"]
    'closed'
    """
    step = case["step"]
    times = [case[f"{s}_at"] for s in cases.STEPS if case.get(f"{s}_at")]
    updated = max(times, key=_instant)
    return {
        "service_request_id": str(case["id"]),
        "status": "closed" if step in _CLOSED_STEPS else "open",
        "status_notes": _STATUS_NOTES.get(step, step),
        "service_name": case["category_name"],
        "service_code": case["category"],
        "description": (mask_person_data(case["description"]) if public else case["description"]),
        "agency_responsible": f"网格 {case['cell_code']}" if case["cell_code"] else None,
        "service_notice": _notice(case),
        "requested_datetime": case["reported_at"],
        "updated_datetime": updated,
        "expected_datetime": case["deadline"],
        "address": case["address"],
        "address_id": str(case["building_id"]) if case["building_id"] is not None else None,
        "zipcode": None,
        "lat": case["lat"],
        "long": case["lon"],
        "media_url": None if public or photo is None else _media_url(case["id"], photo),
    }


def _media_url(case_id: int, photo: dict[str, Any]) -> str:
    if photo["kind"] == "link":
        return str(photo["storage_key"])
    return url_for(
        "photos.case_photo_thumbnail", case_id=case_id, photo_id=photo["id"], _external=True
    )


def _answers(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``found`` as service requests, for this request's asker (public or a user)."""
    public = _public_answer()
    firsts = {} if public else first_photos(get_engine(), [c["id"] for c in found])
    return [service_request(c, public=public, photo=firsts.get(c["id"])) for c in found]


def _instant(value: str, name: str = "time") -> dt.datetime:
    return parse_time(value, field=name, plausible=False)


def _notice(case: dict[str, Any]) -> str | None:
    notes = []
    if case["deadline"]:
        limit = _instant(case["deadline"], "deadline") - _instant(
            case["reported_at"], "reported_at"
        )
        notes.append(f"按期结案时限 {round(limit.total_seconds() / 3600)} 小时")
    flag = case["location_flag"]
    if flag:
        notes.append(_FLAG_NOTICES.get(flag, f"未分派到网格（{flag}）"))
    return "；".join(notes) or None


def _reporter(fields: NewRequest, filer: str) -> str:
    """Who filed the request (the key's user or client), then the requester's name, email
    and phone."""
    name = f"{fields.last_name or ''}{fields.first_name or ''}".strip()
    parts = [filer, name, fields.email or "", fields.phone or ""]
    return " / ".join(p.strip() for p in parts if p and p.strip())


def _refuse_non_filer() -> None:
    """403 for a signed-in user who files no requests (all but administrators and street
    offices)."""
    user = current_user()
    if user is not None and user.role not in ("admin", "street"):
        abort(
            403,
            f"user {user.name!r} is {user.role}: only administrators and street offices "
            "file service requests",
        )


@_route(
    "/requests.<fmt>",
    method="POST",
    operation_id="open311CreateRequest",
    roles=("admin", "street"),
    body=NewRequest,
    body_types=(FORM, JSON),
    body_read_by_view=True,
    path=_FORMAT,
    replies=(Reply(201, RequestCreated, "The new request's id."),),
    errors=(400, 404, 413, 415, 429),
)
def create_request(fmt: str) -> tuple[Response, int]:
    """File a service request (a case): with a client's api_key, or as a user (admin, street)."""
    _check_format(fmt)
    _refuse_non_filer()  # a signed-in user who may not file is told so whatever it sent
    if current_user() is None and _client() is None and request.mimetype != JSON:
        return _unauthorized()
    raw, strict = read_fields((FORM, JSON))
    if not _key_in_body(raw):
        return _unauthorized(_NOT_VALID)
    user, client = current_user(), _client()
    if user is not None:
        _refuse_non_filer()  # the api_key in the body named the user
        filer, actor = signed_in_name(), None
    elif client is not None:
        filer, actor = client.name, f"open311:{client.name}"
    else:
        return _unauthorized()
    fields = check_body(NewRequest, raw, strict=strict)
    link = check_link(fields.media_url) if fields.media_url is not None else None
    case = file_case(
        link=link,
        category=fields.service_code,
        lon=fields.long,
        lat=fields.lat,
        crs="wgs84",
        address=fields.address_string,
        description=fields.description,
        source=SOURCE,
        reported_by=_reporter(fields, filer),
        actor=actor,
    )
    return (
        jsonify(
            [
                {
                    "service_request_id": str(case["id"]),
                    "service_notice": _notice(case),
                    "account_id": None,
                }
            ]
        ),
        201,
    )


@_route(
    "/requests.<fmt>",
    operation_id="open311Requests",
    roles=PUBLIC,
    guard_with=_reader,
    query=RequestsQuery,
    path=_FORMAT,
    replies=(Reply(200, ServiceRequests, "The requests."),),
    errors=_READ_ERRORS,
)
def list_requests(fmt: str, *, query: RequestsQuery) -> Response:
    """Service requests, newest first; at most 1000. Without dates, the last 90 days."""
    _check_format(fmt)
    engine = get_engine()
    if query.service_request_id is not None:
        found = []
        for text_id in dict.fromkeys(query.service_request_id.split(",")):
            case_id = int(text_id)
            if 1 <= case_id < 2**63:
                try:
                    case = cases.get_case(engine, case_id)
                except NotFoundError:
                    continue  # the spec lists the requests that exist
                if _may_read(case["street_code"]):  # another street's: as if it did not exist
                    found.append(case)
        return jsonify(_answers(found))
    until = query.end_date
    since = query.start_date
    if since is None:
        since = (until or dt.datetime.now(dt.UTC)) - dt.timedelta(days=DEFAULT_DAYS)
    if until is not None and until <= since:
        return jsonify([])
    codes = list(dict.fromkeys(query.service_code.split(","))) if query.service_code else None
    statuses = set((query.status or "open,closed").split(","))
    steps: list[str] | None = None  # both: any step
    if statuses != {"open", "closed"}:
        steps = list(_OPEN_STEPS if "open" in statuses else _CLOSED_STEPS)
    found = cases.list_cases(
        engine,
        street=policy().street,
        category=codes,
        step=steps,
        since=since,
        until=until,
        limit=MAX_REQUESTS,
    )
    return jsonify(_answers(found))


@_route(
    "/requests/<service_request_id>.<fmt>",
    operation_id="open311Request",
    roles=PUBLIC,
    guard_with=_reader,
    query=Open311Query,
    path={**_FORMAT, "service_request_id": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
    replies=(Reply(200, ServiceRequests, "The request."),),
    errors=_READ_ERRORS,
)
def get_request(service_request_id: str, fmt: str, *, query: Open311Query) -> Response:
    """One service request, as a list of one."""
    _check_format(fmt)
    if not service_request_id.isascii() or not service_request_id.isdigit():
        raise NotFoundError(
            f"`service_request_id` was {service_request_id!r} but is expected to be a number",
            zh=f"`service_request_id` 为 {service_request_id!r}，应为数字",
        )
    case_id = int(service_request_id)
    if not 1 <= case_id < 2**63:
        raise NotFoundError(
            f"service request {service_request_id} does not exist",
            zh=f"服务请求 {service_request_id} 不存在",
        )
    case = cases.get_case(get_engine(), case_id)
    if not _may_read(case["street_code"]):  # as if it did not exist
        raise NotFoundError(f"case {case_id} does not exist", zh=f"事件 {case_id} 不存在")
    return jsonify(_answers([case]))
