"""What :func:`~gridgis.partition.validate.validate_layout` reports: findings and the report.

:class:`LayoutFinding` (one problem, with its kind, amount and WGS84 point),
:class:`LayoutReport` (all of them, with a summary, printable lines and a
GeoDataFrame), the words they use (:data:`FINDING_KINDS`, :data:`SEVERITIES`,
:data:`UNITS`) and the collector the checks add to (``_Findings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gridgis import crs as crs_mod

__all__ = ["FINDING_KINDS", "SEVERITIES", "UNITS", "LayoutFinding", "LayoutReport"]

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

_KIND_ORDER = {kind: position for position, kind in enumerate(FINDING_KINDS)}


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
