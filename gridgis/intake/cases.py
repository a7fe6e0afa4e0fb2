"""Importing cases: check every row, place it (coordinates, else address), store it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import BigInteger, Connection, any_, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY

from gridgis.cases.categories import CaseCategories
from gridgis.crs import CRSLike, CRSSpec
from gridgis.db.models import Building, Case, CaseCategory
from gridgis.db.queries import result_frame
from gridgis.errors import NotFoundError
from gridgis.intake.checks import (
    _coordinate_reason,
    _join,
    _nul_problems,
    _numbers,
    _points,
    _times,
    crs_label,
    id_problems,
    source_crs,
)
from gridgis.intake.fields import CASE_STEPS_AFTER_REPORT, HISTORY_FIELDS, read_case_rows
from gridgis.intake.loading import _DUPLICATE_NOTE, Database, _duplicates, _run_import, say
from gridgis.intake.report import IntakeReport
from gridgis.times import DEFAULT_TIMEZONE, time_zone


def _load_categories(conn: Connection) -> pd.DataFrame:
    return result_frame(
        conn.execute(
            select(
                CaseCategory.code,
                CaseCategory.name_zh,
                CaseCategory.name_en,
                CaseCategory.deadline_hours,
            ).order_by(CaseCategory.code)
        )
    )


def _category_codes(values: pd.Series, categories: pd.DataFrame) -> tuple[pd.Series, str]:
    """Category codes by :class:`gridgis.cases.CaseCategories`' rule; None when unknown."""
    known = CaseCategories(categories[["code", "name_zh", "name_en"]].itertuples(index=False))
    codes = [known.code_of(v) for v in values]
    return pd.Series(codes, dtype=object), known.listing()


def _check_cases(
    rows: pd.DataFrame,
    categories: pd.DataFrame,
    *,
    timezone: str,
    now: pd.Timestamp,
) -> pd.DataFrame:
    """Parse and check every row; ``reason`` says why a row is rejected (``None``: fine)."""
    checked = pd.DataFrame({"row": rows["row"].to_numpy(), "external_id": rows["external_id"]})
    codes, known = _category_codes(rows["category"], categories)
    checked["category_code"] = codes
    checked["reported_at"], time_reasons = _times(
        rows, "time", what="time", required=True, timezone=timezone, now=now
    )
    history_reasons = _check_history(rows, checked, timezone=timezone, now=now)
    hours = codes.map(dict(zip(categories["code"], categories["deadline_hours"], strict=True)))
    checked["deadline"] = checked["reported_at"] + pd.to_timedelta(hours.astype(float), unit="h")
    x, y, given, numeric = _numbers(rows["x"], rows["y"])
    checked["x"], checked["y"], checked["has_xy"] = x, y, numeric
    id_reasons, checked["repeated_id"] = id_problems(rows)
    categories_given = rows["category"].tolist()
    code_list = codes.tolist()
    notes_in = rows["location_note"].tolist()
    raw_x, raw_y = rows["x"].tolist(), rows["y"].tolist()
    has_address = rows["address"].notna().to_numpy()
    nul_reasons = _nul_problems(
        rows, ("external_id", "category", "description", "address", "source", "reported_by")
    )
    reasons: list[str | None] = []
    notes: list[str | None] = []
    # One pass to word the reasons of each row; the checks above are vectorised.
    for i in range(len(rows)):
        problems: list[str | None] = [id_reasons[i], nul_reasons[i]]
        if categories_given[i] is None:
            problems.append("category missing")
        elif code_list[i] is None or code_list[i] != code_list[i]:
            problems.append(f"unknown category {categories_given[i]!r} (known: {known})")
        problems.append(time_reasons[i])
        problems.append(history_reasons[i])
        coordinate_problem = None
        if given[i] and not numeric[i]:
            coordinate_problem = _coordinate_reason(raw_x[i], raw_y[i])
        elif notes_in[i] and not numeric[i]:
            coordinate_problem = notes_in[i]
        if not numeric[i] and not has_address[i]:
            problems.append(f"{coordinate_problem or 'no coordinates'} and no address")
        reasons.append(_join(*problems))
        notes.append(coordinate_problem)
    checked["reason"] = pd.Series(reasons, dtype=object)
    checked["coordinate_note"] = pd.Series(notes, dtype=object)
    return checked


