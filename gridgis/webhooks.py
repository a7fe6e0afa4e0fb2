"""Departments' webhooks: their notices posted to a URL, signed, retried with back-off.

A department may name a URL (:func:`set_webhook`, ``gridgis departments webhook``);
each notice for it is then queued in the ``outbox`` in the transaction of the step
(:mod:`gridgis.notices`), and :func:`deliver_due` posts what is due: from a thread of
each web process (:class:`DeliveryWorker`) and from ``gridgis notices deliver``. No
request ever waits for a webhook.

The body is in one of three formats (``webhook_format``):

``json`` (default)
    ``{"case_id", "kind", "kind_name", "text", "link", "sent_at"}``, with the headers
    ``X-Gridgis-Timestamp`` (Unix seconds) and, when a secret is set,
    ``X-Gridgis-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``.
``wecom``
    A WeCom (企业微信) group robot's markdown message,
    ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (the robot's key is part of
    its URL; a secret is not used).
``dingtalk``
    A DingTalk (钉钉) group robot's markdown message,
    ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``; with a secret
    (the robot's 加签), the URL gains ``timestamp`` (milliseconds) and ``sign``: the
    base64 of HMAC-SHA256 of ``"<timestamp>\\n<secret>"`` with the secret, URL-encoded,
    as DingTalk documents it.

A delivery answered 2xx (and, for the robots, ``errcode`` 0) is sent; any other
answer, a timeout (``GRIDGIS_WEBHOOK_TIMEOUT_SECONDS``) or a refused connection is
tried again after 1, 2, 4 … minutes, up to ``GRIDGIS_WEBHOOK_ATTEMPTS`` tries in all,
then given up (``failed_at``). Each delivery is claimed with ``FOR UPDATE SKIP
LOCKED`` for the time of its post, so two workers never send one twice. Redirects are
not followed; only ``http://`` and ``https://`` URLs are taken. The secret is never
written to a log, an error or the audit trail, nor is the query of a URL (a robot's
key lives there).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from gridgis import audit, config
from gridgis.db import queries
from gridgis.db.models import WEBHOOK_FORMATS, Department, Outbox
from gridgis.errors import InputError, NotFoundError

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryWorker",
    "Sent",
    "deliver_due",
    "dingtalk_signed_url",
    "render",
    "retry_delay",
    "set_webhook",
    "sign",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Gridgis-Signature"
TIMESTAMP_HEADER = "X-Gridgis-Timestamp"
_MAX_URL = 2000
_MAX_SECRET = 200
_MAX_ERROR = 300
_FIRST_WAIT = dt.timedelta(minutes=1)


def shown_url(url: str | None) -> str | None:
    """A webhook URL fit for a log or the audit trail: its query (a robot's key) masked."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url)
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}{parts.path}{query}"


def _check_url(url: object) -> str:
    if not isinstance(url, str) or len(url) > _MAX_URL:
        raise InputError(
            f"`url` is expected to be an http:// or https:// URL of at most {_MAX_URL} characters",
            zh=f"`url` 应为 http:// 或 https:// 网址，最多 {_MAX_URL} 个字符",
        )
    url = url.strip()
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            f"`url` was {shown_url(url)!r} but is expected to be an http:// or https:// URL "
            "with a host (other schemes are refused)",
            zh=f"`url` 为 {shown_url(url)!r}，应为带主机名的 http:// 或 https:// 网址"
            "（不接受其他协议）",
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InputError(
            "`url` holds spaces or control characters", zh="`url` 中含有空格或控制字符"
        )
    return url


