"""Imports of the web import page: the staged upload, its runs on the job queue, its report.

An upload is kept in a private staging folder under the data home
(``GRIDGIS_HOME/imports/<job>/``, mode 700), never shown to the user: the
folder holds the file (under the name it was sent with), ``state.json`` (what
the page and the status route show: the stage, its progress, the counts, the
error), and after a run the per-row ``report.csv``, the rows to list
(``rows.json``) and the shapes of the flagged and rejected rows
(``shapes.geojson``); in both, the rejected rows come first, then the flagged ones.

A job runs twice: a dry run (``stage`` ``dry_run``: everything checked, then
rolled back) started with the upload, and, when the user confirms, the import
itself (``import``) with the same file and options. Each stage is a job of kind
``import`` on the PostgreSQL queue that exports use (:mod:`gridgis.jobs`:
:func:`queue`, worked by a web process's runner in a child process of its own, or
by ``gridgis jobs worker``), so a long import never holds a web process; the
queue's row says whether the stage is queued, running (with the phase it is in),
done or failed (also when the process running it died), and ``state.json`` holds
the report. Each stage is one transaction (the importer's): a dry run is rolled
back, an import commits whole or not at all. The uploaded file is removed when the
import has run or the job is cancelled, and a whole job folder when it is older
than ``GRIDGIS_IMPORT_STAGING_HOURS``.

Messages shown to the user never hold the staging folder's path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gridgis.errors import ConflictError, GridGISError, InputError, NotFoundError
from gridgis.registers.catalogue import import_kind
from gridgis.registers.reasons import LANGUAGES as reason_languages
from gridgis.registers.report import RegisterReport

__all__ = [
    "LISTED",
    "Job",
    "cancel",
    "confirm",
    "create",
    "current",
    "load",
    "load_folder",
    "queue",
    "run_stage",
    "sweep",
]

logger = logging.getLogger("gridgis.web.imports")

LISTED = 200
"""The most rejected and flagged rows a report page lists (the CSV has every row)."""

MAPPED = 5000
"""The most flagged and rejected rows drawn on the report page's map."""

_JOB_ID = re.compile(r"[0-9a-f]{16}")
_STATE = "state.json"
_FILE_FOLDER = "file"
_CONFIRMED = "confirmed"


@dataclass(frozen=True)
class Job:
    """A staged import as stored: its folder and its state (see the module's description)."""

    id: str
    folder: Path
    state: dict[str, Any]

    @property
    def file(self) -> Path | None:
        """The staged file, while it is kept."""
        found = sorted((self.folder / _FILE_FOLDER).glob("*"))
        return found[0] if found else None

    @property
    def report_csv(self) -> Path:
        return self.folder / "report.csv"

    def report_csv_in(self, language: str) -> Path:
        """The per-row CSV with the reasons in ``language`` (``"zh"`` or ``"en"``); the
        English one for a job kept before there were two."""
        wanted = self.folder / f"report.{language}.csv"
        return wanted if wanted.exists() else self.report_csv

    def rows(self) -> list[dict[str, Any]]:
        """The rejected, then the flagged rows of the last run (the first :data:`LISTED`)."""
        return _read_json(self.folder / "rows.json", [])

    def shapes(self) -> dict[str, Any]:
        """The flagged and rejected rows with a geometry, as a GeoJSON FeatureCollection."""
        empty = {"type": "FeatureCollection", "features": []}
        return _read_json(self.folder / "shapes.geojson", empty)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _write_json(path: Path, value: Any) -> None:
    """Write ``value`` whole or not at all (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{threading.get_ident()}")
    temporary.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def _safe_name(name: str) -> str:
    """The last part of an uploaded file's name, without control characters (Chinese kept)."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(c for c in base if c.isprintable()).strip().lstrip(".")
    stem, suffix = os.path.splitext(base)
    return (stem[:80] or "upload") + suffix.lower()[:10]


def _hide(text: str, folder: Path) -> str:
    """``text`` without the staging folder's path (the file's own name is kept)."""
    for prefix in (str(folder / _FILE_FOLDER) + os.sep, str(folder) + os.sep, str(folder)):
        text = text.replace(prefix, "")
    return text


def load_folder(folder: Path) -> Job:
    """The job kept in ``folder`` (the job queue's handle on it).

    Raises
    ------
    NotFoundError
        When it was cancelled or removed.
    """
    return load(folder.parent, folder.name)


def load(root: Path, job_id: str) -> Job:
    """The job ``job_id`` under ``root``.

    Raises
    ------
    NotFoundError
        When there is no such job (or it was removed).
    """
    if not _JOB_ID.fullmatch(job_id):
        raise NotFoundError(f"import {job_id!r} does not exist", zh=f"导入任务 {job_id!r} 不存在")
    folder = root / job_id
    state = _read_json(folder / _STATE, None)
    if state is None:
        raise NotFoundError(
            f"import {job_id!r} does not exist (or was removed)",
            zh=f"导入任务 {job_id!r} 不存在（或已被删除）",
        )
    return Job(job_id, folder, state)


