"""The demo district: generated in memory, loaded end to end into a real PostGIS."""

from __future__ import annotations

import csv
import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.affinity import translate
from sqlalchemy import Engine, text

from gridgis.data import path as data_path
from gridgis.db.queries import read_areas
from gridgis.demo import DemoSummary, generate_district, run_demo
from gridgis.demo.cases import demo_period
from gridgis.demo.profiles import divisions, short_name
from gridgis.demo.run import OVERLAP_TOLERANCE_M2, check_overlap, validate_demo
from gridgis.errors import InputError, NotFoundError, ValidationError
from gridgis.partition.validate import LayoutReport, validate_layout

GENERATED = "source IS DISTINCT FROM '大走访'"
"""The generated cases (not those the demo's 大走访 campaign filed from its ledger)."""
DISTRICT = "350304"
SCALE = 0.02


def _official(district: str) -> tuple[dict[str, str], dict[str, str]]:
    with open(data_path("divisions", "streets.csv"), encoding="utf-8", newline="") as handle:
        streets = {
            r["code"]: r["name"] for r in csv.DictReader(handle) if r["areaCode"] == district
        }
    with open(data_path("divisions", "villages.csv"), encoding="utf-8", newline="") as handle:
        communities = {
            r["code"]: r["name"] for r in csv.DictReader(handle) if r["areaCode"] == district
        }
    return streets, communities


def _errors(report: LayoutReport, island: set[str]) -> list[str]:
    """Error findings, but for the part holding the district's islet (two pieces, rightly)."""
    return [
        str(f)
        for f in report.findings
        if f.severity == "error" and not (f.kind == "non_contiguous" and f.code in island)
    ]


def _holding_islet(frame: gpd.GeoDataFrame, outline: object) -> set[str]:
    parts = shapely.get_parts(outline)
    if len(parts) < 2:
        return set()
    small = shapely.union_all(sorted(parts, key=lambda p: p.area)[:-1])
    return set(frame.loc[frame.intersects(small), "code"].astype(str))


def test_short_names_for_addresses() -> None:
    assert short_name("文献社区居委会") == "文献社区"
    assert short_name("曹屯村民委员会") == "曹屯村"
    assert short_name("步云村委会") == "步云村"
    assert short_name("仙山社区") == "仙山社区"
    streets, communities = divisions("211403")
    kinds = dict(zip(communities["name"], communities["kind"], strict=True))
    assert kinds["曹屯村民委员会"] == "village"
    assert kinds["飞地虚拟社区"] == "virtual"
    assert kinds["望海寺社区"] == "urban"
    assert set(streets["kind"]) == {"subdistrict", "township", "zone"}


def test_bad_arguments_are_named() -> None:
    with pytest.raises(NotFoundError, match=r"`district` was '999999'.*350304 荔城区"):
        generate_district("999999", scale=0.01)
    with pytest.raises(InputError, match=r"`scale` was 0 but is expected to be in \(0, 1\]"):
        generate_district(DISTRICT, scale=0)
    with pytest.raises(InputError, match=r"`seed` was -1"):
        generate_district(DISTRICT, seed=-1, scale=0.01)


def test_generation_is_deterministic() -> None:
    today = dt.date(2026, 1, 1)  # the same seed and day: the same district
    first = generate_district("211403", seed=3, scale=0.01, workers=1, today=today)
    again = generate_district("211403", seed=3, scale=0.01, workers=1, today=today)
    other = generate_district("211403", seed=4, scale=0.01, workers=1, today=today)
    assert first.fingerprint() == again.fingerprint()
    assert first.counts() == again.counts()
    assert other.fingerprint() != first.fingerprint()
    # Another day: the same cases and patrols moved on by whole weeks, to the year up to it.
    later_day = dt.date(2027, 3, 17)
    later = generate_district("211403", seed=3, scale=0.01, workers=1, today=later_day)
    start, end = later.period
    assert end.date() <= later_day < end.date() + dt.timedelta(days=7)
    assert end - start == first.period[1] - first.period[0] == dt.timedelta(days=365)
    shift = end - first.period[1]
    assert shift.days % 7 == 0 and shift.seconds == 0
    times = [c for c in first.cases.columns if c.endswith("_at") or c == "deadline"]
    for name, columns in (("cases", times), ("inspections", ["started_at", "ended_at"])):
        before, after = getattr(first, name), getattr(later, name)
        assert before.drop(columns=columns).equals(after.drop(columns=columns)), name
        for column in columns:
            assert before[column].isna().equals(after[column].isna()), column
            assert ((after[column] - before[column]).dropna() == shift).all(), column
    assert (later.cases["reported_at"] >= start).all()
    assert (later.cases["reported_at"] < end).all()
    assert (later.inspections["started_at"] < end).all()
    # By default the year up to today (China Standard Time).
    _, now_end = demo_period()
    assert dt.timedelta(0) <= dt.datetime.now(now_end.tzinfo) - now_end < dt.timedelta(days=8)
    with pytest.raises(InputError, match=r"`today` was '2026-01-01' but is expected to be a date"):
        demo_period("2026-01-01")  # type: ignore[arg-type]
    # Frames come out in EPSG:4326, footprints never overlap, addresses name their parts.
    for name in ("streets", "communities", "roads", "buildings", "cells", "cases", "inspections"):
        assert getattr(first, name).crs.to_epsg() == 4326, name
    metric = first.buildings.to_crs(first.buildings.estimate_utm_crs())
    pairs = metric.sindex.query(metric.geometry, predicate="overlaps")
    assert pairs.shape[1] == 0
    urban = first.buildings[first.buildings["type"].isin(["walkup", "midrise", "tower"])]
    assert urban["address"].str.match(r"^龙港区.+(街道|乡|区).+(社区|村).+号\d+栋$").all()