def set_webhook(
    bind: Engine | Connection,
    department: str,
    *,
    url: str | None,
    secret: str | None = None,
    fmt: str = "json",
    actor: str,
) -> dict[str, Any]:
    """Set (or with ``url=None`` remove) the webhook of a department.

    Parameters
    ----------
    department:
        The department's code.
    url:
        Where its notices are posted (``http://`` or ``https://``); ``None`` removes the
        webhook (deliveries still queued are then given up).
    secret:
        For ``json``: the key of the ``X-Gridgis-Signature`` HMAC; for ``dingtalk``: the
        robot's 加签 secret (``SEC…``); unused by ``wecom``.
    fmt:
        ``json``, ``wecom`` or ``dingtalk``.
    actor:
        Who sets it (the audit trail records the URL without its query, never the secret).

    Returns
    -------
    dict
        ``code``, ``webhook_url`` (query masked), ``webhook_format``, ``signed``.
    """
    if fmt not in WEBHOOK_FORMATS:
        raise InputError(
            f"`format` was {fmt!r} but is expected to be one of {list(WEBHOOK_FORMATS)}",
            zh=f"`format` 为 {fmt!r}，应为以下之一：{list(WEBHOOK_FORMATS)}",
        )
    if url is not None:
        url = _check_url(url)
    if secret is not None and (
        not isinstance(secret, str) or not secret.strip() or len(secret) > _MAX_SECRET
    ):
        raise InputError(
            f"`secret` is expected to be 1 to {_MAX_SECRET} characters",
            zh=f"`secret` 应为 1 到 {_MAX_SECRET} 个字符",
        )
    values = {
        "webhook_url": url,
        "webhook_secret": secret.strip() if (secret and url) else None,
        "webhook_format": fmt if url else None,
    }
    with queries.transaction(bind) as conn:
        before = conn.execute(
            select(Department.webhook_url, Department.webhook_format, Department.webhook_secret)
            .where(Department.code == department)
            .with_for_update()
        ).one_or_none()
        if before is None:
            raise NotFoundError(
                f"department {department!r} does not exist", zh=f"职能部门 {department!r} 不存在"
            )
        conn.execute(update(Department).where(Department.code == department).values(values))
        audit.record(
            conn,
            actor=actor,
            action="webhook",
            object_type="department",
            object_id=department,
            before={
                "webhook_url": shown_url(before.webhook_url),
                "webhook_format": before.webhook_format,
                "secret": before.webhook_secret,
            },
            after={
                "webhook_url": shown_url(url),
                "webhook_format": values["webhook_format"],
                "secret": values["webhook_secret"],
            },
        )
    return {
        "code": department,
        "webhook_url": shown_url(url),
        "webhook_format": values["webhook_format"],
        "signed": values["webhook_secret"] is not None,
    }


def sign(body: bytes, secret: str) -> str:
    """The ``X-Gridgis-Signature`` of ``body``: ``sha256=`` + hex HMAC-SHA256 with ``secret``.

    Examples
    --------
    >>> sign(b'{"case_id": 1}', "s3cret")[:7]
    'sha256='
    """
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """A DingTalk robot's URL with ``timestamp`` and ``sign`` (its 加签): the base64 of
    HMAC-SHA256 of ``"<timestamp>\\n<secret>"`` keyed by the secret, URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    signature = urllib.parse.quote_plus(base64.b64encode(digest))
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={signature}"


def _markdown(message: Mapping[str, Any]) -> tuple[str, str]:
    title = f"【{message['kind_name']}】案件 {message['case_id']}"
    text = f"### {title}\n\n{message['text']}\n\n[查看案件]({message['link']})"
    return title, text


def render(
    message: Mapping[str, Any],
    fmt: str,
    *,
    url: str,
    secret: str | None,
    now: dt.datetime,
) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of one delivery of ``message`` (an outbox row's) at ``now``."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "gridgis"}
    if fmt == "wecom":
        _, text = _markdown(message)
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": text}}
    elif fmt == "dingtalk":
        title, text = _markdown(message)
        payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        if secret:
            url = dingtalk_signed_url(url, secret, int(now.timestamp() * 1000))
    else:
        payload = {**message, "sent_at": now.isoformat()}
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    if fmt == "json":
        headers[TIMESTAMP_HEADER] = str(int(now.timestamp()))
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret)
    return url, body, headers


def retry_delay(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed try: 1, 2, 4 … minutes."""
    return _FIRST_WAIT * (2 ** max(attempts - 1, 0))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer like any other: not followed


