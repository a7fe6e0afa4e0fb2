"""Engines and sessions: one engine per database and process, made on first use.

The database is ``GRIDGIS_DATABASE_URL`` when it is set (any PostGIS: the
machine's server, a production one); otherwise the embedded local cluster
(:mod:`gridgis.db.cluster`), started on demand. Nothing connects at import.

:func:`get_engine` makes the engine (a connection pool) for a database once per
process and hands the same one out afterwards: the local cluster is checked
(``pg_ctl status``, started if need be) when its engine is made, not on every
call. A cluster stopped later by someone else is noticed as any server restart
is: the pool's connections fail, and :func:`dispose_engines` (``gridgis db
stop`` calls it) makes the next call check again. Engines are never shared
across ``fork()``: a child process (a gunicorn worker) that inherited some drops
them without closing the parent's connections and makes its own.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import Engine, column, create_engine, event, select, table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from gridgis import config
from gridgis.db.cluster import LocalCluster
from gridgis.errors import ConfigError, DatabaseError


class _Engines:
    """The engines of this process, by the URL asked for (or the configured database)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()  # two first users must not both start the local cluster
        self.by_key: dict[str, Engine] = {}


_engines = _Engines()


def _current() -> _Engines:
    """This process's engines; after ``fork()``, a new set (the parent's are left to it)."""
    global _engines
    engines = _engines
    if engines.pid != os.getpid():
        for engine in engines.by_key.values():
            engine.dispose(close=False)  # forget the parent's connections, do not close them
        engines = _engines = _Engines()
    return engines


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
        idle_seconds = config.settings().db_idle_ping_seconds

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
                # raw SQL: a pool event has only the driver's connection, below SQLAlchemy.
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


def shown_url(url: str) -> str:
    """``url`` as it may be shown to people: its password (in the address or the query) hidden.

    It works on text that does not parse as a URL too, for the errors that say so.

    Examples
    --------
    >>> shown_url("postgresql://gridgis:s3cret@db.example:5432/gridgis")
    'postgresql://gridgis:***@db.example:5432/gridgis'
    >>> shown_url("postgresql://gridgis@db.example/gridgis?password=s3cret&sslmode=require")
    'postgresql://gridgis@db.example/gridgis?password=***&sslmode=require'
    """
    shown = re.sub(r"^([^:/?#]*://[^:/?#@]*:).*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", shown)


