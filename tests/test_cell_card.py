"""A cell's popup card (GET /api/cells/<code>): its workers, party organisations and cases,
people masked for users whose area does not hold the cell."""

from __future__ import annotations

from _api_auth import token_client
from conftest import cell_point
from conftest import response_json as _json
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text


def test_the_card_of_a_cell_counts_its_cases_and_masks_people_outside_the_area(
    shared_client: FlaskClient, demo_engine: Engine
) -> None:
    app: Flask = shared_client.application
    code, _, _ = cell_point(demo_engine)
    street = code[:9]
    with demo_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE closed_at IS NULL AND rejected_at IS NULL), "
                "count(*) FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                "WHERE g.code = :c AND c.merged_into_id IS NULL"
            ),
            {"c": code},
        ).one()
        stored = (
            conn.execute(
                text(
                    "SELECT w.name FROM grid_worker w JOIN worker_cell wc ON wc.worker_id = w.id "
                    "JOIN grid_cell g ON g.id = wc.cell_id WHERE g.code = :c AND g.valid_to IS NULL"
                ),
                {"c": code},
            )
            .scalars()
            .all()
        )
        other = conn.execute(
            text("SELECT code FROM grid_cell WHERE valid_to IS NULL AND code NOT LIKE :s LIMIT 1"),
            {"s": street + "%"},
        ).scalar_one()
    office = token_client(app.test_client(), role="street", street=street, name="card-office")
    analyst = token_client(app.test_client(), role="analyst", name="card-analyst")
    card = _json(office.get(f"/api/cells/{code}"), 200)
    assert (card["open_cases"], card["cases"]) == tuple(expected)
    assert card["cases_url"] == f"/cases?cell={code}"
    assert sorted(w["name"] for w in card["workers"]) == sorted(stored)
    assert card["people_masked"] is False
    masked = _json(analyst.get(f"/api/cells/{code}"), 200)
    assert masked["people_masked"] is True
    assert all(w["name"].endswith("*" * (len(w["name"]) - 1)) for w in masked["workers"])
    assert all(w["phone"] is None or w["phone"].startswith("*") for w in masked["workers"])
    assert office.get(f"/api/cells/{other}").status_code == 403
    assert office.get(f"/api/cells/{street}999999").status_code == 404
    assert office.get("/api/cells/12").status_code == 404
