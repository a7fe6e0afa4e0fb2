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

A parameter that is unknown, repeated or malformed is answered 400 with
``{"error": message}`` naming it; an unknown code or category 404.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MultiDict

from gridgis.analysis import density
from gridgis.analysis.hotspots import CONFIDENCE_LEVELS, FDR_LEVEL
from gridgis.errors import InputError
from gridgis.times import display_series, parse_time, to_display
from gridgis.web.auth import login_required, policy
from gridgis.web.db import get_engine
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection, table_text

__all__ = ["bp"]

bp = Blueprint("density", __name__, url_prefix="/api/density")

_COMMON = ("street", "community", "category", "since", "until", "retired", "rejected")
_TABLE_PARAMS = (*_COMMON, "value", "by_category", "now", "window_days", "fields")
_CELLS_PARAMS = (*_TABLE_PARAMS, "geometry")
_HEAT_PARAMS = (*_COMMON, "max_points")
_REPEATABLE = ("category",)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEARS = (1900, 2100)
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")
_HEAT_DECIMALS = 6  # about 0.1 m


def _checked_args(args: MultiDict[str, str], allowed: tuple[str, ...]) -> dict[str, list[str]]:
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown query parameter {unknown[0]!r}; the parameters are {list(allowed)}"
        )
    out: dict[str, list[str]] = {}
    for key in args:
        values = args.getlist(key)
        if len(values) > 1 and key not in _REPEATABLE:
            raise InputError(f"`{key}` was given {len(values)} times but is expected once")
        out[key] = [v.strip() for v in values]
    return out


def _one(args: Mapping[str, list[str]], key: str) -> str | None:
    values = args.get(key)
    if not values or values[0] == "":
        return None
    return values[0]


def _flag(args: Mapping[str, list[str]], key: str) -> bool:
    value = _one(args, key)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InputError(f"`{key}` was {value!r} but is expected to be 1 or 0 (true or false)")


def _integer(args: Mapping[str, list[str]], key: str, *, low: int, high: int, default: int) -> int:
    value = _one(args, key)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 9) or not (
        low <= int(value) <= high
    ):
        raise InputError(f"`{key}` was {value!r} but is expected to be a whole number {low}–{high}")
    return int(value)


def _time(
    args: Mapping[str, list[str]], key: str, *, end_of_day: bool = False
) -> dt.datetime | None:
    """``key`` as a datetime; a bare date is its midnight, or the next one with ``end_of_day``."""
    value = _one(args, key)
    if value is None:
        return None
    expected = (
        f"`{key}` was {value!r} but is expected to be a date (YYYY-MM-DD) or an ISO 8601 time "
        f"(e.g. 2025-03-01T08:00:00+08:00) from {_YEARS[0]} to {_YEARS[1]}"
    )
    if not value.isascii() or len(value) > 40:
        raise InputError(expected)
    try:
        moment = parse_time(value, field=key, plausible=False)
    except InputError:
        raise InputError(expected) from None
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        raise InputError(expected)
    if end_of_day and _DATE.fullmatch(value):
        moment += dt.timedelta(days=1)
    return moment


def _categories(args: Mapping[str, list[str]]) -> list[str] | None:
    raw = args.get("category")
    if not raw:
        return None
    wanted = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    if not wanted:
        raise InputError(f"`category` was {raw[0]!r} but is expected to name a category")
    return wanted


def _scoped(key: str, value: str | None) -> str | None:
    """``value`` (a street or community code), refused when outside the user's street."""
    if value is None or not (value.isascii() and value.isdigit()):
        return value  # malformed codes are refused with 400 by the library
    return policy().area_filter(key, value)


def _filters(args: Mapping[str, list[str]]) -> dict[str, Any]:
    """The filter of both routes; a street office is kept to its own street."""
    street = _scoped("street", _one(args, "street"))
    return {
        "street": policy().street_filter(street),
        "community": _scoped("community", _one(args, "community")),
        "category": _categories(args),
        "since": _time(args, "since"),
        "until": _time(args, "until", end_of_day=True),
        "include_retired": _flag(args, "retired"),
        "include_rejected": _flag(args, "rejected"),
    }


def _iso(value: Any) -> str | None:
    return to_display(value)  # a naive time given in a query is China Standard Time


def _fields(args: Mapping[str, list[str]], known: list[str]) -> list[str] | None:
    """The properties asked for by ``fields`` (``code`` first, always), or ``None`` for all."""
    text = _one(args, "fields")
    if text is None:
        return None
    asked = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in asked if name not in known]
    if unknown:
        raise InputError(
            f"`fields` named {unknown[0]!r}, which is not a property of the cells; they are {known}"
        )
    return ["code", *dict.fromkeys(name for name in asked if name != "code")]


def _filter_echo(filters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: (_iso(value) if isinstance(value, dt.datetime) else value)
        for key, value in filters.items()
    }


def _cell_figures(
    args: Mapping[str, list[str]], *, geometry: bool
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The cells' figures for checked ``args`` and the ``density`` member.

    The frame has a ``geom`` column, holding the polygons only if ``geometry``.
    """
    filters = _filters(args)
    value = _one(args, "value") or "rate"
    if value not in ("rate", "count"):
        raise InputError(f"`value` was {value!r} but is expected to be 'rate' or 'count'")
    now = _time(args, "now") or dt.datetime.now(dt.UTC)
    window_days = _integer(args, "window_days", low=1, high=3660, default=30)
    frame = density.density_cells(
        get_engine(),
        **filters,
        by_category=_flag(args, "by_category"),
        value="rate" if value == "rate" else "count",
        now=now,
        window_days=window_days,
        geometry=geometry,
    )
    out = frame.reset_index()
    for name in ("valid_from", "valid_to", "last_inspected_at"):  # in China Standard Time
        out[name] = display_series(out[name])
    fields = _fields(args, [c for c in out.columns if c != "geom"])
    if fields is not None:
        out = out[[*fields, "geom"]]
    column = "rate_per_1000" if value == "rate" else "cases"
    meta = {
        "filters": _filter_echo(filters),
        "now": _iso(now),
        "window_days": window_days,
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


@bp.get("/cells.geojson")
@login_required
def cells() -> Response:
    """Answer the cells with counts, rates, hotspot classes and inspection recency."""
    args = _checked_args(request.args, _CELLS_PARAMS)
    with_geometry = _one(args, "geometry") is None or _flag(args, "geometry")
    out, meta = _cell_figures(args, geometry=with_geometry)
    body = feature_collection(out, geometry=with_geometry, members={"density": meta})
    return Response(body, mimetype=GEOJSON_MIMETYPE)


@bp.get("/cells.json")
@login_required
def cell_table() -> Response:
    """Answer the same figures as a table (column names once, a list of values a cell)."""
    args = _checked_args(request.args, _TABLE_PARAMS)
    out, meta = _cell_figures(args, geometry=False)
    body = table_text(out.drop(columns="geom"), members={"density": meta})
    return Response(body, mimetype="application/json")


@bp.get("/heat.json")
@login_required
def heat() -> Response:
    """Answer the case points of a heat layer, binned when there are too many."""
    args = _checked_args(request.args, _HEAT_PARAMS)
    filters = _filters(args)
    limit = density.DEFAULT_MAX_HEAT_POINTS
    max_points = _integer(args, "max_points", low=1, high=limit, default=limit)
    found = density.heat_points(get_engine(), **filters, max_points=max_points)
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
