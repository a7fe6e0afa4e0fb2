"""Lanes inside urban communities, and the land the roads leave free for compounds.

A road takes its half width (by kind) plus 2 m, and a community keeps a 3 m
margin along its edge; the free parts large enough are the compounds.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

_HALF_WIDTH = {"arterial": 18.0, "secondary": 11.0, "local": 6.0, "path": 3.5,
               "railway": 14.0, "river": 22.0, "wall": 1.0, "other": 3.0}  # fmt: skip
_EDGE = 3.0
_MIN_COMPOUND_M2 = 1_200.0


def _lane_grid(
    polygon: BaseGeometry, spacing: float, angle: float, rng: np.random.Generator
) -> list[BaseGeometry]:
    """Straight lanes every ``spacing`` metres across ``polygon`` at ``angle``, clipped."""
    c = polygon.centroid
    half = (
        math.hypot(polygon.bounds[2] - polygon.bounds[0], polygon.bounds[3] - polygon.bounds[1]) / 2
    )
    offsets = np.arange(-half, half + spacing, spacing) + rng.uniform(0, spacing)
    ca, sa = math.cos(angle), math.sin(angle)
    lines: list[NDArray[np.object_]] = []
    low, high = np.full(len(offsets), -half), np.full(len(offsets), half)
    for family in (0, 1):
        if family == 0:
            x0, y0, x1, y1 = offsets, low, offsets, high
        else:
            x0, y0, x1, y1 = low, offsets, high, offsets
        coords = np.stack(
            [
                np.column_stack([ca * x0 - sa * y0 + c.x, sa * x0 + ca * y0 + c.y]),
                np.column_stack([ca * x1 - sa * y1 + c.x, sa * x1 + ca * y1 + c.y]),
            ],
            axis=1,
        )
        lines.append(np.asarray(shapely.linestrings(coords), dtype=object))
    clipped = shapely.intersection(np.concatenate(lines), polygon)
    return [g for g in clipped if not g.is_empty and g.length > 40.0]


def _free_land(
    polygon: BaseGeometry, roads: gpd.GeoDataFrame, tree: shapely.STRtree
) -> list[BaseGeometry]:
    """The parts of ``polygon`` clear of roads (by their half width) and of its edge."""
    inner: BaseGeometry = polygon.buffer(-_EDGE)
    near = tree.query(polygon, predicate="intersects")
    if near.size:
        widths = roads["kind"].map(_HALF_WIDTH).fillna(3.0).to_numpy()[near] + 2.0
        cover = shapely.union_all(
            shapely.buffer(roads.geometry.to_numpy()[near], widths, quad_segs=2)
        )
        inner = inner.difference(cover)
    parts = shapely.get_parts(inner)
    parts = parts[shapely.area(parts) >= _MIN_COMPOUND_M2]
    return parts.tolist()
