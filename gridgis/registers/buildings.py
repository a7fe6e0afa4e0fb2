"""Importing a district's buildings (楼栋) from its own file, with a report on every row.

Footprints or points from a shapefile (zipped or not), GeoPackage, GeoJSON, or
CSV/Excel rows with coordinates (or a ``wkt`` column), in any CRS gridgis knows;
headers in Chinese or English (:mod:`gridgis.registers.columns`). A row without
coordinates keeps the footprint and point of its stored building (same id), or
is placed by its address among the stored buildings and flagged ``geocoded``
(:mod:`gridgis.registers.addresses`: at the building of the same address, or
the middle of its house number's buildings), or is rejected with the reason and
the best candidates. Each building is put in the
community holding most of its footprint (a point: the community containing it);
one with at least :data:`~gridgis.registers.placing.STRADDLE_SHARE` of its
footprint in a second community is flagged ``straddles`` and keeps that
community's code in ``other_community_code``. A self-intersecting footprint is
repaired and flagged ``repaired`` (refused when nothing is left of it);
coordinates given as (lat, lon) are exchanged and flagged ``swapped``.

The import upserts on the file's id (``building.external_id``): a new id is
``imported``, a stored one whose values differ is ``updated`` (the report says
which fields changed), the same values are ``unchanged``: importing a file
twice changes nothing the second time. A field the file does not have, or leaves
blank, keeps its stored value. Stored cells are not touched: a building keeps
the cell its point lies in until the next ``gridgis cells draw`` or ``adjust``
recounts them.

With ``estimate_households`` the rows without a household count get an
estimate, :func:`estimate_households`, and ``households_estimated`` is set so
that a real count (``gridgis import households``) replaces it later; a real
count stored earlier is never replaced by an estimate.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> report = import_buildings(get_engine(), "楼栋.shp", estimate_households=True,
...                           actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 1450, 'imported': 1431, 'updated': 0, 'unchanged': 0, 'flagged': 19, 'rejected': 0}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import shapely
from geoalchemy2.shape import from_shape
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, Table, Text, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.codes import check_code
from gridgis.config import settings
from gridgis.crs import CRSLike, CRSSpec
from gridgis.db.models import Building, Community
from gridgis.db.queries import plain_value, result_frame
from gridgis.errors import InputError
from gridgis.intake.checks import crs_label, source_crs
from gridgis.intake.loading import say
from gridgis.intake.readers import SourceTable, read_table
from gridgis.registers.addresses import place_by_address
from gridgis.registers.columns import ALIASES, Columns, match_columns
from gridgis.registers.loading import changed_fields, run_import
from gridgis.registers.placing import (
    Shapes,
    footprint_areas,
    place_in_communities,
    prepare_shapes,
)
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.values import file_ids, numbers, texts, yes_no

__all__ = ["BUILDING_FIELDS", "estimate_households", "import_buildings"]

BUILDING_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "address",
    "compound",
    "households",
    "residents",
    "floors",
    "height",
    "x",
    "y",
    "wkt",
    "estimated",
    "flags",
)
"""The fields a buildings file may have (only ``id`` is needed, and a place).

