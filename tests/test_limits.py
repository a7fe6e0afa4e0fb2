"""What a request may carry (gridgis.web.limits): text without NUL, bodies within the limit.

PostgreSQL refuses the NUL character in text, so a NUL anywhere in a query
string, a path, a form field or a JSON string is answered 400 naming the
field, before any view passes it to the database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _api_auth import user_token
from _server import gunicorn, send_chunked
from conftest import sample_url, sign_in
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture(scope="module")
def web_app(shared_client: FlaskClient) -> Flask:
    return shared_client.application


@pytest.fixture(scope="module")
def admin(web_app: Flask) -> FlaskClient:
    """An administrator's session (pages and API alike)."""
    client = web_app.test_client()
    sign_in(client, role="admin", name="limits-admin")
    return client


@pytest.fixture(scope="module")
def admin_token(web_app: Flask) -> str:
    return user_token(web_app.config["DATABASE_URL"], "limits-token", role="admin")


def _message(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if response.is_json:
        body = response.get_json()
        return str(body[0]["description"] if isinstance(body, list) else body["error"]["message"])
    return response.get_data(as_text=True)


def _urls(app: Flask) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()):
            continue
        url = sample_url(rule)
        urls.append(url)
    return urls


# --- NUL ---------------------------------------------------------------------------------------


def test_nul_in_the_search_of_the_editing_page_is_a_400_with_a_message(
    admin: FlaskClient,
) -> None:
    page = _message(admin.get("/edit/?q=%00"), 400)
    assert "参数 `q` 的值 &#39;\\x00&#39; 含有空字符（NUL）" in page
    english = _message(admin.get("/edit/?q=ab%00c&lang=en"), 400)
    assert "`q` was &#39;ab\\x00c&#39; but text may not contain the NUL character" in english


def test_nul_in_any_query_parameter_is_refused_on_every_route(admin: FlaskClient) -> None:
    urls = _urls(admin.application)
    assert len(urls) > 30
    for url in urls:
        response = admin.get(f"{url}?zz=a%00&lang=en")
        message = _message(response, 400)
        assert "`zz` was" in message and "NUL character" in message, url
    name = _message(admin.get("/api/cases?lang=en&a%00b=1"), 400)
    assert name == ("the name of a query parameter, 'a\\x00b', may not contain the NUL character")


def test_nul_in_a_path_is_refused(admin: FlaskClient) -> None:
    for url in ("/area/35%00?lang=en", "/api/areas/35%00?lang=en", "/edit/35%00/?lang=en"):
        message = _message(admin.get(url), 400)
        assert "the path" in message and "NUL character" in message, url


def test_nul_in_a_form_field_is_refused_even_at_the_login(web_app: Flask) -> None:
    anonymous = web_app.test_client()
    anonymous.get("/login")
    with anonymous.session_transaction() as session:
        csrf = str(session["csrf"])
    response = anonymous.post(
        "/login?lang=en", data={"name": "a\x00b", "password": "x", "csrf_token": csrf}
    )
    assert "the form field `name` was &#39;a\\x00b&#39;" in _message(response, 400)


def test_nul_in_a_json_or_open311_body_is_refused(web_app: Flask, admin_token: str) -> None:
    client = web_app.test_client()
    headers = {"Authorization": f"Bearer {admin_token}"}
    body = {"category": "errand", "address": "荔城区\u0000", "lon": None}
    message = _message(client.post("/api/cases?lang=en", json=body, headers=headers), 400)
    assert message == ("`address` was '荔城区\\x00' but text may not contain the NUL character")
    nested = {"category": "errand", "x\u0000": 1}
    message = _message(client.post("/api/cases?lang=en", json=nested, headers=headers), 400)
    assert message == ("the name of the field 'x\\x00' may not contain the NUL character")
    form = {"service_code": "errand", "address_string": "荔城区", "description": "a\x00"}
    message = _message(
        client.post("/open311/v2/requests.json?lang=en", data=form, headers=headers), 400
    )
    assert message == (
        "the form field `description` was 'a\\x00' but text may not contain the NUL character"
    )


# --- size ----------------------------------------------------------------------------------------

LIMIT = 1024 * 1024
"""GRIDGIS_MAX_CONTENT_LENGTH of these tests: 1 MB."""
COMMUNITY = "350304001001"


class CountingStream(io.RawIOBase):
    """A request body of ``size`` zero bytes that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = bytes(n)
        self.position += n
        self.read_bytes += n
        return n


@pytest.fixture
def small(database_url: str) -> Iterator[Flask]:
    """The app on an empty database, reading bodies of at most :data:`LIMIT` bytes."""
    from gridgis.web import create_app
    from gridgis.web.db import dispose_engine

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "MAX_CONTENT_LENGTH": LIMIT})
    yield app
    dispose_engine(app)


def _post(client: FlaskClient, url: str, size: int, **kwargs: Any) -> tuple[Any, CountingStream]:
    stream = CountingStream(size)
    response = client.post(url, input_stream=stream, content_length=size, **kwargs)
    return response, stream


def test_the_limit_is_a_setting_with_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from gridgis import config
    from gridgis.errors import ConfigError
    from gridgis.web import create_app

    monkeypatch.delenv("GRIDGIS_MAX_CONTENT_LENGTH", raising=False)
    assert config.settings().max_content_length == 50 * 1024 * 1024
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 50 * 1024 * 1024
    monkeypatch.setenv("GRIDGIS_MAX_CONTENT_LENGTH", "2097152")
    assert create_app({"TESTING": True}).config["MAX_CONTENT_LENGTH"] == 2097152
    monkeypatch.setenv("GRIDGIS_MAX_CONTENT_LENGTH", "50MB")
    with pytest.raises(ConfigError, match="GRIDGIS_MAX_CONTENT_LENGTH was '50MB' but is expected"):
        create_app({"TESTING": True})


def test_a_body_over_the_limit_is_answered_413_before_a_byte_is_read(
    small: Flask, database_url: str
) -> None:
    token = user_token(database_url, "big-sender", role="admin")
    signed = small.test_client()
    signed.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    size = 200 * 1024 * 1024
    for client in (signed, small.test_client()):  # with a token, and anonymous
        response, stream = _post(client, "/api/cases", size, content_type="application/json")
        assert _message(response, 413) == (
            f"请求内容有 {size} 字节，超过了上限 {LIMIT} 字节，未予读取。"
        )
        assert stream.read_bytes == 0
    response, stream = _post(
        signed,
        f"/edit/{COMMUNITY}/upload?lang=en",
        size,
        content_type="multipart/form-data; boundary=x",
    )
    page = _message(response, 413)
    assert response.mimetype == "text/html" and "Request too large" in page
    assert f"the request body has {size} bytes but may have at most {LIMIT}" in page
    assert "Traceback" not in page and stream.read_bytes == 0


def test_an_anonymous_body_is_refused_before_it_is_read(small: Flask) -> None:
    anonymous = small.test_client()
    response, stream = _post(anonymous, "/api/cases", 1000, content_type="application/json")
    assert "log in first" in _message(response, 401) and stream.read_bytes == 0
    response, stream = _post(
        anonymous, f"/edit/{COMMUNITY}/upload", 1000, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert stream.read_bytes == 0
    response, stream = _post(  # its CSRF check used to read the form first
        anonymous,
        "/account/password",
        1000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert stream.read_bytes == 0


def _upload_head(port: int, token: str | None, path: str, content_type: str) -> str:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: {content_type}",
        "Transfer-Encoding: chunked",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_a_chunked_body_is_read_only_up_to_the_limit_by_gunicorn(
    database_url: str, tmp_path: Path
) -> None:
    token = user_token(database_url, "chunked-sender", role="admin")
    settings = {"GRIDGIS_DATABASE_URL": database_url, "GRIDGIS_MAX_CONTENT_LENGTH": str(LIMIT)}
    total = 512 * 1024 * 1024
    with gunicorn(tmp_path, settings) as server:
        boundary = "gridgisboundary"
        first = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="cells.geojson"\r\nContent-Type: application/geo+json\r\n\r\n'
        ).encode()
        head = _upload_head(
            server.port,
            token,
            f"/edit/{COMMUNITY}/upload",
            f"multipart/form-data; boundary={boundary}",
        )
        sent, answer = send_chunked(server.port, head, first, total=total)
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE", answer[:300]
        assert f"超过了上限 {LIMIT} 字节".encode() in rest
        assert sent < 16 * 1024 * 1024, sent  # the server stopped reading near the limit
        head = _upload_head(server.port, None, "/api/cases", "application/json")
        sent, answer = send_chunked(server.port, head, b"{", total=total)
        assert answer.startswith(b"HTTP/1.1 401 UNAUTHORIZED"), answer[:300]
        assert sent < 16 * 1024 * 1024, sent
