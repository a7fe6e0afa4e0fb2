"""Checking administrative boundaries before they are stored.

Pure GeoDataFrame functions, no database: :func:`prepare_boundaries` turns a
file's features into rows of one level of the hierarchy (code, name, parent
code, a valid MultiPolygon in WGS84), rejecting bad rows with their row
number and repairing what is safe to repair; :func:`check_topology` measures
what breaks the hierarchy's rule that each level tiles its parent: parts
outside the parent, overlaps between siblings and gaps, each by code with its
area in m² and a location.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridgis import crs as crs_mod
from gridgis.codes import LEVEL_DIGITS, PARENT_LEVEL, is_code, parent_code
from gridgis.errors import InputError, Problem

REPAIR_TOLERANCE = 0.01
"""A repair that changes a polygon's area by more than this share is refused."""

TOPOLOGY_TOLERANCE_M2 = 1.0
"""Overlaps, gaps and parts outside the parent smaller than this are ignored."""

FindingKind = Literal["repaired", "outside_parent", "overlap", "gap", "no_parent_geometry"]


@dataclass(frozen=True)
class Finding:
    """Something measured about a boundary: a repair or a topology problem.

    Attributes
    ----------
    kind:
        ``"repaired"``, ``"outside_parent"``, ``"overlap"``, ``"gap"`` or
        ``"no_parent_geometry"``.
    code:
        The feature concerned (for a gap: the parent whose children leave it).
    other:
        The other feature (the overlapping sibling, or the parent).
    area_m2:
        The area concerned in square metres (for a repair: the change).
    lon, lat:
        A point in the area concerned, to look at on a map.
    row:
        1-based row in the input file, when the finding is about one row.
    detail:
        Words for people.
    """

    kind: FindingKind
    code: str
    area_m2: float
    lon: float | None = None
    lat: float | None = None
    other: str | None = None
    row: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f" at ({self.lon:.6f}, {self.lat:.6f})" if self.lon is not None else ""
        other = f" / {self.other}" if self.other else ""
        row = f"row {self.row}, " if self.row is not None else ""
        text = f"{row}{self.kind} {self.code}{other}: {self.area_m2:,.1f} m²{where}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class PreparedBoundaries:
    """Result of :func:`prepare_boundaries`.

    Attributes
    ----------
    frame:
        Accepted rows: ``code``, ``name``, ``parent_code``, ``row`` (1-based
        input row) and a MultiPolygon geometry in EPSG:4326; with the optional
        fields of :func:`prepare_boundaries` also ``kind``, ``min_households`` and
        ``max_households`` (communities) or ``flags`` (cells).
    rejected:
        One :class:`~gridgis.errors.Problem` per rejected row and reason.
    repaired:
        Rows whose invalid polygon was repaired, with the area changed.
    rows_read:
        Number of features in the input.
    """

    frame: gpd.GeoDataFrame
    rejected: list[Problem] = field(default_factory=list)
    repaired: list[Finding] = field(default_factory=list)
    rows_read: int = 0


def _field(frame: pd.DataFrame, name: str, option: str) -> pd.Series:
    if name not in frame.columns:
        fields = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise InputError(
            f"the file has no field {name!r} (given by {option}); its fields are: {fields}",
            zh=f"文件中没有字段 {name!r}（由 {option} 指定）；现有的字段：{fields}",
        )
    return frame[name]


def _clean_text(values: pd.Series) -> pd.Series:
    def one(value: object) -> str | None:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        return text or None

    return values.map(one)


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a geometry as a MultiPolygon, or None if it has none."""
    if geom is None or geom.is_empty:
        return None
    kind = geom.geom_type
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    if kind == "MultiPolygon":
        return geom
    if kind == "GeometryCollection":
        parts = [
            p
            for g in shapely.get_parts(geom)
            for p in (shapely.get_parts(g) if g.geom_type == "MultiPolygon" else [g])
            if p.geom_type == "Polygon" and not p.is_empty
        ]
        return shapely.MultiPolygon(parts) if parts else None
    return None


COMMUNITY_KIND_NAMES: dict[str, str] = {
    "urban": "urban", "rural": "rural",
    "社区": "urban", "居委会": "urban", "居民委员会": "urban", "城市社区": "urban",
    "村": "rural", "村委会": "rural", "村民委员会": "rural", "行政村": "rural", "农村": "rural",
}  # fmt: skip
"""A community's kind as files name it, each with its code (``community.kind``)."""

