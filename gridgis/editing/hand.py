"""Editing a draft by hand, step by step, each step undoable.

:func:`start_hand_edit` makes a draft of a community's current cells (method
``edit``); :func:`apply_edit` makes one edit on a draft (move buildings, merge,
split, reshape: :mod:`gridgis.partition.hand`), judges the result with the
validator against the draft's bounds and keeps the draft's previous cells in
``layout_draft_step``; :func:`undo_edit` puts the previous cells back;
:func:`edit_steps` lists the steps. Each runs in one transaction with the draft
row locked (two people editing the same draft take turns) and leaves an audit
row. A draft edited by hand is previewed and published like any other
(:func:`gridgis.editing.draft_diff`, :func:`gridgis.editing.publish_draft`).

Parameters of an edit (``params``; building ids are the database's, cell codes
the draft's):

``move``
    ``{"buildings": [id, ...], "to": code}``
``merge``
    ``{"into": code, "other": code}`` (``into`` keeps its code)
``split``
    ``{"code": code, "buildings": [id, ...]}`` or ``{"code": code, "line":
    [[lon, lat], ...]}``; the new cell's code is added as ``"new_code"``
``reshape``
    ``{"code": code, "outline": [[lon, lat], ...]}`` (one ring)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from gridgis import audit
from gridgis.db.layout import CommunityInputs, read_inputs
from gridgis.db.models import HAND_EDITS, LayoutDraft, LayoutDraftStep
from gridgis.db.queries import connection, transaction
from gridgis.editing.drafts import (
    _cells_from_geojson,
    _draft,
    _draft_row,
    cells_geojson,
    report_json,
    save_draft,
)
from gridgis.editing.proposals import CELL_COLUMNS, Proposal, _bounds, _validated
from gridgis.errors import InputError, NotFoundError
from gridgis.partition import hand

__all__ = ["EditStep", "apply_edit", "edit_steps", "start_hand_edit", "undo_edit"]


@dataclass(frozen=True)
class EditStep:
    """One step of a draft's hand editing, as listed by :func:`edit_steps`."""

    seq: int
    action: str
    params: dict[str, Any]
    created_by: str | None
    created_at: Any


def start_hand_edit(
    bind: Engine | Connection,
    community_code: str,
    *,
    actor: str,
    min_households: int | None = None,
    max_households: int | None = None,
) -> int:
    """Make a draft (method ``edit``) of the community's cells as they are; return its id.

    Bounds default to the community's own; the draft is judged with them.

    Raises
    ------
    NotFoundError
        When the community does not exist.
    InputError
        When it has no cells yet (draw them first), no outline, or the bounds are wrong.
    """
    with transaction(bind) as conn:
        inputs = read_inputs(conn, community_code)
        if inputs.cells.empty:
            raise InputError(
                f"community {inputs.code} ({inputs.name}) has no cells yet: draw them first, "
                "then edit them by hand",
                zh=f"社区 {inputs.code}（{inputs.name}）还没有网格：请先划分网格，再手工修改",
            )
        bounds = _bounds(inputs, min_households, max_households)
        cells = inputs.cells.rename_geometry("geometry")[["code", "geometry"]].copy()
        proposal = _validated(inputs, cells, "edit", bounds)
        return save_draft(conn, proposal, actor=actor)


def _line(points: Any, what: str, *, ring: bool = False) -> Any:
    try:
        coords = [(float(x), float(y)) for x, y in points]
    except (TypeError, ValueError):
        raise InputError(
            f"`{what}` was {points!r} but is expected to be [[lon, lat], ...]",
            zh=f"`{what}` 为 {points!r}，应为 [[经度, 纬度], ...]",
        ) from None
    need = 3 if ring else 2
    if len(coords) < need:
        raise InputError(
            f"`{what}` has {len(coords)} points but needs at least {need}",
            zh=f"`{what}` 只有 {len(coords)} 个点，至少需要 {need} 个",
        )
    return shapely.Polygon(coords) if ring else shapely.LineString(coords)


