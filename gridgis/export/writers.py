"""Writing the layers in each format: shapefile (zipped), GeoPackage, GeoJSON, CSV, xlsx.

Shapefiles split times into a DBF date and ``<name>_time`` and cut text to
254 bytes; CSV and xlsx share one table (``_table``: lon/lat for points,
else WKT) and go through :mod:`gridgis.sheets`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.raw import write as write_raw

from gridgis.export.converting import _local
from gridgis.export.layers import FieldName, _description, _kind, _Layer, short_field_names
from gridgis.sheets import safe_csv_value, write_xlsx
from gridgis.times import display_series

_DBF_TEXT_BYTES = 254
"""The most bytes of a DBF text field."""

Progress = Callable[[int, int], None]
"""Told ``(rows written, rows in all)`` as a file is written (see :func:`gridgis.export.export`)."""

PROGRESS_EVERY = 5000
"""Rows between two reports of a writer that writes row by row (CSV, xlsx)."""


def deliver(written: Path, out: Path | str | BinaryIO) -> None:
    """Copy the file ``written`` (in a temporary folder) to ``out``: a path (its folder made
    if need be) or a binary file open for writing."""
    if isinstance(out, str | Path):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(written, out)
    else:
        with written.open("rb") as source:
            shutil.copyfileobj(source, out)


def _reported(rows: Iterable[Any], total: int, progress: Progress | None) -> Iterable[Any]:
    """``rows`` as they are, telling ``progress`` every :data:`PROGRESS_EVERY` rows and at the
    end; with no ``progress``, ``rows`` themselves (nothing is added to the loop)."""
    if progress is None:
        return rows
    return _counting(rows, total, progress)


def _counting(rows: Iterable[Any], total: int, progress: Progress) -> Iterator[Any]:
    for count, row in enumerate(rows, start=1):
        yield row
        if count % PROGRESS_EVERY == 0:
            progress(count, total)
    progress(total, total)


def _cut(value: str, encoding: str, limit: int) -> tuple[str, bool]:
    data = value.encode(encoding)
    if len(data) <= limit:
        return value, False
    return data[:limit].decode(encoding, errors="ignore"), True


def _dbf_columns(layer: _Layer, encoding: str) -> tuple[list[str], list[np.ndarray], int]:
    """Full names and arrays of a layer's DBF fields (times split in date and time)."""
    names: list[str] = []
    arrays: list[np.ndarray] = []
    truncated = 0
    for column in layer.frame.columns:
        series = layer.frame[column]
        kind = _kind(series)
        if kind == "datetime":
            local = _local(series)
            names.append(column)
            arrays.append(local.dt.normalize().to_numpy().astype("datetime64[D]"))
            names.append(f"{column}_time")
            arrays.append(
                np.array(
                    [None if pd.isna(v) else v.strftime("%H:%M:%S") for v in local], dtype=object
                )
            )
        elif kind == "text":
            values: list[str | None] = []
            for value in series.tolist():
                if isinstance(value, str):
                    value, cut = _cut(value, encoding, _DBF_TEXT_BYTES)
                    truncated += cut
                    values.append(value)
                else:
                    values.append(None)
            names.append(column)
            arrays.append(np.array(values, dtype=object))
        elif kind == "int" and series.hasnans:
            names.append(column)
            arrays.append(series.astype("float64").to_numpy())
        else:
            names.append(column)
            arrays.append(series.to_numpy())
    return names, arrays, truncated


def _shp_type(array: np.ndarray) -> str:
    if array.dtype.kind == "M":
        return "date"
    if array.dtype.kind == "b":
        return "bool"
    if array.dtype.kind in "iu":
        return "int"
    if array.dtype.kind == "f":
        return "float"
    return "text"


