"""Long work in the background: a queue of jobs in PostgreSQL, and the runners that work it.

A job (a row of ``background_job``) is queued by :func:`submit` and worked by a
runner: the thread each web process starts (:class:`Runner`) or ``gridgis jobs
worker``. No other server is needed; any process reads a job's state from the
database. How it stays right:

- **one runner per job**: :func:`claim` takes the oldest queued job with
  ``SELECT … FOR UPDATE SKIP LOCKED`` and marks it ``running`` under the
  runner's name in the same transaction; every later write of the runner
  (progress, the result, the failure) is made only while the row is still
  running under that name, so a runner that lost its job changes nothing;
- **a dead process**: a runner refreshes ``heartbeat_at`` while it works;
  :func:`recover` queues a running job whose heartbeat is older than
  ``GRIDGIS_JOBS_STALE_SECONDS`` again, and fails it after :data:`MAX_ATTEMPTS`;
- **cancelling**: :func:`cancel` marks the row; the runner sees it at its next
  progress report and stops (its temporary files are removed);
- **files**: a result is written under ``GRIDGIS_HOME/jobs/<id>/`` (never shown
  to users: the download route sends it); :func:`sweep` removes the jobs and
  files older than ``GRIDGIS_JOBS_KEEP_HOURS``.

Kinds: ``export`` (:func:`gridgis.export.export` with the job's ``params``) and
``import`` (a stage of an import staged by the web import page:
:func:`gridgis.registers.staging.run_stage`; ``done`` counts the phases it has run and
``message`` says the one it is in; its file is the per-row report).
``message`` and ``error`` hold the user's sentence (Chinese, translated by the
web app's catalog, or a library's message without the job folder's path).

Examples
--------
>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> job = submit(engine, "export", {"what": "cases", "fmt": "xlsx"}, owner="analyst1")
>>> run_one(engine, folder, worker="doc").state
'done'
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, delete, func, insert, or_, select, update

from gridgis.db.engine import dispose_engines, get_engine
from gridgis.db.models import BackgroundJob
from gridgis.db.queries import transaction
from gridgis.errors import GridGISError, NotFoundError
from gridgis.export import export

__all__ = [
    "CHANNEL",
    "KINDS",
    "MAX_ATTEMPTS",
    "PHRASES",
    "Job",
    "JobCancelledError",
    "Runner",
    "cancel",
    "claim",
    "get",
    "recover",
    "run_one",
    "submit",
    "sweep",
    "worker_name",
]

logger = logging.getLogger("gridgis.jobs")

CHANNEL = "gridgis_jobs"
"""The ``NOTIFY`` channel a new job is announced on (runners also poll)."""

MAX_ATTEMPTS = 3
"""Runs a job gets before a dead process's job is failed instead of queued again."""

READING = "正在读取数据"
WRITING = "正在写入文件"
UNEXPECTED = "意外错误，已记入服务器日志"
DIED = "运行该任务的进程已停止，请重新导出"
IMPORT_DIED = "运行该导入的进程已停止，数据库未作任何更改，请重新上传"
PHRASES: tuple[str, ...] = (READING, WRITING, UNEXPECTED, DIED, IMPORT_DIED)
"""The messages and errors a job may hold in Chinese (the web app translates them)."""

_REPORT_SECONDS = 0.5
"""The least time between two progress writes of a running job."""
_HEARTBEAT_SECONDS = 10.0


class JobCancelledError(Exception):
    """The job was cancelled (or taken from this runner) while it ran."""


@dataclass(frozen=True)
class Job:
    """A job as stored (see :class:`gridgis.db.models.BackgroundJob`)."""

    id: int
    kind: str
    params: dict[str, Any]
    owner: str
    street_code: str | None
    state: str
    done: int
    total: int | None
    message: str | None
    error: str | None
    result_path: str | None
    result_name: str | None
    media_type: str | None
    worker: str | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @property
    def percent(self) -> float | None:
        """Rows written of all, 0–100 (100 when done; ``None`` while the total is unknown)."""
        if self.state == "done":
            return 100.0
        if not self.total:
            return None
        return round(100.0 * min(self.done, self.total) / self.total, 1)


