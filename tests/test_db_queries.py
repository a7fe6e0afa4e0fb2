"""Reading the stored hierarchy as GeoDataFrames (gridgis.db.queries)."""

from __future__ import annotations

import shapely
from conftest import LICHENG_WEST, insert_sample_areas
from sqlalchemy import Engine, bindparam, select

from gridgis.db.models import Street
from gridgis.db.queries import count_areas, district_summaries, ewkb, read_areas, read_geoframe


def test_read_geoframe_runs_a_core_select_with_the_geometry_as_is_or_as_bytes(
    engine: Engine,
) -> None:
    insert_sample_areas(engine)
    as_is = select(Street.code, Street.geom).where(Street.district_code == bindparam("district"))
    as_bytes = select(Street.code, ewkb(Street.geom)).where(
        Street.district_code == bindparam("district")
    )
    with engine.connect() as conn:
        frames = [
            read_geoframe(conn, statement.order_by(Street.code), {"district": "350304"})
            for statement in (as_is, as_bytes)
        ]
    for frame in frames:
        assert frame.crs.to_epsg() == 4326 and frame.geometry.name == "geom"
        assert frame["code"].tolist() == ["350304001", "350304002"]
        assert shapely.equals(frame.geometry.iloc[0], shapely.from_wkt(LICHENG_WEST))
        assert shapely.get_srid(frame.geometry.iloc[0]) == 4326
    assert frames[0].geom_equals_exact(frames[1], tolerance=0).all()


def test_read_geoframe_answers_an_empty_frame_with_its_crs(engine: Engine) -> None:
    with engine.connect() as conn:
        frame = read_geoframe(conn, select(Street.code, Street.geom))
    assert frame.empty and frame.crs.to_epsg() == 4326 and list(frame.columns) == ["code", "geom"]


def test_read_areas_filters_by_code_and_outline(engine: Engine) -> None:
    insert_sample_areas(engine)
    streets = read_areas(engine, "street", within="350304")
    assert streets["code"].tolist() == ["350304001", "350304002"]
    assert streets["parent_code"].tolist() == ["350304", "350304"]
    districts = read_areas(engine, "district")
    assert districts["code"].tolist() == ["211403", "350304"]
    assert districts["parent_code"].isna().all()
    # The community has no outline yet: left out unless asked for.
    assert read_areas(engine, "community").empty
    communities = read_areas(engine, "community", with_geometry_only=False)
    assert communities["code"].tolist() == ["350304001001"]
    assert communities.geometry.isna().all()
    assert count_areas(engine) == {"district": 2, "street": 3, "community": 1, "cell": 0}
    assert [(d.code, d.streets, d.communities) for d in district_summaries(engine)] == [
        ("211403", 1, 0),
        ("350304", 2, 1),
    ]
