"""The errors of drawing cells: :class:`PartitionError` and :class:`GeometryFailure`.

:func:`geos_guard` turns a GEOS failure into a :class:`GeometryFailure`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import shapely

from gridgis.errors import GridGISError

__all__ = ["GeometryFailure", "PartitionError", "geos_guard"]


class PartitionError(GridGISError, ValueError):
    """Units, a community or options that no layout of cells can be drawn from.

    The message names the bad argument and value (and the rows concerned).
    Subclasses :class:`ValueError`; the web layer answers with status 422.
    """

    status = 422


class GeometryFailure(PartitionError):
    """GEOS failed on the units' geometry (a robustness failure, not an infeasible layout).

    Raised by :func:`geos_guard`; a caller that can try again differently (on a
    coarser grid, without roads, as the demo generator does) catches this one.
    """


@contextmanager
def geos_guard(what: str) -> Iterator[None]:
    """Turn a GEOS failure inside the block (or decorated function) into a :class:`GeometryFailure`.

    Input footprints are repaired before any overlay
    (:func:`~gridgis.partition.footprints.clean_footprints`), so GEOS should
    not fail; should it still, the user gets what was being done and what
    GEOS said (with the coordinates, in the metric CRS), not a traceback.
    """
    try:
        yield
    except shapely.errors.GEOSException as exc:
        raise GeometryFailure(
            f"{what} failed on the units' geometry (GEOS: {exc!s}); check the units for "
            "footprints drawn twice or broken near there, and repair or leave them out",
            zh="楼栋图形计算失败（GEOS 出错）；请检查楼栋中是否有重复绘制或在附近破损的轮廓，修复"
            "或去掉后再试",
        ) from exc
