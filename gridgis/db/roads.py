"""Storing a district's roads and barriers from a file: upserted on their id, all or nothing.

:func:`import_roads` checks every line first (a line, of a known kind, with an id
of its own when the file has ids) and refuses the whole file with each rejected
row's number and reason, or stores it in one transaction (a savepoint of the
caller's when given a connection). Lines with an id are upserted on it (the road's
``external_id``): a second import of the same file changes nothing and says so.
``replace`` deletes only the roads of the area the file covers, never another
district's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, Text, any_, delete, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from gridgis import audit
from gridgis.codes import check_code
from gridgis.db.load import BoundaryImportError, ImportReport, flat_wkb, geometry_from_wkb
from gridgis.db.models import ROAD_KINDS, SRID, District, Road
from gridgis.errors import InputError, NotFoundError, Problem

__all__ = ["ROAD_KIND_NAMES", "import_roads"]

ROAD_KIND_NAMES: dict[str, str] = {
    "主干路": "arterial", "主干道": "arterial", "快速路": "arterial", "干道": "arterial",
    "次干路": "secondary", "次干道": "secondary",
    "支路": "local", "街巷": "local", "小区道路": "local", "巷道": "local",
    "步行道": "path", "人行道": "path", "小路": "path", "绿道": "path",
    "铁路": "railway", "轨道": "railway",
    "河流": "river", "河道": "river", "水系": "river", "沟渠": "river",
    "围墙": "wall", "墙": "wall",
    "其他": "other", "其它": "other",
}  # fmt: skip
"""Road kinds as district files name them in Chinese, each with its code."""
_FIRST_NAMES = tuple(
    next(name for name, code in ROAD_KIND_NAMES.items() if code == kind) for kind in ROAD_KINDS
)
"""The first Chinese name of each code, in the codes' order (for messages)."""


@dataclass(frozen=True)
class _Line:
    """A row of the file that can be stored."""

    row: int
    external_id: str | None
    kind: str
    name: str | None
    line: shapely.Geometry


@contextmanager
def _transaction(engine: Engine | Connection) -> Iterator[Connection]:
    """A transaction of its own on ``engine``, or a savepoint of the caller's on a connection
    (released at the end, rolled back on failure; the caller commits)."""
    if isinstance(engine, Connection):
        with engine.begin_nested() if engine.in_transaction() else engine.begin():
            yield engine
        return
    with engine.begin() as conn:
        yield conn


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():  # an integer id read as a float
        text = text[:-2]
    return text or None


def _check_rows(
    frame: gpd.GeoDataFrame,
    *,
    id_field: str | None,
    kind_field: str | None,
    name_field: str | None,
    default_kind: str,
) -> tuple[list[_Line], list[Problem]]:
    """The rows to store (``external_id``, ``kind``, ``name``, ``line``) and the rejected ones."""
    for option, column in (("id_field", id_field), ("kind_field", kind_field),
                           ("name_field", name_field)):  # fmt: skip
        if column is not None and column not in frame.columns:
            fields = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
            raise NotFoundError(f"`{option}` was {column!r} but the file's fields are: {fields}")
    n = len(frame)
    ids = [_text(v) for v in frame[id_field]] if id_field else [None] * n
    kinds = frame[kind_field].tolist() if kind_field else [default_kind] * n
    names = [_text(v) for v in frame[name_field]] if name_field else [None] * n
    rows_of: dict[str, list[int]] = defaultdict(list)
    for row, external_id in enumerate(ids, start=1):
        if external_id is not None:
            rows_of[external_id].append(row)
    rows: list[_Line] = []
    rejected: list[Problem] = []
    # One row at a time: each row's reasons are worded for it (a few thousand lines).
    for row, (geom, kind, name, external_id) in enumerate(
        zip(frame.geometry, kinds, names, ids, strict=True), start=1
    ):
        given = (_text(kind) or default_kind).strip()
        kind = ROAD_KIND_NAMES.get(given, given.lower())
        reasons = []
        if geom is None or geom.is_empty:
            reasons.append("geometry is empty, not a line")
        elif geom.geom_type not in ("LineString", "MultiLineString"):
            reasons.append(f"geometry is a {geom.geom_type}, not a line")
        elif not shapely.is_valid(geom):
            reasons.append(f"geometry is invalid ({shapely.is_valid_reason(geom)})")
        if kind not in ROAD_KINDS:
            reasons.append(
                f"kind {given!r} is not one of {', '.join(ROAD_KINDS)} ({'、'.join(_FIRST_NAMES)})"
            )
        if id_field is not None and external_id is None:
            reasons.append(f"no id in field {id_field!r}")
        elif external_id is not None and len(rows_of[external_id]) > 1:
            others = ", ".join(str(r) for r in rows_of[external_id])
            reasons.append(f"id {external_id!r} is used by rows {others} of the file")
        if reasons:
            rejected.append(Problem(row, external_id, "; ".join(reasons)))
            continue
        line = geom if geom.geom_type == "MultiLineString" else shapely.MultiLineString([geom])
        rows.append(_Line(row, external_id, kind, name, line))
    return rows, rejected