``wkt`` is the geometry of a CSV/Excel row as WKT (a footprint or a point; where it
is blank, ``x``/``y`` are read); ``estimated`` says that a row's households are an
estimate (yes/no, true/false, 是/否); ``flags`` carries the ``repaired`` and
``swapped`` of an earlier import. ``gridgis export buildings`` writes all three, so
that its files are read back as they were exported."""

_ALIASES: dict[str, tuple[str, ...]] = ALIASES | {
    "wkt": ("wkt", "geometry", "geom", "footprint", "几何", "轮廓"),
    "estimated": ("estimated", "households_estimated", "户数估算", "估算"),
    "flags": ("flags", "标记", "导入标记"),
}

_UNPLACED = ["no coordinates", "the feature has no geometry"]
"""Why a row has no geometry when it is placed at its stored building or by its address."""

_CARRIED_FLAGS = ("repaired", "swapped")
"""Flags a file may carry from an earlier import (its geometry is the repaired or
exchanged one, so they cannot be found again); ``straddles`` is always found anew."""

_COMPARED = [
    "community_code",
    "other_community_code",
    "name",
    "address",
    "compound",
    "households",
    "households_estimated",
    "residents",
    "floors",
    "height",
    "flags",
]
"""The stored values an import compares, besides the footprint and the location."""


def estimate_households(
    area_m2: NDArray[np.float64] | float,
    floors: NDArray[np.float64] | float,
    *,
    residential_share: float | None = None,
    dwelling_m2: float | None = None,
) -> NDArray[np.int64]:
    """Households of buildings from their footprint and floors.

    households = footprint (m²) × floors × residential share ÷ dwelling size (m²),
    rounded; the share and size default to the settings ``GRIDGIS_RESIDENTIAL_SHARE``
    (0.8) and ``GRIDGIS_DWELLING_M2`` (90 m²).

    Examples
    --------
    >>> estimate_households(np.array([600.0, 40.0]), np.array([6, 1])).tolist()
    [32, 0]
    >>> estimate_households(600.0, 18, residential_share=0.75, dwelling_m2=100).tolist()
    [81]
    """
    current = settings()
    share = current.residential_share if residential_share is None else residential_share
    size = current.dwelling_m2 if dwelling_m2 is None else dwelling_m2
    area = np.atleast_1d(np.asarray(area_m2, dtype=np.float64))
    storeys = np.atleast_1d(np.asarray(floors, dtype=np.float64))
    return np.rint(area * storeys * share / size).astype(np.int64)


def _floors_for_estimate(floors: NDArray[np.float64], height: NDArray[np.float64]) -> NDArray:
    """Floors given, else height ÷ storey height (at least 1), else the default floors."""
    current = settings()
    from_height = np.maximum(np.rint(height / current.storey_height), 1.0)
    return np.where(
        np.isfinite(floors),
        floors,
        np.where(np.isfinite(height), from_height, float(current.default_floors)),
    )


def _read(
    path: str | Path,
    given: dict[str, str | None],
    encoding: str | None,
    sheet: str | None,
    layer: str | None,
) -> tuple[SourceTable, Columns]:
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    columns = match_columns(
        table.field_names,
        BUILDING_FIELDS,
        given=given,
        required=("id",),
        aliases=_ALIASES,
        source=table.path.name,
    )
    if (columns["x"] is None) != (columns["y"] is None):
        have, lack = ("y", "x") if columns["x"] is None else ("x", "y")
        raise InputError(
            f"{table.path.name} has a column for {have} ({columns[have]!r}) but none for "
            f"{lack}: name it with --{lack}-field; its columns are: {', '.join(table.field_names)}",
            zh=f"{table.path.name} 有 {have} 列（{columns[have]!r}），但没有 {lack} 列："
            f"请指定 {lack} 对应的列；现有的列：{', '.join(table.field_names)}",
        )
    return table, columns


def _column(table: SourceTable, columns: Columns, field: str) -> pd.Series:
    name = columns[field]
    if name is None:
        return pd.Series([None] * len(table.fields), dtype=object)
    return table.fields[name].astype(object).reset_index(drop=True)


def _geometries(table: SourceTable, columns: Columns) -> tuple[NDArray[np.object_], list]:
    """The geometry of each row as given (file CRS) and, per row, why it has none.

    A vector file's geometries, unless it has ``x``/``y`` columns; a ``wkt`` column's
    geometry where given, else ``x``/``y``.
    """
    n = len(table.fields)
    reasons: list[str | None] = [None] * n
    geoms = np.full(n, None, dtype=object)
    if columns["x"] is not None:
        x, x_why = numbers(_column(table, columns, "x"), "x", minimum=-np.inf)
        y, y_why = numbers(_column(table, columns, "y"), "y", minimum=-np.inf)
        ok = np.isfinite(x) & np.isfinite(y)
        geoms[ok] = shapely.points(x[ok], y[ok])
        for i in np.flatnonzero(~ok):
            reasons[i] = "; ".join(r for r in (x_why[i], y_why[i]) if r) or "no coordinates"
    elif columns["wkt"] is None and table.geometry is not None:
        geoms = np.asarray(table.geometry, dtype=object).copy()
        for i in np.flatnonzero(shapely.is_missing(geoms)):
            reasons[i] = table.invalid_geometry.get(int(i), "the feature has no geometry")
        return geoms, reasons
    else:
        reasons = ["no coordinates"] * n
    if columns["wkt"] is not None:
        text = texts(_column(table, columns, "wkt")).to_numpy(dtype=object)
        given = pd.notna(text)
        parsed = np.asarray(shapely.from_wkt(text, on_invalid="ignore"), dtype=object)
        geoms[given] = parsed[given]
        for i in np.flatnonzero(given):
            if parsed[i] is None:
                shown = text[i] if len(text[i]) <= 40 else text[i][:40] + "…"
                reasons[i] = f"wkt {shown!r} is not a geometry in WKT"
            else:
                reasons[i] = None
    return geoms, reasons


@dataclass
class _Located:
    """The rows placed by their address: which are flagged, why, and the candidates of
    those that could not be placed."""

    flagged: NDArray[np.bool_]
    notes: dict[int, str]
    candidates: NDArray[np.object_]


def _by_address(
    conn: Connection,
    rows: NDArray[np.bool_],
    ids: pd.Series,
    addresses: pd.Series,
    shapes: Shapes,
    problems: list[list[str]],
    progress: Callable[[str], None] | None,
) -> _Located:
    """Place ``rows`` (no coordinates) at their stored building or by their address."""
    n = len(rows)
    located = _Located(np.zeros(n, dtype=bool), {}, np.full(n, None, dtype=object))
    positions = np.flatnonzero(rows)
    if positions.size == 0:
        return located
    say(progress, f"placing {positions.size} buildings without coordinates")
    places = place_by_address(
        conn, addresses.iloc[positions].tolist(), ids.iloc[positions].tolist()
    )
    for j, i in enumerate(positions.tolist()):  # each row's place, or why it has none
        refused, note = places.reason[j], places.note[j]
        if refused is not None:
            problems[i].append(refused)
            located.candidates[i] = places.candidates[j]
            continue
        shapes.location[i] = places.location[j]
        shapes.footprint[i] = places.footprint[j]
        if note is not None:
            located.flagged[i] = True
            located.notes[i] = note
    return located


def _communities(conn: Connection) -> pd.DataFrame:
    table = Community.__table__
    query = select(table.c.code, func.ST_AsBinary(table.c.geom).label("wkb")).where(
        table.c.geom.is_not(None)
    )
    frame = result_frame(conn.execute(query), columns=["code", "wkb"])
    frame["geom"] = shapely.from_wkb(frame["wkb"].to_numpy(dtype=object))
    return frame.drop(columns="wkb")


def _stored(conn: Connection, ids: list[str]) -> pd.DataFrame:
    """The stored buildings with these external ids, one row each, indexed by external id."""
    table = cast(Table, Building.__table__)
    names = ["id", "external_id", *_COMPARED]
    query = select(
        *(table.c[n] for n in names),
        func.ST_AsBinary(table.c.footprint).label("footprint"),
        func.ST_AsBinary(table.c.location).label("location"),
    ).where(
        table.c.external_id == any_(bindparam("ids", ids, type_=ARRAY(Text)))
    )  # one array: any number of ids
    frame = result_frame(conn.execute(query), columns=[*names, "footprint", "location"])
    for column in ("footprint", "location"):
        frame[column] = shapely.from_wkb(frame[column].to_numpy(dtype=object))
    frame["flags"] = [";".join(f) if f else None for f in frame["flags"]]
    return frame.set_index("external_id", drop=False)


def _shown(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(none)"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def import_buildings(
    engine: Engine | Connection,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    address_field: str | None = None,
    compound_field: str | None = None,
    households_field: str | None = None,
    residents_field: str | None = None,
    floors_field: str | None = None,
    height_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    estimate: bool = False,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import the buildings of a file, in one transaction, with a report on every row.

    Parameters
    ----------
    engine:
        The database; the communities' boundaries must be in it. Or a connection in
        a transaction of the caller's (the demo's load): the import then runs in a
        savepoint of it, and the caller commits.
    path:
        Shapefile (zipped or not), GeoPackage, GeoJSON (footprints or points),
        CSV or ``.xlsx`` with coordinates, WKT or addresses (see the module notes).
    crs:
        The system of the coordinates (``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, ``EPSG:nnnn``); default the file's own, else ``wgs84``.
    id_field, name_field, address_field, compound_field, households_field, \
residents_field, floors_field, height_field, x_field, y_field:
        The columns of these fields; default found by their Chinese or English
        headers (:data:`~gridgis.registers.columns.ALIASES`). Only the id is needed.
    encoding, sheet, layer:
        See :func:`gridgis.intake.read_table`.
    estimate:
        Estimate the households of rows without a count (``--estimate-households``).
    street:
        A street office's 9-digit code: rows placed in a community of another
        street, and ids stored for a building of another street, are rejected.
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (``cli:<login>``, a user's name): one audit row sums the import up.

    Returns
    -------
    RegisterReport
        Extra columns ``community_code``, ``other_community_code``, ``households``,
        and ``candidates`` (of the rows that could not be placed by address) when
        some rows had no coordinates.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError
        The file cannot be read, a named column is not in it, it has no id
        column; nothing is imported.
    ConflictError, DatabaseError
        The database refused the rows; nothing is imported.
    """
    if street is not None:
        check_code(street, "street")
    say(progress, f"reading {path}")
    given = {
        "id": id_field,
        "name": name_field,
        "address": address_field,
        "compound": compound_field,
        "households": households_field,
        "residents": residents_field,
        "floors": floors_field,
        "height": height_field,
        "x": x_field,
        "y": y_field,
    }
    table, columns = _read(path, given, encoding, sheet, layer)
    spec = source_crs(
        {"crs": table.crs.to_string() if table.crs is not None else None},
        crs,
        uses_file_crs=columns["x"] is None and columns["wkt"] is None,
    )
    report_file = table.path

    def body(conn: Connection) -> RegisterReport:
        return _import(
            conn, table, columns, spec, estimate=estimate, street=street, progress=progress
        )

    return run_import(engine, "buildings", report_file, body, dry_run=dry_run, actor=actor)