_STEP_WORDS = {
    "reported": "reported",
    "registered": "registered (立案)",
    "dispatched": "dispatched (派遣)",
    "handled": "handled (处置)",
    "verified": "verified (核查)",
    "closed": "closed (结案)",
    "rejected": "rejected (作废)",
}


def _check_history(
    rows: pd.DataFrame, checked: pd.DataFrame, *, timezone: str, now: pd.Timestamp
) -> list[str | None]:
    """Parse the later steps' times into ``checked`` (``registered_at`` …) and say, per row,
    why its history cannot be stored: a time that is not one, a step without the one
    before it or earlier than it, a case both closed and rejected (the database's rules)."""
    n = len(rows)
    problems: list[list[str]] = [[] for _ in range(n)]
    for step in CASE_STEPS_AFTER_REPORT:
        times, reasons = _times(
            rows, f"{step}_at", what=f"{step} time", required=False, timezone=timezone, now=now
        )
        checked[f"{step}_at"] = times
        for i in np.flatnonzero(pd.notna(np.asarray(reasons, dtype=object))):
            problems[i].append(str(reasons[i]))
    # Each step needs the one before it, no earlier in time (vectorised; worded per bad row).
    chain = ("reported", *CASE_STEPS_AFTER_REPORT[:-1])
    for before, after in itertools.pairwise(chain):
        earlier, later = checked[f"{before}_at"], checked[f"{after}_at"]
        missing = (later.notna() & earlier.isna()).to_numpy()
        backwards = (later.notna() & earlier.notna() & (later < earlier)).to_numpy()
        for i in np.flatnonzero(missing):
            problems[i].append(f"{_STEP_WORDS[after]} time without a {_STEP_WORDS[before]} time")
        for i in np.flatnonzero(backwards):
            problems[i].append(
                f"{_STEP_WORDS[after]} time is before the {_STEP_WORDS[before]} time"
            )
    rejected, closed = checked["rejected_at"], checked["closed_at"]
    for i in np.flatnonzero((rejected.notna() & closed.notna()).to_numpy()):
        problems[i].append("a case cannot be both closed and rejected")
    early = rejected.notna() & checked["reported_at"].notna() & (rejected < checked["reported_at"])
    for i in np.flatnonzero(early.to_numpy()):
        problems[i].append("rejected (作废) time is before the time reported")
    return [_join(*p) if p else None for p in problems]


def _building_points(conn: Connection, ids: Iterable[int]) -> pd.DataFrame:
    wanted = literal([int(i) for i in ids], ARRAY(BigInteger))
    result = conn.execute(
        select(Building.id, func.ST_X(Building.location), func.ST_Y(Building.location)).where(
            Building.id == any_(wanted)
        )
    )
    return result_frame(result, columns=["id", "lon", "lat"]).set_index("id")


class _Placement:
    """Where each case row goes, column by column (numpy arrays, filled by masks)."""

    def __init__(self, n: int) -> None:
        self.outcome = np.full(n, None, dtype=object)
        self.located_by = np.full(n, None, dtype=object)
        self.flag = np.full(n, None, dtype=object)
        self.lon = np.full(n, np.nan)
        self.lat = np.full(n, np.nan)
        self.cell_id = np.full(n, -1, dtype=np.int64)
        self.cell_code = np.full(n, None, dtype=object)
        self.community_code = np.full(n, None, dtype=object)
        self.street_code = np.full(n, None, dtype=object)
        self.building_id = np.full(n, -1, dtype=np.int64)
        self.match_score = np.full(n, np.nan)
        self.note = np.full(n, None, dtype=object)

    def point(self, positions: NDArray[np.intp], found: pd.DataFrame) -> None:
        """Rows at ``positions`` are at the points ``found`` (a :func:`locate` result)."""
        self.lon[positions] = found["lon"].to_numpy(dtype=float)
        self.lat[positions] = found["lat"].to_numpy(dtype=float)

    def place(self, positions: NDArray[np.intp], found: pd.DataFrame, located_by: str) -> None:
        """Rows at ``positions`` are in the cells ``found`` (a :func:`locate` result)."""
        self.outcome[positions] = located_by
        self.located_by[positions] = located_by
        self.point(positions, found)
        self.cell_id[positions] = found["cell_id"].to_numpy(dtype=np.int64, na_value=-1)
        self.cell_code[positions] = found["cell_code"].to_numpy(dtype=object)
        self.community_code[positions] = found["community_code"].to_numpy(dtype=object)
        self.street_code[positions] = found["street_code"].to_numpy(dtype=object)

    def clear(self, mask: NDArray[np.bool_]) -> None:
        """Forget where the rows in ``mask`` would go (rejected or duplicate rows)."""
        for name in ("located_by", "flag", "cell_code", "community_code", "street_code"):
            getattr(self, name)[mask] = None
        self.lon[mask] = self.lat[mask] = self.match_score[mask] = np.nan
        self.cell_id[mask] = self.building_id[mask] = -1


