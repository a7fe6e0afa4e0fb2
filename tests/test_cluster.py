"""The zero-config local cluster: created on first use, started on demand, stopped."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _databases import cluster_home, worker_name
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from gridgis.cli import main
from gridgis.db import migrate
from gridgis.db.cluster import LocalCluster
from gridgis.db.engine import dispose_engines, get_engine
from gridgis.errors import DatabaseError


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data folder of its own (one per xdist worker), with GRIDGIS_* pointing at it and no
    database URL."""
    folder = cluster_home().with_name(f"{cluster_home().name}-cluster-{worker_name()}")
    shutil.rmtree(folder, ignore_errors=True)
    monkeypatch.setenv("GRIDGIS_HOME", str(folder))
    monkeypatch.delenv("GRIDGIS_DATABASE_URL", raising=False)
    yield folder
    dispose_engines()
    cluster = LocalCluster(folder)
    if cluster.initialized():
        cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)


def test_commands_create_start_upgrade_and_stop(home: Path) -> None:
    runner = CliRunner()
    before = runner.invoke(main, ["db", "status"])
    assert before.exit_code == 0, before.output
    assert "initialized: no" in before.output and "running: no" in before.output

    upgraded = runner.invoke(main, ["db", "upgrade"])  # creates and starts on demand
    assert upgraded.exit_code == 0, upgraded.output
    assert f"none -> {migrate.head_revision()}" in upgraded.output

    status = runner.invoke(main, ["db", "status"])
    assert status.exit_code == 0, status.output
    assert "running: yes" in status.output and "up to date" in status.output
    assert "postgis: 3." in status.output

    cluster = LocalCluster(home)
    # Private: only the server's user may enter the data and socket folders; no TCP.
    assert stat.S_IMODE(os.stat(cluster.root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cluster.socket_dir).st_mode) == 0o700
    engine = create_engine(cluster.url())
    with engine.connect() as conn:
        assert conn.execute(text("SHOW listen_addresses")).scalar() == ""
        assert conn.execute(text("SELECT current_setting('server_encoding')")).scalar() == "UTF8"
        if os.geteuid() == 0:
            owner = conn.execute(text("SELECT current_user")).scalar()
            assert owner == cluster.run_as() != "root"
    engine.dispose()

    stopped = runner.invoke(main, ["db", "stop"])
    assert stopped.exit_code == 0, stopped.output
    assert "stopped" in stopped.output
    assert not cluster.running()
    again = runner.invoke(main, ["db", "start"])
    assert again.exit_code == 0 and "started" in again.output
    data = runner.invoke(main, ["import", "divisions", "--district", "350304"])
    assert data.exit_code == 0, data.output
    reset = runner.invoke(main, ["db", "reset", "--yes"])
    assert reset.exit_code == 0, reset.output
    status = runner.invoke(main, ["db", "status"])
    assert "district 0, street 0" in status.output


def test_start_and_stop_refused_for_an_external_database(
    env_database: str,
) -> None:
    result = CliRunner().invoke(main, ["db", "stop"])
    assert result.exit_code != 0
    assert "GRIDGIS_DATABASE_URL is set" in result.output


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_unreachable_home_is_explained(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(tmp_path, 0o700)
    cluster = LocalCluster(private / "home")
    with pytest.raises(DatabaseError, match="cannot reach"):
        cluster.init()


def test_missing_server_programs_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_PG_BINDIR", "/nonexistent")
    with pytest.raises(ValueError, match="GRIDGIS_PG_BINDIR was '/nonexistent'"):
        LocalCluster(Path("/tmp/unused")).init()


_programs: list[list[str]] | None = None
"""While a test records (:func:`_programs_run`): the command lines of the programs started."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and _programs is not None:
        _programs.append([str(part) for part in args[1]])


_audit_hook_added = False


@contextmanager
def _programs_run() -> Iterator[list[list[str]]]:
    """Record every program this process starts (Python's audit hook of ``subprocess``)."""
    global _programs, _audit_hook_added
    if not _audit_hook_added:  # a hook cannot be removed: add one, once, that mostly idles
        sys.addaudithook(_audit)
        _audit_hook_added = True
    _programs = []
    try:
        yield _programs
    finally:
        _programs = None


def test_the_engine_is_made_once_and_the_cluster_asked_once(home: Path) -> None:
    cluster = LocalCluster(home)
    cluster.start()
    with _programs_run() as programs:
        engines = {id(get_engine()) for _ in range(100)}
    assert len(engines) == 1
    asked = [command for command in programs if "status" in command]
    assert len(asked) == 1, programs
    dispose_engines()  # and after a dispose, the cluster is asked again (it may have stopped)
    with _programs_run() as programs:
        get_engine()
    assert len([command for command in programs if "status" in command]) == 1
