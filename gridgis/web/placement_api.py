"""Party-branch placement as JSON / GeoJSON under ``/api/placement``.

Routes
------
``GET /api/placement/coverage.geojson?street=&minutes=&threshold=&kinds=&cell_geometry=``
    The walking coverage of party branches and service centres / stations
    (:func:`gridgis.analysis.placement.walking_coverage`) as a GeoJSON
    FeatureCollection (EPSG:4326) whose features carry a ``role``:

    - ``"cell"``: the street's cells with ``households``,
      ``households_covered``, ``covered_share`` and ``covered``
      (``cell_geometry=0`` leaves their polygons out, ``null``, for a page that
      has them already: they are most of the answer's weight);
    - ``"service_area"``: each facility's walking area (``method``
      ``"network"``: hull of the road reached; ``"straight_line"``: circle);
    - ``"facility"``: each facility with ``kind``, ``name``, ``method``,
      ``snap_distance_m``, ``households_reached`` (within the distance),
      ``households_nearest`` (covered households it is nearest to) and
      ``in_area`` (inside the street: facilities just outside serve it too).

    A foreign member ``summary`` holds the figures: households covered and
    their share, cells not covered (and their codes), the method, how the
    areas are drawn, the network and the seconds taken.
``GET /api/placement/suggest?street=&k=&minutes=&threshold=&kinds=&candidates=``
    Where ``k`` new sites would cover the most households not yet covered
    (:func:`gridgis.analysis.placement.suggest_sites`): a FeatureCollection of
    the sites (``role`` ``"site"``, with ``rank``, ``households_added``,
    ``candidate``, ``cell_code``, ``method``, and the ``building_id``,
    ``address`` and ``households`` of a building site or the ``node`` of a
    road junction) and a foreign member ``solution``: the
    solver, objective, LP bound, best bound, gaps, MILP status, seconds and a
    one-line ``summary`` ("MILP (HiGHS) optimal: ... greedy within x % ...").

Parameters: ``street`` a street office's 9-digit code (empty: everything
stored); ``minutes`` 5, 10 or 15 (300 / 500 / 1,000 m; default 10);
``threshold`` the percent of a cell's households that must be covered
(default 50); ``kinds`` a comma list of ``branch``, ``centre``, ``station``
(default all); ``k`` 1 to :data:`MAX_K` (default 3); ``candidates``
``buildings`` or ``road_nodes``. A bad value answers 400 naming it, an
unknown street 404, always as ``{"error": message}``.

Access: a signed-in user (401 otherwise). A street office is kept to its own
street (no ``street`` means its own; another street answers 403) and sees
only its own street's facilities, though those just outside still count in
its coverage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
from flask import Blueprint, Response, abort, current_app, request

from gridgis.analysis import network as net_mod
from gridgis.analysis.placement import (
    CANDIDATE_KINDS,
    DEFAULT_THRESHOLD,
    FACILITY_KINDS,
    WALK_MINUTES,
    Coverage,
    PlacementData,
    read_placement_data,
    suggest_sites,
    walking_coverage,
)
from gridgis.errors import InputError
from gridgis.web.auth import current_user, login_required, scope
from gridgis.web.db import get_engine
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection, feature_texts

__all__ = ["DEFAULT_K", "DEFAULT_MINUTES", "MAX_K", "bp"]

bp = Blueprint("placement_api", __name__, url_prefix="/api/placement")

DEFAULT_MINUTES = 10
"""Walking minutes when the request names none."""

DEFAULT_K = 3
"""New sites suggested when the request names no ``k``."""

MAX_K = 50
"""Most new sites one request may ask for."""

_MARGIN_EXTRA = 2 * net_mod.DEFAULT_SNAP_LIMIT + 200.0
"""Metres beyond the walking distance within which facilities and roads are read."""


@dataclass(frozen=True)
class _Query:
    street: str | None
    minutes: int
    threshold: float
    kinds: tuple[str, ...]
    scoped: bool

    @property
    def distance(self) -> float:
        return WALK_MINUTES[self.minutes]


@bp.get("/coverage.geojson")
@login_required
def coverage() -> Response:
    """Answer the walking coverage of a street (or everything) as GeoJSON."""
    query = _query()
    with_cells = _flag_arg("cell_geometry", default=True)
    data = _read(query)
    summary = _summary_head(query, data)
    if data.buildings.empty and data.facilities.empty:
        return _geojson([], summary=summary | {"households": 0, "households_covered": 0})
    cov = walking_coverage(
        data.facilities,
        data.buildings,
        data.roads,
        cells=data.cells,
        distance=query.distance,
        threshold=query.threshold,
    )
    # A street office sees its own street's facilities; those just outside still count.
    shown = cov.facilities["in_area"].to_numpy(dtype=bool) if query.scoped else None
    features = (
        _cell_features(cov, with_cells)
        + _area_features(cov, shown)
        + _facility_features(cov, shown)
    )
    summary |= cov.summary
    summary["facilities_outside_shown"] = not query.scoped
    if cov.cells is not None:
        summary["cells_not_covered_codes"] = [
            str(c) for c in cov.cells.loc[~cov.cells["covered"], "code"]
        ]
    return _geojson(features, summary=summary)


@bp.get("/suggest")
@login_required
def suggest() -> Response:
    """Answer where ``k`` new sites would cover the most uncovered households."""
    query = _query()
    k = _int_arg("k", DEFAULT_K, low=1, high=MAX_K)
    candidates = request.args.get("candidates", "").strip() or "buildings"
    if candidates not in CANDIDATE_KINDS:
        raise InputError(
            f"`candidates` was {candidates!r} but is expected to be one of {list(CANDIDATE_KINDS)}"
        )
    data = _read(query)
    head = _summary_head(query, data) | {"k": k, "candidates": candidates}
    if data.buildings.empty and data.facilities.empty:
        return _geojson([], solution=head | {"sites": 0, "summary": "nothing stored here"})
    time_limit = float(current_app.config["PLACEMENT_TIME_LIMIT"])
    plan = suggest_sites(
        data.facilities,
        data.buildings,
        data.roads,
        cells=data.cells,
        k=k,
        distance=query.distance,
        threshold=query.threshold,
        candidates="road_nodes" if candidates == "road_nodes" else "buildings",
        time_limit=time_limit,
    )
    sites = plan.sites
    wanted = (
        "rank",
        "households_added",
        "candidate",
        "cell_code",
        "method",
        "id",
        "address",
        "households",
        "node",
    )
    columns = [c for c in wanted if c in sites.columns]
    frame = sites[columns].copy()
    if "id" in frame.columns:
        frame = frame.rename(columns={"id": "building_id"})
    frame["role"] = "site"
    frame = gpd.GeoDataFrame(frame, geometry=sites.geometry.to_crs("EPSG:4326"))
    solution = head | plan.to_dict()
    return _geojson(_features(frame), solution=solution, coverage=plan.coverage.summary)


# --- arguments ----------------------------------------------------------------------------------


def _query() -> _Query:
    street = request.args.get("street", "") or None  # not stripped: checked as sent
    minutes_text = request.args.get("minutes", "").strip()
    if not minutes_text:
        minutes = DEFAULT_MINUTES
    elif minutes_text.isdecimal() and int(minutes_text) in WALK_MINUTES:
        minutes = int(minutes_text)
    else:
        raise InputError(
            f"`minutes` was {minutes_text!r} but is expected to be one of "
            f"{list(WALK_MINUTES)} (walking minutes: 300, 500 or 1,000 m)"
        )
    threshold = _float_arg("threshold", DEFAULT_THRESHOLD * 100.0, low=1.0, high=100.0) / 100.0
    kinds_text = request.args.get("kinds", "").strip()
    kinds = tuple(k.strip() for k in kinds_text.split(",") if k.strip()) or FACILITY_KINDS
    bad = [k for k in kinds if k not in FACILITY_KINDS]
    if bad:
        raise InputError(
            f"`kinds` was {kinds_text!r} but is expected to be a comma list of "
            f"{list(FACILITY_KINDS)}"
        )
    if street is not None and not (len(street) == 9 and street.isascii() and street.isdigit()):
        raise InputError(
            f"`street` was {street!r} but is expected to be a street office's 9-digit code "
            "(e.g. 350304001)"
        )
    own = scope()
    if own is not None:
        if street is None:
            street = own
        elif street != own:
            user = current_user()
            name = user.name if user is not None else ""
            abort(403, f"`street` was {street!r} but user {name!r} may see only street {own}")
    return _Query(street, minutes, threshold, kinds, own is not None)


def _int_arg(name: str, default: int, *, low: int, high: int) -> int:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not (low <= int(text) <= high):
        raise InputError(
            f"`{name}` was {text!r} but is expected to be a whole number from {low} to {high}"
        )
    return int(text)


def _flag_arg(name: str, *, default: bool) -> bool:
    text = request.args.get(name, "").strip().lower()
    if not text:
        return default
    if text not in ("0", "1", "true", "false"):
        raise InputError(f"`{name}` was {text!r} but is expected to be 1 or 0 (true or false)")
    return text in ("1", "true")


def _float_arg(name: str, default: float, *, low: float, high: float) -> float:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (low <= value <= high):
        raise InputError(
            f"`{name}` was {text!r} but is expected to be a number from {low:g} to {high:g}"
        )
    return value


# --- answers ------------------------------------------------------------------------------------


def _read(query: _Query) -> PlacementData:
    with get_engine().connect() as conn:
        return read_placement_data(
            conn,
            street=query.street,
            kinds=query.kinds,
            margin=query.distance + _MARGIN_EXTRA,
        )


def _summary_head(query: _Query, data: PlacementData) -> dict[str, Any]:
    return {
        "street": query.street,
        "street_name": data.street_name,
        "minutes": query.minutes,
        "distance_m": query.distance,
        "threshold": query.threshold,
        "kinds": list(query.kinds),
    }


def _cell_features(cov: Coverage, with_geometry: bool) -> list[str]:
    if cov.cells is None or cov.cells.empty:
        return []
    columns = ["code", "name", "households", "households_covered", "covered_share", "covered"]
    cells = gpd.GeoDataFrame(cov.cells[columns], geometry=cov.cells.geometry.to_numpy())
    cells = cells.set_crs(cov.cells.crs)
    cells["role"] = "cell"
    return _features(cells, geometry=with_geometry)


def _area_features(cov: Coverage, shown: np.ndarray | None) -> list[str]:
    fac = cov.facilities
    has_area = ~fac["service_area"].isna().to_numpy()
    if shown is not None:
        has_area &= shown
    if not has_area.any():
        return []
    areas = gpd.GeoDataFrame(
        {
            "role": "service_area",
            "facility_id": fac["facility_id"].to_numpy()[has_area],
            "kind": fac["kind"].to_numpy()[has_area],
            "name": fac["name"].to_numpy()[has_area],
            "method": fac["method"].to_numpy()[has_area],
        },
        geometry=fac["service_area"].to_numpy()[has_area],
        crs=fac["service_area"].crs,
    )
    return _features(areas)


def _facility_features(cov: Coverage, shown: np.ndarray | None) -> list[str]:
    fac = cov.facilities if shown is None else cov.facilities[shown]
    if fac.empty:
        return []
    snap = fac["snap_distance"].to_numpy(dtype=float)
    out = gpd.GeoDataFrame(
        {
            "role": "facility",
            "facility_id": fac["facility_id"].to_numpy(),
            "kind": fac["kind"].to_numpy(),
            "name": fac["name"].to_numpy(),
            "community_code": fac["community_code"].to_numpy(),
            "street_code": fac["street_code"].to_numpy(),
            "in_area": fac["in_area"].to_numpy(),
            "method": fac["method"].to_numpy(),
            "snap_distance_m": np.where(np.isfinite(snap), np.round(snap, 1), np.nan),
            "buildings_reached": fac["buildings_reached"].to_numpy(),
            "households_reached": fac["households_reached"].to_numpy(),
            "households_nearest": fac["households_nearest"].to_numpy(),
        },
        geometry=fac.geometry.to_numpy(),
        crs=fac.crs,
    )
    return _features(out)


def _features(frame: gpd.GeoDataFrame, *, geometry: bool = True) -> list[str]:
    if frame.empty:
        return []
    if not geometry:  # no need to project shapes that are not sent
        return feature_texts(frame, geometry=False)
    return feature_texts(frame.to_crs("EPSG:4326"))


def _geojson(features: list[str], **members: Any) -> Response:
    return Response(
        feature_collection(features=features, members=members), mimetype=GEOJSON_MIMETYPE
    )
