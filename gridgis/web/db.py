"""The database for a request: one engine per app, made on first use.

The engine (a connection pool) is kept in ``app.extensions["gridgis_engine"]``
and handed to views through ``g``; library functions such as
:func:`gridgis.db.queries.read_areas` take it and return their connections to
the pool when they are done. Creating the app never connects: the engine, and
with it the embedded local PostGIS when ``DATABASE_URL`` is ``None``, is made
by the first request that needs it.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app, g
from sqlalchemy import Engine

from gridgis.db import engine as db_engine

EXTENSION_KEY = "gridgis_engine"

_lock = threading.Lock()  # two first requests must not both start the local cluster


def get_engine() -> Engine:
    """Return the engine of the current app, creating it on first use.

    Examples
    --------
    >>> from gridgis.db.queries import read_areas
    >>> with app.app_context():
    ...     read_areas(get_engine(), "district").loc[0, "name"]
    '荔城区'
    """
    if "engine" not in g:
        g.engine = _app_engine(current_app)
    engine: Engine = g.engine
    return engine


def _app_engine(app: Flask) -> Engine:
    engine: Engine | None = app.extensions.get(EXTENSION_KEY)
    if engine is None:
        with _lock:
            engine = app.extensions.get(EXTENSION_KEY)
            if engine is None:
                engine = db_engine.get_engine(app.config.get("DATABASE_URL"))
                app.extensions[EXTENSION_KEY] = engine
    return engine


def close_db(exc: BaseException | None = None) -> None:
    """Drop the request's handle on the engine (teardown of the app context).

    Library functions hold a connection only inside ``with engine.connect()``,
    so by now every connection is back in the pool; an exception raised while
    one was open has already rolled its transaction back.
    """
    g.pop("engine", None)


def dispose_engine(app: Flask) -> None:
    """Close the pooled connections of ``app``'s engine, if it has one.

    For shutting a server down, and for tests before they drop their database.
    The next request that needs the database connects again.
    """
    engine: Engine | None = app.extensions.pop(EXTENSION_KEY, None)
    if engine is not None:
        engine.dispose()


def init_app(app: Flask) -> None:
    """Register the teardown with ``app``."""
    app.teardown_appcontext(close_db)
