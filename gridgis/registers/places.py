"""Where the rows of a roster are and what they serve: points, communities, cells, buildings.

- :func:`locate_points`: a point per row from its coordinates (``x``/``y``
  columns in any CRS gridgis knows, or a vector file's geometry), else from its
  address matched to a building (:mod:`gridgis.address`); swapped lat/lon are
  swapped back and flagged.
- :func:`street_problems`: why a row of a street office's file lies outside its street.
- :class:`Areas`: the stored communities, active cells and buildings, to read
  codes, names and building ids or addresses of a file against them and to find
  the community of a point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, func, select

from gridgis.crs import CRSLike, check_lonlat, to_wgs84
from gridgis.db.models import Building, Community, GridCell
from gridgis.intake.checks import crs_label, source_crs
from gridgis.registers.running import Register

__all__ = ["Areas", "Points", "locate_points", "street_problems"]


@dataclass
class Points:
    """A WGS84 point per row (NaN where none), how it was found, and what to say about it.

    Attributes
    ----------
    lon, lat:
        WGS84 degrees; NaN for rows with no usable location.
    located_by:
        ``"coordinates"``, ``"address"`` or ``None``.
    flag:
        ``"swapped"`` (lat/lon given the other way round, swapped back) or ``None``.
    problem:
        Why a row has no point (``None`` where it has one or was given nothing).
    crs:
        The CRS of the coordinates, as a label (``wgs84``, ``gcj02``...).
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    located_by: NDArray[np.object_]
    flag: NDArray[np.object_]
    problem: list[str | None]
    crs: str | None = None

    @property
    def found(self) -> NDArray[np.bool_]:
        """Rows with a point."""
        return np.isfinite(self.lon) & np.isfinite(self.lat)

    def shapes(self) -> NDArray[np.object_]:
        """A shapely point per row (``None`` where none), as a report's ``shapes``."""
        out = np.full(len(self.lon), None, dtype=object)
        found = self.found
        out[found] = shapely.points(self.lon[found], self.lat[found])
        return out

    def wkt(self, i: int) -> str:
        """The point of row ``i`` as EWKT for the database."""
        return f"SRID=4326;POINT({self.lon[i]:.9f} {self.lat[i]:.9f})"


def _numbers(values: Sequence[str | None]) -> NDArray[np.float64]:
    return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _vector_xy(register: Register) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """x, y of a vector file's geometries: points as they are, others at a point on them."""
    geometry = register.table.geometry
    n = len(register)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if geometry is None:
        return x, y
    has = np.fromiter((g is not None and not g.is_empty for g in geometry), dtype=bool, count=n)
    if has.any():
        points = shapely.point_on_surface(geometry[has])
        x[has], y[has] = shapely.get_x(points), shapely.get_y(points)
    return x, y


