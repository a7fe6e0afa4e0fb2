"""`gridgis import buildings`: footprints and points from a district's own files (issue 16)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Polygon, box
from sqlalchemy import Engine, text

from gridgis.boundaries import prepare_boundaries
from gridgis.db.load import import_boundaries
from gridgis.registers.buildings import estimate_households, import_buildings

# Two communities side by side near Lujiazui, 1 km x 1 km each (WGS84).
WEST = box(121.50, 31.23, 121.51, 31.24)
EAST = box(121.51, 31.23, 121.52, 31.24)


def store_areas(
    engine: Engine, communities: list[Polygon], *, district: str = "310115"
) -> list[str]:
    """District, one street and ``communities`` (codes ...001001, ...001002...) stored."""
    outline = shapely.union_all(communities)
    street = f"{district}001"
    codes = [f"{street}{i:03d}" for i in range(1, len(communities) + 1)]
    for level, rows in (
        ("district", [{"code": district, "name": "浦东新区", "geometry": outline}]),
        ("street", [{"code": street, "name": "陆家嘴街道", "geometry": outline}]),
        (
            "community",
            [
                {"code": c, "name": f"第{i}社区", "geometry": g}
                for i, (c, g) in enumerate(zip(codes, communities, strict=True), 1)
            ],
        ),
    ):
        frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
        prepared = prepare_boundaries(frame, level=level)
        import_boundaries(engine, prepared, level=level, actor="test")
    return codes


def _square(x: float, y: float, size: float = 0.0003) -> Polygon:
    return box(x, y, x + size, y + size)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326").to_file(path)
    return path


def _buildings(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT external_id, community_code, other_community_code, households, "
                "households_estimated, floors, flags, name, ST_AsText(location) AS location "
                "FROM building ORDER BY external_id"
            )
        )
        return pd.DataFrame(rows.fetchall(), columns=list(rows.keys())).set_index("external_id")


def test_footprints_are_placed_upserted_and_reported(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    path = _write(
        tmp_path / "楼栋.geojson",
        [
            {"编号": "B1", "户数": 120, "层数": 6, "geometry": _square(121.502, 31.232)},
            {"编号": "B2", "户数": None, "层数": 18, "geometry": _square(121.512, 31.232)},
            # Straddles the boundary at 121.51: 2/3 in the west, 1/3 in the east.
            {
                "编号": "B3",
                "户数": 40,
                "层数": 3,
                "geometry": box(121.5098, 31.235, 121.5101, 31.2353),
            },
        ],
    )
    report = import_buildings(engine, path, actor="test")
    assert report.counts == {
        "read": 3,
        "imported": 2,
        "updated": 0,
        "unchanged": 0,
        "flagged": 1,
        "rejected": 0,
    }
    stored = _buildings(engine)
    assert stored.loc["B1", "community_code"] == "310115001001"
    assert stored.loc["B2", "community_code"] == "310115001002"
    assert stored.loc["B3", "community_code"] == "310115001001"
    assert stored.loc["B3", "other_community_code"] == "310115001002"
    assert stored.loc["B3", "flags"] == ["straddles"]
    # The point of a straddling building lies in the part of its own community.
    assert shapely.from_wkt(stored.loc["B3", "location"]).x < 121.51
    again = import_buildings(engine, path, actor="test")
    assert again.counts["unchanged"] == 3
    assert again.rows.set_index("id").loc["B3", "flags"] == "straddles"


def _bowtie(x: float, y: float) -> Polygon:
    d = 0.0003
    return Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])


def test_bad_rows_are_reported_and_the_rest_loads(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    path = tmp_path / "bad.csv"
    path.write_text(
        "编号,经度,纬度,户数\n"
        "P1,121.505,31.235,100\n"  # row 2: fine
        "P2,121.600,31.235,100\n"  # row 3: outside every community
        "P3,121.506,31.235,-3\n"  # row 4: negative
        "P4,121.507,31.235,很多\n"  # row 5: not a number
        "P5,121.508,31.235,10\n"  # row 6: id repeated by row 7
        "P5,121.509,31.235,11\n"  # row 7
        "P6,31.236,121.515,50\n",  # row 8: lat, lon swapped
        encoding="utf-8",
    )
    report = import_buildings(engine, path, actor="test")
    rows = report.rows.set_index("row")
    assert report.counts == {
        "read": 7, "imported": 1, "updated": 0, "unchanged": 0, "flagged": 1, "rejected": 5,
    }  # fmt: skip
    assert "outside every community" in rows.loc[3, "reason"]
    assert rows.loc[4, "reason"] == "households '-3' is negative"
    assert rows.loc[5, "reason"] == "households '很多' is not a number"
    assert (
        rows.loc[6, "reason"] == rows.loc[7, "reason"] == "id 'P5' is used by rows 6, 7 of the file"
    )
    assert rows.loc[8, "outcome"] == "flagged" and rows.loc[8, "flags"] == "swapped"
    stored = _buildings(engine)
    assert sorted(stored.index) == ["P1", "P6"]
    assert stored.loc["P6", "community_code"] == "310115001002"
    assert "  rejected row 4: households '-3' is negative" in report.lines()


def test_a_self_intersecting_footprint_is_repaired_and_flagged(
    engine: Engine, tmp_path: Path
) -> None:
    store_areas(engine, [WEST, EAST])
    path = _write(
        tmp_path / "b.geojson",
        [
            {"id": "K1", "geometry": _bowtie(121.503, 31.233)},
            {"id": "K2", "geometry": shapely.LineString([(121.503, 31.233), (121.504, 31.234)])},
        ],
    )
    report = import_buildings(engine, path, actor="test")
    rows = report.rows.set_index("id")
    assert rows.loc["K1", "outcome"] == "flagged"
    assert rows.loc["K1", "flags"] == "repaired"
    assert rows.loc["K2", "reason"] == "the geometry is a LineString, not a footprint or a point"
    assert report.numbering == "feature" and rows.loc["K2", "row"] == 2


def test_a_changed_file_updates_and_says_what_changed(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    first = [
        {"编号": "B1", "户数": 120, "名称": "1号楼", "geometry": _square(121.502, 31.232)},
        {"编号": "B2", "户数": 80, "名称": "2号楼", "geometry": _square(121.503, 31.232)},
    ]
    import_buildings(engine, _write(tmp_path / "v1.geojson", first), actor="test")
    second = [
        {"编号": "B1", "户数": 136, "名称": "1号楼", "geometry": _square(121.502, 31.232)},
        {"编号": "B2", "户数": 80, "名称": "2号楼", "geometry": _square(121.504, 31.232)},
        {"编号": "B3", "户数": 10, "名称": "3号楼", "geometry": _square(121.505, 31.232)},
    ]
    report = import_buildings(engine, _write(tmp_path / "v2.geojson", second), actor="test")
    rows = report.rows.set_index("id")
    assert report.counts["updated"] == 2 and report.counts["imported"] == 1
    assert rows.loc["B1", "changes"] == "households 120 → 136"
    assert rows.loc["B2", "changes"] == "footprint"
    assert _buildings(engine).loc["B1", "households"] == 136


def test_dry_run_and_failure_leave_the_database_unchanged(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    rows = [{"id": "B1", "geometry": _square(121.502, 31.232)}]
    path = _write(tmp_path / "b.geojson", rows)
    report = import_buildings(engine, path, dry_run=True, actor="test")
    assert report.counts["imported"] == 1 and not report.committed
    assert _buildings(engine).empty
    with engine.begin() as conn:  # the second insert of the COPY fails: a stored id clashes
        conn.execute(text("ALTER TABLE building ADD CONSTRAINT no_b2 CHECK (external_id <> 'B2')"))
    rows.append({"id": "B2", "geometry": _square(121.503, 31.232)})
    with pytest.raises(Exception, match="refused"):
        import_buildings(engine, _write(tmp_path / "c.geojson", rows), actor="test")
    assert _buildings(engine).empty
    with engine.connect() as conn:
        audit = conn.execute(text("SELECT count(*) FROM audit_log WHERE object_type = 'building'"))
        assert audit.scalar() == 0


def test_households_are_estimated_and_a_count_kept(engine: Engine, tmp_path: Path) -> None:
    store_areas(engine, [WEST, EAST])
    path = _write(
        tmp_path / "b.geojson",
        [
            {"id": "E1", "households": None, "floors": 6, "height": None,
             "geometry": _square(121.502, 31.232)},
            {"id": "E2", "households": None, "floors": None, "height": 30.0,
             "geometry": _square(121.503, 31.232)},
            {"id": "E3", "households": 50, "floors": None, "height": None,
             "geometry": _square(121.504, 31.232)},
        ],
    )  # fmt: skip
    report = import_buildings(engine, path, estimate=True, actor="test")
    stored = _buildings(engine)
    area = 0.0003 * 111_320 * 0.0003 * 110_950 * 0.855  # about 27 m x 28 m at 31.2°N
    assert stored.loc["E1", "households"] == pytest.approx(area * 6 * 0.8 / 90, rel=0.05)
    assert stored.loc["E2", "households"] == pytest.approx(area * 10 * 0.8 / 90, rel=0.05)
    assert stored.loc["E3", "households"] == 50
    assert stored["households_estimated"].tolist() == [True, True, False]
    assert report.rows.set_index("id").loc["E1", "flags"] == "estimated"
    assert import_buildings(engine, path, estimate=True, actor="test").counts["unchanged"] == 3
    assert estimate_households(600.0, 6).tolist() == [32]


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LUJIAZUI = DATA / "real" / "shanghai_lujiazui" / "shanghai_buildings.geojson"


def _lujiazui_communities() -> list[Polygon]:
    """Four made-up communities: the buildings' extent cut in quarters."""
    frame = gpd.read_file(LUJIAZUI)
    west, south, east, north = frame.total_bounds
    pad = 0.001
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    mid_x, mid_y = (west + east) / 2, (south + north) / 2
    return [
        box(west, mid_y, mid_x, north),
        box(mid_x, mid_y, east, north),
        box(west, south, mid_x, mid_y),
        box(mid_x, south, east, mid_y),
    ]


