"""What the layout editor lists: every community with its cells, bounds and drafts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from gridgis.db.layout import DEFAULT_BOUNDS
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
    bind: Engine | Connection, *, search: str | None = None, limit: int = 500
) -> list[CommunitySummary]:
    """Every community (or those whose code or name contains ``search``) with its number
    of active cells, of cells outside its household bounds, its layout version and its
    number of drafts; ordered by street and code; at most ``limit`` (1 to 1000, as
    :func:`gridgis.paging.check_page` checks)."""
    limit, _ = check_page(limit, 0)
    sql = (
        "SELECT c.code, c.name, s.code AS street_code, s.name AS street_name, "
        "count(g.id) AS cells, "
        "count(g.id) FILTER (WHERE g.households < coalesce(c.min_households, :lo) "
        "OR g.households > coalesce(c.max_households, :hi)) AS out_of_bounds, "
        "(SELECT coalesce(max(v.version), 0) FROM layout_version v "
        "WHERE v.community_code = c.code) AS version, "
        "(SELECT count(*) FROM layout_draft d WHERE d.community_code = c.code) AS drafts "
        "FROM community c JOIN street s ON s.code = c.street_code "
        "LEFT JOIN grid_cell g ON g.community_code = c.code AND g.valid_to IS NULL "
    )
    params: dict[str, Any] = {"lo": DEFAULT_BOUNDS[0], "hi": DEFAULT_BOUNDS[1], "limit": limit}
    if search and search.strip():
        sql += "WHERE c.code LIKE :prefix OR c.name LIKE :contains OR s.name LIKE :contains "
        term = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params |= {"prefix": term + "%", "contains": "%" + term + "%"}
    sql += "GROUP BY c.code, s.code ORDER BY s.code, c.code LIMIT :limit"
    with connection(bind) as conn:
        return [CommunitySummary(**r._mapping) for r in conn.execute(text(sql), params)]


def out_of_bounds(households: Any, bounds: tuple[int, int]) -> list[bool]:
    """Whether each household count lies outside ``bounds`` (``None`` counts as inside)."""
    return [
        h is not None and not pd.isna(h) and not bounds[0] <= h <= bounds[1] for h in households
    ]
