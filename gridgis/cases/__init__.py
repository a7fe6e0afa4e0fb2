"""The case lifecycle (事件): filing, steps, deadlines and on-time figures.

A case is reported (上报), then registered (立案), dispatched (派遣),
handled (处置), verified (核查) and closed (结案), one step after the
other; a case that is not finished can instead be rejected (作废). Each step
is stored with its time and who took it (``<step>_at`` / ``<step>_by`` in
``case_record``); the database computes the current ``step`` and a trigger
refuses to move a case backwards or to change a finished one. This module
checks the same rules first, so that the errors say plainly what was wrong.

Near-duplicates (疑似重复) and merging (合并): :func:`likely_duplicates` and
:func:`duplicates_of` find open cases of the same category nearby (50 m) and
close in time (7 days); :func:`merge_cases` links a duplicate to the case it
repeats and finishes it, so that it is counted once (:mod:`gridgis.cases.duplicates`).

Deadlines: each category (``case_category``) has a time limit in hours; a
case's ``deadline`` is its report time plus the limit in force when it was
filed. A case is *overdue* (超期) when it is open (neither closed nor rejected)
and the deadline has passed; it is *closed late* (逾期结案) when it was closed
after its deadline, and closed on time (按期结案) when ``closed_at <= deadline``.

Times without a time zone are read as China Standard Time (+08:00, see
:mod:`gridgis.times`); a case's report and step times must be plausible
(from 1949-10-01 to tomorrow); case dicts give times as ISO 8601 strings at
+08:00.

Every function takes an engine or a connection. With a connection, the work
is part of the caller's transaction (the caller commits); with an engine, a
change is committed before the function returns.

Filing many cases (the intake API): give :func:`create_case` an
:class:`IntakeCache`. The point is then placed in cells held in memory (about
15 µs, against 1-2 ms for a PostGIS lookup) and the case stored by one
``INSERT`` that also reads the category's time limit and checks that no
layout was published since the cells were loaded (if one was, nothing is
stored, the cells are reloaded and the case placed again). With the check of
the tables' versions before it (:mod:`gridgis.db.versions`: any change to the
cells or categories is seen by the next case), two round trips per case, never
a case in a replaced layout. Measured over HTTP with
``scripts/bench/intake.py`` on 2 cores: about 1.9 ms of CPU per case in all
(gunicorn, Flask, this module, PostgreSQL), against 6.7 ms when every case
looked its point up in PostGIS with a dozen statements.

Examples
--------
>>> from gridgis.db.engine import get_engine
>>> engine = get_engine()
>>> case = create_case(
...     engine, category="fire_safety", lon=119.0128, lat=25.4119, actor="wangfang"
... )
>>> case["cell_code"], case["step"]
('350304001007001', 'reported')
>>> advance_case(engine, case["id"], "registered", actor="镇海街道")["step"]
'registered'
"""

from __future__ import annotations

from gridgis.cases.base import LOCAL_TZ, STEPS
from gridgis.cases.base import period_clauses as period_clauses
from gridgis.cases.cache import IntakeCache
from gridgis.cases.categories import (
    CaseCategories,
    case_categories,
    load_categories,
    resolve_categories,
)
from gridgis.cases.deadlines import MAX_DEADLINE_HOURS as MAX_DEADLINE_HOURS
from gridgis.cases.deadlines import deadline_hours, set_deadline_hours
from gridgis.cases.deadlines import is_closed_late as is_closed_late
from gridgis.cases.deadlines import is_closed_on_time as is_closed_on_time
from gridgis.cases.deadlines import is_overdue as is_overdue
from gridgis.cases.duplicates import MAX_DUPLICATES as MAX_DUPLICATES
from gridgis.cases.duplicates import duplicates_of, likely_duplicates, merge_cases, merged_from
from gridgis.cases.duplicates import is_merged as is_merged
from gridgis.cases.filing import create_case, locate_address
from gridgis.cases.lifecycle import add_note, advance_case, case_timeline, escalate_case
from gridgis.cases.records import MAX_LIMIT as MAX_LIMIT
from gridgis.cases.records import ORDERS as ORDERS
from gridgis.cases.records import count_cases, get_case, list_cases
from gridgis.cases.stats import STAT_LAYOUTS, STAT_LEVELS, case_stats

__all__ = [
    "LOCAL_TZ",
    "STAT_LAYOUTS",
    "STAT_LEVELS",
    "STEPS",
    "CaseCategories",
    "IntakeCache",
    "add_note",
    "advance_case",
    "case_categories",
    "case_stats",
    "case_timeline",
    "count_cases",
    "create_case",
    "deadline_hours",
    "duplicates_of",
    "escalate_case",
    "get_case",
    "likely_duplicates",
    "list_cases",
    "load_categories",
    "locate_address",
    "merge_cases",
    "merged_from",
    "resolve_categories",
    "set_deadline_hours",
]
