"""Chinese by default, English on request: the app's one translation mechanism.

The source language is Chinese: templates, scripts and views write their
text in Chinese and wrap it, and English comes from catalogs that map each
Chinese text to its English one. A missing English text shows the Chinese
(the test suite checks that every wrapped text has one).

- Templates: ``{{ _("户数") }}``, with values ``{{ _("共 {n} 个网格", n=count) }}``
  (``str.format`` fields; the values are escaped by Jinja like any other).
- Python views: :func:`gettext` (the same).
- Scripts: ``gridgis.t("户数")`` and ``gridgis.t("共 {n} 个网格", {n: count})``
  from ``static/js/i18n.js``, which reads the catalog the page embeds (only
  when the page is in English; a Chinese page embeds nothing).

Catalogs are JSON files in ``gridgis/web/translations/`` (one per area of
the app, ``{"中文": "English"}``); they are merged, and the same Chinese text
translated two ways is an error at start.

The language of a request is ``?lang=zh|en`` when given (and remembered in
the ``gridgis_lang`` cookie for a year), else that cookie, else Chinese.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from werkzeug.datastructures import MultiDict

LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "gridgis_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
HTML_LANG = {"zh": "zh-CN", "en": "en"}
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


class CatalogError(ValueError):
    """Two catalogs translate the same Chinese text differently, or one is malformed."""


@lru_cache(maxsize=1)
def catalog() -> dict[str, str]:
    """The English catalog: every Chinese text of the app mapped to its English.

    Raises
    ------
    CatalogError
        When a file is not a JSON object of strings, or two files disagree.

    Examples
    --------
    >>> catalog()["户数"]
    'Households'
    """
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    folder = resources.files("gridgis.web") / "translations"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise CatalogError(f"translation file {entry.name} is not a JSON object")
        for zh, en in data.items():
            if not isinstance(en, str) or not en.strip():
                raise CatalogError(f"{entry.name}: the English of {zh!r} is {en!r}")
            if zh in merged and merged[zh] != en:
                raise CatalogError(
                    f"{zh!r} is translated {merged[zh]!r} in {origin[zh]} "
                    f"but {en!r} in {entry.name}"
                )
            merged[zh] = en
            origin[zh] = entry.name
    return merged


def translate(message: str, language: str, /, **values: Any) -> str:
    """Return ``message`` in ``language``, with ``values`` filled into its ``{fields}``.

    Examples
    --------
    >>> translate("共 {n} 个网格", "en", n=3)
    '3 cells in all'
    >>> translate("户数", "zh")
    '户数'
    """
    text = catalog().get(message, message) if language == "en" else message
    return text.format(**values) if values else text


def get_language() -> str:
    """The language of the current request: ``"zh"`` or ``"en"``."""
    if "language" not in g:
        asked = request.args.get("lang")
        if asked in LANGUAGES:
            g.language = asked
        else:
            cookie = request.cookies.get(COOKIE)
            g.language = cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
    language: str = g.language
    return language


def gettext(message: str, /, **values: Any) -> str:
    """Return ``message`` (Chinese) in the current request's language.

    Examples
    --------
    >>> with app.test_request_context("/?lang=en"):
    ...     gettext("已显示 {n} 个网格", n=12)
    'Showing 12 cells'
    """
    return translate(message, get_language(), **values)


_LITERAL = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
WRAPPED: dict[str, tuple[str, str, re.Pattern[str]]] = {
    "templates": ("templates", "*.html", re.compile(r"\b_\(\s*" + _LITERAL)),
    "views": (".", "*.py", re.compile(r"\b(?:gettext|translate|_both)\(\s*" + _LITERAL)),
    "scripts": ("static/js", "*.js", re.compile(r"(?<![\w.])(?:gridgis\.)?t\(\s*" + _LITERAL)),
}
"""Where wrapped texts are, by kind: folder (in ``gridgis/web``), file pattern, and the
call with a literal text (``_("…")``, ``gettext("…")``/``translate("…")``/``_both("…")``,
``gridgis.t("…")`` or a script's local ``t("…")``)."""


def wrapped_texts(kind: str) -> dict[str, set[str]]:
    """Every literal text wrapped for translation in the app's files of ``kind``, by file.

    Examples
    --------
    >>> "正在加载网格…" in set().union(*wrapped_texts("scripts").values())
    True
    """
    folder_name, pattern, call = WRAPPED[kind]
    web = Path(__file__).resolve().parent
    found: dict[str, set[str]] = {}
    for path in sorted((web / folder_name).rglob(pattern)):
        if "vendor" in path.parts:
            continue
        for match in call.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.setdefault(str(path.relative_to(web)), set()).add(text)
    return found


@lru_cache(maxsize=1)
def _script_catalog() -> dict[str, str]:
    used = set().union(*wrapped_texts("scripts").values())
    return {zh: en for zh, en in catalog().items() if zh in used}


def page_messages() -> dict[str, str]:
    """What a page embeds for its scripts: the English of the scripts' texts; ``{}`` in Chinese."""
    return _script_catalog() if get_language() == "en" else {}


def switch_url(language: str) -> str:
    """The current page's URL with ``lang=language`` (other query arguments kept)."""
    args = MultiDict(request.args)
    args["lang"] = language
    return f"{request.path}?{urlencode(list(args.items(multi=True)))}"


def _remember(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(COOKIE) != asked:
        response.set_cookie(
            COOKIE, asked, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True, path="/"
        )
    return response


def init_app(app: Flask) -> None:
    """Give templates ``_``, ``language()``, ``html_lang()``, ``switch_url()``; keep the choice."""
    app.jinja_env.globals.update(
        _=gettext,
        language=get_language,
        html_lang=lambda: HTML_LANG[get_language()],
        language_names=LANGUAGE_NAMES,
        languages=LANGUAGES,
        switch_url=switch_url,
        page_messages=page_messages,
    )
    app.after_request(_remember)
