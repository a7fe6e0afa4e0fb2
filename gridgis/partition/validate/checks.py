"""The checks of :func:`~gridgis.partition.validate.validate_layout`, one concern each.

Geometry (invalid, non-contiguous, sliver cells), codes, overlaps over the
whole layout, community outlines (outside, crossing, gaps), units (split,
unassigned, households counted) and households per cell; each adds its
findings to a ``_Findings``. The rules are told in :mod:`gridgis.partition.validate`.
"""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.codes import is_code, parent_code
from gridgis.errors import InputError, listing, listing_zh
from gridgis.partition._arrays import BoolArray, FloatArray, GeomArray
from gridgis.partition.measure import Measure, pieces_area, polygon_parts
from gridgis.partition.validate.inputs import _SHOWN_ROWS, _column, _flags, _rows, _text
from gridgis.partition.validate.report import _Findings, _m2

__all__ = ["FLAG_DOWNGRADES", "THIN_AREA_FACTOR", "THIN_POLSBY_POPPER"]

THIN_POLSBY_POPPER = 0.05
"""A part with Polsby–Popper compactness (4πA/P²) below this is thin (a 1:60 strip is 0.05)."""

THIN_AREA_FACTOR = 20.0
"""A thin part is a sliver only when its area is below this many times ``sliver_m2``."""

FLAG_DOWNGRADES: dict[str, tuple[str, ...]] = {
    "households_above_max": ("oversized_unit", "coarse_units", "enclosed_units"),
    "households_below_min": ("below_min",),
}
"""The engine flags that turn each household finding into a warning.

``oversized_unit``: one unit alone exceeds the maximum, so the cell cannot be
split further; ``coarse_units``: the community's units cannot be grouped
within bounds at all (e.g. 72 + 6 × 144 households: 432 + 504 or 360 + 576),
which the engine proves before flagging; ``enclosed_units``: a few units
reachable only through one large unit hold too few households for a cell of
their own and too many to join it within bounds (a tower on a narrow neck
with houses behind it); ``below_min``: the engine could not
reach the minimum (an isolated compound, a small community).
"""

_GROUP_CODE = re.compile(r"^(?P<group>.+)-(?P<sequence>\d{3,})$")
_REASON_POINT = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)[^\]]*\]")
_POLYGON = 3
_COLLECTION = 7
_MULTIPOLYGON = 6


# --- measuring (see gridgis.partition.measure) ------------------------------------------------


def _slivers(
    area: FloatArray, perimeter: FloatArray, sliver_m2: float
) -> tuple[BoolArray, FloatArray]:
    """Which parts are slivers under the package's rule, and their Polsby–Popper compactness."""
    with np.errstate(divide="ignore", invalid="ignore"):
        compactness = np.where(perimeter > 0, 4.0 * math.pi * area / perimeter**2, 0.0)
    thin = (compactness < THIN_POLSBY_POPPER) & (area < THIN_AREA_FACTOR * sliver_m2)
    return (area < sliver_m2) | thin, compactness


def _sliver_words(area: float, compactness: float, sliver_m2: float) -> str:
    if area < sliver_m2:
        return f"smaller than sliver_m2 = {sliver_m2:g} m²"
    return f"thin: Polsby–Popper {compactness:.3f} < {THIN_POLSBY_POPPER:g}"


def _xy(points: GeomArray) -> tuple[FloatArray, FloatArray]:
    return shapely.get_x(points), shapely.get_y(points)


# --- the checks ---------------------------------------------------------------------------------


def _community_of(code: str | None) -> str | None:
    """The community named by a cell code: 12-digit prefix, or the group of ``<group>-NNN``."""
    if code is None:
        return None
    if is_code(code, "cell"):
        return parent_code(code, "community")
    match = _GROUP_CODE.match(code)
    return match.group("group") if match else None


