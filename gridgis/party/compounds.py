"""红心物业: the compounds (小区) of an area, how each is managed, and the figures per community.

A compound is what buildings name in their ``compound`` (``gridgis import buildings``):
the compounds of a community are the distinct names its buildings give, those whose
buildings hold households (a market's or a school's compound is no 小区). The register
(:class:`gridgis.db.models.CompoundManagement`, ``gridgis import compounds``) says of
each whether it is an old one (老旧小区) and how it is managed: a company (物业公司),
红心物业 in one of its four modes (物业服务, 居民自治, 驻区单位包保, 社区兜底), or nobody
(无物业). A compound the register does not name is *unregistered*.

The point of 红心物业 is fewer property complaints, so each compound carries its 物业管理
cases (category :data:`CASE_CATEGORY`) of the last twelve months (:func:`case_window`):
a case counts for the compound of its building (its address matched one), else for the
compound of the building of its community nearest its point within
:data:`CASE_REACH_M` metres; a case farther from every building is in no compound.

A compound's outline is the convex hull of its buildings' footprints (points where a
building has none), widened to a :data:`POINT_OUTLINE_M` metre disc around a compound
of a single point.

Contact names and phones are people's data: given as stored only where ``reveal``
allows (a policy's ``may_see_people``), masked elsewhere.

Examples
--------
>>> rows = list_compounds(engine, within="350304001", until=dt.date(2026, 1, 1))
>>> total = total_figures(rows, "350304001")
>>> total["compounds"] == total["registered"] + total["unregistered"]
True
>>> total["managed"] == total["company"] + total["red"] > 0
True
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)

from gridgis import audit
from gridgis.db.models import (
    MANAGEMENT_NAMES_ZH,
    RED_MODE_NAMES_ZH,
    RED_MODES,
    Building,
    Case,
    Community,
    CompoundManagement,
    PartyBranch,
    PartyUnit,
)
from gridgis.db.queries import connection
from gridgis.party.alliances import list_units
from gridgis.times import CHINA_TZ

__all__ = [
    "CASE_CATEGORY",
    "CASE_REACH_M",
    "PERSON_FIELDS",
    "POINT_OUTLINE_M",
    "STORED_FIELDS",
    "Reveal",
    "case_window",
    "choices",
    "community_figures",
    "community_names",
    "compound_cases",
    "compound_outline",
    "list_compounds",
    "masked_compound",
    "share",
    "total_figures",
]

CASE_CATEGORY = "property_management"
"""The case category of property complaints (物业管理)."""

CASE_REACH_M = 50.0
"""How far (metres) a case without a building may lie from a building of its compound."""

POINT_OUTLINE_M = 15.0
"""The radius (metres) of the outline of a compound whose buildings make no area."""

STORED_FIELDS: tuple[str, ...] = (
    "old", "built_year", "management", "red_mode", "company", "contact", "contact_phone",
    "unit_id", "organisation_id", "since", "note",
)  # fmt: skip
"""The columns of a compound's register row besides its community and name."""

PERSON_FIELDS: tuple[str, ...] = ("contact", "contact_phone")
"""A compound's fields holding people's data (masked as :func:`gridgis.audit.mask_person`)."""

Reveal = bool | Callable[[str | None], bool]
"""Whose people's data is given as stored: everyone's, no one's, or the compounds whose
community code the function accepts."""


