"""The exports as downloads: /api/export/<what>.<fmt> and the /export page, on the small demo.

Each role downloads what it may: a street office its own street only (every row
read back from the file with pyogrio, csv and pyshp belongs to it) and a 403
for another street; administrators and analysts everything. The files are
attachments with a Chinese-safe name; a shapefile zip opens with GDAL's
``/vsizip/`` and with pyshp; a GBK CSV decodes as GBK. A browser test fills
the form as a street office and downloads the file it answers.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyogrio
import pytest
import shapefile  # pyshp
from _browser import log_in, require_chromium, serve, watched_page
from conftest import TEST_PASSWORD, assert_no_inline_code, response_json, role_client, role_users
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AREA_OPTION = re.compile(r'<option value="([0-9]{9}|[0-9]{12})"')


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="ex")


def _query(url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def _save(response, folder: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    path = folder / name
    path.write_bytes(response.get_data())
    return path


def _filename(response) -> str:  # type: ignore[no-untyped-def]
    """The UTF-8 file name of a download's Content-Disposition."""
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert match is not None, disposition
    return unquote(match.group(1))


def _community_of(url: str, street: str) -> tuple[str, str]:
    rows = _query(
        url,
        "SELECT code, name FROM community WHERE street_code = :s AND code IN "
        "(SELECT community_code FROM grid_cell WHERE valid_to IS NULL) ORDER BY code LIMIT 1",
        s=street,
    )
    return str(rows[0][0]), str(rows[0][1])


# --- who may download what ----------------------------------------------------------------------


def test_nobody_signed_in_gets_401(web: Flask) -> None:
    anonymous = web.test_client()
    body = response_json(anonymous.get("/api/export/cells.gpkg"), 401)
    assert "log in first" in body["error"]
    assert anonymous.get("/export").status_code == 302  # to the login page
    assert anonymous.get("/export/download?what=cells&fmt=csv").status_code == 302


def test_a_street_office_exports_its_own_street_only(
    web: Flask, demo_db: str, streets: list[str], tmp_path: Path
) -> None:
    own, other = streets[0], streets[1]
    office = _client(web, "street", own)

    cells = pyogrio.read_dataframe(_save(office.get("/api/export/cells.gpkg"), tmp_path, "c.gpkg"))
    stored = _query(
        demo_db,
        "SELECT g.code FROM grid_cell g JOIN community c ON c.code = g.community_code "
        "WHERE g.valid_to IS NULL AND c.street_code = :s",
        s=own,
    )
    assert sorted(cells["code"]) == sorted(str(r[0]) for r in stored)
    assert all(code.startswith(own) for code in cells["code"])
    assert set(cells["street_code"]) == {own}

    response = office.get("/api/export/cases.csv?from=2025-01-01&to=2025-12-31")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows, "the street has cases in 2025"
    assert {r["street_code"] for r in rows} == {own}
    assert all(r["cell_code"].startswith(own) for r in rows if r["cell_code"])
    assert all("2025-01-01" <= r["reported_at"][:10] <= "2025-12-31" for r in rows)

    # Another street, or a community of it, is refused, naming it.
    community, _ = _community_of(demo_db, other)
    for query in (f"street={other}", f"community={community}"):
        body = response_json(office.get(f"/api/export/cases.gpkg?{query}"), 403)
        assert query.split("=")[1] in body["error"] and own in body["error"]
    # Its own communities it may export.
    mine, _ = _community_of(demo_db, own)
    stats = office.get(f"/api/export/stats.csv?community={mine}")
    assert stats.status_code == 200
    codes = [r["code"] for r in csv.DictReader(io.StringIO(stats.get_data().decode("utf-8-sig")))]
    assert codes and all(code.startswith(mine) for code in codes)


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_administrators_and_analysts_export_everything(
    web: Flask, demo_db: str, streets: list[str], role: str, tmp_path: Path
) -> None:
    user = _client(web, role)
    frame = pyogrio.read_dataframe(_save(user.get("/api/export/cells.gpkg"), tmp_path, "all.gpkg"))
    active = _query(demo_db, "SELECT count(*) FROM grid_cell WHERE valid_to IS NULL")[0][0]
    assert len(frame) == active
    assert set(frame["street_code"]) == set(streets)
    # Any one street, too.
    one = user.get(f"/api/export/stats.geojson?street={streets[1]}&level=community")
    assert one.status_code == 200
    assert one.mimetype == "application/geo+json"
    by_community = pyogrio.read_dataframe(_save(one, tmp_path, "s.geojson"))
    assert len(by_community) > 0
    assert all(code.startswith(streets[1]) for code in by_community["code"])