def test_cells_of_the_whole_district_do_not_overlap() -> None:
    # Issue 14, defect 15: 龙港区 at scale 0.2, seed 11; cells of neighbouring communities
    # overlapped by 37 m² in all on the ground (ST_Area(::geography)), 11.8 m² for one pair.
    demo = generate_district("211403", seed=11, scale=0.2, workers=1)
    cells = demo.cells[["code", "geometry"]]
    report = validate_layout(cells, tolerance_m2=OVERLAP_TOLERANCE_M2)
    assert [str(f) for f in report.findings if f.kind == "overlap"] == []
    assert report.overlap_m2 <= OVERLAP_TOLERANCE_M2
    # The same as PostGIS measures it: each pair's intersection on the ellipsoid.
    geoms = np.asarray(cells.geometry.array)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    pieces = shapely.intersection(geoms[left[pairs]], geoms[right[pairs]])
    geod = pyproj.Geod(ellps="WGS84")
    parts = shapely.get_parts(pieces)
    polygons = parts[shapely.get_type_id(parts) == 3]
    on_ground = sum(abs(geod.geometry_area_perimeter(p)[0]) for p in polygons)
    assert on_ground <= OVERLAP_TOLERANCE_M2
    # Cells tile their communities exactly.
    tiling = validate_layout(
        cells, communities=demo.communities[["code", "geometry"]], tolerance_m2=OVERLAP_TOLERANCE_M2
    )
    islet = _holding_islet(demo.cells, demo.district.geometry.iloc[0])
    assert _errors(tiling, islet) == []
    # The demo refuses to load cells that overlap, naming the pair.
    checks = validate_demo(demo, units=False)
    check_overlap(checks)
    moved = demo.cells.copy()
    moved.loc[0, "geometry"] = translate(moved.geometry.iloc[0], 2e-6, 0.0)
    demo.cells = moved
    with pytest.raises(ValidationError, match=r"cells overlap by [\d.]+ m² in all.*nothing"):
        check_overlap(validate_demo(demo, units=False))


