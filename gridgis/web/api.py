"""JSON and GeoJSON under ``/api``.

Routes
------
``GET /api/areas/<level>.geojson?within=CODE``
    The districts, streets, communities or active cells as a GeoJSON
    FeatureCollection (EPSG:4326, coordinates rounded to 7 decimals, about
    1 cm); properties ``code``, ``name``, ``parent_code`` (and ``households``,
    ``residents`` for cells). ``within`` keeps the areas whose code starts with
    CODE, e.g. the streets of one district. A street office gets only its own
    street, its communities and cells, and the outline of its district; a
    ``within`` outside its street is answered 403.
``GET /api/health``
    ``{"status": "ok", "postgis": "3.3.2"}`` when the database answers; open to
    anyone (for monitoring).
``GET /api/summary``
    How many districts, streets, communities and active cells are stored (for
    a street office: its district, its street, and those in it).

Every route but ``/api/health`` needs a signed-in user or an API token
(:mod:`gridgis.web.auth`); without one it answers 401.

Errors are ``{"error": message}`` with the error's HTTP status (see
:func:`gridgis.web.create_app`).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, jsonify, request
from sqlalchemy import text

from gridgis.db.queries import LEVELS, read_areas
from gridgis.errors import DatabaseError, NotFoundError, ValidationError
from gridgis.users import area_counts
from gridgis.web.auth import current_user, login_required, scope
from gridgis.web.db import get_engine
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection

bp = Blueprint("api", __name__, url_prefix="/api")

_WITHIN = re.compile(r"[0-9]{2,15}")


@bp.get("/areas/<level>.geojson")
@login_required
def areas(level: str) -> Response:
    """Answer the areas of ``level`` as a GeoJSON FeatureCollection."""
    if level not in LEVELS:
        raise NotFoundError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    within = request.args.get("within", "").strip() or None
    if within is not None and not _WITHIN.fullmatch(within):
        raise ValidationError(
            f"`within` was {within!r} but is expected to be an area code "
            "(2 to 15 digits, e.g. 350304)"
        )
    within = _scoped_within(level, within, scope())
    frame = read_areas(get_engine(), level, within=within)
    return Response(feature_collection(frame), mimetype=GEOJSON_MIMETYPE)


@bp.get("/health")
def health() -> Response:
    """Answer whether the database and its PostGIS respond."""
    with get_engine().connect() as conn:
        installed = conn.execute(
            text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        ).scalar()
        if installed is None:
            raise DatabaseError(
                "the database has no PostGIS extension yet; run `gridgis db upgrade`"
            )
        version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return jsonify(status="ok", postgis=str(version))


@bp.get("/summary")
@login_required
def summary() -> Response:
    """Answer the number of stored districts, streets, communities and cells."""
    return jsonify(area_counts(get_engine(), street=scope()))


def _scoped_within(level: str, within: str | None, street: str | None) -> str | None:
    """The code prefix to read ``level`` with, for a user limited to ``street`` (or not).

    A street office reads its district's outline (``level="district"``) and,
    at every other level, only what lies in its street; a ``within`` that
    narrows this further is kept, one outside it is refused.
    """
    if street is None:
        return within
    own = street[:6] if level == "district" else street
    if within is None or own.startswith(within):
        return own
    if within.startswith(own):
        return within
    user = current_user()
    name = user.name if user is not None else ""
    abort(403, f"`within` was {within!r} but user {name!r} may see only street {street}")