# --- the files ----------------------------------------------------------------------------------


def test_the_file_name_names_the_area_in_chinese(
    web: Flask, demo_db: str, streets: list[str]
) -> None:
    admin = _client(web, "admin")
    name = str(_query(demo_db, "SELECT name FROM street WHERE code = :s", s=streets[0])[0][0])
    response = admin.get(f"/api/export/cells.gpkg?street={streets[0]}")
    assert response.status_code == 200
    assert response.mimetype == "application/geopackage+sqlite3"
    assert _filename(response) == f"{streets[0]}_{name}_cells.gpkg"
    assert f'filename="{streets[0]}_cells.gpkg"' in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    assert int(response.headers["Content-Length"]) == len(response.get_data())

    everything = admin.get("/api/export/cases.xlsx?from=2025-03-01&to=2025-03-31")
    assert _filename(everything) == "cases_2025-03-01_2025-03-31.xlsx"
    sheet = load_workbook(io.BytesIO(everything.get_data()), read_only=True).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["id", "external_id", "category"]


def test_a_shapefile_zip_opens_with_gdal_and_pyshp(
    web: Flask, demo_db: str, streets: list[str], tmp_path: Path
) -> None:
    office = _client(web, "street", streets[0])
    response = office.get("/api/export/cells.shp?encoding=gbk&crs=cgcs2000")
    assert response.mimetype == "application/zip"
    assert _filename(response).endswith("_cells.zip")
    path = _save(response, tmp_path, "cells.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"cells.shp", "cells.shx", "cells.dbf", "cells.prj", "cells.cpg"} <= names
        assert archive.read("cells.cpg") == b"GBK"
        fields = list(csv.DictReader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
        archive.extractall(tmp_path / "shp")
    full = {f["full_name"]: f["short_name"] for f in fields}
    assert all(len(short) <= 10 for short in full.values())

    frame = pyogrio.read_dataframe(f"/vsizip/{path}/cells.shp")
    assert frame.crs is not None and frame.crs.to_epsg() == 4490
    assert all(code.startswith(streets[0]) for code in frame["code"])
    community_field = full["community"]
    names_stored = {
        str(r[0])
        for r in _query(demo_db, "SELECT name FROM community WHERE street_code = :s", s=streets[0])
    }
    assert set(frame[community_field]) <= names_stored

    with shapefile.Reader(str(tmp_path / "shp" / "cells.shp"), encoding="gbk") as reader:
        assert len(reader) == len(frame)
        records = reader.records()
        column = [f[0] for f in reader.fields[1:]].index(community_field)
        assert {r[column] for r in records} == set(frame[community_field])
        assert any(re.search(r"[\u4e00-\u9fff]", r[column]) for r in records)


def test_a_gbk_csv_decodes_as_gbk(web: Flask, demo_db: str, streets: list[str]) -> None:
    office = _client(web, "street", streets[0])
    response = office.get("/api/export/cases.csv?encoding=gbk&from=2025-01-01")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=GBK"
    raw = response.get_data()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(raw.decode("gbk"))))
    categories = {str(r[0]) for r in _query(demo_db, "SELECT name_zh FROM case_category")}
    assert rows and {r["category_name"] for r in rows} <= categories
    assert {r["street_code"] for r in rows} == {streets[0]}


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("cells.gpkg?encoding=gbk", 400, "`encoding` was 'gbk'"),
        ("cases.csv?from=2025-02-30", 400, "`from` was '2025-02-30'"),
        ("cases.csv?from=2025-03-01&to=2025-02-01", 400, "`from` (2025-03-01) must not"),
        ("cells.csv?level=street", 400, "`level` was 'street'"),
        ("cells.csv?crs=EPSG:99999", 400, "99999"),
        ("cells.csv?crs=mercator", 422, "`crs` was 'mercator'"),
        ("stats.csv?level=district", 422, "`level` was 'district'"),
        ("cells.csv?colour=red", 422, "`colour`"),
        ("cells.csv?street=350304999", 404, "'350304999'"),
        ("cells.kml", 404, "`fmt` was 'kml'"),
        ("parcels.csv", 404, "`what` was 'parcels'"),
    ],
)
def test_bad_parameters_are_refused_naming_the_value(
    web: Flask, path: str, status: int, message: str
) -> None:
    body = response_json(_client(web, "analyst").get(f"/api/export/{path}"), status)
    assert message in body["error"]


# --- the pages ----------------------------------------------------------------------------------


