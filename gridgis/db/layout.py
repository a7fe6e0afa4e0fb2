"""Reading a community's inputs for the cell engine and publishing layouts.

A publish is one transaction over every community it touches: the previous
layout stays intact if anything fails, and two publishes of the same
community cannot mix. Each community row is locked, and a publish computed
from layout version N is refused when the community is no longer at N. Each
published version writes a row of the audit trail (:mod:`gridgis.audit`) in the
same transaction, naming the cells added, reshaped and retired.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    FromClause,
    LargeBinary,
    ScalarSelect,
    Select,
    Update,
    bindparam,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import LateralFromClause

from gridgis import audit
from gridgis.db.cell_names import MAX_CELL_NAME as MAX_CELL_NAME
from gridgis.db.cell_names import rename_cell as rename_cell
from gridgis.db.continuity import LinkChange, carry_over
from gridgis.db.locate import cell_at
from gridgis.db.models import (
    LAYOUT_METHODS,
    SRID,
    Building,
    CellCode,
    Community,
    GridCell,
    LayoutVersion,
    Road,
)
from gridgis.db.queries import connection, ewkb, read_geoframe
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.partition.reconcile import same_shape

DEFAULT_BOUNDS = (300, 500)
"""Households per cell when the community sets none (urban practice)."""

METHODS = LAYOUT_METHODS

logger = logging.getLogger(__name__)


class LayoutChangedError(ConflictError):
    """A community's layout was published by someone else after this run read it."""


@dataclass
class CommunityInputs:
    """What the cell engine needs for one community, as stored.

    Attributes
    ----------
    code, name:
        The community.
    outline:
        Its polygon (EPSG:4326).
    buildings:
        ``id``, ``households``, ``residents`` and the footprint (or the point
        where there is none), EPSG:4326, index = building id.
    roads:
        Roads and barriers that touch the community (``kind``, lines).
    cells:
        The active cells (``id``, ``code``, ``households``, geometry).
    version:
        The layout version the inputs were read at (0: never drawn).
    used_codes:
        Every cell code ever issued in the community.
    bounds:
        ``(min, max)`` households per cell for this community.
    """

    code: str
    name: str
    outline: BaseGeometry
    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    version: int
    used_codes: list[str]
    bounds: tuple[int, int]


@dataclass
class LayoutDiff:
    """What a publish changed in one community."""

    community_code: str
    previous_version: int
    version: int | None = None
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    reshaped: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    households_moved: int = 0
    households_total: int = 0
    cells: list[dict[str, Any]] = field(default_factory=list)
    links_moved: list[LinkChange] = field(default_factory=list)
    links_undecided: list[LinkChange] = field(default_factory=list)

    @property
    def churn(self) -> float:
        """Share of households whose cell changed."""
        return self.households_moved / self.households_total if self.households_total else 0.0

    def line(self) -> str:
        """One line for people."""
        if self.version is None:
            return (
                f"{self.community_code}: no change, {len(self.unchanged)} cells kept "
                f"(version {self.previous_version})"
            )
        return (
            f"{self.community_code}: version {self.previous_version} -> {self.version}; "
            f"{len(self.added)} added, {len(self.retired)} retired, "
            f"{len(self.reshaped)} reshaped, {len(self.unchanged)} unchanged; "
            f"{self.households_moved} of {self.households_total} households moved "
            f"({self.churn:.1%})"
            + (f"; {len(self.links_moved)} links moved" if self.links_moved else "")
            + (
                f"; {len(self.links_undecided)} links without a clear successor"
                if self.links_undecided
                else ""
            )
        )

    def cell_lines(self) -> list[str]:
        """One line per cell that changed: its status and households before -> after."""
        return [
            f"  {c['code']} {c['status']}: {c['households_before']} -> {c['households_after']}"
            " households"
            for c in self.cells
            if c["status"] != "kept"
        ]


# The statements run for a community, built once: building a statement and its cache key
# costs about as much as running it (half a millisecond), and a district's load or
# republish runs each of them for every one of its hundreds of communities.

_COMMUNITY: BindParameter[str] = bindparam("community")
"""The community's code, bound when a statement below runs (``{"community": code}``)."""