def create(
    root: Path,
    *,
    kind: str,
    file_name: str,
    save: Callable[[Path], None],
    options: Mapping[str, Any],
    owner: str,
    street: str | None,
) -> Job:
    """Stage an upload: a new job folder with the file (``save`` writes it) and its state.

    Raises
    ------
    InputError
        When the file is of a type the kind does not read.
    """
    found = import_kind(kind)
    name = _safe_name(file_name)
    if not found.accepts(name):
        raise InputError(
            f"{file_name!r} is not a file the {kind} import reads; send one of "
            f"{', '.join(found.suffixes)} (a shapefile zipped)",
            zh=f"{file_name!r} 不是{found.label_zh}导入可读取的文件，请上传以下格式之一："
            f"{', '.join(found.suffixes)}（压缩的 Shapefile）",
        )
    checked = found.checked_options(options)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    job_id = secrets.token_hex(8)
    folder = root / job_id
    (folder / _FILE_FOLDER).mkdir(parents=True, mode=0o700)
    save(folder / _FILE_FOLDER / name)
    state = {
        "id": job_id,
        "kind": kind,
        "file_name": name,
        "options": checked,
        "owner": owner,
        "street": street,
        "created": time.time(),
        "stage": "dry_run",
        "state": "running",
        "message": None,
        "error": None,
        "counts": None,
    }
    _write_json(folder / _STATE, state)
    return Job(job_id, folder, state)


def _update(job: Job, **changes: Any) -> None:
    job.state.update(changes)
    with contextlib.suppress(FileNotFoundError):  # the job was cancelled meanwhile
        _write_json(job.folder / _STATE, job.state)


def queue(job: Job, engine: Engine) -> int:
    """Queue the job's current stage (the dry run, or the confirmed import) on the job queue
    (:func:`gridgis.jobs.submit`, kind ``import``); the queued job's id, kept in its state."""
    from gridgis import jobs

    queued = jobs.submit(
        engine,
        "import",
        {"folder": str(job.folder), "stage": job.state["stage"]},
        owner=job.state["owner"],
        street=job.state["street"],
    )
    _update(job, queue_id=queued.id, message=None)
    return queued.id


def current(job: Job, engine: Engine) -> dict[str, Any]:
    """The job's state with its queued stage's: ``queued`` (bool), ``phases`` (the phases
    run so far) and ``message``; a stage whose queued job failed or was cancelled
    without writing its end (its process died) is ``failed`` with the queue's reason."""
    from gridgis import jobs

    state = dict(job.state)
    queue_id = state.get("queue_id")
    if state["state"] != "running" or queue_id is None:
        return state
    try:
        queued = jobs.get(engine, int(queue_id))
    except NotFoundError:  # swept from the queue: it ended long ago
        return state | {"state": "failed", "error": jobs.IMPORT_DIED, "message": None}
    if queued.state in ("failed", "cancelled"):
        error = queued.error if queued.error not in (None, jobs.DIED) else jobs.IMPORT_DIED
        return state | {"state": "failed", "error": error, "message": None}
    message = state.get("message") if queued.state == "running" else None
    return state | {"queued": queued.state == "queued", "phases": queued.done, "message": message}


def run_stage(job: Job, engine: Engine, *, progress: Callable[[str], None] | None = None) -> Path:
    """Run the job's current stage now, keep its report in the job's folder and return the
    per-row CSV (Chinese reasons); what the importer says goes to ``progress`` too.

    Raises
    ------
    GridGISError
        When the stage failed (its state says why, without the folder's path); the
        importer changed nothing.
    """
    state = job.state
    path = job.file
    dry_run = state["stage"] == "dry_run"

    def said(message: str) -> None:
        shown = _hide(message, job.folder)
        _update(job, message=shown)
        if progress is not None:
            progress(shown)

    try:
        if path is None:
            raise NotFoundError(
                "the uploaded file is no longer kept: upload it again",
                zh="上传的文件已不再保留：请重新上传",
            )
        report = import_kind(state["kind"]).run(
            engine,
            path,
            options=state["options"],
            street=state["street"],
            dry_run=dry_run,
            progress=said,
            actor=state["owner"],
        )
        _keep_report(job, report)
    except GridGISError as exc:
        zh = _hide(exc.zh, job.folder) if exc.zh else None
        _update(job, state="failed", error=_hide(str(exc), job.folder), error_zh=zh, message=None)
        raise
    except Exception:  # unexpected: logged with its trace, the user sees a plain sentence
        logger.exception("import %s (%s) failed", job.id, state["kind"])
        _update(
            job,
            state="failed",
            error="unexpected error; it was logged",
            error_zh=None,
            message=None,
        )
        raise
    finally:
        if not dry_run and path is not None:
            shutil.rmtree(job.folder / _FILE_FOLDER, ignore_errors=True)
    return job.report_csv_in("zh")


