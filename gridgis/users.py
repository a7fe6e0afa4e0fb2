"""The users of the web app: adding, listing and removing them, passwords, API tokens.

Three roles (:data:`gridgis.db.models.USER_ROLES`): ``admin`` sees and edits
everything; ``street`` (a street office, 街道办) sees and exports only its own
street, named when the user is added; ``analyst`` reads and exports everything
and edits nothing.

Passwords are never stored or logged: only their hash, made by werkzeug's
``generate_password_hash`` with **scrypt** (N=2¹⁵, r=8, p=1, a 16-character
random salt; about 0.1 s and 32 MiB per check), is kept. Checking a password
costs the same whether the name exists or not, and wrong passwords are
throttled per account and client address (:mod:`gridgis.logins`). A password
has at least ``GRIDGIS_PASSWORD_MIN_LENGTH`` characters (default 10) and is
not one of the most common passwords (``gridgis/data/common_passwords.txt``).

A browser session is a row of ``user_session`` (:func:`start_session`); the
cookie holds a random id, the table its SHA-256. Logging out ends that
session, a new password ends every session and the API token of the user,
removing the user ends everything of it, each at once in every process.

An API token (for scripts and Open311 clients, sent as
``Authorization: Bearer ggt_...``) is 256 random bits shown once when it is
issued; only its SHA-256 is stored (a slow hash adds nothing to a random
secret of that length, and a fast one can be looked up by index).

Every function takes an engine or a connection. With a connection, the work
is part of the caller's transaction; with an engine, a change is committed
before the function returns. Every change takes the ``actor`` who makes it and
writes a row of the audit trail (:mod:`gridgis.audit`) in its transaction: a new
password or token shows only as ``***``, never its hash.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> engine = get_engine()
>>> add_user(engine, "zhenhai", role="street", street="350304001",
...          password="s3cret-pass", actor="cli:admin")
User(id=1, name='zhenhai', role='street', street_code='350304001', ...)
>>> authenticate(engine, "zhenhai", "s3cret-pass").scope
'350304001'
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Interval,
    Row,
    Update,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    union,
    update,
)
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from gridgis import audit, config, logins, user_links
from gridgis.codes import is_code, parent_code
from gridgis.db.models import (
    USER_ROLES,
    AppUser,
    Department,
    GridCell,
    GridWorker,
    Street,
    UserSession,
    WorkerCell,
    WorkerCommunity,
)
from gridgis.db.queries import reading, transaction
from gridgis.errors import ConflictError, InputError, NotFoundError
from gridgis.passwords import MAX_PASSWORD_LENGTH, check_password, is_common_password

__all__ = [
    "PASSWORD_METHOD",
    "TOKEN_PREFIX",
    "USER_ROLES",
    "User",
    "add_user",
    "authenticate",
    "check_name",
    "check_password",
    "check_street",
    "count_users",
    "end_session",
    "get_user",
    "is_common_password",
    "issue_token",
    "list_users",
    "remove_user",
    "revoke_token",
    "set_password",
    "start_session",
    "user_by_id",
    "user_for_session",
    "user_for_token",
]

PASSWORD_METHOD = "scrypt"
"""werkzeug's hashing method: ``scrypt:32768:8:1``."""
TOKEN_PREFIX = "ggt_"
"""Every API token starts with this, so a leaked one is easy to recognise and search for."""

_NAME = re.compile(r"[^\s/\x00-\x1f\x7f-\x9f]{1,64}")

