"""Reading what :func:`gridgis.export.export` writes from the database.

Cells, cases, inspections (points and tracks) and statistics of a district,
street office or community and period, each as ``_Layer`` tables in WGS84.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import ColumnElement, Connection, Select, func, select

from gridgis.analysis.figures import area_figures
from gridgis.analysis.stats import area_geometries, area_prefix, area_statistics
from gridgis.cases import is_closed_late, is_overdue, period_clauses
from gridgis.cases.records import case_conditions
from gridgis.db.layout import cell_estimated_households
from gridgis.db.models import (
    CASE_STEP_NAMES_ZH,
    Case,
    CaseCategory,
    GridCell,
    GridWorker,
    Inspection,
    InspectionCell,
)
from gridgis.export.layers import _STEP_LABELS, _Layer


def _rows_and_shapes(
    conn: Connection, query: Select[*tuple[Any, ...]]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows of ``query`` as an object frame, and the shapes of its last column (WKB)."""
    result = conn.execute(query)
    columns = list(result.keys())
    rows = result.all()
    frame = pd.DataFrame([tuple(r[:-1]) for r in rows], columns=columns[:-1], dtype=object)
    wkb = np.array([r[-1] for r in rows], dtype=object)
    return frame, np.asarray(shapely.from_wkb(wkb), dtype=object)


