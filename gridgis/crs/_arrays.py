"""Array helpers of :mod:`gridgis.crs`: scalars or arrays in, flat float arrays inside.

``_prepare`` flattens lon/lat to float arrays (remembering the shape),
``_finish`` gives back scalars or the input's shape, ``_iterate_inverse``
inverts a forward transform by fixed-point iteration, ``_in_box`` tests a
bounding box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from gridgis.errors import CoordinateError

FloatArray: TypeAlias = NDArray[np.float64]
GeometryT = TypeVar("GeometryT", bound=shapely.Geometry)


_TOLERANCE_DEG = 1e-10
"""Iterative inverses stop when a step moves the point less than this (about 10 µm)."""
_MAX_ITERATIONS = 30
"""Cap on the iterations of the inverses (convergence normally takes 3–5)."""


def _prepare(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Return flat float64 copies of two coordinate inputs broadcast together, and their shape.

    The shape is ``()`` when both inputs are scalars.
    """
    try:
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CoordinateError(
            f"coordinates must be numbers: {exc}", zh=f"坐标必须是数字：{exc}"
        ) from None
    try:
        bx, by = np.broadcast_arrays(x, y)
    except ValueError:
        raise CoordinateError(
            f"x/longitude has shape {x.shape} and y/latitude has shape {y.shape}; they must match",
            zh=f"x/经度的形状为 {x.shape}，y/纬度的形状为 {y.shape}；两者必须一致",
        ) from None
    return bx.ravel().astype(np.float64), by.ravel().astype(np.float64), bx.shape


def _finish(x: FloatArray, y: FloatArray, shape: tuple[int, ...]) -> Any:
    if shape == ():
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


def _iterate_inverse(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    target_x: FloatArray,
    target_y: FloatArray,
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x, y) == (target_x, target_y)`` by fixed-point iteration.

    ``forward`` is the identity plus a small, slowly varying shift, so the
    update ``p <- p + (target - forward(p))`` contracts by a factor of about
    0.003 per step. Only the points that have not converged are recomputed.
    """
    x = x.copy()
    y = y.copy()
    active = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        fx, fy = forward(x[active], y[active])
        dx = target_x[active] - fx
        dy = target_y[active] - fy
        x[active] += dx
        y[active] += dy
        active = active[(np.abs(dx) > _TOLERANCE_DEG) | (np.abs(dy) > _TOLERANCE_DEG)]
    return x, y


def _in_box(lon: FloatArray, lat: FloatArray, box: tuple[float, float, float, float]) -> NDArray:
    west, south, east, north = box
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
