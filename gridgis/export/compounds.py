"""Exporting the register of compounds (红心物业): ``gridgis export compounds``.

The registered compounds of an area (:func:`gridgis.party.compounds.list_compounds`), with
the headers ``gridgis import compounds`` reads back: community, compound, old (是/否),
year built, management and mode (their Chinese names), company, contact and phone
(people's data: masked unless the exporting user may see them, the ``reveal`` of
:func:`gridgis.export.export`), the 驻区单位 (its file id), the party organisation (its
file id), since and note. A GeoPackage holds each compound's outline (the convex hull of
its buildings); a CSV or Excel file has no geometry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection

from gridgis.crs import CRSSpec
from gridgis.db.models import MANAGEMENT_NAMES_ZH, RED_MODE_NAMES_ZH
from gridgis.export.layers import _Layer
from gridgis.party.compounds import list_compounds

__all__ = ["COMPOUND_COLUMNS", "read_compounds"]

COMPOUND_COLUMNS: tuple[str, ...] = (
    "community", "compound", "old", "built", "management", "mode", "company", "contact",
    "contact_phone", "unit", "organisation", "since", "note",
)  # fmt: skip
"""The columns of the export, in order (the importer's fields)."""

_DESCRIPTIONS = {
    "community": "社区编码 / community code",
    "compound": "小区 / compound (as its buildings name it)",
    "old": "老旧小区 / old compound (是/否)",
    "built": "建成年份 / year built",
    "management": "管理方式 / management (物业公司, 红心物业, 无物业)",
    "mode": "红心物业模式 / 红心物业 mode (物业服务, 居民自治, 驻区单位包保, 社区兜底)",
    "company": "物业公司 / property management company",
    "contact": "联系人 / contact person (masked unless revealed)",
    "contact_phone": "联系电话 / contact phone (masked unless revealed)",
    "unit": "包保单位 / the 驻区单位 taking it on (its id)",
    "organisation": "牵头党组织 / the party organisation leading it (its id)",
    "since": "起始日期 / since",
    "note": "备注 / note",
}


def read_compounds(conn: Connection, within: str | None, spec: CRSSpec, fmt: str) -> _Layer:
    """The registered compounds of the area ``within`` (all: ``None``), people's data as
    stored (the export masks it)."""
    outlines = fmt == "gpkg"
    rows = [
        r
        for r in list_compounds(conn, within=within, reveal=True, outlines=outlines)
        if r["registered"]
    ]
    frame = pd.DataFrame(
        {
            "community": [r["community_code"] for r in rows],
            "compound": [r["name"] for r in rows],
            "old": ["是" if r["old"] else "否" for r in rows],
            "built": [r["built_year"] for r in rows],
            "management": [MANAGEMENT_NAMES_ZH[r["management"]] for r in rows],
            "mode": [RED_MODE_NAMES_ZH.get(r["red_mode"]) if r["red_mode"] else None for r in rows],
            "company": [r["company"] for r in rows],
            "contact": [r["contact"] for r in rows],
            "contact_phone": [r["contact_phone"] for r in rows],
            "unit": [r["unit_external_id"] or r["unit_id"] for r in rows],
            "organisation": [r["organisation_external_id"] or r["organisation_id"] for r in rows],
            "since": [r["since"] for r in rows],
            "note": [r["note"] for r in rows],
        },
        columns=list(COMPOUND_COLUMNS),
        dtype=object,
    )
    geoms = np.full(len(rows), None, dtype=object)
    if outlines:
        for i, row in enumerate(rows):  # a few hundred outlines, each a GeoJSON mapping
            if row["outline"] is not None:
                geoms[i] = shapely.geometry.shape(row["outline"])
    return _Layer("compounds", frame, geoms, "Polygon" if outlines else "None", dict(_DESCRIPTIONS))
