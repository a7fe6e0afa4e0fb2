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
from gridgis.web.party_hub import PARTY_BLUEPRINTS, PARTY_ROLES
from gridgis.web.tasks import task_counts


@dataclass(frozen=True)
class NavItem:
    """One link of the bar: the view's endpoint, its Chinese label, who may open it."""

    endpoint: str
    label: str
    roles: tuple[str, ...] = ("admin", "street", "analyst")
    blueprints: tuple[str, ...] = ()
    """Blueprints whose pages count as this entry's (marked current in the bar)."""
    badge: str | None = None
    """The count the entry shows: ``"tasks"``, the user's work
    (:func:`gridgis.web.tasks.task_counts`); ``"notices"``, its unread notices."""


NAV: tuple[NavItem, ...] = (
    NavItem("maps.index", "概览", blueprints=("overview",)),
    NavItem(
        "case_pages.tasks_page",
        "待办",
        roles=("admin", "street", "worker", "department"),
        badge="tasks",
    ),
    NavItem("case_pages.case_list", "事件", roles=CASE_ROLES),
    NavItem("case_pages.new_case", "上报事件", roles=("admin", "street", "worker")),
    NavItem("tiles.cell_map", "网格覆盖"),
    NavItem("placement_pages.placement_map", "党支部布局"),
    NavItem("density_pages.density_map", "案件密度"),
    NavItem("party_hub.index", "党建", roles=PARTY_ROLES, blueprints=PARTY_BLUEPRINTS),
    NavItem("export_pages.export_page", "数据导出"),
    NavItem("imports.index", "数据导入", roles=("admin", "street"), blueprints=("imports",)),
    NavItem("editing.index", "网格编辑", roles=("admin", "street"), blueprints=("editing", "hand")),
    NavItem("audit_pages.audit_page", "审计日志", roles=("admin",)),
    NavItem("visit_pages.visits_page", "我的走访", roles=("member",)),
    NavItem(
        "notice_pages.inbox",
        "消息",
        roles=CASE_ROLES,
        blueprints=("notice_pages",),
        badge="notices",
    ),
)


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


def _badge(kind: str | None) -> int | None:
    if kind == "tasks":
        total: int | None = task_counts().get("total")
        return total
    return unread_notices() if kind == "notices" else None


def nav_links() -> list[dict[str, object]]:
    """The bar for the signed-in user: ``label`` (translated), ``url``, ``current``,
    ``badge`` (the count the entry shows, or ``None``) and ``badge_kind`` (``tasks``: the
    user's work, one query, only for a user with work; ``notices``: its unread notices)."""
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
                "badge": _badge(item.badge),
                "badge_kind": item.badge,
            }
        )
    return links