def _readme(what: str, spec_name: str, declared: Any, encoding: str) -> str:
    note = ""
    if spec_name in ("gcj02", "bd09"):
        note = (
            f"\nThe coordinates are {spec_name.upper()} (obfuscated Chinese system), which has no "
            "official CRS definition: the .prj says WGS 84 because the numbers are degrees on "
            "the WGS84 ellipsoid. They line up with AMap/Tencent (GCJ-02) or Baidu (BD-09) "
            "maps and lie 100-700 m from true WGS84 data.\n"
        )
    return (
        f"gridgis export: {what}\n"
        f"Coordinates: {spec_name} (declared CRS: {declared})\n"
        f"Text encoding of the .dbf files: {encoding.upper()} (see the .cpg files)\n"
        "Field names: at most 10 characters; fields.csv maps each to its full name.\n"
        "Times: DBF has no time type; a time is a date field (China Standard Time, UTC+8) "
        "under the column's name plus <name>_time, HH:MM:SS as text.\n" + note
    )


def _write_shp(
    layers: list[_Layer], folder: Path, target: Path, *, encoding: str, declared: Any,
    what: str, spec_name: str, progress: Progress | None = None,
) -> tuple[list[str], list[FieldName], int]:  # fmt: skip
    files: list[str] = []
    fields: list[FieldName] = []
    truncated = 0
    total = sum(len(layer.frame) for layer in layers)
    written = 0
    for layer in layers:
        names, arrays, cut = _dbf_columns(layer, encoding)
        truncated += cut
        short = short_field_names(names)
        path = folder / f"{layer.name}.shp"
        write_raw(
            str(path),
            geometry=shapely.to_wkb(layer.geoms),
            field_data=arrays,
            fields=[short[n] for n in names],
            crs=_pyogrio_crs(declared),
            encoding="GBK" if encoding == "gbk" else "UTF-8",
            geometry_type=layer.geometry_type,
            driver="ESRI Shapefile",
        )
        cpg = path.with_suffix(".cpg")
        cpg.write_text("GBK" if encoding == "gbk" else "UTF-8", encoding="ascii")
        for name, array in zip(names, arrays, strict=True):
            fields.append(
                FieldName(
                    layer.name, short[name], name, _shp_type(array), _description(layer, name)
                )
            )
        files += [f"{layer.name}{suffix}" for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
        written += len(layer.frame)
        if progress is not None:  # one call of GDAL writes a layer: reported layer by layer
            progress(written, total)
    listing = io.StringIO()
    writer = csv.writer(listing)
    writer.writerow(["layer", "short_name", "full_name", "type", "description"])
    for f in fields:
        writer.writerow(
            [safe_csv_value(v) for v in (f.layer, f.short, f.full, f.type, f.description)]
        )
    (folder / "fields.csv").write_text(listing.getvalue(), encoding="utf-8-sig")
    (folder / "README.txt").write_text(
        _readme(what, spec_name, declared, encoding), encoding="utf-8"
    )
    files += ["fields.csv", "README.txt"]
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            archive.write(folder / name, arcname=name)
    return files, fields, truncated


def _pyogrio_crs(declared: Any) -> str:
    """The CRS as text pyogrio accepts (WKT for a pyproj CRS)."""
    return declared if isinstance(declared, str) else declared.to_wkt()


def _frame_fields(layer: _Layer) -> list[FieldName]:
    return [
        FieldName(layer.name, c, c, _kind(layer.frame[c]), _description(layer, c))
        for c in layer.frame.columns
    ]


def _geo_frame(layer: _Layer, declared: Any, *, local_times: bool) -> gpd.GeoDataFrame:
    frame = layer.frame.copy()
    for column in frame.columns:
        if _kind(frame[column]) == "datetime" and local_times:
            frame[column] = display_series(frame[column])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(layer.geoms, crs=declared))


def _write_gpkg(
    layers: list[_Layer], target: Path, declared: Any, progress: Progress | None = None
) -> None:
    total = sum(len(layer.frame) for layer in layers)
    written = 0
    for layer in layers:
        if layer.geometry_type == "None":  # a table without places (a roster)
            pyogrio.write_dataframe(layer.frame, target, layer=layer.name, driver="GPKG")
        else:
            pyogrio.write_dataframe(
                _geo_frame(layer, declared, local_times=False),
                target,
                layer=layer.name,
                driver="GPKG",
                geometry_type=layer.geometry_type,
                promote_to_multi=False,
            )
        written += len(layer.frame)
        if progress is not None:  # one call of GDAL writes a layer: reported layer by layer
            progress(written, total)


