"""`gridgis config`: the settings in force."""

from __future__ import annotations

import click

from gridgis import config_docs
from gridgis.cli._shared import friendly


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
@friendly
def config_cmd(as_json: bool) -> None:
    """Show every setting in force: its value (secrets masked) and where it came from.

    Settings are GRIDGIS_* environment variables; unset ones have their default.
    """
    import json

    shown = config_docs.describe()
    if as_json:
        values = {s.variable: {"value": s.value, "source": s.source} for s in shown}
        click.echo(json.dumps(values, ensure_ascii=False, indent=2))
    else:
        width = max(len(s.variable) for s in shown)
        for s in shown:
            value = "(unset)" if s.value is None else s.value
            if isinstance(value, bool):
                value = "on" if value else "off"
            click.echo(f"{s.variable:<{width}}  {value}  ({s.source})")
    for variable in config_docs.unknown_variables():
        click.echo(f"warning: {variable} is set but is no setting of gridgis (ignored)", err=True)
