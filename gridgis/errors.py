"""Errors raised by gridgis.

Every error subclasses :class:`GridGISError` *and* a builtin exception, so
callers can catch either (``except ValueError`` keeps working). Each class
carries the HTTP status the web layer answers with, so views stay free of
``try``/``except`` ladders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class GridGISError(Exception):
    """Base class of every error gridgis raises on purpose."""

    status: int = 500


class ConfigError(GridGISError, ValueError):
    """A setting (environment variable or argument) has a bad value."""

    status = 500


class DatabaseError(GridGISError, RuntimeError):
    """The database cannot be reached, created or started."""

    status = 503


class CRSError(GridGISError, ValueError):
    """A coordinate reference system is unknown or does not fit the data."""

    status = 400


class CoordinateError(GridGISError, ValueError):
    """Coordinates are impossible for the CRS they are said to be in."""

    status = 400


class InputError(GridGISError, ValueError):
    """An input file or request cannot be used as given (unreadable, missing fields)."""

    status = 400


class NotFoundError(GridGISError, LookupError):
    """A district, street, community, cell or case does not exist."""

    status = 404


class ConflictError(GridGISError, RuntimeError):
    """The data changed under an operation (e.g. a layout published meanwhile)."""

    status = 409


class FileEncodingError(GridGISError, UnicodeError):
    """A file's text cannot be decoded with the encoding it was read with."""

    status = 400


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


class ValidationError(GridGISError, ValueError):
    """An input has one or more problems; all of them are listed together."""

    status = 422

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)
        lines = [message] + [f"  - {p}" for p in self.problems[:50]]
        if len(self.problems) > 50:
            lines.append(f"  ... and {len(self.problems) - 50} more")
        super().__init__("\n".join(lines))


class ThrottledError(GridGISError, RuntimeError):
    """Too many failed logins: the attempt is refused without checking the password.

    Attributes
    ----------
    retry_after:
        Whole seconds until an attempt is accepted again (HTTP ``Retry-After``).
    """

    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(message)
