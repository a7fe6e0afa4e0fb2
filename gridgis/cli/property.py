"""红心物业 from the command line (issue 19): the compounds and how each is managed.

- ``gridgis import compounds FILE``, attached to the ``import`` group;
- ``gridgis export compounds``, attached to the ``export`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import friendly, run_register, with_options
from gridgis.cli.export import _register_options, _run_register_export, export_group
from gridgis.cli.imports import import_
from gridgis.cli.rosters import _common, _field

_COMMON = list(_common[:6])
"""The options of every register import but the id and name fields (a compound has neither)."""


@import_.command("compounds")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_COMMON)
@_field("community", "the community's code or name (default: 社区, community)")
@_field("compound", "the compound's name as its buildings name it (default: 小区, compound)")
@_field("old", "whether it is an old compound, 是/否 (default: 老旧小区, old)")
@_field("built", "the year it was built (default: 建成年份, built)")
@_field("management", "物业公司, 红心物业 or 无物业 (default: 管理方式, management)")
@_field(
    "mode", "the 红心物业 mode: 物业服务, 居民自治, 驻区单位包保, 社区兜底 (default: 红心物业模式)"
)
@_field("company", "the management company (default: 物业公司, company)")
@_field("contact", "the contact person (default: 联系人, contact)")
@_field("contact-phone", "the contact's phone (default: 联系电话, 电话, phone...)")
@_field("unit", "the 驻区单位 taking it on, by id or name (default: 包保单位, unit)")
@_field("organisation", "the party organisation leading it, by id or name (default: 牵头党组织)")
@_field("since", "since when it is so managed (default: 起始日期, since)")
@_field("note", "a note (default: 备注, note)")
@friendly
def import_compounds_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import the compounds (小区) and how each is managed (红心物业) from FILE.

    One row per compound of a community: the community, the compound (as its buildings
    name it), old or not and the year built, the management (a company, 红心物业 in one
    of its four modes, or none), company, contact and phone, the 驻区单位 taking it on,
    the party organisation leading it, since when, a note. Upserted on (community,
    compound) in one transaction, with a per-row report.
    """
    from gridgis.registers.compounds import import_compounds

    run_register(import_compounds, file, report_path, options)


@export_group.command("compounds")
@with_options(_register_options)
@friendly
def export_compounds_cmd(**options: Any) -> None:
    """The registered compounds and their management (红心物业), outlines in a GeoPackage.

    Contacts and phones are masked unless --reveal-person-data (recorded in the audit
    trail). `gridgis import compounds` reads the file back.
    """
    _run_register_export("compounds", **options)
