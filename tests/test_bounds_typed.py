"""Bounds typed for one run are used throughout: the draft, its preview, the published version
(issue 17, point 6); the community's stored bounds change only when the user says so."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from conftest import sign_in
from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from gridgis.cli import main
from gridgis.db.engine import dispose_engines
from gridgis.editing import load_draft, propose_layout, publish_draft, save_draft

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells of about 400 households (bounds 300–500)."""


@pytest.fixture
def app_database_url(demo_url: str) -> str:
    return demo_url


def _stored_bounds(engine: Engine) -> tuple[int | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT min_households, max_households FROM community WHERE code = :c"),
            {"c": COMMUNITY},
        ).one()
    return row[0], row[1]


def _version_bounds(engine: Engine) -> tuple[int | None, int | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT min_households, max_households FROM layout_version "
                "WHERE community_code = :c ORDER BY version DESC LIMIT 1"
            ),
            {"c": COMMUNITY},
        ).one()
    return row[0], row[1]


def test_a_draft_keeps_its_bounds_and_the_version_records_them(demo_engine: Engine) -> None:
    stored = _stored_bounds(demo_engine)
    proposal = propose_layout(
        demo_engine, COMMUNITY, method="draw", min_households=150, max_households=250
    )
    assert proposal.bounds == (150, 250)
    draft_id = save_draft(demo_engine, proposal, actor="t")
    assert load_draft(demo_engine, draft_id).bounds == (150, 250)
    diff = publish_draft(demo_engine, draft_id, actor="t")
    assert diff.version == 2
    assert _version_bounds(demo_engine) == (150, 250)
    assert _stored_bounds(demo_engine) == stored  # not saved unless asked


def test_the_draft_page_judges_cells_against_the_drafts_bounds(
    client: FlaskClient, demo_engine: Engine
) -> None:
    token = sign_in(client)
    response = client.post(
        f"/edit/{COMMUNITY}/propose",
        data={"csrf_token": token, "method": "draw", "seed": "0", "min": "150", "max": "250"},
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "150–250" in page
    block = re.search(r'id="gridgis-config">(.*?)</script>', page)
    assert block is not None
    proposed = json.loads(block.group(1))["proposed"]["features"]
    assert proposed
    for feature in proposed:
        households = feature["properties"]["households"]
        assert feature["properties"]["out_of_bounds"] is not (150 <= households <= 250)
    # Publish with "save the bounds": the community's stored bounds become 150–250.
    draft_url = response.headers["Location"]
    done = client.post(f"{draft_url}/publish", data={"csrf_token": token, "save_bounds": "1"})
    assert done.status_code == 302
    assert _stored_bounds(demo_engine) == (150, 250)


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", demo_url)
    yield demo_url
    dispose_engines()


def test_the_cli_stores_typed_bounds_with_the_version_and_saves_them_when_asked(
    demo_env: str, demo_engine: Engine
) -> None:
    stored = _stored_bounds(demo_engine)
    runner = CliRunner()
    drawn = runner.invoke(
        main,
        [
            "cells",
            "draw",
            "--community",
            COMMUNITY,
            "--min",
            "150",
            "--max",
            "250",
            "--accept-unlinked",
        ],
    )
    assert drawn.exit_code == 0, drawn.output
    assert _version_bounds(demo_engine) == (150, 250) and _stored_bounds(demo_engine) == stored
    saved = runner.invoke(
        main,
        [
            "cells",
            "adjust",
            "--community",
            COMMUNITY,
            "--min",
            "120",
            "--max",
            "260",
            "--save-bounds",
            "--accept-unlinked",
        ],
    )
    assert saved.exit_code == 0, saved.output
    assert _stored_bounds(demo_engine) == (120, 260)
    assert "saved households per cell 120–260 for 1 communities" in saved.output
