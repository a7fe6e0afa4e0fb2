"""Dynamic adjustment (动态调整): fix only the cells whose households break the bounds.

When households change (new buildings, demolitions, people moving), a
community's cells are not redrawn: :func:`adjust_cells` keeps every cell that
is still within the bounds, with its code and its exact geometry, and redraws
only where it must.

The rules, as built
-------------------
1. Each unit belongs to the cell that contains its representative point (a
   point unit: the point; a polygon: :func:`shapely.point_on_surface`); a
   point on a shared boundary goes to the cell with the smallest code. New
   buildings land in whatever cell contains them (cells tile the community);
   a unit outside every cell is an error.
2. A cell above ``max_households`` with two or more units is *split*: its
   units are drawn into new cells inside its own outline, with the same
   engine as :func:`gridgis.partition.draw_cells` (roads included).
3. A cell below ``min_households`` is *merged* with its best neighbour (cells
   sharing a boundary of positive length), preferring, in order: a
   neighbour already being redrawn (no extra change), a merge that lands
   within the bounds, one above the maximum (then split again), one still
   below the minimum (then merged again); ties go to the longest shared
   boundary, then the smaller code. Merged groups are redrawn inside their
   joint outline (a union of ``min``–``max`` cells, usually one).
   A redrawn region whose units still cannot make cells within the bounds (a
   few large units, a building cut off at the edge of its outline) takes in
   a neighbour and is drawn again, at most :data:`GROWTH_STEPS` times: the
   neighbour sharing the longest boundary with the new cells still out of
   bounds (the cut-off building must reach across), then a neighbouring
   region waiting to be redrawn anyway (no extra change; it is then drawn
   with this one), then the longest shared boundary with the region, then
   the smaller code. Untouched cells and waiting regions may be taken in;
   cells already redrawn may not. The attempt that brings the most
   households back within the bounds is kept (a waiting region it leaves
   out waits again for its turn); if none brings any, the cells are left as
   they were (flagged, rule 4): a redraw that fixes nothing is only churn.
   When cells are still outside the bounds after every region had its turn, the whole
   community is drawn again once, and that drawing is kept if it leaves fewer
   households outside the bounds (a last resort: more cells change, but the codes of
   cells that continue old ones are kept by :func:`gridgis.partition.reconcile.reconcile_codes`
   when the layout is published).
4. A cell that cannot be fixed stays as it is, flagged: one unit above the
   maximum (``"oversized_unit"``), a community below the minimum
   (``"below_min"``), or a cell below the minimum with no neighbour to merge
   with (``"below_min"``, ``"infeasible_component"``).
5. New cells get new codes continuing the community's sequence: one more
   than the largest number among the current codes and ``retired_codes``, in
   the west→east, north→south order of :func:`gridgis.partition.assign_codes`.
   A retired code is never issued again, and the codes of redrawn cells are
   retired.

``churn`` is the share of households whose cell code changed: the
households of the redrawn cells.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> squares = [box(x, 0, x + 100, 100) for x in range(0, 800, 100)]
>>> blocks = gpd.GeoDataFrame({"households": [100] * 8}, geometry=squares, crs="EPSG:4547")
>>> drawn = draw_cells(blocks, community_code="211403001001")
>>> drawn.cells["households"].tolist()
[400, 400]
>>> grown = blocks.assign(households=[100] * 4 + [160] * 4)  # the east half grows
>>> result = adjust_cells(drawn.cells, grown, community_code="211403001001")
>>> result.unchanged, result.retired, result.added
(['211403001001001'], ['211403001001002'], ['211403001001003', '211403001001004'])
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis.codes import is_code, parent_code
from gridgis.partition._arrays import GeomArray, IntArray
from gridgis.partition.arguments import (
    _rows,
    _same_crs,
    check_bounds,
    check_units,
    choose_metric,
    densify,
    road_array,
    to_metric,
)
from gridgis.partition.codes import assign_codes
from gridgis.partition.community import Drawn, draw_metric
from gridgis.partition.draw import draw_cells
from gridgis.partition.errors import PartitionError
from gridgis.partition.graph import adjacency_pairs
from gridgis.partition.metrics import polsby_popper
from gridgis.partition.overlay import GRID, polygonal, tolerance
from gridgis.partition.result import CELL_COLUMNS, _summary
from gridgis.partition.seams import fit_cells, seam_tolerance

__all__ = ["AdjustResult", "adjust_cells"]

GROWTH_STEPS = 3
"""Neighbours (untouched cells, or regions waiting to be redrawn) a redrawn region may take in
when its own units cannot fit the bounds."""

_ = draw_cells  # referenced by the doctest


@dataclass
class AdjustResult:
    """A community's cells after dynamic adjustment.

    Attributes
    ----------
    cells:
        The new layout, same columns as :attr:`DrawResult.cells`, sorted by
        code; unchanged cells keep their input geometry exactly.
    assignment:
        The cell code of each unit, indexed like the units.
    unchanged:
        Codes kept as they were (code and geometry).
    added:
        Codes of the new cells.
    retired:
        Codes of the cells that were split or merged.
    churn:
        Share of households (0–1) whose cell code changed.
    bounds:
        ``min_households`` and ``max_households`` per cell code.
    seconds:
        Wall time.
    """

    cells: gpd.GeoDataFrame
    assignment: pd.Series
    unchanged: list[str]
    added: list[str]
    retired: list[str]
    churn: float
    bounds: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """The figures of :meth:`DrawResult.summary`, plus ``n_unchanged``,
        ``n_added``, ``n_retired``, ``share_unchanged`` (of the old cells) and ``churn``."""
        out = _summary(self.cells, self.bounds, self.seconds)
        old = len(self.unchanged) + len(self.retired)
        out.update(
            {
                "n_unchanged": float(len(self.unchanged)),
                "n_added": float(len(self.added)),
                "n_retired": float(len(self.retired)),
                "share_unchanged": len(self.unchanged) / old if old else float("nan"),
                "churn": float(self.churn),
            }
        )
        return out


# --- codes --------------------------------------------------------------------------------------


def _split_code(code: str) -> tuple[str, str]:
    """``(prefix, digits)``: the trailing digits of a code and what precedes them."""
    stem = code.rstrip("0123456789")
    return stem, code[len(stem) :]


def _infer_prefix(codes: list[str]) -> str:
    """The prefix shared by all codes (12-digit community code, ``"group-"`` or ``""``)."""
    if all(is_code(c, "cell") for c in codes):
        heads = {parent_code(c, "community") for c in codes}
        if len(heads) == 1:
            return heads.pop()
    if all(c.isdigit() for c in codes):
        return ""
    stems = {_split_code(c)[0] for c in codes}
    if len(stems) == 1 and all(_split_code(c)[1] for c in codes):
        return stems.pop()
    raise PartitionError(
        f"cannot tell the community of codes {_rows(sorted(codes))}: they share no prefix; "
        "pass `community_code`",
        zh=f"无法判断编码 {_rows(sorted(codes), zh=True)} 属于哪个社区：它们没有共同的前缀；请给出"
        " `community_code`",
    )


def _next_number(prefix: str, codes: Iterable[str]) -> int:
    numbers = [
        int(code[len(prefix) :])
        for code in codes
        if code.startswith(prefix) and code[len(prefix) :].isdigit()
    ]
    return max(numbers, default=0) + 1


# --- checks -------------------------------------------------------------------------------------


def _check_cells(cells: object, crs: pyproj.CRS) -> tuple[gpd.GeoDataFrame, list[str]]:
    if not isinstance(cells, gpd.GeoDataFrame):
        raise PartitionError(
            f"`cells` must be a GeoDataFrame, not a {type(cells).__name__}",
            zh=f"`cells` 应为 GeoDataFrame，而不是 {type(cells).__name__}",
        )
    if "code" not in cells.columns:
        raise PartitionError(
            "`cells` must have a `code` column with each cell's code",
            zh="`cells` 需要有 `code` 列，写明每个网格的编码",
        )
    if cells.crs is None or not _same_crs(cells.crs, crs):
        raise PartitionError(
            f"`cells` is in {cells.crs.to_string() if cells.crs else 'no CRS'} but the units "
            f"are in {crs.to_string()}; give both in the same CRS",
            zh=f"`cells` 的坐标系是 {cells.crs.to_string() if cells.crs else '（无）'}，而楼栋的坐"
            f"标系是 {crs.to_string()}；请使用同一坐标系",
        )
    if len(cells) == 0:
        raise PartitionError(
            "`cells` is empty: there is no layout to adjust (draw one first)",
            zh="`cells` 为空：没有可调整的网格（请先划分网格）",
        )
    raw = cells["code"]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise PartitionError(
            f"cells {_rows(list(cells.index[missing]))} have no code",
            zh=f"网格 {_rows(list(cells.index[missing]), zh=True)} 没有编码",
        )
    codes = [str(c) for c in raw.to_numpy()]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise PartitionError(
            f"`cells` repeats the codes {_rows(repeated)}",
            zh=f"`cells` 中编码重复：{_rows(repeated, zh=True)}",
        )
    geoms = np.asarray(cells.geometry.array, dtype=object)
    bad = ~np.isin(shapely.get_type_id(geoms), (3, 6)) | (shapely.area(geoms) <= 0)
    if bad.any():
        raise PartitionError(
            f"cells {_rows([codes[k] for k in np.flatnonzero(bad)])} are not polygons with area",
            zh=f"网格 {_rows([codes[k] for k in np.flatnonzero(bad)], zh=True)} 不是有面积的多边形",
        )
    return cells, codes


# --- the adjustment -----------------------------------------------------------------------------


class _Regions:
    """Union–find over the old cells: which are redrawn together."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.dirty = [False] * n

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
        self.dirty[ra] = True
        return ra


