"""Bulk import of cases (事件) and inspections (巡查) from files, with a report on every row.

Files come as CSV (UTF-8 with or without BOM, or GBK: detected strictly,
never guessed into mojibake; ``encoding`` overrides), Excel ``.xlsx``,
GeoJSON, shapefile or GeoPackage. Every row ends in exactly one outcome:

``coordinates``
    stored, placed in a cell by its coordinates;
``address``
    stored, placed in a cell by matching its address to a building (the
    point is the building's ``location``);
``flagged``
    stored without a cell, with ``location_flag`` ``outside`` (outside the
    district), ``gap`` (inside it but in no cell), ``swapped`` (lat, lon
    given as lon, lat), ``outside_china`` or ``unmatched`` (an address that
    matched no building). Nothing locatable is ever dropped;
``rejected``
    not stored: the row number and the reason are reported (unknown
    category, a time that is not a date or not plausible (before 1949-10-01
    or after tomorrow), a missing or repeated external id, text with a NUL
    character, a geometry that cannot be built such as a line of one vertex,
    coordinates that are not numbers and no address...);
``duplicate``
    its external id is already in the database: nothing is added, so
    importing the same file twice changes nothing the second time.

Coordinates come first; the address is tried when the coordinates are
missing, unusable or give no cell. An import runs in one transaction and
loads its rows with ``COPY``: it completes or changes nothing.

Row numbers are those a user sees: for CSV and Excel the header is row 1, so
the first data row is row 2 (a CSV record with a line break inside quotes
counts as one row); for GeoJSON, shapefiles and GeoPackages they are feature
numbers starting at 1. The report CSV names its first column ``row`` or
``feature`` accordingly. Times without a time zone are read in China
Standard Time, the fixed +08:00 (``Asia/Shanghai``, see :mod:`gridgis.times`),
unless ``timezone`` names another zone. A file that cannot be read at all (a
damaged ``.xlsx``...) is one :class:`~gridgis.errors.InputError` naming it.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> report = import_cases(get_engine(), "cases.csv", crs="gcj02")  # doctest: +SKIP
>>> report.counts  # doctest: +SKIP
{'rows_read': 120, 'coordinates': 97, 'address': 15, 'flagged': 5, 'rejected': 3, 'duplicate': 0}
>>> report.write_csv("cases.report.csv")  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import datetime as dt
import io
import logging
import math
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gridgis import audit
from gridgis.cases import CaseCategories
from gridgis.crs import CRSLike, CRSSpec, check_lonlat, parse_crs, to_wgs84, transform_geometry
from gridgis.db.queries import result_frame
from gridgis.errors import (
    ConflictError,
    DatabaseError,
    FileEncodingError,
    GridGISError,
    InputError,
    NotFoundError,
)
from gridgis.io import check_encoding, read_vector
from gridgis.sheets import safe_csv_frame
from gridgis.times import DEFAULT_TIMEZONE, parse_times, read_times, time_zone

logger = logging.getLogger(__name__)

__all__ = [
    "CASE_FIELDS",
    "DEFAULT_TIMEZONE",
    "INSPECTION_FIELDS",
    "OUTCOMES",
    "IntakeReport",
    "SourceTable",
    "default_report_path",
    "import_cases",
    "import_inspections",
    "parse_times",
    "read_case_rows",
    "read_inspection_rows",
    "read_table",
]

OUTCOMES: tuple[str, ...] = ("coordinates", "address", "flagged", "rejected", "duplicate")
"""What can happen to a row: exactly one of these."""

CASE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("external_id", "id", "case_id", "编号", "事件编号"),
    "category": ("category", "category_code", "类别", "事件类别", "事件类型", "类型"),
    "time": ("reported_at", "time", "上报时间", "时间"),
    "description": ("description", "描述", "事件描述", "内容"),
    "address": ("address", "地址", "事发地址"),
    "x": ("x", "lon", "lng", "longitude", "经度"),
    "y": ("y", "lat", "latitude", "纬度"),
    "source": ("source", "来源"),
    "reported_by": ("reported_by", "上报人"),
}
"""Field names looked for (case-insensitively, in this order) when a case field is not named."""

INSPECTION_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("external_id", "id", "inspection_id", "编号", "巡查编号"),
    "worker": ("worker", "worker_id", "网格员", "巡查人"),
    "time": ("started_at", "time", "开始时间", "时间"),
    "end_time": ("ended_at", "end_time", "结束时间"),
    "x": ("x", "lon", "lng", "longitude", "经度"),
    "y": ("y", "lat", "latitude", "纬度"),
}
"""Field names looked for when an inspection field is not named (tracks are never guessed)."""

_FLAG_ORDER: tuple[str, ...] = ("outside", "gap", "swapped", "outside_china", "unmatched")
_TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "excel", ".xlsm": "excel"}
_MAX_LISTED = 5


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceTable:
    """A file read as a table of fields, numbered as the user sees it.

    Attributes
    ----------
    path:
        The file.
    kind:
        ``"csv"``, ``"excel"`` or ``"vector"`` (GeoJSON, shapefile, GeoPackage).
    fields:
        One column per field of the file, values as read (text for CSV;
        numbers, text and datetimes for Excel and vector files), object dtype,
        RangeIndex. Entirely blank rows are left out.
    row:
        The number of each row in the file: header = row 1 for CSV/Excel,
        feature number from 1 for vector files.
    geometry:
        Shapely geometries of a vector file (``None`` where a feature has
        none), in ``crs``; ``None`` for CSV and Excel.
    crs:
        The CRS the vector file declares, if any.
    encoding:
        The text encoding a CSV file was decoded with.
    invalid_geometry:
        Position -> why, for the features of a vector file whose geometry
        could not be built (their ``geometry`` is ``None``).
    """

    path: Path
    kind: Literal["csv", "excel", "vector"]
    fields: pd.DataFrame
    row: NDArray[np.int64]
    geometry: NDArray[np.object_] | None = None
    crs: pyproj.CRS | None = None
    encoding: str | None = None
    invalid_geometry: Mapping[int, str] = field(default_factory=dict)

    @property
    def numbering(self) -> Literal["row", "feature"]:
        """``"feature"`` for vector files, ``"row"`` for CSV and Excel."""
        return "feature" if self.kind == "vector" else "row"

    @property
    def field_names(self) -> list[str]:
        """The file's field names, in order."""
        return [str(c) for c in self.fields.columns]


def _decode(data: bytes, encoding: str | None, file: Path) -> tuple[str, str]:
    """Decode a text file strictly: BOM, else UTF-8, else GBK; or the ``encoding`` given."""
    if encoding:
        name = check_encoding(encoding)
        if name == "utf-8" and data.startswith(codecs.BOM_UTF8):
            name = "utf-8-sig"
        try:
            return data.decode(name), name
        except UnicodeDecodeError as exc:
            raise FileEncodingError(
                f"cannot decode {file} as {encoding}: byte {exc.start} "
                f"({data[exc.start : exc.start + 2]!r}) is not valid there; "
                "try another `encoding` (utf-8, gbk, gb18030)"
            ) from exc
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileEncodingError(
                f"{file} starts with a UTF-8 byte order mark but is not valid UTF-8 at byte "
                f"{exc.start + 3}; save it again as UTF-8 or pass `encoding`"
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileEncodingError(f"{file} is not valid UTF-16 at byte {exc.start}") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gbk"), "gbk"
        except UnicodeDecodeError:
            raise FileEncodingError(
                f"cannot decode {file}: it is neither UTF-8 (bad byte at {utf8_error.start}) "
                "nor GBK; pass the file's `encoding` (--encoding), e.g. gb18030 or big5"
            ) from utf8_error


def _header(names: Sequence[Any], file: Path) -> list[str]:
    header = [
        str(name).strip() if name is not None and str(name).strip() else f"column_{i}"
        for i, name in enumerate(names, start=1)
    ]
    seen: dict[str, int] = {}
    repeated = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] == 2:
            repeated.append(name)
    if repeated:
        raise InputError(f"{file}: the header names these fields more than once: {repeated}")
    return header


