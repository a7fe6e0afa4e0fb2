"""The ``gridgis`` command: parses, calls the library, prints. No logic of its own."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gridgis import __version__, config
from gridgis.crs import CRS_CHOICES_HELP
from gridgis.errors import GridGISError

if TYPE_CHECKING:
    from gridgis.intake import IntakeReport

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(func: F) -> F:
    """Turn gridgis errors into a message and exit code 1 instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GridGISError as exc:
            report = getattr(exc, "report", None)
            if report is not None:
                for line in report.lines():
                    click.echo(line, err=True)
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _actor() -> str:
    """``cli:<login>``: who changes the data, for the audit trail."""
    from gridgis.audit import cli_actor

    return cli_actor()


@click.group()
@click.version_option(__version__, prog_name="gridgis")
def main() -> None:
    """gridgis: GIS for grid-based community governance (网格化管理).

    The database is GRIDGIS_DATABASE_URL when set, else gridgis's own local
    PostgreSQL + PostGIS cluster in GRIDGIS_HOME, started on demand.
    """


# -- database ---------------------------------------------------------------------


@main.group()
def db() -> None:
    """The database: status, start, stop, upgrade, reset."""


def _local_cluster_or_none() -> Any:
    from gridgis.db.cluster import LocalCluster

    return None if config.database_url() else LocalCluster()


