"""Publishing cell layouts: versions, history, diffs, all-or-nothing, concurrent publishes."""

from __future__ import annotations

import threading

import geopandas as gpd
import pytest
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from gridgis.db.layout import (
    LayoutChangedError,
    cell_households,
    communities_in,
    layout_history,
    publish_cells,
    publish_many,
    read_inputs,
)
from gridgis.errors import InputError, NotFoundError
from gridgis.partition.reconcile import next_free_number, reconcile_codes

COMMUNITY = "350304001001"
OTHER = "350304001002"
WEST, EAST = box(119.000, 25.40, 119.005, 25.41), box(119.005, 25.40, 119.010, 25.41)


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district VALUES ('350304', '荔城区', NULL)"))
        conn.execute(text("INSERT INTO street VALUES ('350304001', '350304', '镇海街道', NULL)"))
        for code, name, outline in (
            (COMMUNITY, "东梅社区", box(119.0, 25.40, 119.01, 25.41)),
            (OTHER, "英龙社区", box(119.01, 25.40, 119.02, 25.41)),
        ):
            conn.execute(
                text(
                    "INSERT INTO community (code, street_code, name, geom) VALUES "
                    "(:c, '350304001', :n, ST_Multi(ST_GeomFromText(:g, 4326)))"
                ),
                {"c": code, "n": name, "g": outline.wkt},
            )
        # Four buildings of 100 households: two in each half of the first community,
        # one exactly on the line between the halves.
        for i, (x, households) in enumerate(
            [(119.001, 100), (119.004, 100), (119.005, 150), (119.008, 100)]
        ):
            conn.execute(
                text(
                    "INSERT INTO building (community_code, location, households, residents) "
                    "VALUES (:c, ST_SetSRID(ST_MakePoint(:x, 25.405), 4326), :h, :r)"
                ),
                {"c": COMMUNITY, "x": x, "h": households, "r": households * 3, "i": i},
            )


def _cells(*rows: tuple[str, Polygon]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs="EPSG:4326"
    )


def _publish(engine: Engine, cells: gpd.GeoDataFrame, expected: int | None):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return publish_cells(
            conn, COMMUNITY, cells, method="draw", expected_version=expected, actor="test"
        )


def test_first_draw_then_redraw_keeps_unchanged_cells(engine: Engine) -> None:
    _seed(engine)
    first = _publish(engine, _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}002", EAST)), 0)
    assert first.version == 1 and first.added == [f"{COMMUNITY}001", f"{COMMUNITY}002"]
    inputs = read_inputs(engine, COMMUNITY)
    counts = dict(zip(inputs.cells["code"], inputs.cells["households"], strict=True))
    # The building on the shared edge counts once, in the cell with the smaller code.
    assert counts == {f"{COMMUNITY}001": 350, f"{COMMUNITY}002": 100}
    assert inputs.version == 1 and inputs.bounds == (300, 500)
    # Counted now from the buildings (same rule), while the stored counts wait for a publish.
    with engine.begin() as conn:
        conn.execute(text("UPDATE building SET households = households + 1"))
    assert cell_households(engine, COMMUNITY) == {f"{COMMUNITY}001": 353, f"{COMMUNITY}002": 101}
    assert cell_households(engine, OTHER) == {}
    with engine.begin() as conn:
        conn.execute(text("UPDATE building SET households = households - 1"))

    east_a, east_b = box(119.005, 25.40, 119.0075, 25.41), box(119.0075, 25.40, 119.01, 25.41)
    second = _publish(
        engine,
        _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}003", east_a), (f"{COMMUNITY}004", east_b)),
        1,
    )
    assert second.version == 2
    assert second.unchanged == [f"{COMMUNITY}001"]
    assert second.retired == [f"{COMMUNITY}002"]
    assert second.added == [f"{COMMUNITY}003", f"{COMMUNITY}004"]
    assert second.households_moved == 100 and second.households_total == 450
    history = layout_history(engine, COMMUNITY)
    assert [(h["version"], h["added"], h["closed"]) for h in history] == [(1, 2, 0), (2, 2, 1)]
    with engine.connect() as conn:
        old = conn.execute(
            text("SELECT status, valid_to IS NOT NULL FROM grid_cell WHERE code = :c"),
            {"c": f"{COMMUNITY}002"},
        ).one()
    assert tuple(old) == ("retired", True)
    same = _publish(
        engine,
        _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}003", east_a), (f"{COMMUNITY}004", east_b)),
        2,
    )
    assert same.version is None and "no change" in same.line()


