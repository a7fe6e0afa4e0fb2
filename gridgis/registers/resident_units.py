"""Importing 驻区单位: organisations based in the area (companies, schools, agencies, hospitals…).

``gridgis import resident-units FILE`` (``gridgis import units`` is the units, 单元, of
buildings). One row per organisation: id, name, kind (企业, 学校, 机关, 事业单位, 医院,
社会组织, 其他), location (coordinates in any system gridgis knows, or an address
matched to a building), the community it lies in (else the one its point lies in),
the contact person and phone (people's data), its party organisation and leader
(people's data), the communities it is linked to (结对社区), and the 联合体 it
belongs to (by name: the alliance must exist) with whether its leader sits on the
大党委 (兼职委员). Upserted on the file's id in one transaction, with a per-row report;
a street office's file is kept within its street (the unit, its linked communities
and its alliances).

Examples
--------
>>> report = import_resident_units(engine, "驻区单位.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 30, 'imported': 29, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 1}
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.crs import CRSLike
from gridgis.db.models import (
    UNIT_KIND_NAMES_ZH,
    PartyAlliance,
    PartyAllianceUnit,
    PartyUnit,
    PartyUnitCommunity,
)
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.registers.columns import ALIASES, match_columns
from gridgis.registers.facilities import place_rows, with_points
from gridgis.registers.kinds import split_list
from gridgis.registers.places import Areas, Points, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, run_register_import
from gridgis.registers.upsert import changes, outcome_of, replace_links_of
from gridgis.registers.values import yes_no
from gridgis.registers.workers import check_phone, unmasked

__all__ = ["UNIT_ALIASES", "UNIT_FIELDS", "import_resident_units", "unit_kind"]

UNIT_FIELDS: tuple[str, ...] = (
    "id", "name", "kind", "x", "y", "address", "community", "contact", "contact_phone",
    "party_org", "party_leader", "linked", "alliance", "committee",
)  # fmt: skip
"""The fields of a register of 驻区单位."""

UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    **ALIASES,
    "name": ("name", "单位名称", "名称", "单位", "组织名称"),
    "kind": ("kind", "type", "单位类型", "单位性质", "类型", "类别"),
    "address": ("address", "单位地址", "地址", "详细地址", "办公地址"),
    "community": ("community", "community_code", "所在社区", "社区", "社区编码"),
    "contact": ("contact", "联系人", "联系人姓名", "负责人"),
    "contact_phone": ("contact_phone", "phone", "联系电话", "联系人电话", "电话", "手机"),
    "party_org": ("party_org", "党组织", "党组织名称", "单位党组织"),
    "party_leader": ("party_leader", "党组织书记", "书记", "党组织负责人"),
    "linked": ("linked", "linked_communities", "结对社区", "共建社区", "联系社区"),
    "alliance": ("alliance", "alliances", "联合体", "党建联合体", "所属联合体"),
    "committee": ("committee", "兼职委员", "大党委兼职委员", "大党委委员"),
}
"""The headers each field is known by (the shared ones, and the units' own)."""

_SYNONYMS: dict[str, str] = {
    "公司": "enterprise", "企业": "enterprise", "国企": "enterprise", "民企": "enterprise",
    "银行": "enterprise", "学校": "school", "中学": "school", "小学": "school",
    "幼儿园": "school", "大学": "school", "学院": "school", "机关": "agency",
    "政府": "agency", "党政机关": "agency", "事业单位": "institution", "医院": "hospital",
    "卫生院": "hospital", "社会组织": "social", "协会": "social", "其他": "other",
}  # fmt: skip

_FIELDS = (
    "name", "kind", "address", "community_code", "street_code", "contact", "contact_phone",
    "party_org", "party_leader", "linked", "alliances", "lon", "lat",
)  # fmt: skip


def unit_kind(value: str | None) -> str | None:
    """The kind code of a unit kind as written (code, Chinese name or a common word).

    Examples
    --------
    >>> unit_kind("学校"), unit_kind("school"), unit_kind("某某公司"), unit_kind(None)
    ('school', 'school', 'enterprise', 'other')
    """
    if value is None:
        return "other"
    text = value.strip()
    if text.casefold() in UNIT_KIND_NAMES_ZH:
        return text.casefold()
    for code, name in UNIT_KIND_NAMES_ZH.items():
        if text == name:
            return code
    for word, code in _SYNONYMS.items():
        if word in text:
            return code
    return None


def _read(path: str | Path, given: dict[str, str | None], **options: Any) -> Register:
    table = read_table(path, **options)
    columns = match_columns(
        table.field_names, UNIT_FIELDS, given=given, required=("id", "name"),
        aliases=UNIT_ALIASES, source=table.path.name,
    )  # fmt: skip
    return Register(table=table, columns=columns)


def _stored(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    query = select(
        PartyUnit.id,
        PartyUnit.external_id,
        PartyUnit.name,
        PartyUnit.kind,
        PartyUnit.address,
        PartyUnit.community_code,
        PartyUnit.street_code,
        PartyUnit.contact,
        PartyUnit.contact_phone,
        PartyUnit.party_org,
        PartyUnit.party_leader,
        func.ST_X(PartyUnit.location).label("lon"),
        func.ST_Y(PartyUnit.location).label("lat"),
    ).where(PartyUnit.external_id.in_(ids))
    out = {str(r.external_id): dict(r._mapping) for r in conn.execute(query)}
    by_id = {int(r["id"]): r for r in out.values()}
    for r in out.values():
        r["linked"], r["alliances"], r["committee"] = [], [], []
    links = select(PartyUnitCommunity.unit_id, PartyUnitCommunity.community_code).where(
        PartyUnitCommunity.unit_id.in_(list(by_id))
    )
    for unit, code in conn.execute(links):
        by_id[int(unit)]["linked"].append(str(code))
    members = (
        select(PartyAllianceUnit.unit_id, PartyAlliance.name, PartyAllianceUnit.committee)
        .join(PartyAlliance, PartyAlliance.id == PartyAllianceUnit.alliance_id)
        .where(PartyAllianceUnit.unit_id.in_(list(by_id)))
    )
    for unit, name, committee in conn.execute(members):
        by_id[int(unit)]["alliances"].append(str(name))
        if committee:
            by_id[int(unit)]["committee"].append(str(name))
    for r in out.values():
        r["linked"].sort()
        r["alliances"].sort()
    return out


def import_resident_units(
    engine: Engine | Connection,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    kind_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    address_field: str | None = None,
    community_field: str | None = None,
    contact_field: str | None = None,
    contact_phone_field: str | None = None,
    party_org_field: str | None = None,
    party_leader_field: str | None = None,
    linked_field: str | None = None,
    alliance_field: str | None = None,
    committee_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of 驻区单位, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database.
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage.
    crs:
        The system of the coordinates; default the vector file's own, else ``wgs84``.
    id_field, name_field, kind_field, x_field, y_field, address_field, community_field, \
contact_field, contact_phone_field, party_org_field, party_leader_field, linked_field, \
alliance_field, committee_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows lying in another street (or in none),
        linked to a community of another street, joining an alliance of another
        street, or whose id is stored for a unit of another street, are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row sums the import up, one row per unit changed
        (people's data masked in the trail).

    Returns
    -------
    RegisterReport
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "name": name_field, "kind": kind_field, "x": x_field, "y": y_field,
        "address": address_field, "community": community_field, "contact": contact_field,
        "contact_phone": contact_phone_field, "party_org": party_org_field,
        "party_leader": party_leader_field, "linked": linked_field,
        "alliance": alliance_field, "committee": committee_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = _read(path, given, encoding=encoding, sheet=sheet, layer=layer)
    placed: list[Points] = []

    def body(conn: Connection) -> RowOutcomes:
        n = len(register)
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        ids, names = register.texts("id"), register.texts("name")
        kinds_given = register.texts("kind")
        kinds = [unit_kind(k) for k in kinds_given]
        areas = Areas.load(conn)
        alliances = {
            str(name): (int(i), str(s))
            for i, name, s in conn.execute(
                select(PartyAlliance.id, PartyAlliance.name, PartyAlliance.street_code)
            )
        }
        committee, committee_why = yes_no(
            pd.Series(register.texts("committee"), dtype=object), "committee"
        )
        stored = _stored(conn, [str(i) for i in ids if i is not None])
        before_of = [stored.get(str(i), {}) if i is not None else {} for i in ids]
        contacts = unmasked(
            register.texts("contact"), [b.get("contact") for b in before_of], "contact"
        )
        phones = unmasked(
            register.texts("contact_phone"),
            [b.get("contact_phone") for b in before_of],
            "contact_phone",
        )
        leaders = unmasked(
            register.texts("party_leader"), [b.get("party_leader") for b in before_of], "contact"
        )
        linked: list[list[str]] = []
        joined: list[list[str]] = []
        for i in range(n):  # wording per row; the look-ups are dictionary ones
            problems = [p for p in (id_reasons[i], committee_why[i]) if p]
            if names[i] is None:
                problems.append("name missing")
            if kinds[i] is None:
                listing = "、".join(UNIT_KIND_NAMES_ZH.values())
                problems.append(f"unknown kind {kinds_given[i]!r} (known: {listing})")
            if (why := check_phone(phones[i])) is not None:
                problems.append(why)
            masked = [
                f
                for f, v in (("contact", contacts[i]), ("contact_phone", phones[i]),
                             ("party_leader", leaders[i]))
                if v is not None and "**" in v
            ]  # fmt: skip
            if masked:
                problems.append(
                    f"{'、'.join(masked)} masked (as an export writes it for those who may not "
                    "see it) but not the masked form of the stored person's: give the real value"
                )
            codes: list[str] = []
            for value in split_list(register.texts("linked")[i]):
                code = areas.community_code(value)
                if code is None:
                    problems.append(f"unknown community {value!r} (neither a code nor a name)")
                else:
                    codes.append(code)
            linked.append(sorted(set(codes)))
            groups = split_list(register.texts("alliance")[i])
            missing = [g for g in groups if g not in alliances]
            if missing:
                problems.append(f"unknown alliance {'、'.join(missing)!r}: add it first")
            if committee[i] and not groups:
                problems.append("committee member (兼职委员) but in no alliance")
            joined.append(sorted(set(groups)))
            if problems:
                outcomes.reject([i], "; ".join(problems))
        say(progress, f"placing {int(outcomes.pending.sum())} units")
        points, community = place_rows(
            conn, register, outcomes, outcomes.pending, crs=crs, areas=areas
        )
        placed.append(points)
        if street is not None:
            for i in np.flatnonzero(outcomes.pending).tolist():
                before = stored.get(str(ids[i]))
                area = None if before is None else before["street_code"] or ""
                served = [(f"community {c}", c) for c in linked[i]] + [
                    (f"alliance {g} of street {alliances[g][1]}", alliances[g][1])
                    for g in joined[i]
                ]
                if away := street_problems(
                    street, "organisation", community=community[i], served=served,
                    stored_area=area,
                ):  # fmt: skip
                    outcomes.reject([i], "; ".join(away))
        say(progress, f"storing {int(outcomes.pending.sum())} units")
        addresses = register.texts("address")
        party_orgs = register.texts("party_org")
        for i in np.flatnonzero(outcomes.pending).tolist():
            after = {
                "name": names[i],
                "kind": kinds[i],
                "address": addresses[i],
                "community_code": community[i],
                "street_code": areas.street_of(community[i]),
                "contact": contacts[i],
                "contact_phone": phones[i],
                "party_org": party_orgs[i],
                "party_leader": leaders[i],
                "linked": linked[i],
                "alliances": joined[i],
                "lon": float(points.lon[i]),
                "lat": float(points.lat[i]),
            }
            chosen_committee = sorted(g for g in joined[i] if committee[i])
            before = stored.get(str(ids[i]))
            old = None if before is None else {k: before[k] for k in _FIELDS}
            outcome = outcome_of(old, after)
            if (
                before is not None
                and outcome == "unchanged"
                and sorted(before["committee"]) != chosen_committee
            ):
                outcome = "updated"
            if outcome != "unchanged":
                kept = [k for k in _FIELDS if k not in ("linked", "alliances", "lon", "lat")]
                values = {k: after[k] for k in kept}
                values["location"] = points.wkt(i)
                if before is None:
                    adding = insert(PartyUnit).values(external_id=ids[i], **values)
                    unit_id = conn.execute(adding.returning(PartyUnit.id)).scalar_one()
                else:
                    unit_id = int(before["id"])
                    conn.execute(update(PartyUnit).where(PartyUnit.id == unit_id).values(**values))
                    outcomes.changes[i] = "; ".join(changes(old, after)) or "committee"
                    audit.record(conn, actor=actor, action="update", object_type="resident_unit",
                                 object_id=ids[i], before=old, after=after,
                                 street_code=after["street_code"])  # fmt: skip
                was = [] if before is None else [int(unit_id)]
                replace_links_of(
                    conn, PartyUnitCommunity, "unit_id",
                    {int(unit_id): [{"community_code": c} for c in linked[i]]}, stored=was,
                )  # fmt: skip
                replace_links_of(
                    conn, PartyAllianceUnit, "unit_id",
                    {int(unit_id): [
                        {"alliance_id": alliances[g][0], "committee": bool(committee[i])}
                        for g in joined[i]
                    ]},
                    stored=was,
                )  # fmt: skip
            flagged = outcomes.flags[i] and outcome != "unchanged"
            outcomes.set([i], "flagged" if flagged else outcome)
        outcomes.add_column("community_code", community)
        return outcomes

    report = run_register_import(
        engine, "resident_units", register, body, dry_run=dry_run, actor=actor
    )
    return with_points(report, placed)
