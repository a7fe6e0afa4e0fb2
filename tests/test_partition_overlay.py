"""The overlay helpers every cell operation goes through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, box

from gridgis.partition.overlay import polygonal

DATA = Path(__file__).resolve().parent / "data"


def test_polygonal_keeps_polygons_nested_in_a_collection() -> None:
    # GEOS's make_valid answers a folded ring with GeometryCollection(MultiPolygon, LineString):
    # the polygons are one level down. Dropping them emptied a 30,000 m² cell of the demo
    # in an adjust with bounds 250–400 (its households were counted in its neighbour).
    two = MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)])
    nested = GeometryCollection([two, LineString([(0, 0), (5, 5)]), Point(9, 9)])
    deeper = GeometryCollection(
        [GeometryCollection([box(0, 0, 2, 2)]), LineString([(0, 0), (1, 0)])]
    )
    out = polygonal(np.asarray([nested, deeper, box(0, 0, 1, 1), LineString([(0, 0), (1, 1)])]))
    assert out[0].equals(two) and out[0].area == 2.0
    assert out[1].equals(box(0, 0, 2, 2))
    assert out[2].equals(box(0, 0, 1, 1))
    assert out[3].is_empty
    assert set(shapely.get_type_id(out).tolist()) <= {3, 6}


def test_a_folded_cell_repaired_keeps_its_ground() -> None:
    # The demo's cell as fitting left it (EPSG:4326): its ring folds over itself by a hair.
    folded = shapely.from_wkt((DATA / "folded_cell.wkt").read_text())
    assert not folded.is_valid
    repaired = polygonal(np.asarray([shapely.make_valid(folded)]))[0]
    assert repaired.is_valid
    assert abs(repaired.area - folded.area) < 1e-6 * folded.area


def test_polygonal_keeps_each_geometry_its_own_parts() -> None:
    first = GeometryCollection([MultiPolygon([box(0, 0, 1, 1)]), box(5, 5, 6, 6)])
    second = GeometryCollection([box(10, 10, 12, 12), LineString([(0, 0), (1, 1)])])
    third = GeometryCollection([MultiPolygon([box(20, 20, 23, 23), box(30, 30, 31, 31)])])
    out = polygonal(np.asarray([first, second, third]))
    assert [round(g.area) for g in out] == [2, 4, 10]
    assert out[0].bounds == (0, 0, 6, 6) and out[2].bounds == (20, 20, 31, 31)
