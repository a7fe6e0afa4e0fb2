"""Case density per cell as JSON and GeoJSON, under ``/api/density``.

Routes
------
``GET /api/density/cells.geojson``
    The cells as a GeoJSON FeatureCollection (EPSG:4326) with, per cell,
    ``cell_id``, ``code``, ``name``, ``community_code``, ``community``,
    ``street_code``, ``street``, ``status``, ``valid_from``, ``valid_to``,
    ``households``, ``cases``, ``rate_per_1000`` (null without households),
    ``cases_<category>`` (with ``by_category=1``), the hotspot figures
    ``neighbours``, ``gi_z``, ``gi_p``, ``gi_q``, ``significant``, ``hotspot``,
    and the inspection recency ``last_inspected_at``,
    ``days_since_inspection``, ``recent_inspections``, ``never_inspected``.
    A foreign member ``density`` states the filter, the totals and the
    hotspot method (see :mod:`gridgis.analysis.hotspots`).
``GET /api/density/heat.json``
    ``{"points": [[lat, lon, weight], ...], "cases", "bin_degrees",
    "max_weight"}``: the case points for a heat layer (Leaflet.heat's
    ``[lat, lng, intensity]`` order), binned on a fine grid with counts as
    weights when there are more than ``max_points`` (at most 50,000).

Query parameters (both routes)
------------------------------
``street``, ``community``
    A 9-digit street or 12-digit community code.
``category``
    A category code or Chinese name; repeat it or separate by commas for several.
``since``, ``until``
    ``YYYY-MM-DD`` or an ISO 8601 time (no offset means China Standard
    Time). ``since`` is inclusive; ``until`` is exclusive, except that a bare
    date includes its whole day (``until=2025-12-31`` ends at midnight after it).
``retired``, ``rejected``
    ``1`` to include retired cells (valid during the period) and rejected cases.

Only for ``cells.geojson``: ``value`` (``rate``, the default, or ``count``:
what Gi* tests), ``by_category`` (``1``), ``now`` (the moment recency is
measured from, default now), ``window_days`` (the recent window, default 30),
``geometry`` (``0`` for features without geometry, for a map that already
draws the cells, e.g. from vector tiles, and joins the figures by ``code``:
about a seventh of the size for the demo district), ``fields`` (a comma list
of the properties to send; ``code`` always comes: the density map asks for
the dozen it shows, a third of the size again for a whole city).
Only for ``heat.json``: ``max_points`` (1 to 50,000, default 50,000).

Both routes need a signed-in user (401 otherwise). A street office (role
``street``) sees only its own street: with no ``street`` the filter is its
street, and a ``street`` or ``community`` outside it is answered 403.

The routes are declared with :func:`gridgis.web.endpoints.endpoint` and
their filters are :mod:`gridgis.schemas.density`: a parameter that is
unknown, repeated or malformed is answered 422 naming it; an unknown code or
category 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, Response, jsonify

from gridgis.analysis import density
from gridgis.analysis.hotspots import CONFIDENCE_LEVELS, FDR_LEVEL
from gridgis.errors import ValidationError
from gridgis.schemas.common import day_start
from gridgis.schemas.density import (
    CELLS_COLLECTION,
    CellsQuery,
    CellTable,
    CellTableQuery,
    DensityFilter,
    Heat,
    HeatQuery,
)
from gridgis.times import display_series, to_display
from gridgis.web.auth import policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection, table_text

__all__ = ["bp"]

bp = Blueprint("density", __name__, url_prefix="/api/density")

_HEAT_DECIMALS = 6  # about 0.1 m


def _filters(query: DensityFilter) -> dict[str, Any]:
    """The filter of every route; a street office is kept to its own street."""
    return {
        "street": policy().street_filter(query.street),
        "community": policy().area_filter("community", query.community),
        "category": query.categories(),
        "since": day_start(query.since),
        "until": day_start(query.until, end=True),
        "include_retired": query.retired,
        "include_rejected": query.rejected,
    }


def _iso(value: Any) -> str | None:
    return to_display(value)  # a naive time given in a query is China Standard Time


def _fields(text: str | None, known: list[str]) -> list[str] | None:
    """The properties asked for by ``fields`` (``code`` first, always), or ``None`` for all."""
    if text is None:
        return None
    asked = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise ValidationError(
            f"`fields` named {unknown[0]!r}, which is not a property of the cells; "
            f"they are {known}",
            field="fields",
            zh=f"`fields` 中的 {unknown[0]!r} 不是网格的属性；网格的属性有 {known}",
        )
    return ["code", *dict.fromkeys(name for name in asked if name != "code")]


def _filter_echo(filters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (_iso(value) if isinstance(value, dt.datetime) else value)
        for key, value in filters.items()
    }


def _cell_figures(query: CellTableQuery, *, geometry: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cells' figures for ``query`` and the ``density`` member.

    The frame has a ``geom`` column, holding the polygons only if ``geometry``.
    """
    filters = _filters(query)
    now = day_start(query.now) or dt.datetime.now(dt.UTC)
    frame = density.density_cells(
        get_engine(),
        **filters,
        by_category=query.by_category,
        value=query.value,
        now=now,
        window_days=query.window_days,
        geometry=geometry,
    )
    out = frame.reset_index()
    for name in ("valid_from", "valid_to", "last_inspected_at"):  # in China Standard Time
        out[name] = display_series(out[name])
    fields = _fields(query.fields, [c for c in out.columns if c != "geom"])
    if fields is not None:
        out = out[[*fields, "geom"]]
    column = "rate_per_1000" if query.value == "rate" else "cases"
    meta = {
        "filters": _filter_echo(filters),
        "now": _iso(now),
        "window_days": query.window_days,
        "cells": len(frame),
        "cases": int(frame["cases"].sum()),
        "hotspots": {
            "statistic": "Getis-Ord Gi* (Ord & Getis 1995), z-scores",
            "value": column,
            "weights": "queen contiguity (boundaries within 0.1 m), row-standardised, "
            "each cell its own neighbour",
            "p_values": "two-sided, normal approximation",
            "correction": f"Benjamini-Hochberg FDR; significant at q <= {FDR_LEVEL}",
            "classes": {f"{level} %": f"q <= {q}" for level, q in CONFIDENCE_LEVELS},
            "tested": "active cells of the selection; islands and cells without a value "
            "are not tested",
        },
    }
    return out, meta