_OPTIONAL_FIELDS = {
    "kind_field": ("community", "--kind-field"),
    "min_field": ("community", "--min-field"),
    "max_field": ("community", "--max-field"),
    "flags_field": ("cell", "--flags-field"),
}
"""The optional fields of :func:`prepare_boundaries`: the level each is for, its option."""


def _whole(value: object) -> int | str | None:
    """A count as read: the number, ``None`` when blank, the text when not a whole number."""
    text = _clean_text(pd.Series([value], dtype=object)).iloc[0]
    if pd.isna(text):
        return None
    try:
        number = float(text)
    except ValueError:
        return str(text)
    return int(number) if number.is_integer() else str(text)


def _extra_columns(
    gdf: gpd.GeoDataFrame, level: str, given: dict[str, str | None]
) -> tuple[dict[str, list[object]], list[list[str]]]:
    """The optional fields' values per row (``kind``, ``min_households``, ``max_households``,
    ``flags``) and each row's reasons to reject it."""
    for option, field_name in given.items():
        wanted, flag = _OPTIONAL_FIELDS[option]
        if field_name is not None and level != wanted:
            raise InputError(
                f"`{option}` ({flag}) is for {wanted} boundaries, not {level}",
                zh=f"`{option}`（{flag}）用于 {wanted} 边界，而不是 {level}",
            )
    n = len(gdf)
    reasons: list[list[str]] = [[] for _ in range(n)]
    out: dict[str, list[object]] = {}
    if (kind_field := given["kind_field"]) is not None:
        kinds: list[object] = []
        for i, value in enumerate(_clean_text(_field(gdf, kind_field, "--kind-field"))):
            present = not pd.isna(value)
            kind = COMMUNITY_KIND_NAMES.get(str(value).lower()) if present else None
            if present and kind is None:
                reasons[i].append(f"kind {value!r} is not urban (社区) or rural (村)")
            kinds.append(kind)
        out["kind"] = kinds
    min_field, max_field = given["min_field"], given["max_field"]
    if (min_field is None) != (max_field is None):
        raise InputError(
            "give both --min-field and --max-field (households per cell), or neither",
            zh="--min-field 和 --max-field（每个网格的户数）要么都给，要么都不给",
        )
    if min_field is not None and max_field is not None:
        lows = [_whole(v) for v in _field(gdf, min_field, "--min-field")]
        highs = [_whole(v) for v in _field(gdf, max_field, "--max-field")]
        for i, (low, high) in enumerate(zip(lows, highs, strict=True)):
            bad = [f"{name} {v!r} is not a whole number"
                   for name, v in (("min", low), ("max", high)) if isinstance(v, str)]  # fmt: skip
            if bad:
                reasons[i].extend(bad)
            elif (low is None) != (high is None):
                reasons[i].append("households per cell: give both min and max, or neither")
            elif isinstance(low, int) and isinstance(high, int) and not 0 <= low <= high:
                reasons[i].append(
                    f"households per cell must satisfy 0 <= min <= max, not {low} and {high}"
                )
            if reasons[i]:
                lows[i] = highs[i] = None
        out["min_households"], out["max_households"] = list(lows), list(highs)
    if (flags_field := given["flags_field"]) is not None:
        out["flags"] = [
            [] if pd.isna(text) else [f for f in re.split(r"[;,、\s]+", str(text)) if f]
            for text in _clean_text(_field(gdf, flags_field, "--flags-field"))
        ]
    return out, reasons