_COLUMNS = [getattr(BackgroundJob, name) for name in Job.__dataclass_fields__]


def _job(row: Any) -> Job:
    return Job(**dict(row._mapping))


def worker_name() -> str:
    """This runner's name: host, process and a random part (two runners never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def submit(
    bind: Engine, kind: str, params: Mapping[str, Any], *, owner: str, street: str | None = None
) -> Job:
    """Queue a job of ``kind`` with ``params`` for ``owner`` (kept to ``street``); announce it.

    Raises
    ------
    ValueError
        When ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"`kind` was {kind!r} but is expected to be one of {list(KINDS)}")
    with transaction(bind) as conn:
        row = conn.execute(
            insert(BackgroundJob)
            .values(kind=kind, params=dict(params), owner=owner, street_code=street)
            .returning(*_COLUMNS)
        ).one()
        conn.execute(select(func.pg_notify(CHANNEL, "")))  # wakes the runners that listen
    return _job(row)


def get(bind: Engine, job_id: int) -> Job:
    """The job ``job_id``.

    Raises
    ------
    NotFoundError
        When there is none (or it was swept).
    """
    if not 0 < job_id < 2**63:
        raise NotFoundError(f"job {job_id} does not exist", zh=f"后台任务 {job_id} 不存在")
    with bind.connect() as conn:
        row = conn.execute(select(*_COLUMNS).where(BackgroundJob.id == job_id)).first()
    if row is None:
        raise NotFoundError(f"job {job_id} does not exist", zh=f"后台任务 {job_id} 不存在")
    return _job(row)


def claim(bind: Engine, *, worker: str) -> Job | None:
    """Take the oldest queued job for ``worker`` (``None`` when none is queued).

    Two runners claiming at once never get the same job: the row is locked
    with ``FOR UPDATE SKIP LOCKED`` and marked running in one transaction.
    """
    oldest = (
        select(BackgroundJob.id)
        .where(BackgroundJob.state == "queued")
        .order_by(BackgroundJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    now = func.now()
    with transaction(bind) as conn:
        row = conn.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == oldest)
            .values(state="running", worker=worker, started_at=now, heartbeat_at=now,
                    attempts=BackgroundJob.attempts + 1, message=READING, done=0, total=None)
            .returning(*_COLUMNS)
        ).first()  # fmt: skip
    return None if row is None else _job(row)


def _mine(job_id: int, worker: str) -> Any:
    return (
        (BackgroundJob.id == job_id)
        & (BackgroundJob.state == "running")
        & (BackgroundJob.worker == worker)
    )


def _write(bind: Engine, job_id: int, worker: str, **values: Any) -> bool:
    """Change the job while it runs under ``worker``; whether it still did."""
    with transaction(bind) as conn:
        changed = conn.execute(
            update(BackgroundJob)
            .where(_mine(job_id, worker))
            .values(heartbeat_at=func.now(), **values)
            .returning(BackgroundJob.id)
        ).first()
    return changed is not None


def _finish(bind: Engine, job_id: int, worker: str, state: str, **values: Any) -> bool:
    return _write(bind, job_id, worker, state=state, finished_at=func.now(), **values)


def cancel(bind: Engine, job_id: int) -> Job:
    """Cancel a queued or running job; a finished job's file is removed too.

    A running job stops at its next progress report. Cancelling a job that
    failed or was cancelled changes nothing.
    """
    job = get(bind, job_id)
    with transaction(bind) as conn:
        conn.execute(
            update(BackgroundJob)
            .where(BackgroundJob.id == job_id)
            .where(BackgroundJob.state.in_(("queued", "running", "done")))
            .values(state="cancelled", finished_at=func.now(), message=None, result_path=None)
        )
    if job.result_path:
        shutil.rmtree(Path(job.result_path).parent, ignore_errors=True)
    return get(bind, job_id)


