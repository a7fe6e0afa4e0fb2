"""Faces shared among street offices, and each street office's among its communities.

The third step of :mod:`gridgis.demo.areas`: recursive bisection of the
ordered children, each group's share of the area demand grown as one
connected piece of faces through shared edges; then every piece cut off from
the rest of its area goes to the neighbour it shares most boundary with
(islands of the outline to the nearest area).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import pandas as pd
import scipy.sparse as sp  # type: ignore[import-untyped]
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components  # type: ignore[import-untyped]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _split_share(ranks: list[int], weights: FloatArray) -> tuple[int, bool]:
    """Where to split an ordered list of children, and whether it is an urban/rural split."""
    total = weights.sum()
    for k in range(1, len(ranks)):
        if ranks[k] != ranks[k - 1]:
            share = weights[:k].sum() / total
            if 0.03 <= share <= 0.97:
                return k, True
    cum = np.cumsum(weights)[:-1] / total
    return int(np.argmin(np.abs(cum - 0.5))) + 1, False


def _grow(
    ids: IntArray,
    key: FloatArray,
    target: float,
    area: FloatArray,
    adjacency: sp.csr_matrix,
    counts: tuple[int, int],
) -> NDArray[np.bool_]:
    """Faces of ``ids`` grown from the lowest ``key`` through shared edges, lowest key first,
    until their area reaches ``target``; at least ``counts[0]`` faces and all but ``counts[1]``.
    """
    local = {int(face): i for i, face in enumerate(ids)}
    taken = np.zeros(len(ids), dtype=bool)
    queued = np.zeros(len(ids), dtype=bool)
    order = np.argsort(key, kind="stable")
    indptr, indices = adjacency.indptr, adjacency.indices
    heap: list[tuple[float, int]] = []
    got, n_taken, next_seed = 0.0, 0, 0
    most = len(ids) - counts[1]
    # Flood fill in key order: a Python loop over faces, since each step depends on the last.
    while n_taken < most:
        if not heap:
            while next_seed < len(ids) and queued[order[next_seed]]:
                next_seed += 1
            if next_seed >= len(ids):
                break
            seed = int(order[next_seed])
            queued[seed] = True
            heapq.heappush(heap, (float(key[seed]), seed))
        _, i = heapq.heappop(heap)
        a = float(area[ids[i]])
        if n_taken >= counts[0] and got + a / 2.0 > target:
            break
        taken[i] = True
        n_taken += 1
        got += a
        face = int(ids[i])
        for neighbour in indices[indptr[face] : indptr[face + 1]]:
            j = local.get(int(neighbour))
            if j is not None and not queued[j]:
                queued[j] = True
                heapq.heappush(heap, (float(key[j]), j))
    return taken


def _cut_off(
    ids: IntArray, left: NDArray[np.bool_], adjacency: sp.csr_matrix, area: FloatArray
) -> float:
    """Area of the pieces cut off from the largest piece on either side of a split."""
    sub = adjacency[ids][:, ids].tocoo()
    same = left[sub.row] == left[sub.col]
    graph = sp.coo_matrix(
        (np.ones(int(same.sum())), (sub.row[same], sub.col[same])), shape=(len(ids), len(ids))
    )
    n, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp, weights=area[ids], minlength=n)
    lost = 0.0
    for side in (left, ~left):
        if side.any():
            pieces = sizes[np.unique(comp[side])]
            lost += float(pieces.sum() - pieces.max())
    return lost


def _bisect(
    ids: IntArray,
    keys: list[str],
    ranks: list[int],
    weights: FloatArray,
    xy: FloatArray,
    centre: tuple[float, float],
    area: FloatArray,
    core: NDArray[np.bool_],
    adjacency: sp.csr_matrix,
    sizes: list[int],
    out: dict[str, IntArray],
) -> None:
    """Recursive bisection of faces ``ids`` among ``keys`` (see :mod:`gridgis.demo.areas`).

    ``weights`` has two columns: each child's demand for core faces and for
    the others. The first group of children gets its share of the region's
    area, grown as one connected piece from the region's end along the cut
    direction; in a split between urban and rural children, the urban ones
    take the core faces first.
    """
    r_all = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    theta_all = np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0])
    stack = [(ids, keys, ranks, weights, sizes)]
    # A work list instead of recursion: depth stays small, but this keeps tracebacks short.
    while stack:
        ids, keys, ranks, weights, sizes = stack.pop()
        if len(keys) == 1:
            out[keys[0]] = ids
            continue
        k, urban_split = _split_share(ranks, weights.sum(axis=1))
        total_share = weights[:k].sum() / weights.sum()
        r, a = r_all[ids], area[ids]
        theta = theta_all[ids]
        mean_dir = math.atan2(float(np.sum(a * np.sin(theta))), float(np.sum(a * np.cos(theta))))
        rel = (theta - mean_dir + math.pi) % (2 * math.pi) - math.pi
        is_core = core[ids]
        if urban_split:
            # The urban group gathers around the region's face nearest the centre, core first.
            pole = xy[ids[int(np.argmin(r))]]
            key = np.hypot(xy[ids, 0] - pole[0], xy[ids, 1] - pole[1])
            if weights[:k, 0].sum() > 0:
                key = key - 1e9 * is_core
        target = total_share * float(a.sum())
        counts = (sum(sizes[:k]), sum(sizes[k:]))
        if urban_split:
            left = _grow(ids, key, target, area, adjacency, counts)
            if _cut_off(ids, left, adjacency, area) > 0.0:
                # The urban group cut the rest in two: grow the rest from the far end instead.
                rest = float(a.sum()) - target
                other = ~_grow(ids, -key, rest, area, adjacency, counts[::-1])
                if _cut_off(ids, other, adjacency, area) < _cut_off(ids, left, adjacency, area):
                    left = other
        else:
            # Across the longest axis (area-weighted principal axis), or into sectors when the
            # region wraps around the centre; grown from either end, whichever cuts nothing off.
            pts = xy[ids] - np.average(xy[ids], axis=0, weights=a)
            axes = np.linalg.eigh((pts * a[:, None]).T @ pts)[1]
            t_lo, t_hi = np.quantile(rel, [0.02, 0.98])
            keys_to_try = [pts @ axes[:, -1], pts @ axes[:, 0]]
            if t_hi - t_lo > math.radians(200.0):
                keys_to_try.insert(0, rel)
            best: tuple[float, int, NDArray[np.bool_]] | None = None
            for rank, key in enumerate(keys_to_try):
                for grown_left in (True, False):
                    if grown_left:
                        mask = _grow(ids, key, target, area, adjacency, counts)
                    else:
                        rest = float(a.sum()) - target
                        mask = ~_grow(ids, -key, rest, area, adjacency, counts[::-1])
                    score = _cut_off(ids, mask, adjacency, area)
                    if best is None or (score, rank) < (best[0], best[1]):
                        best = (score, rank, mask)
                if best is not None and best[0] == 0.0:
                    break
            assert best is not None
            left = best[2]
        stack.append((ids[~left], keys[k:], ranks[k:], weights[k:], sizes[k:]))
        stack.append((ids[left], keys[:k], ranks[:k], weights[:k], sizes[:k]))


def _islands(
    labels: NDArray[np.object_],
    geoms: NDArray[np.object_],
    orphans: IntArray,
    comp: IntArray,
    allowed: dict[str, set[str]] | None,
) -> NDArray[np.object_]:
    """Cut-off pieces touching nothing along an edge (islands): to the nearest other label."""
    labels = labels.copy()
    # A loop over the few islands of a district outline.
    for c in orphans:
        members = np.flatnonzero(comp == c)
        own = labels[members[0]]
        others = np.flatnonzero(comp != c)
        if allowed is not None:
            others = others[np.isin(labels[others], list(allowed[own]))]
        if others.size == 0:
            continue
        piece = shapely.union_all(geoms[members])
        distance = shapely.distance(geoms[others], piece)
        labels[members] = labels[others[int(np.argmin(distance))]]
    return labels


def _repair(
    labels: NDArray[np.object_],
    adjacency: sp.csr_matrix,
    area: FloatArray,
    geoms: NDArray[np.object_],
    allowed: dict[str, set[str]] | None = None,
) -> NDArray[np.object_]:
    """Give every cut-off piece of a region to the neighbour it shares most boundary with."""
    labels = labels.copy()
    rows, cols = adjacency.nonzero()
    lengths = np.asarray(adjacency[rows, cols]).ravel()
    # A few rounds: moving one piece can cut off another (rarely more than two rounds).
    for _ in range(20):
        keep = labels[rows] == labels[cols]
        inner = sp.coo_matrix(
            (np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=adjacency.shape
        ).tocsr()
        n_comp, comp = connected_components(inner, directed=False)
        comp_area = np.bincount(comp, weights=area, minlength=n_comp)
        frame = pd.DataFrame({"label": labels, "area": comp_area[comp]})
        main = frame.groupby("label")["area"].transform("max").to_numpy()
        orphans = np.unique(comp[frame["area"].to_numpy() < main])
        if orphans.size == 0:
            return labels
        # Score each (piece, neighbouring label) pair by the boundary they share.
        across = ~keep & np.isin(comp[rows], orphans)
        pairs = pd.DataFrame(
            {
                "comp": comp[rows[across]],
                "own": labels[rows[across]],
                "other": labels[cols[across]],
                "length": lengths[across],
            }
        )
        if allowed is not None and not pairs.empty:
            ok = [o in allowed[w] for w, o in zip(pairs["own"], pairs["other"], strict=True)]
            pairs = pairs[np.asarray(ok, dtype=bool)]
        if pairs.empty:
            return _islands(labels, geoms, orphans, comp, allowed)
        best = (
            pairs.groupby(["comp", "other"], sort=True)["length"]
            .sum()
            .reset_index()
            .sort_values(["comp", "length"], ascending=[True, False], kind="stable")
            .drop_duplicates("comp")
        )
        target = dict(zip(best["comp"], best["other"], strict=True))
        moving = np.isin(comp, list(target))
        labels[moving] = [target[c] for c in comp[moving]]
    return labels
