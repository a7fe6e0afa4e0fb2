"""The members register read back (党员名册): who sees which members, masked how, and figures.

Who sees what (:func:`member_view`):

- an administrator sees every member, personal data and all;
- a street office or a grid worker sees the members who live in its street
  and the members of the organisations of its street; a member's personal
  data (:data:`PERSON_FIELDS`: name, phone, ID number, address, birth year) is
  shown only when the member lives in its street
  (:meth:`gridgis.access.Policy.may_see_people` of the member's street), masked
  otherwise (:func:`mask_member`);
- an analyst sees figures only (:func:`member_figures`), never a member.

Figures count members per organisation and per cell (a member's cell is the
active cell holding the point of their building), by kind, sex, age band
(:data:`AGE_BANDS`) and the 报到 of 在职党员 at their home community.

Examples
--------
>>> figures = member_figures(engine, year=2026)
>>> sorted(figures)[:3]
['age', 'cells', 'central_households']
>>> age_band(1995, 2026), age_band(1940, 2026), age_band(None, 2026)
('<35', '80+', 'unknown')
>>> mask_member("梅园路12号3栋2单元301室", "address"), mask_member(1958, "birth_year")
('梅园路12号*********', '19**')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Select, false, func, or_, select

from gridgis.access import Policy
from gridgis.audit import mask_person
from gridgis.db.models import Building, GridCell, PartyBranch, PartyMember
from gridgis.db.queries import result_frame
from gridgis.errors import ForbiddenError, InputError

__all__ = [
    "AGE_BANDS",
    "FILTERS",
    "PERSON_FIELDS",
    "MemberView",
    "age_band",
    "list_members",
    "mask_member",
    "member_figures",
    "member_view",
    "members_frame",
]

AGE_BANDS: tuple[str, ...] = ("<35", "35-59", "60-79", "80+")
"""The age bands of the figures (``unknown``: no birth year)."""

PERSON_FIELDS: tuple[str, ...] = ("name", "phone", "id_number", "address", "birth_year")
"""A member's personal data: shown only to those who may see the people of their street."""

FILTERS: tuple[str, ...] = ("organisation", "kind", "community", "cell", "age", "reported")
"""The filters of the list and the figures."""

_KEPT = 6
"""Characters of an address kept when it is masked (the road, not the door)."""


def age_band(birth_year: int | None, year: int) -> str:
    """The age band (:data:`AGE_BANDS`) in ``year`` of someone born in ``birth_year``."""
    if birth_year is None or pd.isna(birth_year):
        return "unknown"
    age = year - int(birth_year)
    if age < 35:
        return "<35"
    if age < 60:
        return "35-59"
    return "60-79" if age < 80 else "80+"