def test_demo_loads_end_to_end(engine: Engine) -> None:
    progress: list[tuple[str, int, int]] = []
    summary = run_demo(
        engine,
        district=DISTRICT,
        scale=SCALE,
        workers=1,
        progress=lambda phase, done, total: progress.append((phase, done, total)),
    )
    assert isinstance(summary, DemoSummary)
    assert summary.created, summary.lines()
    assert {p[0] for p in progress} >= {"areas", "buildings", "cells", "cases", "load"}
    assert summary.ok, "\n".join(summary.lines())

    # Exactly the official names and codes, each with an outline.
    streets, communities = _official(DISTRICT)
    with engine.connect() as conn:
        stored_streets = dict(
            conn.execute(
                text("SELECT code, name FROM street WHERE district_code = :d AND geom IS NOT NULL"),
                {"d": DISTRICT},
            ).all()
        )
        stored_communities = dict(
            conn.execute(
                text(
                    "SELECT code, name FROM community WHERE street_code LIKE :d "
                    "AND geom IS NOT NULL"
                ),
                {"d": DISTRICT + "%"},
            ).all()
        )
    assert stored_streets == streets
    assert stored_communities == communities

    # Every level tiles its parent, as stored.
    district = read_areas(engine, "district").query("code == @DISTRICT")
    street_frame = read_areas(engine, "street", within=DISTRICT)
    community_frame = read_areas(engine, "community", within=DISTRICT)
    cell_frame = read_areas(engine, "cell", within=DISTRICT)
    outline = district.geometry.iloc[0]
    report = validate_layout(
        street_frame.rename_geometry("geometry")[["code", "parent_code", "geometry"]],
        community="parent_code",
        communities=district.rename_geometry("geometry")[["code", "geometry"]],
    )
    assert not _errors(report, _holding_islet(street_frame, outline)), report.lines()
    report = validate_layout(
        community_frame.rename_geometry("geometry")[["code", "parent_code", "geometry"]],
        community="parent_code",
        communities=street_frame.rename_geometry("geometry")[["code", "geometry"]],
    )
    assert not _errors(report, _holding_islet(community_frame, outline)), report.lines()

    # Cells: within their community's bounds or flagged with the reason.
    with engine.connect() as conn:
        cells = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT g.code, g.households, g.flags, c.min_households AS lo, "
                    "c.max_households AS hi FROM grid_cell g JOIN community c "
                    "ON c.code = g.community_code WHERE g.community_code LIKE :d "
                    "AND g.valid_to IS NULL"
                ),
                {"d": DISTRICT + "%"},
            ).all()
        )
        buildings = gpd.read_postgis(
            text(
                "SELECT households, residents, footprint FROM building WHERE community_code LIKE :d"
            ),
            conn,
            geom_col="footprint",
            params={"d": DISTRICT + "%"},
        )
    within = cells["households"].between(cells["lo"], cells["hi"])
    flagged = cells["flags"].map(len) > 0
    assert (within | flagged).all()
    bounds = {
        code: (lo, hi)
        for code, lo, hi in pd.read_sql(
            text("SELECT code, min_households, max_households FROM community WHERE code LIKE :d"),
            engine,
            params={"d": DISTRICT + "%"},
        ).itertuples(index=False)
    }
    cell_report = validate_layout(
        cell_frame.rename_geometry("geometry").merge(cells[["code", "flags"]], on="code"),
        communities=community_frame.rename_geometry("geometry")[["code", "geometry"]],
        units=buildings.rename_geometry("geometry"),
        households="households",
        bounds=bounds,
        flags="flags",
    )
    tiling = {"gap", "overlap", "outside_community", "crosses_community", "split_unit",
              "unassigned_unit"}  # fmt: skip
    assert not [f for f in cell_report.findings if f.kind in tiling], cell_report.lines()

    # Households and residents within 10 % of the scaled targets.
    assert summary.targets["households"] == round(245_091 * SCALE)
    for key in ("households", "residents"):
        stored = int(buildings[key].sum())
        assert abs(stored / summary.targets[key] - 1) < 0.10, (key, stored, summary.targets)

    with engine.connect() as conn:
        # Cases: the category mix of the field, lifecycle in order, some late.
        mix = dict(
            conn.execute(
                text(
                    "SELECT category_code, count(*) FROM case_record WHERE street_code LIKE :d "
                    f"AND {GENERATED} GROUP BY category_code"
                ),
                {"d": DISTRICT + "%"},
            ).all()
        )
        total = sum(mix.values())
        assert total == summary.targets["cases"] == round(100_000 * SCALE)
        top_two = sorted(mix, key=mix.__getitem__, reverse=True)[:2]
        assert set(top_two) == {"fire_safety", "commerce_food_drug"}
        assert 0.75 < (mix["fire_safety"] + mix["commerce_food_drug"]) / total < 0.95
        assert len(mix) >= 7
        disorder = conn.execute(
            text(
                "SELECT count(*) FROM case_record WHERE street_code LIKE :d AND NOT ("
                "coalesce(registered_at >= reported_at, true) "
                "AND coalesce(dispatched_at >= registered_at, true) "
                "AND coalesce(handled_at >= dispatched_at, true) "
                "AND coalesce(verified_at >= handled_at, true) "
                "AND coalesce(closed_at >= verified_at, true) "
                "AND (rejected_at IS NULL OR closed_at IS NULL))"
            ),
            {"d": DISTRICT + "%"},
        ).scalar_one()
        assert disorder == 0
        late, closed, rejected = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE closed_at > deadline), "
                "count(*) FILTER (WHERE step = 'closed'), "
                "count(*) FILTER (WHERE step = 'rejected') "
                "FROM case_record WHERE street_code LIKE :d"
            ),
            {"d": DISTRICT + "%"},
        ).one()
        assert 0.02 < late / closed < 0.25
        assert 0 < rejected < 0.1 * total
        located = conn.execute(
            text(
                "SELECT count(*) FROM case_record r JOIN grid_cell g ON g.id = r.cell_id "
                f"WHERE r.street_code LIKE :d AND {GENERATED} AND ST_Covers(g.geom, r.geom) "
                "AND left(g.code, 12) = r.community_code AND left(g.code, 9) = r.street_code"
            ),
            {"d": DISTRICT + "%"},
        ).scalar_one()
        assert located == total

        # People and places: a worker for nearly every cell, a centre per street office.
        n_cells, uncovered, without_branch = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM worker_cell w "
                "WHERE w.cell_id = g.id)), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM "
                "branch_cell b WHERE b.cell_id = g.id)) FROM grid_cell g "
                "WHERE g.community_code LIKE :d AND g.valid_to IS NULL"
            ),
            {"d": DISTRICT + "%"},
        ).one()
        assert 0 < uncovered < 0.1 * n_cells
        assert 0 < without_branch < 0.3 * n_cells
        centres = conn.execute(
            text(
                "SELECT count(DISTINCT street_code), count(*) FROM service_facility "
                "WHERE kind = 'centre' AND street_code LIKE :d"
            ),
            {"d": DISTRICT + "%"},
        ).one()
        assert tuple(centres) == (len(streets), len(streets))
        stations = conn.execute(
            text("SELECT count(*) FROM service_facility WHERE kind = 'station' "
                 "AND community_code LIKE :d"),
            {"d": DISTRICT + "%"},
        ).scalar_one()  # fmt: skip
        assert 0.3 * len(communities) < stations < 0.8 * len(communities)
        patrols, own_cell = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM inspection_cell ic "
                "JOIN worker_cell wc ON wc.cell_id = ic.cell_id WHERE ic.inspection_id = i.id "
                "AND wc.worker_id = i.worker_id)) FROM inspection i JOIN grid_worker w "
                "ON w.id = i.worker_id WHERE w.street_code LIKE :d AND "
                "GeometryType(i.geom) = 'LINESTRING'"
            ),
            {"d": DISTRICT + "%"},
        ).one()
        assert patrols == summary.counts["inspections"] > 0
        assert own_cell == patrols

    # Loaded once: a second run changes nothing.
    def stored() -> tuple[int, ...]:
        with engine.connect() as conn:
            return tuple(
                conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM building), (SELECT count(*) FROM grid_cell),"
                        " (SELECT count(*) FROM case_record), (SELECT count(*) FROM inspection)"
                    )
                ).one()
            )

    before = stored()
    again = run_demo(engine, district=DISTRICT, scale=SCALE, workers=1)
    assert not again.created
    assert "already has data" in again.message
    assert stored() == before
    with engine.connect() as conn:
        filed = conn.execute(text(f"SELECT count(*) FROM case_record WHERE NOT {GENERATED}"))
        assert again.counts["cases"] == total + filed.scalar_one()


