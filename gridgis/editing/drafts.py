"""Drafts: keeping a proposal between preview and publishing, and publishing it.

:func:`save_draft` stores a proposal in ``layout_draft``, :func:`load_draft`,
:func:`drafts_of` and :func:`draft_diff` read it back, :func:`publish_draft`
publishes it in one transaction (refusing a stale or invalid draft) and
:func:`discard_draft` / :func:`discard_drafts` throw drafts away; each
change leaves an audit row.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Boolean, Connection, Engine, cast, delete, func, insert, select
from sqlalchemy.exc import IntegrityError, InternalError

from gridgis import audit
from gridgis.db.layout import LayoutChangedError, LayoutDiff, current_version, publish_cells
from gridgis.db.models import LayoutDraft, LayoutVersion
from gridgis.db.queries import connection, transaction
from gridgis.editing.proposals import Proposal
from gridgis.errors import ConflictError, NotFoundError, Problem, ValidationError
from gridgis.partition.validate import LayoutReport


class StaleDraftError(LayoutChangedError):
    """A draft was computed from a layout version the community has since left."""


class UnpublishableDraftError(ValidationError):
    """A draft's validator report has errors; it cannot be published."""


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
    bounds:
        The ``(min, max)`` households per cell it was made and judged with (None: a
        draft stored before bounds were kept; the community's then).
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
    bounds: tuple[int, int] | None = None

    @property
    def stale(self) -> bool:
        """Whether the community has moved on since the draft was computed."""
        return self.current_version != self.base_version

    @property
    def publishable(self) -> bool:
        """Whether the validator found no error (warnings, such as excused flags, allowed)."""
        return bool(self.report.get("ok"))


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
                insert(LayoutDraft)
                .values(
                    community_code=proposal.community_code,
                    base_version=proposal.base_version,
                    method=proposal.method,
                    cells=cells_geojson(proposal.cells),
                    report=report_json(proposal.report),
                    created_by=created_by or actor,
                    min_households=proposal.bounds[0],
                    max_households=proposal.bounds[1],
                )
                .returning(LayoutDraft.id)
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


MAX_DRAFT_ID = 2**31 - 1
"""The largest id a draft can have (``layout_draft.id`` is a 4-byte integer)."""


def _draft_row(conn: Connection, draft_id: int, *, lock: bool = False) -> Any:
    if not 1 <= draft_id <= MAX_DRAFT_ID:
        # A larger number asked of the database would fail as out of range: no such draft.
        raise NotFoundError(
            f"draft {draft_id} does not exist (a draft id is 1 to {MAX_DRAFT_ID})",
            zh=f"草案 {draft_id} 不存在（草案编号为 1 到 {MAX_DRAFT_ID}）",
        )
    query = select(
        LayoutDraft.id,
        LayoutDraft.community_code,
        LayoutDraft.base_version,
        LayoutDraft.method,
        LayoutDraft.cells,
        LayoutDraft.report,
        LayoutDraft.created_by,
        LayoutDraft.created_at,
        LayoutDraft.min_households,
        LayoutDraft.max_households,
    ).where(LayoutDraft.id == draft_id)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise NotFoundError(
            f"draft {draft_id} does not exist: it was published or discarded already",
            zh=f"草案 {draft_id} 不存在：已发布或已放弃",
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
        bounds=(
            (int(row.min_households), int(row.max_households))
            if row.min_households is not None
            else None
        ),
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
            select(
                LayoutDraft.id,
                LayoutDraft.method,
                LayoutDraft.base_version,
                LayoutDraft.created_by,
                LayoutDraft.created_at,
                cast(LayoutDraft.report["ok"].astext, Boolean).label("ok"),
                func.jsonb_array_length(LayoutDraft.cells["features"]).label("cells"),
            )
            .where(LayoutDraft.community_code == community_code)
            .order_by(LayoutDraft.created_at.desc(), LayoutDraft.id.desc())
        )
        return [dict(r._mapping) for r in rows]


def draft_diff(engine: Engine, draft: Draft) -> LayoutDiff:
    """What publishing ``draft`` now would change (computed, then rolled back).

    The diff is taken against the community's current layout, even when the
    draft is stale (see :attr:`Draft.stale`). Links that would be left without a
    clear successor are listed in it (``links_undecided``), not refused.

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
                accept_unlinked=True,  # listed in the diff, for the person to decide
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
    engine: Engine,
    draft_id: int,
    *,
    actor: str,
    published_by: str | None = None,
    accept_unlinked: bool = False,
    save_bounds: bool = False,
) -> LayoutDiff:
    """Publish a draft as its community's new layout and delete it, in one transaction.

    ``actor`` is recorded in the audit trail (the layout's ``publish`` row, whose note
    names the draft); ``published_by`` (default ``actor``) on the layout version.
    ``accept_unlinked``: publish even when links of workers or organisations are left on
    retired cells without a clear successor (see :func:`gridgis.db.layout.publish_cells`).
    The version records the draft's bounds; ``save_bounds`` also makes them the
    community's stored bounds (audited).

    Raises
    ------
    NotFoundError
        When the draft does not exist (published or discarded already).
    StaleDraftError
        When the community's layout was published since the draft was
        computed; nothing is changed (discard the draft and propose again).
    UnpublishableDraftError
        When the draft's validator report has errors.
    UnlinkedError
        When links would be left without a clear successor and ``accept_unlinked`` is
        false; nothing is changed.
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
                zh=f"社区 {draft.community_code} 的草案 {draft_id} 有 "
                f"{draft.report.get('errors', 0)} 个校验错误；未发布任何内容",
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
                accept_unlinked=accept_unlinked,
                bounds=draft.bounds,
                save_bounds=save_bounds,
            )
        except LayoutChangedError as exc:
            raise StaleDraftError(
                f"draft {draft_id} was computed from version {draft.base_version} of the "
                f"layout of community {draft.community_code}, which has been published again "
                f"since (now version {max(draft.current_version, draft.base_version + 1)}); "
                "nothing was published: discard the draft and compute a new one",
                zh=f"草案 {draft_id} 基于社区 {draft.community_code} 的第 {draft.base_version} "
                "版网格计算，此后该社区网格已重新发布（现为第 "
                f"{max(draft.current_version, draft.base_version + 1)} 版）；"
                "未发布任何内容：请放弃本草案，重新计算",
            ) from exc
        except (IntegrityError, InternalError) as exc:
            raise _refused(draft, exc) from exc
        conn.execute(delete(LayoutDraft).where(LayoutDraft.id == draft_id))
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
            delete(LayoutDraft)
            .where(LayoutDraft.id == draft_id)
            .returning(LayoutDraft.community_code)
        ).scalar()
        if gone is not None:
            _audit_draft(conn, "delete", draft_id, gone, actor=actor)
    if gone is None:
        raise NotFoundError(
            f"draft {draft_id} does not exist: it was published or discarded already",
            zh=f"草案 {draft_id} 不存在：已发布或已放弃",
        )


def discard_drafts(
    bind: Engine | Connection, community_code: str, *, actor: str, stale_only: bool = False
) -> int:
    """Delete the drafts of a community (only those computed from an older version with
    ``stale_only``); return how many. Each is recorded in the audit trail as ``actor``'s."""
    statement = delete(LayoutDraft).where(LayoutDraft.community_code == community_code)
    if stale_only:
        version = (
            select(func.coalesce(func.max(LayoutVersion.version), 0))
            .where(LayoutVersion.community_code == community_code)
            .scalar_subquery()
        )
        statement = statement.where(LayoutDraft.base_version != version)
    with transaction(bind) as conn:
        gone = conn.execute(statement.returning(LayoutDraft.id)).scalars().all()
        for draft_id in gone:
            _audit_draft(conn, "delete", draft_id, community_code, actor=actor)
    return len(gone)
