"""Exports (gridgis.export and `gridgis export`): every format read back by two readers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import os
import re
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapefile  # pyshp: the second reader of shapefiles
import shapely
from click.testing import CliRunner
from conftest import busiest_street, insert_other_district
from sqlalchemy import Engine, create_engine, text

from gridgis.analysis.stats import area_statistics
from gridgis.cli import main
from gridgis.crs import wgs84_to_gcj02
from gridgis.db.engine import dispose_engines
from gridgis.errors import CRSError, FileEncodingError, InputError, NotFoundError
from gridgis.export import EXPORT_KINDS, FORMATS, ExportResult, export, short_field_names

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
JUNE = {"since": dt.date(2025, 6, 1), "until": dt.date(2025, 7, 1)}
SUFFIX = {"shp": ".zip", "gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "xlsx": ".xlsx"}
KEYS = {"cells": "code", "cases": "id", "inspections": "id", "stats": "code"}


# --- the database: a copy of the demo with two point inspections ---------------------------------


@pytest.fixture(scope="module")
def export_url(pg_server: Any, demo_template: str) -> Iterator[str]:
    """A copy of the demo district for this module, with two point inspections added."""
    url = pg_server.create(f"gridgis_exports_{os.getpid()}", template=demo_template)
    engine = create_engine(url)
    with engine.begin() as conn:
        street = conn.execute(
            text(
                "SELECT left(code, 9) FROM grid_cell WHERE valid_to IS NULL "
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()
        cells = conn.execute(
            text(
                "SELECT id, ST_AsText(ST_PointOnSurface(geom)) FROM grid_cell "
                "WHERE valid_to IS NULL AND left(code, 9) = :s ORDER BY code LIMIT 2"
            ),
            {"s": street},
        ).all()
        worker = conn.execute(text("SELECT min(id) FROM grid_worker")).scalar_one()
        for n, (cell_id, point) in enumerate(cells):
            inspection = conn.execute(
                text(
                    "INSERT INTO inspection (external_id, worker_id, started_at, geom) VALUES "
                    "(:e, :w, :t, ST_GeomFromText(:p, 4326)) RETURNING id"
                ),
                {
                    "e": f"test-point-{n}",
                    "w": worker,
                    "t": dt.datetime(2025, 6, 10 + n, 9, 30, tzinfo=CST),
                    "p": point,
                },
            ).scalar_one()
            conn.execute(
                text("INSERT INTO inspection_cell VALUES (:i, :c)"),
                {"i": inspection, "c": cell_id},
            )
    engine.dispose()
    yield url
    pg_server.drop(f"gridgis_exports_{os.getpid()}")


@pytest.fixture(scope="module")
def db(export_url: str) -> Iterator[Engine]:
    engine = create_engine(export_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def street(db: Engine) -> str:
    return busiest_street(db)


def _rows(db: Engine, sql: str, **params: Any) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def _local(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _expected(db: Engine, kind: str, street: str) -> dict[Any, dict[str, Any]]:
    """Key → a few fields and the geometry, straight from the database (or the stats)."""
    june = {"a": dt.datetime(2025, 6, 1, tzinfo=CST), "b": dt.datetime(2025, 7, 1, tzinfo=CST)}
    if kind == "cells":
        rows = _rows(
            db,
            "SELECT g.code, m.name, g.households, ST_AsBinary(g.geom) FROM grid_cell g "
            "JOIN community m ON m.code = g.community_code "
            "WHERE g.valid_to IS NULL AND left(g.code, 9) = :s",
            s=street,
        )
        return {
            r[0]: {"community": r[1], "households": float(r[2]), "geom": shapely.from_wkb(r[3])}
            for r in rows
        }
    if kind == "cases":
        rows = _rows(
            db,
            "SELECT c.id, c.description, k.name_zh, c.reported_at, ST_AsBinary(c.geom) "
            "FROM case_record c JOIN case_category k ON k.code = c.category_code "
            "WHERE c.street_code = :s AND c.reported_at >= :a AND c.reported_at < :b",
            s=street,
            **june,
        )
        return {
            float(r[0]): {
                "description": r[1],
                "category_name": r[2],
                "reported_at": _local(r[3]),
                "geom": shapely.from_wkb(r[4]),
            }
            for r in rows
        }
    if kind == "inspections":
        rows = _rows(
            db,
            "SELECT i.id, w.name, i.started_at, ST_AsBinary(i.geom) FROM inspection i "
            "LEFT JOIN grid_worker w ON w.id = i.worker_id "
            "WHERE i.started_at >= :a AND i.started_at < :b AND EXISTS (SELECT 1 FROM "
            "inspection_cell x JOIN grid_cell g ON g.id = x.cell_id "
            "WHERE x.inspection_id = i.id AND left(g.code, 9) = :s)",
            s=street,
            **june,
        )
        return {
            float(r[0]): {
                "worker": r[1],
                "started_at": _local(r[2]),
                "geom": shapely.from_wkb(r[3]),
            }
            for r in rows
        }
    stats = area_statistics(
        db,
        "community",
        street=street,
        since=dt.datetime(2025, 6, 1),
        until=dt.datetime(2025, 7, 1),
        now=NOW,
    )
    return {
        r.code: {"name": r.name, "cases": float(r.cases), "geom": r.geometry}
        for r in stats.itertuples()
    }


# --- reading back -------------------------------------------------------------------------------


def _canon(value: Any, kind: str) -> Any:
    """A value as both readers should agree on it, whatever their own types."""
    if value is None or value is pd.NaT or value is pd.NA or value == "":
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if kind == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.replace("/", "-"))
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert(CST).tz_localize(None)
        return stamp.strftime("%Y-%m-%d %H:%M:%S")
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    if kind == "bool":
        return value in (True, 1, "true", "True", "1") or bool(value is np.True_)
    if kind in ("int", "float"):
        return round(float(value), 9)
    return str(value)


def _kinds(result: ExportResult, layer: str) -> dict[str, tuple[str, str]]:
    """Name in the file → (full name, kind) for ``layer``."""
    return {f.short: (f.full, f.type) for f in result.fields if f.layer == layer}


def _table(records: list[dict[str, Any]], kinds: dict[str, tuple[str, str]]) -> list[dict]:
    out = []
    for record in records:
        assert set(record) == set(kinds), set(record) ^ set(kinds)
        out.append({kinds[k][0]: _canon(v, kinds[k][1]) for k, v in record.items()})
    return out


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    columns = [c for c in frame.columns if c != "geometry"]
    return [dict(zip(columns, row, strict=True)) for row in frame[columns].itertuples(index=False)]


Layers = dict[str, tuple[list[dict[str, Any]], list[Any]]]


def _read_shp(path: Path, result: ExportResult, folder: Path) -> tuple[Layers, Layers, list]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        archive.extractall(folder)
    for layer in result.layers:
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            assert f"{layer}{suffix}" in names
    assert "fields.csv" in names
    with (folder / "fields.csv").open(encoding="utf-8-sig", newline="") as f:
        listed = [(r["layer"], r["short_name"], r["full_name"]) for r in csv.DictReader(f)]
    assert listed == [(x.layer, x.short, x.full) for x in result.fields]
    first: Layers = {}
    second: Layers = {}
    crss = []
    for layer in result.layers:
        shp = folder / f"{layer}.shp"
        kinds = _kinds(result, layer)
        encoding = (folder / f"{layer}.cpg").read_text().strip()
        assert encoding == result.encoding.upper()
        frame = pyogrio.read_dataframe(shp)  # GDAL honours the .cpg
        first[layer] = (_table(_frame_records(frame), kinds), list(frame.geometry))
        reader = shapefile.Reader(str(shp))  # pyshp reads the .cpg too
        fields = [f.name for f in reader.fields[1:]]
        records = [dict(zip(fields, r, strict=True)) for r in reader.records()]
        geoms = [
            None if s.shapeType == shapefile.NULL else shapely.geometry.shape(s.__geo_interface__)
            for s in reader.shapes()
        ]
        reader.close()
        second[layer] = (_table(records, kinds), geoms)
        prj = (folder / f"{layer}.prj").read_text()
        crss.append((pyogrio.read_info(shp)["crs"], pyproj.CRS.from_wkt(prj)))
    return first, second, crss


def _gpkg_geometry(blob: bytes | None) -> Any:
    """A GeoPackage geometry blob → shapely: skip the header (magic, flags, srs, envelope)."""
    if blob is None:
        return None
    assert blob[:2] == b"GP"
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 0b111]
    return shapely.from_wkb(blob[8 + envelope :])


def _read_gpkg(path: Path, result: ExportResult) -> tuple[Layers, Layers, list]:
    assert [name for name, _ in pyogrio.list_layers(path)] == list(result.layers)
    first: Layers = {}
    second: Layers = {}
    crss = []
    with sqlite3.connect(path) as conn:
        for layer in result.layers:
            kinds = _kinds(result, layer)
            frame = pyogrio.read_dataframe(path, layer=layer)
            first[layer] = (_table(_frame_records(frame), kinds), list(frame.geometry))
            geom_column, srs = conn.execute(
                "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                (layer,),
            ).fetchone()
            columns = [
                r[1]
                for r in conn.execute(f'PRAGMA table_info("{layer}")')
                if r[1] not in ("fid", geom_column)
            ]
            quoted = ", ".join(f'"{c}"' for c in columns)
            rows = conn.execute(f'SELECT {quoted}, "{geom_column}" FROM "{layer}" ORDER BY fid')
            records, geoms = [], []
            for row in rows:
                records.append(dict(zip(columns, row[:-1], strict=True)))
                geoms.append(_gpkg_geometry(row[-1]))
            second[layer] = (_table(records, kinds), geoms)
            types = pyogrio.read_info(path, layer=layer)["ogr_types"]
            fields = list(pyogrio.read_info(path, layer=layer)["fields"])
            for name, ogr in zip(fields, types, strict=True):
                if kinds[name][1] == "datetime":
                    assert ogr == "OFTDateTime", name
            crss.append((pyogrio.read_info(path, layer=layer)["crs"], pyproj.CRS.from_epsg(srs)))
    return first, second, crss


def _read_geojson(path: Path, result: ExportResult) -> tuple[Layers, Layers, list]:
    layer = next(iter(result.layers))
    kinds = _kinds(result, layer)
    frame = pyogrio.read_dataframe(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    records = [f["properties"] for f in data["features"]]
    geoms = [
        None if f["geometry"] is None else shapely.geometry.shape(f["geometry"])
        for f in data["features"]
    ]
    named = data.get("crs", {}).get("properties", {}).get("name", "OGC:CRS84")
    return (
        {layer: (_table(_frame_records(frame), kinds), list(frame.geometry))},
        {layer: (_table(records, kinds), geoms)},
        [(pyogrio.read_info(path)["crs"], pyproj.CRS(named))],
    )


def _row_geometries(rows: list[dict[str, Any]]) -> list[Any]:
    out = []
    for row in rows:
        if row.get("wkt"):
            out.append(shapely.from_wkt(row["wkt"]))
        elif row.get("lon") is not None:
            out.append(shapely.Point(float(row["lon"]), float(row["lat"])))
        else:
            out.append(None)
    return out


def _read_csv(path: Path, result: ExportResult) -> tuple[Layers, Layers, list]:
    layer = next(iter(result.layers))
    kinds = _kinds(result, layer)
    encoding = "utf-8-sig" if result.encoding == "utf-8" else "gbk"
    if result.encoding == "utf-8":
        assert path.read_bytes()[:3] == b"\xef\xbb\xbf"  # the BOM Excel needs
    frame = pyogrio.read_dataframe(path, encoding=result.encoding)
    first = _table(_frame_records(frame), kinds)
    with path.open(encoding=encoding, newline="") as f:
        second = _table(list(csv.DictReader(f)), kinds)
    return (
        {layer: (first, _row_geometries(first))},
        {layer: (second, _row_geometries(second))},
        [],
    )


def _read_xlsx(path: Path, result: ExportResult) -> tuple[Layers, Layers, list]:
    layer = next(iter(result.layers))
    kinds = _kinds(result, layer)
    frame = pyogrio.read_dataframe(path)
    first = _table(_frame_records(frame), kinds)
    book = openpyxl.load_workbook(path, read_only=True)
    sheet = book[layer]
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    records = []
    for row in rows[1:]:
        record = dict.fromkeys(header)  # read-only sheets leave out trailing empty cells
        record |= {h: c.value for h, c in zip(header, row, strict=False)}
        records.append(record)
        for h, c in zip(header, row, strict=False):
            if kinds[h][1] == "datetime" and c.value is not None:
                assert c.is_date and isinstance(c.value, dt.datetime), h
    book.close()
    second = _table(records, kinds)
    return {layer: (first, _row_geometries(first))}, {layer: (second, _row_geometries(second))}, []


def _read_back(path: Path, result: ExportResult, folder: Path) -> tuple[Layers, Layers, list]:
    if result.format == "shp":
        return _read_shp(path, result, folder)
    if result.format == "gpkg":
        return _read_gpkg(path, result)
    if result.format == "geojson":
        return _read_geojson(path, result)
    if result.format == "csv":
        return _read_csv(path, result)
    return _read_xlsx(path, result)


def _same_geometry(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 1e-9)) or bool(
        a.equals(b)
    )


def _joined(row: dict[str, Any], name: str) -> Any:
    """A time as one value: a shapefile's date field and its ``_time`` field joined."""
    if f"{name}_time" in row and row[name] is not None:
        return f"{row[name]} {row[f'{name}_time']}"
    return row[name]


