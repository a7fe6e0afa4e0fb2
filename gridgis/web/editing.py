"""Cell editing for administrators and street offices (网格编辑).

Routes (administrators anywhere, a street office in the communities of its own
street: another street's community answers 403, as every route does for
analysts; anonymous users get the login; every POST carries the session's CSRF
token)
------------------------------------------------------------------------------
``GET /edit/``
    Choose a community: the communities (a street office: of its street) with their numbers
    of cells (and of cells outside the household bounds), layout version and
    drafts, 25 to a page (``?page=``); ``?q=`` searches codes and names.
``GET /edit/<community>``
    The current layout on a map (cells outside the bounds marked), the list
    of cells, the version history, the community's drafts and two forms: run
    the engine (draw or adjust, seed, household bounds) or upload a layout
    file. Each makes a draft and leads to its preview.
``POST /edit/<community>/propose``, ``POST /edit/<community>/upload``
    Make a draft (:func:`gridgis.editing.propose_layout`,
    :func:`gridgis.editing.propose_from_file`) and redirect to its preview;
    a problem is shown on the community page, nothing stored.
``GET /edit/<community>/drafts/<id>``
    The preview: old and new cells on the map, the diff (added, retired,
    reshaped, unchanged codes; households moved), the validator's findings,
    the publish and discard buttons.
``POST /edit/<community>/drafts/<id>/publish``
    Publish (refused for a stale draft or one with validation errors, the
    database unchanged) and go back to the community page.
``POST /edit/<community>/drafts/<id>/discard``, ``POST /edit/<community>/drafts/discard``
    Throw away one draft, or every draft of the community.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from shapely.geometry.base import BaseGeometry
from werkzeug.wrappers import Response as BaseResponse

from gridgis import editing
from gridgis.crs import CRS_CHOICES
from gridgis.db.continuity import LINK_NAMES_ZH, UnlinkedError
from gridgis.db.layout import (
    LayoutDiff,
    cell_estimated_households,
    cell_households,
    layout_history,
    read_inputs,
)
from gridgis.db.lineage import names_of
from gridgis.db.rollback import rollback
from gridgis.errors import (
    SHOWN,
    ConflictError,
    ForbiddenError,
    GridGISError,
    InputError,
    NotFoundError,
    ValidationError,
)
from gridgis.web.auth import current_user, policy, roles_required
from gridgis.web.db import get_engine
from gridgis.web.error_words import problem_text
from gridgis.web.finding_words import finding_text
from gridgis.web.i18n import get_language, gettext

bp = Blueprint("editing", __name__, url_prefix="/edit")

INDEX_PAGE = 25
"""Communities per page of the community list (a district has hundreds)."""


def within_area() -> None:
    """Refuse a route about a community (``<community>`` in its URL) outside the area the
    user may edit layouts of (a street office: its street). Runs before the route, so a
    user who is not signed in still meets the login (the routes require a role)."""
    community = (request.view_args or {}).get("community")
    rules = policy()
    if community is None or not rules.changes_anything:
        return
    if not rules.may_edit_layouts(str(community)):
        raise ForbiddenError(
            f"community {community} is outside street {rules.street}, the area user "
            f"{rules.name!r} may edit cells of"
        )


bp.before_request(within_area)


def _method_name(method: str) -> str:
    names = {
        "draw": gettext("重新划分"),
        "adjust": gettext("动态调整"),
        "import": gettext("上传文件"),
        "edit": gettext("手工编辑"),
        "rollback": gettext("回退"),
    }
    return names.get(method, method)


def _encoding_source_name(source: str | None) -> str | None:
    """Where a shapefile's encoding came from (:data:`gridgis.io.ENCODING_SOURCES`), in words."""
    names = {
        "given": gettext("指定"),
        "cpg": gettext("来自 .cpg 文件"),
        "dbf": gettext("来自 DBF 文件头"),
        "detected": gettext("自动识别"),
    }
    return names.get(source or "")


