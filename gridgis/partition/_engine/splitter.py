"""Recursive spanning-tree bisection of one graph: trees, cuts, the backtracking search, repair.

:class:`_Splitter` splits a connected set of tiles into ``k`` connected parts
within the household bounds; how, and why, is told in
:mod:`gridgis.partition._engine`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.sparse.csgraph import (  # type: ignore[import-untyped]
    depth_first_order,
    minimum_spanning_tree,
)

from gridgis.partition.units import BoolArray, FloatArray, Graph, IntArray

ROAD_PENALTY = 2.0
"""Added to the random weight (1–2) of a road-crossing edge in spanning trees."""

HEADROOM = 0.1
"""Share of the household range kept free at each end when drawing (see the package docstring)."""

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

REPAIR_TREES = 30
"""Tree budget of each recombination's split."""

_EPS = 1e-9


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
