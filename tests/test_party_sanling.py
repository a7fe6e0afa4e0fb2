"""三零 communities (issue 19 point 6, :mod:`gridgis.party.sanling`): the three figures and the
status per community match independent SQL counts over the demo's cases for several
periods; merged and rejected cases do not count; the mapping is edited and audited; the
export, the JSON route and the page agree; the drill-down lists the counted cases."""

from __future__ import annotations

import datetime as dt
import io
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from conftest import add_test_user, cell_point, log_in_client, response_json
from flask import Flask
from sqlalchemy import Engine, create_engine, text

from gridgis.cases import advance_case, create_case, list_cases, merge_cases
from gridgis.cli import main
from gridgis.db.models import SANLING_FIGURES
from gridgis.errors import InputError, NotFoundError
from gridgis.export.sanling import export_sanling
from gridgis.party.sanling import (
    category_map,
    counted_cases,
    default_categories,
    parse_period,
    sanling_figures,
    set_categories,
)
from gridgis.times import CHINA_TZ
from gridgis.web import create_app

PERIODS = ("2025-03", "2025-Q2", "2025", "2025-02-10..2025-05-20", "2025-Q4")


def _independent(engine: Engine, period: str) -> pd.DataFrame:
    """The figures counted straight in SQL: community x figure, every community listed."""
    since, until = parse_period(period).bounds()
    with engine.connect() as conn:
        counted = conn.execute(
            text(
                "SELECT c.community_code, m.figure, count(*) FROM case_record c "
                "JOIN sanling_category m ON m.category_code = c.category_code "
                "WHERE c.reported_at >= :since AND c.reported_at < :until "
                "AND c.merged_into_id IS NULL AND c.rejected_at IS NULL "
                "AND c.community_code IS NOT NULL GROUP BY 1, 2"
            ),
            {"since": since, "until": until},
        ).all()
        codes = conn.execute(text("SELECT code FROM community ORDER BY code")).scalars().all()
    frame = pd.DataFrame(0, index=pd.Index(codes, name="community_code"), columns=SANLING_FIGURES)
    for code, figure, n in counted:
        frame.loc[code, figure] = n
    return frame


def test_periods_are_months_quarters_years_or_days() -> None:
    assert parse_period("2025-3").label == "2025-03"
    assert (parse_period("2025q4").start, parse_period("2025q4").end) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 1, 1),
    )
    assert parse_period("2024").days == 366
    days = parse_period("2025-01-30 .. 2025-02-02")
    assert (days.label, days.days, days.last) == ("2025-01-30..2025-02-02", 4, dt.date(2025, 2, 2))
    with pytest.raises(InputError, match=r"`period` was '2025-Q5'"):
        parse_period("2025-Q5")
    with pytest.raises(InputError, match="last day comes before its first"):
        parse_period("2025-02-02..2025-01-30")


def test_the_demo_maps_its_three_categories(demo_engine: Engine) -> None:
    assert category_map(demo_engine) == {
        "petition": ["petition"],
        "accident": ["safety_accident"],
        "security": ["public_security_case"],
    }
    assert default_categories(demo_engine) == category_map(demo_engine)


@pytest.mark.parametrize("period", PERIODS)
def test_figures_match_independent_counts(demo_engine: Engine, period: str) -> None:
    figures = sanling_figures(demo_engine, period).set_index("community_code")
    expected = _independent(demo_engine, period)
    assert list(figures.index) == list(expected.index)
    for figure in SANLING_FIGURES:
        assert figures[figure].tolist() == expected[figure].tolist(), figure
    zero = (expected.sum(axis=1) == 0).tolist()
    assert figures["sanling"].tolist() == zero
    assert (figures["period"] == parse_period(period).label).all()


