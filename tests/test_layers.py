"""The package is layered (README, "Architecture"): an import never runs up a floor, and
the library never imports Flask or click; and no module is over 800 lines (issue 15: one
concern per module, a longer one is split by concern before it grows).

Floors, lowest first: the foundation, pure geometry, the store, the services, and the
web app and command line on top. Imports inside ``if TYPE_CHECKING:`` are for type
checkers only and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gridgis"

FLOORS: dict[str, int] = {
    **dict.fromkeys(
        ("errors", "config", "crs", "io", "times", "codes", "paging", "access", "sheets",
         "archive", "data", "secret_key", "config_docs", "passwords"),
        0,
    ),
    **dict.fromkeys(("geocode", "boundaries", "partition"), 1),
    **dict.fromkeys(("db", "audit"), 2),
    **dict.fromkeys(
        ("cases", "intake", "address", "editing", "redraw", "users", "logins", "export",
         "analysis", "demo", "schemas", "registers", "open311_keys", "jobs", "notices",
         "webhooks", "party", "user_links"),
        3,
    ),
    **dict.fromkeys(("web", "cli"), 4),
}  # fmt: skip
"""The floor of each top-level module or package of gridgis."""

MAX_LINES = 800
"""The most lines a module of gridgis may have (the migrations excepted)."""


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if "migrations" in parts or parts == ("__init__",):
            continue
        found.append((parts[0], path))
    return found


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of the imports inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in the file, module-level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_only(tree)
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "gridgis":
                out.extend((node.lineno, f"gridgis.{alias.name}") for alias in node.names)
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def test_every_module_has_a_floor() -> None:
    missing = sorted({top for top, _ in _modules()} - set(FLOORS))
    assert not missing, f"modules with no floor in FLOORS: {missing}"


@pytest.mark.parametrize("top", sorted(FLOORS))
def test_no_import_runs_up_a_floor(top: str) -> None:
    wrong = []
    for module_top, path in _modules():
        if module_top != top:
            continue
        for line, name in _imports(path):
            parts = name.split(".")
            if parts[0] in ("flask", "click") and FLOORS[top] < 4:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}")
            if parts[0] != "gridgis" or len(parts) < 2 or parts[1] not in FLOORS:
                continue
            if FLOORS[parts[1]] > FLOORS[top]:
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line} (floor {FLOORS[top]}) imports "
                    f"{name} (floor {FLOORS[parts[1]]})"
                )
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_imports_at_every_level() -> None:
    """The checker itself: imports at module level, in functions and of ``from gridgis``."""
    web = dict((name, line) for line, name in _imports(PACKAGE / "web" / "api.py"))
    assert "flask" in web and "gridgis.web.endpoints" in web
    cli = {name for _, name in _imports(PACKAGE / "cli" / "users.py")}
    assert "gridgis.users" in cli  # imported inside a command's body
    access = {name for _, name in _imports(PACKAGE / "access.py")}
    assert "gridgis.users" not in access  # only for type checkers


def test_no_module_is_over_max_lines() -> None:
    """Every module of gridgis but the migrations, ``__init__.py`` files included."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[:2] == ("db", "migrations"):
            continue
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > MAX_LINES:
            long.append(f"{path.relative_to(PACKAGE.parent)}: {count} lines")
    assert not long, f"modules over {MAX_LINES} lines, to split by concern:\n" + "\n".join(long)