class _Cells:
    """The cells as arrays, by position 0..n-1 in input order."""

    def __init__(self, cells: gpd.GeoDataFrame, code: str, community: str | None) -> None:
        self.n = len(cells)
        self.codes = [_text(v) for v in _column(cells, code, "code", "`cells`")]
        given = (
            [_text(v) for v in _column(cells, community, "community", "`cells`")]
            if community is not None
            else [None] * self.n
        )
        self.community: list[str | None] = [
            mine if mine is not None else _community_of(text)
            for mine, text in zip(given, self.codes, strict=True)
        ]
        self.geoms: GeomArray = np.asarray(cells.geometry.array, dtype=object)
        self.work: GeomArray = self.geoms.copy()
        self.usable: BoolArray = np.zeros(self.n, dtype=bool)
        self.x, self.y = np.full(self.n, np.nan), np.full(self.n, np.nan)
        # "Smallest code" order: missing codes last, then input order.
        key = np.array([c if c is not None else "\U0010ffff" for c in self.codes], dtype=str)
        self.rank = np.empty(self.n, dtype=np.int64)
        self.rank[np.argsort(key, kind="stable")] = np.arange(self.n)

    def label(self, position: int) -> str:
        return self.codes[position] or f"row {position + 1}"

    def at(self, position: int) -> tuple[float, float]:
        return float(self.x[position]), float(self.y[position])


def _check_geometry(cells: _Cells, measure: Measure, sliver_m2: float, found: _Findings) -> None:
    """Invalid, non-contiguous and sliver cells; sets the working geometries.

    Invalid polygons are repaired *for the other checks only*; the finding is
    reported and the repair is not returned.
    """
    geoms = cells.geoms
    kinds = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms) | (kinds < 0)
    polygonal = np.isin(kinds, (_POLYGON, _MULTIPOLYGON)) & ~empty
    for i in np.flatnonzero(~polygonal).tolist():
        what = "no geometry" if empty[i] else f"a {geoms[i].geom_type}, not a polygon"
        found.add("invalid_geometry", cells.codes[i], detail=what)
    broken = np.flatnonzero(polygonal & ~shapely.is_valid(geoms))
    if broken.size:
        reasons = shapely.is_valid_reason(geoms[broken])
        cells.work[broken] = shapely.make_valid(
            geoms[broken], method="structure", keep_collapsed=False
        )
        fx, fy = _xy(shapely.point_on_surface(shapely.envelope(geoms[broken])))
        for k, i in enumerate(broken.tolist()):
            reason = str(reasons[k])
            match = _REASON_POINT.search(reason)
            at = (float(match.group(1)), float(match.group(2))) if match else (fx[k], fy[k])
            words = _REASON_POINT.sub("", reason).strip()
            detail = f"invalid polygon: {words} (the other checks used a repaired copy)"
            found.add("invalid_geometry", cells.codes[i], at=at, detail=detail)
    cells.usable = polygonal & ~shapely.is_empty(cells.work)
    cells.work[~cells.usable] = None
    cells.x, cells.y = _xy(shapely.point_on_surface(cells.work))

    # Parts of each cell: slivers and contiguity.
    parts, owner = polygon_parts(cells.work)
    area, perimeter = measure.area_perimeter(parts)
    sliver, compactness = _slivers(area, perimeter, sliver_m2)
    px, py = _xy(shapely.point_on_surface(parts))
    for k in np.flatnonzero(sliver).tolist():
        i = int(owner[k])
        words = _sliver_words(float(area[k]), float(compactness[k]), sliver_m2)
        detail = f"a part of cell {cells.label(i)} of {_m2(area[k])}, {words}"
        found.add(
            "sliver",
            cells.codes[i],
            measure=area[k],
            unit="m2",
            at=(px[k], py[k]),
            detail=detail,
            severity="warning",
        )
    n_parts = np.bincount(owner, minlength=cells.n)
    order = np.lexsort((area, owner))  # the smallest part of each cell first
    smallest = order[np.unique(owner[order], return_index=True)[1]]
    for k in smallest[n_parts[owner[smallest]] > 1].tolist():
        i = int(owner[k])
        detail = f"{n_parts[i]} parts that share no edge; the smallest ({_m2(area[k])}) is here"
        found.add(
            "non_contiguous",
            cells.codes[i],
            measure=n_parts[i],
            unit="parts",
            at=(px[k], py[k]),
            detail=detail,
        )