def _plan_regions(
    households: np.ndarray,
    n_units: IntArray,
    codes: list[str],
    pairs: tuple[IntArray, IntArray, np.ndarray],
    lo: int,
    hi: int,
) -> _Regions:
    """Decide which old cells are split or merged (see the module's rules 2–4)."""
    n = len(codes)
    regions = _Regions(n)
    for c in range(n):
        if households[c] > hi and n_units[c] >= 2:
            regions.dirty[c] = True
    locked = {c for c in range(n) if households[c] > hi and n_units[c] < 2}
    shared: dict[tuple[int, int], float] = {}
    for a, b, length in zip(*(p.tolist() for p in pairs), strict=True):
        shared[(a, b)] = shared.get((a, b), 0.0) + length
        shared[(b, a)] = shared.get((b, a), 0.0) + length
    neighbours: dict[int, list[int]] = {c: [] for c in range(n)}
    for a, b in shared:
        neighbours[a].append(b)
    order = sorted(range(n), key=lambda c: (households[c], codes[c]))
    # Few cells per community (tens): one merge per round, regions recounted
    # after each, until no region below the minimum has a neighbour left.
    while True:
        members: dict[int, list[int]] = {}
        for c in range(n):
            members.setdefault(regions.find(c), []).append(c)
        totals = {r: float(sum(households[m] for m in ms)) for r, ms in members.items()}
        merged = False
        for c in order:
            r = regions.find(c)
            if totals[r] >= lo:
                continue
            border: dict[int, float] = {}
            for m in members[r]:
                for d in neighbours[m]:
                    q = regions.find(d)
                    if q != r and d not in locked:
                        border[q] = border.get(q, 0.0) + shared[(m, d)]
            if not border:
                continue
            ranked = []
            for q, length in border.items():
                joint = totals[r] + totals[q]
                fit = 0 if lo <= joint <= hi else (1 if joint > hi else 2)
                first_code = min(codes[m] for m in members[q])
                ranked.append(((not regions.dirty[q], fit, -length, first_code), q))
            regions.union(r, min(ranked)[1])
            merged = True
            break
        if not merged:
            return regions


