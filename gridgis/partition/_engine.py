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

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
    connected_components,
    depth_first_order,
    minimum_spanning_tree,
)

from gridgis.partition.units import BoolArray, FloatArray, Graph, IntArray

ROAD_PENALTY = 2.0
"""Added to the random weight (1–2) of a road-crossing edge in spanning trees."""

ROAD_COST = 0.5
"""Share of its length at which a cell boundary along a road counts in the compactness search."""

HEADROOM = 0.1
"""Share of the household range kept free at each end when drawing (see the module docstring)."""

TREES_PER_SPLIT = 3
"""Random spanning trees drawn at one split before the search backtracks."""

CUTS_PER_TREE = 3
"""Best valid cuts of one tree tried in turn."""

TREES_PER_CELL = 80
"""Tree budget of a component's search, per cell to draw (at least MIN_TREES)."""

MIN_TREES = 200

SEARCH_RESTARTS = 6
"""The tree budget of a split is spent in this many independent searches."""

K_TRIES = 3
"""Numbers of cells tried for a component whose first choice leaves cells out of bounds."""

SMALL_GRAPH = 300
"""Spanning trees of graphs up to this many nodes are built in Python (see _kruskal)."""

REPAIR_BUDGET = 100
"""Recombination moves tried on a component whose cells still miss the bounds."""

REPAIR_TREES = 30
"""Tree budget of each recombination's split."""

MAX_PASSES = 12
"""Passes of the compactness search over the boundary tiles."""

_EPS = 1e-9


@dataclass
class Plan:
    """Cells as labels of the graph's nodes.

    Attributes
    ----------
    labels:
        The cell (0..m-1) of each node.
    flags:
        The flags of each cell.
    """

    labels: IntArray
    flags: list[list[str]] = field(default_factory=list)


def _kruskal(
    m: int, li: IntArray, lj: IntArray, weight: FloatArray, root: int
) -> tuple[IntArray, IntArray, IntArray] | None:
    """Minimum spanning tree of a small graph, in preorder from ``root``.

    Returns ``(order, parent, parent_edge)``, or ``None`` when the graph is not
    connected. For graphs of a few hundred nodes this plain Kruskal (union–find
    on Python lists) beats building scipy sparse matrices, whose fixed cost
    dominates at that size.
    """
    a_list, b_list = li.tolist(), lj.tolist()
    parent = list(range(m))
    adjacent: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    joined = 0
    for e in np.argsort(weight, kind="stable").tolist():
        a, b = a_list[e], b_list[e]
        ra = a
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = b
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            continue
        parent[ra] = rb
        adjacent[a].append((b, e))
        adjacent[b].append((a, e))
        joined += 1
        if joined == m - 1:
            break
    if joined < m - 1:
        return None
    order: list[int] = []
    pred = [-1] * m
    pred_edge = [0] * m
    seen = [False] * m
    seen[root] = True
    stack = [root]
    while stack:  # preorder of a tree: every subtree is a contiguous run
        v = stack.pop()
        order.append(v)
        for w, e in adjacent[v]:
            if not seen[w]:
                seen[w] = True
                pred[w] = v
                pred_edge[w] = e
                stack.append(w)
    return (
        np.asarray(order, dtype=np.int64),
        np.asarray(pred, dtype=np.int64),
        np.asarray(pred_edge, dtype=np.int64),
    )


@dataclass
class _Cut:
    outside: float
    order: IntArray
    size: IntArray
    v: int
    k1: int


