"""The street a map page shows, chosen by ``?street=`` within what the user may see.

Shared by the placement map (:mod:`gridgis.web.placement_pages`) and the case
density map (:mod:`gridgis.web.density_pages`): both offer a choice of street
offices, and a street office (role ``street``) is offered, and may ask for,
only its own.
"""

from __future__ import annotations

from flask import request
from sqlalchemy import Engine

from gridgis.db import tiles as db_tiles
from gridgis.errors import NotFoundError
from gridgis.web.auth import policy

__all__ = ["chosen_street", "street_choices"]


def street_choices(engine: Engine) -> list[dict[str, str]]:
    """The street offices the signed-in user may choose: ``code``, ``name`` and ``cells``
    (non-empty when it has cells), by code.

    A street office gets its own street only.
    """
    street = policy().street
    names = db_tiles.area_names(engine, street=street)
    drawn = db_tiles.streets_with_cells(engine, street=street)
    return [
        {"code": code, "name": names[code], "cells": "1" if code in drawn else ""}
        for code in sorted(names)
        if len(code) == 9
    ]


def chosen_street(choices: list[dict[str, str]], *, default_first: bool) -> str | None:
    """The street of ``?street=``: checked, kept within the user's scope.

    Parameters
    ----------
    choices:
        :func:`street_choices` of this request.
    default_first:
        With no ``street`` asked for, answer the first of ``choices`` that has cells
        (else the first; a page that needs one street) instead of ``None`` (every
        street).

    Raises
    ------
    InputError
        ``street`` is not a 9-digit code (400).
    NotFoundError
        No street office has that code (404).
    ForbiddenError
        A street office asked for another street (403).
    """
    asked = db_tiles.check_street(request.args.get("street", "").strip() or None)
    rules = policy()
    if rules.street is not None:
        return rules.street_filter(asked)
    if asked is None:
        if not default_first or not choices:
            return None
        # The first street with cells: streets known only by name (official divisions
        # loaded for a district not yet drawn) would open the page on an empty map.
        return next((c["code"] for c in choices if c["cells"]), choices[0]["code"])
    if asked not in {c["code"] for c in choices}:
        raise NotFoundError(
            f"`street` was {asked!r} but no street office has that code",
            zh=f"`street` 为 {asked!r}，但没有这个编码的街道",
        )
    return asked
