"""Fast bulk loading of whole districts with ``COPY``, inside the caller's transaction.

:func:`load_district` stores the frames of a generated (or otherwise
assembled) district: street and community outlines, roads, buildings and
their units, cell layouts (published through
:func:`gridgis.db.layout.publish_cells`, so they get layout versions and
codes like any other), grid workers, party branches, service facilities,
cases and inspections. :func:`clear_district` removes all of that again.
Neither commits: run them in one transaction (``with engine.begin() as
conn``) so that an interrupted load leaves nothing behind.

Both write the audit trail (:mod:`gridgis.audit`) in that transaction as bulk
operations: one summary row per kind of object (``worker``, ``branch``, ``case``...)
with its count, not one row per record; each community's published layout gets
its own ``publish`` row as any publish does.

Rows go in through PostgreSQL's ``COPY ... FROM STDIN`` (CSV, geometries as
hex EWKB): 100,000 cases with their indexes and checks take about 8 s; ids
that other rows refer to are taken from the tables' sequences beforehand.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from psycopg import sql
from sqlalchemy import (
    Connection,
    Delete,
    Text,
    any_,
    bindparam,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis import audit
from gridgis.codes import LEVEL_ZH, check_code
from gridgis.db.layout import current_version, publish_cells
from gridgis.db.models import (
    AppUser,
    BranchCell,
    Building,
    Case,
    CellCode,
    Community,
    CompoundManagement,
    GridCell,
    GridWorker,
    Inspection,
    InspectionCell,
    LayoutVersion,
    PartyAlliance,
    PartyBranch,
    PartyNeed,
    PartyUnit,
    ResidentHousehold,
    Road,
    ServiceFacility,
    Street,
    VisitCampaign,
    VisitTarget,
    WorkerCell,
)
from gridgis.db.queries import plain_value
from gridgis.errors import InputError, NotFoundError

__all__ = [
    "clear_district",
    "copy_rows",
    "district_has_data",
    "load_district",
    "lock_district",
    "reserve_ids",
]

SRID = 4326


def _driver(conn: Connection) -> object:
    return conn.connection.driver_connection


def _ewkb_hex(values: object, *, multi: str | None = None) -> np.ndarray:
    """Hex EWKB (SRID 4326) of each geometry, ``None`` for none.

    ``multi`` = ``"polygon"`` or ``"line"`` stores the valid polygon or line
    parts of each geometry as one MultiPolygon or MultiLineString (a row
    without such parts becomes NULL; a line of one repeated point is dropped).
    """
    geoms = np.asarray(values, dtype=object)
    if multi is not None:
        type_id = {"polygon": 3, "line": 1}[multi]
        build = shapely.multipolygons if multi == "polygon" else shapely.multilinestrings
        present = np.flatnonzero(~shapely.is_missing(geoms))
        parts, index = shapely.get_parts(geoms[present], return_index=True)
        keep = (shapely.get_type_id(parts) == type_id) & shapely.is_valid(parts)
        keep &= ~shapely.is_empty(parts)
        rebuilt = np.full(len(present), None, dtype=object)
        if keep.any():
            build(parts[keep], indices=index[keep], out=rebuilt)
        geoms = np.full(len(geoms), None, dtype=object)
        geoms[present] = rebuilt
    missing = shapely.is_missing(geoms)
    out = np.full(len(geoms), None, dtype=object)
    if (~missing).any():
        with_srid = shapely.set_srid(geoms[~missing], SRID)
        out[~missing] = shapely.to_wkb(with_srid, hex=True, include_srid=True, output_dimension=2)
    return out


def _timestamps(values: pd.Series) -> np.ndarray:
    """ISO 8601 UTC text of tz-aware times (vectorised: ``.dt.strftime`` is 20 times slower)."""
    utc = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    text_values = np.char.add(np.datetime_as_string(utc, unit="us"), "+00:00").astype(object)
    text_values[np.isnat(utc)] = None
    return text_values


def copy_rows(
    conn: Connection,
    table: str,
    frame: pd.DataFrame,
    *,
    geometry: Mapping[str, str | None] | None = None,
) -> int:
    """``COPY`` the rows of ``frame`` into ``table``; its columns are the table's.

    Parameters
    ----------
    conn:
        A connection inside a transaction.
    table:
        The table.
    frame:
        One column per table column, named alike; ``None``/NaN/NaT (and, as
        CSV has it, empty strings) become NULL.
    geometry:
        Columns holding shapely geometries (EPSG:4326), each mapped to
        ``"polygon"`` or ``"line"`` to store as MultiPolygon / MultiLineString,
        or ``None`` to store as is.

    Returns
    -------
    int
        Rows copied.
    """
    names = [table, *map(str, frame.columns)]
    bad = [n for n in names if not re.fullmatch(r"[a-z_][a-z0-9_]*", n)]
    if bad:
        raise InputError(
            f"table and column names must be plain identifiers, not {bad}",
            zh=f"表名和列名只能是简单的标识符，不能是 {bad}",
        )
    if frame.empty:
        return 0
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if geometry and column in geometry:
            out[column] = _ewkb_hex(np.asarray(values, dtype=object), multi=geometry[column])
        elif isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = _timestamps(values)
        else:
            out[column] = values
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, header=False, na_rep="")
    columns = sql.SQL(", ").join(sql.Identifier(str(c)) for c in frame.columns)
    driver = _driver(conn)
    with (
        driver.cursor() as cursor,  # type: ignore[attr-defined]
        # raw SQL: COPY FROM STDIN has no SQLAlchemy form; names are quoted by psycopg.
        cursor.copy(
            sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                sql.Identifier(table), columns
            )
        ) as copy,
    ):
        copy.write(buffer.getvalue())
    return len(frame)


def reserve_ids(conn: Connection, table: str, n: int) -> np.ndarray:
    """``n`` fresh ids from ``table``'s ``id`` sequence (so rows can refer to each other)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sequence = func.pg_get_serial_sequence(table, "id")
    ids = conn.execute(
        select(func.nextval(sequence)).select_from(func.generate_series(1, int(n)))
    ).scalars()
    return np.fromiter(ids, dtype=np.int64, count=n)


