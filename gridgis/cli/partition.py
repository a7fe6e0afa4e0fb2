"""`gridgis partition` and `gridgis validate`: cells drawn and checked on files, no database."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gridgis.cli._shared import echo_lines, friendly, read_with_crs
from gridgis.crs import CRS_CHOICES_HELP


@click.command("partition")
@click.argument(
    "units_file", metavar="UNITS", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--households-field", required=True, help="Field with each unit's households.")
@click.option("--group-field", default=None, help="Field naming each unit's community.")
@click.option("--min", "min_households", type=int, default=300, show_default=True)
@click.option("--max", "max_households", type=int, default=500, show_default=True)
@click.option(
    "--roads",
    "roads_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Roads and barriers to follow.",
)
@click.option("--crs", default=None, help=f"CRS of files that do not say it: {CRS_CHOICES_HELP}.")
@click.option("--encoding", default=None, help="Text encoding of shapefiles (default: detected).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.gpkg: layers cells and units).",
)
@friendly
def partition_cmd(
    units_file: Path,
    households_field: str,
    group_field: str | None,
    min_households: int,
    max_households: int,
    roads_file: Path | None,
    crs: str | None,
    encoding: str | None,
    seed: int,
    out: Path,
) -> None:
    """Draw cells from UNITS (buildings or small areas) on files, with no database.

    Units are never split: every unit lies wholly in one cell. Without
    --group-field the whole file is one community.
    """
    from gridgis.errors import InputError
    from gridgis.io import write_layout
    from gridgis.partition import draw_layout
    from gridgis.partition.footprints import footprint_problems
    from gridgis.partition.outline import outline_of_units

    units = read_with_crs(units_file, crs, encoding)
    for name in (households_field, group_field):
        if name and name not in units.columns:
            raise InputError(
                f"{units_file} has no field {name!r}; its fields are: "
                + ", ".join(c for c in units.columns if c != units.geometry.name)
            )
    roads = None
    if roads_file is not None:
        roads = read_with_crs(roads_file, crs, encoding)
        if roads.crs != units.crs:
            roads = roads.to_crs(units.crs)
    for problem in footprint_problems(units):  # repaired in any case: say so
        click.echo(f"note: {problem}", err=True)
    groups = units[group_field].nunique() if group_field else 1
    with click.progressbar(length=groups, label="partitioning", file=sys.stderr) as bar:
        result = draw_layout(
            units,
            households=households_field,
            group=group_field,
            communities=outline_of_units(units, group=group_field),
            roads=roads,
            min_households=min_households,
            max_households=max_households,
            seed=seed,
            progress=lambda done, total: bar.update(1),
        )
    written = write_layout(result.cells, units, result.assignment, out)
    summary = result.summary()
    click.echo(
        f"{int(summary['n_cells'])} cells from {len(units)} units in {groups} groups; "
        f"{summary['share_within_bounds']:.1%} within {min_households}-{max_households} "
        "households; "
        f"median Polsby-Popper {summary['median_polsby_popper']:.2f}"
    )
    for row in result.cells.itertuples():
        if row.flags:
            click.echo(f"flagged {row.code}: {row.households} households ({', '.join(row.flags)})")
    click.echo("wrote " + " and ".join(str(path) for path in written))


@click.command("validate")
@click.argument(
    "cells_file", metavar="CELLS", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--layer", default=None, help="Layer of CELLS (default: the only one, or 'cells').")
@click.option("--code-field", default="code", show_default=True)
@click.option(
    "--community-field",
    default=None,
    help="Field with each cell's community (default: the code's first 12 digits).",
)
@click.option(
    "--units",
    "units_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Buildings or small areas, to check splits and count households.",
)
@click.option(
    "--households-field",
    default=None,
    help="Households field of UNITS (or of CELLS without units).",
)
@click.option("--min", "min_households", type=int, default=300, show_default=True)
@click.option("--max", "max_households", type=int, default=500, show_default=True)
@click.option("--crs", default=None, help=f"CRS of files that do not say it: {CRS_CHOICES_HELP}.")
@click.option("--encoding", default=None, help="Text encoding of shapefiles (default: detected).")
@friendly
def validate_cmd(
    cells_file: Path,
    layer: str | None,
    code_field: str,
    community_field: str | None,
    units_file: Path | None,
    households_field: str | None,
    min_households: int,
    max_households: int,
    crs: str | None,
    encoding: str | None,
) -> None:
    """Check a cell layout; print every finding and exit 1 when a rule is broken."""
    from gridgis.io import flags_from_text
    from gridgis.partition.validate import validate_layout

    layout = read_with_crs(cells_file, crs, encoding, layer)
    if "flags" in layout.columns:  # written by `gridgis partition` as comma-separated text
        layout = flags_from_text(layout)
    units = read_with_crs(units_file, crs, encoding) if units_file else None
    if units is not None and units.crs != layout.crs:
        units = units.to_crs(layout.crs)
    report = validate_layout(
        layout,
        code=code_field,
        community=community_field,
        units=units,
        households=households_field,
        min_households=min_households,
        max_households=max_households,
        flags="flags" if "flags" in layout.columns else None,
    )
    echo_lines(report.lines())
    if not report.ok:
        sys.exit(1)