def _blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def _table_from_records(
    records: Iterable[Sequence[Any]], file: Path
) -> tuple[pd.DataFrame, NDArray[np.int64]]:
    """Header + rows -> (fields frame, row numbers); blank rows left out, short rows padded."""
    iterator = iter(records)
    first = next(iterator, None)
    if first is None or all(_blank(v) for v in first):
        raise InputError(f"{file} has no header in its first row: the field names must be there")
    header = _header(list(first), file)
    width = len(header)
    rows: list[list[Any]] = []
    numbers: list[int] = []
    too_long: list[int] = []
    for number, record in enumerate(iterator, start=2):
        values = list(record)
        if not values or all(_blank(v) for v in values):
            continue
        if len(values) > width:
            if any(not _blank(v) for v in values[width:]):
                too_long.append(number)
            values = values[:width]
        elif len(values) < width:
            values += [None] * (width - len(values))
        rows.append(values)
        numbers.append(number)
    if too_long:
        shown = ", ".join(map(str, too_long[:10]))
        raise InputError(
            f"{file}: {len(too_long)} rows have more values than the header has fields "
            f"({width}): rows {shown}; check the delimiter and the quoting"
        )
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in header})
    return frame, np.asarray(numbers, dtype=np.int64)


def _read_csv(file: Path, encoding: str | None) -> SourceTable:
    text_value, used = _decode(file.read_bytes(), encoding, file)
    first_line = text_value.split("\n", 1)[0]
    if not first_line.strip():
        raise InputError(f"{file} has no header in its first row: the field names must be there")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text_value),
            sep=delimiter,
            dtype=object,
            na_filter=False,
            skip_blank_lines=False,
            header=None,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{file} is not a readable CSV file ({exc}); check the delimiter and the quoting"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{file} is empty") from exc
    header = _header(list(frame.iloc[0]), file)
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = header
    # Record numbers as the user sees them: the header is row 1.
    numbers = np.arange(2, len(body) + 2, dtype=np.int64)
    cleaned = {}
    for name in header:
        column = body[name].astype(object).str.strip()
        cleaned[name] = column.where(column.notna() & (column != ""), None).astype(object)
    fields = pd.DataFrame(cleaned, columns=header)
    keep = fields.notna().any(axis=1).to_numpy()
    return SourceTable(
        path=file,
        kind="csv",
        fields=fields[keep].reset_index(drop=True),
        row=numbers[keep],
        encoding=used,
    )


_EXCEL_FAILURES: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    SyntaxError,  # xml.etree's ParseError
)
"""What openpyxl raises on a corrupt or truncated .xlsx (it has no error of its own for most)."""


def _unreadable_excel(file: Path, exc: BaseException) -> InputError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(
        f"{file} is not a readable Excel .xlsx file ({detail}): it may be damaged or "
        "cut short; open it in Excel and save it again, or save it as CSV"
    )


def _read_excel(file: Path, sheet: str | None) -> SourceTable:
    import openpyxl  # type: ignore[import-untyped]
    from openpyxl.utils.exceptions import InvalidFileException  # type: ignore[import-untyped]

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it ignores; they do not matter here.
            warnings.simplefilter("ignore", UserWarning)
            book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (InvalidFileException, *_EXCEL_FAILURES) as exc:
        raise _unreadable_excel(file, exc) from exc
    try:
        if sheet is None:
            worksheet = book.worksheets[0]
        elif sheet in book.sheetnames:
            worksheet = book[sheet]
        else:
            raise InputError(
                f"`sheet` was {sheet!r} but {file.name} has the sheets {book.sheetnames}"
            )
        frame, numbers = _table_from_records(worksheet.iter_rows(values_only=True), file)
    except GridGISError:
        raise
    except _EXCEL_FAILURES as exc:  # a sheet is read (and unzipped) only while it is iterated
        raise _unreadable_excel(file, exc) from exc
    finally:
        book.close()
    return SourceTable(path=file, kind="excel", fields=frame, row=numbers)


def _read_vector_file(file: Path, encoding: str | None, layer: str | None) -> SourceTable:
    frame = read_vector(file, encoding=encoding, layer=layer, on_invalid="null")
    geometry = np.asarray(frame.geometry.array, dtype=object)
    fields = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
    fields = fields.where(fields.notna(), None).reset_index(drop=True)
    fields.columns = [str(c) for c in fields.columns]
    return SourceTable(
        path=file,
        kind="vector",
        fields=fields,
        row=np.arange(1, len(frame) + 1, dtype=np.int64),
        geometry=geometry,
        crs=frame.crs,
        encoding=frame.attrs.get("encoding"),  # a shapefile's, as read_vector decided it
        invalid_geometry=frame.attrs.get("invalid_geometry", {}),
    )


def read_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> SourceTable:
    """Read a CSV, Excel ``.xlsx`` or vector file as a table of fields.

    Parameters
    ----------
    path:
        ``.csv`` / ``.txt`` / ``.tsv`` (comma or tab separated), ``.xlsx``, or
        anything GDAL reads (``.geojson``, ``.shp``, ``.gpkg``).
    encoding:
        Text encoding of a CSV file or of a shapefile without ``.cpg``. Without
        it a CSV file is read as UTF-8 (with or without BOM) when it is valid
        UTF-8, else as GBK when it is valid GBK, else refused.
    sheet:
        Excel sheet name (default: the first sheet).
    layer:
        Layer of a multi-layer vector file.

    Returns
    -------
    SourceTable

    Raises
    ------
    NotFoundError
        When the file does not exist.
    InputError
        When it cannot be read (no header, rows longer than the header,
        an old ``.xls`` file...).
    FileEncodingError
        When its text cannot be decoded strictly.

    Examples
    --------
    >>> table = read_table("cases.csv")  # doctest: +SKIP
    >>> table.encoding, table.row[:2].tolist()  # doctest: +SKIP
    ('gbk', [2, 3])
    """
    file = Path(path)
    if not file.exists():
        raise NotFoundError(f"file {str(file)!r} does not exist")
    if file.is_dir() and file.suffix.lower() != ".gdb":
        raise InputError(f"{file} is a folder, not a file")
    suffix = file.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            f"{file} is an old Excel .xls file, which gridgis does not read: "
            "save it as .xlsx or CSV"
        )
    kind = _TABLE_SUFFIXES.get(suffix)
    if kind == "csv":
        return _read_csv(file, encoding)
    if kind == "excel":
        return _read_excel(file, sheet)
    return _read_vector_file(file, encoding, layer)


def _resolve(
    table: SourceTable,
    key: str,
    given: str | None,
    candidates: Sequence[str] = (),
    *,
    role: str | None = None,
) -> str | None:
    """The field of ``table`` for ``key``: the one given, else the first candidate found.

    The option naming it is ``<key>_field``; with a ``role`` the field is needed.
    """
    option = f"{key}_field"
    names = table.field_names
    lower = {name.lower(): name for name in names}
    if given is not None:
        if given in names:
            return given
        if given.lower() in lower:
            return lower[given.lower()]
        raise InputError(
            f"`{option}` (--{option.replace('_', '-')}) was {given!r} but {table.path.name} "
            "has no such field; "
            f"its fields are: {', '.join(names) or '(none)'}"
        )
    for candidate in candidates:
        if candidate.lower() in lower:
            return lower[candidate.lower()]
    if role is not None:
        raise InputError(
            f"{table.path.name} has no field for the {role} (looked for {', '.join(candidates)}): "
            f"name it with `{option}` (--{option.replace('_', '-')}); "
            f"its fields are: {', '.join(names) or '(none)'}"
        )
    return None


def _column(table: SourceTable, name: str | None) -> pd.Series:
    if name is None:
        return pd.Series([None] * len(table.fields), dtype=object)
    return table.fields[name].astype(object).reset_index(drop=True)


def _as_text(value: object) -> str | None:
    """A field value as text: ``None`` when blank; 12.0 -> '12' (Excel stores ids as numbers)."""
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return str(value)
    return str(value).strip()


def _texts(values: pd.Series) -> pd.Series:
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Text already (CSV): strip it without a Python call per value.
        stripped = values.astype(object).str.strip()
        return stripped.where(stripped.notna() & (stripped != ""), None).astype(object)
    return pd.Series([_as_text(v) for v in values], dtype=object)


