"""The database for a request: the process's engine for the app's database.

The engine (a connection pool) is :func:`gridgis.db.engine.get_engine`'s for the
app's ``DATABASE_URL``: made on first use, once per process and database (so
apps on the same database share it), never shared across ``fork()`` (each
gunicorn worker makes its own), and handed to views through ``g``. Library
functions such as :func:`gridgis.db.queries.read_areas` take it and return
their connections to the pool when they are done. Creating the app never
connects: the engine, and with it the embedded local PostGIS when
``DATABASE_URL`` is ``None``, is made by the first request that needs it.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import Engine

from gridgis.db import engine as db_engine


def get_engine() -> Engine:
    """Return the engine of the current app's database, creating it on first use.

    Examples
    --------
    >>> from gridgis.db.queries import read_areas
    >>> with app.app_context():
    ...     read_areas(get_engine(), "district").loc[0, "name"]
    '荔城区'
    """
    if "engine" not in g:
        g.engine = db_engine.get_engine(current_app.config.get("DATABASE_URL"))
    engine: Engine = g.engine
    return engine


def close_db(exc: BaseException | None = None) -> None:
    """Drop the request's handle on the engine (teardown of the app context).

    Library functions hold a connection only inside ``with engine.connect()``,
    so by now every connection is back in the pool; an exception raised while
    one was open has already rolled its transaction back.
    """
    g.pop("engine", None)


def dispose_engine(app: Flask) -> None:
    """Close the pooled connections of ``app``'s database, if its engine was made.

    For shutting a server down, and for tests before they drop their database.
    The next request that needs the database connects again. Apps on the same
    database share the engine: this closes it for all of them. The background
    job runner of that database in this process is stopped first (it would poll
    a dropped database); the next job started starts it again.
    """
    from gridgis.web.export_jobs import stop_runners  # the jobs blueprint needs this module

    url = app.config.get("DATABASE_URL")
    if url:
        stop_runners(timeout=30, database_url=str(url))
    db_engine.dispose_engine(url)


def init_app(app: Flask) -> None:
    """Register the teardown with ``app``."""
    app.teardown_appcontext(close_db)
