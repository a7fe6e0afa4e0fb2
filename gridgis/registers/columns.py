"""Which column of a register file holds which field: Chinese or English headers, any order.

A district office's spreadsheets name their columns in Chinese (``户数``,
``地址``, ``层数``) or in English (``households``, ``address``, ``floors``), with
stray spaces and in any order. :data:`ALIASES` lists the headers each field is
known by; a header matches when it equals an alias ignoring case and every
kind of white space (``" Households "``, ``"户 数"``, ``"HOUSEHOLDS"`` all mean
``households``). An option naming the column (``--households-field 住户``)
overrides the aliases; a column named that way that the file does not have is
an error listing the columns the file has.

Examples
--------
>>> found = match_columns(["编号", " 户 数 ", "Address", "备注"],
...                       ("id", "households", "address", "floors"))
>>> found["id"], found["households"], found["address"], found["floors"]
('编号', ' 户 数 ', 'Address', None)
>>> match_columns(["编号", "住户"], ("households",), given={"households": "住户"})["households"]
'住户'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from gridgis.errors import InputError

__all__ = ["ALIASES", "Columns", "field_option", "match_columns", "normalise_header"]

ALIASES: dict[str, tuple[str, ...]] = {
    # Every register
    "id": ("id", "external_id", "编号", "编码", "代码", "楼栋编号", "建筑编号", "道路编号"),
    "name": (
        "name", "名称", "姓名", "楼栋名称", "建筑名称", "组织名称", "设施名称", "道路名称", "路名",
    ),
    "address": ("address", "地址", "详细地址", "楼栋地址", "住址", "门牌地址", "房屋地址"),
    "x": ("x", "lon", "lng", "long", "longitude", "经度"),
    "y": ("y", "lat", "latitude", "纬度"),
    # Buildings and households
    "households": ("households", "户数", "住户数", "总户数", "实有户数", "套数"),
    "residents": ("residents", "population", "人口", "人数", "居住人口", "实有人口", "常住人口"),
    "floors": (
        "floors", "storeys", "stories", "levels", "building:levels", "层数", "楼层数", "地上层数",
    ),
    "height": ("height", "高度", "建筑高度", "楼高"),
    "compound": ("compound", "小区", "小区名称", "院落"),
    # People and organisations (grid workers, party branches, facilities)
    "phone": ("phone", "mobile", "tel", "电话", "手机", "手机号", "联系电话", "电话号码"),
    "id_number": ("id_number", "id_card", "身份证号", "身份证", "身份证号码", "证件号码"),
    "role": ("role", "角色", "职务", "岗位"),
    "kind": ("kind", "type", "类型", "类别", "种类", "道路类型", "道路等级"),
    "parent": ("parent", "parent_id", "上级", "上级组织", "上级党组织"),
    "secretary": ("secretary", "书记", "支部书记"),
    "members": ("members", "member_count", "党员数", "党员人数"),
    "cells": ("cells", "cell", "cell_code", "cell_codes", "网格", "网格编码", "网格编号"),
    "community": ("community", "community_code", "社区", "社区编码", "社区代码"),
    "building": ("building", "building_id", "楼栋", "所在楼栋"),
    "buildings": ("buildings", "building_ids", "覆盖楼栋", "楼栋编号", "楼栋"),
}  # fmt: skip
"""Headers each field is known by, most specific first: a file with two matching columns
uses the one whose alias comes first here."""

_SPACE = re.compile(r"\s+")


def normalise_header(name: object) -> str:
    """A header as it is compared: case folded, without any white space.

    Examples
    --------
    >>> normalise_header(" Building  Levels "), normalise_header("户\u3000数")
    ('buildinglevels', '户数')
    """
    return _SPACE.sub("", str(name)).casefold()


def field_option(field: str) -> str:
    """The command-line option that names the column of ``field``.

    Examples
    --------
    >>> field_option("id_number")
    '--id-number-field'
    """
    return f"--{field.replace('_', '-')}-field"


@dataclass(frozen=True)
class Columns(Mapping[str, "str | None"]):
    """The column of the file for each field asked for (``None``: the file has none).

    Attributes
    ----------
    fields:
        Field -> the file's column name as written in its header.
    file_columns:
        Every column of the file, in order.
    """

    fields: Mapping[str, str | None]
    file_columns: tuple[str, ...]

    def __getitem__(self, field: str) -> str | None:
        return self.fields[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def unused(self) -> list[str]:
        """The file's columns no field reads (reported, so a misnamed header is seen)."""
        used = {c for c in self.fields.values() if c is not None}
        return [c for c in self.file_columns if c not in used]


