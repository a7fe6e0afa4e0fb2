"""Reading vector files (shapefile, GeoPackage, GeoJSON, zipped) with their text decoded right.

Shapefiles keep their text encoding outside the data: in a ``.cpg`` file or
in the DBF header's language-driver byte. Chinese GIS software often writes
GBK with neither, and GDAL then decodes the bytes as Latin-1, which gives
plausible-looking garbage. :func:`read_vector` decides the encoding of every
shapefile the same way, whatever brought it (a command, an upload, a zip):

1. ``encoding`` when given (``--encoding``);
2. else the ``.cpg`` file's;
3. else the DBF language driver's, when it names a Chinese, Japanese or
   Korean code page (GBK, Big5...);
4. else the first of UTF-8, GBK and GB18030 that decodes every text byte of
   the DBF (field names and values) strictly; a single-byte language driver
   (Latin-1, which ArcGIS writes for "the system's code page") is the last
   resort. Nothing decoding, the error names the file and suggests ``--encoding``.

The frame says which it used: ``frame.attrs["encoding"]`` (a Python codec
name) and ``frame.attrs["encoding_source"]`` (``"given"``, ``"cpg"``,
``"dbf"`` or ``"detected"``; ``"format"`` for formats that are UTF-8 by
definition, with ``encoding`` ``None``); :func:`encoding_note` words it
("GBK (detected)") for reports.

A ``.zip`` is unpacked by :func:`gridgis.archive.extract_archive` (links,
``..``, zip bombs refused) and the one shapefile, GeoPackage or GeoJSON in it
is read like a file given directly.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from gridgis import crs as crs_mod
from gridgis.archive import extract_archive
from gridgis.errors import (
    ConfigError,
    CRSError,
    FileEncodingError,
    InputError,
    NotFoundError,
    listing,
    listing_zh,
)

__all__ = [
    "ENCODING_SOURCES",
    "apply_named_crs",
    "check_encoding",
    "encoding_note",
    "flags_from_text",
    "read_vector",
    "write_layout",
]

ENCODING_SOURCES = {
    "given": "given",
    "cpg": "from its .cpg file",
    "dbf": "from its DBF header",
    "detected": "detected",
}
"""Where a shapefile's encoding came from (``frame.attrs["encoding_source"]``), in words."""

_ENCODING_SOURCES_ZH = {
    "given": "指定",
    "cpg": "来自 .cpg 文件",
    "dbf": "来自 DBF 文件头",
    "detected": "自动识别",
}
""":data:`ENCODING_SOURCES` in Chinese, for the errors' :attr:`~gridgis.errors.GridGISError.zh`."""

_DETECTED = ("utf-8", "gbk", "gb18030")
"""Tried in this order, strictly, on a shapefile that does not say its encoding."""

_LDID_MULTIBYTE = {
    0x13: "cp932", 0x4D: "gbk", 0x4E: "cp949", 0x4F: "big5",
    0x78: "big5", 0x79: "cp949", 0x7A: "gbk", 0x7B: "cp932",
}  # fmt: skip
"""DBF language drivers naming a multi-byte code page: trusted (GDAL's table)."""

_LDID_SINGLE_BYTE = {
    0x01: "cp437", 0x02: "cp850", 0x03: "cp1252", 0x57: "latin-1", 0x58: "cp1252",
    0x59: "cp1252", 0x64: "cp852", 0x65: "cp866", 0xC8: "cp1250", 0xC9: "cp1251",
}  # fmt: skip
"""Single-byte language drivers: decode anything, so used only when nothing else decodes."""

_VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json")
"""What :func:`read_vector` looks for inside a zip."""

_ROWS_PER_CHUNK = 65536

_PLAIN_GEOS = {
    "point array must contain 0 or >1 elements": "a line has a single vertex (it needs two)",
    "Invalid number of points in LinearRing found 3 - must be 0 or >= 4": (
        "a ring has fewer than 4 vertices"
    ),
}
"""GEOS's words for a geometry it cannot build, said plainly."""

