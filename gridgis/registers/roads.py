"""Importing roads and barriers (railways, rivers, walls) that cells follow, row by row.

One row per line: its id (编号, 道路编号), name (名称, 道路名称, 路名), kind (类型,
道路类型, 道路等级: ``arterial``, ``local``... or 主干路, 支路, 铁路, 河流, 围墙 …, see
:data:`gridgis.db.roads.ROAD_KIND_NAMES`; blank: ``default_kind``) and the line: the
feature's geometry (GeoPackage, GeoJSON, shapefile) or a ``wkt`` column (CSV, Excel), in
any CRS gridgis knows. Every row is reported as the registers' are
(:mod:`gridgis.registers.report`): a row that is not a line, has an unknown kind, no id
or the id of another row, or (with ``district``) lies outside the district is rejected
with its number and reason, and the good rows are stored, upserted on their id, in one
transaction. A file without an id column stores every line as a new road.

``replace`` also deletes, in the same transaction, the stored roads of the file's area
that the file no longer carries (:func:`gridgis.db.roads.delete_others`): roads of other
districts are kept.

Examples
--------
>>> report = import_roads(engine, "道路.gpkg", district="211403", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 1212, 'imported': 1210, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 2}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine

from gridgis.codes import check_code
from gridgis.crs import CRSLike, check_lonlat, transform_geometry
from gridgis.db.load import flat_wkb
from gridgis.db.roads import (
    delete_others,
    districts_of,
    in_district,
    road_kind,
    road_kinds_listing,
    stored_roads,
    upsert_roads,
)
from gridgis.errors import InputError
from gridgis.intake.checks import crs_label, source_crs
from gridgis.intake.loading import run_import, say
from gridgis.registers.report import RegisterReport
from gridgis.registers.running import Register, read_register
from gridgis.registers.upsert import changes

__all__ = ["ROAD_FIELDS", "import_roads"]

ROAD_FIELDS: tuple[str, ...] = ("id", "name", "kind", "wkt")
"""The fields of a file of roads (``wkt``: the line of a CSV or Excel row)."""

_LINES = (1, 5)
"""Shapely's type ids of a LineString and a MultiLineString."""


def _lines(
    register: Register, crs: CRSLike | None
) -> tuple[NDArray[np.object_], list[str | None], str]:
    """Each row's line as a WGS84 MultiLineString (``None`` where there is none), why a row
    has none, and the CRS read in."""
    table = register.table
    n = len(register)
    reasons: list[str | None] = [None] * n
    from_wkt = register.columns.get("wkt") is not None
    spec = source_crs(
        {"crs": table.crs.to_string() if table.crs is not None else None},
        crs,
        uses_file_crs=not from_wkt,
    )
    geoms = np.full(n, None, dtype=object)
    if from_wkt:
        text = np.asarray(register.texts("wkt"), dtype=object)
        parsed = np.asarray(shapely.from_wkt(text, on_invalid="ignore"), dtype=object)
        for i in range(n):  # the few rows without a line, worded one by one
            if text[i] is None:
                reasons[i] = "the feature has no geometry"
            elif parsed[i] is None:
                shown = text[i] if len(text[i]) <= 40 else text[i][:40] + "…"
                reasons[i] = f"wkt {shown!r} is not a geometry in WKT"
        geoms = parsed
    elif table.geometry is not None:
        geoms = np.asarray(table.geometry, dtype=object).copy()
        for i in np.flatnonzero(shapely.is_missing(geoms)).tolist():
            reasons[i] = table.invalid_geometry.get(i, "the feature has no geometry")
    else:
        reasons = ["the feature has no geometry"] * n
    present = ~shapely.is_missing(geoms)
    present[present] = ~shapely.is_empty(geoms[present])
    for i in np.flatnonzero(~present & ~shapely.is_missing(geoms)).tolist():
        reasons[i] = "the feature has no geometry"
    type_id = np.full(n, -1)
    type_id[present] = shapely.get_type_id(geoms[present])
    line = np.isin(type_id, _LINES)
    for i in np.flatnonzero(present & ~line).tolist():
        reasons[i] = f"the geometry is a {geoms[i].geom_type}, not a line"
    out = np.full(n, None, dtype=object)
    if line.any():
        out[line] = transform_geometry(shapely.force_2d(geoms[line]), from_crs=spec, to_crs="wgs84")
        probe = shapely.get_point(shapely.get_geometry(out[line], 0), 0)
        flags = check_lonlat(shapely.get_x(probe), shapely.get_y(probe))
        positions = np.flatnonzero(line)
        for j in np.flatnonzero(flags != "ok").tolist():
            i = int(positions[j])
            x, y = float(shapely.get_x(probe[j])), float(shapely.get_y(probe[j]))
            where = "outside China" if flags[j] == "outside_china" else "not a longitude/latitude"
            reasons[i] = f"the coordinates ({x:.10g}, {y:.10g}) are {where} (as {spec.name})"
            out[i] = None
        for i in positions.tolist():
            if out[i] is not None and not shapely.is_valid(out[i]):
                reasons[i] = f"invalid geometry: {shapely.is_valid_reason(out[i])}"
                out[i] = None
    multi = ~shapely.is_missing(out)
    single = multi & (shapely.get_type_id(out) == 1)
    out[single] = [shapely.MultiLineString([g]) for g in out[single]]
    return out, reasons, crs_label(spec)


