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

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from sqlalchemy import Engine, text

from gridgis.db.queries import count_areas
from gridgis.web.db import get_engine

bp = Blueprint("maps", __name__)

# TODO(lead): this read belongs in gridgis/db/queries.py (e.g. `district_overview`);
# it lives here only because this change could not touch gridgis/db.
_DISTRICT_OVERVIEW_SQL = text(
    """
    SELECT d.code, d.name, d.geom IS NOT NULL AS has_outline,
           (SELECT count(*) FROM street s WHERE s.district_code = d.code) AS streets,
           (SELECT count(*) FROM community c JOIN street s ON s.code = c.street_code
             WHERE s.district_code = d.code) AS communities
    FROM district d
    ORDER BY d.code
    """
)


@dataclass(frozen=True)
class DistrictSummary:
    """One line of the overview panel."""

    code: str
    name: str
    streets: int
    communities: int
    has_outline: bool


def district_summaries(engine: Engine) -> list[DistrictSummary]:
    """Return every district with its numbers of streets and communities, by code.

    Examples
    --------
    >>> district_summaries(engine)  # doctest: +SKIP
    [DistrictSummary(code='350304', name='荔城区', streets=6, communities=88, has_outline=True)]
    """
    with engine.connect() as conn:
        rows = conn.execute(_DISTRICT_OVERVIEW_SQL).all()
    return [
        DistrictSummary(
            code=row.code,
            name=row.name,
            streets=int(row.streets),
            communities=int(row.communities),
            has_outline=bool(row.has_outline),
        )
        for row in rows
    ]


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
