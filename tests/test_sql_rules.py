"""How gridgis talks to the database (issue 15, point 5), checked on the source itself.

- Queries are SQLAlchemy Core/ORM expressions (with GeoAlchemy2's functions). Raw SQL
  (``text()``, ``exec_driver_sql``, a DB-API cursor's ``execute``/``copy``, pandas'
  ``read_sql*`` and geopandas' ``read_postgis``) appears only in ``gridgis/db/``, where
  PostGIS needs it (vector tiles, bulk ``COPY``, clustering, window functions that read
  better as SQL).
- Every raw statement says why: a comment beginning ``# raw SQL:`` on one of the three
  lines above the call or above the module-level constant holding the statement.
- SQL text is not passed around outside ``gridgis/db/`` (no parameter ``sql: str``).
- No SQL is assembled from strings: the statement is one string literal (Python joins
  adjacent literals), a module-level name bound to one, or psycopg's
  ``sql.SQL(...).format(sql.Identifier(...))`` composition for identifiers.

Migrations (``gridgis/db/migrations``) hold DDL and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gridgis"
RAW_CALLS = {"text", "exec_driver_sql", "read_sql", "read_sql_query", "read_postgis"}
"""Functions and methods that take a statement as SQL text."""
CURSOR_CALLS = {"execute", "executemany", "copy"}
"""DB-API cursor methods that take SQL text (only when called on a name holding a cursor)."""
MARKER = "# raw SQL:"


def _sources() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.relative_to(PACKAGE).parts
    ]


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_cursor_call(call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in CURSOR_CALLS:
        return False
    owner = func.value
    return isinstance(owner, ast.Name) and "cursor" in owner.id.lower()


def _aliases(tree: ast.Module) -> set[str]:
    """Other names the module gives SQLAlchemy's ``text`` (``from sqlalchemy import text as t``)."""
    return {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
        if alias.name == "text" and alias.asname
    }


def _is_raw(func: ast.expr, texts: set[str]) -> bool:
    """A call of SQLAlchemy's ``text`` (by any name) or of a function taking SQL text.

    ``sa.text(...)``/``sqlalchemy.text(...)`` count; a method of another object that
    happens to be called ``text`` (``register.text(field)``) does not.
    """
    if isinstance(func, ast.Name):
        return func.id in texts or func.id in RAW_CALLS
    if isinstance(func, ast.Attribute):
        if func.attr == "text":
            return isinstance(func.value, ast.Name) and func.value.id in {"sa", "sqlalchemy"}
        return func.attr in RAW_CALLS
    return False


def _raw_calls(tree: ast.Module) -> list[ast.Call]:
    texts = {"text", *_aliases(tree)}
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if _is_raw(node.func, texts) or _is_cursor_call(node):
            calls.append(node)
    return calls


def _literal_constants(tree: ast.Module) -> dict[str, int]:
    """Module-level names bound to one string literal, with the line of their binding."""
    found = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if (isinstance(value, ast.Constant) and isinstance(value.value, str)) or (
            isinstance(value, ast.Call)
            and _name(value.func) == "text"
            and value.args
            and isinstance(value.args[0], ast.Constant)
        ):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.lineno
    return found


def _is_psycopg_composition(node: ast.expr) -> bool:
    """``sql.SQL("...")`` or ``sql.SQL("...").format(...)`` with a literal template."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "format":
            return _is_psycopg_composition(node.func.value)
        if node.func.attr == "SQL":
            return bool(node.args) and isinstance(node.args[0], ast.Constant)
    return False


def _statement_line(call: ast.Call, constants: dict[str, int]) -> tuple[int | None, str]:
    """The line where the statement is written (to look for the comment), or why it is not SQL
    written in one piece."""
    if not call.args:
        return call.lineno, ""
    statement = call.args[0]
    if isinstance(statement, ast.Constant) and isinstance(statement.value, str):
        return call.lineno, ""
    if isinstance(statement, ast.Name) and statement.id in constants:
        return constants[statement.id], ""
    if isinstance(statement, ast.Call) and _name(statement.func) == "text":
        return _statement_line(statement, constants)
    if _is_psycopg_composition(statement):
        return call.lineno, ""
    if isinstance(statement, ast.JoinedStr):
        return None, "an f-string"
    if isinstance(statement, ast.BinOp):
        return None, "strings joined with an operator"
    return None, f"not one literal ({ast.dump(statement)[:60]})"


def _has_marker(lines: list[str], line: int) -> bool:
    """A ``# raw SQL:`` comment on the line or on one of the three above it."""
    return any(MARKER in lines[i - 1] for i in range(max(1, line - 3), line + 1))


def _sql_params(tree: ast.Module) -> list[int]:
    """Lines of functions with a parameter ``sql`` typed ``str``: SQL passed around as text."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in (*node.args.args, *node.args.kwonlyargs):
                annotation = arg.annotation
                if arg.arg == "sql" and isinstance(annotation, ast.Name) and annotation.id == "str":
                    lines.append(node.lineno)
    return lines


def _violations() -> list[str]:
    found = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        lines = source.splitlines()
        constants = _literal_constants(tree)
        where = path.relative_to(PACKAGE.parent)
        in_store = path.relative_to(PACKAGE).parts[0] == "db"
        if not in_store:
            found.extend(
                f"{where}:{line}: takes SQL as text (parameter `sql`)" for line in _sql_params(tree)
            )
        for call in _raw_calls(tree):
            if not in_store:
                found.append(f"{where}:{call.lineno}: raw SQL outside gridgis/db/")
                continue
            line, why = _statement_line(call, constants)
            if line is None:
                found.append(f"{where}:{call.lineno}: SQL assembled from strings ({why})")
            elif not (_has_marker(lines, line) or _has_marker(lines, call.lineno)):
                found.append(f"{where}:{call.lineno}: raw SQL without a '{MARKER}' comment")
    return found


def test_raw_sql_only_in_the_store_written_whole_and_explained() -> None:
    violations = _violations()
    assert not violations, f"{len(violations)} places break the SQL rules:\n" + "\n".join(
        violations
    )