_WORKER_AREAS = union(
    select(GridCell.code.label("code"))
    .join(WorkerCell, WorkerCell.cell_id == GridCell.id)
    .where(WorkerCell.worker_id == bindparam("worker"), GridCell.valid_to.is_(None)),
    select(WorkerCommunity.community_code).where(WorkerCommunity.worker_id == bindparam("worker")),
)
"""A grid worker's active cells and communities (read for worker logins only: every other
request's user is read by one indexed row)."""
_WORKER_STREET = (
    select(GridWorker.street_code).where(GridWorker.id == AppUser.worker_id).scalar_subquery()
)
_USERS = select(
    AppUser.id,
    AppUser.name,
    AppUser.role,
    AppUser.street_code,
    Street.name.label("street_name"),
    AppUser.session_version,
    AppUser.token_hash.is_not(None).label("has_token"),
    AppUser.created_at,
    AppUser.last_login_at,
    AppUser.worker_id,
    AppUser.department_code,
    _WORKER_STREET.label("worker_street"),
    AppUser.member_id,
).outerjoin(Street, Street.code == AppUser.street_code)
"""Users as :class:`User` holds them (never the password hash)."""
# Built once, with the values bound when they run: SQLAlchemy then finds the compiled form
# by the statement itself (a new select each time costs ~0.1 ms to match; a user is read on
# every request, by session cookie or API token).
_USER_BY_ID = _USERS.where(AppUser.id == bindparam("id"))
_USER_BY_NAME = _USERS.where(AppUser.name == bindparam("name"))
_USER_BY_SESSION = _USERS.join(UserSession, UserSession.user_id == AppUser.id).where(
    UserSession.id_hash == bindparam("hash"), UserSession.expires_at > func.now()
)
_USER_BY_TOKEN = _USERS.where(AppUser.token_hash == bindparam("hash"))


@dataclass(frozen=True)
class User:
    """A user as the app sees it (never with the password hash).

    Attributes
    ----------
    session_version:
        Raised when the password changes; a session signed in with an older
        value is no longer valid.
    has_token:
        Whether an API token has been issued (the token itself is not stored).
    """

    id: int
    name: str
    role: str
    street_code: str | None
    street_name: str | None
    session_version: int
    has_token: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    worker_id: int | None = None
    department_code: str | None = None
    worker_street: str | None = None
    areas: tuple[str, ...] = ()
    member_id: int | None = None

    @property
    def scope(self) -> str | None:
        """The street code this user is limited to, or ``None`` for every street: a street
        office's street, a grid worker's (its roster's street, else that of its first cell)."""
        if self.role == "worker":
            return self.worker_street or (self.areas[0][:9] if self.areas else None)
        return self.street_code if self.role == "street" else None


def _user(row: Row[*tuple[Any, ...]], conn: Connection | None = None) -> User:
    areas: tuple[str, ...] = ()
    if row.role == "worker" and conn is not None:
        areas = tuple(sorted(conn.execute(_WORKER_AREAS, {"worker": row.worker_id}).scalars()))
    return User(
        id=int(row.id),
        name=row.name,
        role=row.role,
        street_code=row.street_code,
        street_name=row.street_name,
        session_version=int(row.session_version),
        has_token=bool(row.has_token),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        worker_id=row.worker_id,
        department_code=row.department_code,
        worker_street=row.worker_street,
        areas=areas,
        member_id=row.member_id,
    )


def check_name(name: str) -> str:
    """Return ``name`` if it can be a user name, else raise naming it.

    A name is 1 to 64 characters with no spaces, control characters or ``/``;
    Chinese names are fine.

    Examples
    --------
    >>> check_name("镇海街道")
    '镇海街道'
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"the user name was {name!r} but is expected to be 1 to 64 characters "
            "without spaces, control characters or '/' (e.g. zhenhai or 镇海街道)",
            zh=f"用户名为 {name!r}，应为 1 到 64 个字符，不含空格、控制字符或“/”"
            "（例如 zhenhai 或 镇海街道）",
        )
    return name


def _check_role(role: str) -> str:
    if role not in USER_ROLES:
        raise InputError(
            f"`role` was {role!r} but is expected to be one of {list(USER_ROLES)}",
            zh=f"`role`（角色）为 {role!r}，应为以下之一：{list(USER_ROLES)}",
        )
    return role


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the name is unknown, so that costs as much as a real check."""
    return _hash(secrets.token_hex(16))