def _check_codes(cells: _Cells, *, code: str, community_known: bool, found: _Findings) -> None:
    official = [is_code(c, "community") for c in cells.community]
    chinese_layout = any(official)
    seen: dict[str, list[int]] = {}
    # A loop over codes (text), not geometries: each rule reads the code's characters.
    for i, text in enumerate(cells.codes):
        own = cells.community[i]
        if text is None:
            detail = f"row {i + 1} has no code in column {code!r}"
            found.add("malformed_code", None, own, at=cells.at(i), detail=detail)
            continue
        seen.setdefault(text, []).append(i)
        problem: tuple[str, str] | None = None
        if own is not None and official[i]:
            if not is_code(text, "cell"):
                problem = (
                    "malformed_code",
                    (
                        f"a cell of community {own} needs a 15-digit code "
                        "(the 12-digit community code + a 3-digit sequence)"
                    ),
                )
            elif not text.startswith(own):
                problem = "code_outside_community", f"does not start with its community {own}"
        elif own is not None:
            match = _GROUP_CODE.match(text)
            if match and match.group("group") != own:
                group = match.group("group")
                problem = "code_outside_community", f"names group {group!r}, not {own!r}"
        elif chinese_layout:
            problem = (
                "malformed_code",
                ("not a 15-digit cell code (the 12-digit community code + a 3-digit sequence)"),
            )
        elif community_known:
            problem = (
                "code_outside_community",
                (
                    "the cell's community is unknown: its row names none and its code starts "
                    "with neither a 12-digit community code nor '<group>-'"
                ),
            )
        if problem is not None:
            found.add(problem[0], text, own, at=cells.at(i), detail=f"code {text!r} {problem[1]}")
    for text, positions in seen.items():
        if len(positions) > 1:
            detail = f"code used by {len(positions)} cells (rows {_rows(positions)})"
            found.add(
                "duplicate_code",
                text,
                measure=len(positions),
                unit="cells",
                at=cells.at(positions[0]),
                detail=detail,
            )


def _check_overlaps(
    cells: _Cells, measure: Measure, tolerance_m2: float, found: _Findings
) -> shapely.STRtree:
    """Overlaps between any two cells of the whole layout; returns the tree of the usable cells.

    Every pair of cells whose interiors meet is found by one tree query, across
    communities and streets alike; each overlap is measured in a metric CRS
    (:meth:`Measure.metric_area`) and their total kept for the report.
    """
    positions = np.flatnonzero(cells.usable)
    work = cells.work
    tree = shapely.STRtree(work[positions])
    left, right = tree.query(work[positions], predicate="intersects")
    keep = left < right
    left, right = positions[left[keep]], positions[right[keep]]
    # Interiors meet (not just a shared edge or corner).
    inside = shapely.relate_pattern(work[left], work[right], "T********")
    left, right = left[inside], right[inside]
    pieces = shapely.intersection(work[left], work[right])
    _, x, y = pieces_area(pieces, measure)
    area = measure.metric_area(pieces)
    found.overlap_m2 = float(area.sum())
    for k in np.flatnonzero(area > tolerance_m2).tolist():
        i, j = int(left[k]), int(right[k])
        if cells.rank[j] < cells.rank[i]:
            i, j = j, i
        detail = f"overlaps {cells.label(j)} by {_m2(area[k])}"
        found.add(
            "overlap",
            cells.codes[i],
            cells.codes[j],
            measure=area[k],
            unit="m2",
            at=(x[k], y[k]),
            detail=detail,
        )
    return tree


