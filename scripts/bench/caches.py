"""Measure what each cache of database data costs and saves: load, check, hit, miss.

gridgis keeps three things from the database in memory, each checked against the
versions of the tables it comes from (:mod:`gridgis.db.versions`):

``intake``
    :class:`gridgis.cases.IntakeCache`: the active cells and the categories that
    filing a case reads. Without it, each case looks its point up in PostGIS and
    reads the categories.
``address book``
    The web app's address book (:func:`gridgis.web.cases_api.address_book`), which
    a case filed by address is matched against. Without it, each such case loads
    every building first.
``tiles``
    The vector tiles kept per stamp (:class:`gridgis.web.tiles.TileCache`, keyed by
    :func:`gridgis.db.tiles.cells_stamp`). Without it, each tile is made by PostGIS.

For each the script prints the cost of a **load**, of a **check** (reading the
versions), of an answer **with** the cache (its check included) and **without**
it, and the ratio without / with. A cache whose ratio is near 1 does not pay for
itself. Costs are given twice, in milliseconds per call: the **wall** time (the
median) and the **CPU** time (this process and the PostgreSQL backends serving it,
summed over all calls and divided by their number; when the server is on this
machine). On a machine shared with other work the wall time of a round trip
mostly measures waiting for a core; the CPU time is the figure to compare. The
old ways of checking (the intake cache's fingerprint of row counts and ``xmin``,
the tiles' stamp of counts and sums) are measured too: they read whole tables,
so they grow with the district.

The scratch database ``gridgis_bench_caches`` is created on gridgis's local cluster
(``GRIDGIS_HOME``, started on demand), or with ``--server URL`` on a PostgreSQL
server where that URL may create databases; it is migrated, the demo district is
loaded into it (350304 荔城区, ``--scale``, default 0.05) and it is dropped at the
end unless ``--keep``.

Usage::

    python scripts/bench/caches.py                       # the demo at 5 %
    python scripts/bench/caches.py --scale 1             # the whole district
    python scripts/bench/caches.py --server postgresql://postgres@127.0.0.1:5432/postgres

Measured 2026-12-06 on the 2 cores of a development machine shared with other
people's work (load average 5 to 9 throughout, so the wall times are mostly
waiting for a core; compare the CPU times), PostgreSQL 15 over TCP on loopback,
``--server``. The whole district (``--scale 1``: 807 active cells, 38,331
buildings, 100,000 cases), milliseconds per call, wall / CPU:

=========================  ==============  =============  =============  ==============  =====
cache: answer              load            check          with           without         ratio
=========================  ==============  =============  =============  ==============  =====
intake: point -> cell      1,597 / 255     0.069 / 0.125  0.232 / 0.246  24.1 / 3.54        14
intake: a case filed       1,597 / 255     0.069 / 0.125  8.26 / 1.45    32.0 / 5.49       3.8
address book: an address   10,274 / 2,128  0.085 / 0.122  3.90 / 1.21    7,033 / 2,093  1,735
tiles: z14, 2,102 bytes    --              0.071 / 0.097  0.090 / 0.139  2.04 / 1.45        10
tiles: z12, 1,874 bytes    --              0.071 / 0.097  0.103 / 0.188  3.83 / 1.40         7
tiles: z11, 50,921 bytes   --              0.071 / 0.097  0.085 / 0.146  60.6 / 17.1       117
=========================  ==============  =============  =============  ==============  =====

(ratio: without / with, in CPU time.)

The checks they replaced, at that size: the intake fingerprint 3.4 / 0.95 ms, the
tiles' old stamp 4.7 / 1.1 ms, a ``SELECT 1`` 0.14 / 0.20 ms; the versions' read stays
the same at any size. A case filed with the intake cache never checked
(``max_age=inf``) cost 5.6 / 1.11 ms: the check adds 0.1 to 0.3 ms of CPU to the
1.1 ms of a case (repeated runs differ by about 0.1 ms). Every cache pays for itself,
the intake cache by 3.8 times on a whole case, the address book by three orders of
magnitude; at 5 % of the district (131 cells, 4,446 buildings) the ratios are 17,
4.0, 359, 10, 6.2 and 44, and a check costs 0.08 ms of CPU.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from gridgis.address import load_address_book, match_addresses
from gridgis.cases import IntakeCache, create_case
from gridgis.cases.cache import TABLES as INTAKE_TABLES
from gridgis.cases.cache import _load as load_intake
from gridgis.db import migrate
from gridgis.db import tiles as db_tiles
from gridgis.db.locate import DatabaseLocator, load_cell_index
from gridgis.db.versions import VersionedCache, read_versions
from gridgis.demo import run_demo
from gridgis.geocode import IndexLocator
from gridgis.web.tiles import TileCache

SCRATCH = "gridgis_bench_caches"
BOOK_TABLES = ("building", "community", "street", "district")

# The checks these caches made before table versions, as they were written then.
OLD_INTAKE_FINGERPRINT = """
SELECT (SELECT coalesce(max(v.id), 0) FROM layout_version v) AS version, concat_ws('/',
  (SELECT count(*) || ':' || coalesce(max(xmin::text::int8), 0) FROM grid_cell),
  (SELECT count(*) || ':' || coalesce(max(xmin::text::int8), 0) FROM community),
  (SELECT count(*) || ':' || coalesce(max(xmin::text::int8), 0) FROM district)) AS fingerprint
