"""The 大走访 ledger (台账) and the visits as files: xlsx and csv in the usual Chinese layout,
GeoPackage with the points.

The ledger's columns are those of a district's 台账: 序号, 社区, 网格, 走访对象, 走访人,
走访时间, 发现问题, 问题类别, 办理情况/关联事件, 状态 (未销号/已销号), 销号时间. Rows
come as :func:`gridgis.party.ledger.list_ledger` and
:func:`gridgis.party.visits.list_visits` give them, already masked for the user who
exports (people's names masked outside the user's street).

Examples
--------
>>> import io
>>> out = io.BytesIO()
>>> write_ledger(out, [], fmt="csv")
0
>>> out.getvalue().decode("utf-8-sig").splitlines()[0]
'序号,社区,网格,走访对象,走访人,走访时间,发现问题,问题类别,办理情况/关联事件,状态,销号时间'
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gridgis.sheets import safe_csv_value, write_xlsx
from gridgis.times import CHINA_TZ

__all__ = [
    "LEDGER_FORMATS",
    "LEDGER_HEADER",
    "RESIDENT_COLUMNS",
    "VISIT_HEADER",
    "ledger_rows",
    "read_residents",
    "visit_rows",
    "write_ledger",
    "write_visits",
]

LEDGER_HEADER: tuple[str, ...] = (
    "序号", "社区", "网格", "走访对象", "走访人", "走访时间", "发现问题", "问题类别",
    "办理情况/关联事件", "状态", "销号时间",
)  # fmt: skip
"""The columns of the 台账, in order."""
VISIT_HEADER: tuple[str, ...] = (
    "序号", "走访活动", "社区", "网格", "走访对象", "地址", "走访人", "走访时间", "备注",
    "照片数", "发现问题数", "经度", "纬度", "定位精度（米）",
)  # fmt: skip
"""The columns of the visits' file, in order."""
LEDGER_FORMATS: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}
"""The formats the ledger and the visits are written in, with their media types."""


