"""Engines and sessions.

The database is ``GRIDGIS_DATABASE_URL`` when it is set (any PostGIS: the
machine's server, a production one); otherwise the embedded local cluster
(:mod:`gridgis.db.cluster`), started on demand. Nothing connects at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gridgis import config
from gridgis.db.cluster import LocalCluster
from gridgis.errors import ConfigError, DatabaseError

_engines: dict[str, Engine] = {}


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
        engine = create_engine(resolved, pool_pre_ping=True, future=True)
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
