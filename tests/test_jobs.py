"""Background jobs on a real PostGIS (gridgis.jobs), and the export job routes.

The queue: a job is claimed by one runner only (two claiming at once never share
one), reports its progress, ends done with a file read back with openpyxl and
pyogrio, failed with a message in the user's words and no path, or cancelled; a
running job of a dead process is queued again; old jobs and files are swept. The
routes: owner and administrator see a job, others get 404; a street office is
kept to its street; an analyst may export in the background.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from conftest import response_json, role_client
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import Engine, create_engine, text

from gridgis import jobs
from gridgis.errors import NotFoundError


@pytest.fixture(scope="module")
def demo_engine_module(demo_db: str) -> Iterator[Engine]:
    engine = create_engine(demo_db)
    yield engine
    engine.dispose()


def _street(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT min(code) FROM street")).scalar_one())


def test_two_claimers_never_take_one_job(engine: Engine) -> None:
    for n in range(20):
        jobs.submit(engine, "export", {"what": "cells", "fmt": "csv", "n": n}, owner="a")
    taken: dict[str, list[int]] = {"one": [], "two": []}
    barrier = threading.Barrier(2)

    def take(name: str) -> None:
        barrier.wait()
        while (job := jobs.claim(engine, worker=name)) is not None:
            taken[name].append(job.id)

    threads = [threading.Thread(target=take, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(taken["one"]) & set(taken["two"])
    assert len(taken["one"]) + len(taken["two"]) == 20


def test_an_export_job_reports_progress_and_ends_with_a_readable_file(
    demo_engine_module: Engine, tmp_path: Path
) -> None:
    engine = demo_engine_module
    job = jobs.submit(engine, "export", {"what": "cases", "fmt": "xlsx"}, owner="analyst")
    assert job.state == "queued" and job.percent is None
    seen: list[tuple[str, int, int | None]] = []
    original = jobs._REPORT_SECONDS
    jobs._REPORT_SECONDS = 0.0  # every report is written, to watch them
    try:
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                now = jobs.get(engine, job.id)
                seen.append((now.state, now.done, now.total))
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        ended = jobs.run_one(engine, tmp_path, worker="w1")
        stop.set()
        watcher.join()
    finally:
        jobs._REPORT_SECONDS = original
    assert ended is not None and ended.state == "done", ended
    assert ended.total and ended.done == ended.total and ended.percent == 100.0
    assert ended.result_name == "cases.xlsx"
    assert any(state == "running" for state, _, _ in seen)
    book = load_workbook(ended.result_path, read_only=True)
    assert sum(1 for _ in book.worksheets[0].iter_rows(min_row=2)) == ended.total
    book.close()
    assert jobs.run_one(engine, tmp_path, worker="w1") is None  # nothing left queued


def test_an_isolated_job_runs_in_a_child_process_with_the_case_lists_filters(
    demo_engine_module: Engine, tmp_path: Path
) -> None:
    """As the web app runs them: in a fresh interpreter, which writes progress and the end."""
    engine = demo_engine_module
    params = {
        "what": "cases", "fmt": "csv", "headers": "zh",
        "case_filter": {"step": "closed", "closed_late": True},
    }  # fmt: skip
    job = jobs.submit(engine, "export", params, owner="analyst")
    ended = jobs.run_one(engine, tmp_path, worker="parent", isolated=True)
    assert ended is not None and ended.id == job.id and ended.state == "done", ended
    with open(ended.result_path, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    with engine.connect() as conn:
        late = conn.execute(
            text("SELECT count(*) FROM case_record WHERE closed_at > deadline")
        ).scalar_one()
    assert len(rows) == ended.total == late > 0
    assert {row["环节编码"] for row in rows} == {"closed"}  # Chinese headers, as asked


def test_a_geopackage_job_reads_back(demo_engine_module: Engine, tmp_path: Path) -> None:
    street = _street(demo_engine_module)
    params = {"what": "cells", "fmt": "gpkg", "street": street,
              "name": {"before": [street, "街道"], "after": []}}  # fmt: skip
    jobs.submit(demo_engine_module, "export", params, owner="a")
    ended = jobs.run_one(demo_engine_module, tmp_path, worker="w")
    assert ended is not None and ended.state == "done"
    assert ended.result_name == f"{street}_街道_cells.gpkg"
    frame = pyogrio.read_dataframe(ended.result_path)
    assert len(frame) == ended.total and all(c.startswith(street) for c in frame["code"])


def test_a_failure_is_told_without_paths(demo_engine_module: Engine, tmp_path: Path) -> None:
    jobs.submit(demo_engine_module, "export", {"what": "cells", "fmt": "csv",
                                               "street": "999999999"}, owner="a")  # fmt: skip
    ended = jobs.run_one(demo_engine_module, tmp_path, worker="w")
    assert ended is not None and ended.state == "failed"
    assert ended.error and "999999999" in ended.error and str(tmp_path) not in ended.error
    assert not (tmp_path / str(ended.id)).exists()
    folder = tmp_path / "blocked"
    folder.write_text("a file where the jobs' folder should be")
    jobs.submit(demo_engine_module, "export", {"what": "cells", "fmt": "csv"}, owner="a")
    blocked = jobs.run_one(demo_engine_module, folder, worker="w")
    assert blocked is not None and blocked.state == "failed" and blocked.error == jobs.UNEXPECTED


def test_cancel_stops_a_running_job(demo_engine_module: Engine, tmp_path: Path) -> None:
    job = jobs.submit(demo_engine_module, "export", {"what": "cases", "fmt": "csv"}, owner="a")
    original = jobs._REPORT_SECONDS
    jobs._REPORT_SECONDS = 0.0
    real = jobs.KINDS["export"]

    def cancelled_first(engine, job, folder, progress):  # type: ignore[no-untyped-def]
        jobs.cancel(engine, job.id)  # as a user would, while it runs
        return real(engine, job, folder, progress)

    jobs.KINDS["export"] = cancelled_first
    try:
        ended = jobs.run_one(demo_engine_module, tmp_path, worker="w")
    finally:
        jobs.KINDS["export"] = real
        jobs._REPORT_SECONDS = original
    assert ended is not None and ended.state == "cancelled" and ended.result_path is None
    assert not (tmp_path / str(job.id)).exists()
    queued = jobs.submit(demo_engine_module, "export", {"what": "cells", "fmt": "csv"}, owner="a")
    assert jobs.cancel(demo_engine_module, queued.id).state == "cancelled"
    assert jobs.claim(demo_engine_module, worker="w") is None


def test_a_dead_process_job_is_queued_again_then_failed(engine: Engine) -> None:
    job = jobs.submit(engine, "export", {"what": "cells", "fmt": "csv"}, owner="a")
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        claimed = jobs.claim(engine, worker=f"dead{attempt}")
        assert claimed is not None and claimed.id == job.id and claimed.attempts == attempt
        assert jobs.recover(engine, stale_seconds=60) == []  # its heartbeat is fresh
        with engine.begin() as conn:
            conn.execute(text("UPDATE background_job SET heartbeat_at = now() - interval '1 hour'"))
        assert jobs.recover(engine, stale_seconds=60) == [job.id]
        # the dead runner's late write changes nothing
        assert not jobs._write(engine, job.id, f"dead{attempt}", done=5)
    final = jobs.get(engine, job.id)
    assert final.state == "failed" and final.error == jobs.DIED


def test_sweep_removes_old_jobs_and_their_files(engine: Engine, tmp_path: Path) -> None:
    old = jobs.submit(engine, "export", {"what": "cells", "fmt": "csv"}, owner="a")
    new = jobs.submit(engine, "export", {"what": "cells", "fmt": "csv"}, owner="a")
    for job in (old, new):
        (tmp_path / str(job.id)).mkdir()
        (tmp_path / str(job.id) / "export.csv").write_text("x")
        jobs.cancel(engine, job.id)
    (tmp_path / "99999").mkdir()  # a folder whose job is gone
    with engine.begin() as conn:
        conn.execute(text("UPDATE background_job SET finished_at = now() - interval '3 hours' "
                          "WHERE id = :id"), {"id": old.id})  # fmt: skip
    assert jobs.sweep(engine, tmp_path, keep_hours=2) == [old.id]
    assert sorted(p.name for p in tmp_path.iterdir()) == [str(new.id)]
    with pytest.raises(NotFoundError, match=f"job {old.id} does not exist"):
        jobs.get(engine, old.id)


# --- the routes -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def job_web(demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app({"TESTING": True, "DATABASE_URL": demo_db,
                              "JOBS_FOLDER": str(tmp_path_factory.mktemp("jobs"))})  # fmt: skip
    yield application
    dispose_engine(application)


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="jb")


def _csrf(client: FlaskClient) -> dict[str, str]:
    with client.session_transaction() as session:
        return {"X-CSRF-Token": session.get("csrf") or ""}


def _wait(client: FlaskClient, url: str, *, seconds: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        status = response_json(client.get(url), 200)
        if status["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return status  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_an_analyst_exports_in_the_background(job_web: Flask) -> None:
    analyst = _client(job_web, "analyst")
    answer = analyst.post("/api/export/cases.csv/jobs?encoding=gbk", headers=_csrf(analyst))
    started = response_json(answer, 202)
    assert answer.headers["Location"] == started["status_url"]
    status = _wait(analyst, started["status_url"])
    assert status["state"] == "done" and status["percent"] == 100.0, status
    assert status["file_name"] == "cases.csv"
    download = analyst.get(str(status["download_url"]))
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/csv; charset=GBK"
    lines = download.get_data().decode("gbk").splitlines()
    download.close()
    assert len(lines) - 1 == status["total"]
    other = _client(job_web, "analyst", None)
    assert other is analyst  # one analyst client: the admin and a street office are others
    admin = _client(job_web, "admin")
    assert admin.get(started["status_url"]).status_code == 200


def test_others_do_not_see_a_job_and_a_street_is_kept_to_itself(
    job_web: Flask, streets: list[str]
) -> None:
    mine = _client(job_web, "street", streets[0])
    theirs = _client(job_web, "street", streets[1])
    refused = mine.post(f"/api/export/cells.xlsx/jobs?street={streets[1]}", headers=_csrf(mine))
    assert response_json(refused, 403)["error"]["message"]
    started = response_json(mine.post("/api/export/cells.xlsx/jobs", headers=_csrf(mine)), 202)
    url = started["status_url"]
    assert response_json(theirs.get(url), 404)["error"]["code"] == "not_found"
    assert theirs.get(url + "/download").status_code == 404
    assert theirs.delete(url, headers=_csrf(theirs)).status_code == 404
    status = _wait(mine, url)
    assert status["state"] == "done" and str(status["file_name"]).startswith(streets[0])
    with mine.get(str(status["download_url"])) as download:
        data = download.get_data()
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes and all(str(code).startswith(streets[0]) for code in codes)
    assert response_json(mine.delete(url, headers=_csrf(mine)), 200)["state"] == "cancelled"
    assert mine.get(url + "/download").status_code == 409
    assert mine.get("/api/jobs/9223372036854775808").status_code == 404


def test_a_failed_job_speaks_the_users_language(job_web: Flask, demo_db: str) -> None:
    admin = _client(job_web, "admin")
    engine = create_engine(demo_db)
    try:
        job = jobs.submit(engine, "export", {"what": "cells", "fmt": "csv"}, owner="jb-admin-all")
        with engine.begin() as conn:
            conn.execute(text("UPDATE background_job SET state = 'failed', error = :e "
                              "WHERE id = :id"), {"e": jobs.UNEXPECTED, "id": job.id})  # fmt: skip
    finally:
        engine.dispose()
    zh = response_json(admin.get(f"/api/jobs/{job.id}?lang=zh"), 200)
    assert zh["error"] == jobs.UNEXPECTED
    en = response_json(admin.get(f"/api/jobs/{job.id}?lang=en"), 200)
    assert en["error"] == "unexpected error; it was written to the server's log"


# --- in the browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_export_page_runs_a_big_export_in_the_background(
    job_web: Flask, demo_db: str, tmp_path: Path
) -> None:
    from _browser import log_in, require_chromium, serve, watched_page
    from conftest import TEST_PASSWORD, add_test_user

    require_chromium()
    add_test_user(demo_db, "jb-browser", role="analyst")
    with serve(job_web) as base, watched_page(base) as (page, watch):
        log_in(page, base, "jb-browser", TEST_PASSWORD, then="/export")
        page.check("input[name=what][value=cases]")
        page.select_option("#export-fmt", "xlsx")
        page.click("#export-submit")
        page.wait_for_selector("#export-job:not([hidden])")
        page.wait_for_selector("#export-job[data-state=done]", timeout=60_000)
        assert page.locator("#export-progress").evaluate("el => el.value") == 100
        with page.expect_download() as info:
            page.click("#export-job-link")
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
    assert saved.name == "cases.xlsx"
    book = load_workbook(saved, read_only=True)
    assert sum(1 for _ in book.worksheets[0].iter_rows(min_row=2)) > 0
    book.close()
    watch.assert_clean()
