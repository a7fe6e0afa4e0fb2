"""Engines and sessions.

The database is ``GRIDGIS_DATABASE_URL`` when it is set (any PostGIS: the
machine's server, a production one); otherwise the embedded local cluster
(:mod:`gridgis.db.cluster`), started on demand. Nothing connects at import.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from gridgis import config
from gridgis.db.cluster import LocalCluster
from gridgis.errors import ConfigError, DatabaseError

_engines: dict[str, Engine] = {}


def ping_when_idle(engine: Engine, idle_seconds: float | None = None) -> Engine:
    """Test pooled connections before use only when they have been idle a while.

    SQLAlchemy's ``pool_pre_ping`` tests every checkout: a round trip to the
    server per request, which is half of the round trips of filing a case. A
    connection that was in use a moment ago is alive; one idle for longer than
    ``idle_seconds`` may have been dropped (a server restart, a firewall's idle
    timeout) and is tested first. A dead one is replaced before the caller
    sees it (``DisconnectionError`` makes the pool connect again). A tested one
    is handed out outside any transaction, as every pooled connection is, so a
    caller may change its isolation level or autocommit.

    Parameters
    ----------
    engine:
        The engine whose pool to watch; returned.
    idle_seconds:
        The idle time after which a connection is tested; default
        ``GRIDGIS_DB_IDLE_PING_SECONDS`` (10 s).

    Examples
    --------
    >>> engine = ping_when_idle(create_engine("postgresql+psycopg://"))
    """

    if idle_seconds is None:
        idle_seconds = config.db_idle_ping_seconds()

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["gridgis_used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        used = record.info.get("gridgis_used")
        if used is None or time.monotonic() - used <= idle_seconds:
            return  # just connected, or in use a moment ago
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            # The SELECT began a transaction (the driver is not in autocommit): end it, so
            # that the connection is handed out as the pool keeps it, idle. Left open, a
            # caller that switches the connection to autocommit (filing a case) fails.
            dbapi_connection.rollback()
        except Exception as exc:  # any failure means the connection is unusable
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc

    return engine


def normalise_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver named, checking it is PostgreSQL.

    Examples
    --------
    >>> normalise_url("postgresql://postgres@127.0.0.1:5432/gridgis")
    'postgresql+psycopg://postgres@127.0.0.1:5432/gridgis'
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database URL {url!r} cannot be parsed: {exc}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"database URL {url!r} names {parsed.get_backend_name()!r}, but gridgis needs "
            "PostgreSQL with PostGIS (postgresql://user@host:port/dbname)"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def resolve_url(url: str | None = None) -> str:
    """Return the URL to use: ``url``, else ``GRIDGIS_DATABASE_URL``, else the local cluster.

    Using the local cluster creates and starts it when needed.
    """
    chosen = url or config.database_url()
    if chosen:
        return normalise_url(chosen)
    return LocalCluster().ensure_running()


def get_engine(url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url`` or the configured database."""
    resolved = resolve_url(url)
    engine = _engines.get(resolved)
    if engine is None:
        engine = ping_when_idle(create_engine(resolved, future=True))
        _engines[resolved] = engine
    return engine


def dispose_engines() -> None:
    """Close every cached engine's connections (before stopping the server)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def check_connection(engine: Engine) -> str:
    """Connect once and return the PostGIS version, or raise a clear error."""
    try:
        with engine.connect() as conn:
            available = conn.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")
            ).scalar()
            installed = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            ).scalar()
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot connect to the database at {engine.url.render_as_string()}: "
            f"{str(exc.orig).strip()}"
        ) from exc
    if available is None:
        raise DatabaseError(
            f"the PostgreSQL server at {engine.url.render_as_string()} has no PostGIS; "
            "install it there (Debian: apt-get install postgresql-15-postgis-3)"
        )
    return str(installed or f"{available} (not yet created: run `gridgis db upgrade`)")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