def _listing(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


def match_columns(
    columns: Sequence[object],
    fields: Sequence[str],
    *,
    given: Mapping[str, str | None] | None = None,
    required: Sequence[str] = (),
    aliases: Mapping[str, Sequence[str]] = ALIASES,
    source: str = "the file",
) -> Columns:
    """Find the column of each of ``fields`` among a file's ``columns``.

    Parameters
    ----------
    columns:
        The file's header, in order.
    fields:
        The fields wanted (keys of ``aliases``).
    given:
        Field -> column named by the user (``--households-field 住户``); a
        ``None`` value means "not given". Compared like the aliases, ignoring
        case and white space.
    required:
        Fields the import cannot do without.
    aliases:
        The headers each field is known by (default :data:`ALIASES`).
    source:
        The file's name, for messages.

    Returns
    -------
    Columns
        Every field of ``fields``, with its column or ``None``. A column is
        read for one field only: a column given for a field is not guessed
        for another.

    Raises
    ------
    InputError
        A given column the file does not have (the message lists the file's
        columns), a field given that is not one of ``fields``, or a
        ``required`` field with no column.

    Examples
    --------
    >>> match_columns(["楼号", "户数"], ("id", "households"), given={"id": "楼 号"}).fields
    {'id': '楼号', 'households': '户数'}
    >>> match_columns(["楼号", "户数"], ("id",), given={"id": "栋号"}, source="a.csv")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: `--id-field` was '栋号' but a.csv has no such column; its ...
    """
    header = [str(c) for c in columns]
    by_key: dict[str, str] = {}
    for name in header:
        by_key.setdefault(normalise_header(name), name)
    given = {k: v for k, v in (given or {}).items() if v is not None and str(v).strip()}
    unknown_fields = sorted(set(given) - set(fields))
    if unknown_fields:
        raise InputError(
            f"fields {unknown_fields} cannot be named for this import; it reads {list(fields)}",
            zh=f"本次导入不能指定字段 {unknown_fields} 的列；它读取的字段：{list(fields)}",
        )
    found: dict[str, str | None] = {}
    for field, column in given.items():
        key = normalise_header(column)
        if key not in by_key:
            raise InputError(
                f"`{field_option(field)}` was {column!r} but {source} has no such column; "
                f"its columns are: {_listing(header)}",
                zh=f"`{field_option(field)}` 为 {column!r}，但 {source} 没有这一列；"
                f"现有的列：{', '.join(repr(c) for c in header) or '（无）'}",
            )
        found[field] = by_key[key]
    taken = {c for c in found.values() if c is not None}
    for field in fields:
        if field in found:
            continue
        match = None
        for alias in aliases.get(field, ()):
            column = by_key.get(normalise_header(alias))
            if column is not None and column not in taken:
                match = column
                break
        found[field] = match
        if match is not None:
            taken.add(match)
    missing = [f for f in required if found.get(f) is None]
    if missing:
        wanted = "; ".join(
            f"{f} (looked for {', '.join(aliases.get(f, ())) or 'nothing'}; "
            f"name it with {field_option(f)})"
            for f in missing
        )
        wanted_zh = "；".join(
            f"{f}（查找过：{'、'.join(aliases.get(f, ())) or '无'}）" for f in missing
        )
        raise InputError(
            f"{source} has no column for {wanted}; its columns are: {_listing(header)}",
            zh=f"{source} 缺少以下字段的列：{wanted_zh}；请指定对应的列。现有的列："
            f"{', '.join(repr(c) for c in header) or '（无）'}",
        )
    return Columns(fields={f: found[f] for f in fields}, file_columns=tuple(header))
