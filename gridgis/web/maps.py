"""The map pages.

Routes
------
``GET /``
    The overview (概览): every district and street office on a Leaflet map,
    and a panel listing the districts with their numbers of streets and
    communities; clicking a district zooms to it. The page loads only this
    app's files: a base map is drawn only when ``TILE_URL`` is configured.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for

from gridgis.db.queries import count_areas, district_summaries
from gridgis.web.db import get_engine

bp = Blueprint("maps", __name__)


@bp.get("/")
def index() -> str:
    """Render the overview map of districts and street offices."""
    engine = get_engine()
    page_config: dict[str, Any] = {
        "districtsUrl": url_for("api.areas", level="district"),
        "streetsUrl": url_for("api.areas", level="street"),
        "tileUrl": current_app.config.get("TILE_URL") or None,
        "tileAttribution": current_app.config.get("TILE_ATTRIBUTION") or "",
    }
    return render_template(
        "index.html",
        districts=district_summaries(engine),
        totals=count_areas(engine),
        page_config=page_config,
    )
