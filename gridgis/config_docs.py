"""The settings as people read them: ``gridgis config``'s listing and the README's table.

:func:`describe` gives every setting with its effective value (secrets masked) and
where it came from; :func:`markdown_table` the README's table of every setting
(``scripts/config_table.py`` writes it; a test fails when the README's copy differs);
:func:`unknown_variables` the ``GRIDGIS_*`` variables that are no setting.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from gridgis.config import (
    ENV_PREFIX,
    MASK,
    TEST_PREFIX,
    Settings,
    allowed_text,
    env_var,
    field_extra,
    mask_url,
    settings,
)

__all__ = ["Setting", "describe", "markdown_table", "unknown_variables"]


@dataclass(frozen=True)
class Setting:
    """One setting as ``gridgis config`` shows it.

    Attributes
    ----------
    name:
        The field of :class:`Settings`.
    variable:
        Its environment variable.
    value:
        The effective value, secrets masked; ``None`` when unset.
    source:
        ``"environment"`` or ``"default"``.
    description:
        What it is for.
    """

    name: str
    variable: str
    value: str | int | float | bool | None
    source: Literal["environment", "default"]
    description: str


def describe(current: Settings | None = None) -> list[Setting]:
    """Return every setting with its effective value (secrets masked) and where it came from.

    Parameters
    ----------
    current:
        The settings to show; default :func:`settings`, read now.

    Examples
    --------
    >>> [s.value for s in describe(Settings(secret_key="s3cret")) if s.name == "secret_key"]
    ['***']
    """
    current = current if current is not None else settings()
    shown: list[Setting] = []
    for name, field in Settings.model_fields.items():
        source: Literal["environment", "default"] = (
            "environment" if name in current.model_fields_set else "default"
        )
        shown.append(
            Setting(
                name=name,
                variable=env_var(name),
                value=_shown(name, getattr(current, name)),
                source=source,
                description=field.description or "",
            )
        )
    return shown


def _shown(name: str, value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, SecretStr):
        return mask_url(value.get_secret_value()) if name == "database_url" else MASK
    return str(value)


def unknown_variables() -> list[str]:
    """Return the ``GRIDGIS_*`` variables set that are no setting (a typo?), sorted.

    The test suite's own ``GRIDGIS_TEST_*`` variables are not listed.
    """
    known = {env_var(name) for name in Settings.model_fields}
    return sorted(
        name
        for name in os.environ
        if name.startswith(ENV_PREFIX) and name not in known and not name.startswith(TEST_PREFIX)
    )


def markdown_table() -> str:
    """Return the README's table of every setting: variable, allowed values, default, meaning.

    ``scripts/config_table.py`` writes it into the README; a test fails when
    the README's copy differs.

    Examples
    --------
    >>> markdown_table().splitlines()[0]
    '| variable | allowed | default | meaning |'
    """
    rows = ["| variable | allowed | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field_extra(field).get("default_text")
        if default is None:
            default = _default_text(field.get_default(call_default_factory=False))
        cells = [f"`{env_var(name)}`", allowed_text(field), default, field.description or ""]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def _default_text(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`on`" if value else "`off`"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return f"`{value}`" if isinstance(value, str) else str(value)
