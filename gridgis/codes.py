"""Area codes: the one rule for what a code looks like and which level it names.

China's administrative division codes nest by prefix: a district (区/县) has
6 digits, a street office (街道/乡镇) 9, a community (社区/村) 12, and a grid
cell (网格) 15, the first 12 being its community's. Every module that checks
a code, tells its level from its length or cuts it to a parent asks this one.

A code is ASCII digits only: full-width digits (``３５０３０４``, common in
Chinese spreadsheets) and other Unicode digits for which :meth:`str.isdigit`
is true are not codes (the database's ``code_format`` constraints refuse
them too).

Examples
--------
>>> level_of("350304001")
'street'
>>> is_code("350304001007", "community"), is_code("３５０３０４", "district")
(True, False)
>>> parent_code("350304001007003", "street")
'350304001'
"""

from __future__ import annotations

import re
from typing import Literal

from gridgis.errors import InputError

__all__ = [
    "LEVELS",
    "LEVEL_DIGITS",
    "LEVEL_ZH",
    "PARENT_LEVEL",
    "Level",
    "check_code",
    "code_pattern",
    "default_cell_name",
    "is_code",
    "level_of",
    "parent_code",
]

Level = Literal["district", "street", "community", "cell"]
"""The levels of the hierarchy, from the top."""

LEVELS: tuple[Level, ...] = ("district", "street", "community", "cell")
"""Every level, from the top."""

LEVEL_DIGITS: dict[str, int] = {"district": 6, "street": 9, "community": 12, "cell": 15}
"""Length of the official code at each level."""

LEVEL_ZH: dict[str, str] = {"district": "区", "street": "街道", "community": "社区", "cell": "网格"}
"""What each level is called in Chinese (for messages)."""

PARENT_LEVEL: dict[str, str | None] = {
    "district": None,
    "street": "district",
    "community": "street",
    "cell": "community",
}
"""The level each level's areas lie in (``None`` above a district)."""

_DIGITS = re.compile(r"[0-9]+")
_LEVEL_OF_LENGTH: dict[int, Level] = {LEVEL_DIGITS[level]: level for level in LEVELS}


def _level(level: str) -> Level:
    if level not in LEVEL_DIGITS:
        raise InputError(
            f"`level` was {level!r} but is expected to be one of {list(LEVELS)}",
            zh=f"`level` 为 {level!r}，应为以下之一：{list(LEVELS)}",
        )
    return level  # type: ignore[return-value]


def code_pattern(level: str) -> str:
    """The regular expression (anchored) of a code of ``level``, as JSON Schema and SQL write it.

    Examples
    --------
    >>> code_pattern("street")
    '^[0-9]{9}$'
    """
    return f"^[0-9]{{{LEVEL_DIGITS[_level(level)]}}}$"


def is_code(value: object, level: str) -> bool:
    """Whether ``value`` is a code of ``level``: text of exactly that many ASCII digits.

    Examples
    --------
    >>> is_code("350304", "district"), is_code("35030", "district"), is_code(350304, "district")
    (True, False, False)
    """
    digits = LEVEL_DIGITS[_level(level)]
    return isinstance(value, str) and len(value) == digits and bool(_DIGITS.fullmatch(value))


def check_code(value: object, level: str, *, name: str | None = None) -> str:
    """``value`` if it is a code of ``level``, else an :class:`InputError` naming it.

    Parameters
    ----------
    value:
        The code to check.
    level:
        ``"district"``, ``"street"``, ``"community"`` or ``"cell"``.
    name:
        The argument's name in the message (default: the level).

    Raises
    ------
    InputError
        ``"`street` was '35030400' but is expected to be a 9-digit code"``.

    Examples
    --------
    >>> check_code("350304001", "street")
    '350304001'
    """
    if not is_code(value, level):
        digits = LEVEL_DIGITS[_level(level)]
        raise InputError(
            f"`{name or level}` was {value!r} but is expected to be a {digits}-digit code",
            zh=f"`{name or level}` 为 {value!r}，应为 {digits} 位编码",
        )
    return value  # type: ignore[return-value]


def level_of(code: object) -> Level:
    """The level of an area code: 6 digits a district, 9 a street, 12 a community, 15 a cell.

    Raises
    ------
    InputError
        When ``code`` is not 6, 9, 12 or 15 ASCII digits.

    Examples
    --------
    >>> level_of("350304001")
    'street'
    """
    if isinstance(code, str) and _DIGITS.fullmatch(code) and len(code) in _LEVEL_OF_LENGTH:
        return _LEVEL_OF_LENGTH[len(code)]
    raise InputError(
        f"`code` was {code!r} but is expected to be an area code of 6 (district), "
        "9 (street), 12 (community) or 15 (cell) digits",
        zh=f"`code` 为 {code!r}，应为 6 位（区）、9 位（街道）、12 位（社区）"
        "或 15 位（网格）的编码",
    )


def parent_code(code: str, level: str) -> str:
    """The code of the area of ``level`` that holds ``code``: its prefix of that length.

    ``code`` is taken as it is (check it first); ``level`` must be its own level or
    one above.

    Examples
    --------
    >>> parent_code("350304001007003", "community")
    '350304001007'
    """
    return code[: LEVEL_DIGITS[_level(level)]]


_COMMITTEE = re.compile(r"(居民委员会|居委会)$")
_VILLAGE_COMMITTEE = re.compile(r"村(民委员会|委会)$")


def default_cell_name(community_name: str | None, cell_code: str) -> str:
    """The name a cell gets when nobody gave it one: its community's short name + 第N网格.

    N is the cell code's sequence number; 居民委员会/居委会 is dropped and a
    村民委员会/村委会 becomes 村. The database applies the same rule to every cell
    inserted without a name (migration 0013).

    Examples
    --------
    >>> default_cell_name("七境社区居委会", "350304001001003")
    '七境社区第3网格'
    >>> default_cell_name("沟尾村委会", "350304100201012")
    '沟尾村第12网格'
    """
    short = _VILLAGE_COMMITTEE.sub("村", _COMMITTEE.sub("", community_name or ""))
    return f"{short}第{int(cell_code[-3:])}网格"
