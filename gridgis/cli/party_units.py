"""驻区单位, 联合体 and 三零 from the command line (issue 19, points 5 and 6).

- ``gridgis import resident-units FILE`` (``gridgis import units`` is the units, 单元,
  of buildings), attached to the ``import`` group;
- ``gridgis export units`` (alias ``gridgis export resident-units``) and ``gridgis export
  sanling``, attached to the ``export`` group;
- ``gridgis party alliances add | list | join | leave`` and ``gridgis party
  sanling-categories``, in the ``party`` group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gridgis.cli._shared import actor, friendly, run_register, with_options
from gridgis.cli.export import _register_options, _run_register_export, export_group
from gridgis.cli.imports import import_
from gridgis.cli.party import party_group
from gridgis.cli.rosters import _common, _field, _located


@import_.command("resident-units")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_options(_common)
@with_options(_located)
@_field("contact", "the contact person (default: 联系人, contact)")
@_field("contact-phone", "the contact's phone (default: 联系电话, 电话, phone...)")
@_field("party-org", "the unit's party organisation (default: 党组织, party_org)")
@_field("party-leader", "the party organisation's leader (default: 党组织书记, 书记)")
@_field("linked", "the communities it is linked to, by code or name (default: 结对社区)")
@_field("alliance", "the 联合体 it belongs to, by name (default: 联合体, alliance)")
@_field("committee", "whether its leader is a 大党委 part-time member (default: 兼职委员)")
@friendly
def import_resident_units_cmd(file: Path, report_path: Path | None, **options: Any) -> None:
    """Import 驻区单位 (companies, schools, agencies, hospitals… based in the area) from FILE.

    One row per unit: id, name, kind, location (coordinates or address), contact
    and phone, party organisation and leader, linked communities, alliances. Upserted
    on the id in one transaction, with a per-row report. Not `gridgis import units`,
    which imports the units (单元) of buildings.
    """
    from gridgis.registers.resident_units import import_resident_units

    run_register(import_resident_units, file, report_path, options)


@export_group.command("units")
@with_options(_register_options)
@friendly
def export_units_cmd(**options: Any) -> None:
    """驻区单位 as imported: ids, names, kinds, addresses, communities, contacts, party
    organisations and leaders, linked communities, alliances and points.

    Contacts, phones and leaders are masked unless --reveal-person-data (recorded in the
    audit trail). `gridgis import resident-units` reads the file back.
    """
    _run_register_export("units", **options)


@export_group.command("resident-units")
@with_options(_register_options)
@friendly
def export_resident_units_cmd(**options: Any) -> None:
    """The same as `gridgis export units` (驻区单位)."""
    _run_register_export("units", **options)


@export_group.command("sanling")
@click.option(
    "--period",
    required=True,
    help="2025-03 (month), 2025-Q1 (quarter), 2025 (year) or 2025-01-01..2025-02-15.",
)
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["xlsx", "csv", "gpkg"]),
    help="File format (gpkg: the communities' outlines).",
)
@click.option("--street", default=None, help="Only this street office (9 digits).")
@click.option("--community", default=None, help="Only this community (12 digits).")
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    type=click.Choice(["utf-8", "gbk"]),
    help="Text encoding of a CSV file.",
)
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write (default: sanling.<format> here).",
)
@friendly  # fmt: skip
def export_sanling_cmd(
    period: str, fmt: str, street: str | None, community: str | None, encoding: str,
    output: Path | None,
) -> None:  # fmt: skip
    """三零 communities: per community, the period, its petitions (上访), safety accidents
    (安全事故) and public-security cases (治安案件), and whether it is 三零."""
    from gridgis.db.engine import get_engine
    from gridgis.export.sanling import export_sanling

    if street and community:
        raise click.UsageError("give at most one of --street or --community")
    target = output or Path(f"sanling.{fmt}")
    rows = export_sanling(
        get_engine(), period, fmt, target, within=community or street, encoding=encoding
    )
    click.echo(f"wrote {rows} communities to {target} [{fmt}]")


@party_group.group("alliances")
def alliances_group() -> None:
    """党建联合体: units joined with a street or community (大党委 part-time members)."""


@alliances_group.command("add")
@click.argument("name")
@click.option("--street", default=None, help="The street (9 digits) it belongs to.")
@click.option("--community", default=None, help="Or the community (12 digits).")
@friendly
def alliances_add_cmd(name: str, street: str | None, community: str | None) -> None:
    """Add the 联合体 NAME of a street (--street) or a community (--community)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.alliances import add_alliance

    added = add_alliance(get_engine(), name, street=street, community=community, actor=actor())
    click.echo(f"added alliance {added['id']} {added['name']} of "
               f"{added['community_code'] or added['street_code']}")  # fmt: skip


