"""`gridgis import members | activities` and `gridgis party rules | ranking`: 党员 and 党员积分.

The import commands are attached to the ``import`` group of
:mod:`gridgis.cli.imports`; :data:`PARTY_COMMANDS` (``rules``, ``ranking``) read and set
the points rules and print (or write) the yearly ranking of members per organisation,
under the one ``party`` group (:mod:`gridgis.cli.party`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import actor, friendly, run_register, with_options
from gridgis.cli.imports import import_
from gridgis.cli.party import party_group
from gridgis.cli.rosters import _common, _field

_reading = _common[:-1]  # the roster options but --name-field: activity names no one
"""The options of reading a file, reporting, dry run, street and --id-field."""


@import_.command("members")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@_field("sex", "the sex, 男/女 (default: 性别, sex)")
@_field("birth", "the birth year or date (default: 出生年份, 出生日期, birth)")
@_field("joined", "the date joined (default: 入党日期, joined)")
@_field("organisation", "the organisation's id or name (default: 所在党组织, organisation)")
@_field("kind", "the kind: 直管/在职/流动/离退休 (default: 党员类型, kind)")
@_field("address", "the address (default: 地址, 家庭住址, address)")
@_field("phone", "the phone (default: 电话, 手机, phone)")
@_field("id-number", "the ID-card number (default: 身份证号, id_number)")
@_field("report-community", "the community reported to (default: 报到社区)")
@_field("reported-on", "the date reported (default: 报到日期)")
@_field("central-household", "是/否: a 党员中心户 (default: 党员中心户)")
@friendly
def import_members_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import the party members register (党员名册) from FILE, with a report.

    One row per member; the address is placed on a building through the address
    book (a member not placed is stored and flagged with the best candidates).
    Upserted on the id in one transaction: importing the same file twice changes
    nothing. Import the organisations (`gridgis import branches`) first.
    """
    from gridgis.registers.members import import_members

    run_register(import_members, file, report_path, options)


@import_.command("activities")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_reading)
@_field("member", "the member's id (default: 党员编号, member)")
@_field("kind", "the activity: 志愿服务, 参加组织生活, 走访... (default: 活动类型, kind)")
@_field("date", "the date (default: 日期, date)")
@_field("hours", "the hours, for a kind counted per hour (default: 时长, hours)")
@_field("note", "a note (default: 备注, note)")
@friendly
def import_activities_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Record members' activity (volunteer hours, meetings attended...) from FILE with
    the points of the rules (`gridgis party rules list`), with a report. A row is
    recorded once: importing the same file twice changes nothing."""
    from gridgis.registers.activities import import_activities

    run_register(import_activities, file, report_path, options)


@click.group("rules")
def rules_group() -> None:
    """What each kind of activity is worth in points."""


@rules_group.command("list")
@friendly
def rules_list_cmd() -> None:
    """List the rules: kind, points, per each or per hour, names."""
    from gridgis.db.engine import get_engine
    from gridgis.party.ranking import list_rules

    for rule in list_rules(get_engine()):
        click.echo(
            f"{rule['kind']:<12} {rule['points']:>8g} per {rule['per']:<5} "
            f"{rule['label_zh']} / {rule['label_en']}"
        )


@rules_group.command("set")
@click.argument("kind")
@click.argument("points")
@click.option("--per", type=click.Choice(["each", "hour"]), default="each", show_default=True,
              help="Points per activity or per hour of it.")  # fmt: skip
@click.option("--label", default=None, help="The Chinese name (needed for a new kind).")
@click.option("--label-en", default=None, help="The English name (default: the kind).")
@friendly
def rules_set_cmd(
    kind: str, points: str, per: str, label: str | None, label_en: str | None
) -> None:
    """Add the rule of KIND or change it to POINTS (activity recorded from now on)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.ranking import set_rule

    rule = set_rule(
        get_engine(), kind, points, per=per, label_zh=label, label_en=label_en, actor=actor()
    )
    click.echo(f"{rule['kind']}: {rule['points']:g} per {rule['per']} ({rule['label_zh']})")


@click.command("ranking")
@click.option("--year", type=int, required=True, help="The year ranked.")
@click.option("--organisation", default=None, help="Only this organisation (its id).")
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the ranking to this .csv or .xlsx file instead of printing it.",
)
@friendly
def ranking_cmd(year: int, organisation: str | None, output: Path | None) -> None:
    """The members of each organisation ranked by their points of YEAR."""
    from gridgis.db.engine import get_engine
    from gridgis.party.ranking import ranking, write_ranking

    found = ranking(get_engine(), year=year, organisation=organisation)
    if output is not None:
        written = write_ranking(found["rows"], output)
        click.echo(f"wrote {len(found['rows'])} rows to {written}")
        return
    current = None
    for row in found["rows"]:
        if row["organisation"] != current:
            current = row["organisation"]
            click.echo(f"{row['organisation']} {row['organisation_name'] or ''}")
        click.echo(
            f"  {row['rank']:>4}  {row['member']:<12} {row['name']:<8} {row['points']:>8g}"
            f"  ({row['activities']} activities, {row['hours']:g} h)"
        )


PARTY_COMMANDS: tuple[click.Command, ...] = (rules_group, ranking_cmd)
"""The commands of ``gridgis party`` this module brings."""

for _command in PARTY_COMMANDS:
    party_group.add_command(_command)
