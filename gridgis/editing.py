"""Editing one community's cells: propose a layout, keep it as a draft, publish it.

The steps an administrator takes, in the CLI (``gridgis cells draw|adjust``)
and in the web app alike:

1. :func:`propose_layout` runs the cell engine on the community as stored
   (``draw``: the whole community; ``adjust``: only the cells whose
   households break the bounds), or :func:`propose_from_file` reads an
   uploaded layout file (GeoJSON, GeoPackage, zipped shapefile; any CRS).
   Either gives a :class:`Proposal`: the new cells, the layout version they
   were computed from, and the validator's report.
2. :func:`save_draft` keeps a proposal in the ``layout_draft`` table, so it
   survives between the preview and the publish request (and across web
   workers); :func:`draft_diff` shows what publishing it would change.
3. :func:`publish_draft` publishes it in one transaction, refusing a draft
   whose community has moved on (:class:`StaleDraftError`) or whose
   validator report has errors; :func:`discard_draft` and
   :func:`discard_drafts` throw drafts away.

Nothing here knows about Flask; the database is reached through an engine
or a connection.

Examples
--------
>>> proposal = propose_layout(  # cells of 150 to 250 households instead of 300 to 500
...     engine, "350304001001", method="adjust", min_households=150, max_households=250
... )
>>> draft_id = save_draft(engine, proposal, actor="王芳")
>>> publish_draft(engine, draft_id, actor="王芳").line()
'350304001001: version 1 -> 2; ...'
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError, InternalError

from gridgis import audit
from gridgis import crs as crs_mod
from gridgis.codes import is_code
from gridgis.db.layout import (
    DEFAULT_BOUNDS,
    CommunityInputs,
    LayoutChangedError,
    LayoutDiff,
    current_version,
    publish_cells,
    read_inputs,
)
from gridgis.db.queries import connection, transaction
from gridgis.errors import (
    ConflictError,
    CRSError,
    InputError,
    NotFoundError,
    Problem,
    ValidationError,
    listing,
)
from gridgis.io import read_vector
from gridgis.paging import check_page
from gridgis.partition import adjust_cells, draw_cells
from gridgis.partition.reconcile import reconcile_codes
from gridgis.partition.validate import LayoutReport, validate_layout

PROPOSE_METHODS = ("draw", "adjust")
"""What :func:`propose_layout` can run."""

UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
"""Layout files :func:`read_layout_file` reads: GeoJSON, GeoPackage, a zipped shapefile."""

_SHOWN_ROWS = 5
"""How many other rows a duplicated code's problem names."""

CELL_COLUMNS = ["code", "households", "flags", "geometry"]
"""The columns of a proposal's cells."""


class NothingToDrawError(InputError):
    """The community has no buildings, so the engine has nothing to draw cells around."""


class StaleDraftError(LayoutChangedError):
    """A draft was computed from a layout version the community has since left."""


class UnpublishableDraftError(ValidationError):
    """A draft's validator report has errors; it cannot be published."""


@dataclass
class Proposal:
    """A new layout for one community, not yet stored or published.

    Attributes
    ----------
    community_code, community_name:
        The community.
    method:
        ``"draw"``, ``"adjust"`` or ``"import"`` (an uploaded file): what made it.
    base_version:
        The layout version the cells were computed from (0: never drawn);
        publishing is refused once the community is at another version.
    cells:
        ``code``, ``households`` (counted from the buildings), ``flags`` (the
        engine's, a list of str) and the polygon, EPSG:4326.
    report:
        The validator's findings on these cells, against the community's
        outline, buildings and household bounds.
    bounds:
        The ``(min, max)`` households per cell the cells were made and judged with.
    encoding, encoding_source:
        For a shapefile read from a file: its text encoding and where that came from
        (see :func:`gridgis.io.read_vector`); ``None`` otherwise.
    """

    community_code: str
    community_name: str
    method: str
    base_version: int
    cells: gpd.GeoDataFrame
    report: LayoutReport
    bounds: tuple[int, int]
    encoding: str | None = None
    encoding_source: str | None = None

    def flagged(self) -> list[str]:
        """One line per cell the engine flagged (e.g. a building above the maximum)."""
        return [
            f"{row.code}: {row.households} households ({', '.join(row.flags)})"
            for row in self.cells.itertuples()
            if row.flags
        ]


