"""What drawing returns: :class:`DrawResult`, and the cells and tiles frames it is made of.

:func:`cells_frame` codes the cells of one community and moves them back to
the units' CRS; ``_finish`` sorts every community's cells into one
:class:`DrawResult` with the bounds each cell was drawn for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from gridgis.partition._arrays import GeomArray, IntArray
from gridgis.partition.arguments import _same_crs
from gridgis.partition.codes import assign_codes
from gridgis.partition.community import Drawn
from gridgis.partition.metrics import polsby_popper

CELL_COLUMNS = ["code", "group", "households", "units", "polsby_popper", "flags", "geometry"]
"""Columns of every cells frame the engine returns, in this order."""


def _summary(cells: gpd.GeoDataFrame, bounds: pd.DataFrame, seconds: float) -> dict[str, float]:
    n = len(cells)
    if n == 0:
        return {
            "n_cells": 0.0,
            "share_within_bounds": float("nan"),
            "min_households": float("nan"),
            "median_households": float("nan"),
            "max_households": float("nan"),
            "median_polsby_popper": float("nan"),
            "seconds": float(seconds),
        }
    households = cells["households"].to_numpy(dtype=float)
    limits = bounds.reindex(cells["code"].to_numpy())
    within = (households >= limits["min_households"].to_numpy()) & (
        households <= limits["max_households"].to_numpy()
    )
    return {
        "n_cells": float(n),
        "share_within_bounds": float(np.mean(within)),
        "min_households": float(households.min()),
        "median_households": float(np.median(households)),
        "max_households": float(households.max()),
        "median_polsby_popper": float(np.nanmedian(cells["polsby_popper"].to_numpy(dtype=float))),
        "seconds": float(seconds),
    }


@dataclass
class DrawResult:
    """Cells drawn for one or more communities.

    Attributes
    ----------
    cells:
        One row per cell, sorted by code: ``code`` (str), ``group`` (the
        community code or group value, or None), ``households`` (int),
        ``units`` (number of units), ``polsby_popper`` (float), ``flags``
        (list of str, empty when the cell is within bounds) and the
        (Multi)Polygon; CRS = the units' CRS.
    assignment:
        The cell code of each input unit, indexed like the units.
    tessellation:
        The tile of each input unit (``code`` and the polygon; for polygon
        units that tile, the unit clipped to the community), indexed like
        the units, in their CRS. Units sharing a spot share a tile.
    bounds:
        ``min_households`` and ``max_households`` each cell was drawn for,
        indexed by code.
    seconds:
        Wall time of the drawing.
    """

    cells: gpd.GeoDataFrame
    assignment: pd.Series
    tessellation: gpd.GeoDataFrame
    bounds: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """``n_cells``, ``share_within_bounds``, ``min/median/max_households``,
        ``median_polsby_popper`` and ``seconds``."""
        return _summary(self.cells, self.bounds, self.seconds)


def cells_frame(
    drawn: Drawn,
    *,
    prefix: str,
    group: str | None,
    first_number: int,
    metric: pyproj.CRS,
    crs: pyproj.CRS,
) -> tuple[gpd.GeoDataFrame, IntArray]:
    """The cells frame (input CRS, codes assigned, not yet sorted) and each cell's position."""
    metric_cells = gpd.GeoSeries(drawn.geoms, crs=metric)
    codes = assign_codes(metric_cells, prefix=prefix, first_number=first_number)
    geometry = metric_cells if _same_crs(metric, crs) else metric_cells.to_crs(crs)
    frame = gpd.GeoDataFrame(
        {
            "code": codes.to_numpy(),
            "group": pd.Series([group] * len(codes), dtype=object),
            "households": np.round(drawn.households).astype(np.int64),
            "units": drawn.units,
            "polsby_popper": polsby_popper(drawn.geoms),
            "flags": pd.Series([list(f) for f in drawn.flags], dtype=object),
        },
        geometry=geometry.to_numpy(),
        crs=crs,
    )
    return frame, np.arange(len(frame))


def _finish(
    cells: list[gpd.GeoDataFrame],
    assignment: pd.Series,
    tiles: gpd.GeoDataFrame,
    bounds: dict[str, tuple[int, int]],
    crs: pyproj.CRS,
    started: float,
) -> DrawResult:
    if cells:
        frame = pd.concat(cells, ignore_index=True)
    else:
        frame = gpd.GeoDataFrame({c: [] for c in CELL_COLUMNS[:-1]}, geometry=[], crs=crs)
    frame = gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)[CELL_COLUMNS]
    frame = frame.sort_values("code", kind="stable").reset_index(drop=True)
    limits = pd.DataFrame(
        {
            "min_households": [bounds[c][0] for c in frame["code"]],
            "max_households": [bounds[c][1] for c in frame["code"]],
        },
        index=pd.Index(frame["code"].to_numpy(), name="code"),
    )
    return DrawResult(
        cells=frame,
        assignment=assignment,
        tessellation=tiles,
        bounds=limits,
        seconds=time.perf_counter() - started,
    )


def _tiles_frame(
    tiles: GeomArray, assignment: pd.Series, metric: pyproj.CRS, crs: pyproj.CRS
) -> gpd.GeoDataFrame:
    series = gpd.GeoSeries(tiles, index=assignment.index, crs=metric)
    if not _same_crs(metric, crs):
        series = series.to_crs(crs)
    return gpd.GeoDataFrame({"code": assignment}, geometry=series, crs=crs)
