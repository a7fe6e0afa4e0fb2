"""Exporting the party members register so that ``gridgis import members`` reads it back.

Columns (:data:`MEMBER_COLUMNS`): the importer's fields under its English headers
(``id``, ``name``, ``sex`` 男/女, ``birth`` the year, ``joined``, ``organisation``
the organisation's id, ``kind`` 直管党员/在职党员/流动党员/离退休党员, ``address``,
``phone``, ``id_number``, ``report_community``, ``reported_on``,
``central_household`` 是/否), then ``community_code``, ``cell_code`` and
``street`` (where the member lives; not read back). A GeoPackage holds the
point of the member's building (none for a member not placed).

The personal data (:data:`gridgis.party.members.PERSON_FIELDS`) is masked
(:func:`gridgis.party.members.mask_member`) unless the export reveals the row's
street; the importer reads a masked value back as the stored one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, func

from gridgis.crs import CRSSpec
from gridgis.db.models import Building, PartyMember
from gridgis.export.layers import _Layer
from gridgis.party.members import members_frame

__all__ = ["MEMBER_COLUMNS", "read_members"]

MEMBER_COLUMNS: tuple[str, ...] = (
    "id", "name", "sex", "birth", "joined", "organisation", "kind", "address", "phone",
    "id_number", "report_community", "reported_on", "central_household", "community_code",
    "cell_code", "street",
)  # fmt: skip

_KINDS = {
    "direct": "直管党员",
    "employed": "在职党员",
    "mobile": "流动党员",
    "retired": "离退休党员",
}
_SEXES = {"male": "男", "female": "女"}
_DESCRIPTIONS = {
    "id": "党员编号 / member id (external id; the database id when it has none)",
    "birth": "出生年份 / birth year",
    "joined": "入党日期 / date joined",
    "organisation": "所在党组织编号 / organisation id",
    "kind": "党员类型 / kind",
    "report_community": "报到社区编码 / community reported to (在职党员)",
    "reported_on": "报到日期 / date reported",
    "central_household": "党员中心户 / a 党员中心户 (是/否)",
    "community_code": "居住社区编码 / community lived in",
    "cell_code": "所在网格编码 / cell of the member's building",
    "street": "所属街道编码 / street (not read back)",
}


def _day(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)[:10]


def read_members(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    """The members living in the area ``within`` (all when ``None``) as one layer."""
    frame = members_frame(conn, within=None)
    if within is not None:
        frame = frame[frame["community_code"].fillna("").str.startswith(within)]
    rows = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "id": [
                e if e is not None else str(i)
                for e, i in zip(rows["external_id"], rows["id"], strict=True)
            ],
            "name": rows["name"].astype(object),
            "sex": [_SEXES.get(s) for s in rows["sex"]],
            "birth": [None if pd.isna(b) else str(int(b)) for b in rows["birth_year"]],
            "joined": [_day(d) for d in rows["joined_on"]],
            "organisation": rows["organisation"].astype(object),
            "kind": [_KINDS[k] for k in rows["kind"]],
            "address": rows["address"].astype(object),
            "phone": rows["phone"].astype(object),
            "id_number": rows["id_number"].astype(object),
            "report_community": rows["report_community_code"].astype(object),
            "reported_on": [_day(d) for d in rows["reported_on"]],
            "central_household": ["是" if c else "否" for c in rows["central_household"]],
            "community_code": rows["community_code"].astype(object),
            "cell_code": rows["cell_code"].astype(object),
            "street": rows["street_code"].astype(object),
        },
        columns=list(MEMBER_COLUMNS),
        dtype=object,
    )
    ids = [int(i) for i in rows["id"]]
    points: dict[int, Any] = {}
    if ids:
        query = (
            PartyMember.__table__.join(Building, Building.id == PartyMember.building_id)
            .select()
            .with_only_columns(PartyMember.id, func.ST_AsBinary(Building.location))
            .where(PartyMember.id.in_(ids))
        )
        points = {int(i): bytes(w) for i, w in conn.execute(query) if w is not None}
    geoms = np.array([points.get(i) for i in ids], dtype=object)
    present = np.array([g is not None for g in geoms], dtype=bool)
    shapes = np.full(len(ids), None, dtype=object)
    if present.any():
        shapes[present] = shapely.from_wkb(geoms[present])
    return _Layer("members", out, shapes, "Point", dict(_DESCRIPTIONS))
