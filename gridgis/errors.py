"""Errors raised by gridgis.

Every error subclasses :class:`GridGISError` *and* a builtin exception, so
callers can catch either (``except ValueError`` keeps working). Each class
carries the HTTP status the web layer answers with, so views stay free of
``try``/``except`` ladders.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SHOWN = 20
"""How many examples a bounded listing (:func:`listing`) shows."""

ITEM_CHARS = 300
"""The longest an example of a listing is shown (a longer one is cut, with "…")."""


class GridGISError(Exception):
    """Base class of every error gridgis raises on purpose.

    Attributes
    ----------
    status:
        The HTTP status the web layer answers with.
    code:
        A short machine-readable name of the kind of error (``not_found``...),
        the ``code`` of the web API's error answers.
    field:
        The request field or parameter at fault, when there is one.
    zh:
        The same message in Chinese, for the people who read the web app in
        Chinese (``str(error)`` is the English, for scripts, logs and the
        command line); ``None`` where none was written.

    Examples
    --------
    >>> error = NotFoundError("case 7 does not exist", zh="事件 7 不存在")
    >>> str(error), error.text("zh"), error.text("en")
    ('case 7 does not exist', '事件 7 不存在', 'case 7 does not exist')
    """

    status: int = 500
    code: str = "error"

    def __init__(self, *args: object, field: str | None = None, zh: str | None = None) -> None:
        super().__init__(*args)
        self.field = field
        self.zh = zh

    def text(self, language: str) -> str:
        """The message in ``language`` (``"zh"`` or ``"en"``): the Chinese when there is one."""
        if language == "zh" and self.zh:
            return self.zh
        return str(self)


class ConfigError(GridGISError, ValueError):
    """A setting (environment variable or argument) has a bad value."""

    status = 500
    code = "config_error"


class DatabaseError(GridGISError, RuntimeError):
    """The database cannot be reached, created or started."""

    status = 503
    code = "database_unavailable"


class CRSError(GridGISError, ValueError):
    """A coordinate reference system is unknown or does not fit the data."""

    status = 400
    code = "bad_crs"


class CoordinateError(GridGISError, ValueError):
    """Coordinates are impossible for the CRS they are said to be in."""

    status = 400
    code = "bad_coordinates"


class InputError(GridGISError, ValueError):
    """An input file or request cannot be used as given (unreadable, missing fields)."""

    status = 400
    code = "bad_request"


class NotFoundError(GridGISError, LookupError):
    """A district, street, community, cell or case does not exist."""

    status = 404
    code = "not_found"


class ForbiddenError(GridGISError, PermissionError):
    """The user may not see or change this (another street's area, an analyst changing data)."""

    status = 403
    code = "forbidden"


class ConflictError(GridGISError, RuntimeError):
    """The data changed under an operation (e.g. a layout published meanwhile)."""

    status = 409
    code = "conflict"


class DuplicateCaseError(ConflictError):
    """A case with the same external id is stored already.

    Attributes
    ----------
    case_id:
        The id of the stored case.
    street_code:
        Its street, or ``None`` when it lies in no cell: a caller limited to a
        street may be told the id only when it may see that case.
    """

    code = "duplicate_case"

    def __init__(
        self, message: str, *, case_id: int, street_code: str | None, zh: str | None = None
    ) -> None:
        super().__init__(message, zh=zh)
        self.case_id = case_id
        self.street_code = street_code


class FileEncodingError(GridGISError, UnicodeError):
    """A file's text cannot be decoded with the encoding it was read with."""

    status = 400
    code = "bad_encoding"


@dataclass(frozen=True)
class Problem:
    """One rejected row or feature of an input.

    Attributes
    ----------
    row:
        1-based row (feature) number in the input, or ``None`` when the
        problem concerns the input as a whole or several features.
    code:
        The code of the feature concerned, when it has one.
    reason:
        What is wrong, in words a user can act on.
    """

    row: int | None
    code: str | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.code:
            where.append(f"code {self.code}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.reason}" if prefix else self.reason


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _examples(
    items: Iterable[object], shown: int, width: int, count: int | None
) -> tuple[list[str], int]:
    """The first ``shown`` of ``items`` as text cut to ``width``, and how many there are."""
    examples: list[str] = []
    seen = 0
    for item in items:
        if seen < shown:
            examples.append(_cut(str(item), width))
        seen += 1
        if count is not None and seen >= shown:
            break
    return examples, (seen if count is None else max(count, seen))


def listing(
    items: Iterable[object],
    *,
    noun: str = "problem",
    shown: int = SHOWN,
    sep: str = "; ",
    width: int = ITEM_CHARS,
    count: int | None = None,
) -> str:
    """Say how many ``items`` there are and show the first ``shown`` of them, each cut to ``width``.

    Every message that lists problems (rows, codes, fields) goes through here, so that
    its length is bounded whatever the input: a file with 100,000 bad rows gives a
    message of a few kilobytes. The full list belongs in a report file, not a message.

    Parameters
    ----------
    items:
        What to list; each is shown as ``str(item)``. Only the first ``shown`` are
        turned into text, the rest are only counted.
    noun:
        What an item is, singular; an ``s`` is added for several (``"row"`` →
        ``"3 rows"``). Empty: no count before the examples, only "(N in all)" after.
    shown, sep, width:
        How many examples, what separates them, how long one may be.
    count:
        How many items there are in all, when ``items`` yields only the first
        ones (so that listing a part of a long list costs only that part).

    Examples
    --------
    >>> listing(["row 2: no code", "row 5: no code"])
    '2 problems: row 2: no code; row 5: no code'
    >>> listing(range(1, 2001), noun="row", shown=3, sep=", ")
    '2,000 rows; first 3: 1, 2, 3, …'
    >>> listing(range(1, 2001), noun="", shown=3, sep=", ")
    '1, 2, 3, … (2,000 in all)'
    """
    examples, count = _examples(items, shown, width, count)
    more = f"{sep}…" if count > shown else ""
    if not noun:
        return sep.join(examples) + (f"{more} ({count:,} in all)" if more else "")
    counted = f"{count:,} {noun}{'' if count == 1 else 's'}"
    if not count:
        return counted
    lead = sep if sep.startswith("\n") else " "  # a list of lines starts on a line of its own
    head = f"{counted}; first {shown}:" if more else f"{counted}:"
    return head + lead + sep.join(examples) + more


def listing_zh(
    items: Iterable[object],
    *,
    noun: str = "个问题",
    shown: int = SHOWN,
    sep: str = "；",
    width: int = ITEM_CHARS,
    count: int | None = None,
) -> str:
    """:func:`listing` in Chinese, for an error's :attr:`GridGISError.zh`.

    ``noun`` is the measure word and noun after the count (``"个问题"``, ``"行"``,
    ``"个编码"``); empty: no count before the examples, only "（共 N 个）" after.

    Examples
    --------
    >>> listing_zh(["第 2 行：没有编码", "第 5 行：没有编码"])
    '共 2 个问题：第 2 行：没有编码；第 5 行：没有编码'
    >>> listing_zh(range(1, 2001), noun="行", shown=3, sep="、")
    '共 2,000 行，前 3 行：1、2、3、…'
    >>> listing_zh(range(1, 2001), noun="", shown=3, sep="、")
    '1、2、3、…（共 2,000 个）'
    """
    examples, count = _examples(items, shown, width, count)
    more = f"{sep}…" if count > shown else ""
    if not noun:
        return sep.join(examples) + (f"{more}（共 {count:,} 个）" if more else "")
    counted = f"共 {count:,} {noun}"
    if not count:
        return counted
    measure = "个" if noun.startswith("个") else noun[:1]
    head = f"{counted}，前 {shown} {measure}：" if more else f"{counted}："
    lead = sep if sep.startswith("\n") else ""
    return head + lead + sep.join(examples) + more


class ValidationError(GridGISError, ValueError):
    """An input has one or more problems; all of them are kept together in ``problems``.

    The message shows how many there are and the first :data:`SHOWN` (see
    :func:`listing`), so it stays short whatever the input; ``problems`` has them all.
    """

    status = 422
    code = "invalid"

    def __init__(
        self,
        message: str,
        problems: Sequence[Problem] = (),
        *,
        field: str | None = None,
        zh: str | None = None,
    ) -> None:
        self.problems: list[Problem] = list(problems)
        if self.problems:
            message += "\n" + listing(self.problems, sep="\n  - ")
        super().__init__(message, field=field, zh=zh)


class ThrottledError(GridGISError, RuntimeError):
    """Too many failed logins: the attempt is refused without checking the password.

    Attributes
    ----------
    retry_after:
        Whole seconds until an attempt is accepted again (HTTP ``Retry-After``).
    """

    status = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)
