"""Pydantic's validation errors in gridgis's words, in English and in Chinese.

:mod:`gridgis.web.endpoints` checks every request against its pydantic model; what
pydantic finds wrong is said again here naming the field, the value given and the
rule (``\\`limit\\` was 0 but is expected to be at least 1``), and the same in
Chinese (``\\`limit\\` 为 0，应不小于 1``), so that a 422 reaches a script in English
and a user of the Chinese pages in Chinese (:mod:`gridgis.web.errors`). A model's
``what`` names one of it in English (``case``), its ``what_zh`` in Chinese (``事件``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

import pydantic
from pydantic import BaseModel

from gridgis.errors import Problem, ValidationError, listing_zh

__all__ = ["field_names", "invalid", "shown", "translate"]

_EXPECTED: dict[str, tuple[str, str]] = {
    "int_parsing": ("an integer", "整数"),
    "int_type": ("an integer", "整数"),
    "int_from_float": ("an integer", "整数"),
    "float_parsing": ("a finite number", "有限的数"),
    "float_type": ("a finite number", "有限的数"),
    "finite_number": ("a finite number", "有限的数"),
    "bool_parsing": ("true or false", "true 或 false"),
    "bool_type": ("true or false", "true 或 false"),
    "string_type": ("a string", "文本"),
    "list_type": ("a list", "列表"),
    "dict_type": ("an object", "JSON 对象"),
    "model_type": ("an object", "JSON 对象"),
}
_BOUNDS: dict[str, tuple[str, str]] = {
    "greater_than_equal": ("at least", "不小于"),
    "greater_than": ("above", "大于"),
    "less_than_equal": ("at most", "不大于"),
    "less_than": ("below", "小于"),
}

Pair = tuple[str, str]
"""A message in English and in Chinese."""


def invalid(
    what: str, what_zh: str, problems: list[Pair], *, field: str | None = None
) -> ValidationError:
    """A 422 ``invalid {what}`` with ``problems`` given as (English, Chinese) pairs.

    Examples
    --------
    >>> error = invalid("body", "请求内容", [("`x` was 1", "`x` 为 1")], field="x")
    >>> str(error).splitlines()[0], error.zh.splitlines()[0]
    ('invalid body', '请求内容有误')
    """
    zh = f"{what_zh}有误\n" + listing_zh([p[1] for p in problems], sep="\n  - ")
    return ValidationError(
        f"invalid {what}", [Problem(None, None, p[0]) for p in problems], field=field, zh=zh
    )


def shown(value: Any) -> str:
    """A value as a message shows it: its ``repr``, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def field_names(model: type[BaseModel]) -> list[str]:
    """The fields of ``model`` as a request names them (their aliases)."""
    return [info.alias or name for name, info in model.model_fields.items()]


def _what(model: type[BaseModel]) -> Pair:
    """What one of ``model`` is called in messages (``case``/``事件`` for NewCase...)."""
    english = str(getattr(model, "what", model.__name__.lower()))
    return english, str(getattr(model, "what_zh", "请求内容"))


def _shown_input(value: Any, *, text: bool) -> str:
    """A value as the request had it: JSON's words for a body, the text for a query."""
    if value is None and not text:
        return "null"
    return shown(value)


def _as_number(text: str, model: type[BaseModel], name: str) -> str:
    """A number given as text, shown as the number its field reads it as (``95`` → 95.0)."""
    info = model.model_fields.get(name)
    kinds = set(get_args(info.annotation)) | {info.annotation} if info is not None else set()
    try:
        return repr(float(text)) if float in kinds else repr(int(text))
    except ValueError:
        return text


def _choices(annotation: Any) -> list[Any]:
    """The values of a ``Literal`` (possibly nested, or ``| None``)."""
    out: list[Any] = []
    for arg in get_args(annotation):
        if isinstance(arg, str):
            out.append(arg)
        elif arg is not type(None):
            out.extend(_choices(arg))
    return out


def _own_error(error: Mapping[str, Any]) -> Pair:
    """A validator's own error (``ValueError``, or a gridgis error carrying its ``zh``)."""
    ctx = error.get("ctx") or {}
    raised = ctx.get("error")
    english = str(raised if raised is not None else error["msg"]).removeprefix("Value error, ")
    return english, getattr(raised, "zh", None) or english


