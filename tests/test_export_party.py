"""The export page's 走访记录, 问题台账 and 三零社区 (issue 19 point 8): offered with the scoping
of their pages, run through the background-job path the page uses, and read back.

Each file is read with a real reader (openpyxl, pyogrio) and its rows checked against
an independent SQL count over the demo district. Visits and the ledger are lists of
people: administrators and street offices export them (a street office its own street
only); an analyst is refused (403) and not offered them; the 三零 figures go to anyone
who may see the area.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from conftest import response_json, role_client
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]
from sqlalchemy import Engine, create_engine, text

from gridgis import jobs
from gridgis.export.visits import LEDGER_HEADER, VISIT_HEADER
from gridgis.times import CHINA_TZ


@pytest.fixture(scope="module")
def job_web(demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app with no runner of its own: each test runs the queued job itself."""
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    application = create_app({"TESTING": True, "DATABASE_URL": demo_db, "JOBS_RUNNER": False,
                              "JOBS_FOLDER": str(tmp_path_factory.mktemp("jobs"))})  # fmt: skip
    yield application
    dispose_engine(application)


@pytest.fixture(scope="module")
def db(demo_db: str) -> Iterator[Engine]:
    engine = create_engine(demo_db)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def street(db: Engine) -> str:
    """The street with the most ledger entries of the demo's campaign."""
    with db.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT street_code FROM ledger_entry GROUP BY 1 ORDER BY count(*) DESC, 1 "
                    "LIMIT 1"
                )
            ).scalar_one()
        )


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="xp")


def _csrf(client: FlaskClient) -> dict[str, str]:
    with client.session_transaction() as session:
        return {"X-CSRF-Token": session.get("csrf") or ""}


def _count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def _by_job(client: FlaskClient, web: Flask, db: Engine, url: str) -> tuple[dict, bytes]:
    """Start the export ``url`` as a background job, run it here, download its file."""
    started = response_json(client.post(url, headers=_csrf(client)), 202)
    ended = jobs.run_one(db, Path(web.config["JOBS_FOLDER"]), worker="test")
    assert ended is not None and ended.state == "done", ended
    status = response_json(client.get(started["status_url"]), 200)
    with client.get(str(status["download_url"])) as download:
        assert download.status_code == 200
        return status, download.get_data()


def _sheet(data: bytes) -> list[tuple[Any, ...]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def test_a_street_office_exports_its_visits_ledger_and_sanling_in_the_background(
    job_web: Flask, db: Engine, street: str, tmp_path: Path
) -> None:
    office = _client(job_web, "street", street)
    page = office.get("/export").get_data(as_text=True)
    for what in ("visits", "ledger", "sanling"):
        assert f'value="{what}"' in page, what

    # The ledger: the 台账's Chinese layout, every entry of the street, names as stored.
    status, data = _by_job(office, job_web, db, "/api/export/ledger.xlsx/jobs?headers=zh")
    rows = _sheet(data)
    assert rows[0] == LEDGER_HEADER
    entries = _count(
        db, "SELECT count(*) FROM ledger_entry WHERE community_code LIKE :s", s=street + "%"
    )
    assert entries > 0 and len(rows) - 1 == entries == status["total"]
    assert str(status["file_name"]).startswith(street) and status["file_name"].endswith(
        "_ledger.xlsx"
    )
    assert [r[0] for r in rows[1:]] == list(range(1, entries + 1))  # 序号
    names = {r[3] for r in rows[1:] if r[3]}
    stored = _names(db, street)
    assert names and names <= stored  # 走访对象 unmasked in the office's own street
    assert {r[9] for r in rows[1:]} <= {"未销号", "已销号"}

    # The visits, as a GeoPackage: the phones' points.
    _, data = _by_job(office, job_web, db, "/api/export/visits.gpkg/jobs")
    path = tmp_path / "visits.gpkg"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path)
    visits = _count(
        db,
        "SELECT count(*) FROM visit v JOIN visit_target t ON t.id = v.target_id "
        "WHERE t.community_code LIKE :s",
        s=street + "%",
    )
    assert visits > 0 and len(frame) == visits
    assert list(frame.columns[: len(VISIT_HEADER)]) == list(VISIT_HEADER)
    assert frame.crs is not None and frame.crs.to_epsg() == 4326

    # 三零: one row per community of the street, the figures of the days asked.
    first, last = _case_days(db, street)
    status, data = _by_job(
        office, job_web, db, f"/api/export/sanling.xlsx/jobs?from={first}&to={last}"
    )
    rows = _sheet(data)
    header, body = rows[0], rows[1:]
    assert len(body) == _count(
        db, "SELECT count(*) FROM community WHERE code LIKE :s", s=street + "%"
    )
    total = header.index("total")
    counted = _count(
        db,
        "SELECT count(*) FROM case_record c JOIN sanling_category s "
        "ON s.category_code = c.category_code WHERE c.community_code LIKE :s "
        "AND c.reported_at >= :since AND c.reported_at < :until "
        "AND c.merged_into_id IS NULL AND c.rejected_at IS NULL",
        s=street + "%",
        since=dt.datetime.combine(first, dt.time(), tzinfo=CHINA_TZ),
        until=dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=CHINA_TZ),
    )
    assert sum(int(r[total]) for r in body) == counted
    assert {r[header.index("period")] for r in body} == {f"{first}..{last}"}

    # Each people export is in the audit trail, under the office's name.
    audited = _count(
        db,
        "SELECT count(*) FROM audit_log WHERE actor = :a AND action = 'export_person_data' "
        "AND object_type IN ('visits', 'ledger')",
        a=f"xp-street-{street}",
    )
    assert audited == 2


