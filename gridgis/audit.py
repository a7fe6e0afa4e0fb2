"""The audit trail: who changed what, when, written in the transaction of the change.

Every change to layouts, drafts, cases, users, grid workers and party branches
writes a row of ``audit_log`` through :func:`record`, on the caller's own
connection: the row is committed with the change or rolled back with it, so the
trail never claims a change that did not happen and never misses one that did.

Each row names

- ``actor``: the signed-in user's name (or the API token's user) in the web app,
  ``cli:<login>`` on the command line (:func:`cli_actor`), ``system`` for the demo;
- ``action`` (``create``, ``update``, ``delete``, ``publish``, ``advance``,
  ``import``, ``load``...) on ``object_type`` ``object_id`` (``case`` ``17``,
  ``layout`` ``350304001001``, ``user`` ``zhenhai``...);
- ``street_code``: the street the object lies in, when it has one;
- ``summary``: the fields that changed, ``{"before": {...}, "after": {...}}``
  (:func:`summary`). Secrets are never written (a password or token is ``***``,
  saying only that it changed) and people's phone and ID-card numbers are masked
  (:func:`mask_person_data`);
- ``request_id``: the web request that made the change (:data:`request_id`, a
  context variable the web layer sets; this module knows nothing of Flask).

Bulk operations (an import of 10,000 cases, loading the demo district) write one
summary row per operation (counts, file name), not one per record.

This module imports only the models (:mod:`gridgis.db.models`): it sits on the
store's floor, so :mod:`gridgis.db` and every service above may write to it.

Examples
--------
>>> with engine.begin() as conn:  # doctest: +SKIP
...     record(conn, actor="王芳", action="advance", object_type="case", object_id=17,
...            before={"step": "reported"}, after={"step": "registered"})
>>> read_audit(engine, object_type="case", object_id=17)[["actor", "action"]]  # doctest: +SKIP
  actor   action
0  王芳  advance
"""

from __future__ import annotations

import contextvars
import datetime as dt
import getpass
import logging
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, select

from gridgis.db.models import AuditLog
from gridgis.errors import InputError
from gridgis.times import aware

__all__ = [
    "COLUMNS",
    "SECRET_KEYS",
    "SYSTEM",
    "cli_actor",
    "mask_person",
    "mask_person_data",
    "read_audit",
    "record",
    "request_id",
    "summary",
]

logger = logging.getLogger(__name__)

SYSTEM = "system"
"""The actor of changes no person asked for (the demo district)."""

COLUMNS: tuple[str, ...] = (
    "id",
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "street_code",
    "summary",
    "request_id",
)
"""The columns :func:`read_audit` answers, in order."""

SECRET_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "token_hash",
        "api_key",
        "secret",
        "session",
        "session_id",
        "id_hash",
    }
)
"""Fields whose values never reach the trail: written as ``***`` (it changed, not to what)."""

PERSON_KEYS: frozenset[str] = frozenset(
    {"phone", "mobile", "id_number", "id_card", "secretary_phone", "contact_phone"}
)
"""Fields that hold a person's number: all but the last four characters masked."""

MASK = "***"
_MAX_LIMIT = 10_000

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gridgis_request_id", default=None
)
"""The id of the web request being served (set by :mod:`gridgis.web.logs`); :func:`record`
writes it into each row unless given another."""