_CURRENT_VERSION = select(func.coalesce(func.max(LayoutVersion.version), 0)).where(
    LayoutVersion.community_code == _COMMUNITY
)
_COMMUNITY_ROW = select(
    Community.code,
    Community.name,
    func.ST_AsBinary(Community.geom).label("wkb"),
    Community.min_households,
    Community.max_households,
).where(Community.code == _COMMUNITY)
_LOCK_COMMUNITY = select(Community.code).where(Community.code == _COMMUNITY).with_for_update()
_BUILDINGS = (
    select(
        Building.id,
        Building.households,
        Building.residents,
        ewkb(func.coalesce(Building.footprint, Building.location)),
    )
    .where(Building.community_code == _COMMUNITY)
    .order_by(Building.id)
)
_ROADS = (
    select(Road.id, Road.kind, ewkb(Road.geom))
    .join(Community, Community.code == _COMMUNITY)
    .where(func.ST_Intersects(Road.geom, Community.geom))
    .order_by(Road.id)
)
"""The roads and barriers that touch the community."""
_CELLS = (
    select(GridCell.id, GridCell.code, GridCell.households, ewkb(GridCell.geom))
    .where(GridCell.community_code == _COMMUNITY, GridCell.valid_to.is_(None))
    .order_by(GridCell.code)
)
_ACTIVE_CELLS = select(
    GridCell.id, GridCell.code, func.ST_AsBinary(GridCell.geom).label("wkb")
).where(GridCell.community_code == _COMMUNITY, GridCell.valid_to.is_(None))
_USED_CODES = select(CellCode.code).where(CellCode.community_code == _COMMUNITY)
_NOW = select(func.now())


def _cell_of(building: FromClause) -> LateralFromClause:
    """The active cell of ``building``'s point among its community's, for a ``LATERAL`` join
    (the rule of :func:`gridgis.db.locate.cell_at`)."""
    return cell_at(building.c.location, community=building.c.community_code).lateral("c")


def _building_cells_statement() -> Select[int, str, int]:
    """Each of the community's buildings ``id`` with its cell's ``code`` and its
    ``households`` (buildings in no active cell left out)."""
    building = Building.__table__.alias("b")
    cell = _cell_of(building)
    return (
        select(building.c.id, cell.c.code, building.c.households)
        .select_from(building.join(cell, true()))
        .where(building.c.community_code == _COMMUNITY)
    )


def _refresh_counts_statement() -> Update:
    """Set households and residents of the community's active cells to the sums of their
    buildings' (0 for a cell without buildings)."""
    building = Building.__table__.alias("b")
    cell = _cell_of(building)
    sums = (
        select(
            cell.c.code,
            func.sum(building.c.households).label("households"),
            func.sum(building.c.residents).label("residents"),
        )
        .select_from(building.join(cell, true()))
        .where(building.c.community_code == _COMMUNITY)
        .group_by(cell.c.code)
        .subquery("s")
    )
    active = GridCell.__table__.alias("c0")
    counts = (
        select(
            active.c.id,
            func.coalesce(sums.c.households, 0).label("households"),
            func.coalesce(sums.c.residents, 0).label("residents"),
        )
        .select_from(active.outerjoin(sums, sums.c.code == active.c.code))
        .where(active.c.community_code == _COMMUNITY, active.c.valid_to.is_(None))
        .subquery("n")
    )
    return (
        update(GridCell)
        .where(GridCell.id == counts.c.id)
        .values(households=counts.c.households, residents=counts.c.residents)
    )


_BUILDING_CELLS = _building_cells_statement()
_REFRESH_COUNTS = _refresh_counts_statement()
_NEW_VERSION = insert(LayoutVersion).returning(LayoutVersion.id)
"""A layout version: its values are the columns given when it runs."""
_CLOSE_CELLS = (
    update(GridCell)
    .where(GridCell.id.in_(bindparam("ids", expanding=True)))
    .values(valid_to=bindparam("now"), status="retired", version_to_id=bindparam("version_id"))
)
_RETIRE_CODES = (
    update(CellCode)
    .where(CellCode.code.in_(bindparam("codes", expanding=True)))
    .values(retired_at=bindparam("now"))
)
_NEW_CELLS = insert(GridCell).values(
    geom=func.ST_GeomFromWKB(bindparam("wkb", type_=LargeBinary), SRID)
)
"""Cells: the geometry from each row's ``wkb``, the other columns as given."""


