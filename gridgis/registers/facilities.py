"""Importing service facilities: 党群服务中心, 社区服务站, 卫生服务站, 警务室, 学校, 养老, others.

One row per facility: id, name, kind (:data:`gridgis.registers.kinds.FACILITY_KIND_NAMES`;
a kind not listed is stored as ``other`` with the file's name for it), location
(coordinates in any CRS gridgis knows, or an address matched to a building) and,
optionally, the community (code or name; else the community the point lies in).
Upserted on the file's id in one transaction, with a per-row report. A point in no
community is stored and flagged ``outside``; coordinates given as lat, lon are read
the other way round and flagged ``swapped``.

Examples
--------
>>> report = import_facilities(engine, "设施.xlsx", crs="gcj02", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 12, 'imported': 11, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 1}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from gridgis.codes import check_code
from gridgis.crs import CRSLike
from gridgis.db.models import ServiceFacility
from gridgis.intake.loading import say
from gridgis.registers.kinds import FACILITY_KIND_NAMES, facility_kind
from gridgis.registers.places import Areas, Points, locate_points, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, read_register, run_register_import
from gridgis.registers.upsert import changes, outcome_of

__all__ = ["FACILITY_FIELDS", "import_facilities", "place_rows"]

FACILITY_FIELDS: tuple[str, ...] = ("id", "name", "kind", "x", "y", "address", "community")
"""The fields of a facilities' register."""


def place_rows(
    conn: Connection,
    register: Register,
    outcomes: RowOutcomes,
    todo: np.ndarray,
    *,
    crs: CRSLike | None,
    areas: Areas,
    fallback: Callable[[int], tuple[float, float] | None] | None = None,
) -> tuple[Points, np.ndarray]:
    """Locate the rows in ``todo`` and find their communities; reject those with no point.

    A row is placed by its coordinates, else its address, else ``fallback(i)`` (a
    branch at a point of its first cell, flagged ``at_cell``). Its community is the
    one named in the ``community`` column, else the one its point lies in (none:
    flagged ``outside``). Returns the points and each row's community code.
    """
    points = locate_points(conn, register, crs=crs, todo=todo)
    for i in np.flatnonzero(todo & ~points.found).tolist():
        spot = fallback(i) if fallback is not None else None
        if spot is not None:
            points.lon[i], points.lat[i] = spot
            outcomes.flag([i], "at_cell", "no location given: placed inside its first cell")
    swapped = np.flatnonzero(todo & (points.flag == "swapped"))
    outcomes.flag(swapped, "swapped", "coordinates looked like (lat, lon): read as (lon, lat)")
    missing = np.flatnonzero(todo & ~points.found)
    outcomes.reject(
        missing, [points.problem[i] or "no coordinates and no address" for i in missing.tolist()]
    )
    community = areas.community_of(points.lon, points.lat)
    named = register.texts("community")
    for i in np.flatnonzero(todo & points.found).tolist():
        value = named[i]
        if value is None:
            continue
        code = areas.community_code(value)
        if code is None:
            outcomes.reject([i], f"unknown community {value!r} (neither a code nor a name)")
        else:
            community[i] = code
    outside = np.flatnonzero(todo & points.found & _is_none(community) & outcomes.pending)
    outcomes.flag(outside, "outside", "the point lies in no community of the database")
    return points, community


def with_points(report: RegisterReport, placed: list[Points]) -> RegisterReport:
    """``report`` with the CRS and the rows' points of :func:`place_rows` (the last run of
    the import's body, if it ran), drawn on the import page's map."""
    if placed:
        report.crs, report.shapes = placed[-1].crs, placed[-1].shapes()
    return report