def district_has_data(conn: Connection, district: str) -> bool:
    """Whether any building or cell is stored under the district's communities."""
    like = f"{district}%"
    return bool(
        conn.execute(
            select(
                or_(
                    exists().where(Building.community_code.like(like)),
                    exists().where(GridCell.community_code.like(like)),
                )
            )
        ).scalar()
    )


def lock_district(conn: Connection, district: str) -> None:
    """Wait for, then hold until ``conn``'s transaction ends, the district's loading lock.

    One demo load (or clearing) of a district at a time: a second one waits here,
    then finds the data the first stored (:func:`district_has_data`).
    """
    key = func.hashtext(f"gridgis-demo-{district}")
    conn.execute(select(func.pg_advisory_xact_lock(key)))


_OBJECT_TYPES = {
    "case_record": "case",
    "grid_worker": "worker",
    "party_branch": "branch",
    "service_facility": "facility",
    "building": "building",
    "road": "road",
    "inspection": "inspection",
    "layout_version": "layout",
    "grid_cell": "cell",
}
"""The object type (:mod:`gridgis.audit`) of the rows of each table a bulk operation writes."""

_LINKS = {"grid_worker": "worker_cell", "party_branch": "branch_cell", "building": "building_unit"}
"""Rows of a table counted with its main table's summary row (``cells`` served, ``units``)."""


def _audit_bulk(
    conn: Connection, action: str, district: str, counts: Mapping[str, int], *, actor: str
) -> None:
    """One audit row per object type with its count (a bulk operation, not per record)."""
    for table, object_type in _OBJECT_TYPES.items():
        if not counts.get(table):
            continue
        after = {"count": counts[table]}
        link = _LINKS.get(table)
        if link is not None:
            after[link.split("_")[1] + "s"] = counts.get(link, 0)
        audit.record(
            conn,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=None,
            after=after | {"district": district},
        )


