"""The maximal covering location problem (MCLP, Church & ReVelle 1974).

:func:`max_cover` chooses ``k`` candidates that cover the most demand weight
from a boolean coverage matrix, knowing nothing of maps: greedy always
(within 1 − 1/e of the optimum), the LP relaxation for an upper bound and
the integer programme with HiGHS when it is small enough; the
:class:`CoverSolution` says which solver gave the sites and how far from
the best bound they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import (  # type: ignore[import-untyped]
    Bounds,
    LinearConstraint,
    milp,
)
from scipy.sparse import (  # type: ignore[import-untyped]
    csr_array,
    identity,
)
from scipy.sparse import hstack as sparse_hstack

from gridgis.errors import InputError

DEFAULT_TIME_LIMIT = 10.0
"""Seconds HiGHS may spend on the exact MCLP."""

DEFAULT_MILP_LIMIT = 200_000
"""Largest MCLP (non-zeros of the reduced coverage matrix) solved exactly."""

DEFAULT_LP_LIMIT = 2_000_000
"""Largest MCLP whose LP relaxation is solved for the upper bound."""


@dataclass(frozen=True)
class CoverSolution:
    """The answer of :func:`max_cover`, with the evidence of how good it is.

    Attributes
    ----------
    chosen:
        Candidate positions of the sites, in order of what each adds (sites
        that add nothing are left out, so there may be fewer than ``k``).
    gains:
        What each chosen site adds, in that order; they sum to ``objective``.
    objective:
        Demand weight (households) covered by the chosen sites.
    solver:
        ``"HiGHS MILP (scipy.optimize.milp)"`` or ``"greedy"``: which gave ``chosen``.
    optimal:
        Whether ``chosen`` is proved optimal.
    greedy_objective:
        What the greedy heuristic covers (always run).
    milp_objective, milp_status:
        The exact solver's objective (``None`` if not run) and ``"optimal"``,
        ``"time limit"``, or why it was not run.
    lp_bound:
        The LP relaxation's optimum: no choice of ``k`` sites covers more
        (``None`` when the problem was too large for it).
    bound:
        The best upper bound known: the proved optimum, else the least of the
        LP bound, HiGHS's dual bound and greedy / (1 − 1/e).
    gap, greedy_gap:
        ``(bound - objective) / bound`` for the chosen sites and for greedy (0 when
        the bound is 0).
    seconds:
        Time of each solver.
    summary:
        One sentence for people: which solver, how close to optimal.
    """

    chosen: NDArray[np.int64]
    gains: NDArray[np.float64]
    objective: float
    solver: str
    optimal: bool
    greedy_objective: float
    milp_objective: float | None
    milp_status: str
    lp_bound: float | None
    bound: float
    gap: float
    greedy_gap: float
    candidates: int
    demand_points: int
    seconds: dict[str, float]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures (positions as lists)."""
        return {
            "chosen": [int(i) for i in self.chosen],
            "gains": [float(g) for g in self.gains],
            "objective": self.objective,
            "solver": self.solver,
            "optimal": self.optimal,
            "greedy_objective": self.greedy_objective,
            "milp_objective": self.milp_objective,
            "milp_status": self.milp_status,
            "lp_bound": self.lp_bound,
            "bound": self.bound,
            "gap": self.gap,
            "greedy_gap": self.greedy_gap,
            "candidates": self.candidates,
            "demand_points": self.demand_points,
            "seconds": dict(self.seconds),
            "summary": self.summary,
        }


MILP_SOLVER = "HiGHS MILP (scipy.optimize.milp)"
GREEDY_SOLVER = "greedy"
_GREEDY_FACTOR = 1.0 - 1.0 / math.e


