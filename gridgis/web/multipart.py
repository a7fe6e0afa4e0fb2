"""Reading ``multipart/form-data`` bodies: text fields and files, or a clear refusal.

Werkzeug's parser reads a body as a stream, 64 KiB at a time, searching each chunk with
regular expressions it compiles for the body's boundary (a new boundary for each request a
browser sends: about 0.4 ms to compile), and spools files to disk once a body is over
500 KiB. When a route keeps its uploads in memory anyway (the photos of a case, see
:func:`gridgis.web.endpoints.uploads`), :func:`read_form` reads the body whole and splits
it with ``bytes.find`` (:func:`parse`): about 0.05 ms for a body with one 230 KB photo,
where Werkzeug takes 0.5-0.9 ms. Other bodies are streamed by Werkzeug, as before.

Only the shape browsers and HTTP libraries send is split this way: the body starts with the
boundary line, lines end with CRLF, a part's headers are plain ``Name: value`` lines (UTF-8)
ending with a blank line, and a boundary (after CRLF) ends each part, ``--`` after the last.
Any other body (lines ending with LF alone, a preamble, spaces after a boundary, folded
headers, the boundary's text inside a part without CRLF before it...) is handed to
Werkzeug's parser, which accepts those too, so a body is read the same either way
(``tests/test_multipart.py`` compares the two on generated bodies). A part's headers are
read by Werkzeug's own functions in both.

Werkzeug alone answers a body it cannot read as an empty form (so a case "needs
`category`"), and a part without a name as a server error. Here such a body is refused
(400, :class:`MalformedBodyError`) saying what is wrong with it, and more parts than the
app's ``MAX_FORM_PARTS`` or a text field over its ``MAX_FORM_MEMORY_SIZE`` (Flask's
defaults: 1,000 parts, 500,000 bytes) is refused (413, :class:`FormTooLargeError`) naming
the figure and the limit, where Werkzeug named only ``MAX_CONTENT_LENGTH``.
"""

from __future__ import annotations

import io
from typing import IO

from flask import Request
from werkzeug.datastructures import FileStorage, Headers, MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser
from werkzeug.http import parse_options_header

from gridgis.errors import InputError
from gridgis.web.i18n import translate

__all__ = ["Form", "FormTooLargeError", "MalformedBodyError", "parse", "read_form"]

Form = tuple[MultiDict[str, str], MultiDict[str, FileStorage]]
"""The text fields and the files of a body, each in the order sent."""

MAX_HEADER_BYTES = 16 * 1024
"""The longest header block of a part split here (a longer one goes to Werkzeug)."""
_STREAMED_FIELD_BYTES = 128 * 1024
"""Under this ``MAX_FORM_MEMORY_SIZE``, Werkzeug may refuse a body by the size of its
64 KiB read buffer rather than of a field: such bodies are left to it."""
_PARSER = MultiPartParser()  # only for its reading of a part's charset


Words = tuple[str, str]
"""A message in English and in Chinese (:func:`_both`)."""


def _both(message: str, /, **values: object) -> Words:
    """``message`` (Chinese, with its English in the catalogs) in English and in Chinese."""
    return translate(message, "en", **values), translate(message, "zh", **values)


class MalformedBodyError(InputError):
    """A ``multipart/form-data`` body that cannot be read (400), saying why in ``words``."""

    code = "bad_multipart"

    def __init__(self, *, words: Words) -> None:
        super().__init__(words[0], zh=words[1])


class FormTooLargeError(InputError):
    """A ``multipart/form-data`` body with too many parts or too long a text field (413)."""

    status = 413
    code = "too_large"

    def __init__(self, *, words: Words) -> None:
        super().__init__(words[0], zh=words[1])


