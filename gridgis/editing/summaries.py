"""What the layout editor lists: every community with its cells, bounds and drafts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Select, and_, func, or_, select

from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.models import Community, GridCell, LayoutDraft, LayoutVersion, Street
from gridgis.db.queries import connection
from gridgis.paging import check_page


@dataclass(frozen=True)
class CommunitySummary:
    """A community as the editor lists it."""

    code: str
    name: str
    street_code: str
    street_name: str
    cells: int
    out_of_bounds: int
    version: int
    drafts: int


def community_summaries(
    bind: Engine | Connection,
    *,
    search: str | None = None,
    street: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[CommunitySummary]:
    """Every community (or those whose code or name contains ``search``; of ``street``
    only, when given) with its number of active cells, of cells outside its household
    bounds, its layout version and its number of drafts; ordered by street and code; at
    most ``limit`` from ``offset`` on (as :func:`gridgis.paging.check_page` checks; see
    :func:`count_communities` for the number of them all)."""
    limit, offset = check_page(limit, offset)
    lo, hi = DEFAULT_BOUNDS
    outside = or_(
        GridCell.households < func.coalesce(Community.min_households, lo),
        GridCell.households > func.coalesce(Community.max_households, hi),
    )
    version = (
        select(func.coalesce(func.max(LayoutVersion.version), 0))
        .where(LayoutVersion.community_code == Community.code)
        .scalar_subquery()
    )
    drafts = (
        select(func.count())
        .select_from(LayoutDraft)
        .where(LayoutDraft.community_code == Community.code)
        .scalar_subquery()
    )
    query = (
        select(
            Community.code,
            Community.name,
            Street.code.label("street_code"),
            Street.name.label("street_name"),
            func.count(GridCell.id).label("cells"),
            func.count(GridCell.id).filter(outside).label("out_of_bounds"),
            version.label("version"),
            drafts.label("drafts"),
        )
        .join_from(Community, Street, Street.code == Community.street_code)
        .outerjoin(
            GridCell,
            and_(GridCell.community_code == Community.code, GridCell.valid_to.is_(None)),
        )
    )
    query = _matching(query, search, street)
    query = query.group_by(Community.code, Street.code).order_by(Street.code, Community.code)
    with connection(bind) as conn:
        rows = conn.execute(query.limit(limit).offset(offset))
        return [CommunitySummary(**r._mapping) for r in rows]


def _matching(query: Select[Any], search: str | None, street: str | None) -> Select[Any]:
    """``query`` (of communities joined with their streets) limited as
    :func:`community_summaries` says."""
    if street is not None:
        query = query.where(Community.street_code == street)
    if search and search.strip():
        term = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(
            or_(
                Community.code.like(term + "%"),
                Community.name.like("%" + term + "%"),
                Street.name.like("%" + term + "%"),
            )
        )
    return query


def count_communities(
    bind: Engine | Connection, *, search: str | None = None, street: str | None = None
) -> int:
    """How many communities :func:`community_summaries` lists with the same filters."""
    query = (
        select(func.count())
        .select_from(Community)
        .join(Street, Street.code == Community.street_code)
    )
    with connection(bind) as conn:
        return int(conn.execute(_matching(query, search, street)).scalar_one())


def out_of_bounds(households: Any, bounds: tuple[int, int]) -> list[bool]:
    """Whether each household count lies outside ``bounds`` (``None`` counts as inside)."""
    return [
        h is not None and not pd.isna(h) and not bounds[0] <= h <= bounds[1] for h in households
    ]