def _districts_of(conn: Connection, lines: list[shapely.Geometry]) -> list[str]:
    """The stored districts whose outline any of ``lines`` runs into (in one query)."""
    if not lines:
        return []
    everything = shapely.MultiLineString(
        [part for line in lines for part in shapely.get_parts(line)]
    )
    area = func.ST_GeomFromWKB(literal(flat_wkb(everything)), SRID)
    found = conn.execute(
        select(District.code)
        .where(
            District.geom.is_not(None),
            func.ST_Intersects(District.geom, area),
            not_(func.ST_Touches(District.geom, area)),
        )
        .order_by(District.code)
    )
    return list(found.scalars())


def import_roads(
    engine: Engine | Connection,
    frame: gpd.GeoDataFrame,
    *,
    id_field: str | None = None,
    kind_field: str | None = None,
    name_field: str | None = None,
    default_kind: str = "local",
    district: str | None = None,
    replace: bool = False,
    source: str | None = None,
    actor: str,
) -> ImportReport:
    """Store roads and barriers (lines, EPSG:4326), all or nothing, upserted on their id.

    Parameters
    ----------
    engine:
        The database; or a connection in a transaction of the caller's (the demo's
        load): the import then runs in a savepoint of it, and the caller commits.
    frame:
        Lines in EPSG:4326 (use :func:`gridgis.crs.to_wgs84_frame` first).
    id_field:
        Field with each line's id, stored as the road's external id: a line whose id
        is stored already updates that road (or leaves it, when kind, name and line
        are the same), so importing a file twice changes nothing. Without it every
        line is a new road.
    kind_field, name_field:
        Fields with the kind (``arterial``, ``local``, ``railway``, ``river``,
        ``wall`` ... see :data:`gridgis.db.models.ROAD_KINDS`, or their Chinese names
        主干路, 支路, 铁路, 河流, 围墙 … of :data:`ROAD_KIND_NAMES`) and the name.
    default_kind:
        Kind of rows without a kind field or with a blank kind.
    district:
        The district (6-digit code, outline stored) the file is for: a line that
        does not run into its outline is rejected, and ``replace`` is limited to it.
    replace:
        Delete, in the same transaction, the stored roads of the file's area that the
        file does not carry (by id): those that run into the outline of ``district``
        (a road crossing its edge counts, one that only touches it does not), or
        without ``district``, into the outline of any stored district one of the
        file's lines runs into. Roads of other districts, and roads outside every
        stored outline, are kept. The deleted roads are in ``retired`` (their external
        id, else ``#<id>``).
    source:
        The file's name, for the audit row.
    actor:
        Who imports: one audit row ``import`` (object type ``road``) with the counts,
        not one per road.

    Returns
    -------
    ImportReport
        ``inserted``, ``updated``, ``unchanged``: the rows' ids (their row number for
        rows without one); ``retired``: the roads ``replace`` deleted.

    Raises
    ------
    BoundaryImportError
        When a row is not a valid line, has an unknown kind, no id or the id of
        another row (with ``id_field``), or lies outside ``district``; every such row
        is in the error's report with its number and reason, and nothing is stored.
    InputError, NotFoundError
        When ``frame`` is not in EPSG:4326, a field is not in it, or ``district`` is
        not a code or has no outline stored.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> from gridgis.io import read_vector
    >>> roads = read_vector("道路.gpkg")  # doctest: +SKIP
    >>> import_roads(get_engine(), roads, id_field="编号", kind_field="类型",
    ...              district="211403", actor="cli:admin").lines()[0]  # doctest: +SKIP
    'road: 1,212 features read; 1,212 new, 0 changed, 0 unchanged, 0 rejected'
    """
    report = ImportReport(level="road", rows_read=len(frame))
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise InputError(f"roads must be in EPSG:4326 to be stored, not {frame.crs}")
    if district is not None:
        check_code(district, "district")
    rows, report.rejected = _check_rows(
        frame, id_field=id_field, kind_field=kind_field, name_field=name_field,
        default_kind=default_kind,
    )  # fmt: skip
    if report.rejected:
        raise BoundaryImportError(
            f"{len(report.rejected)} of {report.rows_read} roads were rejected; "
            "nothing was imported",
            report,
        )
    lines = [r.line for r in rows]
    with _transaction(engine) as conn:
        if district is not None:
            _check_in_district(conn, district, rows, report)
        ids = [r.external_id for r in rows if r.external_id is not None]
        stored = _stored(conn, ids)
        writes = []
        for r in rows:
            key = r.external_id or str(r.row)
            before = stored.get(r.external_id) if r.external_id is not None else None
            if before is None:
                report.inserted.append(key)
            elif before[:2] == (r.kind, r.name) and shapely.equals_exact(
                before[2], r.line, tolerance=0
            ):
                report.unchanged.append(key)
                continue
            else:
                report.updated.append(key)
            writes.append({"external_id": r.external_id, "kind": r.kind,
                           "name": r.name, "wkb": flat_wkb(r.line)})  # fmt: skip
        if replace:
            area = [district] if district is not None else _districts_of(conn, lines)
            report.retired = _delete_others(conn, area, ids)
        if writes:
            statement = pg_insert(Road).values(geom=geometry_from_wkb())
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[Road.external_id],
                    set_={
                        "kind": statement.excluded.kind,
                        "name": statement.excluded.name,
                        "geom": statement.excluded.geom,
                    },
                ),
                writes,
            )
        audit.record(
            conn,
            actor=actor,
            action="import",
            object_type="road",
            object_id=None,
            after={
                "file": source,
                "district": district,
                "read": report.rows_read,
                "imported": len(report.inserted),
                "updated": len(report.updated),
                "unchanged": len(report.unchanged),
                "deleted": len(report.retired),
            },
        )
    report.committed = True
    return report


