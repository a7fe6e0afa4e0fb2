"""The in-memory path: a :class:`CellIndex` of buckets, and :func:`locate` in it.

:func:`cell_index` builds the index from a GeoDataFrame (how it works:
see :mod:`gridgis.geocode`); :func:`locate` looks any number of points up
in it. :func:`gridgis.db.locate.load_cell_index` builds one from
the database.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from gridgis.codes import is_code, parent_code
from gridgis.crs import CRSLike, parse_crs
from gridgis.errors import CRSError, InputError, Problem, ValidationError
from gridgis.geocode.rules import _checked_lonlat, _frame

_BUCKETS_PER_CELL = 4.0
"""Buckets across a median cell: more makes lookups faster and the index slower to build."""
_MAX_BUCKETS = 1 << 21
"""Cap on the buckets of a grid (cells spread over a wide area get coarser buckets)."""
_EPS_DEG = 1e-9
"""Buckets are widened by this (about 0.1 mm) so that rounding in the bucket arithmetic
can never put a point in a bucket that does not hold it."""


@dataclass(frozen=True)
class _Grid:
    """Square buckets over the cells: ``owner`` of whole buckets, candidates of cut ones."""

    x0: float
    y0: float
    size: float
    nx: int
    ny: int
    owner: NDArray[np.int32]
    """Cell position filling the bucket entirely and alone, else -1."""
    counts: NDArray[np.int32]
    """How many cells touch each bucket."""
    offsets: NDArray[np.int64]
    """Cells touching bucket ``b``, in code order: ``candidates[offsets[b]:offsets[b + 1]]``."""
    candidates: NDArray[np.int32]


@dataclass(frozen=True, eq=False)
class CellIndex:
    """The cells of one layout, ready for bulk point lookup with :func:`locate`.

    Build it with :func:`cell_index` or :func:`load_cell_index`; rows are
    sorted by code, so a smaller position is a smaller code.

    Attributes
    ----------
    cell_ids:
        ``grid_cell.id``, or -1 when built from a file.
    codes:
        15-digit cell codes.
    community_codes, street_codes:
        The cell's community (12 digits) and street office (9 digits).
    geoms:
        Shapely (multi)polygons, EPSG:4326, prepared.
    outline:
        The district(s) of the layout, which tell ``outside`` from ``gap``;
        ``None`` when unknown (every point in no cell is then ``outside``).
    districts:
        Codes of the districts whose outlines make ``outline``.
    at:
        The time the layout was taken at (``None``: the active cells).

    Examples
    --------
    >>> import geopandas
    >>> from shapely import box
    >>> cells = geopandas.GeoDataFrame({"code": ["350304001001001"]},
    ...                                geometry=[box(119.0, 25.4, 119.01, 25.41)],
    ...                                crs="EPSG:4326")
    >>> index = cell_index(cells)
    >>> len(index), index.street_codes.tolist()
    (1, ['350304001'])
    """

    cell_ids: NDArray[np.int64]
    codes: NDArray[np.object_]
    community_codes: NDArray[np.object_]
    street_codes: NDArray[np.object_]
    geoms: NDArray[np.object_]
    outline: shapely.Geometry | None
    districts: tuple[str, ...] = ()
    at: dt.datetime | None = None
    _grid: _Grid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        arrays = ("cell_ids", "codes", "community_codes", "street_codes", "geoms")
        sizes = {name: len(getattr(self, name)) for name in arrays}
        if len(set(sizes.values())) > 1:
            raise InputError(
                f"the arrays of a CellIndex must have one length, not {sizes}",
                zh=f"CellIndex 的各数组长度必须相同，而现在是 {sizes}",
            )
        order = np.argsort(np.asarray(self.codes, dtype=str), kind="stable")
        for name in arrays:  # sorted by code: the smallest-code rule relies on it
            object.__setattr__(self, name, np.asarray(getattr(self, name))[order])
        shapely.prepare(self.geoms)
        if self.outline is not None:
            shapely.prepare(self.outline)
        object.__setattr__(self, "_grid", _build_grid(self.geoms))

    def __len__(self) -> int:
        return len(self.codes)


# --- building an index ----------------------------------------------------------------------


def _build_grid(geoms: NDArray[np.object_]) -> _Grid:
    """Lay buckets over ``geoms`` and find, with STRtree queries, what each bucket holds."""
    if len(geoms) == 0:
        none = np.zeros(1, dtype=np.int32)
        return _Grid(0.0, 0.0, 1.0, 1, 1, none - 1, none, np.zeros(2, np.int64), none[:0])
    bounds = shapely.bounds(geoms)
    west, south = bounds[:, 0].min() - _EPS_DEG, bounds[:, 1].min() - _EPS_DEG
    east, north = bounds[:, 2].max() + _EPS_DEG, bounds[:, 3].max() + _EPS_DEG
    extent = np.sqrt((bounds[:, 2] - bounds[:, 0]) * (bounds[:, 3] - bounds[:, 1]))
    size = float(np.median(extent)) / _BUCKETS_PER_CELL
    # At most about _MAX_BUCKETS buckets (cells far apart get coarser ones), at most 4096
    # across, and never thinner than the rounding margin.
    size = max(
        size,
        math.sqrt((east - west) * (north - south) / _MAX_BUCKETS),
        max(east - west, north - south) / 4096,
        1e3 * _EPS_DEG,
    )
    nx = int((east - west) // size) + 1
    ny = int((north - south) // size) + 1
    tree = shapely.STRtree(geoms)
    buckets, cells, owned, owners = [], [], [], []
    rows_per_chunk = max(1, 100_000 // nx)
    # A loop over chunks of rows (not over geometries) bounds the memory of the boxes.
    for first_row in range(0, ny, rows_per_chunk):
        rows = np.arange(first_row, min(ny, first_row + rows_per_chunk), dtype=np.float64)
        ix = np.tile(np.arange(nx, dtype=np.float64), rows.size)
        iy = np.repeat(rows, nx)
        boxes = shapely.box(
            west + ix * size - _EPS_DEG,
            south + iy * size - _EPS_DEG,
            west + (ix + 1) * size + _EPS_DEG,
            south + (iy + 1) * size + _EPS_DEG,
        )
        bucket, cell = tree.query(boxes, predicate="intersects")
        by_code = np.lexsort((cell, bucket))
        bucket, cell = bucket[by_code], cell[by_code]
        counts = np.bincount(bucket, minlength=boxes.size)
        alone = np.flatnonzero(counts == 1)
        only = cell[np.searchsorted(bucket, alone)]
        whole = shapely.contains_properly(geoms[only], boxes[alone])
        offset = int(first_row) * nx
        buckets.append(bucket + offset)
        cells.append(cell)
        owned.append(alone[whole] + offset)
        owners.append(only[whole])
    bucket, cell = np.concatenate(buckets), np.concatenate(cells)
    counts = np.bincount(bucket, minlength=nx * ny)
    offsets = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    owner = np.full(nx * ny, -1, dtype=np.int32)
    owner[np.concatenate(owned)] = np.concatenate(owners)
    return _Grid(
        west, south, size, nx, ny, owner, counts.astype(np.int32), offsets, cell.astype(np.int32)
    )


def _validated_cells(cells: gpd.GeoDataFrame, code: str) -> tuple[NDArray[Any], NDArray[Any]]:
    """Codes (str) and geometries of ``cells`` after checking them; all problems at once."""
    if not isinstance(cells, gpd.GeoDataFrame):
        raise InputError(
            f"`cells` must be a GeoDataFrame, not {type(cells).__name__}",
            zh=f"`cells` 应为 GeoDataFrame，而不是 {type(cells).__name__}",
        )
    if code not in cells.columns:
        raise InputError(
            f"`code` was {code!r} but is expected to be a column of the cells: "
            f"{[str(c) for c in cells.columns]}",
            zh=f"`code` 为 {code!r}，应为网格数据中的一列：{[str(c) for c in cells.columns]}",
        )
    if cells.crs is None or not parse_crs(cells.crs).is_wgs84:
        raise CRSError(
            f"the cells are in {cells.crs.to_string() if cells.crs else 'no CRS'} but must be in "
            "EPSG:4326; convert them with gridgis.crs.to_wgs84_frame first",
            zh=f"网格的坐标系是 {cells.crs.to_string() if cells.crs else '（无坐标系）'}，"
            "但必须是 EPSG:4326：请先用 gridgis.crs.to_wgs84_frame 转换",
        )
    raw = cells[code].to_numpy(dtype=object)
    geoms = np.asarray(cells.geometry.array, dtype=object)
    texts = np.array([None if _missing(v) else str(v) for v in raw], dtype=object)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    valid = shapely.is_valid(geoms)
    # A loop over rows (not geometries) to word one problem per bad row.
    for row, (value, is_polygon, is_valid) in enumerate(zip(texts, polygonal, valid, strict=True)):
        where = row + 1
        if not is_code(value, "cell"):
            problems.append(Problem(where, value, f"`{code}` is not a 15-digit cell code"))
        elif value in seen:
            problems.append(Problem(where, value, f"the code is also on row {seen[value]}"))
        else:
            seen[value] = where
        if not is_polygon or shapely.is_empty(geoms[row]):
            kind = "missing" if geoms[row] is None else geoms[row].geom_type
            problems.append(
                Problem(where, value, f"the geometry is not a non-empty (multi)polygon ({kind})")
            )
        elif not is_valid:
            problems.append(
                Problem(where, value, f"invalid geometry: {shapely.is_valid_reason(geoms[row])}")
            )
    if problems:
        raise ValidationError(
            f"{len(problems)} problem(s) in the {len(cells)} cells:",
            problems,
            zh=f"{len(cells)} 个网格中有 {len(problems)} 个问题",
        )
    return texts, geoms


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def cell_index(
    cells: gpd.GeoDataFrame,
    *,
    code: str = "code",
    outline: BaseGeometry | None = None,
) -> CellIndex:
    """Build a :class:`CellIndex` from a GeoDataFrame of cells (e.g. read from a file).

    Parameters
    ----------
    cells:
        One row per cell: a 15-digit code and a (multi)polygon, EPSG:4326
        (or CGCS2000). It is not changed. Community and street codes are the
        first 12 and 9 digits of the code.
    code:
        The column holding the cell code.
    outline:
        The district(s) the cells cover, EPSG:4326; a point in no cell is a
        ``gap`` inside it and ``outside`` elsewhere. ``None``: every point
        in no cell is ``outside``.

    Returns
    -------
    CellIndex
        Sorted by code; ``cell_ids`` are -1.

    Raises
    ------
    InputError
        When ``cells`` is not a GeoDataFrame or has no column ``code``.
    CRSError
        When ``cells`` is not in EPSG:4326 (never re-projected silently).
    ValidationError
        Listing every row whose code is not 15 digits or repeats another
        row's, or whose geometry is missing, not polygonal or invalid.

    Examples
    --------
    >>> import geopandas
    >>> from shapely import box
    >>> cells = geopandas.GeoDataFrame(
    ...     {"编码": ["350304001001002", "350304001001001"]},
    ...     geometry=[box(119.01, 25.40, 119.02, 25.41), box(119.00, 25.40, 119.01, 25.41)],
    ...     crs="EPSG:4326",
    ... )
    >>> cell_index(cells, code="编码").codes.tolist()
    ['350304001001001', '350304001001002']
    """
    codes, geoms = _validated_cells(cells, code)
    return CellIndex(  # which sorts the cells by code
        cell_ids=np.full(len(codes), -1, dtype=np.int64),
        codes=codes,
        community_codes=np.array([parent_code(c, "community") for c in codes], dtype=object),
        street_codes=np.array([parent_code(c, "street") for c in codes], dtype=object),
        geoms=geoms,
        outline=outline,
    )


def _lookup(index: CellIndex, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray:
    """Position in ``index`` of the cell holding each (finite) point, -1 for none."""
    grid = index._grid
    bx = np.floor((lon - grid.x0) / grid.size)
    by = np.floor((lat - grid.y0) / grid.size)
    inside = (bx >= 0) & (bx < grid.nx) & (by >= 0) & (by < grid.ny)
    bucket = np.where(inside, by * grid.nx + bx, 0).astype(np.int32)
    found = grid.owner[bucket].astype(np.int64)
    found[~inside] = -1
    # Points in buckets cut by cell edges: test each against the bucket's candidates,
    # bucket by bucket so that consecutive tests use the same prepared cells.
    cut = np.flatnonzero(inside & (found < 0))
    cut = cut[grid.counts[bucket[cut]] > 0]
    cut = cut[np.argsort(bucket[cut])]
    counts = grid.counts[bucket[cut]]
    point = np.repeat(cut, counts)
    start = np.repeat(grid.offsets[bucket[cut]] - (np.cumsum(counts) - counts), counts)
    candidate = grid.candidates[start + np.arange(point.size)]
    hit = shapely.intersects_xy(index.geoms[candidate], lon[point], lat[point])
    # A point's candidates are consecutive and in code order: its first hit is the
    # smallest code.
    point, candidate = point[hit], candidate[hit]
    first = np.ones(point.size, dtype=bool)
    first[1:] = point[1:] != point[:-1]
    found[point[first]] = candidate[first]
    return found


def locate(
    index: CellIndex,
    x: ArrayLike,
    y: ArrayLike,
    *,
    crs: CRSLike = "wgs84",
) -> pd.DataFrame:
    """Find the cell of each point, in memory.

    Parameters
    ----------
    index:
        The layout, from :func:`cell_index` or :func:`load_cell_index`.
    x, y:
        Coordinates of the points (array-likes of one shape, or scalars):
        lon/lat, or easting/northing for a projected ``crs``.
    crs:
        Their system, in any form :func:`gridgis.crs.parse_crs` accepts
        (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:nnnn``).

    Returns
    -------
    pandas.DataFrame
        One row per point, in input order (flattened), RangeIndex, columns
        ``lon``, ``lat`` (WGS84; NaN for ``swapped`` and ``invalid`` points),
        ``cell_id`` (Int64; <NA> for no cell or a cell from a file),
        ``cell_code``, ``community_code``, ``street_code`` (None when no
        cell), ``flag`` (None when located, else ``outside``, ``gap``,
        ``swapped``, ``outside_china`` or ``invalid``) and ``reason``
        (:data:`FLAG_REASONS` of the flag, None when located). A point on
        a boundary shared by several cells gets the one with the smallest
        code.

    Raises
    ------
    CRSError
        When ``crs`` is not understood.
    CoordinateError
        When ``x`` and ``y`` do not have the same shape or are not numbers.

    Examples
    --------
    >>> import geopandas
    >>> from shapely import box
    >>> cells = geopandas.GeoDataFrame({"code": ["350304001001001"]},
    ...                                geometry=[box(119.0, 25.4, 119.01, 25.41)],
    ...                                crs="EPSG:4326")
    >>> found = locate(cell_index(cells), [119.0103], [25.4019], crs="gcj02")  # AMap
    >>> found.loc[0, "cell_code"], round(float(found.loc[0, "lon"]), 4)
    ('350304001001001', 119.0056)
    """
    if not isinstance(index, CellIndex):
        raise InputError(
            f"`index` must be a CellIndex, not {type(index).__name__}",
            zh=f"`index` 应为 CellIndex，而不是 {type(index).__name__}",
        )
    lon, lat, status = _checked_lonlat(x, y, crs)
    ok = np.flatnonzero(status == 0)
    found = np.full(len(lon), -1, dtype=np.int64)
    found[ok] = _lookup(index, lon[ok], lat[ok])
    return _frame(
        lon,
        lat,
        status,
        found,
        lambda: index.outline,
        index.cell_ids,
        index.codes,
        index.community_codes,
        index.street_codes,
    )
