"""`gridgis party campaigns` and `gridgis party needs`: 大走访 campaigns and the needs list.

The same library functions as the web pages and the JSON routes
(:mod:`gridgis.party.campaigns`, :mod:`gridgis.party.needs`), attached to the one ``party``
group (:mod:`gridgis.cli.party`); every change is recorded in the audit trail as the CLI
user (``cli:<login>``).

- ``campaigns add | list | show | assign | close``: create a campaign (period, area,
  target rules, buildings visited whole), list them, show one with its progress per cell,
  assign a cell's targets (or targets by number) to a visitor, end it;
- ``needs add | list | claim | done``: post a community's need (需求, 资源, 项目), list the
  needs, record a 驻区单位's claim (认领), close a claimed need as done.
"""

from __future__ import annotations

import datetime as dt

import click

from gridgis.cli._shared import actor, friendly
from gridgis.cli.party import party_group

_DAY = click.DateTime(["%Y-%m-%d"])


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@party_group.group("campaigns")
def campaigns_group() -> None:
    """大走访 campaigns: period, area, target rules (default the 四个必走), their targets
    per cell and who visits them."""


@campaigns_group.command("add")
@click.argument("name")
@click.option("--area", required=True, help="The district, street or community (its code).")
@click.option("--from", "starts_on", required=True, type=_DAY, help="First day (YYYY-MM-DD).")
@click.option("--to", "ends_on", required=True, type=_DAY, help="Last day (YYYY-MM-DD).")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    help="A target rule, repeatable: a household category (veteran, needy … or 退役军人, "
    "困难户 …), elderly_member, member_direct, member_employed, member_mobile, "
    "member_retired. Default: the 四个必走.",
)
@click.option(
    "--building",
    "buildings",
    multiple=True,
    type=click.IntRange(min=1),
    help="A building (its number) whose households are all visited; repeatable.",
)
@friendly
def campaigns_add_cmd(
    name: str,
    area: str,
    starts_on: dt.datetime,
    ends_on: dt.datetime,
    rules: tuple[str, ...],
    buildings: tuple[int, ...],
) -> None:
    """Create the campaign NAME and list its targets, each in the cell of its building."""
    from gridgis.db.engine import get_engine
    from gridgis.party.campaigns import create_campaign

    created = create_campaign(
        get_engine(), name=name, area=area, starts_on=starts_on.date(), ends_on=ends_on.date(),
        rules=list(rules) or None, buildings=buildings, actor=actor(),
    )  # fmt: skip
    click.echo(
        f"campaign {created['id']} {created['name']} ({created['area_code']}, "
        f"{created['starts_on']}..{created['ends_on']}): {created['targets']} targets, "
        f"rules {', '.join(created['rules'])}"
    )


@campaigns_group.command("list")
@click.option("--area", default=None, help="Only those of an area holding or inside this one.")
@friendly
def campaigns_list_cmd(area: str | None) -> None:
    """List the campaigns, newest first, with their targets and the share visited."""
    from gridgis.db.engine import get_engine
    from gridgis.party.campaigns import list_campaigns

    found = list_campaigns(get_engine(), within=area)
    if not found:
        click.echo("no campaigns yet; add one with `gridgis party campaigns add NAME --area …`")
        return
    click.echo(f"{'id':>4} {'area':<12} {'period':<22} {'targets':>7} {'visited':>7} share name")
    for c in found:
        period = f"{c['starts_on']}..{c['ends_on']}"
        click.echo(
            f"{c['id']:>4} {c['area_code']:<12} {period:<22} {c['targets']:>7} "
            f"{c['visited']:>7} {_share(c['share']):>5} {c['name']}"
        )


