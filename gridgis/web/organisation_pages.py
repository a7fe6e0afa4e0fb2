"""The pages of the party organisation tree and the leaders roster (issue 19).

Routes
------
``GET /party/organisations?street=``
    The organisation tree of one street office (collapsible: 党委/党总支 → 党支部 →
    党小组, with kind, secretary masked per the policy, members), a map of the cells
    coloured by 一网格一支部 status (none / own / shared) with the buildings a 党小组
    covers and those holding a 党员中心户 marked, and, for administrators and street
    offices, a form to create, rename, change the kind of, move, set the cells and
    buildings of, and delete an organisation (through ``/api/party/organisations``).
``GET /party/leaders?street=``
    Per community: cells with a 网格长, share of buildings with a 楼栋长 and of units with
    a 单元长, the count of each role; a map of the cells coloured by their community's
    share of buildings with a 楼栋长; a community's drill-down lists its buildings
    without a 楼栋长 and (for users who may see its people) its leaders.

``street`` defaults to the first street office with cells; a street office gets its own,
another is a 403.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, url_for

from gridgis.db import tiles as db_tiles
from gridgis.db.models import BRANCH_KINDS
from gridgis.registers.kinds import BRANCH_KIND_NAMES
from gridgis.web.area_choice import chosen_street, street_choices
from gridgis.web.auth import csrf_token, login_required, policy
from gridgis.web.cell_layer import cell_card_url, cell_tiles_url, cells_bounds
from gridgis.web.db import get_engine

__all__ = ["bp"]

bp = Blueprint("organisation_pages", __name__, url_prefix="/party")


def _page_config(street: str | None) -> dict[str, Any]:
    engine = get_engine()
    return {
        "street": street,
        "tilesUrl": cell_tiles_url(),
        "cardUrl": cell_card_url(),
        "names": {} if street is None else db_tiles.area_names(engine, street=street),
        "bounds": None if street is None else cells_bounds(engine, street=street),
        "maxZoom": 19,
    }


@bp.get("/organisations")
@login_required
def organisations_page() -> str:
    """Render the organisation tree and the 一网格一支部 map of one street office."""
    choices = street_choices(get_engine())
    street = chosen_street(choices, default_first=True)
    may_edit = policy().changes_anything
    page_config = _page_config(street) | {
        "treeUrl": url_for("organisation_api.organisations"),
        "statusUrl": url_for("organisation_api.cells_status"),
        "organisationUrl": url_for("organisation_api.organisation", organisation_id=0)[:-1],
        "createUrl": url_for("organisation_api.create"),
        "mayEdit": may_edit,
        "csrfToken": csrf_token() if may_edit else None,
    }
    return render_template(
        "party_organisations.html",
        page_config=page_config,
        streets=choices,
        street=street,
        may_edit=may_edit,
        kinds=[(k, BRANCH_KIND_NAMES[k]) for k in BRANCH_KINDS],
    )


@bp.get("/leaders")
@login_required
def leaders_page() -> str:
    """Render the leaders' coverage per community of one street office, with its map."""
    choices = street_choices(get_engine())
    street = chosen_street(choices, default_first=True)
    page_config = _page_config(street) | {"leadersUrl": url_for("organisation_api.leaders")}
    return render_template(
        "party_leaders.html", page_config=page_config, streets=choices, street=street
    )
