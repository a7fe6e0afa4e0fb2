"""`gridgis db`: where the database is, starting and stopping the local cluster, the schema."""

from __future__ import annotations

from typing import Any

import click

from gridgis import config
from gridgis.cli._shared import friendly


@click.group()
def db() -> None:
    """The database: status, start, stop, upgrade, reset."""


def _local_cluster_or_none() -> Any:
    from gridgis.db.cluster import LocalCluster

    return None if config.settings().database_url else LocalCluster()


@db.command("status")
@friendly
def db_status() -> None:
    """Say where the database is, whether it runs and which schema it has."""
    from gridgis.db import migrate
    from gridgis.db.engine import check_connection, get_engine, normalise_url
    from gridgis.db.queries import count_areas

    cluster = _local_cluster_or_none()
    if cluster is None:
        url = config.settings().database_url
        shown = config.mask_url(normalise_url(url.get_secret_value() if url else ""))
        click.echo(f"database: {shown} (GRIDGIS_DATABASE_URL)")
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
@friendly
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
@friendly
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
@friendly
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
@friendly
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
