"""The leaders roster (issue 19, point 2) on the small demo district: 网格长, 楼栋长 and
单元长 loaded through the workers' roster; the coverage per community answered by the
API matches counts made here in SQL; the drill-down lists the buildings without a 楼栋长;
names and phones only for users whose area holds them."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pytest
from conftest import assert_no_inline_code, response_json, role_client
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, text

from gridgis.export import export
from gridgis.party.leaders import leader_coverage, read_leader_data


def _client(web: Flask, role: str, street: str | None = None) -> FlaskClient:
    return role_client(web, role, street, prefix="pl")


@pytest.fixture(scope="module")
def engine(demo_db: str) -> Any:
    eng = create_engine(demo_db)
    yield eng
    eng.dispose()


_SQL = """
WITH holders AS (SELECT worker_id, role FROM worker_role
                 WHERE role IN ('grid_leader', 'building_leader', 'unit_leader')),
cells AS (SELECT community_code, count(*) AS n FROM grid_cell WHERE valid_to IS NULL
          GROUP BY community_code),
led_cells AS (SELECT g.community_code, count(DISTINCT g.id) AS n,
                     count(DISTINCT wc.worker_id) AS people
              FROM worker_cell wc JOIN grid_cell g ON g.id = wc.cell_id AND g.valid_to IS NULL
              JOIN holders h ON h.worker_id = wc.worker_id AND h.role = 'grid_leader'
              GROUP BY g.community_code),
buildings AS (SELECT community_code, count(*) AS n FROM building GROUP BY community_code),
led_buildings AS (SELECT b.community_code, count(DISTINCT b.id) AS n,
                         count(DISTINCT wb.worker_id) AS people
                  FROM worker_building wb JOIN building b ON b.id = wb.building_id
                  JOIN holders h ON h.worker_id = wb.worker_id AND h.role = 'building_leader'
                  GROUP BY b.community_code),
units AS (SELECT b.community_code, count(*) AS n FROM building_unit u
          JOIN building b ON b.id = u.building_id GROUP BY b.community_code),
led_units AS (SELECT b.community_code, count(DISTINCT u.id) AS n,
                     count(DISTINCT wu.worker_id) AS people
              FROM worker_unit wu JOIN building_unit u
                ON u.building_id = wu.building_id AND u.number = wu.unit_number
              JOIN building b ON b.id = u.building_id
              JOIN holders h ON h.worker_id = wu.worker_id AND h.role = 'unit_leader'
              GROUP BY b.community_code)
SELECT c.code AS community_code, coalesce(cells.n, 0) AS cells,
       coalesce(led_cells.n, 0) AS cells_with_grid_leader,
       coalesce(buildings.n, 0) AS buildings, coalesce(led_buildings.n, 0) AS buildings_with_leader,
       coalesce(units.n, 0) AS units, coalesce(led_units.n, 0) AS units_with_leader,
       coalesce(led_cells.people, 0) AS grid_leaders,
       coalesce(led_buildings.people, 0) AS building_leaders,
       coalesce(led_units.people, 0) AS unit_leaders
