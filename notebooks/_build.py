"""Write the notebooks of ``notebooks/`` from the cells below, without outputs.

The cells live here, as text, so that a change to a notebook is a readable
diff and a committed notebook never carries outputs (images, tables, HTML).
Edit a cell here, then write the notebooks again::

    .venv/bin/python notebooks/_build.py          # write the .ipynb files
    .venv/bin/python notebooks/_build.py --check  # fail if one differs (the tests run this)

A notebook edited in Jupyter instead: copy its cells back here, or the
``--check`` run (and ``tests/test_notebooks.py``) will say it differs.

Each notebook runs top to bottom on the database named by
``GRIDGIS_DATABASE_URL`` (default: gridgis's local cluster) and chooses its
district, street or community from the database when its parameters cell
leaves them at ``None``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat import NotebookNode

HERE = Path(__file__).resolve().parent

Cell = tuple[str, str]
"""``("md", text)``, ``("code", source)`` or ``("parameters", source)`` (a code cell
tagged ``parameters``, as papermill expects)."""


def md(text: str) -> Cell:
    return ("md", textwrap.dedent(text).strip())


def code(*parts: str) -> Cell:
    return ("code", "\n\n".join(textwrap.dedent(part).strip() for part in parts))


def parameters(source: str) -> Cell:
    return ("parameters", textwrap.dedent(source).strip())


SETUP_FONTS = """
# Chinese names on the plots need a CJK font (Debian: fonts-wqy-microhei); use one when found.
CJK_FONTS = [f.name for f in font_manager.fontManager.ttflist if "Hei" in f.name or "CJK" in f.name]
plt.rcParams["font.sans-serif"] = [*dict.fromkeys(CJK_FONTS), "DejaVu Sans"]
plt.rcParams["axes.unicode_minus"] = False