def _outlines(communities: gpd.GeoDataFrame) -> tuple[list[str], GeomArray]:
    """Codes and polygons of the community outlines; anything unusable raises InputError."""
    codes = [_text(v) for v in _column(communities, "code", "communities", "`communities`")]
    geoms = np.asarray(communities.geometry.array, dtype=object)
    kinds = shapely.get_type_id(geoms)
    ok_kind = np.isin(kinds, (_POLYGON, _MULTIPOLYGON)) & ~shapely.is_empty(geoms)
    valid = shapely.is_valid(geoms)
    problems: list[str] = []
    problems_zh: list[str] = []
    # A loop over the rows of a few community outlines, to list every bad one together.
    for k, text in enumerate(codes):
        where = f"row {k + 1}" + (f" ({text})" if text else "")
        where_zh = f"第 {k + 1} 行" + (f"（{text}）" if text else "")
        if text is None:
            problems.append(f"{where}: no code")
            problems_zh.append(f"{where_zh}：没有编码")
        if not ok_kind[k]:
            kind = "no geometry" if kinds[k] < 0 else f"a {geoms[k].geom_type}, not a polygon"
            problems.append(f"{where}: {kind}")
            kind = "没有图形" if kinds[k] < 0 else f"是 {geoms[k].geom_type}，不是多边形"
            problems_zh.append(f"{where_zh}：{kind}")
        elif not valid[k]:
            problems.append(f"{where}: {shapely.is_valid_reason(geoms[k])}")
            problems_zh.append(f"{where_zh}：图形无效（{shapely.is_valid_reason(geoms[k])}）")
    named = pd.Series([c for c in codes if c is not None], dtype=object)
    for text in sorted(set(named[named.duplicated()])):
        problems.append(f"code {text} appears more than once")
        problems_zh.append(f"编码 {text} 出现了不止一次")
    if problems:
        raise InputError(
            "`communities` must hold one valid polygon per community code; "
            + listing(problems, shown=_SHOWN_ROWS),
            zh="`communities` 中每个社区编码都应对应一个有效的多边形；"
            + listing_zh(problems_zh, shown=_SHOWN_ROWS),
        )
    return [str(c) for c in codes], geoms


def _check_communities(
    cells: _Cells,
    communities: gpd.GeoDataFrame,
    measure: Measure,
    *,
    sliver_m2: float,
    tolerance_m2: float,
    found: _Findings,
) -> None:
    """Cells outside their community or inside another one, and gaps in each community."""
    codes, geoms = _outlines(communities)
    index = {text: k for k, text in enumerate(codes)}
    # Outline of each cell's community: -1 not outlined, -2 community unknown.
    mine = np.array([index.get(c, -1) if c else -2 for c in cells.community], dtype=np.int64)
    work, usable = cells.work, cells.usable
    whole = measure.area(work)
    for i in np.flatnonzero(usable & (mine == -1)).tolist():
        own = cells.community[i]
        found.add(
            "outside_community",
            cells.codes[i],
            own,
            measure=whole[i],
            unit="m2",
            at=cells.at(i),
            detail=f"its community {own} is not in `communities`",
        )

    # Parts outside the own community; only cells it does not cover are cut. (The
    # tree queries prepare the outlines for the test without changing the input.)
    check = np.flatnonzero(usable & (mine >= 0))
    outline, cell_k = shapely.STRtree(work[check]).query(geoms, predicate="covers")
    covered = np.zeros(check.size, dtype=bool)
    covered[cell_k[outline == mine[check[cell_k]]]] = True
    check = check[~covered]
    area, x, y = pieces_area(shapely.difference(work[check], geoms[mine[check]]), measure)
    outside = np.bincount(mine[check], weights=area, minlength=len(geoms))
    for k in np.flatnonzero(area > tolerance_m2).tolist():
        i = int(check[k])
        own = cells.community[i]
        found.add(
            "outside_community",
            cells.codes[i],
            own,
            measure=area[k],
            unit="m2",
            at=(x[k], y[k]),
            detail=f"{_m2(area[k])} outside its community {own}",
        )

    # Parts inside another community's outline.
    positions = np.flatnonzero(usable & (mine != -2))
    cell_k, outline = shapely.STRtree(geoms).query(work[positions], predicate="intersects")
    cell_at = positions[cell_k]
    keep = outline != mine[cell_at]
    cell_at, outline = cell_at[keep], outline[keep]
    keep = shapely.relate_pattern(geoms[outline], work[cell_at], "T********")
    cell_at, outline = cell_at[keep], outline[keep]
    area, x, y = pieces_area(shapely.intersection(work[cell_at], geoms[outline]), measure)
    for k in np.flatnonzero(area > tolerance_m2).tolist():
        i, other = int(cell_at[k]), codes[outline[k]]
        detail = f"{_m2(area[k])} inside community {other}, not its own ({cells.community[i]})"
        found.add(
            "crosses_community",
            cells.codes[i],
            other,
            measure=area[k],
            unit="m2",
            at=(x[k], y[k]),
            detail=detail,
        )

    # Gaps: each community minus the union of its cells.
    members = np.flatnonzero(usable & (mine >= 0))
    members = members[np.argsort(mine[members], kind="stable")]
    groups, starts = np.unique(mine[members], return_index=True)
    ends = np.append(starts[1:], members.size)[: starts.size]
    unions = np.full(len(geoms), None, dtype=object)
    # One union per community: shapely has no grouped union, so loop over communities.
    for g, lo, hi in zip(groups.tolist(), starts.tolist(), ends.tolist(), strict=True):
        unions[g] = shapely.union_all(work[members[lo:hi]])
    bare = np.array([u is None for u in unions], dtype=bool)
    # area(outline - union) = area(outline) - area(union) + area(union - outline), and the
    # last is at most the cells' area outside: cut only outlines where that bound is not
    # below the tolerance (with a margin for rounding).
    bound = measure.area(geoms) - measure.area(unions) + outside
    cut = ~bare & (bound > 0.5 * tolerance_m2)
    holes = np.full(len(geoms), None, dtype=object)
    holes[bare] = geoms[bare]
    holes[cut] = shapely.difference(geoms[cut], unions[cut])
    parts, owner = polygon_parts(holes)
    area, perimeter = measure.area_perimeter(parts)
    sliver, compactness = _slivers(area, perimeter, sliver_m2)
    keep = np.flatnonzero(area > tolerance_m2)
    x, y = _xy(shapely.point_on_surface(parts[keep]))
    for n, k in enumerate(keep.tolist()):
        text = codes[owner[k]]
        if bare[owner[k]]:
            detail = f"community {text} has no cell at all"
        else:
            detail = f"{_m2(area[k])} of community {text} lie in no cell"
        if sliver[k]:
            words = _sliver_words(float(area[k]), float(compactness[k]), sliver_m2)
            found.add(
                "sliver",
                text,
                measure=area[k],
                unit="m2",
                at=(x[n], y[n]),
                detail=f"a gap: {detail}, {words}",
                severity="warning",
            )
        else:
            found.add("gap", text, measure=area[k], unit="m2", at=(x[n], y[n]), detail=detail)


