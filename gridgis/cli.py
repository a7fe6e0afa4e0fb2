"""The ``gridgis`` command: parses, calls the library, prints. No logic of its own."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gridgis import __version__, config
from gridgis.crs import CRS_CHOICES_HELP
from gridgis.errors import GridGISError

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
@click.option("--encoding", default=None, help="Text encoding when the file does not say (gbk).")
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

    FILE is a shapefile (its .cpg is honoured; --encoding gbk when it has
    none), a GeoPackage or GeoJSON. Invalid polygons are repaired where that
    is safe, and reported; parts outside the parent, overlaps between
    siblings and gaps are reported by code with their area in m². The import
    completes or changes nothing.
    """
    from gridgis.boundaries import prepare_boundaries
    from gridgis.db.engine import get_engine
    from gridgis.db.load import import_boundaries
    from gridgis.io import read_vector

    frame = read_vector(file, encoding=encoding, layer=layer)
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
    )
    for line in report.lines():
        click.echo(line)


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

    counts = load_divisions(get_engine(), districts or None)
    click.echo(
        f"loaded {counts['district']} districts, {counts['street']} streets, "
        f"{counts['community']} communities"
    )


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

    engine = get_engine()
    if migrate.current_revision(engine) != migrate.head_revision():
        raise click.ClickException(
            "the database schema is not up to date: run `gridgis db upgrade`"
        )
    app = create_app()
    click.echo(f"gridgis web app on http://{host}:{port}/ (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=debug, use_reloader=False)


@main.command("config")
def config_cmd() -> None:
    """Show the settings in force (GRIDGIS_* environment variables)."""
    settings = config.current()
    for name, value in vars(settings).items():
        click.echo(f"{name}: {value if value is not None else '(unset)'}")


if __name__ == "__main__":
    main()