@db.command("status")
@_friendly
def db_status() -> None:
    """Say where the database is, whether it runs and which schema it has."""
    from gridgis.db import migrate
    from gridgis.db.engine import check_connection, get_engine, normalise_url
    from gridgis.db.queries import count_areas

    cluster = _local_cluster_or_none()
    if cluster is None:
        click.echo(f"database: {normalise_url(config.database_url() or '')} (GRIDGIS_DATABASE_URL)")
    else:
        status = cluster.status()
        click.echo(f"database: local cluster in {status.data_dir}")
        click.echo(f"  initialized: {'yes' if status.initialized else 'no'}")
        click.echo(
            f"  running: {'yes, pid ' + str(status.pid) if status.running else 'no'}"
            f" (as user {status.run_as}, socket in {status.socket_dir})"
        )
        if not status.running:
            click.echo("  (started on demand by any command that needs it, or `gridgis db start`)")
            return
    engine = get_engine()
    click.echo(f"  postgis: {check_connection(engine)}")
    current, head = migrate.current_revision(engine), migrate.head_revision()
    state = "up to date" if current == head else "run `gridgis db upgrade`"
    click.echo(f"  schema: {current or 'none'} (newest {head}; {state})")
    if current is not None:
        counts = count_areas(engine)
        click.echo("  rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@db.command("start")
@_friendly
def db_start() -> None:
    """Start the local cluster (creating it on first use)."""
    cluster = _local_cluster_or_none()
    if cluster is None:
        raise click.UsageError("GRIDGIS_DATABASE_URL is set: that server is not gridgis's to start")
    started = cluster.start()
    click.echo(
        ("started" if started else "already running") + f": {cluster.data_dir} ({cluster.url()})"
    )


@db.command("stop")
@_friendly
def db_stop() -> None:
    """Stop the local cluster."""
    from gridgis.db.engine import dispose_engines

    cluster = _local_cluster_or_none()
    if cluster is None:
        raise click.UsageError("GRIDGIS_DATABASE_URL is set: that server is not gridgis's to stop")
    dispose_engines()
    click.echo("stopped" if cluster.stop() else "not running")


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Schema revision to reach.")
@_friendly
def db_upgrade(revision: str) -> None:
    """Create or update the schema (Alembic migrations)."""
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine

    engine = get_engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    click.echo(f"schema: {before or 'none'} -> {after}")


@db.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def db_reset(yes: bool) -> None:
    """Drop every gridgis table and create the schema again, empty."""
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine

    engine = get_engine()
    target = engine.url.render_as_string(hide_password=True)
    if not yes:
        click.confirm(f"Delete all gridgis data in {target}?", abort=True)
    migrate.reset(engine)
    click.echo(f"reset: {target} now has an empty schema ({migrate.current_revision(engine)})")


# -- imports ----------------------------------------------------------------------


@main.group("import")
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
    "--allow-topology-errors",
    is_flag=True,
    help="Import even if features stick out of their parent or overlap a sibling.",
)
@click.option("--dry-run", is_flag=True, help="Check everything, change nothing.")
@_friendly
def import_boundaries_cmd(
    file: Path,
    level: str,
    crs: str | None,
    encoding: str | None,
    layer: str | None,
    code_field: str,
    name_field: str,
    parent_field: str | None,
    allow_topology_errors: bool,
    dry_run: bool,
) -> None:
    """Import district, street, community or cell boundaries from FILE.

    FILE is a shapefile, zipped or not (its encoding from its .cpg or DBF
    header, else detected: UTF-8, GBK, GB18030), a GeoPackage or GeoJSON.
    Invalid polygons are repaired where that is safe, and reported; parts
    outside the parent, overlaps between siblings and gaps are reported by
    code with their area in m². The import completes or changes nothing.
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
    )
    report = import_boundaries(
        get_engine(),
        prepared,
        level=level,
        allow_topology_errors=allow_topology_errors,
        dry_run=dry_run,
        actor=_actor(),
    )
    for line in report.lines():
        click.echo(line)


@import_.command("roads")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", "crs", default=None, help=f"CRS of the coordinates: {CRS_CHOICES_HELP}.")
@click.option("--encoding", default=None, help="Text encoding of a shapefile (default: detected).")
@click.option("--kind-field", default=None, help="Field with the kind (arterial, local, river...).")
@click.option("--name-field", default=None, help="Field with the name.")
@click.option("--kind", "default_kind", default="local", show_default=True,
              help="Kind of every line when there is no kind field.")  # fmt: skip
@click.option("--replace", is_flag=True, help="Delete the stored roads first.")
@_friendly
def import_roads_cmd(
    file: Path,
    crs: str | None,
    encoding: str | None,
    kind_field: str | None,
    name_field: str | None,
    default_kind: str,
    replace: bool,
) -> None:
    """Import roads and other barriers (railways, rivers, walls) that cells follow."""
    from gridgis import crs as crs_mod
    from gridgis.db.engine import get_engine
    from gridgis.db.load import import_roads

    frame = _read_with_crs(file, crs, encoding)
    report = import_roads(
        get_engine(),
        crs_mod.to_wgs84_frame(frame),
        kind_field=kind_field,
        name_field=name_field,
        default_kind=default_kind,
        replace=replace,
        actor=_actor(),
    )
    click.echo(f"roads: {report.rows_read} read, {len(report.inserted)} stored")


@import_.command("divisions")
@click.option(
    "--district",
    "districts",
    multiple=True,
    help="District code to load (repeatable; default: all bundled districts).",
)
@_friendly
def import_divisions_cmd(districts: tuple[str, ...]) -> None:
    """Load the official names and codes of streets and communities (no boundaries)."""
    from gridgis.db.engine import get_engine
    from gridgis.db.load import load_divisions

    counts = load_divisions(get_engine(), districts or None, actor=_actor())
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
    report = importer(
        get_engine(),
        file,
        progress=lambda message: click.echo(f"... {message}", err=True),
        actor=_actor(),
        **options,
    )
    for line in report.lines():
        click.echo(line)
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


def _with_intake_options(func: F) -> F:
    for option in reversed(_intake_options):
        func = option(func)
    return func


@import_.command("cases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_with_intake_options
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
@_friendly
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
@_with_intake_options
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
@_friendly
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


# -- cells in the database -------------------------------------------------------------


@main.group()
def cells() -> None:
    """Grid cells in the database: draw, adjust, history."""


def _scope(community: str | None, street: str | None, district: str | None) -> str:
    given = [v for v in (community, street, district) if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --community, --street or --district")
    return given[0]


_scope_options = [
    click.option("--community", default=None, help="A community's 12-digit code."),
    click.option("--street", default=None, help="A street office's 9-digit code."),
    click.option("--district", default=None, help="A district's 6-digit code."),
    click.option("--min", "min_households", type=int, default=None,
                 help="Fewest households per cell (default: the community's, else 300)."),
    click.option("--max", "max_households", type=int, default=None,
                 help="Most households per cell (default: the community's, else 500)."),
    click.option("--seed", type=int, default=0, show_default=True, help="Random seed."),
    click.option("--dry-run", is_flag=True, help="Compute and show the diff, publish nothing."),
    click.option("--by", "published_by", default=None,
                 help="Who publishes, recorded on the layout (default: cli:<login>, as in the "
                      "audit trail)."),
]  # fmt: skip


def _with_scope(func: F) -> F:
    for option in reversed(_scope_options):
        func = option(func)
    return func


def _run_layouts(
    method: str,
    prefix: str,
    min_households: int | None,
    max_households: int | None,
    seed: int,
    dry_run: bool,
    published_by: str | None,
) -> None:
    """Compute a new layout for each community under ``prefix``, then publish all at once."""
    from gridgis.db.engine import get_engine
    from gridgis.db.layout import communities_in, publish_many
    from gridgis.editing import NothingToDrawError, propose_layout

    engine = get_engine()
    codes = communities_in(engine, prefix)
    layouts = []
    flagged: list[str] = []
    skipped: list[str] = []
    findings: list[str] = []
    with click.progressbar(
        codes, label=f"{method} {len(codes)} communities", file=sys.stderr
    ) as bar:
        for code in bar:
            try:
                proposal = propose_layout(
                    engine,
                    code,
                    method=method,
                    seed=seed,
                    min_households=min_households,
                    max_households=max_households,
                )
            except NothingToDrawError as exc:
                skipped.append(str(exc))
                continue
            flagged.extend(proposal.flagged())
            if not proposal.report.ok:
                findings.extend(proposal.report.lines())
            layouts.append(
                (code, proposal.cells[["code", "flags", "geometry"]], proposal.base_version)
            )
    diffs = publish_many(
        engine,
        layouts,
        method=method,
        actor=_actor(),
        published_by=published_by,
        dry_run=dry_run,
    )
    for diff in diffs:
        click.echo(diff.line())
    for line in skipped:
        click.echo(f"skipped {line}")
    for line in flagged:
        click.echo(f"flagged {line}")
    for line in findings:
        click.echo(f"validation: {line}")
    moved = sum(d.households_moved for d in diffs)
    total = sum(d.households_total for d in diffs)
    click.echo(
        f"{'would publish' if dry_run else 'published'} "
        f"{sum(d.version is not None for d in diffs)} of {len(diffs)} communities; "
        f"{sum(len(d.added) for d in diffs)} cells added, "
        f"{sum(len(d.retired) for d in diffs)} retired, "
        f"{sum(len(d.unchanged) for d in diffs)} unchanged; "
        f"{moved} of {total} households moved"
        + (" (dry run: nothing was changed)" if dry_run else "")
    )


@cells.command("draw")
@_with_scope
@_friendly
def cells_draw(
    community: str | None,
    street: str | None,
    district: str | None,
    min_households: int | None,
    max_households: int | None,
    seed: int,
    dry_run: bool,
    published_by: str | None,
) -> None:
    """Draw the cells of a community, street or district and publish them as a new version.

    Cells that come out the same as before keep their codes; the others get
    fresh codes, never a retired one. Every community is published in one
    transaction; a community whose layout changed meanwhile is refused.
    """
    prefix = _scope(community, street, district)
    _run_layouts("draw", prefix, min_households, max_households, seed, dry_run, published_by)


@cells.command("adjust")
@_with_scope
@_friendly
def cells_adjust(
    community: str | None,
    street: str | None,
    district: str | None,
    min_households: int | None,
    max_households: int | None,
    seed: int,
    dry_run: bool,
    published_by: str | None,
) -> None:
    """Split or merge only the cells whose households now break the bounds (动态调整)."""
    prefix = _scope(community, street, district)
    _run_layouts("adjust", prefix, min_households, max_households, seed, dry_run, published_by)


@cells.command("history")
@click.option("--community", required=True, help="A community's 12-digit code.")
@_friendly
def cells_history(community: str) -> None:
    """List the published layout versions of a community."""
    from gridgis.db.engine import get_engine
    from gridgis.db.layout import layout_history

    rows = layout_history(get_engine(), community)
    if not rows:
        click.echo(f"community {community} has no published layout")
    for row in rows:
        click.echo(
            f"version {row['version']} {row['method']} {row['published_at']:%Y-%m-%d %H:%M} "
            f"by {row['published_by'] or '-'}: {row['added']} cells added, {row['closed']} closed"
        )


# -- cells on files ------------------------------------------------------------------


def _read_with_crs(
    path: Path, crs: str | None, encoding: str | None, layer: str | None = None
) -> Any:
    """Read a vector file; --crs names the CRS of a file that lacks one (or GCJ-02/BD-09)."""
    from gridgis import crs as crs_mod
    from gridgis.io import encoding_note, read_vector

    frame = read_vector(path, encoding=encoding, layer=layer)
    if (note := encoding_note(frame)) is not None:  # how a shapefile's text was decoded
        click.echo(f"{path.name}: encoding: {note}")
    if crs is None:
        if frame.crs is None:
            raise click.UsageError(f"{path} does not say its CRS: pass --crs ({CRS_CHOICES_HELP})")
        return frame
    spec = crs_mod.parse_crs(crs)
    if spec.is_obfuscated:
        return crs_mod.to_wgs84_frame(frame, spec, allow_override=True)
    if frame.crs is None:
        return frame.set_crs(spec.crs)
    return (
        crs_mod.to_wgs84_frame(frame, spec) if not crs_mod.parse_crs(frame.crs).is_wgs84 else frame
    )


def _output_paths(out: Path) -> tuple[Path, str | None, Path, str | None]:
    """Where cells and the unit→cell table go: two layers of one GeoPackage, else two files."""
    if out.suffix.lower() == ".gpkg":
        return out, "cells", out, "units"
    return out, None, out.with_name(out.stem + "_units" + out.suffix), None


@main.command("partition")
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
@_friendly
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
    import pyogrio

    from gridgis.errors import InputError
    from gridgis.partition import draw_layout
    from gridgis.partition.footprints import footprint_problems
    from gridgis.partition.outline import outline_of_units

    units = _read_with_crs(units_file, crs, encoding)
    for name in (households_field, group_field):
        if name and name not in units.columns:
            raise InputError(
                f"{units_file} has no field {name!r}; its fields are: "
                + ", ".join(c for c in units.columns if c != units.geometry.name)
            )
    roads = None
    if roads_file is not None:
        roads = _read_with_crs(roads_file, crs, encoding)
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
    cells_path, cells_layer, units_path, units_layer = _output_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    table = result.cells.copy()
    table["flags"] = table["flags"].map(lambda f: ",".join(f))
    pyogrio.write_dataframe(table, cells_path, layer=cells_layer)
    mapping = units.copy()
    mapping["cell_code"] = result.assignment.reindex(units.index)
    pyogrio.write_dataframe(mapping, units_path, layer=units_layer, append=cells_path == units_path)
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
    click.echo(f"wrote {cells_path}" + (f" and {units_path}" if units_path != cells_path else ""))


@main.command("validate")
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
@_friendly
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
    from gridgis.partition.validate import validate_layout

    layout = _read_with_crs(cells_file, crs, encoding, layer)
    if "flags" in layout.columns:  # written by `gridgis partition` as comma-separated text
        layout["flags"] = layout["flags"].map(
            lambda f: [x for x in str(f or "").split(",") if x] if not isinstance(f, list) else f
        )
    units = _read_with_crs(units_file, crs, encoding) if units_file else None
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
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        sys.exit(1)


# -- demo ---------------------------------------------------------------------------

DEMO_DISTRICTS = {"350304": "荔城区", "211403": "龙港区", "430111": "雨花区", "220402": "龙山区"}


@main.command("demo")
@click.option(
    "--district",
    type=click.Choice(sorted(DEMO_DISTRICTS)),
    default="350304",
    show_default=True,
    help="Seed district: " + ", ".join(f"{c} {n}" for c, n in DEMO_DISTRICTS.items()) + ".",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed; the same seed loads the same district.",
)
@click.option(
    "--scale",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of the real population, cases and patrols to generate "
    "(e.g. 0.05 for a quick look; the map stays the same).",
)
@click.option("--replace", is_flag=True, help="Delete the district's data first and load again.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the cell engine (default: up to 4, by CPU).",
)
@_friendly
def demo_cmd(district: str, seed: int, scale: float, replace: bool, workers: int | None) -> None:
    """Load a demo district into the database.

    The real outline and official names of its street offices and
    communities, with generated roads, buildings, grid cells, grid workers,
    party branches, service facilities, a year of cases and patrols. Runs
    once: when the district already has data it says so and changes nothing
    (use --replace). Everything is loaded in one transaction.
    """
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine
    from gridgis.demo import run_demo

    engine = get_engine()
    migrate.upgrade(engine)
    state: dict[str, Any] = {"phase": None, "bar": None}

    def progress(phase: str, done: int, total: int) -> None:
        if phase != state["phase"]:
            if state["bar"] is not None:
                state["bar"].render_finish()
            state["phase"] = phase
            state["bar"] = click.progressbar(length=total, label=f"{phase:<12}", file=sys.stderr)
            state["bar"].render_progress()
        bar = state["bar"]
        bar.update(done - bar.pos)

    summary = run_demo(
        engine,
        district=district,
        seed=seed,
        scale=scale,
        replace=replace,
        workers=workers,
        progress=progress,
    )
    if state["bar"] is not None:
        state["bar"].render_finish()
    for line in summary.lines():
        click.echo(line)


# -- coordinates --------------------------------------------------------------------


@main.command("convert")
@click.argument("x", type=float)
@click.argument("y", type=float)
@click.option("--from", "from_crs", required=True, help=f"CRS of X Y: {CRS_CHOICES_HELP}.")
@click.option("--to", "to_crs", default="wgs84", show_default=True, help="CRS to convert to.")
@_friendly
def convert_cmd(x: float, y: float, from_crs: str, to_crs: str) -> None:
    """Convert one coordinate pair, e.g. `gridgis convert 119.01 25.44 --from gcj02`."""
    from gridgis import crs

    lon, lat = crs.to_wgs84(x, y, from_crs)
    out_x, out_y = crs.from_wgs84(lon, lat, to_crs)
    click.echo(f"{out_x:.8f} {out_y:.8f}")


# -- web app ------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@_friendly
def serve_cmd(host: str, port: int, debug: bool) -> None:
    """Run the web app."""
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine
    from gridgis.web import create_app
    from gridgis.web.logs import WerkzeugRequestHandler, configure_logging

    configure_logging()  # one structured line per request on standard error
    engine = get_engine()
    if migrate.current_revision(engine) != migrate.head_revision():
        raise click.ClickException(
            "the database schema is not up to date: run `gridgis db upgrade`"
        )
    app = create_app()
    click.echo(f"gridgis web app on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(
        host=host,
        port=port,
        debug=debug,
        use_reloader=False,
        request_handler=WerkzeugRequestHandler,  # API keys in URLs are masked in its log
    )


@main.command("config")
def config_cmd() -> None:
    """Show the settings in force (GRIDGIS_* environment variables)."""
    settings = config.current()
    for name, value in vars(settings).items():
        click.echo(f"{name}: {value if value is not None else '(unset)'}")


# -- cases ----------------------------------------------------------------------------


@main.group("cases")
def case_group() -> None:
    """Cases (事件): show one, move it on, figures per area, category deadlines."""


def _iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Read an ISO 8601 time option (without a zone: China Standard Time, +08:00)."""
    from gridgis.errors import InputError
    from gridgis.times import parse_time

    if value is None:
        return None
    try:
        return parse_time(value, field=param.name or "time", plausible=False)
    except InputError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2025-03-01T09:30 or "
            "2025-03-01T09:30:00+08:00",
            ctx=ctx,
            param=param,
        ) from None


