"""`gridgis convert`: one coordinate pair from one CRS to another."""

from __future__ import annotations

import click

from gridgis.cli._shared import friendly
from gridgis.crs import CRS_CHOICES_HELP


@click.command("convert")
@click.argument("x", type=float)
@click.argument("y", type=float)
@click.option("--from", "from_crs", required=True, help=f"CRS of X Y: {CRS_CHOICES_HELP}.")
@click.option("--to", "to_crs", default="wgs84", show_default=True, help="CRS to convert to.")
@friendly
def convert_cmd(x: float, y: float, from_crs: str, to_crs: str) -> None:
    """Convert one coordinate pair, e.g. `gridgis convert 119.01 25.44 --from gcj02`."""
    from gridgis import crs

    lon, lat = crs.to_wgs84(x, y, from_crs)
    out_x, out_y = crs.from_wgs84(lon, lat, to_crs)
    click.echo(f"{out_x:.8f} {out_y:.8f}")
