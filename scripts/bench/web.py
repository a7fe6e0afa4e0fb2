"""Benchmark the cell map in headless Chromium: vector tiles against folium's GeoJSON.

Two sets of cells:

``demo``
    The full demo district (350304 荔城区 at scale 1, seed 0: the same cells
    as a development database made with ``gridgis demo``), generated into the
    scratch database ``gridgis_bench_web_demo`` (about a minute).
``city``
    A synthetic city of ``--cells`` cells (default 30,000, about 40 vertices
    a cell; ``scripts/bench/_city.py``) in the scratch database
    ``gridgis_bench_web``.

Both scratch databases are on gridgis's local cluster (``GRIDGIS_HOME``)
and dropped at the end unless ``--keep`` (a kept one is reused). The pages
need a signed-in user: the script adds the administrator ``bench`` to each and
signs in through the login form before each measured load.

For each, first the tiles alone: milliseconds per ``ST_AsMVT`` tile (SQL and
driver, measured from Python) at zoom 11–14 over the tiles that cover the
cells (at most ``--tiles`` per zoom, an even sample), and their size.

Then the pages, served by gunicorn (2 workers × 4 threads) on 127.0.0.1, in
headless Chromium (Playwright driving the Chromium on ``PATH``, viewport
1280 × 800, a fresh browser context a run so nothing is cached):

``tiles``
    ``/map/cells``: Leaflet.VectorGrid drawing the vector tiles on canvas,
    coloured by households, out-of-bounds cells outlined.
``folium``
    The same cells as one ``folium.GeoJson`` with a per-feature
    ``style_function`` (same colours and outlines) and a popup, folium's
    defaults otherwise (SVG), its CDN scripts replaced by the app's vendored
    Leaflet so that it loads offline; served as a static page.

Measured per page: the page weight (bytes transferred: the document and
every resource, headers included, from the Resource Timing API, median of
the runs); the load time (from navigation start until the cells are drawn:
the page's ``gridgis-cells-drawn`` performance mark, which the cell map sets
when the tiles in view are drawn; for folium, two animation frames after the
load event), for the first run (the server just started: its tile cache is
empty, every tile is made by PostGIS) and the median of the later runs (the
server's tile cache warm, the browser's empty); and the frame time while
panning, in the last run: the mouse drags the map 500 px right, 300 down,
500 left and 300 up in 16 ms steps, and the intervals between
``requestAnimationFrame`` callbacks from the press until 0.5 s after the
release give the median and 95th percentile milliseconds a frame. A
request to any host other than the app's is counted (there should be none).

Then, on each set, every other page of the app (``demo_pages``: the
overview and a district, street and cell page, the coverage map, placement
and density maps of the largest street, density of the whole district, and
cell editing of the largest community): weight, and time from navigation
start until the page's map has drawn (the ``data-…`` attribute of
``tests/_browser.py``'s ``PAGE_READY`` appears on ``body``), first and later
loads.

Usage::

    python scripts/bench/web.py
    python scripts/bench/web.py --quick            # 3,000-cell city, one run, no demo
    python scripts/bench/web.py --cells 20000 --runs 5 --keep --json results.json
    python scripts/bench/web.py --no-city --no-folium --keep   # the demo's pages only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import Engine, create_engine, text

from gridgis.db import migrate
from gridgis.db.layout import DEFAULT_BOUNDS
from gridgis.db.tiles import HOUSEHOLD_BREAKS, cell_tile, cells_extent
from gridgis.users import add_user, list_users
from gridgis.web.tiles import PALETTES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # _browser: launching the Chromium on PATH
sys.path.insert(0, str(HERE))

import _city  # noqa: E402
from _browser import launch_chromium, ready_selector  # noqa: E402

SCRATCH = "gridgis_bench_web"
SCRATCH_DEMO = "gridgis_bench_web_demo"
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password-2026"
VIEWPORT = {"width": 1280, "height": 800}
ZOOMS = (11, 12, 13, 14)
PAN = ((500, 0), (0, 300), (-500, 0), (0, -300))
PAN_STEP_PX = 12
PAN_STEP_MS = 16

RECORD_FRAMES_JS = """
performance.setResourceTimingBufferSize(10000);
window.__frames = [];
window.__recording = false;
(function tick(t) {
  if (window.__recording) { window.__frames.push(t); }
  requestAnimationFrame(tick);
})(0);
"""

FOLIUM_DRAWN_JS = """
window.addEventListener("load", function () {
  requestAnimationFrame(function () {
    requestAnimationFrame(function () { performance.mark("gridgis-cells-drawn"); });
  });
});
"""

WEIGHT_JS = """
() => {
  let bytes = 0, requests = 0;
  const entries = performance.getEntriesByType("navigation")
    .concat(performance.getEntriesByType("resource"));
  for (const e of entries) { bytes += e.transferSize; requests++; }
  return { bytes, requests };
}
"""

TILES_DONE_JS = """
() => {
  let end = 0;
  for (const e of performance.getEntriesByType("resource")) {
    if (e.name.includes("/tiles/")) { end = Math.max(end, e.responseEnd); }
  }
  return end;
}
"""

READY_AT_JS = """
(attribute) => {
  window.__readyAt = null;
  const mark = () => {
    if (window.__readyAt === null && document.body &&
        document.body.getAttribute(attribute) !== null) {
      window.__readyAt = { at: performance.now(), value: document.body.getAttribute(attribute) };
    }
  };
  new MutationObserver(mark).observe(document, { attributes: true, subtree: true });
}
"""

DRAWN_JS = "() => performance.getEntriesByName('gridgis-cells-drawn').length > 0"
DRAWN_AT_JS = "() => performance.getEntriesByName('gridgis-cells-drawn')[0].startTime"


# --- the cells ----------------------------------------------------------------------------------


def count_cells(engine: Engine) -> int:
    with engine.connect() as conn:
        sql = text("SELECT count(*) FROM grid_cell WHERE valid_to IS NULL")
        return int(conn.execute(sql).one()[0])


@contextmanager
def scratch_database(
    name: str, *, keep: bool, fill: Callable[[Engine], None], cells: int | None = None
) -> Iterator[str]:
    """A scratch database filled by ``fill`` (or reused when kept before with ``cells`` cells)."""
    from gridgis.db.cluster import LocalCluster

    cluster = LocalCluster()
    cluster.ensure_running()
    url = cluster.create_database(name)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        existing = count_cells(engine)
        if existing and cells is not None and existing != cells:
            engine.dispose()
            cluster.drop_database(name)
            url = cluster.create_database(name)
            engine = create_engine(url)
            migrate.upgrade(engine)
            existing = 0
        if existing:
            print(f"  reusing the kept {name} ({existing:,} cells)")
        else:
            started = time.perf_counter()
            fill(engine)
            print(f"  filled {name} in {time.perf_counter() - started:.1f} s")
        if not any(user.name == BENCH_USER for user in list_users(engine)):
            add_user(engine, BENCH_USER, role="admin", password=BENCH_PASSWORD, actor="bench")
        yield url
    finally:
        engine.dispose()
        if not keep:
            cluster.drop_database(name)


def fill_city(n_cells: int) -> Callable[[Engine], None]:
    def fill(engine: Engine) -> None:
        town = _city.city(n_cells)
        with engine.begin() as conn:
            _city.store_city(conn, town, published_by="scripts/bench/web.py")

    return fill


def fill_demo(engine: Engine) -> None:
    from gridgis.demo import run_demo

    run_demo(engine, district="350304", scale=1.0, seed=0)


def _tile_range(extent: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    west, south, east, north = extent
    n = 2**z

    def tx(lon: float) -> int:
        return min(n - 1, int((lon + 180.0) / 360.0 * n))

    def ty(lat: float) -> int:
        r = math.radians(lat)
        return min(n - 1, int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n))

    return range(tx(west), tx(east) + 1), range(ty(north), ty(south) + 1)


def tile_times(engine: Engine, *, limit: int) -> list[dict[str, Any]]:
    """Milliseconds and bytes per tile at each zoom of :data:`ZOOMS`."""
    extent = cells_extent(engine)
    if extent is None:
        return []
    rows = []
    with engine.connect() as conn:
        cell_tile(conn, ZOOMS[0], *[r.start for r in _tile_range(extent, ZOOMS[0])])  # warm up
        for z in ZOOMS:
            xs, ys = _tile_range(extent, z)
            tiles = [(x, y) for x in xs for y in ys]
            if len(tiles) > limit:
                pick = np.linspace(0, len(tiles) - 1, limit).round().astype(int)
                tiles = [tiles[i] for i in pick]
            ms, sizes = [], []
            for x, y in tiles:
                started = time.perf_counter()
                tile = cell_tile(conn, z, x, y)
                ms.append((time.perf_counter() - started) * 1000)
                sizes.append(len(tile))
            full = [(m, s) for m, s in zip(ms, sizes, strict=True) if s]
            full_ms = [m for m, _ in full] or [0.0]
            rows.append(
                {
                    "z": z,
                    "tiles": len(tiles),
                    "with_cells": len(full),
                    "median_ms": statistics.median(full_ms),
                    "p95_ms": float(np.percentile(full_ms, 95)),
                    "max_ms": max(full_ms),
                    "mean_kb": statistics.fmean([s for _, s in full] or [0]) / 1024,
                    "max_kb": max(sizes) / 1024,
                }
            )
    return rows


def folium_page(engine: Engine, path: Path) -> dict[str, float]:
    """Write the folium rendering of the active cells to ``path``; time the steps."""
    import folium

    sql = f"""
        SELECT c.code, c.households,
               (c.households < coalesce(co.min_households, {DEFAULT_BOUNDS[0]})
                OR c.households > coalesce(co.max_households, {DEFAULT_BOUNDS[1]}))
                   AS out_of_bounds,
               c.geom
        FROM grid_cell c JOIN community co ON co.code = c.community_code
        WHERE c.valid_to IS NULL ORDER BY c.code
    """
    started = time.perf_counter()
    with engine.connect() as conn:
        cells = gpd.read_postgis(text(sql), conn, geom_col="geom")
    # 6 decimals (about 10 cm): what a careful user would send, not 15 digits of noise.
    cells["geom"] = shapely.set_precision(np.asarray(cells["geom"].array), 1e-6)
    cells = cells.set_geometry("geom")
    palette = PALETTES["households"]
    breaks = np.asarray(HOUSEHOLD_BREAKS)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        p = feature["properties"]
        marked = bool(p["out_of_bounds"])
        return {
            "fillColor": palette[int(np.searchsorted(breaks, p["households"], side="right"))],
            "fillOpacity": 0.75,
            "color": "#b3261e" if marked else "#4d5b66",
            "weight": 1.5 if marked else 0.3,
            "dashArray": "4 3" if marked else None,
        }

    west, south, east, north = cells.total_bounds
    fmap = folium.Map(tiles=None, prefer_canvas=False)
    # Folium's scripts and styles come from CDNs: use the app's own Leaflet, nothing else.
    fmap.default_js = [("leaflet", "/static/vendor/leaflet/leaflet.js")]
    fmap.default_css = [("leaflet_css", "/static/vendor/leaflet/leaflet.css")]
    folium.GeoJson(
        cells,
        style_function=style,
        popup=folium.GeoJsonPopup(fields=["code", "households"]),
    ).add_to(fmap)
    fmap.fit_bounds([[south, west], [north, east]], padding=(16, 16))
    built = time.perf_counter()
    fmap.save(str(path))
    return {"build_s": built - started, "save_s": time.perf_counter() - built}


# --- serving and measuring ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(database_url: str, pages: Path) -> Iterator[str]:
    """Run the app (and ``pages`` under /bench/) with gunicorn; yield its base URL."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDGIS_TILE_")}
    env.update(
        GRIDGIS_DATABASE_URL=database_url,
        GRIDGIS_BENCH_PAGES=str(pages),
        GRIDGIS_SECRET_KEY=secrets.token_hex(32),  # one for both workers: sessions work on either
    )
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(HERE), "--bind", f"127.0.0.1:{port}",
        "--workers", "2", "--threads", "4", "--log-level", "warning",
        "_webapp:make_application()",
    ]  # fmt: skip
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/api/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start serving the app") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def pan(page: Any) -> list[float]:
    """Drag the map around a rectangle; return the frame intervals in milliseconds."""
    box = page.locator(".leaflet-container").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.evaluate("() => { window.__frames = []; window.__recording = true; }")
    page.mouse.down()
    for dx, dy in PAN:
        steps = max(abs(dx), abs(dy)) // PAN_STEP_PX
        for _ in range(steps):
            x += dx / steps
            y += dy / steps
            page.mouse.move(x, y)
            page.wait_for_timeout(PAN_STEP_MS)
    page.mouse.up()
    page.wait_for_timeout(500)
    frames = page.evaluate("() => { window.__recording = false; return window.__frames; }")
    return [float(d) for d in np.diff(np.asarray(frames, dtype=float))]