def check_street(bind: Engine | Connection, street: str) -> str:
    """Return ``street`` if it is the code of a stored street, else raise naming it.

    The error lists the streets of the same district, when there are any.

    Examples
    --------
    >>> check_street(engine, "350304009")
    Traceback (most recent call last):
    gridgis.errors.NotFoundError: street '350304009' does not exist; the streets of ...
    """
    if not is_code(street, "street"):
        raise InputError(
            f"`street` was {street!r} but is expected to be a street's 9-digit code "
            "(e.g. 350304001)",
            zh=f"`street` 为 {street!r}，应为街道的 9 位编码（例如 350304001）",
        )
    with transaction(bind) as conn:
        found = conn.execute(select(Street.code).where(Street.code == street))
        if found.first() is not None:
            return street
        known = ", ".join(
            conn.execute(
                select(Street.code)
                .where(Street.district_code == parent_code(street, "district"))
                .order_by(Street.code)
                .limit(12)
            ).scalars()
        )
        hint = (
            f"; the streets of district {parent_code(street, 'district')} are {known}"
            if known
            else "; load the streets first (`gridgis import divisions`)"
        )
        hint_zh = (
            f"；区 {parent_code(street, 'district')} 的街道有：{known}"
            if known
            else "；请先导入街道（`gridgis import divisions`）"
        )
        raise NotFoundError(
            f"street {street!r} does not exist{hint}", zh=f"街道 {street!r} 不存在{hint_zh}"
        )


def add_user(
    bind: Engine | Connection,
    name: str,
    *,
    role: str,
    password: str,
    street: str | None = None,
    worker: str | None = None,
    department: str | None = None,
    member: str | None = None,
    actor: str,
) -> User:
    """Add a user; a ``street`` user must name the street it is limited to, a ``worker``
    the grid worker it is, a ``department`` user its department, a ``member`` the party
    member it is.

    Parameters
    ----------
    bind:
        The database (or a connection, to add inside its transaction).
    name:
        The login name, unique (see :func:`check_name`).
    role:
        ``"admin"``, ``"street"`` or ``"analyst"``.
    password:
        Not weak (see :func:`check_password`); only its hash is stored.
    street:
        The 9-digit code of an existing street: required for ``"street"``,
        refused for the other roles.
    worker:
        For ``"worker"`` (required): the grid worker's id as imported (its
        ``external_id``, e.g. the roster's 工号), or its number in gridgis. The login
        sees the cases of that worker's cells and communities, which follow its links.
    department:
        For ``"department"`` (required): the department's code.
    member:
        For ``"member"`` (党员, required): the party member's id as imported, or its
        number; the login sees the 大走访 targets assigned to it and logs its visits.
    actor:
        Who adds the user (recorded in the audit trail).

    Returns
    -------
    User
        The new user.

    Raises
    ------
    InputError
        A bad name, role, password or street code, or a street given to a
        role that has none.
    NotFoundError
        The street does not exist.
    ConflictError
        The name is taken.

    Examples
    --------
    >>> add_user(engine, "analyst1", role="analyst", password="a long pass", actor="admin")
    User(id=2, name='analyst1', role='analyst', street_code=None, ...)
    """
    check_name(name)
    _check_role(role)
    if role == "street" and not street:
        raise InputError(
            f"a user of role 'street' needs the street it is limited to; give its code "
            f"(e.g. --street 350304001) for {name!r}",
            zh=f"角色为 'street'（街道办）的用户 {name!r} 需要指定所属街道；请给出街道编码"
            "（例如 --street 350304001）",
        )
    if role != "street" and street:
        raise InputError(
            f"`street` was {street!r} but only users of role 'street' are limited to a "
            f"street; role {role!r} sees every street",
            zh=f"`street` 为 {street!r}，但只有角色为 'street'（街道办）的用户才限于一个街道；"
            f"角色 {role!r} 可查看所有街道",
        )
    for option, needed in (("worker", worker), ("department", department), ("member", member)):
        if (role == option) != (needed is not None):
            raise InputError(
                f"a user of role {option!r} needs `{option}` (--{option}) and no other role "
                f"takes it; got role {role!r}, {option}={needed!r} for {name!r}",
                zh=f"角色为 {option!r} 的用户需要 `{option}`（--{option}），其他角色不接受此项；"
                f"用户 {name!r} 的角色为 {role!r}，{option}={needed!r}",
            )
    check_password(password, name=name)
    with transaction(bind) as conn:
        if street:
            check_street(conn, street)
        worker_id = user_links.worker_id(conn, worker) if worker is not None else None
        member_id = user_links.member_id(conn, member) if member is not None else None
        if department is not None:
            found = conn.execute(select(Department.code).where(Department.code == department))
            if found.first() is None:
                raise NotFoundError(
                    f"department {department!r} does not exist; add it first "
                    "(`gridgis departments add CODE NAME --district D`)",
                    zh=f"职能部门 {department!r} 不存在；请先添加"
                    "（`gridgis departments add CODE NAME --district D`）",
                )
        taken = conn.execute(select(AppUser.id).where(AppUser.name == name))
        if taken.first() is not None:
            raise ConflictError(
                f"a user named {name!r} already exists", zh=f"用户名 {name!r} 已存在"
            )
        conn.execute(
            insert(AppUser).values(
                name=name,
                role=role,
                street_code=street or None,
                worker_id=worker_id,
                department_code=department,
                member_id=member_id,
                password_hash=_hash(password),
            )
        )
        added = get_user(conn, name)
        audit.record(
            conn,
            actor=actor,
            action="create",
            object_type="user",
            object_id=name,
            after={
                "role": role,
                "street_code": added.street_code,
                **({"worker_id": worker_id} if worker_id is not None else {}),
                **({"department_code": department} if department is not None else {}),
                **({"member_id": member_id} if member_id is not None else {}),
                "password": "set",
            },
            street_code=added.street_code,
        )
        return added