def mask_member(value: Any, field: str) -> Any:
    """A member's datum as shown to someone who may not see it.

    Names keep their first character, phones and ID numbers their last four
    (:func:`gridgis.audit.mask_person`), an address its first six characters, a
    birth year its century (``19**``). Other fields are shown as they are.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if field == "address":
        text = str(value)
        return text[:_KEPT] + "*" * max(len(text) - _KEPT, 2)
    if field == "birth_year":
        return str(int(value))[:2] + "**"
    if field in ("name", "phone", "id_number"):
        return mask_person(value, field)
    return value


@dataclass(frozen=True)
class MemberView:
    """Which members a user sees, and whose personal data.

    Attributes
    ----------
    within:
        The street (9 digits) whose residents and organisations are seen; ``None``: all.
    rows:
        Whether the user sees members at all (an analyst sees figures only).
    policy:
        The user's policy (:meth:`reveals` asks its ``may_see_people``).
    """

    within: str | None
    rows: bool
    policy: Policy

    def reveals(self, street_code: str | None) -> bool:
        """Whether the personal data of a member living in ``street_code`` is shown."""
        return self.policy.may_see_people(street_code)


def member_view(policy: Policy) -> MemberView:
    """What ``policy``'s user sees of the register (see the module's notes).

    Raises
    ------
    ForbiddenError
        For a user who reads no area (a department, nobody signed in).
    """
    if not policy.signed_in or policy.role == "department":
        raise ForbiddenError(
            f"user {policy.name or ''!r} may not read the members register",
            zh=f"用户 {policy.name or ''!r} 无权查看党员名册",
        )
    return MemberView(
        within=policy.street, rows=policy.role in ("admin", "street", "worker"), policy=policy
    )


def _query(within: str | None) -> Select[Any]:
    cell = (
        select(GridCell.code)
        .where(
            GridCell.valid_to.is_(None),
            GridCell.community_code == Building.community_code,  # a few cells to test, not all
            func.ST_Covers(GridCell.geom, Building.location),
        )
        .order_by(GridCell.code)  # a point on a shared edge: the smallest code, as geocode does
        .limit(1)
        .scalar_subquery()
    )
    query: Any = (
        select(
            PartyMember.id,
            PartyMember.external_id,
            PartyMember.name,
            PartyMember.sex,
            PartyMember.birth_year,
            PartyMember.joined_on,
            PartyMember.kind,
            PartyMember.phone,
            PartyMember.id_number,
            PartyMember.address,
            PartyMember.community_code,
            PartyMember.street_code,
            PartyMember.report_community_code,
            PartyMember.reported_on,
            PartyMember.central_household,
            PartyMember.branch_id,
            PartyBranch.external_id.label("organisation"),
            PartyBranch.name.label("organisation_name"),
            PartyBranch.community_code.label("organisation_community"),
            Building.external_id.label("building"),
            cell.label("cell_code"),
        )
        .outerjoin(PartyBranch, PartyBranch.id == PartyMember.branch_id)
        .outerjoin(Building, Building.id == PartyMember.building_id)
        .order_by(PartyMember.id)
    )
    if within is not None:
        query = query.where(
            or_(
                PartyMember.street_code.startswith(within, autoescape=True),
                PartyBranch.community_code.startswith(within, autoescape=True),
            )
        )
    return query


def _checked(filters: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise InputError(
            f"filters {unknown} are not known; the filters are {list(FILTERS)}",
            zh=f"未知的筛选条件 {unknown}；可用的筛选条件：{list(FILTERS)}",
        )
    out = {k: v for k, v in filters.items() if v is not None and v != ""}
    if "age" in out and out["age"] not in (*AGE_BANDS, "unknown"):
        raise InputError(
            f"`age` was {out['age']!r} but is expected to be one of {[*AGE_BANDS, 'unknown']}",
            field="age",
            zh=f"`age` 为 {out['age']!r}，应为以下之一：{[*AGE_BANDS, 'unknown']}",
        )
    return out


def members_frame(
    bind: Engine | Connection,
    *,
    within: str | None = None,
    filters: Mapping[str, Any] | None = None,
    year: int | None = None,
) -> pd.DataFrame:
    """The members living in, or organised in, the area ``within`` (all when ``None``), one
    row each with their organisation, cell, ``age_band`` in ``year`` and ``reported``
    (an 在职党员 who reported to a community), as stored (nothing masked).

    ``filters`` (:data:`FILTERS`): ``organisation`` (its id in the file, or the database
    id), ``kind``, ``community`` (where the member lives), ``cell`` (code), ``age`` (a
    band) and ``reported`` (``True``/``False``).
    """
    chosen = _checked(filters or {})
    query = _query(within)
    if (organisation := chosen.get("organisation")) is not None:
        text = str(organisation)
        # the database id too, when the text is one an integer column can hold
        by_id = PartyBranch.id == int(text) if text.isdigit() and len(text) < 10 else false()
        query = query.where(or_(PartyBranch.external_id == text, by_id))
    if (kind := chosen.get("kind")) is not None:
        query = query.where(PartyMember.kind == kind)
    if (community := chosen.get("community")) is not None:
        query = query.where(PartyMember.community_code == community)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            frame = result_frame(conn.execute(query))
    else:
        frame = result_frame(bind.execute(query))
    when = year if year is not None else dt.date.today().year
    frame["age_band"] = [age_band(b, when) for b in frame["birth_year"].tolist()]
    frame["reported"] = (frame["kind"] == "employed") & frame["report_community_code"].notna()
    keep = np.ones(len(frame), dtype=bool)
    if (cell := chosen.get("cell")) is not None:
        keep &= (frame["cell_code"] == cell).to_numpy()
    if (band := chosen.get("age")) is not None:
        keep &= (frame["age_band"] == band).to_numpy()
    if (reported := chosen.get("reported")) is not None:
        keep &= (frame["reported"] == bool(reported)).to_numpy()
        keep &= (frame["kind"] == "employed").to_numpy()
    return frame.loc[keep].reset_index(drop=True)


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def list_members(
    bind: Engine | Connection,
    policy: Policy,
    *,
    filters: Mapping[str, Any] | None = None,
    year: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The members ``policy``'s user sees, a page of them, personal data masked where it may
    not see it.

    Returns
    -------
    dict
        ``total`` (members matching), ``members`` (the page: ``id``, ``name``, ``sex``,
        ``birth_year``, ``age_band``, ``joined_on``, ``kind``, ``organisation``,
        ``organisation_name``, ``phone``, ``id_number``, ``address``, ``community_code``,
        ``cell_code``, ``reported``, ``reported_on``, ``central_household``, ``masked``).

    Raises
    ------
    ForbiddenError
        For an analyst (figures only) or a user who reads no area.
    """
    view = member_view(policy)
    if not view.rows:
        raise ForbiddenError(
            f"user {policy.name or ''!r} sees the figures of the members register only, "
            "not its members",
            zh=f"用户 {policy.name or ''!r} 只能查看党员名册的统计数字，不能查看党员名单",
        )
    frame = members_frame(bind, within=view.within, filters=filters, year=year)
    page = frame.iloc[offset : offset + limit]
    out = []
    for row in page.to_dict("records"):  # a page of rows, each masked on its own
        shown = view.reveals(row["street_code"])
        item = {
            "id": row["external_id"] if row["external_id"] is not None else str(row["id"]),
            "name": row["name"],
            "sex": row["sex"],
            "birth_year": row["birth_year"],
            "age_band": row["age_band"],
            "joined_on": row["joined_on"],
            "kind": row["kind"],
            "organisation": row["organisation"],
            "organisation_name": row["organisation_name"],
            "phone": row["phone"],
            "id_number": row["id_number"],
            "address": row["address"],
            "community_code": row["community_code"],
            "cell_code": row["cell_code"],
            "reported": bool(row["reported"]),
            "report_community_code": row["report_community_code"],
            "reported_on": row["reported_on"],
            "central_household": bool(row["central_household"]),
            "masked": not shown,
        }
        if not shown:
            item.update({f: mask_member(item[f], f) for f in PERSON_FIELDS})
        out.append({k: _plain(v) for k, v in item.items()})
    return {"total": len(frame), "members": out}


