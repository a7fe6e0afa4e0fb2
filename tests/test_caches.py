"""What gridgis keeps in memory follows the database at once, however the data was changed.

The caches of database data (the intake cache of cells and categories, the web app's
address book, the vector tiles' stamp) are checked against the tables' versions
(:mod:`gridgis.db.versions`): a change made by plain SQL, as another program would
make it, is seen by the very next request, with no waiting for a cache to age.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from _api_auth import token_client
from conftest import response_json
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.cases import IntakeCache, create_case
from gridgis.errors import NotFoundError


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return token_client(app.test_client(), role="admin", name="admin-caches")


def _a_building(engine: Engine) -> Any:
    """A building of the demo inside an active cell, with its community's address prefix."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT b.id, b.address, b.community_code, ST_X(b.location) AS lon, "
                "ST_Y(b.location) AS lat, g.code AS cell_code "
                "FROM building b JOIN grid_cell g "
                "ON g.valid_to IS NULL AND ST_Covers(g.geom, b.location) "
                "WHERE b.address LIKE '荔城区镇海街道文献社区%' ORDER BY b.id LIMIT 1"
            )
        ).one()


def test_a_building_added_by_sql_is_found_by_the_next_request(
    client: FlaskClient, demo_engine: Engine
) -> None:
    old = _a_building(demo_engine)
    address = "荔城区镇海街道文献社区试新路8号"
    body = {"category": "消防安全", "address": address}
    before = response_json(client.post("/api/cases", json=body), 201)  # the book is loaded
    assert before["building_id"] is None
    with demo_engine.begin() as conn:
        new_id = conn.execute(
            text(
                "INSERT INTO building (community_code, address, location, households) "
                "SELECT community_code, :address, location, 12 FROM building WHERE id = :id "
                "RETURNING id"
            ),
            {"address": address, "id": old.id},
        ).scalar_one()
    after = response_json(client.post("/api/cases", json=body), 201)
    assert (after["building_id"], after["cell_code"]) == (new_id, old.cell_code)
    # Renamed: the old address is no longer that building's.
    with demo_engine.begin() as conn:
        conn.execute(
            text("UPDATE building SET address = :a WHERE id = :id"),
            {"a": "荔城区镇海街道文献社区试新路10号", "id": new_id},
        )
    renamed = response_json(client.post("/api/cases", json=body), 201)
    assert renamed["building_id"] != new_id


def test_a_category_renamed_by_sql_is_seen_at_the_next_filing(
    client: FlaskClient, demo_engine: Engine
) -> None:
    cache = IntakeCache()
    first = create_case(demo_engine, category="市容环境", cache=cache, actor="test")
    assert first["category"] == "cityscape"
    assert response_json(client.post("/api/cases", json={**_NOWHERE, "category": "市容环境"}), 201)
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE case_category SET name_zh = '市容秩序' WHERE code = 'cityscape'"))
    with pytest.raises(NotFoundError, match=r"`category` was '市容环境'"):
        create_case(demo_engine, category="市容环境", cache=cache, actor="test")
    refused = client.post("/api/cases", json={**_NOWHERE, "category": "市容环境"})
    assert "`category` was '市容环境'" in response_json(refused, 404)["error"]["message"]
    renamed = create_case(demo_engine, category="市容秩序", cache=cache, actor="test")
    assert (renamed["category"], renamed["category_name"]) == ("cityscape", "市容秩序")


_NOWHERE = {"address": "火星市奥林帕斯路1号"}
"""A place no building has: the case is filed unmatched (its place is not the point here)."""


def test_a_cell_edited_by_sql_is_used_by_the_next_case(demo_engine: Engine) -> None:
    building = _a_building(demo_engine)
    cache = IntakeCache()
    where = {"lon": building.lon, "lat": building.lat}
    first = create_case(demo_engine, category="dispute", cache=cache, **where, actor="test")
    assert first["cell_code"] == building.cell_code
    with demo_engine.begin() as conn:  # the cell shrinks away from the point: a gap
        conn.execute(
            text(
                "UPDATE grid_cell SET geom = ST_Multi(ST_Difference(geom, "
                "ST_Buffer(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 0.0001))) "
                "WHERE code = :code AND valid_to IS NULL"
            ),
            {**where, "code": building.cell_code},
        )
    second = create_case(demo_engine, category="dispute", cache=cache, **where, actor="test")
    assert (second["cell_code"], second["location_flag"]) == (None, "gap")


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    return int(x), int(y)


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE grid_cell SET households = households + 1000 WHERE code = :code",
        "UPDATE community SET min_households = 1, max_households = 2 WHERE code = left(:code, 12)",
    ],
    ids=["cell households", "community bounds"],
)
def test_a_cell_edited_by_sql_changes_the_tile_etag_at_once(
    client: FlaskClient, demo_engine: Engine, edit: str
) -> None:
    building = _a_building(demo_engine)
    url = "/tiles/cells/14/{}/{}.pbf".format(*_tile_of(building.lon, building.lat, 14))
    first = client.get(url)
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    with demo_engine.begin() as conn:
        conn.execute(text(edit), {"code": building.cell_code})
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.data != first.data


def test_the_settings_let_a_check_stand_for_a_while(demo_url: str, demo_engine: Engine) -> None:
    from gridgis.web import create_app
    from gridgis.web.cases_api import address_book
    from gridgis.web.db import dispose_engine

    app = create_app({"TESTING": True, "DATABASE_URL": demo_url, "ADDRESS_BOOK_SECONDS": 3600})
    cache = IntakeCache(max_age=3600)
    try:
        with app.app_context():
            book = address_book(app)
            create_case(demo_engine, category="市容环境", cache=cache, actor="test")
            with demo_engine.begin() as conn:
                conn.execute(text("UPDATE building SET address = address || '甲'"))
                conn.execute(
                    text("UPDATE case_category SET name_zh = '市容秩序' WHERE code = 'cityscape'")
                )
                conn.execute(
                    text(
                        "INSERT INTO case_category (code, name_zh, name_en, deadline_hours) "
                        "VALUES ('flood', '防汛', 'Flood control', 6)"
                    )
                )
            assert address_book(app) is book  # not checked within the hour
            old = create_case(demo_engine, category="市容环境", cache=cache, actor="test")
            assert old["category_name"] == "市容秩序"  # named by the insert, from the table
            # An unknown category is checked at once: found, and the rename with it.
            assert create_case(demo_engine, category="防汛", cache=cache, actor="test")
            with pytest.raises(NotFoundError, match=r"`category` was '市容环境'"):
                create_case(demo_engine, category="市容环境", cache=cache, actor="test")
    finally:
        dispose_engine(app)
