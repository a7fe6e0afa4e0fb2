"""Who a login is: the grid worker or party member a user of role ``worker`` or ``member``
is linked to, found by the id of its register (its ``external_id``) or its number."""

from __future__ import annotations

from sqlalchemy import Connection, select

from gridgis.db.models import GridWorker, PartyMember
from gridgis.errors import NotFoundError

__all__ = ["member_id", "worker_id"]


def _linked_id(conn: Connection, model: type[GridWorker | PartyMember], value: str) -> int | None:
    found = conn.execute(select(model.id).where(model.external_id == str(value))).scalar()
    if found is None and str(value).isdigit() and int(value) < 2**31:
        found = conn.execute(select(model.id).where(model.id == int(value))).scalar()
    return None if found is None else int(found)


def worker_id(conn: Connection, worker: str) -> int:
    """The id of the grid worker known as ``worker`` (its external id, else its number)."""
    found = _linked_id(conn, GridWorker, worker)
    if found is None:
        raise NotFoundError(
            f"grid worker {worker!r} does not exist; give its id as imported "
            "(`gridgis import workers FILE`, the 编号/id column)",
            zh=f"网格员 {worker!r} 不存在；请给出导入时的编号"
            "（`gridgis import workers FILE` 的 编号/id 列）",
        )
    return found


def member_id(conn: Connection, member: str) -> int:
    """The id of the party member known as ``member`` (its external id, else its number)."""
    found = _linked_id(conn, PartyMember, member)
    if found is None:
        raise NotFoundError(
            f"party member {member!r} does not exist; give their id as imported "
            "(`gridgis import members FILE`, the 编号/id column)",
            zh=f"党员 {member!r} 不存在；请给出导入时的编号"
            "（`gridgis import members FILE` 的 编号/id 列）",
        )
    return found
