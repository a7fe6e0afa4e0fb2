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
from gridgis.partition.units import FloatArray, Graph, IntArray

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
