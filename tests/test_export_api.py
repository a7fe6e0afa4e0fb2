"""The exports as downloads: /api/export/<what>.<fmt> and the /export page, on the small demo.

Each role downloads what it may: a street office its own street only (every row
read back from the file with pyogrio, csv and pyshp belongs to it) and a 403
for another street; administrators and analysts everything. The files are
attachments with a Chinese-safe name; a shapefile zip opens with GDAL's
``/vsizip/`` and with pyshp; a GBK CSV decodes as GBK. A browser test fills
the form as a street office and downloads the file it answers. With a second
district stored, ``district=`` keeps each district's rows apart, on the API, the
export page and the district page's links.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import openpyxl
import pyogrio
import pytest
import shapefile  # pyshp
from _browser import log_in, require_chromium, serve, watched_page
from conftest import (
    TEST_PASSWORD,
    assert_no_inline_code,
    insert_other_district,
    response_json,
    role_client,
    role_users,
)
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AREA_OPTION = re.compile(r'<option value="([0-9]{9}|[0-9]{12})"')
DISTRICT_OPTION = re.compile(r'<option value="([0-9]{6})"(?: selected)?>([^<]*)</option>')


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
    assert "log in first" in body["error"]["message"]
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
        assert query.split("=")[1] in body["error"]["message"] and own in body["error"]["message"]
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


def test_spreadsheets_hold_formulas_and_control_characters_as_text(
    web: Flask, demo_db: str, streets: list[str]
) -> None:
    texts = ['=HYPERLINK("http://example.com","x")', "@SUM(A1)", "井盖\u000b丢失"]
    engine = create_engine(demo_db)
    try:
        with engine.begin() as conn:
            kept = conn.execute(
                text(
                    "SELECT id, description FROM case_record WHERE street_code = :s "
                    "ORDER BY id LIMIT 3"
                ),
                {"s": streets[0]},
            ).all()
            for (case_id, _), description in zip(kept, texts, strict=True):
                conn.execute(
                    text("UPDATE case_record SET description = :d WHERE id = :i"),
                    {"d": description, "i": case_id},
                )
        admin = _client(web, "admin")
        book = admin.get(f"/api/export/cases.xlsx?street={streets[0]}")
        assert book.status_code == 200, book.get_data(as_text=True)  # was 400 for U+000B
        sheet = load_workbook(io.BytesIO(book.get_data())).worksheets[0]
        header = [c.value for c in sheet[1]]
        cells = {
            row[header.index("id")].value: row[header.index("description")]
            for row in sheet.iter_rows(min_row=2)
        }
        shown = [cells[case_id] for case_id, _ in kept]
        assert [c.data_type for c in shown] == ["s", "s", "s"]
        assert [c.value for c in shown] == [texts[0], texts[1], "井盖_x000B_丢失"]
        table = admin.get(f"/api/export/cases.csv?street={streets[0]}")
        assert table.status_code == 200
        rows = {
            int(r["id"]): r["description"]
            for r in csv.DictReader(io.StringIO(table.get_data().decode("utf-8-sig")))
        }
        assert [rows[case_id] for case_id, _ in kept] == ["'" + texts[0], "'" + texts[1], texts[2]]
    finally:
        with engine.begin() as conn:
            for case_id, description in kept:
                conn.execute(
                    text("UPDATE case_record SET description = :d WHERE id = :i"),
                    {"d": description, "i": case_id},
                )
        engine.dispose()


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("cells.gpkg?encoding=gbk", 400, "`encoding` was 'gbk'"),
        ("cases.csv?from=2025-02-30", 422, "`from` was '2025-02-30'"),
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
    assert message in body["error"]["message"]


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
    # Chinese headers as the page offers them by default, for CSV and Excel only.
    page = office.get("/export?lang=zh").get_data(as_text=True)
    assert '<option value="zh" selected>' in page
    english = office.get("/export?lang=en").get_data(as_text=True)
    assert '<option value="codes" selected>' in english
    named = office.get(f"/export/download?what=stats&fmt=xlsx&area={streets[0]}&headers=zh")
    target = urlsplit(named.headers["Location"])
    assert parse_qs(target.query)["headers"] == ["zh"]
    sheet = openpyxl.load_workbook(io.BytesIO(office.get(target.path + "?" + target.query).data))
    assert "户数" in [c.value for c in sheet.worksheets[0][1]]
    shp = office.get(f"/export/download?what=cells&fmt=shp&area={streets[0]}&headers=zh")
    assert "headers" not in parse_qs(urlsplit(shp.headers["Location"]).query)


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
    # The page asks for Chinese headers by default in its Chinese UI.
    assert rows and {r["社区编码"] for r in rows} == {community}
    watch.assert_clean()


# --- two districts: the district filter -----------------------------------------------------------


@pytest.fixture(scope="module")
def two_districts(pg_server: Any, demo_template: str) -> Iterator[dict[str, str]]:
    """A copy of the demo with a second district (conftest's 龙港区) beside 荔城区: the URL
    (``url``), both districts' codes (``demo``, ``other``) and the other's names and codes."""
    name = f"gridgis_export_districts_{os.getpid()}"
    url = pg_server.create(name, template=demo_template)
    engine = create_engine(url)
    try:
        other = insert_other_district(engine)
    finally:
        engine.dispose()
    (demo,) = (str(r[0]) for r in _query(url, "SELECT code FROM district WHERE code <> :o",
                                          o=other["district"]))  # fmt: skip
    yield {"url": url, "demo": demo, "other": other["district"], **other}
    pg_server.drop(name)


@pytest.fixture(scope="module")
def two_web(two_districts: dict[str, str]) -> Iterator[Flask]:
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app({"TESTING": True, "DATABASE_URL": two_districts["url"]})
    yield application
    dispose_engine(application)


def _demo_street(two_districts: dict[str, str]) -> str:
    """The demo district's first street with active cells."""
    rows = _query(
        two_districts["url"],
        "SELECT min(left(code, 9)) FROM grid_cell WHERE valid_to IS NULL AND code LIKE :d",
        d=two_districts["demo"] + "%",
    )
    return str(rows[0][0])


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_a_district_filter_exports_that_district_only(
    two_web: Flask, two_districts: dict[str, str], role: str, tmp_path: Path
) -> None:
    user = _client(two_web, role)
    demo, other = two_districts["demo"], two_districts["other"]
    everything = pyogrio.read_dataframe(
        _save(user.get("/api/export/cells.gpkg"), tmp_path, "all.gpkg")
    )
    assert {code[:6] for code in everything["code"]} == {demo, other}
    response = user.get(f"/api/export/cells.gpkg?district={demo}")
    assert _filename(response) == f"{demo}_荔城区_cells.gpkg"
    mine = pyogrio.read_dataframe(_save(response, tmp_path, "demo.gpkg"))
    assert sorted(mine["code"]) == sorted(c for c in everything["code"] if c.startswith(demo))
    assert set(mine["district_code"]) == {demo}

    response = user.get(f"/api/export/cases.csv?district={other}&from=2025-06-01&to=2025-06-30")
    assert response.status_code == 200
    assert _filename(response) == f"{other}_龙港区_cases_2025-06-01_2025-06-30.csv"
    assert (
        f'filename="{other}_cases_2025-06-01_2025-06-30.csv"'
        in (response.headers["Content-Disposition"])
    )
    cases = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [(r["street_code"], r["description"]) for r in cases] == [
        (two_districts["street"], "龙港区的案件")
    ]
    stats = user.get(f"/api/export/stats.xlsx?district={other}&level=street")
    sheet = load_workbook(io.BytesIO(stats.get_data()), read_only=True).worksheets[0]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [
        two_districts["street"]
    ]


@pytest.mark.parametrize(
    ("query", "status", "messages"),
    [
        ("district=211403&street={street}", 400, ["`street` was '{street}'", "'211403'"]),
        (
            "district=211403&community={street}001",
            400,
            ["`community` was '{street}001'", "not in the district given ('211403')"],
        ),
        ("district=999999", 404, ["`district` was '999999' but no district has that code"]),
        ("district=35030", 422, ["`district` was '35030'"]),
        ("district=3503040", 422, ["`district` was '3503040'"]),
    ],
)
def test_bad_districts_are_refused_naming_the_codes(
    two_web: Flask, two_districts: dict[str, str], query: str, status: int, messages: list[str]
) -> None:
    street = _demo_street(two_districts)
    analyst = _client(two_web, "analyst")
    body = response_json(
        analyst.get(f"/api/export/cells.csv?{query.format(street=street)}"), status
    )
    for message in messages:
        assert message.format(street=street) in body["error"]["message"]


def test_a_street_office_and_a_district(
    two_web: Flask, two_districts: dict[str, str], tmp_path: Path
) -> None:
    own = _demo_street(two_districts)
    office = _client(two_web, "street", own)
    other = two_districts["other"]
    body = response_json(office.get(f"/api/export/cells.gpkg?district={other}"), 403)
    assert body["error"]["message"] == (
        f"`district` was '{other}' but user 'ex-street-{own}' may see only street {own}"
    )
    # Its own district: its own street, named after the street.
    response = office.get(f"/api/export/cells.gpkg?district={two_districts['demo']}")
    name = str(_query(two_districts["url"], "SELECT name FROM street WHERE code = :s", s=own)[0][0])
    assert _filename(response) == f"{own}_{name}_cells.gpkg"
    cells = pyogrio.read_dataframe(_save(response, tmp_path, "own.gpkg"))
    assert len(cells) > 1 and set(cells["street_code"]) == {own}


def test_the_export_page_offers_the_districts(
    two_web: Flask, two_districts: dict[str, str]
) -> None:
    demo, other = two_districts["demo"], two_districts["other"]
    analyst = _client(two_web, "analyst")
    html = analyst.get("/export").get_data(as_text=True)
    assert '<optgroup label="区县">' in html
    assert DISTRICT_OPTION.findall(html) == [
        (other, "龙港区（211403）"),
        (demo, f"荔城区（{demo}）"),
    ]
    assert_no_inline_code(html)
    chosen = analyst.get(f"/export?area={other}").get_data(as_text=True)
    assert f'<option value="{other}" selected>' in chosen
    assert '<optgroup label="District">' in analyst.get("/export?lang=en").get_data(as_text=True)
    assert analyst.get("/export?area=999999").status_code == 404
    assert analyst.get("/export?area=35030").status_code == 400

    response = analyst.get(f"/export/download?what=cells&fmt=csv&area={other}&level=street")
    assert response.status_code == 303
    target = urlsplit(response.headers["Location"])
    assert target.path == "/api/export/cells.csv"
    assert parse_qs(target.query) == {"district": [other]}
    followed = analyst.get(target.path + "?" + target.query)
    rows = list(csv.DictReader(io.StringIO(followed.get_data().decode("utf-8-sig"))))
    assert [r["code"] for r in rows] == [two_districts["cell"]]

    own = _demo_street(two_districts)
    office = _client(two_web, "street", own)
    html = office.get(f"/export?area={demo}").get_data(as_text=True)
    assert not DISTRICT_OPTION.findall(html) and "区县" not in html
    assert f'<option value="{own}" selected>' in html  # its own district: its street
    assert office.get(f"/export?area={other}").status_code == 403


@pytest.mark.parametrize("role", ["admin", "street"])
def test_a_district_page_links_its_downloads(
    two_web: Flask, two_districts: dict[str, str], role: str
) -> None:
    demo = two_districts["demo"]
    own = _demo_street(two_districts)
    user = _client(two_web, role, own if role == "street" else None)
    html = user.get(f"/area/{demo}").get_data(as_text=True)
    links = re.findall(r'<a href="(/api/export/[^"]+)" download>', html)
    assert links == [
        f"/api/export/cells.gpkg?district={demo}",
        f"/api/export/stats.xlsx?level=street&amp;district={demo}",
    ]
    assert f'href="/export?area={demo}"' in html
    stats = user.get(links[1].replace("&amp;", "&"))
    assert stats.status_code == 200
    sheet = load_workbook(io.BytesIO(stats.get_data()), read_only=True).worksheets[0]
    codes = [str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True)]
    streets = [
        str(r[0])
        for r in _query(
            two_districts["url"],
            "SELECT DISTINCT left(code, 9) FROM grid_cell WHERE valid_to IS NULL AND code LIKE :d "
            "ORDER BY 1",
            d=demo + "%",
        )
    ]
    assert codes == (streets if role == "admin" else [own])
    more = user.get(f"/export?area={demo}").get_data(as_text=True)
    assert f'<option value="{demo if role == "admin" else own}" selected>' in more
