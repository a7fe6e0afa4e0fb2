"""Benchmark: listing 100 cases of a 200,000-case district (issue 18: < 200 ms).

Uses the scratch database of ``export_jobs.py`` (``gridgis_bench_jobs``: the demo
district at scale 1 with its cases copied up to ``--cases``; kept and reused). For
each list a user opens — the newest cases, one street's, the overdue ones, a
department's, a text search, a grid worker's cells — it times ``GET /api/cases?limit=100``
through the web app (Flask's test client: routing, access policy, the query, JSON)
and, as the peer, the same page of rows read by one plain SQL statement on the same
connection pool (what PostgreSQL alone costs). Prints p50/p95 of each and the ratio.
Not part of the test suite.

    GRIDGIS_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python scripts/bench/case_list.py --cases 200000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from export_jobs import scratch
from sqlalchemy import create_engine, text

from gridgis.users import add_user, issue_token
from gridgis.web import create_app

PASSWORD = "bench password 1234"


def _times(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: compiled statements, caches
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.95 * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    url = scratch(os.environ["GRIDGIS_BENCH_DATABASE_URL"], args.cases, keep=True)
    engine = create_engine(url)
    with engine.begin() as conn:
        total = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
        street = conn.execute(
            text("SELECT street_code FROM case_record GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ).scalar_one()
        department = conn.execute(
            text(
                "SELECT department_code FROM case_record WHERE department_code IS NOT NULL "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        worker = conn.execute(
            text(
                "SELECT w.external_id FROM grid_worker w JOIN worker_cell c ON c.worker_id = w.id "
                "ORDER BY w.id LIMIT 1"
            )
        ).scalar_one()
        names = {r[0] for r in conn.execute(text("SELECT name FROM app_user"))}
    for name, role, extra in (
        ("bench-admin", "admin", {}),
        ("bench-worker", "worker", {"worker": worker}),
    ):
        if name not in names:
            add_user(engine, name, role=role, password=PASSWORD, actor="bench", **extra)
    tokens = {n: issue_token(engine, n, actor="bench") for n in ("bench-admin", "bench-worker")}
    app = create_app({"DATABASE_URL": url})
    client = app.test_client()
    lists = {
        "newest": ("bench-admin", "", "TRUE"),
        "one street": ("bench-admin", f"street={street}", f"street_code = '{street}'"),
        "overdue": (
            "bench-admin",
            "overdue=true",
            "closed_at IS NULL AND rejected_at IS NULL AND deadline < now()",
        ),
        "a department's": (
            "bench-admin",
            f"department={department}",
            f"department_code = '{department}'",
        ),
        "text search": ("bench-admin", "text=楼道", "description ILIKE '%楼道%'"),
        "a worker's cells": ("bench-worker", "", None),
    }
    print(f"{total:,} cases; GET /api/cases?limit=100 against one plain SQL page, ms")
    print(f"{'list':<16} {'app p50':>8} {'app p95':>8} {'SQL p50':>8} {'ratio':>6}")
    worst = 0.0
    for label, (user, query, where) in lists.items():
        headers = {"Authorization": f"Bearer {tokens[user]}"}

        def listing(query: str = query, headers: dict[str, str] = headers) -> object:
            response = client.get(f"/api/cases?limit=100&{query}", headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)[:200]
            return response.get_json()

        app_times = _times(listing, args.repeat)
        worst = max(worst, _p95(app_times))
        if where is None:
            print(f"{label:<16} {statistics.median(app_times):8.1f} {_p95(app_times):8.1f}")
            continue
        with engine.connect() as conn:
            # raw SQL: the peer, one statement for the same page of rows
            peer = text(
                f"SELECT * FROM case_record WHERE {where} "
                "ORDER BY reported_at DESC, id DESC LIMIT 100"
            )
            sql_times = _times(lambda peer=peer: conn.execute(peer).all(), args.repeat)
        ratio = statistics.median(app_times) / statistics.median(sql_times)
        print(
            f"{label:<16} {statistics.median(app_times):8.1f} {_p95(app_times):8.1f} "
            f"{statistics.median(sql_times):8.1f} {ratio:6.1f}"
        )
    print(f"worst p95: {worst:.0f} ms (target < 200 ms)")
    engine.dispose()
    return 0 if worst < 200 else 1


if __name__ == "__main__":
    raise SystemExit(main())
