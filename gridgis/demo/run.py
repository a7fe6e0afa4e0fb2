"""Loading a demo district into the database (:func:`run_demo`); checks (:func:`validate_demo`)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
from sqlalchemy import Connection, Engine, func, select

from gridgis.audit import SYSTEM
from gridgis.db.models import Building, Case, Community, District, GridCell, GridWorker, Street
from gridgis.demo.checks import OVERLAP_TOLERANCE_M2, DemoCheck, check_overlap, validate_demo
from gridgis.demo.files import (
    write_buildings,
    write_cases,
    write_departments,
    write_facilities,
    write_inspections,
    write_organisations,
    write_roads,
    write_units,
    write_workers,
)
from gridgis.demo.generate import DemoDistrict, Progress, generate_district
from gridgis.demo.members import write_members
from gridgis.demo.outlines import write_outlines
from gridgis.demo.party_tree import PartyTree, build_party_tree
from gridgis.demo.party_units import (
    PartyDemo,
    add_sanling_categories,
    build_party,
    load_party,
    write_resident_units,
)
from gridgis.demo.profiles import profile
from gridgis.demo.property import build_compounds, write_compounds
from gridgis.demo.visits import write_residents
from gridgis.errors import ValidationError
from gridgis.intake.report import IntakeReport
from gridgis.registers.report import RegisterReport

__all__ = [
    "OVERLAP_TOLERANCE_M2",
    "DemoCheck",
    "DemoSummary",
    "check_overlap",
    "run_demo",
    "validate_demo",
]

logger = logging.getLogger(__name__)

PUBLISHED_BY = "gridgis demo"


@dataclass
class DemoSummary:
    """What :func:`run_demo` did, with the figures the demo was built to.

    Attributes
    ----------
    district, name, seed, scale:
        The district and the run's options.
    created:
        ``False`` when the district already had data and nothing was loaded.
    message:
        One line for people.
    targets:
        ``residents``, ``households`` and ``cases`` asked for (the real
        figures times the scale).
    counts:
        What is stored: ``streets``, ``communities``, ``roads``,
        ``buildings``, ``units``, ``households``, ``residents``, ``cells``,
        ``cells_flagged``, ``workers``, ``cells_without_worker``,
        ``branches``, ``cells_without_branch``, ``facilities``, ``cases``,
        ``cases_closed_late``, ``cases_open_late``, ``inspections``.
    checks:
        The validator's verdict per level (empty when nothing was loaded).
    notes:
        Anything worth knowing (communities the engine needed several tries for).
    seconds:
        Wall time per phase.
    """

    district: str
    name: str
    seed: int
    scale: float
    created: bool
    message: str
    targets: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    checks: list[DemoCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        """The summary for people."""
        out = [self.message]
        if not self.counts:
            return out
        c, t = self.counts, self.targets

        def versus(key: str) -> str:
            target = t.get(key)
            if not target:
                return f"{c.get(key, 0):,}"
            return f"{c.get(key, 0):,} (target {target:,}, {c.get(key, 0) / target - 1:+.1%})"

        out += [
            f"  residents {versus('residents')}, households {versus('households')}",
            f"  {c.get('streets', 0)} street offices, {c.get('communities', 0)} communities, "
            f"{c.get('roads', 0):,} roads, {c.get('buildings', 0):,} buildings "
            f"({c.get('units', 0):,} units)",
            f"  {c.get('cells', 0):,} cells ({c.get('cells_flagged', 0):,} flagged), "
            f"{c.get('workers', 0):,} grid workers ({c.get('cells_without_worker', 0)} cells "
            f"uncovered), {c.get('branches', 0):,} party branches "
            f"({c.get('cells_without_branch', 0)} cells without), "
            f"{c.get('facilities', 0)} service facilities",
            f"  cases {versus('cases')}: {c.get('cases_closed_late', 0):,} closed after their "
            f"deadline, {c.get('cases_open_late', 0):,} open past it; "
            f"{c.get('inspections', 0):,} inspections",
        ]
        for check in self.checks:
            lines = check.lines()
            out.append("  " + lines[0])
            out += ["  " + line for line in lines[1:21]]
            if len(lines) > 21:
                out.append(f"    ... and {len(lines) - 21} more findings")
        out += [f"  note: {n}" for n in self.notes]
        if self.seconds:
            out.append("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items()))
        return out


def _counts(demo: DemoDistrict, tree: PartyTree) -> dict[str, int]:
    cases = demo.cases
    end = pd.Timestamp(demo.period[1])
    closed_late = cases["closed_at"].notna() & (cases["closed_at"] > cases["deadline"])
    open_late = cases["closed_at"].isna() & cases["rejected_at"].isna() & (cases["deadline"] < end)
    served = set(demo.worker_cells["cell_code"])
    with_branch = set(demo.branch_cells["cell_code"])
    return {
        "streets": len(demo.streets),
        "communities": len(demo.communities),
        "roads": len(demo.roads),
        "buildings": len(demo.buildings),
        "units": len(demo.units),
        "households": int(demo.buildings["households"].sum()),
        "residents": int(demo.buildings["residents"].sum()),
        "cells": len(demo.cells),
        "cells_flagged": int(sum(bool(f) for f in demo.cells["flags"])),
        "workers": len(demo.workers),
        "cells_without_worker": int((~demo.cells["code"].isin(served)).sum()),
        "branches": len(demo.branches),
        "organisations": len(tree.organisations),
        "groups": int((tree.organisations["kind"] == "group").sum()),
        "grid_leaders": len(tree.grid_leaders),
        "leaders": len(tree.leaders),
        "cells_without_branch": int((~demo.cells["code"].isin(with_branch)).sum()),
        "facilities": len(demo.facilities),
        "cases": len(cases),
        "cases_closed_late": int(closed_late.sum()),
        "cases_open_late": int(open_late.sum()),
        "inspections": len(demo.inspections),
    }


def _stored_counts(engine: Engine, district: str) -> dict[str, int]:
    like = f"{district}%"
    count = func.count()
    in_district = Building.community_code.like(like)
    queries = {
        "streets": select(count).where(Street.code.like(like), Street.geom.is_not(None)),
        "communities": select(count).where(Community.code.like(like), Community.geom.is_not(None)),
        "buildings": select(count).where(in_district),
        "households": select(func.coalesce(func.sum(Building.households), 0)).where(in_district),
        "residents": select(func.coalesce(func.sum(Building.residents), 0)).where(in_district),
        "cells": select(count).where(
            GridCell.community_code.like(like), GridCell.valid_to.is_(None)
        ),
        "workers": select(count).where(GridWorker.street_code.like(like)),
        "cases": select(count).where(Case.street_code.like(like)),
    }
    with engine.connect() as conn:
        return {k: int(conn.execute(q).scalar_one()) for k, q in queries.items()}


def _ensure_divisions_and_outline(engine: Engine, district: str) -> None:
    from gridgis.boundaries import prepare_boundaries
    from gridgis.data import path as data_path
    from gridgis.db.load import import_boundaries, load_divisions
    from gridgis.io import read_vector

    load_divisions(engine, [district], actor=SYSTEM)
    with engine.connect() as conn:
        has_outline = conn.execute(
            select(District.geom.is_not(None)).where(District.code == district)
        ).scalar()
    if not has_outline:
        prepared = prepare_boundaries(
            read_vector(data_path("boundaries", f"{district}.geojson")), level="district"
        )
        import_boundaries(engine, prepared, level="district", actor=SYSTEM)


IMPORTED_BY = "demo"
"""The actor of the demo's imports of its registers' files."""


def _check_import(report: RegisterReport | IntakeReport, path: Path) -> None:
    """Refuse an import of the demo's own file that rejected, flagged or skipped any row."""
    refused = {
        k: v for k, v in report.counts.items() if k in ("rejected", "flagged", "duplicate") and v
    }
    if refused:
        rows = report.rows[report.rows["outcome"].isin(list(refused))].head(5)
        intake = isinstance(report, IntakeReport)
        reasons = "; ".join(
            f"{i} {o}: {r if isinstance(r, str) else f}"
            for i, o, r, f in zip(
                rows["external_id" if intake else "id"],
                rows["outcome"],
                rows["reason"],
                rows["flag" if intake else "flags"],
                strict=True,
            )
        )
        raise ValidationError(
            f"the demo's file {path.name} did not import cleanly: {refused} ({reasons}); "
            "nothing was loaded"
        )


