"""Measure case intake over HTTP: cases filed per second by point, and their latency.

Creates the scratch database ``gridgis_bench_intake`` on gridgis's local
cluster (``GRIDGIS_HOME``, started on demand), migrates it and loads the
small demo district (350304 荔城区 at 5 %), then starts the web app under
gunicorn (``-k gthread``) on loopback with ``GRIDGIS_DATABASE_URL`` pointing
at it, and waits until every worker has loaded the app (on a busy machine a
worker may take many seconds to import it, CPU that would otherwise count as
the run's). Client processes, each driving a few keep-alive connections from one
thread (raw sockets and a selector: the load generator shares the cores with
the server, so it is kept lean), then ``POST /api/cases`` by point (building
locations of the district, so every case is located and routed to its cell)
for the given number of seconds, ``--runs`` times after a warm-up. Each run
prints cases/s, the latency percentiles and how the CPU time was split
between gunicorn, PostgreSQL, the load generator and everything else on the
machine (interrupts: mostly loopback networking; other: processes that are not
this benchmark's, e.g. other people's work on a shared machine); the last lines
give the medians over the runs and the CPU each request cost. Stops gunicorn and
drops the database at the end.

``--refused`` posts cases without a category instead: the app refuses them
(422) before calling the library, which measures the ceiling of the HTTP
stack alone (gunicorn, Flask, the request checks and the load generator) on
this machine.

``--sync-commit off`` starts gunicorn with ``GRIDGIS_INTAKE_SYNC_COMMIT=off``
(see :mod:`gridgis.web.cases_api`): each case is answered before its WAL
record reaches the disk. Shown for comparison; the default is ``on``.

The issue's targets: at least 1,000 cases/s with p99 under 50 ms on a
2-core machine.

Usage::

    python scripts/bench/intake.py                 # 3 runs of 10 s, 2 workers x 5 threads
    python scripts/bench/intake.py --threads 8 --pool-size 8   # a pool sized to 8 threads
    python scripts/bench/intake.py --sync-commit off           # answered before the flush
    python scripts/bench/intake.py --refused       # the HTTP stack alone

Measured on the 2 cores of a development machine, shared with other people's
work: figures are medians over runs where that work took no CPU ("other" 0.00),
and still vary by about a tenth from one set of runs to the next. The hosts
behind "this machine" differ from session to session; each block below was
measured in one session, on one host.

2026-11-22 (AMD EPYC, 2 cores; API token per request; ``ix_case_record_category_code``
dropped by migration 0006):

==========================================  =======  =====  =====  =====  ========
configuration (2 clients x 8 connections)   cases/s  p50    p95    p99    CPU/case
==========================================  =======  =====  =====  =====  ========
the defaults (2 x 5 threads), 5 runs         1,911  8.2 ms 16.3   21.5   1.0 ms
``--sync-commit off``, 3 runs               2,362  6.8 ms 13.1   17.9   0.8 ms
``--refused`` (HTTP stack alone), 3 runs    6,500  2.2 ms 5.2    10.1   0.3 ms
==========================================  =======  =====  =====  =====  ========

Per case: 0.70 ms in gunicorn (0.28 of it the HTTP stack, authentication and
Flask, as ``--refused`` shows), 0.25 ms in PostgreSQL, 0.04 ms in the load
generator.

Earlier sessions, on slower hosts (the same code paths, before authentication
unless said):

==========================================  =======  =====  =====  =====  ========
configuration (2 clients x 8 connections)   cases/s  p50    p95    p99    CPU/case
==========================================  =======  =====  =====  =====  ========
before (a dozen statements, PostGIS lookup)     279  56 ms  102    117    6.7 ms
2 workers x 5 threads (the defaults)            890  16 ms  35     44     1.9 ms
2 x 5, ``--sync-commit off``                    870  16 ms  37     48     2.0 ms
2 x 8 threads, ``--pool-size 8``                800  18 ms  38     49     2.1 ms
3 workers x 5 threads, 2 x 10 connections       800  22 ms  47     62     2.4 ms
``--refused`` (HTTP stack alone), 2 x 8 thr.  4,840  2.6    7.8    15     0.4 ms
defaults with an API token (2026-11-21)         759  --     --     54     2.5 ms
==========================================  =======  =====  =====  =====  ========

The CPU per case, not the rate, is the figure to compare across hosts: the rate
is at most 2 cores divided by it, less what the p99 needs as headroom.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import secrets
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from flask import Flask
from sqlalchemy import create_engine, text

from gridgis import users
from gridgis.db import migrate
from gridgis.db.cluster import LocalCluster
from gridgis.demo import run_demo

SCRATCH = "gridgis_bench_intake"
HERE = Path(__file__).resolve().parent
TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
_BODIES = 2000
"""Request bodies prepared per connection before the clock starts (cycled)."""


@dataclass(frozen=True)
class ClientResult:
    """What one client process saw: latencies (seconds) of the expected answers, failures,
    and the CPU seconds the process used."""

    latencies: list[float]
    failures: dict[int, int]
    first_error: str | None
    cpu: float


@dataclass(frozen=True)
class RunResult:
    """One measured run."""

    rate: float
    p50: float
    p95: float
    p99: float
    cpu: dict[str, float]
    """CPU seconds per second of run (1.0 = one core busy) by group."""
    failures: dict[int, int]
    first_error: str | None


def bench_app() -> Flask:
    """The web app with its engine's pool sized to ``GRIDGIS_BENCH_POOL_SIZE`` connections.

    For ``--pool-size``: the app's own engine (:mod:`gridgis.web.db`) keeps 5
    connections and opens up to 10 more for a moment, so with more than 5 threads a
    worker keeps connecting and disconnecting; this shows what a pool sized to the
    threads gives, without changing the app.
    """
    from gridgis.db.engine import normalise_url, ping_when_idle
    from gridgis.web import create_app
    from gridgis.web.db import EXTENSION_KEY

    app = create_app()
    size = int(os.environ["GRIDGIS_BENCH_POOL_SIZE"])
    url = normalise_url(os.environ["GRIDGIS_DATABASE_URL"])
    app.extensions[EXTENSION_KEY] = ping_when_idle(
        create_engine(url, pool_size=size, max_overflow=0)
    )
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    request = b"GET /api/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /api/health within {timeout:g} s")


_READY_HOOK = """
import pathlib

