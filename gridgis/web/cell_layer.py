"""What a map page that draws cells from the vector tiles puts in its configuration.

The cell map (:mod:`gridgis.web.tiles`), the case density map
(:mod:`gridgis.web.density_pages`) and the placement map
(:mod:`gridgis.web.placement_pages`) draw the cells with ``static/js/cellmap.js``:
they give it the tiles' URL template and the extent to show first.
"""

from __future__ import annotations

from flask import url_for
from sqlalchemy import Engine

from gridgis.db import tiles as db_tiles

__all__ = ["cell_card_url", "cell_tiles_url", "cells_bounds"]


def cell_tiles_url() -> str:
    """The URL template of the cell tiles, ``/tiles/cells/{z}/{x}/{y}.pbf``, for Leaflet."""
    return url_for("tiles.cell_tile", z=0, x=0, y=0).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")


def cell_card_url() -> str:
    """The URL template of a cell's popup card, ``/api/cells/{code}``: the popup reads its
    workers, party organisations and cases from it when it opens."""
    sample = "0" * 15
    return url_for("api.cell_card_of", code=sample).replace(sample, "{code}")


def cells_bounds(engine: Engine, *, street: str | None = None) -> list[list[float]] | None:
    """Leaflet's ``[[south, west], [north, east]]`` of the active cells (of ``street``).

    ``None`` when there are none.

    Examples
    --------
    >>> cells_bounds(engine, street="350304001")
    [[25.38..., 118.98...], [25.42..., 119.05...]]
    """
    extent = db_tiles.cells_extent(engine, street=street)
    if extent is None:
        return None
    west, south, east, north = extent
    return [[south, west], [north, east]]
