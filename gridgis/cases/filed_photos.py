"""Photos filed with a new case, stored by the statement that files it.

:func:`gridgis.cases.create_case` given ``photos`` (checked and stripped by
:func:`gridgis.cases.photos.prepare_photos`) and a ``store`` files the case, its photos,
the case's audit row and one audit row per photo with **one** ``INSERT`` (data-modifying
CTEs, :func:`photo_ctes`), in autocommit: one statement is one transaction, so either
all of them are stored or none. Before that statement:

- the case's id is taken from its sequence (:func:`reserve_case_id`), so the photos' keys
  (``<case_id>/<sha256>.<ext>``, as :func:`gridgis.cases.photos.add_photos` names them)
  are known;
- the bytes are written to the store (:class:`FiledPhotos`); when the statement then
  stores nothing, or fails, the keys written are removed again.

Filing a case with a photo this way costs three round trips to the database (the
tables' versions, the id, the insert) instead of seven (begin, versions, case, photo,
photo's audit row, commit, and SQLAlchemy's bookkeeping of each): see
``scripts/bench/photo_filing.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, aggregate_order_by
from sqlalchemy.sql.selectable import CTE

from gridgis import audit
from gridgis.cases.photos import Photo, PhotoStore, discard
from gridgis.db.models import AuditLog, Case, CasePhoto

__all__ = ["Check", "FiledPhotos", "photo_ctes", "photo_ids_column", "reserve_case_id"]

_ARRAYS: dict[str, ARRAY[Any]] = {
    "photo_keys": ARRAY(Text()),
    "photo_types": ARRAY(Text()),
    "photo_widths": ARRAY(Integer()),
    "photo_heights": ARRAY(Integer()),
    "photo_bytes": ARRAY(BigInteger()),
    "photo_shas": ARRAY(Text()),
    "photo_audits": ARRAY(Text()),
}
"""The statement's parameters for the photos, one array each (element ``i``: photo ``i``)."""

_COLUMNS = ("key", "content_type", "width", "height", "bytes", "sha256", "audit")
_RESERVE = select(func.nextval(func.pg_get_serial_sequence(Case.__tablename__, "id")))
_RESERVE_SQL: list[str] = []


def reserve_case_id(conn: Connection, *, direct: bool) -> int:
    """A new case id from the case table's sequence (never given out again).

    ``direct``: ``conn`` is in autocommit, so the query may go to the driver itself.
    """
    if not direct:
        return int(conn.execute(_RESERVE).scalar_one())
    if not _RESERVE_SQL:
        compiled = _RESERVE.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        _RESERVE_SQL.append(str(compiled))
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    row = driver.execute(_RESERVE_SQL[0]).fetchone()
    assert row is not None  # nextval always answers
    return int(row[0])


def photo_ctes(filed: CTE, *, actor: Any, request: Any) -> list[CTE]:
    """The CTEs that store the photos of the case ``filed`` inserts, and their audit rows.

    ``filed`` answers the new case's ``id`` and ``street_code`` (nothing when it stored
    no case: then neither are photos stored). ``actor`` and ``request`` are the
    statement's parameters for who files it and the web request's id. The photos come in
    the arrays of :data:`_ARRAYS`, in order; their ids follow that order.
    """
    given = (
        func.unnest(*(bindparam(name, type_=kind) for name, kind in _ARRAYS.items()))
        .table_valued(*_COLUMNS, with_ordinality="n")
        .render_derived()
    )
    photos = select(given).cte("u")
    rows = (
        select(
            filed.c.id,
            literal("upload"),
            photos.c.key,
            photos.c.content_type,
            photos.c.width,
            photos.c.height,
            photos.c.bytes,
            photos.c.sha256,
            actor,
        )
        .select_from(filed)
        .join(photos, true())
        .order_by(photos.c.n)
    )
    stored = (
        insert(CasePhoto)
        .from_select(["case_id", "kind", "storage_key", *_COLUMNS[1:-1], "created_by"], rows)
        .returning(CasePhoto.id, CasePhoto.storage_key)
        .cte("p")
    )
    audited = insert(AuditLog).from_select(
        ["actor", "action", "object_type", "object_id", "street_code", "summary", "request_id"],
        select(
            actor,
            literal("photo"),
            literal("case"),
            cast(filed.c.id, Text()),
            filed.c.street_code,
            func.jsonb_set(
                cast(photos.c.audit, JSONB),
                literal(["after", "photo_id"], ARRAY(Text())),
                func.to_jsonb(stored.c.id),
            ),
            request,
        )
        .select_from(stored)
        .join(photos, photos.c.key == stored.c.storage_key)
        .join(filed, true()),
    )
    return [photos, stored, audited.cte("pa")]


def photo_ids_column(stored: CTE) -> Any:
    """The new photos' ids in their order (a scalar subquery over :func:`photo_ctes`'s ``p``)."""
    ordered = func.array_agg(
        aggregate_order_by(stored.c.id, stored.c.id), type_=ARRAY(BigInteger())
    )
    return select(ordered).scalar_subquery()


class FiledPhotos:
    """The photos of one case being filed: checked before, written once, removed on failure.

    Parameters
    ----------
    photos:
        As :func:`gridgis.cases.photos.prepare_photos` gives them.
    store:
        Where their bytes go.
    actor:
        Who files them (recorded in their rows and audit rows).
    """

    def __init__(self, photos: Sequence[Photo], store: PhotoStore, *, actor: str) -> None:
        self.photos = list(photos)
        self.store = store
        self.actor = actor
        self.case_id: int | None = None
        self.written: list[str] = []

    def values(self, conn: Connection, *, direct: bool) -> dict[str, Any]:
        """The statement's parameters for the photos (the case's id among them); the
        first call reserves the id and writes the bytes to the store."""
        if self.case_id is None:
            self.case_id = reserve_case_id(conn, direct=direct)
            for photo in self.photos:
                if self.store.put(self._key(photo), photo.data):
                    self.written.append(self._key(photo))
        keys = [self._key(p) for p in self.photos]
        audits = [
            json.dumps(
                audit.summary(
                    None,
                    {
                        "photo_id": None,  # set by the statement
                        "event_id": None,
                        "content_type": p.content_type,
                        "bytes": len(p.data),
                        "sha256": p.sha256,
                    },
                ),
                ensure_ascii=False,
            )
            for p in self.photos
        ]
        return {
            "case_id": self.case_id,
            "photo_keys": keys,
            "photo_types": [p.content_type for p in self.photos],
            "photo_widths": [p.width for p in self.photos],
            "photo_heights": [p.height for p in self.photos],
            "photo_bytes": [len(p.data) for p in self.photos],
            "photo_shas": [p.sha256 for p in self.photos],
            "photo_audits": audits,
        }

    def _key(self, photo: Photo) -> str:
        return f"{self.case_id}/{photo.sha256}.{photo.extension}"

    def discard(self) -> None:
        """Remove the bytes written (the case was not stored)."""
        discard(self.store, self.written)
        self.written.clear()


Check = Callable[[Mapping[str, Any]], None]
"""A caller's check of where a case falls (its ``street_code``, ``community_code``,
``cell_code``, ``location_flag``), run after it is placed and before it is stored: it
raises to refuse the case, and nothing is stored."""
