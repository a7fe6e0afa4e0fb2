"""Storing boundaries and official divisions, each import in one transaction.

An import either completes or changes nothing: every check runs inside the
transaction that writes, and any problem rolls all of it back. Cell layouts
are published as a new layout version per community: unchanged cells keep
their row and code, changed cells get a new row under the same code and the
old one is closed (``valid_to``), removed cells retire their code for good.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Transaction,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.elements import ColumnElement

from gridgis import audit
from gridgis.boundaries import Finding, PreparedBoundaries, check_topology
from gridgis.codes import PARENT_LEVEL
from gridgis.data import path as data_path
from gridgis.db.layout import METHODS, publish_cells
from gridgis.db.models import SRID, CellCode, Community, District, Street
from gridgis.db.queries import ewkb, read_areas, read_geoframe
from gridgis.errors import InputError, NotFoundError, Problem, ValidationError

BLOCKING_KINDS = frozenset({"outside_parent", "overlap"})
"""Topology findings that stop an import unless it is told to allow them."""

_TABLE: dict[str, type[District] | type[Street] | type[Community]] = {
    "district": District,
    "street": Street,
    "community": Community,
}
_PARENT_COLUMN = {"street": "district_code", "community": "street_code", "cell": "community_code"}


@dataclass
class ImportReport:
    """What an import of boundaries did, or would have done.

    Attributes
    ----------
    level:
        The level imported.
    rows_read:
        Features in the input; ``inserted + updated + unchanged + len(rejected
        rows)`` adds up to it.
    inserted, updated, unchanged:
        Codes that were new, changed, or already stored as given.
    retired:
        Cell codes retired because a community's new layout leaves them out.
    rejected:
        Rejected rows with their row number and reason.
    repaired:
        Polygons that were invalid and were repaired, with the area changed.
    topology:
        Parts outside the parent, overlaps and gaps, by code, in m².
    layout_versions:
        For cells: the new layout version per community.
    committed:
        Whether the database was changed (``False`` for a dry run or a failure).
    """

    level: str
    rows_read: int = 0
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    repaired: list[Finding] = field(default_factory=list)
    topology: list[Finding] = field(default_factory=list)
    layout_versions: dict[str, int] = field(default_factory=dict)
    committed: bool = False

    @property
    def blocking(self) -> list[Finding]:
        """Topology findings that stop the import unless allowed."""
        return [f for f in self.topology if f.kind in BLOCKING_KINDS]

    def lines(self) -> list[str]:
        """The report as lines of text for people."""
        out = [
            f"{self.level}: {self.rows_read} features read; {len(self.inserted)} new, "
            f"{len(self.updated)} changed, {len(self.unchanged)} unchanged, "
            f"{len({p.row for p in self.rejected})} rejected"
            + (f", {len(self.retired)} cell codes retired" if self.retired else "")
        ]
        out += [f"  rejected {p}" for p in self.rejected]
        out += [f"  {f}" for f in self.repaired]
        out += [f"  {f}" for f in self.topology]
        for community, version in sorted(self.layout_versions.items()):
            out.append(f"  community {community}: layout version {version} published")
        out.append("committed" if self.committed else "nothing was changed")
        return out


class BoundaryImportError(ValidationError):
    """An import was refused; ``report`` says why, and nothing was changed."""

    def __init__(self, message: str, report: ImportReport, *, zh: str | None = None) -> None:
        self.report = report
        problems = list(report.rejected) + [Problem(f.row, f.code, str(f)) for f in report.blocking]
        super().__init__(message, problems, zh=zh)


def flat_wkb(geom: shapely.Geometry) -> bytes:
    """``geom`` as 2-D WKB without an SRID, as :func:`geometry_from_wkb` reads it."""
    return shapely.to_wkb(geom, output_dimension=2, include_srid=False)


def geometry_from_wkb() -> ColumnElement[Any]:
    """``ST_GeomFromWKB(:wkb, 4326)``: each row's ``wkb`` (from :func:`flat_wkb`) as geometry."""
    return func.ST_GeomFromWKB(bindparam("wkb", type_=LargeBinary), SRID)


def _lock_and_read_parents(conn: Connection, level: str, codes: Iterable[str]) -> gpd.GeoDataFrame:
    parent_level = PARENT_LEVEL[level]
    assert parent_level is not None
    table = _TABLE[parent_level]
    wanted = sorted(set(codes)) or [""]
    conn.execute(select(table.code).where(table.code.in_(wanted)).with_for_update())
    return read_geoframe(conn, select(table.code, ewkb(table.geom)).where(table.code.in_(wanted)))