def _times(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _read_cells(conn: Connection, within: str | None) -> list[_Layer]:
    areas = area_geometries(conn, "cell", within=within)
    figures = area_figures(conn, "cell", within=within, detail=True).set_index("code")
    figures = figures.reindex(areas["code"])
    frame = pd.DataFrame(areas.drop(columns="geometry"))
    for column in ("households", "residents", "buildings", "workers"):
        frame[column] = figures[column].to_numpy()
    # How much of each cell's count is estimated (gridgis import buildings --estimate-households).
    estimated = cell_estimated_households(conn, within)
    guessed = frame["code"].map(estimated).fillna(0).astype("int64")
    households = frame["households"].astype("float64")
    share = np.where(
        households > 0, np.minimum(guessed / households.where(households > 0), 1), np.nan
    )
    at = list(frame.columns).index("households") + 1
    frame.insert(at, "households_estimated", guessed.to_numpy())
    frame.insert(at + 1, "estimated_share", np.round(share.astype("float64"), 3))
    frame["has_worker"] = frame["workers"] > 0
    frame["branches"] = figures["branches"].to_numpy()
    frame["has_branch"] = frame["branches"] > 0
    _times(frame, ["valid_from"])
    geoms = np.asarray(areas.geometry.array, dtype=object)
    return [_Layer("cells", frame.reset_index(drop=True), geoms, "MultiPolygon")]


_STEP_TIMES = tuple(f"{step}_at" for step in _STEP_LABELS)


def _read_cases(
    conn: Connection, where: list[ColumnElement[bool]], now: dt.datetime
) -> list[_Layer]:
    query = (
        select(
            Case.id,
            Case.external_id,
            Case.category_code.label("category"),
            CaseCategory.name_zh.label("category_name"),
            Case.description,
            Case.source,
            Case.address,
            GridCell.code.label("cell_code"),
            Case.community_code,
            Case.street_code,
            Case.step,
            is_overdue(now).label("overdue"),
            is_closed_late().label("closed_late"),
            Case.deadline,
            *(getattr(Case, column) for column in _STEP_TIMES),
            Case.located_by,
            func.ST_AsBinary(Case.geom).label("wkb"),
        )
        .join_from(Case, CaseCategory, CaseCategory.code == Case.category_code)
        .outerjoin(GridCell, GridCell.id == Case.cell_id)
        .where(*where)
        .order_by(Case.id)
    )
    frame, geoms = _rows_and_shapes(conn, query)
    frame["id"] = frame["id"].astype("int64")
    frame["overdue"] = frame["overdue"].astype(bool)
    frame["closed_late"] = frame["closed_late"].astype(bool)
    frame.insert(
        list(frame.columns).index("step") + 1,
        "step_name",
        frame["step"].map(CASE_STEP_NAMES_ZH),
    )
    _times(frame, ["deadline", *_STEP_TIMES])
    return [_Layer("cases", frame, geoms, "Point")]


def _read_inspections(conn: Connection, where: list[ColumnElement[bool]]) -> list[_Layer]:
    cells = (
        select(func.count())
        .select_from(InspectionCell)
        .where(InspectionCell.inspection_id == Inspection.id)
        .scalar_subquery()
    )
    query = (
        select(
            Inspection.id,
            Inspection.external_id,
            Inspection.worker_id,
            GridWorker.name.label("worker"),
            Inspection.started_at,
            Inspection.ended_at,
            Inspection.located_by,
            cells.label("cells"),
            func.ST_AsBinary(Inspection.geom).label("wkb"),
        )
        .outerjoin(GridWorker, GridWorker.id == Inspection.worker_id)
        .where(*where)
        .order_by(Inspection.id)
    )
    frame, geoms = _rows_and_shapes(conn, query)
    frame["id"] = frame["id"].astype("int64")
    frame["worker_id"] = frame["worker_id"].astype("Int64")
    frame["cells"] = frame["cells"].astype("int64")
    _times(frame, ["started_at", "ended_at"])
    kinds = shapely.get_type_id(geoms)
    points = kinds == shapely.GeometryType.POINT
    tracks = ~points
    # A track layer holds one type: LineStrings become one-part MultiLineStrings.
    lines = np.asarray(
        [g if isinstance(g, shapely.MultiLineString) else shapely.MultiLineString([g])
         for g in geoms[tracks]],
        dtype=object,
    )  # fmt: skip
    return [
        _Layer("inspection_points", frame[points].reset_index(drop=True), geoms[points], "Point"),
        _Layer("inspection_tracks", frame[tracks].reset_index(drop=True), lines, "MultiLineString"),
    ]


def _read_stats(conn: Connection, level: str, **options: Any) -> list[_Layer]:
    stats = area_statistics(conn, level, **options)
    frame = pd.DataFrame(stats.drop(columns="geometry")).reset_index(drop=True)
    geoms = np.asarray(stats.geometry.array, dtype=object)
    descriptions: dict[str, str] = {}
    names = {
        row.code: row.name_zh
        for row in conn.execute(select(CaseCategory.code, CaseCategory.name_zh))
    }
    for column in frame.columns:
        if column.startswith("cases_"):
            code = column.removeprefix("cases_")
            descriptions[column] = f"{names.get(code, code)}案件数 / cases of category {code}"
    return [_Layer(f"stats_{level}", frame, geoms, "MultiPolygon", descriptions)]


def _read(
    conn: Connection,
    what: str,
    *,
    district: str | None,
    street: str | None,
    community: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    level: str,
    now: dt.datetime,
    case_filter: Mapping[str, Any] | None = None,
) -> list[_Layer]:
    within = area_prefix(conn, street, community, district=district)
    if what == "cells":
        return _read_cells(conn, within)
    if what == "stats":
        return _read_stats(
            conn,
            level,
            district=district,
            street=street,
            community=community,
            since=since,
            until=until,
            now=now,
        )
    if what == "cases":
        where = period_clauses(Case.reported_at, since, until)
        if within is not None:
            # A case carries the codes of its community and street: the finest the
            # prefix names decides, by equality (their indexes serve) when the prefix
            # is a whole code of that column, by prefix for a district's streets.
            column = Case.community_code if len(within) == 12 else Case.street_code
            if len(within) in (9, 12):
                where.append(column == within)
            else:
                where.append(column.like(within + "%"))
        if case_filter:
            where += case_conditions(conn, {**case_filter})
        return _read_cases(conn, where, now)
    where = period_clauses(Inspection.started_at, since, until)
    if within is not None:
        where.append(
            select(InspectionCell.cell_id)
            .join(GridCell, GridCell.id == InspectionCell.cell_id)
            .where(InspectionCell.inspection_id == Inspection.id, GridCell.code.like(within + "%"))
            .exists()
        )
    return _read_inspections(conn, where)
