"""Parsing a normalised address into its parts, by rule alone.

:func:`parse_address` returns a :class:`ParsedAddress`: district, street
office, community, road (or compound, hamlet), number, building, unit and
room. ``_split_tail`` and the generic place patterns are shared with the
address book, which reads places with its own names first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gridgis.address.normalising import normalise_address


@dataclass(frozen=True)
class ParsedAddress:
    """The parts of an address (each ``None`` when not given).

    Attributes
    ----------
    district, street, community:
        Place names as written (荔城区, 镇海街道, 东梅社区 or 美澜村).
    road:
        The place before the number: a road, lane or street (路 街 巷 里 弄
        道 大道), a hamlet or village (村, 组, 自然村), or a compound (小区)
        when no number is given (梅园小区3栋).
    number:
        The house number (门牌号, 号).
    building, unit:
        栋 and 单元.
    room:
        室 (text: rooms may carry letters).
    compound:
        A compound named between the number and the building
        (梅园路12号 **梅园小区** 3栋).
    """

    district: str | None = None
    street: str | None = None
    community: str | None = None
    road: str | None = None
    number: int | None = None
    building: int | None = None
    unit: int | None = None
    room: str | None = None
    compound: str | None = None


_TAIL = re.compile(
    r"^(?P<head>.*?)"
    r"(?:(?P<number>\d+)号)?"
    r"(?P<compound>\D*?)"
    r"(?:(?P<building>\d+)栋)?"
    r"(?:(?P<unit>\d+)单元)?"
    r"(?:\d+层)?"
    r"(?:(?P<room>\d+[A-Z]?|[A-Z]\d+)(?P<room_mark>室)?)?$"
)
_GENERIC_DISTRICT = re.compile(
    r"^[^\d]{1,5}?(?<![社小街片园校景厂舍业])(?:区|县|旗)|^[^\d]{2,5}?市(?![场路街巷道桥])"
)
_GENERIC_STREET = re.compile(r"^(?:(?!社区|路|巷)[^\d]){1,10}?(?:街道|镇|乡)")
_GENERIC_COMMUNITY = re.compile(
    r"^[^\d]{1,10}?(?:社区居民委员会|社区居委会|社区|村民委员会|村委会|居委会|村(?=[^\d]))"
)


@dataclass(frozen=True)
class _Tail:
    head: str
    number: int | None
    building: int | None
    unit: int | None
    room: str | None
    compound: str


def _split_tail(norm: str) -> _Tail:
    """Split a normalised address into what precedes the number and the numbered parts."""
    m = _TAIL.match(norm)
    assert m is not None  # the head alone can take the whole text
    head, compound = m.group("head"), m.group("compound")
    number = int(m.group("number")) if m.group("number") else None
    building = int(m.group("building")) if m.group("building") else None
    unit = int(m.group("unit")) if m.group("unit") else None
    room = m.group("room")
    if number is None:
        head, compound = head + compound, ""
        bare = room is not None and not m.group("room_mark") and room.isdigit()
        if bare and building is None and unit is None:
            # 梅园路12: a number without 号.
            number, room = int(m.group("room")), None
    return _Tail(head, number, building, unit, room, compound)


def _is_place(m: re.Match[str], head: str) -> bool:
    """Whether a place found by its suffix is one: a city (市) only before a street office."""
    if not m.group(0).endswith("市"):
        return True
    return _GENERIC_STREET.match(head[m.end() :]) is not None


def _generic_places(head: str) -> tuple[str | None, str | None, str | None, str]:
    """District, street office and community at the start of ``head`` by their suffixes."""
    found: list[str | None] = []
    for pattern in (_GENERIC_DISTRICT, _GENERIC_STREET, _GENERIC_COMMUNITY):
        m = pattern.match(head)
        if m and _is_place(m, head):
            found.append(m.group(0))
            head = head[m.end() :]
        else:
            found.append(None)
    return found[0], found[1], found[2], head


def _generic_cuts(head: str) -> list[int]:
    """Where each place recognised by its suffix ends in ``head``, first to last."""
    cuts = []
    pos = 0
    for pattern in (_GENERIC_DISTRICT, _GENERIC_STREET, _GENERIC_COMMUNITY):
        m = pattern.match(head[pos:])
        if m and _is_place(m, head[pos:]):
            pos += m.end()
            cuts.append(pos)
    return cuts


def parse_address(text: str) -> ParsedAddress:
    """Split an address into its parts, by rule (no database needed).

    The text is normalised first (:func:`normalise_address`). Places are
    recognised by their suffixes: a district ends in 区/县/市/旗, a street
    office in 街道/镇/乡, a community in 社区 (居委会) or 村 (村委会) — a 村
    right before the number is the road (美澜村34号), one followed by a name is
    the village of a hamlet (美澜村玉墩34号). :func:`match_addresses` reads
    places with the names of an :class:`AddressBook` instead, which also
    knows short forms such as 镇海 or 东梅.

    Parameters
    ----------
    text:
        An address as written.

    Returns
    -------
    ParsedAddress
        The parts found (all ``None`` for an empty text).

    Examples
    --------
    >>> p = parse_address("荔城区镇海街道东梅社区梅园路十二号3栋2单元502室")
    >>> p.district, p.street, p.community, p.road, p.number, p.building, p.unit, p.room
    ('荔城区', '镇海街道', '东梅社区', '梅园路', 12, 3, 2, '502')
    """
    norm = normalise_address(text)
    if not norm:
        return ParsedAddress()
    tail = _split_tail(norm)
    district, street, community, road = _generic_places(tail.head)
    return ParsedAddress(
        district=district,
        street=street,
        community=community,
        road=road or None,
        number=tail.number,
        building=tail.building,
        unit=tail.unit,
        room=tail.room,
        compound=tail.compound or None,
    )
