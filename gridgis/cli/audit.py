"""``gridgis audit``: the audit trail on the command line (parses, calls the library, prints).

Registered on the ``gridgis`` group in :mod:`gridgis.cli`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gridgis.errors import GridGISError

__all__ = ["audit_cmd"]

_TABLE_COLUMNS = ("at", "actor", "action", "object_type", "object_id", "street_code", "summary")


def _rows(frame: Any) -> list[dict[str, Any]]:
    from gridgis.times import to_display

    rows = []
    for row in frame.to_dict("records"):
        rows.append(
            {
                key: (None if value is None or value != value else value)
                for key, value in row.items()
            }
            | {"at": to_display(row["at"])}
        )
    return rows


def _summary(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


@click.command("audit")
@click.option("--actor", default=None, help="Only changes by this actor (a user, cli:<login>).")
@click.option("--object-type", default=None, help="layout, draft, case, user, worker, branch...")
@click.option(
    "--object-id", default=None, help="Only this object (a case id, a community code...)."
)
@click.option("--since", default=None, help="From this day or time (+08:00), e.g. 2026-03-01.")
@click.option("--until", default=None, help="Before this day or time (+08:00).")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many rows, newest first.",
)
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many rows first.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="How to print the rows.")  # fmt: skip
def audit_cmd(
    actor: str | None,
    object_type: str | None,
    object_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """List the audit trail: who changed what, when (newest first)."""
    from gridgis.audit import COLUMNS, read_audit
    from gridgis.db.engine import get_engine

    try:
        frame = read_audit(
            get_engine(),
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    except GridGISError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    rows = _rows(frame)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif fmt == "csv":
        import pandas as pd

        from gridgis.sheets import safe_csv_frame

        out = pd.DataFrame(rows, columns=list(COLUMNS))
        out["summary"] = [_summary(v) for v in out["summary"]]
        click.echo(safe_csv_frame(out).to_csv(index=False), nl=False)
    else:
        if not rows:
            click.echo("no audit rows match")
            return
        for row in rows:
            row["summary"] = _summary(row["summary"])
            row["at"] = (row["at"] or "")[:16].replace("T", " ")
        widths = {c: max(len(c), *(len(str(r[c] or "-")) for r in rows)) for c in _TABLE_COLUMNS}
        widths["summary"] = len("summary")  # the last column runs on
        click.echo("  ".join(c.ljust(widths[c]) for c in _TABLE_COLUMNS).rstrip())
        for row in rows:
            click.echo("  ".join(str(row[c] or "-").ljust(widths[c]) for c in _TABLE_COLUMNS))
