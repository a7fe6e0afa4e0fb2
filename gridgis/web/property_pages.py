"""The 红心物业 page (issue 19): the compounds of a street and how each is managed.

Routes
------
``GET /party/property?street=``
    A map of the compounds (their outlines) coloured by management: a company, 红心物业
    by mode, none (无物业), unregistered; per community the figures (compounds, old ones,
    the share with any management, the share by 红心物业 mode, those with none) and the
    list of compounds to act on; each compound's 物业管理 cases of the twelve months; an
    administrator or the street office of the street changes a compound's management in
    a form. Everything comes from ``/api/party/compounds`` (:mod:`gridgis.web.property_api`).

A street office sees its own street only; another is a 403.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

from gridgis.access import OFFICE_ROLES
from gridgis.db.models import MANAGEMENT_NAMES_ZH, RED_MODE_NAMES_ZH
from gridgis.web.area_choice import chosen_street, street_choices
from gridgis.web.auth import csrf_token, policy, roles_required
from gridgis.web.cell_layer import cells_bounds
from gridgis.web.db import get_engine

__all__ = ["bp"]

bp = Blueprint("property_pages", __name__)


@bp.get("/party/property")
@roles_required(*OFFICE_ROLES)
def property_page() -> str:
    """Render the 红心物业 page of one street (or all)."""
    engine = get_engine()
    choices = street_choices(engine)
    street = chosen_street(choices, default_first=False)
    rules = policy()
    page_config = {
        "street": street,
        "bounds": cells_bounds(engine, street=street),
        "maxZoom": 19,
        "compoundsUrl": url_for("property_api.list_compounds"),
        "figuresUrl": url_for("property_api.compound_figures"),
        "exportUrl": url_for("export_api.download", what="compounds", fmt="xlsx"),
        "casesUrl": url_for("case_pages.case_list"),
        "mayChange": rules.changes_anything,
        "csrf": csrf_token(),
        "managements": MANAGEMENT_NAMES_ZH,
        "modes": RED_MODE_NAMES_ZH,
    }
    return render_template(
        "party_property.html",
        page_config=page_config,
        streets=choices,
        street=street,
        managements=MANAGEMENT_NAMES_ZH,
        modes=RED_MODE_NAMES_ZH,
        may_change=rules.changes_anything,
        single=rules.street is not None,
    )
