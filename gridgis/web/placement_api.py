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
``buildings`` or ``road_nodes`` (:mod:`gridgis.schemas.placement`). A bad
or unknown parameter answers 422 naming it, an unknown street 404.

Access: a signed-in user (401 otherwise). A street office is kept to its own
street (no ``street`` means its own; another street answers 403) and sees
only its own street's facilities, though those just outside still count in
its coverage.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
from flask import Blueprint, Response, current_app

from gridgis.analysis import network as net_mod
from gridgis.analysis.placement import (
    Coverage,
    PlacementData,
    read_placement_data,
    suggest_sites,
    walking_coverage,
)
from gridgis.schemas.placement import (
    COVERAGE_COLLECTION,
    DEFAULT_K,
    DEFAULT_MINUTES,
    MAX_K,
    SITES_COLLECTION,
    CoverageQuery,
    PlacementQuery,
    SuggestQuery,
)
from gridgis.web.auth import policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.geojson import GEOJSON_MIMETYPE, feature_collection, feature_texts

__all__ = ["DEFAULT_K", "DEFAULT_MINUTES", "MAX_K", "bp"]

bp = Blueprint("placement_api", __name__, url_prefix="/api/placement")


_MARGIN_EXTRA = 2 * net_mod.DEFAULT_SNAP_LIMIT + 200.0
"""Metres beyond the walking distance within which facilities and roads are read."""


def _scoped(query: PlacementQuery) -> tuple[str | None, bool]:
    """The street to read (a street office: its own) and whether the user is kept to it."""
    rules = policy()
    return rules.street_filter(query.street), rules.street is not None


@endpoint(
    bp,
    "/coverage.geojson",
    operation_id="placementCoverage",
    tags=("maps",),
    query=CoverageQuery,
    replies=(
        Reply(
            200,
            description="The coverage.",
            media_type=GEOJSON_MIMETYPE,
            schema=COVERAGE_COLLECTION,
        ),
    ),
    errors=(404,),
)
def coverage(*, query: CoverageQuery) -> Response:
    """Walking coverage of party branches and service centres / stations.

    Features with ``role`` cell, service_area or facility; a foreign member
    ``summary`` holds the figures.
    """
    street, scoped = _scoped(query)
    data = _read(query, street)
    summary = _summary_head(query, street, data)
    if data.buildings.empty and data.facilities.empty:
        return _geojson([], summary=summary | {"households": 0, "households_covered": 0})
    cov = walking_coverage(
        data.facilities,
        data.buildings,
        data.roads,
        cells=data.cells,
        distance=query.distance,
        threshold=query.threshold / 100.0,
    )
    # A street office sees its own street's facilities; those just outside still count.
    shown = cov.facilities["in_area"].to_numpy(dtype=bool) if scoped else None
    features = (
        _cell_features(cov, query.cell_geometry)
        + _area_features(cov, shown)
        + _facility_features(cov, shown)
    )
    summary |= cov.summary
    summary["facilities_outside_shown"] = not scoped
    if cov.cells is not None:
        summary["cells_not_covered_codes"] = [
            str(c) for c in cov.cells.loc[~cov.cells["covered"], "code"]
        ]
    return _geojson(features, summary=summary)


@endpoint(
    bp,
    "/suggest",
    operation_id="placementSuggest",
    tags=("maps",),
    query=SuggestQuery,
    replies=(
        Reply(200, description="The sites.", media_type=GEOJSON_MIMETYPE, schema=SITES_COLLECTION),
    ),
    errors=(404,),
)
def suggest(*, query: SuggestQuery) -> Response:
    """Where ``k`` new sites would cover the most households not yet covered.

    MILP (HiGHS): features with ``role`` site; a foreign member ``solution``.
    """
    street, _ = _scoped(query)
    data = _read(query, street)
    head = _summary_head(query, street, data) | {"k": query.k, "candidates": query.candidates}
    if data.buildings.empty and data.facilities.empty:
        return _geojson([], solution=head | {"sites": 0, "summary": "nothing stored here"})
    time_limit = float(current_app.config["PLACEMENT_TIME_LIMIT"])
    plan = suggest_sites(
        data.facilities,
        data.buildings,
        data.roads,
        cells=data.cells,
        k=query.k,
        distance=query.distance,
        threshold=query.threshold / 100.0,
        candidates=query.candidates,
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


# --- answers ------------------------------------------------------------------------------------


def _read(query: PlacementQuery, street: str | None) -> PlacementData:
    with get_engine().connect() as conn:
        return read_placement_data(
            conn,
            street=street,
            kinds=query.facility_kinds(),
            margin=query.distance + _MARGIN_EXTRA,
        )


def _summary_head(query: PlacementQuery, street: str | None, data: PlacementData) -> dict[str, Any]:
    return {
        "street": street,
        "street_name": data.street_name,
        "minutes": query.minutes,
        "distance_m": query.distance,
        "threshold": query.threshold / 100.0,
        "kinds": list(query.facility_kinds()),
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
