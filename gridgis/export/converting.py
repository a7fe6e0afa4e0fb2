"""Preparing the layers read for a file: coordinates and text encoding.

``_target`` parses the coordinate system asked for and the CRS the file
declares (GCJ-02 and BD-09 are declared as WGS 84), ``_project`` converts
the geometries, ``_check_text`` names every value GBK cannot encode, and
``_local`` gives times in China Standard Time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gridgis.crs import CRSSpec, parse_crs, transform_geometry
from gridgis.errors import FileEncodingError, InputError
from gridgis.export.layers import _kind, _Layer
from gridgis.times import display_series


def _target(crs: object) -> tuple[CRSSpec, str, Any]:
    """The parsed system, its name for messages, and the CRS a file declares."""
    spec = parse_crs(crs)  # type: ignore[arg-type]
    if spec.is_obfuscated or spec.crs is None:
        return spec, spec.name, "EPSG:4326"
    if (
        spec.crs.is_geocentric
        or spec.crs.is_vertical
        or not (spec.crs.is_geographic or spec.crs.is_projected)
    ):
        raise InputError(
            f"`crs` was {spec.name!r} ({spec.crs.name}) but an export needs a geographic or "
            "projected 2D system (e.g. wgs84, cgcs2000, gcj02, bd09 or EPSG:4547)",
            zh=f"`crs` 为 {spec.name!r}（{spec.crs.name}），但导出需要二维的地理或投影坐标系"
            "（如 wgs84、cgcs2000、gcj02、bd09 或 EPSG:4547）",
        )
    return spec, spec.name, spec.crs


def _project(layers: list[_Layer], spec: CRSSpec) -> None:
    if spec.name == "wgs84":
        return
    for layer in layers:
        if len(layer.geoms):
            layer.geoms = np.asarray(
                transform_geometry(layer.geoms, from_crs="wgs84", to_crs=spec), dtype=object
            )


def _row_label(layer: _Layer, position: int) -> tuple[str, str]:
    """The row at ``position``, named in English and in Chinese."""
    for key in ("id", "code"):
        if key in layer.frame.columns:
            value = layer.frame[key].iloc[position]
            return f"row {position + 1} ({key} {value})", f"第 {position + 1} 行（{key} {value}）"
    return f"row {position + 1}", f"第 {position + 1} 行"


def _check_text(layers: list[_Layer], encoding: str) -> None:
    """Raise naming every value (up to 10) that ``encoding`` cannot encode."""
    if encoding == "utf-8":
        return
    problems: list[str] = []
    problems_zh: list[str] = []
    for layer in layers:
        for column in layer.frame.columns:
            if _kind(layer.frame[column]) != "text":
                continue
            for position, value in enumerate(layer.frame[column].tolist()):
                if not isinstance(value, str):
                    continue
                try:
                    value.encode(encoding)
                except UnicodeEncodeError as exc:
                    bad = value[exc.start]
                    row, row_zh = _row_label(layer, position)
                    problems.append(
                        f"{layer.name} {row}, field {column!r}: "
                        f"{bad!r} (U+{ord(bad):04X}) in {value!r}"
                    )
                    problems_zh.append(
                        f"{layer.name} {row_zh}字段 {column!r}：{value!r} 中的 "
                        f"{bad!r}（U+{ord(bad):04X}）"
                    )
                    if len(problems) >= 10:
                        break
    if problems:
        raise FileEncodingError(
            f"`encoding` was {encoding!r} but {encoding.upper()} cannot encode "
            + "; ".join(problems[:10])
            + ". Export with encoding 'utf-8' instead.",
            zh=f"`encoding` 为 {encoding!r}，但 {encoding.upper()} 无法表示以下文字："
            + "；".join(problems_zh[:10])
            + "。请改用 utf-8 编码导出。",
        )


def _local(series: pd.Series) -> pd.Series:
    """Aware times as naive China Standard Time (+08:00, whatever the year)."""
    return display_series(series).dt.tz_localize(None)
