"""Redrawing every community of an area in one publish (what `gridgis cells draw|adjust` runs)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from gridgis.db.layout import layout_history
from gridgis.errors import InputError, NotFoundError, ValidationError
from gridgis.redraw import redraw

COMMUNITY = "350304002005"
"""南郊社区居委会 of the small demo: two cells of about 400 households (bounds 300–500)."""
VILLAGE = "350304100205"
"""后卓村委会 of the small demo: one cell of 23 households."""


def _grow(engine: Engine, community: str) -> None:
    """Double the households of a community's buildings: its cells break the maximum."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE building SET households = households * 2 WHERE community_code = :c"),
            {"c": community},
        )


def test_adjust_a_dry_run_then_publish(demo_engine: Engine) -> None:
    _grow(demo_engine, COMMUNITY)
    calls: list[tuple[int, int]] = []
    dry = redraw(
        demo_engine,
        COMMUNITY,
        method="adjust",
        actor="cli:test",
        dry_run=True,
        progress=lambda *a: calls.append(a),
    )
    assert calls == [(0, 1), (1, 1)]
    assert [d.community_code for d in dry.diffs] == [COMMUNITY]
    assert dry.skipped == [] and dry.findings == []
    lines = dry.lines()
    assert lines[0] == dry.diffs[0].line()
    assert lines[-1].startswith("would publish 1 of 1 communities; ")
    assert lines[-1].endswith("households moved (dry run: nothing was changed)")
    assert len(layout_history(demo_engine, COMMUNITY)) == 1

    done = redraw(demo_engine, COMMUNITY, method="adjust", actor="cli:test", published_by="王芳")
    assert done.lines()[-1].startswith("published 1 of 1 communities; ")
    latest = layout_history(demo_engine, COMMUNITY)[-1]
    assert latest["method"] == "adjust" and latest["published_by"] == "王芳"


def test_a_community_without_buildings_is_skipped(demo_engine: Engine) -> None:
    with demo_engine.begin() as conn:
        conn.execute(text("DELETE FROM building WHERE community_code = :c"), {"c": VILLAGE})
    result = redraw(demo_engine, VILLAGE, actor="cli:test")
    assert result.diffs == []
    assert result.lines() == [
        f"skipped {result.skipped[0]}",
        "published 0 of 0 communities; 0 cells added, 0 retired, 0 reshaped (code kept), "
        "0 unchanged; 0 of 0 households moved",
    ]
    assert "has no buildings" in result.skipped[0]


def test_redraw_refuses_bad_arguments(demo_engine: Engine) -> None:
    with pytest.raises(InputError, match=r"`method` was 'redo' but is expected to be one of"):
        redraw(demo_engine, COMMUNITY, method="redo", actor="cli:test")
    with pytest.raises(NotFoundError):
        redraw(demo_engine, "999", actor="cli:test")


ISLAND = "350304102202"
"""A community of the demo in two parts that share no edge: its one cell breaks contiguity."""


def test_a_layout_with_validation_errors_is_refused_unless_allowed(demo_engine: Engine) -> None:
    before = layout_history(demo_engine, ISLAND)
    with pytest.raises(ValidationError, match="found errors in the layouts of 1 community") as info:
        redraw(demo_engine, ISLAND, method="draw", actor="cli:test", accept_unlinked=True)
    assert any("non_contiguous" in p.reason for p in info.value.problems)
    assert layout_history(demo_engine, ISLAND) == before
    dry = redraw(demo_engine, ISLAND, method="draw", actor="cli:test", dry_run=True)
    assert any("non_contiguous" in line for line in dry.findings)
    done = redraw(demo_engine, ISLAND, actor="cli:test", allow_findings=True, accept_unlinked=True)
    assert done.diffs and len(layout_history(demo_engine, ISLAND)) >= len(before)
