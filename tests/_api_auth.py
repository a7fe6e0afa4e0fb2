"""Signing API clients in with a token: the test client then sends ``Authorization: Bearer``.

Used by the tests of the JSON APIs (cases, Open311, scope). A token needs no
CSRF token, so POSTs of JSON work as a script's would.
"""

from __future__ import annotations

from conftest import add_test_user
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from gridgis.users import issue_token


def user_token(
    url: str,
    name: str,
    *,
    role: str = "admin",
    street: str | None = None,
    worker: int | None = None,
    department: str | None = None,
) -> str:
    """Add a user with ``role`` (and ``street``, ``worker`` or ``department``) to the
    database at ``url``; return its token."""
    add_test_user(url, name, role=role, street=street, worker=worker, department=department)
    engine = create_engine(url)
    try:
        return issue_token(engine, name, actor="test")
    finally:
        engine.dispose()


def token_client(
    client: FlaskClient, *, role: str = "admin", street: str | None = None, name: str | None = None
) -> FlaskClient:
    """Make ``client`` send a new user's API token with every request; return it.

    The user is named after its role (and street) unless ``name`` is given.
    """
    name = name or (f"{role}-{street}" if street else f"{role}-api")
    token = user_token(client.application.config["DATABASE_URL"], name, role=role, street=street)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client