FROM community c
LEFT JOIN cells ON cells.community_code = c.code
LEFT JOIN led_cells ON led_cells.community_code = c.code
LEFT JOIN buildings ON buildings.community_code = c.code
LEFT JOIN led_buildings ON led_buildings.community_code = c.code
LEFT JOIN units ON units.community_code = c.code
LEFT JOIN led_units ON led_units.community_code = c.code
WHERE c.code LIKE :street AND (cells.n > 0 OR buildings.n > 0)
ORDER BY c.code
"""


def _sql_coverage(engine: Engine, street: str) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(text(_SQL), {"street": street + "%"}).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def test_the_demo_has_leaders_for_most_buildings_and_units(engine: Engine) -> None:
    with engine.connect() as conn:
        coverage = leader_coverage(read_leader_data(conn))
        homeless = conn.execute(
            text("SELECT count(*) FROM grid_worker WHERE street_code IS NULL")
        ).scalar_one()
    homes = coverage["buildings_with_leader"].sum()
    assert homes > 0 and coverage["units_with_leader"].sum() / coverage["units"].sum() > 0.6
    assert coverage["cells_with_grid_leader"].sum() / coverage["cells"].sum() > 0.7
    assert homeless == 0  # a 楼栋长 belongs to the street of its building


@pytest.mark.parametrize("index", [0, 1])
def test_coverage_matches_sql_counts(
    web: Flask, engine: Engine, streets: list[str], index: int
) -> None:
    street = streets[index]
    answer = response_json(_client(web, "analyst").get(f"/api/party/leaders?street={street}"), 200)
    got = pd.DataFrame(answer["communities"])
    expected = _sql_coverage(engine, street)
    columns = list(expected.columns)
    assert got[columns].to_dict("records") == expected[columns].to_dict("records")
    for _, row in got.iterrows():
        share = row["building_share"]
        assert (share is None and row["buildings"] == 0) or share == pytest.approx(
            row["buildings_with_leader"] / row["buildings"], abs=1e-4
        )
    totals = answer["totals"]
    assert totals["buildings_with_leader"] == expected["buildings_with_leader"].sum()
    assert totals["unit_share"] == pytest.approx(
        expected["units_with_leader"].sum() / expected["units"].sum(), abs=1e-4
    )
    assert answer["leaders"] is None and answer["without_leader"] is None


def test_the_drill_down_lists_buildings_without_a_building_leader(
    web: Flask, engine: Engine, streets: list[str]
) -> None:
    street = streets[0]
    with engine.connect() as conn:
        community = conn.execute(
            text("SELECT community_code FROM building WHERE community_code LIKE :s "
                 "GROUP BY community_code ORDER BY count(*) DESC LIMIT 1"), {"s": street + "%"}
        ).scalar_one()  # fmt: skip
        unled = set(
            conn.execute(
                text(
                    "SELECT b.id FROM building b WHERE b.community_code = :c AND NOT EXISTS ("
                    "SELECT 1 FROM worker_building wb JOIN worker_role r "
                    "ON r.worker_id = wb.worker_id AND r.role = 'building_leader' "
                    "WHERE wb.building_id = b.id)"
                ),
                {"c": community},
            ).scalars()
        )
        names = set(
            conn.execute(
                text(
                    "SELECT DISTINCT w.name FROM grid_worker w JOIN worker_role r "
                    "ON r.worker_id = w.id AND r.role IN ('building_leader', 'unit_leader') "
                    "JOIN worker_building wb ON wb.worker_id = w.id "
                    "JOIN building b ON b.id = wb.building_id WHERE b.community_code = :c"
                ),
                {"c": community},
            ).scalars()
        )
    assert names
    url = f"/api/party/leaders?community={community}"
    office = response_json(_client(web, "street", street).get(url), 200)
    assert {b["id"] for b in office["without_leader"]} == unled
    assert names <= {p["name"] for p in office["leaders"]}
    assert all(p["community_code"] == community or p["cells"] for p in office["leaders"])
    # An analyst: the same figures and buildings, no names.
    analyst = _client(web, "analyst").get(url)
    body = response_json(analyst, 200)
    assert body["leaders"] is None
    assert {b["id"] for b in body["without_leader"]} == unled
    assert not [n for n in names if n in analyst.get_data(as_text=True)]
    # Another street office: refused.
    other = _client(web, "street", streets[1]).get(url)
    assert response_json(other, 403)["error"]["message"].startswith("`community` was")


def test_the_export_masks_names_unless_revealed(engine: Engine, streets: list[str]) -> None:
    street = streets[0]
    with engine.connect() as conn:
        names = set(
            conn.execute(
                text(
                    "SELECT w.name FROM grid_worker w JOIN worker_role r ON r.worker_id = w.id "
                    "AND r.role = 'building_leader' WHERE w.street_code = :s"
                ),
                {"s": street},
            ).scalars()
        )
    assert names
    masked, revealed = io.BytesIO(), io.BytesIO()
    export(engine, "leaders", "csv", masked, street=street, reveal=False)
    export(engine, "leaders", "csv", revealed, street=street, reveal=True, actor="test")
    hidden = pd.read_csv(io.BytesIO(masked.getvalue()), dtype=str)
    shown = pd.read_csv(io.BytesIO(revealed.getvalue()), dtype=str)
    assert set(hidden["row"]) == {"community", "leader"}
    communities = hidden[hidden["row"] == "community"]
    assert len(communities) == len(_sql_coverage(engine, street))
    assert not names & set(hidden["name"].dropna())
    assert names <= set(shown["name"].dropna())
    with engine.connect() as conn:
        recorded = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'export_person_data' "
                 "AND object_type = 'leaders'")
        ).scalar_one()  # fmt: skip
    assert recorded >= 1


def test_the_page_for_each_role(web: Flask, streets: list[str]) -> None:
    assert web.test_client().get("/party/leaders").status_code == 302
    for role, street in (("admin", None), ("analyst", None), ("street", streets[0])):
        response = _client(web, role, street).get("/party/leaders")
        html = response.get_data(as_text=True)
        assert response.status_code == 200, html
        assert "<title>网格长、楼栋长、单元长 · gridgis</title>" in html
        assert_no_inline_code(html)
    assert (
        _client(web, "street", streets[0]).get(f"/party/leaders?street={streets[1]}").status_code
        == 403
    )
    export_page = _client(web, "analyst").get("/export?what=leaders").get_data(as_text=True)
    assert 'value="leaders" checked' in export_page