def locate_points(
    conn: Connection,
    register: Register,
    *,
    crs: CRSLike | None,
    todo: NDArray[np.bool_],
) -> Points:
    """The point of each row in ``todo``: its coordinates, else its address.

    Coordinates are read from the ``x``/``y`` columns, else from a vector file's
    geometry, in ``crs`` (default the file's own, else WGS84). A point outside
    China that is inside it with lat and lon exchanged is swapped back and flagged
    ``swapped``; other coordinates outside China, or that are not numbers, are a
    problem, and the address (if any) is tried instead.
    """
    n = len(register)
    uses_file = register.columns.get("x") is None and register.table.geometry is not None
    attrs = {"crs": register.table.crs} if uses_file else {}
    spec = source_crs(attrs, crs, uses_file_crs=uses_file)
    if uses_file:
        x, y = _vector_xy(register)
        raw_x: list[str | None] = [None] * n
        raw_y: list[str | None] = [None] * n
    else:
        raw_x, raw_y = register.texts("x"), register.texts("y")
        x, y = _numbers(raw_x), _numbers(raw_y)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    located_by = np.full(n, None, dtype=object)
    flag = np.full(n, None, dtype=object)
    problem: list[str | None] = [None] * n
    numeric = np.isfinite(x) & np.isfinite(y) & todo
    for i in np.flatnonzero(todo & ~numeric & ~(pd.isna(raw_x) & pd.isna(raw_y))).tolist():
        problem[i] = f"coordinates ({raw_x[i]!r}, {raw_y[i]!r}) are not numbers"
    if numeric.any():
        positions = np.flatnonzero(numeric)
        lo, la = to_wgs84(x[positions], y[positions], spec)
        checked = check_lonlat(lo, la)
        swapped = checked == "swapped"
        if swapped.any():  # lat, lon given as lon, lat: read them the other way round
            lo[swapped], la[swapped] = to_wgs84(y[positions][swapped], x[positions][swapped], spec)
            flag[positions[swapped]] = "swapped"
        ok = (checked == "ok") | swapped
        lon[positions[ok]], lat[positions[ok]] = lo[ok], la[ok]
        located_by[positions[ok]] = "coordinates"
        for i, what in zip(positions[~ok].tolist(), checked[~ok].tolist(), strict=True):
            where = "outside China" if what == "outside_china" else "not valid lon/lat"
            problem[i] = f"coordinates ({x[i]:.10g}, {y[i]:.10g}) in {spec.name} are {where}"
    addresses = register.texts("address")
    need = np.flatnonzero(todo & pd.isna(located_by) & pd.notna(addresses))
    if need.size:
        from gridgis.address import load_address_book, match_addresses

        matches = match_addresses(load_address_book(conn), [addresses[i] for i in need])
        hit = matches["building_id"].notna().to_numpy()
        ids = matches["building_id"].to_numpy(dtype=np.int64, na_value=-1)
        points = building_points(conn, ids[hit].tolist())
        for i, ok, ident, reason in zip(
            need.tolist(), hit.tolist(), ids.tolist(), matches["reason"].tolist(), strict=True
        ):
            if ok and ident in points:
                lon[i], lat[i] = points[ident]
                located_by[i] = "address"
                problem[i] = None
            else:
                problem[i] = _join(problem[i], f"address {addresses[i]!r} not matched: {reason}")
    return Points(lon, lat, located_by, flag, problem, crs=crs_label(spec))


def _join(*parts: str | None) -> str | None:
    found = [p for p in parts if p]
    return "; ".join(found) if found else None


