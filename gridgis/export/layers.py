"""The layers and fields of an export: what each column is called and means.

``_Layer`` is one table to write (attribute columns and WGS84 geometries of
one kind), :class:`FieldName` one field of the file. :func:`short_field_names`
shortens names to the 10 characters of a DBF field
(:data:`FIELD_ABBREVIATIONS`); ``_kind`` and ``_description`` give a column's
type and its Chinese / English meaning for ``fields.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridgis.db.models import CASE_STEP_NAMES_ZH

DBF_NAME_LENGTH = 10
"""The most characters of a DBF field name."""


FIELD_ABBREVIATIONS: dict[str, str] = {
    "1000": "1k",
    "at": "",
    "branch": "br",
    "branches": "br",
    "buildings": "bldg",
    "cases": "n",
    "category": "cat",
    "cityscape": "city",
    "closed": "clsd",
    "commerce": "com",
    "community": "comm",
    "days": "d",
    "description": "desc",
    "dispatched": "disp",
    "dispute": "dspt",
    "district": "dist",
    "drug": "drg",
    "environment": "env",
    "estimated": "est",
    "external": "ext",
    "facility": "fac",
    "handled": "hand",
    "households": "hh",
    "inspected": "insp",
    "inspection": "insp",
    "inspections": "insp",
    "management": "mgt",
    "opinion": "op",
    "overdue": "ovd",
    "per": "p",
    "property": "prop",
    "public": "pub",
    "registered": "reg",
    "rejected": "rej",
    "reported": "rep",
    "residents": "res",
    "safety": "safe",
    "security": "sec",
    "significant": "sig",
    "since": "snc",
    "street": "st",
    "time": "t",
    "verified": "ver",
    "without": "no",
    "worker": "wkr",
    "workers": "wkrs",
}
"""Words replaced in field names longer than 10 characters (see :func:`short_field_names`)."""

_DESCRIPTIONS: dict[str, str] = {
    "id": "编号 / id",
    "external_id": "外部编号 / external id",
    "code": "编码 / code",
    "name": "名称 / name",
    "community_code": "社区编码 / community code",
    "community": "社区 / community",
    "street_code": "街道编码 / street office code",
    "street": "街道 / street office",
    "district_code": "区县编码 / district code",
    "cell_code": "网格编码 / cell code",
    "valid_from": "生效时间 / valid from",
    "households": "户数 / households",
    "households_estimated": "估算户数 / households that are estimates",
    "estimated_share": "估算户数占比 / share of the households that are estimates (0-1)",
    "estimated": "户数为估算 / households are an estimate",
    "residents": "人口 / residents",
    "buildings": "楼栋数 / buildings",
    "cells": "网格数 / cells",
    "workers": "网格员数 / grid workers",
    "has_worker": "有网格员 / every cell has a grid worker",
    "branches": "党支部数 / party branches",
    "has_branch": "有党支部 / every cell has a party branch",
    "cells_without_worker": "无网格员的网格数 / cells without a grid worker",
    "cells_without_branch": "无党支部的网格数 / cells without a party branch",
    "category": "类别编码 / category code",
    "category_name": "类别 / category",
    "description": "描述 / description",
    "source": "来源 / source",
    "address": "地址 / address",
    "step": "环节编码 / current step",
    "step_name": "环节 / current step (Chinese)",
    "overdue": "超期 / open and past its deadline at export time",
    "closed_late": "逾期结案 / closed after its deadline",
    "deadline": "期限 / deadline",
    "located_by": "定位方式 / located by",
    "cases": "案件数 / cases",
    "rate_per_1000": "每千户案件数 / cases per 1,000 households",
    "open_cases": "未结案件 / open cases",
    "overdue_cases": "超期未结 / open cases past deadline",
    "closed_cases": "已结案件 / closed cases",
    "closed_on_time": "按期结案 / closed on time",
    "on_time_rate": "按期结案率 / share closed on time",
    "inspections": "巡查次数 / inspections in the period",
    "last_inspected_at": "最近巡查 / last inspection",
    "days_since_inspection": "距最近巡查天数 / days since the last inspection",
    "gi_z": "Gi* z 值 / Getis-Ord Gi* z-score",
    "gi_q": "校正 p 值 / FDR-adjusted p-value",
    "hotspot": "热点类别 / hotspot class",
    "significant": "显著 / significant at 5 % FDR",
    "worker_id": "网格员编号 / grid worker id",
    "worker": "网格员 / grid worker",
    "started_at": "开始时间 / started",
    "ended_at": "结束时间 / ended",
    "lon": "经度 / longitude",
    "lat": "纬度 / latitude",
    "wkt": "几何 (WKT) / geometry as WKT",
}
_STEP_LABELS = CASE_STEP_NAMES_ZH


@dataclass(frozen=True)
class FieldName:
    """One exported field: its name in the file, the column it holds, what it means.

    For formats other than ``shp`` ``short`` equals ``full``.
    """

    layer: str
    short: str
    full: str
    type: str
    description: str


@dataclass
class _Layer:
    """One table to write: attribute columns and WGS84 geometries of one kind."""

    name: str
    frame: pd.DataFrame
    geoms: np.ndarray
    geometry_type: str
    descriptions: dict[str, str] = field(default_factory=dict)


def _fit(words: list[str], limit: int) -> str:
    """Join ``words`` with ``_`` within ``limit`` characters, cutting the longest word first."""
    words = [w for w in words if w]
    for shortest in (3, 2):
        while len("_".join(words)) > limit and max(len(w) for w in words) > shortest:
            longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
            words[longest] = words[longest][:-1]
    joined = "_".join(words)
    if len(joined) > limit:
        joined = "".join(words)
    return joined[:limit]


def short_field_names(names: Sequence[str], *, limit: int = DBF_NAME_LENGTH) -> dict[str, str]:
    """Field names of at most ``limit`` characters (DBF: 10), stable and unique.

    The rule, applied to the names in order:

    1. A name of at most ``limit`` characters is kept as it is.
    2. Otherwise each word (split at ``_``) found in
       :data:`FIELD_ABBREVIATIONS` is replaced by its abbreviation
       (``households`` → ``hh``, ``reported`` → ``rep``).
       Words that abbreviate to nothing (``at``) are left out.
    3. While the name is too long, the longest word (the first of equal
       ones) loses its last letter, down to 3 letters a word, then down to
       2; then the underscores are dropped; then the name is cut at ``limit``.
    4. A name already given (compared without case: DBF names ignore it)
       gets ``_2``, ``_3``, ... in place of its last characters.

    The result depends only on the names and their order: the same columns
    always get the same short names.

    Examples
    --------
    >>> short_field_names(["code", "households", "cells_without_worker", "reported_at_time"])
    {'code': 'code', 'households': 'households', 'cells_without_worker': 'cel_no_wkr', \
'reported_at_time': 'rep_t'}
    >>> short_field_names(["cases_public_opinion", "cases_public_security"])
    {'cases_public_opinion': 'n_pub_op', 'cases_public_security': 'n_pub_sec'}
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if len(name) <= limit:
            short = name
        else:
            words = [FIELD_ABBREVIATIONS.get(w, w) for w in name.split("_")]
            short = _fit(words, limit)
        candidate, k = short, 1
        while candidate.lower() in taken:
            k += 1
            suffix = f"_{k}"
            candidate = short[: limit - len(suffix)] + suffix
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def _kind(series: pd.Series) -> str:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(series.dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(series.dtype):
        return "int"
    if pd.api.types.is_float_dtype(series.dtype):
        return "float"
    return "text"


def _description(layer: _Layer, column: str) -> str:
    """Chinese / English meaning of a column, for ``fields.csv`` and :class:`FieldName`."""
    if column in layer.descriptions:
        return layer.descriptions[column]
    if column in _DESCRIPTIONS:
        return _DESCRIPTIONS[column]
    if column.endswith("_time"):
        return f"{_description(layer, column.removesuffix('_time'))} (时刻 HH:MM:SS, 北京时间)"
    step = column.removesuffix("_at")
    if column.endswith("_at") and step in _STEP_LABELS:
        return f"{_STEP_LABELS[step]}时间 / {step} at"
    return column