def sign_in(page: Any, base: str) -> None:
    """Sign in as the benchmark's user through the login form."""
    page.goto(base + "/login")
    page.fill("#login-name", BENCH_USER)
    page.fill("#login-password", BENCH_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def measure(browser: Any, base: str, path: str, *, runs: int, folium: bool) -> dict[str, Any]:
    """Load ``path`` ``runs`` times (fresh context each), then pan once; return the figures."""
    loads, weights, requests, outside, tiles_done = [], [], [], [], []
    intervals: list[float] = []
    for run in range(runs):
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        try:
            context.add_init_script(RECORD_FRAMES_JS + (FOLIUM_DRAWN_JS if folium else ""))
            page = context.new_page()
            page.set_default_timeout(300_000)
            if not folium:
                sign_in(page, base)
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(base + "/") else None,
            )
            page.goto(base + path, wait_until="commit")
            page.wait_for_function(DRAWN_JS, polling=50)
            loads.append(page.evaluate(DRAWN_AT_JS) / 1000)
            tiles_done.append(page.evaluate(TILES_DONE_JS) / 1000)
            page.wait_for_load_state("networkidle")
            weight = page.evaluate(WEIGHT_JS)
            weights.append(weight["bytes"])
            requests.append(weight["requests"])
            if run == runs - 1:
                intervals = pan(page)
        finally:
            context.close()
    return {
        "load_s": loads[0],
        "repeat_load_s": statistics.median(loads[1:]) if runs > 1 else math.nan,
        "loads_s": loads,
        "tiles_received_s": tiles_done[0],
        "weight_bytes": statistics.median(weights),
        "requests": int(statistics.median(requests)),
        "frame_median_ms": statistics.median(intervals) if intervals else math.nan,
        "frame_p95_ms": float(np.percentile(intervals, 95)) if intervals else math.nan,
        "frames": len(intervals),
        "outside_requests": len(outside),
    }


