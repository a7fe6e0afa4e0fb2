"""Measure the accuracy and speed of gridgis' GCJ-02 / BD-09 transforms.

On a regular grid of WGS84 points over China it measures, with geodesic
distances (``pyproj.Geod``, WGS84 ellipsoid):

* the round-trip error of each iterative inverse: ``inverse(forward(p))``
  against ``p``, in metres (max, 99th percentile, median);
* for comparison, the error of the usual one-step GCJ-02 inverse;
* the size of the shift that each forward transform applies;
* the throughput of each transform, in points per second (best of
  ``--repeat`` runs on the whole grid, one thread).

Usage::

    python scripts/bench/crs_accuracy.py            # 0.03 degree grid, about 2.4 million points
    python scripts/bench/crs_accuracy.py --step 0.1 # quicker, about 220,000 points
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
import pyproj
from numpy.typing import NDArray

from gridgis import crs

FloatArray = NDArray[np.float64]
Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

_GEOD = pyproj.Geod(ellps="WGS84")


def grid(
    step: float, *, west: float, east: float, south: float, north: float
) -> tuple[FloatArray, FloatArray]:
    """Return the lon and lat arrays of a regular grid with the given step in degrees."""
    lons = np.arange(west, east + step / 2, step)
    lats = np.arange(south, north + step / 2, step)
    lon, lat = np.meshgrid(lons, lats)
    return lon.ravel(), lat.ravel()


def distance_m(
    lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray
) -> FloatArray:
    """Geodesic distance in metres between two sets of points."""
    _, _, dist = _GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=np.float64)


def one_step_gcj02_to_wgs84(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The common non-iterative inverse: subtract the shift computed at the GCJ-02 point."""
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    return 2 * lon - glon, 2 * lat - glat


def throughput(func: Transform, lon: FloatArray, lat: FloatArray, repeat: int) -> float:
    """Points per second of ``func`` on the arrays, best of ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func(lon, lat)
        best = min(best, time.perf_counter() - start)
    return lon.size / best


def stats(errors: FloatArray) -> tuple[float, float, float]:
    """Max, 99th percentile and median of an array of errors."""
    return float(errors.max()), float(np.percentile(errors, 99)), float(np.median(errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.03, help="grid spacing, degrees")
    parser.add_argument("--west", type=float, default=73.5)
    parser.add_argument("--east", type=float, default=135.0)
    parser.add_argument("--south", type=float, default=18.0)
    parser.add_argument("--north", type=float, default=53.5)
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per transform")
    args = parser.parse_args(argv)
    if args.step <= 0:
        parser.error(f"--step was {args.step} but must be positive")

    lon, lat = grid(args.step, west=args.west, east=args.east, south=args.south, north=args.north)
    print(
        f"grid: lon {args.west}–{args.east}, lat {args.south}–{args.north}, step {args.step}°, "
        f"{lon.size:,} points; numpy {np.__version__}, pyproj {pyproj.__version__}, "
        f"Python {platform.python_version()} on {platform.machine()}"
    )

    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    blon, blat = crs.gcj02_to_bd09(glon, glat)

    rows: list[tuple[str, FloatArray]] = []
    rows.append(("wgs84 -> gcj02 shift (not an error)", distance_m(lon, lat, glon, glat)))
    rows.append(("gcj02 -> bd09 shift (not an error)", distance_m(glon, glat, blon, blat)))
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    rows.append(("gcj02_to_wgs84 round trip (iterative)", distance_m(lon, lat, wlon, wlat)))
    slon, slat = one_step_gcj02_to_wgs84(glon, glat)
    rows.append(("gcj02 -> wgs84 one-step (for comparison)", distance_m(lon, lat, slon, slat)))
    hlon, hlat = crs.bd09_to_gcj02(blon, blat)
    rows.append(("bd09_to_gcj02 round trip (iterative)", distance_m(glon, glat, hlon, hlat)))
    wlon, wlat = crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat))
    rows.append(("bd09_to_wgs84 round trip (iterative)", distance_m(lon, lat, wlon, wlat)))

    print()
    print(f"{'metres':<42} {'max':>12} {'p99':>12} {'median':>12}")
    for name, errors in rows:
        high, p99, median = stats(errors)
        print(f"{name:<42} {high:>12.3e} {p99:>12.3e} {median:>12.3e}")

    timed: list[tuple[str, Transform, FloatArray, FloatArray]] = [
        ("wgs84_to_gcj02", crs.wgs84_to_gcj02, lon, lat),
        ("gcj02_to_wgs84", crs.gcj02_to_wgs84, glon, glat),
        ("gcj02_to_bd09", crs.gcj02_to_bd09, glon, glat),
        ("bd09_to_gcj02", crs.bd09_to_gcj02, blon, blat),
        ("wgs84_to_bd09", crs.wgs84_to_bd09, lon, lat),
        ("bd09_to_wgs84", crs.bd09_to_wgs84, blon, blat),
    ]
    print()
    print(f"{'transform':<42} {'points/s':>12}")
    for name, func, x, y in timed:
        print(f"{name:<42} {throughput(func, x, y, args.repeat):>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
