"""GeoJSON text of the app's answers (gridgis.web.geojson) against geopandas' own writer."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridgis.errors import CRSError
from gridgis.web.geojson import feature_collection, feature_texts, json_text, json_value


def _frame() -> gpd.GeoDataFrame:
    square = shapely.box(119.00000001, 25.4, 119.01, 25.41)
    holed = shapely.Polygon(
        square.exterior.coords, [shapely.box(119.002, 25.402, 119.003, 25.403).exterior.coords]
    )
    geoms = [
        square,
        shapely.MultiPolygon([holed, shapely.box(119.02, 25.4, 119.03, 25.41)]),
        shapely.Point(119.123456789, 25.987654321),
        shapely.LineString([(119.0, 25.4), (119.1, 25.5)]),
        None,
        shapely.Polygon(),
    ]
    return gpd.GeoDataFrame(
        {
            "code": ["350304001001", "350304001002", "东梅社区", None, "x", "y"],
            "households": np.array([412, 388, 0, 5, 6, 7], dtype=np.int64),
            "share": [0.5, math.nan, 1.0, np.inf, 0.25, 0.0],
            "covered": [True, False, True, False, True, False],
            "count": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def _rounded(value: object, decimals: int = 7) -> object:
    if isinstance(value, list):
        return [_rounded(v, decimals) for v in value]
    if isinstance(value, float):
        return round(value, decimals)
    return value


def test_features_equal_geopandas_with_nulls_for_missing_values() -> None:
    frame = _frame()
    ours = json.loads(feature_collection(frame))
    theirs = json.loads(frame.to_json(drop_id=True, na="null"))
    at = pd.to_datetime(["2026-11-22 00:30", None] * 3, utc=True)
    timed = json.loads(feature_collection(frame.assign(at=at.tz_convert("Asia/Shanghai"))))
    assert [f["properties"]["at"] for f in timed["features"][:2]] == [
        "2026-11-22T08:30:00+08:00",
        None,
    ]
    assert ours["type"] == "FeatureCollection"
    assert len(ours["features"]) == len(theirs["features"]) == len(frame)
    for mine, other in zip(ours["features"], theirs["features"], strict=True):
        assert mine["type"] == "Feature"
        expected = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in other["properties"].items()
        }
        assert mine["properties"] == expected
        if other["geometry"] is None or not other["geometry"]["coordinates"]:
            assert mine["geometry"] is None  # missing and empty are both null
        else:
            assert mine["geometry"]["type"] == other["geometry"]["type"]
            assert mine["geometry"]["coordinates"] == _rounded(other["geometry"]["coordinates"])
    point = ours["features"][2]
    assert point["properties"]["code"] == "东梅社区"
    assert point["geometry"]["coordinates"] == [119.1234568, 25.9876543]
    assert ours["features"][1]["properties"]["share"] is None
    assert ours["features"][3]["properties"]["share"] is None  # infinity is not JSON
    assert ours["features"][1]["properties"]["count"] is None


def test_text_is_strict_json_with_chinese_kept() -> None:
    text = feature_collection(_frame(), members={"summary": {"名称": "荔城区", "z": np.nan}})
    assert "NaN" not in text and "Infinity" not in text
    assert "东梅社区" in text  # not \\u escapes
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert parsed["summary"] == {"名称": "荔城区", "z": None}


def test_without_geometry_any_crs_and_only_properties() -> None:
    projected = _frame().to_crs("EPSG:4547")
    texts = feature_texts(projected, geometry=False)
    parsed = [json.loads(t) for t in texts]
    assert [f["geometry"] for f in parsed] == [None] * len(projected)
    assert [f["properties"]["households"] for f in parsed] == [412, 388, 0, 5, 6, 7]


def test_other_crs_is_refused_naming_it() -> None:
    with pytest.raises(CRSError, match="EPSG:4547"):
        feature_texts(_frame().to_crs("EPSG:4547"))


def test_collection_joins_frames_features_and_members_in_order() -> None:
    frame = _frame()
    extra = feature_texts(frame.iloc[:1].assign(role="facility"))
    parsed = json.loads(
        feature_collection(frame.iloc[1:2], features=extra, members={"k": 3, "when": None})
    )
    assert [f["properties"]["code"] for f in parsed["features"]] == [
        "350304001002",
        "350304001001",
    ]
    assert parsed["features"][1]["properties"]["role"] == "facility"
    assert parsed["k"] == 3 and parsed["when"] is None


def test_empty_frame_and_no_frame() -> None:
    empty = _frame().iloc[:0]
    assert json.loads(feature_collection(empty)) == {"type": "FeatureCollection", "features": []}
    assert json.loads(feature_collection()) == {"type": "FeatureCollection", "features": []}


def test_json_value_converts_numpy_times_and_nesting() -> None:
    value = {
        1: np.int32(7),
        "at": pd.Timestamp("2026-11-22 08:30", tz="Asia/Shanghai"),
        "missing": [pd.NaT, pd.NA, None, float("-inf")],
        "arr": np.array([1.5, np.nan]),
        "flag": np.bool_(True),
    }
    assert json_value(value) == {
        "1": 7,
        "at": "2026-11-22T08:30:00+08:00",
        "missing": [None, None, None, None],
        "arr": [1.5, None],
        "flag": True,
    }
    assert json_text([np.float64(0.1)]) == "[0.1]"


def test_times_are_answered_at_plus_eight_hours_whatever_the_year() -> None:
    old = pd.Timestamp("1900-01-01 00:00", tz="UTC")
    assert json_value({"at": old}) == {"at": "1900-01-01T08:00:00+08:00"}
    assert json_value({"at": old.tz_convert("Asia/Shanghai")}) == {
        "at": "1900-01-01T08:00:00+08:00"  # not 08:05:43+08:05:43, zoneinfo's local mean time
    }
    frame = _frame().iloc[:1].assign(at=pd.Series([old], dtype="datetime64[us, UTC]"))
    (feature,) = json.loads(feature_collection(frame))["features"]
    assert feature["properties"]["at"] == "1900-01-01T08:00:00+08:00"
