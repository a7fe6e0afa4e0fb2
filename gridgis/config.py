"""Settings of gridgis, read from ``GRIDGIS_*`` environment variables.

Every setting is read when a function asks for it (never at import), so a
test or a long-running process can change the environment and be obeyed.

- ``GRIDGIS_DATABASE_URL``: SQLAlchemy URL of an existing PostGIS
  (``postgresql://user:password@host:5432/dbname``); unset means the embedded
  local cluster.
- ``GRIDGIS_HOME``: data folder of the embedded cluster; default below.
- ``GRIDGIS_PG_BINDIR``: PostgreSQL's server programs for the cluster; default
  the newest ``/usr/lib/postgresql/*/bin`` that has PostGIS.
- ``GRIDGIS_PG_USER``: the system user that runs the cluster when gridgis runs
  as root; default ``gridgis``.
- ``GRIDGIS_TILE_URL``: base-map tile URL template (``.../{z}/{x}/{y}.png``)
  for the web maps; unset means no base map (works offline).
- ``GRIDGIS_TILE_ATTRIBUTION``: attribution text of that base map.
- ``GRIDGIS_SECRET_KEY``: Flask secret key; default random per process.

The default ``GRIDGIS_HOME`` is the per-user data folder
(``~/.local/share/gridgis`` on Linux, following XDG). When gridgis runs as
root, it is ``/var/lib/gridgis`` instead, because the unprivileged user that
runs the database server must be able to reach it and ``/root`` is private.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from gridgis.errors import ConfigError

ENV_PREFIX = "GRIDGIS_"


def _env(name: str) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def database_url() -> str | None:
    """Return ``GRIDGIS_DATABASE_URL``, or ``None`` to use the embedded cluster."""
    return _env("DATABASE_URL")


def home() -> Path:
    """Return the data folder of gridgis (``GRIDGIS_HOME``)."""
    value = _env("HOME")
    if value is not None:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        return path
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/gridgis")
    return Path(platformdirs.user_data_dir("gridgis", appauthor=False))


def pg_bindir() -> Path | None:
    """Return ``GRIDGIS_PG_BINDIR`` when set (checked to hold ``initdb``)."""
    value = _env("PG_BINDIR")
    if value is None:
        return None
    path = Path(value)
    if not (path / "initdb").exists():
        raise ConfigError(
            f"GRIDGIS_PG_BINDIR was {value!r} but it holds no `initdb`; "
            "point it at the folder with PostgreSQL's server programs, "
            "e.g. /usr/lib/postgresql/15/bin"
        )
    return path


def pg_user() -> str:
    """Return the system user that runs the embedded cluster when gridgis is root."""
    return _env("PG_USER") or "gridgis"


def tile_url() -> str | None:
    """Return the base-map tile URL template, or ``None`` for no base map."""
    return _env("TILE_URL")


def tile_attribution() -> str:
    """Return the attribution shown for the base map."""
    return _env("TILE_ATTRIBUTION") or ""


def secret_key() -> str | None:
    """Return ``GRIDGIS_SECRET_KEY`` when set."""
    return _env("SECRET_KEY")


@dataclass(frozen=True)
class Settings:
    """A snapshot of all settings, for display (``gridgis config``)."""

    database_url: str | None
    home: Path
    pg_bindir: Path | None
    pg_user: str
    tile_url: str | None


def current() -> Settings:
    """Read every setting now and return them together."""
    return Settings(
        database_url=database_url(),
        home=home(),
        pg_bindir=pg_bindir(),
        pg_user=pg_user(),
        tile_url=tile_url(),
    )
