"""`gridgis cells`: draw, adjust and list the layouts of the cells in the database."""

from __future__ import annotations

from typing import Any

import click

from gridgis.cli._shared import PhaseBars, actor, echo_lines, friendly, with_options


@click.group()
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
    click.option("--dry-run", is_flag=True,
                 help="Compute and show the diff (every changed cell, the links that would "
                      "move or need a decision), publish nothing."),
    click.option("--accept-unlinked", is_flag=True,
                 help="Publish even when links of workers or party organisations are on "
                      "retired cells without a clear successor: they stay there, listed, "
                      "for you to reassign (default: refuse and list them)."),
    click.option("--by", "published_by", default=None,
                 help="Who publishes, recorded on the layout (default: cli:<login>, as in the "
                      "audit trail)."),
]  # fmt: skip


def _run_layouts(
    method: str,
    community: str | None,
    street: str | None,
    district: str | None,
    **options: Any,
) -> None:
    """Redraw every community of the one area given (:func:`gridgis.redraw.redraw`), print how.

    ``options`` are the rest of ``_scope_options``, named as ``redraw``'s keywords
    (min_households, max_households, seed, dry_run, published_by).
    """
    from gridgis.db.continuity import UnlinkedError
    from gridgis.db.engine import get_engine
    from gridgis.redraw import redraw

    prefix = _scope(community, street, district)
    try:
        with PhaseBars() as bars:
            result = redraw(
                get_engine(),
                prefix,
                method=method,
                actor=actor(),
                progress=lambda done, total: bars(f"{method} {total} communities", done, total),
                **options,
            )
    except UnlinkedError as exc:
        raise click.ClickException(
            f"{exc} (see them all with --dry-run; publish anyway with --accept-unlinked)"
        ) from exc
    echo_lines(result.lines())


@cells.command("draw")
@with_options(_scope_options)
@friendly
def cells_draw(**options: Any) -> None:
    """Draw the cells of a community, street or district and publish them as a new version.

    A new cell that shares at least half the households of both with an old
    one keeps its code (and its workers' and party organisations' links); the
    others get fresh codes, never a retired one. Drawing on unchanged data
    publishes nothing. Every community is published in one
    transaction; a community whose layout changed meanwhile is refused.
    """
    _run_layouts("draw", **options)


@cells.command("adjust")
@with_options(_scope_options)
@friendly
def cells_adjust(**options: Any) -> None:
    """Split or merge only the cells whose households now break the bounds (动态调整)."""
    _run_layouts("adjust", **options)


@cells.command("history")
@click.option("--community", required=True, help="A community's 12-digit code.")
@friendly
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