def normalise_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver named, checking it is PostgreSQL.

    Examples
    --------
    >>> normalise_url("postgresql://postgres@127.0.0.1:5432/gridgis")
    'postgresql+psycopg://postgres@127.0.0.1:5432/gridgis'
    """
    shown = shown_url(url)
    ask = "请联系系统管理员检查数据库地址的设置（GRIDGIS_DATABASE_URL）"
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database URL {shown!r} cannot be parsed: {str(exc).replace(url, shown)}",
            zh=f"数据库地址无法识别，{ask}",
        ) from exc
    backend = parsed.get_backend_name()
    if backend != "postgresql":
        raise ConfigError(
            f"database URL {shown!r} names {backend!r}, but gridgis needs "
            "PostgreSQL with PostGIS (postgresql://user@host:port/dbname)",
            zh=f"数据库地址指向 {backend!r}，本系统需要带 PostGIS 的 PostgreSQL，{ask}",
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def resolve_url(url: str | None = None) -> str:
    """Return the URL to use: ``url``, else ``GRIDGIS_DATABASE_URL``, else the local cluster.

    Using the local cluster creates and starts it when needed (and asks
    ``pg_ctl`` every time: :func:`get_engine` keeps the answer instead).
    """
    chosen = url or _configured_url()
    if chosen:
        return normalise_url(chosen)
    return LocalCluster().ensure_running()


def _configured_url() -> str | None:
    configured = config.settings().database_url
    return configured.get_secret_value() if configured is not None else None


def _key(url: str | None) -> str:
    """What an engine is kept under: the URL asked for, else what the settings name."""
    if url:
        return url
    return _configured_url() or f"local cluster in {config.settings().home}"


def get_engine(url: str | None = None) -> Engine:
    """Return the engine for ``url`` or the configured database, made once per process.

    Parameters
    ----------
    url:
        A PostgreSQL URL; default ``GRIDGIS_DATABASE_URL``, else the local
        cluster (created and started when the engine is made).

    Examples
    --------
    >>> get_engine() is get_engine()  # doctest: +SKIP
    True
    """
    engines = _current()
    key = _key(url)
    engine = engines.by_key.get(key)
    if engine is None:
        with engines.lock:
            engine = engines.by_key.get(key)
            if engine is None:
                engine = ping_when_idle(create_engine(resolve_url(url), future=True))
                engines.by_key[key] = engine
    return engine


def dispose_engine(url: str | None = None) -> None:
    """Close and forget the engine of ``url`` (or of the configured database), if made.

    The next :func:`get_engine` for it makes a new one (and checks the local
    cluster again). For tests before they drop their database.
    """
    engines = _current()
    with engines.lock:
        engine = engines.by_key.pop(_key(url), None)
    if engine is not None:
        engine.dispose()


def dispose_engines() -> None:
    """Close and forget every engine of this process (before stopping the server)."""
    engines = _current()
    with engines.lock:
        made = list(engines.by_key.values())
        engines.by_key.clear()
    for engine in made:
        engine.dispose()


_AVAILABLE_EXTENSIONS = table("pg_available_extensions", column("name"), column("default_version"))
_INSTALLED_EXTENSIONS = table("pg_extension", column("extname"), column("extversion"))
"""The PostgreSQL catalogs of the extensions the server offers and the database has."""


_ASK_ADMIN = "请稍后再试；如果一直如此，请联系系统管理员检查数据库服务器是否在运行"
"""What a clerk can do when the database does not answer (said in :func:`unreachable` too)."""


def check_connection(engine: Engine) -> str:
    """Connect once and return the PostGIS version, or raise a clear error."""
    available_postgis = select(_AVAILABLE_EXTENSIONS.c.default_version).where(
        _AVAILABLE_EXTENSIONS.c.name == "postgis"
    )
    installed_postgis = select(_INSTALLED_EXTENSIONS.c.extversion).where(
        _INSTALLED_EXTENSIONS.c.extname == "postgis"
    )
    try:
        with engine.connect() as conn:
            available = conn.execute(available_postgis).scalar()
            installed = conn.execute(installed_postgis).scalar()
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot connect to the database at {shown_url(engine.url.render_as_string())}: "
            f"{str(exc.orig).strip()}",
            zh=f"无法连接数据库，{_ASK_ADMIN}",
        ) from exc
    if available is None:
        raise DatabaseError(
            f"the PostgreSQL server at {shown_url(engine.url.render_as_string())} has no PostGIS; "
            "install it there (Debian: apt-get install postgresql-15-postgis-3)",
            zh="数据库服务器没有安装 PostGIS 扩展，请联系系统管理员安装",
        )
    return str(installed or f"{available} (not yet created: run `gridgis db upgrade`)")


def unreachable() -> DatabaseError:
    """The error shown to a web user when the database does not answer.

    It names neither the server nor the driver's words (which can hold the database's
    address, or part of a mistyped password): those go to the server's log.
    """
    return DatabaseError(
        "cannot reach the database; if this lasts, ask the administrator to check "
        "that the database server is running (the server's log has the details)",
        zh=f"暂时无法连接数据库，{_ASK_ADMIN}",
    )


def schema_behind(exc: DBAPIError) -> DatabaseError | None:
    """The error shown to a web user when ``exc`` says the database's tables are out of date.

    A table or column this version of gridgis uses is missing: the database was not
    upgraded (``gridgis db upgrade``) after gridgis was. ``None`` for any other error.
    """
    if not isinstance(exc.orig, pg_errors.UndefinedTable | pg_errors.UndefinedColumn):
        return None
    return DatabaseError(
        "the database's tables are older than this version of gridgis; ask the "
        "administrator to run `gridgis db upgrade`",
        zh="数据库的表结构还没有升级到本系统的版本，请联系系统管理员运行 `gridgis db upgrade`",
    )


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
