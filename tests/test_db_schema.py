"""The migrated schema matches the models and holds the rules it promises."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gridgis.db import migrate
from gridgis.db.models import Base

SQUARE = "SRID=4326;MULTIPOLYGON(((119 25.4,119.01 25.4,119.01 25.41,119 25.41,119 25.4)))"


def _seed(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute(text("INSERT INTO district VALUES ('350304', '荔城区', NULL)"))
    conn.execute(text("INSERT INTO street VALUES ('350304001', '350304', '镇海街道', NULL)"))
    conn.execute(
        text(
            "INSERT INTO community (code, street_code, name) "
            "VALUES ('350304001001', '350304001', '东梅社区')"
        )
    )


def test_models_match_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": lambda o, n, t, r, c: n != "spatial_ref_sys",
            },
        )
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    migrate.reset(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_category")).scalar() == 10


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        ("INSERT INTO district VALUES ('35030', 'x', NULL)", "ck_district_code_format"),
        ("INSERT INTO street VALUES ('211403001', '350304', 'x', NULL)", "code_in_district"),
        ("INSERT INTO street VALUES ('999999001', '999999', 'x', NULL)", "fk_street_district"),
        (
            "INSERT INTO district VALUES ('211403', 'x', "
            "'SRID=4326;MULTIPOLYGON(((0 0,1 1,1 0,0 1,0 0)))')",
            "ck_district_geom_valid",
        ),
        (
            "INSERT INTO district VALUES "
            "('211403', 'x', 'SRID=3857;MULTIPOLYGON(((0 0,1 0,1 1,0 0)))')",
            "SRID",
        ),
    ],
)
def test_hierarchy_rules(engine: Engine, sql: str, match: str) -> None:
    with engine.begin() as conn:
        _seed(conn)
    with pytest.raises(DBAPIError, match=match), engine.begin() as conn:
        conn.execute(text(sql))


def test_chinese_names_round_trip(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
        name = conn.execute(text("SELECT name FROM community")).scalar()
    assert name == "东梅社区"


def _insert_cell(conn, code: str, version: int) -> int:  # type: ignore[no-untyped-def]
    vid = conn.execute(
        text(
            "INSERT INTO layout_version (community_code, version, method) "
            "VALUES ('350304001001', :v, 'draw') RETURNING id"
        ),
        {"v": version},
    ).scalar()
    return int(
        conn.execute(
            text(
                "INSERT INTO grid_cell (code, community_code, geom, version_from_id) "
                "VALUES (:code, '350304001001', :g, :vid) RETURNING id"
            ),
            {"code": code, "g": SQUARE, "vid": vid},
        ).scalar_one()
    )


def test_retired_cell_code_is_never_reissued(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
        _insert_cell(conn, "350304001001001", 1)
        conn.execute(
            text(
                "UPDATE grid_cell SET valid_to = now(), status = 'retired'; "
                "UPDATE cell_code SET retired_at = now()"
            )
        )
    with pytest.raises(DBAPIError, match="never issued again"), engine.begin() as conn:
        _insert_cell(conn, "350304001001001", 2)


def test_two_publishes_of_one_version_cannot_both_land(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
        conn.execute(
            text(
                "INSERT INTO layout_version (community_code, version, method) "
                "VALUES ('350304001001', 1, 'draw')"
            )
        )
    dup = pytest.raises(IntegrityError, match="uq_layout_version_community_version")
    with dup, engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO layout_version (community_code, version, method) "
                "VALUES ('350304001001', 1, 'adjust')"
            )
        )


def test_cell_code_must_extend_community_code(engine: Engine) -> None:
    with engine.begin() as conn:
        _seed(conn)
    with pytest.raises(DBAPIError, match="code_in_community"), engine.begin() as conn:
        _insert_cell(conn, "350304001002001", 1)


def _new_case(conn) -> int:  # type: ignore[no-untyped-def]
    return int(
        conn.execute(
            text(
                "INSERT INTO case_record (category_code, reported_at, geom) "
                "VALUES ('fire_safety', '2026-01-05 08:00+08', 'SRID=4326;POINT(119 25.4)') "
                "RETURNING id"
            )
        ).scalar_one()
    )


def test_case_step_is_computed_and_moves_forward_only(engine: Engine) -> None:
    with engine.begin() as conn:
        case_id = _new_case(conn)
        assert conn.execute(text("SELECT step FROM case_record")).scalar() == "reported"
        conn.execute(
            text(
                "UPDATE case_record SET registered_at = reported_at + interval '1 hour', "
                "registered_by = '王芳' WHERE id = :id"
            ),
            {"id": case_id},
        )
        assert conn.execute(text("SELECT step FROM case_record")).scalar() == "registered"
    with pytest.raises(DBAPIError, match="only moves forward"), engine.begin() as conn:
        conn.execute(text("UPDATE case_record SET registered_at = NULL"))
    with pytest.raises(DBAPIError, match="dispatched_after_registered"), engine.begin() as conn:
        conn.execute(text("UPDATE case_record SET dispatched_at = reported_at - interval '1 hour'"))


def test_case_cannot_skip_steps_or_close_after_rejection(engine: Engine) -> None:
    with pytest.raises(DBAPIError, match="closed_after_verified"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO case_record (category_code, reported_at, closed_at) "
                "VALUES ('fire_safety', now(), now())"
            )
        )
    with engine.begin() as conn:
        _new_case(conn)
        conn.execute(text("UPDATE case_record SET rejected_at = reported_at"))
        assert conn.execute(text("SELECT step FROM case_record")).scalar() == "rejected"
    with pytest.raises(DBAPIError, match="is finished"), engine.begin() as conn:
        conn.execute(text("UPDATE case_record SET registered_at = now()"))


def test_inspection_geometry_kinds_and_times(engine: Engine) -> None:
    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inspection (started_at, ended_at, geom) VALUES "
                "(:s, :e, 'SRID=4326;LINESTRING(119 25.4, 119.001 25.401)')"
            ),
            {"s": start, "e": start + dt.timedelta(hours=1)},
        )
    with pytest.raises(DBAPIError, match="ck_inspection_geom_kind"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inspection (started_at, geom) VALUES "
                "(:s, 'SRID=4326;POLYGON((0 0,1 0,1 1,0 0))')"
            ),
            {"s": start},
        )
    with pytest.raises(DBAPIError, match="ck_inspection_time_order"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inspection (started_at, ended_at, geom) VALUES "
                "(:s, :e, 'SRID=4326;POINT(119 25.4)')"
            ),
            {"s": start, "e": start - dt.timedelta(hours=1)},
        )
