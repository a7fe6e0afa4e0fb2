"""`gridgis open311`: the keys of Open311 client applications."""

from __future__ import annotations

import click

from gridgis.cli._shared import actor, friendly


@click.group("open311")
def open311_group() -> None:
    """Open311 GeoReport v2: the keys of its client applications."""


@open311_group.group("key")
def key_group() -> None:
    """Issue, list and revoke the keys of Open311 client applications.

    A client sends its key as Open311's `api_key` to file requests; reading is
    open to anyone unless GRIDGIS_OPEN311_PUBLIC_READ is off. Each key may make
    GRIDGIS_OPEN311_KEY_PER_MINUTE requests a minute.
    """


@key_group.command("add")
@click.argument("name")
@friendly
def key_add_cmd(name: str) -> None:
    """Issue a key for the client application NAME and print it once.

    Only its SHA-256 is stored: it cannot be shown again.
    """
    from gridgis import open311_keys
    from gridgis.db.engine import get_engine

    key = open311_keys.add_key(get_engine(), name, actor=actor())
    click.echo(f"Open311 api_key of {name!r} (shown only now):", err=True)
    click.echo(key)


@key_group.command("list")
@friendly
def key_list_cmd() -> None:
    """List the client applications, when their keys were issued, last used or revoked."""
    from gridgis import open311_keys
    from gridgis.db.engine import get_engine

    found = open311_keys.list_keys(get_engine())
    if not found:
        click.echo("no Open311 client keys yet; issue one with `gridgis open311 key add NAME`")
        return
    click.echo(f"{'name':<24} {'issued':<16} {'by':<16} {'last used':<16} state")
    for client in found:
        issued = client.created_at.strftime("%Y-%m-%d %H:%M")
        last = client.last_used_at.strftime("%Y-%m-%d %H:%M") if client.last_used_at else "never"
        state = f"revoked {client.revoked_at:%Y-%m-%d %H:%M}" if client.revoked_at else "valid"
        click.echo(f"{client.name:<24} {issued:<16} {client.created_by:<16} {last:<16} {state}")


@key_group.command("revoke")
@click.argument("name")
@friendly
def key_revoke_cmd(name: str) -> None:
    """Revoke the key of the client application NAME; it is refused (403) at once."""
    from gridgis import open311_keys
    from gridgis.db.engine import get_engine

    open311_keys.revoke_key(get_engine(), name, actor=actor())
    click.echo(f"the Open311 api_key of {name!r} is revoked")
