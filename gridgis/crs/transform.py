"""Any coordinate system to and from WGS84: arrays, geometries and GeoDataFrames.

:func:`to_wgs84` and :func:`from_wgs84` convert coordinates,
:func:`transform_geometry` shapely geometries and :func:`to_wgs84_frame`
whole frames, through PROJ for real CRSs and the GCJ-02 / BD-09 formulas
for the obfuscated ones.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gridgis.crs._arrays import FloatArray, GeometryT, _finish, _prepare
from gridgis.crs.obfuscated import _bd09_to_gcj02, _gcj02_to_bd09, _gcj02_to_wgs84, _wgs84_to_gcj02
from gridgis.crs.parsing import (
    CRS_CHOICES,
    CRSLike,
    CRSSpec,
    _crs_from_epsg,
    _from_pyproj,
    _parse_text,
    _same_crs,
    parse_crs,
)
from gridgis.errors import CRSError

if TYPE_CHECKING:
    import geopandas


@functools.lru_cache(maxsize=64)
def _transformer(src: pyproj.CRS, dst: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _wgs84_spec() -> CRSSpec:
    return _parse_text("wgs84")


def _pyproj_transform(
    x: FloatArray, y: FloatArray, src: pyproj.CRS, dst: pyproj.CRS
) -> tuple[FloatArray, FloatArray]:
    tx, ty = _transformer(src, dst).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


def _to_wgs84(x: FloatArray, y: FloatArray, spec: CRSSpec) -> tuple[FloatArray, FloatArray]:
    if spec.obfuscation == "gcj02":
        return _gcj02_to_wgs84(x, y)
    if spec.obfuscation == "bd09":
        return _gcj02_to_wgs84(*_bd09_to_gcj02(x, y))
    if spec.is_wgs84:
        return x.copy(), y.copy()
    assert spec.crs is not None
    return _pyproj_transform(x, y, spec.crs, _crs_from_epsg(4326))


def _from_wgs84(lon: FloatArray, lat: FloatArray, spec: CRSSpec) -> tuple[FloatArray, FloatArray]:
    if spec.obfuscation == "gcj02":
        return _wgs84_to_gcj02(lon, lat)
    if spec.obfuscation == "bd09":
        return _gcj02_to_bd09(*_wgs84_to_gcj02(lon, lat))
    if spec.is_wgs84:
        return lon.copy(), lat.copy()
    assert spec.crs is not None
    return _pyproj_transform(lon, lat, _crs_from_epsg(4326), spec.crs)


def _convert(
    x: FloatArray, y: FloatArray, src: CRSSpec, dst: CRSSpec
) -> tuple[FloatArray, FloatArray]:
    if _same_crs(src, dst):
        return x.copy(), y.copy()
    if src.crs is not None and dst.crs is not None and not (src.is_wgs84 or dst.is_wgs84):
        return _pyproj_transform(x, y, src.crs, dst.crs)  # direct: PROJ picks the best path
    if src.obfuscation == "gcj02" and dst.obfuscation == "bd09":
        return _gcj02_to_bd09(x, y)
    if src.obfuscation == "bd09" and dst.obfuscation == "gcj02":
        return _bd09_to_gcj02(x, y)
    return _from_wgs84(*_to_wgs84(x, y, src), dst)


@overload
def to_wgs84(x: float, y: float, crs: CRSLike) -> tuple[float, float]: ...
@overload
def to_wgs84(x: ArrayLike, y: ArrayLike, crs: CRSLike) -> tuple[FloatArray, FloatArray]: ...
def to_wgs84(x: ArrayLike, y: ArrayLike, crs: CRSLike) -> Any:
    """Convert coordinates in any accepted system to WGS84 lon/lat.

    Parameters
    ----------
    x, y:
        Scalars or array-likes: lon/lat for geographic systems (GCJ-02,
        BD-09, CGCS2000...), easting/northing in metres for projected ones.
    crs:
        The system of ``x``/``y``, in any form :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        ``(lon, lat)`` in WGS84: floats for scalar input, otherwise float64 arrays.

    Raises
    ------
    CRSError
        When ``crs`` is not understood.

    Examples
    --------
    >>> lon, lat = to_wgs84(439_700.0, 4_416_300.0, "EPSG:4548")  # CGCS2000 GK CM 117E
    >>> round(lon, 3), round(lat, 3)
    (116.295, 39.879)
    >>> lon, lat = to_wgs84(116.41024449916938, 39.91640428150164, "gcj02")
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    spec = parse_crs(crs)
    px, py, shape = _prepare(x, y)
    return _finish(*_to_wgs84(px, py, spec), shape)