def post_worker_init(worker):
    pathlib.Path({folder!r}, str(worker.pid)).touch()
"""
"""gunicorn settings (``-c``) that mark each worker once it has loaded the app."""


def _wait_workers(folder: Path, workers: int, server: subprocess.Popen[bytes]) -> None:
    """Wait until each of the ``workers`` has loaded the app (a file in ``folder`` each).

    One worker answering ``/api/health`` is not enough: on a busy machine the others may
    still be importing the app for many seconds, and that CPU would count as the run's.
    """
    deadline = time.monotonic() + 300
    while len(list(folder.iterdir())) < workers:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all {workers} gunicorn workers loaded the app in 300 s")
        time.sleep(0.2)


def _requests(
    points: list[tuple[float, float]], seed: int, refused: bool, token: str
) -> list[bytes]:
    """Prepared POST requests (head with the API token, and JSON body) at random points."""
    rng = random.Random(seed)
    out = []
    for _ in range(_BODIES):
        lon, lat = rng.choice(points)
        case: dict[str, object] = {"category": "fire_safety", "lon": lon, "lat": lat}
        case["source"] = "压测"
        if refused:
            del case["category"]
        body = json.dumps(case).encode()
        head = (
            "POST /api/cases HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


class _Connection:
    """One keep-alive connection: one request in flight at a time."""

    def __init__(self, port: int, requests: list[bytes]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.requests = requests
        self.next = 0
        self.buffer = b""
        self.sent = 0.0

    def send(self) -> None:
        self.buffer = b""
        self.sent = time.perf_counter()
        self.sock.sendall(self.requests[self.next % len(self.requests)])
        self.next += 1

    def answer(self) -> tuple[int, bytes] | None:
        """Read what has arrived; the (status, body) once the answer is complete."""
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return None
        return int(head.split(" ", 2)[1]), self.buffer[end + 4 : end + 4 + length]


def _client(
    port: int, points: list[tuple[float, float]], connections: int, start: float, stop: float,
    seed: int, refused: bool, token: str,
) -> ClientResult:  # fmt: skip
    """A client process: ``connections`` keep-alive connections driven from one thread."""
    expected = 422 if refused else 201
    conns = [
        _Connection(port, _requests(points, seed * 100 + n, refused, token))
        for n in range(connections)
    ]
    selector = selectors.DefaultSelector()
    for conn in conns:
        selector.register(conn.sock, selectors.EVENT_READ, conn)
    latencies: list[float] = []
    failures: dict[int, int] = {}
    first_error = None
    while time.monotonic() < start:
        time.sleep(0.001)
    cpu = time.process_time()
    for conn in conns:
        conn.send()
    open_ = len(conns)
    while open_:
        for key, _ in selector.select(timeout=30):
            conn = key.data
            answer = conn.answer()
            if answer is None:
                continue
            elapsed = time.perf_counter() - conn.sent
            status, body = answer
            if status == expected:
                latencies.append(elapsed)
            else:
                failures[status] = failures.get(status, 0) + 1
                first_error = first_error or body.decode(errors="replace")[:300]
            if time.monotonic() < stop:
                conn.send()
            else:
                selector.unregister(conn.sock)
                conn.sock.close()
                open_ -= 1
    return ClientResult(latencies, failures, first_error, time.process_time() - cpu)


def _percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def _cpu_snapshot(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds used so far by each process (by pid)."""
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def _busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy, and those of them spent on interrupts
    (on loopback, much of the network's work: not counted to any process)."""
    times = psutil.cpu_times()
    interrupts = getattr(times, "irq", 0.0) + getattr(times, "softirq", 0.0)
    return float(sum(times)) - times.idle - getattr(times, "iowait", 0.0), interrupts


def _server_processes(server: subprocess.Popen[bytes], postmaster: int) -> dict[str, list]:
    """gunicorn's processes, and PostgreSQL's: the backends serving the scratch database
    and the cluster's own (WAL writer, checkpointer...), not other databases' backends."""
    master = psutil.Process(server.pid)
    postgres = []
    for child in psutil.Process(postmaster).children():
        try:
            title = " ".join(child.cmdline())
        except psutil.Error:  # ended meanwhile
            continue
        if f" {SCRATCH} " in title or ("[local]" not in title and " 127." not in title):
            postgres.append(child)
    return {"gunicorn": [master, *master.children(recursive=True)], "postgres": postgres}


def _run(
    pool: ProcessPoolExecutor,
    args: argparse.Namespace,
    port: int,
    points: list[tuple[float, float]],
    seed: int,
    processes: Callable[[], dict[str, list[psutil.Process]]],
    token: str,
) -> RunResult:
    start = time.monotonic() + 0.5
    stop = start + args.seconds
    futures = [
        pool.submit(
            _client, port, points, args.connections, start, stop, seed + n, args.refused, token
        )
        for n in range(args.clients)
    ]
    while time.monotonic() < start:
        time.sleep(0.001)
    before = {name: _cpu_snapshot(group) for name, group in processes().items()}
    busy = _busy_seconds()
    results = [f.result() for f in futures]
    seconds = time.monotonic() - start  # the last answers come in after `stop`
    cpu = {}
    for name, group in processes().items():
        # Processes started during the run (a pooled connection replaced) count in full.
        after = _cpu_snapshot(group)
        cpu[name] = sum(used - before[name].get(pid, 0.0) for pid, used in after.items())
        cpu[name] /= seconds
    cpu["load generator"] = sum(r.cpu for r in results) / seconds
    busy_after = _busy_seconds()
    cpu["interrupts"] = (busy_after[1] - busy[1]) / seconds
    cpu["other"] = max(0.0, (busy_after[0] - busy[0]) / seconds - sum(cpu.values()))
    latencies = sorted(x for r in results for x in r.latencies)
    failures: dict[int, int] = {}
    for r in results:
        for status, count in r.failures.items():
            failures[status] = failures.get(status, 0) + count
    p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99))
    return RunResult(
        len(latencies) / args.seconds,
        p50,
        p95,
        p99,
        cpu,
        failures,
        next((r.first_error for r in results if r.first_error), None),
    )


