"""Editing a draft's cells by hand, as the API takes and answers it.

Examples
--------
>>> HandEdit(action="merge", into="350304002005001", other="350304002005002").action
'merge'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gridgis.schemas.common import Answer, CellCode, Request

__all__ = ["DraftEditState", "EditFinding", "EditStepView", "HandEdit"]

LonLat = list[float]


class HandEdit(Request):
    """One edit of a draft's cells (which fields count depends on ``action``).

    The lists are bounded so that any edit the schema admits fits in a request body
    (:data:`gridgis.web.endpoints.MAX_BODY_BYTES`, 64 KiB).
    """

    action: Literal["move", "merge", "split", "reshape"] = Field(
        description="move: `buildings` to cell `to`; merge: `other` into `into`; "
        "split: cell `code` by `buildings` or by a `line`; reshape: cell `code` to `outline`."
    )
    buildings: list[int] | None = Field(
        None, min_length=1, max_length=2000, description="Building ids (move, split)."
    )
    to: CellCode | None = Field(None, description="The receiving cell (move).")
    into: CellCode | None = Field(None, description="The cell that keeps its code (merge).")
    other: CellCode | None = Field(None, description="The cell merged into `into` (merge).")
    code: CellCode | None = Field(None, description="The cell split or reshaped.")
    line: list[LonLat] | None = Field(
        None, min_length=2, max_length=200, description="[[lon, lat], ...] (split)."
    )
    outline: list[LonLat] | None = Field(
        None, min_length=3, max_length=1000, description="One ring [[lon, lat], ...] (reshape)."
    )


class EditFinding(Answer):
    """A validator finding on the draft, in the user's language."""

    kind: str
    severity: Literal["error", "warning"]
    code: str | None
    text: str
    lon: float | None
    lat: float | None


class EditStepView(Answer):
    """One hand edit made on the draft."""

    seq: int
    action: str
    text: str
    created_by: str | None


class DraftEditState(Answer):
    """A draft being edited by hand: its cells, buildings, findings and steps."""

    draft_id: int
    community_code: str
    community_name: str
    bounds: list[int] = Field(description="[min, max] households per cell.")
    ok: bool = Field(description="No validation error: the draft can be published.")
    stale: bool = Field(description="The community was published since the draft was made.")
    cells: dict[str, Any] = Field(description="FeatureCollection: code, name, households, ...")
    buildings: dict[str, Any] = Field(description="FeatureCollection: id, households, cell.")
    outline: dict[str, Any] = Field(description="The community's outline (GeoJSON geometry).")
    findings: list[EditFinding]
    steps: list[EditStepView]
