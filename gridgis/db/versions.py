"""Versions of the stored tables, and the one cache of database data built on them.

Every table whose rows gridgis keeps in memory (:data:`WATCHED`) has a row in
``data_version``: a statement-level trigger gives it a new number whenever a
transaction inserts, updates, deletes or truncates rows of the table, through
gridgis or any other way (plain SQL, another program, another server process;
see migration 0009). The number is visible when that transaction commits, like
the rows themselves, and is never given twice.

:class:`VersionedCache` holds a value loaded from some of those tables together
with the numbers they had, and answers it for as long as the numbers stay the
same: asking costs one read of the few rows of ``data_version``
(:func:`read_versions`, about as long as a ``SELECT 1``), and any write,
anywhere, makes every process load again at its next check. That is the
invalidation on writes; there is no age limit to tune and no notification to
miss. ``check_every`` can skip even that read on very hot paths, for a bounded
staleness.

The caches built on it: :class:`gridgis.cases.IntakeCache` (cells and categories
for filing cases), the web app's address book
(:func:`gridgis.web.cases_api.address_book`) and the stamp of the vector tiles
(:func:`gridgis.db.tiles.cells_stamp`). ``scripts/bench/caches.py`` measures what
each saves.

Examples
--------
>>> from gridgis.db.locate import load_cell_index
>>> cells = VersionedCache(("grid_cell", "community", "district"), load_cell_index)
>>> len(cells.get(engine))
131
>>> cells.get(engine) is cells.get(engine)  # nothing written meanwhile: not loaded again
True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, Text, func, literal_column, select, true

from gridgis.db import queries
from gridgis.db.models import DataVersion
from gridgis.errors import InputError

__all__ = ["WATCHED", "VersionedCache", "Versions", "read_versions"]

T = TypeVar("T")

WATCHED: tuple[str, ...] = (
    "district",
    "street",
    "community",
    "layout_version",
    "grid_cell",
    "building",
    "building_unit",
    "worker_cell",
    "branch_cell",
    "case_category",
)
"""The tables with a version (a trigger each, migration 0009): what caches may depend on."""

_READ = select(
    DataVersion.name,
    DataVersion.version,
    # The trigger's transaction-local note that this transaction has bumped the table.
    func.current_setting(literal_column("'gridgis.bumped_'", Text) + DataVersion.name, true())
    == literal_column("'on'"),
)
"""Every version, and whether this transaction has bumped each (not committed yet). All of
them: ``data_version`` has a row per watched table, in one page, and reading it whole costs
no more than a ``SELECT 1`` (filtering by an array of names cost 40 µs more); the
constants are written into the statement, not bound (a bound one cost 50 µs more)."""


class Versions(NamedTuple):
    """The versions of some tables, read together (:func:`read_versions`)."""

    numbers: tuple[int, ...]
    """The version of each table, in the order asked for (0: a table without its row)."""
    written: bool
    """Whether the reading transaction itself has written one of the tables: its numbers
    (and the rows read with them) are not committed yet, and go if it rolls back."""


def read_versions(bind: Engine | Connection, tables: Iterable[str]) -> Versions:
    """The current versions of ``tables``, in one read of ``data_version`` (a few rows).

    Parameters
    ----------
    bind:
        The database (read in autocommit: one round trip, no ``BEGIN`` or
        ``ROLLBACK``), or a connection to read inside its transaction.
    tables:
        Names of tables of :data:`WATCHED`.

    Raises
    ------
    InputError
        When a table is not watched (a cache on it would never be told of a change).

    Examples
    --------
    >>> from sqlalchemy import text
    >>> before = read_versions(engine, ["case_category", "building"])
    >>> with engine.begin() as conn:
    ...     _ = conn.execute(text("UPDATE case_category SET deadline_hours = deadline_hours"))
    >>> after = read_versions(engine, ["case_category", "building"])
    >>> after.numbers[0] > before.numbers[0], after.numbers[1] == before.numbers[1]
    (True, True)
    >>> read_versions(engine, ["case_record"])
    Traceback (most recent call last):
    ...
    gridgis.errors.InputError: table 'case_record' has no version; the watched tables are ...
    """
    names = _watched(tables)
    with queries.reading(bind) as conn:
        return _read(conn, names)


def _watched(tables: Iterable[str]) -> tuple[str, ...]:
    if isinstance(tables, str):
        raise InputError(
            f"`tables` was {tables!r} but is expected to be a list of table names",
            zh=f"`tables` 为 {tables!r}，应为表名的列表",
        )
    names = tuple(tables)
    for name in names:
        if name not in WATCHED:
            raise InputError(
                f"table {name!r} has no version; the watched tables are {', '.join(WATCHED)}",
                zh=f"表 {name!r} 没有版本；记录版本的表为 {'、'.join(WATCHED)}",
            )
    if not names:
        raise InputError(
            "`tables` was empty but is expected to name at least one table",
            zh="`tables` 为空，至少应写一个表名",
        )
    return names


_DRIVER_SQL: list[str] = []
""":data:`_READ` as psycopg takes it, made on first use."""


def _read(conn: Connection, names: tuple[str, ...]) -> Versions:
    driver = conn.connection.driver_connection
    rows: Sequence[Any]
    if isinstance(driver, psycopg.Connection) and (
        driver.autocommit or driver.info.transaction_status != pq.TransactionStatus.IDLE
    ):
        # Straight to the driver, past SQLAlchemy's execution context: a check costs half
        # the CPU (0.05 ms instead of 0.15 ms here, 0.25 ms on a connection just taken
        # from the pool), and caches check on every request. Only where that is the same
        # as SQLAlchemy running it: in autocommit, or inside a transaction already begun.
        if not _DRIVER_SQL:
            _DRIVER_SQL.append(str(_READ.compile(dialect=conn.dialect)))
        rows = driver.execute(_DRIVER_SQL[0]).fetchall()
    else:
        rows = conn.execute(_READ).all()
    found: dict[str, int] = {}
    written = False
    for name, version, mine in rows:
        if name in names:
            found[name] = version
            written = written or bool(mine)
    return Versions(tuple(found.get(name, 0) for name in names), written)


class _Entry(NamedTuple, Generic[T]):
    value: T
    numbers: tuple[int, ...]


class VersionedCache(Generic[T]):
    """A value loaded from some tables, kept until one of them is written.

    :meth:`get` answers the value it holds when the tables' versions are still those it
    was loaded at, and loads it again (with ``load``, on the caller's connection)
    when one changed. Safe to share between threads: while one thread loads, the
    others that find the value out of date wait for it rather than load it too.

    A value loaded inside a transaction that has itself written one of the tables
    (its changes not committed yet) is given to that caller only, never kept.

    Parameters
    ----------
    tables:
        What ``load`` reads: tables of :data:`WATCHED`.
    load:
        Reads the value from a connection: the caller's (inside its transaction, if
        any), or, given an engine, one in autocommit (each statement sees what is
        committed when it starts, as in a READ COMMITTED transaction).
    check_every:
        Seconds :meth:`get` answers without reading the versions after a check
        (default ``0``: every call checks). With more, a change is seen within that
        time rather than at once (``math.inf``: loaded once, then only on
        :meth:`clear`).

    Examples
    --------
    >>> from gridgis.cases.categories import load_categories
    >>> categories = VersionedCache(["case_category"], load_categories)
    >>> categories.get(engine).resolve("消防安全")
    'fire_safety'
    >>> from sqlalchemy import text
    >>> rename = text("UPDATE case_category SET name_en = 'Fire' WHERE code = 'fire_safety'")
    >>> with engine.begin() as conn:
    ...     _ = conn.execute(rename)
    >>> categories.get(engine).resolve("Fire")  # loaded again: the table's version changed
    'fire_safety'
    """

    def __init__(
        self,
        tables: Iterable[str],
        load: Callable[[Connection], T],
        *,
        check_every: float = 0.0,
    ) -> None:
        self.tables = _watched(tables)
        if (
            isinstance(check_every, bool)
            or not isinstance(check_every, int | float)
            or not check_every >= 0  # NaN too
        ):
            raise InputError(
                f"`check_every` was {check_every!r} but is expected to be seconds, >= 0",
                zh=f"`check_every` 为 {check_every!r}，应为不小于 0 的秒数",
            )
        self.check_every = float(check_every)
        self._load = load
        self._lock = threading.Lock()
        self._entry: _Entry[T] | None = None
        self._checked = -math.inf

    def get(self, bind: Engine | Connection, *, check_now: bool = False) -> T:
        """The value, checked against the versions first (loaded when one changed).

        Parameters
        ----------
        bind:
            The database (read, and loaded when needed, in autocommit), or a connection
            to read and load inside its transaction.
        check_now:
            Check even when the last check is less than ``check_every`` seconds old.
        """
        entry = self._entry
        if (
            entry is not None
            and not check_now
            and time.monotonic() - self._checked < self.check_every
        ):
            return entry.value
        with queries.reading(bind) as conn:
            current = _read(conn, self.tables)
            if entry is not None and current.numbers == entry.numbers:
                self._checked = time.monotonic()
                return entry.value
            if current.written:
                # This transaction's own writes, not committed: for it alone. Loaded without
                # the lock, which a thread blocked on this transaction's locks may hold.
                return self._load(conn)
            with self._lock:
                entry = self._entry
                if entry is not None and entry.numbers == current.numbers:
                    return entry.value  # another thread loaded it meanwhile
                # The versions were read before the rows: a write committed in between
                # makes the next check load again, never keeps rows older than their numbers.
                value = self._load(conn)
                self._entry = _Entry(value, current.numbers)
                self._checked = time.monotonic()
                return value

    def peek(self) -> T | None:
        """The value held, unchecked (``None`` before the first :meth:`get`)."""
        entry = self._entry
        return None if entry is None else entry.value

    def discard(self, value: T) -> None:
        """Forget ``value`` if it is still the one held: the next :meth:`get` loads again.

        For a caller that found ``value`` out of date some other way; a value loaded
        since by another thread is kept.
        """
        with self._lock:
            if self._entry is not None and self._entry.value is value:
                self._entry = None

    def clear(self) -> None:
        """Forget the value: the next :meth:`get` loads it again."""
        with self._lock:
            self._entry = None
