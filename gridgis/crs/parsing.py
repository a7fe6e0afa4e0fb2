"""Reading a ``crs`` argument: :func:`parse_crs` and the :class:`CRSSpec` it returns.

Every function of gridgis that takes a ``crs`` reads it here: ``wgs84``,
``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:nnnn``, an integer code or a
:class:`pyproj.CRS` (:data:`CRS_CHOICES`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pyproj

from gridgis.errors import CRSError

CRS_CHOICES = "wgs84 | cgcs2000 | gcj02 | bd09 | EPSG:nnnn"
"""The accepted forms of a ``crs`` argument, in one line."""

CRS_CHOICES_HELP = (
    f"{CRS_CHOICES}  "
    "(wgs84 = GPS, EPSG:4326; cgcs2000 = EPSG:4490, treated as wgs84; "
    "gcj02 = AMap/Gaode/Tencent; bd09 = Baidu; EPSG:nnnn = any CRS pyproj knows, "
    "e.g. EPSG:4547 for CGCS2000 Gauss-Krüger CM 114E)"
)
"""Help text for a ``--crs`` option listing every accepted form."""


@dataclass(frozen=True)
class CRSSpec:
    """A coordinate system as gridgis understands it.

    Attributes
    ----------
    name:
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``, or the pyproj
        name of the CRS (``"EPSG:4547"``), for messages.
    obfuscation:
        ``"gcj02"`` or ``"bd09"`` for the obfuscated Chinese systems, which
        PROJ does not know; ``None`` otherwise.
    crs:
        The :class:`pyproj.CRS` when ``obfuscation`` is ``None``; ``None`` for
        the obfuscated systems.

    Examples
    --------
    >>> parse_crs("GCJ02").is_obfuscated
    True
    >>> parse_crs("epsg:4547").crs.name
    'CGCS2000 / 3-degree Gauss-Kruger CM 114E'
    """

    name: str
    obfuscation: Literal["gcj02", "bd09"] | None = None
    crs: pyproj.CRS | None = None

    @property
    def is_obfuscated(self) -> bool:
        """Whether this is GCJ-02 or BD-09 (which PROJ cannot transform)."""
        return self.obfuscation is not None

    @property
    def is_wgs84(self) -> bool:
        """Whether coordinates in this system are WGS84 lon/lat for gridgis.

        True for EPSG:4326, OGC:CRS84 and CGCS2000 (EPSG:4490), which differ
        from WGS84 by centimetres.
        """
        return self.crs is not None and _is_wgs84_like(self.crs)

    def __str__(self) -> str:
        return self.name


CRSLike: TypeAlias = "str | int | pyproj.CRS | CRSSpec"
"""Anything :func:`parse_crs` accepts."""

_NAMED: dict[str, tuple[str, Literal["gcj02", "bd09"] | None, int | None]] = {
    "wgs84": ("wgs84", None, 4326),
    "wgs-84": ("wgs84", None, 4326),
    "cgcs2000": ("cgcs2000", None, 4490),
    "gcj02": ("gcj02", "gcj02", None),
    "gcj-02": ("gcj02", "gcj02", None),
    "bd09": ("bd09", "bd09", None),
    "bd-09": ("bd09", "bd09", None),
}


def _unknown_crs(value: object, reason: str) -> CRSError:
    return CRSError(
        f"`crs` was {value!r} but is expected to be one of wgs84, cgcs2000, gcj02, bd09 "
        f"or a CRS that pyproj understands such as 'EPSG:4547' or 32650 ({reason})"
    )


@functools.lru_cache(maxsize=256)
def _parse_text(text: str) -> CRSSpec:
    key = text.strip().lower()
    if key in _NAMED:
        name, obfuscation, epsg = _NAMED[key]
        crs = pyproj.CRS.from_epsg(epsg) if epsg is not None else None
        return CRSSpec(name=name, obfuscation=obfuscation, crs=crs)
    if not key:
        raise _unknown_crs(text, "it is empty")
    if key.isdigit():
        key = f"EPSG:{key}"
    try:
        crs = pyproj.CRS.from_user_input(key.upper() if key.startswith("epsg:") else text.strip())
    except pyproj.exceptions.CRSError as exc:
        raise _unknown_crs(text, f"pyproj: {exc}") from None
    return _from_pyproj(crs)


def _from_pyproj(crs: pyproj.CRS) -> CRSSpec:
    return CRSSpec(name=crs.to_string(), crs=crs)


def parse_crs(value: CRSLike) -> CRSSpec:
    """Read a ``crs`` argument in any accepted form.

    Parameters
    ----------
    value:
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"`` (any case, and
        ``"gcj-02"``/``"bd-09"``/``"wgs-84"``), an EPSG code as ``int`` or
        ``"EPSG:nnnn"`` / ``"epsg:nnnn"`` / ``"nnnn"``, any other string
        pyproj understands (WKT, PROJ string), a :class:`pyproj.CRS`, or an
        existing :class:`CRSSpec` (returned as is).

    Returns
    -------
    CRSSpec

    Raises
    ------
    CRSError
        When the value is none of these; the message names the value and
        the accepted forms.

    Examples
    --------
    >>> parse_crs("BD09")
    CRSSpec(name='bd09', obfuscation='bd09', crs=None)
    >>> parse_crs(4490).is_wgs84
    True
    >>> parse_crs("mars")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgis.errors.CRSError: `crs` was 'mars' but is expected to be one of wgs84, ...
    """
    if isinstance(value, CRSSpec):
        return value
    if isinstance(value, pyproj.CRS):
        return _from_pyproj(value)
    if isinstance(value, bool) or value is None:
        raise _unknown_crs(value, "no CRS given")
    if isinstance(value, int | np.integer):
        try:
            return _from_pyproj(pyproj.CRS.from_epsg(int(value)))
        except pyproj.exceptions.CRSError:
            raise _unknown_crs(value, f"EPSG:{value} does not exist") from None
    if isinstance(value, str):
        return _parse_text(value)
    raise _unknown_crs(value, f"a {type(value).__name__} is not a CRS")


@functools.lru_cache(maxsize=256)
def _is_wgs84_like(crs: pyproj.CRS) -> bool:
    if not crs.is_geographic or len(crs.axis_info) != 2:
        return False
    auth = crs.to_authority(min_confidence=70)
    return auth in {("EPSG", "4326"), ("EPSG", "4490"), ("OGC", "CRS84")}


def _same_crs(a: CRSSpec, b: CRSSpec) -> bool:
    if a.is_obfuscated or b.is_obfuscated:
        return a.obfuscation == b.obfuscation
    if a.is_wgs84 and b.is_wgs84:
        return True
    assert a.crs is not None and b.crs is not None
    return bool(a.crs.equals(b.crs, ignore_axis_order=True))


@functools.lru_cache(maxsize=128)
def _crs_from_epsg(code: int) -> pyproj.CRS:
    return pyproj.CRS.from_epsg(code)