def adjust_cells(
    cells: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    households: str = "households",
    community: BaseGeometry | None = None,
    community_code: str | None = None,
    roads: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    min_households: int = 300,
    max_households: int = 500,
    retired_codes: Iterable[str] = (),
    seed: int = 0,
) -> AdjustResult:
    """Split or merge only the cells of one community whose households break the bounds.

    Parameters
    ----------
    cells:
        The current layout of one community: ``code`` and geometry (other
        columns are ignored), in the units' CRS. Not changed.
    units:
        The community's buildings (or small areas) now, with updated
        households; may include new buildings and lack demolished ones. Not
        changed.
    households:
        Column of ``units`` with households.
    community:
        The community's outline, in the units' CRS; ``None``: the union of the cells.
    community_code:
        The community's 12-digit code (the prefix of its cell codes).
        ``None``: read from the codes.
    roads:
        Lines that redrawn cells follow (as in :func:`draw_cells`).
    min_households, max_households:
        Household bounds of a cell.
    retired_codes:
        Codes the community used and retired; never issued again.
    seed:
        Random seed of the redrawing.

    Returns
    -------
    AdjustResult

    Raises
    ------
    PartitionError
        For bad arguments (as :func:`draw_cells`), a layout with missing or
        repeated codes, codes of no common community, units outside every cell.
    """
    started = time.perf_counter()
    lo, hi = check_bounds(min_households, max_households)
    units, values, _points = check_units(units, households)
    crs = units.crs
    cells, codes = _check_cells(cells, crs)
    if community_code is not None:
        if not is_code(community_code, "community"):
            raise PartitionError(
                f"`community_code` was {community_code!r} but is expected to be a 12-digit "
                "community code (or None)",
                zh=f"`community_code` 为 {community_code!r}，应为 12 位社区编码（或 None）",
            )
        prefix = community_code
    else:
        prefix = _infer_prefix(codes)
    retired_before = [str(c) for c in retired_codes]
    reused = sorted(set(codes) & set(retired_before))
    if reused:
        raise PartitionError(
            f"codes {_rows(reused)} are both in `cells` and `retired_codes`",
            zh=f"编码 {_rows(reused, zh=True)} 同时出现在 `cells` 和 `retired_codes` 中",
        )
    next_number = _next_number(prefix, codes + retired_before)
    group: str | None = community_code
    if group is None and "group" in cells.columns and cells["group"].nunique(dropna=True) == 1:
        group = str(cells["group"].dropna().iloc[0])
    if group is None and prefix:
        group = prefix[:-1] if prefix.endswith("-") else prefix

    metric = choose_metric(units.geometry if len(units) else cells.geometry)
    cell_series = cells.geometry
    if not _same_crs(crs, metric):
        cell_series = gpd.GeoSeries(densify(cell_series.to_numpy(), crs), crs=crs).to_crs(metric)
    cell_geoms = np.asarray(cell_series.array, dtype=object)
    cell_geoms = polygonal(shapely.make_valid(shapely.set_precision(cell_geoms, GRID)))
    unit_geoms = np.asarray(
        (units.geometry if _same_crs(crs, metric) else units.geometry.to_crs(metric)).array,
        dtype=object,
    )
    outline = (
        to_metric(community, crs, metric)
        if community is not None
        else shapely.union_all(cell_geoms, grid_size=GRID)
    )
    tol = tolerance(outline)
    road_geoms = road_array(roads, crs, metric)

    # 1. Units to cells by representative point; ties to the smallest code.
    anchor = np.where(
        shapely.get_type_id(unit_geoms) == 0, unit_geoms, shapely.point_on_surface(unit_geoms)
    )
    rank = np.argsort(np.asarray(codes, dtype=object), kind="stable")
    tree = shapely.STRtree(cell_geoms)
    u, c = tree.query(anchor, predicate="intersects")
    by_code = np.lexsort((np.argsort(rank)[c], u))
    owner = np.full(len(units), -1, dtype=np.int64)
    owner[u[by_code][::-1]] = c[by_code][::-1]
    lost = np.flatnonzero(owner < 0)
    if lost.size:
        # A unit whose point lies outside its community (an imported building straddling the
        # edge, its point on the far side): the cell it overlaps most.
        q, cand = tree.query(unit_geoms[lost], predicate="intersects")
        if q.size:
            shared = shapely.area(shapely.intersection(unit_geoms[lost][q], cell_geoms[cand]))
            order = np.lexsort((-shared, q))
            _, first = np.unique(q[order], return_index=True)
            owner[lost[q[order][first]]] = cand[order][first]
        lost = np.flatnonzero(owner < 0)
    if lost.size:
        q, nearest = tree.query_nearest(anchor[lost], max_distance=tol)
        owner[lost[q]] = nearest
        lost = np.flatnonzero(owner < 0)
        if lost.size:
            raise PartitionError(
                f"{lost.size} unit(s) lie outside every cell: rows "
                f"{_rows(list(units.index[lost]))}; the cells must cover the community",
                zh=f"有 {lost.size} 个楼栋不在任何网格内（第 "
                f"{_rows(list(units.index[lost]), zh=True)} 行）；网格必须覆盖整个社区",
            )
    n_cells = len(codes)
    cell_hh = np.bincount(owner, weights=values, minlength=n_cells)
    cell_units = np.bincount(owner, minlength=n_cells).astype(np.int64)

    # 2–4. Which cells to redraw.
    pairs = adjacency_pairs(cell_geoms, tol=tol)
    regions = _plan_regions(cell_hh, cell_units, codes, pairs, lo, hi)
    root = np.array([regions.find(k) for k in range(n_cells)], dtype=np.int64)
    dirty_root = np.array([regions.dirty[r] for r in root], dtype=bool)
    community_total = float(values.sum())

    new_parts: list[tuple[Drawn, IntArray]] = []
    first_code = {r: min(codes[k] for k in np.flatnonzero(root == r)) for r in set(root.tolist())}
    redrawn = sorted(set(root[dirty_root].tolist()), key=first_code.__getitem__)
    neighbours: dict[int, dict[int, float]] = {k: {} for k in range(n_cells)}
    for a, b, length in zip(*(p.tolist() for p in pairs), strict=True):
        neighbours[a][b] = neighbours[a].get(b, 0.0) + length
        neighbours[b][a] = neighbours[b].get(a, 0.0) + length
    taken = set(np.flatnonzero(dirty_root).tolist())

    def outside(households: float) -> float:
        return max(0.0, lo - households) + 2.0 * max(0.0, households - hi)

    # Regions are redrawn in turn; one that cannot fit the bounds alone may take in a
    # neighbouring region still waiting for its turn (rule 3), which is then drawn with it.
    queue = list(redrawn)
    waiting = set(queue)
    region_cells = {q: np.flatnonzero(root == q).tolist() for q in queue}
    while queue:
        r = queue.pop(0)
        waiting.discard(r)
        members = list(region_cells[r])
        tried = list(members)
        joined: list[int] = []
        best: tuple[float, Drawn, IntArray, list[int]] | None = None
        # A region whose units cannot make cells within bounds (a few large
        # units, or one cut off at the edge of its outline) takes in its best
        # neighbour and is drawn again.
        for growth in range(GROWTH_STEPS + 1):
            drawn, rows = _redraw(
                members, cell_geoms, owner, unit_geoms, values, road_geoms, codes,
                lo=lo, hi=hi, seed=seed, labels=list(units.index),
            )  # fmt: skip
            fixable = [f != ["oversized_unit"] for f in drawn.flags]
            missed = sum(outside(h) for h, ok in zip(drawn.households, fixable, strict=True) if ok)
            gain = sum(outside(cell_hh[m]) for m in members) - missed
            if best is None or gain > best[0]:
                best = (gain, drawn, rows, list(members))
            if growth == GROWTH_STEPS or missed == 0:
                break
            # Candidates: a waiting region (keyed by its root) or an untouched cell; first
            # those next to the new cells still out of bounds (rule 3).
            border: dict[int, float] = {}
            key_of: dict[int, int] = {}
            for m in members:
                for d, length in neighbours[m].items():
                    q = int(root[d])
                    if q in waiting:
                        border[q] = border.get(q, 0.0) + length
                        key_of[d] = q
                    elif d not in taken and not (cell_hh[d] > hi and cell_units[d] < 2):
                        border[d] = border.get(d, 0.0) + length
                        key_of[d] = d
            if not border:
                break
            missing = [
                g for g, h, ok in zip(drawn.geoms, drawn.households, fixable, strict=True)
                if ok and outside(h) > 0
            ]  # fmt: skip
            near = _shared_lengths(missing, cell_geoms, list(key_of), tol=tol)
            toward: dict[int, float] = {}
            for d, length in near.items():
                toward[key_of[d]] = toward.get(key_of[d], 0.0) + length
            extra = min(
                border,
                key=lambda d: (-toward.get(d, 0.0), d not in waiting, -border[d], codes[d]),
            )
            if extra in waiting:
                waiting.discard(extra)
                queue.remove(extra)
                joined.append(extra)
                more = region_cells[extra]
            else:
                taken.add(extra)
                more = [extra]
            members.extend(more)
            tried.extend(more)
        assert best is not None
        gain, drawn, rows, accepted = best
        if gain <= 0:  # redrawing does not help (the units cannot do better): keep the cells
            accepted = []
        back = [q for q in joined if region_cells[q][0] not in accepted]
        for m in tried:
            if any(m in region_cells[q] for q in back):
                continue  # redrawn later, with its own region
            dirty_root[m] = m in accepted
            if m not in accepted:
                taken.discard(m)
        if back:  # waiting regions taken in by an attempt not kept wait again for their turn
            waiting.update(back)
            queue = sorted(queue + back, key=first_code.__getitem__)
        if accepted:
            new_parts.append((drawn, rows))

    # 4b. Last resort: cells still out of bounds that a redraw of the whole community fixes.
    if community_total >= lo and n_cells > 1:
        missed_now = sum(
            outside(cell_hh[k])
            for k in np.flatnonzero(~dirty_root)
            if not (cell_hh[k] > hi and cell_units[k] < 2)
        ) + sum(
            outside(h)
            for drawn, _ in new_parts
            for h, f in zip(drawn.households, drawn.flags, strict=True)
            if f != ["oversized_unit"]
        )
        if missed_now > 0:
            whole, rows = _redraw(
                list(range(n_cells)), cell_geoms, owner, unit_geoms, values, road_geoms, codes,
                lo=lo, hi=hi, seed=seed, labels=list(units.index),
            )  # fmt: skip
            missed_whole = sum(
                outside(h)
                for h, f in zip(whole.households, whole.flags, strict=True)
                if f != ["oversized_unit"]
            )
            if missed_whole < missed_now:
                new_parts = [(whole, rows)]
                dirty_root[:] = True

    # 5. Codes for the new cells, continuing the sequence.
    new_geoms: GeomArray = np.asarray(
        [g for drawn, _ in new_parts for g in drawn.geoms], dtype=object
    )
    new_codes = (
        assign_codes(gpd.GeoSeries(new_geoms, crs=metric), prefix=prefix, first_number=next_number)
        .to_numpy()
        .tolist()
        if new_geoms.size
        else []
    )
    unit_code = np.asarray(codes, dtype=object)[owner] if len(units) else np.zeros(0, dtype=object)
    old_code = unit_code.copy()
    frames = []
    offset = 0
    for drawn, rows in new_parts:
        these = new_codes[offset : offset + drawn.geoms.size]
        offset += drawn.geoms.size
        unit_code[rows] = np.asarray(these, dtype=object)[drawn.unit_cell]
        frames.append(
            pd.DataFrame(
                {
                    "code": these,
                    "households": np.round(drawn.households).astype(np.int64),
                    "units": drawn.units,
                    "polsby_popper": polsby_popper(drawn.geoms),
                    "flags": pd.Series([list(f) for f in drawn.flags], dtype=object),
                    "geometry": drawn.geoms,
                }
            )
        )
    added_frame = (
        pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CELL_COLUMNS)
    )
    if len(added_frame):
        projected = gpd.GeoSeries(added_frame["geometry"].to_numpy(), crs=metric)
        if not _same_crs(metric, crs):
            projected = projected.to_crs(crs)
        # The new cells tile exactly the ground of the cells they replace, as stored:
        # fitted to its outline, they meet the kept cells and the community's edge.
        retired_ground = shapely.union_all(np.asarray(cells.geometry.array)[dirty_root])
        added_frame["geometry"] = fit_cells(
            projected.to_numpy(),
            np.zeros(len(projected), dtype=np.int64),
            np.asarray([retired_ground], dtype=object),
            tolerance=seam_tolerance(crs),
        )

    keep = np.flatnonzero(~dirty_root)
    kept = pd.DataFrame(
        {
            "code": [codes[k] for k in keep],
            "households": np.round(cell_hh[keep]).astype(np.int64),
            "units": cell_units[keep],
            "polsby_popper": polsby_popper(cell_geoms[keep]),
            "flags": pd.Series(
                [_standing_flags(cell_hh[k], cell_units[k], community_total, lo, hi) for k in keep],
                dtype=object,
            ),
            "geometry": np.asarray(cells.geometry.array, dtype=object)[keep],
        }
    )
    table = pd.concat([kept, added_frame], ignore_index=True)
    table["group"] = pd.Series([group] * len(table), dtype=object)
    frame = gpd.GeoDataFrame(table, geometry="geometry", crs=crs)[CELL_COLUMNS]
    frame = frame.sort_values("code", kind="stable").reset_index(drop=True)

    changed = old_code != unit_code
    total = float(values.sum())
    churn = float(values[changed].sum() / total) if total > 0 else 0.0
    limits = pd.DataFrame(
        {"min_households": lo, "max_households": hi},
        index=pd.Index(frame["code"].to_numpy(), name="code"),
    )
    return AdjustResult(
        cells=frame,
        assignment=pd.Series(unit_code, index=units.index, name="code", dtype=object),
        unchanged=sorted(codes[k] for k in keep),
        added=sorted(new_codes),
        retired=sorted(codes[k] for k in np.flatnonzero(dirty_root)),
        churn=churn,
        bounds=limits,
        seconds=time.perf_counter() - started,
    )


