"""``gridgis notices sweep | deliver``: deadlines near, and webhook deliveries due.

Registered on the ``gridgis`` group in :mod:`gridgis.cli`. Run both every few
minutes (cron, a systemd timer); each is safe to run twice at once.
"""

from __future__ import annotations

import click

from gridgis.cli._shared import friendly

__all__ = ["notices"]


@click.group("notices")
def notices() -> None:
    """Notices (消息): the inbox's sweep and the webhooks' deliveries."""


@notices.command("sweep")
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Window before the deadline (default GRIDGIS_OVERDUE_SOON_HOURS, 24).",
)
@friendly
def sweep_cmd(hours: float | None) -> None:
    """Tell of each open case due within the window (即将超期), once per case."""
    from gridgis.db.engine import get_engine
    from gridgis.notices import notify_overdue_soon

    told = notify_overdue_soon(get_engine(), hours=hours)
    click.echo(f"{told} case(s) due soon told of")


@notices.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="At most this many deliveries.")  # fmt: skip
@friendly
def deliver_cmd(limit: int) -> None:
    """Post the webhook deliveries that are due (retried with back-off)."""
    from gridgis.db.engine import get_engine
    from gridgis.webhooks import deliver_due

    done = deliver_due(get_engine(), limit=limit)
    click.echo(f"{done.sent} sent, {done.retried} to retry, {done.failed} given up")