def _user_name() -> str:
    """The signed-in user's name: who makes the change (every view here requires a login)."""
    user = current_user()
    if user is None:  # pragma: no cover - behind roles_required
        abort(401)
    return user.name


def _whole_number(name: str, value: str | None, *, default: int | None) -> int | None:
    """A whole number from a form field; blank gives ``default``."""
    if value is None or not value.strip():
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise InputError(f"`{name}` was {value!r} but is expected to be a whole number") from None


def _check_code(community: str) -> str:
    if not (len(community) == 12 and community.isdigit()):
        raise NotFoundError(f"community {community!r} does not exist (a code has 12 digits)")
    return community


def _bounds_of(geoms: gpd.GeoSeries) -> list[list[float]] | None:
    valid = geoms[~geoms.is_empty & geoms.notna()]
    if valid.empty:
        return None
    west, south, east, north = (float(v) for v in valid.total_bounds)
    return [[south, west], [north, east]]


def _feature_collection(
    cells: gpd.GeoDataFrame, bounds: tuple[int, int], status: dict[str, str] | None = None
) -> dict[str, Any]:
    """Cells as GeoJSON for the page's map, each marked when its households break ``bounds``."""
    collection = editing.cells_geojson(cells)
    marks = editing.out_of_bounds(
        [f["properties"].get("households") for f in collection["features"]], bounds
    )
    for feature, marked in zip(collection["features"], marks, strict=True):
        feature["properties"]["out_of_bounds"] = marked
        if status is not None:
            feature["properties"]["status"] = status.get(feature["properties"]["code"], "")
    return collection


def _outline_feature(outline: BaseGeometry) -> dict[str, Any]:
    return {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(outline)}


def _error_view(exc: GridGISError) -> dict[str, Any]:
    """What the page shows of an error: its message and, for a file, the first rejected rows.

    Only the first :data:`~gridgis.errors.SHOWN` problems are shown, with the number of the
    others: the page stays small whatever the file (a file of 2,000 bad rows is one line
    of count and twenty examples, not 2,000 rows).
    """
    problems = [
        {"row": p.row, "code": p.code, "reason": problem_text(p.reason)}
        for p in (exc.problems[:SHOWN] if isinstance(exc, ValidationError) else [])
    ]
    total = len(exc.problems) if isinstance(exc, ValidationError) else 0
    language = get_language()
    message = (
        exc.text(language)
        if exc.zh and language == "zh"
        else problem_text(str(exc).split("\n", 1)[0])
    )
    kind = ""
    if isinstance(exc, editing.StaleDraftError):
        kind = "stale"
    elif isinstance(exc, editing.UnpublishableDraftError):
        kind = "invalid"
    elif isinstance(exc, UnlinkedError):
        kind = "unlinked"
    return {
        "message": message,
        "problems": problems,
        "total": total,
        "more": max(total - SHOWN, 0),
        "kind": kind,
    }


# --- choosing a community ------------------------------------------------------------------------


