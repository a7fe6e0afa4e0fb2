"""Uploaded layout files on the editing page: bounded error pages, shapefile encodings, zips.

Each test posts a file to ``/edit/<community>/upload`` as an administrator and
reads the answer, as a browser would.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from conftest import sign_in
from flask.testing import FlaskClient
from sqlalchemy import Engine

from gridgis.db.layout import read_inputs
from gridgis.editing import drafts_of, load_draft

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo."""


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    """The ``app`` fixture serves the demo district."""
    return demo_url


def _upload(client: FlaskClient, token: str, data: bytes, filename: str) -> tuple[int, str]:
    """Post ``data`` as file ``filename``; the status and the page (a redirect is followed)."""
    response = client.post(
        f"/edit/{COMMUNITY}/upload",
        data={"csrf_token": token, "crs": "", "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    if response.status_code == 302:
        return 302, client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code, response.get_data(as_text=True)


def _cells(engine: Engine) -> gpd.GeoDataFrame:
    cells = read_inputs(engine, COMMUNITY).cells.rename_geometry("geometry")
    return gpd.GeoDataFrame(cells[["code", "geometry"]].reset_index(drop=True), crs="EPSG:4326")


def _zip(folder: Path, stem: str, *, drop: tuple[str, ...] = ()) -> bytes:
    """Shapefile ``stem`` of ``folder`` zipped, but its files with a suffix in ``drop``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for part in sorted(folder.glob(f"{stem}.*")):
            if part.suffix.lower() not in drop:
                archive.write(part, part.name)
    return out.getvalue()


def test_many_cells_sharing_a_code_give_a_small_answer(
    client: FlaskClient, demo_engine: Engine
) -> None:
    """2,000 cells with one code: the page says how many and shows examples, in kilobytes."""
    token = sign_in(client)
    baseline = len(client.get(f"/edit/{COMMUNITY}").get_data(as_text=True))
    x, y = 119.0, 25.4
    features = [
        {
            "type": "Feature",
            "properties": {"code": f"{COMMUNITY}001"},
            "geometry": shapely.geometry.mapping(
                shapely.box(x + i * 1e-4, y, x + (i + 1) * 1e-4, y + 1e-4)
            ),
        }
        for i in range(2000)
    ]
    data = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    status, html = _upload(client, token, data, "网格.geojson")
    assert status == 422
    assert len(html) - baseline < 20_000, len(html) - baseline
    assert "2000 个要素中有 2000 个被拒绝" in html
    assert "共 2000 个问题，以下列出前 20 个。" in html
    assert "第 1 行" in html and "第 20 行" in html and "第 21 行" not in html
    assert "该编码在其他行也出现：第 2, 3, 4, 5, 6, … 行（共 1,999 行）" in html
    assert "……另有 1980 个问题未列出" in html


def test_gbk_shapefile_without_cpg_in_a_zip_is_detected(
    client: FlaskClient, demo_engine: Engine, tmp_path: Path
) -> None:
    token = sign_in(client)
    cells = _cells(demo_engine)
    cells["名称"] = [f"南郊第{i + 1}网格" for i in range(len(cells))]
    pyogrio.write_dataframe(cells, tmp_path / "cells.shp", encoding="gbk")
    assert (tmp_path / "cells.dbf").read_bytes()[29] not in (0x4D, 0x7A)  # no GBK language driver
    status, html = _upload(client, token, _zip(tmp_path, "cells", drop=(".cpg",)), "网格.zip")
    assert status == 302, html
    assert "已按 GBK 编码读取 Shapefile 的文字（自动识别）。" in html
    [draft] = drafts_of(demo_engine, COMMUNITY)
    assert load_draft(demo_engine, draft["id"]).cells["code"].tolist() == cells["code"].tolist()


def _link_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for suffix in ("shp", "shx", "dbf"):
            info = zipfile.ZipInfo(f"cells.{suffix}")
            info.create_system = 3  # Unix: the mode is in the high bits
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, f"/etc/passwd.{suffix}")
    return out.getvalue()


def test_a_zip_holding_a_link_is_refused_naming_the_member(
    client: FlaskClient, demo_engine: Engine
) -> None:
    token = sign_in(client)
    status, html = _upload(client, token, _link_zip(), "网格.zip")
    assert status == 400, html
    assert "网格.zip" in html and "&#39;cells.shp&#39; 是符号链接" in html
    assert "gridgis-upload-" not in html and "/tmp" not in html
