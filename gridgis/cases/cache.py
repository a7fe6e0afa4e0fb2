"""The intake cache: active cells and categories kept in memory for filing many cases."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from gridgis import config
from gridgis.cases.categories import CaseCategories, load_categories
from gridgis.db import queries
from gridgis.errors import InputError
from gridgis.geocode import CellIndex, IndexLocator

_LAYOUT_VERSION_SQL = "(SELECT coalesce(max(v.id), 0) FROM layout_version v)"
"""The newest published layout: ``publish_cells`` adds a ``layout_version`` row for every
redraw, adjustment or import, so this number changes whenever the active cells do."""

_FINGERPRINT_SQL = text(
    f"SELECT {_LAYOUT_VERSION_SQL} AS version, concat_ws('/', "
    + ", ".join(
        f"(SELECT count(*) || ':' || coalesce(max(xmin::text::int8), 0) FROM {table})"
        for table in ("grid_cell", "community", "district")
    )
    + ") AS fingerprint"
)
"""The tables :class:`IntakeCache` copies the cells from, summed up: a row count and the
newest writing transaction of each (an insert or update raises the latter, a delete
lowers the former), so that edits made without ``publish_cells`` (plain SQL, a reload
of the boundaries) are seen too."""


@dataclass(frozen=True, eq=False)
class _Layout:
    """The active cells as :class:`IntakeCache` holds them."""

    locator: IndexLocator
    version: int
    fingerprint: str


class IntakeCache:
    """What filing a case reads again and again, kept in memory: active cells, categories.

    Give one to :func:`create_case` (``cache=``) for every case a process files; the
    web app keeps one per process. It is safe to share between threads.

    How fresh it is:

    - Cells published through gridgis (:func:`gridgis.db.layout.publish_cells`: a redraw,
      an adjustment, an import) are never missed: each case is inserted on condition
      that the newest ``layout_version`` is still the one the cells were loaded at, in
      the same statement; when it is not, nothing is inserted, the cells are loaded
      again and the case placed again. So a case is never filed in a replaced layout,
      however recent the change, and checking costs no query of its own.
    - Time limits are read by the inserting statement itself, never from the cache.
    - Anything else the cache holds is seen within ``max_age`` seconds: a request that
      finds the cache older than that reads the categories again (a category renamed)
      and sums up the tables of the cells (row counts and the newest writing
      transaction: one query of about 0.2 ms), reloading the cells only if they
      changed (a cell, community or district edited by plain SQL). An unknown category
      reloads the categories at once, so a new one is known to the next case.

    Parameters
    ----------
    max_age:
        Seconds between the checks for edits made without ``publish_cells``;
        default ``GRIDGIS_INTAKE_CACHE_SECONDS`` (60).

    Examples
    --------
    >>> from gridgis.cases import create_case
    >>> cache = IntakeCache()
    >>> case = create_case(engine, category="消防安全", lon=119.0128, lat=25.4119,
    ...                    cache=cache, actor="wangfang")
    >>> len(cache.cells(engine))
    131
    """

    def __init__(self, *, max_age: float | None = None) -> None:
        if max_age is None:
            max_age = config.settings().intake_cache_seconds
        if isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age < 0:
            raise InputError(f"`max_age` was {max_age!r} but is expected to be seconds, >= 0")
        self.max_age = float(max_age)
        self._lock = threading.Lock()
        self._layout: _Layout | None = None
        self._categories = CaseCategories([])
        self._checked = -math.inf

    def cells(self, connection: Engine | Connection) -> CellIndex:
        """The active cells, loaded or checked first when needed.

        Examples
        --------
        >>> len(IntakeCache().cells(engine))
        131
        """
        with queries.connection(connection) as conn:
            return self._current(conn).locator.index

    def clear(self) -> None:
        """Forget everything: the next case loads the cells and categories again.

        Examples
        --------
        >>> cache = IntakeCache()
        >>> cache.clear()
        """
        with self._lock:
            self._layout, self._categories = None, CaseCategories([])
            self._checked = -math.inf

    def _current(self, conn: Connection, *, replaced: _Layout | None = None) -> _Layout:
        """The cells to place a case in; ``replaced``: cells found out of date."""
        layout = self._layout
        if layout is not None and layout is not replaced:
            if time.monotonic() - self._checked < self.max_age:
                return layout
            # Time to look for edits made without publish_cells. Only one thread looks;
            # the others go on with the cells they have (a published change is caught
            # by the insert in any case).
            if not self._lock.acquire(blocking=False):
                return layout
            try:
                if self._layout is layout:
                    found = conn.execute(_FINGERPRINT_SQL).one()
                    if found.fingerprint != layout.fingerprint:
                        self._load(conn)
                    else:
                        self._categories = load_categories(conn)
                    self._checked = time.monotonic()
                return self._layout or layout
            finally:
                self._lock.release()
        with self._lock:
            if self._layout is None or self._layout is replaced:
                self._load(conn)
            assert self._layout is not None
            return self._layout

    def _load(self, conn: Connection) -> None:
        """Read the cells and categories (with the lock held)."""
        from gridgis.db.locate import load_cell_index

        # The summary first: a change made while the cells are read makes it differ from
        # what was read, which only means one more reload.
        found = conn.execute(_FINGERPRINT_SQL).one()
        index = load_cell_index(conn)
        self._categories = load_categories(conn)
        self._layout = _Layout(IndexLocator(index), int(found.version), str(found.fingerprint))
        self._checked = time.monotonic()

    def _category(self, conn: Connection, category: object) -> str:
        """The code of ``category``, from memory; read again once when it is unknown."""
        code = self._categories.code_of(category)
        if code is None:
            self._categories = load_categories(conn)
            code = self._categories.resolve(category)
        return code