def demo_pages(engine: Engine) -> dict[str, str]:
    """Every page of the app on the demo district, by name: the overview and a district,
    street and cell page, the coverage map, the placement and density maps of the
    largest street (a street office's view) and of the whole district (density), and
    the cell editing page of the community with the most cells (of those with a
    boundary: none in the synthetic city, which then has no editing page)."""
    with engine.connect() as conn:
        street = conn.execute(
            text(
                "SELECT s.code FROM street s JOIN community c ON c.street_code = s.code "
                "JOIN grid_cell g ON g.community_code = c.code AND g.valid_to IS NULL "
                "GROUP BY s.code ORDER BY count(*) DESC, s.code LIMIT 1"
            )
        ).scalar_one()
        cell = conn.execute(
            text("SELECT min(code) FROM grid_cell WHERE valid_to IS NULL")
        ).scalar_one()
        # Cells are edited within a community's boundary: one without any cannot be edited.
        community = conn.execute(
            text(
                "SELECT g.community_code FROM grid_cell g "
                "JOIN community c ON c.code = g.community_code AND c.geom IS NOT NULL "
                "WHERE g.valid_to IS NULL "
                "GROUP BY g.community_code ORDER BY count(*) DESC, g.community_code LIMIT 1"
            )
        ).scalar()
    pages = {
        "overview": "/",
        "district": f"/area/{street[:6]}",
        "street": f"/area/{street}",
        "cell": f"/area/{cell}",
        "coverage": "/map/cells",
        "placement": f"/map/placement?street={street}",
        "density (street)": f"/map/density?street={street}",
        "density (district)": "/map/density",
    }
    if community is not None:
        pages["editing"] = f"/edit/{community}"
    return pages