def test_replace_loads_again(engine: Engine) -> None:
    first = run_demo(engine, district="211403", scale=0.01, seed=1, workers=1)
    assert first.created and first.ok, "\n".join(first.lines())
    second = run_demo(engine, district="211403", scale=0.01, seed=2, workers=1, replace=True)
    assert second.created and second.ok, "\n".join(second.lines())
    with engine.connect() as conn:
        cases, cells, versions = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM case_record WHERE street_code LIKE '211403%' "
                f"AND {GENERATED}), "
                "(SELECT count(*) FROM grid_cell WHERE community_code LIKE '211403%'), "
                "(SELECT max(version) FROM layout_version WHERE community_code LIKE '211403%')"
            )
        ).one()
        roads = conn.execute(
            text("SELECT count(*) FROM road WHERE external_id LIKE 'demo-211403-%'")
        ).scalar_one()
    # The roads were deleted and imported again (as new: the importer would refuse otherwise).
    assert roads == second.counts["roads"] > 0
    assert cases == second.counts["cases"]
    assert cells == second.counts["cells"]
    assert versions == 1


def test_copy_rows_refuses_odd_names(engine: Engine) -> None:
    from gridgis.db.bulk import clear_district, copy_rows

    with engine.begin() as conn:
        with pytest.raises(InputError, match=r"plain identifiers, not \['road; drop'\]"):
            copy_rows(conn, "road; drop", pd.DataFrame({"name": ["x"]}))
        with pytest.raises(InputError, match=r"`district` was '3503' but is expected"):
            clear_district(conn, "3503", actor="test")


def test_the_registers_go_through_the_importers(engine: Engine, tmp_path) -> None:
    # Issue 16 point 12: the demo writes its registers as an office's files and imports them.
    from gridgis.demo.files import BRANCHES_FILE, WORKERS_FILE
    from gridgis.registers.branches import import_branches
    from gridgis.registers.workers import import_workers

    summary = run_demo(
        engine, district="211403", scale=0.01, seed=1, workers=1, keep_files=tmp_path / "files"
    )
    assert summary.created and summary.ok, "\n".join(summary.lines())
    roster = tmp_path / "files" / WORKERS_FILE
    header = pd.read_excel(roster, nrows=0).columns.tolist()
    assert header == ["编号", "姓名", "电话", "角色", "网格", "楼栋", "单元"]
    organisations = tmp_path / "files" / BRANCHES_FILE
    assert pd.read_csv(organisations, nrows=0).columns.tolist()[:3] == ["编号", "名称", "类型"]
    with engine.connect() as conn:
        imports = dict(
            conn.execute(
                text(
                    "SELECT object_type, summary FROM audit_log "
                    "WHERE action = 'import' AND actor = 'demo'"
                )
            ).all()
        )
        stored = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM grid_worker WHERE street_code LIKE '211403%'), "
                "(SELECT count(*) FROM party_branch WHERE community_code LIKE '211403%')"
            )
        ).one()
    assert sorted(imports) == [
        "activity", "branch", "building", "case", "community", "compound", "department",
        "facility", "inspection", "member", "resident", "resident_unit", "road", "street",
        "unit", "worker",
    ]  # fmt: skip
    # The workers' roster holds the 楼栋长 and 单元长 too, the organisations the whole tree.
    people = summary.counts["workers"] + summary.counts["leaders"]
    tree = summary.counts["organisations"]
    for kind, count, expected in [("worker", stored[0], people),
                                  ("branch", stored[1], tree)]:  # fmt: skip
        after = imports[kind]["after"]
        assert after["imported"] == after["read"] == expected == count > 0

    # The kept files import again with nothing to change.
    for importer, path, count in [(import_workers, roster, stored[0]),
                                  (import_branches, organisations, stored[1])]:  # fmt: skip
        again = importer(engine, path, actor="test", dry_run=True)
        assert again.counts["unchanged"] == again.counts["read"] == count

    # Phones of the demo's people can reach nobody: Ofcom's drama range, which the importer takes.
    with engine.connect() as conn:
        phones = conn.execute(text("SELECT phone FROM grid_worker")).scalars().all()
    assert phones and all(re.fullmatch(r"0044 7700 900\d{3}", p) for p in phones), phones[:3]
    assert len(set(phones)) == len(phones)  # fewer than 1,000 workers: all different

    # On a connection of the caller's, an import runs in a savepoint: the caller commits.
    changed = pd.read_excel(roster, dtype=str)
    changed.loc[0, "姓名"] = "改名字"
    edited = tmp_path / "edited.xlsx"
    changed.to_excel(edited, index=False)
    with engine.connect() as conn:
        transaction = conn.begin()
        report = import_workers(conn, edited, actor="test")
        assert report.counts["updated"] == 1
        assert conn.in_transaction()
        transaction.rollback()
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM grid_worker WHERE name = '改名字'")).all()
    assert names == []


