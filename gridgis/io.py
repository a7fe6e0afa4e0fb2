"""Reading vector files (shapefile, GeoPackage, GeoJSON) with their text decoded right.

Shapefiles keep their text encoding outside the data: in a ``.cpg`` file or
in the DBF header's language-driver byte. Chinese GIS software often writes
GBK with neither, and GDAL then decodes the bytes as Latin-1, which gives
plausible-looking garbage. gridgis refuses to guess: a shapefile with no
stated encoding is read as UTF-8, and if that fails the error names the file
and suggests ``--encoding gbk``.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from gridgis.errors import ConfigError, FileEncodingError, InputError, NotFoundError

_UNDECLARED = {"ISO-8859-1", "LATIN1", "ISO8859-1"}


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
            "use e.g. utf-8, gbk, gb18030 or big5"
        ) from exc


def _only_layer(file: Path) -> str | None:
    """The layer to read when none is named: the only one, or one called ``cells``."""
    try:
        names = [str(name) for name, _ in pyogrio.list_layers(file)]
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"cannot read {file} as a vector file: {exc}") from exc
    if len(names) <= 1:
        return None
    if "cells" in names:
        return "cells"
    raise InputError(f"{file} has several layers ({', '.join(names)}): name one with --layer")


def _declared_encoding(path: Path, layer: str | int | None) -> str | None:
    """The encoding a shapefile declares (.cpg or DBF language driver), if any."""
    if path.suffix.lower() != ".shp":
        return None
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return "declared"
    info = pyogrio.read_info(path, layer=layer)
    encoding = str(info.get("encoding") or "").upper()
    return None if encoding in _UNDECLARED or not encoding else encoding


def read_vector(
    path: str | Path,
    *,
    encoding: str | None = None,
    layer: str | int | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector file into a GeoDataFrame, decoding its text strictly.

    Parameters
    ----------
    path:
        A shapefile (``.shp``; its ``.cpg`` is honoured), GeoPackage,
        GeoJSON or anything else GDAL reads.
    encoding:
        The text encoding, when the file does not declare it (e.g. ``"gbk"``
        for a shapefile without ``.cpg``). Given, it wins over the file's own.
    layer:
        Layer name or index for multi-layer files (GeoPackage). Without it a
        file must have one layer, or a layer named ``cells`` (what
        ``gridgis partition`` writes), which is read.

    Returns
    -------
    GeoDataFrame
        As read, in the file's own CRS (``.crs`` may be ``None``).

    Raises
    ------
    NotFoundError
        When the file does not exist.
    FileEncodingError
        When the text cannot be decoded; the message suggests ``--encoding``.

    Examples
    --------
    >>> read_vector("data/boundaries/350304.geojson").loc[0, "name"]  # doctest: +SKIP
    '荔城区'
    """
    file = Path(path)
    if not file.exists():
        raise NotFoundError(f"file {str(file)!r} does not exist")
    if layer is None:
        layer = _only_layer(file)
    chosen = check_encoding(encoding) if encoding else None
    if chosen is None and _declared_encoding(file, layer) is None and file.suffix.lower() == ".shp":
        chosen = "utf-8"
        undeclared = True
    else:
        undeclared = False
    try:
        frame = pyogrio.read_dataframe(file, layer=layer, encoding=chosen)
    except UnicodeDecodeError as exc:
        if undeclared:
            raise FileEncodingError(
                f"cannot decode the text of {file} as UTF-8, and the shapefile does not say "
                "its encoding (it has no .cpg file). Shapefiles from Chinese GIS software are "
                "usually GBK: try `--encoding gbk` (or gb18030)."
            ) from exc
        raise FileEncodingError(
            f"cannot decode the text of {file} as {chosen or 'its declared encoding'}: {exc}. "
            "Try another `--encoding` (utf-8, gbk, gb18030)."
        ) from exc
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"cannot read {file} as a vector file: {exc}") from exc
    return frame