engine = get_engine()  # GRIDGIS_DATABASE_URL, else gridgis's local cluster
print("database:", engine.url.render_as_string(hide_password=True))
"""

# --- 01: a tour of a district ------------------------------------------------------------------

TOUR: list[Cell] = [
    md(
        """
        # A tour of a district: its cells (网格) and cases (事件)

        This notebook walks through one district (区) as gridgis stores it:

        1. the hierarchy: street offices (街道), communities (社区) and grid cells (网格);
        2. the key figures of each street office (households, cells, cases, 按期结案率);
        3. a map of the cells by households, with the cells outside their community's
           household bounds (usually 300–500 户) marked;
        4. the cases: monthly counts by category;
        5. case density per cell (cases per 1,000 households) and hotspots (Getis-Ord Gi*);
        6. an interactive map of one street office's cells.

        It reads the database named by `GRIDGIS_DATABASE_URL` (default: gridgis's local
        cluster; `make demo-data` loads the demo district 荔城区, 350304) and changes nothing.
        """
    ),
    parameters(
        """
        # Parameters: None means "choose from the database".
        DISTRICT: str | None = None  # 6 digits, e.g. "350304" (荔城区); None: the most cells
        STREET: str | None = None  # 9 digits, for the interactive map; None: the most cells
        CATEGORY: str | None = None  # case category for the density, e.g. "消防安全"; None: all
        """
    ),
    code(
        """
        %matplotlib inline
        import folium
        import matplotlib.pyplot as plt
        import pandas as pd
        from IPython.display import display
        from matplotlib import colormaps, font_manager
        from matplotlib.colors import Normalize, to_hex
        from matplotlib.patches import Patch
        from sqlalchemy import text

        from gridgis.analysis.density import cell_case_density
        from gridgis.analysis.figures import area_figures
        from gridgis.analysis.hotspots import HOTSPOT_CLASSES, hotspots
        from gridgis.db.engine import get_engine
        from gridgis.db.queries import read_areas
        """,
        SETUP_FONTS,
    ),
    md(
        """
        ## Which district and street

        Parameters left at `None` are chosen here: the district and the street office
        with the most active cells (`grid_cell.valid_to IS NULL`).
        """
    ),
    code(
        """
        MOST_CELLS = text(
            "SELECT left(code, :digits) FROM grid_cell "
            "WHERE valid_to IS NULL AND code LIKE :prefix "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        )
        with engine.connect() as conn:
            if DISTRICT is None:
                DISTRICT = conn.execute(MOST_CELLS, {"digits": 6, "prefix": "%"}).scalar()
            if DISTRICT is None:
                raise LookupError("no cells are stored: load the demo first (make demo-data)")
            if STREET is None:
                STREET = conn.execute(MOST_CELLS, {"digits": 9, "prefix": DISTRICT + "%"}).scalar()
        print("district", DISTRICT, "street", STREET)
        """
    ),
    md(
        """
        ## The hierarchy: streets, communities, cells

        `gridgis.db.queries.read_areas` reads each level as a GeoDataFrame (EPSG:4326);
        `within` keeps the areas whose code starts with the district's code (codes nest:
        district 6 digits, street 9, community 12, cell 15).
        """
    ),
    code(
        """
        district = read_areas(engine, "district")
        district = district[district["code"] == DISTRICT]
        if district.empty:
            raise LookupError(f"no district has the code {DISTRICT!r}")
        district_name = district["name"].iloc[0]
        streets = read_areas(engine, "street", within=DISTRICT)
        communities = read_areas(engine, "community", within=DISTRICT)
        cells = read_areas(engine, "cell", within=DISTRICT)
        print(
            f"{district_name} ({DISTRICT}): {len(streets)} street offices, "
            f"{len(communities)} communities, {len(cells)} active cells, "
            f"{cells['households'].sum():,} households, {cells['residents'].sum():,} residents"
        )
        cells.head()
        """
    ),
    code(
        """
        fig, ax = plt.subplots(figsize=(9, 9))
        cells.plot(ax=ax, facecolor="none", edgecolor="0.65", linewidth=0.4)
        communities.boundary.plot(ax=ax, color="tab:blue", linewidth=0.7)
        streets.boundary.plot(ax=ax, color="black", linewidth=1.6)
        for street in streets.itertuples():
            x, y = street.geom.representative_point().coords[0]
            ax.annotate(street.name, (x, y), ha="center", fontsize=11)
        ax.legend(
            handles=[
                Patch(facecolor="none", edgecolor="black", label="street office 街道"),
                Patch(facecolor="none", edgecolor="tab:blue", label="community 社区"),
                Patch(facecolor="none", edgecolor="0.65", label="grid cell 网格"),
            ],
            loc="lower left",
        )
        ax.set_title(f"{district_name}: street offices, communities and cells")
        ax.set_axis_off()
        plt.show()
        """
    ),
    md(
        """
        ## Key figures per street office (关键指标)

        `gridgis.analysis.figures.area_figures` gives one row per area: households and
        residents of its active cells, how many cells break the household bounds or lack a
        grid worker (网格员) or a party branch (党支部), and its cases: open, overdue (超期:
        open and past the deadline), closed, closed late (逾期结案: after the deadline) and
        the share closed on time (按期结案率).
        """
    ),
    code(
        """
        figures = area_figures(engine, "street", within=DISTRICT)
        display(figures.drop(columns="parent_code").set_index("code"))

        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
        by_street = figures.set_index("name")
        by_street[["cells", "cells_out_of_bounds", "cells_without_branch"]].plot.bar(ax=left)
        left.set_title("cells per street office")
        left.set_xlabel("")
        (by_street["on_time_rate"] * 100).plot.bar(ax=right, color="tab:green")
        right.set_title("按期结案率: cases closed on time (%)")
        right.set_ylim(0, 100)
        right.set_xlabel("")
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        ## Cells by households, cells out of bounds marked

        The per-cell figures say which cells hold fewer or more households than their
        community allows (`cells_out_of_bounds`): those are the cells a dynamic
        adjustment (动态调整, notebook 02) would split or merge.
        """
    ),
    code(
        """
        cell_figures = area_figures(engine, "cell", within=DISTRICT)
        cells = cells.merge(
            cell_figures[["code", "cells_out_of_bounds", "cases", "open_cases"]], on="code"
        )
        cells["out_of_bounds"] = cells["cells_out_of_bounds"] > 0
        print(f"{cells['out_of_bounds'].sum()} of {len(cells)} cells are out of bounds")

        fig, ax = plt.subplots(figsize=(9, 9))
        cells.plot(
            ax=ax,
            column="households",
            cmap="YlGnBu",
            edgecolor="0.5",
            linewidth=0.3,
            legend=True,
            legend_kwds={"label": "households per cell (户)", "shrink": 0.6},
        )
        cells[cells["out_of_bounds"]].plot(
            ax=ax, facecolor="none", edgecolor="red", hatch="//", linewidth=0.8
        )
        streets.boundary.plot(ax=ax, color="black", linewidth=1.2)
        ax.legend(
            handles=[Patch(facecolor="none", edgecolor="red", hatch="///", label="out of bounds")],
            loc="lower left",
        )
        ax.set_title(f"{district_name}: households per cell")
        ax.set_axis_off()
        plt.show()
        """
    ),
    md(
        """
        ## Cases: monthly counts by category (事件类别)

        Cases count in the street office they were filed in; months are in China
        Standard Time.
        """
    ),
    code(
        """
        MONTHLY = text(
            "SELECT to_char(c.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month, "
            "k.name_zh AS category, count(*) AS cases "
            "FROM case_record c JOIN case_category k ON k.code = c.category_code "
            "WHERE c.street_code LIKE :prefix GROUP BY 1, 2 ORDER BY 1, 2"
        )
        with engine.connect() as conn:
            monthly = pd.read_sql(MONTHLY, conn, params={"prefix": DISTRICT + "%"})
        table = monthly.pivot(index="month", columns="category", values="cases").fillna(0)
        table = table[table.sum().sort_values(ascending=False).index].astype(int)
        print(f"{table.to_numpy().sum():,} cases in {len(table)} months")
        display(table.sum().rename("cases").to_frame().T)

        ax = table.plot.bar(stacked=True, figsize=(11, 5), colormap="tab20", width=0.85)
        ax.set_title(f"{district_name}: cases per month by category")
        ax.set_xlabel("month")
        ax.set_ylabel("cases")
        ax.legend(ncol=2, fontsize=8)
        plt.show()
        """
    ),
    md(
        """
        ## Case density per cell and hotspots (热点网格)

        `gridgis.analysis.density.cell_case_density` counts each cell's cases (in the
        cell they were filed in, rejected cases left out) and the rate per 1,000
        households. `gridgis.analysis.hotspots.hotspots` tests each cell's rate against its
        neighbours' with Getis-Ord Gi* (queen contiguity, Benjamini–Hochberg false
        discovery rate): `hot_99` is a cluster of high rates at 99 % confidence.
        """
    ),
    code(
        """
        density = cell_case_density(engine, category=CATEGORY)
        density = density[density["code"].str.startswith(DISTRICT)]
        spots = hotspots(density, "rate_per_1000")
        display(spots["hotspot"].value_counts().rename("cells").to_frame().T)
        display(
            spots.sort_values("rate_per_1000", ascending=False)[
                ["code", "community", "households", "cases", "rate_per_1000", "gi_z", "hotspot"]
            ].head(10)
        )
        """
    ),
    code(
        """
        CLASS_COLOURS = {  # hot red, cold blue, untested grey or white
            "hot_99": "#b2182b",
            "hot_95": "#ef8a62",
            "hot_90": "#fddbc7",
            "not_significant": "#f7f7f7",
            "cold_90": "#d1e5f0",
            "cold_95": "#67a9cf",
            "cold_99": "#2166ac",
            "island": "#bdbdbd",
            "no_data": "#ffffff",
        }
        fig, (left, right) = plt.subplots(1, 2, figsize=(15, 7))
        spots.plot(
            ax=left,
            column="rate_per_1000",
            cmap="OrRd",
            edgecolor="0.5",
            linewidth=0.3,
            legend=True,
            legend_kwds={"label": "cases per 1,000 households", "shrink": 0.6},
            missing_kwds={"color": "white", "label": "no households"},
        )
        left.set_title(f"case rate per cell ({CATEGORY or 'every category'})")
        spots.plot(
            ax=right, color=spots["hotspot"].map(CLASS_COLOURS), edgecolor="0.5", linewidth=0.3
        )
        present = [c for c in HOTSPOT_CLASSES if (spots["hotspot"] == c).any()]
        right.legend(
            handles=[
                Patch(facecolor=CLASS_COLOURS[c], edgecolor="0.5", label=c) for c in present
            ],
            loc="lower left",
        )
        right.set_title("hotspots: Getis-Ord Gi* on the rate")
        for ax in (left, right):
            streets.boundary.plot(ax=ax, color="black", linewidth=1)
            ax.set_axis_off()
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        ## An interactive map of one street office's cells

        A folium (Leaflet) map of the street's cells, coloured by case rate; click a cell
        for its figures. It has no base map (`tiles=None`): government intranets often
        have no internet, and the notebook does not depend on a tile server.
        """
    ),
    code(
        """
        street_cells = spots[spots["street_code"] == STREET].copy()
        street_name = street_cells["street"].iloc[0]
        rates = street_cells["rate_per_1000"]
        scale = Normalize(vmin=rates.min(), vmax=max(rates.max(), rates.min() + 1))
        street_cells["fill"] = [
            "#ffffff" if pd.isna(r) else to_hex(colormaps["OrRd"](scale(r))) for r in rates
        ]
        street_cells["rate"] = rates.round(1)
        street_cells["name"] = street_cells["name"].fillna("")
        shown = street_cells[
            ["code", "name", "community", "households", "cases", "rate", "hotspot", "fill", "geom"]
        ]

        west, south, east, north = shown.total_bounds
        cell_map = folium.Map(tiles=None, control_scale=True)
        folium.GeoJson(
            shown,
            name=f"{street_name}: cells",
            style_function=lambda feature: {
                "fillColor": feature["properties"]["fill"],
                "fillOpacity": 0.8,
                "color": "#333333",
                "weight": 1,
            },
            tooltip=folium.GeoJsonTooltip(fields=["code"], aliases=["网格 cell"]),
            popup=folium.GeoJsonPopup(
                fields=["code", "name", "community", "households", "cases", "rate", "hotspot"],
                aliases=[
                    "网格 cell",
                    "名称 name",
                    "社区 community",
                    "户数 households",
                    "事件 cases",
                    "每千户 per 1,000",
                    "热点 hotspot",
                ],
            ),
        ).add_to(cell_map)
        cell_map.fit_bounds([[south, west], [north, east]])
        print(f"{street_name} ({STREET}): {len(shown)} cells")
        cell_map
        """
    ),
]

# --- 02: redrawing a community ------------------------------------------------------------------

REDRAW: list[Cell] = [
    md(
        """
        # Redrawing a community and comparing layouts (重划网格, 动态调整)

        A community's cells should each hold 300–500 households (configurable per
        community). When households change, an administrator proposes a new layout:

        * **draw**: draw every cell again (cells that come out the same keep their codes,
          the others get new ones, never a retired one);
        * **adjust** (动态调整): split or merge only the cells whose households break the
          bounds, leaving the others as they are.

        This notebook reads one community's inputs, proposes four layouts, validates
        them, and compares each with the current layout: cells added, retired, reshaped
        and unchanged, households that would move to another cell, maps and histograms.
        It stores the proposals as drafts to compare them and **publishes nothing** unless
        `PUBLISH = True` below (publishing retires cells for good: their codes are never
        issued again).
        """
    ),
    parameters(
        """
        # Parameters: None means "choose from the database".
        COMMUNITY: str | None = None  # 12 digits, e.g. "350304002005"; None: the most cells
        SEED = 1  # random seed of the cell engine
        SMALL_BOUNDS = (150, 250)  # households per cell of the proposals with smaller cells
        PUBLISH = False  # True: publish the proposal named CHOSEN as the new layout
        CHOSEN = "adjust, small"  # one of the proposals below
        """
    ),
    code(
        """
        %matplotlib inline
        import geopandas as gpd
        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        from IPython.display import display
        from matplotlib import font_manager
        from matplotlib.colors import Normalize
        from sqlalchemy import text

        from gridgis.db.engine import get_engine
        from gridgis.db.layout import read_inputs
        from gridgis.editing import (
            discard_draft,
            draft_diff,
            load_draft,
            propose_layout,
            publish_draft,
            save_draft,
        )
        from gridgis.partition.validate import validate_layout
        """,
        SETUP_FONTS,
    ),
    code(
        """
        if COMMUNITY is None:  # the community with the most active cells (then households)
            with engine.connect() as conn:
                COMMUNITY = conn.execute(
                    text(
                        "SELECT community_code FROM grid_cell WHERE valid_to IS NULL "
                        "GROUP BY 1 ORDER BY count(*) DESC, sum(households) DESC, 1 LIMIT 1"
                    )
                ).scalar()
            if COMMUNITY is None:
                raise LookupError("no cells are stored: load the demo first (make demo-data)")
        print("community", COMMUNITY)
        """
    ),
    md(
        """
        ## The community as stored

        `gridgis.db.layout.read_inputs` reads what the cell engine needs: the outline,
        the buildings (楼栋) with their households, the roads and barriers that cells
        follow, the active cells, the layout version and every code ever issued.
        """
    ),
    code(
        """
        inputs = read_inputs(engine, COMMUNITY)
        current = inputs.cells.rename_geometry("geometry")
        outline = gpd.GeoDataFrame({"code": [inputs.code]}, geometry=[inputs.outline], crs=4326)
        buildings = inputs.buildings.rename_geometry("geometry")
        print(
            f"{inputs.name} ({inputs.code}): layout version {inputs.version}, "
            f"bounds {inputs.bounds[0]}–{inputs.bounds[1]} households per cell, "
            f"{len(buildings)} buildings with {buildings['households'].sum():,} households, "
            f"{len(inputs.roads)} roads, {len(current)} active cells, "
            f"{len(inputs.used_codes)} codes issued"
        )
        display(current.drop(columns="geometry"))

        fig, ax = plt.subplots(figsize=(8, 8))
        outline.boundary.plot(ax=ax, color="black", linewidth=2)
        inputs.roads.plot(ax=ax, color="0.7", linewidth=0.8)
        buildings.plot(ax=ax, column="households", cmap="viridis", markersize=8, legend=True,
                       legend_kwds={"label": "households per building", "shrink": 0.6})
        current.boundary.plot(ax=ax, color="tab:red", linewidth=1.2)
        west, south, east, north = outline.total_bounds
        pad = 0.1 * max(east - west, north - south)
        ax.set_xlim(west - pad, east + pad)
        ax.set_ylim(south - pad, north + pad)
        ax.set_title(f"{inputs.name}: buildings, roads and the current cells (red)")
        ax.set_axis_off()
        plt.show()
        """
    ),
    md(
        """
        ## Validating the current layout against smaller bounds

        `gridgis.partition.validate.validate_layout` checks a layout against the rules:
        cells cover the community without gaps or overlaps, no building is split, and
        households per cell lie within the bounds. Judged with `SMALL_BOUNDS`, the
        current cells are too large:
        """
    ),
    code(
        """
        report = validate_layout(
            current,
            communities=outline,
            units=buildings,
            households="households",
            min_households=SMALL_BOUNDS[0],
            max_households=SMALL_BOUNDS[1],
        )
        print("\\n".join(report.lines()))
        """
    ),
    md(
        """
        ## Four proposals

        `gridgis.editing.propose_layout` runs the cell engine on the community as stored
        and validates the result (`proposal.report`); nothing is stored yet. `draw` with
        another seed redraws every cell; `adjust` with the community's own bounds touches
        only the cells that break them (often none); with `SMALL_BOUNDS` both make
        smaller cells.
        """
    ),
    code(
        """
        low, high = SMALL_BOUNDS
        proposals = {
            f"draw, seed {SEED}": propose_layout(engine, COMMUNITY, method="draw", seed=SEED),
            "draw, small": propose_layout(
                engine,
                COMMUNITY,
                method="draw",
                seed=SEED,
                min_households=low,
                max_households=high,
            ),
            "adjust": propose_layout(engine, COMMUNITY, method="adjust", seed=SEED),
            "adjust, small": propose_layout(
                engine,
                COMMUNITY,
                method="adjust",
                seed=SEED,
                min_households=low,
                max_households=high,
            ),
        }
        for name, proposal in proposals.items():
            cells = len(proposal.cells)
            print(f"{name}: {proposal.method}, {cells} cells, bounds {proposal.bounds}")
            for line in proposal.report.lines():
                print("   ", line)
            for line in proposal.flagged():
                print("    flagged:", line)
        """
    ),
    md(
        """
        ## What each proposal would change

        Each proposal is kept as a draft (`save_draft`), and `draft_diff` computes what
        publishing it would change, inside a transaction that is rolled back: the cells
        added, retired, reshaped (same code, new shape) and unchanged, and the households
        whose cell would change (whose cell code is not the same afterwards).
        """
    ),
    code(
        """
        drafts = {
            name: save_draft(engine, proposal, actor="notebook 02")
            for name, proposal in proposals.items()
        }
        rows = []
        for name, draft_id in drafts.items():
            diff = draft_diff(engine, load_draft(engine, draft_id))
            rows.append(
                {
                    "proposal": name,
                    "valid": proposals[name].report.ok,
                    "cells": len(proposals[name].cells),
                    "added": len(diff.added),
                    "retired": len(diff.retired),
                    "reshaped": len(diff.reshaped),
                    "unchanged": len(diff.unchanged),
                    "households moved": diff.households_moved,
                    "churn": f"{diff.churn:.0%}",
                }
            )
            print(f"{name}: {diff.line()}")
        comparison = pd.DataFrame(rows).set_index("proposal")
        comparison
        """
    ),
    md(
        """
        ## The layouts side by side

        Cells coloured by households (one colour scale for all the maps); a red edge marks
        a cell outside the bounds its layout was made with.
        """
    ),
    code(
        """
        layouts = {f"current (version {inputs.version})": (current, inputs.bounds)}
        layouts |= {name: (p.cells, p.bounds) for name, p in proposals.items()}
        top = max(int(cells["households"].max()) for cells, _ in layouts.values())
        scale = Normalize(vmin=0, vmax=top)

        fig, axes = plt.subplots(1, len(layouts), figsize=(4.2 * len(layouts), 5))
        for ax, (name, (cells, (low_hh, high_hh))) in zip(axes, layouts.items(), strict=True):
            cells.plot(ax=ax, column="households", cmap="YlGnBu", norm=scale, edgecolor="0.3")
            outside = (cells["households"] < low_hh) | (cells["households"] > high_hh)
            if outside.any():
                cells[outside].boundary.plot(ax=ax, color="red", linewidth=2)
            for cell in cells.itertuples():
                x, y = cell.geometry.representative_point().coords[0]
                label = f"{cell.code[-3:]}\\n{cell.households}"
                ax.annotate(label, (x, y), ha="center", fontsize=8)
            ax.set_title(f"{name}\\n{len(cells)} cells, bounds {low_hh}–{high_hh}")
            ax.set_axis_off()
        fig.colorbar(plt.cm.ScalarMappable(norm=scale, cmap="YlGnBu"), ax=axes, shrink=0.6,
                     label="households per cell")
        plt.show()
        """
    ),
    code(
        """
        fig, axes = plt.subplots(1, len(layouts), figsize=(3.6 * len(layouts), 3), sharey=True)
        bins = np.arange(0, top + 50, 25)
        for ax, (name, (cells, (low_hh, high_hh))) in zip(axes, layouts.items(), strict=True):
            ax.hist(cells["households"], bins=bins, color="tab:blue")
            ax.axvspan(low_hh, high_hh, color="tab:green", alpha=0.15, label="bounds")
            ax.set_title(name, fontsize=10)
            ax.set_xlabel("households per cell")
        axes[0].set_ylabel("cells")
        axes[0].legend()
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        ## Which buildings would change cell

        For the proposal named `CHOSEN`: each building's cell now and after, by the point
        where it stands (the rule publishing uses).
        """
    ),
    code(
        """
        points = gpd.GeoDataFrame(
            {"households": buildings["households"]},
            geometry=buildings.representative_point(),
            crs=buildings.crs,
        )


        def cell_of(cells: gpd.GeoDataFrame) -> pd.Series:
            joined = points.sjoin(cells[["code", "geometry"]], predicate="intersects")
            return joined.sort_values("code")["code"].groupby(level=0).first()


        points["before"] = cell_of(current)
        points["after"] = cell_of(proposals[CHOSEN].cells)
        points["moved"] = points["before"] != points["after"]
        moved = points[points["moved"]]
        print(
            f"{CHOSEN}: {len(moved)} of {len(points)} buildings, "
            f"{moved['households'].sum():,} households change cell"
        )

        fig, ax = plt.subplots(figsize=(7, 7))
        proposals[CHOSEN].cells.boundary.plot(ax=ax, color="0.3", linewidth=1)
        for stays, colour, label in ((True, "0.6", "stays"), (False, "tab:orange", "changes cell")):
            group = points[points["moved"] != stays]
            if len(group):
                group.plot(ax=ax, color=colour, markersize=8, label=label)
        ax.legend(loc="lower left")
        ax.set_title(f"{CHOSEN}: buildings that change cell")
        ax.set_axis_off()
        plt.show()
        """
    ),
    md(
        """
        ## Publish, or throw the drafts away

        With `PUBLISH = True`, the proposal named `CHOSEN` becomes the community's new
        layout version (`publish_draft`: one transaction; refused if someone published
        since the proposal was computed, or if it has validation errors). The other
        drafts are discarded either way.
        """
    ),
    code(
        """
        if PUBLISH:
            published = publish_draft(engine, drafts.pop(CHOSEN), actor="notebook 02")
            print("published:", published.line())
        for draft_id in drafts.values():
            discard_draft(engine, draft_id, actor="notebook 02")
        print("published" if PUBLISH else "nothing published; the drafts were discarded")
        """
    ),
]

# --- 03: party-branch placement ------------------------------------------------------------------

PLACEMENT: list[Cell] = [
    md(
        """
        # Party-branch placement: walking coverage and where to add sites (党支部选址)

        Every cell should have a party branch (一网格一支部), and residents should reach a
        branch or a party-mass service station (党群服务站) on foot: the 15-minute living
        circle (15分钟生活圈, GB 50180-2018) sets 300 m for 5 minutes, 500 m for 10 and
        1,000 m for 15.

        This notebook measures, for one street office, which households are within
        walking distance of a branch, centre or station along the road network; then
        suggests `K` new sites that cover the most households not yet covered (the
        maximal covering location problem), and compares the greedy heuristic with the
        exact solution (integer programme solved by HiGHS).
        """
    ),
    parameters(
        """
        # Parameters: None means "choose from the database".
        STREET: str | None = None  # 9 digits, e.g. "350304001"; None: the most cells
        MINUTES = 5  # walking minutes: 5, 10 or 15 (300, 500, 1,000 m)
        K = 3  # new sites to suggest
        """
    ),
    code(
        """
        %matplotlib inline
        import geopandas as gpd
        import matplotlib.pyplot as plt
        import pandas as pd
        from IPython.display import display
        from matplotlib import font_manager
        from sqlalchemy import text

        from gridgis.analysis.placement import (
            WALK_MINUTES,
            read_placement_data,
            suggest_sites,
            walking_coverage,
        )
        from gridgis.db.engine import get_engine
        """,
        SETUP_FONTS,
    ),
    code(
        """
        DISTANCE = WALK_MINUTES[MINUTES]
        with engine.connect() as conn:
            if STREET is None:
                STREET = conn.execute(
                    text(
                        "SELECT left(code, 9) FROM grid_cell WHERE valid_to IS NULL "
                        "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
                    )
                ).scalar()
            if STREET is None:
                raise LookupError("no cells are stored: load the demo first (make demo-data)")
            data = read_placement_data(conn, street=STREET)
        KIND_NAMES = {
            "branch": "党支部 branch",
            "centre": "党群服务中心 centre",
            "station": "服务站 station",
        }
        print(
            f"{data.street_name} ({STREET}): {len(data.cells)} cells, "
            f"{len(data.buildings)} buildings with {data.buildings['households'].sum():,} "
            f"households, {len(data.roads)} roads; "
            f"walking {MINUTES} minutes = {DISTANCE:g} m"
        )
        kinds = data.facilities["kind"].map(KIND_NAMES).value_counts()
        display(kinds.rename("facilities").to_frame().T)
        """
    ),
    md(
        """
        ## Who is within walking distance?

        `walking_coverage` finds, for every building, the walk to the nearest facility
        along the walkable roads (railways, rivers and walls are barriers); a place far
        from every road is measured in a straight line, and the summary says how many
        were. A cell is *not covered* when fewer than half of its households are.
        """
    ),
    code(
        """
        coverage = walking_coverage(
            data.facilities, data.buildings, data.roads, cells=data.cells, distance=DISTANCE
        )
        summary = coverage.summary
        print(
            f"{summary['households_covered']:,.0f} of {summary['households']:,.0f} households "
            f"({summary['covered_share']:.0%}) within {DISTANCE:g} m; "
            f"{summary['cells_not_covered']} of {summary['cells']} cells not covered; "
            f"method {summary['method']}"
        )
        cells = coverage.cells
        display(
            cells[["code", "name", "households", "households_covered", "covered_share", "covered"]]
        )
        """
    ),
    code(
        """
        fig, ax = plt.subplots(figsize=(9, 9))
        cells.plot(
            ax=ax,
            column="covered_share",
            cmap="RdYlGn",
            vmin=0,
            vmax=1,
            edgecolor="0.3",
            linewidth=0.6,
            legend=True,
            legend_kwds={"label": "share of households covered", "shrink": 0.6},
        )
        gpd.GeoSeries(coverage.facilities["service_area"]).plot(
            ax=ax, color="tab:blue", alpha=0.08
        )
        built = coverage.buildings
        built[built["covered"]].plot(ax=ax, color="0.35", markersize=3, label="covered")
        built[~built["covered"]].plot(ax=ax, color="red", markersize=5, label="not covered")
        for kind, marker in (("branch", "^"), ("centre", "s"), ("station", "o")):
            facilities = coverage.facilities[coverage.facilities["kind"] == kind]
            if len(facilities):
                facilities.plot(
                    ax=ax, marker=marker, color="tab:blue", edgecolor="white", markersize=60,
                    label=KIND_NAMES[kind],
                )
        ax.legend(loc="lower left")
        ax.set_title(f"{data.street_name}: walking {DISTANCE:g} m to a branch, centre or station")
        ax.set_axis_off()
        plt.show()
        """
    ),
    md(
        """
        ## Covered and uncovered households per cell, and at 5, 10 and 15 minutes
        """
    ),
    code(
        """
        per_cell = cells.set_index("code")[["households", "households_covered"]]
        per_cell["not covered"] = per_cell["households"] - per_cell["households_covered"]
        shares = {}
        for minutes, metres in WALK_MINUTES.items():
            walked = walking_coverage(
                data.facilities, data.buildings, data.roads, cells=data.cells, distance=metres,
                areas=False,
            )
            shares[f"{minutes} min ({metres:g} m)"] = walked.summary["covered_share"] * 100

        fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.5), width_ratios=[3, 1])
        per_cell[["households_covered", "not covered"]].plot.bar(
            ax=left, stacked=True, color=["tab:green", "tab:red"]
        )
        left.set_title(f"households per cell within {DISTANCE:g} m")
        left.set_xlabel("cell")
        pd.Series(shares).plot.bar(ax=right, color="tab:blue")
        right.set_ylim(0, 100)
        right.set_title("households covered (%)")
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        ## Where would K new sites cover the most?

        `suggest_sites` takes candidate sites (the buildings with the most households in
        each cell not covered) and chooses `K` of them. `max_cover` underneath always runs
        the greedy heuristic (at least 63 % of the optimum) and solves the integer
        programme exactly with HiGHS when it is small enough; `milp_limit=0` keeps the
        greedy answer, to compare the two.
        """
    ),
    code(
        """
        exact = suggest_sites(
            data.facilities, data.buildings, data.roads, cells=data.cells, k=K,
            distance=DISTANCE, coverage=coverage,
        )
        greedy = suggest_sites(
            data.facilities, data.buildings, data.roads, cells=data.cells, k=K,
            distance=DISTANCE, coverage=coverage, milp_limit=0,
        )
        print("exact: ", exact.solution.summary)
        print("greedy:", greedy.solution.summary)
        print(
            f"{exact.candidates} candidate sites, {exact.uncovered_households:,.0f} households "
            "not covered today"
        )
        display(exact.sites[["rank", "address", "cell_code", "households", "households_added"]])
        """
    ),
    code(
        """
        fig, axes = plt.subplots(1, 2, figsize=(15, 7.5))
        plans = {"exact (HiGHS)": exact, "greedy": greedy}
        for ax, (name, plan) in zip(axes, plans.items(), strict=True):
            cells.plot(ax=ax, facecolor="none", edgecolor="0.4", linewidth=0.6)
            built[built["covered"]].plot(ax=ax, color="0.7", markersize=3)
            built[~built["covered"]].plot(ax=ax, color="red", markersize=5, label="not covered")
            coverage.facilities.plot(ax=ax, color="tab:blue", markersize=25, label="existing")
            plan.sites.plot(ax=ax, marker="*", color="gold", edgecolor="black", markersize=400,
                            label="suggested")
            for site in plan.sites.itertuples():
                xy = site.geom.coords[0]
                ax.annotate(str(site.rank), xy, ha="center", va="center", fontsize=8)
            added = plan.solution.objective
            ax.set_title(f"{name}: {K} sites add {added:,.0f} households")
            ax.legend(loc="lower left")
            ax.set_axis_off()
        fig.tight_layout()
        plt.show()
        """
    ),
    md(
        """
        ## Greedy against exact, for 1 to 10 new sites

        Here every building not yet covered is a candidate (a GeoDataFrame of points
        given as `candidates`), so the sites may also go to covered cells with uncovered
        corners. The exact solution is never worse than greedy, and the LP relaxation
        bounds what any choice of `k` sites could cover: where greedy meets the exact
        optimum (as it often does on real layouts) the bound proves it.
        """
    ),
    code(
        """
        uncovered = built[~built["covered"] & (built["households"] > 0)]
        candidates = uncovered[["id", "address", "households", "geom"]]
        rows = []
        for k in range(1, 11):
            solution = suggest_sites(
                data.facilities, data.buildings, data.roads, cells=data.cells, k=k,
                distance=DISTANCE, coverage=coverage, candidates=candidates,
            ).solution
            rows.append(
                {
                    "k": k,
                    "greedy": solution.greedy_objective,
                    "exact": solution.milp_objective,
                    "LP bound": solution.lp_bound,
                    "greedy gap": f"{solution.greedy_gap:.1%}",
                    "optimal": solution.optimal,
                }
            )
        versus = pd.DataFrame(rows).set_index("k")
        print(f"{len(candidates)} candidate buildings")
        display(versus)

        ax = versus[["LP bound", "exact", "greedy"]].plot(
            style=[":", "-o", "--x"], figsize=(8, 4.5)
        )
        ax.axhline(exact.uncovered_households, color="0.5", label="not covered today")
        ax.set_xlabel("new sites (k)")
        ax.set_ylabel("households added")
        ax.set_title("maximal covering: greedy and exact (HiGHS)")
        ax.legend()
        plt.show()
        """
    ),
    md(
        """
        ## Coverage with the suggested sites added
        """
    ),
    code(
        """
        new_sites = gpd.GeoDataFrame(
            {"kind": "new", "name": [f"suggested site {r}" for r in exact.sites["rank"]]},
            geometry=exact.sites.geometry.to_numpy(),
            crs=exact.sites.crs,
        ).rename_geometry("geom")
        with_new = walking_coverage(
            pd.concat([data.facilities, new_sites], ignore_index=True),
            data.buildings, data.roads, cells=data.cells, distance=DISTANCE, areas=False,
        )
        before, after = coverage.summary, with_new.summary
        print(
            f"households covered: {before['covered_share']:.1%} -> {after['covered_share']:.1%}; "
            f"cells not covered: {before['cells_not_covered']} -> {after['cells_not_covered']}"
        )
        """
    ),
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "01_district_tour.ipynb": TOUR,
    "02_redraw_and_compare.ipynb": REDRAW,
    "03_party_branch_placement.ipynb": PLACEMENT,
}


def build(name: str, cells: list[Cell]) -> NotebookNode:
    """The notebook ``name`` from ``cells``: no outputs, stable cell ids."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    stem = name.split("_", 1)[0]
    for position, (kind, source) in enumerate(cells, start=1):
        cell_id = f"nb{stem}-{position:02d}"
        if kind == "md":
            cell = nbformat.v4.new_markdown_cell(source, id=cell_id)
        else:
            cell = nbformat.v4.new_code_cell(source, id=cell_id)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(nb: NotebookNode, path: Path) -> str:
    """The text of ``nb`` as written to ``path``: formatted by ``ruff format`` (as ``make
    lint`` wants it), with the project's settings."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=nbformat.writes(nb) + "\n",
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ruff format failed on {path.name}: {done.stderr.strip()}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if a notebook differs from its cells here"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / name
        wanted = render(build(name, cells), path)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != wanted:
                stale.append(name)
        else:
            path.write_text(wanted, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(
            f"differ from notebooks/_build.py: {', '.join(stale)} "
            "(run .venv/bin/python notebooks/_build.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
