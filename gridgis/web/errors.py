"""How the web app answers an error: one JSON shape for the API, a short page elsewhere.

Every 4xx and 5xx of the JSON API (``/api/...`` and the tiles) is::

    {"error": {"code": "not_found", "message": "case 7 does not exist", "field": null}}

``code`` names the kind of error (:attr:`gridgis.errors.GridGISError.code`, or
the HTTP status's name for errors Flask raises), ``message`` says what was
wrong in words that name the bad value, ``field`` the parameter or field at
fault (or ``null``). Open311 keeps the format its specification sets
(:mod:`gridgis.web.open311`). Pages answer a short page in the user's
language. Tracebacks are logged, never shown: an unexpected exception becomes
a generic 500.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gridgis.errors import DatabaseError, GridGISError, StorageError
from gridgis.web import i18n

__all__ = ["STATUS_CODES", "error_json", "init_app", "wants_json"]

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
    422: "数据有误",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


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
        message = str(exc)
        if isinstance(exc, StorageError) and exc.store is not None:  # the reason is logged
            message = i18n.gettext(
                "照片存储（{store}）暂不可用，请稍后再试，或告知管理员。", store=exc.store
            )
        return _answer(exc.status, message, code=code, field=exc.field)

    @app.errorhandler(OperationalError)
    def _database_unreachable(exc: OperationalError) -> Response | tuple[str, int]:
        error = DatabaseError(f"cannot reach the database: {str(exc.orig).strip()}")
        app.logger.error("database error on %s", request.path, exc_info=exc)
        return _answer(error.status, str(error), code=error.code)

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
        return _answer(exc.code, exc.description or exc.name)
