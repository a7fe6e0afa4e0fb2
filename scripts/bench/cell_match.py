"""Benchmark the match of an old and a new layout (gridgis.partition.lineage) for a city.

The goal of issue 17: under 2 s for a 30,000-cell city.

Input (synthetic, seeded): a city of ``--cells`` square cells (a square grid of
250 m cells in a metric CRS) holding ``--buildings-per-cell`` buildings each, as
points with 5–40 households. The new layout is the old one with about 10 % of
the cells changed: a tenth of the cells are split in two along a random vertical
line, another tenth of horizontal neighbour pairs merged, the rest unchanged.

Measured, best of ``--repeat`` runs each, in one process:

``gridgis``
    :func:`gridgis.partition.lineage.match_cells` (both layouts and the
    buildings; places every building in both, sums the shared households,
    decides continuations and clear successors).
``geopandas``
    The plain way with geopandas: ``gpd.sjoin`` of the buildings with each layout,
    a ``groupby`` of shared households per pair, and ``gpd.overlay`` (intersection)
    of the two layouts for the shares by area — what one writes without gridgis.
    It decides nothing; it only computes the pairs.

Run: ``python scripts/bench/cell_match.py [--cells 30000]``.
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.partition.lineage import match_cells

CELL = 250.0


def city(cells: int, per_cell: int, seed: int) -> tuple[gpd.GeoDataFrame, ...]:
    """Old layout, new layout (about 10 % changed) and buildings."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(cells)))
    ij = np.array([(i, j) for i in range(side) for j in range(side)][:cells])
    x0, y0 = ij[:, 0] * CELL, ij[:, 1] * CELL
    old = gpd.GeoDataFrame(
        {"code": [f"{k:06d}" for k in range(cells)]},
        geometry=shapely.box(x0, y0, x0 + CELL, y0 + CELL),
        crs="EPSG:4547",
    )
    n = cells * per_cell
    owner = np.repeat(np.arange(cells), per_cell)
    points = shapely.points(
        x0[owner] + rng.uniform(1, CELL - 1, n), y0[owner] + rng.uniform(1, CELL - 1, n)
    )
    buildings = gpd.GeoDataFrame(
        {"households": rng.integers(5, 41, n)}, geometry=points, crs="EPSG:4547"
    )
    kind = rng.random(cells)
    new_geoms: list[shapely.Geometry] = []
    merged: set[int] = set()
    by_position = {(int(i), int(j)): k for k, (i, j) in enumerate(ij)}
    for k in range(cells):
        if k in merged:
            continue
        box = old.geometry.iloc[k]
        if kind[k] < 0.1:  # split along a random vertical line
            cut = x0[k] + rng.uniform(0.3, 0.7) * CELL
            new_geoms += [
                shapely.box(x0[k], y0[k], cut, y0[k] + CELL),
                shapely.box(cut, y0[k], x0[k] + CELL, y0[k] + CELL),
            ]
        elif kind[k] < 0.2 and (right := by_position.get((int(ij[k, 0]) + 1, int(ij[k, 1])))):
            if right not in merged and kind[right] >= 0.2:
                merged.add(right)
                new_geoms.append(shapely.union(box, old.geometry.iloc[right]))
            else:
                new_geoms.append(box)
        else:
            new_geoms.append(box)
    new = gpd.GeoDataFrame(geometry=new_geoms, crs="EPSG:4547")
    return old, new, buildings


def plain_geopandas(
    old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame
) -> pd.DataFrame:
    """The pairs the plain geopandas way: two spatial joins, a groupby, an overlay."""
    a = gpd.sjoin(buildings, old[["geometry"]], predicate="within").rename(
        columns={"index_right": "old"}
    )
    b = gpd.sjoin(buildings, new[["geometry"]], predicate="within").rename(
        columns={"index_right": "new"}
    )
    both = a[["old", "households"]].join(b[["new"]], how="inner")
    pairs = both.groupby(["old", "new"], as_index=False)["households"].sum()
    overlay = gpd.overlay(
        old[["geometry"]].assign(old=old.index),
        new[["geometry"]].assign(new=new.index),
        how="intersection",
        keep_geom_type=True,
    )
    overlay["area"] = overlay.area
    return pairs.merge(overlay[["old", "new", "area"]], on=["old", "new"], how="outer")


def best(repeat: int, run: object) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cells", type=int, default=30_000)
    parser.add_argument("--buildings-per-cell", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    old, new, buildings = city(args.cells, args.buildings_per_cell, args.seed)
    match = match_cells(old, new, buildings)
    kept = len(match.continues) / len(old)
    ours = best(args.repeat, lambda: match_cells(old, new, buildings))
    theirs = best(args.repeat, lambda: plain_geopandas(old, new, buildings))
    print(
        f"city: {len(old):,} old cells, {len(new):,} new cells, {len(buildings):,} buildings "
        f"(seed {args.seed})"
    )
    print(f"codes kept: {kept:.1%} of old cells; clear successors: {len(match.successor):,}")
    print(f"gridgis match_cells: {ours:.2f} s (best of {args.repeat}; goal: under 2 s)")
    print(f"geopandas sjoin+groupby+overlay (pairs only): {theirs:.2f} s")
    print(f"ratio geopandas / gridgis: {theirs / ours:.1f}")


if __name__ == "__main__":
    main()
