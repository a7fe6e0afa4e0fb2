"""The in-memory lookups of :class:`gridgis.registers.places.Areas` (no database needed)."""

from __future__ import annotations

import pandas as pd
import pytest

from gridgis.registers.places import Areas


@pytest.fixture
def areas() -> Areas:
    communities = pd.DataFrame(
        {
            "code": ["310115001001", "310115001002"],
            "street_code": ["310115001", "310115001"],
            "name": ["东昌社区", "梅园村"],
            "wkb": [None, None],
        }
    )
    cells = pd.DataFrame(
        {
            "id": [11, 12, 13],
            "code": ["310115001001-01", "310115001001-02", "310115001002-01"],
            "community_code": ["310115001001", "310115001001", "310115001002"],
        }
    )
    return Areas(communities, cells)


def test_cell_ids_keep_the_order_given_and_list_the_unknown(areas: Areas) -> None:
    found, unknown = areas.cell_ids(["310115001002-01", "nope", "310115001001-01", "x"])
    assert found == [13, 11]
    assert unknown == ["nope", "x"]
    assert areas.cell_ids([]) == ([], [])


def test_cell_community_of_each_cell_and_an_error_naming_an_unknown_id(areas: Areas) -> None:
    assert [areas.cell_community(i) for i in (11, 12, 13)] == [
        "310115001001",
        "310115001001",
        "310115001002",
    ]
    with pytest.raises(KeyError, match="99"):
        areas.cell_community(99)


def test_community_code_by_code_full_name_or_short_name(areas: Areas) -> None:
    assert areas.community_code("310115001002") == "310115001002"
    assert areas.community_code("东昌社区") == "310115001001"
    assert areas.community_code("东昌") == "310115001001"
    assert areas.community_code("梅园") == "310115001002"
    assert areas.community_code("陆家嘴") is None