@case_group.command("show")
@click.argument("case_id", metavar="ID", type=int)
@_friendly
def case_show_cmd(case_id: int) -> None:
    """Show one case: where, what, and each step with its time and actor."""
    from gridgis.cases import get_case
    from gridgis.db.engine import get_engine

    case = get_case(get_engine(), case_id)
    width = max(len(key) for key in case)
    for key, value in case.items():
        click.echo(f"{key:<{width}}  {'-' if value is None else value}")


@case_group.command("advance")
@click.argument("case_id", metavar="ID", type=int)
@click.argument("step")
@click.option("--actor", required=True, help="Who takes the step (a person or an office).")
@click.option(
    "--at",
    "at",
    default=None,
    callback=_iso_time,
    help="When, ISO 8601 (default now; without a zone: China Standard Time).",
)
@_friendly
def case_advance_cmd(case_id: int, step: str, actor: str, at: Any) -> None:
    """Move case ID on to its next STEP, or reject it.

    STEP is registered 立案, dispatched 派遣, handled 处置, verified 核查,
    closed 结案 (one after the other), or rejected 作废 (from any open step).
    """
    from gridgis.cases import advance_case
    from gridgis.db.engine import get_engine
    from gridgis.db.models import CASE_STEP_NAMES_ZH

    case = advance_case(get_engine(), case_id, step, actor=actor, at=at)
    now = case["step"]
    click.echo(
        f"case {case['id']}: {now} ({CASE_STEP_NAMES_ZH[now]}) at {case[now + '_at']} "
        f"by {case[now + '_by']}; deadline {case['deadline']}"
        + (" (overdue)" if case["overdue"] else "")
    )


