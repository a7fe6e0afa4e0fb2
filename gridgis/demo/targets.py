"""How many residents each community of a demo district gets, and how much land.

The first step of :mod:`gridgis.demo.areas`: villages of the profile's size,
development-zone "virtual" communities small, urban communities sharing the
rest; urban residents need land at the core or town density, villages share
what is left of the outline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridgis.demo.profiles import DistrictProfile

__all__ = ["VIRTUAL_RESIDENTS", "resident_targets"]

FloatArray = NDArray[np.float64]

VIRTUAL_RESIDENTS = 1_500
"""Typical residents of a development zone's virtual community (dormitories)."""
_MIN_VILLAGE_KM2 = 0.8


def _street_kinds(streets: pd.DataFrame) -> dict[str, str]:
    return dict(zip(streets["code"], streets["kind"], strict=True))


def resident_targets(
    profile: DistrictProfile,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    rng: np.random.Generator,
) -> pd.Series:
    """Residents of each community at scale 1, summing exactly to the profile's residents.

    Villages get about ``profile.village_residents``, virtual communities
    about :data:`VIRTUAL_RESIDENTS`, and urban communities share the rest
    (those of towns about 60 % of those of street offices), each varied by a
    log-normal factor.
    """
    kinds = communities["kind"].to_numpy()
    street_kind = communities["street_code"].map(_street_kinds(streets)).to_numpy()
    noise = rng.lognormal(0.0, 0.3, len(communities))
    residents = np.zeros(len(communities))
    village = kinds == "village"
    virtual = kinds == "virtual"
    urban = kinds == "urban"
    residents[village] = profile.village_residents * noise[village]
    residents[virtual] = VIRTUAL_RESIDENTS * noise[virtual]
    rest = profile.residents - residents[village | virtual].sum()
    if urban.any():
        if rest < 1_000 * urban.sum():
            # Not enough people left for the urban communities: shrink the villages.
            factor = (profile.residents * 0.5) / max(residents[village | virtual].sum(), 1.0)
            residents[village | virtual] *= factor
            rest = profile.residents - residents[village | virtual].sum()
        weight = noise[urban] * np.where(np.isin(street_kind[urban], ["subdistrict"]), 1.0, 0.6)
        residents[urban] = rest * weight / weight.sum()
    else:
        residents *= profile.residents / residents.sum()
    rounded = np.floor(residents).astype(np.int64)
    short = profile.residents - int(rounded.sum())
    order = np.argsort(-(residents - rounded), kind="stable")
    rounded[order[:short]] += 1
    return pd.Series(rounded, index=communities.index, name="residents")


def _area_demands(
    profile: DistrictProfile,
    streets: pd.DataFrame,
    communities: pd.DataFrame,
    residents: pd.Series,
    total_km2: float,
) -> FloatArray:
    kinds = communities["kind"].to_numpy()
    street_kind = communities["street_code"].map(_street_kinds(streets)).to_numpy()
    people = residents.to_numpy(dtype=float)
    demand = np.zeros(len(communities))
    urban = kinds == "urban"
    core = urban & (street_kind == "subdistrict")
    demand[core] = people[core] / profile.core_density
    demand[urban & ~core] = people[urban & ~core] / profile.town_density
    virtual = kinds == "virtual"
    demand[virtual] = np.maximum(2.5, people[virtual] / 1_000.0)
    village = kinds == "village"
    fixed = demand[~village].sum()
    if village.any():
        left = total_km2 - fixed
        if left < _MIN_VILLAGE_KM2 * village.sum():
            # The outline is small for its people: make every non-village denser.
            demand[~village] *= (total_km2 * 0.5) / fixed
            left = total_km2 - demand[~village].sum()
        share = np.sqrt(people[village])
        demand[village] = left * share / share.sum()
    else:
        demand *= total_km2 / demand.sum()
    return demand