def import_roads(
    engine: Engine | Connection,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    kind_field: str | None = None,
    wkt_field: str | None = None,
    default_kind: str = "local",
    district: str | None = None,
    replace: bool = False,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a file of roads and barriers, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database; or a connection in a transaction of the caller's (the demo's
        load): the import then runs in a savepoint of it, and the caller commits.
    path:
        GeoPackage, GeoJSON, shapefile (zipped or not), or CSV/Excel with a ``wkt`` column.
    crs:
        The system of the coordinates; default the vector file's own, else ``wgs84``.
    id_field, name_field, kind_field, wkt_field:
        The column of each field, when its header is not one gridgis knows (编号, 道路名称,
        类型, wkt...). With an id column a line whose id is stored already updates that
        road (or leaves it, when kind, name and line are the same): importing a file twice
        changes nothing. Without one every line is a new road.
    default_kind:
        The kind of rows with a blank kind, or of every row when the file has none.
    district:
        The district (6-digit code, outline stored) the file is for: a line that does not
        run into its outline is rejected, and ``replace`` is limited to it.
    replace:
        Also delete the stored roads of the file's area that the file does not carry (by
        id): those that run into the outline of ``district`` (one crossing its edge
        counts, one that only touches it does not), or without ``district``, into the
        outline of any stored district one of the file's lines runs into. The deleted
        roads are named in the report's notes and counted in the audit row.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row ``import`` (object type ``road``) with the counts.

    Returns
    -------
    RegisterReport
        A row per line; an extra column ``kind`` (the code stored).

    Raises
    ------
    InputError, NotFoundError
        When the file cannot be read, a named column is not in it, ``default_kind`` is not
        a kind, or ``district`` is not a code or has no outline stored; nothing is stored.
    """
    if district is not None:
        check_code(district, "district")
    fallback = road_kind(default_kind)
    if fallback is None:
        raise InputError(
            f"`default_kind` was {default_kind!r} but is expected to be one of "
            f"{road_kinds_listing()}",
            zh=f"`default_kind` 为 {default_kind!r}，应为以下之一：{road_kinds_listing()}",
        )
    say(progress, f"reading {path}")
    given = {"id": id_field, "name": name_field, "kind": kind_field, "wkt": wkt_field}
    register = read_register(
        path, ROAD_FIELDS, given=given, required=(), encoding=encoding, sheet=sheet, layer=layer
    )
    lines, line_reasons, crs_name = _lines(register, crs)
    has_ids = register.columns.get("id") is not None
    deleted: list[str] = []

    def body(conn: Connection) -> tuple[RegisterReport, dict[str, object]]:
        say(progress, f"checking {len(register)} roads")
        outcomes = register.outcomes()
        ids, names, kinds_given = (
            register.texts("id"), register.texts("name"), register.texts("kind")
        )  # fmt: skip
        id_reasons = register.id_problems() if has_ids else [None] * len(register)
        kinds = [fallback if k is None else road_kind(k) for k in kinds_given]
        for i in range(len(register)):  # wording per row; the checks are dictionary ones
            problems = [id_reasons[i], line_reasons[i]]
            if kinds[i] is None:
                problems.append(f"unknown kind {kinds_given[i]!r} (known: {road_kinds_listing()})")
            if any(v is not None and "\x00" in v for v in (ids[i], names[i], kinds_given[i])):
                problems.append("text with a NUL character (U+0000)")
            if any(problems):
                outcomes.reject([i], "; ".join(p for p in problems if p))
        if district is not None:
            todo = np.flatnonzero(outcomes.pending)
            inside = in_district(conn, district, lines[todo])
            outcomes.reject(
                todo[~inside], f"the line does not run into district {district}'s outline"
            )
        todo = np.flatnonzero(outcomes.pending)
        say(progress, f"storing {todo.size} roads")
        stored = stored_roads(conn, [str(ids[i]) for i in todo if ids[i] is not None])
        writes: list[dict[str, Any]] = []
        for i in todo.tolist():
            before = stored.get(str(ids[i])) if ids[i] is not None else None
            if before is None:
                outcomes.set([i], "imported")
            else:
                words = changes({"kind": before[0], "name": before[1]},
                                {"kind": kinds[i], "name": names[i]})  # fmt: skip
                if not shapely.equals_exact(before[2], lines[i], tolerance=0):
                    words.append("line")
                if not words:
                    outcomes.set([i], "unchanged")
                    continue
                outcomes.changes[i] = "; ".join(words)
                outcomes.set([i], "updated")
            writes.append({"external_id": ids[i], "kind": kinds[i], "name": names[i],
                           "wkb": flat_wkb(lines[i])})  # fmt: skip
        if replace:
            accepted = [lines[i] for i in np.flatnonzero(outcomes.outcome != "rejected")]
            area = [district] if district is not None else districts_of(conn, accepted)
            # Ids the file carries, even on rejected rows: their roads are not dropped.
            deleted[:] = delete_others(conn, area, [str(v) for v in ids if v is not None])
        upsert_roads(conn, writes)
        outcomes.add_column("kind", np.asarray(kinds, dtype=object))
        notes = [f"columns not read: {', '.join(register.columns.unused)}"] * bool(
            register.columns.unused
        )
        if replace:
            listed = ", ".join(deleted[:20]) + (" …" if len(deleted) > 20 else "")
            notes.append(
                f"replace: {len(deleted)} stored roads of {', '.join(area) or 'no district'} "
                "the file no longer carries deleted" + (f" ({listed})" if deleted else "")
            )
        report = RegisterReport(
            "roads",
            register.table.path,
            outcomes.frame(),
            numbering=register.table.numbering,
            encoding=register.table.encoding,
            crs=crs_name,
            notes=notes,
            shapes=lines,
        )
        summary: dict[str, object] = {"dry_run": dry_run, "district": district}
        summary["deleted"] = len(deleted)
        return report, summary | report.counts

    report = run_import(
        engine, "roads", register.table.path.name, body, dry_run=dry_run, actor=actor
    )
    report.committed = not dry_run
    return report
