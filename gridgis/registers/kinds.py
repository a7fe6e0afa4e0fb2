"""The coded values of the rosters: workers' roles, kinds of party organisation and of facility.

Each is stored as a short English code and named in Chinese in files, templates
and pages. A file may give the Chinese name, a common synonym or the code
itself; :func:`role_codes`, :func:`branch_kind` and :func:`facility_kind` read
them. Roles besides the built-in ones are configured with ``GRIDGIS_WORKER_ROLES``
(``volunteer=志愿者,liaison=物业联络员``); a facility of a kind not listed is
``other`` and keeps the name the file gave it.

Examples
--------
>>> role_codes("网格长、楼栋长")
(['grid_leader', 'building_leader'], [])
>>> role_codes("专职网格员/保洁员")
(['full_time_worker'], ['保洁员'])
>>> branch_kind("党总支"), branch_kind("party group"), branch_kind("团支部")
('general_branch', 'group', None)
>>> facility_kind("社区卫生服务站"), facility_kind("文化活动室")
('health', 'other')
"""

from __future__ import annotations

import re

from gridgis.config import settings
from gridgis.db.models import BRANCH_KINDS, FACILITY_KINDS

__all__ = [
    "BRANCH_KIND_NAMES",
    "FACILITY_KIND_NAMES",
    "WORKER_ROLE_NAMES",
    "branch_kind",
    "facility_kind",
    "role_codes",
    "split_list",
    "worker_roles",
]

WORKER_ROLE_NAMES: dict[str, str] = {
    "full_time_worker": "专职网格员",
    "part_time_worker": "兼职网格员",
    "grid_leader": "网格长",
    "building_leader": "楼栋长",
    "unit_leader": "单元长",
    "instructor": "网格指导员",
}
"""The built-in roles of grid people: code -> Chinese name."""

_ROLE_SYNONYMS: dict[str, str] = {
    "网格员": "full_time_worker",
    "专职": "full_time_worker",
    "兼职": "part_time_worker",
    "grid worker": "full_time_worker",
    "full-time grid worker": "full_time_worker",
    "part-time grid worker": "part_time_worker",
    "grid leader": "grid_leader",
    "building leader": "building_leader",
    "unit leader": "unit_leader",
    "楼长": "building_leader",
    "指导员": "instructor",
}

BRANCH_KIND_NAMES: dict[str, str] = {
    "committee": "党委",
    "general_branch": "党总支",
    "branch": "党支部",
    "group": "党小组",
}
"""Kinds of party organisation: code -> Chinese name (the codes of ``party_branch.kind``)."""

_BRANCH_SYNONYMS: dict[str, str] = {
    "社区党委": "committee",
    "党工委": "committee",
    "party committee": "committee",
    "总支": "general_branch",
    "党总支部": "general_branch",
    "general branch": "general_branch",
    "支部": "branch",
    "网格党支部": "branch",
    "党支部委员会": "branch",
    "party branch": "branch",
    "小组": "group",
    "楼栋党小组": "group",
    "party group": "group",
}

FACILITY_KIND_NAMES: dict[str, str] = {
    "centre": "党群服务中心",
    "station": "社区服务站",
    "health": "卫生服务站",
    "police": "警务室",
    "school": "学校",
    "elderly": "养老",
    "other": "其他",
}
"""Kinds of service facility: code -> Chinese name (the codes of ``service_facility.kind``).
``station`` is the community's (party-mass) service station, as the demo's 党群服务站."""

_FACILITY_SYNONYMS: dict[str, str] = {
    "党群服务站": "station",
    "社区党群服务站": "station",
    "服务站": "station",
    "社区党群服务中心": "centre",
    "街道党群服务中心": "centre",
    "服务中心": "centre",
    "社区卫生服务站": "health",
    "社区卫生服务中心": "health",
    "卫生室": "health",
    "卫生院": "health",
    "诊所": "health",
    "警务站": "police",
    "派出所": "police",
    "小学": "school",
    "中学": "school",
    "幼儿园": "school",
    "养老院": "elderly",
    "敬老院": "elderly",
    "养老服务中心": "elderly",
    "日间照料中心": "elderly",
    "老年人日间照料中心": "elderly",
}

assert set(BRANCH_KIND_NAMES) == set(BRANCH_KINDS), "the names cover the database's kinds"
assert set(FACILITY_KIND_NAMES) == set(FACILITY_KINDS), "the names cover the database's kinds"

_SEPARATORS = re.compile(r"[,，、;；/|\n]+")
_SPACE = re.compile(r"\s+")


def split_list(value: object) -> list[str]:
    """The items of a list written in one cell: ``a、b``, ``a,b``, ``a；b``, ``a/b``.

    Examples
    --------
    >>> split_list("350304001001001、 350304001001002；"), split_list(None)
    (['350304001001001', '350304001001002'], [])
    """
    if value is None:
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [item.strip() for item in _SEPARATORS.split(str(value)) if item.strip()]


def _key(text: str) -> str:
    return _SPACE.sub(" ", text.strip()).casefold()


def worker_roles() -> dict[str, str]:
    """Every role accepted now: the built-in ones and ``GRIDGIS_WORKER_ROLES``, code -> name.

    Examples
    --------
    >>> from gridgis.config import settings
    >>> list(worker_roles())[:2]
    ['full_time_worker', 'part_time_worker']
    """
    roles = dict(WORKER_ROLE_NAMES)
    configured = settings().worker_roles
    for pair in filter(None, (p.strip() for p in configured.split(","))):
        code, _, name = pair.partition("=")
        roles[code.strip()] = name.strip()
    return roles


def _lookup(
    text: str, names: dict[str, str], synonyms: dict[str, str], default: str | None = None
) -> str | None:
    key = _key(text)
    for code, name in names.items():
        if key in (code, _key(name)):
            return code
    found = {_key(k): v for k, v in synonyms.items()}.get(key)
    return found if found is not None else default


def role_codes(value: object) -> tuple[list[str], list[str]]:
    """The role codes of a cell of roles (``网格长、楼栋长``), and the items not understood.

    Each item is a role's Chinese name, its code or a synonym (网格员 = 专职网格员,
    楼长 = 楼栋长); roles come back once each, in the order given.
    """
    roles = worker_roles()
    codes: list[str] = []
    unknown: list[str] = []
    for item in split_list(value):
        code = _lookup(item, roles, _ROLE_SYNONYMS)
        if code is None:
            unknown.append(item)
        elif code not in codes:
            codes.append(code)
    return codes, unknown


def branch_kind(value: object) -> str | None:
    """The code of a kind of party organisation (党委, 党总支, 党支部, 党小组), or ``None``."""
    if value is None or not str(value).strip():
        return None
    return _lookup(str(value), BRANCH_KIND_NAMES, _BRANCH_SYNONYMS)


def facility_kind(value: object) -> str | None:
    """The code of a kind of facility; ``other`` for a kind not listed, ``None`` for none."""
    if value is None or not str(value).strip():
        return None
    return _lookup(str(value), FACILITY_KIND_NAMES, _FACILITY_SYNONYMS, default="other")
