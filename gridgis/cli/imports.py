"""`gridgis import`: boundaries, roads, divisions, cases and inspections from files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridgis.cli._shared import (
    actor,
    echo_lines,
    friendly,
    phase_progress,
    run_register,
    with_options,
)
from gridgis.crs import CRS_CHOICES_HELP

if TYPE_CHECKING:
    from gridgis.intake import IntakeReport


@click.group("import")
def import_() -> None:
    """Load files into the database."""


@import_.command("boundaries")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--level",
    required=True,
    type=click.Choice(["district", "street", "community", "cell"]),
    help="Level of the hierarchy the features are.",
)
@click.option("--crs", "crs", default=None, help=f"CRS of the coordinates: {CRS_CHOICES_HELP}.")
@click.option("--encoding", default=None, help="Text encoding of a shapefile (default: detected).")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option("--code-field", default="code", show_default=True, help="Field with the code.")
@click.option("--name-field", default="name", show_default=True, help="Field with the name.")
@click.option(
    "--parent-field", default=None, help="Field with the parent's code (default: code prefix)."
)
@click.option(
    "--kind-field",
    default=None,
    help="Communities: field with the kind, urban (社区) or rural (村).",
)
@click.option(
    "--min-field",
    default=None,
    help="Communities: field with the fewest households per cell (with --max-field).",
)
@click.option(
    "--max-field",
    default=None,
    help="Communities: field with the most households per cell (with --min-field).",
)
@click.option(
    "--flags-field",
    default=None,
    help="Cells: field with the flags a partitioner gave each cell (;-separated).",
)
@click.option(
    "--allow-topology-errors",
    is_flag=True,
    help="Import even if features stick out of their parent or overlap a sibling.",
)
@click.option("--dry-run", is_flag=True, help="Check everything, change nothing.")
@friendly
def import_boundaries_cmd(
    file: Path,
    level: str,
    crs: str | None,
    encoding: str | None,
    layer: str | None,
    code_field: str,
    name_field: str,
    parent_field: str | None,
    kind_field: str | None,
    min_field: str | None,
    max_field: str | None,
    flags_field: str | None,
    allow_topology_errors: bool,
    dry_run: bool,
) -> None:
    """Import district, street, community or cell boundaries from FILE.

    FILE is a shapefile, zipped or not (its encoding from its .cpg or DBF
    header, else detected: UTF-8, GBK, GB18030), a GeoPackage or GeoJSON.
    Invalid polygons are repaired where that is safe, and reported; parts
    outside the parent, overlaps between siblings and gaps are reported by
    code with their area in m². The import completes or changes nothing.
    A communities' file may carry each one's kind and households per cell
    (--kind-field, --min-field, --max-field), a cells' file each cell's flags.
    """
    from gridgis.boundaries import prepare_boundaries
    from gridgis.db.engine import get_engine
    from gridgis.db.load import import_boundaries
    from gridgis.io import encoding_note, read_vector

    frame = read_vector(file, encoding=encoding, layer=layer)
    if (note := encoding_note(frame)) is not None:  # how a shapefile's text was decoded
        click.echo(f"{file.name}: encoding: {note}")
    prepared = prepare_boundaries(
        frame,
        level=level,
        crs=crs,
        code_field=code_field,
        name_field=name_field,
        parent_field=parent_field,
        kind_field=kind_field,
        min_field=min_field,
        max_field=max_field,
        flags_field=flags_field,
    )
    report = import_boundaries(
        get_engine(),
        prepared,
        level=level,
        allow_topology_errors=allow_topology_errors,
        dry_run=dry_run,
        actor=actor(),
    )
    echo_lines(report.lines())


@import_.command("roads")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--crs",
    "crs",
    default=None,
    help=f"CRS of the coordinates (default: the file's own, else wgs84): {CRS_CHOICES_HELP}.",
)
@click.option(
    "--encoding", default=None, help="Text encoding of a CSV file or shapefile (default: detected)."
)
@click.option("--sheet", default=None, help="Excel sheet (default: the first).")
@click.option("--layer", default=None, help="Layer of a multi-layer file (GeoPackage).")
@click.option(
    "--id-field",
    default=None,
    help="Column with each line's id (default: 编号, 道路编号, id...): stored, and a "
    "second import updates by it.",
)
@click.option(
    "--kind-field",
    default=None,
    help="Column with the kind, arterial or 主干路, local or 支路... (default: 类型, "
    "道路类型, 道路等级, kind).",
)
@click.option(
    "--name-field", default=None, help="Column with the name (default: 名称, 道路名称, 路名, name)."
)
@click.option(
    "--wkt-field",
    default=None,
    help="Column with the line as WKT, for CSV and Excel (default: wkt, geometry).",
)
@click.option(
    "--kind",
    "default_kind",
    default="local",
    show_default=True,
    help="Kind of the lines without one (every line when there is no kind column).",
)
@click.option(
    "--district",
    default=None,
    help="The district (6-digit code) of the file: lines outside it are rejected.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the stored roads of the file's area (--district, else the districts "
    "its lines run into) that the file does not carry.",
)
@click.option(
    "--report",
    "report_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the per-row report CSV (default: <file stem>.report.csv next to FILE).",
)
@click.option("--dry-run", is_flag=True, help="Check everything, report, store nothing.")
@friendly
def import_roads_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import roads and other barriers (railways, rivers, walls) that cells follow.

    Every row is reported: a row that is not a line, has an unknown kind, no id or
    the id of another row, or lies outside --district is rejected with its number
    and reason, and the other rows are stored in one transaction. Lines with an id
    are upserted on it: importing the same file again changes nothing and says so.
    --replace deletes only the roads of the file's area, never another district's.
    """
    from gridgis.registers.roads import import_roads

    run_register(import_roads, file, report_path, options)