@alliances_group.command("list")
@click.option("--area", default=None, help="Only those of this street or community.")
@friendly
def alliances_list_cmd(area: str | None) -> None:
    """List the 联合体 with their units and 大党委 part-time members (兼职委员)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.alliances import list_alliances

    found = list_alliances(get_engine(), within=area)
    if not found:
        click.echo("no alliances yet; add one with `gridgis party alliances add NAME --street S`")
        return
    click.echo(f"{'id':>4} {'area':<12} {'units':>5} {'兼职委员':>4} name")
    for row in found:
        where = row["community_code"] or row["street_code"]
        click.echo(f"{row['id']:>4} {where:<12} {row['units']:>5} {row['committee']:>8} "
                   f"{row['name']}")  # fmt: skip


@alliances_group.command("join")
@click.argument("alliance")
@click.argument("unit")
@click.option(
    "--committee",
    is_flag=True,
    help="Its party leader sits on the 大党委 as a part-time member (兼职委员).",
)
@friendly  # fmt: skip
def alliances_join_cmd(alliance: str, unit: str, committee: bool) -> None:
    """Put UNIT (its id or name) in ALLIANCE (its id or name)."""
    from gridgis.db.engine import get_engine
    from gridgis.party.alliances import join_alliance

    done = join_alliance(get_engine(), alliance, unit, committee=committee, actor=actor())
    seat = " (兼职委员)" if done["committee"] else ""
    click.echo(f"{done['unit']} is in {done['alliance']}{seat}")


@alliances_group.command("leave")
@click.argument("alliance")
@click.argument("unit")
@friendly
def alliances_leave_cmd(alliance: str, unit: str) -> None:
    """Take UNIT out of ALLIANCE."""
    from gridgis.db.engine import get_engine
    from gridgis.party.alliances import leave_alliance

    leave_alliance(get_engine(), alliance, unit, actor=actor())
    click.echo(f"{unit} left {alliance}")


@party_group.command("sanling-categories")
@click.option(
    "--petition",
    default=None,
    help="Categories counted as petitions (上访), comma-separated codes or names.",
)
@click.option("--accident", default=None, help="Categories counted as safety accidents (安全事故).")
@click.option(
    "--security", default=None, help="Categories counted as public-security cases (治安案件)."
)
@click.option(
    "--defaults",
    is_flag=True,
    help="Map the categories whose names say so (信访/上访, 事故, 治安案件/刑事).",
)
@friendly  # fmt: skip
def sanling_categories_cmd(
    petition: str | None, accident: str | None, security: str | None, defaults: bool
) -> None:
    """Show, or set, which case categories count for each 三零 figure."""
    from gridgis.db.engine import get_engine
    from gridgis.party.sanling import category_map, default_categories, set_categories
    from gridgis.registers.kinds import split_list

    engine = get_engine()
    given = {k: v for k, v in {"petition": petition, "accident": accident,
                               "security": security}.items() if v is not None}  # fmt: skip
    mapping: dict[str, list[str]] = default_categories(engine) if defaults else {}
    mapping |= {k: split_list(v) for k, v in given.items()}
    shown = set_categories(engine, mapping, actor=actor()) if mapping else category_map(engine)
    names = {"petition": "上访", "accident": "安全事故", "security": "治安案件"}
    for figure, codes in shown.items():
        click.echo(f"{figure:<9} {names[figure]:<6} {', '.join(codes) or '-'}")
