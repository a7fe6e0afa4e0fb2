"""pytest's root configuration: the test databases for the tests and the doctests.

``pytest`` runs ``tests/`` and the examples in the docstrings of ``gridgis/``
(``--doctest-modules``, see pyproject.toml). Both use the databases of the
plugin ``tests/_databases.py``. An example that uses ``engine`` gets one on a
copy of the small demo district (荔城区 at 5 %), one copy per module so that
the examples of a module can build on one another; ``get_engine()`` in an
example reaches the same copy (``GRIDGIS_DATABASE_URL``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

pytest_plugins = ["_databases"]

collect_ignore = ["gridgis/db/migrations"]
"""Alembic's scripts run only inside ``alembic``; they hold no examples."""

_USES_DATABASE = re.compile(r"\b(engine|get_engine)\b")


@pytest.fixture(scope="module")
def _doctest_engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine]]:
    """A copy of the small demo district for the examples of one module, and an engine."""
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("demo_template")
    module = re.sub(r"\W", "_", request.module.__name__.removeprefix("gridgis."))[:36]
    name = f"gridgis_doc_{module}_{os.getpid()}"
    url = server.create(name, template=template)
    engine = create_engine(url)
    yield url, engine
    engine.dispose()
    server.drop(name)


@pytest.fixture(autouse=True)
def _doctest_database(
    request: pytest.FixtureRequest,
    doctest_namespace: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Give an example that uses ``engine`` its module's copy of the demo district."""
    test = getattr(request.node, "dtest", None)
    if test is None or not _USES_DATABASE.search(test.docstring or ""):
        yield
        return
    from gridgis.db.engine import dispose_engines

    url, engine = request.getfixturevalue("_doctest_engine")
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", url)
    doctest_namespace["engine"] = engine
    yield
    del doctest_namespace["engine"]
    dispose_engines()
