"""The import page (数据导入): a district's own registers uploaded, checked, then imported.

Routes (administrators and street offices; a street office imports only within
its street: rows placed outside it are rejected with the reason; every POST
carries the session's CSRF token)
------------------------------------------------------------------------------
``GET /import/``
    The form: the kind (:mod:`gridgis.registers.catalogue`), the file, the
    kind's options (CRS, encoding, sheet, layer, estimated households, the
    columns of its fields).
``POST /import/``
    Stage the upload (:mod:`gridgis.registers.staging`), queue its dry run on the
    job queue (:mod:`gridgis.jobs`, as exports) and go to its page (303); a problem
    with the form or the file shows the form again with the error (400), nothing kept.
``GET /import/templates/<kind>.xlsx``
    The Excel template of a kind the user is offered (as ``gridgis template
    KIND`` writes it: Chinese headers, an example row, a help sheet, drop-down
    lists); another kind does not exist (404).
``GET /import/<job>``
    The import's page: its progress while a stage runs (the page polls the
    status route), then the report: totals, the rejected and flagged rows
    (row number, reason, what changed), those with a geometry on a map, the
    per-row CSV; after the dry run the buttons to confirm or cancel.
``POST /import/<job>/confirm``, ``POST /import/<job>/cancel``
    Run the import itself with the same file and options; or throw the
    staged file away.
``GET /import/<job>/report.csv``
    The per-row report of the last stage.
``GET /api/imports/<job>``
    The import's state as JSON (:class:`gridgis.schemas.imports.ImportStatus`).

An import is seen only by the user who uploaded it (and administrators); to
anyone else it does not exist (404).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from gridgis import config, jobs
from gridgis.crs import CRS_CHOICES
from gridgis.errors import SHOWN, GridGISError, InputError, NotFoundError
from gridgis.registers import staging as import_jobs
from gridgis.registers.catalogue import ImportKind, import_kind, kinds
from gridgis.registers.reasons import say
from gridgis.registers.templates import TEMPLATES, write_template
from gridgis.schemas.imports import ImportStatus
from gridgis.web.auth import current_user, policy, roles_required
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.error_words import error_text
from gridgis.web.export_jobs import ensure_runner
from gridgis.web.i18n import get_language, gettext

__all__ = ["api_bp", "bp", "staging_root"]

bp = Blueprint("imports", __name__, url_prefix="/import")
api_bp = Blueprint("imports_api", __name__, url_prefix="/api/imports")

ROLES = ("admin", "street")
_TEXT_OPTIONS = ("crs", "encoding", "sheet", "layer")


def staging_root() -> Path:
    """Where uploads are staged: ``IMPORT_STAGING`` (default ``GRIDGIS_HOME/imports``)."""
    configured = current_app.config.get("IMPORT_STAGING")
    return Path(configured) if configured else config.settings().home / "imports"


def _sweep() -> None:
    hours = float(current_app.config.get("IMPORT_STAGING_HOURS") or 24.0)
    removed = import_jobs.sweep(staging_root(), max_age_hours=hours)
    if removed:
        current_app.logger.info("removed %d staged imports older than %g h", len(removed), hours)


def _user_name() -> str:
    user = current_user()
    assert user is not None  # behind roles_required
    return user.name


def _job(job_id: str) -> import_jobs.Job:
    """The import ``job_id``, if the user may see it (its owner, or an administrator)."""
    job = import_jobs.load(staging_root(), job_id)
    rules = policy()
    if rules.role != "admin" and job.state["owner"] != rules.name:
        raise NotFoundError(f"import {job_id!r} does not exist", zh=f"导入任务 {job_id!r} 不存在")
    return job


def _kinds_offered() -> list[ImportKind]:
    """The kinds the user may import (a street office: those kept within a street)."""
    street = policy().street
    return [k for k in kinds() if street is None or k.street_limited]


def _form_options(kind: ImportKind) -> dict[str, Any]:
    """The form's options that ``kind`` takes (fields of other kinds are ignored)."""
    given: dict[str, Any] = {}
    for option in _TEXT_OPTIONS:
        if option in kind.options:
            given[option] = request.form.get(option, "")
    if "estimate" in kind.options:
        given["estimate"] = request.form.get("estimate") == "on"
    for field in kind.fields:
        given[f"{field}_field"] = request.form.get(f"{kind.name}_{field}_field", "")
    return given


