"""The drill-down from district to street, community and cell, with key figures (概览).

Routes
------
``GET /area/<code>``
    The page of a district (6 digits), street office (9), community (12) or
    cell (15): its key figures (:mod:`gridgis.analysis.figures`), a
    breadcrumb up to the district and ``/``, and a Leaflet map. Above a cell,
    a table of its children (streets of a district, communities of a street,
    cells of a community) with their figures, each linking to its own page, and
    the map of the children coloured by a figure (clicking one opens it). A
    cell's page shows its grid workers, party branches and newest cases (with
    their points on the map).

    Signed-in users only. A street office may open only its own street, its
    communities and cells, and its district, whose page then shows (and
    counts) its own street only; any other area is answered 403. A code that is
    no area code, or names no stored area, is answered 404. The code of a cell
    no layout in force holds (retired) answers with its history: its versions,
    the cells that took over its households (successors, from the lineage a
    publish records) and the cells it came from, with a map of its last outline
    and its successors; a code never issued is a 404.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gridgis import cases
from gridgis.analysis.figures import (
    area_figures,
    area_path,
    area_total,
    cell_service,
    child_level,
    figure_records,
    level_of,
)
from gridgis.db.layout import rename_cell
from gridgis.db.lineage import CellHistory, cell_history
from gridgis.db.models import CASE_STEP_NAMES_ZH
from gridgis.errors import ForbiddenError, NotFoundError
from gridgis.web.auth import current_user, login_required, policy, roles_required
from gridgis.web.db import get_engine
from gridgis.web.i18n import gettext

bp = Blueprint("overview", __name__)

RECENT_CASES = 50
"""How many of a cell's newest cases its page lists."""

_AREA_CODE = re.compile(r"[0-9]{6}(?:[0-9]{3}){0,3}")

LEVEL_NAMES = {"district": "区县", "street": "街道", "community": "社区", "cell": "网格"}
"""The Chinese name of each level (translated in the page)."""

COLOUR_FIGURES: tuple[tuple[str, str], ...] = (
    ("households", "户数"),
    ("cells_out_of_bounds", "户数超范围网格"),
    ("cells_without_worker", "无网格员网格"),
    ("cells_without_branch", "无党支部网格"),
    ("open_cases", "未结案件"),
    ("overdue_cases", "超期案件"),
    ("closed_late", "逾期结案"),
    ("on_time_rate", "按期结案率"),
)
"""The figures the map of children can be coloured by, with their Chinese labels."""


def _check_access(code: str, street: str | None) -> None:
    """Refuse (403) an area outside a street office's street (its district is allowed)."""
    rules = policy()
    if not rules.may_see_outline(code):
        raise ForbiddenError(
            f"area {code} is outside street {street}, the only one user {rules.name!r} may see",
            zh=f"区域 {code} 不在街道 {street} 内，用户 {rules.name!r} 只能查看该街道",
        )


def _retired_cell(history: CellHistory, path: list[dict[str, Any]]) -> str:
    """The page of a cell no layout in force holds: its versions and its successors."""
    page_config = {
        "code": history.code,
        "outline": history.as_dict()["outline"],
        "areasUrl": url_for("api.areas", level="cell", within=history.community_code),
        "successors": {
            s["code"]: {"share": s["share"], "url": url_for("overview.area", code=s["code"])}
            for s in history.successors
        },
    }
    return render_template("cell_history.html", history=history, path=path, page_config=page_config)


@bp.get("/area/<code>")
@login_required
def area(code: str) -> str:
    """Render the page of one area with its figures, its children and a map."""
    if not _AREA_CODE.fullmatch(code):
        raise NotFoundError(
            f"no area has the code {code!r}: an area code has 6 (district), 9 (street), "
            "12 (community) or 15 (cell) digits",
            zh=f"没有编码为 {code!r} 的区域：区域编码为 6 位（区）、9 位（街道）、"
            "12 位（社区）或 15 位（网格）数字",
        )
    level = level_of(code)
    street = policy().street
    _check_access(code, street)
    engine = get_engine()
    path = area_path(engine, code)
    if not path or path[-1]["code"] != code:
        history = cell_history(engine, code) if level == "cell" else None
        if history is not None:
            return _retired_cell(history, path)
        what = "cell" if level == "cell" else level
        raise NotFoundError(
            f"no {what} has the code {code!r}", zh=f"没有编码为 {code!r} 的{LEVEL_NAMES[what]}"
        )
    here = path[-1]
    # A street office sees its district through its own street: the figures are its street's.
    limited = street is not None and level == "district"
    total = area_total(engine, street if limited and street else code)
    children_level = child_level(level)
    children: list[dict[str, Any]] = []
    if children_level is not None:
        within = street if limited and street else code
        children = figure_records(area_figures(engine, children_level, within=within))
        for child in children:
            child["url"] = url_for("overview.area", code=child["code"])
    service: dict[str, list[dict[str, Any]]] = {"workers": [], "branches": []}
    recent: list[dict[str, Any]] = []
    if level == "cell":
        service = cell_service(engine, code)
        recent = cases.list_cases(engine, cell=code, limit=RECENT_CASES)
    page_config: dict[str, Any] = {
        "code": code,
        "level": level,
        "childLevel": children_level,
        "areasUrl": url_for("api.areas", level=children_level or level, within=code),
        "outlineUrl": url_for("api.areas", level=level, within=code) if children_level else None,
        "figures": {c["code"]: c for c in children},
        "colourFigures": [key for key, _label in COLOUR_FIGURES],
        "cases": [
            {
                key: case[key]
                for key in (
                    "id",
                    "category_name",
                    "step",
                    "description",
                    "reported_at",
                    "deadline",
                    "overdue",
                    "closed_late",
                    "lon",
                    "lat",
                )
            }
            for case in recent
            if case["lon"] is not None and case["lat"] is not None
        ],
    }
    return render_template(
        "area.html",
        here=here,
        level=level,
        level_name=gettext(LEVEL_NAMES[level]),
        child_level_name=gettext(LEVEL_NAMES[children_level]) if children_level else None,
        path=path,
        total=total,
        limited=limited,
        street=street,
        children=children,
        colour_figures=[(key, gettext(label)) for key, label in COLOUR_FIGURES],
        service=service,
        recent=recent,
        step_names={step: gettext(name) for step, name in CASE_STEP_NAMES_ZH.items()},
        page_config=page_config,
        may_rename=level == "cell" and policy().may_change(code),
    )


@bp.post("/area/<code>/name")
@roles_required("admin", "street")
def rename(code: str) -> BaseResponse:
    """Rename a cell (administrators; a street office in its own street), recorded."""
    rules = policy()
    if not rules.may_change(code):
        raise ForbiddenError(
            f"cell {code} is outside the area user {rules.name!r} may change",
            zh=f"网格 {code} 不在用户 {rules.name!r} 可修改的范围内",
        )
    user = current_user()
    name = request.form.get("name", "")
    rename_cell(get_engine(), code, name, actor=user.name if user else "web")
    return redirect(url_for("overview.area", code=code))