def read_form(request: Request, *, in_memory: int) -> Form:
    """The fields and files of ``request``'s ``multipart/form-data`` body.

    A body whose declared length is at most ``in_memory`` bytes is read whole and
    split by :func:`parse`; any other is streamed through Werkzeug's parser (its files
    kept on disk past 500 KiB). The request's ``max_form_parts`` and
    ``max_form_memory_size`` apply to both.

    Raises
    ------
    MalformedBodyError
        (400) when the content type has no boundary or the body cannot be read.
    FormTooLargeError
        (413) for too many parts or too long a text field.
    """
    boundary = _boundary(request.mimetype_params.get("boundary", ""))
    limits = {"max_parts": request.max_form_parts, "max_field_bytes": request.max_form_memory_size}
    length = request.content_length
    if length is not None and length <= in_memory:
        return parse(request.get_data(cache=False), boundary, **limits)  # the parts copied
    stream = request._get_stream_for_parsing()  # the body read already (get_data), if it was
    form = _werkzeug(stream, boundary, length, **limits)
    if None in form[0] or None in form[1]:  # Werkzeug reads such a part with the name None
        raise MalformedBodyError(words=_no_name())
    return form


def parse(
    data: bytes,
    boundary: bytes,
    *,
    max_parts: int | None = None,
    max_field_bytes: int | None = None,
) -> Form:
    """Read the ``multipart/form-data`` body ``data`` separated by ``boundary``.

    Parameters
    ----------
    data:
        The whole body.
    boundary:
        The ``boundary`` parameter of its content type.
    max_parts, max_field_bytes:
        The most parts, and the longest text field in bytes (``None``: no limit).

    Raises
    ------
    MalformedBodyError, FormTooLargeError
        See :func:`read_form`.

    Examples
    --------
    >>> body = (
    ...     b'--b\\r\\nContent-Disposition: form-data; name="category"\\r\\n\\r\\nfire_safety\\r\\n'
    ...     b'--b\\r\\nContent-Disposition: form-data; name="photos"; filename="1.jpg"\\r\\n'
    ...     b"Content-Type: image/jpeg\\r\\n\\r\\n\\xff\\xd8\\xff\\r\\n--b--\\r\\n"
    ... )
    >>> fields, files = parse(body, b"b")
    >>> fields["category"], files["photos"].filename, files["photos"].read()
    ('fire_safety', '1.jpg', b'\\xff\\xd8\\xff')
    """
    form = None
    if max_field_bytes is None or max_field_bytes >= _STREAMED_FIELD_BYTES:
        form = _split(data, boundary, max_parts, max_field_bytes)
    if form is None:
        form = _werkzeug(io.BytesIO(data), boundary, len(data), max_parts, max_field_bytes)
    if None in form[0] or None in form[1]:  # Werkzeug reads such a part with the name None
        raise MalformedBodyError(words=_no_name())
    return form


def _split(
    data: bytes, boundary: bytes, max_parts: int | None, max_field_bytes: int | None
) -> Form | None:
    """The fields and files of a body of the usual shape (see the module); ``None`` for any
    other. Read in order, refused where Werkzeug would refuse it."""
    delimiter = b"--" + boundary
    if not data.startswith(delimiter + b"\r\n"):
        return None
    fields: MultiDict[str, str] = MultiDict()
    files: MultiDict[str, FileStorage] = MultiDict()
    count, position = 0, len(delimiter) + 2
    while True:
        head_end = data.find(b"\r\n\r\n", position, position + MAX_HEADER_BYTES)
        if head_end <= position:  # no headers, or no end to them near: Werkzeug's to judge
            return None
        lines = _header_lines(data[position:head_end])
        if lines is None:
            return None
        headers = Headers(lines)
        if "content-disposition" not in headers:
            raise MalformedBodyError(words=_reason("Missing Content-Disposition header", boundary))
        count += 1
        if max_parts is not None and count > max_parts:
            raise FormTooLargeError(
                words=_both(
                    "multipart/form-data 请求内容的部分超过了上限 {limit} 个。", limit=max_parts
                )
            )
        start = head_end + 4
        found = data.find(delimiter, start)
        if found - 2 < start or data[found - 2 : found] != b"\r\n":
            return None  # no closing boundary, or its text inside the data: Werkzeug's
        options = parse_options_header(headers["content-disposition"])[1]
        name, filename = options.get("name"), options.get("filename")
        if filename is not None:
            stream = io.BytesIO(data[start : found - 2])
            files.add(name, FileStorage(stream, filename, name, headers=headers))  # type: ignore[arg-type]
        elif max_field_bytes is not None and found - 2 - start > max_field_bytes:
            raise FormTooLargeError(
                words=_both(
                    "表单字段 `{name}` 有 {size} 字节，超过了上限 {limit} 字节。",
                    name=name,
                    size=found - 2 - start,
                    limit=max_field_bytes,
                )
            )
        else:
            charset = _PARSER.get_part_charset(headers)
            fields.add(name, data[start : found - 2].decode(charset, "replace"))  # type: ignore[arg-type]
        after = found + len(delimiter)
        ending = data[after : after + 2]
        if ending == b"--":  # the last: what follows is an epilogue, ignored
            return fields, files
        if ending != b"\r\n":
            return None
        position = after + 2