def _point_xy(
    geometry: NDArray[np.object_],
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[str | None]]:
    """x, y of point geometries; NaN and a note for anything else."""
    n = len(geometry)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    notes: list[str | None] = [None] * n
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    type_ids = np.where(missing, -1, shapely.get_type_id(geometry))
    single = type_ids == 0
    if single.any():
        x[single] = shapely.get_x(geometry[single])
        y[single] = shapely.get_y(geometry[single])
    multi = np.flatnonzero(type_ids == 4)
    if multi.size:
        counts = shapely.get_num_geometries(geometry[multi])
        one = multi[counts == 1]
        firsts = shapely.get_geometry(geometry[one], 0)
        x[one] = shapely.get_x(firsts)
        y[one] = shapely.get_y(firsts)
    # Notes are built per bad feature only, which are few: a loop is clearer than masks here.
    for i in np.flatnonzero(~single):
        if type_ids[i] == -1:
            notes[i] = "the feature has no geometry"
        elif type_ids[i] == 4 and math.isfinite(x[i]):
            continue
        else:
            notes[i] = f"the geometry is a {geometry[i].geom_type}, not a point"
    return x, y, notes


def _coordinate_columns(
    table: SourceTable,
    x_field: str | None,
    y_field: str | None,
    candidates: dict[str, tuple[str, ...]],
) -> tuple[pd.Series, pd.Series, pd.Series, bool]:
    """Raw x, y values and notes: from named/guessed fields, else a vector file's points."""
    if (x_field is None) != (y_field is None):
        raise InputError(
            f"give both `x_field` and `y_field` or neither, not only "
            f"{'x_field' if x_field else 'y_field'}={x_field or y_field!r}"
        )
    n = len(table.fields)
    if table.kind == "vector" and x_field is None:
        assert table.geometry is not None
        x, y, notes = _point_xy(table.geometry)
        for i, problem in table.invalid_geometry.items():
            notes[i] = problem
        return (
            pd.Series(x, dtype=object),
            pd.Series(y, dtype=object),
            pd.Series(notes, dtype=object),
            True,
        )
    xf = _resolve(table, "x", x_field, candidates["x"])
    yf = _resolve(table, "y", y_field, candidates["y"])
    if xf is None or yf is None:
        empty = pd.Series([None] * n, dtype=object)
        return empty, empty.copy(), empty.copy(), False
    return _column(table, xf), _column(table, yf), pd.Series([None] * n, dtype=object), True


def _frame_attrs(table: SourceTable) -> dict[str, Any]:
    return {
        "path": str(table.path),
        "kind": table.kind,
        "numbering": table.numbering,
        "encoding": table.encoding,
        "crs": table.crs.to_string() if table.crs is not None else None,
    }


