"""`gridgis import workers | branches | facilities` and `gridgis template`: rosters from files.

The import commands are attached to the ``import`` group of
:mod:`gridgis.cli.imports`; each calls its importer in :mod:`gridgis.registers`,
prints the report like ``gridgis import cases`` and writes the per-row CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gridgis.cli._shared import friendly, run_register, with_options
from gridgis.cli.imports import import_
from gridgis.crs import CRS_CHOICES_HELP

if TYPE_CHECKING:
    pass

TEMPLATE_KINDS: tuple[str, ...] = (
    "buildings", "households", "units", "workers", "branches", "facilities", "resident-units",
    "compounds", "members", "activities", "residents",
)  # fmt: skip


def _field(name: str, what: str) -> Callable[[Any], Any]:
    return click.option(f"--{name}-field", default=None, help=f"Column with {what}.")


_common = [
    click.option("--encoding", default=None,
                 help="Text encoding: utf-8 or gbk (default: detected strictly for CSV)."),
    click.option("--sheet", default=None, help="Excel sheet (default: the first)."),
    click.option("--layer", default=None, help="Layer of a multi-layer vector file."),
    click.option("--report", "report_path", default=None,
                 type=click.Path(dir_okay=False, path_type=Path),
                 help="Where to write the per-row report CSV (default: <file stem>.report.csv "
                      "next to FILE)."),
    click.option("--dry-run", is_flag=True, help="Check everything, report, store nothing."),
    click.option("--street", default=None, metavar="STREET",
                 help="A street office's 9-digit code: rows outside that street are rejected "
                      "with their row number and reason."),
    _field("id", "the id (default: 编号, id...)"),
    _field("name", "the name (default: 名称/姓名, name...)"),
]  # fmt: skip

_located = [
    click.option("--crs", "crs", default=None,
                 help=f"CRS of the coordinates (default: the file's own, else wgs84): "
                      f"{CRS_CHOICES_HELP}."),
    _field("x", "x / longitude (default: 经度, lon, x...)"),
    _field("y", "y / latitude (default: 纬度, lat, y...)"),
    _field("address", "the address (default: 地址, address...)"),
    _field("community", "the community's code or name (default: 社区, community)"),
    _field("kind", "the kind (default: 类型, kind...)"),
]  # fmt: skip


@import_.command("workers")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@_field("phone", "the phone (default: 电话, 手机, phone...)")
@_field("id-number", "the ID-card number (default: 身份证号, id_number...)")
@_field("role", "the roles, several as 网格长、楼栋长 (default: 角色, 职务, role)")
@_field("cells", "the cell codes served (default: 网格, 网格编码, cells)")
@_field("building", "the buildings served, by id or address (default: 楼栋, building)")
@_field("unit", "the units of that building served (default: 单元, unit)")
@_field("community", "the communities served, by code or name (default: 社区, community)")
@friendly
def import_workers_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import grid workers (网格员, 网格长, 楼栋长, 单元长...) from FILE, with a report.

    One row per person: id, name, phone, ID-card number, roles, and the cells,
    buildings, units or communities served. Upserted on the id in one
    transaction: importing the same file twice changes nothing. Rows with an
    unknown cell code, role, building or community are rejected with their row
    number and reason; the rest loads.
    """
    from gridgis.registers.workers import import_workers

    run_register(import_workers, file, report_path, options)


@import_.command("branches")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@with_options(_located)
@_field("parent", "the parent organisation's id or name (default: 上级组织, parent)")
@_field("secretary", "the secretary's name (default: 书记, secretary)")
@_field("secretary-phone", "the secretary's phone (default: 书记电话, 电话...)")
@_field("members", "the member count (default: 党员数, members)")
@_field("cells", "the cell codes covered (default: 网格, cells)")
@_field("buildings", "the building ids covered (default: 覆盖楼栋, 楼栋编号, buildings)")
@friendly
def import_branches_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import party organisations (党委, 党总支, 党支部, 党小组) from FILE, with a report.

    Parents are found by id or name in the file first (they may come later in
    it), then in the database; a row whose parent exists nowhere is rejected.
    One transaction, upserted on the id.
    """
    from gridgis.registers.branches import import_branches

    run_register(import_branches, file, report_path, options)


@import_.command("facilities")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@with_options(_located)
@friendly
def import_facilities_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import service facilities (党群服务中心, 社区服务站, 卫生服务站, 警务室, 学校, 养老...)
    from FILE, with a report. One transaction, upserted on the id."""
    from gridgis.registers.facilities import import_facilities

    run_register(import_facilities, file, report_path, options)


@click.command("template")
@click.argument("kind", type=click.Choice(TEMPLATE_KINDS))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The Excel file to write (.xlsx).")  # fmt: skip
@friendly
def template_cmd(kind: str, output: Path) -> None:
    """Write an Excel template for importing KIND: Chinese headers, an example row, a help
    sheet (每列说明) and drop-down lists for the coded columns."""
    from gridgis.registers.templates import write_template

    written = write_template(kind, output)
    click.echo(f"template: {written}")
