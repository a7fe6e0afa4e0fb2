"""Normalising Chinese addresses: one canonical form for matching.

:func:`normalise_address` (and ``_normalise``, which can keep the province
and city prefix) gives half-width digits, no spaces or punctuation, one
word per part (栋, 单元, 室) and Arabic numbers for the Chinese numerals of
those parts.
"""

from __future__ import annotations

import re
import unicodedata

_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}  # fmt: skip
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
_CN_NUMBER = re.compile(rf"第?([{_CN_CHARS}]+)(号楼|号房|号|栋|幢|座|单元|室|楼|层|门|房)(?=(.?))")
# After which markers a Chinese numeral is a number, depending on what follows the marker:
# 号 not before 路/街/… (三号路 is a name); 门/房/座/楼 only before the end, a digit, a numeral or
# another part (三门峡, 五楼村 and 三座桥 are names).
_NAME_AFTER_NUMBER = set("路街巷道桥线院村港湾")
_PART_START = set("0123456789" + _CN_CHARS + "第单室层")
_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|\{[^{}]*\}")
_SPACED_DIGITS = re.compile(r"(?<=\d)\s+(?=\d)")
_SPACE = re.compile(r"\s+")
_HYPHENS = re.compile(r"[‐‑‒–—―−－~～_]")
_PROVINCE = re.compile(r"^[^\d]{2,8}?(?:省|自治区|特别行政区)")
_CHINA = re.compile(r"^(?:中国|中华人民共和国)")
_CITY = re.compile(r"^[^\d]{2,4}?市(?![场路街巷道桥区])")
_DISTRICT_AHEAD = re.compile(r"^[^\d]{1,5}?(?<![社小街片园校景厂舍业])(?:区|县|市|旗)")
_NOT_WORD = re.compile(r"[^\w-]|_")
_LONE_HYPHEN = re.compile(r"(?<!\d)-|-(?!\d)")
_TRAILING_NOISE = re.compile(r"(?:附近|门口|对面|旁边|一带|周边|楼下|旁|处)+$")
_REPLACEMENTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # (a text the pattern needs, so most addresses skip most patterns; pattern; replacement)
    ("街道办", re.compile(r"街道办事处|街道办"), "街道"),
    ("-", re.compile(r"(?<=\D)(\d+)-(\d+)栋"), r"\1号\2栋"),
    ("-", re.compile(r"(\d+)号(\d+)-(\d+)-(\d+)(?![\d-])"), r"\1号\2栋\3单元\4室"),
    ("-", re.compile(r"(\d+)号(\d+)-(\d+)(?![\d-])"), r"\1号\2栋\3室"),
    ("-", re.compile(r"(\d+)栋(\d+)-(\d+)(?![\d-])"), r"\1栋\2单元\3室"),
    ("第", re.compile(r"第(\d+)(?=号|栋|幢|座|单元|室|楼|层|门|房)"), r"\1"),
    ("号楼", re.compile(r"(\d+)号楼"), r"\1栋"),
    ("幢", re.compile(r"(\d+)幢"), r"\1栋"),
    ("座", re.compile(r"(\d+)座"), r"\1栋"),
    ("房", re.compile(r"(\d+)号?房"), r"\1室"),
    ("门", re.compile(r"(\d+)门(?![口面前外])"), r"\1单元"),
    ("单元号", re.compile(r"(\d+)单元号"), r"\1单元"),
    ("单元", re.compile(r"(\d+)栋(\d+)单元(\d+)$"), r"\1栋\2单元\3室"),
    ("单元", re.compile(r"(\d+)单元(\d+)$"), r"\1单元\2室"),
)
_HASH_BUILDING = re.compile(r"#楼")
_HASH_NUMBER = re.compile(r"(\d+)#")
_FLOOR_AS_BUILDING = re.compile(r"(\d+)楼(?![道盘])")


def _cn_to_int(numeral: str) -> int:
    """The value of a Chinese numeral: 十二 → 12, 一百零二 → 102, 五〇二 → 502."""
    if not any(ch in _CN_UNITS for ch in numeral):
        return int("".join(str(_CN_DIGITS[ch]) for ch in numeral))
    total = 0
    current = 0
    for ch in numeral:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        else:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
    return total + current


def _convert_numeral(match: re.Match[str]) -> str:
    numeral, marker, following = match.group(1), match.group(2), match.group(3)
    if marker == "号" and following in _NAME_AFTER_NUMBER:
        return match.group(0)
    if marker in ("门", "房", "座", "楼") and following and following not in _PART_START:
        return match.group(0)
    return f"{_cn_to_int(numeral)}{marker}"


def _normalise(text: str, *, drop_prefix: bool) -> str:
    out = unicodedata.normalize("NFKC", text).upper()
    if not out.isalnum():
        out = _BRACKETS.sub("", out)
        out = _HYPHENS.sub("-", out)
        out = _SPACED_DIGITS.sub("-", out)
        out = _SPACE.sub("", out)
    out = _CN_NUMBER.sub(_convert_numeral, out)
    if "#" in out:
        out = _HASH_BUILDING.sub("栋", out)
        out = _HASH_NUMBER.sub(r"\1号", out)
    if not out.isalnum():
        out = _NOT_WORD.sub("", out)
        out = _LONE_HYPHEN.sub("", out)
    for needed, pattern, replacement in _REPLACEMENTS:
        if needed in out:
            out = pattern.sub(replacement, out)
    if "楼" in out:
        out = _FLOOR_AS_BUILDING.sub(r"\1层" if "栋" in out else r"\1栋", out)
    out = _TRAILING_NOISE.sub("", out)
    if drop_prefix:
        out = _CHINA.sub("", out, count=1)
        province = _PROVINCE.match(out)
        if province:
            out = out[province.end() :]
        city = _CITY.match(out)
        # A city is dropped after a province, or before a district (莆田市荔城区), not in a name
        # (新城市广场).
        if city and (province or _DISTRICT_AHEAD.match(out[city.end() :])):
            out = out[city.end() :]
    return out


def normalise_address(text: str) -> str:
    """Return ``text`` in the canonical form addresses are compared in.

    - NFKC: full-width digits, letters and spaces become half-width; letters
      are upper-cased;
    - remarks in brackets, spaces, punctuation and trailing words such as
      附近 / 门口 are dropped; a space or dash between two numbers is kept as
      ``-`` (``12 3`` is not ``123``); ``12号3-2-502`` is 3栋2单元502室;
    - the parts: 幢 / 座 / 号楼 / 楼 → 栋 (楼 is a floor, 层, when a 栋 is
      also given), 门 → 单元, 房 / 号房 → 室, 街道办事处 → 街道; bare digits
      after a 栋 or 单元 are the 室;
    - Chinese numerals directly before those parts become Arabic (十二号 →
      12号, 两单元 → 2单元, 五〇二室 → 502室); numerals in names stay
      (三里屯, 第一中学, 三门峡, 三号路);
    - a leading province and city (福建省莆田市) are dropped.

    Parameters
    ----------
    text:
        An address as written.

    Returns
    -------
    str
        The canonical form (empty for an empty or ``None`` text).

    Examples
    --------
    >>> normalise_address("福建省莆田市荔城区 镇海街道 文献社区瑞隆里５９号一幢二单元五〇二室")
    '荔城区镇海街道文献社区瑞隆里59号1栋2单元502室'
    >>> normalise_address("梅园路十二号3号楼2门")
    '梅园路12号3栋2单元'
    """
    if not text:
        return ""
    return _normalise(str(text), drop_prefix=True)