def _import(
    conn: Connection,
    table: SourceTable,
    columns: Columns,
    spec: CRSSpec,
    *,
    estimate: bool,
    street: str | None = None,
    progress: Callable[[str], None] | None,
) -> RegisterReport:
    n = len(table.fields)
    ids = texts(_column(table, columns, "id"))
    outcomes = RowOutcomes(table.row, ids)
    problems: list[list[str]] = [[] for _ in range(n)]

    def collect(reasons: list[str | None]) -> None:
        for i, reason in enumerate(reasons):
            if reason:
                problems[i].append(reason)

    collect(file_ids(ids, table.row, table.numbering))
    households, why = numbers(_column(table, columns, "households"), "households", whole=True)
    collect(why)
    residents, why = numbers(_column(table, columns, "residents"), "residents", whole=True)
    collect(why)
    floors, why = numbers(_column(table, columns, "floors"), "floors", whole=True, minimum=1)
    collect(why)
    height, why = numbers(_column(table, columns, "height"), "height", minimum=0)
    collect(why)
    marked_estimate, why = yes_no(_column(table, columns, "estimated"), "estimated")
    collect(why)
    carried: list[set[str]] = [
        set(v.replace(",", ";").replace(" ", ";").split(";")) & set(_CARRIED_FLAGS) if v else set()
        for v in texts(_column(table, columns, "flags"))
    ]
    zero_height = height == 0  # OpenStreetMap and many registers write 0 for "not measured"
    height[zero_height] = np.nan
    outcomes.note(zero_height, "height 0 taken as not given")
    say(progress, f"checking the geometries of {n} rows")
    raw, why = _geometries(table, columns)
    text_values = {f: texts(_column(table, columns, f)) for f in ("name", "address", "compound")}
    by_address = np.isin(np.asarray(why, dtype=object), _UNPLACED)
    collect([None if b else w for w, b in zip(why, by_address, strict=True)])
    shapes = prepare_shapes(raw, spec)
    collect(shapes.reason)
    located = _by_address(conn, by_address, ids, text_values["address"], shapes, problems, progress)
    communities = _communities(conn)
    say(progress, f"placing {n} buildings in {len(communities)} communities")
    place = place_in_communities(
        np.where(pd.isna(shapes.footprint), shapes.location, shapes.footprint), communities
    )
    community = place["community_code"].to_numpy(dtype=object)
    other = place["other_community_code"].to_numpy(dtype=object)
    placed_somewhere = pd.notna(shapes.location)
    for i in np.flatnonzero(placed_somewhere & pd.isna(community)):
        point = shapes.location[i]
        what = "footprint" if shapes.footprint[i] is not None else "point"
        problems[i].append(
            f"the {what} (at {point.x:.6f}, {point.y:.6f}) is outside every community "
            "(import the community boundaries first)"
        )
    if street is not None:
        for i in np.flatnonzero(pd.notna(community)):  # the few rows of other streets, worded
            if not str(community[i]).startswith(street):
                problems[i].append(
                    f"the building lies in community {community[i]}, outside street {street}"
                )
    for field, values in text_values.items():
        for i in np.flatnonzero(values.map(lambda v: isinstance(v, str) and "\x00" in v)):
            problems[i].append(f"{field} {values.iat[int(i)]!r} contains a NUL character (U+0000)")
    rejected = np.array([bool(p) for p in problems], dtype=bool)
    outcomes.reject(rejected, ["; ".join(p) for p, r in zip(problems, rejected, strict=True) if r])
    ok = ~rejected
    say(progress, "comparing with the stored buildings")
    stored = _stored(conn, ids[ok].tolist())
    if street is not None:
        elsewhere = ~stored["community_code"].fillna("").str.startswith(street)
        taken = ok & ids.isin(stored.index[elsewhere]).to_numpy()
        owners = stored["community_code"].reindex(ids[taken]).tolist()
        outcomes.reject(
            taken,
            [
                f"id {i!r} is a building of community {c}, outside street {street}"
                for i, c in zip(ids[taken], owners, strict=True)
            ],
        )
        ok = ok & ~taken
    # A straddling building's point is put in the part of its own community.
    straddles = ok & pd.notna(other)
    if straddles.any():
        lookup = communities.set_index("code")["geom"]
        own = lookup.reindex(community[straddles]).to_numpy(dtype=object)
        part = shapely.intersection(shapes.footprint[straddles], own)
        shapes.location[straddles] = shapely.point_on_surface(part)
    areas = footprint_areas(_only(ok, shapes.footprint))
    estimated = ok & marked_estimate & np.isfinite(households)  # an estimate exported earlier
    if estimate:
        wanted = ok & ~np.isfinite(households) & np.isfinite(areas)
        storeys = _floors_for_estimate(floors, height)
        households[wanted] = estimate_households(areas[wanted], storeys[wanted])
        estimated[wanted] = True
        no_area = ok & ~np.isfinite(households) & ~np.isfinite(areas)
        outcomes.note(no_area, "households not estimated: a point has no footprint to measure")
    flags = [
        ";".join(
            f
            for f, on in (
                ("straddles", straddles[i]),
                ("repaired", (shapes.repaired[i] or "repaired" in carried[i]) and ok[i]),
                ("swapped", (shapes.swapped[i] or "swapped" in carried[i]) and ok[i]),
            )
            if on
        )
        or None
        for i in range(n)
    ]
    new = pd.DataFrame(
        {
            "external_id": ids.to_numpy(dtype=object),
            "community_code": community,
            "other_community_code": _only(straddles, other),
            "name": text_values["name"].to_numpy(dtype=object),
            "address": text_values["address"].to_numpy(dtype=object),
            "compound": text_values["compound"].to_numpy(dtype=object),
            "households": households,
            "households_estimated": estimated,
            "residents": residents,
            "floors": floors,
            "height": height,
            "flags": np.asarray(flags, dtype=object),
            "footprint": shapes.footprint,
            "location": shapes.location,
        }
    )
    _word_flags(outcomes, new, ok, communities)
    exists = ok & new["external_id"].isin(stored.index).to_numpy()
    fresh = ok & ~exists
    has_flag = pd.notna(new["flags"]).to_numpy() | located.flagged
    outcomes.set(fresh & has_flag, "flagged")
    outcomes.set(fresh & ~has_flag, "imported")
    updates = _compare(new, stored, exists, outcomes, columns, has_flag)
    if fresh.any():
        say(progress, f"storing {int(fresh.sum())} new buildings")
        _insert(conn, new[fresh])
    if not updates.empty:
        say(progress, f"updating {len(updates)} buildings")
        _update(conn, updates)
    outcomes.add_column("community_code", community)
    outcomes.add_column("other_community_code", new["other_community_code"].to_numpy())
    shown = np.where(np.isfinite(households) & ok, households, np.nan)
    outcomes.add_column("households", [None if np.isnan(h) else int(h) for h in shown])
    for i in np.flatnonzero(estimated):
        outcomes.flags[i].append("estimated")
    for row, note in located.notes.items():
        if ok[row]:
            outcomes.flag([row], "geocoded", note)
    if by_address.any():
        outcomes.add_column("candidates", located.candidates)
    notes = []
    if columns.unused:
        notes.append("columns not read: " + ", ".join(columns.unused))
    if estimate and estimated.any():
        current = settings()
        notes.append(
            f"households estimated for {int(estimated.sum())} buildings: footprint × floors "
            f"(else height ÷ {current.storey_height:g} m, else {current.default_floors}) × "
            f"{current.residential_share:g} ÷ {current.dwelling_m2:g} m²"
        )
    return RegisterReport(
        "buildings",
        table.path,
        outcomes.frame(),
        numbering=table.numbering,
        encoding=table.encoding,
        crs=crs_label(spec),
        notes=notes,
        shapes=np.where(pd.isna(shapes.footprint), shapes.location, shapes.footprint),
    )


