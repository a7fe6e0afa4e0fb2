"""JSON and GeoJSON text for the app's answers, written fast.

GeoDataFrame's own ``to_json`` builds a Python dict of every coordinate
(shapely's ``mapping``) and then writes it: for the placement map's thousand
walking areas that took most of the request. Here each geometry is written
by GEOS (:func:`shapely.to_geojson`, all geometries in one call), each
feature's properties by :func:`json.dumps`, and the collection is joined as
text; foreign members (``"summary"``, ``"density"``) go in without a second
parse. The values follow :func:`json_value`: missing and non-finite numbers
are ``null``, numpy numbers plain numbers, times ISO 8601 text.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.errors import CRSError
from gridgis.times import display_series, to_display

__all__ = [
    "COORDINATE_DECIMALS",
    "GEOJSON_MIMETYPE",
    "feature_collection",
    "feature_texts",
    "json_text",
    "json_value",
    "table_text",
]

GEOJSON_MIMETYPE = "application/geo+json"
COORDINATE_DECIMALS = 7
"""Decimals of degrees kept in each coordinate (7 is about 1 cm)."""


def json_value(value: Any) -> Any:
    """A value ready for :func:`json.dumps`, nested dicts and lists included.

    ``None``, NaN, infinities, ``pd.NA`` and ``NaT`` become ``None``; numpy
    scalars their Python values; dates and times ISO 8601 text; mappings
    and sequences are converted item by item (keys as text).

    Examples
    --------
    >>> json_value({"n": np.int64(3), "x": float("nan"), "at": pd.Timestamp("2026-11-22 08:00")})
    {'n': 3, 'x': None, 'at': '2026-11-22T08:00:00'}
    >>> json_value([np.float32(0.5), (1, np.inf)])
    [0.5, [1, None]]
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # most values: nothing to do
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:  # also pd.Timestamp
        return to_display(value)  # at +08:00, whatever the year
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _column_values(series: pd.Series) -> list[Any]:
    """The values of ``series`` as :func:`json_value` makes them, converted a column at a time."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        array = series.to_numpy()
        values: list[Any] = array.tolist()
        for i in np.flatnonzero(~np.isfinite(array)).tolist():
            values[i] = None
        return values
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return list(series.tolist())
    if isinstance(dtype, pd.DatetimeTZDtype):
        return [None if v is pd.NaT else v.isoformat() for v in display_series(series)]
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        return [None if v is pd.NaT else v.isoformat() for v in series]
    return [json_value(v) for v in series.to_numpy(dtype=object)]


def json_text(value: Any) -> str:
    """Compact JSON text of ``value`` (through :func:`json_value`), Chinese kept as it is.

    Examples
    --------
    >>> json_text({"名称": "东梅社区", "z": np.float64(1.5)})
    '{"名称":"东梅社区","z":1.5}'
    """
    return _ENCODER.encode(json_value(value))


def feature_texts(
    frame: gpd.GeoDataFrame,
    *,
    geometry: bool = True,
    decimals: int = COORDINATE_DECIMALS,
) -> list[str]:
    """The GeoJSON text of each row of ``frame`` as a Feature, in order.

    Parameters
    ----------
    frame:
        Features in EPSG:4326 (or without a CRS); every column but the
        geometry becomes a property.
    geometry:
        ``False`` writes ``"geometry": null`` (for a page that has the shapes
        already); the frame's CRS does not matter then.
    decimals:
        Decimals kept in each coordinate.

    Raises
    ------
    CRSError
        When ``frame`` is in another CRS than EPSG:4326 and ``geometry`` is true.

    Examples
    --------
    >>> frame = gpd.GeoDataFrame({"code": ["a"]}, geometry=[shapely.Point(119.01, 25.43)])
    >>> feature_texts(frame)
    ['{"type":"Feature","properties":{"code":"a"},"geometry":{"type":"Point","coordinates":[119.01,25.43]}}']
    """
    if geometry and frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        raise CRSError(
            f"GeoJSON needs EPSG:4326 but the features are in {frame.crs.to_string()}",
            zh=f"GeoJSON 需要 EPSG:4326 坐标，但这些要素的坐标系是 {frame.crs.to_string()}",
        )
    names = [str(c) for c in frame.columns if c != frame.geometry.name]
    columns = [_column_values(frame[c]) for c in frame.columns if c != frame.geometry.name]
    shapes: Iterable[str | None]
    if geometry and len(frame):
        geoms = np.asarray(frame.geometry.array, dtype=object)
        rounded = shapely.transform(geoms, lambda xy: np.round(xy, decimals))
        # GeoJSON has no empty geometry of its own: missing and empty are both null.
        rounded[shapely.is_missing(rounded) | shapely.is_empty(rounded)] = None
        shapes = list(shapely.to_geojson(rounded))
    else:
        shapes = [None] * len(frame)
    rows: Iterable[tuple[Any, ...]] = zip(*columns, strict=True) if columns else [()] * len(frame)
    out = []
    for shape, row in zip(shapes, rows, strict=True):
        properties = _ENCODER.encode(dict(zip(names, row, strict=True)))
        out.append(
            '{"type":"Feature","properties":'
            + properties
            + ',"geometry":'
            + (shape if shape is not None else "null")
            + "}"
        )
    return out


def feature_collection(
    frame: gpd.GeoDataFrame | None = None,
    *,
    features: Iterable[str] = (),
    members: Mapping[str, Any] | None = None,
    geometry: bool = True,
    decimals: int = COORDINATE_DECIMALS,
) -> str:
    """A FeatureCollection's text: the rows of ``frame``, then ``features``, then ``members``.

    Parameters
    ----------
    frame:
        Features in EPSG:4326 (see :func:`feature_texts`), or ``None``.
    features:
        Feature texts made already (e.g. by :func:`feature_texts` of other frames).
    members:
        Foreign members of the collection (``{"summary": {...}}``), written with
        :func:`json_text`.
    geometry, decimals:
        As for :func:`feature_texts`.

    Examples
    --------
    >>> feature_collection(members={"summary": {"cells": np.int64(0)}})
    '{"type":"FeatureCollection","features":[],"summary":{"cells":0}}'
    """
    texts = [] if frame is None else feature_texts(frame, geometry=geometry, decimals=decimals)
    texts.extend(features)
    head = '{"type":"FeatureCollection","features":[' + ",".join(texts) + "]"
    return head + _members_text(members) + "}"


def table_text(frame: pd.DataFrame, *, members: Mapping[str, Any] | None = None) -> str:
    """A table's JSON text: ``{"columns": [...], "rows": [[...], ...]}`` and ``members``.

    Each name is written once instead of once a row as in GeoJSON properties:
    for 30,000 cells and a dozen figures about a quarter of the size.
    Values as :func:`json_value` makes them.

    Examples
    --------
    >>> table_text(pd.DataFrame({"code": ["a", "b"], "x": [1.5, float("nan")]}), members={"n": 2})
    '{"columns":["code","x"],"rows":[["a",1.5],["b",null]],"n":2}'
    """
    names = [str(c) for c in frame.columns]
    columns = [_column_values(frame[c]) for c in frame.columns]
    rows = list(zip(*columns, strict=True)) if columns else []
    head = '{"columns":' + _ENCODER.encode(names) + ',"rows":' + _ENCODER.encode(rows)
    return head + _members_text(members) + "}"


def _members_text(members: Mapping[str, Any] | None) -> str:
    return "".join(
        "," + _ENCODER.encode(str(key)) + ":" + json_text(value)
        for key, value in (members or {}).items()
    )
