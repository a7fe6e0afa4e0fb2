"""大走访 (issue 19 point 4): campaigns list their targets per cell, visitors log visits,
problems go into the ledger, become cases and are 销号 when the cases close.

Figures are checked against independent SQL counts over the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text

from gridgis.access import Policy
from gridgis.cases import advance_case
from gridgis.cases.duplicates import merge_cases
from gridgis.db.models import AuditLog, PartyActivity, PartyMember, ResidentHousehold
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.party.campaigns import (
    FOUR_MUSTS,
    Visitor,
    assign_targets,
    campaign_progress,
    create_campaign,
)
from gridgis.party.ledger import clear_entry, file_case, get_entry, list_ledger
from gridgis.party.visits import list_targets, list_visits, log_visit

START, END = dt.date(2026, 3, 1), dt.date(2026, 4, 30)
ADMIN = Policy(name="admin", role="admin")


def _street(engine: Engine) -> str:
    """The street with the most buildings in cells."""
    with engine.connect() as conn:
        return str(
            conn.execute(
                text(
                    "SELECT left(community_code, 9) FROM building GROUP BY 1 "
                    "ORDER BY count(*) DESC, 1 LIMIT 1"
                )
            ).scalar_one()
        )


def _buildings(engine: Engine, street: str, n: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in conn.execute(
                text(
                    "SELECT id, community_code FROM building WHERE community_code LIKE :s "
                    "ORDER BY md5(id::text) LIMIT :n"
                ),
                {"s": street + "%", "n": n},
            )
        ]


def seed_people(engine: Engine, street: str) -> dict[str, Any]:
    """Key households and party members in ``street``'s buildings (inserted directly), and
    a few of another street that a campaign of ``street`` must leave out."""
    buildings = _buildings(engine, street, 12)
    cats = [["veteran"], ["needy"], ["elderly_alone"], ["needy", "disabled"], ["disabled"]]
    households = [
        {"external_id": f"H{i}", "building_id": b, "head_name": f"张{i}号", "phone": "13800001234",
         "categories": cats[i % len(cats)], "community_code": c, "street_code": c[:9],
         "unit": "1", "room": f"{100 + i}"}
        for i, (b, c) in enumerate(buildings)
    ]  # fmt: skip
    kinds = ["direct", "employed", "mobile", "retired"]
    members = [
        {"external_id": f"M{i}", "name": f"李{i}党员", "kind": kinds[i % 4],
         "birth_year": 1940 if i % 3 == 0 else 1980, "building_id": b, "community_code": c,
         "street_code": c[:9], "phone": "13900005678"}
        for i, (b, c) in enumerate(buildings[:8])
    ]  # fmt: skip
    with engine.begin() as conn:
        other = conn.execute(
            text("SELECT id, community_code FROM building WHERE community_code NOT LIKE :s "
                 "ORDER BY id LIMIT 1"), {"s": street + "%"}
        ).one()  # fmt: skip
        households.append({"external_id": "HX", "building_id": other[0], "head_name": "外街",
                           "categories": ["veteran"], "community_code": other[1],
                           "street_code": other[1][:9], "phone": "13700009999", "unit": None,
                           "room": None})  # fmt: skip
        conn.execute(insert(ResidentHousehold), households)
        ids = list(conn.execute(insert(PartyMember).returning(PartyMember.id), members).scalars())
    return {"buildings": buildings, "members": ids}


@pytest.fixture
def seeded(demo_engine: Engine) -> dict[str, Any]:
    street = _street(demo_engine)
    found = seed_people(demo_engine, street)
    return {"street": street, **found}


def _count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_campaign_lists_the_four_musts_per_cell(demo_engine: Engine, seeded: dict) -> None:
    street = seeded["street"]
    whole = seeded["buildings"][-1][0]
    campaign = create_campaign(
        demo_engine, name="春季大走访", area=street, starts_on=START, ends_on=END,
        buildings=[whole], actor="test",
    )  # fmt: skip
    assert campaign["rules"] == list(FOUR_MUSTS)
    # Independent count: households of the street with a 四个必走 category or in the
    # building visited whole; every member of the street; the building itself.
    expected = (
        _count(
            demo_engine,
            "SELECT count(*) FROM resident_household WHERE community_code LIKE :s "
            "AND (categories && ARRAY['veteran','needy']::text[] OR building_id = :b)",
            s=street + "%", b=whole,
        )
        + _count(demo_engine, "SELECT count(*) FROM party_member WHERE street_code = :s", s=street)
        + 1
    )  # fmt: skip
    assert campaign["targets"] == expected
    assert campaign["visited"] == 0
    progress = campaign_progress(demo_engine, campaign["id"], today=START)
    by_sql = {
        code: n
        for code, n in _rows(
            demo_engine,
            "SELECT g.code, count(*) FROM visit_target t JOIN building b ON b.id = t.building_id "
            "JOIN grid_cell g ON g.valid_to IS NULL AND ST_Intersects(g.geom, b.location) "
            "WHERE t.campaign_id = :c GROUP BY g.code",
            c=campaign["id"],
        )
    }
    assert {r["cell_code"]: r["targets"] for r in progress} == by_sql
    assert sum(r["overdue"] for r in progress) == 0
    late = campaign_progress(demo_engine, campaign["id"], today=END + dt.timedelta(days=1))
    assert sum(r["overdue"] for r in late) == campaign["targets"]
    with pytest.raises(InputError, match="rules"):
        create_campaign(demo_engine, name="x", area=street, starts_on=START, ends_on=END,
                        rules=["dancers"], actor="test")  # fmt: skip
    with pytest.raises(InputError, match="ends_on"):
        create_campaign(demo_engine, name="x", area=street, starts_on=END, ends_on=START,
                        actor="test")  # fmt: skip


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_visit_problem_case_and_ledger_state(demo_engine: Engine, seeded: dict) -> None:
    street = seeded["street"]
    campaign = create_campaign(
        demo_engine, name="大走访", area=street, starts_on=START, ends_on=END, actor="test"
    )
    member = seeded["members"][0]
    cell = campaign_progress(demo_engine, campaign["id"], today=START)[0]["cell_code"]
    assigned = assign_targets(demo_engine, campaign["id"], Visitor(member_id=member), cell=cell,
                              actor="test")  # fmt: skip
    assert assigned == _count(
        demo_engine,
        "SELECT count(*) FROM visit_target t JOIN grid_cell g ON g.id = t.cell_id "
        "WHERE t.campaign_id = :c AND g.code = :g", c=campaign["id"], g=cell,
    )  # fmt: skip
    policy = Policy(name="li", role="member", member=member)
    mine = list_targets(demo_engine, visitor=Visitor(member_id=member))
    assert len(mine) == assigned and all(t["cell_code"] == cell for t in mine)
    target = mine[0]
    # Someone else's target is not there for this member.
    others = list_targets(demo_engine, campaign_id=campaign["id"], visited=False)
    stranger = next(t for t in others if t["visitor_id"] is None)
    with pytest.raises(NotFoundError):
        log_visit(demo_engine, stranger["id"], policy=policy, visitor=Visitor(member_id=member),
                  actor="li")  # fmt: skip
    visit = log_visit(
        demo_engine, target["id"], policy=policy, visitor=Visitor(member_id=member),
        lon=target["lon"], lat=target["lat"], accuracy=12.0, note="聊了家常",
        problems=[{"category": "市容环境", "description": "楼道堆物"},
                  {"category": "道路设施", "description": "路灯不亮"}],
        actor="li",
    )  # fmt: skip
    assert visit["points"] is not None and len(visit["ledger_ids"]) == 2
    assert _count(demo_engine, "SELECT count(*) FROM party_activity WHERE source = 'visit' "
                  "AND source_id = :v", v=visit["id"]) == 1  # fmt: skip
    assert list_visits(demo_engine, visitor=Visitor(member_id=member))[0]["id"] == visit["id"]
    share = {r["cell_code"]: r for r in campaign_progress(demo_engine, campaign["id"])}[cell]
    assert share["visited"] == 1

    first, second = visit["ledger_ids"]
    assert get_entry(demo_engine, first)["state"] == "open"
    entry = file_case(demo_engine, first, actor="zhenhai")
    assert entry["state"] == "in_case" and entry["case_id"] is not None
    with demo_engine.connect() as conn:
        case_cell = conn.execute(
            text("SELECT g.code FROM case_record c JOIN grid_cell g ON g.id = c.cell_id "
                 "WHERE c.id = :c"), {"c": entry["case_id"]}
        ).scalar_one()  # fmt: skip
    assert case_cell == cell
    with pytest.raises(ConflictError, match="once"):
        file_case(demo_engine, first, actor="zhenhai")
    with pytest.raises(ConflictError, match="handled as case"):
        clear_entry(demo_engine, first, note="x", actor="zhenhai")
    for step in ("registered", "dispatched", "handled", "verified", "closed"):
        advance_case(demo_engine, entry["case_id"], step, actor="office")
    closed = get_entry(demo_engine, first)
    assert (closed["state"], closed["closed_how"]) == ("closed", "case")
    assert closed["closed_at"] is not None

    # 销号 by hand, for a problem solved on the spot: a note is required.
    with pytest.raises(InputError, match="note"):
        clear_entry(demo_engine, second, note=" ", actor="zhenhai")
    cleared = clear_entry(demo_engine, second, note="当场修好", actor="zhenhai")
    assert (cleared["state"], cleared["closed_how"]) == ("closed", "manual")
    closed_ids = {
        e["id"] for e in list_ledger(demo_engine, state="closed", campaign_id=campaign["id"])
    }
    assert closed_ids == {first, second}
    with demo_engine.connect() as conn:
        audited = set(
            conn.execute(
                select(AuditLog.object_type, AuditLog.action).where(
                    AuditLog.object_type.in_(("visit", "ledger_entry", "visit_campaign"))
                )
            ).all()
        )
    assert {("visit", "create"), ("ledger_entry", "file_case"), ("ledger_entry", "clear"),
            ("visit_campaign", "create"), ("visit_campaign", "assign")} <= audited  # fmt: skip
    points = _count(demo_engine, "SELECT count(*) FROM party_activity WHERE member_id = :m",
                    m=member)  # fmt: skip
    assert points == 1
    assert PartyActivity.__tablename__ == "party_activity"


def test_rejected_and_merged_cases_keep_the_ledger_honest(
    demo_engine: Engine, seeded: dict
) -> None:
    campaign = create_campaign(
        demo_engine, name="大走访", area=seeded["street"], starts_on=START, ends_on=END,
        actor="test",
    )  # fmt: skip
    target = list_targets(demo_engine, campaign_id=campaign["id"])[0]
    with demo_engine.connect() as conn:
        user = conn.execute(text("SELECT 1")).scalar_one()
    assert user == 1
    visit = log_visit(
        demo_engine, target["id"], policy=ADMIN, visitor=Visitor(member_id=seeded["members"][1]),
        problems=[{"category": "市容环境", "description": "垃圾"},
                  {"category": "市容环境", "description": "垃圾又有"}],
        actor="admin",
    )  # fmt: skip
    one, two = visit["ledger_ids"]
    case_one = file_case(demo_engine, one, actor="admin")["case_id"]
    advance_case(demo_engine, case_one, "rejected", actor="office", note="不属实")
    assert get_entry(demo_engine, one)["state"] == "rejected"
    refiled = file_case(demo_engine, one, actor="admin")  # a rejected case: filed again
    assert refiled["state"] == "in_case" and refiled["case_id"] != case_one
    case_two = file_case(demo_engine, two, actor="admin")["case_id"]
    merge_cases(demo_engine, case_two, refiled["case_id"], actor="office")
    merged = get_entry(demo_engine, two)
    assert (merged["state"], merged["standing_case_id"]) == ("in_case", refiled["case_id"])
    for step in ("registered", "dispatched", "handled", "verified", "closed"):
        advance_case(demo_engine, refiled["case_id"], step, actor="office")
    assert {get_entry(demo_engine, i)["state"] for i in (one, two)} == {"closed"}
    # A reopened case (by hand in the database: gridgis has no reopening) reopens the entry.
    with demo_engine.begin() as conn:
        conn.execute(text("ALTER TABLE case_record DISABLE TRIGGER USER"))
        conn.execute(
            text("UPDATE case_record SET closed_at = NULL, closed_by = NULL WHERE id = :c"),
            {"c": refiled["case_id"]},
        )
        conn.execute(text("ALTER TABLE case_record ENABLE TRIGGER USER"))
    assert {get_entry(demo_engine, i)["state"] for i in (one, two)} == {"in_case"}


def test_people_are_masked_outside_the_street(demo_engine: Engine, seeded: dict) -> None:
    street = seeded["street"]
    campaign = create_campaign(
        demo_engine, name="大走访", area=street[:6], starts_on=START, ends_on=END, actor="test"
    )
    outside = [t for t in list_targets(demo_engine, campaign_id=campaign["id"])
               if t["street_code"] != street]  # fmt: skip
    assert outside, "the district campaign holds the household of another street"
    office = Policy(name="office", role="street", street=street)
    shown = list_targets(
        demo_engine, campaign_id=campaign["id"], people=office.may_see_people, limit=1000
    )
    own = [t for t in shown if t["street_code"] == street and t["kind"] != "building"]
    away = [t for t in shown if t["street_code"] != street and t["kind"] != "building"]
    assert own and all("*" not in t["name"] for t in own)
    assert away and all(t["name"].endswith("*") for t in away)
    assert all(t["phone"] is None or t["phone"].startswith("****") for t in away)


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def test_api_scopes_and_masks_people_by_role(app: Any) -> None:
    """A street office reads its street's targets and ledger unmasked and another street's
    not at all; an analyst reads every street masked; a party member reads its own targets
    only and no ledger; the export of the 台账 masks as the page does."""
    from conftest import add_test_user, log_in_client, sign_in

    url = app.config["DATABASE_URL"]
    engine = create_engine_for(url)
    street = _street(engine)
    found = seed_people(engine, street)
    campaign = create_campaign(
        engine, name="大走访", area=street[:6], starts_on=START, ends_on=END, actor="test"
    )
    member = found["members"][0]
    mine = list_targets(engine, campaign_id=campaign["id"], limit=1000)
    own = next(t for t in mine if t["street_code"] == street and t["kind"] == "household")
    assign_targets(engine, campaign["id"], Visitor(member_id=member), target_ids=[own["id"]],
                   actor="test")  # fmt: skip
    log_visit(engine, own["id"], policy=ADMIN, visitor=Visitor(member_id=member),
              problems=[{"category": "市容环境", "description": "堆物"}], actor="t")  # fmt: skip
    add_test_user(url, "li-shadow")  # the password hash the tests share
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO app_user (name, role, member_id, password_hash) SELECT 'li', "
                 "'member', :m, password_hash FROM app_user WHERE name = 'li-shadow'"),
            {"m": member},
        )  # fmt: skip
    engine.dispose()

    office = app.test_client()
    sign_in(office, role="street", street=street, name="office")
    shown = office.get(f"/api/party/targets?campaign={campaign['id']}&limit=1000").get_json()
    assert shown["targets"] and {t["street_code"] for t in shown["targets"]} == {street}
    assert all("*" not in (t["name"] or "") for t in shown["targets"] if t["kind"] != "building")
    ledger = office.get(f"/api/party/ledger?campaign={campaign['id']}").get_json()["entries"]
    assert [e["target_name"] for e in ledger] == [own["name"]]

    analyst = app.test_client()
    token = sign_in(analyst, role="analyst", name="analyst")
    everyone = analyst.get(f"/api/party/targets?campaign={campaign['id']}&limit=1000").get_json()
    names = [t["name"] for t in everyone["targets"] if t["kind"] == "household"]
    assert len({t["street_code"] for t in everyone["targets"]}) >= 2
    assert names and all(n.endswith("*") for n in names)
    entries = analyst.get(f"/api/party/ledger?campaign={campaign['id']}").get_json()["entries"]
    assert entries[0]["target_name"].endswith("*")
    sheet = analyst.get(f"/party/ledger/export?format=csv&campaign={campaign['id']}").get_data(
        as_text=True
    )
    assert own["name"] not in sheet and "堆物" in sheet
    refused = analyst.post(
        "/api/party/ledger/1/clear", json={"note": "x"}, headers={"X-CSRF-Token": token}
    )
    assert refused.status_code == 403

    visitor = app.test_client()
    log_in_client(visitor, "li")
    listed = visitor.get("/api/party/targets").get_json()["targets"]
    assert [t["id"] for t in listed] == [own["id"]] and listed[0]["name"] == own["name"]
    assert visitor.get("/api/party/ledger").status_code == 403
    assert visitor.get("/party/campaigns").status_code == 403
    assert visitor.get("/cases").status_code == 403


def create_engine_for(url: str) -> Engine:
    from sqlalchemy import create_engine

    return create_engine(url)
