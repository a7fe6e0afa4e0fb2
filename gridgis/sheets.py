"""Cells of spreadsheet files (CSV, Excel ``.xlsx``) that open as the text stored, never as code.

Every CSV or ``.xlsx`` file gridgis writes (:func:`gridgis.export.export`, the
per-row reports of :mod:`gridgis.intake`, ``gridgis cases stats -o``) makes its
cells here, so that text from the database or from an imported file, a case
description such as ``=HYPERLINK("http://…","…")``, is shown as typed and is
never run by Excel, WPS or LibreOffice as a formula (CSV or formula injection).

CSV
    :func:`safe_csv_value`: a text that starts with ``=``, ``+``, ``-``, ``@``, a
    tab or a carriage return gets a leading ``'`` (OWASP's rule for CSV
    injection): a spreadsheet shows ``'=HYPERLINK(...)`` as text. Numbers are
    not text and keep their sign (``-3`` stays ``-3``); a text ``"-3"`` is
    quoted like any other text.
``.xlsx``
    :func:`xlsx_cell`: a text is always a text cell (``t="inlineStr"``), also
    when it starts with ``=`` (openpyxl would write a formula) or is an error
    code such as ``#N/A`` (openpyxl would write an error). A text starting
    with one of the characters above is also marked ``quotePrefix``, the
    style Excel gives a text typed with a leading ``'``: the cell shows the text
    exactly as stored and stays text when someone edits it. Characters that
    XML 1.0, and so an ``.xlsx`` file, cannot hold (U+0001–U+0008, U+000B,
    U+000C, U+000E–U+001F, U+FFFE, U+FFFF; PostgreSQL holds all of them) are
    written as OOXML's escape ``_xHHHH_``, which Excel and LibreOffice read
    back as the character itself and other readers (openpyxl, pandas, GDAL)
    show as visible text, e.g. ``井盖_x000B_丢失``. A ``_xHHHH_`` typed in the
    text is escaped in turn (its ``_`` as ``_x005F_``), as Excel does, so the
    escape is never ambiguous. A text longer than an Excel cell holds
    (:data:`EXCEL_TEXT_LIMIT` characters, escapes included) is cut at a
    character (never inside an escape). Tab, line feed and carriage return are
    kept (XML reads a carriage return as a line feed).

Examples
--------
>>> safe_csv_value('=HYPERLINK("http://example.com","x")')
'\\'=HYPERLINK("http://example.com","x")'
>>> safe_csv_value(-3), safe_csv_value("-3")
(-3, "'-3")
>>> safe_xlsx_value("井盖\\x0b丢失")
'井盖_x000B_丢失'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import pandas as pd

__all__ = [
    "EXCEL_TEXT_LIMIT",
    "FORMULA_STARTS",
    "safe_csv_frame",
    "safe_csv_value",
    "safe_xlsx_value",
    "write_xlsx",
    "xlsx_cell",
]

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a text as a formula (OWASP)."""

EXCEL_TEXT_LIMIT = 32_767
"""The most characters of an Excel cell."""

_NOT_XML = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
"""What an ``.xlsx`` text cannot hold as it is: characters outside XML 1.0, and the
``_`` of a text that reads as OOXML's escape ``_xHHHH_``."""

_ESCAPED = re.compile("_x[0-9A-F]{4}_")

_CELL_STARTS = (*FORMULA_STARTS, "#")
"""Texts written as cells with their type set: openpyxl would write "=..." as a formula
and "#N/A", "#REF!"... as errors; the others also need the ``quotePrefix`` style."""

_T = TypeVar("_T")


def safe_csv_value(value: _T) -> _T | str:
    """A CSV cell's value that no spreadsheet runs: text starting like a formula gets a ``'``.

    Parameters
    ----------
    value:
        Any value; only text (``str``) is changed.

    Returns
    -------
    The value, or ``"'" + value`` for a text that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return.

    Examples
    --------
    >>> safe_csv_value("@SUM(A1)"), safe_csv_value("井盖丢失"), safe_csv_value(-3.5)
    ("'@SUM(A1)", '井盖丢失', -3.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are made safe by :func:`safe_csv_value`.

    For :meth:`pandas.DataFrame.to_csv`; numeric columns are left as they are.

    Examples
    --------
    >>> safe_csv_frame(pd.DataFrame({"id": ["=1+2", "K-1"], "n": [-3, 4]})).to_dict("list")
    {'id': ["'=1+2", 'K-1'], 'n': [-3, 4]}
    """
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column].dtype):
            out[column] = out[column].map(safe_csv_value, na_action="ignore")
    return out


def _escape(match: re.Match[str]) -> str:
    return f"_x{ord(match.group(0)):04X}_"


