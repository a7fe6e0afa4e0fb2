"""gridgis: GIS for grid-based community governance (网格化管理).

The public API is listed in ``__all__``; everything else is internal.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gridgis.errors import (
    ConfigError,
    ConflictError,
    CoordinateError,
    CRSError,
    DatabaseError,
    FileEncodingError,
    GridGISError,
    InputError,
    NotFoundError,
    Problem,
    StorageError,
    ValidationError,
)

try:
    __version__ = version("gridgis")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "CRSError",
    "ConfigError",
    "ConflictError",
    "CoordinateError",
    "DatabaseError",
    "FileEncodingError",
    "GridGISError",
    "InputError",
    "NotFoundError",
    "Problem",
    "StorageError",
    "ValidationError",
    "__version__",
]
