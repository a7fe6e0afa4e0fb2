"""Upserting roster rows on the file's id: what changed, in words, and the link tables.

A row whose id is stored is compared field by field with what is stored;
:func:`changes` words the difference for the report (people's numbers masked, as
in the audit trail), :func:`outcome_of` decides ``imported`` / ``updated`` /
``unchanged``, and :func:`replace_links_of` rewrites owners' rows of a link table
(cells, buildings... it serves).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert

from gridgis.audit import mask_person_data
from gridgis.db.models import Base

__all__ = ["changes", "outcome_of", "replace_links_of", "shown"]


def shown(value: Any, key: str) -> str:
    """A value as the report shows it: lists joined with ``、``, numbers of people masked.

    Examples
    --------
    >>> shown(["350304001001001", "350304001001002"], "cells")
    '350304001001001、350304001001002'
    >>> shown("13812345678", "phone"), shown(None, "phone")
    ('*******5678', '-')
    """
    if value is None or value == [] or value == ():
        return "-"
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return "、".join(str(mask_person_data(v, key=key)) for v in items)
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(mask_person_data(value, key=key))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) < 1e-7
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """The fields of ``after`` that differ from ``before``, as ``field old → new``.

    Examples
    --------
    >>> changes({"name": "王芳", "phone": "13812345678"}, {"name": "王芳", "phone": "13912349999"})
    ['phone *******5678 → *******9999']
    >>> changes(None, {"name": "王芳"})
    []
    """
    if before is None:
        return []
    out = []
    for key, value in after.items():
        old = before.get(key)
        if not _same(old, value):
            out.append(f"{key} {shown(old, key)} → {shown(value, key)}")
    return out


def outcome_of(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """``imported`` (nothing stored), ``updated`` (something differs) or ``unchanged``."""
    if before is None:
        return "imported"
    return "updated" if changes(before, after) else "unchanged"


def replace_links_of(
    conn: Connection,
    model: type[Base],
    owner: str,
    rows: Mapping[int, Iterable[Mapping[str, Any]]],
    *,
    stored: Collection[int],
) -> None:
    """Make the rows of the link table ``model`` of each owner id of ``rows`` (in column
    ``owner``) exactly its rows, for any number of owners in two statements
    (``stored``: the owners that may have rows already; the others were just stored)."""
    column = model.__table__.c[owner]
    if stored:
        conn.execute(delete(model).where(column.in_(list(stored))))
    values = [{owner: owner_id, **row} for owner_id, links in rows.items() for row in links]
    if values:
        conn.execute(insert(model), values)
