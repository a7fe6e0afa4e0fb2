"""Importing party members' activity (党员积分的活动记录): volunteer hours, meetings attended.

One row per activity: the member (their id in the members register), the kind
(a rule's code or Chinese name: 志愿服务, 参加组织生活, 走访...), the date, the hours
(for a kind counted per hour), a note, and optionally the row's own id. Each row
is recorded through :func:`gridgis.party.points.record_activity` (source
``import``) with the points its rule gives now; a row is kept once (under its
id, or its content when the file has no id column), so importing the same file
again changes nothing: every row ``unchanged``.

Examples
--------
>>> report = import_activities(engine, "志愿服务.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 120, 'imported': 118, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 2}
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select

from gridgis.codes import check_code
from gridgis.db.models import PartyActivity, PartyBranch, PartyMember, PointRule
from gridgis.intake.loading import say
from gridgis.intake.readers import read_table
from gridgis.party.points import record_activity
from gridgis.registers.columns import match_columns
from gridgis.registers.members import read_date
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import Register, run_register_import
from gridgis.registers.values import numbers

__all__ = ["ACTIVITY_ALIASES", "ACTIVITY_FIELDS", "activity_kinds", "import_activities"]

ACTIVITY_FIELDS: tuple[str, ...] = ("id", "member", "kind", "date", "hours", "note")
"""The fields of a file of activity."""

ACTIVITY_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "external_id", "编号", "记录编号"),
    "member": ("member", "member_id", "党员编号", "党员", "人员编号"),
    "kind": ("kind", "activity", "type", "活动类型", "类型", "活动", "项目"),
    "date": ("date", "occurred_on", "日期", "活动日期", "时间"),
    "hours": ("hours", "时长", "小时", "服务时长", "时长(小时)", "时长（小时）"),
    "note": ("note", "notes", "备注", "说明", "内容"),
}
"""The headers each field of a file of activity is known by."""

_WORDS = {
    "走访": "visit", "入户走访": "visit", "志愿": "volunteer", "志愿服务": "volunteer",
    "志愿服务时长": "volunteer", "会议": "meeting", "组织生活": "meeting",
    "参加组织生活": "meeting", "三会一课": "meeting", "主题党日": "meeting",
}  # fmt: skip


def activity_kinds(conn: Connection) -> tuple[dict[str, str], dict[str, str]]:
    """The rules' kinds by every word for them (code, Chinese name, usual words), and each
    kind's unit (``each`` or ``hour``)."""
    rules = conn.execute(select(PointRule.kind, PointRule.label_zh, PointRule.per)).all()
    words = {w: k for w, k in _WORDS.items() if any(r.kind == k for r in rules)}
    for rule in rules:
        words[rule.kind] = rule.kind
        words[rule.label_zh] = rule.kind
    return words, {r.kind: r.per for r in rules}