def prepare_boundaries(
    gdf: gpd.GeoDataFrame,
    *,
    level: str,
    crs: crs_mod.CRSLike | None = None,
    code_field: str = "code",
    name_field: str = "name",
    parent_field: str | None = None,
    kind_field: str | None = None,
    min_field: str | None = None,
    max_field: str | None = None,
    flags_field: str | None = None,
) -> PreparedBoundaries:
    """Check and normalise the features of one level of the hierarchy.

    Parameters
    ----------
    gdf:
        Features as read from a file; not changed.
    level:
        ``"district"``, ``"street"``, ``"community"`` or ``"cell"``.
    crs:
        The coordinates' system when the file does not say it, or to say that
        a GeoJSON labelled WGS84 really holds GCJ-02 / BD-09 coordinates.
    code_field, name_field:
        Fields holding the official code and the name.
    parent_field:
        Field with the parent's code; without it the parent is the code's
        prefix (official codes nest: a street's 9 digits begin with its
        district's 6).
    kind_field:
        Communities: field with the kind, ``urban`` (社区, 居委会) or ``rural`` (村,
        村委会: :data:`COMMUNITY_KIND_NAMES`); blank keeps the stored one.
    min_field, max_field:
        Communities: fields with the fewest and most households per cell, stored as
        the community's own bounds (both or neither; blank keeps the stored ones).
    flags_field:
        Cells: field with the flags a partitioner gave each cell (``below_min``...,
        separated by ``;``, ``,`` or 、), stored on the cell.

    Returns
    -------
    PreparedBoundaries
        Accepted rows in EPSG:4326, rejected rows with reasons, repairs.

    Raises
    ------
    InputError
        When a named field is missing (the message lists the fields there are), or an
        optional field is given for another level.
    CRSError
        When the CRS is missing or contradicts the file's.

    Examples
    --------
    >>> from gridgis.io import read_vector
    >>> prepared = prepare_boundaries(read_vector("data/boundaries/350304.geojson"),
    ...                               level="district")
    >>> prepared.frame.loc[0, ["code", "name"]].tolist()
    ['350304', '荔城区']
    """
    if level not in LEVEL_DIGITS:
        raise InputError(
            f"`level` was {level!r} but is expected to be one of {list(LEVEL_DIGITS)}",
            zh=f"`level` 为 {level!r}，应为以下之一：{list(LEVEL_DIGITS)}",
        )
    digits = LEVEL_DIGITS[level]
    parent_level = PARENT_LEVEL[level]
    codes = _clean_text(_field(gdf, code_field, "--code-field"))
    if level == "cell" and name_field not in gdf.columns:
        names = pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    else:
        names = _clean_text(_field(gdf, name_field, "--name-field"))
    parents = _clean_text(_field(gdf, parent_field, "--parent-field")) if parent_field else None
    extra, extra_reasons = _extra_columns(
        gdf,
        level,
        {"kind_field": kind_field, "min_field": min_field, "max_field": max_field,
         "flags_field": flags_field},
    )  # fmt: skip

    spec = crs_mod.parse_crs(crs) if crs is not None else None
    override = bool(
        spec is not None
        and spec.is_obfuscated
        and gdf.crs is not None
        and crs_mod.parse_crs(gdf.crs).is_wgs84
    )
    wgs = crs_mod.to_wgs84_frame(gdf, crs, allow_override=override)

    rejected: list[Problem] = []
    repaired: list[Finding] = []
    rows: list[dict[str, object]] = []
    geoms = np.asarray(wgs.geometry.array, dtype=object)
    counts = codes.value_counts()
    name_list = names.tolist()
    parent_list = parents.tolist() if parents is not None else None
    for position, code in enumerate(codes.tolist()):
        row = position + 1
        reasons: list[str] = []
        if code is None:
            reasons.append(f"no code in field {code_field!r}")
        elif not is_code(code, level):
            reasons.append(f"code {code!r} is not {digits} digits, as a {level} code must be")
        elif counts.get(code, 0) > 1:
            reasons.append(f"code {code} appears {counts[code]} times in the file")
        name = name_list[position]
        if pd.isna(name):
            name = None
        if name is None and level != "cell":
            reasons.append(f"no name in field {name_field!r}")
        parent: str | None = None
        if parent_level is not None and is_code(code, level):
            parent = parent_code(code, parent_level)
            if parent_list is not None:
                given = parent_list[position]
                if given != parent:
                    reasons.append(
                        f"parent code {given!r} does not match the code {code}, which "
                        f"belongs to {parent_level} {parent}"
                    )
        geom = geoms[position]
        polygon = None
        if geom is None or geom.is_empty:
            reasons.append("no geometry")
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            reasons.append(f"geometry is a {geom.geom_type}, not a polygon")
        else:
            point = geom.representative_point() if geom.is_valid else geom.envelope.centroid
            flag = str(crs_mod.check_lonlat(point.x, point.y))
            if flag != "ok":
                reasons.append(
                    f"lies at ({point.x:.4f}, {point.y:.4f}), {flag.replace('_', ' ')}: "
                    "is --crs right?"
                )
            else:
                polygon = _polygonal(geom)
        if polygon is not None and not polygon.is_valid:
            why = shapely.is_valid_reason(polygon)
            fixed = _polygonal(shapely.make_valid(polygon))
            before, after = area_m2(polygon), area_m2(fixed)
            change = abs(after - before)
            if fixed is None or change > REPAIR_TOLERANCE * max(before, after):
                reasons.append(
                    f"invalid polygon ({why}) that cannot be repaired safely: repairing it "
                    f"would change its area from {before:,.0f} m² to {after:,.0f} m²"
                )
            else:
                point = fixed.representative_point()
                repaired.append(
                    Finding(
                        "repaired",
                        code or "?",
                        change,
                        point.x,
                        point.y,
                        row=row,
                        detail=f"was invalid: {why}",
                    )
                )
            polygon = fixed if not reasons else None
        reasons += extra_reasons[position]
        if reasons:
            rejected.extend(Problem(row, code, reason) for reason in reasons)
            continue
        rows.append(
            {"row": row, "code": code, "name": name, "parent_code": parent}
            | {k: v[position] for k, v in extra.items()}
            | {"geometry": polygon}
        )
    frame = gpd.GeoDataFrame(
        rows or None,
        columns=["row", "code", "name", "parent_code", *extra, "geometry"],
        geometry="geometry",
        crs="EPSG:4326",
    )
    rejected.sort(key=lambda p: p.row or 0)
    return PreparedBoundaries(frame, rejected, repaired, rows_read=len(gdf))


