"""One secret key for every server process: ``GRIDGIS_SECRET_KEY``, else one in the data home.

gunicorn's workers each create the app; with a key of their own, a session
cookie signed by one would be refused by the others.
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from conftest import sign_in

from gridgis import config
from gridgis.errors import ConfigError
from gridgis.web import create_app
from gridgis.web.db import dispose_engine


def test_workers_without_a_key_share_one_kept_in_the_data_home(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDGIS_SECRET_KEY", raising=False)
    monkeypatch.setenv("GRIDGIS_HOME", str(tmp_path / "home"))
    settings = {"TESTING": True, "DATABASE_URL": database_url}
    first, second = create_app(settings), create_app(settings)
    try:
        browser = first.test_client()
        sign_in(browser)
        other = second.test_client()
        cookie = browser.get_cookie("session")
        assert cookie is not None
        other.set_cookie("session", cookie.value)
        assert other.get("/api/summary").status_code == 200
    finally:
        dispose_engine(first)
        dispose_engine(second)
    key_file = tmp_path / "home" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 64

    monkeypatch.setenv("GRIDGIS_SECRET_KEY", "explicit key")
    assert create_app(settings).config["SECRET_KEY"] == "explicit key"


def test_workers_starting_together_make_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDGIS_SECRET_KEY", raising=False)
    monkeypatch.setenv("GRIDGIS_HOME", str(tmp_path))
    start = threading.Barrier(8)
    keys: list[str] = []

    def worker() -> None:
        start.wait()
        keys.append(config.settings().signing_key())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no temporary left


def test_an_unwritable_home_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDGIS_SECRET_KEY", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GRIDGIS_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="set GRIDGIS_SECRET_KEY"):
        config.settings().signing_key()
