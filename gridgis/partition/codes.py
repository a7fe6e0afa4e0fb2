"""Numbering cells: community code + 3-digit sequence, west→east, north→south.

The rule, exactly
-----------------
Each cell is placed by its representative point
(:func:`shapely.point_on_surface`, always inside the cell). Rows are bands of
height ``h``, the median north–south extent of the cells (about one typical
cell height), counted down from the northernmost representative point: a
cell's row is ``floor((y_top - y) / h)``. Rows are numbered from north to
south, and cells within a row from west to east by the ``x`` of their
representative point (ties: further north first, then input order). The
first cell gets ``first_number``.

Codes are ``prefix + number`` with the number zero-padded to 3 digits. With a
12-digit community code as prefix the result is the 15-digit cell code of
DOMAIN.md, and more than 999 numbers is an error; with any other prefix
(including none) the width grows to fit the largest number, the same for all.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> cells = gpd.GeoDataFrame(geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1), box(0, 1, 2, 2)],
...                          crs="EPSG:4547")
>>> assign_codes(cells, prefix="211403001001").tolist()
['211403001001003', '211403001001002', '211403001001001']
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.codes import is_code
from gridgis.partition.errors import PartitionError

__all__ = ["assign_codes", "code_width"]

SEQUENCE_DIGITS = 3


def code_width(prefix: str, last_number: int) -> int:
    """Digits of the sequence number for ``prefix`` when numbers go up to ``last_number``.

    Raises
    ------
    PartitionError
        When ``prefix`` is a 12-digit community code and ``last_number`` > 999.
    """
    if is_code(prefix, "community"):
        if last_number > 10**SEQUENCE_DIGITS - 1:
            raise PartitionError(
                f"community {prefix} would need cell number {last_number}, but 15-digit cell "
                "codes allow at most 999 cells per community",
                zh=f"社区 {prefix} 需要第 {last_number} 号网格，但 15 位网格编码每个社区最多只能有"
                " 999 个网格",
            )
        return SEQUENCE_DIGITS
    return max(SEQUENCE_DIGITS, len(str(last_number)))


def assign_codes(
    cells: gpd.GeoDataFrame | gpd.GeoSeries, *, prefix: str, first_number: int = 1
) -> pd.Series:
    """Code each cell ``prefix + NNN``, numbered west→east in rows from north to south.

    Parameters
    ----------
    cells:
        The cells (any CRS; rows and columns are read in its coordinates). Not changed.
    prefix:
        The community's 12-digit code, or any text (``""`` for bare numbers).
    first_number:
        Number of the first cell (1 for a new community; the next free number
        when cells are added to an existing one).

    Returns
    -------
    pandas.Series
        The code of each cell (str), indexed like ``cells``.

    Raises
    ------
    PartitionError
        When ``first_number`` is below 0 or the numbers do not fit (see :func:`code_width`).
    """
    if not isinstance(prefix, str):
        raise PartitionError(
            f"`prefix` was {prefix!r} but is expected to be a string",
            zh=f"`prefix` 为 {prefix!r}，应为文本",
        )
    if isinstance(first_number, bool) or not isinstance(first_number, int | np.integer):
        raise PartitionError(
            f"`first_number` was {first_number!r} but must be an integer",
            zh=f"`first_number` 为 {first_number!r}，应为整数",
        )
    if first_number < 0:
        raise PartitionError(
            f"`first_number` was {first_number} but must be 0 or more",
            zh=f"`first_number` 为 {first_number}，不能小于 0",
        )
    geoms = np.asarray(cells.geometry.array if hasattr(cells, "geometry") else cells, dtype=object)
    n = geoms.size
    if n == 0:
        return pd.Series([], index=cells.index, dtype=object, name="code")
    points = shapely.point_on_surface(geoms)
    x, y = shapely.get_x(points), shapely.get_y(points)
    bounds = shapely.bounds(geoms)
    heights = bounds[:, 3] - bounds[:, 1]
    height = float(np.nanmedian(heights)) if np.isfinite(heights).any() else 0.0
    if not height > 0:
        height = 1.0
    top = float(np.nanmax(y))
    row = np.floor((top - y) / height + 1e-9)
    order = np.lexsort((np.arange(n), -y, x, row))
    last = int(first_number) + n - 1
    width = code_width(prefix, last)
    numbers = np.empty(n, dtype=np.int64)
    numbers[order] = np.arange(int(first_number), last + 1)
    codes = [f"{prefix}{number:0{width}d}" for number in numbers.tolist()]
    return pd.Series(codes, index=cells.index, dtype=object, name="code")