def _cells_where(condition: ColumnElement[bool]) -> ScalarSelect[int]:
    """The number of cell rows meeting ``condition`` (a correlated subquery)."""
    return select(func.count()).select_from(GridCell).where(condition).scalar_subquery()


_HISTORY = (
    select(
        LayoutVersion.version,
        LayoutVersion.method,
        LayoutVersion.published_at,
        LayoutVersion.published_by,
        LayoutVersion.note,
        _cells_where(GridCell.version_from_id == LayoutVersion.id).label("added"),
        _cells_where(GridCell.version_to_id == LayoutVersion.id).label("closed"),
    )
    .where(LayoutVersion.community_code == _COMMUNITY)
    .order_by(LayoutVersion.version)
)


def communities_in(bind: Engine | Connection, prefix: str) -> list[str]:
    """Codes of the communities whose code starts with ``prefix`` (a district, street or one).

    Raises
    ------
    NotFoundError
        When there is none.
    """
    with connection(bind) as conn:
        codes = list(
            conn.execute(
                select(Community.code)
                .where(Community.code.like(prefix + "%"))
                .order_by(Community.code)
            ).scalars()
        )
    if not codes:
        raise NotFoundError(
            f"no community has a code starting with {prefix!r}",
            zh=f"没有编码以 {prefix!r} 开头的社区",
        )
    return codes


def current_version(conn: Connection, community_code: str) -> int:
    """The community's newest layout version, 0 when it was never drawn."""
    return int(conn.execute(_CURRENT_VERSION, {"community": community_code}).scalar_one())


def read_inputs(bind: Engine | Connection, community_code: str) -> CommunityInputs:
    """Read one community's outline, buildings, roads, cells and layout version.

    Raises
    ------
    NotFoundError
        When the community does not exist.
    InputError
        When it has no outline yet.
    """
    params = {"community": community_code}
    with connection(bind) as conn:
        row = conn.execute(_COMMUNITY_ROW, params).one_or_none()
        if row is None:
            raise NotFoundError(
                f"community {community_code!r} does not exist", zh=f"社区 {community_code!r} 不存在"
            )
        if row.wkb is None:
            raise InputError(
                f"community {community_code} ({row.name}) has no boundary yet: import it with "
                "`gridgis import boundaries FILE --level community`",
                zh=f"社区 {community_code}（{row.name}）还没有边界：请先导入（gridgis import "
                "boundaries FILE --level community）",
            )
        buildings = read_geoframe(conn, _BUILDINGS, params).set_index("id")
        roads = read_geoframe(conn, _ROADS, params)
        cells = read_geoframe(conn, _CELLS, params)
        used = list(conn.execute(_USED_CODES, params).scalars())
        version = current_version(conn, community_code)
    bounds = (
        row.min_households if row.min_households is not None else DEFAULT_BOUNDS[0],
        row.max_households if row.max_households is not None else DEFAULT_BOUNDS[1],
    )
    return CommunityInputs(
        code=row.code,
        name=row.name,
        outline=shapely.from_wkb(bytes(row.wkb)),
        buildings=buildings,
        roads=roads,
        cells=cells,
        version=version,
        used_codes=used,
        bounds=bounds,
    )


def _building_cells(conn: Connection, community_code: str) -> dict[int, tuple[str, int]]:
    """Each building's active cell code and households; boundary ties go to the smaller code."""
    rows = conn.execute(_BUILDING_CELLS, {"community": community_code})
    return {int(r.id): (str(r.code), int(r.households)) for r in rows}


def cell_households(bind: Engine | Connection, community_code: str) -> dict[str, int]:
    """Households of each active cell of a community counted from its buildings now.

    The stored ``grid_cell.households`` are refreshed when a layout is
    published; this counts with the same rule (a building counts in the
    cell that contains its point, ties to the smaller code) at any time, so
    an editor sees the cells that buildings' changes have pushed out of bounds.
    Cells without buildings are left out.
    """
    with connection(bind) as conn:
        counts: dict[str, int] = {}
        for code, households in _building_cells(conn, community_code).values():
            counts[code] = counts.get(code, 0) + households
        return counts