def clear_district(conn: Connection, district: str, *, actor: str) -> dict[str, int]:
    """Delete a district's grid data, keeping its official names and its outline.

    Removed: its cells (every version), layout versions and issued cell codes;
    buildings and units; roads loaded for it (external id ``demo-<district>-…``);
    grid workers of its street offices and their patrols; party branches and
    service facilities; 驻区单位, 联合体 and needs; cases filed in it; 大走访 campaigns
    and key households. The outlines of its street offices and communities are set back
    to empty and their cell bounds unset.

    Parameters
    ----------
    conn:
        A connection inside a transaction (nothing is committed here).
    district:
        The 6-digit district code.
    actor:
        Who clears it (``system`` for the demo): one audit row per kind of object
        deleted, with its count.

    Returns
    -------
    dict
        Rows deleted per table.

    Raises
    ------
    InputError
        When ``district`` is not a 6-digit code.
    """
    check_code(district, "district")
    deleted: dict[str, int] = {}
    for table, statement in _clearing(district):
        deleted[table] = int(conn.execute(statement).rowcount or 0)
    like = f"{district}%"
    conn.execute(
        update(Community)
        .where(Community.code.like(like))
        .values(geom=null(), min_households=None, max_households=None)
    )
    conn.execute(update(Street).where(Street.code.like(like)).values(geom=null()))
    _audit_bulk(conn, "delete", district, deleted, actor=actor)
    return deleted


def _clearing(district: str) -> list[tuple[str, Delete]]:
    """The deletes of :func:`clear_district`, by table, in an order the foreign keys allow."""
    like, demo = f"{district}%", f"demo-{district}-%"
    cells = select(GridCell.id).where(GridCell.community_code.like(like))
    workers = select(GridWorker.id).where(GridWorker.street_code.like(like))
    visits = select(InspectionCell.inspection_id).where(InspectionCell.cell_id.in_(cells))
    return [
        # 大走访: campaigns of the district or with targets in its cells (their targets,
        # visits and ledger with them), and its key households
        ("visit_campaign", delete(VisitCampaign).where(or_(
            VisitCampaign.area_code.like(like),
            VisitCampaign.id.in_(
                select(VisitTarget.campaign_id).where(VisitTarget.cell_id.in_(cells))
            ),
        ))),
        ("resident_household", delete(ResidentHousehold).where(
            ResidentHousehold.community_code.like(like)
        )),
        ("inspection", delete(Inspection).where(or_(
            Inspection.worker_id.in_(workers), Inspection.id.in_(visits),
            Inspection.external_id.like(demo),
        ))),
        ("case_record", delete(Case).where(or_(
            Case.street_code.like(like), Case.community_code.like(like), Case.cell_id.in_(cells),
        ))),
        ("worker_cell", delete(WorkerCell).where(or_(
            WorkerCell.cell_id.in_(cells), WorkerCell.worker_id.in_(workers),
        ))),
        # a grid worker's login goes with the worker (its sessions with it)
        ("app_user", delete(AppUser).where(AppUser.worker_id.in_(workers))),
        ("grid_worker", delete(GridWorker).where(GridWorker.street_code.like(like))),
        ("branch_cell", delete(BranchCell).where(BranchCell.cell_id.in_(cells))),
        # 红心物业: the compounds' register (it names organisations and 驻区单位)
        ("compound_management", delete(CompoundManagement).where(
            CompoundManagement.community_code.like(like)
        )),
        ("party_branch", delete(PartyBranch).where(or_(
            PartyBranch.community_code.like(like), PartyBranch.external_id.like(demo),
        ))),
        ("service_facility", delete(ServiceFacility).where(or_(
            ServiceFacility.street_code.like(like), ServiceFacility.community_code.like(like),
        ))),
        # 驻区单位 and what names them: needs (a claim holds its unit), alliances
        ("party_need", delete(PartyNeed).where(PartyNeed.street_code.like(like))),
        ("party_alliance", delete(PartyAlliance).where(PartyAlliance.street_code.like(like))),
        ("party_unit", delete(PartyUnit).where(or_(
            PartyUnit.street_code.like(like), PartyUnit.community_code.like(like),
        ))),
        ("building", delete(Building).where(Building.community_code.like(like))),
        ("grid_cell", delete(GridCell).where(GridCell.community_code.like(like))),
        ("cell_code", delete(CellCode).where(CellCode.community_code.like(like))),
        ("layout_version", delete(LayoutVersion).where(LayoutVersion.community_code.like(like))),
        ("road", delete(Road).where(Road.external_id.like(demo))),
    ]  # fmt: skip