def recover(bind: Engine, *, stale_seconds: float) -> list[int]:
    """Queue again the running jobs with no heartbeat for ``stale_seconds`` (a dead process's);
    fail those that had :data:`MAX_ATTEMPTS` runs. Returns their ids."""
    limit = func.now() - dt.timedelta(seconds=stale_seconds)
    stale = (BackgroundJob.state == "running") & (
        or_(BackgroundJob.heartbeat_at.is_(None), BackgroundJob.heartbeat_at < limit)
    )
    with transaction(bind) as conn:
        failed = conn.execute(
            update(BackgroundJob)
            .where(stale & (BackgroundJob.attempts >= MAX_ATTEMPTS))
            .values(state="failed", error=DIED, message=None, finished_at=func.now())
            .returning(BackgroundJob.id)
        ).scalars()
        found = list(failed)
        queued = conn.execute(
            update(BackgroundJob)
            .where(stale)
            .values(state="queued", worker=None, message=None, done=0, total=None)
            .returning(BackgroundJob.id)
        ).scalars()
        found += list(queued)
    if found:
        logger.warning("background jobs of a stopped process taken back: %s", found)
    return sorted(found)


def sweep(bind: Engine, folder: Path, *, keep_hours: float) -> list[int]:
    """Remove the jobs that ended more than ``keep_hours`` ago, with their files, and any
    folder under ``folder`` whose job is gone. Returns the ids of the jobs removed."""
    limit = func.now() - dt.timedelta(hours=keep_hours)
    with transaction(bind) as conn:
        removed = list(
            conn.execute(
                delete(BackgroundJob)
                .where(BackgroundJob.state.in_(("done", "failed", "cancelled")))
                .where(BackgroundJob.finished_at < limit)
                .returning(BackgroundJob.id)
            ).scalars()
        )
        kept = set(conn.execute(select(BackgroundJob.id)).scalars())
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.isdigit() and int(entry.name) not in kept:
                shutil.rmtree(entry, ignore_errors=True)
    return sorted(removed)


# --- running a job ------------------------------------------------------------------------------


Progress = Callable[..., None]
"""A running job's ``progress(done, total, message=None)``: ``total`` ``None`` while unknown;
``message`` (default: :data:`WRITING`) what it does now. Raises :class:`JobCancelledError`
when the job was cancelled."""
Handler = Callable[[Engine, Job, Path, Progress], tuple[Path, str, str]]
"""Runs a job: (database, job, its folder, progress) → (file, download name, content type)."""


def _run_export(
    bind: Engine, job: Job, folder: Path, progress: Callable[[int, int], None]
) -> tuple[Path, str, str]:
    """An ``export`` job: :func:`gridgis.export.export` of the job's ``params``.

    ``params``: ``what``, ``fmt``, ``district``, ``street``, ``community``,
    ``since``, ``until`` (ISO dates), ``crs``, ``encoding``, ``level``, ``reveal``
    (whose people's data a register shows: ``true``, ``false`` or a street code), and
    ``name``: the parts before and after the export's own name in the file's
    name (the area, the days).
    """
    p = job.params
    result = export(
        bind, p["what"], p["fmt"], folder / ("export" + _suffix(p["fmt"])),
        district=p.get("district"), street=p.get("street"), community=p.get("community"),
        since=_day(p.get("since")), until=_day(p.get("until")), crs=p.get("crs", "wgs84"),
        encoding=p.get("encoding", "utf-8"), level=p.get("level", "cell"), actor=job.owner,
        progress=progress, headers=p.get("headers", "codes"), case_filter=p.get("case_filter"),
        reveal=p.get("reveal", False),
    )  # fmt: skip
    stem, _, suffix = result.filename.rpartition(".")
    parts = p.get("name", {})
    name = "_".join([*parts.get("before", []), stem, *parts.get("after", [])]) + "." + suffix
    return folder / ("export" + _suffix(p["fmt"])), name, result.content_type