_PLAIN_GEOS_ZH = {
    "point array must contain 0 or >1 elements": "线只有 1 个顶点（至少需要 2 个）",
    "Invalid number of points in LinearRing found 3 - must be 0 or >= 4": (
        "多边形的边界少于 4 个顶点"
    ),
    "Points of LinearRing do not form a closed linestring": "多边形的边界没有闭合",
}
""":data:`_PLAIN_GEOS` in Chinese (and GEOS's unclosed ring, which it says plainly enough)."""


def check_encoding(encoding: str) -> str:
    """Return the normalised name of ``encoding`` or raise naming it.

    Examples
    --------
    >>> check_encoding("gbk")
    'gbk'
    """
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise ConfigError(
            f"`encoding` was {encoding!r}, which Python does not know; "
            "use e.g. utf-8, gbk, gb18030 or big5",
            zh=f"`encoding` 为 {encoding!r}，这不是可识别的编码；"
            "请使用 utf-8、gbk、gb18030 或 big5 等",
        ) from exc


def encoding_note(frame: gpd.GeoDataFrame) -> str | None:
    """How :func:`read_vector` decoded a shapefile, for reports; ``None`` for other formats.

    Examples
    --------
    >>> frame = gpd.GeoDataFrame()
    >>> frame.attrs.update(encoding="gbk", encoding_source="detected")
    >>> encoding_note(frame)
    'GBK (detected)'
    """
    encoding = frame.attrs.get("encoding")
    source = frame.attrs.get("encoding_source")
    if not encoding or source not in ENCODING_SOURCES:
        return None
    return f"{str(encoding).upper()} ({ENCODING_SOURCES[str(source)]})"


def _sibling(file: Path, suffix: str) -> Path | None:
    """The file next to ``file`` with its stem and ``suffix`` in any case (``.CPG``)."""
    for candidate in (file.with_suffix(suffix), file.with_suffix(suffix.upper())):
        if candidate.exists():
            return candidate
    for candidate in file.parent.glob(f"{file.stem}.*"):
        if candidate.suffix.lower() == suffix:
            return candidate
    return None


def _cpg_codec(text: str) -> str | None:
    """The Python codec a ``.cpg`` names (``UTF-8``, ``GBK``, ``936``, ``ANSI 936``, ``88591``)."""
    value = text.strip().upper().removeprefix("ANSI").strip()
    aliases = {"65001": "utf-8", "88591": "latin-1", "8859_1": "latin-1", "936": "gbk"}
    value = aliases.get(value, value)
    if value.isdigit():
        value = f"cp{value}"
    try:
        return codecs.lookup(value).name
    except LookupError:
        return None


