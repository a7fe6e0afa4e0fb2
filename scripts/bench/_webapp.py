"""The WSGI application the web benchmark serves with gunicorn.

The gridgis app (``create_app()``, database from ``GRIDGIS_DATABASE_URL``),
with the folder ``GRIDGIS_BENCH_PAGES`` mounted at ``/bench/``: the folium
pages compared against it. They are served outside the app because folium
writes inline scripts, which the app's Content-Security-Policy forbids.

Run as ``gunicorn --chdir scripts/bench '_webapp:make_application()'``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.wrappers import Response

from gridgis.web import create_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def _not_found(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    return Response("not found", status=404)(environ, start_response)


def make_application() -> WSGIApplication:
    """The gridgis app with the benchmark's folium pages under ``/bench/``."""
    pages = SharedDataMiddleware(_not_found, {"/": os.environ["GRIDGIS_BENCH_PAGES"]})
    return DispatcherMiddleware(create_app(), {"/bench": pages})