def cell_estimated_households(bind: Engine | Connection, within: str | None) -> dict[str, int]:
    """Households of each active cell that are estimates (``building.households_estimated``).

    Counted by the rule of :func:`cell_households` (a building counts in the cell of
    its community holding its point, ties to the smaller code), for the cells whose
    code starts with ``within`` (all when ``None``); cells without estimates are left
    out. A cell's share of estimated households tells how far its count is a guess.
    """
    b = Building.__table__
    cell = _cell_of(b)
    inner = (
        select(cell.c.code, b.c.households)
        .select_from(b)
        .join(cell, true())
        .where(b.c.households_estimated, b.c.households > 0)
    )
    if within is not None:
        inner = inner.where(b.c.community_code.startswith(within[:12], autoescape=True))
    rows = inner.subquery()
    query = (
        select(rows.c.code, func.sum(rows.c.households))
        .where(rows.c.code.is_not(None))
        .group_by(rows.c.code)
    )
    if within is not None and len(within) > 12:
        query = query.where(rows.c.code.startswith(within, autoescape=True))
    with connection(bind) as conn:
        return {str(code): int(total) for code, total in conn.execute(query)}


def refresh_cell_counts(conn: Connection, community_code: str) -> None:
    """Recount households and residents of the community's active cells from its buildings.

    A building counts in the active cell that contains its point; a point on
    a boundary shared by two cells counts in the one with the smaller code.
    """
    conn.execute(_REFRESH_COUNTS, {"community": community_code})


def _save_bounds(
    conn: Connection, community_code: str, bounds: tuple[int, int], *, actor: str
) -> None:
    """Make ``bounds`` the community's stored households per cell, with an audit row."""
    low, high = bounds
    if not 1 <= low <= high:
        raise InputError(
            f"households per cell must satisfy 1 <= min <= max, but min was {low} and max {high}",
            zh=f"每格户数应满足 1 <= 最少 <= 最多，但最少为 {low}，最多为 {high}",
        )
    before = conn.execute(
        select(Community.min_households, Community.max_households).where(
            Community.code == community_code
        )
    ).one()
    conn.execute(
        update(Community)
        .where(Community.code == community_code)
        .values(min_households=low, max_households=high)
    )
    audit.record(
        conn,
        actor=actor,
        action="update",
        object_type="community",
        object_id=community_code,
        before={"min_households": before[0], "max_households": before[1]},
        after={"min_households": low, "max_households": high},
        street_code=community_code[:9],
    )


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    return geom