def test_buildings_and_facilities_go_through_the_importers(engine: Engine, tmp_path) -> None:
    # Issue 16 point 12: the demo's buildings and facilities are an office's files, imported.
    from gridgis.demo.files import BUILDINGS_FILE, FACILITIES_FILE
    from gridgis.registers.buildings import import_buildings
    from gridgis.registers.facilities import import_facilities

    files = tmp_path / "files"
    summary = run_demo(engine, district="211403", scale=0.01, seed=1, workers=1, keep_files=files)
    assert summary.created and summary.ok, "\n".join(summary.lines())
    demo = generate_district("211403", scale=0.01, seed=1, workers=1)
    layer = gpd.read_file(files / BUILDINGS_FILE)
    assert layer.columns.tolist()[:7] == ["编号", "名称", "地址", "户数", "人口", "层数", "小区"]
    assert pd.read_csv(files / FACILITIES_FILE, nrows=0).columns.tolist() == [
        "编号", "名称", "类型", "经度", "纬度", "社区",
    ]  # fmt: skip
    with engine.connect() as conn:
        imports = {
            t: s["after"]
            for t, s in conn.execute(
                text(
                    "SELECT object_type, summary FROM audit_log "
                    "WHERE action = 'import' AND actor = 'demo'"
                )
            ).all()
        }
        loaded = (
            conn.execute(text("SELECT object_type FROM audit_log WHERE action = 'load'"))
            .scalars()
            .all()
        )
        buildings = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT external_id, community_code, households, residents, floors, "
                    "name, address, compound FROM building WHERE community_code LIKE '211403%'"
                )
            ).all()
        )
        units = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT b.external_id, u.number, u.households FROM building_unit u "
                    "JOIN building b ON b.id = u.building_id"
                )
            ).all()
        )
        facilities = pd.DataFrame(
            conn.execute(
                text("SELECT external_id, kind, community_code, street_code FROM service_facility")
            ).all()
        )
    # One import row each by actor demo, no bulk 'load' row for them.
    assert imports["building"]["imported"] == imports["building"]["read"] == len(demo.buildings)
    assert imports["facility"]["imported"] == imports["facility"]["read"] == len(demo.facilities)
    assert "building" not in loaded and "facility" not in loaded and "road" not in loaded
    # The same buildings as generated, in the communities generated; units on their buildings.
    columns = ["external_id", "community_code", "households", "residents", "floors", "name",
               "address", "compound"]  # fmt: skip
    pd.testing.assert_frame_equal(
        buildings.sort_values("external_id", ignore_index=True)[columns],
        pd.DataFrame(demo.buildings[columns]).sort_values("external_id", ignore_index=True),
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(
        units.sort_values(["external_id", "number"], ignore_index=True),
        demo.units.sort_values(["external_id", "number"], ignore_index=True),
        check_dtype=False,
    )
    expected = demo.facilities.set_index("external_id")
    stored = facilities.set_index("external_id").loc[expected.index]
    assert (stored["kind"] == expected["kind"]).all()
    assert (stored["street_code"] == expected["street_code"]).all()
    stations = expected["community_code"].notna()
    assert (
        stored.loc[stations, "community_code"] == expected.loc[stations, "community_code"]
    ).all()

    # Importing the demo's own files again changes nothing.
    again_files = [(import_buildings, BUILDINGS_FILE, len(demo.buildings)),
                   (import_facilities, FACILITIES_FILE, len(demo.facilities))]  # fmt: skip
    for importer, name, count in again_files:
        again = importer(engine, files / name, actor="test")
        assert again.counts["unchanged"] == again.counts["read"] == count > 0, again.counts


def test_outlines_cells_roads_and_units_go_through_their_importers(
    engine: Engine, tmp_path
) -> None:
    # Issue 16 point 12: the demo's outlines and cells are a district's files imported by
    # `gridgis import boundaries`, its roads a file of lines with ids, its buildings' units
    # a register of 楼栋单元, all imported.
    from gridgis.demo.files import ROADS_FILE, UNITS_FILE
    from gridgis.demo.outlines import CELLS_FILE, COMMUNITIES_FILE, STREETS_FILE
    from gridgis.io import read_vector
    from gridgis.registers.roads import import_roads
    from gridgis.registers.units import import_units

    files = tmp_path / "files"
    summary = run_demo(engine, district="211403", scale=0.01, seed=1, workers=1, keep_files=files)
    assert summary.created and summary.ok, "\n".join(summary.lines())
    demo = generate_district("211403", scale=0.01, seed=1, workers=1)
    layer = read_vector(files / ROADS_FILE)
    assert layer.columns.tolist() == ["编号", "名称", "类型", "geometry"]
    with engine.connect() as conn:
        stored = gpd.read_postgis(
            text("SELECT external_id, name, kind, geom FROM road ORDER BY external_id"),
            conn,
            geom_col="geom",
        )
        audits = conn.execute(
            text(
                "SELECT actor, action, summary->'after' FROM audit_log "
                "WHERE object_type = 'road' ORDER BY id"
            )
        ).all()
        units = conn.execute(
            text(
                "SELECT actor, summary->'after' FROM audit_log "
                "WHERE object_type = 'unit' AND action = 'import'"
            )
        ).all()
        unit_links = conn.execute(
            text(
                "SELECT summary->'after'->'units' FROM audit_log "
                "WHERE object_type = 'building' AND action = 'load'"
            )
        ).all()
    # One import row by actor demo, with the file's name and counts; no bulk 'load' row.
    assert [(a, b) for a, b, _ in audits] == [("demo", "import")]
    after = audits[0][2]
    assert after["file"] == ROADS_FILE and after["district"] == "211403"
    assert after["read"] == after["imported"] == len(demo.roads) > 0
    # The same roads as generated, under the generator's ids, lines exactly as generated.
    expected = demo.roads.sort_values("external_id", ignore_index=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(stored[["external_id", "name", "kind"]]),
        pd.DataFrame(expected[["external_id", "name", "kind"]]),
        check_dtype=False,
    )
    single = shapely.get_num_geometries(expected.geometry.to_numpy()) == 1
    lines = np.where(
        single, shapely.get_geometry(expected.geometry.to_numpy(), 0), expected.geometry.to_numpy()
    )
    stored_lines = stored.geometry.to_numpy()
    parts = np.where(single, shapely.get_geometry(stored_lines, 0), stored_lines)
    assert shapely.equals_exact(parts, lines, tolerance=0).all()

    # The units: one import row by actor demo, every row new; no bulk load of units.
    assert pd.read_csv(files / UNITS_FILE, nrows=0).columns.tolist() == ["楼栋编号", "单元", "户数"]
    [(actor, after)] = units
    assert actor == "demo" and after["file"] == UNITS_FILE
    assert after["read"] == after["imported"] == len(demo.units) > 0
    assert unit_links == []

    # Importing the demo's files again changes nothing and says so.
    units_again = import_units(engine, files / UNITS_FILE, actor="test")
    assert units_again.counts["unchanged"] == units_again.counts["read"] == len(demo.units)
    again = import_roads(engine, files / ROADS_FILE, district="211403", replace=True, actor="t")
    assert again.counts["unchanged"] == again.counts["read"] == len(demo.roads)
    assert "replace: 0 stored roads of 211403 the file no longer carries deleted" in again.notes

    # Outlines and cells: one import row each by actor demo, the cells published as drawn.
    with engine.connect() as conn:
        imports = conn.execute(
            text(
                "SELECT object_type, summary->'after' FROM audit_log WHERE actor = 'demo' "
                "AND object_type IN ('street', 'community') ORDER BY id"
            )
        ).all()
        versions = conn.execute(
            text(
                "SELECT DISTINCT version, method, published_by, note FROM layout_version "
                "WHERE community_code LIKE '211403%'"
            )
        ).all()
        publishes = conn.execute(
            text("SELECT DISTINCT actor FROM audit_log WHERE action = 'publish'")
        ).scalars()
        kinds = dict(
            conn.execute(text("SELECT code, kind FROM community WHERE code LIKE '211403%'")).all()
        )
        flags = dict(
            conn.execute(text("SELECT code, flags FROM grid_cell WHERE valid_to IS NULL")).all()
        )
        assert list(publishes) == ["demo"]
    # The official names were stored without outlines: each outline updates its area.
    assert [(kind, after["rows"], after["updated"]) for kind, after in imports] == [
        ("street", len(demo.streets), len(demo.streets)),
        ("community", len(demo.communities), len(demo.communities)),
    ]
    assert [tuple(v) for v in versions] == [(1, "draw", "gridgis demo", "demo district")]
    assert kinds == dict(zip(demo.communities["code"], demo.communities["db_kind"], strict=True))
    assert flags == {
        c: list(f) for c, f in zip(demo.cells["code"], demo.cells["flags"], strict=True)
    }
    assert read_vector(files / COMMUNITIES_FILE).columns.tolist() == [
        "编码", "名称", "类型", "每格最少户数", "每格最多户数", "geometry",
    ]  # fmt: skip
    # The same files again, through the command a user has: nothing changes.
    from gridgis.boundaries import prepare_boundaries
    from gridgis.db.load import import_boundaries

    for path, level in ((STREETS_FILE, "street"), (COMMUNITIES_FILE, "community"),
                        (CELLS_FILE, "cell")):  # fmt: skip
        prepared = prepare_boundaries(
            read_vector(files / path), level=level, code_field="编码", name_field="名称"
        )
        report = import_boundaries(engine, prepared, level=level, actor="test")
        assert report.inserted == report.updated == report.retired == [], path
        assert len(report.unchanged) == report.rows_read > 0


def test_a_demo_file_that_does_not_import_cleanly_loads_nothing(engine: Engine, tmp_path) -> None:
    from gridgis.demo.files import write_branches, write_buildings, write_facilities, write_workers
    from gridgis.demo.run import _ensure_divisions_and_outline, _load

    demo = generate_district("211403", scale=0.01, seed=1, workers=1)
    _ensure_divisions_and_outline(engine, "211403")
    with engine.connect() as conn:
        audit_rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    broken = demo.buildings.copy()
    broken.loc[broken.index[0], "households"] = -3  # a register's typo: rejected by the importer
    files = {
        "buildings": write_buildings(broken, tmp_path),
        "workers": write_workers(demo.workers, demo.worker_cells, tmp_path),
        "branches": write_branches(demo.branches, demo.branch_cells, tmp_path),
        "facilities": write_facilities(demo.facilities, tmp_path),
    }
    with pytest.raises(
        ValidationError, match=r"楼栋.gpkg did not import cleanly: \{'rejected': 1\}"
    ):
        _load(engine, demo, replace=False, files=files, progress=None)
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM building), (SELECT count(*) FROM grid_cell), "
                "(SELECT count(*) FROM road), (SELECT count(*) FROM audit_log), "
                "(SELECT count(*) FROM community WHERE geom IS NOT NULL AND code LIKE '211403%')"
            )
        ).one()
    assert tuple(left) == (0, 0, 0, audit_rows, 0)


