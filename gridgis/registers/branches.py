"""Importing party organisations: 党委, 党总支, 党支部, 党小组, as a tree.

One row per organisation: id, name, kind (default 党支部), parent organisation (by
its id or name: in the file first, then in the database, so parents may come
later in the same file), location (coordinates or an address; a 网格党支部 with
neither is placed inside its first cell and flagged ``at_cell``), secretary and
their phone (people's data), member count, the cells it covers, the buildings it
covers (building ids, 楼栋编号: a 楼栋党小组's buildings; a file without the column
keeps the stored ones) and, optionally, its community. Upserted on the file's id in one
transaction, with a per-row report; a row whose parent exists nowhere, or whose parent
was rejected, or that is its own ancestor, is rejected with the reason.

Examples
--------
>>> report = import_branches(engine, "党组织.xlsx", actor="cli:li")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'read': 40, 'imported': 39, 'updated': 0, 'unchanged': 0, 'flagged': 0, 'rejected': 1}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update

from gridgis import audit
from gridgis.codes import check_code
from gridgis.crs import CRSLike
from gridgis.db.models import BranchBuilding, BranchCell, Building, GridCell, PartyBranch
from gridgis.db.queries import plain_value
from gridgis.intake.loading import say
from gridgis.registers.facilities import place_rows, with_points
from gridgis.registers.kinds import BRANCH_KIND_NAMES, branch_kind, split_list
from gridgis.registers.places import Areas, Points, street_problems
from gridgis.registers.report import RegisterReport, RowOutcomes
from gridgis.registers.running import read_register, run_register_import
from gridgis.registers.upsert import changes, outcome_of, replace_links_of
from gridgis.registers.workers import check_phone, unmasked

__all__ = ["BRANCH_FIELDS", "import_branches"]

BRANCH_FIELDS: tuple[str, ...] = (
    "id", "name", "kind", "parent", "x", "y", "address", "secretary", "secretary_phone",
    "phone", "members", "cells", "community", "buildings",
)  # fmt: skip
"""The fields of a register of party organisations (``phone`` is the secretary's)."""

_FIELDS = (
    "name", "kind", "parent", "address", "secretary", "secretary_phone", "member_count",
    "community_code", "cells", "buildings", "lon", "lat",
)  # fmt: skip


def _members(value: str | None) -> tuple[int, str | None]:
    if value is None:
        return 0, None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (number >= 0 and number.is_integer()):
        return 0, f"member count {value!r} is not a whole number of 0 or more"
    return int(number), None


def _stored(conn: Connection) -> pd.DataFrame:
    """Every stored organisation: id, external id, name, fields, parent's external id."""
    parent = PartyBranch.__table__.alias("parent")
    query = select(
        PartyBranch.id,
        PartyBranch.external_id,
        PartyBranch.name,
        PartyBranch.kind,
        parent.c.external_id.label("parent"),
        PartyBranch.address,
        PartyBranch.secretary,
        PartyBranch.secretary_phone,
        PartyBranch.member_count,
        PartyBranch.community_code,
        func.ST_X(PartyBranch.location).label("lon"),
        func.ST_Y(PartyBranch.location).label("lat"),
    ).outerjoin(parent, parent.c.id == PartyBranch.parent_id)
    frame = pd.DataFrame([dict(r._mapping) for r in conn.execute(query)])
    if frame.empty:
        return pd.DataFrame(columns=["id", "external_id", "name", "cells"])
    cells = conn.execute(
        select(BranchCell.branch_id, GridCell.code).join(
            GridCell, GridCell.id == BranchCell.cell_id
        )
    ).all()
    served: dict[int, list[str]] = {}
    for branch, code in cells:
        served.setdefault(int(branch), []).append(str(code))
    frame["cells"] = [sorted(served.get(int(i), [])) for i in frame["id"]]
    covered: dict[int, list[str]] = {}
    for branch, external in conn.execute(
        select(BranchBuilding.branch_id, func.coalesce(Building.external_id, "")).join(
            Building, Building.id == BranchBuilding.building_id
        )
    ):
        covered.setdefault(int(branch), []).append(str(external))
    frame["buildings"] = [sorted(covered.get(int(i), [])) for i in frame["id"]]
    return frame


def _parents(
    ids: list[str | None], names: list[str | None], parents: list[str | None],
    stored: pd.DataFrame,
) -> tuple[list[int | None], list[str | None], list[str | None]]:  # fmt: skip
    """Per row: the row of its parent in the file (or None), the stored parent's external id
    (or None), and why the parent cannot be found."""
    in_file = {v: i for i, v in enumerate(ids) if v is not None}
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name is not None:
            by_name.setdefault(name, []).append(i)
    stored_ids = set(stored["external_id"].dropna().astype(str))
    stored_names: dict[str, list[Any]] = {}
    for name, external in zip(stored["name"], stored["external_id"], strict=True):
        stored_names.setdefault(str(name), []).append(external)
    row_of: list[int | None] = [None] * len(ids)
    stored_parent: list[str | None] = [None] * len(ids)
    problem: list[str | None] = [None] * len(ids)
    for i, value in enumerate(parents):  # one look-up per row
        if value is None:
            continue
        if value in in_file:
            row_of[i] = in_file[value]
        elif len(by_name.get(value, [])) == 1:
            row_of[i] = by_name[value][0]
        elif value in stored_ids:
            stored_parent[i] = value
        elif value in stored_names and len(stored_names[value]) == 1:
            stored_parent[i] = str(stored_names[value][0])
        elif len(by_name.get(value, [])) > 1:
            problem[i] = f"parent {value!r} names several organisations of the file: use its id"
        else:
            problem[i] = (
                f"parent {value!r} does not exist: no organisation of the file or of the "
                "database has that id or name"
            )
        if row_of[i] == i:
            problem[i], row_of[i] = f"parent {value!r} is the organisation itself", None
    return row_of, stored_parent, problem


def _depths(row_of: list[int | None]) -> tuple[list[int], list[int]]:
    """Rows in an order that puts parents first, and the rows in a cycle of parents."""
    depth: dict[int, int] = {}
    cycle: list[int] = []
    for start in range(len(row_of)):  # walk up each chain (a tree of a few hundred rows)
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in depth and node not in path:
            path.append(node)
            node = row_of[node]
        if node is not None and node in path:
            cycle.extend(path[path.index(node) :])
            base = -1
        else:
            base = depth.get(node, -1) if node is not None else -1
        for n in reversed(path):
            base += 1
            depth[n] = base
    order = sorted(range(len(row_of)), key=lambda n: depth[n])
    return order, sorted(set(cycle))


def import_branches(
    engine: Engine | Connection,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    kind_field: str | None = None,
    parent_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    address_field: str | None = None,
    secretary_field: str | None = None,
    secretary_phone_field: str | None = None,
    members_field: str | None = None,
    cells_field: str | None = None,
    community_field: str | None = None,
    buildings_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    street: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> RegisterReport:
    """Import a register of party organisations, in one transaction, with a per-row report.

    Parameters
    ----------
    engine:
        The database.
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage.
    crs:
        The system of the coordinates; default the vector file's own, else ``wgs84``.
    id_field, name_field, kind_field, parent_field, x_field, y_field, address_field, \
secretary_field, secretary_phone_field, members_field, cells_field, community_field, \
buildings_field:
        The column of each field, when its header is not one gridgis knows.
    encoding, sheet, layer:
        See :func:`gridgis.intake.readers.read_table`.
    street:
        A street office's 9-digit code: rows in a community of another street (or
        in none) or serving a cell or building of another, and ids stored for an organisation
        of another street, are rejected (and their children with them).
    dry_run:
        Do everything, report, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports: one audit row sums the import up, one row per organisation changed
        (the secretary's phone masked).

    Returns
    -------
    RegisterReport
    """
    if street is not None:
        check_code(street, "street")
    given = {
        "id": id_field, "name": name_field, "kind": kind_field, "parent": parent_field,
        "x": x_field, "y": y_field, "address": address_field, "secretary": secretary_field,
        "secretary_phone": secretary_phone_field, "members": members_field,
        "cells": cells_field, "community": community_field, "buildings": buildings_field,
    }  # fmt: skip
    say(progress, f"reading {path}")
    register = read_register(
        path, BRANCH_FIELDS, given=given, required=("id", "name"),
        encoding=encoding, sheet=sheet, layer=layer,
    )  # fmt: skip

    placed: list[Points] = []

    def body(conn: Connection) -> RowOutcomes:
        n = len(register)
        outcomes = register.outcomes()
        id_reasons = register.id_problems()
        ids, names = register.texts("id"), register.texts("name")
        kinds_given, parents_given = register.texts("kind"), register.texts("parent")
        phones = [
            s or p
            for s, p in zip(register.texts("secretary_phone"), register.texts("phone"), strict=True)
        ]
        has_buildings = register.columns.get("buildings") is not None
        areas = Areas.load(conn, buildings=has_buildings)
        codes = [split_list(v) for v in register.texts("cells")]
        building_codes = [split_list(v) for v in register.texts("buildings")]
        members_given, communities_given = register.texts("members"), register.texts("community")
        stored = _stored(conn)
        # A masked export read back: the masked form of a stored value keeps the stored one.
        known = {
            str(r["external_id"]): r for r in stored.to_dict("records") if r.get("external_id")
        }
        before_of = [known.get(str(i), {}) if i is not None else {} for i in ids]
        phones = unmasked(phones, [b.get("secretary_phone") for b in before_of], "secretary_phone")
        secretaries = unmasked(
            register.texts("secretary"), [b.get("secretary") for b in before_of], "secretary"
        )
        kinds: list[str | None] = []
        members: list[int] = []
        cell_ids: list[list[int]] = []
        problems: list[list[str]] = []
        for i in range(n):  # wording per row
            found: list[str] = [p for p in [id_reasons[i]] if p]
            if names[i] is None:
                found.append("name missing")
            kind = branch_kind(kinds_given[i]) if kinds_given[i] is not None else "branch"
            if kind is None:
                listing = "、".join(BRANCH_KIND_NAMES.values())
                found.append(f"unknown kind {kinds_given[i]!r} (known: {listing})")
            kinds.append(kind)
            count, why = _members(members_given[i])
            members.append(count)
            found.extend([why] if why else [])
            if (why := check_phone(phones[i])) is not None:
                found.append(why.replace("phone", "secretary's phone", 1))
            if any(v is not None and "**" in v for v in (secretaries[i], phones[i])):
                found.append(
                    "secretary or phone masked (as an export writes it for those who may not "
                    "see it) but not the masked form of the stored one: give the real value"
                )
            ok, unknown = areas.cell_ids(codes[i])
            cell_ids.append(ok)
            if unknown:
                found.append(f"unknown cell code {'、'.join(unknown)!r}: no active cell has it")
            if missing := [b for b in building_codes[i] if b not in areas.buildings]:
                found.append(f"unknown building {'、'.join(missing)!r}: no building has that id")
            problems.append(found)
        row_of, stored_parent, parent_problem = _parents(ids, names, parents_given, stored)
        order, cycle = _depths(row_of)
        for i in cycle:
            parent_problem[i] = f"parent {parents_given[i]!r} makes a cycle: it is its own ancestor"
        # Rejected rows, then their descendants in the file (parents come first in ``order``).
        for i in order:
            reasons = [*problems[i], *[p for p in [parent_problem[i]] if p]]
            parent_row = row_of[i]
            if (
                not reasons
                and parent_row is not None
                and outcomes.outcome[parent_row] == "rejected"
            ):
                reasons = [f"parent {parents_given[i]!r} ({register.table.numbering} "
                           f"{register.table.row[parent_row]}) is rejected"]  # fmt: skip
            if reasons:
                outcomes.reject([i], "; ".join(reasons))

        spots: dict[int, tuple[float, float]] = {}

        def at_cell(i: int) -> tuple[float, float] | None:
            if not cell_ids[i]:
                return None
            if not spots:  # one query, at the first row that needs it, for every pending row
                firsts = {c[0] for c, todo in zip(cell_ids, outcomes.pending, strict=True)
                          if c and todo}  # fmt: skip
                spots.update(_cell_spots(conn, sorted(firsts)))
            return spots[cell_ids[i][0]]

        say(progress, f"placing {int(outcomes.pending.sum())} organisations")
        points, community = place_rows(
            conn, register, outcomes, outcomes.pending, crs=crs, areas=areas, fallback=at_cell
        )
        placed.append(points)
        for i in range(n):
            if community[i] is None and cell_ids[i] and communities_given[i] is None:
                community[i] = areas.cell_community(cell_ids[i][0])
        if street is not None:
            building_area = _building_communities(
                conn, [areas.buildings[b] for row in building_codes for b in row
                       if b in areas.buildings]
            )  # fmt: skip
            stored_area = {
                str(r["external_id"]): r.get("community_code") or ""
                for r in stored.to_dict("records")
                if r.get("external_id")
            }
            for i in np.flatnonzero(outcomes.pending).tolist():
                serving = [  # rows still pending named only known cells, in order
                    (f"cell {code}", areas.cell_community(c))
                    for code, c in zip(codes[i], cell_ids[i], strict=True)
                ] + [
                    (f"building {b}", building_area.get(areas.buildings[b]))
                    for b in building_codes[i]
                ]
                if away := street_problems(
                    street, "organisation", community=community[i], served=serving,
                    stored_area=stored_area.get(str(ids[i])),
                ):  # fmt: skip
                    outcomes.reject([i], "; ".join(away))
        # A parent rejected only now (no location): its children follow it.
        for i in order:
            parent_row = row_of[i]
            if (outcomes.pending[i] and parent_row is not None
                    and outcomes.outcome[parent_row] == "rejected"):  # fmt: skip
                outcomes.reject([i], f"parent {parents_given[i]!r} is rejected")
        stored_by_id = {
            str(r["external_id"]): r for r in stored.to_dict("records") if r.get("external_id")
        }
        new_ids: dict[int, int] = {}
        addresses = register.texts("address")
        say(progress, f"storing {int(outcomes.pending.sum())} organisations")
        for i in order:
            if not outcomes.pending[i]:
                continue
            parent_row = row_of[i]
            parent_external = ids[parent_row] if parent_row is not None else stored_parent[i]
            after = {
                "name": names[i],
                "kind": kinds[i],
                "parent": parent_external,
                "address": addresses[i],
                "secretary": secretaries[i],
                "secretary_phone": phones[i],
                "member_count": members[i],
                "community_code": community[i],
                "cells": sorted(c for c in codes[i]),
                "buildings": sorted(building_codes[i]),
                "lon": float(points.lon[i]),
                "lat": float(points.lat[i]),
            }
            before = stored_by_id.get(str(ids[i]))
            if not has_buildings:  # a file without the column keeps the stored buildings
                after["buildings"] = [] if before is None else list(before["buildings"])
            old = None if before is None else {k: plain_value(before[k]) for k in _FIELDS}
            outcome = outcome_of(old, after)
            if outcome != "unchanged":
                parent_id = _parent_id(parent_external, new_ids, parent_row, stored_by_id)
                values = {
                    k: after[k]
                    for k in _FIELDS
                    if k not in ("parent", "cells", "buildings", "lon", "lat")
                }
                values |= {"parent_id": parent_id, "location": points.wkt(i)}
                if before is None:
                    branch_id = conn.execute(
                        insert(PartyBranch)
                        .values(external_id=ids[i], **values)
                        .returning(PartyBranch.id)
                    ).scalar_one()
                else:
                    branch_id = int(before["id"])
                    conn.execute(
                        update(PartyBranch).where(PartyBranch.id == branch_id).values(**values)
                    )
                    outcomes.changes[i] = "; ".join(changes(old, after))
                    audit.record(conn, actor=actor, action="update", object_type="branch",
                                 object_id=ids[i], before=old, after=after,
                                 street_code=areas.street_of(community[i]))  # fmt: skip
                served = [{"cell_id": c} for c in cell_ids[i]]
                replace_links_of(
                    conn, BranchCell, "branch_id", {int(branch_id): served},
                    stored=[] if before is None else [int(branch_id)],
                )  # fmt: skip
                if has_buildings:
                    covered = [{"building_id": areas.buildings[b]} for b in building_codes[i]]
                    replace_links_of(
                        conn, BranchBuilding, "branch_id", {int(branch_id): covered},
                        stored=[] if before is None else [int(branch_id)],
                    )  # fmt: skip
                new_ids[i] = int(branch_id)
            flagged = outcomes.flags[i] and outcome != "unchanged"
            outcomes.set([i], "flagged" if flagged else outcome)
        outcomes.add_column("community_code", community)
        return outcomes

    report = run_register_import(engine, "branches", register, body, dry_run=dry_run, actor=actor)
    return with_points(report, placed)


def _cell_spots(conn: Connection, ids: list[int]) -> dict[int, tuple[float, float]]:
    """Cell id -> (lon, lat) of a point inside the cell (``ST_PointOnSurface``)."""
    spot = func.ST_PointOnSurface(GridCell.geom)
    query = select(GridCell.id, func.ST_X(spot), func.ST_Y(spot)).where(GridCell.id.in_(ids))
    return {int(i): (float(x), float(y)) for i, x, y in conn.execute(query)}


def _building_communities(conn: Connection, ids: list[int]) -> dict[int, str]:
    """Building id -> its community code."""
    if not ids:
        return {}
    query = select(Building.id, Building.community_code).where(Building.id.in_(sorted(set(ids))))
    return {int(i): str(c) for i, c in conn.execute(query)}


def _parent_id(
    external: str | None,
    new_ids: dict[int, int],
    parent_row: int | None,
    stored: Mapping[str, Mapping[Hashable, Any]],
) -> int | None:
    """The database id of a parent: one stored in this import, else one stored before
    (``stored``: the organisations read at the start of the import, by external id)."""
    if external is None:
        return None
    if parent_row is not None and parent_row in new_ids:
        return new_ids[parent_row]
    before = stored.get(external)
    return None if before is None else int(before["id"])
