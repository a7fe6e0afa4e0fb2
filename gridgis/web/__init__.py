"""The gridgis web application (Flask).

:func:`create_app` is the application factory; nothing is created at import.
One blueprint per area: :mod:`gridgis.web.maps` (the HTML pages) and
:mod:`gridgis.web.api` (JSON and GeoJSON under ``/api``). The database engine
is made on first use (:mod:`gridgis.web.db`), so creating the app never
connects or starts the local PostGIS.

Every page and script is served by the app itself (Leaflet is vendored under
``static/vendor/leaflet``): a deployment on a government intranet works with
no internet, and with no base map unless ``TILE_URL`` names a tile server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from gridgis import config
from gridgis.errors import DatabaseError, GridGISError
from gridgis.times import to_minutes
from gridgis.web import (
    api,
    audit_pages,
    auth,
    basemap,
    cases_api,
    db,
    density_api,
    density_pages,
    editing,
    export_api,
    export_pages,
    i18n,
    limits,
    logs,
    maps,
    nav,
    open311,
    openapi,
    overview,
    placement_api,
    placement_pages,
)
from gridgis.web import tiles as tiles_views

__all__ = ["create_app"]

_STATUS_TITLES_ZH: dict[int, str] = {
    400: "请求有误",
    403: "无权访问",
    404: "未找到",
    405: "不支持该请求方法",
    413: "请求内容过大",
    422: "数据有误",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the gridgis web application.

    Parameters
    ----------
    test_config:
        Settings that replace the defaults, e.g. in tests
        ``{"TESTING": True, "DATABASE_URL": url}``. The defaults come from
        :mod:`gridgis.config` (``GRIDGIS_*`` environment variables), read now:

        - ``DATABASE_URL``: the PostGIS to use; ``None`` means the default of
          :func:`gridgis.db.engine.get_engine` (the embedded local cluster).
        - ``SECRET_KEY``: ``GRIDGIS_SECRET_KEY``, else the key generated once and
          kept in ``GRIDGIS_HOME/secret_key`` (:func:`gridgis.config.secret_key`),
          the same for every worker.
        - ``TILE_URL``: base-map tile URL template; ``None`` draws no base map.
        - ``TILE_ATTRIBUTION``: plain text shown for that base map.
        - ``TILE_CRS`` (``wgs84``/``gcj02``), ``TILE_SUBDOMAINS``,
          ``TILE_MAX_ZOOM``, ``TIANDITU_KEY``: see :mod:`gridgis.web.basemap`.
        - ``MAX_CONTENT_LENGTH``: the largest body read, in bytes
          (``GRIDGIS_MAX_CONTENT_LENGTH``, 50 MB); see :mod:`gridgis.web.limits`.
        - Session cookie flags and lifetime: :func:`gridgis.web.auth.default_config`.

    Returns
    -------
    Flask
        The application. No database connection has been made yet.

    Examples
    --------
    >>> app = create_app({"TESTING": True, "DATABASE_URL": None})
    >>> app.config["TILE_URL"] is None or isinstance(app.config["TILE_URL"], str)
    True
    """
    app = Flask(__name__)
    given = dict(test_config or {})
    app.config.from_mapping(
        DATABASE_URL=config.database_url(),
        SECRET_KEY=given["SECRET_KEY"] if "SECRET_KEY" in given else config.secret_key(),
        TILE_URL=config.tile_url(),
        TILE_ATTRIBUTION=config.tile_attribution(),
        TILE_CRS=config.tile_crs(),
        TILE_SUBDOMAINS=config.tile_subdomains(),
        TILE_MAX_ZOOM=config.tile_max_zoom(),
        TIANDITU_KEY=config.tianditu_key(),
        MAX_CONTENT_LENGTH=config.max_content_length(),
        **auth.default_config(),  # session cookie flags and lifetime
    )
    app.config.from_mapping(given)
    proxies = config.trusted_proxies()
    if proxies:  # the client's address is the one the nearest proxies saw (login throttling)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    # Keep Chinese names readable in JSON answers (they are UTF-8 either way).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    limits.init_app(app)  # size and NUL checks come before any other look at a request
    logs.init_app(app)  # no API key of a URL in the app's log
    db.init_app(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(cases_api.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(tiles_views.bp)
    app.register_blueprint(density_api.bp)
    app.register_blueprint(placement_api.bp)
    app.register_blueprint(overview.bp)
    app.register_blueprint(placement_pages.bp)
    app.register_blueprint(density_pages.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(export_api.bp)
    app.register_blueprint(export_pages.bp)
    app.register_blueprint(audit_pages.bp)
    i18n.init_app(app)  # Chinese by default, ?lang=en
    app.jinja_env.globals["nav_links"] = nav.nav_links
    app.jinja_env.filters["local_time"] = to_minutes  # every time on a page: +08:00
    basemap.base_map(app.config)  # a bad base-map setting fails now, not on the first page
    app.jinja_env.globals["base_map"] = lambda: basemap.base_map(current_app.config)
    auth.init_app(app)  # login pages, CSRF and role checks before every request
    _register_error_handlers(app)
    app.after_request(_security_headers)
    return app


def _error_response(status: int, message: str) -> tuple[Response | str, int]:
    if auth.wants_json():
        return jsonify(error=message), status
    title = i18n.gettext(_STATUS_TITLES_ZH.get(status, "出错了"))
    return render_template("error.html", status=status, title=title, message=message), status


def _register_error_handlers(app: Flask) -> None:
    """Answer errors with ``{"error": message}`` under ``/api``, a short page elsewhere.

    Tracebacks are logged, never shown: an unexpected exception becomes a
    generic 500 (Flask's ``handle_exception`` wraps it in ``InternalServerError``).
    """

    @app.errorhandler(GridGISError)
    def _gridgis_error(exc: GridGISError) -> tuple[Response | str, int]:
        if exc.status >= 500:
            app.logger.error("%s on %s", type(exc).__name__, request.path, exc_info=exc)
        return _error_response(exc.status, str(exc))

    @app.errorhandler(OperationalError)
    def _database_unreachable(exc: OperationalError) -> tuple[Response | str, int]:
        error = DatabaseError(f"cannot reach the database: {str(exc.orig).strip()}")
        app.logger.error("database error on %s", request.path, exc_info=exc)
        return _error_response(error.status, str(error))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> tuple[Response | str, int]:
        return _error_response(413, limits.too_large_message())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> HTTPException | tuple[Response | str, int]:
        if exc.code is None or exc.code < 400:
            return exc
        return _error_response(exc.code, exc.description or exc.name)


def _security_headers(response: Response) -> Response:
    """Forbid pages from loading anything but this app's files (and the tiles)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        tiles = basemap.image_sources(basemap.base_map(current_app.config))
        img_src = " ".join(["'self'", "data:", *tiles])
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"img-src {img_src}; connect-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'self'",
        )
    return response
