"""Editing cells by hand in the browser (手工编辑网格).

Routes (administrators, and street offices within their street, like the rest of
cell editing; every POST carries the session's CSRF token)
------------------------------------------------------------------------------
``POST /edit/<community>/hand``
    Make a draft of the community's cells as they are (optionally with other
    household bounds) and open it for editing by hand.
``GET /edit/<community>/drafts/<id>/hand``
    The editor: the draft's cells and buildings on a map; select buildings (click,
    or draw a lasso) and move them to a cell, or make them a new cell; click two
    cells and merge them; draw a line to split a cell; drag a cell's vertices.
    Every edit is judged at once and the findings are shown on the map and in a
    list, in the user's language; edits can be undone one by one, and the draft is
    previewed (:mod:`gridgis.web.editing`) and published as any other.
``GET /api/drafts/<id>/edit``
    The editor's state (:class:`gridgis.schemas.editing.DraftEditState`).
``POST /api/drafts/<id>/steps``
    One edit (:class:`gridgis.schemas.editing.HandEdit`); answers the new state,
    or a 400 saying in the user's language why the edit cannot be made (nothing
    changed).
``POST /api/drafts/<id>/undo``
    Undo the last edit; answers the new state (404 when there is none).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely
from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gridgis import editing
from gridgis.db.layout import read_inputs
from gridgis.db.lineage import names_of
from gridgis.editing.hand import apply_edit, edit_steps, start_hand_edit, undo_edit
from gridgis.errors import ForbiddenError, GridGISError, NotFoundError
from gridgis.partition.hand import HandEditError, cell_of_buildings
from gridgis.schemas.editing import DraftEditState, EditFinding, EditStepView, HandEdit
from gridgis.web import editing as edit_pages
from gridgis.web.auth import csrf_token, policy, roles_required
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.errors import error_json
from gridgis.web.finding_words import edit_error_text, finding_text, step_text

bp = Blueprint("hand", __name__, url_prefix="/edit")
bp.before_request(edit_pages.within_area)
api_bp = Blueprint("hand_api", __name__, url_prefix="/api")

_PRECISION = 7
"""Decimals of the coordinates sent to the editor (about 1 cm)."""


def _geojson(geom: Any) -> dict[str, Any]:
    return dict(shapely.geometry.mapping(shapely.set_precision(geom, 10**-_PRECISION)))


def _draft(draft_id: int) -> editing.Draft:
    draft = editing.load_draft(get_engine(), draft_id)
    rules = policy()
    if not rules.may_edit_layouts(draft.community_code):
        raise ForbiddenError(
            f"draft {draft_id} is of community {draft.community_code}, outside the area "
            f"user {rules.name!r} may change",
            zh=f"草案 {draft_id} 属于社区 {draft.community_code}，不在用户 {rules.name!r} "
            "可以修改的范围内",
        )
    return draft


def _state(draft_id: int) -> dict[str, Any]:
    """The editor's state of a draft (see :class:`DraftEditState`)."""
    engine = get_engine()
    draft = _draft(draft_id)
    inputs = read_inputs(engine, draft.community_code)
    bounds = draft.bounds or inputs.bounds
    codes = [str(c) for c in draft.cells["code"]]
    steps = edit_steps(engine, draft_id)
    # Steps name cells that are gone from the draft (merged away): those are named too.
    named = set(codes) | {
        str(s.params[key])
        for s in steps
        for key in ("to", "into", "other", "code", "new_code")
        if s.params.get(key)
    }
    names = names_of(engine, draft.community_code, inputs.name, sorted(named))
    findings = draft.report.get("findings", [])
    flagged = {str(f.get("code")) for f in findings if f.get("severity") == "error"}
    cells = []
    for row in draft.cells.itertuples():
        households = int(row.households) if pd.notna(row.households) else 0
        cells.append(
            {
                "type": "Feature",
                "properties": {
                    "code": row.code,
                    "name": names[row.code],
                    "households": households,
                    "out_of_bounds": not bounds[0] <= households <= bounds[1],
                    "has_error": row.code in flagged,
                },
                "geometry": _geojson(row.geometry),
            }
        )
    buildings = inputs.buildings.rename_geometry("geometry")
    holder: Any = cell_of_buildings(draft.cells, buildings) if len(buildings) else []
    houses = [
        {
            "type": "Feature",
            "properties": {
                "id": int(building_id),
                "households": int(h) if pd.notna(h) else 0,
                "cell": codes[k] if k >= 0 else None,
            },
            "geometry": _geojson(geom),
        }
        for building_id, h, geom, k in zip(
            buildings.index, buildings["households"], buildings.geometry, holder, strict=True
        )
    ]
    return DraftEditState(
        draft_id=draft.id,
        community_code=draft.community_code,
        community_name=inputs.name,
        bounds=list(bounds),
        ok=draft.publishable,
        stale=draft.stale,
        cells={"type": "FeatureCollection", "features": cells},
        buildings={"type": "FeatureCollection", "features": houses},
        outline=_geojson(inputs.outline),
        findings=[
            EditFinding(
                **{
                    "kind": f["kind"],
                    "severity": f["severity"],
                    "code": f.get("code"),
                    "text": finding_text(f, names, bounds),
                    "lon": f.get("lon"),
                    "lat": f.get("lat"),
                }
            )
            for f in findings
        ],
        steps=[
            EditStepView(
                seq=s.seq,
                action=s.action,
                text=step_text(s.action, s.params, names),
                created_by=s.created_by,
            )
            for s in steps
        ],
    ).model_dump()


