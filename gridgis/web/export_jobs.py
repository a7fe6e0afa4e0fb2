"""Long exports as background jobs (:mod:`gridgis.jobs`): start one, follow it, fetch its file.

Routes
------
``POST /api/export/<what>.<fmt>/jobs``
    The same query parameters, and the same checks of who may export what, as
    ``GET /api/export/<what>.<fmt>`` (:mod:`gridgis.web.export_api`); answers
    202 with the job's status (``status_url`` to poll) and ``Location``.
``GET /api/jobs/<id>``
    Where the job stands: ``state``, ``done`` of ``total`` rows, ``percent``,
    ``message``, ``error`` (both in the user's language) and, once done, the
    ``download_url``. Only its owner (and administrators) see a job; to others
    it does not exist (404).
``GET /api/jobs/<id>/download``
    The file, as an attachment named like the direct download's.
``DELETE /api/jobs/<id>``
    Cancel it (a running export stops at its next progress report), or, once
    done, remove its file.

Who runs the jobs: a runner thread of this process (:class:`gridgis.jobs.Runner`),
started when a job is queued or followed and stopped after a minute with none
queued, one per process (gunicorn forks workers: each gets its own) and per
database; or ``gridgis jobs worker``. ``JOBS_RUNNER`` ``False`` starts none.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_file, url_for

from gridgis import config, jobs
from gridgis.db import engine as db_engine
from gridgis.errors import ConflictError, NotFoundError
from gridgis.export import FORMATS
from gridgis.schemas.exports import ExportQuery
from gridgis.schemas.jobs import JobStatus
from gridgis.web.auth import policy
from gridgis.web.db import get_engine
from gridgis.web.endpoints import Reply, endpoint
from gridgis.web.error_words import error_text
from gridgis.web.export_api import (
    EXPORT_PATH,
    area_label,
    check_export,
    content_disposition,
    export_query,
)
from gridgis.web.i18n import gettext

__all__ = ["bp", "ensure_runner", "jobs_folder", "stop_runners"]

bp = Blueprint("export_jobs", __name__, url_prefix="/api")

IDLE_SECONDS = 60.0
"""A web process's runner stops after this long with nothing queued."""

_RUNNERS: dict[tuple[int, str], jobs.Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def jobs_folder() -> Path:
    """Where job files are written: ``JOBS_FOLDER`` (default ``GRIDGIS_HOME/jobs``)."""
    configured = current_app.config.get("JOBS_FOLDER")
    return Path(configured) if configured else config.settings().home / "jobs"


def ensure_runner() -> None:
    """Start this process's runner for the app's database, unless one runs (or ``JOBS_RUNNER``
    is off). Keyed by process id: a forked gunicorn worker starts its own."""
    if not current_app.config.get("JOBS_RUNNER", True):
        return
    engine = get_engine()
    key = (os.getpid(), engine.url.render_as_string(hide_password=True))
    with _RUNNERS_LOCK:
        running = _RUNNERS.get(key)
        if running is not None and running.alive():
            return
        settings = config.settings()
        _RUNNERS[key] = jobs.Runner(
            db_engine.get_engine(current_app.config.get("DATABASE_URL")),
            jobs_folder(),
            keep_hours=settings.jobs_keep_hours,
            stale_seconds=settings.jobs_stale_seconds,
            poll_seconds=1.0,
            idle_seconds=IDLE_SECONDS,
            isolated=bool(current_app.config.get("JOBS_ISOLATED", True)),
        ).start()


def stop_runners(timeout: float | None = None) -> None:
    """Stop this process's runners (each once its current job ends): for tests, and for a
    process that drops its database."""
    with _RUNNERS_LOCK:
        runners = list(_RUNNERS.values())
        _RUNNERS.clear()
    for runner in runners:
        runner.stop(timeout)


def _job(job_id: int) -> jobs.Job:
    """The job ``job_id``, if the user may see it (its owner, or an administrator)."""
    job = jobs.get(get_engine(), job_id)
    rules = policy()
    if rules.role != "admin" and job.owner != rules.name:
        raise NotFoundError(f"job {job_id} does not exist", zh=f"任务 {job_id} 不存在")
    return job


def _words(text: str | None) -> str | None:
    if text is None:
        return None
    return gettext(text) if text in jobs.PHRASES else error_text(text)


def _status(job: jobs.Job) -> JobStatus:
    done = job.state == "done"
    return JobStatus(
        id=job.id,
        kind=job.kind,
        state=job.state,  # type: ignore[arg-type]
        done=job.done,
        total=job.total,
        percent=job.percent,
        message=_words(job.message),
        error=_words(job.error),
        file_name=job.result_name if done else None,
        status_url=url_for("export_jobs.job_status", job_id=job.id),
        download_url=url_for("export_jobs.download_job", job_id=job.id) if done else None,
    )


_STATUS_REPLY = Reply(200, JobStatus, "Where the job stands.")
_ID = {"job_id": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}}