@case_group.command("stats")
@click.option(
    "--level",
    type=click.Choice(["cell", "community", "street"]),
    default="cell",
    show_default=True,
    help="Figures per cell, community or street office.",
)
@click.option(
    "--layout",
    type=click.Choice(["filed", "current"]),
    default="filed",
    show_default=True,
    help="filed: the area each case was filed in; current: today's cells.",
)
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day of report (YYYY-MM-DD, China Standard Time).",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day of report, included.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a CSV file (UTF-8 with BOM, opens in Excel) instead of printing.",
)
@_friendly
def case_stats_cmd(
    level: str, layout: str, date_from: Any, date_to: Any, output: Path | None
) -> None:
    """结案率 and 按期结案率 per area: cases, closed, on time, open past deadline."""
    import datetime as dt

    from gridgis.cases import case_stats
    from gridgis.db.engine import get_engine
    from gridgis.sheets import safe_csv_frame

    until = date_to + dt.timedelta(days=1) if date_to is not None else None
    stats = case_stats(get_engine(), level=level, layout=layout, since=date_from, until=until)
    if output is not None:
        safe_csv_frame(stats).to_csv(output, index=False, encoding="utf-8-sig")
        click.echo(f"wrote {len(stats)} rows to {output}")
        return
    shown = stats.copy()
    for column in ("closure_rate", "on_time_rate"):
        shown[column] = shown[column].map(lambda v: "-" if v != v else f"{v:.1%}")
    shown["median_hours_to_close"] = shown["median_hours_to_close"].map(
        lambda v: "-" if v != v else f"{v:.1f}"
    )
    shown["code"] = shown["code"].fillna("(none)")
    shown["name"] = shown["name"].fillna("-")
    click.echo(shown.to_string(index=False))