def _suffix(fmt: str) -> str:
    return ".zip" if fmt == "shp" else "." + fmt


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _run_import(bind: Engine, job: Job, folder: Path, progress: Progress) -> tuple[Path, str, str]:
    """An ``import`` job: the stage ``params["stage"]`` of the import staged in
    ``params["folder"]`` (:func:`gridgis.registers.staging.run_stage`); each phase the
    importer announces is one step of ``done``, its words the ``message``."""
    from gridgis.registers import staging

    staged = staging.load_folder(Path(job.params["folder"]))
    if staged.state["stage"] != job.params["stage"]:
        raise GridGISError(
            f"the import is at its {staged.state['stage']} stage now",
            zh=f"该导入现已处于 {staged.state['stage']} 阶段",
        )
    phases = [0]

    def said(message: str) -> None:
        phases[0] += 1
        progress(phases[0], None, message)

    report = staging.run_stage(staged, bind, progress=said)
    target = folder / "report.csv"
    shutil.copyfile(report, target)
    stem = Path(staged.state["file_name"]).stem
    suffix = "report" if job.params["stage"] == "import" else "dry-run"
    return target, f"{stem}.{suffix}.csv", "text/csv"


KINDS: dict[str, Handler] = {"export": _run_export, "import": _run_import}
"""What a job may be, and what runs it."""


def _hide(text: str, folder: Path) -> str:
    for prefix in (str(folder) + os.sep, str(folder), str(folder.parent) + os.sep):
        text = text.replace(prefix, "")
    return text


def _heartbeat(bind: Engine, job_id: int, worker: str, stop: threading.Event) -> None:
    """Tell the database the job still runs, while one step (a query, GDAL) reports nothing."""
    while not stop.wait(_HEARTBEAT_SECONDS):
        try:
            _write(bind, job_id, worker)
        except Exception:  # a lost connection: the next beat tries again
            logger.warning("heartbeat of job %s failed", job_id, exc_info=True)


def run_one(bind: Engine, folder: Path, *, worker: str, isolated: bool = False) -> Job | None:
    """Claim one queued job and run it to its end; the job as it ended (``None``: none queued).

    ``isolated``: run it in a child process (a fresh interpreter), so that a long export's
    CPU never holds the web process's interpreter while it answers pages; the child writes
    its progress and end itself, and a child that dies leaves the job failed.
    """
    job = claim(bind, worker=worker)
    if job is None:
        return None
    if not isolated:
        _work(bind, job, folder, worker)
        return get(bind, job.id)
    child = multiprocessing.get_context("spawn").Process(
        target=_work_in_child,
        args=(bind.url.render_as_string(hide_password=False), job, folder, worker),
        name=f"gridgis-job-{job.id}",
        daemon=True,
    )
    child.start()
    child.join()
    if child.exitcode != 0 and _finish(  # killed, or died before it could say so
        bind, job.id, worker, "failed", error=UNEXPECTED, message=None
    ):
        logger.error("background job %s: its process ended with %s", job.id, child.exitcode)
    return get(bind, job.id)


def _work_in_child(url: str, job: Job, folder: Path, worker: str) -> None:
    """The body of :func:`run_one` in a child process, on an engine of its own."""
    bind = get_engine(url)
    try:
        _work(bind, job, folder, worker)
    finally:
        dispose_engines()


