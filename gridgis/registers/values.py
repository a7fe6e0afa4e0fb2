"""Reading the values of a register's rows: ids, texts, counts and measures, with reasons.

Every function takes a column as read (text from CSV, numbers or text from
Excel and vector files) and returns the values and, per row, why a value is
unusable (``None``: fine), naming the value as the user wrote it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gridgis.intake.checks import id_problems
from gridgis.intake.fields import as_text

__all__ = ["file_ids", "numbers", "texts", "yes_no"]


def texts(values: pd.Series) -> pd.Series:
    """Values as stripped text, ``None`` when blank (Excel's 12.0 → ``'12'``).

    Examples
    --------
    >>> texts(pd.Series([" 1栋 ", 12.0, None, ""])).tolist()
    ['1栋', '12', None, None]
    """
    return pd.Series([as_text(v) for v in values], index=values.index, dtype=object)


def numbers(
    values: pd.Series,
    what: str,
    *,
    whole: bool = False,
    minimum: float = 0.0,
    above: bool = False,
) -> tuple[NDArray[np.float64], list[str | None]]:
    """Values as numbers (NaN when blank) and, per row, why one is unusable.

    Parameters
    ----------
    values:
        The column as read.
    what:
        The field's name for the reasons (``households``, ``floors``...).
    whole:
        Only whole numbers (``12`` and ``12.0`` are fine, ``12.5`` is not).
    minimum, above:
        The least value allowed (``above``: the value must exceed it).

    Examples
    --------
    >>> n, why = numbers(pd.Series(["12", "x", "-3", None, "2.5"]), "households", whole=True)
    >>> n.tolist()[:2], why
    ([12.0, nan], [None, "households 'x' is not a number", "households '-3' is negative", None, \
"households '2.5' is not a whole number"])
    """
    shown = [as_text(v) for v in values]
    parsed = np.array(
        pd.to_numeric(pd.Series(shown, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        ),
        dtype=np.float64,
    )
    reasons: list[str | None] = [None] * len(shown)
    # Wording the reasons of the few bad values; the parsing above is vectorised.
    for i in np.flatnonzero(~np.isfinite(parsed) | (parsed < minimum) | (parsed <= minimum)):
        text = shown[i]
        if text is None:
            continue
        value = parsed[i]
        if not np.isfinite(value):
            reasons[i] = f"{what} {text!r} is not a number"
        elif value < 0 <= minimum:
            reasons[i] = f"{what} {text!r} is negative"
        elif value < minimum or (above and value <= minimum):
            relation = "above" if above else "at least"
            reasons[i] = f"{what} {text!r} is not {relation} {minimum:g}"
    if whole:
        fraction = np.isfinite(parsed) & (np.floor(parsed) != parsed)
        for i in np.flatnonzero(fraction):
            if reasons[i] is None:
                reasons[i] = f"{what} {shown[i]!r} is not a whole number"
    bad = np.array([r is not None for r in reasons], dtype=bool)
    parsed[bad] = np.nan
    return parsed, reasons


def file_ids(ids: pd.Series, rows: NDArray[np.int64], numbering: str) -> list[str | None]:
    """Per row: why its id is unusable: missing, or used by several rows (each named).

    Examples
    --------
    >>> file_ids(pd.Series(["B1", None, "B1"]), np.array([2, 3, 4]), "row")
    ["id 'B1' is used by rows 2, 4 of the file", 'id missing', "id 'B1' is used by rows 2, 4 \
of the file"]
    """
    frame = pd.DataFrame({"external_id": ids.to_numpy(dtype=object), "row": rows})
    frame.attrs["numbering"] = numbering
    reasons, _ = id_problems(frame)
    return [r.replace("external id", "id", 1) if r else None for r in reasons]


_YES = frozenset({"true", "yes", "y", "1", "是", "对", "估", "估算", "✓"})
_NO = frozenset({"false", "no", "n", "0", "否", "不是", "实际", "实有"})


def yes_no(values: pd.Series, what: str) -> tuple[NDArray[np.bool_], list[str | None]]:
    """Values as yes (``True``) or no (``False``, also when blank) and, per row, why one
    is neither.

    Yes: ``true``, ``yes``, ``y``, ``1``, ``是``, ``估`` (an Excel or GeoPackage true);
    no: ``false``, ``no``, ``n``, ``0``, ``否``, blank; any case.

    Examples
    --------
    >>> flags, why = yes_no(pd.Series(["TRUE", "否", None, True, "也许"]), "estimated")
    >>> flags.tolist(), why[4]
    ([True, False, False, True, False], "estimated '也许' is not yes or no (true/false, 是/否)")
    """
    out = np.zeros(len(values), dtype=bool)
    reasons: list[str | None] = [None] * len(values)
    for i, value in enumerate(values.tolist()):  # a few distinct words, read one by one
        if isinstance(value, bool | np.bool_):
            out[i] = bool(value)
            continue
        text = as_text(value)
        if text is None:
            continue
        key = text.strip().casefold()
        if key in _YES:
            out[i] = True
        elif key not in _NO:
            reasons[i] = f"{what} {text!r} is not yes or no (true/false, 是/否)"
    return out, reasons
