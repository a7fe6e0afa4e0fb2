"""Exporting a district's registers so that the importers read them back (issue 16, point 9).

``gridgis export buildings`` writes what ``gridgis import buildings`` stored,
with headers that importer reads back: import the file into another database
(or the same: every row ``unchanged``) and nothing is lost, not even the
``estimated`` flag of an estimated household count.

:data:`REGISTERS` is the registry of exportable registers: one
:class:`RegisterExport` each, holding the function that reads its rows (one
``_Layer``) and the columns that hold a person's data. Adding grid workers,
party branches or facilities is one reader each, registered here:

``workers``
    ``id``, ``name``, ``phone``, ``id_number``, ``role`` (one row per role of
    a person, or roles ``;``-joined), ``cells`` (codes ``;``-joined),
    ``building`` (a building leader's building id), ``community``; no
    geometry. Person fields: ``name``, ``phone``, ``id_number``.
``branches``
    ``id``, ``name``, ``kind``, ``parent`` (the parent's id), ``secretary``,
    ``members``, ``cells``, ``address`` and the point. Person field: ``secretary``.
``units`` (驻区单位, ``gridgis export units``; read back by ``gridgis import resident-units``)
    ``id``, ``name``, ``kind``, ``address``, ``community``, ``contact``, ``contact_phone``,
    ``party_org``, ``party_leader``, ``linked``, ``alliance``, ``committee`` and the point.
    Person fields: ``contact``, ``contact_phone``, ``party_leader``.
``compounds`` (红心物业; :mod:`gridgis.export.compounds`)
    ``community``, ``compound``, ``old``, ``built``, ``management``, ``mode``, ``company``,
    ``contact``, ``contact_phone``, ``unit``, ``organisation``, ``since``, ``note``; the
    outline in a GeoPackage. Person fields: ``contact``, ``contact_phone``.
``facilities`` (done)
    ``id``, ``name``, ``kind`` (the file's own word for it), ``address``,
    ``community`` (its code) and the point. No person data.

A masked file is not yet safe to import back (to settle with workers and branches):
``import_workers`` and ``import_branches`` reject a masked phone (``*******5678`` is
not a phone) but would store a masked name (``张**``) over the real one.

Person data (:attr:`RegisterExport.person_fields`) is masked in the file
unless the exporting user may see it: :func:`gridgis.export.export` takes
``reveal`` (``True``/``False``, or a function of a row's community code, such
as a policy's ``may_see``) and masks the other rows' person fields
(:func:`mask_person`).

Only formats the importers read back are offered: ``gpkg``, ``geojson``
(footprints and points in one layer), ``csv`` and ``xlsx`` (the geometry as
``wkt``, plus the point as ``longitude``/``latitude``). A shapefile would cut the field
names to 10 characters, which the importers do not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Select, Table, Text, func, select

from gridgis.audit import mask_person
from gridgis.crs import CRSSpec, transform_geometry
from gridgis.db.models import (
    UNIT_KIND_NAMES_ZH,
    BranchBuilding,
    BranchCell,
    Building,
    GridCell,
    GridWorker,
    PartyAlliance,
    PartyAllianceUnit,
    PartyBranch,
    PartyUnit,
    PartyUnitCommunity,
    ServiceFacility,
    WorkerBuilding,
    WorkerCell,
    WorkerCommunity,
    WorkerRole,
    WorkerUnit,
)
from gridgis.db.queries import result_frame
from gridgis.export.compounds import read_compounds
from gridgis.export.layers import _Layer
from gridgis.export.leaders import read_leaders
from gridgis.export.members import read_members
from gridgis.export.visits import read_residents
from gridgis.party.members import PERSON_FIELDS, mask_member
from gridgis.registers.kinds import BRANCH_KIND_NAMES, worker_roles

__all__ = ["REGISTERS", "RegisterExport", "Reveal", "mask_person", "revealed"]

Reveal = bool | str | Callable[[str | None], bool]
"""Whose person data an export shows: everyone's (``True``), no one's (``False``), the
rows whose area code starts with the text given (a street: ``Policy.people_scope``, the
form a background job's parameters keep), or the rows whose community code the function
accepts (e.g. ``Policy.may_see_people``)."""


def revealed(reveal: Reveal) -> bool | Callable[[str | None], bool]:
    """``reveal`` as ``True``, ``False`` or a function of an area code.

    Examples
    --------
    >>> shown = revealed("350304001")
    >>> shown("350304001007"), shown("350304002001"), shown(None), revealed(False)
    (True, False, False, False)
    """
    if isinstance(reveal, str):
        prefix = reveal
        return lambda code: code is not None and code.startswith(prefix)
    return reveal


_SPREADSHEETS = ("csv", "xlsx")


@dataclass(frozen=True)
class RegisterExport:
    """One exportable register.

    Attributes
    ----------
    name:
        What ``gridgis export NAME`` exports (``buildings``).
    read:
        ``read(conn, within, spec, fmt)``: the rows of the register in the area whose
        code starts with ``within`` (all when ``None``), as one layer in WGS84 (or
        several: the leaders' coverage and people);
        ``spec`` and ``fmt`` for the columns that depend on them (``longitude``/``latitude`` of
        a spreadsheet, in the exported system).
    person_fields:
        Columns holding a person's data, masked unless revealed.
    area_column:
        The column whose code decides whether a row's person data is revealed.
    formats:
        The formats the register's importer reads back.
    """

    name: str
    read: Callable[[Connection, str | None, CRSSpec, str], _Layer | list[_Layer]]
    person_fields: tuple[str, ...] = ()
    area_column: str = "community_code"
    formats: tuple[str, ...] = ("gpkg", "geojson", "csv", "xlsx")
    mask: Callable[[Any, str], Any] = mask_person
    """How a person field of a row not revealed is written (``mask(value, field)``)."""


def _masked(layer: _Layer, register: RegisterExport, reveal: Reveal) -> None:
    """Mask the person fields of the rows ``reveal`` does not show, in place."""
    test = revealed(reveal)
    if test is True or not register.person_fields:
        return
    frame = layer.frame
    if test is False:
        hidden = np.ones(len(frame), dtype=bool)
    else:
        shown = test
        codes = frame[register.area_column].tolist()
        hidden = ~np.array([bool(shown(c)) for c in codes], dtype=bool)
    for field in register.person_fields:
        values = frame[field].to_numpy(dtype=object).copy()
        values[hidden] = [register.mask(v, field) for v in values[hidden]]
        frame[field] = pd.Series(values, index=frame.index, dtype=object)


def _rows(conn: Connection, query: Select[Any], table: Table, within: str | None) -> pd.DataFrame:
    """The rows of ``query`` whose community code starts with ``within`` (all when ``None``)."""
    if within is not None:
        query = query.where(table.c.community_code.startswith(within, autoescape=True))
    return result_frame(conn.execute(query))


def _file_ids(rows: pd.DataFrame) -> list[str]:
    """Each row's id in a file: its external id, else the database id."""
    return [
        e if e is not None else str(i) for e, i in zip(rows["external_id"], rows["id"], strict=True)
    ]


def _point_columns(frame: pd.DataFrame, location: np.ndarray, spec: CRSSpec) -> None:
    """Add the points as ``longitude``/``latitude`` (``x``/``y`` when projected), in place."""
    points = (
        location
        if spec.name == "wgs84"
        else transform_geometry(location, from_crs="wgs84", to_crs=spec)
    )
    geographic = spec.crs is None or spec.crs.is_geographic
    x_name, y_name = ("longitude", "latitude") if geographic else ("x", "y")
    frame[x_name] = shapely.get_x(points) if len(points) else np.array([], dtype=float)
    frame[y_name] = shapely.get_y(points) if len(points) else np.array([], dtype=float)


# --- buildings ------------------------------------------------------------------------------

BUILDING_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "address",
    "compound",
    "households",
    "estimated",
    "residents",
    "floors",
    "height",
    "community_code",
    "other_community_code",
    "cell_code",
    "flags",
)
"""The columns of a buildings export, in order: the first nine and ``flags`` are read back
by ``gridgis import buildings``; the codes say where the building was placed."""

_DESCRIPTIONS = {
    "id": "楼栋编号 / building id (external id; the database id when it has none)",
    "compound": "小区 / compound",
    "estimated": "户数为估算 / households are an estimate (replace with a real count)",
    "floors": "层数 / floors",
    "height": "高度 (米) / height (m)",
    "other_community_code": "跨社区时另一社区编码 / second community of a straddling building",
    "cell_code": "所在网格编码 / cell holding the building's point",
    "flags": "导入标记 / import flags (straddles, repaired, swapped)",
}


def _read_buildings(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    table = cast(Table, Building.__table__)
    cells = cast(Table, GridCell.__table__)
    cell_code = (
        select(cells.c.code)
        .where(
            cells.c.valid_to.is_(None),
            func.ST_Covers(cells.c.geom, table.c.location),
        )
        .order_by(cells.c.code)  # a point on a shared edge: the smallest code, as geocode does
        .limit(1)
        .scalar_subquery()
    )
    query = select(
        table.c.id,
        table.c.external_id,
        table.c.name,
        table.c.address,
        table.c.compound,
        table.c.households,
        table.c.households_estimated,
        table.c.residents,
        table.c.floors,
        table.c.height,
        table.c.community_code,
        table.c.other_community_code,
        cell_code.label("cell_code"),
        table.c.flags,
        func.ST_AsBinary(table.c.footprint).label("footprint"),
        func.ST_AsBinary(table.c.location).label("location"),
    ).order_by(table.c.id)
    rows = _rows(conn, query, table, within)
    frame = pd.DataFrame(
        {
            "id": _file_ids(rows),
            "name": rows["name"].astype(object),
            "address": rows["address"].astype(object),
            "compound": rows["compound"].astype(object),
            "households": rows["households"].astype("int64"),
            "estimated": rows["households_estimated"].astype(bool),
            "residents": rows["residents"].astype("int64"),
            "floors": pd.array(rows["floors"].to_numpy(dtype=object), dtype="Int64"),
            "height": rows["height"].astype("float64"),
            "community_code": rows["community_code"].astype(object),
            "other_community_code": rows["other_community_code"].astype(object),
            "cell_code": rows["cell_code"].astype(object),
            "flags": [";".join(f) if f else None for f in rows["flags"]],
        },
        columns=list(BUILDING_COLUMNS),
    )
    footprint = shapely.from_wkb(rows["footprint"].to_numpy(dtype=object))
    location = np.asarray(shapely.from_wkb(rows["location"].to_numpy(dtype=object)), dtype=object)
    geoms = np.where(shapely.is_missing(footprint), location, footprint).astype(object)
    if fmt in _SPREADSHEETS:
        # The point too, for people (and for rows they add with longitude/latitude only).
        _point_columns(frame, location, spec)
    return _Layer("buildings", frame, geoms, "Unknown", dict(_DESCRIPTIONS))


# --- facilities -----------------------------------------------------------------------------

FACILITY_COLUMNS: tuple[str, ...] = ("id", "name", "kind", "address", "community")
"""The columns of a facilities export, in order, all read back by ``gridgis import
facilities`` (plus the point: ``lon``/``lat`` in a spreadsheet)."""

_FACILITY_DESCRIPTIONS = {
    "id": "设施编号 / facility id (external id; the database id when it has none)",
    "kind": "设施类型 / kind, as the imported file named it",
    "community": "所在社区编码 / community code",
}


def _read_facilities(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    table = cast(Table, ServiceFacility.__table__)
    query = select(
        table.c.id,
        table.c.external_id,
        table.c.name,
        table.c.kind,
        table.c.kind_name,
        table.c.address,
        table.c.community_code,
        func.ST_AsBinary(table.c.location).label("location"),
    ).order_by(table.c.id)
    rows = _rows(conn, query, table, within)
    frame = pd.DataFrame(
        {
            "id": _file_ids(rows),
            "name": rows["name"].astype(object),
            # The file's own word for the kind, which the importer maps to the same code.
            "kind": [
                n if n is not None else k
                for n, k in zip(rows["kind_name"], rows["kind"], strict=True)
            ],
            "address": rows["address"].astype(object),
            "community": rows["community_code"].astype(object),
        },
    )
    location = np.asarray(shapely.from_wkb(rows["location"].to_numpy(dtype=object)), dtype=object)
    frame = frame[list(FACILITY_COLUMNS)].copy()
    # A point layer: a spreadsheet gets the points as ``lon``/``lat`` from the writer.
    return _Layer("facilities", frame, location, "Point", dict(_FACILITY_DESCRIPTIONS))


# --- grid workers ---------------------------------------------------------------------------

WORKER_COLUMNS: tuple[str, ...] = (
    "id", "name", "phone", "id_number", "role", "cells", "building", "unit", "community",
    "street",
)  # fmt: skip
"""The columns of a workers export, in order: the importer's fields (lists joined by 、)
and the person's street (where their data belongs; not read back)."""

_WORKER_DESCRIPTIONS = {
    "id": "人员编号 / person id (external id; the database id when it has none)",
    "role": "角色 / roles (、-separated)",
    "cells": "所服务网格编码 / cells served (、-separated)",
    "building": "所服务楼栋编号 / buildings served (ids, else addresses)",
    "unit": "所服务单元 / units of that building",
    "community": "所服务社区编码 / communities served",
    "street": "所属街道编码 / street (not read back)",
}


def _joined(values: list[Any]) -> str | None:
    return "、".join(str(v) for v in values) if values else None


def _read_workers(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    workers = conn.execute(
        select(
            GridWorker.id,
            GridWorker.external_id,
            GridWorker.name,
            GridWorker.phone,
            GridWorker.id_number,
            GridWorker.street_code,
        ).order_by(GridWorker.id)
    ).all()
    links: dict[str, dict[int, list[Any]]] = {
        k: {} for k in ("role", "cells", "building", "community")
    }
    queries: list[tuple[str, Any]] = [
        ("role", select(WorkerRole.worker_id, WorkerRole.role).order_by(WorkerRole.role)),
        (
            "cells",
            select(WorkerCell.worker_id, GridCell.code)
            .join(GridCell, GridCell.id == WorkerCell.cell_id)
            .where(GridCell.valid_to.is_(None))
            .order_by(GridCell.code),
        ),
        (
            "building",
            select(
                WorkerBuilding.worker_id,
                func.coalesce(Building.external_id, Building.address, func.cast(Building.id, Text)),
            )
            .join(Building, Building.id == WorkerBuilding.building_id)
            .order_by(Building.id),
        ),
        (
            "community",
            select(WorkerCommunity.worker_id, WorkerCommunity.community_code).order_by(
                WorkerCommunity.community_code
            ),
        ),
    ]
    for key, query in queries:
        for owner, value in conn.execute(query):
            links[key].setdefault(int(owner), []).append(value)
    units: dict[int, list[int]] = {}
    for owner, number in conn.execute(
        select(WorkerUnit.worker_id, WorkerUnit.unit_number).order_by(WorkerUnit.unit_number)
    ):
        units.setdefault(int(owner), []).append(int(number))
    roles = worker_roles()
    rows = []
    for w in workers:
        cells = links["cells"].get(w.id, [])
        communities = links["community"].get(w.id, [])
        where = (
            w.street_code
            or (cells[0][:9] if cells else None)
            or (communities[0][:9] if communities else None)
        )
        if within is not None and not (where or "").startswith(within):
            continue
        rows.append(
            {
                "id": w.external_id if w.external_id is not None else str(w.id),
                "name": w.name,
                "phone": w.phone,
                "id_number": w.id_number,
                "role": _joined([roles.get(r, r) for r in links["role"].get(w.id, [])]),
                "cells": _joined(cells),
                "building": _joined(links["building"].get(w.id, [])),
                "unit": _joined(units.get(w.id, [])),
                "community": _joined(communities),
                "street": where,
            }
        )
    frame = pd.DataFrame(rows, columns=list(WORKER_COLUMNS), dtype=object)
    geoms = np.full(len(frame), None, dtype=object)
    return _Layer("workers", frame, geoms, "None", dict(_WORKER_DESCRIPTIONS))


# --- party organisations ---------------------------------------------------------------------

BRANCH_COLUMNS: tuple[str, ...] = (
    "id", "name", "kind", "parent", "address", "secretary", "secretary_phone", "members",
    "cells", "buildings", "community",
)  # fmt: skip
"""The columns of a party organisations export, in order, all read back by ``gridgis import
branches`` (plus the point: ``lon``/``lat`` in a spreadsheet)."""

_BRANCH_DESCRIPTIONS = {
    "id": "组织编号 / organisation id (external id; the database id when it has none)",
    "kind": "组织类型 / kind (党委, 党总支, 党支部, 党小组)",
    "parent": "上级组织编号 / parent organisation's id",
    "members": "党员人数 / members",
    "cells": "所覆盖网格编码 / cells covered (、-separated)",
    "buildings": "所覆盖楼栋编号 / buildings covered (、-separated)",
    "community": "所在社区编码 / community code",
}


def _read_branches(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    table = cast(Table, PartyBranch.__table__)
    parent = table.alias("parent")
    query = (
        select(
            table.c.id,
            table.c.external_id,
            table.c.name,
            table.c.kind,
            parent.c.external_id.label("parent_external"),
            parent.c.id.label("parent_id"),
            table.c.address,
            table.c.secretary,
            table.c.secretary_phone,
            table.c.member_count,
            table.c.community_code,
            func.ST_AsBinary(table.c.location).label("location"),
        )
        .select_from(table.outerjoin(parent, parent.c.id == table.c.parent_id))
        .order_by(table.c.id)
    )
    rows = _rows(conn, query, table, within)
    served: dict[int, list[str]] = {}
    for owner, code in conn.execute(
        select(BranchCell.branch_id, GridCell.code)
        .join(GridCell, GridCell.id == BranchCell.cell_id)
        .where(GridCell.valid_to.is_(None))
        .order_by(GridCell.code)
    ):
        served.setdefault(int(owner), []).append(str(code))
    covered: dict[int, list[str]] = {}
    for owner, label in conn.execute(
        select(
            BranchBuilding.branch_id,
            func.coalesce(Building.external_id, func.cast(Building.id, Text)),
        )
        .join(Building, Building.id == BranchBuilding.building_id)
        .order_by(Building.external_id, Building.id)
    ):
        covered.setdefault(int(owner), []).append(str(label))
    frame = pd.DataFrame(
        {
            "id": _file_ids(rows),
            "name": rows["name"].astype(object),
            "kind": [BRANCH_KIND_NAMES.get(k, k) for k in rows["kind"]],
            "parent": [
                e if e is not None else (None if pd.isna(i) else str(int(i)))
                for e, i in zip(rows["parent_external"], rows["parent_id"], strict=True)
            ],
            "address": rows["address"].astype(object),
            "secretary": rows["secretary"].astype(object),
            "secretary_phone": rows["secretary_phone"].astype(object),
            "members": rows["member_count"].astype("int64"),
            "cells": [_joined(served.get(int(i), [])) for i in rows["id"]],
            "buildings": [_joined(covered.get(int(i), [])) for i in rows["id"]],
            "community": rows["community_code"].astype(object),
        },
        columns=list(BRANCH_COLUMNS),
    )
    location = np.asarray(shapely.from_wkb(rows["location"].to_numpy(dtype=object)), dtype=object)
    return _Layer("branches", frame, location, "Point", dict(_BRANCH_DESCRIPTIONS))


# --- 驻区单位 (resident organisations) ----------------------------------------------------------

RESIDENT_UNIT_COLUMNS: tuple[str, ...] = (
    "id", "name", "kind", "address", "community", "contact", "contact_phone", "party_org",
    "party_leader", "linked", "alliance", "committee",
)  # fmt: skip
"""The columns of a 驻区单位 export (``gridgis export units``), in order, all read back by
``gridgis import resident-units`` (plus the point: ``lon``/``lat`` in a spreadsheet)."""

_RESIDENT_UNIT_DESCRIPTIONS = {
    "id": "单位编号 / unit id (external id; the database id when it has none)",
    "kind": "单位类型 / kind (企业, 学校, 机关, 事业单位, 医院, 社会组织, 其他)",
    "community": "所在社区编码 / community code",
    "contact": "联系人 / contact person",
    "contact_phone": "联系电话 / contact phone",
    "party_org": "党组织 / party organisation",
    "party_leader": "党组织书记 / party leader",
    "linked": "结对社区编码 / linked communities (、-separated)",
    "alliance": "所属联合体 / alliances (、-separated)",
    "committee": "兼职委员 / leader on the 大党委 (是/否)",
}


def _read_resident_units(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    table = cast(Table, PartyUnit.__table__)
    query = select(
        table.c.id,
        table.c.external_id,
        table.c.name,
        table.c.kind,
        table.c.address,
        table.c.community_code,
        table.c.contact,
        table.c.contact_phone,
        table.c.party_org,
        table.c.party_leader,
        func.ST_AsBinary(table.c.location).label("location"),
    ).order_by(table.c.id)
    rows = _rows(conn, query, table, within)
    linked: dict[int, list[str]] = {}
    for owner, code in conn.execute(
        select(PartyUnitCommunity.unit_id, PartyUnitCommunity.community_code).order_by(
            PartyUnitCommunity.community_code
        )
    ):
        linked.setdefault(int(owner), []).append(str(code))
    groups: dict[int, list[str]] = {}
    seated: set[int] = set()
    for owner, name, committee in conn.execute(
        select(PartyAllianceUnit.unit_id, PartyAlliance.name, PartyAllianceUnit.committee)
        .join(PartyAlliance, PartyAlliance.id == PartyAllianceUnit.alliance_id)
        .order_by(PartyAlliance.name)
    ):
        groups.setdefault(int(owner), []).append(str(name))
        if committee:
            seated.add(int(owner))
    frame = pd.DataFrame(
        {
            "id": _file_ids(rows),
            "name": rows["name"].astype(object),
            "kind": [UNIT_KIND_NAMES_ZH.get(k, k) for k in rows["kind"]],
            "address": rows["address"].astype(object),
            "community": rows["community_code"].astype(object),
            "contact": rows["contact"].astype(object),
            "contact_phone": rows["contact_phone"].astype(object),
            "party_org": rows["party_org"].astype(object),
            "party_leader": rows["party_leader"].astype(object),
            "linked": [_joined(linked.get(int(i), [])) for i in rows["id"]],
            "alliance": [_joined(groups.get(int(i), [])) for i in rows["id"]],
            "committee": ["是" if int(i) in seated else "否" for i in rows["id"]],
        },
        columns=list(RESIDENT_UNIT_COLUMNS),
    )
    location = np.asarray(shapely.from_wkb(rows["location"].to_numpy(dtype=object)), dtype=object)
    return _Layer("units", frame, location, "Point", dict(_RESIDENT_UNIT_DESCRIPTIONS))


def _read_organisations(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    """The branches' layer under the name ``organisations`` (the file's and layer's name)."""
    return replace(_read_branches(conn, within, spec, fmt), name="organisations")


REGISTERS: dict[str, RegisterExport] = {
    "branches": RegisterExport(
        "branches",
        _read_branches,
        person_fields=("secretary", "secretary_phone"),
        area_column="community",
    ),
    "buildings": RegisterExport("buildings", _read_buildings),
    # The organisation tree: the branches' export under the name of issue 19 (kinds,
    # parents, cells and buildings covered), read back by `gridgis import branches`.
    "organisations": RegisterExport(
        "organisations",
        _read_organisations,
        person_fields=("secretary", "secretary_phone"),
        area_column="community",
    ),
    "leaders": RegisterExport(
        "leaders",
        read_leaders,
        person_fields=("name", "phone"),
        area_column="community_code",
        formats=("gpkg", "csv", "xlsx"),
    ),
    "facilities": RegisterExport("facilities", _read_facilities, area_column="community"),
    "compounds": RegisterExport(
        "compounds",
        read_compounds,
        person_fields=("contact", "contact_phone"),
        area_column="community",
        formats=("gpkg", "csv", "xlsx"),
    ),
    "units": RegisterExport(
        "units",
        _read_resident_units,
        person_fields=("contact", "contact_phone", "party_leader"),
        area_column="community",
    ),
    "members": RegisterExport(
        "members",
        read_members,
        person_fields=tuple("birth" if f == "birth_year" else f for f in PERSON_FIELDS),
        area_column="street",
        formats=("gpkg", "csv", "xlsx"),
        mask=lambda value, field: mask_member(value, "birth_year" if field == "birth" else field),
    ),
    "residents": RegisterExport(
        "residents",
        read_residents,
        person_fields=("name", "phone"),
        area_column="community",
        formats=("gpkg", "csv", "xlsx"),
    ),
    "workers": RegisterExport(
        "workers",
        _read_workers,
        person_fields=("name", "phone", "id_number"),
        area_column="street",
        formats=("gpkg", "csv", "xlsx"),
    ),
}
"""The exportable registers by name (``gridgis export NAME``)."""


def read_register(
    conn: Connection,
    what: str,
    within: str | None,
    *,
    spec: CRSSpec,
    fmt: str,
    reveal: Reveal,
) -> list[_Layer]:
    """The layer of register ``what``, its person data masked unless ``reveal`` shows it."""
    register = REGISTERS[what]
    read = register.read(conn, within, spec, fmt)
    layers = read if isinstance(read, list) else [read]
    for layer in layers:
        if all(f in layer.frame.columns for f in register.person_fields):
            _masked(layer, register, reveal)
    return layers