def test_the_demo_has_communities_of_both_kinds(demo_engine: Engine) -> None:
    year = sanling_figures(demo_engine, "2025")
    month = sanling_figures(demo_engine, "2025-06")
    assert year["total"].sum() > 0 and (~year["sanling"]).sum() > 0
    assert month["sanling"].sum() > 0
    # A street's figures are its communities' rows of the district's.
    street = str(year["street_code"].iloc[0])
    own = sanling_figures(demo_engine, "2025", within=street)
    assert own["community_code"].tolist() == [
        c for c in year["community_code"] if c.startswith(street)
    ]
    with pytest.raises(NotFoundError, match="no area has that code"):
        sanling_figures(demo_engine, "2025", within="999999999")


def test_merged_and_rejected_cases_do_not_count(demo_engine: Engine) -> None:
    cell, lon, lat = cell_point(demo_engine)
    code = cell[:12]
    before = sanling_figures(demo_engine, "2025-06").set_index("community_code")
    when = dt.datetime(2025, 6, 10, 9, 30, tzinfo=CHINA_TZ)
    filed = [
        create_case(demo_engine, category="petition", lon=lon, lat=lat, reported_at=when,
                    description=f"上访 {i}", actor="test")["id"]
        for i in range(3)
    ]  # fmt: skip
    grown = sanling_figures(demo_engine, "2025-06").set_index("community_code")
    assert grown.loc[code, "petition"] == before.loc[code, "petition"] + 3
    assert not grown.loc[code, "sanling"]
    advance_case(demo_engine, filed[0], "rejected", actor="test", note="误报")
    merge_cases(demo_engine, filed[1], filed[2], actor="test", note="重复")
    after = sanling_figures(demo_engine, "2025-06").set_index("community_code")
    assert after.loc[code, "petition"] == before.loc[code, "petition"] + 1
    assert filed[2] in counted_cases(demo_engine, "2025-06", code, figure="petition")
    assert not set(filed[:2]) & set(counted_cases(demo_engine, "2025-06", code))
    assert after["petition"].tolist() == _independent(demo_engine, "2025-06")["petition"].tolist()


def test_the_mapping_is_edited_and_audited(demo_engine: Engine) -> None:
    before = sanling_figures(demo_engine, "2025")
    after = set_categories(
        demo_engine, {"security": ["public_security_case", "治安隐患"]}, actor="admin-li"
    )
    assert after["security"] == ["public_security", "public_security_case"]
    assert after["petition"] == ["petition"]
    wider = sanling_figures(demo_engine, "2025")
    assert wider["security"].sum() > before["security"].sum()
    assert (wider["security"] == _independent(demo_engine, "2025")["security"].to_numpy()).all()
    with demo_engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT actor FROM audit_log WHERE object_type = 'sanling_categories' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar_one()
    assert audited == "admin-li"
    with pytest.raises(InputError, match="counts for one figure only"):
        set_categories(demo_engine, {"petition": ["dispute"], "security": ["dispute"]}, actor="a")
    with pytest.raises(NotFoundError, match="'火灾'"):
        set_categories(demo_engine, {"accident": ["火灾"]}, actor="a")
    with pytest.raises(InputError, match="`figure` was 'fire'"):
        set_categories(demo_engine, {"fire": ["fire_safety"]}, actor="a")


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gpkg"])
def test_the_export_holds_a_row_per_community(demo_engine: Engine, tmp_path, fmt: str) -> None:
    figures = sanling_figures(demo_engine, "2025-Q2")
    path = tmp_path / f"sanling.{fmt}"
    rows = export_sanling(demo_engine, "2025-Q2", fmt, path)
    assert rows == len(figures)
    if fmt == "csv":
        read = pd.read_csv(path, dtype={"community_code": str, "street_code": str})
    elif fmt == "xlsx":
        read = pd.read_excel(path, dtype={"community_code": str, "street_code": str})
    else:
        read = pyogrio.read_dataframe(path)
        assert read.geometry.notna().all()
    assert read["community_code"].tolist() == figures["community_code"].tolist()
    assert read["period"].astype(str).unique().tolist() == ["2025-Q2"]
    assert read["petition"].tolist() == figures["petition"].tolist()
    assert read["status"].tolist() == ["三零" if s else "未达标" for s in figures["sanling"]]
    with pytest.raises(InputError, match="`fmt` was 'shp'"):
        export_sanling(demo_engine, "2025", "shp", io.BytesIO())