def _check_units(
    cells: _Cells,
    tree: shapely.STRtree,
    units: gpd.GeoDataFrame,
    counts: FloatArray | None,
    measure: Measure,
    tolerance_m2: float,
    found: _Findings,
) -> FloatArray:
    """Split and unassigned units; returns the households counted in each cell."""
    positions = np.flatnonzero(cells.usable)
    labels = [str(v) for v in units.index]
    geoms = np.asarray(units.geometry.array, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), (_POLYGON, _MULTIPOLYGON))
    polygonal &= ~shapely.is_empty(geoms)
    broken = np.flatnonzero(polygonal & ~shapely.is_valid(geoms))
    work = geoms.copy()
    if broken.size:
        reasons = shapely.is_valid_reason(geoms[broken])
        work[broken] = shapely.make_valid(geoms[broken], method="structure", keep_collapsed=False)
        bx, by = _xy(shapely.point_on_surface(work[broken]))
        for k, u in enumerate(broken.tolist()):
            words = _REASON_POINT.sub("", str(reasons[k])).strip()
            found.add(
                "invalid_geometry",
                None,
                labels[u],
                at=(bx[k], by[k]),
                detail=f"unit {labels[u]}: {words} (checked on a repaired copy)",
                severity="warning",
            )
    points = shapely.point_on_surface(work)
    px, py = _xy(points)

    # Each unit goes to the cell its representative point is in; ties to the smallest code.
    unit_k, cell_k = tree.query(points, predicate="intersects")
    cell_at = positions[cell_k]
    order = np.lexsort((cells.rank[cell_at], unit_k))
    first = order[np.unique(unit_k[order], return_index=True)[1]]
    assigned = np.full(len(geoms), -1, dtype=np.int64)
    assigned[unit_k[first]] = cell_at[first]
    lost = np.flatnonzero((assigned < 0) & polygonal)
    if lost.size:
        # A footprint whose point lies outside every cell (a building straddling the
        # community's edge, its point on the far side) counts in the cell it overlaps most,
        # as the engine places it (gridgis.partition.adjust does the same).
        unit_k, cell_k = tree.query(work[lost], predicate="intersects")
        if unit_k.size:
            pieces = shapely.intersection(work[lost[unit_k]], cells.work[positions[cell_k]])
            shared = shapely.area(pieces)
            order = np.lexsort((cells.rank[positions[cell_k]], -shared, unit_k))
            first = order[np.unique(unit_k[order], return_index=True)[1]]
            first = first[shared[first] > 0]
            assigned[lost[unit_k[first]]] = positions[cell_k[first]]
    for u in np.flatnonzero(assigned < 0).tolist():
        amount, unit = (
            (1.0, "units") if counts is None else (np.nan_to_num(counts[u]), "households")
        )
        where = "lies in no cell" if np.isfinite(px[u]) else "has no geometry"
        found.add(
            "unassigned_unit",
            None,
            labels[u],
            measure=amount,
            unit=unit,
            at=(px[u], py[u]),
            detail=f"unit {labels[u]} {where}",
        )

    # Polygon units in two or more cells by more than the tolerance each: only units that
    # meet several cells and that no cell covers are cut.
    poly = np.flatnonzero(polygonal)
    unit_k, cell_k = tree.query(work[poly], predicate="intersects")
    several = np.bincount(unit_k, minlength=poly.size) > 1
    several[shapely.STRtree(work[poly]).query(cells.work[positions], predicate="covers")[1]] = False
    pick = several[unit_k]
    unit_at, cell_at = poly[unit_k[pick]], positions[cell_k[pick]]
    area, x, y = pieces_area(shapely.intersection(work[unit_at], cells.work[cell_at]), measure)
    big = area > tolerance_m2
    unit_at, cell_at, area, x, y = unit_at[big], cell_at[big], area[big], x[big], y[big]
    order = np.lexsort((-area, unit_at))
    unit_at, cell_at, area, x, y = unit_at[order], cell_at[order], area[order], x[order], y[order]
    split, starts, sizes = np.unique(unit_at, return_index=True, return_counts=True)
    # A loop over split units only, to describe each one's shares.
    for u, lo, size in zip(split.tolist(), starts.tolist(), sizes.tolist(), strict=True):
        if size < 2:
            continue
        shares = list(range(lo, lo + size))  # largest share first
        main = next((k for k in shares if cell_at[k] == assigned[u]), shares[0])
        rest = [k for k in shares if k != main]
        words = ", ".join(f"{cells.label(int(cell_at[k]))} {_m2(area[k])}" for k in shares)
        found.add(
            "split_unit",
            cells.codes[int(cell_at[main])],
            labels[u],
            measure=float(area[rest].sum()),
            unit="m2",
            at=(x[rest[0]], y[rest[0]]),
            detail=f"unit {labels[u]} is split between cells {words}",
        )

    if counts is None:
        return np.full(cells.n, np.nan)
    inside = assigned >= 0
    weights = np.nan_to_num(counts[inside])
    counted = np.bincount(assigned[inside], weights=weights, minlength=cells.n)
    return np.where(cells.usable, counted.astype(np.float64), np.nan)