@case_group.command("deadlines")
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="CATEGORY=HOURS",
    help="Change a category's time limit (code or Chinese name); repeatable.",
)
@_friendly
def case_deadlines_cmd(changes: tuple[str, ...]) -> None:
    """Show the time limit of each case category, or change some (--set fire_safety=48)."""
    from gridgis.cases import case_categories, set_deadline_hours
    from gridgis.db.engine import get_engine

    parsed: list[tuple[str, int]] = []
    for change in changes:
        name, sep, hours_text = change.partition("=")
        if not sep or not name.strip() or not hours_text.strip().isdigit():
            raise click.BadParameter(
                f"{change!r} is not CATEGORY=HOURS (e.g. fire_safety=48)", param_hint="--set"
            )
        parsed.append((name.strip(), int(hours_text)))
    engine = get_engine()
    if parsed:
        with engine.begin() as conn:  # all changes or none
            for category, hours in parsed:
                set_deadline_hours(conn, category, hours, actor=_actor())
    for row in case_categories(engine):
        click.echo(
            f"{row['code']:<20} {row['name_zh']}  {row['deadline_hours']:>5} h  {row['name_en']}"
        )


# -- users of the web app -----------------------------------------------------------


@main.group("users")
def users_group() -> None:
    """Users of the web app: admin (everything), street (one street), analyst (reads only)."""


