"""`gridgis cases`: show a case, move it on, figures per area, category deadlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import actor, friendly


@click.group("cases")
def case_group() -> None:
    """Cases (事件): show one, move it on, figures per area, category deadlines."""


def _iso_time(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """Read an ISO 8601 time option (without a zone: China Standard Time, +08:00)."""
    from gridgis.errors import InputError
    from gridgis.times import parse_time

    if value is None:
        return None
    try:
        return parse_time(value, field=param.name or "time", plausible=False)
    except InputError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2025-03-01T09:30 or "
            "2025-03-01T09:30:00+08:00",
            ctx=ctx,
            param=param,
        ) from None


@case_group.command("show")
@click.argument("case_id", metavar="ID", type=int)
@friendly
def case_show_cmd(case_id: int) -> None:
    """Show one case: where, what, and each step with its time and actor."""
    from gridgis.cases import get_case
    from gridgis.db.engine import get_engine

    case = get_case(get_engine(), case_id)
    width = max(len(key) for key in case)
    for key, value in case.items():
        click.echo(f"{key:<{width}}  {'-' if value is None else value}")


@case_group.command("advance")
@click.argument("case_id", metavar="ID", type=int)
@click.argument("step")
@click.option("--actor", required=True, help="Who takes the step (a person or an office).")
@click.option(
    "--at",
    "at",
    default=None,
    callback=_iso_time,
    help="When, ISO 8601 (default now; without a zone: China Standard Time).",
)
@click.option("--note", default=None, help="What the step says (required for returned 退单).")
@click.option("--department", default=None, help="dispatched: the department's code.")
@click.option("--assignee", default=None, help="dispatched: who in the department handles it.")
@friendly
def case_advance_cmd(
    case_id: int,
    step: str,
    actor: str,
    at: Any,
    note: str | None,
    department: str | None,
    assignee: str | None,
) -> None:
    """Move case ID on to its next STEP, send it back, or reject it.

    STEP is registered 立案, dispatched 派遣, handled 处置, verified 核查,
    closed 结案 (one after the other), returned 退单 (a department sends a
    dispatched case back, with --note), or rejected 作废 (from any open step).
    dispatched on a dispatched case reassigns it (改派).
    """
    from gridgis.cases import advance_case
    from gridgis.db.engine import get_engine
    from gridgis.db.models import CASE_STEP_NAMES_ZH

    case = advance_case(
        get_engine(),
        case_id,
        step,
        actor=actor,
        at=at,
        note=note,
        department=department,
        assignee=assignee,
    )
    now = case["step"]
    sent = f"; dispatched to {case['department_code']}" if case["department_code"] else ""
    click.echo(
        f"case {case['id']}: {now} ({CASE_STEP_NAMES_ZH[now]}) at {case[now + '_at']} "
        f"by {case[now + '_by']}{sent}; deadline {case['deadline']}"
        + (" (overdue, 超期)" if case["overdue"] else "")
        + (" (closed late, 逾期结案)" if case["closed_late"] else "")
    )


@case_group.command("stats")
@click.option(
    "--level",
    type=click.Choice(["cell", "community", "street"]),
    default="cell",
    show_default=True,
    help="Figures per cell, community or street office.",
)
@click.option(
    "--layout",
    type=click.Choice(["filed", "current"]),
    default="filed",
    show_default=True,
    help="filed: the area each case was filed in; current: today's cells.",
)
@click.option(
    "--from",
    "date_from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First day of report (YYYY-MM-DD, China Standard Time).",
)
@click.option(
    "--to",
    "date_to",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Last day of report, included.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a CSV file (UTF-8 with BOM, opens in Excel) instead of printing.",
)
@friendly
def case_stats_cmd(
    level: str, layout: str, date_from: Any, date_to: Any, output: Path | None
) -> None:
    """结案率 and 按期结案率 per area: cases, closed, on time, closed late (逾期结案),
    open past deadline (超期, overdue_open)."""
    import datetime as dt

    from gridgis.cases import case_stats
    from gridgis.db.engine import get_engine
    from gridgis.sheets import safe_csv_frame

    until = date_to + dt.timedelta(days=1) if date_to is not None else None
    stats = case_stats(get_engine(), level=level, layout=layout, since=date_from, until=until)
    if output is not None:
        safe_csv_frame(stats).to_csv(output, index=False, encoding="utf-8-sig")
        click.echo(f"wrote {len(stats)} rows to {output}")
        return
    shown = stats.copy()
    for column in ("closure_rate", "on_time_rate"):
        shown[column] = shown[column].map(lambda v: "-" if v != v else f"{v:.1%}")
    shown["median_hours_to_close"] = shown["median_hours_to_close"].map(
        lambda v: "-" if v != v else f"{v:.1f}"
    )
    shown["code"] = shown["code"].fillna("(none)")
    shown["name"] = shown["name"].fillna("-")
    click.echo(shown.to_string(index=False))


@case_group.command("deadlines")
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="CATEGORY=HOURS",
    help="Change a category's time limit (code or Chinese name); repeatable.",
)
@friendly
def case_deadlines_cmd(changes: tuple[str, ...]) -> None:
    """Show the time limit of each case category, or change some (--set fire_safety=48)."""
    from gridgis.cases import case_categories, set_deadline_hours
    from gridgis.db.engine import get_engine

    parsed: list[tuple[str, int]] = []
    for change in changes:
        name, sep, hours_text = change.partition("=")
        if not sep or not name.strip() or not hours_text.strip().isdigit():
            raise click.BadParameter(
                f"{change!r} is not CATEGORY=HOURS (e.g. fire_safety=48)", param_hint="--set"
            )
        parsed.append((name.strip(), int(hours_text)))
    engine = get_engine()
    if parsed:
        with engine.begin() as conn:  # all changes or none
            for category, hours in parsed:
                set_deadline_hours(conn, category, hours, actor=actor())
    for row in case_categories(engine):
        click.echo(
            f"{row['code']:<20} {row['name_zh']}  {row['deadline_hours']:>5} h  {row['name_en']}"
        )
