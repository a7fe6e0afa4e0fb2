"""Importing a district's own registers: buildings, households, grid workers, branches, facilities.

Each importer is a library function taking a file and options and returning a
:class:`~gridgis.registers.report.RegisterReport`; the command line
(``gridgis import buildings FILE``...) and the web import page only call them.
Shared by all of them:

- :mod:`~gridgis.registers.columns`: which column holds which field, from
  Chinese or English headers in any order (``户数``/``households``...), or as
  named by ``--X-field`` options;
- :mod:`~gridgis.registers.report`: one outcome per row (imported, updated,
  unchanged, flagged, rejected), totals that add up, the per-row CSV.

Every import runs in one transaction (a failure, or ``dry_run``, leaves the
database as it was), upserts on the file's id (a second import of the same
file changes nothing) and writes one audit row summing it up.
"""

from __future__ import annotations

from gridgis.registers.columns import ALIASES, Columns, field_option, match_columns
from gridgis.registers.report import OUTCOMES, RegisterReport, RowOutcomes, default_report_path

__all__ = [
    "ALIASES",
    "OUTCOMES",
    "Columns",
    "RegisterReport",
    "RowOutcomes",
    "default_report_path",
    "field_option",
    "match_columns",
]
