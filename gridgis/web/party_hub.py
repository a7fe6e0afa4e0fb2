"""The 党建 page (``/party``): one entry of the navigation bar for party building on the grid.

Issue 19 adds many pages (the organisation tree, the leaders roster, the members
register and points, 大走访 and its ledger, 驻区单位 and 联合体, the 三零
communities, 红心物业). The bar has one entry, 党建, which opens this page: a card for each
of those pages the signed-in user may open. :data:`SECTIONS` is the one list of
them; a section whose view is not registered, or whose roles exclude the user, is
left out, as the bar does for its own entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template, url_for

from gridgis.access import OFFICE_ROLES, VISIT_ROLES
from gridgis.web.auth import login_required, signed_in_user
from gridgis.web.i18n import gettext

__all__ = ["PARTY_BLUEPRINTS", "PARTY_ROLES", "SECTIONS", "Section", "bp", "sections_for"]

bp = Blueprint("party_hub", __name__)

GRID_ROLES: tuple[str, ...] = (*OFFICE_ROLES, "worker")
"""Who reads the organisation tree and the leaders of their area."""


@dataclass(frozen=True)
class Section:
    """One page of party building: its view's endpoint, Chinese title and line, who opens it."""

    endpoint: str
    title: str
    line: str
    roles: tuple[str, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        "organisation_pages.organisations_page",
        "党组织体系",
        "党委、党总支、党支部、党小组的树，一网格一支部地图，党小组与党员中心户",
        GRID_ROLES,
    ),
    Section(
        "organisation_pages.leaders_page",
        "网格长、楼栋长、单元长",
        "各社区网格长、楼栋长、单元长的覆盖率与名册",
        GRID_ROLES,
    ),
    Section(
        "members_pages.members_page",
        "党员名册",
        "党员的组织、类型、居住楼栋与报到情况，按组织和网格统计人数与年龄",
        GRID_ROLES,
    ),
    Section(
        "members_pages.points_page",
        "党员积分",
        "积分规则与各党组织的年度积分排名",
        GRID_ROLES,
    ),
    Section(
        "visit_pages.campaigns_page",
        "大走访",
        "走访活动、各网格走访对象的分派与进度地图、超期未走访对象",
        GRID_ROLES,
    ),
    Section(
        "visit_pages.visits_page",
        "我的走访",
        "分派给我的走访对象；在手机上记录走访、位置、照片和发现的问题",
        VISIT_ROLES,
    ),
    Section(
        "visit_pages.ledger_page",
        "问题台账",
        "走访发现的问题：转为事件、销号，导出台账",
        GRID_ROLES,
    ),
    Section(
        "party_pages.units_page",
        "驻区单位、联合体与需求清单",
        "驻区单位与党建联合体，社区需求的发布、认领与办结",
        OFFICE_ROLES,
    ),
    Section(
        "property_pages.property_page",
        "红心物业",
        "老旧小区物业管理：物业公司、红心物业四种模式与无物业小区，各小区的物业管理事件",
        OFFICE_ROLES,
    ),
    Section(
        "party_pages.sanling_page",
        "三零社区",
        "居民零上访、安全零事故、治安零发案：各社区的三项数字、地图与排名",
        OFFICE_ROLES,
    ),
)
"""Every page of party building, in the order the 党建 page lists them."""

PARTY_ROLES: tuple[str, ...] = tuple(
    dict.fromkeys(role for section in SECTIONS for role in section.roles)
)
"""The roles that open at least one section (the bar shows them the 党建 entry)."""

PARTY_BLUEPRINTS: tuple[str, ...] = tuple(
    dict.fromkeys(["party_hub", *(section.endpoint.split(".")[0] for section in SECTIONS)])
)
"""The blueprints whose pages the bar marks as 党建's."""


def sections_for(role: str | None) -> list[dict[str, str]]:
    """The sections a user of ``role`` may open: ``title``, ``line`` (translated) and ``url``."""
    return [
        {
            "title": gettext(section.title),
            "line": gettext(section.line),
            "url": url_for(section.endpoint),
        }
        for section in SECTIONS
        if section.endpoint in current_app.view_functions and role in section.roles
    ]


@bp.get("/party")
@login_required
def index() -> str:
    """The 党建 page: a card for each party-building page the user may open."""
    user = signed_in_user()
    return render_template(
        "party_hub.html", sections=sections_for(user.role if user is not None else None)
    )
