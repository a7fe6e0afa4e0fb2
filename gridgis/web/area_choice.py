"""The street a map page shows, chosen by ``?street=`` within what the user may see.

Shared by the placement map (:mod:`gridgis.web.placement_pages`) and the case
density map (:mod:`gridgis.web.density_pages`): both offer a choice of street
offices, and a street office (role ``street``) is offered, and may ask for,
only its own.
"""

from __future__ import annotations

from flask import abort, request
from sqlalchemy import Engine

from gridgis.db import tiles as db_tiles
from gridgis.errors import NotFoundError
from gridgis.web.auth import current_user, scope

__all__ = ["chosen_street", "street_choices"]


def street_choices(engine: Engine) -> list[dict[str, str]]:
    """The street offices the signed-in user may choose: ``code`` and ``name``, by code.

    A street office gets its own street only.
    """
    names = db_tiles.area_names(engine, street=scope())
    return [{"code": code, "name": names[code]} for code in sorted(names) if len(code) == 9]


def chosen_street(choices: list[dict[str, str]], *, default_first: bool) -> str | None:
    """The street of ``?street=``: checked, kept within the user's scope.

    Parameters
    ----------
    choices:
        :func:`street_choices` of this request.
    default_first:
        With no ``street`` asked for, answer the first of ``choices`` (a page
        that needs one street) instead of ``None`` (every street).

    Raises
    ------
    InputError
        ``street`` is not a 9-digit code (400).
    NotFoundError
        No street office has that code (404).
    werkzeug.exceptions.Forbidden
        A street office asked for another street (403).
    """
    asked = db_tiles.check_street(request.args.get("street", "").strip() or None)
    own = scope()
    if own is not None:
        if asked is not None and asked != own:
            user = current_user()
            name = user.name if user is not None else ""
            abort(403, f"`street` was {asked!r} but user {name!r} may see only street {own}")
        return own
    if asked is None:
        return choices[0]["code"] if default_first and choices else None
    if asked not in {c["code"] for c in choices}:
        raise NotFoundError(f"`street` was {asked!r} but no street office has that code")
    return asked
