"""The map pages.

Routes
------
``GET /``
    The overview (概览): every district and street office on a Leaflet map,
    and a panel listing the districts with their numbers of streets and
    communities and their key figures (households, cells, open and overdue
    cases (超期), cases closed late (逾期结案), 按期结案率;
    :mod:`gridgis.analysis.figures`), each linking to its
    page ``/area/<code>`` (:mod:`gridgis.web.overview`); clicking a district
    zooms to it. The page loads only this
    app's files: a base map is drawn only when ``TILE_URL`` is configured.
    Signed-in users only; a street office sees its own district and street
    (the counts and figures are its street's), as the GeoJSON API answers it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, render_template, url_for

from gridgis.analysis.figures import area_figures, figure_records
from gridgis.db.queries import DistrictSummary, area_counts, district_summaries
from gridgis.web.auth import login_required, policy
from gridgis.web.db import get_engine

bp = Blueprint("maps", __name__)


@bp.get("/")
@login_required
def index() -> str:
    """Render the overview map of districts and street offices."""
    engine = get_engine()
    street = policy().street
    totals = area_counts(engine, street=street)
    districts = district_summaries(engine)
    if street is not None:
        districts = _street_view(districts, street, totals)
        rows = figure_records(area_figures(engine, "street", within=street))
        figures = {street[:6]: rows[0]} if rows else {}
    else:
        figures = {row["code"]: row for row in figure_records(area_figures(engine, "district"))}
    page_config: dict[str, Any] = {
        "districtsUrl": url_for("api.areas", level="district"),
        "streetsUrl": url_for("api.areas", level="street"),
    }
    return render_template(
        "index.html",
        districts=districts,
        totals=totals,
        figures=figures,
        page_config=page_config,
    )


def _street_view(
    districts: list[DistrictSummary], street: str, totals: dict[str, int]
) -> list[DistrictSummary]:
    """The panel of a street office: its district only, counting its own street."""
    return [
        dataclasses.replace(d, streets=totals["street"], communities=totals["community"])
        for d in districts
        if d.code == street[:6]
    ]
