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

from flask import Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

from gridgis import config
from gridgis.times import to_minutes
from gridgis.web import (
    api,
    audit_pages,
    auth,
    basemap,
    case_pages,
    cases_api,
    db,
    density_api,
    density_pages,
    departments_api,
    duplicates_api,
    editing,
    errors,
    export_api,
    export_jobs,
    export_pages,
    hand_editing,
    i18n,
    imports,
    limits,
    logs,
    maps,
    members_api,
    members_pages,
    nav,
    open311,
    openapi,
    organisation_pages,
    organisations_api,
    overview,
    party_api,
    party_hub,
    party_pages,
    photos_api,
    placement_api,
    placement_pages,
    property_api,
    property_pages,
    tasks,
    visit_pages,
    visits_api,
)
from gridgis.web import notices as notice_views
from gridgis.web import tiles as tiles_views

__all__ = ["create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the gridgis web application.

    Parameters
    ----------
    test_config:
        Settings that replace the defaults, e.g. in tests
        ``{"TESTING": True, "DATABASE_URL": url}``. The defaults come from
        :func:`gridgis.config.settings` (``GRIDGIS_*`` environment variables,
        see there), read now:

        - ``DATABASE_URL``: the PostGIS to use; ``None`` means the default of
          :func:`gridgis.db.engine.get_engine` (the embedded local cluster).
        - ``SECRET_KEY``: ``GRIDGIS_SECRET_KEY``, else the key generated once and
          kept in ``GRIDGIS_HOME/secret_key`` (:meth:`gridgis.config.Settings.signing_key`),
          the same for every worker.
        - ``TILE_URL``: base-map tile URL template; ``None`` draws no base map.
        - ``TILE_ATTRIBUTION``: plain text shown for that base map.
        - ``TILE_CRS`` (``wgs84``/``gcj02``), ``TILE_SUBDOMAINS``,
          ``TILE_MAX_ZOOM``, ``TIANDITU_KEY``: see :mod:`gridgis.web.basemap`.
        - ``TILE_CACHE_BYTES``: vector tiles kept per process (:mod:`gridgis.web.tiles`).
        - ``PLACEMENT_TIME_LIMIT``: the solver's seconds per request of new sites.
        - ``MAX_CONTENT_LENGTH``: the largest body read, in bytes
          (``GRIDGIS_MAX_CONTENT_LENGTH``, 50 MB); see :mod:`gridgis.web.limits`.
        - ``INTAKE_SYNC_COMMIT``, ``INTAKE_CACHE_SECONDS``, ``ADDRESS_BOOK_SECONDS``:
          the intake API's (:mod:`gridgis.web.cases_api`).
        - ``IMPORT_STAGING``: the folder uploads of the import page are staged in
          (``None``: ``GRIDGIS_HOME/imports``); ``IMPORT_STAGING_HOURS``: how long an
          upload neither confirmed nor cancelled is kept (``GRIDGIS_IMPORT_STAGING_HOURS``).
        - ``JOBS_FOLDER``: where background exports write their files (``None``:
          ``GRIDGIS_HOME/jobs``); ``JOBS_RUNNER``: whether this process runs the queued
          jobs in a thread (:mod:`gridgis.web.export_jobs`; else ``gridgis jobs worker``).
        - ``OPEN311_PUBLIC_READ``, ``OPEN311_KEY_PER_MINUTE``: who may read Open311
          without a key, and each client key's requests a minute (:mod:`gridgis.web.open311`).
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
    settings = config.settings()
    database_url, tianditu_key = settings.database_url, settings.tianditu_key
    app.config.from_mapping(
        DATABASE_URL=database_url.get_secret_value() if database_url else None,
        SECRET_KEY=given["SECRET_KEY"] if "SECRET_KEY" in given else settings.signing_key(),
        TILE_URL=settings.tile_url,
        TILE_ATTRIBUTION=settings.tile_attribution,
        TILE_CRS=settings.tile_crs,
        TILE_SUBDOMAINS=settings.tile_subdomains,
        TILE_MAX_ZOOM=settings.tile_max_zoom,
        TIANDITU_KEY=tianditu_key.get_secret_value() if tianditu_key else None,
        TILE_CACHE_BYTES=settings.tile_cache_bytes,
        PLACEMENT_TIME_LIMIT=settings.placement_time_limit,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        INTAKE_SYNC_COMMIT=settings.intake_sync_commit,
        INTAKE_CACHE_SECONDS=settings.intake_cache_seconds,
        ADDRESS_BOOK_SECONDS=settings.address_book_seconds,
        IMPORT_STAGING=None,
        JOBS_FOLDER=None,
        JOBS_RUNNER=True,
        IMPORT_STAGING_HOURS=settings.import_staging_hours,
        PHOTO_MAX_BYTES=settings.photo_max_bytes,
        PHOTO_MAX_COUNT=settings.photo_max_count,
        PHOTO_MAX_PIXELS=settings.photo_max_pixels,
        PHOTO_DIR=settings.photo_dir,
        OPEN311_PUBLIC_READ=settings.open311_public_read,
        OPEN311_KEY_PER_MINUTE=settings.open311_key_per_minute,
        **auth.default_config(settings),  # session cookie flags and lifetime
    )
    app.config.from_mapping(given)
    if settings.trusted_proxies:  # the client's address is the one the nearest proxies saw
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies
        )
    # Keep Chinese names readable in JSON answers (they are UTF-8 either way).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    limits.init_app(app)  # size and NUL checks come before any other look at a request
    logs.init_app(app)  # no API key of a URL in the app's log
    db.init_app(app)
    app.register_blueprint(maps.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(cases_api.bp)
    app.register_blueprint(photos_api.bp)
    app.register_blueprint(departments_api.bp)
    app.register_blueprint(duplicates_api.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(case_pages.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(tiles_views.bp)
    app.register_blueprint(density_api.bp)
    app.register_blueprint(placement_api.bp)
    app.register_blueprint(overview.bp)
    app.register_blueprint(placement_pages.bp)
    app.register_blueprint(density_pages.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(hand_editing.bp)
    app.register_blueprint(hand_editing.api_bp)
    app.register_blueprint(export_api.bp)
    app.register_blueprint(export_jobs.bp)
    app.register_blueprint(export_pages.bp)
    app.register_blueprint(audit_pages.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(imports.api_bp)
    app.register_blueprint(party_api.bp)
    app.register_blueprint(party_pages.bp)
    app.register_blueprint(party_hub.bp)
    app.register_blueprint(property_api.bp)
    app.register_blueprint(property_pages.bp)
    app.register_blueprint(organisations_api.bp)
    app.register_blueprint(organisation_pages.bp)
    app.register_blueprint(members_api.bp)
    app.register_blueprint(members_pages.bp)
    app.register_blueprint(visits_api.bp)
    app.register_blueprint(visit_pages.bp)
    notice_views.init_app(app)  # the inbox, and this process's webhook worker
    i18n.init_app(app)  # Chinese by default, ?lang=en
    app.jinja_env.globals["nav_links"] = nav.nav_links
    app.jinja_env.filters["local_time"] = to_minutes  # every time on a page: +08:00
    basemap.base_map(app.config)  # a bad base-map setting fails now, not on the first page
    app.jinja_env.globals["base_map"] = lambda: basemap.base_map(current_app.config)
    auth.init_app(app)  # login pages, CSRF and role checks before every request
    errors.init_app(app)  # one JSON error shape for the API, a page elsewhere
    app.after_request(_security_headers)
    return app


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