def _xlsx_text(value: str) -> tuple[str, bool]:
    """The text as an ``.xlsx`` cell holds it, and whether it had to be cut.

    Excel counts a cell's characters in UTF-16 code units (a character beyond
    U+FFFF counts two); the cut never splits such a character or an escape.
    """
    escaped = _NOT_XML.sub(_escape, value)
    if len(escaped) <= EXCEL_TEXT_LIMIT // 2:
        return escaped, False
    units = escaped.encode("utf-16-le")
    if len(units) <= 2 * EXCEL_TEXT_LIMIT:
        return escaped, False
    head = units[: 2 * EXCEL_TEXT_LIMIT]
    if 0xD800 <= int.from_bytes(head[-2:], "little") <= 0xDBFF:  # half a character
        head = head[:-2]
    cut = head.decode("utf-16-le")
    # An escape is 7 characters: one cut through starts in the last 6.
    start = cut.rfind("_x", max(0, len(cut) - 6))
    if start >= 0 and _ESCAPED.match(escaped, start):
        cut = cut[:start]
    return cut, True


def _cell(sheet: Any, value: Any, number_format: str | None) -> tuple[Any, bool]:
    """What :func:`xlsx_cell` answers, and whether the text was cut."""
    from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

    if not isinstance(value, str):
        if number_format is None or value is None:
            return safe_xlsx_value(value), False
        cell = WriteOnlyCell(sheet, value=safe_xlsx_value(value))
        cell.number_format = number_format
        return cell, False
    stored, cut = _xlsx_text(value)
    if not value.startswith(_CELL_STARTS):
        return stored, cut  # openpyxl writes other text as text
    cell = WriteOnlyCell(sheet, value=stored)
    cell.data_type = "s"  # after the value: openpyxl makes "=..." a formula, "#N/A" an error
    if value.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell, cut


def safe_xlsx_value(value: Any) -> Any:
    """An ``.xlsx`` cell's value: text escaped and cut to what a cell holds, numpy as Python.

    See the module notes for the escape (``_xHHHH_``) and the limit; use
    :func:`xlsx_cell` to make the cell, which also keeps text from becoming a formula.

    Examples
    --------
    >>> safe_xlsx_value("a\\x01b"), safe_xlsx_value("_x000B_"), safe_xlsx_value(np.int64(-3))
    ('a_x0001_b', '_x005F_x000B_', -3)
    """
    if isinstance(value, str):
        return _xlsx_text(value)[0]
    if isinstance(value, np.generic):
        return value.item()
    return value


def xlsx_cell(sheet: Any, value: Any, *, number_format: str | None = None) -> Any:
    """What to append to a write-only openpyxl ``sheet`` for ``value``: text stays text.

    Parameters
    ----------
    sheet:
        An openpyxl write-only worksheet (``Workbook(write_only=True).create_sheet()``).
    value:
        Text, a number, a boolean, a date-time (naive) or ``None``.
    number_format:
        An Excel number format (``"yyyy-mm-dd hh:mm:ss"``) for a non-empty value.

    Returns
    -------
    Any
        The value made safe by :func:`safe_xlsx_value`, or an
        ``openpyxl.cell.WriteOnlyCell`` holding it where the value alone would
        not do: a text that openpyxl would write as a formula (``=...``) or an
        error (``#N/A``) is typed ``s``, and one that starts like a formula is
        also marked ``quotePrefix``; a value with ``number_format``.
    """
    return _cell(sheet, value, number_format)[0]


def write_xlsx(
    target: Path | BinaryIO,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str,
    number_formats: Sequence[str | None] | None = None,
) -> int:
    """Write one sheet, ``header`` then ``rows``, every cell made by :func:`xlsx_cell`.

    Parameters
    ----------
    target:
        The ``.xlsx`` file (a path or a binary file object).
    header, rows:
        The column names and the rows (each as long as ``header``).
    sheet:
        The sheet's name.
    number_formats:
        Per column, an Excel number format or ``None``.

    Returns
    -------
    int
        How many texts were cut to :data:`EXCEL_TEXT_LIMIT` characters.
    """
    from openpyxl import Workbook  # type: ignore[import-untyped]

    formats = list(number_formats) if number_formats is not None else [None] * len(header)
    book = Workbook(write_only=True)
    page = book.create_sheet(sheet)
    page.append([xlsx_cell(page, name) for name in header])
    truncated = 0
    for row in rows:
        cells = []
        for value, form in zip(row, formats, strict=True):
            cell, cut = _cell(page, value, form)
            cells.append(cell)
            truncated += cut
        page.append(cells)
    book.save(target)
    return truncated
