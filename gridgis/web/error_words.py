"""Errors about a user's file, told in the user's language and without GDAL's inner words.

The library says what is wrong with a file in English, for the command line
(:mod:`gridgis.io`, :mod:`gridgis.archive`); pages show those sentences to
people who may read only Chinese. :func:`error_text` recognises each of those
sentences by its template, keeps the values that matter to the user (the file's
name, the layers or files it holds) and says it again in the page's language; a
driver's own words (GDAL's "It might help to specify the correct driver…") are
dropped. A sentence it does not know is returned as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from gridgis.web.i18n import gettext

__all__ = ["error_text"]

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


def error_text(message: str) -> str:
    """``message`` (an error about a user's file) in the page's language.

    Examples
    --------
    >>> with app.test_request_context("/?lang=zh"):  # doctest: +SKIP
    ...     error_text("cells.zip is not a readable zip file: File is not a zip file")
    'cells.zip 不是可以打开的 zip 压缩文件，或文件已损坏'
    """
    for pattern, say in _TEMPLATES:
        found = pattern.fullmatch(message.strip())
        if found is not None:
            return say(found.groupdict())
    return message
