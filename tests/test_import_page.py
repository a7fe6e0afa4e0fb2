"""The import page (数据导入): upload, dry run in the background, report, confirm (issue 16.8)."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import openpyxl
import pytest
from conftest import assert_no_inline_code, sign_in
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text
from test_register_street import OTHER, OWN, store_two_streets
from werkzeug.test import TestResponse

from gridgis.registers import staging as import_jobs
from gridgis.web import create_app
from gridgis.web.db import dispose_engine


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    return tmp_path / "staging"


@pytest.fixture
def app(database_url: str, engine: Engine, staging: Path) -> Iterator[Flask]:
    store_two_streets(engine)
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "IMPORT_STAGING": str(staging),
            "JOBS_FOLDER": str(staging.parent / "jobs"),
        }
    )
    yield application
    dispose_engine(application)


def _square(x: float, y: float, size: float = 0.0003) -> Polygon:
    return box(x, y, x + size, y + size)


def buildings_file(tmp_path: Path) -> bytes:
    """Four buildings: one fine (west), one in the east street, one straddling the streets'
    boundary (flagged), one far outside every community (rejected)."""
    rows = [
        {"编号": "B1", "户数": 120, "geometry": _square(121.502, 31.232)},
        {"编号": "B2", "户数": 80, "geometry": _square(121.512, 31.232)},
        {"编号": "B3", "户数": 40, "geometry": box(121.5098, 31.235, 121.5101, 31.2353)},
        {"编号": "B4", "户数": 10, "geometry": _square(121.60, 31.235)},
    ]
    path = tmp_path / "楼栋.geojson"
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    return path.read_bytes()


def _post_file(
    client: FlaskClient, token: str, data: bytes, name: str, **fields: str
) -> TestResponse:
    form = {"csrf_token": token, "kind": "buildings", **fields}
    form["file"] = (io.BytesIO(data), name)  # type: ignore[assignment]
    return client.post("/import/", data=form, content_type="multipart/form-data")


def _upload(
    client: FlaskClient, token: str, data: bytes, name: str, **fields: str
) -> tuple[int, str]:
    response = _post_file(client, token, data, name, **fields)
    return response.status_code, response.headers.get("Location", "")


def wait(client: FlaskClient, job_url: str, *, stage: str) -> dict[str, object]:
    """The import's status once its ``stage`` has ended (polled as the page does)."""
    job_id = job_url.rstrip("/").rsplit("/", 1)[-1]
    deadline = time.monotonic() + 60
    while True:
        status = client.get(f"/api/imports/{job_id}").get_json()
        if status["stage"] == stage and status["state"] != "running":
            return dict(status)
        assert time.monotonic() < deadline, status
        time.sleep(0.1)