def test_lujiazui_imported_with_estimates_then_cells_drawn_and_adjusted(
    engine: Engine, tmp_path: Path
) -> None:
    from gridgis.redraw import redraw

    codes = store_areas(engine, _lujiazui_communities())
    report = import_buildings(engine, LUJIAZUI, estimate=True, actor="test")
    counts = report.counts
    assert counts["read"] == 1450
    assert counts["rejected"] == 0, report.rows[report.rows["outcome"] == "rejected"].head()
    assert counts["imported"] + counts["flagged"] == 1450
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*), sum(households), bool_or(households_estimated) FROM building")
        ).one()
    assert stored[0] == 1450 and stored[1] > 0 and stored[2]
    drawn = redraw(engine, "310115001", method="draw", actor="test")
    assert any("draw" in line or "cells" in line for line in drawn.lines())
    with engine.connect() as conn:
        cells = conn.execute(
            text("SELECT community_code, count(*), sum(households) FROM grid_cell "
                 "WHERE valid_to IS NULL GROUP BY community_code ORDER BY 1")
        ).all()  # fmt: skip
    assert [c[0] for c in cells] == codes
    # Real counts for some buildings, then an adjustment of the cells that break the bounds.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE building SET households = households * 4, households_estimated = false "
                 "WHERE id IN (SELECT id FROM building ORDER BY id LIMIT 300)")
        )  # fmt: skip
    adjusted = redraw(engine, "310115001", method="adjust", actor="test")
    assert adjusted.lines()
