"""Logs without secrets: API keys and tokens in URLs are masked before a line is written.

Open311 clients may send their key as the query field ``api_key`` (the
GeoReport v2 spec says so); a URL is written whole to access logs, so every
log line the app or its server writes passes through :func:`mask` first:
the values of the query fields named in :data:`SECRET_FIELDS` become ``***``
(``/open311/v2/services.json?api_key=***``), and the headers that carry
credentials are never written.

- **gunicorn** (production): start it with this module's logger class, most
  simply through the settings module :mod:`gridgis.web.gunicorn_conf`::

      gunicorn -c python:gridgis.web.gunicorn_conf -w 2 -k gthread --threads 5 \\
          --access-logfile - 'gridgis.web:create_app()'

  (or ``--logger-class gridgis.web.gunicorn_conf.GunicornLogger``). Every atom of the
  access-log format is masked: ``%(r)s``, ``%(q)s``, ``%(f)s``, ``%({...}e)s``,
  and ``%({authorization}i)s``, ``%({x-api-key}i)s``, ``%({cookie}i)s`` are ``***``.
- **gridgis serve** (the development server): :class:`WerkzeugRequestHandler`.
- **The app's own logger**: :class:`MaskingFilter`, added by :func:`init_app`.

One line per request
--------------------
:func:`init_app` also logs every request once, to the logger ``gridgis.web.requests``
at INFO, in one structured format (``key=value``, values with spaces quoted)::

    request_id=3f2a9c... user=wangfang method=POST route=/api/cases/<int:case_id>/steps \
        status=200 duration_ms=12.4

``route`` is the URL rule, not the path (no ids, no query, so nothing of people and
no keys); ``user`` is the signed-in user's name or ``-``. The request id is the
client's ``X-Request-Id`` when it is a sane token (:data:`REQUEST_ID`: 1 to 64
letters, digits, ``.``, ``_``, ``-``, ``:``), else a new random one; it is answered in
the ``X-Request-Id`` header and written into the audit rows of the changes the request
makes (:data:`gridgis.audit.request_id`). The same fields are on each record as
attributes (``record.request_id``...) for a JSON formatter.

Where the lines go: :func:`configure_logging` (called by ``gridgis serve`` and by
:mod:`gridgis.web.gunicorn_conf`) sends the ``gridgis`` loggers to standard error in
:data:`LOG_FORMAT`; an application that configures :mod:`logging` itself gets them
through the usual propagation.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask, Response, g, request
from werkzeug.serving import WSGIRequestHandler

from gridgis import audit

__all__ = [
    "LOG_FORMAT",
    "MASK",
    "REQUEST_ID",
    "REQUEST_ID_HEADER",
    "SECRET_FIELDS",
    "SECRET_HEADERS",
    "MaskingFilter",
    "WerkzeugRequestHandler",
    "configure_logging",
    "init_app",
    "logfmt",
    "mask",
    "mask_atoms",
    "mask_query",
]

MASK = "***"
SECRET_FIELDS: frozenset[str] = frozenset(
    {
        "api_key",
        "apikey",
        "key",
        "token",
        "access_token",
        "auth",
        "password",
        "secret",
        "tk",
        "csrf_token",
    }
)
"""Query fields whose values are masked (compared after percent-decoding, in lower case);
``tk`` is 天地图's key."""
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "x-api-key", "x-csrf-token", "cookie", "set-cookie", "proxy-authorization"}
)
"""Headers never written to a log (lower case)."""

_FIELD = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;?#\s\"']+)=(?P<value>[^&;#\s\"']*)")


def _masked(match: re.Match[str]) -> str:
    name = match["name"]
    if unquote_plus(name).strip().lower() in SECRET_FIELDS:
        return f"{match['lead']}{name}={MASK}"
    return match[0]


def mask(text: str) -> str:
    """``text`` (a log line, a URL) with the values of secret query fields replaced by ``***``.

    Only fields after a ``?``, ``&`` or ``;`` are seen (as in a URL); for a
    bare query string use :func:`mask_query`.

    Examples
    --------
    >>> mask('"GET /open311/v2/services.json?api_key=ggt_abc&lang=en HTTP/1.1" 200')
    '"GET /open311/v2/services.json?api_key=***&lang=en HTTP/1.1" 200'
    """
    if "=" not in text:
        return text
    return _FIELD.sub(_masked, text)


