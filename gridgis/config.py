"""Settings of gridgis: one typed model, read from ``GRIDGIS_*`` environment variables.

Every setting is a field of :class:`Settings` with its type, its default and a
description; its environment variable is ``GRIDGIS_`` + the field's name in
capitals (:func:`env_var`). The README's configuration table and ``gridgis
config`` are made from the model (:func:`markdown_table`, :func:`describe`),
so they cannot drift from it.

Settings are read when asked, never at import: :func:`settings` reads the
environment on every call (about 40 µs; it builds a new :class:`Settings` only
when a variable changed), so a test or a long-running process that changes the
environment is obeyed at once and no cache needs invalidating. A value that is
blank or only spaces counts as unset; values are stripped. A bad value raises
:class:`~gridgis.errors.ConfigError` naming the variable, the value and what is
allowed; every bad value of the environment is named in one message.

Secrets (the database URL's password, the secret key, the 天地图 key, the CLI's
password, the S3 photo store's keys) are :class:`pydantic.SecretStr`: they print as
``**********`` and :func:`describe` masks them (``postgresql://user:***@host/db``, ``***``).

Examples
--------
>>> settings().tile_crs in ("wgs84", "gcj02")
True
>>> env_var("tile_max_zoom")
'GRIDGIS_TILE_MAX_ZOOM'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gridgis.errors import ConfigError
from gridgis.secret_key import read_key, write_key

__all__ = [
    "ENV_PREFIX",
    "SECRET_KEY_FILE",
    "LoginLimits",
    "Settings",
    "allowed_text",
    "env_var",
    "field_extra",
    "mask_url",
    "settings",
]

ENV_PREFIX = "GRIDGIS_"
"""What every environment variable of gridgis starts with."""

TEST_PREFIX = ENV_PREFIX + "TEST_"
"""Variables of the test suite (``GRIDGIS_TEST_DATABASE_URL`` ...), not settings of gridgis."""

SECRET_KEY_FILE = "secret_key"
"""The file in ``GRIDGIS_HOME`` holding the generated secret key."""

TIANDITU_KEY = re.compile(r"[0-9A-Za-z]{8,64}")
"""What a 天地图 browser key looks like (checked here and for the app's ``TIANDITU_KEY``)."""

MASK = "***"
"""What a secret is shown as."""

_MIB = 1024 * 1024


def env_var(name: str) -> str:
    """Return the environment variable of the setting ``name`` (``GRIDGIS_`` + capitals)."""
    return ENV_PREFIX + name.upper()


def _setting(
    default: Any = None,
    *,
    description: str,
    allowed: str,
    default_text: str | None = None,
    **constraints: Any,
) -> Any:
    """A field of :class:`Settings`: ``allowed`` ends "... is expected to be <allowed>"."""
    extra: dict[str, Any] = {"allowed": allowed}
    if default_text is not None:
        extra["default_text"] = default_text
    return Field(default, description=description, json_schema_extra=extra, **constraints)


def _default_home() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # The unprivileged user running the database server must reach it; /root is private.
        return Path("/var/lib/gridgis")
    return Path(platformdirs.user_data_dir("gridgis", appauthor=False))


def _environment() -> dict[str, str]:
    """The ``GRIDGIS_*`` variables of the settings that are set, stripped; blank ones are unset."""
    fields = Settings.model_fields
    found: dict[str, str] = {}
    for variable, value in os.environ.items():  # one pass: faster than a lookup per field
        if variable.startswith(ENV_PREFIX) and (text := value.strip()):
            name = variable[len(ENV_PREFIX) :].lower()
            if name in fields and env_var(name) == variable:
                found[name] = text
    return dict(sorted(found.items()))


class _Environment(PydanticBaseSettingsSource):
    """The source of :class:`Settings`: :func:`_environment` (no ``.env`` or secrets files)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _environment().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_environment())


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


class Settings(BaseSettings):
    """Every setting of gridgis, with its type, default and description.

    Build one with :func:`settings` (from the environment, now). Fields are
    immutable; keyword arguments override the environment (``Settings(tile_max_zoom=12)``).

    Examples
    --------
    >>> Settings(tile_max_zoom=12).tile_max_zoom
    12
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # -- the database ---------------------------------------------------------------------
    database_url: SecretStr | None = _setting(
        description="an existing PostGIS, e.g. `postgresql://user:pw@db.example:5432/gridgis`",
        allowed="a database URL",
        default_text="unset: gridgis's own local cluster",
    )
    home: Path = Field(
        default_factory=_default_home,
        description="data folder of gridgis: the local cluster (`pg/`) and the generated "
        "secret key; a relative path is taken from the current folder",
        json_schema_extra={
            "allowed": "a folder",
            "default_text": "`~/.local/share/gridgis`; `/var/lib/gridgis` for root",
        },
    )
    pg_bindir: Path | None = _setting(
        description="PostgreSQL's server programs for the local cluster (must hold `initdb`)",
        allowed="a folder",
        default_text="the newest `/usr/lib/postgresql/*/bin` with PostGIS",
    )
    pg_user: str = _setting(
        "gridgis",
        description="the system user that runs the local cluster when gridgis runs as root "
        "(created on first use)",
        allowed="a user name",
    )
    db_idle_ping_seconds: float = _setting(
        10.0,
        description="a pooled connection idle longer than this is tested (`SELECT 1`) before "
        "use and replaced if the server or a firewall dropped it",
        allowed="a number of seconds >= 0",
        ge=0,
        allow_inf_nan=False,
    )
    # -- maps -----------------------------------------------------------------------------
    tile_url: str | None = _setting(
        description="base-map tiles, e.g. an intranet tile server "
        "`https://{s}.tiles.intranet/{z}/{x}/{y}.png` or a path on this server",
        allowed="a URL template with {z}, {x} and {y}",
        default_text="unset: no base map",
    )
    tile_crs: Literal["wgs84", "gcj02"] = _setting(
        "wgs84",
        description="what those tiles are drawn in: `wgs84` (OpenStreetMap-style servers, "
        "CGCS2000) or `gcj02` (AMap/Gaode, Tencent; the maps shift them onto the cells)",
        allowed="one of ['wgs84', 'gcj02']",
    )
    tile_subdomains: str = _setting(
        "abc",
        description="the values of `{s}` in the tile URL",
        allowed="letters or digits",
        pattern=r"^[0-9A-Za-z]+$",
    )
    tile_max_zoom: int = _setting(
        18,
        description="the deepest zoom the tile server has",
        allowed="a whole number 1-22",
        ge=1,
        le=22,
    )
    tile_attribution: str = _setting(
        "", description="attribution shown for those tiles", allowed="text", default_text="empty"
    )
    tianditu_key: SecretStr | None = _setting(
        description="a 天地图 browser key: with no `GRIDGIS_TILE_URL`, the base map is 天地图's "
        "vector map and annotation (CGCS2000)",
        allowed="8-64 letters and digits",
        default_text="unset",
    )
    tile_cache_bytes: int = _setting(
        64 * _MIB,
        description="bytes of vector tiles each server process keeps in memory (0: none)",
        allowed="a whole number of bytes >= 0",
        default_text="67108864 (64 MiB)",
        ge=0,
    )
    placement_time_limit: float = _setting(
        5.0,
        description="seconds the solver may take for one request of new party-branch sites",
        allowed="a number of seconds > 0",
        gt=0,
        allow_inf_nan=False,
    )
    # -- cases ----------------------------------------------------------------------------
    intake_sync_commit: bool = _setting(
        True,
        description="`off`: a case filed through the API is answered before PostgreSQL has "
        "flushed it to disk (faster on slow disks; a crash of the database server may lose "
        "the last fraction of a second of cases)",
        allowed="'on' or 'off'",
    )
    intake_cache_seconds: float = _setting(
        0.0,
        description="seconds a case filed through the intake API may go without checking "
        "that the cells and categories it keeps in memory are current (0: every case "
        "checks, one read of a few rows; cells published through gridgis are never missed)",
        allowed="a number of seconds >= 0",
        ge=0,
        allow_inf_nan=False,
    )
    address_book_seconds: float = _setting(
        0.0,
        description="seconds a case filed by address may go without checking that the "
        "address book the intake API keeps in memory is current (0: every such case checks)",
        allowed="a number of seconds >= 0",
        ge=0,
        allow_inf_nan=False,
    )
    duplicate_metres: float = _setting(
        50.0,
        description="a new case within this many metres of an open case of the same category "
        "(and within `GRIDGIS_DUPLICATE_DAYS` of it) is shown as a likely duplicate (疑似重复)",
        allowed="a number of metres > 0 and at most 10000",
        gt=0,
        le=10_000,
        allow_inf_nan=False,
    )
    duplicate_days: float = _setting(
        7.0,
        description="how many days before or after an open case's report a new case of the "
        "same category nearby is shown as a likely duplicate (疑似重复)",
        allowed="a number of days > 0 and at most 366",
        gt=0,
        le=366,
        allow_inf_nan=False,
    )
    photo_max_bytes: int = _setting(
        10 * _MIB,
        description="the largest photo a case or a step may carry, in bytes",
        allowed="a whole number of bytes from 1024 to 104857600 (e.g. 10485760 for 10 MiB)",
        default_text="10485760 (10 MiB)",
        ge=1024,
        le=100 * _MIB,
    )
    photo_max_count: int = _setting(
        9,
        description="the most photos one filing or one step may carry",
        allowed="a whole number from 1 to 50",
        ge=1,
        le=50,
    )
    photo_max_pixels: int = _setting(
        40_000_000,
        description="the most pixels (width × height) a photo may have; larger ones are "
        "refused before any of it is decoded (a decompression bomb)",
        allowed="a whole number from 1 to 89478485 (Pillow's own limit)",
        default_text="40000000 (40 megapixels)",
        ge=1,
        le=89_478_485,
    )
    photo_store: Literal["file", "s3"] = _setting(
        "file",
        description="where photos of cases and visits are kept: `file`, in `GRIDGIS_PHOTO_DIR`; "
        "`s3`, in the bucket `GRIDGIS_S3_BUCKET` of an S3-compatible store (MinIO, Ceph, OSS…)",
        allowed="one of ['file', 's3']",
    )
    photo_dir: Path | None = _setting(
        description="the folder of the `file` photo store (never served directly: photos "
        "are served to those who may see their case)",
        allowed="a folder",
        default_text="`GRIDGIS_HOME/photos`",
    )
    s3_endpoint: str | None = _setting(
        description="the `s3` photo store's server, e.g. `http://minio.intranet:9000` or "
        "`https://oss-cn-hangzhou.aliyuncs.com`",
        allowed="an http:// or https:// URL",
        default_text="unset: Amazon S3 of `GRIDGIS_S3_REGION`",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
    )
    s3_bucket: str | None = _setting(
        description="the bucket of the `s3` photo store (it must exist)",
        allowed="a bucket name: 3-63 lower-case letters, digits, '.', '-' or '_'",
        default_text="unset (needed by `s3`)",
        pattern=r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$",
    )
    s3_prefix: str = _setting(
        "",
        description="what the keys of the `s3` photo store start with, e.g. `gridgis/photos` "
        "(a bucket shared with other uses)",
        allowed="key segments separated by '/', without '..'",
        default_text="empty: the bucket's top",
        pattern=r"^[^\s\\]*$",
    )
    s3_region: str = _setting(
        "us-east-1",
        description="the region requests to the `s3` photo store are signed for (MinIO and "
        "Ceph take any; a cloud's S3 endpoint documents its own)",
        allowed="a region name of letters, digits and '-'",
        pattern=r"^[a-z0-9-]{1,40}$",
    )
    s3_access_key: SecretStr | None = _setting(
        description="the access key id of the `s3` photo store (never shown or logged)",
        allowed="text",
        default_text="unset: boto3's own (`AWS_ACCESS_KEY_ID`, `~/.aws`, an instance role)",
    )
    s3_secret_key: SecretStr | None = _setting(
        description="the secret access key of the `s3` photo store (never shown or logged)",
        allowed="text",
        default_text="unset: as for the access key",
    )
    s3_addressing: Literal["path", "virtual"] = _setting(
        "path",
        description="how the bucket is named in requests: `path` (`endpoint/bucket/key`, what "
        "MinIO and Ceph on an intranet expect) or `virtual` (`bucket.endpoint/key`: OSS, COS)",
        allowed="one of ['path', 'virtual']",
    )
    # -- registers (gridgis import buildings --estimate-households) -------------------------
    storey_height: float = _setting(
        3.0,
        description="metres a storey is high: a building's floors are its height divided by "
        "this, rounded, when the file gives a height and no floors",
        allowed="a number of metres > 0",
        gt=0,
        allow_inf_nan=False,
    )
    default_floors: int = _setting(
        6,
        description="floors of a building whose file gives neither floors nor height, "
        "when its households are estimated (6: the walk-up blocks of most older compounds)",
        allowed="a whole number above 0",
        ge=1,
    )
    residential_share: float = _setting(
        0.8,
        description="share of a building's floor area that is dwellings (the rest: stairs, "
        "corridors, shops), when its households are estimated",
        allowed="a number above 0 and at most 1",
        gt=0,
        le=1,
        allow_inf_nan=False,
    )
    dwelling_m2: float = _setting(
        90.0,
        description="floor area of one dwelling in m², when households are estimated: "
        "households = footprint × floors × residential share ÷ this",
        allowed="a number of m² > 0",
        gt=0,
        allow_inf_nan=False,
    )
    # -- rosters ------------------------------------------------------------------------
    worker_roles: str = _setting(
        "",
        description="roles of grid people besides the built-in ones (专职网格员, 兼职网格员, "
        "网格长, 楼栋长, 单元长, 网格指导员) that `gridgis import workers` accepts: "
        "`code=名称` pairs separated by commas, e.g. `volunteer=志愿者,liaison=物业联络员`",
        allowed="`code=名称` pairs separated by commas, codes of lower-case letters, digits and _",
        default_text="empty: the built-in roles only",
        pattern=r"^\s*([a-z][a-z0-9_]{0,39}\s*=\s*[^,=]+?\s*(,\s*[a-z][a-z0-9_]{0,39}\s*=\s*"
        r"[^,=]+?\s*)*)?$",
    )
    # -- the web app and its users --------------------------------------------------------
    secret_key: SecretStr | None = _setting(
        description="Flask secret key, signs the session cookies (sessions end when it "
        "changes; several machines behind one proxy must share it)",
        allowed="text",
        default_text="generated once into `GRIDGIS_HOME/secret_key` (mode 600), shared by "
        "the processes using that folder",
    )
    session_hours: float = _setting(
        8.0,
        description="how long a login lasts",
        allowed="a number of hours above 0 and at most 2160 (e.g. 8)",
        gt=0,
        le=24 * 90,
        allow_inf_nan=False,
    )
    secure_cookies: bool = _setting(
        False,
        description="`on`: send the session cookie over HTTPS only",
        allowed="1 or 0 (on or off)",
    )
    password_min_length: int = _setting(
        10,
        description="the shortest password accepted",
        allowed="a whole number from 8 to 128 (e.g. 10)",
        ge=8,
        le=128,
    )
    password: SecretStr | None = _setting(
        description="the password `gridgis users add` and `gridgis users password` use "
        "instead of asking (for scripts)",
        allowed="text",
        default_text="unset: asked twice",
    )
    login_window_minutes: int = _setting(
        15,
        description="the window failed logins are counted over; a throttled login is "
        "accepted again at most this long after the failure that tipped it",
        allowed="a whole number from 1 to 1440 (e.g. 15)",
        ge=1,
        le=24 * 60,
    )
    login_max_failures: int = _setting(
        5,
        description="failed logins of one account from one address within the window "
        "before that pair is throttled",
        allowed="a whole number from 1 to 1000 (e.g. 5)",
        ge=1,
        le=1000,
    )
    login_max_failures_address: int = _setting(
        20,
        description="failed logins from one address, to any accounts, before the address "
        "is throttled",
        allowed="a whole number from 1 to 10000 (e.g. 20)",
        ge=1,
        le=10000,
    )
    login_max_failures_account: int = _setting(
        100,
        description="failed logins of one account, from any addresses, before the account "
        "is throttled for every address (0: no such limit)",
        allowed="a whole number from 0 to 100000 (e.g. 100)",
        ge=0,
        le=100000,
    )
    open311_public_read: bool = _setting(
        True,
        description="`on`: anyone may read Open311's services and requests (as its "
        "specification has it; people's names, numbers and photos are left out); `off`: "
        "reading needs an Open311 client key, an API token or a login too (an intranet)",
        allowed="1 or 0 (on or off)",
    )
    open311_key_per_minute: int = _setting(
        60,
        description="requests one Open311 client key (`gridgis open311 key add NAME`) may "
        "make in a minute; more are answered 429",
        allowed="a whole number from 1 to 100000 (e.g. 60)",
        ge=1,
        le=100000,
    )
    trusted_proxies: int = _setting(
        0,
        description="how many reverse proxies (nginx ...) stand in front of the app and add "
        "the client's address to `X-Forwarded-For` (0: the address is the connection's)",
        allowed="a whole number from 0 to 5 (e.g. 1)",
        ge=0,
        le=5,
    )
    max_content_length: int = _setting(
        50 * _MIB,
        description="the largest request body the web app reads, in bytes (a layout "
        "upload; API bodies have their own smaller limit); larger ones are answered 413 unread",
        allowed="a whole number of bytes, at least 1024 (e.g. 52428800 for 50 MB)",
        default_text="52428800 (50 MB)",
        ge=1024,
    )
    archive_max_members: int = _setting(
        1000,
        description="the most files a zip given to gridgis may hold (an uploaded layout, "
        "a zipped shapefile on the command line)",
        allowed="a whole number above 0",
        ge=1,
    )
    archive_max_bytes: int = _setting(
        1024**3,
        description="the most bytes the files of such a zip may hold once unpacked, in all; "
        "larger zips are refused before anything is unpacked",
        allowed="a whole number above 0",
        default_text="1073741824 (1 GiB)",
        ge=1,
    )
    import_staging_hours: float = _setting(
        24.0,
        description="hours a file uploaded to the web import page is kept (in "
        "`GRIDGIS_HOME/imports/`) when it is neither confirmed nor cancelled",
        allowed="a number of hours > 0",
        gt=0,
        allow_inf_nan=False,
    )
    jobs_keep_hours: float = _setting(
        24.0,
        description="hours the file of a background export (in `GRIDGIS_HOME/jobs/`) and its "
        "job are kept after the job ends",
        allowed="a number of hours > 0",
        gt=0,
        allow_inf_nan=False,
    )
    overdue_soon_hours: float = _setting(
        24.0,
        description="hours before a case's deadline when `gridgis notices sweep` tells "
        "its department (or the street office) that it is due soon (即将超期)",
        allowed="a number of hours > 0",
        gt=0,
        allow_inf_nan=False,
    )
    jobs_stale_seconds: float = _setting(
        120.0,
        description="seconds without a sign of life after which a running background job is "
        "taken for one whose process died: it is queued again (failed after 3 attempts)",
        allowed="a number of seconds ≥ 10",
        ge=10,
        allow_inf_nan=False,
    )
    public_url: str | None = _setting(
        None,
        description="the address people open gridgis at (e.g. `https://grid.example.gov.cn`), "
        "for the links of webhook messages; unset: the links are paths (`/cases/17`)",
        allowed="an http:// or https:// URL",
        pattern=r"^https?://[^\s]+$",
    )
    webhook_attempts: int = _setting(
        8,
        description="how often a webhook delivery is tried before it is given up; the waits "
        "between tries double from 1 minute (1, 2, 4 ... minutes)",
        allowed="a whole number from 1 to 20",
        ge=1,
        le=20,
    )
    webhook_timeout_seconds: float = _setting(
        5.0,
        description="seconds a webhook's server has to answer one delivery",
        allowed="a number of seconds from 0.1 to 60",
        ge=0.1,
        le=60,
        allow_inf_nan=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the ``GRIDGIS_*`` variables (no ``.env`` or secrets files)."""
        return (init_settings, _Environment(settings_cls))

    @field_validator("tile_crs", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("tianditu_key", mode="after")
    @classmethod
    def _tianditu_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TIANDITU_KEY.fullmatch(value.get_secret_value()):
            raise ValueError("not a 天地图 key")
        return value

    @field_validator("s3_prefix", mode="after")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        parts = value.strip("/").split("/")
        if value.strip("/") and any(p in ("", ".", "..") for p in parts):
            raise ValueError("not a key prefix")
        return "/".join(parts) + "/" if value.strip("/") else ""

    @field_validator("home", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        path = value.expanduser()
        return path if path.is_absolute() else Path.cwd() / path

    # -- what the settings mean together ---------------------------------------------------
    @model_validator(mode="after")
    def _photo_store_complete(self) -> Settings:
        if self.photo_store == "s3" and self.s3_bucket is None:
            raise PydanticCustomError(
                "settings", "GRIDGIS_PHOTO_STORE is 's3' but GRIDGIS_S3_BUCKET is unset"
            )
        if (self.s3_access_key is None) != (self.s3_secret_key is None):
            given, unset = (
                ("ACCESS", "SECRET") if self.s3_secret_key is None else ("SECRET", "ACCESS")
            )
            raise PydanticCustomError(
                "settings", f"GRIDGIS_S3_{given}_KEY is set but GRIDGIS_S3_{unset}_KEY is unset"
            )
        return self

    @property
    def login_limits(self) -> LoginLimits:
        """The login throttle's settings (``GRIDGIS_LOGIN_*``) together."""
        return LoginLimits(
            window_seconds=60 * self.login_window_minutes,
            per_account_address=self.login_max_failures,
            per_address=self.login_max_failures_address,
            per_account=self.login_max_failures_account,
        )

    def signing_key(self) -> str:
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
        >>> Settings(secret_key="s3cret").signing_key()
        's3cret'
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.home / SECRET_KEY_FILE
        try:
            return read_key(path) or write_key(path)
        except OSError as exc:
            raise ConfigError(
                f"cannot read or create the secret key file {str(path)!r} ({exc.strerror}); "
                "make GRIDGIS_HOME writable or set GRIDGIS_SECRET_KEY (the same value for every "
                "server process)",
                zh=f"无法读取或创建 GRIDGIS_HOME 中的密钥文件 {path.name}（{exc.strerror}）；"
                "请让 GRIDGIS_HOME 可写，或设置 GRIDGIS_SECRET_KEY（每个服务器进程取相同的值）",
            ) from exc


_last: tuple[tuple[object, ...], Settings] | None = None
"""The settings :func:`settings` built last, with the environment they were built from."""


def settings(**overrides: Any) -> Settings:
    """Read every setting from the environment now and return them together.

    Building a :class:`Settings` costs about 0.3 ms (pydantic-settings prepares
    its sources each time), so the last one built is kept with the variables it
    was built from and handed out again while they are unchanged: reading them
    costs about 40 µs, and a changed variable is obeyed on the next call, with
    nothing to invalidate.

    Parameters
    ----------
    **overrides:
        Values that replace the environment's (field names, as in :class:`Settings`).

    Raises
    ------
    ConfigError
        When a variable has a bad value; every bad one is named, with its value
        and what is allowed.

    Examples
    --------
    >>> settings(tile_max_zoom="99")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    gridgis.errors.ConfigError: GRIDGIS_TILE_MAX_ZOOM was '99' but is expected to be ...
    """
    global _last
    if overrides:
        return _build(overrides)
    found = _environment()
    # The default home depends on the user; a relative one on the current folder.
    home = found.get("home")
    where = os.getcwd() if home is not None and not home.startswith(("/", "~")) else None
    key = (tuple(found.items()), os.geteuid() if hasattr(os, "geteuid") else None, where)
    last = _last
    if last is not None and last[0] == key:
        return last[1]
    built = _build({})
    _last = (key, built)
    return built


def _build(overrides: dict[str, Any]) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise _config_error(exc) from None


def _config_error(exc: ValidationError) -> ConfigError:
    problems: list[str] = []
    for error in exc.errors(include_url=False):
        name = str(error["loc"][0]) if error["loc"] else ""
        field = Settings.model_fields.get(name)
        if field is None:
            problems.append(f"{name!r} is not a setting of gridgis" if name else error["msg"])
            continue
        shown = "(hidden)" if _is_secret(field) else repr(error["input"])
        problems.append(f"{env_var(name)} was {shown} but is expected to be {allowed_text(field)}")
    return ConfigError("; ".join(problems))


def field_extra(field: FieldInfo) -> dict[str, Any]:
    extra = field.json_schema_extra
    return extra if isinstance(extra, dict) else {}


def allowed_text(field: FieldInfo) -> str:
    return str(field_extra(field).get("allowed", "valid"))


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


def mask_url(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``.

    Examples
    --------
    >>> mask_url("postgresql://gridgis:pa55@db.example:5432/gridgis")
    'postgresql://gridgis:***@db.example:5432/gridgis'
    >>> mask_url("postgresql://postgres@127.0.0.1/gridgis")
    'postgresql://postgres@127.0.0.1/gridgis'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.split(':', 1)[0]}:{MASK}@{host}"))