def _existing_siblings(conn: Connection, level: str, parents: Iterable[str]) -> gpd.GeoDataFrame:
    wanted = sorted(set(parents))
    if level == "district":
        frames = [read_areas(conn, "district")]
    elif wanted:
        # One query for the parents' common prefix (a district's cells: its 6 digits).
        first, last = wanted[0], wanted[-1]  # sorted: their common prefix is everyone's
        same = [a == b for a, b in zip(first, last, strict=False)] + [False]
        prefix = first[: same.index(False)]
        found = read_areas(conn, level, within=prefix) if prefix else read_areas(conn, level)
        frames = [found[found["parent_code"].isin(wanted)]]
    else:
        frames = []
    frames = [f for f in frames if not f.empty]
    if not frames:
        return gpd.GeoDataFrame(
            columns=["code", "name", "parent_code", "geom"], geometry="geom", crs="EPSG:4326"
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geom", crs="EPSG:4326")


@contextmanager
def in_transaction(bind: Engine | Connection) -> Iterator[tuple[Connection, Transaction]]:
    """A transaction of its own on an engine; on a connection, a savepoint of the caller's
    transaction (or a transaction, when it has none). Rolled back on failure; the caller of
    this function commits or rolls back the one it is given, the caller of the import its
    own."""
    if isinstance(bind, Connection):
        nested = bind.in_transaction()
        with bind.begin_nested() if nested else bind.begin() as transaction:
            yield bind, transaction
        return
    with bind.connect() as conn, conn.begin() as transaction:
        yield conn, transaction


def import_boundaries(
    engine: Engine | Connection,
    prepared: PreparedBoundaries,
    *,
    level: str,
    allow_topology_errors: bool = False,
    dry_run: bool = False,
    actor: str,
    published_by: str | None = None,
    method: str = "import",
    note: str | None = None,
) -> ImportReport:
    """Store checked boundaries of one level, all or nothing.

    Parameters
    ----------
    engine:
        The database; or a connection (the caller's load of several files in one
        transaction): the import then runs in a savepoint of its transaction, rolled back
        alone on a refusal or a dry run, and the caller commits.
    prepared:
        The output of :func:`gridgis.boundaries.prepare_boundaries`.
    level:
        The level the features are (``district`` … ``cell``).
    allow_topology_errors:
        Store even when features stick out of their parent or overlap their
        siblings (they are still reported). Gaps never stop an import, since
        a file may hold only some of a parent's children.
    dry_run:
        Check everything against the database, then roll back.
    actor:
        Who imports. Cells write one audit row per community's new layout
        (:func:`gridgis.db.layout.publish_cells`); other levels one row for the import
        (counts of areas inserted and updated), not one per area.
    published_by:
        Recorded on new cell layout versions (default ``actor``).
    method:
        Cells: how they were made, recorded on each new layout version: ``import``
        (default: drawn elsewhere, or by hand), ``draw`` when a partitioner drew them
        (:data:`gridgis.db.layout.METHODS`; the demo's cells file, drawn by its engine).
    note:
        Cells: recorded on each new layout version.

    Returns
    -------
    ImportReport

    Raises
    ------
    BoundaryImportError
        When any row is rejected or, unless allowed, the topology is broken;
        the database is unchanged and the error's ``report`` lists all.
    """
    if method not in METHODS or (method != "import" and level != "cell"):
        raise InputError(
            f"`method` was {method!r} but is expected to be one of {list(METHODS)}, "
            "and other than 'import' for cells only",
            zh=f"`method` 为 {method!r}，应为 {list(METHODS)} 之一，且 'import' 只用于网格",
        )
    report = ImportReport(
        level=level,
        rows_read=prepared.rows_read,
        rejected=list(prepared.rejected),
        repaired=list(prepared.repaired),
    )
    frame = prepared.frame
    with in_transaction(engine) as (conn, transaction):
        parents = None
        if PARENT_LEVEL[level] is not None and not frame.empty:
            parents = _lock_and_read_parents(conn, level, frame["parent_code"])
            known = set(parents["code"])
            for row, code, parent in frame[["row", "code", "parent_code"]].itertuples(index=False):
                if parent not in known:
                    report.rejected.append(
                        Problem(
                            int(row),
                            code,
                            f"its {PARENT_LEVEL[level]} {parent} is not in the database: "
                            f"import the {PARENT_LEVEL[level]}s first",
                        )
                    )
        if level == "cell" and not frame.empty:
            _reject_retired_codes(conn, frame, report)
        if report.rejected:
            report.rejected.sort(key=lambda p: p.row or 0)
            transaction.rollback()
            raise BoundaryImportError(
                f"{len({p.row for p in report.rejected})} of {report.rows_read} features "
                "were rejected; nothing was imported",
                report,
                zh=f"{report.rows_read} 个要素中有 {len({p.row for p in report.rejected})} 个被拒"
                "绝；未导入任何内容",
            )
        if frame.empty:
            transaction.rollback()
            return report
        # Topology of the state after the import: stored siblings plus imported ones.
        affected = set(frame["parent_code"].dropna())
        stored = _existing_siblings(conn, level, affected)
        stored = stored[~stored["code"].isin(frame["code"])]
        if level == "cell":
            # A community's new layout replaces its stored one entirely.
            stored = stored[~stored["parent_code"].isin(affected)]
        incoming = frame.rename_geometry("geom")[["code", "parent_code", "geom"]]
        together = gpd.GeoDataFrame(
            pd.concat([stored[["code", "parent_code", "geom"]], incoming], ignore_index=True),
            geometry="geom",
            crs="EPSG:4326",
        )
        imported = set(frame["code"])
        report.topology = [
            f
            for f in check_topology(
                together, parents.rename_geometry("geometry") if parents is not None else None
            )
            if f.kind == "gap" or f.code in imported or f.other in imported
        ]
        rows_by_code = dict(zip(frame["code"], frame["row"], strict=True))
        report.topology = [
            Finding(
                f.kind, f.code, f.area_m2, f.lon, f.lat, f.other, rows_by_code.get(f.code), f.detail
            )
            for f in report.topology
        ]
        if report.blocking and not allow_topology_errors:
            transaction.rollback()
            raise BoundaryImportError(
                f"{len(report.blocking)} features stick out of their parent or overlap a "
                "sibling; nothing was imported (use --allow-topology-errors to import anyway)",
                report,
                zh=f"有 {len(report.blocking)} 个要素超出上级区域或与同级区域重叠；未导入任何内容"
                "（如仍要导入，请使用 --allow-topology-errors）",
            )
        if level == "cell":
            _publish_cells(
                conn, frame, report, actor=actor, published_by=published_by, method=method,
                note=note,
            )  # fmt: skip
        else:
            _upsert_areas(conn, frame, level, report)
            audit.record(
                conn,
                actor=actor,
                action="import",
                object_type=level,
                object_id=None,
                after={
                    "rows": report.rows_read,
                    "inserted": len(report.inserted),
                    "updated": len(report.updated),
                },
            )
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
            report.committed = True
    return report


_AREA_EXTRAS = ("kind", "min_households", "max_households")
"""Columns of a prepared frame besides the name and outline that an import of areas stores
(when the file has them: :func:`gridgis.boundaries.prepare_boundaries`); blank keeps the
stored value."""


def _upsert_areas(
    conn: Connection, frame: gpd.GeoDataFrame, level: str, report: ImportReport
) -> None:
    table = _TABLE[level]
    parent_column = _PARENT_COLUMN.get(level)
    extras = [c for c in _AREA_EXTRAS if c in frame.columns]
    stored_extras = [getattr(table, c) for c in extras]
    existing = {
        row[0]: row[1:]
        for row in conn.execute(
            select(table.code, table.name, func.ST_AsBinary(table.geom), *stored_extras).where(
                table.code.in_(list(frame["code"]))
            )
        )
    }
    payloads: dict[tuple[str, ...], list[dict[str, object]]] = {}
    for record in frame[["code", "name", "parent_code", "geometry", *extras]].itertuples(
        index=False
    ):
        code, name, parent, geom = record[:4]
        # Blank optional values keep the stored ones.
        given = {c: v for c, v in zip(extras, record[4:], strict=True) if not _blank(v)}
        old = existing.get(code)
        if old is not None:
            same_geom = old[1] is not None and shapely.equals_exact(
                shapely.from_wkb(bytes(old[1])), geom, tolerance=1e-9
            )
            stored = dict(zip(extras, old[2:], strict=True))
            same_extras = all(stored[c] == v for c, v in given.items())
            if old[0] == name and same_geom and same_extras:
                report.unchanged.append(code)
                continue
            report.updated.append(code)
        else:
            report.inserted.append(code)
        row = {"code": code, "name": name, "wkb": flat_wkb(geom)} | {
            c: int(v) if c != "kind" else v for c, v in given.items()
        }
        if parent_column:
            row[parent_column] = parent
        payloads.setdefault(tuple(sorted(given)), []).append(row)
    # One statement per set of optional columns given (executed for many rows).
    for columns, payload in payloads.items():
        upsert = pg_insert(table).values(geom=geometry_from_wkb())
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=[table.code],
                set_={"name": upsert.excluded.name, "geom": upsert.excluded.geom}
                | {c: upsert.excluded[c] for c in columns},
            ),
            payload,
        )


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _reject_retired_codes(conn: Connection, frame: gpd.GeoDataFrame, report: ImportReport) -> None:
    retired: dict[str, dt.datetime] = {
        code: at
        for code, at in conn.execute(
            select(CellCode.code, CellCode.retired_at).where(
                CellCode.code.in_(list(frame["code"])), CellCode.retired_at.is_not(None)
            )
        )
        if at is not None
    }
    for row, code in frame[["row", "code"]].itertuples(index=False):
        if code in retired:
            report.rejected.append(
                Problem(
                    int(row),
                    code,
                    f"cell code {code} was retired on {retired[code]:%Y-%m-%d}; retired codes "
                    "are never reused: give this cell the next free code of its community",
                )
            )