def _header_lines(block: bytes) -> list[tuple[str, str]] | None:
    """A part's headers as Werkzeug reads them; ``None`` when they are folded, hold a CR or
    LF alone or are not UTF-8 (left to Werkzeug)."""
    lines = []
    for raw in block.split(b"\r\n"):
        if b"\r" in raw or b"\n" in raw or raw[:1] in (b" ", b"\t"):
            return None
        line = raw.strip(b" \t")
        if not line:
            continue
        try:
            name, _, value = line.decode().partition(":")
        except UnicodeDecodeError:
            return None
        lines.append((name.strip(" \t"), value.strip(" \t")))
    return lines


def _werkzeug(
    stream: IO[bytes],
    boundary: bytes,
    length: int | None,
    max_parts: int | None,
    max_field_bytes: int | None,
) -> Form:
    """Werkzeug's parser over ``stream``, its refusals said plainly (a body in memory
    keeps its files in memory)."""
    parser = MultiPartParser(
        _in_memory if isinstance(stream, io.BytesIO) else None,
        max_form_memory_size=max_field_bytes,
        max_form_parts=max_parts,
    )
    source = _Source(stream)
    try:
        fields, files = parser.parse(source, boundary, length)  # type: ignore[arg-type]
    except RequestEntityTooLarge:
        if source.over_limit:  # the body over MAX_CONTENT_LENGTH: the app's own 413
            raise
        raise FormTooLargeError(
            words=_both(
                "multipart/form-data 请求内容的部分超过 {parts} 个，或有字段超过 {size} 字节。",
                parts=max_parts,
                size=max_field_bytes,
            )
        ) from None
    except ValueError as exc:  # UnicodeDecodeError too
        raise MalformedBodyError(words=_reason(str(exc), boundary, exc)) from None
    return fields, files


class _Source:
    """A body's stream, noting whether it refused to read past ``MAX_CONTENT_LENGTH``."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.over_limit = False

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except RequestEntityTooLarge:
            self.over_limit = True
            raise


def _in_memory(
    total_content_length: int | None,
    content_type: str | None,
    filename: str | None,
    content_length: int | None = None,
) -> IO[bytes]:
    """Werkzeug's stream factory for a body already in memory: its files stay there."""
    return io.BytesIO()


def _no_name() -> Words:
    return _both("multipart/form-data 请求内容有一部分在 Content-Disposition 中没有名称（name）。")


def _boundary(text: str) -> bytes:
    if not text:
        raise MalformedBodyError(
            words=_both("Content-Type 缺少 boundary 参数（multipart/form-data; boundary=...）。")
        )
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise MalformedBodyError(
            words=_both(
                "multipart/form-data 的 boundary {value} 不是 ASCII 文本。", value=repr(text)
            )
        ) from None


def _reason(message: str, boundary: bytes, exc: Exception | None = None) -> Words:
    """Werkzeug's refusal of a body, said for the user."""
    delimiter = "--" + boundary.decode("ascii")
    if isinstance(exc, UnicodeDecodeError):
        return _both("multipart/form-data 请求内容有一部分的标头不是 UTF-8 文本。")
    if message == "Missing Content-Disposition header":
        return _both("multipart/form-data 请求内容有一部分没有 Content-Disposition 标头。")
    if message.endswith("PREAMBLE"):
        return _both("multipart/form-data 请求内容中没有分隔行 {delimiter}。", delimiter=delimiter)
    if message.endswith("PART"):
        return _both("multipart/form-data 请求内容有一部分的标头没有以空行结束。")
    if message.endswith(("DATA", "DATA_START")):
        return _both(
            "multipart/form-data 请求内容在结束行 {delimiter}-- 之前就结束了。",
            delimiter=delimiter,
        )
    return _both("multipart/form-data 请求内容无法读取：{detail}", detail=message)
