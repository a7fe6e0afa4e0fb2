"""Departments, dispatch (派遣/改派), returns (退单), escalation (督办), notes, the timeline,
and the field roles (grid worker, department) on the demo district."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _api_auth import token_client, user_token
from click.testing import CliRunner
from conftest import cell_point
from conftest import response_json as _json
from flask import Flask
from sqlalchemy import Engine, text

from gridgis import cases
from gridgis.access import Policy
from gridgis.cases.departments import (
    add_department,
    add_rule,
    default_department,
    dispatch_rules_apply,
    list_departments,
    list_rules,
)
from gridgis.cli import main
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.registers.departments import import_departments
from gridgis.users import add_user, get_user


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


@pytest.fixture
def db(demo_engine: Engine) -> Engine:
    """This test's copy of the demo, without the demo's departments (each test adds its own)."""
    with demo_engine.begin() as conn:
        conn.execute(text("UPDATE case_record SET department_code = NULL"))
        conn.execute(text("DELETE FROM case_event"))
        conn.execute(text("DELETE FROM dispatch_rule"))
        conn.execute(text("DELETE FROM department"))
    return demo_engine


def test_the_demo_has_departments_and_its_dispatched_cases_theirs(demo_engine: Engine) -> None:
    with demo_engine.connect() as conn:
        departments = conn.execute(text("SELECT count(*) FROM department")).scalar_one()
        streets = conn.execute(text("SELECT count(*) FROM street")).scalar_one()
        without = conn.execute(
            text(
                "SELECT count(*) FROM case_record WHERE dispatched_at IS NOT NULL "
                "AND department_code IS NULL AND community_code IS NOT NULL"
            )
        ).scalar_one()
        serving = conn.execute(
            text(
                "SELECT count(*) FROM case_record c JOIN department d "
                "ON d.code = c.department_code "
                "WHERE c.community_code NOT LIKE coalesce(d.street_code, d.district_code) || '%'"
            )
        ).scalar_one()
    assert departments == 6 + streets
    assert without == 0 and serving == 0


def _district_and_street(db: Engine) -> tuple[str, str, str]:
    code, _, _ = cell_point(db)
    return code[:6], code[:9], code


def _new_case(db: Engine, category: str = "cityscape") -> dict[str, Any]:
    _, lon, lat = cell_point(db)
    return cases.create_case(db, category=category, lon=lon, lat=lat, actor="wang")


def _departments(db: Engine) -> tuple[str, str]:
    district, street, _ = _district_and_street(db)
    add_department(db, "CG", "城市管理局", district=district, phone="0594-2345678", actor="t")
    add_department(db, "JD-ZZ", "街道综治办", street=street, actor="t")
    return district, street


def _audit(db: Engine, case_id: int) -> list[str]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT action FROM audit_log WHERE object_type = 'case' AND object_id = :i "
                    "ORDER BY id"
                ),
                {"i": str(case_id)},
            ).scalars()
        )


# --- departments and rules ----------------------------------------------------------------


def test_departments_are_added_listed_and_refused_with_reasons(db: Engine) -> None:
    district, street = _departments(db)
    assert [d["code"] for d in list_departments(db)] == ["CG", "JD-ZZ"]
    assert [d["code"] for d in list_departments(db, area=street + "001")] == ["CG", "JD-ZZ"]
    other_street = street[:6] + ("999" if street[6:] != "999" else "998")
    assert [d["code"] for d in list_departments(db, area=other_street)] == ["CG"]
    with pytest.raises(ConflictError, match="'CG' already exists"):
        add_department(db, "CG", "另一个", district=district, actor="t")
    with pytest.raises(ConflictError, match="already has a department named '城市管理局'"):
        add_department(db, "CG2", "城市管理局", district=district, actor="t")
    with pytest.raises(InputError, match="exactly one of `district`"):
        add_department(db, "X", "X", actor="t")
    with pytest.raises(NotFoundError, match="street '350399999' does not exist"):
        add_department(db, "X", "X", street="350399999", actor="t")
    with pytest.raises(InputError, match="`department` was 'a b'"):
        add_department(db, "a b", "X", district=district, actor="t")


def test_the_most_specific_rule_chooses_the_department(db: Engine) -> None:
    district, street = _departments(db)
    community = cell_point(db)[0][:12]
    add_rule(db, "市容环境", "CG", actor="t")
    assert default_department(db, "cityscape", community) == "CG"
    add_rule(db, "cityscape", "JD-ZZ", area=street, actor="t")
    assert default_department(db, "cityscape", community) == "JD-ZZ"
    assert default_department(db, "fire_safety", community) is None
    with pytest.raises(InputError, match="serves only"):
        add_rule(db, "cityscape", "JD-ZZ", area=district + "999", actor="t")
    assert {(r["category"], r["area_code"]) for r in list_rules(db)} == {
        ("cityscape", ""),
        ("cityscape", street),
    }


# --- the lifecycle with departments --------------------------------------------------------


def test_dispatch_return_redispatch_handle_verify_close_and_the_timeline(db: Engine) -> None:
    _departments(db)
    add_rule(db, "cityscape", "CG", actor="t")
    case = _new_case(db)
    cid = case["id"]
    cases.advance_case(db, cid, "registered", actor="office", note="属实，立案")
    sent = cases.advance_case(db, cid, "dispatched", actor="office")
    assert (sent["department_code"], sent["department_name"]) == ("CG", "城市管理局")
    with pytest.raises(InputError, match=r"a return \(退单\) needs a note"):
        cases.advance_case(db, cid, "returned", actor="cg")
    back = cases.advance_case(db, cid, "退单", actor="cg", note="不属于本部门职责")
    assert back["step"] == "registered"
    assert back["department_code"] is None and back["dispatched_at"] is None
    again = cases.advance_case(
        db, cid, "dispatched", actor="office", department="JD-ZZ", assignee="李四"
    )
    assert (again["department_code"], again["assignee"]) == ("JD-ZZ", "李四")
    moved = cases.advance_case(db, cid, "dispatched", actor="office", department="CG")
    assert (moved["department_code"], moved["assignee"]) == ("CG", None)
    with pytest.raises(ConflictError, match="already dispatched to CG"):
        cases.advance_case(db, cid, "dispatched", actor="office", department="CG")
    cases.advance_case(db, cid, "handled", actor="cg", note="已清理")
    cases.advance_case(db, cid, "verified", actor="wang", note="现场核实")
    closed = cases.advance_case(db, cid, "closed", actor="office")
    assert closed["step"] == "closed" and closed["department_code"] == "CG"
    kinds = [(e["kind"], e["department_code"]) for e in cases.case_timeline(db, cid)]
    assert kinds == [
        ("reported", None),
        ("registered", None),
        ("dispatched", "CG"),
        ("returned", "CG"),
        ("dispatched", "JD-ZZ"),
        ("reassigned", "CG"),
        ("handled", "CG"),
        ("verified", None),
        ("closed", None),
    ]
    timeline = cases.case_timeline(db, cid)
    assert timeline[3]["note"] == "不属于本部门职责" and timeline[3]["kind_name"] == "退单"
    assert timeline[4]["assignee"] == "李四"
    assert _audit(db, cid) == [
        "create",
        "advance",
        "advance",
        "returned",
        "advance",
        "reassigned",
        "advance",
        "advance",
        "advance",
    ]


def test_a_dispatch_needs_a_department_where_departments_serve_the_area(db: Engine) -> None:
    lone = _new_case(db, "fire_safety")
    cases.advance_case(db, lone["id"], "registered", actor="office")
    # no department anywhere: the street office handles it itself
    assert cases.advance_case(db, lone["id"], "dispatched", actor="o")["department_code"] is None
    _departments(db)
    case = _new_case(db, "fire_safety")
    cases.advance_case(db, case["id"], "registered", actor="office")
    with pytest.raises(InputError, match=r"no dispatch rule.*name the `department`"):
        cases.advance_case(db, case["id"], "dispatched", actor="office")
    with pytest.raises(NotFoundError, match="department 'NOPE' does not exist"):
        cases.advance_case(db, case["id"], "dispatched", actor="office", department="NOPE")
    with pytest.raises(InputError, match="`department` and `assignee` go with"):
        cases.advance_case(db, case["id"], "handled", actor="office", department="CG")
    with pytest.raises(ConflictError, match="only a dispatched case"):
        cases.advance_case(db, case["id"], "returned", actor="cg", note="不是我们的")


def test_escalation_and_notes(db: Engine) -> None:
    case = _new_case(db)
    escalated = cases.escalate_case(db, case["id"], actor="leader", note="请三日内办结")
    assert escalated["escalated_by"] == "leader" and escalated["escalated_at"]
    assert [c["id"] for c in cases.list_cases(db, escalated=True)] == [case["id"]]
    note = cases.add_note(db, case["id"], actor="wang", note="居民再次来电")
    assert (note["kind"], note["kind_name"], note["note"]) == ("note", "备注", "居民再次来电")
    with pytest.raises(InputError, match="needs a note"):
        cases.escalate_case(db, case["id"], actor="leader", note="  ")
    cases.advance_case(db, case["id"], "rejected", actor="office")
    with pytest.raises(ConflictError, match="is finished"):
        cases.escalate_case(db, case["id"], actor="leader", note="再催")
    assert _audit(db, case["id"])[-3:] == ["escalate", "note", "advance"]


def test_rules_apply_to_cases_loaded_before_departments(db: Engine) -> None:
    _departments(db)
    add_rule(db, "cityscape", "CG", actor="t")
    with db.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM case_record WHERE dispatched_at IS NOT NULL "
                "AND category_code = 'cityscape'"
            )
        ).scalar_one()
    assert expected > 0
    assert dispatch_rules_apply(db, actor="t") >= expected
    with db.connect() as conn:
        assigned = conn.execute(
            text("SELECT count(*) FROM case_record WHERE department_code = 'CG'")
        ).scalar_one()
    assert assigned == expected


# --- importing departments -----------------------------------------------------------------


def test_departments_import_from_a_chinese_sheet_with_row_reasons(
    db: Engine, tmp_path: Path
) -> None:
    district, street, _ = _district_and_street(db)
    sheet = tmp_path / "部门.csv"
    sheet.write_text(
        "编码,名称,区县,街道,电话,事件类别\n"
        f"CG,城市管理局,{district},,0594-1,市容环境、cityscape\n"
        f"ZZ,综治办,,{street},,矛盾纠纷\n"
        "BAD code,坏的,,,,\n"
        f"SJ,市场监管局,{district},,,不存在的类别\n",
        encoding="utf-8",
    )
    report = import_departments(db, sheet, actor="t")
    assert report.counts == {
        "read": 4,
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "flagged": 0,
        "rejected": 2,
    }
    reasons = dict(zip(report.rows["row"], report.rows["reason"], strict=True))
    assert "is not a code" in reasons[4] and "district or street missing" in reasons[4]
    assert "unknown category '不存在的类别'" in reasons[5]
    assert default_department(db, "dispute", street + "001") == "ZZ"
    again = import_departments(db, sheet, actor="t")
    assert again.counts["unchanged"] == 2 and again.counts["imported"] == 0


def test_departments_cli_adds_lists_and_makes_rules(db: Engine, demo_url: str) -> None:
    district, street, _ = _district_and_street(db)
    runner = CliRunner()
    env = {"GRIDGIS_DATABASE_URL": demo_url}
    added = runner.invoke(
        main, ["departments", "add", "CG", "城市管理局", "--district", district], env=env
    )
    assert added.exit_code == 0, added.output
    assert "added department CG 城市管理局" in added.output
    rule = runner.invoke(main, ["departments", "rule", "市容环境", "CG"], env=env)
    assert rule.exit_code == 0 and "cityscape in every area → CG" in rule.output
    listed = runner.invoke(main, ["departments", "list"], env=env)
    assert "CG" in listed.output and district in listed.output
    both = runner.invoke(
        main, ["departments", "add", "X", "X", "--district", district, "--street", street],
        env=env,
    )  # fmt: skip
    assert both.exit_code != 0 and "exactly one of --district" in both.output


# --- field roles ---------------------------------------------------------------------------


def _worker_serving(db: Engine, cell: str) -> tuple[int, str]:
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT w.id, w.external_id FROM grid_worker w JOIN worker_cell wc "
                "ON wc.worker_id = w.id JOIN grid_cell g ON g.id = wc.cell_id "
                "WHERE g.code = :c AND g.valid_to IS NULL ORDER BY w.id LIMIT 1"
            ),
            {"c": cell},
        ).one()
    return int(row.id), str(row.external_id)


def test_a_worker_login_follows_its_workers_cells(db: Engine) -> None:
    _, street, cell = _district_and_street(db)
    worker_id, external = _worker_serving(db, cell)
    user = add_user(
        db, "wang-worker", role="worker", worker=external, password="a long pass 123", actor="t"
    )
    assert user.worker_id == worker_id and cell in user.areas and user.scope == street
    with pytest.raises(InputError, match="needs `worker`"):
        add_user(db, "w2", role="worker", password="a long pass 123", actor="t")
    with pytest.raises(NotFoundError, match="grid worker 'nobody' does not exist"):
        add_user(db, "w3", role="worker", worker="nobody", password="a long pass 123", actor="t")
    _departments(db)
    dep = add_user(
        db, "cg-login", role="department", department="CG", password="a long pass 123", actor="t"
    )
    assert get_user(db, "cg-login").department_code == dep.department_code == "CG"
    rules = Policy.for_user(user)
    assert rules.case_filters() == {"within": user.areas, "within_reporter": "wang-worker"}


def test_each_field_role_sees_and_takes_only_its_own(app: Flask, db: Engine) -> None:
    _, street, cell = _district_and_street(db)
    _departments(db)
    url = app.config["DATABASE_URL"]
    worker_id, _ = _worker_serving(db, cell)
    office = token_client(app.test_client(), role="street", street=street, name="office")
    worker = app.test_client()
    worker.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + user_token(
        url, "wk", role="worker", worker=worker_id
    )
    department = app.test_client()
    department.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + user_token(
        url, "cg", role="department", department="CG"
    )
    analyst = token_client(app.test_client(), role="analyst", name="ana")
    _, lon, lat = cell_point(db)
    filed = _json(
        worker.post("/api/cases", json={"category": "cityscape", "lon": lon, "lat": lat}),
        201,
    )
    cid = filed["id"]
    assert filed["cell_code"] == cell and filed["reported_by"] == "wk"
    # the worker sees its cells' cases, and only those
    listed = _json(worker.get("/api/cases?limit=100"), 200)["cases"]
    assert listed and all(c["cell_code"].startswith(cell[:12]) for c in listed)
    with db.connect() as conn:
        elsewhere = conn.execute(
            text(
                "SELECT c.id FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                "WHERE g.code NOT IN (SELECT g2.code FROM worker_cell wc JOIN grid_cell g2 "
                "ON g2.id = wc.cell_id WHERE wc.worker_id = :w) AND c.reported_by <> 'wk' "
                "AND (SELECT count(*) FROM worker_community WHERE worker_id = :w) = 0 LIMIT 1"
            ),
            {"w": worker_id},
        ).scalar()
    if elsewhere is not None:
        assert worker.get(f"/api/cases/{elsewhere}").status_code == 404
    # the worker may not register; the office may
    refused = worker.post(f"/api/cases/{cid}/steps", json={"step": "registered"})
    assert refused.status_code == 403
    _json(office.post(f"/api/cases/{cid}/steps", json={"step": "registered"}), 200)
    # the department sees nothing until the case is dispatched to it
    assert department.get(f"/api/cases/{cid}").status_code == 404
    assert _json(department.get("/api/cases"), 200)["cases"] == []
    sent = _json(
        office.post(f"/api/cases/{cid}/steps", json={"step": "dispatched", "department": "CG"}),
        200,
    )
    assert sent["department_code"] == "CG"
    assert [c["id"] for c in _json(department.get("/api/cases"), 200)["cases"]] == [cid]
    timeline = _json(department.get(f"/api/cases/{cid}/timeline"), 200)
    assert timeline["actions"] == ["handled", "returned", "note"]
    no_reason = department.post(f"/api/cases/{cid}/steps", json={"step": "returned"})
    assert no_reason.status_code == 400
    _json(
        department.post(f"/api/cases/{cid}/steps", json={"step": "returned", "note": "非本部门"}),
        200,
    )
    assert department.get(f"/api/cases/{cid}").status_code == 404  # back with the office
    _json(
        office.post(f"/api/cases/{cid}/steps", json={"step": "dispatched", "department": "CG"}),
        200,
    )
    assert department.post(f"/api/cases/{cid}/steps", json={"step": "closed"}).status_code == 403
    _json(department.post(f"/api/cases/{cid}/steps", json={"step": "handled"}), 200)
    assert _json(worker.get(f"/api/cases/{cid}/timeline"), 200)["actions"] == [
        "verified",
        "note",
    ]
    _json(worker.post(f"/api/cases/{cid}/steps", json={"step": "verified"}), 200)
    _json(office.post(f"/api/cases/{cid}/steps", json={"step": "closed"}), 200)
    # notes, escalation, analysts and departments' limits
    _json(worker.post(f"/api/cases/{cid}/notes", json={"note": "居民满意"}), 201)
    assert analyst.post(f"/api/cases/{cid}/notes", json={"note": "x"}).status_code == 403
    assert analyst.post(f"/api/cases/{cid}/steps", json={"step": "closed"}).status_code == 403
    assert department.get("/api/cases/stats").status_code == 403
    assert department.get("/api/cases?department=JD-ZZ").status_code == 403
    assert [d["code"] for d in _json(department.get("/api/departments"), 200)] == ["CG"]
    assert [d["code"] for d in _json(office.get("/api/departments"), 200)] == ["CG", "JD-ZZ"]
    kinds = [e["kind"] for e in _json(office.get(f"/api/cases/{cid}/timeline"), 200)["events"]]
    assert kinds == [
        "reported",
        "registered",
        "dispatched",
        "returned",
        "dispatched",
        "handled",
        "verified",
        "closed",
        "note",
    ]


def test_escalations_through_the_api(app: Flask, db: Engine) -> None:
    _, street, _ = _district_and_street(db)
    office = token_client(app.test_client(), role="street", street=street, name="office")
    case = _new_case(db)
    answer = _json(
        office.post(f"/api/cases/{case['id']}/escalations", json={"note": "请加快办理"}), 200
    )
    assert answer["escalated_by"] == "office"
    assert office.post(f"/api/cases/{case['id']}/escalations", json={}).status_code == 422
    listed = _json(office.get("/api/cases?escalated=true"), 200)["cases"]
    assert [c["id"] for c in listed] == [case["id"]]


def test_departments_api_adds_within_the_users_area(app: Flask, db: Engine) -> None:
    district, street, _ = _district_and_street(db)
    office = token_client(app.test_client(), role="street", street=street, name="office")
    admin = token_client(app.test_client(), role="admin", name="root")
    made = _json(
        admin.post("/api/departments", json={"code": "CG", "name": "城管", "district": district}),
        201,
    )
    assert made["area_code"] == district
    refused = office.post("/api/departments", json={"code": "X", "name": "X", "district": district})
    assert refused.status_code == 403
    own = office.post("/api/departments", json={"code": "ZZ", "name": "综治办", "street": street})
    assert _json(own, 201)["street_code"] == street
    both = admin.post(
        "/api/departments",
        json={"code": "Y", "name": "Y", "district": district, "street": street},
    )
    assert both.status_code == 422


def test_list_filters_by_text_department_and_assignee(db: Engine) -> None:
    _departments(db)
    case = _new_case(db)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE case_record SET description = :d WHERE id = :i"),
            {"d": "井盖缺失_100%危险", "i": case["id"]},
        )
    assert [c["id"] for c in cases.list_cases(db, text="100%危险")] == [case["id"]]
    assert cases.list_cases(db, text="_100%危险x") == []
    cases.advance_case(db, case["id"], "registered", actor="o")
    cases.advance_case(db, case["id"], "dispatched", actor="o", department="CG", assignee="张三")
    assert [c["id"] for c in cases.list_cases(db, department="CG", assignee="张三")] == [case["id"]]


def test_a_departments_file_in_gbk_is_read_and_a_wrong_encoding_stores_nothing(
    db: Engine, tmp_path: Path
) -> None:
    from gridgis.errors import FileEncodingError

    district, _, _ = _district_and_street(db)
    sheet = tmp_path / "部门.csv"
    sheet.write_bytes(f"编码,名称,区县\nCG,城市管理局,{district}\n".encode("gbk"))
    with pytest.raises(FileEncodingError, match=r"部门\.csv"):
        import_departments(db, sheet, encoding="utf-8", actor="t")
    assert list_departments(db) == []
    report = import_departments(db, sheet, actor="t")  # GBK found by itself
    assert report.counts["imported"] == 1
    assert [d["name"] for d in list_departments(db)] == ["城市管理局"]