@endpoint(
    bp,
    "/export/<what>.<fmt>/jobs",
    method="POST",
    operation_id="startExportJob",
    tags=("exports",),
    query=ExportQuery,
    path=EXPORT_PATH,
    replies=(
        Reply(
            202,
            JobStatus,
            "The export is queued: poll `status_url`.",
            headers={"Location": "The job's status."},
        ),
    ),
    errors=(400, 404),
)
def start_export(what: str, fmt: str, *, query: ExportQuery) -> tuple[Response, int]:
    """Start an export in the background (for big ones); poll its status, then download.

    The parameters and who may export what are those of the direct download.
    """
    check_export(what, fmt)
    options = export_query(what, query)
    code = options["community"] or options["street"] or options["district"]
    until = options["until"]
    days = [d.isoformat() for d in (options["since"], until and until - dt.timedelta(days=1))
            if d is not None]  # fmt: skip
    name = area_label(code) if code else ""
    params = {
        **{k: v for k, v in options.items() if k not in ("since", "until")},
        "what": what,
        "fmt": fmt,
        "since": options["since"].isoformat() if options["since"] else None,
        "until": until.isoformat() if until else None,
        "name": {"before": [c for c in (code, name) if c], "after": days},
    }
    rules = policy()
    job = jobs.submit(get_engine(), "export", params, owner=rules.name or "", street=rules.street)
    ensure_runner()
    response = jsonify(_status(job).model_dump())
    response.headers["Location"] = url_for("export_jobs.job_status", job_id=job.id)
    return response, 202


@endpoint(
    bp,
    "/jobs/<int:job_id>",
    operation_id="getJob",
    tags=("exports",),
    path=_ID,
    replies=(_STATUS_REPLY,),
    errors=(404,),
)
def job_status(job_id: int) -> Response:
    """Where a background job stands: its state, rows written of all, its file once done."""
    job = _job(job_id)
    if job.state in ("queued", "running"):
        ensure_runner()  # this process takes the job back if the one running it died
    return jsonify(_status(job).model_dump())


@endpoint(
    bp,
    "/jobs/<int:job_id>/download",
    operation_id="downloadJob",
    tags=("exports",),
    path=_ID,
    replies=(
        Reply(
            200,
            description="The file, as an attachment.",
            content={
                media: {"type": "string", "format": "binary"}
                for media in dict.fromkeys(FORMATS.values())
            },
        ),
    ),
    errors=(404, 409),
)
def download_job(job_id: int) -> Response:
    """The file of a background export that is done."""
    job = _job(job_id)
    if job.state != "done" or not job.result_path:
        raise ConflictError(
            f"job {job_id} is {job.state}: its file is not ready",
            zh=f"任务 {job_id} 的状态为 {job.state}：文件还没有准备好",
        )
    path = Path(job.result_path)
    if not path.is_file():
        raise NotFoundError(
            f"the file of job {job_id} is no longer kept: export again",
            zh=f"任务 {job_id} 的文件已不再保留：请重新导出",
        )
    name = job.result_name or path.name
    response = send_file(path, conditional=False, max_age=0)
    response.headers["Content-Type"] = job.media_type or "application/octet-stream"
    response.headers["Content-Disposition"] = content_disposition(name, _ascii_name(job, name))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ascii_name(job: jobs.Job, name: str) -> str:
    """The file name without the area's Chinese name (old clients)."""
    parts = job.params.get("name", {}).get("before", [])
    if len(parts) == 2 and name.startswith(f"{parts[0]}_{parts[1]}_"):
        return parts[0] + name[len(parts[0]) + len(parts[1]) + 1 :]
    return name


@endpoint(
    bp,
    "/jobs/<int:job_id>",
    method="DELETE",
    operation_id="cancelJob",
    tags=("exports",),
    path=_ID,
    replies=(_STATUS_REPLY,),
    errors=(404,),
)
def cancel_job(job_id: int) -> Response:
    """Cancel a background job (a running export stops), or remove the file of one done."""
    _job(job_id)
    return jsonify(_status(jobs.cancel(get_engine(), job_id)).model_dump())