@pytest.fixture
def demo_app(demo_url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": demo_url})


def test_the_route_and_the_drill_down(demo_app: Flask, demo_url: str) -> None:
    engine = create_engine(demo_url)
    try:
        figures = sanling_figures(engine, "2025").set_index("community_code")
    finally:
        engine.dispose()
    street = str(figures["street_code"].iloc[0])
    other = next(s for s in figures["street_code"] if s != street)
    add_test_user(demo_url, "sanling-office", role="street", street=street)
    add_test_user(demo_url, "sanling-analyst", role="analyst")
    office = demo_app.test_client()
    log_in_client(office, "sanling-office")
    answer = response_json(office.get("/api/party/sanling?period=2025"), 200)
    rows = {r["community_code"]: r for r in answer["communities"]}
    assert set(rows) == {c for c in figures.index if c.startswith(street)}
    for code, row in rows.items():
        assert row["total"] == figures.loc[code, "total"]
        assert row["sanling"] == bool(figures.loc[code, "sanling"])
    assert answer["sanling"] == sum(r["sanling"] for r in rows.values())
    assert response_json(office.get(f"/api/party/sanling?period=2025&area={other}"), 403)
    assert response_json(office.get("/api/party/sanling?period=2025-13"), 400)
    # The drill-down: the case list of the counted categories, community and days.
    busy = max(rows.values(), key=lambda r: r["total"])
    assert office.get(busy["cases_url"]).status_code == 200
    asked = parse_qs(urlsplit(busy["cases_url"]).query)
    assert asked["community"] == [busy["community_code"]]
    assert (asked["since"], asked["until"]) == (["2025-01-01"], ["2025-12-31"])
    engine = create_engine(demo_url)
    try:
        shown = list_cases(
            engine, community=busy["community_code"], category=asked["category"][0].split(","),
            since=parse_period("2025").bounds()[0], until=parse_period("2025").bounds()[1],
            limit=1000,
        )  # fmt: skip
        counted = counted_cases(engine, "2025", busy["community_code"])
    finally:
        engine.dispose()
    listed = {c["id"] for c in shown if c["step"] != "rejected"}
    assert listed == set(counted) and len(counted) == busy["total"]
    analyst = demo_app.test_client()
    token = log_in_client(analyst, "sanling-analyst")
    everything = response_json(analyst.get("/api/party/sanling?period=2025-Q1"), 200)
    assert len(everything["communities"]) == len(figures)
    download = analyst.get("/api/party/sanling.xlsx?period=2025-Q1")
    assert download.status_code == 200
    assert len(pd.read_excel(io.BytesIO(download.data))) == len(figures)
    refused = analyst.put("/api/party/sanling/categories", json={}, headers={"X-CSRF-Token": token})
    assert response_json(refused, 403)
    html = office.get("/party/sanling?period=2025-Q2")
    assert html.status_code == 200 and "三零社区" in html.get_data(as_text=True)


def test_the_cli_exports_the_figures(demo_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    out = tmp_path / "三零.csv"
    runner = CliRunner()
    done = runner.invoke(
        main, ["export", "sanling", "--period", "2025-Q3", "--format", "csv", "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    engine = create_engine(demo_url)
    try:
        figures = sanling_figures(engine, "2025-Q3")
    finally:
        engine.dispose()
    assert f"wrote {len(figures)} communities" in done.output
    read = pd.read_csv(out, dtype={"community_code": str})
    assert read["total"].tolist() == figures["total"].tolist()
    wrong = runner.invoke(main, ["export", "sanling", "--period", "Q3", "--format", "csv"])
    assert wrong.exit_code == 1 and "`period` was 'Q3'" in wrong.output
