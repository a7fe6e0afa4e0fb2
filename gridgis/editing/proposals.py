"""Proposing a community's cells: by the cell engine, or from an uploaded file.

:func:`propose_layout` draws or adjusts the cells of the community as
stored, :func:`propose_from_file` takes them from a layout file; both
return a :class:`Proposal` with the validator's report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from sqlalchemy import Connection, Engine

from gridgis.db.layout import CommunityInputs, read_inputs
from gridgis.editing.files import read_layout_file
from gridgis.errors import InputError
from gridgis.partition import adjust_cells, draw_cells
from gridgis.partition.reconcile import reconcile_codes
from gridgis.partition.validate import LayoutReport, validate_layout

PROPOSE_METHODS = ("draw", "adjust")
"""What :func:`propose_layout` can run."""


CELL_COLUMNS = ["code", "households", "flags", "geometry"]
"""The columns of a proposal's cells."""


class NothingToDrawError(InputError):
    """The community has no buildings, so the engine has nothing to draw cells around."""


@dataclass
class Proposal:
    """A new layout for one community, not yet stored or published.

    Attributes
    ----------
    community_code, community_name:
        The community.
    method:
        ``"draw"``, ``"adjust"`` or ``"import"`` (an uploaded file): what made it.
    base_version:
        The layout version the cells were computed from (0: never drawn);
        publishing is refused once the community is at another version.
    cells:
        ``code``, ``households`` (counted from the buildings), ``flags`` (the
        engine's, a list of str) and the polygon, EPSG:4326.
    report:
        The validator's findings on these cells, against the community's
        outline, buildings and household bounds.
    bounds:
        The ``(min, max)`` households per cell the cells were made and judged with.
    encoding, encoding_source:
        For a shapefile read from a file: its text encoding and where that came from
        (see :func:`gridgis.io.read_vector`); ``None`` otherwise.
    """

    community_code: str
    community_name: str
    method: str
    base_version: int
    cells: gpd.GeoDataFrame
    report: LayoutReport
    bounds: tuple[int, int]
    encoding: str | None = None
    encoding_source: str | None = None

    def flagged(self) -> list[str]:
        """One line per cell the engine flagged (e.g. a building above the maximum)."""
        return [
            f"{row.code}: {row.households} households ({', '.join(row.flags)})"
            for row in self.cells.itertuples()
            if row.flags
        ]


def _bounds(
    inputs: CommunityInputs, min_households: int | None, max_households: int | None
) -> tuple[int, int]:
    low = inputs.bounds[0] if min_households is None else int(min_households)
    high = inputs.bounds[1] if max_households is None else int(max_households)
    if low < 0 or low > high:
        raise InputError(
            f"households per cell must satisfy 0 <= min <= max, but min was {low} and max {high}",
            zh=f"每个网格的户数应满足 0 ≤ 最小值 ≤ 最大值，但最小值为 {low}，最大值为 {high}",
        )
    return low, high


def _validated(
    inputs: CommunityInputs, cells: gpd.GeoDataFrame, method: str, bounds: tuple[int, int]
) -> Proposal:
    """Judge ``cells`` against the community's outline, buildings and bounds."""
    cells = cells.copy()
    if "flags" not in cells.columns:
        cells["flags"] = [[] for _ in range(len(cells))]
    cells["flags"] = [list(f) if isinstance(f, list | tuple) else [] for f in cells["flags"]]
    outline = gpd.GeoDataFrame({"code": [inputs.code]}, geometry=[inputs.outline], crs="EPSG:4326")
    units = inputs.buildings.rename_geometry("geometry")
    report = validate_layout(
        cells,
        communities=outline,
        units=units if not units.empty else None,
        households="households" if not units.empty else None,
        min_households=bounds[0],
        max_households=bounds[1],
        flags="flags",
    )
    counted = report.households
    if counted is not None:
        cells["households"] = counted.fillna(0).astype(int).to_numpy()
    elif "households" not in cells.columns:
        cells["households"] = 0
    return Proposal(
        community_code=inputs.code,
        community_name=inputs.name,
        method=method,
        base_version=inputs.version,
        cells=gpd.GeoDataFrame(cells[CELL_COLUMNS], geometry="geometry", crs="EPSG:4326"),
        report=report,
        bounds=bounds,
    )


