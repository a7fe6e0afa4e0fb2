"""The party-branch placement map page (党支部布局图).

Routes
------
``GET /map/placement?street=&minutes=``
    One street office's party branches and party-mass service centres and
    stations with their 5 / 10 / 15-minute walking areas (300 / 500 /
    1,000 m along the roads where a road network exists, else straight
    lines: the panel says which), its cells coloured covered / not covered
    (drawn from the vector tiles, joined to the coverage by cell code), the
    households covered, and a form asking where ``k`` new sites would cover
    the most households not yet covered (the sites, what each adds, the
    solver and how close to optimal it is). The figures come from
    ``/api/placement/coverage.geojson`` and ``/api/placement/suggest``
    (:mod:`gridgis.web.placement_api`).

    ``street`` defaults to the first street office; a street office is
    offered its own only, and asking for another is a 403. ``minutes`` is
    5, 10 or 15 (default 10); anything else is a 400.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from gridgis.analysis.placement import DEFAULT_THRESHOLD, WALK_MINUTES
from gridgis.db import tiles as db_tiles
from gridgis.errors import InputError
from gridgis.web.area_choice import chosen_street, street_choices
from gridgis.web.auth import login_required
from gridgis.web.cell_layer import cell_card_url, cell_tiles_url, cells_bounds
from gridgis.web.db import get_engine
from gridgis.web.placement_api import DEFAULT_K, DEFAULT_MINUTES, MAX_K

__all__ = ["bp"]

bp = Blueprint("placement_pages", __name__)


def _minutes_arg() -> int:
    text = request.args.get("minutes", "").strip()
    if not text:
        return DEFAULT_MINUTES
    if text.isascii() and text.isdigit() and int(text) in WALK_MINUTES:
        return int(text)
    raise InputError(
        f"`minutes` was {text!r} but is expected to be one of {list(WALK_MINUTES)} "
        "(walking minutes: 300, 500 or 1,000 m)",
        zh=f"`minutes` 为 {text!r}，应为以下之一：{list(WALK_MINUTES)}"
        "（步行分钟数：300、500 或 1,000 米）",
    )


@bp.get("/map/placement")
@login_required
def placement_map() -> str:
    """Render the placement map of one street office."""
    engine = get_engine()
    choices = street_choices(engine)
    street = chosen_street(choices, default_first=True)
    minutes = _minutes_arg()
    page_config: dict[str, Any] = {
        "street": street,
        "minutes": minutes,
        "distanceM": WALK_MINUTES[minutes],
        "threshold": DEFAULT_THRESHOLD,
        "defaultK": DEFAULT_K,
        "maxK": MAX_K,
        "coverageUrl": url_for("placement_api.coverage"),
        "suggestUrl": url_for("placement_api.suggest"),
        "tilesUrl": cell_tiles_url(),
        "cardUrl": cell_card_url(),
        "names": {} if street is None else db_tiles.area_names(engine, street=street),
        "bounds": None if street is None else cells_bounds(engine, street=street),
        "maxZoom": 19,
    }
    return render_template(
        "placement_map.html",
        page_config=page_config,
        streets=choices,
        street=street,
        minutes=minutes,
        walk_minutes=WALK_MINUTES,
        max_k=MAX_K,
        default_k=DEFAULT_K,
    )
