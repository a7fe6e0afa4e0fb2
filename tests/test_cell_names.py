"""Cells have names (issue 17, point 7): a default after the community and number, kept by a
redraw that keeps the code, editable on the CLI and the cell's page, in every export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import sign_in
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.audit import read_audit
from gridgis.cli import main
from gridgis.codes import default_cell_name
from gridgis.db.engine import dispose_engines
from gridgis.db.layout import publish_cells, read_inputs, rename_cell
from gridgis.errors import InputError, NotFoundError

COMMUNITY = "350304002005"
STREET = "350304002"


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _names(engine: Engine) -> dict[str, tuple[str | None, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT g.code, g.name, c.name AS community FROM grid_cell g "
                "JOIN community c ON c.code = g.community_code WHERE g.valid_to IS NULL"
            )
        )
        return {r.code: (r.name, r.community) for r in rows}


def test_every_demo_cell_has_its_default_name(demo_engine: Engine) -> None:
    names = _names(demo_engine)
    assert len(names) > 100
    for code, (name, community) in names.items():
        assert name == default_cell_name(community, code)
    assert any(name.endswith("村第1网格") for name, _ in names.values())  # 村委会 -> 村


def test_a_redraw_keeps_names_of_kept_codes_and_names_new_cells(demo_engine: Engine) -> None:
    cells = read_inputs(demo_engine, COMMUNITY).cells.rename_geometry("geometry")
    cells = cells.sort_values("households", ascending=False).reset_index(drop=True)
    kept, _ = cells["code"].tolist()
    rename_cell(demo_engine, kept, "  南郊 一号 网格 ", actor="t")
    assert _names(demo_engine)[kept][0] == "南郊 一号 网格"
    merged = cells.iloc[:1][["code", "geometry"]].copy()
    merged["geometry"] = [shapely.union(cells.geometry[0], cells.geometry[1])]
    with demo_engine.begin() as conn:
        publish_cells(conn, COMMUNITY, merged, method="edit", expected_version=None, actor="t")
    assert _names(demo_engine)[kept][0] == "南郊 一号 网格"  # reshaped, same name
    [row] = read_audit(demo_engine, object_type="cell", object_id=kept).itertuples()
    assert row.action == "rename" and row.actor == "t"


def test_bad_names_and_unknown_cells_are_refused(demo_engine: Engine) -> None:
    code = next(iter(_names(demo_engine)))
    for bad in ("", "   ", "x" * 61, "a\x00b"):
        with pytest.raises(InputError, match="a cell name must be 1 to 60 characters"):
            rename_cell(demo_engine, code, bad, actor="t")
    with pytest.raises(NotFoundError, match="no active cell has the code '350304002005999'"):
        rename_cell(demo_engine, "350304002005999", "名字", actor="t")


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "csv", "xlsx", "shp"])
def test_names_are_in_every_export(
    demo_env: str, demo_engine: Engine, tmp_path: Path, fmt: str
) -> None:
    runner = CliRunner()
    code = next(c for c in _names(demo_engine) if c.startswith(COMMUNITY))
    renamed = runner.invoke(main, ["cells", "rename", code, "东梅社区第3网格"])
    assert renamed.exit_code == 0, renamed.output
    assert f"cell {code}: " in renamed.output and "-> 东梅社区第3网格" in renamed.output
    out = tmp_path / f"cells.{'zip' if fmt == 'shp' else fmt}"
    done = runner.invoke(
        main, ["export", "cells", "--format", fmt, "--street", STREET, "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    if fmt == "csv":
        frame = pd.read_csv(out, dtype=str)
    elif fmt == "xlsx":
        frame = pd.read_excel(out, dtype=str)
    else:
        frame = pyogrio.read_dataframe(f"/vsizip/{out}" if fmt == "shp" else out)
    code_column = next(c for c in frame.columns if c.lower() in {"code", "cell_code", "网格编码"})
    name_column = next(c for c in frame.columns if c.lower() in {"name", "cell_name", "网格名称"})
    names = dict(zip(frame[code_column].astype(str), frame[name_column], strict=True))
    assert names[code] == "东梅社区第3网格"
    assert all(isinstance(n, str) and n.endswith("网格") for n in names.values())


def test_renaming_on_the_cells_page(client: FlaskClient, demo_engine: Engine) -> None:
    code = next(c for c in _names(demo_engine) if c.startswith(COMMUNITY))
    token = sign_in(client, role="street", street=STREET)
    page = client.get(f"/area/{code}").get_data(as_text=True)
    assert 'id="area-rename"' in page
    done = client.post(f"/area/{code}/name", data={"csrf_token": token, "name": "南郊甲网格"})
    assert done.status_code == 302
    assert "南郊甲网格" in client.get(f"/area/{code}").get_data(as_text=True)
    other = next(c for c in _names(demo_engine) if not c.startswith(STREET))
    refused = client.post(f"/area/{other}/name", data={"csrf_token": token, "name": "x"})
    assert refused.status_code == 403
    assert _names(demo_engine)[other][0] != "x"


def test_a_refused_name_is_told_in_the_page_language(
    client: FlaskClient, demo_engine: Engine
) -> None:
    code = next(c for c in _names(demo_engine) if c.startswith(COMMUNITY))
    token = sign_in(client, role="street", street=STREET)
    form = {"csrf_token": token, "name": "\t"}
    chinese = client.post(f"/area/{code}/name", data=form)
    assert chinese.status_code == 400
    assert "网格名称应为 1 到 60 个字的文本，而不是 &#39;\\t&#39;" in chinese.get_data(as_text=True)
    english = client.post(f"/area/{code}/name?lang=en", data=form).get_data(as_text=True)
    assert "a cell name must be 1 to 60 characters of text, not &#39;\\t&#39;" in english