def propose_layout(
    bind: Engine | Connection,
    community_code: str,
    *,
    method: str = "draw",
    seed: int = 0,
    min_households: int | None = None,
    max_households: int | None = None,
) -> Proposal:
    """Compute a new layout for one community with the cell engine; publish nothing.

    Parameters
    ----------
    bind:
        The database (read only).
    community_code:
        The community's 12-digit code.
    method:
        ``"draw"``: draw every cell again (cells that come out the same keep
        their codes, the others get fresh ones, never a retired one);
        ``"adjust"``: split or merge only the cells whose households break
        the bounds (动态调整). A community never drawn is drawn.
    seed:
        Random seed of the engine.
    min_households, max_households:
        Households per cell; ``None``: the community's own bounds (else 300–500).

    Returns
    -------
    Proposal
        With ``method`` the one actually run.

    Raises
    ------
    NotFoundError
        When the community does not exist.
    NothingToDrawError
        When it has no buildings.
    InputError
        When ``method`` or the bounds are wrong, or it has no outline.

    Examples
    --------
    >>> p = propose_layout(engine, "350304002001", method="adjust")
    >>> p.report.ok, p.base_version
    (True, 1)
    """
    if method not in PROPOSE_METHODS:
        raise InputError(
            f"`method` was {method!r} but is expected to be one of {PROPOSE_METHODS}",
            zh=f"`method` 为 {method!r}，应为以下之一：{PROPOSE_METHODS}",
        )
    inputs = read_inputs(bind, community_code)
    bounds = _bounds(inputs, min_households, max_households)
    if inputs.buildings.empty:
        raise NothingToDrawError(
            f"community {inputs.code} ({inputs.name}) has no buildings: there is nothing "
            "to draw cells around",
            zh=f"社区 {inputs.code}（{inputs.name}）没有楼栋：无法划分网格",
        )
    buildings = inputs.buildings.rename_geometry("geometry")
    roads = inputs.roads if not inputs.roads.empty else None
    old = inputs.cells.rename_geometry("geometry")
    if method == "adjust" and not old.empty:
        active = set(old["code"])
        cells = adjust_cells(
            old,
            buildings,
            community=inputs.outline,
            community_code=inputs.code,
            roads=roads,
            retired_codes=[c for c in inputs.used_codes if c not in active],
            seed=seed,
            min_households=bounds[0],
            max_households=bounds[1],
        ).cells
        cells["code"] = reconcile_codes(
            cells,
            old[["code", "geometry"]],
            prefix=inputs.code,
            used_codes=inputs.used_codes,
            buildings=buildings,
        )
    else:
        method = "draw"
        cells = draw_cells(
            buildings,
            community=inputs.outline,
            community_code=inputs.code,
            roads=roads,
            seed=seed,
            min_households=bounds[0],
            max_households=bounds[1],
        ).cells.copy()
        cells["code"] = reconcile_codes(
            cells,
            old[["code", "geometry"]],
            prefix=inputs.code,
            used_codes=inputs.used_codes,
            buildings=buildings,
        )
    return _validated(inputs, cells, method, bounds)


def propose_from_file(
    bind: Engine | Connection,
    community_code: str,
    path: str | Path,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    layer: str | None = None,
    name: str | None = None,
) -> Proposal:
    """Read a layout file (see :func:`read_layout_file`) as a proposal for one community.

    The cells are judged like the engine's, against the community's outline,
    buildings and household bounds; ``method`` is ``"import"``.
    """
    inputs = read_inputs(bind, community_code)
    active = set(inputs.cells["code"])
    cells = read_layout_file(
        path,
        inputs.code,
        crs=crs,
        encoding=encoding,
        layer=layer,
        retired_codes=[c for c in inputs.used_codes if c not in active],
        name=name,
    )
    proposal = _validated(inputs, cells, "import", inputs.bounds)
    proposal.encoding = cells.attrs.get("encoding")
    proposal.encoding_source = cells.attrs.get("encoding_source")
    return proposal
