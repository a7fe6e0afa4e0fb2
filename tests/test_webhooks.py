"""Departments' webhooks: queued with the step, posted later to a real local HTTP server,
signed, in the robots' formats, retried with back-off; a step never waits for them."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, text
from test_notices import world

from gridgis.cases import advance_case
from gridgis.errors import InputError, NotFoundError
from gridgis.webhooks import DeliveryWorker, deliver_due, retry_delay, set_webhook


class Hook:
    """A local HTTP server that records each POST and answers ``statuses`` in turn (then
    200), after ``delay`` seconds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                time.sleep(hook.delay)
                status = hook.statuses.pop(0) if hook.statuses else 200
                answer = b'{"errcode": 0}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM outbox ORDER BY id")).all()


def test_signed_json_is_queued_with_the_step_and_posted_later(
    demo_engine: Engine, hook: Hook
) -> None:
    w = world(demo_engine)
    set_webhook(demo_engine, "CG", url=hook.url, secret="s3cret", actor="test")
    with demo_engine.connect() as conn, conn.begin():  # a rolled-back step queues nothing
        advance_case(conn, w["case"], "dispatched", actor="boss", department="CG")
        conn.rollback()
    assert outbox(demo_engine) == []
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
    assert hook.requests == [] and len(outbox(demo_engine)) == 1  # one per department
    now = dt.datetime.now(dt.UTC)
    assert deliver_due(demo_engine, now).sent == 1
    (request,) = hook.requests
    body = json.loads(request["body"])
    assert body["case_id"] == w["case"] and body["kind"] == "dispatched"
    assert body["link"] == f"/cases/{w['case']}" and "城管测试科" in body["text"]
    expected = hmac.new(b"s3cret", request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Gridgis-Signature"] == f"sha256={expected}"
    assert request["headers"]["X-Gridgis-Timestamp"] == str(int(now.timestamp()))
    assert outbox(demo_engine)[0].sent_at is not None
    assert deliver_due(demo_engine, now).sent == 0  # never twice
    # the audit trail has the URL but never the secret
    with demo_engine.connect() as conn:
        trail = conn.execute(
            text("SELECT summary::text FROM audit_log WHERE action = 'webhook'")
        ).scalar_one()
    assert "s3cret" not in trail and "/hook" in trail


def test_wecom_and_dingtalk_robot_formats(demo_engine: Engine, hook: Hook) -> None:
    w = world(demo_engine)
    set_webhook(demo_engine, "CG", url=hook.url + "?key=abc", fmt="wecom", actor="test")
    set_webhook(demo_engine, "ZJ", url=hook.url, secret="SECxyz", fmt="dingtalk", actor="test")
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="ZJ")
    now = dt.datetime(2026, 12, 8, 1, 2, 3, tzinfo=dt.UTC)
    assert deliver_due(demo_engine, now + dt.timedelta(days=1)).sent == 2
    wecom, dingtalk = (json.loads(r["body"]) for r in hook.requests)
    assert wecom["msgtype"] == "markdown" and set(wecom["markdown"]) == {"content"}
    assert f"案件 {w['case']}" in wecom["markdown"]["content"]
    assert hook.requests[0]["path"] == "/hook?key=abc"
    assert "X-Gridgis-Signature" not in hook.requests[0]["headers"]
    assert dingtalk["msgtype"] == "markdown"
    assert (
        set(dingtalk["markdown"]) == {"title", "text"} and "改派" in dingtalk["markdown"]["title"]
    )
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(hook.requests[1]["path"]).query)
    stamp = query["timestamp"][0]
    assert stamp == str(int((now + dt.timedelta(days=1)).timestamp() * 1000))
    digest = hmac.new(b"SECxyz", f"{stamp}\nSECxyz".encode(), hashlib.sha256).digest()
    assert query["sign"][0] == base64.b64encode(digest).decode()


def test_a_failed_post_is_retried_with_back_off_then_given_up(
    demo_engine: Engine, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDGIS_WEBHOOK_ATTEMPTS", "3")
    w = world(demo_engine)
    set_webhook(demo_engine, "CG", url=hook.url, actor="test")
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
    hook.statuses = [500, 500]
    t0 = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert deliver_due(demo_engine, t0).retried == 1
    (row,) = outbox(demo_engine)
    assert row.attempts == 1 and row.last_error == "HTTP 500"
    assert row.next_attempt_at == t0 + dt.timedelta(minutes=1)
    assert deliver_due(demo_engine, t0 + dt.timedelta(seconds=59)).retried == 0  # not yet
    assert len(hook.requests) == 1
    assert deliver_due(demo_engine, t0 + dt.timedelta(minutes=1)).retried == 1
    assert outbox(demo_engine)[0].next_attempt_at == t0 + dt.timedelta(minutes=3)
    assert retry_delay(3) == dt.timedelta(minutes=4)
    assert deliver_due(demo_engine, t0 + dt.timedelta(minutes=3)).sent == 1
    assert len(hook.requests) == 3 and outbox(demo_engine)[0].attempts == 3

    # a server that keeps failing: given up after the last attempt
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG", assignee="李")
    hook.statuses = [503, 503, 503, 503]
    t1 = t0 + dt.timedelta(minutes=10)
    for minutes in (0, 1, 3):
        deliver_due(demo_engine, t1 + dt.timedelta(minutes=minutes))
    last = outbox(demo_engine)[-1]
    assert last.attempts == 3 and last.failed_at is not None and last.last_error == "HTTP 503"
    assert deliver_due(demo_engine, t1 + dt.timedelta(days=1)).sent == 0


def test_two_workers_never_send_one_delivery_twice(demo_engine: Engine, hook: Hook) -> None:
    w = world(demo_engine)
    set_webhook(demo_engine, "CG", url=hook.url, actor="test")
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
    advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG", assignee="王")
    hook.delay = 0.3
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(deliver_due(demo_engine, now)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in results) == 2 and len(hook.requests) == 2


def test_a_step_does_not_wait_for_a_slow_webhook(demo_engine: Engine, hook: Hook) -> None:
    w = world(demo_engine)
    set_webhook(demo_engine, "CG", url=hook.url, actor="test")
    hook.delay = 3.0
    worker = DeliveryWorker(demo_engine, interval=0.05).start()
    try:
        time.sleep(0.1)
        started = time.monotonic()
        advance_case(demo_engine, w["case"], "dispatched", actor="boss", department="CG")
        worker.wake()
        assert time.monotonic() - started < 1.5
        deadline = time.monotonic() + 10
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(hook.requests) == 1  # the worker posts it, the step did not wait
    finally:
        hook.delay = 0
        worker.stop(timeout=10)


def test_webhook_settings_are_checked(demo_engine: Engine) -> None:
    world(demo_engine)
    with pytest.raises(InputError, match=r"`url` was 'file:///etc/passwd' but .* http"):
        set_webhook(demo_engine, "CG", url="file:///etc/passwd", actor="test")
    with pytest.raises(InputError, match=r"`format` was 'slack'"):
        set_webhook(demo_engine, "CG", url="https://x.example", fmt="slack", actor="test")
    with pytest.raises(NotFoundError, match="department 'NONE' does not exist"):
        set_webhook(demo_engine, "NONE", url="https://x.example", actor="test")
    shown = set_webhook(
        demo_engine, "CG", url="https://qyapi.weixin.qq.com/x?key=K1", fmt="wecom", actor="t"
    )
    assert shown["webhook_url"] == "https://qyapi.weixin.qq.com/x?***"
    assert set_webhook(demo_engine, "CG", url=None, actor="t")["webhook_format"] is None
