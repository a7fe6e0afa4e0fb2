"""The test databases: a real PostGIS, templates built once per test run, copies per test.

A pytest plugin (the root ``conftest.py`` loads it), so that the tests and the
doctests of ``gridgis/`` share one server and one set of templates.

The server is ``GRIDGIS_TEST_DATABASE_URL`` when set (any PostGIS the tests
may create databases on, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``);
otherwise gridgis's own embedded cluster in ``GRIDGIS_TEST_HOME`` (default a
folder under the system's temporary folder named after this checkout, which
the cluster's unprivileged user can reach even when the checkout is in a
private home). It is left running after the run, because another test run
may be using it at the same time; ``gridgis db stop`` with ``GRIDGIS_HOME``
set to that folder stops it. Processes that start it at the same time (the
workers of ``pytest -n``) take turns: :class:`~gridgis.db.cluster.LocalCluster`
locks its folder. A test run that cannot reach the database fails; it never
skips.

Two templates are built once per test run, shared by every worker of
``pytest -n`` (pytest-xdist): the migrated schema (:func:`template_db`) and
the small demo district on it (:func:`demo_template`). Their names carry the
run's id (xdist's ``testrun_uid``, or a fresh one for a run without
workers). The first worker that needs one builds it under a PostgreSQL
advisory lock while the others wait, and each worker holds a shared lock on
the run for as long as it runs; the last one to finish drops the run's
templates, and a run that finds templates of a run nobody holds any more (a
run that was killed) drops them. Copies for one test (:func:`database_url`,
:func:`demo_url`) or one module (:func:`demo_db`) are named after the worker's
process and stay with it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from gridgis.db import migrate
from gridgis.db.cluster import LocalCluster
from gridgis.db.engine import dispose_engines, normalise_url

ROOT = Path(__file__).resolve().parent.parent

DEMO_DISTRICT = "350304"
DEMO_SCALE = 0.05
"""The demo every test that needs a realistic district shares: 荔城区 at 5 % (about 131
cells, 4,400 buildings with addresses, 5,000 cases), generated once per test run."""
DEMO_TODAY = dt.date(2026, 1, 1)
"""The day that demo is generated on: its cases and patrols cover 2025 whatever day the
suite runs (the demo dates them to the year up to the day it is generated,
:func:`gridgis.demo.cases.demo_period`), so that times the tests and doctests pin (a
period of 2025, a ``now`` after every case) hold on any day."""

_RUN_PREFIX = "gridgis_run_"
_RUN_NAME = re.compile(rf"^{_RUN_PREFIX}([0-9a-f]{{12}})_[a-z]+$")
_counter = itertools.count()


def cluster_home() -> Path:
    """Data folder of the embedded test cluster (``GRIDGIS_TEST_HOME``)."""
    configured = os.environ.get("GRIDGIS_TEST_HOME")
    if configured:
        return Path(configured)
    digest = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    return Path(tempfile.gettempdir()) / f"gridgis-test-{os.geteuid()}-{digest}"


@functools.cache
def run_id() -> str:
    """Twelve hex digits naming this test run, the same in every xdist worker."""
    shared = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return (shared or uuid.uuid4().hex)[:12]


def worker_name() -> str:
    """The xdist worker running this process (``gw0``, ``gw1`` ...), or ``main``."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _lock_key(what: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for ``what``."""
    return int.from_bytes(
        hashlib.sha1(f"gridgis-tests:{what}".encode()).digest()[:8], "big", signed=True
    )


