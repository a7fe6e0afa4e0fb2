"""``gridgis photos migrate | check``: photos moved between stores, and checked against the
database.

Registered on the ``gridgis`` group in :mod:`gridgis.cli`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gridgis.cli._shared import echo_progress, friendly, row_bar

__all__ = ["photos_group"]


@click.group("photos")
def photos_group() -> None:
    """Photos of cases and visits: move them between stores, check them."""


@photos_group.command("migrate")
@click.option(
    "--to",
    "target",
    type=click.Choice(["s3", "file"]),
    required=True,
    help="Copy from the folder to the bucket (s3), or back (file).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The folder store (default GRIDGIS_PHOTO_DIR, else GRIDGIS_HOME/photos).",
)
@friendly
def migrate_cmd(target: str, directory: Path | None) -> None:
    """Copy every photo and thumbnail between the folder store and the S3 bucket
    (GRIDGIS_S3_*). Keys the other store has already are skipped, so it may be run again
    after an interruption; nothing is deleted."""
    from gridgis import config
    from gridgis.cases.photo_stores import copy_photos, file_store, s3_store

    folder, bucket = file_store(directory), s3_store()
    source, dest = (folder, bucket) if target == "s3" else (bucket, folder)
    echo_progress(f"copying the photos of {source} to {dest}")
    report = copy_photos(source, dest, progress=row_bar("photos"))
    click.echo(f"{report} photos and thumbnails")
    if config.settings().photo_store != target:
        click.echo(f"the app still uses the other store: set GRIDGIS_PHOTO_STORE={target}")


@photos_group.command("check")
@friendly
def check_cmd() -> None:
    """Check that the configured store (GRIDGIS_PHOTO_STORE) holds every uploaded photo of
    the database's cases and visits; list the keys it lacks (exit code 1 if any)."""
    from gridgis.cases.photo_stores import check_photos, photo_store
    from gridgis.db.engine import get_engine

    store = photo_store()
    echo_progress(f"listing the keys of {store}")
    found = check_photos(get_engine(), store)
    for key in found.missing:
        click.echo(f"missing: {key}")
    click.echo(
        f"{found.checked} photos checked ({found.cases} of cases, {found.visits} of visits), "
        f"{len(found.missing)} missing"
    )
    if found.missing:
        sys.exit(1)
