"""The cell commands end to end: on files (partition, validate) and on the database."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import LineString, Point, box
from sqlalchemy import Engine, text

from gridgis.cli import main

COMMUNITY = "350304001001"
OUTLINE = box(119.0, 25.40, 119.01, 25.41)


def _buildings(seed: int = 1) -> gpd.GeoDataFrame:
    """48 buildings on an 8 x 6 grid, 20-60 households each (about 1,900 in all)."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.linspace(119.0005, 119.0095, 8), np.linspace(25.4005, 25.4095, 6))
    return gpd.GeoDataFrame(
        {"households": rng.integers(20, 61, xs.size)},
        geometry=[Point(x, y) for x, y in zip(xs.ravel(), ys.ravel(), strict=True)],
        crs="EPSG:4326",
    )


def _seed_database(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO district VALUES ('350304', '荔城区', NULL)"))
        conn.execute(text("INSERT INTO street VALUES ('350304001', '350304', '镇海街道', NULL)"))
        conn.execute(
            text(
                "INSERT INTO community (code, street_code, name, geom) VALUES "
                "(:c, '350304001', '东梅社区', ST_Multi(ST_GeomFromText(:g, 4326)))"
            ),
            {"c": COMMUNITY, "g": OUTLINE.wkt},
        )
        for i, row in enumerate(_buildings().itertuples()):
            conn.execute(
                text(
                    "INSERT INTO building (community_code, location, households, residents, "
                    "address) VALUES (:c, ST_GeomFromText(:g, 4326), :h, :r, :a)"
                ),
                {
                    "c": COMMUNITY,
                    "g": row.geometry.wkt,
                    "h": int(row.households),
                    "r": int(row.households) * 3,
                    "a": f"梅园路{i + 1}号",
                },
            )


def _active(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT code, households FROM grid_cell WHERE valid_to IS NULL ORDER BY code")
        )
        return {r.code: r.households for r in rows}


def test_draw_adjust_and_history_on_the_database(
    env_database: str, engine: Engine, tmp_path: Path
) -> None:
    _seed_database(engine)
    runner = CliRunner()
    roads = tmp_path / "roads.geojson"
    gpd.GeoDataFrame(
        {"name": ["梅园路"], "kind": ["local"]},
        geometry=[LineString([(119.005, 25.399), (119.005, 25.411)])],
        crs="EPSG:4326",
    ).to_file(roads)
    imported = runner.invoke(
        main, ["import", "roads", str(roads), "--kind-field", "kind", "--name-field", "name"]
    )
    assert imported.exit_code == 0, imported.output
    assert "1 features read (roads)" in imported.output and "imported: 1" in imported.output

    dry = runner.invoke(main, ["cells", "draw", "--community", COMMUNITY, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would publish 1 of 1" in dry.output and _active(engine) == {}

    drawn = runner.invoke(main, ["cells", "draw", "--street", "350304001", "--by", "王芳"])
    assert drawn.exit_code == 0, drawn.output
    assert "version 0 -> 1" in drawn.output
    cells = _active(engine)
    total = int(_buildings()["households"].sum())
    assert sum(cells.values()) == total
    assert all(300 <= h <= 500 for h in cells.values()), cells
    assert all(code.startswith(COMMUNITY) and len(code) == 15 for code in cells)

    again = runner.invoke(main, ["cells", "draw", "--community", COMMUNITY])
    assert again.exit_code == 0, again.output
    assert "no change" in again.output and _active(engine) == cells

    # One cell grows past the bounds: adjust touches only what it must.
    biggest = max(cells, key=lambda c: cells[c])
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE building b SET households = b.households + 200 FROM grid_cell c "
                "WHERE c.code = :code AND c.valid_to IS NULL AND ST_Intersects(c.geom, b.location) "
                "AND b.id = (SELECT min(b2.id) FROM building b2 JOIN grid_cell c2 "
                "ON ST_Intersects(c2.geom, b2.location) WHERE c2.code = :code "
                "AND c2.valid_to IS NULL)"
            ),
            {"code": biggest},
        )
    adjusted = runner.invoke(main, ["cells", "adjust", "--community", COMMUNITY])
    assert adjusted.exit_code == 0, adjusted.output
    assert "version 1 -> 2" in adjusted.output
    after = _active(engine)
    assert all(300 <= h <= 500 for h in after.values()), after
    # The grown cell is split: its code stays on the part holding at least half the
    # households of both; every other cell is as it was.
    assert biggest in after and after[biggest] < cells[biggest] + 200
    assert set(cells) <= set(after) and len(after) > len(cells)
    assert all(cells[c] == after[c] for c in cells if c != biggest)

    history = runner.invoke(main, ["cells", "history", "--community", COMMUNITY])
    assert history.exit_code == 0, history.output
    assert "version 1 draw" in history.output and "by 王芳" in history.output
    assert "version 2 adjust" in history.output


def test_scope_is_required(env_database: str) -> None:
    result = CliRunner().invoke(main, ["cells", "draw"])
    assert result.exit_code == 2
    assert "exactly one of --community, --street or --district" in result.output


def test_partition_and_validate_files(tmp_path: Path) -> None:
    units = _buildings()
    units["community"] = np.where(units.geometry.x < 119.005, "A", "B")
    path = tmp_path / "units.gpkg"
    units.to_file(path)
    out = tmp_path / "cells.gpkg"
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "partition", str(path), "--households-field", "households",
            "--group-field", "community", "--min", "150", "--max", "400", "-o", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "100.0% within 150-400" in result.output
    cells = pyogrio.read_dataframe(out, layer="cells")
    mapping = pyogrio.read_dataframe(out, layer="units")
    assert len(mapping) == len(units) and mapping["cell_code"].notna().all()
    assert set(cells["group"]) == {"A", "B"}
    assert cells["households"].sum() == units["households"].sum()
    ok = runner.invoke(
        main,
        ["validate", str(out), "--units", str(path), "--households-field", "households",
         "--community-field", "group", "--min", "150", "--max", "400"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output

    broken = cells.copy()
    broken.loc[0, "geometry"] = broken.geometry.iloc[0].buffer(0.0005)
    broken_path = tmp_path / "broken.geojson"
    broken.to_file(broken_path)
    bad = runner.invoke(
        main, ["validate", str(broken_path), "--community-field", "group", "--min", "150",
               "--max", "400"],
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "overlap" in bad.output


def test_partition_needs_a_crs(tmp_path: Path) -> None:
    units = _buildings().set_crs(None, allow_override=True)
    shp = tmp_path / "units.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        pyogrio.write_dataframe(units, shp)
    result = CliRunner().invoke(
        main, ["partition", str(shp), "--households-field", "households", "-o",
               str(tmp_path / "o.gpkg")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "does not say its CRS: pass --crs" in result.output


@pytest.mark.parametrize("field", ["HH", "households"])
def test_partition_reports_missing_fields(tmp_path: Path, field: str) -> None:
    path = tmp_path / "units.gpkg"
    _buildings().to_file(path)
    result = CliRunner().invoke(
        main, ["partition", str(path), "--households-field", field, "--group-field", "nope",
               "-o", str(tmp_path / "o.gpkg")],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "has no field" in result.output