def _publish_cells(
    conn: Connection,
    frame: gpd.GeoDataFrame,
    report: ImportReport,
    *,
    actor: str,
    published_by: str | None,
    method: str,
    note: str | None,
) -> None:
    columns = ["code", "name", *(["flags"] if "flags" in frame.columns else []), "geometry"]
    for community, cells in frame.groupby("parent_code", sort=True):
        diff = publish_cells(
            conn,
            str(community),
            cells[columns],
            method=method,
            expected_version=None,
            actor=actor,
            published_by=published_by,
            note=note,
        )
        report.unchanged.extend(diff.unchanged)
        report.updated.extend(diff.reshaped)
        report.inserted.extend(diff.added)
        report.retired.extend(diff.retired)
        if diff.version is not None:
            report.layout_versions[str(community)] = diff.version


def _upsert_names(table: type[District] | type[Street] | type[Community]) -> Insert:
    """Insert each row given, or only rename the area when its code is already stored."""
    upsert = pg_insert(table)
    return upsert.on_conflict_do_update(
        index_elements=[table.code], set_={"name": upsert.excluded.name}
    )


def load_divisions(
    engine: Engine, districts: Iterable[str] | None = None, *, actor: str
) -> dict[str, int]:
    """Store the official names and codes of districts, streets and communities.

    Reads the bundled National Bureau of Statistics list (``gridgis/data/
    divisions``; see its README for the source). Existing rows keep their
    boundaries; names are updated. Rows are added without geometry, which
    boundaries imports or the demo generator supply later.

    Parameters
    ----------
    engine:
        The database.
    districts:
        District codes to load (default: all in the list).
    actor:
        Who loads them: one audit row with the counts.

    Returns
    -------
    dict
        Rows written per level.

    Raises
    ------
    NotFoundError
        When a requested district code is not in the list.
    """
    folder = data_path("divisions")

    def rows(name: str) -> list[dict[str, str]]:
        with open(folder / name, encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    areas = rows("areas.csv")
    wanted = set(districts) if districts is not None else {a["code"] for a in areas}
    unknown = wanted - {a["code"] for a in areas}
    if unknown:
        known = ", ".join(f"{a['code']} {a['name']}" for a in areas)
        raise NotFoundError(
            f"district code(s) {', '.join(sorted(unknown))} are not in the bundled list ({known})",
            zh=f"区划编码 {'、'.join(sorted(unknown))} 不在内置的列表中（{known}）",
        )
    streets = [s for s in rows("streets.csv") if s["areaCode"] in wanted]
    villages = [v for v in rows("villages.csv") if v["areaCode"] in wanted]
    with engine.begin() as conn:
        conn.execute(
            _upsert_names(District),
            [{"code": a["code"], "name": a["name"]} for a in areas if a["code"] in wanted],
        )
        conn.execute(
            _upsert_names(Street),
            [
                {"code": s["code"], "district_code": s["areaCode"], "name": s["name"]}
                for s in streets
            ],
        )
        conn.execute(
            _upsert_names(Community),
            [
                {
                    "code": v["code"],
                    "street_code": v["streetCode"],
                    "name": v["name"],
                    "kind": "rural" if v["name"].endswith("村") else "urban",
                }
                for v in villages
            ],
        )
        counts = {"district": len(wanted), "street": len(streets), "community": len(villages)}
        audit.record(
            conn, actor=actor, action="load", object_type="divisions", object_id=None, after=counts
        )
    return counts