def _render_form(*, error: str | None = None, status: int = 200) -> tuple[str, int]:
    offered = _kinds_offered()
    language = get_language()
    chosen = request.form.get("kind") or request.args.get("kind") or ""
    return (
        render_template(
            "import_index.html",
            kinds=[
                {
                    "name": k.name,
                    "label": k.label(language),
                    "fields": k.fields,
                    "suffixes": ", ".join(k.suffixes),
                    "template": k.name in TEMPLATES,
                }
                for k in offered
            ],
            chosen=chosen if chosen in {k.name for k in offered} else offered[0].name,
            option_kinds={
                option: " ".join(k.name for k in offered if option in k.options)
                for option in (*_TEXT_OPTIONS, "estimate")
            },
            form=request.form,
            street=policy().street,
            crs_choices=CRS_CHOICES,
            error=error,
            max_bytes=current_app.config.get("MAX_CONTENT_LENGTH"),
        ),
        status,
    )


@bp.get("/")
@roles_required(*ROLES)
def index() -> tuple[str, int]:
    """The upload form."""
    _sweep()
    return _render_form()


@bp.get("/templates/<kind>.xlsx")
@roles_required(*ROLES)
def template(kind: str) -> BaseResponse:
    """The Excel template of a kind the user is offered."""
    offered = {k.name: k for k in _kinds_offered() if k.name in TEMPLATES}
    if kind not in offered:
        raise NotFoundError(
            f"`kind` was {kind!r} but is expected to be one of {list(offered)}",
            field="kind",
            zh=f"`kind` 为 {kind!r}，应为以下之一：{list(offered)}",
        )
    with tempfile.TemporaryDirectory(prefix="gridgis-template-") as folder:
        data = write_template(kind, Path(folder) / "template.xlsx").read_bytes()
    return send_file(
        io.BytesIO(data),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{offered[kind].label_zh}导入模板.xlsx",
        max_age=0,
    )


@bp.post("/")
@roles_required(*ROLES)
def upload() -> BaseResponse | tuple[str, int]:
    """Stage the file, start its dry run and go to its page."""
    _sweep()
    try:
        kind = import_kind(request.form.get("kind", ""))
        if policy().street is not None and not kind.street_limited:
            raise InputError(
                f"{kind.name} are imported by administrators only",
                zh=f"{kind.label_zh}只能由管理员导入",
            )
        file = request.files.get("file")
        if file is None or not file.filename:
            raise InputError(
                gettext("未选择文件：请选择要导入的文件。"), zh="未选择文件：请选择要导入的文件。"
            )
        job = import_jobs.create(
            staging_root(),
            kind=kind.name,
            file_name=file.filename,
            save=file.save,
            options=_form_options(kind),
            owner=_user_name(),
            street=policy().street,
        )
    except GridGISError as exc:
        return _render_form(
            error=error_text(str(exc), zh=exc.zh), status=400 if exc.status < 500 else exc.status
        )
    import_jobs.queue(job, get_engine())
    ensure_runner()
    return redirect(url_for("imports.job_page", job_id=job.id), code=303)


def _state(job: import_jobs.Job) -> dict[str, Any]:
    """The job's state with its queued stage's (:func:`gridgis.registers.staging.current`),
    its error in the user's language; a running stage's runner is started if none runs."""
    state = import_jobs.current(job, get_engine())
    if state["state"] == "running":
        ensure_runner()
    if state.get("error"):
        error = str(state["error"])
        zh = state.get("error_zh")
        state["error"] = (
            gettext(error) if error in jobs.PHRASES else error_text(error, zh=zh and str(zh))
        )
    return state