def read_case_rows(
    path: str | Path,
    *,
    id_field: str | None = None,
    category_field: str | None = None,
    time_field: str | None = None,
    description_field: str | None = None,
    address_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    source_field: str | None = None,
    reported_by_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame:
    """Read the cases of a file into one frame with fixed column names.

    A field that is not named is looked for under the names in
    :data:`CASE_FIELDS` (``external_id``, ``编号``, ``category``, ``类别``,
    ``reported_at``, ``上报时间``, ``address``, ``地址``, ``x``/``lon``/``经度``...).
    Vector files give their points as x/y (in the file's CRS) unless x/y
    fields are named.

    Parameters
    ----------
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage (see :func:`read_table`).
    id_field, category_field, time_field:
        The external id, the category (code or Chinese name) and the time
        reported; needed.
    description_field, address_field, source_field, reported_by_field:
        Optional fields.
    x_field, y_field:
        Coordinates (both or neither).
    encoding, sheet, layer:
        See :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        One line per row of the file (RangeIndex), columns ``row``,
        ``external_id``, ``category``, ``time``, ``description``,
        ``address``, ``source``, ``reported_by`` (text or ``None``), ``x``,
        ``y`` (values as read), ``location_note`` (why a vector feature gives
        no point). ``.attrs`` holds ``path``, ``kind``, ``numbering``
        (``row``/``feature``), ``encoding`` and the file's ``crs``.

    Raises
    ------
    InputError
        When a named field is not in the file (the message lists the
        file's fields), a needed one cannot be found, or the file has
        neither coordinates nor an address field.

    Examples
    --------
    >>> rows = read_case_rows("cases.csv", category_field="事件类型")  # doctest: +SKIP
    >>> rows.loc[0, ["row", "external_id", "category"]].tolist()  # doctest: +SKIP
    [2, 'A-0001', '消防安全']
    """
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    fields = CASE_FIELDS
    id_name = _resolve(table, "id", id_field, fields["id"], role="external id")
    category_name = _resolve(table, "category", category_field, fields["category"], role="category")
    time_name = _resolve(table, "time", time_field, fields["time"], role="time reported")
    description_name = _resolve(table, "description", description_field, fields["description"])
    address_name = _resolve(table, "address", address_field, fields["address"])
    source_name = _resolve(table, "source", source_field, fields["source"])
    reporter_name = _resolve(table, "reported_by", reported_by_field, fields["reported_by"])
    x, y, notes, has_xy = _coordinate_columns(table, x_field, y_field, fields)
    if not has_xy and address_name is None:
        raise InputError(
            f"{table.path.name} has neither coordinates nor an address: name them with "
            "`x_field`/`y_field` or `address_field`; "
            f"its fields are: {', '.join(table.field_names)}"
        )
    rows = pd.DataFrame(
        {
            "row": table.row,
            "external_id": _texts(_column(table, id_name)),
            "category": _texts(_column(table, category_name)),
            "time": _column(table, time_name),
            "description": _texts(_column(table, description_name)),
            "address": _texts(_column(table, address_name)),
            "source": _texts(_column(table, source_name)),
            "reported_by": _texts(_column(table, reporter_name)),
            "x": x,
            "y": y,
            "location_note": notes,
        }
    )
    rows.attrs.update(_frame_attrs(table))
    return rows


def read_inspection_rows(
    path: str | Path,
    *,
    id_field: str | None = None,
    worker_field: str | None = None,
    time_field: str | None = None,
    end_time_field: str | None = None,
    track_field: str | None = None,
    order_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
) -> pd.DataFrame:
    """Read the inspections (or GPS fixes) of a file into one frame with fixed column names.

    Parameters
    ----------
    path:
        CSV, ``.xlsx``, GeoJSON, shapefile or GeoPackage.
    id_field:
        The inspection's external id (not with ``track_field``: then the
        track id is the external id).
    worker_field:
        The grid worker: ``grid_worker.external_id`` or name (optional).
    time_field, end_time_field:
        Start time (needed) and end time (optional).
    track_field, order_field:
        Rows are GPS fixes of tracks: ``track_field`` names the track,
        ``order_field`` orders the fixes (default: by time).
    x_field, y_field:
        Coordinates; vector files use their geometry when these are not given.
    encoding, sheet, layer:
        See :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        Columns ``row``, ``external_id``, ``worker``, ``track`` (text or
        ``None``), ``time``, ``end_time``, ``order``, ``x``, ``y`` (as read),
        ``geometry`` (vector files: the feature's geometry in the file's CRS),
        ``location_note``; ``.attrs`` as for :func:`read_case_rows`.

    Raises
    ------
    InputError
        When a named field is not in the file, or a needed one cannot be found.

    Examples
    --------
    >>> rows = read_inspection_rows("gps.csv", track_field="track")  # doctest: +SKIP
    """
    if track_field is not None and id_field is not None:
        raise InputError(
            f"`id_field` ({id_field!r}) and `track_field` ({track_field!r}) were both given: "
            "with tracks the track id is the inspection's external id"
        )
    table = read_table(path, encoding=encoding, sheet=sheet, layer=layer)
    fields = INSPECTION_FIELDS
    # Tracks are never guessed: without `track_field` (or `order_field`) there is none.
    track_name = _resolve(table, "track", track_field)
    order_name = _resolve(table, "order", order_field)
    if order_name is not None and track_name is None:
        raise InputError(f"`order_field` ({order_field!r}) needs `track_field` too")
    id_name = (
        _resolve(table, "id", id_field, fields["id"], role="external id")
        if track_name is None
        else None
    )
    worker_name = _resolve(table, "worker", worker_field, fields["worker"])
    time_name = _resolve(table, "time", time_field, fields["time"], role="start time")
    end_name = _resolve(table, "end_time", end_time_field, fields["end_time"])
    if table.kind != "vector" or x_field is not None:
        x, y, notes, has_xy = _coordinate_columns(table, x_field, y_field, fields)
        if not has_xy:
            raise InputError(
                f"{table.path.name} has no coordinates: name them with `x_field` and `y_field`; "
                f"its fields are: {', '.join(table.field_names)}"
            )
        geometry = pd.Series([None] * len(table.fields), dtype=object)
    else:
        assert table.geometry is not None
        n = len(table.fields)
        x = pd.Series([None] * n, dtype=object)
        y = x.copy()
        notes = x.copy()
        for i, problem in table.invalid_geometry.items():
            notes.iat[i] = problem
        geometry = pd.Series(list(table.geometry), dtype=object)
    rows = pd.DataFrame(
        {
            "row": table.row,
            "external_id": _texts(_column(table, id_name if track_name is None else track_name)),
            "worker": _texts(_column(table, worker_name)),
            "track": _texts(_column(table, track_name)),
            "time": _column(table, time_name),
            "end_time": _column(table, end_name),
            "order": _column(table, order_name),
            "x": x,
            "y": y,
            "geometry": geometry,
            "location_note": notes,
        }
    )
    rows.attrs.update(_frame_attrs(table))
    rows.attrs["tracks"] = track_name is not None
    rows.attrs["geometry"] = table.kind == "vector" and x_field is None
    return rows


# --- checking values ---------------------------------------------------------------------------


def _numbers(raw_x: pd.Series, raw_y: pd.Series) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Float x, y; whether any coordinate was given; whether both are numbers."""

    def to_float(values: pd.Series) -> NDArray[np.float64]:
        cleaned = values.map(lambda v: v.strip() if isinstance(v, str) else v).astype(object)
        cleaned = cleaned.where(~cleaned.map(_blank), None)
        return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    x = to_float(raw_x)
    y = to_float(raw_y)
    given = ~(raw_x.map(_blank).to_numpy(dtype=bool) & raw_y.map(_blank).to_numpy(dtype=bool))
    numeric = np.isfinite(x) & np.isfinite(y)
    return x, y, given, numeric


def _coordinate_reason(raw_x: object, raw_y: object) -> str:
    return f"coordinates ({_as_text(raw_x) or ''!r}, {_as_text(raw_y) or ''!r}) are not numbers"


def _compact_rows(numbers: Iterable[int]) -> str:
    """'2-5,9,11-12' for rows 2, 3, 4, 5, 9, 11, 12."""
    values = sorted(set(int(n) for n in numbers))
    if not values:
        return ""
    parts = []
    start = prev = values[0]
    for value in values[1:]:
        if value == prev + 1:
            prev = value
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = value
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def _join(*reasons: str | None) -> str | None:
    present = [r for r in reasons if r]
    return "; ".join(present) if present else None


_NUL_NAMES = {"external_id": "external id", "reported_by": "reported by"}


def _nul_problems(rows: pd.DataFrame, columns: Sequence[str]) -> list[str | None]:
    """Per row: which of the text ``columns`` hold a NUL character (PostgreSQL text cannot)."""
    reasons: list[str | None] = [None] * len(rows)
    for column in columns:
        values = rows[column].astype(object)
        has_nul = values.map(lambda v: isinstance(v, str) and "\x00" in v).to_numpy(dtype=bool)
        name = _NUL_NAMES.get(column, column)
        for i in np.flatnonzero(has_nul).tolist():  # wording for the few rows that have one
            reasons[i] = _join(
                reasons[i], f"{name} {values.iat[i]!r} contains a NUL character (U+0000)"
            )
    return reasons


_SHOWN_ROWS = 10
"""How many rows a reason about a repeated external id names (it also says how many)."""


def _id_problems(rows: pd.DataFrame) -> tuple[list[str | None], NDArray[np.bool_]]:
    """Per row: why its external id is unusable (missing, or used by several rows of the
    file), and whether it is repeated (such rows are rejected, never skipped as duplicates)."""
    ids = rows["external_id"]
    numbers = rows["row"].to_numpy()
    numbering = rows.attrs.get("numbering", "row")
    present = ids.notna().to_numpy()
    repeated = ids.duplicated(keep=False).to_numpy() & present
    reasons: list[str | None] = [None if p else "external id missing" for p in present]
    positions = np.flatnonzero(repeated)
    groups = pd.Series(positions).groupby(ids.iloc[positions].to_numpy()).agg(list)
    for ident, members in groups.items():  # one sentence per repeated id
        first = ", ".join(str(numbers[m]) for m in members[:_SHOWN_ROWS])
        if len(members) <= _SHOWN_ROWS:
            listed = f"{numbering}s {first} of the file"
        else:  # bounded: each row's reason names a few rows, not all of them
            listed = f"{len(members):,} {numbering}s of the file (first {first}, …)"
        for m in members:
            reasons[m] = f"external id {ident!r} is used by {listed}"
    return reasons, repeated


def _times(
    rows: pd.DataFrame,
    column: str,
    *,
    what: str,
    required: bool,
    timezone: str,
    now: pd.Timestamp,
) -> tuple[pd.Series, list[str | None]]:
    """The times of ``column`` (Excel day numbers read as such) and a reason per bad one."""
    return read_times(
        rows[column],
        what=what,
        required=required,
        timezone=timezone,
        excel_serials=rows.attrs.get("kind") == "excel",
        now=now,
    )


def _lonlat(
    x: NDArray[np.float64], y: NDArray[np.float64], numeric: NDArray[np.bool_], spec: CRSSpec
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 lon, lat of the ``numeric`` coordinates in ``spec``; NaN for the others."""
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    if numeric.any():
        lon[numeric], lat[numeric] = to_wgs84(x[numeric], y[numeric], spec)
    return lon, lat


def _source_crs(attrs: Mapping[Any, Any], crs: CRSLike | None, *, uses_file_crs: bool) -> CRSSpec:
    """The CRS of the coordinates: ``crs`` or the vector file's own; wgs84 when neither says."""
    given = parse_crs(crs) if crs is not None else None
    own = parse_crs(attrs["crs"]) if uses_file_crs and attrs.get("crs") else None
    if own is None:
        return given or parse_crs("wgs84")
    if given is None:
        return own
    same = (own.is_wgs84 and given.is_wgs84) or (
        own.crs is not None and given.crs is not None and own.crs.equals(given.crs)
    )
    if same:
        return given
    if given.is_obfuscated and own.is_wgs84:
        # A file cannot declare GCJ-02 or BD-09 (GeoJSON is always EPSG:4326): saying so is
        # the only way, and it is said explicitly here, so it is no silent re-projection.
        return given
    raise InputError(
        f"the file says its coordinates are in {own.name} but `crs` was {given.name!r}; "
        "gridgis never re-projects silently: leave `crs` out to use the file's own"
    )


def _crs_label(spec: CRSSpec) -> str:
    if spec.crs is not None and spec.is_wgs84:
        return "cgcs2000" if spec.crs.to_epsg() == 4490 else "wgs84"
    return spec.name


# --- the report --------------------------------------------------------------------------------


@dataclass
class IntakeReport:
    """What an import of cases or inspections did, row by row.

    Attributes
    ----------
    kind:
        ``"cases"`` or ``"inspections"``.
    path:
        The file imported.
    rows:
        One line per input row (cases) or per inspection (inspections; a
        track built from GPS fixes lists its rows in ``rows``), with
        ``row``, ``external_id``, ``outcome``, ``flag``, ``reason``,
        ``cell_code``, ``match_score`` (cases) or ``rows``, ``cells``,
        ``cell_codes`` (inspections).
    numbering:
        ``"row"`` (CSV/Excel: header = row 1) or ``"feature"`` (vector files, from 1).
    rows_read:
        Rows (or features) read from the file.
    encoding:
        The text encoding a CSV file was read with.
    crs:
        The CRS of the coordinates.
    committed:
        Whether the database was changed (``False`` for a dry run).
    """

    kind: Literal["cases", "inspections"]
    path: Path
    rows: pd.DataFrame
    numbering: str
    rows_read: int
    encoding: str | None = None
    crs: str | None = None
    committed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Rows read and the number of each outcome (they add up to the rows of ``rows``)."""
        outcomes = self.rows["outcome"].value_counts() if len(self.rows) else pd.Series(dtype=int)
        counts = {"rows_read": int(self.rows_read)}
        if self.kind == "inspections":
            counts["inspections"] = len(self.rows)
        for outcome in OUTCOMES:
            if self.kind == "inspections" and outcome == "address":
                continue
            counts[outcome] = int(outcomes.get(outcome, 0))
        return counts

    @property
    def flags(self) -> dict[str, int]:
        """Flagged rows by ``location_flag``."""
        flagged = self.rows.loc[self.rows["outcome"] == "flagged", "flag"].value_counts()
        return {flag: int(flagged[flag]) for flag in _FLAG_ORDER if flag in flagged.index}

    def lines(self, *, max_rejected: int = 20) -> list[str]:
        """The summary as lines of text for people, with the first rejected rows."""
        counts = self.counts
        read = f"{self.path.name}" + (f" ({self.encoding})" if self.encoding else "")
        read += f": {counts['rows_read']} {self.numbering}s read"
        if self.kind == "inspections":
            read += f", {counts['inspections']} inspections"
        out = [read]
        out.append(f"  by coordinates: {counts['coordinates']}")
        if self.kind == "cases":
            out.append(f"  by address: {counts['address']}")
        flags = ", ".join(f"{flag} {n}" for flag, n in self.flags.items())
        out.append(f"  flagged: {counts['flagged']}" + (f" ({flags})" if flags else ""))
        out.append(f"  rejected: {counts['rejected']}")
        out.append(f"  duplicates: {counts['duplicate']} (external id already stored)")
        rejected = self.rows[self.rows["outcome"] == "rejected"]
        for line in rejected.head(max_rejected).itertuples(index=False):
            out.append(f"  rejected {self.numbering} {line.row}: {line.reason}")
        if len(rejected) > max_rejected:
            out.append(f"  ... and {len(rejected) - max_rejected} more rejected (see the report)")
        out.extend(f"  {note}" for note in self.notes)
        out.append("committed" if self.committed else "nothing was changed (dry run)")
        return out

    def write_csv(self, path: str | Path) -> Path:
        """Write ``rows`` as CSV (UTF-8 with BOM, so that Excel shows the Chinese text).

        The first column is named ``row`` or ``feature`` after the numbering; text that
        starts like a formula gets a ``'`` (:func:`gridgis.sheets.safe_csv_value`).
        """
        target = Path(path)
        frame = self.rows.rename(columns={"row": self.numbering})
        safe_csv_frame(frame).to_csv(target, index=False, encoding="utf-8-sig")
        return target


def default_report_path(path: str | Path) -> Path:
    """``<stem>.report.csv`` next to the input file.

    Examples
    --------
    >>> str(default_report_path("/data/cases_2026.xlsx"))
    '/data/cases_2026.report.csv'
    """
    file = Path(path)
    return file.with_name(f"{file.stem}.report.csv")


# --- database helpers --------------------------------------------------------------------------


_DUPLICATE_NOTE = "external id already in the database: nothing added"


def _duplicates(
    conn: Connection, table: str, ids: pd.Series, repeated: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """Rows whose external id is already in ``table`` (an id the file repeats is rejected)."""
    # An id with a NUL is rejected anyway, and PostgreSQL could not even compare it.
    wanted = [i for i in ids.dropna().unique().tolist() if "\x00" not in str(i)]
    if not wanted:
        return np.zeros(len(ids), dtype=bool)
    stored = conn.execute(
        text(f"SELECT external_id FROM {table} WHERE external_id = ANY(:ids)"), {"ids": wanted}
    ).scalars()
    return ids.isin(set(stored)).to_numpy() & ~repeated


def _database_failure(exc: Exception, what: str) -> GridGISError:
    """A clear error for a database failure during an import (which was rolled back)."""
    original = getattr(exc, "orig", exc)
    sqlstate = getattr(original, "sqlstate", None)
    detail = str(original).strip().splitlines()
    message = detail[0] if detail else type(original).__name__
    extra = next((line for line in detail[1:] if line.startswith("DETAIL")), "")
    if sqlstate == "23505":
        return ConflictError(
            f"while this import ran, {what} with the same external id were stored by someone "
            f"else ({extra or message}); nothing was imported: run the import again, it skips "
            "what is already stored"
        )
    return DatabaseError(
        f"the database refused the import of {what} ({sqlstate or 'no SQLSTATE'}: {message}"
        + (f"; {extra}" if extra else "")
        + "); nothing was imported"
    )


def _run_import(
    engine: Engine,
    kind: Literal["cases", "inspections"],
    rows: pd.DataFrame,
    spec: CRSSpec,
    body: Callable[[Connection], pd.DataFrame],
    *,
    dry_run: bool,
    actor: str,
) -> IntakeReport:
    """Run ``body`` in one transaction, committed unless ``dry_run``, and report on it.

    ``body`` checks, places and stores what it can, and returns the report's lines;
    whatever it raises rolls everything back. One audit row sums the import up (the
    file's name and the count of each outcome), in the same transaction.
    """
    import psycopg

    name = Path(rows.attrs["path"]).name
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                lines = body(conn)
                assert lines["outcome"].isin(OUTCOMES).all(), f"each of the {kind} has one outcome"
                outcomes = {str(k): int(v) for k, v in lines["outcome"].value_counts().items()}
                audit.record(
                    conn,
                    actor=actor,
                    action="import",
                    object_type=kind.removesuffix("s"),
                    object_id=None,
                    after={"file": name, "rows": len(rows)} | outcomes,
                )
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
    except (DBAPIError, psycopg.Error) as exc:
        logger.warning("import of %s from %s refused by the database", kind, name)
        raise _database_failure(exc, kind) from exc
    except SQLAlchemyError as exc:
        logger.warning("import of %s from %s failed", kind, name)
        raise DatabaseError(f"the import of {kind} failed: {exc}; nothing was imported") from exc
    logger.info(
        "import of %s from %s by %s: %d rows, %s in %.1f s%s",
        kind,
        name,
        actor,
        len(rows),
        outcomes,
        time.perf_counter() - started,
        " (dry run, rolled back)" if dry_run else "",
    )
    report = IntakeReport(
        kind=kind,
        path=Path(rows.attrs["path"]),
        rows=lines,
        numbering=rows.attrs["numbering"],
        rows_read=len(rows),
        encoding=rows.attrs.get("encoding"),  # a CSV's or a shapefile's (None otherwise)
        crs=_crs_label(spec),
        committed=not dry_run,
    )
    counts = report.counts
    assert sum(counts.get(o, 0) for o in OUTCOMES) == len(lines), counts
    return report


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


# --- cases -------------------------------------------------------------------------------------


def _load_categories(conn: Connection) -> pd.DataFrame:
    return result_frame(
        conn.execute(
            text("SELECT code, name_zh, name_en, deadline_hours FROM case_category ORDER BY code")
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
    hours = codes.map(dict(zip(categories["code"], categories["deadline_hours"], strict=True)))
    checked["deadline"] = checked["reported_at"] + pd.to_timedelta(hours.astype(float), unit="h")
    x, y, given, numeric = _numbers(rows["x"], rows["y"])
    checked["x"], checked["y"], checked["has_xy"] = x, y, numeric
    id_reasons, checked["repeated_id"] = _id_problems(rows)
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


def _building_points(conn: Connection, ids: Iterable[int]) -> pd.DataFrame:
    result = conn.execute(
        text("SELECT id, ST_X(location), ST_Y(location) FROM building WHERE id = ANY(:ids)"),
        {"ids": [int(i) for i in ids]},
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
    from gridgis.geocode import load_cell_index, locate

    n = len(checked)
    placed = _Placement(n)
    _say(progress, "loading the cells")
    index = load_cell_index(conn)
    coordinate_flag = np.full(n, None, dtype=object)
    coordinate_reason = np.full(n, None, dtype=object)
    by_xy = np.flatnonzero(todo & checked["has_xy"].to_numpy(dtype=bool))
    if by_xy.size:
        _say(progress, f"locating {by_xy.size} rows by their coordinates")
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

        _say(progress, f"matching {need.size} addresses")
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


def _points(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.object_]:
    out = np.full(len(lon), None, dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    if finite.any():
        out[finite] = shapely.points(lon[finite], lat[finite])
    return out


def import_cases(
    engine: Engine,
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
    ``deadline_hours``; cases start at step 上报 (reported).

    Parameters
    ----------
    engine:
        The database.
    path:
        The file (CSV, ``.xlsx``, GeoJSON, shapefile, GeoPackage).
    crs:
        The system of the coordinates (``wgs84``, ``gcj02``, ``bd09``,
        ``EPSG:nnnn``); default the vector file's own, else ``wgs84``.
    id_field, category_field, time_field, description_field, address_field, x_field, y_field, \
source_field, reported_by_field:
        Field names; see :func:`read_case_rows` for what is looked for when not given.
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
    _say(progress, f"reading {path}")
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
        encoding=encoding,
        sheet=sheet,
        layer=layer,
    )
    spec = _source_crs(rows.attrs, crs, uses_file_crs=x_field is None)
    now = pd.Timestamp.now(tz="UTC")

    def body(conn: Connection) -> pd.DataFrame:
        categories = _load_categories(conn)
        if categories.empty:
            raise NotFoundError(
                "the database has no case categories (table case_category): "
                "run `gridgis db upgrade`"
            )
        checked = _check_cases(rows, categories, timezone=timezone, now=now)
        ids = checked["external_id"]
        repeated = checked["repeated_id"].to_numpy(dtype=bool)
        duplicate = _duplicates(conn, "case_record", ids, repeated)
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
            _say(progress, f"storing {store.size} cases")
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
    raw_crs[has_xy] = _crs_label(spec)

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
    copy_rows(conn, "case_record", frame, geometry={"geom": None})


# --- inspections -------------------------------------------------------------------------------


@dataclass
class _Units:
    """Inspections to be: one per feature/row, or one per track of GPS fixes."""

    external_id: list[str | None]
    worker: list[str | None]
    started_at: pd.Series
    ended_at: pd.Series
    geometry: NDArray[np.object_]  # WGS84, None when it cannot be built
    rows: list[list[int]]
    reason: list[str | None]
    note: list[str | None]
    repeated: NDArray[np.bool_]


def _load_workers(conn: Connection) -> pd.DataFrame:
    return result_frame(conn.execute(text("SELECT id, external_id, name FROM grid_worker")))


def _worker_ids(
    names: Sequence[str | None], workers: pd.DataFrame
) -> tuple[list[int | None], list[str | None]]:
    """Worker ids by external id, else by name; a reason when unknown or ambiguous."""
    by_external = dict(zip(workers["external_id"], workers["id"], strict=True))
    by_name = workers.groupby("name")["id"].agg(list).to_dict()
    ids: list[int | None] = []
    reasons: list[str | None] = []
    for name in names:  # one dictionary lookup per inspection
        reason = None
        found: int | None = None
        if name is None:
            pass
        elif name in by_external:
            found = int(by_external[name])
        elif len(by_name.get(name, [])) == 1:
            found = int(by_name[name][0])
        elif name in by_name:
            reason = (
                f"worker name {name!r} is shared by {len(by_name[name])} grid workers: "
                "give the worker's external id"
            )
        else:
            reason = f"unknown worker {name!r} (neither a worker's external id nor a name)"
        ids.append(found)
        reasons.append(reason)
    return ids, reasons


_VERTEX_PROBLEMS = {
    "swapped": "longitude and latitude look swapped",
    "outside_china": "it is outside China",
    "invalid": "it is not a longitude/latitude",
}


def _bad_vertices(geoms: NDArray[np.object_]) -> list[str | None]:
    """Per geometry (WGS84): why its vertices are not lon/lat in China, if they are not."""
    reasons: list[str | None] = [None] * len(geoms)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    if present.size == 0:
        return reasons
    coords, owner = shapely.get_coordinates(geoms[present], return_index=True)
    flags = check_lonlat(coords[:, 0], coords[:, 1])
    seen: set[int] = set()
    for k in np.flatnonzero(flags != "ok"):  # the first bad vertex of a geometry says enough
        g = int(present[owner[k]])
        if g not in seen:
            seen.add(g)
            lon, lat = coords[k]
            problem = _VERTEX_PROBLEMS[str(flags[k])]
            reasons[g] = f"point ({lon:.10g}, {lat:.10g}) is unusable: {problem}"
    return reasons


def _line_or_point(coords: NDArray[np.float64]) -> Any:
    """A track through ``coords``; a point when they are all the same place; None for none."""
    if len(coords) == 0:
        return None
    if len(np.unique(coords, axis=0)) < 2:
        return shapely.Point(coords[0])
    return shapely.LineString(coords)


def _usable_track(geom: Any) -> Any:
    """A storable line or multi-line for a non-point geometry, or None when it is no track."""
    kind = geom.geom_type
    if kind in ("MultiPoint", "LineString"):
        return _line_or_point(shapely.get_coordinates(geom))
    if kind == "MultiLineString":
        parts = [
            p
            for p in shapely.get_parts(geom)
            if len(np.unique(shapely.get_coordinates(p), axis=0)) >= 2
        ]
        if not parts:
            return _line_or_point(shapely.get_coordinates(geom))
        return parts[0] if len(parts) == 1 else shapely.multilinestrings(parts)
    return None


def _object_array(values: Sequence[Any]) -> NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _end_before_start(started: pd.Series, ended: pd.Series) -> NDArray[np.bool_]:
    both = started.notna() & ended.notna()
    return (both & (ended < started)).to_numpy(dtype=bool)


def _feature_units(
    rows: pd.DataFrame, spec: CRSSpec, *, timezone: str, now: pd.Timestamp
) -> _Units:
    """One inspection per row (CSV point) or feature (its geometry)."""
    n = len(rows)
    started, start_reasons = _times(
        rows, "time", what="start time", required=True, timezone=timezone, now=now
    )
    ended, end_reasons = _times(
        rows, "end_time", what="end time", required=False, timezone=timezone, now=now
    )
    backwards = _end_before_start(started, ended)
    id_reasons, repeated = _id_problems(rows)
    geometry = np.full(n, None, dtype=object)
    shape_reasons: list[str | None] = [None] * n
    if rows.attrs.get("geometry"):
        notes_in = rows["location_note"].tolist()
        raw = _object_array(rows["geometry"].tolist())
        present = ~(shapely.is_missing(raw) | shapely.is_empty(raw))
        if present.any():
            geometry[present] = transform_geometry(raw[present], from_crs=spec, to_crs="wgs84")
        type_ids = np.where(present, shapely.get_type_id(geometry), -1)
        # Points and lines of some length are kept as they are (checked at once); a line of
        # one repeated point becomes that point.
        flat = np.flatnonzero(type_ids == 1)
        still = flat[shapely.length(geometry[flat]) == 0]
        if still.size:
            geometry[still] = shapely.get_point(geometry[still], 0)
        # The few other features (multi-points, multi-lines, polygons...) one by one.
        for i in np.flatnonzero((type_ids != 0) & (type_ids != 1)):
            if type_ids[i] == -1:
                shape_reasons[i] = notes_in[i] or "the feature has no geometry"
                continue
            track = _usable_track(geometry[i])
            if track is None:
                shape_reasons[i] = (
                    f"the geometry is a {geometry[i].geom_type}, not a point or a track"
                )
            geometry[i] = track
    else:
        x, y, given, numeric = _numbers(rows["x"], rows["y"])
        geometry = _points(*_lonlat(x, y, numeric, spec))
        raw_x, raw_y = rows["x"].tolist(), rows["y"].tolist()
        for i in np.flatnonzero(~numeric):
            shape_reasons[i] = (
                _coordinate_reason(raw_x[i], raw_y[i]) if given[i] else "no coordinates"
            )
    vertex_reasons = _bad_vertices(geometry)
    nul_reasons = _nul_problems(rows, ("external_id", "worker"))
    times, ends = rows["time"].tolist(), rows["end_time"].tolist()
    reasons = [
        _join(
            id_reasons[i],
            nul_reasons[i],
            start_reasons[i],
            end_reasons[i],
            f"end time {_as_text(ends[i])!r} is before the start time {_as_text(times[i])!r}"
            if backwards[i]
            else None,
            shape_reasons[i] or vertex_reasons[i],
        )
        for i in range(n)
    ]
    return _Units(
        external_id=rows["external_id"].tolist(),
        worker=rows["worker"].tolist(),
        started_at=started,
        ended_at=ended,
        geometry=geometry,
        rows=[[int(r)] for r in rows["row"]],
        reason=reasons,
        note=[None] * n,
        repeated=repeated,
    )


def _track_units(rows: pd.DataFrame, spec: CRSSpec, *, timezone: str, now: pd.Timestamp) -> _Units:
    """One inspection per track of GPS fixes, ordered by ``order`` (else by time)."""
    n = len(rows)
    times, time_reasons = _times(
        rows, "time", what="time", required=True, timezone=timezone, now=now
    )
    ends, _ = _times(rows, "end_time", what="end time", required=False, timezone=timezone, now=now)
    raw_x, raw_y = rows["x"].tolist(), rows["y"].tolist()
    if rows.attrs.get("geometry"):
        x, y, notes = _point_xy(_object_array(rows["geometry"].tolist()))
        given_notes = rows["location_note"].tolist()
        notes = [g or note for g, note in zip(given_notes, notes, strict=True)]
        given = np.ones(n, dtype=bool)
        numeric = np.isfinite(x) & np.isfinite(y)
    else:
        x, y, given, numeric = _numbers(rows["x"], rows["y"])
        notes = [None] * n
    lon, lat = _lonlat(x, y, numeric, spec)
    flags = check_lonlat(lon, lat)
    order_raw = rows["order"].tolist()
    nul_reasons = _nul_problems(rows, ("track", "worker"))
    has_order = any(not _blank(v) for v in order_raw)
    if has_order:
        order = pd.to_numeric(
            pd.Series([v.strip() if isinstance(v, str) else v for v in order_raw], dtype=object),
            errors="coerce",
        ).to_numpy(dtype=float, na_value=np.nan)
    else:
        order = ((times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
            dtype=float, na_value=np.nan
        )
    fix_reasons: list[str | None] = []
    for i in range(n):  # wording; the checks are vectorised above
        coordinates = None
        if not numeric[i]:
            coordinates = notes[i] or (
                _coordinate_reason(raw_x[i], raw_y[i]) if given[i] else "no coordinates"
            )
        elif flags[i] != "ok":
            coordinates = f"({x[i]:.10g}, {y[i]:.10g}): {_VERTEX_PROBLEMS[str(flags[i])]}"
        ordering = (
            f"order {_as_text(order_raw[i])!r} is not a number"
            if has_order and not np.isfinite(order[i])
            else None
        )
        fix_reasons.append(_join(nul_reasons[i], time_reasons[i], coordinates, ordering))
    good = np.array([r is None for r in fix_reasons], dtype=bool)
    tracks = rows["track"]
    workers = rows["worker"].tolist()
    row_numbers = rows["row"].to_numpy()
    external_ids: list[str | None] = []
    unit_workers: list[str | None] = []
    unit_rows: list[list[int]] = []
    reasons: list[str | None] = []
    unit_notes: list[str | None] = []
    started: list[Any] = []
    ended: list[Any] = []
    geometries: list[Any] = []

    def add(
        ident: str | None,
        worker: str | None,
        members: Iterable[int],
        reason: str | None,
        note: str | None,
        geometry: Any,
        start: Any,
        end: Any,
    ) -> None:
        external_ids.append(ident)
        unit_workers.append(worker)
        unit_rows.append([int(row_numbers[m]) for m in members])
        reasons.append(reason)
        unit_notes.append(note)
        geometries.append(geometry)
        started.append(start)
        ended.append(end)

    # Rows without a track id belong to no track: each one is reported on its own.
    for lone in np.flatnonzero(tracks.isna().to_numpy()):
        add(None, workers[lone], [int(lone)], "track id missing", None, None, pd.NaT, pd.NaT)
    with_track = np.flatnonzero(tracks.notna().to_numpy())
    if with_track.size:
        codes, _ = pd.factorize(tracks.iloc[with_track].to_numpy(dtype=object), sort=False)
        sequence = np.lexsort((row_numbers[with_track], order[with_track], codes))
        ordered = with_track[sequence]
        boundaries = np.flatnonzero(np.diff(codes[sequence])) + 1
        # One iteration per track (not per fix) builds its line and words its report line.
        for members in np.split(ordered, boundaries):
            ident = str(tracks.iat[members[0]])
            kept = members[good[members]]
            dropped = members[~good[members]]
            named = sorted({workers[m] for m in members if workers[m] is not None})
            worker = named[0] if len(named) == 1 else None
            note = None
            if dropped.size:
                listed = "; ".join(
                    f"row {row_numbers[d]} {fix_reasons[d]}" for d in dropped[:_MAX_LISTED]
                )
                more = (
                    f"; and {dropped.size - _MAX_LISTED} more" if dropped.size > _MAX_LISTED else ""
                )
                note = f"{dropped.size} of {members.size} fixes left out ({listed}{more})"
            reason = (
                f"the fixes of track {ident!r} name several workers: {', '.join(named)}"
                if len(named) > 1
                else None
            )
            if kept.size == 0:
                reason = _join(reason, f"no usable fix in track {ident!r}", note)
                add(ident, worker, members, reason, None, None, pd.NaT, pd.NaT)
                continue
            add(
                ident,
                worker,
                members,
                reason,
                note,
                _line_or_point(np.column_stack([lon[kept], lat[kept]])),
                times.iloc[kept].min(),
                pd.concat([times.iloc[kept], ends.iloc[kept]]).max(),
            )
    return _Units(
        external_id=external_ids,
        worker=unit_workers,
        started_at=pd.Series(started, dtype="datetime64[us, UTC]"),
        ended_at=pd.Series(ended, dtype="datetime64[us, UTC]"),
        geometry=_object_array(geometries),
        rows=unit_rows,
        reason=reasons,
        note=unit_notes,
        repeated=np.zeros(len(geometries), dtype=bool),
    )


@dataclass(frozen=True)
class _Visits:
    """The cells inspections pass through: one entry per (inspection, cell), sorted."""

    unit: NDArray[np.intp]
    cell_id: NDArray[np.int64]
    code: NDArray[np.str_]
    flag: NDArray[np.object_]
    reason: NDArray[np.object_]

    def per_unit(self) -> NDArray[np.int64]:
        """Start of each inspection's entries (``len(flag) + 1`` offsets)."""
        counts = np.bincount(self.unit, minlength=len(self.flag))
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _cells_of(geoms: NDArray[np.object_], index: Any) -> _Visits:
    """The active cells each geometry (WGS84) passes through; a flag for those in none.

    Points follow :func:`gridgis.geocode.locate` (on a boundary shared by
    several cells: the smallest code); tracks get every cell they intersect
    (one STRtree query for all of them). Entries are sorted by geometry, then code.
    """
    from gridgis.geocode import locate

    n = len(geoms)
    flag = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    units: list[NDArray[np.intp]] = [np.zeros(0, dtype=np.intp)]
    ids: list[NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)]
    codes: list[NDArray[np.str_]] = [np.zeros(0, dtype="U15")]
    is_point = shapely.get_type_id(geoms) == 0 if n else np.zeros(0, dtype=bool)
    points = np.flatnonzero(is_point)
    if points.size:
        found = locate(
            index, shapely.get_x(geoms[points]), shapely.get_y(geoms[points]), crs="wgs84"
        )
        cell_ids = found["cell_id"].to_numpy(dtype=np.int64, na_value=-1)
        ok = cell_ids >= 0
        units.append(points[ok])
        ids.append(cell_ids[ok])
        codes.append(found["cell_code"].to_numpy(dtype=object)[ok].astype("U15"))
        flag[points[~ok]] = found["flag"].to_numpy(dtype=object)[~ok]
        reason[points[~ok]] = found["reason"].to_numpy(dtype=object)[~ok]
    lines = np.flatnonzero(~is_point)
    if lines.size:
        # The tracks go in the tree and the (prepared) cells query it: 2-3 times faster than
        # querying a tree of cells with each track.
        tree = shapely.STRtree(geoms[lines])
        cell_k, line_k = tree.query(np.asarray(index.geoms, dtype=object), predicate="intersects")
        units.append(lines[line_k])
        ids.append(np.asarray(index.cell_ids, dtype=np.int64)[cell_k])
        codes.append(np.asarray(index.codes, dtype=object)[cell_k].astype("U15"))
        touched = np.zeros(n, dtype=bool)
        touched[lines[line_k]] = True
        empty = lines[~touched[lines]]
        if empty.size:
            inside = (
                np.asarray(shapely.intersects(geoms[empty], index.outline), dtype=bool)
                if index.outline is not None
                else np.zeros(empty.size, dtype=bool)
            )
            flag[empty] = np.where(inside, "gap", "outside").astype(object)
            reason[empty] = np.where(
                inside,
                "the track is inside the district but passes through no cell",
                "the track is outside the district",
            ).astype(object)
    unit = np.concatenate(units)
    code = np.concatenate(codes)
    order = np.lexsort((code, unit))
    return _Visits(unit[order], np.concatenate(ids)[order], code[order], flag, reason)


def import_inspections(
    engine: Engine,
    path: str | Path,
    *,
    crs: CRSLike | None = None,
    id_field: str | None = None,
    worker_field: str | None = None,
    time_field: str | None = None,
    end_time_field: str | None = None,
    track_field: str | None = None,
    order_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    layer: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    actor: str,
) -> IntakeReport:
    """Import inspection patrols (points or GPS tracks), all in one transaction.

    Each feature of a vector file (point, line, multi-line) or each CSV/Excel
    row (a point) is one inspection; with ``track_field`` the rows are GPS
    fixes instead, ordered by ``order_field`` (else by time) into one line
    per track: the track id is the external id, the start is the first fix's
    time and the end the last one's. Fixes that cannot be used (coordinates
    not numbers or not in China, no time) are left out and listed. Every
    stored inspection gets an ``inspection_cell`` row for each active cell
    its point or track passes through; one touching no cell is stored
    ``flagged`` (``outside`` or ``gap``). Points or tracks that are not
    lon/lat in China (swapped, outside China) are rejected.

    Parameters
    ----------
    engine:
        The database.
    path:
        The file.
    crs:
        The system of the coordinates; default the vector file's own, else ``wgs84``.
    id_field, worker_field, time_field, end_time_field, track_field, order_field, x_field, \
y_field:
        Field names; see :func:`read_inspection_rows`. A worker is found by
        ``grid_worker.external_id``, else by name (which must be unique).
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
        One line per inspection; ``coordinates + flagged + rejected +
        duplicate == inspections``.

    Raises
    ------
    InputError, FileEncodingError, NotFoundError, ConflictError, DatabaseError
        As for :func:`import_cases`; nothing is imported.

    Examples
    --------
    >>> report = import_inspections(engine, "gps.csv", track_field="track_id", actor="cli:li")
    ... # doctest: +SKIP
    >>> report.counts["inspections"]  # doctest: +SKIP
    12
    """
    time_zone(timezone)
    _say(progress, f"reading {path}")
    rows = read_inspection_rows(
        path,
        id_field=id_field,
        worker_field=worker_field,
        time_field=time_field,
        end_time_field=end_time_field,
        track_field=track_field,
        order_field=order_field,
        x_field=x_field,
        y_field=y_field,
        encoding=encoding,
        sheet=sheet,
        layer=layer,
    )
    spec = _source_crs(rows.attrs, crs, uses_file_crs=bool(rows.attrs.get("geometry")))
    now = pd.Timestamp.now(tz="UTC")
    build = _track_units if rows.attrs["tracks"] else _feature_units
    units = build(rows, spec, timezone=timezone, now=now)

    def body(conn: Connection) -> pd.DataFrame:
        from gridgis.geocode import load_cell_index

        n = len(units.external_id)
        ids = pd.Series(units.external_id, dtype=object)
        duplicate = _duplicates(conn, "inspection", ids, units.repeated)
        worker_ids, worker_reasons = _worker_ids(units.worker, _load_workers(conn))
        reasons = [_join(r, w) for r, w in zip(units.reason, worker_reasons, strict=True)]
        rejected = np.array([r is not None for r in reasons], dtype=bool) & ~duplicate
        todo = np.flatnonzero(~duplicate & ~rejected)
        _say(progress, "loading the cells")
        index = load_cell_index(conn)
        _say(progress, f"finding the cells of {todo.size} inspections")
        visits = _cells_of(units.geometry[todo], index)
        starts = visits.per_unit()
        outcome = np.full(n, "rejected", dtype=object)
        outcome[duplicate] = "duplicate"
        flag_column = np.full(n, None, dtype=object)
        cells_column = np.zeros(n, dtype=np.int64)
        codes_column = np.full(n, None, dtype=object)
        notes = np.full(n, None, dtype=object)
        notes[rejected] = [reasons[i] for i in np.flatnonzero(rejected)]
        notes[duplicate] = _DUPLICATE_NOTE
        for k, i in enumerate(todo):  # one report line per stored inspection
            outcome[i] = "flagged" if visits.flag[k] else "coordinates"
            flag_column[i] = visits.flag[k]
            cells_column[i] = starts[k + 1] - starts[k]
            codes_column[i] = ";".join(visits.code[starts[k] : starts[k + 1]]) or None
            notes[i] = _join(units.note[i], visits.reason[k])
        report_rows = pd.DataFrame(
            {
                "row": [min(r) for r in units.rows],
                "rows": [_compact_rows(r) for r in units.rows],
                "external_id": pd.Series(ids.to_numpy(dtype=object), dtype=object),
                "outcome": pd.Series(outcome, dtype=object),
                "flag": pd.Series(flag_column, dtype=object),
                "reason": pd.Series(notes, dtype=object),
                "cells": cells_column,
                "cell_codes": pd.Series(codes_column, dtype=object),
            }
        ).sort_values("row", kind="stable", ignore_index=True)
        if todo.size:
            _say(progress, f"storing {todo.size} inspections")
            _store_inspections(conn, units, todo, worker_ids, visits)
        return report_rows

    return _run_import(engine, "inspections", rows, spec, body, dry_run=dry_run, actor=actor)


def _store_inspections(
    conn: Connection,
    units: _Units,
    todo: NDArray[np.intp],
    worker_ids: Sequence[int | None],
    visits: _Visits,
) -> None:
    from gridgis.db.bulk import copy_rows, reserve_ids

    new_ids = reserve_ids(conn, "inspection", int(todo.size))
    frame = pd.DataFrame(
        {
            "id": new_ids,
            "external_id": _object_array([units.external_id[i] for i in todo]),
            "worker_id": pd.array([worker_ids[i] for i in todo], dtype="Int64"),
            "started_at": units.started_at.iloc[todo].reset_index(drop=True),
            "ended_at": units.ended_at.iloc[todo].reset_index(drop=True),
            "geom": units.geometry[todo],
            "located_by": "coordinates",
            "location_flag": visits.flag,
        }
    )
    copy_rows(conn, "inspection", frame, geometry={"geom": None})
    if visits.unit.size:
        copy_rows(
            conn,
            "inspection_cell",
            pd.DataFrame({"inspection_id": new_ids[visits.unit], "cell_id": visits.cell_id}),
        )
