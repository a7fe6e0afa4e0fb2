"""Who is asking, and what they may see: login, sessions, CSRF, roles and scope.

Routes
------
``GET /login``, ``POST /login``
    The login form (name, password, ``csrf_token``); ``next`` is where to go
    after it (a path of this app only).
``POST /logout``
    Ends the session (a form with a ``csrf_token``: a link could be followed
    by another site).
``GET /account``, ``POST /account/password``
    Who is signed in, and changing one's own password (the current one first).
(``GET /api/me``, the signed-in user as JSON, is in :mod:`gridgis.web.api`.)

How a request is authenticated
------------------------------
- **Session** (browsers): Flask's signed cookie holds the id of a session
  stored in the database (:func:`gridgis.users.start_session`), the user's id
  and ``session_version`` and the time of login. Every request reads the
  session from the database, so logging out (which deletes it), a password
  change (which deletes all of the user's) and removing the user end it at
  once, in every server process, and a copied cookie stops working with
  them. A session ends ``SESSION_HOURS`` after login whatever happens. The
  cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when
  ``GRIDGIS_SECURE_COOKIES`` is set (serve over HTTPS then).
- **API token** (scripts, Open311 clients): ``Authorization: Bearer ggt_...``
  from ``gridgis users token NAME``; it authenticates that request only and
  needs no CSRF token, since a browser never adds it by itself. A wrong
  token is answered 401; it is read from the database on every request too
  (revoked, or its user's password changed: refused at once). The header
  ``X-Api-Key: ggt_...`` does the same. On ``/open311/`` a query field or
  (form-encoded body) field ``api_key`` holding such a token does the same too;
  access logs mask it (:mod:`gridgis.web.logs`). The key of an Open311 client
  application (``g311_...``, :mod:`gridgis.open311_keys`) names no user: it is
  left to :mod:`gridgis.web.open311`.

A body (POST, PUT, PATCH, DELETE) sent with neither a session user nor a token
to a view guarded by :func:`login_required`/:func:`roles_required` is answered
like that view would (401 for the API, the login page for pages) before a byte
of it is read.

Logins
------
Wrong passwords are throttled (:mod:`gridgis.logins`): over a limit, the
login form (and the password change) answers 429 with ``Retry-After``.

CSRF
----
Every session has a random token; templates put it in each form with
``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``. Every
POST, PUT, PATCH and DELETE made with a signed-in session (HTML forms and
JSON alike, the latter sending the token in the ``X-CSRF-Token`` header) and
every post of the login form is refused without it: 400 when it is missing,
403 when it is wrong. Requests with neither a session user nor a token carry
no authority a forged request could borrow, so they are not checked.

Roles
-----
:func:`guard` (and its forms :func:`login_required`, :func:`roles_required`,
:func:`public`) guards views and records who may call them; :func:`policy`
is the request's :class:`gridgis.access.Policy`, which every view asks what
the user may see and change. An analyst is refused every POST, PUT, PATCH
and DELETE (403) except on its own account; administrators edit.
"""

from __future__ import annotations

import datetime as dt
import functools
import hmac
import math
import secrets
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from gridgis import config, open311_keys, users
from gridgis.access import Policy
from gridgis.db.models import USER_ROLES
from gridgis.errors import ForbiddenError, InputError, ThrottledError
from gridgis.users import User
from gridgis.web.db import get_engine
from gridgis.web.errors import error_json, wants_json
from gridgis.web.i18n import gettext

__all__ = [
    "API_KEY_HEADER",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "ROLE_NAMES_ZH",
    "access_of",
    "bp",
    "checks_itself",
    "csrf_token",
    "current_user",
    "default_config",
    "guard",
    "init_app",
    "login_required",
    "policy",
    "public",
    "roles_required",
]

