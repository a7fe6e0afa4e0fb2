"""`gridgis import residents` and `gridgis export visits | ledger`: 大走访 from and to files.

``import residents`` is attached to the ``import`` group of :mod:`gridgis.cli.imports`;
``export visits`` and ``export ledger`` to the ``export`` group of :mod:`gridgis.cli.export`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import friendly, run_register, with_options
from gridgis.cli.export import _register_options, _run_register_export, export_group
from gridgis.cli.imports import import_
from gridgis.cli.rosters import _common, _field


@import_.command("residents")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@_field("phone", "the phone (default: 电话, 手机, phone...)")
@_field("categories", "the categories, several as 退役军人、困难户 (default: 类别, 重点户类别)")
@_field("building", "the building's id as imported (default: 楼栋, building)")
@_field("address", "the address, matched to a building (default: 地址, address...)")
@_field("unit", "the unit (default: 单元, unit)")
@_field("room", "the room (default: 房号, 室号, room)")
@_field("note", "a note (default: 备注, note)")
@friendly
def import_residents_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import key households (重点户: 退役军人, 困难户, 独居老人, 残疾人...) from FILE, with a
    report.

    One row per household: id, head of household (户主) and phone, categories,
    building (its id) or address (matched to a building), unit, room, note.
    Upserted on the id in one transaction: importing the same file twice changes
    nothing. Rows with an unknown category or an address matched to no building
    are rejected with their row number and reason; the rest loads.
    """
    from gridgis.registers.residents import import_residents

    run_register(import_residents, file, report_path, options)


_visit_options = [
    click.option("--format", "fmt", required=True, type=click.Choice(["xlsx", "csv", "gpkg"]),
                 help="File format (xlsx and csv in the 台账's Chinese layout)."),
    click.option("--street", default=None, help="Only this street office (9 digits)."),
    click.option("--community", default=None, help="Only this community (12 digits)."),
    click.option("--campaign", type=int, default=None, help="Only this campaign (its number)."),
    click.option("--reveal-person-data", "reveal", is_flag=True,
                 help="Write names unmasked (recorded in the audit trail)."),
    click.option("-o", "--output", default=None,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="The file to write (default: <visits|ledger>.<format> here)."),
]  # fmt: skip


def _run(what: str, **options: Any) -> None:
    from gridgis.cli._shared import actor
    from gridgis.db.engine import get_engine
    from gridgis.export import export

    if options["street"] and options["community"]:
        raise click.UsageError("give at most one of --street or --community")
    output = options["output"] or Path(f"{what}.{options['fmt']}")
    result = export(
        get_engine(), what, options["fmt"], output, street=options["street"],
        community=options["community"], campaign=options["campaign"],
        reveal=bool(options["reveal"]), actor=actor(),
    )  # fmt: skip
    click.echo(f"wrote {result.rows} rows of the {what} to {output} [{options['fmt']}]")


@export_group.command("visits")
@with_options(_visit_options)
@friendly
def export_visits_cmd(**options: Any) -> None:
    """大走访 visits: campaign, community, cell, whom, where, who, when, note, photos,
    problems found and the phone's position (gpkg: points). Names are masked unless
    --reveal-person-data."""
    _run("visits", **options)


@export_group.command("ledger")
@with_options(_visit_options)
@friendly
def export_ledger_cmd(**options: Any) -> None:
    """The 大走访 ledger (台账): 序号, 社区, 网格, 走访对象, 走访人, 走访时间, 发现问题,
    问题类别, 办理情况/关联事件, 状态 (未销号/已销号), 销号时间 (gpkg: points at the
    targets' buildings). Names are masked unless --reveal-person-data."""
    _run("ledger", **options)


@export_group.command("residents")
@with_options(_register_options)
@friendly
def export_residents_cmd(**options: Any) -> None:
    """Key households (重点户) as imported: ids, heads of household, phones, categories,
    buildings, addresses, units, rooms, notes, communities and their buildings' points.

    Names and phones are masked unless --reveal-person-data (recorded in the audit
    trail); `gridgis import residents` reads the file back either way. Formats: gpkg,
    csv, xlsx.
    """
    _run_register_export("residents", **options)
