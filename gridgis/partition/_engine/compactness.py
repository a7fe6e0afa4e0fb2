"""The compactness search: boundary tiles move between cells to lower ``sum(P² / A)``.

Told in :mod:`gridgis.partition._engine` (**Compactness search**).
"""

from __future__ import annotations

import numpy as np

from gridgis.partition._engine.splitter import _EPS, HEADROOM
from gridgis.partition.units import BoolArray, FloatArray, Graph, IntArray

ROAD_COST = 0.5
"""Share of its length at which a cell boundary along a road counts in the compactness search."""

MAX_PASSES = 12
"""Passes of the compactness search over the boundary tiles."""


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
    """Move boundary tiles between cells to lower ``sum(P² / A)`` (see the package docstring).

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