def _is_none(values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are ``None``."""
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def _stored(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    query = select(
        ServiceFacility.id,
        ServiceFacility.external_id,
        ServiceFacility.name,
        ServiceFacility.kind,
        ServiceFacility.kind_name,
        ServiceFacility.address,
        ServiceFacility.community_code,
        ServiceFacility.street_code,
        func.ST_X(ServiceFacility.location).label("lon"),
        func.ST_Y(ServiceFacility.location).label("lat"),
    ).where(ServiceFacility.external_id.in_(ids))
    return {str(r.external_id): dict(r._mapping) for r in conn.execute(query)}


_FIELDS = ("name", "kind", "kind_name", "address", "community_code", "street_code", "lon", "lat")


def import_facilities(
    engine: Engine | Connection,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    kind_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    address_field: str | None = None,
    community_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of service facilities, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database.
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage.
    crs:
        The system of the coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:nnnn``); default the vector file's own, else ``wgs84``.
    id_field, name_field, kind_field, x_field, y_field, address_field, community_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows in a community of another street (or
        in none), and ids stored for a facility of another street, are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (one audit row sums the import up).

    Returns
    -------
    RegisterReport
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "name": name_field, "kind": kind_field, "x": x_field, "y": y_field,
        "address": address_field, "community": community_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = read_register(
        path, FACILITY_FIELDS, given=given, required=("id", "name", "kind"),
        encoding=encoding, sheet=sheet, layer=layer,
    )  # fmt: skip
    placed: list[Points] = []

    def body(conn: Connection) -> RowOutcomes:
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        names, kinds_given = register.texts("name"), register.texts("kind")
        addresses, ids = register.texts("address"), register.texts("id")
        kinds = [facility_kind(k) for k in kinds_given]
        for i in range(len(register)):  # wording per row; the look-ups are dictionary ones
            problems = [id_reasons[i]]
            if names[i] is None:
                problems.append("name missing")
            if kinds[i] is None:
                listing = "、".join(v for k, v in FACILITY_KIND_NAMES.items() if k != "other")
                problems.append(f"kind missing ({listing} or another)")
            if any(v is not None and "\x00" in v for v in (names[i], kinds_given[i], addresses[i])):
                problems.append("text with a NUL character (U+0000)")
            if any(problems):
                outcomes.reject([i], "; ".join(p for p in problems if p))
        areas = Areas.load(conn)
        say(progress, f"placing {int(outcomes.pending.sum())} facilities")
        points, community = place_rows(
            conn, register, outcomes, outcomes.pending, crs=crs, areas=areas
        )
        placed.append(points)
        todo = np.flatnonzero(outcomes.pending)
        stored = _stored(conn, [str(ids[i]) for i in todo])
        if street is not None:
            for i in todo.tolist():
                before = stored.get(str(ids[i]))
                area = None if before is None else before["street_code"] or ""
                if away := street_problems(
                    street, "facility", community=community[i], stored_area=area
                ):
                    outcomes.reject([i], "; ".join(away))
            todo = np.flatnonzero(outcomes.pending)
        say(progress, f"storing {int(outcomes.pending.sum())} facilities")
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for i in todo.tolist():
            after = {
                "name": names[i],
                "kind": kinds[i],
                "kind_name": kinds_given[i],
                "address": addresses[i],
                "community_code": community[i],
                "street_code": areas.street_of(community[i]),
                "lon": float(points.lon[i]),
                "lat": float(points.lat[i]),
            }
            before = stored.get(str(ids[i]))
            old = None if before is None else {k: before[k] for k in _FIELDS}
            outcome = outcome_of(old, after)
            values = {k: after[k] for k in _FIELDS if k not in ("lon", "lat")}
            values["location"] = points.wkt(i)
            if before is None:
                inserts.append({"external_id": ids[i], **values})
            elif outcome == "updated":
                outcomes.changes[i] = "; ".join(changes(old, after))
                updates.append({"stored_id": before["id"], **values})
            flagged = outcomes.flags[i] and outcome != "unchanged"
            outcomes.set([i], "flagged" if flagged else outcome)
        if inserts:  # one statement each, executed for many rows
            conn.execute(insert(ServiceFacility), inserts)
        if updates:
            by_id = ServiceFacility.id == bindparam("stored_id")
            conn.execute(update(ServiceFacility).where(by_id), updates)
        outcomes.add_column("community_code", community)
        return outcomes

    report = run_register_import(engine, "facilities", register, body, dry_run=dry_run, actor=actor)
    return with_points(report, placed)
