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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from flask import Flask
from werkzeug.serving import WSGIRequestHandler

__all__ = [
    "MASK",
    "SECRET_FIELDS",
    "SECRET_HEADERS",
    "MaskingFilter",
    "WerkzeugRequestHandler",
    "init_app",
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


def init_app(app: Flask) -> None:
    """Mask secret query fields in what the app's logger writes."""
    app.logger.addFilter(MaskingFilter())