def _nullable_ids(values: NDArray[np.int64]) -> pd.arrays.IntegerArray:
    """Ids as a nullable integer array; negative values (no id) become <NA>."""
    return pd.arrays.IntegerArray(np.where(values >= 0, values, 0), mask=values < 0)


def _locate_cases(
    conn: Connection,
    checked: pd.DataFrame,
    addresses: pd.Series,
    todo: NDArray[np.bool_],
    spec: CRSSpec,
    progress: Callable[[str], None] | None,
) -> _Placement:
    """Place the rows in ``todo``: coordinates first, then the address."""
    from gridgis.db.locate import load_cell_index
    from gridgis.geocode import locate

    n = len(checked)
    placed = _Placement(n)
    say(progress, "loading the cells")
    index = load_cell_index(conn)
    coordinate_flag = np.full(n, None, dtype=object)
    coordinate_reason = np.full(n, None, dtype=object)
    by_xy = np.flatnonzero(todo & checked["has_xy"].to_numpy(dtype=bool))
    if by_xy.size:
        say(progress, f"locating {by_xy.size} rows by their coordinates")
        found = locate(
            index, checked["x"].to_numpy()[by_xy], checked["y"].to_numpy()[by_xy], crs=spec
        )
        ok = found["flag"].isna().to_numpy()
        placed.place(by_xy[ok], found[ok], "coordinates")
        coordinate_flag[by_xy[~ok]] = found.loc[~ok, "flag"].to_numpy(dtype=object)
        coordinate_reason[by_xy[~ok]] = found.loc[~ok, "reason"].to_numpy(dtype=object)
        placed.point(by_xy[~ok], found[~ok])
    has_address = addresses.notna().to_numpy()
    address_reason = np.full(n, None, dtype=object)
    matched = np.zeros(n, dtype=bool)
    need = np.flatnonzero(todo & has_address & pd.isna(placed.outcome))
    if need.size:
        from gridgis.address import load_address_book, match_addresses

        say(progress, f"matching {need.size} addresses")
        book = load_address_book(conn)
        matches = match_addresses(book, addresses.iloc[need].tolist())
        placed.match_score[need] = matches["score"].to_numpy(dtype=float)
        address_reason[need] = matches["reason"].to_numpy(dtype=object)
        hit = matches["building_id"].notna().to_numpy()
        hits = need[hit]
        if hits.size:
            buildings = matches["building_id"].to_numpy(dtype=np.int64, na_value=-1)[hit]
            points = _building_points(conn, buildings).reindex(buildings)
            found = locate(index, points["lon"].to_numpy(), points["lat"].to_numpy(), crs="wgs84")
            placed.building_id[hits] = buildings
            matched[hits] = True
            ok = found["flag"].isna().to_numpy()
            placed.place(hits[ok], found[ok], "address")
            # A building in no active cell (e.g. its cell was retired without a successor).
            off = hits[~ok]
            placed.outcome[off] = "flagged"
            placed.located_by[off] = "address"
            placed.flag[off] = found.loc[~ok, "flag"].to_numpy(dtype=object)
            placed.point(off, found[~ok])
            placed.note[off] = [
                f"the address matched building {b}, which is in no cell: {r}"
                for b, r in zip(buildings[~ok], found.loc[~ok, "reason"], strict=True)
            ]
    # What is left: flagged by its coordinates, else an unmatched address, else rejected.
    left = todo & pd.isna(placed.outcome)
    by_flag = left & np.isin(coordinate_flag, ["outside", "gap", "swapped", "outside_china"])
    placed.outcome[by_flag] = "flagged"
    placed.flag[by_flag] = coordinate_flag[by_flag]
    kept_point = by_flag & np.isin(coordinate_flag, ["outside", "gap"])
    placed.located_by[kept_point] = "coordinates"
    unmatched = left & ~by_flag & has_address
    placed.outcome[unmatched] = "flagged"
    placed.flag[unmatched] = "unmatched"
    unusable = left & ~by_flag & ~has_address
    placed.outcome[unusable] = "rejected"
    placed.lon[~kept_point & left] = np.nan
    placed.lat[~kept_point & left] = np.nan
    coordinate_note = checked["coordinate_note"].to_numpy(dtype=object)
    address_list = addresses.tolist()
    x, y = checked["x"].to_numpy(), checked["y"].to_numpy()
    explain = left | (matched & (pd.notna(coordinate_flag) | pd.notna(coordinate_note)))
    # Each row left over, or placed by address despite coordinates, gets its own sentence.
    for i in np.flatnonzero(explain):
        address_part = (
            f"address {address_list[i]!r} not matched: {address_reason[i]}"
            if has_address[i] and not matched[i]
            else None
        )
        coordinates_part = coordinate_note[i] or (
            f"coordinates ({x[i]:.10g}, {y[i]:.10g}) not used: {coordinate_reason[i]}"
            if coordinate_reason[i]
            else None
        )
        if by_flag[i]:
            placed.note[i] = _join(coordinate_reason[i], address_part)
        elif unusable[i]:
            placed.note[i] = f"{coordinates_part} and there is no address"
        else:
            placed.note[i] = _join(placed.note[i], coordinates_part, address_part)
    return placed


