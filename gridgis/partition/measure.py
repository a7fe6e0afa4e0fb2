"""Measuring pieces of a layout in m², whatever CRS it is stored in.

:class:`Measure` gives areas and perimeters in metres of geometries in a
projected CRS in metres or in a geographic one (EPSG:4326, CGCS2000): there,
each piece is measured on the ellipsoid at its own latitude (degree area ×
meridian and prime-vertical radii, within 0.001 % of the geodesic area for
pieces of a few kilometres, and vectorised), or, for overlaps, in a metric CRS
(:meth:`Measure.metric_area`), where a sliver between two long, nearly
collinear lon/lat edges has the area it has on the ground.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from gridgis import crs as crs_mod

__all__ = ["Measure", "pieces_area", "polygon_parts"]

POLYGON = 3
MULTIPOLYGON = 6
COLLECTION = 7

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
GeomArray = NDArray[np.object_]


class Measure:
    """Areas and perimeters in metres of geometries in the cells' CRS."""

    def __init__(self, crs: pyproj.CRS) -> None:
        self.crs = crs
        self.geographic = bool(crs.is_geographic)
        ellipsoid = crs.ellipsoid
        self.a = 6378137.0
        flattening = 0.0
        if ellipsoid is not None:
            self.a = float(ellipsoid.semi_major_metre)
            inverse = float(ellipsoid.inverse_flattening or 0.0)
            flattening = 1.0 / inverse if inverse > 0 and math.isfinite(inverse) else 0.0
        self.e2 = flattening * (2.0 - flattening)

    def _scales(self, geoms: GeomArray) -> tuple[FloatArray, FloatArray]:
        """Metres per degree east and north at each geometry's centroid latitude."""
        lat = np.radians(shapely.get_y(shapely.centroid(geoms)))
        lat = np.where(np.isfinite(lat), lat, 0.0)
        w = np.sqrt(1.0 - self.e2 * np.sin(lat) ** 2)
        prime_vertical = self.a / w
        meridian = self.a * (1.0 - self.e2) / w**3
        per_degree = math.pi / 180.0
        return prime_vertical * np.cos(lat) * per_degree, meridian * per_degree

    def area(self, geoms: GeomArray) -> FloatArray:
        """Area in m² of each geometry (0 for none or empty)."""
        area = np.nan_to_num(shapely.area(geoms).astype(np.float64))
        if not self.geographic or len(geoms) == 0:
            return area
        east, north = self._scales(geoms)
        return area * east * north

    def metric_area(self, geoms: GeomArray) -> FloatArray:
        """Area in m² of each geometry's polygons, measured in a metric CRS.

        In a geographic CRS the pieces go to the CRS :func:`gridgis.crs.metric_crs`
        chooses for them all: a thin sliver between two nearly collinear edges,
        noise in degrees, shows there (as on the ellipsoid) with the area it has
        on the ground.
        """
        parts, owner = polygon_parts(np.asarray(geoms, dtype=object))
        if not len(parts):
            return np.zeros(len(geoms))
        if not self.geographic:
            areas = shapely.area(parts).astype(np.float64)
        else:
            metric = crs_mod.metric_crs(gpd.GeoSeries(parts, crs=self.crs))
            projected = crs_mod.transform_geometry(parts, from_crs=self.crs, to_crs=metric)
            # The projection is conformal, not equal-area: divide by its areal scale
            # at each piece (within 0.001 % of the ellipsoidal area for small pieces).
            centre = shapely.centroid(parts)
            factors = pyproj.Proj(metric).get_factors(shapely.get_x(centre), shapely.get_y(centre))
            areas = shapely.area(projected) / np.asarray(factors.areal_scale, dtype=np.float64)
        areas = np.nan_to_num(areas)
        return np.bincount(owner, weights=areas, minlength=len(geoms)).astype(np.float64)

    def area_perimeter(self, geoms: GeomArray) -> tuple[FloatArray, FloatArray]:
        """Area in m² and perimeter in m of each geometry."""
        if self.geographic and len(geoms):
            east, north = self._scales(geoms)
            _, owner = shapely.get_coordinates(geoms, return_index=True)
            scale = np.column_stack([east[owner], north[owner]])
            # Each geometry stretched by its own local scale (an equirectangular
            # projection at its latitude); shapely.transform copies, in coordinate order.
            geoms = shapely.transform(geoms, lambda coords: coords * scale)
        area = np.nan_to_num(shapely.area(geoms).astype(np.float64))
        return area, np.nan_to_num(shapely.length(geoms).astype(np.float64))


def polygon_parts(pieces: GeomArray) -> tuple[GeomArray, IntArray]:
    """The polygons in each piece (flattening collections) and the piece each comes from."""
    parts, owner = shapely.get_parts(pieces, return_index=True)
    nested = np.isin(shapely.get_type_id(parts), (MULTIPOLYGON, COLLECTION))
    if nested.any():
        inner, inner_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        owner = np.concatenate([owner[~nested], owner[nested][inner_owner]])
    keep = (shapely.get_type_id(parts) == POLYGON) & ~shapely.is_empty(parts)
    return parts[keep], owner[keep].astype(np.int64)


def pieces_area(pieces: GeomArray, measure: Measure) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Polygonal area of each piece, and a point in its largest polygon (NaN when none)."""
    n = len(pieces)
    parts, owner = polygon_parts(pieces)
    areas = measure.area(parts)
    total = np.bincount(owner, weights=areas, minlength=n).astype(np.float64)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    if len(parts):
        order = np.lexsort((-areas, owner))
        first = order[np.unique(owner[order], return_index=True)[1]]
        points = shapely.point_on_surface(parts[first])
        x[owner[first]], y[owner[first]] = shapely.get_x(points), shapely.get_y(points)
    return total, x, y