@overload
def from_wgs84(lon: float, lat: float, crs: CRSLike) -> tuple[float, float]: ...
@overload
def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRSLike) -> tuple[FloatArray, FloatArray]: ...
def from_wgs84(lon: ArrayLike, lat: ArrayLike, crs: CRSLike) -> Any:
    """Convert WGS84 lon/lat to any accepted system.

    Parameters
    ----------
    lon, lat:
        Scalars or array-likes, WGS84 degrees.
    crs:
        The target system, in any form :func:`parse_crs` accepts.

    Returns
    -------
    tuple
        ``(x, y)`` in ``crs``: floats for scalar input, otherwise float64 arrays.

    Examples
    --------
    >>> from_wgs84(116.404, 39.915, "gcj02")
    (116.41024449916938, 39.91640428150164)
    >>> x, y = from_wgs84(117.0, 40.0, "EPSG:4548")
    >>> round(x, 3)
    500000.0
    """
    spec = parse_crs(crs)
    px, py, shape = _prepare(lon, lat)
    return _finish(*_from_wgs84(px, py, spec), shape)


# --- geometries and frames ----------------------------------------------------------------------


def _transform_array(geoms: NDArray[np.object_], src: CRSSpec, dst: CRSSpec) -> NDArray:
    def func(coords: FloatArray) -> FloatArray:
        out = coords.copy()
        out[:, 0], out[:, 1] = _convert(coords[:, 0].copy(), coords[:, 1].copy(), src, dst)
        return out

    out = np.empty(geoms.shape, dtype=object)
    has_z = np.asarray(shapely.has_z(geoms), dtype=bool)
    # Two calls rather than include_z=None (shapely >= 2.1) so Z values are kept on any shapely 2.
    out[~has_z] = shapely.transform(geoms[~has_z], func, include_z=False)
    out[has_z] = shapely.transform(geoms[has_z], func, include_z=True)
    return out


@overload
def transform_geometry(geoms: GeometryT, *, from_crs: CRSLike, to_crs: CRSLike) -> GeometryT: ...
@overload
def transform_geometry(geoms: Any, *, from_crs: CRSLike, to_crs: CRSLike) -> Any: ...
def transform_geometry(geoms: Any, *, from_crs: CRSLike, to_crs: CRSLike) -> Any:
    """Transform geometries between any two accepted systems.

    Points, lines, polygons and collections all work: every coordinate goes
    through the vectorised transforms of this module (``shapely.transform``).

    Parameters
    ----------
    geoms:
        A shapely geometry, a sequence or numpy array of them, or a
        :class:`geopandas.GeoSeries`. A GeoSeries whose ``.crs`` is set must
        agree with ``from_crs``.
    from_crs, to_crs:
        Source and target systems, in any form :func:`parse_crs` accepts.

    Returns
    -------
    shapely.Geometry, numpy.ndarray or geopandas.GeoSeries
        The same kind as the input (a sequence gives an array). A GeoSeries
        keeps its index and gets ``.crs = to_crs`` (``None`` for GCJ-02/BD-09,
        which geopandas cannot represent).

    Raises
    ------
    CRSError
        When a CRS is not understood, or a GeoSeries' own CRS differs from
        ``from_crs``.

    Examples
    --------
    >>> from shapely import Point
    >>> p = transform_geometry(Point(116.41024449916938, 39.91640428150164),
    ...                        from_crs="gcj02", to_crs="wgs84")
    >>> round(p.x, 9), round(p.y, 9)
    (116.404, 39.915)
    """
    src = parse_crs(from_crs)
    dst = parse_crs(to_crs)
    if isinstance(geoms, shapely.Geometry):
        return _transform_array(np.array([geoms], dtype=object), src, dst)[0]
    import geopandas

    if isinstance(geoms, geopandas.GeoSeries):
        if geoms.crs is not None and not _same_crs(_from_pyproj(geoms.crs), src):
            raise CRSError(
                f"the GeoSeries is in {geoms.crs.to_string()} but `from_crs` was {src.name!r}; "
                "they must agree (set_crs(None, allow_override=True) first if the series' "
                "CRS is wrong)",
                zh=f"GeoSeries 的坐标系是 {geoms.crs.to_string()}，但 `from_crs` 为 {src.name!r}；"
                "两者必须一致（若其坐标系有误，请先 set_crs(None, allow_override=True)）",
            )
        values = _transform_array(np.asarray(geoms.array, dtype=object), src, dst)
        return geopandas.GeoSeries(values, index=geoms.index, crs=dst.crs, name=geoms.name)
    if isinstance(geoms, geopandas.GeoDataFrame):
        raise TypeError("transform_geometry takes geometries; use to_wgs84_frame for a frame")
    return _transform_array(np.asarray(geoms, dtype=object), src, dst)


