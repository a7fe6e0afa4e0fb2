"""Importing rosters (issue 16, points 4-6, 10): grid workers, party organisations and
service facilities, on a copy of the small demo district."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from gridgis.access import Policy
from gridgis.audit import read_audit
from gridgis.errors import InputError
from gridgis.registers.people import mask_people
from gridgis.registers.workers import import_workers


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def places(demo_engine: Engine) -> dict[str, Any]:
    """Two active cells, a building with an id and an address, a community of this copy."""
    with demo_engine.connect() as conn:
        cells = conn.execute(
            text("SELECT code, community_code FROM grid_cell WHERE valid_to IS NULL ORDER BY code")
        ).all()
        building = conn.execute(
            text(
                "SELECT id, external_id, address, ST_X(location) AS lon, ST_Y(location) AS lat "
                "FROM building WHERE external_id IS NOT NULL AND address IS NOT NULL "
                "ORDER BY id LIMIT 1"
            )
        ).one()
        community = conn.execute(
            text("SELECT code, name FROM community WHERE code = :c"), {"c": cells[0][1]}
        ).one()
    return {
        "cells": [c[0] for c in cells[:2]],
        "building": building,
        "community": community,
    }


def _count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


WORKER_HEADER = ["社区", "单元", "楼栋", "网格", "角色", "身份证号", " 电 话 ", "姓名", "编号"]
"""Chinese headers, in an order of their own, one with stray spaces."""


def _worker_rows(places: dict[str, Any]) -> list[list[Any]]:
    cell_a, cell_b = places["cells"]
    building = places["building"]
    return [
        [None, None, None, cell_a, "专职网格员", "350304199001011234", "13812345678", "王芳", "W1"],
        [None, None, building.external_id, cell_b, "网格长、楼栋长", None, None, "李强", "W2"],
        [None, None, None, "350304999999001", "网格员", None, None, "赵六", "W3"],
        [None, None, None, cell_a, "兼职网格员", None, None, "孙七", "W5"],
        [None, None, None, cell_b, "兼职网格员", None, None, "周八", "W5"],
        [None, None, None, cell_a, "保洁员", None, None, "吴九", "W6"],
        [None, "2", building.address, None, "单元长", None, "0594-2345678", "郑十", "W7"],
        [places["community"].name, None, None, None, "网格指导员", None, None, "钱二", "W8"],
        [None, None, None, None, "兼职网格员", None, None, "冯三", "W9"],
    ]


def test_import_workers_reports_every_row_and_is_idempotent(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "网格员.csv", WORKER_HEADER, _worker_rows(places))
    before = _count(demo_engine, "SELECT count(*) FROM grid_worker")
    report = import_workers(demo_engine, path, actor="test")
    assert report.counts == {
        "read": 9, "imported": 4, "updated": 0, "unchanged": 0, "flagged": 1, "rejected": 4,
    }  # fmt: skip
    rows = report.rows.set_index("row")
    assert "unknown cell code '350304999999001'" in rows.loc[4, "reason"]
    assert "id 'W5' is used by rows 5, 6 of the file" in rows.loc[5, "reason"]
    assert "unknown role '保洁员'" in rows.loc[7, "reason"]
    assert rows.loc[10, "flags"] == "serves_nothing"
    assert _count(demo_engine, "SELECT count(*) FROM grid_worker") == before + 5
    with demo_engine.connect() as conn:
        w2 = conn.execute(
            text(
                "SELECT w.employment, array_agg(DISTINCT r.role ORDER BY r.role) AS roles, "
                "count(DISTINCT b.building_id) AS buildings FROM grid_worker w "
                "JOIN worker_role r ON r.worker_id = w.id "
                "LEFT JOIN worker_building b ON b.worker_id = w.id "
                "WHERE w.external_id = 'W2' GROUP BY w.employment"
            )
        ).one()
        assert w2.roles == ["building_leader", "grid_leader"]
        assert w2.buildings == 1
        unit = conn.execute(
            text(
                "SELECT u.building_id, u.unit_number FROM worker_unit u "
                "JOIN grid_worker w ON w.id = u.worker_id WHERE w.external_id = 'W7'"
            )
        ).one()
        assert tuple(unit) == (places["building"].id, 2)
        w1 = conn.execute(
            text("SELECT id_number, street_code FROM grid_worker WHERE external_id = 'W1'")
        ).one()
        assert w1.id_number == "350304199001011234"  # stored whole
        assert w1.street_code == places["cells"][0][:9]
        assert (
            _count(
                demo_engine,
                "SELECT count(*) FROM worker_community c JOIN grid_worker w ON w.id = c.worker_id "
                "WHERE w.external_id = 'W8' AND c.community_code = :c",
                c=places["community"].code,
            )
            == 1
        )
        part_time = conn.execute(
            text("SELECT employment FROM grid_worker WHERE external_id = 'W9'")
        ).scalar_one()
        assert part_time == "part_time"

    again = import_workers(demo_engine, path, actor="test")
    assert again.counts == {
        "read": 9, "imported": 0, "updated": 0, "unchanged": 5, "flagged": 0, "rejected": 4,
    }  # fmt: skip
    assert _count(demo_engine, "SELECT count(*) FROM grid_worker") == before + 5

    changed = _worker_rows(places)
    changed[0][6] = "13912349999"
    _write_csv(path, WORKER_HEADER, changed)
    third = import_workers(demo_engine, path, actor="test")
    assert third.counts["updated"] == 1
    assert third.rows.set_index("row").loc[2, "changes"] == "phone *******5678 → *******9999"
    trail = read_audit(demo_engine, object_type="worker", object_id="W1")
    assert trail["summary"].iloc[0] == {
        "before": {"phone": "*******5678"},
        "after": {"phone": "*******9999"},
    }
    imports = _count(
        demo_engine,
        "SELECT count(*) FROM audit_log WHERE action = 'import' AND object_type = 'worker' "
        "AND summary -> 'after' ->> 'file' = '网格员.csv'",
    )
    assert imports == 3


def test_import_workers_dry_run_changes_nothing(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    path = _write_csv(tmp_path / "workers.csv", WORKER_HEADER, _worker_rows(places))
    before = _count(demo_engine, "SELECT count(*) FROM grid_worker")
    audits = _count(demo_engine, "SELECT count(*) FROM audit_log")
    report = import_workers(demo_engine, path, dry_run=True, actor="test")
    assert report.counts["imported"] == 4 and not report.committed
    assert _count(demo_engine, "SELECT count(*) FROM grid_worker") == before
    assert _count(demo_engine, "SELECT count(*) FROM audit_log") == audits


def test_import_workers_english_headers_and_named_columns(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    path = _write_csv(
        tmp_path / "roster.csv",
        ["Cell", "NAME", "工号"],
        [[places["cells"][0], "Wang Fang", "E1"]],
    )
    with pytest.raises(InputError, match="no column for id"):
        import_workers(demo_engine, path, actor="test")
    with pytest.raises(InputError, match=r"`--id-field` was '编号' but roster.csv has no such"):
        import_workers(demo_engine, path, id_field="编号", actor="test")
    report = import_workers(demo_engine, path, id_field="工号", actor="test")
    assert report.counts["imported"] == 1


def test_people_are_masked_outside_the_area() -> None:
    rows = pd.DataFrame(
        {
            "name": ["王芳", "李强"],
            "phone": ["13812345678", "0594-2345678"],
            "id_number": ["350304199001011234", None],
            "street_code": ["350304001", "350304002"],
        }
    )
    office = mask_people(rows, Policy(name="zh", role="street", street="350304001"))
    assert office["name"].tolist() == ["王芳", "李*"]
    assert office["phone"].tolist() == ["13812345678", "********5678"]
    assert office["id_number"].tolist() == ["**************1234", None]
    analyst = mask_people(rows, Policy(name="li", role="analyst"))
    assert analyst["phone"].tolist() == rows["phone"].tolist()
    assert analyst["id_number"].iat[0] == "**************1234"
    admin = mask_people(rows, Policy(name="root", role="admin"))
    assert admin.equals(rows)
    assert rows["name"].iat[1] == "李强"  # the input is left alone


# --- party organisations ---------------------------------------------------------------------

BRANCH_HEADER = ["编号", "名称", "类型", "上级组织", "经度", "纬度", "地址", "书记", "书记电话",
                 "党员数", "网格"]  # fmt: skip


def _branch_rows(places: dict[str, Any]) -> list[list[Any]]:
    cell_a, cell_b = places["cells"]
    b = places["building"]
    return [
        # A branch whose parent (the committee) comes later in the file.
        ["P2", "第一网格党支部", "党支部", "P1", b.lon, b.lat, None, "王芳", "13812345678", 25,
         cell_a],
        ["P1", "东梅社区党委", "党委", None, None, None, b.address, None, None, 120, None],
        # Lat and lon swapped: read the other way round, flagged.
        ["P3", "第二网格党支部", "党支部", "东梅社区党委", b.lat, b.lon, None, None, None, 18,
         cell_b],
        # No location: placed inside its cell, flagged.
        ["P4", "第一党小组", "党小组", "P2", None, None, None, None, None, 6, cell_a],
        ["P5", "幽灵支部", "党支部", "P99", b.lon, b.lat, None, None, None, 5, None],
        ["P6", "孙支部", "党小组", "P5", b.lon, b.lat, None, None, None, 5, None],
        ["P7", "坏支部", "团支部", None, b.lon, b.lat, None, None, None, -3, "350304999999001"],
    ]  # fmt: skip


def test_import_branches_resolves_parents_in_the_file_first(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    from gridgis.registers.branches import import_branches

    path = _write_csv(tmp_path / "党组织.csv", BRANCH_HEADER, _branch_rows(places))
    report = import_branches(demo_engine, path, actor="test")
    assert report.counts == {
        "read": 7, "imported": 2, "updated": 0, "unchanged": 0, "flagged": 2, "rejected": 3,
    }  # fmt: skip
    rows = report.rows.set_index("row")
    assert rows.loc[4, "flags"] == "swapped"
    assert rows.loc[5, "flags"] == "at_cell"
    assert "parent 'P99' does not exist" in rows.loc[6, "reason"]
    assert "parent 'P5' (row 6) is rejected" in rows.loc[7, "reason"]
    assert "unknown kind '团支部'" in rows.loc[8, "reason"]
    assert "member count '-3'" in rows.loc[8, "reason"]
    assert "unknown cell code '350304999999001'" in rows.loc[8, "reason"]
    with demo_engine.connect() as conn:
        tree = dict(
            conn.execute(
                text(
                    "SELECT c.external_id, p.external_id FROM party_branch c "
                    "JOIN party_branch p ON p.id = c.parent_id WHERE c.external_id LIKE 'P_'"
                )
            ).all()
        )
        assert tree == {"P2": "P1", "P3": "P1", "P4": "P2"}
        kinds = dict(
            conn.execute(
                text("SELECT external_id, kind FROM party_branch WHERE external_id LIKE 'P_'")
            ).all()
        )
        assert kinds == {"P1": "committee", "P2": "branch", "P3": "branch", "P4": "group"}
        served = conn.execute(
            text(
                "SELECT g.code FROM branch_cell bc JOIN party_branch p ON p.id = bc.branch_id "
                "JOIN grid_cell g ON g.id = bc.cell_id WHERE p.external_id = 'P4'"
            )
        ).scalar_one()
        assert served == places["cells"][0]
    again = import_branches(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 4 and again.counts["imported"] == 0


# --- facilities ------------------------------------------------------------------------------


def test_import_facilities_kinds_old_and_new(
    demo_engine: Engine, places: dict[str, Any], tmp_path: Path
) -> None:
    from gridgis.registers.facilities import import_facilities

    b = places["building"]
    path = _write_csv(
        tmp_path / "facilities.csv",
        ["kind", "name", "id", "lon", "lat", "address"],
        [
            ["党群服务中心", "镇海街道党群服务中心", "F1", b.lon, b.lat, None],
            ["社区卫生服务站", "东梅卫生站", "F2", None, None, b.address],
            ["文化活动室", "东梅文化室", "F3", b.lon, b.lat, None],
            ["警务室", "远方警务室", "F4", 121.5, 31.2, None],
            [None, "无类型", "F5", b.lon, b.lat, None],
            ["学校", "无处小学", "F6", "abc", None, None],
        ],
    )
    report = import_facilities(demo_engine, path, actor="test")
    assert report.counts == {
        "read": 6, "imported": 3, "updated": 0, "unchanged": 0, "flagged": 1, "rejected": 2,
    }  # fmt: skip
    rows = report.rows.set_index("row")
    assert rows.loc[5, "flags"] == "outside"
    assert "kind missing" in rows.loc[6, "reason"]
    assert "coordinates ('abc', None) are not numbers" in rows.loc[7, "reason"]
    with demo_engine.connect() as conn:
        stored = {
            r.external_id: (r.kind, r.kind_name, r.community_code)
            for r in conn.execute(
                text(
                    "SELECT external_id, kind, kind_name, community_code FROM service_facility "
                    "WHERE external_id LIKE 'F_'"
                )
            )
        }
    community = places["building"].external_id and stored["F1"][2]
    assert stored["F1"][:2] == ("centre", "党群服务中心") and community is not None
    assert stored["F2"][0] == "health" and stored["F2"][2] == community
    assert stored["F3"][:2] == ("other", "文化活动室")
    assert stored["F4"][2] is None
    again = import_facilities(demo_engine, path, actor="test")
    assert again.counts["unchanged"] == 4
