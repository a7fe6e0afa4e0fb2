"""Measure case intake over HTTP: cases filed per second by point, and their latency.

Creates the scratch database ``gridgis_bench_intake`` on gridgis's local
cluster (``GRIDGIS_HOME``, started on demand), migrates it and loads the
small demo district (350304 荔城区 at 5 %), then starts the web app under
gunicorn (``-k gthread``) on loopback with ``GRIDGIS_DATABASE_URL`` pointing
at it. Client processes, each with a few keep-alive connections
(:mod:`http.client`), then ``POST /api/cases`` by point (building locations
of the district, so every case is located and routed to its cell) for the
given number of seconds. Prints cases/s, the latency percentiles and what
the database holds afterwards; stops gunicorn and drops the database.

``--refused`` posts cases without a category instead: the app refuses them
(422) before calling the library, which measures the ceiling of the HTTP
stack alone (gunicorn, Flask, the request checks and the load generator) on
this machine.

The issue's targets: at least 1,000 cases/s with p99 under 50 ms on a
2-core machine.

Usage::

    python scripts/bench/intake.py                          # 10 s, 4 clients x 2 connections
    python scripts/bench/intake.py --seconds 20 --clients 2 --connections 4 --workers 2
    python scripts/bench/intake.py --refused                # the HTTP stack alone
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import create_engine, text

from gridgis.db import migrate
from gridgis.db.cluster import LocalCluster
from gridgis.demo import run_demo

SCRATCH = "gridgis_bench_intake"
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0


@dataclass(frozen=True)
class ClientResult:
    """What one client process saw: latencies (seconds) of the 201s, and the failures."""

    latencies: list[float]
    failures: dict[int, int]
    first_error: str | None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /api/health within {timeout:g} s")


def _connection_loop(
    port: int, points: list[tuple[float, float]], start: float, stop: float, seed: int,
    refused: bool,
) -> ClientResult:  # fmt: skip
    """One keep-alive connection posting cases from ``start`` until ``stop`` (monotonic)."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
    latencies: list[float] = []
    failures: dict[int, int] = {}
    first_error = None
    while time.monotonic() < start:
        time.sleep(0.001)
    while True:
        now = time.monotonic()
        if now >= stop:
            break
        lon, lat = rng.choice(points)
        case = {"category": "fire_safety", "lon": lon, "lat": lat, "source": "压测"}
        if refused:
            del case["category"]
        body = json.dumps(case).encode()
        sent = time.perf_counter()
        conn.request("POST", "/api/cases", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - sent
        if response.status == (422 if refused else 201):
            latencies.append(elapsed)
        else:
            failures[response.status] = failures.get(response.status, 0) + 1
            first_error = first_error or answer.decode(errors="replace")[:300]
    conn.close()
    return ClientResult(latencies, failures, first_error)


def _client(
    port: int, points: list[tuple[float, float]], connections: int, start: float, stop: float,
    seed: int, refused: bool,
) -> ClientResult:  # fmt: skip
    """A client process: ``connections`` threads, one keep-alive connection each."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(connections) as pool:
        futures = [
            pool.submit(_connection_loop, port, points, start, stop, seed * 100 + n, refused)
            for n in range(connections)
        ]
        results = [f.result() for f in futures]
    failures: dict[int, int] = {}
    for r in results:
        for status, count in r.failures.items():
            failures[status] = failures.get(status, 0) + count
    return ClientResult(
        [x for r in results for x in r.latencies],
        failures,
        next((r.first_error for r in results if r.first_error), None),
    )


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the load")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--connections", type=int, default=2, help="connections per client")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load not counted")
    parser.add_argument("--scale", type=float, default=0.05, help="demo scale")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--refused", action="store_true", help="post invalid cases: the HTTP stack alone"
    )
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; gunicorn {args.workers} "
        f"workers x {args.threads} threads; {args.clients} clients x {args.connections} "
        f"connections; {args.seconds:g} s after {args.warmup:g} s warm-up"
    )
    cluster = LocalCluster()
    cluster.ensure_running()
    cluster.drop_database(SCRATCH)
    url = cluster.create_database(SCRATCH)
    engine = create_engine(url)
    server: subprocess.Popen[bytes] | None = None
    try:
        migrate.upgrade(engine)
        loaded = time.perf_counter()
        run_demo(engine, district="350304", scale=args.scale, workers=1)
        with engine.connect() as conn:
            points = [
                (float(x), float(y))
                for x, y in conn.execute(
                    text("SELECT ST_X(location), ST_Y(location) FROM building")
                )
            ]
            before = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
        print(f"demo loaded in {time.perf_counter() - loaded:.1f} s; {len(points)} points")

        port = _free_port()
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
                "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
                "--log-level", "warning", "gridgis.web:create_app()",
            ],
            env={**os.environ, "GRIDGIS_DATABASE_URL": url},
        )  # fmt: skip
        _wait_ready(port, server)

        warm_start = time.monotonic() + 0.5
        start = warm_start + args.warmup
        with ProcessPoolExecutor(args.clients) as pool:
            # Warm-up: connections, pools and caches of every worker; not counted.
            warm = [
                pool.submit(
                    _client, port, points, args.connections, warm_start, start, n, args.refused
                )
                for n in range(args.clients)
            ]
            for f in warm:
                f.result()
            start = time.monotonic() + 0.5
            stop = start + args.seconds
            futures = [
                pool.submit(
                    _client, port, points, args.connections, start, stop, 1000 + n, args.refused
                )
                for n in range(args.clients)
            ]
            results = [f.result() for f in futures]

        latencies = sorted(x for r in results for x in r.latencies)
        failures: dict[int, int] = {}
        for r in results:
            for status, count in r.failures.items():
                failures[status] = failures.get(status, 0) + count
        rate = len(latencies) / args.seconds
        p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99))
        with engine.connect() as conn:
            after = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
            located = conn.execute(
                text(
                    "SELECT count(*) FROM case_record WHERE source = '压测' AND cell_id IS NOT NULL"
                )
            ).scalar_one()
        what = "requests refused (422)" if args.refused else "cases filed"
        print(f"{what}: {len(latencies)} in {args.seconds:g} s = {rate:,.0f} per second")
        print(f"latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms")
        print(f"stored: {after - before} new cases (warm-up included), {located} of them in a cell")
        if failures:
            first = next((r.first_error for r in results if r.first_error), None)
            print(f"failures: {failures}; first: {first}")
        if not args.refused:
            verdict = rate >= TARGET_RATE and p99 < TARGET_P99_MS
            print(
                f"target >= {TARGET_RATE:,.0f} cases/s and p99 < {TARGET_P99_MS:g} ms: "
                + ("met" if verdict else "NOT met")
            )
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        engine.dispose()
        if not args.keep:
            cluster.drop_database(SCRATCH)


if __name__ == "__main__":
    sys.exit(main())
