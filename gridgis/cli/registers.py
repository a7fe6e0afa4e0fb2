"""`gridgis import buildings | households | units`: a district's own registers (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import friendly, run_register
from gridgis.cli.imports import import_
from gridgis.crs import CRS_CHOICES_HELP


def _field(name: str, default: str) -> Any:
    return click.option(
        f"--{name}-field", default=None, help=f"Column with the {name} (default: {default})."
    )


@import_.command("buildings")
@click.argument("file", type=click.Path(exists=True, path_type=Path))
@_field("id", "id, 编号, 楼栋编号...")
@_field("name", "name, 名称...")
@_field("address", "address, 地址...")
@_field("compound", "compound, 小区...")
@_field("households", "households, 户数...")
@_field("residents", "residents, 人口...")
@_field("floors", "floors, 层数, building:levels...")
@_field("height", "height, 高度...")
@_field("x", "x, lon, 经度...")
@_field("y", "y, lat, 纬度...")
@click.option("--crs", default=None,
              help=f"CRS of the coordinates (default: the file's own, else wgs84): "
                   f"{CRS_CHOICES_HELP}.")  # fmt: skip
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet (default: the first).")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option("--estimate-households", "estimate", is_flag=True,
              help="Estimate households where the file has no count: footprint × floors × "
                   "residential share ÷ dwelling size (see `gridgis config`); flagged "
                   "estimated.")  # fmt: skip
@click.option("--report", "report_path", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the per-row report CSV (default: <file stem>"
                   ".report.csv).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Check and place everything, store nothing.")
@friendly
def import_buildings_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import buildings (footprints or points) from FILE, with a report on every row.

    FILE is a shapefile (zipped or not), GeoPackage, GeoJSON, or CSV/Excel with
    coordinates (or WKT) or only addresses; headers in Chinese or English, any
    order. A row with only an address is placed at the stored building of that
    address, or among its house number's, and flagged geocoded; one that cannot
    be placed is rejected with its best candidates. Each building goes to
    the community holding most of it; one straddling two is flagged with both
    codes. Upserts on the id: a second import of the same file changes nothing,
    a changed file updates the buildings and the report says what changed. One
    transaction: it completes or changes nothing.
    """
    from gridgis.registers.buildings import import_buildings

    run_register(import_buildings, file, report_path, options)


@import_.command("households")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_field("address", "address, 地址...")
@_field("households", "households, 户数...; without one, each row is one household")
@_field("id", "id, 编号...")
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet (default: the first).")
@click.option("--report", "report_path", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the per-row report CSV (default: <file stem>"
                   ".report.csv).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Match and count everything, store nothing.")
@friendly
def import_households_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Count households per building from a register without geometry (实有人口/实有房屋).

    Each row's address is matched to a building; the counts (or one per row)
    are summed per building and replace its households, estimated or not.
    Unmatched and ambiguous rows are listed with the reason and the best
    candidates. One transaction: it completes or changes nothing.
    """
    from gridgis.registers.households import import_households

    run_register(import_households, file, report_path, options)


@import_.command("units")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_field("building", "building, 楼栋编号, 楼栋...")
@_field("unit", "unit, 单元, 单元号...")
@_field("households", "households, 户数...")
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet (default: the first).")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option("--report", "report_path", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the per-row report CSV (default: <file stem>"
                   ".report.csv).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Check everything, store nothing.")
@friendly
def import_units_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import the units (单元) of buildings from FILE, with a report on every row.

    One row per unit: the building's id (楼栋编号, as imported with `gridgis import
    buildings`), the unit's number (2, 2单元) and its households (户数). Upserted
    on (building, unit) in one transaction: importing the same file twice changes
    nothing. Rows naming an unknown building or a unit that is not a number are
    rejected with their row number and reason; the rest loads.
    """
    from gridgis.registers.units import import_units

    run_register(import_units, file, report_path, options)