bp = Blueprint("auth", __name__)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
API_KEY_HEADER = "X-Api-Key"
ACCESS_MARK = "gridgis_access"
"""Set on every guarded or public view: who may call it (see :func:`access_of`)."""
PUBLIC_ROLES: tuple[str, ...] = ("*",)
"""The ``roles`` of a view anyone may call."""
_LOGIN_MARK = "gridgis_login_required"
"""Set on views guarded by :func:`login_required`/:func:`roles_required`: a body sent to
them without a user is refused before it is read."""
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ROLE_NAMES_ZH: dict[str, str] = {
    "admin": "管理员",
    "street": "街道办",
    "analyst": "分析员",
    "worker": "网格员",
    "department": "职能部门",
}
WRONG_LOGIN_ZH = "用户名或密码错误。"
"""The one answer to a failed login: it never says which of the two was wrong."""

_ANALYST_ALLOWED = frozenset(
    {
        "auth.change_password",
        "export_jobs.start_export",  # its own exports (a job is no data)
        "export_jobs.cancel_job",
        "notices.mark_read",  # its own inbox
        "notices.mark_all_read",
        "notice_pages.read_from_page",
    }
)
"""Unsafe requests an analyst may make: its own password, its exports, its own inbox read."""

F = TypeVar("F", bound=Callable[..., Any])


# --- settings ------------------------------------------------------------------------------------


def default_config(settings: config.Settings | None = None) -> dict[str, Any]:
    """The Flask settings of the session cookie, from ``settings`` (default: read now).

    ``GRIDGIS_SESSION_HOURS`` is how long a login lasts (default 8, a working
    day); ``GRIDGIS_SECURE_COOKIES`` on sends the cookie over HTTPS only.

    Returns
    -------
    dict
        Flask settings: ``SESSION_COOKIE_HTTPONLY``, ``SESSION_COOKIE_SAMESITE``,
        ``SESSION_COOKIE_SECURE``, ``PERMANENT_SESSION_LIFETIME``,
        ``SESSION_REFRESH_EACH_REQUEST`` (off).

    Examples
    --------
    >>> default_config()["SESSION_COOKIE_SAMESITE"]
    'Lax'
    """
    settings = settings if settings is not None else config.settings()
    return {
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.secure_cookies,
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=settings.session_hours),
        # A login lasts a fixed time from login (its row in user_session expires then):
        # the cookie is sent when it changes, not again with every answer, so an answer
        # still under way cannot put back a cookie that the browser has just dropped.
        "SESSION_REFRESH_EACH_REQUEST": False,
    }


def init_app(app: Flask) -> None:
    """Register the blueprint, the check made before every request and the template helpers."""
    app.register_blueprint(bp)
    app.before_request(_before_request)
    app.jinja_env.globals.update(
        csrf_token=csrf_token,
        signed_in_user=signed_in_user,
        role_name=role_name,
    )


# --- who is asking -------------------------------------------------------------------------------


def role_name(role: str) -> str:
    """The name of ``role`` for people, in the request's language (管理员, 街道办, 分析员)."""
    return gettext(ROLE_NAMES_ZH.get(role, role))


def _lifetime() -> dt.timedelta:
    lifetime = current_app.config["PERMANENT_SESSION_LIFETIME"]
    if isinstance(lifetime, dt.timedelta):
        return lifetime
    return dt.timedelta(seconds=float(lifetime))


def _session_user() -> User | None:
    """The user of this request's session, read from the database (never from a cache).

    A cache would keep a session alive after a logout, a password change or a
    removal made through another process; the one indexed query costs less
    than rendering the answer.
    """
    user_id, session_id = session.get("user_id"), session.get("sid")
    if not isinstance(user_id, int):
        return None
    login_at = session.get("login_at")
    fresh = (
        isinstance(login_at, int | float) and time.time() - login_at < _lifetime().total_seconds()
    )
    user = (
        users.user_for_session(get_engine(), session_id)
        if fresh and isinstance(session_id, str)
        else None
    )
    if user is None or user.id != user_id or user.session_version != session.get("user_version"):
        session.clear()  # logged out, removed, password changed, or too old: sign in again
        return None
    return user