def _time(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return str(value.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M"))


def _handling(entry: Mapping[str, Any]) -> str:
    """办理情况/关联事件: the case and its step, or how it was solved by hand."""
    if entry.get("closed_how") == "manual":
        return f"当场解决：{entry.get('cleared_note') or ''}"
    case_id = entry.get("standing_case_id")
    if case_id is None:
        return "未转事件"
    step = {"closed": "已结案", "rejected": "已作废"}.get(entry.get("case_step") or "", "办理中")
    merged = entry.get("case_id") != case_id
    return f"事件 {case_id}（{step}）" + (f"，由事件 {entry.get('case_id')} 合并" if merged else "")


def ledger_rows(entries: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The 台账 rows of ``entries`` (numbered from 1), in :data:`LEDGER_HEADER`'s order."""
    return [
        [
            number,
            e.get("community_name") or e.get("community_code") or "",
            e.get("cell_name") or e.get("cell_code") or "",
            e.get("target_name") or "",
            e.get("visitor_name") or e.get("found_by") or "",
            _time(e.get("found_at")),
            e.get("description") or "",
            e.get("category_name") or e.get("category_code") or "",
            _handling(e),
            "已销号" if e.get("state") == "closed" else "未销号",
            _time(e.get("closed_at")),
        ]
        for number, e in enumerate(entries, start=1)
    ]


def visit_rows(visits: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The rows of ``visits`` (numbered from 1), in :data:`VISIT_HEADER`'s order."""
    return [
        [
            number,
            v.get("campaign_name") or "",
            v.get("community_code") or "",
            v.get("cell_code") or "",
            v.get("target_name") or "",
            v.get("address") or "",
            v.get("visitor_name") or v.get("logged_by") or "",
            _time(v.get("visited_at")),
            v.get("note") or "",
            v.get("photos") or 0,
            v.get("problems") or 0,
            v.get("lon"),
            v.get("lat"),
            v.get("accuracy"),
        ]
        for number, v in enumerate(visits, start=1)
    ]


def _write(
    target: Path | BinaryIO,
    header: Sequence[str],
    rows: list[list[Any]],
    points: list[tuple[float | None, float | None]],
    *,
    fmt: str,
    sheet: str,
) -> int:
    if fmt not in LEDGER_FORMATS:
        raise ValueError(f"`fmt` was {fmt!r} but is expected to be one of {list(LEDGER_FORMATS)}")
    if fmt == "xlsx":
        write_xlsx(target, header, rows, sheet=sheet)
    elif fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([[safe_csv_value(v) for v in row] for row in rows])
        data = text.getvalue().encode("utf-8-sig")
        if isinstance(target, Path):
            target.write_bytes(data)
        else:
            target.write(data)
    else:
        import geopandas as gpd
        import shapely

        frame = gpd.GeoDataFrame(
            [dict(zip(header, row, strict=True)) for row in rows],
            columns=list(header),
            geometry=[None if x is None or y is None else shapely.Point(x, y) for x, y in points],
            crs="EPSG:4326",
        )
        if isinstance(target, Path):
            frame.to_file(target, driver="GPKG", layer=sheet)
        else:
            raise ValueError("a GeoPackage is written to a path")
    return len(rows)


def write_ledger(target: Path | BinaryIO, entries: Sequence[Mapping[str, Any]], *, fmt: str) -> int:
    """Write the 台账 of ``entries`` as ``fmt`` (xlsx, csv, gpkg: points at the targets'
    buildings); return how many rows were written."""
    points = [(e.get("target_lon"), e.get("target_lat")) for e in entries]
    return _write(target, LEDGER_HEADER, ledger_rows(entries), points, fmt=fmt, sheet="台账")


def write_visits(target: Path | BinaryIO, visits: Sequence[Mapping[str, Any]], *, fmt: str) -> int:
    """Write ``visits`` as ``fmt`` (xlsx, csv, gpkg: points where the phones were); return
    how many rows were written."""
    points = [(v.get("lon"), v.get("lat")) for v in visits]
    return _write(target, VISIT_HEADER, visit_rows(visits), points, fmt=fmt, sheet="走访记录")


# --- the register of key households (read back by ``gridgis import residents``) -------------

RESIDENT_COLUMNS: tuple[str, ...] = (
    "id", "name", "phone", "categories", "building", "address", "unit", "room", "note",
    "community",
)  # fmt: skip
"""The columns of a key households export, in order: the importer's fields (categories
in Chinese, joined by 、) and the community (where the data belongs; not read back)."""

_RESIDENT_DESCRIPTIONS = {
    "id": "编号 / household id (external id; the database id when it has none)",
    "name": "户主 / head of household",
    "categories": "类别 / categories (、-separated)",
    "building": "楼栋编号 / building id",
    "room": "房号 / room",
    "note": "备注 / note",
    "community": "所在社区编码 / community (not read back)",
}


def read_residents(conn: Any, within: str | None, spec: Any, fmt: str) -> Any:
    """The key households in the area ``within`` as one point layer (their buildings' points)."""
    import numpy as np
    import pandas as pd
    import shapely
    from sqlalchemy import func, select

    from gridgis.db.models import Building, HouseholdCategory, ResidentHousehold
    from gridgis.export.layers import _Layer

    names = dict(conn.execute(select(HouseholdCategory.code, HouseholdCategory.name_zh)).all())
    query = (
        select(
            ResidentHousehold.id, ResidentHousehold.external_id, ResidentHousehold.head_name,
            ResidentHousehold.phone, ResidentHousehold.categories,
            Building.external_id.label("building"), ResidentHousehold.address,
            ResidentHousehold.unit, ResidentHousehold.room, ResidentHousehold.note,
            ResidentHousehold.community_code,
            func.ST_AsBinary(Building.location).label("location"),
        )
        .outerjoin(Building, Building.id == ResidentHousehold.building_id)
        .order_by(ResidentHousehold.id)
    )  # fmt: skip
    if within is not None:
        query = query.where(ResidentHousehold.community_code.startswith(within, autoescape=True))
    rows = conn.execute(query).all()
    frame = pd.DataFrame(
        {
            "id": [r.external_id or str(r.id) for r in rows],
            "name": [r.head_name for r in rows],
            "phone": [r.phone for r in rows],
            "categories": ["、".join(names.get(c, c) for c in r.categories) or None for r in rows],
            "building": [r.building for r in rows],
            "address": [r.address for r in rows],
            "unit": [r.unit for r in rows],
            "room": [r.room for r in rows],
            "note": [r.note for r in rows],
            "community": [r.community_code for r in rows],
        },
        columns=list(RESIDENT_COLUMNS),
        dtype=object,
    )
    location = np.asarray(
        [None if r.location is None else shapely.from_wkb(r.location) for r in rows], dtype=object
    )
    return _Layer("residents", frame, location, "Point", dict(_RESIDENT_DESCRIPTIONS))
