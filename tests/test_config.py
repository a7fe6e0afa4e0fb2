"""The typed settings: defaults, the environment, named errors, ``gridgis config``, the README."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridgis import config, config_docs
from gridgis.cli import main
from gridgis.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SECRET_URL = "postgresql://gridgis:pa55-w0rd@db.example:5432/gridgis"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``GRIDGIS_*`` setting in the environment (the test suite's own variables stay)."""
    for name in list(os.environ):
        if name.startswith(config.ENV_PREFIX) and not name.startswith(config.TEST_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_setting_has_its_default(clean: pytest.MonkeyPatch) -> None:
    settings = config.settings()
    assert settings.database_url is None and settings.secret_key is None
    assert (settings.tile_crs, settings.tile_max_zoom, settings.tile_subdomains) == (
        "wgs84",
        18,
        "abc",
    )
    assert settings.max_content_length == 50 * 1024 * 1024
    assert settings.archive_max_bytes == 1024**3
    assert settings.intake_sync_commit is True and settings.secure_cookies is False
    assert settings.intake_cache_seconds == 0 and settings.address_book_seconds == 0
    assert settings.login_limits == config.LoginLimits(
        window_seconds=900, per_account_address=5, per_address=20, per_account=100
    )
    assert settings.home.is_absolute()
    assert {s.source for s in config_docs.describe(settings)} == {"default"}
    for name, field in config.Settings.model_fields.items():  # documented, with allowed values
        assert field.description, name
        assert config.allowed_text(field) != "valid", name


def test_values_come_from_the_environment_stripped(
    clean: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean.setenv("GRIDGIS_TILE_MAX_ZOOM", " 12 ")
    clean.setenv("GRIDGIS_TILE_CRS", "GCJ02")
    clean.setenv("GRIDGIS_SECURE_COOKIES", "1")
    clean.setenv("GRIDGIS_INTAKE_SYNC_COMMIT", "off")
    clean.setenv("GRIDGIS_TILE_URL", "   ")  # blank: unset
    clean.setenv("GRIDGIS_HOME", "relative/home")
    clean.chdir(tmp_path)
    settings = config.settings()
    assert (settings.tile_max_zoom, settings.tile_crs) == (12, "gcj02")
    assert settings.secure_cookies is True and settings.intake_sync_commit is False
    assert settings.tile_url is None
    assert settings.home == tmp_path / "relative" / "home"
    sources = {s.variable: s.source for s in config_docs.describe(settings)}
    assert sources["GRIDGIS_TILE_MAX_ZOOM"] == "environment"
    assert sources["GRIDGIS_TILE_URL"] == sources["GRIDGIS_PASSWORD"] == "default"
    clean.setenv("gridgis_tile_max_zoom", "3")  # names are upper case, as before
    assert config.settings().tile_max_zoom == 12


def test_a_changed_variable_is_obeyed_at_once(clean: pytest.MonkeyPatch) -> None:
    first = config.settings()
    assert config.settings() is first  # nothing changed: the same (immutable) settings
    clean.setenv("GRIDGIS_TILE_MAX_ZOOM", "9")
    assert config.settings().tile_max_zoom == 9
    clean.delenv("GRIDGIS_TILE_MAX_ZOOM")
    assert config.settings().tile_max_zoom == 18
    with pytest.raises(ValueError, match="frozen"):
        first.tile_max_zoom = 3  # type: ignore[misc]


def test_every_bad_value_is_named_with_what_is_allowed(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("GRIDGIS_TILE_MAX_ZOOM", "99")
    clean.setenv("GRIDGIS_SESSION_HOURS", "forever")
    clean.setenv("GRIDGIS_DB_IDLE_PING_SECONDS", "nan")
    clean.setenv("GRIDGIS_INTAKE_SYNC_COMMIT", "maybe")
    clean.setenv("GRIDGIS_TILE_CRS", "bd09")
    with pytest.raises(ConfigError) as caught:
        config.settings()
    assert str(caught.value).split("; ") == [
        "GRIDGIS_DB_IDLE_PING_SECONDS was 'nan' but is expected to be a number of seconds >= 0",
        "GRIDGIS_TILE_CRS was 'bd09' but is expected to be one of ['wgs84', 'gcj02']",
        "GRIDGIS_TILE_MAX_ZOOM was '99' but is expected to be a whole number 1-22",
        "GRIDGIS_INTAKE_SYNC_COMMIT was 'maybe' but is expected to be 'on' or 'off'",
        "GRIDGIS_SESSION_HOURS was 'forever' but is expected to be a number of hours above 0 "
        "and at most 2160 (e.g. 8)",
    ]
    assert isinstance(caught.value, ValueError)  # a builtin base, as every gridgis error
    with pytest.raises(ConfigError, match="'tile_zoom' is not a setting of gridgis"):
        config.settings(tile_zoom=3)


def test_secrets_are_masked(clean: pytest.MonkeyPatch) -> None:
    clean.setenv("GRIDGIS_DATABASE_URL", SECRET_URL)
    clean.setenv("GRIDGIS_SECRET_KEY", "very secret key")
    settings = config.settings()
    assert "pa55" not in repr(settings) and "very secret" not in repr(settings)
    shown = {s.variable: s.value for s in config_docs.describe(settings)}
    assert shown["GRIDGIS_DATABASE_URL"] == "postgresql://gridgis:***@db.example:5432/gridgis"
    assert shown["GRIDGIS_SECRET_KEY"] == "***"
    assert shown["GRIDGIS_TIANDITU_KEY"] is None
    assert settings.signing_key() == "very secret key"
    clean.setenv("GRIDGIS_TIANDITU_KEY", "a wrong key")  # a bad secret is not shown either
    with pytest.raises(ConfigError) as caught:
        config.settings()
    assert str(caught.value) == (
        "GRIDGIS_TIANDITU_KEY was (hidden) but is expected to be 8-64 letters and digits"
    )


# --- gridgis config ------------------------------------------------------------------------------


def test_the_command_prints_every_value_and_its_source(clean: pytest.MonkeyPatch) -> None:
    env = {
        "GRIDGIS_DATABASE_URL": SECRET_URL,
        "GRIDGIS_TIANDITU_KEY": "0123456789abcdef",
        "GRIDGIS_TILE_MAX_ZOOM": "12",
        "GRIDGIS_PASSWORD": "a password of the CLI",
        "GRIDGIS_TILEURL": "/tiles/{z}/{x}/{y}.png",  # a typo
    }
    result = CliRunner().invoke(main, ["config"], env=env)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert set(lines) == {config.env_var(name) for name in config.Settings.model_fields}
    assert lines["GRIDGIS_DATABASE_URL"] == [
        "postgresql://gridgis:***@db.example:5432/gridgis",
        "(environment)",
    ]
    assert lines["GRIDGIS_TIANDITU_KEY"] == lines["GRIDGIS_PASSWORD"] == ["***", "(environment)"]
    assert lines["GRIDGIS_TILE_MAX_ZOOM"] == ["12", "(environment)"]
    assert lines["GRIDGIS_TILE_CRS"] == ["wgs84", "(default)"]
    assert lines["GRIDGIS_INTAKE_SYNC_COMMIT"] == ["on", "(default)"]
    assert lines["GRIDGIS_TILE_URL"] == ["(unset)", "(default)"]
    for secret in ("pa55", "0123456789abcdef", "a password"):
        assert secret not in result.output
    assert "warning: GRIDGIS_TILEURL is set but is no setting of gridgis" in result.stderr


def test_the_command_prints_json_for_scripts(clean: pytest.MonkeyPatch) -> None:
    env = {"GRIDGIS_DATABASE_URL": SECRET_URL, "GRIDGIS_SESSION_HOURS": "2.5"}
    result = CliRunner().invoke(main, ["config", "--json"], env=env)
    assert result.exit_code == 0, result.output
    values = json.loads(result.stdout)
    assert values["GRIDGIS_SESSION_HOURS"] == {"value": 2.5, "source": "environment"}
    assert values["GRIDGIS_DATABASE_URL"]["value"] == (
        "postgresql://gridgis:***@db.example:5432/gridgis"
    )
    assert values["GRIDGIS_SECURE_COOKIES"] == {"value": False, "source": "default"}
    assert values["GRIDGIS_TILE_URL"] == {"value": None, "source": "default"}
    assert values["GRIDGIS_HOME"]["value"] == str(config.settings().home)


def test_the_command_names_a_bad_value(clean: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(main, ["config"], env={"GRIDGIS_TRUSTED_PROXIES": "many"})
    assert result.exit_code == 1
    assert "GRIDGIS_TRUSTED_PROXIES was 'many' but is expected to be a whole number" in (
        result.stderr
    )


# --- the README ----------------------------------------------------------------------------------


def test_the_readme_table_is_the_models() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from config_table import readme_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    table = readme_table((ROOT / "README.md").read_text(encoding="utf-8"))
    assert table == config_docs.markdown_table(), (
        "the README's table of settings differs from gridgis/config.py's model: "
        "run `.venv/bin/python scripts/config_table.py` to write it again"
    )