def test_stale_publish_is_refused_and_changes_nothing(engine: Engine) -> None:
    _seed(engine)
    computed_at = read_inputs(engine, COMMUNITY).version
    _publish(engine, _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}002", EAST)), computed_at)
    with pytest.raises(
        LayoutChangedError, match=r"changed under this run.*version 0.*now version 1"
    ):
        _publish(engine, _cells((f"{COMMUNITY}003", box(119.0, 25.40, 119.01, 25.41))), computed_at)
    assert read_inputs(engine, COMMUNITY).cells["code"].tolist() == [
        f"{COMMUNITY}001",
        f"{COMMUNITY}002",
    ]


def test_two_publishes_at_once_one_wins(engine: Engine) -> None:
    _seed(engine)
    outcome: dict[str, object] = {}
    first = engine.connect()
    tx = first.begin()
    publish_cells(first, COMMUNITY, _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}002", EAST)),
                  method="draw", expected_version=0, actor="test")  # fmt: skip

    def second() -> None:
        try:
            _publish(engine, _cells((f"{COMMUNITY}001", box(119.0, 25.4, 119.01, 25.41))), 0)
            outcome["second"] = "published"
        except LayoutChangedError as exc:
            outcome["second"] = str(exc)

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the second publish must wait for the first one's lock"
    tx.commit()
    first.close()
    thread.join(timeout=30)
    assert "changed under this run" in str(outcome["second"])
    assert read_inputs(engine, COMMUNITY).version == 1


def test_failed_publish_of_several_communities_leaves_all_as_they_were(engine: Engine) -> None:
    _seed(engine)
    good = _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}002", EAST))
    bowtie = Polygon([(119.01, 25.40), (119.02, 25.41), (119.02, 25.40), (119.01, 25.41)])
    bad = _cells((f"{OTHER}001", bowtie))
    with pytest.raises(DBAPIError, match="ck_grid_cell_geom_valid"):
        publish_many(engine, [(COMMUNITY, good, 0), (OTHER, bad, 0)], method="draw", actor="test")
    assert read_inputs(engine, COMMUNITY).version == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM grid_cell")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM layout_version")).scalar() == 0
    diffs = publish_many(engine, [(COMMUNITY, good, 0)], method="draw", dry_run=True, actor="test")
    assert diffs[0].version == 1
    assert read_inputs(engine, COMMUNITY).version == 0


def test_inputs_and_lookups(engine: Engine) -> None:
    _seed(engine)
    assert communities_in(engine, "350304001") == [COMMUNITY, OTHER]
    with pytest.raises(NotFoundError, match="'999'"):
        communities_in(engine, "999")
    inputs = read_inputs(engine, COMMUNITY)
    assert len(inputs.buildings) == 4 and inputs.buildings["households"].sum() == 450
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name) "
                "VALUES ('350304001003', '350304001', '无边界社区')"
            )
        )
    with pytest.raises(InputError, match="no boundary yet"):
        read_inputs(engine, "350304001003")


def test_reconcile_codes_keeps_unchanged_and_never_reuses() -> None:
    old = _cells((f"{COMMUNITY}001", WEST), (f"{COMMUNITY}002", EAST))
    new = _cells(
        ("a", WEST),
        ("b", box(119.005, 25.40, 119.0075, 25.41)),
        ("c", box(119.0075, 25.40, 119.01, 25.41)),
    )
    codes = reconcile_codes(new, old, prefix=COMMUNITY, used_codes=[f"{COMMUNITY}005"])
    # East split in two halves: each holds half its area (the rule's bar, ≥ 50 % of both),
    # the tie goes to the first; the other half is new and gets the next number ever unused.
    assert codes.tolist() == [f"{COMMUNITY}001", f"{COMMUNITY}002", f"{COMMUNITY}006"]
    thirds = _cells(
        ("a", WEST),
        ("b", box(119.005, 25.40, 119.0067, 25.41)),
        ("c", box(119.0067, 25.40, 119.0084, 25.41)),
        ("d", box(119.0084, 25.40, 119.01, 25.41)),
    )
    codes = reconcile_codes(thirds, old, prefix=COMMUNITY, used_codes=[f"{COMMUNITY}005"])
    assert codes.tolist() == [f"{COMMUNITY}001", *(f"{COMMUNITY}00{n}" for n in (6, 7, 8))]
    assert next_free_number(COMMUNITY, []) == 1