_CASE_COLUMNS = [
    "external_id", "category_code", "description", "source", "address", "raw_x", "raw_y",
    "raw_crs", "cell_code", "community_code", "street_code", "deadline",
    "reported_at", "reported_by", "registered_at", "registered_by", "dispatched_at",
    "dispatched_by", "handled_at", "handled_by", "verified_at", "verified_by", "closed_at",
    "closed_by", "rejected_at", "rejected_by",
]  # fmt: skip


def test_cases_and_inspections_go_through_the_importers(engine: Engine, tmp_path) -> None:
    # Issue 16 point 12: the demo's year of cases is a former system's exports, imported
    # with their history (steps, times, actors), each export in its coordinates' system;
    # its patrols are the app's GPS tracks, imported, their cells found by the importer.
    from gridgis.demo.files import CASE_FILES, INSPECTIONS_FILE
    from gridgis.intake import import_cases, import_inspections

    files = tmp_path / "files"
    summary = run_demo(engine, district="211403", scale=0.01, seed=1, workers=1, keep_files=files)
    assert summary.created and summary.ok, "\n".join(summary.lines())
    demo = generate_district("211403", scale=0.01, seed=1, workers=1)
    assert pd.read_csv(files / CASE_FILES["12345热线"][0], nrows=0).columns.tolist()[:9] == [
        "编号", "类别", "上报时间", "描述", "地址", "经度", "纬度", "来源", "上报人",
    ]  # fmt: skip
    columns = ", ".join(f"r.{c}" for c in _CASE_COLUMNS if c != "cell_code")
    with engine.connect() as conn:
        imports = (
            conn.execute(
                text(
                    "SELECT summary->'after' FROM audit_log "
                    "WHERE action = 'import' AND actor = 'demo' AND object_type = 'case'"
                )
            )
            .scalars()
            .all()
        )
        loaded = (
            conn.execute(text("SELECT object_type FROM audit_log WHERE action = 'load'"))
            .scalars()
            .all()
        )
        stored = pd.DataFrame(
            conn.execute(
                text(
                    f"SELECT {columns}, g.code AS cell_code, r.located_by, "
                    "ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat "
                    f"FROM case_record r JOIN grid_cell g ON g.id = r.cell_id WHERE {GENERATED}"
                )
            ).all()
        )
    # One import row per export (by actor demo), all its rows placed; no bulk 'load' row.
    assert len(imports) == len(CASE_FILES) and "case" not in loaded
    assert sum(i["rows"] for i in imports) == sum(i["coordinates"] for i in imports)
    assert sum(i["rows"] for i in imports) == len(demo.cases)
    # The same cases as generated: categories, times, steps, actors, cells, raw coordinates.
    got = stored.sort_values("external_id", ignore_index=True)
    want = demo.cases.sort_values("external_id", ignore_index=True)
    for column in _CASE_COLUMNS:
        if column.endswith("_at") or column == "deadline":
            got[column] = pd.to_datetime(got[column], utc=True)
            want[column] = pd.to_datetime(want[column], utc=True)
    pd.testing.assert_frame_equal(got[_CASE_COLUMNS], want[_CASE_COLUMNS], check_dtype=False)
    assert (got["located_by"] == "coordinates").all()
    # Points where generated (to well under a centimetre: the import reads them back from
    # the raw coordinates, through GCJ-02 and BD-09 for two of the sources).
    assert np.allclose(got["lon"], want.geometry.x, atol=1e-7)
    assert np.allclose(got["lat"], want.geometry.y, atol=1e-7)
    assert set(demo.cases["raw_crs"]) == {crs for _, crs in CASE_FILES.values()}
    with engine.connect() as conn:
        steps = dict(
            conn.execute(text("SELECT step, count(*) FROM case_record GROUP BY step")).all()
        )
    assert steps["closed"] > 0 and steps["rejected"] > 0

    # The same patrols as generated: workers, times, tracks, and the cells they pass through.
    with engine.connect() as conn:
        patrols = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT i.external_id, w.external_id AS worker, i.started_at, i.ended_at, "
                    "ST_NPoints(i.geom) AS points, i.location_flag FROM inspection i "
                    "JOIN grid_worker w ON w.id = i.worker_id"
                )
            ).all()
        )
        visits = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT i.external_id AS record, g.code AS cell_code FROM inspection_cell v "
                    "JOIN inspection i ON i.id = v.inspection_id "
                    "JOIN grid_cell g ON g.id = v.cell_id"
                )
            ).all()
        )
        audit = conn.execute(
            text(
                "SELECT summary->'after' FROM audit_log WHERE action = 'import' "
                "AND actor = 'demo' AND object_type = 'inspection'"
            )
        ).scalar_one()
    assert audit["rows"] == audit["coordinates"] == len(demo.inspections) > 0
    assert "inspection" not in loaded
    got = patrols.sort_values("external_id", ignore_index=True)
    want = demo.inspections.sort_values("external_id", ignore_index=True)
    assert got["external_id"].tolist() == want["external_id"].tolist()
    assert got["worker"].tolist() == want["worker"].tolist()
    for column in ("started_at", "ended_at"):
        assert (pd.to_datetime(got[column], utc=True) == want[column].dt.tz_convert("UTC")).all()
    assert (got["points"].to_numpy() == shapely.get_num_points(want.geometry.to_numpy())).all()
    assert got["location_flag"].isna().all()
    pd.testing.assert_frame_equal(
        visits.sort_values(["record", "cell_code"], ignore_index=True),
        demo.inspection_cells.sort_values(["record", "cell_code"], ignore_index=True),
        check_dtype=False,
    )

    # Importing the demo's exports again changes nothing.
    for name, crs in CASE_FILES.values():
        again = import_cases(engine, files / name, crs=crs, actor="test")
        assert again.counts["duplicate"] == again.counts["rows_read"] > 0, again.counts
    again = import_inspections(engine, files / INSPECTIONS_FILE, actor="test")
    assert again.counts["duplicate"] == again.counts["inspections"] > 0, again.counts


