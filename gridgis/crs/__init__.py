"""China's coordinate systems: WGS84/CGCS2000, GCJ-02, BD-09 and projected CRSs.

Coordinates met in Chinese city work come in four families:

``wgs84``
    GPS lon/lat, EPSG:4326. Everything gridgis stores is in this system.
``cgcs2000``
    China's geodetic system, EPSG:4490. It differs from WGS84 by centimetres and
    is treated as identical to it here.
``gcj02``
    The obfuscated "Mars" system of AMap (Gaode), Tencent and Google China,
    100–700 m away from WGS84 in a non-linear way. PROJ does not know it.
``bd09``
    Baidu's system: a second obfuscation on top of GCJ-02.

plus any CRS that pyproj understands (``"EPSG:4547"``, ``32650``, a
:class:`pyproj.CRS`), typically a CGCS2000 Gauss-Krüger or UTM projection.

Every function that takes a ``crs`` argument accepts all of these forms and
reads them with :func:`parse_crs`. The GCJ-02 and BD-09 transforms are
vectorised with numpy; their inverses are iterative and accurate to well under
a millimetre (see ``scripts/bench/crs_accuracy.py``).

The package re-exports the public names of its modules:
:mod:`~gridgis.crs.parsing` (:func:`parse_crs`, :class:`CRSSpec`),
:mod:`~gridgis.crs.obfuscated` (GCJ-02 and BD-09),
:mod:`~gridgis.crs.transform` (any CRS to and from WGS84, for arrays,
geometries and frames), :mod:`~gridgis.crs.metric` (:func:`metric_crs`) and
:mod:`~gridgis.crs.checks` (:func:`check_lonlat`, :func:`assert_lonlat_in_china`).

Examples
--------
>>> from gridgis.crs import wgs84_to_gcj02, gcj02_to_wgs84
>>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
>>> round(lon, 6), round(lat, 6)
(116.410244, 39.916404)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(back[0], 9), round(back[1], 9)
(116.404, 39.915)
"""

from __future__ import annotations

from gridgis.crs._arrays import FloatArray as FloatArray
from gridgis.crs._arrays import GeometryT as GeometryT
from gridgis.crs.checks import CHINA_BBOX, LONLAT_FLAGS, assert_lonlat_in_china, check_lonlat
from gridgis.crs.metric import metric_crs
from gridgis.crs.obfuscated import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridgis.crs.parsing import CRS_CHOICES, CRS_CHOICES_HELP, CRSLike, CRSSpec, parse_crs
from gridgis.crs.transform import from_wgs84, to_wgs84, to_wgs84_frame, transform_geometry
from gridgis.errors import CoordinateError, CRSError

__all__ = [
    "CHINA_BBOX",
    "CRS_CHOICES",
    "CRS_CHOICES_HELP",
    "LONLAT_FLAGS",
    "CRSError",
    "CRSLike",
    "CRSSpec",
    "CoordinateError",
    "assert_lonlat_in_china",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_lonlat",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "metric_crs",
    "parse_crs",
    "to_wgs84",
    "to_wgs84_frame",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
