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
``GET /api/cells/<code>/history``
    A cell code's history, active or retired: every version of it, the cells
    that took over its households (``successors``) and those it took
    households from (``predecessors``), with the households carried and their
    share, and the cases filed in it. A code never issued is a 404; a cell
    outside a street office's street a 403.
``GET /api/cells/<code>``
    What an active cell's popup shows: name, households, community and street, its
    grid workers and party organisations, its cases (open and overdue) and the link to
    their list. Names and phones are masked unless the user's area holds the cell
    (:meth:`gridgis.access.Policy.may_see_people`).
``GET /api/me``
    ``{"name", "role", "street_code", "street_name", "csrf_token"}`` of the
    signed-in user, for page scripts and API clients that use the session.
``GET /api/health``
    ``{"status": "ok", "postgis": "3.3.2"}`` when the database answers; open to
    anyone (for monitoring).
``GET /api/summary``
    How many districts, streets, communities and active cells are stored (for
    a street office: its district, its street, and those in it).

Every route but ``/api/health`` needs a signed-in user or an API token
(:mod:`gridgis.web.auth`); without one it answers 401.

Each route is declared with :func:`gridgis.web.endpoints.endpoint`; errors
are ``{"error": {"code", "message", "field"}}`` (:mod:`gridgis.web.errors`).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import column, func, select, table

from gridgis.access import CASE_ROLES
from gridgis.analysis.cell_card import cell_card
from gridgis.codes import is_code
from gridgis.db.lineage import cell_history
from gridgis.db.queries import LEVELS, area_counts, read_areas
from gridgis.errors import DatabaseError, ForbiddenError, NotFoundError
from gridgis.schemas.areas import (
    FEATURE_COLLECTION,
    AreasQuery,
    CellCard,
    CellHistory,
    Health,
    Me,
    Summary,
)
from gridgis.web.auth import csrf_token, current_user, policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import PUBLIC, Reply, endpoint
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection

bp = Blueprint("api", __name__, url_prefix="/api")

_EXTENSIONS = table("pg_extension", column("extname"), column("extversion"))
"""PostgreSQL's catalogue of the extensions installed in the database (the columns read)."""


@endpoint(
    bp,
    "/areas/<level>.geojson",
    operation_id="areas",
    tags=("areas",),
    query=AreasQuery,
    path={"level": {"type": "string", "enum": list(LEVELS)}},
    replies=(
        Reply(
            200,
            description="A FeatureCollection.",
            media_type=GEOJSON_MIMETYPE,
            schema=FEATURE_COLLECTION,
        ),
    ),
    errors=(404,),
)
def areas(level: str, *, query: AreasQuery) -> Response:
    """The areas of a level as a GeoJSON FeatureCollection (EPSG:4326).

    A street office gets its own street and what lies in it, and its
    district's outline.
    """
    if level not in LEVELS:
        raise NotFoundError(
            f"`level` was {level!r} but is expected to be one of {list(LEVELS)}",
            field="level",
            zh=f"`level` 为 {level!r}，应为以下之一：{list(LEVELS)}",
        )
    within = policy().within(level, query.within)
    frame = read_areas(get_engine(), level, within=within)
    return Response(feature_collection(frame), mimetype=GEOJSON_MIMETYPE)


@endpoint(
    bp,
    "/cells/<code>/history",
    operation_id="cellHistory",
    tags=("areas",),
    path={"code": {"type": "string", "pattern": "^[0-9]{15}$"}},
    replies=(Reply(200, CellHistory, "The cell's history."),),
    errors=(403, 404),
)
def cell_history_of(code: str) -> Response:
    """A cell code's versions, successors and predecessors (active or retired)."""
    if not is_code(code, "cell"):
        raise NotFoundError(
            f"no cell has the code {code!r}: a cell code has 15 digits",
            field="code",
            zh=f"没有编码为 {code!r} 的网格：网格编码为 15 位数字",
        )
    rules = policy()
    if not rules.may_see_outline(code):
        raise ForbiddenError(
            f"cell {code} is outside the area user {rules.name!r} may see",
            zh=f"网格 {code} 不在用户 {rules.name!r} 可查看的范围内",
        )
    history = cell_history(get_engine(), code)
    if history is None:
        raise NotFoundError(
            f"no cell has ever had the code {code!r}",
            field="code",
            zh=f"从来没有编码为 {code!r} 的网格",
        )
    return jsonify(history.as_dict())


@endpoint(
    bp,
    "/cells/<code>",
    operation_id="cellCard",
    tags=("areas",),
    path={"code": {"type": "string", "pattern": "^[0-9]{15}$"}},
    replies=(Reply(200, CellCard, "The cell as its popup shows it."),),
    errors=(403, 404),
)
def cell_card_of(code: str) -> Response:
    """An active cell with its workers, party organisations and cases (for its popup)."""
    if not is_code(code, "cell"):
        raise NotFoundError(
            f"no cell has the code {code!r}: a cell code has 15 digits",
            field="code",
            zh=f"没有编码为 {code!r} 的网格：网格编码为 15 位数字",
        )
    rules = policy()
    if not rules.may_see(code):
        raise ForbiddenError(
            f"cell {code} is outside the area user {rules.name!r} may see",
            zh=f"网格 {code} 不在用户 {rules.name!r} 可查看的范围内",
        )
    card = cell_card(get_engine(), code, reveal=rules.may_see_people(code))
    # the case list page (/cases, issue 18) filtered to the cell
    return jsonify(card | {"cases_url": f"{request.script_root}/cases?cell={code}"})


@endpoint(
    bp,
    "/health",
    operation_id="health",
    tags=("areas",),
    roles=PUBLIC,
    replies=(Reply(200, Health, "Healthy."),),
)
def health() -> Response:
    """Whether the database and its PostGIS answer (open to anyone, for monitoring)."""
    with get_engine().connect() as conn:
        installed = conn.execute(
            select(_EXTENSIONS.c.extversion).where(_EXTENSIONS.c.extname == "postgis")
        ).scalar()
        if installed is None:
            raise DatabaseError(
                "the database has no PostGIS extension yet; run `gridgis db upgrade`",
                zh="数据库尚未安装 PostGIS 扩展；请运行 `gridgis db upgrade`",
            )
        version = conn.execute(select(func.postgis_lib_version())).scalar_one()
    return jsonify(status="ok", postgis=str(version))


@endpoint(
    bp,
    "/summary",
    operation_id="summary",
    tags=("areas",),
    replies=(Reply(200, Summary, "The counts."),),
)
def summary() -> Response:
    """Numbers of stored districts, streets, communities and active cells.

    A street office gets its district, its street and what lies in it.
    """
    return jsonify(area_counts(get_engine(), street=policy().street))


@endpoint(
    bp,
    "/me",
    operation_id="me",
    tags=("areas",),
    roles=CASE_ROLES,
    replies=(Reply(200, Me, "The user."),),
)
def me() -> Response:
    """The signed-in user and this session's CSRF token, for page scripts and API clients."""
    user = current_user()
    assert user is not None  # guarded
    return jsonify(
        name=user.name,
        role=user.role,
        street_code=user.street_code,
        street_name=user.street_name,
        csrf_token=csrf_token(),
    )
