"""Planning the cells of a tile graph: :func:`plan_cells` and its result :class:`Plan`.

Splits each connected component (:mod:`~gridgis.partition._engine.splitter`),
proves why cells stay out of bounds (:mod:`~gridgis.partition._engine.proofs`),
runs the compactness search (:mod:`~gridgis.partition._engine.compactness`)
and flags the cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

from gridgis.partition._engine.compactness import improve_compactness
from gridgis.partition._engine.proofs import enclosed_pocket, too_coarse
from gridgis.partition._engine.splitter import _EPS, _cell_counts, _Splitter
from gridgis.partition.units import BoolArray, FloatArray, Graph, IntArray

REPAIR_BUDGET = 100
"""Recombination moves tried on a component whose cells still miss the bounds."""


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


def _connected(graph: Graph, nodes: IntArray) -> bool:
    """Whether ``nodes`` form one connected part of ``graph``."""
    if nodes.size <= 1:
        return True
    inside = np.zeros(graph.n, dtype=bool)
    inside[nodes] = True
    keep = inside[graph.i] & inside[graph.j]
    adjacency = sp.csr_matrix(
        (np.ones(int(keep.sum())), (graph.i[keep], graph.j[keep])), shape=(graph.n, graph.n)
    )
    _, label = connected_components(adjacency, directed=False)
    return bool(np.unique(label[nodes]).size == 1)


def _peel_into_tower(
    graph: Graph,
    households: FloatArray,
    nodes: IntArray,
    oversized: BoolArray,
    min_households: float,
    max_households: float,
) -> tuple[int, IntArray, IntArray] | None:
    """Units of an infeasible component for the oversized unit next to it to take in.

    The component's households fit no number of cells (fewer than the minimum, or
    between one maximum and two minimums). The oversized unit it shares the longest
    boundary with (ties: fewer households) takes the units next to it (or next to
    those already taken), one at a time, until the rest fits some number of cells or
    falls below the minimum (then it takes all). Each step prefers a unit that makes
    the rest fit, then the fewest households; the rest stays connected.

    Returns ``(tower, taken, rest)``, or ``None`` when the component touches no
    oversized unit or no unit can be taken without cutting the rest in two.
    Components that need this are small (under two cells' worth of households), so
    the loop over their units is short.
    """
    inside = np.zeros(graph.n, dtype=bool)
    inside[nodes] = True
    edge_in = inside[graph.i] | inside[graph.j]
    other = np.where(inside[graph.i], graph.j, graph.i)[edge_in]
    keep = oversized[other]
    if not keep.any():
        return None
    towers, at = np.unique(other[keep], return_inverse=True)
    shared = np.bincount(at, weights=graph.length[edge_in][keep], minlength=towers.size)
    tower = int(towers[np.lexsort((towers, households[towers], -shared))[0]])
    held = np.zeros(graph.n, dtype=bool)  # the tower and what it took
    held[tower] = True
    rest = np.sort(nodes)
    while rest.size:
        total = float(households[rest].sum())
        if total < min_households - _EPS:
            break
        if _cell_counts(total, min_households, max_households):
            return tower, np.flatnonzero(held & ~oversized), rest
        touching = held[graph.i] & inside[graph.j] | held[graph.j] & inside[graph.i]
        candidates = np.unique(np.where(held[graph.i], graph.j, graph.i)[touching])
        best: tuple[bool, float, int] | None = None
        for c in candidates.tolist():  # few: the units next to the tower
            left = rest[rest != c]
            if not _connected(graph, left):
                continue
            fits = bool(_cell_counts(total - households[c], min_households, max_households))
            key = (not fits, float(households[c]), c)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        held[best[2]] = True
        inside[best[2]] = False
        rest = rest[rest != best[2]]
    held[rest] = True
    return tower, np.flatnonzero(held & ~oversized), np.zeros(0, dtype=np.int64)


def plan_cells(
    graph: Graph,
    households: FloatArray,
    *,
    min_households: float,
    max_households: float,
    rng: np.random.Generator,
    improve: bool = True,
) -> Plan:
    """Partition the nodes of ``graph`` into cells (see the package docstring).

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
                peeled = _peel_into_tower(
                    graph, households, nodes, oversized, min_households, max_households
                )
                if peeled is not None:
                    # Too few for a cell or for two, cut off by towers: the tower (a cell out
                    # of bounds anyway) takes the fewest units next to it that leave the rest
                    # within bounds, instead of leaving cells below the minimum.
                    tower, taken, nodes = peeled
                    position = int(np.searchsorted(np.flatnonzero(oversized), tower))
                    cells[position] = np.concatenate([cells[position], taken])
                    if nodes.size == 0:
                        continue
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