_OPENER = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str], fmt: str, timeout: float) -> str | None:
    """Post one delivery; ``None`` when it was taken, else why not (no URL or secret in it)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            answer = response.read(64 * 1024)
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{type(exc).__name__}: {str(reason)[:_MAX_ERROR]}"
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if fmt in ("wecom", "dingtalk"):
        try:
            code = json.loads(answer).get("errcode", 0)
        except (ValueError, AttributeError):
            code = 0
        if code not in (0, None):
            return f"errcode {code}"
    return None


@dataclass(frozen=True)
class Sent:
    """What one :func:`deliver_due` did: deliveries ``sent``, to be ``retried``, ``failed``."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


_DUE = (
    select(
        Outbox.id,
        Outbox.message,
        Outbox.attempts,
        Department.webhook_url,
        Department.webhook_secret,
        Department.webhook_format,
    )
    .join(Department, Department.code == Outbox.department_code)
    .where(Outbox.sent_at.is_(None), Outbox.failed_at.is_(None))
    .order_by(Outbox.next_attempt_at, Outbox.id)
    .limit(1)
    .with_for_update(of=Outbox, skip_locked=True)
)


def deliver_due(
    bind: Engine,
    now: dt.datetime | None = None,
    *,
    limit: int = 100,
) -> Sent:
    """Post the deliveries due at ``now`` (default now), at most ``limit`` of them.

    Each is claimed (``FOR UPDATE SKIP LOCKED``), posted and marked in a transaction of
    its own: sent, due again after :func:`retry_delay`, or failed after
    ``GRIDGIS_WEBHOOK_ATTEMPTS`` tries.
    """
    limit = max(int(limit), 0)
    fixed = now
    settings = config.settings()
    sent = retried = failed = 0
    for _ in range(limit):
        at = fixed or dt.datetime.now(dt.UTC)
        with queries.transaction(bind) as conn:
            row = conn.execute(_DUE.where(Outbox.next_attempt_at <= at)).one_or_none()
            if row is None:
                break
            if row.webhook_url is None:
                error: str | None = "the department's webhook was removed"
                attempts = settings.webhook_attempts
            else:
                url, body, headers = render(
                    row.message,
                    row.webhook_format or "json",
                    url=row.webhook_url,
                    secret=row.webhook_secret,
                    now=at,
                )
                error = _post(
                    url, body, headers, row.webhook_format or "json",
                    settings.webhook_timeout_seconds,
                )  # fmt: skip
                attempts = row.attempts + 1
            values: dict[str, Any] = {"attempts": attempts, "last_error": error}
            if error is None:
                values["sent_at"] = at
                sent += 1
            elif attempts >= settings.webhook_attempts:
                values["failed_at"] = at
                failed += 1
                log.warning("webhook delivery %s given up: %s", row.id, error)
            else:
                values["next_attempt_at"] = at + retry_delay(attempts)
                retried += 1
            conn.execute(update(Outbox).where(Outbox.id == row.id).values(values))
    return Sent(sent=sent, retried=retried, failed=failed)


class DeliveryWorker:
    """A daemon thread that calls :func:`deliver_due` every ``interval`` seconds (and at
    once when :meth:`wake` is called), until :meth:`stop`.

    One is started per web process (:mod:`gridgis.web.notices`); errors are logged and
    the next round tries again.
    """

    def __init__(self, engine: Engine, *, interval: float = 15.0) -> None:
        self.engine = engine
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gridgis-webhooks", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Look for due deliveries now (after a step queued one)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deliver_due(self.engine)
            except Exception:
                log.exception("webhook deliveries failed; trying again in %s s", self.interval)
            self._wake.wait(self.interval)
            self._wake.clear()
            time.sleep(0)  # let the thread that woke us finish its transaction first