# --- every format of every kind -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_export_reads_back_with_two_readers(
    db: Engine, street: str, tmp_path: Path, kind: str, fmt: str
) -> None:
    path = tmp_path / f"{kind}{SUFFIX[fmt]}"
    result = export(db, kind, fmt, path, street=street, level="community", now=NOW, **JUNE)
    assert path.exists() and result.rows == sum(result.layers.values())
    first, second, crss = _read_back(path, result, tmp_path / "unzipped")
    expected = _expected(db, kind, street)
    assert len(expected) > 1
    key = KEYS[kind]
    seen: dict[Any, tuple[dict[str, Any], Any]] = {}
    for layer, (rows, geoms) in first.items():
        other_rows, other_geoms = second[layer]
        assert rows == other_rows  # the two readers agree on every field of every feature
        assert len(geoms) == len(other_geoms) == len(rows) == result.layers[layer]
        for a, b in zip(geoms, other_geoms, strict=True):
            assert _same_geometry(a, b)
        names = [f.full for f in result.fields if f.layer == layer]
        assert all(list(row) == names for row in rows)
        for row, geom in zip(rows, geoms, strict=True):
            seen[row[key]] = (row, geom)
    assert set(seen) == set(expected)
    for code, wanted in expected.items():
        row, geom = seen[code]
        for name, value in wanted.items():
            if name == "geom":
                assert _same_geometry(geom, wanted["geom"]), code
            else:
                assert _joined(row, name) == value, (code, name)
    assert any(
        any("\u4e00" <= ch <= "\u9fff" for ch in str(v)) for v in expected.values()
    )  # Chinese text was among what was compared
    for declared, other in crss:
        assert pyproj.CRS(declared).equals(other, ignore_axis_order=True)
        assert pyproj.CRS(declared).equals(pyproj.CRS("EPSG:4326"), ignore_axis_order=True)
    if fmt == "shp":
        assert all(len(f.short) <= 10 for f in result.fields)
        if kind == "inspections":
            assert set(result.layers) == {"inspection_points", "inspection_tracks"}
            assert result.layers["inspection_points"] == 2
            point_geoms = first["inspection_points"][1]
            assert {g.geom_type for g in point_geoms} == {"Point"}
            tracks = {g.geom_type for g in first["inspection_tracks"][1]}
            assert tracks <= {"LineString", "MultiLineString"} and tracks