@bp.get("/")
@roles_required("admin", "street")
def index() -> str:
    """The communities by street office, or those matching ``?q=``."""
    search = request.args.get("q", "").strip()
    street_only = policy().street
    total = editing.count_communities(get_engine(), search=search or None, street=street_only)
    pages = max(1, -(-total // INDEX_PAGE))
    page = min(max(_whole_number("page", request.args.get("page"), default=1) or 1, 1), pages)
    communities = editing.community_summaries(
        get_engine(),
        search=search or None,
        street=street_only,
        limit=INDEX_PAGE,
        offset=(page - 1) * INDEX_PAGE,
    )
    streets: dict[str, dict[str, Any]] = {}
    for item in communities:
        street = streets.setdefault(
            item.street_code,
            {"code": item.street_code, "name": item.street_name, "communities": []},
        )
        street["communities"].append(item)
    return render_template(
        "edit_index.html",
        streets=list(streets.values()),
        search=search,
        count=total,
        page=page,
        pages=pages,
    )


# --- a community ---------------------------------------------------------------------------------


def _render_community(
    community: str, *, error: GridGISError | None = None, form: dict[str, str] | None = None
) -> tuple[str, int]:
    engine = get_engine()
    inputs = read_inputs(engine, _check_code(community))
    cells = inputs.cells.rename_geometry("geometry")
    live = cell_households(engine, inputs.code)
    cells["households"] = [live.get(code, 0) for code in cells["code"]]
    collection = _feature_collection(cells, inputs.bounds)
    estimated = cell_estimated_households(engine, inputs.code)
    for feature in collection["features"]:  # the map marks cells counted partly by estimate
        feature["properties"]["households_estimated"] = estimated.get(
            feature["properties"]["code"], 0
        )
    marks = {
        f["properties"]["code"]: f["properties"]["out_of_bounds"] for f in collection["features"]
    }
    history = layout_history(engine, inputs.code)
    for row in history:
        row["method_name"] = _method_name(str(row["method"]))
    drafts = editing.drafts_of(engine, inputs.code)
    for draft in drafts:
        draft["method_name"] = _method_name(str(draft["method"]))
        draft["stale"] = draft["base_version"] != inputs.version
    outline = gpd.GeoSeries([inputs.outline], crs="EPSG:4326")
    page_config = dict(
        current=collection,
        outline=_outline_feature(inputs.outline),
        bounds=_bounds_of(outline),
        mode="community",
    )
    rows = [
        {"code": r.code, "households": r.households, "out_of_bounds": marks.get(r.code, False)}
        for r in cells.itertuples()
    ]
    status = error.status if error is not None else 200
    return (
        render_template(
            "edit_community.html",
            community=inputs,
            cells=rows,
            out_of_bounds=sum(r["out_of_bounds"] for r in rows),
            history=history,
            drafts=drafts,
            page_config=page_config,
            error=_error_view(error) if error is not None else None,
            form=form or {},
            crs_choices=CRS_CHOICES,
            upload_suffixes=", ".join(editing.UPLOAD_SUFFIXES),
        ),
        status,
    )


@bp.get("/<community>")
@roles_required("admin", "street")
def community_page(community: str) -> tuple[str, int]:
    """The community's layout, history, drafts and the forms that make a draft."""
    return _render_community(community)


def _keep_draft(
    community: str, form: dict[str, str], make: Callable[[], editing.Proposal]
) -> BaseResponse | tuple[str, int]:
    """Keep what ``make`` proposes as a draft and go to its page.

    A problem with the input shows the community page again with the error and the form
    as it was filled; an unknown community stays a 404.
    """
    try:
        proposal = make()
    except NotFoundError:
        raise
    except GridGISError as exc:
        return _render_community(community, error=exc, form=form)
    draft_id = editing.save_draft(get_engine(), proposal, actor=_user_name())
    return redirect(url_for("editing.draft_page", community=community, draft_id=draft_id))


@bp.post("/<community>/propose")
@roles_required("admin", "street")
def propose(community: str) -> BaseResponse | tuple[str, int]:
    """Run the engine (draw or adjust) and keep the result as a draft."""
    form = {k: request.form.get(k, "") for k in ("method", "seed", "min", "max")}

    def propose_layout() -> editing.Proposal:
        return editing.propose_layout(
            get_engine(),
            _check_code(community),
            method=form["method"] or "adjust",
            seed=_whole_number("seed", form["seed"], default=0) or 0,
            min_households=_whole_number("min", form["min"], default=None),
            max_households=_whole_number("max", form["max"], default=None),
        )

    return _keep_draft(community, form, propose_layout)


@bp.post("/<community>/upload")
@roles_required("admin", "street")
def upload(community: str) -> BaseResponse | tuple[str, int]:
    """Read an uploaded layout file and keep it as a draft."""
    _check_code(community)
    form = {"crs": request.form.get("crs", "").strip()}

    def read_upload() -> editing.Proposal:
        file = request.files.get("file")
        if file is None or not file.filename:
            raise InputError("no file was chosen: choose a GeoJSON, GeoPackage or zipped shapefile")
        suffix = Path(file.filename).suffix.lower()
        if suffix not in editing.UPLOAD_SUFFIXES:
            raise InputError(
                f"{file.filename!r} is not a layout file this page reads; "
                f"send one of {', '.join(editing.UPLOAD_SUFFIXES)} (a shapefile zipped)"
            )
        with tempfile.TemporaryDirectory(prefix="gridgis-upload-") as folder:
            path = Path(folder) / f"upload{suffix}"
            file.save(path)
            proposal = editing.propose_from_file(
                get_engine(), community, path, crs=form["crs"] or None, name=file.filename
            )
        how = _encoding_source_name(proposal.encoding_source)
        if proposal.encoding and how:
            flash(
                gettext(
                    "已按 {encoding} 编码读取 Shapefile 的文字（{how}）。",
                    encoding=proposal.encoding.upper(),
                    how=how,
                ),
                "info",
            )
        return proposal

    return _keep_draft(community, form, read_upload)


@bp.post("/<community>/rollback")
@roles_required("admin", "street")
def rollback_layout(community: str) -> BaseResponse | tuple[str, int]:
    """Publish the community's previous layout again (a new version), links as they were."""
    code = _check_code(community)
    if request.form.get("confirm") != "1":
        return _render_community(
            code, error=InputError(gettext("请先勾选确认，再回退网格。未作任何更改。"))
        )
    try:
        [diff] = rollback(get_engine(), code, actor=_user_name())
    except GridGISError as exc:
        return _render_community(code, error=exc)
    flash(
        gettext(
            "已回退：第 {version} 版重新发布了之前的网格（恢复 {added} 个、撤销 {retired} 个、调整 {reshaped} 个网格）。",  # noqa: E501
            version=diff.version,
            added=len(diff.added),
            retired=len(diff.retired),
            reshaped=len(diff.reshaped),
        ),
        "success",
    )
    return redirect(url_for("editing.community_page", community=code))


@bp.post("/<community>/drafts/discard")
@roles_required("admin", "street")
def discard_all(community: str) -> BaseResponse:
    """Throw away every draft of the community."""
    n = editing.discard_drafts(get_engine(), _check_code(community), actor=_user_name())
    flash(gettext("已放弃 {n} 个草案。", n=n), "info")
    return redirect(url_for("editing.community_page", community=community))


# --- a draft -------------------------------------------------------------------------------------


def _load(community: str, draft_id: int) -> editing.Draft:
    draft = editing.load_draft(get_engine(), draft_id)
    if draft.community_code != _check_code(community):
        raise NotFoundError(f"draft {draft_id} is not a draft of community {community}")
    return draft


def _diff_status(diff: LayoutDiff) -> tuple[dict[str, str], dict[str, str]]:
    """Each new cell's and each old cell's part in the diff."""
    new = dict.fromkeys(diff.added, "added") | dict.fromkeys(diff.reshaped, "reshaped")
    new |= dict.fromkeys(diff.unchanged, "unchanged")
    old = dict.fromkeys(diff.retired, "retired") | dict.fromkeys(diff.reshaped, "reshaped")
    old |= dict.fromkeys(diff.unchanged, "unchanged")
    return new, old


def _render_draft(
    community: str, draft_id: int, *, error: GridGISError | None = None
) -> tuple[str, int]:
    engine = get_engine()
    draft = _load(community, draft_id)
    inputs = read_inputs(engine, draft.community_code)
    diff: LayoutDiff | None = None
    diff_error = None
    try:
        diff = editing.draft_diff(engine, draft)
    except ConflictError as exc:  # a stale draft reusing a code retired since
        diff_error = exc.text(get_language())
    new_status, old_status = _diff_status(diff) if diff is not None else ({}, {})
    old_cells = inputs.cells.rename_geometry("geometry")
    bounds = draft.bounds or inputs.bounds
    proposed = _feature_collection(draft.cells, bounds, new_status)
    current = _feature_collection(old_cells, bounds, old_status)
    everything = gpd.GeoSeries(
        [inputs.outline, *draft.cells.geometry, *old_cells.geometry], crs="EPSG:4326"
    )
    page_config = dict(
        current=current,
        proposed=proposed,
        outline=_outline_feature(inputs.outline),
        bounds=_bounds_of(everything),
        mode="draft",
    )
    names = names_of(engine, inputs.code, inputs.name, draft.cells["code"])
    findings = [
        {**f, "text": finding_text(f, names, bounds)} for f in draft.report.get("findings", [])
    ]
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] != "error"]
    status = error.status if error is not None else 200
    return (
        render_template(
            "edit_draft.html",
            community=inputs,
            draft=draft,
            method_name=_method_name(draft.method),
            diff=diff,
            diff_error=diff_error,
            counts={"errors": len(errors), "warnings": len(warnings)},
            errors=errors[:SHOWN],  # the first ones: a file's findings are not bounded
            warnings=warnings[:SHOWN],
            cells=[
                {
                    "code": f["properties"]["code"],
                    "households": f["properties"].get("households"),
                    "out_of_bounds": f["properties"]["out_of_bounds"],
                    "flags": f["properties"].get("flags") or [],
                    "status": f["properties"].get("status", ""),
                }
                for f in proposed["features"]
            ],
            page_config=page_config,
            error=_error_view(error) if error is not None else None,
            link_names=LINK_NAMES_ZH,
            bounds=bounds,
            bounds_differ=bounds != inputs.bounds,
            moving=[c for c in diff.links_moved if c.to_code != c.from_code] if diff else [],
        ),
        status,
    )