def _keep_report(job: Job, report: RegisterReport) -> None:
    """Store what the page shows of ``report`` and mark the stage done."""
    rows = report.rows
    report.write_csv(job.report_csv)
    for language in reason_languages:
        report.write_csv(job.folder / f"report.{language}.csv", language=language)
    listed = rows.iloc[_to_look_at(rows)]
    shown = [
        {k: (None if _missing(v) else v) for k, v in record.items()}
        for record in listed.head(LISTED)[
            ["row", "id", "outcome", "flags", "reason", "reason_code", "changes"]
        ].to_dict("records")
    ]
    for record in shown:
        record["row"] = int(str(record["row"]))
        record["id"] = None if record["id"] is None else str(record["id"])
    _write_json(job.folder / "rows.json", shown)
    _write_json(job.folder / "shapes.geojson", _shapes(report))
    _update(
        job,
        state="done",
        message=None,
        counts=report.counts,
        flags=report.flags,
        listed=len(listed),
        notes=[_hide(n, job.folder) for n in report.notes],
        numbering=report.numbering,
        encoding=report.encoding,
        crs=report.crs,
        committed=report.committed,
        finished=time.time(),
    )


def _to_look_at(rows: pd.DataFrame) -> np.ndarray:
    """The positions of the rejected rows, then of the flagged ones, each in file order: the
    page lists the first :data:`LISTED`, so a rejected row never hides behind flagged ones."""
    outcome = rows["outcome"].to_numpy()
    return np.concatenate(
        [np.flatnonzero(outcome == "rejected"), np.flatnonzero(outcome == "flagged")]
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _shapes(report: RegisterReport) -> dict[str, Any]:
    """The flagged and rejected rows that have a geometry, as GeoJSON features."""
    features: list[dict[str, Any]] = []
    if report.shapes is not None:
        rows = report.rows
        order = _to_look_at(rows)
        wanted = order[~shapely.is_missing(report.shapes[order])]
        for i in wanted[:MAPPED]:  # a few hundred features, written once
            row = rows.iloc[int(i)]
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(report.shapes[i]),
                    "properties": {
                        "row": int(row["row"]),
                        "id": None if _missing(row["id"]) else str(row["id"]),
                        "outcome": row["outcome"],
                        "flags": None if _missing(row["flags"]) else row["flags"],
                        "reason": None if _missing(row["reason"]) else row["reason"],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def confirm(job: Job, engine: Engine) -> int:
    """Queue the import itself, once, after a dry run that completed; the queued job's id.

    Raises
    ------
    ConflictError
        When the dry run has not completed, or the import was confirmed already
        (by another request, in any server process).
    """
    state = job.state
    if state["stage"] != "dry_run" or state["state"] != "done":
        raise ConflictError(f"import {job.id} cannot be confirmed now ({state['stage']}, "
                            f"{state['state']})",
                            zh=f"导入任务 {job.id} 现在不能确认（{state['stage']}，"
                            f"{state['state']}）")  # fmt: skip
    try:
        os.close(os.open(job.folder / _CONFIRMED, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise ConflictError(
            f"import {job.id} was confirmed already", zh=f"导入任务 {job.id} 已经确认过了"
        ) from None
    _update(
        job, stage="import", state="running", message=None, counts=None, error=None, error_zh=None
    )
    return queue(job, engine)


def cancel(job: Job, engine: Engine | None = None) -> None:
    """Remove the job and its file (refused while the import itself runs); a queued or
    running dry run is cancelled on the queue too (with ``engine``).

    Raises
    ------
    ConflictError
        While the confirmed import runs: it completes or changes nothing.
    """
    if job.state["stage"] == "import" and job.state["state"] == "running":
        raise ConflictError(
            f"import {job.id} is running; it completes or changes nothing",
            zh=f"导入任务 {job.id} 正在运行；它会全部完成，或不作任何更改",
        )
    queue_id = job.state.get("queue_id")
    if engine is not None and queue_id is not None and job.state["state"] == "running":
        from gridgis import jobs

        with contextlib.suppress(NotFoundError):
            jobs.cancel(engine, int(queue_id))
    shutil.rmtree(job.folder, ignore_errors=True)


def sweep(root: Path, *, max_age_hours: float, now: float | None = None) -> list[str]:
    """Remove the jobs whose state was last written more than ``max_age_hours`` ago.

    Returns
    -------
    list of str
        The ids of the jobs removed.
    """
    if not root.is_dir():
        return []
    limit = (time.time() if now is None else now) - max_age_hours * 3600
    removed = []
    for folder in root.iterdir():
        if not _JOB_ID.fullmatch(folder.name):
            continue
        state = folder / _STATE
        try:
            stamp = state.stat().st_mtime if state.exists() else folder.stat().st_mtime
        except FileNotFoundError:
            continue
        if stamp < limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed
