"""Reading multipart/form-data bodies (gridgis.web.multipart): the quick split of the usual
shape reads every body as Werkzeug's parser does, and refuses what it refuses, plainly.

The HTTP side (the answers of ``POST /api/cases`` to such bodies) is in
``tests/test_case_photos.py``.
"""

from __future__ import annotations

import functools
import io
import re
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from gridgis.web import create_app
from gridgis.web.multipart import FormTooLargeError, MalformedBodyError, _split, parse

BOUNDARY = b"----WebKitFormBoundaryf3Xq9ZkT0bLw8CsA"


def _part(
    name: str | None, value: bytes, *, filename: str | None = None, nl: bytes = b"\r\n"
) -> bytes:
    head = b"Content-Disposition: form-data"
    if name is not None:
        head += b'; name="' + name.encode() + b'"'
    if filename is not None:
        head += b'; filename="' + filename.encode() + b'"' + nl + b"Content-Type: image/jpeg"
    return b"--" + BOUNDARY + nl + head + nl + nl + value + nl


def _body(*parts: bytes, end: bytes = b"--\r\n") -> bytes:
    return b"".join(parts) + b"--" + BOUNDARY + end


@functools.cache
def _app() -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": None})


def _werkzeug(data: bytes, max_parts: int | None, max_field: int | None) -> Any:
    """What Werkzeug's parser makes of ``data``: the fields and files, or its refusal."""
    parser = MultiPartParser(
        lambda **_: io.BytesIO(), max_form_memory_size=max_field, max_form_parts=max_parts
    )
    try:
        fields, files = parser.parse(io.BytesIO(data), BOUNDARY, len(data))
    except RequestEntityTooLarge:
        return "too large"
    except ValueError:
        return "malformed"
    if None in fields or None in files:
        return "malformed"  # a part without a name: refused here, read by Werkzeug
    return _shown(fields, files)


def _shown(fields: Any, files: Any) -> Any:
    return (
        list(fields.items(multi=True)),
        [
            (name, f.filename, list(f.headers.items()), f.read())
            for name, f in files.items(multi=True)
        ],
    )


def _ours(data: bytes, max_parts: int | None, max_field: int | None) -> Any:
    with _app().test_request_context("/?lang=en"):
        try:
            return _shown(*parse(data, BOUNDARY, max_parts=max_parts, max_field_bytes=max_field))
        except FormTooLargeError:
            return "too large"
        except MalformedBodyError:
            return "malformed"


_names = st.sampled_from(["category", "lon", "photos", "description", "照片", "a b"])
_bytes = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"", b"\r\n", b"\r\n--", b"--" + BOUNDARY, b"\r\n--" + BOUNDARY + b"x"]),
    st.integers(60_000, 140_000).map(lambda n: bytes(range(256)) * (n // 256)),  # over a chunk
)
_noise = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b" ", b"\t", b"--", b"\r\n\r\n", b"preamble\r\n", b"\xff", b"\x00"]
)


@st.composite
def _bodies(draw: st.DrawFn) -> bytes:
    """Bodies of the usual shape, some with a few bytes inserted or removed somewhere."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.one_of(_names, st.none())) if draw(st.booleans()) else draw(_names)
        filename = draw(st.one_of(st.none(), st.sampled_from(["a.jpg", "现场.jpg", "", "x y.png"])))
        nl = draw(st.sampled_from([b"\r\n"] * 7 + [b"\n"]))
        parts.append(_part(name, draw(_bytes), filename=filename, nl=nl))
    data = _body(*parts, end=draw(st.sampled_from([b"--\r\n", b"--", b"--\r\nepilogue", b"\r\n"])))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data = data[:at] + draw(_noise) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 3)) :]
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=_bodies(),
    max_parts=st.sampled_from([None, 1000, 2]),
    max_field=st.sampled_from([None, 500_000, 150_000, 1000]),
)
@example(data=_body(_part("category", b"fire_safety")), max_parts=None, max_field=None)
def test_a_body_is_read_as_werkzeug_reads_it(
    data: bytes, max_parts: int | None, max_field: int | None
) -> None:
    assert _ours(data, max_parts, max_field) == _werkzeug(data, max_parts, max_field)


@pytest.mark.parametrize(
    "data",
    [
        _body(
            _part("category", b"fire_safety"),
            _part("photos", b"\xff\xd8" * 100_000, filename="a.jpg"),
        ),
        _body(_part("photos", b"", filename=""), _part("photos", b"x", filename="现场 照片.jpg")),
        _body(_part("description", b"a\r\nb\r\n\r\nc--" + BOUNDARY[:-1]), end=b"--"),
        _body(_part("description", b"")),
    ],
)
def test_the_usual_shape_is_split_quickly(data: bytes) -> None:
    """Bodies as browsers send them take the quick way, not Werkzeug's."""
    assert _split(data, BOUNDARY, 1000, 500_000) is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello", "the multipart/form-data body has no boundary line --" + BOUNDARY.decode()),
        (
            _part("category", b"fire_safety"),
            f"the multipart/form-data body ends before its closing line --{BOUNDARY.decode()}--",
        ),
        (
            _body(b"--" + BOUNDARY + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n"),
            "a part of the multipart/form-data body has no Content-Disposition header",
        ),
        (
            _body(_part(None, b"x")),
            "a part of the multipart/form-data body has no name in its Content-Disposition header",
        ),
        (
            _body(
                b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="\xff"\r\n\r\nx\r\n'
            ),
            "the headers of a part of the multipart/form-data body are not UTF-8 text",
        ),
    ],
)
def test_a_body_that_cannot_be_read_is_refused_saying_why(data: bytes, message: str) -> None:
    with (
        _app().test_request_context("/?lang=en"),
        pytest.raises(MalformedBodyError, match="^" + re.escape(message) + "$"),
    ):
        parse(data, BOUNDARY)


def test_too_many_parts_or_too_long_a_field_is_413_naming_the_limit() -> None:
    many = _body(*[_part("photos", b"", filename="") for _ in range(1001)])
    long = _body(_part("category", b"x"), _part("description", b"y" * 500_001))
    with _app().test_request_context("/?lang=en"):
        with pytest.raises(
            FormTooLargeError, match=r"^the multipart/form-data body has more than 1000 parts$"
        ):
            parse(many, BOUNDARY, max_parts=1000)
        with pytest.raises(
            FormTooLargeError,
            match=r"^the form field `description` has 500001 bytes but may have at most 500000$",
        ):
            parse(long, BOUNDARY, max_field_bytes=500_000)
        assert parse(long, BOUNDARY)[0]["description"] == "y" * 500_001


def test_a_body_too_long_to_read_whole_is_streamed_with_the_same_answers() -> None:
    """Past ``in_memory_bytes`` (not an upload route, or no length given) Werkzeug streams
    the body: the same fields, and the same plain refusals."""
    good = _body(_part("category", b"fire_safety"), _part("photos", b"\xff\xd8", filename="a"))
    for data, expected in ((good, None), (_part("category", b"x"), MalformedBodyError)):
        with _app().test_request_context(
            "/?lang=en",
            method="POST",
            input_stream=io.BytesIO(data),
            content_length=len(data),
            content_type="multipart/form-data; boundary=" + BOUNDARY.decode(),
        ) as context:
            context.request.in_memory_bytes = 0  # type: ignore[attr-defined]
            if expected is None:
                assert _shown(context.request.form, context.request.files) == _ours(
                    data, None, None
                )
            else:
                with pytest.raises(expected, match="ends before its closing line"):
                    _ = context.request.form
