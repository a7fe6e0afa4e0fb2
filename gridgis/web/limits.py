"""What a request may carry, checked once for every route before a view reads it.

- **Size**: a body longer than ``MAX_CONTENT_LENGTH`` (``GRIDGIS_MAX_CONTENT_LENGTH``,
  see :func:`gridgis.config.max_content_length`) is answered 413 before any of
  it is read when its ``Content-Length`` says so; a body sent without one
  (``Transfer-Encoding: chunked``) is read only up to the limit (Werkzeug stops
  the stream there) and answered 413 as well. A 413 closes the connection, so
  what the client goes on sending is not read.
- **NUL**: PostgreSQL refuses the NUL character in text, and no field of this app
  needs it; a NUL in the path or a query parameter (:func:`init_app`'s check
  before every request), a form field or an uploaded file's name
  (:class:`CheckedRequest`), or a string of a JSON body (:func:`check_json`,
  called by :func:`gridgis.web.endpoints.json_body`) is answered 400 naming the
  field, before anything reaches the database.

Bodies sent without a user to a route that needs one are refused before they
are read by :mod:`gridgis.web.auth`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, request
from werkzeug.exceptions import RequestEntityTooLarge

from gridgis.errors import InputError
from gridgis.web.i18n import gettext, translate
from gridgis.web.multipart import read_form

__all__ = [
    "CheckedRequest",
    "NulTextError",
    "check_json",
    "has_body",
    "init_app",
    "too_large_message",
]

NUL = "\x00"


class NulTextError(InputError):
    """A text of the request holds the NUL character, which PostgreSQL cannot store (400)."""


def has_body(req: Request) -> bool:
    """Whether ``req`` carries a body: a ``Content-Length`` above 0, or a chunked one."""
    if req.content_length:
        return True
    return "chunked" in req.headers.get("Transfer-Encoding", "").lower()


def too_large_message() -> str:
    """The 413 answer, in the request's language: the size sent (when known) and the limit."""
    limit = request.max_content_length
    size = request.content_length
    if size is not None and limit is not None and size > limit:
        return gettext(
            "请求内容有 {size} 字节，超过了上限 {limit} 字节，未予读取。", size=size, limit=limit
        )
    return gettext("请求内容超过了上限 {limit} 字节，未予处理。", limit=limit)


class CheckedRequest(Request):
    """Flask's request, whose form fields and file names are refused (400) when they hold NUL.

    A ``multipart/form-data`` body is read by :func:`gridgis.web.multipart.read_form`: one
    that cannot be read is answered 400 saying why (Werkzeug alone reads it as an empty
    form), and one of at most :attr:`in_memory_bytes` is read whole and split quickly.
    """

    in_memory_bytes: int = 500 * 1024
    """The longest multipart body read whole into memory (Werkzeug's own threshold for
    keeping files in memory); a route that keeps its uploads in memory anyway raises it to
    its upload limit (:func:`gridgis.web.endpoints.upload_limit`)."""

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        if self.mimetype == "multipart/form-data":
            fields, files = read_form(self, in_memory=self.in_memory_bytes)
            self.__dict__["form"] = self.parameter_storage_class(fields)
            self.__dict__["files"] = self.parameter_storage_class(files)
        else:
            super()._load_form_data()
        for name, value in self.form.items(multi=True):
            _check_field(name, value, form=True)
        for name, file in self.files.items(multi=True):
            _check_field(name, "", form=True)
            if file.filename and NUL in file.filename:
                raise _nul(
                    "上传文件名 {value} 含有空字符（NUL），不能使用。", value=repr(file.filename)
                )


def _check_field(name: str, value: str, *, form: bool) -> None:
    if NUL in name:
        raise _nul("字段名 {name} 含有空字符（NUL），不能使用。", name=repr(name))
    if NUL in value:
        if form:
            raise _nul(
                "表单字段 `{name}` 的值 {value} 含有空字符（NUL），文本中不能有这个字符。",
                name=name,
                value=repr(value),
            )
        raise _nul(
            "字段 `{name}` 的值 {value} 含有空字符（NUL），文本中不能有这个字符。",
            name=name,
            value=repr(value),
        )


def _nul(message: str, **values: str) -> NulTextError:
    """The error ``message`` (Chinese, a catalogue entry) in the page's language, and in Chinese."""
    return NulTextError(gettext(message, **values), zh=translate(message, "zh", **values))


def check_json(value: Any, name: str = "") -> None:
    """Refuse (400) a JSON value with the NUL character in a string or a key.

    Parameters
    ----------
    value:
        A parsed JSON body or part of it.
    name:
        Where ``value`` is in the body (``""`` for the body itself,
        ``address``, ``cells[2].code``), for the message.

    Raises
    ------
    NulTextError
        Naming the field and its value.

    Examples
    --------
    >>> with app.test_request_context():
    ...     check_json({"address": "荔城区\\x00"})
    Traceback (most recent call last):
    gridgis.web.limits.NulTextError: 字段 `address` 的值 '荔城区\\x00' 含有空字符（NUL）...
    """
    if isinstance(value, str):
        _check_field(name or "(body)", value, form=False)
    elif isinstance(value, dict):
        for key, item in value.items():
            if NUL in key:
                _check_field(key, "", form=False)
            check_json(item, f"{name}.{key}" if name else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json(item, f"{name}[{i}]")


def _check_url() -> None:
    """Refuse a NUL in the path or a query parameter (before every request)."""
    if NUL in request.path:
        raise _nul("路径 {value} 含有空字符（NUL），不能使用。", value=repr(request.path))
    for name, value in request.args.items(multi=True):
        if NUL in name:
            raise _nul("查询参数名 {name} 含有空字符（NUL），不能使用。", name=repr(name))
        if NUL in value:
            raise _nul(
                "参数 `{name}` 的值 {value} 含有空字符（NUL），文本中不能有这个字符。",
                name=name,
                value=repr(value),
            )


def _check_size() -> None:
    """Refuse (413) a body that says it is longer than the limit, before reading any of it."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def _check_request() -> None:
    _check_size()
    _check_url()


def init_app(app: Flask) -> None:
    """Use :class:`CheckedRequest`; check size and URL before every other check of a request.

    Call it before anything else registers a ``before_request`` function.
    """
    app.request_class = CheckedRequest
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
