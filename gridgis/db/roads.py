"""Storing a district's roads and barriers: the kinds' names, the look-ups and writes of
:func:`gridgis.registers.roads.import_roads` (the importer of ``gridgis import roads``).

Roads with an external id are upserted on it (:func:`upsert_roads`); :func:`delete_others`
deletes, for a ``replace``, only the roads that run into the outlines of the districts
given, never another district's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from sqlalchemy import Connection, Text, any_, delete, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from gridgis.db.load import flat_wkb, geometry_from_wkb
from gridgis.db.models import ROAD_KINDS, SRID, District, Road
from gridgis.errors import NotFoundError

__all__ = [
    "ROAD_KIND_NAMES",
    "delete_others",
    "districts_of",
    "in_district",
    "road_kind",
    "road_kinds_listing",
    "stored_roads",
    "upsert_roads",
]

ROAD_KIND_NAMES: dict[str, str] = {
    "主干路": "arterial", "主干道": "arterial", "快速路": "arterial", "干道": "arterial",
    "次干路": "secondary", "次干道": "secondary",
    "支路": "local", "街巷": "local", "小区道路": "local", "巷道": "local",
    "步行道": "path", "人行道": "path", "小路": "path", "绿道": "path",
    "铁路": "railway", "轨道": "railway",
    "河流": "river", "河道": "river", "水系": "river", "沟渠": "river",
    "围墙": "wall", "墙": "wall",
    "其他": "other", "其它": "other",
}  # fmt: skip
"""Road kinds as district files name them in Chinese, each with its code."""
_FIRST_NAMES = tuple(
    next(name for name, code in ROAD_KIND_NAMES.items() if code == kind) for kind in ROAD_KINDS
)
"""The first Chinese name of each code, in the codes' order (for messages)."""


def road_kind(given: str) -> str | None:
    """The code of a kind as a file writes it (a code in any case, or a Chinese name of
    :data:`ROAD_KIND_NAMES`), ``None`` when it is neither.

    Examples
    --------
    >>> road_kind("主干路"), road_kind(" Railway "), road_kind("高速公路X")
    ('arterial', 'railway', None)
    """
    text = given.strip()
    kind = ROAD_KIND_NAMES.get(text, text.lower())
    return kind if kind in ROAD_KINDS else None


def road_kinds_listing() -> str:
    """The kinds a file may give, codes then Chinese names, for messages."""
    return f"{', '.join(ROAD_KINDS)} ({'、'.join(_FIRST_NAMES)})"


def districts_of(conn: Connection, lines: list[shapely.Geometry]) -> list[str]:
    """The stored districts whose outline any of ``lines`` runs into (in one query)."""
    if not lines:
        return []
    everything = shapely.MultiLineString(
        [part for line in lines for part in shapely.get_parts(line)]
    )
    area = func.ST_GeomFromWKB(literal(flat_wkb(everything)), SRID)
    found = conn.execute(
        select(District.code)
        .where(
            District.geom.is_not(None),
            func.ST_Intersects(District.geom, area),
            not_(func.ST_Touches(District.geom, area)),
        )
        .order_by(District.code)
    )
    return list(found.scalars())


def in_district(conn: Connection, district: str, lines: np.ndarray) -> np.ndarray:
    """Which of ``lines`` (EPSG:4326) run into ``district``'s outline (touching its edge is
    not enough).

    Raises
    ------
    NotFoundError
        When no outline of ``district`` is stored.
    """
    wkb = conn.execute(
        select(func.ST_AsBinary(District.geom)).where(
            District.code == district, District.geom.is_not(None)
        )
    ).scalar()
    if wkb is None:
        raise NotFoundError(
            f"`district` was {district!r} but no outline of it is stored "
            "(gridgis import boundaries --level district)",
            zh=f"`district` 为 {district!r}，但尚未存储该区的边界（gridgis import boundaries --"
            "level district）",
        )
    outline = shapely.from_wkb(bytes(wkb))
    shapely.prepare(outline)
    return np.asarray(
        shapely.intersects(outline, lines) & ~shapely.touches(outline, lines), dtype=bool
    )


def upsert_roads(conn: Connection, writes: list[dict[str, Any]]) -> None:
    """Insert each road of ``writes`` (``external_id``, ``kind``, ``name``, ``wkb`` of
    :func:`gridgis.db.load.flat_wkb`), or update the stored one with its external id."""
    if not writes:
        return
    statement = pg_insert(Road).values(geom=geometry_from_wkb())
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[Road.external_id],
            set_={
                "kind": statement.excluded.kind,
                "name": statement.excluded.name,
                "geom": statement.excluded.geom,
            },
        ),
        writes,
    )


def stored_roads(
    conn: Connection, ids: list[str]
) -> dict[str, tuple[str, str | None, shapely.Geometry]]:
    """Kind, name and line of the stored roads of ``ids``, by external id."""
    if not ids:
        return {}
    found = conn.execute(
        select(Road.external_id, Road.kind, Road.name, func.ST_AsBinary(Road.geom)).where(
            Road.external_id == any_(literal(ids, ARRAY(Text)))
        )
    )
    return {str(e): (k, n, shapely.from_wkb(bytes(g))) for e, k, n, g in found}


def delete_others(conn: Connection, districts: list[str], keep: list[str]) -> list[str]:
    """Delete the roads that run into the outline of one of ``districts`` (touching its edge
    is not enough) and whose external id is not in ``keep``; their ids (``#<id>`` for
    roads without an external id)."""
    if not districts:
        return []
    outline = aliased(District)
    in_area = (
        select(literal(1))
        .select_from(outline)
        .where(
            outline.code.in_(districts),
            func.ST_Intersects(Road.geom, outline.geom),
            not_(func.ST_Touches(Road.geom, outline.geom)),
        )
        .exists()
    )
    others = or_(
        Road.external_id.is_(None), not_(Road.external_id == any_(literal(keep, ARRAY(Text))))
    )
    deleted = conn.execute(delete(Road).where(in_area, others).returning(Road.id, Road.external_id))
    return sorted(e if e is not None else f"#{i}" for i, e in deleted)