def current_user() -> User | None:
    """The user making this request (session or API token), or ``None``.

    Read from the database once per request, so a removed user or a changed
    password takes effect at once.

    Examples
    --------
    >>> with app.test_request_context("/"):
    ...     current_user() is None
    True
    """
    if "user" not in g:
        g.user = _session_user()
    user: User | None = g.user
    return user


def signed_in_user() -> User | None:
    """The user if this request has already looked them up, else ``None`` (no database).

    For templates: an error page must render even when the database is down.
    """
    user: User | None = g.get("user")
    return user


def _token_user() -> None:
    """Authenticate by API token when one is sent; a wrong one is answered 401."""
    header = request.headers.get("Authorization")
    token: str | None = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            _abort_401("the Authorization header is expected to be `Bearer <token>`")
        token = value.strip()
    elif request.headers.get(API_KEY_HEADER):
        token = request.headers[API_KEY_HEADER].strip()
        if request.blueprint == "open311" and token.startswith(open311_keys.KEY_PREFIX):
            return  # an Open311 client's key, no user's: gridgis.web.open311 checks it
    elif request.blueprint == "open311":
        form = request.mimetype == "application/x-www-form-urlencoded"  # never a file upload
        key = request.args.get("api_key") or (request.form.get("api_key") if form else None)
        if key and key.startswith(users.TOKEN_PREFIX):
            token = key
    if token is None:
        return
    user = users.user_for_token(get_engine(), token)  # every time: a revoked token ends at once
    if user is None:
        _abort_401("the API token is not valid; issue one with `gridgis users token NAME`")
    g.user = user
    g.auth_method = "token"


def _abort_401(message: str) -> NoReturn:
    if wants_json():
        response = error_json(401, message)
    else:
        response = Response(message, mimetype="text/plain", status=401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
    abort(response)


# --- the check before every request --------------------------------------------------------------


def csrf_token() -> str:
    """This session's CSRF token, made on first use (a Jinja global).

    Examples
    --------
    >>> # in a template: <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
    """
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _check_csrf() -> None:
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not sent:
        abort(
            400,
            f"the request carries no CSRF token (form field `{CSRF_FIELD}` or header "
            f"{CSRF_HEADER}); reload the page and try again",
        )
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(
        sent.encode("utf-8"), expected.encode("utf-8")
    ):
        abort(
            403,
            "the CSRF token is wrong or from another session; reload the page and try again",
        )


def _needs_login() -> bool:
    """Whether this request's view is guarded by :func:`login_required`/:func:`roles_required`."""
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, _LOGIN_MARK, False))


def _before_request() -> BaseResponse | None:
    """Authenticate API tokens, refuse anonymous bodies to guarded views unread, check CSRF
    tokens and keep analysts from changing data."""
    if request.endpoint == "static":
        return None
    _token_user()
    g.pop("policy", None)  # a token may have named the user
    if request.method not in UNSAFE_METHODS:
        return None
    if _needs_login() and current_user() is None:
        return _login_response()  # an anonymous body is refused unread
    by_token = g.get("auth_method") == "token"
    if not by_token and ("user_id" in session or request.blueprint == bp.name):
        _check_csrf()
    view = current_app.view_functions.get(request.endpoint or "")
    if request.endpoint in _ANALYST_ALLOWED or access_of(view) == PUBLIC_ROLES:
        return None  # its own password; and public routes change nothing
    user = current_user() if (by_token or "user_id" in session) else None
    if user is not None and user.role == "analyst":
        raise ForbiddenError(
            f"user {user.name!r} is an analyst: analysts read and export but change nothing",
            zh=f"用户 {user.name!r} 是分析员：分析员只能查看和导出，不能修改任何内容",
        )
    return None


# --- guarding views ------------------------------------------------------------------------------


