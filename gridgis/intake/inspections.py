"""Importing inspections: points or GPS tracks, and the cells each one passes through."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, select

from gridgis.crs import CRSLike, CRSSpec, check_lonlat, transform_geometry
from gridgis.db.models import GridWorker, Inspection
from gridgis.db.queries import result_frame
from gridgis.intake.checks import (
    _compact_rows,
    _coordinate_reason,
    _join,
    _lonlat,
    _nul_problems,
    _numbers,
    _points,
    _times,
    id_problems,
    source_crs,
)
from gridgis.intake.fields import _point_xy, as_text, read_inspection_rows
from gridgis.intake.loading import _DUPLICATE_NOTE, Database, _duplicates, _run_import, say
from gridgis.intake.readers import _blank
from gridgis.intake.report import IntakeReport
from gridgis.times import DEFAULT_TIMEZONE, time_zone

_MAX_LISTED = 5


@dataclass
class _Units:
    """Inspections to be: one per feature/row, or one per track of GPS fixes."""

    external_id: list[str | None]
    worker: list[str | None]
    started_at: pd.Series
    ended_at: pd.Series
    geometry: NDArray[np.object_]  # WGS84, None when it cannot be built
    rows: list[list[int]]
    reason: list[str | None]
    note: list[str | None]
    repeated: NDArray[np.bool_]


def _load_workers(conn: Connection) -> pd.DataFrame:
    return result_frame(
        conn.execute(select(GridWorker.id, GridWorker.external_id, GridWorker.name))
    )


def _worker_ids(
    names: Sequence[str | None], workers: pd.DataFrame
) -> tuple[list[int | None], list[str | None]]:
    """Worker ids by external id, else by name; a reason when unknown or ambiguous."""
    by_external = dict(zip(workers["external_id"], workers["id"], strict=True))
    by_name = workers.groupby("name")["id"].agg(list).to_dict()
    ids: list[int | None] = []
    reasons: list[str | None] = []
    for name in names:  # one dictionary lookup per inspection
        reason = None
        found: int | None = None
        if name is None:
            pass
        elif name in by_external:
            found = int(by_external[name])
        elif len(by_name.get(name, [])) == 1:
            found = int(by_name[name][0])
        elif name in by_name:
            reason = (
                f"worker name {name!r} is shared by {len(by_name[name])} grid workers: "
                "give the worker's external id"
            )
        else:
            reason = f"unknown worker {name!r} (neither a worker's external id nor a name)"
        ids.append(found)
        reasons.append(reason)
    return ids, reasons


_VERTEX_PROBLEMS = {
    "swapped": "longitude and latitude look swapped",
    "outside_china": "it is outside China",
    "invalid": "it is not a longitude/latitude",
}


def _bad_vertices(geoms: NDArray[np.object_]) -> list[str | None]:
    """Per geometry (WGS84): why its vertices are not lon/lat in China, if they are not."""
    reasons: list[str | None] = [None] * len(geoms)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return reasons
    coords, owner = shapely.get_coordinates(geoms[present], return_index=True)
    flags = check_lonlat(coords[:, 0], coords[:, 1])
    seen: set[int] = set()
    for k in np.flatnonzero(flags != "ok"):  # the first bad vertex of a geometry says enough
        g = int(present[owner[k]])
        if g not in seen:
            seen.add(g)
            lon, lat = coords[k]
            problem = _VERTEX_PROBLEMS[str(flags[k])]
            reasons[g] = f"point ({lon:.10g}, {lat:.10g}) is unusable: {problem}"
    return reasons


def _line_or_point(coords: NDArray[np.float64]) -> Any:
    """A track through ``coords``; a point when they are all the same place; None for none."""
    if len(coords) == 0:
        return None
    if len(np.unique(coords, axis=0)) < 2:
        return shapely.Point(coords[0])
    return shapely.LineString(coords)


def _usable_track(geom: Any) -> Any:
    """A storable line or multi-line for a non-point geometry, or None when it is no track."""
    kind = geom.geom_type
    if kind in ("MultiPoint", "LineString"):
        return _line_or_point(shapely.get_coordinates(geom))
    if kind == "MultiLineString":
        parts = [
            p
            for p in shapely.get_parts(geom)
            if len(np.unique(shapely.get_coordinates(p), axis=0)) >= 2
        ]
        if not parts:
            return _line_or_point(shapely.get_coordinates(geom))
        return parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)
    return None


def _object_array(values: Sequence[Any]) -> NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _end_before_start(started: pd.Series, ended: pd.Series) -> NDArray[np.bool_]:
    both = started.notna() & ended.notna()
    return (both & (ended < started)).to_numpy(dtype=bool)


def _feature_units(
    rows: pd.DataFrame, spec: CRSSpec, *, timezone: str, now: pd.Timestamp
) -> _Units:
    """One inspection per row (CSV point) or feature (its geometry)."""
    n = len(rows)
    started, start_reasons = _times(
        rows, "time", what="start time", required=True, timezone=timezone, now=now
    )
    ended, end_reasons = _times(
        rows, "end_time", what="end time", required=False, timezone=timezone, now=now
    )
    backwards = _end_before_start(started, ended)
    id_reasons, repeated = id_problems(rows)
    geometry = np.full(n, None, dtype=object)
    shape_reasons: list[str | None] = [None] * n
    if rows.attrs.get("geometry"):
        notes_in = rows["location_note"].tolist()
        raw = _object_array(rows["geometry"].tolist())
        present = ~(shapely.is_missing(raw) | shapely.is_empty(raw))
        if present.any():
            geometry[present] = transform_geometry(raw[present], from_crs=spec, to_crs="wgs84")
        type_ids = np.where(present, shapely.get_type_id(geometry), -1)
        # Points and lines of some length are kept as they are (checked at once); a line of
        # one repeated point becomes that point.
        flat = np.flatnonzero(type_ids == 1)
        still = flat[shapely.length(geometry[flat]) == 0]
        if still.size:
            geometry[still] = shapely.get_point(geometry[still], 0)
        # The few other features (multi-points, multi-lines, polygons...) one by one.
        for i in np.flatnonzero((type_ids != 0) & (type_ids != 1)):
            if type_ids[i] == -1:
                shape_reasons[i] = notes_in[i] or "the feature has no geometry"
                continue
            track = _usable_track(geometry[i])
            if track is None:
                shape_reasons[i] = (
                    f"the geometry is a {geometry[i].geom_type}, not a point or a track"
                )
            geometry[i] = track
    else:
        x, y, given, numeric = _numbers(rows["x"], rows["y"])
        geometry = _points(*_lonlat(x, y, numeric, spec))
        raw_x, raw_y = rows["x"].tolist(), rows["y"].tolist()
        for i in np.flatnonzero(~numeric):
            shape_reasons[i] = (
                _coordinate_reason(raw_x[i], raw_y[i]) if given[i] else "no coordinates"
            )
    vertex_reasons = _bad_vertices(geometry)
    nul_reasons = _nul_problems(rows, ("external_id", "worker"))
    times, ends = rows["time"].tolist(), rows["end_time"].tolist()
    reasons = [
        _join(
            id_reasons[i],
            nul_reasons[i],
            start_reasons[i],
            end_reasons[i],
            f"end time {as_text(ends[i])!r} is before the start time {as_text(times[i])!r}"
            if backwards[i]
            else None,
            shape_reasons[i] or vertex_reasons[i],
        )
        for i in range(n)
    ]
    return _Units(
        external_id=rows["external_id"].tolist(),
        worker=rows["worker"].tolist(),
        started_at=started,
        ended_at=ended,
        geometry=geometry,
        rows=[[int(r)] for r in rows["row"]],
        reason=reasons,
        note=[None] * n,
        repeated=repeated,
    )


def _track_units(rows: pd.DataFrame, spec: CRSSpec, *, timezone: str, now: pd.Timestamp) -> _Units:
    """One inspection per track of GPS fixes, ordered by ``order`` (else by time)."""
    n = len(rows)
    times, time_reasons = _times(
        rows, "time", what="time", required=True, timezone=timezone, now=now
    )
    ends, _ = _times(rows, "end_time", what="end time", required=False, timezone=timezone, now=now)
    raw_x, raw_y = rows["x"].tolist(), rows["y"].tolist()
    if rows.attrs.get("geometry"):
        x, y, notes = _point_xy(_object_array(rows["geometry"].tolist()))
        given_notes = rows["location_note"].tolist()
        notes = [g or note for g, note in zip(given_notes, notes, strict=True)]
        given = np.ones(n, dtype=bool)
        numeric = np.isfinite(x) & np.isfinite(y)
    else:
        x, y, given, numeric = _numbers(rows["x"], rows["y"])
        notes = [None] * n
    lon, lat = _lonlat(x, y, numeric, spec)
    flags = check_lonlat(lon, lat)
    order_raw = rows["order"].tolist()
    nul_reasons = _nul_problems(rows, ("track", "worker"))
    has_order = any(not _blank(v) for v in order_raw)
    if has_order:
        order = pd.to_numeric(
            pd.Series([v.strip() if isinstance(v, str) else v for v in order_raw], dtype=object),
            errors="coerce",
        ).to_numpy(dtype=float, na_value=np.nan)
    else:
        order = ((times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
            dtype=float, na_value=np.nan
        )
    fix_reasons: list[str | None] = []
    for i in range(n):  # wording; the checks are vectorised above
        coordinates = None
        if not numeric[i]:
            coordinates = notes[i] or (
                _coordinate_reason(raw_x[i], raw_y[i]) if given[i] else "no coordinates"
            )
        elif flags[i] != "ok":
            coordinates = f"({x[i]:.10g}, {y[i]:.10g}): {_VERTEX_PROBLEMS[str(flags[i])]}"
        ordering = (
            f"order {as_text(order_raw[i])!r} is not a number"
            if has_order and not np.isfinite(order[i])
            else None
        )
        fix_reasons.append(_join(nul_reasons[i], time_reasons[i], coordinates, ordering))
    good = np.array([r is None for r in fix_reasons], dtype=bool)
    tracks = rows["track"]
    workers = rows["worker"].tolist()
    row_numbers = rows["row"].to_numpy()
    external_ids: list[str | None] = []
    unit_workers: list[str | None] = []
    unit_rows: list[list[int]] = []
    reasons: list[str | None] = []
    unit_notes: list[str | None] = []
    started: list[Any] = []
    ended: list[Any] = []
    geometries: list[Any] = []

    def add(
        ident: str | None,
        worker: str | None,
        members: Iterable[int],
        reason: str | None,
        note: str | None,
        geometry: Any,
        start: Any,
        end: Any,
    ) -> None:
        external_ids.append(ident)
        unit_workers.append(worker)
        unit_rows.append([int(row_numbers[m]) for m in members])
        reasons.append(reason)
        unit_notes.append(note)
        geometries.append(geometry)
        started.append(start)
        ended.append(end)

    # Rows without a track id belong to no track: each one is reported on its own.
    for lone in np.flatnonzero(tracks.isna().to_numpy()):
        add(None, workers[lone], [int(lone)], "track id missing", None, None, pd.NaT, pd.NaT)
    with_track = np.flatnonzero(tracks.notna().to_numpy())
    if with_track.size:
        codes, _ = pd.factorize(tracks.iloc[with_track].to_numpy(dtype=object), sort=False)
        sequence = np.lexsort((row_numbers[with_track], order[with_track], codes))
        ordered = with_track[sequence]
        boundaries = np.flatnonzero(np.diff(codes[sequence])) + 1
        # One iteration per track (not per fix) builds its line and words its report line.
        for members in np.split(ordered, boundaries):
            ident = str(tracks.iat[members[0]])
            kept = members[good[members]]
            dropped = members[~good[members]]
            named = sorted({workers[m] for m in members if workers[m] is not None})
            worker = named[0] if len(named) == 1 else None
            note = None
            if dropped.size:
                listed = "; ".join(
                    f"row {row_numbers[d]} {fix_reasons[d]}" for d in dropped[:_MAX_LISTED]
                )
                more = (
                    f"; and {dropped.size - _MAX_LISTED} more" if dropped.size > _MAX_LISTED else ""
                )
                note = f"{dropped.size} of {members.size} fixes left out ({listed}{more})"
            reason = (
                f"the fixes of track {ident!r} name several workers: {', '.join(named)}"
                if len(named) > 1
                else None
            )
            if kept.size == 0:
                reason = _join(reason, f"no usable fix in track {ident!r}", note)
                add(ident, worker, members, reason, None, None, pd.NaT, pd.NaT)
                continue
            add(
                ident,
                worker,
                members,
                reason,
                note,
                _line_or_point(np.column_stack([lon[kept], lat[kept]])),
                times.iloc[kept].min(),
                pd.concat([times.iloc[kept], ends.iloc[kept]]).max(),
            )
    return _Units(
        external_id=external_ids,
        worker=unit_workers,
        started_at=pd.Series(started, dtype="datetime64[us, UTC]"),
        ended_at=pd.Series(ended, dtype="datetime64[us, UTC]"),
        geometry=_object_array(geometries),
        rows=unit_rows,
        reason=reasons,
        note=unit_notes,
        repeated=np.zeros(len(geometries), dtype=bool),
    )


@dataclass(frozen=True)
class _Visits:
    """The cells inspections pass through: one entry per (inspection, cell), sorted."""

    unit: NDArray[np.intp]
    cell_id: NDArray[np.int64]
    code: NDArray[np.str_]
    flag: NDArray[np.object_]
    reason: NDArray[np.object_]

    def per_unit(self) -> NDArray[np.int64]:
        """Start of each inspection's entries (``len(flag) + 1`` offsets)."""
        counts = np.bincount(self.unit, minlength=len(self.flag))
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _cells_of(geoms: NDArray[np.object_], index: Any) -> _Visits:
    """The active cells each geometry (WGS84) passes through; a flag for those in none.

    Points follow :func:`gridgis.geocode.locate` (on a boundary shared by
    several cells: the smallest code); tracks get every cell they intersect
    (one STRtree query for all of them). Entries are sorted by geometry, then code.
    """
    from gridgis.geocode import locate

    n = len(geoms)
    flag = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    units: list[NDArray[np.intp]] = [np.zeros(0, dtype=np.intp)]
    ids: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    codes: list[NDArray[np.str_]] = [np.zeros(0, dtype="U15")]
    is_point = shapely.get_type_id(geoms) == 0 if n else np.zeros(0, dtype=bool)
    points = np.flatnonzero(is_point)
    if points.size:
        found = locate(
            index, shapely.get_x(geoms[points]), shapely.get_y(geoms[points]), crs="wgs84"
        )
        cell_ids = found["cell_id"].to_numpy(dtype=np.int64, na_value=-1)
        ok = cell_ids >= 0
        units.append(points[ok])
        ids.append(cell_ids[ok])
        codes.append(found["cell_code"].to_numpy(dtype=object)[ok].astype("U15"))
        flag[points[~ok]] = found["flag"].to_numpy(dtype=object)[~ok]
        reason[points[~ok]] = found["reason"].to_numpy(dtype=object)[~ok]
    lines = np.flatnonzero(~is_point)
    if lines.size:
        # The tracks go in the tree and the (prepared) cells query it: 2-3 times faster than
        # querying a tree of cells with each track.
        tree = shapely.STRtree(geoms[lines])
        cell_k, line_k = tree.query(np.asarray(index.geoms, dtype=object), predicate="intersects")
        units.append(lines[line_k])
        ids.append(np.asarray(index.cell_ids, dtype=np.int64)[cell_k])
        codes.append(np.asarray(index.codes, dtype=object)[cell_k].astype("U15"))
        touched = np.zeros(n, dtype=bool)
        touched[lines[line_k]] = True
        empty = lines[~touched[lines]]
        if empty.size:
            inside = (
                np.asarray(shapely.intersects(geoms[empty], index.outline), dtype=bool)
                if index.outline is not None
                else np.zeros(empty.size, dtype=bool)
            )
            flag[empty] = np.where(inside, "gap", "outside").astype(object)
            reason[empty] = np.where(
                inside,
                "the track is inside the district but passes through no cell",
                "the track is outside the district",
            ).astype(object)
    unit = np.concatenate(units)
    code = np.concatenate(codes)
    order = np.lexsort((code, unit))
    return _Visits(unit[order], np.concatenate(ids)[order], code[order], flag, reason)


