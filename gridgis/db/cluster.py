"""The zero-config local PostgreSQL + PostGIS cluster.

When ``GRIDGIS_DATABASE_URL`` is unset, gridgis keeps its own private
PostgreSQL cluster in ``GRIDGIS_HOME/pg``: created on first use with the
machine's PostgreSQL server programs, started on demand, reached only over a
Unix socket in a folder that only the server's user (and root) can enter, and
stopped by ``gridgis db stop``. It never listens on TCP, so it cannot clash
with another server on port 5432.

PostgreSQL refuses to run as root. When gridgis runs as root, the cluster
belongs to an unprivileged system user (``GRIDGIS_PG_USER``, default
``gridgis``), created on first use, and the server programs run as that user.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridgis import config
from gridgis.errors import ConfigError, DatabaseError

DATABASE_NAME = "gridgis"
"""Name of the database gridgis creates inside its own cluster."""

_ADMIN_ZH = "请联系系统管理员（详细原因已记入服务器日志）"
"""What a clerk who meets a failure of the local database can do (the English names paths)."""

_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; ".s.PGSQL.5432" needs 14 of them


@dataclass(frozen=True)
class ClusterStatus:
    """What ``gridgis db status`` reports about the local cluster."""

    data_dir: Path
    initialized: bool
    running: bool
    pid: int | None
    socket_dir: Path
    server_version: str | None
    run_as: str


def find_bindir() -> Path:
    """Return the folder of PostgreSQL's server programs.

    ``GRIDGIS_PG_BINDIR`` wins; otherwise the newest
    ``/usr/lib/postgresql/<major>/bin`` that has PostGIS installed next to it,
    else the newest one at all.

    Raises
    ------
    DatabaseError
        When no PostgreSQL server programs are installed.
    ConfigError
        When ``GRIDGIS_PG_BINDIR`` names a folder without ``initdb``.
    """
    configured = config.settings().pg_bindir
    if configured is not None:
        if not (configured / "initdb").exists():
            raise ConfigError(
                f"GRIDGIS_PG_BINDIR was {str(configured)!r} but it holds no `initdb`; "
                "point it at the folder with PostgreSQL's server programs, "
                "e.g. /usr/lib/postgresql/15/bin",
                zh=f"GRIDGIS_PG_BINDIR 指向的文件夹中没有 `initdb`；{_ADMIN_ZH}",
            )
        return configured
    candidates: list[tuple[int, Path]] = []
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "initdb").exists():
                candidates.append((int(entry.name), entry / "bin"))
    if not candidates:
        raise DatabaseError(
            "No PostgreSQL server programs found under /usr/lib/postgresql. Install them "
            "with `make setup` (Debian: apt-get install postgresql-15 postgresql-15-postgis-3), "
            "set GRIDGIS_PG_BINDIR, or set GRIDGIS_DATABASE_URL to use an existing PostGIS.",
            zh=f"本机没有安装 PostgreSQL 数据库服务程序；{_ADMIN_ZH}",
        )
    candidates.sort(reverse=True)
    for major, bindir in candidates:
        if Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            return bindir
    return candidates[0][1]


def postgis_installed(bindir: Path) -> bool:
    """Tell whether the PostGIS extension is installed for the server in ``bindir``."""
    major = bindir.parent.name
    return Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists()


class LocalCluster:
    """A private PostgreSQL cluster in a data folder.

    Parameters
    ----------
    home:
        The gridgis data folder; the cluster lives in ``home / "pg"``.
        Defaults to ``GRIDGIS_HOME``.
    bindir:
        PostgreSQL's server programs. Defaults to :func:`find_bindir`.

    Examples
    --------
    >>> cluster = LocalCluster(Path("/tmp/gridgis-example"))  # doctest: +SKIP
    >>> url = cluster.ensure_running()  # doctest: +SKIP
    """

    def __init__(self, home: Path | None = None, *, bindir: Path | None = None) -> None:
        self.home = (home if home is not None else config.settings().home).absolute()
        self._bindir = bindir

    # -- locations ---------------------------------------------------------
    @property
    def root(self) -> Path:
        """Folder holding the cluster's data, socket and log."""
        return self.home / "pg"

    @property
    def data_dir(self) -> Path:
        """PostgreSQL's data directory (``PGDATA``)."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.root / "server.log"

    @property
    def socket_dir(self) -> Path:
        """Folder of the server's Unix socket.

        Inside the data folder when the path is short enough for a Unix
        socket, else a folder under ``/tmp`` named after the data folder.
        """
        preferred = self.root / "run"
        if len(str(preferred)) <= _SOCKET_PATH_MAX - 14:
            return preferred
        digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
        return Path(f"/tmp/gridgis-{os.geteuid()}-{digest}")

    @property
    def bindir(self) -> Path:
        """PostgreSQL's server programs used for this cluster."""
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    # -- who runs the server -----------------------------------------------
    @staticmethod
    def _running_as_root() -> bool:
        return os.geteuid() == 0

    def run_as(self) -> str:
        """Name of the system user that runs the server."""
        if self._running_as_root():
            return config.settings().pg_user
        return pwd.getpwuid(os.geteuid()).pw_name

    def _ensure_system_user(self) -> pwd.struct_passwd:
        name = config.settings().pg_user
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DatabaseError(
                f"Could not create the system user {name!r} that runs the local database "
                f"(PostgreSQL refuses to run as root): {result.stderr.strip()}",
                zh=f"无法创建运行本地数据库的系统用户 {name!r}；{_ADMIN_ZH}",
            )
        return pwd.getpwnam(name)

    def _run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a server program as the cluster's user."""
        kwargs: dict[str, object] = {}
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
        }
        if self._running_as_root():
            user = self._ensure_system_user()
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            env["HOME"] = "/tmp"
        else:
            env["HOME"] = os.environ.get("HOME", "/tmp")
        result = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd="/",
            timeout=timeout,
            **kwargs,  # type: ignore[call-overload]
        )
        if check and result.returncode != 0:
            raise DatabaseError(
                f"`{' '.join(args)}` failed with exit code {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()}" + self._log_tail(),
                zh=f"本地数据库的服务程序运行失败；{_ADMIN_ZH}",
            )
        return result

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\nLast lines of " + str(self.log_file) + ":\n" + "\n".join(text)

    # -- lock ---------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise init and start between processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- lifecycle ------------------------------------------------------------
    def _prepare_folders(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._running_as_root():
            user = self._ensure_system_user()
            for path in (self.root, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            if self.log_file.exists():
                os.chown(self.log_file, user.pw_uid, user.pw_gid)
            self._check_reachable(user)
        os.chmod(self.socket_dir, 0o700)
        os.chmod(self.root, 0o700)

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        """Fail clearly when the server's user cannot reach the data folder."""
        result = subprocess.run(
            ["test", "-w", str(self.root), "-a", "-x", str(self.root)],
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=[],
            check=False,
        )
        if result.returncode != 0:
            blocking = next(
                (p for p in reversed(self.root.parents) if not os.stat(p).st_mode & 0o001),
                self.root,
            )
            raise DatabaseError(
                f"The database server runs as the unprivileged user {user.pw_name!r}, which "
                f"cannot reach {self.root} ({blocking} is closed to other users). Set "
                "GRIDGIS_HOME to a folder outside private home directories "
                "(the default for root is /var/lib/gridgis).",
                zh=f"本地数据库的服务用户无法访问数据文件夹；{_ADMIN_ZH}（检查 GRIDGIS_HOME）",
            )

    def initialized(self) -> bool:
        """Tell whether the data directory holds a cluster."""
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> bool:
        """Create the cluster if there is none; return whether one was created."""
        with self._lock():
            if self.initialized():
                return False
            if not postgis_installed(self.bindir):
                raise DatabaseError(
                    f"PostGIS is not installed for the PostgreSQL server in {self.bindir}. "
                    "Run `make setup` (Debian: apt-get install postgresql-15-postgis-3).",
                    zh=f"本地数据库服务器没有安装 PostGIS；{_ADMIN_ZH}",
                )
            self._prepare_folders()
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    self.run_as(),
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C.UTF-8",
                ]
            )
            return True

    def _server_options(self) -> str:
        return (
            "-c listen_addresses='' "
            f"-c unix_socket_directories='{self.socket_dir}' "
            "-c unix_socket_permissions=0700 "
            "-c timezone=UTC"
        )

    def running(self) -> bool:
        """Tell whether the server is running."""
        if not self.initialized():
            return False
        result = self._run(
            [str(self.bindir / "pg_ctl"), "status", "--pgdata", str(self.data_dir)],
            check=False,
        )
        return result.returncode == 0

    def start(self) -> bool:
        """Start the server (creating the cluster first); return whether it was started."""
        self.init()
        with self._lock():
            if self.running():
                return False
            self._prepare_folders()
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "start",
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    "60",
                    "--options",
                    self._server_options(),
                ]
            )
            self._create_database()
            return True

    def stop(self) -> bool:
        """Stop the server if it runs; return whether it was stopped."""
        with self._lock():
            if not self.running():
                return False
            self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "stop",
                    "--pgdata",
                    str(self.data_dir),
                    "--mode",
                    "fast",
                    "--wait",
                    "--timeout",
                    "60",
                ]
            )
            return True

    def _psql(self, database: str, sql: str) -> str:
        result = self._run(
            [
                str(self.bindir / "psql"),
                "--no-psqlrc",
                "--tuples-only",
                "--no-align",
                "--set",
                "ON_ERROR_STOP=1",
                "--host",
                str(self.socket_dir),
                "--username",
                self.run_as(),
                "--dbname",
                database,
                "--command",
                sql,
            ]
        )
        return result.stdout.strip()

    def _create_database(self, name: str = DATABASE_NAME) -> None:
        exists = self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists != "1":
            self._psql("postgres", f'CREATE DATABASE "{name}"')

    def create_database(self, name: str) -> str:
        """Create database ``name`` in the running cluster if missing; return its URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise DatabaseError(
                f"database name {name!r} is not allowed; use lower-case letters, digits and _",
                zh=f"数据库名 {name!r} 不可用；只能使用小写字母、数字和 _",
            )
        self.ensure_running()
        self._create_database(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` from the running cluster if it exists."""
        if name == DATABASE_NAME or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise DatabaseError(
                f"refusing to drop database {name!r}", zh=f"拒绝删除数据库 {name!r}"
            )
        self._psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, database: str = DATABASE_NAME) -> str:
        """SQLAlchemy URL of a database in this cluster, over its Unix socket."""
        return f"postgresql+psycopg://{self.run_as()}@/{database}?host={self.socket_dir}"

    def ensure_running(self) -> str:
        """Create and start the cluster as needed; return the URL of the gridgis database.

        Always through :meth:`start`, whose check runs under the cluster's lock:
        ``pg_ctl status`` says "running" as soon as another process has written
        ``postmaster.pid``, before the server listens, so a check made outside the
        lock let a second process (a second test worker) connect to a socket that
        did not exist yet.
        """
        self.start()
        return self.url()

    def status(self) -> ClusterStatus:
        """Describe the cluster without changing anything."""
        initialized = self.initialized()
        running = initialized and self.running()
        pid: int | None = None
        if running:
            try:
                pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pid = None
        version: str | None = None
        if initialized:
            try:
                version = (self.data_dir / "PG_VERSION").read_text().strip()
            except OSError:
                version = None
        return ClusterStatus(
            data_dir=self.data_dir,
            initialized=initialized,
            running=running,
            pid=pid,
            socket_dir=self.socket_dir,
            server_version=version,
            run_as=self.run_as(),
        )

    def wait_stopped(self, timeout: float = 30) -> None:
        """Wait until no server process remains (after :meth:`stop`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not (self.data_dir / "postmaster.pid").exists():
                return
            time.sleep(0.1)
        raise DatabaseError(
            f"the local database in {self.data_dir} did not stop in {timeout} s",
            zh=f"本地数据库在 {timeout} 秒内没有停止；{_ADMIN_ZH}",
        )
