"""Building footprints on a lattice aligned with each compound, entirely inside it.

The lattice's spacing leaves the sunlight gaps of each building type, so
footprints never touch a road, one another or the community's edge.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

from gridgis.demo.building_types import BUILDING_TYPES

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _orientation(polygons: NDArray[np.object_]) -> FloatArray:
    rect = shapely.minimum_rotated_rectangle(polygons)
    coords = shapely.get_coordinates(shapely.get_exterior_ring(rect)).reshape(len(polygons), 5, 2)
    d1 = coords[:, 1] - coords[:, 0]
    d2 = coords[:, 2] - coords[:, 1]
    long_side = np.where(
        (np.hypot(d1[:, 0], d1[:, 1]) >= np.hypot(d2[:, 0], d2[:, 1]))[:, None], d1, d2
    )
    return np.arctan2(long_side[:, 1], long_side[:, 0])


def _slots(
    polygons: NDArray[np.object_],
    types: NDArray[np.object_],
    angles: FloatArray,
    rng: np.random.Generator,
    *,
    jitter: float = 0.0,
) -> tuple[IntArray, NDArray[np.object_], IntArray]:
    """Footprints of each polygon's type on a lattice inside it.

    Returns the polygon index of each footprint, the footprints (largest
    possible for the type) and their units.
    """
    n = len(polygons)
    spec = [BUILDING_TYPES[t] for t in types]
    units = np.asarray([rng.integers(s.units[0], s.units[1] + 1) for s in spec])
    length = np.asarray([s.unit_length for s in spec]) * units
    depth = np.asarray([s.depth for s in spec])
    dx = length + np.asarray([s.gap_x for s in spec])
    dy = depth + np.asarray([s.gap_y for s in spec])
    centroid = shapely.centroid(polygons)
    cx, cy = shapely.get_x(centroid), shapely.get_y(centroid)
    ca, sa = np.cos(angles), np.sin(angles)
    coords = shapely.get_coordinates(polygons, return_index=True)
    pts, owner = coords
    u = (pts[:, 0] - cx[owner]) * ca[owner] + (pts[:, 1] - cy[owner]) * sa[owner]
    v = -(pts[:, 0] - cx[owner]) * sa[owner] + (pts[:, 1] - cy[owner]) * ca[owner]
    umin = np.full(n, np.inf)
    umax = np.full(n, -np.inf)
    vmin = np.full(n, np.inf)
    vmax = np.full(n, -np.inf)
    np.minimum.at(umin, owner, u)
    np.maximum.at(umax, owner, u)
    np.minimum.at(vmin, owner, v)
    np.maximum.at(vmax, owner, v)
    nx = np.maximum(np.floor((umax - umin - length) / dx).astype(np.int64) + 1, 0)
    ny = np.maximum(np.floor((vmax - vmin - depth) / dy).astype(np.int64) + 1, 0)
    count = nx * ny
    idx = np.repeat(np.arange(n), count)
    if idx.size == 0:
        return idx, np.empty(0, dtype=object), idx
    start = np.cumsum(count) - count
    k = np.arange(idx.size) - start[idx]
    col, row = k % nx[idx], k // nx[idx]
    # Centre the lattice in the polygon's box.
    u0 = (umin + umax) / 2 - (nx - 1) * dx / 2
    v0 = (vmin + vmax) / 2 - (ny - 1) * dy / 2
    uc = u0[idx] + col * dx[idx] + rng.uniform(-jitter, jitter, idx.size)
    vc = v0[idx] + row * dy[idx] + rng.uniform(-jitter, jitter, idx.size)
    hl, hd = length[idx] / 2, depth[idx] / 2
    corners_u = np.stack([uc - hl, uc + hl, uc + hl, uc - hl, uc - hl], axis=1)
    corners_v = np.stack([vc - hd, vc - hd, vc + hd, vc + hd, vc - hd], axis=1)
    a_c, a_s = ca[idx][:, None], sa[idx][:, None]
    x = corners_u * a_c - corners_v * a_s + cx[idx][:, None]
    y = corners_u * a_s + corners_v * a_c + cy[idx][:, None]
    footprints = np.asarray(shapely.polygons(np.stack([x, y], axis=2)), dtype=object)
    shapely.prepare(polygons)
    inside = shapely.contains(polygons[idx], footprints)
    return idx[inside], footprints[inside], units[idx][inside]