def import_cases(
    engine: Database,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    category_field: str | None = None,
    time_field: str | None = None,
    description_field: str | None = None,
    address_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    source_field: str | None = None,
    reported_by_field: str | None = None,
    history_fields: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> IntakeReport:
    """Import the cases of a file, all in one transaction, and report on every row.

    Each row is checked (external id present and unique in the file, category
    known by code or name, time readable and from 1949-10-01 to tomorrow, no
    NUL character in its text), skipped as a ``duplicate`` when its
    external id is already stored, then placed: by its coordinates in the
    cells active now, else by matching its address to a building. Rows that
    cannot be placed are stored ``flagged``; rows that cannot be stored are
    ``rejected``. The deadline is the time reported plus the category's
    ``deadline_hours``; cases start at step 上报 (reported), unless the file gives
    their history: the times (and actors) of the later steps, 立案 registered, 派遣
    dispatched, 处置 handled, 核查 verified, 结案 closed or 作废 rejected, as a year of
    cases from a former system has them. A case is then stored at the step it had
    reached; a row whose history breaks the lifecycle (a step without the one before
    it, or earlier than it; closed and rejected) is ``rejected`` with the reason.

    Parameters
    ----------
    engine:
        The database; or a connection inside the caller's transaction (the import runs
        in a savepoint of it, see :func:`gridgis.intake.loading.run_import`).
    path:
        The file (CSV, ``.xlsx``, GeoJSON, shapefile, GeoPackage).
    crs:
        The system of the coordinates (``wgs84``, ``gcj02``, ``bd09``,
        ``EPSG:nnnn``); default the vector file's own, else ``wgs84``.
    id_field, category_field, time_field, description_field, address_field, x_field, y_field, \
source_field, reported_by_field:
        Field names; see :func:`read_case_rows` for what is looked for when not given.
    history_fields:
        Fields of the later steps by name (``{"closed_at": "办结时间"}``); see
        :func:`read_case_rows` (``立案时间``, ``结案人``... are found without it).
    encoding, sheet, layer:
        See :func:`read_table`.
    timezone:
        Time zone of times written without one.
    dry_run:
        Do everything, then roll back.
    progress:
        Called with a short message at each phase.
    actor:
        Who imports (``cli:<login>``, a user's name). The audit trail gets one row
        for the whole import (file name and counts), not one per row.

    Returns
    -------
    IntakeReport
        ``counts`` add up: ``coordinates + address + flagged + rejected +
        duplicate == rows_read``.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError
        When the file cannot be read or a field is missing; nothing is imported.
    ConflictError
        When another import stored some of the same external ids meanwhile;
        nothing is imported.
    DatabaseError
        When the database refuses the rows; nothing is imported.

    Examples
    --------
    >>> report = import_cases(engine, "cases.xlsx", crs="gcj02", actor="cli:li")  # doctest: +SKIP
    >>> report.flags  # doctest: +SKIP
    {'outside': 2, 'unmatched': 3}
    """
    time_zone(timezone)
    say(progress, f"reading {path}")
    rows = read_case_rows(
        path,
        id_field=id_field,
        category_field=category_field,
        time_field=time_field,
        description_field=description_field,
        address_field=address_field,
        x_field=x_field,
        y_field=y_field,
        source_field=source_field,
        reported_by_field=reported_by_field,
        history_fields=history_fields,
        encoding=encoding,
        sheet=sheet,
        layer=layer,
    )
    spec = source_crs(rows.attrs, crs, uses_file_crs=x_field is None)
    now = pd.Timestamp.now(tz="UTC")

    def body(conn: Connection) -> pd.DataFrame:
        categories = _load_categories(conn)
        if categories.empty:
            raise NotFoundError(
                "the database has no case categories (table case_category): "
                "run `gridgis db upgrade`",
                zh="数据库中没有事件类别（case_category 表）：请运行 `gridgis db upgrade`",
            )
        checked = _check_cases(rows, categories, timezone=timezone, now=now)
        ids = checked["external_id"]
        repeated = checked["repeated_id"].to_numpy(dtype=bool)
        duplicate = _duplicates(conn, Case.external_id, ids, repeated)
        rejected = checked["reason"].notna().to_numpy() & ~duplicate
        todo = ~duplicate & ~rejected
        placed = _locate_cases(conn, checked, rows["address"], todo, spec, progress)
        placed.clear(rejected | duplicate)
        placed.outcome[duplicate] = "duplicate"
        placed.note[duplicate] = _DUPLICATE_NOTE
        placed.outcome[rejected] = "rejected"
        placed.note[rejected] = checked["reason"].to_numpy(dtype=object)[rejected]
        report_rows = pd.DataFrame(
            {
                "row": checked["row"].to_numpy(),
                "external_id": pd.Series(ids.to_numpy(dtype=object), dtype=object),
                "outcome": pd.Series(placed.outcome, dtype=object),
                "flag": pd.Series(placed.flag, dtype=object),
                "reason": pd.Series(placed.note, dtype=object),
                "cell_code": pd.Series(placed.cell_code, dtype=object),
                "match_score": np.round(placed.match_score, 3),
            }
        )
        store = np.flatnonzero(np.isin(placed.outcome, ["coordinates", "address", "flagged"]))
        if store.size:
            say(progress, f"storing {store.size} cases")
            _store_cases(conn, rows, checked, placed, store, spec)
        return report_rows

    return _run_import(engine, "cases", rows, spec, body, dry_run=dry_run, actor=actor)


def _store_cases(
    conn: Connection,
    rows: pd.DataFrame,
    checked: pd.DataFrame,
    placed: _Placement,
    store: NDArray[np.intp],
    spec: CRSSpec,
) -> None:
    from gridgis.db.bulk import copy_rows

    has_xy = checked["has_xy"].to_numpy(dtype=bool)[store]
    raw_crs = np.full(store.size, None, dtype=object)
    raw_crs[has_xy] = crs_label(spec)

    def texts(column: str) -> NDArray[np.object_]:
        return rows[column].to_numpy(dtype=object)[store]

    frame = pd.DataFrame(
        {
            "external_id": checked["external_id"].to_numpy(dtype=object)[store],
            "category_code": checked["category_code"].to_numpy(dtype=object)[store],
            "description": texts("description"),
            "source": texts("source"),
            "address": texts("address"),
            "geom": _points(placed.lon[store], placed.lat[store]),
            "raw_x": np.where(has_xy, checked["x"].to_numpy(dtype=float)[store], np.nan),
            "raw_y": np.where(has_xy, checked["y"].to_numpy(dtype=float)[store], np.nan),
            "raw_crs": raw_crs,
            "cell_id": _nullable_ids(placed.cell_id[store]),
            "community_code": placed.community_code[store],
            "street_code": placed.street_code[store],
            "located_by": placed.located_by[store],
            "location_flag": placed.flag[store],
            "building_id": _nullable_ids(placed.building_id[store]),
            "match_score": placed.match_score[store],
            "deadline": checked["deadline"].iloc[store].reset_index(drop=True),
            "reported_at": checked["reported_at"].iloc[store].reset_index(drop=True),
            "reported_by": texts("reported_by"),
        }
    )
    for field in HISTORY_FIELDS:
        if field.endswith("_at"):
            frame[field] = checked[field].iloc[store].reset_index(drop=True)
        else:
            frame[field] = texts(field)
    copy_rows(conn, "case_record", frame, geometry={"geom": None})
