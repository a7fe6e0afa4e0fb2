"""Benchmark: a 200,000-case district exported as a background job, and the page's polls.

Builds a scratch database (``GRIDGIS_BENCH_DATABASE_URL``'s server, database
``gridgis_bench_jobs``; kept with ``--keep``): the demo district at scale 1, its
cases copied until there are ``--cases`` of them. Then serves the web app with
the job runner in its process (werkzeug, threaded, as ``flask run``), queues
``POST /api/export/cases.<fmt>/jobs`` as an administrator and polls
``GET /api/jobs/<id>`` every 0.2 s until the job ends, printing the job's time and
the p50/p95/max latency of the polls (the page stays responsive when these stay
small). Not part of the test suite.

    GRIDGIS_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/bench/export_jobs.py --cases 200000 --format xlsx
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

import requests
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from gridgis.db import migrate
from gridgis.demo import run_demo
from gridgis.users import add_user
from gridgis.web import create_app

NAME = "gridgis_bench_jobs"
PASSWORD = "bench password 1234"


def scratch(server_url: str, cases: int, *, keep: bool) -> str:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": NAME})
        exists = found.first() is not None
        if exists and not keep:
            conn.execute(text(f'DROP DATABASE "{NAME}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{NAME}"'))
    admin.dispose()
    url = make_url(server_url).set(database=NAME).render_as_string(hide_password=False)
    engine = create_engine(url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
    if have == 0:
        started = time.perf_counter()
        run_demo(engine, district="350304", scale=1.0, seed=0)
        add_user(engine, "bench", role="admin", password=PASSWORD, actor="bench")
        print(f"  demo district filled in {time.perf_counter() - started:.1f} s")
    with engine.begin() as conn:
        columns = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'case_record' AND is_generated = 'NEVER' "
                    "AND column_name NOT IN ('id', 'external_id') ORDER BY ordinal_position"
                )
            )
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        while (n := conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()) < cases:
            # raw SQL: a bulk copy of the demo's cases, every column but the ids
            conn.execute(
                text(
                    f"INSERT INTO case_record ({listed}) SELECT {listed} FROM case_record "
                    "ORDER BY id LIMIT :k"
                ),
                {"k": cases - n},
            )
        print(f"  {n:,} cases")
    engine.dispose()
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--format", default="xlsx")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    args = parser.parse_args()
    server_url = os.environ["GRIDGIS_BENCH_DATABASE_URL"]
    url = scratch(server_url, args.cases, keep=args.keep)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"DATABASE_URL": url, "JOBS_FOLDER": folder})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        session = requests.Session()
        session.headers["Accept"] = "application/json"
        login = session.get(f"{base}/login")
        token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
        session.post(f"{base}/login", data={"name": "bench", "password": PASSWORD,
                                            "csrf_token": token})  # fmt: skip
        csrf = session.get(f"{base}/export").text.split('"csrf_token": "')[1].split('"')[0]
        started = time.perf_counter()
        job = session.post(f"{base}/api/export/cases.{args.format}/jobs",
                           headers={"X-CSRF-Token": csrf}).json()  # fmt: skip
        latencies: list[float] = []
        while True:
            sent = time.perf_counter()
            status = session.get(base + job["status_url"]).json()
            latencies.append(time.perf_counter() - sent)
            if status["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        took = time.perf_counter() - started
        server.shutdown()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    print(f"export of {status['total'] or 0:,} cases as {args.format}: {status['state']} "
          f"in {took:.1f} s")  # fmt: skip
    print(f"status polls: {len(latencies)}, p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")  # fmt: skip
    return 0 if status["state"] == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
