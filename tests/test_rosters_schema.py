"""The schema of the rosters (migration 0011): workers' roles and what they serve, party
organisations as a tree, facilities of more kinds, the old values keeping their meaning."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from test_db_schema import _seed as seed

from gridgis.db import migrate

POINT = "SRID=4326;POINT(119.005 25.405)"


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        seed(conn)


@pytest.mark.parametrize("kind", ["centre", "station", "health", "police", "school", "elderly"])
def test_facility_kinds_old_and_new(engine: Engine, kind: str) -> None:
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO service_facility (name, kind, location) VALUES ('x', :k, :p)"),
            {"k": kind, "p": POINT},
        )


def test_facility_kind_unknown_is_refused(engine: Engine) -> None:
    with pytest.raises(DBAPIError, match="ck_service_facility_kind"), engine.begin() as conn:
        conn.execute(
            text("INSERT INTO service_facility (name, kind, location) VALUES ('x', '学校', :p)"),
            {"p": POINT},
        )


def test_worker_roles_and_links(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as conn:
        worker = conn.execute(
            text("INSERT INTO grid_worker (name, id_number) VALUES ('王芳', :n) RETURNING id"),
            {"n": "350304199001011234"},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO worker_role VALUES (:w, 'grid_leader'), (:w, 'building_leader')"),
            {"w": worker},
        )
        conn.execute(
            text("INSERT INTO worker_community VALUES (:w, '350304001001')"), {"w": worker}
        )
    with pytest.raises(DBAPIError, match="ck_worker_role_role_format"), engine.begin() as conn:
        conn.execute(text("INSERT INTO worker_role VALUES (:w, '楼栋长')"), {"w": worker})
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM grid_worker WHERE id = :w"), {"w": worker})
        assert conn.execute(text("SELECT count(*) FROM worker_role")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM worker_community")).scalar() == 0


def test_branch_kind_default_and_parent(engine: Engine) -> None:
    with engine.begin() as conn:
        parent = conn.execute(
            text(
                "INSERT INTO party_branch (name, kind, location) "
                "VALUES ('东梅社区党委', 'committee', :p) RETURNING id"
            ),
            {"p": POINT},
        ).scalar_one()
        child = conn.execute(
            text(
                "INSERT INTO party_branch (name, parent_id, location) "
                "VALUES ('第一网格党支部', :parent, :p) RETURNING id, kind"
            ),
            {"p": POINT, "parent": parent},
        ).one()
    assert child.kind == "branch"
    with pytest.raises(DBAPIError, match="ck_party_branch_kind"), engine.begin() as conn:
        conn.execute(text("UPDATE party_branch SET kind = '党小组' WHERE id = :i"), {"i": child.id})
    with pytest.raises(DBAPIError, match="not_own_parent"), engine.begin() as conn:
        conn.execute(text("UPDATE party_branch SET parent_id = id WHERE id = :i"), {"i": child.id})
    with engine.begin() as conn:  # removing the parent leaves the child without one
        conn.execute(text("DELETE FROM party_branch WHERE id = :i"), {"i": parent})
        assert conn.execute(text("SELECT parent_id FROM party_branch")).scalar() is None


def test_downgrade_keeps_the_old_facilities(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO service_facility (name, kind, location) "
                "VALUES ('中心', 'centre', :p), ('卫生站', 'health', :p)"
            ),
            {"p": POINT},
        )
    migrate.downgrade(engine, "0010")  # below 0011, which widened the kinds
    with engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM service_facility")).scalars().all()
    assert kinds == ["centre"]
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