def _counted(frame: pd.DataFrame) -> dict[str, Any]:
    """The counts of one group of members."""
    return _counted_by(frame, pd.Series(0, index=frame.index)).get(0, _counted_by.empty())


def _shares(table: pd.DataFrame, order: tuple[str, ...] | None = None) -> dict[Any, dict[str, int]]:
    """A cross table's non-zero counts per group (columns in ``order``, else sorted)."""
    names = order if order is not None else tuple(sorted(str(c) for c in table.columns))
    rows = table.to_dict("index")
    return {g: {n: int(r[n]) for n in names if r.get(n)} for g, r in rows.items()}


def _crossed(key: pd.Series, values: pd.Series) -> pd.DataFrame:
    """How many rows of each group (``key``) have each value (a cross table)."""
    return values.groupby(key).value_counts().unstack(fill_value=0)


class _CountedBy:
    """Counts of members per group, a few vectorised group-bys for every group at once."""

    @staticmethod
    def empty() -> dict[str, Any]:
        return {"members": 0, "kind": {}, "sex": {}, "age": {}, "employed": 0, "reported": 0,
                "reported_share": None, "central_households": 0}  # fmt: skip

    def __call__(self, frame: pd.DataFrame, key: pd.Series) -> dict[Any, dict[str, Any]]:
        if frame.empty:
            return {}
        employed = (frame["kind"] == "employed").groupby(key).sum().to_dict()
        reported = frame["reported"].astype(bool).groupby(key).sum().to_dict()
        central = frame["central_household"].astype(bool).groupby(key).sum().to_dict()
        members = key.value_counts().to_dict()
        kinds = _shares(_crossed(key, frame["kind"]))
        sexes = _shares(_crossed(key, frame["sex"].fillna("unknown")))
        ages = _shares(_crossed(key, frame["age_band"]), (*AGE_BANDS, "unknown"))
        out: dict[Any, dict[str, Any]] = {}
        for group in sorted(members, key=str):  # a dict per group
            hired, came = int(employed[group]), int(reported[group])
            out[group] = {
                "members": int(members[group]),
                "kind": kinds[group],
                "sex": sexes[group],
                "age": ages[group],
                "employed": hired,
                "reported": came,
                "reported_share": round(came / hired, 4) if hired else None,
                "central_households": int(central[group]),
            }
        return out


_counted_by = _CountedBy()


def member_figures(
    bind: Engine | Connection,
    *,
    within: str | None = None,
    filters: Mapping[str, Any] | None = None,
    year: int | None = None,
) -> dict[str, Any]:
    """Counts of the members of the area ``within`` (all when ``None``): in all, per
    organisation and per cell, each by kind, sex, age band, 报到 of 在职党员, 党员中心户.

    Returns
    -------
    dict
        The counts of all (``members``, ``kind``, ``sex``, ``age``, ``employed``,
        ``reported``, ``reported_share``, ``central_households``), ``year``,
        ``organisations`` (each with ``organisation``, ``name``, ``community_code``
        and its counts; members of no organisation under ``organisation`` ``None``) and
        ``cells`` (each with ``cell_code`` and its counts; members placed in no cell
        under ``None``).
    """
    when = year if year is not None else dt.date.today().year
    frame = members_frame(bind, within=within, filters=filters, year=when)
    figures = _counted(frame) | {"year": when, "within": within}
    branch = frame["branch_id"].astype("Int64").fillna(-1).astype("int64")
    named = frame.assign(branch=branch).drop_duplicates("branch").set_index("branch")
    organisations = [
        {
            "organisation": None if b < 0 else named.at[b, "organisation"],
            "name": None if b < 0 else named.at[b, "organisation_name"],
            "community_code": None if b < 0 else named.at[b, "organisation_community"],
        }
        | counts
        for b, counts in _counted_by(frame, branch).items()
    ]
    cell = frame["cell_code"].astype(object).where(frame["cell_code"].notna(), "")
    cells = [
        {"cell_code": code or None} | counts for code, counts in _counted_by(frame, cell).items()
    ]
    return figures | {"organisations": organisations, "cells": cells}
