"""Errors of the party pages, the layout editor, the exports and the files reach people in
their language (issue 18 point 10): an API request that asks for Chinese (as the app's
pages do, with ``Accept-Language``) gets the error's Chinese, a script gets the English,
and a page answers in its own language.

The messages' English is pinned by the tests of each module; here, that a realistic bad
request gets the same facts in Chinese, with no English left in it.
"""

from __future__ import annotations

import re

import pytest
from conftest import response_json, sign_in
from flask.testing import FlaskClient

from gridgis.web.error_words import error_text, problem_text

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
MISSING = 999_999_999
"""An id no row of the demo has (and the database's integer columns can hold)."""


@pytest.fixture(scope="module")
def admin(shared_client: FlaskClient) -> tuple[FlaskClient, str]:
    """An administrator's client on the module's demo copy, and its CSRF token."""
    return shared_client, sign_in(shared_client, role="admin", name="errors-f-admin")


FORMATS = {"shapefile", "geojson", "geopackage", "excel"}
"""Names of file formats, which the Chinese keeps too."""


def _english_words(text: str) -> list[str]:
    """The English words of ``text`` outside backticks and quotes (field names, values)
    that are no format's name."""
    plain = re.sub(r"`[^`]*`|'[^']*'", "", text)
    return [w for w in re.findall(r"[A-Za-z]{4,}", plain) if w.lower() not in FORMATS]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "english", "chinese"),
    [
        (
            "GET",
            f"/api/party/organisations/{MISSING}",
            None,
            404,
            f"organisation {MISSING} does not exist",
            f"党组织 {MISSING} 不存在",
        ),
        (
            "POST",
            f"/api/party/needs/{MISSING}/claim",
            {"unit": "某单位"},
            404,
            f"need {MISSING} does not exist",
            f"需求 {MISSING} 不存在",
        ),
        (
            "GET",
            f"/api/party/campaigns/{MISSING}/progress",
            None,
            404,
            f"campaign {MISSING} does not exist",
            f"走访活动 {MISSING} 不存在",
        ),
        (
            "GET",
            f"/api/drafts/{MISSING}/edit",
            None,
            404,
            f"draft {MISSING} does not exist: it was published or discarded already",
            f"草案 {MISSING} 不存在：已发布或已放弃",
        ),
        (
            "GET",
            "/api/export/cells.geojson?encoding=gbk",
            None,
            400,
            "`encoding` was 'gbk' but only shapefiles and CSV files can be written in GBK; "
            "geojson text is always UTF-8",
            "`encoding` 为 'gbk'，但只有 Shapefile 和 CSV 文件可以用 GBK 编码；"
            "geojson 文件的文字总是 UTF-8",
        ),
    ],
)
def test_the_api_tells_the_error_in_the_language_asked(
    admin: tuple[FlaskClient, str],
    method: str,
    url: str,
    body: dict[str, str] | None,
    status: int,
    english: str,
    chinese: str,
) -> None:
    client, token = admin
    headers = {"X-CSRF-Token": token}
    for extra, expected in (({}, english), (CHINESE, chinese)):
        answer = client.open(url, method=method, json=body, headers=headers | extra)
        message = response_json(answer, status)["error"]["message"]
        assert message == expected
    assert not _english_words(chinese)


def test_a_page_tells_a_missing_draft_in_its_language(admin: tuple[FlaskClient, str]) -> None:
    client, _ = admin
    url = f"/edit/350304001001/drafts/{MISSING}"
    chinese = client.get(url)
    assert chinese.status_code == 404
    assert f"草案 {MISSING} 不存在：已发布或已放弃" in chinese.get_data(as_text=True)
    english = client.get(url + "?lang=en").get_data(as_text=True)
    assert f"draft {MISSING} does not exist: it was published or discarded already" in english


def test_the_file_words_prefer_the_errors_own_chinese(admin: tuple[FlaskClient, str]) -> None:
    """:func:`error_text` and :func:`problem_text` show an error's Chinese on a Chinese page
    (and to an API request asking for it), and keep their English templates otherwise."""
    client = admin[0]
    english = "cells.zip is not a readable zip file: File is not a zip file"
    own = "cells.zip 不是可以打开的 zip 压缩文件，或文件已损坏"
    app = client.application
    with app.test_request_context("/import/"):  # a page: Chinese by default
        assert error_text(english, zh=own) == own
        assert error_text(english) == own  # the template, as before
        assert problem_text("a.gpkg holds no feature", zh="a.gpkg 中没有任何要素") == (
            "a.gpkg 中没有任何要素"
        )
    with app.test_request_context("/import/?lang=en"):
        assert error_text(english, zh=own) == (
            "cells.zip is not a zip file that can be opened, or it is damaged"
        )
    with app.test_request_context("/api/imports/0", headers=CHINESE):
        assert error_text("import 'x' does not exist", zh="导入任务 'x' 不存在") == (
            "导入任务 'x' 不存在"
        )
    with app.test_request_context("/api/imports/0"):  # a script: the English
        assert error_text("import 'x' does not exist", zh="导入任务 'x' 不存在") == (
            "import 'x' does not exist"
        )
