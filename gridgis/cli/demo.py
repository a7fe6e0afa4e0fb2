"""`gridgis demo`: load a generated demo district."""

from __future__ import annotations

from typing import Any

import click

from gridgis.cli._shared import PhaseBars, echo_lines, friendly

DEMO_DISTRICTS = {"350304": "荔城区", "211403": "龙港区", "430111": "雨花区", "220402": "龙山区"}
"""The seed districts of :data:`gridgis.demo.PROFILES`, copied so that ``--help`` need not
import the generator (tests/test_cli_help.py keeps the two equal)."""


@click.command("demo")
@click.option(
    "--district",
    type=click.Choice(sorted(DEMO_DISTRICTS)),
    default="350304",
    show_default=True,
    help="Seed district: " + ", ".join(f"{c} {n}" for c, n in DEMO_DISTRICTS.items()) + ".",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Random seed; the same seed loads the same district.",
)
@click.option(
    "--scale",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Share of the real population, cases and patrols to generate "
    "(e.g. 0.05 for a quick look; the map stays the same).",
)
@click.option("--replace", is_flag=True, help="Delete the district's data first and load again.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the cell engine (default: up to 4, by CPU).",
)
@click.option(
    "--keep-files",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="Folder to keep the district's files in (outlines of street offices and "
    "communities, cells, roads, buildings, units, service facilities, the roster of grid "
    "workers, the party organisations, the exports of cases and patrols, as an office would "
    "have them), to look at or import again.",
)
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The cases and patrols cover the year up to this day (YYYY-MM-DD; default today).",
)
@friendly
def demo_cmd(
    district: str,
    seed: int,
    scale: float,
    replace: bool,
    workers: int | None,
    keep_files: str | None,
    today: Any,
) -> None:
    """Load a demo district into the database.

    The real outline and official names of its street offices and communities, with generated
    roads, buildings, grid cells, grid workers, party branches, service facilities, a year
    of cases and patrols (the year up to today, or to --today: the same seed and day load
    the same district). Runs once: when the district already has data it says so and
    changes nothing (use --replace). Everything is loaded in one transaction; the outlines
    of the street offices and communities, the cells the demo's engine drew, the roads, the
    buildings and their units, the service facilities, the roster of grid workers, the party
    organisations, the cases (with their history) and the patrols' tracks are written as
    files and loaded by the importers of `gridgis import boundaries`, `roads`, `buildings`,
    `units`, `facilities`, `workers`, `branches`, `cases` and `inspections`, as a district's
    own files would be.
    """
    from gridgis.db import migrate
    from gridgis.db.engine import get_engine
    from gridgis.demo import run_demo

    engine = get_engine()
    migrate.upgrade(engine)
    with PhaseBars() as bars:
        summary = run_demo(
            engine,
            district=district,
            seed=seed,
            scale=scale,
            replace=replace,
            workers=workers,
            keep_files=keep_files,
            today=today.date() if today is not None else None,
            progress=lambda phase, done, total: bars(f"{phase:<12}", done, total),
        )
    echo_lines(summary.lines())