def _ids(values: Any, what: str) -> list[int]:
    if not isinstance(values, list) or not values:
        raise InputError(
            f"`{what}` was {values!r} but is expected to be a list of building ids",
            zh=f"`{what}` 为 {values!r}，应为楼栋编号的列表",
        )
    try:
        return [int(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(
            f"`{what}` was {values!r} but is expected to be building ids",
            zh=f"`{what}` 为 {values!r}，应为楼栋编号",
        ) from None


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(
            f"`{key}` was {value!r} but is expected to be a cell code",
            zh=f"`{key}` 为 {value!r}，应为网格编码",
        )
    return value


def _edit(
    action: str, params: dict[str, Any], cells: gpd.GeoDataFrame, inputs: CommunityInputs
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The cells after one edit, and the params as kept (with what the edit made)."""
    buildings = inputs.buildings.rename_geometry("geometry")
    roads = inputs.roads if not inputs.roads.empty else None
    kept = dict(params)
    if action == "move":
        ids = _ids(params.get("buildings"), "buildings")
        out = hand.move_buildings(cells, buildings, ids, _text(params, "to"), roads=roads)
    elif action == "merge":
        out = hand.merge_cells(cells, _text(params, "into"), _text(params, "other"))
    elif action == "split":
        code = _text(params, "code")
        if params.get("line") is not None:
            out, fresh = hand.split_by_line(
                cells,
                buildings,
                _line(params["line"], "line"),
                code=code,
                used_codes=inputs.used_codes,
                prefix=inputs.code,
                roads=roads,
            )
        else:
            out, fresh = hand.split_by_buildings(
                cells,
                buildings,
                _ids(params.get("buildings"), "buildings"),
                code=code,
                used_codes=inputs.used_codes,
                prefix=inputs.code,
                roads=roads,
            )
        kept["new_code"] = fresh
    elif action == "reshape":
        outline = _line(params.get("outline"), "outline", ring=True)
        out = hand.reshape_cell(
            cells, _text(params, "code"), shapely.make_valid(outline), community=inputs.outline
        )
    else:
        raise InputError(
            f"`action` was {action!r} but is expected to be one of {list(HAND_EDITS)}",
            zh=f"`action` 为 {action!r}，应为以下之一：{list(HAND_EDITS)}",
        )
    return out, kept


def apply_edit(
    engine: Engine, draft_id: int, action: str, params: dict[str, Any], *, actor: str
) -> Proposal:
    """Make one hand edit on a draft and keep it; return the draft's new cells and report.

    Raises
    ------
    NotFoundError
        When the draft does not exist.
    HandEditError
        When the edit cannot be made (see :mod:`gridgis.partition.hand`); nothing changes.
    InputError
        When ``action`` or ``params`` are malformed; nothing changes.
    """
    with engine.begin() as conn:
        draft = _draft(conn, _draft_row(conn, draft_id, lock=True))
        inputs = read_inputs(conn, draft.community_code)
        bounds = draft.bounds or inputs.bounds
        before = draft.cells[CELL_COLUMNS]
        cells, kept = _edit(action, params, before[["code", "flags", "geometry"]], inputs)
        proposal = _validated(inputs, cells, draft.method, bounds)
        proposal.base_version = draft.base_version
        seq = conn.execute(
            select(func.coalesce(func.max(LayoutDraftStep.seq), 0) + 1).where(
                LayoutDraftStep.draft_id == draft_id
            )
        ).scalar_one()
        conn.execute(
            insert(LayoutDraftStep).values(
                draft_id=draft_id,
                seq=seq,
                action=action,
                params=kept,
                cells=cells_geojson(before),
                report=draft.report,
                created_by=actor,
            )
        )
        conn.execute(
            update(LayoutDraft)
            .where(LayoutDraft.id == draft_id)
            .values(cells=cells_geojson(proposal.cells), report=report_json(proposal.report))
        )
        audit.record(
            conn,
            actor=actor,
            action="edit",
            object_type="draft",
            object_id=draft_id,
            after={"step": seq, "action": action, **_audited(kept)},
            street_code=draft.community_code[:9],
        )
    return proposal


def _audited(params: dict[str, Any]) -> dict[str, Any]:
    """What the audit row keeps of an edit: codes and building ids, not drawn coordinates."""
    return {k: v for k, v in params.items() if k not in ("line", "outline")}


def undo_edit(bind: Engine | Connection, draft_id: int, *, actor: str) -> EditStep:
    """Undo the draft's last hand edit (its cells and report as before it); return that step.

    Raises
    ------
    NotFoundError
        When the draft does not exist or has no step to undo.
    """
    with transaction(bind) as conn:
        draft = _draft(conn, _draft_row(conn, draft_id, lock=True))
        step = conn.execute(
            select(
                LayoutDraftStep.id,
                LayoutDraftStep.seq,
                LayoutDraftStep.action,
                LayoutDraftStep.params,
                LayoutDraftStep.cells,
                LayoutDraftStep.report,
                LayoutDraftStep.created_by,
                LayoutDraftStep.created_at,
            )
            .where(LayoutDraftStep.draft_id == draft_id)
            .order_by(LayoutDraftStep.seq.desc())
            .limit(1)
        ).one_or_none()
        if step is None:
            raise NotFoundError(
                f"draft {draft_id} has no edit to undo", zh=f"草案 {draft_id} 没有可以撤销的修改"
            )
        conn.execute(
            update(LayoutDraft)
            .where(LayoutDraft.id == draft_id)
            .values(cells=step.cells, report=step.report)
        )
        conn.execute(delete(LayoutDraftStep).where(LayoutDraftStep.id == step.id))
        audit.record(
            conn,
            actor=actor,
            action="undo",
            object_type="draft",
            object_id=draft_id,
            before={"step": step.seq, "action": step.action},
            street_code=draft.community_code[:9],
        )
        return EditStep(step.seq, step.action, dict(step.params), step.created_by, step.created_at)


def edit_steps(bind: Engine | Connection, draft_id: int) -> list[EditStep]:
    """The draft's hand edits, first to last."""
    with connection(bind) as conn:
        rows = conn.execute(
            select(
                LayoutDraftStep.seq,
                LayoutDraftStep.action,
                LayoutDraftStep.params,
                LayoutDraftStep.created_by,
                LayoutDraftStep.created_at,
            )
            .where(LayoutDraftStep.draft_id == draft_id)
            .order_by(LayoutDraftStep.seq)
        )
        return [EditStep(r.seq, r.action, dict(r.params), r.created_by, r.created_at) for r in rows]


def draft_cells(bind: Engine | Connection, draft_id: int) -> gpd.GeoDataFrame:
    """The draft's cells as stored (``code``, ``households``, ``flags``, EPSG:4326)."""
    with connection(bind) as conn:
        return _cells_from_geojson(_draft_row(conn, draft_id).cells)
