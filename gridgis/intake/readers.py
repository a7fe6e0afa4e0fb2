"""Reading a file as a table of fields: CSV, Excel ``.xlsx``, GeoJSON, shapefile, GeoPackage.

CSV text is decoded strictly (byte order mark, else UTF-8, else GBK, or the
``encoding`` given; never guessed into mojibake), and rows keep the numbers a user
sees: the header is row 1 for CSV and Excel, features count from 1.
"""

from __future__ import annotations

import codecs
import io
import math
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from numpy.typing import NDArray

from gridgis.errors import FileEncodingError, GridGISError, InputError, NotFoundError
from gridgis.io import check_encoding, read_vector

_TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "excel", ".xlsm": "excel"}


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
                "try another `encoding` (utf-8, gbk, gb18030)",
                zh=f"无法按 {encoding} 解码 {file.name}：第 {exc.start} 个字节"
                f"（{data[exc.start : exc.start + 2]!r}）在此编码中无效；"
                "请换一种 `encoding`（utf-8、gbk、gb18030）",
            ) from exc
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise FileEncodingError(
                f"{file} starts with a UTF-8 byte order mark but is not valid UTF-8 at byte "
                f"{exc.start + 3}; save it again as UTF-8 or pass `encoding`",
                zh=f"{file.name} 以 UTF-8 字节顺序标记开头，但第 {exc.start + 3} 个字节不是有效的 "
                "UTF-8；请重新另存为 UTF-8，或指定 `encoding`",
            ) from exc
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise FileEncodingError(
                f"{file} is not valid UTF-16 at byte {exc.start}",
                zh=f"{file.name} 的第 {exc.start} 个字节不是有效的 UTF-16",
            ) from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_error:
        try:
            return data.decode("gbk"), "gbk"
        except UnicodeDecodeError:
            raise FileEncodingError(
                f"cannot decode {file}: it is neither UTF-8 (bad byte at {utf8_error.start}) "
                "nor GBK; pass the file's `encoding` (--encoding), e.g. gb18030 or big5",
                zh=f"无法解码 {file.name}：既不是 UTF-8（第 {utf8_error.start} 个字节有误），"
                "也不是 GBK；请指定文件的 `encoding`（--encoding），例如 gb18030 或 big5",
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
        raise InputError(
            f"{file}: the header names these fields more than once: {repeated}",
            zh=f"{file.name}：表头中这些字段出现了不止一次：{repeated}",
        )
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
        raise InputError(
            f"{file} has no header in its first row: the field names must be there",
            zh=f"{file.name} 的第一行没有表头：字段名必须写在第一行",
        )
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
            f"({width}): rows {shown}; check the delimiter and the quoting",
            zh=f"{file.name}：有 {len(too_long)} 行的值比表头的字段数（{width}）多：第 {shown} 行；"
            "请检查分隔符和引号",
        )
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in header})
    return frame, np.asarray(numbers, dtype=np.int64)


def _read_csv(file: Path, encoding: str | None) -> SourceTable:
    text_value, used = _decode(file.read_bytes(), encoding, file)
    first_line = text_value.split("\n", 1)[0]
    if not first_line.strip():
        raise InputError(
            f"{file} has no header in its first row: the field names must be there",
            zh=f"{file.name} 的第一行没有表头：字段名必须写在第一行",
        )
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
            f"{file} is not a readable CSV file ({exc}); check the delimiter and the quoting",
            zh=f"{file.name} 不是可读取的 CSV 文件；请检查分隔符和引号",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{file} is empty", zh=f"{file.name} 是空文件") from exc
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
        "cut short; open it in Excel and save it again, or save it as CSV",
        zh=f"{file.name} 不是可读取的 Excel .xlsx 文件（{detail}）：文件可能已损坏或不完整；"
        "请用 Excel 打开后重新保存，或另存为 CSV",
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
                f"`sheet` was {sheet!r} but {file.name} has the sheets {book.sheetnames}",
                zh=f"`sheet` 为 {sheet!r}，但 {file.name} 中的工作表是 {book.sheetnames}",
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
    if isinstance(frame, gpd.GeoDataFrame):
        geometry = np.asarray(frame.geometry.array, dtype=object)
        fields = pd.DataFrame(frame.drop(columns=frame.geometry.name)).astype(object)
        crs = frame.crs
    else:  # a table without geometry (a GeoPackage attribute table, e.g. a roster)
        geometry = np.full(len(frame), None, dtype=object)
        fields = pd.DataFrame(frame).astype(object)
        crs = None
    fields = fields.where(fields.notna(), None).reset_index(drop=True)
    fields.columns = [str(c) for c in fields.columns]
    return SourceTable(
        path=file,
        kind="vector",
        fields=fields,
        row=np.arange(1, len(frame) + 1, dtype=np.int64),
        geometry=geometry,
        crs=crs,
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
        raise NotFoundError(f"file {str(file)!r} does not exist", zh=f"文件 {file.name!r} 不存在")
    if file.is_dir() and file.suffix.lower() != ".gdb":
        raise InputError(f"{file} is a folder, not a file", zh=f"{file.name} 是文件夹，不是文件")
    suffix = file.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            f"{file} is an old Excel .xls file, which gridgis does not read: "
            "save it as .xlsx or CSV",
            zh=f"{file.name} 是旧版 Excel .xls 文件，gridgis 无法读取：请另存为 .xlsx 或 CSV",
        )
    kind = _TABLE_SUFFIXES.get(suffix)
    if kind == "csv":
        return _read_csv(file, encoding)
    if kind == "excel":
        return _read_excel(file, sheet)
    return _read_vector_file(file, encoding, layer)