def _names(engine: Engine, street: str) -> set[str]:
    """Every name a visit target of ``street`` may have: heads of households, members,
    buildings."""
    with engine.connect() as conn:
        return {
            str(n)
            for (n,) in conn.execute(
                text(
                    "SELECT head_name FROM resident_household WHERE street_code = :s UNION "
                    "SELECT name FROM party_member WHERE street_code = :s UNION "
                    "SELECT coalesce(b.name, b.address) FROM building b "
                    "WHERE b.community_code LIKE :p"
                ),
                {"s": street, "p": street + "%"},
            )
            if n is not None
        }


def _case_days(engine: Engine, street: str) -> tuple[dt.date, dt.date]:
    with engine.connect() as conn:
        low, high = conn.execute(
            text(
                "SELECT min(reported_at), max(reported_at) FROM case_record "
                "WHERE community_code LIKE :s"
            ),
            {"s": street + "%"},
        ).one()
    return low.astimezone(CHINA_TZ).date(), high.astimezone(CHINA_TZ).date()


def test_an_administrator_downloads_the_whole_ledger_directly(job_web: Flask, db: Engine) -> None:
    admin = _client(job_web, "admin")
    answer = admin.get("/api/export/ledger.csv")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    lines = answer.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(LEDGER_HEADER)
    assert len(lines) - 1 == _count(db, "SELECT count(*) FROM ledger_entry")
    refused = admin.get("/api/export/ledger.shp")
    assert response_json(refused, 400)["error"]["message"].startswith("`fmt` was 'shp'")
    wrong = admin.get("/api/export/visits.xlsx?crs=gcj02")
    assert "gcj02" in response_json(wrong, 400)["error"]["message"]


def test_an_analyst_is_refused_visits_and_ledger_but_gets_sanling(
    job_web: Flask, db: Engine, street: str
) -> None:
    analyst = _client(job_web, "analyst")
    page = analyst.get("/export").get_data(as_text=True)
    assert 'value="visits"' not in page and 'value="ledger"' not in page
    assert 'value="sanling"' in page
    for what in ("visits", "ledger"):
        refused = analyst.get(f"/api/export/{what}.xlsx?street={street}")
        assert (
            "administrators and street offices" in response_json(refused, 403)["error"]["message"]
        )
        job = analyst.post(f"/api/export/{what}.xlsx/jobs", headers=_csrf(analyst))
        assert response_json(job, 403)["error"]["code"] == "forbidden"
    answer = analyst.get(f"/api/export/sanling.csv?street={street}")
    assert answer.status_code == 200
    lines = answer.get_data().decode("utf-8-sig").splitlines()
    assert len(lines) - 1 == _count(
        db, "SELECT count(*) FROM community WHERE code LIKE :s", s=street + "%"
    )


def test_a_street_office_is_refused_another_street(
    job_web: Flask, streets: list[str], street: str
) -> None:
    other = next(s for s in streets if s != street)
    office = _client(job_web, "street", street)
    for what in ("visits", "ledger", "sanling"):
        refused = office.get(f"/api/export/{what}.xlsx?street={other}")
        assert other in response_json(refused, 403)["error"]["message"], what
        job = office.post(f"/api/export/{what}.xlsx/jobs?street={other}", headers=_csrf(office))
        assert response_json(job, 403)["error"]["code"] == "forbidden", what
    assert office.get(f"/export?what=ledger&area={other}").status_code == 403
    half = office.get(f"/api/export/sanling.csv?from=2025-01-01&street={street}")
    assert "2025-01-01" in response_json(half, 400)["error"]["message"]
