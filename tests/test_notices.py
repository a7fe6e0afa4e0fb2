"""Notices (issue 18, point 8): who is told of a dispatch, reassignment, return,
escalation or a deadline near, in the step's own transaction; unread counts and reading."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import cell_point
from sqlalchemy import Engine, text

from gridgis.cases import advance_case, create_case, escalate_case
from gridgis.cases.departments import add_department
from gridgis.demo.cases import CATEGORY_SHARES
from gridgis.errors import InputError, NotFoundError
from gridgis.notices import (
    count_unread,
    list_notices,
    mark_all_read,
    mark_read,
    notify_overdue_soon,
)

HASH = "scrypt:not-a-real-hash"


def add_users(engine: Engine, *rows: tuple[str, str, str | None, str | None]) -> dict[str, int]:
    """Users ``(name, role, street, department)`` with an unusable password; their ids."""
    ids = {}
    with engine.begin() as conn:
        for name, role, street, department in rows:
            ids[name] = conn.execute(
                text(
                    "INSERT INTO app_user (name, role, street_code, department_code, "
                    "password_hash) VALUES (:n, :r, :s, :d, :h) RETURNING id"
                ),
                {"n": name, "r": role, "s": street, "d": department, "h": HASH},
            ).scalar_one()
    return ids


def world(engine: Engine) -> dict[str, Any]:
    """A case of the demo district, registered (立案) now, two departments of its district,
    and users: two street offices of its street, one of another street, logins of both departments,
    an administrator."""
    _, lon, lat = cell_point(engine)
    filed = create_case(engine, category=sorted(CATEGORY_SHARES)[0], lon=lon, lat=lat, actor="test")
    case = SimpleNamespace(id=filed["id"], street_code=filed["street_code"])
    with engine.connect() as conn:
        other = conn.execute(
            text("SELECT code FROM street WHERE code <> :s ORDER BY code LIMIT 1"),
            {"s": case.street_code},
        ).scalar_one()
    advance_case(engine, case.id, "registered", actor="test")
    district = case.street_code[:6]
    add_department(engine, "CG", "城管测试科", district=district, actor="test")
    add_department(engine, "ZJ", "住建测试科", district=district, actor="test")
    ids = add_users(
        engine,
        ("office", "street", case.street_code, None),
        ("office2", "street", case.street_code, None),
        ("elsewhere", "street", other, None),
        ("cg1", "department", None, "CG"),
        ("cg2", "department", None, "CG"),
        ("zj1", "department", None, "ZJ"),
        ("boss", "admin", None, None),
    )
    return {"case": case.id, "street": case.street_code, "ids": ids}


def due_in(engine: Engine, case: int, *, hours: float) -> dt.datetime:
    """Give ``case`` a deadline ``hours`` from now and every other case none; the deadline."""
    deadline = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=hours)
    with engine.begin() as conn:
        conn.execute(text("UPDATE case_record SET deadline = NULL WHERE id <> :id"), {"id": case})
        conn.execute(
            text("UPDATE case_record SET deadline = :d WHERE id = :id"), {"id": case, "d": deadline}
        )
    return deadline


def inbox(engine: Engine) -> dict[str, list[str]]:
    """Each user's notices as ``kind`` strings, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.name, n.kind FROM notice n JOIN app_user u ON u.id = n.user_id "
                "ORDER BY n.id"
            )
        ).all()
    out: dict[str, list[str]] = {}
    for name, kind in rows:
        out.setdefault(name, []).append(kind)
    return out


def test_each_kind_goes_to_whom_it_concerns(demo_engine: Engine) -> None:
    w = world(demo_engine)
    case = w["case"]
    advance_case(demo_engine, case, "dispatched", actor="boss", department="CG", note="请处理")
    assert inbox(demo_engine) == {"cg1": ["dispatched"], "cg2": ["dispatched"]}
    first = list_notices(demo_engine, w["ids"]["cg1"])[0]
    assert first["case_id"] == case and first["kind_name"] == "派遣"
    assert "城管测试科" in first["text"] and "请处理" in first["text"]
    assert first["link"] == f"/cases/{case}" and first["read_at"] is None

    advance_case(demo_engine, case, "dispatched", actor="office", department="ZJ")
    assert inbox(demo_engine)["zj1"] == ["reassigned"]

    # 退单: the street offices of the case's street and whoever dispatched it last; not
    # the department that returned it, nor another street's office
    advance_case(demo_engine, case, "returned", actor="zj1", note="不属于本部门职责")
    told = inbox(demo_engine)
    assert told["office"] == ["returned"] and told["office2"] == ["returned"]
    assert "elsewhere" not in told and "boss" not in told and told["zj1"] == ["reassigned"]
    assert "不属于本部门职责" in list_notices(demo_engine, w["ids"]["office"])[0]["text"]

    advance_case(demo_engine, case, "dispatched", actor="boss", department="CG")
    advance_case(demo_engine, case, "returned", actor="cg2", note="退回")
    assert inbox(demo_engine)["boss"] == ["returned"]  # the admin who dispatched it

    # 督办: the street offices and the department it is dispatched to, never the actor
    advance_case(demo_engine, case, "dispatched", actor="office", department="CG")
    escalate_case(demo_engine, case, actor="boss", note="三天内办结")
    told = inbox(demo_engine)
    assert told["office"][-1] == told["office2"][-1] == "escalated"
    assert told["cg1"][-1] == told["cg2"][-1] == "escalated"
    assert "escalated" not in told["boss"] and "escalated" not in told["zj1"]
    escalate_case(demo_engine, case, actor="office", note="再催")
    assert inbox(demo_engine)["office"].count("escalated") == 1  # not told of its own


