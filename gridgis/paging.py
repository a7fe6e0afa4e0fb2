"""Paging: the one rule for ``limit`` and ``offset`` of every list the library answers.

A page is at most :data:`MAX_LIMIT` rows (:data:`DEFAULT_LIMIT` unless asked),
after skipping ``offset`` rows, from 0 to :data:`MAX_OFFSET`.

Examples
--------
>>> check_page(50, 100)
(50, 100)
"""

from __future__ import annotations

from gridgis.errors import InputError

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "MAX_OFFSET", "check_page"]

DEFAULT_LIMIT = 100
"""Rows in a page when none is asked for."""

MAX_LIMIT = 1000
"""The most rows a page holds."""

MAX_OFFSET = 1_000_000_000
"""The most rows a page may skip: far beyond any list here, far below PostgreSQL's bigint."""


def check_page(limit: object, offset: object, *, max_limit: int = MAX_LIMIT) -> tuple[int, int]:
    """``(limit, offset)`` when both are whole numbers in bounds, else an error naming them.

    Parameters
    ----------
    limit:
        Rows in the page, from 1 to ``max_limit``.
    offset:
        Rows skipped before it, from 0 to :data:`MAX_OFFSET`.
    max_limit:
        The most rows this list answers at once.

    Raises
    ------
    InputError
        ``"`limit` was 0 but is expected to be from 1 to 1000"``; booleans are not numbers.

    Examples
    --------
    >>> check_page(0, 0)
    Traceback (most recent call last):
    gridgis.errors.InputError: `limit` was 0 but is expected to be from 1 to 1000
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= max_limit:
        raise InputError(
            f"`limit` was {limit!r} but is expected to be from 1 to {max_limit}",
            zh=f"`limit` 为 {limit!r}，应在 1 到 {max_limit} 之间",
        )
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InputError(
            f"`offset` was {offset!r} but is expected to be from 0 to {MAX_OFFSET:,}",
            zh=f"`offset` 为 {offset!r}，应在 0 到 {MAX_OFFSET:,} 之间",
        )
    return limit, offset