# A mainland mobile number (11 digits from 13x to 19x) and an 18-character resident ID
# number, not inside a longer run of digits (cell codes have 15 digits, communities 12).
_MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9][ -]?)([0-9]{4})([ -]?[0-9]{4})(?![0-9])")
# A landline with its area code (0 and 2-3 digits, as 0594-2345678 or 059412345678), and an
# e-mail address: the local number but its last three digits, the mailbox but its first letter.
_LANDLINE = re.compile(r"(?<![0-9])(0[1-9][0-9]{1,2}-?)([2-9][0-9]{3,4})([0-9]{3})(?![0-9])")
_EMAIL = re.compile(r"(?<![\w.+-])([\w])[\w.+-]*(@[\w-]+(?:\.[\w-]+)+)")
_ID_CARD = re.compile(r"(?<![0-9])([0-9]{6})([0-9]{8})([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


def cli_actor() -> str:
    """``cli:<login>``: the actor of a change made on the command line.

    Examples
    --------
    >>> cli_actor().startswith("cli:")
    True
    """
    try:
        login = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor in the passwd file
        login = "unknown"
    return f"cli:{login}"


def _mask_text(value: str) -> str:
    value = _MOBILE.sub(lambda m: f"{m[1]}****{m[3]}", value)
    value = _LANDLINE.sub(lambda m: f"{m[1]}{'*' * len(m[2])}{m[3]}", value)
    value = _EMAIL.sub(lambda m: f"{m[1]}***{m[2]}", value)
    return _ID_CARD.sub(lambda m: f"{m[1]}********{m[3]}", value)


def _tail(value: object) -> str:
    text = str(value)
    return "*" * max(len(text) - 4, 0) + text[-4:] if len(text) > 4 else "*" * len(text)


def mask_person(value: Any, field: str) -> Any:
    """A person's datum as shown to someone who may not see it (pages, masked exports).

    Names keep their first character (``张三丰`` → ``张**``); numbers (phone, id
    number) their last four (:func:`mask_person_data`). An importer reading a masked
    file back recognises the masked form of a stored value by this same rule.

    Examples
    --------
    >>> mask_person("张三丰", "name"), mask_person("13812345678", "phone")
    ('张**', '*******5678')
    >>> mask_person(None, "name") is None
    True
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if field in ("name", "secretary", "contact", "party_leader"):
        text = str(value)
        return text[:1] + "*" * (len(text) - 1)
    return mask_person_data(value, key=field)


def mask_person_data(value: Any, *, key: str | None = None) -> Any:
    """``value`` fit for the trail: secrets ``***``, people's numbers masked, times as text.

    Mappings and lists are masked item by item; a value under a key in
    :data:`SECRET_KEYS` becomes ``***``, one under a key in :data:`PERSON_KEYS` keeps
    only its last four characters, and mobile and ID-card numbers inside any text
    are masked (``13812345678`` → ``138****5678``).

    Examples
    --------
    >>> mask_person_data({"password_hash": "scrypt:...", "note": "call 13812345678"})
    {'password_hash': '***', 'note': 'call 138****5678'}
    >>> mask_person_data({"phone": "0594-2345678"})
    {'phone': '********5678'}
    """
    lowered = key.lower() if key is not None else None
    if lowered in SECRET_KEYS:
        return None if value is None else MASK
    if lowered in PERSON_KEYS and value is not None:
        return _tail(value)
    if isinstance(value, Mapping):
        return {str(k): mask_person_data(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [mask_person_data(v) for v in items]
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return mask_person_data(value.item(), key=key)
    return _mask_text(str(value))


def summary(
    before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The fields that differ between ``before`` and ``after``, masked.

    A creation has only ``after``, a deletion only ``before``; for an update, a field
    is kept when its value differs (or it is in one of the two only).

    Examples
    --------
    >>> summary({"step": "reported", "cell": "350304001001001"},
    ...         {"step": "registered", "cell": "350304001001001"})
    {'before': {'step': 'reported'}, 'after': {'step': 'registered'}}
    >>> summary(None, {"name": "zhenhai", "password": "s3cret-pass"})
    {'after': {'name': 'zhenhai', 'password': '***'}}
    """
    old = mask_person_data(dict(before or {}))
    new = mask_person_data(dict(after or {}))
    if before is not None and after is not None:
        keys = [k for k in {**old, **new} if k not in old or k not in new or old[k] != new[k]]
        # A secret that changed is '***' before and after: keep it, it says it changed.
        keys += [k for k in new if k.lower() in SECRET_KEYS and k not in keys]
        old = {k: old[k] for k in keys if k in old}
        new = {k: new[k] for k in keys if k in new}
    out: dict[str, Any] = {}
    if before is not None:
        out["before"] = old
    if after is not None:
        out["after"] = new
    return out


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"`{name}` was {value!r} but is expected to be non-empty text",
            zh=f"`{name}` 为 {value!r}，应为非空文字",
        )
    if "\x00" in value:
        raise InputError(
            f"`{name}` was {value!r}: text with a NUL character cannot be stored",
            zh=f"`{name}` 为 {value!r}：含 NUL 字符的文字无法保存",
        )
    return value.strip()


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    street_code: str | None = None,
    request: str | None = None,
) -> None:
    """Write one row of the audit trail on ``conn``, in the caller's transaction.

    Parameters
    ----------
    conn:
        The connection the change itself was made on: the row is committed or
        rolled back with it.
    actor:
        Who made the change (a user's name, ``cli:<login>``, ``system``).
    action:
        What was done: ``create``, ``update``, ``delete``, ``publish``, ``advance``...
    object_type, object_id:
        What it was done to (``case`` and its id; ``layout`` and the community code;
        ``user`` and the name). ``None`` for a bulk operation over many objects.
    before, after:
        The object's fields before and after; only those that differ are kept
        (:func:`summary`), secrets and people's numbers masked.
    street_code:
        The street the object lies in, if any.
    request:
        The web request's id; default: the context's :data:`request_id`.

    Raises
    ------
    InputError
        An empty ``actor``, ``action`` or ``object_type``.
    """
    values = {
        "actor": _text(actor, "actor"),
        "action": _text(action, "action"),
        "object_type": _text(object_type, "object_type"),
        "object_id": None if object_id is None else mask_person_data(str(object_id)),
        "street_code": street_code,
        "summary": summary(before, after),
        "request_id": request if request is not None else request_id.get(),
    }
    conn.execute(insert(AuditLog), values)


