"""Proofs of infeasibility: why a community's cells cannot all be within bounds.

:func:`too_coarse` (no grouping of the units fits, flag ``coarse_units``) and
:func:`enclosed_pocket` (a unit alone encloses a pocket too small for a cell
and too large to join it, flag ``enclosed_units``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

from gridgis.partition._engine.splitter import _EPS
from gridgis.partition.units import FloatArray, Graph, IntArray

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
