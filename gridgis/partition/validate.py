"""Validating a cell layout: codes, geometry, tiling, buildings and households.

:func:`validate_layout` judges any layout of grid cells (网格), whether drawn by
the engine, edited by hand or imported, against the rules of DOMAIN.md and
returns a :class:`LayoutReport`: one :class:`LayoutFinding` per problem, each
naming the cell (or community, or unit), the amount (m², households, parts)
and a WGS84 point to look at. Nothing is repaired and the input is not changed.

The rules, as built
-------------------
Codes
    Cells of a community with a 12-digit (Chinese) code must have 15-digit
    codes that start with the community's code. For other communities
    (analysts' own groups such as UK MSOAs ``"E02002846"``) any non-empty code
    is accepted; a code of the form ``<group>-NNN`` must name the cell's own
    group. Codes must be unique.
Contiguity
    A cell must be one piece. Parts are contiguous only when they share an
    edge: parts touching at a single point count as separate parts (a valid
    MultiPolygon's parts can only touch at points, so the number of parts of
    the cell, after repairing an invalid one, is the number reported).
Slivers
    A polygon part of a cell, or a gap polygon, is a sliver when its area is
    below ``sliver_m2``, or when it is thin and small: Polsby–Popper
    compactness ``4πA/P²`` below :data:`THIN_POLSBY_POPPER` (0.05, a strip
    about 1:60) *and* area below :data:`THIN_AREA_FACTOR` × ``sliver_m2``
    (1,000 m² by default). Slivers are warnings (digitising noise to clean).
Tiling
    Overlaps are checked between any two cells of the whole layout (cells of
    different communities and streets must not share area either), each
    measured in a metric CRS (where a sliver between two long, nearly
    collinear edges has the area it has on the ground); their total,
    however small each, is :attr:`LayoutReport.overlap_m2`. Gaps, parts outside the own
    community and parts inside another community need ``communities``.
    Areas not above ``tolerance_m2`` are coordinate noise and ignored. A
    community outline without any cell is reported as one gap.
Units and households
    Each unit (building, small area; point or polygon) is counted in exactly
    one cell: the one its representative point (:func:`shapely.point_on_surface`)
    lies in. A point on a boundary shared by several cells, or inside an
    overlap, goes to the cell with the smallest code (then the first row).
    Missing household counts of units count as 0. Not judged for households:
    cells with a missing count of their own (without ``units``), and cells
    without a usable polygon (with ``units``).
Severity
    Everything is an ``"error"`` except slivers, invalid unit polygons, and
    household findings of cells the engine flagged (see :data:`FLAG_DOWNGRADES`),
    which are ``"warning"``.

Measuring
---------
Geometry operations run in the CRS the cells are in, where their edges are
straight as stored (a projection bends long lon/lat edges by millimetres to
centimetres, which would show as false slivers along every boundary whose
vertices do not match exactly). A projected CRS must be in metres. For a
geographic CRS (EPSG:4326, CGCS2000), each piece found is measured on the
ellipsoid at its own latitude (degree area × meridian and prime-vertical
radii), which is within 0.001 % of the geodesic area for pieces of a few
kilometres and is vectorised, unlike :func:`gridgis.boundaries.area_m2`.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> cells = gpd.GeoDataFrame(
...     {"code": ["350304001001001", "350304001001002"]},
...     geometry=[box(0, 0, 100, 100), box(90, 0, 200, 100)], crs="EPSG:4547")
>>> report = validate_layout(cells)
>>> report.ok, report.by_kind()
(False, {'overlap': 1})
>>> report.findings[0].measure
1000.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gridgis import crs as crs_mod
from gridgis.codes import is_code, parent_code
from gridgis.errors import CoordinateError, CRSError, InputError, listing
from gridgis.partition.measure import Measure, pieces_area, polygon_parts
from gridgis.partition.units import NOISE_M2

__all__ = [
    "FINDING_KINDS",
    "FLAG_DOWNGRADES",
    "SEVERITIES",
    "THIN_AREA_FACTOR",
    "THIN_POLSBY_POPPER",
    "UNITS",
    "LayoutFinding",
    "LayoutReport",
    "validate_layout",
]

FINDING_KINDS: tuple[str, ...] = (
    "malformed_code",
    "duplicate_code",
    "code_outside_community",
    "gap",
    "overlap",
    "sliver",
    "outside_community",
    "crosses_community",
    "non_contiguous",
    "invalid_geometry",
    "split_unit",
    "unassigned_unit",
    "households_above_max",
    "households_below_min",
)
"""Every kind of :class:`LayoutFinding`, in the order reports list them."""

SEVERITIES: tuple[str, ...] = ("error", "warning")
"""``"error"``: a rule is broken; ``"warning"``: worth a look, the layout may stand."""

UNITS: tuple[str, ...] = ("m2", "households", "parts", "units", "cells", "")
"""What :attr:`LayoutFinding.measure` counts."""

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

_KIND_ORDER = {kind: position for position, kind in enumerate(FINDING_KINDS)}
_GROUP_CODE = re.compile(r"^(?P<group>.+)-(?P<sequence>\d{3,})$")
_REASON_POINT = re.compile(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)[^\]]*\]")
_POLYGON = 3
_COLLECTION = 7
_MULTIPOLYGON = 6
_METRE_NAMES = {"metre", "meter", "m", "metres", "meters"}
_DEGREE_NAMES = {"degree", "degrees", "degree minute second hemisphere"}
_SHOWN_ROWS = 10

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
GeomArray = NDArray[np.object_]


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutFinding:
    """One problem of a cell layout.

    Attributes
    ----------
    kind:
        One of :data:`FINDING_KINDS`.
    code:
        The cell concerned; for a gap (and a sliver gap) the community code;
        ``None`` when there is no cell (an unassigned unit, a missing code).
    other:
        The other cell, community or unit (the unit's index label), if any.
    measure:
        The amount, in :attr:`unit`: m² of overlap, gap, sliver or area
        outside; households; number of parts; number of cells sharing a code.
    unit:
        One of :data:`UNITS`: ``"m2"``, ``"households"``, ``"parts"``,
        ``"units"``, ``"cells"`` or ``""`` (no amount).
    lon, lat:
        WGS84 point in the problem area (a representative point of it), or
        ``None`` when the cell has no usable geometry.
    detail:
        Words for people.
    severity:
        ``"error"`` (a rule is broken) or ``"warning"``.

    Examples
    --------
    >>> f = LayoutFinding("overlap", "350304001001001", "350304001001002", 12.4, "m2",
    ...                   119.012345, 25.401234, "overlaps 350304001001002 by 12.4 m²", "error")
    >>> print(f)  # doctest: +NORMALIZE_WHITESPACE
    overlap 350304001001001 / 350304001001002: 12.4 m² at (119.012345, 25.401234)
    — overlaps 350304001001002 by 12.4 m² [error]
    """

    kind: str
    code: str | None
    other: str | None
    measure: float
    unit: str
    lon: float | None
    lat: float | None
    detail: str
    severity: str

    def __str__(self) -> str:
        text = f"{self.kind} {self.code or '-'}"
        if self.other:
            text += f" / {self.other}"
        amount = _amount(self.measure, self.unit)
        if amount:
            text += f": {amount}"
        if self.lon is not None and self.lat is not None:
            text += f" at ({self.lon:.6f}, {self.lat:.6f})"
        if self.detail:
            text += f" — {self.detail}"
        return f"{text} [{self.severity}]"


def _m2(area: float) -> str:
    """An area for people: 0.1 m² resolution, or two significant digits below 0.05 m²."""
    return f"{area:,.1f} m²" if area >= 0.05 or area == 0 else f"{area:.2g} m²"


def _amount(measure: float, unit: str) -> str:
    if unit == "m2":
        return _m2(measure)
    if unit == "households":
        return f"{measure:,.0f} households"
    if unit in ("parts", "units", "cells"):
        return f"{measure:,.0f} {unit}"
    return ""


_FRAME_COLUMNS = ["kind", "severity", "code", "other", "measure", "unit", "detail", "lon", "lat"]


@dataclass
class LayoutReport:
    """What :func:`validate_layout` found.

    Attributes
    ----------
    findings:
        Every finding, ordered by kind (as in :data:`FINDING_KINDS`), code and other.
    cells:
        Number of cells (rows) validated.
    communities:
        Number of communities: those the cells belong to and those outlined.
    households:
        Households counted per cell (indexed like the cells; NaN where not
        known), or ``None`` when no household counts were given.
    overlap_m2:
        Total area in m² (in a metric CRS) that cells share with other cells,
        over every pair of the whole layout, however small each overlap is:
        0 for a layout that tiles exactly.

    Examples
    --------
    >>> report = LayoutReport([], cells=4, communities=1)
    >>> report.ok, report.lines()
    (True, ['4 cells in 1 community: ok, no findings'])
    """

    findings: list[LayoutFinding]
    cells: int
    communities: int
    households: pd.Series | None = None
    overlap_m2: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether no finding is an error (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    def by_kind(self) -> dict[str, int]:
        """Number of findings of each kind found, in the order of :data:`FINDING_KINDS`."""
        counts: dict[str, int] = {}
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return {kind: counts[kind] for kind in FINDING_KINDS if kind in counts}

    def lines(self) -> list[str]:
        """A printable report: a summary line, then one line per finding."""
        where = (
            f"{self.cells:,} cell{'s' if self.cells != 1 else ''} in "
            f"{self.communities:,} communit{'ies' if self.communities != 1 else 'y'}"
        )
        if not self.findings:
            return [f"{where}: ok, no findings"]
        errors = sum(f.severity == "error" for f in self.findings)
        warnings = len(self.findings) - errors
        kinds = ", ".join(f"{kind} {n}" for kind, n in self.by_kind().items())
        verdict = "ok" if self.ok else "NOT ok"
        summary = f"{where}: {verdict}, {errors} error(s), {warnings} warning(s) ({kinds})"
        return [summary, *(str(f) for f in self.findings)]

    def to_frame(self) -> gpd.GeoDataFrame:
        """One row per finding with its point (EPSG:4326; empty where it has no location).

        Columns ``kind``, ``severity``, ``code``, ``other``, ``measure``,
        ``unit``, ``detail``, ``lon``, ``lat`` and ``geometry``, ready to be
        written next to the layout (e.g. ``report.to_frame().to_file("findings.gpkg")``).
        """
        lon = np.array([np.nan if f.lon is None else f.lon for f in self.findings], dtype=float)
        lat = np.array([np.nan if f.lat is None else f.lat for f in self.findings], dtype=float)
        rows = {
            "kind": [f.kind for f in self.findings],
            "severity": [f.severity for f in self.findings],
            "code": [f.code for f in self.findings],
            "other": [f.other for f in self.findings],
            "measure": np.array([f.measure for f in self.findings], dtype=np.float64),
            "unit": [f.unit for f in self.findings],
            "detail": [f.detail for f in self.findings],
            "lon": lon,
            "lat": lat,
        }
        located = np.isfinite(lon) & np.isfinite(lat)
        points = np.full(len(self.findings), None, dtype=object)
        points[located] = shapely.points(lon[located], lat[located])
        frame = pd.DataFrame(rows, columns=_FRAME_COLUMNS)
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs="EPSG:4326"))


class _Raw(NamedTuple):
    """A finding before its point is moved to WGS84 (``x``, ``y`` in the cells' CRS)."""

    kind: str
    code: str | None
    other: str | None
    measure: float
    unit: str
    x: float
    y: float
    detail: str
    severity: str


class _Findings:
    """Collects findings with points in the cells' CRS; :meth:`located` moves them to WGS84."""

    def __init__(self) -> None:
        self.overlap_m2 = 0.0
        self.raw: list[_Raw] = []

    def add(
        self,
        kind: str,
        code: str | None,
        other: str | None = None,
        *,
        measure: float = 0.0,
        unit: str = "",
        at: tuple[Any, Any] = (np.nan, np.nan),
        detail: str = "",
        severity: str = "error",
    ) -> None:
        x, y = float(at[0]), float(at[1])
        self.raw.append(_Raw(kind, code, other, float(measure), unit, x, y, detail, severity))

    def located(self, crs: pyproj.CRS) -> list[LayoutFinding]:
        """The findings with their points in WGS84, in report order."""
        x = np.array([r.x for r in self.raw], dtype=np.float64)
        y = np.array([r.y for r in self.raw], dtype=np.float64)
        finite = np.isfinite(x) & np.isfinite(y)
        lon, lat = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
        if finite.any():
            lon[finite], lat[finite] = crs_mod.to_wgs84(x[finite], y[finite], crs)
        findings = [
            LayoutFinding(
                kind=r.kind,
                code=r.code,
                other=r.other,
                measure=r.measure,
                unit=r.unit,
                lon=float(lon[k]) if finite[k] else None,
                lat=float(lat[k]) if finite[k] else None,
                detail=r.detail,
                severity=r.severity,
            )
            for k, r in enumerate(self.raw)
        ]
        findings.sort(key=lambda f: (_KIND_ORDER[f.kind], f.code or "", f.other or "", -f.measure))
        return findings


# --- measuring (see gridgis.partition.measure) ------------------------------------------------


def _slivers(
    area: FloatArray, perimeter: FloatArray, sliver_m2: float
) -> tuple[BoolArray, FloatArray]:
    """Which parts are slivers under the module's rule, and their Polsby–Popper compactness."""
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


# --- reading the arguments ----------------------------------------------------------------------


def _text(value: object) -> str | None:
    """A code as text: ints (and floats holding ints) without decimals; None for missing."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        value = int(number) if number.is_integer() else number
    text = str(value).strip()
    return text or None


def _column(frame: pd.DataFrame, name: str, option: str, what: str) -> pd.Series:
    if name not in frame.columns:
        fields = ", ".join(repr(str(c)) for c in frame.columns if c != frame.geometry.name)
        raise InputError(
            f"`{option}` was {name!r} but {what} has no such column; its columns are: {fields}"
        )
    return frame[name]


def _rows(positions: Iterable[int]) -> str:
    return listing((int(p) + 1 for p in positions), noun="", shown=_SHOWN_ROWS, sep=", ")


def _counts(frame: pd.DataFrame, name: str, what: str) -> FloatArray:
    """A household column as floats (NaN where missing); bad values raise InputError."""
    raw = _column(frame, name, "households", what)
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(raw.notna().to_numpy() & ~np.isfinite(numbers))
    if bad.size:
        raise InputError(
            f"column {name!r} of {what} (given by `households`) must hold household counts, "
            f"but rows {_rows(bad)} are not numbers (e.g. {raw.iloc[int(bad[0])]!r})"
        )
    negative = np.flatnonzero(numbers < 0)
    if negative.size:
        raise InputError(
            f"column {name!r} of {what} (given by `households`) has negative household counts "
            f"in rows {_rows(negative)} (e.g. {numbers[negative[0]]:g})"
        )
    return numbers


def _flags(value: object) -> set[str]:
    """The engine flags of a cell: a list of strings, or one comma-separated string."""
    if isinstance(value, str):
        return {part.strip() for part in value.split(",") if part.strip()}
    if isinstance(value, Iterable):
        return {str(item) for item in value}
    return set()


def _same_crs(a: Any, b: Any) -> bool:
    crs_a, crs_b = pyproj.CRS(a), pyproj.CRS(b)
    if crs_mod.parse_crs(crs_a).is_wgs84 and crs_mod.parse_crs(crs_b).is_wgs84:
        return True  # WGS84 and CGCS2000 differ by centimetres (DOMAIN.md)
    return bool(crs_a.equals(crs_b, ignore_axis_order=True))


def _check_crs(cells: gpd.GeoDataFrame) -> pyproj.CRS:
    if cells.crs is None:
        raise CRSError(
            "`cells` has no CRS: set it first (e.g. cells.set_crs('EPSG:4326')); "
            "areas cannot be measured without it"
        )
    crs = pyproj.CRS(cells.crs)
    unit = crs.axis_info[0].unit_name if crs.axis_info else "unknown"
    allowed = _DEGREE_NAMES if crs.is_geographic else _METRE_NAMES
    if unit.lower() not in allowed:
        raise InputError(
            f"the CRS of `cells` ({crs.to_string()}) measures in {unit!r}; a projected CRS must "
            "be in metres (e.g. a CGCS2000 Gauss-Krüger zone such as EPSG:4547) and a "
            "geographic one in degrees: reproject the layout explicitly"
        )
    return crs


def _check_lonlat(frame: gpd.GeoDataFrame, name: str) -> None:
    """Geometries said to be in degrees must have longitudes and latitudes."""
    bounds = shapely.bounds(np.asarray(frame.geometry.array, dtype=object))
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(
            (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1)
            | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
        )
    if bad.size:
        raise CoordinateError(
            f"`{name}` is in a geographic CRS ({frame.crs}) but rows {_rows(bad)} have "
            "coordinates beyond ±180° / ±90° (e.g. x = "
            f"{bounds[bad[0], 0]:.10g}): projected metres need their own CRS"
        )


def _check_other_crs(frame: object, name: str, cells_crs: pyproj.CRS) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"`{name}` must be a GeoDataFrame, not a {type(frame).__name__}")
    if frame.crs is None:
        raise CRSError(f"`{name}` has no CRS; it must be in the CRS of `cells` ({cells_crs})")
    if not _same_crs(frame.crs, cells_crs):
        raise CRSError(
            f"`{name}` is in {pyproj.CRS(frame.crs).to_string()} but `cells` is in "
            f"{cells_crs.to_string()}: reproject one of them explicitly (e.g. "
            f"{name}.to_crs(cells.crs)); gridgis never reprojects silently"
        )


def _check_options(
    *,
    min_households: int,
    max_households: int,
    bounds: Mapping[str, tuple[int, int]] | None,
    sliver_m2: float,
    tolerance_m2: float,
) -> dict[str, tuple[float, float]]:
    for name, value in (("sliver_m2", sliver_m2), ("tolerance_m2", tolerance_m2)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise InputError(f"`{name}` was {value!r} but is expected to be a number >= 0")
    if not (0 <= min_households <= max_households):
        raise InputError(
            f"`min_households` was {min_households!r} and `max_households` {max_households!r}; "
            "expected 0 <= min_households <= max_households"
        )
    checked: dict[str, tuple[float, float]] = {}
    for key, pair in (bounds or {}).items():
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            low, high = math.nan, math.nan
        if not (0 <= low <= high):
            raise InputError(
                f"`bounds` for community {key!r} was {pair!r} but is expected to be a "
                "(min, max) pair of household counts with 0 <= min <= max"
            )
        checked[str(key)] = (low, high)
    return checked


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
    # A loop over the rows of a few community outlines, to list every bad one together.
    for k, text in enumerate(codes):
        where = f"row {k + 1}" + (f" ({text})" if text else "")
        if text is None:
            problems.append(f"{where}: no code")
        if not ok_kind[k]:
            kind = "no geometry" if kinds[k] < 0 else f"a {geoms[k].geom_type}, not a polygon"
            problems.append(f"{where}: {kind}")
        elif not valid[k]:
            problems.append(f"{where}: {shapely.is_valid_reason(geoms[k])}")
    named = pd.Series([c for c in codes if c is not None], dtype=object)
    for text in sorted(set(named[named.duplicated()])):
        problems.append(f"code {text} appears more than once")
    if problems:
        raise InputError(
            "`communities` must hold one valid polygon per community code; "
            + listing(problems, shown=_SHOWN_ROWS)
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


# --- the entry point ----------------------------------------------------------------------------


def validate_layout(
    cells: gpd.GeoDataFrame,
    *,
    code: str = "code",
    community: str | None = None,
    communities: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    households: str | None = None,
    min_households: int = 300,
    max_households: int = 500,
    bounds: Mapping[str, tuple[int, int]] | None = None,
    sliver_m2: float = 50.0,
    tolerance_m2: float = NOISE_M2,
    flags: str | None = None,
) -> LayoutReport:
    """Check a cell layout against the rules of grid management; report every problem.

    Parameters
    ----------
    cells:
        One row per cell: a code column and a (Multi)Polygon, in EPSG:4326 /
        CGCS2000 or a projected CRS in metres. Not changed.
    code:
        Column with each cell's code.
    community:
        Column with each cell's community code. Without it (or where it is
        empty) the community is the first 12 digits of a 15-digit code, or
        ``<group>`` of a code ``<group>-NNN``.
    communities:
        Community outlines (columns ``code`` and geometry) in the CRS of
        ``cells``: enables the gap, outside-community and crosses-community
        checks. Every outline is expected to be covered by cells.
    units:
        Buildings or small areas (points or polygons) in the CRS of
        ``cells``, identified by their index: enables the split-unit and
        unassigned-unit checks and counting households from ``units``.
    households:
        Column with household counts: of ``units`` when given, else of
        ``cells``. Without it, households are not checked.
    min_households, max_households:
        Households allowed per cell (DOMAIN.md: 300–500 in urban communities).
    bounds:
        Per-community ``(min, max)`` overrides, keyed by community code.
    sliver_m2:
        A cell part or gap smaller than this is a sliver (see the module's rules).
    tolerance_m2:
        Overlaps, gaps, areas outside and unit shares not above this are noise
        (default :data:`gridgis.partition.units.NOISE_M2`, 1 m²: the engine never
        makes a cell of a piece this small).
    flags:
        Column of ``cells`` with the engine's flags (a list of strings, or a
        comma-separated string): a cell flagged ``"oversized_unit"`` gets its
        ``households_above_max`` finding, and one flagged ``"below_min"`` its
        ``households_below_min`` finding, as a warning naming the flag.

    Returns
    -------
    LayoutReport
        The findings (see :data:`FINDING_KINDS`), counts of cells and
        communities, and the households counted per cell.

    Raises
    ------
    CRSError
        When a frame has no CRS, or ``communities`` / ``units`` are in another
        CRS than ``cells`` (nothing is reprojected silently).
    CoordinateError
        When the CRS is geographic but coordinates are not lon/lat (metres
        labelled EPSG:4326).
    InputError
        When a named column is missing, an option is out of range, household
        counts are not numbers, the CRS is projected but not in metres, or a
        community outline is missing, invalid or duplicated.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cells = gpd.GeoDataFrame(
    ...     {"code": ["350304001001001", "350304001001002"], "households": [420, 260]},
    ...     geometry=[box(119.00, 25.40, 119.01, 25.41), box(119.01, 25.40, 119.02, 25.41)],
    ...     crs="EPSG:4326")
    >>> outline = gpd.GeoDataFrame({"code": ["350304001001"]},
    ...     geometry=[box(119.00, 25.40, 119.02, 25.41)], crs="EPSG:4326")
    >>> report = validate_layout(cells, communities=outline, households="households")
    >>> for line in report.lines():
    ...     print(line)  # doctest: +NORMALIZE_WHITESPACE
    2 cells in 1 community: NOT ok, 1 error(s), 0 warning(s) (households_below_min 1)
    households_below_min 350304001001002 / 350304001001: 260 households
    at (119.015000, 25.405000) — 260 households, below the minimum of 300
    (default for community 350304001001) [error]
    """
    if not isinstance(cells, gpd.GeoDataFrame):
        raise InputError(f"`cells` must be a GeoDataFrame, not a {type(cells).__name__}")
    checked_bounds = _check_options(
        min_households=min_households,
        max_households=max_households,
        bounds=bounds,
        sliver_m2=sliver_m2,
        tolerance_m2=tolerance_m2,
    )
    crs = _check_crs(cells)
    if communities is not None:
        _check_other_crs(communities, "communities", crs)
        _column(communities, "code", "communities", "`communities`")
    if units is not None:
        _check_other_crs(units, "units", crs)
    if crs.is_geographic:
        for name, frame in (("cells", cells), ("communities", communities), ("units", units)):
            if frame is not None:
                _check_lonlat(frame, name)
    cell_counts = unit_counts = None
    if households is not None:
        if units is not None:
            unit_counts = _counts(units, households, "`units`")
        else:
            cell_counts = _counts(cells, households, "`cells`")
    flag_values = list(_column(cells, flags, "flags", "`cells`")) if flags is not None else None

    data = _Cells(cells, code, community)
    measure = Measure(crs)
    found = _Findings()
    _check_geometry(data, measure, sliver_m2, found)
    known = community is not None or communities is not None
    _check_codes(data, code=code, community_known=known, found=found)
    tree = _check_overlaps(data, measure, tolerance_m2, found)
    if communities is not None:
        _check_communities(
            data,
            communities,
            measure,
            sliver_m2=sliver_m2,
            tolerance_m2=tolerance_m2,
            found=found,
        )
    counts = cell_counts
    if units is not None:
        counted = _check_units(data, tree, units, unit_counts, measure, tolerance_m2, found)
        counts = counted if unit_counts is not None else None
    if counts is not None:
        _check_households(
            data,
            counts,
            min_households=min_households,
            max_households=max_households,
            bounds=checked_bounds,
            flags=flag_values,
            found=found,
        )

    named = {c for c in data.community if c is not None}
    if communities is not None:
        named |= {t for t in (_text(v) for v in communities["code"]) if t is not None}
    series = None
    if counts is not None:
        series = pd.Series(counts, index=cells.index, name="households", dtype="float64")
    return LayoutReport(
        found.located(crs),
        cells=data.n,
        communities=len(named),
        households=series,
        overlap_m2=found.overlap_m2,
    )