@import_.command("divisions")
@click.option(
    "--district",
    "districts",
    multiple=True,
    help="District code to load (repeatable; default: all bundled districts).",
)
@friendly
def import_divisions_cmd(districts: tuple[str, ...]) -> None:
    """Load the official names and codes of streets and communities (no boundaries)."""
    from gridgis.db.engine import get_engine
    from gridgis.db.load import load_divisions

    counts = load_divisions(get_engine(), districts or None, actor=actor())
    click.echo(
        f"loaded {counts['district']} districts, {counts['street']} streets, "
        f"{counts['community']} communities"
    )


def _run_intake(
    importer: Callable[..., IntakeReport],
    file: Path,
    report_path: Path | None,
    options: dict[str, Any],
) -> None:
    """Import FILE with ``importer`` (given the command's options), print and write its report.

    The report's folder is checked first, so that nothing is imported for a report that
    cannot be written; the report CSV goes to ``report_path`` (default: <stem>.report.csv).
    """
    from gridgis.db.engine import get_engine
    from gridgis.intake import default_report_path

    target = report_path or default_report_path(file)
    if not target.parent.is_dir():
        raise click.UsageError(f"cannot write the report to {target}: no folder {target.parent}")
    with phase_progress() as progress:
        report = importer(get_engine(), file, progress=progress, actor=actor(), **options)
    echo_lines(report.lines())
    written = report.write_csv(target)
    click.echo(f"report: {written} (one line per {report.numbering})")


_intake_options = [
    click.option("--crs", "crs", default=None,
                 help=f"CRS of the coordinates (default: the file's own, else wgs84): "
                      f"{CRS_CHOICES_HELP}."),
    click.option("--x-field", default=None,
                 help="Field with x / longitude (default: x, lon, 经度...)."),
    click.option("--y-field", default=None,
                 help="Field with y / latitude (default: y, lat, 纬度...)."),
    click.option("--time-field", default=None,
                 help="Field with the time (default: reported_at/started_at, time, 时间...)."),
    click.option("--encoding", default=None,
                 help="Text encoding: utf-8 or gbk (default: detected strictly for CSV)."),
    click.option("--sheet", default=None, help="Excel sheet (default: the first)."),
    click.option("--layer", default=None, help="Layer of a multi-layer vector file."),
    click.option("--timezone", default="Asia/Shanghai", show_default=True,
                 help="Time zone of times written without one (Asia/Shanghai: +08:00)."),
    click.option("--report", "report_path", default=None,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="Where to write the per-row report CSV (default: <file stem>.report.csv "
                      "next to FILE)."),
    click.option("--dry-run", is_flag=True, help="Check and locate everything, store nothing."),
]  # fmt: skip


@import_.command("cases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_intake_options)
@click.option(
    "--address-field", default=None, help="Field with the address (default: address, 地址)."
)
@click.option(
    "--id-field", default=None, help="Field with the external id (default: external_id, id, 编号)."
)
@click.option(
    "--category-field",
    default=None,
    help="Field with the category, code or Chinese name (default: category, 类别).",
)
@click.option(
    "--description-field",
    default=None,
    help="Field with the description (default: description, 描述).",
)
@click.option("--source-field", default=None, help="Field with the source (default: source, 来源).")
@click.option("--reported-by-field", default=None,
              help="Field with who reported (default: reported_by, 上报人).")  # fmt: skip
@friendly
def import_cases_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import cases from FILE (CSV, .xlsx, GeoJSON, shapefile) with a report on every row.

    Each row is placed by its coordinates, else by its address; rows that
    cannot be placed are stored flagged (outside, gap, swapped, outside_china,
    unmatched), rows that cannot be stored are rejected with their row number
    and reason, and rows whose external id is already stored are skipped as
    duplicates, so importing a file twice adds nothing the second time. One
    transaction: it completes or changes nothing. Exits 0 when the import ran,
    even with rejected rows; 1 when the file cannot be read or the database fails.
    """
    from gridgis.intake import import_cases

    # The options are named as import_cases's keywords (crs, x_field, dry_run...).
    _run_intake(import_cases, file, report_path, options)


@import_.command("inspections")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_intake_options)
@click.option(
    "--id-field",
    default=None,
    help="Field with the external id (default: external_id, id, 编号; not with --track-field).",
)
@click.option(
    "--worker-field",
    default=None,
    help="Field with the grid worker's external id or name (default: worker, 网格员).",
)
@click.option(
    "--end-time-field", default=None, help="Field with the end time (default: ended_at, 结束时间)."
)
@click.option(
    "--track-field",
    default=None,
    help="Rows are GPS fixes: field with the track id (the inspection's external id).",
)
@click.option("--order-field", default=None,
              help="Field ordering the fixes of a track (default: the time).")  # fmt: skip
@friendly
def import_inspections_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import inspection patrols from FILE: points or GPS tracks, with a report.

    Features of GeoJSON/shapefiles (points, lines) or CSV/Excel rows (points)
    are inspections; with --track-field, rows are GPS fixes ordered into one
    track per track id. Each stored inspection is linked to every cell its
    point or track passes through; one touching no cell is stored flagged
    (outside, gap). Same rules as `gridgis import cases`: one transaction,
    duplicates skipped, rejected rows reported.
    """
    from gridgis.intake import import_inspections

    # The options are named as import_inspections's keywords (crs, track_field, dry_run...).
    _run_intake(import_inspections, file, report_path, options)
