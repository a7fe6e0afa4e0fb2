"""Errors reach people in their language: every error a web user can meet has its Chinese.

The library's errors say what is wrong in English (scripts, logs, the command line)
and carry the same message in Chinese (:attr:`gridgis.errors.GridGISError.zh`). The
web app answers a page, or an API request made by a page (which sends the page's
language), in the page's language; a script that names no language gets English.

``SCOPE`` lists the modules and packages whose every ``raise`` of a gridgis error
with a message must write its Chinese too (``zh=``): everything a web user's
request can reach.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import gridgis
from gridgis import errors
from gridgis.errors import GridGISError, NotFoundError

ROOT = Path(gridgis.__file__).parent

SCOPE: tuple[str, ...] = (
    "access.py",
    "address",
    "analysis",
    "archive.py",
    "audit.py",
    "boundaries.py",
    "cases",
    "codes.py",
    "config.py",
    "crs",
    "db",
    "editing",
    "errors.py",
    "export",
    "geocode",
    "intake",
    "io.py",
    "jobs.py",
    "logins.py",
    "notices.py",
    "open311_keys.py",
    "paging.py",
    "partition",
    "party",
    "redraw.py",
    "registers",
    "schemas",
    "secret_key.py",
    "times.py",
    "user_links.py",
    "users.py",
    "web",
    "webhooks.py",
)
"""Paths (relative to the ``gridgis`` package) whose raises must carry ``zh=``."""


def _error_names() -> set[str]:
    """Names of every gridgis error class (subclasses of GridGISError, wherever defined)."""
    import gridgis.web  # noqa: F401  (imports the app's modules, and their error classes)

    names: set[str] = set()
    todo = [GridGISError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _files() -> Iterator[Path]:
    for entry in SCOPE:
        path = ROOT / entry
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if "migrations" not in p.parts)
        else:
            yield path


def _raised_name(node: ast.Raise) -> tuple[str, ast.Call] | None:
    call = node.exc
    if not isinstance(call, ast.Call):
        return None
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return (name, call) if name else None


def test_every_error_in_scope_has_its_chinese() -> None:
    names = _error_names()
    missing: list[str] = []
    for path in _files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise):
                continue
            raised = _raised_name(node)
            if raised is None or raised[0] not in names:
                continue
            name, call = raised
            if not call.args:  # no message of its own (a subclass writes both)
                continue
            if not any(k.arg == "zh" for k in call.keywords):
                missing.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {name}")
    assert not missing, f"{len(missing)} raises without zh=:\n" + "\n".join(missing)


def test_the_scope_names_real_files() -> None:
    assert all((ROOT / entry).exists() for entry in SCOPE), SCOPE


def test_an_error_keeps_english_and_chinese() -> None:
    error = NotFoundError("case 7 does not exist", zh="事件 7 不存在", field="id")
    assert str(error) == "case 7 does not exist"
    assert error.text("zh") == "事件 7 不存在"
    assert error.text("en") == "case 7 does not exist"
    assert NotFoundError("case 7 does not exist").text("zh") == "case 7 does not exist"
    assert "zh" in inspect.signature(errors.DuplicateCaseError).parameters


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    @app.route("/api/_test_error")
    def _api_error() -> str:
        raise NotFoundError("case 7 does not exist", zh="事件 7 不存在", field="id")

    @app.route("/_test_error")
    def _page_error() -> str:
        raise NotFoundError("case 7 does not exist", zh="事件 7 不存在")

    return app


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        ("/api/_test_error", {}, "case 7 does not exist"),
        ("/api/_test_error", {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "事件 7 不存在"),
        ("/api/_test_error", {"Accept-Language": "en-US,en;q=0.9"}, "case 7 does not exist"),
        ("/api/_test_error?lang=zh", {}, "事件 7 不存在"),
        ("/api/_test_error?lang=en", {"Accept-Language": "zh-CN"}, "case 7 does not exist"),
    ],
)
def test_the_api_answers_in_the_language_asked(
    failing_app: Flask, url: str, headers: dict[str, str], expected: str
) -> None:
    answer = failing_app.test_client().get(url, headers=headers)
    assert answer.status_code == 404
    assert answer.get_json()["error"] == {"code": "not_found", "message": expected, "field": "id"}


def test_a_page_answers_in_the_page_language(failing_app: Flask) -> None:
    client = failing_app.test_client()
    assert "事件 7 不存在" in client.get("/_test_error").get_data(as_text=True)
    assert "case 7 does not exist" in client.get("/_test_error?lang=en").get_data(as_text=True)