@bp.get("/<community>/drafts/<int:draft_id>")
@roles_required("admin", "street")
def draft_page(community: str, draft_id: int) -> tuple[str, int]:
    """Preview a draft: old and new cells, the diff, the validator's findings."""
    return _render_draft(community, draft_id)


@bp.post("/<community>/drafts/<int:draft_id>/publish")
@roles_required("admin", "street")
def publish(community: str, draft_id: int) -> BaseResponse | tuple[str, int]:
    """Publish a draft as the community's new layout version."""
    _load(community, draft_id)
    accept = request.form.get("accept_unlinked") == "1"
    try:
        diff = editing.publish_draft(
            get_engine(),
            draft_id,
            actor=_user_name(),
            accept_unlinked=accept,
            save_bounds=request.form.get("save_bounds") == "1",
        )
    except NotFoundError:
        raise
    except GridGISError as exc:
        return _render_draft(community, draft_id, error=exc)
    if diff.version is None:
        flash(gettext("草案与当前网格相同，未发布新版本。"), "info")
    else:
        flash(
            gettext(
                "已发布第 {version} 版：新增 {added} 个、撤销 {retired} 个、调整 {reshaped} 个网格。",  # noqa: E501
                version=diff.version,
                added=len(diff.added),
                retired=len(diff.retired),
                reshaped=len(diff.reshaped),
            ),
            "success",
        )
    return redirect(url_for("editing.community_page", community=community))


@bp.post("/<community>/drafts/<int:draft_id>/discard")
@roles_required("admin", "street")
def discard(community: str, draft_id: int) -> BaseResponse:
    """Throw a draft away."""
    _load(community, draft_id)
    editing.discard_draft(get_engine(), draft_id, actor=_user_name())
    flash(gettext("已放弃草案 {id}。", id=draft_id), "info")
    return redirect(url_for("editing.community_page", community=community))
