"""The validator's findings and the hand edits in people's words (Chinese, or English).

A finding as stored with a draft (:func:`gridgis.editing.report_json`) carries an
English ``detail`` for logs and the CLI; pages show :func:`finding_text` instead:
one sentence in the user's language that names cells by code *and* name (never an
internal id) and says the amount against the bounds. :func:`step_text` says what a
hand edit did, :func:`edit_error_text` why one was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gridgis.partition.hand import HandEditError
from gridgis.web.i18n import gettext

__all__ = ["cell_label", "edit_error_text", "finding_text", "step_text"]


def cell_label(code: str | None, names: Mapping[str, str]) -> str:
    """``350304002005001（南郊社区第1网格）``, or the code alone when it has no name."""
    if not code:
        return gettext("（无编码）")
    name = names.get(code)
    return gettext("{code}（{name}）", code=code, name=name) if name else code


def _area(measure: Any) -> str:
    value = float(measure or 0)
    return gettext("{m2} 平方米", m2=f"{value:,.1f}" if value >= 0.05 else f"{value:.2g}")


def finding_text(
    finding: Mapping[str, Any], names: Mapping[str, str], bounds: tuple[int, int]
) -> str:
    """One validator finding (a dict as in a draft's report) as a sentence for people."""
    kind = str(finding.get("kind"))
    cell = cell_label(finding.get("code"), names)
    other = finding.get("other")
    other_cell = cell_label(other, names) if other else ""
    measure = finding.get("measure") or 0
    n = round(float(measure))
    words = {
        "malformed_code": lambda: gettext("网格编码 {cell} 格式不正确", cell=cell),
        "duplicate_code": lambda: gettext("网格编码 {cell} 重复（{n} 个网格）", cell=cell, n=n),
        "code_outside_community": lambda: gettext(
            "网格 {cell} 的编码不属于所在社区 {other}", cell=cell, other=other or ""
        ),
        "gap": lambda: gettext("社区内有 {area} 没有划入任何网格", area=_area(measure)),
        "overlap": lambda: gettext(
            "网格 {cell} 与 {other} 重叠 {area}", cell=cell, other=other_cell, area=_area(measure)
        ),
        "sliver": lambda: gettext("网格 {cell} 有狭长碎片 {area}", cell=cell, area=_area(measure)),
        "outside_community": lambda: gettext(
            "网格 {cell} 有 {area} 超出社区边界", cell=cell, area=_area(measure)
        ),
        "crosses_community": lambda: gettext(
            "网格 {cell} 跨入了社区 {other}", cell=cell, other=other or ""
        ),
        "non_contiguous": lambda: gettext("网格 {cell} 分成 {n} 块，互不相连", cell=cell, n=n),
        "invalid_geometry": lambda: gettext("网格 {cell} 的图形无效", cell=cell),
        "split_unit": lambda: gettext(
            "网格 {cell} 的边界切开了楼栋 {building}", cell=cell, building=other or ""
        ),
        "unassigned_unit": lambda: gettext("楼栋 {building} 不在任何网格内", building=other or ""),
        "households_above_max": lambda: gettext(
            "网格 {cell} 有 {n} 户，超过上限 {max} 户", cell=cell, n=n, max=bounds[1]
        ),
        "households_below_min": lambda: gettext(
            "网格 {cell} 有 {n} 户，低于下限 {min} 户", cell=cell, n=n, min=bounds[0]
        ),
    }
    say = words.get(kind)
    return say() if say is not None else f"{kind} {cell}: {finding.get('detail') or ''}"


def step_text(action: str, params: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """What one hand edit did (``action`` and ``params`` as kept with the step)."""
    if action == "move":
        return gettext(
            "把 {n} 栋楼移入网格 {cell}",
            n=len(params.get("buildings") or []),
            cell=cell_label(params.get("to"), names),
        )
    if action == "merge":
        return gettext(
            "把网格 {other} 并入 {cell}",
            other=cell_label(params.get("other"), names),
            cell=cell_label(params.get("into"), names),
        )
    if action == "split":
        how = gettext("按画线") if params.get("line") is not None else gettext("按所选楼栋")
        return gettext(
            "{how}拆分网格 {cell}，新网格 {new}",
            how=how,
            cell=cell_label(params.get("code"), names),
            new=cell_label(params.get("new_code"), names),
        )
    if action == "reshape":
        return gettext("修改网格 {cell} 的边界", cell=cell_label(params.get("code"), names))
    return action


def edit_error_text(exc: HandEditError, names: Mapping[str, str]) -> str:
    """Why a hand edit was refused, in the user's language."""
    values = exc.values
    cell = cell_label(values.get("code"), names)
    words = {
        "unknown_cell": lambda: gettext("草案中没有网格 {cell}", cell=cell),
        "unknown_building": lambda: gettext(
            "这些楼栋不属于本社区：{ids}", ids=", ".join(map(str, values.get("ids", [])))
        ),
        "building_outside": lambda: gettext(
            "这些楼栋不在任何网格内：{ids}", ids=", ".join(map(str, values.get("ids", [])))
        ),
        "nothing_to_move": lambda: gettext("所选楼栋已在网格 {cell} 中", cell=cell),
        "same_cell": lambda: gettext("不能把网格 {cell} 与自身合并", cell=cell),
        "not_adjacent": lambda: gettext(
            "网格 {cell} 与 {other} 不相邻，只能合并相邻的网格",
            cell=cell,
            other=cell_label(values.get("other"), names),
        ),
        "line_misses": lambda: gettext(
            "画线没有把网格 {cell} 分成两部分：请从网格的一边画到另一边", cell=cell
        ),
        "empty_side": lambda: gettext(
            "拆分后网格 {cell} 的两边都要有楼栋（已选 {chosen} 栋，共 {total} 栋）",
            cell=cell,
            chosen=values.get("chosen", 0),
            total=values.get("total", 0),
        ),
        "empty_outline": lambda: gettext("网格 {cell} 的新边界不在社区内", cell=cell),
    }
    say = words.get(exc.reason)
    return say() if say is not None else str(exc)