def _update_outlines(
    conn: Connection,
    table: type[Street] | type[Community],
    frame: gpd.GeoDataFrame,
    extra: Sequence[str],
) -> None:
    """Set the outline (and the ``extra`` columns) of each area of ``frame``, by code."""
    if frame.empty:  # the outlines were imported from files (the demo's)
        return
    known = set(
        conn.execute(
            select(table.code).where(table.code.in_(frame["code"].astype(str).tolist()))
        ).scalars()
    )
    missing = sorted(set(frame["code"].astype(str)) - known)
    if missing:
        raise NotFoundError(
            f"{len(missing)} {table.__tablename__} code(s) are not in the database: "
            f"{', '.join(missing[:10])}; "
            "load the official divisions first (gridgis import divisions)",
            zh=f"有 {len(missing)} 个{LEVEL_ZH.get(table.__tablename__, table.__tablename__)}编码"
            f"不在数据库中：{'、'.join(missing[:10])}；请先导入官方行政区划（gridgis import "
            "divisions）",
        )

    wkbs = _ewkb_hex(frame.geometry.to_numpy(), multi="polygon")
    columns = {c: frame[c].tolist() for c in extra}
    # The ``extra`` columns are set from the keys of the rows given (SQLAlchemy's executemany).
    conn.execute(
        update(table)
        .where(table.code == bindparam("area_code"))
        .values(geom=func.ST_GeomFromEWKB(func.decode(bindparam("wkb"), "hex"))),
        [
            {"area_code": str(code), "wkb": wkb, **{c: plain_value(columns[c][i]) for c in extra}}
            for i, (code, wkb) in enumerate(zip(frame["code"], wkbs, strict=True))
        ],
    )


_STORED_ZH = {"buildings": "楼栋", "workers": "网格员", "cells": "网格", "branches": "党组织"}
"""What :func:`_ids_for` looks up, in Chinese."""


def _ids_for(codes: pd.Series, mapping: Mapping[str, int] | pd.Series, what: str) -> np.ndarray:
    ids = codes.map(mapping)
    if ids.isna().any():
        missing = sorted(set(codes[ids.isna()].astype(str)))
        raise NotFoundError(
            f"{len(missing)} {what} are not stored: {', '.join(missing[:10])}",
            zh=f"有 {len(missing)} 个{_STORED_ZH.get(what, what)}尚未存储："
            f"{'、'.join(missing[:10])}",
        )
    return ids.to_numpy(dtype=np.int64)


def _stored_ids(
    conn: Connection, model: type[GridWorker] | type[Building], external: pd.Series
) -> pd.Series:
    """Stored ids of ``model``'s rows with the external ids ``external``, by external id."""
    wanted = sorted({str(e) for e in external.dropna()})
    # One array parameter, however many ids (an IN list would bind one parameter each).
    rows = conn.execute(
        select(model.id, model.external_id).where(
            model.external_id == any_(bindparam("ids", wanted, type_=ARRAY(Text)))
        )
    ).all()
    return pd.Series([r[0] for r in rows], index=[r[1] for r in rows], dtype="int64")