def max_cover(
    coverage: ArrayLike | csr_array,
    weights: ArrayLike,
    k: int,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    milp_limit: int = DEFAULT_MILP_LIMIT,
    lp_limit: int = DEFAULT_LP_LIMIT,
) -> CoverSolution:
    """Choose ``k`` candidates that together cover the most demand weight (MCLP).

    The model: maximise ``sum(w_i * y_i)`` subject to ``y_i <= sum(x_j for j
    covering i)``, ``sum(x_j) <= k``, ``x`` binary, ``0 <= y <= 1``. Demand
    points covered by the same candidates are merged first (same optimum,
    fewer rows).

    Parameters
    ----------
    coverage:
        ``(n_candidates, n_demand)`` boolean matrix (dense or scipy sparse):
        candidate ``j`` covers demand point ``i``.
    weights:
        Demand weights (households), >= 0.
    k:
        Number of sites to choose (>= 1; more than the candidates means all of them).
    time_limit:
        Seconds for HiGHS on the integer programme (and again on the LP).
    milp_limit, lp_limit:
        The integer programme is solved when the reduced matrix has at most
        ``milp_limit`` non-zeros, its LP relaxation (the upper bound) when it
        has at most ``lp_limit``; greedy always runs.

    Returns
    -------
    CoverSolution

    Examples
    --------
    Greedy takes the big middle set and misses the better pair:

    >>> cover = [[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1]]
    >>> s = max_cover(cover, [2, 2, 2, 2, 3, 3], 2)
    >>> s.greedy_objective, s.objective, s.solver, s.optimal
    (11.0, 14.0, 'HiGHS MILP (scipy.optimize.milp)', True)
    >>> round(s.greedy_gap, 3)
    0.214
    """
    matrix = csr_array(coverage, dtype=bool).astype(np.float64)
    if matrix.ndim != 2:
        raise InputError(
            "`coverage` must be a 2-D (candidates × demand) matrix",
            zh="`coverage` 应为二维矩阵（候选点 × 需求点）",
        )
    n, m = matrix.shape
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != m:
        raise InputError(
            f"`weights` has {w.shape[0]} values but `coverage` has {m} demand columns",
            zh=f"`weights` 有 {w.shape[0]} 个值，而 `coverage` 有 {m} 个需求列",
        )
    if not np.all(np.isfinite(w)) or (w < 0).any():
        raise InputError(
            "`weights` must be finite and >= 0 (households)",
            zh="`weights` 必须是有限且不小于 0 的数（户数）",
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(
            f"`k` was {k!r} but is expected to be an integer >= 1",
            zh=f"`k` 为 {k!r}，应为不小于 1 的整数",
        )
    if not (time_limit > 0 and math.isfinite(time_limit)):
        raise InputError(
            f"`time_limit` was {time_limit!r} but is expected to be seconds > 0",
            zh=f"`time_limit` 为 {time_limit!r}，应为大于 0 的秒数",
        )
    k = min(int(k), n)
    seconds: dict[str, float] = {}

    t = perf_counter()
    greedy = _greedy(matrix, w, k)
    seconds["greedy"] = perf_counter() - t
    greedy_obj = _covered_weight(matrix, w, greedy)

    reduced, reduced_w = _merge_demand(matrix, w)
    size = int(reduced.nnz)
    lp_bound: float | None = None
    if n and k and reduced.shape[1] and size <= lp_limit:
        t = perf_counter()
        lp = _solve(reduced, reduced_w, k, integral=False, time_limit=time_limit)
        seconds["lp"] = perf_counter() - t
        if lp.status == 0 and lp.fun is not None:
            lp_bound = float(-lp.fun)
    milp_obj: float | None = None
    milp_sites: NDArray[np.int64] | None = None
    milp_dual: float | None = None
    if not n or not k or reduced.shape[1] == 0:
        status = "not needed: nothing to cover"
    elif size > milp_limit:
        status = f"not run: {size:,} non-zeros is more than the limit of {milp_limit:,}"
    else:
        t = perf_counter()
        res = _solve(reduced, reduced_w, k, integral=True, time_limit=time_limit)
        seconds["milp"] = perf_counter() - t
        if res.x is not None:
            milp_sites = np.flatnonzero(res.x[:n] > 0.5).astype(np.int64)
            milp_obj = _covered_weight(matrix, w, milp_sites)
        if res.status == 0:
            status = "optimal"
        elif res.status == 1:
            status = f"time limit ({time_limit:g} s)"
        else:
            status = f"failed: {res.message}"
        dual = getattr(res, "mip_dual_bound", None)
        if dual is not None and math.isfinite(dual):
            milp_dual = float(-dual)

    optimal = status == "optimal" and milp_obj is not None
    bounds = [b for b in (lp_bound, milp_dual) if b is not None]
    if greedy_obj > 0:
        bounds.append(greedy_obj / _GREEDY_FACTOR)
    if optimal and milp_obj is not None:
        bound = milp_obj
    elif reduced.shape[1] == 0 or not n:
        bound = 0.0
    else:
        bound = min(bounds) if bounds else float(reduced_w.sum())
    use_milp = milp_obj is not None and milp_sites is not None and milp_obj >= greedy_obj
    sites = milp_sites if use_milp and milp_sites is not None else greedy
    objective = float(milp_obj) if use_milp and milp_obj is not None else greedy_obj
    bound = max(bound, objective)  # rounding in a solver's bound must not undercut a solution
    order, gains = _by_gain(matrix, w, sites)
    solution = CoverSolution(
        chosen=order,
        gains=gains,
        objective=objective,
        solver=MILP_SOLVER if use_milp else GREEDY_SOLVER,
        optimal=optimal and use_milp,
        greedy_objective=greedy_obj,
        milp_objective=milp_obj,
        milp_status=status,
        lp_bound=lp_bound,
        bound=bound,
        gap=_gap(objective, bound),
        greedy_gap=_gap(greedy_obj, bound),
        candidates=n,
        demand_points=m,
        seconds={key: round(value, 4) for key, value in seconds.items()},
        summary="",
    )
    return _with_summary(solution)


def _gap(value: float, bound: float) -> float:
    return 0.0 if bound <= 0 else max(0.0, (bound - value) / bound)


def _with_summary(s: CoverSolution) -> CoverSolution:
    lp = "" if s.lp_bound is None else f"; LP bound {s.lp_bound:,.0f}"
    if s.optimal:
        text_ = (
            f"MILP (HiGHS) optimal: {s.objective:,.0f} households; greedy "
            f"{s.greedy_objective:,.0f}, within {s.greedy_gap:.1%} of the optimum{lp}"
        )
    elif s.milp_objective is not None:
        text_ = (
            f"{'MILP (HiGHS)' if s.solver == MILP_SOLVER else 'greedy'}: "
            f"{s.objective:,.0f} households, within {s.gap:.1%} of the best bound "
            f"{s.bound:,.0f}; MILP {s.milp_status}; greedy {s.greedy_objective:,.0f}{lp}"
        )
    else:
        which = "LP bound" if s.lp_bound is not None and s.bound == s.lp_bound else "bound"
        text_ = (
            f"greedy: {s.objective:,.0f} households, within {s.gap:.1%} of the {which} "
            f"{s.bound:,.0f}; MILP {s.milp_status}"
        )
    return _replace_summary(s, text_)


def _replace_summary(s: CoverSolution, summary: str) -> CoverSolution:
    return replace(s, summary=summary)


def _greedy(matrix: csr_array, w: NDArray[np.float64], k: int) -> NDArray[np.int64]:
    """Pick, k times, the candidate adding the most uncovered weight; stop when none adds."""
    remaining = w.copy()
    chosen: list[int] = []
    columns = matrix.tocsr()
    for _ in range(k):  # k sparse products: k is small (sites to build)
        gains = columns @ remaining
        if chosen:
            gains[chosen] = -1.0
        j = int(np.argmax(gains)) if gains.size else -1
        if j < 0 or gains[j] <= 0:
            break
        chosen.append(j)
        remaining[columns.indices[columns.indptr[j] : columns.indptr[j + 1]]] = 0.0
    return np.asarray(chosen, dtype=np.int64)


def _covered_weight(matrix: csr_array, w: NDArray[np.float64], sites: NDArray[np.int64]) -> float:
    if sites.size == 0:
        return 0.0
    hit = np.asarray(matrix[sites].sum(axis=0)).ravel() > 0
    return float(w[hit].sum())


def _by_gain(
    matrix: csr_array, w: NDArray[np.float64], sites: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Order ``sites`` by what each adds to those before it; drop those adding nothing."""
    if sites.size == 0:
        return sites, np.zeros(0, dtype=np.float64)
    sub = csr_array(matrix[sites])
    order = _greedy(sub, w, sites.size)
    remaining = w.copy()
    gains = []
    for j in order:  # at most k sites
        idx = sub.indices[sub.indptr[j] : sub.indptr[j + 1]]
        gains.append(float(remaining[idx].sum()))
        remaining[idx] = 0.0
    return sites[order], np.asarray(gains, dtype=np.float64)


def _merge_demand(
    matrix: csr_array, w: NDArray[np.float64]
) -> tuple[csr_array, NDArray[np.float64]]:
    """Drop demand no candidate covers (or of weight 0); merge demand with the same coverers.

    Columns are grouped by two random projections of their pattern: two different
    candidate sets get the same pair of keys with probability about 1e-30.
    """
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    keep = np.flatnonzero((counts > 0) & (w > 0))
    sub = csr_array(matrix[:, keep])
    if keep.size == 0:
        return csr_array((matrix.shape[0], 0)), np.zeros(0)
    rng = np.random.default_rng(0)
    keys = sub.T @ rng.random((matrix.shape[0], 2))
    _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    merged_w = np.bincount(group.ravel(), weights=w[keep]).astype(np.float64)
    return csr_array(sub[:, first]), merged_w


def _solve(
    matrix: csr_array, w: NDArray[np.float64], k: int, *, integral: bool, time_limit: float
) -> Any:
    """The MCLP (or its LP relaxation) for HiGHS."""
    n, m = matrix.shape
    c = np.concatenate([np.zeros(n), -w])
    link = sparse_hstack([-matrix.T, identity(m, format="csr")], format="csr")
    budget = np.concatenate([np.ones(n), np.zeros(m)])[None, :]
    integrality = np.concatenate([np.full(n, 1 if integral else 0), np.zeros(m, dtype=int)])
    return milp(
        c,
        constraints=[
            LinearConstraint(link, -np.inf, 0.0),
            LinearConstraint(budget, -np.inf, float(k)),
        ],
        integrality=integrality,
        bounds=Bounds(0.0, 1.0),
        options={"time_limit": float(time_limit), "presolve": True},
    )