def publish_cells(
    conn: Connection,
    community_code: str,
    cells: gpd.GeoDataFrame,
    *,
    method: str,
    expected_version: int | None,
    actor: str,
    published_by: str | None = None,
    note: str | None = None,
    now: dt.datetime | None = None,
    accept_unlinked: bool = False,
    bounds: tuple[int, int] | None = None,
    save_bounds: bool = False,
) -> LayoutDiff:
    """Publish ``cells`` as the community's new layout, inside the caller's transaction.

    Cells whose code and shape are already active stay as they are (same row,
    same code). A cell whose code is active with another shape is reshaped:
    the old row is closed (``valid_to``) and kept for history, a new row
    takes the code. Active codes missing from ``cells`` are retired for good.
    Households and residents of new rows are summed from the buildings whose
    point lies in them. The lineage of the closed rows is recorded and the links of
    workers and party organisations move to their successors
    (:mod:`gridgis.db.continuity`).

    Parameters
    ----------
    conn:
        A connection inside a transaction; the caller commits or rolls back.
    community_code:
        The community.
    cells:
        ``code``, geometry (EPSG:4326) and optionally ``flags`` (list of str)
        and ``name``.
    method:
        ``"draw"``, ``"adjust"``, ``"import"`` or ``"edit"``.
    expected_version:
        The layout version the cells were computed from; the publish is
        refused with :class:`LayoutChangedError` when the community has moved
        on. ``None`` skips the check (an import replaces whatever is there).
    actor:
        Who publishes (a user's name, ``cli:<login>``, ``system``): the audit trail's
        row of the new version names it.
    published_by, note:
        Recorded on the layout version; ``published_by`` defaults to ``actor``.
    now:
        The time the layout takes effect (default: the transaction's time).
    accept_unlinked:
        Leave links of retired cells without a clear successor where they are
        (listed in the diff and recorded) instead of refusing the publish.
    bounds:
        The ``(min, max)`` households per cell the cells were made and judged with,
        recorded on the version (None: the community's stored ones).
    save_bounds:
        Also make ``bounds`` the community's stored bounds (audited), even when
        the layout itself is unchanged.

    Returns
    -------
    LayoutDiff

    Raises
    ------
    UnlinkedError
        When links would be left without a clear successor and ``accept_unlinked`` is false.
    """
    if method not in METHODS:
        raise InputError(
            f"`method` was {method!r} but is expected to be one of {list(METHODS)}",
            zh=f"`method` 为 {method!r}，应为 {list(METHODS)} 之一",
        )
    if cells.crs is None or cells.crs.to_epsg() != 4326:
        raise InputError(
            f"cells must be in EPSG:4326 to be published, not {cells.crs}",
            zh=f"网格须为 EPSG:4326 坐标系才能发布，而不是 {cells.crs}",
        )
    params = {"community": community_code}
    locked = conn.execute(_LOCK_COMMUNITY, params).scalar()
    if locked is None:
        raise NotFoundError(
            f"community {community_code!r} does not exist", zh=f"社区 {community_code!r} 不存在"
        )
    previous = current_version(conn, community_code)
    if expected_version is not None and previous != expected_version:
        logger.info(
            "publish of community %s refused: computed from version %s, now at %s",
            community_code,
            expected_version,
            previous,
        )
        raise LayoutChangedError(
            f"the layout of community {community_code} changed under this run: it was "
            f"version {expected_version} when the cells were computed and is now version "
            f"{previous}; nothing was published, run it again on the new layout",
            zh=f"社区 {community_code} 的网格在本次计算期间有了变化：计算时为第 {expected_version}"
            f" 版，现在是第 {previous} 版；未发布任何内容，请基于新的网格重新计算",
        )
    diff = LayoutDiff(community_code, previous)
    if save_bounds and bounds is not None:
        _save_bounds(conn, community_code, bounds, actor=actor)
    when = now or conn.execute(_NOW).scalar_one()
    before = _building_cells(conn, community_code)
    active = {
        r.code: (int(r.id), shapely.from_wkb(bytes(r.wkb)))
        for r in conn.execute(_ACTIVE_CELLS, params)
    }
    codes = cells["code"].astype(str).tolist()
    geoms = [_multi(g) for g in cells.geometry]
    flags = cells["flags"].tolist() if "flags" in cells else [[] for _ in codes]
    names = cells["name"].tolist() if "name" in cells else [None for _ in codes]
    incoming = dict(zip(codes, zip(geoms, flags, names, strict=True), strict=True))
    unchanged = {
        c
        for c, (g, _, _) in incoming.items()
        if c in active and same_shape(active[c][1], g, tolerance=1e-9)
    }
    reshaped = {c for c in incoming if c in active} - unchanged
    added = set(incoming) - set(active)
    retired = set(active) - set(incoming)
    diff.unchanged, diff.reshaped = sorted(unchanged), sorted(reshaped)
    diff.added, diff.retired = sorted(added), sorted(retired)
    if not (reshaped or added or retired):
        diff.households_total = sum(h for _, h in before.values())
        diff.cells = _cell_rows(diff, before, before)
        return diff
    try:
        version_id = conn.execute(
            _NEW_VERSION,
            {
                "community_code": community_code,
                "version": previous + 1,
                "method": method,
                "published_by": published_by or actor,
                "published_at": when,
                "note": note,
                "min_households": None if bounds is None else bounds[0],
                "max_households": None if bounds is None else bounds[1],
            },
        ).scalar_one()
    except IntegrityError as exc:  # a concurrent publish took this version number
        raise LayoutChangedError(
            f"the layout of community {community_code} was published by someone else at the "
            "same time; nothing was published, run it again",
            zh=f"社区 {community_code} 的网格刚被其他人同时发布；未发布任何内容，请重新操作",
        ) from exc
    diff.version = previous + 1
    audit.record(
        conn,
        actor=actor,
        action="publish",
        object_type="layout",
        object_id=community_code,
        before={"version": previous, "cells": len(active)},
        after={
            "version": diff.version,
            "cells": len(incoming),
            "method": method,
            "added": diff.added,
            "reshaped": diff.reshaped,
            "retired": diff.retired,
        }
        | ({"note": note} if note else {}),
        street_code=community_code[:9],
    )
    closing = [active[c][0] for c in reshaped | retired]
    if closing:
        conn.execute(_CLOSE_CELLS, {"now": when, "version_id": version_id, "ids": closing})
    if retired:
        conn.execute(_RETIRE_CODES, {"now": when, "codes": sorted(retired)})
    if reshaped or added:
        conn.execute(
            _NEW_CELLS,
            [
                {
                    "code": c,
                    "community_code": community_code,
                    "name": incoming[c][2],
                    "wkb": shapely.to_wkb(incoming[c][0], output_dimension=2),
                    "version_from_id": version_id,
                    "valid_from": when,
                    "flags": list(incoming[c][1] or []),
                }
                for c in sorted(reshaped | added)
            ],
        )
    refresh_cell_counts(conn, community_code)
    after = _building_cells(conn, community_code)
    diff.links_moved, diff.links_undecided = carry_over(
        conn,
        community_code=community_code,
        version_id=version_id,
        closed={c: active[c][0] for c in reshaped | retired},
        reshaped=reshaped,
        before=before,
        after=after,
        old_geoms={c: active[c][1] for c in reshaped | retired},
        new_geoms={c: g for c, (g, _, _) in incoming.items()},
        accept_unlinked=accept_unlinked,
    )
    diff.cells = _cell_rows(diff, before, after)
    diff.households_total = sum(h for _, h in after.values())
    diff.households_moved = sum(
        h for bid, (code, h) in after.items() if before.get(bid, (None, 0))[0] != code
    )
    return diff