def _work(bind: Engine, job: Job, folder: Path, worker: str) -> None:
    """Run the claimed ``job`` to its end: done with its file, failed or cancelled."""
    place = folder / str(job.id)
    last = [0.0]

    def progress(done: int, total: int | None, message: str | None = None) -> None:
        now = time.monotonic()
        between = message is None and total is not None and done < total
        if between and now - last[0] < _REPORT_SECONDS:
            return
        last[0] = now
        said = WRITING if message is None else message
        if not _write(bind, job.id, worker, done=done, total=total, message=said):
            raise JobCancelledError(f"job {job.id} was cancelled")

    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(bind, job.id, worker, stop), daemon=True,
        name=f"gridgis-job-{job.id}-heartbeat",
    )  # fmt: skip
    beat.start()
    try:
        shutil.rmtree(place, ignore_errors=True)  # a dead runner's half-written file
        place.mkdir(parents=True, mode=0o700)
        path, name, media_type = KINDS[job.kind](bind, job, place, progress)
        total = func.coalesce(BackgroundJob.total, BackgroundJob.done)
        if not _finish(bind, job.id, worker, "done", result_path=str(path), result_name=name,
                       media_type=media_type, message=None, done=total):  # fmt: skip
            shutil.rmtree(place, ignore_errors=True)
    except JobCancelledError:
        shutil.rmtree(place, ignore_errors=True)
    except GridGISError as exc:
        shutil.rmtree(place, ignore_errors=True)
        _finish(bind, job.id, worker, "failed", error=_hide(str(exc), place), message=None)
    except Exception:  # unexpected: logged with its trace, the user gets a plain sentence
        logger.exception("background job %s (%s) failed", job.id, job.kind)
        shutil.rmtree(place, ignore_errors=True)
        _finish(bind, job.id, worker, "failed", error=UNEXPECTED, message=None)
    finally:
        stop.set()
        beat.join()


class Runner:
    """A thread that works the queue: claims and runs jobs, takes back a dead process's, sweeps.

    It waits for a ``NOTIFY`` on :data:`CHANNEL` (or ``poll_seconds``) between
    jobs. ``idle_seconds``: stop after that long with nothing queued (the web
    app starts it again with the next job); ``None`` runs until :meth:`stop`.
    ``isolated``: each job in a child process (:func:`run_one`), as the web app runs them.
    """

    def __init__(
        self, bind: Engine, folder: Path, *, keep_hours: float, stale_seconds: float,
        poll_seconds: float = 2.0, idle_seconds: float | None = None, isolated: bool = False,
    ) -> None:  # fmt: skip
        self.bind = bind
        self.folder = folder
        self.keep_hours = keep_hours
        self.stale_seconds = stale_seconds
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.isolated = isolated
        self.worker = worker_name()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Runner:
        """Start the thread (a daemon: it never holds the process open)."""
        self._thread = threading.Thread(target=self.run, name="gridgis-jobs", daemon=True)
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to stop once its current job ends, and wait ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, *, on_job: Callable[[Job], None] | None = None) -> None:
        """Work the queue in this thread until stopped (or idle for ``idle_seconds``)."""
        idle_since = time.monotonic()
        swept = 0.0
        listener: psycopg.Connection[Any] | None = None
        while not self._stop.is_set():
            try:
                if time.monotonic() - swept > 600:
                    recover(self.bind, stale_seconds=self.stale_seconds)
                    sweep(self.bind, self.folder, keep_hours=self.keep_hours)
                    swept = time.monotonic()
                if listener is None:
                    listener = self._listen()
                job = run_one(self.bind, self.folder, worker=self.worker, isolated=self.isolated)
            except Exception:  # the database is away: try again later, never die
                logger.warning("the background job runner could not work", exc_info=True)
                job = None
                listener = self._close(listener)
            if job is not None:
                idle_since = time.monotonic()
                if on_job is not None:
                    on_job(job)
                continue
            if self.idle_seconds is not None and time.monotonic() - idle_since > self.idle_seconds:
                break
            listener = self._wait(listener)
        self._close(listener)

    def _listen(self) -> psycopg.Connection[Any] | None:
        url = self.bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error:
            return None  # poll instead
        try:
            conn.execute(f"LISTEN {CHANNEL}")  # raw SQL: LISTEN has no expression
        except psycopg.Error:
            conn.close()  # (a connection left open would be closed by the collector, warning)
            return None
        return conn

    def _wait(self, listener: psycopg.Connection[Any] | None) -> psycopg.Connection[Any] | None:
        if listener is None:
            self._stop.wait(self.poll_seconds)
            return None
        try:
            for _ in listener.notifies(timeout=self.poll_seconds, stop_after=1):
                pass
        except psycopg.Error:
            return self._close(listener)
        return listener

    @staticmethod
    def _close(listener: psycopg.Connection[Any] | None) -> None:
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()
        return None
