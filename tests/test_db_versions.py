"""Table versions (``data_version``, migration 0009) and the cache built on them."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import pytest
from conftest import insert_sample_areas
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from gridgis.db import migrate
from gridgis.db.versions import WATCHED, VersionedCache, read_versions
from gridgis.errors import InputError

AREAS = ["district", "street", "community", "grid_cell"]


def _last_number(conn: Connection) -> int:
    return int(conn.execute(text("SELECT last_value FROM data_version_seq")).scalar_one())


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "WHERE NOT t.tgisinternal AND t.tgname = c.relname || '_data_version'"
                )
            ).scalars()
        )


def test_the_migration_goes_down_and_up_again(engine: Engine) -> None:
    assert _triggers(engine) == set(WATCHED)
    with engine.connect() as conn:
        names = set(conn.execute(text("SELECT name FROM data_version")).scalars())
    assert names == set(WATCHED)
    migrate.downgrade(engine, "0008")
    assert _triggers(engine) == set()
    with engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT to_regclass('data_version'), to_regclass('data_version_seq'), "
                "to_regprocedure('gridgis_bump_data_version()')"
            )
        ).one()
    assert tuple(left) == (None, None, None)
    insert_sample_areas(engine)  # writing works without the triggers
    migrate.upgrade(engine)
    assert _triggers(engine) == set(WATCHED)
    before = read_versions(engine, AREAS)
    with engine.begin() as conn:
        conn.execute(text("UPDATE district SET name = name"))
    after = read_versions(engine, AREAS)
    assert after.numbers[0] > before.numbers[0] and after.numbers[1:] == before.numbers[1:]
    # Numbers start at the time of the migration, in milliseconds: not those of an earlier
    # database of the same name.
    assert after.numbers[0] > (time.time() - 3600) * 1000


def test_a_transaction_bumps_each_table_it_writes_once(engine: Engine) -> None:
    insert_sample_areas(engine)
    before = read_versions(engine, AREAS)
    assert not before.written
    with engine.begin() as conn:
        first = _last_number(conn)
        conn.execute(text("UPDATE community SET name = name || '·'"))
        inside = read_versions(conn, AREAS)
        conn.execute(text("UPDATE community SET name = name || '·'"))
        conn.execute(text("UPDATE street SET name = name WHERE false"))  # no row: bumped too
        assert _last_number(conn) == first + 2
    assert inside.written
    after = read_versions(engine, AREAS)
    assert not after.written
    assert after.numbers[2] == inside.numbers[2] > before.numbers[2]  # community: once
    assert after.numbers[1] > before.numbers[1]  # street
    assert (after.numbers[0], after.numbers[3]) == (before.numbers[0], before.numbers[3])


def test_a_rolled_back_write_leaves_the_versions_and_its_number_is_never_given_again(
    engine: Engine,
) -> None:
    insert_sample_areas(engine)
    before = read_versions(engine, ["community"])
    with engine.connect() as conn:
        conn.execute(text("UPDATE community SET name = 'x'"))
        lost = read_versions(conn, ["community"])
        conn.rollback()
    assert read_versions(engine, ["community"]) == before
    with engine.begin() as conn:  # a savepoint rolled back takes the trigger's note with it
        with conn.begin_nested() as savepoint:
            conn.execute(text("UPDATE community SET name = 'y'"))
            savepoint.rollback()
        conn.execute(text("UPDATE community SET name = 'z'"))
    after = read_versions(engine, ["community"])
    assert after.numbers[0] > lost.numbers[0] > before.numbers[0]


def test_truncate_and_copy_bump_once(engine: Engine) -> None:
    before = read_versions(engine, ["case_category", "worker_cell"])
    with engine.begin() as conn:
        first = _last_number(conn)
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cursor:
            columns = "code, name_zh, name_en, deadline_hours"
            with cursor.copy(f"COPY case_category ({columns}) FROM STDIN") as copy:
                for n in range(500):
                    copy.write_row((f"c{n}", f"类别{n}", f"Kind {n}", 24))
        conn.execute(text("TRUNCATE worker_cell"))
        assert _last_number(conn) == first + 2
    after = read_versions(engine, ["case_category", "worker_cell"])
    assert all(a > b for a, b in zip(after.numbers, before.numbers, strict=True))


def test_a_cascade_bumps_the_tables_it_reaches(engine: Engine) -> None:
    insert_sample_areas(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO building (id, community_code, location) "
                "VALUES (1, '350304001001', 'SRID=4326;POINT(118.97 25.40)')"
            )
        )
        conn.execute(text("INSERT INTO building_unit (building_id, number) VALUES (1, 1)"))
    before = read_versions(engine, ["building", "building_unit"])
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM building"))  # its units go with it (ON DELETE CASCADE)
    after = read_versions(engine, ["building", "building_unit"])
    assert all(a > b for a, b in zip(after.numbers, before.numbers, strict=True))


def test_writers_of_other_tables_do_not_wait(engine: Engine) -> None:
    insert_sample_areas(engine)
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("UPDATE community SET name = name"))  # holds community's row
        second.execute(text("SET lock_timeout = '3s'"))
        started = time.monotonic()
        second.execute(text("UPDATE street SET name = name"))
        second.execute(text("UPDATE case_category SET name_en = name_en"))
        assert time.monotonic() - started < 1
        second.commit()
        # Another writer of the same table takes its turn (here: gives up after the timeout).
        second.execute(text("SET lock_timeout = '100ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            second.execute(text("UPDATE community SET kind = kind WHERE false"))
        second.rollback()
        first.rollback()


def test_every_way_of_reading_gives_the_same_numbers(engine: Engine) -> None:
    wanted = read_versions(engine, AREAS)  # in autocommit
    with engine.connect() as conn:
        assert read_versions(conn, AREAS) == wanted  # a connection yet to begin
        assert read_versions(conn, AREAS) == wanted  # inside the transaction it began
        conn.execute(text("UPDATE district SET name = name"))
        mine = read_versions(conn, AREAS)
        conn.commit()
    assert mine.written and mine.numbers[0] != wanted.numbers[0]
    assert read_versions(engine, AREAS) == mine._replace(written=False)


def test_read_versions_names_what_it_cannot_read(engine: Engine) -> None:
    with pytest.raises(InputError, match=r"table 'case_record' has no version; the watched"):
        read_versions(engine, ["grid_cell", "case_record"])
    with pytest.raises(InputError, match=r"`tables` was 'grid_cell' but is expected to be a list"):
        read_versions(engine, "grid_cell")
    with pytest.raises(InputError, match=r"`tables` was empty"):
        read_versions(engine, [])
    with engine.begin() as conn:  # a row deleted reads as 0, and the next write adds it again
        conn.execute(text("DELETE FROM data_version WHERE name = 'building'"))
    assert read_versions(engine, ["building"]).numbers == (0,)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM building"))
    assert read_versions(engine, ["building"]).numbers[0] > 0


class _Loads:
    """A loader that counts its calls and answers the community names."""

    def __init__(self, pause: float = 0.0) -> None:
        self.count = 0
        self.pause = pause
        self._lock = threading.Lock()

    def __call__(self, conn: Connection) -> list[str]:
        with self._lock:
            self.count += 1
        time.sleep(self.pause)
        return list(conn.execute(text("SELECT name FROM community ORDER BY code")).scalars())


def test_the_cache_loads_again_only_when_its_tables_change(engine: Engine) -> None:
    insert_sample_areas(engine)
    load = _Loads()
    cache = VersionedCache(["community", "street"], load)
    assert cache.peek() is None
    first = cache.get(engine)
    assert first == ["英龙社区"] and cache.get(engine) is first and load.count == 1
    with engine.begin() as conn:  # another table: nothing to do
        conn.execute(text("UPDATE district SET name = name"))
    assert cache.get(engine) is first and load.count == 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE community SET name = '东梅社区'"))
    assert cache.get(engine) == ["东梅社区"] and load.count == 2
    held = cache.get(engine)
    cache.discard(first)  # not held any more: kept
    assert cache.get(engine) is held
    cache.discard(held)
    assert cache.get(engine) is not held and load.count == 3
    cache.clear()
    assert cache.peek() is None


def test_a_value_read_in_a_writing_transaction_is_not_kept(engine: Engine) -> None:
    insert_sample_areas(engine)
    load = _Loads()
    cache = VersionedCache(["community"], load)
    kept = cache.get(engine)
    with engine.connect() as conn:
        conn.execute(text("UPDATE community SET name = '未提交'"))
        assert cache.get(conn) == ["未提交"]  # the transaction sees its own change ...
        assert cache.peek() is kept  # ... which no one else is given
        conn.rollback()
    assert cache.get(engine) is kept and load.count == 2


def test_check_every_lets_a_value_stand_for_a_while(engine: Engine) -> None:
    insert_sample_areas(engine)
    load = _Loads()
    cache = VersionedCache(["community"], load, check_every=3600)
    first = cache.get(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE community SET name = '东梅社区'"))
    assert cache.get(engine) is first  # not checked within the hour
    assert cache.get(engine, check_now=True) == ["东梅社区"]
    for bad in (-1, math.nan, True, "5"):
        with pytest.raises(InputError, match=r"`check_every` was .* but is expected to be sec"):
            VersionedCache(["community"], load, check_every=bad)  # type: ignore[arg-type]


def test_threads_wait_for_one_load(engine: Engine) -> None:
    insert_sample_areas(engine)
    load = _Loads(pause=0.3)
    cache = VersionedCache(["community"], load)
    found: list[list[str]] = []
    start = threading.Barrier(6)

    def ask() -> None:
        start.wait()
        found.append(cache.get(engine))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load.count == 1
    assert len(found) == 6 and all(value is found[0] for value in found)
