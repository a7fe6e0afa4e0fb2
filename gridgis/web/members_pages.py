"""The pages of the party members register and of 党员积分.

Routes
------
``GET /party/members?organisation=&kind=&community=&cell=&age=&reported=&page=``
    The figures of the members the user's area holds (per organisation and per
    cell, by kind, sex, age band and 报到) and, for those who see members (not an
    analyst), the list, filtered, personal data masked per
    :func:`gridgis.party.members.list_members`; links to the export.
``GET /party/points?year=&organisation=``
    The points rules and the yearly ranking per organisation; an administrator
    edits the rules here (``POST /party/points/rules``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from gridgis.db.models import MEMBER_KIND_NAMES_ZH
from gridgis.errors import InputError
from gridgis.party.members import AGE_BANDS, list_members, member_figures, member_view
from gridgis.party.ranking import list_rules, ranking, set_rule
from gridgis.web.auth import policy, roles_required
from gridgis.web.cases_api import signed_in_name
from gridgis.web.db import get_engine

__all__ = ["PAGE_SIZE", "bp"]

bp = Blueprint("members_pages", __name__, url_prefix="/party")

PAGE_SIZE = 50
"""Members on one page of the list."""
_READERS = ("admin", "street", "analyst", "worker")
_MAX = 100


def _text(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > _MAX:
        raise InputError(
            f"`{name}` is {len(value)} characters long; at most {_MAX}",
            zh=f"`{name}` 有 {len(value)} 个字符，最多 {_MAX} 个",
        )
    return value or None


def _whole(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name, "").strip() or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        raise InputError(f"`{name}` was {text!r} but is expected to be a whole number "
                         f"from {low} to {high}",
                         zh=f"`{name}` 为 {text!r}，应为 {low} 到 {high} 之间的整数")  # fmt: skip
    return int(text)


def _filters() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in ("organisation", "kind", "community", "cell", "age"):
        if (value := _text(name)) is not None:
            found[name] = value
    if "kind" in found and found["kind"] not in MEMBER_KIND_NAMES_ZH:
        raise InputError(f"`kind` was {found['kind']!r} but is expected to be one of "
                         f"{list(MEMBER_KIND_NAMES_ZH)}",
                         zh=f"`kind` 为 {found['kind']!r}，应为以下之一："
                         f"{list(MEMBER_KIND_NAMES_ZH)}")  # fmt: skip
    reported = _text("reported")
    if reported is not None:
        if reported not in ("1", "0"):
            raise InputError(
                f"`reported` was {reported!r} but is expected to be 1 or 0",
                zh=f"`reported` 为 {reported!r}，应为 1 或 0",
            )
        found["reported"] = reported == "1"
    return found


@bp.get("/members")
@roles_required(*_READERS)
def members_page() -> str:
    """The figures and (for those who see members) the filtered list."""
    rules = policy()
    view = member_view(rules)
    filters = _filters()
    year = dt.date.today().year
    figures = member_figures(get_engine(), within=view.within, filters=filters, year=year)
    page = _whole("page", 1, 1, 100_000)
    listing = None
    if view.rows:
        listing = list_members(
            get_engine(), rules, filters=filters, year=year,
            limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
        )  # fmt: skip
    shown: dict[str, Any] = {
        k: ("1" if v is True else "0" if v is False else v) for k, v in filters.items()
    }
    more = listing is not None and listing["total"] > page * PAGE_SIZE
    return render_template(
        "members.html",
        figures=figures,
        listing=listing,
        filters=shown,
        kinds=MEMBER_KIND_NAMES_ZH,
        bands=AGE_BANDS,
        page=page,
        previous_url=url_for(".members_page", **shown, page=page - 1) if page > 1 else None,
        next_url=url_for(".members_page", **shown, page=page + 1) if more else None,
        exports={f: url_for("members_api.export_members", fmt=f) for f in ("xlsx", "csv", "gpkg")}
        if view.rows
        else {},
    )


@bp.get("/points")
@roles_required(*_READERS)
def points_page() -> str:
    """The rules and the ranking of a year."""
    year = _whole("year", dt.date.today().year, 1900, 2100)
    organisation = _text("organisation")
    found = ranking(get_engine(), year=year, organisation=organisation, policy=policy())
    query: dict[str, Any] = {"year": year}
    if organisation:
        query["organisation"] = organisation
    return render_template(
        "members_points.html",
        rules=list_rules(get_engine()),
        ranking=found,
        year=year,
        organisation=organisation,
        editable=policy().role == "admin",
        exports={f: url_for("members_api.ranking_file", fmt=f, **query) for f in ("xlsx", "csv")},
    )


@bp.post("/points/rules")
@roles_required("admin")
def save_rule() -> BaseResponse:
    """Add or change a rule from the page's form (administrators; audited)."""
    form = request.form
    kind = form.get("kind", "").strip()
    set_rule(
        get_engine(), kind, form.get("points", "").strip(), per=form.get("per", "each"),
        label_zh=form.get("label_zh", "").strip() or None,
        label_en=form.get("label_en", "").strip() or None, actor=signed_in_name(),
    )  # fmt: skip
    return redirect(url_for(".points_page"))