"""
OLD_TILE_STAMP = """
SELECT (SELECT coalesce(max(id), 0) FROM layout_version),
       (SELECT count(*) FROM grid_cell WHERE valid_to IS NULL),
       (SELECT count(*) || ':' || coalesce(sum(cell_id), 0)
               || ':' || coalesce(sum(cell_id::bigint * cell_id), 0) FROM worker_cell),
       (SELECT count(*) || ':' || coalesce(sum(cell_id), 0)
               || ':' || coalesce(sum(cell_id::bigint * cell_id), 0) FROM branch_cell)
"""


class Cost(NamedTuple):
    """What one call costs, in milliseconds."""

    wall: float
    """The median wall time."""
    cpu: float | None
    """CPU time per call: this process and the database's backends (``None``: not known)."""


class Meter:
    """Measures calls: wall time, and CPU time here and in the database server.

    ``monitor`` (a connection in autocommit) names the backends of the scratch
    database; their CPU time is read from ``/proc/<pid>/schedstat`` when the server
    runs on this machine.
    """

    def __init__(self, monitor: Connection) -> None:
        self.monitor = monitor
        own = monitor.execute(text("SELECT pg_backend_pid()")).scalar_one()
        stat = Path(f"/proc/{own}/schedstat")
        self.local = stat.exists() and "postgres" in Path(f"/proc/{own}/cmdline").read_text()

    def _server_cpu(self) -> dict[int, float]:
        pids = self.monitor.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        ).scalars()
        found = {}
        for pid in pids:
            try:  # nanoseconds on a core (/proc/<pid>/stat counts in 10 ms ticks)
                found[pid] = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
            except OSError:
                continue
        return found

    def measure(self, funcs: list[Callable[[], Any]], *, runs: int, blocks: int = 10) -> list[Cost]:
        """Cost of each of ``funcs``: ``runs`` calls each, in ``blocks`` taking turns (so
        that a change of the machine's load meanwhile weighs on each alike)."""
        for func in funcs:
            func()
        laps: list[list[int]] = [[] for _ in funcs]
        cpu = [0.0 for _ in funcs]
        per_block = max(runs // blocks, 1)
        for _ in range(blocks):
            for n, func in enumerate(funcs):
                server = self._server_cpu() if self.local else {}
                here = time.process_time()
                for _ in range(per_block):
                    start = time.perf_counter_ns()
                    func()
                    laps[n].append(time.perf_counter_ns() - start)
                cpu[n] += time.process_time() - here
                if self.local:
                    after = self._server_cpu()
                    cpu[n] += sum(t - server.get(pid, 0.0) for pid, t in after.items())
        calls = per_block * blocks
        return [
            Cost(statistics.median(times) / 1e6, 1000 * used / calls if self.local else None)
            for times, used in zip(laps, cpu, strict=True)
        ]

    def one(self, func: Callable[[], Any], *, runs: int) -> Cost:
        return self.measure([func], runs=runs, blocks=1)[0]


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return int(x), int(y)


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _cost(cost: Cost) -> str:
    return f"{_ms(cost.wall)} / {_ms(cost.cpu)}"


class Table:
    """The rows printed at the end: one answer of one cache each."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Cost | None, Cost, Cost, Cost]] = []

    def add(self, name: str, load: Cost | None, check: Cost, hit: Cost, miss: Cost) -> None:
        self.rows.append((name, load, check, hit, miss))
        print(
            f"  {name}: load {_cost(load) if load else '-'}, check {_cost(check)}, "
            f"with the cache {_cost(hit)}, without {_cost(miss)} ms (wall / CPU)",
            flush=True,
        )

    def print(self) -> None:
        head = (
            f"{'cache: answer':<28} {'load':>15} {'check':>15} {'with':>15} {'without':>15} "
            f"{'ratio':>13}"
        )
        print(head)
        print("-" * len(head))
        for name, load, check, hit, miss in self.rows:
            ratio = f"{miss.wall / hit.wall:.1f}"
            if miss.cpu and hit.cpu:
                ratio += f" / {miss.cpu / hit.cpu:.1f}"
            print(
                f"{name:<28} {_cost(load) if load else '-':>15} {_cost(check):>15} "
                f"{_cost(hit):>15} {_cost(miss):>15} {ratio:>13}"
            )
        print("(milliseconds per call, wall (median) / CPU (mean); ratio = without / with)")


def bench_checks(meter: Meter, conn: Connection, runs: int) -> None:
    print("checks (reading the versions, against the old whole-table checks), wall / CPU ms:")
    old_intake, old_stamp = text(OLD_INTAKE_FINGERPRINT), text(OLD_TILE_STAMP)
    one = text("SELECT 1")
    costs = meter.measure(
        [
            lambda: read_versions(conn, INTAKE_TABLES),
            lambda: db_tiles.cells_stamp(conn),
            lambda: conn.execute(old_intake).one(),
            lambda: conn.execute(old_stamp).one(),
            lambda: conn.execute(one).one(),
        ],
        runs=runs,
    )
    labels = [
        "versions of the intake cache's 5 tables",
        "the tiles' stamp (versions of 4 tables)",
        "old intake fingerprint",
        "old tile stamp",
        "SELECT 1 (a round trip alone)",
    ]
    for label, cost in zip(labels, costs, strict=True):
        print(f"  {label:<42} {_cost(cost)}")


def bench_intake(
    meter: Meter,
    engine: Engine,
    conn: Connection,
    points: list[tuple[float, float]],
    runs: int,
    table: Table,
) -> None:
    print("intake:")
    load = meter.one(lambda: load_intake(conn), runs=max(runs // 100, 5))
    check = meter.one(lambda: read_versions(conn, INTAKE_TABLES), runs=runs)
    cells = VersionedCache(INTAKE_TABLES, load_intake)
    memory = IndexLocator(load_cell_index(conn))
    in_db = DatabaseLocator(conn)
    pick = random.Random(1).choice
    hit, miss, alone = meter.measure(
        [
            lambda: cells.get(conn).locator.cell_of(*pick(points)),
            lambda: in_db.cell_of(*pick(points)),
            lambda: memory.cell_of(*pick(points)),
        ],
        runs=runs,
    )
    table.add("intake: point -> cell", load, check, hit, miss)
    print(f"  in memory, unchecked: {_cost(alone)}")

    # A whole case filed, as the API files it (autocommit; a pooled connection each), not
    # waiting for the disk's flush (the API's GRIDGIS_INTAKE_SYNC_COMMIT=off), which would
    # hide the rest on a slow disk.
    checked, unchecked = IntakeCache(max_age=0), IntakeCache(max_age=math.inf)

    def file(cache: IntakeCache | None) -> Callable[[], Any]:
        def one() -> None:
            lon, lat = pick(points)
            create_case(
                engine,
                category="fire_safety",
                lon=lon,
                lat=lat,
                cache=cache,
                durable=False,
                actor="bench",
            )

        return one

    with_check, without_check, uncached = meter.measure(
        [file(checked), file(unchecked), file(None)], runs=max(runs // 2, 50)
    )
    table.add("intake: a case filed", load, check, with_check, uncached)
    print(f"  a case filed, cache never checked (max_age=inf): {_cost(without_check)}")


def bench_book(
    meter: Meter, conn: Connection, addresses: list[str], runs: int, table: Table
) -> None:
    print("address book:")
    load = meter.one(lambda: load_address_book(conn), runs=5)
    check = meter.one(lambda: read_versions(conn, BOOK_TABLES), runs=runs)
    book = VersionedCache(BOOK_TABLES, load_address_book)
    pick = random.Random(2).choice
    hit = meter.one(lambda: match_addresses(book.get(conn), [pick(addresses)]), runs=runs // 4)
    miss = meter.one(lambda: match_addresses(load_address_book(conn), [pick(addresses)]), runs=5)
    table.add("address book: an address", load, check, hit, miss)


def _cached_tile(cache: TileCache, conn: Connection, key: tuple[int, int, int]) -> object:
    return cache.get(db_tiles.cells_stamp(conn), key)


def bench_tiles(
    meter: Meter, conn: Connection, centre: tuple[float, float], runs: int, table: Table
) -> None:
    print("tiles:")
    check = meter.one(lambda: db_tiles.cells_stamp(conn), runs=runs)
    cache = TileCache(max_bytes=64 * 1024 * 1024)
    for z in (14, 12, 11):
        x, y = _tile_of(*centre, z)
        made = db_tiles.cell_tile(conn, z, x, y)
        cache.put(db_tiles.cells_stamp(conn), (z, x, y), made)
        key = (z, x, y)
        hit, miss = meter.measure(
            [
                functools.partial(_cached_tile, cache, conn, key),
                functools.partial(db_tiles.cell_tile, conn, *key),
            ],
            runs=max(runs // 20, 20),
        )
        table.add(f"tiles: z{z}, {len(made):,} bytes", None, check, hit, miss)


def _sample(conn: Connection) -> tuple[list[tuple[float, float]], list[str], tuple[float, float]]:
    """Points and addresses of buildings, and a point of the cell nearest the cells' middle."""
    counts = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM grid_cell WHERE valid_to IS NULL), "
            "(SELECT count(*) FROM building), (SELECT count(*) FROM case_record)"
        )
    ).one()
    print(f"{counts[0]:,} active cells, {counts[1]:,} buildings, {counts[2]:,} cases")
    points = [
        (float(lon), float(lat))
        for lon, lat in conn.execute(text("SELECT ST_X(location), ST_Y(location) FROM building"))
    ]
    addresses = list(
        conn.execute(
            text("SELECT address FROM building WHERE address IS NOT NULL ORDER BY id LIMIT 500")
        ).scalars()
    )
    centre = conn.execute(
        text(
            "WITH m AS (SELECT ST_SetSRID(ST_Centroid(ST_Extent(geom)::geometry), 4326) "
            "AS p FROM grid_cell WHERE valid_to IS NULL) SELECT ST_X(s), ST_Y(s) FROM "
            "(SELECT ST_PointOnSurface(c.geom) AS s FROM grid_cell c, m "
            "WHERE c.valid_to IS NULL ORDER BY c.geom <-> m.p LIMIT 1) x"
        )
    ).one()
    return points, addresses, (float(centre[0]), float(centre[1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=2000, help="calls measured per figure")
    parser.add_argument("--server", default=None, help="create the scratch database here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"load average {os.getloadavg()[0]:.1f}; demo 350304 at scale {args.scale:g}"
    )
    cluster, admin = None, None
    if args.server:
        admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{SCRATCH}"'))
        url = make_url(args.server).set(database=SCRATCH).render_as_string(hide_password=False)
    else:
        from gridgis.db.cluster import LocalCluster

        cluster = LocalCluster()
        cluster.ensure_running()
        cluster.drop_database(SCRATCH)
        url = cluster.create_database(SCRATCH)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        started = time.perf_counter()
        run_demo(engine, district="350304", scale=args.scale, workers=1)
        print(f"demo loaded in {time.perf_counter() - started:.0f} s")
        with (
            engine.connect() as conn,
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as monitor,
        ):
            conn.execute(text("ANALYZE"))
            points, addresses, centre = _sample(conn)
            conn.commit()
            meter = Meter(monitor)
            if not meter.local:
                print("the server is not on this machine: CPU times are not measured")
            table = Table()
            bench_checks(meter, conn, args.runs)
            bench_intake(meter, engine, conn, points, args.runs, table)
            bench_book(meter, conn, addresses, args.runs, table)
            bench_tiles(meter, conn, centre, args.runs, table)
            conn.rollback()
        print(f"load average {os.getloadavg()[0]:.1f}")
        print()
        table.print()
    finally:
        engine.dispose()
        if not args.keep:
            if cluster is not None:
                cluster.drop_database(SCRATCH)
            elif admin is not None:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
        if admin is not None:
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
