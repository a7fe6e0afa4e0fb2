"""Drawing and adjusting grid cells (网格): GeoDataFrame in, GeoDataFrame out, no database.

* :func:`draw_cells` — contiguous cells of 300–500 households that tile one
  community exactly, follow roads, never split a building, coded west→east,
  north→south; :func:`draw_layout` — many communities at once.
* :func:`adjust_cells` — 动态调整: split or merge only the cells whose
  households now break the bounds, keeping every other cell's code and shape.
* :func:`polsby_popper`, :func:`assign_codes` — the shape measure and the
  numbering rule on their own.

How the cells are drawn, and why, is told in :mod:`gridgis.partition.units`
(tiles and their graph) and :mod:`gridgis.partition._engine` (the split).
"""

from __future__ import annotations

from gridgis.partition.adjust import AdjustResult, adjust_cells
from gridgis.partition.codes import assign_codes
from gridgis.partition.draw import DrawResult, draw_cells, draw_layout
from gridgis.partition.errors import PartitionError
from gridgis.partition.metrics import polsby_popper

__all__ = [
    "AdjustResult",
    "DrawResult",
    "PartitionError",
    "adjust_cells",
    "assign_codes",
    "draw_cells",
    "draw_layout",
    "polsby_popper",
]