def _write_geojson(
    layers: list[_Layer], target: Path, declared: Any, name: str, progress: Progress | None = None
) -> None:
    frames = [_geo_frame(layer, declared, local_times=True) for layer in layers]
    together = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    together = gpd.GeoDataFrame(together, geometry="geometry", crs=frames[0].crs)
    pyogrio.write_dataframe(
        together, target, layer=name, driver="GeoJSON", geometry_type="Unknown",
        promote_to_multi=False,
    )  # fmt: skip
    if progress is not None:  # one call of GDAL writes the file
        progress(len(together), len(together))


def _columns(layers: list[_Layer]) -> tuple[list[str], list[str]]:
    """Header and column kinds of the CSV and Excel outputs: lon/lat for points, else wkt."""
    points = any(layer.geometry_type == "Point" for layer in layers)
    others = any(layer.geometry_type not in ("Point", "None") for layer in layers)
    columns = list(layers[0].frame.columns)
    kinds = [_kind(layers[0].frame[c]) for c in columns]
    header = columns + (["lon", "lat"] if points else []) + (["wkt"] if others else [])
    kinds += (["float", "float"] if points else []) + (["text"] if others else [])
    return header, kinds


def _table(layers: list[_Layer]) -> tuple[list[str], list[list[Any]], list[str]]:
    """Header, rows and column kinds of the CSV and Excel outputs."""
    header, kinds = _columns(layers)
    points = "lon" in header
    others = "wkt" in header
    columns = list(layers[0].frame.columns)
    rows: list[list[Any]] = []
    for layer in layers:
        values: list[list[Any]] = []
        for column, kind in zip(columns, kinds, strict=False):
            series = layer.frame[column]
            if kind == "datetime":
                values.append([None if pd.isna(v) else v.to_pydatetime() for v in _local(series)])
            else:
                values.append([None if _missing(v) else v for v in series.tolist()])
        geoms = layer.geoms
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        is_point = layer.geometry_type == "Point"
        if points:
            xs = np.full(len(geoms), np.nan)
            ys = np.full(len(geoms), np.nan)
            if is_point and present.any():
                xs[present] = shapely.get_x(geoms[present])
                ys[present] = shapely.get_y(geoms[present])
            values.append([None if math.isnan(x) else float(x) for x in xs])
            values.append([None if math.isnan(y) else float(y) for y in ys])
        if others:
            wkt = shapely.to_wkt(geoms, rounding_precision=-1) if not is_point else None
            values.append(
                [None] * len(geoms)
                if wkt is None
                else [w if p else None for w, p in zip(wkt, present, strict=True)]
            )
        rows.extend(list(r) for r in zip(*values, strict=True))
    return header, rows, kinds


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def header_names(layer: _Layer, header: list[str], headers: str) -> list[str]:
    """The header row written for ``header`` (the columns' codes): the codes, or with
    ``headers="zh"`` their Chinese names (a name two columns share keeps its code)."""
    if headers != "zh":
        return list(header)
    names = [_description(layer, c).split(" / ")[0].strip() or c for c in header]
    return [
        name if names.count(name) == 1 else f"{name} ({code})"
        for name, code in zip(names, header, strict=True)
    ]


def _write_csv(
    layers: list[_Layer],
    target: Path,
    encoding: str,
    progress: Progress | None = None,
    *,
    header: list[str] | None = None,
) -> None:
    codes, rows, _ = _table(layers)
    header = codes if header is None else header
    with target.open("w", encoding="utf-8-sig" if encoding == "utf-8" else "gbk", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in _reported(rows, len(rows), progress):
            writer.writerow([_csv_value(safe_csv_value(v)) for v in row])


def _write_xlsx(
    layers: list[_Layer],
    target: Path,
    sheet: str,
    progress: Progress | None = None,
    *,
    header: list[str] | None = None,
) -> int:
    codes, rows, kinds = _table(layers)
    header = codes if header is None else header
    formats = ["yyyy-mm-dd hh:mm:ss" if kind == "datetime" else None for kind in kinds]
    return write_xlsx(
        target, header, _reported(rows, len(rows), progress), sheet=sheet, number_formats=formats
    )
