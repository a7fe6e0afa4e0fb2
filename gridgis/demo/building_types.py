"""The building types of the demo, which type an urban compound gets, and the floors drawn.

The types and their figures are told in the table of :mod:`gridgis.demo.buildings`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["BUILDING_TYPES", "BuildingType"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class BuildingType:
    """A residential building type: footprint, lattice spacing, units, floors."""

    name: str
    unit_length: float
    depth: float
    gap_x: float
    gap_y: float
    units: tuple[int, int]
    per_floor: tuple[int, int]
    floors: tuple[int, int]


BUILDING_TYPES: dict[str, BuildingType] = {
    t.name: t
    for t in (
        BuildingType("lane", 10.0, 8.0, 4.0, 4.0, (1, 1), (1, 1), (2, 4)),
        BuildingType("walkup", 16.0, 12.0, 10.0, 22.0, (2, 4), (2, 2), (5, 7)),
        BuildingType("midrise", 20.0, 16.0, 16.0, 36.0, (1, 2), (2, 4), (11, 18)),
        BuildingType("tower", 24.0, 22.0, 22.0, 50.0, (1, 2), (3, 6), (26, 33)),
        BuildingType("dorm", 24.0, 14.0, 14.0, 24.0, (2, 2), (6, 6), (6, 12)),
        BuildingType("village", 12.0, 10.0, 8.0, 8.0, (1, 1), (1, 1), (2, 5)),
        BuildingType("commercial", 30.0, 20.0, 18.0, 24.0, (1, 1), (0, 0), (2, 24)),
    )
}
"""The residential building types (see :mod:`gridgis.demo.buildings`)."""

_DENSER = {"lane": "walkup", "walkup": "midrise", "midrise": "tower", "dorm": "midrise"}
_SPARSER = {"tower": "midrise", "midrise": "walkup", "dorm": "walkup"}


def _draw_attributes(
    types: NDArray[np.object_], units: IntArray, rng: np.random.Generator, *, dense: bool = False
) -> tuple[IntArray, IntArray]:
    """Floors and households per floor for buildings of the given types."""
    floors = np.empty(len(types), dtype=np.int64)
    per_floor = np.empty(len(types), dtype=np.int64)
    for name, spec in BUILDING_TYPES.items():
        mask = types == name
        if not mask.any():
            continue
        lo, hi = spec.floors
        if name == "walkup":
            floors[mask] = rng.choice([5, 6, 6, 6, 7], mask.sum())
        elif name == "village":
            floors[mask] = rng.choice([2, 3, 3, 4, 4, 5], mask.sum())
        else:
            floors[mask] = rng.integers(hi if dense else lo, hi + 1, mask.sum())
        p_lo, p_hi = spec.per_floor
        per_floor[mask] = rng.integers(p_hi if dense else p_lo, p_hi + 1, mask.sum())
    return floors, per_floor


def _urban_types(
    distance: FloatArray, core_radius: float, town: NDArray[np.bool_], rng: np.random.Generator
) -> NDArray[np.object_]:
    """Residential type of each urban compound from its distance to the centre."""
    d = distance / max(core_radius, 1.0)
    p_core_inner = np.array([0.30, 0.50, 0.15, 0.05])
    p_core_outer = np.array([0.08, 0.42, 0.30, 0.20])
    p_outside = np.array([0.05, 0.30, 0.35, 0.30])
    p_town = np.array([0.30, 0.40, 0.20, 0.10])
    t = np.clip(d / 0.6, 0.0, 1.0)[:, None]
    p = np.where(d[:, None] <= 1.0, (1 - t) * p_core_inner + t * p_core_outer, p_outside)
    p = np.where(town[:, None], p_town, p)
    cum = np.cumsum(p, axis=1)
    draw = rng.random(len(d))[:, None]
    choice = (draw > cum).sum(axis=1)
    return np.asarray(["lane", "walkup", "midrise", "tower"], dtype=object)[np.minimum(choice, 3)]
