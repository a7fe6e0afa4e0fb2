"""Tests of gridgis.crs: China's coordinate systems, metric CRS choice, sanity checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import geopandas
import numpy as np
import pyproj
import pytest
import shapely
from numpy.typing import ArrayLike
from shapely import LineString, Point, Polygon

from gridgis import crs
from gridgis.errors import CoordinateError, CRSError

GEOD = pyproj.Geod(ellps="WGS84")

# --- the published algorithm, written out point by point as a reference ------------------------
# This is the textbook scalar form of GCJ-02 / BD-09 (Krasovsky a = 6378245.0,
# ee = 0.00669342162296594323, x_pi = pi * 3000 / 180), kept independent of the
# vectorised code under test.

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0


def _ref_transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _ref_transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _ref_out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _ref_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _ref_out_of_china(lon, lat):
        return lon, lat
    dlat = _ref_transform_lat(lon - 105.0, lat - 35.0)
    dlon = _ref_transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def _ref_gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def _distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> np.ndarray:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


Grid = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def china_grid() -> Grid:
    """WGS84 points every 0.25 degree over lon 73.5–135, lat 18–53.5 (35,000 points)."""
    lon, lat = np.meshgrid(np.arange(73.5, 135.01, 0.25), np.arange(18.0, 53.51, 0.25))
    return lon.ravel(), lat.ravel()


# --- reference values ---------------------------------------------------------------------------


def test_matches_published_coordtransform_values() -> None:
    # wandergis/coordtransform README (the most copied implementation), Tiananmen 116.404, 39.915.
    assert crs.wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12
    )
    assert crs.gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12
    )
    # wandergis/coordTransform_py README.
    assert crs.wgs84_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41662724378733, 39.922699552216216), abs=1e-12
    )


def test_matches_gcoord_values() -> None:
    # hujiulong/gcoord unit tests, compared to 5 decimals there.
    assert crs.gcj02_to_wgs84(123.0, 45.0) == pytest.approx((122.99395597, 44.99804071), abs=5e-6)
    assert crs.gcj02_to_bd09(123.0, 45.0) == pytest.approx((123.00636499, 45.00636899), abs=5e-6)


def test_tiananmen_shift() -> None:
    lon, lat = crs.wgs84_to_gcj02(116.397, 39.909)
    assert (lon, lat) == pytest.approx((116.4032, 39.9104), abs=1e-4)
    shift = _distance_m(116.397, 39.909, lon, lat)
    assert 500 < shift < 600


def test_forward_transforms_match_reference_algorithm(china_grid: Grid) -> None:
    lon, lat = china_grid
    rng = np.random.default_rng(7)
    pick = rng.choice(lon.size, 500, replace=False)
    glon, glat = crs.wgs84_to_gcj02(lon[pick], lat[pick])
    blon, blat = crs.gcj02_to_bd09(glon, glat)
    for i, k in enumerate(pick):
        assert (glon[i], glat[i]) == pytest.approx(_ref_wgs84_to_gcj02(lon[k], lat[k]), abs=1e-12)
        assert (blon[i], blat[i]) == pytest.approx(_ref_gcj02_to_bd09(glon[i], glat[i]), abs=1e-12)


def test_inverse_is_iterative_not_one_step() -> None:
    # The published one-step inverse of (116.404, 39.915) is
    # (116.39775550083061, 39.91359571849836); the iterative result differs from it by
    # about a metre and maps back exactly.
    lon, lat = crs.gcj02_to_wgs84(116.404, 39.915)
    one_step = (116.39775550083061, 39.91359571849836)
    assert 0.05 < _distance_m(lon, lat, *one_step) < 5
    assert crs.wgs84_to_gcj02(lon, lat) == pytest.approx((116.404, 39.915), abs=1e-10)
    # Likewise bd09togcj02(116.404, 39.915) = (116.39762729119315, 39.90865673957631) one-step.
    glon, glat = crs.bd09_to_gcj02(116.404, 39.915)
    assert crs.gcj02_to_bd09(glon, glat) == pytest.approx((116.404, 39.915), abs=1e-10)
    assert _distance_m(glon, glat, 116.39762729119315, 39.90865673957631) < 1


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [
        (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84),
        (crs.gcj02_to_bd09, crs.bd09_to_gcj02),
        (crs.wgs84_to_bd09, crs.bd09_to_wgs84),
    ],
    ids=["gcj02", "bd09-from-gcj02", "bd09-from-wgs84"],
)
def test_round_trip_error_below_5cm_over_china(
    china_grid: Grid, forward: Callable[..., Any], inverse: Callable[..., Any]
) -> None:
    lon, lat = china_grid
    flon, flat = forward(lon, lat)
    shift = _distance_m(lon, lat, flon, flat)
    assert shift.min() > 10  # every point in China moves (tens to hundreds of metres)
    back_lon, back_lat = inverse(flon, flat)
    error = _distance_m(lon, lat, back_lon, back_lat)
    assert error.max() < 0.05
    assert error.max() < 0.001  # in practice well under a millimetre


def test_outside_china_unchanged() -> None:
    lon = np.array([2.35, -74.0, 139.69, 151.2, 100.0, 180.0])
    lat = np.array([48.86, 40.7, 35.69, -33.87, 0.5, 60.0])
    for func in (crs.wgs84_to_gcj02, crs.gcj02_to_wgs84):
        out_lon, out_lat = func(lon, lat)
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_nan_passes_through() -> None:
    lon, lat = crs.gcj02_to_wgs84([np.nan, 116.4], [39.9, np.nan])
    assert np.isnan(lon[0]) and np.isnan(lat[1])
    scalar_lon, _ = crs.bd09_to_wgs84(np.nan, 39.9)
    assert math.isnan(scalar_lon)


def test_scalars_give_floats_and_arrays_keep_shape() -> None:
    lon, lat = crs.wgs84_to_gcj02(116, 40)
    assert type(lon) is float and type(lat) is float
    grid_lon = np.array([[116.0, 117.0], [118.0, 119.0]])
    out_lon, out_lat = crs.bd09_to_wgs84(grid_lon, 40.0)
    assert out_lon.shape == (2, 2) and out_lat.shape == (2, 2)
    assert out_lon.dtype == np.float64
    out_lon, _ = crs.gcj02_to_wgs84([116, 117], [39, 40])
    assert isinstance(out_lon, np.ndarray) and out_lon.shape == (2,)


def test_input_is_not_modified() -> None:
    lon = np.array([116.4, 120.8])
    lat = np.array([39.9, 40.7])
    crs.gcj02_to_wgs84(lon, lat)
    crs.bd09_to_gcj02(lon, lat)
    np.testing.assert_array_equal(lon, [116.4, 120.8])
    np.testing.assert_array_equal(lat, [39.9, 40.7])


def test_mismatched_shapes_rejected() -> None:
    with pytest.raises(CoordinateError, match=r"shape \(3,\) .* shape \(2,\)"):
        crs.wgs84_to_gcj02([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(CoordinateError, match="coordinates must be numbers"):
        crs.wgs84_to_gcj02(["east"], [1.0])


# --- parse_crs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name", "obfuscation", "is_wgs84"),
    [
        ("wgs84", "wgs84", None, True),
        ("WGS84", "wgs84", None, True),
        ("CGCS2000", "cgcs2000", None, True),
        ("gcj02", "gcj02", "gcj02", False),
        ("GCJ-02", "gcj02", "gcj02", False),
        ("Bd09", "bd09", "bd09", False),
        ("EPSG:4547", "EPSG:4547", None, False),
        ("epsg:32650", "EPSG:32650", None, False),
        ("4490", "EPSG:4490", None, True),
        (4326, "EPSG:4326", None, True),
        ("OGC:CRS84", "OGC:CRS84", None, True),
    ],
)
def test_parse_crs_accepted_forms(
    value: crs.CRSLike, name: str, obfuscation: str | None, is_wgs84: bool
) -> None:
    spec = crs.parse_crs(value)
    assert spec.name == name
    assert spec.obfuscation == obfuscation
    assert spec.is_obfuscated == (obfuscation is not None)
    assert spec.is_wgs84 == is_wgs84
    assert (spec.crs is None) == spec.is_obfuscated


def test_parse_crs_passes_crs_objects_through() -> None:
    spec = crs.parse_crs(pyproj.CRS.from_epsg(4549))
    assert spec.crs is not None and spec.crs.to_epsg() == 4549
    assert crs.parse_crs(spec) is spec
    assert crs.parse_crs("cgcs2000").crs == pyproj.CRS.from_epsg(4490)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("mars", r"pyproj: "),
        ("", r"it is empty"),
        (None, r"no CRS given"),
        (True, r"no CRS given"),
        (3.5, r"a float is not a CRS"),
        (999999, r"EPSG:999999 does not exist"),
        ("EPSG:99999", r"crs not found"),
    ],
)
def test_parse_crs_errors_name_value_and_choices(value: Any, detail: str) -> None:
    allowed = r"is expected to be one of wgs84, cgcs2000, gcj02, bd09 or a CRS that pyproj"
    with pytest.raises(CRSError, match=rf"^`crs` was {value!r} but {allowed}.*{detail}"):
        crs.parse_crs(value)


def test_crs_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="`crs` was 'gcj-2'"):
        crs.parse_crs("gcj-2")


def test_choices_help_lists_every_named_system() -> None:
    for name in ("wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:nnnn"):
        assert name in crs.CRS_CHOICES_HELP
    assert crs.CRS_CHOICES == "wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn"


# --- to_wgs84 / from_wgs84 ----------------------------------------------------------------------


def test_to_and_from_wgs84_projected() -> None:
    x, y = crs.from_wgs84(114.0, 28.0, "EPSG:4547")
    assert x == pytest.approx(500000.0, abs=1e-3)
    lon, lat = crs.to_wgs84(x, y, "epsg:4547")
    assert (lon, lat) == pytest.approx((114.0, 28.0), abs=1e-9)
    xs, ys = crs.from_wgs84([113.0, 113.1], [28.1, 28.2], 32649)
    assert isinstance(xs, np.ndarray) and xs.shape == ys.shape == (2,)


def test_to_and_from_wgs84_obfuscated() -> None:
    assert crs.from_wgs84(116.404, 39.915, "gcj02") == crs.wgs84_to_gcj02(116.404, 39.915)
    assert crs.from_wgs84(116.404, 39.915, "BD09") == crs.wgs84_to_bd09(116.404, 39.915)
    lon, lat = crs.to_wgs84(*crs.wgs84_to_bd09(120.84, 40.71), "bd09")
    assert (lon, lat) == pytest.approx((120.84, 40.71), abs=1e-9)


def test_cgcs2000_is_identity() -> None:
    assert crs.to_wgs84(116.404, 39.915, "cgcs2000") == (116.404, 39.915)
    assert crs.from_wgs84(116.404, 39.915, 4490) == (116.404, 39.915)


# --- geometries and frames -----------------------------------------------------------------------


def test_transform_geometry_all_kinds() -> None:
    polygon = Polygon([(113.0, 28.0), (113.1, 28.0), (113.1, 28.1), (113.0, 28.0)])
    line = LineString([(120.8, 40.7), (120.9, 40.8)])
    point = Point(119.0, 25.4, 12.5)
    out = crs.transform_geometry([polygon, line, point], from_crs="gcj02", to_crs="wgs84")
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert [g.geom_type for g in out] == ["Polygon", "LineString", "Point"]
    expected = crs.gcj02_to_wgs84(*shapely.get_coordinates(polygon).T)
    np.testing.assert_allclose(shapely.get_coordinates(out[0]).T, expected, atol=1e-12)
    assert out[2].has_z and out[2].z == 12.5
    single = crs.transform_geometry(line, from_crs="wgs84", to_crs="bd09")
    assert isinstance(single, LineString)
    np.testing.assert_allclose(
        shapely.get_coordinates(single).T,
        crs.wgs84_to_bd09(*shapely.get_coordinates(line).T),
        atol=1e-12,
    )


def test_transform_geometry_geoseries() -> None:
    series = geopandas.GeoSeries([Point(116.4, 39.9), None], index=["a", "b"], crs="EPSG:4326")
    out = crs.transform_geometry(series, from_crs="wgs84", to_crs="EPSG:4548")
    assert list(out.index) == ["a", "b"]
    assert out.crs == pyproj.CRS.from_epsg(4548)
    assert out.iloc[1] is None
    gcj = crs.transform_geometry(series, from_crs="wgs84", to_crs="gcj02")
    assert gcj.crs is None
    with pytest.raises(CRSError, match=r"GeoSeries is in EPSG:4326 but `from_crs` was 'gcj02'"):
        crs.transform_geometry(series, from_crs="gcj02", to_crs="wgs84")


def test_transform_geometry_projected_to_projected() -> None:
    point = Point(500000.0, 3100000.0)
    out = crs.transform_geometry(point, from_crs="EPSG:4547", to_crs="EPSG:32649")
    lon, lat = crs.to_wgs84(out.x, out.y, 32649)
    assert (lon, lat) == pytest.approx(crs.to_wgs84(500000.0, 3100000.0, 4547), abs=1e-9)


@pytest.fixture()
def amap_cases() -> geopandas.GeoDataFrame:
    """Two case locations copied from AMap (GCJ-02), with no CRS, odd index."""
    return geopandas.GeoDataFrame(
        {"case": ["A1", "A2"]},
        geometry=[Point(120.8346, 40.7124), Point(113.0123, 28.1234)],
        index=[10, 42],
    )


def test_to_wgs84_frame_converts_without_mutating(amap_cases: geopandas.GeoDataFrame) -> None:
    before = amap_cases.copy()
    out = crs.to_wgs84_frame(amap_cases, "gcj02")
    assert out is not amap_cases
    assert out.crs == pyproj.CRS.from_epsg(4326)
    assert list(out.index) == [10, 42]
    assert list(out["case"]) == ["A1", "A2"]
    assert amap_cases.crs is None
    assert amap_cases.geom_equals_exact(before, tolerance=0).all()
    lon, lat = crs.gcj02_to_wgs84([120.8346, 113.0123], [40.7124, 28.1234])
    np.testing.assert_allclose(out.geometry.x, lon, atol=1e-12)
    np.testing.assert_allclose(out.geometry.y, lat, atol=1e-12)


def test_to_wgs84_frame_refuses_mismatched_crs(amap_cases: geopandas.GeoDataFrame) -> None:
    declared = amap_cases.set_crs("EPSG:4326")
    with pytest.raises(CRSError, match=r"data says it is in EPSG:4326 but `crs` was 'gcj02'"):
        crs.to_wgs84_frame(declared, "gcj02")
    projected = declared.to_crs(4549)
    with pytest.raises(CRSError, match=r"EPSG:4549 but `crs` was 'EPSG:4547'"):
        crs.to_wgs84_frame(projected, "EPSG:4547")


def test_to_wgs84_frame_needs_a_crs(amap_cases: geopandas.GeoDataFrame) -> None:
    with pytest.raises(CRSError, match=r"no CRS and none was given: pass --crs wgs84 \| cgcs2000"):
        crs.to_wgs84_frame(amap_cases)


def test_to_wgs84_frame_uses_own_crs_and_override(amap_cases: geopandas.GeoDataFrame) -> None:
    declared = amap_cases.set_crs("EPSG:4326")
    same = crs.to_wgs84_frame(declared, "wgs84")
    assert same.geom_equals_exact(declared, tolerance=0).all()
    overridden = crs.to_wgs84_frame(declared, "gcj02", allow_override=True)
    np.testing.assert_allclose(
        overridden.geometry.x, crs.to_wgs84_frame(amap_cases, "gcj02").geometry.x, atol=0
    )
    projected = declared.to_crs(4549)
    back = crs.to_wgs84_frame(projected)
    np.testing.assert_allclose(back.geometry.x, declared.geometry.x, atol=1e-9)
    cgcs = crs.to_wgs84_frame(amap_cases.set_crs(4490), "wgs84")
    assert cgcs.crs == pyproj.CRS.from_epsg(4326)


# --- metric_crs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "lonlat", "epsg", "meridian"),
    [
        ("Beijing", (116.40, 39.91), 4548, 117),
        ("Putian 荔城区", (119.02, 25.43), 4549, 120),
        ("Huludao 龙港区", (120.84, 40.71), 4549, 120),
        ("Changsha 雨花区", (113.04, 28.13), 4547, 114),
        ("Liaoyuan 龙山区", (125.15, 42.90), 4551, 126),
    ],
)
def test_metric_crs_chooses_gauss_kruger_zone(
    place: str, lonlat: tuple[float, float], epsg: int, meridian: int
) -> None:
    chosen = crs.metric_crs(lonlat)
    assert chosen.to_epsg() == epsg, place
    assert chosen.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {meridian}E"
    assert crs.metric_crs(Point(lonlat)).to_epsg() == epsg


def test_metric_crs_covers_every_zone() -> None:
    for epsg in range(4534, 4555):
        meridian = 75 + 3 * (epsg - 4534)
        assert pyproj.CRS.from_epsg(epsg).name.endswith(f"CM {meridian}E")
        for lon in (meridian - 1.4, meridian, meridian + 1.4):
            if 73.5 <= lon <= 135.1:
                assert crs.metric_crs((lon, 35.0)).to_epsg() == epsg


def test_metric_crs_outside_china_is_utm() -> None:
    assert crs.metric_crs((2.35, 48.86)).to_epsg() == 32631  # Paris
    assert crs.metric_crs((151.2, -33.87)).to_epsg() == 32756  # Sydney
    assert crs.metric_crs((139.69, 35.69)).to_epsg() == 32654  # Tokyo


def test_metric_crs_of_frames_and_arrays(amap_cases: geopandas.GeoDataFrame) -> None:
    projected = amap_cases.set_crs(4326).to_crs(4547)
    assert crs.metric_crs(projected).to_epsg() == crs.metric_crs(amap_cases).to_epsg()
    assert crs.metric_crs((np.array([113.0, 113.2]), np.array([28.0, 28.2]))).to_epsg() == 4547
    with pytest.raises(CoordinateError, match=r"centroid \(500000.0, 3100000.0\) is not"):
        crs.metric_crs(Point(500000.0, 3100000.0))


# --- sanity checks -------------------------------------------------------------------------------


def test_check_lonlat_flags() -> None:
    lon = [116.4, 39.9, 2.35, np.nan, 500000.0, 200.0, 45.0, 120.0]
    lat = [39.9, 116.4, 48.86, 30.0, 3100000.0, 40.0, 80.0, -95.0]
    flags = crs.check_lonlat(lon, lat)
    assert flags.tolist() == [
        "ok",
        "swapped",
        "outside_china",
        "invalid",
        "invalid",
        "invalid",
        "swapped",  # lat 80 is a valid arctic latitude, but (80, 45) is in China
        "invalid",
    ]
    assert set(flags.tolist()) <= set(crs.LONLAT_FLAGS)


def test_check_lonlat_shape_and_bbox() -> None:
    assert str(crs.check_lonlat(112.35, 16.83)) == "outside_china"  # Sansha, outside the box
    assert str(crs.check_lonlat(112.35, 16.83, bbox=(73.4, 3.3, 135.1, 53.6))) == "ok"
    flags = crs.check_lonlat(np.full((2, 3), 116.0), 39.0)
    assert flags.shape == (2, 3) and (flags == "ok").all()


def test_assert_lonlat_in_china_lists_bad_rows() -> None:
    crs.assert_lonlat_in_china([116.4, 120.8], [39.9, 40.7])  # no error
    with pytest.raises(
        CoordinateError,
        match=r"(?s)^2 of 3 points are not WGS84 lon/lat in China "
        r"\(lon 73.4–135.1, lat 18.1–53.6\):"
        r"\n  - row 2: lon=39.9, lat=116.4: longitude and latitude look swapped"
        r"\n  - row 3: lon=2.35, lat=48.86: outside China$",
    ):
        crs.assert_lonlat_in_china([116.4, 39.9, 2.35], [39.9, 116.4, 48.86])


def test_assert_lonlat_in_china_caps_the_list_and_hints_at_metres() -> None:
    x = np.full(30, 500000.0)
    y = np.full(30, 3100000.0)
    with pytest.raises(CoordinateError) as info:
        crs.assert_lonlat_in_china(x, y)
    message = str(info.value)
    assert "row 20: lon=500000, lat=3100000: not a longitude/latitude" in message
    assert "row 21:" not in message
    assert "  ... and 10 more" in message
    assert "look like projected metres: give their CRS, e.g. --crs EPSG:4547" in message