def _line(result: RunResult) -> str:
    split = ", ".join(f"{name} {share:.2f}" for name, share in result.cpu.items())
    return (
        f"{result.rate:,.0f}/s, p50 {result.p50:.1f} ms, p95 {result.p95:.1f} ms, "
        f"p99 {result.p99:.1f} ms; CPU (cores): {split}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (medians reported)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=8, help="connections per client")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=5, help="gunicorn threads per worker")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of load not counted")
    parser.add_argument("--scale", type=float, default=0.05, help="demo scale")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--refused", action="store_true", help="post invalid cases: the HTTP stack alone"
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="connections per worker (default: the app's own pool, 5 + 10 short-lived)",
    )
    parser.add_argument(
        "--sync-commit",
        choices=["on", "off"],
        default="on",
        help="GRIDGIS_INTAKE_SYNC_COMMIT for the server (default on: durable)",
    )
    args = parser.parse_args(argv)

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs; gunicorn {args.workers} "
        f"workers x {args.threads} threads; {args.clients} clients x {args.connections} "
        f"connections; {args.runs} runs of {args.seconds:g} s after {args.warmup:g} s warm-up; "
        f"synchronous commit {args.sync_commit}; pool "
        + (f"{args.pool_size} per worker" if args.pool_size else "the app's own (5 + 10)")
    )
    cluster = LocalCluster()
    cluster.ensure_running()
    cluster.drop_database(SCRATCH)
    url = cluster.create_database(SCRATCH)
    engine = create_engine(url)
    server: subprocess.Popen[bytes] | None = None
    ready: Path | None = None
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
        # Intake clients authenticate with an API token (an administrator's: any street).
        users.add_user(
            engine, "bench", role="admin", password=secrets.token_urlsafe(16), actor="bench"
        )
        token = users.issue_token(engine, "bench", actor="bench")
        print(f"demo loaded in {time.perf_counter() - loaded:.1f} s; {len(points)} points")

        port = _free_port()
        ready = Path(tempfile.mkdtemp(prefix="gridgis-bench-ready-"))
        hook = ready.with_suffix(".py")
        hook.write_text(_READY_HOOK.format(folder=str(ready)))
        server = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "-c", str(hook),
                "-w", str(args.workers), "-k", "gthread",
                "--threads", str(args.threads), "-b", f"127.0.0.1:{port}",
                "--backlog", "2048", "--log-level", "warning", "--pythonpath", str(HERE),
                "intake:bench_app()" if args.pool_size else "gridgis.web:create_app()",
            ],
            env={
                **os.environ,
                "GRIDGIS_DATABASE_URL": url,
                "GRIDGIS_INTAKE_SYNC_COMMIT": args.sync_commit,
                "GRIDGIS_BENCH_POOL_SIZE": str(args.pool_size or 0),
            },
        )  # fmt: skip
        _wait_ready(port, server)
        _wait_workers(ready, args.workers, server)
        postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])

        results = []
        with ProcessPoolExecutor(args.clients) as pool:
            # Warm-up: connections, pools, caches and prepared statements of every worker.
            warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
            processes = functools.partial(_server_processes, server, postmaster)
            _run(pool, warm, port, points, 0, processes, token)
            for run in range(args.runs):
                result = _run(pool, args, port, points, 1000 * (run + 1), processes, token)
                results.append(result)
                print(f"run {run + 1}: {_line(result)}")
                if result.failures:
                    print(f"  failures: {result.failures}; first: {result.first_error}")

        median = RunResult(
            statistics.median(r.rate for r in results),
            statistics.median(r.p50 for r in results),
            statistics.median(r.p95 for r in results),
            statistics.median(r.p99 for r in results),
            {k: statistics.median(r.cpu[k] for r in results) for k in results[0].cpu},
            {},
            None,
        )
        what = "requests refused (422)" if args.refused else "cases filed"
        print(f"median of {args.runs} runs, {what}: {_line(median)}")
        # CPU per request varies much less with other people's load than the rate does:
        # it gives what the 2 cores could do alone.
        ours = {k: v for k, v in median.cpu.items() if k != "other"}
        per = {k: statistics.median(r.cpu[k] / r.rate * 1000 for r in results) for k in ours}
        total = sum(per.values())
        print(
            "CPU per request (ms): "
            + ", ".join(f"{name} {ms:.2f}" for name, ms in per.items())
            + f"; {total:.2f} in all: at most {os.cpu_count() or 1:d} cores / {total:.2f} ms = "
            f"{(os.cpu_count() or 1) * 1000 / total:,.0f} per second on an otherwise idle machine"
        )
        with engine.connect() as conn:
            after = conn.execute(text("SELECT count(*) FROM case_record")).scalar_one()
            located = conn.execute(
                text(
                    "SELECT count(*) FROM case_record WHERE source = '压测' AND cell_id IS NOT NULL"
                )
            ).scalar_one()
        print(f"stored: {after - before} new cases (warm-up included), {located} of them in a cell")
        if not args.refused:
            verdict = median.rate >= TARGET_RATE and median.p99 < TARGET_P99_MS
            print(
                f"target >= {TARGET_RATE:,.0f} cases/s and p99 < {TARGET_P99_MS:g} ms: "
                + ("met" if verdict else "NOT met")
            )
        return 0
    finally:
        if ready is not None:
            shutil.rmtree(ready, ignore_errors=True)
            ready.with_suffix(".py").unlink(missing_ok=True)
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
