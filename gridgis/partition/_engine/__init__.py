"""Splitting a graph of tiles into contiguous cells within household bounds.

The algorithm, and why
----------------------
**Recursive spanning-tree bisection** (the "ReCom" family of redistricting
methods). For a connected component with ``H`` households, the number of
cells ``k`` is chosen so that ``k * min <= H <= k * max``, preferring the
``k`` whose average cell is nearest the middle of the range. A random
spanning tree of the component is drawn (a minimum spanning tree on random
edge weights, plus a penalty on edges that cross a road, so the tree crosses
each road as few times as possible); removing one tree edge splits the tree
into two connected parts, and the sum of households below every edge comes
from one pass over the tree. An edge is a valid cut when the part below it
holds ``k1`` cells' worth (``k1 * min <= s <= k1 * max``) and the rest
``k - k1`` cells' worth, for some ``k1``. Among the valid cuts, cuts along a
road win, then cuts leaving both parts' average cell nearest the middle of
the range, then the most even ``k1``. Each part is split again with a fresh
tree until ``k == 1``.

Both parts are always connected and each holds a total that fits its number
of cells, so the method reaches bounds compliance whenever units are fine
enough, with about ``2k`` trees per component, each ``O(n log n)`` (plain
Kruskal for small parts, scipy's C code for large ones). It works on any
planar graph, needs no solver, and is deterministic for a seed. Against a
max-p heuristic (spopt) it is one to three orders of magnitude faster and,
unlike max-p, which only knows a minimum, it keeps every cell below the
maximum too.

**When a part cannot be split** (a few large units, a bottleneck), the
search backtracks: each split draws up to :data:`TREES_PER_SPLIT` trees and
tries the best :data:`CUTS_PER_TREE` cuts of each, and a cut whose parts
cannot be split in turn is abandoned for the next. The search is bounded by
a tree budget (:data:`TREES_PER_CELL` per cell) spent in
:data:`SEARCH_RESTARTS` independent runs; then the next-best ``k`` is tried;
then the best attempt is *repaired* by recombination: a cell out of bounds
and one or two neighbours are merged and split again, keeping the result
when no more households end up outside the bounds. Only then are cells left
out of bounds, with the least-bad cuts, flagged ``"split_not_found"``.
Cells above the maximum count double in "least bad": a cell somewhat small
is preferred to one too large (a grid worker may serve two small cells).

**Headroom.** After roads, cuts whose parts also fit bounds narrowed by
:data:`HEADROOM` of the range on each side (320–480 for 300–500) are
preferred, so that cells do not sit on the edge of the bounds and a later
change of a few households (:func:`gridgis.partition.adjust_cells`) leaves
them valid.

**Compactness search.** Spanning-tree parts have ragged edges, so a local
search then moves tiles on the boundary between two cells from one to the
other when that lowers the sum over cells of ``P² / A`` (the inverse of the
Polsby–Popper score, up to ``4π``), where a boundary along a road or the
community's outline is charged :data:`ROAD_COST` of its length, so cells
prefer roads as edges. A move must keep the losing cell connected and may
not take a cell further out of its bounds or eat into the headroom (moves
that bring a cell back within bounds are rewarded).

**Special cases.** A unit (site) with more than ``max`` households is a cell
of its own (``"oversized_unit"``). A community below ``min`` is one cell
(``"below_min"``). A component whose total admits no ``k`` (an island, or
units cut off by an oversized unit) is split into ``ceil(H / max)`` cells,
which are then below ``min`` rather than above ``max``, flagged
``"below_min"`` and ``"infeasible_component"``.
"""

from __future__ import annotations

from gridgis.partition._engine.compactness import MAX_PASSES, ROAD_COST, improve_compactness
from gridgis.partition._engine.plan import REPAIR_BUDGET, Plan, plan_cells
from gridgis.partition._engine.proofs import (
    COARSE_PROOF_MAX_TOTAL,
    COARSE_PROOF_MAX_UNITS,
    enclosed_pocket,
    too_coarse,
)
from gridgis.partition._engine.splitter import (
    CUTS_PER_TREE,
    HEADROOM,
    K_TRIES,
    MIN_TREES,
    REPAIR_TREES,
    ROAD_PENALTY,
    SEARCH_RESTARTS,
    SMALL_GRAPH,
    TREES_PER_CELL,
    TREES_PER_SPLIT,
)

__all__ = [
    "COARSE_PROOF_MAX_TOTAL",
    "COARSE_PROOF_MAX_UNITS",
    "CUTS_PER_TREE",
    "HEADROOM",
    "K_TRIES",
    "MAX_PASSES",
    "MIN_TREES",
    "REPAIR_BUDGET",
    "REPAIR_TREES",
    "ROAD_COST",
    "ROAD_PENALTY",
    "SEARCH_RESTARTS",
    "SMALL_GRAPH",
    "TREES_PER_CELL",
    "TREES_PER_SPLIT",
    "Plan",
    "enclosed_pocket",
    "improve_compactness",
    "plan_cells",
    "too_coarse",
]