def load_district(
    conn: Connection,
    *,
    streets: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    units: pd.DataFrame,
    cells: gpd.GeoDataFrame,
    workers: pd.DataFrame,
    worker_cells: pd.DataFrame,
    branches: gpd.GeoDataFrame,
    branch_cells: pd.DataFrame,
    facilities: gpd.GeoDataFrame,
    cases: gpd.GeoDataFrame,
    inspections: gpd.GeoDataFrame,
    inspection_cells: pd.DataFrame,
    actor: str,
    published_by: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    before_buildings: Callable[[Connection], None] | None = None,
    after_cells: Callable[[Connection], None] | None = None,
) -> dict[str, float]:
    """Store a district's frames (all EPSG:4326) in the caller's transaction.

    The street offices and communities must already exist (official names
    and codes); their outlines are set from the frames. Rows refer to each
    other by external id or code: buildings to communities, cells to
    communities, workers' and branches' cells by cell code, inspections to
    workers by the worker's external id.

    Parameters
    ----------
    conn:
        A connection inside a transaction.
    streets:
        ``code``, geometry.
    communities:
        ``code``, ``db_kind`` (``urban``/``rural``), ``min_households``,
        ``max_households``, geometry.
    roads:
        ``external_id``, ``name``, ``kind``, lines.
    buildings:
        ``external_id``, ``community_code``, ``name``, ``address``,
        ``compound``, ``floors``, ``households``, ``residents``, footprint
        geometry, ``location`` (points).
    units:
        ``external_id`` (of the building), ``number``, ``households``.
    cells:
        ``code``, ``community_code``, ``flags``, geometry; published as a new
        layout version of each community (method ``draw``).
    workers, worker_cells:
        ``external_id``, ``name``, ``phone``, ``employment``,
        ``street_code``; ``worker`` (external id), ``cell_code``.
    branches, branch_cells:
        ``external_id``, ``name``, ``community_code``, ``member_count``,
        point; ``branch`` (external id), ``cell_code``.
    facilities:
        ``external_id``, ``name``, ``kind``, ``street_code``,
        ``community_code``, point.
    cases:
        The columns of ``case_record`` (without ``id``, ``step``, ``cell_id``)
        plus ``cell_code``; point geometry.
    inspections, inspection_cells:
        ``external_id``, ``worker`` (external id), ``started_at``,
        ``ended_at``, track geometry; ``record`` (external id), ``cell_code``.
    actor:
        Who loads it (``system`` for the demo): each community's layout gets its
        ``publish`` row in the audit trail, and each kind of object one ``load`` row
        with its count (not one per record).
    published_by:
        Recorded on the layout versions (default ``actor``).
    progress:
        ``progress("load", done, total)`` after each step.
    before_buildings:
        Called with ``conn`` once the outlines and roads are stored, before the
        buildings are copied: the demo imports its outlines', roads' and buildings'
        files there (:mod:`gridgis.demo.outlines`,
        :func:`gridgis.registers.buildings.import_buildings`...), passing their frames
        empty. Units find their buildings by external id among the stored ones.
    after_cells:
        Called with ``conn`` once the cells are published, before the workers are
        copied: the demo imports its cells', rosters' and facilities' files there
        (:func:`gridgis.registers.workers.import_workers`...), passing their frames
        empty. Inspections find their workers by external id among the stored ones.

    Returns
    -------
    dict
        Seconds per step.

    Raises
    ------
    NotFoundError
        When a street, community, cell, worker or building referred to is missing.
    """
    seconds: dict[str, float] = {}
    steps = 9
    step = 0

    def done(name: str, started: float) -> None:
        nonlocal step
        seconds[name] = time.perf_counter() - started
        step += 1
        if progress is not None:
            progress("load", step, steps)

    clock = time.perf_counter()
    _update_outlines(conn, Street, streets[["code", "geometry"]], [])
    comm = gpd.GeoDataFrame(
        {
            "code": communities["code"].to_numpy(),
            "kind": communities["db_kind"].to_numpy(),
            "min_households": communities["min_households"].to_numpy(),
            "max_households": communities["max_households"].to_numpy(),
        },
        geometry=communities.geometry.to_numpy(),
        crs=communities.crs,
    )
    _update_outlines(conn, Community, comm, ["kind", "min_households", "max_households"])
    done("outlines", clock)

    clock = time.perf_counter()
    copy_rows(
        conn, "road", pd.DataFrame({"external_id": roads["external_id"], "name": roads["name"],
                                    "kind": roads["kind"], "geom": roads.geometry.to_numpy()}),
        geometry={"geom": "line"},
    )  # fmt: skip
    done("roads", clock)

    clock = time.perf_counter()
    if before_buildings is not None:
        before_buildings(conn)
    building_ids = reserve_ids(conn, "building", len(buildings))
    copy_rows(
        conn,
        "building",
        pd.DataFrame(
            {
                "id": building_ids,
                "external_id": buildings["external_id"].to_numpy(),
                "community_code": buildings["community_code"].to_numpy(),
                "name": buildings["name"].to_numpy(),
                "address": buildings["address"].to_numpy(),
                "compound": buildings["compound"].to_numpy(),
                "footprint": buildings.geometry.to_numpy(),
                "location": np.asarray(buildings["location"].array, dtype=object),
                "households": buildings["households"].to_numpy(),
                "residents": buildings["residents"].to_numpy(),
                "floors": buildings["floors"].to_numpy(),
            }
        ),
        geometry={"footprint": "polygon", "location": None},
    )
    by_external = pd.Series(building_ids, index=buildings["external_id"].to_numpy())
    if before_buildings is not None:  # the units of buildings stored by the hook
        stored = pd.concat([_stored_ids(conn, Building, units["external_id"]), by_external])
        by_external = stored[~stored.index.duplicated()]
    copy_rows(
        conn,
        "building_unit",
        pd.DataFrame(
            {
                "building_id": _ids_for(units["external_id"], by_external, "buildings"),
                "number": units["number"].to_numpy(),
                "households": units["households"].to_numpy(),
            }
        ),
    )
    done("buildings", clock)

    clock = time.perf_counter()
    # Cells: one publish per community (a new layout version), as any drawing does.
    for community_code, mine in cells.groupby("community_code", sort=True):
        publish_cells(
            conn,
            str(community_code),
            gpd.GeoDataFrame(
                mine[["code", "flags", "geometry"]], geometry="geometry", crs="EPSG:4326"
            ),
            method="draw",
            expected_version=current_version(conn, str(community_code)),
            actor=actor,
            published_by=published_by,
            note="demo district",
        )
    prefixes = sorted({str(c)[:6] for c in cells["community_code"]})
    cell_ids: dict[str, int] = {}
    for prefix in prefixes:
        cell_ids.update(
            {
                str(code): int(i)
                for i, code in conn.execute(
                    select(GridCell.id, GridCell.code).where(
                        GridCell.community_code.like(prefix + "%"), GridCell.valid_to.is_(None)
                    )
                )
            }
        )
    done("cells", clock)

    clock = time.perf_counter()
    if after_cells is not None:
        after_cells(conn)
    worker_ids = reserve_ids(conn, "grid_worker", len(workers))
    copy_rows(
        conn,
        "grid_worker",
        pd.DataFrame(
            {
                "id": worker_ids,
                "external_id": workers["external_id"].to_numpy(),
                "name": workers["name"].to_numpy(),
                "phone": workers["phone"].to_numpy(),
                "employment": workers["employment"].to_numpy(),
                "street_code": workers["street_code"].to_numpy(),
            }
        ),
    )
    worker_by_external = _stored_ids(conn, GridWorker, inspections["worker"])
    copy_rows(
        conn,
        "worker_cell",
        pd.DataFrame(
            {
                "worker_id": _ids_for(worker_cells["worker"], worker_by_external, "workers"),
                "cell_id": _ids_for(worker_cells["cell_code"], cell_ids, "cells"),
            }
        ).drop_duplicates(),
    )
    branch_ids = reserve_ids(conn, "party_branch", len(branches))
    copy_rows(
        conn,
        "party_branch",
        pd.DataFrame(
            {
                "id": branch_ids,
                "external_id": branches["external_id"].to_numpy(),
                "name": branches["name"].to_numpy(),
                "community_code": branches["community_code"].to_numpy(),
                "member_count": branches["member_count"].to_numpy(),
                "location": branches.geometry.to_numpy(),
            }
        ),
        geometry={"location": None},
    )
    branch_by_external = pd.Series(branch_ids, index=branches["external_id"].to_numpy())
    copy_rows(
        conn,
        "branch_cell",
        pd.DataFrame(
            {
                "branch_id": _ids_for(branch_cells["branch"], branch_by_external, "branches"),
                "cell_id": _ids_for(branch_cells["cell_code"], cell_ids, "cells"),
            }
        ).drop_duplicates(),
    )
    copy_rows(
        conn,
        "service_facility",
        pd.DataFrame(
            {
                "external_id": facilities["external_id"].to_numpy(),
                "name": facilities["name"].to_numpy(),
                "kind": facilities["kind"].to_numpy(),
                "street_code": facilities["street_code"].to_numpy(),
                "community_code": facilities["community_code"].to_numpy(),
                "location": facilities.geometry.to_numpy(),
            }
        ),
        geometry={"location": None},
    )
    done("people", clock)

    clock = time.perf_counter()
    case_columns = [
        "external_id", "category_code", "description", "source", "address", "raw_x", "raw_y",
        "raw_crs", "community_code", "street_code", "deadline",
        "reported_at", "reported_by", "registered_at", "registered_by", "dispatched_at",
        "dispatched_by", "handled_at", "handled_by", "verified_at", "verified_by", "closed_at",
        "closed_by", "rejected_at", "rejected_by",
    ]  # fmt: skip
    frame = pd.DataFrame(cases[case_columns])
    frame.insert(8, "cell_id", _ids_for(cases["cell_code"], cell_ids, "cells"))
    frame["geom"] = cases.geometry.to_numpy()
    copy_rows(conn, "case_record", frame, geometry={"geom": None})
    done("cases", clock)

    clock = time.perf_counter()
    inspection_ids = reserve_ids(conn, "inspection", len(inspections))
    copy_rows(
        conn,
        "inspection",
        pd.DataFrame(
            {
                "id": inspection_ids,
                "external_id": inspections["external_id"].to_numpy(),
                "worker_id": _ids_for(inspections["worker"], worker_by_external, "workers"),
                "started_at": inspections["started_at"],
                "ended_at": inspections["ended_at"],
                "geom": inspections.geometry.to_numpy(),
            },
            index=inspections.index,
        ),
        geometry={"geom": None},
    )
    done("inspections", clock)

    clock = time.perf_counter()
    inspection_by_external = pd.Series(inspection_ids, index=inspections["external_id"].to_numpy())
    copy_rows(
        conn,
        "inspection_cell",
        pd.DataFrame(
            {
                "inspection_id": _ids_for(
                    inspection_cells["record"], inspection_by_external, "inspections"
                ),
                "cell_id": _ids_for(inspection_cells["cell_code"], cell_ids, "cells"),
            }
        ).drop_duplicates(),
    )
    done("inspection_cells", clock)
    counts = {
        "road": len(roads),
        "building": len(buildings),
        "building_unit": len(units),
        "grid_worker": len(workers),
        "worker_cell": len(worker_cells),
        "party_branch": len(branches),
        "branch_cell": len(branch_cells),
        "service_facility": len(facilities),
        "case_record": len(cases),
        "inspection": len(inspections),
    }
    for district in sorted({str(c)[:6] for c in communities["code"]}):
        _audit_bulk(conn, "load", district, counts, actor=actor)
    return seconds