class _Splitter:
    """Recursive spanning-tree bisection on one graph."""

    def __init__(
        self,
        graph: Graph,
        households: FloatArray,
        *,
        min_households: float,
        max_households: float,
        rng: np.random.Generator,
    ) -> None:
        self.graph = graph
        self.hh = households
        self.rng = rng
        self.full = (float(min_households), float(max_households))
        margin = HEADROOM * (max_households - min_households)
        self.tight = (min_households + margin, max_households - margin)
        self.mid = (min_households + max_households) / 2
        self.half = max((max_households - min_households) / 2, 1.0)
        self._member = np.zeros(graph.n, dtype=bool)
        self._local = np.full(graph.n, -1, dtype=np.int64)
        self._budget = 0
        self._prefer_room = True

    # -- trees ---------------------------------------------------------------------------------

    def _subgraph(self, nodes: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
        g = self.graph
        self._member[nodes] = True
        mask = self._member[g.i] & self._member[g.j]
        self._member[nodes] = False
        self._local[nodes] = np.arange(nodes.size)
        return self._local[g.i[mask]], self._local[g.j[mask]], g.road[mask]

    def _tree(
        self, m: int, li: IntArray, lj: IntArray, road: BoolArray, hh: FloatArray
    ) -> tuple[IntArray, IntArray, FloatArray, BoolArray] | None:
        """A random spanning tree in preorder: (order, subtree sizes, subtree sums, road edge).

        ``road edge[v]``: the edge from ``v`` to its parent crosses a road.
        """
        weight = 1.0 + self.rng.random(li.size) + ROAD_PENALTY * road
        root = int(self.rng.integers(m))
        if m <= SMALL_GRAPH:
            built = _kruskal(m, li, lj, weight, root)
            if built is None:
                return None
            order, pred, pred_edge = built
            road_edge = np.zeros(m, dtype=bool)
            road_edge[order[1:]] = road[pred_edge[order[1:]]]
        else:
            tree = minimum_spanning_tree(sp.csr_matrix((weight, (li, lj)), shape=(m, m)))
            order, pred = depth_first_order(tree, root, directed=False, return_predecessors=True)
            if order.size < m:
                return None
            rows = np.repeat(np.arange(m), np.diff(tree.indptr))
            cols = tree.indices
            child = np.where(pred[cols] == rows, cols, rows)
            road_edge = np.zeros(m, dtype=bool)
            road_edge[child] = tree.data >= 1.0 + ROAD_PENALTY
        size_list = [1] * m
        pred_list = pred.tolist()
        # Subtree sizes: one pass over the preorder, children before parents
        # (sequential by nature; n is a component's tiles, at most a few thousand).
        for v in reversed(order[1:].tolist()):
            size_list[pred_list[v]] += size_list[v]
        size = np.asarray(size_list, dtype=np.int64)
        position = np.empty(m, dtype=np.int64)
        position[order] = np.arange(m)
        prefix = np.concatenate([[0.0], np.cumsum(hh[order])])
        sums = prefix[position + size] - prefix[position]
        return order, size, sums, road_edge

    # -- cuts ----------------------------------------------------------------------------------

    def _valid_cuts(
        self, sums: FloatArray, total: float, k: int, lo: float, hi: float
    ) -> tuple[BoolArray, IntArray]:
        rest = total - sums
        with np.errstate(divide="ignore", invalid="ignore"):
            k1_lo = np.maximum.reduce(
                [
                    np.ones_like(sums),
                    np.ceil(sums / hi - _EPS),
                    k - np.floor(rest / lo + _EPS) if lo > 0 else np.full_like(sums, -np.inf),
                ]
            )
            k1_hi = np.minimum.reduce(
                [
                    np.full_like(sums, k - 1),
                    np.floor(sums / lo + _EPS) if lo > 0 else np.full_like(sums, np.inf),
                    k - np.ceil(rest / hi - _EPS),
                ]
            )
        valid = k1_lo <= k1_hi
        proportional = np.floor(sums * k / max(total, _EPS) + 0.5)
        k1 = np.clip(proportional, k1_lo, np.maximum(k1_lo, k1_hi))
        k1 = np.where(valid, k1, 1).astype(np.int64)
        return valid, k1

    def _deviation(self, sums: FloatArray, total: float, k: int, k1: IntArray) -> FloatArray:
        a = np.abs(sums / k1 - self.mid)
        b = np.abs((total - sums) / np.maximum(k - k1, 1) - self.mid)
        return np.asarray(np.maximum(a, b) / self.half, dtype=float)

    def _cuts(
        self, nodes: IntArray, k: int, lo: float, hi: float
    ) -> list[tuple[IntArray, int, IntArray, int]]:
        """Valid cuts of one random spanning tree of ``nodes``, best first (at most CUTS_PER_TREE).

        Best: along a road; then leaving headroom (both parts fit the narrowed
        bounds too); then the parts' average cells nearest the middle of the
        bounds; then the most even number of cells on each side.
        """
        m = nodes.size
        li, lj, road = self._subgraph(nodes)
        hh = self.hh[nodes]
        total = float(hh.sum())
        built = self._tree(m, li, lj, road, hh)
        if built is None:
            raise RuntimeError("a part handed to the splitter is not connected")
        order, size, sums, road_edge = built
        candidates = order[1:]
        s = sums[candidates]
        valid, k1 = self._valid_cuts(s, total, k, lo, hi)
        if not valid.any():
            return []
        v, s, k1 = candidates[valid], s[valid], k1[valid]
        roomy, _ = self._valid_cuts(s, total, k, *self.tight)
        roomy |= not self._prefer_room
        dev = self._deviation(s, total, k, k1)
        balance = np.abs(k1 - k / 2)
        ranked = np.lexsort(
            (self.rng.random(v.size), balance, np.round(dev, 2), ~roomy, ~road_edge[v])
        )
        return [
            self._parts(nodes, order, size, int(v[r]), int(k1[r]), k)
            for r in ranked[:CUTS_PER_TREE]
        ]

    def _search(self, nodes: IntArray, k: int, lo: float, hi: float) -> list[IntArray] | None:
        """Depth-first search for ``k`` connected parts within ``[lo, hi]``, with backtracking.

        Each level draws up to TREES_PER_SPLIT random trees and tries their best
        cuts in turn; when a part below cannot be split, the next cut is tried.
        Every tree costs one unit of ``self._budget``; at zero the search gives up.
        """
        if k == 1:
            return [nodes]
        for _ in range(TREES_PER_SPLIT):
            if self._budget <= 0:
                return None
            self._budget -= 1
            for a, ka, b, kb in self._cuts(nodes, k, lo, hi):
                left = self._search(a, ka, lo, hi)
                if left is None:
                    continue
                right = self._search(b, kb, lo, hi)
                if right is None:
                    continue
                return left + right
        return None

    def _greedy(self, nodes: IntArray, k: int, lo: float, hi: float) -> list[IntArray]:
        """Split without backtracking, taking the least-bad cut where no valid one exists."""
        out: list[IntArray] = []
        stack = [(nodes, k)]
        while stack:
            part, kk = stack.pop()
            if kk <= 1 or part.size <= 1:
                out.append(part)
                continue
            cut: tuple[IntArray, int, IntArray, int] | None = None
            fallback: _Cut | None = None
            for _ in range(TREES_PER_SPLIT):
                cuts = self._cuts(part, kk, lo, hi)
                if cuts:
                    cut = cuts[0]
                    break
                li, lj, road = self._subgraph(part)
                hh = self.hh[part]
                built = self._tree(part.size, li, lj, road, hh)
                assert built is not None
                candidate = self._least_bad(*built[:3], float(hh.sum()), kk)
                if fallback is None or candidate.outside < fallback.outside:
                    fallback = candidate
            if cut is None:
                assert fallback is not None
                cut = self._parts(part, fallback.order, fallback.size, fallback.v, fallback.k1, kk)
            a, ka, b, kb = cut
            stack.append((b, kb))
            stack.append((a, ka))
        return out

    def _least_bad(
        self, order: IntArray, size: IntArray, sums: FloatArray, total: float, k: int
    ) -> _Cut:
        """The cut leaving the fewest households outside the bounds (ties: most central)."""
        lo, hi = self.full
        candidates = order[1:]
        s = sums[candidates]
        k1 = np.clip(np.floor(s * k / max(total, _EPS) + 0.5), 1, k - 1).astype(np.int64)
        k2 = k - k1
        avg1, avg2 = s / k1, (total - s) / k2
        outside = (
            np.maximum(avg1 - hi, 0) * k1 * 2
            + np.maximum(lo - avg1, 0) * k1
            + np.maximum(avg2 - hi, 0) * k2 * 2
            + np.maximum(lo - avg2, 0) * k2
        )
        dev = self._deviation(s, total, k, k1)
        pick = int(np.lexsort((dev, outside))[0])
        return _Cut(float(outside[pick]), order, size, int(candidates[pick]), int(k1[pick]))

    @staticmethod
    def _parts(
        nodes: IntArray, order: IntArray, size: IntArray, v: int, k1: int, k: int
    ) -> tuple[IntArray, int, IntArray, int]:
        position = np.empty(order.size, dtype=np.int64)
        position[order] = np.arange(order.size)
        start = position[v]
        inside = np.zeros(order.size, dtype=bool)
        inside[order[start : start + size[v]]] = True
        return nodes[inside], k1, nodes[~inside], k - k1

    def split(
        self, nodes: IntArray, k: int, *, relax: bool = False, budget: int = 0
    ) -> list[IntArray]:
        """Split a connected set of nodes into ``k`` connected parts.

        A backtracking search within the bounds (preferring cuts that leave
        headroom); when it fails, greedily with least-bad cuts. ``relax``: an
        infeasible component, split within ``[0, max]``. ``budget``: trees the
        search may draw (default: from ``k``).
        """
        if k <= 1 or nodes.size <= 1:
            return [nodes]
        if relax:
            return self._greedy(nodes, k, 0.0, self.full[1])
        budget = budget or max(MIN_TREES, TREES_PER_CELL * k)
        # Several shorter searches beat one long one: a search that went wrong
        # near the top wastes its budget below.
        # Headroom is preferred in the first half of the searches only: on hard
        # parts it can steer every search into the same dead end.
        for restart in range(SEARCH_RESTARTS):
            self._budget = max(1, budget // SEARCH_RESTARTS)
            self._prefer_room = restart < SEARCH_RESTARTS // 2
            found = self._search(nodes, k, *self.full)
            if found is not None:
                return found
        return self._greedy(nodes, k, *self.full)

    def outside(self, total: float) -> float:
        """How badly a cell of ``total`` households misses the full bounds.

        Households above the maximum count twice: when the bounds cannot be
        met, a cell somewhat below the minimum (a grid worker may serve two
        small cells) is preferred to one above the maximum.
        """
        lo, hi = self.full
        return max(0.0, lo - total) + 2.0 * max(0.0, total - hi)

    def repair(self, parts: list[IntArray], *, budget: int) -> list[IntArray]:
        """Recombine cells that miss the bounds with their neighbours (ReCom moves).

        A cell out of bounds and one or two random neighbouring cells are
        merged and split again with fresh trees; the result is kept when it
        leaves no more households outside the bounds than before (equal
        counts are kept too, so the search can walk along chains of cells).
        """
        g = self.graph
        parts = list(parts)
        label = np.full(g.n, -1, dtype=np.int64)
        for number, members in enumerate(parts):
            label[members] = number
        sums = [float(self.hh[p].sum()) for p in parts]
        for _ in range(budget):
            bad = [c for c in range(len(parts)) if parts[c].size and self.outside(sums[c]) > 0]
            if not bad:
                break
            c = bad[int(self.rng.integers(len(bad)))]
            a, b = label[g.i], label[g.j]
            touching = np.concatenate([b[(a == c) & (b != c)], a[(b == c) & (a != c)]])
            neighbours = np.unique(touching[touching >= 0])
            if neighbours.size == 0:
                continue
            take = int(self.rng.integers(1, min(2, neighbours.size) + 1))
            chosen = [c, *self.rng.choice(neighbours, take, replace=False).tolist()]
            nodes = np.concatenate([parts[x] for x in chosen])
            total = float(self.hh[nodes].sum())
            counts = _cell_counts(total, *self.full)
            if not counts:
                continue
            k = counts[int(self.rng.integers(len(counts)))]
            new = self.split(nodes, k, budget=REPAIR_TREES)
            before = sum(self.outside(sums[x]) for x in chosen)
            new_sums = [float(self.hh[p].sum()) for p in new]
            if sum(self.outside(t) for t in new_sums) > before:
                continue
            slots = chosen + [len(parts) + x for x in range(max(0, len(new) - len(chosen)))]
            for slot, members, t in zip(slots, new, new_sums, strict=False):
                if slot >= len(parts):
                    parts.append(members)
                    sums.append(t)
                else:
                    parts[slot] = members
                    sums[slot] = t
                label[members] = slot
            for slot in chosen[len(new) :]:  # fewer cells than before
                parts[slot] = np.zeros(0, dtype=np.int64)
                sums[slot] = 0.0
        return [p for p in parts if p.size]


def _cell_counts(total: float, min_households: float, max_households: float) -> list[int]:
    """Numbers of cells that can hold ``total`` within the bounds, best first."""
    if total <= 0:
        return []
    k_min = max(1, math.ceil(total / max_households - _EPS))
    k_max = math.floor(total / min_households + _EPS)
    if k_min > k_max:
        return []
    mid = (min_households + max_households) / 2
    # Only the few k nearest the middle matter; look at a window around total / mid.
    centre = min(max(round(total / mid), k_min), k_max)
    window = range(max(k_min, centre - K_TRIES), min(k_max, centre + K_TRIES) + 1)
    return sorted(window, key=lambda k: (abs(total / k - mid), k))[:K_TRIES]


COARSE_PROOF_MAX_TOTAL = 1_000_000
"""Largest household total for which :func:`too_coarse` tries its proof (a bitset this wide)."""

COARSE_PROOF_MAX_UNITS = 400
"""Most units for which :func:`too_coarse` tries the three-cell proof (a 2-D table per unit)."""


def too_coarse(households: FloatArray, min_households: float, max_households: float) -> bool:
    """Whether no grouping of these units, connected or not, puts every cell within bounds.

    Exact for one, two or three cells (three: up to
    :data:`COARSE_PROOF_MAX_UNITS` units); where four or more cells would be
    needed it only proves the case where no set of units at all sums to within
    the bounds (the general question is bin packing). The sums a set of units
    reaches are one bitset, built by shift-and-or over the units; pairs of
    sums for three cells, a boolean table. Households that are not whole
    numbers are never judged coarse.

    Examples
    --------
    >>> too_coarse(np.array([72.0] + [144.0] * 6), 300, 500)  # 432+504, 360+576, 432+360+144
    True
    >>> too_coarse(np.array([100.0] * 9), 300, 500)
    False
    """
    values = np.asarray(households, dtype=float)
    whole = np.round(values)
    total = int(whole.sum())
    if not np.allclose(values, whole) or total <= 0 or total > COARSE_PROOF_MAX_TOTAL:
        return False
    lo, hi = math.ceil(min_households - _EPS), math.floor(max_households + _EPS)
    k_min = max(1, math.ceil(total / max_households - _EPS))
    k_max = math.floor(total / min_households + _EPS)
    ints = whole.astype(np.int64)
    reach = 1
    for value in ints.tolist():
        reach |= reach << value

    def reaches(first: int, last: int) -> bool:
        return first <= last and bool((reach >> first) & ((1 << (last - first + 1)) - 1))

    for k in range(k_min, k_max + 1):
        if k == 1 and lo <= total <= hi:
            return False
        if k == 2 and reaches(max(lo, total - hi), min(hi, total - lo)):
            return False
        if k == 3:
            if ints.size > COARSE_PROOF_MAX_UNITS:
                return False
            # pairs[a, b]: some two disjoint sets of units sum to a and b (the rest is the third).
            pairs = np.zeros((hi + 1, hi + 1), dtype=bool)
            pairs[0, 0] = True
            for value in ints.tolist():
                if value <= hi:
                    grown = pairs.copy()
                    grown[value:, :] |= pairs[: hi + 1 - value, :]
                    grown[:, value:] |= pairs[:, : hi + 1 - value]
                    pairs = grown
            a, b = np.nonzero(pairs[lo:, lo:])
            rest = total - (a + lo) - (b + lo)
            if ((rest >= lo) & (rest <= hi)).any():
                return False
        if k >= 4 and reaches(lo, hi):
            return False
    return True


def enclosed_pocket(
    graph: Graph,
    households: FloatArray,
    nodes: IntArray,
    min_households: float,
    max_households: float,
) -> int | None:
    """A unit that alone connects a pocket of units too small for a cell, too large with it.

    When removing unit ``v`` cuts off units holding fewer than ``min``
    households, their cell must include ``v`` (they cannot be a cell
    alone), and when they and ``v`` hold more than ``max``, no layout of
    this component keeps every cell within bounds: a tower on a narrow
    neck of the community with a few houses behind it. Only units above
    ``max - min`` households can close such a pocket, so few are tried.

    Returns
    -------
    int or None
        The enclosing unit (a node of ``graph``), or ``None`` when there is none.
    """
    inside = np.zeros(graph.n, dtype=bool)
    inside[nodes] = True
    edges = inside[graph.i] & inside[graph.j]
    ei, ej = graph.i[edges], graph.j[edges]
    for v in nodes[households[nodes] > max_households - min_households - _EPS].tolist():
        keep = (ei != v) & (ej != v)
        adjacency = sp.csr_matrix(
            (np.ones(int(keep.sum())), (ei[keep], ej[keep])), shape=(graph.n, graph.n)
        )
        _, component = connected_components(adjacency, directed=False)
        others = nodes[nodes != v]
        sums = np.bincount(component[others], weights=households[others])
        pockets = np.flatnonzero((sums < min_households - _EPS) & (sums > 0))
        if (sums[pockets] + households[v] > max_households + _EPS).any():
            return int(v)
    return None


def _groups(keys: IntArray, nodes: IntArray) -> list[IntArray]:
    """``nodes`` grouped by ``keys``, groups in order of their first node."""
    order = np.lexsort((nodes, keys))
    keys, nodes = keys[order], nodes[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    parts = np.split(nodes, starts[1:])
    return sorted(parts, key=lambda part: int(part.min()))


def _best_split(splitter: _Splitter, nodes: IntArray, choices: list[int]) -> list[IntArray]:
    """Split a feasible component for each good number of cells in turn until all fit.

    If none fits, the best attempt is repaired by recombination
    (:meth:`_Splitter.repair`).
    """
    best: tuple[float, list[IntArray]] | None = None
    for k in choices:
        parts = splitter.split(nodes, k)
        missed = sum(splitter.outside(float(splitter.hh[p].sum())) for p in parts)
        if best is None or missed < best[0]:
            best = (missed, parts)
        if missed == 0:
            return parts
    assert best is not None
    return splitter.repair(best[1], budget=REPAIR_BUDGET)


def plan_cells(
    graph: Graph,
    households: FloatArray,
    *,
    min_households: float,
    max_households: float,
    rng: np.random.Generator,
    improve: bool = True,
) -> Plan:
    """Partition the nodes of ``graph`` into cells (see the module docstring).

    Parameters
    ----------
    graph:
        The tile graph.
    households:
        Households of each node.
    min_households, max_households:
        The bounds.
    rng:
        Source of randomness (the result is deterministic for its seed).
    improve:
        Run the compactness search.

    Returns
    -------
    Plan
    """
    n = graph.n
    if n == 0:
        return Plan(np.zeros(0, dtype=np.int64), [])
    total = float(households.sum())
    if total < min_households:
        return Plan(np.zeros(n, dtype=np.int64), [["below_min"]])
    splitter = _Splitter(
        graph, households, min_households=min_households, max_households=max_households, rng=rng
    )
    oversized = households > max_households
    cells: list[IntArray] = [np.array([v], dtype=np.int64) for v in np.flatnonzero(oversized)]
    kinds: list[str] = ["oversized"] * len(cells)
    rest = np.flatnonzero(~oversized)
    if rest.size:
        keep = ~oversized[graph.i] & ~oversized[graph.j]
        adjacency = sp.csr_matrix(
            (np.ones(int(keep.sum())), (graph.i[keep], graph.j[keep])), shape=(n, n)
        )
        _, component = connected_components(adjacency, directed=False)
        for nodes in _groups(component[rest].astype(np.int64), rest):
            subtotal = float(households[nodes].sum())
            choices = _cell_counts(subtotal, min_households, max_households)
            if not choices:
                k = max(1, math.ceil(subtotal / max_households - _EPS))
                parts = splitter.split(nodes, k, relax=True)
                kind = "infeasible"
            else:
                parts = _best_split(splitter, nodes, choices)
                kind = "feasible"
                sums = np.asarray([households[part].sum() for part in parts])
                out = (sums < min_households - _EPS) | (sums > max_households + _EPS)
                if out.any():
                    if too_coarse(households[nodes], min_households, max_households):
                        kind = "coarse"
                    elif (
                        enclosed_pocket(graph, households, nodes, min_households, max_households)
                        is not None
                    ):
                        kind = "enclosed"
            cells.extend(parts)
            kinds.extend([kind] * len(parts))
    labels = np.empty(n, dtype=np.int64)
    for number, members in enumerate(cells):
        labels[members] = number
    movable = np.array([kind == "feasible" for kind in kinds], dtype=bool)
    if improve and movable.any():
        labels = improve_compactness(
            graph,
            households,
            labels,
            movable,
            min_households=min_households,
            max_households=max_households,
            rng=rng,
        )
    sums = np.bincount(labels, weights=households, minlength=len(cells))
    flags: list[list[str]] = []
    for number, kind in enumerate(kinds):
        if kind == "oversized":
            flags.append(["oversized_unit"])
            continue
        reason = {
            "infeasible": "infeasible_component",
            "coarse": "coarse_units",
            "enclosed": "enclosed_units",
        }.get(kind, "split_not_found")
        if sums[number] < min_households:
            flags.append(["below_min", reason])
        elif sums[number] > max_households:
            flags.append(["above_max", reason])
        else:
            flags.append([])
    return Plan(labels, flags)


def improve_compactness(
    graph: Graph,
    households: FloatArray,
    labels: IntArray,
    movable: BoolArray,
    *,
    min_households: float,
    max_households: float,
    rng: np.random.Generator,
    max_passes: int = MAX_PASSES,
) -> IntArray:
    """Move boundary tiles between cells to lower ``sum(P² / A)`` (see the module docstring).

    Only cells marked ``movable`` give or take tiles. Returns new labels.
    """
    m = int(labels.max()) + 1
    indptr, neighbour, edge = graph.csr()
    cost = graph.length * np.where(graph.road, ROAD_COST, 1.0)
    exterior = graph.exterior * ROAD_COST
    cut = labels[graph.i] != labels[graph.j]
    perimeter = np.bincount(labels, weights=exterior, minlength=m)
    perimeter += np.bincount(labels[graph.i[cut]], weights=cost[cut], minlength=m)
    perimeter += np.bincount(labels[graph.j[cut]], weights=cost[cut], minlength=m)
    area = np.bincount(labels, weights=graph.area, minlength=m)
    cell_hh = np.bincount(labels, weights=households, minlength=m)
    size = np.bincount(labels, minlength=m)
    margin = HEADROOM * (max_households - min_households)
    t_lo, t_hi = min_households + margin, max_households - margin

    def full_out(h: float) -> float:
        return max(0.0, min_households - h) + max(0.0, h - max_households)

    def tight_out(h: float) -> float:
        return max(0.0, t_lo - h) + max(0.0, h - t_hi)

    # The search is sequential by nature (each move changes the next one's gain),
    # so it runs on Python lists, which index faster than numpy scalars.
    lab = labels.tolist()
    ip = indptr.tolist()
    nb = neighbour.tolist()
    ce = cost[edge].tolist()
    hh = households.tolist()
    ar = graph.area.tolist()
    ex = exterior.tolist()
    per = perimeter.tolist()
    car = area.tolist()
    chh = cell_hh.tolist()
    csz = size.tolist()
    mov = movable.tolist()

    def stays_connected(u: int, cell: int) -> bool:
        starts = [nb[p] for p in range(ip[u], ip[u + 1]) if lab[nb[p]] == cell]
        if len(starts) <= 1:
            return True
        targets = set(starts)
        seen = {u, starts[0]}
        found = 1
        stack = [starts[0]]
        while stack:
            v = stack.pop()
            for p in range(ip[v], ip[v + 1]):
                w = nb[p]
                if w in seen or lab[w] != cell:
                    continue
                seen.add(w)
                if w in targets:
                    found += 1
                    if found == len(targets):
                        return True
                stack.append(w)
        return False

    for _ in range(max_passes):
        current = np.asarray(lab, dtype=np.int64)
        border = current[graph.i] != current[graph.j]
        candidates = np.unique(np.concatenate([graph.i[border], graph.j[border]]))
        candidates = candidates[movable[current[candidates]]]
        if candidates.size == 0:
            break
        rng.shuffle(candidates)
        moves = 0
        for u in candidates.tolist():
            a_cell = lab[u]
            if csz[a_cell] <= 1:
                continue
            towards: dict[int, float] = {}
            total = 0.0
            for p in range(ip[u], ip[u + 1]):
                c = lab[nb[p]]
                towards[c] = towards.get(c, 0.0) + ce[p]
                total += ce[p]
            if len(towards) == 1:
                continue
            h, a, x = hh[u], ar[u], ex[u]
            to_a = towards.get(a_cell, 0.0)
            p_a = per[a_cell] - (x + total - to_a) + to_a
            area_a = car[a_cell] - a
            if area_a <= 0:
                continue
            old_a = per[a_cell] ** 2 / car[a_cell]
            new_a = p_a**2 / area_a
            h_a, h_a2 = chh[a_cell], chh[a_cell] - h
            best_gain, best_cell = -_EPS, -1
            for b_cell, to_b in towards.items():
                if b_cell == a_cell or not mov[b_cell]:
                    continue
                h_b, h_b2 = chh[b_cell], chh[b_cell] + h
                penalty = 0.0
                if h:
                    if full_out(h_a2) > full_out(h_a) or full_out(h_b2) > full_out(h_b):
                        continue
                    tight_change = (
                        tight_out(h_a2) + tight_out(h_b2) - tight_out(h_a) - tight_out(h_b)
                    )
                    if tight_change > 0:
                        continue
                    full_change = full_out(h_a2) + full_out(h_b2) - full_out(h_a) - full_out(h_b)
                    penalty = 10.0 * full_change + tight_change
                p_b = per[b_cell] + x + total - 2.0 * to_b
                gain = (
                    new_a
                    + p_b**2 / (car[b_cell] + a)
                    - old_a
                    - per[b_cell] ** 2 / car[b_cell]
                    + penalty
                )
                if gain < best_gain:
                    best_gain, best_cell = gain, b_cell
            if best_cell < 0 or not stays_connected(u, a_cell):
                continue
            b_cell = best_cell
            to_b = towards[b_cell]
            per[a_cell] = p_a
            per[b_cell] = per[b_cell] + x + total - 2.0 * to_b
            car[a_cell] = area_a
            car[b_cell] += a
            chh[a_cell] -= h
            chh[b_cell] += h
            csz[a_cell] -= 1
            csz[b_cell] += 1
            lab[u] = b_cell
            moves += 1
        if moves == 0:
            break
    return np.asarray(lab, dtype=np.int64)