class _Dbf:
    """The text bytes of a DBF file (field names and character values), read without GDAL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as handle:
            head = handle.read(32)
            self.ldid = head[29] if len(head) >= 30 else 0
            if len(head) < 32:
                self.rows = self.record = self.start = 0
                self.names = b""
                self.fields: list[tuple[int, int]] = []
                return
            self.rows = int.from_bytes(head[4:8], "little")
            self.start = int.from_bytes(head[8:10], "little")
            self.record = int.from_bytes(head[10:12], "little")
            descriptors = handle.read(max(self.start - 32, 0))
        names: list[bytes] = []
        self.fields = []
        offset = 1  # after the deletion flag
        for at in range(0, len(descriptors) - 31, 32):
            if descriptors[at] == 0x0D:
                break
            field = descriptors[at : at + 32]
            names.append(field[:11].split(b"\x00", 1)[0])
            kind = chr(field[11])
            width = field[16] + (field[17] * 256 if kind == "C" else 0)
            if kind == "C":
                self.fields.append((offset, width))
            offset += width
        self.names = b"\n".join(names) + b"\n"

    def chunks(self) -> list[tuple[int, bytes]]:
        """The character values of live records, as (first record, bytes of ``value\\n``...)."""
        if not self.fields or not self.rows or self.record < 1:
            return []
        out = []
        with self.path.open("rb") as handle:
            for first in range(0, self.rows, _ROWS_PER_CHUNK):
                count = min(_ROWS_PER_CHUNK, self.rows - first)
                handle.seek(self.start + first * self.record)
                raw = np.frombuffer(handle.read(count * self.record), dtype=np.uint8)
                whole = raw.size // self.record
                if not whole:
                    break
                table = raw[: whole * self.record].reshape(whole, self.record)
                table = table[table[:, 0] != ord("*")]  # deleted records are not read
                newline = np.full((len(table), 1), ord("\n"), dtype=np.uint8)
                pieces = []
                for offset, width in self.fields:
                    pieces += [table[:, offset : offset + width], newline]
                out.append((first, np.concatenate(pieces, axis=1).tobytes()))
        return out


def _first_bad_record(dbf: _Dbf, encoding: str) -> tuple[int, int] | None:
    """The first record (1-based) and field whose bytes ``encoding`` does not decode, if any."""
    try:
        dbf.names.decode(encoding)
    except UnicodeDecodeError:
        return (0, 0)
    for first, data in dbf.chunks():
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            values = data.count(b"\n", 0, exc.start)
            return first + values // len(dbf.fields) + 1, values % len(dbf.fields) + 1
    return None


def _shapefile_encoding(file: Path, encoding: str | None, shown: str) -> tuple[str, str]:
    """The codec to read a shapefile with, and where it came from (see the module)."""
    if encoding:
        return check_encoding(encoding), "given"
    cpg = _sibling(file, ".cpg")
    if cpg is not None:
        text = cpg.read_bytes()[:100].decode("latin-1")
        codec = _cpg_codec(text)
        if codec is None:
            raise FileEncodingError(
                f"{shown}: its .cpg file says the encoding is {text.strip()!r}, which gridgis "
                "does not know; name it with `--encoding` (utf-8, gbk, gb18030)",
                zh=f"{shown}：其 .cpg 文件写明的编码 {text.strip()!r} 无法识别；"
                "请指定编码（utf-8、gbk、gb18030）",
            )
        return codec, "cpg"
    dbf_path = _sibling(file, ".dbf")
    if dbf_path is None:
        return "utf-8", "detected"
    dbf = _Dbf(dbf_path)
    if dbf.ldid in _LDID_MULTIBYTE:
        return _LDID_MULTIBYTE[dbf.ldid], "dbf"
    bad: tuple[int, int] | None = None
    for candidate in _DETECTED:
        bad = _first_bad_record(dbf, candidate)
        if bad is None:
            return candidate, "detected"
    if dbf.ldid in _LDID_SINGLE_BYTE:
        return _LDID_SINGLE_BYTE[dbf.ldid], "dbf"
    record, field = bad or (0, 0)
    where = f"record {record}, field {field}" if record else "its field names"
    where_zh = f"第 {record} 条记录第 {field} 个字段" if record else "字段名"
    raise FileEncodingError(
        f"cannot decode the text of {shown} ({where}) as UTF-8, GBK or GB18030, and the "
        "shapefile does not say its encoding (it has no .cpg file): name it with `--encoding` "
        "(e.g. big5)",
        zh=f"无法按 UTF-8、GBK 或 GB18030 识别 {shown} 中的文字（{where_zh}），且该 Shapefile "
        "没有写明编码（没有 .cpg 文件）：请指定编码（如 big5）",
    )


def _only_layer(file: Path, shown: str) -> str | None:
    """The layer to read when none is named: the only one, or one called ``cells``."""
    try:
        names = [str(name) for name, _ in pyogrio.list_layers(file)]
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(_unreadable(file, shown, exc), zh=_unreadable_zh(shown)) from exc
    if len(names) <= 1:
        return None
    if "cells" in names:
        return "cells"
    raise InputError(
        f"{shown} has several layers ({listing(names, noun='', sep=', ')}): name one with --layer",
        zh=f"{shown} 有多个图层（{listing_zh(names, noun='', sep='、')}）：请选择其中一个图层",
    )


def _unreadable(file: Path, shown: str, exc: Exception) -> str:
    """GDAL's complaint about a file, naming it as the user knows it (not a temporary path)."""
    words = str(exc).replace(str(file), shown).replace(str(file.parent), "")
    return f"cannot read {shown} as a vector file: {words}"


def _unreadable_zh(shown: str) -> str:
    """:func:`_unreadable` in Chinese, without GDAL's words (which are English)."""
    return f"无法读取 {shown}：不是可识别的 GeoJSON、GeoPackage 或 Shapefile，或文件已损坏"


