"""The case density map page (案件密度图).

Routes
------
``GET /map/density?street=&category=&since=&until=&colour=&value=``
    Per-cell case counts and rates per 1,000 households for the chosen
    categories and dates, drawn on the cells of the vector tiles (joined by
    cell code to ``/api/density/cells.geojson``), a heat layer of the cases
    (``/api/density/heat.json``, Leaflet.heat), the Getis-Ord Gi* hotspot
    class of each cell with the method and significance level stated, and
    the days since each cell was last inspected. The filters are applied in
    the page without reloading it; the query arguments give their first
    values:

    - ``street``: a street office's code (default every street; a street
      office is offered and may ask for its own only, another is a 403);
    - ``category``: category codes (repeated or comma-separated), default all;
    - ``since``, ``until``: ``YYYY-MM-DD`` (``until`` includes its day);
    - ``colour``: what colours the cells, ``rate`` (default), ``count``,
      ``hotspot`` or ``recency``;
    - ``value``: what Gi* tests, ``rate`` (default) or ``count``.

    A malformed value is a 400, an unknown street or category a 404.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, render_template, request, url_for
from sqlalchemy import Engine

from gridgis.analysis.hotspots import CONFIDENCE_LEVELS, FDR_LEVEL, HOTSPOT_CLASSES
from gridgis.cases import case_categories
from gridgis.db import tiles as db_tiles
from gridgis.errors import InputError, NotFoundError
from gridgis.web.area_choice import chosen_street, street_choices
from gridgis.web.auth import login_required, policy
from gridgis.web.cell_layer import cell_card_url, cell_tiles_url, cells_bounds
from gridgis.web.db import get_engine
from gridgis.web.i18n import get_language

__all__ = ["COLOURS", "bp"]

bp = Blueprint("density_pages", __name__)

COLOURS: tuple[str, ...] = ("rate", "count", "hotspot", "recency")
"""What the cells can be coloured by: rate per 1,000 households, count, Gi* class, recency."""

VALUES: tuple[str, ...] = ("rate", "count")
"""What Gi* can test: the rate per 1,000 households or the count."""

RECENCY_BREAKS: tuple[int, ...] = (7, 30, 90, 365)
"""Upper bounds (days since the last inspection) of the recency classes; then older, never."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _choice(name: str, allowed: tuple[str, ...]) -> str:
    value = request.args.get(name, "").strip() or allowed[0]
    if value not in allowed:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be one of {list(allowed)}",
            zh=f"`{name}` 为 {value!r}，应为以下之一：{list(allowed)}",
        )
    return value


def _date(name: str) -> str | None:
    value = request.args.get(name, "").strip() or None
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be a date (YYYY-MM-DD)",
            zh=f"`{name}` 为 {value!r}，应为日期（YYYY-MM-DD）",
        ) from None
    return value


def _categories(known: list[dict[str, Any]]) -> list[str]:
    asked = [
        part.strip()
        for value in request.args.getlist("category")
        for part in value.split(",")
        if part.strip()
    ]
    codes = {c["code"] for c in known}
    by_name = {c["name_zh"]: c["code"] for c in known}
    out: list[str] = []
    for value in asked:
        code = value if value in codes else by_name.get(value)
        if code is None:
            raise NotFoundError(
                f"`category` was {value!r} but is expected to be one of {sorted(codes)}",
                zh=f"`category`（事件类别）为 {value!r}，应为以下之一：{sorted(codes)}",
            )
        if code not in out:
            out.append(code)
    return out


@bp.get("/map/density")
@login_required
def density_map() -> str:
    """Render the case density map."""
    engine = get_engine()
    choices = street_choices(engine)
    street = chosen_street(choices, default_first=False)
    categories = case_categories(engine)
    chosen = _categories(categories)
    english = get_language() == "en"
    page_config: dict[str, Any] = {
        "street": street,
        "category": chosen,
        "since": _date("since"),
        "until": _date("until"),
        "colour": _choice("colour", COLOURS),
        "value": _choice("value", VALUES),
        "cellsUrl": url_for("density.cell_table"),
        "heatUrl": url_for("density.heat"),
        "tilesUrl": cell_tiles_url(),
        "cardUrl": cell_card_url(),
        "hotspotClasses": list(HOTSPOT_CLASSES),
        "recencyBreaks": list(RECENCY_BREAKS),
        "bounds": cells_bounds(engine, street=street),
        "streetBounds": _street_bounds(engine, choices),
        "maxZoom": 19,
        # Names of the communities and streets for the popups (the figures carry codes only).
        "names": db_tiles.area_names(engine, street=policy().street),
    }
    return render_template(
        "density_map.html",
        page_config=page_config,
        streets=choices,
        categories=[
            {"code": c["code"], "name": c["name_en"] if english and c["name_en"] else c["name_zh"]}
            for c in categories
        ],
        colours=COLOURS,
        fdr_level=FDR_LEVEL,
        confidence_levels=CONFIDENCE_LEVELS,
    )


def _street_bounds(engine: Engine, choices: list[dict[str, str]]) -> dict[str, Any]:
    """The ``[[south, west], [north, east]]`` of each street's cells, to zoom to a street chosen."""
    out: dict[str, Any] = {}
    for choice in choices:  # a district has a dozen streets: one small query each
        bounds = cells_bounds(engine, street=choice["code"])
        if bounds is not None:
            out[choice["code"]] = bounds
    return out
