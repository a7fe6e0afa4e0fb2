"""The 驻区单位 and 三零 pages (issue 19, points 5 and 6).

Routes
------
``GET /party/units?street=``
    驻区单位 and needs on a map (units as points, needs at their community) and in
    tables: the units with their contact (masked outside the user's area), the 联合体
    (created and joined here by administrators and street offices), and the needs list
    with filters (state, kind), where a community's need is posted, claimed by a unit
    (认领) and closed as done with a note. Everything comes from ``/api/party/...``
    (:mod:`gridgis.web.party_api`).
``GET /party/sanling?street=&period=``
    The 三零 communities of a period: a map of the communities (三零 or not), a ranking
    by the three figures, each row linking to its counted cases in the case list
    (community, categories and days as filters). ``period`` defaults to the quarter of
    the latest case.

A street office sees its own street only; another is a 403.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from gridgis.access import OFFICE_ROLES
from gridgis.db.models import NEED_KIND_NAMES_ZH, NEED_STATE_NAMES_ZH, UNIT_KIND_NAMES_ZH
from gridgis.party.sanling import latest_quarter, parse_period
from gridgis.web.area_choice import chosen_street, street_choices
from gridgis.web.auth import csrf_token, policy, roles_required
from gridgis.web.cell_layer import cells_bounds
from gridgis.web.db import get_engine

__all__ = ["bp"]

bp = Blueprint("party_pages", __name__)


def _common(street: str | None) -> dict[str, Any]:
    engine = get_engine()
    return {
        "street": street,
        "areasUrl": url_for("api.areas", level="community"),
        "bounds": cells_bounds(engine, street=street),
        "casesUrl": url_for("case_pages.case_list"),
        "maxZoom": 19,
    }


@bp.get("/party/units")
@roles_required(*OFFICE_ROLES)
def units_page() -> str:
    """Render the 驻区单位, 联合体 and needs page of one street (or all)."""
    choices = street_choices(get_engine())
    street = chosen_street(choices, default_first=False)
    rules = policy()
    page_config = _common(street) | {
        "unitsUrl": url_for("party_api.list_units"),
        "alliancesUrl": url_for("party_api.list_alliances"),
        "needsUrl": url_for("party_api.list_needs"),
        "exportUrl": url_for("party_api.export_units", fmt="xlsx"),
        "mayChange": rules.changes_anything,
        "csrf": csrf_token(),
        "needKinds": NEED_KIND_NAMES_ZH,
        "needStates": NEED_STATE_NAMES_ZH,
    }
    return render_template(
        "party_units.html",
        page_config=page_config,
        streets=choices,
        street=street,
        unit_kinds=UNIT_KIND_NAMES_ZH,
        need_kinds=NEED_KIND_NAMES_ZH,
        need_states=NEED_STATE_NAMES_ZH,
        may_change=rules.changes_anything,
        single=rules.street is not None,
    )


@bp.get("/party/sanling")
@roles_required(*OFFICE_ROLES)
def sanling_page() -> str:
    """Render the 三零 communities of one street (or all) for a period."""
    engine = get_engine()
    choices = street_choices(engine)
    street = chosen_street(choices, default_first=False)
    asked = request.args.get("period", "").strip()
    period = parse_period(asked or latest_quarter(engine))
    page_config = _common(street) | {
        "period": period.label,
        "sanlingUrl": url_for("party_api.sanling_figures"),
        "exportUrl": url_for("party_api.export_sanling_file", fmt="xlsx"),
    }
    return render_template(
        "party_sanling.html",
        page_config=page_config,
        streets=choices,
        street=street,
        period=period.label,
        single=policy().street is not None,
    )