@dataclass
class Draft:
    """A stored proposal, as read back by :func:`load_draft`.

    Attributes
    ----------
    id, community_code, method, base_version, created_by, created_at:
        As stored.
    cells:
        As in :class:`Proposal`.
    report:
        The validator's report as stored (see :func:`report_json`).
    current_version:
        The community's layout version when the draft was read.
    """

    id: int
    community_code: str
    method: str
    base_version: int
    cells: gpd.GeoDataFrame
    report: dict[str, Any]
    created_by: str | None
    created_at: dt.datetime
    current_version: int

    @property
    def stale(self) -> bool:
        """Whether the community has moved on since the draft was computed."""
        return self.current_version != self.base_version

    @property
    def publishable(self) -> bool:
        """Whether the validator found no error (warnings, such as excused flags, allowed)."""
        return bool(self.report.get("ok"))


# --- proposing -----------------------------------------------------------------------------------


def _bounds(
    inputs: CommunityInputs, min_households: int | None, max_households: int | None
) -> tuple[int, int]:
    low = inputs.bounds[0] if min_households is None else int(min_households)
    high = inputs.bounds[1] if max_households is None else int(max_households)
    if low < 0 or low > high:
        raise InputError(
            f"households per cell must satisfy 0 <= min <= max, but min was {low} and max {high}"
        )
    return low, high


def _validated(
    inputs: CommunityInputs, cells: gpd.GeoDataFrame, method: str, bounds: tuple[int, int]
) -> Proposal:
    """Judge ``cells`` against the community's outline, buildings and bounds."""
    cells = cells.copy()
    if "flags" not in cells.columns:
        cells["flags"] = [[] for _ in range(len(cells))]
    cells["flags"] = [list(f) if isinstance(f, list | tuple) else [] for f in cells["flags"]]
    outline = gpd.GeoDataFrame({"code": [inputs.code]}, geometry=[inputs.outline], crs="EPSG:4326")
    units = inputs.buildings.rename_geometry("geometry")
    report = validate_layout(
        cells,
        communities=outline,
        units=units if not units.empty else None,
        households="households" if not units.empty else None,
        min_households=bounds[0],
        max_households=bounds[1],
        flags="flags",
    )
    counted = report.households
    if counted is not None:
        cells["households"] = counted.fillna(0).astype(int).to_numpy()
    elif "households" not in cells.columns:
        cells["households"] = 0
    return Proposal(
        community_code=inputs.code,
        community_name=inputs.name,
        method=method,
        base_version=inputs.version,
        cells=gpd.GeoDataFrame(cells[CELL_COLUMNS], geometry="geometry", crs="EPSG:4326"),
        report=report,
        bounds=bounds,
    )


