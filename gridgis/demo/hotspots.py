"""The places where a demo district's cases gather.

Markets, schools, construction sites and shops, old lane compounds (weighted
by their area) and each village's square.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry


def _hotspots(
    comp: gpd.GeoDataFrame,
    hamlets: pd.DataFrame,
    hamlet_names: dict[tuple[str, int], str],
    communities: pd.DataFrame,
    metric: pyproj.CRS,
) -> gpd.GeoDataFrame:
    rows_kind: list[str] = []
    rows_name: list[str] = []
    rows_code: list[str] = []
    rows_weight: list[float] = []
    rows_geom: list[BaseGeometry] = []
    special = comp[comp["use"].isin(["market", "school", "construction", "commercial"])]
    rows_kind += special["use"].replace({"commercial": "shops"}).tolist()
    rows_name += special["compound"].tolist()
    rows_code += special["community_code"].tolist()
    rows_weight += [1.0] * len(special)
    rows_geom += special.geometry.representative_point().tolist()
    old = comp[(comp["use"] == "residential") & (comp["type"] == "lane")]
    rows_kind += ["old_compound"] * len(old)
    rows_name += old["compound"].tolist()
    rows_code += old["community_code"].tolist()
    rows_weight += (old.geometry.area / 10_000.0).clip(0.3, 5.0).tolist()
    rows_geom += old.geometry.representative_point().tolist()
    if len(hamlets):
        # Each village's first hamlet has its square (a small market and the village office).
        first = hamlets[hamlets["h"] == 0]
        rows_kind += ["plaza"] * len(first)
        short = dict(zip(communities.index, communities["short_name"], strict=True))
        rows_name += [f"{short[c]}{hamlet_names[(c, 0)]}广场" for c in first["code"]]
        rows_code += first["code"].tolist()
        rows_weight += [0.5] * len(first)
        rows_geom += list(np.asarray(shapely.points(first["x"], first["y"]), dtype=object))
    return gpd.GeoDataFrame(
        {"kind": rows_kind, "name": rows_name, "community_code": rows_code, "weight": rows_weight},
        geometry=rows_geom,
        crs=metric,
    )
