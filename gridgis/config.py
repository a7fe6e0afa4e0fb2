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
- ``GRIDGIS_TILE_CRS``: what the tiles of ``GRIDGIS_TILE_URL`` are drawn in:
  ``wgs84`` (default; OpenStreetMap and most servers, also CGCS2000) or
  ``gcj02`` (AMap/Gaode, Tencent: the map shifts them into place).
- ``GRIDGIS_TILE_SUBDOMAINS``: the values of ``{s}`` in the URL (default ``abc``).
- ``GRIDGIS_TILE_MAX_ZOOM``: the deepest zoom the tile server has (default 18).
- ``GRIDGIS_TIANDITU_KEY``: a 天地图 (map.tianditu.gov.cn) browser key; when
  set and ``GRIDGIS_TILE_URL`` is not, the base map is 天地图's vector map
  with its annotation layer.
- ``GRIDGIS_SECRET_KEY``: Flask secret key; default random per process.
- ``GRIDGIS_DB_IDLE_PING_SECONDS``: a pooled database connection unused for
  longer than this is tested (``SELECT 1``) before it is handed out, and replaced
  if it is gone (default 10; lower it below a firewall's idle timeout).

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


TILE_CRS_CHOICES: tuple[str, ...] = ("wgs84", "gcj02")


def tile_crs() -> str:
    """Return what the base-map tiles are drawn in: ``"wgs84"`` or ``"gcj02"``.

    Raises
    ------
    ConfigError
        When ``GRIDGIS_TILE_CRS`` is anything else.
    """
    value = (_env("TILE_CRS") or "wgs84").lower()
    if value not in TILE_CRS_CHOICES:
        raise ConfigError(
            f"GRIDGIS_TILE_CRS was {value!r} but is expected to be one of {list(TILE_CRS_CHOICES)}"
        )
    return value


def tile_subdomains() -> str:
    """Return the values of ``{s}`` in the tile URL (``GRIDGIS_TILE_SUBDOMAINS``; ``abc``)."""
    return _env("TILE_SUBDOMAINS") or "abc"


def tile_max_zoom() -> int:
    """Return the deepest zoom of the tile server (``GRIDGIS_TILE_MAX_ZOOM``, default 18)."""
    value = _env("TILE_MAX_ZOOM") or "18"
    if not value.isdigit() or not 1 <= int(value) <= 22:
        raise ConfigError(
            f"GRIDGIS_TILE_MAX_ZOOM was {value!r} but is expected to be a whole number 1-22"
        )
    return int(value)


def tianditu_key() -> str | None:
    """Return ``GRIDGIS_TIANDITU_KEY`` when set (a 天地图 browser key)."""
    return _env("TIANDITU_KEY")


def secret_key() -> str | None:
    """Return ``GRIDGIS_SECRET_KEY`` when set."""
    return _env("SECRET_KEY")


def db_idle_ping_seconds() -> float:
    """Return ``GRIDGIS_DB_IDLE_PING_SECONDS`` (default 10): when an idle connection is tested.

    Raises
    ------
    ConfigError
        When the value is not a number of seconds >= 0.
    """
    value = _env("DB_IDLE_PING_SECONDS") or "10"
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ConfigError(
            f"GRIDGIS_DB_IDLE_PING_SECONDS was {value!r} but is expected to be a number of "
            "seconds >= 0"
        )
    return seconds


@dataclass(frozen=True)
class Settings:
    """A snapshot of all settings, for display (``gridgis config``)."""

    database_url: str | None
    home: Path
    pg_bindir: Path | None
    pg_user: str
    tile_url: str | None
    tile_crs: str
    tianditu_key_set: bool


def current() -> Settings:
    """Read every setting now and return them together."""
    return Settings(
        database_url=database_url(),
        home=home(),
        pg_bindir=pg_bindir(),
        pg_user=pg_user(),
        tile_url=tile_url(),
        tile_crs=tile_crs(),
        tianditu_key_set=tianditu_key() is not None,
    )
