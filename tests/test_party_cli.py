"""`gridgis party campaigns` and `gridgis party needs` (issue 19): the 大走访 campaigns and the
needs list from the command line, through click's CliRunner against the real test PostGIS.

Each command's effect is checked in the database (independent SQL), each change in the
audit trail under the CLI user (``cli:<login>``); a bad value is named and the exit code
is non-zero.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, create_engine, text
from test_party_visits import _street, seed_people

from gridgis.audit import cli_actor
from gridgis.cli import main

START, END = dt.date(2026, 3, 1), dt.date(2026, 4, 30)


@pytest.fixture
def db(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    engine = create_engine(demo_url)
    yield engine
    engine.dispose()


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["party", *args])


def _one(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def _rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_campaigns_add_list_show_assign_close(db: Engine) -> None:
    street = _street(db)
    member = seed_people(db, street)["members"][0]
    added = _run(
        "campaigns", "add", "命令行大走访", "--area", street, "--from", START.isoformat(),
        "--to", END.isoformat(), "--rule", "veteran", "--rule", "困难户",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    campaign = int(re.search(r"campaign (\d+)", added.output).group(1))  # type: ignore[union-attr]
    stored = _one(db, "SELECT rules FROM visit_campaign WHERE id = :c", c=campaign)
    assert stored == ["veteran", "needy"]
    targets = _one(
        db,
        "SELECT count(*) FROM resident_household WHERE community_code LIKE :s "
        "AND categories && ARRAY['veteran','needy']::text[]",
        s=street + "%",
    )
    assert _one(db, "SELECT count(*) FROM visit_target WHERE campaign_id = :c", c=campaign) == (
        targets
    )
    assert f"{targets} targets" in added.output

    listed = _run("campaigns", "list", "--area", street)
    assert listed.exit_code == 0 and "命令行大走访" in listed.output

    shown = _run("campaigns", "show", str(campaign))
    assert shown.exit_code == 0, shown.output
    cells = {
        str(code)
        for (code,) in _rows(
            db,
            "SELECT DISTINCT g.code FROM visit_target t JOIN grid_cell g ON g.id = t.cell_id "
            "WHERE t.campaign_id = :c",
            c=campaign,
        )
    }
    assert cells and all(code in shown.output for code in cells)
    cell = sorted(cells)[0]

    assigned = _run("campaigns", "assign", str(campaign), "--cell", cell, "--member", str(member))
    assert assigned.exit_code == 0, assigned.output
    in_cell = _one(
        db,
        "SELECT count(*) FROM visit_target t JOIN grid_cell g ON g.id = t.cell_id "
        "WHERE t.campaign_id = :c AND g.code = :g",
        c=campaign,
        g=cell,
    )
    mine = _one(
        db,
        "SELECT count(*) FROM visit_target WHERE campaign_id = :c AND visitor_member_id = :m",
        c=campaign,
        m=member,
    )
    assert mine == in_cell and f"assigned {in_cell} targets" in assigned.output
    back = _run("campaigns", "assign", str(campaign), "--cell", cell, "--unassign")
    assert back.exit_code == 0, back.output
    assert (
        _one(
            db,
            "SELECT count(*) FROM visit_target WHERE campaign_id = :c AND visitor_member_id = :m",
            c=campaign,
            m=member,
        )
        == 0
    )

    closed = _run("campaigns", "close", str(campaign), "--on", "2026-04-10")
    assert closed.exit_code == 0, closed.output
    assert _one(db, "SELECT ends_on FROM visit_campaign WHERE id = :c", c=campaign) == dt.date(
        2026, 4, 10
    )
    early = _run("campaigns", "close", str(campaign), "--on", "2026-02-01")
    assert early.exit_code == 1 and "2026-02-01" in early.output

    actions = dict(
        _rows(
            db,
            "SELECT action, count(*) FROM audit_log WHERE object_type = 'visit_campaign' "
            "AND object_id = :c AND actor = :a GROUP BY action",
            c=str(campaign),
            a=cli_actor(),
        )
    )
    assert actions == {"create": 1, "assign": 2, "close": 1}


def test_campaign_errors_name_the_value_and_fail(db: Engine) -> None:
    street = _street(db)
    wrong_rule = _run(
        "campaigns", "add", "x", "--area", street, "--from", "2026-03-01", "--to", "2026-03-31",
        "--rule", "dancers",
    )  # fmt: skip
    assert wrong_rule.exit_code == 1 and "dancers" in wrong_rule.output
    backwards = _run(
        "campaigns", "add", "x", "--area", street, "--from", "2026-03-31", "--to", "2026-03-01"
    )
    assert backwards.exit_code == 1 and "2026-03-01" in backwards.output
    bad_area = _run(
        "campaigns", "add", "x", "--area", "12", "--from", "2026-03-01", "--to", "2026-03-31"
    )
    assert bad_area.exit_code == 1 and "'12'" in bad_area.output
    missing = _run("campaigns", "show", "999999")
    assert missing.exit_code == 1 and "campaign 999999 does not exist" in missing.output
    nobody = _run("campaigns", "assign", "1", "--cell", "350304001001001")
    assert nobody.exit_code == 2 and "--member" in nobody.output
    stranger = _run("campaigns", "assign", "1", "--cell", "350304001001001", "--user", "nobody")
    assert stranger.exit_code == 1 and "'nobody'" in stranger.output
    assert _one(db, "SELECT count(*) FROM visit_campaign WHERE name = 'x'") == 0


def test_needs_add_list_claim_done(db: Engine) -> None:
    street = _street(db)
    community = str(_one(db, "SELECT min(code) FROM community WHERE code LIKE :s", s=street + "%"))
    unit = str(
        _one(db, "SELECT external_id FROM party_unit WHERE external_id IS NOT NULL ORDER BY id "
                 "LIMIT 1")
    )  # fmt: skip
    added = _run(
        "needs", "add", "楼道加装扶手", "--community", community, "--kind", "项目",
        "--description", "老旧小区三栋楼", "--due", "2026-06-30", "--id", "XQ-CLI-1",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    need = int(re.search(r"need (\d+)", added.output).group(1))  # type: ignore[union-attr]
    row = _rows(
        db, "SELECT kind, state, due_on, community_code, external_id FROM party_need "
        "WHERE id = :n", n=need,
    )[0]  # fmt: skip
    assert row == ("project", "open", dt.date(2026, 6, 30), community, "XQ-CLI-1")

    listed = _run("needs", "list", "--area", community, "--state", "open")
    assert listed.exit_code == 0 and "楼道加装扶手" in listed.output
    early = _run("needs", "done", str(need), "--note", "x")
    assert early.exit_code == 1 and "only a claimed need can be done" in early.output
    nothing = _run("needs", "claim", str(need), "没有这个单位")
    assert nothing.exit_code == 1 and "没有这个单位" in nothing.output

    claimed = _run("needs", "claim", str(need), unit)
    assert claimed.exit_code == 0, claimed.output
    assert _one(db, "SELECT state FROM party_need WHERE id = :n", n=need) == "claimed"
    again = _run("needs", "claim", str(need), unit)
    assert again.exit_code == 1 and "claimed already" in again.output
    done = _run("needs", "done", str(need), "--note", "已安装")
    assert done.exit_code == 0, done.output
    assert _one(db, "SELECT done_note FROM party_need WHERE id = :n", n=need) == "已安装"
    wrong = _run("needs", "list", "--state", "finished")
    assert wrong.exit_code == 1 and "'finished'" in wrong.output
    kind = _run("needs", "add", "x", "--community", community, "--kind", "wish")
    assert kind.exit_code == 1 and "'wish'" in kind.output

    steps = [
        r[0]
        for r in _rows(
            db, "SELECT action FROM audit_log WHERE object_type = 'need' AND object_id = :n "
            "AND actor = :a ORDER BY id", n=str(need), a=cli_actor(),
        )
    ]  # fmt: skip
    assert steps == ["create", "claim", "done"]