# --- pages ---------------------------------------------------------------------------------------


@bp.post("/<community>/hand")
@roles_required("admin", "street")
def start(community: str) -> BaseResponse | tuple[str, int]:
    """Make a draft of the community's cells as they are, and open the hand editor."""
    code = edit_pages._check_code(community)
    form = {k: request.form.get(k, "") for k in ("min", "max")}
    try:
        draft_id = start_hand_edit(
            get_engine(),
            code,
            actor=edit_pages._user_name(),
            min_households=edit_pages._whole_number("min", form["min"], default=None),
            max_households=edit_pages._whole_number("max", form["max"], default=None),
        )
    except NotFoundError:
        raise
    except GridGISError as exc:
        return edit_pages._render_community(code, error=exc)
    return redirect(url_for("hand.editor", community=code, draft_id=draft_id))


@bp.get("/<community>/drafts/<int:draft_id>/hand")
@roles_required("admin", "street")
def editor(community: str, draft_id: int) -> tuple[str, int]:
    """The hand editor of a draft."""
    draft = edit_pages._load(community, draft_id)
    inputs = read_inputs(get_engine(), draft.community_code)
    page_config = {
        "stateUrl": url_for("hand_api.state", draft_id=draft_id),
        "stepsUrl": url_for("hand_api.edit", draft_id=draft_id),
        "undoUrl": url_for("hand_api.undo", draft_id=draft_id),
        "csrfToken": csrf_token(),
    }
    return (
        render_template(
            "edit_hand.html",
            community=inputs,
            draft=draft,
            page_config=page_config,
            draft_url=url_for("editing.draft_page", community=community, draft_id=draft_id),
        ),
        200,
    )


# --- API -----------------------------------------------------------------------------------------


@endpoint(
    api_bp,
    "/drafts/<int:draft_id>/edit",
    operation_id="draftEdit",
    tags=("editing",),
    roles=("admin", "street"),
    replies=(Reply(200, DraftEditState, "The draft as the hand editor shows it."),),
    errors=(403, 404),
)
def state(draft_id: int) -> Response:
    """A draft's cells, buildings, findings (in the user's language) and hand edits."""
    return jsonify(_state(draft_id))


@endpoint(
    api_bp,
    "/drafts/<int:draft_id>/steps",
    method="POST",
    operation_id="editDraft",
    tags=("editing",),
    roles=("admin", "street"),
    body=HandEdit,
    replies=(Reply(200, DraftEditState, "The draft after the edit."),),
    errors=(400, 403, 404, 413, 415),
)
def edit(draft_id: int, *, body: HandEdit) -> Response:
    """Make one hand edit on a draft; it is judged at once and can be undone."""
    draft = _draft(draft_id)
    params = body.model_dump(exclude_none=True, exclude={"action"})
    try:
        apply_edit(get_engine(), draft_id, body.action, params, actor=edit_pages._user_name())
    except HandEditError as exc:
        engine = get_engine()
        name = read_inputs(engine, draft.community_code).name
        names = names_of(engine, draft.community_code, name, draft.cells["code"])
        return error_json(exc.status, edit_error_text(exc, names), code=exc.reason)
    return jsonify(_state(draft_id))


@endpoint(
    api_bp,
    "/drafts/<int:draft_id>/undo",
    method="POST",
    operation_id="undoDraftEdit",
    tags=("editing",),
    roles=("admin", "street"),
    replies=(Reply(200, DraftEditState, "The draft as it was before its last hand edit."),),
    errors=(403, 404),
)
def undo(draft_id: int) -> Response:
    """Undo the last hand edit of a draft."""
    _draft(draft_id)
    undo_edit(get_engine(), draft_id, actor=edit_pages._user_name())
    return jsonify(_state(draft_id))
