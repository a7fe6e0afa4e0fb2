"""Reason codes of the register imports: each in English and Chinese, and every reason an
importer records has one (issue 16: the web import page tells them in the user's language)."""

from __future__ import annotations

import csv
import re
import string
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gridgis.registers import reasons
from gridgis.registers.branches import import_branches
from gridgis.registers.buildings import import_buildings
from gridgis.registers.facilities import import_facilities
from gridgis.registers.households import import_households
from gridgis.registers.reasons import REASONS, UNKNOWN, Reason, codes, parse, say
from gridgis.registers.workers import import_workers

_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_code_has_both_languages_with_the_same_values(code: str) -> None:
    wording = REASONS[code]
    assert wording.en.strip() and wording.zh.strip()
    assert _CHINESE.search(wording.zh), wording.zh
    assert _fields(wording.zh) == _fields(wording.en), code


@pytest.mark.parametrize("code", sorted(REASONS))
def test_every_english_sentence_is_read_back_as_its_code(code: str) -> None:
    values = {name: "'V1'" for name in _fields(REASONS[code].en)}
    values.update({"relation": "at least", "field": "floors", "what": "facility"})
    values = {k: v for k, v in values.items() if k in _fields(REASONS[code].en)}
    sentence = REASONS[code].en.format(**values)
    assert [(r.code, dict(r.values)) for r in parse(sentence)] == [(code, values)]
    assert codes(sentence + "; name missing") == f"{code};missing"
    chinese = say(sentence, "zh")
    assert chinese is not None and _CHINESE.search(chinese)


def test_reasons_are_said_in_chinese_naming_the_bad_value() -> None:
    joined = "x 'abc' is not a number; y '1e999x' is not a number"
    assert say(joined, "zh") == "经度（x） 'abc' 不是数字；纬度（y） '1e999x' 不是数字"
    nested = "address '幸福路9号' not matched: no road or place found"
    assert say(nested, "zh") == "地址 '幸福路9号' 未能匹配：没有找到道路或地点"
    assert say("id 'B2' is used by rows 3, 4 of the file", "zh") == "编号 'B2' 重复，见第 3, 4 行"
    assert say(nested, "en") == nested and say(None, "zh") is None
    assert Reason("missing", {"field": "address"}).text("zh") == "缺少地址"
    assert codes("something no importer says") == UNKNOWN
    with pytest.raises(ValueError, match="`language` was 'fr'"):
        say(nested, "fr")


def _csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def _unknown(report: Any) -> list[tuple[str, str]]:
    frame = report.rows[report.rows["reason"].notna()]
    assert frame["reason_code"].notna().all()
    return [
        (r.reason, r.reason_code)
        for r in frame.itertuples()
        if UNKNOWN in str(r.reason_code).split(";")
    ]


def test_every_reason_the_importers_record_has_a_code(demo_engine: Engine, tmp_path: Path) -> None:
    with demo_engine.connect() as conn:
        cell, community, lon, lat = conn.execute(
            text(
                "SELECT g.code, g.community_code, ST_X(ST_PointOnSurface(g.geom)), "
                "ST_Y(ST_PointOnSurface(g.geom)) FROM grid_cell g WHERE g.valid_to IS NULL "
                "ORDER BY g.code LIMIT 1"
            )
        ).one()
    found: dict[str, list[tuple[str, str]]] = {}
    buildings = _csv(
        tmp_path / "楼栋.csv",
        ["编号", "户数", "层数", "高度", "经度", "纬度"],
        [
            ["R1", "-3", "x", "0", lon, lat],
            ["R1", "2.5", "3", "10", lon, lat],
            [None, "10", "3", "10", "abc", lat],
            ["R3", "10", "3", "10", 200, 100],
            ["R4", "10", "3", "10", 130.0, 50.0],
            ["R5", "10", "3", "10", lat, lon],
            ["R6", "10", "3", "10", None, None],
        ],
    )
    report = import_buildings(demo_engine, buildings, actor="test", dry_run=True)
    assert report.counts["rejected"] >= 5, report.rows
    found["buildings"] = _unknown(report)
    households = _csv(
        tmp_path / "户籍.csv",
        ["地址", "户数"],
        [[None, "2"], ["幸福路9号", "x"], ["没有这条路999号", "1"], ["", "-1"]],
    )
    report = import_households(demo_engine, households, actor="test", dry_run=True)
    assert report.counts["rejected"] == 4, report.rows
    found["households"] = _unknown(report)
    workers = _csv(
        tmp_path / "网格员.csv",
        ["编号", "姓名", "电话", "身份证号", "角色", "网格", "楼栋", "单元", "社区"],
        [
            ["W1", None, "call me", "123", "队长", "NOPE", "无此楼", "二", "火星社区"],
            ["W1", "王芳", "13800000000", None, None, None, None, None, None],
            ["W3", "李强", None, None, None, cell, None, "2", None],
        ],
    )
    report = import_workers(demo_engine, workers, actor="test", dry_run=True)
    assert report.counts["rejected"] == 3, report.rows
    found["workers"] = _unknown(report)
    branches = _csv(
        tmp_path / "党组织.csv",
        ["编号", "名称", "类型", "上级", "党员数", "经度", "纬度", "网格"],
        [
            ["P1", "甲支部", "支部X", "无此组织", "-2", lon, lat, "NOPE"],
            ["P2", "乙支部", "党支部", "P3", "3", lon, lat, cell],
            ["P3", "丙支部", "党支部", "P2", "3", lon, lat, cell],
            ["P4", "丁支部", "党支部", "P4", "3", lon, lat, cell],
            ["P5", None, "党支部", None, "3", lat, lon, cell],
        ],
    )
    report = import_branches(demo_engine, branches, actor="test", dry_run=True)
    assert report.counts["rejected"] >= 4, report.rows
    found["branches"] = _unknown(report)
    facilities = _csv(
        tmp_path / "设施.csv",
        ["编号", "名称", "类型", "经度", "纬度", "社区"],
        [
            ["F1", None, None, lon, lat, "火星社区"],
            ["F2", "卫生站", "卫生服务站", None, None, None],
            ["F3", "卫生站", "卫生服务站", lat, lon, community],
            ["F4", "卫生站", "卫生服务站", 121.0, 60.0, None],
        ],
    )
    report = import_facilities(demo_engine, facilities, actor="test", dry_run=True)
    assert report.counts["rejected"] >= 2, report.rows
    found["facilities"] = _unknown(report)
    assert found == {k: [] for k in found}
    assert reasons.LANGUAGES == ("en", "zh")
