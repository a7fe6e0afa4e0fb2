"""`gridgis departments` and `gridgis import departments`: who handles dispatched cases,
and where their notices are also posted (`gridgis departments webhook`).

Departments (职能部门) of a district or street, and the dispatch rules that name the
default department of a case category (:mod:`gridgis.cases.departments`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import actor, friendly, run_register
from gridgis.cli.imports import import_


@click.group("departments")
def departments_group() -> None:
    """Departments (职能部门) that handle dispatched cases, and dispatch rules."""


@departments_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--district", default=None, help="The 6-digit district it serves.")
@click.option("--street", default=None, help="The 9-digit street it serves (街道科室).")
@click.option("--phone", default=None, help="Its duty phone.")
@friendly
def departments_add_cmd(
    code: str, name: str, district: str | None, street: str | None, phone: str | None
) -> None:
    """Add department CODE called NAME, of a district (--district) or a street (--street)."""
    from gridgis.cases.departments import add_department
    from gridgis.db.engine import get_engine

    if (district is None) == (street is None):
        raise click.UsageError("give exactly one of --district CODE or --street CODE")
    added = add_department(
        get_engine(), code, name, district=district, street=street, phone=phone, actor=actor()
    )
    click.echo(f"added department {added['code']} {added['name']} of {added['area_code']}")


@departments_group.command("list")
@click.option("--area", default=None, help="Only those serving this district/street/community.")
@friendly
def departments_list_cmd(area: str | None) -> None:
    """List the departments with the area they serve."""
    from gridgis.cases.departments import list_departments
    from gridgis.db.engine import get_engine

    found = list_departments(get_engine(), area=area)
    if not found:
        click.echo("no departments yet; add one with `gridgis departments add CODE NAME "
                   "--district D` or `gridgis import departments FILE`")  # fmt: skip
        return
    click.echo(f"{'code':<12} {'area':<10} {'phone':<16} name")
    for row in found:
        click.echo(f"{row['code']:<12} {row['area_code']:<10} {row['phone'] or '-':<16} "
                   f"{row['name']}")  # fmt: skip


@departments_group.command("rule")
@click.argument("category")
@click.argument("code")
@click.option("--area", default=None,
              help="Only in this district, street or community (default: everywhere).")  # fmt: skip
@friendly
def departments_rule_cmd(category: str, code: str, area: str | None) -> None:
    """Make department CODE the default for CATEGORY (a code or Chinese name) when a case
    is dispatched without one; the most specific rule for a case's area wins."""
    from gridgis.cases.departments import add_rule
    from gridgis.db.engine import get_engine

    rule = add_rule(get_engine(), category, code, area=area, actor=actor())
    click.echo(f"{rule['category']} in {rule['area_code'] or 'every area'} → "
               f"{rule['department_code']}")  # fmt: skip


@departments_group.command("rules")
@friendly
def departments_rules_cmd() -> None:
    """List the dispatch rules."""
    from gridgis.cases.departments import list_rules
    from gridgis.db.engine import get_engine

    for rule in list_rules(get_engine()):
        click.echo(f"{rule['category']:<20} {rule['area_code'] or '*':<13} "
                   f"{rule['department_code']} {rule['department_name']}")  # fmt: skip


@departments_group.command("webhook")
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


@import_.command("departments")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id-field", default=None, help="Column with the code (default: 编码, id...).")
@click.option("--name-field", default=None, help="Column with the name (default: 名称, name...).")
@click.option("--district-field", default=None,
              help="Column with the district code or name (default: 区县...).")  # fmt: skip
@click.option("--street-field", default=None,
              help="Column with the street code or name (default: 街道...).")  # fmt: skip
@click.option("--phone-field", default=None, help="Column with the phone (default: 电话...).")
@click.option("--categories-field", default=None,
              help="Column with the categories it handles (default: 事件类别...).")  # fmt: skip
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet (default: the first).")
@click.option("--layer", default=None, help="Layer of a multi-layer file.")
@click.option("--report", "report_path", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the per-row report CSV (default: <file stem>"
                   ".report.csv).")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Check everything, report, store nothing.")
@friendly
def import_departments_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import departments from FILE (CSV or Excel): code, name, district or street, phone,
    and the case categories each handles by default (dispatch rules of its area).
    Upserts on the code; one transaction; a report on every row."""
    from gridgis.registers.departments import import_departments

    run_register(import_departments, file, report_path, options)