def _check_placed(placed: pd.Series, expected: pd.Series, path: Path, what: str) -> None:
    """Refuse an import that put demo rows elsewhere than the generator did.

    ``placed``: the importer's ``what`` code of each row, by external id;
    ``expected``: the generator's (``None``: any is right).
    """
    got = placed.reindex(expected.index)
    wrong = expected.notna() & (got.astype(object) != expected.astype(object))
    if wrong.any():
        shown = ", ".join(
            f"{i} in {got[i]} (generated in {expected[i]})" for i in expected.index[wrong][:5]
        )
        raise ValidationError(
            f"the demo's file {path.name} placed {int(wrong.sum())} row(s) in another "
            f"{what}: {shown}; nothing was loaded"
        )


def _load(
    engine: Engine,
    demo: DemoDistrict,
    *,
    replace: bool,
    files: dict[str, Path],
    case_files: Mapping[Path, str] | None = None,
    party: PartyDemo | None = None,
    progress: Progress | None,
) -> dict[str, float] | None:
    """Store ``demo`` in one transaction: the COPY loaders, and the importers for the files
    ``files`` holds (``streets``, ``communities`` and ``cells``: :mod:`gridgis.demo.outlines`;
    ``roads``, ``buildings``, ``units``, ``workers``, ``branches``, ``facilities``,
    ``inspections``) and for the exports of cases ``case_files`` names (each with the system
    of its coordinates), as a district's own.

    Returns the seconds per step, or ``None`` when the district was loaded meanwhile
    (and ``replace`` is not set): then nothing is changed.
    """
    from gridgis.db import bulk
    from gridgis.demo.outlines import import_cells, import_outlines
    from gridgis.registers.activities import import_activities
    from gridgis.registers.branches import import_branches
    from gridgis.registers.buildings import import_buildings
    from gridgis.registers.compounds import import_compounds
    from gridgis.registers.departments import import_departments
    from gridgis.registers.facilities import import_facilities
    from gridgis.registers.members import import_members
    from gridgis.registers.units import import_units
    from gridgis.registers.workers import import_workers

    importers: dict[str, Callable[..., RegisterReport]] = {
        "buildings": import_buildings,
        "units": import_units,
        "workers": import_workers,
        "branches": import_branches,
        "facilities": import_facilities,
        "departments": import_departments,
        "members": import_members,
        "activities": import_activities,
        "compounds": import_compounds,
    }
    imported: dict[str, float] = {}

    def run(conn: Connection, kind: str) -> RegisterReport:
        path = files[kind]
        clock = time.perf_counter()
        report = importers[kind](conn, path, actor=IMPORTED_BY)
        _check_import(report, path)
        imported[kind] = time.perf_counter() - clock
        return report

    def import_roads_file(conn: Connection) -> None:
        """The roads as the district's file of lines with ids, each stored under its id."""
        from gridgis.registers.roads import import_roads

        path = files["roads"]
        clock = time.perf_counter()
        report = import_roads(conn, path, district=demo.code, actor=IMPORTED_BY)
        _check_import(report, path)
        if report.counts["imported"] != len(demo.roads):
            raise ValidationError(
                f"the demo's file {path.name} did not import cleanly: "
                f"{report.counts['imported']} of {len(demo.roads)} roads new; nothing was loaded"
            )
        imported["roads"] = time.perf_counter() - clock

    def import_buildings_file(conn: Connection) -> None:
        if "streets" in files:  # the outlines first: buildings are placed in them
            clock = time.perf_counter()
            import_outlines(conn, files, actor=IMPORTED_BY)
            imported["outlines"] = time.perf_counter() - clock
        if "roads" in files:
            import_roads_file(conn)
        if "buildings" not in files:
            return
        placed = run(conn, "buildings").rows.set_index("id")["community_code"]
        expected = demo.buildings.set_index("external_id")["community_code"]
        _check_placed(placed, expected, files["buildings"], "community")
        if "units" in files:  # the units of the buildings just imported
            run(conn, "units")

    def import_after_cells(conn: Connection) -> None:
        if "cells" in files:  # drawn by the demo's engine, published once the buildings are in
            clock = time.perf_counter()
            import_cells(
                conn, files["cells"], actor=IMPORTED_BY, published_by=PUBLISHED_BY,
                note="demo district",
            )  # fmt: skip
            imported["cells"] = time.perf_counter() - clock
        if party is not None and "resident_units" in files:
            clock = time.perf_counter()
            load_party(conn, party, files["resident_units"], actor=IMPORTED_BY)
            imported["resident_units"] = time.perf_counter() - clock
        # the compounds last: they name the organisations and the 驻区单位
        kinds = ("workers", "branches", "members", "activities", "facilities", "departments")
        for kind in (*kinds, "compounds"):
            if kind not in files:
                continue
            report = run(conn, kind)
            if kind == "facilities":
                # Stations in their community; a street's centre in a community of its street.
                placed = report.rows.set_index("id")["community_code"]
                expected = demo.facilities.set_index("external_id")
                _check_placed(placed, expected["community_code"], files[kind], "community")
                _check_placed(placed.str[:9], expected["street_code"], files[kind], "street")
        import_cases_files(conn)
        if "residents" in files:  # 大走访: the key households, a campaign up to the period's end
            from gridgis.demo.visits import load_visits

            clock = time.perf_counter()
            load_visits(conn, files["residents"], district=demo.code, now=demo.period[1],
                        seed=demo.seed, actor=IMPORTED_BY)  # fmt: skip
            imported["visits"] = time.perf_counter() - clock
        if "departments" in files:  # the cases dispatched (大走访 too) take the rules' departments
            from gridgis.cases.departments import dispatch_rules_apply

            dispatch_rules_apply(conn, actor=IMPORTED_BY)
        if "inspections" in files:
            import_inspections_file(conn)

    def import_cases_files(conn: Connection) -> None:
        """The exports of cases (once the cells are published), each placed as generated."""
        from gridgis.intake import import_cases

        clock = time.perf_counter()
        placed = []
        for path, crs in (case_files or {}).items():
            report = import_cases(conn, path, crs=crs, actor=IMPORTED_BY)
            _check_import(report, path)
            placed.append(report.rows.set_index("external_id")["cell_code"])
        if case_files:
            expected = demo.cases.set_index("external_id")["cell_code"]
            _check_placed(pd.concat(placed), expected, Path("事件_*.csv"), "cell")
            imported["cases"] = time.perf_counter() - clock

    def import_inspections_file(conn: Connection) -> None:
        """The patrols' tracks (once the workers are stored): the importer finds their cells."""
        from gridgis.intake import import_inspections

        path = files["inspections"]
        clock = time.perf_counter()
        _check_import(import_inspections(conn, path, actor=IMPORTED_BY), path)
        imported["inspections"] = time.perf_counter() - clock

    def nothing(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
        """``frame`` emptied when its file is imported instead."""
        return frame.iloc[0:0] if kind in files else frame

    with engine.begin() as conn:
        # One demo load of a district at a time; a second waits here, then finds the data.
        bulk.lock_district(conn, demo.code)
        if bulk.district_has_data(conn, demo.code):
            if not replace:
                return None
            bulk.clear_district(conn, demo.code, actor=SYSTEM)
        add_sanling_categories(conn)  # before the cases that use them
        seconds = bulk.load_district(
            conn,
            streets=nothing(demo.streets, "streets"),
            communities=nothing(demo.communities, "communities"),
            roads=nothing(demo.roads, "roads"),
            buildings=nothing(demo.buildings, "buildings"),
            units=nothing(demo.units, "units"),
            cells=nothing(demo.cells, "cells"),
            workers=nothing(demo.workers, "workers"),
            worker_cells=nothing(demo.worker_cells, "workers"),
            branches=nothing(demo.branches, "branches"),
            branch_cells=nothing(demo.branch_cells, "branches"),
            facilities=nothing(demo.facilities, "facilities"),
            cases=demo.cases.iloc[0:0] if case_files else demo.cases,
            inspections=nothing(demo.inspections, "inspections"),
            inspection_cells=nothing(demo.inspection_cells, "inspections"),
            actor=SYSTEM,
            published_by=PUBLISHED_BY,
            progress=progress,
            before_buildings=import_buildings_file,
            after_cells=import_after_cells,
        )
    return seconds | {f"import.{k}": v for k, v in imported.items()}


def run_demo(
    engine: Engine,
    *,
    district: str = "350304",
    seed: int = 0,
    scale: float = 1.0,
    progress: Progress | None = None,
    replace: bool = False,
    workers: int | None = None,
    keep_files: str | Path | None = None,
    today: dt.date | None = None,
) -> DemoSummary:
    """Generate a demo district and load it into the database, all or nothing.

    Loads the official names and codes and the real outline of the district
    (when missing), generates the district (:func:`generate_district`),
    checks every level with the validator (:func:`validate_demo`), then
    writes everything a district office would have as files and loads them through
    the importers a user has, in one transaction (each import in a savepoint of it):
    the outlines of the street offices and communities (with their kinds and
    households per cell) and the cells the engine drew (published as layout version 1
    of each community, method ``draw``) by :func:`gridgis.db.load.import_boundaries`
    (:mod:`gridgis.demo.outlines`), the roads by :func:`gridgis.registers.roads.import_roads`,
    buildings and their units, service facilities, grid workers, party branches,
    departments, the year of cases (one export per source, with each case's history)
    and the patrols' GPS tracks by their importers (:mod:`gridgis.demo.files`), in
    that order: buildings once their communities are stored, cells once their
    buildings are, rosters once the cells are. A row an importer rejects, flags,
    repairs or skips, or places in another community (a case: another cell) than the
    generator did, stops the load: nothing is stored.

    Parameters
    ----------
    engine:
        The database (schema upgraded, see ``gridgis db upgrade``).
    district:
        ``350304`` 荔城区 (default), ``211403`` 龙港区, ``430111`` 雨花区 or
        ``220402`` 龙山区.
    seed:
        Random seed: the same seed loads the same district.
    scale:
        Share of the real population, cases and patrols (``0 < scale <= 1``).
    progress:
        ``progress(phase, done, total)`` as phases advance (``areas``,
        ``buildings``, ``cells``, ``people``, ``cases``, ``inspections``,
        ``checks``, ``load``).
    replace:
        When the district already has data: delete it
        (:func:`gridgis.db.bulk.clear_district`) and load the demo instead.
        Without it such a run returns at once and changes nothing.
    workers:
        Processes for the cell engine (default: up to 4, by CPU).
    keep_files:
        A folder to write the district's files into and keep them there (the outlines,
        cells, roads, registers and exports above), to look at or import again; by
        default a temporary folder, deleted after the load. Either way they are loaded
        through the importers (actor ``demo``), as a district office's own files would be.
    today:
        The cases and patrols cover the year up to this day (default today; see
        :func:`gridgis.demo.cases.demo_period`), so that the demo is never stale.

    Returns
    -------
    DemoSummary

    Raises
    ------
    NotFoundError
        When ``district`` is not one of the seed districts.
    InputError
        When ``scale`` or ``seed`` are out of range.
    ValidationError
        When the generated cells overlap by more than
        :data:`OVERLAP_TOLERANCE_M2` in all (:func:`check_overlap`), or an importer
        rejected, flagged or misplaced a row of the demo's files; nothing is loaded.

    Examples
    --------
    >>> from gridgis.db.engine import get_engine
    >>> summary = run_demo(get_engine(), district="211403", scale=0.05)  # doctest: +SKIP
    >>> summary.counts["communities"]  # doctest: +SKIP
    81
    """
    from gridgis.db import bulk

    prof = profile(district)
    started = time.perf_counter()
    _ensure_divisions_and_outline(engine, prof.code)
    with engine.connect() as conn:
        loaded = bulk.district_has_data(conn, prof.code)
    if loaded and not replace:
        counts = _stored_counts(engine, prof.code)
        return DemoSummary(
            district=prof.code,
            name=prof.name,
            seed=seed,
            scale=scale,
            created=False,
            message=(
                f"{prof.code} {prof.name} already has data ({counts['buildings']:,} buildings, "
                f"{counts['cells']:,} cells, {counts['cases']:,} cases): nothing loaded "
                "(use replace to load the demo over it)"
            ),
            counts=counts,
        )
    demo = generate_district(
        prof.code, seed=seed, scale=scale, workers=workers, progress=progress, today=today
    )
    seconds = dict(demo.seconds)
    clock = time.perf_counter()
    if progress is not None:
        progress("checks", 0, 1)
    checks = validate_demo(demo)
    tree = build_party_tree(demo)
    check_overlap(checks)
    if progress is not None:
        progress("checks", 1, 1)
    seconds["checks"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with ExitStack() as stack:
        folder = (
            Path(keep_files)
            if keep_files is not None
            else Path(stack.enter_context(TemporaryDirectory(prefix="gridgis-demo-")))
        )
        files = {
            **write_outlines(demo.streets, demo.communities, demo.cells, folder),
            "roads": write_roads(demo.roads, folder),
            "buildings": write_buildings(demo.buildings, folder),
            "units": write_units(demo.units, folder),
            "workers": write_workers(demo.workers, demo.worker_cells, folder, tree=tree),
            "branches": write_organisations(tree, folder),
            "facilities": write_facilities(demo.facilities, folder),
            "departments": write_departments(prof.code, demo.streets, folder),
            "inspections": write_inspections(demo.inspections, folder),
            **write_members(demo, folder),  # party members and their activity (issue 19)
            "residents": write_residents(demo.buildings, folder, seed=seed),
        }
        case_files = write_cases(demo.cases, folder)
        party = build_party(demo, seed=seed)
        files["resident_units"] = write_resident_units(party.units, folder)
        files["compounds"] = write_compounds(  # 红心物业: the compounds and their management
            build_compounds(demo, units=party.units, organisations=tree.organisations, seed=seed),
            folder,
        )
        seconds["files"] = time.perf_counter() - clock
        clock = time.perf_counter()
        load_seconds = _load(
            engine,
            demo,
            replace=replace,
            files=files,
            case_files=case_files,
            party=party,
            progress=progress,
        )
    if load_seconds is None:
        return DemoSummary(
            district=prof.code, name=prof.name, seed=seed, scale=scale, created=False,
            message=f"{prof.code} {prof.name} was loaded meanwhile: nothing loaded",
        )  # fmt: skip
    seconds["load"] = time.perf_counter() - clock
    seconds.update({f"load.{k}": v for k, v in load_seconds.items()})
    seconds["total"] = time.perf_counter() - started
    logger.info(
        "demo district %s loaded: %d cells, %d cases in %.0f s",
        prof.code,
        len(demo.cells),
        len(demo.cases),
        seconds["total"],
    )
    notes = [f"community {code}: {note}" for code, note in demo.engine_notes.items()]
    notes += [
        f"community {code} could not house {missing:,} households"
        for code, missing in demo.shortfall.items()
    ]
    return DemoSummary(
        district=prof.code,
        name=prof.name,
        seed=seed,
        scale=scale,
        created=True,
        message=(
            f"loaded demo district {prof.code} {prof.name} (seed {seed}, scale {scale:g}) "
            f"in {seconds['total']:.0f} s"
        ),
        targets=dict(demo.targets),
        counts=_counts(demo, tree),
        checks=checks,
        notes=notes,
        seconds=seconds,
    )
