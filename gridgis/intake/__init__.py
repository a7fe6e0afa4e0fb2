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

from gridgis.intake.cases import import_cases
from gridgis.intake.fields import (
    CASE_FIELDS,
    INSPECTION_FIELDS,
    read_case_rows,
    read_inspection_rows,
)
from gridgis.intake.inspections import import_inspections
from gridgis.intake.readers import SourceTable, read_table
from gridgis.intake.report import OUTCOMES, IntakeReport, default_report_path
from gridgis.times import DEFAULT_TIMEZONE, parse_times

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