def _source_id(key: str) -> int:
    """A row's key as the positive 63-bit number ``party_activity.source_id`` keeps."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") >> 1


def import_activities(
    engine: Engine | Connection,
    path: str | Path,
    *,
    id_field: str | None = None,
    member_field: str | None = None,
    kind_field: str | None = None,
    date_field: str | None = None,
    hours_field: str | None = None,
    note_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Record a file of members' activity with its points, in one transaction.

    Parameters
    ----------
    engine:
        The database, with the members (``gridgis import members``).
    path:
        CSV, ``.xlsx``, or a vector file's table.
    id_field, member_field, kind_field, date_field, hours_field, note_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: activity of a member neither living nor
        organised in that street is rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (kept as ``recorded_by``; one audit row sums the import up).

    Returns
    -------
    RegisterReport
        Extra column ``points``: the points each row recorded.
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "member": member_field, "kind": kind_field, "date": date_field,
        "hours": hours_field, "note": note_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    columns = match_columns(
        table.field_names, ACTIVITY_FIELDS, given=given,
        required=("member", "kind", "date"), aliases=ACTIVITY_ALIASES, source=table.path.name,
    )  # fmt: skip
    register = Register(table=table, columns=columns)

    def body(conn: Connection) -> RowOutcomes:
        n = len(register)
        outcomes = register.outcomes()
        has_ids = columns["id"] is not None
        id_reasons = register.id_problems() if has_ids else [None] * n
        members, kinds = register.texts("member"), register.texts("kind")
        dates, notes = register.texts("date"), register.texts("note")
        hours, hours_why = numbers(
            pd.Series(register.texts("hours"), dtype=object), "hours", minimum=0, above=True
        )
        words, units = activity_kinds(conn)
        wanted = sorted({m for m in members if m is not None and "\x00" not in m})
        query = (
            select(
                PartyMember.id,
                PartyMember.external_id,
                PartyMember.street_code,
                PartyMember.community_code,
                PartyBranch.community_code.label("organisation_community"),
            )
            .outerjoin(PartyBranch, PartyBranch.id == PartyMember.branch_id)
            .where(PartyMember.external_id.in_(wanted))
        )
        known = {str(r.external_id): r for r in conn.execute(query)}
        say(progress, f"checking {n} rows")
        rows: list[tuple[int, int, str, dt.date, Decimal | None, str | None, int]] = []
        for i in range(n):  # wording each row's problems
            found = [p for p in (id_reasons[i], hours_why[i]) if p]
            member = known.get(members[i] or "")
            if members[i] is None:
                found.append("member missing")
            elif member is None:
                found.append(f"unknown member {members[i]!r}: no member has that id")
            elif street is not None and not any(
                (c or "").startswith(street)
                for c in (member.street_code, member.organisation_community)
            ):
                found.append(
                    f"the member lies in community {member.community_code}, outside street {street}"
                    if member.community_code
                    else f"the member lies in no community of street {street}"
                )
            kind = words.get(kinds[i] or "")
            if kinds[i] is None:
                found.append("kind missing")
            elif kind is None:
                listing = "、".join(sorted(set(words) - set(_WORDS)))
                found.append(f"unknown activity {kinds[i]!r} (known: {listing})")
            day, ok = read_date(dates[i])
            if dates[i] is None:
                found.append("date missing")
            elif not ok or day is None:
                found.append(f"date {dates[i]!r} is not a date")
            spent = None if np.isnan(hours[i]) else Decimal(str(hours[i]))
            if (
                kind is not None
                and units.get(kind) == "hour"
                and spent is None
                and not hours_why[i]
            ):
                found.append(f"hours missing: a {kind} is counted per hour")
            if found:
                outcomes.reject([i], "; ".join(found))
                continue
            assert member is not None and kind is not None and day is not None
            key = (
                f"id:{register.texts('id')[i]}"
                if has_ids
                else f"row:{members[i]}|{kind}|{day}|{spent}|{notes[i] or ''}"
            )
            rows.append((i, int(member.id), kind, day, spent, notes[i], _source_id(key)))
        keys = [r[6] for r in rows]
        stored: set[tuple[int, int]] = set()
        if keys:
            earlier = select(PartyActivity.source_id, PartyActivity.member_id).where(
                PartyActivity.source == "import", PartyActivity.source_id.in_(keys)
            )
            stored = {(int(s or 0), int(m)) for s, m in conn.execute(earlier)}
        say(progress, f"recording {len(rows)} activities")
        points = np.full(n, None, dtype=object)
        for i, member_id, kind, day, spent, note, source_id in rows:  # one statement a row
            points[i] = float(
                record_activity(
                    conn, member_id=member_id, kind=kind, occurred_on=day,
                    hours=spent, source="import", source_id=source_id, note=note, actor=actor,
                )
            )  # fmt: skip
            outcomes.set([i], "unchanged" if (source_id, member_id) in stored else "imported")
        outcomes.add_column("points", points)
        return outcomes

    return run_register_import(engine, "activities", register, body, dry_run=dry_run, actor=actor)
