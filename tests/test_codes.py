"""The area-code rule (gridgis.codes) and the modules that ask it."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely import box

from gridgis.boundaries import prepare_boundaries
from gridgis.codes import check_code, is_code, level_of, parent_code
from gridgis.errors import InputError

FULL_WIDTH = "３５０３０４"
"""A district code in full-width digits, as Chinese spreadsheets often hold it."""


@pytest.mark.parametrize(
    ("value", "level", "expected"),
    [
        ("350304", "district", True),
        ("350304001", "street", True),
        ("350304001007", "community", True),
        ("350304001007003", "cell", True),
        ("35030400", "street", False),
        (FULL_WIDTH, "district", False),
        ("٣٥٠٣٠٤", "district", False),  # Arabic-Indic digits: str.isdigit says yes
        ("350304\n", "district", False),
        (350304, "district", False),
        (None, "street", False),
    ],
)
def test_is_code(value: object, level: str, expected: bool) -> None:
    assert is_code(value, level) is expected


def test_check_code_and_level_names_the_value() -> None:
    assert check_code("350304001", "street") == "350304001"
    with pytest.raises(
        InputError, match=r"`street` was '35030400' but is expected to be a 9-digit"
    ):
        check_code("35030400", "street")
    with pytest.raises(InputError, match=r"`area` was None but is expected to be a 12-digit"):
        check_code(None, "community", name="area")
    with pytest.raises(InputError, match=r"`level` was 'county'"):
        is_code("350304", "county")


def test_level_of_and_parent_code() -> None:
    assert [level_of(c) for c in ("350304", "350304001", "350304001007", "350304001007003")] == [
        "district",
        "street",
        "community",
        "cell",
    ]
    with pytest.raises(InputError, match=r"`code` was '３５０３０４' but is expected"):
        level_of(FULL_WIDTH)
    assert parent_code("350304001007003", "district") == "350304"


def test_boundaries_refuse_full_width_codes() -> None:
    # Drift: boundaries checked codes with str.isdigit, which takes full-width digits; such a
    # row passed the check and only the database's constraint refused it, for the whole file.
    frame = gpd.GeoDataFrame(
        {"code": ["350304", FULL_WIDTH[:-1] + "５"], "name": ["荔城区", "城厢区"]},
        geometry=[box(119.0, 25.4, 119.1, 25.5), box(119.1, 25.4, 119.2, 25.5)],
        crs="EPSG:4326",
    )
    prepared = prepare_boundaries(frame, level="district")
    assert prepared.frame["code"].tolist() == ["350304"]
    assert [p.row for p in prepared.rejected] == [2]
    assert "is not 6 digits" in prepared.rejected[0].reason