def _reason(error: Mapping[str, Any], model: type[BaseModel], *, text: bool, what: Pair) -> Pair:
    location = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value: Any = error.get("input")
    at = f"`{location}`"
    if kind == "missing":
        return f"`{what[0]}` needs {at}", f"{what[1]}缺少 {at}"
    if kind in ("datetime_parsing", "datetime_type"):
        given = _shown_input(value, text=text)
        low, high = ctx.get("low", 1900), ctx.get("high", 2999)
        return (
            f"{at} was {given} but is expected to be an ISO 8601 date-time with a UTC offset "
            f"(e.g. 2025-06-01T08:00:00+08:00) in the years {low}–{high}",
            f"{at} 为 {given}，应为带时区的 ISO 8601 日期时间"
            f"（例如 2025-06-01T08:00:00+08:00），年份在 {low}–{high} 之间",
        )
    if kind in ("value_error", "assertion_error"):
        return _own_error(error)
    if not location:
        expected = _EXPECTED.get(kind)
        if expected is not None:
            return f"the {what[0]} {error['msg']}", f"{what[1]}应为{expected[1]}"
        return f"the {what[0]} {error['msg']}", f"{what[1]}有误：{error['msg']}"
    given = _shown_input(value, text=text)
    if kind in _BOUNDS:
        if text and isinstance(value, str):
            given = _as_number(value, model, str(error["loc"][0]))
        bound = next(iter(ctx.values()))
        words = _BOUNDS[kind]
        return (
            f"{at} was {given} but is expected to be {words[0]} {bound}",
            f"{at} 为 {given}，应{words[1]} {bound}",
        )
    if kind == "string_unicode":
        return f"{at} was {given} but is not valid Unicode text", f"{at} 为 {given}，不是有效的文本"
    if kind == "string_too_long":
        most = ctx["max_length"]
        return (
            f"{at} has {len(value)} characters but is expected to have at most {most}",
            f"{at} 有 {len(value)} 个字符，最多应为 {most} 个",
        )
    if kind == "string_too_short":
        least = ctx.get("min_length")
        if least == 1:
            return (
                f"{at} was {given} but is expected to be non-empty",
                f"{at} 为 {given}，不能为空",
            )
        return (
            f"{at} has {len(value)} characters but is expected to have at least {least}",
            f"{at} 有 {len(value)} 个字符，至少应为 {least} 个",
        )
    info = model.model_fields.get(str(error["loc"][0]))
    if kind == "string_pattern_mismatch":
        note = f" ({info.description})" if info is not None and info.description else ""
        return (
            f"{at} was {given} but is expected to match {ctx['pattern']}{note}",
            f"{at} 为 {given}，应符合格式 {ctx['pattern']}",
        )
    if kind in ("literal_error", "enum"):
        choices = _choices(info.annotation) if info is not None else []
        return (
            f"{at} was {given} but is expected to be one of {choices}",
            f"{at} 为 {given}，应为以下之一：{choices}",
        )
    english, chinese = _EXPECTED.get(kind, (error["msg"], "有效的值"))
    return f"{at} was {given} but is expected to be {english}", f"{at} 为 {given}，应为{chinese}"


def translate(
    exc: pydantic.ValidationError, model: type[BaseModel], *, query: bool, text: bool = False
) -> ValidationError:
    """``exc`` as a :class:`ValidationError` whose problems name each field, value and rule,
    in English and (its ``zh``) in Chinese.

    Examples
    --------
    >>> from pydantic import BaseModel, Field
    >>> class Page(BaseModel, extra="forbid"):
    ...     limit: int = Field(ge=1)
    >>> try:
    ...     Page.model_validate({"limit": 0, "colour": "red"})
    ... except pydantic.ValidationError as exc:
    ...     error = translate(exc, Page, query=True)
    >>> print(str(error))
    invalid query parameters
    2 problems:
      - `query parameters` has unknown field(s) `colour`; allowed: `limit`
      - `limit` was 0 but is expected to be at least 1
    >>> print(error.zh)
    查询参数有误
    共 2 个问题：
      - 查询参数含有未知字段 `colour`；允许的字段：`limit`
      - `limit` 为 0，应不小于 1
    """
    what = ("query parameters", "查询参数") if query else _what(model)
    problems: list[Pair] = []
    fields: list[str] = []
    unknown: list[str] = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            unknown.append(location)
            continue
        fields.append(location)
        problems.append(_reason(error, model, text=query or text, what=what))
    if unknown:
        listed = ", ".join(f"`{shown(key)[1:-1]}`" for key in unknown[:10])
        allowed = ", ".join(f"`{key}`" for key in field_names(model))
        problems.insert(
            0,
            (
                f"`{what[0]}` has unknown field(s) {listed}; allowed: {allowed}",
                f"{what[1]}含有未知字段 {listed}；允许的字段：{allowed}",
            ),
        )
        fields.insert(0, unknown[0])
    return invalid(what[0], what[1], problems, field=fields[0] if fields and fields[0] else None)
