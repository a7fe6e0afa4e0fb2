"""Keys of Open311 client applications: issuing, listing, revoking, and checking each use.

GeoReport v2 gives each client application an ``api_key``; it needs one to file
a request (reading is public unless ``GRIDGIS_OPEN311_PUBLIC_READ`` is off). A
client key is not a user: it files requests anywhere in the district in the
name of its application (the audit trail's actor is ``open311:<name>``), and
it reads what anyone may read, without people's personal fields.

A key is 256 random bits after the prefix :data:`KEY_PREFIX`, shown once when
it is issued; only its SHA-256 is stored (as for API tokens,
:mod:`gridgis.users`). A revoked key keeps its row, so that it is refused as
revoked (403) rather than as unknown (401), and its name stays taken.

Each key may make ``per_minute`` requests a minute (``GRIDGIS_OPEN311_KEY_PER_MINUTE``):
its row counts the requests of the current minute (a fixed window starting at
the first request after the last one ended), updated by one statement, so that
every server process shares the count and concurrent requests wait for each
other on the row. A request over the limit is refused with
:class:`~gridgis.errors.ThrottledError` (429, ``retry_after`` seconds).

Every change is written to the audit trail (:mod:`gridgis.audit`), the key
only as ``***``.

Examples
--------
>>> key = add_key(engine, "12345-app", actor="cli:admin")
>>> use_key(engine, key, per_minute=60).name
'12345-app'
>>> revoke_key(engine, "12345-app", actor="cli:admin")
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, case, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from gridgis import audit
from gridgis.db.models import Open311Client
from gridgis.db.queries import transaction
from gridgis.errors import ConflictError, ForbiddenError, InputError, NotFoundError, ThrottledError
from gridgis.users import check_name

__all__ = ["KEY_PREFIX", "ClientKey", "add_key", "list_keys", "revoke_key", "use_key"]

KEY_PREFIX = "g311_"
"""Every client key starts with this (an API token of a user with ``ggt_``)."""
WINDOW = dt.timedelta(minutes=1)
"""The window a key's requests are counted over."""
_MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class ClientKey:
    """An Open311 client application (never its key).

    Attributes
    ----------
    name:
        The application's name.
    created_at, created_by:
        When and by whom its key was issued.
    revoked_at:
        When its key was revoked (``None``: it is valid).
    last_used_at:
        When its key was last used (``None``: never).
    """

    name: str
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_client_name(name: str) -> str:
    try:
        return check_name(name)
    except InputError:
        raise InputError(
            f"the client name was {name!r} but is expected to be 1 to 64 characters "
            "without spaces, control characters or '/' (e.g. 12345-app or 市民热线)",
            zh=f"客户端名称为 {name!r}，应为 1 到 64 个字符，不含空格、控制字符或“/”"
            "（例如 12345-app 或 市民热线）",
        ) from None


def add_key(bind: Engine | Connection, name: str, *, actor: str) -> str:
    """Issue a key for the client application ``name`` and return it (shown only now).

    Raises
    ------
    InputError
        A name that cannot be one (1 to 64 characters, no spaces or ``/``).
    ConflictError
        (409) ``name`` has a key already (a revoked one too: names are not reused,
        so the trail of a name is the trail of one application).

    Examples
    --------
    >>> add_key(engine, "wechat-app", actor="cli:admin")[:5]
    'g311_'
    """
    _check_client_name(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction(bind) as conn:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(Open311Client).values(name=name, key_hash=_hash(key), created_by=actor)
                )
        except IntegrityError:
            raise ConflictError(
                f"the Open311 client {name!r} has a key already (`gridgis open311 key list`); "
                "choose another name",
                zh=f"Open311 客户端 {name!r} 已有密钥（`gridgis open311 key list`）；请换一个名称",
            ) from None
        audit.record(
            conn,
            actor=actor,
            action="add_key",
            object_type="open311_client",
            object_id=name,
            before={"key": None},
            after={"key": "new"},
        )
    return key


