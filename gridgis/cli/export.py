"""`gridgis export`: cells, cases, inspections, statistics or registers (buildings) to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import actor, friendly, row_bar, with_options
from gridgis.crs import CRS_CHOICES_HELP


@click.group("export")
def export_group() -> None:
    """Export cells, cases, inspections or per-area statistics to a file.

    Formats: shp (a zip with .shp .shx .dbf .prj .cpg and fields.csv, the
    full names of the 10-character DBF field names), gpkg, geojson, csv
    (UTF-8 with BOM, or GBK), xlsx. See `gridgis.export` for the columns.
    """


_area_options = [
    click.option("--district", default=None,
                 help="Only this district (6 digits), when the database holds several."),
    click.option("--street", default=None, help="Only this street office (9 digits)."),
    click.option("--community", default=None, help="Only this community (12 digits)."),
]  # fmt: skip

_export_options = [
    click.option("--format", "fmt", required=True,
                 type=click.Choice(["shp", "gpkg", "geojson", "csv", "xlsx"]),
                 help="File format (shp: a .zip)."),
    click.option("--encoding", default="utf-8", show_default=True,
                 type=click.Choice(["utf-8", "gbk"]),
                 help="Text encoding of shapefiles and CSV files."),
    click.option("--crs", default="wgs84", show_default=True,
                 help=f"Coordinates to write: {CRS_CHOICES_HELP}."),
    *_area_options,
    click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="First day (YYYY-MM-DD, China Standard Time)."),
    click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="Last day, included."),
    click.option("-o", "--output", required=True,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="The file to write (a .zip for shp)."),
]  # fmt: skip


def _run_export(what: str, level: str = "cell", **options: Any) -> None:
    import datetime as dt

    from gridgis.db.engine import get_engine
    from gridgis.export import export

    if sum(bool(options[key]) for key in ("district", "street", "community")) > 1:
        raise click.UsageError("give at most one of --district, --street or --community")
    since = options["date_from"].date() if options["date_from"] is not None else None
    until = (
        options["date_to"].date() + dt.timedelta(days=1) if options["date_to"] is not None else None
    )
    result = export(
        get_engine(),
        what,
        options["fmt"],
        options["output"],
        district=options["district"],
        street=options["street"],
        community=options["community"],
        since=since,
        until=until,
        crs=options["crs"],
        encoding=options["encoding"],
        level=level,
        progress=row_bar(f"writing {what}"),
    )
    layers = ", ".join(f"{name} {count}" for name, count in result.layers.items())
    click.echo(
        f"wrote {result.rows} rows ({layers}) to {options['output']} "
        f"[{result.format}, {result.crs}, {result.encoding}]"
    )
    if result.format == "shp":
        click.echo("files: " + " ".join(result.files))
        renamed = [f for f in result.fields if f.short != f.full]
        if renamed:
            click.echo(
                "shortened field names (also in fields.csv): "
                + ", ".join(f"{f.short}={f.full}" for f in renamed)
            )
    if result.truncated:
        limit = "254 bytes (DBF)" if result.format == "shp" else "32,767 characters (Excel)"
        click.echo(f"{result.truncated} text values were cut to the limit of {limit}")


@export_group.command("cells")
@with_options(_export_options)
@friendly
def export_cells_cmd(**options: Any) -> None:
    """The active grid cells with codes, names, households, workers and branches."""
    _run_export("cells", **options)


@export_group.command("cases")
@with_options(_export_options)
@friendly
def export_cases_cmd(**options: Any) -> None:
    """Cases (points) filed in the area and reported in the period."""
    _run_export("cases", **options)


@export_group.command("inspections")
@with_options(_export_options)
@friendly
def export_inspections_cmd(**options: Any) -> None:
    """Inspection patrols started in the period: points and tracks."""
    _run_export("inspections", **options)


@export_group.command("stats")
@with_options(_export_options)
@click.option(
    "--level",
    type=click.Choice(["cell", "community", "street"]),
    default="cell",
    show_default=True,
    help="One row per cell, community or street office.",
)
@friendly
def export_stats_cmd(level: str, **options: Any) -> None:
    """Per-area statistics: households, cases by category, 按期结案率, inspections, hotspots."""
    _run_export("stats", level=level, **options)


# --- registers: files their importers read back (issue 16, point 9) ----------------------------

_register_options = [
    click.option("--format", "fmt", required=True,
                 type=click.Choice(["gpkg", "geojson", "csv", "xlsx"]),
                 help="File format (all read back by `gridgis import`)."),
    click.option("--encoding", default="utf-8", show_default=True,
                 type=click.Choice(["utf-8", "gbk"]), help="Text encoding of a CSV file."),
    click.option("--crs", default="wgs84", show_default=True,
                 help=f"Coordinates to write: {CRS_CHOICES_HELP} (import with the same --crs)."),
    *_area_options,
    click.option("--reveal-person-data", "reveal", is_flag=True,
                 help="Write people's names, phones and id numbers unmasked (registers "
                      "with person data; default masked)."),
    click.option("-o", "--output", default=None,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="The file to write (default: <register>.<format> here)."),
]  # fmt: skip


_READ_BACK_BY: dict[str, str | None] = {
    "organisations": "branches",
    "leaders": None,
    "units": "resident-units",
    "resident-units": "resident-units",
}
"""The importer of a register exported under another name (``None``: none reads it back)."""


def _run_register_export(what: str, **options: Any) -> None:
    from gridgis.db.engine import get_engine
    from gridgis.export import export

    if sum(bool(options[key]) for key in ("district", "street", "community")) > 1:
        raise click.UsageError("give at most one of --district, --street or --community")
    output = options["output"] or Path(f"{what}.{options['fmt']}")
    result = export(
        get_engine(),
        what,
        options["fmt"],
        output,
        district=options["district"],
        street=options["street"],
        community=options["community"],
        crs=options["crs"],
        encoding=options["encoding"],
        reveal=options["reveal"],
        actor=actor(),
        progress=row_bar(f"writing {what}"),
    )
    importer = _READ_BACK_BY.get(what, what)
    click.echo(
        f"wrote {result.rows} {what} to {output} [{result.format}, {result.crs}, "
        f"{result.encoding}]"
        + (
            ""
            if importer is None
            else f"; read it back with `gridgis import {importer} {output}`"
            + ("" if result.crs == "wgs84" else f" --crs {result.crs}")
        )
    )

    if result.truncated:
        click.echo(f"{result.truncated} text values were cut to 32,767 characters (Excel)")


@export_group.command("buildings")
@with_options(_register_options)
@friendly
def export_buildings_cmd(**options: Any) -> None:
    """Buildings as imported: ids, names, addresses, households (and whether estimated),
    residents, floors, height, flags, community and cell codes, footprints or points.

    `gridgis import buildings` reads the file back: into another database, or
    into the same one, where every row is unchanged.
    """
    _run_register_export("buildings", **options)


@export_group.command("facilities")
@with_options(_register_options)
@friendly
def export_facilities_cmd(**options: Any) -> None:
    """Service facilities as imported: ids, names, kinds, addresses, community codes
    and points.

    `gridgis import facilities` reads the file back: into another database, or
    into the same one, where every row is unchanged.
    """
    _run_register_export("facilities", **options)


@export_group.command("workers")
@with_options(_register_options)
@friendly
def export_workers_cmd(**options: Any) -> None:
    """Grid workers and the other people of the grid as imported: ids, names, phones,
    id numbers, roles and what each serves (cells, buildings, units, communities).

    Names, phones and id numbers are masked unless --reveal-person-data (recorded in
    the audit trail). `gridgis import workers` reads the file back, masked or not: a
    masked value that is exactly the masked form of the stored one keeps the stored
    one. Formats: gpkg, csv, xlsx.
    """
    _run_register_export("workers", **options)


@export_group.command("branches")
@with_options(_register_options)
@friendly
def export_branches_cmd(**options: Any) -> None:
    """Party organisations as imported: ids, names, kinds, parents, addresses,
    secretaries, members, the cells each covers, community codes and points.

    Secretaries' names and phones are masked unless --reveal-person-data (recorded in
    the audit trail); `gridgis import branches` reads the file back either way.
    """
    _run_register_export("branches", **options)


@export_group.command("organisations")
@with_options(_register_options)
@friendly
def export_organisations_cmd(**options: Any) -> None:
    """The party organisation tree (党委, 党总支, 党支部, 党小组): ids, names, kinds,
    parents, addresses, secretaries, members, the cells and buildings each covers,
    community codes and points (the branches' export under the name of issue 19).

    Secretaries' names and phones are masked unless --reveal-person-data (recorded in
    the audit trail); `gridgis import branches` reads the file back either way.
    """
    _run_register_export("organisations", **options)


@export_group.command("leaders")
@with_options(_register_options)
@friendly
def export_leaders_cmd(**options: Any) -> None:
    """网格长, 楼栋长 and 单元长: the coverage of each community (cells with a 网格长,
    shares of buildings with a 楼栋长 and of units with a 单元长, the count of each
    role) and the leaders with the cells, buildings and units they serve.

    A GeoPackage has two layers (leader_coverage with the communities' outlines,
    leaders); CSV and Excel one table, the communities' rows first. Names and phones
    are masked unless --reveal-person-data (recorded in the audit trail). Formats:
    gpkg, csv, xlsx.
    """
    _run_register_export("leaders", **options)


@export_group.command("members")
@with_options(_register_options)
@friendly
def export_members_cmd(**options: Any) -> None:
    """Party members as imported: ids, names, sex, birth years, dates joined,
    organisations, kinds, addresses, phones, id numbers, 报到, 党员中心户, the community
    and cell each lives in, and their building's point (gpkg).

    Names, phones, id numbers, addresses and birth years are masked unless
    --reveal-person-data (recorded in the audit trail); `gridgis import members` reads
    the file back either way. Formats: gpkg, csv, xlsx.
    """
    _run_register_export("members", **options)