def mask_query(query: str) -> str:
    """A query string (without ``?``) with the values of secret fields replaced by ``***``.

    Examples
    --------
    >>> mask_query("service_code=errand&api%5Fkey=ggt_abc")
    'service_code=errand&api%5Fkey=***'
    """
    return mask("?" + query)[1:] if query else query


class MaskingFilter(logging.Filter):
    """Mask secret query fields in every record of the logger it is added to."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_SECRET_ENVIRON = frozenset("{http_" + name.replace("-", "_") + "}e" for name in SECRET_HEADERS)
"""The access-log atoms of the WSGI environ that hold the secret headers."""


def mask_atoms(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn's access-log atoms with secret fields masked and credential headers ``***``."""
    out: dict[str, Any] = {}
    for key, value in atoms.items():
        header = key.startswith("{") and key[-2:] in ("}i", "}o") and key[1:-2] in SECRET_HEADERS
        if header or key in _SECRET_ENVIRON:
            out[key] = MASK
        elif key in ("q", "{query_string}e") and isinstance(value, str):
            out[key] = mask_query(value)
        elif isinstance(value, str):
            out[key] = mask(value)
        else:
            out[key] = value
    return out


class WerkzeugRequestHandler(WSGIRequestHandler):
    """The development server's request handler, masking secret query fields in its log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", None)
        if path is None:
            super().log_request(code, size)
            return
        self.path = mask(path)
        try:
            super().log_request(code, size)
        finally:
            self.path = path

    def log_error(self, format: str, *args: Any) -> None:
        super().log_error("%s", mask(format % args if args else format))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
"""The one format of gridgis's log lines (the message of a request's line is :func:`logfmt`)."""
REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""A client's request id taken as it is; any other is replaced by a new one."""

requests_logger = logging.getLogger("gridgis.web.requests")

_BARE = re.compile(r"[^\s\"=\\]+")


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs; a value with a space, quote, ``=`` or backslash is quoted.

    Examples
    --------
    >>> logfmt({"user": "王芳", "route": "/api/cases", "note": "a b", "empty": ""})
    'user=王芳 route=/api/cases note="a b" empty=""'
    """
    parts = []
    for key, value in fields.items():
        text = "-" if value is None else str(value)
        if not _BARE.fullmatch(text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _request_id() -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if REQUEST_ID.fullmatch(given) else secrets.token_hex(8)


def _start() -> None:
    g.request_id = _request_id()
    g.request_started = time.perf_counter()
    g.request_id_token = audit.request_id.set(g.request_id)


def _finish(response: Response) -> Response:
    if "request_id" not in g:  # a request refused before any before_request ran
        _start()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    user = g.get("user")
    fields = {
        "request_id": g.request_id,
        "user": getattr(user, "name", None) or "-",
        "method": request.method,
        "route": request.url_rule.rule if request.url_rule is not None else "-",
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1),
    }
    requests_logger.info(logfmt(fields), extra=fields)
    return response


def _reset(exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        audit.request_id.reset(token)


def init_app(app: Flask) -> None:
    """Mask secret query fields in what the app's logger writes; log one line per request.

    The request id is set before any other ``before_request`` function runs, so that the
    size checks and logins that refuse a request are logged with it too.
    """
    app.logger.addFilter(MaskingFilter())
    if not any(isinstance(f, MaskingFilter) for f in requests_logger.filters):
        requests_logger.addFilter(MaskingFilter())
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_reset)


def configure_logging(level: int | str = logging.INFO) -> None:
    """Write the ``gridgis`` loggers (the app's, the requests', the library's) to standard
    error in :data:`LOG_FORMAT`, once (a second call changes only the level)."""
    logger = logging.getLogger("gridgis")
    logger.setLevel(level)
    if not any(getattr(h, "_gridgis", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(MaskingFilter())
        handler._gridgis = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
