"""Benchmark gridgis.partition against spopt's max-p heuristic, side by side.

Both methods get the same units, grouped the same way (cells never cross a
group), and are judged the same way:

``time``
    Wall time of drawing, including building spopt's contiguity weights.
``peak MB``
    Peak resident memory (RSS) above the level reached after loading the
    input, sampled every 5 ms with psutil in a fresh process per run.
``cells``, ``in bounds``
    Number of cells (regions) and the share with 300–500 households.
``median PP``
    Median Polsby–Popper compactness (4πA/P², in a metric CRS) of the cells,
    each dissolved from its units' polygons.
``churn``
    After a random 10 % change in households (every unit's count multiplied
    by a factor uniform in [0.9, 1.1], seed 1): the share of households whose
    cell changed. gridgis runs :func:`gridgis.partition.adjust_cells` on each
    community; spopt is re-run on the new counts and its regions are matched
    to the old ones by the best one-to-one matching of shared households
    (Hungarian algorithm), a household counting as unchanged when its old
    and new regions are matched. ``kept`` is the share of old cells that
    survive unchanged (same units).

spopt setup: ``MaxPHeuristic(gdf, w, attrs_name=[households],
threshold_name=households, threshold=300, top_n=2)`` with its default
iterations, Rook contiguity from libpysal, one run per group, NumPy seeded
with 0. Some runs hang (the construction phase does not return); each solve
therefore gets ``--solve-timeout`` seconds (default 30, or 0.2 s per area if
more) and is retried with the next seed, up to three seeds; the wall time
includes the lost attempts and their number is reported. Each spopt run (the
drawing, and the re-run after the change) is stopped after ``--timeout``
seconds (default 600: "did not finish in 10 min").

Inputs: (1) Leicester's 969 census output areas grouped by MSOA (real data,
``../shared/data/real/leicester_oa``); (2) a lattice of 40×40 squares with
40–120 households each, one community; (3) a synthetic district of 20,000
building footprints in 40 communities with roads (spopt gets the gridgis
tessellation tiles as its areas, since footprints do not touch).

Usage::

    python scripts/bench/partition.py            # everything (about 20-30 minutes)
    python scripts/bench/partition.py --quick    # small inputs, a smoke run (about a minute)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import _synthetic  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "real"
MIN_HH, MAX_HH = 300, 500
INPUTS = ("leicester", "lattice", "district")


# --- inputs -------------------------------------------------------------------------------------


@dataclass
class Case:
    """One benchmark input: units with ``households`` and ``group``, and extras."""

    name: str
    units: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None


def load(name: str, quick: bool) -> Case:
    if name == "leicester":
        folder = DATA / "leicester_oa"
        areas = gpd.read_file(folder / "E06000016_Leicester.shp")
        table = pd.read_csv(folder / "leicester_oa_households.csv")
        units = areas.merge(
            table[["OA11CD", "MSOA11CD", "Total_Households"]],
            left_on="oa_code",
            right_on="OA11CD",
        ).rename(columns={"Total_Households": "households", "MSOA11CD": "group"})
        if quick:
            units = units[units["group"].isin(sorted(units["group"].unique())[:5])]
        return Case(name, units[["oa_code", "households", "group", "geometry"]])
    if name == "lattice":
        units = _synthetic.lattice(16 if quick else 40).rename(columns={"community": "group"})
        return Case(name, units)
    buildings, communities, roads = _synthetic.district(
        2_000 if quick else 20_000, 4 if quick else 40
    )
    return Case(name, buildings.rename(columns={"community": "group"}), communities, roads)


def changed(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return units.assign(households=_synthetic.change_households(units["households"].to_numpy()))


# --- measuring ----------------------------------------------------------------------------------


class PeakRSS:
    """Peak resident memory above the starting level, sampled in a thread."""

    def __init__(self, every: float = 0.005) -> None:
        import psutil

        self.process = psutil.Process()
        self.every = every
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def megabytes(self) -> float:
        return (self.peak - self.start) / 2**20


def metric_of(frame: gpd.GeoDataFrame) -> Any:
    from gridgis.crs import metric_crs

    return frame.crs if frame.crs.is_projected else metric_crs(frame.geometry)


def region_figures(
    polygons: gpd.GeoDataFrame, labels: np.ndarray, households: np.ndarray
) -> dict[str, float]:
    """Cells, share in bounds and median Polsby–Popper of regions given as unit labels."""
    from gridgis.partition import polsby_popper

    projected = polygons.to_crs(metric_of(polygons))
    geoms = np.asarray(projected.geometry.array, dtype=object)
    _, region = np.unique(labels, return_inverse=True)
    sums = np.bincount(region, weights=households)
    shapes = []
    order = np.argsort(region, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(region[order]) != 0])
    # One union per region (shapely has no grouped union).
    for part in np.split(order, starts[1:]):
        shapes.append(shapely.union_all(shapely.set_precision(geoms[part], 1e-6)))
    return {
        "cells": float(sums.size),
        "in_bounds": float(np.mean((sums >= MIN_HH) & (sums <= MAX_HH))),
        "median_pp": float(np.nanmedian(polsby_popper(shapes))),
    }


def matched_churn(groups: np.ndarray, old: np.ndarray, new: np.ndarray, hh: np.ndarray) -> dict:
    """Households whose region changed, after matching regions one to one per group."""
    from scipy.optimize import linear_sum_assignment

    kept_hh = 0.0
    same_regions = 0
    old_regions = 0
    for group in np.unique(groups):
        mask = groups == group
        _, a = np.unique(old[mask], return_inverse=True)
        _, b = np.unique(new[mask], return_inverse=True)
        table = np.zeros((a.max() + 1, b.max() + 1))
        np.add.at(table, (a, b), hh[mask])
        rows, cols = linear_sum_assignment(table, maximize=True)
        kept_hh += table[rows, cols].sum()
        members = pd.Series(np.arange(mask.sum())).groupby(a).apply(frozenset)
        members_new = set(pd.Series(np.arange(mask.sum())).groupby(b).apply(frozenset))
        same_regions += sum(1 for m in members if m in members_new)
        old_regions += len(members)
    return {"churn": 1.0 - kept_hh / hh.sum(), "kept": same_regions / old_regions}


# --- the two methods ----------------------------------------------------------------------------


def run_gridgis(case: Case) -> dict[str, Any]:
    from gridgis.partition import adjust_cells, draw_layout

    units = case.units
    with PeakRSS() as memory:
        started = time.perf_counter()
        result = draw_layout(
            units,
            group="group",
            communities=case.communities,
            roads=case.roads,
            min_households=MIN_HH,
            max_households=MAX_HH,
        )
        seconds = time.perf_counter() - started
    summary = result.summary()
    out: dict[str, Any] = {
        "seconds": seconds,
        "peak_mb": memory.megabytes,
        "cells": summary["n_cells"],
        "in_bounds": summary["share_within_bounds"],
        "median_pp": summary["median_polsby_popper"],
        "flagged": int(result.cells["flags"].map(bool).sum()),
    }
    after = changed(units)
    outlines = case.communities.set_index("code").geometry if case.communities is not None else None
    started = time.perf_counter()
    moved = 0.0
    kept = 0
    for group, cells in result.cells.groupby("group"):
        mine = after[after["group"] == group]
        adjusted = adjust_cells(
            cells,
            mine,
            community=outlines[group] if outlines is not None else None,
            community_code=str(group) if str(group).isdigit() else None,
            roads=case.roads,
            min_households=MIN_HH,
            max_households=MAX_HH,
        )
        moved += adjusted.churn * mine["households"].sum()
        kept += len(adjusted.unchanged)
    out["adjust_seconds"] = time.perf_counter() - started
    out["churn"] = moved / after["households"].sum()
    out["kept"] = kept / len(result.cells)
    return out


class _SolveTimeout(Exception):
    pass


def _spopt_labels(
    frame: gpd.GeoDataFrame, households: np.ndarray, solve_timeout: int
) -> tuple[np.ndarray, int]:
    """spopt max-p labels for one group (retrying hung solves), and the attempts lost."""
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    frame = frame.reset_index(drop=True).assign(hh=households.astype(float))
    weights = Rook.from_dataframe(frame, use_index=False, silence_warnings=True)
    lost = 0
    for seed in range(3):

        def stop(*_: object) -> None:
            raise _SolveTimeout

        signal.signal(signal.SIGALRM, stop)
        signal.alarm(max(solve_timeout, int(0.2 * len(frame))))
        try:
            np.random.seed(seed)
            model = MaxPHeuristic(frame, weights, ["hh"], "hh", MIN_HH, top_n=2)
            model.solve()
            signal.alarm(0)
            return np.asarray(model.labels_), lost
        except _SolveTimeout:
            lost += 1
        finally:
            signal.alarm(0)
    return np.full(len(frame), -1), lost


def _spopt_all(polygons: gpd.GeoDataFrame, hh: np.ndarray, solve_timeout: int) -> tuple:
    groups = polygons["group"].to_numpy()
    labels = np.empty(len(polygons), dtype=object)
    lost = failed = 0
    for group in pd.unique(groups):
        mask = groups == group
        found, missed = _spopt_labels(polygons[mask], hh[mask], solve_timeout)
        lost += missed
        failed += int((found < 0).all())
        labels[mask] = [f"{group}:{x}" for x in found]
    return labels, lost, failed


def _spopt_polygons(case: Case) -> gpd.GeoDataFrame:
    """The areas spopt works on: the units, or for footprints the gridgis tiles."""
    if case.communities is None:
        return case.units
    from gridgis.partition import draw_layout

    tiles = draw_layout(
        case.units, group="group", communities=case.communities, roads=case.roads
    ).tessellation
    return gpd.GeoDataFrame(
        {"group": case.units["group"].to_numpy()},
        geometry=tiles.geometry.to_numpy(),
        crs=case.units.crs,
    )


def run_spopt(case: Case, solve_timeout: int, labels_path: Path) -> dict[str, Any]:
    polygons = _spopt_polygons(case)
    hh = case.units["households"].to_numpy(dtype=float)
    with PeakRSS() as memory:
        started = time.perf_counter()
        labels, lost, failed = _spopt_all(polygons, hh, solve_timeout)
        seconds = time.perf_counter() - started
    np.save(labels_path, labels.astype(str))
    out: dict[str, Any] = {"seconds": seconds, "peak_mb": memory.megabytes, "lost": lost,
                           "failed_groups": failed}  # fmt: skip
    out.update(region_figures(polygons, labels.astype(str), hh))
    return out


def run_spopt_churn(case: Case, solve_timeout: int, labels_path: Path) -> dict[str, Any]:
    polygons = _spopt_polygons(case)
    before = np.load(labels_path)
    after = changed(case.units)["households"].to_numpy(dtype=float)
    labels, lost, _ = _spopt_all(polygons, after, solve_timeout)
    out: dict[str, Any] = {"lost_again": lost}
    out.update(matched_churn(polygons["group"].to_numpy(), before, labels.astype(str), after))
    return out


def worker(method: str, name: str, args: argparse.Namespace) -> None:
    warnings.filterwarnings("ignore")
    case = load(name, args.quick)
    labels = Path(args.labels) if args.labels else Path(f"/tmp/spopt-{name}.npy")
    if method == "gridgis":
        result = run_gridgis(case)
    elif method == "spopt":
        result = run_spopt(case, args.solve_timeout, labels)
    else:
        result = run_spopt_churn(case, args.solve_timeout, labels)
    print("RESULT " + json.dumps(result), flush=True)


# --- driver -------------------------------------------------------------------------------------


def run(
    method: str, name: str, args: argparse.Namespace, labels: Path | None = None
) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--worker", method, name,
               "--solve-timeout", str(args.solve_timeout)]  # fmt: skip
    if args.quick:
        command.append("--quick")
    if labels is not None:
        command += ["--labels", str(labels)]
    limit = args.timeout if method.startswith("spopt") else None
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=limit, env=os.environ.copy()
        )
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            result["process_seconds"] = time.perf_counter() - started
            return result
    raise RuntimeError(f"{method} on {name} failed:\n{done.stderr[-3000:]}")


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small inputs, a smoke run")
    parser.add_argument("--inputs", default=",".join(INPUTS), help="comma-separated subset")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per spopt run")
    parser.add_argument("--solve-timeout", type=int, default=30, help="seconds per spopt solve")
    parser.add_argument("--skip-spopt", action="store_true")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "INPUT"), help=argparse.SUPPRESS)
    parser.add_argument("--labels", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args)
        return
    if args.quick:
        args.timeout = min(args.timeout, 60)
        args.solve_timeout = min(args.solve_timeout, 10)
    names = [n for n in args.inputs.split(",") if n]
    rows = []
    for name in names:
        if name == "leicester" and not (DATA / "leicester_oa").exists():
            print(f"skipping leicester: {DATA / 'leicester_oa'} is missing", file=sys.stderr)
            continue
        print(f"{name}: gridgis ...", file=sys.stderr, flush=True)
        mine = run("gridgis", name, args)
        theirs = None
        if not args.skip_spopt:
            with tempfile.TemporaryDirectory() as folder:
                labels = Path(folder) / "labels.npy"
                print(f"{name}: spopt (up to {args.timeout} s) ...", file=sys.stderr, flush=True)
                theirs = run("spopt", name, args, labels)
                if theirs is not None:
                    print(f"{name}: spopt again after the change (up to {args.timeout} s) ...",
                          file=sys.stderr, flush=True)  # fmt: skip
                    again = run("spopt-churn", name, args, labels)
                    theirs.update(again if again is not None else {"churn": None, "kept": None})
        rows.append((name, mine, theirs))

    head = (f"{'input':<10} {'method':<8} {'time s':>8} {'peak MB':>8} {'cells':>6} "
            f"{'in bounds':>9} {'median PP':>9} {'churn':>6} {'kept':>6}  notes")  # fmt: skip
    print(head)
    print("-" * len(head))
    for name, mine, theirs in rows:
        for method, r in (("gridgis", mine), ("spopt", theirs)):
            if method == "spopt" and args.skip_spopt:
                continue
            if r is None:
                print(f"{name:<10} {method:<8} did not finish in {args.timeout // 60} min")
                continue
            notes = ""
            if method == "gridgis":
                notes = f"adjust {r['adjust_seconds']:.2f} s; {r['flagged']} flagged cells"
            else:
                hung = r["lost"] + r.get("lost_again", 0)
                notes = f"{hung} hung solves retried"
                if r["failed_groups"]:
                    notes += f"; {r['failed_groups']} groups without a result"
            print(
                f"{name:<10} {method:<8} {fmt(r['seconds'], '8.2f')} {fmt(r['peak_mb'], '8.1f')} "
                f"{int(r['cells']):>6} {fmt(r['in_bounds'], '9.1%')} "
                f"{fmt(r['median_pp'], '9.3f')} {fmt(r['churn'], '6.1%')} "
                f"{fmt(r['kept'], '6.1%')}  {notes}"
            )
        if mine and theirs:
            ratio = mine["seconds"] / theirs["seconds"]
            print(f"{'':<10} {'ratio':<8} gridgis/spopt time = {ratio:.3f} "
                  f"(gridgis {1 / ratio:.0f}x faster)")  # fmt: skip
    print(
        "\ntime: drawing only; peak MB: RSS above the loaded input (psutil, 5 ms samples); "
        f"in bounds: {MIN_HH}-{MAX_HH} households; churn: households whose cell changed after "
        "a ±10 % random change; kept: old cells unchanged."
    )


if __name__ == "__main__":
    main()