def _redraw(
    members: list[int],
    cell_geoms: GeomArray,
    owner: IntArray,
    unit_geoms: GeomArray,
    values: np.ndarray,
    road_geoms: GeomArray | None,
    codes: list[str],
    *,
    lo: int,
    hi: int,
    seed: int,
    labels: list[object],
) -> tuple[Drawn, IntArray]:
    """Draw the units of some old cells inside their joint outline."""
    region = shapely.union_all(cell_geoms[members], grid_size=GRID)
    rows = np.flatnonzero(np.isin(owner, members))
    key = ",".join(sorted(codes[k] for k in members))
    drawn = draw_metric(
        unit_geoms[rows],
        values[rows],
        region,
        road_geoms,
        min_households=lo,
        max_households=hi,
        rng=np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode())]),
        labels=[labels[k] for k in rows],
    )
    return drawn, rows


def _shared_lengths(
    cells: list[BaseGeometry], cell_geoms: GeomArray, candidates: list[int], *, tol: float
) -> dict[int, float]:
    """Length of the boundary of ``cells`` shared with each candidate old cell."""
    if not cells or not candidates:
        return {}
    geoms = np.asarray([*cells, *cell_geoms[candidates]], dtype=object)
    a, b, length = adjacency_pairs(geoms, tol=tol)
    out: dict[int, float] = {}
    for i, j, shared in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
        if i < len(cells) <= j:
            d = candidates[j - len(cells)]
            out[d] = out.get(d, 0.0) + shared
    return out


def _standing_flags(
    households: float, n_units: int, community_total: float, lo: int, hi: int
) -> list[str]:
    """Flags of a cell kept as it is (rule 4)."""
    if lo <= households <= hi:
        return []
    if households > hi:
        return ["oversized_unit"] if n_units < 2 else ["above_max", "infeasible_component"]
    if community_total < lo:
        return ["below_min"]
    return ["below_min", "infeasible_component"]