def test_shapefile_dates_are_dbf_dates(db: Engine, street: str, tmp_path: Path) -> None:
    result = export(db, "cases", "shp", tmp_path / "cases.zip", street=street, **JUNE)
    with zipfile.ZipFile(tmp_path / "cases.zip") as archive:
        archive.extractall(tmp_path)
    short = result.field_map("cases")
    reader = shapefile.Reader(str(tmp_path / "cases.shp"))
    types = {f.name: f.field_type for f in reader.fields[1:]}
    assert types[short["reported_at"]] == "D" and types[short["reported_at_time"]] == "C"
    record = reader.record(0)
    assert isinstance(record[short["reported_at"]], dt.date)
    assert record[short["reported_at"]] >= dt.date(2025, 6, 1)
    reader.close()
    info = pyogrio.read_info(tmp_path / "cases.shp")
    ogr = dict(zip(info["fields"], info["ogr_types"], strict=True))
    assert ogr[short["reported_at"]] == "OFTDate"


# --- encodings ----------------------------------------------------------------------------------


def test_gbk_shapefile_reads_right_with_its_cpg(db: Engine, street: str, tmp_path: Path) -> None:
    result = export(db, "cases", "shp", tmp_path / "gbk.zip", street=street, encoding="gbk", **JUNE)
    with zipfile.ZipFile(tmp_path / "gbk.zip") as archive:
        archive.extractall(tmp_path)
    assert (tmp_path / "cases.cpg").read_text() == "GBK"
    column = result.field_map()["description"]
    wanted = {
        r[0]: r[1]
        for r in _rows(
            db,
            "SELECT id, description FROM case_record WHERE street_code = :s "
            "AND reported_at >= '2025-06-01T00:00+08' AND reported_at < '2025-07-01T00:00+08'",
            s=street,
        )
    }
    honoured = pyogrio.read_dataframe(tmp_path / "cases.shp")
    assert dict(zip(honoured["id"], honoured[column], strict=True)) == wanted
    reader = shapefile.Reader(str(tmp_path / "cases.shp"))  # pyshp takes the .cpg's encoding
    assert {r["id"]: r[column] for r in reader.records()} == wanted
    reader.close()
    # The bytes really are GBK: without the .cpg, read as UTF-8, they do not decode.
    plain = tmp_path / "plain"
    plain.mkdir()
    for suffix in (".shp", ".shx", ".dbf"):
        (plain / f"cases{suffix}").write_bytes((tmp_path / f"cases{suffix}").read_bytes())
    wrong = shapefile.Reader(str(plain / "cases.shp"), encoding="utf-8")
    with pytest.raises(shapefile.ShapefileException, match="Could not decode"):
        wrong.records()
    wrong.close()
    garbled = shapefile.Reader(str(plain / "cases.shp"), encoding="utf-8", encodingErrors="replace")
    assert {r["id"]: r[column] for r in garbled.records()} != wanted
    garbled.close()