def _in_archive(
    files: list[Path], folder: Path, layer: str | int | None, shown: str
) -> tuple[Path, str | int | None]:
    """The vector file of an unpacked zip to read, and the layer to read in it."""
    found = [
        f
        for f in files
        if f.suffix.lower() in _VECTOR_SUFFIXES
        and "__MACOSX" not in f.relative_to(folder).parts
        and not f.name.startswith("._")
    ]
    names = [f.relative_to(folder).as_posix() for f in found]
    if not found:
        inside = [f.relative_to(folder).as_posix() for f in files]
        raise InputError(
            f"{shown} holds no shapefile (.shp), GeoPackage or GeoJSON; it holds "
            + listing(inside, noun="file"),
            zh=f"{shown} 中没有 Shapefile（.shp）、GeoPackage 或 GeoJSON，只有："
            + listing_zh(inside, noun="个文件"),
        )
    if len(found) == 1:
        only = found[0]
        return only, None if only.suffix.lower() == ".shp" and isinstance(layer, str) else layer
    chosen = [
        f for f in found if layer in (f.stem, f.name) or (layer is None and f.stem == "cells")
    ]
    if len(chosen) == 1:
        return chosen[0], None
    raise InputError(
        f"{shown} holds several layers ({listing(names, noun='', sep=', ')}): "
        "name one with --layer (its name without the suffix)",
        zh=f"{shown} 中有多个图层（{listing_zh(names, noun='', sep='、')}）："
        "请选择其中一个图层（名称不含后缀）",
    )


