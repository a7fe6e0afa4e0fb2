"""``gridgis departments webhook``: where a department's notices are also posted.

Registered on the ``gridgis`` group in :mod:`gridgis.cli`.
"""

from __future__ import annotations

import click

from gridgis.cli._shared import actor, friendly

__all__ = ["departments"]


@click.group("departments")
def departments() -> None:
    """Departments (职能部门) that handle dispatched cases."""


@departments.command("webhook")
@click.argument("code")
@click.option("--url", default=None, help="http(s) URL to post notices to; omit to remove it.")
@click.option(
    "--secret",
    default=None,
    help="HMAC key (json), the robot's 加签 secret (dingtalk); GRIDGIS_WEBHOOK_SECRET too.",
    envvar="GRIDGIS_WEBHOOK_SECRET",
    show_envvar=False,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "wecom", "dingtalk"]),
    default="json",
    show_default=True,
    help="Signed JSON, or a WeCom / DingTalk group robot's markdown message.",
)
@friendly
def webhook_cmd(code: str, url: str | None, secret: str | None, fmt: str) -> None:
    """Set (or, without --url, remove) the webhook of department CODE."""
    from gridgis.db.engine import get_engine
    from gridgis.webhooks import set_webhook

    done = set_webhook(get_engine(), code, url=url, secret=secret, fmt=fmt, actor=actor())
    if done["webhook_url"] is None:
        click.echo(f"department {code}: webhook removed")
    else:
        signed = ", signed" if done["signed"] else ""
        click.echo(f"department {code}: {done['webhook_format']} to {done['webhook_url']}{signed}")