def revoke_key(bind: Engine | Connection, name: str, *, actor: str) -> None:
    """Revoke the key of the client application ``name``: it is refused (403) from now on.

    Revoking a revoked key changes nothing and writes no trail.

    Raises
    ------
    NotFoundError
        No client is named ``name``.
    """
    with transaction(bind) as conn:
        row = conn.execute(
            select(Open311Client.revoked_at).where(Open311Client.name == name).with_for_update()
        ).one_or_none()
        if row is None:
            raise NotFoundError(
                f"there is no Open311 client named {name!r} (`gridgis open311 key list`)",
                zh=f"没有名为 {name!r} 的 Open311 客户端（`gridgis open311 key list`）",
            )
        if row.revoked_at is not None:
            return
        conn.execute(
            update(Open311Client).where(Open311Client.name == name).values(revoked_at=func.now())
        )
        audit.record(
            conn,
            actor=actor,
            action="revoke_key",
            object_type="open311_client",
            object_id=name,
            before={"key": "valid"},
            after={"key": "revoked"},
        )


def list_keys(bind: Engine | Connection) -> list[ClientKey]:
    """Every client application, by name, revoked ones too."""
    with transaction(bind) as conn:
        rows = conn.execute(
            select(
                Open311Client.name,
                Open311Client.created_at,
                Open311Client.created_by,
                Open311Client.revoked_at,
                Open311Client.last_used_at,
            ).order_by(Open311Client.name)
        ).all()
    return [ClientKey(**row._mapping) for row in rows]


def use_key(
    bind: Engine | Connection, key: str, *, per_minute: int, now: dt.datetime | None = None
) -> ClientKey | None:
    """Count one request made with ``key`` and return its client; ``None`` if no key is ``key``.

    Parameters
    ----------
    key:
        The key as sent.
    per_minute:
        The most requests the key may make in a minute.
    now:
        The time of the request (default: the database's ``now()``).

    Raises
    ------
    ForbiddenError
        (403) the key is revoked.
    ThrottledError
        (429) the key has made ``per_minute`` requests in the current minute already.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > _MAX_KEY_LENGTH:
        return None
    at = literal(now, type_=Open311Client.created_at.type) if now is not None else func.now()
    current = Open311Client.window_start > at - WINDOW
    with transaction(bind) as conn:
        # One statement, so that concurrent requests wait for each other on the row and
        # each sees the count the one before it left (READ COMMITTED re-reads the row).
        row = conn.execute(
            update(Open311Client)
            .where(Open311Client.key_hash == _hash(key))
            .values(
                window_start=case((current, Open311Client.window_start), else_=at),
                window_count=case((current, Open311Client.window_count + 1), else_=1),
                last_used_at=at,
            )
            .returning(
                Open311Client.name,
                Open311Client.created_at,
                Open311Client.created_by,
                Open311Client.revoked_at,
                Open311Client.last_used_at,
                Open311Client.window_start,
                Open311Client.window_count,
                at.label("now"),
            )
        ).one_or_none()
    if row is None:
        return None
    if row.revoked_at is not None:
        raise ForbiddenError(
            f"the api_key of Open311 client {row.name!r} was revoked on "
            f"{row.revoked_at:%Y-%m-%d}; ask the operators of this server for a new one",
            zh=f"Open311 客户端 {row.name!r} 的 api_key 已于 {row.revoked_at:%Y-%m-%d} 吊销；"
            "请向本服务器的管理员申请新的",
        )
    if row.window_count > per_minute:
        retry_after = max(1, math.ceil((row.window_start + WINDOW - row.now).total_seconds()))
        raise ThrottledError(
            f"the api_key of Open311 client {row.name!r} may make {per_minute} requests a "
            f"minute; try again in {retry_after} seconds",
            retry_after=retry_after,
            zh=f"Open311 客户端 {row.name!r} 的 api_key 每分钟最多可请求 {per_minute} 次；"
            f"请 {retry_after} 秒后再试",
        )
    return ClientKey(
        name=row.name,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=None,
        last_used_at=row.last_used_at,
    )