def read_vector(
    path: str | Path,
    *,
    encoding: str | None = None,
    layer: str | int | None = None,
    name: str | None = None,
    on_invalid: Literal["raise", "null"] = "raise",
) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame, decoding its text strictly.

    Parameters
    ----------
    path:
        A shapefile (``.shp``), GeoPackage, GeoJSON or anything else GDAL
        reads, or a ``.zip`` holding one of the first three.
    encoding:
        The text encoding of a shapefile, over what the file says or what is
        detected (see the module's description).
    layer:
        Layer name or index for multi-layer files (GeoPackage), or the
        shapefile's name in a zip holding several. Without it a file must
        have one layer, or a layer named ``cells`` (what ``gridgis
        partition`` writes), which is read.
    name:
        The file's name in messages (an upload's own name); default ``path``.
    on_invalid:
        ``"raise"``: a geometry GEOS cannot build (a line of one vertex...)
        fails the whole read; ``"null"``: it becomes ``None`` and
        ``.attrs["invalid_geometry"]`` maps its position to why.

    Returns
    -------
    GeoDataFrame
        As read, in the file's own CRS (``.crs`` may be ``None``), with
        ``attrs["encoding"]`` and ``attrs["encoding_source"]`` (see
        :func:`encoding_note`).

    Raises
    ------
    NotFoundError
        When the file does not exist.
    FileEncodingError
        When the text cannot be decoded; the message suggests ``--encoding``.
    InputError
        When the file cannot be read, or is a zip that is refused (see
        :func:`gridgis.archive.extract_archive`) or holds no single layer.

    Examples
    --------
    >>> read_vector("data/boundaries/350304.geojson").loc[0, "name"]
    '荔城区'
    >>> encoding_note(read_vector("streets_gbk.zip"))  # doctest: +SKIP
    'GBK (detected)'
    """
    file = Path(path)
    shown = name or str(file)
    if not file.exists():
        raise NotFoundError(f"file {shown!r} does not exist", zh=f"文件 {shown!r} 不存在")
    if file.suffix.lower() == ".zip" and file.is_file():
        with tempfile.TemporaryDirectory(prefix="gridgis-zip-") as tmp:
            folder = Path(tmp)
            inner, inner_layer = _in_archive(
                extract_archive(file, folder, name=shown), folder, layer, shown
            )
            inner_name = f"{shown}/{inner.relative_to(folder).as_posix()}"
            return read_vector(
                inner, encoding=encoding, layer=inner_layer, name=inner_name, on_invalid=on_invalid
            )
    is_shapefile = file.suffix.lower() == ".shp"
    if layer is None and not is_shapefile:
        layer = _only_layer(file, shown)
    chosen: str | None = None
    source = "format"
    if is_shapefile:
        chosen, source = _shapefile_encoding(file, encoding, shown)
    elif encoding:
        chosen, source = check_encoding(encoding), "given"
    try:
        frame = pyogrio.read_dataframe(
            file,
            layer=layer,
            encoding=chosen,
            on_invalid="ignore" if on_invalid == "null" else "raise",
        )
    except UnicodeDecodeError as exc:
        raise FileEncodingError(
            f"cannot decode the text of {shown} as {chosen or 'its declared encoding'} "
            f"({ENCODING_SOURCES.get(source, source)}): {exc.reason} at byte {exc.start}. "
            "Name the right one with `--encoding` (utf-8, gbk, gb18030).",
            zh=f"无法按 {chosen or '文件声明的编码'}"
            f"（{_ENCODING_SOURCES_ZH.get(source, source)}）识别 {shown} 中的文字"
            f"（第 {exc.start} 字节）：请指定正确的编码（utf-8、gbk、gb18030）",
        ) from exc
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(_unreadable(file, shown, exc), zh=_unreadable_zh(shown)) from exc
    except shapely.errors.GEOSException as exc:
        detail = str(exc).split(": ", 1)[-1].strip()
        raise InputError(
            f"cannot read {shown}: a feature's geometry is invalid: "
            f"{_PLAIN_GEOS.get(detail, detail)}",
            zh=f"无法读取 {shown}：有要素的图形无效（{_PLAIN_GEOS_ZH.get(detail, detail)}）",
        ) from exc
    frame.attrs["encoding"] = chosen
    frame.attrs["encoding_source"] = source
    if on_invalid == "null":
        frame.attrs["invalid_geometry"] = _invalid_geometries(file, layer, chosen, frame)
    return frame


def _invalid_geometries(
    file: Path, layer: str | int | None, encoding: str | None, frame: gpd.GeoDataFrame
) -> dict[int, str]:
    """Position -> why, for the features whose geometry was there but could not be built."""
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry (a roster)
        return {}
    missing = frame.geometry.isna().to_numpy()
    if not missing.any():
        return {}
    # Read again, as WKB, only when some geometry is absent: told apart from none at all.
    _, _, wkb, _ = pyogrio.raw.read(file, layer=layer, encoding=encoding, columns=[])
    problems: dict[int, str] = {}
    for i in missing.nonzero()[0]:  # the few invalid features, one by one for their message
        if wkb[i] is None:
            continue
        try:
            shapely.from_wkb(wkb[i])
        except shapely.errors.GEOSException as exc:
            detail = str(exc).split(": ", 1)[-1].strip()
            plain = _PLAIN_GEOS.get(detail)
            problems[int(i)] = f"the geometry is invalid: {plain or detail}"
    return problems


# --- the CRS a user names for a file -------------------------------------------------------------


def apply_named_crs(frame: gpd.GeoDataFrame, crs: crs_mod.CRSLike | None) -> gpd.GeoDataFrame:
    """``frame`` read from a file, in the CRS a user named for it (``--crs``).

    The rule of the commands that work on files (``gridgis partition``,
    ``validate``; the importers of registers and roads follow
    :func:`gridgis.intake.checks.source_crs`):

    - no ``crs``: the file's own CRS, which it must say;
    - GCJ-02 or BD-09: converted to WGS84, whatever the file says (a file
      copied from AMap says EPSG:4326 but holds GCJ-02);
    - a file that says no CRS: ``crs`` is set, nothing is converted;
    - a file that says WGS84 (or CGCS2000): kept as it is;
    - a file in another CRS: converted to WGS84, and ``crs`` must agree with
      what the file says.

    Parameters
    ----------
    frame:
        As read by :func:`read_vector`; not changed.
    crs:
        What the user named, any form :func:`gridgis.crs.parse_crs` reads; or ``None``.

    Returns
    -------
    geopandas.GeoDataFrame
        With ``.crs`` set.

    Raises
    ------
    CRSError
        When neither the file nor ``crs`` says the CRS, when ``crs`` is not a
        CRS, or when it disagrees with a projected file's own.

    Examples
    --------
    >>> from shapely import Point
    >>> amap = gpd.GeoDataFrame(geometry=[Point(119.0125, 25.4363)], crs="EPSG:4326")
    >>> out = apply_named_crs(amap, "gcj02")
    >>> out.crs.to_epsg(), round(float(out.geometry.x.iloc[0]), 4)
    (4326, 119.0078)
    """
    if crs is None:
        if frame.crs is None:
            raise CRSError(
                f"the file does not say its CRS and none was given: pass --crs "
                f"({crs_mod.CRS_CHOICES})",
                zh=f"文件没有注明坐标系，也没有指定坐标系：请选择坐标系（{crs_mod.CRS_CHOICES}）",
            )
        return frame
    spec = crs_mod.parse_crs(crs)
    if spec.is_obfuscated:
        return crs_mod.to_wgs84_frame(frame, spec, allow_override=True)
    if frame.crs is None:
        return frame.set_crs(spec.crs)
    if crs_mod.parse_crs(frame.crs).is_wgs84:
        return frame
    return crs_mod.to_wgs84_frame(frame, spec)


# --- layouts on files ----------------------------------------------------------------------------


def write_layout(
    cells: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    assignment: pd.Series,
    out: Path,
) -> list[Path]:
    """Write a layout drawn on files: the cells, and every unit with the code of its cell.

    A GeoPackage ``out`` gets two layers, ``cells`` and ``units``; any other
    format two files, ``out`` and ``<stem>_units<suffix>`` beside it. The
    cells' ``flags`` (lists of str) are written as comma-separated text, which
    :func:`flags_from_text` reads back. ``out`` is replaced when it exists.

    Parameters
    ----------
    cells:
        The cells, with a ``flags`` column of lists.
    units:
        The units the cells were drawn from; not changed.
    assignment:
        Unit index -> cell code (``LayoutResult.assignment``).
    out:
        The file to write; its folder is created when missing.

    Returns
    -------
    list of Path
        The files written: one for a GeoPackage, else two.

    Examples
    --------
    >>> write_layout(result.cells, units, result.assignment, Path("cells.gpkg"))  # doctest: +SKIP
    [PosixPath('cells.gpkg')]
    """
    out = Path(out)
    if out.suffix.lower() == ".gpkg":
        cells_path, cells_layer, units_path, units_layer = out, "cells", out, "units"
    else:
        cells_path, cells_layer = out, None
        units_path, units_layer = out.with_name(out.stem + "_units" + out.suffix), None
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    table = cells.copy()
    table["flags"] = table["flags"].map(lambda f: _FLAG_SEPARATOR.join(f))
    pyogrio.write_dataframe(table, cells_path, layer=cells_layer)
    mapping = units.copy()
    mapping["cell_code"] = assignment.reindex(units.index)
    pyogrio.write_dataframe(mapping, units_path, layer=units_layer, append=cells_path == units_path)
    return [cells_path] if units_path == cells_path else [cells_path, units_path]


_FLAG_SEPARATOR = ","
"""Between the flags of a cell in a file (``oversize,fewer_households``)."""


def flags_from_text(frame: gpd.GeoDataFrame, column: str = "flags") -> gpd.GeoDataFrame:
    """A copy of ``frame`` with the comma-separated text of ``column`` as lists of flags.

    The inverse of how :func:`write_layout` writes flags.

    Lists stay lists; empty text and missing values are no flag.

    Examples
    --------
    >>> from shapely import Point
    >>> cells = gpd.GeoDataFrame({"flags": ["oversize,gap", "", None]},
    ...                          geometry=[Point(0, 0)] * 3)
    >>> flags_from_text(cells)["flags"].tolist()
    [['oversize', 'gap'], [], []]
    """
    out = frame.copy()
    out[column] = [
        value if isinstance(value, list) else [x for x in _text(value).split(_FLAG_SEPARATOR) if x]
        for value in frame[column]
    ]
    return out


def _text(value: object) -> str:
    """Text of a cell read from a file; a missing value (None, NaN) is empty."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)