_PASSWORD_ENV = "GRIDGIS_PASSWORD"


def _ask_password(name: str) -> str:
    """``GRIDGIS_PASSWORD`` when set, else asked twice without echo (and again if too short)."""
    import os

    from gridgis import users

    password = os.environ.get(_PASSWORD_ENV)
    if password:
        return password

    def checked(value: str) -> str:
        try:
            users.check_password(value, name=name)
        except GridGISError as exc:
            raise click.UsageError(str(exc)) from exc
        return value

    entered: str = click.prompt(
        f"Password for {name} (at least {config.password_min_length()} characters)",
        hide_input=True,
        confirmation_prompt=True,
        value_proc=checked,
        err=True,
    )
    return entered


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "street", "analyst"]),
    help="admin: sees and edits everything; street: sees and exports one street; "
    "analyst: reads and exports everything, edits nothing.",
)
@click.option("--street", default=None, help="The street's 9-digit code (role street only).")
@click.option(
    "--if-no-users",
    is_flag=True,
    help="Add the user only if there is no user at all (for first-time setup scripts).",
)
@_friendly
def users_add_cmd(name: str, role: str, street: str | None, if_no_users: bool) -> None:
    """Add a user NAME. The password is GRIDGIS_PASSWORD when set, else asked twice."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    if if_no_users and users.count_users(engine) > 0:
        click.echo(f"users exist already: {name!r} not added")
        return
    users.check_name(name)
    if role == "street" and not street:
        raise click.UsageError(f"role 'street' needs --street CODE: the street {name!r} may see")
    if role != "street" and street:
        raise click.UsageError(f"--street is only for role 'street'; {role!r} sees every street")
    if street:
        users.check_street(engine, street)
    user = users.add_user(
        engine, name, role=role, street=street, password=_ask_password(name), actor=_actor()
    )
    where = f" of street {user.street_code} {user.street_name or ''}".rstrip() if user.scope else ""
    click.echo(f"added user {user.name!r}: {user.role}{where}")


@users_group.command("list")
@_friendly
def users_list_cmd() -> None:
    """List the users with their role, street, API token and last login."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    found = users.list_users(get_engine())
    if not found:
        click.echo("no users yet; add one with `gridgis users add NAME --role admin`")
        return
    click.echo(f"{'name':<20} {'role':<8} {'street':<24} {'token':<6} last login")
    for user in found:
        street = f"{user.street_code} {user.street_name or ''}".strip() if user.scope else "-"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        token = "yes" if user.has_token else "no"
        click.echo(f"{user.name:<20} {user.role:<8} {street:<24} {token:<6} {last}")


