"""`gridgis config`: the settings in force."""

from __future__ import annotations

import click

from gridgis import config


@click.command("config")
def config_cmd() -> None:
    """Show the settings in force (GRIDGIS_* environment variables)."""
    settings = config.current()
    for name, value in vars(settings).items():
        click.echo(f"{name}: {value if value is not None else '(unset)'}")
