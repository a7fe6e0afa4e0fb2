"""The navigation bar: the app's pages a user may open, in one place.

Each entry names a view by its endpoint; an entry whose view is not
registered, or whose roles exclude the signed-in user, is left out, so the
bar never links to a page that would answer 403 or 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from gridgis.access import CASE_ROLES
from gridgis.notices import count_unread
from gridgis.web.auth import signed_in_user
from gridgis.web.db import get_engine
from gridgis.web.i18n import gettext


@dataclass(frozen=True)
class NavItem:
    """One link of the bar: the view's endpoint, its Chinese label, who may open it."""

    endpoint: str
    label: str
    roles: tuple[str, ...] = ("admin", "street", "analyst")
    blueprints: tuple[str, ...] = ()
    """Blueprints whose pages count as this entry's (marked current in the bar)."""


NAV: tuple[NavItem, ...] = (
    NavItem("maps.index", "概览", blueprints=("overview",)),
    NavItem("tiles.cell_map", "网格覆盖"),
    NavItem("placement_pages.placement_map", "党支部布局"),
    NavItem("density_pages.density_map", "案件密度"),
    NavItem("export_pages.export_page", "数据导出"),
    NavItem("imports.index", "数据导入", roles=("admin", "street"), blueprints=("imports",)),
    NavItem("editing.index", "网格编辑", roles=("admin", "street"), blueprints=("editing", "hand")),
    NavItem("audit_pages.audit_page", "审计日志", roles=("admin",)),
    NavItem("notice_pages.inbox", "消息", roles=CASE_ROLES, blueprints=("notice_pages",)),
)

_BADGES = {"notice_pages.inbox"}
"""Entries that show the user's unread notices."""


def unread_notices() -> int | None:
    """The signed-in user's unread notices (one indexed count per request), ``None`` when
    nobody is signed in or the database cannot answer (an error page still renders)."""
    user = signed_in_user()
    if user is None:
        return None
    if "unread_notices" not in g:
        try:
            g.unread_notices = count_unread(get_engine(), user.id)
        except SQLAlchemyError:
            g.unread_notices = None
    return g.unread_notices


def nav_links() -> list[dict[str, object]]:
    """The bar for the signed-in user: ``label`` (translated), ``url``, ``current``,
    ``badge`` (the unread notices on the inbox's entry, else ``None``)."""
    user = signed_in_user()
    if user is None:
        return []
    links: list[dict[str, object]] = []
    for item in NAV:
        if item.endpoint not in current_app.view_functions or user.role not in item.roles:
            continue
        links.append(
            {
                "label": gettext(item.label),
                "url": url_for(item.endpoint),
                "current": request.endpoint == item.endpoint
                or request.blueprint in item.blueprints,
                "badge": unread_notices() if item.endpoint in _BADGES else None,
            }
        )
    return links