def _stored(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, community_code FROM building"))
        return {r[0]: r[1] for r in rows}


def test_dry_run_report_then_confirm_stores_the_buildings(
    app: Flask, engine: Engine, staging: Path, tmp_path: Path
) -> None:
    client = app.test_client()
    token = sign_in(client, role="admin", name="wang")
    page = client.get("/import/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "数据导入" in html and 'value="buildings"' in html
    assert_no_inline_code(html)
    status, location = _upload(client, token, buildings_file(tmp_path), "楼栋.geojson",
                               buildings_households_field="户数")  # fmt: skip
    assert status == 303 and location.startswith("/import/")
    done = wait(client, location, stage="dry_run")
    assert done["state"] == "done", done
    assert done["counts"] == {
        "read": 4, "imported": 2, "updated": 0, "unchanged": 0, "flagged": 1, "rejected": 1,
    }  # fmt: skip
    assert _stored(engine) == {}  # a dry run changes nothing
    html = client.get(location).get_data(as_text=True)
    assert_no_inline_code(html)
    assert "试导入报告" in html and "确认导入" in html
    assert 'data-row="4"' in html and "不在任何社区内" in html
    assert "跨社区" in html and "跨越社区" in html
    assert str(staging) not in html and "楼栋.geojson" in html
    config = json.loads(html.split('id="gridgis-config">', 1)[1].split("</script>", 1)[0])
    outcomes = sorted(f["properties"]["outcome"] for f in config["shapes"]["features"])
    assert outcomes == ["flagged", "rejected"]
    csv = client.get(location + "/report.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "B4" in csv.get_data(as_text=True)
    csv.close()
    confirmed = client.post(location + "/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 303
    final = wait(client, location, stage="import")
    assert final["state"] == "done" and final["counts"]["imported"] == 2, final
    assert _stored(engine) == {"B1": f"{OWN}001", "B2": f"{OTHER}001", "B3": f"{OWN}001"}
    html = client.get(location).get_data(as_text=True)
    assert "导入已完成：3 行写入数据库。" in html and "确认导入" not in html
    with engine.connect() as conn:
        actors = conn.execute(
            text(
                "SELECT actor, summary::text FROM audit_log "
                "WHERE action = 'import' AND object_type = 'building'"
            )
        ).all()
    assert [a for a, _ in actors] == ["wang"] and "楼栋.geojson" in actors[0][1]
    job = import_jobs.load(staging, location.rsplit("/", 1)[-1])
    assert job.file is None  # the staged file is gone once imported
    with engine.connect() as conn:  # both stages ran on the job queue that exports use
        queued = conn.execute(
            text(
                "SELECT params->>'stage', state, owner, done > 0, result_name FROM background_job "
                "WHERE kind = 'import' AND params->>'folder' = :folder ORDER BY id"
            ),
            {"folder": str(job.folder)},
        ).all()
    assert [tuple(r) for r in queued] == [
        ("dry_run", "done", "wang", True, "楼栋.dry-run.csv"),
        ("import", "done", "wang", True, "楼栋.report.csv"),
    ]
    again = client.post(location + "/confirm", data={"csrf_token": token})
    assert again.status_code == 409


def test_a_street_office_imports_within_its_street(
    app: Flask, engine: Engine, tmp_path: Path
) -> None:
    client = app.test_client()
    token = sign_in(client, role="street", street=OWN, name="office")
    assert "街道办账号只能导入本街道" in client.get("/import/").get_data(as_text=True)
    _, location = _upload(client, token, buildings_file(tmp_path), "b.geojson")
    done = wait(client, location, stage="dry_run")
    assert done["counts"]["rejected"] == 2, done  # the east street's and the outside one
    html = client.get(location).get_data(as_text=True)
    assert f"楼栋位于社区 {OTHER}001，不在街道 {OWN} 内" in html
    client.post(location + "/confirm", data={"csrf_token": token})
    wait(client, location, stage="import")
    assert _stored(engine) == {"B1": f"{OWN}001", "B3": f"{OWN}001"}
    # Another user does not see the import; an analyst may not post one.
    other = app.test_client()
    sign_in(other, role="street", street=OWN, name="office2")
    assert other.get(location).status_code == 404
    assert other.get("/api/imports/" + location.rsplit("/", 1)[-1]).status_code == 404
    analyst = app.test_client()
    analyst_token = sign_in(analyst, role="analyst", name="li")
    assert analyst.get("/import/").status_code == 403
    assert _upload(analyst, analyst_token, b"x", "b.csv")[0] == 403


def test_a_street_office_imports_facilities_within_its_street(
    app: Flask, engine: Engine, tmp_path: Path
) -> None:
    """The rosters (here facilities) are offered to a street office; rows of another
    street are rejected with the reason, the others stored."""
    client = app.test_client()
    token = sign_in(client, role="street", street=OWN, name="office")
    html = client.get("/import/").get_data(as_text=True)
    for kind in ("workers", "branches", "facilities"):
        assert f'value="{kind}"' in html, kind
    register = "编号,名称,类型,经度,纬度\nF1,西卫生站,卫生服务站,121.505,31.235\n"
    register += "F2,东警务室,警务室,121.515,31.235\n"
    _, location = _upload(client, token, register.encode(), "设施.csv", kind="facilities")
    done = wait(client, location, stage="dry_run")
    assert done["state"] == "done" and done["counts"]["rejected"] == 1, done
    page = client.get(location + "?lang=en").get_data(as_text=True)
    assert f"the facility lies in community {OTHER}001, outside street {OWN}" in page
    client.post(location + "/confirm", data={"csrf_token": token})
    wait(client, location, stage="import")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT external_id, street_code FROM service_facility"))
        assert dict(stored.all()) == {"F1": OWN}


@pytest.mark.parametrize(
    ("kind", "register"),
    [
        ("facilities", "编号,名称,类型,经度,纬度\nF1,西站,警务室,121.505,31.235\n"
         "F2,远方站,警务室,121.60,31.235\nF3,坏站,警务室,abc,31.2\n"),
        ("branches", "编号,名称,类型,经度,纬度\nP1,西支部,党支部,121.505,31.235\n"
         "P2,远方支部,党支部,121.60,31.235\nP3,坏支部,党支部,abc,31.2\n"),
    ],
)  # fmt: skip
def test_flagged_facilities_and_branches_are_drawn_on_the_report_map(
    app: Flask, kind: str, register: str
) -> None:
    """A row placed outside every community is flagged and drawn at its point, as
    buildings are; a row with no point is listed but not drawn."""
    client = app.test_client()
    token = sign_in(client, role="admin", name="wang")
    _, location = _upload(client, token, register.encode(), f"{kind}.csv", kind=kind)
    done = wait(client, location, stage="dry_run")
    assert done["state"] == "done" and done["counts"]["flagged"] == 1, done
    html = client.get(location).get_data(as_text=True)
    config = json.loads(html.split('id="gridgis-config">', 1)[1].split("</script>", 1)[0])
    features = config["shapes"]["features"]
    assert [(f["properties"]["row"], f["properties"]["outcome"]) for f in features] == [
        (3, "flagged")
    ]
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [121.6, 31.235]}


def test_unreadable_files_and_bad_forms_are_told_in_words(
    app: Flask, engine: Engine, staging: Path
) -> None:
    client = app.test_client()
    token = sign_in(client, role="admin")
    status, _ = _upload(client, token, b"id,x\n", "楼栋.pdf")
    assert status == 400
    page = client.post("/import/", data={"csrf_token": token, "kind": "buildings"})
    assert page.status_code == 400 and "未选择文件" in page.get_data(as_text=True)
    unknown = client.post(
        "/import/?lang=en",
        data={"csrf_token": token, "kind": "trees", "file": (io.BytesIO(b"a"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert unknown.status_code == 400
    assert "Cannot import" in unknown.get_data(as_text=True)
    # A CSV without an id column: the dry run fails with the reason, no path, no trace.
    _, location = _upload(client, token, "名称,户数\n甲,3\n".encode(), "楼栋.csv")
    failed = wait(client, location, stage="dry_run")
    assert failed["state"] == "failed" and "id" in str(failed["error"])
    html = client.get(location + "?lang=zh").get_data(as_text=True)
    assert "无法读取或检查该文件" in html and "楼栋.csv" in html
    assert str(staging) not in html and "Traceback" not in html
    # A missing column named explicitly: the error names the columns found.
    _, location = _upload(client, token, "编号,户数\nA,3\n".encode(), "b.csv",
                          buildings_floors_field="层数")  # fmt: skip
    failed = wait(client, location, stage="dry_run")
    assert failed["state"] == "failed" and "层数" in str(failed["error"]), failed
    assert _stored(engine) == {}


def test_cancel_and_age_remove_staged_files(app: Flask, staging: Path, tmp_path: Path) -> None:
    client = app.test_client()
    token = sign_in(client, role="admin")
    _, location = _upload(client, token, buildings_file(tmp_path), "b.geojson")
    wait(client, location, stage="dry_run")
    job_id = location.rsplit("/", 1)[-1]
    assert (staging / job_id).is_dir()
    response = client.post(location + "/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    assert not (staging / job_id).exists()
    assert client.get(location).status_code == 404
    # An upload neither confirmed nor cancelled is removed after GRIDGIS_IMPORT_STAGING_HOURS.
    _, location = _upload(client, token, buildings_file(tmp_path), "b.geojson")
    wait(client, location, stage="dry_run")
    old = staging / location.rsplit("/", 1)[-1]
    two_days_ago = time.time() - 48 * 3600
    os.utime(old / "state.json", (two_days_ago, two_days_ago))
    client.get("/import/")
    assert not old.exists()


def test_rejected_rows_are_listed_before_flagged_ones(app: Flask, tmp_path: Path) -> None:
    """The page lists the first LISTED rows to look at: a rejected row after more flagged
    ones than that is listed all the same (first), not hidden behind them."""
    straddlers = [
        {"编号": f"S{i}", "户数": 5,
         "geometry": box(121.5098, 31.2302 + i * 0.00004, 121.5101, 31.2302 + i * 0.00004 + 3e-5)}
        for i in range(import_jobs.LISTED + 5)
    ]  # fmt: skip
    outside = {"编号": "FAR", "户数": 10, "geometry": _square(121.60, 31.235)}
    path = tmp_path / "楼栋.geojson"
    gpd.GeoDataFrame([*straddlers, outside], geometry="geometry", crs="EPSG:4326").to_file(path)
    client = app.test_client()
    token = sign_in(client, role="admin", name="wang")
    _, location = _upload(client, token, path.read_bytes(), "楼栋.geojson")
    done = wait(client, location, stage="dry_run")
    assert done["counts"]["flagged"] == import_jobs.LISTED + 5, done  # type: ignore[index]
    html = client.get(location).get_data(as_text=True)
    rows = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert rows.count("<tr ") == import_jobs.LISTED
    first = rows.split("<tr ", 2)[1]
    assert 'class="import-row-rejected" data-row="206"' in first and "FAR" in first
    assert f"共 {import_jobs.LISTED + 6} 行，以下列出前 {import_jobs.LISTED} 行" in html


def test_reasons_are_told_in_the_users_language_on_the_page_and_in_the_csv(
    app: Flask, tmp_path: Path
) -> None:
    """A Chinese page (the default) says each rejected row's reason in Chinese, naming the
    bad value; the per-row CSV too, with the reason codes; English when switched."""
    rows = [
        {"编号": "B1", "户数": "120", "geometry": _square(121.502, 31.232)},
        {"编号": "B4", "户数": "10", "geometry": _square(121.60, 31.235)},
        {"编号": "B5", "户数": "-3", "geometry": _square(121.503, 31.232)},
    ]
    path = tmp_path / "楼栋.geojson"
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    client = app.test_client()
    token = sign_in(client, role="admin", name="wang")
    _, location = _upload(client, token, path.read_bytes(), "楼栋.geojson",
                          buildings_households_field="户数")  # fmt: skip
    done = wait(client, location, stage="dry_run")
    assert done["counts"]["rejected"] == 2, done  # type: ignore[index]
    html = client.get(location).get_data(as_text=True)
    assert "不在任何社区内（请先导入社区边界）" in html
    assert "户数 &#39;-3&#39; 是负数" in html
    assert "outside every community" not in html and "is negative" not in html
    config = json.loads(html.split('id="gridgis-config">', 1)[1].split("</script>", 1)[0])
    said = {f["properties"]["reason"] for f in config["shapes"]["features"]}
    assert any("不在任何社区内" in r for r in said), said
    zh = client.get(location + "/report.csv")
    text_zh = zh.get_data(as_text=True)
    zh.close()
    assert "户数 '-3' 是负数" in text_zh and "is negative" not in text_zh
    assert "reason_code" in text_zh.splitlines()[0]
    assert "negative" in text_zh and "outside_every_community" in text_zh
    assert "Traceback" not in text_zh and str(tmp_path) not in text_zh
    english = client.get(location + "?lang=en").get_data(as_text=True)
    assert "households &#39;-3&#39; is negative" in english
    assert "outside every community" in english and "是负数" not in english
    en = client.get(location + "/report.csv")
    text_en = en.get_data(as_text=True)
    en.close()
    assert "households '-3' is negative" in text_en and "是负数" not in text_en


def test_the_excel_templates_are_downloaded_from_the_form(app: Flask) -> None:
    """Each kind offered links its Excel template (as ``gridgis template KIND`` writes it);
    a street office gets only those of the kinds it is offered."""
    admin = app.test_client()
    sign_in(admin, role="admin", name="wang")
    html = admin.get("/import/").get_data(as_text=True)
    for kind in ("buildings", "households", "units", "workers", "branches", "facilities"):
        assert f'href="/import/templates/{kind}.xlsx"' in html, kind
    # Units and departments are offered to administrators (units have a template).
    assert 'value="units"' in html and 'value="departments"' in html
    answer = admin.get("/import/templates/workers.xlsx")
    assert answer.status_code == 200 and answer.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in answer.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(answer.get_data()))
    header = [c.value for c in book["导入"][1]]
    assert header[:3] == ["编号", "姓名", "电话"] and "网格" in header
    assert admin.get("/import/templates/trees.xlsx").status_code == 404
    office = app.test_client()
    sign_in(office, role="street", street=OWN, name="office")
    html = office.get("/import/").get_data(as_text=True)
    for kind in ("buildings", "households", "workers", "branches", "facilities"):
        assert f"/import/templates/{kind}.xlsx" in html, kind
        assert office.get(f"/import/templates/{kind}.xlsx").status_code == 200, kind
    # Units and departments are not kept within a street: administrators import them.
    assert 'value="units"' not in html and 'value="departments"' not in html


def test_wrong_encoding_and_too_large_files_are_told_in_words_and_store_nothing(
    app: Flask, engine: Engine, staging: Path
) -> None:
    client = app.test_client()
    token = sign_in(client, role="admin")
    # A GBK file read as UTF-8 (as the user chose): the reason names the encoding, no path.
    register = "编号,户数,经度,纬度\nB1,30,121.502,31.232\n".encode("gbk")
    _, location = _upload(client, token, register, "楼栋.csv", encoding="utf-8")
    failed = wait(client, location, stage="dry_run")
    assert failed["state"] == "failed" and "utf-8" in str(failed["error"]), failed
    html = client.get(location + "?lang=zh").get_data(as_text=True)
    assert "无法读取或检查该文件" in html and "楼栋.csv" in html
    assert str(staging) not in html and "Traceback" not in html
    # Over the size limit: 413 with the sizes in words, nothing staged or stored.
    app.config["MAX_CONTENT_LENGTH"] = 4_000
    staged_before = sorted(staging.rglob("*")) if staging.exists() else []
    status, _ = _upload(client, token, b"id,x\n" + b"B,1\n" * 2_000, "big.csv")
    assert status == 413
    page = client.post(
        "/import/",
        data={"csrf_token": token, "kind": "buildings",
              "file": (io.BytesIO(b"id\n" + b"B\n" * 3_000), "big.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert page.status_code == 413 and "上限 4000 字节" in page.get_data(as_text=True)
    assert (sorted(staging.rglob("*")) if staging.exists() else []) == staged_before
    assert _stored(engine) == {}


def test_roads_are_offered_to_administrators_and_bad_rows_named(app: Flask, engine: Engine) -> None:
    """Issue 16: the roads' importer reports every row as the registers do, so the page
    offers it (to administrators: roads are not kept within a street)."""
    office = app.test_client()
    sign_in(office, role="street", street=OWN, name="office")
    assert 'value="roads"' not in office.get("/import/").get_data(as_text=True)
    client = app.test_client()
    token = sign_in(client, role="admin", name="wang")
    assert 'value="roads"' in client.get("/import/").get_data(as_text=True)
    register = "道路编号,道路名称,道路等级,wkt\n"
    register += 'R1,梅园路,支路,"LINESTRING (121.501 31.231, 121.509 31.239)"\n'
    register += 'R2,高速,高速公路,"LINESTRING (121.501 31.239, 121.509 31.231)"\n'
    _, location = _upload(client, token, register.encode("gbk"), "道路.csv", kind="roads")
    done = wait(client, location, stage="dry_run")
    assert done["state"] == "done", done
    assert (done["counts"]["imported"], done["counts"]["rejected"]) == (1, 1), done
    page = client.get(location).get_data(as_text=True)
    assert "未知类型 &#39;高速公路&#39;" in page  # the reason in Chinese, escaped
    client.post(location + "/confirm", data={"csrf_token": token})
    wait(client, location, stage="import")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT external_id, name, kind FROM road")).all()
    assert [tuple(r) for r in stored] == [("R1", "梅园路", "local")]


def test_a_failed_dry_run_is_told_in_the_language_of_the_page_or_request(app: Flask) -> None:
    """Issue 18 point 10: the importer's error keeps its Chinese through the background
    run; a Chinese page (or a request asking for Chinese) shows it, a script the English."""
    client = app.test_client()
    token = sign_in(client, role="admin")
    _, location = _upload(client, token, "名称,户数\n甲,3\n".encode(), "楼栋.csv")
    failed = wait(client, location, stage="dry_run")
    english = str(failed["error"])
    assert failed["state"] == "failed" and english.startswith("楼栋.csv has no column for id")
    job_id = location.rstrip("/").rsplit("/", 1)[-1]
    asked = client.get(f"/api/imports/{job_id}", headers={"Accept-Language": "zh-CN"})
    chinese = str(asked.get_json()["error"])
    assert chinese.startswith("楼栋.csv 缺少以下字段的列：id（查找过：")
    assert chinese.endswith("请指定对应的列。现有的列：'名称', '户数'") and "column" not in chinese
    assert str(escape(chinese)) in client.get(location + "?lang=zh").get_data(as_text=True)
    assert str(escape(english)) in client.get(location + "?lang=en").get_data(as_text=True)
    # Not a file the import reads: the form says so in the page's language.
    client.get("/import/?lang=zh")  # the page's language is kept (a cookie): Chinese again
    refused = _post_file(client, token, b"%PDF", "楼栋.pdf")
    assert refused.status_code == 400
    assert "&#39;楼栋.pdf&#39; 不是楼栋导入可读取的文件" in refused.get_data(as_text=True)
