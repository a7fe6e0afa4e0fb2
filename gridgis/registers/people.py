"""People's data in the rosters: stored whole, shown masked to whom may not see it.

Grid workers' names, phones and ID-card numbers and party secretaries' names and
phones are people's data. The database keeps them as given; what a user is shown
depends on the one access policy (:class:`gridgis.access.Policy`):

- names and phones are shown to users who may see the area the person serves
  (:meth:`~gridgis.access.Policy.may_see` of the row's street or community code),
  masked for everyone else (``王芳`` → ``王*``, ``13812345678`` → ``*******5678``);
- ID-card numbers are shown to administrators only, masked for every other user
  (``350304199001011234`` → ``**************1234``).

Masks are those of the audit trail (:func:`gridgis.audit.mask_person_data`), so a
number looks the same masked wherever it appears.

Examples
--------
>>> import pandas as pd
>>> from gridgis.access import Policy
>>> rows = pd.DataFrame({"name": ["王芳", "李四"], "phone": ["13812345678", None],
...                      "id_number": ["350304199001011234", None],
...                      "street_code": ["350304001", "350304002"]})
>>> office = Policy(name="zhenhai", role="street", street="350304001")
>>> shown = mask_people(rows, office)
>>> shown["name"].tolist(), shown["phone"].tolist(), shown["id_number"].tolist()
(['王芳', '李*'], ['13812345678', None], ['**************1234', None])
>>> mask_people(rows, Policy(name="root", role="admin"))["id_number"].iat[0]
'350304199001011234'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gridgis.access import Policy
from gridgis.audit import mask_person_data

__all__ = ["NAME_FIELDS", "NUMBER_FIELDS", "SECRET_NUMBER_FIELDS", "mask_name", "mask_people"]

NAME_FIELDS: tuple[str, ...] = ("name", "secretary")
"""Columns holding a person's name (a worker's, a party secretary's)."""

NUMBER_FIELDS: tuple[str, ...] = ("phone", "secretary_phone")
"""Columns holding a person's phone number: shown to who may see the area."""

SECRET_NUMBER_FIELDS: tuple[str, ...] = ("id_number",)
"""Columns holding ID-card numbers: shown to administrators only."""


def mask_name(name: object) -> object:
    """A person's name with all but its first character masked (``王芳`` → ``王*``).

    Examples
    --------
    >>> mask_name("欧阳娜娜"), mask_name("A"), mask_name(None)
    ('欧***', '*', None)
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    text = str(name).strip()
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)


def _masked_numbers(values: pd.Series, key: str) -> pd.Series:
    masked = [None if pd.isna(v) else mask_person_data(str(v), key=key) for v in values]
    return pd.Series(masked, index=values.index, dtype=object)


def mask_people(
    frame: pd.DataFrame,
    policy: Policy,
    *,
    area: str | Sequence[str] = "street_code",
) -> pd.DataFrame:
    """``frame`` with the people's data that ``policy`` may not see masked.

    Parameters
    ----------
    frame:
        Rows of people or organisations; the columns of :data:`NAME_FIELDS`,
        :data:`NUMBER_FIELDS` and :data:`SECRET_NUMBER_FIELDS` it has are masked.
        Not changed: a copy is returned, with the same index.
    policy:
        Who is looking.
    area:
        The column(s) holding the area code a row lies in (street, community or
        cell code); the first that is not empty decides. A row in no area is seen
        by administrators and analysts only.

    Returns
    -------
    pandas.DataFrame
    """
    columns = [area] if isinstance(area, str) else list(area)
    out = frame.copy()
    codes = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for column in columns:
        if column in frame.columns:
            codes = codes.where(codes.notna(), frame[column].astype(object))
    codes = codes.where(codes.notna(), None)
    visible = np.fromiter(
        (policy.may_see(None if c is None else str(c)) for c in codes),
        dtype=bool,
        count=len(codes),
    )
    hidden = ~visible
    for column in NAME_FIELDS:
        if column in out.columns and hidden.any():
            out[column] = out[column].astype(object)
            out.loc[hidden, column] = out.loc[hidden, column].map(mask_name)
    for column in NUMBER_FIELDS:
        if column in out.columns and hidden.any():
            out[column] = out[column].astype(object)
            out.loc[hidden, column] = _masked_numbers(out.loc[hidden, column], column)
    if policy.role != "admin":
        for column in SECRET_NUMBER_FIELDS:
            if column in out.columns:
                out[column] = _masked_numbers(out[column].astype(object), column)
    return out