def test_a_demo_case_or_patrol_export_that_does_not_import_cleanly_loads_nothing(
    engine: Engine, tmp_path
) -> None:
    from gridgis.demo.files import (
        write_branches,
        write_buildings,
        write_cases,
        write_facilities,
        write_inspections,
        write_workers,
    )
    from gridgis.demo.run import _ensure_divisions_and_outline, _load

    demo = generate_district("211403", scale=0.01, seed=1, workers=1)
    _ensure_divisions_and_outline(engine, "211403")
    with engine.connect() as conn:
        audit_rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    files = {
        "buildings": write_buildings(demo.buildings, tmp_path),
        "workers": write_workers(demo.workers, demo.worker_cells, tmp_path),
        "branches": write_branches(demo.branches, demo.branch_cells, tmp_path),
        "facilities": write_facilities(demo.facilities, tmp_path),
        "inspections": write_inspections(demo.inspections, tmp_path),
    }
    broken = demo.cases.copy()
    last = broken.index[-1]  # a step out of order in the last export: its import is refused
    broken.loc[last, "closed_at"] = broken.loc[last, "reported_at"] - pd.Timedelta(hours=1)
    broken.loc[last, "rejected_at"] = pd.NaT
    case_files = write_cases(broken, tmp_path)
    with pytest.raises(
        ValidationError, match=r"事件_.*\.csv did not import cleanly: \{'rejected': 1\}"
    ):
        _load(engine, demo, replace=False, files=files, case_files=case_files, progress=None)
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM case_record), (SELECT count(*) FROM building), "
                "(SELECT count(*) FROM grid_cell), (SELECT count(*) FROM grid_worker), "
                "(SELECT count(*) FROM road), (SELECT count(*) FROM audit_log), "
                "(SELECT count(*) FROM community WHERE geom IS NOT NULL AND code LIKE '211403%')"
            )
        ).one()
    assert tuple(left) == (0, 0, 0, 0, 0, audit_rows, 0)

    # A track the importer refuses (a worker not on the roster) loads nothing either.
    stray = demo.inspections.copy()
    stray.loc[stray.index[0], "worker"] = "not-on-the-roster"
    files["inspections"] = write_inspections(stray, tmp_path)
    with pytest.raises(ValidationError, match=r"巡查轨迹.gpkg did not import cleanly"):
        _load(engine, demo, replace=False, files=files, progress=None)
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM inspection), (SELECT count(*) FROM building), "
                "(SELECT count(*) FROM audit_log)"
            )
        ).one()
    assert tuple(left) == (0, 0, audit_rows)