class _Server:
    """Creates and drops databases on the test server; holds this run's share of it."""

    def __init__(self) -> None:
        external = os.environ.get("GRIDGIS_TEST_DATABASE_URL")
        self.cluster: LocalCluster | None = None
        if external:
            self.admin_url = normalise_url(external)
        else:
            self.cluster = LocalCluster(cluster_home())
            self.cluster.ensure_running()
            self.admin_url = self.cluster.url("postgres")
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        # Held until close(): this process takes part in the run (a shared lock on its id).
        self._holder: Connection = self.admin.connect()
        self._holder.execute(
            text("SELECT pg_advisory_lock_shared(:key)"), {"key": _lock_key(run_id())}
        )
        self._drop_abandoned_runs()

    def url(self, name: str) -> str:
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def shared_template(
        self, kind: str, build: Callable[[str], None], *, template: str | None = None
    ) -> str:
        """The name of this run's template database ``kind``, built once per run.

        The first process to ask builds it (a copy of ``template``, then
        ``build(url)``) under a name of its own and renames it when complete,
        holding an advisory lock that makes the others wait; they find it built.
        """
        name = f"{_RUN_PREFIX}{run_id()}_{kind}"
        with self.admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _lock_key(name)})
            try:
                if not self._exists(conn, name):
                    partial = f"{name}_partial"
                    url = self.create(partial, template=template)
                    try:
                        build(url)
                        conn.execute(text(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
                    except BaseException:
                        self.drop(partial)
                        raise
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(name)})
        return name

    @staticmethod
    def _exists(conn: Connection, name: str) -> bool:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        )
        return found.first() is not None

    def _drop_run(self, conn: Connection, run: str) -> None:
        """Drop the templates of ``run`` (the caller holds its lock alone)."""
        names = conn.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
            {"pattern": f"{_RUN_PREFIX}{run}\\_%"},
        ).scalars()
        for name in list(names):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _drop_abandoned_runs(self) -> None:
        """Drop the templates of earlier runs that no process holds any more (killed runs)."""
        with self.admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": f"{_RUN_PREFIX}%"},
            ).scalars()
            runs = {m.group(1) for n in names if (m := _RUN_NAME.match(n.removesuffix("_partial")))}
            for run in sorted(runs - {run_id()}):
                key = {"key": _lock_key(run)}
                if conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
                    try:
                        self._drop_run(conn, run)
                    finally:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)

    def close(self) -> None:
        """Leave the run; the last process to leave drops the run's templates."""
        key = {"key": _lock_key(run_id())}
        conn = self._holder
        conn.execute(text("SELECT pg_advisory_unlock_shared(:key)"), key)
        if conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key).scalar():
            try:
                self._drop_run(conn, run_id())
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        conn.close()
        self.admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _secret_key() -> Iterator[None]:
    """One secret key for every app of the run, so no test writes one into the real data home
    (``GRIDGIS_HOME/secret_key``); the tests of that file set their own home."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRIDGIS_SECRET_KEY", "test-" + "0" * 59)
        yield


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_Server]:
    server = _Server()
    yield server
    server.close()


def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _load_demo(url: str) -> None:
    from gridgis.demo import run_demo

    engine = create_engine(url)
    try:
        run_demo(engine, district=DEMO_DISTRICT, scale=DEMO_SCALE, workers=1, today=DEMO_TODAY)
        # Statistics for the planner, copied with the template into every copy: without
        # them a copy plans as if its tables were empty, and a join of buildings and cells
        # in tests/test_intake.py took 50 s instead of 20 ms (autovacuum never reaches a
        # template before it is copied). 0.7 s.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def template_db(pg_server: _Server) -> str:
    """A migrated, empty database of this run (a template: never connect to it)."""
    return pg_server.shared_template("schema", _migrate)


@pytest.fixture(scope="session")
def demo_template(pg_server: _Server, template_db: str) -> str:
    """A migrated database holding the small demo district (a template: never connect to it)."""
    return pg_server.shared_template("demo", _load_demo, template=template_db)


@pytest.fixture
def database_url(pg_server: _Server, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated, empty database for this test alone."""
    name = f"gridgis_t_{os.getpid()}_{next(_counter)}"
    url = pg_server.create(name, template=template_db)
    yield url
    pg_server.drop(name)


@pytest.fixture
def demo_url(pg_server: _Server, demo_template: str) -> Iterator[str]:
    """URL of a fresh copy of the small demo district, for this test alone."""
    name = f"gridgis_d_{os.getpid()}_{next(_counter)}"
    url = pg_server.create(name, template=demo_template)
    yield url
    pg_server.drop(name)


@pytest.fixture(scope="module")
def demo_db(
    request: pytest.FixtureRequest, pg_server: _Server, demo_template: str
) -> Iterator[str]:
    """One copy of the demo district for a module whose tests only read it (named after
    the module). A module that changes it first overrides this fixture."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"gridgis_{module}_{os.getpid()}"
    yield pg_server.create(name, template=demo_template)
    pg_server.drop(name)


@pytest.fixture
def env_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point ``GRIDGIS_DATABASE_URL`` at this test's database (for CLI and app)."""
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", database_url)
    yield database_url
    dispose_engines()
