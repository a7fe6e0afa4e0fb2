"""pytest's root configuration: the test databases for the tests and the doctests.

``pytest`` runs ``tests/`` and the examples in the docstrings of ``gridgis/``
(``--doctest-modules``, see pyproject.toml). Both use the databases of the
plugin ``tests/_databases.py``. An example that uses ``engine``, ``conn`` or
``app`` gets an engine, an open connection and the web app on a copy of the
small demo district (荔城区 at 5 %), one copy per module so that the examples
of a module can build on one another; ``get_engine()`` in an example reaches
the same copy (``GRIDGIS_DATABASE_URL``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine

pytest_plugins = ["_databases"]

collect_ignore = ["gridgis/db/migrations"]
"""Alembic's scripts run only inside ``alembic``; they hold no examples."""

_USES_DATABASE = re.compile(r"\b(engine|get_engine|conn|app)\b")


@pytest.fixture(scope="module")
def _doctest_demo(request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the small demo district for the examples of one module."""
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("demo_template")
    module = re.sub(r"\W", "_", request.module.__name__.removeprefix("gridgis."))[:36]
    name = f"gridgis_doc_{module}_{os.getpid()}"
    yield server.create(name, template=template)
    server.drop(name)


@pytest.fixture(autouse=True)
def _doctest_database(
    request: pytest.FixtureRequest,
    doctest_namespace: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Give the examples that use ``engine``, ``conn`` or ``app`` their module's copy of the
    demo district: an engine, a connection and the web app on it."""
    test = getattr(request.node, "dtest", None)
    if test is None or not any(_USES_DATABASE.search(e.source) for e in test.examples):
        yield
        return
    from gridgis.db.engine import dispose_engines
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    url = request.getfixturevalue("_doctest_demo")
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    engine = create_engine(url)
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    with engine.connect() as conn:
        doctest_namespace.update(engine=engine, conn=conn, app=app)
        yield
        for name in ("engine", "conn", "app"):
            del doctest_namespace[name]
    engine.dispose()
    dispose_engine(app)
    dispose_engines()