def test_the_export_page_offers_what_the_user_may_export(
    web: Flask, demo_db: str, streets: list[str]
) -> None:
    analyst = _client(web, "analyst")
    html = analyst.get("/export").get_data(as_text=True)
    assert "<title>数据导出 · gridgis</title>" in html
    assert '<option value="" selected>全部区域</option>' in html
    assert set(streets) <= set(AREA_OPTION.findall(html))
    assert "fields.csv" in html and "households" in html
    assert re.search(r'<option value="EPSG:45[0-9]{2}">', html)  # the data's Gauss-Krüger zone
    assert '<a href="/export" class="current"' in html or 'href="/export"' in html
    assert_no_inline_code(html)

    office = _client(web, "street", streets[0])
    html = office.get("/export").get_data(as_text=True)
    offered = AREA_OPTION.findall(html)
    assert offered[0] == streets[0] and all(code.startswith(streets[0]) for code in offered)
    assert len(offered) > 1  # its communities too
    assert "全部区域" not in html
    assert f'<option value="{streets[0]}" selected>' in html
    assert office.get(f"/export?area={streets[1]}").status_code == 403
    assert office.get("/export?area=12345").status_code == 400
    english = office.get("/export?lang=en").get_data(as_text=True)
    assert "Exports" in english and "What to export" in english


def test_the_form_sends_its_choices_to_the_api(
    web: Flask, demo_db: str, streets: list[str]
) -> None:
    office = _client(web, "street", streets[0])
    community, _ = _community_of(demo_db, streets[0])
    response = office.get(
        f"/export/download?what=cases&fmt=gpkg&area={community}&from=2025-01-01&to="
        "&level=street&crs=wgs84&encoding=gbk"
    )
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == "/api/export/cases.gpkg"
    # Empty fields, the level (not stats) and the encoding (not shp or csv) are left out.
    assert parse_qs(target.query) == {
        "community": [community],
        "from": ["2025-01-01"],
        "crs": ["wgs84"],
    }
    followed = office.get(target.path + "?" + target.query)
    assert followed.status_code == 200
    stats = office.get(f"/export/download?what=stats&fmt=csv&area={streets[0]}&level=community")
    assert parse_qs(urlsplit(stats.headers["Location"]).query) == {
        "street": [streets[0]],
        "level": ["community"],
    }
    assert office.get("/export/download?what=cells&fmt=pdf").status_code == 400


def test_an_area_page_links_its_downloads(web: Flask, demo_db: str, streets: list[str]) -> None:
    office = _client(web, "street", streets[0])
    community, _ = _community_of(demo_db, streets[0])
    html = office.get(f"/area/{community}").get_data(as_text=True)
    links = re.findall(r'<a href="(/api/export/[^"]+)" download>', html)
    assert links == [
        f"/api/export/cells.gpkg?community={community}",
        f"/api/export/stats.xlsx?level=cell&amp;community={community}",
    ]
    assert f'href="/export?area={community}"' in html
    stats = office.get(links[1].replace("&amp;", "&"))
    assert stats.status_code == 200
    sheet = load_workbook(io.BytesIO(stats.get_data()), read_only=True).worksheets[0]
    codes = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert codes and all(str(code).startswith(community) for code in codes)


# --- in the browser ------------------------------------------------------------------------------


@pytest.mark.browser
def test_a_street_office_downloads_from_the_form(
    web: Flask, demo_db: str, streets: list[str], tmp_path: Path
) -> None:
    require_chromium()
    users = role_users(demo_db, "exb", streets[0])
    name, street = users["street"]
    assert street is not None
    community, _ = _community_of(demo_db, street)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(web) as base, watched_page(base) as (page, watch):
        log_in(page, base, name, TEST_PASSWORD, then="/export")
        page.wait_for_selector("main")
        assert page.title() == "数据导出 · gridgis"
        assert page.locator(".nav-bar a.current").inner_text() == "数据导出"
        options = page.locator("#export-area option").evaluate_all("els => els.map(e => e.value)")
        assert options[0] == street and all(code.startswith(street) for code in options)
        page.check("input[name=what][value=cells]")
        page.select_option("#export-fmt", "csv")
        page.select_option("#export-area", community)
        page.select_option("#export-encoding", "gbk")
        page.screenshot(path=str(SCREENSHOTS / "export-street.png"), full_page=True)
        with page.expect_download() as info:
            page.click("#export-submit")
        download = info.value
        assert download.suggested_filename.endswith("_cells.csv")
        assert download.suggested_filename.startswith(community)
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_bytes().decode("gbk"))))
    assert rows and {r["community_code"] for r in rows} == {community}
    watch.assert_clean()