def building_points(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Building id -> (lon, lat) of its location, for the ``ids`` stored."""
    if not ids:
        return {}
    query = select(Building.id, func.ST_X(Building.location), func.ST_Y(Building.location)).where(
        Building.id.in_(list(set(ids)))
    )
    return {int(i): (float(x), float(y)) for i, x, y in conn.execute(query)}


@dataclass
class Areas:
    """The stored communities, active cells and buildings that a roster's rows refer to.

    Read once per import (:meth:`load`); codes, names and building ids are then
    looked up in memory, through dictionaries built once (a lookup per row does
    not scan the cells or communities).
    """

    communities: pd.DataFrame
    cells: pd.DataFrame
    buildings: dict[str, int] = field(default_factory=dict)
    _tree: shapely.STRtree | None = None
    _cell_by_code: dict[str, int] = field(init=False, repr=False)
    _community_by_cell: dict[int, str] = field(init=False, repr=False)
    _community_by_name: dict[str, str | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ids = [int(i) for i in self.cells["id"]]
        self._cell_by_code = dict(zip(self.cells["code"].astype(str), ids, strict=True))
        self._community_by_cell = dict(
            zip(ids, self.cells["community_code"].astype(str), strict=True)
        )
        # Full and short names; a name two communities share maps to None (ambiguous).
        by_name: dict[str, str | None] = {}
        codes = self.communities["code"].astype(str)
        names = self.communities["name"].astype(str)
        for code, name in zip(codes, names, strict=True):
            for key in {name, _stem(name)}:
                by_name[key] = code if by_name.get(key, code) == code else None
        for code in codes:
            by_name[code] = code
        self._community_by_name = by_name

    @classmethod
    def load(cls, conn: Connection, *, buildings: bool = False) -> Areas:
        """Read the communities (code, street, name, outline) and active cells (id, code,
        community), and with ``buildings`` the buildings' ids by external id."""
        communities = pd.DataFrame(
            conn.execute(
                select(
                    Community.code,
                    Community.street_code,
                    Community.name,
                    func.ST_AsBinary(Community.geom).label("wkb"),
                ).order_by(Community.code)
            ).all(),
            columns=["code", "street_code", "name", "wkb"],
        )
        cells = pd.DataFrame(
            conn.execute(
                select(GridCell.id, GridCell.code, GridCell.community_code)
                .where(GridCell.valid_to.is_(None))
                .order_by(GridCell.code)
            ).all(),
            columns=["id", "code", "community_code"],
        )
        known: dict[str, int] = {}
        if buildings:
            query = select(Building.external_id, Building.id).where(
                Building.external_id.is_not(None)
            )
            known = {str(e): int(i) for e, i in conn.execute(query)}
        return cls(communities, cells, known)

    def community_of(self, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray:
        """The code of the community each point lies in (``None`` outside every one)."""
        out = np.full(len(lon), None, dtype=object)
        finite = np.isfinite(lon) & np.isfinite(lat)
        if not finite.any() or self.communities.empty:
            return out
        if self._tree is None:
            wkb = [bytes(b) if b is not None else None for b in self.communities["wkb"]]
            self._tree = shapely.STRtree(shapely.from_wkb(wkb))
        positions = np.flatnonzero(finite)
        points = shapely.points(lon[positions], lat[positions])
        hits = self._tree.query(points, predicate="intersects")
        codes = self.communities["code"].to_numpy(dtype=object)
        # The first (smallest code) community of a point on a shared boundary.
        order = np.lexsort((hits[1], hits[0]))
        first = np.unique(hits[0][order], return_index=True)[1]
        out[positions[hits[0][order][first]]] = codes[hits[1][order][first]]
        return out

    def street_of(self, community: str | None) -> str | None:
        """The street code of a community code."""
        return None if community is None else community[:9]

    def cell_ids(self, codes: Sequence[str]) -> tuple[list[int], list[str]]:
        """The ids of the active cells with these codes, and the codes of no active cell."""
        known = self._cell_by_code
        found = [known[c] for c in codes if c in known]
        return found, [c for c in codes if c not in known]

    def cell_community(self, cell_id: int) -> str:
        """The community code of an active cell."""
        try:
            return self._community_by_cell[cell_id]
        except KeyError:
            raise KeyError(f"no active cell has the id {cell_id}") from None

    def community_code(self, value: str) -> str | None:
        """A community by code or by (unique) name, full or without 社区/村/居委会."""
        by_name = self._community_by_name
        return by_name.get(value) or by_name.get(_stem(value))


_SUFFIX = re.compile(r"(社区居委会|居委会|社区|村委会|村)$")


def _stem(name: str) -> str:
    """A community name without 社区/村/居委会 at its end."""
    return _SUFFIX.sub("", name)


def street_problems(
    street: str,
    what: str,
    *,
    community: str | None = None,
    located: bool = True,
    served: Iterable[tuple[str, str | None]] = (),
    stored_area: str | None = None,
) -> list[str]:
    """Why a row of a street office's file reaches outside its street (empty: it does not).

    Parameters
    ----------
    street:
        The street office's 9-digit code.
    what:
        What a row is (``facility``, ``organisation``, ``worker``), for the wording.
    community:
        The community the row lies in (with ``located``: ``None`` is outside every one).
    located:
        Whether the row has a place of its own (a worker has none: only what it serves).
    served:
        ``(label, community code)`` of each thing the row serves (``cell 3501-01``...).
    stored_area:
        The community or street code stored for the row's id, when it is stored
        (``""`` for one stored with neither).

    Examples
    --------
    >>> street_problems("350304001", "facility", community="350304002003")
    ['the facility lies in community 350304002003, outside street 350304001']
    >>> street_problems("350304001", "worker", located=False,
    ...                 served=[("cell A-1", "350304001002")])
    []
    """
    out: list[str] = []
    if stored_area is not None and not stored_area.startswith(street):
        where = stored_area or "no community"
        out.append(f"the id is stored for a {what} of {where}, outside street {street}")
    if located and community is None:
        out.append(f"the {what} lies in no community of street {street}")
    elif located and not str(community).startswith(street):
        out.append(f"the {what} lies in community {community}, outside street {street}")
    for label, code in served:
        if code is None or not code.startswith(street):
            # "cell X is in community C, ..."; a community served is named once.
            within = " is" if label.endswith(str(code)) else f" is in community {code},"
            out.append(f"{label}{within} outside street {street}")
    return out