def list_users(bind: Engine | Connection) -> list[User]:
    """Return every user, by name.

    Examples
    --------
    >>> [u.name for u in list_users(engine)]
    ['analyst1', 'zhenhai']
    """
    with transaction(bind) as conn:
        rows = conn.execute(_USERS.order_by(AppUser.name)).all()
        return [_user(row, conn) for row in rows]


def count_users(bind: Engine | Connection) -> int:
    """Return how many users there are (``0`` on a fresh database).

    Examples
    --------
    >>> count_users(engine)
    2
    """
    with transaction(bind) as conn:
        return int(conn.execute(select(func.count()).select_from(AppUser)).scalar_one())


def get_user(bind: Engine | Connection, name: str) -> User:
    """Return the user named ``name``, or raise :class:`NotFoundError` naming it.

    Examples
    --------
    >>> get_user(engine, "zhenhai").street_code
    '350304001'
    """
    with transaction(bind) as conn:
        row = conn.execute(_USER_BY_NAME, {"name": name}).one_or_none()
        if row is None:
            raise NotFoundError(f"there is no user named {name!r}", zh=f"没有名为 {name!r} 的用户")
        return _user(row, conn)


def user_by_id(bind: Engine | Connection, user_id: int) -> User | None:
    """Return the user with id ``user_id``, or ``None`` if it was removed.

    Examples
    --------
    >>> user_by_id(engine, 1).name
    'zhenhai'
    """
    with reading(bind) as conn:
        row = conn.execute(_USER_BY_ID, {"id": user_id}).one_or_none()
        return None if row is None else _user(row, conn)


def remove_user(bind: Engine | Connection, name: str, *, actor: str) -> None:
    """Remove the user named ``name`` (its sessions and API token stop working at once).

    ``actor`` (who removes it) is recorded in the audit trail.

    Examples
    --------
    >>> remove_user(engine, "analyst1", actor="admin")
    """
    with transaction(bind) as conn:
        removed = conn.execute(
            delete(AppUser).where(AppUser.name == name).returning(AppUser.role, AppUser.street_code)
        ).one_or_none()
        if removed is None:
            raise NotFoundError(f"there is no user named {name!r}", zh=f"没有名为 {name!r} 的用户")
        audit.record(
            conn,
            actor=actor,
            action="delete",
            object_type="user",
            object_id=name,
            before={"role": removed.role, "street_code": removed.street_code},
            street_code=removed.street_code,
        )


