"""The case pages (/cases, /cases/<id>, /cases/new, /tasks) and /api/tasks, /api/geocode for
each role on the demo district: who sees which list, filters that narrow it, the export link."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from conftest import TEST_PASSWORD, log_in_client
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from gridgis import cases
from gridgis.cases.departments import add_department
from gridgis.users import add_user

WORKER = "demo-350304-w00001"
"""A grid worker of the demo district; it serves cell 350304001001001."""
STREET = "350304001"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def engine(app: Flask) -> Iterator[Engine]:
    eng = create_engine(app.config["DATABASE_URL"])
    yield eng
    eng.dispose()


def log_in(app: Flask, name: str) -> FlaskClient:
    """A client signed in as ``name`` through the login form."""
    client = app.test_client()
    log_in_client(client, name)
    return client


def add_people(engine: Engine) -> None:
    """An administrator, a street office, an analyst, a grid worker and a department."""
    add_department(engine, "cgj", "城管测试局", district="350304", actor="test")
    for name, role, extra in (
        ("root", "admin", {}),
        ("office", "street", {"street": STREET}),
        ("li", "analyst", {}),
        ("wang", "worker", {"worker": WORKER}),
        ("cgj", "department", {"department": "cgj"}),
    ):
        add_user(engine, name, role=role, password=TEST_PASSWORD, actor="test", **extra)


def listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-case="(\d+)"', page)]


def worker_cells(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT g.code FROM grid_worker w JOIN worker_cell wc ON wc.worker_id = w.id "
                    "JOIN grid_cell g ON g.id = wc.cell_id WHERE w.external_id = :id"
                ),
                {"id": WORKER},
            ).scalars()
        )


def test_each_role_sees_only_its_cases(app: Flask, engine: Engine) -> None:
    add_people(engine)
    other = cases.list_cases(engine, street="350304002", limit=1)[0]["id"]
    own = cases.create_case(
        engine, category="fire_safety", actor="test", **_point_in(engine, worker_cells(engine)[0])
    )
    cases.advance_case(engine, own["id"], "registered", actor="test")
    cases.advance_case(engine, own["id"], "dispatched", actor="test", department="cgj")

    admin = log_in(app, "root")
    assert len(listed(admin.get("/cases").get_data(as_text=True))) == 20
    assert admin.get(f"/cases/{other}").status_code == 200

    office = log_in(app, "office")
    page = office.get("/cases?order=oldest").get_data(as_text=True)
    for case_id in listed(page):
        assert cases.get_case(engine, case_id)["street_code"] == STREET
    assert office.get(f"/cases/{other}").status_code == 404
    assert office.get("/cases?street=350304002").status_code == 403
    own_page = office.get(f"/cases/{own['id']}").get_data(as_text=True)
    assert 'id="action-merged"' in own_page and 'id="case-action-into"' in own_page

    worker = log_in(app, "wang")
    cells = worker_cells(engine)
    seen = listed(worker.get("/cases").get_data(as_text=True))
    assert seen
    for case_id in seen:
        assert cases.get_case(engine, case_id)["cell_code"] in cells
    assert worker.get(f"/cases/{other}").status_code == 404
    assert worker.get("/cases/new").status_code == 200

    department = log_in(app, "cgj")
    assert listed(department.get("/cases").get_data(as_text=True)) == [own["id"]]
    assert department.get(f"/cases/{other}").status_code == 404
    assert department.get("/cases/new").status_code == 403
    case_page = department.get(f"/cases/{own['id']}").get_data(as_text=True)
    assert 'id="action-handled"' in case_page and 'id="action-returned"' in case_page
    assert 'id="action-registered"' not in case_page and 'id="action-rejected"' not in case_page
    assert 'id="action-merged"' not in case_page
    tasks = department.get("/tasks").get_data(as_text=True)
    assert listed(tasks) == [own["id"]]
    assert re.search(r'class="nav-badge"[^>]*>1<', tasks)
    answer = department.get("/api/tasks").get_json()
    assert answer["lists"]["handle"]["count"] == 1 and answer["total"] == 1
    assert [c["id"] for c in answer["lists"]["handle"]["cases"]] == [own["id"]]

    analyst = log_in(app, "li")
    assert analyst.get("/cases/new").status_code == 403
    assert analyst.get("/api/tasks").get_json() == {"lists": {}, "total": 0}
    assert 'id="tasks-none"' in analyst.get("/tasks").get_data(as_text=True)


def test_worker_tasks_are_the_handled_cases_of_its_cells(app: Flask, engine: Engine) -> None:
    add_people(engine)
    cells = worker_cells(engine)
    case = cases.create_case(
        engine, category="fire_safety", actor="wang", **_point_in(engine, cells[0])
    )
    cases.advance_case(engine, case["id"], "registered", actor="office")
    cases.advance_case(engine, case["id"], "dispatched", actor="office", department="cgj")
    cases.advance_case(engine, case["id"], "handled", actor="cgj")
    worker = log_in(app, "wang")
    lists = worker.get("/api/tasks?limit=100").get_json()["lists"]
    assert case["id"] in [c["id"] for c in lists["verify"]["cases"]]
    assert all(c["cell_code"] in cells and c["step"] == "handled" for c in lists["verify"]["cases"])
    page = worker.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert 'id="action-verified"' in page and 'id="action-closed"' not in page


def _point_in(engine: Engine, cell: str) -> dict[str, float]:
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid_cell "
                "WHERE code = :code AND valid_to IS NULL) s"
            ),
            {"code": cell},
        ).one()
    return {"lon": float(lon), "lat": float(lat)}


def test_filters_narrow_the_list_and_the_export_link_carries_them(
    app: Flask, engine: Engine
) -> None:
    add_people(engine)
    admin = log_in(app, "root")
    closed = listed(admin.get("/cases?step=closed&street=350304001").get_data(as_text=True))
    assert closed
    for case_id in closed:
        case = cases.get_case(engine, case_id)
        assert case["step"] == "closed" and case["street_code"] == STREET
    overdue = listed(admin.get("/cases?overdue=true").get_data(as_text=True))
    assert overdue and all(cases.get_case(engine, i)["overdue"] for i in overdue)
    some = cases.get_case(engine, closed[0])
    day = some["reported_at"][:10]
    page = admin.get(f"/cases?street={STREET}&since={day}&until={day}").get_data(as_text=True)
    found = listed(page)
    assert closed[0] in found
    assert all(cases.get_case(engine, i)["reported_at"][:10] == day for i in found)
    link = re.search(r'id="cases-export" href="([^"]+)"', page)
    assert link is not None
    url = urlsplit(link.group(1).replace("&amp;", "&"))
    assert url.path == "/api/export/cases.xlsx"
    assert parse_qs(url.query) == {"street": [STREET], "from": [day], "to": [day]}
    exported = admin.get(link.group(1).replace("&amp;", "&"))
    assert exported.status_code == 200
    # The export holds exactly the listed cases, with every filter of the list.
    asked = f"street={STREET}&step=closed&closed_late=false&category={some['category']}"
    shown = listed(admin.get(f"/cases?{asked}").get_data(as_text=True))
    filtered = re.search(
        r'id="cases-export" href="([^"]+)"', admin.get(f"/cases?{asked}").get_data(as_text=True)
    )
    assert filtered is not None
    target = filtered.group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(target).query) == {
        "street": [STREET],
        "step": ["closed"],
        "closed_late": ["false"],
        "category": [some["category"]],
    }
    sheet = openpyxl.load_workbook(io.BytesIO(admin.get(target).data)).worksheets[0]
    ids = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    expected = cases.list_cases(
        engine, street=STREET, step="closed", closed_late=False, category=some["category"],
        limit=1000,
    )  # fmt: skip
    assert sorted(ids) == sorted(c["id"] for c in expected) and set(shown) <= set(ids)
    text_only = listed(admin.get("/cases?text=zzzz-nothing-matches").get_data(as_text=True))
    assert text_only == []
    second = listed(admin.get("/cases?order=id&page=2").get_data(as_text=True))
    first = listed(admin.get("/cases?order=id").get_data(as_text=True))
    assert first == sorted(first, reverse=True) and max(second) < min(first)
    assert admin.get("/cases?since=yesterday").status_code == 400
    assert admin.get("/cases?order=sideways").status_code == 400


def test_geocode_shows_the_match_before_filing(app: Flask, engine: Engine) -> None:
    add_people(engine)
    with engine.connect() as conn:
        address = conn.execute(
            text(
                "SELECT address FROM building WHERE address IS NOT NULL "
                "AND community_code LIKE '350304001%' ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    worker = log_in(app, "wang")
    match = worker.get("/api/geocode", query_string={"address": address}).get_json()
    assert match["building_address"] == address and match["street_code"] == STREET
    assert match["cell_code"] is not None and match["lon"] is not None
    office = log_in(app, "office")
    with engine.connect() as conn:
        elsewhere = conn.execute(
            text(
                "SELECT address FROM building WHERE address IS NOT NULL "
                "AND community_code LIKE '350304002%' ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    outside = office.get("/api/geocode", query_string={"address": elsewhere}).get_json()
    assert outside["lon"] is None and outside["location_flag"] == "outside"
    assert log_in(app, "cgj").get("/api/geocode?address=x").status_code == 403
