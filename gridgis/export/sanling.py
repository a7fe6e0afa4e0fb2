"""Exporting the 三零 figures: one row per community and period (``gridgis export sanling``).

A row names the community (code and name) and its street, the period (its label, first
and last day), the three counts — petitions (``petition``, 上访), safety accidents
(``accident``, 安全事故), public-security cases (``security``, 治安案件) — their total,
and the status (``status``: 三零 when all three are zero, else 未达标). Formats: ``xlsx``
and ``csv`` (a table) and ``gpkg`` (the communities' outlines with the same columns).
The figures are :func:`gridgis.party.sanling.sanling_figures`'.

Examples
--------
>>> import io
>>> rows = export_sanling(engine, "2025-Q1", "csv", io.BytesIO())
>>> rows > 0
True
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, func, select

from gridgis.db.models import Community
from gridgis.db.queries import connection
from gridgis.errors import InputError
from gridgis.export.layers import _Layer
from gridgis.export.writers import _write_csv, _write_gpkg, _write_xlsx, deliver
from gridgis.party.sanling import parse_period, sanling_figures

__all__ = ["SANLING_EXPORT_COLUMNS", "SANLING_FORMATS", "export_sanling"]

SANLING_FORMATS: tuple[str, ...] = ("xlsx", "csv", "gpkg")
"""The formats of a 三零 export."""

SANLING_EXPORT_COLUMNS: tuple[str, ...] = (
    "community_code", "community", "street_code", "street", "period", "since", "until",
    "petition", "accident", "security", "total", "status",
)  # fmt: skip
"""The columns of a 三零 export, in order."""

STATUS_NAMES: dict[bool, str] = {True: "三零", False: "未达标"}
"""The status a row names: 三零 (all three figures zero) or 未达标 (not)."""

_DESCRIPTIONS = {
    "community_code": "社区编码 / community code",
    "community": "社区 / community",
    "street_code": "街道编码 / street code",
    "street": "街道 / street",
    "period": "统计期 / period",
    "since": "起始日 / first day",
    "until": "截止日 / last day",
    "petition": "上访 / petitions",
    "accident": "安全事故 / safety accidents",
    "security": "治安案件 / public-security cases",
    "total": "合计 / total",
    "status": "状态 (三零 / 未达标) / status",
}


def _outlines(conn: Connection, codes: list[str]) -> np.ndarray:
    rows: dict[str, bytes | None] = dict(
        conn.execute(
            select(Community.code, func.ST_AsBinary(Community.geom)).where(
                Community.code.in_(codes)
            )
        ).all()
    )
    return np.asarray(
        [None if rows.get(c) is None else shapely.from_wkb(rows[c]) for c in codes], dtype=object
    )


def export_sanling(
    bind: Engine | Connection,
    period: str,
    fmt: str,
    out: Path | str | BinaryIO,
    *,
    within: str | None = None,
    encoding: str = "utf-8",
) -> int:
    """Write the 三零 figures of ``period`` for the communities of ``within`` to ``out``.

    Parameters
    ----------
    bind:
        The database.
    period:
        See :func:`gridgis.party.sanling.parse_period`.
    fmt:
        ``xlsx``, ``csv`` or ``gpkg``.
    out:
        A path, or a binary file open for writing.
    within:
        A district, street or community code (``None``: every community).
    encoding:
        ``utf-8`` or ``gbk``: the text of a CSV file.

    Returns
    -------
    int
        The rows (communities) written.

    Raises
    ------
    InputError
        For a format, encoding or period not allowed.
    """
    if fmt not in SANLING_FORMATS:
        raise InputError(
            f"`fmt` was {fmt!r} but is expected to be one of {list(SANLING_FORMATS)}",
            field="fmt",
            zh=f"`fmt` 为 {fmt!r}，应为以下之一：{list(SANLING_FORMATS)}",
        )
    if encoding not in ("utf-8", "gbk") or (encoding != "utf-8" and fmt != "csv"):
        raise InputError(
            f"`encoding` was {encoding!r} but only a CSV file can be written in gbk (else utf-8)",
            field="encoding",
            zh=f"`encoding` 为 {encoding!r}，只有 CSV 文件可以用 gbk 编码（其他格式用 utf-8）",
        )
    chosen = parse_period(period)
    with connection(bind) as conn:
        figures = sanling_figures(conn, chosen, within=within)
        outlines = _outlines(conn, figures["community_code"].tolist()) if fmt == "gpkg" else None
    frame = figures.assign(
        since=[d.isoformat() for d in figures["since"]],
        until=[d.isoformat() for d in figures["until"]],
        status=[STATUS_NAMES[bool(s)] for s in figures["sanling"]],
    )[list(SANLING_EXPORT_COLUMNS)]
    frame = pd.DataFrame(frame).reset_index(drop=True)
    if outlines is None:
        layer = _Layer("sanling", frame, np.full(len(frame), None, dtype=object), "None",
                       dict(_DESCRIPTIONS))  # fmt: skip
    else:
        layer = _Layer("sanling", frame, outlines, "MultiPolygon", dict(_DESCRIPTIONS))
    suffix = "." + fmt
    with tempfile.TemporaryDirectory(prefix="gridgis-sanling-") as folder:
        target = Path(folder) / ("sanling" + suffix)
        if fmt == "csv":
            _write_csv([layer], target, encoding)
        elif fmt == "xlsx":
            _write_xlsx([layer], target, "三零社区")
        else:
            _write_gpkg([layer], target, "EPSG:4326")
        deliver(target, out)
    return len(frame)