def _when(value: dt.datetime | str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InputError(
                f"`{name}` was {value!r} but is expected to be a time such as 2026-03-01 "
                "or 2026-03-01T08:30",
                zh=f"`{name}` 为 {value!r}，应为时间，例如 2026-03-01 或 2026-03-01T08:30",
            ) from None
    return aware(value, field=name)


def read_audit(
    bind: Engine | Connection,
    *,
    object_type: str | None = None,
    object_id: object = None,
    actor: str | None = None,
    since: dt.datetime | str | None = None,
    until: dt.datetime | str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> pd.DataFrame:
    """Rows of the audit trail, newest first.

    Parameters
    ----------
    bind:
        The database.
    object_type, object_id, actor:
        Only rows of this object type, object id (compared as text) and actor.
    since, until:
        Only rows written at or after ``since`` and before ``until`` (aware times, or
        naive ones and ISO texts taken at +08:00).
    limit, offset:
        At most ``limit`` rows (1 to 10,000) after skipping ``offset``.

    Returns
    -------
    pandas.DataFrame
        The :data:`COLUMNS`; ``at`` as aware times, ``summary`` as dicts.

    Raises
    ------
    InputError
        A bad ``limit``, ``offset`` or time (naming it).
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_LIMIT:
        raise InputError(
            f"`limit` was {limit!r} but is expected to be from 1 to {_MAX_LIMIT}",
            zh=f"`limit` 为 {limit!r}，应在 1 到 {_MAX_LIMIT} 之间",
        )
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InputError(
            f"`offset` was {offset!r} but is expected to be 0 or more",
            zh=f"`offset` 为 {offset!r}，应为 0 或更大的数",
        )
    start, end = _when(since, "since"), _when(until, "until")
    table = AuditLog.__table__
    query = select(*(table.c[name] for name in COLUMNS))
    if object_type:
        query = query.where(table.c.object_type == object_type)
    if object_id is not None and str(object_id) != "":
        query = query.where(table.c.object_id == str(object_id))
    if actor:
        query = query.where(table.c.actor == actor)
    if start is not None:
        query = query.where(table.c.at >= start)
    if end is not None:
        query = query.where(table.c.at < end)
    query = query.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit).offset(offset)
    if isinstance(bind, Connection):
        rows = [tuple(r) for r in bind.execute(query)]
    else:
        with bind.connect() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))
