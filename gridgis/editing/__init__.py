"""Editing one community's cells: propose a layout, keep it as a draft, publish it.

The steps an administrator takes, in the CLI (``gridgis cells draw|adjust``)
and in the web app alike:

1. :func:`propose_layout` runs the cell engine on the community as stored
   (``draw``: the whole community; ``adjust``: only the cells whose
   households break the bounds), or :func:`propose_from_file` reads an
   uploaded layout file (GeoJSON, GeoPackage, zipped shapefile; any CRS).
   Either gives a :class:`Proposal`: the new cells, the layout version they
   were computed from, and the validator's report.
2. :func:`save_draft` keeps a proposal in the ``layout_draft`` table, so it
   survives between the preview and the publish request (and across web
   workers); :func:`draft_diff` shows what publishing it would change.
3. :func:`publish_draft` publishes it in one transaction, refusing a draft
   whose community has moved on (:class:`StaleDraftError`) or whose
   validator report has errors; :func:`discard_draft` and
   :func:`discard_drafts` throw drafts away.

Nothing here knows about Flask; the database is reached through an engine
or a connection.

One module per step, their public names re-exported here:
:mod:`~gridgis.editing.proposals` (step 1), :mod:`~gridgis.editing.files`
(reading a layout file), :mod:`~gridgis.editing.drafts` (steps 2 and 3) and
:mod:`~gridgis.editing.summaries` (the communities the editor lists).

Examples
--------
>>> proposal = propose_layout(  # cells of 150 to 250 households instead of 300 to 500
...     engine, "350304001001", method="adjust", min_households=150, max_households=250
... )
>>> draft_id = save_draft(engine, proposal, actor="王芳")
>>> publish_draft(engine, draft_id, actor="王芳").line()
'350304001001: version 1 -> 2; ...'
"""

from __future__ import annotations

from gridgis.editing.drafts import (
    Draft,
    StaleDraftError,
    UnpublishableDraftError,
    cells_geojson,
    discard_draft,
    discard_drafts,
    draft_diff,
    drafts_of,
    load_draft,
    publish_draft,
    report_json,
    save_draft,
)
from gridgis.editing.files import UPLOAD_SUFFIXES, read_layout_file
from gridgis.editing.proposals import (
    CELL_COLUMNS,
    PROPOSE_METHODS,
    NothingToDrawError,
    Proposal,
    propose_from_file,
    propose_layout,
)
from gridgis.editing.summaries import (
    CommunitySummary,
    community_summaries,
    count_communities,
    out_of_bounds,
)

__all__ = [
    "CELL_COLUMNS",
    "PROPOSE_METHODS",
    "UPLOAD_SUFFIXES",
    "CommunitySummary",
    "Draft",
    "NothingToDrawError",
    "Proposal",
    "StaleDraftError",
    "UnpublishableDraftError",
    "cells_geojson",
    "community_summaries",
    "count_communities",
    "discard_draft",
    "discard_drafts",
    "draft_diff",
    "drafts_of",
    "load_draft",
    "out_of_bounds",
    "propose_from_file",
    "propose_layout",
    "publish_draft",
    "read_layout_file",
    "report_json",
    "save_draft",
]
