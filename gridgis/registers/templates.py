"""Excel templates for the registers: Chinese headers, an example row, help, drop-down lists.

``gridgis template workers -o 网格员.xlsx`` writes a workbook a district office fills
in and gives back to ``gridgis import workers``: the first sheet (``导入``) has the
Chinese headers the importers know (:mod:`gridgis.registers.columns`) and one
example row; the sheet ``每列说明`` says what each column holds, whether it is
required and an example; coded columns (roles, kinds) offer their values in a
drop-down list (data validation), still accepting several roles typed as
``网格长、楼栋长``.

Examples
--------
>>> import tempfile, openpyxl
>>> path = write_template("workers", Path(tempfile.mkdtemp()) / "网格员.xlsx")
>>> book = openpyxl.load_workbook(path)
>>> book.sheetnames
['导入', '每列说明']
>>> [c.value for c in book["导入"][1]][:4]
['编号', '姓名', '电话', '身份证号']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gridgis.db.models import MANAGEMENT_NAMES_ZH, RED_MODE_NAMES_ZH, UNIT_KIND_NAMES_ZH
from gridgis.errors import InputError
from gridgis.registers.kinds import BRANCH_KIND_NAMES, FACILITY_KIND_NAMES, worker_roles

__all__ = ["TEMPLATES", "Column", "template_columns", "write_template"]


@dataclass(frozen=True)
class Column:
    """A column of a template: its header, what it holds, an example, its coded values."""

    header: str
    field: str
    help: str
    example: object = None
    required: bool = False
    choices: tuple[str, ...] = ()
    several: bool = False


_ID = "本表中每行唯一的编号，再次导入时按编号更新"
_XY = "坐标系默认 WGS84/CGCS2000；高德、腾讯用 --crs gcj02，百度用 --crs bd09"

TEMPLATES: dict[str, tuple[Column, ...]] = {
    "buildings": (
        Column("编号", "id", _ID, "LJZ-0001", required=True),
        Column("名称", "name", "楼栋名称", "1号楼"),
        Column("地址", "address", "门牌地址（无坐标时用于定位）", "镇海街道梅园路12号1栋"),
        Column("户数", "households", "实有户数（整数，不小于 0）", 48),
        Column("人口", "residents", "实有人口（整数，不小于 0）", 130),
        Column("层数", "floors", "地上层数", 6),
        Column("高度", "height", "建筑高度（米），无层数时按约 3 米一层估算", 18),
        Column("小区", "compound", "所在小区或院落", "梅园小区"),
        Column("经度", "x", "经度（或投影坐标 x）。" + _XY, 119.0243),
        Column("纬度", "y", "纬度（或投影坐标 y）", 25.4014),
    ),
    "households": (
        Column("编号", "id", "登记编号（选填，用于在报告中指认各行）", "H0001"),
        Column("地址", "address", "实有房屋或实有人口登记的地址，按地址匹配到楼栋",
               "镇海街道梅园路12号1栋2单元301室", required=True),
        Column("户数", "households", "该地址的户数；整列不填时每行算一户", 1),
    ),
    "units": (
        Column("楼栋编号", "building",
               "所在楼栋的编号（与楼栋表的编号一致）；再次导入时按楼栋编号和单元号更新",
               "LJZ-0001", required=True),
        Column("单元", "unit", "单元号（1 及以上的整数，如 2 或 2单元）", 2, required=True),
        Column("户数", "households", "该单元的户数（整数，不小于 0；不填为 0）", 12),
    ),
    "workers": (
        Column("编号", "id", _ID, "W0001", required=True),
        Column("姓名", "name", "姓名", "王芳", required=True),
        Column("电话", "phone", "手机或座机号码（个人信息，按权限脱敏显示）", "13812345678"),
        Column("身份证号", "id_number", "18 位身份证号（个人信息，仅管理员可见全文）", None),
        Column("角色", "role", "专职网格员、兼职网格员、网格长、楼栋长、单元长、网格指导员；"
               "一人多职用顿号分隔，如“网格长、楼栋长”", "专职网格员", several=True),
        Column("网格", "cells", "所服务网格的 15 位编码，多个用顿号分隔", "350304001001001"),
        Column("楼栋", "building", "楼栋长所管楼栋：楼栋编号或地址", None),
        Column("单元", "unit", "单元长所管单元号（须同时填写一个楼栋），如 2 或 1、2", None),
        Column("社区", "community", "整个社区服务时填社区编码或名称（如网格指导员）", None),
    ),
    "branches": (
        Column("编号", "id", _ID, "P0001", required=True),
        Column("名称", "name", "党组织名称", "东梅社区第一网格党支部", required=True),
        Column("类型", "kind", "党委、党总支、党支部、党小组（默认党支部）", "党支部",
               choices=tuple(BRANCH_KIND_NAMES.values())),
        Column("上级组织", "parent", "上级党组织的编号或名称（可在本表后面的行）", None),
        Column("经度", "x", "经度。" + _XY, 119.0243),
        Column("纬度", "y", "纬度", 25.4014),
        Column("地址", "address", "地址（无坐标时用于定位）", None),
        Column("书记", "secretary", "书记姓名（个人信息）", "李强"),
        Column("书记电话", "secretary_phone", "书记电话（个人信息）", "13912345678"),
        Column("党员数", "members", "党员人数（整数，不小于 0）", 25),
        Column("网格", "cells", "覆盖网格的 15 位编码，多个用顿号分隔", "350304001001001"),
        Column("覆盖楼栋", "buildings", "覆盖楼栋的楼栋编号（楼栋党小组），多个用顿号分隔", None),
    ),
    "residents": (
        Column("编号", "id", _ID, "R0001", required=True),
        Column("户主", "name", "户主姓名（个人信息，按权限脱敏显示）", "张建国", required=True),
        Column("电话", "phone", "联系电话（个人信息）", "13812345678"),
        Column("类别", "categories", "退役军人、困难户、独居老人、残疾人（可在系统中增设）；"
               "多个用顿号分隔", "退役军人", several=True),
        Column("楼栋", "building", "所在楼栋的编号（与楼栋表一致）；不填时按地址匹配", None),
        Column("地址", "address", "住址，匹配到楼栋（无楼栋编号时必填）",
               "镇海街道梅园路12号1栋"),
        Column("单元", "unit", "单元号", "2"),
        Column("房号", "room", "房号", "301"),
        Column("备注", "note", "备注", None),
    ),
    "facilities": (
        Column("编号", "id", _ID, "F0001", required=True),
        Column("名称", "name", "设施名称", "东梅社区党群服务站", required=True),
        Column("类型", "kind", "党群服务中心、社区服务站、卫生服务站、警务室、学校、养老；"
               "其他类型照实填写", "社区服务站", required=True,
               choices=tuple(v for k, v in FACILITY_KIND_NAMES.items() if k != "other")),
        Column("经度", "x", "经度。" + _XY, 119.0243),
        Column("纬度", "y", "纬度", 25.4014),
        Column("地址", "address", "地址（无坐标时用于定位）", None),
        Column("社区", "community", "所在社区编码或名称（不填时按位置确定）", None),
    ),
    "resident-units": (
        Column("编号", "id", _ID, "DW0001", required=True),
        Column("单位名称", "name", "驻区单位名称", "市第一中学", required=True),
        Column("单位类型", "kind", "企业、学校、机关、事业单位、医院、社会组织、其他", "学校",
               choices=tuple(UNIT_KIND_NAMES_ZH.values())),
        Column("经度", "x", "经度。" + _XY, 119.0243),
        Column("纬度", "y", "纬度", 25.4014),
        Column("地址", "address", "单位地址（无坐标时用于定位）", None),
        Column("所在社区", "community", "所在社区编码或名称（不填时按位置确定）", None),
        Column("联系人", "contact", "联系人姓名（个人信息，按权限脱敏显示）", "陈明"),
        Column("联系电话", "contact_phone", "联系人电话（个人信息）", "13712345678"),
        Column("党组织", "party_org", "单位党组织名称", "市第一中学党总支"),
        Column("党组织书记", "party_leader", "党组织书记姓名（个人信息）", "林华"),
        Column("结对社区", "linked", "结对共建社区的编码或名称，多个用顿号分隔", None),
        Column("联合体", "alliance", "所属党建联合体名称（须先建立），多个用顿号分隔", None),
        Column("兼职委员", "committee", "书记是否任大党委兼职委员（是/否）", "否",
               choices=("是", "否")),
    ),
    "compounds": (
        Column("社区", "community", "社区编码或名称", "350304001001", required=True),
        Column("小区", "compound", "小区名称，与楼栋表的“小区”一致（须先导入楼栋）", "梅园小区",
               required=True),
        Column("老旧小区", "old", "是或否（不填时按建成年份：2000 年及以前为老旧小区）", "是",
               choices=("是", "否")),
        Column("建成年份", "built", "建成年份，如 1992", 1992),
        Column("管理方式", "management", "物业公司、红心物业或无物业", "红心物业",
               choices=tuple(MANAGEMENT_NAMES_ZH.values())),
        Column("红心物业模式", "mode", "物业服务、居民自治、驻区单位包保、社区兜底（红心物业必填）",
               "居民自治", choices=tuple(RED_MODE_NAMES_ZH.values())),
        Column("物业公司", "company", "物业公司名称（管理方式为物业公司时必填）", None),
        Column("联系人", "contact", "联系人姓名（个人信息，按权限脱敏显示）", "陈明"),
        Column("联系电话", "contact_phone", "联系人电话（个人信息）", "13712345678"),
        Column("包保单位", "unit", "包保的驻区单位编号或名称（驻区单位包保时必填）", None),
        Column("牵头党组织", "organisation", "牵头的物业党支部或社区党组织的编号或名称", None),
        Column("起始日期", "since", "实行当前管理方式的起始日期，如 2023-05-01", "2023-05-01"),
        Column("备注", "note", "备注", None),
    ),
    "members": (
        Column("编号", "id", _ID, "D0001", required=True),
        Column("姓名", "name", "姓名（个人信息，按权限脱敏显示）", "李红", required=True),
        Column("性别", "sex", "男或女（不填时按身份证号）", "女", choices=("男", "女")),
        Column("出生年份", "birth", "出生年份或出生日期（不填时按身份证号）", 1958),
        Column("入党日期", "joined", "入党日期，如 1985-07-01", "1985-07-01"),
        Column("所在党组织", "organisation", "所在党组织的编号或名称（须已导入党组织）", "P0001"),
        Column("党员类型", "kind", "直管党员、在职党员、流动党员、离退休党员（默认直管党员）",
               "离退休党员", choices=("直管党员", "在职党员", "流动党员", "离退休党员")),
        Column("地址", "address", "居住地址，按地址匹配到楼栋（个人信息）",
               "镇海街道梅园路12号1栋"),
        Column("电话", "phone", "手机或座机号码（个人信息）", "13812345678"),
        Column("身份证号", "id_number", "18 位身份证号，校验末位（个人信息）", None),
        Column("报到社区", "report_community", "在职党员报到的社区编码或名称", None),
        Column("报到日期", "reported_on", "在职党员到社区报到的日期", None),
        Column("党员中心户", "central_household", "是或否", "否", choices=("是", "否")),
    ),
    "activities": (
        Column("编号", "id", "记录编号（选填；再次导入时同一编号只记一次）", "A0001"),
        Column("党员编号", "member", "党员名册中的编号", "D0001", required=True),
        Column("活动类型", "kind", "志愿服务、参加组织生活、走访，或积分规则中的其他类型",
               "志愿服务", required=True),
        Column("日期", "date", "活动日期，如 2026-05-01", "2026-05-01", required=True),
        Column("时长", "hours", "按小时计分的活动的时长（小时）", 2.5),
        Column("备注", "note", "说明", "社区环境整治"),
    ),
}  # fmt: skip
"""The columns of each template, in order."""


def template_columns(kind: str) -> tuple[Column, ...]:
    """The columns of the template of ``kind``, the roles' drop-down list read now (the
    configured roles included).

    Raises
    ------
    InputError
        For a kind that has no template.
    """
    if kind not in TEMPLATES:
        raise InputError(
            f"`kind` was {kind!r} but is expected to be one of {list(TEMPLATES)}",
            zh=f"`kind` 为 {kind!r}，应为以下之一：{list(TEMPLATES)}",
        )
    columns = TEMPLATES[kind]
    if kind == "workers":
        roles = tuple(worker_roles().values())
        columns = tuple(
            Column(c.header, c.field, c.help, c.example, c.required, roles, c.several)
            if c.field == "role"
            else c
            for c in columns
        )
    return columns


def write_template(kind: str, path: str | Path, *, rows: int = 1000) -> Path:
    """Write the Excel template of ``kind`` (buildings, households, units, workers,
    branches, facilities, resident-units, compounds, members, activities) to ``path``.

    Parameters
    ----------
    kind:
        What the template is for.
    path:
        The ``.xlsx`` file to write (replaced if it exists).
    rows:
        How many rows the drop-down lists cover below the header.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    InputError
        For an unknown kind, a path not ending in ``.xlsx`` or a folder that does not exist.
    """
    import openpyxl  # type: ignore[import-untyped]
    from openpyxl.styles import Font, PatternFill  # type: ignore[import-untyped]
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
    from openpyxl.worksheet.datavalidation import DataValidation  # type: ignore[import-untyped]

    columns = template_columns(kind)
    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise InputError(
            f"`path` was {str(target)!r} but a template is an Excel .xlsx file",
            zh=f"`path` 为 {str(target)!r}，但模板是 Excel .xlsx 文件",
        )
    if not target.parent.is_dir():
        raise InputError(
            f"`path` was {str(target)!r} but there is no folder {target.parent}",
            zh=f"`path` 为 {str(target)!r}，但文件夹 {target.parent} 不存在",
        )
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "导入"
    bold = Font(bold=True)
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for j, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=j, value=column.header)
        cell.font = bold
        if column.required:
            cell.fill = required_fill
        sheet.cell(row=2, column=j, value=column.example)
        sheet.column_dimensions[get_column_letter(j)].width = max(10, 2 * len(column.header) + 4)
        if column.choices:
            listing = ",".join(column.choices)
            validation = DataValidation(
                type="list",
                formula1=f'"{listing}"',
                allow_blank=True,
                showErrorMessage=not column.several,
                errorTitle="不在列表中",
                error=f"{column.header}：请从列表中选择（{listing}）",
                promptTitle=column.header,
                prompt=column.help[:255],
                showInputMessage=True,
            )
            letter = get_column_letter(j)
            validation.add(f"{letter}2:{letter}{rows + 1}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet("每列说明")
    help_sheet.append(["列名", "字段", "是否必填", "说明", "示例", "可选值"])
    for cell in help_sheet[1]:
        cell.font = bold
    for column in columns:
        help_sheet.append(
            [
                column.header,
                column.field,
                "必填" if column.required else "选填",
                column.help,
                column.example,
                "、".join(column.choices) or None,
            ]
        )
    help_sheet.append([])
    help_sheet.append(
        [
            "",
            "",
            "",
            "列的顺序可以改变；表头也可用英文（name、phone、address…）。"
            "第 2 行是示例，导入前请删除或改写。",
        ]
    )
    for letter, width in zip("ABCDEF", (12, 16, 10, 70, 30, 40), strict=True):
        help_sheet.column_dimensions[letter].width = width
    book.save(target)
    return target