def propose_layout(
    bind: Engine | Connection,
    community_code: str,
    *,
    method: str = "draw",
    seed: int = 0,
    min_households: int | None = None,
    max_households: int | None = None,
) -> Proposal:
    """Compute a new layout for one community with the cell engine; publish nothing.

    Parameters
    ----------
    bind:
        The database (read only).
    community_code:
        The community's 12-digit code.
    method:
        ``"draw"``: draw every cell again (cells that come out the same keep
        their codes, the others get fresh ones, never a retired one);
        ``"adjust"``: split or merge only the cells whose households break
        the bounds (动态调整). A community never drawn is drawn.
    seed:
        Random seed of the engine.
    min_households, max_households:
        Households per cell; ``None``: the community's own bounds (else 300–500).

    Returns
    -------
    Proposal
        With ``method`` the one actually run.

    Raises
    ------
    NotFoundError
        When the community does not exist.
    NothingToDrawError
        When it has no buildings.
    InputError
        When ``method`` or the bounds are wrong, or it has no outline.

    Examples
    --------
    >>> p = propose_layout(engine, "350304002001", method="adjust")
    >>> p.report.ok, p.base_version
    (True, 1)
    """
    if method not in PROPOSE_METHODS:
        raise InputError(f"`method` was {method!r} but is expected to be one of {PROPOSE_METHODS}")
    inputs = read_inputs(bind, community_code)
    bounds = _bounds(inputs, min_households, max_households)
    if inputs.buildings.empty:
        raise NothingToDrawError(
            f"community {inputs.code} ({inputs.name}) has no buildings: there is nothing "
            "to draw cells around"
        )
    buildings = inputs.buildings.rename_geometry("geometry")
    roads = inputs.roads if not inputs.roads.empty else None
    old = inputs.cells.rename_geometry("geometry")
    if method == "adjust" and not old.empty:
        active = set(old["code"])
        cells = adjust_cells(
            old,
            buildings,
            community=inputs.outline,
            community_code=inputs.code,
            roads=roads,
            retired_codes=[c for c in inputs.used_codes if c not in active],
            seed=seed,
            min_households=bounds[0],
            max_households=bounds[1],
        ).cells
    else:
        method = "draw"
        cells = draw_cells(
            buildings,
            community=inputs.outline,
            community_code=inputs.code,
            roads=roads,
            seed=seed,
            min_households=bounds[0],
            max_households=bounds[1],
        ).cells.copy()
        cells["code"] = reconcile_codes(
            cells, old[["code", "geometry"]], prefix=inputs.code, used_codes=inputs.used_codes
        )
    return _validated(inputs, cells, method, bounds)


# --- layout files --------------------------------------------------------------------------------


