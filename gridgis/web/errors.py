"""How the web app answers an error: one JSON shape for the API, a short page elsewhere.

Every 4xx and 5xx of the JSON API (``/api/...`` and the tiles) is::

    {"error": {"code": "not_found", "message": "case 7 does not exist", "field": null}}

``code`` names the kind of error (:attr:`gridgis.errors.GridGISError.code`, or
the HTTP status's name for errors Flask raises), ``message`` says what was
wrong in words that name the bad value, ``field`` the parameter or field at
fault (or ``null``).

The ``message`` is English unless the request asks for Chinese (:func:`answer_language`):
``?lang=zh``, or an ``Accept-Language`` that prefers Chinese — the app's pages send
their own language with every request they make, so a Chinese page shows Chinese
errors while a script keeps the English it parses. A message in Chinese comes from
the error's :attr:`~gridgis.errors.GridGISError.zh`. Open311 keeps the format its specification sets
(:mod:`gridgis.web.open311`). Pages answer a short page in the user's
language. Tracebacks are logged, never shown: an unexpected exception becomes
a generic 500.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gridgis.db.engine import schema_behind, unreachable
from gridgis.errors import GridGISError, StorageError
from gridgis.web import i18n

__all__ = [
    "STATUS_CODES",
    "answer_language",
    "error_json",
    "http_message",
    "init_app",
    "wants_json",
]

STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "throttled",
    500: "internal",
    503: "database_unavailable",
}
"""The ``code`` of an error answer with no more particular one, by HTTP status."""

_STATUS_TITLES_ZH: dict[int, str] = {
    400: "请求有误",
    403: "无权访问",
    404: "未找到",
    405: "不支持该请求方法",
    413: "请求内容过大",
    401: "需要登录",
    409: "与现有数据冲突",
    415: "不支持的内容类型",
    422: "数据有误",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


def answer_language() -> str:
    """The language (``"zh"``/``"en"``) of the current request's error message.

    A page answers in the page's language (:func:`gridgis.web.i18n.get_language`).
    The JSON API answers in English for scripts, in Chinese when the request says so:
    ``?lang=zh``, or an ``Accept-Language`` header preferring ``zh`` (any ``zh-*``) to
    ``en`` (what the app's pages send from their own language).

    Examples
    --------
    >>> with app.test_request_context("/api/cases", headers={"Accept-Language": "zh-CN"}):
    ...     answer_language()
    'zh'
    >>> with app.test_request_context("/api/cases"):
    ...     answer_language()
    'en'
    """
    if not wants_json():
        return i18n.get_language()
    asked = request.args.get("lang")
    if asked in i18n.LANGUAGES:
        return asked
    if request.accept_languages:
        best = request.accept_languages.best_match(["en", "zh"], default="en")
        return best or "en"
    return "en"


def http_message(exc: HTTPException) -> str:
    """The message of an HTTP error Flask or werkzeug raised (``abort(404)``).

    A description a view gave (``abort(404, description=...)``) is kept; werkzeug's own
    (English) one becomes the status's Chinese title when the answer is in Chinese
    (:func:`answer_language`).

    Examples
    --------
    >>> from werkzeug.exceptions import NotFound
    >>> with app.test_request_context("/api/x", headers={"Accept-Language": "zh-CN"}):
    ...     http_message(NotFound()), http_message(NotFound("no such tile"))
    ('未找到', 'no such tile')
    """
    own = "description" in vars(exc) and exc.description
    if not own and exc.code is not None and answer_language() == "zh":
        return _STATUS_TITLES_ZH.get(exc.code, "出错了")
    return exc.description or exc.name


def wants_json() -> bool:
    """Whether the request is for the JSON API (or tiles): errors answer JSON, not a page."""
    return request.path == "/api" or request.path.startswith(("/api/", "/open311/", "/tiles/"))


def error_json(
    status: int, message: str, *, code: str | None = None, field: str | None = None
) -> Response:
    """The JSON answer of an error: ``{"error": {"code", "message", "field"}}`` with ``status``.

    Examples
    --------
    >>> with app.test_request_context():  # doctest: +SKIP
    ...     error_json(404, "case 7 does not exist").get_json()
    {'error': {'code': 'not_found', 'message': 'case 7 does not exist', 'field': None}}
    """
    response = jsonify(
        error={
            "code": code or STATUS_CODES.get(status, "error"),
            "message": message,
            "field": field,
        }
    )
    response.status_code = status
    return response


def _answer(
    status: int, message: str, *, code: str | None = None, field: str | None = None
) -> Response | tuple[str, int]:
    if wants_json():
        return error_json(status, message, code=code, field=field)
    title = i18n.gettext(_STATUS_TITLES_ZH.get(status, "出错了"))
    return render_template("error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Answer errors as the module describes."""

    @app.errorhandler(GridGISError)
    def _gridgis_error(exc: GridGISError) -> Response | tuple[str, int]:
        if exc.status >= 500:
            app.logger.error("%s on %s", type(exc).__name__, request.path, exc_info=exc)
        code = exc.code if exc.code != "error" else None
        language = answer_language()
        message = exc.text(language)
        if isinstance(exc, StorageError) and exc.store is not None:  # the reason is logged
            message = i18n.translate(
                "照片存储（{store}）暂不可用，请稍后再试，或告知管理员。", language, store=exc.store
            )
        return _answer(exc.status, message, code=code, field=exc.field)

    @app.errorhandler(OperationalError)
    def _database_unreachable(exc: OperationalError) -> Response | tuple[str, int]:
        error = unreachable()  # the driver's words, which may name the server, go to the log
        app.logger.error("database error on %s", request.path, exc_info=exc)
        return _answer(error.status, error.text(answer_language()), code=error.code)

    @app.errorhandler(ProgrammingError)
    def _schema_behind(exc: ProgrammingError) -> Response | tuple[str, int]:
        error = schema_behind(exc)
        if error is None:
            raise exc  # any other: the unexpected error it is (a plain 500)
        app.logger.error("database schema behind on %s", request.path, exc_info=exc)
        return _answer(error.status, error.text(answer_language()), code=error.code)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge) -> Response | tuple[str, int]:
        from gridgis.web.limits import too_large_message

        return _answer(413, too_large_message())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> HTTPException | Response | tuple[str, int]:
        if exc.code is None or exc.code < 400:
            return exc
        if exc.response is not None:  # a view built its own answer (e.g. 401 with a header)
            return exc.response  # type: ignore[return-value]
        return _answer(exc.code, http_message(exc))
