"""Throttling password guesses: failed logins counted per account, address and both.

Every wrong password is a row of ``login_failure`` (the name tried, which may
not exist, and the client's address). Before a password is checked, the
failures of a sliding window (``GRIDGIS_LOGIN_WINDOW_MINUTES``, default 15)
are counted against three limits (:func:`gridgis.config.login_limits`):

- one account from one address (default 5): a stranger guessing at one
  account is stopped, and the account's owner, elsewhere, is not;
- one address, whatever the accounts (default 20): one machine trying many
  names is stopped;
- one account from every address (default 100, looser): a guess spread over
  many addresses is slowed down; it blocks the owner too, but only while the
  guessing goes on and never longer than a window after it.

An attempt over a limit is refused with :class:`~gridgis.errors.ThrottledError`
(HTTP 429, ``retry_after`` seconds) without checking the password and without
being counted, so every lock ends by itself at most one window after the last
counted failure. A right password forgets the failures of that account from
that address. The table is the store every server process shares.

Examples
--------
>>> import datetime as dt
>>> from gridgis import config
>>> now = dt.datetime.now(dt.UTC)
>>> with engine.begin() as conn:
...     check(conn, "zhenhai", "203.0.113.7", now=now, limits=config.settings().login_limits)
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import (
    ColumnElement,
    Connection,
    ScalarSelect,
    and_,
    delete,
    func,
    insert,
    select,
)

from gridgis.config import LoginLimits
from gridgis.db.models import LoginFailure
from gridgis.errors import ThrottledError

__all__ = ["check", "forget", "record_failure", "serialise"]

MAX_NAME_LENGTH = 100
"""Names tried are kept to this many characters (a user name has at most 64)."""


def _name(name: str) -> str:
    return name[:MAX_NAME_LENGTH]


def serialise(conn: Connection, name: str, address: str) -> None:
    """Make concurrent attempts on this address and this account wait for each other.

    Without it, many attempts sent at once would all be counted before any
    was recorded. The locks are PostgreSQL advisory locks held until the end
    of ``conn``'s transaction; the address is always locked first.
    """
    for key in (f"gridgis-login-address:{address}", f"gridgis-login-name:{_name(name)}"):
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _nth_latest(
    condition: ColumnElement[bool], limit: int, since: dt.datetime
) -> ScalarSelect[dt.datetime]:
    """The time of the ``limit``-th latest failure matching ``condition`` in the window."""
    return (
        select(LoginFailure.failed_at)
        .where(condition, LoginFailure.failed_at > since)
        .order_by(LoginFailure.failed_at.desc())
        .offset(limit - 1)
        .limit(1)
        .scalar_subquery()
    )


def check(
    conn: Connection, name: str, address: str, *, now: dt.datetime, limits: LoginLimits
) -> None:
    """Raise :class:`ThrottledError` if a login of ``name`` from ``address`` is over a limit.

    Parameters
    ----------
    name:
        The account name tried (whether or not it exists).
    address:
        The client's address (``""`` when unknown).
    now:
        The time of the attempt (aware).
    limits:
        The window and the three limits.

    Raises
    ------
    ThrottledError
        With ``retry_after``: the seconds until the oldest failure that keeps
        the attempt over its limit leaves the window.
    """
    window = dt.timedelta(seconds=limits.window_seconds)
    since = now - window
    by_name, by_address = LoginFailure.name == _name(name), LoginFailure.address == address
    tipping = [
        _nth_latest(and_(by_name, by_address), limits.per_account_address, since),
        _nth_latest(by_address, limits.per_address, since),
    ]
    if limits.per_account > 0:
        tipping.append(_nth_latest(by_name, limits.per_account, since))
    found = [t for t in conn.execute(select(*tipping)).one() if t is not None]
    if not found:
        return
    until = max(found) + window
    retry_after = max(1, math.ceil((until - now).total_seconds()))
    raise ThrottledError(
        f"too many failed logins for {_name(name)!r} or from address {address or 'unknown'}; "
        f"try again in {math.ceil(retry_after / 60)} minutes",
        retry_after=retry_after,
        zh=f"用户 {_name(name)!r} 或地址 {address or '未知'} 登录失败次数过多；"
        f"请 {math.ceil(retry_after / 60)} 分钟后再试",
    )


def record_failure(
    conn: Connection, name: str, address: str, *, now: dt.datetime, limits: LoginLimits
) -> None:
    """Count a wrong password for ``name`` from ``address``; forget failures older than a window."""
    conn.execute(
        delete(LoginFailure).where(
            LoginFailure.failed_at < now - dt.timedelta(seconds=limits.window_seconds)
        )
    )
    conn.execute(insert(LoginFailure).values(name=_name(name), address=address, failed_at=now))


def forget(conn: Connection, name: str, address: str) -> None:
    """Forget the failures of ``name`` from ``address`` (its owner got the password right there)."""
    conn.execute(
        delete(LoginFailure).where(
            LoginFailure.name == _name(name), LoginFailure.address == address
        )
    )
