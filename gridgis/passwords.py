"""Passwords of the web app's users: which are refused (too short, too long, the user's
name, or one of the most common passwords).

A password has at least ``GRIDGIS_PASSWORD_MIN_LENGTH`` characters (default 10), at
most :data:`MAX_PASSWORD_LENGTH`, and is not on ``gridgis/data/common_passwords.txt``
(compared in any case). Hashing and storing them is :mod:`gridgis.users`'s.
"""

from __future__ import annotations

import functools

from gridgis import config, data
from gridgis.errors import InputError

__all__ = ["MAX_PASSWORD_LENGTH", "check_password", "is_common_password"]

MAX_PASSWORD_LENGTH = 1024
"""Longer passwords are refused: hashing megabytes would be a cheap way to load the server."""


@functools.cache
def _common_passwords() -> frozenset[str]:
    lines = data.path("common_passwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().casefold() for line in lines if line.strip() and not line.startswith("#")
    )


def is_common_password(password: str) -> bool:
    """Whether ``password`` (in any case) is on the bundled list of the most common passwords.

    Examples
    --------
    >>> is_common_password("woaini1314"), is_common_password("gridgis-demo")
    (True, False)
    """
    return password.casefold() in _common_passwords()


def check_password(password: str, *, name: str | None = None) -> None:
    """Raise :class:`InputError` if ``password`` is weak: short, common, too long or the name.

    Short is fewer than ``GRIDGIS_PASSWORD_MIN_LENGTH`` characters (default
    10); common is on ``gridgis/data/common_passwords.txt`` (the most used
    passwords, Chinese users' favourites among them, compared in any case).
    The message gives the length, never the password.

    Examples
    --------
    >>> check_password("long enough")
    >>> check_password("1qaz2wsx3edc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    gridgis.errors.InputError: the password is one of the most common passwords...
    """
    min_length = config.settings().password_min_length
    if len(password) < min_length:
        raise InputError(
            f"the password has {len(password)} characters but needs at least {min_length}",
            zh=f"密码只有 {len(password)} 个字符，至少需要 {min_length} 个",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"the password has {len(password)} characters but may have at most "
            f"{MAX_PASSWORD_LENGTH}",
            zh=f"密码有 {len(password)} 个字符，最多只能有 {MAX_PASSWORD_LENGTH} 个",
        )
    if name is not None and password.casefold() == name.casefold():
        raise InputError("the password must not be the user name", zh="密码不能与用户名相同")
    if is_common_password(password):
        raise InputError(
            "the password is one of the most common passwords, the first ones guessed; "
            "choose another (a few unrelated words are easy to remember)",
            zh="密码是最常见、最先被猜到的密码之一；请换一个（几个互不相关的词既好记又安全）",
        )
