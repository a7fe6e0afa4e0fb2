"""Which column holds which field of a register: Chinese or English headers, any order."""

from __future__ import annotations

import pytest

from gridgis.errors import InputError
from gridgis.registers.columns import ALIASES, field_option, match_columns, normalise_header

BUILDING_FIELDS = ("id", "name", "address", "households", "residents", "floors", "height")


def test_chinese_headers_in_any_order() -> None:
    found = match_columns(["层数", "户数", "地址", "编号", "名称", "人口", "高度"], BUILDING_FIELDS)
    assert dict(found) == {
        "id": "编号",
        "name": "名称",
        "address": "地址",
        "households": "户数",
        "residents": "人口",
        "floors": "层数",
        "height": "高度",
    }


def test_english_headers_ignore_case_and_white_space() -> None:
    found = match_columns([" ID", "Households ", "ADDRESS", "Building Levels"], BUILDING_FIELDS)
    assert found["id"] == " ID"
    assert found["households"] == "Households "
    assert found["address"] == "ADDRESS"
    assert found["floors"] is None  # "building:levels" is an alias, "Building Levels" is not
    assert found["name"] is None
    assert found.unused == ["Building Levels"]


def test_full_width_and_inner_spaces() -> None:
    assert normalise_header("户\u3000数") == "户数"
    assert match_columns(["姓 名", "电 话"], ("name", "phone")).fields == {
        "name": "姓 名",
        "phone": "电 话",
    }


def test_the_first_alias_wins_when_two_columns_match() -> None:
    found = match_columns(["编号", "id"], ("id",))
    assert found["id"] == "id"


def test_an_explicit_field_overrides_the_aliases() -> None:
    found = match_columns(["户数", "实际户数"], ("households",), given={"households": "实际户数"})
    assert found["households"] == "实际户数"


def test_a_column_given_for_one_field_is_not_guessed_for_another() -> None:
    found = match_columns(["名称", "地址"], ("name", "address"), given={"address": "名称"})
    assert found["address"] == "名称"
    assert found["name"] is None


def test_an_unknown_explicit_field_names_the_columns_found() -> None:
    with pytest.raises(
        InputError,
        match=r"`--households-field` was '住户' but 楼栋\.csv has no such column; "
        r"its columns are: '编号', '户数'",
    ):
        match_columns(
            ["编号", "户数"], BUILDING_FIELDS, given={"households": "住户"}, source="楼栋.csv"
        )


def test_a_required_field_missing_says_what_was_looked_for() -> None:
    with pytest.raises(
        InputError, match=r"no column for address \(looked for address, 地址.*--address-field"
    ):
        match_columns(["编号"], ("id", "address"), required=("address",), source="h.csv")


def test_a_field_the_import_does_not_read_is_refused() -> None:
    with pytest.raises(InputError, match=r"fields \['phone'\] cannot be named"):
        match_columns(["编号"], ("id",), given={"phone": "电话"})


def test_none_given_means_not_given() -> None:
    assert match_columns(["编号"], ("id",), given={"id": None})["id"] == "编号"


def test_aliases_are_unique_within_a_field_and_options_are_named() -> None:
    for field, names in ALIASES.items():
        keys = [normalise_header(n) for n in names]
        assert len(keys) == len(set(keys)), field
    assert field_option("households") == "--households-field"