def _login_response() -> BaseResponse:
    if wants_json():
        response = error_json(
            401, "log in first (POST /login), or send `Authorization: Bearer <token>`"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
        return response
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def guard(view: F, *, roles: tuple[str, ...] | None) -> F:
    """``view`` guarded by who may call it; the access is recorded on it (:func:`access_of`).

    Parameters
    ----------
    roles:
        ``None``: every signed-in user; ``("*",)``: anyone (the view is left
        as it is); otherwise the roles named. Nobody signed in gets the login
        (401 for the API, the login page for pages); a user of another role
        403 naming it.
    """
    if roles == PUBLIC_ROLES:
        setattr(view, ACCESS_MARK, PUBLIC_ROLES)
        return view
    unknown = [r for r in roles or () if r not in USER_ROLES]
    if roles is not None and (not roles or unknown):
        raise ValueError(
            f"`roles` was {list(roles)!r} but is expected to be one or more of {list(USER_ROLES)}"
        )

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return _login_response()
        if not policy().may_call(roles):
            raise ForbiddenError(
                f"user {user.name!r} has role {user.role!r} but this needs "
                f"{' or '.join(repr(r) for r in roles or ())}",
                zh=f"用户 {user.name!r} 的角色为 {user.role!r}，但此操作需要角色 "
                f"{' 或 '.join(repr(r) for r in roles or ())}",
            )
        return view(*args, **kwargs)

    setattr(wrapped, _LOGIN_MARK, True)
    setattr(wrapped, ACCESS_MARK, roles)
    return wrapped  # type: ignore[return-value]


def checks_itself(roles: tuple[str, ...] | None) -> Callable[[F], F]:
    """Record who may call a view that answers refusals itself (Open311 has its own 401
    format): ``roles`` as for :func:`guard`; the view must enforce them."""

    def decorate(view: F) -> F:
        setattr(view, ACCESS_MARK, roles)
        return view

    return decorate


def public(view: F) -> F:
    """Mark ``view`` as open to anyone, signed in or not (the route table's test reads it)."""
    return guard(view, roles=PUBLIC_ROLES)


def login_required(view: F) -> F:
    """Let only signed-in users reach ``view``: pages redirect to the login, the API answers 401.

    Examples
    --------
    >>> from flask import Blueprint
    >>> bp = Blueprint("reports", __name__)
    >>> @bp.get("/report")
    ... @login_required
    ... def report() -> str: ...
    """
    return guard(view, roles=None)


def roles_required(*roles: str) -> Callable[[F], F]:
    """Let only signed-in users with one of ``roles`` reach the view; others get 403.

    Examples
    --------
    >>> from flask import Blueprint
    >>> bp = Blueprint("reports", __name__)
    >>> @bp.post("/cells/publish")
    ... @roles_required("admin")
    ... def publish() -> Response: ...
    """
    unknown = [r for r in roles if r not in USER_ROLES]
    if not roles or unknown:
        raise ValueError(
            f"`roles` was {list(roles)!r} but is expected to be one or more of {list(USER_ROLES)}"
        )

    def decorate(view: F) -> F:
        return guard(view, roles=tuple(roles))

    return decorate


_UNDECLARED = object()


def access_of(view: object) -> tuple[str, ...] | object | None:
    """Who may call ``view``, as declared: ``("*",)`` anyone, ``None`` every signed-in
    user, a tuple of roles; :data:`_UNDECLARED` when the view declares nothing."""
    return getattr(view, ACCESS_MARK, _UNDECLARED)


def policy() -> Policy:
    """The access policy of the user making this request (:class:`gridgis.access.Policy`)."""
    if "policy" not in g:
        g.policy = Policy.for_user(current_user())
    found: Policy = g.policy
    return found


# --- the pages -----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str | None:
    """``target`` if it is a path of this app (never another site), else ``None``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def _sign_in(user: User) -> None:
    session.clear()  # a new session for the new user: nothing of the old one is kept
    session.permanent = True
    session["sid"] = users.start_session(get_engine(), user.id, lifetime=_lifetime())
    session["user_id"] = user.id
    session["user_version"] = user.session_version
    session["login_at"] = int(time.time())
    session["csrf"] = secrets.token_urlsafe(32)
    g.user = user
    g.pop("policy", None)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> BaseResponse | tuple[str, int] | str:
    """Show the login form; check a name and password posted to it."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or url_for("maps.index"))
        return render_template(
            "login.html",
            next_url=next_url,
            error=None,
            name="",
            logged_out=request.args.get("logged_out") == "1",
        )
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    limits = config.settings().login_limits
    page_values = {
        "next_url": next_url,
        "name": name,
        "logged_out": False,
        "max_failures": limits.per_account_address,
        "lock_minutes": limits.window_seconds // 60,
    }
    try:
        user = (
            users.authenticate(get_engine(), name, password, address=request.remote_addr)
            if name and password
            else None
        )
    except ThrottledError as exc:
        current_app.logger.warning("throttled login for %r from %s", name, request.remote_addr)
        page = render_template("login.html", error=_throttled_text(exc), **page_values)
        return _throttled(page, exc)
    if user is None:
        current_app.logger.warning("failed login for %r from %s", name, request.remote_addr)
        page = render_template("login.html", error=gettext(WRONG_LOGIN_ZH), **page_values)
        return page, 200
    _sign_in(user)
    current_app.logger.info("user %r (%s) logged in", user.name, user.role)
    return redirect(next_url or url_for("maps.index"))


def _throttled_text(exc: ThrottledError) -> str:
    return gettext(
        "登录失败次数过多，请 {minutes} 分钟后再试。", minutes=math.ceil(exc.retry_after / 60)
    )


def _throttled(page: str, exc: ThrottledError) -> Response:
    """``page`` answered 429, with ``Retry-After``."""
    response = Response(page, status=429, mimetype="text/html")
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.post("/logout")
@public
def logout() -> BaseResponse:
    """End the session, here and in every server process (a copy of its cookie stops working)."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        users.end_session(get_engine(), session_id)
    session.clear()
    g.pop("user", None)
    return redirect(url_for("auth.login", logged_out="1"))


@bp.get("/account")
@login_required
def account() -> str:
    """Who is signed in; the form to change one's password."""
    return render_template(
        "account.html",
        user=current_user(),
        changed=request.args.get("changed") == "1",
        error=None,
        min_length=config.settings().password_min_length,
    )


def _new_password_problem(new: str) -> str:
    """Why ``new`` was refused, in the user's language."""
    if users.is_common_password(new):
        return gettext("新密码太常见，容易被猜中；请换一个。")
    return gettext(
        "新密码至少需要 {n} 个字符，且不能与用户名相同。", n=config.settings().password_min_length
    )


@bp.post("/account/password")
@login_required
def change_password() -> BaseResponse | tuple[str, int]:
    """Change one's own password after giving the current one (throttled as logins are)."""
    user = current_user()
    assert user is not None  # login_required
    current = request.form.get("current_password", "")
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    error: str | None = None
    try:
        right = users.authenticate(get_engine(), user.name, current, address=request.remote_addr)
    except ThrottledError as exc:
        page = render_template(
            "account.html",
            user=user,
            changed=False,
            error=_throttled_text(exc),
            min_length=config.settings().password_min_length,
        )
        return _throttled(page, exc)
    if right is None:
        error = gettext("当前密码错误。")
    elif new != again:
        error = gettext("两次输入的新密码不一致。")
    else:
        try:
            updated = users.set_password(get_engine(), user.name, new, actor=user.name)
        except InputError:
            error = _new_password_problem(new)
        else:
            _sign_in(updated)  # this session goes on; every other one of this user ends
            return redirect(url_for("auth.account", changed="1"))
    page = render_template(
        "account.html",
        user=user,
        changed=False,
        error=error,
        min_length=config.settings().password_min_length,
    )
    return page, 400
