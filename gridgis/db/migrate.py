"""Schema migrations: Alembic, driven from Python so no ``alembic.ini`` is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select

from gridgis.db.engine import check_connection

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _run(engine: Engine, action: str, revision: str) -> None:
    cfg = _config(engine)
    with engine.begin() as connection:
        # One migration run at a time per database, whoever starts it.
        connection.execute(select(func.pg_advisory_xact_lock(func.hashtext("gridgis-migrate"))))
        cfg.attributes["connection"] = connection
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (default: the newest)."""
    check_connection(engine)
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"`` drops every gridgis table)."""
    _run(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` when it has no gridgis schema."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision this version of gridgis knows."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def reset(engine: Engine) -> None:
    """Drop every gridgis table and create the schema again, empty."""
    downgrade(engine, "base")
    upgrade(engine)