def share(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to four places; ``None`` for nothing to divide.

    Examples
    --------
    >>> share(2, 3), share(0, 0)
    (0.6667, None)
    """
    return round(part / whole, 4) if whole else None


def case_window(bind: Engine | Connection, until: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The twelve months whose 物业管理 cases a compound carries: ``(since, until)``, days in
    China Standard Time, ``until`` not included.

    ``until`` defaults to the day after the latest case reported (the last twelve months of
    cases recorded, as the 三零 page takes the quarter of the latest case), else tomorrow.

    Examples
    --------
    >>> case_window(engine, dt.date(2025, 3, 1))
    (datetime.date(2024, 3, 1), datetime.date(2025, 3, 1))
    """
    if until is None:
        with connection(bind) as conn:
            latest = conn.execute(select(func.max(Case.reported_at))).scalar()
        day = latest.astimezone(CHINA_TZ).date() if latest is not None else dt.date.today()
        until = day + dt.timedelta(days=1)
    try:
        since = until.replace(year=until.year - 1)
    except ValueError:  # 29 February
        since = until.replace(year=until.year - 1, day=28)
    return since, until


def _in(column: Any, within: str | None) -> Any:
    return literal(True) if within is None else column.startswith(within, autoescape=True)


def compound_outline(footprint: Any, location: Any) -> Any:
    """The SQL expression of a compound's outline from its buildings' columns (aggregate)."""
    hull = func.ST_ConvexHull(func.ST_Collect(func.coalesce(footprint, location)))
    disc = cast(func.ST_Buffer(cast(hull, Geography), POINT_OUTLINE_M), Geometry)
    return case((func.ST_Dimension(hull) < 2, func.ST_ConvexHull(disc)), else_=hull)


def compound_cases(
    conn: Connection, *, within: str | None, since: dt.date, until: dt.date
) -> dict[tuple[str, str], int]:
    """The 物业管理 cases reported in ``[since, until)`` per compound ``(community, name)``."""
    start = dt.datetime.combine(since, dt.time(), tzinfo=CHINA_TZ)
    end = dt.datetime.combine(until, dt.time(), tzinfo=CHINA_TZ)
    wanted = and_(
        Case.category_code == CASE_CATEGORY,
        Case.reported_at >= start,
        Case.reported_at < end,
        _in(Case.community_code, within),
    )
    by_building = (
        select(Building.community_code, Building.compound)
        .join(Case, Case.building_id == Building.id)
        .where(wanted)
    )
    nearest = (
        select(Building.community_code, Building.compound)
        .where(
            Building.community_code == Case.community_code,
            func.ST_DWithin(
                cast(Building.location, Geography), cast(Case.geom, Geography), CASE_REACH_M
            ),
        )
        .order_by(Building.location.op("<->")(Case.geom))
        .limit(1)
        .lateral("nearest")
    )
    by_point = (
        select(nearest.c.community_code, nearest.c.compound)
        .select_from(Case)
        .join(nearest, literal(True))
        .where(wanted, Case.building_id.is_(None), Case.geom.is_not(None))
    )
    both = union_all(by_building, by_point).subquery()
    counted = (
        select(both.c.community_code, both.c.compound, func.count().label("n"))
        .where(both.c.compound.is_not(None))
        .group_by(both.c.community_code, both.c.compound)
    )
    return {(str(c), str(name)): int(n) for c, name, n in conn.execute(counted)}


def _shows(reveal: Reveal, code: str | None) -> bool:
    return reveal if isinstance(reveal, bool) else bool(reveal(code))


def masked_compound(row: dict[str, Any], reveal: Reveal) -> dict[str, Any]:
    """``row`` with its contact masked unless ``reveal`` shows its community."""
    if _shows(reveal, row.get("community_code")):
        return row
    return row | {k: audit.mask_person(row.get(k), k) for k in PERSON_FIELDS}


def _names(row: dict[str, Any]) -> dict[str, Any]:
    management, mode = row.get("management"), row.get("red_mode")
    return {
        "registered": management is not None,
        "management_name": MANAGEMENT_NAMES_ZH.get(management) if management else "未登记",
        "red_mode_name": RED_MODE_NAMES_ZH.get(mode) if mode else None,
    }


def list_compounds(
    bind: Engine | Connection,
    *,
    within: str | None = None,
    reveal: Reveal = False,
    until: dt.date | None = None,
    outlines: bool = False,
) -> list[dict[str, Any]]:
    """Every compound of the area ``within`` (a code or its start; all when ``None``), by
    community and name: its buildings and households, the register's row (``management``
    ``None`` when unregistered; contact masked unless ``reveal``), the 驻区单位 and party
    organisation named, and its 物业管理 ``cases`` in :func:`case_window` of ``until``;
    with ``outlines``, its ``outline`` as a GeoJSON geometry (``None`` without buildings).

    A compound the register names that no building names any more is listed too, with no
    buildings.
    """
    b, m = Building, CompoundManagement
    columns = [
        b.community_code,
        b.compound.label("name"),
        func.count().label("buildings"),
        func.sum(b.households).label("households"),
    ]
    if outlines:
        outline = compound_outline(b.footprint, b.location)
        columns.append(func.ST_AsGeoJSON(outline, 6).label("outline"))
    built = (
        select(*columns)
        .where(b.compound.is_not(None), _in(b.community_code, within))
        .group_by(b.community_code, b.compound)
        .having(func.sum(b.households) > 0)
        .subquery()
    )
    kept = [getattr(m, f) for f in ("id", "community_code", "name", *STORED_FIELDS)]
    register = (
        select(
            *kept,
            PartyUnit.name.label("unit"),
            PartyUnit.external_id.label("unit_external_id"),
            PartyBranch.name.label("organisation"),
            PartyBranch.external_id.label("organisation_external_id"),
        )
        .outerjoin(PartyUnit, PartyUnit.id == m.unit_id)
        .outerjoin(PartyBranch, PartyBranch.id == m.organisation_id)
        .where(_in(m.community_code, within))
        .subquery()
    )
    joined = built.join(
        register,
        and_(register.c.community_code == built.c.community_code, register.c.name == built.c.name),
        full=True,
    )
    community = func.coalesce(built.c.community_code, register.c.community_code)
    name = func.coalesce(built.c.name, register.c.name)
    picked = [c for c in register.c if c.name not in ("community_code", "name")]
    query = (
        select(
            community.label("community_code"),
            name.label("name"),
            func.coalesce(built.c.buildings, 0).label("buildings"),
            cast(func.coalesce(built.c.households, 0), Float).label("households"),
            *([built.c.outline] if outlines else []),
            *picked,
        )
        .select_from(joined)
        .order_by(community, name)
    )
    with connection(bind) as conn:
        since, end = case_window(conn, until)
        cases = compound_cases(conn, within=within, since=since, until=end)
        out = []
        for r in conn.execute(query):
            row = dict(r._mapping)
            row["households"] = int(row["households"])
            row["old"] = bool(row["old"]) if row["old"] is not None else False
            if outlines:
                row["outline"] = json.loads(row["outline"]) if row["outline"] else None
            if row["since"] is not None:
                row["since"] = row["since"].isoformat()
            row["cases"] = cases.get((row["community_code"], row["name"]), 0)
            out.append(masked_compound(row | _names(row), reveal))
    return out


_COUNTS = ("compounds", "registered", "unregistered", "old", "managed", "old_managed",
           "company", "red", "none", "cases", *RED_MODES)  # fmt: skip


def community_figures(
    rows: Iterable[dict[str, Any]], *, names: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The figures per community of :func:`list_compounds`'s ``rows``, by community code.

    ``compounds``: every compound; ``registered``/``unregistered`` (in the register or not:
    a village's hamlets need not be); ``old`` (老旧小区, of the registered); ``managed`` (a
    company or 红心物业) and ``managed_share`` of the registered compounds; ``old_managed``
    and ``old_managed_share`` of the old ones; ``company``, ``red`` and ``none`` (无物业:
    the compounds to act on); each 红心物业 mode's count (``service``, ``autonomy``,
    ``unit``, ``community``) and its share of the registered compounds
    (``<mode>_share``); ``cases``: the 物业管理 cases of its compounds (registered or
    not). Shares are ``None`` with nothing to divide. ``names`` gives each community's
    name (``community_name``).
    """
    per: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = row["community_code"]
        figures = per.setdefault(code, dict.fromkeys(_COUNTS, 0))
        management = row.get("management")
        managed = management in ("company", "red")
        figures["compounds"] += 1
        figures["registered" if management else "unregistered"] += 1
        figures["old"] += bool(row.get("old"))
        figures["managed"] += managed
        figures["old_managed"] += managed and bool(row.get("old"))
        if management:
            figures[management] += 1
        if management == "red":
            figures[row["red_mode"]] += 1
        figures["cases"] += int(row.get("cases") or 0)
    out = []
    for code in sorted(per):
        figures = per[code]
        shares = {
            "managed_share": share(figures["managed"], figures["registered"]),
            "old_managed_share": share(figures["old_managed"], figures["old"]),
            **{f"{mode}_share": share(figures[mode], figures["registered"]) for mode in RED_MODES},
        }
        named = (names or {}).get(code)
        out.append({"community_code": code, "community_name": named} | figures | shares)
    return out


def total_figures(rows: Iterable[dict[str, Any]], code: str | None) -> dict[str, Any]:
    """The figures of :func:`community_figures` for all ``rows`` together (the area ``code``)."""
    together = community_figures({**r, "community_code": code or ""} for r in rows)
    if together:
        return together[0]
    empty = community_figures([{"community_code": code or "", "management": "none"}])[0]
    return {k: (0 if isinstance(v, int) else None) for k, v in empty.items()} | {
        "community_code": code or "",
        "community_name": None,
    }


def choices(bind: Engine | Connection, *, within: str | None = None) -> dict[str, list[Any]]:
    """What an edit of the area ``within`` may name: its 驻区单位 (``units``: those lying in
    or linked to it) and its party organisations above the 党小组 (``organisations``), each
    ``id``, ``name``, ``community_code``, by name."""
    units = [
        {"id": u["id"], "name": u["name"], "community_code": u["community_code"]}
        for u in list_units(bind, within=within)
    ]
    query = (
        select(PartyBranch.id, PartyBranch.name, PartyBranch.community_code)
        .where(PartyBranch.kind != "group", _in(PartyBranch.community_code, within))
        .order_by(PartyBranch.name, PartyBranch.id)
    )
    with connection(bind) as conn:
        organisations = [dict(r._mapping) for r in conn.execute(query)]
    return {"units": units, "organisations": organisations}


def community_names(bind: Engine | Connection, *, within: str | None = None) -> dict[str, str]:
    """The names of the communities of ``within`` by code."""
    with connection(bind) as conn:
        rows = conn.execute(
            select(Community.code, Community.name).where(_in(Community.code, within))
        )
        return {str(code): str(name) for code, name in rows}
