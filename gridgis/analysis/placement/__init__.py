"""Party-branch placement: walking coverage of branches and stations, and where to add more.

Two questions, one package:

**Who is within walking distance?** :func:`walking_coverage` measures, for
every building, the walk to the nearest party branch (党支部) or party-mass
service centre / station (党群服务中心 / 服务站) along the road network
(:mod:`gridgis.analysis.network`), up to the 5 / 10 / 15-minute distances of
the living-circle standard (:data:`WALK_MINUTES`: 300 / 500 / 1,000 m, GB
50180-2018). A place farther than ``snap_limit`` from every walkable road has
no network near it: its distances are straight lines, and every facility,
building and summary says which ``method`` it got (``"network"`` or
``"straight_line"``). Households covered are those of the buildings within the
distance of any facility; a cell is *not covered* when fewer than
``threshold`` (default 50 %) of its households are.

**Where would k new sites cover the most?** :func:`suggest_sites` solves the
maximal covering location problem (MCLP, Church & ReVelle 1974) over
candidate sites (the largest buildings, or road junctions, of the cells not
covered; or points you give) and the households not yet covered.
:func:`max_cover` always runs the greedy heuristic (within a factor
1 − 1/e ≈ 63 % of the optimum, Nemhauser et al. 1978), solves the LP
relaxation for an upper bound, and solves the integer programme exactly with
HiGHS (:func:`scipy.optimize.milp`) under a time limit when it is small
enough; the result says which solver gave the sites and how far from the
best bound they are.

The service area drawn for a facility (:data:`AREA_METHOD`) is the concave
hull of the road it reaches, widened by 50 m: buffering hundreds of reached
road segments per facility costs seconds per facility at 1,000 m, the hull
a fraction of a millisecond. Straight-line facilities get a circle.

The package holds one concern per module and re-exports the public names:
:mod:`~gridgis.analysis.placement.reading` (what an analysis reads from the
database), :mod:`~gridgis.analysis.placement.coverage` (walking coverage),
:mod:`~gridgis.analysis.placement.mclp` (the maximal covering problem, on a
matrix), :mod:`~gridgis.analysis.placement.sites` (candidates and suggested
sites) and ``_shared`` (the standard's distances and the input checks both
analyses run).

Examples
--------
>>> with engine.connect() as conn:
...     data = read_placement_data(conn, street="350304001")
>>> cov = walking_coverage(
...     data.facilities, data.buildings, data.roads, cells=data.cells, distance=500.0
... )
>>> round(cov.summary["covered_share"], 2)
0.75
>>> plan = suggest_sites(
...     data.facilities, data.buildings, data.roads, cells=data.cells, k=3, distance=500.0
... )
>>> plan.solution.summary
'MILP (HiGHS) optimal: 176 households; greedy 176, within 0.0% of the optimum; ...'
"""

from __future__ import annotations

from gridgis.analysis.placement._shared import DEFAULT_THRESHOLD, WALK_MINUTES
from gridgis.analysis.placement.coverage import AREA_BUFFER as AREA_BUFFER
from gridgis.analysis.placement.coverage import AREA_METHOD, Coverage, walking_coverage
from gridgis.analysis.placement.coverage import AREA_RATIO as AREA_RATIO
from gridgis.analysis.placement.mclp import DEFAULT_LP_LIMIT as DEFAULT_LP_LIMIT
from gridgis.analysis.placement.mclp import DEFAULT_MILP_LIMIT as DEFAULT_MILP_LIMIT
from gridgis.analysis.placement.mclp import DEFAULT_TIME_LIMIT as DEFAULT_TIME_LIMIT
from gridgis.analysis.placement.mclp import GREEDY_SOLVER as GREEDY_SOLVER
from gridgis.analysis.placement.mclp import MILP_SOLVER as MILP_SOLVER
from gridgis.analysis.placement.mclp import CoverSolution, max_cover
from gridgis.analysis.placement.reading import FACILITY_KINDS, PlacementData, read_placement_data
from gridgis.analysis.placement.sites import CANDIDATE_KINDS, Placement, suggest_sites

__all__ = [
    "AREA_METHOD",
    "CANDIDATE_KINDS",
    "DEFAULT_THRESHOLD",
    "FACILITY_KINDS",
    "WALK_MINUTES",
    "CoverSolution",
    "Coverage",
    "Placement",
    "PlacementData",
    "max_cover",
    "read_placement_data",
    "suggest_sites",
    "walking_coverage",
]
