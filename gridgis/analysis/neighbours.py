"""Queen contiguity of stored cells, taken from the whole active layout's.

Whether two cells are neighbours depends on those two cells alone, so the
contiguity of any selection of active cells (a street's, a community's) is the
whole active layout's restricted to the selection. The layout's is computed
once per process for each *state* of the active cells and remembered: the
state is the list of active ``grid_cell`` rows with their row versions
(PostgreSQL's ``xmin``, which changes whenever a row is written), so a redraw,
a retirement or any edit of a cell, even by hand in SQL, is a new state and is
computed afresh, and nothing else is. Checking the state reads two integers a
cell (some 20 ms for 30,000 cells); the geometries are read only when the
state is new. Until a request asks for at least half the layout, smaller
selections are paired from their own shapes instead (and those answers are
remembered by :func:`~gridgis.analysis.hotspots.queen_neighbours`).

The pairs themselves are :func:`gridgis.analysis.hotspots.queen_neighbours`'
(boundaries within 0.1 m).

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> with get_engine().connect() as conn:
...     w = active_cell_neighbours(conn, [101, 102, 103])
>>> w.shape
(3, 3)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse  # type: ignore[import-untyped]
from sqlalchemy import (
    CTE,
    ColumnElement,
    Connection,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.analysis.hotspots import queen_neighbours
from gridgis.db import queries
from gridgis.db.models import GridCell
from gridgis.errors import InputError

__all__ = ["active_cell_neighbours", "forget_layouts"]


def _active() -> CTE:
    """The active cells with their row versions (PostgreSQL's system column ``xmin``)."""
    return (
        select(GridCell.id, literal_column("xmin").label("xmin"), GridCell.geom)
        .where(GridCell.valid_to.is_(None))
        .cte("active")
    )


def _state(active: CTE) -> ColumnElement[str]:
    """The state of the active cells, as PostgreSQL digests it (one row to fetch, not 30,000):
    ``count(*) || ':' || md5(string_agg(id || ':' || xmin, ',' ORDER BY id))``."""
    pairs = cast(active.c.id, Text) + ":" + cast(active.c.xmin, Text)
    digest = func.md5(func.string_agg(pairs, ",").aggregate_order_by(active.c.id))
    return cast(func.count(), Text) + ":" + digest


_ACTIVE = _active()
_STATE_SELECT = select(_state(_ACTIVE)).select_from(_ACTIVE)
_SHAPES = _active().prefix_with("MATERIALIZED")
_LAYOUT_SELECT = select(
    _SHAPES.c.id,
    func.ST_AsBinary(_SHAPES.c.geom).label("geom"),
    select(_state(_SHAPES)).select_from(_SHAPES).scalar_subquery().label("state"),
).order_by(_SHAPES.c.id)
"""Every active cell's shape, and the state they were read in (one statement)."""
_CELLS_SELECT = select(GridCell.id, func.ST_AsBinary(GridCell.geom).label("geom")).where(
    GridCell.id == any_(bindparam("ids", type_=ARRAY(Integer)))
)

_REMEMBERED = 4
"""Layout states kept per process (least recently used out first)."""


@dataclass(frozen=True)
class _Layout:
    """The active cells' ids (ascending) and their queen contiguity in that order."""

    ids: NDArray[np.int64]
    matrix: sparse.csr_array


_layouts: OrderedDict[bytes, _Layout] = OrderedDict()
_layouts_lock = threading.Lock()


def forget_layouts() -> None:
    """Drop every remembered layout (the next call computes afresh)."""
    with _layouts_lock:
        _layouts.clear()


def _state_key(conn: Connection, state: object) -> bytes:
    """A digest of the database and the state of its active cells (:data:`_STATE`)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(conn.engine.url.render_as_string(hide_password=True).encode())
    digest.update(b"\0" + str(state).encode())
    return digest.digest()


def _remembered(key: bytes) -> _Layout | None:
    with _layouts_lock:
        found = _layouts.get(key)
        if found is not None:
            _layouts.move_to_end(key)
        return found


def _layout(conn: Connection, asked: int) -> _Layout | None:
    """The active layout's contiguity: remembered for its state, else computed and kept.

    ``None`` when it is not remembered and ``asked`` cells are fewer than half
    the layout's: their own pairs are then cheaper than the whole layout's.
    """
    state = conn.execute(_STATE_SELECT).scalar_one()
    found = _remembered(_state_key(conn, state))
    active = int(str(state or "0").split(":", 1)[0])
    if found is not None or 2 * asked < active:
        return found
    # The shapes and their state in one statement: if the layout changed since the
    # state above, what is computed is filed under the state it was read in.
    cells = queries.read_geoframe(conn, _LAYOUT_SELECT)
    if len(cells) == 0:
        return None
    key = _state_key(conn, cells["state"].iloc[0])
    matrix = queen_neighbours(cells, remember=False)  # kept here, under the layout's state
    layout = _Layout(ids=cells["id"].to_numpy(dtype=np.int64), matrix=matrix)
    with _layouts_lock:
        _layouts[key] = layout
        _layouts.move_to_end(key)
        while len(_layouts) > _REMEMBERED:
            _layouts.popitem(last=False)
    return layout


def active_cell_neighbours(conn: Connection, cell_ids: ArrayLike) -> sparse.csr_array:
    """Queen contiguity of the cells with these ids (``grid_cell.id``), in this order.

    Taken from the whole active layout's (see the module notes), which is
    computed when at least half its cells are asked for (a street office's
    first request in a city does not pay for the city). Otherwise, and when
    a cell is not active in the layout as it is now (a retired version, or
    one retired by a redraw since the caller read it), the cells asked for
    are paired from their stored shapes, so the answer is always that of the
    shapes of the ids given.

    Parameters
    ----------
    conn:
        The database.
    cell_ids:
        ``grid_cell.id`` values, each at most once.

    Returns
    -------
    scipy.sparse.csr_array
        ``n x n``, symmetric, 1 where the *i*-th and *j*-th cells asked for
        are neighbours, an empty diagonal (as
        :func:`~gridgis.analysis.hotspots.queen_neighbours`).

    Raises
    ------
    InputError
        When an id is repeated or no cell has it.
    """
    ids = np.asarray(cell_ids, dtype=np.int64).reshape(-1)
    if len(np.unique(ids)) != len(ids):
        raise InputError("`cell_ids` holds an id more than once", zh="`cell_ids` 中有重复的编号")
    if len(ids) == 0:
        return sparse.csr_array((0, 0), dtype=np.float64)
    layout = _layout(conn, len(ids))
    if layout is not None and len(layout.ids):
        at = np.minimum(np.searchsorted(layout.ids, ids), len(layout.ids) - 1)
        if np.array_equal(layout.ids[at], ids):
            return sparse.csr_array(layout.matrix[at][:, at])
    cells = queries.read_geoframe(conn, _CELLS_SELECT, {"ids": ids.tolist()})
    missing = np.setdiff1d(ids, cells["id"].to_numpy(dtype=np.int64))
    if len(missing):
        raise InputError(
            f"`cell_ids` holds {missing[:5].tolist()} but no cell has that id",
            zh=f"`cell_ids` 中有 {missing[:5].tolist()}，但没有这些编号的网格",
        )
    order = cells.set_index("id").loc[ids].reset_index()
    return queen_neighbours(order.set_geometry("geom", crs=cells.crs))