def test_gbk_csv(db: Engine, street: str, tmp_path: Path) -> None:
    path = tmp_path / "cells.csv"
    export(db, "cells", "csv", path, street=street, encoding="gbk")
    with path.open(encoding="gbk", newline="") as f:
        communities = {r["community"] for r in csv.DictReader(f)}
    wanted = {
        r[0]
        for r in _rows(
            db,
            "SELECT DISTINCT m.name FROM grid_cell g JOIN community m ON m.code = g.community_code"
            " WHERE g.valid_to IS NULL AND left(g.code, 9) = :s",
            s=street,
        )
    }
    assert communities == wanted
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")


def test_gbk_names_what_it_cannot_encode(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.begin() as conn:
        case_id, street = conn.execute(
            text("SELECT id, street_code FROM case_record ORDER BY id LIMIT 1")
        ).one()
        conn.execute(
            text("UPDATE case_record SET description = '井盖丢失 𠮷' WHERE id = :i"), {"i": case_id}
        )
    with pytest.raises(FileEncodingError, match=rf"id {case_id}\), field 'description': '𠮷'"):
        export(demo_engine, "cases", "shp", tmp_path / "x.zip", street=street, encoding="gbk")
    assert not (tmp_path / "x.zip").exists()
    export(demo_engine, "cases", "csv", tmp_path / "x.csv", street=street)  # UTF-8 can
    assert "井盖丢失 𠮷" in (tmp_path / "x.csv").read_text(encoding="utf-8-sig")


# --- coordinates --------------------------------------------------------------------------------


def test_gcj02_coordinates(db: Engine, street: str, tmp_path: Path) -> None:
    result = export(db, "cases", "shp", tmp_path / "gcj.zip", street=street, crs="gcj02", **JUNE)
    assert result.crs == "gcj02" and result.declared_crs == "EPSG:4326"
    with zipfile.ZipFile(tmp_path / "gcj.zip") as archive:
        archive.extractall(tmp_path)
        readme = archive.read("README.txt").decode()
    assert "GCJ02" in readme and "WGS 84" in readme
    prj = pyproj.CRS.from_wkt((tmp_path / "cases.prj").read_text())
    assert prj.equals(pyproj.CRS("EPSG:4326"), ignore_axis_order=True)
    stored = {
        r[0]: (r[1], r[2])
        for r in _rows(
            db,
            "SELECT id, ST_X(geom), ST_Y(geom) FROM case_record WHERE street_code = :s "
            "AND reported_at >= '2025-06-01T00:00+08' AND reported_at < '2025-07-01T00:00+08'",
            s=street,
        )
    }
    frame = pyogrio.read_dataframe(tmp_path / "cases.shp")
    ids = list(frame["id"])
    lon, lat = wgs84_to_gcj02(
        np.array([stored[i][0] for i in ids]), np.array([stored[i][1] for i in ids])
    )
    assert np.allclose(shapely.get_x(frame.geometry.array), lon, rtol=0, atol=1e-12)
    assert np.allclose(shapely.get_y(frame.geometry.array), lat, rtol=0, atol=1e-12)
    assert np.abs(shapely.get_x(frame.geometry.array) - [stored[i][0] for i in ids]).min() > 1e-4

    csv_path = tmp_path / "gcj.csv"
    export(db, "cases", "csv", csv_path, street=street, crs="gcj02", **JUNE)
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    gx, gy = wgs84_to_gcj02(
        np.array([stored[int(r["id"])][0] for r in rows]),
        np.array([stored[int(r["id"])][1] for r in rows]),
    )
    assert np.array_equal([float(r["lon"]) for r in rows], gx)
    assert np.array_equal([float(r["lat"]) for r in rows], gy)


def test_projected_crs_in_geopackage(db: Engine, street: str, tmp_path: Path) -> None:
    path = tmp_path / "cells.gpkg"
    result = export(db, "cells", "gpkg", path, street=street, crs="EPSG:4527")
    assert pyproj.CRS(pyogrio.read_info(path)["crs"]).equals(pyproj.CRS("EPSG:4527"))
    frame = pyogrio.read_dataframe(path)
    stored = _expected(db, "cells", street)
    transformer = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4527", always_xy=True)
    first = frame.iloc[0]
    stored_ring = shapely.get_exterior_ring(shapely.get_geometry(stored[first["code"]]["geom"], 0))
    x, y = transformer.transform(*shapely.get_coordinates(stored_ring).T)
    written = shapely.get_coordinates(shapely.get_exterior_ring(first.geometry.geoms[0]))
    assert np.allclose(written, np.column_stack([x, y]), rtol=0, atol=1e-3)
    assert result.crs == result.declared_crs == "EPSG:4527"


# --- filters, field names, errors ---------------------------------------------------------------


def test_street_filter_exports_only_that_street(db: Engine, street: str, tmp_path: Path) -> None:
    whole = export(db, "cases", "csv", tmp_path / "all.csv")
    mine = export(db, "cases", "csv", tmp_path / "mine.csv", street=street)
    with (tmp_path / "mine.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["street_code"] for r in rows} == {street}
    count = _rows(db, "SELECT count(*) FROM case_record WHERE street_code = :s", s=street)[0][0]
    assert mine.rows == len(rows) == count < whole.rows
    # 超期 (open and past the deadline) and 逾期结案 (closed after it): two fields, never both.
    late = _rows(
        db, "SELECT count(*) FROM case_record WHERE street_code = :s AND closed_at > deadline",
        s=street,
    )[0][0]  # fmt: skip
    assert late > 0 and sum(r["closed_late"] == "true" for r in rows) == late
    assert not [r["id"] for r in rows if r["overdue"] == "true" and r["closed_late"] == "true"]
    cells = export(db, "cells", "geojson", tmp_path / "cells.geojson", street=street)
    data = json.loads((tmp_path / "cells.geojson").read_text(encoding="utf-8"))
    codes = [f["properties"]["code"] for f in data["features"]]
    assert cells.rows == len(codes) and all(c.startswith(street) for c in codes)
    community = codes[0][:12]
    one = export(db, "cells", "csv", tmp_path / "one.csv", community=community)
    assert 0 < one.rows < cells.rows


def _read_rows(path: Path) -> pd.DataFrame:
    """A CSV or Excel export as pyogrio reads it (GDAL's drivers), sorted as written."""
    return pd.DataFrame(pyogrio.read_dataframe(path)).reset_index(drop=True)


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_district_filter_on_one_district_is_everything(
    db: Engine, street: str, tmp_path: Path, kind: str
) -> None:
    district = street[:6]
    options: dict[str, Any] = {"level": "community", "now": NOW, **JUNE}
    whole = export(db, kind, "csv", tmp_path / "all.csv", **options)
    mine = export(db, kind, "csv", tmp_path / "mine.csv", district=district, **options)
    assert mine.rows == whole.rows > 1
    pd.testing.assert_frame_equal(
        _read_rows(tmp_path / "mine.csv"), _read_rows(tmp_path / "all.csv")
    )
    assert (tmp_path / "mine.csv").read_bytes() == (tmp_path / "all.csv").read_bytes()
    # With a street of the district too: the street's rows, as without the district.
    export(db, kind, "xlsx", tmp_path / "s.xlsx", street=street, **options)
    export(db, kind, "xlsx", tmp_path / "ds.xlsx", district=district, street=street, **options)
    books = [openpyxl.load_workbook(tmp_path / n, read_only=True) for n in ("s.xlsx", "ds.xlsx")]
    sheets = [list(book.worksheets[0].iter_rows(values_only=True)) for book in books]
    for book in books:
        book.close()
    assert len(sheets[0]) > 2 and sheets[0] == sheets[1]


def test_district_filter_leaves_out_another_district(demo_engine: Engine, tmp_path: Path) -> None:
    (demo,) = (str(r[0]) for r in _rows(demo_engine, "SELECT code FROM district"))
    other = insert_other_district(demo_engine)
    since = {"since": dt.date(2025, 6, 1), "until": dt.date(2025, 7, 1), "now": NOW}
    code_of = {"cells": "code", "cases": "street_code", "stats": "code"}
    for kind in EXPORT_KINDS:
        level = "street" if kind == "stats" else "cell"
        export(demo_engine, kind, "gpkg", tmp_path / f"{kind}-all.gpkg", level=level, **since)
        export(demo_engine, kind, "gpkg", tmp_path / f"{kind}-demo.gpkg", district=demo,
               level=level, **since)  # fmt: skip
        export(demo_engine, kind, "gpkg", tmp_path / f"{kind}-other.gpkg",
               district=other["district"], level=level, **since)  # fmt: skip
        frames = {
            name: pd.concat(
                [
                    pyogrio.read_dataframe(tmp_path / f"{kind}-{name}.gpkg", layer=layer)
                    for layer, _ in pyogrio.list_layers(tmp_path / f"{kind}-{name}.gpkg")
                ],
                ignore_index=True,
            )
            for name in ("all", "demo", "other")
        }
        if kind == "inspections":
            ids = {name: set(frame["id"]) for name, frame in frames.items()}
            theirs = {
                r[0]
                for r in _rows(
                    demo_engine,
                    "SELECT x.inspection_id FROM inspection_cell x JOIN grid_cell g "
                    "ON g.id = x.cell_id WHERE g.code = :c",
                    c=other["cell"],
                )
            }
            assert len(theirs) == 1
            assert ids["other"] == theirs and not ids["demo"] & theirs
            assert ids["all"] == ids["demo"] | theirs and len(ids["demo"]) > 1
            continue
        codes = {name: list(frame[code_of[kind]]) for name, frame in frames.items()}
        wanted = other["cell"] if kind == "cells" else other["street"]
        assert codes["other"] == [wanted]
        assert codes["demo"] and all(c.startswith(demo) for c in codes["demo"])
        assert sorted(codes["all"]) == sorted(codes["demo"] + [wanted])
    with pytest.raises(
        InputError, match=rf"`street` was '{demo}001' but is not in the district given \('211403'\)"
    ):
        export(
            demo_engine, "cases", "csv", tmp_path / "x.csv", district="211403", street=demo + "001"
        )
    with pytest.raises(
        NotFoundError, match="`district` was '999999' but no district has that code"
    ):
        export(demo_engine, "cells", "csv", tmp_path / "x.csv", district="999999")
    with pytest.raises(InputError, match="`district` was '3503' but is expected to be a 6-digit"):
        export(demo_engine, "cells", "csv", tmp_path / "x.csv", district="3503")
    assert not (tmp_path / "x.csv").exists()


def test_field_names_are_short_stable_and_unique(db: Engine, street: str, tmp_path: Path) -> None:
    first = export(db, "stats", "shp", tmp_path / "a.zip", street=street, level="cell")
    second = export(db, "stats", "shp", tmp_path / "b.zip", street=street, level="cell")
    assert first.fields == second.fields
    shorts = [f.short for f in first.fields]
    assert all(1 <= len(s) <= 10 for s in shorts)
    assert len({s.lower() for s in shorts}) == len(shorts)
    with zipfile.ZipFile(tmp_path / "a.zip") as a, zipfile.ZipFile(tmp_path / "b.zip") as b:
        assert a.read("fields.csv") == b.read("fields.csv")
        listing = a.read("fields.csv").decode("utf-8-sig")
    assert "rate_per_1000" in listing and "每千户案件数" in listing
    assert "closed_late" in listing and "逾期结案" in listing
    names = ["cases_public_opinion", "cases_public_security", "code", "CODE", "a" * 12, "a" * 11]
    assert short_field_names(names) == short_field_names(names)
    assert short_field_names(names) == {
        "cases_public_opinion": "n_pub_op",
        "cases_public_security": "n_pub_sec",
        "code": "code",
        "CODE": "CODE_2",
        "a" * 12: "a" * 10,
        "a" * 11: "a" * 8 + "_2",
    }


def test_errors_name_the_bad_value(db: Engine, street: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="`fmt` was 'kml'"):
        export(db, "cells", "kml", tmp_path / "x.kml")
    with pytest.raises(InputError, match="`what` was 'roads'"):
        export(db, "roads", "csv", tmp_path / "x.csv")
    with pytest.raises(InputError, match="`encoding` was 'big5'"):
        export(db, "cells", "csv", tmp_path / "x.csv", encoding="big5")
    with pytest.raises(InputError, match=r"`encoding` was 'gbk' .* gpkg text is always UTF-8"):
        export(db, "cells", "gpkg", tmp_path / "x.gpkg", encoding="gbk")
    with pytest.raises(InputError, match=r"`out` was .*x.shp.* a zip"):
        export(db, "cells", "shp", tmp_path / "x.shp")
    with pytest.raises(CRSError, match="mars"):
        export(db, "cells", "csv", tmp_path / "x.csv", crs="mars")
    for unusable in ("EPSG:4978", "EPSG:5703"):  # geocentric; vertical
        with pytest.raises(InputError, match=f"`crs` was '{unusable}'.* projected 2D"):
            export(db, "cells", "shp", tmp_path / "x.zip", crs=unusable)
    with pytest.raises(NotFoundError, match="`street` was '350304999'"):
        export(db, "cells", "csv", tmp_path / "x.csv", street="350304999")
    with pytest.raises(InputError, match=r"`since` .* must come before `until`"):
        export(db, "cases", "csv", tmp_path / "x.csv", since=dt.date(2025, 2, 1),
               until=dt.date(2025, 1, 1))  # fmt: skip
    with pytest.raises(InputError, match="`level` was 'district'"):
        export(db, "stats", "csv", tmp_path / "x.csv", level="district")
    assert not any(tmp_path.iterdir())


def test_export_into_a_binary_stream(db: Engine, street: str) -> None:
    buffer = io.BytesIO()
    result = export(db, "stats", "xlsx", buffer, street=street, level="street", **JUNE)
    assert result.filename == "stats_street.xlsx" and result.media_type == FORMATS["xlsx"]
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    sheet = book["stats_street"]
    assert sheet.max_row == 2 and sheet.cell(2, 1).value == street


# --- spreadsheets: text that looks like a formula, characters Excel cannot hold ---------------

FORMULAS = ['=HYPERLINK("http://example.com","x")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"]
"""Descriptions a spreadsheet would run as formulas (OWASP's CSV injection starts)."""

AWKWARD = [
    "#N/A",  # an error code, not an error
    "井盖\u000b丢失",  # the vertical tab of defect 11
    "a" + "".join(chr(c) for c in range(1, 32)) + "\ufffe\uffff z",  # not XML 1.0 characters
    "_x000B_ as typed",  # looks like the OOXML escape
    "长" * 40_000,  # more than an Excel cell holds
]


def _ooxml_unescape(value: str) -> str:
    """What Excel shows for a stored text: ``_xHHHH_`` is the character HHHH."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def _as_xml_reads(value: str) -> str:
    """XML reads every line end (CR LF, CR) as LF."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _describe(engine: Engine, texts: list[str]) -> tuple[str, dict[int, str]]:
    """Give as many cases of one street these descriptions; the street and id → text."""
    street = busiest_street(engine)
    with engine.begin() as conn:
        ids = (
            conn.execute(
                text("SELECT id FROM case_record WHERE street_code = :s ORDER BY id LIMIT :n"),
                {"s": street, "n": len(texts)},
            )
            .scalars()
            .all()
        )
        assert len(ids) == len(texts)
        for case_id, description in zip(ids, texts, strict=True):
            conn.execute(
                text("UPDATE case_record SET description = :d WHERE id = :i"),
                {"d": description, "i": case_id},
            )
    return street, dict(zip(ids, texts, strict=True))


def test_spreadsheet_text_is_text_never_a_formula(demo_engine: Engine, tmp_path: Path) -> None:
    street, described = _describe(demo_engine, FORMULAS + AWKWARD)
    path = tmp_path / "cases.xlsx"

    result = export(demo_engine, "cases", "xlsx", path, street=street)

    assert result.truncated == 1  # the 40,000 characters, cut to Excel's 32,767
    with zipfile.ZipFile(path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml and 't="e"' not in sheet_xml
    book = openpyxl.load_workbook(path)  # not read-only: the styles are read too
    sheet = book["cases"]
    header = [c.value for c in sheet[1]]
    ids, descriptions = header.index("id"), header.index("description")
    seen = {}
    for row in sheet.iter_rows(min_row=2):
        case_id, cell = row[ids].value, row[descriptions]
        if case_id not in described:
            continue
        wanted = described[case_id]
        assert cell.data_type == "s", (wanted[:20], cell.data_type)
        assert _ooxml_unescape(cell.value) == _as_xml_reads(wanted[:32_767])
        assert cell.quotePrefix == (wanted in FORMULAS), wanted[:20]
        seen[case_id] = cell.value
    assert seen.keys() == described.keys()
    assert seen[next(i for i, d in described.items() if d == FORMULAS[0])] == FORMULAS[0]
    assert seen[next(i for i, d in described.items() if d == AWKWARD[1])] == "井盖_x000B_丢失"
    assert seen[next(i for i, d in described.items() if d == AWKWARD[3])] == (
        "_x005F_x000B_ as typed"
    )
    # GDAL reads the same text cells.
    frame = pyogrio.read_dataframe(path)
    by_id = dict(zip(frame["id"], frame["description"], strict=True))
    assert by_id[next(i for i, d in described.items() if d == "+1")] == "+1"


def test_csv_text_that_looks_like_a_formula_starts_with_a_quote(
    demo_engine: Engine, tmp_path: Path
) -> None:
    street, described = _describe(demo_engine, FORMULAS + AWKWARD)
    path = tmp_path / "cases.csv"

    export(demo_engine, "cases", "csv", path, street=street)

    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = {int(r["id"]): r for r in csv.DictReader(f)}
    for case_id, wanted in described.items():
        shown = rows[case_id]["description"]
        assert shown == ("'" + wanted if wanted in FORMULAS else wanted), wanted[:20]
    assert all(float(r["lon"]) > 0 for r in rows.values() if r["lon"])  # numbers stay numbers


# --- the command line ---------------------------------------------------------------------------


def test_cli_export(export_url: str, street: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", export_url)
    try:
        runner = CliRunner()
        out = tmp_path / "cases.zip"
        done = runner.invoke(
            main,
            ["export", "cases", "--format", "shp", "--encoding", "gbk", "--street", street,
             "--from", "2025-06-01", "--to", "2025-06-30", "-o", str(out)],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        assert f"to {out} [shp, wgs84, gbk]" in done.output
        assert "rep=reported_at" in done.output
        frame = pyogrio.read_dataframe(f"/vsizip/{out}/cases.shp")
        assert len(frame) == int(done.output.split()[1])
        assert frame["cat_name"].str.contains("[\u4e00-\u9fff]").all()
        june = _expected_count(export_url, street)
        assert len(frame) == june

        stats = tmp_path / "streets.gpkg"
        done = runner.invoke(
            main, ["export", "stats", "--format", "gpkg", "--level", "street", "-o", str(stats)]
        )
        assert done.exit_code == 0, done.output
        assert "stats_street" in done.output
        assert [n for n, _ in pyogrio.list_layers(stats)] == ["stats_street"]

        bad = runner.invoke(
            main, ["export", "cells", "--format", "csv", "--street", "1", "-o", str(tmp_path / "x")]
        )
        assert bad.exit_code == 1 and "`street` was '1'" in bad.output
        both = runner.invoke(
            main,
            ["export", "cells", "--format", "csv", "--street", street, "--community",
             street + "001", "-o", str(tmp_path / "y.csv")],
        )  # fmt: skip
        assert both.exit_code == 2
        assert "at most one of --district, --street or --community" in both.output
        two = runner.invoke(
            main,
            ["export", "cells", "--format", "csv", "--district", street[:6], "--street", street,
             "-o", str(tmp_path / "y.csv")],
        )  # fmt: skip
        assert two.exit_code == 2 and "--district" in two.output

        district = tmp_path / "district.csv"
        done = runner.invoke(
            main,
            ["export", "cases", "--format", "csv", "--district", street[:6],
             "--from", "2025-06-01", "--to", "2025-06-30", "-o", str(district)],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        everything = tmp_path / "everything.csv"
        done = runner.invoke(
            main,
            ["export", "cases", "--format", "csv", "--from", "2025-06-01", "--to", "2025-06-30",
             "-o", str(everything)],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
        in_district = pyogrio.read_dataframe(district)
        assert len(in_district) > june
        assert sorted(in_district["id"]) == sorted(pyogrio.read_dataframe(everything)["id"])
        unknown = runner.invoke(
            main,
            ["export", "cells", "--format", "csv", "--district", "999999",
             "-o", str(tmp_path / "z.csv")],
        )  # fmt: skip
        assert unknown.exit_code == 1 and "`district` was '999999'" in unknown.output
        helped = runner.invoke(main, ["export", "cells", "--help"])
        assert "--district" in helped.output and "6 digits" in helped.output
    finally:
        dispose_engines()


def _expected_count(url: str, street: str) -> int:
    engine = create_engine(url)
    try:
        return int(
            _rows(
                engine,
                "SELECT count(*) FROM case_record WHERE street_code = :s "
                "AND reported_at >= '2025-06-01T00:00+08' AND reported_at < '2025-07-01T00:00+08'",
                s=street,
            )[0][0]
        )
    finally:
        engine.dispose()


def test_old_times_are_exported_at_plus_eight_hours(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.begin() as conn:  # a case of 1900, as an old system's migration might store
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # past the triggers
        case_id = conn.execute(
            text(
                "UPDATE case_record SET reported_at = '1900-01-01 00:00:00+00', "
                "deadline = '1900-01-02 00:00:00+00' "
                "WHERE id = (SELECT min(id) FROM case_record) RETURNING id"
            )
        ).scalar_one()
    period = {"since": dt.date(1900, 1, 1), "until": dt.date(1901, 1, 1)}
    export(demo_engine, "cases", "csv", tmp_path / "old.csv", **period)
    with open(tmp_path / "old.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["id"]), r["reported_at"], r["deadline"]) for r in rows] == [
        (case_id, "1900-01-01 08:00:00", "1900-01-02 08:00:00")  # not 08:05:43 (LMT)
    ]
    export(demo_engine, "cases", "xlsx", tmp_path / "old.xlsx", **period)
    sheet = openpyxl.load_workbook(tmp_path / "old.xlsx", read_only=True).worksheets[0]
    header, first = list(sheet.iter_rows(values_only=True))[:2]
    assert first[header.index("reported_at")] == dt.datetime(1900, 1, 1, 8, 0)


def test_tables_can_have_chinese_headers_and_registers_keep_their_own(
    db: Engine, street: str, tmp_path: Path
) -> None:
    coded = export(db, "stats", "xlsx", tmp_path / "c.xlsx", street=street, level="community")
    named = export(
        db, "stats", "xlsx", tmp_path / "z.xlsx", street=street, level="community", headers="zh"
    )
    sheet = openpyxl.load_workbook(tmp_path / "z.xlsx", read_only=True).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert "户数" in header and "按期结案率" in header and "households" not in header
    assert [f.short for f in named.fields] == header
    assert [f.full for f in named.fields] == [f.short for f in coded.fields]
    export(db, "cases", "csv", tmp_path / "z.csv", street=street, headers="zh")
    with (tmp_path / "z.csv").open(encoding="utf-8-sig") as f:
        first = next(csv.reader(f))
    assert "超期" in first and "逾期结案" in first and len(set(first)) == len(first)
    with pytest.raises(InputError, match="`headers` was 'zh' but a register"):
        export(db, "buildings", "csv", tmp_path / "b.csv", headers="zh")
    with pytest.raises(InputError, match="`headers` was 'fr'"):
        export(db, "stats", "csv", tmp_path / "f.csv", headers="fr")


def test_a_cases_export_takes_the_case_lists_filters(
    db: Engine, street: str, tmp_path: Path
) -> None:
    from gridgis.cases import list_cases

    chosen = {"step": "closed", "closed_late": True}
    export(db, "cases", "csv", tmp_path / "late.csv", street=street, case_filter=chosen)
    with (tmp_path / "late.csv").open(encoding="utf-8-sig") as f:
        ids = sorted(int(row["id"]) for row in csv.DictReader(f))
    listed = list_cases(db, street=street, **chosen, limit=1000)  # type: ignore[arg-type]
    assert ids == sorted(c["id"] for c in listed) and ids
    with pytest.raises(InputError, match=r"filters of cases \(step\) were given but cells"):
        export(db, "cells", "csv", tmp_path / "c.csv", case_filter={"step": "closed"})
    with pytest.raises(InputError, match="unknown case filters"):
        export(db, "cases", "csv", tmp_path / "x.csv", case_filter={"colour": "red"})
