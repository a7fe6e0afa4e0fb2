"""The case categories (table ``case_category``) and the one rule that names them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from gridgis.cases.base import _some
from gridgis.db import queries
from gridgis.db.models import CaseCategory
from gridgis.errors import NotFoundError

_NAMES = select(CaseCategory.code, CaseCategory.name_zh, CaseCategory.name_en)
_WITH_LIMITS = select(
    CaseCategory.code, CaseCategory.name_zh, CaseCategory.name_en, CaseCategory.deadline_hours
).order_by(CaseCategory.code)


class CaseCategories:
    """The case categories (table ``case_category``) and the one rule that names them.

    A category is named by its code (``fire_safety``, in any case), its Chinese name
    (``消防安全``) or its English name (``Fire safety``, in any case), with spaces
    around it ignored. Filing a case, listing cases, the density maps, the figures and
    the bulk import all ask this rule. An exact code or Chinese name wins over a
    case-folded one.

    Parameters
    ----------
    rows:
        ``(code, name_zh, name_en)`` of each category.

    Examples
    --------
    >>> known = CaseCategories([("fire_safety", "消防安全", "Fire safety")])
    >>> [known.code_of(v) for v in ("消防安全", " FIRE_SAFETY", "fire safety", "火灾")]
    ['fire_safety', 'fire_safety', 'fire_safety', None]
    """

    def __init__(self, rows: Iterable[Sequence[object]]) -> None:
        listed = sorted((str(code), str(zh), str(en)) for code, zh, en in rows)
        self.names: dict[str, str] = {code: zh for code, zh, _ in listed}
        """Code -> Chinese name, by code."""
        self._folded: dict[str, str] = {}
        for code, zh, en in reversed(listed):  # the first category wins a shared key
            for key in (en, zh, code):
                self._folded[key.casefold()] = code
        self._exact = {zh: code for code, zh, _ in listed} | {c: c for c in self.names}

    def __len__(self) -> int:
        return len(self.names)

    def code_of(self, value: object) -> str | None:
        """The code of the category ``value`` names, ``None`` when none (or not text)."""
        if not isinstance(value, str):
            return None
        key = value.strip()
        return self._exact.get(key) or self._folded.get(key.casefold())

    def listing(self) -> str:
        """The categories as an error message lists them: ``code (中文名), ...``."""
        return ", ".join(f"{code} ({name})" for code, name in self.names.items())

    def unknown(self, value: object) -> NotFoundError:
        """The error for a category ``value`` that names none, listing those there are."""
        return NotFoundError(
            f"`category` was {value!r} but is expected to be one of the categories in "
            f"case_category: {self.listing()}",
            zh=f"`category` 为 {value!r}，应为 case_category 中的事件类别之一：{self.listing()}",
        )

    def resolve(self, value: object) -> str:
        """The code of ``value``, else :meth:`unknown`."""
        code = self.code_of(value)
        if code is None:
            raise self.unknown(value)
        return code

    def resolve_all(self, value: object) -> list[str]:
        """Codes of one category or a non-empty list of them, without repeats, in order.

        Raises
        ------
        InputError
            When ``value`` is neither text nor a non-empty list.
        NotFoundError
            Naming the first that names no category.
        """
        return list(dict.fromkeys(self.resolve(v) for v in _some(value, "category")))


def load_categories(connection: Engine | Connection) -> CaseCategories:
    """The case categories stored in ``case_category``.

    Examples
    --------
    >>> load_categories(engine).resolve("Fire safety")  # doctest: +SKIP
    'fire_safety'
    """
    with queries.connection(connection) as conn:
        rows = conn.execute(_NAMES)
        return CaseCategories(rows.all())


def resolve_categories(connection: Engine | Connection, category: object) -> list[str]:
    """Codes for ``category``: one category or a non-empty list (see :class:`CaseCategories`).

    Raises
    ------
    InputError
        When ``category`` is neither text nor a non-empty list.
    NotFoundError
        Naming the first unknown category and listing the known ones.

    Examples
    --------
    >>> resolve_categories(engine, ["消防安全", "dispute"])  # doctest: +SKIP
    ['fire_safety', 'dispute']
    """
    return load_categories(connection).resolve_all(category)


def case_categories(connection: Engine | Connection) -> list[dict[str, Any]]:
    """The case categories with their time limits, by code.

    Returns
    -------
    list of dict
        ``code``, ``name_zh``, ``name_en``, ``deadline_hours``.

    Examples
    --------
    >>> [c["name_zh"] for c in case_categories(engine)][:2]
    ['市容环境', '工商食药']
    """
    with queries.connection(connection) as conn:
        rows = conn.execute(_WITH_LIMITS)
        return [dict(r._mapping) for r in rows]