def to_wgs84_frame(
    gdf: geopandas.GeoDataFrame,
    crs: CRSLike | None = None,
    *,
    allow_override: bool = False,
) -> geopandas.GeoDataFrame:
    """Return a copy of a GeoDataFrame in WGS84 (EPSG:4326).

    Parameters
    ----------
    gdf:
        The frame (or a GeoSeries). It is not changed.
    crs:
        The system its coordinates are in, in any form :func:`parse_crs`
        accepts; needed when ``gdf.crs`` is unset, and the only way to say
        that coordinates are GCJ-02 or BD-09 (geopandas cannot record them).
    allow_override:
        When ``gdf.crs`` is set and ``crs`` names a different system, use
        ``crs`` instead of raising. Meant for files that declare a wrong
        CRS, such as GeoJSON copied from AMap, which is GCJ-02 but read as
        EPSG:4326 because GeoJSON has no other choice.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with the same index and columns, ``.crs`` EPSG:4326; every
        geometry column is converted (a GeoSeries in gives a GeoSeries out).

    Raises
    ------
    CRSError
        When ``gdf.crs`` and ``crs`` differ (unless ``allow_override``), when
        neither is given, or when ``crs`` is not understood.

    Examples
    --------
    >>> import geopandas
    >>> from shapely import Point
    >>> cases = geopandas.GeoDataFrame({"case": ["A1"]},
    ...                                geometry=[Point(120.8346, 40.7124)])
    >>> out = to_wgs84_frame(cases, "gcj02")
    >>> out.crs.to_epsg(), round(float(out.geometry.x.iloc[0]), 5)
    (4326, 120.82941)
    """
    import geopandas

    if not isinstance(gdf, geopandas.GeoDataFrame | geopandas.GeoSeries):
        raise TypeError(f"expected a GeoDataFrame or GeoSeries, got {type(gdf).__name__}")
    own = _from_pyproj(gdf.crs) if gdf.crs is not None else None
    given = parse_crs(crs) if crs is not None else None
    if own is None and given is None:
        raise CRSError(
            f"the data has no CRS and none was given: pass --crs {CRS_CHOICES}",
            zh=f"数据没有注明坐标系，也没有指定坐标系：请选择坐标系（{CRS_CHOICES}）",
        )
    if own is not None and given is not None and not _same_crs(own, given) and not allow_override:
        raise CRSError(
            f"the data says it is in {own.name} but `crs` was {given.name!r}; gridgis never "
            "re-projects silently: give no `crs` to use the data's own, or pass "
            "allow_override=True if the data's CRS is wrong (GeoJSON copied from AMap is "
            "read as EPSG:4326 but holds gcj02)",
            zh=f"数据注明的坐标系是 {own.name}，但 `crs` 为 {given.name!r}；"
            "gridgis 从不悄悄转换坐标："
            "不指定 `crs` 则使用数据自己的坐标系；若数据注明的坐标系有误，请选择覆盖"
            "（从高德地图复制的 GeoJSON 按 EPSG:4326 读取，实为 gcj02）",
        )
    src = given if given is not None else own
    assert src is not None
    wgs84 = _wgs84_spec()
    if isinstance(gdf, geopandas.GeoSeries):
        values = _transform_array(np.asarray(gdf.array, dtype=object), src, wgs84)
        return geopandas.GeoSeries(values, index=gdf.index, crs="EPSG:4326", name=gdf.name)
    out = gdf.copy()
    # Every geometry column moves, not only the active one, so none is left behind in `src`.
    for column in gdf.columns[gdf.dtypes == "geometry"]:
        values = _transform_array(np.asarray(gdf[column].array, dtype=object), src, wgs84)
        out[column] = geopandas.GeoSeries(values, index=gdf.index, crs="EPSG:4326")
    return out.set_crs("EPSG:4326", allow_override=True)