@endpoint(
    bp,
    "/cells.geojson",
    operation_id="densityCells",
    tags=("maps",),
    query=CellsQuery,
    replies=(
        Reply(200, description="The cells.", media_type=GEOJSON_MIMETYPE, schema=CELLS_COLLECTION),
    ),
    errors=(404,),
)
def cells(*, query: CellsQuery) -> Response:
    """Cells with case counts, rates per 1,000 households, Gi* hotspots, inspection recency.

    A foreign member ``density`` holds the filter, totals and method.
    """
    out, meta = _cell_figures(query, geometry=query.geometry)
    body = feature_collection(out, geometry=query.geometry, members={"density": meta})
    return Response(body, mimetype=GEOJSON_MIMETYPE)


@endpoint(
    bp,
    "/cells.json",
    operation_id="densityCellTable",
    tags=("maps",),
    query=CellTableQuery,
    replies=(Reply(200, CellTable, "The cells' figures."),),
    errors=(404,),
)
def cell_table(*, query: CellTableQuery) -> Response:
    """The figures of cells.geojson as a table, without geometry.

    ``columns`` (names once) and ``rows`` (a list of values a cell), and the
    member ``density``; for a map that draws the cells from vector tiles.
    """
    out, meta = _cell_figures(query, geometry=False)
    body = table_text(out.drop(columns="geom"), members={"density": meta})
    return Response(body, mimetype="application/json")


@endpoint(
    bp,
    "/heat.json",
    operation_id="densityHeat",
    tags=("maps",),
    query=HeatQuery,
    replies=(Reply(200, Heat, "The points."),),
    errors=(404,),
)
def heat(*, query: HeatQuery) -> Response:
    """Case points for a heat layer as [lat, lon, weight], binned when there are too many."""
    filters = _filters(query)
    found = density.heat_points(get_engine(), **filters, max_points=query.max_points)
    points = found.points
    triples = np.column_stack(
        [
            points["lat"].round(_HEAT_DECIMALS),
            points["lon"].round(_HEAT_DECIMALS),
            points["weight"],
        ]
    ).tolist()
    return jsonify(
        points=[[lat, lon, int(weight)] for lat, lon, weight in triples],
        order=["lat", "lon", "weight"],
        cases=found.cases,
        bin_degrees=found.bin_degrees,
        max_weight=int(points["weight"].max()) if len(points) else 0,
        filters=_filter_echo(filters),
    )