@campaigns_group.command("show")
@click.argument("campaign", type=int)
@friendly
def campaigns_show_cmd(campaign: int) -> None:
    """Show CAMPAIGN (its number) and its progress per cell: targets, visited, share, overdue."""
    from gridgis.db.engine import get_engine
    from gridgis.party.campaigns import campaign_progress, get_campaign

    engine = get_engine()
    found = get_campaign(engine, campaign)
    click.echo(f"campaign {found['id']} {found['name']}")
    click.echo(f"area {found['area_code']}, {found['starts_on']}..{found['ends_on']}")
    click.echo(f"rules {', '.join(found['rules'])}; created by {found['created_by']}")
    click.echo(f"targets {found['targets']}, visited {found['visited']} ({_share(found['share'])})")
    cells = campaign_progress(engine, found["id"])
    click.echo(f"{'cell':<16} {'targets':>7} {'visited':>7} {'share':>5} {'overdue':>7}")
    for cell in cells:
        click.echo(
            f"{cell['cell_code'] or '(no cell)':<16} {cell['targets']:>7} {cell['visited']:>7} "
            f"{_share(cell['share']):>5} {cell['overdue']:>7}"
        )


@campaigns_group.command("assign")
@click.argument("campaign", type=int)
@click.option("--cell", default=None, help="Every target of this cell (its 15-digit code).")
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=click.IntRange(min=1),
    help="A target (its number); repeatable.",
)
@click.option("--member", type=click.IntRange(min=1), default=None, help="To this party member.")
@click.option("--worker", type=click.IntRange(min=1), default=None, help="To this grid worker.")
@click.option("--user", default=None, help="To this street office's user (by name).")
@click.option("--unassign", is_flag=True, help="Take the targets back (no visitor).")
@click.option(
    "--cell-workers",
    is_flag=True,
    help="Every target without a visitor to the grid worker of its cell (no --cell/--target).",
)
@click.option("--only-unassigned", is_flag=True, help="Leave the targets that have a visitor.")
@friendly
def campaigns_assign_cmd(
    campaign: int,
    cell: str | None,
    targets: tuple[int, ...],
    member: int | None,
    worker: int | None,
    user: str | None,
    unassign: bool,
    cell_workers: bool,
    only_unassigned: bool,
) -> None:
    """Assign targets of CAMPAIGN to a visitor: a cell's (--cell) or some (--target), to a
    party member, a grid worker or a street office's user (or --unassign); or every target
    without a visitor to its cell's grid worker (--cell-workers)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.campaigns import (
        Visitor,
        assign_targets,
        assign_to_cell_workers,
        user_visitor,
    )

    engine = get_engine()
    chosen = [name for name, given in (("--member", member), ("--worker", worker),
              ("--user", user), ("--unassign", unassign or None),
              ("--cell-workers", cell_workers or None)) if given is not None]  # fmt: skip
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --member, --worker, --user, --unassign or --cell-workers"
            + (f" (got {' '.join(chosen)})" if chosen else "")
        )
    if cell_workers:
        if cell is not None or targets:
            raise click.UsageError("--cell-workers assigns every target: leave out --cell/--target")
        count = assign_to_cell_workers(engine, campaign, actor=actor())
        click.echo(f"assigned {count} targets of campaign {campaign} to their cells' workers")
        return
    visitor: Visitor | None = None
    if user is not None:
        visitor = user_visitor(engine, user)[0]
    elif member is not None or worker is not None:
        visitor = Visitor(member_id=member, worker_id=worker)
    count = assign_targets(
        engine, campaign, visitor, cell=cell, target_ids=list(targets) or None,
        only_unassigned=only_unassigned, actor=actor(),
    )  # fmt: skip
    to = "nobody" if visitor is None else f"{chosen[0][2:]} {member or worker or user}"
    click.echo(f"assigned {count} targets of campaign {campaign} to {to}")


@campaigns_group.command("close")
@click.argument("campaign", type=int)
@click.option("--on", "day", type=_DAY, default=None, help="Its last day (default today).")
@friendly
def campaigns_close_cmd(campaign: int, day: dt.datetime | None) -> None:
    """Close CAMPAIGN: its period ends today (or --on), so that the targets not visited by
    then are overdue."""
    from gridgis.db.engine import get_engine
    from gridgis.party.campaigns import close_campaign

    closed = close_campaign(
        get_engine(), campaign, on=day.date() if day is not None else None, actor=actor()
    )
    click.echo(
        f"campaign {closed['id']} {closed['name']} ends on {closed['ends_on']}: "
        f"{closed['visited']} of {closed['targets']} targets visited"
    )


# --- the needs list ------------------------------------------------------------------------------


@party_group.group("needs")
def needs_group() -> None:
    """The needs list (需求清单, 资源清单, 项目清单): posted by communities, claimed by
    驻区单位 (认领), done."""


@needs_group.command("add")
@click.argument("title")
@click.option("--community", required=True, help="The community that posts it (12 digits).")
@click.option(
    "--kind",
    default=None,
    help="need (需求, the default), resource (资源) or project (项目).",
)
@click.option("--description", default=None, help="What is needed.")
@click.option("--due", type=_DAY, default=None, help="Wanted by this day (YYYY-MM-DD).")
@click.option("--id", "external_id", default=None, help="Its id in your own list.")
@friendly
def needs_add_cmd(
    title: str,
    community: str,
    kind: str | None,
    description: str | None,
    due: dt.datetime | None,
    external_id: str | None,
) -> None:
    """Post TITLE on COMMUNITY's needs list."""
    from gridgis.db.engine import get_engine
    from gridgis.party.needs import post_need

    need = post_need(
        get_engine(), community=community, title=title, kind=kind, description=description,
        due_on=due.date() if due is not None else None, external_id=external_id, actor=actor(),
    )  # fmt: skip
    click.echo(f"need {need['id']} ({need['kind_name']}) of {need['community_code']}: "
               f"{need['title']}")  # fmt: skip