def test_a_rolled_back_step_leaves_no_notice(demo_engine: Engine) -> None:
    w = world(demo_engine)
    with demo_engine.connect() as conn, conn.begin():
        advance_case(conn, w["case"], "dispatched", actor="boss", department="CG")
        assert conn.execute(text("SELECT count(*) FROM notice")).scalar() == 2
        conn.rollback()
    assert inbox(demo_engine) == {}
    assert count_unread(demo_engine, w["ids"]["cg1"]) == 0


def test_unread_counts_reading_and_paging(demo_engine: Engine) -> None:
    w = world(demo_engine)
    case, cg1, cg2 = w["case"], w["ids"]["cg1"], w["ids"]["cg2"]
    advance_case(demo_engine, case, "dispatched", actor="boss", department="CG")
    escalate_case(demo_engine, case, actor="boss", note="快")
    escalate_case(demo_engine, case, actor="office", note="再快")
    assert count_unread(demo_engine, cg1) == 3
    listed = list_notices(demo_engine, cg1)
    assert [n["kind"] for n in listed] == ["escalated", "escalated", "dispatched"]  # newest first
    assert [n["id"] for n in list_notices(demo_engine, cg1, limit=1, offset=1)] == [listed[1]["id"]]
    read = mark_read(demo_engine, cg1, listed[2]["id"])
    assert read["read_at"] is not None
    assert mark_read(demo_engine, cg1, listed[2]["id"])["read_at"] == read["read_at"]
    assert count_unread(demo_engine, cg1) == 2
    assert [n["kind"] for n in list_notices(demo_engine, cg1, unread=False)] == ["dispatched"]
    assert len(list_notices(demo_engine, cg1, unread=True)) == 2
    with pytest.raises(NotFoundError, match=f"notice {listed[0]['id']} does not exist"):
        mark_read(demo_engine, cg2, listed[0]["id"])  # another user's notice
    with pytest.raises(NotFoundError, match="does not exist"):
        mark_read(demo_engine, cg1, 2**63)
    assert count_unread(demo_engine, cg2) == 3  # cg2's own are untouched
    assert mark_all_read(demo_engine, cg1) == 2
    assert count_unread(demo_engine, cg1) == 0 and mark_all_read(demo_engine, cg1) == 0


def test_overdue_soon_sweep_tells_once(demo_engine: Engine) -> None:
    w = world(demo_engine)
    case = w["case"]
    deadline = due_in(demo_engine, case, hours=40)
    early = deadline - dt.timedelta(hours=30)
    assert notify_overdue_soon(demo_engine, early) == 0
    near = deadline - dt.timedelta(hours=5)
    assert notify_overdue_soon(demo_engine, near) == 1  # not dispatched: the street office
    assert inbox(demo_engine) == {"office": ["overdue_soon"], "office2": ["overdue_soon"]}
    assert "到期" in list_notices(demo_engine, w["ids"]["office"])[0]["text"]
    assert notify_overdue_soon(demo_engine, near + dt.timedelta(hours=1)) == 0
    assert notify_overdue_soon(demo_engine, near, hours=100) == 0
    assert len(inbox(demo_engine)["office"]) == 1
    with pytest.raises(InputError, match=r"`now` was .* UTC offset"):
        notify_overdue_soon(demo_engine, dt.datetime(2025, 1, 1))


def test_overdue_soon_of_a_dispatched_case_goes_to_its_department(demo_engine: Engine) -> None:
    w = world(demo_engine)
    case = w["case"]
    advance_case(demo_engine, case, "dispatched", actor="boss", department="ZJ")
    deadline = due_in(demo_engine, case, hours=40)
    assert notify_overdue_soon(demo_engine, deadline - dt.timedelta(hours=1), hours=24) == 1
    assert inbox(demo_engine)["zj1"] == ["dispatched", "overdue_soon"]
    assert "office" not in inbox(demo_engine)


def test_the_inbox_api_page_and_badge(demo_url: str, demo_engine: Engine) -> None:
    from gridgis.users import issue_token
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    w = world(demo_engine)
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
    escalate_case(demo_engine, w["case"], actor="boss", note="快")
    app = create_app({"TESTING": True, "DATABASE_URL": demo_url})
    try:
        client, other = app.test_client(), app.test_client()
        add_users(demo_engine, ("cg-web", "department", None, "CG"), ("an", "analyst", None, None))
        for who, name in ((client, "cg-web"), (other, "an")):
            token = issue_token(demo_engine, name, actor="test")
            who.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        # the token users were added after the steps: tell them of a new one
        escalate_case(demo_engine, w["case"], actor="boss", note="再快")
        assert client.get("/api/notices/count").get_json() == {"unread": 1}
        listed = client.get("/api/notices?unread=true").get_json()
        assert listed["unread"] == 1 and listed["notices"][0]["kind"] == "escalated"
        notice_id = listed["notices"][0]["id"]
        assert other.post(f"/api/notices/{notice_id}/read").status_code == 404
        assert other.post(f"/api/notices/{2**63}/read").status_code == 404
        page = client.get("/notices").get_data(as_text=True)
        assert 'id="unread-notices"' in page and "再快" in page and "督办" in page
        answer = client.post(f"/api/notices/{notice_id}/read")
        assert answer.status_code == 200 and answer.get_json()["read_at"] is not None
        assert client.get("/api/notices/count").get_json() == {"unread": 0}
        assert 'id="unread-notices"' not in client.get("/notices").get_data(as_text=True)
        assert other.post("/api/notices/read").get_json() == {"marked": 0, "unread": 0}
        assert other.get("/api/notices").get_json()["notices"] == []
    finally:
        dispose_engine(app)