@users_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly
def users_remove_cmd(name: str, yes: bool) -> None:
    """Remove the user NAME; its sessions and API token stop working at once."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    users.get_user(engine, name)  # an unknown name is an error before asking
    if not yes:
        click.confirm(f"Remove user {name!r}?", abort=True)
    users.remove_user(engine, name, actor=_actor())
    click.echo(f"removed user {name!r}")


@users_group.command("password")
@click.argument("name")
@_friendly
def users_password_cmd(name: str) -> None:
    """Set NAME's password (GRIDGIS_PASSWORD, else asked twice); ends its sessions and token."""
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    users.get_user(engine, name)
    users.set_password(engine, name, _ask_password(name), actor=_actor())
    click.echo(
        f"password of {name!r} changed; its sessions signed in before have ended "
        "and its API token (if any) was withdrawn"
    )


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Withdraw the user's token instead.")
@_friendly
def users_token_cmd(name: str, revoke: bool) -> None:
    """Issue an API token for NAME (replacing any previous one) and print it once.

    Clients send it as `Authorization: Bearer TOKEN`; Open311 clients may send
    it as `api_key`. Only its SHA-256 is stored: it cannot be shown again.
    """
    from gridgis import users
    from gridgis.db.engine import get_engine

    engine = get_engine()
    if revoke:
        users.revoke_token(engine, name, actor=_actor())
        click.echo(f"the API token of {name!r} is withdrawn")
        return
    token = users.issue_token(engine, name, actor=_actor())
    click.echo(f"API token of {name!r} (shown only now; it replaces any earlier one):", err=True)
    click.echo(token)


