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
- ``GRIDGIS_SECRET_KEY``: Flask secret key (signs the session cookies). Unset,
  a random key is generated once and kept in ``GRIDGIS_HOME/secret_key``
  (mode 600), shared by every server process that uses that home.
- ``GRIDGIS_DB_IDLE_PING_SECONDS``: a pooled database connection unused for
  longer than this is tested (``SELECT 1``) before it is handed out, and replaced
  if it is gone (default 10; lower it below a firewall's idle timeout).
- ``GRIDGIS_PASSWORD_MIN_LENGTH``: the shortest password accepted (default 10).
- ``GRIDGIS_LOGIN_WINDOW_MINUTES``: the window failed logins are counted over
  (default 15); a throttled login is accepted again at most this long after
  the failure that tipped it.
- ``GRIDGIS_LOGIN_MAX_FAILURES``: failed logins of one account from one
  address within the window before that pair is throttled (default 5).
- ``GRIDGIS_LOGIN_MAX_FAILURES_ADDRESS``: failed logins from one address, to
  any accounts, before the address is throttled (default 20).
- ``GRIDGIS_LOGIN_MAX_FAILURES_ACCOUNT``: failed logins of one account, from
  any addresses, before the account is throttled for every address (default
  100; 0 turns this limit off).
- ``GRIDGIS_TRUSTED_PROXIES``: how many reverse proxies (nginx ...) stand in
  front of the app and append the client's address to ``X-Forwarded-For``
  (default 0: the address is the connection's).
- ``GRIDGIS_ARCHIVE_MAX_MEMBERS``: the most files a zip given to gridgis may
  hold (an uploaded layout, a zipped shapefile on the command line); default 1000.
- ``GRIDGIS_ARCHIVE_MAX_BYTES``: the most bytes its files may hold once
  unpacked, in all; default 1 GiB (1073741824). Larger zips are refused
  before anything is unpacked (zip bombs).
- ``GRIDGIS_MAX_CONTENT_LENGTH``: the largest request body the web app reads,
  in bytes (default 52428800, 50 MB: a layout upload; API bodies have their
  own smaller limit). A larger one is answered 413 unread.

The default ``GRIDGIS_HOME`` is the per-user data folder
(``~/.local/share/gridgis`` on Linux, following XDG). When gridgis runs as
root, it is ``/var/lib/gridgis`` instead, because the unprivileged user that
runs the database server must be able to reach it and ``/root`` is private.
"""

from __future__ import annotations

import os
import secrets
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


SECRET_KEY_FILE = "secret_key"
"""The file in :func:`home` holding the generated secret key."""


def secret_key() -> str:
    """Return ``GRIDGIS_SECRET_KEY``, else the key kept in ``GRIDGIS_HOME/secret_key``.

    The kept key is 256 random bits, generated on first use and written
    atomically with mode 600: several server processes starting together
    (gunicorn's workers) all end up with the same key, so a session cookie
    signed by one is accepted by the others.

    Raises
    ------
    ConfigError
        When the key can be neither read nor written (then set ``GRIDGIS_SECRET_KEY``).

    Examples
    --------
    >>> len(secret_key()) >= 32  # doctest: +SKIP
    True
    """
    explicit = _env("SECRET_KEY")
    if explicit is not None:
        return explicit
    path = home() / SECRET_KEY_FILE
    try:
        return _read_key(path) or _write_key(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot read or create the secret key file {str(path)!r} ({exc.strerror}); "
            "make GRIDGIS_HOME writable or set GRIDGIS_SECRET_KEY (the same value for every "
            "server process)"
        ) from exc


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    if len(key) < 32:
        raise ConfigError(
            f"the secret key file {str(path)!r} holds {len(key)} characters but is expected to "
            "hold at least 32; delete it to have a new one generated (signed-in users will "
            "have to log in again)"
        )
    return key


def _write_key(path: Path) -> str:
    """Write a new key to ``path`` unless another process got there first; return the key kept.

    The key is written whole to a private temporary file, which is then
    hard-linked to ``path``: linking fails when ``path`` exists, so of two
    processes racing, the second reads the first one's key and nobody ever
    reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            kept = _read_key(path)
            if kept is None:  # removed meanwhile: unlikely, and a retry settles it
                return _write_key(path)
            return kept
    finally:
        temporary.unlink(missing_ok=True)
    return key


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


def _int_setting(name: str, default: int, *, low: int, high: int, example: int) -> int:
    text_value = _env(name)
    if text_value is None:
        return default
    if not text_value.isdigit() or not low <= int(text_value) <= high:
        raise ConfigError(
            f"{ENV_PREFIX}{name} was {text_value!r} but is expected to be a whole number "
            f"from {low} to {high} (e.g. {example})"
        )
    return int(text_value)


def password_min_length() -> int:
    """Return the shortest password accepted (``GRIDGIS_PASSWORD_MIN_LENGTH``, default 10)."""
    return _int_setting("PASSWORD_MIN_LENGTH", 10, low=8, high=128, example=10)


@dataclass(frozen=True)
class LoginLimits:
    """How many failed logins are allowed within ``window_seconds`` before throttling.

    Attributes
    ----------
    per_account_address:
        Failures of one account from one address.
    per_address:
        Failures from one address, whatever the accounts.
    per_account:
        Failures of one account from every address; ``0`` means no such limit.
    """

    window_seconds: int
    per_account_address: int
    per_address: int
    per_account: int


def login_limits() -> LoginLimits:
    """Return the login throttle's settings (``GRIDGIS_LOGIN_*``, see the module's docstring)."""
    return LoginLimits(
        window_seconds=60
        * _int_setting("LOGIN_WINDOW_MINUTES", 15, low=1, high=24 * 60, example=15),
        per_account_address=_int_setting("LOGIN_MAX_FAILURES", 5, low=1, high=1000, example=5),
        per_address=_int_setting("LOGIN_MAX_FAILURES_ADDRESS", 20, low=1, high=10000, example=20),
        per_account=_int_setting(
            "LOGIN_MAX_FAILURES_ACCOUNT", 100, low=0, high=100000, example=100
        ),
    )


def trusted_proxies() -> int:
    """Return how many reverse proxies set ``X-Forwarded-For`` (``GRIDGIS_TRUSTED_PROXIES``)."""
    return _int_setting("TRUSTED_PROXIES", 0, low=0, high=5, example=1)


def _positive(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(
            f"GRIDGIS_{name} was {value!r} but is expected to be a whole number above 0"
        )
    return int(value)


def archive_max_members() -> int:
    """Return the most files a zip may hold (``GRIDGIS_ARCHIVE_MAX_MEMBERS``, default 1000)."""
    return _positive("ARCHIVE_MAX_MEMBERS", 1000)


def archive_max_bytes() -> int:
    """Return the most bytes a zip may unpack to (``GRIDGIS_ARCHIVE_MAX_BYTES``, default 1 GiB)."""
    return _positive("ARCHIVE_MAX_BYTES", 1024**3)


DEFAULT_MAX_CONTENT_LENGTH = 50 * 1024 * 1024
"""The largest request body the web app reads by default: 50 MB, a layout file's upload."""


def max_content_length() -> int:
    """Return the largest request body the web app reads, in bytes (``GRIDGIS_MAX_CONTENT_LENGTH``).

    Default :data:`DEFAULT_MAX_CONTENT_LENGTH` (50 MB). A body announced
    larger is answered 413 before any of it is read; a chunked body is read
    up to the limit, then answered 413.

    Raises
    ------
    ConfigError
        When the setting is not a whole number of bytes of at least 1024.

    Examples
    --------
    >>> max_content_length()  # doctest: +SKIP
    52428800
    """
    value = _env("MAX_CONTENT_LENGTH")
    if value is None:
        return DEFAULT_MAX_CONTENT_LENGTH
    if not value.isascii() or not value.isdigit() or int(value) < 1024:
        raise ConfigError(
            f"GRIDGIS_MAX_CONTENT_LENGTH was {value!r} but is expected to be a whole number "
            "of bytes, at least 1024 (e.g. 52428800 for 50 MB)"
        )
    return int(value)


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
    max_content_length: int


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
        max_content_length=max_content_length(),
    )