def set_password(bind: Engine | Connection, name: str, password: str, *, actor: str) -> User:
    """Give ``name`` a new password; every session of the user and its API token end.

    ``actor`` (who sets it: the user, or an admin) is recorded in the audit trail,
    with ``***`` for the password.

    Examples
    --------
    >>> set_password(engine, "zhenhai", "a new long pass", actor="zhenhai").session_version
    2
    """
    check_password(password, name=name)
    with transaction(bind) as conn:
        changed = conn.execute(
            _update_user(
                name,
                password_hash=_hash(password),
                token_hash=None,
                session_version=AppUser.session_version + 1,
            ).returning(AppUser.id, AppUser.street_code, _HAD_TOKEN)
        ).one_or_none()
        if changed is None:
            raise NotFoundError(f"there is no user named {name!r}", zh=f"没有名为 {name!r} 的用户")
        conn.execute(delete(UserSession).where(UserSession.user_id == changed.id))
        ended = {"sessions": "ended"} | ({"token": None} if changed.had_token else {})
        audit.record(
            conn,
            actor=actor,
            action="update",
            object_type="user",
            object_id=name,
            before={"password": "old"} | ({"token": "old"} if changed.had_token else {}),
            after={"password": "new"} | ended,
            street_code=changed.street_code,
        )
        return get_user(conn, name)