def _page_config(job: import_jobs.Job, state: dict[str, Any]) -> dict[str, Any]:
    shapes = job.shapes() if state["state"] == "done" else None
    if shapes is not None:
        language = get_language()
        for feature in shapes.get("features", []):
            properties = feature.get("properties", {})
            properties["reason"] = say(properties.get("reason"), language)
    return {
        "status_url": url_for("imports_api.status", job_id=job.id),
        "state": state["state"],
        "stage": state["stage"],
        "shapes": shapes,
    }


def _in_language(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The listed rows with their reasons in the user's language (kept in English)."""
    language = get_language()
    return [{**r, "reason": say(r.get("reason"), language)} for r in rows]


@bp.get("/<job_id>")
@roles_required(*ROLES)
def job_page(job_id: str) -> str:
    """The import's progress, then its report."""
    job = _job(job_id)
    state = _state(job)
    return render_template(
        "import_job.html",
        job=state,
        kind_label=import_kind(state["kind"]).label(get_language()),
        rows=_in_language(job.rows()) if state["state"] == "done" else [],
        shown=SHOWN,
        page_config=_page_config(job, state),
    )


@bp.post("/<job_id>/confirm")
@roles_required(*ROLES)
def confirm(job_id: str) -> BaseResponse:
    """Run the import itself, with the dry run's file and options."""
    job = _job(job_id)
    import_jobs.confirm(job, get_engine())
    ensure_runner()
    return redirect(url_for("imports.job_page", job_id=job.id), code=303)


@bp.post("/<job_id>/cancel")
@roles_required(*ROLES)
def cancel(job_id: str) -> BaseResponse:
    """Throw the staged file and its report away."""
    job = _job(job_id)
    import_jobs.cancel(job, get_engine())
    flash(gettext("已取消导入，上传的文件已删除。"), "info")
    return redirect(url_for("imports.index"), code=303)


@bp.get("/<job_id>/report.csv")
@roles_required(*ROLES)
def report_csv(job_id: str) -> BaseResponse:
    """The per-row report of the last stage, as CSV, the reasons in the user's language."""
    job = _job(job_id)
    if job.state["state"] != "done" or not job.report_csv.exists():
        raise NotFoundError(
            f"import {job_id!r} has no report yet", zh=f"导入任务 {job_id!r} 还没有报告"
        )
    language = get_language()
    stem = Path(job.state["file_name"]).stem
    suffix = "report" if job.state["stage"] == "import" else "dry-run"
    return send_file(
        job.report_csv_in(language),
        mimetype="text/csv",
        as_attachment=True,
        download_name=f"{stem}.{suffix}.csv",
        max_age=0,
    )


@endpoint(
    api_bp,
    "/<job_id>",
    operation_id="importStatus",
    tags=("imports",),
    roles=ROLES,
    path={"job_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"}},
    replies=(Reply(200, ImportStatus, "Where the import stands."),),
    errors=(404,),
)
def status(job_id: str) -> BaseResponse:
    """Where an import of the import page stands.

    Its stage (the dry run, or the confirmed import), whether it runs, is done
    or failed, what it is doing now, and the counts of each outcome once done.
    Only its uploader (and administrators) see it; to others it does not exist.
    """
    state = _state(_job(job_id))
    answer = ImportStatus(
        id=state["id"],
        kind=state["kind"],
        stage=state["stage"],
        state=state["state"],
        queued=bool(state.get("queued")),
        phases=state.get("phases"),
        message=state.get("message"),
        error=state.get("error"),
        counts=state.get("counts"),
        page=url_for("imports.job_page", job_id=job_id),
    )
    return jsonify(answer.model_dump())
