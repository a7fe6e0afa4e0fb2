"""Queen contiguity of stored cells from the whole layout's (gridgis.analysis.neighbours).

Against the shapes themselves on the small demo district: a street's cells,
in any order; a layout changed by hand in SQL or by retiring a cell is not
answered from memory; retired cells are paired from their stored shapes; the
density figures without polygons equal those with. And the pair finder itself
against every pair measured by brute force.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import sparse
from shapely import box
from sqlalchemy import Engine, text

from gridgis.analysis import neighbours as nb
from gridgis.analysis.density import density_cells
from gridgis.analysis.hotspots import _METRES_PER_DEGREE, queen_neighbours
from gridgis.db.queries import read_geoframe
from gridgis.errors import InputError

_CELLS = """
    SELECT id, code, ST_AsBinary(geom) AS geom FROM grid_cell
    WHERE valid_to IS NULL AND (CAST(:street AS text) IS NULL OR left(code, 9) = :street)
    ORDER BY code
"""


def _cells(engine: Engine, street: str | None = None) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return read_geoframe(conn, text(_CELLS), {"street": street}).reset_index(drop=True)


def _neighbours(engine: Engine, ids: np.ndarray) -> sparse.csr_array:
    with engine.connect() as conn:
        return nb.active_cell_neighbours(conn, ids)


def _same(a: sparse.sparray, b: sparse.sparray) -> bool:
    return a.shape == b.shape and (sparse.csr_array(a) != sparse.csr_array(b)).nnz == 0


@pytest.fixture(autouse=True)
def _forget() -> None:
    nb.forget_layouts()


def test_a_selection_gets_the_contiguity_of_its_own_shapes(demo_engine: Engine) -> None:
    every = _cells(demo_engine)
    street = sorted({code[:9] for code in every["code"]})[1]
    cells = _cells(demo_engine, street)
    assert 10 < len(cells) < len(every)
    ids = cells["id"].to_numpy()
    expected = queen_neighbours(cells)
    assert expected.nnz > 2 * len(cells)
    # A street alone is paired from its own shapes: the layout is not computed for it.
    assert _same(_neighbours(demo_engine, ids), expected)
    assert len(nb._layouts) == 0
    assert _same(_neighbours(demo_engine, every["id"].to_numpy()), queen_neighbours(every))
    assert len(nb._layouts) == 1
    # Then the street is taken from the layout remembered.
    assert _same(_neighbours(demo_engine, ids), expected)
    # In any order: the rows and columns follow the ids given.
    order = np.random.default_rng(3).permutation(len(ids))
    shuffled = _neighbours(demo_engine, ids[order])
    assert _same(shuffled, sparse.csr_array(expected)[order][:, order])
    assert len(nb._layouts) == 1


def test_a_changed_layout_is_computed_afresh(demo_engine: Engine) -> None:
    cells = _cells(demo_engine)
    ids = cells["id"].to_numpy()
    before = _neighbours(demo_engine, ids)
    # Shrink one cell by hand, well away from its neighbours: it loses them all.
    busiest = int(np.argmax(np.asarray(before.sum(axis=1))))
    with demo_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE grid_cell SET geom = ST_Multi(ST_Scale(geom, ST_MakePoint(0.2, 0.2), "
                "ST_Centroid(geom))) WHERE id = :id"
            ),
            {"id": int(ids[busiest])},
        )
    after = _neighbours(demo_engine, ids)
    assert sparse.csr_array(after)[[busiest]].nnz == 0
    assert _same(after, queen_neighbours(_cells(demo_engine)))
    assert len(nb._layouts) == 2  # the old state and the new one


def test_retired_cells_are_paired_from_their_stored_shapes(demo_engine: Engine) -> None:
    cells = _cells(demo_engine)
    ids = cells["id"].to_numpy()
    _neighbours(demo_engine, ids)  # the layout as it was, remembered
    with demo_engine.begin() as conn:
        conn.execute(
            text("UPDATE grid_cell SET valid_to = now(), status = 'retired' WHERE id = :id"),
            {"id": int(ids[0])},
        )
    # The caller read the cells before the retirement: its answer is still theirs.
    assert _same(_neighbours(demo_engine, ids), queen_neighbours(cells))


def test_bad_ids_are_refused(demo_engine: Engine) -> None:
    ids = _cells(demo_engine)["id"].to_numpy()
    with pytest.raises(InputError, match="more than once"):
        _neighbours(demo_engine, np.array([ids[0], ids[1], ids[0]]))
    with pytest.raises(InputError, match=r"holds \[987654321\] but no cell has that id"):
        _neighbours(demo_engine, np.array([ids[0], 987654321]))
    assert _neighbours(demo_engine, np.array([], dtype=np.int64)).shape == (0, 0)


def test_figures_without_polygons_equal_those_with(demo_engine: Engine) -> None:
    now = dt.datetime(2026, 1, 1)  # the same moment for both: days since inspection
    with_shapes = density_cells(demo_engine, value="count", now=now)
    figures = density_cells(demo_engine, value="count", now=now, geometry=False)
    assert figures["geom"].isna().all() and with_shapes["geom"].notna().all()
    columns = [c for c in with_shapes.columns if c != "geom"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(figures[columns]), pd.DataFrame(with_shapes[columns])
    )
    assert with_shapes["hotspot"].nunique() > 1


def test_pairs_are_those_within_the_tolerance_measured_one_by_one(demo_engine: Engine) -> None:
    cells = _cells(demo_engine)
    found = sparse.triu(queen_neighbours(cells)).tocoo()
    geoms = np.asarray(cells.geometry.array, dtype=object)
    left, right = np.triu_indices(len(geoms), k=1)
    within = shapely.distance(geoms[left], geoms[right]) <= 0.1 / _METRES_PER_DEGREE
    assert within.sum() > len(geoms)
    assert set(zip(found.row.tolist(), found.col.tolist(), strict=True)) == set(
        zip(left[within].tolist(), right[within].tolist(), strict=True)
    )
    assert not shapely.is_prepared(geoms).any()  # prepared while pairing, released after


def test_envelopes_apart_but_within_the_tolerance_are_paired() -> None:
    # Two squares 5 cm apart (their envelopes do not meet), a third 50 cm away.
    squares = [box(0, 0, 10, 10), box(10.05, 0, 20, 10), box(20.5, 0, 30, 10)]
    cells = gpd.GeoDataFrame(geometry=squares, crs="EPSG:3857")
    assert sparse.csr_array(queen_neighbours(cells)).toarray().tolist() == [
        [0, 1, 0],
        [1, 0, 0],
        [0, 0, 0],
    ]