@needs_group.command("list")
@click.option("--area", default=None, help="Only those of this street or community.")
@click.option("--state", default=None, help="open, claimed or done.")
@click.option("--kind", default=None, help="need, resource or project (or 需求, 资源, 项目).")
@click.option("--unit", type=click.IntRange(min=1), default=None, help="Claimed by this unit.")
@click.option("--limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="At most this many, newest first.")  # fmt: skip
@friendly
def needs_list_cmd(
    area: str | None, state: str | None, kind: str | None, unit: int | None, limit: int
) -> None:
    """List the needs, newest first: state, community, kind, title, the unit that claimed it."""
    from gridgis.db.engine import get_engine
    from gridgis.party.needs import list_needs

    found = list_needs(get_engine(), within=area, state=state, kind=kind, unit=unit, limit=limit)
    if not found:
        click.echo("no needs; post one with `gridgis party needs add TITLE --community CODE`")
        return
    click.echo(f"{'id':>5} {'state':<7} {'community':<12} kind     title / unit")
    for need in found:
        claimed = f" → {need['unit']}" if need["unit"] else ""
        click.echo(
            f"{need['id']:>5} {need['state']:<7} {need['community_code']:<12} "
            f"{need['kind']:<8} {need['title']}{claimed}"
        )


@needs_group.command("claim")
@click.argument("need", type=int)
@click.argument("unit")
@friendly
def needs_claim_cmd(need: int, unit: str) -> None:
    """Record that UNIT (a 驻区单位's id or name) claims NEED (认领)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.needs import claim_need

    claimed = claim_need(get_engine(), need, unit, actor=actor())
    click.echo(f"need {claimed['id']} {claimed['title']} is claimed by {claimed['unit']}")


@needs_group.command("done")
@click.argument("need", type=int)
@click.option("--note", default=None, help="How it was done.")
@friendly
def needs_done_cmd(need: int, note: str | None) -> None:
    """Close the claimed NEED as done (已完成)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.needs import finish_need

    done = finish_need(get_engine(), need, note=note, actor=actor())
    click.echo(f"need {done['id']} {done['title']} is done")