def _cell_rows(
    diff: LayoutDiff, before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]]
) -> list[dict[str, Any]]:
    """Each cell of the old and new layout: ``code``, ``status`` (kept, changed, new,
    retired), ``households_before``, ``households_after``."""
    sums: list[dict[str, int]] = [{}, {}]
    for total, cells in zip(sums, (before, after), strict=True):
        for code, households in cells.values():
            total[code] = total.get(code, 0) + households
    statuses = (
        [(c, "kept") for c in diff.unchanged]
        + [(c, "changed") for c in diff.reshaped]
        + [(c, "new") for c in diff.added]
        + [(c, "retired") for c in diff.retired]
    )
    return [
        {
            "code": code,
            "status": status,
            "households_before": None if status == "new" else sums[0].get(code, 0),
            "households_after": None if status == "retired" else sums[1].get(code, 0),
        }
        for code, status in sorted(statuses)
    ]


def layout_history(bind: Engine | Connection, community_code: str) -> list[dict[str, object]]:
    """Every published layout version of a community, oldest first, with its cell counts."""
    with connection(bind) as conn:
        rows = conn.execute(_HISTORY, {"community": community_code})
        return [dict(r._mapping) for r in rows]


def publish_many(
    engine: Engine,
    layouts: Sequence[tuple[str, gpd.GeoDataFrame, int | None]],
    *,
    method: str,
    actor: str,
    published_by: str | None = None,
    dry_run: bool = False,
    accept_unlinked: bool = False,
    bounds: Mapping[str, tuple[int, int]] | None = None,
    save_bounds: bool = False,
) -> list[LayoutDiff]:
    """Publish several communities' layouts in one transaction (all or none).

    Parameters
    ----------
    engine:
        The database.
    layouts:
        ``(community_code, cells, expected_version)`` for each community.
    method, actor, published_by:
        As for :func:`publish_cells`.
    dry_run:
        Compute the diffs, then roll back (links without a clear successor are listed
        in the diffs, not refused).
    accept_unlinked:
        As for :func:`publish_cells`.
    bounds, save_bounds:
        Each community's bounds the cells were made with (by code), recorded on its
        version; ``save_bounds`` stores them as the communities' own.
    """
    with engine.connect() as conn, conn.begin() as transaction:
        diffs = [
            publish_cells(
                conn,
                code,
                cells,
                method=method,
                expected_version=expected,
                actor=actor,
                published_by=published_by,
                accept_unlinked=accept_unlinked or dry_run,
                bounds=(bounds or {}).get(code),
                save_bounds=save_bounds,
            )
            for code, cells, expected in layouts
        ]
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()
    return diffs