def import_inspections(
    engine: Database,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    worker_field: str | None = None,
    time_field: str | None = None,
    end_time_field: str | None = None,
    track_field: str | None = None,
    order_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> IntakeReport:
    """Import inspection patrols (points or GPS tracks), all in one transaction.

    Each feature of a vector file (point, line, multi-line) or each CSV/Excel
    row (a point) is one inspection; with ``track_field`` the rows are GPS
    fixes instead, ordered by ``order_field`` (else by time) into one line
    per track: the track id is the external id, the start is the first fix's
    time and the end the last one's. Fixes that cannot be used (coordinates
    not numbers or not in China, no time) are left out and listed. Every
    stored inspection gets an ``inspection_cell`` row for each active cell
    its point or track passes through; one touching no cell is stored
    ``flagged`` (``outside`` or ``gap``). Points or tracks that are not
    lon/lat in China (swapped, outside China) are rejected.

    Parameters
    ----------
    engine:
        The database; or a connection inside the caller's transaction (the import runs
        in a savepoint of it, see :func:`gridgis.intake.loading.run_import`).
    path:
        The file.
    crs:
        The system of the coordinates; default the vector file's own, else ``wgs84``.
    id_field, worker_field, time_field, end_time_field, track_field, order_field, x_field, \
y_field:
        Field names; see :func:`read_inspection_rows`. A worker is found by
        ``grid_worker.external_id``, else by name (which must be unique).
    encoding, sheet, layer:
        See :func:`read_table`.
    timezone:
        Time zone of times written without one.
    dry_run:
        Do everything, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (``cli:<login>``, a user's name). The audit trail gets one row
        for the whole import (file name and counts), not one per row.

    Returns
    -------
    IntakeReport
        One line per inspection; ``coordinates + flagged + rejected +
        duplicate == inspections``.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError, ConflictError, DatabaseError
        As for :func:`import_cases`; nothing is imported.

    Examples
    --------
    >>> report = import_inspections(engine, "gps.csv", track_field="track_id", actor="cli:li")
    ... # doctest: +SKIP
    >>> report.counts["inspections"]  # doctest: +SKIP
    12
    """
    time_zone(timezone)
    say(progress, f"reading {path}")
    rows = read_inspection_rows(
        path,
        id_field=id_field,
        worker_field=worker_field,
        time_field=time_field,
        end_time_field=end_time_field,
        track_field=track_field,
        order_field=order_field,
        x_field=x_field,
        y_field=y_field,
        encoding=encoding,
        sheet=sheet,
        layer=layer,
    )
    spec = source_crs(rows.attrs, crs, uses_file_crs=bool(rows.attrs.get("geometry")))
    now = pd.Timestamp.now(tz="UTC")
    build = _track_units if rows.attrs["tracks"] else _feature_units
    units = build(rows, spec, timezone=timezone, now=now)

    def body(conn: Connection) -> pd.DataFrame:
        from gridgis.db.locate import load_cell_index

        n = len(units.external_id)
        ids = pd.Series(units.external_id, dtype=object)
        duplicate = _duplicates(conn, Inspection.external_id, ids, units.repeated)
        worker_ids, worker_reasons = _worker_ids(units.worker, _load_workers(conn))
        reasons = [_join(r, w) for r, w in zip(units.reason, worker_reasons, strict=True)]
        rejected = np.array([r is not None for r in reasons], dtype=bool) & ~duplicate
        todo = np.flatnonzero(~duplicate & ~rejected)
        say(progress, "loading the cells")
        index = load_cell_index(conn)
        say(progress, f"finding the cells of {todo.size} inspections")
        visits = _cells_of(units.geometry[todo], index)
        starts = visits.per_unit()
        outcome = np.full(n, "rejected", dtype=object)
        outcome[duplicate] = "duplicate"
        flag_column = np.full(n, None, dtype=object)
        cells_column = np.zeros(n, dtype=np.int64)
        codes_column = np.full(n, None, dtype=object)
        notes = np.full(n, None, dtype=object)
        notes[rejected] = [reasons[i] for i in np.flatnonzero(rejected)]
        notes[duplicate] = _DUPLICATE_NOTE
        for k, i in enumerate(todo):  # one report line per stored inspection
            outcome[i] = "flagged" if visits.flag[k] else "coordinates"
            flag_column[i] = visits.flag[k]
            cells_column[i] = starts[k + 1] - starts[k]
            codes_column[i] = ";".join(visits.code[starts[k] : starts[k + 1]]) or None
            notes[i] = _join(units.note[i], visits.reason[k])
        report_rows = pd.DataFrame(
            {
                "row": [min(r) for r in units.rows],
                "rows": [_compact_rows(r) for r in units.rows],
                "external_id": pd.Series(ids.to_numpy(dtype=object), dtype=object),
                "outcome": pd.Series(outcome, dtype=object),
                "flag": pd.Series(flag_column, dtype=object),
                "reason": pd.Series(notes, dtype=object),
                "cells": cells_column,
                "cell_codes": pd.Series(codes_column, dtype=object),
            }
        ).sort_values("row", kind="stable", ignore_index=True)
        if todo.size:
            say(progress, f"storing {todo.size} inspections")
            _store_inspections(conn, units, todo, worker_ids, visits)
        return report_rows

    return _run_import(engine, "inspections", rows, spec, body, dry_run=dry_run, actor=actor)


def _store_inspections(
    conn: Connection,
    units: _Units,
    todo: NDArray[np.intp],
    worker_ids: Sequence[int | None],
    visits: _Visits,
) -> None:
    from gridgis.db.bulk import copy_rows, reserve_ids

    new_ids = reserve_ids(conn, "inspection", int(todo.size))
    frame = pd.DataFrame(
        {
            "id": new_ids,
            "external_id": _object_array([units.external_id[i] for i in todo]),
            "worker_id": pd.array([worker_ids[i] for i in todo], dtype="Int64"),
            "started_at": units.started_at.iloc[todo].reset_index(drop=True),
            "ended_at": units.ended_at.iloc[todo].reset_index(drop=True),
            "geom": units.geometry[todo],
            "located_by": "coordinates",
            "location_flag": visits.flag,
        }
    )
    copy_rows(conn, "inspection", frame, geometry={"geom": None})
    if visits.unit.size:
        copy_rows(
            conn,
            "inspection_cell",
            pd.DataFrame({"inspection_id": new_ids[visits.unit], "cell_id": visits.cell_id}),
        )
