"""The intake cache: active cells and categories kept in memory for filing many cases."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, select

from gridgis import config
from gridgis.cases.categories import CaseCategories, load_categories
from gridgis.db.models import LayoutVersion
from gridgis.db.versions import VersionedCache
from gridgis.errors import InputError
from gridgis.geocode import CellIndex, IndexLocator

TABLES: tuple[str, ...] = ("grid_cell", "community", "district", "layout_version", "case_category")
"""What :class:`IntakeCache` holds is read from these tables (their versions are checked)."""


@dataclass(frozen=True, eq=False)
class _Layout:
    """What :class:`IntakeCache` holds: the active cells and the categories."""

    locator: IndexLocator
    version: int
    """The newest ``layout_version`` id when the cells were read; the filing statement
    (:mod:`gridgis.cases.filing`) files a case only while it is still the newest."""
    categories: CaseCategories


def _load(conn: Connection) -> _Layout:
    """Read the cells and categories (the newest layout's id first: see ``_Layout.version``)."""
    from gridgis.db.locate import load_cell_index

    version = conn.execute(select(func.coalesce(func.max(LayoutVersion.id), 0))).scalar_one()
    index = load_cell_index(conn)
    return _Layout(IndexLocator(index), int(version), load_categories(conn))


class IntakeCache:
    """What filing a case reads again and again, kept in memory: active cells, categories.

    Give one to :func:`create_case` (``cache=``) for every case a process files; the
    web app keeps one per process. It is safe to share between threads.

    How fresh it is:

    - Every case checks the versions of the tables the cells and categories come from
      (:data:`TABLES`; one read of a few rows, :mod:`gridgis.db.versions`) and reads
      them again when one changed, however it was changed: a redraw, a cell, community
      or district edited by plain SQL, a category renamed, added or deleted. So each
      case is placed and its category named as the database has them at that moment.
    - Cells published through gridgis (:func:`gridgis.db.layout.publish_cells`) are
      never missed, even between the check and the insert: each case is inserted on
      condition that the newest ``layout_version`` is still the one the cells were
      loaded at, in the same statement; when it is not, nothing is inserted, the
      cells are loaded again and the case placed again.
    - Time limits are read by the inserting statement itself, never from the cache.
    - With ``max_age`` above 0, cases filed within that many seconds of a check skip
      it (a change made other than by publishing cells is then seen within
      ``max_age``); an unknown category is checked at once all the same.

    Parameters
    ----------
    max_age:
        Seconds a check holds; default ``GRIDGIS_INTAKE_CACHE_SECONDS`` (0: every case
        checks).

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
        if isinstance(max_age, bool) or not isinstance(max_age, int | float) or not max_age >= 0:
            raise InputError(
                f"`max_age` was {max_age!r} but is expected to be seconds, >= 0",
                zh=f"`max_age` 为 {max_age!r}，应为不小于 0 的秒数",
            )
        self.max_age = float(max_age)
        self._cache = VersionedCache(TABLES, _load, check_every=self.max_age)
        self._case = threading.local()  # per thread: what its case was checked against

    def cells(self, connection: Engine | Connection) -> CellIndex:
        """The active cells, checked first and loaded again when they changed.

        Examples
        --------
        >>> len(IntakeCache().cells(engine))
        131
        """
        return self._cache.get(connection).locator.index

    def clear(self) -> None:
        """Forget everything: the next case loads the cells and categories again.

        Examples
        --------
        >>> cache = IntakeCache()
        >>> cache.clear()
        """
        self._cache.clear()

    # Filing (gridgis.cases.filing) asks for a case's category code first, then for the
    # cells to place it in: the category's lookup checks the versions, and the cells come
    # from that same check, so a case costs one check.

    def _category(self, conn: Connection, category: object) -> str:
        """The code of ``category``, in categories checked now (raises when unknown)."""
        layout = self._cache.get(conn)
        code = layout.categories.code_of(category)
        if code is None:  # perhaps added since a check that max_age let stand
            layout = self._cache.get(conn, check_now=True)
            code = layout.categories.resolve(category)
        self._case.layout = layout
        return code

    def _current(self, conn: Connection, *, replaced: _Layout | None = None) -> _Layout:
        """The cells to place the case in: those its category was checked with, or, when
        ``replaced`` (cells the insert found out of date) is given, the newest."""
        if replaced is not None:
            self._cache.discard(replaced)
            return self._cache.get(conn, check_now=True)
        layout: _Layout | None = getattr(self._case, "layout", None)
        if layout is None:
            return self._cache.get(conn)
        self._case.layout = None
        return layout
