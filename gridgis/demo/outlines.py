"""The demo district's outlines and cells as a district office's files, and their import.

:func:`write_outlines` writes the street offices (街道.gpkg: 编码, 名称), the communities
(社区.gpkg: 编码, 名称, 类型, 每格最少户数, 每格最多户数) and the cells the demo's
engine drew (网格.gpkg: 编码, 标记) as GeoPackages in EPSG:4326;
:func:`import_outlines` and :func:`import_cells` load them through
:func:`gridgis.db.load.import_boundaries`, the importer of ``gridgis import boundaries``,
in the caller's transaction: the commands a user would run are

.. code-block:: sh

    gridgis import boundaries 街道.gpkg --level street --code-field 编码 --name-field 名称
    gridgis import boundaries 社区.gpkg --level community --code-field 编码 --name-field 名称 \\
            --kind-field 类型 --min-field 每格最少户数 --max-field 每格最多户数
    gridgis import boundaries 网格.gpkg --level cell --code-field 编码 --flags-field 标记

The cells are published with the method ``draw`` (the demo's engine drew them, the
file only carries them), noted ``demo district`` and published by ``gridgis demo``.
GeoPackages, not GeoJSON: they keep every coordinate's double exactly, so that the
cells meet their communities' outlines along identical edges as drawn.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from sqlalchemy import Connection

from gridgis.boundaries import prepare_boundaries
from gridgis.db.load import ImportReport, import_boundaries
from gridgis.errors import InputError, ValidationError
from gridgis.io import read_vector

__all__ = [
    "CELLS_FILE",
    "COMMUNITIES_FILE",
    "OUTLINE_HEADERS",
    "STREETS_FILE",
    "import_cells",
    "import_outlines",
    "write_outlines",
]

STREETS_FILE = "街道.gpkg"
"""The demo's outlines of its street offices, in its folder."""

COMMUNITIES_FILE = "社区.gpkg"
"""The demo's outlines of its communities, with their kinds and households per cell."""

CELLS_FILE = "网格.gpkg"
"""The cells the demo's engine drew, with their flags."""

OUTLINE_HEADERS = {
    "code": "编码",
    "name": "名称",
    "kind": "类型",
    "min_households": "每格最少户数",
    "max_households": "每格最多户数",
    "flags": "标记",
}
"""The fields of the demo's outline files, by what they hold."""

_KIND_NAMES = {"urban": "社区", "rural": "村"}
"""A community's kind as the communities' file writes it (read back by the importer)."""


def _write(frame: gpd.GeoDataFrame, path: Path, layer: str) -> Path:
    if frame.crs is None or not frame.crs.equals("EPSG:4326"):
        raise InputError(f"the {layer} are in {frame.crs} but are expected in EPSG:4326")
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio")
    return path


def write_outlines(
    streets: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    folder: str | Path,
) -> dict[str, Path]:
    """Write the street offices, communities and cells of a generated district as files.

    Parameters
    ----------
    streets:
        ``code``, ``name``, polygons.
    communities:
        ``code``, ``name``, ``db_kind`` (``urban``/``rural``), ``min_households``,
        ``max_households``, polygons.
    cells:
        ``code``, ``flags`` (list of str), polygons.
    folder:
        Where to write (created when missing).

    Returns
    -------
    dict
        ``streets``, ``communities``, ``cells``: the files written (replaced if they exist).

    Raises
    ------
    InputError
        When a frame is not in EPSG:4326.
    """
    h = OUTLINE_HEADERS
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    street_file = gpd.GeoDataFrame(
        {h["code"]: streets["code"].astype(str).to_numpy(), h["name"]: streets["name"].to_numpy()},
        geometry=streets.geometry.to_numpy(),
        crs=streets.crs,
    )
    community_file = gpd.GeoDataFrame(
        {
            h["code"]: communities["code"].astype(str).to_numpy(),
            h["name"]: communities["name"].to_numpy(),
            h["kind"]: communities["db_kind"].map(_KIND_NAMES).to_numpy(),
            h["min_households"]: communities["min_households"].astype("int64").to_numpy(),
            h["max_households"]: communities["max_households"].astype("int64").to_numpy(),
        },
        geometry=communities.geometry.to_numpy(),
        crs=communities.crs,
    )
    cell_file = gpd.GeoDataFrame(
        {
            h["code"]: cells["code"].astype(str).to_numpy(),
            h["flags"]: [";".join(f) if len(f) else None for f in cells["flags"]],
        },
        geometry=cells.geometry.to_numpy(),
        crs=cells.crs,
    )
    return {
        "streets": _write(street_file, out / STREETS_FILE, "街道"),
        "communities": _write(community_file, out / COMMUNITIES_FILE, "社区"),
        "cells": _write(cell_file, out / CELLS_FILE, "网格"),
    }


def _imported(
    conn: Connection,
    path: Path,
    level: str,
    *,
    actor: str,
    fields: dict[str, str] | None = None,
    method: str = "import",
    published_by: str | None = None,
    note: str | None = None,
) -> ImportReport:
    """Import ``path`` as boundaries of ``level`` (the optional ``fields`` of
    :func:`gridgis.boundaries.prepare_boundaries` named) in ``conn``'s transaction; refuse a
    file whose every row was not stored as it is (a row repaired, or one stored already)."""
    h = OUTLINE_HEADERS
    prepared = prepare_boundaries(
        read_vector(path), level=level, code_field=h["code"], name_field=h["name"],
        **(fields or {}),
    )  # fmt: skip
    report = import_boundaries(
        conn, prepared, level=level, actor=actor, method=method, published_by=published_by,
        note=note,
    )  # fmt: skip
    stored = len(report.inserted) + len(report.updated)
    if report.repaired or stored != report.rows_read:
        found = "".join(f"; {f}" for f in report.repaired[:5])
        raise ValidationError(
            f"the demo's file {path.name} did not import cleanly: {stored} of "
            f"{report.rows_read} {level} outlines stored{found}; nothing was loaded"
        )
    return report


def import_outlines(conn: Connection, files: dict[str, Path], *, actor: str) -> None:
    """Import the street offices' and the communities' files of :func:`write_outlines`.

    Raises
    ------
    ValidationError, BoundaryImportError
        When a row was rejected or repaired, or an outline sticks out of its parent or
        overlaps a sibling: nothing is stored (the caller's transaction is rolled back).
    """
    h = OUTLINE_HEADERS
    _imported(conn, files["streets"], "street", actor=actor)
    fields = {"kind_field": h["kind"], "min_field": h["min_households"],
              "max_field": h["max_households"]}  # fmt: skip
    _imported(conn, files["communities"], "community", actor=actor, fields=fields)


def import_cells(
    conn: Connection, path: Path, *, actor: str, published_by: str, note: str
) -> ImportReport:
    """Import the cells' file of :func:`write_outlines`, published as drawn (method ``draw``).

    Raises
    ------
    ValidationError, BoundaryImportError
        As :func:`import_outlines`.
    """
    return _imported(
        conn, path, "cell", actor=actor, fields={"flags_field": OUTLINE_HEADERS["flags"]},
        method="draw", published_by=published_by, note=note,
    )  # fmt: skip