# -- export -----------------------------------------------------------------------------


@main.group("export")
def export_group() -> None:
    """Export cells, cases, inspections or per-area statistics to a file.

    Formats: shp (a zip with .shp .shx .dbf .prj .cpg and fields.csv, the
    full names of the 10-character DBF field names), gpkg, geojson, csv
    (UTF-8 with BOM, or GBK), xlsx. See `gridgis.export` for the columns.
    """


_export_options = [
    click.option("--format", "fmt", required=True,
                 type=click.Choice(["shp", "gpkg", "geojson", "csv", "xlsx"]),
                 help="File format (shp: a .zip)."),
    click.option("--encoding", default="utf-8", show_default=True,
                 type=click.Choice(["utf-8", "gbk"]),
                 help="Text encoding of shapefiles and CSV files."),
    click.option("--crs", default="wgs84", show_default=True,
                 help=f"Coordinates to write: {CRS_CHOICES_HELP}."),
    click.option("--district", default=None,
                 help="Only this district (6 digits), when the database holds several."),
    click.option("--street", default=None, help="Only this street office (9 digits)."),
    click.option("--community", default=None, help="Only this community (12 digits)."),
    click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="First day (YYYY-MM-DD, China Standard Time)."),
    click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
                 help="Last day, included."),
    click.option("-o", "--output", required=True,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="The file to write (a .zip for shp)."),
]  # fmt: skip


def _with_export_options(func: F) -> F:
    for option in reversed(_export_options):
        func = option(func)
    return func


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
@_with_export_options
@_friendly
def export_cells_cmd(**options: Any) -> None:
    """The active grid cells with codes, names, households, workers and branches."""
    _run_export("cells", **options)


@export_group.command("cases")
@_with_export_options
@_friendly
def export_cases_cmd(**options: Any) -> None:
    """Cases (points) filed in the area and reported in the period."""
    _run_export("cases", **options)


@export_group.command("inspections")
@_with_export_options
@_friendly
def export_inspections_cmd(**options: Any) -> None:
    """Inspection patrols started in the period: points and tracks."""
    _run_export("inspections", **options)


@export_group.command("stats")
@_with_export_options
@click.option(
    "--level",
    type=click.Choice(["cell", "community", "street"]),
    default="cell",
    show_default=True,
    help="One row per cell, community or street office.",
)
@_friendly
def export_stats_cmd(level: str, **options: Any) -> None:
    """Per-area statistics: households, cases by category, 按期结案率, inspections, hotspots."""
    _run_export("stats", level=level, **options)


if __name__ == "__main__":
    main()


# -- the audit trail (gridgis.cli_audit) --------------------------------------------------------

from gridgis.cli_audit import audit_cmd  # noqa: E402  (its own module, added to the group here)

main.add_command(audit_cmd)
