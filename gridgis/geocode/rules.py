"""The rules both paths of :mod:`gridgis.geocode` share, so that they give one answer.

A point is checked before any lookup (``_checked_lonlat``: swapped,
outside China, invalid; :func:`point_flag` for one point), a point in no
cell is a ``gap`` inside the layout's outline and ``outside`` elsewhere
(:data:`FLAG_REASONS`), a point on an edge several cells share goes to
the smallest code (``_smallest``, :func:`smallest_cell`), and ``_frame``
shapes the answer: one row per point, in input order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from gridgis.crs import CHINA_BBOX, CRSLike, check_lonlat, to_wgs84

_west, _south, _east, _north = CHINA_BBOX
FLAG_REASONS: dict[str, str] = {
    "outside": "in China but outside the district(s) of the cell layout",
    "gap": "inside the district but in no grid cell (a gap in the cell layout)",
    "swapped": "longitude and latitude look swapped (the point is in China read as lat, lon)",
    "outside_china": (
        f"outside China (lon {_west:g}–{_east:g}, lat {_south:g}–{_north:g}); "
        "check the coordinate system"
    ),
    "invalid": (
        "not a longitude/latitude: missing or not finite, or |lon| > 180 / |lat| > 90 "
        "(projected metres need their CRS, e.g. EPSG:4547)"
    ),
}
"""The ``reason`` given with each ``flag`` of :func:`locate` and :func:`locate_in_db`."""


_FLAGS: tuple[str | None, ...] = (None, "outside", "gap", "swapped", "outside_china", "invalid")
"""Flags by status number; 0 is a located point (or, before the lookup, a checked one)."""
_FLAG_VALUES = np.array(_FLAGS, dtype=object)
_REASON_VALUES = np.array([None, *(FLAG_REASONS[str(f)] for f in _FLAGS[1:])], dtype=object)


def _checked_lonlat(
    x: ArrayLike, y: ArrayLike, crs: CRSLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """WGS84 lon/lat (flat) and a status per point: 0 when plausible, else a flag number."""
    lon, lat = to_wgs84(x, y, crs)
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64)).ravel()
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64)).ravel()
    checked = check_lonlat(lon, lat)
    status = np.zeros(len(lon), dtype=np.int8)
    for flag in ("swapped", "outside_china", "invalid"):
        status[checked == flag] = _FLAGS.index(flag)
    return lon, lat, status


def _smallest(points: NDArray[np.intp], ranks: NDArray[np.integer], n: int) -> NDArray[np.int64]:
    """For each of ``n`` points the smallest rank among its hits, -1 for none."""
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, points, ranks)
    best[best == np.iinfo(np.int64).max] = -1
    return best


def _in_outline(
    outline: shapely.Geometry | None, lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.bool_]:
    if outline is None or len(lon) == 0:
        return np.zeros(len(lon), dtype=bool)
    return np.asarray(shapely.intersects_xy(outline, lon, lat), dtype=bool)


def _frame(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    status: NDArray[np.int8],
    found: NDArray[np.int64],
    outline: Callable[[], shapely.Geometry | None],
    cell_ids: NDArray[np.int64],
    codes: NDArray[Any],
    community_codes: NDArray[Any],
    street_codes: NDArray[Any],
) -> pd.DataFrame:
    """The result frame; ``found`` indexes the cell arrays (-1: none).

    A plausible point in no cell is a ``gap`` inside ``outline()`` (asked for only when
    there is such a point) and ``outside`` elsewhere.
    """
    status = status.copy()
    missed = np.flatnonzero((status == 0) & (found < 0))
    if missed.size:
        in_outline = _in_outline(outline(), lon[missed], lat[missed])
        status[missed] = np.where(in_outline, _FLAGS.index("gap"), _FLAGS.index("outside"))
    unusable = (status == _FLAGS.index("swapped")) | (status == _FLAGS.index("invalid"))
    ids = np.append(cell_ids.astype(np.int64), -1)[found]  # -1: no cell, or a cell from a file

    def objects(values: NDArray[Any]) -> pd.Series:
        # dtype=object keeps None for "none" (pandas 3 would infer its str dtype, with NaN).
        return pd.Series(values, dtype=object, copy=False)

    def pick(values: NDArray[Any]) -> pd.Series:
        return objects(np.append(values.astype(object), [None])[found])

    return pd.DataFrame(
        {
            "lon": np.where(unusable, np.nan, lon),
            "lat": np.where(unusable, np.nan, lat),
            "cell_id": pd.arrays.IntegerArray(ids, ids < 0),
            "cell_code": pick(codes),
            "community_code": pick(community_codes),
            "street_code": pick(street_codes),
            "flag": objects(_FLAG_VALUES[status]),
            "reason": objects(_REASON_VALUES[status]),
        },
        copy=False,
    )


def point_flag(lon: float, lat: float) -> str:
    """:func:`gridgis.crs.check_lonlat` of one point, at once for a point in China's box.

    ``check_lonlat`` works on arrays (about 15 µs for one point); a point inside
    :data:`gridgis.crs.CHINA_BBOX` is ``"ok"`` for it, whatever else holds.

    Examples
    --------
    >>> point_flag(119.0, 25.4), point_flag(25.4, 119.0)
    ('ok', 'swapped')
    """
    if _west <= lon <= _east and _south <= lat <= _north:
        return "ok"
    return str(check_lonlat(lon, lat))


def smallest_cell(points: NDArray[np.object_], cells: NDArray[np.object_]) -> NDArray[np.int64]:
    """Position in ``cells`` of the cell holding each point, by the rule of this module.

    For cells of any CRS and codes of any form (no :class:`CellIndex` needed):
    ``cells`` sorted by code, a point on an edge several cells share goes to the
    first of them, -1 for a point in none. One ``STRtree`` query for all points.

    Examples
    --------
    >>> from shapely import box, points
    >>> smallest_cell(points([0.5, 1.0, 3.0], [0.5, 0.5, 0.5]), [box(0, 0, 1, 1), box(1, 0, 2, 1)])
    array([ 0,  0, -1])
    """
    found = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(cells) == 0:
        return found
    point, cell = shapely.STRtree(np.asarray(cells, dtype=object)).query(
        np.asarray(points, dtype=object), predicate="intersects"
    )
    return _smallest(point, cell, len(points))