def _check_in_district(
    conn: Connection, district: str, rows: list[_Line], report: ImportReport
) -> None:
    """Reject (and refuse the import for) the rows whose line does not run into ``district``."""
    wkb = conn.execute(
        select(func.ST_AsBinary(District.geom)).where(
            District.code == district, District.geom.is_not(None)
        )
    ).scalar()
    if wkb is None:
        raise NotFoundError(
            f"`district` was {district!r} but no outline of it is stored "
            "(gridgis import boundaries --level district)"
        )
    outline = shapely.from_wkb(bytes(wkb))
    shapely.prepare(outline)
    lines = np.array([r.line for r in rows], dtype=object)
    inside = shapely.intersects(outline, lines) & ~shapely.touches(outline, lines)
    report.rejected = [
        Problem(
            r.row,
            r.external_id,
            f"the line does not run into district {district}'s outline",
        )
        for r, ok in zip(rows, inside, strict=True)
        if not ok
    ]
    if report.rejected:
        raise BoundaryImportError(
            f"{len(report.rejected)} of {report.rows_read} roads were rejected; "
            "nothing was imported",
            report,
        )


def _stored(
    conn: Connection, ids: list[str]
) -> dict[str, tuple[str, str | None, shapely.Geometry]]:
    """Kind, name and line of the stored roads of ``ids``, by external id."""
    if not ids:
        return {}
    found = conn.execute(
        select(Road.external_id, Road.kind, Road.name, func.ST_AsBinary(Road.geom)).where(
            Road.external_id == any_(literal(ids, ARRAY(Text)))
        )
    )
    return {str(e): (k, n, shapely.from_wkb(bytes(g))) for e, k, n, g in found}


def _delete_others(conn: Connection, districts: list[str], keep: list[str]) -> list[str]:
    """Delete the roads that run into the outline of one of ``districts`` (touching its edge
    is not enough) and whose external id is not in ``keep``; their ids (``#<id>`` for
    roads without an external id)."""
    if not districts:
        return []
    outline = aliased(District)
    in_area = (
        select(literal(1))
        .select_from(outline)
        .where(
            outline.code.in_(districts),
            func.ST_Intersects(Road.geom, outline.geom),
            not_(func.ST_Touches(Road.geom, outline.geom)),
        )
        .exists()
    )
    others = or_(
        Road.external_id.is_(None), not_(Road.external_id == any_(literal(keep, ARRAY(Text))))
    )
    deleted = conn.execute(delete(Road).where(in_area, others).returning(Road.id, Road.external_id))
    return sorted(e if e is not None else f"#{i}" for i, e in deleted)