def authenticate(
    bind: Engine | Connection,
    name: str,
    password: str,
    *,
    address: str | None = None,
    now: dt.datetime | None = None,
) -> User | None:
    """Return the user if ``password`` is right, else ``None``; refuse when throttled.

    The caller learns nothing more (an unknown name and a wrong password look
    the same), and each answer costs one scrypt check. Wrong passwords are
    counted by name and ``address`` and too many refuse further attempts for
    a while (:mod:`gridgis.logins`, ``GRIDGIS_LOGIN_*``); a right password
    forgets the failures of that name from that address.

    Parameters
    ----------
    address:
        The client's address (the web app's ``request.remote_addr``); ``None``
        counts the attempt under an unknown address.
    now:
        The time of the attempt (aware); default the current time.

    Raises
    ------
    ThrottledError
        Too many failed logins of this name or from this address lately
        (``retry_after`` says for how long); the password was not checked.

    Examples
    --------
    >>> authenticate(engine, "zhenhai", "wrong password") is None
    True
    """
    when = now if now is not None else dt.datetime.now(dt.UTC)
    where = address or ""
    limits = config.settings().login_limits
    with transaction(bind) as conn:
        logins.serialise(conn, name, where)
        logins.check(conn, name, where, now=when, limits=limits)
        row = None
        if _NAME.fullmatch(name) and len(password) <= MAX_PASSWORD_LENGTH:
            row = conn.execute(
                select(AppUser.id, AppUser.password_hash).where(AppUser.name == name)
            ).one_or_none()
        if row is None:
            check_password_hash(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        elif check_password_hash(row.password_hash, password):
            logins.forget(conn, name, where)
            conn.execute(update(AppUser).where(AppUser.id == row.id).values(last_login_at=when))
            return user_by_id(conn, int(row.id))
        logins.record_failure(conn, name, where, now=when, limits=limits)
    return None


_OLD = aliased(AppUser, name="old")
"""The user's row as it was before an update (``UPDATE ... FROM app_user old``)."""
_HAD_TOKEN = _OLD.token_hash.is_not(None).label("had_token")


def _update_user(name: str, **values: Any) -> Update:
    """An update of the user named ``name``, that can return what the row held before it."""
    return update(AppUser).values(**values).where(_OLD.id == AppUser.id, AppUser.name == name)


# --- sessions ------------------------------------------------------------------------------------


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(bind: Engine | Connection, user_id: int, *, lifetime: dt.timedelta) -> str:
    """Open a session of the user with id ``user_id`` for ``lifetime``; return its id.

    The id (256 random bits) goes into the signed cookie; only its SHA-256 is
    stored. Sessions past their end are deleted now.

    Examples
    --------
    >>> len(start_session(engine, 1, lifetime=dt.timedelta(hours=8)))
    43
    """
    session_id = secrets.token_urlsafe(32)
    with transaction(bind) as conn:
        conn.execute(delete(UserSession).where(UserSession.expires_at <= func.now()))
        conn.execute(
            insert(UserSession).values(
                id_hash=_session_hash(session_id),
                user_id=user_id,
                expires_at=func.now() + literal(lifetime, Interval()),
            )
        )
    return session_id


def user_for_session(bind: Engine | Connection, session_id: str) -> User | None:
    """Return the user of the open session ``session_id``, or ``None`` (ended, expired, unknown).

    Examples
    --------
    >>> user_for_session(engine, "not-a-session") is None
    True
    """
    if len(session_id) > 200:
        return None
    with reading(bind) as conn:
        row = conn.execute(_USER_BY_SESSION, {"hash": _session_hash(session_id)}).one_or_none()
        return None if row is None else _user(row, conn)


def end_session(bind: Engine | Connection, session_id: str) -> None:
    """End the session ``session_id`` (logging out); an unknown one is ignored.

    Examples
    --------
    >>> session_id = start_session(engine, 1, lifetime=dt.timedelta(hours=8))
    >>> end_session(engine, session_id)
    >>> user_for_session(engine, session_id) is None
    True
    """
    with transaction(bind) as conn:
        conn.execute(delete(UserSession).where(UserSession.id_hash == _session_hash(session_id)))


# --- API tokens ----------------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(bind: Engine | Connection, name: str, *, actor: str) -> str:
    """Give ``name`` a new API token and return it; it replaces the previous one.

    The token is shown only now: only its SHA-256 is stored, and the audit trail
    records that ``actor`` issued one (as ``***``).

    Examples
    --------
    >>> issue_token(engine, "zhenhai", actor="admin")[:4]
    'ggt_'
    """
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction(bind) as conn:
        changed = conn.execute(
            _update_user(name, token_hash=token_hash(token)).returning(
                AppUser.street_code, _HAD_TOKEN
            )
        ).one_or_none()
        if changed is None:
            raise NotFoundError(f"there is no user named {name!r}", zh=f"没有名为 {name!r} 的用户")
        audit.record(
            conn,
            actor=actor,
            action="issue_token",
            object_type="user",
            object_id=name,
            before={"token": "old"} if changed.had_token else {"token": None},
            after={"token": "new"},
            street_code=changed.street_code,
        )
    return token


def revoke_token(bind: Engine | Connection, name: str, *, actor: str) -> None:
    """Withdraw ``name``'s API token, if it has one; ``actor`` is recorded in the audit trail.

    Examples
    --------
    >>> revoke_token(engine, "zhenhai", actor="admin")
    """
    with transaction(bind) as conn:
        changed = conn.execute(
            _update_user(name, token_hash=None).returning(AppUser.street_code, _HAD_TOKEN)
        ).one_or_none()
        if changed is None:
            raise NotFoundError(f"there is no user named {name!r}", zh=f"没有名为 {name!r} 的用户")
        if changed.had_token:
            audit.record(
                conn,
                actor=actor,
                action="revoke_token",
                object_type="user",
                object_id=name,
                before={"token": "old"},
                after={"token": None},
                street_code=changed.street_code,
            )


def user_for_token(bind: Engine | Connection, token: str) -> User | None:
    """Return the user whose API token is ``token``, or ``None``.

    Examples
    --------
    >>> user_for_token(engine, "ggt_not-a-real-token") is None
    True
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with reading(bind) as conn:
        row = conn.execute(_USER_BY_TOKEN, {"hash": token_hash(token)}).one_or_none()
        return None if row is None else _user(row, conn)
