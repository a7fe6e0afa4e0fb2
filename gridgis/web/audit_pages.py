"""The audit trail for administrators (审计日志): a page and its export.

Routes
------
``GET /admin/audit?actor=&object_type=&object_id=&since=&until=&page=``
    The rows of the audit trail (:func:`gridgis.audit.read_audit`), newest first,
    :data:`PAGE_SIZE` to a page, with a form for the filters. ``since`` and ``until``
    are days (``2026-03-01``) or times (``2026-03-01T08:30``) in China Standard Time;
    ``until`` a day includes that day.
``GET /admin/audit.csv``, ``GET /admin/audit.xlsx``
    The same rows (same filters, at most :data:`EXPORT_LIMIT`) as a file; every cell
    is made by :mod:`gridgis.sheets`, so no text opens as a formula.

Administrators only (``roles_required("admin")``); a bad filter is a 400 naming it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pandas as pd
from flask import Blueprint, Response, render_template, request, url_for

from gridgis.audit import COLUMNS, read_audit
from gridgis.errors import InputError
from gridgis.sheets import safe_csv_frame, write_xlsx
from gridgis.times import CHINA_TZ, to_display
from gridgis.web.auth import roles_required
from gridgis.web.db import get_engine

__all__ = ["EXPORT_LIMIT", "PAGE_SIZE", "bp"]

bp = Blueprint("audit_pages", __name__)

PAGE_SIZE = 50
"""Rows on one page."""
EXPORT_LIMIT = 10_000
"""Rows in one exported file at most (the newest)."""
FILTERS: tuple[str, ...] = ("actor", "object_type", "object_id", "since", "until")
_MAX_FILTER = 200


def _filters() -> dict[str, Any]:
    """The filters given in the query, trimmed (empty ones left out)."""
    found: dict[str, Any] = {}
    for name in FILTERS:
        value = request.args.get(name, "").strip()
        if len(value) > _MAX_FILTER:
            raise InputError(
                f"`{name}` is {len(value)} characters long; at most {_MAX_FILTER}",
                zh=f"`{name}` 有 {len(value)} 个字符；最多 {_MAX_FILTER} 个",
            )
        if value:
            found[name] = value
    return found


def _time(value: str | None, name: str, *, end: bool) -> dt.datetime | None:
    """A day or a time at +08:00; a day as ``until`` means the end of that day."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"`{name}` was {value!r} but is expected to be a day such as 2026-03-01 "
            "or a time such as 2026-03-01T08:30",
            zh=f"`{name}` 为 {value!r}，应为日期（例如 2026-03-01）或时间（例如 2026-03-01T08:30）",
        ) from None
    day_only = len(value) == 10
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=CHINA_TZ)
    return parsed + dt.timedelta(days=1) if end and day_only else parsed


def _query(filters: dict[str, Any], *, limit: int, offset: int) -> pd.DataFrame:
    return read_audit(
        get_engine(),
        actor=filters.get("actor"),
        object_type=filters.get("object_type"),
        object_id=filters.get("object_id"),
        since=_time(filters.get("since"), "since", end=False),
        until=_time(filters.get("until"), "until", end=True),
        limit=limit,
        offset=offset,
    )


def _page_number() -> int:
    text = request.args.get("page", "1").strip() or "1"
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise InputError(
            f"`page` was {text!r} but is expected to be a whole number from 1",
            zh=f"`page`（页码）为 {text!r}，应为从 1 起的整数",
        )
    return int(text)


def _summary_text(summary: Any) -> str:
    return json.dumps(summary, ensure_ascii=False, sort_keys=True) if summary else ""


@bp.get("/admin/audit")
@roles_required("admin")
def audit_page() -> str:
    """The audit trail, filtered and paged."""
    filters = _filters()
    page = _page_number()
    frame = _query(filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    more = len(frame) > PAGE_SIZE
    rows = [
        {**row, "summary_text": _summary_text(row["summary"])}
        for row in frame.head(PAGE_SIZE).to_dict("records")
    ]
    return render_template(
        "audit.html",
        rows=rows,
        filters=filters,
        page=page,
        previous_url=url_for(".audit_page", **filters, page=page - 1) if page > 1 else None,
        next_url=url_for(".audit_page", **filters, page=page + 1) if more else None,
        csv_url=url_for(".audit_csv", **filters),
        xlsx_url=url_for(".audit_xlsx", **filters),
    )


def _export_frame() -> pd.DataFrame:
    frame = _query(_filters(), limit=EXPORT_LIMIT, offset=0)
    out = frame[list(COLUMNS)].copy()
    out["at"] = [to_display(value) for value in frame["at"]]
    out["summary"] = [_summary_text(value) for value in frame["summary"]]
    return out.astype(object).where(out.notna(), None)


def _download(body: bytes, mimetype: str, suffix: str) -> Response:
    name = f"audit-{dt.datetime.now(CHINA_TZ):%Y%m%d-%H%M}.{suffix}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/admin/audit.csv")
@roles_required("admin")
def audit_csv() -> Response:
    """The filtered audit trail as CSV (UTF-8 with a byte-order mark, for Excel)."""
    text = safe_csv_frame(_export_frame()).to_csv(index=False)
    return _download(("\ufeff" + text).encode("utf-8"), "text/csv", "csv")


@bp.get("/admin/audit.xlsx")
@roles_required("admin")
def audit_xlsx() -> Response:
    """The filtered audit trail as an Excel workbook."""
    frame = _export_frame()
    buffer = io.BytesIO()
    write_xlsx(buffer, list(frame.columns), frame.itertuples(index=False), sheet="audit")
    return _download(
        buffer.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    )
