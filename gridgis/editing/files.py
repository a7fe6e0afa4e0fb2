"""Reading an uploaded layout file (GeoJSON, GeoPackage, zipped shapefile; any CRS).

:func:`read_layout_file` reads one community's cells and reports every
problem of the file at once (missing or duplicated codes, wrong geometry,
no CRS).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import shapely

from gridgis import crs as crs_mod
from gridgis.codes import is_code
from gridgis.errors import CRSError, InputError, Problem, ValidationError, listing
from gridgis.io import read_vector

UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
"""Layout files :func:`read_layout_file` reads: GeoJSON, GeoPackage, a zipped shapefile."""

_SHOWN_ROWS = 5
"""How many other rows a duplicated code's problem names."""


def _code_text(value: object) -> str | None:
    """A code as text: numbers written by spreadsheets and DBF files lose their ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text_value = str(value).strip()
    return text_value or None


def _code_column(frame: gpd.GeoDataFrame, source: str) -> str:
    for column in frame.columns:
        if str(column).lower() == "code" and column != frame.geometry.name:
            return str(column)
    named = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
    columns = named or "none"
    raise InputError(
        f"{source} has no `code` column with each cell's 15-digit code; its columns are {columns}",
        zh=f"{source} 没有 code 列（每个网格的 15 位网格编码）；现有的列：{named or '无'}",
    )


def read_layout_file(
    path: str | Path,
    community_code: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    retired_codes: Iterable[str] = (),
    name: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a layout file into the cells of one community, rejecting bad features.

    Parameters
    ----------
    path:
        GeoJSON, GeoPackage, or a ``.zip`` holding a shapefile; one polygon
        per cell and a ``code`` column (any case) with its 15-digit code.
    community_code:
        The community the cells must belong to (their codes start with it).
    crs:
        The coordinates' system when the file does not say it, or to
        override it for GCJ-02 / BD-09 (``"gcj02"``, ``"bd09"``, ``"EPSG:4547"``...).
    encoding, layer:
        As for :func:`gridgis.io.read_vector`.
    retired_codes:
        Codes the community retired; they are never issued again.
    name:
        The file's name in messages (an upload's own name); default ``path``.

    Returns
    -------
    GeoDataFrame
        ``code``, ``flags`` (empty) and the (Multi)Polygon of each cell, EPSG:4326;
        its ``attrs`` say how a shapefile's text was decoded (``encoding``,
        ``encoding_source``, as :func:`gridgis.io.read_vector` sets them).

    Raises
    ------
    ValidationError
        Listing every rejected feature by its 1-based row number and the reason:
        no or empty geometry, not a polygon, an invalid polygon, a missing,
        malformed, foreign, duplicated or retired code.
    CRSError
        When the file does not say its CRS and ``crs`` is not given.
    InputError
        When the file cannot be read, has no ``code`` column or no feature.

    Examples
    --------
    >>> cells = read_layout_file("cells.zip", "350304001001")  # doctest: +SKIP
    """
    source = name or str(path)
    frame = read_vector(path, encoding=encoding, layer=layer, name=source)
    if frame.crs is None and crs is None:
        raise CRSError(
            f"{source} does not say its coordinate system (CRS): name it ({crs_mod.CRS_CHOICES})",
            zh=f"{source} 没有注明坐标系，请选择坐标系（{crs_mod.CRS_CHOICES}）",
        )
    if crs is not None:
        spec = crs_mod.parse_crs(crs)
        frame = crs_mod.to_wgs84_frame(frame, spec, allow_override=spec.is_obfuscated)
    else:
        frame = crs_mod.to_wgs84_frame(frame)
    if frame.empty:
        raise InputError(f"{source} holds no feature", zh=f"{source} 中没有任何要素")
    column = _code_column(frame, source)
    retired = set(retired_codes)
    geoms = shapely.force_2d(frame.geometry.to_numpy())
    codes = [_code_text(v) for v in frame[column]]
    seen: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        if code is not None:
            seen.setdefault(code, []).append(i + 1)
    problems: list[Problem] = []
    for i, (geom, code) in enumerate(zip(geoms, codes, strict=True)):
        row = i + 1
        if geom is None or shapely.is_empty(geom):
            problems.append(Problem(row, code, "the feature has no geometry"))
        elif not isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            problems.append(Problem(row, code, f"a cell must be a polygon, not a {geom.geom_type}"))
        elif not shapely.is_valid(geom):
            problems.append(Problem(row, code, f"invalid polygon: {shapely.is_valid_reason(geom)}"))
        if code is None:
            problems.append(Problem(row, None, "the `code` is empty"))
        elif not is_code(code, "cell"):
            problems.append(Problem(row, code, "a cell code has 15 digits"))
        elif not code.startswith(community_code):
            problems.append(Problem(row, code, f"the code is not of community {community_code}"))
        elif code in retired:
            problems.append(Problem(row, code, "the code was retired and is never issued again"))
        elif len(seen[code]) > 1:
            # Bounded: 2,000 rows sharing a code must not give 2,000 lists of 1,999 rows.
            others = itertools.islice((r for r in seen[code] if r != row), _SHOWN_ROWS)
            listed = listing(
                others, noun="", shown=_SHOWN_ROWS, sep=", ", count=len(seen[code]) - 1
            )
            problems.append(Problem(row, code, f"the code is also on row(s) {listed}"))
    if problems:
        raise ValidationError(
            f"{source}: {len({p.row for p in problems})} of {len(frame)} features rejected, "
            "nothing was stored",
            problems,
            zh=f"{source}：{len(frame)} 个要素中有 {len({p.row for p in problems})} 个被拒绝，"
            "未保存任何内容",
        )
    cells = gpd.GeoDataFrame(
        {"code": codes, "flags": [[] for _ in codes]},
        geometry=list(geoms),
        crs="EPSG:4326",
    )
    cells.attrs.update(frame.attrs)  # how the text was decoded
    return cells
