"""Errors about a user's file, told in the user's language and without GDAL's inner words.

The library says what is wrong with a file in English, for the command line
(:mod:`gridgis.io`, :mod:`gridgis.archive`); pages show those sentences to
people who may read only Chinese. :func:`error_text` recognises each of those
sentences by its template, keeps the values that matter to the user (the file's
name, the layers or files it holds) and says it again in the page's language; a
driver's own words (GDAL's "It might help to specify the correct driver…") are
dropped. A sentence it does not know is returned as it is.

Errors now carry their own Chinese (:attr:`gridgis.errors.GridGISError.zh`): given
as ``zh=``, it is what a Chinese page shows; the templates stay for English pages
(GDAL's words dropped) and for messages kept without their Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gridgis.web.errors import answer_language
from gridgis.web.i18n import gettext

__all__ = ["error_text", "problem_text"]

_GEOMETRY: dict[str, Callable[[], str]] = {
    "Points of LinearRing do not form a closed linestring": lambda: gettext("多边形的边界没有闭合"),
    "a ring has fewer than 4 vertices": lambda: gettext("多边形的边界少于 4 个顶点"),
    "a line has a single vertex (it needs two)": lambda: gettext(
        "线只有 1 个顶点（至少需要 2 个）"
    ),
}
"""Plain words (as :mod:`gridgis.io` gives them) for a geometry GEOS cannot build."""


def _geometry(detail: str) -> str:
    say = _GEOMETRY.get(detail.strip())
    return say() if say is not None else detail


_TEMPLATES: list[tuple[re.Pattern[str], Callable[[dict[str, str]], str]]] = [
    (
        re.compile(r"cannot read (?P<name>.+?) as a vector file: .*", re.S),
        lambda v: gettext(
            "无法读取 {name}：不是可识别的 GeoJSON、GeoPackage 或 Shapefile，或文件已损坏",
            name=v["name"],
        ),
    ),
    (
        re.compile(r"(?P<name>.+?) is not a readable zip file: .*", re.S),
        lambda v: gettext("{name} 不是可以打开的 zip 压缩文件，或文件已损坏", name=v["name"]),
    ),
    (
        re.compile(r"cannot read (?P<name>.+?): a feature's geometry is invalid: (?P<detail>.*)"),
        lambda v: gettext(
            "无法读取 {name}：有要素的图形无效（{detail}）",
            name=v["name"],
            detail=_geometry(v["detail"]),
        ),
    ),
    (
        re.compile(
            r"'?(?P<name>.+?)'? is not a layout file this page reads; send one of (?P<kinds>.+)"
        ),
        lambda v: gettext(
            "{name} 不是本页可读取的网格文件，请上传以下格式之一：{kinds}",
            name=v["name"],
            kinds=v["kinds"].replace(" (a shapefile zipped)", gettext("（压缩的 Shapefile）")),
        ),
    ),
    (
        re.compile(
            r"(?P<name>.+?) holds no shapefile \(\.shp\), GeoPackage or GeoJSON; "
            r"it holds (?P<inside>.+)"
        ),
        lambda v: gettext(
            "{name} 中没有 Shapefile（.shp）、GeoPackage 或 GeoJSON，只有：{inside}",
            name=v["name"],
            inside=v["inside"],
        ),
    ),
    (
        re.compile(r"(?P<name>.+?) (?:has|holds) several layers \((?P<layers>.+?)\): .*"),
        lambda v: gettext(
            "{name} 有多个图层（{layers}），请选择其中一个", name=v["name"], layers=v["layers"]
        ),
    ),
    (
        re.compile(
            r"(?P<name>.+?) has no `code` column with each cell's 15-digit code; "
            r"its columns are (?P<columns>.+)"
        ),
        lambda v: gettext(
            "{name} 没有 code 列（每个网格的 15 位网格编码）；现有的列：{columns}",
            name=v["name"],
            columns=v["columns"].replace("none", gettext("无")),
        ),
    ),
    (
        re.compile(r"(?P<name>.+?) does not say its coordinate system \(CRS\): .*"),
        lambda v: gettext("{name} 没有注明坐标系，请在表单中选择坐标系", name=v["name"]),
    ),
    (
        re.compile(r"(?P<name>.+?) holds no feature"),
        lambda v: gettext("{name} 中没有任何要素", name=v["name"]),
    ),
    (
        re.compile(r"cannot decode the text of (?P<name>.+?) (?:as|\().*", re.S),
        lambda v: gettext(
            "无法识别 {name} 中文字的编码：请选择正确的编码（UTF-8、GBK 或 GB18030）",
            name=v["name"],
        ),
    ),
]


def error_text(message: str, *, zh: str | None = None) -> str:
    """``message`` (an error about a user's file) in the page's language.

    ``zh`` is the error's own Chinese (:attr:`~gridgis.errors.GridGISError.zh`), which a
    Chinese page (or an API request asking for Chinese, :func:`~gridgis.web.errors.answer_language`)
    shows as it is.

    Examples
    --------
    >>> with app.test_request_context("/?lang=zh"):  # doctest: +SKIP
    ...     error_text("cells.zip is not a readable zip file: File is not a zip file")
    'cells.zip 不是可以打开的 zip 压缩文件，或文件已损坏'
    """
    if zh and answer_language() == "zh":
        return zh
    for pattern, say in _TEMPLATES:
        found = pattern.fullmatch(message.strip())
        if found is not None:
            return say(found.groupdict())
    return message


def _rows(listed: str) -> str:
    """``2, 3, … (1,999 in all)`` as Chinese: ``第 2, 3, … 行（共 1,999 行）``."""
    found = re.fullmatch(r"(?P<rows>.*?)\s*\((?P<n>[0-9,]+) in all\)", listed.strip())
    if found is None:
        return gettext("第 {rows} 行", rows=listed.strip())
    return gettext("第 {rows} 行（共 {n} 行）", rows=found["rows"], n=found["n"])


_FEATURE_TEMPLATES: list[tuple[re.Pattern[str], Callable[[dict[str, str]], str]]] = [
    (
        re.compile(r"(?P<name>.+?): (?P<n>[0-9,]+) of (?P<total>[0-9,]+) features rejected, "
                   r"nothing was stored"),
        lambda v: gettext(
            "{name}：{total} 个要素中有 {n} 个被拒绝，未保存任何内容",
            name=v["name"], total=v["total"], n=v["n"],
        ),
    ),
    (re.compile(r"the feature has no geometry"), lambda v: gettext("该要素没有图形")),
    (
        re.compile(r"a cell must be a polygon, not a (?P<kind>\w+)"),
        lambda v: gettext("网格必须是多边形，而不是 {kind}", kind=v["kind"]),
    ),
    (
        re.compile(r"invalid polygon: (?P<detail>.+)"),
        lambda v: gettext("多边形无效：{detail}", detail=_geometry(v["detail"])),
    ),
    (re.compile(r"the `code` is empty"), lambda v: gettext("code（网格编码）为空")),
    (re.compile(r"a cell code has 15 digits"), lambda v: gettext("网格编码应为 15 位数字")),
    (
        re.compile(r"the code is not of community (?P<community>[0-9]+)"),
        lambda v: gettext("该编码不属于社区 {community}", community=v["community"]),
    ),
    (
        re.compile(r"the code was retired and is never issued again"),
        lambda v: gettext("该编码已停用，不会再次启用"),
    ),
    (
        re.compile(r"the code is also on row\(s\) (?P<rows>.+)"),
        lambda v: gettext("该编码在其他行也出现：{rows}", rows=_rows(v["rows"])),
    ),
]  # fmt: skip
"""The reasons a layout file's feature is rejected (:mod:`gridgis.editing.files`)."""


def problem_text(message: str, *, zh: str | None = None) -> str:
    """A rejected feature's reason, or the sentence summing the rejections up, in the
    page's language (as :func:`error_text` does for the errors about a file; ``zh`` too)."""
    if zh and answer_language() == "zh":
        return zh
    for pattern, say in _FEATURE_TEMPLATES:
        found = pattern.fullmatch(message.strip())
        if found is not None:
            return say(found.groupdict())
    return error_text(message)