def measure_page(browser: Any, base: str, path: str, *, runs: int) -> dict[str, Any]:
    """Load ``path`` ``runs`` times (fresh context each): time until it has drawn, weight."""
    selector = ready_selector(path)
    attribute = selector[len("body[") : -1] if selector.startswith("body[") else None
    loads, weights, requests, outside = [], [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        try:
            if attribute:
                context.add_init_script(
                    f"performance.setResourceTimingBufferSize(10000);"
                    f"({READY_AT_JS})({json.dumps(attribute)});"
                )
            page = context.new_page()
            page.set_default_timeout(300_000)
            sign_in(page, base)
            page.on(
                "request",
                lambda r: outside.append(r.url) if not r.url.startswith(base + "/") else None,
            )
            answer = page.goto(base + path, wait_until="load" if attribute is None else "commit")
            if answer is None or answer.status != 200:
                status = answer.status if answer is not None else "no answer"
                raise RuntimeError(f"{path} answered {status}, not a page to measure")
            if attribute is None:
                loads.append(page.evaluate("() => performance.now()") / 1000)
            else:
                page.wait_for_function("() => window.__readyAt !== null", polling=50)
                ready = page.evaluate("() => window.__readyAt")
                if ready["value"] == "error":
                    raise RuntimeError(f"{path} did not draw: {page.inner_text('#map-status')}")
                loads.append(ready["at"] / 1000)
            page.wait_for_load_state("networkidle")
            weight = page.evaluate(WEIGHT_JS)
            weights.append(weight["bytes"])
            requests.append(weight["requests"])
        finally:
            context.close()
    return {
        "load_s": loads[0],
        "repeat_load_s": statistics.median(loads[1:]) if runs > 1 else math.nan,
        "weight_bytes": statistics.median(weights),
        "requests": int(statistics.median(requests)),
        "outside_requests": len(outside),
    }


def bench_dataset(
    name: str, url: str, browser: Any, *, runs: int, tiles: int, folium: bool, pages: bool = False
) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        n = count_cells(engine)
        print(f"{name}: {n:,} active cells")
        result: dict[str, Any] = {"cells": n, "tiles": tile_times(engine, limit=tiles)}
        with tempfile.TemporaryDirectory(prefix="gridgis-bench-web-") as folder:
            pages = Path(folder)
            if folium:
                result["folium_build"] = folium_page(engine, pages / "folium.html")
                size = (pages / "folium.html").stat().st_size
                print(f"  folium page written ({size / 1e6:.1f} MB)")
            with serve(url, pages) as base:
                result["tiles_page"] = measure(browser, base, "/map/cells", runs=runs, folium=False)
                print(f"  tiles page: {_line(result['tiles_page'])}")
                if folium:
                    result["folium_page"] = measure(
                        browser, base, "/bench/folium.html", runs=runs, folium=True
                    )
                    print(f"  folium page: {_line(result['folium_page'])}")
                if pages:
                    result["pages"] = {}
                    for page_name, path in demo_pages(engine).items():
                        m = measure_page(browser, base, path, runs=runs)
                        result["pages"][page_name] = m | {"path": path}
                        print(
                            f"  {page_name} {path}: {m['weight_bytes'] / 1e6:.2f} MB in "
                            f"{m['requests']} requests, drawn in {m['load_s']:.2f} s "
                            f"({m['repeat_load_s']:.2f} s later)"
                        )
    finally:
        engine.dispose()
    return result


def _line(m: dict[str, Any]) -> str:
    return (
        f"{m['weight_bytes'] / 1e6:.2f} MB in {m['requests']} requests, "
        f"drawn in {m['load_s']:.2f} s (last tile in at {m['tiles_received_s']:.2f} s; "
        f"{m['repeat_load_s']:.2f} s on later loads), "
        f"pan {m['frame_median_ms']:.1f} ms/frame median, "
        f"{m['frame_p95_ms']:.1f} p95 ({m['frames']} frames), "
        f"{m['outside_requests']} outside requests"
    )


def report(results: dict[str, dict[str, Any]]) -> None:
    print()
    print("ST_AsMVT per tile (SQL + driver, tiles holding cells):")
    print(f"{'set':<6} {'z':>3} {'tiles':>6} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}"
          f" {'mean KB':>8} {'max KB':>8}")  # fmt: skip
    for name, r in results.items():
        for t in r["tiles"]:
            print(
                f"{name:<6} {t['z']:>3} {t['with_cells']:>6} {t['median_ms']:>10.1f}"
                f" {t['p95_ms']:>8.1f} {t['max_ms']:>8.1f} {t['mean_kb']:>8.1f} {t['max_kb']:>8.1f}"
            )
    print()
    print("Pages in headless Chromium (1280 x 800, cold cache):")
    print(f"{'set':<6} {'cells':>7} {'page':<7} {'weight MB':>10} {'requests':>9} {'load s':>7}"
          f" {'again s':>8} {'frame ms median':>16} {'p95':>6} {'outside':>8}")  # fmt: skip
    for name, r in results.items():
        for kind in ("tiles", "folium"):
            m = r.get(f"{kind}_page")
            if m is None:
                continue
            print(
                f"{name:<6} {r['cells']:>7,} {kind:<7} {m['weight_bytes'] / 1e6:>10.2f}"
                f" {m['requests']:>9} {m['load_s']:>7.2f} {m['repeat_load_s']:>8.2f}"
                f" {m['frame_median_ms']:>16.1f}"
                f" {m['frame_p95_ms']:>6.1f} {m['outside_requests']:>8}"
            )
    for name, r in results.items():
        if "pages" not in r:
            continue
        print()
        print(f"Every page of the app ({name}, as an administrator; drawn = its map drawn):")
        print(f"{'page':<20} {'weight MB':>10} {'requests':>9} {'drawn s':>8} {'again s':>8}"
              f" {'outside':>8}  path")  # fmt: skip
        for page_name, m in r["pages"].items():
            print(
                f"{page_name:<20} {m['weight_bytes'] / 1e6:>10.2f} {m['requests']:>9}"
                f" {m['load_s']:>8.2f} {m['repeat_load_s']:>8.2f} {m['outside_requests']:>8}"
                f"  {m['path']}"
            )
    print()
    print("load s: the first load after the server started (its tile cache empty); again s: the")
    print("median of the later loads (new browser context each: the browser's cache is empty).")
    print("Targets: load < 2 s, <= 40 ms a frame at 30,000 cells.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--cells", type=int, default=30_000, help="cells of the synthetic city")
    parser.add_argument("--runs", type=int, default=3, help="page loads per page (median)")
    parser.add_argument("--tiles", type=int, default=150, help="tiles timed per zoom at most")
    parser.add_argument("--no-demo", action="store_true", help="skip the default database")
    parser.add_argument("--no-folium", action="store_true", help="skip the folium pages")
    parser.add_argument("--no-pages", action="store_true", help="skip the app's other pages")
    parser.add_argument("--no-city", action="store_true", help="skip the synthetic city")
    parser.add_argument("--quick", action="store_true", help="3,000-cell city, one run, no demo")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.cells, args.runs, args.no_demo = 3_000, 1, True

    from playwright.sync_api import sync_playwright

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"Chromium {shutil.which('chromium')}")  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        print(f"Chromium {browser.version}")
        try:
            if not args.no_demo:
                print("demo: the full demo district 350304")
                with scratch_database(SCRATCH_DEMO, keep=args.keep, fill=fill_demo) as url:
                    results["demo"] = bench_dataset(
                        "demo", url, browser, runs=args.runs, tiles=args.tiles,
                        folium=not args.no_folium, pages=not args.no_pages,
                    )  # fmt: skip
            if not args.no_city:
                print(f"city: {args.cells:,} synthetic cells")
                fill = fill_city(args.cells)
                with scratch_database(SCRATCH, keep=args.keep, fill=fill, cells=args.cells) as url:
                    results["city"] = bench_dataset(
                        "city", url, browser, runs=args.runs, tiles=args.tiles,
                        folium=not args.no_folium, pages=not args.no_pages,
                    )  # fmt: skip
        finally:
            browser.close()
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