def _code_text(value: object) -> str | None:
    """A code as text: numbers written by spreadsheets and DBF files lose their ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text_value = str(value).strip()
    return text_value or None


def _code_column(frame: gpd.GeoDataFrame, source: str) -> str:
    for column in frame.columns:
        if str(column).lower() == "code" and column != frame.geometry.name:
            return str(column)
    columns = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name) or "none"
    raise InputError(
        f"{source} has no `code` column with each cell's 15-digit code; its columns are {columns}"
    )


def read_layout_file(
    path: str | Path,
    community_code: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    retired_codes: Iterable[str] = (),
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a layout file into the cells of one community, rejecting bad features.

    Parameters
    ----------
    path:
        GeoJSON, GeoPackage, or a ``.zip`` holding a shapefile; one polygon
        per cell and a ``code`` column (any case) with its 15-digit code.
    community_code:
        The community the cells must belong to (their codes start with it).
    crs:
        The coordinates' system when the file does not say it, or to
        override it for GCJ-02 / BD-09 (``"gcj02"``, ``"bd09"``, ``"EPSG:4547"``...).
    encoding, layer:
        As for :func:`gridgis.io.read_vector`.
    retired_codes:
        Codes the community retired; they are never issued again.
    name:
        The file's name in messages (an upload's own name); default ``path``.

    Returns
    -------
    GeoDataFrame
        ``code``, ``flags`` (empty) and the (Multi)Polygon of each cell, EPSG:4326;
        its ``attrs`` say how a shapefile's text was decoded (``encoding``,
        ``encoding_source``, as :func:`gridgis.io.read_vector` sets them).

    Raises
    ------
    ValidationError
        Listing every rejected feature by its 1-based row number and the reason:
        no or empty geometry, not a polygon, an invalid polygon, a missing,
        malformed, foreign, duplicated or retired code.
    CRSError
        When the file does not say its CRS and ``crs`` is not given.
    InputError
        When the file cannot be read, has no ``code`` column or no feature.

    Examples
    --------
    >>> cells = read_layout_file("cells.zip", "350304001001")  # doctest: +SKIP
    """
    source = name or str(path)
    frame = read_vector(path, encoding=encoding, layer=layer, name=source)
    if frame.crs is None and crs is None:
        raise CRSError(
            f"{source} does not say its coordinate system (CRS): name it ({crs_mod.CRS_CHOICES})"
        )
    if crs is not None:
        spec = crs_mod.parse_crs(crs)
        frame = crs_mod.to_wgs84_frame(frame, spec, allow_override=spec.is_obfuscated)
    else:
        frame = crs_mod.to_wgs84_frame(frame)
    if frame.empty:
        raise InputError(f"{source} holds no feature")
    column = _code_column(frame, source)
    retired = set(retired_codes)
    geoms = shapely.force_2d(frame.geometry.to_numpy())
    codes = [_code_text(v) for v in frame[column]]
    seen: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        if code is not None:
            seen.setdefault(code, []).append(i + 1)
    problems: list[Problem] = []
    for i, (geom, code) in enumerate(zip(geoms, codes, strict=True)):
        row = i + 1
        if geom is None or shapely.is_empty(geom):
            problems.append(Problem(row, code, "the feature has no geometry"))
        elif not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            problems.append(Problem(row, code, f"a cell must be a polygon, not a {geom.geom_type}"))
        elif not shapely.is_valid(geom):
            problems.append(Problem(row, code, f"invalid polygon: {shapely.is_valid_reason(geom)}"))
        if code is None:
            problems.append(Problem(row, None, "the `code` is empty"))
        elif not is_code(code, "cell"):
            problems.append(Problem(row, code, "a cell code has 15 digits"))
        elif not code.startswith(community_code):
            problems.append(Problem(row, code, f"the code is not of community {community_code}"))
        elif code in retired:
            problems.append(Problem(row, code, "the code was retired and is never issued again"))
        elif len(seen[code]) > 1:
            # Bounded: 2,000 rows sharing a code must not give 2,000 lists of 1,999 rows.
            others = itertools.islice((r for r in seen[code] if r != row), _SHOWN_ROWS)
            listed = listing(
                others, noun="", shown=_SHOWN_ROWS, sep=", ", count=len(seen[code]) - 1
            )
            problems.append(Problem(row, code, f"the code is also on row(s) {listed}"))
    if problems:
        raise ValidationError(
            f"{source}: {len({p.row for p in problems})} of {len(frame)} features rejected, "
            "nothing was stored",
            problems,
        )
    cells = gpd.GeoDataFrame(
        {"code": codes, "flags": [[] for _ in codes]},
        geometry=list(geoms),
        crs="EPSG:4326",
    )
    cells.attrs.update(frame.attrs)  # how the text was decoded
    return cells


def propose_from_file(
    bind: Engine | Connection,
    community_code: str,
    path: str | Path,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    name: str | None = None,
) -> Proposal:
    """Read a layout file (see :func:`read_layout_file`) as a proposal for one community.

    The cells are judged like the engine's, against the community's outline,
    buildings and household bounds; ``method`` is ``"import"``.
    """
    inputs = read_inputs(bind, community_code)
    active = set(inputs.cells["code"])
    cells = read_layout_file(
        path,
        inputs.code,
        crs=crs,
        encoding=encoding,
        layer=layer,
        retired_codes=[c for c in inputs.used_codes if c not in active],
        name=name,
    )
    proposal = _validated(inputs, cells, "import", inputs.bounds)
    proposal.encoding = cells.attrs.get("encoding")
    proposal.encoding_source = cells.attrs.get("encoding_source")
    return proposal


