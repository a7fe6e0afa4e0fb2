"""The lines drawn over a demo district's outline, in its metric CRS.

The second step of :mod:`gridgis.demo.areas`: the centre of the urban core
and the ellipse around it, the warped street grid inside it, the sites of
the Voronoi diagram whose edges are the field and village-road lines outside
it, and the meandering curves of arterials, the river and the railway.
"""

from __future__ import annotations

import math

import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.demo.profiles import DistrictProfile

FloatArray = NDArray[np.float64]


def _centre(profile: DistrictProfile, outline: BaseGeometry, metric: pyproj.CRS) -> shapely.Point:
    x, y = crs_mod.from_wgs84(profile.centre[0], profile.centre[1], metric)
    point = shapely.Point(x, y)
    if not outline.contains(point):
        # A centre outside the outline: the nearest point 200 m inside it.
        inner = outline.buffer(-200.0)
        target = inner if not inner.is_empty else outline
        point = shapely.Point(shapely.shortest_line(target, point).coords[0])
    return point


def _ellipse(centre: shapely.Point, radius: float, ratio: float, angle: float) -> BaseGeometry:
    t = np.linspace(0.0, 2.0 * math.pi, 97)[:-1]
    x, y = radius * np.cos(t), radius * ratio * np.sin(t)
    c, s = math.cos(angle), math.sin(angle)
    return shapely.Polygon(np.column_stack([centre.x + c * x - s * y, centre.y + s * x + c * y]))


def _core_zone(
    outline: BaseGeometry, centre: shapely.Point, area_m2: float, rng: np.random.Generator
) -> BaseGeometry:
    """An ellipse around the centre whose part inside the outline has ``area_m2``."""
    if area_m2 <= 0:
        return shapely.Polygon()
    ratio = float(rng.uniform(0.7, 0.95))
    angle = float(rng.uniform(0.0, math.pi))
    lo, hi = 0.0, math.sqrt(outline.area / math.pi) * 4.0
    shape: BaseGeometry = shapely.Polygon()
    # Bisection on the radius: the clipped area grows monotonically with it.
    for _ in range(30):
        mid = (lo + hi) / 2.0
        shape = _ellipse(centre, mid, ratio, angle).intersection(outline)
        if shape.area < area_m2:
            lo = mid
        else:
            hi = mid
    return shapely.make_valid(_ellipse(centre, hi, ratio, angle))


def _rotate(x: FloatArray, y: FloatArray, angle: float) -> tuple[FloatArray, FloatArray]:
    c, s = math.cos(angle), math.sin(angle)
    return c * x - s * y, s * x + c * y


def _grid_lines(
    zone: BaseGeometry, spacing: float, angle: float, rng: np.random.Generator
) -> tuple[list[BaseGeometry], list[int]]:
    """Warped grid lines over ``zone`` (not yet clipped); their index across the grid."""
    cx, cy = zone.centroid.x, zone.centroid.y
    half = max(zone.bounds[2] - zone.bounds[0], zone.bounds[3] - zone.bounds[1])
    offsets = np.arange(-half, half + spacing, spacing)
    along = np.linspace(-half, half, max(int(2 * half / 60.0), 8))
    lines: list[BaseGeometry] = []
    index: list[int] = []
    for family in (0, 1):
        phase = rng.uniform(0, 2 * math.pi, len(offsets))
        wavelength = rng.uniform(6.0, 12.0, len(offsets)) * spacing
        amplitude = rng.uniform(0.0, 0.12, len(offsets)) * spacing
        # One line per offset: a Python loop over a few dozen lines, each built vectorised.
        for k, off in enumerate(offsets):
            u = off + amplitude[k] * np.sin(2 * math.pi * along / wavelength[k] + phase[k])
            x, y = (u, along) if family == 0 else (along, u)
            rx, ry = _rotate(x, y, angle)
            lines.append(shapely.LineString(np.column_stack([rx + cx, ry + cy])))
            index.append(k)
    return lines, index


def _curve(
    start: tuple[float, float], direction: float, length: float, rng: np.random.Generator,
    *, amplitude: float, wavelength: float, both_ways: bool = False,
) -> BaseGeometry:  # fmt: skip
    s = np.linspace(-length if both_ways else 0.0, length, 400)
    wobble = amplitude * (
        np.sin(2 * math.pi * s / wavelength + rng.uniform(0, 2 * math.pi))
        + 0.4 * np.sin(2 * math.pi * s / (wavelength * 0.37) + rng.uniform(0, 2 * math.pi))
    )
    if not both_ways:
        wobble *= np.clip(s / (wavelength * 0.5), 0.0, 1.0)
    x, y = _rotate(s, wobble, direction)
    return shapely.LineString(np.column_stack([x + start[0], y + start[1]]))


def _voronoi_sites(
    region: BaseGeometry,
    centre: shapely.Point,
    core_radius: float,
    spacing: float,
    rng: np.random.Generator,
    *,
    near: float | None = None,
) -> NDArray[np.object_]:
    """Sites in ``region``: a jittered lattice, ``spacing`` apart far out and ``near`` apart
    (default 55 % of ``spacing``) at the core, where small urban communities need small faces."""
    near = spacing * 0.55 if near is None else min(near, spacing)
    fine = near
    x0, y0, x1, y1 = region.bounds
    xs = np.arange(x0, x1 + fine, fine)
    ys = np.arange(y0, y1 + fine * 0.866, fine * 0.866)
    gx, gy = np.meshgrid(xs, ys)
    gx = gx + (np.arange(len(ys))[:, None] % 2) * fine / 2.0
    x = gx.ravel() + rng.uniform(-0.35, 0.35, gx.size) * fine
    y = gy.ravel() + rng.uniform(-0.35, 0.35, gy.size) * fine
    d = np.hypot(x - centre.x, y - centre.y)
    reach = np.clip((d - core_radius) / (3.0 * max(core_radius, 1.0) + 2000.0), 0, 1)
    local = near + (spacing - near) * reach
    keep = rng.random(x.size) < (fine / local) ** 2
    points = shapely.points(x[keep], y[keep])
    return points[shapely.contains_xy(region, x[keep], y[keep])]
