"""Chinese by default, English on request: every wrapped text has its English.

The texts are found in the sources themselves (``_("…")`` in templates,
``gettext("…")`` in the web views, ``gridgis.t("…")`` or a local ``t("…")`` in the scripts), so a
text added without its translation fails here.
"""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from gridgis.web import i18n

HAN = re.compile(r"[\u4e00-\u9fff]")


def wrapped_texts() -> dict[str, set[str]]:
    """Every literal text wrapped for translation, by the file it is in."""
    found: dict[str, set[str]] = {}
    for kind in i18n.WRAPPED:
        found.update(i18n.wrapped_texts(kind))
    return found


def test_every_wrapped_text_has_its_english() -> None:
    catalog = i18n.catalog()
    texts = wrapped_texts()
    assert sum(len(t) for t in texts.values()) > 20, "the extraction found almost nothing"
    missing = sorted(
        f"{where}: {text!r}"
        for where, found in texts.items()
        for text in found
        if HAN.search(text) and text not in catalog
    )
    assert not missing, "texts without English:\n" + "\n".join(missing)


def test_catalog_keeps_the_fields_of_each_text() -> None:
    field = re.compile(r"\{(\w+)\}")
    wrong = {
        zh: en
        for zh, en in i18n.catalog().items()
        if sorted(field.findall(zh)) != sorted(field.findall(en))
    }
    assert not wrong


def test_translate_fills_values_and_falls_back_to_chinese() -> None:
    assert i18n.translate("共 {n} 个网格", "en", n=3) == "3 cells in all"
    assert i18n.translate("共 {n} 个网格", "zh", n=3) == "共 3 个网格"
    assert i18n.translate("没有译文的文字", "en") == "没有译文的文字"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_login_page_in_each_language(client: FlaskClient, language: str) -> None:
    response = client.get(f"/login?lang={language}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{i18n.HTML_LANG[language]}">' in html
    shown = re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)
    assert ("Log in" in shown) == (language == "en")
    assert ("登录" in shown) == (language == "zh")


def test_language_is_remembered_in_a_cookie(client: FlaskClient) -> None:
    first = client.get("/login?lang=en")
    assert i18n.COOKIE + "=en" in first.headers.get("Set-Cookie", "")
    again = client.get("/login")
    assert '<html lang="en">' in again.get_data(as_text=True)
    back = client.get("/login?lang=zh")
    assert '<html lang="zh-CN">' in back.get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/login").get_data(as_text=True)


def test_unknown_language_is_chinese(client: FlaskClient) -> None:
    html = client.get("/login?lang=xx").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