def _word_flags(
    outcomes: RowOutcomes, new: pd.DataFrame, ok: NDArray[np.bool_], communities: pd.DataFrame
) -> None:
    """The reason of each flag, on the rows that carry it."""
    flags = new["flags"].fillna("").to_numpy(dtype=object)
    straddles = ok & (np.char.find(flags.astype(str), "straddles") >= 0)
    for i in np.flatnonzero(straddles):
        outcomes.flag(
            [i],
            "straddles",
            f"straddles communities {new['community_code'].iat[int(i)]} (most of it) and "
            f"{new['other_community_code'].iat[int(i)]}",
        )
    for flag, why in (
        ("repaired", "the footprint was invalid (self-intersecting) and was repaired"),
        ("swapped", "the coordinates looked like (lat, lon) and were exchanged"),
    ):
        on = ok & (np.char.find(flags.astype(str), flag) >= 0)
        outcomes.flag(on, flag, why)


def _compare(
    new: pd.DataFrame,
    stored: pd.DataFrame,
    exists: NDArray[np.bool_],
    outcomes: RowOutcomes,
    columns: Columns,
    has_flag: NDArray[np.bool_],
) -> pd.DataFrame:
    """Decide updated/unchanged for stored ids; the rows to update, with their stored id."""
    positions = np.flatnonzero(exists)
    if positions.size == 0:
        return pd.DataFrame()
    incoming = new.iloc[positions].reset_index(drop=True)
    old = stored.loc[incoming["external_id"]].reset_index(drop=True)
    # What the file does not give keeps its stored value; a real count beats an estimate.
    blank_count = pd.isna(incoming["households"]).to_numpy()
    incoming.loc[blank_count, "households_estimated"] = old.loc[blank_count, "households_estimated"]
    for field in ("name", "address", "compound", "households", "residents", "floors", "height"):
        given = incoming[field].to_numpy(dtype=object)
        incoming[field] = pd.Series(
            np.where(pd.isna(given), old[field].to_numpy(dtype=object), given), dtype=object
        )
    for field in ("households", "residents", "floors", "height"):
        incoming[field] = incoming[field].astype(float)
        old[field] = old[field].astype(float)
    # A stored real count is kept: an estimate only replaces an estimate (or nothing).
    real_count = ~old["households_estimated"].to_numpy(dtype=bool) & (
        old["households"].to_numpy(dtype=float) > 0
    )
    kept = incoming["households_estimated"].to_numpy(dtype=bool) & real_count
    incoming.loc[kept, "households"] = old.loc[kept, "households"]
    incoming.loc[kept, "households_estimated"] = False
    for field in ("households", "residents"):
        incoming[field] = incoming[field].fillna(0.0)
    changes = changed_fields(old, incoming, _COMPARED)
    same_shape = _same(old["footprint"], incoming["footprint"]) & _same(
        old["location"], incoming["location"]
    )
    changed = np.zeros(len(incoming), dtype=bool)
    for i in range(len(incoming)):  # wording what changed, row by row
        words = [f"{f} {_shown(b)} → {_shown(a)}" for f, b, a in changes[i]]
        if not same_shape[i]:
            words.append("footprint" if incoming["footprint"].iat[i] is not None else "location")
        if words:
            changed[i] = True
            outcomes.changes[positions[i]] = "; ".join(words)
    flagged = has_flag[positions]
    outcomes.set(positions[changed & flagged], "flagged")
    outcomes.set(positions[changed & ~flagged], "updated")
    outcomes.set(positions[~changed], "unchanged")
    incoming["id"] = old["id"].to_numpy()
    return incoming[changed]


