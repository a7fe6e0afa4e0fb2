"""One interface over both paths: the :class:`CellLocator` protocol.

:class:`IndexLocator` answers from a
:class:`~gridgis.geocode.memory.CellIndex` in memory,
:class:`gridgis.db.locate.DatabaseLocator` from PostGIS (in the store, which this
floor does not import); both give the same cells and flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pandas as pd
import shapely
from numpy.typing import ArrayLike

from gridgis.crs import CRSLike
from gridgis.geocode.memory import CellIndex, locate
from gridgis.geocode.rules import point_flag


def _cell_of_row(row: pd.Series) -> dict[str, Any]:
    """One row of :func:`locate` as :meth:`CellLocator.cell_of` answers it."""
    if row["flag"] is not None:
        return {"flag": row["flag"]}
    return {
        "flag": None,
        "cell_id": None if pd.isna(row["cell_id"]) else int(row["cell_id"]),
        "cell_code": row["cell_code"],
        "community_code": row["community_code"],
        "street_code": row["street_code"],
    }


@runtime_checkable
class CellLocator(Protocol):
    """Where points are among the cells of one layout: in memory or in PostGIS, one answer.

    :class:`IndexLocator` looks points up in a :class:`CellIndex`,
    :class:`gridgis.db.locate.DatabaseLocator` in the database; for the same
    layout and the same points both give the same cells and flags (a point on an
    edge or corner shared by several cells goes to the smallest code), which the
    tests check on the demo district.

    Examples
    --------
    >>> def cell_code(locator: CellLocator, lon: float, lat: float) -> str | None:
    ...     return locator.cell_of(lon, lat).get("cell_code")
    """

    def locate(self, x: ArrayLike, y: ArrayLike, *, crs: CRSLike = "wgs84") -> pd.DataFrame:
        """The cell of each point, as :func:`locate` answers (one row per point)."""
        ...

    def cell_of(self, lon: float, lat: float) -> dict[str, Any]:
        """The cell of one WGS84 point: ``flag`` (``None`` when located), and when located
        ``cell_id``, ``cell_code``, ``community_code`` and ``street_code``."""
        ...


@dataclass(frozen=True)
class IndexLocator:
    """A :class:`CellLocator` over a :class:`CellIndex` held in memory.

    :meth:`cell_of` looks one point up in the index's buckets without building a
    data frame (about 10 µs against 360 µs for :func:`locate`): a bucket a cell
    fills alone answers at once, else the bucket's cells are tested exactly.

    Examples
    --------
    >>> import geopandas
    >>> from shapely import box
    >>> from gridgis.geocode import cell_index
    >>> cells = geopandas.GeoDataFrame(
    ...     {"code": ["350304001001002", "350304001001001"]},
    ...     geometry=[box(119.01, 25.40, 119.02, 25.41), box(119.00, 25.40, 119.01, 25.41)],
    ...     crs="EPSG:4326",
    ... )
    >>> IndexLocator(cell_index(cells)).cell_of(119.01, 25.405)["cell_code"]  # on the edge
    '350304001001001'
    """

    index: CellIndex

    def locate(self, x: ArrayLike, y: ArrayLike, *, crs: CRSLike = "wgs84") -> pd.DataFrame:
        return locate(self.index, x, y, crs=crs)

    def cell_of(self, lon: float, lat: float) -> dict[str, Any]:
        flag = point_flag(lon, lat)
        if flag != "ok":
            return {"flag": flag}
        index, grid = self.index, self.index._grid
        bx = math.floor((lon - grid.x0) / grid.size)
        by = math.floor((lat - grid.y0) / grid.size)
        at = -1
        if 0 <= bx < grid.nx and 0 <= by < grid.ny:
            bucket = by * grid.nx + bx
            at = int(grid.owner[bucket])
            if at < 0:
                near = grid.candidates[grid.offsets[bucket] : grid.offsets[bucket + 1]]
                hits = near[shapely.intersects_xy(index.geoms[near], lon, lat)]
                at = int(hits.min()) if hits.size else -1  # in code order: the smallest code
        if at >= 0:
            cell_id = int(index.cell_ids[at])
            return {
                "flag": None,
                "cell_id": None if cell_id < 0 else cell_id,
                "cell_code": str(index.codes[at]),
                "community_code": str(index.community_codes[at]),
                "street_code": str(index.street_codes[at]),
            }
        inside = index.outline is not None and bool(shapely.intersects_xy(index.outline, lon, lat))
        return {"flag": "gap" if inside else "outside"}