_GEOD = pyproj.Geod(ellps="WGS84")


def area_m2(geom: BaseGeometry | None) -> float:
    """Geodesic area in m² of a WGS84 lon/lat geometry (0 for none or empty).

    Measured on the WGS84 ellipsoid, so no projection has to be chosen and
    the figure is right anywhere.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(area_m2(box(119.0, 25.4, 119.01, 25.41)))
    1114621
    """
    if geom is None or geom.is_empty:
        return 0.0
    return abs(float(_GEOD.geometry_area_perimeter(geom)[0]))


_M_PER_DEGREE = 6_378_137.0 * np.pi / 180
"""Metres per degree of latitude (and of longitude at the equator), on the WGS84 radius."""


def _plane_m2(geom: BaseGeometry) -> float:
    """The area in m² of a lon/lat geometry with straight edges in degrees, as stored (its
    planar area at its latitude); near :func:`area_m2` for any real shape.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> square = box(119.0, 25.4, 119.01, 25.41)
    >>> round(_plane_m2(square) / area_m2(square), 2)
    1.0
    """
    lat = geom.centroid.y if not geom.is_empty else 0.0
    return float(shapely.area(geom)) * _M_PER_DEGREE**2 * float(np.cos(np.radians(lat)))


def check_topology(
    children: gpd.GeoDataFrame,
    parents: gpd.GeoDataFrame | None = None,
    *,
    tolerance_m2: float = TOPOLOGY_TOLERANCE_M2,
    gap_parents: Sequence[str] | None = None,
) -> list[Finding]:
    """Measure where children fail to tile their parents.

    Parameters
    ----------
    children:
        ``code``, ``parent_code`` and polygons (EPSG:4326) of one level: all
        the siblings that will exist together.
    parents:
        ``code`` and polygons of the parent level (rows without a polygon
        are skipped with a ``no_parent_geometry`` finding); ``None`` for
        districts.
    tolerance_m2:
        Areas below this are ignored (coordinate rounding).
    gap_parents:
        Parent codes to check for gaps (default: every parent that has
        children in ``children``).

    Returns
    -------
    list of Finding
        ``outside_parent`` (child part outside its parent), ``overlap`` (two
        siblings share area) and ``gap`` (part of a parent covered by none of
        its children), each with the area in m² and a point in it.
    """
    findings: list[Finding] = []
    if children.empty:
        return findings
    if children.crs is None or not crs_mod.parse_crs(children.crs).is_wgs84:
        raise crs_mod.CRSError(
            f"children must be in EPSG:4326, not {children.crs}",
            zh=f"下级区域必须是 EPSG:4326 坐标系，而不是 {children.crs}",
        )
    # Shapes are compared in EPSG:4326, where stored edges are straight; the
    # pieces found are measured on the ellipsoid (a projection would bend edges
    # and report centimetre slivers along every shared boundary).
    kids = children.reset_index(drop=True)
    kid_geoms = np.asarray(kids.geometry.array, dtype=object)
    codes = kids["code"].astype(str).to_numpy()
    parent_codes = kids["parent_code"].to_numpy() if "parent_code" in kids else None

    def measure(piece: BaseGeometry) -> tuple[float, float | None, float | None]:
        if piece.is_empty or _plane_m2(piece) <= tolerance_m2:
            # A sliver with no area as stored (edges straight in degrees): on the ellipsoid
            # its long edges would bow apart into square metres that are not there.
            return 0.0, None, None
        point = piece.representative_point()
        return area_m2(piece), point.x, point.y

    # Overlaps between siblings (same parent), found with a spatial index.
    tree = shapely.STRtree(kid_geoms)
    left, right = tree.query(kid_geoms, predicate="intersects")
    keep = left < right
    if parent_codes is not None:
        keep &= parent_codes[left] == parent_codes[right]
    for i, j in zip(left[keep], right[keep], strict=True):
        area, lon, lat = measure(shapely.intersection(kid_geoms[i], kid_geoms[j]))
        if area > tolerance_m2:
            findings.append(Finding("overlap", codes[i], area, lon, lat, other=codes[j]))

    if parents is None or parents.empty or parent_codes is None:
        return findings
    by_code = parents.set_index("code")
    mothers = parents[parents.geometry.notna()].set_index("code").geometry
    for code in sorted(set(parent_codes) - set(by_code.index)):
        findings.append(Finding("no_parent_geometry", str(code), 0.0, detail="parent not found"))
    for code in sorted(set(parent_codes) & set(by_code.index) - set(mothers.index)):
        findings.append(
            Finding(
                "no_parent_geometry",
                str(code),
                0.0,
                detail="the parent has no boundary yet, so nesting was not checked",
            )
        )
    # Parts of children outside their parent.
    for i, code in enumerate(codes):
        mother = mothers.get(parent_codes[i])
        if mother is None:
            continue
        area, lon, lat = measure(shapely.difference(kid_geoms[i], mother))
        if area > tolerance_m2:
            findings.append(
                Finding("outside_parent", code, area, lon, lat, other=str(parent_codes[i]))
            )
    # Gaps: parts of each parent covered by none of its children.
    wanted = set(gap_parents) if gap_parents is not None else set(parent_codes)
    for mother_code in sorted(wanted & set(mothers.index)):
        members = kid_geoms[parent_codes == mother_code]
        if len(members) == 0:
            continue
        area, lon, lat = measure(
            shapely.difference(mothers[mother_code], shapely.union_all(members))
        )
        if area > tolerance_m2:
            findings.append(Finding("gap", str(mother_code), area, lon, lat))
    return findings
