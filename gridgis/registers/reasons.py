"""Why a row of a register import was rejected or flagged: a code, its values, two languages.

The importers word each reason in English (``"households '-3' is negative"``),
as the command line prints it and the per-row CSV keeps it. Every such
sentence has a code in :data:`REASONS`, with its English template (exactly the
importers' wording, named values in ``{braces}``) and its Chinese one.
:func:`parse` reads a row's reasons back into codes and values, :func:`say`
words them in another language: the web import page shows Chinese by default.

The words are data of the library (no Flask here): the CLI and the web layer
both use them.

Examples
--------
>>> [(r.code, r.values) for r in parse("households '-3' is negative; name missing")]
[('negative', {'field': 'households', 'value': "'-3'"}), ('missing', {'field': 'name'})]
>>> say("households '-3' is negative; name missing", "zh")
"户数 '-3' 是负数；缺少名称"
>>> codes("households '-3' is negative; name missing")
'negative;missing'
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["LANGUAGES", "REASONS", "UNKNOWN", "Reason", "Wording", "codes", "parse", "say"]

LANGUAGES: tuple[str, ...] = ("en", "zh")
"""The languages of :data:`REASONS`: English (as the importers write it) and Chinese."""

UNKNOWN = "unknown"
"""The code of a sentence no template matches (an importer's text without a code)."""

_SEPARATOR = {"en": "; ", "zh": "；"}


@dataclass(frozen=True)
class Wording:
    """A reason's templates: ``en`` exactly as the importers write it, ``zh`` for people."""

    en: str
    zh: str


REASONS: dict[str, Wording] = {
    # Values of any field (gridgis.registers.values, gridgis.intake.checks).
    "missing": Wording("{field} missing", "缺少{field}"),
    "kind_missing": Wording("kind missing ({known} or another)", "缺少类型（{known}或其他）"),
    "not_a_number": Wording("{field} {value} is not a number", "{field} {value} 不是数字"),
    "negative": Wording("{field} {value} is negative", "{field} {value} 是负数"),
    "below_minimum": Wording(
        "{field} {value} is not {relation} {minimum}", "{field} {value} 不{relation} {minimum}"
    ),
    "not_whole": Wording("{field} {value} is not a whole number", "{field} {value} 不是整数"),
    "not_yes_no": Wording(
        "{field} {value} is not yes or no (true/false, 是/否)",
        "{field} {value} 不是“是”或“否”（true/false、是/否）",
    ),
    "duplicate_id": Wording("{field} {value} is used by {rows}", "{field} {value} 重复，见{rows}"),
    "nul_character": Wording(
        "{field} {value} contains a NUL character (U+0000)", "{field} {value} 含有空字符（U+0000）"
    ),
    "nul_text": Wording("text with a NUL character (U+0000)", "文本含有空字符（U+0000）"),
    # Geometry and coordinates (buildings, placing, places).
    "no_coordinates": Wording("no coordinates", "没有坐标"),
    "no_coordinates_no_address": Wording("no coordinates and no address", "没有坐标，也没有地址"),
    "no_geometry": Wording("the feature has no geometry", "该要素没有图形"),
    "bad_wkt": Wording("wkt {value} is not a geometry in WKT", "WKT {value} 不是有效的 WKT 图形"),
    "wrong_geometry": Wording(
        "the geometry is a {type}, not a footprint or a point", "图形是 {type}，不是轮廓或点"
    ),
    "not_a_line": Wording("the geometry is a {type}, not a line", "图形是 {type}，不是线"),
    "outside_district": Wording(
        "the line does not run into district {district}'s outline",
        "该线不在区县 {district} 的轮廓内",
    ),
    "coordinates_outside_china": Wording(
        "the coordinates ({x}, {y}) are outside China (as {crs})",
        "坐标（{x}，{y}）在中国境外（按 {crs}）",
    ),
    "coordinates_not_lonlat": Wording(
        "the coordinates ({x}, {y}) are not a longitude/latitude (as {crs})",
        "坐标（{x}，{y}）不是经纬度（按 {crs}）",
    ),
    "coordinates_not_numbers": Wording(
        "coordinates ({x}, {y}) are not numbers", "坐标（{x}，{y}）不是数字"
    ),
    "point_outside_china": Wording(
        "coordinates ({x}, {y}) in {crs} are outside China", "坐标（{x}，{y}）（{crs}）在中国境外"
    ),
    "point_not_lonlat": Wording(
        "coordinates ({x}, {y}) in {crs} are not valid lon/lat",
        "坐标（{x}，{y}）（{crs}）不是有效的经纬度",
    ),
    "footprint_unrepairable": Wording(
        "the footprint is invalid and cannot be repaired (it has no area)",
        "轮廓无效且无法修复（面积为零）",
    ),
    "outside_every_community": Wording(
        "the {what} (at {lon}, {lat}) is outside every community "
        "(import the community boundaries first)",
        "{what}（位于 {lon}，{lat}）不在任何社区内（请先导入社区边界）",
    ),
    "outside_any_community": Wording(
        "the point lies in no community of the database", "该点不在数据库中的任何社区内"
    ),
    "invalid_geometry": Wording("invalid geometry: {detail}", "图形无效：{detail}"),
    # Flags and notes (stored, for a person to look at).
    "straddles": Wording(
        "straddles communities {community} (most of it) and {other}",
        "跨越社区 {community}（大部分）和 {other}",
    ),
    "repaired": Wording(
        "the footprint was invalid (self-intersecting) and was repaired",
        "轮廓无效（自相交），已修复",
    ),
    "swapped": Wording(
        "the coordinates looked like (lat, lon) and were exchanged",
        "坐标看起来是（纬度，经度），已对调",
    ),
    "swapped_read": Wording(
        "coordinates looked like (lat, lon): read as (lon, lat)",
        "坐标看起来是（纬度，经度）：已按（经度，纬度）读取",
    ),
    "height_zero": Wording("height 0 taken as not given", "高度为 0，视为未填写"),
    "not_estimated": Wording(
        "households not estimated: a point has no footprint to measure",
        "未估算户数：点没有可量算的轮廓",
    ),
    "at_cell": Wording(
        "no location given: placed inside its first cell", "未给出位置：已放在其第一个网格内"
    ),
    "placed_at_building": Wording(
        "placed by its address at building {building} (score {score}, {matched}): "
        "check it is not the same building",
        "按地址放在楼栋 {building}（得分 {score}，{matched}）：请核查是否为同一栋楼",
    ),
    "placed_at_number": Wording(
        "placed by its address at the house number only ({why}): at the middle of "
        "buildings {buildings}; give its coordinates",
        "仅按门牌号放置（{why}）：放在楼栋 {buildings} 的中间；请给出坐标",
    ),
    "serves_nothing": Wording(
        "serves no cell, building, unit or community", "没有负责任何网格、楼栋、单元或社区"
    ),
    # Addresses.
    "address_not_matched": Wording(
        "address {address} not matched: {why}", "地址 {address} 未能匹配：{why}"
    ),
    "address_not_placed": Wording(
        "address {address} cannot be placed: {why}; give the building's coordinates "
        "(only the addresses of stored buildings are known)",
        "地址 {address} 无法定位：{why}；请给出楼栋坐标（只认得已入库楼栋的地址）",
    ),
    # Codes and names looked up.
    "unknown_community": Wording(
        "unknown community {value} (neither a code nor a name)",
        "未知社区 {value}（既不是社区编码也不是社区名称）",
    ),
    "unknown_area": Wording(
        "unknown area {value} (neither a district nor a street)",
        "未知区域 {value}（既不是区县也不是街道）",
    ),
    "no_area": Wording("district or street missing", "缺少区县或街道"),
    "unknown_category": Wording(
        "unknown category {value} (known: {known})", "未知事件类别 {value}（可选：{known}）"
    ),
    "bad_code": Wording(
        "id {value} is not a code of 1 to 32 letters, digits, '_', '.' or '-'",
        "编号 {value} 不是由 1 至 32 个字母、数字、“_”“.”“-”组成的编码",
    ),
    "unknown_household_category": Wording(
        "unknown household category {value} (known: {known})",
        "未知重点户类别 {value}（可选：{known}）",
    ),
    "unknown_role": Wording(
        "unknown role {value} (known: {known})", "未知角色 {value}（可选：{known}）"
    ),
    "unknown_kind": Wording(
        "unknown kind {value} (known: {known})", "未知类型 {value}（可选：{known}）"
    ),
    "unknown_cell": Wording(
        "unknown cell code {value}: no active cell has it", "未知网格编码 {value}：没有在用的网格"
    ),
    "unknown_building": Wording(
        "unknown building {value}: neither a building id nor an address matched to a building",
        "未知楼栋 {value}：既不是楼栋编号，也没有匹配到楼栋的地址",
    ),
    "unknown_building_id": Wording(
        "unknown building {value}: no stored building has that id",
        "未知楼栋 {value}：没有该编号的已入库楼栋",
    ),
    "bad_unit": Wording(
        "unit {value} is not a unit number such as 2 or 2单元",
        "单元 {value} 不是单元号（如 2 或 2单元）",
    ),
    "unit_needs_building": Wording(
        "unit {value} needs exactly one building in the building column",
        "单元 {value} 需要在楼栋列中填且只填一栋楼",
    ),
    "bad_phone": Wording(
        "phone {value} is not a phone number (digits, with - or spaces)",
        "电话 {value} 不是电话号码（数字，可带 - 或空格）",
    ),
    "bad_id_number": Wording(
        "ID number {value} is not 18 (or 15) characters: 17 digits and a digit or X",
        "身份证号 {value} 不是 18（或 15）位：17 位数字加一位数字或 X",
    ),
    "masked": Wording(
        "{fields} masked (as an export writes it for those who may not see it) but not the "
        "masked form of the stored person's: give the real value",
        "{fields} 是脱敏后的形式，但与已存人员的脱敏形式不符：请填写真实值",
    ),
    "bad_members": Wording(
        "member count {value} is not a whole number of 0 or more",
        "党员数 {value} 不是大于等于 0 的整数",
    ),
    # Party members and their activity (issue 19).
    "not_a_date": Wording("{field} {value} is not a date", "{field} {value} 不是日期"),
    "bad_birth": Wording(
        "birth {value} is not a year or a date", "出生日期 {value} 不是年份或日期"
    ),
    "bad_sex": Wording(
        "sex {value} is not 男 or 女 (male or female)", "性别 {value} 不是“男”或“女”"
    ),
    "bad_id_check_digit": Wording(
        "ID number {value} has a wrong check digit (GB 11643)",
        "身份证号 {value} 校验位错误（GB 11643）",
    ),
    "unknown_organisation": Wording(
        "unknown organisation {value}: no organisation has that id or name",
        "未知党组织 {value}：没有该编号或名称的党组织",
    ),
    "organisation_ambiguous": Wording(
        "organisation {value} names several organisations: use its id",
        "党组织 {value} 对应多个党组织：请填写其编号",
    ),
    "unknown_member": Wording(
        "unknown member {value}: no member has that id", "未知党员 {value}：没有该编号的党员"
    ),
    "unknown_activity": Wording(
        "unknown activity {value} (known: {known})", "未知活动类型 {value}（可选：{known}）"
    ),
    "hours_needed": Wording(
        "hours missing: a {value} is counted per hour", "缺少时长：{value} 按小时计分"
    ),
    # Party organisations' parents.
    "parent_missing": Wording(
        "parent {value} does not exist: no organisation of the file or of the database has "
        "that id or name",
        "上级组织 {value} 不存在：文件和数据库中都没有这个编号或名称的组织",
    ),
    "parent_ambiguous": Wording(
        "parent {value} names several organisations of the file: use its id",
        "上级组织 {value} 对应文件中的多个组织：请填写其编号",
    ),
    "parent_itself": Wording(
        "parent {value} is the organisation itself", "上级组织 {value} 就是该组织本身"
    ),
    "parent_cycle": Wording(
        "parent {value} makes a cycle: it is its own ancestor",
        "上级组织 {value} 形成循环：它是自己的上级",
    ),
    "parent_rejected_row": Wording(
        "parent {value} ({numbering} {row}) is rejected",
        "上级组织 {value}（第 {row} {numbering}）被拒绝",
    ),
    "parent_rejected": Wording("parent {value} is rejected", "上级组织 {value} 被拒绝"),
    # A street office's import: rows of another street.
    "lies_outside_street": Wording(
        "the {what} lies in community {community}, outside street {street}",
        "{what}位于社区 {community}，不在街道 {street} 内",
    ),
    "lies_in_no_community": Wording(
        "the {what} lies in no community of street {street}", "{what}不在街道 {street} 的任何社区内"
    ),
    "stored_other_street": Wording(
        "the id is stored for a {what} of {area}, outside street {street}",
        "该编号已用于 {area} 的{what}，不在街道 {street} 内",
    ),
    "building_other_street": Wording(
        "id {value} is a building of community {community}, outside street {street}",
        "编号 {value} 是社区 {community} 的楼栋，不在街道 {street} 内",
    ),
    "address_other_street": Wording(
        "address {address} is building {building} of community {community}, "
        "outside street {street}",
        "地址 {address} 是社区 {community} 的楼栋 {building}，不在街道 {street} 内",
    ),
    "served_in_other_community": Wording(
        "{label} is in community {community}, outside street {street}",
        "{label}属于社区 {community}，不在街道 {street} 内",
    ),
    "served_outside_street": Wording(
        "{label} is outside street {street}", "{label}不在街道 {street} 内"
    ),
    # 驻区单位 (gridgis.registers.resident_units).
    "unknown_alliance": Wording(
        "unknown alliance {value}: add it first", "未知联合体 {value}：请先建立该联合体"
    ),
    "committee_without_alliance": Wording(
        "committee member (兼职委员) but in no alliance", "填为大党委兼职委员，但不属于任何联合体"
    ),
    "serves_nothing_in_street": Wording(
        "serves no cell, building or community of street {street}",
        "没有负责街道 {street} 的任何网格、楼栋或社区",
    ),
    # 红心物业: compounds and how they are managed (gridgis.registers.compounds).
    "unknown_compound": Wording(
        "unknown compound {value}: no building of community {community} names it",
        "未知小区 {value}：社区 {community} 没有楼栋属于该小区",
    ),
    "unknown_management": Wording(
        "unknown management {value} (known: {known})", "未知管理方式 {value}（可选：{known}）"
    ),
    "unknown_red_mode": Wording(
        "unknown 红心物业 mode {value} (known: {known})",
        "未知红心物业模式 {value}（可选：{known}）",
    ),
    "mode_not_red": Wording(
        "红心物业 mode {value} given but the management is {management}",
        "填了红心物业模式 {value}，但管理方式是{management}",
    ),
    "company_not_company": Wording(
        "company {value} given but the management is {management}",
        "填了物业公司 {value}，但管理方式是{management}",
    ),
    "unit_not_unit_mode": Wording(
        "resident unit {value} given but the mode is not 驻区单位包保",
        "填了包保单位 {value}，但模式不是驻区单位包保",
    ),
    "unknown_resident_unit": Wording(
        "unknown resident unit {value}: no 驻区单位 has that id or name",
        "未知驻区单位 {value}：没有该编号或名称的驻区单位",
    ),
    "bad_built_year": Wording(
        "built {value} is not a year from {low} to {high}",
        "建成年份 {value} 不是 {low} 至 {high} 之间的年份",
    ),
}
"""Every reason an importer records, by code: its English and Chinese templates."""

# Nested reasons (the ``why`` of an address): the address book's words. Not row reasons
# of their own, so not in REASONS, but translated inside theirs.
_WHYS: dict[str, Wording] = {
    "empty_address": Wording("empty address", "地址为空"),
    "too_long": Wording(
        "not an address: {n} characters (at most {max})", "不是地址：{n} 个字符（最多 {max} 个）"
    ),
    "ambiguous": Wording(
        "ambiguous: {n} buildings {what} (ids {ids})", "有歧义：{n} 栋楼 {what}（编号 {ids}）"
    ),
    "low_score": Wording(
        "low score: the best building (id {id}) scores {score} < {threshold} ({matched})",
        "匹配度低：最接近的楼栋（编号 {id}）得分 {score} < {threshold}（{matched}）",
    ),
    "no_number_in_place": Wording(
        "no such number: no building numbered {number} in the place given",
        "没有该门牌：所给地点没有 {number} 的楼栋",
    ),
    "no_road_or_place": Wording("no road or place found", "没有找到道路或地点"),
    "only_places": Wording("no road found: only places are given", "没有找到道路：只给出了地点"),
    "unknown_road": Wording(
        "no road or place found: {road} is not a known road or place",
        "没有找到道路或地点：{road} 不是已知的道路或地点",
    ),
    "road_not_in_place": Wording(
        "no road found: {road} is not a road, compound or hamlet of the place",
        "没有找到道路：{road} 不是该地点的道路、小区或村组",
    ),
}

# Words standing for a value in the English sentences, in Chinese.
_ZH_WORDS: dict[str, str] = {
    "id": "编号",
    "external id": "编号",
    "name": "名称",
    "address": "地址",
    "households": "户数",
    "residents": "人口",
    "floors": "层数",
    "height": "高度",
    "compound": "小区",
    "estimated": "估算",
    "kind": "类型",
    "x": "经度（x）",
    "y": "纬度（y）",
    "members": "党员数",
    "phone": "电话",
    "id_number": "身份证号",
    "footprint": "轮廓",
    "point": "点",
    "building": "楼栋",
    "facility": "设施",
    "organisation": "组织",
    "person": "人员",
    "household": "重点户",
    "at least": "小于",
    "above": "大于",
    "row": "行",
    "feature": "个要素",
    "no community": "无社区",
    "contact": "联系人",
    "contact_phone": "联系电话",
    "party_leader": "党组织书记",
    "member": "党员",
    "sex": "性别",
    "birth": "出生日期",
    "joined": "入党日期",
    "reported_on": "报到日期",
    "central_household": "党员中心户",
    "date": "日期",
    "hours": "时长",
    "community": "社区",
    "management": "管理方式",
    "red_mode": "红心物业模式",
    "company": "物业公司名称",
    "resident_unit": "包保单位",
    "since": "起始日期",
    "built": "建成年份",
    "old": "老旧小区",
}
# Values named by a word of _ZH_WORDS, and labels such as "cell 3503...".
_WORD_VALUES = ("field", "what", "relation", "numbering", "area")
_LABELS = {"cell": "网格", "building": "楼栋", "community": "社区", "alliance": "联合体"}
_VALUE_PATTERNS = {
    "relation": "at least|above",
    "field": r"[A-Za-z_]+(?: [A-Za-z_]+)?",
    "what": r"[a-z]+",
}
_ANY = r"(?:(?!; ).)+?"  # a value: anything but the separator of reasons


@dataclass(frozen=True)
class Reason:
    """One reason of a row: its ``code`` (of :data:`REASONS`) and the values it names."""

    code: str
    values: Mapping[str, str] = field(default_factory=dict)

    def text(self, language: str = "en") -> str:
        """The reason in ``language`` (``"en"`` gives the importers' own sentence back).

        Examples
        --------
        >>> Reason("missing", {"field": "name"}).text("zh")
        '缺少名称'
        """
        if language not in LANGUAGES:
            raise ValueError(f"`language` was {language!r} but is expected to be in {LANGUAGES}")
        if self.code == UNKNOWN:
            return self.values.get("text", "")
        wording = REASONS.get(self.code) or _WHYS[self.code]
        if language == "en":
            return wording.en.format(**self.values)
        return wording.zh.format(**{k: _zh_value(k, v) for k, v in self.values.items()})


def _zh_value(name: str, value: str) -> str:
    if name in _WORD_VALUES:
        return _ZH_WORDS.get(value, value)
    if name == "fields":
        return "、".join(_ZH_WORDS.get(v, v) for v in value.split("、"))
    if name == "label":
        kind, _, rest = value.partition(" ")
        return f"{_LABELS[kind]} {rest}" if kind in _LABELS else value
    if name == "why":
        return _say_one(value, "zh", _why_patterns())
    if name == "rows":  # "rows 2, 4 of the file" / "1,200 rows of the file (first 2, 3, …)"
        said = value.replace(" of the file", "")
        for english, chinese in (("rows ", "第 "), ("features ", "第 "), ("(first ", "（前几行 ")):
            said = said.replace(english, chinese)
        return said.replace(")", "）") + ("" if "（" in said else " 行")
    return value


_FORMATTER = string.Formatter()


def _compile(wordings: Mapping[str, Wording]) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for code, wording in wordings.items():
        pattern = ""
        for literal, name, _, _ in _FORMATTER.parse(wording.en):
            pattern += re.escape(literal)
            if name is not None:
                pattern += f"(?P<{name}>{_VALUE_PATTERNS.get(name, _ANY)})"
        compiled.append((code, re.compile(pattern, re.DOTALL)))
    return compiled


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    return _compile(REASONS)


@lru_cache(maxsize=1)
def _why_patterns() -> list[tuple[str, re.Pattern[str]]]:
    return _compile(_WHYS)


def _match(text: str, patterns: list[tuple[str, re.Pattern[str]]]) -> Reason | None:
    for code, pattern in patterns:
        found = pattern.fullmatch(text)
        if found is not None:
            return Reason(code, found.groupdict())
    return None


def _say_one(text: str, language: str, patterns: list[tuple[str, re.Pattern[str]]]) -> str:
    found = _match(text, patterns)
    return text if found is None else found.text(language)


def parse(text: str | None) -> list[Reason]:
    """The reasons of a row's ``reason`` text (``"; "``-joined), each with its code and values.

    A sentence no template matches is kept whole with the code :data:`UNKNOWN`.
    A template may itself hold ``"; "``: the longest run of parts that one matches wins.
    """
    if not text:
        return []
    parts = text.split("; ")
    out: list[Reason] = []
    start = 0
    while start < len(parts):
        for end in range(len(parts), start, -1):  # the longest sentence first: a few parts
            found = _match("; ".join(parts[start:end]), _patterns())
            if found is not None:
                out.append(found)
                start = end
                break
        else:
            out.append(Reason(UNKNOWN, {"text": parts[start]}))
            start += 1
    return out


def codes(text: str | None) -> str | None:
    """The codes of a row's reasons, ``;``-joined as the flags are (``None`` for none)."""
    return ";".join(r.code for r in parse(text)) or None


def say(text: str | None, language: str = "en") -> str | None:
    """A row's ``reason`` text in ``language``: ``"en"`` as the importers wrote it, ``"zh"``
    in Chinese (a sentence without a code is left as it is)."""
    if language not in LANGUAGES:
        raise ValueError(f"`language` was {language!r} but is expected to be in {LANGUAGES}")
    if not text or language == "en":
        return text
    return _SEPARATOR[language].join(r.text(language) for r in parse(text))