# --- drafts --------------------------------------------------------------------------------------


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def report_json(report: LayoutReport) -> dict[str, Any]:
    """A validator report as stored with a draft: ``ok``, counts, summary and findings."""
    errors = sum(f.severity == "error" for f in report.findings)
    return {
        "ok": report.ok,
        "errors": errors,
        "warnings": len(report.findings) - errors,
        "summary": report.lines()[0],
        "findings": [
            {
                "kind": f.kind,
                "severity": f.severity,
                "code": f.code,
                "other": f.other,
                "measure": _number(f.measure),
                "unit": f.unit,
                "detail": f.detail,
                "lon": f.lon,
                "lat": f.lat,
            }
            for f in report.findings
        ],
    }


def cells_geojson(cells: gpd.GeoDataFrame) -> dict[str, Any]:
    """Cells as a GeoJSON FeatureCollection (``code``, ``households``, ``flags``)."""
    features = []
    for row in cells.itertuples():
        properties: dict[str, Any] = {"code": str(row.code)}
        if "households" in cells.columns:
            properties["households"] = int(row.households) if pd.notna(row.households) else None
        properties["flags"] = list(getattr(row, "flags", None) or [])
        features.append(
            {
                "type": "Feature",
                "properties": properties,
                "geometry": shapely.geometry.mapping(row.geometry),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _cells_from_geojson(collection: dict[str, Any]) -> gpd.GeoDataFrame:
    features = collection.get("features") or []
    geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    return gpd.GeoDataFrame(
        {
            "code": [str(f["properties"]["code"]) for f in features],
            "households": [f["properties"].get("households") for f in features],
            "flags": [list(f["properties"].get("flags") or []) for f in features],
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def save_draft(
    bind: Engine | Connection, proposal: Proposal, *, actor: str, created_by: str | None = None
) -> int:
    """Store ``proposal`` as a draft of its community; return the draft's id.

    ``created_by`` (default ``actor``) is kept with the draft; ``actor`` is recorded in the
    audit trail (object type ``draft``).
    """
    with transaction(bind) as conn:
        draft_id = int(
            conn.execute(
                text(
                    "INSERT INTO layout_draft (community_code, base_version, method, cells, "
                    "report, created_by) VALUES (:c, :v, :m, :cells, :report, :by) RETURNING id"
                ).bindparams(bindparam("cells", type_=JSONB), bindparam("report", type_=JSONB)),
                {
                    "c": proposal.community_code,
                    "v": proposal.base_version,
                    "m": proposal.method,
                    "cells": cells_geojson(proposal.cells),
                    "report": report_json(proposal.report),
                    "by": created_by or actor,
                },
            ).scalar_one()
        )
        _audit_draft(conn, "create", draft_id, proposal.community_code, actor=actor)
        return draft_id


def _audit_draft(
    conn: Connection, action: str, draft_id: int, community: str, *, actor: str
) -> None:
    audit.record(
        conn,
        actor=actor,
        action=action,
        object_type="draft",
        object_id=draft_id,
        after={"community_code": community} if action == "create" else None,
        before={"community_code": community} if action == "delete" else None,
        street_code=community[:9],
    )


def _draft_row(conn: Connection, draft_id: int, *, lock: bool = False) -> Any:
    row = conn.execute(
        text(
            "SELECT id, community_code, base_version, method, cells, report, created_by, "
            "created_at FROM layout_draft WHERE id = :id" + (" FOR UPDATE" if lock else "")
        ),
        {"id": draft_id},
    ).one_or_none()
    if row is None:
        raise NotFoundError(
            f"draft {draft_id} does not exist: it was published or discarded already"
        )
    return row


def _draft(conn: Connection, row: Any) -> Draft:
    return Draft(
        id=int(row.id),
        community_code=str(row.community_code),
        method=str(row.method),
        base_version=int(row.base_version),
        cells=_cells_from_geojson(row.cells),
        report=dict(row.report),
        created_by=row.created_by,
        created_at=row.created_at,
        current_version=current_version(conn, row.community_code),
    )


def load_draft(bind: Engine | Connection, draft_id: int) -> Draft:
    """Read a draft back.

    Raises
    ------
    NotFoundError
        When there is no such draft (published or discarded meanwhile).
    """
    with connection(bind) as conn:
        return _draft(conn, _draft_row(conn, draft_id))


def drafts_of(bind: Engine | Connection, community_code: str) -> list[dict[str, Any]]:
    """The community's drafts, newest first: ``id``, ``method``, ``base_version``,
    ``created_by``, ``created_at``, ``ok``, ``cells`` (their number)."""
    with connection(bind) as conn:
        rows = conn.execute(
            text(
                "SELECT id, method, base_version, created_by, created_at, "
                "(report ->> 'ok')::boolean AS ok, "
                "jsonb_array_length(cells -> 'features') AS cells "
                "FROM layout_draft WHERE community_code = :c ORDER BY created_at DESC, id DESC"
            ),
            {"c": community_code},
        )
        return [dict(r._mapping) for r in rows]


def draft_diff(engine: Engine, draft: Draft) -> LayoutDiff:
    """What publishing ``draft`` now would change (computed, then rolled back).

    The diff is taken against the community's current layout, even when the
    draft is stale (see :attr:`Draft.stale`).

    Raises
    ------
    ConflictError
        When the database would refuse the cells (a stale draft that issues
        a code retired since); nothing is changed.
    """
    with engine.connect() as conn, conn.begin() as transaction:
        try:
            return publish_cells(
                conn,
                draft.community_code,
                draft.cells[["code", "flags", "geometry"]],
                method=draft.method,
                expected_version=None,
                actor=audit.SYSTEM,  # rolled back below, audit row and all
            )
        except (IntegrityError, InternalError) as exc:
            raise _refused(draft, exc) from exc
        finally:
            transaction.rollback()


def _refused(draft: Draft, exc: Exception) -> ConflictError:
    return ConflictError(
        f"the database refused draft {draft.id} of community {draft.community_code}: "
        f"{str(getattr(exc, 'orig', exc)).strip()}; nothing was published"
    )


def publish_draft(
    engine: Engine, draft_id: int, *, actor: str, published_by: str | None = None
) -> LayoutDiff:
    """Publish a draft as its community's new layout and delete it, in one transaction.

    ``actor`` is recorded in the audit trail (the layout's ``publish`` row, whose note
    names the draft); ``published_by`` (default ``actor``) on the layout version.

    Raises
    ------
    NotFoundError
        When the draft does not exist (published or discarded already).
    StaleDraftError
        When the community's layout was published since the draft was
        computed; nothing is changed (discard the draft and propose again).
    UnpublishableDraftError
        When the draft's validator report has errors.
    ConflictError
        When the database refuses the cells; nothing is changed.
    """
    with engine.connect() as conn, conn.begin():
        row = _draft_row(conn, draft_id, lock=True)
        draft = _draft(conn, row)
        if not draft.publishable:
            raise UnpublishableDraftError(
                f"draft {draft_id} of community {draft.community_code} has "
                f"{draft.report.get('errors', 0)} validation error(s); nothing was published",
                [
                    Problem(None, f["code"], f"{f['kind']}: {f['detail']}")
                    for f in draft.report.get("findings", [])
                    if f["severity"] == "error"
                ],
            )
        try:
            diff = publish_cells(
                conn,
                draft.community_code,
                draft.cells[["code", "flags", "geometry"]],
                method=draft.method,
                expected_version=draft.base_version,
                actor=actor,
                published_by=published_by,
                note=f"draft {draft_id}",
            )
        except LayoutChangedError as exc:
            raise StaleDraftError(
                f"draft {draft_id} was computed from version {draft.base_version} of the "
                f"layout of community {draft.community_code}, which has been published again "
                f"since (now version {max(draft.current_version, draft.base_version + 1)}); "
                "nothing was published: discard the draft and compute a new one"
            ) from exc
        except (IntegrityError, InternalError) as exc:
            raise _refused(draft, exc) from exc
        conn.execute(text("DELETE FROM layout_draft WHERE id = :id"), {"id": draft_id})
    return diff


def discard_draft(bind: Engine | Connection, draft_id: int, *, actor: str) -> None:
    """Delete a draft (``actor`` is recorded in the audit trail).

    Raises
    ------
    NotFoundError
        When there is no such draft.
    """
    with transaction(bind) as conn:
        gone = conn.execute(
            text("DELETE FROM layout_draft WHERE id = :id RETURNING community_code"),
            {"id": draft_id},
        ).scalar()
        if gone is not None:
            _audit_draft(conn, "delete", draft_id, gone, actor=actor)
    if gone is None:
        raise NotFoundError(
            f"draft {draft_id} does not exist: it was published or discarded already"
        )


def discard_drafts(
    bind: Engine | Connection, community_code: str, *, actor: str, stale_only: bool = False
) -> int:
    """Delete the drafts of a community (only those computed from an older version with
    ``stale_only``); return how many. Each is recorded in the audit trail as ``actor``'s."""
    sql = "DELETE FROM layout_draft WHERE community_code = :c"
    if stale_only:
        sql += (
            " AND base_version <> (SELECT coalesce(max(version), 0) FROM layout_version "
            "WHERE community_code = :c)"
        )
    with transaction(bind) as conn:
        gone = conn.execute(text(sql + " RETURNING id"), {"c": community_code}).scalars().all()
        for draft_id in gone:
            _audit_draft(conn, "delete", draft_id, community_code, actor=actor)
    return len(gone)


# --- what the editor lists -----------------------------------------------------------------------


@dataclass(frozen=True)
class CommunitySummary:
    """A community as the editor lists it."""

    code: str
    name: str
    street_code: str
    street_name: str
    cells: int
    out_of_bounds: int
    version: int
    drafts: int


def community_summaries(
    bind: Engine | Connection, *, search: str | None = None, limit: int = 500
) -> list[CommunitySummary]:
    """Every community (or those whose code or name contains ``search``) with its number
    of active cells, of cells outside its household bounds, its layout version and its
    number of drafts; ordered by street and code; at most ``limit`` (1 to 1000, as
    :func:`gridgis.paging.check_page` checks)."""
    limit, _ = check_page(limit, 0)
    sql = (
        "SELECT c.code, c.name, s.code AS street_code, s.name AS street_name, "
        "count(g.id) AS cells, "
        "count(g.id) FILTER (WHERE g.households < coalesce(c.min_households, :lo) "
        "OR g.households > coalesce(c.max_households, :hi)) AS out_of_bounds, "
        "(SELECT coalesce(max(v.version), 0) FROM layout_version v "
        "WHERE v.community_code = c.code) AS version, "
        "(SELECT count(*) FROM layout_draft d WHERE d.community_code = c.code) AS drafts "
        "FROM community c JOIN street s ON s.code = c.street_code "
        "LEFT JOIN grid_cell g ON g.community_code = c.code AND g.valid_to IS NULL "
    )
    params: dict[str, Any] = {"lo": DEFAULT_BOUNDS[0], "hi": DEFAULT_BOUNDS[1], "limit": limit}
    if search and search.strip():
        sql += "WHERE c.code LIKE :prefix OR c.name LIKE :contains OR s.name LIKE :contains "
        term = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params |= {"prefix": term + "%", "contains": "%" + term + "%"}
    sql += "GROUP BY c.code, s.code ORDER BY s.code, c.code LIMIT :limit"
    with connection(bind) as conn:
        return [CommunitySummary(**r._mapping) for r in conn.execute(text(sql), params)]


def out_of_bounds(households: Any, bounds: tuple[int, int]) -> list[bool]:
    """Whether each household count lies outside ``bounds`` (``None`` counts as inside)."""
    return [
        h is not None and not pd.isna(h) and not bounds[0] <= h <= bounds[1] for h in households
    ]
