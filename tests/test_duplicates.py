"""Near-duplicate cases (疑似重复) and merging them (合并), on copies of the demo district.

The cases filed here are reported in March 2024, before the demo's cases (2025), so
the only likely duplicates are the ones each test files.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from _api_auth import token_client
from conftest import cell_point
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import Engine, text

from gridgis.analysis.density import density_cells
from gridgis.analysis.figures import area_figures
from gridgis.cases import (
    advance_case,
    case_stats,
    create_case,
    duplicates_of,
    get_case,
    likely_duplicates,
    list_cases,
    merge_cases,
    merged_from,
)
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.web.openapi import openapi_document

T0 = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.UTC)


def _north(lat: float, metres: float) -> float:
    """The latitude ``metres`` north of ``lat`` (to well under a metre at 25°N)."""
    return lat + metres / 110_700.0


def _file(
    engine: Engine,
    lon: float,
    lat: float,
    *,
    category: str = "fire_safety",
    at: dt.datetime = T0,
    description: str | None = None,
) -> dict[str, Any]:
    return create_case(
        engine,
        category=category,
        lon=lon,
        lat=lat,
        reported_at=at,
        description=description,
        actor="测试",
    )


def _ids(found: list[dict[str, Any]]) -> list[int]:
    return [d["id"] for d in found]


@pytest.fixture
def db(demo_engine: Engine) -> Engine:
    return demo_engine


@pytest.fixture
def place(db: Engine) -> tuple[str, float, float]:
    return cell_point(db)


# --- finding them ------------------------------------------------------------------------


def test_a_case_nearby_of_the_same_category_is_a_likely_duplicate(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    first = _file(db, lon, lat, description="楼道堆放杂物")
    second = _file(db, lon, _north(lat, 30), at=T0 + dt.timedelta(days=2))
    found = likely_duplicates(
        db, second["id"], category="fire_safety", lon=second["lon"], lat=second["lat"],
        at=T0 + dt.timedelta(days=2),
    )  # fmt: skip
    assert _ids(found) == [first["id"]]
    assert found[0]["distance_m"] == pytest.approx(30, abs=0.5)
    assert found[0]["relation"] == "earlier"
    assert found[0]["step"] == "reported"
    assert found[0]["description"] == "楼道堆放杂物"
    # Both ways on the stored cases: the first sees the second as a later one.
    assert [(d["id"], d["relation"]) for d in duplicates_of(db, first["id"])] == [
        (second["id"], "later")
    ]
    assert _ids(duplicates_of(db, second["id"])) == [first["id"]]


def test_too_far_too_late_or_another_category_is_no_duplicate(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    first = _file(db, lon, lat)
    far = _file(db, lon, _north(lat, 60))
    late = _file(db, lon, lat, at=T0 + dt.timedelta(days=7, minutes=1))
    early = _file(db, lon, lat, at=T0 - dt.timedelta(days=7, minutes=1))
    other = _file(db, lon, lat, category="dispute")
    assert duplicates_of(db, far["id"]) == []
    assert _ids(duplicates_of(db, late["id"])) == []
    assert _ids(duplicates_of(db, early["id"])) == []
    assert duplicates_of(db, other["id"]) == []
    assert _ids(duplicates_of(db, first["id"])) == []
    # Exactly at the bounds still counts: 7 days, and just within 50 m.
    edge = _file(db, lon, _north(lat, 49), at=T0 + dt.timedelta(days=7))
    assert first["id"] in _ids(duplicates_of(db, edge["id"]))


def test_the_nearest_comes_first_and_the_limit_holds(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    cases = [_file(db, lon, _north(lat, metres)) for metres in (40, 10, 25)]
    found = likely_duplicates(db, category="fire_safety", lon=lon, lat=lat, at=T0)
    assert _ids(found) == [cases[1]["id"], cases[2]["id"], cases[0]["id"]]
    distances = [d["distance_m"] for d in found]
    assert distances == sorted(distances)
    assert (
        _ids(likely_duplicates(db, category="fire_safety", lon=lon, lat=lat, at=T0, limit=1))[0]
        == cases[1]["id"]
    )


def test_finished_merged_and_unlocated_cases_have_none(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    first = _file(db, lon, lat)
    rejected = _file(db, lon, _north(lat, 5))
    advance_case(db, rejected["id"], "rejected", actor="测试", at=T0 + dt.timedelta(hours=1))
    assert duplicates_of(db, first["id"]) == []
    assert duplicates_of(db, rejected["id"]) == []  # finished: nothing to merge
    unlocated = create_case(
        db, category="fire_safety", address="没有这个地址", reported_at=T0, actor="测试"
    )
    assert unlocated["lon"] is None
    assert duplicates_of(db, unlocated["id"]) == []
    assert likely_duplicates(db, category="fire_safety", lon=None, lat=None, at=T0) == []
    with pytest.raises(NotFoundError, match="case 999999999 does not exist"):
        duplicates_of(db, 999_999_999)


def test_the_distance_and_days_are_settings(
    db: Engine, place: tuple[str, float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, lon, lat = place
    first = _file(db, lon, lat)
    second = _file(db, lon, _north(lat, 80), at=T0 + dt.timedelta(days=9))
    assert duplicates_of(db, second["id"]) == []
    monkeypatch.setenv("GRIDGIS_DUPLICATE_METRES", "100")
    assert duplicates_of(db, second["id"]) == []  # still 9 days apart
    monkeypatch.setenv("GRIDGIS_DUPLICATE_DAYS", "10")
    assert _ids(duplicates_of(db, second["id"])) == [first["id"]]
    assert duplicates_of(db, second["id"], metres=70) == []  # an argument wins
    with pytest.raises(InputError, match=r"`metres` was -1 but is expected to be a number > 0"):
        duplicates_of(db, second["id"], metres=-1)
    with pytest.raises(InputError, match=r"`days` was nan"):
        duplicates_of(db, second["id"], days=math.nan)


def test_the_lookup_uses_the_spatial_index(db: Engine, place: tuple[str, float, float]) -> None:
    from gridgis.cases.duplicates import _NEAR

    _, lon, lat = place
    params = {
        "category": "fire_safety",
        "lon": lon,
        "lat": lat,
        "dx": 0.0006,
        "dy": 0.0005,
        "metres": 50.0,
        "at": T0,
        "window": dt.timedelta(days=7),
        "excluded": 0,
        "limit": 5,
    }
    compiled = _NEAR.compile(dialect=db.dialect)
    with db.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))  # the demo is small: judge the plan
        rows = conn.exec_driver_sql(
            "EXPLAIN " + compiled.string, compiled.construct_params(params)
        ).all()
    plan = "\n".join(r[0] for r in rows)
    assert "ix_case_record_geom" in plan, plan


def test_the_lookup_is_planned_for_its_point_each_time(
    db: Engine, place: tuple[str, float, float]
) -> None:
    """Prepared (psycopg does so from a statement's fifth use on a connection), PostgreSQL
    soon plans the lookup once for any point: by category and date, reading every open case
    of the category of the last week (3-4 ms with a few thousand, where the spatial index
    takes 0.5 ms). So it is never prepared."""
    _, lon, lat = place
    with db.connect() as conn:
        for _ in range(8):
            likely_duplicates(conn, category="fire_safety", lon=lon, lat=lat, at=T0)
        prepared = conn.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%ST_DWithin%'")
        ).scalar_one()
    assert prepared == 0


# --- merging -----------------------------------------------------------------------------


def test_a_merge_finishes_the_duplicate_and_records_it(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    into = _file(db, lon, lat)
    duplicate = _file(db, lon, _north(lat, 20), at=T0 + dt.timedelta(hours=3))
    merged = merge_cases(db, duplicate["id"], into["id"], actor="网格中心", note="同一处")
    assert merged["merged_into"] == into["id"]
    assert merged["step"] == "rejected"
    assert merged["rejected_by"] == "网格中心"
    assert merged["closed_at"] is None
    assert get_case(db, duplicate["id"]) == merged
    assert get_case(db, into["id"])["merged_into"] is None
    assert get_case(db, into["id"])["step"] == "reported"
    assert merged_from(db, into["id"]) == [duplicate["id"]]
    assert duplicates_of(db, into["id"]) == []  # the merged one is no longer proposed
    listed = list_cases(db, since=T0 - dt.timedelta(days=1), until=T0 + dt.timedelta(days=1))
    assert {c["id"]: c["merged_into"] for c in listed} == {
        into["id"]: None,
        duplicate["id"]: into["id"],
    }
    with db.connect() as conn:
        events = conn.execute(
            text(
                "SELECT case_id, kind, actor, note FROM case_event WHERE case_id IN (:a, :b) "
                "ORDER BY case_id"
            ),
            {"a": into["id"], "b": duplicate["id"]},
        ).all()
        audit = conn.execute(
            text(
                "SELECT actor, action, object_id, summary FROM audit_log "
                "WHERE object_type = 'case' AND action = 'merge'"
            )
        ).all()
    assert [tuple(e) for e in events] == [
        (into["id"], "merged", "网格中心", f"事件 {duplicate['id']} 合并到此事件；同一处"),
        (duplicate["id"], "merged", "网格中心", f"合并到事件 {into['id']}；同一处"),
    ]
    assert len(audit) == 1
    assert audit[0].actor == "网格中心"
    assert audit[0].object_id == str(duplicate["id"])
    assert "merged_into_id" in str(audit[0].summary)


def test_merge_refusals_name_the_cases_and_the_reason(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    a, b, c = (_file(db, lon, _north(lat, m)) for m in (0, 10, 20))
    with pytest.raises(InputError, match=f"case {a['id']} cannot be merged into itself"):
        merge_cases(db, a["id"], a["id"], actor="网格中心")
    with pytest.raises(NotFoundError, match="case 999999999 does not exist"):
        merge_cases(db, a["id"], 999_999_999, actor="网格中心")
    with pytest.raises(InputError, match="`actor` was ''"):
        merge_cases(db, a["id"], b["id"], actor="")
    merge_cases(db, b["id"], a["id"], actor="网格中心")
    with pytest.raises(
        ConflictError,
        match=rf"case {b['id']} cannot be merged into case {c['id']}: case {b['id']} was "
        rf"merged into case {a['id']} already",
    ):
        merge_cases(db, b["id"], c["id"], actor="网格中心")
    with pytest.raises(
        ConflictError,
        match=rf"case {c['id']} cannot be merged into case {b['id']}: case {b['id']} was "
        rf"merged into case {a['id']} already .*only an open case can be merged into",
    ):
        merge_cases(db, c["id"], b["id"], actor="网格中心")
    advance_case(db, a["id"], "rejected", actor="网格中心")
    with pytest.raises(ConflictError, match=rf"case {a['id']} is finished \('rejected' \(作废\)"):
        merge_cases(db, c["id"], a["id"], actor="网格中心")
    # Nothing of the refused merges was stored.
    assert get_case(db, c["id"])["step"] == "reported"
    assert merged_from(db, c["id"]) == []


def test_cases_of_other_categories_may_be_merged(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    into = _file(db, lon, lat, category="fire_safety")
    other = _file(db, lon, lat, category="cityscape")
    assert merge_cases(db, other["id"], into["id"], actor="网格中心")["merged_into"] == into["id"]


def _counts(db: Engine) -> dict[str, int]:
    streets = case_stats(db, level="street")
    figures = area_figures(db, "district")
    density = density_cells(db, include_rejected=True, geometry=False)
    with db.connect() as conn:
        independent = conn.execute(
            text("SELECT count(*) FROM case_record WHERE merged_into_id IS NULL")
        ).scalar_one()
        in_cells = conn.execute(
            text(
                "SELECT count(*) FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                "WHERE g.valid_to IS NULL AND c.merged_into_id IS NULL"
            )
        ).scalar_one()
    return {
        "case_stats": int(streets["cases"].sum()),
        "rejected": int(streets["rejected"].sum()),
        "area_figures": int(figures["cases"].sum()),
        "density": int(density["cases"].sum()),
        "sql": int(independent),
        "sql_in_cells": int(in_cells),
    }


def test_a_merge_lowers_every_count_by_exactly_one(
    db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    into = _file(db, lon, lat)
    duplicate = _file(db, lon, _north(lat, 10))
    before = _counts(db)
    assert before["case_stats"] == before["sql"]
    assert before["density"] == before["sql_in_cells"]
    merge_cases(db, duplicate["id"], into["id"], actor="网格中心")
    after = _counts(db)
    assert {key: before[key] - after[key] for key in before} == {
        "case_stats": 1,
        "rejected": 0,  # the merged case is left out, not counted as rejected
        "area_figures": 1,
        "density": 1,
        "sql": 1,
        "sql_in_cells": 1,
    }
    assert after["case_stats"] == after["sql"]


# --- the web API -------------------------------------------------------------------------


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return token_client(app.test_client(), role="admin", name="admin-api")


def _post(client: FlaskClient, lon: float, lat: float, **extra: Any) -> dict[str, Any]:
    body = {"category": "fire_safety", "lon": lon, "lat": lat}
    body |= {"reported_at": T0.isoformat()} | extra
    case: dict[str, Any] = _json(client.post("/api/cases", json=body), 201)
    return case


def test_filing_answers_the_likely_duplicates_and_the_case_both_ways(
    client: FlaskClient, db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    first = _post(client, lon, lat)
    assert first["likely_duplicates"] == []
    assert first["merged_into"] is None
    second = _post(client, lon, _north(lat, 15))
    assert [(d["id"], d["relation"]) for d in second["likely_duplicates"]] == [
        (first["id"], "earlier")
    ]
    shown = _json(client.get(f"/api/cases/{first['id']}"), 200)
    assert [(d["id"], d["relation"]) for d in shown["duplicates"]] == [(second["id"], "later")]
    assert shown["merged_from"] == []
    listed = _json(client.get(f"/api/cases/{second['id']}/duplicates"), 200)
    assert _ids(listed["duplicates"]) == [first["id"]]


def test_merging_through_the_api(
    client: FlaskClient, db: Engine, place: tuple[str, float, float]
) -> None:
    _, lon, lat = place
    into = _post(client, lon, lat)
    duplicate = _post(client, lon, _north(lat, 15))
    merged = _json(
        client.post(f"/api/cases/{duplicate['id']}/merge", json={"into": into["id"], "note": "同"}),
        200,
    )
    assert (merged["step"], merged["merged_into"]) == ("rejected", into["id"])
    assert merged["rejected_by"] == "admin-api"
    shown = _json(client.get(f"/api/cases/{into['id']}"), 200)
    assert shown["merged_from"] == [duplicate["id"]]
    assert shown["duplicates"] == []
    again = _json(
        client.post(f"/api/cases/{duplicate['id']}/merge", json={"into": into["id"]}), 409
    )
    assert f"case {duplicate['id']} was merged into case {into['id']} already" in str(again)
    itself = _json(client.post(f"/api/cases/{into['id']}/merge", json={"into": into["id"]}), 400)
    assert "cannot be merged into itself" in str(itself)
    _json(client.post(f"/api/cases/{into['id']}/merge", json={"into": 999_999_999}), 404)
    _json(client.post("/api/cases/99999999999999999999/merge", json={"into": into["id"]}), 404)
    _json(client.get("/api/cases/99999999999999999999/duplicates"), 404)
    _json(client.post(f"/api/cases/{into['id']}/merge", json={"into": 2**63}), 422)
    _json(client.post(f"/api/cases/{into['id']}/merge", json={"into": 1, "who": "x"}), 422)


def test_who_may_merge(app: Flask, db: Engine) -> None:
    code, lon, lat = cell_point(db)
    other_code, other_lon, other_lat = cell_point(db, last=True)
    assert code[:9] != other_code[:9]
    admin = token_client(app.test_client(), role="admin", name="admin-api")
    mine = _post(admin, lon, lat)
    mine_too = _post(admin, lon, _north(lat, 10))
    theirs = _post(admin, other_lon, other_lat)
    analyst = token_client(app.test_client(), role="analyst")
    _json(analyst.post(f"/api/cases/{mine['id']}/merge", json={"into": mine_too["id"]}), 403)
    office = token_client(app.test_client(), role="street", street=code[:9])
    # Another street's case is not found, whichever side it is on.
    _json(office.post(f"/api/cases/{theirs['id']}/merge", json={"into": mine["id"]}), 404)
    _json(office.post(f"/api/cases/{mine['id']}/merge", json={"into": theirs["id"]}), 404)
    _json(office.get(f"/api/cases/{theirs['id']}/duplicates"), 404)
    merged = _json(
        office.post(f"/api/cases/{mine_too['id']}/merge", json={"into": mine["id"]}), 200
    )
    assert merged["merged_into"] == mine["id"]


def test_the_routes_are_documented() -> None:
    document = openapi_document()
    validate(document)
    merge = document["paths"]["/api/cases/{case_id}/merge"]["post"]
    assert merge["operationId"] == "mergeCase"
    assert {"200", "400", "403", "404", "409", "413", "415", "422"} <= set(merge["responses"])
    assert "/api/cases/{case_id}/duplicates" in document["paths"]
    schemas = document["components"]["schemas"]
    assert "likely_duplicates" in schemas["FiledCase"]["properties"]
    assert {"duplicates", "merged_from"} <= set(schemas["CaseDetail"]["properties"])
