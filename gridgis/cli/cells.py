"""`gridgis cells`: draw, adjust and list the layouts of the cells in the database."""

from __future__ import annotations

from typing import Any

import click

from gridgis.cli._shared import PhaseBars, actor, echo_lines, friendly, with_options


@click.group()
def cells() -> None:
    """Grid cells in the database: draw, adjust, rollback, rename, history."""


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
    click.option("--save-bounds", is_flag=True,
                 help="Also store --min/--max as the communities' own households per cell "
                      "(default: they hold for this run only, and are recorded with the "
                      "version)."),
    click.option("--allow-findings", is_flag=True,
                 help="Publish even layouts the validator finds errors in (default: such a "
                      "run publishes nothing and lists them; --dry-run shows them too)."),
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
    from gridgis.errors import ValidationError
    from gridgis.redraw import redraw

    prefix = _scope(community, street, district)
    if (
        options.get("save_bounds")
        and options.get("min_households") is None
        and options.get("max_households") is None
    ):
        raise click.UsageError("--save-bounds stores the bounds of --min and --max: give them")
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
    except ValidationError as exc:
        raise click.ClickException(
            "\n".join([str(exc), *(f"  {p.reason}" for p in exc.problems)])
            + "\n(see them with --dry-run; publish anyway with --allow-findings)"
        ) from exc
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


@cells.command("rollback")
@click.option("--community", default=None, help="A community's 12-digit code.")
@click.option("--street", default=None, help="A street office's 9-digit code.")
@click.option("--district", default=None, help="A district's 6-digit code.")
@click.option(
    "--to",
    "to_version",
    type=click.IntRange(min=1),
    default=None,
    help="With --community: the version to publish again (default: the one before the current).",
)
@click.option("--dry-run", is_flag=True, help="Show what would change, publish nothing.")
@friendly
def cells_rollback(
    community: str | None,
    street: str | None,
    district: str | None,
    to_version: int | None,
    dry_run: bool,
) -> None:
    """Publish an earlier layout again as a new version, with the links as they were.

    History is append-only: the cells of the earlier version come back under their
    codes as a new version (method rollback), and the links of grid workers and party
    organisations that the later versions moved go back to them. A community goes back
    to the version before its current one, or to --to VERSION. A street or district
    goes back one step only in the communities its last change touched (the versions
    published together, at the newest time); the others stay as they are.
    """
    from gridgis.db.engine import get_engine
    from gridgis.db.rollback import rollback

    diffs = rollback(
        get_engine(),
        _scope(community, street, district),
        to_version=to_version,
        actor=actor(),
        dry_run=dry_run,
    )
    lines = [d.line() for d in diffs]
    lines += [
        f"{d.community_code}: {len(d.links_moved)} links of workers and organisations "
        "moved back to their cells"
        for d in diffs
        if d.links_moved
    ]
    verb = "would roll back" if dry_run else "rolled back"
    lines.append(
        f"{verb} {sum(d.version is not None for d in diffs)} of {len(diffs)} communities"
        + (" (dry run: nothing was changed)" if dry_run else "")
    )
    echo_lines(lines)


@cells.command("rename")
@click.argument("code")
@click.argument("name")
@friendly
def cells_rename(code: str, name: str) -> None:
    """Give the active cell CODE the name NAME (e.g. 东梅社区第3网格; recorded in the audit trail).

    A cell without a name is called after its community and number; a redrawn cell
    that keeps its code keeps its name.
    """
    from gridgis.db.engine import get_engine
    from gridgis.db.layout import rename_cell

    old = rename_cell(get_engine(), code, name, actor=actor())
    click.echo(f"cell {code}: {old or '(no name)'} -> {' '.join(name.split())}")


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