def _check_households(
    cells: _Cells,
    counts: FloatArray,
    *,
    min_households: int,
    max_households: int,
    bounds: dict[str, tuple[float, float]],
    flags: list[object] | None,
    found: _Findings,
) -> None:
    default = (float(min_households), float(max_households))
    limits = np.array([bounds.get(c, default) if c else default for c in cells.community])
    low, high = limits.reshape(-1, 2)[:, 0], limits.reshape(-1, 2)[:, 1]
    judged = np.isfinite(counts)
    checks = (
        (
            "households_above_max",
            np.flatnonzero(judged & (counts > high)),
            "above the maximum",
            high,
        ),
        ("households_below_min", np.flatnonzero(judged & (counts < low)), "below the minimum", low),
    )
    for kind, where, words, limit in checks:
        excuses = FLAG_DOWNGRADES[kind]
        for i in where.tolist():
            own = cells.community[i]
            source = ""
            if own is not None:
                source = f" ({'bounds' if own in bounds else 'default'} for community {own})"
            detail = f"{counts[i]:,.0f} households, {words} of {limit[i]:,.0f}{source}"
            severity = "error"
            given = [f for f in _flags(flags[i]) if f in excuses] if flags is not None else []
            if given:
                severity = "warning"
                detail += f"; flagged {given[0]!r} by the engine"
            found.add(
                kind,
                cells.codes[i],
                own,
                measure=counts[i],
                unit="households",
                at=cells.at(i),
                detail=detail,
                severity=severity,
            )