def _only(mask: NDArray[np.bool_], values: NDArray[np.object_]) -> NDArray[np.object_]:
    """``values`` where ``mask``, ``None`` elsewhere."""
    out = np.full(len(values), None, dtype=object)
    out[mask] = values[mask]
    return out


def _same(a: pd.Series, b: pd.Series) -> NDArray[np.bool_]:
    left = a.to_numpy(dtype=object)
    right = b.to_numpy(dtype=object)
    none_left, none_right = pd.isna(left), pd.isna(right)
    out = none_left & none_right
    both = ~none_left & ~none_right
    if both.any():
        out[both] = shapely.equals_exact(left[both], right[both], tolerance=1e-9)
    return out


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for field in ("households", "residents"):
        out[field] = out[field].fillna(0).astype(np.int64)
    out["floors"] = pd.array(out["floors"].to_numpy(dtype=float), dtype="Int64")
    out["flags"] = [
        "{" + f.replace(";", ",") + "}" if isinstance(f, str) else "{}" for f in out["flags"]
    ]
    return out


def _insert(conn: Connection, frame: pd.DataFrame) -> None:
    from gridgis.db.bulk import copy_rows

    out = _storable(frame)
    copy_rows(conn, "building", out, geometry={"footprint": None, "location": None})


def _update(conn: Connection, frame: pd.DataFrame) -> None:
    out = _storable(frame)
    table = cast(Table, Building.__table__)
    values: dict[str, Any] = {f: bindparam(f"v_{f}") for f in _COMPARED}
    values["footprint"] = bindparam("v_footprint", type_=table.c.footprint.type)
    values["location"] = bindparam("v_location", type_=table.c.location.type)
    statement = update(table).where(table.c.id == bindparam("b_id")).values(values)
    rows = []
    for record in out.to_dict("records"):  # one parameter set per changed building
        params = {f"v_{f}": plain_value(record[f]) for f in _COMPARED}
        params["v_flags"] = [f for f in record["flags"].strip("{}").split(",") if f]
        params["v_footprint"] = (
            from_shape(record["footprint"], srid=4326) if record["footprint"] is not None else None
        )
        params["v_location"] = from_shape(record["location"], srid=4326)
        params["b_id"] = int(record["id"])
        rows.append(params)
    conn.execute(statement, rows)
